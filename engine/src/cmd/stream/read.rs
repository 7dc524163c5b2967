//! XREAD and XREADGROUP, and their blocking forms.
//!
//! A read that finds nothing with `BLOCK` asks to wait on all its keys. Before it does, `$`
//! ids are replaced in the waiter's copy of the command by the stream's last id (Redis
//! resolves `$` once, when the client blocks), so serving and retrying see the same id.
//! A waiter is served (`serve_read`) by the write that added entries, in arrival order, with
//! that key's new entries only (at most `COUNT`, 1000 when none was given), as Redis's
//! `serveClientsBlockedOnStreamKey`. A blocked XREADGROUP whose stream is deleted (or whose
//! key now holds another type) gets `UNBLOCKED the stream key no longer exists`, and one
//! whose group was destroyed gets `NOGROUP the consumer group this client was blocked on no
//! longer exists`; a blocked XREAD keeps waiting, as in Redis 7.0.

use super::{get_stream, parse_strict_id, reply_entry, reply_id};
use crate::args::{self, is};
use crate::blocking::block_or_answer;
use crate::command::KeyPositions;
use crate::ctx::{ExecCtx, Serve, TimeoutReply};
use crate::error::{CmdError, CmdResult};
use crate::types::stream::group::ENTRIES_READ_INVALID;
use crate::types::stream::{Stream, StreamId};
use usher_protocol::{errors, Argv, OwnedArgv, ReplySink};

/// `XREAD_BLOCKED_DEFAULT_COUNT`: what a served waiter without COUNT gets at most.
const BLOCKED_DEFAULT_COUNT: usize = 1000;

/// The parsed options of an XREAD or XREADGROUP.
struct ReadArgs<'a> {
    group: Option<(&'a [u8], &'a [u8])>,
    noack: bool,
    /// 0: no limit.
    count: usize,
    /// Block timeout in ms, if BLOCK was given (0: forever).
    block_ms: Option<u64>,
    /// Index of the first key; keys and ids take the rest, half each.
    streams_at: usize,
    n_streams: usize,
}

/// Where a read's keys are: after STREAMS, the first half of what follows.
pub(super) fn xread_keys(argv: Argv) -> Option<KeyPositions> {
    let at = (1..argv.len()).find(|&i| is(argv.arg(i), "STREAMS"))? + 1;
    let n = argv.len() - at;
    if n == 0 || !n.is_multiple_of(2) {
        return None;
    }
    Some((at..at + n / 2).collect())
}

