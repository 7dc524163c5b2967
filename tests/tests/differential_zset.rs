//! Differential: sorted-set commands give the same replies on usher and on redis-server 7.0.15,
//! byte for byte (errors and score formatting included), in RESP2 and RESP3, with one shard and
//! with several (multi-key commands then cross shards), at Redis's default listpack limits and
//! at small ones (so sets convert all the time).
//!
//! Random commands (ZRANDMEMBER) are compared by shape in the random runs and checked for
//! their properties separately. ZRANK's WITHSCORE (Redis 7.2) is checked against Redis's
//! documentation, since redis-server 7.0 does not have it.

use std::collections::{BTreeMap, BTreeSet};
use usher_tests::gen::zset::{set_inputs, zsets, ZSET_KEYS};
use usher_tests::{cmd, diff, gen, Client, Differ, Reply, Server};

const SMALL_LIMITS: &[&str] = &[
    "--zset-max-listpack-entries",
    "16",
    "--zset-max-listpack-value",
    "8",
];

fn args(list: &[&str]) -> Vec<Vec<u8>> {
    list.iter().map(|a| a.as_bytes().to_vec()).collect()
}

/// Compares a full ZSCAN of every sorted set the generator may have left behind.
fn compare_final_scans(d: &mut Differ) {
    for key in ZSET_KEYS {
        let (u, r) = d.both(&args(&["TYPE", key]));
        assert_eq!(u, r, "TYPE {key}");
        if r.text() == "zset" {
            d.compare_scan(&["ZSCAN", key], 5);
        }
    }
}

fn random_sequences_match(label: &str, usher_args: &[&str], redis_args: &[&str], resp3: bool) {
    let usher = Server::usher(usher_args);
    let redis = Server::redis(redis_args);
    let seed = diff::seed();
    let mut g = gen::Gen::new(seed);
    let mut d = Differ::new(&usher, &redis);
    if resp3 {
        d.both(&args(&["HELLO", "3"]));
    }
    let mut families: Vec<fn(&mut gen::Gen) -> gen::Cmd> =
        vec![zsets, zsets, zsets, zsets, gen::keyspace, gen::strings];
    // Plain sets as ZUNION/ZINTER/ZDIFF inputs, once the server has the set family.
    let has_sets = !matches!(
        d.usher.call(&args(&["COMMAND", "INFO", "SADD"])).items()[0],
        Reply::Nil | Reply::NilArray | Reply::Null
    );
    if has_sets {
        families.push(set_inputs);
    }
    let seq = g.sequence(diff::ops(6000), &families);
    for cmd in &seq {
        if let Err(m) = d.check(cmd) {
            // The report shows the last commands; the whole history goes to a file, since the
            // command that made the state diverge may be thousands of commands back.
            let path = format!(
                "{}/differential_zset_{label}_{seed}.log",
                env!("CARGO_TARGET_TMPDIR")
            );
            let text: Vec<String> = d
                .history
                .iter()
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect();
            std::fs::write(&path, text.join("\n")).expect("write the history");
            panic!("{}\n  full history: {path}", d.report(&m, Some(seed)));
        }
    }
    compare_final_scans(&mut d);
}

#[test]
fn zsets_match_redis_with_one_shard() {
    random_sequences_match(
        "one_shard",
        &["--shards", "1", "--threads", "1"],
        &[],
        false,
    );
}

#[test]
fn zsets_match_redis_across_shards() {
    random_sequences_match("shards", &["--shards", "4", "--threads", "2"], &[], false);
}

#[test]
fn zsets_match_redis_in_resp3_with_small_listpack_limits_across_shards() {
    let mut usher_args = vec!["--shards", "4", "--threads", "2"];
    usher_args.extend(SMALL_LIMITS);
    random_sequences_match("small_limits_resp3", &usher_args, SMALL_LIMITS, true);
}

#[test]
fn zsets_match_redis_in_resp3_with_one_shard() {
    random_sequences_match("resp3", &["--shards", "1", "--threads", "1"], &[], true);
}

