//! Point reads (ZCARD, ZSCORE, ZMSCORE, ZRANK, ZREVRANK), counts (ZCOUNT, ZLEXCOUNT),
//! ZRANDMEMBER and ZSCAN.
//!
//! Redis quirks reproduced (7.0.15):
//! - ZCOUNT and ZLEXCOUNT parse the range before looking at the key, so a bad range wins over
//!   WRONGTYPE; ZSCAN checks the cursor first, then the key, then its options (so a missing key
//!   with a bad COUNT still answers an empty scan);
//! - ZMSCORE on a missing key answers one nil per member;
//! - ZRANDMEMBER's count must lie in `-LONG_MAX..=LONG_MAX`, and with WITHSCORES in
//!   `-LONG_MAX/2..=LONG_MAX/2` ("value is out of range"); a negative count samples with
//!   repetition;
//! - a listpack-encoded set's ZSCAN prints an integral score within ±2^62 as an integer (the
//!   listpack stores it as one: `1e17` reads back `100000000000000000`), other scores `%.17g`;
//!   a big set prints every score `%.17g` (`1e+17`). Scores are bulk strings in RESP3 too.
//!
//! `ZRANK`/`ZREVRANK key member WITHSCORE` is Redis 7.2's: the reply is `[rank, score]`, or a
//! null array when the member or the key is missing; a fourth argument other than WITHSCORE is
//! a syntax error and a fifth is an arity error (7.0 answers the arity error for both).

use super::{get_zset, lex_range, pair, pairs_header, score_range};
use crate::args::is;
use crate::bytes::SmallBytes;
use crate::cmd::scan;
use crate::ctx::ExecCtx;
use crate::error::{CmdError, CmdResult};
use crate::types::zset::ZSet;
use rand::RngExt;
use std::collections::HashSet;
use usher_protocol::{errors, Argv, ReplySink};

/// ```text
/// ZCARD key
/// ```
/// Complexity: O(1).
pub(super) fn zcard(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (key, now) = (argv.arg(1), ctx.now_ms);
    let n = get_zset(ctx.db(key), key, now)?.map_or(0, |z| z.len());
    out.int(n as i64);
    Ok(())
}

/// ```text
/// ZSCORE key member
/// ```
/// Complexity: O(1).
pub(super) fn zscore(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (key, now) = (argv.arg(1), ctx.now_ms);
    match get_zset(ctx.db(key), key, now)?.and_then(|z| z.score(argv.arg(2))) {
        Some(score) => out.double(score),
        None => out.null(),
    }
    Ok(())
}

/// ```text
/// ZMSCORE key member [member ...]
/// ```
/// Complexity: O(M) for M members.
pub(super) fn zmscore(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (key, now) = (argv.arg(1), ctx.now_ms);
    let z = get_zset(ctx.db(key), key, now)?;
    out.array(argv.len() - 2);
    for member in argv.iter().skip(2) {
        match z.as_ref().and_then(|z| z.score(member)) {
            Some(score) => out.double(score),
            None => out.null(),
        }
    }
    Ok(())
}

fn zrank_generic(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink, rev: bool) -> CmdResult {
    if argv.len() > 4 {
        let name = if rev { "zrevrank" } else { "zrank" };
        return Err(CmdError::Owned(errors::wrong_arity(name)));
    }
    let withscore = argv.len() == 4;
    if withscore && !is(argv.arg(3), "WITHSCORE") {
        return Err(CmdError::Syntax);
    }
    let (key, member, now) = (argv.arg(1), argv.arg(2), ctx.now_ms);
    let found = get_zset(ctx.db(key), key, now)?.and_then(|z| {
        let rank = z.rank(member)?;
        let rank = if rev { z.len() - 1 - rank } else { rank };
        // The score costs a second lookup, only when asked for.
        Some((rank, if withscore { z.score(member) } else { None }))
    });
    match (found, withscore) {
        (Some((rank, score)), true) => {
            out.array(2);
            out.int(rank as i64);
            out.double(score.expect("a ranked member has a score"));
        }
        (Some((rank, _)), false) => out.int(rank as i64),
        (None, true) => out.null_array(),
        (None, false) => out.null(),
    }
    Ok(())
}

