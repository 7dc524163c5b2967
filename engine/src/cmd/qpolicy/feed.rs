//! The event's replayable feed: with `FEED maxlen`, every announcement of a policy is also an
//! entry of the stream `<queue>:feed`, trimmed to `maxlen` entries. Pub/sub is fire-and-forget,
//! so a Socket.IO pod that restarts misses admissions; the feed is read with the ordinary
//! stream commands (XREAD, XREADGROUP from the pod's last id) and routes each entry to its
//! `user`'s socket. No entry ever carries a token: it reaches its user through QPOS.
//!
//! ```text
//! event=admitted user active_until_ms token_issued     (grant_admissions: ADMIT, ENTER, tick)
//! event=soon     user position                         (tick: within the first SOON places)
//! event=expiring user active_until_ms                  (tick: within EXPIRING ms of expiry)
//! event=revoked  user                                  (QREVOKE)
//! event=completed, event=abandoned  user               (QEND)
//! event=reset    waiting_removed sessions_ended        (QPOLICY RESET)
//! event=noshow   user                                  (tick: the no-show sweep)
//! event=state    state [message]                       (tick: the state or message changed)
//! event=queueing queueing (1|0)                        (ENTER on an `auto` event)
//! ```
//!
//! Determinism is the point: ids are `max(last id, clock)` with the sequence, from the
//! command's clock (`NOW`, or the tick's), never the wall clock, so a replayed ADMIT, ENTER
//! or QREVOKE appends identical entries. What the tick writes outside an admission is logged
//! as the XADD (explicit id) and the HSET of its markers that replay it exactly.
//!
//! The trim is exact (`MAXLEN = maxlen`), not `~`: which entries `~` removes depends on the
//! stream's node layout (`stream-node-max-*`, and how the stream was last loaded), so a replay
//! on a replica or after a reload could keep other entries; an exact trim keeps the last
//! `maxlen` whatever the layout.
//!
//! The markers live in `<queue>:stats`, so each user gets one `soon` and one `expiring` per
//! crossing, even across a restart or a failover:
//!
//! ```text
//! soon_after      arrival score of the last waiter told `soon`
//! expiring_upto   expiry of the last session told `expiring`
//! feed_state, feed_message   the state last written to the feed
//! feed_queueing   1 while an `auto` event's arrivals queue, as last written to the feed
//! ```

use super::log_tick;
use super::stats::stats_key;
use crate::bytes::SmallBytes;
use crate::cmd::hash::{get_hash, write_companion_hash};
use crate::cmd::stream::get_stream;
use crate::cmd::zset::get_zset as zset;
use crate::ctx::ExecCtx;
use crate::keyspace_events as ev;
use crate::queue::policy::{Method, Policy};
use crate::queue::split::Line;
use crate::types::stream::{NodeLimits, Stream, StreamId, Trim};
use crate::types::zset::ScoreBound;
use crate::value::Value;
use usher_cluster::companion_key;

/// Most entries of one kind the tick writes at once (the rest follow on the next tick).
const TICK_BATCH: usize = 1000;

/// The event's feed stream.
pub fn feed_key(queue: &[u8]) -> Vec<u8> {
    companion_key(queue, b"feed")
}

/// Appends one entry at the clock `now` if the policy keeps a feed; returns the XADD that
/// replays it (explicit id, same trim). Nothing happens when the key holds another type.
pub(crate) fn append(
    ctx: &mut ExecCtx,
    queue: &[u8],
    p: &Policy,
    now: i64,
    pairs: &[(&[u8], &[u8])],
) -> Option<Vec<Vec<u8>>> {
    let maxlen = p.feed_maxlen? as u64;
    let key = feed_key(queue);
    if !ctx.shards.holds(&key) {
        return None;
    }
    let (clock, limits) = (ctx.now_ms, NodeLimits::from_config(ctx.config));
    let db = ctx.db(&key);
    let exists = match get_stream(db, &key, clock) {
        Ok(s) => s.is_some(),
        Err(_) => return None,
    };
    let mut fresh = Stream::new();
    let s = match get_stream(db, &key, clock) {
        Ok(Some(s)) => s,
        _ => &mut fresh,
    };
    let ms = now.max(0) as u64;
    let id = if ms > s.last_id.ms {
        StreamId::new(ms, 0)
    } else {
        s.last_id.incr()?
    };
    s.append(id, pairs, limits);
    s.entries_added += 1;
    let trimmed = s.trim(Trim::MaxLen(maxlen), false, 0);
    if !exists {
        db.set(&key, Value::Stream(Box::new(fresh)));
    }
    ctx.notify(ev::STREAM, "xadd", &key);
    if trimmed > 0 {
        ctx.notify(ev::STREAM, "xtrim", &key);
    }
    ctx.modified_in_sale(&key);
    ctx.ready(&key);
    let mut argv = vec![
        b"XADD".to_vec(),
        key,
        b"MAXLEN".to_vec(),
        b"=".to_vec(),
        maxlen.to_string().into_bytes(),
        id.to_bytes(),
    ];
    for (f, v) in pairs {
        argv.extend([f.to_vec(), v.to_vec()]);
    }
    Some(argv)
}

