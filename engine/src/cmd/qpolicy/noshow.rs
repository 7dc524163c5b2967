//! No-shows: admitted users who never reach the origin. A policy with `NOSHOW ms` expects each
//! admitted user to show up (renew their session with QRENEW, or present their admission token
//! to TOKENVERIFY) within that window. Those who do not are no-shows: the server ends their
//! session (freeing their place under the cap: the stall AWS's waiting room suffered when
//! users gave up before taking their turn) and counts them, and the release rate compensates,
//! `rate / (1 - no-show ratio)` with the ratio bounded at 0.5, so the origin really sees the
//! rate the operator set.
//!
//! Everything lives in keys of the event, so snapshots, the AOF and replicas carry it:
//!
//! ```text
//! <queue>:pending   ZSET  member = admitted user, score = the Unix ms by which they must show
//! <queue>:stats     HASH  shows, noshows: counted since the policy started expecting (the
//!                         event's other durable statistics live there too: `stats.rs`)
//! ```

use super::stats::{bump, stats_key};
use crate::cmd::hash::get_hash;
use crate::cmd::queue::{zadd, zrem, MAX_BATCH};
use crate::cmd::zset::get_zset as zset;
use crate::ctx::ExecCtx;
use crate::keyspace_events as ev;
use crate::queue::policy::Policy;
use crate::types::zset::ScoreBound;
use usher_cluster::companion_key;

/// The highest no-show ratio compensated: at most twice the configured rate is released.
pub const MAX_COMPENSATED_RATIO: f64 = 0.5;

/// Admitted users who have not shown up yet, by deadline.
pub fn pending_key(queue: &[u8]) -> Vec<u8> {
    companion_key(queue, b"pending")
}

/// Expects `users`, just admitted at `now`, to show up within the policy's window.
pub(crate) fn expect(
    ctx: &mut ExecCtx,
    queue: &[u8],
    users: &[impl AsRef<[u8]>],
    p: &Policy,
    now: i64,
) {
    let Some(window) = p.noshow_ms else {
        return;
    };
    let (key, clock) = (pending_key(queue), ctx.now_ms);
    if !ctx.shards.holds(&key) || zset(ctx.db(&key), &key, clock).is_err() {
        return;
    }
    for user in users {
        zadd(ctx, &key, user.as_ref(), (now + window) as f64);
    }
    ctx.modified_in_sale(&key);
    ctx.notify(ev::ZSET, "zadd", &key);
}

/// `user` reached the origin: no longer a possible no-show. Counted once.
pub(crate) fn showed_up(ctx: &mut ExecCtx, queue: &[u8], user: &[u8]) {
    let (key, clock) = (pending_key(queue), ctx.now_ms);
    if !ctx.shards.holds(&key) || zset(ctx.db(&key), &key, clock).is_err() {
        return;
    }
    if zrem(ctx, &key, user) {
        bump(ctx, queue, b"shows", 1);
    }
}

/// (shows, noshows) counted for the event.
pub fn counts(ctx: &mut ExecCtx, queue: &[u8]) -> (i64, i64) {
    let key = stats_key(queue);
    let now = ctx.now_ms;
    match get_hash(ctx.db(&key), &key, now) {
        Ok(Some(h)) => {
            let read = |f: &[u8]| {
                h.get(f)
                    .and_then(usher_protocol::parse::parse_i64)
                    .unwrap_or(0)
            };
            (read(b"shows"), read(b"noshows"))
        }
        _ => (0, 0),
    }
}

/// The rate the tick releases: the configured one, raised by the no-show ratio seen so far
/// (bounded), so that the users who do show up arrive at the configured rate.
pub fn compensated_rate(rate_per_min: i64, shows: i64, noshows: i64) -> i64 {
    let seen = shows + noshows;
    if seen == 0 {
        return rate_per_min;
    }
    let ratio = (noshows as f64 / seen as f64).min(MAX_COMPENSATED_RATIO);
    (rate_per_min as f64 / (1.0 - ratio)).round() as i64
}

/// Ends the sessions of admitted users whose window passed without showing up (at most
/// [`MAX_BATCH`] per call), withdraws their tokens and counts them. Returns them, so the
/// tick can log the same effects.
pub(crate) fn sweep(ctx: &mut ExecCtx, queue: &[u8], p: &Policy, now: i64) -> Vec<Vec<u8>> {
    let key = pending_key(queue);
    let clock = ctx.now_ms;
    let due: Vec<Vec<u8>> = match zset(ctx.db(&key), &key, clock) {
        Ok(Some(z)) => {
            let last = z.last_rank_in_score_range(
                &ScoreBound::Inclusive(f64::NEG_INFINITY),
                &ScoreBound::Inclusive(now as f64),
            );
            let n = last.map_or(0, |l| (l + 1).min(MAX_BATCH));
            z.iter_from_rank(0, false)
                .take(n)
                .map(|(m, _)| m.to_vec())
                .collect()
        }
        _ => Vec::new(),
    };
    if due.is_empty() {
        return due;
    }
    for user in &due {
        zrem(ctx, &key, user);
        if zset(ctx.db(&p.active), &p.active, clock).is_ok() {
            zrem(ctx, &p.active, user);
        }
        crate::cmd::token::withdraw_admission_tokens(ctx, &p.active, user);
    }
    bump(ctx, queue, b"noshows", due.len() as i64);
    due
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_compensates_for_no_shows_within_bounds() {
        assert_eq!(compensated_rate(600, 0, 0), 600);
        assert_eq!(compensated_rate(600, 80, 20), 750);
        assert_eq!(
            compensated_rate(600, 1, 99),
            1200,
            "bounded at twice the rate"
        );
    }
}
