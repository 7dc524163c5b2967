//! Consumer groups: XGROUP (CREATE, SETID, DESTROY, CREATECONSUMER, DELCONSUMER, HELP),
//! XACK, XPENDING, XCLAIM and XAUTOCLAIM, as Redis 7.0's `t_stream.c` answers them.
//!
//! XCLAIM and XAUTOCLAIM parse everything before claiming anything (their reply cannot be an
//! error once one entry moved); an entry pending in the group but deleted from the stream is
//! dropped from the PELs when a claim meets it (XAUTOCLAIM lists those ids in its third
//! reply element).

use super::{get_stream, parse_id, parse_range_end, parse_range_start, parse_strict_id};
use super::{reply_entry, reply_id};
use crate::args::{self, is};
use crate::cmd::keys::write_help;
use crate::command::{cmd, CommandSpec, EngineHandler, Flags, Group as CmdGroup};
use crate::ctx::ExecCtx;
use crate::error::{CmdError, CmdResult};
use crate::keyspace_events as ev;
use crate::types::stream::group::{Group, ENTRIES_READ_INVALID};
use crate::types::stream::{Stream, StreamId};
use crate::value::Value;
use usher_protocol::{errors, Argv, ReplySink};

type Spec = CommandSpec<EngineHandler>;

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `NOGROUP No such key '<key>' or consumer group '<group>'`.
fn no_key_or_group(key: &[u8], group: &[u8]) -> CmdError {
    CmdError::Owned(format!(
        "NOGROUP No such key '{}' or consumer group '{}'",
        lossy(key),
        lossy(group)
    ))
}

/// `NOGROUP No such consumer group '<group>' for key name '<key>'`.
pub(super) fn no_group(key: &[u8], group: &[u8]) -> CmdError {
    CmdError::Owned(format!(
        "NOGROUP No such consumer group '{}' for key name '{}'",
        lossy(group),
        lossy(key)
    ))
}

/// An `ENTRIESREAD` value: non-negative or -1.
fn entries_read_arg(arg: &[u8]) -> Result<i64, CmdError> {
    let n = args::int(arg)?;
    if n < 0 && n != ENTRIES_READ_INVALID {
        return Err(CmdError::Static(errors::STREAM_ENTRIES_READ));
    }
    Ok(n)
}

/// The stream and group a group subcommand works on; the key must exist.
fn stream_for_xgroup<'c>(ctx: &'c mut ExecCtx, key: &[u8]) -> Result<&'c mut Stream, CmdError> {
    let now = ctx.now_ms;
    get_stream(ctx.db(key), key, now)?.ok_or(CmdError::Static(errors::STREAM_XGROUP_NEEDS_KEY))
}

/// ```text
/// XGROUP CREATE key group <id | $> [MKSTREAM] [ENTRIESREAD entries-read]
/// ```
fn xgroup_create(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (mut mkstream, mut entries_read) = (false, ENTRIES_READ_INVALID);
    let mut i = 5;
    while i < argv.len() {
        if is(argv.arg(i), "MKSTREAM") {
            mkstream = true;
            i += 1;
        } else if is(argv.arg(i), "ENTRIESREAD") && i + 1 < argv.len() {
            entries_read = entries_read_arg(argv.arg(i + 1))?;
            i += 2;
        } else {
            return Err(CmdError::Owned(errors::subcommand_syntax(
                argv.arg(1),
                "XGROUP",
            )));
        }
    }
    let (key, group, now) = (argv.arg(2), argv.arg(3), ctx.now_ms);
    let exists = get_stream(ctx.db(key), key, now)?.is_some();
    if !exists && !mkstream {
        return Err(CmdError::Static(errors::STREAM_XGROUP_NEEDS_KEY));
    }
    if argv.len() > 8 {
        return Err(CmdError::Owned(errors::subcommand_syntax(
            argv.arg(1),
            "XGROUP",
        )));
    }
    let id = if argv.arg(4) == b"$" {
        get_stream(ctx.db(key), key, now)?.map_or(StreamId::MIN, |s| s.last_id)
    } else {
        parse_strict_id(argv.arg(4))?
    };
    if !exists {
        ctx.db(key).set(key, Value::Stream(Box::new(Stream::new())));
        ctx.modified(key);
    }
    let s = get_stream(ctx.db(key), key, now)?.expect("exists now");
    if s.groups.contains_key(group) {
        return Err(CmdError::Static(errors::STREAM_BUSYGROUP));
    }
    s.groups
        .insert(group.to_vec(), Group::new(id, entries_read));
    ctx.notify(ev::STREAM, "xgroup-create", key);
    ctx.effects.dirty += 1;
    out.ok();
    Ok(())
}

