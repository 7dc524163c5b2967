//! MULTI, EXEC, DISCARD, WATCH and UNWATCH against usher and redis-server 7.0.15: queued
//! errors (EXECABORT), runtime errors inside EXEC, nesting, WATCH invalidation by other
//! clients, by expiry and by whole-database commands, RESP3 shapes; and EXEC's atomicity
//! across shards under concurrent clients.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use usher_tests::resp::{Client, Reply};
use usher_tests::{Differ, Server};

fn same(d: &mut Differ, commands: &[&[&str]]) {
    for c in commands {
        let args: Vec<Vec<u8>> = c.iter().map(|a| a.as_bytes().to_vec()).collect();
        d.run(&args);
    }
}

/// A step of a two-client script: which client, and the command.
type Step<'a> = (usize, &'a [&'a str]);

/// Runs a two-client script on `server` and returns every reply, in order.
fn transcript(server: &Server, steps: &[Step]) -> Vec<Reply> {
    let mut clients = [server.client(), server.client()];
    clients[0].call(&["FLUSHALL"]);
    steps
        .iter()
        .map(|(who, cmd)| {
            if cmd[0] == "SLEEP" {
                std::thread::sleep(Duration::from_millis(cmd[1].parse().unwrap()));
                return Reply::Simple("slept".into());
            }
            clients[*who].call(cmd)
        })
        .collect()
}

/// The same two-client script on both servers must give the same replies.
fn same_transcript(steps: &[Step]) -> Vec<Reply> {
    let (usher, redis) = (Server::usher(&["--shards", "4"]), Server::redis(&[]));
    let u = transcript(&usher, steps);
    let r = transcript(&redis, steps);
    for (i, (a, b)) in u.iter().zip(&r).enumerate() {
        assert_eq!(a, b, "step {i} {:?}", steps[i]);
    }
    u
}

#[test]
fn queued_command_errors_abort_exec_like_redis() {
    let (usher, redis) = (Server::usher(&[]), Server::redis(&[]));
    let mut d = Differ::new(&usher, &redis);
    same(
        &mut d,
        &[
            &["MULTI"],
            &["SET", "a", "1"],
            &["GET"],
            &["NOSUCHCOMMAND", "x"],
            &["CLIENT", "NOSUCH"],
            &["SET", "b", "2"],
            &["EXEC"],
            &["MGET", "a", "b"],
            // EXEC cleared the state: a second EXEC has no MULTI.
            &["EXEC"],
            &["DISCARD"],
            &["MULTI"],
            &["SET", "a", "1"],
            &["DISCARD"],
            &["GET", "a"],
            &["MULTI"],
            &["EXEC"],
            &["MULTI", "extra"],
        ],
    );
}

#[test]
fn runtime_errors_inside_exec_leave_the_other_commands_applied() {
    let (usher, redis) = (Server::usher(&["--shards", "4"]), Server::redis(&[]));
    let mut d = Differ::new(&usher, &redis);
    same(
        &mut d,
        &[
            &["SET", "text", "abc"],
            &["MULTI"],
            &["SET", "a", "1"],
            &["INCR", "text"],
            &["INCRBY", "a", "notanumber"],
            &["SET", "b", "2", "EX", "-5"],
            &["INCR", "a"],
            &["MSET", "{t}x", "1", "{t}y", "2"],
            &["GET", "missing"],
            &["EXEC"],
            &["MGET", "a", "b", "text", "{t}x", "{t}y"],
        ],
    );
    // The same in RESP3: nulls inside the EXEC array are `_`.
    for c in [&mut d.usher, &mut d.redis] {
        assert!(matches!(c.call(&["HELLO", "3"]), Reply::Map(_)));
        assert!(c.call(&["MULTI"]).is_simple("OK"));
        assert!(c.call(&["GET", "missing"]).is_simple("QUEUED"));
        assert!(c.call(&["INCR", "text"]).is_simple("QUEUED"));
        let exec = c.call(&["EXEC"]);
        assert_eq!(exec.items()[0], Reply::Null);
        assert!(exec.items()[1].is_error());
    }
}

#[test]
fn nested_multi_and_watch_inside_multi_are_refused_without_aborting() {
    let (usher, redis) = (Server::usher(&[]), Server::redis(&[]));
    let mut d = Differ::new(&usher, &redis);
    same(
        &mut d,
        &[
            &["MULTI"],
            &["MULTI"],
            &["WATCH", "a"],
            &["SET", "a", "1"],
            &["EXEC"],
            &["GET", "a"],
            &["WATCH"],
            &["UNWATCH"],
            &["UNWATCH", "x"],
        ],
    );
}

#[test]
fn a_watched_key_changed_by_another_client_fails_exec() {
    let replies = same_transcript(&[
        (0, &["SET", "k", "1"]),
        (0, &["WATCH", "k"]),
        (1, &["INCR", "k"]),
        (0, &["MULTI"]),
        (0, &["SET", "k", "from-tx"]),
        (0, &["EXEC"]),
        (0, &["GET", "k"]),
        // After EXEC the key is no longer watched.
        (0, &["MULTI"]),
        (0, &["SET", "k", "second"]),
        (0, &["EXEC"]),
        // A watch on a missing key is broken when someone creates it.
        (0, &["WATCH", "new"]),
        (1, &["SET", "new", "x"]),
        (0, &["MULTI"]),
        (0, &["GET", "new"]),
        (0, &["EXEC"]),
        // Touching another key, or the same value rewritten by nobody, does not.
        (0, &["WATCH", "k"]),
        (1, &["SET", "other", "1"]),
        (0, &["MULTI"]),
        (0, &["GET", "k"]),
        (0, &["EXEC"]),
        // The watcher's own change counts too.
        (0, &["WATCH", "k"]),
        (0, &["SET", "k", "mine"]),
        (0, &["MULTI"]),
        (0, &["GET", "k"]),
        (0, &["EXEC"]),
        // UNWATCH forgets.
        (0, &["WATCH", "k"]),
        (1, &["SET", "k", "theirs"]),
        (0, &["UNWATCH"]),
        (0, &["MULTI"]),
        (0, &["GET", "k"]),
        (0, &["EXEC"]),
        // DISCARD forgets too.
        (0, &["WATCH", "k"]),
        (1, &["SET", "k", "again"]),
        (0, &["MULTI"]),
        (0, &["DISCARD"]),
        (0, &["MULTI"]),
        (0, &["GET", "k"]),
        (0, &["EXEC"]),
        // Deleting, expiring by command, and a failed write that changes nothing.
        (0, &["WATCH", "k"]),
        (1, &["EXPIRE", "k", "100"]),
        (0, &["MULTI"]),
        (0, &["GET", "k"]),
        (0, &["EXEC"]),
        (0, &["WATCH", "k"]),
        (1, &["INCR", "k"]),
        (0, &["MULTI"]),
        (0, &["GET", "k"]),
        (0, &["EXEC"]),
        (0, &["WATCH", "k"]),
        (1, &["DEL", "k"]),
        (0, &["MULTI"]),
        (0, &["GET", "k"]),
        (0, &["EXEC"]),
    ]);
    assert_eq!(replies[5], Reply::NilArray);
    assert_eq!(replies[6], Reply::bulk("2"));
    assert_eq!(replies[9], Reply::Array(vec![Reply::Simple("OK".into())]));
}

#[test]
fn a_watched_key_that_expires_fails_exec() {
    let replies = same_transcript(&[
        (0, &["SET", "k", "v", "PX", "100"]),
        (0, &["WATCH", "k"]),
        (0, &["SLEEP", "250"]),
        (0, &["MULTI"]),
        (0, &["SET", "other", "1"]),
        (0, &["EXEC"]),
        (0, &["GET", "other"]),
        // A key already expired when watched (never seen) does not fail EXEC by expiring.
        (0, &["SET", "gone", "v", "PX", "1"]),
        (0, &["SLEEP", "20"]),
        (0, &["WATCH", "gone"]),
        (0, &["MULTI"]),
        (0, &["SET", "other", "2"]),
        (0, &["EXEC"]),
    ]);
    assert_eq!(replies[5], Reply::NilArray);
    assert_eq!(replies[6], Reply::Nil);
    assert_eq!(replies[12], Reply::Array(vec![Reply::Simple("OK".into())]));
}

#[test]
fn flushdb_flushall_and_swapdb_break_watches_like_redis() {
    same_transcript(&[
        (0, &["SET", "k", "1"]),
        (0, &["WATCH", "k"]),
        (1, &["FLUSHDB"]),
        (0, &["MULTI"]),
        (0, &["PING"]),
        (0, &["EXEC"]),
        // FLUSHALL of an empty watched key does not count (the key did not exist).
        (0, &["WATCH", "absent"]),
        (1, &["FLUSHALL"]),
        (0, &["MULTI"]),
        (0, &["PING"]),
        (0, &["EXEC"]),
        (0, &["SET", "k", "1"]),
        (0, &["WATCH", "k"]),
        (1, &["FLUSHALL"]),
        (0, &["MULTI"]),
        (0, &["PING"]),
        (0, &["EXEC"]),
        // SWAPDB: a watched key that exists in either database is touched.
        (1, &["SELECT", "1"]),
        (1, &["SET", "k", "in-db1"]),
        (0, &["WATCH", "k"]),
        (1, &["SWAPDB", "0", "1"]),
        (0, &["MULTI"]),
        (0, &["GET", "k"]),
        (0, &["EXEC"]),
        // Other databases' keys are not watched.
        (0, &["WATCH", "k"]),
        (1, &["SELECT", "2"]),
        (1, &["SET", "k", "db2"]),
        (0, &["MULTI"]),
        (0, &["GET", "k"]),
        (0, &["EXEC"]),
    ]);
}

#[test]
fn a_failed_watch_answers_null_in_resp3() {
    for s in [Server::usher(&[]), Server::redis(&[])] {
        let (mut a, mut b) = (s.client(), s.client());
        assert!(matches!(a.call(&["HELLO", "3"]), Reply::Map(_)));
        assert!(a.call(&["WATCH", "k"]).is_simple("OK"));
        assert!(b.call(&["SET", "k", "x"]).is_simple("OK"));
        assert!(a.call(&["MULTI"]).is_simple("OK"));
        assert!(a.call(&["GET", "k"]).is_simple("QUEUED"));
        assert_eq!(a.call(&["EXEC"]), Reply::Null, "{:?}", s.kind);
    }
}

/// One key per shard 0..shards (usher maps slot `s` to shard `s % shards`).
fn key_per_shard(shards: u16) -> Vec<String> {
    let mut keys: Vec<Option<String>> = vec![None; shards as usize];
    let mut i = 0;
    while keys.iter().any(Option::is_none) {
        let k = format!("key:{i}");
        let shard = (usher_tests::crc16(k.as_bytes()) % 16384) % shards;
        keys[shard as usize].get_or_insert(k);
        i += 1;
    }
    keys.into_iter().map(Option::unwrap).collect()
}

#[test]
fn exec_is_atomic_across_shards_under_concurrent_clients() {
    let server = Server::usher(&["--shards", "8", "--threads", "2"]);
    let keys = key_per_shard(8);
    const WRITERS: usize = 4;
    const TXS: usize = 1500;
    let done = Arc::new(AtomicBool::new(false));
    let port = server.port;
    let writers: Vec<_> = (0..WRITERS)
        .map(|_| {
            let keys = keys.clone();
            std::thread::spawn(move || {
                let mut c = Client::connect(port).unwrap();
                for _ in 0..TXS {
                    // One round trip per transaction: MULTI, an INCR per shard, EXEC.
                    let mut wire = Client::encode(&["MULTI"]);
                    for k in &keys {
                        wire.extend(Client::encode(&["INCR", k]));
                    }
                    wire.extend(Client::encode(&["EXEC"]));
                    c.send_raw(&wire);
                    for _ in 0..keys.len() + 1 {
                        c.read().unwrap();
                    }
                    let exec = c.read().unwrap();
                    assert_eq!(exec.items().len(), keys.len());
                }
            })
        })
        .collect();
    let readers: Vec<_> = (0..2)
        .map(|reader| {
            let (keys, done) = (keys.clone(), done.clone());
            std::thread::spawn(move || {
                let mut c = Client::connect(port).unwrap();
                let mut observed = 0u64;
                while !done.load(Ordering::Acquire) {
                    // MGET across shards, or GETs inside a transaction: both must see every
                    // transaction whole or not at all.
                    let values = if reader == 0 {
                        let mut cmd = vec!["MGET"];
                        cmd.extend(keys.iter().map(String::as_str));
                        c.call(&cmd)
                    } else {
                        let mut wire = Client::encode(&["MULTI"]);
                        for k in &keys {
                            wire.extend(Client::encode(&["GET", k]));
                        }
                        wire.extend(Client::encode(&["EXEC"]));
                        c.send_raw(&wire);
                        for _ in 0..keys.len() + 1 {
                            c.read().unwrap();
                        }
                        c.read().unwrap()
                    };
                    let values: Vec<Reply> = values.items().to_vec();
                    assert!(
                        values.windows(2).all(|w| w[0] == w[1]),
                        "a partial transaction was visible: {values:?}"
                    );
                    observed += 1;
                }
                observed
            })
        })
        .collect();
    for w in writers {
        w.join().expect("writer");
    }
    done.store(true, Ordering::Release);
    for r in readers {
        assert!(r.join().expect("reader saw a partial transaction") > 0);
    }
    let mut c = server.client();
    let mut cmd = vec!["MGET"];
    cmd.extend(keys.iter().map(String::as_str));
    let total = (WRITERS * TXS).to_string();
    assert!(
        c.call(&cmd)
            .items()
            .iter()
            .all(|v| *v == Reply::bulk(&total)),
        "lost increments"
    );
}

#[test]
fn watch_across_shards_sees_changes_made_on_other_threads() {
    let server = Server::usher(&["--shards", "8", "--threads", "4"]);
    let keys = key_per_shard(8);
    let mut watcher = server.client();
    let mut others: Vec<Client> = (0..4).map(|_| server.client()).collect();
    for (i, k) in keys.iter().enumerate() {
        let mut cmd = vec!["WATCH"];
        cmd.extend(keys.iter().map(String::as_str));
        assert!(watcher.call(&cmd).is_simple("OK"));
        // Some other connection (likely on another thread) touches key i.
        assert!(others[i % 4].call(&["SET", k, "x"]).is_simple("OK"));
        assert!(watcher.call(&["MULTI"]).is_simple("OK"));
        assert!(watcher.call(&["SET", "result", "1"]).is_simple("QUEUED"));
        assert_eq!(watcher.call(&["EXEC"]), Reply::NilArray, "key {k}");
    }
    assert_eq!(watcher.call(&["EXISTS", "result"]), Reply::Int(0));
}

/// EXEC refused by the gate (here maxmemory, lowered by another client after the commands were
/// queued) discards the transaction with EXECABORT and the reason, as Redis's `rejectCommand`
/// does: the client is no longer inside MULTI, and nothing queued ran.
#[test]
fn an_exec_refused_by_the_gate_discards_the_transaction_like_redis() {
    let replies = same_transcript(&[
        (0, &["MULTI"]),
        (0, &["SET", "a", "1"]),
        (1, &["CONFIG", "SET", "maxmemory", "1"]),
        (0, &["EXEC"]),
        (0, &["GET", "a"]),
        (0, &["EXEC"]),
        (1, &["CONFIG", "SET", "maxmemory", "0"]),
        (0, &["GET", "a"]),
    ]);
    assert!(replies[3]
        .err()
        .starts_with("EXECABORT Transaction discarded because of: OOM"));
}
