//! ZUNION, ZINTER, ZDIFF, their STORE forms, and ZINTERCARD: Redis 7.0.15's
//! `zunionInterDiffGenericCommand`.
//!
//! Inputs may be sorted sets or plain sets (every member scoring 1). Order of work, which
//! decides which error wins: numkeys ("at least 1 input key is needed for '`<cmd>`' command"
//! below 1, a syntax error when it exceeds the arguments), then every input key's type
//! (WRONGTYPE), then the options (WEIGHTS needs one weight per key, "weight value is not a
//! float"; AGGREGATE SUM|MIN|MAX; WITHSCORES only without a destination; ZINTERCARD's LIMIT,
//! "LIMIT can't be negative"; ZDIFF and ZINTERCARD take no WEIGHTS or AGGREGATE). Options may
//! repeat; the last one wins.
//!
//! Scores are computed exactly as Redis computes them, since results must match to the bit:
//! - UNION and INTER visit the inputs smallest first (a stable sort by cardinality), so a
//!   member's SUM is added up in that order;
//! - an input's contribution is `weight * score`; a member's *first* contribution counts as 0
//!   when it is NaN (`0 * inf`), while later NaN contributions go to the aggregate as they are:
//!   SUM turns a NaN total into 0, MIN and MAX ignore them (`val < cur` is false);
//! - DIFF keeps the first set's scores and ignores the others' entirely.
//!
//! A STORE result replaces the destination (its TTL goes too) or deletes it when empty. It is
//! a listpack when it fits the limits, with `-0` then stored as `0` (Redis builds a skiplist
//! and converts it, writing every score into the listpack).
//!
//! Inputs are read one at a time (each lookup borrows the context, and inputs may sit on
//! different shards), so INTER and DIFF copy the first input's members and then filter them
//! against each other input in turn; per member, the aggregation happens in the same order as
//! Redis's element-by-element loop, so the result is the same.

use super::{limits, pair, pairs_header, store_result};
use crate::args::{self, is};
use crate::bytes::SmallBytes;
use crate::ctx::ExecCtx;
use crate::error::{CmdError, CmdResult};
use crate::types::set::Set;
use crate::types::zset::ZSet;
use crate::value::Value;
use std::collections::HashMap;
use usher_protocol::{errors, Argv, ReplySink};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Op {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

/// Redis's `zunionInterAggregate`.
#[inline]
fn aggregate(target: &mut f64, val: f64, how: Aggregate) {
    match how {
        Aggregate::Sum => {
            *target += val;
            // inf + -inf: Redis keeps the convention that the result is 0.
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggregate::Min => {
            if val < *target {
                *target = val;
            }
        }
        Aggregate::Max => {
            if val > *target {
                *target = val;
            }
        }
    }
}

/// A member's first contribution: `weight * score`, NaN counting as 0.
#[inline]
fn weighted(weight: f64, score: f64) -> f64 {
    let v = weight * score;
    if v.is_nan() {
        0.0
    } else {
        v
    }
}

/// One input of a set operation.
enum Input<'a> {
    ZSet(&'a ZSet),
    /// A plain set: every member scores 1.
    Set(&'a Set),
}

impl Input<'_> {
    fn len(&self) -> usize {
        match self {
            Input::ZSet(z) => z.len(),
            Input::Set(s) => s.len(),
        }
    }

    fn for_each(&self, mut f: impl FnMut(&[u8], f64)) {
        match self {
            Input::ZSet(z) => z.iter().for_each(|(m, s)| f(m, s)),
            Input::Set(s) => set_for_each(s, |m| f(m, 1.0)),
        }
    }

    fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            Input::ZSet(z) => z.score(member),
            Input::Set(s) => set_contains(s, member).then_some(1.0),
        }
    }
}

/// Visits a plain set's members (a plain set counts as a sorted set with every score 1).
fn set_for_each(set: &Set, mut f: impl FnMut(&[u8])) {
    for member in set.iter() {
        member.with_bytes(&mut f);
    }
}

/// Whether a plain set holds `member` (see [`set_for_each`]).
fn set_contains(set: &Set, member: &[u8]) -> bool {
    set.contains(member)
}