fn parse_read_args(argv: Argv, in_script: bool) -> Result<ReadArgs, CmdError> {
    let xreadgroup = argv.arg(0).len() == 10;
    let mut a = ReadArgs {
        group: None,
        noack: false,
        count: 0,
        block_ms: None,
        streams_at: 0,
        n_streams: 0,
    };
    let mut i = 1;
    while i < argv.len() {
        let more = argv.len() - i - 1;
        let o = argv.arg(i);
        if is(o, "BLOCK") && more > 0 {
            if in_script {
                // Redis keeps this refusal for scripts (there BLOCK could never wait).
                return Err(CmdError::Owned(format!(
                    "ERR {} command is not allowed with BLOCK option from scripts",
                    String::from_utf8_lossy(argv.arg(0))
                )));
            }
            i += 1;
            a.block_ms = Some(crate::num::parse_timeout_ms(argv.arg(i))?);
        } else if is(o, "COUNT") && more > 0 {
            i += 1;
            a.count = args::int(argv.arg(i))?.max(0) as usize;
        } else if is(o, "STREAMS") && more > 0 {
            a.streams_at = i + 1;
            let n = argv.len() - a.streams_at;
            if !n.is_multiple_of(2) {
                return Err(CmdError::Static(errors::STREAM_UNBALANCED));
            }
            a.n_streams = n / 2;
            break;
        } else if is(o, "GROUP") && more >= 2 {
            if !xreadgroup {
                return Err(CmdError::Static(errors::STREAM_GROUP_ONLY_XREADGROUP));
            }
            a.group = Some((argv.arg(i + 1), argv.arg(i + 2)));
            i += 2;
        } else if is(o, "NOACK") {
            if !xreadgroup {
                return Err(CmdError::Static(errors::STREAM_NOACK_ONLY_XREADGROUP));
            }
            a.noack = true;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    if a.streams_at == 0 {
        return Err(CmdError::Syntax);
    }
    if xreadgroup && a.group.is_none() {
        return Err(CmdError::Static(errors::STREAM_MISSING_GROUP));
    }
    Ok(a)
}

/// What a read asks of one stream.
#[derive(Clone, Copy, PartialEq, Eq)]
enum From {
    /// Entries after this id (XREAD, or a resolved `$`).
    After(StreamId),
    /// XREADGROUP `>`: entries the group has not delivered yet.
    New,
    /// XREADGROUP with an id: the consumer's pending entries after it.
    History(StreamId),
}

fn nogroup(key: &[u8], group: &[u8]) -> CmdError {
    CmdError::Owned(format!(
        "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
        String::from_utf8_lossy(key),
        String::from_utf8_lossy(group)
    ))
}

/// ```text
/// XREAD [COUNT count] [BLOCK milliseconds] STREAMS key [key ...] id [id ...]
/// XREADGROUP GROUP group consumer [COUNT count] [BLOCK milliseconds] [NOACK]
///     STREAMS key [key ...] id [id ...]
/// ```
/// Reply: per stream with something to return, `[key, entries]` (a map in RESP3), or a null
/// array when nothing is returned and the read does not block.
/// Complexity: O(N) entries returned per stream.
pub(super) fn xread(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let a = parse_read_args(argv, ctx.in_script)?;
    let now = ctx.now_ms;
    // Resolve ids and check every key (type, group) before anything is served.
    let mut froms = Vec::with_capacity(a.n_streams);
    for k in 0..a.n_streams {
        let key = argv.arg(a.streams_at + k);
        let id_arg = argv.arg(a.streams_at + a.n_streams + k);
        let s = get_stream(ctx.db(key), key, now)?;
        if let Some((group, _)) = a.group {
            if !s.is_some_and(|s| s.groups.contains_key(group)) {
                return Err(nogroup(key, group));
            }
        }
        let s = get_stream(ctx.db(key), key, now)?;
        let from = if id_arg == b"$" {
            if a.group.is_some() {
                return Err(CmdError::Static(errors::STREAM_DOLLAR_IN_XREADGROUP));
            }
            From::After(s.map_or(StreamId::MIN, |s| s.last_id))
        } else if id_arg == b">" {
            if a.group.is_none() {
                return Err(CmdError::Static(errors::STREAM_GT_ONLY_XREADGROUP));
            }
            From::New
        } else {
            let id = parse_strict_id(id_arg)?;
            if a.group.is_some() {
                From::History(id)
            } else {
                From::After(id)
            }
        };
        froms.push(from);
    }
    let mut served = Vec::new();
    for (k, from) in froms.iter().enumerate() {
        let key = argv.arg(a.streams_at + k);
        if prepare(ctx, key, *from, &a, false)? {
            served.push((key, *from));
        }
    }
    if !served.is_empty() {
        let resp3 = out.is_resp3();
        if resp3 {
            out.map(served.len());
        } else {
            out.array(served.len());
        }
        for (key, from) in served {
            if !resp3 {
                out.array(2);
            }
            out.bulk(key);
            serve_one(ctx, key, from, &a, a.count, out)?;
        }
        return Ok(());
    }
    let Some(block_ms) = a.block_ms else {
        out.null_array();
        return Ok(());
    };
    let deadline = if block_ms == 0 {
        0
    } else {
        now.saturating_add(block_ms.min(i64::MAX as u64) as i64)
    };
    let keys = a.streams_at..a.streams_at + a.n_streams;
    block_or_answer(
        ctx,
        argv,
        keys,
        deadline,
        serve_read,
        TimeoutReply::NullArray,
        out,
    );
    if let Some(b) = ctx.effects.block.as_mut() {
        // Redis resolves `$` when the client blocks: later entries are what it waits for.
        let resolved = argv.iter().enumerate().map(|(i, arg)| {
            let k = i.wrapping_sub(a.streams_at + a.n_streams);
            match froms.get(k) {
                Some(From::After(id)) if arg == b"$" => id.to_bytes(),
                _ => arg.to_vec(),
            }
        });
        b.argv = Some(OwnedArgv::from_args(resolved));
    }
    Ok(())
}

/// Whether a read serves `key` now (`blocked`: a waiter being served, which compares with
/// the stream's last id rather than its last live entry, as Redis does). A group read that
/// serves creates its consumer and marks it seen (one that blocks or finds nothing does not).
fn prepare(
    ctx: &mut ExecCtx,
    key: &[u8],
    from: From,
    a: &ReadArgs,
    blocked: bool,
) -> Result<bool, CmdError> {
    let (now, db) = (ctx.now_ms, ctx.db);
    let Some(s) = get_stream(ctx.db(key), key, now)? else {
        return Ok(false);
    };
    let top = if blocked {
        (s.last_id != StreamId::MIN).then_some(s.last_id)
    } else {
        s.edge_id(true)
    };
    if let Some((group, consumer)) = a.group {
        let g = s.groups.get_mut(group).expect("checked by the caller");
        let serve = match from {
            From::History(_) => true,
            _ => top.is_some_and(|t| t > g.last_id),
        };
        if serve {
            let (c, created) = g.consumer_or_create(consumer, now);
            c.seen_time = now;
            if created {
                crate::keyspace_events::consumer_created(db, key);
            }
        }
        return Ok(serve);
    }
    let From::After(gt) = from else {
        unreachable!("XREAD reads after an id")
    };
    Ok(top.is_some_and(|t| t > gt))
}

/// Writes the entries a read gets from `key` (which [`prepare`] said it serves).
fn serve_one(
    ctx: &mut ExecCtx,
    key: &[u8],
    from: From,
    a: &ReadArgs,
    count: usize,
    out: &mut dyn ReplySink,
) -> CmdResult {
    let now = ctx.now_ms;
    let s = get_stream(ctx.db(key), key, now)?.expect("prepared");
    match (from, a.group) {
        (From::After(gt), _) => {
            let start = gt.incr().unwrap_or(StreamId::MAX);
            super::reply_range(out, s, start, StreamId::MAX, count, false);
        }
        (From::History(gt), Some((group, consumer))) => {
            let start = gt.incr().unwrap_or(StreamId::MAX);
            reply_history(out, s, group, consumer, start, count, now);
        }
        (From::New, Some((group, consumer))) => {
            let last = s.groups[group].last_id;
            deliver_new(out, s, group, consumer, last, count, a.noack, now);
        }
        _ => unreachable!("XREAD reads after an id"),
    }
    if a.group.is_some() {
        ctx.modified(key);
    }
    Ok(())
}

/// XREADGROUP `>`: delivers entries after the group's last id to `consumer`, moving the
/// group's last id and read counter and (unless NOACK) adding each to the PELs.
#[allow(clippy::too_many_arguments)]
fn deliver_new(
    out: &mut dyn ReplySink,
    s: &mut Stream,
    group: &[u8],
    consumer: &[u8],
    after: StreamId,
    count: usize,
    noack: bool,
    now: i64,
) {
    let Some(start) = after.incr() else {
        out.array(0);
        return;
    };
    let mut ids = Vec::new();
    s.for_each(start, StreamId::MAX, false, |e| {
        ids.push(e.id);
        count == 0 || ids.len() < count
    });
    for &id in &ids {
        // `streamReplyWithRange`'s group bookkeeping, entry by entry.
        let (has_tombstones, estimate, added) = (
            s.has_tombstones_from(id),
            s.estimate_entries_read(id),
            s.entries_added,
        );
        let g = s.groups.get_mut(group).expect("group exists");
        if id > g.last_id {
            if g.entries_read != ENTRIES_READ_INVALID && !has_tombstones {
                g.entries_read += 1;
            } else if added > 0 {
                g.entries_read = estimate.map_or(ENTRIES_READ_INVALID, |n| n as i64);
            }
            g.last_id = id;
        }
        if !noack {
            g.assign(id, consumer, now, 1);
        }
    }
    // The same entries again, now to reply with (the bookkeeping needed the stream mutable).
    let last = ids.last().copied().unwrap_or(StreamId::MIN);
    super::reply_range(out, s, start, last, ids.len(), false);
}

/// XREADGROUP with an id: the consumer's pending entries from `start`, each delivery counted;
/// an entry deleted since is `[id, nil]`.
fn reply_history(
    out: &mut dyn ReplySink,
    s: &mut Stream,
    group: &[u8],
    consumer: &[u8],
    start: StreamId,
    count: usize,
    now: i64,
) {
    let g = s.groups.get_mut(group).expect("checked by the caller");
    let (c, _) = g.consumer_or_create(consumer, now);
    c.seen_time = now;
    let ids: Vec<StreamId> = c
        .pel
        .range(start..)
        .take(if count == 0 { usize::MAX } else { count })
        .copied()
        .collect();
    out.array(ids.len());
    for id in ids {
        match s.get(id) {
            Some(e) => {
                reply_entry(out, &e);
                let nack = s
                    .groups
                    .get_mut(group)
                    .and_then(|g| g.pel.get_mut(&id))
                    .expect("a consumer's pending entry is in its group's PEL");
                nack.delivery_time = now;
                nack.delivery_count += 1;
            }
            None => {
                out.array(2);
                reply_id(out, id);
                out.null_array();
            }
        }
    }
}

/// Serves a blocked XREAD / XREADGROUP from `key`, which just received entries (or was
/// deleted, or lost its group).
fn serve_read(
    ctx: &mut ExecCtx,
    argv: &OwnedArgv,
    key: &[u8],
    out: &mut dyn ReplySink,
) -> Result<Serve, CmdError> {
    let argv = argv.argv();
    let a = parse_read_args(argv, false)?;
    let k = (0..a.n_streams)
        .find(|&k| argv.arg(a.streams_at + k) == key)
        .expect("a waiter is served only from its own keys");
    let now = ctx.now_ms;
    let is_stream = matches!(
        ctx.db(key).get(key, now),
        Some(crate::value::Value::Stream(_))
    );
    let from = match a.group {
        Some((group, _)) => {
            if !is_stream {
                return Err(CmdError::Static(errors::STREAM_BLOCKED_KEY_DELETED));
            }
            let s = get_stream(ctx.db(key), key, now)?.expect("a stream");
            if !s.groups.contains_key(group) {
                return Err(CmdError::Static(errors::STREAM_BLOCKED_GROUP_DESTROYED));
            }
            From::New
        }
        None => {
            if !is_stream {
                return Ok(Serve::Nothing);
            }
            From::After(parse_strict_id(argv.arg(a.streams_at + a.n_streams + k))?)
        }
    };
    let count = if a.count == 0 {
        BLOCKED_DEFAULT_COUNT
    } else {
        a.count
    };
    if !prepare(ctx, key, from, &a, true)? {
        return Ok(Serve::Nothing);
    }
    if out.is_resp3() {
        out.map(1);
    } else {
        out.array(1);
        out.array(2);
    }
    out.bulk(key);
    serve_one(ctx, key, from, &a, count, out)?;
    Ok(Serve::Served)
}
