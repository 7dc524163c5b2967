//! ZADD, ZINCRBY, ZREM and the ZREMRANGEBY* commands.
//!
//! Redis quirks reproduced (Redis 7.0.15's `zaddGenericCommand` and `zsetAdd`):
//! - options are read up to the first word that is not one, so `ZADD z nx 1 a` is NX while
//!   `ZADD z 1 nx` is a score `1` for member `nx`; ZINCRBY parses the same way with INCR forced,
//!   so `ZINCRBY z nx m` is a syntax error;
//! - the pair-count check (syntax error) comes before the option conflicts, which come before
//!   the scores are parsed, which comes before the key's type is checked;
//! - `CH` counts updates too; with `INCR` the reply is the new score, or nil when NX/XX/GT/LT
//!   stopped the update;
//! - an INCR producing NaN (`inf` + `-inf`) is "resulting score is not a number (NaN)";
//! - GT/LT compare the new score (after INCR) with the current one; an equal score is no
//!   update, and `0` over `-0` leaves `-0`.

use super::{changed, get_zset, lex_range, limits, score_range, storable_score};
use crate::args::{self, is};
use crate::ctx::ExecCtx;
use crate::error::{CmdError, CmdResult};
use crate::keyspace_events as ev;
use crate::types::zset::{ZSet, ZSetLimits};
use crate::value::Value;
use smallvec::SmallVec;
use usher_protocol::{errors, Argv, ReplySink};

/// ZADD's flags (`ZADD_IN_*` in Redis) and CH.
#[derive(Clone, Copy, Default)]
struct AddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

impl AddFlags {
    fn plain(&self) -> bool {
        !(self.nx || self.xx || self.gt || self.lt || self.incr)
    }
}

/// What adding one member did (Redis's `ZADD_OUT_*` flags), with the resulting score.
enum Outcome {
    Added(f64),
    Updated(f64),
    /// Processed, but the score did not change.
    Same(f64),
    /// Skipped by NX, XX, GT or LT.
    Nop,
    /// INCR produced NaN.
    Nan,
}

/// Redis's `zsetAdd` for one member of a set that exists (possibly just created, empty).
fn add_one(z: &mut ZSet, member: &[u8], score: f64, f: &AddFlags, lim: &ZSetLimits) -> Outcome {
    debug_assert!(!score.is_nan(), "scores are parsed without NaN");
    // The hot path (a waiting line's ZADD): one lookup, no flags to evaluate, and a big set
    // stores -0 as is, so the current score is not needed first.
    if f.plain() && !z.is_listpack() {
        return match z.insert(member, score, lim) {
            None => Outcome::Added(score),
            Some(old) if old != score => Outcome::Updated(score),
            Some(_) => Outcome::Same(score),
        };
    }
    match z.score(member) {
        Some(cur) => {
            if f.nx {
                return Outcome::Nop;
            }
            let score = if f.incr { score + cur } else { score };
            if score.is_nan() {
                return Outcome::Nan;
            }
            if (f.lt && score >= cur) || (f.gt && score <= cur) {
                return Outcome::Nop;
            }
            if score == cur {
                return Outcome::Same(score);
            }
            let stored = storable_score(z, member, true, score, lim);
            z.insert(member, stored, lim);
            Outcome::Updated(score)
        }
        None if f.xx => Outcome::Nop,
        None => {
            let stored = storable_score(z, member, false, score, lim);
            z.insert(member, stored, lim);
            Outcome::Added(score)
        }
    }
}

/// Parses ZADD's options from index 2; returns them and the index of the first score.
fn parse_add_flags(argv: Argv, incr: bool) -> Result<(AddFlags, usize), CmdError> {
    let mut f = AddFlags {
        incr,
        ..AddFlags::default()
    };
    let mut idx = 2;
    while idx < argv.len() {
        let opt = argv.arg(idx);
        if is(opt, "NX") {
            f.nx = true;
        } else if is(opt, "XX") {
            f.xx = true;
        } else if is(opt, "CH") {
            f.ch = true;
        } else if is(opt, "INCR") {
            f.incr = true;
        } else if is(opt, "GT") {
            f.gt = true;
        } else if is(opt, "LT") {
            f.lt = true;
        } else {
            break;
        }
        idx += 1;
    }
    let elements = argv.len() - idx;
    if elements == 0 || elements % 2 == 1 {
        return Err(CmdError::Syntax);
    }
    if f.nx && f.xx {
        return Err(CmdError::Static(errors::XX_NX_INCOMPATIBLE));
    }
    if (f.nx && (f.gt || f.lt)) || (f.gt && f.lt) {
        return Err(CmdError::Static(errors::GT_LT_NX_INCOMPATIBLE));
    }
    if f.incr && elements > 2 {
        return Err(CmdError::Static(errors::INCR_SINGLE_PAIR));
    }
    Ok((f, idx))
}

