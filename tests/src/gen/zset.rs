//! Sorted-set commands for differential tests.
//!
//! Keys come in three classes, so that every generated command has one right answer:
//! - general keys (`z1` ... and sometimes the shared pool's keys, which also hold strings and
//!   are renamed, copied and expired by the keyspace generator): any scores, STORE
//!   destinations, bulk adds that cross the listpack limits;
//! - small keys (`zs1`, `{t}zs2`): at most 12 short members, so they stay listpacks under
//!   every limit the tests use; any scores, and lex ranges on them (which with mixed scores
//!   depend on the encoding's walk) stay exact; ZSCAN on them is exact too (one call);
//! - lex keys (`zl1`, `{t}zl2`): every score 0, so lex ranges are well defined at any size.
//!   (On a *big* set with mixed scores Redis's lex commands depend on the skiplist's random
//!   levels, so no command generated here asks that.)
//!
//! Keys without a hash tag land on different shards in the multi-shard runs, so the multi-key
//! commands cross shards. Malformed commands (bad numbers, bad ranges, option conflicts,
//! wrong arity) are mixed in, since error texts must match too.

use super::{Cmd, Gen};
use crate::cmd;

const GENERAL: &[&str] = &["z1", "z2", "{t}z3", "{t}z4"];
const SMALL: &[&str] = &["zs1", "{t}zs2"];
const LEX: &[&str] = &["zl1", "{t}zl2"];
/// The only members small keys get: 12 members of at most 8 bytes.
const SMALL_MEMBERS: &[&str] = &["a", "b", "c", "d", "e", "f", "g", "1", "2", "-1", "10", ""];

/// Plain sets used as inputs of ZUNION/ZINTER/ZDIFF (every member scores 1). Only
/// [`set_inputs`] writes them; a test mixes it in when the server has the set commands, and
/// until then these keys are simply missing inputs.
const SET_KEYS: &[&str] = &["zsets:s1", "{t}zsets:s2"];

/// Every key the sorted-set generator may create, for full-scan comparisons at the end.
pub const ZSET_KEYS: &[&str] = &[
    "z1", "z2", "{t}z3", "{t}z4", "zs1", "{t}zs2", "zl1", "{t}zl2", "a", "b", "c", "d", "{t}x",
    "{t}y", "counter", "text",
];

fn general_key(g: &mut Gen) -> Vec<u8> {
    if g.chance(15) {
        g.key()
    } else {
        g.pick(GENERAL).as_bytes().to_vec()
    }
}

/// Any key a sorted-set read or removal may target.
fn any_key(g: &mut Gen) -> Vec<u8> {
    match g.range(0, 19) {
        0..=1 => g.pick(SMALL).as_bytes().to_vec(),
        2..=3 => g.pick(LEX).as_bytes().to_vec(),
        4 => b"nokey".to_vec(),
        5 => g.pick(SET_KEYS).as_bytes().to_vec(),
        _ => general_key(g),
    }
}

/// SADD/SREM on the plain-set keys (integer members too, so both set encodings occur), for
/// runs where the server has the set family.
pub fn set_inputs(g: &mut Gen) -> Cmd {
    let name = if g.chance(75) { "SADD" } else { "SREM" };
    let mut c = cmd!(name, g.pick(SET_KEYS));
    for _ in 0..g.range(1, 4) {
        c.push(small_member(g));
    }
    c
}

/// A key lex ranges are exact on.
fn lex_key(g: &mut Gen) -> Vec<u8> {
    if g.chance(50) {
        g.pick(SMALL).as_bytes().to_vec()
    } else {
        g.pick(LEX).as_bytes().to_vec()
    }
}

fn member(g: &mut Gen) -> Vec<u8> {
    match g.range(0, 19) {
        0..=9 => g.pick(SMALL_MEMBERS).as_bytes().to_vec(),
        10..=15 => format!("m{}", g.range(0, 40)).into_bytes(),
        16 => "y".repeat(10).into_bytes(),
        17 => "x".repeat(70).into_bytes(),
        18 => b"a\r\nb".to_vec(),
        _ => b"nosuchmember".to_vec(),
    }
}

fn small_member(g: &mut Gen) -> Vec<u8> {
    g.pick(SMALL_MEMBERS).as_bytes().to_vec()
}

