//! Wake-ups between the worker threads and the AOF writer, at most one each way per worker
//! per event-loop turn (the profile of the first AOF had a futex wake to the writer for every
//! append and a wake of every waiting connection, on every thread, after every fsync).
//!
//! - **Worker → writer.** An append only copies bytes into the stream. A connection that
//!   appended asks its worker's *dispatcher* (one local task per worker thread) to see the
//!   bytes written; the dispatcher, woken locally, runs after the connections already queued
//!   in this turn, so once per turn, as Redis writes its AOF buffer once per event-loop turn.
//!   The dispatcher writes the file itself (`aof::turn_end`), and under `always` fsyncs it,
//!   then wakes the turn's connections locally: no other thread is involved (handing the
//!   write to the writer cost a futex wake there and a cross-thread wake back per turn). The
//!   writer thread is kicked only for the server's own jobs (`Stream::append`); the kick is a
//!   futex wake only when it sleeps (`writer_sleeping`).
//! - **Fsync → other workers.** A connection parks its replies (until its bytes are written,
//!   or fsynced under `appendfsync always`, `aof::sync_covers`) in its worker's waiter list
//!   with the offset they need. After each fsync (a worker's, or the writer's) only the
//!   workers whose smallest waited-for offset it covers are notified (one cross-thread wake
//!   per worker), and their dispatcher wakes only the covered connections (local wakes).
//!
//! Lost wake-ups are excluded the same way on both sides: the waiting side publishes what it
//! waits for, then re-reads the state it waits on (all `SeqCst`), and the waking side changes
//! that state, then reads what is waited for.

use super::Stream;
use crate::shared::Shared;
use parking_lot::{Condvar, Mutex};
use std::cell::RefCell;
use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::task::{Poll, Waker};
use std::time::Duration;

/// The writer's side: its sleep, and the workers it wakes.
#[derive(Default)]
pub struct Wake {
    /// Set by the writer (under the stream's mutex) just before it waits for bytes.
    writer_sleeping: AtomicBool,
    writer: Condvar,
    /// One per worker thread that ever waited for an fsync.
    hubs: Mutex<Vec<&'static Hub>>,
}

/// One worker thread's end of the group commit.
struct Hub {
    /// The smallest stream offset a connection of this worker waits for (`u64::MAX`: none).
    min_waiting: AtomicU64,
    /// The writer's wake-up for this worker's dispatcher.
    synced: tokio::sync::Notify,
}

/// What only the worker thread itself touches.
struct Local {
    hub: &'static Hub,
    /// Connections waiting for an fsync: the offset each needs and its waker.
    waiters: Vec<(u64, Waker)>,
    /// A connection appended in this turn: the dispatcher kicks the writer.
    kick: bool,
    /// The dispatcher, while it waits for a local request.
    dispatcher: Option<Waker>,
}

thread_local! {
    static LOCAL: RefCell<Option<Local>> = const { RefCell::new(None) };
}

impl Wake {
    /// The writer waits (up to `timeout`) for bytes; called with the stream's mutex held and
    /// its buffer empty.
    pub fn writer_wait<T>(&self, guard: &mut parking_lot::MutexGuard<'_, T>, timeout: Duration) {
        self.writer_sleeping.store(true, SeqCst);
        self.writer.wait_for(guard, timeout);
        self.writer_sleeping.store(false, SeqCst);
    }

    /// After the writer published a new synced offset: wakes the workers it covers a waiter of.
    pub fn synced(&self, synced: u64) {
        for hub in self.hubs.lock().iter() {
            if hub.min_waiting.load(SeqCst) <= synced {
                hub.synced.notify_one();
            }
        }
    }

    /// Wakes every waiting worker (the AOF turned off, or `appendfsync` changed): each
    /// re-checks its waiters.
    pub fn all(&self) {
        for hub in self.hubs.lock().iter() {
            hub.synced.notify_one();
        }
    }
}

