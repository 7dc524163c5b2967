//! Differential: `INFO stats` `keyspace_hits` and `keyspace_misses` move exactly as Redis
//! 7.0.15's do, command by command, over random sequences of every data type's commands
//! (read-only commands count each key they look up; writes count nothing, except those that
//! read their keys as Redis's `lookupKeyRead` does, such as GETDEL, SET ... GET and the STORE
//! forms' sources, and likewise BITOP's and PFMERGE's inputs, a read-only BITFIELD, the
//! writing geo searches' source and SORT's keys and BY/GET lookups). Cache dashboards compute
//! hit ratios from these two fields.

use usher_tests::gen::{self, Cmd, Gen};
use usher_tests::{cmd, diff, Client, Differ, Server};

/// `(keyspace_hits, keyspace_misses)` from `INFO stats`.
fn counters(c: &mut Client) -> (u64, u64) {
    let text = c.call(&["INFO", "stats"]).text();
    let field = |name: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .unwrap_or_else(|| panic!("INFO stats has {name}"))
            .trim()
            .parse()
            .expect("a count")
    };
    (field("keyspace_hits"), field("keyspace_misses"))
}

/// Runs `seq` on both servers and compares the counters' movement after every command (after
/// a whole transaction for MULTI ... EXEC). Returns a line per command whose movement differed.
fn differences(d: &mut Differ, seq: &[Cmd]) -> Vec<String> {
    d.both(&[b"CONFIG".to_vec(), b"RESETSTAT".to_vec()]);
    let mut before = (counters(&mut d.usher), counters(&mut d.redis));
    let mut found = Vec::new();
    let mut in_multi = false;
    for c in seq {
        d.both(c);
        // Inside MULTI, INFO would be queued: compare the whole transaction at its EXEC.
        if c[0].eq_ignore_ascii_case(b"multi") {
            in_multi = true;
        } else if c[0].eq_ignore_ascii_case(b"exec") || c[0].eq_ignore_ascii_case(b"discard") {
            in_multi = false;
        }
        if in_multi {
            continue;
        }
        let after = (counters(&mut d.usher), counters(&mut d.redis));
        let usher = (after.0 .0 - before.0 .0, after.0 .1 - before.0 .1);
        let redis = (after.1 .0 - before.1 .0, after.1 .1 - before.1 .1);
        if usher != redis {
            found.push(format!(
                "{}: usher (hits, misses) +{usher:?}, redis +{redis:?}",
                diff::render(c)
            ));
        }
        before = after;
    }
    found
}

