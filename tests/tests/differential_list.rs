//! Differential: the list commands give the same replies on usher and on redis-server 7.0.15,
//! with one shard and with several (LMOVE, RPOPLPUSH and LMPOP then cross shards).
//!
//! Two layers: a fixed script of Redis's edge cases and quirks (run in RESP2 and RESP3, whose
//! nulls differ), then long random sequences of list commands mixed with string and keyspace
//! commands, so WRONGTYPE, RENAME/COPY/MOVE of lists and expiry all meet the list code.

use usher_tests::{diff, gen, Differ, Reply, Server};

/// Redis's list edge cases, one command per line; every reply is compared.
const EDGE_CASES: &[&[&str]] = &[
    // Missing keys.
    &["LLEN", "l"],
    &["LRANGE", "l", "0", "-1"],
    &["LINDEX", "l", "0"],
    &["LINDEX", "l", "notanint"],
    &["LSET", "l", "0", "x"],
    &["LSET", "l", "notanint", "x"],
    &["LPOP", "l"],
    &["LPOP", "l", "0"],
    &["LPOP", "l", "2"],
    &["RPOP", "l", "-1"],
    &["LREM", "l", "0", "x"],
    &["LTRIM", "l", "0", "-1"],
    &["LINSERT", "l", "BEFORE", "p", "x"],
    &["LINSERT", "l", "SIDEWAYS", "p", "x"],
    &["LPOS", "l", "x"],
    &["LPOS", "l", "x", "COUNT", "0"],
    &["LPOS", "l", "x", "RANK", "0"],
    &["LMOVE", "l", "m", "LEFT", "RIGHT"],
    &["RPOPLPUSH", "l", "m"],
    &["LMPOP", "2", "l", "m", "LEFT"],
    &["LPUSHX", "l", "a", "b"],
    &["EXISTS", "l"],
    // Building and reading.
    &["LPUSH", "l", "c", "b", "a"],
    &["RPUSH", "l", "d", "e", "9223372036854775807", "", "-1"],
    &["RPUSHX", "l", "f"],
    &["LRANGE", "l", "0", "-1"],
    &["LRANGE", "l", "-3", "-1"],
    &["LRANGE", "l", "-100", "100"],
    &["LRANGE", "l", "5", "2"],
    &["LRANGE", "l", "9223372036854775807", "-9223372036854775808"],
    &["LRANGE", "l", "-9223372036854775808", "9223372036854775807"],
    &["LRANGE", "l", "0", "abc"],
    &["LINDEX", "l", "-1"],
    &["LINDEX", "l", "-9223372036854775808"],
    &["LINDEX", "l", "100"],
    &["LSET", "l", "-1", "last"],
    &["LSET", "l", "100", "x"],
    &["LSET", "l", "-100", "x"],
    &["OBJECT", "ENCODING", "l"],
    &["LPOP", "l", "1", "2"],
    &["LPOP", "l", "0"],
    &["LPOP", "l", "abc"],
    &["LPOP", "l", "-5"],
    &["RPOP", "l", "2"],
    &["LPOP", "l"],
    &["LRANGE", "l", "0", "-1"],
    // LPOS options.
    &["DEL", "p"],
    &["RPUSH", "p", "a", "b", "a", "c", "a", "b"],
    &["LPOS", "p", "a"],
    &["LPOS", "p", "a", "RANK", "2"],
    &["LPOS", "p", "a", "RANK", "-1"],
    &["LPOS", "p", "a", "RANK", "-2", "COUNT", "0"],
    &["LPOS", "p", "a", "COUNT", "0"],
    &["LPOS", "p", "a", "COUNT", "2"],
    &["LPOS", "p", "a", "COUNT", "0", "MAXLEN", "3"],
    &["LPOS", "p", "a", "RANK", "-1", "MAXLEN", "2"],
    &["LPOS", "p", "a", "RANK", "4"],
    &["LPOS", "p", "a", "RANK", "4", "COUNT", "0"],
    &["LPOS", "p", "z", "COUNT", "1"],
    &["LPOS", "p", "a", "RANK", "0"],
    &[
        "LPOS",
        "p",
        "a",
        "RANK",
        "-9223372036854775808",
        "COUNT",
        "1",
    ],
    &[
        "LPOS",
        "p",
        "a",
        "RANK",
        "9223372036854775807",
        "COUNT",
        "0",
    ],
    &["LPOS", "p", "a", "RANK", "x"],
    &["LPOS", "p", "a", "COUNT", "-1"],
    &["LPOS", "p", "a", "COUNT", "x"],
    &["LPOS", "p", "a", "MAXLEN", "-1"],
    &["LPOS", "p", "a", "MAXLEN", "1.5"],
    &["LPOS", "p", "a", "RANK"],
    &["LPOS", "p", "a", "FOO", "1"],
    &["LPOS", "p", "a", "RANK", "1", "RANK", "-1"],
    // LREM, LINSERT, LTRIM.
    &["LREM", "p", "1", "a"],
    &["LREM", "p", "-1", "b"],
    &["LRANGE", "p", "0", "-1"],
    &["LREM", "p", "-9223372036854775808", "a"],
    &["LREM", "p", "x", "a"],
    &["LINSERT", "p", "before", "c", "x"],
    &["LINSERT", "p", "AFTER", "c", "y"],
    &["LINSERT", "p", "AFTER", "missing", "y"],
    &["LRANGE", "p", "0", "-1"],
    &["LTRIM", "p", "1", "-2"],
    &["LRANGE", "p", "0", "-1"],
    &["LTRIM", "p", "x", "1"],
    &["LTRIM", "p", "5", "1"],
    &["EXISTS", "p"],
    &["RPUSH", "p", "a"],
    &["LREM", "p", "0", "a"],
    &["EXISTS", "p"],
    // LMOVE and RPOPLPUSH, across hash slots and onto the same key.
    &["RPUSH", "src", "1", "2", "3"],
    &["LMOVE", "src", "dst", "LEFT", "RIGHT"],
    &["LMOVE", "src", "dst", "right", "left"],
    &["LMOVE", "src", "dst", "MIDDLE", "LEFT"],
    &["LMOVE", "src", "dst", "LEFT", "MIDDLE"],
    &["RPOPLPUSH", "dst", "dst"],
    &["LRANGE", "dst", "0", "-1"],
    &["LMOVE", "dst", "dst", "LEFT", "LEFT"],
    &["LRANGE", "dst", "0", "-1"],
    &["SET", "str", "v"],
    &["LMOVE", "src", "str", "LEFT", "LEFT"],
    &["LRANGE", "src", "0", "-1"],
    &["LMOVE", "str", "src", "LEFT", "LEFT"],
    &["LMOVE", "nothing", "str", "LEFT", "LEFT"],
    &["RPOPLPUSH", "src", "dst"],
    &["EXISTS", "src"],
    &["RPUSH", "one", "x"],
    &["EXPIRE", "one", "1000"],
    &["LMOVE", "one", "one", "LEFT", "RIGHT"],
    &["TTL", "one"],
    // LMPOP.
    &["RPUSH", "m1", "a", "b", "c"],
    &["LMPOP", "3", "missing", "m1", "dst", "LEFT"],
    &["LMPOP", "2", "missing", "m1", "RIGHT", "COUNT", "10"],
    &["EXISTS", "m1"],
    &["LMPOP", "2", "missing", "str", "LEFT"],
    &["LMPOP", "2", "dst", "str", "LEFT", "COUNT", "2"],
    &["LMPOP", "1", "missing", "LEFT"],
    &["LMPOP", "0", "m1", "LEFT"],
    &["LMPOP", "-1", "m1", "LEFT"],
    &["LMPOP", "abc", "m1", "LEFT"],
    &["LMPOP", "9223372036854775807", "m1", "LEFT"],
    &["LMPOP", "2", "m1", "LEFT"],
    &["LMPOP", "1", "m1", "UP"],
    &["LMPOP", "1", "m1", "LEFT", "COUNT", "0"],
    &["LMPOP", "1", "m1", "LEFT", "COUNT", "-1"],
    &["LMPOP", "1", "m1", "LEFT", "COUNT", "x"],
    &["LMPOP", "1", "m1", "LEFT", "COUNT"],
    &["LMPOP", "1", "m1", "LEFT", "COUNT", "1", "COUNT", "1"],
    &["LMPOP", "1", "m1", "LEFT", "FOO"],
    // WRONGTYPE on every command.
    &["LPUSH", "str", "a"],
    &["RPUSHX", "str", "a"],
    &["LLEN", "str"],
    &["LRANGE", "str", "0", "-1"],
    &["LRANGE", "str", "x", "-1"],
    &["LINDEX", "str", "x"],
    &["LSET", "str", "x", "y"],
    &["LPOP", "str"],
    &["LPOP", "str", "x"],
    &["LPOP", "str", "0"],
    &["LREM", "str", "0", "x"],
    &["LTRIM", "str", "0", "1"],
    &["LINSERT", "str", "BEFORE", "a", "b"],
    &["LINSERT", "str", "NEITHER", "a", "b"],
    &["LPOS", "str", "a"],
    &["LPOS", "str", "a", "RANK", "0"],
    &["RPOPLPUSH", "str", "dst"],
    // Copies are independent.
    &["DEL", "c1", "c2"],
    &["RPUSH", "c1", "a", "b"],
    &["COPY", "c1", "c2"],
    &["RPUSH", "c2", "c"],
    &["LRANGE", "c1", "0", "-1"],
    &["LRANGE", "c2", "0", "-1"],
    &["TYPE", "c2"],
];