/// A ZADD/ZINCRBY score, sometimes invalid.
fn score(g: &mut Gen) -> Vec<u8> {
    let s = match g.range(0, 29) {
        0..=11 => g.range(-5, 5).to_string(),
        12..=14 => g
            .pick(&[
                "1.5",
                "0.1",
                "-2.25",
                "3.3333333333333335",
                "1e-7",
                "123456789.125",
            ])
            .to_string(),
        15..=16 => g.pick(&["-0", "0", "+0", "-0.0"]).to_string(),
        17..=18 => g.pick(&["inf", "-inf", "+inf", "Infinity"]).to_string(),
        19 => g
            .pick(&[
                "1e308",
                "-1e308",
                "5e-324",
                "1e17",
                "4611686018427387904",
                "1e19",
            ])
            .to_string(),
        20 => g.pick(&["0x10", "1e2", "010", " 1", "1 "]).to_string(),
        21 => g.pick(&["abc", "nan", "", "1e400", "--1"]).to_string(),
        _ => g.range(0, 100).to_string(),
    };
    s.into_bytes()
}

/// One end of a score range, sometimes invalid.
fn score_bound(g: &mut Gen) -> Vec<u8> {
    let s = match g.range(0, 19) {
        0..=5 => g.range(-5, 5).to_string(),
        6..=8 => format!("({}", g.range(-5, 5)),
        9..=10 => g
            .pick(&["-inf", "+inf", "inf", "(-inf", "(+inf", "(inf"])
            .to_string(),
        11 => g
            .pick(&["1.5", "(1.5", "-0", "(-0", "(0", "0.1"])
            .to_string(),
        12 => g
            .pick(&["", "(", " 2", "( 2", "1e400", "(1e-400"])
            .to_string(),
        13 => g.pick(&["x", "nan", "(nan", "((1", "1)"]).to_string(),
        _ => g.range(0, 100).to_string(),
    };
    s.into_bytes()
}

/// One end of a lex range, sometimes invalid.
fn lex_bound(g: &mut Gen) -> Vec<u8> {
    let s = match g.range(0, 13) {
        0..=1 => g.pick(&["-", "+"]).to_string(),
        2..=5 => format!("[{}", String::from_utf8_lossy(&small_member(g))),
        6..=8 => format!("({}", String::from_utf8_lossy(&small_member(g))),
        9..=10 => format!("[m{}", g.range(0, 40)),
        11 => g.pick(&["(", "[", "(m", "[m3"]).to_string(),
        _ => g.pick(&["a", "", "+x", "-a", "1"]).to_string(),
    };
    s.into_bytes()
}

/// A rank index, sometimes extreme or invalid.
fn index(g: &mut Gen) -> Vec<u8> {
    match g.range(0, 19) {
        0..=12 => g.range(-6, 6).to_string().into_bytes(),
        13..=14 => g.range(-200, 200).to_string().into_bytes(),
        15 => g
            .pick(&["9223372036854775807", "-9223372036854775808"])
            .as_bytes()
            .to_vec(),
        16 => g
            .pick(&["x", "1.5", "", "9223372036854775808"])
            .as_bytes()
            .to_vec(),
        _ => b"-1".to_vec(),
    }
}

/// `LIMIT offset count`, usually valid.
fn limit(g: &mut Gen) -> Vec<Vec<u8>> {
    let offset = *g.pick(&["0", "0", "1", "2", "5", "-1", "200", "x"]);
    let count = *g.pick(&["-1", "1", "2", "3", "0", "-5", "100", "y"]);
    vec![b"LIMIT".to_vec(), offset.into(), count.into()]
}

/// Upper, lower or mixed case: options are case-insensitive.
fn word(g: &mut Gen, w: &str) -> Vec<u8> {
    match g.range(0, 5) {
        0 => w.to_ascii_lowercase().into_bytes(),
        1 => {
            let mut s = w.to_ascii_lowercase().into_bytes();
            s[0] = s[0].to_ascii_uppercase();
            s
        }
        _ => w.as_bytes().to_vec(),
    }
}

fn zadd(g: &mut Gen) -> Cmd {
    let class = g.range(0, 9);
    let (key, small) = match class {
        0..=1 => (g.pick(SMALL).as_bytes().to_vec(), true),
        _ => (general_key(g), false),
    };
    let mut c = cmd!("ZADD", key);
    let mut pairs = g.range(1, 3);
    if g.chance(40) {
        let flags = ["NX", "XX", "GT", "LT", "CH", "INCR"];
        for _ in 0..g.range(1, 2) {
            let f = *g.pick(&flags);
            if f == "INCR" && g.chance(80) {
                pairs = 1;
            }
            c.push(word(g, f));
        }
    }
    for _ in 0..pairs {
        c.push(score(g));
        c.push(if small { small_member(g) } else { member(g) });
    }
    if g.chance(3) {
        c.pop();
    }
    c
}

