//! Differential: hash commands give the same replies on usher and on redis-server 7.0.15,
//! with one shard and with several, including errors, encodings (`OBJECT ENCODING` across the
//! listpack limits), listpack reply order, HRANDFIELD's promises and full HSCAN iterations.

use usher_tests::gen::{self, set::run_checked, Cmd};
use usher_tests::{cmd, diff, Differ, Reply, Server};

const ONE_SHARD: &[&str] = &["--shards", "1", "--threads", "1"];
const FOUR_SHARDS: &[&str] = &["--shards", "4", "--threads", "2"];

/// Every key the generators use, for end-of-run checks.
const KEYS: &[&str] = &["a", "b", "c", "d", "{t}x", "{t}y", "counter", "text"];

fn servers(usher_args: &[&str]) -> (Server, Server) {
    (Server::usher(usher_args), Server::redis(&[]))
}

/// Compares full HSCAN iterations of every hash left at the end of a run.
fn compare_final_scans(d: &mut Differ) {
    for key in KEYS {
        let type_of: Cmd = cmd!("TYPE", key);
        if d.run(&type_of) == Reply::Simple("hash".into()) {
            d.compare_scan(&["HSCAN", key], 3);
            d.compare_scan(&["HSCAN", key, "MATCH", "big1*"], 7);
        }
    }
}

fn random_sequences_match(usher_args: &[&str]) {
    let (usher, redis) = servers(usher_args);
    let seed = diff::seed();
    let mut g = gen::Gen::new(seed);
    let mut d = Differ::new(&usher, &redis);
    let seq = g.sequence(diff::ops(6000), &gen::hash::hash_mix());
    run_checked(&mut d, &seq, seed);
    compare_final_scans(&mut d);
}

#[test]
fn hashes_match_redis_with_one_shard() {
    random_sequences_match(ONE_SHARD);
}

#[test]
fn hashes_match_redis_across_shards() {
    random_sequences_match(FOUR_SHARDS);
}

fn run_script(d: &mut Differ, script: &[Cmd]) {
    run_checked(d, script, 0);
}

/// Fields `prefix0..prefix{n-1}` with values `0..n-1`, as one HSET.
fn hset_many(key: &str, prefix: &str, n: usize) -> Cmd {
    let mut c = cmd!("HSET", key);
    for i in 0..n {
        c.push(format!("{prefix}{i}").into_bytes());
        c.push(i.to_string().into_bytes());
    }
    c
}

#[test]
fn encodings_convert_exactly_at_the_listpack_limits() {
    let (usher, redis) = servers(FOUR_SHARDS);
    let mut d = Differ::new(&usher, &redis);
    let long64 = "x".repeat(64);
    let long65 = "x".repeat(65);
    let enc = |k: &str| cmd!("OBJECT", "ENCODING", k);
    let script: Vec<Cmd> = vec![
        // Entry count: 512 fields fit (Redis 7.0's default hash-max-listpack-entries), the
        // 513th converts; updates alone never do.
        hset_many("h", "f", 512),
        enc("h"),
        cmd!("HSET", "h", "f0", "new"),
        enc("h"),
        cmd!("HSET", "h", "f512", "1"),
        enc("h"),
        cmd!("HKEYS", "h"),
        // Duplicate fields in one HSET count once: still a listpack.
        {
            let mut c = cmd!("HSET", "dup");
            for _ in 0..600 {
                c.extend([b"same".to_vec(), b"1".to_vec()]);
            }
            c
        },
        enc("dup"),
        // Length: 64 bytes fit, 65 convert, for fields and values, even on an update.
        cmd!("HSET", "l1", long64, long64),
        enc("l1"),
        cmd!("HSET", "l1", "a", long65),
        enc("l1"),
        cmd!("HSET", "l2", "a", "1"),
        cmd!("HSET", "l2", "a", long65),
        enc("l2"),
        cmd!("HSET", "l3", "a", "1"),
        cmd!("HSET", "l3", long65, "1"),
        enc("l3"),
        // HSETNX converts only when it writes.
        cmd!("HSET", "n", "a", "1"),
        cmd!("HSETNX", "n", "a", long65),
        enc("n"),
        cmd!("HSETNX", "n", long65, "1"),
        enc("n"),
        // An HSET that changes nothing still converts on a long argument.
        cmd!("HSET", "u", "a", long65),
        cmd!("HDEL", "u", "a"),
        cmd!("EXISTS", "u"),
        cmd!("HSET", "u2", "a", "1", "b", long65),
        cmd!("HDEL", "u2", "b"),
        enc("u2"),
        // Counters: a long field, or a float result longer than 64 bytes, converts.
        cmd!("HINCRBY", "c1", long65, "1"),
        enc("c1"),
        cmd!("HINCRBYFLOAT", "c2", "f", "1e70"),
        cmd!("HGET", "c2", "f"),
        enc("c2"),
        cmd!("HINCRBYFLOAT", "c3", "f", "1e50"),
        enc("c3"),
        // Conversion is one-way, and COPY/RENAME keep the encoding.
        cmd!("HDEL", "h", "f512", "f1", "f2"),
        enc("h"),
        cmd!("COPY", "h", "hcopy"),
        enc("hcopy"),
        cmd!("HLEN", "hcopy"),
        cmd!("COPY", "dup", "{t}dupcopy"),
        enc("{t}dupcopy"),
        cmd!("HGETALL", "{t}dupcopy"),
        cmd!("RENAME", "l1", "{t}moved"),
        enc("{t}moved"),
        // Emptying a hash deletes it, whatever the encoding.
        cmd!("HDEL", "l2", "a", "a"),
        cmd!("EXISTS", "l2"),
        cmd!("TYPE", "l2"),
    ];
    run_script(&mut d, &script);
    d.compare_scan(&["HSCAN", "h"], 5);
    d.compare_scan(&["HSCAN", "h", "MATCH", "f1*"], 4);
}

