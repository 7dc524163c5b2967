//! Keyspace notification classes (Redis's `NOTIFY_*` bits, the letters of
//! `notify-keyspace-events`) and the per-thread log of the events the database layer raises by
//! itself: `expired` when a lookup finds a key past its deadline, and `new` when a key is
//! created.
//!
//! Handlers announce their own events through [`crate::ctx::ExecCtx::notify`]. The two events
//! above happen deep inside [`crate::db::Db`], which has no context to record them in, so the
//! database logs them here, on the running thread, and the context moves them into the
//! command's [`crate::ctx::Effects`] before its next event: the order is Redis's (`expired`,
//! then `new`, then the command's own event). Logging is off unless the server asked for it
//! ([`set_capture`]); then a creation costs one relaxed load, and an expiry is the cold path.

use crate::bytes::SmallBytes;
use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicU32, Ordering};

pub const KEYSPACE: u32 = 1 << 0;
pub const KEYEVENT: u32 = 1 << 1;
pub const GENERIC: u32 = 1 << 2;
pub const STRING: u32 = 1 << 3;
pub const LIST: u32 = 1 << 4;
pub const SET: u32 = 1 << 5;
pub const HASH: u32 = 1 << 6;
pub const ZSET: u32 = 1 << 7;
pub const EXPIRED: u32 = 1 << 8;
pub const EVICTED: u32 = 1 << 9;
pub const STREAM: u32 = 1 << 10;
pub const KEY_MISS: u32 = 1 << 11;
pub const LOADED: u32 = 1 << 12;
pub const MODULE: u32 = 1 << 13;
pub const NEW: u32 = 1 << 14;
/// Redis's `NOTIFY_ALL` (the `A` alias): every class but key-miss and new.
pub const ALL: u32 =
    GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;

/// Not a Redis class: set by the server while a client tracks keys, so expired keys are
/// logged for invalidation even with notifications off.
pub const CAPTURE_FOR_TRACKING: u32 = 1 << 31;

/// Not a Redis class: a key modified (Redis's `signalModifiedKey`), logged only for tracking;
/// never published.
pub const TOUCHED: u32 = 1 << 30;

/// Not a Redis class: a database was flushed (FLUSHDB, FLUSHALL), logged only for tracking.
pub const FLUSHED: u32 = 1 << 29;

/// One event for the server to publish once the command's locks are released.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyEvent {
    pub class: u32,
    pub event: &'static str,
    pub db: u32,
    pub key: SmallBytes,
}

/// Which database-level events are logged: `EXPIRED`, `NEW`, `CAPTURE_FOR_TRACKING`.
static CAPTURE: AtomicU32 = AtomicU32::new(0);

thread_local! {
    static LOG: RefCell<Vec<KeyEvent>> = const { RefCell::new(Vec::new()) };
    static PENDING: Cell<bool> = const { Cell::new(false) };
}

/// Sets which database-level events are logged (server: on CONFIG SET and tracking changes).
pub fn set_capture(bits: u32) {
    CAPTURE.store(bits, Ordering::Relaxed);
}

/// The database logs a key it creates (`new`).
#[inline]
pub(crate) fn key_created(db: u32, key: &[u8]) {
    if CAPTURE.load(Ordering::Relaxed) & NEW != 0 {
        log(NEW, "new", db, key);
    }
}

/// The shard logs a key a command modified (for tracking's invalidations).
#[inline]
pub(crate) fn key_touched(db: u32, key: &[u8]) {
    if CAPTURE.load(Ordering::Relaxed) & CAPTURE_FOR_TRACKING != 0 {
        log(TOUCHED, "", db, key);
    }
}

/// The shard logs a flush of database `db` (tracking then invalidates everything).
pub(crate) fn db_flushed(db: u32) {
    if CAPTURE.load(Ordering::Relaxed) & CAPTURE_FOR_TRACKING != 0 {
        log(FLUSHED, "", db, b"");
    }
}

/// A read lookup found no key (`keymiss`, class `m`). Only read commands publish it (Redis's
/// `lookupKeyRead`): the server drops the misses of other commands (see [`drop_misses`]).
#[cold]
pub(crate) fn key_missed(db: u32, key: &[u8]) {
    if CAPTURE.load(Ordering::Relaxed) & KEY_MISS != 0 {
        log(KEY_MISS, "keymiss", db, key);
    }
}

/// A consumer created implicitly by XREADGROUP, XCLAIM or XAUTOCLAIM: Redis publishes
/// `xgroup-createconsumer` at that moment, in the middle of the command's own work.
#[cold]
pub(crate) fn consumer_created(db: usize, key: &[u8]) {
    if CAPTURE.load(Ordering::Relaxed) & STREAM != 0 {
        log(STREAM, "xgroup-createconsumer", db as u32, key);
    }
}

/// Whether read lookups log their misses (a cheap check before calling [`key_missed`]).
#[inline]
pub(crate) fn misses_logged() -> bool {
    CAPTURE.load(Ordering::Relaxed) & KEY_MISS != 0
}

/// Drops the `keymiss` events of a command that is not a read (its lookups are Redis's
/// `lookupKeyWrite`, which publishes none), from `events` and from this thread's log.
pub fn drop_misses(events: &mut Vec<KeyEvent>) {
    events.retain(|e| e.class != KEY_MISS);
    if pending() {
        LOG.with(|l| l.borrow_mut().retain(|e| e.class != KEY_MISS));
    }
}

/// The database logs a key a lookup found expired and deleted (`expired`).
#[cold]
pub(crate) fn key_expired(db: u32, key: &[u8]) {
    if CAPTURE.load(Ordering::Relaxed) & (EXPIRED | CAPTURE_FOR_TRACKING) != 0 {
        log(EXPIRED, "expired", db, key);
    }
}

#[cold]
fn log(class: u32, event: &'static str, db: u32, key: &[u8]) {
    LOG.with(|l| {
        l.borrow_mut().push(KeyEvent {
            class,
            event,
            db,
            key: SmallBytes::new(key),
        })
    });
    PENDING.with(|p| p.set(true));
}

/// Whether this thread logged events not yet taken.
#[inline]
pub fn pending() -> bool {
    PENDING.with(Cell::get)
}

/// Moves this thread's logged events, in order, to the end of `into`.
#[inline]
pub fn take_into(into: &mut Vec<KeyEvent>) {
    if pending() {
        take_slow(into);
    }
}

#[cold]
fn take_slow(into: &mut Vec<KeyEvent>) {
    PENDING.with(|p| p.set(false));
    LOG.with(|l| into.append(&mut l.borrow_mut()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_logged_unless_captured_and_the_log_keeps_order() {
        let mut out = Vec::new();
        set_capture(0);
        key_created(0, b"a");
        key_expired(0, b"a");
        take_into(&mut out);
        assert!(out.is_empty());
        set_capture(NEW | EXPIRED);
        key_expired(3, b"x");
        key_created(3, b"x");
        assert!(pending());
        take_into(&mut out);
        set_capture(0);
        assert!(!pending());
        let got: Vec<_> = out
            .iter()
            .map(|e| (e.event, e.db, e.key.to_vec()))
            .collect();
        assert_eq!(
            got,
            vec![("expired", 3, b"x".to_vec()), ("new", 3, b"x".to_vec())]
        );
    }
}