/// ```text
/// XGROUP SETID key group <id | $> [ENTRIESREAD entries-read]
/// ```
fn xgroup_setid(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let mut entries_read = ENTRIES_READ_INVALID;
    match argv.len() {
        5 => {}
        7 if is(argv.arg(5), "ENTRIESREAD") => entries_read = entries_read_arg(argv.arg(6))?,
        _ => {
            return Err(CmdError::Owned(errors::subcommand_syntax(
                argv.arg(1),
                "XGROUP",
            )));
        }
    }
    let (key, group) = (argv.arg(2), argv.arg(3));
    let s = stream_for_xgroup(ctx, key)?;
    if !s.groups.contains_key(group) {
        return Err(no_group(key, group));
    }
    let id = if argv.arg(4) == b"$" {
        s.last_id
    } else {
        parse_id(argv.arg(4), 0)?
    };
    let g = s.groups.get_mut(group).expect("checked");
    g.last_id = id;
    g.entries_read = entries_read;
    ctx.notify(ev::STREAM, "xgroup-setid", key);
    ctx.effects.dirty += 1;
    out.ok();
    Ok(())
}

/// ```text
/// XGROUP DESTROY key group
/// ```
/// Clients blocked in XREADGROUP on the group get a NOGROUP error.
fn xgroup_destroy(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (key, group) = (argv.arg(2), argv.arg(3));
    let s = stream_for_xgroup(ctx, key)?;
    if s.groups.remove(group).is_none() {
        out.int(0);
        return Ok(());
    }
    ctx.notify(ev::STREAM, "xgroup-destroy", key);
    ctx.effects.dirty += 1;
    ctx.ready(key);
    out.int(1);
    Ok(())
}

/// ```text
/// XGROUP CREATECONSUMER key group consumer
/// ```
fn xgroup_createconsumer(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (key, group, now) = (argv.arg(2), argv.arg(3), ctx.now_ms);
    let s = stream_for_xgroup(ctx, key)?;
    let g = s
        .groups
        .get_mut(group)
        .ok_or_else(|| no_group(key, group))?;
    let created = g.consumer_or_create(argv.arg(4), now).1;
    if created {
        ctx.notify(ev::STREAM, "xgroup-createconsumer", key);
        ctx.effects.dirty += 1;
    }
    out.int(created as i64);
    Ok(())
}

/// ```text
/// XGROUP DELCONSUMER key group consumer
/// ```
/// Replies how many entries the consumer had pending (they leave the group's PEL too).
fn xgroup_delconsumer(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (key, group) = (argv.arg(2), argv.arg(3));
    let s = stream_for_xgroup(ctx, key)?;
    let g = s
        .groups
        .get_mut(group)
        .ok_or_else(|| no_group(key, group))?;
    let pending = g.delete_consumer(argv.arg(4));
    if pending.is_some() {
        ctx.notify(ev::STREAM, "xgroup-delconsumer", key);
        ctx.effects.dirty += 1;
    }
    out.int(pending.unwrap_or(0) as i64);
    Ok(())
}

const XGROUP_HELP: &[&str] = &[
    "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
    "HELP",
    "    Prints this help.",
];

fn xgroup_help(_ctx: &mut ExecCtx, _argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    write_help(out, XGROUP_HELP);
    Ok(())
}

/// The group `group` of the stream under `key`, for XACK-like commands: `Ok(None)` when the
/// key or the group is missing.
fn lookup_group<'c>(
    ctx: &'c mut ExecCtx,
    key: &[u8],
    group: &[u8],
) -> Result<Option<&'c mut Stream>, CmdError> {
    let now = ctx.now_ms;
    Ok(get_stream(ctx.db(key), key, now)?.filter(|s| s.groups.contains_key(group)))
}

