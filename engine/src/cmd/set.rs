//! The set family: membership, random pops and samples, the algebra (SINTER, SUNION, SDIFF,
//! their STORE forms and SINTERCARD), SMOVE and SSCAN.
//!
//! Semantics, validation order and error texts follow Redis 7.0's `t_set.c`, quirks included:
//! - Multi-key commands type-check every key, missing ones included, before computing anything
//!   (`SINTER missing stringkey` is WRONGTYPE).
//! - Computed sets are built like Redis builds them (an intset that each member is added to), so
//!   `OBJECT ENCODING` of a STORE result and the reply order of small integer results match.
//!   SDIFF picks Redis's algorithm by the same size estimate, since the two can leave different
//!   encodings behind.
//! - SPOP with a count close to the size rebuilds the set from the members that stay, which can
//!   turn a hashtable back into an intset, exactly as Redis's `spopWithCountCommand` does.
//! - SMOVE with a missing source answers 0 without checking the destination's type.
//!
//! Keys of one command may live on different shards (the dispatcher locks them all), so a
//! command never holds two sets at once: multi-set algorithms copy the members of the set they
//! drive (the smallest for SINTER, the first for SDIFF) and filter that copy one set at a time.

use super::hash::write_scan_reply;
use super::scan;
use crate::args;
use crate::bytes::SmallBytes;
use crate::command::{
    cmd, numkeys_positions, CommandSpec, EngineHandler, Flags, Group, KeyPositions,
};
use crate::ctx::ExecCtx;
use crate::db::Db;
use crate::error::{CmdError, CmdResult};
use crate::keyspace_events as ev;
use crate::types::set::{Member, Set};
use crate::value::Value;
use rand::seq::SliceRandom;
use usher_protocol::{errors, Argv, ReplySink};

type Spec = CommandSpec<EngineHandler>;

/// The set under `key`, if any; WRONGTYPE if the key holds something else.
pub(crate) fn get_set<'d>(
    db: &'d mut Db,
    key: &[u8],
    now_ms: i64,
) -> Result<Option<&'d mut Set>, CmdError> {
    match db.get(key, now_ms) {
        None => Ok(None),
        Some(Value::Set(s)) => Ok(Some(s)),
        Some(_) => Err(CmdError::WrongType),
    }
}

/// Records a write to `key` that Redis counts as `changes` changes (`server.dirty`).
fn changed(ctx: &mut ExecCtx, key: &[u8], changes: u64) {
    ctx.modified(key);
    ctx.effects.dirty += changes.saturating_sub(1);
}

fn max_intset(ctx: &ExecCtx) -> usize {
    ctx.config.set_max_intset_entries
}

/// Writes one member as a bulk string (intset integers are formatted on the way out).
fn reply_member(out: &mut dyn ReplySink, m: Member<'_>) {
    match m {
        Member::Int(i) => out.bulk_int(i),
        Member::Bytes(b) => out.bulk(b),
    }
}

/// A member as the bytes a command names it by.
fn member_bytes(m: Member<'_>) -> Vec<u8> {
    match m {
        Member::Int(i) => i.to_string().into_bytes(),
        Member::Bytes(b) => b.to_vec(),
    }
}

/// Replies a computed set as a set reply, in its iteration order.
fn reply_set(out: &mut dyn ReplySink, s: &Set) {
    out.set(s.len());
    s.iter().for_each(|m| reply_member(out, m));
}

/// ```text
/// SADD key member [member ...]
/// ```
/// A new set is an intset if its first member is an integer. Complexity: O(1) per member.
fn sadd(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (key, now, max) = (argv.arg(1), ctx.now_ms, max_intset(ctx));
    let db = ctx.db(key);
    let add_all = |s: &mut Set| argv.iter().skip(2).filter(|m| s.add(m, max)).count();
    let added = match db.get(key, now) {
        Some(Value::Set(s)) => add_all(s),
        Some(_) => return Err(CmdError::WrongType),
        None => {
            let mut s = Box::new(Set::for_first(argv.arg(2)));
            let added = add_all(&mut s);
            db.set(key, Value::Set(s));
            added
        }
    };
    if added > 0 {
        changed(ctx, key, added as u64);
        ctx.notify(ev::SET, "sadd", key);
    }
    out.int(added as i64);
    Ok(())
}

