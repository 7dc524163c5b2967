//! Random stream commands: every stream command with valid and malformed arguments, on
//! explicit ids (and `ms-*`, which depends only on the stream) so both servers generate the
//! same ids, with two groups and three consumers so PELs move between them.
//!
//! Times differ between two servers (delivery times, seen-times, idle times), so
//! [`normalize_times`] blanks exactly those fields before replies are compared; claims use a
//! zero or a huge minimum idle time, which select the same entries on both.

use super::{Cmd, Gen};
use crate::cmd;
use crate::resp::Reply;

/// An id argument: mostly small explicit ids, sometimes the special forms and junk.
pub fn id(g: &mut Gen) -> Vec<u8> {
    match g.range(0, 30) {
        0 => b"0-0".to_vec(),
        1 => b"-".to_vec(),
        2 => b"+".to_vec(),
        3 => b"x".to_vec(),
        4 => b"1-x".to_vec(),
        5 => b"18446744073709551615-18446744073709551615".to_vec(),
        6 => format!("{}", g.range(0, 40)).into_bytes(),
        7 => format!("({}-{}", g.range(0, 40), g.range(0, 3)).into_bytes(),
        _ => format!("{}-{}", g.range(0, 40), g.range(0, 3)).into_bytes(),
    }
}

/// An id for XADD: growing explicit ids, `ms-*`, and some that are too small.
fn add_id(g: &mut Gen) -> Vec<u8> {
    match g.range(0, 12) {
        0 => b"0-0".to_vec(),
        1 => b"0-*".to_vec(),
        2..=4 => format!("{}-*", g.range(0, 60)).into_bytes(),
        5 => b"bad".to_vec(),
        _ => format!("{}-{}", g.range(0, 60), g.range(0, 4)).into_bytes(),
    }
}

fn group(g: &mut Gen) -> Vec<u8> {
    g.pick(&["g1", "g1", "g2", "nogroup"]).as_bytes().to_vec()
}

fn consumer(g: &mut Gen) -> Vec<u8> {
    g.pick(&["alice", "bob", "carol"]).as_bytes().to_vec()
}

/// Field/value pairs: often the same fields (so entries share their node's master fields).
fn pairs(g: &mut Gen, c: &mut Cmd) {
    let same = g.chance(60);
    for i in 0..g.range(1, 3) {
        let f = if same {
            format!("f{i}").into_bytes()
        } else {
            format!("x{}", g.range(0, 4)).into_bytes()
        };
        c.push(f);
        c.push(g.value());
    }
}

fn trim_opts(g: &mut Gen, c: &mut Cmd) {
    let strategy = *g.pick(&["MAXLEN", "MINID", "maxlen"]);
    c.push(strategy.as_bytes().to_vec());
    match g.range(0, 3) {
        0 => c.push(b"~".to_vec()),
        1 => c.push(b"=".to_vec()),
        _ => {}
    }
    if strategy.eq_ignore_ascii_case("MINID") {
        c.push(id(g));
    } else {
        c.push(
            g.pick(&["0", "1", "3", "5", "10", "-1", "x"])
                .as_bytes()
                .to_vec(),
        );
    }
    if g.chance(20) {
        c.push(b"LIMIT".to_vec());
        c.push(g.pick(&["0", "1", "4", "100", "-1"]).as_bytes().to_vec());
    }
}

