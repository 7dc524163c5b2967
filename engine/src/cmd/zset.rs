//! The sorted-set family: ZADD and friends, ranges, pops, random members, ZSCAN and the set
//! operations, on top of [`crate::types::zset::ZSet`].
//!
//! Semantics, argument validation order and error texts follow Redis 7.0.15's `t_zset.c`,
//! quirks included (each submodule lists the ones it reproduces). Every handler parses and
//! validates all of its arguments, then looks the key up (so a syntax error wins over
//! WRONGTYPE exactly where Redis's does), then acts, then replies.
//!
//! Submodules: `write` (ZADD, ZINCRBY, ZREM, ZREMRANGEBY*), `read` (point reads, counts,
//! ZRANDMEMBER, ZSCAN), `range` (the ZRANGE family and ZRANGESTORE), [`pop`] (ZPOPMIN,
//! ZPOPMAX, ZMPOP and the pop functions the blocking variants reuse), `setops` (ZUNION,
//! ZINTER, ZDIFF, their STORE forms and ZINTERCARD).
//!
//! Rules every write follows:
//! - a key never holds an empty sorted set: the command that removes the last member deletes
//!   the key;
//! - a command that adds members calls [`ExecCtx::ready`] so clients blocked in BZPOPMIN and
//!   friends are served;
//! - a `*STORE` command replaces its destination whatever it held (TTL included), or deletes it
//!   when the result is empty;
//! - `-0` is stored as `0` whenever the member ends up in a listpack, as Redis's listpack does
//!   (see `storable_score`).
//!
//! One extension over 7.0: `ZRANK`/`ZREVRANK ... WITHSCORE` (Redis 7.2).

pub mod pop;
mod range;
mod read;
mod setops;
mod write;

use crate::command::{
    cmd, numkeys_positions, CommandSpec, EngineHandler, Flags, Group, KeyPositions, WarmHint,
};
use crate::ctx::ExecCtx;
use crate::db::Db;
use crate::error::{CmdError, CmdResult};
use crate::keyspace_events as ev;
use crate::types::zset::{LexBound, ScoreBound, ZSet, ZSetLimits};
use crate::value::Value;
use usher_protocol::{errors, Argv, ReplySink};

pub use pop::{parse_zmpop, pop_first, pop_min_max, End, PopReply, ZmpopArgs};

type Spec = CommandSpec<EngineHandler>;

/// The sorted set under `key`, if any; WRONGTYPE if the key holds something else.
pub(crate) fn get_zset<'d>(
    db: &'d mut Db,
    key: &[u8],
    now_ms: i64,
) -> Result<Option<&'d mut ZSet>, CmdError> {
    match db.get(key, now_ms) {
        None => Ok(None),
        Some(Value::ZSet(z)) => Ok(Some(&mut **z)),
        Some(_) => Err(CmdError::WrongType),
    }
}

/// ZADD with an argument vector built by another command (GEOADD turns its coordinates into
/// scores and hands the rest to ZADD, as Redis does).
pub(crate) fn zadd_argv(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    write::zadd(ctx, argv, out)
}

/// The encoding thresholds from the configuration.
pub(crate) fn limits(ctx: &ExecCtx) -> ZSetLimits {
    ZSetLimits {
        max_listpack_entries: ctx.config.zset_max_listpack_entries,
        max_listpack_value: ctx.config.zset_max_listpack_value,
    }
}

/// The score to hand [`ZSet::insert`] so the set reads back as Redis's would.
///
/// Redis's listpack stores a score that is an integer as an integer, and `-0.0` passes that
/// test as `0`; a skiplist keeps the double as is. So `-0` becomes `0` exactly when the
/// insertion leaves the set a listpack: an update of a listpack member (`exists`), or a new
/// member that neither takes the set past `zset-max-listpack-entries` nor is longer than
/// `zset-max-listpack-value` (Redis's `zsetAdd` converts before inserting in those cases).
fn storable_score(z: &ZSet, member: &[u8], exists: bool, score: f64, lim: &ZSetLimits) -> f64 {
    let stays_listpack = z.is_listpack()
        && (exists
            || (z.len() < lim.max_listpack_entries && member.len() <= lim.max_listpack_value));
    if stays_listpack {
        // IEEE: -0.0 + 0.0 == +0.0, every other value is unchanged.
        score + 0.0
    } else {
        score
    }
}

/// Inserts a member known to be absent the way Redis's `zsetAdd` would (encoding conversion
/// and `-0` included). Used to build `ZRANGESTORE` destinations element by element.
pub(crate) fn add_new(z: &mut ZSet, member: &[u8], score: f64, lim: &ZSetLimits) {
    let stored = storable_score(z, member, false, score, lim);
    let prev = z.insert(member, stored, lim);
    debug_assert!(prev.is_none(), "add_new of a present member");
}

