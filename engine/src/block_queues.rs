//! Blocked clients as a shard holds them: each [`Waiter`] with its state machine, and the
//! per-key FIFO queues of waiters ([`BlockQueues`]) that live in the shard, under its lock.
//!
//! This is the data only; serving waiters is in [`crate::blocking`], which needs the execution
//! context. The context holds the locked shards and so sits above this module: a waiter carries
//! its serving logic as an opaque [`ServeHook`] that only `blocking` calls.
//!
//! State machine of a waiter (one atomic, so serving, timing out and disconnecting never race):
//!
//! ```text
//! WAITING ──claim (server, under the key's shard lock)──► CLAIMED ──served──► SERVED
//!    │  ▲                                                    │
//!    │  └────────────── nothing to pop after all ────────────┘
//!    └──cancel (timeout, disconnect, CLIENT UNBLOCK)──► CANCELLED
//! ```
//!
//! A served waiter stays in the queues of its other keys until its connection removes it (or
//! a server finds it there and drops it): entries are cleaned lazily, never served twice.

use crate::bytes::SmallBytes;
use parking_lot::Mutex;
use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use usher_protocol::{OwnedArgv, Protocol};

/// A blocked command's serving logic as the queues carry it. Its one implementor,
/// [`crate::ctx::ServeFn`], names the execution context, which holds the shards that hold these
/// queues; naming it here would make the layers import each other. Sealed, so that serving
/// always finds the `ServeFn` a waiter was registered with.
pub trait ServeHook: sealed::Sealed + Any + Send + Sync + Copy {}

pub(crate) mod sealed {
    /// Implemented only next to [`crate::ctx::ServeFn`].
    pub trait Sealed {}
}

const WAITING: u8 = 0;
const CLAIMED: u8 = 1;
const SERVED: u8 = 2;
const CANCELLED: u8 = 3;

/// Something that can wake a blocked connection (implemented by the server).
pub trait Wake: Send + Sync {
    fn wake(&self);
}

/// A client blocked on one or more keys.
pub struct Waiter {
    pub client_id: u64,
    pub db: usize,
    /// The blocked command, as sent.
    pub argv: OwnedArgv,
    pub protocol: Protocol,
    /// The keys it waits on, in command order.
    pub keys: Vec<SmallBytes>,
    /// Absolute Unix ms, or 0 for no timeout.
    pub deadline_ms: i64,
    serve: Box<dyn Any + Send + Sync>,
    state: AtomicU8,
    reply: Mutex<Vec<u8>>,
    waker: Arc<dyn Wake>,
}

