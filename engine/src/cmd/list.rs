//! The list family: pushes, pops, ranges, LPOS, LINSERT, LMOVE and LMPOP (the non-blocking
//! commands; the blocking ones are built on [`pop_from_first_nonempty`] and [`lmove`]).
//!
//! Semantics, argument validation order and error texts follow Redis 7.0's `t_list.c`, quirks
//! included: LRANGE/LTRIM/LREM/LPOS/LPOP parse their numbers before looking the key up, but
//! LINDEX and LSET look the key up first (so `LINDEX missing abc` is nil and `LSET missing abc
//! x` is "no such key"); LPOS's COUNT and MAXLEN use their own texts even for non-numbers.
//!
//! **Invariant:** an empty list is never left under a key: every command that removes elements
//! deletes the key when the last one goes. Every command that adds elements calls
//! [`ExecCtx::ready`] so clients blocked on the key can be served.

use crate::args::{self, is};
use crate::bytes::SmallBytes;
use crate::command::{
    cmd, numkeys_positions, CommandSpec, EngineHandler, Flags, Group, KeyPositions,
};
use crate::ctx::ExecCtx;
use crate::db::Db;
use crate::error::{CmdError, CmdResult};
use crate::keyspace_events as ev;
use crate::types::list::{End, List, PosQuery};
use crate::value::Value;
use smallvec::SmallVec;
use usher_protocol::{errors, Argv, ReplySink};

type Spec = CommandSpec<EngineHandler>;

/// Elements popped in one go, in pop order; a single pop (LPOP, BLPOP) allocates nothing.
pub type Popped = SmallVec<[SmallBytes; 1]>;

/// The list under `key`, if any; WRONGTYPE if the key holds something else.
pub fn get_list<'d>(
    db: &'d mut Db,
    key: &[u8],
    now_ms: i64,
) -> Result<Option<&'d mut List>, CmdError> {
    match db.get(key, now_ms) {
        None => Ok(None),
        Some(Value::List(l)) => Ok(Some(l)),
        Some(_) => Err(CmdError::WrongType),
    }
}

/// Records a change of `key` counting `dirty` changes (Redis counts one per element).
fn changed(ctx: &mut ExecCtx, key: &[u8], dirty: u64) {
    let db = ctx.db;
    ctx.shards.shard(key).touch(db, key);
    ctx.effects.dirty += dirty;
}

/// Pops up to `count` (at least 1) elements from `end` of the list under `key`, deleting the key when the list empties (Redis's `listElementsRemoved`), and records
/// the change. `Ok(None)` when the key is missing. One lookup: this is LPOP's hot path.
fn pop_elements(
    ctx: &mut ExecCtx,
    key: &[u8],
    end: End,
    count: usize,
) -> Result<Option<Popped>, CmdError> {
    debug_assert!(count >= 1);
    let now = ctx.now_ms;
    let db = ctx.db(key);
    let Some(list) = get_list(db, key, now)? else {
        return Ok(None);
    };
    let popped: Popped = if count == 1 {
        list.pop(end).into_iter().collect()
    } else {
        SmallVec::from_vec(list.pop_many(end, count))
    };
    debug_assert!(!popped.is_empty(), "a stored list is never empty");
    let emptied = list.is_empty();
    if emptied {
        db.remove(key);
    }
    changed(ctx, key, popped.len() as u64);
    ctx.notify(
        ev::LIST,
        if end == End::Head { "lpop" } else { "rpop" },
        key,
    );
    if emptied {
        ctx.notify(ev::GENERIC, "del", key);
    }
    Ok(Some(popped))
}

/// `LEFT` or `RIGHT` (Redis's `getListPositionFromObjectOrReply`), else a syntax error.
pub fn parse_end(arg: &[u8]) -> Result<End, CmdError> {
    if is(arg, "LEFT") {
        Ok(End::Head)
    } else if is(arg, "RIGHT") {
        Ok(End::Tail)
    } else {
        Err(CmdError::Syntax)
    }
}

// ---------------------------------------------------------------------------------------------
// Reusable operations (also the building blocks of BLPOP, BRPOP, BLMPOP, BLMOVE, BRPOPLPUSH).
// ---------------------------------------------------------------------------------------------

