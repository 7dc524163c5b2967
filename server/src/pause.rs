//! CLIENT PAUSE: holding back clients' commands for a while (all of them, or only those that
//! write), as an operator does before a failover or a maintenance step.
//!
//! A paused command stays unread in its connection's buffer, in order, with everything after
//! it; the connection waits for the deadline or CLIENT UNPAUSE, then carries on. The command
//! path pays one relaxed load while nothing is paused.

use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::Notify;
use usher_engine::command::Flags;

#[derive(Default)]
pub struct Pause {
    active: AtomicBool,
    /// (until, Unix ms; whether every command waits, not only writes).
    state: Mutex<Option<(i64, bool)>>,
    pub resumed: Notify,
}

impl Pause {
    /// Pauses until `until_ms`. A pause already in force is only ever extended and made
    /// stricter by another, never shortened (as Redis's `pauseClients`).
    pub fn pause(&self, until_ms: i64, all: bool) {
        let mut state = self.state.lock();
        let next = match *state {
            Some((u, a)) => (u.max(until_ms), a || all),
            None => (until_ms, all),
        };
        *state = Some(next);
        self.active.store(true, Ordering::Release);
    }

    /// Ends the pause (CLIENT UNPAUSE) and wakes every waiting connection.
    pub fn unpause(&self) {
        *self.state.lock() = None;
        self.active.store(false, Ordering::Release);
        self.resumed.notify_waiters();
    }

    /// True while a pause may be in force (one relaxed load: the command path's only cost).
    #[inline]
    pub fn active(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }

    /// Until when a command with `flags` must wait at `now_ms`, if it must.
    #[inline]
    pub fn holds(&self, flags: Flags, now_ms: i64) -> Option<i64> {
        if !self.active.load(Ordering::Acquire) {
            return None;
        }
        let mut state = self.state.lock();
        match *state {
            Some((until, _)) if until <= now_ms => {
                *state = None;
                self.active.store(false, Ordering::Release);
                None
            }
            Some((until, true)) => Some(until),
            Some((until, false))
                if flags.contains(Flags::WRITE) || flags.contains(Flags::MAY_REPLICATE) =>
            {
                Some(until)
            }
            _ => None,
        }
    }
}