/// Writes the array header of `n` results: `2n` flat items in RESP2 with scores, else `n`.
fn pairs_header(out: &mut dyn ReplySink, n: usize, withscores: bool) {
    if withscores && !out.is_resp3() {
        out.array(n * 2);
    } else {
        out.array(n);
    }
}

/// Writes one result: the member, and with scores its score (RESP3 nests `[member, score]`).
fn pair(out: &mut dyn ReplySink, member: &[u8], score: f64, withscores: bool) {
    if withscores && out.is_resp3() {
        out.array(2);
    }
    out.bulk(member);
    if withscores {
        out.double(score);
    }
}

/// A score range (`ZCOUNT min max`), or Redis's "min or max is not a float".
fn score_range(min: &[u8], max: &[u8]) -> Result<(ScoreBound, ScoreBound), CmdError> {
    let bound = |arg: &[u8]| -> Result<ScoreBound, CmdError> {
        let b = crate::num::parse_score_bound(arg)
            .ok_or(CmdError::Static(errors::MIN_MAX_NOT_FLOAT))?;
        Ok(if b.exclusive {
            ScoreBound::Exclusive(b.value)
        } else {
            ScoreBound::Inclusive(b.value)
        })
    };
    Ok((bound(min)?, bound(max)?))
}

/// One lex bound (Redis's `zslParseLexRangeItem`): `-`, `+`, `(member`, `[member`. Like
/// Redis, which reads the argument as a C string, `+` and `-` may be followed by a NUL byte.
fn lex_bound(arg: &[u8]) -> Option<LexBound> {
    let alone = arg.get(1).is_none_or(|&b| b == 0);
    match arg.first()? {
        b'+' if alone => Some(LexBound::Max),
        b'-' if alone => Some(LexBound::Min),
        b'(' => Some(LexBound::Exclusive(arg[1..].to_vec())),
        b'[' => Some(LexBound::Inclusive(arg[1..].to_vec())),
        _ => None,
    }
}

/// A lex range (`ZLEXCOUNT min max`), or Redis's "min or max not valid string range item".
fn lex_range(min: &[u8], max: &[u8]) -> Result<(LexBound, LexBound), CmdError> {
    match (lex_bound(min), lex_bound(max)) {
        (Some(min), Some(max)) => Ok((min, max)),
        _ => Err(CmdError::Static(errors::MIN_MAX_NOT_STRING_RANGE)),
    }
}

/// Records a change of `n` elements to `key` (Redis adds each to `server.dirty`).
fn changed(ctx: &mut ExecCtx, key: &[u8], n: usize) {
    debug_assert!(n > 0);
    ctx.modified(key);
    ctx.effects.dirty += n as u64 - 1;
}

/// Replaces `dst` with `z`, or deletes `dst` when `z` is empty, and replies the size: the
/// ending of every `*STORE` command. The new value has no TTL.
pub(crate) fn store_result(
    ctx: &mut ExecCtx,
    dst: &[u8],
    z: ZSet,
    out: &mut dyn ReplySink,
    event: &'static str,
) {
    let (now, n) = (ctx.now_ms, z.len());
    if n == 0 {
        if ctx.db(dst).delete(dst, now) {
            ctx.modified(dst);
            ctx.notify(ev::GENERIC, "del", dst);
        }
    } else {
        ctx.db(dst).set(dst, Value::ZSet(Box::new(z)));
        ctx.modified(dst);
        ctx.notify(ev::ZSET, event, dst);
        ctx.ready(dst);
    }
    out.int(n as i64);
}

/// Keys of `ZUNION numkeys key ...`, `ZMPOP`, `ZINTERCARD`, `ZDIFF`.
fn keys_numkeys_at_1(argv: Argv<'_>) -> Option<KeyPositions> {
    numkeys_positions(argv, 1, false)
}

/// Keys of `ZUNIONSTORE dst numkeys key ...` and the other STORE forms.
fn keys_dst_numkeys_at_2(argv: Argv<'_>) -> Option<KeyPositions> {
    numkeys_positions(argv, 2, true)
}

const RO: Flags = Flags::READONLY;
const RW: Flags = Flags::WRITE;
const FAST: Flags = Flags::FAST;
const DENYOOM: Flags = Flags::DENYOOM;
const Z: Group = Group::SortedSet;

/// Complexity of the deprecated range commands, as Redis 7.0 words it.
const RANGE_LIMIT_COMPLEXITY: &str = "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).";
const REMRANGE_COMPLEXITY: &str = "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.";

