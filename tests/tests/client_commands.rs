//! Client and server commands Redis 7.0 users expect, against usher and redis-server 7.0.15:
//! CLIENT KILL's filters and errors, CLIENT NO-TOUCH (Redis 7.2, checked against its
//! documentation), RESET, LOLWUT, OBJECT FREQ under an LFU policy, the DEBUG subset, the full
//! `CONFIG GET *` key set, and regressions for reported differences (pub/sub under CLIENT
//! REPLY OFF, MOVE/COPY of every type and in cluster mode, BLPOP with a 1 ms timeout).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use usher_tests::resp::{Client, Reply};
use usher_tests::Server;

fn call(c: &mut Client, args: &[&str]) -> Reply {
    c.call(args)
}

/// Runs each command on both servers and asserts identical replies.
fn same(u: &mut Client, r: &mut Client, commands: &[&[&str]]) {
    for cmd in commands {
        let (a, b) = (u.call(cmd), r.call(cmd));
        assert_eq!(a, b, "{cmd:?}: usher {a:?}, redis {b:?}");
    }
}

fn keys_of(c: &mut Client) -> BTreeSet<String> {
    match c.call(&["CONFIG", "GET", "*"]) {
        Reply::Array(v) => v.chunks(2).map(|p| p[0].text()).collect(),
        Reply::Map(m) => m.iter().map(|(k, _)| k.text()).collect(),
        other => panic!("CONFIG GET *: {other:?}"),
    }
}

#[test]
fn config_get_star_lists_every_directive_redis_lists() {
    let (usher, redis) = (Server::usher(&[]), Server::redis(&[]));
    let (mut u, mut r) = (usher.client(), redis.client());
    let (uk, rk) = (keys_of(&mut u), keys_of(&mut r));
    let missing: Vec<_> = rk.difference(&uk).collect();
    assert!(missing.is_empty(), "usher lacks {missing:?}");
    // usher's own directives (docs/compatibility.md) are the only extra ones.
    let extra: BTreeSet<&str> = uk.difference(&rk).map(String::as_str).collect();
    let own: BTreeSet<&str> = [
        "threads",
        "shards",
        "token-secret",
        "token-signing-key",
        "queue-now-max-skew",
        "metrics-port",
        "cluster-node-id",
    ]
    .into();
    assert!(
        extra.is_subset(&own),
        "unexpected usher directives {extra:?}"
    );
    // The list and stream tuning directives, and a sample of each type, behave as Redis's.
    same(
        &mut u,
        &mut r,
        &[
            &["CONFIG", "SET", "list-compress-depth", "2"],
            &["CONFIG", "GET", "list-compress-depth"],
            &["CONFIG", "SET", "list-compress-depth", "-1"],
            &["CONFIG", "SET", "list-max-ziplist-size", "128"],
            &["CONFIG", "GET", "list-max-listpack-size"],
            &["CONFIG", "SET", "stream-node-max-bytes", "8kb"],
            &["CONFIG", "GET", "stream-node-max-bytes"],
            &["CONFIG", "SET", "stream-node-max-entries", "x"],
            &["CONFIG", "SET", "stream-node-max-entries", "7"],
            &["CONFIG", "GET", "stream-node-max-entries"],
            &["CONFIG", "SET", "activedefrag", "maybe"],
            &["CONFIG", "SET", "repl-diskless-load", "nope"],
            &["CONFIG", "SET", "active-expire-effort", "11"],
            &["CONFIG", "SET", "slave-priority", "5"],
            &["CONFIG", "GET", "replica-priority"],
            &["CONFIG", "SET", "daemonize", "no"],
            &["CONFIG", "SET", "maxmemory-clients", "10%"],
            &["CONFIG", "GET", "maxmemory-clients"],
            &["CONFIG", "SET", "maxmemory-clients", "x"],
            &["CONFIG", "SET", "oom-score-adj-values", "0 1"],
            &["CONFIG", "SET", "maxmemory-policy", "nope"],
            &["CONFIG", "SET", "lfu-log-factor", "-1"],
        ],
    );
}

