//! Which workers are running a script, so that the acceptor sends new connections elsewhere.
//!
//! A script runs on its caller's worker thread and keeps it until it ends: the other
//! connections of that worker wait meanwhile. Redis, with one thread, answers them `BUSY`
//! while it runs a script past `busy-reply-threshold`; usher's other workers do too, but the
//! script's own worker cannot answer anyone. So a new connection (an operator's `SCRIPT KILL`,
//! say) is never handed to a worker whose script has run for [`BUSY_AFTER_MS`]. When every
//! worker is in that state (always, with `--threads 1`), it goes to the *spare*: one more worker
//! thread, started with the others, that takes connections only then. There the gate answers
//! `BUSY` before taking any lock, and `SCRIPT KILL`, `FUNCTION KILL` and `SHUTDOWN NOSAVE` get
//! through, as on Redis: a runaway script can always be stopped from a fresh connection.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// A worker whose script has run this long gets no new connections.
pub const BUSY_AFTER_MS: u64 = 20;

thread_local! {
    /// This thread's worker index (none on the acceptor or a helper thread).
    static WORKER: Cell<Option<usize>> = const { Cell::new(None) };
}

/// Per worker: the Unix ms its running script started at, 0 when none runs.
static SINCE: OnceLock<Box<[AtomicU64]>> = OnceLock::new();

/// Sizes the table once, before the workers start.
pub fn init(threads: usize) {
    let _ = SINCE.set((0..threads).map(|_| AtomicU64::new(0)).collect());
}

/// Marks the calling thread as worker `index`.
pub fn set_worker(index: usize) {
    WORKER.with(|w| w.set(Some(index)));
}

fn slot() -> Option<&'static AtomicU64> {
    let index = WORKER.with(Cell::get)?;
    SINCE.get()?.get(index)
}

/// Marks the calling worker as running a script until the value is dropped.
pub struct Running(Option<&'static AtomicU64>);

impl Running {
    pub fn start(now_ms: u64) -> Running {
        let slot = slot();
        if let Some(s) = slot {
            s.store(now_ms.max(1), Ordering::Relaxed);
        }
        Running(slot)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(s) = self.0 {
            s.store(0, Ordering::Relaxed);
        }
    }
}

/// The worker for the next connection among `workers` (the last of them the spare): `next` in
/// the round robin over the others unless it is busy with a script, else the next one that is
/// not; the spare when all of them are; `next` when the spare is busy too.
pub fn pick(next: usize, workers: usize, now_ms: u64) -> usize {
    let Some(since) = SINCE.get() else {
        return next;
    };
    let free = |w: usize| {
        since
            .get(w)
            .map(|s| s.load(Ordering::Relaxed))
            .is_none_or(|t| t == 0 || now_ms.saturating_sub(t) < BUSY_AFTER_MS)
    };
    let regular = workers.saturating_sub(1).max(1);
    let spare = workers - 1;
    (0..regular)
        .map(|i| (next + i) % regular)
        .find(|&w| free(w))
        .or_else(|| (spare >= regular && free(spare)).then_some(spare))
        .unwrap_or(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_worker_is_skipped_and_the_spare_takes_over_when_all_are_busy() {
        // Three regular workers and the spare (index 3).
        init(4);
        let since = SINCE.get().unwrap();
        assert_eq!(pick(1, 4, 1_000), 1);
        since[1].store(900, Ordering::Relaxed);
        assert_eq!(pick(1, 4, 1_000), 2);
        // A script that only just started is not busy yet.
        assert_eq!(pick(1, 4, 910), 1);
        since[2].store(900, Ordering::Relaxed);
        since[0].store(900, Ordering::Relaxed);
        assert_eq!(
            pick(1, 4, 1_000),
            3,
            "every regular worker is busy: the spare"
        );
        since[3].store(900, Ordering::Relaxed);
        assert_eq!(pick(1, 4, 1_000), 1, "the spare is busy too");
        for s in since.iter() {
            s.store(0, Ordering::Relaxed);
        }
        assert_eq!(
            pick(2, 4, 1_000),
            2,
            "the spare takes nothing while others are free"
        );
    }
}