/// Pushes `elements` at `end` of the list under `key`, creating it unless `only_if_exists`
/// (LPUSHX/RPUSHX). Returns the new length, or `None` when the key was absent and
/// `only_if_exists`; WRONGTYPE if the key holds another type (nothing is pushed).
pub fn push<'e>(
    ctx: &mut ExecCtx,
    key: &[u8],
    end: End,
    elements: impl ExactSizeIterator<Item = &'e [u8]>,
    only_if_exists: bool,
) -> Result<Option<usize>, CmdError> {
    let now = ctx.now_ms;
    let db = ctx.db(key);
    let list = if only_if_exists {
        match get_list(db, key, now)? {
            Some(l) => l,
            None => return Ok(None),
        }
    } else {
        match db.get_or_insert_with(key, now, || Value::List(Box::default())) {
            (Value::List(l), _) => &mut **l,
            (_, _) => return Err(CmdError::WrongType),
        }
    };
    let added = elements.len();
    for e in elements {
        list.push(end, e);
    }
    let len = list.len();
    debug_assert!(len > 0, "a stored list is never empty");
    changed(ctx, key, added as u64);
    ctx.notify(
        ev::LIST,
        if end == End::Head { "lpush" } else { "rpush" },
        key,
    );
    if added > 0 {
        ctx.ready(key);
    }
    Ok(Some(len))
}

/// Pops up to `count` elements from `end` of the first list among `keys` that has any,
/// skipping missing keys, as Redis's `mpopGenericCommand` (and BLPOP's first pass) does: a key
/// of another type met before a non-empty list is WRONGTYPE. Returns the index in `keys` of
/// the list popped from and the elements in pop order, or `None` when every key is missing.
/// The emptied key is deleted; `count` must be at least 1.
///
/// BLPOP/BRPOP are `count == 1` with a `[key, element]` reply; BLMPOP is this with
/// [`reply_key_and_elements`]. A blocked client being served calls it with the one ready key.
pub fn pop_from_first_nonempty<'k>(
    ctx: &mut ExecCtx,
    keys: impl IntoIterator<Item = &'k [u8]>,
    end: End,
    count: usize,
) -> Result<Option<(usize, Popped)>, CmdError> {
    debug_assert!(count >= 1);
    for (i, key) in keys.into_iter().enumerate() {
        if let Some(popped) = pop_elements(ctx, key, end, count)? {
            return Ok(Some((i, popped)));
        }
    }
    Ok(None)
}

/// Moves one element from `end_from` of the list `src` to `end_to` of the list `dst` (created
/// if missing), as Redis's `lmoveGenericCommand`: `None` when `src` is missing; WRONGTYPE when
/// `src` is not a list, or when `src` has elements and `dst` holds another type (then nothing
/// moves). `src == dst` rotates the list. Returns the moved element.
///
/// LMOVE and RPOPLPUSH reply with it; BLMOVE and BRPOPLPUSH call this when serving.
pub fn lmove(
    ctx: &mut ExecCtx,
    src: &[u8],
    dst: &[u8],
    end_from: End,
    end_to: End,
) -> Result<Option<SmallBytes>, CmdError> {
    let now = ctx.now_ms;
    if src == dst {
        // A rotation: the same list, never deleted and recreated (its TTL stays).
        let Some(list) = get_list(ctx.db(src), src, now)? else {
            return Ok(None);
        };
        let element = list.pop(end_from).expect("a stored list is never empty");
        list.push_owned(end_to, element.clone());
        changed(ctx, src, 1);
        ctx.notify(
            ev::LIST,
            if end_to == End::Head {
                "lpush"
            } else {
                "rpush"
            },
            src,
        );
        ctx.notify(
            ev::LIST,
            if end_from == End::Head {
                "lpop"
            } else {
                "rpop"
            },
            src,
        );
        ctx.ready(src);
        return Ok(Some(element));
    }
    if get_list(ctx.db(src), src, now)?.is_none() {
        return Ok(None);
    }
    get_list(ctx.db(dst), dst, now)?;
    // Redis pushes before it pops: the source's events go after the destination's.
    let mark = ctx.events_mark();
    let mut popped = pop_elements(ctx, src, end_from, 1)?.expect("checked above");
    let element = popped.pop().expect("one element popped");
    let split = ctx.events_mark();
    match ctx
        .db(dst)
        .get_or_insert_with(dst, now, || Value::List(Box::default()))
    {
        (Value::List(l), _) => l.push_owned(end_to, element.clone()),
        _ => unreachable!("dst type checked above"),
    }
    changed(ctx, dst, 0);
    ctx.notify(
        ev::LIST,
        if end_to == End::Head {
            "lpush"
        } else {
            "rpush"
        },
        dst,
    );
    ctx.events_swap_since(mark, split);
    ctx.ready(dst);
    Ok(Some(element))
}

/// The `[key, [element, ...]]` reply of LMPOP and BLMPOP.
pub fn reply_key_and_elements(out: &mut dyn ReplySink, key: &[u8], elements: &[SmallBytes]) {
    out.array(2);
    out.bulk(key);
    reply_elements(out, elements);
}

fn reply_elements(out: &mut dyn ReplySink, elements: &[SmallBytes]) {
    out.array(elements.len());
    for e in elements {
        out.bulk(e);
    }
}

