//! A shard: one slice of the keyspace (all 16 databases of it) behind one lock.
//!
//! The store maps each of the 16384 hash slots to one shard; a key is only ever touched while
//! its shard's lock is held. Besides the databases, a shard keeps the per-key registries that
//! must change atomically with the data: which clients WATCH a key, and (with blocking pops)
//! which clients wait for one.

use crate::block_queues::BlockQueues;
use crate::bytes::SmallBytes;
use crate::db::Db;
use crate::queue::registry::QueueRegistry;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A client's "a watched key changed" flag (Redis's `CLIENT_DIRTY_CAS`).
pub type WatchFlag = Arc<AtomicBool>;

pub struct Shard {
    pub dbs: Box<[Db]>,
    /// (db, key) → flags of the clients watching it. Entries are removed once touched, since
    /// the flag is sticky until the client's EXEC, DISCARD or UNWATCH.
    watched: HashMap<(u32, SmallBytes), Vec<WatchFlag>>,
    /// Clients blocked on keys of this shard (BLPOP and friends), in arrival order per key.
    pub blocked: BlockQueues,
    /// Waiting-room state kept in memory (admission statistics).
    pub queues: QueueRegistry,
    /// A point-in-time image of this shard is owed (an AOF rewrite started and has not
    /// serialized it yet): whoever locks it next serializes it first (see `Store::set_capture`).
    pub image_pending: bool,
}

impl Shard {
    pub fn new(databases: usize) -> Self {
        Shard {
            dbs: (0..databases).map(Db::with_index).collect(),
            watched: HashMap::new(),
            blocked: BlockQueues::default(),
            queues: QueueRegistry::default(),
            image_pending: false,
        }
    }

    #[inline]
    pub fn db(&mut self, index: usize) -> &mut Db {
        &mut self.dbs[index]
    }

    /// Registers `flag` to be raised when `key` in `db` is modified.
    pub fn watch(&mut self, db: usize, key: &[u8], flag: WatchFlag) {
        self.watched
            .entry((db as u32, SmallBytes::new(key)))
            .or_default()
            .push(flag);
    }

    /// Drops the registration of `flag` for `key` (UNWATCH, EXEC, DISCARD, disconnect).
    pub fn unwatch(&mut self, db: usize, key: &[u8], flag: &WatchFlag) {
        let k = (db as u32, SmallBytes::new(key));
        if let Some(flags) = self.watched.get_mut(&k) {
            flags.retain(|f| !Arc::ptr_eq(f, flag));
            if flags.is_empty() {
                self.watched.remove(&k);
            }
        }
    }

    /// Redis's `touchWatchedKey`: raises the flag of every client watching `key`.
    #[inline]
    pub fn touch(&mut self, db: usize, key: &[u8]) {
        crate::keyspace_events::key_touched(db as u32, key);
        if self.watched.is_empty() {
            return;
        }
        if let Some(flags) = self.watched.remove(&(db as u32, SmallBytes::new(key))) {
            for f in flags {
                f.store(true, Ordering::Release);
            }
        }
    }

    /// Raises the flag of every client watching a key of `db` that exists in it now or that
    /// exists in `other` (FLUSHDB, FLUSHALL, SWAPDB), as Redis's `touchAllWatchedKeysInDb`.
    pub fn touch_all_in_db(&mut self, db: usize, other: Option<usize>, now_ms: i64) {
        if other.is_none() {
            crate::keyspace_events::db_flushed(db as u32);
        }
        if self.watched.is_empty() {
            return;
        }
        let keys: Vec<(u32, SmallBytes)> = self
            .watched
            .keys()
            .filter(|(d, _)| *d as usize == db)
            .cloned()
            .collect();
        for k in keys {
            let exists = self.dbs[db].contains(&k.1, now_ms)
                || other.is_some_and(|o| self.dbs[o].contains(&k.1, now_ms));
            if exists {
                if let Some(flags) = self.watched.remove(&k) {
                    flags.iter().for_each(|f| f.store(true, Ordering::Release));
                }
            }
        }
    }
}
