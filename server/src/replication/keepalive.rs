//! The primary's once-a-second replication duties, as Redis 7.0's `replicationCron` does them:
//! a `PING` into the stream every `repl-ping-replica-period` seconds, so a replica of an idle
//! primary still hears from it within its `repl-timeout` and can tell a silent network from a
//! quiet one; and dropping an online replica whose last `REPLCONF ACK` (or keep-alive newline)
//! is older than `repl-timeout`, so a partitioned replica stops pinning the replication buffer
//! and, once back, resyncs partially or fully depending on what the backlog still holds.
//!
//! The PING goes through the backlog like any write, so it advances `master_repl_offset` by its
//! 14 bytes exactly as Redis's does and a redis-server replica of usher stays in step.

use super::primary::feed_own;
use crate::shared::{unix_ms, Shared};
use std::sync::atomic::{AtomicU64, Ordering};

/// Calls so far (Redis's `replication_cron_loops`): the PING goes out when it is a multiple of
/// the period, the first one at once.
static LOOPS: AtomicU64 = AtomicU64::new(0);

/// One second's work; the runtime's housekeeping calls it about once a second.
pub fn tick(shared: &Shared) {
    let (period, timeout_ms) = {
        let c = shared.config.read();
        (
            c.repl.repl_ping_replica_period.max(1),
            c.repl.repl_timeout.saturating_mul(1000) as i64,
        )
    };
    let loops = LOOPS.fetch_add(1, Ordering::Relaxed);
    let r = &shared.replication;
    // A replica never PINGs its own replicas: they get its primary's stream byte for byte
    // (`feed_own` leaves a replica's backlog alone).
    if loops.is_multiple_of(period) && !r.replicas.lock().is_empty() {
        feed_own(shared, &[b"PING"]);
    }
    let now = unix_ms();
    let silent: Vec<(u64, String)> = r
        .replicas
        .lock()
        .iter()
        .filter(|l| {
            l.state.load(Ordering::Relaxed) == 2
                && !l.pre_psync
                && now - l.ack_ms.load(Ordering::Relaxed) > timeout_ms
        })
        .map(|l| (l.client_id, l.name()))
        .collect();
    for (id, name) in silent {
        // Killed already (a tick ago, the connection still closing): said once.
        if let Some(c) = shared.clients.get(id).filter(|c| !c.killed()) {
            crate::warning!("Disconnecting timedout replica (streaming sync): {name}");
            c.request_kill();
        }
    }
}