/// A command from string arguments.
fn owned(line: &[&str]) -> Vec<Vec<u8>> {
    line.iter().map(|a| a.as_bytes().to_vec()).collect()
}

fn edge_cases_match(usher_args: &[&str]) {
    let usher = Server::usher(usher_args);
    let redis = Server::redis(&[]);
    for resp3 in [false, true] {
        let mut d = Differ::new(&usher, &redis);
        if resp3 {
            // The HELLO replies differ (server name, version); only what follows is compared.
            d.both(&owned(&["HELLO", "3"]));
        }
        for line in EDGE_CASES {
            d.run(&owned(line));
        }
    }
}

/// Which list commands invalidate a WATCH (Redis's `signalModifiedKey`): each case runs on a
/// fresh two-element list `w` while a second connection watches `w`; EXEC's reply (nil when
/// the watch fired) must agree.
const WATCH_CASES: &[&[&str]] = &[
    &["LTRIM", "w", "0", "-1"],
    &["LTRIM", "w", "5", "1"],
    &["LSET", "w", "0", "a"],
    &["LREM", "w", "0", "zzz"],
    &["LREM", "w", "1", "a"],
    &["LINSERT", "w", "BEFORE", "zzz", "x"],
    &["LINSERT", "w", "AFTER", "a", "x"],
    &["LPOP", "w", "0"],
    &["RPOP", "w", "1"],
    &["LRANGE", "w", "0", "-1"],
    &["LPOS", "w", "a"],
    &["LMOVE", "w", "w", "LEFT", "RIGHT"],
    &["LMOVE", "w", "other", "LEFT", "RIGHT"],
    &["LMOVE", "other", "w", "LEFT", "RIGHT"],
    &["RPOPLPUSH", "missing", "w"],
    &["LMPOP", "2", "missing", "w", "LEFT", "COUNT", "5"],
    &["LPUSHX", "w", "z"],
    &["LPUSH", "w", "z"],
];

