//! Random hash commands: every hash command with valid and malformed arguments, fields and
//! values around the listpack limits (more than 512 fields, fields and values longer than 64
//! bytes) so encodings convert, and counters at the i64 and long-double edges.

use super::{Cmd, Gen};
use crate::cmd;
use rand::RngExt;

/// A field: mostly from a small pool (so commands hit the same fields), sometimes one longer
/// than `hash-max-listpack-value` (64 bytes), empty, or binary.
pub fn field(g: &mut Gen) -> Vec<u8> {
    match g.range(0, 40) {
        0 => "long-field-".repeat(7).into_bytes(),
        1 => Vec::new(),
        2 => b"f\r\n\x00".to_vec(),
        3 => b"1".to_vec(),
        _ => format!("f{}", g.range(0, 9)).into_bytes(),
    }
}

/// A value: the shared value pool plus, sometimes, one longer than 64 bytes.
pub fn hvalue(g: &mut Gen) -> Vec<u8> {
    if g.chance(4) {
        return "v".repeat(g.rng.random_range(60..80)).into_bytes();
    }
    g.value()
}

/// 1..=n fields.
fn fields(g: &mut Gen, n: usize) -> Vec<Vec<u8>> {
    let count = g.rng.random_range(1..=n);
    (0..count).map(|_| field(g)).collect()
}

/// A count for HRANDFIELD: small ones of both signs, sizes around the hash's, and edge cases
/// (negative counts stay small: Redis would really send that many replies).
fn rand_count(g: &mut Gen) -> Vec<u8> {
    g.pick(&[
        "0",
        "1",
        "2",
        "3",
        "5",
        "10",
        "100",
        "-1",
        "-3",
        "-12",
        "9223372036854775807",
        "-9223372036854775808",
        "4611686018427387903",
        "4611686018427387904",
        "x",
        "1.5",
    ])
    .as_bytes()
    .to_vec()
}

/// Hash-family commands.
pub fn hashes(g: &mut Gen) -> Cmd {
    let k = g.key();
    match g.range(0, 31) {
        0..=3 => {
            let mut c = cmd!(*g.pick(&["HSET", "HSET", "HMSET"]), k);
            for _ in 0..g.range(1, 4) {
                c.push(field(g));
                c.push(hvalue(g));
            }
            if g.chance(5) {
                c.pop();
            }
            c
        }
        4 => {
            // A big write: crosses hash-max-listpack-entries (512), or stays just under it.
            let n = *g.pick(&[100, 511, 512, 513, 600]);
            let mut c = cmd!("HSET", k);
            for i in 0..n {
                c.push(format!("big{i}").into_bytes());
                c.push(format!("{}", i * 7).into_bytes());
            }
            c
        }
        5 => cmd!("HSETNX", k, field(g), hvalue(g)),
        6 | 7 => cmd!("HGET", k, field(g)),
        8 => {
            let mut c = cmd!("HMGET", k);
            c.extend(fields(g, 4));
            c
        }
        9 => cmd!("HGETALL", k),
        10 | 11 => {
            let mut c = cmd!("HDEL", k);
            c.extend(fields(g, 3));
            c
        }
        12 => cmd!("HEXISTS", k, field(g)),
        13 => cmd!("HLEN", k),
        14 => cmd!("HKEYS", k),
        15 => cmd!("HVALS", k),
        16 | 17 => cmd!("HINCRBY", k, field(g), g.int_arg(-1000, 1000)),
        18 | 19 => cmd!("HINCRBYFLOAT", k, field(g), g.float_arg()),
        20 => cmd!("HSTRLEN", k, field(g)),
        21 => cmd!("HRANDFIELD", k),
        22 | 23 => cmd!("HRANDFIELD", k, rand_count(g)),
        24 => {
            let with = *g.pick(&["WITHVALUES", "withvalues", "WITHVALUE", "x"]);
            // -2^62 is out of range with WITHVALUES only; without, Redis would send 2^62 fields.
            let count = match g.chance(5) {
                true => b"-4611686018427387904".to_vec(),
                false => rand_count(g),
            };
            let mut c = cmd!("HRANDFIELD", k, count, with);
            if g.chance(10) {
                c.push(b"WITHVALUES".to_vec());
            }
            c
        }
        25 | 26 => {
            let cursor = *g.pick(&["0", "0", "0", "7", "-1", "x", "18446744073709551616"]);
            let mut c = cmd!("HSCAN", k, cursor);
            let opts: [&[&str]; 8] = [
                &[],
                &["MATCH", "f*"],
                &["MATCH", "big1*"],
                &["COUNT", "5"],
                &["COUNT", "1000"],
                &["COUNT", "0"],
                &["MATCH"],
                &["TYPE", "hash"],
            ];
            c.extend(g.pick(&opts).iter().map(|s| s.as_bytes().to_vec()));
            c
        }
        27 => cmd!("OBJECT", "ENCODING", k),
        28 => cmd!("TYPE", k),
        29 => {
            // Wrong arity forms.
            let forms: [&[&str]; 8] = [
                &["HGET", "a"],
                &["HSET", "a", "f"],
                &["HSETNX", "a", "f"],
                &["HINCRBY", "a", "f"],
                &["HLEN"],
                &["HSCAN", "a"],
                &["HDEL", "a"],
                &["HGETALL", "a", "b"],
            ];
            g.pick(&forms)
                .iter()
                .map(|s| s.as_bytes().to_vec())
                .collect()
        }
        _ => cmd!("HINCRBY", k, field(g), g.int_arg(-3, 3)),
    }
}

/// The generators the hash test mixes: hashes, plus strings and keyspace commands on the same
/// keys so types collide.
pub fn hash_mix() -> [fn(&mut Gen) -> Cmd; 6] {
    [
        hashes,
        hashes,
        hashes,
        hashes,
        super::keyspace,
        super::strings,
    ]
}
