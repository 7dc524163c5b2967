//! Differential: set commands give the same replies on usher and on redis-server 7.0.15, with
//! one shard and with several (SMOVE, SINTER and the STORE forms then cross shards), including
//! errors, encodings (`OBJECT ENCODING` around the intset limit, computed results, SPOP's
//! rebuild), intset reply order, the random commands' promises and full SSCAN iterations.

use usher_tests::gen::{self, set::run_checked, Cmd};
use usher_tests::{cmd, diff, Differ, Reply, Server};

const ONE_SHARD: &[&str] = &["--shards", "1", "--threads", "1"];
const FOUR_SHARDS: &[&str] = &["--shards", "4", "--threads", "2"];

/// Every key the generators use, for end-of-run checks.
const KEYS: &[&str] = &["a", "b", "c", "d", "{t}x", "{t}y", "counter", "text"];

fn servers(usher_args: &[&str]) -> (Server, Server) {
    (Server::usher(usher_args), Server::redis(&[]))
}

fn random_sequences_match(usher_args: &[&str]) {
    let (usher, redis) = servers(usher_args);
    let seed = diff::seed();
    let mut g = gen::Gen::new(seed);
    let mut d = Differ::new(&usher, &redis);
    let seq = g.sequence(diff::ops(6000), &gen::set::set_mix());
    run_checked(&mut d, &seq, seed);
    for key in KEYS {
        let type_of: Cmd = cmd!("TYPE", key);
        if d.run(&type_of) == Reply::Simple("set".into()) {
            d.compare_scan(&["SSCAN", key], 3);
            d.compare_scan(&["SSCAN", key, "MATCH", "1*"], 20);
        }
    }
}

#[test]
fn sets_match_redis_with_one_shard() {
    random_sequences_match(ONE_SHARD);
}

#[test]
fn sets_match_redis_across_shards() {
    random_sequences_match(FOUR_SHARDS);
}

fn run_script(d: &mut Differ, script: &[Cmd]) {
    run_checked(d, script, 0);
}

/// `SADD key` of the integers `from..to`.
fn sadd_range(key: &str, from: i64, to: i64) -> Cmd {
    let mut c = cmd!("SADD", key);
    c.extend((from..to).map(|i| i.to_string().into_bytes()));
    c
}

fn enc(key: &str) -> Cmd {
    cmd!("OBJECT", "ENCODING", key)
}

