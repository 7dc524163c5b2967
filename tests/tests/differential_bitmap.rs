//! Differential: bitmap commands (SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD,
//! BITFIELD_RO) give the same replies on usher and on redis-server 7.0.15, byte for byte,
//! mixed with string and keyspace commands (so bitmaps meet integers, embstr and raw strings
//! and other types), with one shard and with several (BITOP then crosses shards).
//!
//! Both servers run with `proto-max-bulk-len` at 1 MB so the offset bound is cheap to reach.

use usher_tests::gen::bitmap::bitmap;
use usher_tests::{cmd, diff, gen, Differ, Server};

fn start(usher_args: &[&str]) -> (Server, Server) {
    let usher = Server::usher(usher_args);
    let redis = Server::redis(&[]);
    for s in [&usher, &redis] {
        let reply = s
            .client()
            .call(&["CONFIG", "SET", "proto-max-bulk-len", "1mb"]);
        assert_eq!(reply.text(), "OK");
    }
    (usher, redis)
}

fn random_sequences_match(usher_args: &[&str]) {
    let (usher, redis) = start(usher_args);
    let seed = diff::seed();
    let mut g = gen::Gen::new(seed);
    let mut d = Differ::new(&usher, &redis);
    let seq = g.sequence(
        diff::ops(6000),
        &[bitmap, bitmap, bitmap, bitmap, gen::strings, gen::keyspace],
    );
    d.run_all(&seq, seed);
    for key in ["a", "b", "c", "d", "{t}x", "{t}y", "counter", "text"] {
        d.run(&[b"GET".to_vec(), key.as_bytes().to_vec()]);
    }
}

#[test]
fn bitmap_commands_match_redis_with_one_shard() {
    random_sequences_match(&["--shards", "1", "--threads", "1"]);
}

#[test]
fn bitmap_commands_match_redis_across_shards() {
    random_sequences_match(&["--shards", "4", "--threads", "2"]);
}

/// The edges the random runs reach only by luck: the last addressable bit, BIT ranges that
/// start and end inside one byte, 64-bit signed fields, and every overflow policy at its limit.
#[test]
fn bitmap_edges_match_redis() {
    let (usher, redis) = start(&["--shards", "1", "--threads", "1"]);
    let mut d = Differ::new(&usher, &redis);
    let script: Vec<Vec<Vec<u8>>> = vec![
        cmd!("SETBIT", "big", "8388607", "1"),
        cmd!("STRLEN", "big"),
        cmd!("BITCOUNT", "big"),
        cmd!("BITPOS", "big", "1"),
        cmd!("BITPOS", "big", "0", "-1", "-1", "BIT"),
        cmd!("SETBIT", "big", "8388608", "1"),
        cmd!("GETBIT", "big", "8388608"),
        cmd!("BITFIELD", "big", "SET", "u8", "#1048576", "1"),
        cmd!("BITFIELD", "big", "GET", "u8", "#1048575"),
        cmd!("DEL", "big"),
        cmd!("SET", "s", "\u{ff}\u{f0}\u{00}"),
        cmd!("BITPOS", "s", "0"),
        cmd!("BITPOS", "s", "0", "0", "-1"),
        cmd!("BITPOS", "s", "1", "2"),
        cmd!("BITPOS", "s", "0", "3", "5", "BIT"),
        cmd!("BITPOS", "s", "1", "9", "9", "BIT"),
        cmd!("BITCOUNT", "s", "1", "6", "BIT"),
        cmd!("BITCOUNT", "s", "-5", "-1", "BIT"),
        cmd!("SET", "n", "12345"),
        cmd!("GETBIT", "n", "3"),
        cmd!("BITCOUNT", "n"),
        cmd!("SETBIT", "n", "0", "0"),
        cmd!("OBJECT", "ENCODING", "n"),
        cmd!("GET", "n"),
        cmd!("BITFIELD", "f", "SET", "i64", "0", "9223372036854775807"),
        cmd!("BITFIELD", "f", "INCRBY", "i64", "0", "1"),
        cmd!(
            "BITFIELD",
            "f",
            "OVERFLOW",
            "SAT",
            "INCRBY",
            "i64",
            "0",
            "-9223372036854775808",
            "INCRBY",
            "i64",
            "0",
            "-9223372036854775808"
        ),
        cmd!("BITFIELD", "f", "OVERFLOW", "FAIL", "INCRBY", "u63", "64", "-1", "GET", "u63", "64"),
        cmd!("BITFIELD", "f", "OVERFLOW", "SAT", "SET", "u2", "100", "9", "SET", "i3", "101", "-9"),
        cmd!(
            "BITFIELD", "f", "OVERFLOW", "WRAP", "INCRBY", "i5", "7", "100", "INCRBY", "u5", "#3",
            "-100"
        ),
        cmd!(
            "BITFIELD_RO",
            "f",
            "GET",
            "i64",
            "0",
            "GET",
            "u63",
            "1",
            "GET",
            "i1",
            "#5"
        ),
        cmd!("BITFIELD_RO", "f", "SET", "u8", "0", "1"),
        cmd!("BITFIELD", "f"),
        cmd!("BITFIELD", "nokey", "OVERFLOW", "FAIL", "SET", "u1", "0", "3"),
        cmd!("EXISTS", "nokey"),
        cmd!("GET", "f"),
        cmd!("LPUSH", "l", "x"),
        cmd!("SETBIT", "l", "1", "1"),
        cmd!("BITFIELD", "l", "GET", "u8", "0"),
        cmd!("BITFIELD", "l", "SET", "u8", "0", "1"),
        cmd!("BITOP", "AND", "dst", "s", "l"),
        cmd!("BITOP", "NOT", "dst", "s", "n"),
        cmd!("BITOP", "NOT", "dst", "s"),
        cmd!("GET", "dst"),
        cmd!("OBJECT", "ENCODING", "dst"),
        cmd!("BITOP", "OR", "dst", "none1", "none2"),
        cmd!("EXISTS", "dst"),
        cmd!("BITCOUNT", "l"),
        cmd!("BITCOUNT", "nokey", "x", "y"),
        cmd!("BITPOS", "nokey", "0", "x"),
        cmd!("BITPOS", "l", "0"),
    ];
    for c in &script {
        d.run(c);
    }
}

#[test]
fn bitmap_command_table_matches_redis() {
    let (usher, redis) = start(&["--shards", "1", "--threads", "1"]);
    diff::assert_command_table_matches(
        &mut usher.client(),
        &mut redis.client(),
        &[
            "setbit",
            "getbit",
            "bitcount",
            "bitpos",
            "bitop",
            "bitfield",
            "bitfield_ro",
            "lcs",
        ],
    );
}