/// ```text
/// XACK key group id [id ...]
/// ```
/// Replies how many of the ids were pending. Complexity: O(1) per id.
pub(super) fn xack(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (key, group) = (argv.arg(1), argv.arg(2));
    if lookup_group(ctx, key, group)?.is_none() {
        out.int(0);
        return Ok(());
    }
    let ids = (3..argv.len())
        .map(|i| parse_strict_id(argv.arg(i)))
        .collect::<Result<Vec<_>, _>>()?;
    let s = lookup_group(ctx, key, group)?.expect("checked");
    let g = s.groups.get_mut(group).expect("checked");
    let acked = ids.into_iter().filter(|id| g.ack(*id)).count();
    ctx.effects.dirty += acked as u64;
    out.int(acked as i64);
    Ok(())
}

/// ```text
/// XPENDING key group [[IDLE min-idle-time] start end count [consumer]]
/// ```
/// The summary form: `[count, first, last, [[consumer, count], ...]]`; the extended form:
/// `[[id, consumer, idle-ms, deliveries], ...]`.
pub(super) fn xpending(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let n = argv.len();
    if n != 3 && !(6..=9).contains(&n) {
        return Err(CmdError::Syntax);
    }
    let mut range = None;
    if n >= 6 {
        let mut at = 3;
        let mut min_idle = 0;
        if is(argv.arg(3), "IDLE") {
            min_idle = args::int(argv.arg(4))?;
            if n < 8 {
                return Err(CmdError::Syntax);
            }
            at += 2;
        }
        let count = args::int(argv.arg(at + 2))?.max(0) as usize;
        let start = parse_range_start(argv.arg(at))?;
        let end = parse_range_end(argv.arg(at + 1))?;
        let consumer = (at + 3 < n).then(|| argv.arg(at + 3));
        range = Some((min_idle, start, end, count, consumer));
    }
    let (key, group, now) = (argv.arg(1), argv.arg(2), ctx.now_ms);
    let s = lookup_group(ctx, key, group)?.ok_or_else(|| no_key_or_group(key, group))?;
    let g = &s.groups[group];
    let Some((min_idle, start, end, count, consumer)) = range else {
        out.array(4);
        out.int(g.pel.len() as i64);
        match (g.pel.first_key_value(), g.pel.last_key_value()) {
            (Some((first, _)), Some((last, _))) => {
                reply_id(out, *first);
                reply_id(out, *last);
                let busy: Vec<_> = g
                    .consumers
                    .iter()
                    .filter(|(_, c)| !c.pel.is_empty())
                    .collect();
                out.array(busy.len());
                for (name, c) in busy {
                    out.array(2);
                    out.bulk(name);
                    out.bulk_int(c.pel.len() as i64);
                }
            }
            _ => {
                out.null();
                out.null();
                out.null_array();
            }
        }
        return Ok(());
    };
    let ids: Box<dyn Iterator<Item = StreamId>> = match consumer {
        Some(name) => match g.consumers.get(name) {
            Some(c) => Box::new(c.pel.range(start..).copied()),
            None => {
                out.array(0);
                return Ok(());
            }
        },
        None => Box::new(g.pel.range(start..).map(|(id, _)| *id)),
    };
    let rows: Vec<_> = ids
        .take_while(|id| *id <= end)
        .filter(|id| min_idle == 0 || now - g.pel[id].delivery_time >= min_idle)
        .take(count)
        .collect();
    out.array(rows.len());
    for id in rows {
        let nack = &g.pel[&id];
        out.array(4);
        reply_id(out, id);
        out.bulk(&nack.consumer);
        out.int((now - nack.delivery_time).max(0));
        out.int(nack.delivery_count as i64);
    }
    Ok(())
}

/// ```text
/// XCLAIM key group consumer min-idle-time id [id ...] [IDLE ms] [TIME unix-time-ms]
///     [RETRYCOUNT count] [FORCE] [JUSTID] [LASTID lastid]
/// ```
/// Moves pending entries idle at least `min-idle-time` to `consumer`; replies the claimed
/// entries (or ids with JUSTID). Complexity: O(log N) per id.
/// The claiming consumer, created if new (published as Redis does), marked seen.
fn claim_consumer(g: &mut Group, name: &[u8], now: i64, db: usize, key: &[u8]) {
    let (c, created) = g.consumer_or_create(name, now);
    c.seen_time = now;
    if created {
        crate::keyspace_events::consumer_created(db, key);
    }
}

