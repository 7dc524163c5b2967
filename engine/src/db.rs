//! One logical database (of the 16 `SELECT` offers) inside one shard: keys, values and expiry.
//!
//! Keys live in a [`Dict`]; a key's expiry time lives in its [`Entry`] and, for keys with a
//! TTL, also in `expires`, an ordered index of `(expire_at_ms, key hash)`.
//! **Invariant:** an entry has `expire_at_ms != NO_EXPIRE` exactly when `expires` holds
//! `(expire_at_ms, hash(key))`; every change of a TTL goes through this module to keep them
//! in step.
//!
//! Expiry is lazy and active, like Redis: a lookup never returns an expired key (it deletes it
//! first), and [`Db::expire_due`] deletes keys whose time has passed in bounded batches, oldest
//! deadline first. Unlike Redis's random sampling, the ordered index finds every due key without
//! scanning live ones, so memory comes back promptly and the work per batch is bounded.
//! The index stores the key's 64-bit hash rather than the key to stay small (16 bytes); two
//! volatile keys whose hashes and deadlines both collide share one index entry, so the second is
//! then only expired lazily (probability ~2^-64 per pair).

use crate::bytes::SmallBytes;
use crate::dict::{hash_key, Dict, Probe};
use crate::keyspace_events;
use crate::keyspace_stats;
use crate::lazyfree;
use crate::value::{Entry, Value, NO_EXPIRE};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Set while this server is a replica: lookups hide expired keys instead of deleting them
/// (Redis's replicas leave expiry to their primary). The replication stream is applied with
/// a clock of 0, under which nothing is expired, so it sees every key the primary still has.
pub static REPLICA_READS: AtomicBool = AtomicBool::new(false);

/// Lazily expired keys logged and not taken yet, over every database of the process. Each
/// logged command asks whether its shards logged any: while this is 0 (nearly always) the
/// answer needs no walk over the shards' databases. Changed under the logging shard's lock,
/// so whoever takes that lock next sees the count.
static EXPIRED_PENDING: AtomicUsize = AtomicUsize::new(0);

/// Whether any database holds logged expired keys not taken yet (see [`Db::take_expired`]).
#[inline]
pub fn expired_pending() -> bool {
    EXPIRED_PENDING.load(Ordering::Relaxed) != 0
}

#[derive(Default)]
pub struct Db {
    keys: Dict<Entry>,
    expires: BTreeSet<(i64, u64)>,
    /// Keys a lookup found expired and deleted (INFO's `expired_keys` counts these with the
    /// ones active expiry removes, as Redis does). Survives [`Db::clear`].
    expired_lazily: u64,
    /// While the server logs commands (AOF): the keys lookups found expired and deleted since
    /// it last took them, so they are logged as DEL where they happened (a replay never
    /// expires anything by itself, as Redis's loading does not).
    expired_log: Option<Vec<SmallBytes>>,
    /// This database's number (SELECT index), for the events it logs. Survives
    /// [`Db::clear`] and [`Db::swap`].
    index: u32,
}

impl Db {
    pub fn new() -> Self {
        Db::default()
    }

    /// Database number `index` of its shard.
    pub fn with_index(index: usize) -> Self {
        Db {
            index: index as u32,
            ..Db::default()
        }
    }

    /// SWAPDB: exchanges the data of databases `a` and `b`; each keeps its number.
    pub fn swap(dbs: &mut [Db], a: usize, b: usize) {
        dbs.swap(a, b);
        let (ia, ib) = (dbs[a].index, dbs[b].index);
        dbs[a].index = ib;
        dbs[b].index = ia;
    }

    /// Keys stored, including expired ones not yet reclaimed (as Redis's `DBSIZE`).
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Keys with a time to live.
    pub fn volatile_len(&self) -> usize {
        self.expires.len()
    }

    /// The live entry under `key`, deleting it first if it has expired; marks it accessed.
    /// Counts a keyspace hit or miss (see [`keyspace_stats`]).
    #[inline]
    pub fn lookup(&mut self, key: &[u8], now_ms: i64) -> Option<&mut Entry> {
        let entry = self.lookup_no_touch(key, now_ms)?;
        entry.touch(now_ms);
        Some(entry)
    }

    /// Like [`Db::lookup`] without marking the key accessed (TYPE, TTL, OBJECT, EXISTS).
    #[inline]
    pub fn lookup_no_touch(&mut self, key: &[u8], now_ms: i64) -> Option<&mut Entry> {
        let index = self.index;
        let found = self.probe(key, now_ms);
        keyspace_stats::tally(found.is_some());
        if found.is_none() && keyspace_events::misses_logged() {
            keyspace_events::key_missed(index, key);
        }
        found
    }