/// ```text
/// SREM key member [member ...]
/// ```
/// Deletes the key with its last member.
fn srem(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (key, now) = (argv.arg(1), ctx.now_ms);
    let db = ctx.db(key);
    let Some(s) = get_set(db, key, now)? else {
        out.int(0);
        return Ok(());
    };
    let mut removed = 0;
    for m in argv.iter().skip(2) {
        if s.remove(m) {
            removed += 1;
            if s.is_empty() {
                break;
            }
        }
    }
    let emptied = s.is_empty();
    if emptied {
        db.delete(key, now);
    }
    if removed > 0 {
        changed(ctx, key, removed);
        ctx.notify(ev::SET, "srem", key);
    }
    if emptied {
        ctx.notify(ev::GENERIC, "del", key);
    }
    out.int(removed as i64);
    Ok(())
}

/// ```text
/// SCARD key
/// ```
fn scard(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (key, now) = (argv.arg(1), ctx.now_ms);
    let len = get_set(ctx.db(key), key, now)?.map_or(0, |s| s.len());
    out.int(len as i64);
    Ok(())
}

/// ```text
/// SISMEMBER key member
/// ```
fn sismember(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (key, now) = (argv.arg(1), ctx.now_ms);
    let found = get_set(ctx.db(key), key, now)?.is_some_and(|s| s.contains(argv.arg(2)));
    out.int(found as i64);
    Ok(())
}

/// ```text
/// SMISMEMBER key member [member ...]
/// ```
/// A missing key reads as an empty set (all zeros).
fn smismember(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (key, now) = (argv.arg(1), ctx.now_ms);
    let s = get_set(ctx.db(key), key, now)?;
    out.array(argv.len() - 2);
    for m in argv.iter().skip(2) {
        out.int(s.as_ref().is_some_and(|s| s.contains(m)) as i64);
    }
    Ok(())
}

/// ```text
/// SMEMBERS key
/// ```
/// Intsets print ascending, as in Redis.
fn smembers(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (key, now) = (argv.arg(1), ctx.now_ms);
    match get_set(ctx.db(key), key, now)? {
        Some(s) => reply_set(out, s),
        None => out.set(0),
    }
    Ok(())
}

/// Redis's `SPOP_MOVE_STRATEGY_MUL`: when fewer than `count / 5` members would stay, SPOP
/// builds a new set from the ones that stay instead of popping `count` times.
const SPOP_MOVE_STRATEGY_MUL: u64 = 5;

/// ```text
/// SPOP key [count]
/// ```
/// Complexity: O(1) without count, else O(N) where N is the count.
fn spop(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (key, now) = (argv.arg(1), ctx.now_ms);
    match argv.len() {
        2 => {}
        3 => return spop_with_count(ctx, argv, out),
        _ => return Err(CmdError::Syntax),
    }
    let db = ctx.db(key);
    let Some(s) = get_set(db, key, now)? else {
        out.null();
        return Ok(());
    };
    let popped = s
        .pop_random(&mut rand::rng())
        .expect("stored sets are never empty");
    let emptied = s.is_empty();
    if emptied {
        db.delete(key, now);
    }
    out.bulk(&popped);
    ctx.log_as(vec![b"SREM".to_vec(), key.to_vec(), popped.to_vec()]);
    changed(ctx, key, 1);
    ctx.notify(ev::SET, "spop", key);
    if emptied {
        ctx.notify(ev::GENERIC, "del", key);
    }
    Ok(())
}