#[test]
fn tuning_directives_are_accepted_from_flags() {
    let usher = Server::usher(&[
        "--list-compress-depth",
        "1",
        "--stream-node-max-entries",
        "50",
        "--lazyfree-lazy-user-del",
        "yes",
    ]);
    let mut u = usher.client();
    assert_eq!(
        u.call(&["CONFIG", "GET", "list-compress-depth"]).strings(),
        ["list-compress-depth", "1"]
    );
    assert_eq!(
        u.call(&["CONFIG", "GET", "stream-node-max-entries"])
            .strings(),
        ["stream-node-max-entries", "50"]
    );
    assert_eq!(
        u.call(&["CONFIG", "GET", "lazyfree-lazy-user-del"])
            .strings(),
        ["lazyfree-lazy-user-del", "yes"]
    );
}

#[test]
fn object_freq_follows_redis_lfu_counter() {
    let (usher, redis) = (Server::usher(&[]), Server::redis(&[]));
    let (mut u, mut r) = (usher.client(), redis.client());
    same(
        &mut u,
        &mut r,
        &[
            &["SET", "k", "v"],
            &["OBJECT", "FREQ", "k"],
            &["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"],
            &["SET", "k2", "v"],
            &["OBJECT", "FREQ", "k2"],
            // The first hits past LFU_INIT_VAL always count (probability 1).
            &["GET", "k2"],
            &["OBJECT", "FREQ", "k2"],
            &["RPUSH", "l", "a"],
            &["RPUSH", "l", "b"],
            &["OBJECT", "FREQ", "l"],
            &["OBJECT", "FREQ", "missing"],
            &["OBJECT", "IDLETIME", "k2"],
            &["CONFIG", "SET", "lfu-log-factor", "0"],
            &["CONFIG", "GET", "lfu-log-factor"],
            &["CONFIG", "GET", "lfu-decay-time"],
            &["CONFIG", "SET", "maxmemory-policy", "volatile-lfu"],
            &["OBJECT", "FREQ", "k2"],
            &["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"],
            &["OBJECT", "FREQ", "k2"],
        ],
    );
    // Many hits grow the counter logarithmically, never past 255.
    call(
        &mut u,
        &["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"],
    );
    call(&mut u, &["CONFIG", "SET", "lfu-log-factor", "10"]);
    call(&mut u, &["SET", "hot", "v"]);
    for _ in 0..300 {
        call(&mut u, &["GET", "hot"]);
    }
    let freq = call(&mut u, &["OBJECT", "FREQ", "hot"]).int();
    assert!((8..=40).contains(&freq), "after 300 hits: {freq}");
}

/// New keys take their access time from the clock the server read for the batch (not one
/// read per key): a key written after the connection sat idle must still start at idle 0,
/// and one left alone must age, on both servers alike.
#[test]
fn object_idletime_starts_at_zero_after_an_idle_pause() {
    let (usher, redis) = (Server::usher(&[]), Server::redis(&[]));
    let (mut u, mut r) = (usher.client(), redis.client());
    for c in [&mut u, &mut r] {
        call(c, &["SET", "old", "v"]);
    }
    std::thread::sleep(Duration::from_millis(2100));
    for c in [&mut u, &mut r] {
        call(c, &["MSET", "new", "v", "other", "w"]);
        assert_eq!(call(c, &["OBJECT", "IDLETIME", "new"]), Reply::Int(0));
        assert_eq!(call(c, &["OBJECT", "IDLETIME", "other"]), Reply::Int(0));
        let aged = call(c, &["OBJECT", "IDLETIME", "old"]).int();
        assert!((2..=3).contains(&aged), "old key idle {aged} s");
    }
}

