//! Random set commands, and [`run_checked`], the driver the hash and set differential tests
//! share.
//!
//! Members lean on canonical integers so intsets form, mixed with non-canonical numbers
//! (`007`, `-0`, `+1`), strings and long members that force hashtables, and occasional bulk
//! adds that cross `set-max-intset-entries` (512).
//!
//! [`run_checked`] runs a sequence through [`Differ`] like `run_all`, with extra rules for what
//! plain reply comparison cannot judge:
//! - SPOP, SRANDMEMBER, HRANDFIELD: replies must have Redis's shape and size, hold only members
//!   (and their values) that exist, be unique where Redis's are, and equal Redis's exactly when
//!   Redis's answer is deterministic (the whole collection). After an SPOP that removed
//!   different members on the two servers, the key is rebuilt identically on both (same
//!   members, encoding and TTL as redis-server's) so the run can go on.
//! - SMEMBERS, HGETALL, HKEYS, HVALS, SUNION, SDIFF, SINTER are compared as sets by the harness;
//!   here they must also match *in order* whenever Redis's order is deterministic (a listpack
//!   hash, an intset, an all-integer result small enough to be an intset).
//! - HSCAN and SSCAN must match exactly on compact encodings (one call, cursor 0); on hashtables
//!   a full iteration with the same options is compared as a set instead.

use super::{Cmd, Gen};
use crate::diff::{self, Compare, Differ, Mismatch};
use crate::resp::Reply;
use crate::{cmd, gen};
use rand::RngExt;
use std::collections::{BTreeMap, BTreeSet};

/// A member: mostly small canonical integers (so intsets form), plus what breaks an intset.
pub fn member(g: &mut Gen) -> Vec<u8> {
    let m = match g.range(0, 19) {
        0..=10 => g.range(-5, 30).to_string(),
        11 => g
            .pick(&["007", "-0", "+1", " 1", "1.0", "0x10"])
            .to_string(),
        12 => g
            .pick(&[
                "9223372036854775807",
                "-9223372036854775808",
                "9223372036854775808",
            ])
            .to_string(),
        13 => String::new(),
        14 => "long-member-".repeat(6),
        _ => format!("m{}", g.range(0, 9)),
    };
    m.into_bytes()
}

/// 1..=n members; half the time integers only, so that intsets live long enough to matter.
fn members(g: &mut Gen, n: usize) -> Vec<Vec<u8>> {
    let count = g.rng.random_range(1..=n);
    if g.chance(50) {
        return (0..count)
            .map(|_| g.range(-5, 30).to_string().into_bytes())
            .collect();
    }
    (0..count).map(|_| member(g)).collect()
}

fn count_arg(g: &mut Gen) -> Vec<u8> {
    g.pick(&[
        "0",
        "1",
        "2",
        "3",
        "5",
        "10",
        "100",
        "600",
        "-1",
        "-4",
        "-15",
        "9223372036854775807",
        "-9223372036854775808",
        "x",
        "",
    ])
    .as_bytes()
    .to_vec()
}

