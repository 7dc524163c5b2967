//! Regression tests for what a new user broke in the waiting-room family (issue 8), one test
//! per finding, each named after what must hold now. They run the real binary through a real
//! client; timings use the server's own policy tick, so waits are bounded polls, never sleeps
//! that assume a speed.

use std::time::Duration;
use usher_tests::wait::{eventually, map, now_ms};
use usher_tests::{Client, Reply, Server};

fn s(v: impl ToString) -> String {
    v.to_string()
}

fn is_err(r: &Reply, prefix: &str) -> bool {
    r.is_error() && r.err().starts_with(prefix)
}

fn enter_all(c: &mut Client, q: &str, a: &str, users: impl IntoIterator<Item = String>) {
    for u in users {
        let r = c.call(&["ENTER", q, a, &u]);
        assert!(!r.is_error(), "ENTER {u}: {r:?}");
    }
}

/// Finding 1: a policy whose active key lived on another shard lost admitted users (the tick
/// wrote it under the queue's lock). Keys in two slots are refused with CROSSSLOT by every
/// multi-key command of the family, and a policy hash edited to point elsewhere keeps the
/// last valid active set.
#[test]
fn keys_in_two_slots_are_refused_and_a_policy_never_writes_under_another_shards_lock() {
    let usher = Server::usher(&["--threads", "4"]);
    let mut c = usher.client();
    let (q, bad) = ("queue:{concert42}", "active:concert42");
    for args in [
        vec!["ENTER", q, bad, "u1"],
        vec!["ADMIT", q, bad, "1"],
        vec!["QPOS", q, bad, "u1"],
        vec!["QSTATS", q, bad],
        vec!["QPOLICY", "SET", q, bad, "RATE", "600"],
        vec!["QSWEEP", "hb:{a}", "queue:{b}", "+inf"],
    ] {
        let r = c.call(&args);
        assert!(is_err(&r, "CROSSSLOT"), "{args:?}: {r:?}");
    }
    assert_eq!(c.call(&["DBSIZE"]).int(), 0, "nothing written");
    // The scenario of the report, with keys that share the tag: every user is admitted.
    let a = "active:{concert42}";
    enter_all(&mut c, q, a, (1..=5).map(|i| format!("u{i}")));
    assert!(c
        .call(&["QPOLICY", "SET", q, a, "RATE", "600"])
        .is_simple("OK"));
    assert!(eventually(Duration::from_secs(5), || c
        .call(&["ZCARD", a])
        .int()
        == 5));
    for i in 1..=5 {
        let pos = c.call(&["QPOS", q, a, &format!("u{i}")]);
        assert_eq!(pos.items()[0].text(), "ACTIVE", "u{i}");
    }
    // An edit pointing the policy at another slot is refused; the tick keeps the last active.
    c.call(&["HSET", "queue:{concert42}:policy", "active", bad]);
    enter_all(&mut c, q, a, ["u6".to_string()]);
    assert!(eventually(Duration::from_secs(5), || c
        .call(&["ZCARD", a])
        .int()
        == 6));
    let policy = map(c.call(&["QPOLICY", "GET", q]));
    assert_eq!(policy["active"].text(), a);
    assert!(policy["errors"].items()[0].text().contains("hash slot"));
    assert_eq!(c.call(&["EXISTS", bad]).int(), 0);
    let keys = c.call(&["KEYS", "active*"]).strings();
    assert_eq!(keys, vec![a.to_string()], "each key listed once");
    // Two shards, two tags.
    let two = Server::usher(&["--threads", "2"]);
    let mut c2 = two.client();
    let r = c2.call(&["QPOLICY", "SET", "queue:{a}", "active:{b}", "RATE", "600"]);
    assert!(is_err(&r, "CROSSSLOT"), "{r:?}");
}

/// Finding 2: SEATSTATUS on a key of the wrong type wrote a map header, then the error.
#[test]
fn seatstatus_on_a_key_of_the_wrong_type_answers_exactly_one_error() {
    let usher = Server::usher(&[]);
    for proto in ["2", "3"] {
        let mut c = usher.client();
        c.call(&["HELLO", proto]);
        c.call(&["SET", "strq", "x"]);
        let r = c.call(&["SEATSTATUS", "strq"]);
        assert!(is_err(&r, "WRONGTYPE"), "RESP{proto}: {r:?}");
        // The next reply on the connection is the next command's.
        assert!(c.call(&["PING"]).is_simple("PONG"), "RESP{proto}");
    }
}

