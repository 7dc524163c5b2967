//! Differential: HyperLogLog commands give the same replies on usher and on redis-server
//! 7.0.15, and leave the same bytes: every random run ends with a GET of each key, and GETs
//! run throughout, so the sparse opcodes, the sparse-to-dense promotion and the cached
//! cardinality in the header all must match byte for byte. Runs at the default
//! `hll-sparse-max-bytes` (3000) and at small and large ones (promotion early, or never).

use usher_tests::gen::hll::{element, hll};
use usher_tests::{cmd, diff, gen, Differ, Reply, Server};

fn args(list: &[&str]) -> Vec<Vec<u8>> {
    list.iter().map(|a| a.as_bytes().to_vec()).collect()
}

const KEYS: [&str; 8] = ["a", "b", "c", "d", "{t}x", "{t}y", "counter", "text"];

fn random_sequences_match(usher_args: &[&str], sparse_max: &str) {
    let usher = Server::usher(usher_args);
    let redis = Server::redis(&[]);
    let seed = diff::seed();
    let mut g = gen::Gen::new(seed);
    // Printed with the failure output (a crash ends the test before `report` can say it).
    eprintln!("seed {seed} (rerun with USHER_DIFF_SEED={seed})");
    let mut d = Differ::new(&usher, &redis);
    d.run(&args(&[
        "CONFIG",
        "SET",
        "hll-sparse-max-bytes",
        sparse_max,
    ]));
    let seq = g.sequence(
        diff::ops(3000),
        &[hll, hll, hll, hll, hll, gen::strings, gen::keyspace],
    );
    for c in &seq {
        match d.check(c) {
            // Redis keeps the registers a failing PFADD raised on a damaged sketch; usher keeps
            // the key unchanged (docs/compatibility.md). Resynchronize by dropping the key.
            Ok(Reply::Error(e)) if e.starts_with("INVALIDOBJ") && c[0] == b"PFADD" => {
                d.both(&[b"DEL".to_vec(), c[1].clone()]);
            }
            Ok(_) => {}
            Err(m) => panic!("{}", d.report(&m, Some(seed))),
        }
    }
    for key in KEYS {
        if let Err(m) = d.check(&[b"GET".to_vec(), key.as_bytes().to_vec()]) {
            panic!("{}", d.report(&m, Some(seed)));
        }
    }
}

#[test]
fn hll_matches_redis_with_one_shard() {
    random_sequences_match(&["--shards", "1", "--threads", "1"], "3000");
}

#[test]
fn hll_matches_redis_across_shards() {
    random_sequences_match(&["--shards", "4", "--threads", "2"], "3000");
}

#[test]
fn hll_matches_redis_with_small_and_large_sparse_limits() {
    random_sequences_match(&["--shards", "2", "--threads", "1"], "200");
    random_sequences_match(&["--shards", "2", "--threads", "1"], "20000");
}

