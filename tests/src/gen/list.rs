//! List-family commands for differential tests.
//!
//! Elements come from a small pool (so LREM, LPOS and LINSERT find their targets, and the
//! lists stay short enough to compare whole with LRANGE) that still covers integers, the empty
//! string, binary bytes and elements too long to store inline. Indexes and counts lean on the
//! edges: negative, past the ends, zero, the i64 limits and non-numbers.

use super::{Cmd, Gen};
use crate::cmd;
use rand::RngExt;

/// Keys only this generator uses, so most list commands meet lists (the shared pool also holds
/// strings, which give the WRONGTYPE paths). `la` and `lb` hash to different slots, so LMOVE
/// and LMPOP cross shards; the `{t}` ones share a slot with the shared pool's `{t}x`.
pub const LIST_KEYS: &[&str] = &["la", "lb", "{t}la", "{t}lb"];

/// A key: mostly a list-only one, else one from the shared pool.
pub fn key(g: &mut Gen) -> Vec<u8> {
    if g.chance(65) {
        g.pick(LIST_KEYS).as_bytes().to_vec()
    } else {
        g.key()
    }
}

/// 1..=n keys drawn like [`key`].
fn keys(g: &mut Gen, n: i64) -> Vec<Vec<u8>> {
    (0..g.range(1, n)).map(|_| key(g)).collect()
}

/// An element: mostly from a few values (so they repeat), sometimes long or odd.
pub fn element(g: &mut Gen) -> Vec<u8> {
    match g.range(0, 19) {
        0 => b"".to_vec(),
        1 => "x".repeat(g.range(20, 40) as usize).into_bytes(),
        2 => b"a b\r\nc\x00".to_vec(),
        3 => g.range(-3, 3).to_string().into_bytes(),
        4 => b"9223372036854775807".to_vec(),
        _ => g
            .pick(&["a", "b", "c", "d", "e", "pivot"])
            .as_bytes()
            .to_vec(),
    }
}

fn elements(g: &mut Gen, max: i64) -> Vec<Vec<u8>> {
    (0..g.range(1, max)).map(|_| element(g)).collect()
}

/// An index or range bound: mostly near the ends of short lists, sometimes extreme or invalid.
fn index(g: &mut Gen) -> Vec<u8> {
    match g.range(0, 15) {
        0 => g
            .pick(&["9223372036854775807", "-9223372036854775808"])
            .as_bytes()
            .to_vec(),
        1 => g
            .pick(&["abc", "1.5", "", "9223372036854775808", "-0", "+1", "01"])
            .as_bytes()
            .to_vec(),
        2 => g.range(-100, 100).to_string().into_bytes(),
        _ => g.range(-8, 8).to_string().into_bytes(),
    }
}

/// A count for LPOP/RPOP/LMPOP/LREM/LPOS options: small, zero, negative, huge or invalid.
fn count(g: &mut Gen) -> Vec<u8> {
    match g.range(0, 12) {
        0 => b"0".to_vec(),
        1 => b"-1".to_vec(),
        2 => g
            .pick(&["9223372036854775807", "-9223372036854775808", "abc", "1.0"])
            .as_bytes()
            .to_vec(),
        _ => g.range(1, 6).to_string().into_bytes(),
    }
}

fn side(g: &mut Gen) -> &'static str {
    match g.range(0, 20) {
        0 => "middle",
        1 => "Left",
        2 => "rIGHT",
        n if n % 2 == 0 => "LEFT",
        _ => "RIGHT",
    }
}

/// LPOS with a random mix of RANK, COUNT and MAXLEN (sometimes repeated, zero, negative,
/// missing their value or unknown).
fn lpos(g: &mut Gen, k: Vec<u8>) -> Cmd {
    let target = if g.chance(70) {
        g.pick(&["a", "b"]).as_bytes().to_vec()
    } else {
        element(g)
    };
    let mut c = cmd!("LPOS", k, target);
    for _ in 0..g.range(0, 3) {
        match g.range(0, 9) {
            0..=2 => {
                let rank = match g.range(0, 8) {
                    0 => "0".to_string(),
                    1 => g
                        .pick(&["-9223372036854775808", "9223372036854775807", "x"])
                        .to_string(),
                    _ => g.range(-4, 4).to_string(),
                };
                c.extend(cmd!("RANK", rank));
            }
            3..=5 => c.extend(cmd!("COUNT", count(g))),
            6 | 7 => c.extend(cmd!("MAXLEN", count(g))),
            _ => c.push(g.pick(&["RANK", "FOO", "count"]).as_bytes().to_vec()),
        }
    }
    c
}