/// Finding 3: huge TTLs overflowed into the past (an admission with an expired session, a
/// hold reported on a free seat). They are Redis's `invalid expire time`, before any change.
#[test]
fn huge_ttls_are_refused_before_anything_changes() {
    let usher = Server::usher(&[]);
    let mut c = usher.client();
    enter_all(&mut c, "queue:{ov}", "active:{ov}", ["alice".to_string()]);
    let max = i64::MAX.to_string();
    for (args, cmd) in [
        (
            vec!["ADMIT", "queue:{ov}", "active:{ov}", "1", "TTL", &max],
            "admit",
        ),
        (
            vec!["SEATLOCK", "s:{e}", "u", "9223372036854775"],
            "seatlock",
        ),
        (
            vec!["SEATLOCKALL", "u", "9223372036854775", "s:{e}"],
            "seatlockall",
        ),
        (vec!["QRENEW", "active:{ov}", "alice", &max], "qrenew"),
        (vec!["TOKENISSUE", "t", "u", &max], "tokenissue"),
        (vec!["TOKENSIGN", "q", "u", &max], "tokensign"),
    ] {
        let r = c.call(&args);
        assert_eq!(
            r,
            Reply::Error(format!("ERR invalid expire time in '{cmd}' command")),
            "{args:?}"
        );
    }
    let r = c.call(&["QPOLICY", "SET", "queue:{ov}", "active:{ov}", "TTL", &max]);
    assert!(r.is_error(), "{r:?}");
    assert_eq!(
        c.call(&["ZCARD", "queue:{ov}"]).int(),
        1,
        "alice still waits"
    );
    assert_eq!(
        c.call(&["EXISTS", "active:{ov}", "s:{e}", "s:{e}:token", "t"])
            .int(),
        0
    );
}

/// Finding 4: a hold with a TTL ≤ 0 was reported as taken while the seat stayed free.
#[test]
fn seat_holds_with_a_ttl_of_zero_or_less_are_refused() {
    let usher = Server::usher(&[]);
    let mut c = usher.client();
    for ttl in ["0", "-5"] {
        let r = c.call(&["SEATLOCK", "seat:{e}:1", "u", ttl]);
        assert!(is_err(&r, "ERR invalid expire time in 'seatlock'"), "{r:?}");
        let r = c.call(&["SEATLOCKALL", "u", ttl, "seat:{e}:1", "seat:{e}:2"]);
        assert!(
            is_err(&r, "ERR invalid expire time in 'seatlockall'"),
            "{r:?}"
        );
    }
    assert_eq!(c.call(&["DBSIZE"]).int(), 0, "no hold, no counter");
    let status = map(c.call(&["SEATSTATUS", "seat:{e}:1"]));
    assert_eq!(status["status"].text(), "FREE");
}

/// Finding 5: `HSET <queue>:policy maxactive 2k` removed the cap. A malformed field keeps the
/// last valid value, and QPOLICY GET reports it.
#[test]
fn a_malformed_policy_edit_never_loosens_a_limit() {
    let usher = Server::usher(&[]);
    let mut c = usher.client();
    let (q, a) = ("queue:{pe}", "active:{pe}");
    enter_all(&mut c, q, a, (0..30).map(|i| format!("u{i}")));
    assert!(c
        .call(&["QPOLICY", "SET", q, a, "MAXACTIVE", "2", "RATE", "60000"])
        .is_simple("OK"));
    assert!(eventually(Duration::from_secs(3), || c
        .call(&["ZCARD", a])
        .int()
        == 2));
    c.call(&[
        "HSET",
        "queue:{pe}:policy",
        "maxactive",
        "2k",
        "rate",
        "lots",
    ]);
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(c.call(&["ZCARD", a]).int(), 2, "the cap still holds");
    let policy = map(c.call(&["QPOLICY", "GET", q]));
    assert_eq!(policy["maxactive"].text(), "2");
    assert_eq!(policy["rate"].text(), "60000");
    let errors = policy["errors"].strings();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("'maxactive'") && e.contains("2k")),
        "{errors:?}"
    );
    // A valid edit takes effect at once.
    c.call(&[
        "HSET",
        "queue:{pe}:policy",
        "maxactive",
        "5",
        "rate",
        "60000",
    ]);
    assert!(eventually(Duration::from_secs(3), || c
        .call(&["ZCARD", a])
        .int()
        == 5));
    assert!(!map(c.call(&["QPOLICY", "GET", q])).contains_key("errors"));
}

