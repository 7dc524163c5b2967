//! Blocking pops (BLPOP, BZPOPMIN, BLMOVE, ...): waiters, their per-key queues, and serving.
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
//! State machine of a waiter (one atomic, so serving, timing out and disconnecting never race):
//!
//! ```text
//! WAITING ──claim (server, under the key's shard lock)──► CLAIMED ──served──► SERVED
//!    │  ▲                                                    │
//!    │  └────────────── nothing to pop after all ────────────┘
//!    └──cancel (timeout, disconnect, CLIENT UNBLOCK)──► CANCELLED
//! ```
//!
//! A served waiter stays in the queues of its other keys until its connection removes it (or
//! a server finds it there and drops it): entries are cleaned lazily, never served twice.
//!
//! Serving walks a key's queue front to back, as Redis's `serveClientsBlockedOn*Key` walks its
//! list of clients: a waiter that cannot pop from the key as it is now (a BLPOP waiter on a key
//! that became a sorted set) is skipped, not stopped at, so a BZPOPMIN waiter behind it is
//! served; the walk goes on to the end of the queue (a deleted stream still answers the
//! XREADGROUP waiters behind a list waiter). A waiter found CLAIMED is being served by a
//! writer on another of its keys (or retried by its own connection): it is skipped and left in
//! place, since that claim may still be released.

use crate::bytes::SmallBytes;
use crate::ctx::{BlockOn, ExecCtx, TimeoutReply};
use crate::error::CmdResult;
use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use usher_protocol::{OwnedArgv, Protocol, ReplySink, RespWriter};

/// What a blocked command's serving logic reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Serve {
    /// The reply was written; the waiter is done.
    Served,
    /// Nothing to pop here (empty or wrong type); the waiter keeps waiting.
    Nothing,
    /// The command needs a key on a shard the serving context does not hold (a cross-shard
    /// BLMOVE): wake the waiter so it retries with its own locks.
    Retry,
}

/// Serves a waiter from `key` (which just received elements): pops, writes the reply.
/// Must not write anything unless it returns `Served`.
pub type ServeFn = fn(
    &mut ExecCtx<'_, '_>,
    &OwnedArgv,
    &[u8],
    &mut dyn ReplySink,
) -> Result<Serve, crate::error::CmdError>;

const WAITING: u8 = 0;
const CLAIMED: u8 = 1;
const SERVED: u8 = 2;
const CANCELLED: u8 = 3;

/// Something that can wake a blocked connection (implemented by the server).
pub trait Wake: Send + Sync {
    fn wake(&self);
}

/// A client blocked on one or more keys.
pub struct Waiter {
    pub client_id: u64,
    pub db: usize,
    /// The blocked command, as sent.
    pub argv: OwnedArgv,
    pub protocol: Protocol,
    /// The keys it waits on, in command order.
    pub keys: Vec<SmallBytes>,
    /// Absolute Unix ms, or 0 for no timeout.
    pub deadline_ms: i64,
    pub serve: ServeFn,
    state: AtomicU8,
    reply: Mutex<Vec<u8>>,
    waker: Arc<dyn Wake>,
}

