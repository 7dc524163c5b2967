//! A dataset with every type usher serves in every encoding Redis 7.0 gives it (plus TTLs and
//! several databases), and a canonical read-back of a whole keyspace, for the persistence and
//! DUMP/RESTORE tests that move data between redis-server and usher.

use crate::resp::Client;
use std::collections::BTreeMap;

/// Every type usher serves, in every encoding Redis 7.0 gives it, plus TTLs and several
/// databases. The same commands run on both servers.
pub fn populate(c: &mut Client) {
    let run = |c: &mut Client, args: &[&str]| {
        let r = c.call(args);
        assert!(!r.is_error(), "{args:?}: {r:?}");
    };
    run(c, &["SELECT", "0"]);
    run(c, &["SET", "str:int", "12345"]);
    run(c, &["SET", "str:negint", "-7"]);
    run(c, &["SET", "str:bigint", "1234567890123456"]);
    run(c, &["SET", "str:embstr", "hello"]);
    run(c, &["SET", "str:zeropad", "007"]);
    run(c, &["SET", "str:lzf", &"abc".repeat(40)]);
    let noisy: String = (0..200u32)
        .map(|i| char::from(b'!' + (i.wrapping_mul(2_654_435_761) >> 7) as u8 % 90))
        .collect();
    run(c, &["SET", "str:raw", &noisy]);
    run(c, &["APPEND", "str:appended", "grown"]);
    run(c, &["SET", "str:empty", ""]);
    run(
        c,
        &["RPUSH", "list:small", "a", "b", "1", "-200", "70000", "c"],
    );
    let elems: Vec<String> = (0..2000)
        .map(|i| format!("element-{i:05}-payload"))
        .collect();
    let mut cmd = vec!["RPUSH", "list:nodes"];
    cmd.extend(elems.iter().map(String::as_str));
    run(c, &cmd);
    run(c, &["HSET", "hash:lp", "f1", "v1", "f2", "2", "n", "-3"]);
    let mut cmd = vec!["HSET".to_string(), "hash:ht".into()];
    for i in 0..600 {
        cmd.push(format!("field{i}"));
        cmd.push(format!("value{i}"));
    }
    let refs: Vec<&str> = cmd.iter().map(String::as_str).collect();
    run(c, &refs);
    run(c, &["HSET", "hash:longval", "f", &"x".repeat(100)]);
    run(c, &["SADD", "set:int16", "1", "2", "3", "-5"]);
    run(c, &["SADD", "set:int64", "1", "9000000000", "-9000000000"]);
    run(c, &["SADD", "set:strs", "a", "b", "c"]);
    let ints: Vec<String> = (0..600).map(|i| (i * 3).to_string()).collect();
    let mut cmd = vec!["SADD", "set:manyints"];
    cmd.extend(ints.iter().map(String::as_str));
    run(c, &cmd);
    run(
        c,
        &[
            "ZADD", "zset:lp", "1", "a", "2.5", "b", "-3", "c", "inf", "d", "1e100", "e", "0.1",
            "f",
        ],
    );
    let mut cmd = vec!["ZADD".to_string(), "zset:skip".into()];
    for i in 0..300 {
        cmd.push(format!("{}", i as f64 * 1.5));
        cmd.push(format!("member{i}"));
    }
    let refs: Vec<&str> = cmd.iter().map(String::as_str).collect();
    run(c, &refs);
    run(c, &["ZADD", "zset:longmember", "1", &"m".repeat(100)]);
    run(c, &["SET", "ttl:str", "v", "PX", "5000000"]);
    run(c, &["RPUSH", "ttl:list", "x"]);
    run(c, &["PEXPIREAT", "ttl:list", "4102444800000"]);
    run(c, &["SELECT", "2"]);
    run(c, &["SET", "db2:key", "two"]);
    run(c, &["ZADD", "db2:z", "1", "x"]);
    run(c, &["SELECT", "15"]);
    run(c, &["HSET", "db15:h", "a", "b"]);
    run(c, &["SELECT", "0"]);
}

/// (db, key) → (type, encoding, content, TTL bucket).
pub type Dataset = BTreeMap<(usize, String), (String, String, Vec<String>, bool)>;

/// Reads every key of every database, with content in a canonical order.
pub fn dataset(c: &mut Client) -> Dataset {
    let mut out = Dataset::new();
    for db in 0..16 {
        assert!(c.call(&["SELECT", &db.to_string()]).is_simple("OK"));
        let mut keys = c.call(&["KEYS", "*"]).strings();
        keys.sort();
        for k in keys {
            let t = c.call(&["TYPE", &k]).text();
            let enc = c.call(&["OBJECT", "ENCODING", &k]).text();
            let mut content = match t.as_str() {
                "string" => vec![c.call(&["GET", &k]).text()],
                "list" => c.call(&["LRANGE", &k, "0", "-1"]).strings(),
                "hash" => c.call(&["HGETALL", &k]).strings(),
                "set" => c.call(&["SMEMBERS", &k]).strings(),
                "zset" => c.call(&["ZRANGE", &k, "0", "-1", "WITHSCORES"]).strings(),
                other => panic!("unexpected type {other}"),
            };
            if t == "set" || t == "hash" && enc == "hashtable" {
                if t == "hash" {
                    let mut pairs: Vec<(String, String)> = content
                        .chunks(2)
                        .map(|p| (p[0].clone(), p[1].clone()))
                        .collect();
                    pairs.sort();
                    content = pairs.into_iter().flat_map(|(a, b)| [a, b]).collect();
                } else {
                    content.sort();
                }
            }
            let ttl = c.call(&["PTTL", &k]).int();
            out.insert((db, k), (t, enc, content, ttl > 0));
        }
    }
    assert!(c.call(&["SELECT", "0"]).is_simple("OK"));
    out
}
