//! Per-shard, in-memory queue state that is not (and must not be) in keys: the measured
//! admission statistics of each queue, and which queues have a policy the server runs (with
//! the policy's admission bucket), by (database, queue key).

use super::policy::Bucket;
use super::rate::AdmissionStats;
use crate::bytes::SmallBytes;
use foldhash::HashMap;

#[derive(Default)]
pub struct QueueRegistry {
    stats: HashMap<(u32, SmallBytes), AdmissionStats>,
    policies: HashMap<(u32, SmallBytes), Bucket>,
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

    /// True when `queue` has a policy; one emptiness check when no queue has one.
    #[inline]
    pub fn has_policy(&self, db: usize, queue: &[u8]) -> bool {
        !self.policies.is_empty()
            && self
                .policies
                .contains_key(&(db as u32, SmallBytes::new(queue)))
    }

    pub fn register_policy(&mut self, db: usize, queue: &[u8]) {
        self.policies
            .entry((db as u32, SmallBytes::new(queue)))
            .or_default();
    }

    pub fn unregister_policy(&mut self, db: usize, queue: &[u8]) -> bool {
        self.policies
            .remove(&(db as u32, SmallBytes::new(queue)))
            .is_some()
    }

    /// Queues with a policy, for the server's tick.
    pub fn policy_queues(&self) -> Vec<(usize, SmallBytes)> {
        self.policies
            .keys()
            .map(|(db, q)| (*db as usize, q.clone()))
            .collect()
    }

    pub fn bucket(&mut self, db: usize, queue: &[u8]) -> Option<&mut Bucket> {
        self.policies.get_mut(&(db as u32, SmallBytes::new(queue)))
    }
}
