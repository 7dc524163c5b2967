//! The differential harness: the same commands against usher and redis-server, replies
//! compared exactly, after only the normalizations Redis's contract allows.
//!
//! Normalizations (by command name):
//! - unordered collections (`KEYS`, `SMEMBERS`, `HKEYS`, `HGETALL`, ...) are sorted;
//! - millisecond TTLs may differ by the time between the two calls (`PTTL`, `PEXPIRETIME`
//!   within 200 ms, `TTL` within 1 s).
//!
//! Everything else, error texts and double formatting included, must match byte for byte.

use crate::resp::{Client, Reply};
use crate::server::Server;

/// How a command's reply is compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compare {
    Exact,
    /// An array whose order is unspecified.
    Unordered,
    /// A flat array of pairs whose pair order is unspecified (HGETALL).
    UnorderedPairs,
    /// An integer that may differ by up to this much.
    Within(i64),
    /// Only the reply's shape (type, and length for arrays) must match: random commands.
    Shape,
}

/// The comparison rule for a command, by its (lower-case) name.
pub fn rule(args: &[Vec<u8>]) -> Compare {
    let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
    let sub = args
        .get(1)
        .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
        .unwrap_or_default();
    match name.as_str() {
        "keys" | "smembers" | "sinter" | "sunion" | "sdiff" | "hkeys" | "hvals" => {
            Compare::Unordered
        }
        "hgetall" => Compare::UnorderedPairs,
        "pttl" | "pexpiretime" => Compare::Within(200),
        "ttl" | "expiretime" => Compare::Within(1),
        "randomkey" | "spop" | "srandmember" | "hrandfield" | "zrandmember" => Compare::Shape,
        "object" if sub == "idletime" => Compare::Within(2),
        _ => Compare::Exact,
    }
}

fn sort_key(r: &Reply) -> String {
    format!("{r:?}")
}

fn shape(r: &Reply) -> String {
    match r {
        Reply::Array(v) | Reply::Set(v) | Reply::Push(v) => format!("array[{}]", v.len()),
        Reply::Error(e) => format!("error:{e}"),
        Reply::Bulk(_) => "bulk".into(),
        other => format!("{other:?}"),
    }
}

/// Applies `rule` to a reply so two equivalent replies compare equal.
pub fn normalize(rule: Compare, r: Reply) -> Reply {
    match (rule, r) {
        (Compare::Unordered, Reply::Array(mut v)) | (Compare::Unordered, Reply::Set(mut v)) => {
            v.sort_by_key(sort_key);
            Reply::Array(v)
        }
        (Compare::UnorderedPairs, Reply::Array(v)) => {
            let mut pairs: Vec<(Reply, Reply)> =
                v.chunks(2).map(|c| (c[0].clone(), c[1].clone())).collect();
            pairs.sort_by_key(|(k, _)| sort_key(k));
            Reply::Array(pairs.into_iter().flat_map(|(k, v)| [k, v]).collect())
        }
        (Compare::Shape, r) => Reply::Simple(shape(&r)),
        (_, r) => r,
    }
}

fn equivalent(rule: Compare, a: &Reply, b: &Reply) -> bool {
    match (rule, a, b) {
        (Compare::Within(d), Reply::Int(x), Reply::Int(y)) => {
            (x - y).abs() <= d && (*x < 0) == (*y < 0)
        }
        _ => a == b,
    }
}

/// One divergence between the servers.
#[derive(Debug)]
pub struct Mismatch {
    pub command: Vec<String>,
    pub usher: Reply,
    pub redis: Reply,
}

/// Connections to both servers, kept in lockstep.
pub struct Differ {
    pub usher: Client,
    pub redis: Client,
    /// The commands run so far (for failure reports).
    pub history: Vec<Vec<u8>>,
}

impl Differ {
    pub fn new(usher: &Server, redis: &Server) -> Differ {
        let mut d = Differ {
            usher: usher.client(),
            redis: redis.client(),
            history: Vec::new(),
        };
        d.both(&[b"FLUSHALL".to_vec()]);
        d
    }

