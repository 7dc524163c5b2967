//! The admission-token family: one-time tokens consumed atomically (TOKENISSUE, TOKENCONSUME)
//! and signed tokens a booking service verifies offline (TOKENSIGN, TOKENVERIFY).
//!
//! A stored token is a HASH (`userId`, `issuedAt`, and `usedAt` once consumed) with a TTL;
//! TOKENCONSUME is `consume_token.lua` made native. A signed token is a standard JWT (HS256,
//! see [`crate::queue::token`]) under the server's `token-secret`; TOKENVERIFY ... CONSUME
//! makes it single-use by recording its `jti` next to the queue until it expires.
//!
//! An admission by a queue policy with TOKENS grants exactly one token: a JWT whose record
//! `<queue>:token:<user>` (a stored token as above, plus `jti` and `token`) is what makes it
//! single-use, whichever way it is spent (TOKENCONSUME on the record, or TOKENVERIFY ...
//! CONSUME on the JWT), and QREVOKE deletes it. The token reaches only its user, through
//! QPOS; admission announcements never carry it.

use crate::args::{self, is};
use crate::bytes::SmallBytes;
use crate::cmd::hash::get_hash;
use crate::cmd::queue::{resolve_now, ttl_ms};
use crate::command::{cmd, CommandSpec, EngineHandler, Flags, Group};
use crate::ctx::ExecCtx;
use crate::error::{CmdError, CmdResult};
use crate::keyspace_events as ev;
use crate::queue::policy::{token_key, Policy};
use crate::queue::token::{self, Alg, Claims};
use crate::types::hash::{Hash, ListpackLimits};
use crate::value::{StrValue, Value};
use rand::RngExt;
use smallvec::SmallVec;
use usher_cluster::companion_key;
use usher_protocol::{Argv, ReplySink};

type Spec = CommandSpec<EngineHandler>;

/// `[NOW ms]` at `argv[at..]`, or the server clock (bounded as the queue family bounds it).
fn now_option(ctx: &ExecCtx, argv: Argv, at: usize) -> Result<i64, CmdError> {
    match argv.len() - at {
        0 => Ok(ctx.now_ms),
        2 if is(argv.arg(at), "NOW") => resolve_now(ctx, Some(args::int(argv.arg(at + 1))?)),
        _ => Err(CmdError::Syntax),
    }
}

/// A fresh random `jti`.
fn nonce() -> String {
    (0..16)
        .map(|_| char::from_digit(rand::rng().random_range(0..16), 16).unwrap())
        .collect()
}

/// The `jti` of an admission token: derived from the secret, the queue, the user and the
/// admission's clock, so that replaying the admission (from the AOF, on a replica) signs the
/// very token the user already holds, while nobody without the secret can predict one.
fn admission_jti(secret: &[u8], queue: &[u8], user: &[u8], now: i64) -> String {
    use hmac::{KeyInit, Mac};
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).expect("any key length");
    for part in [
        &b"adm|"[..],
        queue,
        b"|",
        user,
        b"|",
        now.to_string().as_bytes(),
    ] {
        mac.update(part);
    }
    let digest = mac.finalize().into_bytes();
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// Grants what a policy gives each admitted user: one admission token (with TOKENS) and an
/// announcement on CHANNEL, which names the user but never carries the token. A user id that
/// is not UTF-8 (only possible for users who joined before the policy) gets no token, and is
/// announced base64-encoded in `user_b64` rather than mangled. With FEED, the admission is
/// also an `admitted` entry of the event's feed (binary-safe, so the user id as it is).
pub(crate) fn grant_admissions(
    ctx: &mut ExecCtx,
    queue: &[u8],
    admitted: &[SmallBytes],
    policy: &Policy,
    now: i64,
    active_until: i64,
) {
    use base64::Engine;
    for user in admitted {
        let text = std::str::from_utf8(user).ok();
        let issued = match (policy.token_ttl_ms, text) {
            (Some(ttl), Some(_)) => {
                issue_admission_token(ctx, queue, user, now, ttl, policy.token_alg)
            }
            _ => false,
        };
        let until = active_until.to_string();
        let issued_flag: &[u8] = if issued { b"1" } else { b"0" };
        crate::cmd::qpolicy::feed::user_event(
            ctx,
            queue,
            policy,
            now,
            b"admitted",
            user,
            &[
                (b"active_until_ms", until.as_bytes()),
                (b"token_issued", issued_flag),
            ],
        );
        if let Some(channel) = &policy.channel {
            let b64 = base64::engine::general_purpose::STANDARD.encode(&user[..]);
            let mut message = serde_json::json!({
                "event": "admitted",
                "queue": String::from_utf8_lossy(queue),
                "user": text,
                "active_until_ms": active_until,
                "token_issued": issued,
            });
            if text.is_none() {
                message["user_b64"] = b64.into();
            }
            ctx.effects
                .publish
                .push((channel.clone(), message.to_string().into_bytes()));
        }
    }
}

