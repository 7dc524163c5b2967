//! Per-shard, in-memory waiting-room state that is not (and must not be) in keys, by
//! (database, queue key): the measured admission statistics, the arrival watermark, and for
//! queues with a policy the server runs, the last valid policy, what the hash holds that was
//! refused, the admission token bucket and the heartbeat back-fill cursor; for a split line,
//! the names of its sub-queues (the `<queue>:split` hash is the truth, see `split`).

use super::arrivals::ArrivalIndex;
use super::policy::{Bucket, Policy};
use super::rate::AdmissionStats;
use crate::bytes::SmallBytes;
use foldhash::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// What the server keeps for a queue with a policy.
#[derive(Clone, Debug)]
pub struct PolicyState {
    /// The last policy read without refusals for its limits (see [`Policy::from_hash`]).
    pub policy: Option<Policy>,
    /// Why fields of the hash were refused at the last read (empty when it is all valid).
    pub errors: Vec<String>,
    pub bucket: Bucket,
    /// Heartbeat back-fill: waiters with arrival scores above this have not been given a
    /// heartbeat deadline yet (those who joined before the policy had heartbeats). `None`
    /// once every waiter has one.
    pub backfill_after: Option<f64>,
    /// The (state, message) last announced on the policy's channel.
    pub announced: Option<(&'static str, Option<Vec<u8>>)>,
}

#[derive(Default, Debug)]
pub struct QueueState {
    pub stats: AdmissionStats,
    /// The highest arrival score ever given in this line, so that scores keep growing when
    /// the line empties and fills again.
    pub last_arrival: Option<f64>,
    pub policy: Option<PolicyState>,
    /// Waiters dropped because their heartbeat lapsed (abandoners), since the statistics
    /// started.
    pub dropped_total: u64,
    /// Admission tokens issued, and spent through TOKENVERIFY ... CONSUME.
    pub tokens_issued_total: u64,
    pub tokens_consumed_total: u64,
    /// Automatic queueing: whether arrivals queue now (the cap or the rate was reached and the
    /// line has not drained since), so that each switch is announced once.
    pub queueing: bool,
    /// The sub-queues of a split line (see [`super::split`]); `None` when unsplit.
    pub split: Option<Arc<SubQueues>>,
    /// A split line's arrival scores over all its sub-queues, with the flag a command outside
    /// the family raises when it writes one of them by hand (see
    /// [`QueueRegistry::sub_queue_written`]); `None` until first needed (built from the
    /// sub-queues then) and after anything that makes it doubtful.
    pub arrivals: Option<(ArrivalIndex, Arc<AtomicBool>)>,
}

/// The sub-queues of a split line, in order, with each one's hash slot: the dispatcher and
/// the handlers find their shards on every command on the line, so the CRC16 of each name is
/// taken once, here.
#[derive(Debug)]
pub struct SubQueues {
    names: Box<[SmallBytes]>,
    slots: Box<[u16]>,
}

impl SubQueues {
    pub fn new(names: Vec<SmallBytes>) -> Arc<SubQueues> {
        let slots = names
            .iter()
            .map(|n| usher_cluster::key_hash_slot(n))
            .collect();
        Arc::new(SubQueues {
            names: names.into(),
            slots,
        })
    }

    pub fn names(&self) -> &[SmallBytes] {
        &self.names
    }

