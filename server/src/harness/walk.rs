//! Reading a loaded keyspace back: every key of every database through the commands of its
//! type, and the agreements between them (a count and the elements it counts, members without
//! duplicates, a DUMP that restores to the same DUMP). This is what turns "the loader did not
//! panic" into "the loader produced values the server can serve": a corrupt RDB file, AOF or
//! RESTORE payload that slips through must be refused by the loader, not by a later read.

use super::{Admin, Value};
use std::collections::HashSet;

/// The scratch key a value is copied to before being written to (never a loaded key's name:
/// loaded names are at most what a file holds, and this one is checked absent first).
const COPY: &[u8] = b"\xff\x00usher-harness-copy";

/// Walks every key of every database; leaves database 0 selected.
pub(super) fn every_key(a: &mut Admin) {
    let databases = a.0.s.shared.config.read().databases;
    for db in 0..databases {
        a.run(&["SELECT", &db.to_string()]);
        for key in scan(a) {
            if key != COPY {
                one_key(a, &key);
            }
        }
    }
    a.run(&["SELECT", "0"]);
}

fn scan(a: &mut Admin) -> HashSet<Vec<u8>> {
    let mut keys = HashSet::new();
    let mut cursor = b"0".to_vec();
    // SCAN ends in a bounded number of calls for a keyspace of bounded size.
    for _ in 0..1_000_000 {
        let reply = a.run_bytes(&[b"SCAN", &cursor, b"COUNT", b"100"]);
        let parts = items(&reply, "SCAN");
        cursor = bulk(parts[0], "SCAN's cursor");
        keys.extend(
            items(parts[1], "SCAN's keys")
                .into_iter()
                .map(|k| bulk(k, "a key")),
        );
        if cursor == b"0" {
            return keys;
        }
    }
    panic!("SCAN did not end");
}

fn items<'v>(v: &'v Value, what: &str) -> Vec<&'v Value> {
    v.items()
        .unwrap_or_else(|| panic!("{what} answered {v:?}, not an array"))
}

fn bulk(v: &Value, what: &str) -> Vec<u8> {
    match v {
        Value::Bulk(b) => b.clone(),
        _ => panic!("{what} is {v:?}, not a bulk string"),
    }
}

fn int(v: &Value, what: &str) -> i64 {
    match v {
        Value::Int(n) => *n,
        _ => panic!("{what} answered {v:?}, not an integer"),
    }
}

/// The elements of a reply that lists them, checked to be as many as `count` says.
fn counted<'v>(v: &'v Value, count: i64, what: &str) -> Vec<&'v Value> {
    let list = items(v, what);
    assert_eq!(
        list.len() as i64,
        count,
        "{what}: {} items, count says {count}",
        list.len()
    );
    list
}

fn distinct(members: impl Iterator<Item = Vec<u8>>, what: &str) {
    let mut seen = HashSet::new();
    for m in members {
        assert!(
            seen.insert(m.clone()),
            "{what} holds {:?} twice",
            String::from_utf8_lossy(&m)
        );
    }
}

fn one_key(a: &mut Admin, key: &[u8]) {
    // A TTL would let the key vanish between two reads that must agree.
    a.run_bytes(&[b"PERSIST", key]);
    let Value::Simple(kind) = a.run_bytes(&[b"TYPE", key]) else {
        panic!("TYPE did not answer a status");
    };
    let dump = match a.run_bytes(&[b"DUMP", key]) {
        Value::Bulk(d) => d,
        // Expired since SCAN saw it.
        Value::Null => return,
        other => panic!("DUMP answered {other:?}"),
    };
    for cmd in [
        &[&b"OBJECT"[..], b"ENCODING", key][..],
        &[b"OBJECT", b"FREQ", key],
        &[b"MEMORY", b"USAGE", key],
        &[b"PTTL", key],
        &[b"EXISTS", key],
    ] {
        a.run_bytes(cmd);
    }
    // The value's own DUMP restores, to the same contents.
    assert_eq!(a.run_bytes(&[b"EXISTS", COPY]), Value::Int(0));
    let restored = a.run_bytes(&[b"RESTORE", COPY, b"0", &dump]);
    assert_eq!(restored, Value::Simple(b"OK".to_vec()), "RESTORE of a DUMP");
    assert_eq!(
        contents(a, &kind, key),
        contents(a, &kind, COPY),
        "a DUMP restores to other contents"
    );
    match &kind[..] {
        b"string" => string(a, key),
        b"list" => list(a, key),
        b"hash" => hash(a, key),
        b"set" => set(a, key),
        b"zset" => zset(a, key),
        b"stream" => stream(a, key),
        _ => {}
    }
    a.run_bytes(&[b"DEL", COPY]);
}

