//! Key expiry against usher and redis-server 7.0.15: an expired key is never visible to any
//! command (lazy expiry), 100k volatile keys go away without being touched (active expiry)
//! and are counted in INFO, and the TTL family (EXPIRE NX/XX/GT/LT, PERSIST, TTL/PTTL,
//! EXPIRETIME, SET/GETEX options) answers like Redis.

use std::time::{Duration, Instant};
use usher_tests::resp::{Client, Reply};
use usher_tests::{Differ, Server};

fn same(d: &mut Differ, commands: &[&[&str]]) {
    for c in commands {
        let args: Vec<Vec<u8>> = c.iter().map(|a| a.as_bytes().to_vec()).collect();
        d.run(&args);
    }
}

fn stat(c: &mut Client, name: &str) -> u64 {
    let text = c.call(&["INFO", "stats"]).text();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name}"))
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn an_expired_key_is_never_visible_to_any_command() {
    let (usher, redis) = (
        Server::usher(&["--shards", "4", "--threads", "2"]),
        Server::redis(&[]),
    );
    let mut d = Differ::new(&usher, &redis);
    // hz 1: active expiry rarely runs, so lookups find the keys expired and must hide them.
    same(
        &mut d,
        &[
            &["CONFIG", "SET", "hz", "1"],
            &["CONFIG", "RESETSTAT"],
            &["SET", "gone", "v", "PX", "50"],
            &["SET", "{t}gone", "5", "PX", "50"],
            &["SET", "other", "x", "PX", "50"],
            &["SET", "counter", "10", "PX", "50"],
            &["SET", "live", "v"],
            &["SELECT", "1"],
            &["SET", "in-db1", "v", "PX", "50"],
            &["SELECT", "0"],
        ],
    );
    std::thread::sleep(Duration::from_millis(150));
    same(
        &mut d,
        &[
            &["GET", "gone"],
            &["EXISTS", "gone", "{t}gone", "live"],
            &["TTL", "gone"],
            &["PTTL", "other"],
            &["TYPE", "other"],
            &["STRLEN", "{t}gone"],
            &["MGET", "gone", "{t}gone", "live"],
            &["KEYS", "*"],
            &["RANDOMKEY"],
            &["RENAME", "other", "renamed"],
            &["COPY", "{t}gone", "{t}copy"],
            &["EXPIRE", "{t}gone", "100"],
            &["PERSIST", "{t}gone"],
            &["OBJECT", "ENCODING", "{t}gone"],
            &["INCR", "counter"],
            &["APPEND", "gone", "new"],
            &["GET", "gone"],
            &["SETNX", "{t}gone", "fresh"],
            &["GETRANGE", "{t}gone", "0", "-1"],
            &["SELECT", "1"],
            &["GET", "in-db1"],
            &["DBSIZE"],
            &["SELECT", "0"],
            &["DBSIZE"],
        ],
    );
    for c in [&mut d.usher, &mut d.redis] {
        assert_eq!(c.call(&["GET", "counter"]), Reply::bulk("1"));
    }
    // Every key that expired was counted, whether a lookup or the cycle removed it.
    let (u, r) = (
        stat(&mut d.usher, "expired_keys"),
        stat(&mut d.redis, "expired_keys"),
    );
    assert_eq!(u, r);
    assert_eq!(u, 5);
}

#[test]
fn a_short_px_key_reads_as_missing_once_its_time_has_passed() {
    let s = Server::usher(&[]);
    let mut c = s.client();
    assert!(c.call(&["CONFIG", "SET", "hz", "1"]).is_simple("OK"));
    assert!(c.call(&["SET", "k", "v", "PX", "50"]).is_simple("OK"));
    assert_eq!(c.call(&["GET", "k"]), Reply::bulk("v"));
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(c.call(&["GET", "k"]), Reply::Nil);
    assert_eq!(c.call(&["EXISTS", "k"]), Reply::Int(0));
    assert_eq!(c.call(&["TTL", "k"]), Reply::Int(-2));
}

