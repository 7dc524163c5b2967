//! The event's statistics that must survive a restart or a failover, kept in a hash of the
//! event so snapshots, the AOF and replicas carry them (issue: Cloudflare's status data is
//! 20-50 s old and lost with the data centre; ours is exact and durable):
//!
//! ```text
//! <queue>:stats   HASH  admitted             users admitted since the policy started
//!                       wait_sum_ms          their total time in line
//!                       wait_le_<ms>         how many waited at most <ms> (and more than the
//!                                            previous bound): a histogram of time in line
//!                       minute, minute_admitted, prev_minute_admitted
//!                                            admissions in the current and the previous Unix
//!                                            minute: the rate the origin saw
//!                       shows, noshows       kept by the no-show policy (`noshow.rs`)
//!                       completed, abandoned sessions their buyers ended (QEND)
//! ```
//!
//! Written by every admission of a queue with a policy, at the admission's clock (`NOW` when
//! given, the tick's clock otherwise): the ADMIT that is logged for it replays to the same
//! counts. A queue without a policy writes nothing here, so ADMIT stays exactly
//! `admission_zpopmin.lua`.

use crate::cmd::hash::{get_hash, write_companion_hash};
use crate::ctx::ExecCtx;
use usher_cluster::companion_key;
use usher_protocol::parse::parse_i64;

/// The event's persistent counters.
pub fn stats_key(queue: &[u8]) -> Vec<u8> {
    companion_key(queue, b"stats")
}

/// Upper bounds (ms) of the time-in-line histogram's buckets, 1-2-5 from a second to 5.5
/// hours; longer waits land in `wait_le_inf`.
pub const WAIT_BOUNDS_MS: &[i64] = &[
    1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000, 500_000, 1_000_000, 2_000_000,
    5_000_000, 10_000_000, 20_000_000,
];

fn bucket_field(wait_ms: i64) -> Vec<u8> {
    match WAIT_BOUNDS_MS.iter().find(|&&b| wait_ms <= b) {
        Some(b) => format!("wait_le_{b}").into_bytes(),
        None => b"wait_le_inf".to_vec(),
    }
}

/// Applies `changes` (field, how to change it) to the stats hash, as HINCRBY / HSET would.
fn update(ctx: &mut ExecCtx, queue: &[u8], changes: &[(Vec<u8>, Change)]) {
    write_companion_hash(ctx, &stats_key(queue), "hincrby", |h, limits| {
        for (field, change) in changes {
            let current = h.get(field).and_then(parse_i64).unwrap_or(0);
            let next = match change {
                Change::Add(n) => current + n,
                Change::Set(v) => *v,
            };
            h.set(field, next.to_string().as_bytes(), limits);
        }
    });
}

enum Change {
    Add(i64),
    Set(i64),
}

/// Adds `n` to counter `field` (as HINCRBY would).
pub(crate) fn bump(ctx: &mut ExecCtx, queue: &[u8], field: &[u8], n: i64) {
    update(ctx, queue, &[(field.to_vec(), Change::Add(n))]);
}

/// Counts admissions made at `now` of users who arrived at `arrivals` (their line scores).
pub(crate) fn record_admissions(ctx: &mut ExecCtx, queue: &[u8], arrivals: &[f64], now: i64) {
    if arrivals.is_empty() {
        return;
    }
    let mut changes: Vec<(Vec<u8>, Change)> = Vec::with_capacity(arrivals.len().min(16) + 5);
    let mut wait_sum = 0;
    for &arrival in arrivals {
        let wait = (now - arrival as i64).max(0);
        wait_sum += wait;
        let field = bucket_field(wait);
        match changes.iter_mut().find(|(f, _)| *f == field) {
            Some((_, Change::Add(n))) => *n += 1,
            _ => changes.push((field, Change::Add(1))),
        }
    }
    let n = arrivals.len() as i64;
    changes.push((b"admitted".to_vec(), Change::Add(n)));
    changes.push((b"wait_sum_ms".to_vec(), Change::Add(wait_sum)));
    let minute = now.div_euclid(60_000);
    let (last_minute, this_minute) = read(ctx, queue, &[b"minute", b"minute_admitted"]);
    if last_minute == minute {
        changes.push((b"minute_admitted".to_vec(), Change::Add(n)));
    } else {
        let previous = if last_minute == minute - 1 {
            this_minute
        } else {
            0
        };
        changes.push((b"prev_minute_admitted".to_vec(), Change::Set(previous)));
        changes.push((b"minute".to_vec(), Change::Set(minute)));
        changes.push((b"minute_admitted".to_vec(), Change::Set(n)));
    }
    update(ctx, queue, &changes);
}