/// Finding 6: the rate read 5,999,950/min one ms after the first batch, never reset, and a
/// pre-queue user was told 22 ms for a sale opening years later.
#[test]
fn admission_statistics_start_unknown_follow_the_batches_and_reset_with_the_line() {
    let usher = Server::usher(&["--queue-now-max-skew", "0"]);
    let mut c = usher.client();
    let (q, a) = ("queue:{st}", "active:{st}");
    let t0 = 1_795_000_000_000i64;
    let fill = |c: &mut Client| {
        for i in 0..1000 {
            c.send(&["ENTER", q, a, &format!("u{i}"), "NOW", &s(t0)]);
        }
        for _ in 0..1000 {
            c.read().unwrap();
        }
    };
    fill(&mut c);
    c.call(&["ADMIT", q, a, "100", "NOW", &s(t0)]);
    let stats = map(c.call(&["QSTATS", q, a, "NOW", &s(t0 + 1)]));
    assert_eq!(stats["admit_rate"], Reply::Nil, "one batch says nothing");
    assert_eq!(stats["eta_last_ms"].int(), -1);
    assert_eq!(stats["admitted"].int(), 100);
    // The seeds' processor: 100 every 10 s.
    for k in 1..=2 {
        c.call(&["ADMIT", q, a, "100", "NOW", &s(t0 + k * 10_000)]);
    }
    let stats = map(c.call(&["QSTATS", q, a, "NOW", &s(t0 + 20_001)]));
    let rate: f64 = stats["admit_rate"].text().parse().unwrap();
    assert!((590.0..=610.0).contains(&rate), "600 a minute, got {rate}");
    let eta = stats["eta_last_ms"].int();
    assert!(
        (69_000..=71_000).contains(&eta),
        "700 left at 10/s, got {eta}"
    );
    // A new sale under the same name starts from nothing: DEL, FLUSHALL, CONFIG RESETSTAT.
    for reset in [
        vec!["DEL", q],
        vec!["FLUSHALL"],
        vec!["CONFIG", "RESETSTAT"],
    ] {
        if reset[0] != "DEL" {
            fill(&mut c);
            for k in 0..3 {
                c.call(&["ADMIT", q, a, "10", "NOW", &s(t0 + 30_000 + k * 10_000)]);
            }
        }
        c.call(&reset);
        let stats = map(c.call(&["QSTATS", q, a, "NOW", &s(t0 + 50_001)]));
        assert_eq!(stats["admitted"].int(), 0, "{reset:?}");
        assert_eq!(stats["admit_rate"], Reply::Nil, "{reset:?}");
    }
    // A policy's configured rate answers before anything was measured, and a sale that opens
    // later counts the time until it opens.
    c.call(&["FLUSHALL"]);
    let open = now_ms() + 3_600_000;
    c.call(&["QPOLICY", "SET", q, a, "RATE", "600", "OPENAT", &s(open)]);
    let now = now_ms();
    let pos = c.call(&["ENTER", q, a, "early", "NOW", &s(now)]);
    assert_eq!(pos.items()[0].text(), "PREQUEUE");
    let eta = c.call(&["QPOS", q, a, "early", "NOW", &s(now)]).items()[3].int();
    assert!(eta >= 3_590_000, "the sale opens in an hour, got {eta} ms");
    c.call(&["QPOLICY", "UNSET", q, "openat"]);
    enter_all(&mut c, q, a, (0..20).map(|i| format!("v{i}")));
    let pos = c.call(&["QPOS", q, a, "v9"]);
    let (position, eta) = (pos.items()[1].int(), pos.items()[3].int());
    // 600 a minute is 10 a second (configured, then measured as the ticks admit).
    assert!(
        (position * 60..=position * 160).contains(&eta),
        "position {position}: {eta} ms"
    );
}

