//! Redis's latency monitor: events that took at least `latency-monitor-threshold` ms, kept as a
//! short history per event class (LATENCY LATEST / HISTORY / RESET / DOCTOR).
//!
//! usher records the command classes Redis does (`command`, and `fast-command` for commands
//! flagged fast). Each class keeps its last 160 samples, at most one per second (the worst of
//! that second), and its all-time maximum. Only a command past the threshold takes the lock.

use parking_lot::Mutex;
use std::collections::{BTreeMap, VecDeque};

/// Redis's LATENCY_TS_LEN.
const HISTORY: usize = 160;

#[derive(Default)]
struct Series {
    samples: VecDeque<(i64, u64)>,
    max_ms: u64,
}

#[derive(Default)]
pub struct LatencyMonitor {
    events: Mutex<BTreeMap<&'static str, Series>>,
}

impl LatencyMonitor {
    /// Adds a sample of `ms` for `event` at `now_s`.
    pub fn record(&self, event: &'static str, ms: u64, now_s: i64) {
        let mut events = self.events.lock();
        let series = events.entry(event).or_default();
        series.max_ms = series.max_ms.max(ms);
        match series.samples.back_mut() {
            Some((t, worst)) if *t == now_s => *worst = (*worst).max(ms),
            _ => {
                series.samples.push_back((now_s, ms));
                if series.samples.len() > HISTORY {
                    series.samples.pop_front();
                }
            }
        }
    }

    /// `(event, time of the latest sample, its ms, all-time max ms)`, by event name.
    pub fn latest(&self) -> Vec<(&'static str, i64, u64, u64)> {
        self.events
            .lock()
            .iter()
            .filter_map(|(name, s)| s.samples.back().map(|&(t, ms)| (*name, t, ms, s.max_ms)))
            .collect()
    }

    /// The samples of `event`, oldest first.
    pub fn history(&self, event: &[u8]) -> Vec<(i64, u64)> {
        self.events
            .lock()
            .iter()
            .find(|(name, _)| name.as_bytes() == event)
            .map(|(_, s)| s.samples.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Drops the named events (all when none is named); returns how many were dropped.
    pub fn reset(&self, names: &[&[u8]]) -> usize {
        let mut events = self.events.lock();
        if names.is_empty() {
            let n = events.len();
            events.clear();
            return n;
        }
        let before = events.len();
        events.retain(|name, _| !names.contains(&name.as_bytes()));
        before - events.len()
    }

    /// LATENCY DOCTOR's report, in the spirit (and with the opening lines) of Redis's.
    pub fn doctor(&self, threshold_ms: u64) -> String {
        if threshold_ms == 0 {
            return "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n".to_string();
        }
        let events = self.events.lock();
        if events.values().all(|s| s.samples.is_empty()) {
            return "Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n".to_string();
        }
        let mut out = String::from(
            "Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n",
        );
        for (i, (name, s)) in events.iter().enumerate() {
            let n = s.samples.len() as u64;
            let avg = s.samples.iter().map(|(_, ms)| ms).sum::<u64>() / n.max(1);
            let period = match (s.samples.front(), s.samples.back()) {
                (Some((a, _)), Some((b, _))) if n > 1 => (b - a) / (n as i64 - 1),
                _ => 0,
            };
            out.push_str(&format!(
                "{}. {name}: {n} latency spikes (average {avg}ms, period {period} sec). Worst all time event {}ms.\n",
                i + 1,
                s.max_ms
            ));
        }
        out.push_str(&format!(
            "\nI have a few advices for you:\n\n- Check your slow log (SLOWLOG GET) for the commands that ran over {threshold_ms} milliseconds, and the waiting-room commands' batch sizes (one call moves at most 1000 users).\n"
        ));
        out
    }
}