/// Commands whose replies pin a quirk, an error text or an edge of the number handling.
const EDGE_CASES: &[&[&str]] = &[
    &["ZADD", "z", "1", "a", "2", "b", "3", "c"],
    &["ZADD", "z", "NX", "XX", "1", "a"],
    &["ZADD", "z", "GT", "LT", "1", "a"],
    &["ZADD", "z", "NX", "GT", "1", "a"],
    &["ZADD", "z", "INCR", "1", "a", "2", "b"],
    &["ZADD", "z", "NX", "1", "a", "2"],
    &["ZADD", "z", "x", "a"],
    &["ZADD", "z", "nan", "a"],
    &["ZADD", "z", "1", "nx"],
    &[
        "ZADD", "z", "XX", "CH", "GT", "5", "a", "0", "b", "9", "new",
    ],
    &["ZADD", "z", "LT", "INCR", "-1", "a"],
    &["ZADD", "z", "GT", "INCR", "-1", "a"],
    &["ZADD", "z", "XX", "INCR", "1", "nosuch"],
    &["ZADD", "nokey", "XX", "1", "a"],
    &["ZADD", "nokey", "XX", "INCR", "1", "a"],
    &["ZINCRBY", "z", "nx", "a"],
    &["ZINCRBY", "z", "0x10", "a"],
    &["ZINCRBY", "z", " 1", "a"],
    &["ZADD", "inf", "INCR", "inf", "a"],
    &["ZADD", "inf", "INCR", "-inf", "a"],
    &["ZINCRBY", "inf", "+inf", "a"],
    &["ZRANGE", "z", "0", "-1", "WITHSCORES"],
    &["ZADD", "zero", "-0", "a", "0", "b", "-0.0", "c"],
    &["ZRANGE", "zero", "0", "-1", "WITHSCORES"],
    &["ZSCORE", "zero", "a"],
    &["ZINCRBY", "zero", "-0", "d"],
    &["ZSCAN", "zero", "0"],
    &["ZADD", "zero", "0", "a"],
    &["ZUNIONSTORE", "u", "2", "zero", "zero"],
    &["ZRANGE", "u", "0", "-1", "WITHSCORES"],
    &["ZUNION", "2", "zero", "zero", "WITHSCORES"],
    &[
        "ZADD",
        "longneg",
        "-0",
        "a",
        "-0",
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    ],
    &["ZRANGE", "longneg", "0", "-1", "WITHSCORES"],
    &["OBJECT", "ENCODING", "longneg"],
    &[
        "ZADD",
        "fmt",
        "1e17",
        "a",
        "4611686018427387904",
        "b",
        "1e19",
        "c",
        "0.1",
        "d",
        "5e-324",
        "e",
    ],
    &["ZSCAN", "fmt", "0"],
    &["ZRANGE", "fmt", "0", "-1", "WITHSCORES"],
    &["ZRANGE", "z", "0", "-1", "LIMIT", "0", "-1"],
    &["ZRANGE", "z", "0", "-1", "LIMIT", "0", "1"],
    &["ZRANGE", "z", "(1", "+inf", "BYSCORE", "LIMIT", "-1", "5"],
    &[
        "ZRANGE",
        "z",
        "+inf",
        "-inf",
        "BYSCORE",
        "REV",
        "LIMIT",
        "1",
        "1",
        "WITHSCORES",
    ],
    &["ZRANGE", "z", "[a", "(c", "BYLEX", "WITHSCORES"],
    &["ZRANGE", "z", "0", "1", "BYSCORE", "BYLEX"],
    &["ZRANGE", "z", "(1", "x", "BYSCORE", "LIMIT", "x", "1"],
    &["ZRANGE", "z", "0", "1", "LIMIT", "1"],
    &["ZRANGEBYLEX", "z", "-", "+", "LIMIT", "1", "-1"],
    &["ZRANGEBYLEX", "z", "a", "b"],
    &["ZRANGEBYLEX", "z", "+", "-"],
    &["ZRANGEBYLEX", "z", "-", "-"],
    &["ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", "0", "0"],
    &["ZRANGEBYSCORE", "z", "( 1", " 3", "WITHSCORES"],
    &["ZRANGEBYSCORE", "z", "", "(", "WITHSCORES"],
    &["ZREVRANGEBYSCORE", "z", "1", "0", "REV"],
    &["ZREVRANGE", "z", "0", "-1", "WITHSCORES"],
    &["ZRANGE", "z", "5", "1"],
    &["ZRANGE", "z", "-100", "100"],
    &["ZRANGE", "z", "9223372036854775807", "-9223372036854775808"],
    &[
        "ZRANGE",
        "z",
        "-9223372036854775808",
        "9223372036854775807",
        "REV",
    ],
    &["ZRANGESTORE", "d", "z", "0", "-1", "WITHSCORES"],
    &["SET", "d", "string"],
    &["EXPIRE", "d", "1000"],
    &["ZRANGESTORE", "d", "z", "0", "-1"],
    &["TTL", "d"],
    &["TYPE", "d"],
    &["ZRANGESTORE", "d", "nokey", "0", "-1"],
    &["EXISTS", "d"],
    &["ZCOUNT", "z", "(1", "(1"],
    &["ZCOUNT", "z", "x", "1"],
    &["SET", "s", "x"],
    &["ZCOUNT", "s", "x", "1"],
    &["ZCOUNT", "s", "0", "1"],
    &["ZLEXCOUNT", "z", "[a", "[z"],
    &["ZLEXCOUNT", "z", "a", "[z"],
    &["ZREMRANGEBYRANK", "z", "-1", "-1"],
    &["ZREMRANGEBYSCORE", "z", "(1", "(2"],
    &["ZREMRANGEBYLEX", "z", "[a", "+"],
    &["ZPOPMIN", "z", "-1"],
    &["ZPOPMIN", "z", "x"],
    &["ZPOPMIN", "z", "1", "2"],
    &["ZPOPMIN", "nokey", "0"],
    &["ZPOPMIN", "z", "0"],
    &["ZPOPMIN", "s", "0"],
    &["ZPOPMAX", "z"],
    &["ZPOPMAX", "z", "10"],
    &["ZADD", "p1", "1", "a", "2", "b"],
    &["ZADD", "p2", "3", "c"],
    &["ZMPOP", "0", "p1", "MIN"],
    &["ZMPOP", "x", "p1", "MIN"],
    &["ZMPOP", "1", "p1"],
    &["ZMPOP", "1", "p1", "foo"],
    &["ZMPOP", "1", "p1", "MIN", "COUNT", "0"],
    &["ZMPOP", "1", "p1", "MIN", "COUNT", "1", "COUNT", "1"],
    &["ZMPOP", "2", "p1", "MIN"],
    &["ZMPOP", "3", "nokey", "s", "p1", "MIN"],
    &["ZMPOP", "3", "nokey", "p2", "p1", "MAX", "COUNT", "5"],
    &["ZMPOP", "1", "nokey", "MAX"],
    &["ZRANDMEMBER", "p1", "-9223372036854775808"],
    &["ZRANDMEMBER", "p1", "-4611686018427387904", "WITHSCORES"],
    &["ZRANDMEMBER", "p1", "4611686018427387904", "WITHSCORES"],
    &["ZRANDMEMBER", "p1", "1", "FOO"],
    &["ZRANDMEMBER", "p1", "x", "FOO"],
    &["ZRANDMEMBER", "p1", "9223372036854775807", "WITHSCORES"],
    &["ZRANDMEMBER", "p1", "9223372036854775807"],
    &["ZRANDMEMBER", "nokey"],
    &["ZRANDMEMBER", "nokey", "5"],
    &["ZRANDMEMBER", "s", "5"],
    &["ZADD", "w1", "inf", "a", "1", "b"],
    &["ZADD", "w2", "-inf", "a", "2", "b"],
    &["ZUNION", "2", "w1", "w2", "WITHSCORES"],
    &["ZUNION", "2", "w1", "w2", "WEIGHTS", "0", "1", "WITHSCORES"],
    &["ZUNION", "2", "w1", "w2", "WEIGHTS", "1", "0", "WITHSCORES"],
    &[
        "ZUNION",
        "2",
        "w1",
        "w2",
        "WEIGHTS",
        "1",
        "0",
        "AGGREGATE",
        "MIN",
        "WITHSCORES",
    ],
    &[
        "ZINTER",
        "2",
        "w1",
        "w2",
        "WEIGHTS",
        "1",
        "0",
        "AGGREGATE",
        "MAX",
        "WITHSCORES",
    ],
    &["ZINTER", "2", "w1", "w2", "WEIGHTS", "1", "0", "WITHSCORES"],
    &[
        "ZINTER",
        "2",
        "w2",
        "w1",
        "WEIGHTS",
        "1e308",
        "1e308",
        "WITHSCORES",
    ],
    &[
        "ZINTER",
        "2",
        "w1",
        "w1",
        "WEIGHTS",
        "1",
        "-1",
        "WITHSCORES",
    ],
    &["ZUNION", "1", "w1", "WITHSCORES", "WITHSCORES"],
    &["ZUNION", "0", "w1"],
    &["ZUNION", "-1", "w1"],
    &["ZUNION", "x", "w1"],
    &["ZUNION", "3", "w1"],
    &["ZUNION", "1", "w1", "WEIGHTS", "x"],
    &["ZUNION", "1", "w1", "WEIGHTS", "nan"],
    &["ZUNION", "1", "w1", "WEIGHTS", "1", "2"],
    &["ZUNION", "1", "w1", "AGGREGATE", "avg"],
    &["ZUNION", "2", "w1", "s", "AGGREGATE", "avg"],
    &["ZUNIONSTORE", "d", "0", "w1"],
    &["ZUNIONSTORE", "d", "1", "w1", "WITHSCORES"],
    &["ZDIFF", "1", "w1", "WEIGHTS", "1"],
    &["ZDIFF", "2", "w1", "w1"],
    &["ZDIFF", "2", "w1", "nokey", "WITHSCORES"],
    &["ZDIFFSTORE", "d", "2", "w1", "w2"],
    &["ZINTERSTORE", "d", "2", "w1", "nokey"],
    &["EXISTS", "d"],
    &["ZINTERCARD", "0", "w1"],
    &["ZINTERCARD", "x", "w1"],
    &["ZINTERCARD", "2", "w1"],
    &["ZINTERCARD", "1", "w1", "LIMIT", "-1"],
    &["ZINTERCARD", "1", "w1", "LIMIT", "x"],
    &["ZINTERCARD", "2", "w1", "w2", "LIMIT", "1"],
    &["ZINTERCARD", "2", "w1", "w2", "LIMIT", "0"],
    &["ZINTERCARD", "1", "w1", "WITHSCORES"],
    &["ZSCAN", "w1", "x"],
    &["ZSCAN", "s", "x"],
    &["ZSCAN", "s", "0"],
    &["ZSCAN", "w1", "0", "TYPE", "zset"],
    &["ZSCAN", "nokey", "0", "COUNT", "0"],
    &["ZSCAN", "w1", "0", "MATCH", "a", "COUNT", "100"],
    &["ZRANK", "w1", "b"],
    &["ZREVRANK", "w1", "b"],
    &["ZRANK", "w1", "nosuch"],
    &["ZRANK", "nokey", "b"],
    &["ZRANK", "s", "b"],
    &["ZRANK", "w1", "a", "b", "c"],
    &["ZMSCORE", "nokey", "a", "b"],
    &["ZMSCORE", "w1", "a", "nosuch"],
    &["ZMSCORE", "s", "a"],
    &["ZREM", "w1", "a", "b", "a"],
    &["EXISTS", "w1"],
    &["ZREM", "s", "a"],
    &["ZCARD", "s"],
];

