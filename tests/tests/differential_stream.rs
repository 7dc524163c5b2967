//! Differential: stream commands give the same replies on usher and on redis-server 7.0.15,
//! with one shard and with several, with Redis's default node sizes and with tiny nodes (so
//! node boundaries, approximate trimming and `radix-tree-*` counts are exercised), including
//! errors, consumer groups and their PELs, XINFO, DUMP/RESTORE both ways, and the keyspace
//! commands on streams. Clock-dependent fields (idle and delivery times) are blanked before
//! comparing; everything else must match byte for byte. `USHER_STREAM_PARANOID=1` also
//! compares `XINFO STREAM FULL` of every key after every command (slow; for bisecting).

use usher_tests::diff::{self, render, Mismatch};
use usher_tests::gen::{self, stream::normalize_times, Cmd};
use usher_tests::{cmd, Differ, Reply, Server};

const ONE_SHARD: &[&str] = &["--shards", "1", "--threads", "1"];
const FOUR_SHARDS: &[&str] = &["--shards", "4", "--threads", "2"];
/// Nodes of at most 4 entries or 200 bytes: many nodes from few entries.
const TINY_NODES: &[&str] = &[
    "--stream-node-max-entries",
    "4",
    "--stream-node-max-bytes",
    "200",
];

fn servers(usher_args: &[&str], config: &[&str]) -> (Server, Server) {
    let mut u: Vec<&str> = usher_args.to_vec();
    u.extend_from_slice(config);
    (Server::usher(&u), Server::redis(config))
}

/// Runs `c` on both servers and compares the replies after blanking times.
fn check(d: &mut Differ, c: &Cmd) -> Result<Reply, Box<Mismatch>> {
    if diff::rule(c) != diff::Compare::Exact {
        return d.check(c);
    }
    d.history.push(render(c).into_bytes());
    let (u, r) = d.both(c);
    let (nu, nr) = (normalize_times(c, u.clone()), normalize_times(c, r.clone()));
    if nu == nr {
        return Ok(r);
    }
    Err(Box::new(Mismatch {
        command: c
            .iter()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect(),
        usher: u,
        redis: r,
    }))
}

fn run(d: &mut Differ, script: &[Cmd], seed: u64) {
    let paranoid = std::env::var("USHER_STREAM_PARANOID").is_ok();
    for c in script {
        if let Err(m) = check(d, c) {
            panic!("{}", d.report(&m, Some(seed)));
        }
        if paranoid && c.len() > 1 {
            for key in KEYS {
                if let Err(m) = check(d, &cmd!("XINFO", "STREAM", key, "FULL")) {
                    panic!("{}", d.report(&m, Some(seed)));
                }
            }
        }
    }
}

/// Every key the generators use, for end-of-run checks.
const KEYS: &[&str] = &["a", "b", "c", "d", "{t}x", "{t}y", "counter", "text"];

fn compare_final_state(d: &mut Differ, seed: u64) {
    let mut script = Vec::new();
    for key in KEYS {
        script.push(cmd!("XINFO", "STREAM", key, "FULL", "COUNT", "0"));
        script.push(cmd!("XINFO", "GROUPS", key));
        script.push(cmd!("XRANGE", key, "-", "+"));
    }
    run(d, &script, seed);
}

fn random_sequences_match(usher_args: &[&str], config: &[&str]) {
    let (usher, redis) = servers(usher_args, config);
    let seed = diff::seed();
    eprintln!("seed {seed} (rerun with USHER_DIFF_SEED={seed})");
    let mut g = gen::Gen::new(seed);
    let mut d = Differ::new(&usher, &redis);
    let seq = g.sequence(diff::ops(5000), &gen::stream::stream_mix());
    run(&mut d, &seq, seed);
    compare_final_state(&mut d, seed);
}

#[test]
fn streams_match_redis_with_one_shard() {
    random_sequences_match(ONE_SHARD, &[]);
}

#[test]
fn streams_match_redis_across_shards_with_tiny_nodes() {
    random_sequences_match(FOUR_SHARDS, TINY_NODES);
}