/// A lex key's ZADD: score 0 only, sometimes many members at once (crossing the limits).
fn zadd_lex(g: &mut Gen) -> Cmd {
    let key = g.pick(LEX).as_bytes().to_vec();
    let mut c = cmd!("ZADD", key);
    if g.chance(20) {
        let f = *g.pick(&["NX", "XX", "CH", "GT"]);
        c.push(f.into());
    }
    let n = if g.chance(10) {
        g.range(20, 150)
    } else {
        g.range(1, 4)
    };
    for _ in 0..n {
        c.push(b"0".to_vec());
        c.push(if g.chance(50) {
            small_member(g)
        } else {
            format!("m{}", g.range(0, 200)).into_bytes()
        });
    }
    c
}

/// Many members at once into a general key: the set crosses the listpack limits.
fn zadd_bulk(g: &mut Gen) -> Cmd {
    let mut c = cmd!("ZADD", g.pick(GENERAL));
    let (n, base) = (g.range(20, 180), g.range(0, 30));
    for i in 0..n {
        c.push(match g.range(0, 9) {
            0 => b"-0".to_vec(),
            1 => b"inf".to_vec(),
            2..=4 => format!("{}", g.range(-3, 3)).into_bytes(),
            _ => format!("{}.5", g.range(-1000, 1000)).into_bytes(),
        });
        c.push(format!("m{}", base + i).into_bytes());
    }
    c
}

fn zrange_opts(g: &mut Gen, c: &mut Cmd, allow_withscores: bool) {
    let opts = [
        "REV",
        "WITHSCORES",
        "LIMIT",
        "REV",
        "WITHSCORES",
        "LIMIT",
        "BYSCORE",
    ];
    for _ in 0..g.range(0, 2) {
        match *g.pick(&opts) {
            "LIMIT" => c.extend(limit(g)),
            "WITHSCORES" if !allow_withscores => c.push(b"WITHSCORES".to_vec()),
            other => {
                let w = word(g, other);
                c.push(w)
            }
        }
    }
}

fn range_cmd(g: &mut Gen) -> Cmd {
    match g.range(0, 11) {
        0..=2 => {
            let mut c = cmd!("ZRANGE", any_key(g), index(g), index(g));
            for _ in 0..g.range(0, 2) {
                match g.range(0, 19) {
                    0..=7 => c.push(word(g, "REV")),
                    8..=16 => c.push(word(g, "WITHSCORES")),
                    17 => c.extend(limit(g)),
                    _ => c.push(b"BYLEX".to_vec()),
                }
            }
            c
        }
        3..=4 => {
            let mut c = cmd!(
                "ZRANGE",
                any_key(g),
                score_bound(g),
                score_bound(g),
                "BYSCORE"
            );
            zrange_opts(g, &mut c, true);
            c
        }
        5 => {
            let mut c = cmd!("ZRANGE", lex_key(g), lex_bound(g), lex_bound(g), "BYLEX");
            for _ in 0..g.range(0, 2) {
                match g.range(0, 9) {
                    0..=4 => c.push(word(g, "REV")),
                    5..=8 => c.extend(limit(g)),
                    _ => c.push(b"WITHSCORES".to_vec()),
                }
            }
            c
        }
        6 => {
            let name = *g.pick(&["ZRANGEBYSCORE", "ZREVRANGEBYSCORE"]);
            let mut c = cmd!(name, any_key(g), score_bound(g), score_bound(g));
            for _ in 0..g.range(0, 2) {
                match g.range(0, 9) {
                    0..=4 => c.push(word(g, "WITHSCORES")),
                    5..=8 => c.extend(limit(g)),
                    _ => c.push(b"REV".to_vec()),
                }
            }
            c
        }
        7 => {
            let name = *g.pick(&["ZRANGEBYLEX", "ZREVRANGEBYLEX"]);
            let mut c = cmd!(name, lex_key(g), lex_bound(g), lex_bound(g));
            if g.chance(40) {
                c.extend(limit(g));
            }
            if g.chance(5) {
                c.push(b"WITHSCORES".to_vec());
            }
            c
        }
        8 => {
            let mut c = cmd!("ZREVRANGE", any_key(g), index(g), index(g));
            if g.chance(50) {
                c.push(word(g, "WITHSCORES"));
            }
            if g.chance(5) {
                c.extend(limit(g));
            }
            c
        }
        _ => {
            // ZRANGESTORE: destinations are general keys only.
            let dst = general_key(g);
            match g.range(0, 2) {
                0 => {
                    let mut c = cmd!("ZRANGESTORE", dst, any_key(g), index(g), index(g));
                    if g.chance(30) {
                        c.push(word(g, "REV"));
                    }
                    if g.chance(5) {
                        c.push(b"WITHSCORES".to_vec());
                    }
                    c
                }
                1 => {
                    let mut c = cmd!(
                        "ZRANGESTORE",
                        dst,
                        any_key(g),
                        score_bound(g),
                        score_bound(g),
                        "BYSCORE"
                    );
                    zrange_opts(g, &mut c, false);
                    c
                }
                _ => {
                    let mut c = cmd!(
                        "ZRANGESTORE",
                        dst,
                        lex_key(g),
                        lex_bound(g),
                        lex_bound(g),
                        "BYLEX"
                    );
                    if g.chance(40) {
                        c.extend(limit(g));
                    }
                    if g.chance(30) {
                        c.push(b"REV".to_vec());
                    }
                    c
                }
            }
        }
    }
}

