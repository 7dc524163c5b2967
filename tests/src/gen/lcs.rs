//! Random LCS commands over short strings from a four-letter alphabet (so subsequences and
//! contiguous ranges are common), with every option combination, negative and malformed
//! MINMATCHLEN values, and keys of other types.

use super::{Cmd, Gen};
use crate::cmd;

/// A short string over `ACGT` (sometimes empty, sometimes an integer).
pub fn dna(g: &mut Gen) -> Vec<u8> {
    match g.range(0, 12) {
        0 => Vec::new(),
        1 => g.range(0, 99999).to_string().into_bytes(),
        _ => {
            let n = g.range(1, 40);
            (0..n).map(|_| *g.pick(b"ACGT")).collect()
        }
    }
}

/// LCS commands, and SETs that give them inputs.
pub fn lcs(g: &mut Gen) -> Cmd {
    match g.range(0, 9) {
        0..=2 => cmd!("SET", g.key(), dna(g)),
        3 => cmd!("RPUSH", g.key(), "x"),
        _ => {
            let mut c = cmd!("LCS", g.key(), g.key());
            for _ in 0..g.range(0, 3) {
                match g.range(0, 6) {
                    0 => c.push(b"LEN".to_vec()),
                    1 | 2 => c.push(b"IDX".to_vec()),
                    3 => c.push(b"WITHMATCHLEN".to_vec()),
                    4 => {
                        c.push(b"MINMATCHLEN".to_vec());
                        c.push(
                            g.pick(&["0", "1", "2", "3", "5", "-1", "x"])
                                .as_bytes()
                                .to_vec(),
                        );
                    }
                    _ => c.push(g.pick(&["MINMATCHLEN", "FOO"]).as_bytes().to_vec()),
                }
            }
            c
        }
    }
}
