//! A connection task's wake-up signal ([`crate::client::ClientInfo::wake`]): other threads
//! raise it (a kill request, pub/sub messages in the outbox, an unblocked key) and the
//! connection's own task waits for it, beside its socket read, once per turn of its loop.
//!
//! It has `tokio::sync::Notify`'s `notify_one` / `notified` meaning for the one case used here,
//! a single task waiting: a raise with nobody waiting is kept (one permit) for the next wait.
//! Notify serves any number of waiters, so each wait links itself into a list under a lock and
//! unlinks itself when the read wins, which the unpipelined command path paid on every
//! request. Here a wait is a flag check, plus storing the task's waker, which is the same one
//! every time and so is only compared.

use parking_lot::Mutex;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Waker};

#[derive(Default)]
pub struct Signal {
    raised: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl Signal {
    pub fn new() -> Self {
        Self::default()
    }

    /// Wakes the waiting task, or leaves a permit for its next wait.
    pub fn notify_one(&self) {
        self.raised.store(true, Ordering::Release);
        if let Some(waker) = self.waker.lock().as_ref() {
            waker.wake_by_ref();
        }
    }

    /// Resolves once the signal is raised (at once if it was raised since the last wait).
    /// Only the connection's own task may wait: a second waiting task would replace the first
    /// one's waker.
    pub fn notified(&self) -> Notified<'_> {
        Notified { signal: self }
    }

    fn take(&self) -> bool {
        self.raised.load(Ordering::Acquire) && self.raised.swap(false, Ordering::AcqRel)
    }
}

pub struct Notified<'a> {
    signal: &'a Signal,
}

impl Future for Notified<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let signal = self.signal;
        if signal.take() {
            return Poll::Ready(());
        }
        {
            let mut slot = signal.waker.lock();
            match slot.as_ref() {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => *slot = Some(cx.waker().clone()),
            }
        }
        // A raise between the first check and storing the waker found the old waker (or
        // none): look again now that the raiser is sure to see this one. The lock orders the
        // two sides: a raiser that locked before us stored its flag before we look.
        if signal.take() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[tokio::test]
    async fn a_raise_before_the_wait_is_kept_once() {
        let s = Signal::new();
        s.notify_one();
        s.notify_one();
        s.notified().await;
        let again = tokio::time::timeout(Duration::from_millis(20), s.notified()).await;
        assert!(again.is_err(), "two raises leave one permit, as Notify's");
    }

    #[tokio::test]
    async fn a_raise_from_another_thread_wakes_the_waiter() {
        let s = Arc::new(Signal::new());
        let raiser = s.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            raiser.notify_one();
        });
        tokio::time::timeout(Duration::from_secs(5), s.notified())
            .await
            .expect("woken");
        t.join().unwrap();
    }

    #[tokio::test]
    async fn a_wait_that_loses_a_select_keeps_nothing_and_loses_nothing() {
        let s = Signal::new();
        // The wait is polled (waker stored) and then dropped when the other branch wins.
        tokio::select! {
            biased;
            _ = s.notified() => panic!("not raised"),
            _ = tokio::time::sleep(Duration::from_millis(5)) => {}
        }
        s.notify_one();
        tokio::time::timeout(Duration::from_secs(5), s.notified())
            .await
            .expect("the raise after a dropped wait is seen by the next one");
    }
}
