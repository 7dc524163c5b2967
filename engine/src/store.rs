//! The keyspace: S shards, each behind its own lock, and the slot-to-shard map.
//!
//! Routing is the cluster rule: `slot = CRC16(hash tag or key) mod 16384`, and each slot
//! belongs to one shard, so keys sharing a hash tag share a shard. Locking rules, which make
//! every command atomic without a global lock:
//!
//! ```text
//! single-key command      lock(shard_of(key))                        -- the common case
//! multi-key / MULTI / Lua lock each distinct shard, ascending index  -- no deadlock possible
//! whole-keyspace command  lock every shard, ascending                -- FLUSHALL, KEYS, SWAPDB
//! ```
//!
//! **Architecture Invariant:** a shard's data is only touched through a [`LockedShards`] that
//! holds its guard, and guards are always acquired in ascending shard order.

use crate::db::Db;
use crate::shard::Shard;
use crossbeam_utils::CachePadded;
use parking_lot::{Mutex, MutexGuard};
use smallvec::SmallVec;
use std::sync::OnceLock;
use usher_cluster::{key_hash_slot, SLOT_COUNT};

pub struct Store {
    /// Padded so two shards' locks never share a cache line.
    shards: Box<[CachePadded<Mutex<Shard>>]>,
    slot_shard: Box<[u16]>,
    databases: usize,
    /// Called with a shard that owes an image ([`Shard::image_pending`]) as soon as anyone
    /// locks it, before they touch it: a fork-less point-in-time snapshot (AOF rewrite).
    capture: OnceLock<CaptureFn>,
}

/// See [`Store::set_capture`].
pub type CaptureFn = Box<dyn Fn(usize, &mut Shard) + Send + Sync>;

impl Store {
    pub fn new(shard_count: usize, databases: usize) -> Store {
        assert!(
            (1..=SLOT_COUNT).contains(&shard_count),
            "shards must be 1..=16384"
        );
        assert!(databases >= 1, "at least one database");
        Store {
            shards: (0..shard_count)
                .map(|_| CachePadded::new(Mutex::new(Shard::new(databases))))
                .collect(),
            slot_shard: (0..SLOT_COUNT)
                .map(|slot| (slot % shard_count) as u16)
                .collect(),
            databases,
            capture: OnceLock::new(),
        }
    }

    /// Installs the function that serializes a shard owing an image. Every lock taken through
    /// this store checks the shard's flag right after acquiring it, so no command ever sees a
    /// pending shard: its image is the shard's state when the flags were set.
    pub fn set_capture(&self, f: CaptureFn) {
        let _ = self.capture.set(f);
    }

    /// A fresh guard, with the shard's owed image taken first.
    #[inline]
    fn checked<'s>(&'s self, idx: usize, mut g: MutexGuard<'s, Shard>) -> MutexGuard<'s, Shard> {
        if g.image_pending {
            if let Some(f) = self.capture.get() {
                f(idx, &mut g);
            }
            g.image_pending = false;
        }
        g
    }

    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    pub fn databases(&self) -> usize {
        self.databases
    }

    #[inline]
    pub fn shard_of_slot(&self, slot: u16) -> usize {
        self.slot_shard[slot as usize] as usize
    }

    #[inline]
    pub fn shard_of(&self, key: &[u8]) -> usize {
        self.shard_of_slot(key_hash_slot(key))
    }

