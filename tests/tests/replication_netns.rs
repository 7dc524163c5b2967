//! Replication across real network partitions (`usher_tests::netns`): every server runs in a
//! network namespace of its own, and a replica is cut off by taking its switch port down, so
//! neither side sees its connection close; each finds out by `repl-timeout` alone, the primary
//! because ACKs stop, the replica because the primary's data and keep-alive PINGs stop. A
//! short cut whose writes fit the primary's backlog ends in a partial resync, a long one with
//! more writes than the backlog holds in a full one, and a redis-server 7.0 replica of usher
//! comes back in step as well; every replica ends with the primary's data.
//!
//! These tests need root (network namespaces); without it they fail and say why.

use std::time::Duration;
use usher_tests::dataset::{dataset, Dataset};
use usher_tests::netns::{Net, Node, PORT};
use usher_tests::resp::Client;
use usher_tests::server::Server;
use usher_tests::wait::eventually;

/// Short timeouts keep each cut to a few seconds: a link silent for 2 s is down.
const FAST: [&str; 4] = ["--repl-timeout", "2", "--repl-ping-replica-period", "1"];

fn stat(c: &mut Client, name: &str) -> u64 {
    c.info_field("stats", name).parse().unwrap()
}

fn link_up(r: &mut Client) -> bool {
    r.info_field("replication", "master_link_status") == "up"
}

/// Points `replica` at `primary`'s address and waits for the link.
fn follow(r: &mut Client, primary: &Node) {
    assert!(r
        .call(&["REPLICAOF", &primary.addr, &PORT.to_string()])
        .is_simple("OK"));
    assert!(
        eventually(Duration::from_secs(10), || link_up(r)),
        "the replica never linked up"
    );
}

/// Waits until the replica acknowledged everything written to the primary so far.
fn settle(p: &mut Client) {
    let acked = p.call(&["WAIT", "1", "5000"]).int();
    assert_eq!(acked, 1, "{}", p.call(&["INFO", "replication"]).text());
}

/// `n` writes of several types, `size` bytes of value each.
fn writes(p: &mut Client, tag: &str, n: usize, size: usize) {
    let value = "v".repeat(size);
    for i in 0..n {
        let key = format!("{tag}:{i}");
        assert!(p.call(&["SET", &key, &value]).is_simple("OK"));
        p.call(&["INCR", "counter"]);
        p.call(&["HSET", &format!("h:{tag}"), &key, &i.to_string()]);
        p.call(&["RPUSH", "list", &key]);
        p.call(&["ZADD", "z", &i.to_string(), &key]);
        if i % 10 == 0 {
            p.call(&["EXPIRE", &key, "1000"]);
        }
    }
}

/// The keyspace, strings' encodings left out (a full sync loads a raw string as embstr).
fn keyspace(c: &mut Client) -> Dataset {
    dataset(c)
        .into_iter()
        .map(|(k, (t, e, content, ttl))| {
            let e = if t == "string" { String::new() } else { e };
            (k, (t, e, content, ttl))
        })
        .collect()
}

fn assert_same(replica: &mut Client, primary: &mut Client) {
    let (got, want) = (keyspace(replica), keyspace(primary));
    assert_eq!(got.len(), want.len(), "key counts differ");
    for (k, v) in &want {
        assert_eq!(got.get(k), Some(v), "{k:?} differs");
    }
}

/// Waits until both sides noticed the cut: the primary dropped its replica and the replica
/// marked its link down, each only through `repl-timeout` (no FIN or RST gets through).
fn wait_apart(primary: &Server, p: &mut Client, r: &mut Client) {
    assert!(
        eventually(Duration::from_secs(10), || p
            .info_field("replication", "connected_slaves")
            == "0"),
        "the primary kept its silent replica:\n{}",
        primary.log()
    );
    assert!(
        eventually(Duration::from_secs(10), || !link_up(r)),
        "the replica never noticed the cut"
    );
}

/// The primary's offset, once the replica reports the same (a PING may be on its way).
fn offsets_agree(p: &mut Client, r: &mut Client) {
    assert!(
        eventually(Duration::from_secs(5), || p
            .info_field("replication", "master_repl_offset")
            == r.info_field("replication", "slave_repl_offset")),
        "offsets differ: primary {}, replica {}",
        p.info_field("replication", "master_repl_offset"),
        r.info_field("replication", "slave_repl_offset")
    );
}

