//! ZPOPMIN, ZPOPMAX and ZMPOP, and the pop functions the blocking variants (BZPOPMIN,
//! BZPOPMAX, BZMPOP) share with them: [`pop_min_max`] pops from one key and writes any of the
//! four reply shapes Redis's `genericZpopCommand` writes; [`pop_first`] is the "first key
//! that exists" step of ZMPOP and of the blocking commands' first attempt; [`parse_zmpop`]
//! reads `numkeys key ... MIN|MAX [COUNT n]` for ZMPOP and BZMPOP.
//!
//! For a blocked client being served (a [`crate::ctx::ServeFn`]): `pop_min_max(ctx, key,
//! 1, end, PopReply::KeyFlat, out)` for BZPOPMIN/BZPOPMAX, `(..., count, end,
//! PopReply::KeyNested, ...)` for BZMPOP; `Ok(true)` is `Serve::Served`, and `Ok(false)` or
//! WRONGTYPE is `Serve::Nothing` (Redis keeps a client blocked when its key holds another
//! type).
//!
//! Redis quirks reproduced (7.0.15):
//! - ZPOPMIN's count goes through `getPositiveLongFromObjectOrReply`, so a non-number and a
//!   negative number both answer "value is out of range, must be positive"; more than one
//!   count argument is a syntax error;
//! - a missing key answers an empty array even for count 0, and a key of another type answers
//!   WRONGTYPE even for count 0;
//! - RESP3 nests `[member, score]` pairs only when a count was given;
//! - ZMPOP: a bad numkeys is "numkeys should be greater than 0", a bad count "count should be
//!   greater than 0", a second COUNT a syntax error; the first key that exists is popped (and
//!   if it is not a sorted set, WRONGTYPE, even when a later key is one).

use super::{changed, get_zset};
use crate::args::is;
use crate::ctx::ExecCtx;
use crate::error::{CmdError, CmdResult};
use crate::keyspace_events as ev;
use usher_protocol::{errors, Argv, ReplySink};

/// Which end of the order a pop takes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    Min,
    Max,
}

/// The reply shapes of Redis's `genericZpopCommand`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PopReply {
    /// ZPOPMIN/ZPOPMAX: `[member, score, ...]`, or with `nested` (RESP3 and a COUNT given)
    /// `[[member, score], ...]`.
    Plain { nested: bool },
    /// BZPOPMIN/BZPOPMAX: `[key, member, score]` (flat, in RESP2 and RESP3).
    KeyFlat,
    /// ZMPOP/BZMPOP: `[key, [[member, score], ...]]`.
    KeyNested,
}

/// Pops up to `count` (at least 1) members from `end` of the sorted set at `key`, writes the
/// reply in `shape`, deletes the key if it empties and records the change.
///
/// Returns `Ok(false)` without writing anything when the key does not exist (ZPOPMIN then
/// replies an empty array, ZMPOP tries the next key, the blocking commands wait), and
/// `Err(WrongType)`, also without writing, when it holds another type. Sorted sets are never
/// empty, so `Ok(true)` always popped at least one member.
///
/// This is the function blocked BZPOPMIN/BZPOPMAX/BZMPOP clients are served with, in the
/// writer's context, once a key they wait on is ready.
pub fn pop_min_max(
    ctx: &mut ExecCtx,
    key: &[u8],
    count: usize,
    end: End,
    shape: PopReply,
    out: &mut dyn ReplySink,
) -> Result<bool, CmdError> {
    debug_assert!(count >= 1, "callers handle count 0");
    let now = ctx.now_ms;
    let Some(z) = get_zset(ctx.db(key), key, now)? else {
        return Ok(false);
    };
    let n = count.min(z.len());
    debug_assert!(n >= 1, "a key never holds an empty sorted set");
    match shape {
        PopReply::Plain { nested: false } => out.array(n * 2),
        PopReply::Plain { nested: true } => out.array(n),
        PopReply::KeyFlat => {
            out.array(n * 2 + 1);
            out.bulk(key);
        }
        PopReply::KeyNested => {
            out.array(2);
            out.bulk(key);
            out.array(n);
        }
    }
    let nested = matches!(
        shape,
        PopReply::Plain { nested: true } | PopReply::KeyNested
    );
    for _ in 0..n {
        let (member, score) = match end {
            End::Min => z.pop_min(),
            End::Max => z.pop_max(),
        }
        .expect("n is at most the set's length");
        if nested {
            out.array(2);
        }
        out.bulk(&member);
        out.double(score);
    }
    let emptied = z.is_empty();
    if emptied {
        ctx.db(key).delete(key, now);
    }
    changed(ctx, key, n);
    ctx.notify(
        ev::ZSET,
        if end == End::Min {
            "zpopmin"
        } else {
            "zpopmax"
        },
        key,
    );
    if emptied {
        ctx.notify(ev::GENERIC, "del", key);
    }
    Ok(true)
}