#[test]
fn active_expiry_removes_100k_untouched_keys_and_counts_them() {
    let s = Server::usher(&["--shards", "4", "--threads", "2"]);
    let mut c = s.client();
    let baseline = used_memory(&mut c);
    assert!(c.call(&["CONFIG", "RESETSTAT"]).is_simple("OK"));
    // 100k keys in two databases, loaded in pipelined batches, expiring 300 ms after the
    // first write; and a few keys that must survive.
    const KEYS: usize = 100_000;
    let value = "v".repeat(100);
    let started = Instant::now();
    for (db, range) in [(0, 0..KEYS / 2), (1, KEYS / 2..KEYS)] {
        assert!(c.call(&["SELECT", &db.to_string()]).is_simple("OK"));
        let deadline_ms = (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
            + 300)
            .to_string();
        let keys: Vec<usize> = range.collect();
        for chunk in keys.chunks(5000) {
            let mut wire = Vec::new();
            for i in chunk {
                wire.extend(Client::encode(&[
                    "SET",
                    &format!("key:{i}"),
                    &value,
                    "PXAT",
                    &deadline_ms,
                ]));
            }
            c.send_raw(&wire);
            for _ in chunk {
                assert!(c.read().unwrap().is_simple("OK"));
            }
        }
        assert!(c
            .call(&["SET", &format!("keeper{db}"), "v"])
            .is_simple("OK"));
    }
    let loaded_in = started.elapsed();
    assert!(c.call(&["SELECT", "0"]).is_simple("OK"));
    // Without touching a single volatile key, both databases drain.
    let deadline = Instant::now() + Duration::from_secs(3) + loaded_in;
    let mut sizes = (u64::MAX, u64::MAX);
    while Instant::now() < deadline {
        let db0 = c.call(&["DBSIZE"]).int() as u64;
        assert!(c.call(&["SELECT", "1"]).is_simple("OK"));
        let db1 = c.call(&["DBSIZE"]).int() as u64;
        assert!(c.call(&["SELECT", "0"]).is_simple("OK"));
        sizes = (db0, db1);
        if sizes == (1, 1) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(sizes, (1, 1), "volatile keys left after active expiry");
    assert_eq!(stat(&mut c, "expired_keys"), KEYS as u64);
    let keyspace = c.call(&["INFO", "keyspace"]).text();
    assert!(keyspace.contains("db0:keys=1,expires=0"), "{keyspace}");
    // The memory came back (values are freed off the shard locks, so allow a moment).
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut used = used_memory(&mut c);
    while used > baseline + 8 * 1024 * 1024 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        used = used_memory(&mut c);
    }
    assert!(
        used <= baseline + 8 * 1024 * 1024,
        "used_memory {used} vs {baseline} before loading"
    );
}