/// Signs the admission token of `user` and records it in `<queue>:token:<user>` (`userId`,
/// `issuedAt`, `expiresAt`, `jti`, `token`), expiring with the token. False if the record's
/// shard is not held (a queue name that cannot carry a hash tag).
fn issue_admission_token(
    ctx: &mut ExecCtx,
    queue: &[u8],
    user: &[u8],
    now: i64,
    ttl: i64,
    alg: Alg,
) -> bool {
    let key = token_key(queue, user);
    if !ctx.shards.holds(&key) {
        return false;
    }
    let jti = admission_jti(&ctx.config.token_secret, queue, user, now);
    let claims = Claims {
        sub: String::from_utf8_lossy(user).into_owned(),
        aud: String::from_utf8_lossy(queue).into_owned(),
        iat: now / 1000,
        exp: (now + ttl + 999) / 1000,
        jti: jti.clone(),
        adm: true,
        inv: false,
    };
    let jwt = token::sign_with(alg, &ctx.config.token_secret, &claims);
    let limits = ListpackLimits::from_config(ctx.config);
    let mut hash = Hash::new();
    let (issued, expires) = (now.to_string(), (now + ttl).to_string());
    for (f, v) in [
        (&b"userId"[..], user),
        (b"issuedAt", issued.as_bytes()),
        (b"expiresAt", expires.as_bytes()),
        (b"jti", jti.as_bytes()),
        (b"token", jwt.as_bytes()),
    ] {
        hash.set(f, v, limits);
    }
    let (clock, db) = (ctx.now_ms, ctx.db);
    ctx.shards
        .shard(queue)
        .queues
        .entry(db, queue)
        .tokens_issued_total += 1;
    ctx.db(&key).set(&key, Value::Hash(Box::new(hash)));
    ctx.db(&key).set_expire(&key, now + ttl, clock);
    ctx.modified_in_sale(&key);
    ctx.notify(ev::HASH, "hset", &key);
    ctx.notify(ev::GENERIC, "expire", &key);
    true
}

/// The unspent admission token of `user` in `queue`, if there is one (QPOS hands it over).
pub(crate) fn admission_token_of(ctx: &mut ExecCtx, queue: &[u8], user: &[u8]) -> Option<Vec<u8>> {
    let key = token_key(queue, user);
    if !ctx.shards.holds(&key) {
        return None;
    }
    let now = ctx.now_ms;
    let record = get_hash(ctx.db(&key), &key, now).ok()??;
    if record.contains(b"usedAt") {
        return None;
    }
    record.get(b"token").map(<[u8]>::to_vec)
}

/// QREVOKE: deletes the admission token of `user` in every queue whose policy admits into
/// `active`.
pub(crate) fn withdraw_admission_tokens(ctx: &mut ExecCtx, active: &[u8], user: &[u8]) {
    let (db, now) = (ctx.db, ctx.now_ms);
    let queues = match ctx.shards.try_shard(active) {
        Some(shard) => shard.queues.queues_admitting_into(db, active),
        None => return,
    };
    for queue in queues {
        let key = token_key(&queue, user);
        if ctx.shards.holds(&key) && ctx.db(&key).delete(&key, now) {
            ctx.modified_in_sale(&key);
            ctx.notify(ev::GENERIC, "del", &key);
        }
    }
}