/// Finding 7: a confirmed seat was sold again once the hold's TTL passed.
#[test]
fn a_confirmed_seat_never_expires_unless_keepttl_asks_for_the_scripts_behaviour() {
    let usher = Server::usher(&[]);
    let mut c = usher.client();
    let token = c.call(&["SEATLOCK", "seat:{e}:1", "alice", "1"]).items()[1].int();
    assert_eq!(
        c.call(&["SEATCONFIRM", "seat:{e}:1", "alice", &s(token)])
            .int(),
        1
    );
    assert_eq!(c.call(&["PTTL", "seat:{e}:1"]).int(), -1, "sold: no expiry");
    let token = c.call(&["SEATLOCK", "seat:{e}:2", "alice", "1"]).items()[1].int();
    c.call(&["SEATCONFIRM", "seat:{e}:2", "alice", &s(token), "KEEPTTL"]);
    assert!(
        c.call(&["PTTL", "seat:{e}:2"]).int() > 0,
        "KEEPTTL keeps it"
    );
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(
        c.call(&["SEATLOCK", "seat:{e}:1", "bob", "60"]).items(),
        &[Reply::Int(0)],
        "never sold twice"
    );
    assert_eq!(
        map(c.call(&["SEATSTATUS", "seat:{e}:1"]))["user"].text(),
        "alice"
    );
    let r = c.call(&["SEATCONFIRM", "seat:{e}:1", "alice", "1", "FOREVER"]);
    assert!(is_err(&r, "ERR syntax error"), "{r:?}");
}

/// Finding 8: manual ADMIT ignored the policy's cap and opening time.
#[test]
fn manual_admit_obeys_the_queue_policy() {
    let usher = Server::usher(&[]);
    let mut c = usher.client();
    let (q, a) = ("queue:{m}", "active:{m}");
    enter_all(&mut c, q, a, (0..5).map(|i| format!("u{i}")));
    c.call(&["QPOLICY", "SET", q, a, "MAXACTIVE", "1"]);
    assert_eq!(c.call(&["ADMIT", q, a, "5"]).items()[0].int(), 1);
    assert_eq!(
        c.call(&["ADMIT", q, a, "5", "MAXACTIVE", "10"]).items()[0].int(),
        0,
        "the lower cap holds"
    );
    let r = c.call(&["ADMIT", q, "active2:{m}", "5"]);
    assert!(is_err(&r, "ERR the queue's policy admits into"), "{r:?}");
    c.call(&[
        "QPOLICY",
        "SET",
        q,
        a,
        "OPENAT",
        &s(now_ms() + 10 * 365 * 86_400_000),
    ]);
    c.call(&["QPOLICY", "UNSET", q, "maxactive"]);
    assert_eq!(
        c.call(&["ADMIT", q, a, "5"]).items()[0].int(),
        0,
        "nobody before the opening"
    );
    assert_eq!(c.call(&["ZCARD", a]).int(), 1);
}

/// Finding 9: one admission gave a JWT and a token hash, each spendable once, QREVOKE left
/// both valid, and every token went out on a shared channel.
#[test]
fn one_admission_is_one_token_revoked_with_the_session_and_given_only_to_its_user() {
    let usher = Server::usher(&["--token-secret", "s3cret"]);
    let mut c = usher.client();
    let mut sub = usher.client();
    sub.call(&["SUBSCRIBE", "adm:{t}"]);
    let (q, a) = ("queue:{t}", "active:{t}");
    enter_all(&mut c, q, a, (0..3).map(|i| format!("u{i}")));
    c.call(&[
        "QPOLICY", "SET", q, a, "RATE", "6000", "CHANNEL", "adm:{t}", "TOKENS", "60000",
    ]);
    assert!(eventually(Duration::from_secs(3), || c
        .call(&["ZCARD", a])
        .int()
        == 3));
    for _ in 0..3 {
        let msg = sub.read().unwrap().items()[2].text();
        assert!(
            !msg.contains("eyJ"),
            "an announcement carries no token: {msg}"
        );
    }
    let token = |c: &mut Client, u: &str| c.call(&["QPOS", q, a, u]).items()[5].text();
    // Spent as a JWT: the record is spent too.
    let t0 = token(&mut c, "u0");
    assert_eq!(
        c.call(&["TOKENVERIFY", &t0, "CONSUME"]).items()[0],
        Reply::Int(1)
    );
    assert_eq!(
        c.call(&["TOKENCONSUME", "queue:{t}:token:u0"]).items()[1].text(),
        "Already consumed"
    );
    assert_eq!(c.call(&["QPOS", q, a, "u0"]).items()[5], Reply::Nil);
    // Spent through the record: the JWT is spent too.
    let t1 = token(&mut c, "u1");
    c.call(&["TOKENCONSUME", "queue:{t}:token:u1"]);
    assert_eq!(
        c.call(&["TOKENVERIFY", &t1, "CONSUME"]).items(),
        &[Reply::Int(0), Reply::bulk("Already consumed")]
    );
    // Revoked with the session.
    let t2 = token(&mut c, "u2");
    assert_eq!(c.call(&["QREVOKE", a, "u2"]).int(), 1);
    assert_eq!(
        c.call(&["TOKENVERIFY", &t2]).items(),
        &[Reply::Int(0), Reply::bulk("Token revoked")]
    );
    assert_eq!(c.call(&["EXISTS", "queue:{t}:token:u2"]).int(), 0);
}