/// Set-family commands.
pub fn sets(g: &mut Gen) -> Cmd {
    let (k, k2) = (g.key(), g.key());
    match g.range(0, 36) {
        0..=4 => {
            let mut c = cmd!("SADD", k);
            c.extend(members(g, 5));
            c
        }
        5 => {
            // A bulk add of integers: stays an intset up to 512 members, converts past it.
            let start = g.range(-10, 300);
            let n = *g.pick(&[100, 300, 511, 512, 513, 600]);
            let mut c = cmd!("SADD", k);
            c.extend((start..start + n).map(|i| i.to_string().into_bytes()));
            c
        }
        6 | 7 => {
            let mut c = cmd!("SREM", k);
            c.extend(members(g, 4));
            c
        }
        8 => cmd!("SCARD", k),
        9 => cmd!("SISMEMBER", k, member(g)),
        10 => {
            let mut c = cmd!("SMISMEMBER", k);
            c.extend(members(g, 4));
            c
        }
        11 => cmd!("SMEMBERS", k),
        12 => cmd!("SPOP", k),
        13 => {
            let mut c = cmd!("SPOP", k, count_arg(g));
            if g.chance(5) {
                c.push(b"1".to_vec());
            }
            c
        }
        14 => cmd!("SRANDMEMBER", k),
        15 | 16 => {
            let mut c = cmd!("SRANDMEMBER", k, count_arg(g));
            if g.chance(5) {
                c.push(b"1".to_vec());
            }
            c
        }
        17 | 18 => cmd!("SMOVE", k, k2, member(g)),
        19..=21 => {
            let name = *g.pick(&["SINTER", "SUNION", "SDIFF"]);
            let mut c = cmd!(name);
            c.extend(g.keys(4));
            c
        }
        22..=24 => {
            let name = *g.pick(&["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"]);
            let mut c = cmd!(name, g.key());
            c.extend(g.keys(3));
            c
        }
        25 | 26 => sintercard(g),
        27 | 28 => {
            let cursor = *g.pick(&["0", "0", "0", "3", "x", "-1"]);
            let mut c = cmd!("SSCAN", k, cursor);
            let opts: [&[&str]; 8] = [
                &[],
                &["MATCH", "1*"],
                &["MATCH", "m*"],
                &["COUNT", "3"],
                &["COUNT", "1000"],
                &["COUNT", "-1"],
                &["MATCH", "*", "COUNT", "2"],
                &["NOVALUES"],
            ];
            c.extend(g.pick(&opts).iter().map(|s| s.as_bytes().to_vec()));
            c
        }
        29 | 30 => cmd!("OBJECT", "ENCODING", k),
        31 => cmd!("TYPE", k),
        32 => {
            let forms: [&[&str]; 7] = [
                &["SADD", "a"],
                &["SREM", "a"],
                &["SMOVE", "a", "b"],
                &["SINTER"],
                &["SINTERSTORE", "a"],
                &["SINTERCARD", "1"],
                &["SSCAN", "a"],
            ];
            g.pick(&forms)
                .iter()
                .map(|s| s.as_bytes().to_vec())
                .collect()
        }
        _ => {
            let mut c = cmd!("SADD", k);
            c.extend(members(g, 2));
            c
        }
    }
}

fn sintercard(g: &mut Gen) -> Cmd {
    let keys = g.keys(3);
    let numkeys = match g.range(0, 9) {
        0 => "0".to_string(),
        1 => "x".to_string(),
        2 => (keys.len() + 2).to_string(),
        3 => "-1".to_string(),
        _ => keys.len().to_string(),
    };
    let mut c = cmd!("SINTERCARD", numkeys);
    c.extend(keys);
    let opts: [&[&str]; 7] = [
        &[],
        &[],
        &["LIMIT", "1"],
        &["LIMIT", "0"],
        &["limit", "2"],
        &["LIMIT", "-1"],
        &["LIMIT"],
    ];
    c.extend(g.pick(&opts).iter().map(|s| s.as_bytes().to_vec()));
    c
}

/// Runs `seq` on both servers with the extra rules described in the module doc, panicking
/// with the seed and recent history at the first difference.
pub fn run_checked(d: &mut Differ, seq: &[Cmd], seed: u64) {
    // Printed with the output of a failing test, whatever the failure (a timeout included).
    eprintln!("run_checked: seed {seed} (rerun with USHER_DIFF_SEED={seed})");
    STATS.with(|s| *s.borrow_mut() = Stats::default());
    for cmd in seq {
        let name = String::from_utf8_lossy(&cmd[0]).to_ascii_lowercase();
        let result = match name.as_str() {
            "spop" => check_spop(d, cmd),
            "srandmember" => check_srandmember(d, cmd),
            "hrandfield" => check_hrandfield(d, cmd),
            "sscan" | "hscan" => check_scan(d, cmd),
            "smembers" | "hgetall" | "hkeys" | "hvals" | "sinter" | "sunion" | "sdiff" => {
                check_ordered_if_deterministic(d, cmd)
            }
            _ => d.check(cmd).map(|reply| {
                if let ("object", Reply::Bulk(e)) = (name.as_str(), reply) {
                    let e = String::from_utf8_lossy(&e).into_owned();
                    stat(|s| *s.encodings.entry(e).or_default() += 1);
                }
            }),
        };
        if let Err(m) = result {
            panic!("{}", d.report(&m, Some(seed)));
        }
    }
    STATS.with(|s| {
        eprintln!(
            "run_checked: {} commands clean; {:?}",
            seq.len(),
            s.borrow()
        )
    });
}

