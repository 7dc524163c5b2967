//! The ZRANGE family: ZRANGE (BYSCORE, BYLEX, REV, LIMIT, WITHSCORES), ZRANGESTORE, and the
//! older ZREVRANGE, ZRANGEBYSCORE, ZREVRANGEBYSCORE, ZRANGEBYLEX, ZREVRANGEBYLEX, all through
//! one function as in Redis 7.0.15 (`zrangeGenericCommand`).
//!
//! Redis quirks reproduced:
//! - options are parsed before the range: `LIMIT x 1` is "not an integer" even when the range
//!   is also bad; LIMIT needs two more arguments, else it is a syntax error;
//! - the old commands accept only their own options: `ZRANGEBYSCORE ... REV` or `... BYLEX` is
//!   a syntax error, and ZRANGESTORE rejects WITHSCORES the same way;
//! - `LIMIT` with a rank range is an error unless its count is exactly -1 (Redis's "not
//!   given" value), so `ZRANGE z 0 -1 LIMIT 0 -1` works;
//! - a negative LIMIT offset gives nothing, a negative count means "all";
//! - in REV form the range is given as `max min`;
//! - ZRANGESTORE picks the destination's encoding from a rank range's length before adding
//!   anything (a big set when it exceeds `zset-max-listpack-entries`), while score and lex
//!   ranges start from a listpack that converts as it grows; so `-0` keeps its sign exactly
//!   when Redis's does;
//! - a lex range on a set whose scores differ walks as Redis's encoding would (see
//!   `ZSet::first_rank_in_lex_range`).

use super::{add_new, get_zset, lex_range, limits, pair, pairs_header, score_range, store_result};
use crate::args::{self, is};
use crate::bytes::SmallBytes;
use crate::ctx::ExecCtx;
use crate::error::{CmdError, CmdResult};
use crate::types::zset::{LexBound, ScoreBound, ZSet};
use usher_protocol::{errors, Argv, ReplySink};