fn edge_cases_match(resp3: bool) {
    let usher = Server::usher(&["--shards", "4", "--threads", "2"]);
    let redis = Server::redis(&[]);
    let mut d = Differ::new(&usher, &redis);
    if resp3 {
        d.both(&args(&["HELLO", "3"]));
    }
    for case in EDGE_CASES {
        d.run(&args(case));
    }
    // Crossing the entry limit: a set built over the limit, then shrunk, then stored.
    let mut big = cmd!("ZADD", "big");
    for i in 0..300 {
        big.push(
            format!(
                "{}",
                (i % 7) as f64 - 3.5 + if i % 5 == 0 { 0.5 } else { 0.0 }
            )
            .into_bytes(),
        );
        big.push(format!("member:{i:04}").into_bytes());
    }
    big.extend(args(&["-0", "negzero", "0", "poszero"]));
    d.run(&big);
    for case in [
        &["OBJECT", "ENCODING", "big"][..],
        &["ZRANGE", "big", "0", "-1", "WITHSCORES"],
        &[
            "ZRANGE",
            "big",
            "(-1",
            "2",
            "BYSCORE",
            "LIMIT",
            "10",
            "20",
            "WITHSCORES",
        ],
        &["ZREVRANGEBYSCORE", "big", "+inf", "(0", "LIMIT", "5", "7"],
        &["ZCOUNT", "big", "-0", "0"],
        &["ZRANK", "big", "member:0150"],
        &["ZREVRANK", "big", "negzero"],
        &["ZRANGESTORE", "r1", "big", "0", "-1"],
        &["ZSCORE", "r1", "negzero"],
        &["ZRANGESTORE", "r2", "big", "(-1", "1", "BYSCORE"],
        &["ZSCORE", "r2", "negzero"],
        &["OBJECT", "ENCODING", "r2"],
        &["ZRANGESTORE", "small", "big", "0", "9"],
        &["OBJECT", "ENCODING", "small"],
        &["ZRANGESTORE", "half", "big", "-0", "+inf", "BYSCORE"],
        &["ZRANGE", "half", "0", "-1", "WITHSCORES"],
        &["OBJECT", "ENCODING", "half"],
        &[
            "ZUNIONSTORE",
            "uni",
            "2",
            "big",
            "small",
            "WEIGHTS",
            "2",
            "0.5",
        ],
        &["ZRANGE", "uni", "0", "-1", "WITHSCORES"],
        &[
            "ZINTERSTORE",
            "int",
            "2",
            "big",
            "small",
            "AGGREGATE",
            "MAX",
        ],
        &["OBJECT", "ENCODING", "int"],
        &["ZRANGE", "int", "0", "-1", "WITHSCORES"],
        &["ZREMRANGEBYRANK", "big", "10", "-10"],
        &["OBJECT", "ENCODING", "big"],
        &["ZRANGE", "big", "0", "-1", "WITHSCORES"],
        &["ZPOPMIN", "big", "3"],
        &["ZPOPMAX", "big", "3"],
        &["ZDIFFSTORE", "dif", "2", "big", "small"],
        &["OBJECT", "ENCODING", "dif"],
        &["ZRANGE", "dif", "0", "-1", "WITHSCORES"],
    ] {
        d.run(&args(case));
    }
    d.compare_scan(&["ZSCAN", "uni"], 10);
    d.compare_scan(&["ZSCAN", "uni", "MATCH", "*1*"], 3);
}

