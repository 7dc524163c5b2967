//! The waiting room's replayable feed (issue 12, "Reliable delivery of admissions") on a real
//! server: a pod reading `<queue>:feed` with a consumer group misses nothing across its own
//! restart, `soon` and `expiring` come once per user per crossing, no entry carries a token,
//! and a replica, a DEBUG RELOAD and an AOF restart all end with the primary's feed.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;
use usher_tests::wait::{eventually, now_ms};
use usher_tests::{Client, Reply, Server};

type Entry = (String, HashMap<String, String>);

fn s(v: impl ToString) -> String {
    v.to_string()
}

fn ok(r: Reply) {
    assert!(r.is_simple("OK"), "expected OK, got {r:?}");
}

/// Entries of a stream reply (`[[id, [f, v, ...]], ...]`).
fn entries(r: &Reply) -> Vec<Entry> {
    r.items()
        .iter()
        .map(|e| {
            let fields = e.items()[1]
                .items()
                .chunks(2)
                .map(|c| (c[0].text(), c[1].text()))
                .collect();
            (e.items()[0].text(), fields)
        })
        .collect()
}

fn feed(c: &mut Client, key: &str) -> Vec<Entry> {
    entries(&c.call(&["XRANGE", key, "-", "+"]))
}

/// The users of the feed's entries of one kind, in feed order.
fn users_of(feed: &[Entry], event: &str) -> Vec<String> {
    feed.iter()
        .filter(|(_, f)| f["event"] == event)
        .map(|(_, f)| f["user"].clone())
        .collect()
}

/// XREADGROUP's entries for the feed (a nil reply is none).
fn read_group(c: &mut Client, key: &str, consumer: &str, from: &str) -> Vec<Entry> {
    let r = c.call(&[
        "XREADGROUP",
        "GROUP",
        "pods",
        consumer,
        "COUNT",
        "100",
        "STREAMS",
        key,
        from,
    ]);
    match r {
        Reply::Array(streams) => entries(&streams[0].items()[1]),
        _ => Vec::new(),
    }
}

#[test]
fn a_pod_reading_with_a_consumer_group_gets_every_admission_across_its_restart() {
    let usher = Server::usher(&["--queue-now-max-skew", "0"]);
    let mut c = usher.client();
    let (q, a, key) = ("q:{pod}", "a:{pod}", "q:{pod}:feed");
    // Tokens expire by the server's clock: the commands' clocks stay near it.
    let t0 = now_ms();
    ok(c.call(&[
        "QPOLICY", "SET", q, a, "FEED", "1000", "TOKENS", "60000", "CHANNEL", "ch",
    ]));
    ok(c.call(&["CONFIG", "SET", "notify-keyspace-events", "Et"]));
    let mut events = usher.client();
    events.call(&["SUBSCRIBE", "__keyevent@0__:xadd"]);
    ok(c.call(&["XGROUP", "CREATE", key, "pods", "$", "MKSTREAM"]));
    let users: Vec<String> = (0..10).map(|i| format!("u{i}")).collect();
    for u in &users {
        c.call(&["ENTER", q, a, u, "NOW", &s(t0)]);
    }
    c.call(&["ADMIT", q, a, "4", "NOW", &s(t0 + 1000)]);
    // An append is a stream write like XADD's: keyspace notifications name the feed.
    let note = events.read().unwrap();
    assert_eq!(note.items()[2].text(), key);

    // The pod reads, acknowledges some, and dies with the rest pending.
    let mut pod = usher.client();
    let first = read_group(&mut pod, key, "pod-1", ">");
    assert_eq!(users_of(&first, "admitted"), users[..4]);
    for (id, _) in &first[..2] {
        pod.call(&["XACK", key, "pods", id]);
    }
    drop(pod);
    c.call(&["ADMIT", q, a, "3", "NOW", &s(t0 + 2000)]);
    assert_eq!(c.call(&["QREVOKE", a, "u0", "NOW", &s(t0 + 2500)]).int(), 1);

    // Restarted: its pending entries first (from 0), then what came meanwhile.
    let mut pod = usher.client();
    let pending = read_group(&mut pod, key, "pod-1", "0");
    let fresh = read_group(&mut pod, key, "pod-1", ">");
    let mut seen: Vec<String> = first[..2]
        .iter()
        .chain(&pending)
        .chain(&fresh)
        .filter(|(_, f)| f["event"] == "admitted")
        .map(|(_, f)| f["user"].clone())
        .collect();
    seen.sort();
    assert_eq!(seen, users[..7], "every admission once");
    assert_eq!(users_of(&fresh, "revoked"), ["u0"]);

    // Ids come from the commands' clocks, never the wall clock; tokens never enter the feed.
    let all = feed(&mut c, key);
    assert_eq!(all[0].0, format!("{}-0", t0 + 1000));
    assert_eq!(all[0].1["active_until_ms"], s(t0 + 1000 + 300_000));
    assert_eq!(all[0].1["token_issued"], "1");
    for u in &users[1..7] {
        let token = c
            .call(&["HGET", &format!("q:{{pod}}:token:{u}"), "token"])
            .text();
        assert!(token.starts_with("eyJ"), "{u} has a token: {token}");
        for (_, f) in &all {
            assert!(f
                .values()
                .all(|v| !v.contains(&token) && !v.starts_with("eyJ")));
        }
    }
}