/// ZADD and ZINCRBY (Redis's `zaddGenericCommand`).
fn zadd_generic(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink, incr: bool) -> CmdResult {
    let (f, first) = parse_add_flags(argv, incr)?;
    // Every score is checked before anything changes. A plain loop: collecting the Results
    // through an iterator adapter cost ZADD about 300 instructions for its one pair.
    let mut scores: SmallVec<[f64; 8]> = SmallVec::new();
    let mut i = first;
    while i < argv.len() {
        scores.push(args::float(argv.arg(i))?);
        i += 2;
    }
    let (key, now, lim) = (argv.arg(1), ctx.now_ms, limits(ctx));
    let db = ctx.db(key);
    let z: &mut ZSet = if f.xx {
        match get_zset(db, key, now)? {
            Some(z) => z,
            None => {
                // No key and XX: nothing to do.
                reply_add(out, &f, 0, None);
                return Ok(());
            }
        }
    } else {
        match db
            .get_or_insert_with(key, now, || Value::ZSet(Box::default()))
            .0
        {
            Value::ZSet(z) => z,
            _ => return Err(CmdError::WrongType),
        }
    };
    let (mut added, mut updated, mut last) = (0, 0, None);
    for (j, &score) in scores.iter().enumerate() {
        let member = argv.arg(first + 2 * j + 1);
        match add_one(z, member, score, &f, &lim) {
            Outcome::Added(s) => (added, last) = (added + 1, Some(s)),
            Outcome::Updated(s) => (updated, last) = (updated + 1, Some(s)),
            Outcome::Same(s) => last = Some(s),
            Outcome::Nop => {}
            // Only INCR can get here, and it has a single pair: nothing was changed.
            Outcome::Nan => return Err(CmdError::Static(errors::SCORE_NAN)),
        }
    }
    let empty = z.is_empty();
    if empty {
        // Unreachable in practice (a created key always gets its first member), but a key
        // must never hold an empty set.
        ctx.db(key).delete(key, now);
    }
    if added + updated > 0 {
        changed(ctx, key, added + updated);
        ctx.notify(ev::ZSET, if f.incr { "zincr" } else { "zadd" }, key);
    }
    if added > 0 {
        ctx.ready(key);
    }
    let count = if f.ch { added + updated } else { added };
    reply_add(out, &f, count, last);
    Ok(())
}

fn reply_add(out: &mut dyn ReplySink, f: &AddFlags, count: usize, last: Option<f64>) {
    if f.incr {
        match last {
            Some(score) => out.double(score),
            None => out.null(),
        }
    } else {
        out.int(count as i64);
    }
}

/// ```text
/// ZADD key [NX | XX] [GT | LT] [CH] [INCR] score member [score member ...]
/// ```
/// Complexity: O(log(N)) per member added or updated.
pub(super) fn zadd(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    zadd_generic(ctx, argv, out, false)
}

/// ```text
/// ZINCRBY key increment member
/// ```
/// Complexity: O(log(N)).
pub(super) fn zincrby(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    zadd_generic(ctx, argv, out, true)
}

/// ```text
/// ZREM key member [member ...]
/// ```
/// Complexity: O(M log(N)) for M members.
pub(super) fn zrem(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (key, now) = (argv.arg(1), ctx.now_ms);
    let Some(z) = get_zset(ctx.db(key), key, now)? else {
        out.int(0);
        return Ok(());
    };
    let mut deleted = 0;
    for member in argv.iter().skip(2) {
        if z.remove(member).is_some() {
            deleted += 1;
            if z.is_empty() {
                break;
            }
        }
    }
    finish_removal(ctx, key, deleted, "zrem");
    out.int(deleted as i64);
    Ok(())
}

