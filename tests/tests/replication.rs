//! Replication end to end with real processes: a usher primary with a usher replica and a
//! redis-server 7.0 replica ends in the same state on all three (types, encodings, contents,
//! absolute TTLs; the waiting room's effects on the usher replica); a killed replica link
//! resumes with a partial resync, and one that missed more than the backlog resyncs fully;
//! a promoted replica lets its sibling resume (replid2); usher follows a redis-server
//! primary; an idle primary's PINGs keep its links up and a replica silent for `repl-timeout`
//! is dropped; WAIT, ROLE and the READONLY / MASTERDOWN / NOREPLICAS errors match Redis's.

use std::time::Duration;
use usher_tests::dataset::{dataset, populate, Dataset};
use usher_tests::resp::{Client, Reply};
use usher_tests::server::Server;
use usher_tests::wait::eventually;

/// A redis-server with a scratch `dir`: a replica's full sync writes its RDB there (Redis's
/// disk-based load), never into the test's working directory where others would load it.
fn redis(args: &[&str]) -> Server {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("usher-repl-redis-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let dir = dir.display().to_string();
    let mut all = vec!["--dir", dir.as_str()];
    all.extend_from_slice(args);
    Server::redis(&all)
}

fn ok(r: Reply) {
    assert!(r.is_simple("OK"), "expected OK, got {r:?}");
}

fn follow(replica: &Server, primary: &Server) {
    let mut c = replica.client();
    ok(c.call(&["REPLICAOF", "127.0.0.1", &primary.port.to_string()]));
    assert!(
        eventually(Duration::from_secs(10), || c
            .info_field("replication", "master_link_status")
            == "up"),
        "replica never linked up:\n{}",
        replica.log()
    );
}

/// Waits until `n` replicas acknowledged everything written to `primary` so far.
fn settle(primary: &mut Client, n: i64) {
    let acked = primary.call(&["WAIT", &n.to_string(), "5000"]).int();
    if acked != n {
        panic!(
            "{acked} of {n} replicas acknowledged:\n{}",
            primary.call(&["INFO", "replication"]).text()
        );
    }
}

/// Asserts two keyspaces are equal, naming only the keys that differ. A string's encoding
/// is not compared: a sync changes it in Redis too (APPEND's raw string loads as embstr, a
/// replayed INCRBYFLOAT result as int).
fn same(got: &Dataset, want: &Dataset, what: &str) {
    let plain = |d: &Dataset| -> Dataset {
        d.iter()
            .map(|(k, (t, e, c, v))| {
                let e = if t == "string" {
                    String::new()
                } else {
                    e.clone()
                };
                (k.clone(), (t.clone(), e, c.clone(), *v))
            })
            .collect()
    };
    let (got, want) = (&plain(got), &plain(want));
    let diff: Vec<_> = want
        .iter()
        .filter(|(k, v)| got.get(*k) != Some(*v))
        .map(|(k, v)| (k, v, got.get(k)))
        .chain(
            got.iter()
                .filter(|(k, _)| !want.contains_key(*k))
                .map(|(k, v)| (k, v, None)),
        )
        .collect();
    assert!(diff.is_empty(), "{what} differs: {diff:?}");
}

/// Every volatile key's absolute expiry, per database.
fn expiries(c: &mut Client, data: &Dataset) -> Vec<(usize, String, i64)> {
    let mut out = Vec::new();
    for ((db, key), (_, _, _, volatile)) in data {
        if *volatile {
            ok(c.call(&["SELECT", &db.to_string()]));
            out.push((*db, key.clone(), c.call(&["PEXPIRETIME", key]).int()));
        }
    }
    ok(c.call(&["SELECT", "0"]));
    out
}

/// Writes whose replay must be their effect, across databases and in a transaction.
fn plain_writes(c: &mut Client) {
    for args in [
        &["SET", "w:ex", "v", "EX", "1000"][..],
        &["SETEX", "w:setex", "500", "v"],
        &["SET", "w:gone", "v", "PX", "50"],
        &["INCRBYFLOAT", "w:float", "1.5"],
        &["SADD", "w:set", "a", "b", "c", "d"],
        &["SPOP", "w:set"],
        &["RPUSH", "w:list", "1", "2", "3"],
        &["LPOP", "w:list"],
        &["EXPIRE", "str:int", "3000"],
        &["ZADD", "w:z", "1", "a", "2", "b"],
        &["ZINCRBY", "w:z", "5", "a"],
        &["SELECT", "7"],
        &["HSET", "w:h7", "f", "v"],
        &["MULTI"],
        &["INCR", "w:ctr"],
        &["INCR", "w:ctr"],
        &["EXEC"],
        &["SELECT", "0"],
        &["DEL", "str:embstr"],
    ] {
        let r = c.call(args);
        assert!(!r.is_error(), "{args:?}: {r:?}");
    }
    // The short-lived key expires on the primary; its DEL reaches the replicas.
    std::thread::sleep(Duration::from_millis(150));
    c.call(&["GET", "w:gone"]);
}

#[test]
fn usher_and_redis_replicas_of_usher_end_equal() {
    let primary = Server::usher(&[]);
    let ushr = Server::usher(&[]);
    let redis = redis(&["--repl-diskless-load", "disabled"]);
    let mut p = primary.client();
    populate(&mut p);
    // The usher replica gets the populated data by full sync, the writes by the stream.
    follow(&ushr, &primary);
    plain_writes(&mut p);
    follow(&redis, &primary);
    for i in 0..200 {
        ok(p.call(&["SET", &format!("loop:{i}"), &i.to_string(), "PX", "600000"]));
    }
    // The waiting room: only usher can apply these; the redis replica is compared on the rest.
    for user in ["alice", "bob", "carol"] {
        assert!(!p
            .call(&["ENTER", "line:{ev}", "line:{ev}:active", user])
            .is_error());
    }
    assert!(!p
        .call(&["ADMIT", "line:{ev}", "line:{ev}:active", "2"])
        .is_error());
    assert!(!p
        .call(&["SEATLOCK", "seat:{ev}:1", "alice", "60"])
        .is_error());
    settle(&mut p, 2);
    let want = dataset(&mut p);
    let want_ttl = expiries(&mut p, &want);
    let mut u = ushr.client();
    same(&dataset(&mut u), &want, "usher replica");
    assert_eq!(expiries(&mut u, &want), want_ttl);
    let plain: Dataset = want
        .iter()
        .filter(|((_, k), _)| !k.contains("{ev}"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut r = redis.client();
    let got: Dataset = dataset(&mut r)
        .into_iter()
        .filter(|((_, k), _)| !k.contains("{ev}"))
        .collect();
    same(&got, &plain, "redis replica");
    assert_eq!(expiries(&mut r, &plain), expiries(&mut p, &plain));
    // The waiting room replayed exactly: positions and holds.
    for c in [&mut p, &mut u] {
        ok(c.call(&["SELECT", "0"]));
    }
    assert_eq!(
        u.call(&["ZRANGE", "line:{ev}", "0", "-1"]),
        p.call(&["ZRANGE", "line:{ev}", "0", "-1"])
    );
    assert_eq!(
        u.call(&["HGETALL", "seat:{ev}:1"]),
        p.call(&["HGETALL", "seat:{ev}:1"])
    );
    // Offsets agree: the replica acknowledged exactly the primary's stream.
    let off = p.info_field("replication", "master_repl_offset");
    assert!(eventually(Duration::from_secs(3), || u
        .info_field("replication", "slave_repl_offset")
        == off));
}

#[test]
fn a_killed_link_resumes_partially_and_a_long_gap_resyncs_fully() {
    let primary = Server::usher(&["--repl-backlog-size", "16kb"]);
    let replica = Server::usher(&[]);
    let mut p = primary.client();
    ok(p.call(&["SET", "before", "1"]));
    follow(&replica, &primary);
    assert_eq!(p.info_field("stats", "sync_full"), "1");
    // A short cut: the replica reconnects and continues from its offset.
    assert_eq!(p.call(&["CLIENT", "KILL", "TYPE", "replica"]).int(), 1);
    ok(p.call(&["SET", "during", "2"]));
    settle(&mut p, 1);
    assert_eq!(p.info_field("stats", "sync_partial_ok"), "1");
    assert_eq!(p.info_field("stats", "sync_full"), "1");
    let mut r = replica.client();
    assert_eq!(r.call(&["GET", "during"]).text(), "2");
    // A gap past the backlog: the replica's offset is gone, so it gets a new full copy.
    assert_eq!(p.call(&["CLIENT", "KILL", "TYPE", "replica"]).int(), 1);
    let value = "x".repeat(1000);
    for i in 0..64 {
        ok(p.call(&["SET", &format!("big:{i}"), &value]));
    }
    settle(&mut p, 1);
    assert_eq!(p.info_field("stats", "sync_full"), "2");
    assert_eq!(r.call(&["DBSIZE"]), p.call(&["DBSIZE"]));
    assert_eq!(r.call(&["GET", "big:63"]).text(), value);
}

#[test]
fn an_idle_primary_keeps_its_links_with_pings_and_drops_a_silent_replica() {
    let fast = ["--repl-timeout", "2", "--repl-ping-replica-period", "1"];
    let primary = Server::usher(&fast);
    let replica = Server::usher(&fast);
    let theirs = redis(&fast);
    let mut p = primary.client();
    ok(p.call(&["SET", "k", "1"]));
    follow(&replica, &primary);
    follow(&theirs, &primary);
    settle(&mut p, 2);
    let offset = |c: &mut Client, field: &str| -> u64 {
        c.info_field("replication", field).parse().unwrap()
    };
    let start = offset(&mut p, "master_repl_offset");
    // Nothing written for longer than repl-timeout: the PINGs alone keep both links up, and
    // each is 14 bytes of stream on every side.
    std::thread::sleep(Duration::from_millis(3500));
    let end = offset(&mut p, "master_repl_offset");
    assert!(
        end - start >= 28 && (end - start) % 14 == 0,
        "{start} -> {end}"
    );
    for server in [&replica, &theirs] {
        let mut c = server.client();
        assert_eq!(c.info_field("replication", "master_link_status"), "up");
        assert!(eventually(Duration::from_secs(3), || offset(
            &mut c,
            "slave_repl_offset"
        ) == offset(
            &mut p,
            "master_repl_offset"
        )));
    }
    assert_eq!(p.info_field("stats", "sync_full"), "2");
    assert_eq!(p.info_field("stats", "sync_partial_ok"), "0");
    // A replica that stops acknowledging (stopped, as a hung host) is dropped after
    // repl-timeout, as Redis drops it; once it runs again it resumes from its offset.
    replica.signal(19);
    assert!(eventually(Duration::from_secs(6), || p
        .info_field("replication", "connected_slaves")
        == "1"));
    assert!(primary.log_shows(
        &format!(
            "Disconnecting timedout replica (streaming sync): 127.0.0.1:{}",
            replica.port
        ),
        Duration::from_secs(1)
    ));
    ok(p.call(&["SET", "k", "2"]));
    replica.signal(18);
    settle(&mut p, 2);
    assert_eq!(p.info_field("stats", "sync_partial_ok"), "1");
    assert_eq!(replica.client().call(&["GET", "k"]).text(), "2");
}

#[test]
fn a_promoted_replica_lets_its_sibling_resume() {
    let primary = Server::usher(&[]);
    let a = Server::usher(&[]);
    let b = redis(&[]);
    let mut p = primary.client();
    ok(p.call(&["SET", "k", "1"]));
    follow(&a, &primary);
    follow(&b, &primary);
    settle(&mut p, 2);
    drop(p);
    drop(primary);
    let mut ca = a.client();
    ok(ca.call(&["REPLICAOF", "NO", "ONE"]));
    let old = ca.info_field("replication", "master_replid2");
    assert_ne!(old, "0".repeat(40));
    follow(&b, &a);
    ok(ca.call(&["SET", "k", "2"]));
    settle(&mut ca, 1);
    assert_eq!(ca.info_field("stats", "sync_partial_ok"), "1");
    assert_eq!(ca.info_field("stats", "sync_full"), "0");
    assert_eq!(b.client().call(&["GET", "k"]).text(), "2");
}

#[test]
fn usher_follows_a_redis_primary() {
    let primary = redis(&[
        "--repl-diskless-sync-delay",
        "0",
        "--enable-debug-command",
        "yes",
    ]);
    let replica = Server::usher(&[]);
    let mut p = primary.client();
    populate(&mut p);
    follow(&replica, &primary);
    plain_writes(&mut p);
    settle(&mut p, 1);
    let mut r = replica.client();
    let want = dataset(&mut p);
    same(&dataset(&mut r), &want, "usher replica");
    assert_eq!(expiries(&mut r, &want), expiries(&mut p, &want));
    // Expiry is the primary's: a key it has not expired yet stays, hidden from reads.
    ok(p.call(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]));
    ok(p.call(&["SET", "soon", "v", "PX", "100"]));
    settle(&mut p, 1);
    std::thread::sleep(Duration::from_millis(200));
    let before = r.call(&["DBSIZE"]).int();
    assert!(r.call(&["GET", "soon"]) == Reply::Nil);
    assert_eq!(
        r.call(&["DBSIZE"]).int(),
        before,
        "the replica deleted a key itself"
    );
    // The primary's lookup expires it and its DEL arrives.
    assert!(p.call(&["GET", "soon"]) == Reply::Nil);
    settle(&mut p, 1);
    assert_eq!(r.call(&["DBSIZE"]).int(), before - 1);
}

#[test]
fn wait_role_and_the_replica_errors_match_redis() {
    let up = Server::usher(&[]);
    let rp = redis(&[]);
    let ur = Server::usher(&[]);
    let rr = redis(&[]);
    follow(&ur, &up);
    follow(&rr, &rp);
    let (mut u, mut r) = (up.client(), rp.client());
    for c in [&mut u, &mut r] {
        ok(c.call(&["SET", "a", "1"]));
        assert_eq!(c.call(&["WAIT", "1", "0"]).int(), 1);
        // More replicas than exist: the timeout ends it with the count that did.
        assert_eq!(c.call(&["WAIT", "2", "100"]).int(), 1);
    }
    for args in [
        &["WAIT", "1", "abc"][..],
        &["WAIT", "abc", "1"],
        &["WAIT", "0", "-1"],
        &["REPLICAOF", "localhost", "notaport"],
        &["REPLCONF", "foo", "bar"],
    ] {
        assert_eq!(u.call(args), r.call(args), "{args:?}");
    }
    let role = u.call(&["ROLE"]);
    assert_eq!(role.items()[0].text(), "master");
    assert_eq!(role.items()[2].items().len(), 1);
    let (mut urc, mut rrc) = (ur.client(), rr.client());
    // A script's write on a read-only replica is refused inside the script (it would make the
    // replica diverge); its reads run.
    let write = "return redis.call('SET', KEYS[1], 'from-script')";
    let write_pcall = "local r = redis.pcall('SET', KEYS[1], 'x'); return r['err']";
    let read = "return redis.call('GET', KEYS[1])";
    for args in [
        &["SET", "b", "2"][..],
        &["WAIT", "0", "0"],
        &["GET", "a"],
        &["EVAL", write, "1", "a"],
        &["EVAL", write_pcall, "1", "a"],
        &["EVAL", read, "1", "a"],
        &[
            "EVAL",
            "#!lua\nreturn redis.call('SET', KEYS[1], 'v')",
            "1",
            "a",
        ],
        &["GET", "a"],
    ] {
        assert_eq!(urc.call(args), rrc.call(args), "{args:?}");
    }
    assert_eq!(urc.call(&["GET", "a"]).text(), "1");
    let role = urc.call(&["ROLE"]);
    assert_eq!(role.items()[0].text(), "slave");
    assert_eq!(role.items()[3].text(), "connected");
    // A dead primary with replica-serve-stale-data no: MASTERDOWN for data, ROLE still works.
    for c in [&mut urc, &mut rrc] {
        ok(c.call(&["CONFIG", "SET", "replica-serve-stale-data", "no"]));
        ok(c.call(&["REPLICAOF", "127.0.0.1", "1"]));
    }
    assert_eq!(urc.call(&["GET", "a"]), rrc.call(&["GET", "a"]));
    assert_eq!(urc.call(&["ROLE"]).items()[0].text(), "slave");
    for key in [
        "master_link_status",
        "master_link_down_since_seconds",
        "slave_read_only",
    ] {
        assert_eq!(
            urc.info_field("replication", key),
            rrc.info_field("replication", key),
            "{key}"
        );
    }
    // A primary short of good replicas refuses writes.
    for c in [&mut urc, &mut rrc] {
        ok(c.call(&["REPLICAOF", "NO", "ONE"]));
        ok(c.call(&["CONFIG", "SET", "min-replicas-to-write", "1"]));
    }
    assert_eq!(urc.call(&["SET", "c", "3"]), rrc.call(&["SET", "c", "3"]));
    let script = &["EVAL", "return redis.call('SET', KEYS[1], '4')", "1", "c"][..];
    assert_eq!(urc.call(script), rrc.call(script));
    assert_eq!(urc.call(&["GET", "c"]), rrc.call(&["GET", "c"]));
}

/// With replication alone reading the stream, a primary's appends skip the AOF writer; turning
/// the AOF on and off while a replica follows must neither stall replies nor lose a write from
/// either consumer.
#[test]
fn the_aof_turns_on_and_off_while_a_replica_follows() {
    let dir = std::env::temp_dir().join(format!("usher-repl-aof-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let dir = dir.display().to_string();
    let args = ["--dir", dir.as_str(), "--save", ""];
    let primary = Server::usher(&args);
    let replica = Server::usher(&[]);
    let mut p = primary.client();
    follow(&replica, &primary);
    let aof_on = |p: &mut Client| {
        ok(p.call(&["CONFIG", "SET", "appendonly", "yes"]));
        assert!(eventually(Duration::from_secs(10), || {
            let text = p.call(&["INFO", "persistence"]).text();
            text.contains("aof_enabled:1") && text.contains("aof_rewrite_in_progress:0")
        }));
    };
    ok(p.call(&["SET", "a", "1"]));
    aof_on(&mut p);
    ok(p.call(&["SET", "b", "2"]));
    ok(p.call(&["CONFIG", "SET", "appendonly", "no"]));
    ok(p.call(&["SET", "c", "3"]));
    aof_on(&mut p);
    ok(p.call(&["SET", "d", "4"]));
    assert!(!p.call(&["ENTER", "q:{e}", "a:{e}", "u1"]).is_error());
    settle(&mut p, 1);
    let mut r = replica.client();
    for (k, v) in [("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")] {
        assert_eq!(r.call(&["GET", k]).text(), v, "{k} on the replica");
    }
    // What was acknowledged after the AOF came back on is in the file.
    primary.signal(9);
    drop(primary);
    let back = Server::usher(&["--dir", dir.as_str(), "--save", "", "--appendonly", "yes"]);
    let mut b = back.client();
    for (k, v) in [("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")] {
        assert_eq!(b.call(&["GET", k]).text(), v, "{k} from the AOF");
    }
    assert_eq!(b.call(&["ZCARD", "q:{e}"]).int(), 1);
}
