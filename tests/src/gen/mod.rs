//! Random command generation for differential tests.
//!
//! A [`Gen`] draws keys from a small pool (so commands collide on the same keys and types
//! mix), values from a pool rich in edge cases (integers at the i64 limits, floats, empty and
//! binary strings), and produces whole commands per family, including malformed ones (wrong
//! arity, bad numbers, unknown options) since errors must match too.
//!
//! Each family has its own generator, `fn <family>(g: &mut Gen) -> Cmd`: strings and keyspace
//! here, the other data types and families in their own submodules; [`Gen::sequence`] mixes any set of them.

pub mod bitmap;
pub mod geo;
pub mod hash;
pub mod hll;
pub mod lcs;
pub mod list;
pub mod set;
pub mod sort;
pub mod stream;

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

pub mod zset;

/// One command: its arguments, name first.
pub type Cmd = Vec<Vec<u8>>;

pub struct Gen {
    pub rng: SmallRng,
    keys: Vec<Vec<u8>>,
}

/// Builds a command from anything byte-like.
#[macro_export]
macro_rules! cmd {
    ($($a:expr),* $(,)?) => { vec![$(AsRef::<[u8]>::as_ref(&$a).to_vec()),*] };
}

impl Gen {
    pub fn new(seed: u64) -> Gen {
        let keys = ["a", "b", "c", "d", "{t}x", "{t}y", "counter", "text"]
            .iter()
            .map(|k| k.as_bytes().to_vec())
            .collect();
        Gen {
            rng: SmallRng::seed_from_u64(seed),
            keys,
        }
    }

    pub fn chance(&mut self, percent: u32) -> bool {
        self.rng.random_range(0..100) < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.rng.random_range(0..items.len())]
    }

    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        self.rng.random_range(lo..=hi)
    }

    pub fn key(&mut self) -> Vec<u8> {
        let i = self.rng.random_range(0..self.keys.len());
        self.keys[i].clone()
    }

    /// 1..=n distinct-ish keys.
    pub fn keys(&mut self, n: usize) -> Vec<Vec<u8>> {
        let count = self.rng.random_range(1..=n);
        (0..count).map(|_| self.key()).collect()
    }

    /// A string value: mostly small integers (so INCR and friends work), plus edge cases.
    pub fn value(&mut self) -> Vec<u8> {
        let v: String = match self.rng.random_range(0..14) {
            0..=3 => self.range(-100, 100).to_string(),
            4 => self
                .pick(&[
                    "9223372036854775807",
                    "-9223372036854775808",
                    "9223372036854775806",
                    "-9223372036854775807",
                ])
                .to_string(),
            5 => self
                .pick(&[
                    "1.5", "-0.25", "3.0e3", "1e308", "0.1", "inf", "-inf", "nan", "007", "-0",
                    "+1", " 1",
                ])
                .to_string(),
            6 => String::new(),
            7 => "x".repeat(self.rng.random_range(20..60)),
            8 => "hello".to_string(),
            9 => "a b\r\nc".to_string(),
            10 => "9223372036854775808".to_string(),
            _ => format!("v{}", self.range(0, 50)),
        };
        v.into_bytes()
    }

    /// An integer argument, sometimes invalid.
    pub fn int_arg(&mut self, lo: i64, hi: i64) -> Vec<u8> {
        match self.rng.random_range(0..20) {
            0 => b"notanint".to_vec(),
            1 => b"1.5".to_vec(),
            2 => b"9223372036854775808".to_vec(),
            3 => self
                .pick(&["9223372036854775807", "-9223372036854775808"])
                .as_bytes()
                .to_vec(),
            _ => self.range(lo, hi).to_string().into_bytes(),
        }
    }

    /// A relative TTL argument in units of `unit_ms`, like [`Gen::int_arg`] but never one that
    /// runs out within a minute: each server starts the clock when its copy of the command
    /// arrives, so a key expiring mid-run could be found by one server and not by the other
    /// at the deadline. Non-positive TTLs (delete at once) stay, and are deterministic.
    pub fn ttl_arg(&mut self, lo: i64, hi: i64, unit_ms: i64) -> Vec<u8> {
        let arg = self.int_arg(lo, hi);
        let minute = 60_000 / unit_ms;
        match std::str::from_utf8(&arg)
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
        {
            Some(n) if (1..=minute).contains(&n) => (n + minute).to_string().into_bytes(),
            _ => arg,
        }
    }

    /// A float argument, sometimes invalid.
    pub fn float_arg(&mut self) -> Vec<u8> {
        let s = match self.rng.random_range(0..16) {
            0 => "abc".to_string(),
            1 => "nan".to_string(),
            2 => self.pick(&["inf", "-inf", "+inf"]).to_string(),
            3 => self
                .pick(&["1e308", "-1e308", "5e-324", "0x10", "1e", ""])
                .to_string(),
            4..=7 => self.range(-50, 50).to_string(),
            _ => format!("{:.3}", self.rng.random_range(-100.0..100.0)),
        };
        s.into_bytes()
    }

    /// A sequence of `n` commands drawn from `families` (each with equal weight).
    pub fn sequence(&mut self, n: usize, families: &[fn(&mut Gen) -> Cmd]) -> Vec<Cmd> {
        (0..n)
            .map(|_| {
                let f = *self.pick(families);
                f(self)
            })
            .collect()
    }
}

