//! Streams in snapshot files: an RDB saved by usher with streams (many nodes, deleted
//! entries, groups, PELs, consumers, an empty stream) passes `redis-check-rdb` and loads into
//! redis-server with equal `XINFO STREAM FULL`, and an RDB saved by redis-server loads into
//! usher the same way.

use std::path::PathBuf;
use usher_tests::{Client, Reply, Server};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("usher-stream-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const KEYS: &[&str] = &["big", "small", "empty"];

/// Streams of every shape: 500 entries over several nodes with some deleted, groups with
/// pending entries and idle consumers, and an empty stream with a group.
fn populate(c: &mut Client) {
    for i in 1..=500 {
        let (id, v) = (format!("{i}-0"), format!("value-{i}"));
        let r = if i % 7 == 0 {
            c.call(&["XADD", "big", &id, "other", &v])
        } else {
            c.call(&["XADD", "big", &id, "f", &v, "n", &i.to_string()])
        };
        assert!(!r.is_error(), "{r:?}");
    }
    for i in (3..500).step_by(11) {
        c.call(&["XDEL", "big", &format!("{i}-0")]);
    }
    c.call(&["XGROUP", "CREATE", "big", "g", "0"]);
    c.call(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "alice",
        "COUNT",
        "30",
        "STREAMS",
        "big",
        ">",
    ]);
    c.call(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "bob",
        "COUNT",
        "5",
        "STREAMS",
        "big",
        ">",
    ]);
    c.call(&["XGROUP", "CREATECONSUMER", "big", "g", "idle"]);
    c.call(&["XGROUP", "CREATE", "big", "late", "$", "ENTRIESREAD", "500"]);
    c.call(&["XADD", "small", "1-1", "k", "v"]);
    c.call(&["XGROUP", "CREATE", "empty", "g", "$", "MKSTREAM"]);
}

fn full(c: &mut Client, key: &str) -> Reply {
    c.call(&["XINFO", "STREAM", key, "FULL", "COUNT", "0"])
}

fn snapshot(c: &mut Client) -> Vec<Reply> {
    KEYS.iter().map(|k| full(c, k)).collect()
}

#[test]
fn a_usher_rdb_with_streams_passes_redis_check_rdb_and_loads_into_redis() {
    let dir = scratch("to-redis");
    let d = dir.display().to_string();
    let usher = Server::usher(&["--dir", &d, "--shards", "4", "--threads", "2"]);
    let mut u = usher.client();
    populate(&mut u);
    assert!(u.call(&["SAVE"]).is_simple("OK"));
    let want = snapshot(&mut u);
    let check = std::process::Command::new("redis-check-rdb")
        .arg(dir.join("dump.rdb"))
        .output()
        .expect("redis-check-rdb is installed with redis-server");
    let report = String::from_utf8_lossy(&check.stdout).into_owned();
    assert!(
        check.status.success() && report.contains("RDB looks OK"),
        "{report}"
    );
    assert!(report.contains("3 keys read"), "{report}");
    let redis = Server::redis(&["--dir", &d]);
    assert_eq!(snapshot(&mut redis.client()), want);
}

#[test]
fn a_redis_rdb_with_streams_loads_into_usher() {
    let dir = scratch("from-redis");
    let d = dir.display().to_string();
    let redis = Server::redis(&["--dir", &d]);
    let mut r = redis.client();
    populate(&mut r);
    assert!(r.call(&["SAVE"]).is_simple("OK"));
    let want = snapshot(&mut r);
    let usher = Server::usher(&["--dir", &d]);
    let mut u = usher.client();
    assert_eq!(snapshot(&mut u), want);
    // The loaded streams keep working: new entries, deliveries and acknowledgements.
    let (a, b) = (
        u.call(&[
            "XREADGROUP",
            "GROUP",
            "g",
            "carol",
            "COUNT",
            "2",
            "STREAMS",
            "big",
            ">",
        ]),
        r.call(&[
            "XREADGROUP",
            "GROUP",
            "g",
            "carol",
            "COUNT",
            "2",
            "STREAMS",
            "big",
            ">",
        ]),
    );
    assert_eq!(a, b);
    assert_eq!(u.call(&["XACK", "big", "g", "1-0", "2-0"]), Reply::Int(2));
    assert_eq!(
        u.call(&["XADD", "big", "501-0", "f", "x"]),
        Reply::bulk("501-0")
    );
}
