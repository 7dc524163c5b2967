//! The blocking list commands: BLPOP, BRPOP, BLMOVE, BRPOPLPUSH and BLMPOP.
//!
//! Each first behaves like its non-blocking twin (same pop code from `cmd::list`). When every
//! key is empty it asks to block ([`BlockOn`]) with a [`ServeFn`] that pops for it later, in the
//! context of the write that fills a key (see `crate::blocking`). Inside MULTI or a script
//! (`may_block` false) an empty result is answered at once, as Redis does.
//!
//! [`BlockOn`]: crate::ctx::BlockOn
//! [`ServeFn`]: crate::ctx::ServeFn

use super::list::{lmove, parse_end, parse_mpop, pop_from_first_nonempty, reply_key_and_elements};
use crate::blocking::block_or_answer;
use crate::command::{
    cmd, numkeys_positions, CommandSpec, EngineHandler, Flags, Group, KeyPositions,
};
use crate::ctx::{ExecCtx, Serve, TimeoutReply};
use crate::error::{CmdError, CmdResult};
use crate::types::list::End;
use usher_protocol::{Argv, OwnedArgv, ReplySink};

type Spec = CommandSpec<EngineHandler>;

/// The absolute deadline for a timeout argument in seconds (0: none).
pub(crate) fn deadline(ctx: &ExecCtx, timeout: &[u8]) -> Result<i64, CmdError> {
    let ms = crate::num::parse_timeout_secs(timeout)?;
    Ok(if ms == 0 {
        0
    } else {
        ctx.now_ms.saturating_add(ms.min(i64::MAX as u64) as i64)
    })
}

/// Which end BLPOP (head) or BRPOP (tail) pops from, by command name.
fn pop_end(name: &[u8]) -> End {
    if name.eq_ignore_ascii_case(b"BRPOP") {
        End::Tail
    } else {
        End::Head
    }
}

/// ```text
/// BLPOP key [key ...] timeout
/// BRPOP key [key ...] timeout
/// ```
/// Pops from the first non-empty list, or blocks until one of the keys gets an element.
/// Reply: `[key, element]`, or a null array on timeout. Complexity: O(N) keys.
fn blpop(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let deadline_ms = deadline(ctx, argv.arg(argv.len() - 1))?;
    let end = pop_end(argv.arg(0));
    let keys = (1..argv.len() - 1).map(|i| argv.arg(i));
    if let Some((i, popped)) = pop_from_first_nonempty(ctx, keys, end, 1)? {
        out.array(2);
        out.bulk(argv.arg(1 + i));
        out.bulk(&popped[0]);
        return Ok(());
    }
    block_or_answer(
        ctx,
        argv,
        1..argv.len() - 1,
        deadline_ms,
        serve_blpop,
        TimeoutReply::NullArray,
        out,
    );
    Ok(())
}

fn serve_blpop(
    ctx: &mut ExecCtx,
    argv: &OwnedArgv,
    key: &[u8],
    out: &mut dyn ReplySink,
) -> Result<Serve, CmdError> {
    match pop_from_first_nonempty(ctx, [key], pop_end(argv.argv().arg(0)), 1) {
        Ok(Some((_, popped))) => {
            out.array(2);
            out.bulk(key);
            out.bulk(&popped[0]);
            Ok(Serve::Served)
        }
        // A key of another type now: keep waiting, as Redis does.
        Ok(None) | Err(CmdError::WrongType) => Ok(Serve::Nothing),
        Err(e) => Err(e),
    }
}

/// ```text
/// BLMOVE source destination <LEFT | RIGHT> <LEFT | RIGHT> timeout
/// ```
/// LMOVE, or blocks until `source` gets an element. Reply: the moved element; a null array on
/// timeout, a null bulk inside MULTI (both as Redis 7.0). Complexity: O(1).
fn blmove(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let from = parse_end(argv.arg(3))?;
    let to = parse_end(argv.arg(4))?;
    let deadline_ms = deadline(ctx, argv.arg(5))?;
    blocking_move(ctx, argv, from, to, deadline_ms, out)
}

/// ```text
/// BRPOPLPUSH source destination timeout
/// ```
/// BLMOVE source destination RIGHT LEFT timeout.
fn brpoplpush(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let deadline_ms = deadline(ctx, argv.arg(3))?;
    blocking_move(ctx, argv, End::Tail, End::Head, deadline_ms, out)
}

fn blocking_move(
    ctx: &mut ExecCtx,
    argv: Argv,
    from: End,
    to: End,
    deadline_ms: i64,
    out: &mut dyn ReplySink,
) -> CmdResult {
    match lmove(ctx, argv.arg(1), argv.arg(2), from, to)? {
        Some(element) => out.bulk(&element),
        None => block_or_answer(
            ctx,
            argv,
            1..2,
            deadline_ms,
            serve_blmove,
            TimeoutReply::NullBulk,
            out,
        ),
    }
    Ok(())
}

