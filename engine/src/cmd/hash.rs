//! The hash family: HSET and friends, counters, whole-hash reads, HRANDFIELD and HSCAN.
//!
//! Semantics, validation order and error texts follow Redis 7.0's `t_hash.c`, quirks included:
//! - HSET/HMSET convert a listpack to a hashtable when *any* argument is longer than
//!   `hash-max-listpack-value`, even if the write changes nothing; HSETNX only when it writes.
//! - HINCRBY/HINCRBYFLOAT validate the increment before looking at the key, so
//!   `HINCRBYFLOAT stringkey f abc` is "not a valid float", not WRONGTYPE.
//! - HRANDFIELD parses its count, then WITHVALUES, then the range, then looks up the key;
//!   a negative count samples with repetition; a count at least the size returns the whole hash
//!   in iteration order.
//! - HSCAN looks the key up before parsing MATCH/COUNT (a missing key ignores bad options), and
//!   a listpack answers everything at once with cursor 0.
//!
//! Empty hashes never stay in the keyspace: the write that removes the last field deletes the key.

use super::scan;
use crate::args::{self, is};
use crate::command::{cmd, CommandSpec, EngineHandler, Flags, Group};
use crate::ctx::ExecCtx;
use crate::db::Db;
use crate::error::{CmdError, CmdResult};
use crate::keyspace_events as ev;
use crate::types::hash::{Hash, ListpackLimits};
use crate::value::Value;
use rand::seq::SliceRandom;
use usher_protocol::{errors, Argv, ReplySink};

type Spec = CommandSpec<EngineHandler>;

/// The hash under `key`, if any; WRONGTYPE if the key holds something else.
pub(crate) fn get_hash<'d>(
    db: &'d mut Db,
    key: &[u8],
    now_ms: i64,
) -> Result<Option<&'d mut Hash>, CmdError> {
    match db.get(key, now_ms) {
        None => Ok(None),
        Some(Value::Hash(h)) => Ok(Some(h)),
        Some(_) => Err(CmdError::WrongType),
    }
}

/// WRONGTYPE unless `key` is absent or a hash (checked before any change).
pub(crate) fn check_hash(ctx: &mut ExecCtx, key: &[u8]) -> Result<(), CmdError> {
    let now = ctx.now_ms;
    get_hash(ctx.db(key), key, now).map(|_| ())
}

/// Writes a hash the waiting room keeps beside a queue (statistics, feed markers, lane
/// weights, places per client): `f` sets its fields on the hash, created if absent, as HSET
/// or HINCRBY would (`event` is the keyspace event). Nothing happens, and false comes back,
/// when the key is not under this command's locks or holds another type.
pub(crate) fn write_companion_hash(
    ctx: &mut ExecCtx,
    key: &[u8],
    event: &'static str,
    f: impl FnOnce(&mut Hash, ListpackLimits),
) -> bool {
    if !ctx.shards.holds(key) {
        return false;
    }
    let (now, limits) = (ctx.now_ms, ListpackLimits::from_config(ctx.config));
    if write_hash(ctx.db(key), key, now, |h| {
        f(h, limits);
        Ok(())
    })
    .is_err()
    {
        return false;
    }
    ctx.modified_in_sale(key);
    ctx.notify(ev::HASH, event, key);
    true
}

/// Runs `f` on the hash under `key`, or on a new empty hash that is stored only if `f` leaves
/// it non-empty (Redis's `hashTypeLookupWriteOrCreate`, without ever storing an empty hash).
/// `f` must validate before it writes: an error leaves the hash as it was.
fn write_hash<R>(
    db: &mut Db,
    key: &[u8],
    now_ms: i64,
    f: impl FnOnce(&mut Hash) -> Result<R, CmdError>,
) -> Result<R, CmdError> {
    match db.get(key, now_ms) {
        Some(Value::Hash(h)) => f(h),
        Some(_) => Err(CmdError::WrongType),
        None => {
            let mut h = Box::new(Hash::new());
            let r = f(&mut h)?;
            if !h.is_empty() {
                db.set(key, Value::Hash(h));
            }
            Ok(r)
        }
    }
}