fn watches_fire_like_redis(usher_args: &[&str]) {
    let usher = Server::usher(usher_args);
    let redis = Server::redis(&[]);
    let mut d = Differ::new(&usher, &redis);
    let mut watchers = [usher.client(), redis.client()];
    let mut fired = 0;
    for case in WATCH_CASES {
        let mut outcomes = Vec::new();
        for (i, server) in [&mut d.usher, &mut d.redis].into_iter().enumerate() {
            let w = &mut watchers[i];
            server.call(&["FLUSHALL"]);
            server.call(&["RPUSH", "w", "a", "b"]);
            server.call(&["RPUSH", "other", "o"]);
            w.call(&["WATCH", "w"]);
            server.call(case);
            w.call(&["MULTI"]);
            w.call(&["PING"]);
            outcomes.push(w.call(&["EXEC"]));
        }
        assert_eq!(
            outcomes[0], outcomes[1],
            "WATCH after {case:?}: usher vs redis"
        );
        fired += matches!(outcomes[1], Reply::NilArray) as usize;
    }
    // Both outcomes occur, so the comparison discriminates.
    assert!(fired > 0 && fired < WATCH_CASES.len(), "{fired} fired");
}

fn random_sequences_match(usher_args: &[&str]) {
    let usher = Server::usher(usher_args);
    let redis = Server::redis(&[]);
    let seed = diff::seed();
    let mut g = gen::Gen::new(seed);
    let mut d = Differ::new(&usher, &redis);
    let seq = g.sequence(
        diff::ops(20_000),
        &[
            gen::list::lists,
            gen::list::lists,
            gen::list::lists,
            gen::list::lists,
            gen::list::lists,
            gen::keyspace,
            gen::strings,
        ],
    );
    d.run_all(&seq, seed);
    // The final state, key by key.
    let shared = ["a", "b", "c", "d", "{t}x", "{t}y", "counter", "text"];
    for key in shared.iter().chain(gen::list::LIST_KEYS) {
        d.run(&owned(&["TYPE", key]));
        d.run(&owned(&["LRANGE", key, "0", "-1"]));
    }
}

#[test]
fn list_edge_cases_match_redis_with_one_shard() {
    edge_cases_match(&["--shards", "1", "--threads", "1"]);
}

#[test]
fn list_edge_cases_match_redis_across_shards() {
    edge_cases_match(&["--shards", "4", "--threads", "2"]);
}

#[test]
fn list_writes_fire_watches_like_redis() {
    watches_fire_like_redis(&["--shards", "4", "--threads", "2"]);
}

#[test]
fn lists_match_redis_with_one_shard() {
    random_sequences_match(&["--shards", "1", "--threads", "1"]);
}

#[test]
fn lists_match_redis_across_shards() {
    random_sequences_match(&["--shards", "4", "--threads", "2"]);
}