/// ZUNION, ZINTER, ZDIFF, their STORE forms and ZINTERCARD.
fn setop_cmd(g: &mut Gen) -> Cmd {
    let (name, store) = *g.pick(&[
        ("ZUNION", false),
        ("ZINTER", false),
        ("ZDIFF", false),
        ("ZUNIONSTORE", true),
        ("ZINTERSTORE", true),
        ("ZDIFFSTORE", true),
        ("ZINTERCARD", false),
    ]);
    let mut c = cmd!(name);
    if store {
        c.push(general_key(g));
    }
    let n = g.range(1, 4);
    c.push(match g.range(0, 29) {
        0 => b"0".to_vec(),
        1 => b"-1".to_vec(),
        2 => b"x".to_vec(),
        3 => (n + 2).to_string().into_bytes(),
        _ => n.to_string().into_bytes(),
    });
    for _ in 0..n {
        c.push(any_key(g));
    }
    let (scored, card) = (
        !name.starts_with("ZDIFF") && name != "ZINTERCARD",
        name == "ZINTERCARD",
    );
    for _ in 0..g.range(0, 2) {
        // Mostly the options the command takes; sometimes any (a syntax error).
        let pick = match g.range(0, 9) {
            0 => g.range(0, 8),
            _ if card => 7,
            _ if !scored => 5,
            _ if store => g.range(0, 4),
            _ => g.range(0, 6),
        };
        match pick {
            0..=2 => {
                c.push(word(g, "WEIGHTS"));
                let count = if g.chance(10) { n + 1 } else { n };
                for _ in 0..count {
                    let w = g.pick(&["1", "2", "-1", "0", "0.5", "3", "inf", "-inf", "1e308", "x"]);
                    c.push(w.as_bytes().to_vec());
                }
            }
            3..=4 => {
                c.push(word(g, "AGGREGATE"));
                let how = *g.pick(&["SUM", "MIN", "MAX", "min", "avg"]);
                c.push(how.into());
            }
            5..=6 => c.push(word(g, "WITHSCORES")),
            _ => {
                c.push(word(g, "LIMIT"));
                let l = *g.pick(&["0", "1", "2", "-1", "x"]);
                c.push(l.into());
            }
        }
    }
    c
}