/// Stream-family commands (no BLOCK: blocking is tested on its own).
pub fn streams(g: &mut Gen) -> Cmd {
    let k = g.key();
    match g.range(0, 34) {
        0..=5 => {
            let mut c = cmd!("XADD", k);
            if g.chance(10) {
                c.push(b"NOMKSTREAM".to_vec());
            }
            if g.chance(25) {
                trim_opts(g, &mut c);
            }
            c.push(add_id(g));
            pairs(g, &mut c);
            if g.chance(3) {
                c.pop();
            }
            c
        }
        6 | 7 => {
            let mut c = cmd!(*g.pick(&["XRANGE", "XREVRANGE"]), k, id(g), id(g));
            if g.chance(40) {
                c.push(b"COUNT".to_vec());
                c.push(g.pick(&["0", "1", "2", "5", "-1", "x"]).as_bytes().to_vec());
            }
            c
        }
        8 => cmd!(*g.pick(&["XRANGE", "XREVRANGE"]), k, "-", "+"),
        9 => cmd!("XLEN", k),
        10 => {
            let mut c = cmd!("XDEL", k);
            for _ in 0..g.range(1, 3) {
                c.push(id(g));
            }
            c
        }
        11 => {
            let mut c = cmd!("XTRIM", k);
            trim_opts(g, &mut c);
            c
        }
        12 | 13 => {
            let start = *g.pick(&["$", "0", "0-0", "5-0", "x"]);
            let mut c = cmd!("XGROUP", "CREATE", k, group(g), start);
            if g.chance(50) {
                c.push(b"MKSTREAM".to_vec());
            }
            if g.chance(15) {
                c.push(b"ENTRIESREAD".to_vec());
                c.push(g.pick(&["0", "3", "-1", "-2"]).as_bytes().to_vec());
            }
            c
        }
        14 => {
            let mut c = cmd!(
                "XGROUP",
                "SETID",
                k,
                group(g),
                *g.pick(&["$", "0", "3-0", "-", "x"])
            );
            if g.chance(30) {
                c.extend([
                    b"ENTRIESREAD".to_vec(),
                    g.pick(&["2", "-1", "-3"]).as_bytes().to_vec(),
                ]);
            }
            c
        }
        15 => cmd!("XGROUP", "DESTROY", k, group(g)),
        16 => cmd!(
            "XGROUP",
            *g.pick(&["CREATECONSUMER", "DELCONSUMER"]),
            k,
            group(g),
            consumer(g)
        ),
        17..=19 => {
            let mut c = cmd!("XREADGROUP", "GROUP", group(g), consumer(g));
            if g.chance(50) {
                c.push(b"COUNT".to_vec());
                c.push(g.pick(&["1", "2", "0", "-1"]).as_bytes().to_vec());
            }
            if g.chance(15) {
                c.push(b"NOACK".to_vec());
            }
            c.push(b"STREAMS".to_vec());
            c.push(k);
            c.push(
                g.pick(&[">", ">", ">", "0", "3-0", "$", "x"])
                    .as_bytes()
                    .to_vec(),
            );
            c
        }
        20 => {
            let mut c = cmd!("XREAD");
            if g.chance(50) {
                c.push(b"COUNT".to_vec());
                c.push(g.pick(&["1", "3", "0"]).as_bytes().to_vec());
            }
            let k2 = g.key();
            c.extend([b"STREAMS".to_vec(), k, k2, id(g), b"$".to_vec()]);
            if g.chance(5) {
                c.pop();
            }
            c
        }
        21 => {
            let mut c = cmd!("XACK", k, group(g));
            for _ in 0..g.range(1, 3) {
                c.push(id(g));
            }
            c
        }
        22 => cmd!("XPENDING", k, group(g)),
        23 => {
            let mut c = cmd!("XPENDING", k, group(g));
            if g.chance(25) {
                c.extend([
                    b"IDLE".to_vec(),
                    g.pick(&["0", "3600000", "x"]).as_bytes().to_vec(),
                ]);
            }
            c.extend([
                id(g),
                id(g),
                g.pick(&["10", "1", "0", "-5"]).as_bytes().to_vec(),
            ]);
            if g.chance(40) {
                c.push(consumer(g));
            }
            c
        }
        24 | 25 => {
            let min_idle = *g.pick(&["0", "0", "3600000", "-5", "x"]);
            let mut c = cmd!("XCLAIM", k, group(g), consumer(g), min_idle);
            for _ in 0..g.range(1, 3) {
                c.push(id(g));
            }
            let opts: [&[&str]; 8] = [
                &[],
                &["JUSTID"],
                &["FORCE"],
                &["RETRYCOUNT", "7"],
                &["IDLE", "5000"],
                &["LASTID", "30-0"],
                &["TIME", "x"],
                &["BOGUS"],
            ];
            c.extend(g.pick(&opts).iter().map(|s| s.as_bytes().to_vec()));
            c
        }
        26 => {
            let min_idle = *g.pick(&["0", "0", "3600000", "x"]);
            let mut c = cmd!("XAUTOCLAIM", k, group(g), consumer(g), min_idle, id(g));
            if g.chance(50) {
                c.extend([
                    b"COUNT".to_vec(),
                    g.pick(&["1", "2", "100", "0"]).as_bytes().to_vec(),
                ]);
            }
            if g.chance(30) {
                c.push(b"JUSTID".to_vec());
            }
            c
        }
        27 => cmd!("XINFO", "STREAM", k),
        28 => {
            let mut c = cmd!("XINFO", "STREAM", k, "FULL");
            if g.chance(40) {
                c.extend([
                    b"COUNT".to_vec(),
                    g.pick(&["1", "0", "3"]).as_bytes().to_vec(),
                ]);
            }
            c
        }
        29 => cmd!("XINFO", "GROUPS", k),
        30 => cmd!("XINFO", "CONSUMERS", k, group(g)),
        31 => {
            let mut c = cmd!("XSETID", k, id(g));
            if g.chance(30) {
                c.extend([
                    b"ENTRIESADDED".to_vec(),
                    g.pick(&["0", "100", "-1"]).as_bytes().to_vec(),
                ]);
            }
            if g.chance(30) {
                c.extend([b"MAXDELETEDID".to_vec(), id(g)]);
            }
            c
        }
        32 => cmd!("TYPE", k),
        _ => {
            let forms: [&[&str]; 6] = [
                &["XADD", "a", "*"],
                &["XADD", "a", "1-1", "f"],
                &["XLEN"],
                &["XRANGE", "a", "-"],
                &["XGROUP", "DESTROY", "a"],
                &["XREAD", "STREAMS"],
            ];
            g.pick(&forms)
                .iter()
                .map(|s| s.as_bytes().to_vec())
                .collect()
        }
    }
}