#[test]
fn edge_cases_match_redis() {
    edge_cases_match(false);
}

#[test]
fn edge_cases_match_redis_in_resp3() {
    edge_cases_match(true);
}

fn members_of(c: &mut Client, key: &str) -> BTreeMap<String, String> {
    let r = c.call(&["ZRANGE", key, "0", "-1", "WITHSCORES"]);
    r.strings()
        .chunks(2)
        .map(|p| (p[0].clone(), p[1].clone()))
        .collect()
}

/// ZRANDMEMBER's contract, on a listpack-encoded and a big set.
#[test]
fn zrandmember_returns_members_of_the_set_with_their_scores() {
    let usher = Server::usher(&["--shards", "1", "--threads", "1"]);
    let mut c = usher.client();
    for (key, n) in [("small", 10), ("big", 500)] {
        let mut add = vec!["ZADD".to_string(), key.to_string()];
        for i in 0..n {
            add.push(format!("{}.5", i * 3 % 11));
            add.push(format!("m{i}"));
        }
        assert_eq!(c.call(&add).int(), n);
        let all = members_of(&mut c, key);
        for count in [1i64, 3, 7, n / 2, n - 1, n, n + 5, -1, -7, -(n * 2)] {
            let reply = c.call(&["ZRANDMEMBER", key, &count.to_string(), "WITHSCORES"]);
            let items = reply.strings();
            let want = if count > 0 { count.min(n) } else { -count };
            assert_eq!(items.len() as i64, want * 2, "ZRANDMEMBER {key} {count}");
            let mut seen = BTreeSet::new();
            for pair in items.chunks(2) {
                assert_eq!(
                    all.get(&pair[0]),
                    Some(&pair[1]),
                    "member and score of {key}"
                );
                seen.insert(pair[0].clone());
            }
            if count > 0 {
                assert_eq!(seen.len() as i64, want, "distinct for a positive count");
            }
            if count >= n {
                assert_eq!(seen.len(), all.len(), "the whole set");
            }
        }
        let one = c.call(&["ZRANDMEMBER", key]).text();
        assert!(all.contains_key(&one));
        // Over many draws every member shows up: sampling is not stuck on a few.
        let mut seen = BTreeSet::new();
        for _ in 0..20 {
            seen.extend(c.call(&["ZRANDMEMBER", key, &(-n).to_string()]).strings());
        }
        assert!(
            seen.len() as i64 > n * 9 / 10,
            "{key}: {} of {n} seen",
            seen.len()
        );
    }
    // RESP3 nests [member, score] pairs.
    c.call(&["HELLO", "3"]);
    match c.call(&["ZRANDMEMBER", "small", "2", "WITHSCORES"]) {
        Reply::Array(items) => {
            assert_eq!(items.len(), 2);
            assert!(
                matches!(&items[0], Reply::Array(p) if p.len() == 2 && matches!(p[1], Reply::Double(_)))
            );
        }
        other => panic!("unexpected {other:?}"),
    }
}