/// Redis 7.2's documentation: with NO-TOUCH ON a client's commands do not change keys'
/// LRU/LFU, except TOUCH, which still does. (Redis 7.0 lacks the command.)
#[test]
fn client_no_touch_leaves_access_data_alone_except_touch() {
    let usher = Server::usher(&["--maxmemory-policy", "allkeys-lfu"]);
    let mut u = usher.client();
    call(&mut u, &["SET", "k", "v"]);
    assert_eq!(call(&mut u, &["OBJECT", "FREQ", "k"]), Reply::Int(5));
    assert!(call(&mut u, &["CLIENT", "NO-TOUCH", "ON"]).is_simple("OK"));
    assert!(call(&mut u, &["CLIENT", "INFO"]).text().contains("flags=T"));
    call(&mut u, &["GET", "k"]);
    assert_eq!(call(&mut u, &["OBJECT", "FREQ", "k"]), Reply::Int(5));
    call(&mut u, &["TOUCH", "k"]);
    assert_eq!(call(&mut u, &["OBJECT", "FREQ", "k"]), Reply::Int(6));
    assert_eq!(
        call(&mut u, &["CLIENT", "NO-TOUCH", "maybe"]).err(),
        "ERR syntax error"
    );
    // RESET turns it off with the rest of the connection's state.
    assert!(call(&mut u, &["RESET"]).is_simple("RESET"));
    assert!(call(&mut u, &["CLIENT", "INFO"]).text().contains("flags=N"));
    // Counted again (past 5 an increment is a 1-in-11 chance, so touch until it shows).
    let counted = (0..200).any(|_| {
        call(&mut u, &["GET", "k"]);
        call(&mut u, &["OBJECT", "FREQ", "k"]).int() > 6
    });
    assert!(counted, "GET never counted after RESET");
}

#[test]
fn client_kill_filters_and_errors_match_redis() {
    let (usher, redis) = (Server::usher(&[]), Server::redis(&[]));
    let (mut u, mut r) = (usher.client(), redis.client());
    // The harness's readiness probe has closed its connection, but a loaded server may not
    // have noticed yet: wait until each sees only this test's client, so that the filters
    // below count the same clients on both.
    for c in [&mut u, &mut r] {
        assert!(usher_tests::wait::eventually(
            Duration::from_secs(10),
            || c.call(&["CLIENT", "LIST"]).text().lines().count() == 1
        ));
    }
    same(
        &mut u,
        &mut r,
        &[
            &["CLIENT", "KILL", "1.2.3.4:5"],
            &["CLIENT", "KILL", "ID", "0"],
            &["CLIENT", "KILL", "ID", "abc"],
            &["CLIENT", "KILL", "ID", "999999"],
            &["CLIENT", "KILL", "TYPE", "foo"],
            &["CLIENT", "KILL", "TYPE", "master"],
            &["CLIENT", "KILL", "TYPE", "replica"],
            &["CLIENT", "KILL", "TYPE", "pubsub"],
            &["CLIENT", "KILL", "USER", "nosuch"],
            &["CLIENT", "KILL", "USER", "default"],
            &["CLIENT", "KILL", "SKIPME", "maybe"],
            &["CLIENT", "KILL", "ADDR", "1.2.3.4:5", "SKIPME", "no"],
            &["CLIENT", "KILL", "LADDR", "1.2.3.4:5"],
            &["CLIENT", "KILL", "ID", "1", "ID"],
            // MAXAGE arrived in 7.2: a syntax error in 7.0.15.
            &["CLIENT", "KILL", "MAXAGE", "1"],
            &["CLIENT", "KILL", "foo", "bar"],
        ],
    );
    for server in [&usher, &redis] {
        let mut me = server.client();
        let mut victim = server.client();
        let id = victim.call(&["CLIENT", "ID"]).int().to_string();
        let addr = {
            let info = victim.call(&["CLIENT", "INFO"]).text();
            info.split(' ')
                .find_map(|f| f.strip_prefix("addr="))
                .unwrap()
                .to_string()
        };
        assert_eq!(me.call(&["CLIENT", "KILL", "ID", &id]), Reply::Int(1));
        assert!(victim.closes());
        let mut victim = server.client();
        let addr2 = victim.call(&["CLIENT", "INFO"]).text();
        let addr2 = addr2
            .split(' ')
            .find_map(|f| f.strip_prefix("addr="))
            .unwrap();
        assert_ne!(addr2, addr);
        assert!(me.call(&["CLIENT", "KILL", addr2]).is_simple("OK"));
        assert!(victim.closes());
        // SKIPME no kills the caller too.
        let mut sub = server.client();
        sub.send(&["SUBSCRIBE", "x"]);
        sub.read().unwrap();
        assert_eq!(
            me.call(&["CLIENT", "KILL", "TYPE", "pubsub"]),
            Reply::Int(1)
        );
        assert!(sub.closes());
    }
}