/// ```text
/// TOKENISSUE token-key user ttl-ms [NOW ms]
/// ```
/// Creates a one-time token: the hash `{userId, issuedAt}` at `token-key`, expiring after
/// `ttl-ms`. Reply: 1, or 0 if the key already exists (nothing changes). Complexity: O(1).
fn tokenissue(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (key, user) = (argv.arg(1), argv.arg(2));
    let ttl = ttl_ms(argv.arg(3), "tokenissue")?;
    let now = now_option(ctx, argv, 4)?;
    let clock = ctx.now_ms;
    if ctx.db(key).contains(key, clock) {
        out.int(0);
        return Ok(());
    }
    let limits = ListpackLimits::from_config(ctx.config);
    let mut hash = Hash::new();
    hash.set(b"userId", user, limits);
    hash.set(b"issuedAt", now.to_string().as_bytes(), limits);
    ctx.db(key).set(key, Value::Hash(Box::new(hash)));
    ctx.db(key).set_expire(key, clock + ttl, clock);
    ctx.modified(key);
    ctx.notify(ev::HASH, "hset", key);
    ctx.notify(ev::GENERIC, "expire", key);
    out.int(1);
    Ok(())
}

/// ```text
/// TOKENCONSUME token-key [NOW ms]
/// ```
/// Consumes a one-time token atomically: `[1, "Success"]` the first time (records `usedAt`),
/// then `[0, "Already consumed"]`; `[0, "Token not found"]` if there is no such token.
/// Equivalent to `consume_token.lua` (`EVAL ... 1 token-key now`). Complexity: O(1).
fn tokenconsume(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let key = argv.arg(1);
    let now = match argv.get(2) {
        None => ctx.now_ms.to_string().into_bytes(),
        Some(opt) if is(opt, "NOW") && argv.len() == 4 => {
            resolve_now(ctx, Some(args::int(argv.arg(3))?))?;
            argv.arg(3).to_vec()
        }
        Some(_) => return Err(CmdError::Syntax),
    };
    let clock = ctx.now_ms;
    let limits = ListpackLimits::from_config(ctx.config);
    let (ok, message) = match get_hash(ctx.db(key), key, clock)? {
        None => (0, "Token not found"),
        Some(h) if h.contains(b"usedAt") => (0, "Already consumed"),
        Some(h) => {
            h.set(b"usedAt", &now, limits);
            (1, "Success")
        }
    };
    if ok == 1 {
        ctx.modified(key);
        ctx.notify(ev::HASH, "hset", key);
    }
    out.array(2);
    out.int(ok);
    out.bulk(message.as_bytes());
    Ok(())
}

