//! The stream family: XADD, XRANGE, XREVRANGE, XLEN, XDEL, XTRIM and XSETID here; reads
//! (XREAD, XREADGROUP, blocking) in `read`, consumer groups (XGROUP, XACK, XPENDING, XCLAIM,
//! XAUTOCLAIM) in `group`, introspection (XINFO) in `info`, on top of
//! [`crate::types::stream::Stream`].
//!
//! Semantics, validation order and error texts follow Redis 7.0.15's `t_stream.c`, quirks
//! included: ids parse with `string2ull` (so `+5` or `-0` are valid milliseconds); XADD and
//! XTRIM parse every option before looking the key up; XRANGE with `COUNT 0` (or negative)
//! answers a null array once the key is found; XDEL looks the key up before parsing ids.
//! Streams may be empty and stay in the keyspace (XADD ... MAXLEN 0, XDEL of the last entry,
//! XGROUP CREATE ... MKSTREAM), as in Redis.
//!
//! Non-deterministic commands (for the command log, which must log their effects instead):
//! XADD with `*` or `ms-*` ids (the clock), XREADGROUP, XCLAIM and XAUTOCLAIM (delivery
//! times and consumers' seen-times from the clock), and trimming with `~` (node boundaries).

mod group;
mod info;
mod read;

use crate::args::{self, is};
use crate::command::{cmd, container, CommandSpec, EngineHandler, Flags, Group};
use crate::ctx::ExecCtx;
use crate::db::Db;
use crate::error::{CmdError, CmdResult};
use crate::keyspace_events as ev;
use crate::types::listpack::LpVal;
use crate::types::stream::{EntryRef, NodeLimits, Stream, StreamId, Trim};
use crate::value::Value;
use smallvec::SmallVec;
use usher_protocol::{errors, Argv, ReplySink};

type Spec = CommandSpec<EngineHandler>;

/// The stream under `key`, if any; WRONGTYPE if the key holds something else.
pub(crate) fn get_stream<'d>(
    db: &'d mut Db,
    key: &[u8],
    now_ms: i64,
) -> Result<Option<&'d mut Stream>, CmdError> {
    match db.get(key, now_ms) {
        None => Ok(None),
        Some(Value::Stream(s)) => Ok(Some(s)),
        Some(_) => Err(CmdError::WrongType),
    }
}

/// Keys of `db` on `shard` that hold a stream some client is blocked on, as (db, key) ready
/// keys: FLUSHDB and FLUSHALL signal them before emptying the database, so blocked
/// XREADGROUP clients get Redis 7.0's `UNBLOCKED` error (`scanDatabaseForDeletedStreams`).
pub(crate) fn waited_streams(
    shard: &mut crate::shard::Shard,
    db: usize,
) -> Vec<(usize, crate::bytes::SmallBytes)> {
    if shard.blocked.is_empty() {
        return Vec::new();
    }
    let keys = shard.blocked.keys_in_db(db);
    keys.into_iter()
        .filter(|k| matches!(shard.dbs[db].peek(k), Some(Value::Stream(_))))
        .map(|k| (db, k))
        .collect()
}