/// ```text
/// ZRANK key member [WITHSCORE]
/// ```
/// Complexity: O(log(N)). WITHSCORE is Redis 7.2's.
pub(super) fn zrank(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    zrank_generic(ctx, argv, out, false)
}

/// ```text
/// ZREVRANK key member [WITHSCORE]
/// ```
/// Complexity: O(log(N)). WITHSCORE is Redis 7.2's.
pub(super) fn zrevrank(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    zrank_generic(ctx, argv, out, true)
}

/// ```text
/// ZCOUNT key min max
/// ```
/// Complexity: O(log(N)).
pub(super) fn zcount(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (min, max) = score_range(argv.arg(2), argv.arg(3))?;
    let (key, now) = (argv.arg(1), ctx.now_ms);
    let n = get_zset(ctx.db(key), key, now)?.map_or(0, |z| z.count_in_score_range(&min, &max));
    out.int(n as i64);
    Ok(())
}

/// ```text
/// ZLEXCOUNT key min max
/// ```
/// Complexity: O(log(N)).
pub(super) fn zlexcount(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (min, max) = lex_range(argv.arg(2), argv.arg(3))?;
    let (key, now) = (argv.arg(1), ctx.now_ms);
    let n = get_zset(ctx.db(key), key, now)?.map_or(0, |z| z.count_in_lex_range(&min, &max));
    out.int(n as i64);
    Ok(())
}

/// ZRANDMEMBER's count: any `long` but `LONG_MIN` (Redis's `getRangeLongFromObjectOrReply`).
fn parse_rand_count(arg: &[u8]) -> Result<i64, CmdError> {
    match usher_protocol::parse::parse_i64(arg) {
        None => Err(CmdError::NotInteger),
        Some(i64::MIN) => Err(CmdError::Static(errors::NOT_IN_LONG_RANGE)),
        Some(n) => Ok(n),
    }
}

/// ```text
/// ZRANDMEMBER key [count [WITHSCORES]]
/// ```
/// Complexity: O(N) for N members returned (with a positive count close to the set's size,
/// O(size)).
pub(super) fn zrandmember(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (key, now) = (argv.arg(1), ctx.now_ms);
    if argv.len() == 2 {
        let z = get_zset(ctx.db(key), key, now)?;
        match z.and_then(|z| z.random_member(&mut rand::rng())) {
            Some((member, _)) => out.bulk(member),
            None => out.null(),
        }
        return Ok(());
    }
    let count = parse_rand_count(argv.arg(2))?;
    if argv.len() > 4 || (argv.len() == 4 && !is(argv.arg(3), "WITHSCORES")) {
        return Err(CmdError::Syntax);
    }
    let withscores = argv.len() == 4;
    // The reply holds 2 * count items: Redis refuses counts that would overflow that.
    if withscores && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
        return Err(CmdError::OutOfRange);
    }
    let Some(z) = get_zset(ctx.db(key), key, now)? else {
        out.array(0);
        return Ok(());
    };
    rand_with_count(z, count, withscores, out);
    Ok(())
}