pub(super) fn xclaim(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (key, group, name, now) = (argv.arg(1), argv.arg(2), argv.arg(3), ctx.now_ms);
    let ctx_db = ctx.db;
    lookup_group(ctx, key, group)?.ok_or_else(|| no_key_or_group(key, group))?;
    let min_idle = args::int(argv.arg(4))
        .map_err(|_| CmdError::Static(errors::STREAM_XCLAIM_MIN_IDLE))?
        .max(0);
    let mut j = 5;
    let mut ids = Vec::new();
    while j < argv.len() {
        match parse_strict_id(argv.arg(j)) {
            Ok(id) => ids.push(id),
            Err(_) => break,
        }
        j += 1;
    }
    let (mut force, mut justid) = (false, false);
    let (mut delivery_time, mut retry_count): (Option<i64>, Option<i64>) = (None, None);
    let mut last_id = StreamId::MIN;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        let opt = argv.arg(j);
        let int_or =
            |i: usize, e: &'static str| args::int(argv.arg(i)).map_err(|_| CmdError::Static(e));
        if is(opt, "FORCE") {
            force = true;
        } else if is(opt, "JUSTID") {
            justid = true;
        } else if is(opt, "IDLE") && more > 0 {
            j += 1;
            delivery_time = Some(now.wrapping_sub(int_or(j, errors::STREAM_XCLAIM_IDLE)?));
        } else if is(opt, "TIME") && more > 0 {
            j += 1;
            delivery_time = Some(int_or(j, errors::STREAM_XCLAIM_TIME)?);
        } else if is(opt, "RETRYCOUNT") && more > 0 {
            j += 1;
            retry_count = Some(int_or(j, errors::STREAM_XCLAIM_RETRYCOUNT)?);
        } else if is(opt, "LASTID") && more > 0 {
            j += 1;
            last_id = parse_strict_id(argv.arg(j))?;
        } else {
            return Err(CmdError::Owned(format!(
                "ERR Unrecognized XCLAIM option '{}'",
                lossy(opt)
            )));
        }
        j += 1;
    }
    let delivery_time = match delivery_time {
        Some(t) if (0..=now).contains(&t) => t,
        _ => now,
    };
    let s = lookup_group(ctx, key, group)?.expect("checked");
    let mut claimed = Vec::new();
    let mut changes = 0u64;
    {
        let g = s.groups.get_mut(group).expect("checked");
        if last_id > g.last_id {
            g.last_id = last_id;
            changes += 1;
        }
    }
    for id in ids {
        let exists = s.get(id).is_some();
        let g = s.groups.get_mut(group).expect("checked");
        if !exists {
            if g.ack(id) {
                changes += 1;
            }
            continue;
        }
        let forced = force && !g.pel.contains_key(&id);
        let Some(nack) = g.pel.get(&id) else {
            if !forced {
                continue;
            }
            claim_consumer(g, name, now, ctx_db, key);
            // A forced entry starts at one delivery, and the claim counts one more.
            let count = retry_count.map_or(if justid { 1 } else { 2 }, |n| n as u64);
            g.assign(id, name, delivery_time, count);
            claimed.push(id);
            changes += 1;
            continue;
        };
        if min_idle > 0 && now - nack.delivery_time < min_idle {
            continue;
        }
        let count = match retry_count {
            Some(n) => n as u64,
            None if justid => nack.delivery_count,
            None => nack.delivery_count + 1,
        };
        claim_consumer(g, name, now, ctx_db, key);
        g.assign(id, name, delivery_time, count);
        claimed.push(id);
        changes += 1;
    }
    out.array(claimed.len());
    for id in claimed {
        if justid {
            reply_id(out, id);
        } else {
            reply_entry(out, &s.get(id).expect("claimed entries exist"));
        }
    }
    ctx.effects.dirty += changes;
    Ok(())
}