    /// Sends a command to both servers and returns both replies, unnormalized.
    pub fn both(&mut self, args: &[Vec<u8>]) -> (Reply, Reply) {
        (self.usher.call(args), self.redis.call(args))
    }

    /// Runs `args` on both servers; Err describes the difference.
    pub fn check(&mut self, args: &[Vec<u8>]) -> Result<Reply, Box<Mismatch>> {
        self.history.push(render(args).into_bytes());
        let (u, r) = self.both(args);
        let rule = rule(args);
        let (nu, nr) = (normalize(rule, u.clone()), normalize(rule, r.clone()));
        if equivalent(rule, &nu, &nr) {
            Ok(r)
        } else {
            Err(Box::new(Mismatch {
                command: args
                    .iter()
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect(),
                usher: u,
                redis: r,
            }))
        }
    }

    /// Sends `batch` to both servers as one pipeline (one write each), then compares the
    /// replies in order, as [`Differ::check`] does one command at a time.
    pub fn check_pipelined(&mut self, batch: &[Vec<Vec<u8>>]) -> Result<(), Box<Mismatch>> {
        let bytes: Vec<u8> = batch.iter().flat_map(|c| Client::encode(c)).collect();
        self.usher.send_raw(&bytes);
        self.redis.send_raw(&bytes);
        let read_all = |c: &mut Client| -> Vec<Reply> {
            (0..batch.len())
                .map(|_| c.read().expect("a reply to every pipelined command"))
                .collect()
        };
        let (us, rs) = (read_all(&mut self.usher), read_all(&mut self.redis));
        for ((args, u), r) in batch.iter().zip(us).zip(rs) {
            self.history.push(render(args).into_bytes());
            let rule = rule(args);
            let (nu, nr) = (normalize(rule, u.clone()), normalize(rule, r.clone()));
            if !equivalent(rule, &nu, &nr) {
                return Err(Box::new(Mismatch {
                    command: args
                        .iter()
                        .map(|a| String::from_utf8_lossy(a).into_owned())
                        .collect(),
                    usher: u,
                    redis: r,
                }));
            }
        }
        Ok(())
    }

    /// Runs `args` and panics with the recent history on a mismatch.
    pub fn run(&mut self, args: &[Vec<u8>]) -> Reply {
        match self.check(args) {
            Ok(r) => r,
            Err(m) => panic!("{}", self.report(&m, None)),
        }
    }

    /// Runs a sequence, panicking at the first mismatch with `seed` in the message.
    pub fn run_all(&mut self, seq: &[Vec<Vec<u8>>], seed: u64) {
        for cmd in seq {
            if let Err(m) = self.check(cmd) {
                panic!("{}", self.report(&m, Some(seed)));
            }
        }
    }

    /// The text of a failure: the command, both replies and the commands before it.
    pub fn report(&self, m: &Mismatch, seed: Option<u64>) -> String {
        let start = self.history.len().saturating_sub(40);
        let recent: Vec<String> = self.history[start..]
            .iter()
            .map(|c| format!("    {}", String::from_utf8_lossy(c)))
            .collect();
        format!(
            "usher and redis-server differ{}\n  command: {:?}\n  usher:   {:?}\n  redis:   {:?}\n  last commands:\n{}",
            seed.map(|s| format!(" (seed {s}; rerun with USHER_DIFF_SEED={s})")).unwrap_or_default(),
            m.command,
            m.usher,
            m.redis,
            recent.join("\n")
        )
    }