/// Records a write to `key` that Redis counts as `changes` changes (`server.dirty`).
fn changed(ctx: &mut ExecCtx, key: &[u8], changes: u64) {
    ctx.modified(key);
    ctx.effects.dirty += changes.saturating_sub(1);
}

/// ```text
/// HSET key field value [field value ...]
/// ```
/// Replies the number of fields added. Complexity: O(1) per pair.
fn hset(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let added = hset_generic(ctx, argv, "hset")?;
    out.int(added as i64);
    Ok(())
}

/// ```text
/// HMSET key field value [field value ...]
/// ```
/// Deprecated alias of HSET that replies OK.
fn hmset(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    hset_generic(ctx, argv, "hmset")?;
    out.ok();
    Ok(())
}

fn hset_generic(ctx: &mut ExecCtx, argv: Argv, name: &str) -> Result<usize, CmdError> {
    if !argv.len().is_multiple_of(2) {
        return Err(CmdError::Owned(errors::wrong_arity(name)));
    }
    let (key, now) = (argv.arg(1), ctx.now_ms);
    let limits = ListpackLimits::from_config(ctx.config);
    let added = write_hash(ctx.db(key), key, now, |h| {
        h.prepare_for(argv.iter().skip(2), limits.max_value);
        let mut added = 0;
        for i in (2..argv.len()).step_by(2) {
            added += h.set(argv.arg(i), argv.arg(i + 1), limits) as usize;
        }
        Ok(added)
    })?;
    changed(ctx, key, (argv.len() as u64 - 2) / 2);
    ctx.notify(ev::HASH, "hset", key);
    Ok(added)
}

/// ```text
/// HSETNX key field value
/// ```
fn hsetnx(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (key, field, value, now) = (argv.arg(1), argv.arg(2), argv.arg(3), ctx.now_ms);
    let limits = ListpackLimits::from_config(ctx.config);
    let set = write_hash(ctx.db(key), key, now, |h| {
        if h.contains(field) {
            return Ok(false);
        }
        h.prepare_for([field, value], limits.max_value);
        h.set(field, value, limits);
        Ok(true)
    })?;
    if set {
        changed(ctx, key, 1);
        ctx.notify(ev::HASH, "hset", key);
    }
    out.int(set as i64);
    Ok(())
}

/// ```text
/// HGET key field
/// ```
fn hget(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (key, now) = (argv.arg(1), ctx.now_ms);
    match get_hash(ctx.db(key), key, now)?.and_then(|h| h.get(argv.arg(2))) {
        Some(v) => out.bulk(v),
        None => out.null(),
    }
    Ok(())
}

/// ```text
/// HMGET key field [field ...]
/// ```
/// A missing key reads as an empty hash (all nils).
fn hmget(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (key, now) = (argv.arg(1), ctx.now_ms);
    let h = get_hash(ctx.db(key), key, now)?;
    out.array(argv.len() - 2);
    for field in argv.iter().skip(2) {
        match h.as_ref().and_then(|h| h.get(field)) {
            Some(v) => out.bulk(v),
            None => out.null(),
        }
    }
    Ok(())
}

/// ```text
/// HDEL key field [field ...]
/// ```
/// Deletes the key with its last field.
fn hdel(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (key, now) = (argv.arg(1), ctx.now_ms);
    let db = ctx.db(key);
    let Some(h) = get_hash(db, key, now)? else {
        out.int(0);
        return Ok(());
    };
    let mut deleted = 0;
    for field in argv.iter().skip(2) {
        if h.remove(field) {
            deleted += 1;
            if h.is_empty() {
                break;
            }
        }
    }
    let emptied = h.is_empty();
    if emptied {
        db.delete(key, now);
    }
    if deleted > 0 {
        changed(ctx, key, deleted);
        ctx.notify(ev::HASH, "hdel", key);
    }
    if emptied {
        ctx.notify(ev::GENERIC, "del", key);
    }
    out.int(deleted as i64);
    Ok(())
}