/// The generators the stream test mixes: streams, plus keyspace commands and strings on the
/// same keys so types collide (and streams are renamed, copied and deleted).
pub fn stream_mix() -> [fn(&mut Gen) -> Cmd; 6] {
    [streams, streams, streams, streams, streams, super::keyspace]
}

fn zero() -> Reply {
    Reply::Int(0)
}

/// Blanks the clock-dependent fields of a stream reply: XPENDING's idle times, XINFO
/// CONSUMERS' idle, XINFO STREAM FULL's delivery and seen times.
pub fn normalize_times(cmd: &Cmd, r: Reply) -> Reply {
    let name = String::from_utf8_lossy(&cmd[0]).to_ascii_lowercase();
    let sub = cmd
        .get(1)
        .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
        .unwrap_or_default();
    match (name.as_str(), sub.as_str(), r) {
        ("xpending", _, Reply::Array(rows)) if cmd.len() > 3 => Reply::Array(
            rows.into_iter()
                .map(|row| match row {
                    Reply::Array(mut f) if f.len() == 4 => {
                        f[2] = zero();
                        Reply::Array(f)
                    }
                    other => other,
                })
                .collect(),
        ),
        ("xinfo", "consumers", Reply::Array(cs)) => {
            Reply::Array(cs.into_iter().map(|c| blank_keys(c, &["idle"])).collect())
        }
        ("xinfo", "stream", r) if cmd.len() > 3 => blank_full(r),
        (_, _, r) => r,
    }
}

/// In a flat map `[k, v, ...]`, the values of `keys` become 0.
fn blank_keys(r: Reply, keys: &[&str]) -> Reply {
    let Reply::Array(mut v) = r else { return r };
    for i in (0..v.len().saturating_sub(1)).step_by(2) {
        if keys.iter().any(|k| v[i] == Reply::bulk(k)) {
            v[i + 1] = zero();
        }
    }
    Reply::Array(v)
}

fn map_value(v: &mut [Reply], key: &str, f: impl Fn(Reply) -> Reply) {
    for i in (0..v.len().saturating_sub(1)).step_by(2) {
        if v[i] == Reply::bulk(key) {
            let old = std::mem::replace(&mut v[i + 1], Reply::Nil);
            v[i + 1] = f(old);
        }
    }
}

/// Blanks times in XINFO STREAM FULL: group PEL rows `[id, consumer, time, count]`, consumer
/// seen-times and consumer PEL rows `[id, time, count]`.
fn blank_full(r: Reply) -> Reply {
    let Reply::Array(mut top) = r else { return r };
    let rows = |at: usize| {
        move |r: Reply| match r {
            Reply::Array(rows) => Reply::Array(
                rows.into_iter()
                    .map(|row| match row {
                        Reply::Array(mut f) if f.len() > at => {
                            f[at] = zero();
                            Reply::Array(f)
                        }
                        other => other,
                    })
                    .collect(),
            ),
            other => other,
        }
    };
    map_value(&mut top, "groups", |groups| match groups {
        Reply::Array(gs) => Reply::Array(
            gs.into_iter()
                .map(|grp| match grp {
                    Reply::Array(mut gv) => {
                        map_value(&mut gv, "pending", rows(2));
                        map_value(&mut gv, "consumers", |cs| match cs {
                            Reply::Array(cs) => Reply::Array(
                                cs.into_iter()
                                    .map(|c| match blank_keys(c, &["seen-time"]) {
                                        Reply::Array(mut cv) => {
                                            map_value(&mut cv, "pending", rows(1));
                                            Reply::Array(cv)
                                        }
                                        other => other,
                                    })
                                    .collect(),
                            ),
                            other => other,
                        });
                        Reply::Array(gv)
                    }
                    other => other,
                })
                .collect(),
        ),
        other => other,
    });
    Reply::Array(top)
}
