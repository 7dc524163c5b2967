//! Random SORT and SORT_RO commands over a list, a set and a sorted set of numbers and words,
//! with BY (weights in strings and hash fields, a constant pattern, a missing pattern), GET
//! (`#`, strings, hash fields, missing keys), LIMIT (negative, past the end, malformed),
//! ASC/DESC, ALPHA and STORE, plus the writes that change the sources.
//!
//! [`setup`] gives every element a distinct weight, so sorts BY a pattern never tie, except
//! BY a missing pattern, which the generator uses only numerically (ties then fall back to
//! comparing the elements, a total order): a set's own iteration order, which differs between
//! servers, never shows.

use super::{Cmd, Gen};
use crate::cmd;

/// The elements the sources hold.
pub const ELEMENTS: [&str; 16] = [
    "1", "2", "3", "10", "-4", "2.5", "1e3", "0", "7", "a", "b", "c", "dd", "e", "x1", "",
];

pub const SOURCES: [&str; 3] = ["sl", "ss", "sz"];

/// Commands that give each element distinct weights (`w_<e>` numeric, `wa_<e>` words,
/// `h_<e>` hash fields) and fetchable values (`o_<e>`).
pub fn setup() -> Vec<Cmd> {
    let mut cmds = Vec::new();
    for (i, e) in ELEMENTS.iter().enumerate() {
        cmds.push(cmd!(
            "SET",
            format!("w_{e}"),
            format!("{}", (i as i64 * 7919) % 101 - 50)
        ));
        cmds.push(cmd!(
            "SET",
            format!("wa_{e}"),
            format!("k{:02}", (i * 5) % 16)
        ));
        cmds.push(cmd!(
            "HSET",
            format!("h_{e}"),
            "f",
            format!("{}", 100 - i),
            "g",
            format!("v{i}")
        ));
        if i % 3 != 0 {
            cmds.push(cmd!("SET", format!("o_{e}"), format!("obj-{e}")));
        }
    }
    cmds
}

fn element(g: &mut Gen) -> Vec<u8> {
    g.pick(&ELEMENTS).as_bytes().to_vec()
}

fn source(g: &mut Gen) -> Vec<u8> {
    if g.chance(10) {
        return g.key();
    }
    g.pick(&SOURCES).as_bytes().to_vec()
}

/// SORT-family commands and the source writes.
pub fn sort(g: &mut Gen) -> Cmd {
    match g.range(0, 12) {
        0 => cmd!("RPUSH", "sl", element(g), element(g)),
        1 => cmd!("SADD", "ss", element(g), element(g)),
        2 => cmd!("ZADD", "sz", g.range(-5, 5).to_string(), element(g)),
        3 => match g.range(0, 2) {
            0 => cmd!("LPOP", "sl"),
            1 => cmd!("SREM", "ss", element(g)),
            _ => cmd!("ZPOPMIN", "sz"),
        },
        4 => cmd!("LRANGE", "dst", "0", "-1"),
        _ => {
            let read_only = g.chance(25);
            let mut c = cmd!(if read_only { "SORT_RO" } else { "SORT" }, source(g));
            let alpha = g.chance(40);
            for _ in 0..g.range(0, 4) {
                match g.range(0, 10) {
                    0 => {
                        c.push(b"BY".to_vec());
                        let numeric = ["w_*", "h_*->f", "nosort", "missing_*", "w_*->f"];
                        let words = ["wa_*", "h_*->g", "nosort", "w_*"];
                        let pattern = if alpha {
                            *g.pick(&words)
                        } else {
                            *g.pick(&numeric)
                        };
                        c.push(pattern.as_bytes().to_vec());
                    }
                    1 | 2 => {
                        c.push(b"GET".to_vec());
                        c.push(
                            g.pick(&["#", "o_*", "h_*->g", "h_*->nofield", "nostar", "w_*"])
                                .as_bytes()
                                .to_vec(),
                        );
                    }
                    3 | 4 => {
                        c.push(b"LIMIT".to_vec());
                        c.push(
                            g.pick(&["0", "1", "3", "-1", "20", "x"])
                                .as_bytes()
                                .to_vec(),
                        );
                        c.push(
                            g.pick(&["0", "1", "2", "5", "-1", "100"])
                                .as_bytes()
                                .to_vec(),
                        );
                    }
                    5 => c.push(g.pick(&["ASC", "DESC", "desc"]).as_bytes().to_vec()),
                    6 if !read_only || g.chance(20) => {
                        c.push(b"STORE".to_vec());
                        c.push(b"dst".to_vec());
                    }
                    7 if g.chance(20) => {
                        c.push(g.pick(&["FOO", "LIMIT", "BY"]).as_bytes().to_vec())
                    }
                    _ => {}
                }
            }
            if alpha {
                c.push(b"ALPHA".to_vec());
            }
            c
        }
    }
}