/// String-family commands.
pub fn strings(g: &mut Gen) -> Cmd {
    let k = g.key();
    match g.range(0, 27) {
        0 => cmd!("GET", k),
        1 => cmd!("SET", k, g.value()),
        2 => {
            let mut c = cmd!("SET", k, g.value());
            let opts: [&[&str]; 12] = [
                &["NX"],
                &["XX"],
                &["GET"],
                &["KEEPTTL"],
                &["EX", "100"],
                &["PX", "100000"],
                &["EX", "0"],
                &["EX", "-5"],
                &["EX", "abc"],
                &["NX", "XX"],
                &["KEEPTTL", "EX", "10"],
                &["FOO"],
            ];
            for _ in 0..g.range(1, 2) {
                c.extend(g.pick(&opts).iter().map(|s| s.as_bytes().to_vec()));
            }
            c
        }
        3 => cmd!("SETNX", k, g.value()),
        4 => cmd!("SETEX", k, g.ttl_arg(-1, 1000, 1000), g.value()),
        5 => cmd!("PSETEX", k, g.ttl_arg(-1, 100000, 1), g.value()),
        6 => cmd!("GETSET", k, g.value()),
        7 => cmd!("GETDEL", k),
        8 => {
            let mut c = cmd!("GETEX", k);
            let opts: [&[&str]; 6] = [
                &[],
                &["PERSIST"],
                &["EX", "100"],
                &["PX", "100000"],
                &["EX", "0"],
                &["BAD"],
            ];
            c.extend(g.pick(&opts).iter().map(|s| s.as_bytes().to_vec()));
            c
        }
        9 => {
            let mut c = cmd!("MGET");
            c.extend(g.keys(4));
            c
        }
        10 => {
            let mut c = cmd!("MSET");
            for _ in 0..g.range(1, 3) {
                c.push(g.key());
                c.push(g.value());
            }
            if g.chance(10) {
                c.pop();
            }
            c
        }
        11 => {
            let mut c = cmd!("MSETNX");
            for _ in 0..g.range(1, 3) {
                c.push(g.key());
                c.push(g.value());
            }
            c
        }
        12 => cmd!("APPEND", k, g.value()),
        13 => cmd!("STRLEN", k),
        14 => cmd!("INCR", k),
        15 => cmd!("DECR", k),
        16 => cmd!("INCRBY", k, g.int_arg(-1000, 1000)),
        17 => cmd!("DECRBY", k, g.int_arg(-1000, 1000)),
        18 => cmd!("INCRBYFLOAT", k, g.float_arg()),
        19 => cmd!("GETRANGE", k, g.int_arg(-10, 10), g.int_arg(-10, 10)),
        20 => cmd!("SETRANGE", k, g.int_arg(-1, 40), g.value()),
        21 => cmd!("SUBSTR", k, g.int_arg(-5, 5), g.int_arg(-5, 5)),
        22 => cmd!("OBJECT", "ENCODING", k),
        23 => cmd!("SET", k),
        24 => cmd!("GET", k, "extra"),
        25 => cmd!("INCRBY", k),
        26 => cmd!("STRLEN", k, "extra"),
        _ => cmd!("SET", k, g.value(), "GET"),
    }
}

/// Keyspace commands (type-agnostic), avoiding ones whose result depends on wall-clock races.
pub fn keyspace(g: &mut Gen) -> Cmd {
    let (k, k2) = (g.key(), g.key());
    match g.range(0, 24) {
        0 => {
            let mut c = cmd!("DEL");
            c.extend(g.keys(3));
            c
        }
        1 => {
            let mut c = cmd!("EXISTS");
            c.extend(g.keys(3));
            c
        }
        2 => cmd!("TYPE", k),
        3 => cmd!("RENAME", k, k2),
        4 => cmd!("RENAMENX", k, k2),
        5 => cmd!("EXPIRE", k, g.ttl_arg(-10, 1000, 1000)),
        6 => {
            let flag = *g.pick(&["NX", "XX", "GT", "LT", "FOO"]);
            // Over a minute, for the reason in `Gen::ttl_arg`.
            cmd!("EXPIRE", k, g.range(61, 1000).to_string(), flag)
        }
        7 => cmd!("PEXPIRE", k, g.ttl_arg(-10, 1_000_000, 1)),
        8 => cmd!("EXPIREAT", k, g.int_arg(-10, 4_000_000_000)),
        9 => cmd!("PEXPIREAT", k, g.pick(&["4000000000000", "1", "0", "-1"])),
        10 => cmd!("TTL", k),
        11 => cmd!("PTTL", k),
        12 => cmd!("PERSIST", k),
        13 => cmd!("EXPIRETIME", k),
        14 => cmd!("PEXPIRETIME", k),
        15 => {
            let mut c = cmd!("COPY", k, k2);
            if g.chance(50) {
                c.push(b"REPLACE".to_vec());
            }
            if g.chance(20) {
                c.extend([
                    b"DB".to_vec(),
                    g.pick(&["0", "1", "16", "x"]).as_bytes().to_vec(),
                ]);
            }
            c
        }
        16 => cmd!("MOVE", k, g.pick(&["0", "1", "2", "99", "x"])),
        17 => cmd!(
            "KEYS",
            g.pick(&["*", "a*", "{t}*", "?", "[ab]", "*x*", "nomatch"])
        ),
        18 => cmd!("DBSIZE"),
        19 => {
            let mut c = cmd!("TOUCH");
            c.extend(g.keys(3));
            c
        }
        20 => {
            let mut c = cmd!("UNLINK");
            c.extend(g.keys(2));
            c
        }
        21 => cmd!("OBJECT", "ENCODING", k),
        22 => cmd!("EXPIRE", k, "100", "NX", "XX"),
        23 => cmd!("RANDOMKEY"),
        _ => cmd!(
            "SWAPDB",
            g.pick(&["0", "1", "x", "99"]),
            g.pick(&["0", "1"])
        ),
    }
}