/// What a run exercised, printed at its end (`--nocapture` shows it).
#[derive(Default, Debug)]
struct Stats {
    /// `OBJECT ENCODING` answers seen, by encoding.
    encodings: BTreeMap<String, usize>,
    /// Replies that had to match in order (deterministic order).
    ordered_checks: usize,
    /// Random replies that had to equal Redis's exactly (the whole collection).
    exact_random: usize,
    /// Random replies checked for their properties.
    random_checked: usize,
    /// SPOPs after which the key was rebuilt on both servers.
    resyncs: usize,
    /// Full HSCAN/SSCAN iterations compared as sets.
    full_scans: usize,
}

thread_local! {
    static STATS: std::cell::RefCell<Stats> = std::cell::RefCell::new(Stats::default());
}

fn stat(f: impl FnOnce(&mut Stats)) {
    STATS.with(|s| f(&mut s.borrow_mut()));
}

type Checked = Result<(), Box<Mismatch>>;

/// Sends `cmd` to both servers, recording it in the history.
fn both(d: &mut Differ, cmd: &[Vec<u8>]) -> (Reply, Reply) {
    d.history.push(diff::render(cmd).into_bytes());
    d.both(cmd)
}

fn mismatch(cmd: &[Vec<u8>], usher: Reply, redis: Reply, why: &str) -> Box<Mismatch> {
    let mut command: Vec<String> = cmd
        .iter()
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    command.push(format!("<{why}>"));
    Box::new(Mismatch {
        command,
        usher,
        redis,
    })
}

/// redis-server's encoding of `key` (`None` when missing).
fn redis_encoding(d: &mut Differ, key: &[u8]) -> Option<String> {
    match d
        .redis
        .call(&[b"OBJECT".to_vec(), b"ENCODING".to_vec(), key.to_vec()])
    {
        Reply::Bulk(b) => Some(String::from_utf8_lossy(&b).into_owned()),
        _ => None,
    }
}

fn is_compact(encoding: Option<&str>) -> bool {
    matches!(encoding, Some("listpack" | "intset"))
}

fn bytes_of(r: &Reply) -> Vec<u8> {
    match r {
        Reply::Bulk(b) => b.clone(),
        other => panic!("expected a bulk string, got {other:?}"),
    }
}

/// The bulk strings of an array reply, with RESP3's nested pairs (HRANDFIELD WITHVALUES)
/// flattened as RESP2 sends them.
fn flat_items(r: &Reply) -> Vec<Vec<u8>> {
    r.items()
        .iter()
        .flat_map(|i| match i {
            Reply::Array(pair) => pair.iter().map(bytes_of).collect(),
            other => vec![bytes_of(other)],
        })
        .collect()
}

/// Whole-collection reads: compared as sets by the harness, and in order when Redis's order is
/// deterministic.
fn check_ordered_if_deterministic(d: &mut Differ, cmd: &[Vec<u8>]) -> Checked {
    let name = String::from_utf8_lossy(&cmd[0]).to_ascii_lowercase();
    d.check(cmd)?;
    let ordered = match name.as_str() {
        "smembers" | "hgetall" | "hkeys" | "hvals" => {
            cmd.len() == 2 && is_compact(redis_encoding(d, &cmd[1]).as_deref())
        }
        // The smallest set drives the order; with only intsets it is ascending.
        "sinter" => cmd[1..]
            .iter()
            .all(|k| redis_encoding(d, k).as_deref() == Some("intset")),
        // Printed from the computed set: ascending exactly when Redis computed an intset,
        // which its STORE form (run on redis-server alone, into a scratch key) tells.
        _ => {
            let mut probe = cmd!(format!("{name}store"), "\x00order-probe");
            probe.extend(cmd[1..].iter().cloned());
            d.redis.call(&probe);
            let encoding = redis_encoding(d, b"\x00order-probe");
            d.redis
                .call(&[b"DEL".to_vec(), b"\x00order-probe".to_vec()]);
            encoding.as_deref() == Some("intset")
        }
    };
    if ordered {
        stat(|s| s.ordered_checks += 1);
        let (u, r) = d.both(cmd);
        if u != r {
            return Err(mismatch(cmd, u, r, "order must match exactly"));
        }
    }
    Ok(())
}

