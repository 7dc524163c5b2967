//! The connection side of blocking commands (see `usher_engine::blocking` for the model).
//!
//! After every engine command (and after a whole EXEC) the dispatcher, still holding the
//! command's shard locks, serves clients blocked on the keys the command filled, then
//! registers the command itself if it asked to block (`crate::waiters`, below the
//! dispatcher). The connection loop then waits for one of: its waiter being served
//! (wake-up), the deadline, CLIENT UNBLOCK, input (only to notice EOF), or a kill; this
//! module handles each, and re-runs a blocked command through the dispatcher when asked.

use crate::client::{flag, UNBLOCK_ERROR, UNBLOCK_REDIRECT};
use crate::dispatch::{finish, lock_for, run_engine};
use crate::registry::Spec;
use crate::session::{Blocked, Session};
use crate::waiters::serve_ready_keys;
use std::sync::atomic::Ordering;
use std::time::Instant;
use usher_engine::ctx::TimeoutReply;
use usher_protocol::{ReplySink, RespWriter};

/// Removes the waiter from every queue it is in and clears the blocked state. Locks one shard
/// at a time; the caller holds none.
fn unblock(s: &mut Session) -> Option<Blocked> {
    let blocked = s.blocked.take()?;
    let w = &blocked.waiter;
    for key in &w.keys {
        let shard = s.shared.store.shard_of(key);
        s.shared
            .store
            .lock_one(shard)
            .shard(key)
            .blocked
            .remove(w.db, key, w);
    }
    *s.info.blocked_waiter.lock() = None;
    s.info.set_flag(flag::BLOCKED, false);
    s.info.unblock.store(0, Ordering::Relaxed);
    Some(blocked)
}

fn write_timeout(out: &mut RespWriter<'_>, reply: TimeoutReply) {
    match reply {
        TimeoutReply::NullArray => out.null_array(),
        TimeoutReply::NullBulk => out.null(),
    }
}

/// Handles a wake-up while blocked: served, CLIENT UNBLOCK, or a request to retry.
/// Returns true once the client is no longer blocked.
pub fn on_wake(s: &mut Session, out: &mut RespWriter<'_>) -> bool {
    let Some(b) = s.blocked.as_ref() else {
        return true;
    };
    if b.waiter.is_served() {
        let reply = b.waiter.take_reply();
        out.raw(&reply);
        unblock(s);
        return true;
    }
    let request = s.info.unblock.swap(0, Ordering::AcqRel);
    if request == UNBLOCK_REDIRECT {
        let redirect = redirect_for(s);
        return cancel_with(s, out, redirect.as_deref());
    }
    if request != 0 {
        let error = (request == UNBLOCK_ERROR).then_some(UNBLOCKED);
        return cancel_with(s, out, error);
    }
    retry(s, out)
}

const UNBLOCKED: &str = "UNBLOCKED client unblocked via CLIENT UNBLOCK";

/// The deadline passed.
pub fn on_timeout(s: &mut Session, out: &mut RespWriter<'_>) -> bool {
    cancel_with(s, out, None)
}

/// Gives up waiting, replying `error` (CLIENT UNBLOCK ERROR, a moved slot) or else the
/// timeout reply, unless the waiter was served in the meantime.
fn cancel_with(s: &mut Session, out: &mut RespWriter<'_>, error: Option<&str>) -> bool {
    let Some(b) = s.blocked.as_ref() else {
        return true;
    };
    match b.waiter.cancel() {
        Some(reply) => out.raw(&reply),
        None => match error {
            Some(e) => out.error(e),
            None => write_timeout(out, b.on_timeout),
        },
    }
    unblock(s);
    true
}

/// Where a client blocked on keys of a slot this node no longer serves is sent: `MOVED` to
/// the owner, `CLUSTERDOWN` when nobody owns it; `None` if the slot is served here again.
fn redirect_for(s: &Session) -> Option<String> {
    let key = s.blocked.as_ref()?.waiter.keys.first()?;
    let topology = s.shared.cluster.get()?.topology();
    crate::cluster::redirect_blocked(&topology, usher_cluster::key_hash_slot(key))
}

/// The connection is closing while blocked.
pub fn on_close(s: &mut Session) {
    if let Some(b) = s.blocked.as_ref() {
        b.waiter.cancel();
    }
    unblock(s);
}

/// Re-runs the blocked command with its own locks (a server asked for it, e.g. a cross-shard
/// BLMOVE). While it runs the waiter is claimed, so no server serves it concurrently.
fn retry(s: &mut Session, out: &mut RespWriter<'_>) -> bool {
    let (waiter, cmd_id) = match s.blocked.as_ref() {
        Some(b) => (b.waiter.clone(), b.cmd_id),
        None => return true,
    };
    let shared = s.shared;
    let cmd = crate::registry::get().get(cmd_id);
    let Spec::Engine(spec) = cmd.spec else {
        unreachable!("only engine commands block")
    };
    let argv = waiter.argv.argv();
    // Locks first, then the claim: a writer serving the waiter's key holds that key's shard,
    // so it never finds the waiter claimed (it would skip it and serve the next one first).
    let mut locked = lock_for(&shared.store, cmd.spec, argv);
    if !waiter.claim() {
        // Served a moment ago by a writer holding both keys: the next wake-up delivers it.
        return false;
    }
    let started = Instant::now();
    let mut reply = Vec::new();
    let mut w = RespWriter::new(&mut reply, s.resp);
    let result = run_engine(s, spec, argv, &mut w, &mut locked, true, false);
    if s.effects.block.is_none() {
        // The writer that asked for this retry stopped serving at this waiter (first in line):
        // what the command left in its keys (elements beyond the one it moved, or the one it
        // could not move to a wrong-type destination) belongs to the waiters behind it.
        for key in &waiter.keys {
            if locked.shard(key).blocked.has_waiters(waiter.db, key) {
                s.effects.ready_keys.push((waiter.db, key.clone()));
            }
        }
    }
    serve_ready_keys(s, &mut locked);
    crate::propagate::commit(s, &mut locked);
    if s.effects.block.take().is_some() {
        waiter.unclaim();
        return false;
    }
    drop(locked);
    crate::dispatch::after_unlock(s);
    finish(s, cmd, started, result, &mut w);
    waiter.complete(reply);
    let reply = waiter.take_reply();
    out.raw(&reply);
    unblock(s);
    true
}
