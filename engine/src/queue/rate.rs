//! The measured admission rate of a queue, for estimated waits (QPOS) and summaries (QSTATS).
//!
//! A sliding window of the last [`WINDOW_MS`] of admissions, in [`BUCKET_MS`] buckets. Admissions
//! usually come in batches (the seeds' processor admits 100 every 10 s; a policy a few every
//! tick), so the rate is measured between batches: the users admitted after the window's first
//! batch, over the time from that batch to the last one. Until the window holds
//! [`MIN_BATCHES`] batches spanning [`MIN_SPAN_MS`] the rate is unknown: one batch says nothing
//! about a pace (the first `ADMIT 100` once read as 6,000,000 a minute). When batches stop
//! coming, the time since the first batch takes over the denominator, so the rate decays.
//!
//! These statistics live in the shard's memory, not in keys: ADMIT then writes exactly the
//! keys its seed script writes. They start again when the line is deleted (DEL, FLUSHDB,
//! FLUSHALL), on CONFIG RESETSTAT, and when the server restarts.

use std::collections::VecDeque;

/// How far back admissions count.
pub const WINDOW_MS: i64 = 60_000;
/// Batches needed before the rate is known.
pub const MIN_BATCHES: usize = 3;
/// Time the batches must span before the rate is known.
pub const MIN_SPAN_MS: i64 = 1_000;
/// Admissions this close together count as one batch (a policy ticks every 100 ms).
pub const BUCKET_MS: i64 = 250;

#[derive(Clone, Debug, Default)]
pub struct AdmissionStats {
    /// Users admitted since the statistics started.
    pub admitted_total: u64,
    /// (time of the bucket's last admission, users admitted in the bucket), oldest first; one
    /// bucket per `BUCKET_MS`, at most `WINDOW_MS / BUCKET_MS + 1` of them.
    buckets: VecDeque<(i64, u64)>,
}

impl AdmissionStats {
    /// Records `n` admissions at `now_ms`.
    pub fn record(&mut self, now_ms: i64, n: u64) {
        if n == 0 {
            return;
        }
        self.admitted_total += n;
        match self.buckets.back_mut() {
            Some((t, count)) if now_ms.div_euclid(BUCKET_MS) == t.div_euclid(BUCKET_MS) => {
                *t = (*t).max(now_ms);
                *count += n;
            }
            Some((t, _)) if now_ms < *t => {
                // A clock that stepped back joins the latest batch rather than reordering.
                self.buckets.back_mut().expect("checked").1 += n;
            }
            _ => self.buckets.push_back((now_ms, n)),
        }
        self.trim(now_ms);
    }

    fn trim(&mut self, now_ms: i64) {
        while self
            .buckets
            .front()
            .is_some_and(|(t, _)| *t <= now_ms - WINDOW_MS)
        {
            self.buckets.pop_front();
        }
    }

    /// Admissions per ms at `now_ms`, or `None` while the window says too little.
    pub fn rate_per_ms(&self, now_ms: i64) -> Option<f64> {
        let live: Vec<(i64, u64)> = self
            .buckets
            .iter()
            .copied()
            .filter(|(t, _)| *t > now_ms - WINDOW_MS)
            .collect();
        let (&(first, first_n), &(last, _)) = (live.first()?, live.last()?);
        let span = last - first;
        if live.len() < MIN_BATCHES || span < MIN_SPAN_MS {
            return None;
        }
        let after_first: u64 = live.iter().map(|(_, n)| n).sum::<u64>() - first_n;
        let gap = span / (live.len() as i64 - 1);
        let denominator = span.max(now_ms - first - gap);
        Some(after_first as f64 / denominator as f64)
    }

    /// Users admitted in the last minute (Cloudflare's "new users per minute", which
    /// automatic queueing compares with the policy's rate).
    pub fn admitted_last_minute(&self, now_ms: i64) -> u64 {
        self.buckets
            .iter()
            .filter(|(t, _)| *t > now_ms - WINDOW_MS)
            .map(|(_, n)| n)
            .sum()
    }

    /// Users per minute, if known.
    pub fn rate_per_min(&self, now_ms: i64) -> Option<f64> {
        self.rate_per_ms(now_ms).map(|r| r * 60_000.0)
    }
}

/// Milliseconds until `position` users are admitted at `per_ms`, counting from `start_ms` (the
/// opening time when the sale has not opened yet, else now).
pub fn eta_ms(position: u64, per_ms: f64, now_ms: i64, start_ms: i64) -> Option<i64> {
    if per_ms <= 1e-12 {
        return None;
    }
    let wait = (start_ms - now_ms).max(0) as f64 + position as f64 / per_ms;
    Some(wait.ceil().min(i64::MAX as f64) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_every_ten_seconds_measure_their_pace_once_three_are_seen() {
        let mut s = AdmissionStats::default();
        // The seeds' processor: 100 users every 10 s, i.e. 10 a second.
        s.record(0, 100);
        assert_eq!(s.rate_per_ms(1), None, "one batch says nothing");
        s.record(10_000, 100);
        assert_eq!(s.rate_per_ms(10_001), None);
        s.record(20_000, 100);
        for now in [20_001, 25_000, 29_999] {
            let r = s.rate_per_ms(now).unwrap() * 1000.0;
            assert!((r - 10.0).abs() < 0.01, "{r} at {now}");
        }
        // 1,000 waiting at 10 a second: about 100 s, not 10 ms.
        let eta = eta_ms(900, s.rate_per_ms(20_001).unwrap(), 20_001, 20_001).unwrap();
        assert!((85_000..=95_000).contains(&eta), "{eta}");
    }

    #[test]
    fn a_policy_tick_pace_is_measured_and_decays_when_admissions_stop() {
        let mut s = AdmissionStats::default();
        for t in 0..100 {
            s.record(t * 100, 2); // 2 every 100 ms: 20 a second
        }
        let r = s.rate_per_ms(10_000).unwrap() * 1000.0;
        assert!((r - 20.0).abs() < 1.0, "{r}");
        let later = s.rate_per_ms(40_000).unwrap() * 1000.0;
        assert!(later < r / 2.0, "{later}");
        assert_eq!(s.rate_per_ms(200_000), None, "nothing in the window");
        assert_eq!(s.admitted_total, 200);
    }

    #[test]
    fn a_sale_that_has_not_opened_adds_the_time_to_opening() {
        assert_eq!(eta_ms(10, 0.01, 0, 60_000), Some(61_000));
        assert_eq!(eta_ms(10, 0.0, 0, 0), None);
    }
}