/// Redis's `zrandmemberWithCountCommand`, past the argument checks.
fn rand_with_count(z: &ZSet, count: i64, withscores: bool, out: &mut dyn ReplySink) {
    let mut rng = rand::rng();
    let (size, unique) = (z.len(), count >= 0);
    let n = count.unsigned_abs() as usize;
    if n == 0 {
        out.array(0);
        return;
    }
    // Case 1: repetitions allowed (or a single member): sample independently.
    if !unique || n == 1 {
        pairs_header(out, n, withscores);
        for _ in 0..n {
            let (member, score) = z.random_member(&mut rng).expect("sets are never empty");
            pair(out, member, score, withscores);
        }
        return;
    }
    // Case 2: at least the whole set.
    if n >= size {
        pairs_header(out, size, withscores);
        for (member, score) in z.iter() {
            pair(out, member, score, withscores);
        }
        return;
    }
    pairs_header(out, n, withscores);
    if n * 3 > size {
        // Case 3: most of the set: choose by a partial shuffle of all ranks.
        let mut ranks: Vec<usize> = (0..size).collect();
        for i in 0..n {
            let j = rng.random_range(i..size);
            ranks.swap(i, j);
        }
        for &rank in &ranks[..n] {
            let (member, score) = z.get_by_rank(rank).expect("rank below len");
            pair(out, member, score, withscores);
        }
    } else {
        // Case 4: a small part of a big set: draw until `n` distinct members came up.
        let mut seen: HashSet<&[u8]> = HashSet::with_capacity(n);
        while seen.len() < n {
            let (member, score) = z.random_member(&mut rng).expect("sets are never empty");
            if seen.insert(member) {
                pair(out, member, score, withscores);
            }
        }
    }
}

/// How a listpack-encoded set prints a score in ZSCAN: the listpack holds integral scores
/// within Redis's `double2ll` range as integers, everything else as `%.17g` text.
fn listpack_score_text(score: f64) -> Vec<u8> {
    // (double)(LLONG_MAX / 2), which rounds up to 2^62.
    const LIMIT: f64 = (i64::MAX / 2) as f64;
    if (-LIMIT..=LIMIT).contains(&score) && score == (score as i64) as f64 {
        return itoa::Buffer::new().format(score as i64).as_bytes().to_vec();
    }
    let mut buf = Vec::with_capacity(24);
    usher_protocol::double::write_g17(score, &mut buf);
    buf
}

/// ```text
/// ZSCAN key cursor [MATCH pattern] [COUNT count]
/// ```
/// Complexity: O(1) per call (a listpack-encoded set answers in one call), O(N) for a full
/// iteration.
pub(super) fn zscan(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let cursor = scan::parse_cursor(argv.arg(2))?;
    let (key, now) = (argv.arg(1), ctx.now_ms);
    let Some(z) = get_zset(ctx.db(key), key, now)? else {
        out.array(2);
        out.bulk(b"0");
        out.array(0);
        return Ok(());
    };
    let opts = scan::parse_options(argv, 3, false)?;
    let listpack = z.is_listpack();
    // The scan callback's borrows end with it: copy the (few) matches out.
    let mut found: Vec<(SmallBytes, f64)> = Vec::new();
    let next = z.scan(cursor, opts.count, |member, score| {
        if opts.matches(member) {
            found.push((SmallBytes::new(member), score));
        }
    });
    out.array(2);
    out.bulk(itoa::Buffer::new().format(next).as_bytes());
    out.array(found.len() * 2);
    for (member, score) in found {
        out.bulk(&member);
        if listpack {
            out.bulk(&listpack_score_text(score));
        } else {
            out.bulk_g17(score);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::listpack_score_text;

    #[test]
    fn listpack_scores_print_like_redis_listpack_entries() {
        let text = |v: f64| String::from_utf8(listpack_score_text(v)).unwrap();
        // Observed on redis-server 7.0.15 (ZADD then ZSCAN of a small set).
        assert_eq!(text(1e17), "100000000000000000");
        assert_eq!(text(2e18), "2000000000000000000");
        assert_eq!(text(4611686018427387904.0), "4611686018427387904");
        assert_eq!(text(1.5), "1.5");
        assert_eq!(text(0.0), "0");
        assert_eq!(text(1e19), "1e+19");
        assert_eq!(text(f64::INFINITY), "inf");
        assert_eq!(text(-3.0), "-3");
    }
}
