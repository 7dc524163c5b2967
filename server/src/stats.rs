//! Counters for INFO: per-thread, written only by their own thread (no contention on the
//! command path), summed when INFO or CONFIG RESETSTAT asks.

use crate::latency::{LatencyHistogram, Snapshot};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// Adds `n` to a counter that only the calling thread writes (a plain load/store, no locked
/// instruction).
#[inline]
pub fn bump(counter: &AtomicU64, n: u64) {
    counter.store(
        counter.load(Ordering::Relaxed).wrapping_add(n),
        Ordering::Relaxed,
    );
}

#[derive(Default)]
pub struct CommandStat {
    pub calls: AtomicU64,
    pub usec: AtomicU64,
    pub rejected_calls: AtomicU64,
    pub failed_calls: AtomicU64,
    /// Call durations (`latency-tracking`), for INFO latencystats and LATENCY HISTOGRAM.
    pub latency: LatencyHistogram,
}

/// One worker thread's counters.
pub struct ThreadStats {
    /// Indexed by registry command id.
    pub commands: Box<[CommandStat]>,
    pub commands_processed: AtomicU64,
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
    /// Socket reads and writes done (INFO's total_reads_processed / total_writes_processed).
    pub reads_processed: AtomicU64,
    pub writes_processed: AtomicU64,
    pub expired_keys: AtomicU64,
    pub error_replies: AtomicU64,
    pub keyspace_hits: AtomicU64,
    pub keyspace_misses: AtomicU64,
    /// Changes made by this thread's commands (Redis's `server.dirty`), for save points.
    pub dirty: AtomicU64,
    /// Error code → count (errorstats); errors are rare, so a lock is fine here. Codes are
    /// bytes: a script's error may hold any.
    pub errors: Mutex<HashMap<Vec<u8>, u64>>,
}

impl ThreadStats {
    pub fn new(command_count: usize) -> Self {
        ThreadStats {
            commands: (0..command_count).map(|_| CommandStat::default()).collect(),
            commands_processed: AtomicU64::new(0),
            net_input_bytes: AtomicU64::new(0),
            net_output_bytes: AtomicU64::new(0),
            reads_processed: AtomicU64::new(0),
            writes_processed: AtomicU64::new(0),
            expired_keys: AtomicU64::new(0),
            error_replies: AtomicU64::new(0),
            keyspace_hits: AtomicU64::new(0),
            keyspace_misses: AtomicU64::new(0),
            dirty: AtomicU64::new(0),
            errors: Mutex::new(HashMap::new()),
        }
    }

    pub fn record_error(&self, code: &[u8]) {
        bump(&self.error_replies, 1);
        let mut errors = self.errors.lock();
        match errors.get_mut(code) {
            Some(n) => *n += 1,
            None => {
                errors.insert(code.to_vec(), 1);
            }
        }
    }

    pub fn reset(&self) {
        for c in self.commands.iter() {
            for a in [&c.calls, &c.usec, &c.rejected_calls, &c.failed_calls] {
                a.store(0, Ordering::Relaxed);
            }
            c.latency.reset();
        }
        for a in [
            &self.commands_processed,
            &self.net_input_bytes,
            &self.net_output_bytes,
            &self.reads_processed,
            &self.writes_processed,
            &self.expired_keys,
            &self.error_replies,
            &self.keyspace_hits,
            &self.keyspace_misses,
        ] {
            a.store(0, Ordering::Relaxed);
        }
        self.errors.lock().clear();
    }
}

/// Sums one counter over every thread.
pub fn total(
    threads: &[std::sync::Arc<ThreadStats>],
    f: impl Fn(&ThreadStats) -> &AtomicU64,
) -> u64 {
    threads.iter().map(|t| f(t).load(Ordering::Relaxed)).sum()
}

/// Command `id`'s latency histogram summed over every worker thread.
pub fn command_snapshot(threads: &[std::sync::Arc<ThreadStats>], id: u32) -> Snapshot {
    let mut snapshot = Snapshot::default();
    for t in threads {
        t.commands[id as usize].latency.add_to(&mut snapshot);
    }
    snapshot
}
