//! Differential: random string and keyspace command sequences give the same replies on usher
//! and on redis-server 7.0.15, with one shard and with several (multi-key commands then cross
//! shards).

use usher_tests::{diff, gen, Differ, Server};

fn random_sequences_match(usher_args: &[&str]) {
    let usher = Server::usher(usher_args);
    let redis = Server::redis(&[]);
    let seed = diff::seed();
    let mut g = gen::Gen::new(seed);
    let mut d = Differ::new(&usher, &redis);
    let seq = g.sequence(
        diff::ops(5000),
        &[gen::strings, gen::strings, gen::keyspace],
    );
    d.run_all(&seq, seed);
    d.compare_scan(&["SCAN"], 3);
}

#[test]
fn strings_and_keys_match_redis_with_one_shard() {
    random_sequences_match(&["--shards", "1", "--threads", "1"]);
}

#[test]
fn strings_and_keys_match_redis_across_shards() {
    random_sequences_match(&["--shards", "4", "--threads", "2"]);
}
