//! Differential: SORT and SORT_RO give the same replies on usher and on redis-server 7.0.15
//! over lists, sets and sorted sets, with BY, GET, LIMIT, ASC/DESC, ALPHA and STORE, across
//! shards (BY and GET read keys on every shard; STORE writes another one). Only one thing is
//! compared loosely: SORT BY a constant without STORE, whose order for a set is the set's own
//! iteration order, which Redis leaves unspecified: the replies must hold the same elements,
//! or with LIMIT (a window of that order) the same number of them.

use usher_tests::gen::sort::{setup, sort};
use usher_tests::{diff, gen, Differ, Reply, Server};

// The keyspace generator is left out on purpose: SWAPDB or DEL of the weight keys would make
// every BY value missing, and ALPHA sorts of missing values tie, in the source's own order.

fn has_limit(c: &[Vec<u8>]) -> bool {
    c.iter().any(|a| a.eq_ignore_ascii_case(b"LIMIT"))
}

fn unordered(c: &[Vec<u8>]) -> bool {
    let mut constant_by = false;
    let mut store = false;
    for (i, a) in c.iter().enumerate() {
        if a.eq_ignore_ascii_case(b"BY") {
            // One constant BY is enough: Redis never turns sorting back on.
            constant_by |= c.get(i + 1).is_some_and(|p| !p.contains(&b'*'));
        }
        store |= a.eq_ignore_ascii_case(b"STORE");
    }
    constant_by && !store
}

fn sorted(r: Reply) -> Reply {
    match r {
        Reply::Array(mut v) => {
            v.sort_by_key(|x| format!("{x:?}"));
            Reply::Array(v)
        }
        other => other,
    }
}

fn random_sequences_match(usher_args: &[&str]) {
    let usher = Server::usher(usher_args);
    let redis = Server::redis(&[]);
    let seed = diff::seed();
    let mut g = gen::Gen::new(seed);
    let mut d = Differ::new(&usher, &redis);
    for c in setup() {
        d.run(&c);
    }
    let seq = g.sequence(diff::ops(4000), &[sort]);
    for c in &seq {
        if unordered(c) {
            let (u, r) = d.both(c);
            if has_limit(c) {
                let len = |r: &Reply| match r {
                    Reply::Array(v) => Ok(v.len()),
                    other => Err(format!("{other:?}")),
                };
                assert_eq!(len(&u), len(&r), "seed {seed}: {}", diff::render(c));
            } else {
                assert_eq!(sorted(u), sorted(r), "seed {seed}: {}", diff::render(c));
            }
        } else if let Err(m) = d.check(c) {
            panic!("{}", d.report(&m, Some(seed)));
        }
    }
}

#[test]
fn sort_matches_redis_with_one_shard() {
    random_sequences_match(&["--shards", "1", "--threads", "1"]);
}

#[test]
fn sort_matches_redis_across_shards() {
    random_sequences_match(&["--shards", "4", "--threads", "2"]);
}

/// COMMAND INFO: arity, flags (movablekeys included) and key positions. (ACL categories are
/// not compared: usher derives `@keyspace` for generic commands that Redis lists otherwise.)
#[test]
fn sort_command_table_matches_redis() {
    let usher = Server::usher(&[]);
    let redis = Server::redis(&[]);
    let (mut u, mut r) = (usher.client(), redis.client());
    for name in ["sort", "sort_ro"] {
        let ui = u.call(&["COMMAND", "INFO", name]);
        let ri = r.call(&["COMMAND", "INFO", name]);
        assert_eq!(
            ui.items()[0].items()[..6],
            ri.items()[0].items()[..6],
            "{name}"
        );
    }
    for c in [
        &[
            "COMMAND", "GETKEYS", "SORT", "k", "LIMIT", "0", "1", "STORE", "a", "STORE", "b",
        ][..],
        &["COMMAND", "GETKEYS", "SORT_RO", "k", "BY", "STORE"][..],
    ] {
        assert_eq!(u.call(c), r.call(c), "{c:?}");
    }
}

/// STORE writes a list: a client blocked in BLPOP on the target is served, and a WATCH on the
/// target aborts the transaction, on both servers alike.
#[test]
fn sort_store_wakes_blocked_clients_and_touches_watches() {
    let usher = Server::usher(&["--shards", "4", "--threads", "2"]);
    let redis = Server::redis(&[]);
    let mut results = Vec::new();
    for server in [&usher, &redis] {
        let mut c = server.client();
        c.call(&["RPUSH", "src", "3", "1", "2"]);
        let mut blocked = server.client();
        blocked.send(&["BLPOP", "dst", "5"]);
        std::thread::sleep(std::time::Duration::from_millis(100));
        let stored = c.call(&["SORT", "src", "STORE", "dst"]);
        let served = blocked.read().expect("BLPOP reply");
        let rest = c.call(&["LRANGE", "dst", "0", "-1"]);
        let mut w = server.client();
        w.call(&["WATCH", "dst"]);
        c.call(&["SORT", "src", "DESC", "STORE", "dst"]);
        w.call(&["MULTI"]);
        w.call(&["GET", "x"]);
        let exec = w.call(&["EXEC"]);
        results.push((stored, served, rest, exec));
    }
    assert_eq!(results[0], results[1]);
    assert!(matches!(
        results[0].3,
        Reply::NilArray | Reply::Null | Reply::Nil
    ));
}