/// Redis's `string2ull`: a strict integer, else what `strtoull` accepts whole (leading
/// spaces, a sign; a negative value wraps), never a strict negative.
fn string2ull(s: &[u8]) -> Option<u64> {
    if let Some(v) = usher_protocol::parse::parse_i64(s) {
        return u64::try_from(v).ok();
    }
    let mut i = s.iter().take_while(|c| c.is_ascii_whitespace()).count();
    let neg = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let digits = &s[i..];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: u64 = 0;
    for d in digits {
        v = v.checked_mul(10)?.checked_add((d - b'0') as u64)?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// A parsed id argument: the id, and whether its sequence was given (`ms-*` leaves it open).
pub(crate) struct ParsedId {
    pub id: StreamId,
    pub seq_given: bool,
}

/// `streamGenericParseIDOrReply`: `-`, `+` (unless `strict`), `ms`, `ms-seq`, or (where
/// `allow_auto_seq`) `ms-*`. A missing sequence is `missing_seq`.
pub(crate) fn parse_id_full(
    arg: &[u8],
    missing_seq: u64,
    strict: bool,
    allow_auto_seq: bool,
) -> Result<ParsedId, CmdError> {
    let invalid = CmdError::Static(errors::STREAM_INVALID_ID);
    if arg.len() > 127 {
        return Err(invalid);
    }
    let given = |id| {
        Ok(ParsedId {
            id,
            seq_given: true,
        })
    };
    if arg == b"-" || arg == b"+" {
        if strict {
            return Err(invalid);
        }
        return given(if arg == b"-" {
            StreamId::MIN
        } else {
            StreamId::MAX
        });
    }
    let (ms_part, seq_part) = match arg.iter().position(|&c| c == b'-') {
        Some(i) => (&arg[..i], Some(&arg[i + 1..])),
        None => (arg, None),
    };
    let ms = string2ull(ms_part).ok_or(invalid.clone())?;
    match seq_part {
        None => given(StreamId::new(ms, missing_seq)),
        Some(b"*") if allow_auto_seq => Ok(ParsedId {
            id: StreamId::new(ms, 0),
            seq_given: false,
        }),
        Some(seq) => given(StreamId::new(ms, string2ull(seq).ok_or(invalid)?)),
    }
}

/// `streamParseStrictIDOrReply` with a zero default sequence: what XDEL, XACK, XCLAIM ids
/// and XREAD's explicit ids take.
pub(crate) fn parse_strict_id(arg: &[u8]) -> Result<StreamId, CmdError> {
    Ok(parse_id_full(arg, 0, true, false)?.id)
}

/// `streamParseIDOrReply`: `-` and `+` allowed.
pub(crate) fn parse_id(arg: &[u8], missing_seq: u64) -> Result<StreamId, CmdError> {
    Ok(parse_id_full(arg, missing_seq, false, false)?.id)
}

/// A range start (`-`, an id, or `(id` exclusive), as XRANGE, XPENDING and XAUTOCLAIM
/// take it.
pub(crate) fn parse_range_start(arg: &[u8]) -> Result<StreamId, CmdError> {
    if arg.len() > 1 && arg[0] == b'(' {
        let id = parse_id_full(&arg[1..], 0, true, false)?.id;
        return id
            .incr()
            .ok_or(CmdError::Static(errors::STREAM_INVALID_START));
    }
    parse_id(arg, 0)
}

/// A range end (`+`, an id, or `(id` exclusive).
pub(crate) fn parse_range_end(arg: &[u8]) -> Result<StreamId, CmdError> {
    if arg.len() > 1 && arg[0] == b'(' {
        let id = parse_id_full(&arg[1..], u64::MAX, true, false)?.id;
        return id
            .decr()
            .ok_or(CmdError::Static(errors::STREAM_INVALID_END));
    }
    parse_id(arg, u64::MAX)
}

pub(crate) fn reply_id(out: &mut dyn ReplySink, id: StreamId) {
    out.bulk(id.text().as_bytes());
}

fn reply_lp(out: &mut dyn ReplySink, v: LpVal) {
    match v {
        LpVal::Int(i) => out.bulk_int(i),
        LpVal::Bytes(b) => out.bulk(b),
    }
}

/// One entry as every stream reply spells it: `[id, [field, value, ...]]`.
pub(crate) fn reply_entry(out: &mut dyn ReplySink, e: &EntryRef) {
    out.array(2);
    reply_id(out, e.id);
    out.array(e.field_count() * 2);
    for (f, v) in e.pairs() {
        reply_lp(out, f);
        reply_lp(out, v);
    }
}

/// Entries of `[start, end]` (descending with `rev`), at most `count` (0: all), as an array.
/// Returns how many were sent.
pub(crate) fn reply_range(
    out: &mut dyn ReplySink,
    s: &Stream,
    start: StreamId,
    end: StreamId,
    count: usize,
    rev: bool,
) -> usize {
    let mut entries = Vec::new();
    s.for_each(start, end, rev, |e| {
        entries.push(e);
        count == 0 || entries.len() < count
    });
    out.array(entries.len());
    for e in &entries {
        reply_entry(out, e);
    }
    entries.len()
}

/// XADD's and XTRIM's options (`streamAddTrimArgs`).
struct TrimArgs {
    trim: Option<Trim>,
    approx: bool,
    limit: u64,
    nomkstream: bool,
    /// XADD: the id argument (`None` for `*`) and the index of the first field.
    id: Option<ParsedId>,
    fields_at: usize,
}

/// `streamParseAddOrTrimArgsOrReply`.
fn parse_trim_args(ctx: &ExecCtx, argv: Argv, xadd: bool) -> Result<TrimArgs, CmdError> {
    let mut a = TrimArgs {
        trim: None,
        approx: false,
        limit: 0,
        nomkstream: false,
        id: None,
        fields_at: argv.len(),
    };
    let mut limit_given = false;
    let mut i = 2;
    while i < argv.len() {
        let more = argv.len() - 1 - i;
        let opt = argv.arg(i);
        if xadd && opt == b"*" {
            a.fields_at = i + 1;
            break;
        } else if (is(opt, "MAXLEN") || is(opt, "MINID")) && more > 0 {
            if a.trim.is_some() {
                return Err(CmdError::Static(errors::STREAM_MAXLEN_AND_MINID));
            }
            a.approx = false;
            let next = argv.arg(i + 1);
            if more >= 2 && (next == b"~" || next == b"=") {
                a.approx = next == b"~";
                i += 1;
            }
            let v = argv.arg(i + 1);
            a.trim = Some(if is(opt, "MAXLEN") {
                let n = args::int(v)?;
                if n < 0 {
                    return Err(CmdError::Static(errors::STREAM_MAXLEN_NEGATIVE));
                }
                Trim::MaxLen(n as u64)
            } else {
                Trim::MinId(parse_strict_id(v)?)
            });
            i += 2;
            continue;
        } else if is(opt, "LIMIT") && more > 0 {
            let n = args::int(argv.arg(i + 1))?;
            if n < 0 {
                return Err(CmdError::Static(errors::STREAM_LIMIT_NEGATIVE));
            }
            a.limit = n as u64;
            limit_given = true;
            i += 2;
            continue;
        } else if xadd && is(opt, "NOMKSTREAM") {
            a.nomkstream = true;
        } else if xadd {
            a.id = Some(parse_id_full(opt, 0, true, true)?);
            a.fields_at = i + 1;
            break;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    if a.limit > 0 && a.trim.is_none() {
        return Err(CmdError::Static(errors::STREAM_LIMIT_WITHOUT_STRATEGY));
    }
    if !xadd && a.trim.is_none() {
        return Err(CmdError::Static(errors::STREAM_XTRIM_NO_STRATEGY));
    }
    if limit_given {
        if !a.approx {
            return Err(CmdError::Static(errors::STREAM_LIMIT_WITHOUT_APPROX));
        }
    } else if a.approx {
        // Redis's default work cap for `~`: a hundred nodes' worth of entries.
        let n = 100i64.saturating_mul(ctx.config.stream_node_max_entries);
        a.limit = if n <= 0 { 10_000 } else { n as u64 };
    } else {
        a.limit = 0;
    }
    Ok(a)
}

/// ```text
/// XADD key [NOMKSTREAM] [<MAXLEN | MINID> [= | ~] threshold [LIMIT count]] <* | id>
///      field value [field value ...]
/// ```
/// Appends an entry; replies its id (null with NOMKSTREAM on a missing key).
/// Complexity: O(1) to add, O(N) for the N entries trimmed.
fn xadd(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let a = parse_trim_args(ctx, argv, true)?;
    let n_args = argv.len() - a.fields_at.min(argv.len());
    if n_args < 2 || n_args % 2 == 1 {
        return Err(CmdError::Owned(errors::wrong_arity("xadd")));
    }
    if let Some(p) = &a.id {
        if p.seq_given && p.id.is_zero() {
            return Err(CmdError::Static(errors::STREAM_XADD_ID_ZERO));
        }
    }
    let (key, now) = (argv.arg(1), ctx.now_ms);
    let limits = NodeLimits::from_config(ctx.config);
    let db = ctx.db(key);
    // One lookup (Redis's `lookupKeyWrite`); a new stream is built aside and stored at the end.
    let mut fresh: Option<Stream> = None;
    let s = match get_stream(db, key, now)? {
        Some(s) => s,
        None if a.nomkstream => {
            out.null();
            return Ok(());
        }
        None => fresh.insert(Stream::new()),
    };
    if s.last_id == StreamId::MAX {
        return Err(CmdError::Static(errors::STREAM_EXHAUSTED));
    }
    let id = match &a.id {
        None => {
            let ms = now.max(0) as u64;
            if ms > s.last_id.ms {
                StreamId::new(ms, 0)
            } else {
                s.last_id.incr().expect("not exhausted")
            }
        }
        Some(p) if !p.seq_given && p.id.ms == s.last_id.ms => {
            if s.last_id.seq == u64::MAX {
                return Err(CmdError::Static(errors::STREAM_XADD_ID_SMALL));
            }
            StreamId::new(p.id.ms, s.last_id.seq + 1)
        }
        Some(p) => p.id,
    };
    if id <= s.last_id {
        return Err(CmdError::Static(errors::STREAM_XADD_ID_SMALL));
    }
    let pairs: SmallVec<[(&[u8], &[u8]); 4]> = (a.fields_at..argv.len())
        .step_by(2)
        .map(|i| (argv.arg(i), argv.arg(i + 1)))
        .collect();
    s.append(id, &pairs, limits);
    s.entries_added += 1;
    let trimmed = a.trim.map_or(0, |trim| s.trim(trim, a.approx, a.limit));
    if let Some(fresh) = fresh {
        db.set(key, Value::Stream(Box::new(fresh)));
    }
    ctx.notify(ev::STREAM, "xadd", key);
    if trimmed > 0 {
        ctx.notify(ev::STREAM, "xtrim", key);
    }
    ctx.modified(key);
    ctx.ready(key);
    reply_id(out, id);
    Ok(())
}

/// ```text
/// XRANGE key start end [COUNT count]
/// XREVRANGE key end start [COUNT count]
/// ```
/// Entries between two ids (`-`, `+`, `(id` exclusive). Complexity: O(N) entries returned.
fn xrange(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let rev = argv.arg(0).eq_ignore_ascii_case(b"XREVRANGE");
    let (start_arg, end_arg) = if rev {
        (argv.arg(3), argv.arg(2))
    } else {
        (argv.arg(2), argv.arg(3))
    };
    let start = parse_range_start(start_arg)?;
    let end = parse_range_end(end_arg)?;
    let mut count: i64 = -1;
    let mut j = 4;
    while j < argv.len() {
        if is(argv.arg(j), "COUNT") && j + 1 < argv.len() {
            count = args::int(argv.arg(j + 1))?.max(0);
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let (key, now) = (argv.arg(1), ctx.now_ms);
    let Some(s) = get_stream(ctx.db(key), key, now)? else {
        out.array(0);
        return Ok(());
    };
    if count == 0 {
        out.null_array();
        return Ok(());
    }
    reply_range(out, s, start, end, count.max(0) as usize, rev);
    Ok(())
}

/// ```text
/// XLEN key
/// ```
fn xlen(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (key, now) = (argv.arg(1), ctx.now_ms);
    let n = get_stream(ctx.db(key), key, now)?.map_or(0, |s| s.len());
    out.int(n as i64);
    Ok(())
}

/// ```text
/// XDEL key id [id ...]
/// ```
/// Deletes entries; replies how many existed. Complexity: O(1) per id (a node scan).
fn xdel(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (key, now) = (argv.arg(1), ctx.now_ms);
    if get_stream(ctx.db(key), key, now)?.is_none() {
        out.int(0);
        return Ok(());
    }
    let ids = (2..argv.len())
        .map(|i| parse_strict_id(argv.arg(i)))
        .collect::<Result<Vec<_>, _>>()?;
    let s = get_stream(ctx.db(key), key, now)?.expect("checked above");
    let mut deleted = 0;
    let mut first_deleted = false;
    for id in ids {
        if s.delete(id) {
            first_deleted |= id == s.first_id;
            if id > s.max_deleted_id {
                s.max_deleted_id = id;
            }
            deleted += 1;
        }
    }
    if deleted > 0 {
        if s.is_empty() {
            s.first_id = StreamId::MIN;
        } else if first_deleted {
            s.first_id = s.edge_id(false).unwrap_or(StreamId::MIN);
        }
        ctx.notify(ev::STREAM, "xdel", key);
        ctx.modified(key);
        ctx.effects.dirty += deleted - 1;
    }
    out.int(deleted as i64);
    Ok(())
}

/// ```text
/// XTRIM key <MAXLEN | MINID> [= | ~] threshold [LIMIT count]
/// ```
/// Replies how many entries were removed. Complexity: O(N) entries removed.
fn xtrim(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let a = parse_trim_args(ctx, argv, false)?;
    let (key, now) = (argv.arg(1), ctx.now_ms);
    let Some(s) = get_stream(ctx.db(key), key, now)? else {
        out.int(0);
        return Ok(());
    };
    let deleted = s.trim(a.trim.expect("XTRIM has a strategy"), a.approx, a.limit);
    if deleted > 0 {
        ctx.notify(ev::STREAM, "xtrim", key);
        ctx.modified(key);
        ctx.effects.dirty += deleted - 1;
    }
    out.int(deleted as i64);
    Ok(())
}

/// ```text
/// XSETID key last-id [ENTRIESADDED entries-added] [MAXDELETEDID max-deleted-id]
/// ```
/// Sets a stream's last id and counters (replication and restores use it).
fn xsetid(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let id = parse_strict_id(argv.arg(2))?;
    let mut entries_added: Option<u64> = None;
    let mut max_deleted = StreamId::MIN;
    let mut i = 3;
    while i < argv.len() {
        let more = argv.len() - 1 - i;
        if is(argv.arg(i), "ENTRIESADDED") && more > 0 {
            let n = args::int(argv.arg(i + 1))?;
            if n < 0 {
                return Err(CmdError::Static(errors::STREAM_ENTRIES_ADDED_NEGATIVE));
            }
            entries_added = Some(n as u64);
        } else if is(argv.arg(i), "MAXDELETEDID") && more > 0 {
            max_deleted = parse_strict_id(argv.arg(i + 1))?;
            if id < max_deleted {
                return Err(CmdError::Static(errors::STREAM_XSETID_BELOW_MAXDELETED_ARG));
            }
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    let (key, now) = (argv.arg(1), ctx.now_ms);
    let s = get_stream(ctx.db(key), key, now)?.ok_or(CmdError::NoSuchKey)?;
    if !s.is_empty() {
        let top = s.edge_id(true).unwrap_or(StreamId::MIN);
        if id < top {
            return Err(CmdError::Static(errors::STREAM_XSETID_BELOW_TOP));
        }
        if entries_added.is_some_and(|n| s.len() > n) {
            return Err(CmdError::Static(errors::STREAM_XSETID_ENTRIES_ADDED));
        }
    }
    // Redis 7.0.15 does not compare `id` with the stream's current max-deleted id (later
    // versions do): an empty stream takes any last id.
    s.last_id = id;
    if let Some(n) = entries_added {
        s.entries_added = n;
    }
    if !max_deleted.is_zero() {
        s.max_deleted_id = max_deleted;
    }
    ctx.notify(ev::STREAM, "xsetid", key);
    ctx.modified(key);
    out.ok();
    Ok(())
}

const RW: Flags = Flags::WRITE;
const RO: Flags = Flags::READONLY;
const FAST: Flags = Flags::FAST;
const ND: Flags = Flags::NONDETERMINISTIC;

pub static COMMANDS: &[Spec] = &[
    cmd("XADD", -5, RW.union(Flags::DENYOOM).union(FAST).union(ND), xadd as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Stream, "5.0.0", "Appends a new entry to a stream", "O(1) when adding a new entry, O(N) when trimming where N being the number of entries evicted."),
    cmd("XRANGE", -4, RO, xrange as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Stream, "5.0.0", "Return a range of elements in a stream, with IDs matching the specified IDs interval", "O(N) with N being the number of elements being returned. If N is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1)."),
    cmd("XREVRANGE", -4, RO, xrange as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Stream, "5.0.0", "Return a range of elements in a stream, with IDs matching the specified IDs interval, in reverse order (from greater to smaller IDs) compared to XRANGE", "O(N) with N being the number of elements returned. If N is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1)."),
    cmd("XLEN", 2, RO.union(FAST), xlen as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Stream, "5.0.0", "Return the number of entries in a stream", "O(1)"),
    cmd("XDEL", -3, RW.union(FAST), xdel as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Stream, "5.0.0", "Removes the specified entries from the stream. Returns the number of items actually deleted, that may be different from the number of IDs passed in case certain IDs do not exist.", "O(1) for each single item to delete in the stream, regardless of the stream size."),
    cmd("XTRIM", -4, RW.union(ND), xtrim as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Stream, "5.0.0", "Trims the stream to (approximately if '~' is passed) a certain size", "O(N), with N being the number of evicted entries. Constant times are very small however, since entries are organized in macro nodes containing multiple entries that can be released with a single deallocation."),
    cmd("XREAD", -4, RO.union(Flags::BLOCKING), read::xread as EngineHandler)
        .movable_keys(read::xread_keys)
        .doc(Group::Stream, "5.0.0", "Return never seen elements in multiple streams, with IDs greater than the ones reported by the caller for each stream. Can block.", "For each stream mentioned: O(N) with N being the number of elements being returned, it means that XREAD-ing with a fixed COUNT is O(1). Note that when the BLOCK option is used, XADD will pay O(M) time in order to serve the M clients blocked on the stream getting new data."),
    cmd("XREADGROUP", -7, RW.union(Flags::BLOCKING).union(ND), read::xread as EngineHandler)
        .movable_keys(read::xread_keys)
        .doc(Group::Stream, "5.0.0", "Return new entries from a stream using a consumer group, or access the history of the pending entries for a given consumer. Can block.", "For each stream mentioned: O(M) with M being the number of elements returned. If M is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1). On the other side when XREADGROUP blocks, XADD will pay the O(N) time in order to serve the N clients blocked on the stream getting new data."),
    cmd("XACK", -4, RW.union(FAST), group::xack as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Stream, "5.0.0", "Marks a pending message as correctly processed, effectively removing it from the pending entries list of the consumer group. Return value of the command is the number of messages successfully acknowledged, that is, the IDs we were actually able to resolve in the PEL.", "O(1) for each message ID processed."),
    cmd("XPENDING", -3, RO.union(ND), group::xpending as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Stream, "5.0.0", "Return information and entries from a stream consumer group pending entries list, that are messages fetched but never acknowledged.", "O(N) with N being the number of elements returned, so asking for a small fixed number of entries per call is O(1). O(M), where M is the total number of entries scanned when used with the IDLE filter. When the command returns just the summary and the list of consumers is small, it runs in O(1) time; otherwise, an additional O(N) time for iterating every consumer."),
    cmd("XCLAIM", -6, RW.union(FAST).union(ND), group::xclaim as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Stream, "5.0.0", "Changes (or acquires) ownership of a message in a consumer group, as if the message was delivered to the specified consumer.", "O(log N) with N being the number of messages in the PEL of the consumer group."),
    cmd("XAUTOCLAIM", -6, RW.union(FAST).union(ND), group::xautoclaim as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Stream, "6.2.0", "Changes (or acquires) ownership of messages in a consumer group, as if the messages were delivered to the specified consumer.", "O(1) if COUNT is small."),
    cmd("XSETID", -3, RW.union(Flags::DENYOOM).union(FAST), xsetid as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Stream, "5.0.0", "An internal command for replicating stream values", "O(1)"),
    container("XGROUP", group::XGROUP_SUBCOMMANDS).doc(Group::Stream, "5.0.0", "A container for consumer groups commands", "Depends on subcommand."),
    container("XINFO", info::XINFO_SUBCOMMANDS).doc(Group::Stream, "5.0.0", "A container for stream introspection commands", "Depends on subcommand."),
];