/// ZMPOP's arguments after `numkeys`: which end, and how many.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZmpopArgs {
    pub numkeys: usize,
    pub end: End,
    pub count: usize,
}

impl ZmpopArgs {
    /// The argument indexes of the keys, given where numkeys was.
    pub fn key_indexes(&self, numkeys_idx: usize) -> std::ops::Range<usize> {
        numkeys_idx + 1..numkeys_idx + 1 + self.numkeys
    }
}

/// Parses `numkeys key [key ...] MIN|MAX [COUNT count]` with numkeys at `numkeys_idx` (1 for
/// ZMPOP, 2 for `BZMPOP timeout numkeys ...`), as Redis's `zmpopGenericCommand`. BZMPOP reads
/// its timeout only after this succeeded, as Redis does.
pub fn parse_zmpop(argv: Argv, numkeys_idx: usize) -> Result<ZmpopArgs, CmdError> {
    let numkeys = match usher_protocol::parse::parse_i64(argv.arg(numkeys_idx)) {
        Some(n) if n >= 1 => n as usize,
        _ => return Err(CmdError::Static(errors::NUMKEYS_ZERO)),
    };
    let where_idx = numkeys_idx.saturating_add(numkeys).saturating_add(1);
    if where_idx >= argv.len() {
        return Err(CmdError::Syntax);
    }
    let end = if is(argv.arg(where_idx), "MIN") {
        End::Min
    } else if is(argv.arg(where_idx), "MAX") {
        End::Max
    } else {
        return Err(CmdError::Syntax);
    };
    let mut count = None;
    let mut j = where_idx + 1;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        if count.is_none() && is(argv.arg(j), "COUNT") && more > 0 {
            j += 1;
            match usher_protocol::parse::parse_i64(argv.arg(j)) {
                Some(n) if n >= 1 => count = Some(n as usize),
                _ => return Err(CmdError::Static(errors::COUNT_NOT_POSITIVE)),
            }
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    Ok(ZmpopArgs {
        numkeys,
        end,
        count: count.unwrap_or(1),
    })
}

/// Pops from the first of `keys` that exists, as ZMPOP (shape [`PopReply::KeyNested`]) and
/// the first, non-blocking attempt of BZPOPMIN/BZPOPMAX ([`PopReply::KeyFlat`], count 1) and
/// BZMPOP do. `Ok(false)` when no key exists, with nothing written (ZMPOP then replies a null
/// array; the blocking commands block). WRONGTYPE if the first existing key is not a sorted
/// set, even when a later one is, as in Redis.
pub fn pop_first<'k>(
    ctx: &mut ExecCtx,
    keys: impl IntoIterator<Item = &'k [u8]>,
    count: usize,
    end: End,
    shape: PopReply,
    out: &mut dyn ReplySink,
) -> Result<bool, CmdError> {
    for key in keys {
        if pop_min_max(ctx, key, count, end, shape, out)? {
            return Ok(true);
        }
    }
    Ok(false)
}

fn zpop_generic(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink, end: End) -> CmdResult {
    if argv.len() > 3 {
        return Err(CmdError::Syntax);
    }
    let count = match argv.get(2) {
        None => None,
        Some(arg) => match usher_protocol::parse::parse_i64(arg) {
            Some(n) if n >= 0 => Some(n as usize),
            _ => return Err(CmdError::Static(errors::NOT_POSITIVE)),
        },
    };
    let (key, now) = (argv.arg(1), ctx.now_ms);
    if get_zset(ctx.db(key), key, now)?.is_none() || count == Some(0) {
        out.array(0);
        return Ok(());
    }
    let nested = out.is_resp3() && count.is_some();
    let popped = pop_min_max(
        ctx,
        key,
        count.unwrap_or(1),
        end,
        PopReply::Plain { nested },
        out,
    )?;
    debug_assert!(popped, "checked above");
    Ok(())
}

/// ```text
/// ZPOPMIN key [count]
/// ```
/// Complexity: O(log(N) * M) for M members popped.
pub(super) fn zpopmin(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    zpop_generic(ctx, argv, out, End::Min)
}

/// ```text
/// ZPOPMAX key [count]
/// ```
/// Complexity: O(log(N) * M) for M members popped.
pub(super) fn zpopmax(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    zpop_generic(ctx, argv, out, End::Max)
}

/// ```text
/// ZMPOP numkeys key [key ...] MIN | MAX [COUNT count]
/// ```
/// Complexity: O(K) + O(M log(N)) for K keys and M members popped.
pub(super) fn zmpop(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let a = parse_zmpop(argv, 1)?;
    let keys = a.key_indexes(1).map(|i| argv.arg(i));
    if !pop_first(ctx, keys, a.count, a.end, PopReply::KeyNested, out)? {
        out.null_array();
    }
    Ok(())
}