/// `ZRANK key member WITHSCORE` as Redis 7.2 documents it: `[rank, score]`, a null array when
/// the member (or the key) is missing. redis-server 7.0 has no WITHSCORE to compare with.
#[test]
fn zrank_withscore_follows_the_redis_7_2_documentation() {
    let usher = Server::usher(&["--shards", "1", "--threads", "1"]);
    let mut c = usher.client();
    c.call(&["ZADD", "z", "1", "one", "2", "two", "3", "three"]);
    assert_eq!(
        c.call(&["ZRANK", "z", "three", "WITHSCORE"]),
        Reply::Array(vec![Reply::Int(2), Reply::bulk("3")])
    );
    assert_eq!(
        c.call(&["ZREVRANK", "z", "three", "withscore"]),
        Reply::Array(vec![Reply::Int(0), Reply::bulk("3")])
    );
    assert_eq!(
        c.call(&["ZRANK", "z", "four", "WITHSCORE"]),
        Reply::NilArray
    );
    assert_eq!(
        c.call(&["ZRANK", "nokey", "four", "WITHSCORE"]),
        Reply::NilArray
    );
    assert_eq!(c.call(&["ZRANK", "z", "four"]), Reply::Nil);
    assert_eq!(
        c.call(&["ZRANK", "z", "one", "WITHSCORES"]).err(),
        "ERR syntax error"
    );
    assert_eq!(
        c.call(&["ZRANK", "z", "one", "WITHSCORE", "x"]).err(),
        "ERR wrong number of arguments for 'zrank' command"
    );
    c.call(&["SET", "s", "x"]);
    assert!(c
        .call(&["ZRANK", "s", "one", "WITHSCORE"])
        .err()
        .starts_with("WRONGTYPE"));
    c.call(&["HELLO", "3"]);
    assert_eq!(
        c.call(&["ZRANK", "z", "two", "WITHSCORE"]),
        Reply::Array(vec![Reply::Int(1), Reply::Double("2".into())])
    );
    assert_eq!(c.call(&["ZRANK", "z", "four", "WITHSCORE"]), Reply::Null);
}

