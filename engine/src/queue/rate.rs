//! The measured admission rate of a queue, for estimated waits (QPOS) and summaries (QSTATS).
//!
//! An exponentially decayed count of admissions with a 60 s time constant: each admission of
//! `n` users adds `n`; the count decays by `e^(-dt/τ)`. `count / τ` estimates users per ms; in
//! the first τ after the first admission the estimate is corrected for the shorter history
//! (`τ(1 - e^(-age/τ))` instead of `τ`), so a sale that just started reports its real pace.
//!
//! These statistics live in the shard's memory, not in keys: ADMIT then writes exactly the
//! keys its seed script writes. They restart from zero when the server restarts, like INFO's.

/// Time constant of the decay.
pub const TAU_MS: f64 = 60_000.0;

#[derive(Clone, Debug, Default)]
pub struct AdmissionStats {
    /// Users admitted since the statistics started.
    pub admitted_total: u64,
    /// Decayed admission count as of `last_ms`.
    decayed: f64,
    last_ms: i64,
    first_ms: Option<i64>,
}

impl AdmissionStats {
    /// Records `n` admissions at `now_ms`.
    pub fn record(&mut self, now_ms: i64, n: u64) {
        self.decayed = self.decayed_at(now_ms) + n as f64;
        self.last_ms = self.last_ms.max(now_ms);
        self.first_ms.get_or_insert(now_ms);
        self.admitted_total += n;
    }

    fn decayed_at(&self, now_ms: i64) -> f64 {
        let dt = (now_ms - self.last_ms).max(0) as f64;
        self.decayed * (-dt / TAU_MS).exp()
    }

    /// Admissions per second at `now_ms`, or `None` before any admission.
    pub fn rate_per_sec(&self, now_ms: i64) -> Option<f64> {
        let first = self.first_ms?;
        let age = (now_ms - first).max(1) as f64;
        let window = TAU_MS * (1.0 - (-age / TAU_MS).exp());
        Some(self.decayed_at(now_ms) / window * 1000.0)
    }

    /// Milliseconds until `position` users are admitted at the current rate, if there is one.
    pub fn eta_ms(&self, position: u64, now_ms: i64) -> Option<i64> {
        let rate = self.rate_per_sec(now_ms).filter(|r| *r > 1e-9)?;
        Some((position as f64 / rate * 1000.0).ceil() as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steady_admissions_measure_their_rate() {
        let mut s = AdmissionStats::default();
        // 100 users every second for 5 minutes: 100/s.
        for t in 0..300 {
            s.record(t * 1000, 100);
        }
        let rate = s.rate_per_sec(300_000).unwrap();
        assert!((rate - 100.0).abs() < 5.0, "{rate}");
        assert_eq!(s.admitted_total, 30_000);
        let eta = s.eta_ms(1000, 300_000).unwrap();
        assert!((9_000..=11_000).contains(&eta), "{eta}");
    }

    #[test]
    fn a_young_queue_is_not_underestimated() {
        let mut s = AdmissionStats::default();
        for t in 0..10 {
            s.record(t * 1000, 50);
        }
        let rate = s.rate_per_sec(10_000).unwrap();
        assert!((rate - 50.0).abs() < 5.0, "{rate}");
    }

    #[test]
    fn no_admissions_means_no_estimate_and_rates_decay() {
        let mut s = AdmissionStats::default();
        assert_eq!(s.rate_per_sec(0), None);
        assert_eq!(s.eta_ms(10, 0), None);
        s.record(0, 600);
        let later = s.rate_per_sec(600_000).unwrap();
        assert!(later < 0.01, "{later}");
    }
}