impl Stream {
    /// Wakes the writer if it sleeps (appends made before this call are then seen by it).
    pub fn kick(&self) {
        if self.wake.writer_sleeping.swap(false, SeqCst) {
            // The writer set the flag under the mutex and holds it until it waits: taking the
            // mutex here makes sure the notification finds it waiting.
            drop(self.inner.lock());
            self.wake.writer.notify_one();
        }
    }
}

/// This thread's local state, created with its dispatcher on first use (worker threads
/// only: they run a `LocalSet`).
fn with_local<R>(shared: &'static Shared, f: impl FnOnce(&mut Local) -> R) -> R {
    LOCAL.with(|cell| {
        let mut cell = cell.borrow_mut();
        let local = cell.get_or_insert_with(|| {
            let hub: &'static Hub = Box::leak(Box::new(Hub {
                min_waiting: AtomicU64::new(u64::MAX),
                synced: tokio::sync::Notify::new(),
            }));
            shared.stream.wake.hubs.lock().push(hub);
            tokio::task::spawn_local(dispatcher(shared, hub));
            Local {
                hub,
                waiters: Vec::new(),
                kick: false,
                dispatcher: None,
            }
        });
        f(local)
    })
}

/// Asks for the writer to be kicked at the end of this turn.
fn request_kick(local: &mut Local) {
    if !local.kick {
        local.kick = true;
        if let Some(w) = local.dispatcher.take() {
            w.wake();
        }
    }
}

/// A connection's turn appended up to stream offset `to`; under `appendfsync always` its
/// replies wait until the AOF has that offset on disk.
pub async fn turn_appended(shared: &'static Shared, to: u64) {
    if !shared.stream.aof_takes() {
        // Only replication reads the stream: nothing to write, nothing to wait for.
        return;
    }
    let done = crate::persistence::aof::sync_covers;
    if done(shared, to) {
        with_local(shared, request_kick);
        return;
    }
    poll_fn(|cx| {
        if done(shared, to) {
            return Poll::Ready(());
        }
        with_local(shared, |local| {
            local.waiters.push((to, cx.waker().clone()));
            local.hub.min_waiting.fetch_min(to, SeqCst);
            request_kick(local);
        });
        // The writer may have advanced before it could see this waiter.
        if done(shared, to) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await
}

/// One per worker thread: kicks the writer once per turn in which connections appended, and
/// wakes the connections an fsync covered.
async fn dispatcher(shared: &'static Shared, hub: &'static Hub) {
    loop {
        let notified = hub.synced.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let kick = LOCAL.with(|cell| {
            let mut cell = cell.borrow_mut();
            let local = cell.as_mut().expect("created before its dispatcher runs");
            std::mem::take(&mut local.kick)
        });
        if kick {
            crate::persistence::aof::turn_end(shared);
        }
        LOCAL.with(|cell| {
            let mut cell = cell.borrow_mut();
            wake_covered(shared, cell.as_mut().expect("created"));
        });
        let request = poll_fn(|cx| {
            LOCAL.with(|cell| {
                let mut cell = cell.borrow_mut();
                let local = cell.as_mut().expect("created");
                if local.kick {
                    Poll::Ready(())
                } else {
                    local.dispatcher = Some(cx.waker().clone());
                    Poll::Pending
                }
            })
        });
        tokio::select! {
            _ = notified => {}
            _ = request => {}
        }
    }
}

/// Wakes the waiters whose wait is over, and publishes the smallest offset still waited for.
fn wake_covered(shared: &'static Shared, local: &mut Local) {
    let done = crate::persistence::aof::sync_covers;
    loop {
        let mut min = u64::MAX;
        local.waiters.retain(|(to, w)| {
            if done(shared, *to) {
                w.wake_by_ref();
                false
            } else {
                min = min.min(*to);
                true
            }
        });
        local.hub.min_waiting.store(min, SeqCst);
        // The writer may have synced past `min` before it could read it: look again.
        if min == u64::MAX || !done(shared, min) {
            return;
        }
    }
}
