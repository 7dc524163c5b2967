//! Asymmetric tokens and invites end to end: EdDSA admission tokens verified by PyJWT with only
//! the JWK set (never usher's code), key rotation that keeps live tokens valid, retirement that
//! ends them, the key ring surviving DEBUG RELOAD, a restart and reaching a replica, and
//! invite-only events whose invites open the line once.

use std::time::Duration;
use usher_tests::client_scripts::redis_py_args;
use usher_tests::wait::{eventually, loaded, now_ms};
use usher_tests::{Client, Server};

fn s(v: impl ToString) -> String {
    v.to_string()
}

/// PyJWT's verdict on each token, knowing only `jwks`: `Ok(kid)` or `Err(exception name)`.
fn pyjwt(jwks: &str, audience: &str, tokens: &[&str]) -> Vec<Result<String, String>> {
    let mut args = vec![jwks.to_string(), audience.to_string()];
    args.extend(tokens.iter().map(s));
    redis_py_args("verify_jwks.py", &args)
        .lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            if v["ok"].as_bool().unwrap() {
                Ok(v["kid"].as_str().unwrap().to_string())
            } else {
                Err(v["error"].as_str().unwrap().to_string())
            }
        })
        .collect()
}

fn jwks(c: &mut Client) -> String {
    c.call(&["TOKENKEYS", "JWKS"]).text()
}

fn current_kid(c: &mut Client) -> String {
    let list = c.call(&["TOKENKEYS", "LIST"]);
    let current = list
        .items()
        .iter()
        .find(|k| k.items()[1].text() == "current")
        .expect("a current key");
    current.items()[0].text()
}

fn sign(c: &mut Client, queue: &str, user: &str) -> String {
    c.call(&["TOKENSIGN", queue, user, "60000", "ALG", "EdDSA"])
        .text()
}

/// TOKENVERIFY's verdict: `Ok(user)` or `Err(reason)`.
fn verify(c: &mut Client, token: &str) -> Result<String, String> {
    let reply = c.call(&["TOKENVERIFY", token]);
    let items = reply.items();
    match items[0].int() {
        1 => Ok(items[1].text()),
        _ => Err(items[1].text()),
    }
}