/// `[ALG HS256|EdDSA] [NOW ms]` at `argv[at..]`: the algorithm (`default` when not given)
/// and the command's clock.
fn sign_options(
    ctx: &ExecCtx,
    argv: Argv,
    at: usize,
    default: Alg,
) -> Result<(Alg, i64), CmdError> {
    let (mut alg, mut now) = (default, None);
    let mut i = at;
    while i < argv.len() {
        let value = argv.get(i + 1).ok_or(CmdError::Syntax)?;
        if is(argv.arg(i), "ALG") {
            alg = Alg::parse(value).ok_or(CmdError::Static("ERR ALG must be HS256 or EdDSA"))?;
        } else if is(argv.arg(i), "NOW") {
            now = Some(args::int(value)?);
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    Ok((alg, resolve_now(ctx, now)?))
}

/// The claims of a fresh token for `user` in `queue`, valid `ttl` ms from `now`.
fn fresh_claims(queue: &[u8], user: &[u8], now: i64, ttl: i64) -> Result<Claims, CmdError> {
    let text = |b: &[u8]| {
        String::from_utf8(b.to_vec())
            .map_err(|_| CmdError::Static("ERR queue and user must be UTF-8 to be signed"))
    };
    Ok(Claims {
        sub: text(user)?,
        aud: text(queue)?,
        iat: now / 1000,
        exp: (now + ttl + 999) / 1000,
        jti: nonce(),
        adm: false,
        inv: false,
    })
}

/// ```text
/// TOKENSIGN queue user ttl-ms [ALG HS256|EdDSA] [NOW ms]
/// ```
/// Signs an admission token for `user` in `queue`: a JWT with claims `sub` (user), `aud`
/// (queue), `iat`, `exp` (seconds) and a random `jti`, verifiable by any JWT library with the
/// server's `token-secret` (HS256, the default) or the JWK set of `TOKENKEYS JWKS` (EdDSA).
/// Reply: the token. Complexity: O(1).
fn tokensign(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (queue, user) = (argv.arg(1), argv.arg(2));
    let ttl = ttl_ms(argv.arg(3), "tokensign")?;
    let (alg, now) = sign_options(ctx, argv, 4, Alg::Hs256)?;
    let claims = fresh_claims(queue, user, now, ttl)?;
    out.bulk(token::sign_with(alg, &ctx.config.token_secret, &claims).as_bytes());
    Ok(())
}

/// ```text
/// TOKENINVITE queue user ttl-ms [ALG HS256|EdDSA] [NOW ms]
/// ```
/// Signs an invite: the enqueue token `ENTER queue active user INVITE <token>` takes on an
/// invite-only event (QPOLICY ... INVITEONLY yes), once. A JWT like TOKENSIGN's with the
/// private claim `"inv": true`, signed as the queue's policy says (TOKENALG) unless ALG is
/// given. Reply: the token. Complexity: O(1).
fn tokeninvite(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (queue, user) = (argv.arg(1), argv.arg(2));
    let ttl = ttl_ms(argv.arg(3), "tokeninvite")?;
    let default = crate::cmd::qpolicy::policy_of(ctx, queue)?.map_or(Alg::Hs256, |p| p.token_alg);
    let (alg, now) = sign_options(ctx, argv, 4, default)?;
    let mut claims = fresh_claims(queue, user, now, ttl)?;
    claims.inv = true;
    out.bulk(token::sign_with(alg, &ctx.config.token_secret, &claims).as_bytes());
    Ok(())
}

/// Why ENTER ... INVITE refuses an invite: the reply's status.
pub(crate) fn check_invite(
    ctx: &mut ExecCtx,
    queue: &[u8],
    user: &[u8],
    invite: Option<&[u8]>,
    now: i64,
) -> Result<Claims, &'static str> {
    let invite = invite.ok_or("INVITE")?;
    let claims = match token::verify(&ctx.config.token_secret, invite, now) {
        Ok(c) => c,
        Err(token::VerifyError::Expired) => return Err("INVITE_EXPIRED"),
        Err(_) => return Err("INVITE_INVALID"),
    };
    if !claims.inv || claims.aud.as_bytes() != queue || claims.sub.as_bytes() != user {
        return Err("INVITE_INVALID");
    }
    let key = jti_key(&claims);
    let clock = ctx.now_ms;
    if !ctx.shards.holds(&key) {
        return Err("INVITE_INVALID");
    }
    if ctx.db(&key).contains(&key, clock) {
        return Err("INVITE_USED");
    }
    Ok(claims)
}

/// Records that the invite `claims` was used, until it expires: it opens the line once.
pub(crate) fn spend_invite(ctx: &mut ExecCtx, claims: &Claims, now: i64) {
    record_jti(ctx, &jti_key(claims), claims, now);
}

/// Writes the spent-`jti` record at `key`, expiring with the token.
fn record_jti(ctx: &mut ExecCtx, key: &[u8], claims: &Claims, now: i64) {
    let clock = ctx.now_ms;
    ctx.db(key).set(key, Value::Str(StrValue::Int(now)));
    ctx.db(key).set_expire(key, claims.exp * 1000, clock);
    ctx.modified(key);
    ctx.notify(ev::STRING, "set", key);
    ctx.notify(ev::GENERIC, "expire", key);
}

/// The key recording that a signed token's `jti` was consumed: next to the token's queue.
fn jti_key(claims: &Claims) -> Vec<u8> {
    let mut suffix = b"jti:".to_vec();
    suffix.extend_from_slice(claims.jti.as_bytes());
    companion_key(claims.aud.as_bytes(), &suffix)
}

/// The key TOKENVERIFY reads or writes: an admission token's record (always: a revoked or
/// spent admission token is refused), else, with CONSUME, the jti key next to the queue.
fn tokenverify_derived(argv: Argv) -> SmallVec<[Vec<u8>; 2]> {
    let mut keys = SmallVec::new();
    let consume = argv.iter().skip(2).any(|a| is(a, "CONSUME"));
    if let Some(claims) = token::peek_claims(argv.arg(1)) {
        if claims.adm {
            keys.push(token_key(claims.aud.as_bytes(), claims.sub.as_bytes()));
        } else if consume {
            keys.push(jti_key(&claims));
        }
    }
    keys
}

/// Checks (and with `consume`, spends) an admission token against its record: `Err(reason)`
/// when it was revoked, replaced or already spent.
fn check_admission_record(
    ctx: &mut ExecCtx,
    claims: &Claims,
    consume: bool,
    now: i64,
) -> Result<(), &'static str> {
    let key = token_key(claims.aud.as_bytes(), claims.sub.as_bytes());
    if !ctx.shards.holds(&key) {
        return Err("Malformed token");
    }
    let clock = ctx.now_ms;
    let limits = ListpackLimits::from_config(ctx.config);
    let spent = match get_hash(ctx.db(&key), &key, clock) {
        Ok(Some(r)) if r.get(b"jti") == Some(claims.jti.as_bytes()) => {
            if r.contains(b"usedAt") {
                return Err("Already consumed");
            }
            if consume {
                r.set(b"usedAt", now.to_string().as_bytes(), limits);
            }
            consume
        }
        _ => return Err("Token revoked"),
    };
    // Presenting the admission token at the origin is showing up.
    crate::cmd::qpolicy::noshow::showed_up(ctx, claims.aud.as_bytes(), claims.sub.as_bytes());
    if spent {
        let db = ctx.db;
        ctx.shards
            .shard(&key)
            .queues
            .entry(db, claims.aud.as_bytes())
            .tokens_consumed_total += 1;
        ctx.modified_in_sale(&key);
        ctx.notify(ev::HASH, "hset", &key);
    }
    Ok(())
}

