//! The keyspace family: commands that work on keys of any type (DEL, EXISTS, TYPE, SCAN,
//! RENAME, COPY, MOVE, the EXPIRE family, OBJECT) and on whole databases (DBSIZE, FLUSHDB,
//! FLUSHALL, SWAPDB, KEYS, RANDOMKEY).
//!
//! Whole-database commands carry `ALL_SHARDS`: the dispatcher locks every shard, so they see
//! and change the database atomically, as in Redis. SCAN's cursor names a shard and a position
//! inside that shard's dictionary (see [`ScanCursor`]).

use super::scan;
use crate::args::{self, is};
use crate::command::{cmd, container, CommandSpec, EngineHandler, Flags, Group};
use crate::ctx::ExecCtx;
use crate::error::{CmdError, CmdResult};
use crate::keyspace_events as ev;
use crate::value::{StrValue, Value};
use rand::RngExt;
use usher_protocol::{errors, Argv, ReplySink};

type Spec = CommandSpec<EngineHandler>;

/// ```text
/// DEL key [key ...]
/// ```
/// Complexity: O(N) keys; large values are reclaimed in the background.
fn del(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let now = ctx.now_ms;
    let mut deleted = 0;
    for key in argv.iter().skip(1) {
        if ctx.db(key).delete(key, now) {
            ctx.modified(key);
            ctx.notify(ev::GENERIC, "del", key);
            deleted += 1;
        }
    }
    out.int(deleted);
    Ok(())
}

/// ```text
/// EXISTS key [key ...]
/// ```
/// A key named twice counts twice, as in Redis.
fn exists(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let now = ctx.now_ms;
    let n = argv
        .iter()
        .skip(1)
        .filter(|key| ctx.db(key).contains(key, now))
        .count();
    out.int(n as i64);
    Ok(())
}

/// ```text
/// TOUCH key [key ...]
/// ```
fn touch(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let now = ctx.now_ms;
    let n = argv
        .iter()
        .skip(1)
        .filter(|key| ctx.db(key).lookup(key, now).is_some())
        .count();
    out.int(n as i64);
    Ok(())
}

/// ```text
/// TYPE key
/// ```
fn type_(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (key, now) = (argv.arg(1), ctx.now_ms);
    let name = ctx
        .db(key)
        .lookup_no_touch(key, now)
        .map_or("none", |e| e.value.type_name());
    out.simple(name);
    Ok(())
}

/// ```text
/// KEYS pattern
/// ```
/// Complexity: O(N) keys in the database; it holds every shard while it runs, as Redis.
fn keys(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (pattern, now, db) = (argv.arg(1), ctx.now_ms, ctx.db);
    let all = pattern == b"*";
    let mut found: Vec<Vec<u8>> = Vec::new();
    for shard in ctx.shards.iter_mut() {
        for (key, entry) in shard.db(db).iter() {
            if !entry.is_expired(now) && (all || crate::glob::glob_match(pattern, key, false)) {
                found.push(key.to_vec());
            }
        }
    }
    out.array(found.len());
    for key in &found {
        out.bulk(key);
    }
    Ok(())
}

/// A SCAN cursor: which shard, and where in that shard's dictionary.
///
/// Layout: `(shard + 1) << 49 | (dict_cursor >> 15)`. A dictionary cursor is a position in
/// 64-bit hash space; dropping its low 15 bits rounds it down, which can only repeat keys
/// (allowed by SCAN's contract), never skip them. Cursor 0 is the start and the end.
pub struct ScanCursor;

impl ScanCursor {
    const POS_BITS: u32 = 49;
    const DROPPED_BITS: u32 = 64 - Self::POS_BITS;

    pub fn decode(cursor: u64) -> (usize, u64) {
        let shard = (cursor >> Self::POS_BITS).saturating_sub(1) as usize;
        let pos = (cursor & ((1 << Self::POS_BITS) - 1)) << Self::DROPPED_BITS;
        (shard, pos)
    }

    pub fn encode(shard: usize, dict_cursor: u64) -> u64 {
        ((shard as u64 + 1) << Self::POS_BITS) | (dict_cursor >> Self::DROPPED_BITS)
    }
}