fn spop_with_count(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    // Redis's `getPositiveLongFromObjectOrReply`: one message for "not a number" and "< 0".
    let count = match usher_protocol::parse::parse_i64(argv.arg(2)) {
        Some(n) if n >= 0 => n as u64,
        _ => return Err(CmdError::Static(errors::NOT_POSITIVE)),
    };
    let (key, now, max) = (argv.arg(1), ctx.now_ms, max_intset(ctx));
    let db = ctx.db(key);
    let Some(s) = get_set(db, key, now)? else {
        out.set(0);
        return Ok(());
    };
    if count == 0 {
        out.set(0);
        return Ok(());
    }
    let size = s.len() as u64;
    let mut rng = rand::rng();
    if count >= size {
        // The whole set, printed as SUNION of it would print it. Redis runs SUNION's code
        // here, whose `lookupKeyRead` counts one keyspace hit: this command's one lookup.
        crate::keyspace_stats::count_as_reads();
        reply_set(out, &union_of(std::iter::once(&*s), max));
        db.delete(key, now);
        ctx.log_as(vec![b"DEL".to_vec(), key.to_vec()]);
    } else if (size - count) * SPOP_MOVE_STRATEGY_MUL > count {
        out.set(count as usize);
        let mut srem = vec![b"SREM".to_vec(), key.to_vec()];
        for _ in 0..count {
            let m = s.pop_random(&mut rng).expect("count < size");
            out.bulk(&m);
            srem.push(m.to_vec());
        }
        ctx.log_as(srem);
    } else {
        // Move the few that stay into a new set (created for its first member, so it may be
        // an intset again) and reply what is left of the old one.
        let mut kept: Option<Set> = None;
        for _ in 0..size - count {
            let m = s.pop_random(&mut rng).expect("count < size");
            kept.get_or_insert_with(|| Set::for_first(&m)).add(&m, max);
        }
        reply_set(out, s);
        let mut srem = vec![b"SREM".to_vec(), key.to_vec()];
        srem.extend(s.iter().map(|m| member_bytes(m)));
        let old = std::mem::replace(s, kept.expect("at least one member stays"));
        crate::lazyfree::free(Value::Set(Box::new(old)));
        ctx.log_as(srem);
    }
    changed(ctx, key, count.min(size));
    ctx.notify(ev::SET, "spop", key);
    if count >= size {
        ctx.notify(ev::GENERIC, "del", key);
    }
    Ok(())
}

/// Redis's `SRANDMEMBER_SUB_STRATEGY_MUL`, the same switch as HRANDFIELD's.
const SRANDMEMBER_SUB_STRATEGY_MUL: u64 = 3;

/// ```text
/// SRANDMEMBER key [count]
/// ```
/// Complexity: O(1) without count, else O(N) where N is the absolute count.
fn srandmember(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (key, now) = (argv.arg(1), ctx.now_ms);
    match argv.len() {
        2 => {
            let s = get_set(ctx.db(key), key, now)?;
            match s.and_then(|s| s.random_member(&mut rand::rng())) {
                Some(m) => reply_member(out, m),
                None => out.null(),
            }
            return Ok(());
        }
        3 => {}
        _ => return Err(CmdError::Syntax),
    }
    let count = args::int(argv.arg(2))?;
    if count == i64::MIN {
        return Err(CmdError::Static(errors::COUNT_NOT_NEGATABLE));
    }
    let Some(s) = get_set(ctx.db(key), key, now)? else {
        out.array(0);
        return Ok(());
    };
    srandmember_with_count(s, count, out);
    Ok(())
}

fn srandmember_with_count(s: &Set, count: i64, out: &mut dyn ReplySink) {
    let mut rng = rand::rng();
    let (n, unique) = (count.unsigned_abs(), count >= 0);
    let size = s.len() as u64;
    if n == 0 {
        out.array(0);
    } else if !unique || n == 1 {
        // Sampling with repetition, in random order.
        out.array(n as usize);
        for _ in 0..n {
            reply_member(out, s.random_member(&mut rng).expect("non-empty"));
        }
    } else if n >= size {
        out.array(size as usize);
        s.iter().for_each(|m| reply_member(out, m));
    } else if n * SRANDMEMBER_SUB_STRATEGY_MUL > size {
        // Most of the set: shuffle a copy and keep `n`.
        let mut all: Vec<Member> = s.iter().collect();
        let (picked, _) = all.partial_shuffle(&mut rng, n as usize);
        out.array(picked.len());
        picked.iter().for_each(|&m| reply_member(out, m));
    } else {
        // A few of a large set: draw until `n` distinct members.
        let mut seen = std::collections::HashSet::with_capacity(n as usize);
        out.array(n as usize);
        while (seen.len() as u64) < n {
            let m = s.random_member(&mut rng).expect("non-empty");
            if seen.insert(m) {
                reply_member(out, m);
            }
        }
    }
}