/// Reads two integer fields of the stats hash (0 when missing).
fn read(ctx: &mut ExecCtx, queue: &[u8], fields: &[&[u8]; 2]) -> (i64, i64) {
    let key = stats_key(queue);
    let now = ctx.now_ms;
    match get_hash(ctx.db(&key), &key, now) {
        Ok(Some(h)) => {
            let get = |f: &[u8]| h.get(f).and_then(parse_i64).unwrap_or(0);
            (get(fields[0]), get(fields[1]))
        }
        _ => (0, 0),
    }
}

/// What QSTATS shows from the stats hash.
#[derive(Debug, Default, PartialEq)]
pub struct Durable {
    pub admitted: i64,
    /// Admissions in the last complete Unix minute.
    pub last_minute: i64,
    /// Time in line of the admitted users at the 50th, 90th and 99th percentiles (ms),
    /// interpolated within the histogram's bucket; None before any admission.
    pub wait_ms: Option<[i64; 3]>,
    pub shows: i64,
    pub noshows: i64,
    /// Sessions their buyers ended with QEND: purchases completed, and given up.
    pub completed: i64,
    pub abandoned: i64,
}

/// The durable statistics of `queue` as of `now`.
pub fn durable(ctx: &mut ExecCtx, queue: &[u8], now: i64) -> Durable {
    let key = stats_key(queue);
    let clock = ctx.now_ms;
    let Ok(Some(h)) = get_hash(ctx.db(&key), &key, clock) else {
        return Durable::default();
    };
    let get = |f: &[u8]| h.get(f).and_then(parse_i64).unwrap_or(0);
    let minute = now.div_euclid(60_000);
    let last_minute = match get(b"minute") {
        m if m == minute => get(b"prev_minute_admitted"),
        m if m == minute - 1 => get(b"minute_admitted"),
        _ => 0,
    };
    let mut buckets: Vec<(i64, i64)> = WAIT_BOUNDS_MS
        .iter()
        .map(|&b| (b, get(format!("wait_le_{b}").as_bytes())))
        .collect();
    buckets.push((i64::MAX, get(b"wait_le_inf")));
    Durable {
        admitted: get(b"admitted"),
        last_minute,
        wait_ms: percentiles(&buckets, [0.5, 0.9, 0.99]),
        shows: get(b"shows"),
        noshows: get(b"noshows"),
        completed: get(b"completed"),
        abandoned: get(b"abandoned"),
    }
}

/// Percentiles from histogram `buckets` of (upper bound, count), interpolated linearly within
/// the bucket as Prometheus's `histogram_quantile` does; the open last bucket reports its
/// lower bound.
fn percentiles(buckets: &[(i64, i64)], ps: [f64; 3]) -> Option<[i64; 3]> {
    let total: i64 = buckets.iter().map(|b| b.1).sum();
    if total == 0 {
        return None;
    }
    Some(ps.map(|p| {
        let rank = p * total as f64;
        let (mut below, mut lower) = (0i64, 0i64);
        for &(upper, count) in buckets {
            if count > 0 && (below + count) as f64 >= rank {
                if upper == i64::MAX {
                    return lower;
                }
                let within = (rank - below as f64) / count as f64;
                return lower + ((upper - lower) as f64 * within).round() as i64;
            }
            below += count;
            lower = upper;
        }
        lower
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_land_in_their_bucket() {
        assert_eq!(bucket_field(0), b"wait_le_1000");
        assert_eq!(bucket_field(1_000), b"wait_le_1000");
        assert_eq!(bucket_field(1_001), b"wait_le_2000");
        assert_eq!(bucket_field(30_000_000), b"wait_le_inf");
    }

    #[test]
    fn percentiles_interpolate_within_the_bucket() {
        // 100 waits: 50 of at most 1 s, 40 in (1 s, 2 s], 10 in (2 s, 5 s].
        let b = [(1_000, 50), (2_000, 40), (5_000, 10), (i64::MAX, 0)];
        assert_eq!(
            percentiles(&b, [0.5, 0.9, 0.99]),
            Some([1_000, 2_000, 4_700])
        );
        assert_eq!(percentiles(&[(1_000, 0), (i64::MAX, 0)], [0.5; 3]), None);
        // Everyone in the open bucket: its lower bound.
        assert_eq!(
            percentiles(&[(1_000, 0), (i64::MAX, 3)], [0.5; 3]),
            Some([1_000; 3])
        );
    }
}