    /// Runs the same full SCAN-style iteration on both servers and compares the union of what
    /// each returned (cursors differ by design; the set of elements must not).
    pub fn compare_scan(&mut self, prefix: &[&str], count: usize) {
        let collect = |c: &mut Client| {
            let mut cursor = "0".to_string();
            let mut seen = std::collections::BTreeSet::new();
            loop {
                let mut args: Vec<String> = prefix.iter().map(|s| s.to_string()).collect();
                args.insert(
                    if prefix[0].eq_ignore_ascii_case("scan") {
                        1
                    } else {
                        2
                    },
                    cursor.clone(),
                );
                args.extend(["COUNT".to_string(), count.to_string()]);
                let reply = c.call(&args);
                let items = reply.items();
                cursor = items[0].text();
                for item in items[1].items() {
                    seen.insert(format!("{item:?}"));
                }
                if cursor == "0" {
                    return seen;
                }
            }
        };
        let (u, r) = (collect(&mut self.usher), collect(&mut self.redis));
        assert_eq!(u, r, "full {} iterations differ", prefix.join(" "));
    }
}

/// A command as one printable line.
pub fn render(args: &[Vec<u8>]) -> String {
    args.iter()
        .map(|a| format!("{:?}", String::from_utf8_lossy(a)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The seed for a randomized test: `USHER_DIFF_SEED` or a fresh one (printed by failures).
pub fn seed() -> u64 {
    std::env::var("USHER_DIFF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random)
}

/// How many random commands a differential test runs (`USHER_DIFF_OPS`, default `default`).
pub fn ops(default: usize) -> usize {
    std::env::var("USHER_DIFF_OPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// Asserts that `COMMAND INFO` (name, arity, flags, key positions, ACL categories) and the
/// summary, since, group and complexity of `COMMAND DOCS` agree for each of `names`, as
/// redis-server 7.0.15 prints them: what clients and cluster proxies read to route commands.
pub fn assert_command_table_matches(usher: &mut Client, redis: &mut Client, names: &[&str]) {
    assert_command_table_matches_with_arity(usher, redis, names, &[]);
}

/// [`assert_command_table_matches`] where usher deliberately has another arity for some
/// commands (`("zrank", -3)`: Redis 7.2's WITHSCORE), checked against that value instead.
pub fn assert_command_table_matches_with_arity(
    usher: &mut Client,
    redis: &mut Client,
    names: &[&str],
    usher_arity: &[(&str, i64)],
) {
    let sorted = |r: &Reply| {
        let mut v: Vec<String> = r.items().iter().map(|x| format!("{x:?}")).collect();
        v.sort();
        v
    };
    for name in names {
        let ui = usher.call(&["COMMAND", "INFO", name]);
        let ri = redis.call(&["COMMAND", "INFO", name]);
        let (ui, ri) = (&ui.items()[0], &ri.items()[0]);
        assert!(
            !matches!(ui, Reply::Nil | Reply::NilArray | Reply::Null),
            "{name}: unknown to usher"
        );
        let (ui, ri) = (&ui.items()[..7], &ri.items()[..7]);
        assert_eq!(ui[0], ri[0], "{name}: name");
        match usher_arity.iter().find(|(n, _)| n == name) {
            Some(&(_, arity)) => assert_eq!(ui[1], Reply::Int(arity), "{name}: arity"),
            None => assert_eq!(ui[1], ri[1], "{name}: arity"),
        }
        assert_eq!(sorted(&ui[2]), sorted(&ri[2]), "{name}: flags");
        assert_eq!(&ui[3..6], &ri[3..6], "{name}: key positions");
        assert_eq!(sorted(&ui[6]), sorted(&ri[6]), "{name}: ACL categories");
        let doc = |c: &mut Client| {
            let reply = c.call(&["COMMAND", "DOCS", name]);
            let fields = reply.items()[1].items().to_vec();
            fields
                .chunks(2)
                .filter(|p| {
                    ["summary", "since", "group", "complexity"].contains(&p[0].text().as_str())
                })
                .map(|p| (p[0].text(), p[1].text()))
                .collect::<std::collections::BTreeMap<_, _>>()
        };
        assert_eq!(doc(usher), doc(redis), "{name}: COMMAND DOCS");
    }
}
