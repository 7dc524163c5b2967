//! The background thread that drops large values, so that DEL, FLUSHALL or an expiring
//! 10-million-member set never stalls a shard (see `usher_engine::lazyfree`).

use std::sync::atomic::{AtomicUsize, Ordering};
use usher_engine::lazyfree::Garbage;

static PENDING: AtomicUsize = AtomicUsize::new(0);
static FREED: AtomicUsize = AtomicUsize::new(0);

/// Objects the thread has dropped (INFO's `lazyfreed_objects`).
pub fn freed() -> usize {
    FREED.load(Ordering::Relaxed)
}

/// Objects handed over and not yet dropped (INFO's `lazyfree_pending_objects`).
pub fn pending() -> usize {
    PENDING.load(Ordering::Relaxed)
}

/// Starts the reclaimer thread and installs it as the engine's reclaimer.
pub fn start() {
    let (tx, rx) = crossbeam_channel::unbounded::<Garbage>();
    std::thread::Builder::new()
        .name("usher-lazyfree".into())
        .spawn(move || {
            for garbage in rx {
                drop(garbage);
                PENDING.fetch_sub(1, Ordering::Relaxed);
                FREED.fetch_add(1, Ordering::Relaxed);
            }
        })
        .expect("spawn lazyfree thread");
    usher_engine::lazyfree::install(move |garbage| {
        PENDING.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = tx.send(garbage) {
            PENDING.fetch_sub(1, Ordering::Relaxed);
            drop(e.into_inner());
        }
    });
}