    /// [`Db::lookup`] for this type's own write paths (DEL, EXPIRE, KEEPTTL): Redis's
    /// `lookupKeyWrite`, which counts no hit or miss, so GETDEL or GETEX count one, not two.
    #[inline]
    fn probe_touch(&mut self, key: &[u8], now_ms: i64) -> Option<&mut Entry> {
        let entry = self.probe(key, now_ms)?;
        entry.touch(now_ms);
        Some(entry)
    }

    /// The live entry under `key`, deleting it first if it has expired. One hash probe
    /// whether or not the key has expired.
    #[inline]
    fn probe(&mut self, key: &[u8], now_ms: i64) -> Option<&mut Entry> {
        if self.expires.is_empty() {
            return self.keys.get_mut(key);
        }
        if REPLICA_READS.load(Ordering::Relaxed) {
            // A replica's clients see a logically expired key as missing, but only the
            // primary deletes it (its DEL arrives in the stream), so the two never diverge.
            let entry = self.keys.get_mut(key)?;
            return if entry.is_expired(now_ms) {
                None
            } else {
                Some(entry)
            };
        }
        match self.keys.get_mut_unless(key, |e| e.is_expired(now_ms)) {
            Probe::Live(entry) => Some(entry),
            Probe::Removed(_, entry) => {
                self.expires.remove(&(entry.expire_at_ms, hash_key(key)));
                self.expired_lazily += 1;
                if let Some(log) = self.expired_log.as_mut() {
                    log.push(SmallBytes::new(key));
                    EXPIRED_PENDING.fetch_add(1, Ordering::Relaxed);
                }
                keyspace_events::key_expired(self.index, key);
                lazyfree::free(entry.value);
                None
            }
            Probe::Absent => None,
        }
    }

    /// The entry under `key` as stored, expired or not, changing and counting nothing: what
    /// the command log reads back after a command to write down its effect.
    pub fn peek_entry(&self, key: &[u8]) -> Option<&Entry> {
        self.keys.get(key)
    }

    /// The value under `key` as stored, expired or not, changing nothing (not even the access
    /// time): for hints such as batch prefetching, never for answers.
    #[inline]
    pub fn peek(&self, key: &[u8]) -> Option<&Value> {
        self.keys.get(key).map(|e| &e.value)
    }

    /// The live value under `key`.
    #[inline]
    pub fn get(&mut self, key: &[u8], now_ms: i64) -> Option<&mut Value> {
        self.lookup(key, now_ms).map(|e| &mut e.value)
    }

    /// [`Db::get`] for a key this command already looked up, and counted as a keyspace hit or
    /// miss: Redis reads each input once, so a second pass over the inputs counts nothing.
    #[inline]
    pub fn get_again(&mut self, key: &[u8], now_ms: i64) -> Option<&mut Value> {
        self.probe_touch(key, now_ms).map(|e| &mut e.value)
    }

    /// Whether `key` is live, for a write's own check of its destination (Redis's
    /// `lookupKeyWrite`): counts no keyspace hit or miss.
    #[inline]
    pub fn has_live(&mut self, key: &[u8], now_ms: i64) -> bool {
        self.probe(key, now_ms).is_some()
    }

    pub fn contains(&mut self, key: &[u8], now_ms: i64) -> bool {
        self.lookup_no_touch(key, now_ms).is_some()
    }

    /// Stores a whole entry (value and TTL) under `key`, replacing any old one (RENAME, COPY,
    /// MOVE, SWAPDB-free moves between databases).
    pub fn set_entry(&mut self, key: &[u8], entry: Entry, now_ms: i64) {
        let expire = entry.expire_at();
        self.set(key, entry.value);
        if let Some(at) = expire {
            self.set_expire(key, at, now_ms);
        }
    }

    /// Stores `value` under `key`, dropping any old value and its TTL (Redis's `setKey`).
    pub fn set(&mut self, key: &[u8], value: Value) {
        let old = self.keys.insert(key, Entry::new(value));
        if old.is_none() {
            keyspace_events::key_created(self.index, key);
        }
        if let Some(old) = old {
            if old.expire_at_ms != NO_EXPIRE {
                self.expires.remove(&(old.expire_at_ms, hash_key(key)));
            }
            lazyfree::free(old.value);
        }
    }

    /// Stores `value` under `key` keeping the old TTL if the key existed (SET ... KEEPTTL).
    pub fn set_keep_ttl(&mut self, key: &[u8], value: Value, now_ms: i64) {
        match self.probe_touch(key, now_ms) {
            Some(entry) => lazyfree::free(std::mem::replace(&mut entry.value, value)),
            None => self.set(key, value),
        }
    }