/// After removing `deleted` members from the set at `key`: deletes the key if it is empty and
/// records the change.
fn finish_removal(ctx: &mut ExecCtx, key: &[u8], deleted: usize, event: &'static str) {
    if deleted == 0 {
        return;
    }
    let now = ctx.now_ms;
    let db = ctx.db(key);
    let emptied = matches!(get_zset(db, key, now), Ok(Some(z)) if z.is_empty());
    if emptied {
        db.delete(key, now);
    }
    changed(ctx, key, deleted);
    ctx.notify(ev::ZSET, event, key);
    if emptied {
        ctx.notify(ev::GENERIC, "del", key);
    }
}

/// Which ZREMRANGEBY* command, with its parsed range.
enum Removal {
    Rank(i64, i64),
    Score(
        crate::types::zset::ScoreBound,
        crate::types::zset::ScoreBound,
    ),
    Lex(crate::types::zset::LexBound, crate::types::zset::LexBound),
}

/// The ascending ranks `[first, first + n)` a removal covers, as Redis's
/// `zremrangeGenericCommand` computes them for each encoding.
fn removal_span(z: &ZSet, range: &Removal) -> (usize, usize) {
    match range {
        Removal::Rank(start, end) => match super::range::clamp_ranks(*start, *end, z.len()) {
            Some((start, end)) => (start, end - start + 1),
            None => (0, 0),
        },
        Removal::Score(min, max) => match z.first_rank_in_score_range(min, max) {
            Some(first) => (first, z.count_in_score_range(min, max)),
            None => (0, 0),
        },
        // Redis deletes forward from the first match while members stay <= max.
        Removal::Lex(min, max) => match z.first_rank_in_lex_range(min, max) {
            Some(first) => {
                let n = z
                    .iter_from_rank(first, false)
                    .take_while(|(m, _)| max.admits_as_max(m))
                    .count();
                (first, n)
            }
            None => (0, 0),
        },
    }
}

fn zremrange_generic(ctx: &mut ExecCtx, key: &[u8], range: Removal) -> Result<usize, CmdError> {
    let now = ctx.now_ms;
    let Some(z) = get_zset(ctx.db(key), key, now)? else {
        return Ok(0);
    };
    let (first, n) = removal_span(z, &range);
    let event = match range {
        Removal::Rank(..) => "zremrangebyrank",
        Removal::Score(..) => "zremrangebyscore",
        Removal::Lex(..) => "zremrangebylex",
    };
    if n > 0 && n == z.len() {
        // Everything goes: drop the key whole, so a big set is reclaimed off the shard lock
        // rather than taken apart element by element under it.
        ctx.db(key).delete(key, now);
        changed(ctx, key, n);
        ctx.notify(ev::ZSET, event, key);
        ctx.notify(ev::GENERIC, "del", key);
        return Ok(n);
    }
    let removed = if n == 0 {
        0
    } else {
        z.remove_rank_range(first, first + n - 1)
    };
    debug_assert_eq!(removed, n);
    finish_removal(ctx, key, removed, event);
    Ok(removed)
}

/// ```text
/// ZREMRANGEBYRANK key start stop
/// ```
/// Complexity: O(log(N) + M) for M members removed.
pub(super) fn zremrangebyrank(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let start = args::int(argv.arg(2))?;
    let end = args::int(argv.arg(3))?;
    let n = zremrange_generic(ctx, argv.arg(1), Removal::Rank(start, end))?;
    out.int(n as i64);
    Ok(())
}

/// ```text
/// ZREMRANGEBYSCORE key min max
/// ```
/// Complexity: O(log(N) + M) for M members removed.
pub(super) fn zremrangebyscore(
    ctx: &mut ExecCtx,
    argv: Argv,
    out: &mut dyn ReplySink,
) -> CmdResult {
    let (min, max) = score_range(argv.arg(2), argv.arg(3))?;
    let n = zremrange_generic(ctx, argv.arg(1), Removal::Score(min, max))?;
    out.int(n as i64);
    Ok(())
}

/// ```text
/// ZREMRANGEBYLEX key min max
/// ```
/// Complexity: O(log(N) + M) for M members removed.
pub(super) fn zremrangebylex(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (min, max) = lex_range(argv.arg(2), argv.arg(3))?;
    let n = zremrange_generic(ctx, argv.arg(1), Removal::Lex(min, max))?;
    out.int(n as i64);
    Ok(())
}
