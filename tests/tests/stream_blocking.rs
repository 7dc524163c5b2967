//! Blocking XREAD and XREADGROUP, each scenario run on usher and on redis-server 7.0.15 with
//! the replies compared: a waiter woken by XADD from another client, `$` resolved when the
//! client blocks, FIFO among waiters (XREADGROUP `>` hands each new entry to one consumer),
//! timeouts, `BLOCK 0`, NOACK, a stream deleted or its group destroyed while clients wait,
//! and blocking forms inside MULTI.

use std::time::{Duration, Instant};
use usher_tests::{Client, Reply, Server};

/// Waits until `n` clients are blocked, so the order of what follows is known.
fn wait_blocked(c: &mut Client, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let info = c.call(&["INFO", "clients"]).text();
        let blocked = info
            .lines()
            .find_map(|l| l.strip_prefix("blocked_clients:"))
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        if blocked == n {
            return;
        }
        assert!(Instant::now() < deadline, "{blocked} blocked, want {n}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Runs `scenario` on a fresh usher and a fresh redis-server and asserts that every reply it
/// collected is the same.
fn same_on_both(scenario: fn(&Server) -> Vec<Reply>) {
    let usher = Server::usher(&["--shards", "4", "--threads", "2"]);
    let redis = Server::redis(&[]);
    let (u, r) = (scenario(&usher), scenario(&redis));
    assert_eq!(u, r, "usher (left) and redis-server (right) differ");
    assert!(!u.is_empty());
}

#[test]
fn xread_block_is_woken_by_xadd_from_another_client_with_only_new_entries() {
    same_on_both(|s| {
        let (mut w, mut c) = (s.client(), s.client());
        c.call(&["XADD", "s", "1-1", "old", "1"]);
        w.send(&["XREAD", "BLOCK", "0", "STREAMS", "s", "nokey", "$", "$"]);
        wait_blocked(&mut c, 1);
        c.call(&["XADD", "other", "5-1", "f", "v"]);
        c.call(&["XADD", "s", "2-1", "new", "2"]);
        let woke = w.read().unwrap();
        // A waiter on a key that does not exist yet is served when it is created.
        w.send(&["XREAD", "BLOCK", "0", "COUNT", "1", "STREAMS", "nokey", "$"]);
        wait_blocked(&mut c, 1);
        c.call(&["XADD", "nokey", "1-1", "a", "1", "b", "2"]);
        vec![woke, w.read().unwrap()]
    });
}

#[test]
fn xreadgroup_waiters_are_served_in_arrival_order_one_entry_each() {
    same_on_both(|s| {
        let mut c = s.client();
        c.call(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]);
        let (mut a, mut b, mut x) = (s.client(), s.client(), s.client());
        a.send(&[
            "XREADGROUP",
            "GROUP",
            "g",
            "alice",
            "BLOCK",
            "0",
            "STREAMS",
            "s",
            ">",
        ]);
        wait_blocked(&mut c, 1);
        b.send(&[
            "XREADGROUP",
            "GROUP",
            "g",
            "bob",
            "BLOCK",
            "0",
            "STREAMS",
            "s",
            ">",
        ]);
        wait_blocked(&mut c, 2);
        // Plain readers see every entry, whatever the group did.
        x.send(&["XREAD", "BLOCK", "0", "STREAMS", "s", "0"]);
        c.call(&["XADD", "s", "1-1", "n", "1"]);
        let first = a.read().unwrap();
        let xread = x.read().unwrap();
        wait_blocked(&mut c, 1);
        c.call(&["XADD", "s", "2-1", "n", "2"]);
        let second = b.read().unwrap();
        let pending = c.call(&["XPENDING", "s", "g"]);
        let consumers: Vec<Reply> = c
            .call(&["XINFO", "CONSUMERS", "s", "g"])
            .items()
            .iter()
            .map(|m| Reply::Array(m.items()[..4].to_vec()))
            .collect();
        vec![first, xread, second, pending, Reply::Array(consumers)]
    });
}

#[test]
fn timeouts_block_zero_noack_and_multi() {
    same_on_both(|s| {
        let (mut w, mut c) = (s.client(), s.client());
        c.call(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]);
        let started = Instant::now();
        let timed_out = w.call(&["XREAD", "BLOCK", "100", "STREAMS", "s", "$"]);
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(90), "{waited:?}");
        let group_timed_out = w.call(&[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "BLOCK",
            "50",
            "STREAMS",
            "s",
            ">",
        ]);
        // A timed-out XREADGROUP created no consumer.
        let consumers = c.call(&["XINFO", "CONSUMERS", "s", "g"]);
        w.send(&[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "NOACK",
            "BLOCK",
            "0",
            "STREAMS",
            "s",
            ">",
        ]);
        wait_blocked(&mut c, 1);
        c.call(&["XADD", "s", "1-1", "f", "v"]);
        let noack = w.read().unwrap();
        let pel = c.call(&["XPENDING", "s", "g"]);
        c.call(&["MULTI"]);
        c.call(&["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]);
        c.call(&[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "BLOCK",
            "0",
            "STREAMS",
            "s",
            ">",
        ]);
        let exec = c.call(&["EXEC"]);
        let bad = w.call(&["XREAD", "BLOCK", "-1", "STREAMS", "s", "$"]);
        let bad2 = w.call(&["XREAD", "BLOCK", "1.5", "STREAMS", "s", "$"]);
        vec![
            timed_out,
            group_timed_out,
            consumers,
            noack,
            pel,
            exec,
            bad,
            bad2,
        ]
    });
}

#[test]
fn deleting_the_stream_or_its_group_answers_blocked_group_readers_with_an_error() {
    same_on_both(|s| {
        let mut c = s.client();
        c.call(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]);
        c.call(&["XGROUP", "CREATE", "s", "g2", "$"]);
        let (mut a, mut b, mut x) = (s.client(), s.client(), s.client());
        a.send(&[
            "XREADGROUP",
            "GROUP",
            "g",
            "a",
            "BLOCK",
            "0",
            "STREAMS",
            "s",
            ">",
        ]);
        x.send(&["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]);
        b.send(&[
            "XREADGROUP",
            "GROUP",
            "g2",
            "b",
            "BLOCK",
            "0",
            "STREAMS",
            "s",
            ">",
        ]);
        wait_blocked(&mut c, 3);
        c.call(&["XGROUP", "DESTROY", "s", "g"]);
        let destroyed = a.read().unwrap();
        wait_blocked(&mut c, 2);
        c.call(&["DEL", "s"]);
        let deleted = b.read().unwrap();
        // XREAD keeps waiting on a deleted stream, and is served when it comes back.
        wait_blocked(&mut c, 1);
        c.call(&["XADD", "s", "1-1", "back", "1"]);
        let xread = x.read().unwrap();
        // A key overwritten by another type counts as deleted for group readers.
        c.call(&["XGROUP", "CREATE", "s", "g", "$"]);
        a.send(&[
            "XREADGROUP",
            "GROUP",
            "g",
            "a",
            "BLOCK",
            "0",
            "STREAMS",
            "s",
            ">",
        ]);
        wait_blocked(&mut c, 1);
        c.call(&["SET", "s", "string now"]);
        let overwritten = a.read().unwrap();
        // FLUSHALL empties the keyspace under blocked group readers too.
        c.call(&["DEL", "s"]);
        c.call(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]);
        a.send(&[
            "XREADGROUP",
            "GROUP",
            "g",
            "a",
            "BLOCK",
            "0",
            "STREAMS",
            "s",
            ">",
        ]);
        wait_blocked(&mut c, 1);
        c.call(&["FLUSHALL"]);
        let flushed = a.read().unwrap();
        vec![destroyed, deleted, xread, overwritten, flushed]
    });
}

#[test]
fn a_blocked_reader_is_served_in_resp3_as_a_map() {
    same_on_both(|s| {
        let (mut w, mut c) = (s.client(), s.client());
        w.call(&["HELLO", "3"]);
        w.send(&["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]);
        wait_blocked(&mut c, 1);
        c.call(&["XADD", "s", "1-1", "f", "v"]);
        let served = w.read().unwrap();
        let direct = w.call(&["XREAD", "STREAMS", "s", "0"]);
        vec![served, direct]
    });
}