#[test]
fn config_changes_apply_on_the_next_write() {
    let (usher, redis) = servers(ONE_SHARD);
    let mut d = Differ::new(&usher, &redis);
    let script: Vec<Cmd> = vec![
        hset_many("h", "f", 10),
        cmd!("CONFIG", "SET", "hash-max-listpack-entries", "5"),
        cmd!("OBJECT", "ENCODING", "h"),
        cmd!("HGET", "h", "f1"),
        cmd!("OBJECT", "ENCODING", "h"),
        cmd!("HSET", "h", "f1", "x"),
        cmd!("OBJECT", "ENCODING", "h"),
        cmd!("CONFIG", "SET", "hash-max-listpack-value", "3"),
        cmd!("HSET", "h2", "abc", "1"),
        cmd!("OBJECT", "ENCODING", "h2"),
        cmd!("HSET", "h2", "abcd", "1"),
        cmd!("OBJECT", "ENCODING", "h2"),
        cmd!("CONFIG", "SET", "hash-max-listpack-entries", "512"),
        cmd!("CONFIG", "SET", "hash-max-listpack-value", "64"),
    ];
    run_script(&mut d, &script);
}

#[test]
fn errors_and_argument_order_match_redis() {
    let (usher, redis) = servers(FOUR_SHARDS);
    let mut d = Differ::new(&usher, &redis);
    let script: Vec<Cmd> = vec![
        cmd!("SET", "s", "x"),
        cmd!("HSET", "h", "f", "1.5", "g", "abc", "n", "10"),
        // Arity, then type.
        cmd!("HSET", "s", "a"),
        cmd!("HMSET", "s", "a", "1", "b"),
        cmd!("HSET", "s", "a", "1"),
        cmd!("HGET", "s", "a"),
        cmd!("HMGET", "s", "a"),
        cmd!("HGETALL", "s"),
        cmd!("HLEN", "s"),
        // Increments are validated before the key's type.
        cmd!("HINCRBY", "s", "f", "x"),
        cmd!("HINCRBY", "s", "f", "1"),
        cmd!("HINCRBYFLOAT", "s", "f", "abc"),
        cmd!("HINCRBYFLOAT", "s", "f", "inf"),
        cmd!("HINCRBYFLOAT", "s", "f", "1"),
        cmd!("HINCRBY", "h", "g", "1"),
        cmd!("HINCRBY", "h", "f", "1"),
        cmd!("HINCRBY", "h", "n", "9223372036854775807"),
        cmd!("HINCRBY", "h", "n", "-9223372036854775808"),
        cmd!("HINCRBY", "h", "n", "9223372036854775797"),
        cmd!("HINCRBY", "h", "n", "1"),
        cmd!("HINCRBYFLOAT", "h", "g", "1"),
        cmd!("HINCRBYFLOAT", "h", "f", "0.1"),
        cmd!("HINCRBYFLOAT", "h", "f", "1e4932"),
        cmd!("HINCRBYFLOAT", "h", "big", "1.7e308"),
        cmd!("HINCRBYFLOAT", "h", "big", "1.7e308"),
        cmd!("HINCRBYFLOAT", "h", "f", "-0x10"),
        cmd!("HGETALL", "h"),
        // Failed increments on a missing key create nothing.
        cmd!("HINCRBY", "missing", "f", "x"),
        cmd!("HINCRBYFLOAT", "missing", "f", "nan"),
        cmd!("EXISTS", "missing"),
        // HRANDFIELD: count, then WITHVALUES, then range, then the key.
        cmd!("HRANDFIELD", "s"),
        cmd!("HRANDFIELD", "s", "0"),
        cmd!("HRANDFIELD", "s", "x", "y"),
        cmd!("HRANDFIELD", "s", "1", "y"),
        cmd!("HRANDFIELD", "missing", "1", "y"),
        cmd!("HRANDFIELD", "missing", "-9223372036854775808"),
        cmd!("HRANDFIELD", "missing", "4611686018427387904", "WITHVALUES"),
        cmd!(
            "HRANDFIELD",
            "missing",
            "-4611686018427387904",
            "WITHVALUES"
        ),
        cmd!("HRANDFIELD", "missing", "4611686018427387903", "WITHVALUES"),
        cmd!("HRANDFIELD", "missing", "1", "WITHVALUES", "x"),
        cmd!("HRANDFIELD", "missing"),
        cmd!("HRANDFIELD", "h", "0", "WITHVALUES"),
        // HSCAN: cursor, then the key, then the options.
        cmd!("HSCAN", "s", "x"),
        cmd!("HSCAN", "s", "0", "COUNT", "0"),
        cmd!("HSCAN", "missing", "0", "COUNT", "0"),
        cmd!("HSCAN", "missing", "x"),
        cmd!("HSCAN", "h", "0", "COUNT", "0"),
        cmd!("HSCAN", "h", "0", "NOVALUES"),
        cmd!("HSCAN", "h", "0", "TYPE", "hash"),
        cmd!("HSCAN", "h", "0", "MATCH"),
        cmd!("HSCAN", "h", "99", "MATCH", "[fg]", "COUNT", "1"),
        cmd!("HSCAN", "h", "-1"),
        cmd!("HSCAN", "h", "18446744073709551616"),
        // Reads of missing keys.
        cmd!("HGET", "missing", "f"),
        cmd!("HMGET", "missing", "f", "g"),
        cmd!("HGETALL", "missing"),
        cmd!("HKEYS", "missing"),
        cmd!("HVALS", "missing"),
        cmd!("HLEN", "missing"),
        cmd!("HSTRLEN", "missing", "f"),
        cmd!("HEXISTS", "missing", "f"),
        cmd!("HDEL", "missing", "f"),
        cmd!("HSTRLEN", "h", "n"),
        cmd!("HSTRLEN", "h", "nope"),
    ];
    run_script(&mut d, &script);
}