/// ```text
/// SMOVE source destination member
/// ```
/// Both keys may be on different shards.
fn smove(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (src, dst, member, now, max) = (
        argv.arg(1),
        argv.arg(2),
        argv.arg(3),
        ctx.now_ms,
        max_intset(ctx),
    );
    if get_set(ctx.db(src), src, now)?.is_none() {
        out.int(0);
        return Ok(());
    }
    get_set(ctx.db(dst), dst, now)?;
    if src == dst {
        let found = get_set(ctx.db(src), src, now)?.is_some_and(|s| s.contains(member));
        out.int(found as i64);
        return Ok(());
    }
    let db = ctx.db(src);
    let s = get_set(db, src, now)?.expect("checked above");
    if !s.remove(member) {
        out.int(0);
        return Ok(());
    }
    let emptied = s.is_empty();
    if emptied {
        db.delete(src, now);
    }
    changed(ctx, src, 1);
    ctx.notify(ev::SET, "srem", src);
    if emptied {
        ctx.notify(ev::GENERIC, "del", src);
    }
    let db = ctx.db(dst);
    let added = match get_set(db, dst, now)? {
        Some(d) => d.add(member, max),
        None => {
            let mut d = Box::new(Set::for_first(member));
            d.add(member, max);
            db.set(dst, Value::Set(d));
            true
        }
    };
    if added {
        changed(ctx, dst, 1);
        ctx.notify(ev::SET, "sadd", dst);
    }
    out.int(1);
    Ok(())
}

/// How a SINTER-family command delivers its result.
#[derive(Clone, Copy)]
enum InterOut<'a> {
    Reply,
    Store(&'a [u8]),
    /// SINTERCARD, stopping at the limit (0: none).
    Card(u64),
}

/// A key of a multi-set command and its set's size (`None`: no such key, an empty set).
type KeySize<'k> = (&'k [u8], Option<usize>);

/// The sets under `keys`, checked in order: `Ok(None)` when one is missing, WRONGTYPE (from the
/// first key of another type, even after a missing one) otherwise. Returns each key's size.
/// These are source reads (Redis's `lookupKeyRead`), so they count as keyspace hits and misses
/// in the STORE forms too.
fn lookup_all<'k>(ctx: &mut ExecCtx, keys: &[&'k [u8]]) -> Result<Vec<KeySize<'k>>, CmdError> {
    crate::keyspace_stats::count_as_reads();
    let now = ctx.now_ms;
    keys.iter()
        .map(|&k| Ok((k, get_set(ctx.db(k), k, now)?.map(|s| s.len()))))
        .collect()
}

/// The set under `key`, known to exist (checked by [`lookup_all`] in the same command).
fn existing<'c>(ctx: &'c mut ExecCtx, key: &[u8]) -> &'c Set {
    let now = ctx.now_ms;
    match ctx.db(key).get_again(key, now) {
        Some(Value::Set(s)) => s,
        _ => unreachable!("looked up earlier in the same command"),
    }
}

/// Redis's `sinterGenericCommand`: SINTER, SINTERSTORE, SINTERCARD (and SMEMBERS's shape).
fn sinter_generic(
    ctx: &mut ExecCtx,
    keys: &[&[u8]],
    to: InterOut,
    out: &mut dyn ReplySink,
) -> CmdResult {
    let mut sets = lookup_all(ctx, keys)?;
    if sets.iter().any(|(_, len)| len.is_none()) {
        match to {
            InterOut::Store(dst) => store_result(ctx, dst, None, out, "sinterstore"),
            InterOut::Card(_) => out.int(0),
            InterOut::Reply => out.set(0),
        }
        return Ok(());
    }
    // Smallest first, ties in argument order (glibc's qsort is a stable merge sort here).
    sets.sort_by_key(|&(_, len)| len);
    let first = sets[0].0;
    let others: Vec<&[u8]> = sets[1..]
        .iter()
        .map(|&(k, _)| k)
        .filter(|&k| k != first)
        .collect();
    let mut found: Vec<Owned> = Vec::new();
    let mut n_found = 0u64;
    filter_batches(ctx, first, &others, Set::contains_member, |batch| {
        n_found += batch.len() as u64;
        match to {
            InterOut::Card(limit) => limit == 0 || n_found < limit,
            InterOut::Reply | InterOut::Store(_) => {
                found.extend(batch);
                true
            }
        }
    });
    match to {
        InterOut::Reply => {
            out.set(found.len());
            found.iter().for_each(|m| reply_member(out, m.as_member()));
        }
        InterOut::Card(limit) => {
            out.int(if limit > 0 {
                n_found.min(limit)
            } else {
                n_found
            } as i64);
        }
        InterOut::Store(dst) => {
            let max = max_intset(ctx);
            let mut result = Set::new_intset();
            for m in &found {
                result.add_member(m.as_member(), max);
            }
            store_result(ctx, dst, Some(result), out, "sinterstore");
        }
    }
    Ok(())
}