pub static COMMANDS: &[Spec] = &[
    cmd("ZADD", -4, RW.union(DENYOOM).union(FAST), write::zadd as EngineHandler)
        .keys(1, 1, 1)
        .doc(Z, "1.2.0", "Add one or more members to a sorted set, or update its score if it already exists", "O(log(N)) for each item added, where N is the number of elements in the sorted set."),
    cmd("ZINCRBY", 4, RW.union(DENYOOM).union(FAST), write::zincrby as EngineHandler)
        .keys(1, 1, 1)
        .doc(Z, "1.2.0", "Increment the score of a member in a sorted set", "O(log(N)) where N is the number of elements in the sorted set."),
    cmd("ZREM", -3, RW.union(FAST), write::zrem as EngineHandler)
        .keys(1, 1, 1)
        .warms(WarmHint { key: 1, member: 2, rank: true })
        .doc(Z, "1.2.0", "Remove one or more members from a sorted set", "O(M*log(N)) with N being the number of elements in the sorted set and M the number of elements to be removed."),
    cmd("ZREMRANGEBYSCORE", 4, RW, write::zremrangebyscore as EngineHandler)
        .keys(1, 1, 1)
        .doc(Z, "1.2.0", "Remove all members in a sorted set within the given scores", REMRANGE_COMPLEXITY),
    cmd("ZREMRANGEBYRANK", 4, RW, write::zremrangebyrank as EngineHandler)
        .keys(1, 1, 1)
        .doc(Z, "2.0.0", "Remove all members in a sorted set within the given indexes", REMRANGE_COMPLEXITY),
    cmd("ZREMRANGEBYLEX", 4, RW, write::zremrangebylex as EngineHandler)
        .keys(1, 1, 1)
        .doc(Z, "2.8.9", "Remove all members in a sorted set between the given lexicographical range", REMRANGE_COMPLEXITY),
    cmd("ZCARD", 2, RO.union(FAST), read::zcard as EngineHandler)
        .keys(1, 1, 1)
        .doc(Z, "1.2.0", "Get the number of members in a sorted set", "O(1)"),
    cmd("ZSCORE", 3, RO.union(FAST), read::zscore as EngineHandler)
        .keys(1, 1, 1)
        .warms(WarmHint { key: 1, member: 2, rank: false })
        .doc(Z, "1.2.0", "Get the score associated with the given member in a sorted set", "O(1)"),
    cmd("ZMSCORE", -3, RO.union(FAST), read::zmscore as EngineHandler)
        .keys(1, 1, 1)
        .doc(Z, "6.2.0", "Get the score associated with the given members in a sorted set", "O(N) where N is the number of members being requested."),
    // Arity -3 rather than 7.0's 3: the optional WITHSCORE of Redis 7.2.
    cmd("ZRANK", -3, RO.union(FAST), read::zrank as EngineHandler)
        .keys(1, 1, 1)
        .warms(WarmHint { key: 1, member: 2, rank: true })
        .doc(Z, "2.0.0", "Determine the index of a member in a sorted set", "O(log(N))"),
    cmd("ZREVRANK", -3, RO.union(FAST), read::zrevrank as EngineHandler)
        .keys(1, 1, 1)
        .warms(WarmHint { key: 1, member: 2, rank: true })
        .doc(Z, "2.0.0", "Determine the index of a member in a sorted set, with scores ordered from high to low", "O(log(N))"),
    cmd("ZCOUNT", 4, RO.union(FAST), read::zcount as EngineHandler)
        .keys(1, 1, 1)
        .doc(Z, "2.0.0", "Count the members in a sorted set with scores within the given values", "O(log(N)) with N being the number of elements in the sorted set."),
    cmd("ZLEXCOUNT", 4, RO.union(FAST), read::zlexcount as EngineHandler)
        .keys(1, 1, 1)
        .doc(Z, "2.8.9", "Count the number of members in a sorted set between a given lexicographical range", "O(log(N)) with N being the number of elements in the sorted set."),
    cmd("ZRANGE", -4, RO, range::zrange as EngineHandler)
        .keys(1, 1, 1)
        .doc(Z, "1.2.0", "Return a range of members in a sorted set", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned."),
    cmd("ZRANGESTORE", -5, RW.union(DENYOOM), range::zrangestore as EngineHandler)
        .keys(1, 2, 1)
        .doc(Z, "6.2.0", "Store a range of members from sorted set into another key", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements stored into the destination key."),
    cmd("ZREVRANGE", -4, RO, range::zrevrange as EngineHandler)
        .keys(1, 1, 1)
        .doc(Z, "1.2.0", "Return a range of members in a sorted set, by index, with scores ordered from high to low", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned."),
    cmd("ZRANGEBYSCORE", -4, RO, range::zrangebyscore as EngineHandler)
        .keys(1, 1, 1)
        .doc(Z, "1.0.5", "Return a range of members in a sorted set, by score", RANGE_LIMIT_COMPLEXITY),
    cmd("ZREVRANGEBYSCORE", -4, RO, range::zrevrangebyscore as EngineHandler)
        .keys(1, 1, 1)
        .doc(Z, "2.2.0", "Return a range of members in a sorted set, by score, with scores ordered from high to low", RANGE_LIMIT_COMPLEXITY),
    cmd("ZRANGEBYLEX", -4, RO, range::zrangebylex as EngineHandler)
        .keys(1, 1, 1)
        .doc(Z, "2.8.9", "Return a range of members in a sorted set, by lexicographical range", RANGE_LIMIT_COMPLEXITY),
    cmd("ZREVRANGEBYLEX", -4, RO, range::zrevrangebylex as EngineHandler)
        .keys(1, 1, 1)
        .doc(Z, "2.8.9", "Return a range of members in a sorted set, by lexicographical range, ordered from higher to lower strings.", RANGE_LIMIT_COMPLEXITY),
    cmd("ZPOPMIN", -2, RW.union(FAST), pop::zpopmin as EngineHandler)
        .keys(1, 1, 1)
        .doc(Z, "5.0.0", "Remove and return members with the lowest scores in a sorted set", "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped."),
    cmd("ZPOPMAX", -2, RW.union(FAST), pop::zpopmax as EngineHandler)
        .keys(1, 1, 1)
        .doc(Z, "5.0.0", "Remove and return members with the highest scores in a sorted set", "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped."),
    cmd("ZMPOP", -4, RW, pop::zmpop as EngineHandler)
        .movable_keys(keys_numkeys_at_1)
        .doc(Z, "7.0.0", "Remove and return members with scores in a sorted set", "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped."),
    cmd("ZRANDMEMBER", -2, RO, read::zrandmember as EngineHandler)
        .keys(1, 1, 1)
        .doc(Z, "6.2.0", "Get one or multiple random elements from a sorted set", "O(N) where N is the number of elements returned"),
    cmd("ZSCAN", -3, RO, read::zscan as EngineHandler)
        .keys(1, 1, 1)
        .doc(Z, "2.8.0", "Incrementally iterate sorted sets elements and associated scores", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.."),
    cmd("ZUNION", -3, RO, setops::zunion as EngineHandler)
        .movable_keys(keys_numkeys_at_1)
        .doc(Z, "6.2.0", "Add multiple sorted sets", "O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set."),
    cmd("ZINTER", -3, RO, setops::zinter as EngineHandler)
        .movable_keys(keys_numkeys_at_1)
        .doc(Z, "6.2.0", "Intersect multiple sorted sets", "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set."),
    cmd("ZDIFF", -3, RO, setops::zdiff as EngineHandler)
        .movable_keys(keys_numkeys_at_1)
        .doc(Z, "6.2.0", "Subtract multiple sorted sets", "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set."),
    cmd("ZUNIONSTORE", -4, RW.union(DENYOOM), setops::zunionstore as EngineHandler)
        .keys(1, 1, 1)
        .movable_keys(keys_dst_numkeys_at_2)
        .doc(Z, "2.0.0", "Add multiple sorted sets and store the resulting sorted set in a new key", "O(N)+O(M log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set."),
    cmd("ZINTERSTORE", -4, RW.union(DENYOOM), setops::zinterstore as EngineHandler)
        .keys(1, 1, 1)
        .movable_keys(keys_dst_numkeys_at_2)
        .doc(Z, "2.0.0", "Intersect multiple sorted sets and store the resulting sorted set in a new key", "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set."),
    cmd("ZDIFFSTORE", -4, RW.union(DENYOOM), setops::zdiffstore as EngineHandler)
        .keys(1, 1, 1)
        .movable_keys(keys_dst_numkeys_at_2)
        .doc(Z, "6.2.0", "Subtract multiple sorted sets and store the resulting sorted set in a new key", "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set."),
    cmd("ZINTERCARD", -3, RO, setops::zintercard as EngineHandler)
        .movable_keys(keys_numkeys_at_1)
        .doc(Z, "7.0.0", "Intersect multiple sorted sets and return the cardinality of the result", "O(N*K) worst case with N being the smallest input sorted set, K being the number of input sorted sets."),
];

#[cfg(test)]
mod tests;