/// The first seven fields of `COMMAND INFO` (name, arity, flags, key positions, ACL
/// categories) and the summary, since, group and complexity of `COMMAND DOCS`, as redis-server
/// 7.0.15 prints them. ZRANK and ZREVRANK differ in arity only (7.2's WITHSCORE).
#[test]
fn command_table_matches_redis() {
    let usher = Server::usher(&["--shards", "1", "--threads", "1"]);
    let redis = Server::redis(&[]);
    let (mut u, mut r) = (usher.client(), redis.client());
    let names = [
        "zadd",
        "zcard",
        "zcount",
        "zlexcount",
        "zscore",
        "zmscore",
        "zincrby",
        "zrank",
        "zrevrank",
        "zrange",
        "zrangebyscore",
        "zrevrangebyscore",
        "zrangebylex",
        "zrevrangebylex",
        "zrevrange",
        "zrangestore",
        "zrem",
        "zremrangebyscore",
        "zremrangebyrank",
        "zremrangebylex",
        "zpopmin",
        "zpopmax",
        "zmpop",
        "zrandmember",
        "zscan",
        "zunion",
        "zinter",
        "zdiff",
        "zunionstore",
        "zinterstore",
        "zdiffstore",
        "zintercard",
    ];
    diff::assert_command_table_matches_with_arity(
        &mut u,
        &mut r,
        &names,
        &[("zrank", -3), ("zrevrank", -3)],
    );
}