/// [`append`] from the tick: also logs the XADD.
fn append_logged(ctx: &mut ExecCtx, queue: &[u8], p: &Policy, now: i64, pairs: &[(&[u8], &[u8])]) {
    if let Some(argv) = append(ctx, queue, p, now, pairs) {
        log_tick(ctx, argv);
    }
}

/// Announces one user's event (`admitted`, `revoked`, ...) with `extra` fields.
pub(crate) fn user_event(
    ctx: &mut ExecCtx,
    queue: &[u8],
    p: &Policy,
    now: i64,
    event: &[u8],
    user: &[u8],
    extra: &[(&[u8], &[u8])],
) -> Option<Vec<Vec<u8>>> {
    let mut pairs: Vec<(&[u8], &[u8])> = vec![(b"event", event), (b"user", user)];
    pairs.extend_from_slice(extra);
    append(ctx, queue, p, now, &pairs)
}

/// Reads a field of the stats hash.
fn marker(ctx: &mut ExecCtx, queue: &[u8], field: &[u8]) -> Option<Vec<u8>> {
    let key = stats_key(queue);
    let now = ctx.now_ms;
    match get_hash(ctx.db(&key), &key, now) {
        Ok(Some(h)) => h.get(field).map(<[u8]>::to_vec),
        _ => None,
    }
}

/// Sets fields of the stats hash (as HSET); false when it holds another type.
fn set_markers(ctx: &mut ExecCtx, queue: &[u8], fields: &[(&[u8], &[u8])]) -> bool {
    write_companion_hash(ctx, &stats_key(queue), "hset", |h, limits| {
        for (f, v) in fields {
            h.set(f, v, limits);
        }
    })
}

/// [`set_markers`] from the tick: also logs the HSET.
fn set_markers_logged(ctx: &mut ExecCtx, queue: &[u8], fields: &[(&[u8], &[u8])]) {
    if set_markers(ctx, queue, fields) {
        let mut argv = vec![b"HSET".to_vec(), stats_key(queue)];
        for (f, v) in fields {
            argv.extend([f.to_vec(), v.to_vec()]);
        }
        log_tick(ctx, argv);
    }
}

fn score_marker(ctx: &mut ExecCtx, queue: &[u8], field: &[u8]) -> f64 {
    marker(ctx, queue, field)
        .and_then(|v| std::str::from_utf8(&v).ok()?.parse::<f64>().ok())
        .unwrap_or(f64::NEG_INFINITY)
}

/// A score as text that parses back to the same double.
fn score_text(s: f64) -> Vec<u8> {
    format!("{s}").into_bytes()
}

/// An `auto` event's arrivals started (`on`) or stopped queueing: from ENTER, whose replay
/// (with its `NOW`) writes the same entry, since the marker is in a key, not in memory.
pub(crate) fn queueing(ctx: &mut ExecCtx, queue: &[u8], p: &Policy, now: i64, on: bool) {
    if p.feed_maxlen.is_none() {
        return;
    }
    let flag: &[u8] = if on { b"1" } else { b"0" };
    let was = marker(ctx, queue, b"feed_queueing").unwrap_or_else(|| b"0".to_vec());
    if was == flag || !set_markers(ctx, queue, &[(b"feed_queueing", flag)]) {
        return;
    }
    append(
        ctx,
        queue,
        p,
        now,
        &[(b"event", b"queueing"), (b"queueing", flag)],
    );
}

/// The feed's part of one policy tick: a changed state, then `soon` and `expiring` entries.
pub(crate) fn tick(ctx: &mut ExecCtx, queue: &[u8], p: &Policy, now: i64) {
    if p.feed_maxlen.is_none() || !ctx.shards.holds(&stats_key(queue)) {
        return;
    }
    announce_state(ctx, queue, p, now);
    if let Some(n) = p.soon {
        soon(ctx, queue, p, now, n as usize);
    }
    if let Some(ms) = p.expiring_ms {
        expiring(ctx, queue, p, now, ms);
    }
}