/// ```text
/// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]
/// ```
/// Complexity: O(1) per call, O(N) for a full iteration.
fn scan_cmd(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let cursor = scan::parse_cursor(argv.arg(1))?;
    let opts = scan::parse_options(argv, 2, true)?;
    let (now, db) = (ctx.now_ms, ctx.db);
    let (mut shard_idx, mut pos) = ScanCursor::decode(cursor);
    let mut found: Vec<Vec<u8>> = Vec::new();
    let mut next = 0;
    let shards: Vec<_> = ctx.shards.iter_mut().collect();
    while shard_idx < shards.len() {
        let dict_next = shards[shard_idx].dbs[db].scan(
            pos,
            opts.count.saturating_sub(found.len()).max(1),
            |key, entry| {
                let type_ok = opts
                    .type_name
                    .is_none_or(|t| t.eq_ignore_ascii_case(entry.value.type_name().as_bytes()));
                if !entry.is_expired(now) && type_ok && opts.matches(key) {
                    found.push(key.to_vec());
                }
            },
        );
        if dict_next != 0 {
            next = ScanCursor::encode(shard_idx, dict_next);
            break;
        }
        shard_idx += 1;
        pos = 0;
        if found.len() >= opts.count {
            if shard_idx < shards.len() {
                next = ScanCursor::encode(shard_idx, 0);
            }
            break;
        }
    }
    out.array(2);
    out.bulk(next.to_string().as_bytes());
    out.array(found.len());
    for key in &found {
        out.bulk(key);
    }
    Ok(())
}

/// ```text
/// RANDOMKEY
/// ```
fn randomkey(ctx: &mut ExecCtx, _argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (now, db) = (ctx.now_ms, ctx.db);
    let mut rng = rand::rng();
    let mut shards: Vec<_> = ctx.shards.iter_mut().collect();
    // Bounded retries: a database full of expired-but-unreclaimed keys still answers quickly.
    for _ in 0..100 {
        let total: usize = shards.iter().map(|s| s.dbs[db].len()).sum();
        if total == 0 {
            break;
        }
        let mut pick = rng.random_range(0..total);
        let shard = shards.iter_mut().find(|s| {
            let len = s.dbs[db].len();
            if pick < len {
                return true;
            }
            pick -= len;
            false
        });
        let Some(shard) = shard else { break };
        let Some((key, entry)) = shard.dbs[db].random_key(&mut rng) else {
            continue;
        };
        if !entry.is_expired(now) {
            out.bulk(key);
            return Ok(());
        }
        let key = key.clone();
        shard.dbs[db].delete(&key, now);
    }
    out.null();
    Ok(())
}

fn rename_generic(ctx: &mut ExecCtx, argv: Argv, nx: bool) -> Result<bool, CmdError> {
    let (src, dst, now) = (argv.arg(1), argv.arg(2), ctx.now_ms);
    if !ctx.db(src).contains(src, now) {
        return Err(CmdError::NoSuchKey);
    }
    if src == dst {
        return Ok(!nx);
    }
    if nx && ctx.db(dst).contains(dst, now) {
        return Ok(false);
    }
    let entry = ctx.db(src).remove(src).expect("checked above");
    // Redis deletes an existing destination first, so the key is created anew (`new`).
    ctx.db(dst).delete(dst, now);
    ctx.db(dst).set_entry(dst, entry, now);
    ctx.modified(src);
    ctx.modified(dst);
    ctx.notify(ev::GENERIC, "rename_from", src);
    ctx.notify(ev::GENERIC, "rename_to", dst);
    ctx.ready(dst);
    Ok(true)
}

/// ```text
/// RENAME key newkey
/// ```
fn rename(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    rename_generic(ctx, argv, false)?;
    out.ok();
    Ok(())
}

/// ```text
/// RENAMENX key newkey
/// ```
fn renamenx(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let renamed = rename_generic(ctx, argv, true)?;
    out.int(renamed as i64);
    Ok(())
}

/// An argument that must fit a C `int` (Redis's `getIntFromObjectOrReply`): not a number is
/// "not an integer", a number outside the `int` range gets its own error.
pub fn c_int(arg: &[u8]) -> Result<i64, CmdError> {
    let v = args::int(arg)?;
    if v < i32::MIN as i64 || v > i32::MAX as i64 {
        return Err(CmdError::Static(errors::INT_OUT_OF_RANGE));
    }
    Ok(v)
}