#[test]
fn lolwut_prints_the_version_line() {
    let (usher, redis) = (Server::usher(&[]), Server::redis(&[]));
    let (mut u, mut r) = (usher.client(), redis.client());
    same(
        &mut u,
        &mut r,
        &[
            &["LOLWUT"],
            &["LOLWUT", "VERSION", "1"],
            &["LOLWUT", "VERSION", "x"],
            &["LOLWUT", "VERSION", "5", "x"],
        ],
    );
    for args in [
        &["LOLWUT", "VERSION", "5", "10"][..],
        &["LOLWUT", "VERSION", "6"],
    ] {
        let (a, b) = (u.call(args).text(), r.call(args).text());
        let last = |t: &str| t.lines().last().unwrap_or("").to_string();
        assert_eq!(last(&a), last(&b), "{args:?}");
        assert!(a.ends_with("Redis ver. 7.0.15\n"));
    }
}

#[test]
fn debug_is_refused_by_default_as_in_redis() {
    let (usher, redis) = (Server::usher(&[]), Server::redis(&[]));
    let (mut u, mut r) = (usher.client(), redis.client());
    same(&mut u, &mut r, &[&["DEBUG", "SLEEP", "0"], &["DEBUG"]]);
    same(
        &mut u,
        &mut r,
        &[&["CONFIG", "SET", "enable-debug-command", "yes"]],
    );
}