/// ```text
/// XAUTOCLAIM key group consumer min-idle-time start [COUNT count] [JUSTID]
/// ```
/// Claims up to COUNT (100) pending entries idle at least `min-idle-time` from `start`,
/// scanning at most ten times COUNT. Reply: `[next-start, claimed, deleted-ids]`.
pub(super) fn xautoclaim(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let ctx_db = ctx.db;
    let min_idle = args::int(argv.arg(4))
        .map_err(|_| CmdError::Static(errors::STREAM_XAUTOCLAIM_MIN_IDLE))?
        .max(0);
    let start = parse_range_start(argv.arg(5))?;
    let mut count: i64 = 100;
    let mut justid = false;
    let mut j = 6;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        if is(argv.arg(j), "COUNT") && more > 0 {
            count = match args::int(argv.arg(j + 1)) {
                Ok(n) if (1..=i64::MAX / 16).contains(&n) => n,
                _ => return Err(CmdError::Static(errors::STREAM_COUNT_POSITIVE)),
            };
            j += 1;
        } else if is(argv.arg(j), "JUSTID") {
            justid = true;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let (key, group, name, now) = (argv.arg(1), argv.arg(2), argv.arg(3), ctx.now_ms);
    let s = lookup_group(ctx, key, group)?.ok_or_else(|| no_key_or_group(key, group))?;
    let mut attempts = count.saturating_mul(10);
    let pending: Vec<StreamId> = s.groups[group]
        .pel
        .range(start..)
        .take((attempts as usize).saturating_add(1))
        .map(|(id, _)| *id)
        .collect();
    let (mut claimed, mut deleted) = (Vec::new(), Vec::new());
    let mut i = 0;
    while attempts > 0 && count > 0 && i < pending.len() {
        attempts -= 1;
        let id = pending[i];
        i += 1;
        let exists = s.get(id).is_some();
        let g = s.groups.get_mut(group).expect("checked");
        if !exists {
            g.ack(id);
            deleted.push(id);
            count -= 1;
            continue;
        }
        let nack = &g.pel[&id];
        if min_idle > 0 && now - nack.delivery_time < min_idle {
            continue;
        }
        let deliveries = nack.delivery_count + u64::from(!justid);
        claim_consumer(g, name, now, ctx_db, key);
        g.assign(id, name, now, deliveries);
        claimed.push(id);
        count -= 1;
    }
    // The cursor: the first pending id not looked at, or 0-0 past the end (`pending` holds
    // one more id than the scan may look at, so running out of it means the end).
    let next = pending.get(i).copied().unwrap_or(StreamId::MIN);
    out.array(3);
    reply_id(out, next);
    out.array(claimed.len());
    for &id in &claimed {
        if justid {
            reply_id(out, id);
        } else {
            reply_entry(out, &s.get(id).expect("claimed entries exist"));
        }
    }
    out.array(deleted.len());
    for &id in &deleted {
        reply_id(out, id);
    }
    ctx.effects.dirty += (claimed.len() + deleted.len()) as u64;
    Ok(())
}

const GRP: CmdGroup = CmdGroup::Stream;

pub(super) static XGROUP_SUBCOMMANDS: &[Spec] = &[
    cmd(
        "CREATE",
        -5,
        Flags::WRITE.union(Flags::DENYOOM),
        xgroup_create as EngineHandler,
    )
    .keys(2, 2, 1)
    .doc(GRP, "5.0.0", "Create a consumer group.", "O(1)"),
    cmd("SETID", -5, Flags::WRITE, xgroup_setid as EngineHandler)
        .keys(2, 2, 1)
        .doc(
            GRP,
            "5.0.0",
            "Set a consumer group to an arbitrary last delivered ID value.",
            "O(1)",
        ),
    cmd("DESTROY", 4, Flags::WRITE, xgroup_destroy as EngineHandler)
        .keys(2, 2, 1)
        .doc(
            GRP,
            "5.0.0",
            "Destroy a consumer group.",
            "O(N) where N is the number of entries in the group's pending entries list (PEL).",
        ),
    cmd(
        "CREATECONSUMER",
        5,
        Flags::WRITE.union(Flags::DENYOOM),
        xgroup_createconsumer as EngineHandler,
    )
    .keys(2, 2, 1)
    .doc(
        GRP,
        "6.2.0",
        "Create a consumer in a consumer group.",
        "O(1)",
    ),
    cmd(
        "DELCONSUMER",
        5,
        Flags::WRITE,
        xgroup_delconsumer as EngineHandler,
    )
    .keys(2, 2, 1)
    .doc(
        GRP,
        "5.0.0",
        "Delete a consumer from a consumer group.",
        "O(1)",
    ),
    cmd(
        "HELP",
        2,
        Flags::LOADING.union(Flags::STALE),
        xgroup_help as EngineHandler,
    )
    .doc(
        GRP,
        "5.0.0",
        "Show helpful text about the different subcommands",
        "O(1)",
    ),
];