#[test]
fn node_boundaries_and_approximate_trimming_follow_redis() {
    let (usher, redis) = servers(ONE_SHARD, TINY_NODES);
    let mut d = Differ::new(&usher, &redis);
    let mut script: Vec<Cmd> = Vec::new();
    for i in 1..=30 {
        // Alternating field sets, and one value large enough to close a node by bytes.
        let v = if i == 13 {
            "v".repeat(150)
        } else {
            i.to_string()
        };
        let f = if i % 3 == 0 { "other" } else { "f" };
        script.push(cmd!("XADD", "s", format!("{i}-1"), f, v, "g", "x"));
    }
    script.extend([
        cmd!("XINFO", "STREAM", "s"),
        cmd!("XTRIM", "s", "MAXLEN", "~", "25"),
        cmd!("XINFO", "STREAM", "s"),
        cmd!("XTRIM", "s", "MAXLEN", "~", "3", "LIMIT", "5"),
        cmd!("XTRIM", "s", "MINID", "~", "20-0"),
        cmd!("XINFO", "STREAM", "s"),
        cmd!("XTRIM", "s", "MAXLEN", "=", "7"),
        cmd!("XRANGE", "s", "-", "+"),
        cmd!("XDEL", "s", "25-1", "26-1", "99-1"),
        cmd!("XADD", "s", "MAXLEN", "~", "2", "40-*", "f", "1"),
        cmd!("XINFO", "STREAM", "s", "FULL"),
        cmd!("XREVRANGE", "s", "+", "-", "COUNT", "3"),
        cmd!("XRANGE", "s", "(27-1", "(30-1"),
    ]);
    run(&mut d, &script, 0);
}

#[test]
fn consumer_groups_deliver_claim_and_acknowledge_as_redis_does() {
    let (usher, redis) = servers(FOUR_SHARDS, &[]);
    let mut d = Differ::new(&usher, &redis);
    let mut script: Vec<Cmd> = vec![cmd!("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")];
    for i in 1..=6 {
        script.push(cmd!("XADD", "s", format!("{i}-0"), "n", i.to_string()));
    }
    script.extend([
        cmd!(
            "XREADGROUP",
            "GROUP",
            "g",
            "alice",
            "COUNT",
            "2",
            "STREAMS",
            "s",
            ">"
        ),
        cmd!("XREADGROUP", "GROUP", "g", "bob", "STREAMS", "s", ">"),
        cmd!("XREADGROUP", "GROUP", "g", "bob", "STREAMS", "s", ">"),
        cmd!("XINFO", "GROUPS", "s"),
        cmd!("XDEL", "s", "4-0"),
        cmd!("XREADGROUP", "GROUP", "g", "bob", "STREAMS", "s", "0"),
        cmd!("XPENDING", "s", "g"),
        cmd!("XPENDING", "s", "g", "-", "+", "10", "bob"),
        cmd!("XCLAIM", "s", "g", "carol", "0", "1-0", "4-0", "5-0", "JUSTID"),
        cmd!("XCLAIM", "s", "g", "carol", "3600000", "2-0"),
        cmd!(
            "XCLAIM",
            "s",
            "g",
            "dave",
            "0",
            "6-0",
            "RETRYCOUNT",
            "9",
            "LASTID",
            "9-0"
        ),
        cmd!("XAUTOCLAIM", "s", "g", "erin", "0", "0", "COUNT", "1"),
        cmd!("XAUTOCLAIM", "s", "g", "erin", "0", "(1-0"),
        cmd!("XACK", "s", "g", "1-0", "2-0", "2-0", "77-0"),
        cmd!("XINFO", "STREAM", "s", "FULL"),
        cmd!("XINFO", "CONSUMERS", "s", "g"),
        cmd!("XGROUP", "DELCONSUMER", "s", "g", "dave"),
        cmd!("XGROUP", "SETID", "s", "g", "0", "ENTRIESREAD", "0"),
        cmd!("XINFO", "GROUPS", "s"),
        cmd!(
            "XREADGROUP",
            "GROUP",
            "g",
            "zed",
            "NOACK",
            "STREAMS",
            "s",
            ">"
        ),
        cmd!("XINFO", "GROUPS", "s"),
        cmd!(
            "XSETID",
            "s",
            "10-0",
            "ENTRIESADDED",
            "12",
            "MAXDELETEDID",
            "8-0"
        ),
        cmd!("XINFO", "STREAM", "s"),
        cmd!("XGROUP", "DESTROY", "s", "g"),
        cmd!("XREADGROUP", "GROUP", "g", "x", "STREAMS", "s", ">"),
        cmd!("XGROUP", "HELP"),
        cmd!("XINFO", "HELP"),
        cmd!("XGROUP", "DESTROY", "s"),
        cmd!("XINFO", "STREAM", "s", "FULL", "COUNT"),
        cmd!("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s"),
        cmd!("XREAD", "STREAMS", "s", "s", "0"),
        cmd!("XREAD", "COUNT", "2", "STREAMS", "s", "nokey", "0", "0"),
    ]);
    run(&mut d, &script, 0);
}