#[test]
fn debug_subset_matches_redis() {
    // Redis's DEBUG RELOAD writes dump.rdb: into a scratch dir, not the test's cwd (another
    // test's redis-server would load it at start-up).
    let scratch = std::env::temp_dir().join(format!("usher-cc-debug-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let (usher, redis) = (
        Server::usher(&["--enable-debug-command", "yes"]),
        Server::redis(&[
            "--enable-debug-command",
            "yes",
            "--dir",
            scratch.to_str().unwrap(),
        ]),
    );
    let (mut u, mut r) = (usher.client(), redis.client());
    same(
        &mut u,
        &mut r,
        &[
            &["DEBUG", "foo"],
            &["DEBUG", "OBJECT", "nokey"],
            &["DEBUG", "OBJECT"],
            &["DEBUG", "SLEEP", "abc"],
            &["DEBUG", "SLEEP", "0.01"],
            &["DEBUG", "SET-ACTIVE-EXPIRE"],
            &["DEBUG", "CHANGE-REPL-ID"],
            &["CONFIG", "RESETSTAT"],
            &["DEBUG", "ERROR", "LOADING fake message"],
            &["DEBUG", "ERROR", "two\r\nlines"],
            &["DEBUG", "ERROR", "nocode"],
            &["DEBUG", "ERROR"],
            &["DEBUG", "ERROR", "a", "b"],
            // DEBUG ERROR's reply is not an error the server counts.
            &["INFO", "errorstats"],
            &["DEBUG", "RELOAD", "foo"],
            &["SET", "k", "hello"],
            &["RPUSH", "l", "a", "b"],
            &["HSET", "h", "f", "v"],
            &["SET", "t", "v", "EX", "1000"],
            &["DEBUG", "RELOAD"],
            &["GET", "k"],
            &["LRANGE", "l", "0", "-1"],
            &["HGETALL", "h"],
            &["TTL", "t"],
            &["DBSIZE"],
            &["DEBUG", "SET-ACTIVE-EXPIRE", "0"],
            &["SET", "gone", "v", "PX", "50"],
        ],
    );
    // The shape tools parse: "Value at:<addr> refcount:1 encoding:<enc> serializedlength:<n>".
    let (a, b) = (
        u.call(&["DEBUG", "OBJECT", "k"]).text(),
        r.call(&["DEBUG", "OBJECT", "k"]).text(),
    );
    let fields = |t: &str| -> Vec<String> {
        t.split(' ')
            .filter(|f| {
                ["encoding:", "serializedlength:", "refcount:"]
                    .iter()
                    .any(|p| f.starts_with(p))
            })
            .map(str::to_string)
            .collect()
    };
    assert_eq!(fields(&a), fields(&b), "usher {a:?} redis {b:?}");
    assert!(a.starts_with("Value at:0x"));
    // Active expiry off: an expired key nobody reads stays counted; back on, it goes.
    std::thread::sleep(Duration::from_millis(400));
    same(
        &mut u,
        &mut r,
        &[&["DBSIZE"], &["DEBUG", "SET-ACTIVE-EXPIRE", "1"]],
    );
    let deadline = Instant::now() + Duration::from_secs(3);
    while u.call(&["DBSIZE"]) != Reply::Int(4) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(u.call(&["DBSIZE"]), Reply::Int(4));
    drop(redis);
    let _ = std::fs::remove_dir_all(&scratch);
}

#[test]
fn reset_clears_the_connection_state() {
    let usher = Server::usher(&[]);
    let mut u = usher.client();
    for cmd in [
        &["CLIENT", "SETNAME", "n"][..],
        &["SELECT", "3"],
        &["CLIENT", "NO-TOUCH", "ON"],
        &["CLIENT", "NO-EVICT", "ON"],
        &["CLIENT", "TRACKING", "ON"],
        &["HELLO", "3"],
        &["WATCH", "w"],
        &["MULTI"],
    ] {
        assert!(!u.call(cmd).is_error(), "{cmd:?}");
    }
    assert!(u.call(&["RESET"]).is_simple("RESET"));
    let info = u.call(&["CLIENT", "INFO"]).text();
    for field in ["name= ", "db=0 ", "flags=N ", "multi=-1 ", "resp=2 "] {
        assert!(info.contains(field), "{field} missing in {info}");
    }
    assert_eq!(
        u.call(&["CLIENT", "TRACKINGINFO"]).items()[1],
        Reply::Array(vec![Reply::bulk("off")])
    );
    // Reply mode back on, subscriptions gone.
    u.send(&["CLIENT", "REPLY", "OFF"]);
    u.send(&["SUBSCRIBE", "c"]);
    u.read().unwrap();
    assert!(u.call(&["RESET"]).is_simple("RESET"));
    assert!(u.call(&["PING"]).is_simple("PONG"));
}

/// Reported: a subscriber in CLIENT REPLY OFF mode got its messages but not its
/// (P)SUBSCRIBE / (P)UNSUBSCRIBE confirmations, which Redis sends as pushes in both protocols.
#[test]
fn regression_client_reply_off_keeps_pubsub_pushes() {
    let (usher, redis) = (Server::usher(&["--threads", "2"]), Server::redis(&[]));
    for proto in ["2", "3"] {
        let mut transcripts = Vec::new();
        for server in [&usher, &redis] {
            let (mut sub, mut publisher) = (server.client(), server.client());
            sub.call(&["HELLO", proto]);
            sub.send(&["CLIENT", "REPLY", "OFF"]);
            sub.send(&["SUBSCRIBE", "ch"]);
            let mut t = vec![sub.read().unwrap()];
            publisher.call(&["PUBLISH", "ch", "m1"]);
            t.push(sub.read().unwrap());
            sub.send(&["PSUBSCRIBE", "c*"]);
            t.push(sub.read().unwrap());
            publisher.call(&["PUBLISH", "ch", "m2"]);
            t.push(sub.read().unwrap());
            t.push(sub.read().unwrap());
            sub.send(&["UNSUBSCRIBE"]);
            t.push(sub.read().unwrap());
            sub.send(&["PUNSUBSCRIBE"]);
            t.push(sub.read().unwrap());
            // Ordinary replies stay suppressed until REPLY ON.
            if proto == "3" {
                sub.send(&["SET", "x", "1"]);
            }
            t.push(sub.call(&["CLIENT", "REPLY", "ON"]));
            transcripts.push(t);
        }
        assert_eq!(transcripts[0], transcripts[1], "RESP{proto}");
    }
}

/// Reported: MOVE and COPY differed from Redis for some types. Every type and encoding, with
/// TTLs, existing destinations, the same db, REPLACE and databases out of range, compared
/// value by value; and cluster mode, where Redis refuses other databases.
#[test]
fn regression_move_copy_every_type_and_encoding() {
    let (usher, redis) = (Server::usher(&[]), Server::redis(&[]));
    let (mut u, mut r) = (usher.client(), redis.client());
    let many = |prefix: &str, n: usize| -> Vec<String> {
        (0..n).map(|i| format!("{prefix}{i}")).collect()
    };
    let mut setups: Vec<(&str, Vec<String>)> = vec![
        ("s_int", vec!["SET".into(), "s_int".into(), "123".into()]),
        ("s_emb", vec!["SET".into(), "s_emb".into(), "hello".into()]),
        ("s_raw", vec!["SET".into(), "s_raw".into(), "x".repeat(100)]),
        (
            "l_small",
            vec!["RPUSH".into(), "l_small".into(), "a".into(), "1".into()],
        ),
        (
            "h_lp",
            vec!["HSET".into(), "h_lp".into(), "f".into(), "v".into()],
        ),
        (
            "st_int",
            vec!["SADD".into(), "st_int".into(), "1".into(), "2".into()],
        ),
        (
            "st_ht",
            vec!["SADD".into(), "st_ht".into(), "a".into(), "b".into()],
        ),
        (
            "z_lp",
            vec!["ZADD".into(), "z_lp".into(), "1".into(), "a".into()],
        ),
    ];
    let mut l = vec!["RPUSH".to_string(), "l_big".into()];
    l.extend(many("v", 300));
    setups.push(("l_big", l));
    let mut h = vec!["HSET".to_string(), "h_ht".into()];
    for f in many("f", 600) {
        h.extend([f, "v".into()]);
    }
    setups.push(("h_ht", h));
    let mut z = vec!["ZADD".to_string(), "z_sl".into()];
    for (i, m) in many("m", 200).into_iter().enumerate() {
        z.extend([i.to_string(), m]);
    }
    setups.push(("z_sl", z));
    // The value by its type's own read (a DUMP of a hashtable set depends on its order).
    let read = |k: &str| -> Vec<Vec<String>> {
        let content: Vec<&str> = match &k[..2] {
            "s_" => vec!["GET"],
            "l_" => vec!["LRANGE", "0", "-1"],
            "h_" => vec!["HGETALL"],
            "st" => vec!["SMEMBERS"],
            _ => vec!["ZRANGE", "0", "-1", "WITHSCORES"],
        };
        let mut value: Vec<String> = vec![content[0].into(), k.into()];
        value.extend(content[1..].iter().map(|a| a.to_string()));
        vec![
            vec!["TYPE".into(), k.into()],
            vec!["OBJECT".into(), "ENCODING".into(), k.into()],
            vec!["TTL".into(), k.into()],
            value,
        ]
    };
    let sorted = |r: Reply| match r {
        Reply::Array(mut v) => {
            v.sort_by_key(|x| format!("{x:?}"));
            Reply::Array(v)
        }
        other => other,
    };
    for (key, setup) in &setups {
        let copy = format!("{key}_c");
        let mut script: Vec<Vec<String>> = vec![
            setup.clone(),
            vec!["EXPIRE".into(), key.to_string(), "1000".into()],
        ];
        for cmd in [
            vec!["COPY", key, &copy],
            vec!["COPY", key, &copy],
            vec!["COPY", key, &copy, "REPLACE"],
            vec!["COPY", key, key, "DB", "0"],
            vec!["COPY", key, key, "DB", "3"],
            vec!["COPY", key, key, "DB", "16"],
            vec!["COPY", key, key, "DB", "-1"],
            vec!["MOVE", key, "16"],
            vec!["MOVE", key, "0"],
            vec!["MOVE", key, "2"],
            vec!["MOVE", key, "2"],
        ] {
            script.push(cmd.into_iter().map(str::to_string).collect());
        }
        for db in ["0", "2", "3"] {
            script.push(vec!["SELECT".into(), db.into()]);
            script.extend(read(key));
            script.extend(read(&copy));
        }
        script.push(vec!["SELECT".into(), "0".into()]);
        for cmd in &script {
            let (a, b) = (sorted(u.call(cmd)), sorted(r.call(cmd)));
            assert_eq!(a, b, "{cmd:?}");
        }
    }
    // Cluster mode: one database.
    let scratch = std::env::temp_dir().join(format!("usher-cc-cluster-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let bus = usher_tests::server::free_port().to_string();
    let redis_cluster = Server::redis(&[
        "--cluster-enabled",
        "yes",
        "--cluster-port",
        &bus,
        "--dir",
        scratch.to_str().unwrap(),
    ]);
    let usher_cluster = Server::usher(&["--cluster-enabled", "yes"]);
    let mut rc = redis_cluster.client();
    assert!(rc
        .call(&["CLUSTER", "ADDSLOTSRANGE", "0", "16383"])
        .is_simple("OK"));
    let deadline = Instant::now() + Duration::from_secs(5);
    while !rc
        .call(&["CLUSTER", "INFO"])
        .text()
        .contains("cluster_state:ok")
    {
        assert!(Instant::now() < deadline, "redis cluster never came up");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut uc = usher_cluster.client();
    same(
        &mut uc,
        &mut rc,
        &[
            &["SET", "{a}k", "v"],
            &["MOVE", "{a}k", "1"],
            &["COPY", "{a}k", "{a}k2", "DB", "1"],
            &["COPY", "{a}k", "{a}k2", "DB", "0"],
            &["COPY", "{a}k", "{a}k3", "DB", "1", "foo"],
            &["SELECT", "1"],
            &["SELECT", "0"],
            &["SWAPDB", "0", "1"],
        ],
    );
    drop(redis_cluster);
    let _ = std::fs::remove_dir_all(&scratch);
}

/// Reported: BLPOP with a 0.001 s timeout. Both servers answer a null array (the 1 ms
/// deadline is rounded up, not down to "block forever"), usher within a few ms rather than on
/// Redis's 100 ms cron tick; pipelined ones answer in order; and a push racing the deadline
/// is never lost.
#[test]
fn regression_blpop_millisecond_timeout() {
    let (usher, redis) = (Server::usher(&["--threads", "2"]), Server::redis(&[]));
    for server in [&usher, &redis] {
        let mut c = server.client();
        for t in ["0.001", "0.0001", "0.002", "1e-3"] {
            let started = Instant::now();
            assert_eq!(c.call(&["BLPOP", "nolist", t]), Reply::NilArray, "{t}");
            assert!(started.elapsed() < Duration::from_secs(1), "{t}");
        }
        assert_eq!(c.call(&["BZPOPMIN", "noz", "0.001"]), Reply::NilArray);
        assert_eq!(
            c.call(&["BLMPOP", "0.001", "1", "nolist", "LEFT"]),
            Reply::NilArray
        );
    }
    let mut c = usher.client();
    for _ in 0..5 {
        c.send(&["BLPOP", "nolist", "0.001"]);
    }
    c.send(&["PING"]);
    for _ in 0..5 {
        assert_eq!(c.read().unwrap(), Reply::NilArray);
    }
    assert!(c.read().unwrap().is_simple("PONG"));
    // Poppers with 1 ms timeouts racing a pusher: every element is popped or left.
    let port = usher.port;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let poppers: Vec<_> = (0..3)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut c = Client::connect(port).unwrap();
                let mut popped = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    if let Reply::Array(_) = c.call(&["BLPOP", "race", "0.001"]) {
                        popped += 1;
                    }
                }
                popped
            })
        })
        .collect();
    let n = 2000;
    for i in 0..n {
        c.call(&["RPUSH", "race", &i.to_string()]);
    }
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let popped: i64 = poppers.into_iter().map(|p| p.join().unwrap()).sum();
    let left = c.call(&["LLEN", "race"]).int();
    assert_eq!(popped + left, n);
}