/// ```text
/// HLEN key
/// ```
fn hlen(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (key, now) = (argv.arg(1), ctx.now_ms);
    let len = get_hash(ctx.db(key), key, now)?.map_or(0, |h| h.len());
    out.int(len as i64);
    Ok(())
}

/// ```text
/// HSTRLEN key field
/// ```
fn hstrlen(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (key, now) = (argv.arg(1), ctx.now_ms);
    let len = get_hash(ctx.db(key), key, now)?
        .and_then(|h| h.get(argv.arg(2)))
        .map_or(0, |v| v.len());
    out.int(len as i64);
    Ok(())
}

/// ```text
/// HEXISTS key field
/// ```
fn hexists(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (key, now) = (argv.arg(1), ctx.now_ms);
    let found = get_hash(ctx.db(key), key, now)?.is_some_and(|h| h.contains(argv.arg(2)));
    out.int(found as i64);
    Ok(())
}

#[derive(Clone, Copy, PartialEq)]
enum Part {
    Fields,
    Values,
    Both,
}

/// HKEYS, HVALS and HGETALL (Redis's `genericHgetallCommand`): a map for HGETALL, an array
/// otherwise; listpack order for small hashes.
fn getall_generic(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink, part: Part) -> CmdResult {
    let (key, now) = (argv.arg(1), ctx.now_ms);
    let h = get_hash(ctx.db(key), key, now)?;
    let len = h.as_ref().map_or(0, |h| h.len());
    if part == Part::Both {
        out.map(len);
    } else {
        out.array(len);
    }
    for (f, v) in h.iter().flat_map(|h| h.iter()) {
        if part != Part::Values {
            out.bulk(f);
        }
        if part != Part::Fields {
            out.bulk(v);
        }
    }
    Ok(())
}

/// ```text
/// HGETALL key
/// ```
fn hgetall(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    getall_generic(ctx, argv, out, Part::Both)
}

/// ```text
/// HKEYS key
/// ```
fn hkeys(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    getall_generic(ctx, argv, out, Part::Fields)
}

/// ```text
/// HVALS key
/// ```
fn hvals(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    getall_generic(ctx, argv, out, Part::Values)
}

/// ```text
/// HINCRBY key field increment
/// ```
/// The field's value must be a canonical integer ("hash value is not an integer") and the sum
/// must fit an i64 ("increment or decrement would overflow").
fn hincrby(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let incr = args::int(argv.arg(3))?;
    let (key, field, now) = (argv.arg(1), argv.arg(2), ctx.now_ms);
    let limits = ListpackLimits::from_config(ctx.config);
    let new = write_hash(ctx.db(key), key, now, |h| {
        let current = match h.get(field) {
            Some(v) => usher_protocol::parse::parse_i64(v)
                .ok_or(CmdError::Static(errors::HASH_VALUE_NOT_INTEGER))?,
            None => 0,
        };
        let new = current.checked_add(incr).ok_or(CmdError::Overflow)?;
        h.set(field, itoa::Buffer::new().format(new).as_bytes(), limits);
        Ok(new)
    })?;
    changed(ctx, key, 1);
    ctx.notify(ev::HASH, "hincrby", key);
    out.int(new);
    Ok(())
}

/// ```text
/// HINCRBYFLOAT key field increment
/// ```
/// Computed in 80-bit long double and printed like Redis (`%.17Lf`, trimmed).
fn hincrbyfloat(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let incr = crate::num::hincr_by_float_increment(argv.arg(3))?;
    let (key, field, now) = (argv.arg(1), argv.arg(2), ctx.now_ms);
    let limits = ListpackLimits::from_config(ctx.config);
    let new = write_hash(ctx.db(key), key, now, |h| {
        let new = crate::num::hincr_by_float(h.get(field), incr)?;
        h.set(field, &new, limits);
        Ok(new)
    })?;
    changed(ctx, key, 1);
    ctx.notify(ev::HASH, "hincrbyfloat", key);
    out.bulk(&new);
    Ok(())
}