    /// The live value under `key`, inserting `make()` if absent. The bool says it was created.
    pub fn get_or_insert_with(
        &mut self,
        key: &[u8],
        now_ms: i64,
        make: impl FnOnce() -> Value,
    ) -> (&mut Value, bool) {
        if !self.expires.is_empty() && self.keys.get(key).is_some_and(|e| e.is_expired(now_ms)) {
            if let Some(entry) = self.remove(key) {
                self.expired_lazily += 1;
                if let Some(log) = self.expired_log.as_mut() {
                    log.push(SmallBytes::new(key));
                    EXPIRED_PENDING.fetch_add(1, Ordering::Relaxed);
                }
                keyspace_events::key_expired(self.index, key);
                lazyfree::free(entry.value);
            }
        }
        let (entry, created) = self.keys.get_or_insert_with(key, || Entry::new(make()));
        if created {
            keyspace_events::key_created(self.index, key);
        }
        // A key just made keeps its initial LFU counter (Redis's dbAdd touches nothing).
        if !created || !crate::lfu::enabled() {
            entry.touch(now_ms);
        }
        (&mut entry.value, created)
    }

    /// Removes `key` whether or not it has expired, returning its entry.
    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let (_, entry) = self.keys.remove(key)?;
        if entry.expire_at_ms != NO_EXPIRE {
            self.expires.remove(&(entry.expire_at_ms, hash_key(key)));
        }
        Some(entry)
    }

    /// Deletes `key` if live; true if it was. The value is reclaimed off the lock if large.
    pub fn delete(&mut self, key: &[u8], now_ms: i64) -> bool {
        if self.probe(key, now_ms).is_none() {
            return false;
        }
        if let Some(entry) = self.remove(key) {
            lazyfree::free(entry.value);
        }
        true
    }

    /// Sets the absolute expiry of a live key. Returns false if the key is absent.
    pub fn set_expire(&mut self, key: &[u8], at_ms: i64, now_ms: i64) -> bool {
        debug_assert_ne!(at_ms, NO_EXPIRE);
        let hash = hash_key(key);
        let Some(entry) = self.probe_touch(key, now_ms) else {
            return false;
        };
        let old = std::mem::replace(&mut entry.expire_at_ms, at_ms);
        if old != NO_EXPIRE {
            self.expires.remove(&(old, hash));
        }
        self.expires.insert((at_ms, hash));
        true
    }

    /// Removes the TTL of a live key; true if it had one.
    pub fn persist(&mut self, key: &[u8], now_ms: i64) -> bool {
        let hash = hash_key(key);
        let Some(entry) = self.probe_touch(key, now_ms) else {
            return false;
        };
        let old = std::mem::replace(&mut entry.expire_at_ms, NO_EXPIRE);
        if old == NO_EXPIRE {
            return false;
        }
        self.expires.remove(&(old, hash));
        true
    }

    /// Deletes up to `max` keys whose deadline is before `now_ms`, earliest first. Returns how
    /// many keys were deleted and whether due keys remain.
    pub fn expire_due(
        &mut self,
        now_ms: i64,
        max: usize,
        mut on_expired: impl FnMut(&[u8]),
    ) -> (usize, bool) {
        let mut expired = 0;
        while expired < max {
            let Some(&(at, hash)) = self.expires.first() else {
                return (expired, false);
            };
            if at >= now_ms {
                return (expired, false);
            }
            self.expires.pop_first();
            if let Some((key, entry)) = self.keys.remove_by_hash(hash, |_, e| e.expire_at_ms == at)
            {
                on_expired(&key);
                lazyfree::free(entry.value);
                expired += 1;
            }
        }
        let more = self.expires.first().is_some_and(|&(at, _)| at < now_ms);
        (expired, more)
    }

    /// A sample of remaining TTLs for INFO's `avg_ttl`: (sum in ms, count), from the soonest and
    /// the latest deadlines (at most 64 of each), so it costs O(1) whatever the size.
    pub fn ttl_sample(&self, now_ms: i64) -> (i64, usize) {
        let soonest = self.expires.iter().take(64);
        let latest = self
            .expires
            .iter()
            .rev()
            .take(64.min(self.expires.len().saturating_sub(64)));
        soonest.chain(latest).fold((0, 0), |(sum, n), &(at, _)| {
            (sum + (at - now_ms).max(0), n + 1)
        })
    }

    /// Visits keys in scan order from `cursor`; returns the next cursor (0 when done).
    pub fn scan(&self, cursor: u64, count: usize, f: impl FnMut(&SmallBytes, &Entry)) -> u64 {
        self.keys.scan(cursor, count, f)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&SmallBytes, &Entry)> {
        self.keys.iter()
    }

    pub fn random_key<R: rand::Rng + ?Sized>(&self, rng: &mut R) -> Option<(&SmallBytes, &Entry)> {
        self.keys.random_entry(rng)
    }

    /// Empties the database; values are reclaimed off the lock.
    pub fn clear(&mut self) {
        let mut old = std::mem::take(self);
        self.expired_lazily = std::mem::take(&mut old.expired_lazily);
        self.expired_log = old.expired_log.take();
        self.index = old.index;
        let len = old.len();
        lazyfree::free_db(old, len);
    }

    /// Turns the log of lazily expired keys on or off (see `expired_log`).
    pub fn log_expired(&mut self, on: bool) {
        if let Some(dropped) = self.expired_log.as_ref().map(Vec::len).filter(|n| *n > 0) {
            EXPIRED_PENDING.fetch_sub(dropped, Ordering::Relaxed);
        }
        self.expired_log = on.then(Vec::new);
    }

    /// Takes the keys lookups expired since the last call (empty while logging is off).
    #[inline]
    pub fn take_expired(&mut self) -> Option<Vec<SmallBytes>> {
        match self.expired_log.as_mut() {
            Some(log) if !log.is_empty() => {
                EXPIRED_PENDING.fetch_sub(log.len(), Ordering::Relaxed);
                Some(std::mem::take(log))
            }
            _ => None,
        }
    }

    /// Keys lookups found expired and deleted since the last [`Db::reset_stats`].
    pub fn expired_lazily(&self) -> u64 {
        self.expired_lazily
    }

    /// CONFIG RESETSTAT.
    pub fn reset_stats(&mut self) {
        self.expired_lazily = 0;
    }

    /// Bytes held by the keyspace tables and index (not the values).
    pub fn overhead_bytes(&self) -> usize {
        self.keys.allocated_bytes() + self.expires.len() * 24
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::StrValue;

    fn s(v: &str) -> Value {
        Value::Str(StrValue::from_bytes(v.as_bytes()))
    }

    #[test]
    fn expired_keys_are_never_visible() {
        let mut db = Db::new();
        db.set(b"k", s("v"));
        assert!(db.set_expire(b"k", 1000, 0));
        assert!(
            db.contains(b"k", 1000),
            "a key expires only once the clock is past its deadline"
        );
        assert!(!db.contains(b"k", 1001));
        assert_eq!(db.len(), 0);
        assert_eq!(db.volatile_len(), 0);
    }

    #[test]
    fn lookups_count_the_keys_they_expire_and_clear_keeps_the_count() {
        let mut db = Db::new();
        for k in [&b"a"[..], b"b", b"c"] {
            db.set(k, s("v"));
            db.set_expire(k, 10, 0);
        }
        assert!(db.get(b"a", 11).is_none());
        assert!(!db.contains(b"b", 11));
        db.get_or_insert_with(b"c", 11, || s("new"));
        assert_eq!(db.expired_lazily(), 3);
        db.clear();
        assert_eq!(db.expired_lazily(), 3);
        db.reset_stats();
        assert_eq!(db.expired_lazily(), 0);
    }

    #[test]
    fn set_clears_the_ttl_and_keep_ttl_keeps_it() {
        let mut db = Db::new();
        db.set(b"k", s("v"));
        db.set_expire(b"k", 5000, 0);
        db.set_keep_ttl(b"k", s("w"), 0);
        assert_eq!(db.lookup(b"k", 0).unwrap().expire_at(), Some(5000));
        db.set(b"k", s("x"));
        assert_eq!(db.lookup(b"k", 0).unwrap().expire_at(), None);
        assert_eq!(db.volatile_len(), 0);
    }

    #[test]
    fn active_expiry_deletes_due_keys_in_bounded_batches() {
        let mut db = Db::new();
        for i in 0..100 {
            let key = format!("k{i}");
            db.set(key.as_bytes(), s("v"));
            db.set_expire(key.as_bytes(), i, 0);
        }
        db.set(b"live", s("v"));
        db.set_expire(b"live", 10_000, 0);
        let mut seen = Vec::new();
        let (n, more) = db.expire_due(50, 30, |k| seen.push(k.to_vec()));
        assert_eq!((n, more), (30, true));
        assert_eq!(seen[0], b"k0");
        let (n, more) = db.expire_due(50, 1000, |_| {});
        assert_eq!((n, more), (20, false));
        assert_eq!(db.len(), 51);
        assert_eq!(db.volatile_len(), 51);
        assert!(db.contains(b"live", 50));
    }

    #[test]
    fn persist_and_reexpire_keep_the_index_in_step() {
        let mut db = Db::new();
        db.set(b"k", s("v"));
        db.set_expire(b"k", 10, 0);
        db.set_expire(b"k", 20, 0);
        assert_eq!(db.volatile_len(), 1);
        assert!(db.persist(b"k", 0));
        assert!(!db.persist(b"k", 0));
        assert_eq!(db.volatile_len(), 0);
        assert_eq!(db.expire_due(100, 10, |_| {}), (0, false));
        assert!(db.contains(b"k", 100));
    }
}
