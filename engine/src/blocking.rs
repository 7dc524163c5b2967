//! Blocking pops (BLPOP, BZPOPMIN, BLMOVE, ...): asking to block, and serving waiters.
//!
//! A blocking command that finds nothing to pop records [`crate::ctx::BlockOn`] in its effects
//! and writes no reply. The server then, still holding the shard locks of the command's keys,
//! registers a [`Waiter`] at the back of each key's queue in its shard ([`BlockQueues`]).
//!
//! When a write adds elements to a key that has waiters (`ExecCtx::ready`), the server calls
//! [`serve_ready`] before releasing the writer's locks: waiters are served in arrival order, in
//! the writer's context, exactly like Redis's `handleClientsBlockedOnKeys`. Each waiter's own
//! command logic runs through its [`ServeFn`]; the reply is encoded into the waiter's slot and
//! its connection is woken to write it. So a push of two elements with three clients blocked
//! serves the first two, in order, whatever threads they live on.
//!
//! The waiters and their queues are shard data, in [`crate::block_queues`] (with the waiter's
//! state machine); serving needs the execution context, so it lives here, above it.
//!
//! Serving walks a key's queue front to back, as Redis's `serveClientsBlockedOn*Key` walks its
//! list of clients: a waiter that cannot pop from the key as it is now (a BLPOP waiter on a key
//! that became a sorted set) is skipped, not stopped at, so a BZPOPMIN waiter behind it is
//! served; the walk goes on to the end of the queue (a deleted stream still answers the
//! XREADGROUP waiters behind a list waiter). A waiter found CLAIMED is being served by a
//! writer on another of its keys (or retried by its own connection): it is skipped and left in
//! place, since that claim may still be released.
//!
//! [`Waiter`]: crate::block_queues::Waiter
//! [`BlockQueues`]: crate::block_queues::BlockQueues
//! [`ServeFn`]: crate::ctx::ServeFn

use crate::bytes::SmallBytes;
use crate::ctx::{BlockOn, ExecCtx, Serve, ServeFn, TimeoutReply};
use crate::error::CmdResult;
use usher_protocol::{ReplySink, RespWriter};

/// Upper bound on serving rounds after one command (a served BLMOVE can ready another key,
/// which can ready another...): a cycle of waiters cannot spin the writer forever.
pub const SERVE_ROUNDS_MAX: usize = 1024;

/// Serves the waiters of every key the command(s) run in `ctx` filled, then of the keys that
/// serving filled in turn, until none is left (at most [`SERVE_ROUNDS_MAX`] rounds).
pub fn serve_all_ready(ctx: &mut ExecCtx<'_, '_>) {
    for _ in 0..SERVE_ROUNDS_MAX {
        if ctx.effects.ready_keys.is_empty() {
            return;
        }
        let ready = std::mem::take(&mut ctx.effects.ready_keys);
        let _ = serve_ready(ctx, &ready);
    }
    ctx.effects.ready_keys.clear();
}

/// What a blocking command does when it found nothing to pop: ask to block on `argv[keys]`
/// (served later by `serve`, timing out at `deadline_ms`), or, where blocking is not allowed
/// (MULTI, scripts), answer `denied` at once, as Redis does.
pub fn block_or_answer(
    ctx: &mut ExecCtx<'_, '_>,
    argv: usher_protocol::Argv<'_>,
    keys: std::ops::Range<usize>,
    deadline_ms: i64,
    serve: ServeFn,
    denied: TimeoutReply,
    out: &mut dyn ReplySink,
) {
    if !ctx.may_block {
        match denied {
            TimeoutReply::NullArray => out.null_array(),
            TimeoutReply::NullBulk => out.null(),
        }
        return;
    }
    let keys = keys.map(|i| SmallBytes::new(argv.arg(i))).collect();
    ctx.effects.block = Some(BlockOn {
        keys,
        deadline_ms,
        serve,
        on_timeout: TimeoutReply::NullArray,
        argv: None,
    });
}