/// A `db` argument: an int that must name an existing database (negative ones included in
/// "out of range", as Redis's `selectDb`).
fn db_index(ctx: &ExecCtx, arg: &[u8]) -> Result<usize, CmdError> {
    let id = c_int(arg)?;
    if id < 0 || id as usize >= ctx.shards.store().databases() {
        return Err(CmdError::Static(errors::DB_INDEX_OUT_OF_RANGE));
    }
    Ok(id as usize)
}

/// ```text
/// COPY source destination [DB destination-db] [REPLACE]
/// ```
fn copy(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (src, dst, now) = (argv.arg(1), argv.arg(2), ctx.now_ms);
    let (mut dst_db, mut replace) = (ctx.db, false);
    let mut i = 3;
    while i < argv.len() {
        if is(argv.arg(i), "REPLACE") {
            replace = true;
        } else if is(argv.arg(i), "DB") && i + 1 < argv.len() {
            dst_db = db_index(ctx, argv.arg(i + 1))?;
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    // After the options' syntax, as Redis checks it (the only database in cluster mode is 0).
    if ctx.config.cluster_enabled && dst_db != 0 {
        return Err(CmdError::Static(
            "ERR Copying to another database is not allowed in cluster mode",
        ));
    }
    if src == dst && dst_db == ctx.db {
        return Err(CmdError::Static(errors::SAME_OBJECT));
    }
    // Redis reads the source with `lookupKeyRead` (a hit or a miss) and checks the
    // destination with `lookupKeyWrite` (neither).
    crate::keyspace_stats::count_as_reads();
    let Some(entry) = ctx.db(src).lookup(src, now) else {
        out.int(0);
        return Ok(());
    };
    let (value, expire) = (entry.value.deep_clone(), entry.expire_at());
    let target = ctx.shards.shard(dst).db(dst_db);
    if target.has_live(dst, now) {
        if !replace {
            out.int(0);
            return Ok(());
        }
        target.delete(dst, now);
    }
    target.set(dst, value);
    if let Some(at) = expire {
        target.set_expire(dst, at, now);
    }
    ctx.shards.shard(dst).touch(dst_db, dst);
    ctx.notify_in(dst_db, ev::GENERIC, "copy_to", dst);
    ctx.ready_in(dst_db, dst);
    ctx.effects.dirty += 1;
    out.int(1);
    Ok(())
}

/// ```text
/// MOVE key db
/// ```
fn move_(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (key, now, src_db) = (argv.arg(1), ctx.now_ms, ctx.db);
    if ctx.config.cluster_enabled {
        return Err(CmdError::Static("ERR MOVE is not allowed in cluster mode"));
    }
    let dst_db = db_index(ctx, argv.arg(2))?;
    if dst_db == src_db {
        return Err(CmdError::Static(errors::SAME_OBJECT));
    }
    let shard = ctx.shards.shard(key);
    if !shard.db(src_db).contains(key, now) || shard.db(dst_db).contains(key, now) {
        out.int(0);
        return Ok(());
    }
    let entry = shard.db(src_db).remove(key).expect("checked above");
    shard.db(dst_db).set_entry(key, entry, now);
    shard.touch(src_db, key);
    shard.touch(dst_db, key);
    ctx.notify_in(src_db, ev::GENERIC, "move_from", key);
    ctx.notify_in(dst_db, ev::GENERIC, "move_to", key);
    ctx.ready_in(dst_db, key);
    ctx.effects.dirty += 1;
    out.int(1);
    Ok(())
}

#[derive(Default)]
struct ExpireFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

/// Redis's `parseExtendedExpireArgumentsOrReply`.
fn parse_expire_flags(argv: Argv) -> Result<ExpireFlags, CmdError> {
    let mut f = ExpireFlags::default();
    for opt in argv.iter().skip(3) {
        if is(opt, "NX") {
            f.nx = true;
        } else if is(opt, "XX") {
            f.xx = true;
        } else if is(opt, "GT") {
            f.gt = true;
        } else if is(opt, "LT") {
            f.lt = true;
        } else {
            return Err(CmdError::Owned(format!(
                "ERR Unsupported option {}",
                String::from_utf8_lossy(opt)
            )));
        }
    }
    if f.nx && (f.xx || f.gt || f.lt) {
        return Err(CmdError::Static(
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if f.gt && f.lt {
        return Err(CmdError::Static(
            "ERR GT and LT options at the same time are not compatible",
        ));
    }
    Ok(f)
}

/// Redis's `expireGenericCommand`, for EXPIRE, PEXPIRE, EXPIREAT and PEXPIREAT.
fn expire_generic(
    ctx: &mut ExecCtx,
    argv: Argv,
    out: &mut dyn ReplySink,
    relative: bool,
    seconds: bool,
    name: &str,
) -> CmdResult {
    let flags = parse_expire_flags(argv)?;
    let invalid = || CmdError::Owned(errors::fill(errors::INVALID_EXPIRE, name));
    let mut when = args::int(argv.arg(2))?;
    if seconds {
        when = when.checked_mul(1000).ok_or_else(invalid)?;
    }
    let base = if relative { ctx.now_ms } else { 0 };
    when = when.checked_add(base).ok_or_else(invalid)?;
    let (key, now) = (argv.arg(1), ctx.now_ms);
    let db = ctx.db(key);
    let Some(entry) = db.lookup(key, now) else {
        out.int(0);
        return Ok(());
    };
    let current = entry.expire_at();
    let refused = (flags.nx && current.is_some())
        || (flags.xx && current.is_none())
        || (flags.gt && current.is_none_or(|c| when <= c))
        || (flags.lt && current.is_some_and(|c| when >= c));
    if refused {
        out.int(0);
        return Ok(());
    }
    let event = if when <= now { "del" } else { "expire" };
    if when <= now {
        db.delete(key, now);
    } else {
        db.set_expire(key, when, now);
    }
    ctx.modified(key);
    ctx.notify(ev::GENERIC, event, key);
    out.int(1);
    Ok(())
}

/// ```text
/// EXPIRE key seconds [NX | XX | GT | LT]
/// ```
fn expire(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    expire_generic(ctx, argv, out, true, true, "expire")
}

/// ```text
/// PEXPIRE key milliseconds [NX | XX | GT | LT]
/// ```
fn pexpire(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    expire_generic(ctx, argv, out, true, false, "pexpire")
}

/// ```text
/// EXPIREAT key unix-time-seconds [NX | XX | GT | LT]
/// ```
fn expireat(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    expire_generic(ctx, argv, out, false, true, "expireat")
}

/// ```text
/// PEXPIREAT key unix-time-milliseconds [NX | XX | GT | LT]
/// ```
fn pexpireat(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    expire_generic(ctx, argv, out, false, false, "pexpireat")
}

/// Redis's `ttlGenericCommand`: -2 no key, -1 no expiry, else the remaining or absolute time.
fn ttl_generic(
    ctx: &mut ExecCtx,
    argv: Argv,
    out: &mut dyn ReplySink,
    ms: bool,
    absolute: bool,
) -> CmdResult {
    let (key, now) = (argv.arg(1), ctx.now_ms);
    let Some(entry) = ctx.db(key).lookup_no_touch(key, now) else {
        out.int(-2);
        return Ok(());
    };
    match entry.expire_at() {
        None => out.int(-1),
        Some(at) => {
            let t = if absolute { at } else { (at - now).max(0) };
            out.int(if ms { t } else { (t + 500) / 1000 });
        }
    }
    Ok(())
}

/// ```text
/// TTL key
/// ```
fn ttl(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    ttl_generic(ctx, argv, out, false, false)
}

/// ```text
/// PTTL key
/// ```
fn pttl(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    ttl_generic(ctx, argv, out, true, false)
}

/// ```text
/// EXPIRETIME key
/// ```
fn expiretime(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    ttl_generic(ctx, argv, out, false, true)
}

/// ```text
/// PEXPIRETIME key
/// ```
fn pexpiretime(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    ttl_generic(ctx, argv, out, true, true)
}

/// ```text
/// PERSIST key
/// ```
fn persist(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (key, now) = (argv.arg(1), ctx.now_ms);
    let removed = ctx.db(key).persist(key, now);
    if removed {
        ctx.modified(key);
        ctx.notify(ev::GENERIC, "persist", key);
    }
    out.int(removed as i64);
    Ok(())
}

/// Redis shares integers 0..9999 between keys and reports their refcount as INT_MAX.
const SHARED_INTEGERS: i64 = 10_000;
const SHARED_REFCOUNT: i64 = i32::MAX as i64;

/// ```text
/// OBJECT ENCODING | REFCOUNT | IDLETIME | FREQ key
/// ```
fn object_sub(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (sub, key, now) = (argv.arg(1), argv.arg(2), ctx.now_ms);
    let Some(entry) = ctx.db(key).lookup_no_touch(key, now) else {
        // OBJECT looks up with Redis's LOOKUP_NONOTIFY: a miss publishes no `keymiss`.
        crate::keyspace_events::drop_misses(&mut ctx.effects.events);
        out.null();
        return Ok(());
    };
    if is(sub, "ENCODING") {
        out.bulk_str(entry.value.encoding_name());
    } else if is(sub, "REFCOUNT") {
        let shared = matches!(entry.value, Value::Str(StrValue::Int(i)) if (0..SHARED_INTEGERS).contains(&i));
        out.int(if shared { SHARED_REFCOUNT } else { 1 });
    } else if is(sub, "IDLETIME") {
        if crate::lfu::enabled() {
            return Err(CmdError::Static("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."));
        }
        out.int(entry.idle_seconds(now) as i64);
    } else {
        if !crate::lfu::enabled() {
            return Err(CmdError::Static("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."));
        }
        out.int(entry.lfu_freq(now) as i64);
    }
    Ok(())
}

const OBJECT_HELP: &[&str] = &[
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
];

fn object_help(_ctx: &mut ExecCtx, _argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    write_help(out, OBJECT_HELP);
    Ok(())
}

/// Writes a HELP reply: the lines as status strings, as Redis's `addReplyHelp`.
pub fn write_help(out: &mut dyn ReplySink, lines: &[&str]) {
    out.array(lines.len());
    for line in lines {
        out.simple(line);
    }
}

/// ```text
/// DBSIZE
/// ```
fn dbsize(ctx: &mut ExecCtx, _argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let db = ctx.db;
    let n: usize = ctx.shards.iter_mut().map(|s| s.db(db).len()).sum();
    out.int(n as i64);
    Ok(())
}

/// Redis's `getFlushCommandFlags`: nothing, ASYNC or SYNC.
fn check_flush_args(argv: Argv) -> CmdResult {
    match argv.len() {
        1 => Ok(()),
        2 if is(argv.arg(1), "ASYNC") || is(argv.arg(1), "SYNC") => Ok(()),
        _ => Err(CmdError::Syntax),
    }
}

/// ```text
/// FLUSHDB [ASYNC | SYNC]
/// ```
/// Values are always reclaimed in the background; the keyspace is empty when it replies.
fn flushdb(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    check_flush_args(argv)?;
    let (db, now) = (ctx.db, ctx.now_ms);
    for shard in ctx.shards.iter_mut() {
        shard.touch_all_in_db(db, None, now);
        ctx.effects.dirty += shard.db(db).len() as u64;
        let waited = super::stream::waited_streams(shard, db);
        ctx.effects.ready_keys.extend(waited);
        shard.db(db).clear();
        shard.queues.flush_db(db);
    }
    out.ok();
    Ok(())
}

/// ```text
/// FLUSHALL [ASYNC | SYNC]
/// ```
fn flushall(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    check_flush_args(argv)?;
    let now = ctx.now_ms;
    for shard in ctx.shards.iter_mut() {
        for db in 0..shard.dbs.len() {
            shard.touch_all_in_db(db, None, now);
            ctx.effects.dirty += shard.db(db).len() as u64;
            let waited = super::stream::waited_streams(shard, db);
            ctx.effects.ready_keys.extend(waited);
            shard.db(db).clear();
            shard.queues.flush_db(db);
        }
    }
    // Redis counts FLUSHALL as one more change so it always reaches the log.
    ctx.effects.dirty += 1;
    out.ok();
    Ok(())
}

/// ```text
/// SWAPDB index1 index2
/// ```
fn swapdb(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    if ctx.config.cluster_enabled {
        return Err(CmdError::Static(
            "ERR SWAPDB is not allowed in cluster mode",
        ));
    }
    let parse = |arg: &[u8], msg: &'static str| match usher_protocol::parse::parse_i64(arg) {
        Some(v) if (i32::MIN as i64..=i32::MAX as i64).contains(&v) => Ok(v),
        _ => Err(CmdError::Static(msg)),
    };
    let a = parse(argv.arg(1), "ERR invalid first DB index")?;
    let b = parse(argv.arg(2), "ERR invalid second DB index")?;
    let n = ctx.shards.store().databases() as i64;
    if a < 0 || b < 0 || a >= n || b >= n {
        return Err(CmdError::Static(errors::DB_INDEX_OUT_OF_RANGE));
    }
    let (a, b, now) = (a as usize, b as usize, ctx.now_ms);
    if a != b {
        for shard in ctx.shards.iter_mut() {
            shard.touch_all_in_db(a, Some(b), now);
            shard.touch_all_in_db(b, Some(a), now);
            crate::db::Db::swap(&mut shard.dbs, a, b);
            // Clients blocked on a key that now holds data must be served.
            for db in [a, b] {
                for key in shard.blocked.keys_in_db(db) {
                    if shard.dbs[db].contains(&key, now) {
                        ctx.effects.ready_keys.push((db, key));
                    }
                }
            }
        }
        ctx.effects.dirty += 1;
    }
    out.ok();
    Ok(())
}

const OBJECT_SUBCOMMANDS: &[Spec] = &[
    cmd("ENCODING", 3, Flags::READONLY, object_sub as EngineHandler)
        .keys(2, 2, 1)
        .doc(
            Group::Generic,
            "2.2.3",
            "Returns the internal encoding of a Redis object.",
            "O(1)",
        ),
    cmd("FREQ", 3, Flags::READONLY, object_sub as EngineHandler)
        .keys(2, 2, 1)
        .doc(
            Group::Generic,
            "4.0.0",
            "Returns the logarithmic access frequency counter of a Redis object.",
            "O(1)",
        ),
    cmd("IDLETIME", 3, Flags::READONLY, object_sub as EngineHandler)
        .keys(2, 2, 1)
        .doc(
            Group::Generic,
            "2.2.3",
            "Returns the time since the last access to a Redis object.",
            "O(1)",
        ),
    cmd("REFCOUNT", 3, Flags::READONLY, object_sub as EngineHandler)
        .keys(2, 2, 1)
        .doc(
            Group::Generic,
            "2.2.3",
            "Returns the reference count of a value of a key.",
            "O(1)",
        ),
    cmd(
        "HELP",
        2,
        Flags::LOADING.union(Flags::STALE),
        object_help as EngineHandler,
    )
    .doc(
        Group::Generic,
        "6.2.0",
        "Returns helpful text about the different subcommands.",
        "O(1)",
    ),
];

const RW: Flags = Flags::WRITE;
const RO: Flags = Flags::READONLY;
const FAST: Flags = Flags::FAST;
const ALL: Flags = Flags::ALL_SHARDS;

pub static COMMANDS: &[Spec] = &[
    cmd("DEL", -2, RW, del as EngineHandler)
        .keys(1, -1, 1)
        .doc(Group::Generic, "1.0.0", "Deletes one or more keys.", "O(N) where N is the number of keys that will be removed. When a key to remove holds a value other than a string, the individual complexity for this key is O(M) where M is the number of elements in the list, set, sorted set or hash. Removing a single key that holds a string value is O(1)."),
    cmd("UNLINK", -2, RW.union(FAST), del as EngineHandler)
        .keys(1, -1, 1)
        .doc(Group::Generic, "4.0.0", "Asynchronously deletes one or more keys.", "O(1) for each key removed regardless of its size. Then the command does O(N) work in a different thread in order to reclaim memory, where N is the number of allocations the deleted objects where composed of."),
    cmd("EXISTS", -2, RO.union(FAST), exists as EngineHandler)
        .keys(1, -1, 1)
        .doc(Group::Generic, "1.0.0", "Determines whether one or more keys exist.", "O(N) where N is the number of keys to check."),
    cmd("TOUCH", -2, RO.union(FAST), touch as EngineHandler)
        .keys(1, -1, 1)
        .doc(Group::Generic, "3.2.1", "Returns the number of existing keys out of those specified after updating the time they were last accessed.", "O(N) where N is the number of keys that will be touched."),
    cmd("TYPE", 2, RO.union(FAST), type_ as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Generic, "1.0.0", "Determines the type of value stored at a key.", "O(1)"),
    cmd("KEYS", 2, RO.union(ALL), keys as EngineHandler)
        .doc(Group::Generic, "1.0.0", "Returns all key names that match a pattern.", "O(N) with N being the number of keys in the database, under the assumption that the key names in the database and the given pattern have limited length."),
    cmd("SCAN", -2, RO.union(ALL), scan_cmd as EngineHandler)
        .doc(Group::Generic, "2.8.0", "Iterates over the key names in the database.", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection."),
    cmd("RANDOMKEY", 1, RO.union(ALL), randomkey as EngineHandler)
        .doc(Group::Generic, "1.0.0", "Returns a random key name from the database.", "O(1)"),
    cmd("RENAME", 3, RW, rename as EngineHandler)
        .keys(1, 2, 1)
        .doc(Group::Generic, "1.0.0", "Renames a key and overwrites the destination.", "O(1)"),
    cmd("RENAMENX", 3, RW.union(FAST), renamenx as EngineHandler)
        .keys(1, 2, 1)
        .doc(Group::Generic, "1.0.0", "Renames a key only when the target key name doesn't exist.", "O(1)"),
    cmd("COPY", -3, RW.union(Flags::DENYOOM), copy as EngineHandler)
        .keys(1, 2, 1)
        .doc(Group::Generic, "6.2.0", "Copies the value of a key to a new key.", "O(N) worst case for collections, where N is the number of nested items. O(1) for string values."),
    cmd("MOVE", 3, RW.union(FAST), move_ as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Generic, "1.0.0", "Moves a key to another database.", "O(1)"),
    cmd("EXPIRE", -3, RW.union(FAST), expire as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Generic, "1.0.0", "Sets the expiration time of a key in seconds.", "O(1)"),
    cmd("PEXPIRE", -3, RW.union(FAST), pexpire as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Generic, "2.6.0", "Sets the expiration time of a key in milliseconds.", "O(1)"),
    cmd("EXPIREAT", -3, RW.union(FAST), expireat as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Generic, "1.2.0", "Sets the expiration time of a key to a Unix timestamp.", "O(1)"),
    cmd("PEXPIREAT", -3, RW.union(FAST), pexpireat as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Generic, "2.6.0", "Sets the expiration time of a key to a Unix milliseconds timestamp.", "O(1)"),
    cmd("TTL", 2, RO.union(FAST), ttl as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Generic, "1.0.0", "Returns the expiration time in seconds of a key.", "O(1)"),
    cmd("PTTL", 2, RO.union(FAST), pttl as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Generic, "2.6.0", "Returns the expiration time in milliseconds of a key.", "O(1)"),
    cmd("EXPIRETIME", 2, RO.union(FAST), expiretime as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Generic, "7.0.0", "Returns the expiration time of a key as a Unix timestamp.", "O(1)"),
    cmd("PEXPIRETIME", 2, RO.union(FAST), pexpiretime as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Generic, "7.0.0", "Returns the expiration time of a key as a Unix milliseconds timestamp.", "O(1)"),
    cmd("PERSIST", 2, RW.union(FAST), persist as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Generic, "2.2.0", "Removes the expiration time of a key.", "O(1)"),
    container("OBJECT", OBJECT_SUBCOMMANDS).doc(Group::Generic, "2.2.3", "A container for object introspection commands.", "Depends on subcommand."),
    cmd("DBSIZE", 1, RO.union(FAST).union(ALL), dbsize as EngineHandler)
        .doc(Group::Server, "1.0.0", "Returns the number of keys in the database.", "O(1)"),
    cmd("FLUSHDB", -1, RW.union(ALL), flushdb as EngineHandler)
        .doc(Group::Server, "1.0.0", "Remove all keys from the current database.", "O(N) where N is the number of keys in the selected database"),
    cmd("FLUSHALL", -1, RW.union(ALL), flushall as EngineHandler)
        .doc(Group::Server, "1.0.0", "Removes all keys from all databases.", "O(N) where N is the total number of keys in all databases"),
    cmd("SWAPDB", 3, RW.union(FAST).union(ALL), swapdb as EngineHandler)
        .doc(Group::Server, "4.0.0", "Swaps two Redis databases.", "O(N) where N is the count of clients watching or blocking on keys from both databases."),
];