#[derive(Clone, Copy, PartialEq, Eq)]
enum By {
    Auto,
    Rank,
    Score,
    Lex,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Dir {
    Auto,
    Forward,
    Reverse,
}

/// A parsed range.
enum Range {
    Rank(i64, i64),
    Score(ScoreBound, ScoreBound),
    Lex(LexBound, LexBound),
}

/// A parsed range request: the range, its direction and options.
struct Request {
    range: Range,
    reverse: bool,
    withscores: bool,
    offset: i64,
    /// Negative: no limit.
    limit: i64,
}

/// Redis's index sanitising for rank ranges: negative indexes count from the end, the start
/// is clamped to 0 and the end to the last rank. `None` when the range is empty.
pub(super) fn clamp_ranks(mut start: i64, mut end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    if start > end || start >= len {
        return None;
    }
    Some((start as usize, end.min(len - 1) as usize))
}

/// Parses everything after the source key (Redis's steps 1 and 2). `src` is the source key's
/// index; `store` is ZRANGESTORE.
fn parse(
    argv: Argv,
    src: usize,
    store: bool,
    mut by: By,
    mut dir: Dir,
) -> Result<Request, CmdError> {
    let (mut withscores, mut offset, mut limit) = (false, 0, -1);
    let mut j = src + 3;
    while j < argv.len() {
        let left = argv.len() - j - 1;
        let opt = argv.arg(j);
        if !store && is(opt, "WITHSCORES") {
            withscores = true;
        } else if is(opt, "LIMIT") && left >= 2 {
            offset = args::int(argv.arg(j + 1))?;
            limit = args::int(argv.arg(j + 2))?;
            j += 2;
        } else if dir == Dir::Auto && is(opt, "REV") {
            dir = Dir::Reverse;
        } else if by == By::Auto && is(opt, "BYLEX") {
            by = By::Lex;
        } else if by == By::Auto && is(opt, "BYSCORE") {
            by = By::Score;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let reverse = dir == Dir::Reverse;
    if by == By::Auto {
        by = By::Rank;
    }
    if limit != -1 && by == By::Rank {
        return Err(CmdError::Static(errors::ZRANGE_LIMIT_NEEDS_BY));
    }
    if withscores && by == By::Lex {
        return Err(CmdError::Static(errors::ZRANGE_WITHSCORES_BYLEX));
    }
    let (mut lo, mut hi) = (argv.arg(src + 1), argv.arg(src + 2));
    if reverse && by != By::Rank {
        // Given as `max min`.
        std::mem::swap(&mut lo, &mut hi);
    }
    let range = match by {
        By::Rank | By::Auto => Range::Rank(args::int(lo)?, args::int(hi)?),
        By::Score => {
            let (min, max) = score_range(lo, hi)?;
            Range::Score(min, max)
        }
        By::Lex => {
            let (min, max) = lex_range(lo, hi)?;
            Range::Lex(min, max)
        }
    };
    Ok(Request {
        range,
        reverse,
        withscores: withscores || store,
        offset,
        limit,
    })
}

/// The elements a request selects: `n` elements walking from ascending rank `start`, backward
/// when `rev`. O(log N), plus O(n) for lex ranges (which must look at each member).
fn span(z: &ZSet, req: &Request) -> (usize, usize) {
    let len = z.len();
    let limit = if req.limit < 0 {
        usize::MAX
    } else {
        req.limit as usize
    };
    // Redis skips `offset` elements without looking at them, then takes while in range; a
    // negative offset walks off the end.
    let offset = if req.offset < 0 {
        usize::MAX
    } else {
        req.offset as usize
    };
    let rev = req.reverse;
    match &req.range {
        Range::Rank(start, end) => match clamp_ranks(*start, *end, len) {
            Some((s, e)) if rev => (len - 1 - s, e - s + 1),
            Some((s, e)) => (s, e - s + 1),
            None => (0, 0),
        },
        Range::Score(min, max) => {
            let anchor = if rev {
                z.last_rank_in_score_range(min, max)
            } else {
                z.first_rank_in_score_range(min, max)
            };
            let Some(anchor) = anchor else { return (0, 0) };
            let in_range = z.count_in_score_range(min, max);
            if offset >= in_range {
                return (0, 0);
            }
            let start = if rev {
                anchor - offset
            } else {
                anchor + offset
            };
            (start, (in_range - offset).min(limit))
        }
        Range::Lex(min, max) => {
            let anchor = if rev {
                z.last_rank_in_lex_range(min, max)
            } else {
                z.first_rank_in_lex_range(min, max)
            };
            let Some(anchor) = anchor else { return (0, 0) };
            let start = if rev {
                anchor.checked_sub(offset)
            } else {
                anchor.checked_add(offset).filter(|&s| s < len)
            };
            let Some(start) = start else { return (0, 0) };
            let n = z
                .iter_from_rank(start, rev)
                .take(limit)
                .take_while(|(m, _)| {
                    if rev {
                        min.admits_as_min(m)
                    } else {
                        max.admits_as_max(m)
                    }
                })
                .count();
            (start, n)
        }
    }
}

/// ZRANGE and its relatives: parse, look up, reply (or store into `argv[1]`).
fn zrange_generic(
    ctx: &mut ExecCtx,
    argv: Argv,
    out: &mut dyn ReplySink,
    src: usize,
    store: bool,
    by: By,
    dir: Dir,
) -> CmdResult {
    let req = parse(argv, src, store, by, dir)?;
    let (key, now) = (argv.arg(src), ctx.now_ms);
    let Some(z) = get_zset(ctx.db(key), key, now)? else {
        if store {
            store_result(ctx, argv.arg(1), ZSet::new(), out, "zrangestore");
        } else {
            out.array(0);
        }
        return Ok(());
    };
    let (start, n) = span(z, &req);
    let items = z.iter_from_rank(start, req.reverse).take(n);
    if !store {
        pairs_header(out, n, req.withscores);
        for (member, score) in items {
            pair(out, member, score, req.withscores);
        }
        return Ok(());
    }
    // Copy out first: the destination may live on another shard.
    let picked: Vec<(SmallBytes, f64)> = items.map(|(m, s)| (SmallBytes::new(m), s)).collect();
    debug_assert_eq!(picked.len(), n);
    // Like Redis: a rank range longer than the listpack limit starts as a big set; any other
    // range starts as a listpack, and the elements are added one by one (converting it if
    // they outgrow it). The choice decides whether `-0` keeps its sign.
    let lim = limits(ctx);
    let mut dst = match req.range {
        Range::Rank(..) if n > lim.max_listpack_entries => ZSet::new_big(),
        _ => ZSet::new(),
    };
    for (member, score) in &picked {
        add_new(&mut dst, member, *score, &lim);
    }
    store_result(ctx, argv.arg(1), dst, out, "zrangestore");
    Ok(())
}

/// ```text
/// ZRANGE key start stop [BYSCORE | BYLEX] [REV] [LIMIT offset count] [WITHSCORES]
/// ```
/// Complexity: O(log(N) + M) for M elements returned.
pub(super) fn zrange(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    zrange_generic(ctx, argv, out, 1, false, By::Auto, Dir::Auto)
}

/// ```text
/// ZRANGESTORE dst src min max [BYSCORE | BYLEX] [REV] [LIMIT offset count]
/// ```
/// Complexity: O(log(N) + M) for M elements stored.
pub(super) fn zrangestore(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    // Redis reads the source with `lookupKeyRead`: its lookups count as hits and misses.
    crate::keyspace_stats::count_as_reads();
    zrange_generic(ctx, argv, out, 2, true, By::Auto, Dir::Auto)
}

/// ```text
/// ZREVRANGE key start stop [WITHSCORES]
/// ```
/// Complexity: O(log(N) + M) for M elements returned.
pub(super) fn zrevrange(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    zrange_generic(ctx, argv, out, 1, false, By::Rank, Dir::Reverse)
}

/// ```text
/// ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]
/// ```
/// Complexity: O(log(N) + M) for M elements returned.
pub(super) fn zrangebyscore(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    zrange_generic(ctx, argv, out, 1, false, By::Score, Dir::Forward)
}

/// ```text
/// ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]
/// ```
/// Complexity: O(log(N) + M) for M elements returned.
pub(super) fn zrevrangebyscore(
    ctx: &mut ExecCtx,
    argv: Argv,
    out: &mut dyn ReplySink,
) -> CmdResult {
    zrange_generic(ctx, argv, out, 1, false, By::Score, Dir::Reverse)
}

/// ```text
/// ZRANGEBYLEX key min max [LIMIT offset count]
/// ```
/// Complexity: O(log(N) + M) for M elements returned.
pub(super) fn zrangebylex(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    zrange_generic(ctx, argv, out, 1, false, By::Lex, Dir::Forward)
}

/// ```text
/// ZREVRANGEBYLEX key max min [LIMIT offset count]
/// ```
/// Complexity: O(log(N) + M) for M elements returned.
pub(super) fn zrevrangebylex(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    zrange_generic(ctx, argv, out, 1, false, By::Lex, Dir::Reverse)
}