/// Finding 10: users who joined before HEARTBEAT was set were never swept; QHEARTBEAT without
/// a heartbeat policy wrote a key nothing read; one timeout for every position.
#[test]
fn heartbeats_cover_earlier_joiners_need_a_policy_and_follow_the_poll_interval() {
    let usher = Server::usher(&[]);
    let mut c = usher.client();
    let (q, a) = ("queue:{hb}", "active:{hb}");
    let r = c.call(&["QHEARTBEAT", q, "nobody"]);
    assert!(is_err(&r, "ERR the queue has no heartbeat policy"), "{r:?}");
    assert_eq!(c.call(&["EXISTS", "queue:{hb}:hb"]).int(), 0);
    // 1,500 users join before heartbeats exist; then the policy asks for them.
    for i in 0..1500 {
        c.send(&["ENTER", q, a, &format!("u{i}")]);
    }
    for _ in 0..1500 {
        c.read().unwrap();
    }
    let set_at = now_ms();
    c.call(&["QPOLICY", "SET", q, a, "HEARTBEAT", "500"]);
    // The back-fill gives everyone a deadline of their position's timeout: 3 polls of 1 s near
    // the front, 3 polls of 5 s past 1,000th place.
    assert!(eventually(Duration::from_secs(3), || c
        .call(&["ZCARD", "queue:{hb}:hb"])
        .int()
        == 1500));
    let due = |c: &mut Client, u: &str| {
        c.call(&["ZSCORE", "queue:{hb}:hb", u])
            .text()
            .parse::<f64>()
            .unwrap() as i64
            - set_at
    };
    let (front, back) = (due(&mut c, "u0"), due(&mut c, "u1400"));
    assert!((2_500..=4_500).contains(&front), "{front}");
    assert!((14_500..=16_500).contains(&back), "{back}");
    let pos = c.call(&["QPOS", q, a, "u1400"]);
    assert_eq!(
        pos.items()[4].int(),
        5_000,
        "poll every 5 s at 1,401st place"
    );
    // Only those who keep polling stay; the silent front is swept.
    assert!(eventually(Duration::from_secs(8), || {
        c.call(&["QHEARTBEAT", q, "u1"]);
        c.call(&["ZSCORE", q, "u0"]) == Reply::Nil
    }));
    assert_ne!(c.call(&["ZSCORE", q, "u1"]), Reply::Nil, "u1 kept polling");
    assert_ne!(
        c.call(&["ZSCORE", q, "u1400"]),
        Reply::Nil,
        "u1400 is not due yet"
    );
}

/// Heartbeats switched on over an empty line back-fill nobody: a user QUNHOLD returns to the
/// line (their deadline went with the hold) had one given by the first tick only if that tick
/// came after the QUNHOLD, so the order of the server's ticks and the clients' commands
/// decided it (the split-line equivalence test diverged that way under load).
#[test]
fn heartbeats_switched_on_over_an_empty_line_back_fill_nobody() {
    let usher = Server::usher(&[]);
    let mut c = usher.client();
    let (q, a) = ("queue:{bf}", "active:{bf}");
    // All before the first tick can run (one round trip).
    pipeline_before_a_tick(
        &mut c,
        &[
            &["QPOLICY", "SET", q, a, "HEARTBEAT", "500", "MAXACTIVE", "5"],
            &["ENTER", q, a, "b"],
            &["ENTER", q, a, "c"],
            &["QHOLD", q, "b"],
            &["QUNHOLD", q, "b"],
        ],
    );
    assert_returned_user_has_no_deadline(&mut c, q);
}

