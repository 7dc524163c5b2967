//! Priority lanes (presale, VIP, accessibility): lines of their own inside one event, each
//! receiving a set share of every admission batch (`QPOLICY SET ... LANES presale:30`).
//!
//! A lane's waiters live in `<queue>:lane:<name>` (member = user, score = arrival, from the
//! queue's one arrival clock), beside the main line; everything else of the event (cap, rate,
//! heartbeats, tokens, statistics, feed) is the queue's and applies to them alike. A user
//! waits in one place: the main line or one lane.
//!
//! Who is admitted next is chosen by smooth weighted round robin over the sources that have
//! someone waiting: each pick adds every waiting source's share to its weight, takes the
//! heaviest (lanes before the main line on a tie) and subtracts the waiting sources' total
//! from it. Over any run of admissions each source gets its share to within one user, a
//! source with nobody waiting neither receives nor saves up admissions (no burst when a lane
//! fills again), and the weights live in the hash `<queue>:lanes`, so a replayed ADMIT picks
//! the same users.

use crate::cmd::hash::{get_hash, write_companion_hash};
use crate::cmd::queue::{check_zset, drop_if_empty};
use crate::cmd::zset::get_zset as zset;
use crate::ctx::ExecCtx;
use crate::error::CmdError;
use crate::keyspace_events as ev;
use crate::queue::policy::{lane_key, lane_weights_key, Policy};
use usher_protocol::parse::parse_i64;

/// Where a waiting user stands in a lane: its index in the policy and the 0-based rank.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LanePlace {
    pub lane: usize,
    pub rank: usize,
}

/// WRONGTYPE unless every lane key of the policy is absent or a sorted set (checked before
/// anything changes).
pub(crate) fn check(ctx: &mut ExecCtx, queue: &[u8], p: Option<&Policy>) -> Result<(), CmdError> {
    for lane in p.map_or(&[][..], |p| &p.lanes) {
        check_zset(ctx, &lane_key(queue, &lane.name))?;
    }
    Ok(())
}

/// The lane `user` waits in, if any.
pub(crate) fn locate(
    ctx: &mut ExecCtx,
    queue: &[u8],
    p: Option<&Policy>,
    user: &[u8],
) -> Result<Option<LanePlace>, CmdError> {
    let now = ctx.now_ms;
    for (i, lane) in p.map_or(&[][..], |p| &p.lanes).iter().enumerate() {
        let key = lane_key(queue, &lane.name);
        if let Some(z) = zset(ctx.db(&key), &key, now)? {
            if let Some(rank) = z.rank(user) {
                return Ok(Some(LanePlace { lane: i, rank }));
            }
        }
    }
    Ok(None)
}

/// How many wait in each lane, in the policy's order.
pub(crate) fn lengths(ctx: &mut ExecCtx, queue: &[u8], p: Option<&Policy>) -> Vec<usize> {
    let now = ctx.now_ms;
    p.map_or(&[][..], |p| &p.lanes)
        .iter()
        .map(|lane| {
            let key = lane_key(queue, &lane.name);
            match zset(ctx.db(&key), &key, now) {
                Ok(Some(z)) => z.len(),
                _ => 0,
            }
        })
        .collect()
}

/// Everyone waiting in the lanes.
pub(crate) fn waiting(ctx: &mut ExecCtx, queue: &[u8], p: Option<&Policy>) -> usize {
    lengths(ctx, queue, p).into_iter().sum()
}

/// Takes `user` out of whichever lane holds them; their arrival score if one did.
pub(crate) fn remove(
    ctx: &mut ExecCtx,
    queue: &[u8],
    p: Option<&Policy>,
    user: &[u8],
) -> Option<f64> {
    let now = ctx.now_ms;
    for lane in p.map_or(&[][..], |p| &p.lanes) {
        let key = lane_key(queue, &lane.name);
        let Ok(Some(z)) = zset(ctx.db(&key), &key, now) else {
            continue;
        };
        if let Some(score) = z.remove(user) {
            ctx.notify(ev::ZSET, "zrem", &key);
            drop_if_empty(ctx, &key);
            ctx.modified_in_sale(&key);
            return Some(score);
        }
    }
    None
}

/// The share of admissions a lane's waiters can count on now: its share among the sources
/// with someone waiting (the main line's included), for their estimated wait.
pub(crate) fn effective_share(p: &Policy, lane: usize, main_len: usize, lens: &[usize]) -> f64 {
    let mut total = if main_len > 0 { p.main_share() } else { 0 };
    for (l, len) in p.lanes.iter().zip(lens) {
        if *len > 0 {
            total += l.share;
        }
    }
    let share = p.lanes[lane].share;
    if total <= 0 {
        1.0
    } else {
        (share as f64 / total as f64).min(1.0)
    }
}

/// The admission picker of one round: the sources' weights and how many wait in each.
/// Source 0 is the main line, source `i + 1` lane `i`.
pub(crate) struct Picker {
    shares: Vec<i64>,
    weights: Vec<i64>,
    waiting: Vec<usize>,
    changed: bool,
}

