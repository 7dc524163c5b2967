//! Per-shard, in-memory queue state that is not (and must not be) in keys: the measured
//! admission statistics of each queue, by (database, queue key).

use super::rate::AdmissionStats;
use crate::bytes::SmallBytes;
use std::collections::HashMap;

#[derive(Default)]
pub struct QueueRegistry {
    stats: HashMap<(u32, SmallBytes), AdmissionStats>,
}

impl QueueRegistry {
    pub fn stats(&self, db: usize, queue: &[u8]) -> Option<&AdmissionStats> {
        self.stats.get(&(db as u32, SmallBytes::new(queue)))
    }

    pub fn record_admissions(&mut self, db: usize, queue: &[u8], now_ms: i64, n: u64) {
        self.stats
            .entry((db as u32, SmallBytes::new(queue)))
            .or_default()
            .record(now_ms, n);
    }
}