#[test]
fn auto_ids_and_keyspace_commands_on_streams() {
    let (usher, redis) = servers(FOUR_SHARDS, &[]);
    let mut d = Differ::new(&usher, &redis);
    // `*` ids come from each server's clock: compare shapes, then continue on explicit ids
    // above both clocks.
    for c in [
        cmd!("XADD", "s", "*", "f", "v"),
        cmd!("XADD", "s", "MAXLEN", "5", "*", "f", "v"),
    ] {
        let (u, r) = d.both(&c);
        assert!(
            matches!((&u, &r), (Reply::Bulk(_), Reply::Bulk(_))),
            "{u:?} {r:?}"
        );
    }
    let script = vec![
        cmd!("XADD", "s", "99999999999999-0", "f", "v"),
        cmd!("XADD", "s", "99999999999999-*", "f", "w"),
        cmd!("XLEN", "s"),
        cmd!("TYPE", "s"),
        cmd!("OBJECT", "ENCODING", "s"),
        cmd!("COPY", "s", "{s}copy"),
        cmd!("XRANGE", "{s}copy", "99999999999999", "+"),
        cmd!("RENAME", "s", "{s}renamed"),
        cmd!("XREVRANGE", "{s}renamed", "+", "-", "COUNT", "1"),
        cmd!("MOVE", "{s}renamed", "1"),
        cmd!("SELECT", "1"),
        cmd!("XLEN", "{s}renamed"),
        cmd!("SELECT", "0"),
        cmd!("SCAN", "0", "TYPE", "stream", "COUNT", "100"),
        cmd!("SET", "str", "x"),
        cmd!("XADD", "str", "1-1", "f", "v"),
        cmd!("XRANGE", "str", "-", "+"),
        cmd!("XLEN", "str"),
        cmd!("XINFO", "STREAM", "str"),
        cmd!("XGROUP", "CREATE", "str", "g", "0"),
        cmd!("XREAD", "STREAMS", "str", "0"),
        cmd!("LPUSH", "{s}copy", "x"),
        cmd!("XADD", "e", "MAXLEN", "0", "1-1", "f", "v"),
        cmd!("EXISTS", "e"),
        cmd!("XINFO", "STREAM", "e"),
        cmd!("XADD", "e", "NOMKSTREAM", "2-1", "f", "v"),
        cmd!("XADD", "missing", "NOMKSTREAM", "2-1", "f", "v"),
        cmd!("EXISTS", "missing"),
        cmd!("PEXPIRE", "e", "50"),
    ];
    run(&mut d, &script, 0);
    std::thread::sleep(std::time::Duration::from_millis(120));
    run(&mut d, &[cmd!("EXISTS", "e"), cmd!("XLEN", "e")], 0);
    // MEMORY USAGE: a number on both, of the same order.
    let usage: Cmd = cmd!("MEMORY", "USAGE", "{s}copy");
    let (u, r) = d.both(&usage);
    assert!(u.int() > 0 && r.int() > 0, "{u:?} {r:?}");
}