#[test]
fn encodings_convert_exactly_like_redis() {
    let (usher, redis) = servers(FOUR_SHARDS);
    let mut d = Differ::new(&usher, &redis);
    let script: Vec<Cmd> = vec![
        // 512 integers fit an intset, the 513th converts; duplicates never do.
        sadd_range("i", 0, 512),
        enc("i"),
        cmd!("SADD", "i", "0", "511"),
        enc("i"),
        cmd!("SADD", "i", "512"),
        enc("i"),
        cmd!("SREM", "i", "512", "511"),
        enc("i"),
        // The first member picks the encoding; non-canonical numbers are strings.
        cmd!("SADD", "s1", "x", "1"),
        enc("s1"),
        cmd!("SREM", "s1", "x"),
        enc("s1"),
        cmd!("SMEMBERS", "s1"),
        cmd!("SADD", "s2", "1", "007"),
        enc("s2"),
        cmd!("SADD", "s3", "-9223372036854775808", "9223372036854775807"),
        enc("s3"),
        cmd!("SMEMBERS", "s3"),
        cmd!("SADD", "s3", "9223372036854775808"),
        enc("s3"),
        cmd!("SADD", "s4", "-0"),
        enc("s4"),
        // Computed sets are intsets while they can be.
        sadd_range("{k}a", 0, 300),
        sadd_range("{k}b", 200, 500),
        cmd!("SADD", "{k}m", "x", "250", "260"),
        cmd!("SUNIONSTORE", "{k}u", "{k}a", "{k}b"),
        enc("{k}u"),
        cmd!("SINTERSTORE", "{k}n", "{k}a", "{k}m"),
        enc("{k}n"),
        cmd!("SMEMBERS", "{k}n"),
        cmd!("SDIFFSTORE", "{k}d", "{k}m", "{k}a"),
        enc("{k}d"),
        cmd!("SDIFFSTORE", "{k}d2", "{k}a", "{k}m"),
        enc("{k}d2"),
        cmd!("SUNIONSTORE", "u2", "i", "s1"),
        enc("u2"),
        cmd!("SINTER", "i", "s1"),
        cmd!("SUNION", "s1", "s3"),
        // SDIFF's two algorithms leave different encodings: the first set small vs large.
        cmd!("SADD", "small", "x", "1", "2"),
        cmd!("SADD", "large", "x", "3", "4", "5", "6", "7", "8", "9", "10"),
        cmd!("SDIFFSTORE", "r1", "small", "large"),
        enc("r1"),
        cmd!("SDIFFSTORE", "r2", "large", "small"),
        enc("r2"),
        cmd!("SDIFF", "large", "small"),
        // SPOP with a count close to the size rebuilds the set: a hashtable of integers comes
        // back as an intset.
        cmd!("SADD", "p", "x", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10"),
        cmd!("SREM", "p", "x"),
        enc("p"),
        cmd!("SPOP", "p", "9"),
        enc("p"),
        cmd!("SCARD", "p"),
        // ... while popping fewer keeps the encoding.
        cmd!("SADD", "q", "x", "1", "2", "3", "4", "5", "6"),
        cmd!("SREM", "q", "x"),
        cmd!("SPOP", "q", "2"),
        enc("q"),
        // COPY keeps encodings.
        cmd!("COPY", "i", "icopy"),
        enc("icopy"),
        cmd!("COPY", "s3", "s3copy"),
        enc("s3copy"),
        cmd!("SMEMBERS", "s3copy"),
    ];
    run_script(&mut d, &script);
    d.compare_scan(&["SSCAN", "i"], 7);
    d.compare_scan(&["SSCAN", "{k}u", "MATCH", "1*"], 3);
}

#[test]
fn multi_key_commands_work_across_shards_and_check_every_type() {
    let (usher, redis) = servers(FOUR_SHARDS);
    let mut d = Differ::new(&usher, &redis);
    let script: Vec<Cmd> = vec![
        cmd!("SADD", "a", "1", "2", "3", "x"),
        cmd!("SADD", "b", "2", "3", "4"),
        cmd!("SADD", "c", "3", "x", "y"),
        cmd!("SET", "str", "v"),
        cmd!("SINTER", "a", "b", "c"),
        cmd!("SINTER", "a", "a"),
        cmd!("SINTER", "a", "missing", "str"),
        cmd!("SINTER", "missing", "a"),
        cmd!("SUNION", "a", "b", "c", "missing"),
        cmd!("SUNION", "missing", "str"),
        cmd!("SDIFF", "a", "b", "c"),
        cmd!("SDIFF", "a", "a"),
        cmd!("SDIFF", "missing", "a"),
        cmd!("SDIFF", "a", "missing"),
        cmd!("SDIFF", "str", "missing"),
        cmd!("SINTERCARD", "3", "a", "b", "c"),
        cmd!("SINTERCARD", "2", "a", "b", "LIMIT", "1"),
        cmd!("SINTERCARD", "2", "a", "b", "LIMIT", "0"),
        cmd!("SINTERCARD", "2", "a", "b", "LIMIT", "1", "LIMIT", "5"),
        cmd!("SINTERCARD", "2", "a", "str"),
        cmd!("SINTERCARD", "2", "missing", "str"),
        cmd!("SINTERCARD", "0", "a"),
        cmd!("SINTERCARD", "x", "a"),
        cmd!("SINTERCARD", "3", "a", "b"),
        cmd!("SINTERCARD", "1", "a", "b"),
        cmd!("SINTERCARD", "2", "a", "b", "LIMIT"),
        cmd!("SINTERCARD", "2", "a", "b", "LIMIT", "-1"),
        cmd!("SINTERCARD", "2", "a", "b", "LIMIT", "x"),
        cmd!("SINTERCARD", "9223372036854775808", "a"),
        // STORE forms overwrite any type, drop the TTL, and delete on an empty result.
        cmd!("SET", "dst", "old", "EX", "100"),
        cmd!("SINTERSTORE", "dst", "a", "b"),
        cmd!("TYPE", "dst"),
        cmd!("TTL", "dst"),
        cmd!("SMEMBERS", "dst"),
        cmd!("SUNIONSTORE", "dst", "missing"),
        cmd!("EXISTS", "dst"),
        cmd!("SDIFFSTORE", "dst", "a", "a"),
        cmd!("EXISTS", "dst"),
        cmd!("SINTERSTORE", "str", "missing", "a"),
        cmd!("EXISTS", "str"),
        cmd!("SET", "str", "v"),
        cmd!("SINTERSTORE", "dst", "str", "a"),
        cmd!("SUNIONSTORE", "a", "a", "c"),
        cmd!("SMEMBERS", "a"),
        // SMOVE: across shards, onto itself, missing source before the destination's type.
        cmd!("SMOVE", "a", "b", "1"),
        cmd!("SMOVE", "a", "b", "nope"),
        cmd!("SMOVE", "missing", "str", "1"),
        cmd!("SMOVE", "a", "str", "2"),
        cmd!("SMOVE", "str", "a", "2"),
        cmd!("SMOVE", "a", "a", "2"),
        cmd!("SMOVE", "a", "a", "nope"),
        cmd!("SMOVE", "c", "new", "x"),
        cmd!("OBJECT", "ENCODING", "new"),
        cmd!("SMOVE", "c", "new2", "3"),
        cmd!("OBJECT", "ENCODING", "new2"),
        cmd!("SMOVE", "c", "new2", "y"),
        cmd!("EXISTS", "c"),
        cmd!("SMEMBERS", "new2"),
        cmd!("OBJECT", "ENCODING", "new2"),
        cmd!("SMOVE", "{t}1", "{t}2", "z"),
        cmd!("SADD", "{t}1", "z"),
        cmd!("SMOVE", "{t}1", "{t}2", "z"),
        cmd!("SMEMBERS", "{t}2"),
        cmd!("EXISTS", "{t}1"),
    ];
    run_script(&mut d, &script);
}

#[test]
fn errors_and_argument_order_match_redis() {
    let (usher, redis) = servers(ONE_SHARD);
    let mut d = Differ::new(&usher, &redis);
    let script: Vec<Cmd> = vec![
        cmd!("SET", "str", "v"),
        cmd!("SADD", "s", "1", "2", "3"),
        cmd!("SADD", "str", "1"),
        cmd!("SREM", "str", "1"),
        cmd!("SREM", "missing", "1"),
        cmd!("SCARD", "str"),
        cmd!("SISMEMBER", "str", "1"),
        cmd!("SMISMEMBER", "str", "1"),
        cmd!("SMISMEMBER", "missing", "1", "2"),
        cmd!("SMEMBERS", "str"),
        cmd!("SMEMBERS", "missing"),
        // SPOP: arity, then count, then the key.
        cmd!("SPOP", "str", "1", "2"),
        cmd!("SPOP", "missing", "1", "2"),
        cmd!("SPOP", "str", "-1"),
        cmd!("SPOP", "str", "x"),
        cmd!("SPOP", "str", "0"),
        cmd!("SPOP", "str"),
        cmd!("SPOP", "missing"),
        cmd!("SPOP", "missing", "0"),
        cmd!("SPOP", "missing", "5"),
        cmd!("SPOP", "s", "0"),
        cmd!("SPOP", "s", "-9223372036854775808"),
        // SRANDMEMBER: arity, then count, then the key.
        cmd!("SRANDMEMBER", "str", "1", "2"),
        cmd!("SRANDMEMBER", "str", "x"),
        cmd!("SRANDMEMBER", "missing", "x"),
        cmd!("SRANDMEMBER", "str", "0"),
        cmd!("SRANDMEMBER", "str"),
        cmd!("SRANDMEMBER", "missing"),
        cmd!("SRANDMEMBER", "missing", "-5"),
        cmd!("SRANDMEMBER", "s", "-9223372036854775808"),
        cmd!("SRANDMEMBER", "missing", "-9223372036854775808"),
        cmd!("SRANDMEMBER", "s", "9223372036854775807"),
        cmd!("SRANDMEMBER", "s", "0"),
        // SSCAN: cursor, then the key, then the options.
        cmd!("SSCAN", "str", "x"),
        cmd!("SSCAN", "str", "0", "COUNT", "0"),
        cmd!("SSCAN", "missing", "0", "COUNT", "0"),
        cmd!("SSCAN", "missing", "x"),
        cmd!("SSCAN", "s", "0", "COUNT", "0"),
        cmd!("SSCAN", "s", "0", "TYPE", "set"),
        cmd!("SSCAN", "s", "0", "NOVALUES"),
        cmd!("SSCAN", "s", "0", "MATCH"),
        cmd!("SSCAN", "s", "5", "MATCH", "[12]"),
        cmd!("SSCAN", "s", "", "COUNT", "1"),
        cmd!("SSCAN", "s", "+0"),
        // Arity.
        cmd!("SADD", "s"),
        cmd!("SMOVE", "s", "t"),
        cmd!("SINTERSTORE", "s"),
        cmd!("SINTERCARD", "1"),
        cmd!("SCARD"),
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
        cmd!("SADD", "s", "5", "-1", "3"),
        cmd!("SADD", "{s}t", "3", "4"),
        cmd!("SMEMBERS", "s"),
        cmd!("SMEMBERS", "missing"),
        cmd!("SINTER", "s", "{s}t"),
        cmd!("SINTER", "s", "missing"),
        cmd!("SUNION", "s", "{s}t"),
        cmd!("SDIFF", "s", "{s}t"),
        cmd!("SRANDMEMBER", "s", "10"),
        cmd!("SRANDMEMBER", "s", "-2"),
        cmd!("SRANDMEMBER", "missing", "3"),
        cmd!("SRANDMEMBER", "missing"),
        cmd!("SPOP", "missing"),
        cmd!("SPOP", "missing", "3"),
        cmd!("SPOP", "s", "0"),
        cmd!("SMISMEMBER", "s", "5", "6"),
        cmd!("SSCAN", "s", "0"),
        cmd!("SPOP", "s", "10"),
    ];
    run_script(&mut d, &script);
}

#[test]
fn random_commands_keep_their_promises() {
    let (usher, redis) = servers(ONE_SHARD);
    let mut d = Differ::new(&usher, &redis);
    let mut script: Vec<Cmd> = vec![
        sadd_range("ints", 0, 40),
        sadd_range("big", 0, 2000),
        cmd!("SADD", "strs", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j"),
    ];
    for key in ["ints", "big", "strs"] {
        for count in [
            "1", "2", "3", "9", "10", "11", "13", "14", "39", "40", "41", "700", "1999",
        ] {
            for _ in 0..15 {
                script.push(cmd!("SRANDMEMBER", key, count));
            }
        }
        for count in ["-1", "-3", "-50"] {
            for _ in 0..10 {
                script.push(cmd!("SRANDMEMBER", key, count));
            }
        }
        script.push(cmd!("SRANDMEMBER", key));
    }
    // Pops of every strategy, each followed by a resync of the survivors.
    for (n, count) in [
        (40, "1"),
        (40, "5"),
        (40, "34"),
        (40, "39"),
        (2000, "100"),
        (2000, "1990"),
    ] {
        script.push(cmd!("DEL", "p"));
        script.push(sadd_range("p", 0, n));
        script.push(cmd!("SPOP", "p", count));
        script.push(cmd!("SCARD", "p"));
        script.push(enc("p"));
        script.push(cmd!("SPOP", "p"));
    }
    script.push(cmd!("SPOP", "p", "100000"));
    script.push(cmd!("EXISTS", "p"));
    run_script(&mut d, &script);
}

#[test]
fn full_sscan_iterations_match_on_large_sets() {
    let (usher, redis) = servers(FOUR_SHARDS);
    let mut d = Differ::new(&usher, &redis);
    run_script(
        &mut d,
        &[sadd_range("big", 0, 5000), cmd!("SADD", "big", "x")],
    );
    for (prefix, count) in [
        (&["SSCAN", "big"][..], 1),
        (&["SSCAN", "big"][..], 10),
        (&["SSCAN", "big"][..], 1000),
        (&["SSCAN", "big", "MATCH", "4*"][..], 50),
    ] {
        d.compare_scan(prefix, count);
    }
}