// ---------------------------------------------------------------------------------------------
// Pushes
// ---------------------------------------------------------------------------------------------

fn push_command(
    ctx: &mut ExecCtx,
    argv: Argv,
    out: &mut dyn ReplySink,
    end: End,
    only_if_exists: bool,
) -> CmdResult {
    let key = argv.arg(1);
    let len = push(ctx, key, end, argv.tail(2).iter(), only_if_exists)?;
    out.int(len.map_or(0, |n| n as i64));
    Ok(())
}

/// ```text
/// LPUSH key element [element ...]
/// ```
/// Elements are pushed one after the other, so `LPUSH k a b c` leaves `c b a`.
fn lpush(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    push_command(ctx, argv, out, End::Head, false)
}

/// ```text
/// RPUSH key element [element ...]
/// ```
fn rpush(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    push_command(ctx, argv, out, End::Tail, false)
}

/// ```text
/// LPUSHX key element [element ...]
/// ```
/// 0 when the key does not exist (nothing is created).
fn lpushx(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    push_command(ctx, argv, out, End::Head, true)
}

/// ```text
/// RPUSHX key element [element ...]
/// ```
fn rpushx(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    push_command(ctx, argv, out, End::Tail, true)
}

/// ```text
/// LINSERT key <BEFORE | AFTER> pivot element
/// ```
/// The new length, -1 when the pivot is not in the list, 0 when the key does not exist.
/// The position word is checked before the key.
fn linsert(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let after = if is(argv.arg(2), "AFTER") {
        true
    } else if is(argv.arg(2), "BEFORE") {
        false
    } else {
        return Err(CmdError::Syntax);
    };
    let (key, now) = (argv.arg(1), ctx.now_ms);
    let Some(list) = get_list(ctx.db(key), key, now)? else {
        out.int(0);
        return Ok(());
    };
    if !list.insert(argv.arg(3), argv.arg(4), after) {
        out.int(-1);
        return Ok(());
    }
    let len = list.len();
    changed(ctx, key, 1);
    ctx.notify(ev::LIST, "linsert", key);
    ctx.ready(key);
    out.int(len as i64);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Pops and moves
// ---------------------------------------------------------------------------------------------

/// Redis's `popGenericCommand`: the count (if any) is parsed before the key is looked up.
fn pop_command(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink, end: End) -> CmdResult {
    let name = if end == End::Head { "lpop" } else { "rpop" };
    if argv.len() > 3 {
        return Err(CmdError::Owned(errors::wrong_arity(name)));
    }
    let count = match argv.get(2) {
        // Redis's getPositiveLongFromObjectOrReply: one text for non-numbers and negatives.
        Some(arg) => Some(match args::int(arg) {
            Ok(n) if n >= 0 => n,
            _ => return Err(CmdError::Static(errors::NOT_POSITIVE)),
        }),
        None => None,
    };
    let key = argv.arg(1);
    let n = match count {
        None => 1,
        Some(0) => {
            // Redis looks the key up (WRONGTYPE, nil array) before the count-0 fast exit.
            let now = ctx.now_ms;
            match get_list(ctx.db(key), key, now)? {
                Some(_) => out.array(0),
                None => out.null_array(),
            }
            return Ok(());
        }
        Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
    };
    match (pop_elements(ctx, key, end, n)?, count) {
        (None, None) => out.null(),
        (None, Some(_)) => out.null_array(),
        (Some(popped), None) => out.bulk(&popped[0]),
        (Some(popped), Some(_)) => reply_elements(out, &popped),
    }
    Ok(())
}

/// ```text
/// LPOP key [count]
/// ```
/// Without count: the element or nil. With count: an array (empty for count 0), or a nil
/// array when the key does not exist.
fn lpop(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    pop_command(ctx, argv, out, End::Head)
}

/// ```text
/// RPOP key [count]
/// ```
/// With count, elements come last first (pop order).
fn rpop(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    pop_command(ctx, argv, out, End::Tail)
}

fn reply_moved(out: &mut dyn ReplySink, moved: Option<SmallBytes>) {
    match moved {
        Some(e) => out.bulk(&e),
        None => out.null(),
    }
}

/// ```text
/// LMOVE source destination <LEFT | RIGHT> <LEFT | RIGHT>
/// ```
/// The moved element, or nil when the source does not exist.
fn lmove_cmd(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let from = parse_end(argv.arg(3))?;
    let to = parse_end(argv.arg(4))?;
    let moved = lmove(ctx, argv.arg(1), argv.arg(2), from, to)?;
    reply_moved(out, moved);
    Ok(())
}

/// ```text
/// RPOPLPUSH source destination
/// ```
/// `LMOVE source destination RIGHT LEFT`.
fn rpoplpush(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let moved = lmove(ctx, argv.arg(1), argv.arg(2), End::Tail, End::Head)?;
    reply_moved(out, moved);
    Ok(())
}

/// What LMPOP and BLMPOP were asked, after Redis's `lmpopGenericCommand` parsing.
pub struct MpopArgs {
    /// Argument indexes of the keys.
    pub keys: std::ops::Range<usize>,
    pub end: End,
    pub count: usize,
}

/// Parses `numkeys key [key ...] <LEFT | RIGHT> [COUNT count]` starting at `numkeys_at`
/// (1 for LMPOP, 2 for BLMPOP), with Redis's texts: numkeys and count below 1 (or not numbers)
/// have their own errors, anything else malformed is a syntax error.
pub fn parse_mpop(argv: Argv, numkeys_at: usize) -> Result<MpopArgs, CmdError> {
    let numkeys = match args::int(argv.arg(numkeys_at)) {
        Ok(n) if n >= 1 => n as u64,
        _ => return Err(CmdError::Static(errors::NUMKEYS_ZERO)),
    };
    let first_key = numkeys_at + 1;
    let end_at = (first_key as u64).saturating_add(numkeys);
    if end_at >= argv.len() as u64 {
        return Err(CmdError::Syntax);
    }
    let end_at = end_at as usize;
    let end = parse_end(argv.arg(end_at))?;
    let mut count = None;
    let mut j = end_at + 1;
    while j < argv.len() {
        let more = j + 1 < argv.len();
        if count.is_none() && is(argv.arg(j), "COUNT") && more {
            j += 1;
            count = Some(match args::int(argv.arg(j)) {
                Ok(n) if n >= 1 => usize::try_from(n).unwrap_or(usize::MAX),
                _ => return Err(CmdError::Static(errors::COUNT_NOT_POSITIVE)),
            });
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    Ok(MpopArgs {
        keys: first_key..end_at,
        end,
        count: count.unwrap_or(1),
    })
}

/// ```text
/// LMPOP numkeys key [key ...] <LEFT | RIGHT> [COUNT count]
/// ```
/// `[key, [element, ...]]` from the first non-empty list, or a nil array.
fn lmpop(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let a = parse_mpop(argv, 1)?;
    let keys = a.keys.clone().map(|i| argv.arg(i));
    match pop_from_first_nonempty(ctx, keys, a.end, a.count)? {
        Some((i, popped)) => reply_key_and_elements(out, argv.arg(a.keys.start + i), &popped),
        None => out.null_array(),
    }
    Ok(())
}

/// LMPOP's keys: `numkeys` at index 1, the keys right after.
fn lmpop_keys(argv: Argv) -> Option<KeyPositions> {
    numkeys_positions(argv, 1, false)
}

// ---------------------------------------------------------------------------------------------
// Reads and in-place edits
// ---------------------------------------------------------------------------------------------

/// ```text
/// LLEN key
/// ```
fn llen(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (key, now) = (argv.arg(1), ctx.now_ms);
    let len = get_list(ctx.db(key), key, now)?.map_or(0, |l| l.len());
    out.int(len as i64);
    Ok(())
}

/// ```text
/// LRANGE key start stop
/// ```
/// Both bounds inclusive; negative ones count from the tail; out-of-range ones clamp.
fn lrange(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let start = args::int(argv.arg(2))?;
    let stop = args::int(argv.arg(3))?;
    let (key, now) = (argv.arg(1), ctx.now_ms);
    let Some(list) = get_list(ctx.db(key), key, now)? else {
        out.array(0);
        return Ok(());
    };
    let range = list.range(start, stop);
    out.array(range.len());
    for e in range {
        out.bulk(e);
    }
    Ok(())
}

/// ```text
/// LINDEX key index
/// ```
/// The key is looked up before the index is parsed: a missing key is nil whatever the index.
fn lindex(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (key, now) = (argv.arg(1), ctx.now_ms);
    let Some(list) = get_list(ctx.db(key), key, now)? else {
        out.null();
        return Ok(());
    };
    let index = args::int(argv.arg(2))?;
    match list.get(index) {
        Some(e) => out.bulk(e),
        None => out.null(),
    }
    Ok(())
}

/// ```text
/// LSET key index element
/// ```
/// "no such key" is checked before the index is parsed.
fn lset(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (key, now) = (argv.arg(1), ctx.now_ms);
    let Some(list) = get_list(ctx.db(key), key, now)? else {
        return Err(CmdError::NoSuchKey);
    };
    let index = args::int(argv.arg(2))?;
    if !list.set(index, argv.arg(3)) {
        return Err(CmdError::Static(errors::INDEX_OUT_OF_RANGE));
    }
    changed(ctx, key, 1);
    ctx.notify(ev::LIST, "lset", key);
    out.ok();
    Ok(())
}

/// ```text
/// LREM key count element
/// ```
/// count > 0 removes the first count matches from the head, < 0 the last from the tail, 0 all.
fn lrem(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let count = args::int(argv.arg(2))?;
    let (key, now) = (argv.arg(1), ctx.now_ms);
    let Some(list) = get_list(ctx.db(key), key, now)? else {
        out.int(0);
        return Ok(());
    };
    let removed = list.remove(argv.arg(3), count);
    let emptied = list.is_empty();
    if emptied {
        ctx.db(key).remove(key);
    }
    if removed > 0 {
        changed(ctx, key, removed as u64);
        ctx.notify(ev::LIST, "lrem", key);
    }
    if emptied {
        ctx.notify(ev::GENERIC, "del", key);
    }
    out.int(removed as i64);
    Ok(())
}

/// ```text
/// LTRIM key start stop
/// ```
/// An empty range deletes the key. Like Redis, the key counts as modified (WATCH fires) even
/// when nothing was trimmed.
fn ltrim(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let start = args::int(argv.arg(2))?;
    let stop = args::int(argv.arg(3))?;
    let (key, now) = (argv.arg(1), ctx.now_ms);
    let Some(list) = get_list(ctx.db(key), key, now)? else {
        out.ok();
        return Ok(());
    };
    let removed = list.trim(start, stop);
    let emptied = list.is_empty();
    if emptied {
        ctx.db(key).remove(key);
    }
    changed(ctx, key, removed as u64);
    ctx.notify(ev::LIST, "ltrim", key);
    if emptied {
        ctx.notify(ev::GENERIC, "del", key);
    }
    out.ok();
    Ok(())
}

/// LPOS's options, parsed left to right; the first bad one decides the error.
fn parse_lpos(argv: Argv) -> Result<PosQuery, CmdError> {
    let mut q = PosQuery {
        rank: 1,
        count: None,
        maxlen: 0,
    };
    let non_negative = |arg: &[u8], text: &'static str| match args::int(arg) {
        Ok(n) if n >= 0 => Ok(n),
        _ => Err(CmdError::Static(text)),
    };
    let mut j = 3;
    while j < argv.len() {
        let (opt, more) = (argv.arg(j), j + 1 < argv.len());
        if is(opt, "RANK") && more {
            j += 1;
            q.rank = args::int(argv.arg(j))?;
            if q.rank == 0 {
                return Err(CmdError::Static(errors::LPOS_RANK_ZERO));
            }
        } else if is(opt, "COUNT") && more {
            j += 1;
            q.count = Some(non_negative(argv.arg(j), errors::LPOS_COUNT_NEGATIVE)?);
        } else if is(opt, "MAXLEN") && more {
            j += 1;
            q.maxlen = non_negative(argv.arg(j), errors::LPOS_MAXLEN_NEGATIVE)?;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    Ok(q)
}

/// ```text
/// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]
/// ```
/// Without COUNT: the index of the match or nil. With COUNT: an array of indexes (COUNT 0:
/// all matches). RANK picks the n-th match (negative: from the tail); MAXLEN bounds the scan.
fn lpos(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let q = parse_lpos(argv)?;
    let (key, now) = (argv.arg(1), ctx.now_ms);
    let Some(list) = get_list(ctx.db(key), key, now)? else {
        match q.count {
            Some(_) => out.array(0),
            None => out.null(),
        }
        return Ok(());
    };
    let found = list.positions(argv.arg(2), q);
    match q.count {
        Some(_) => {
            out.array(found.len());
            for i in found {
                out.int(i as i64);
            }
        }
        None => match found.first() {
            Some(&i) => out.int(i as i64),
            None => out.null(),
        },
    }
    Ok(())
}

const RW: Flags = Flags::WRITE;
const RO: Flags = Flags::READONLY;
const FAST: Flags = Flags::FAST;
const DENYOOM: Flags = Flags::DENYOOM;
const PUSH_COMPLEXITY: &str = "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.";

pub static COMMANDS: &[Spec] = &[
    cmd("LPUSH", -3, RW.union(DENYOOM).union(FAST), lpush as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::List, "1.0.0", "Prepend one or multiple elements to a list", PUSH_COMPLEXITY),
    cmd("RPUSH", -3, RW.union(DENYOOM).union(FAST), rpush as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::List, "1.0.0", "Append one or multiple elements to a list", PUSH_COMPLEXITY),
    cmd("LPUSHX", -3, RW.union(DENYOOM).union(FAST), lpushx as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::List, "2.2.0", "Prepend an element to a list, only if the list exists", PUSH_COMPLEXITY),
    cmd("RPUSHX", -3, RW.union(DENYOOM).union(FAST), rpushx as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::List, "2.2.0", "Append an element to a list, only if the list exists", PUSH_COMPLEXITY),
    cmd("LPOP", -2, RW.union(FAST), lpop as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::List, "1.0.0", "Remove and get the first elements in a list", "O(N) where N is the number of elements returned"),
    cmd("RPOP", -2, RW.union(FAST), rpop as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::List, "1.0.0", "Remove and get the last elements in a list", "O(N) where N is the number of elements returned"),
    cmd("LLEN", 2, RO.union(FAST), llen as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::List, "1.0.0", "Get the length of a list", "O(1)"),
    cmd("LRANGE", 4, RO, lrange as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::List, "1.0.0", "Get a range of elements from a list", "O(S+N) where S is the distance of start offset from HEAD for small lists, from nearest end (HEAD or TAIL) for large lists; and N is the number of elements in the specified range."),
    cmd("LINDEX", 3, RO, lindex as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::List, "1.0.0", "Get an element from a list by its index", "O(N) where N is the number of elements to traverse to get to the element at index. This makes asking for the first or the last element of the list O(1)."),
    cmd("LSET", 4, RW.union(DENYOOM), lset as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::List, "1.0.0", "Set the value of an element in a list by its index", "O(N) where N is the length of the list. Setting either the first or the last element of the list is O(1)."),
    cmd("LREM", 4, RW, lrem as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::List, "1.0.0", "Remove elements from a list", "O(N+M) where N is the length of the list and M is the number of elements removed."),
    cmd("LTRIM", 4, RW, ltrim as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::List, "1.0.0", "Trim a list to the specified range", "O(N) where N is the number of elements to be removed by the operation."),
    cmd("LINSERT", 5, RW.union(DENYOOM), linsert as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::List, "2.2.0", "Insert an element before or after another element in a list", "O(N) where N is the number of elements to traverse before seeing the value pivot. This means that inserting somewhere on the left end on the list (head) can be considered O(1) and inserting somewhere on the right end (tail) is O(N)."),
    cmd("LPOS", -3, RO, lpos as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::List, "6.0.6", "Return the index of matching elements on a list", "O(N) where N is the number of elements in the list, for the average case. When searching for elements near the head or the tail of the list, or when the MAXLEN option is provided, the command may run in constant time."),
    cmd("LMOVE", 5, RW.union(DENYOOM), lmove_cmd as EngineHandler)
        .keys(1, 2, 1)
        .doc(Group::List, "6.2.0", "Pop an element from a list, push it to another list and return it", "O(1)"),
    cmd("RPOPLPUSH", 3, RW.union(DENYOOM), rpoplpush as EngineHandler)
        .keys(1, 2, 1)
        .doc(Group::List, "1.2.0", "Remove the last element in a list, prepend it to another list and return it", "O(1)"),
    cmd("LMPOP", -4, RW, lmpop as EngineHandler)
        .movable_keys(lmpop_keys)
        .doc(Group::List, "7.0.0", "Pop elements from a list", "O(N+M) where N is the number of provided keys and M is the number of elements returned."),
];

#[cfg(test)]
mod tests {
    //! The family driven by argv against a real store, checking what the differential tests
    //! cannot see: the effects handed to the server (ready keys, change counts), WATCH touches,
    //! and the reusable operations the blocking commands will call.
    use super::*;
    use crate::config::EngineConfig;
    use crate::ctx::Effects;
    use crate::store::Store;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use usher_protocol::{OwnedArgv, Protocol, RespWriter};

    struct Harness {
        store: Store,
        config: EngineConfig,
        effects: Effects,
    }

    impl Harness {
        /// Four shards, so `la` and `lb` live on different ones.
        fn new() -> Self {
            let store = Store::new(4, 16);
            assert_ne!(store.shard_of(b"la"), store.shard_of(b"lb"));
            Harness {
                store,
                config: EngineConfig::default(),
                effects: Effects::default(),
            }
        }

        /// Runs a list command (or DEL-free setup through it) and returns its RESP2 reply.
        fn run(&mut self, args: &[&str]) -> String {
            let spec = COMMANDS
                .iter()
                .find(|s| s.name.eq_ignore_ascii_case(args[0]))
                .expect("a list command");
            assert!(spec.arity_ok(args.len()), "arity");
            let owned = OwnedArgv::from_args(args);
            self.effects.clear();
            let mut locked = self.store.lock_all();
            let mut ctx = ExecCtx {
                shards: &mut locked,
                db: 0,
                now_ms: 1_000_000,
                config: &self.config,
                effects: &mut self.effects,
                may_block: false,
                in_script: false,
            };
            let mut buf = Vec::new();
            let mut out = RespWriter::new(&mut buf, Protocol::Resp2);
            if let Err(e) = (spec.handler.unwrap())(&mut ctx, owned.argv(), &mut out) {
                out.error(&e.wire_text());
            }
            String::from_utf8(buf).unwrap()
        }

        /// Runs `f` with an execution context over every shard.
        fn with_ctx<T>(&mut self, f: impl FnOnce(&mut ExecCtx) -> T) -> T {
            self.effects.clear();
            let mut locked = self.store.lock_all();
            let mut ctx = ExecCtx {
                shards: &mut locked,
                db: 0,
                now_ms: 1_000_000,
                config: &self.config,
                effects: &mut self.effects,
                may_block: false,
                in_script: false,
            };
            f(&mut ctx)
        }

        fn ready(&self) -> Vec<String> {
            self.effects
                .ready_keys
                .iter()
                .map(|(_, k)| String::from_utf8_lossy(k).into_owned())
                .collect()
        }

        /// Registers a (never woken) client blocked on `key`: only keys somebody waits on are
        /// reported ready, so the hot path pays nothing when nobody blocks.
        fn block_on(&mut self, key: &str) {
            struct NoWake;
            impl crate::block_queues::Wake for NoWake {
                fn wake(&self) {}
            }
            fn never(
                _: &mut ExecCtx,
                _: &OwnedArgv,
                _: &[u8],
                _: &mut dyn ReplySink,
            ) -> Result<crate::ctx::Serve, CmdError> {
                Ok(crate::ctx::Serve::Nothing)
            }
            let waiter = crate::block_queues::Waiter::new(
                1,
                0,
                OwnedArgv::from_args(["BLPOP", key, "0"]),
                Protocol::Resp2,
                vec![SmallBytes::new(key.as_bytes())],
                0,
                never as crate::ctx::ServeFn,
                Arc::new(NoWake),
            );
            let mut locked = self.store.lock_all();
            locked
                .shard(key.as_bytes())
                .blocked
                .push(0, key.as_bytes(), waiter);
        }

        fn watch(&mut self, key: &str) -> Arc<AtomicBool> {
            let flag = Arc::new(AtomicBool::new(false));
            let mut locked = self.store.lock_all();
            locked
                .shard(key.as_bytes())
                .watch(0, key.as_bytes(), flag.clone());
            flag
        }

        fn set_string(&mut self, key: &str) {
            let mut locked = self.store.lock_all();
            locked.db(0, key.as_bytes()).set(
                key.as_bytes(),
                Value::Str(crate::value::StrValue::from_bytes(b"v")),
            );
        }

        fn exists(&mut self, key: &str) -> bool {
            let mut locked = self.store.lock_all();
            locked
                .db(0, key.as_bytes())
                .contains(key.as_bytes(), 1_000_000)
        }
    }

    #[test]
    fn pushes_report_the_key_ready_and_count_one_change_per_element() {
        let mut h = Harness::new();
        assert_eq!(h.run(&["RPUSH", "lc", "z"]), ":1\r\n");
        assert!(h.ready().is_empty(), "nobody waits on lc");
        h.block_on("la");
        assert_eq!(h.run(&["RPUSH", "la", "a", "b", "c"]), ":3\r\n");
        assert_eq!(h.ready(), ["la"]);
        assert_eq!(h.effects.dirty, 3);
        assert_eq!(h.run(&["LPUSHX", "missing", "a"]), ":0\r\n");
        assert!(h.ready().is_empty());
        assert_eq!(h.effects.dirty, 0);
        assert_eq!(h.run(&["LINSERT", "la", "AFTER", "c", "d"]), ":4\r\n");
        assert_eq!(h.ready(), ["la"]);
    }

    #[test]
    fn lmove_across_shards_moves_deletes_the_emptied_source_and_readies_the_destination() {
        let mut h = Harness::new();
        h.block_on("lb");
        h.run(&["RPUSH", "la", "x"]);
        assert_eq!(
            h.run(&["LMOVE", "la", "lb", "LEFT", "RIGHT"]),
            "$1\r\nx\r\n"
        );
        assert_eq!(h.ready(), ["lb"]);
        assert!(!h.exists("la"));
        assert_eq!(h.run(&["LRANGE", "lb", "0", "-1"]), "*1\r\n$1\r\nx\r\n");
    }

    #[test]
    fn lmove_onto_a_wrong_type_moves_nothing() {
        let mut h = Harness::new();
        h.run(&["RPUSH", "la", "x"]);
        h.set_string("lb");
        let moved = h.with_ctx(|ctx| lmove(ctx, b"la", b"lb", End::Head, End::Head));
        assert_eq!(moved, Err(CmdError::WrongType));
        assert!(h.ready().is_empty());
        assert_eq!(h.run(&["LLEN", "la"]), ":1\r\n");
    }

    #[test]
    fn rotating_a_one_element_list_keeps_its_ttl() {
        let mut h = Harness::new();
        h.run(&["RPUSH", "la", "x"]);
        {
            let mut locked = h.store.lock_all();
            assert!(locked.db(0, b"la").set_expire(b"la", 5_000_000, 1_000_000));
        }
        assert_eq!(h.run(&["RPOPLPUSH", "la", "la"]), "$1\r\nx\r\n");
        let mut locked = h.store.lock_all();
        let entry = locked.db(0, b"la").lookup(b"la", 1_000_000).unwrap();
        assert_eq!(entry.expire_at(), Some(5_000_000));
    }

    #[test]
    fn pop_from_first_nonempty_skips_missing_keys_and_stops_at_a_wrong_type() {
        let mut h = Harness::new();
        h.run(&["RPUSH", "lb", "1", "2", "3"]);
        h.set_string("s");
        let keys: [&[u8]; 3] = [b"missing", b"lb", b"s"];
        let got = h.with_ctx(|ctx| pop_from_first_nonempty(ctx, keys, End::Tail, 2));
        let (i, popped) = got.unwrap().unwrap();
        assert_eq!(i, 1);
        assert_eq!(
            popped.as_slice(),
            [SmallBytes::from("3"), SmallBytes::from("2")]
        );
        assert_eq!(h.effects.dirty, 2);
        let keys: [&[u8]; 2] = [b"s", b"lb"];
        let got = h.with_ctx(|ctx| pop_from_first_nonempty(ctx, keys, End::Head, 1));
        assert_eq!(got, Err(CmdError::WrongType));
        let keys: [&[u8]; 2] = [b"lb", b"s"];
        let got = h.with_ctx(|ctx| pop_from_first_nonempty(ctx, keys, End::Head, 5));
        assert_eq!(got.unwrap().unwrap().1.len(), 1);
        assert!(!h.exists("lb"), "the emptied list is deleted");
        let keys: [&[u8]; 1] = [b"lb"];
        let got = h.with_ctx(|ctx| pop_from_first_nonempty(ctx, keys, End::Head, 1));
        assert_eq!(got, Ok(None));
    }

    #[test]
    fn watch_fires_exactly_where_redis_signals_a_modified_key() {
        let mut h = Harness::new();
        h.run(&["RPUSH", "la", "a", "b"]);
        // Redis's ltrimCommand signals even when nothing is trimmed; a removal or insert that
        // finds nothing, a zero-count pop and reads do not.
        let cases: &[(&[&str], bool)] = &[
            (&["LTRIM", "la", "0", "-1"], true),
            (&["LSET", "la", "0", "a"], true),
            (&["LREM", "la", "0", "zzz"], false),
            (&["LINSERT", "la", "BEFORE", "zzz", "x"], false),
            (&["LPOP", "la", "0"], false),
            (&["LRANGE", "la", "0", "-1"], false),
            (&["LPOS", "la", "a"], false),
            (&["LMOVE", "la", "la", "LEFT", "RIGHT"], true),
            (&["RPOPLPUSH", "missing", "la"], false),
        ];
        for (args, fires) in cases {
            let flag = h.watch("la");
            h.run(args);
            assert_eq!(flag.load(Ordering::Acquire), *fires, "{args:?}");
        }
    }

    #[test]
    fn mpop_arguments_parse_in_redis_order() {
        let parse = |args: &[&str]| {
            let owned = OwnedArgv::from_args(args);
            parse_mpop(owned.argv(), 1).map(|a| (a.keys, a.end, a.count))
        };
        assert_eq!(
            parse(&["LMPOP", "2", "a", "b", "LEFT"]).unwrap(),
            (2..4, End::Head, 1)
        );
        assert_eq!(
            parse(&["LMPOP", "1", "a", "right", "COUNT", "7"]).unwrap(),
            (2..3, End::Tail, 7)
        );
        let err = |args: &[&str]| parse(args).unwrap_err().wire_text().into_owned();
        assert_eq!(err(&["LMPOP", "0", "a", "LEFT"]), errors::NUMKEYS_ZERO);
        assert_eq!(err(&["LMPOP", "x", "a", "LEFT"]), errors::NUMKEYS_ZERO);
        assert_eq!(err(&["LMPOP", "2", "a", "LEFT"]), errors::SYNTAX);
        assert_eq!(
            err(&["LMPOP", "9223372036854775807", "a", "LEFT"]),
            errors::SYNTAX
        );
        assert_eq!(
            err(&["LMPOP", "1", "a", "LEFT", "COUNT", "0"]),
            errors::COUNT_NOT_POSITIVE
        );
        assert_eq!(
            err(&["LMPOP", "1", "a", "LEFT", "COUNT", "1", "COUNT", "1"]),
            errors::SYNTAX
        );
    }
}