/// CLIENT KILL USER knows every ACL user, and kills the connections authenticated as one.
#[test]
fn client_kill_user_knows_acl_users() {
    let usher = Server::usher(&[]);
    let mut admin = usher.client();
    assert!(admin
        .call(&["ACL", "SETUSER", "bob", "on", ">pw", "+@all", "~*"])
        .is_simple("OK"));
    let mut bob = usher.client();
    assert!(bob.call(&["AUTH", "bob", "pw"]).is_simple("OK"));
    assert_eq!(
        admin.call(&["CLIENT", "KILL", "USER", "bob"]),
        Reply::Int(1)
    );
    assert!(
        bob.try_call(&["PING"]).is_err(),
        "bob's connection is closed"
    );
    let r = admin.call(&["CLIENT", "KILL", "USER", "nosuch"]);
    assert!(r.is_error() && r.err().contains("No such user"), "{r:?}");
}

/// CLIENT LIST's fields are the client's truth: its socket's fd, its shard-channel
/// subscriptions, its tracking redirection (as redis-server shows them).
#[test]
fn client_list_shows_fd_ssub_and_redir_truthfully() {
    let usher = Server::usher(&[]);
    let field = |line: &str, name: &str| -> String {
        line.split(' ')
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .unwrap_or_default()
            .to_string()
    };
    let mut target = usher.client();
    let target_id = target.call(&["CLIENT", "ID"]).int();
    let mut c = usher.client();
    let info = c.call(&["CLIENT", "INFO"]).text();
    assert!(field(&info, "fd").parse::<i32>().unwrap() > 2, "{info}");
    assert_eq!(field(&info, "redir"), "-1");
    assert!(c
        .call(&[
            "CLIENT",
            "TRACKING",
            "on",
            "REDIRECT",
            &target_id.to_string()
        ])
        .is_simple("OK"));
    let info = c.call(&["CLIENT", "INFO"]).text();
    assert_eq!(field(&info, "redir"), target_id.to_string());
    c.call(&["CLIENT", "TRACKING", "off"]);
    assert_eq!(field(&c.call(&["CLIENT", "INFO"]).text(), "redir"), "-1");
    // The running command's bytes (CLIENT + INFO), and what MULTI has queued.
    assert_eq!(field(&c.call(&["CLIENT", "INFO"]).text(), "argv-mem"), "10");
    assert!(c.call(&["MULTI"]).is_simple("OK"));
    c.call(&["SET", "k", "v"]);
    let list = target.call(&["CLIENT", "LIST"]).text();
    let line = list
        .lines()
        .find(|l| field(l, "multi") == "1")
        .expect("c is in MULTI");
    assert_eq!(field(line, "multi-mem"), "5");
    c.call(&["DISCARD"]);
    let mut sub = usher.client();
    sub.call(&["SSUBSCRIBE", "a", "b"]);
    let list = c.call(&["CLIENT", "LIST", "TYPE", "pubsub"]).text();
    assert_eq!(field(list.trim_end(), "ssub"), "2", "{list}");
}