impl Waiter {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        client_id: u64,
        db: usize,
        argv: OwnedArgv,
        protocol: Protocol,
        keys: Vec<SmallBytes>,
        deadline_ms: i64,
        serve: impl ServeHook,
        waker: Arc<dyn Wake>,
    ) -> Arc<Waiter> {
        Arc::new(Waiter {
            client_id,
            db,
            argv,
            protocol,
            keys,
            deadline_ms,
            serve: Box::new(serve),
            state: AtomicU8::new(WAITING),
            reply: Mutex::new(Vec::new()),
            waker,
        })
    }

    /// The serving logic the waiter was registered with; `None` only for a hook type it was
    /// not registered with, which sealing rules out for `ServeFn`.
    #[inline]
    pub(crate) fn serve<S: ServeHook>(&self) -> Option<S> {
        self.serve.downcast_ref::<S>().copied()
    }

    /// WAITING → CLAIMED; false if someone else got there first.
    pub fn claim(&self) -> bool {
        self.state
            .compare_exchange(WAITING, CLAIMED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// CLAIMED → WAITING (nothing could be popped after all).
    pub fn unclaim(&self) {
        let was = self.state.swap(WAITING, Ordering::AcqRel);
        debug_assert_eq!(was, CLAIMED);
    }

    /// CLAIMED → SERVED with the encoded reply, then wakes the connection.
    pub fn complete(&self, reply: Vec<u8>) {
        *self.reply.lock() = reply;
        let was = self.state.swap(SERVED, Ordering::AcqRel);
        debug_assert_eq!(was, CLAIMED);
        self.waker.wake();
    }

    /// WAITING → CANCELLED. Spins while a server holds the claim (a few microseconds under a
    /// shard lock). Returns the reply instead if the waiter was served meanwhile.
    pub fn cancel(&self) -> Option<Vec<u8>> {
        loop {
            match self.state.compare_exchange(
                WAITING,
                CANCELLED,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return None,
                Err(SERVED) => return Some(self.take_reply()),
                Err(CANCELLED) => return None,
                Err(_) => std::hint::spin_loop(),
            }
        }
    }

    /// Served or cancelled: nobody will claim it again, its queue entries are garbage.
    pub fn is_finished(&self) -> bool {
        matches!(self.state.load(Ordering::Acquire), SERVED | CANCELLED)
    }

    pub fn is_waiting(&self) -> bool {
        self.state.load(Ordering::Acquire) == WAITING
    }

    pub fn is_served(&self) -> bool {
        self.state.load(Ordering::Acquire) == SERVED
    }

    pub fn take_reply(&self) -> Vec<u8> {
        std::mem::take(&mut *self.reply.lock())
    }

    /// Wakes the connection without serving it (it will retry its command itself).
    pub fn wake(&self) {
        self.waker.wake();
    }
}

/// Per-shard queues of waiters, by (db, key). Lives inside the shard, under its lock.
#[derive(Default)]
pub struct BlockQueues {
    queues: HashMap<(u32, SmallBytes), VecDeque<Arc<Waiter>>>,
}

impl BlockQueues {
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.queues.is_empty()
    }

    #[inline]
    pub fn has_waiters(&self, db: usize, key: &[u8]) -> bool {
        !self.queues.is_empty() && self.queues.contains_key(&(db as u32, SmallBytes::new(key)))
    }

    pub fn push(&mut self, db: usize, key: &[u8], waiter: Arc<Waiter>) {
        self.queues
            .entry((db as u32, SmallBytes::new(key)))
            .or_default()
            .push_back(waiter);
    }

    /// Removes `waiter` from the queue of `key`.
    pub fn remove(&mut self, db: usize, key: &[u8], waiter: &Arc<Waiter>) {
        let k = (db as u32, SmallBytes::new(key));
        if let Some(q) = self.queues.get_mut(&k) {
            q.retain(|w| !Arc::ptr_eq(w, waiter));
            if q.is_empty() {
                self.queues.remove(&k);
            }
        }
    }

    /// The waiter at `idx` in the queue of `key`, dropping finished ones found there first;
    /// `None` past the end.
    pub(crate) fn live_at(&mut self, db: usize, key: &[u8], idx: usize) -> Option<Arc<Waiter>> {
        let k = (db as u32, SmallBytes::new(key));
        let q = self.queues.get_mut(&k)?;
        while let Some(w) = q.get(idx) {
            if !w.is_finished() {
                return Some(w.clone());
            }
            q.remove(idx);
        }
        if q.is_empty() {
            self.queues.remove(&k);
        }
        None
    }

    /// Removes the entry at `idx` (which must be `waiter`) from the queue of `key`.
    pub(crate) fn remove_at(&mut self, db: usize, key: &[u8], idx: usize, waiter: &Arc<Waiter>) {
        let k = (db as u32, SmallBytes::new(key));
        if let Some(q) = self.queues.get_mut(&k) {
            debug_assert!(q.get(idx).is_some_and(|w| Arc::ptr_eq(w, waiter)));
            q.remove(idx);
            if q.is_empty() {
                self.queues.remove(&k);
            }
        }
    }

    /// Keys of `db` that have waiters (SWAPDB must re-check them).
    pub fn keys_in_db(&self, db: usize) -> Vec<SmallBytes> {
        self.queues
            .keys()
            .filter(|(d, _)| *d as usize == db)
            .map(|(_, k)| k.clone())
            .collect()
    }

    /// Every waiter of this shard (for CLIENT UNBLOCK by id and INFO).
    pub fn waiters(&self) -> impl Iterator<Item = &Arc<Waiter>> {
        self.queues.values().flatten()
    }
}