/// LMPOP with a right or wrong numkeys, a side and an optional COUNT.
fn lmpop(g: &mut Gen) -> Cmd {
    let keys = keys(g, 3);
    let numkeys = match g.range(0, 20) {
        0 => g
            .pick(&["0", "-1", "abc", "9223372036854775807"])
            .to_string(),
        1 => (keys.len() + 1).to_string(),
        2 => (keys.len().saturating_sub(1)).to_string(),
        _ => keys.len().to_string(),
    };
    let mut c = cmd!("LMPOP", numkeys);
    c.extend(keys);
    if g.chance(97) {
        c.push(side(g).as_bytes().to_vec());
    }
    match g.range(0, 9) {
        0..=3 => {}
        4 | 5 => c.extend(cmd!("COUNT", count(g))),
        6 | 7 => c.extend(cmd!("COUNT", g.range(1, 10).to_string())),
        _ => c.push(g.pick(&["COUNT", "FOO"]).as_bytes().to_vec()),
    }
    if g.chance(5) {
        c.extend(cmd!("COUNT", "1"));
    }
    c
}

/// List-family commands (the non-blocking ones), malformed ones included.
pub fn lists(g: &mut Gen) -> Cmd {
    let k = key(g);
    match g.range(0, 36) {
        0..=3 => {
            let mut c = cmd!(*g.pick(&["LPUSH", "RPUSH"]), k);
            c.extend(elements(g, 5));
            c
        }
        4 => {
            let mut c = cmd!(*g.pick(&["LPUSHX", "RPUSHX"]), k);
            c.extend(elements(g, 3));
            c
        }
        5 | 6 => cmd!(*g.pick(&["LPOP", "RPOP"]), k),
        7 | 8 => cmd!(*g.pick(&["LPOP", "RPOP"]), k, count(g)),
        9 => cmd!("LLEN", k),
        10..=12 => cmd!("LRANGE", k, index(g), index(g)),
        13 => cmd!("LRANGE", k, "0", "-1"),
        14 => cmd!("LINDEX", k, index(g)),
        15 => cmd!("LSET", k, index(g), element(g)),
        16 => cmd!("LREM", k, count_or_negative(g), element(g)),
        17 => cmd!("LTRIM", k, index(g), index(g)),
        18 => {
            let pos = *g.pick(&["BEFORE", "AFTER", "before", "after", "MIDDLE"]);
            cmd!("LINSERT", k, pos, element(g), element(g))
        }
        19 | 20 => lpos(g, k),
        21 | 22 => cmd!("LMOVE", k, key(g), side(g), side(g)),
        23 => cmd!("RPOPLPUSH", k, key(g)),
        24 | 25 => lmpop(g),
        26 => cmd!("OBJECT", "ENCODING", k),
        27 => cmd!("TYPE", k),
        // Wrong arity.
        28 => match g.range(0, 5) {
            0 => cmd!("LPUSH", k),
            1 => cmd!("LPOP", k, "1", "2"),
            2 => cmd!("LRANGE", k, "0"),
            3 => cmd!("LMPOP", "1"),
            4 => cmd!("LMOVE", k, k, "LEFT"),
            _ => cmd!("LINSERT", k, "BEFORE", "a"),
        },
        29 => cmd!("LSET", k, g.range(-3, 3).to_string(), element(g)),
        30 => {
            let mut c = cmd!("RPUSH", k);
            c.extend((0..g.range(10, 40)).map(|i| format!("e{i}").into_bytes()));
            c
        }
        31 => cmd!("LINDEX", k, g.range(-3, 3).to_string()),
        // Clears the way for lists on keys the string family took.
        32 => cmd!("DEL", g.key()),
        33 => cmd!(
            "LTRIM",
            k,
            g.range(0, 3).to_string(),
            g.range(-3, 3).to_string()
        ),
        _ => {
            let mut c = cmd!(*g.pick(&["LPUSH", "RPUSH"]), k);
            c.extend(elements(g, 8));
            c
        }
    }
}

/// LREM's count: any sign, mostly small.
fn count_or_negative(g: &mut Gen) -> Vec<u8> {
    match g.rng.random_range(0..10) {
        0 => b"-9223372036854775808".to_vec(),
        1 => b"x".to_vec(),
        _ => g.range(-3, 3).to_string().into_bytes(),
    }
}