#[test]
fn soon_comes_once_per_waiter_reaching_the_first_places_of_a_fifo_line_only() {
    let usher = Server::usher(&["--queue-now-max-skew", "0"]);
    let mut c = usher.client();
    let (q, a, key) = ("q:{soon}", "a:{soon}", "q:{soon}:feed");
    let t0 = now_ms();
    ok(c.call(&["QPOLICY", "SET", q, a, "FEED", "100", "SOON", "3"]));
    let users: Vec<String> = (0..10).map(|i| format!("u{i}")).collect();
    for u in &users {
        c.call(&["ENTER", q, a, u, "NOW", &s(t0)]);
    }
    let soon = |c: &mut Client| users_of(&feed(c, key), "soon");
    assert!(eventually(Duration::from_secs(5), || soon(&mut c).len() == 3));
    c.call(&["ADMIT", q, a, "2", "NOW", &s(t0 + 1000)]);
    assert!(eventually(Duration::from_secs(5), || soon(&mut c).len() == 5));
    // One more admission, one more crossing: its entry proves the ticks in between added
    // nothing (each tick writes everything due at once).
    c.call(&["ADMIT", q, a, "1", "NOW", &s(t0 + 2000)]);
    assert!(eventually(Duration::from_secs(5), || soon(&mut c).len() == 6));
    let all = feed(&mut c, key);
    assert_eq!(soon(&mut c), users[..6]);
    let positions: Vec<&str> = all
        .iter()
        .filter(|(_, f)| f["event"] == "soon")
        .map(|(_, f)| f["position"].as_str())
        .collect();
    assert_eq!(positions, ["1", "2", "3", "2", "3", "3"]);

    // A random line has no order to come near: nothing, though the tick ran (it wrote the
    // message in the same step that would have written `soon`).
    let (rq, ra, rkey) = ("q:{rnd}", "a:{rnd}", "q:{rnd}:feed");
    ok(c.call(&[
        "QPOLICY", "SET", rq, ra, "FEED", "100", "SOON", "3", "METHOD", "random",
    ]));
    for u in &users {
        c.call(&["ENTER", rq, ra, u, "NOW", &s(t0)]);
    }
    ok(c.call(&["QPOLICY", "SET", rq, ra, "MESSAGE", "hello"]));
    assert!(eventually(Duration::from_secs(5), || {
        feed(&mut c, rkey)
            .iter()
            .any(|(_, f)| f["event"] == "state")
    }));
    let rfeed = feed(&mut c, rkey);
    assert_eq!(rfeed.len(), 1, "{rfeed:?}");
    assert_eq!(rfeed[0].1["message"], "hello");
    assert_eq!(rfeed[0].1["state"], "open");
}