fn is_canonical_int(b: &[u8]) -> bool {
    std::str::from_utf8(b)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .is_some_and(|i| i.to_string().as_bytes() == b)
}

/// SSCAN/HSCAN: exact on compact encodings, a full-iteration set comparison on hashtables.
fn check_scan(d: &mut Differ, cmd: &[Vec<u8>]) -> Checked {
    let (u, r) = both(d, cmd);
    if u.is_error() || r.is_error() || cmd.len() < 3 {
        return if u == r {
            Ok(())
        } else {
            Err(mismatch(cmd, u, r, "errors"))
        };
    }
    let encoding = redis_encoding(d, &cmd[1]);
    if encoding.is_none() || is_compact(encoding.as_deref()) {
        return if u == r {
            Ok(())
        } else {
            Err(mismatch(cmd, u, r, "compact scans match exactly"))
        };
    }
    let shape_ok = u.items().len() == 2 && r.items().len() == 2;
    if !shape_ok {
        return Err(mismatch(cmd, u, r, "scan reply shape"));
    }
    // A hashtable: compare what a whole iteration with the same options returns.
    let mut prefix: Vec<String> = vec![
        String::from_utf8_lossy(&cmd[0]).into_owned(),
        String::from_utf8_lossy(&cmd[1]).into_owned(),
    ];
    let mut count = 10;
    let mut i = 3;
    while i + 1 < cmd.len() {
        if cmd[i].eq_ignore_ascii_case(b"COUNT") {
            count = String::from_utf8_lossy(&cmd[i + 1]).parse().unwrap_or(10);
        } else {
            prefix.push(String::from_utf8_lossy(&cmd[i]).into_owned());
            prefix.push(String::from_utf8_lossy(&cmd[i + 1]).into_owned());
        }
        i += 2;
    }
    let prefix: Vec<&str> = prefix.iter().map(String::as_str).collect();
    d.compare_scan(&prefix, count);
    stat(|s| s.full_scans += 1);
    Ok(())
}

/// The members of set `key` on redis-server (empty when missing or not a set).
fn redis_members(d: &mut Differ, key: &[u8]) -> BTreeSet<Vec<u8>> {
    match d.redis.call(&[b"SMEMBERS".to_vec(), key.to_vec()]) {
        Reply::Array(v) | Reply::Set(v) => v.iter().map(bytes_of).collect(),
        _ => BTreeSet::new(),
    }
}

/// A count argument as Redis reads it, if it is one.
fn count_of(cmd: &[Vec<u8>]) -> Option<i64> {
    cmd.get(2)
        .and_then(|c| std::str::from_utf8(c).ok())
        .and_then(|s| s.parse().ok())
}

/// Checks a random member list: members exist, uniqueness and size as Redis promises.
fn check_sample(
    items: &[Vec<u8>],
    pool: &BTreeSet<Vec<u8>>,
    count: i64,
) -> Result<(), &'static str> {
    stat(|s| s.random_checked += 1);
    if !items.iter().all(|m| pool.contains(m)) {
        return Err("returned a member that is not in the collection");
    }
    let distinct: BTreeSet<&Vec<u8>> = items.iter().collect();
    let expected = if pool.is_empty() {
        0
    } else if count >= 0 {
        (count as usize).min(pool.len())
    } else {
        count.unsigned_abs() as usize
    };
    if items.len() != expected {
        return Err("wrong number of members");
    }
    if count > 0 && distinct.len() != items.len() {
        return Err("a positive count must not repeat members");
    }
    Ok(())
}

fn shapes_match(cmd: &[Vec<u8>], u: &Reply, r: &Reply) -> Checked {
    let (nu, nr) = (
        diff::normalize(Compare::Shape, u.clone()),
        diff::normalize(Compare::Shape, r.clone()),
    );
    if nu != nr {
        return Err(mismatch(cmd, u.clone(), r.clone(), "reply shapes differ"));
    }
    Ok(())
}