/// The input under `key`: `None` when the key is missing, WRONGTYPE unless it is a sorted set
/// or a set. The first look is a source read (Redis's `lookupKeyRead`), counted as a keyspace
/// hit or miss in the STORE forms too; later passes over the same inputs use [`input_again`].
fn input<'a>(ctx: &'a mut ExecCtx, key: &[u8]) -> Result<Option<Input<'a>>, CmdError> {
    crate::keyspace_stats::count_as_reads();
    let now = ctx.now_ms;
    as_input(ctx.db(key).get(key, now))
}

/// [`input`] for a key already looked up in this command: counts no second hit or miss.
fn input_again<'a>(ctx: &'a mut ExecCtx, key: &[u8]) -> Result<Option<Input<'a>>, CmdError> {
    let now = ctx.now_ms;
    as_input(ctx.db(key).get_again(key, now))
}

fn as_input(value: Option<&mut Value>) -> Result<Option<Input<'_>>, CmdError> {
    match value {
        None => Ok(None),
        Some(Value::ZSet(z)) => Ok(Some(Input::ZSet(z))),
        Some(Value::Set(s)) => Ok(Some(Input::Set(s))),
        Some(_) => Err(CmdError::WrongType),
    }
}

/// The options after the keys.
struct Options {
    weights: Vec<f64>,
    how: Aggregate,
    withscores: bool,
    /// ZINTERCARD's LIMIT; 0 means none.
    limit: usize,
}