/// Members are copied out of the set that drives SINTER or SDIFF in batches of about this many,
/// so SINTERCARD with a LIMIT stops early and no command copies a whole large set at once.
const DRIVER_BATCH: usize = 4096;

/// Copies the members of the set under `driver` batch by batch (in scan order; all of an intset
/// at once), keeps those that `keep` accepts against each set under `filters`, and hands each
/// filtered batch to `take`, which returns false to stop early. Every key must hold a set.
fn filter_batches(
    ctx: &mut ExecCtx,
    driver: &[u8],
    filters: &[&[u8]],
    keep: fn(&Set, Member<'_>) -> bool,
    mut take: impl FnMut(Vec<Owned>) -> bool,
) {
    let mut cursor = 0;
    loop {
        let mut batch = Vec::new();
        cursor = existing(ctx, driver).scan(cursor, DRIVER_BATCH, |m| batch.push(Owned::from(m)));
        for &key in filters {
            if batch.is_empty() {
                break;
            }
            let s = existing(ctx, key);
            batch.retain(|m| keep(s, m.as_member()));
        }
        if !take(batch) || cursor == 0 {
            return;
        }
    }
}

/// Stores a computed set under `dst` (dropping any old value and TTL) and replies its size; an
/// empty or missing result deletes `dst` and replies 0.
fn store_result(
    ctx: &mut ExecCtx,
    dst: &[u8],
    result: Option<Set>,
    out: &mut dyn ReplySink,
    event: &'static str,
) {
    let now = ctx.now_ms;
    match result.filter(|s| !s.is_empty()) {
        Some(s) => {
            let len = s.len();
            ctx.db(dst).set(dst, Value::Set(Box::new(s)));
            changed(ctx, dst, 1);
            ctx.notify(ev::SET, event, dst);
            out.int(len as i64);
        }
        None => {
            if ctx.db(dst).delete(dst, now) {
                changed(ctx, dst, 1);
                ctx.notify(ev::GENERIC, "del", dst);
            }
            out.int(0);
        }
    }
}

/// A member copied out of a set, so that other sets can be read while it is held.
#[derive(Clone, PartialEq, Eq, Hash)]
enum Owned {
    Int(i64),
    Bytes(SmallBytes),
}

impl Owned {
    fn from(m: Member<'_>) -> Owned {
        match m {
            Member::Int(i) => Owned::Int(i),
            Member::Bytes(b) => Owned::Bytes(SmallBytes::new(b)),
        }
    }

    fn as_member(&self) -> Member<'_> {
        match self {
            Owned::Int(i) => Member::Int(*i),
            Owned::Bytes(b) => Member::Bytes(b),
        }
    }
}

/// The union of `sets`, built like Redis builds it: an intset every member is added to.
fn union_of<'a>(sets: impl Iterator<Item = &'a Set>, max_intset: usize) -> Set {
    let mut result = Set::new_intset();
    for s in sets {
        s.iter().for_each(|m| {
            result.add_member(m, max_intset);
        });
    }
    result
}

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Union,
    Diff,
}

/// Redis's `sunionDiffGenericCommand`: SUNION, SDIFF and their STORE forms.
fn sunion_diff_generic(
    ctx: &mut ExecCtx,
    keys: &[&[u8]],
    dst: Option<&[u8]>,
    op: Op,
    out: &mut dyn ReplySink,
) -> CmdResult {
    let sets = lookup_all(ctx, keys)?;
    let max = max_intset(ctx);
    let mut result = Set::new_intset();
    match op {
        Op::Union => {
            for &(key, len) in &sets {
                if len.is_some() {
                    for m in existing(ctx, key).iter() {
                        result.add_member(m, max);
                    }
                }
            }
        }
        Op::Diff => sdiff_into(ctx, &sets, &mut result),
    }
    match dst {
        None => reply_set(out, &result),
        Some(dst) => {
            let event = if op == Op::Union {
                "sunionstore"
            } else {
                "sdiffstore"
            };
            store_result(ctx, dst, Some(result), out, event)
        }
    }
    Ok(())
}