/// Redis's `hrandfieldWithCountCommand` switches strategy when the hash is at most this many
/// times the count: copy everything and drop random fields instead of sampling.
const HRANDFIELD_SUB_STRATEGY_MUL: u64 = 3;

/// ```text
/// HRANDFIELD key [count [WITHVALUES]]
/// ```
/// Complexity: O(N) where N is the number of fields returned.
fn hrandfield(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (key, now) = (argv.arg(1), ctx.now_ms);
    if argv.len() == 2 {
        let h = get_hash(ctx.db(key), key, now)?;
        match h.and_then(|h| h.random_pair(&mut rand::rng())) {
            Some((f, _)) => out.bulk(f),
            None => out.null(),
        }
        return Ok(());
    }
    let count = args::int(argv.arg(2))?;
    if count == i64::MIN {
        return Err(CmdError::Static(errors::COUNT_NOT_NEGATABLE));
    }
    let with_values = match argv.len() {
        3 => false,
        4 if is(argv.arg(3), "WITHVALUES") => true,
        _ => return Err(CmdError::Syntax),
    };
    // Redis refuses counts whose doubled reply length would overflow a long.
    if with_values && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
        return Err(CmdError::OutOfRange);
    }
    let Some(h) = get_hash(ctx.db(key), key, now)? else {
        out.array(0);
        return Ok(());
    };
    hrandfield_with_count(h, count, with_values, out);
    Ok(())
}

fn hrandfield_with_count(h: &Hash, count: i64, with_values: bool, out: &mut dyn ReplySink) {
    let mut rng = rand::rng();
    let (n, unique) = (count.unsigned_abs(), count >= 0);
    let size = h.len() as u64;
    if n == 0 {
        out.array(0);
        return;
    }
    let reply_len = if unique { n.min(size) } else { n };
    out.array(if with_values && !out.is_resp3() {
        reply_len as usize * 2
    } else {
        reply_len as usize
    });
    let mut pair = |f: &[u8], v: &[u8]| {
        if with_values && out.is_resp3() {
            out.array(2);
        }
        out.bulk(f);
        if with_values {
            out.bulk(v);
        }
    };
    if !unique || n == 1 {
        // Sampling with repetition, in random order.
        for _ in 0..n {
            let (f, v) = h
                .random_pair(&mut rng)
                .expect("stored hashes are never empty");
            pair(f, v);
        }
    } else if n >= size {
        h.iter().for_each(|(f, v)| pair(f, v));
    } else if n * HRANDFIELD_SUB_STRATEGY_MUL > size {
        // Most of the hash: shuffle a copy of the pairs and keep `n` (random order).
        let mut all: Vec<(&[u8], &[u8])> = h.iter().collect();
        let (picked, _) = all.partial_shuffle(&mut rng, n as usize);
        picked.iter().for_each(|&(f, v)| pair(f, v));
    } else if h.is_listpack() {
        // A few of a listpack: distinct positions, in listpack order (`lpRandomPairsUnique`).
        let all: Vec<(&[u8], &[u8])> = h.iter().collect();
        let mut idx = rand::seq::index::sample(&mut rng, all.len(), n as usize).into_vec();
        idx.sort_unstable();
        idx.into_iter().for_each(|i| pair(all[i].0, all[i].1));
    } else {
        // A few of a large hashtable: draw until `n` distinct fields (at most 1.5 draws each
        // on average, since the hash is at least three times larger).
        let mut seen = std::collections::HashSet::with_capacity(n as usize);
        while (seen.len() as u64) < n {
            let (f, v) = h
                .random_pair(&mut rng)
                .expect("stored hashes are never empty");
            if seen.insert(f) {
                pair(f, v);
            }
        }
    }
}

