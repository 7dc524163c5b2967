//! Random HyperLogLog commands: PFADD in batches from one element to a few hundred (so sparse
//! sketches grow, split and merge opcodes and turn dense), PFCOUNT of one key (which rewrites
//! the cached cardinality) and of several, PFMERGE, PFDEBUG, and GET of the raw bytes, which
//! must be identical on both servers. Mixed with the string generator, keys also hold plain
//! strings and integers (not sketches), and with the keyspace generator other types.

use super::{Cmd, Gen};
use crate::cmd;

/// An element: mostly from a pool of a few thousand, sometimes empty or binary.
pub fn element(g: &mut Gen) -> Vec<u8> {
    match g.range(0, 50) {
        0 => Vec::new(),
        1 => b"\x00\xff\r\n".to_vec(),
        2 => "long-element-".repeat(10).into_bytes(),
        _ => format!("e{}", g.range(0, 6000)).into_bytes(),
    }
}

/// HyperLogLog-family commands.
pub fn hll(g: &mut Gen) -> Cmd {
    let k = g.key();
    match g.range(0, 16) {
        0..=5 => {
            let mut c = cmd!("PFADD", k);
            let n = match g.range(0, 9) {
                0 => 0,
                1..=5 => g.range(1, 5),
                6 | 7 => g.range(20, 120),
                _ => g.range(300, 700),
            };
            for _ in 0..n {
                c.push(element(g));
            }
            c
        }
        6 | 7 => cmd!("PFCOUNT", k),
        8 => {
            let mut c = cmd!("PFCOUNT");
            c.extend(g.keys(3));
            c
        }
        9 | 10 => {
            let mut c = cmd!("PFMERGE", k);
            for _ in 0..g.range(0, 3) {
                c.push(g.key());
            }
            c
        }
        11 | 12 => cmd!("GET", k),
        13 => cmd!(
            "PFDEBUG",
            g.pick(&["ENCODING", "DECODE", "TODENSE", "encoding", "NOPE"]),
            k
        ),
        14 => cmd!("OBJECT", "ENCODING", k),
        _ => cmd!("STRLEN", k),
    }
}