/// SDIFF with Redis's choice of algorithm: (1) filter the first set's members through the
/// others, or (2) copy the first set and remove the others' members, whichever Redis's estimate
/// says is less work. They compute the same members but can leave different encodings.
fn sdiff_into(ctx: &mut ExecCtx, sets: &[KeySize<'_>], result: &mut Set) {
    let max = max_intset(ctx);
    let Some((first, Some(first_len))) = sets.first().copied() else {
        return;
    };
    let present = || sets.iter().filter_map(|&(k, len)| Some((k, len?)));
    let algo_one_work = present().count() as u64 * first_len as u64 / 2;
    let algo_two_work: u64 = present().map(|(_, len)| len as u64).sum();
    if algo_one_work <= algo_two_work {
        let others: Vec<&[u8]> = present().skip(1).map(|(k, _)| k).collect();
        // The first set named again removes everything from itself.
        if others.contains(&first) {
            return;
        }
        let not_in = |s: &Set, m: Member<'_>| !s.contains_member(m);
        filter_batches(ctx, first, &others, not_in, |batch| {
            for m in &batch {
                result.add_member(m.as_member(), max);
            }
            true
        });
    } else {
        for m in existing(ctx, first).iter() {
            result.add_member(m, max);
        }
        for (key, _) in present().skip(1) {
            if result.is_empty() {
                break;
            }
            existing(ctx, key).iter().for_each(|m| {
                m.with_bytes(|b| result.remove(b));
            });
        }
    }
}

/// ```text
/// SINTER key [key ...]
/// ```
/// Complexity: O(N*M) worst case, N the smallest set's size, M the number of sets.
fn sinter(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    sinter_generic(ctx, &keys_from(argv, 1), InterOut::Reply, out)
}

/// ```text
/// SINTERSTORE destination key [key ...]
/// ```
fn sinterstore(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    sinter_generic(ctx, &keys_from(argv, 2), InterOut::Store(argv.arg(1)), out)
}

/// ```text
/// SINTERCARD numkeys key [key ...] [LIMIT limit]
/// ```
fn sintercard(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let numkeys = match usher_protocol::parse::parse_i64(argv.arg(1)) {
        Some(n) if n >= 1 => n as u64,
        _ => return Err(CmdError::Static(errors::NUMKEYS_ZERO)),
    };
    if numkeys > argv.len() as u64 - 2 {
        return Err(CmdError::Static(errors::NUMKEYS_OVER_ARGS));
    }
    let keys_end = 2 + numkeys as usize;
    let mut limit = 0;
    let mut i = keys_end;
    while i < argv.len() {
        if args::is(argv.arg(i), "LIMIT") && i + 1 < argv.len() {
            limit = match usher_protocol::parse::parse_i64(argv.arg(i + 1)) {
                Some(l) if l >= 0 => l as u64,
                _ => return Err(CmdError::Static(errors::LIMIT_NEGATIVE)),
            };
            i += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let keys: Vec<&[u8]> = argv.iter().skip(2).take(numkeys as usize).collect();
    sinter_generic(ctx, &keys, InterOut::Card(limit), out)
}

/// Arguments from `start` on: the keys of SINTER, SUNION, ... and their STORE forms.
fn keys_from<'a>(argv: Argv<'a>, start: usize) -> Vec<&'a [u8]> {
    argv.iter().skip(start).collect()
}

/// SINTERCARD's keys: `numkeys` at argument 1, the keys right after it.
fn sintercard_keys(argv: Argv<'_>) -> Option<KeyPositions> {
    numkeys_positions(argv, 1, false)
}

/// ```text
/// SUNION key [key ...]
/// ```
/// Complexity: O(N), N the total number of members.
fn sunion(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    sunion_diff_generic(ctx, &keys_from(argv, 1), None, Op::Union, out)
}

/// ```text
/// SUNIONSTORE destination key [key ...]
/// ```
fn sunionstore(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    sunion_diff_generic(ctx, &keys_from(argv, 2), Some(argv.arg(1)), Op::Union, out)
}

/// ```text
/// SDIFF key [key ...]
/// ```
/// Complexity: O(N), N the total number of members.
fn sdiff(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    sunion_diff_generic(ctx, &keys_from(argv, 1), None, Op::Diff, out)
}

/// ```text
/// SDIFFSTORE destination key [key ...]
/// ```
fn sdiffstore(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    sunion_diff_generic(ctx, &keys_from(argv, 2), Some(argv.arg(1)), Op::Diff, out)
}

/// ```text
/// SSCAN key cursor [MATCH pattern] [COUNT count]
/// ```
/// Complexity: O(1) per call, O(N) for a full iteration.
fn sscan(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let cursor = scan::parse_cursor(argv.arg(2))?;
    let (key, now) = (argv.arg(1), ctx.now_ms);
    let Some(s) = get_set(ctx.db(key), key, now)? else {
        write_scan_reply(out, 0, &[]);
        return Ok(());
    };
    let opts = scan::parse_options(argv, 3, false)?;
    let mut found: Vec<SmallBytes> = Vec::new();
    let next = s.scan(cursor, opts.count, |m| {
        let m = m.to_small_bytes();
        if opts.matches(&m) {
            found.push(m);
        }
    });
    let items: Vec<&[u8]> = found.iter().map(|m| &**m).collect();
    write_scan_reply(out, next, &items);
    Ok(())
}

const RO: Flags = Flags::READONLY;
const RW: Flags = Flags::WRITE;
const FAST: Flags = Flags::FAST;
const DENYOOM: Flags = Flags::DENYOOM;
const RANDOM: Flags = Flags::NONDETERMINISTIC;

pub static COMMANDS: &[Spec] = &[
    cmd("SADD", -3, RW.union(DENYOOM).union(FAST), sadd as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Set, "1.0.0", "Add one or more members to a set", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments."),
    cmd("SREM", -3, RW.union(FAST), srem as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Set, "1.0.0", "Remove one or more members from a set", "O(N) where N is the number of members to be removed."),
    cmd("SCARD", 2, RO.union(FAST), scard as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Set, "1.0.0", "Get the number of members in a set", "O(1)"),
    cmd("SISMEMBER", 3, RO.union(FAST), sismember as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Set, "1.0.0", "Determine if a given value is a member of a set", "O(1)"),
    cmd("SMISMEMBER", -3, RO.union(FAST), smismember as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Set, "6.2.0", "Returns the membership associated with the given elements for a set", "O(N) where N is the number of elements being checked for membership"),
    cmd("SMEMBERS", 2, RO, smembers as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Set, "1.0.0", "Get all the members in a set", "O(N) where N is the set cardinality."),
    cmd("SPOP", -2, RW.union(FAST).union(RANDOM), spop as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Set, "1.0.0", "Remove and return one or multiple random members from a set", "Without the count argument O(1), otherwise O(N) where N is the value of the passed count."),
    cmd("SRANDMEMBER", -2, RO.union(RANDOM), srandmember as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Set, "1.0.0", "Get one or multiple random members from a set", "Without the count argument O(1), otherwise O(N) where N is the absolute value of the passed count."),
    cmd("SMOVE", 4, RW.union(FAST), smove as EngineHandler)
        .keys(1, 2, 1)
        .doc(Group::Set, "1.0.0", "Move a member from one set to another", "O(1)"),
    cmd("SINTER", -2, RO, sinter as EngineHandler)
        .keys(1, -1, 1)
        .doc(Group::Set, "1.0.0", "Intersect multiple sets", "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets."),
    cmd("SUNION", -2, RO, sunion as EngineHandler)
        .keys(1, -1, 1)
        .doc(Group::Set, "1.0.0", "Add multiple sets", "O(N) where N is the total number of elements in all given sets."),
    cmd("SDIFF", -2, RO, sdiff as EngineHandler)
        .keys(1, -1, 1)
        .doc(Group::Set, "1.0.0", "Subtract multiple sets", "O(N) where N is the total number of elements in all given sets."),
    cmd("SINTERSTORE", -3, RW.union(DENYOOM), sinterstore as EngineHandler)
        .keys(1, -1, 1)
        .doc(Group::Set, "1.0.0", "Intersect multiple sets and store the resulting set in a key", "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets."),
    cmd("SUNIONSTORE", -3, RW.union(DENYOOM), sunionstore as EngineHandler)
        .keys(1, -1, 1)
        .doc(Group::Set, "1.0.0", "Add multiple sets and store the resulting set in a key", "O(N) where N is the total number of elements in all given sets."),
    cmd("SDIFFSTORE", -3, RW.union(DENYOOM), sdiffstore as EngineHandler)
        .keys(1, -1, 1)
        .doc(Group::Set, "1.0.0", "Subtract multiple sets and store the resulting set in a key", "O(N) where N is the total number of elements in all given sets."),
    cmd("SINTERCARD", -3, RO, sintercard as EngineHandler)
        .movable_keys(sintercard_keys)
        .doc(Group::Set, "7.0.0", "Intersect multiple sets and return the cardinality of the result", "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets."),
    cmd("SSCAN", -3, RO, sscan as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Set, "2.8.0", "Incrementally iterate Set elements", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.."),
];