#[test]
fn resp3_replies_match_redis() {
    let (usher, redis) = servers(FOUR_SHARDS);
    let mut d = Differ::new(&usher, &redis);
    let hello: Cmd = cmd!("HELLO", "3");
    d.both(&hello);
    let script: Vec<Cmd> = vec![
        cmd!("HSET", "h", "z", "1", "a", "2", "m", "3"),
        cmd!("HGETALL", "h"),
        cmd!("HGETALL", "missing"),
        cmd!("HKEYS", "h"),
        cmd!("HRANDFIELD", "h", "10", "WITHVALUES"),
        cmd!("HRANDFIELD", "h", "-2", "WITHVALUES"),
        cmd!("HRANDFIELD", "h", "2"),
        cmd!("HRANDFIELD", "missing", "2"),
        cmd!("HRANDFIELD", "missing"),
        cmd!("HGET", "missing", "f"),
        cmd!("HMGET", "h", "a", "nope"),
        cmd!("HSCAN", "h", "0"),
        cmd!("HINCRBYFLOAT", "h", "a", "0.5"),
    ];
    run_script(&mut d, &script);
}

#[test]
fn hrandfield_keeps_its_promises_on_both_encodings() {
    let (usher, redis) = servers(ONE_SHARD);
    let mut d = Differ::new(&usher, &redis);
    d.run(&hset_many("small", "f", 12));
    d.run(&hset_many("medium", "f", 300));
    d.run(&hset_many("large", "f", 1000));
    let mut script = Vec::new();
    for key in ["small", "medium", "large"] {
        for count in [
            "1", "2", "3", "4", "5", "11", "12", "13", "99", "100", "101", "299", "300", "301",
            "333", "334", "999", "1000",
        ] {
            for _ in 0..20 {
                script.push(cmd!("HRANDFIELD", key, count));
                script.push(cmd!("HRANDFIELD", key, count, "WITHVALUES"));
            }
        }
        for count in ["-1", "-5", "-40"] {
            for _ in 0..10 {
                script.push(cmd!("HRANDFIELD", key, count, "WITHVALUES"));
            }
        }
        script.push(cmd!("HRANDFIELD", key));
    }
    run_script(&mut d, &script);
}

#[test]
fn full_hscan_iterations_match_on_large_hashes() {
    let (usher, redis) = servers(FOUR_SHARDS);
    let mut d = Differ::new(&usher, &redis);
    d.run(&hset_many("big", "field:", 5000));
    for (prefix, count) in [
        (&["HSCAN", "big"][..], 1),
        (&["HSCAN", "big"][..], 10),
        (&["HSCAN", "big"][..], 1000),
        (&["HSCAN", "big", "MATCH", "field:1*"][..], 50),
        (&["HSCAN", "big", "MATCH", "nomatch"][..], 100),
    ] {
        d.compare_scan(prefix, count);
    }
}
