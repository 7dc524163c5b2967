//! What a command leaves for blocked clients, under its still-held shard locks (see
//! `usher_engine::blocking` for the model): the waiters of every key it filled are served
//! ([`serve_ready_keys`]), then the command itself waits if it asked to block
//! ([`register_if_blocked`]). The dispatcher calls both after each command; the connection
//! side of a blocked client (wake-ups, timeouts, retries) is `crate::blocked`, above it.

use crate::client::flag;
use crate::session::{Blocked, Session};
use usher_engine::block_queues::Waiter;
use usher_engine::blocking::serve_all_ready;
use usher_engine::store::LockedShards;

/// Serves waiters of every key the last command(s) filled, under `locked`.
pub fn serve_ready_keys(s: &mut Session, locked: &mut LockedShards<'_>) {
    if s.effects.ready_keys.is_empty() {
        return;
    }
    serve_all_ready(&mut s.exec_ctx(locked, false));
}

/// Registers the session as blocked if its command asked to, under the command's locks.
pub fn register_if_blocked(
    s: &mut Session,
    locked: &mut LockedShards<'_>,
    cmd_id: u32,
    argv: usher_protocol::Argv<'_>,
) {
    let Some(block) = s.effects.block.take() else {
        return;
    };
    let waiter = Waiter::new(
        s.info.id,
        s.db,
        block.argv.clone().unwrap_or_else(|| argv.to_owned_argv()),
        s.resp,
        block.keys.clone(),
        block.deadline_ms,
        block.serve,
        s.info.clone(),
    );
    for key in &block.keys {
        locked.shard(key).blocked.push(s.db, key, waiter.clone());
    }
    *s.info.blocked_waiter.lock() = Some(waiter.clone());
    s.info.set_flag(flag::BLOCKED, true);
    s.blocked = Some(Blocked {
        waiter,
        cmd_id,
        on_timeout: block.on_timeout,
    });
}