    /// Locks one shard.
    #[inline]
    pub fn lock_one(&self, shard: usize) -> LockedShards<'_> {
        self.holding_one(shard, self.shards[shard].lock())
    }

    /// The lock set of one shard whose guard was just taken (checked for a pending image).
    #[inline]
    fn holding_one<'s>(&'s self, shard: usize, guard: MutexGuard<'s, Shard>) -> LockedShards<'s> {
        let mut guards = SmallVec::new();
        guards.push((shard as u16, self.checked(shard, guard)));
        LockedShards {
            store: self,
            guards,
            all: false,
            routed: [(0, 0); 2],
        }
    }

    /// Locks one shard if no other thread holds it (for optional work that must not wait).
    #[inline]
    pub fn try_lock_one(&self, shard: usize) -> Option<LockedShards<'_>> {
        Some(self.holding_one(shard, self.shards[shard].try_lock()?))
    }

    /// Locks one shard for background work (cron), waiting at most `wait`: a shard held longer
    /// (by a script, a transaction) is skipped this time. A worker's cron runs on the worker's
    /// own thread, so waiting behind another worker's long script would stall every client of
    /// this worker too.
    pub fn lock_one_within(
        &self,
        shard: usize,
        wait: std::time::Duration,
    ) -> Option<LockedShards<'_>> {
        Some(self.holding_one(shard, self.shards[shard].try_lock_for(wait)?))
    }

    /// Locks the given shards (any order, duplicates allowed) in ascending order.
    pub fn lock_many(&self, shards: &mut SmallVec<[u16; 8]>) -> LockedShards<'_> {
        shards.sort_unstable();
        shards.dedup();
        if shards.len() == self.shards.len() {
            return self.lock_all();
        }
        let guards = shards
            .iter()
            .map(|&s| (s, self.checked(s as usize, self.shards[s as usize].lock())))
            .collect();
        LockedShards {
            store: self,
            guards,
            all: false,
            routed: [(0, 0); 2],
        }
    }

    /// Locks every shard in ascending order.
    pub fn lock_all(&self) -> LockedShards<'_> {
        if self.shards.len() == 1 {
            // One shard (`--threads 1`): every keyed command lands here, so skip the collect.
            let mut locked = self.lock_one(0);
            locked.all = true;
            return locked;
        }
        let guards = self
            .shards
            .iter()
            .enumerate()
            .map(|(i, m)| (i as u16, self.checked(i, m.lock())))
            .collect();
        LockedShards {
            store: self,
            guards,
            all: true,
            routed: [(0, 0); 2],
        }
    }

    /// Locks nothing (commands without keys).
    pub fn lock_none(&self) -> LockedShards<'_> {
        LockedShards {
            store: self,
            guards: SmallVec::new(),
            all: false,
            routed: [(0, 0); 2],
        }
    }
}