/// Sparse to dense by growth, the bytes at each step, registers, merging sparse with dense,
/// sketches copied between keys with GET/SET, and every error path (not a string, not a
/// sketch, a damaged sketch, PFDEBUG misuse).
#[test]
fn hll_promotion_copies_and_errors_match_redis() {
    let usher = Server::usher(&["--shards", "1", "--threads", "1"]);
    let redis = Server::redis(&[]);
    let mut d = Differ::new(&usher, &redis);
    let mut g = gen::Gen::new(7);
    let mut promoted = false;
    for step in 0..60 {
        let mut c = cmd!("PFADD", "grow");
        for _ in 0..40 {
            c.push(element(&mut g));
        }
        d.run(&c);
        d.run(&args(&["GET", "grow"]));
        if step % 7 == 0 {
            d.run(&args(&["PFCOUNT", "grow"]));
        }
        let enc = d.run(&args(&["PFDEBUG", "ENCODING", "grow"]));
        promoted |= enc == Reply::Simple("dense".into());
    }
    assert!(promoted, "60 batches of 40 elements turn a sketch dense");
    for c in [
        cmd!("PFADD", "small", "x", "y", "z"),
        cmd!("PFDEBUG", "DECODE", "small"),
        cmd!("PFMERGE", "merged", "small", "grow"),
        cmd!("GET", "merged"),
        cmd!("PFCOUNT", "merged"),
        cmd!("PFCOUNT", "small", "grow", "nokey"),
        cmd!("PFMERGE", "small2", "small"),
        cmd!("GET", "small2"),
        cmd!("PFMERGE", "empty"),
        cmd!("GET", "empty"),
        cmd!("PFADD", "new"),
        cmd!("GET", "new"),
        cmd!("PFADD", "new"),
        cmd!("PFDEBUG", "GETREG", "small"),
        cmd!("PFDEBUG", "ENCODING", "small"),
        cmd!("GET", "small"),
        cmd!("PFDEBUG", "TODENSE", "small"),
        cmd!("PFDEBUG", "DECODE", "grow"),
        cmd!("PFDEBUG", "ENCODING", "nokey"),
        cmd!("PFDEBUG", "FOO", "small"),
        cmd!("PFDEBUG", "FOO", "nokey"),
        cmd!("SET", "plain", "hello"),
        cmd!("PFADD", "plain", "x"),
        cmd!("PFCOUNT", "plain"),
        cmd!("PFCOUNT", "plain", "small"),
        cmd!("PFMERGE", "small", "plain"),
        cmd!("PFDEBUG", "ENCODING", "plain"),
        cmd!("SET", "int", "12345678901234567"),
        cmd!("PFADD", "int", "x"),
        cmd!("LPUSH", "list", "x"),
        cmd!("PFADD", "list", "x"),
        cmd!("PFCOUNT", "small", "list"),
        cmd!("PFMERGE", "list", "small"),
        // A sparse sketch whose opcodes cover only 100 registers.
        cmd!(
            "SET",
            "broken",
            b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x40\x63".as_slice()
        ),
        cmd!("PFCOUNT", "broken"),
        cmd!("PFCOUNT", "broken", "small"),
        cmd!("PFMERGE", "out", "broken"),
        cmd!("EXISTS", "out"),
        cmd!("PFDEBUG", "TODENSE", "broken"),
        cmd!("PFDEBUG", "DECODE", "broken"),
        // A dense header on a string of the wrong size.
        cmd!(
            "SET",
            "short",
            b"HYLL\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00abc".as_slice()
        ),
        cmd!("PFCOUNT", "short"),
        cmd!(
            "SET",
            "badenc",
            b"HYLL\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x7f\xff".as_slice()
        ),
        cmd!("PFCOUNT", "badenc"),
        cmd!("PFCOUNT"),
        cmd!("PFDEBUG", "GETREG"),
        cmd!("PFSELFTEST", "extra"),
    ] {
        d.run(&c);
    }
    // A sketch copied through GET and SET keeps counting the same.
    let bytes = match d.redis.call(&["GET", "grow"]) {
        Reply::Bulk(b) => b,
        other => panic!("GET grow: {other:?}"),
    };
    d.run(&[b"SET".to_vec(), b"copy".to_vec(), bytes]);
    d.run(&args(&["PFADD", "copy", "one", "more", "element"]));
    d.run(&args(&["GET", "copy"]));
    d.run(&args(&["PFCOUNT", "copy"]));
    assert_eq!(usher.client().call(&["PFSELFTEST"]).text(), "OK");
}

/// The `hll-sparse-max-bytes` directive: Redis's default, units and errors, and its effect.
#[test]
fn hll_sparse_max_bytes_is_configured_like_redis() {
    let usher = Server::usher(&[]);
    let redis = Server::redis(&[]);
    let mut d = Differ::new(&usher, &redis);
    for c in [
        args(&["CONFIG", "GET", "hll-sparse-max-bytes"]),
        args(&["CONFIG", "SET", "hll-sparse-max-bytes", "1kb"]),
        args(&["CONFIG", "GET", "hll-sparse-max-bytes"]),
        args(&["CONFIG", "SET", "hll-sparse-max-bytes", "-1"]),
        args(&["CONFIG", "SET", "hll-sparse-max-bytes", "lots"]),
        args(&["CONFIG", "SET", "hll-sparse-max-bytes", "40"]),
        args(&[
            "PFADD", "h", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j",
        ]),
        args(&["PFDEBUG", "ENCODING", "h"]),
        args(&["GET", "h"]),
    ] {
        d.run(&c);
    }
}

#[test]
fn hll_command_table_matches_redis() {
    let usher = Server::usher(&[]);
    let redis = Server::redis(&[]);
    diff::assert_command_table_matches(
        &mut usher.client(),
        &mut redis.client(),
        &["pfadd", "pfcount", "pfmerge", "pfdebug", "pfselftest"],
    );
}

/// A damaged sparse sketch whose last opcode is an XZERO cut in half once crashed a worker
/// thread (a slice past the end). It is refused as a corrupt sketch, and the server goes on.
#[test]
fn a_sketch_ending_in_half_an_opcode_is_refused_not_a_crash() {
    let usher = Server::usher(&[]);
    let mut c = usher.client();
    let mut sketch = b"HYLL\x01\x00\x00\x00".to_vec();
    sketch.extend_from_slice(&[0u8; 8]);
    sketch.push(0x7f); // the first byte of an XZERO, its second missing
    c.call(&[b"SET".to_vec(), b"h".to_vec(), sketch]);
    for element in ["a", "b", "c", "d", "e", "f", "g", "h"] {
        let r = c.call(&["PFADD", "h", element]);
        assert!(r.is_error() && r.err().starts_with("INVALIDOBJ"), "{r:?}");
    }
    assert!(c.call(&["PING"]).is_simple("PONG"));
}