    pub fn slots(&self) -> &[u16] {
        &self.slots
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// What happened to the seats of one event (the seat keys' hash tag), for the metrics
/// endpoint: counters since the server started.
#[derive(Default, Clone, Debug)]
pub struct SeatStats {
    pub holds: u64,
    /// Holds refused because the seat was taken: the contention a sale watches.
    pub conflicts: u64,
    pub confirmations: u64,
    pub releases: u64,
    pub cancellations: u64,
}

/// Events with seat statistics kept per shard: beyond it new events are not counted, so a
/// client inventing hash tags cannot grow the server's memory or the metrics' label sets.
pub const MAX_SEAT_EVENTS: usize = 10_000;

impl QueueState {
    /// A new sale's statistics: admissions, drops and tokens count from zero.
    pub fn fresh_statistics(&mut self) {
        self.stats = AdmissionStats::default();
        self.dropped_total = 0;
        self.tokens_issued_total = 0;
        self.tokens_consumed_total = 0;
    }
}

/// Sub-queues watched on every shard of the process, changed under the shard's lock where
/// they are (un)watched. While 0 (no line's index is built anywhere) a write asks no shard
/// whether it names one: one load. It may stay above the true count (a registry dropped
/// whole), which costs only that check, never below it.
static SUB_QUEUES_WATCHED: AtomicUsize = AtomicUsize::new(0);

/// Whether any shard may hold a watched sub-queue (see [`QueueRegistry::has_sub_queues`]).
#[inline]
pub fn sub_queues_watched() -> bool {
    SUB_QUEUES_WATCHED.load(Ordering::Relaxed) != 0
}

/// What a watched sub-queue leads to: its line's "edited" flag and the shard of its queue.
struct SubQueueWatch {
    edited: Arc<AtomicBool>,
    home: u16,
}

#[derive(Default)]
pub struct QueueRegistry {
    queues: HashMap<(u32, SmallBytes), QueueState>,
    policies: usize,
    /// Split lines on this shard: while 0, asking whether a line is split costs one compare.
    splits: usize,
    /// The sub-queues on this shard of split lines (of any shard) whose index is built: a
    /// write to one by a command outside the family raises its line's flag, and the
    /// dispatcher has such a command hold its line's queue's shard too.
    sub_queues: HashMap<(u32, SmallBytes), SubQueueWatch>,
    seats: HashMap<(u32, SmallBytes), SeatStats>,
}

impl QueueRegistry {
    /// True when no queue of this shard has state (one check on the command path).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.queues.is_empty()
    }

    pub fn get(&self, db: usize, queue: &[u8]) -> Option<&QueueState> {
        self.queues.get(&(db as u32, SmallBytes::new(queue)))
    }

    pub fn get_mut(&mut self, db: usize, queue: &[u8]) -> Option<&mut QueueState> {
        self.queues.get_mut(&(db as u32, SmallBytes::new(queue)))
    }

    pub fn entry(&mut self, db: usize, queue: &[u8]) -> &mut QueueState {
        self.queues
            .entry((db as u32, SmallBytes::new(queue)))
            .or_default()
    }

    /// Every queue with state on this shard: (db, queue, state).
    pub fn iter(&self) -> impl Iterator<Item = (usize, &[u8], &QueueState)> {
        self.queues
            .iter()
            .map(|((db, q), state)| (*db as usize, &q[..], state))
    }

    pub fn record_admissions(&mut self, db: usize, queue: &[u8], now_ms: i64, n: u64) {
        self.entry(db, queue).stats.record(now_ms, n);
    }

    /// The seat statistics of the event whose hash tag is `tag`, if it is counted.
    pub fn seat_stats(&mut self, db: usize, tag: &[u8]) -> Option<&mut SeatStats> {
        let key = (db as u32, SmallBytes::new(tag));
        // One look-up on the command path (every SEATLOCK counts here); a second only once
        // the table is full.
        if self.seats.len() >= MAX_SEAT_EVENTS {
            return self.seats.get_mut(&key);
        }
        Some(self.seats.entry(key).or_default())
    }

    /// Every event's seat statistics on this shard: (db, tag, stats).
    pub fn seat_events(&self) -> impl Iterator<Item = (usize, &[u8], &SeatStats)> {
        self.seats
            .iter()
            .map(|((db, tag), s)| (*db as usize, &tag[..], s))
    }

    /// True when `queue` has a policy; one emptiness check when no queue has one.
    #[inline]
    pub fn has_policy(&self, db: usize, queue: &[u8]) -> bool {
        self.policies > 0 && self.get(db, queue).is_some_and(|q| q.policy.is_some())
    }

    /// True when a line of this shard is split (one compare on the command path).
    #[inline]
    pub fn has_splits(&self) -> bool {
        self.splits > 0
    }

    /// Watches `sub_queue` (on this shard) for writes outside the family, raising `flag`;
    /// `home` is the shard of its line's queue.
    pub fn watch_sub_queue(
        &mut self,
        db: usize,
        sub_queue: &[u8],
        flag: Arc<AtomicBool>,
        home: u16,
    ) {
        let watch = SubQueueWatch { edited: flag, home };
        let key = (db as u32, SmallBytes::new(sub_queue));
        if self.sub_queues.insert(key, watch).is_none() {
            SUB_QUEUES_WATCHED.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Whether this shard holds a watched sub-queue (one compare on the command path).
    #[inline]
    pub fn has_sub_queues(&self) -> bool {
        !self.sub_queues.is_empty()
    }

    /// The shard of the queue whose watched sub-queue `key` is, in any database (a
    /// transaction may SELECT between its commands; holding a shard more than needed is
    /// harmless). The map holds only the sub-queues of split lines: a scan is enough.
    pub fn home_of_sub_queue(&self, key: &[u8]) -> Option<u16> {
        self.sub_queues
            .iter()
            .find(|((_, sub), _)| **sub == *key)
            .map(|(_, watch)| watch.home)
    }

    /// Stops watching `sub_queue` (its line was merged back or split anew).
    pub fn unwatch_sub_queue(&mut self, db: usize, sub_queue: &[u8]) {
        let key = (db as u32, SmallBytes::new(sub_queue));
        if self.sub_queues.remove(&key).is_some() {
            SUB_QUEUES_WATCHED.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// A command outside the waiting-room family wrote `key` (ZADD, DEL, RENAME, EXPIRE...):
    /// if it is a sub-queue of a split line, that line's arrival index no longer matches it
    /// and is rebuilt at its next use. One emptiness check while no index is built.
    #[inline]
    pub fn sub_queue_written(&self, db: usize, key: &[u8]) {
        if self.sub_queues.is_empty() {
            return;
        }
        if let Some(watch) = self.sub_queues.get(&(db as u32, SmallBytes::new(key))) {
            watch.edited.store(true, Ordering::Relaxed);
        }
    }

    /// The sub-queues of `queue` if it is split; one compare when no line of the shard is.
    #[inline]
    pub fn split_of(&self, db: usize, queue: &[u8]) -> Option<&Arc<SubQueues>> {
        if self.splits == 0 {
            return None;
        }
        self.get(db, queue).and_then(|q| q.split.as_ref())
    }

    /// Records (`Some`) or forgets (`None`) the split of `queue`.
    pub fn set_split(&mut self, db: usize, queue: &[u8], subs: Option<Arc<SubQueues>>) {
        let q = self.entry(db, queue);
        let was = q.split.is_some();
        let now = subs.is_some();
        q.split = subs;
        q.arrivals = None;
        match (was, now) {
            (false, true) => self.splits += 1,
            (true, false) => self.splits -= 1,
            _ => {}
        }
    }

    pub fn policy_state(&mut self, db: usize, queue: &[u8]) -> Option<&mut PolicyState> {
        self.get_mut(db, queue).and_then(|q| q.policy.as_mut())
    }

    /// Registers (or replaces) the policy of `queue`, keeping its bucket. `errors` says what
    /// the hash held that was refused (empty for QPOLICY SET, which refuses bad input whole).
    /// A policy that gains heartbeats starts the back-fill of the waiters already in line,
    /// unless the caller saw that nobody waits (`line_empty`): then there is nobody to
    /// back-fill, and a late first tick must not give a deadline from the server's clock to
    /// a user QUNHOLD returned meanwhile (the order of ticks and commands would decide it).
    pub fn store_policy(
        &mut self,
        db: usize,
        queue: &[u8],
        policy: Policy,
        errors: Vec<String>,
        line_empty: bool,
    ) {
        let q = self.entry(db, queue);
        let added = q.policy.is_none();
        let state = q.policy.get_or_insert_with(|| PolicyState {
            policy: None,
            errors: Vec::new(),
            bucket: Bucket::default(),
            backfill_after: None,
            announced: None,
        });
        let had_heartbeat = state
            .policy
            .as_ref()
            .is_some_and(|p| p.heartbeat_ms.is_some());
        if !had_heartbeat && policy.heartbeat_ms.is_some() && !line_empty {
            state.backfill_after = Some(f64::NEG_INFINITY);
        }
        state.policy = Some(policy);
        state.errors = errors;
        if added {
            self.policies += 1;
        }
    }

    pub fn unregister_policy(&mut self, db: usize, queue: &[u8]) -> bool {
        let had = self
            .get_mut(db, queue)
            .and_then(|q| q.policy.take())
            .is_some();
        if had {
            self.policies -= 1;
        }
        had
    }

    /// Queues with a policy, for the server's tick and QPOLICY LIST.
    pub fn policy_queues(&self) -> Vec<(usize, SmallBytes)> {
        if self.policies == 0 {
            return Vec::new();
        }
        self.queues
            .iter()
            .filter(|(_, q)| q.policy.is_some())
            .map(|((db, q), _)| (*db as usize, q.clone()))
            .collect()
    }

    /// Queues of `db` whose policy admits into `active` (QREVOKE withdraws their tokens).
    pub fn queues_admitting_into(&self, db: usize, active: &[u8]) -> Vec<SmallBytes> {
        if self.policies == 0 {
            return Vec::new();
        }
        self.queues
            .iter()
            .filter(|((d, _), q)| {
                *d as usize == db
                    && q.policy
                        .as_ref()
                        .and_then(|s| s.policy.as_ref())
                        .is_some_and(|p| p.active == active)
            })
            .map(|((_, q), _)| q.clone())
            .collect()
    }

    /// The line at `queue` was deleted by a command outside the family (DEL, RENAME, ...): a
    /// new sale under the same name starts with fresh statistics.
    pub fn line_deleted(&mut self, db: usize, queue: &[u8]) {
        if let Some(q) = self.get_mut(db, queue) {
            q.fresh_statistics();
        }
    }

    /// FLUSHDB / FLUSHALL: every line of `db` is gone, and with it its statistics and
    /// watermark (policies stop at their next tick, once their hash is found missing).
    pub fn flush_db(&mut self, db: usize) {
        for ((d, _), q) in self.queues.iter_mut() {
            if *d as usize == db {
                q.fresh_statistics();
                q.last_arrival = None;
                // The `:split` hash and the sub-queues are gone with the rest.
                q.arrivals = None;
                if q.split.take().is_some() {
                    self.splits -= 1;
                }
            }
        }
        self.queues
            .retain(|(d, _), q| *d as usize != db || q.policy.is_some());
        let before = self.sub_queues.len();
        self.sub_queues.retain(|(d, _), _| *d as usize != db);
        SUB_QUEUES_WATCHED.fetch_sub(before - self.sub_queues.len(), Ordering::Relaxed);
    }

    /// CONFIG RESETSTAT.
    pub fn reset_stats(&mut self) {
        for q in self.queues.values_mut() {
            q.fresh_statistics();
        }
        self.seats.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_to_a_watched_sub_queue_raise_its_lines_flag_until_unwatched() {
        let mut registry = QueueRegistry::default();
        let flag = Arc::new(AtomicBool::new(false));
        registry.sub_queue_written(0, b"q{#1}");
        registry.watch_sub_queue(0, b"q{#1}", flag.clone(), 5);
        assert_eq!(registry.home_of_sub_queue(b"q{#1}"), Some(5));
        assert_eq!(registry.home_of_sub_queue(b"other"), None);
        registry.sub_queue_written(1, b"q{#1}"); // another database
        registry.sub_queue_written(0, b"other");
        assert!(!flag.load(Ordering::Relaxed));
        registry.sub_queue_written(0, b"q{#1}");
        assert!(flag.swap(false, Ordering::Relaxed));
        registry.unwatch_sub_queue(0, b"q{#1}");
        registry.sub_queue_written(0, b"q{#1}");
        assert!(!flag.load(Ordering::Relaxed));
        assert!(!registry.has_sub_queues());
    }
}