/// A state or message different from the last one written is written once. A new feed
/// starts from an open event without a message, as the pub/sub announcements do.
fn announce_state(ctx: &mut ExecCtx, queue: &[u8], p: &Policy, now: i64) {
    let state = p.state_at(now).as_bytes();
    let message = p.message.clone().unwrap_or_default();
    let was_state = marker(ctx, queue, b"feed_state").unwrap_or_else(|| b"open".to_vec());
    let was_message = marker(ctx, queue, b"feed_message").unwrap_or_default();
    if was_state == state && was_message == message {
        return;
    }
    set_markers_logged(
        ctx,
        queue,
        &[(b"feed_state", state), (b"feed_message", &message)],
    );
    let mut pairs: Vec<(&[u8], &[u8])> = vec![(b"event", b"state"), (b"state", state)];
    if !message.is_empty() {
        pairs.push((b"message", &message));
    }
    append_logged(ctx, queue, p, now, &pairs);
}

/// `soon` for every waiter in the first `n` places whose arrival is after the marker, in
/// line order; the marker moves to the last one told. Not on a random line (no order), nor
/// before the opening (the pre-queue is shuffled at the opening).
fn soon(ctx: &mut ExecCtx, queue: &[u8], p: &Policy, now: i64, n: usize) {
    if p.method == Method::Random || p.method == Method::Reject || p.before_open(now) {
        return;
    }
    let Ok(line) = Line::of(ctx, queue) else {
        return;
    };
    if line.check(ctx, queue).is_err() {
        return;
    }
    let after = score_marker(ctx, queue, b"soon_after");
    // Everyone before the marker was told already (a stagnant line costs one count).
    let told = line.count_below(ctx, queue, after).unwrap_or(0);
    if told >= n {
        return;
    }
    let batch: Vec<(SmallBytes, f64, usize)> = line
        .after(ctx, queue, after, (n - told).min(TICK_BATCH))
        .unwrap_or_default()
        .into_iter()
        .filter(|(_, _, rank)| *rank < n)
        .collect();
    let Some(&(_, last, _)) = batch.last() else {
        return;
    };
    for (user, _, rank) in &batch {
        let position = (rank + 1).to_string();
        let pairs: [(&[u8], &[u8]); 3] = [
            (b"event", b"soon"),
            (b"user", user),
            (b"position", position.as_bytes()),
        ];
        append_logged(ctx, queue, p, now, &pairs);
    }
    set_markers_logged(ctx, queue, &[(b"soon_after", &score_text(last))]);
}

/// `expiring` for every live session that expires within `ms` and after the marker, in
/// expiry order; the marker moves to the last expiry told (a renewed session expires later,
/// so it is told again when it comes near). Sessions expiring at the same instant are told
/// together, so the marker never splits them.
fn expiring(ctx: &mut ExecCtx, queue: &[u8], p: &Policy, now: i64, ms: i64) {
    let clock = ctx.now_ms;
    let from = score_marker(ctx, queue, b"expiring_upto").max(now as f64);
    let upto = now.saturating_add(ms) as f64;
    let due: Vec<(SmallBytes, f64)> = match zset(ctx.db(&p.active), &p.active, clock) {
        Ok(Some(z)) => {
            let Some(first) = z.first_rank_in_score_range(
                &ScoreBound::Exclusive(from),
                &ScoreBound::Inclusive(upto),
            ) else {
                return;
            };
            let mut out: Vec<(SmallBytes, f64)> = Vec::new();
            for (m, s) in z.iter_from_rank(first, false) {
                let tie = out.last().is_some_and(|(_, l)| *l == s);
                if s > upto || (out.len() >= TICK_BATCH && !tie) {
                    break;
                }
                out.push((SmallBytes::new(m), s));
            }
            out
        }
        _ => return,
    };
    let Some(&(_, last)) = due.last() else {
        return;
    };
    for (user, until) in &due {
        let until = format!("{}", *until as i64);
        let pairs: [(&[u8], &[u8]); 3] = [
            (b"event", b"expiring"),
            (b"user", user),
            (b"active_until_ms", until.as_bytes()),
        ];
        append_logged(ctx, queue, p, now, &pairs);
    }
    set_markers_logged(ctx, queue, &[(b"expiring_upto", &score_text(last))]);
}

/// The no-show sweep's users, each as a `noshow` entry (logged: the sweep is the tick's).
pub(crate) fn noshows(ctx: &mut ExecCtx, queue: &[u8], p: &Policy, now: i64, gone: &[Vec<u8>]) {
    for user in gone {
        append_logged(
            ctx,
            queue,
            p,
            now,
            &[(b"event", b"noshow"), (b"user", user)],
        );
    }
}