/// A value's contents, in an order that does not depend on its encoding (sets and hashes
/// list their members in table order, which a restore may change, as in Redis).
fn contents(a: &mut Admin, kind: &[u8], key: &[u8]) -> Vec<Value> {
    let sorted = |v: Value, chunk: usize| {
        let mut groups: Vec<Vec<Value>> = items(&v, "a listing")
            .chunks(chunk)
            .map(|c| c.iter().map(|&x| x.clone()).collect())
            .collect();
        groups.sort_by_key(|g| format!("{g:?}"));
        groups.concat()
    };
    match kind {
        b"string" => vec![a.run_bytes(&[b"GET", key])],
        b"list" => vec![a.run_bytes(&[b"LRANGE", key, b"0", b"-1"])],
        b"hash" => sorted(a.run_bytes(&[b"HGETALL", key]), 2),
        b"set" => sorted(a.run_bytes(&[b"SMEMBERS", key]), 1),
        b"zset" => vec![a.run_bytes(&[b"ZRANGE", key, b"0", b"-1", b"WITHSCORES"])],
        b"stream" => vec![
            a.run_bytes(&[b"XRANGE", key, b"-", b"+"]),
            a.run_bytes(&[b"XINFO", b"GROUPS", key]),
        ],
        _ => Vec::new(),
    }
}

fn string(a: &mut Admin, key: &[u8]) {
    let value = bulk(&a.run_bytes(&[b"GET", key]), "GET");
    let len = int(&a.run_bytes(&[b"STRLEN", key]), "STRLEN");
    assert_eq!(len, value.len() as i64, "STRLEN and GET");
    assert_eq!(
        a.run_bytes(&[b"GETRANGE", key, b"0", b"-1"]),
        Value::Bulk(value)
    );
    for cmd in [
        &[&b"BITCOUNT"[..], key][..],
        &[b"BITPOS", key, b"1"],
        &[b"PFCOUNT", key],
        &[b"APPEND", COPY, b"x"],
        &[b"INCR", COPY],
        &[b"PFADD", COPY, b"x"],
        &[b"SETRANGE", COPY, b"3", b"y"],
    ] {
        a.run_bytes(cmd);
    }
}

fn list(a: &mut Admin, key: &[u8]) {
    let n = int(&a.run_bytes(&[b"LLEN", key]), "LLEN");
    let all = a.run_bytes(&[b"LRANGE", key, b"0", b"-1"]);
    let elements = counted(&all, n, "LRANGE 0 -1");
    if let Some(first) = elements.first() {
        let first = bulk(first, "a list element");
        assert_eq!(
            a.run_bytes(&[b"LINDEX", key, b"0"]),
            Value::Bulk(first.clone())
        );
        a.run_bytes(&[b"LPOS", key, &first, b"RANK", b"-1"]);
        a.run_bytes(&[b"LINSERT", COPY, b"AFTER", &first, b"x"]);
    }
    for cmd in [
        &[&b"LINDEX"[..], key, b"-1"][..],
        &[b"RPUSH", COPY, b"x", b"12345"],
        &[b"LPUSH", COPY, b"y"],
        &[b"LPOP", COPY],
        &[b"LTRIM", COPY, b"1", b"-2"],
        &[b"LRANGE", COPY, b"0", b"-1"],
    ] {
        a.run_bytes(cmd);
    }
}

fn hash(a: &mut Admin, key: &[u8]) {
    let n = int(&a.run_bytes(&[b"HLEN", key]), "HLEN");
    let all = a.run_bytes(&[b"HGETALL", key]);
    let pairs = counted(&all, n * 2, "HGETALL");
    let fields: Vec<Vec<u8>> = pairs
        .iter()
        .step_by(2)
        .map(|f| bulk(f, "a field"))
        .collect();
    distinct(fields.iter().cloned(), "a hash");
    counted(&a.run_bytes(&[b"HKEYS", key]), n, "HKEYS");
    counted(&a.run_bytes(&[b"HVALS", key]), n, "HVALS");
    if let Some(f) = fields.first() {
        assert_eq!(a.run_bytes(&[b"HGET", key, f]), *pairs[1]);
        a.run_bytes(&[b"HDEL", COPY, f]);
    }
    for cmd in [
        &[&b"HRANDFIELD"[..], key, b"-5", b"WITHVALUES"][..],
        &[b"HSCAN", key, b"0", b"COUNT", b"1000"],
        &[b"HSET", COPY, b"f", b"v"],
        &[b"HINCRBY", COPY, b"n", b"1"],
        &[b"HGETALL", COPY],
    ] {
        a.run_bytes(cmd);
    }
}