#[test]
fn eddsa_admission_tokens_verify_with_only_the_jwk_set_across_rotation() {
    let usher = Server::usher(&["--token-secret", "k"]);
    let mut c = usher.client();
    // An admission token of an EdDSA policy, as QPOS hands it over.
    assert_eq!(
        c.call(&[
            "QPOLICY",
            "SET",
            "line:{e}",
            "active:{e}",
            "TOKENS",
            "60000",
            "TOKENALG",
            "EdDSA"
        ])
        .text(),
        "OK"
    );
    c.call(&["ENTER", "line:{e}", "active:{e}", "ann"]);
    c.call(&["ADMIT", "line:{e}", "active:{e}", "1"]);
    let admission = c.call(&["HGET", "line:{e}:token:ann", "token"]).text();
    let first = current_kid(&mut c);
    let set = jwks(&mut c);
    assert!(set.contains(r#""kty":"OKP""#) && set.contains(r#""crv":"Ed25519""#));
    assert!(
        !set.contains("pkcs8"),
        "the JWK set holds public keys only: {set}"
    );
    assert_eq!(
        pyjwt(&set, "line:{e}", &[&admission]),
        vec![Ok(first.clone())]
    );

    // Rotation: the old tokens still verify, new ones name the new key.
    let before = sign(&mut c, "line:{e}", "bob");
    let second = c.call(&["TOKENKEYS", "ROTATE"]).text();
    assert_ne!(second, first);
    assert_eq!(current_kid(&mut c), second);
    let after = sign(&mut c, "line:{e}", "cy");
    let set = jwks(&mut c);
    assert_eq!(
        pyjwt(&set, "line:{e}", &[&admission, &before, &after]),
        vec![Ok(first.clone()), Ok(first.clone()), Ok(second.clone())]
    );
    assert!(verify(&mut c, &before).is_ok());
    // A tampered token fails for PyJWT and for usher.
    let mut tampered = after.clone().into_bytes();
    let i = after.find('.').unwrap() + 5;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    assert!(pyjwt(&set, "line:{e}", &[&tampered])[0].is_err());
    assert!(verify(&mut c, &tampered).is_err());

    // Once the previous key leaves the set, its tokens fail everywhere.
    assert_eq!(c.call(&["TOKENKEYS", "RETIRE", &first]).int(), 1);
    let set = jwks(&mut c);
    assert!(!set.contains(&first));
    assert_eq!(
        pyjwt(&set, "line:{e}", &[&before, &after]),
        vec![Err("PyJWKSetError".to_string()), Ok(second.clone())]
    );
    assert_eq!(verify(&mut c, &before), Err("Unknown key".to_string()));
    assert!(c
        .call(&["TOKENKEYS", "RETIRE", &second])
        .err()
        .contains("cannot be retired"));

    // ROTATE KEEP 0: the previous key leaves at once.
    let third = c.call(&["TOKENKEYS", "ROTATE", "KEEP", "0"]).text();
    assert_eq!(verify(&mut c, &after), Err("Unknown key".to_string()));
    let list = c.call(&["TOKENKEYS", "LIST"]);
    assert_eq!(list.items().len(), 1);
    assert_eq!(list.items()[0].items()[0].text(), third);
}

#[test]
fn the_key_ring_survives_reload_and_restart_and_reaches_a_replica() {
    let dir = std::env::temp_dir().join(format!("usher-tokens12-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let args = [
        "--token-secret",
        "k",
        "--dir",
        &s(dir.display()),
        "--enable-debug-command",
        "yes",
    ];
    let (kid, token, set) = {
        let usher = Server::usher(&args);
        let mut c = usher.client();
        let kid = c.call(&["TOKENKEYS", "ROTATE"]).text();
        let token = sign(&mut c, "line:{r}", "ann");
        let set = jwks(&mut c);
        assert_eq!(c.call(&["DEBUG", "RELOAD"]).text(), "OK");
        assert_eq!(current_kid(&mut c), kid);
        assert!(verify(&mut c, &token).is_ok());
        assert_eq!(c.call(&["SAVE"]).text(), "OK");
        (kid, token, set)
    };
    // A restart loads the ring back: same keys, same current key.
    let primary = Server::usher(&args);
    let mut c = primary.client();
    assert_eq!(jwks(&mut c), set);
    assert!(verify(&mut c, &token).is_ok());
    let again = sign(&mut c, "line:{r}", "bob");
    assert_eq!(pyjwt(&set, "line:{r}", &[&again]), vec![Ok(kid.clone())]);

    // A replica gets the ring by the full sync, then each rotation by the stream.
    let replica = Server::usher(&["--token-secret", "k"]);
    let mut r = replica.client();
    r.call(&["REPLICAOF", "127.0.0.1", &s(primary.port)]);
    // While it loads the primary's snapshot the replica answers -LOADING: not there yet.
    let synced =
        |r: &mut Client| loaded(r.call(&["TOKENKEYS", "JWKS"])).is_some_and(|r| r.text() == set);
    assert!(
        eventually(Duration::from_secs(10), || synced(&mut r)),
        "the replica's JWK set: {}",
        jwks(&mut r)
    );
    // TOKENVERIFY is a write (CONSUME) and replicas are read-only: a booking service reading
    // from a replica verifies with its JWK set.
    assert_eq!(
        pyjwt(&jwks(&mut r), "line:{r}", &[&token]),
        vec![Ok(kid.clone())]
    );
    let next = c.call(&["TOKENKEYS", "ROTATE"]).text();
    assert!(
        eventually(Duration::from_secs(10), || current_kid(&mut r) == next),
        "the rotation never reached the replica"
    );
    let newer = sign(&mut c, "line:{r}", "cy");
    assert_eq!(
        pyjwt(&jwks(&mut r), "line:{r}", &[&newer, &token]),
        vec![Ok(next), Ok(kid)]
    );
    assert!(r.call(&["TOKENKEYS", "ROTATE"]).is_error());
    // Restoring the ring (what the log and the stream carry) shows no private key in the
    // slow log.
    let ring = c.call(&["GET", "usher:tokenkeys"]).text();
    assert!(c
        .call(&["CONFIG", "SET", "slowlog-log-slower-than", "0"])
        .is_simple("OK"));
    assert!(c.call(&["TOKENKEYS", "RESTORE", &ring]).is_simple("OK"));
    let logged = format!("{:?}", c.call(&["SLOWLOG", "GET", "1"]));
    assert!(
        logged.contains("(redacted)") && !logged.contains(&ring[..ring.len().min(40)]),
        "{logged}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn enter(c: &mut Client, user: &str, invite: Option<&str>) -> String {
    let mut cmd = vec!["ENTER", "line:{i}", "active:{i}", user];
    if let Some(t) = invite {
        cmd.extend(["INVITE", t]);
    }
    c.call(&cmd).items()[0].text()
}

#[test]
fn invite_only_events_take_each_invite_once_from_its_user() {
    let usher = Server::usher(&["--token-secret", "k"]);
    let mut c = usher.client();
    for alg in ["HS256", "EdDSA"] {
        c.call(&["DEL", "line:{i}", "line:{i}:policy"]);
        assert_eq!(
            c.call(&[
                "QPOLICY",
                "SET",
                "line:{i}",
                "active:{i}",
                "INVITEONLY",
                "yes",
                "TOKENALG",
                alg
            ])
            .text(),
            "OK"
        );
        let ann = format!("ann-{alg}");
        let bob = format!("bob-{alg}");
        let invite = c.call(&["TOKENINVITE", "line:{i}", &ann, "60000"]).text();
        let header = invite.split('.').next().unwrap();
        let other_event = c.call(&["TOKENINVITE", "line:{x}", &ann, "60000"]).text();
        let signed = c
            .call(&["TOKENSIGN", "line:{i}", &ann, "60000", "ALG", alg])
            .text();
        let expired = c
            .call(&[
                "TOKENINVITE",
                "line:{i}",
                &bob,
                "1000",
                "NOW",
                &s(now_ms() - 30_000),
            ])
            .text();
        let mut tampered = invite.clone().into_bytes();
        let i = invite.find('.').unwrap() + 5;
        tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();

        assert_eq!(enter(&mut c, &ann, None), "INVITE");
        assert_eq!(enter(&mut c, &bob, Some(&invite)), "INVITE_INVALID");
        assert_eq!(enter(&mut c, &ann, Some(&other_event)), "INVITE_INVALID");
        assert_eq!(enter(&mut c, &ann, Some(&signed)), "INVITE_INVALID");
        assert_eq!(enter(&mut c, &ann, Some(&tampered)), "INVITE_INVALID");
        assert_eq!(enter(&mut c, &bob, Some(&expired)), "INVITE_EXPIRED");
        assert_eq!(enter(&mut c, &ann, Some("not-a-jwt")), "INVITE_INVALID");
        assert_eq!(c.call(&["ZCARD", "line:{i}"]).int(), 0, "nobody joined");

        // The invite opens the line once; re-entering needs none.
        assert_eq!(enter(&mut c, &ann, Some(&invite)), "NEW");
        assert_eq!(enter(&mut c, &ann, None), "WAITING");
        assert_eq!(enter(&mut c, &ann, Some(&invite)), "WAITING");
        c.call(&["QLEAVE", "line:{i}", &ann]);
        assert_eq!(enter(&mut c, &ann, Some(&invite)), "INVITE_USED");
        assert_eq!(c.call(&["ZCARD", "line:{i}"]).int(), 0);
        // The spent invite is a key of the event, expiring with the invite.
        let claims = header_claims(&invite);
        let spent = format!("line:{{i}}:jti:{}", claims["jti"].as_str().unwrap());
        let ttl = c.call(&["PTTL", &spent]).int();
        assert!(ttl > 0 && ttl <= 61_000, "{spent}: {ttl}");
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(
                &base64_url(header).expect("a base64url header")
            )
            .unwrap()["alg"],
            alg
        );
    }
    // An event that is not invite-only ignores INVITE.
    assert_eq!(
        c.call(&["ENTER", "line:{o}", "active:{o}", "dan", "INVITE", "x"])
            .items()[0]
            .text(),
        "NEW"
    );
}

fn base64_url(part: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    URL_SAFE_NO_PAD.decode(part).ok()
}

fn header_claims(token: &str) -> serde_json::Value {
    serde_json::from_slice(&base64_url(token.split('.').nth(1).unwrap()).unwrap()).unwrap()
}