impl Waiter {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        client_id: u64,
        db: usize,
        argv: OwnedArgv,
        protocol: Protocol,
        keys: Vec<SmallBytes>,
        deadline_ms: i64,
        serve: ServeFn,
        waker: Arc<dyn Wake>,
    ) -> Arc<Waiter> {
        Arc::new(Waiter {
            client_id,
            db,
            argv,
            protocol,
            keys,
            deadline_ms,
            serve,
            state: AtomicU8::new(WAITING),
            reply: Mutex::new(Vec::new()),
            waker,
        })
    }

    /// WAITING → CLAIMED; false if someone else got there first.
    pub fn claim(&self) -> bool {
        self.state
            .compare_exchange(WAITING, CLAIMED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// CLAIMED → WAITING (nothing could be popped after all).
    pub fn unclaim(&self) {
        let was = self.state.swap(WAITING, Ordering::AcqRel);
        debug_assert_eq!(was, CLAIMED);
    }

    /// CLAIMED → SERVED with the encoded reply, then wakes the connection.
    pub fn complete(&self, reply: Vec<u8>) {
        *self.reply.lock() = reply;
        let was = self.state.swap(SERVED, Ordering::AcqRel);
        debug_assert_eq!(was, CLAIMED);
        self.waker.wake();
    }

    /// WAITING → CANCELLED. Spins while a server holds the claim (a few microseconds under a
    /// shard lock). Returns the reply instead if the waiter was served meanwhile.
    pub fn cancel(&self) -> Option<Vec<u8>> {
        loop {
            match self.state.compare_exchange(
                WAITING,
                CANCELLED,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return None,
                Err(SERVED) => return Some(self.take_reply()),
                Err(CANCELLED) => return None,
                Err(_) => std::hint::spin_loop(),
            }
        }
    }

    /// Served or cancelled: nobody will claim it again, its queue entries are garbage.
    pub fn is_finished(&self) -> bool {
        matches!(self.state.load(Ordering::Acquire), SERVED | CANCELLED)
    }

    pub fn is_waiting(&self) -> bool {
        self.state.load(Ordering::Acquire) == WAITING
    }

    pub fn is_served(&self) -> bool {
        self.state.load(Ordering::Acquire) == SERVED
    }

    pub fn take_reply(&self) -> Vec<u8> {
        std::mem::take(&mut *self.reply.lock())
    }

    /// Wakes the connection without serving it (it will retry its command itself).
    pub fn wake(&self) {
        self.waker.wake();
    }
}

/// Per-shard queues of waiters, by (db, key). Lives inside the shard, under its lock.
#[derive(Default)]
pub struct BlockQueues {
    queues: HashMap<(u32, SmallBytes), VecDeque<Arc<Waiter>>>,
}

impl BlockQueues {
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.queues.is_empty()
    }

    #[inline]
    pub fn has_waiters(&self, db: usize, key: &[u8]) -> bool {
        !self.queues.is_empty() && self.queues.contains_key(&(db as u32, SmallBytes::new(key)))
    }

    pub fn push(&mut self, db: usize, key: &[u8], waiter: Arc<Waiter>) {
        self.queues
            .entry((db as u32, SmallBytes::new(key)))
            .or_default()
            .push_back(waiter);
    }

    /// Removes `waiter` from the queue of `key`.
    pub fn remove(&mut self, db: usize, key: &[u8], waiter: &Arc<Waiter>) {
        let k = (db as u32, SmallBytes::new(key));
        if let Some(q) = self.queues.get_mut(&k) {
            q.retain(|w| !Arc::ptr_eq(w, waiter));
            if q.is_empty() {
                self.queues.remove(&k);
            }
        }
    }

    /// The waiter at `idx` in the queue of `key`, dropping finished ones found there first;
    /// `None` past the end.
    fn live_at(&mut self, db: usize, key: &[u8], idx: usize) -> Option<Arc<Waiter>> {
        let k = (db as u32, SmallBytes::new(key));
        let q = self.queues.get_mut(&k)?;
        while let Some(w) = q.get(idx) {
            if !w.is_finished() {
                return Some(w.clone());
            }
            q.remove(idx);
        }
        if q.is_empty() {
            self.queues.remove(&k);
        }
        None
    }

    /// Removes the entry at `idx` (which must be `waiter`) from the queue of `key`.
    fn remove_at(&mut self, db: usize, key: &[u8], idx: usize, waiter: &Arc<Waiter>) {
        let k = (db as u32, SmallBytes::new(key));
        if let Some(q) = self.queues.get_mut(&k) {
            debug_assert!(q.get(idx).is_some_and(|w| Arc::ptr_eq(w, waiter)));
            q.remove(idx);
            if q.is_empty() {
                self.queues.remove(&k);
            }
        }
    }

    /// Keys of `db` that have waiters (SWAPDB must re-check them).
    pub fn keys_in_db(&self, db: usize) -> Vec<SmallBytes> {
        self.queues
            .keys()
            .filter(|(d, _)| *d as usize == db)
            .map(|(_, k)| k.clone())
            .collect()
    }

    /// Every waiter of this shard (for CLIENT UNBLOCK by id and INFO).
    pub fn waiters(&self) -> impl Iterator<Item = &Arc<Waiter>> {
        self.queues.values().flatten()
    }
}

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
            let outcome = (waiter.serve)(ctx, &waiter.argv, key, &mut out);
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