/// The guards a command holds while it runs.
pub struct LockedShards<'s> {
    store: &'s Store,
    guards: SmallVec<[(u16, MutexGuard<'s, Shard>); 2]>,
    all: bool,
    /// Address and length of up to two keys the dispatcher already routed to the one held
    /// shard (arguments of the command being run, alive for as long as these guards: a queue
    /// and its active set, say). Lets [`LockedShards::try_shard`] skip the CRC16 for the
    /// command's own keys and still route every other key.
    routed: [(usize, usize); 2],
}

impl<'s> LockedShards<'s> {
    pub fn store(&self) -> &'s Store {
        self.store
    }

    /// Records that `key` (an argument of the command about to run, which outlives these
    /// guards) was routed to the one shard held, so looking it up needs no second CRC16.
    #[inline]
    pub fn set_routed(&mut self, key: &[u8]) {
        debug_assert!(self.guards.len() == 1 && self.holds(key));
        self.routed[1] = self.routed[0];
        self.routed[0] = (key.as_ptr() as usize, key.len());
    }

    /// The locked shard that owns `key`, or `None` if that shard is not held.
    ///
    /// Every key is routed, also when one shard is held: a key of another shard can never be
    /// read or written under the wrong lock (that once let a policy tick write an active set
    /// into the queue's shard). The one shortcut is the key the dispatcher already routed,
    /// recognised by its address: a live argument's bytes cannot be anywhere else.
    #[inline]
    pub fn try_shard(&mut self, key: &[u8]) -> Option<&mut Shard> {
        if self.guards.len() == 1 {
            // `all` with one guard: a one-shard store, where every key lives.
            let here = self.all
                || self.routed.contains(&(key.as_ptr() as usize, key.len()))
                || self.store.shard_of(key) == self.guards[0].0 as usize;
            return here.then(|| &mut *self.guards[0].1);
        }
        let idx = self.store.shard_of(key) as u16;
        if self.all {
            return Some(&mut self.guards[idx as usize].1);
        }
        self.guards
            .iter_mut()
            .find(|(i, _)| *i == idx)
            .map(|(_, g)| &mut **g)
    }

    /// The locked shard that owns `key`. The dispatcher locks every shard a command's declared
    /// keys live on; code that reaches any other key checks [`LockedShards::holds`] first, so
    /// this panics only on a bug, before anything is written under the wrong lock.
    #[inline]
    pub fn shard(&mut self, key: &[u8]) -> &mut Shard {
        self.try_shard(key)
            .expect("a key is only touched under its own shard's lock")
    }

    #[inline]
    pub fn db(&mut self, db: usize, key: &[u8]) -> &mut Db {
        self.shard(key).db(db)
    }

    pub fn holds(&self, key: &[u8]) -> bool {
        let idx = self.store.shard_of(key) as u16;
        self.all || self.guards.iter().any(|(i, _)| *i == idx)
    }

    /// True if shard `idx` is held.
    pub fn holds_shard(&self, idx: u16) -> bool {
        self.all || self.guards.iter().any(|(i, _)| *i == idx)
    }

    /// Adds shard `idx` to the held set, for a script that reaches a key its declared keys did
    /// not name. Waiting is deadlock-free only for a shard above every one held (the ascending
    /// rule), so a lower shard is taken only if it is free now; returns whether it is held.
    /// Holding every lock to the end keeps the script atomic (two-phase locking).
    pub fn extend(&mut self, idx: u16) -> bool {
        if self.holds_shard(idx) {
            return true;
        }
        let mutex = &self.store.shards[idx as usize];
        let above_all = self.guards.iter().all(|(i, _)| *i < idx);
        let guard = if above_all {
            mutex.lock()
        } else {
            match mutex.try_lock() {
                Some(g) => g,
                None => return false,
            }
        };
        let guard = self.store.checked(idx as usize, guard);
        let at = self
            .guards
            .iter()
            .position(|(i, _)| *i > idx)
            .unwrap_or(self.guards.len());
        self.guards.insert(at, (idx, guard));
        self.all = self.guards.len() == self.store.shards.len();
        true
    }

    /// Adds shards `extra` to the held set, for a command that learns under its first lock that
    /// it needs more (a split line's sub-queues, see `queue::split`). Each is taken as
    /// [`LockedShards::extend`] takes it; when a lower one is busy, every guard is released and
    /// the whole set retaken in ascending order (no deadlock), and this returns false: whatever
    /// was read under the released guards may have changed, so the caller looks again.
    pub fn widen(&mut self, extra: &mut SmallVec<[u16; 8]>) -> bool {
        extra.sort_unstable();
        for &idx in extra.iter() {
            if !self.extend(idx) {
                let mut all: SmallVec<[u16; 8]> = self.guards.iter().map(|(i, _)| *i).collect();
                all.extend(extra.iter().copied());
                self.guards.clear();
                *self = self.store.lock_many(&mut all);
                return false;
            }
        }
        true
    }

    /// Widens by what `missing` says the held keys still need, until nothing: after a
    /// retake (a lower shard was busy) it is asked again, since what the keys say may have
    /// changed while nothing was held.
    pub fn widen_until(&mut self, mut missing: impl FnMut(&mut Self) -> SmallVec<[u16; 8]>) {
        loop {
            let mut need = missing(self);
            if need.is_empty() || self.widen(&mut need) {
                return;
            }
        }
    }

    pub fn holds_all(&self) -> bool {
        self.all
    }

    /// The held shard with index `idx`, if held.
    pub fn shard_at(&mut self, idx: u16) -> Option<&mut Shard> {
        self.guards
            .iter_mut()
            .find(|(i, _)| *i == idx)
            .map(|(_, g)| &mut **g)
    }

    /// Every locked shard, ascending.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Shard> + use<'_, 's> {
        self.guards.iter_mut().map(|(_, g)| &mut **g)
    }

    pub fn len(&self) -> usize {
        self.guards.len()
    }

    pub fn is_empty(&self) -> bool {
        self.guards.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sharing_a_hash_tag_share_a_shard() {
        let store = Store::new(8, 16);
        assert_eq!(
            store.shard_of(b"queue:{evt1}"),
            store.shard_of(b"active:{evt1}")
        );
    }

    #[test]
    fn lock_many_sorts_and_dedups() {
        let store = Store::new(4, 1);
        let mut want: SmallVec<[u16; 8]> = SmallVec::from_slice(&[3, 1, 3, 0]);
        let locked = store.lock_many(&mut want);
        assert_eq!(
            locked.guards.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
            vec![0, 1, 3]
        );
    }

    #[test]
    fn widen_retakes_everything_in_order_when_a_lower_shard_is_busy() {
        let store = Store::new(4, 1);
        let mut locked = store.lock_one(2);
        let mut extra: SmallVec<[u16; 8]> = SmallVec::from_slice(&[3]);
        assert!(locked.widen(&mut extra), "a higher shard is waited for");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::scope(|s| {
            s.spawn(|| {
                let other = store.lock_one(0);
                tx.send(()).unwrap();
                std::thread::sleep(std::time::Duration::from_millis(50));
                drop(other);
            });
            rx.recv().unwrap();
            let mut extra: SmallVec<[u16; 8]> = SmallVec::from_slice(&[0]);
            assert!(!locked.widen(&mut extra), "released, then retaken");
        });
        assert_eq!(
            locked.guards.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
            vec![0, 2, 3]
        );
    }

    #[test]
    fn extend_keeps_guards_sorted_and_refuses_a_busy_lower_shard() {
        let store = Store::new(4, 1);
        let mut locked = store.lock_one(2);
        assert!(locked.extend(3));
        let other = store.lock_one(0);
        assert!(!locked.extend(0), "a busy lower shard is not waited for");
        drop(other);
        assert!(locked.extend(0) && locked.extend(1));
        assert!(locked.holds_all());
        assert_eq!(
            locked.guards.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
            vec![0, 1, 2, 3]
        );
    }
}