/// Sends `batch` in one round trip (before the policy's first tick can run); none may fail.
fn pipeline_before_a_tick(c: &mut Client, batch: &[&[&str]]) {
    for cmd in batch {
        c.send(cmd);
    }
    for cmd in batch {
        let r = c.read().unwrap();
        assert!(!r.is_error(), "{cmd:?}: {r:?}");
    }
}

/// After five ticks' time: `b`, returned by QUNHOLD, still waits with no heartbeat deadline
/// (no back-fill gave it one); `c`, who entered under heartbeats, has one.
fn assert_returned_user_has_no_deadline(c: &mut Client, q: &str) {
    // A missing deadline can only be checked once ticks had their chance: five of them.
    std::thread::sleep(Duration::from_millis(500));
    let hb = format!("{q}:hb");
    assert_eq!(c.call(&["ZSCORE", &hb, "b"]), Reply::Nil);
    assert_ne!(c.call(&["ZSCORE", &hb, "c"]), Reply::Nil);
    assert_ne!(c.call(&["ZSCORE", q, "b"]), Reply::Nil, "b waits, unswept");
}

/// The same, with heartbeats switched on by editing the policy hash by hand: the next
/// command re-reads the hash and must not start a back-fill over the empty line either.
#[test]
fn heartbeats_switched_on_by_hand_over_an_empty_line_back_fill_nobody() {
    let usher = Server::usher(&[]);
    let mut c = usher.client();
    let (q, a) = ("queue:{bh}", "active:{bh}");
    pipeline_before_a_tick(
        &mut c,
        &[
            &["QPOLICY", "SET", q, a, "MAXACTIVE", "5"],
            &["HSET", "queue:{bh}:policy", "heartbeat", "500"],
            &["ENTER", q, a, "b"],
            &["ENTER", q, a, "c"],
            &["QHOLD", q, "b"],
            &["QUNHOLD", q, "b"],
        ],
    );
    assert_returned_user_has_no_deadline(&mut c, q);
    assert_eq!(
        map(c.call(&["QPOLICY", "GET", q]))["heartbeat"].text(),
        "500"
    );
}

/// Finding 11a: pre-queue replies showed positions that jumped (`NEW 1 1, NEW 1 2, NEW 3 4`).
#[test]
fn prequeue_arrivals_report_a_prequeue_status_instead_of_positions() {
    let usher = Server::usher(&[]);
    let mut c = usher.client();
    let (q, a) = ("queue:{pq}", "active:{pq}");
    c.call(&["QPOLICY", "SET", q, a, "OPENAT", &s(now_ms() + 600_000)]);
    for (i, user) in ["a", "b", "c"].iter().enumerate() {
        let r = c.call(&["ENTER", q, a, user]);
        assert_eq!(
            r.items(),
            &[
                Reply::bulk("PREQUEUE"),
                Reply::Int(0),
                Reply::Int(i as i64 + 1)
            ]
        );
    }
    assert_eq!(c.call(&["ENTER", q, a, "a"]).items()[0].text(), "PREQUEUE");
    assert_eq!(c.call(&["QPOS", q, a, "b"]).items()[0].text(), "PREQUEUE");
}

