//! Counters for INFO: per-thread, written only by their own thread (no contention on the
//! command path), summed when INFO or CONFIG RESETSTAT asks.

use crate::latency::{LatencyHistogram, Snapshot};
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

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
    /// The server's error codes (errorstats, `Shared::errors`), shared by every thread.
    errors: Arc<ErrorTable>,
}

/// Redis's `ERROR_STATS_NUMBER`: the most error codes `INFO errorstats` keeps.
const MAX_ERROR_CODES: usize = 128;

/// Error code → count, for `INFO errorstats`: one table for the server, since its bound is
/// the server's. Codes are bytes (a script's error may hold any); errors are rare, so a lock
/// is fine here.
///
/// A script can make any number of codes (`{err='<anything> x'}`), so the table is bounded
/// as Redis 7.2 bounds it: the first code beyond 128 empties it, leaves
/// `ERRORSTATS_DISABLED` counted once, logs the codes it held, and nothing more is kept by
/// code until CONFIG RESETSTAT (`total_error_replies` goes on counting).
#[derive(Default)]
pub struct ErrorTable {
    inner: Mutex<ErrorCodes>,
}

#[derive(Default)]
struct ErrorCodes {
    counts: BTreeMap<Vec<u8>, u64>,
    disabled: bool,
}

impl ErrorTable {
    pub fn record(&self, code: &[u8]) {
        let mut t = self.inner.lock();
        if t.disabled {
            return;
        }
        if let Some(n) = t.counts.get_mut(code) {
            *n += 1;
            return;
        }
        if t.counts.len() >= MAX_ERROR_CODES {
            let codes: Vec<String> = t
                .counts
                .keys()
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect();
            crate::warning!(
                "Errorstats stopped adding new errors because the number of errors reached the limit, may be misuse of lua error_reply, please check INFO ERRORSTATS, and reset the errorstats by using CONFIG RESETSTAT"
            );
            crate::warning!("Current errors code list: {}", codes.join(","));
            t.counts.clear();
            t.counts.insert(b"ERRORSTATS_DISABLED".to_vec(), 1);
            t.disabled = true;
            return;
        }
        t.counts.insert(code.to_vec(), 1);
    }

    /// Every code and its count, in byte order (Redis's rax order).
    pub fn counts(&self) -> Vec<(Vec<u8>, u64)> {
        let t = self.inner.lock();
        t.counts.iter().map(|(c, n)| (c.clone(), *n)).collect()
    }

    pub fn reset(&self) {
        *self.inner.lock() = ErrorCodes::default();
    }
}

impl ThreadStats {
    pub fn new(command_count: usize, errors: Arc<ErrorTable>) -> Self {
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
            errors,
        }
    }

    pub fn record_error(&self, code: &[u8]) {
        bump(&self.error_replies, 1);
        self.errors.record(code);
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