#[test]
fn dump_and_restore_carry_streams_both_ways() {
    let (usher, redis) = servers(ONE_SHARD, TINY_NODES);
    let mut d = Differ::new(&usher, &redis);
    let mut script: Vec<Cmd> = vec![cmd!("XGROUP", "CREATE", "s", "g1", "0", "MKSTREAM")];
    for i in 1..=12 {
        script.push(cmd!(
            "XADD",
            "s",
            format!("{i}-{i}"),
            "f",
            i.to_string(),
            "big",
            "x".repeat(30 * (i % 3))
        ));
    }
    script.extend([
        cmd!("XDEL", "s", "3-3"),
        cmd!("XGROUP", "CREATE", "s", "g2", "5-5"),
        cmd!(
            "XREADGROUP",
            "GROUP",
            "g1",
            "alice",
            "COUNT",
            "4",
            "STREAMS",
            "s",
            ">"
        ),
        cmd!(
            "XREADGROUP",
            "GROUP",
            "g1",
            "bob",
            "COUNT",
            "2",
            "STREAMS",
            "s",
            ">"
        ),
        cmd!("XREADGROUP", "GROUP", "g2", "carol", "STREAMS", "s", ">"),
        cmd!("XGROUP", "CREATECONSUMER", "s", "g2", "idle"),
        cmd!("XGROUP", "CREATE", "empty", "g", "$", "MKSTREAM"),
    ]);
    run(&mut d, &script, 0);
    let full = |c: &mut usher_tests::Client, k: &str| {
        c.call(&["XINFO", "STREAM", k, "FULL", "COUNT", "0"])
    };
    for key in ["s", "empty"] {
        let from_redis = d.redis.call(&["DUMP", key]);
        let from_usher = d.usher.call(&["DUMP", key]);
        let Reply::Bulk(rp) = from_redis else {
            panic!("{from_redis:?}")
        };
        let Reply::Bulk(up) = from_usher else {
            panic!("{from_usher:?}")
        };
        // The same layout: usher's nodes are Redis's listpacks byte for byte (the payloads
        // differ only in the delivery and seen times the two clocks stamped).
        assert_eq!(up.len(), rp.len(), "DUMP {key} differs");
        let nodes_end = rp.len().min(300);
        assert_eq!(up[..nodes_end], rp[..nodes_end], "DUMP {key}: nodes differ");
        let restored = format!("{key}:restored");
        for (c, payload) in [(&mut d.usher, &rp), (&mut d.redis, &up)] {
            let r = c.call(&[b"RESTORE".as_slice(), restored.as_bytes(), b"0", payload]);
            assert!(r.is_simple("OK"), "{r:?}");
        }
        // Each server's copy equals the other's original, delivery and seen times included.
        let (u, r) = (full(&mut d.usher, &restored), full(&mut d.redis, key));
        assert_eq!(u, r, "usher's RESTORE of redis-server's DUMP of {key}");
        let (r, u) = (full(&mut d.redis, &restored), full(&mut d.usher, key));
        assert_eq!(r, u, "redis-server's RESTORE of usher's DUMP of {key}");
    }
    // A corrupt payload is refused and loses nothing.
    let Reply::Bulk(mut p) = d.redis.call(&["DUMP", "s"]) else {
        panic!()
    };
    let n = p.len();
    p[n / 2] ^= 0x55;
    let r = d.usher.call(&[b"RESTORE".as_slice(), b"bad", b"0", &p]);
    assert!(r.is_error(), "{r:?}");
}

#[test]
fn stream_commands_are_described_as_redis_describes_them() {
    let (usher, redis) = servers(ONE_SHARD, &[]);
    let names = [
        "xadd",
        "xrange",
        "xrevrange",
        "xlen",
        "xdel",
        "xtrim",
        "xread",
        "xreadgroup",
        "xack",
        "xpending",
        "xclaim",
        "xautoclaim",
        "xsetid",
        "xgroup|create",
        "xgroup|setid",
        "xgroup|destroy",
        "xgroup|createconsumer",
        "xgroup|delconsumer",
        "xgroup|help",
        "xinfo|stream",
        "xinfo|groups",
        "xinfo|consumers",
        "xinfo|help",
    ];
    diff::assert_command_table_matches(&mut usher.client(), &mut redis.client(), &names);
    let mut d = Differ::new(&usher, &redis);
    let getkeys = [
        cmd!("COMMAND", "GETKEYS", "XREAD", "COUNT", "2", "STREAMS", "a", "b", "0", "0"),
        cmd!(
            "COMMAND",
            "GETKEYS",
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "STREAMS",
            "a",
            ">"
        ),
        cmd!("CONFIG", "GET", "stream-node-max-*"),
    ];
    for c in getkeys {
        let (u, r) = d.both(&c);
        let sorted = |r: &Reply| {
            let mut v = r
                .items()
                .iter()
                .map(|x| format!("{x:?}"))
                .collect::<Vec<_>>();
            v.sort();
            v
        };
        assert_eq!(sorted(&u), sorted(&r), "{c:?}");
    }
}