/// ```text
/// TOKENVERIFY token [CONSUME] [NOW ms]
/// ```
/// Verifies a signed token: `[1, user, queue, expires-ms]`, or `[0, reason]` with reason
/// `Malformed token`, `Bad signature`, `Token expired` or (with CONSUME, on a second use)
/// `Already consumed`. CONSUME makes the token single-use. Complexity: O(1).
fn tokenverify(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let mut consume = false;
    let mut now = ctx.now_ms;
    let mut i = 2;
    while i < argv.len() {
        if is(argv.arg(i), "CONSUME") {
            consume = true;
        } else if is(argv.arg(i), "NOW") && i + 1 < argv.len() {
            now = resolve_now(ctx, Some(args::int(argv.arg(i + 1))?))?;
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    let claims = match token::verify(&ctx.config.token_secret, argv.arg(1), now) {
        Ok(c) => c,
        Err(e) => return reply_refused(out, e.reason()),
    };
    if claims.adm {
        if let Err(reason) = check_admission_record(ctx, &claims, consume, now) {
            return reply_refused(out, reason);
        }
    } else if consume {
        let key = jti_key(&claims);
        if !ctx.shards.holds(&key) {
            return reply_refused(out, "Malformed token");
        }
        let clock = ctx.now_ms;
        if ctx.db(&key).contains(&key, clock) {
            return reply_refused(out, "Already consumed");
        }
        record_jti(ctx, &key, &claims, now);
    }
    out.array(4);
    out.int(1);
    out.bulk(claims.sub.as_bytes());
    out.bulk(claims.aud.as_bytes());
    out.int(claims.exp * 1000);
    Ok(())
}

fn reply_refused(out: &mut dyn ReplySink, reason: &str) -> CmdResult {
    out.array(2);
    out.int(0);
    out.bulk(reason.as_bytes());
    Ok(())
}

const CLOCK: Flags = Flags::NONDETERMINISTIC;

pub static COMMANDS: &[Spec] = &[
    cmd("TOKENISSUE", -4, Flags::WRITE.union(Flags::DENYOOM).union(Flags::FAST).union(CLOCK), tokenissue as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Queue, "0.1.0", "Issues a one-time admission token stored at a key with a TTL.", "O(1)"),
    cmd("TOKENCONSUME", -2, Flags::WRITE.union(Flags::FAST).union(CLOCK), tokenconsume as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Queue, "0.1.0", "Consumes a one-time admission token atomically.", "O(1)"),
    cmd("TOKENSIGN", -4, Flags::READONLY.union(Flags::FAST).union(CLOCK), tokensign as EngineHandler)
        .doc(Group::Queue, "0.1.0", "Signs an admission token (a JWT, HS256 or EdDSA) a booking service can verify without asking the server.", "O(1)"),
    cmd("TOKENINVITE", -4, Flags::READONLY.union(Flags::FAST).union(CLOCK), tokeninvite as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Queue, "0.1.0", "Signs an invite: the one-time enqueue token ENTER takes on an invite-only event.", "O(1)"),
    cmd("TOKENVERIFY", -2, Flags::WRITE.union(Flags::FAST).union(CLOCK), tokenverify as EngineHandler)
        .derived_keys(tokenverify_derived)
        .doc(Group::Queue, "0.1.0", "Verifies a signed admission token, optionally consuming it once.", "O(1)"),
];