fn check_spop(d: &mut Differ, cmd: &[Vec<u8>]) -> Checked {
    let key = cmd[1].clone();
    let pool = redis_members(d, &key);
    let all_ints = pool.iter().all(|m| is_canonical_int(m)) && pool.len() <= 512;
    let (u, r) = both(d, cmd);
    shapes_match(cmd, &u, &r)?;
    if u.is_error() || matches!(r, Reply::Nil | Reply::Null | Reply::Int(_)) {
        return if u == r {
            Ok(())
        } else {
            Err(mismatch(cmd, u, r, "exact"))
        };
    }
    let (u_items, r_items): (Vec<Vec<u8>>, Vec<Vec<u8>>) = match (&u, &r) {
        (Reply::Bulk(a), Reply::Bulk(b)) => (vec![a.clone()], vec![b.clone()]),
        _ => (
            u.items().iter().map(bytes_of).collect(),
            r.items().iter().map(bytes_of).collect(),
        ),
    };
    let count = if cmd.len() == 2 {
        1
    } else {
        count_of(cmd).unwrap_or(0)
    };
    for items in [&u_items, &r_items] {
        if let Err(why) = check_sample(items, &pool, count) {
            return Err(mismatch(cmd, u.clone(), r.clone(), why));
        }
    }
    if count as usize >= pool.len() {
        stat(|s| s.exact_random += 1);
        // Everything popped: the same members, printed ascending when it was an intset's worth.
        let same = if all_ints && cmd.len() == 3 {
            u == r
        } else {
            sorted(&u_items) == sorted(&r_items)
        };
        if !same {
            return Err(mismatch(cmd, u, r, "popping everything is deterministic"));
        }
    }
    let u_left = d.usher.call(&[b"SCARD".to_vec(), key.clone()]);
    let r_left = d.redis.call(&[b"SCARD".to_vec(), key.clone()]);
    if u_left != r_left {
        return Err(mismatch(cmd, u_left, r_left, "SCARD after SPOP"));
    }
    if sorted(&u_items) != sorted(&r_items) {
        resync_set(d, &key);
    }
    Ok(())
}

fn sorted(items: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut v = items.to_vec();
    v.sort();
    v
}

/// Rebuilds set `key` identically on both servers from redis-server's copy: members,
/// encoding (an intset, or a hashtable forced by a temporary non-integer member) and TTL.
fn resync_set(d: &mut Differ, key: &[u8]) {
    let key = key.to_vec();
    let encoding = redis_encoding(d, &key);
    let members = redis_members(d, &key);
    let expire_at = d.redis.call(&[b"PEXPIRETIME".to_vec(), key.clone()]).int();
    let mut script: Vec<Cmd> = vec![cmd!("DEL", key)];
    if !members.is_empty() {
        let marker = b"\x00resync-marker".to_vec();
        let mut add = cmd!("SADD", key);
        if encoding.as_deref() != Some("intset") {
            add.push(marker.clone());
        }
        add.extend(members.iter().cloned());
        script.push(add);
        if encoding.as_deref() != Some("intset") {
            script.push(cmd!("SREM", key, marker));
        }
        if expire_at > 0 {
            script.push(cmd!("PEXPIREAT", key, expire_at.to_string()));
        }
    }
    stat(|s| s.resyncs += 1);
    for c in &script {
        d.history
            .push(format!("(resync) {}", diff::render(c)).into_bytes());
        d.both(c);
    }
}

fn check_srandmember(d: &mut Differ, cmd: &[Vec<u8>]) -> Checked {
    let key = cmd[1].clone();
    let pool = redis_members(d, &key);
    let encoding = redis_encoding(d, &key);
    let (u, r) = both(d, cmd);
    shapes_match(cmd, &u, &r)?;
    let Some(count) = (cmd.len() == 3).then(|| count_of(cmd)).flatten() else {
        // No count (or a malformed one): a single member, nil, or an error.
        return match (&u, &r) {
            (Reply::Bulk(a), Reply::Bulk(_)) if pool.contains(a) => Ok(()),
            (Reply::Bulk(_), _) => Err(mismatch(cmd, u, r, "not a member")),
            _ if u == r => Ok(()),
            _ => Err(mismatch(cmd, u, r, "exact")),
        };
    };
    if u.is_error() || r.is_error() {
        return if u == r {
            Ok(())
        } else {
            Err(mismatch(cmd, u, r, "errors"))
        };
    }
    for reply in [&u, &r] {
        let items: Vec<Vec<u8>> = reply.items().iter().map(bytes_of).collect();
        if let Err(why) = check_sample(&items, &pool, count) {
            return Err(mismatch(cmd, u.clone(), r.clone(), why));
        }
    }
    if count >= pool.len() as i64 && count > 1 {
        stat(|s| s.exact_random += 1);
        let exact = encoding.as_deref() == Some("intset");
        let same = if exact {
            u == r
        } else {
            diff::normalize(Compare::Unordered, u.clone())
                == diff::normalize(Compare::Unordered, r.clone())
        };
        if !same {
            return Err(mismatch(
                cmd,
                u,
                r,
                "a count over the size returns the whole set",
            ));
        }
    }
    Ok(())
}