/// Finding 11b-d: QPOLICY SET replaced every field; no LIST; HELP unknown; zero or empty
/// values accepted; ADMIT's count error misworded.
#[test]
fn qpolicy_updates_only_what_it_is_given_lists_helps_and_refuses_empty_limits() {
    let usher = Server::usher(&["--threads", "2"]);
    let mut c = usher.client();
    let (q, a) = ("queue:{pu}", "active:{pu}");
    c.call(&["QPOLICY", "SET", q, a, "MAXACTIVE", "3", "CHANNEL", "ch"]);
    c.call(&["QPOLICY", "SET", q, a, "RATE", "60"]);
    let p = map(c.call(&["QPOLICY", "GET", q]));
    assert_eq!(
        (p["maxactive"].text(), p["rate"].text(), p["channel"].text()),
        ("3".into(), "60".into(), "ch".into())
    );
    assert!(c.call(&["QPOLICY", "UNSET", q, "channel"]).is_simple("OK"));
    assert!(!map(c.call(&["QPOLICY", "GET", q])).contains_key("channel"));
    c.call(&["QPOLICY", "SET", "queue:{pv}", "active:{pv}"]);
    assert_eq!(
        c.call(&["QPOLICY", "LIST"]).strings(),
        vec!["queue:{pu}".to_string(), "queue:{pv}".to_string()]
    );
    let help = c.call(&["QPOLICY", "HELP"]).strings();
    assert!(help[0].starts_with("QPOLICY <subcommand>"), "{help:?}");
    for (opt, value) in [
        ("RATE", "0"),
        ("MAXACTIVE", "0"),
        ("CHANNEL", ""),
        ("HEARTBEAT", "-1"),
    ] {
        let r = c.call(&["QPOLICY", "SET", q, a, opt, value]);
        assert!(r.is_error(), "{opt} {value:?}: {r:?}");
    }
    assert_eq!(map(c.call(&["QPOLICY", "GET", q]))["rate"].text(), "60");
    assert_eq!(
        c.call(&["ADMIT", q, a, "abc"]),
        Reply::Error("ERR value is not an integer or out of range".into())
    );
    assert_eq!(
        c.call(&["ADMIT", q, a, "-1"]),
        Reply::Error("ERR value is out of range, must be positive".into())
    );
}

/// Finding 11e: NOW was unbounded (an hour-fast client pushed every later arrival back).
#[test]
fn now_far_from_the_server_clock_is_refused() {
    let usher = Server::usher(&[]);
    let mut c = usher.client();
    let (q, a) = ("queue:{n}", "active:{n}");
    for now in [now_ms() + 3_600_000, 1000, -5] {
        let r = c.call(&["ENTER", q, a, "u", "NOW", &s(now)]);
        assert!(is_err(&r, "ERR NOW must be"), "{now}: {r:?}");
    }
    assert_eq!(c.call(&["EXISTS", q]).int(), 0);
    let r = c.call(&["ENTER", q, a, "u", "NOW", &s(now_ms() - 1000)]);
    assert_eq!(r.items()[0].text(), "NEW");
    // The bound is the directive's; 0 turns it off.
    c.call(&["CONFIG", "SET", "queue-now-max-skew", "0"]);
    let r = c.call(&["QPOS", q, a, "u", "NOW", "1000"]);
    assert_eq!(r.items()[0].text(), "WAITING");
}

/// Finding 11f-h: QRENEW shortened sessions, scores restarted when a line emptied, and one
/// ADMIT moved 300,000 users at once.
#[test]
fn renewals_never_shorten_scores_never_repeat_and_admit_moves_one_batch_per_call() {
    let usher = Server::usher(&[]);
    let mut c = usher.client();
    let (q, a) = ("queue:{r}", "active:{r}");
    let score =
        |c: &mut Client, k: &str, m: &str| c.call(&["ZSCORE", k, m]).text().parse::<f64>().unwrap();
    // Two arrivals in one millisecond, admitted: the line is empty again.
    let t = s(now_ms());
    for u in ["u1", "u2"] {
        c.call(&["ENTER", q, a, u, "NOW", &t]);
    }
    let second = score(&mut c, q, "u2");
    c.call(&["ADMIT", q, a, "2", "TTL", "600000", "NOW", &t]);
    assert_eq!(c.call(&["EXISTS", q]).int(), 0);
    c.call(&["ENTER", q, a, "v", "NOW", &t]);
    let v = score(&mut c, q, "v");
    assert!(v > second, "a later arrival scores {v}, not above {second}");
    let before = score(&mut c, a, "u1");
    assert_eq!(c.call(&["QRENEW", a, "u1", "1000"]).int(), 1);
    assert_eq!(
        score(&mut c, a, "u1"),
        before,
        "a renewal never shortens a session"
    );
    c.call(&["DEL", q]);
    for i in 0..2500 {
        c.send(&["ENTER", q, a, &format!("w{i}")]);
    }
    for _ in 0..2500 {
        c.read().unwrap();
    }
    assert_eq!(c.call(&["ADMIT", q, a, "300000"]).items()[0].int(), 1000);
    assert_eq!(c.call(&["ZCARD", q]).int(), 1500);
}