fn parse_options(
    argv: Argv,
    mut j: usize,
    setnum: usize,
    op: Op,
    has_dst: bool,
    card_only: bool,
) -> Result<Options, CmdError> {
    let mut o = Options {
        weights: vec![1.0; setnum],
        how: Aggregate::Sum,
        withscores: false,
        limit: 0,
    };
    let scores_ops = op != Op::Diff && !card_only;
    while j < argv.len() {
        let remaining = argv.len() - j;
        let opt = argv.arg(j);
        if scores_ops && remaining > setnum && is(opt, "WEIGHTS") {
            for (i, w) in o.weights.iter_mut().enumerate() {
                *w = crate::num::parse_f64(argv.arg(j + 1 + i))
                    .ok_or(CmdError::Static(errors::WEIGHT_NOT_FLOAT))?;
            }
            j += 1 + setnum;
        } else if scores_ops && remaining >= 2 && is(opt, "AGGREGATE") {
            let how = argv.arg(j + 1);
            o.how = if is(how, "SUM") {
                Aggregate::Sum
            } else if is(how, "MIN") {
                Aggregate::Min
            } else if is(how, "MAX") {
                Aggregate::Max
            } else {
                return Err(CmdError::Syntax);
            };
            j += 2;
        } else if !has_dst && !card_only && is(opt, "WITHSCORES") {
            o.withscores = true;
            j += 1;
        } else if card_only && remaining >= 2 && is(opt, "LIMIT") {
            o.limit = match usher_protocol::parse::parse_i64(argv.arg(j + 1)) {
                Some(n) if n >= 0 => n as usize,
                _ => return Err(CmdError::Static(errors::LIMIT_NEGATIVE)),
            };
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    Ok(o)
}

/// Input positions smallest first; ties keep argument order (glibc's `qsort` is a stable
/// merge sort for arrays this small, and Redis's sums depend on the order).
fn by_cardinality(lens: &[usize]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..lens.len()).collect();
    order.sort_by_key(|&i| lens[i]);
    order
}

/// The result of `op` over the inputs at `keys`, unordered.
fn compute(
    ctx: &mut ExecCtx,
    keys: &[&[u8]],
    lens: &[usize],
    op: Op,
    o: &Options,
) -> Result<Vec<(SmallBytes, f64)>, CmdError> {
    let exists = "a non-empty input was seen a moment ago";
    match op {
        Op::Union => {
            let order = by_cardinality(lens);
            let largest = order.last().map_or(0, |&i| lens[i]);
            let mut acc: HashMap<SmallBytes, f64, foldhash::fast::RandomState> =
                HashMap::with_capacity_and_hasher(largest, Default::default());
            for &i in order.iter().filter(|&&i| lens[i] > 0) {
                let w = o.weights[i];
                input_again(ctx, keys[i])?.expect(exists).for_each(|m, s| {
                    let v = weighted(w, s);
                    match acc.get_mut(m) {
                        Some(total) => aggregate(total, v, o.how),
                        None => {
                            acc.insert(SmallBytes::new(m), v);
                        }
                    }
                });
            }
            Ok(acc.into_iter().collect())
        }
        Op::Inter => {
            let order = by_cardinality(lens);
            let first = order[0];
            if lens[first] == 0 {
                return Ok(Vec::new());
            }
            let mut cands = Vec::with_capacity(lens[first]);
            let w = o.weights[first];
            input_again(ctx, keys[first])?
                .expect(exists)
                .for_each(|m, s| cands.push((SmallBytes::new(m), weighted(w, s))));
            for &j in &order[1..] {
                if cands.is_empty() {
                    break;
                }
                let w = o.weights[j];
                let other = input_again(ctx, keys[j])?.expect(exists);
                cands.retain_mut(|(m, total)| match other.score(m) {
                    Some(s) => {
                        aggregate(total, s * w, o.how);
                        true
                    }
                    None => false,
                });
            }
            Ok(cands)
        }
        Op::Diff => {
            if lens[0] == 0 {
                return Ok(Vec::new());
            }
            let mut cands = Vec::with_capacity(lens[0]);
            input_again(ctx, keys[0])?
                .expect(exists)
                .for_each(|m, s| cands.push((SmallBytes::new(m), s)));
            for key in &keys[1..] {
                if cands.is_empty() {
                    break;
                }
                if let Some(other) = input_again(ctx, key)? {
                    cands.retain(|(m, _)| other.score(m).is_none());
                }
            }
            Ok(cands)
        }
    }
}

/// Sorts a result into Redis's order: by score, ties by member bytes.
fn sort_result(result: &mut [(SmallBytes, f64)]) {
    result.sort_unstable_by(|a, b| {
        a.1.partial_cmp(&b.1)
            .expect("results never hold NaN")
            .then_with(|| a.0.cmp(&b.0))
    });
}

/// Builds the sorted set a STORE writes from a sorted result.
fn build(result: &[(SmallBytes, f64)], ctx: &ExecCtx) -> ZSet {
    let lim = limits(ctx);
    let fits = result.len() <= lim.max_listpack_entries
        && result
            .iter()
            .all(|(m, _)| m.len() <= lim.max_listpack_value);
    let mut z = ZSet::new();
    for (member, score) in result {
        // A listpack result stores -0 as 0 (IEEE: -0.0 + 0.0 == 0.0).
        let score = if fits { *score + 0.0 } else { *score };
        let prev = z.insert(member, score, &lim);
        debug_assert!(prev.is_none(), "results hold each member once");
    }
    debug_assert_eq!(z.is_listpack(), fits);
    z
}

/// The shared body of the seven commands. `dst` is the STORE destination; `name` is the
/// command's name for the numkeys error.
#[allow(clippy::too_many_arguments)]
fn setop(
    ctx: &mut ExecCtx,
    argv: Argv,
    out: &mut dyn ReplySink,
    dst: Option<&[u8]>,
    numkeys_idx: usize,
    op: Op,
    card_only: bool,
    name: &str,
) -> CmdResult {
    let setnum = args::int(argv.arg(numkeys_idx))?;
    if setnum < 1 {
        return Err(CmdError::Owned(errors::fill(
            errors::AT_LEAST_ONE_KEY,
            name,
        )));
    }
    let first_key = numkeys_idx + 1;
    if setnum > (argv.len() - first_key) as i64 {
        return Err(CmdError::Syntax);
    }
    let setnum = setnum as usize;
    let keys: Vec<&[u8]> = (first_key..first_key + setnum)
        .map(|i| argv.arg(i))
        .collect();
    let mut lens = Vec::with_capacity(setnum);
    for key in &keys {
        lens.push(input(ctx, key)?.map_or(0, |i| i.len()));
    }
    let o = parse_options(
        argv,
        first_key + setnum,
        setnum,
        op,
        dst.is_some(),
        card_only,
    )?;
    let mut result = compute(ctx, &keys, &lens, op, &o)?;
    if card_only {
        let n = match o.limit {
            0 => result.len(),
            limit => result.len().min(limit),
        };
        out.int(n as i64);
        return Ok(());
    }
    sort_result(&mut result);
    match dst {
        Some(dst) => {
            let z = build(&result, ctx);
            let event = match op {
                Op::Union => "zunionstore",
                Op::Inter => "zinterstore",
                Op::Diff => "zdiffstore",
            };
            store_result(ctx, dst, z, out, event);
        }
        None => {
            pairs_header(out, result.len(), o.withscores);
            for (member, score) in &result {
                pair(out, member, *score, o.withscores);
            }
        }
    }
    Ok(())
}

/// ```text
/// ZUNION numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM | MIN | MAX]
///     [WITHSCORES]
/// ```
/// Complexity: O(N) + O(M log(M)) for N input elements and M result elements.
pub(super) fn zunion(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    setop(ctx, argv, out, None, 1, Op::Union, false, "zunion")
}

/// ```text
/// ZINTER numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM | MIN | MAX]
///     [WITHSCORES]
/// ```
/// Complexity: O(N K) + O(M log(M)) for the smallest input N, K inputs, M result elements.
pub(super) fn zinter(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    setop(ctx, argv, out, None, 1, Op::Inter, false, "zinter")
}

/// ```text
/// ZDIFF numkeys key [key ...] [WITHSCORES]
/// ```
/// Complexity: O(L + (N - K) log(N)) for L input elements, N in the first input, K results.
pub(super) fn zdiff(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    setop(ctx, argv, out, None, 1, Op::Diff, false, "zdiff")
}

/// ```text
/// ZUNIONSTORE destination numkeys key [key ...] [WEIGHTS weight [weight ...]]
///     [AGGREGATE SUM | MIN | MAX]
/// ```
/// Complexity: O(N) + O(M log(M)) for N input elements and M result elements.
pub(super) fn zunionstore(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    setop(
        ctx,
        argv,
        out,
        Some(argv.arg(1)),
        2,
        Op::Union,
        false,
        "zunionstore",
    )
}

/// ```text
/// ZINTERSTORE destination numkeys key [key ...] [WEIGHTS weight [weight ...]]
///     [AGGREGATE SUM | MIN | MAX]
/// ```
/// Complexity: O(N K) + O(M log(M)) for the smallest input N, K inputs, M result elements.
pub(super) fn zinterstore(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    setop(
        ctx,
        argv,
        out,
        Some(argv.arg(1)),
        2,
        Op::Inter,
        false,
        "zinterstore",
    )
}

/// ```text
/// ZDIFFSTORE destination numkeys key [key ...]
/// ```
/// Complexity: O(L + (N - K) log(N)) for L input elements, N in the first input, K results.
pub(super) fn zdiffstore(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    setop(
        ctx,
        argv,
        out,
        Some(argv.arg(1)),
        2,
        Op::Diff,
        false,
        "zdiffstore",
    )
}

/// ```text
/// ZINTERCARD numkeys key [key ...] [LIMIT limit]
/// ```
/// Complexity: O(N K) for the smallest input N and K inputs.
pub(super) fn zintercard(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    setop(ctx, argv, out, None, 1, Op::Inter, true, "zintercard")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregates_follow_redis_nan_conventions() {
        let mut t = f64::INFINITY;
        aggregate(&mut t, f64::NEG_INFINITY, Aggregate::Sum);
        assert_eq!(t, 0.0, "inf + -inf sums to 0");
        let mut t = 1.0;
        aggregate(&mut t, f64::NAN, Aggregate::Min);
        assert_eq!(t, 1.0, "MIN ignores a NaN contribution");
        aggregate(&mut t, f64::NAN, Aggregate::Max);
        assert_eq!(t, 1.0, "MAX ignores a NaN contribution");
        assert_eq!(
            weighted(0.0, f64::INFINITY),
            0.0,
            "a NaN first contribution is 0"
        );
        let mut t = 0.0;
        aggregate(&mut t, -0.0, Aggregate::Min);
        assert!(t.is_sign_positive(), "-0 is not below 0");
    }

    #[test]
    fn equal_cardinalities_keep_argument_order() {
        assert_eq!(by_cardinality(&[3, 1, 3, 1, 0]), vec![4, 1, 3, 0, 2]);
    }
}