fn stats_follow_redis(usher_args: &[&str], families: &[fn(&mut Gen) -> Cmd]) {
    let usher = Server::usher(usher_args);
    let redis = Server::redis(&[]);
    let seed = diff::seed();
    let mut g = Gen::new(seed);
    let mut d = Differ::new(&usher, &redis);
    let mut seq = g.sequence(diff::ops(1500), families);
    // SPOP removes random members, so the two keyspaces would drift apart (one set emptied
    // and deleted, the other not); `spop_counts_like_redis` covers it on known contents.
    // (The generators draw no TTL short enough to run out mid-run: see `Gen::ttl_arg`.)
    seq.retain(|c| !c[0].eq_ignore_ascii_case(b"spop"));
    let found = differences(&mut d, &seq);
    assert!(
        found.is_empty(),
        "seed {seed} (rerun with USHER_DIFF_SEED={seed}): {} of {} commands moved the counters \
         differently, first ones:\n{}",
        found.len(),
        seq.len(),
        found
            .iter()
            .take(30)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    // The run must have exercised both counters, or it proves nothing.
    let (hits, misses) = counters(&mut d.redis);
    assert!(hits > 50 && misses > 50, "hits {hits}, misses {misses}");
}

#[test]
fn strings_and_keys_count_like_redis() {
    stats_follow_redis(
        &["--shards", "4", "--threads", "2"],
        &[gen::strings, gen::keyspace],
    );
}

#[test]
fn hashes_count_like_redis() {
    stats_follow_redis(&["--shards", "1", "--threads", "1"], &gen::hash::hash_mix());
}

#[test]
fn lists_count_like_redis() {
    stats_follow_redis(
        &["--shards", "1", "--threads", "1"],
        &[gen::list::lists, gen::keyspace],
    );
}

#[test]
fn sets_count_like_redis() {
    stats_follow_redis(&["--shards", "4", "--threads", "2"], &gen::set::set_mix());
}

#[test]
fn sorted_sets_count_like_redis() {
    stats_follow_redis(
        &["--shards", "1", "--threads", "1"],
        &[gen::zset::zsets, gen::keyspace],
    );
}

/// SPOP counts nothing (Redis looks the set up for writing), except when a count takes the
/// whole set: Redis then replies through SUNION's code, whose read lookup counts one hit.
#[test]
fn spop_counts_like_redis() {
    let usher = Server::usher(&["--shards", "1", "--threads", "1"]);
    let redis = Server::redis(&[]);
    let mut d = Differ::new(&usher, &redis);
    let mut script: Vec<Cmd> = Vec::new();
    for (members, count) in [
        (3, None),
        (3, Some("1")),
        (3, Some("0")),
        (3, Some("3")),
        (3, Some("9")),
    ] {
        script.push(cmd!("DEL", "s"));
        let mut sadd = cmd!("SADD", "s");
        sadd.extend((0..members).map(|i| format!("m{i}").into_bytes()));
        script.push(sadd);
        let mut spop = cmd!("SPOP", "s");
        spop.extend(count.map(|c| c.as_bytes().to_vec()));
        script.push(spop);
    }
    script.extend([
        cmd!("SPOP", "missing"),
        cmd!("SPOP", "missing", "5"),
        cmd!("SET", "str", "x"),
        cmd!("SPOP", "str", "5"),
    ]);
    let found = differences(&mut d, &script);
    assert!(found.is_empty(), "{}", found.join("\n"));
    let (hits, _) = counters(&mut d.redis);
    assert_eq!(hits, 2, "the two whole-set SPOPs count a hit each in Redis");
}

/// Commands queued in MULTI count when EXEC runs them, as they would alone.
#[test]
fn transactions_count_their_reads() {
    let usher = Server::usher(&["--shards", "4", "--threads", "2"]);
    let redis = Server::redis(&[]);
    let mut d = Differ::new(&usher, &redis);
    let script: Vec<Cmd> = vec![
        cmd!("SET", "a", "1"),
        cmd!("MULTI"),
        cmd!("GET", "a"),
        cmd!("MGET", "a", "b", "c"),
        cmd!("INCR", "a"),
        cmd!("GETDEL", "a"),
        cmd!("EXISTS", "a"),
        cmd!("EXEC"),
        cmd!("MULTI"),
        cmd!("GET", "a"),
        cmd!("DISCARD"),
    ];
    let found = differences(&mut d, &script);
    assert!(found.is_empty(), "{}", found.join("\n"));
    let (hits, misses) = counters(&mut d.usher);
    assert_eq!(
        (hits, misses),
        (3, 3),
        "GET, MGET's a and GETDEL hit; b, c and EXISTS miss"
    );
}

#[test]
fn bitmaps_and_lcs_count_like_redis() {
    stats_follow_redis(
        &["--shards", "4", "--threads", "2"],
        &[
            gen::bitmap::bitmap,
            gen::lcs::lcs,
            gen::strings,
            gen::keyspace,
        ],
    );
}

#[test]
fn hyperloglogs_count_like_redis() {
    stats_follow_redis(
        &["--shards", "1", "--threads", "1"],
        &[gen::hll::hll, gen::strings, gen::keyspace, gen::keyspace],
    );
}

#[test]
fn geo_counts_like_redis() {
    stats_follow_redis(
        &["--shards", "4", "--threads", "2"],
        &[gen::geo::geo, gen::zset::zsets],
    );
}

#[test]
fn sort_counts_like_redis() {
    stats_follow_redis(&["--shards", "1", "--threads", "1"], &[gen::sort::sort]);
}