fn check_hrandfield(d: &mut Differ, cmd: &[Vec<u8>]) -> Checked {
    let key = cmd[1].clone();
    let pairs: Vec<(Vec<u8>, Vec<u8>)> = match d.redis.call(&[b"HGETALL".to_vec(), key.clone()]) {
        Reply::Array(v) => v
            .chunks(2)
            .map(|c| (bytes_of(&c[0]), bytes_of(&c[1])))
            .collect(),
        Reply::Map(m) => m.iter().map(|(f, v)| (bytes_of(f), bytes_of(v))).collect(),
        _ => Vec::new(),
    };
    let values: BTreeMap<Vec<u8>, Vec<u8>> = pairs.iter().cloned().collect();
    let pool: BTreeSet<Vec<u8>> = values.keys().cloned().collect();
    let encoding = redis_encoding(d, &key);
    let (u, r) = both(d, cmd);
    shapes_match(cmd, &u, &r)?;
    let count = count_of(cmd);
    let with_values = cmd.len() == 4;
    let Some(count) = count.filter(|_| !u.is_error() && !r.is_error() && cmd.len() >= 3) else {
        return match (&u, &r) {
            (Reply::Bulk(a), Reply::Bulk(_)) if pool.contains(a) => Ok(()),
            (Reply::Bulk(_), _) => Err(mismatch(cmd, u, r, "not a field")),
            _ if u == r => Ok(()),
            _ => Err(mismatch(cmd, u, r, "exact")),
        };
    };
    let field_order: Vec<&Vec<u8>> = pairs.iter().map(|(f, _)| f).collect();
    for reply in [&u, &r] {
        let items = flat_items(reply);
        let fields: Vec<Vec<u8>> = if with_values {
            for pair in items.chunks(2) {
                if values.get(&pair[0]) != Some(&pair[1]) {
                    return Err(mismatch(
                        cmd,
                        u.clone(),
                        r.clone(),
                        "value of another field",
                    ));
                }
            }
            items.chunks(2).map(|p| p[0].clone()).collect()
        } else {
            items
        };
        if let Err(why) = check_sample(&fields, &pool, count) {
            return Err(mismatch(cmd, u.clone(), r.clone(), why));
        }
        // A few fields of a listpack come in listpack order (`lpRandomPairsUnique`).
        let few = count > 1 && (count as usize).saturating_mul(3) <= pool.len();
        if few && encoding.as_deref() == Some("listpack") {
            let positions: Vec<usize> = fields
                .iter()
                .map(|f| field_order.iter().position(|g| *g == f).unwrap())
                .collect();
            if !positions.windows(2).all(|w| w[0] < w[1]) {
                return Err(mismatch(cmd, u.clone(), r.clone(), "listpack sample order"));
            }
        }
    }
    if count >= pool.len() as i64 && count > 1 {
        stat(|s| s.exact_random += 1);
        let same = if encoding.as_deref() == Some("listpack") {
            u == r
        } else {
            let nested = matches!(u.items().first(), Some(Reply::Array(_)));
            let rule = match (with_values, nested) {
                (true, false) => Compare::UnorderedPairs,
                _ => Compare::Unordered,
            };
            diff::normalize(rule, u.clone()) == diff::normalize(rule, r.clone())
        };
        if !same {
            return Err(mismatch(
                cmd,
                u,
                r,
                "a count over the size returns the whole hash",
            ));
        }
    }
    Ok(())
}

/// The generators the set test mixes: sets, plus strings and keyspace commands on the same
/// keys so types collide.
pub fn set_mix() -> [fn(&mut Gen) -> Cmd; 6] {
    [sets, sets, sets, sets, gen::keyspace, gen::strings]
}