/// The ends of a blocked BLMOVE or BRPOPLPUSH.
fn move_ends(argv: Argv) -> Result<(End, End), CmdError> {
    if argv.arg(0).eq_ignore_ascii_case(b"BRPOPLPUSH") {
        return Ok((End::Tail, End::Head));
    }
    Ok((parse_end(argv.arg(3))?, parse_end(argv.arg(4))?))
}

fn serve_blmove(
    ctx: &mut ExecCtx,
    argv: &OwnedArgv,
    key: &[u8],
    out: &mut dyn ReplySink,
) -> Result<Serve, CmdError> {
    let argv = argv.argv();
    let dst = argv.arg(2);
    if !ctx.shards.holds(dst) {
        return Ok(Serve::Retry);
    }
    let (from, to) = move_ends(argv)?;
    match lmove(ctx, key, dst, from, to)? {
        Some(element) => {
            out.bulk(&element);
            Ok(Serve::Served)
        }
        None => Ok(Serve::Nothing),
    }
}

/// ```text
/// BLMPOP timeout numkeys key [key ...] <LEFT | RIGHT> [COUNT count]
/// ```
/// LMPOP, or blocks until one of the keys gets elements. Reply: `[key, [element, ...]]`, or a
/// null array on timeout. Complexity: O(N+M) for N keys and M elements popped.
fn blmpop(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let deadline_ms = deadline(ctx, argv.arg(1))?;
    let a = parse_mpop(argv, 2)?;
    let keys = a.keys.clone().map(|i| argv.arg(i));
    match pop_from_first_nonempty(ctx, keys, a.end, a.count)? {
        Some((i, popped)) => reply_key_and_elements(out, argv.arg(a.keys.start + i), &popped),
        None => block_or_answer(
            ctx,
            argv,
            a.keys,
            deadline_ms,
            serve_blmpop,
            TimeoutReply::NullArray,
            out,
        ),
    }
    Ok(())
}

fn serve_blmpop(
    ctx: &mut ExecCtx,
    argv: &OwnedArgv,
    key: &[u8],
    out: &mut dyn ReplySink,
) -> Result<Serve, CmdError> {
    let a = parse_mpop(argv.argv(), 2)?;
    match pop_from_first_nonempty(ctx, [key], a.end, a.count) {
        Ok(Some((_, popped))) => {
            reply_key_and_elements(out, key, &popped);
            Ok(Serve::Served)
        }
        Ok(None) | Err(CmdError::WrongType) => Ok(Serve::Nothing),
        Err(e) => Err(e),
    }
}

/// BLMPOP's keys: `numkeys` at index 2, the keys right after.
fn blmpop_keys(argv: Argv) -> Option<KeyPositions> {
    numkeys_positions(argv, 2, false)
}

const BLOCK: Flags = Flags::WRITE.union(Flags::NOSCRIPT).union(Flags::BLOCKING);

pub static COMMANDS: &[Spec] = &[
    cmd("BLPOP", -3, BLOCK, blpop as EngineHandler).keys(1, -2, 1).doc(
        Group::List,
        "2.0.0",
        "Remove and get the first element in a list, or block until one is available",
        "O(N) where N is the number of provided keys.",
    ),
    cmd("BRPOP", -3, BLOCK, blpop as EngineHandler).keys(1, -2, 1).doc(
        Group::List,
        "2.0.0",
        "Remove and get the last element in a list, or block until one is available",
        "O(N) where N is the number of provided keys.",
    ),
    cmd("BLMOVE", 6, BLOCK.union(Flags::DENYOOM), blmove as EngineHandler).keys(1, 2, 1).doc(
        Group::List,
        "6.2.0",
        "Pop an element from a list, push it to another list and return it; or block until one is available",
        "O(1)",
    ),
    cmd("BRPOPLPUSH", 4, BLOCK.union(Flags::DENYOOM), brpoplpush as EngineHandler).keys(1, 2, 1).doc(
        Group::List,
        "2.2.0",
        "Pop an element from a list, push it to another list and return it; or block until one is available",
        "O(1)",
    ),
    cmd("BLMPOP", -5, Flags::WRITE.union(Flags::BLOCKING), blmpop as EngineHandler)
        .movable_keys(blmpop_keys)
        .doc(
            Group::List,
            "7.0.0",
            "Pop elements from a list, or block until one is available",
            "O(N+M) where N is the number of provided keys and M is the number of elements returned.",
        ),
];
