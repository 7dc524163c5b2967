//! QPOLICY RESET: an operator starts an event over in one atomic step (a test sale before the
//! real one, a sale aborted and restarted), keeping its policy and its feed.
//!
//! Everything the event keeps about its line goes: the waiters (main line, every lane, a split
//! line's sub-queues), heartbeats, held users, places per client key, the no-show watch, the
//! lanes' weights and the durable statistics (the feed's markers stay, so nobody is told
//! `soon` twice for the same place), with the in-memory counters. The active sessions end and
//! their admission tokens are withdrawn, unless `KEEPACTIVE` lets buyers in checkout finish.
//! The feed gets a `reset` entry and the channel a `reset` announcement, so pages can send
//! their users back to the start. The command is logged with its clock (`NOW`), so a replica
//! or an AOF replay appends the same feed entry.

use super::feed;
use super::lanes;
use super::noshow::pending_key;
use super::policy_of;
use super::stats::stats_key;
use crate::args::{self, is};
use crate::cmd::hash::{check_hash, get_hash};
use crate::cmd::queue::{check_zset, resolve_now};
use crate::cmd::zset::get_zset as zset;
use crate::ctx::ExecCtx;
use crate::error::{CmdError, CmdResult};
use crate::keyspace_events as ev;
use crate::queue::policy::{clients_key, heartbeat_key, held_key, lane_key, lane_weights_key};
use crate::queue::split::Line;
use usher_protocol::{Argv, ReplySink};

/// Fields of `<queue>:stats` that a reset keeps: the feed's markers.
const FEED_MARKERS: &[&[u8]] = &[
    b"soon_after",
    b"expiring_upto",
    b"feed_state",
    b"feed_message",
    b"feed_queueing",
];

/// ```text
/// QPOLICY RESET queue [KEEPACTIVE] [NOW unix-ms]
/// ```
/// Reply: `[waiting removed, sessions ended]`.
pub(super) fn qpolicy_reset(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let queue = argv.arg(2);
    let (mut keep_active, mut given_now) = (false, None);
    let mut i = 3;
    while i < argv.len() {
        let opt = argv.arg(i);
        if is(opt, "KEEPACTIVE") {
            keep_active = true;
            i += 1;
        } else if is(opt, "NOW") {
            given_now = Some(args::int(argv.get(i + 1).ok_or(CmdError::Syntax)?)?);
            i += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let now = resolve_now(ctx, given_now)?;
    let Some(p) = policy_of(ctx, queue)? else {
        return Err(CmdError::Static(
            "ERR QPOLICY RESET needs a queue with a policy (QPOLICY SET)",
        ));
    };
    // Every key is checked before anything changes.
    let line = Line::of(ctx, queue)?;
    line.check(ctx, queue)?;
    lanes::check(ctx, queue, Some(&p))?;
    for key in [
        heartbeat_key(queue),
        held_key(queue),
        pending_key(queue),
        p.active.clone(),
    ] {
        check_zset(ctx, &key)?;
    }
    for key in [
        clients_key(queue),
        lane_weights_key(queue),
        stats_key(queue),
    ] {
        check_hash(ctx, &key)?;
    }

    let mut waiting_keys: Vec<Vec<u8>> = line.keys(queue).iter().map(|k| k.to_vec()).collect();
    waiting_keys.extend(p.lanes.iter().map(|l| lane_key(queue, &l.name)));
    let clock = ctx.now_ms;
    let mut removed = 0usize;
    for key in &waiting_keys {
        removed += zset(ctx.db(key), key, clock)?.map_or(0, |z| z.len());
        delete(ctx, key);
    }
    line.cleared(ctx, queue);
    for key in [
        heartbeat_key(queue),
        held_key(queue),
        pending_key(queue),
        clients_key(queue),
        lane_weights_key(queue),
    ] {
        delete(ctx, &key);
    }
    clear_statistics(ctx, queue);
    let mut ended = 0usize;
    if !keep_active {
        let users: Vec<Vec<u8>> = zset(ctx.db(&p.active), &p.active, clock)?
            .map(|z| {
                z.iter_from_rank(0, false)
                    .map(|(m, _)| m.to_vec())
                    .collect()
            })
            .unwrap_or_default();
        for user in &users {
            crate::cmd::token::withdraw_admission_tokens(ctx, &p.active, user);
        }
        ended = users.len();
        delete(ctx, &p.active);
    }
    let db = ctx.db;
    let state = ctx.shards.shard(queue).queues.entry(db, queue);
    state.fresh_statistics();
    state.queueing = false;
    if let Some(policy_state) = state.policy.as_mut() {
        policy_state.bucket = Default::default();
    }

    let (removed_text, ended_text) = (removed.to_string(), ended.to_string());
    feed::append(
        ctx,
        queue,
        &p,
        now,
        &[
            (b"event", b"reset"),
            (b"waiting_removed", removed_text.as_bytes()),
            (b"sessions_ended", ended_text.as_bytes()),
        ],
    );
    if let Some(channel) = &p.channel {
        let message = serde_json::json!({
            "event": "reset",
            "queue": String::from_utf8_lossy(queue),
            "sessions_ended": !keep_active,
        });
        ctx.effects
            .publish
            .push((channel.clone(), message.to_string().into_bytes()));
    }
    if given_now.is_none() {
        let mut logged: Vec<Vec<u8>> = argv.iter().map(<[u8]>::to_vec).collect();
        logged.extend([b"NOW".to_vec(), now.to_string().into_bytes()]);
        ctx.log_as(logged);
    }
    out.array(2);
    out.int(removed as i64);
    out.int(ended as i64);
    Ok(())
}

fn delete(ctx: &mut ExecCtx, key: &[u8]) {
    let now = ctx.now_ms;
    if ctx.shards.holds(key) && ctx.db(key).delete(key, now) {
        ctx.modified_in_sale(key);
        ctx.notify(ev::GENERIC, "del", key);
    }
}

/// Empties `<queue>:stats` but for the feed's markers.
fn clear_statistics(ctx: &mut ExecCtx, queue: &[u8]) {
    let key = stats_key(queue);
    let now = ctx.now_ms;
    let Ok(Some(h)) = get_hash(ctx.db(&key), &key, now) else {
        return;
    };
    let gone: Vec<Vec<u8>> = h
        .iter()
        .map(|(f, _)| f.to_vec())
        .filter(|f| !FEED_MARKERS.contains(&f.as_slice()))
        .collect();
    if gone.is_empty() {
        return;
    }
    for field in &gone {
        h.remove(field);
    }
    let empty = h.is_empty();
    ctx.notify(ev::HASH, "hdel", &key);
    if empty {
        delete(ctx, &key);
    }
    ctx.modified_in_sale(&key);
}