/// Finding 11i-j: non-UTF-8 user ids were announced and signed lossily; CONFIG GET showed the
/// signing secret.
#[test]
fn non_utf8_users_are_refused_where_they_would_be_signed_and_the_secret_stays_secret() {
    let usher = Server::usher(&["--token-secret", "topsecret"]);
    let mut c = usher.client();
    let (q, a) = ("queue:{u8}", "active:{u8}");
    c.call(&["QPOLICY", "SET", q, a, "TOKENS", "60000"]);
    for user in [&b"x\xffy"[..], b"x\xfey"] {
        let args: Vec<&[u8]> = vec![b"ENTER", q.as_bytes(), a.as_bytes(), user];
        let r = c.call(&args);
        assert!(is_err(&r, "ERR user ids must be UTF-8"), "{r:?}");
    }
    assert_eq!(c.call(&["EXISTS", q]).int(), 0);
    let shown = c.call(&["CONFIG", "GET", "token-secret"]).strings();
    assert_eq!(
        shown,
        vec!["token-secret".to_string(), "(redacted)".to_string()]
    );
}

/// Issue 12's first controls: an operator pauses admissions, closes the line, bounds it,
/// talks to everyone waiting, and lets arrivals straight through while nobody waits.
#[test]
fn operators_pause_close_bound_and_message_a_line_and_passthrough_skips_it() {
    let usher = Server::usher(&[]);
    let mut c = usher.client();
    let mut sub = usher.client();
    sub.call(&["SUBSCRIBE", "ev:{op}"]);
    let (q, a) = ("queue:{op}", "active:{op}");
    enter_all(&mut c, q, a, (0..3).map(|i| format!("u{i}")));
    c.call(&[
        "QPOLICY",
        "SET",
        q,
        a,
        "CHANNEL",
        "ev:{op}",
        "STATE",
        "paused",
        "MESSAGE",
        "back at 8pm",
        "MAXWAITING",
        "4",
    ]);
    let state = sub.read().unwrap().items()[2].text();
    assert!(
        state.contains("\"state\":\"paused\"") && state.contains("back at 8pm"),
        "{state}"
    );
    assert_eq!(
        c.call(&["ADMIT", q, a, "3"]).items()[0].int(),
        0,
        "paused: nobody admitted"
    );
    let pos = c.call(&["QPOS", q, a, "u1"]);
    assert_eq!(
        (pos.items()[6].text(), pos.items()[7].text()),
        ("paused".into(), "back at 8pm".into())
    );
    assert_eq!(map(c.call(&["QSTATS", q, a]))["state"].text(), "paused");
    // Paused lines still form, up to MAXWAITING.
    assert_eq!(c.call(&["ENTER", q, a, "u3"]).items()[0].text(), "NEW");
    assert_eq!(
        c.call(&["ENTER", q, a, "u4"]).items(),
        &[Reply::bulk("FULL"), Reply::Int(0), Reply::Int(4)]
    );
    // Closed: nobody new joins, those in line keep their place and are admitted.
    c.call(&["QPOLICY", "SET", q, a, "STATE", "closed"]);
    assert_eq!(c.call(&["ENTER", q, a, "u9"]).items()[0].text(), "CLOSED");
    assert_eq!(c.call(&["ENTER", q, a, "u2"]).items()[0].text(), "WAITING");
    assert_eq!(c.call(&["ADMIT", q, a, "2"]).items()[0].int(), 2);
    assert_eq!(c.call(&["ZSCORE", q, "u9"]), Reply::Nil);
    // Passthrough: while nobody waits and the cap allows, an arrival is active at once.
    let (p, pa) = ("queue:{pt}", "active:{pt}");
    c.call(&[
        "QPOLICY",
        "SET",
        p,
        pa,
        "METHOD",
        "passthrough",
        "MAXACTIVE",
        "2",
    ]);
    for u in ["x", "y"] {
        assert_eq!(
            c.call(&["ENTER", p, pa, u]).items()[0].text(),
            "ACTIVE",
            "{u}"
        );
    }
    assert_eq!(
        c.call(&["ENTER", p, pa, "z"]).items()[0].text(),
        "NEW",
        "the cap holds"
    );
    assert_eq!(c.call(&["ZCARD", pa]).int(), 2);
    assert_eq!(map(c.call(&["QSTATS", p, pa]))["admitted"].int(), 2);
}
