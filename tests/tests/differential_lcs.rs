//! Differential: LCS (plain, LEN, IDX, MINMATCHLEN, WITHMATCHLEN) gives the same replies on
//! usher and on redis-server 7.0.15, byte for byte, in RESP2 and RESP3 (IDX answers a map),
//! across shards, including its own error for keys of other types.

use usher_tests::gen::lcs::lcs;
use usher_tests::{cmd, diff, gen, Differ, Server};

fn random_sequences_match(resp3: bool) {
    let usher = Server::usher(&["--shards", "4", "--threads", "2"]);
    let redis = Server::redis(&[]);
    let seed = diff::seed();
    let mut g = gen::Gen::new(seed);
    let mut d = Differ::new(&usher, &redis);
    if resp3 {
        d.both(&[b"HELLO".to_vec(), b"3".to_vec()]);
    }
    let seq = g.sequence(diff::ops(3000), &[lcs, lcs, lcs, gen::keyspace]);
    d.run_all(&seq, seed);
}

#[test]
fn lcs_matches_redis_in_resp2() {
    random_sequences_match(false);
}

#[test]
fn lcs_matches_redis_in_resp3() {
    random_sequences_match(true);
}

#[test]
fn lcs_documented_examples_match_redis() {
    let usher = Server::usher(&[]);
    let redis = Server::redis(&[]);
    let mut d = Differ::new(&usher, &redis);
    for c in [
        cmd!("MSET", "key1", "ohmytext", "key2", "mynewtext"),
        cmd!("LCS", "key1", "key2"),
        cmd!("LCS", "key1", "key2", "LEN"),
        cmd!("LCS", "key1", "key2", "IDX"),
        cmd!("LCS", "key1", "key2", "IDX", "MINMATCHLEN", "4"),
        cmd!(
            "LCS",
            "key1",
            "key2",
            "IDX",
            "MINMATCHLEN",
            "4",
            "WITHMATCHLEN"
        ),
        cmd!("LCS", "key1", "key2", "IDX", "LEN"),
        cmd!("LCS", "key1"),
        cmd!("LCS", "key1", "nokey"),
    ] {
        d.run(&c);
    }
}
