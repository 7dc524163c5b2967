//! The blocking sorted-set pops: BZPOPMIN, BZPOPMAX and BZMPOP.
//!
//! Each first behaves like its non-blocking twin (the pop code of `cmd::zset::pop`); when every
//! key is missing it blocks, and a ZADD (or any write that fills one of its keys) serves it, in
//! arrival order, through the same pop function (see `crate::blocking`). Inside MULTI or a
//! script an empty result is answered at once with a null array, as Redis does.

use super::blocking_list::deadline;
use super::zset::pop::{parse_zmpop, pop_first, pop_min_max, End, PopReply};
use crate::blocking::block_or_answer;
use crate::command::{
    cmd, numkeys_positions, CommandSpec, EngineHandler, Flags, Group, KeyPositions,
};
use crate::ctx::{ExecCtx, Serve, TimeoutReply};
use crate::error::{CmdError, CmdResult};
use usher_protocol::{Argv, OwnedArgv, ReplySink};

type Spec = CommandSpec<EngineHandler>;

fn bzpop_end(name: &[u8]) -> End {
    if name.eq_ignore_ascii_case(b"BZPOPMAX") {
        End::Max
    } else {
        End::Min
    }
}

/// ```text
/// BZPOPMIN key [key ...] timeout
/// BZPOPMAX key [key ...] timeout
/// ```
/// Pops the lowest (highest) scored member of the first non-empty sorted set, or blocks until
/// one of the keys gets members. Reply: `[key, member, score]`, or a null array on timeout.
/// Complexity: O(log(N)) with N the number of elements in the sorted set.
fn bzpop(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let deadline_ms = deadline(ctx, argv.arg(argv.len() - 1))?;
    let end = bzpop_end(argv.arg(0));
    if pop_first(
        ctx,
        (1..argv.len() - 1).map(|i| argv.arg(i)),
        1,
        end,
        PopReply::KeyFlat,
        out,
    )? {
        return Ok(());
    }
    block_or_answer(
        ctx,
        argv,
        1..argv.len() - 1,
        deadline_ms,
        serve_bzpop,
        TimeoutReply::NullArray,
        out,
    );
    Ok(())
}

fn serve_bzpop(
    ctx: &mut ExecCtx,
    argv: &OwnedArgv,
    key: &[u8],
    out: &mut dyn ReplySink,
) -> Result<Serve, CmdError> {
    match pop_min_max(
        ctx,
        key,
        1,
        bzpop_end(argv.argv().arg(0)),
        PopReply::KeyFlat,
        out,
    ) {
        Ok(true) => Ok(Serve::Served),
        Ok(false) | Err(CmdError::WrongType) => Ok(Serve::Nothing),
        Err(e) => Err(e),
    }
}

/// ```text
/// BZMPOP timeout numkeys key [key ...] <MIN | MAX> [COUNT count]
/// ```
/// ZMPOP, or blocks until one of the keys gets members. Reply: `[key, [[member, score], ...]]`,
/// or a null array on timeout. Complexity: O(K) + O(M*log(N)).
fn bzmpop(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let a = parse_zmpop(argv, 2)?;
    let deadline_ms = deadline(ctx, argv.arg(1))?;
    let keys = a.key_indexes(2);
    if pop_first(
        ctx,
        keys.clone().map(|i| argv.arg(i)),
        a.count,
        a.end,
        PopReply::KeyNested,
        out,
    )? {
        return Ok(());
    }
    block_or_answer(
        ctx,
        argv,
        keys,
        deadline_ms,
        serve_bzmpop,
        TimeoutReply::NullArray,
        out,
    );
    Ok(())
}

fn serve_bzmpop(
    ctx: &mut ExecCtx,
    argv: &OwnedArgv,
    key: &[u8],
    out: &mut dyn ReplySink,
) -> Result<Serve, CmdError> {
    let a = parse_zmpop(argv.argv(), 2)?;
    match pop_min_max(ctx, key, a.count, a.end, PopReply::KeyNested, out) {
        Ok(true) => Ok(Serve::Served),
        Ok(false) | Err(CmdError::WrongType) => Ok(Serve::Nothing),
        Err(e) => Err(e),
    }
}

/// BZMPOP's keys: `numkeys` at index 2, the keys right after.
fn bzmpop_keys(argv: Argv) -> Option<KeyPositions> {
    numkeys_positions(argv, 2, false)
}

const BLOCK: Flags = Flags::WRITE
    .union(Flags::NOSCRIPT)
    .union(Flags::BLOCKING)
    .union(Flags::FAST);

pub static COMMANDS: &[Spec] = &[
    cmd("BZPOPMIN", -3, BLOCK, bzpop as EngineHandler).keys(1, -2, 1).doc(
        Group::SortedSet,
        "5.0.0",
        "Remove and return the member with the lowest score from one or more sorted sets, or block until one is available",
        "O(log(N)) with N being the number of elements in the sorted set.",
    ),
    cmd("BZPOPMAX", -3, BLOCK, bzpop as EngineHandler).keys(1, -2, 1).doc(
        Group::SortedSet,
        "5.0.0",
        "Remove and return the member with the highest score from one or more sorted sets, or block until one is available",
        "O(log(N)) with N being the number of elements in the sorted set.",
    ),
    cmd("BZMPOP", -5, Flags::WRITE.union(Flags::BLOCKING), bzmpop as EngineHandler).movable_keys(bzmpop_keys).doc(
        Group::SortedSet,
        "7.0.0",
        "Remove and return members with scores in a sorted set or block until one is available",
        "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.",
    ),
];