impl Picker {
    /// Reads the weights and the lanes' lengths; `main_len` is the main line's.
    pub fn load(ctx: &mut ExecCtx, queue: &[u8], p: &Policy, main_len: usize) -> Picker {
        let mut shares = vec![p.main_share()];
        shares.extend(p.lanes.iter().map(|l| l.share));
        let mut waiting = vec![main_len];
        waiting.extend(lengths(ctx, queue, Some(p)));
        let key = lane_weights_key(queue);
        let now = ctx.now_ms;
        let stored = get_hash(ctx.db(&key), &key, now).ok().flatten();
        let weight = |name: &[u8]| {
            stored
                .as_ref()
                .and_then(|h| h.get(name))
                .and_then(parse_i64)
                .unwrap_or(0)
        };
        let mut weights = vec![weight(b"main")];
        weights.extend(p.lanes.iter().map(|l| weight(&l.name)));
        Picker {
            shares,
            weights,
            waiting,
            changed: false,
        }
    }

    /// The source the next admission comes from, and the weights once it is taken; `None`
    /// when nobody waits anywhere.
    pub fn choose(&self) -> Option<(usize, Vec<i64>)> {
        let live = || (0..self.shares.len()).filter(|&i| self.waiting[i] > 0);
        let total: i64 = live().map(|i| self.shares[i]).sum();
        let mut next = self.weights.clone();
        for i in live() {
            next[i] += self.shares[i];
        }
        // Lanes before the main line on a tie: the order a presale expects (`max_by_key`
        // keeps the last of equals, so the walk runs backwards to prefer earlier lanes).
        let pick = live().rev().max_by_key(|&i| (next[i], i != 0))?;
        next[pick] -= total;
        Some((pick, next))
    }

    /// Records that `source` gave one user (admitted: the weights move; dropped for a lapsed
    /// heartbeat: only the count does).
    pub fn took(&mut self, source: usize, weights: Vec<i64>, admitted: bool) {
        self.waiting[source] = self.waiting[source].saturating_sub(1);
        if admitted {
            self.weights = weights;
            self.changed = true;
        }
    }

    /// A source turned out empty (its waiters were all stale, or another shard's count was
    /// off): nothing more is taken from it this round.
    pub fn exhausted(&mut self, source: usize) {
        self.waiting[source] = 0;
    }

    /// Writes the weights back, as HSET would.
    pub fn save(&self, ctx: &mut ExecCtx, queue: &[u8], p: &Policy) {
        if !self.changed {
            return;
        }
        write_companion_hash(ctx, &lane_weights_key(queue), "hset", |h, limits| {
            h.set(b"main", self.weights[0].to_string().as_bytes(), limits);
            for (lane, w) in p.lanes.iter().zip(&self.weights[1..]) {
                h.set(&lane.name, w.to_string().as_bytes(), limits);
            }
        });
    }
}

/// After a round took users from lane `i`: its key's notification, and the key goes if empty.
pub(crate) fn touched(ctx: &mut ExecCtx, queue: &[u8], p: &Policy, i: usize, event: &'static str) {
    let key = lane_key(queue, &p.lanes[i].name);
    ctx.notify(ev::ZSET, event, &key);
    drop_if_empty(ctx, &key);
    ctx.modified_in_sale(&key);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picker(shares: &[i64], waiting: &[usize]) -> Picker {
        Picker {
            shares: shares.to_vec(),
            weights: vec![0; shares.len()],
            waiting: waiting.to_vec(),
            changed: false,
        }
    }

    fn run(p: &mut Picker, n: usize) -> Vec<usize> {
        let mut got = vec![0; p.shares.len()];
        for _ in 0..n {
            let (i, w) = p.choose().unwrap();
            p.took(i, w, true);
            got[i] += 1;
        }
        got
    }

    #[test]
    fn each_source_gets_its_share_to_within_one() {
        for n in [1usize, 7, 10, 33, 100] {
            let mut p = picker(&[60, 30, 10], &[1000, 1000, 1000]);
            let got = run(&mut p, n);
            for (i, share) in [60, 30, 10].iter().enumerate() {
                let want = n as f64 * *share as f64 / 100.0;
                assert!((got[i] as f64 - want).abs() <= 1.0, "n={n} {got:?}");
            }
        }
    }

    #[test]
    fn a_lane_with_nobody_waiting_saves_nothing_up() {
        let mut p = picker(&[70, 30], &[1000, 0]);
        assert_eq!(run(&mut p, 50), vec![50, 0]);
        p.waiting[1] = 1000;
        // From now on 70/30, not a burst for the lane that was empty.
        let got = run(&mut p, 10);
        assert_eq!(got, vec![7, 3]);
    }

    #[test]
    fn a_main_line_without_a_share_is_served_once_the_lanes_are_empty() {
        let mut p = picker(&[0, 100], &[5, 2]);
        assert_eq!(run(&mut p, 4), vec![2, 2]);
        assert_eq!(run(&mut p, 3), vec![3, 0]);
        assert!(p.choose().is_none());
    }

    #[test]
    fn lanes_win_a_tie() {
        let p = picker(&[50, 50], &[10, 10]);
        assert_eq!(p.choose().unwrap().0, 1);
    }
}