#[test]
fn a_short_partition_ends_in_a_partial_resync() {
    let net = Net::new();
    let (a, b) = (net.node("primary"), net.node("replica"));
    let primary = a.usher(&FAST);
    let replica = b.usher(&FAST);
    let (mut p, mut r) = (primary.client(), replica.client());
    writes(&mut p, "before", 100, 20);
    follow(&mut r, &a);
    settle(&mut p);
    let full = stat(&mut p, "sync_full");
    let partial = stat(&mut p, "sync_partial_ok");

    b.cut();
    // About 50 kB of stream with what follows: well inside the default 1mb backlog.
    writes(&mut p, "during", 200, 20);
    wait_apart(&primary, &mut p, &mut r);
    assert!(primary.log_shows(
        &format!(
            "Disconnecting timedout replica (streaming sync): {}:{PORT}",
            b.addr
        ),
        Duration::from_secs(1)
    ));
    writes(&mut p, "after", 50, 20);
    b.restore();

    assert!(
        eventually(Duration::from_secs(15), || link_up(&mut r)),
        "the replica never came back:\n{}",
        replica.log()
    );
    settle(&mut p);
    assert_eq!(stat(&mut p, "sync_partial_ok"), partial + 1);
    assert_eq!(stat(&mut p, "sync_full"), full);
    assert_same(&mut r, &mut p);
    offsets_agree(&mut p, &mut r);
}

#[test]
fn a_long_partition_past_the_backlog_ends_in_a_full_resync() {
    let net = Net::new();
    let (a, b) = (net.node("primary"), net.node("replica"));
    let mut args = FAST.to_vec();
    args.extend(["--repl-backlog-size", "16kb"]);
    let primary = a.usher(&args);
    let replica = b.usher(&FAST);
    let (mut p, mut r) = (primary.client(), replica.client());
    writes(&mut p, "before", 50, 20);
    follow(&mut r, &a);
    settle(&mut p);
    let full = stat(&mut p, "sync_full");
    let partial = stat(&mut p, "sync_partial_ok");

    b.cut();
    writes(&mut p, "during", 20, 20);
    wait_apart(&primary, &mut p, &mut r);
    // About 120 kB more while the replica is gone: the 16 kB backlog no longer reaches
    // back to its offset.
    writes(&mut p, "after", 100, 1000);
    b.restore();

    assert!(
        eventually(Duration::from_secs(15), || link_up(&mut r)),
        "the replica never came back:\n{}",
        replica.log()
    );
    settle(&mut p);
    assert_eq!(stat(&mut p, "sync_full"), full + 1);
    assert_eq!(stat(&mut p, "sync_partial_ok"), partial);
    assert_eq!(stat(&mut p, "sync_partial_err"), 1);
    assert_same(&mut r, &mut p);
    offsets_agree(&mut p, &mut r);
}

#[test]
fn a_redis_replica_of_usher_comes_back_in_step() {
    let net = Net::new();
    let (a, b) = (net.node("primary"), net.node("redis"));
    let primary = a.usher(&FAST);
    let replica = b.redis(&FAST);
    let (mut p, mut r) = (primary.client(), replica.client());
    writes(&mut p, "before", 100, 20);
    follow(&mut r, &a);
    settle(&mut p);
    let full = stat(&mut p, "sync_full");
    let partial = stat(&mut p, "sync_partial_ok");
    // Idle for a few keep-alive periods: the PINGs keep the link up and count in the offset
    // exactly as redis-server counts them.
    std::thread::sleep(Duration::from_millis(2500));
    assert!(link_up(&mut r));
    offsets_agree(&mut p, &mut r);

    b.cut();
    writes(&mut p, "during", 200, 20);
    wait_apart(&primary, &mut p, &mut r);
    writes(&mut p, "after", 50, 20);
    b.restore();

    assert!(
        eventually(Duration::from_secs(15), || link_up(&mut r)),
        "redis-server never came back:\n{}",
        r.call(&["INFO", "replication"]).text()
    );
    settle(&mut p);
    // redis-server asked for the byte after its offset, and usher's backlog had it: the
    // keep-alive PINGs counted the same on both sides.
    assert_eq!(stat(&mut p, "sync_partial_ok"), partial + 1);
    assert_eq!(stat(&mut p, "sync_full"), full);
    assert_same(&mut r, &mut p);
    offsets_agree(&mut p, &mut r);
}