/// What a blocking pop served later did, as the non-blocking command that replays it (Redis
/// propagates BLPOP as LPOP, BLMOVE as LMOVE, ...): the one key it popped from is named.
pub fn nonblocking_form(argv: usher_protocol::Argv<'_>, key: &[u8]) -> Vec<Vec<u8>> {
    let name = argv.arg(0).to_ascii_uppercase();
    let v = |b: &[u8]| b.to_vec();
    let after_keys = || -> (Vec<u8>, Vec<u8>) {
        // BLMPOP/BZMPOP timeout numkeys key... LEFT|RIGHT|MIN|MAX [COUNT n]
        let numkeys = std::str::from_utf8(argv.arg(2))
            .ok()
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(1);
        let dir = argv
            .get(3 + numkeys)
            .unwrap_or(b"LEFT")
            .to_ascii_uppercase();
        let count = argv.get(5 + numkeys).map_or(b"1".to_vec(), v);
        (dir, count)
    };
    match name.as_slice() {
        b"BLPOP" => vec![v(b"LPOP"), v(key)],
        b"BRPOP" => vec![v(b"RPOP"), v(key)],
        b"BZPOPMIN" => vec![v(b"ZPOPMIN"), v(key)],
        b"BZPOPMAX" => vec![v(b"ZPOPMAX"), v(key)],
        b"BRPOPLPUSH" => vec![v(b"RPOPLPUSH"), v(argv.arg(1)), v(argv.arg(2))],
        b"BLMOVE" => {
            let mut out = vec![v(b"LMOVE")];
            out.extend((1..5).map(|i| v(argv.arg(i))));
            out
        }
        b"BLMPOP" => {
            let (dir, count) = after_keys();
            let pop: &[u8] = if dir == b"RIGHT" { b"RPOP" } else { b"LPOP" };
            vec![v(pop), v(key), count]
        }
        b"BZMPOP" => {
            let (dir, count) = after_keys();
            let pop: &[u8] = if dir == b"MAX" {
                b"ZPOPMAX"
            } else {
                b"ZPOPMIN"
            };
            vec![v(pop), v(key), count]
        }
        _ => argv.iter().map(v).collect(),
    }
}

/// Serves the waiters of each ready key, in arrival order, while the caller holds the locks.
/// `ctx` is the writer's context (its locked shards); each waiter runs in its own database.
pub fn serve_ready(ctx: &mut ExecCtx<'_, '_>, ready: &[(usize, SmallBytes)]) -> CmdResult {
    let writer_db = ctx.db;
    for (db, key) in ready {
        // Nobody registers while the writer holds the key's shard, and only this loop removes
        // entries before `idx`: the queue below `idx` is exactly the waiters already passed.
        let mut idx = 0;
        while let Some(waiter) = ctx
            .shards
            .try_shard(key)
            .and_then(|shard| shard.blocked.live_at(*db, key, idx))
        {
            if !waiter.claim() {
                idx += 1;
                continue;
            }
            let mut reply = Vec::new();
            let mut out = RespWriter::new(&mut reply, waiter.protocol);
            ctx.db = waiter.db;
            let serve: ServeFn = waiter
                .serve()
                .expect("ServeFn is the only (sealed) ServeHook");
            let outcome = serve(ctx, &waiter.argv, key, &mut out);
            ctx.db = writer_db;
            match outcome {
                Ok(Serve::Served) => {
                    let pop = nonblocking_form(waiter.argv.argv(), key);
                    ctx.effects.propagate.push((waiter.db, pop));
                }
                Ok(Serve::Retry) => {
                    // It is first in line: nobody behind it is served before its retry, which
                    // re-signals the key for them.
                    waiter.unclaim();
                    waiter.wake();
                    break;
                }
                Ok(Serve::Nothing) => {
                    // The key holds something this waiter does not take (a list waiter on a
                    // sorted set, an XREAD on a deleted stream): the waiters behind it may.
                    waiter.unclaim();
                    idx += 1;
                    continue;
                }
                Err(e) => {
                    // Serving failed (e.g. the destination of BLMOVE holds the wrong type):
                    // the waiter gets the error, as in Redis, and the element stays for the
                    // next one.
                    reply.clear();
                    RespWriter::new(&mut reply, waiter.protocol).error(&e.wire_text());
                }
            }
            if let Some(shard) = ctx.shards.try_shard(key) {
                shard.blocked.remove_at(*db, key, idx, &waiter);
            }
            waiter.complete(reply);
        }
    }
    Ok(())
}