/// Sorted-set commands, valid and malformed.
pub fn zsets(g: &mut Gen) -> Cmd {
    match g.range(0, 41) {
        0..=5 => zadd(g),
        6..=7 => zadd_lex(g),
        8 => {
            if g.chance(25) {
                zadd_bulk(g)
            } else {
                zadd(g)
            }
        }
        9..=10 => {
            if g.chance(30) {
                cmd!("ZINCRBY", g.pick(SMALL), score(g), small_member(g))
            } else {
                cmd!("ZINCRBY", general_key(g), score(g), member(g))
            }
        }
        11..=12 => {
            let mut c = cmd!("ZREM", any_key(g));
            for _ in 0..g.range(1, 3) {
                c.push(member(g));
            }
            c
        }
        13 => cmd!("ZCARD", any_key(g)),
        14 => cmd!("ZSCORE", any_key(g), member(g)),
        15 => {
            let mut c = cmd!("ZMSCORE", any_key(g));
            for _ in 0..g.range(1, 3) {
                c.push(member(g));
            }
            c
        }
        16..=17 => {
            let name = *g.pick(&["ZRANK", "ZREVRANK"]);
            cmd!(name, any_key(g), member(g))
        }
        18 => cmd!("ZCOUNT", any_key(g), score_bound(g), score_bound(g)),
        19 => cmd!("ZLEXCOUNT", lex_key(g), lex_bound(g), lex_bound(g)),
        20..=25 => range_cmd(g),
        26 => cmd!(
            "ZREMRANGEBYSCORE",
            any_key(g),
            score_bound(g),
            score_bound(g)
        ),
        27 => cmd!("ZREMRANGEBYRANK", any_key(g), index(g), index(g)),
        28 => cmd!("ZREMRANGEBYLEX", lex_key(g), lex_bound(g), lex_bound(g)),
        29..=30 => {
            let name = *g.pick(&["ZPOPMIN", "ZPOPMAX"]);
            let mut c = cmd!(name, any_key(g));
            if g.chance(60) {
                c.push(
                    g.pick(&["0", "1", "2", "3", "10", "-1", "x"])
                        .as_bytes()
                        .to_vec(),
                );
            }
            if g.chance(3) {
                c.push(b"1".to_vec());
            }
            c
        }
        31 => {
            let n = g.range(1, 3);
            let mut c = cmd!("ZMPOP");
            c.push(match g.range(0, 19) {
                0 => b"0".to_vec(),
                1 => b"x".to_vec(),
                2 => (n + 1).to_string().into_bytes(),
                _ => n.to_string().into_bytes(),
            });
            for _ in 0..n {
                c.push(any_key(g));
            }
            c.push(g.pick(&["MIN", "MAX", "max", "mid"]).as_bytes().to_vec());
            if g.chance(50) {
                c.push(word(g, "COUNT"));
                c.push(g.pick(&["1", "2", "5", "0", "-1", "x"]).as_bytes().to_vec());
            }
            if g.chance(5) {
                c.extend([b"COUNT".to_vec(), b"1".to_vec()]);
            }
            c
        }
        32 => {
            let mut c = cmd!("ZRANDMEMBER", any_key(g));
            match g.range(0, 9) {
                0 => {}
                1 => c.push(
                    g.pick(&["x", "-9223372036854775808", "1.5"])
                        .as_bytes()
                        .to_vec(),
                ),
                2 => c.extend([
                    g.pick(&[
                        "-4611686018427387904",
                        "4611686018427387904",
                        "9223372036854775807",
                    ])
                    .as_bytes()
                    .to_vec(),
                    b"WITHSCORES".to_vec(),
                ]),
                3 => c.extend([b"3".to_vec(), b"FOO".to_vec()]),
                4 => c.push(b"9223372036854775807".to_vec()),
                _ => {
                    c.push(g.range(-6, 6).to_string().into_bytes());
                    if g.chance(50) {
                        c.push(word(g, "WITHSCORES"));
                    }
                }
            }
            c
        }
        33 => {
            // Exact only where one call returns everything: small keys; errors elsewhere.
            if g.chance(60) {
                let mut c = cmd!("ZSCAN", g.pick(SMALL), "0");
                if g.chance(40) {
                    c.extend([
                        b"MATCH".to_vec(),
                        g.pick(&["*", "a*", "?", "[a-c]", "m*"]).as_bytes().to_vec(),
                    ]);
                }
                if g.chance(30) {
                    c.extend([
                        b"COUNT".to_vec(),
                        g.pick(&["1", "100", "0", "x"]).as_bytes().to_vec(),
                    ]);
                }
                c
            } else {
                match g.range(0, 3) {
                    0 => cmd!("ZSCAN", any_key(g), g.pick(&["x", "-", "1a"])),
                    1 => cmd!("ZSCAN", any_key(g), "0", "COUNT", "0"),
                    2 => cmd!("ZSCAN", any_key(g), "0", "TYPE", "zset"),
                    _ => cmd!("ZSCAN", "nokey", "0", "MATCH"),
                }
            }
        }
        34..=37 => setop_cmd(g),
        38 => cmd!("OBJECT", "ENCODING", any_key(g)),
        39 => cmd!("TYPE", any_key(g)),
        _ => malformed(g),
    }
}

/// Wrong arity and other shapes every server must refuse the same way.
fn malformed(g: &mut Gen) -> Cmd {
    let k = any_key(g);
    match g.range(0, 13) {
        0 => cmd!("ZADD", k),
        1 => cmd!("ZADD", k, "1"),
        2 => cmd!("ZADD", k, "NX"),
        3 => cmd!("ZCARD"),
        4 => cmd!("ZSCORE", k),
        5 => cmd!("ZRANGE", k, "0"),
        6 => cmd!("ZINCRBY", k, "1"),
        7 => cmd!("ZPOPMIN"),
        8 => cmd!("ZUNIONSTORE", k),
        9 => cmd!("ZRANK", k),
        10 => cmd!("ZRANK", k, "a", "WITHSCORE", "x"),
        11 => cmd!("ZMPOP", "1", k),
        12 => cmd!("ZINTERCARD", "1"),
        _ => cmd!("ZREMRANGEBYLEX", k, "-"),
    }
}