/// ```text
/// HSCAN key cursor [MATCH pattern] [COUNT count]
/// ```
/// Complexity: O(1) per call, O(N) for a full iteration.
fn hscan(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let cursor = scan::parse_cursor(argv.arg(2))?;
    let (key, now) = (argv.arg(1), ctx.now_ms);
    let Some(h) = get_hash(ctx.db(key), key, now)? else {
        write_scan_reply(out, 0, &[]);
        return Ok(());
    };
    let opts = scan::parse_options(argv, 3, false)?;
    let mut found = Vec::new();
    let next = h.scan(cursor, opts.count, |f, v| {
        if opts.matches(f) {
            found.push((f.to_vec(), v.to_vec()));
        }
    });
    let flat: Vec<&[u8]> = found.iter().flat_map(|(f, v)| [&f[..], &v[..]]).collect();
    write_scan_reply(out, next, &flat);
    Ok(())
}

/// `[cursor, [item, ...]]`, the SCAN family's reply.
pub(crate) fn write_scan_reply(out: &mut dyn ReplySink, cursor: u64, items: &[&[u8]]) {
    out.array(2);
    out.bulk(itoa::Buffer::new().format(cursor).as_bytes());
    out.array(items.len());
    items.iter().for_each(|i| out.bulk(i));
}

const RO: Flags = Flags::READONLY;
const RW: Flags = Flags::WRITE;
const FAST: Flags = Flags::FAST;
const DENYOOM: Flags = Flags::DENYOOM;

pub static COMMANDS: &[Spec] = &[
    cmd("HSET", -4, RW.union(DENYOOM).union(FAST), hset as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Hash, "2.0.0", "Set the string value of a hash field", "O(1) for each field/value pair added, so O(N) to add N field/value pairs when the command is called with multiple field/value pairs."),
    cmd("HSETNX", 4, RW.union(DENYOOM).union(FAST), hsetnx as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Hash, "2.0.0", "Set the value of a hash field, only if the field does not exist", "O(1)"),
    cmd("HGET", 3, RO.union(FAST), hget as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Hash, "2.0.0", "Get the value of a hash field", "O(1)"),
    cmd("HMGET", -3, RO.union(FAST), hmget as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Hash, "2.0.0", "Get the values of all the given hash fields", "O(N) where N is the number of fields being requested."),
    cmd("HMSET", -4, RW.union(DENYOOM).union(FAST), hmset as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Hash, "2.0.0", "Set multiple hash fields to multiple values", "O(N) where N is the number of fields being set."),
    cmd("HGETALL", 2, RO, hgetall as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Hash, "2.0.0", "Get all the fields and values in a hash", "O(N) where N is the size of the hash."),
    cmd("HDEL", -3, RW.union(FAST), hdel as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Hash, "2.0.0", "Delete one or more hash fields", "O(N) where N is the number of fields to be removed."),
    cmd("HEXISTS", 3, RO.union(FAST), hexists as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Hash, "2.0.0", "Determine if a hash field exists", "O(1)"),
    cmd("HLEN", 2, RO.union(FAST), hlen as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Hash, "2.0.0", "Get the number of fields in a hash", "O(1)"),
    cmd("HKEYS", 2, RO, hkeys as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Hash, "2.0.0", "Get all the fields in a hash", "O(N) where N is the size of the hash."),
    cmd("HVALS", 2, RO, hvals as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Hash, "2.0.0", "Get all the values in a hash", "O(N) where N is the size of the hash."),
    cmd("HINCRBY", 4, RW.union(DENYOOM).union(FAST), hincrby as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Hash, "2.0.0", "Increment the integer value of a hash field by the given number", "O(1)"),
    cmd("HINCRBYFLOAT", 4, RW.union(DENYOOM).union(FAST), hincrbyfloat as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Hash, "2.6.0", "Increment the float value of a hash field by the given amount", "O(1)"),
    cmd("HSTRLEN", 3, RO.union(FAST), hstrlen as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Hash, "3.2.0", "Get the length of the value of a hash field", "O(1)"),
    cmd("HRANDFIELD", -2, RO.union(Flags::NONDETERMINISTIC), hrandfield as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Hash, "6.2.0", "Get one or multiple random fields from a hash", "O(N) where N is the number of fields returned"),
    cmd("HSCAN", -3, RO, hscan as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Hash, "2.8.0", "Incrementally iterate hash fields and associated values", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.."),
];