fn set(a: &mut Admin, key: &[u8]) {
    let n = int(&a.run_bytes(&[b"SCARD", key]), "SCARD");
    let all = a.run_bytes(&[b"SMEMBERS", key]);
    let members = counted(&all, n, "SMEMBERS");
    distinct(members.iter().map(|m| bulk(m, "a member")), "a set");
    if let Some(m) = members.first() {
        let m = bulk(m, "a member");
        assert_eq!(a.run_bytes(&[b"SISMEMBER", key, &m]), Value::Int(1));
        a.run_bytes(&[b"SREM", COPY, &m]);
    }
    for cmd in [
        &[&b"SRANDMEMBER"[..], key, b"-5"][..],
        &[b"SINTERCARD", b"1", key],
        &[b"SSCAN", key, b"0", b"COUNT", b"1000"],
        &[b"SADD", COPY, b"x", b"12345"],
        &[b"SPOP", COPY],
        &[b"SMEMBERS", COPY],
    ] {
        a.run_bytes(cmd);
    }
}

fn zset(a: &mut Admin, key: &[u8]) {
    let n = int(&a.run_bytes(&[b"ZCARD", key]), "ZCARD");
    let all = a.run_bytes(&[b"ZRANGE", key, b"0", b"-1", b"WITHSCORES"]);
    let pairs = counted(&all, n * 2, "ZRANGE 0 -1 WITHSCORES");
    let members: Vec<Vec<u8>> = pairs
        .iter()
        .step_by(2)
        .map(|m| bulk(m, "a member"))
        .collect();
    distinct(members.iter().cloned(), "a sorted set");
    counted(
        &a.run_bytes(&[b"ZRANGEBYSCORE", key, b"-inf", b"+inf"]),
        n,
        "ZRANGEBYSCORE -inf +inf",
    );
    counted(
        &a.run_bytes(&[b"ZREVRANGE", key, b"0", b"-1"]),
        n,
        "ZREVRANGE",
    );
    if let Some(m) = members.first() {
        assert_eq!(
            a.run_bytes(&[b"ZRANK", key, m]),
            Value::Int(0),
            "ZRANK of the first"
        );
        a.run_bytes(&[b"ZSCORE", key, m]);
        a.run_bytes(&[b"ZREM", COPY, m]);
    }
    for cmd in [
        &[&b"ZRANGEBYLEX"[..], key, b"-", b"+"][..],
        &[b"ZRANDMEMBER", key, b"-5", b"WITHSCORES"],
        &[b"ZSCAN", key, b"0", b"COUNT", b"1000"],
        &[b"ZADD", COPY, b"1", b"x"],
        &[b"ZINCRBY", COPY, b"2", b"y"],
        &[b"ZPOPMIN", COPY],
        &[b"ZRANGE", COPY, b"0", b"-1", b"WITHSCORES"],
    ] {
        a.run_bytes(cmd);
    }
}

fn stream(a: &mut Admin, key: &[u8]) {
    let n = int(&a.run_bytes(&[b"XLEN", key]), "XLEN");
    counted(&a.run_bytes(&[b"XRANGE", key, b"-", b"+"]), n, "XRANGE - +");
    counted(
        &a.run_bytes(&[b"XREVRANGE", key, b"+", b"-"]),
        n,
        "XREVRANGE + -",
    );
    a.run_bytes(&[b"XINFO", b"STREAM", key]);
    a.run_bytes(&[b"XINFO", b"STREAM", key, b"FULL"]);
    let groups = a.run_bytes(&[b"XINFO", b"GROUPS", key]);
    for g in items(&groups, "XINFO GROUPS") {
        // Each group is a map (or RESP2 array) whose second item is its name.
        let fields = items(g, "a group");
        let name = bulk(fields[1], "a group's name");
        a.run_bytes(&[b"XINFO", b"CONSUMERS", key, &name]);
        a.run_bytes(&[b"XPENDING", key, &name]);
        a.run_bytes(&[b"XPENDING", key, &name, b"-", b"+", b"100"]);
        a.run_bytes(&[b"XAUTOCLAIM", COPY, &name, b"c", b"0", b"0-0"]);
        a.run_bytes(&[b"XREADGROUP", b"GROUP", &name, b"c", b"STREAMS", COPY, b"0"]);
    }
    for cmd in [
        &[&b"XADD"[..], COPY, b"*", b"f", b"v"][..],
        &[b"XTRIM", COPY, b"MAXLEN", b"1"],
        &[b"XRANGE", COPY, b"-", b"+"],
        &[b"XINFO", b"STREAM", COPY, b"FULL"],
    ] {
        a.run_bytes(cmd);
    }
}