fn used_memory(c: &mut Client) -> u64 {
    c.call(&["INFO", "memory"])
        .text()
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn the_ttl_family_matches_redis() {
    let (usher, redis) = (Server::usher(&[]), Server::redis(&[]));
    let mut d = Differ::new(&usher, &redis);
    same(
        &mut d,
        &[
            &["SET", "k", "v"],
            &["TTL", "k"],
            &["PTTL", "k"],
            &["EXPIRETIME", "k"],
            &["TTL", "missing"],
            &["PERSIST", "k"],
            &["EXPIRE", "k", "100", "XX"],
            &["EXPIRE", "k", "100", "GT"],
            &["EXPIRE", "k", "100", "LT"],
            &["TTL", "k"],
            &["EXPIRE", "k", "200", "NX"],
            &["EXPIRE", "k", "200", "GT"],
            &["TTL", "k"],
            &["EXPIRE", "k", "50", "GT"],
            &["EXPIRE", "k", "50", "LT"],
            &["TTL", "k"],
            &["EXPIRE", "k", "500", "LT"],
            &["EXPIRE", "k", "60", "XX"],
            &["TTL", "k"],
            &["PEXPIRE", "k", "90000"],
            &["PTTL", "k"],
            &["EXPIRE", "k", "10", "NX", "XX"],
            &["EXPIRE", "k", "10", "GT", "LT"],
            &["EXPIRE", "k", "10", "NX", "GT"],
            &["EXPIRE", "k", "10", "FOO"],
            &["EXPIRE", "k", "abc"],
            &["EXPIRE", "k", "9223372036854775807"],
            &["PEXPIRE", "k", "9223372036854775807"],
            &["EXPIREAT", "k", "9223372036854775807"],
            &["EXPIRE", "k", "-9223372036854775808"],
            &["TTL", "k"],
            &["PERSIST", "k"],
            &["TTL", "k"],
            &["PERSIST", "k"],
            &["EXPIREAT", "k", "4102444800"],
            &["EXPIRETIME", "k"],
            &["PEXPIRETIME", "k"],
            &["PEXPIREAT", "k", "4102444800123"],
            &["PEXPIRETIME", "k"],
            &["EXPIRETIME", "k"],
            // A time in the past deletes the key at once.
            &["EXPIREAT", "k", "1"],
            &["EXISTS", "k"],
            &["SET", "k", "v", "EX", "100"],
            &["EXPIRE", "k", "0"],
            &["EXISTS", "k"],
            &["SET", "k", "v", "EX", "100"],
            &["EXPIRE", "k", "-1"],
            &["EXISTS", "k"],
            &["EXPIRE", "missing", "100"],
            // SET and GETEX options.
            &["SET", "s", "v", "EX", "100"],
            &["SET", "s", "w", "KEEPTTL"],
            &["TTL", "s"],
            &["SET", "s", "x"],
            &["TTL", "s"],
            &["SET", "s", "v", "PX", "100000"],
            &["PTTL", "s"],
            &["SET", "s", "v", "EXAT", "4102444800"],
            &["EXPIRETIME", "s"],
            &["SET", "s", "v", "PXAT", "4102444800000"],
            &["PEXPIRETIME", "s"],
            &["SET", "s", "v", "EX", "0"],
            &["SET", "s", "v", "PX", "-1"],
            &["SET", "s", "v", "EX", "9223372036854775807"],
            &["SET", "s", "v", "EX", "10", "PX", "10"],
            &["SET", "s", "v", "KEEPTTL", "EX", "10"],
            &["SETEX", "s", "0", "v"],
            &["SETEX", "s", "-5", "v"],
            &["PSETEX", "s", "0", "v"],
            &["SETEX", "s", "100", "v"],
            &["TTL", "s"],
            &["GETEX", "s", "PERSIST"],
            &["TTL", "s"],
            &["GETEX", "s", "EX", "200"],
            &["TTL", "s"],
            &["GETEX", "s", "PX", "300000"],
            &["PTTL", "s"],
            &["GETEX", "s", "EXAT", "4102444800"],
            &["EXPIRETIME", "s"],
            &["GETEX", "s", "EX", "0"],
            &["GETEX", "s", "EX", "10", "PX", "10"],
            &["GETEX", "s", "PERSIST", "EX", "10"],
            &["GETEX", "missing", "EX", "10"],
            &["GETEX", "s", "PXAT", "1"],
            &["EXISTS", "s"],
            // RENAME carries the TTL; MOVE and COPY too.
            &["SET", "a", "v", "EX", "100"],
            &["RENAME", "a", "b"],
            &["TTL", "b"],
            &["COPY", "b", "c"],
            &["TTL", "c"],
            &["MOVE", "c", "1"],
            &["SELECT", "1"],
            &["TTL", "c"],
            &["SELECT", "0"],
            // Overwrites drop the TTL, INCR and APPEND keep it.
            &["INCR", "b"],
            &["SET", "n", "1", "EX", "100"],
            &["INCR", "n"],
            &["TTL", "n"],
            &["APPEND", "n", "0"],
            &["TTL", "n"],
            &["GETSET", "n", "5"],
            &["TTL", "n"],
            &["MSET", "b", "1"],
            &["TTL", "b"],
        ],
    );
}

#[test]
fn keys_removed_by_lookups_count_as_expired() {
    // hz 1: the first active cycle is a second away, so lookups find these keys first.
    let s = Server::usher(&["--hz", "1"]);
    let mut c = s.client();
    for k in ["a", "b", "c"] {
        assert!(c.call(&["SET", k, "v", "PX", "20"]).is_simple("OK"));
    }
    std::thread::sleep(Duration::from_millis(60));
    assert_eq!(c.call(&["GET", "a"]), Reply::Nil);
    assert_eq!(c.call(&["EXISTS", "b"]), Reply::Int(0));
    assert_eq!(c.call(&["INCR", "c"]), Reply::Int(1));
    assert_eq!(stat(&mut c, "expired_keys"), 3);
    assert!(c.call(&["CONFIG", "RESETSTAT"]).is_simple("OK"));
    assert_eq!(stat(&mut c, "expired_keys"), 0);
}