#[test]
fn expiring_comes_once_per_session_and_again_after_a_renewal() {
    let usher = Server::usher(&["--queue-now-max-skew", "0"]);
    let mut c = usher.client();
    let (q, a, key) = ("q:{exp}", "a:{exp}", "q:{exp}:feed");
    ok(c.call(&["QPOLICY", "SET", q, a, "FEED", "100", "EXPIRING", "60000"]));
    for u in ["u1", "u2", "u3"] {
        c.call(&["ENTER", q, a, u]);
    }
    let t = now_ms();
    // u1 ends within the window, u2 well after it.
    c.call(&["ADMIT", q, a, "1", "TTL", "30000", "NOW", &s(t)]);
    c.call(&["ADMIT", q, a, "1", "TTL", "600000", "NOW", &s(t)]);
    let expiring = |c: &mut Client| users_of(&feed(c, key), "expiring");
    assert!(eventually(Duration::from_secs(5), || expiring(&mut c) == ["u1"]));
    // Renewed: a later expiry, still inside the window, is told again.
    assert_eq!(c.call(&["QRENEW", a, "u1", "40000", "NOW", &s(t)]).int(), 1);
    assert!(eventually(Duration::from_secs(5), || expiring(&mut c)
        .len()
        == 2));
    // A third session comes near; when it is told, u1 and u2 still were told only as above.
    c.call(&["ADMIT", q, a, "1", "TTL", "50000", "NOW", &s(t)]);
    assert!(eventually(Duration::from_secs(5), || expiring(&mut c)
        .len()
        == 3));
    assert_eq!(expiring(&mut c), ["u1", "u1", "u3"]);
    let until: Vec<String> = feed(&mut c, key)
        .iter()
        .filter(|(_, f)| f["event"] == "expiring")
        .map(|(_, f)| f["active_until_ms"].clone())
        .collect();
    assert_eq!(until, [s(t + 30000), s(t + 40000), s(t + 50000)]);
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("usher-feed-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_replica_a_reload_and_an_aof_restart_end_with_the_primary_s_feed() {
    let dir = scratch("aof");
    let d = dir.display().to_string();
    let args = [
        "--dir",
        &d,
        "--appendonly",
        "yes",
        "--enable-debug-command",
        "yes",
    ];
    let mut primary = Server::usher(&args);
    let replica = Server::usher(&[]);
    let mut r = replica.client();
    ok(r.call(&["REPLICAOF", "127.0.0.1", &s(primary.port)]));
    let mut c = primary.client();
    let (q, a, key, stats) = ("q:{rep}", "a:{rep}", "q:{rep}:feed", "q:{rep}:stats");
    // Every kind of entry, trimmed: admissions at the rate, `soon`, `expiring` of short
    // sessions, a state change, a revocation and no-shows.
    ok(c.call(&[
        "QPOLICY", "SET", q, a, "RATE", "3000", "TTL", "1500", "FEED", "150", "SOON", "5",
        "EXPIRING", "1000", "NOSHOW", "1200", "TOKENS", "60000",
    ]));
    for i in 0..60 {
        c.call(&["ENTER", q, a, &format!("u{i:02}")]);
    }
    assert!(eventually(Duration::from_secs(10), || c
        .call(&["ZCARD", q])
        .int()
        <= 40));
    ok(c.call(&[
        "QPOLICY",
        "SET",
        q,
        a,
        "STATE",
        "paused",
        "MESSAGE",
        "back soon",
    ]));
    c.call(&["QREVOKE", a, "u19"]);
    ok(c.call(&["QPOLICY", "SET", q, a, "STATE", "open"]));
    assert!(eventually(Duration::from_secs(10), || c
        .call(&["ZCARD", q])
        .int()
        == 0));
    // Wait for the last sessions' no-show and expiring entries and the closing, then stop
    // the tick.
    ok(c.call(&[
        "QPOLICY", "SET", q, a, "STATE", "closed", "MESSAGE", "sold out",
    ]));
    assert!(eventually(Duration::from_secs(10), || {
        c.call(&["ZCARD", "q:{rep}:pending"]).int() == 0
            && feed(&mut c, key).last().unwrap().1["event"] == "noshow"
            && feed(&mut c, key).iter().any(|(_, f)| f["event"] == "state")
    }));
    c.call(&["QPOLICY", "DEL", q]);
    let want = feed(&mut c, key);
    let want_stats = c.call(&["HGETALL", stats]);
    let kinds: Vec<&str> = want.iter().map(|(_, f)| f["event"].as_str()).collect();
    for kind in ["admitted", "soon", "expiring", "state", "noshow"] {
        assert!(kinds.contains(&kind), "no {kind} in {kinds:?}");
    }
    assert_eq!(c.call(&["XLEN", key]).int(), 150, "trimmed to FEED");

    assert_eq!(c.call(&["WAIT", "1", "5000"]).int(), 1);
    assert_eq!(feed(&mut r, key), want, "the replica's feed");
    assert_eq!(r.call(&["HGETALL", stats]), want_stats);

    ok(c.call(&["DEBUG", "RELOAD"]));
    assert_eq!(feed(&mut c, key), want, "after DEBUG RELOAD");

    primary.signal(15);
    assert!(primary.wait_exit(Duration::from_secs(10)).is_some());
    drop(primary);
    let restarted = Server::usher(&args);
    let mut c = restarted.client();
    assert_eq!(feed(&mut c, key), want, "after an AOF restart");
    assert_eq!(c.call(&["HGETALL", stats]), want_stats);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_auto_event_writes_each_switch_of_queueing_once() {
    let usher = Server::usher(&["--queue-now-max-skew", "0"]);
    let mut c = usher.client();
    let (q, a, key) = ("q:{auto}", "a:{auto}", "q:{auto}:feed");
    let t = now_ms();
    ok(c.call(&[
        "QPOLICY",
        "SET",
        q,
        a,
        "METHOD",
        "auto",
        "MAXACTIVE",
        "1",
        "FEED",
        "100",
    ]));
    assert_eq!(
        c.call(&["ENTER", q, a, "u1", "NOW", &s(t)]).items()[0].text(),
        "ACTIVE"
    );
    for u in ["u2", "u3"] {
        assert_eq!(
            c.call(&["ENTER", q, a, u, "NOW", &s(t)]).items()[0].text(),
            "NEW"
        );
    }
    let events: Vec<(String, String)> = feed(&mut c, key)
        .into_iter()
        .map(|(_, f)| {
            let detail = f.get("user").or(f.get("queueing")).cloned().unwrap();
            (f["event"].clone(), detail)
        })
        .collect();
    assert_eq!(
        events,
        [
            ("admitted".to_string(), "u1".to_string()),
            ("queueing".to_string(), "1".to_string())
        ]
    );
}
