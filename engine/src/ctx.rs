//! The execution context a command runs in: locked shards, the selected database, the clock,
//! configuration, and the side effects the server must act on afterwards.
//!
//! Engine code never awaits and never touches a socket; whatever must happen outside the locks
//! (waking blocked clients, counting changes for persistence) is recorded in [`Effects`] and
//! done by the server once the command returns.
//!
//! It also defines [`ServeFn`], the shape of a blocked command's serving logic: that logic runs
//! in this context (the writer's), so the type belongs with it rather than with the waiters.

use crate::block_queues::{sealed, ServeHook};
use crate::bytes::SmallBytes;
use crate::config::EngineConfig;
use crate::db::Db;
use crate::error::CmdError;
use crate::keyspace_events::{self, KeyEvent};
use crate::store::LockedShards;

/// What a command did that the server must follow up on.
#[derive(Default, Debug)]
pub struct Effects {
    /// Number of changes made (Redis's `server.dirty` delta).
    pub dirty: u64,
    /// Keys that received elements and may unblock waiting clients: (db, key).
    pub ready_keys: Vec<(usize, SmallBytes)>,
    /// Set by a blocking command that found nothing to pop: the keys to wait on and the
    /// deadline (Unix ms, 0 = forever). The command wrote no reply.
    pub block: Option<BlockOn>,
    /// Messages to publish once the command's locks are released: (channel, message). Queue
    /// policies announce admitted users this way.
    pub publish: Vec<(Vec<u8>, Vec<u8>)>,
    /// What to log (AOF, later replication) for this command, in order, with each entry's
    /// database: a handler whose argv would not replay to the same effect says so here
    /// (`rewritten`), and served blocking pops add their non-blocking form. Empty and not
    /// rewritten: a command that changed data is logged as its own argv.
    pub propagate: Vec<(usize, Vec<Vec<u8>>)>,
    /// The command's argv is replaced by [`Effects::propagate`] (possibly by nothing).
    pub rewritten: bool,
    /// Keyspace events to publish once the locks are released, in the order they happened.
    /// Only filled while `notify-keyspace-events` enables their class.
    pub events: Vec<KeyEvent>,
}

/// A blocking command's request to wait.
#[derive(Clone)]
pub struct BlockOn {
    pub keys: Vec<SmallBytes>,
    /// Absolute Unix ms; 0 waits forever.
    pub deadline_ms: i64,
    /// How the command pops once a key is ready (runs in the writer's context).
    pub serve: ServeFn,
    /// What to reply on timeout.
    pub on_timeout: TimeoutReply,
    /// The command as the waiter keeps it, when it differs from what was sent (XREAD's `$`
    /// resolved to the stream's last id at blocking time).
    pub argv: Option<usher_protocol::OwnedArgv>,
}

impl std::fmt::Debug for BlockOn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockOn")
            .field("keys", &self.keys)
            .field("deadline_ms", &self.deadline_ms)
            .finish()
    }
}

/// What a blocked command's serving logic reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Serve {
    /// The reply was written; the waiter is done.
    Served,
    /// Nothing to pop here (empty or wrong type); the waiter keeps waiting.
    Nothing,
    /// The command needs a key on a shard the serving context does not hold (a cross-shard
    /// BLMOVE): wake the waiter so it retries with its own locks.
    Retry,
}

/// Serves a waiter from `key` (which just received elements): pops, writes the reply.
/// Must not write anything unless it returns `Served`.
pub type ServeFn = fn(
    &mut ExecCtx<'_, '_>,
    &usher_protocol::OwnedArgv,
    &[u8],
    &mut dyn usher_protocol::ReplySink,
) -> Result<Serve, CmdError>;

// These let a waiter carry its ServeFn through the shard's queues, which sit below this module.
impl sealed::Sealed for ServeFn {}
impl ServeHook for ServeFn {}

/// The nil reply of a blocking command that pops nothing: on timeout, or at once where it may
/// not block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeoutReply {
    /// A null array: every timeout, BLMOVE and BRPOPLPUSH included (Redis 7.0's
    /// `replyToBlockedClientTimedOut` answers every list and sorted-set waiter with one), and
    /// the pops inside MULTI or a script.
    NullArray,
    /// A null bulk string: BLMOVE and BRPOPLPUSH inside MULTI or a script (they reply like
    /// LMOVE there).
    NullBulk,
}

impl Effects {
    pub fn clear(&mut self) {
        self.dirty = 0;
        self.ready_keys.clear();
        self.block = None;
        self.publish.clear();
        self.propagate.clear();
        self.rewritten = false;
        self.events.clear();
    }

    /// Whether anything waits for delivery after the locks are released: announcements, or
    /// keyspace events (also those the database logged on this thread).
    #[inline]
    pub fn has_deliveries(&self) -> bool {
        !self.publish.is_empty() || !self.events.is_empty() || keyspace_events::pending()
    }
}

pub struct ExecCtx<'a, 's> {
    pub shards: &'a mut LockedShards<'s>,
    /// Selected database index.
    pub db: usize,
    /// The command's clock, fixed for its whole run (and for a whole MULTI or script).
    pub now_ms: i64,
    pub config: &'a EngineConfig,
    pub effects: &'a mut Effects,
    /// False inside MULTI/EXEC and scripts: blocking commands then behave as non-blocking.
    pub may_block: bool,
    /// Called by a script (`redis.call`): XREAD's BLOCK option is refused there, as Redis does.
    pub in_script: bool,
}

impl<'a, 's> ExecCtx<'a, 's> {
    /// The selected database on the shard that owns `key`.
    #[inline]
    pub fn db(&mut self, key: &[u8]) -> &mut Db {
        self.shards.db(self.db, key)
    }

    /// Records that `key` was modified: invalidates WATCHes and counts a change. A waiting
    /// line deleted this way (DEL, RENAME, ...) drops its admission statistics: a new sale
    /// under the same name must not inherit the old one's pace.
    #[inline]
    pub fn modified(&mut self, key: &[u8]) {
        let (db, now) = (self.db, self.now_ms);
        let shard = self.shards.shard(key);
        shard.touch(db, key);
        // A key that stopped holding a stream (deleted, overwritten) answers the clients
        // blocked on it in XREADGROUP with an error, as Redis 7.0's
        // `signalDeletedKeyAsReady`; the other waiters find nothing and keep waiting.
        if shard.blocked.has_waiters(db, key)
            && !matches!(
                shard.dbs[db].peek(key),
                Some(crate::value::Value::Stream(_))
            )
        {
            self.effects.ready_keys.push((db, SmallBytes::new(key)));
        }
        if !shard.queues.is_empty()
            && shard.queues.get(db, key).is_some()
            && !shard.dbs[db].contains(key, now)
        {
            shard.queues.line_deleted(db, key);
        }
        shard.queues.sub_queue_written(db, key);
        self.effects.dirty += 1;
    }

    /// The waiting-room state the shard of `queue` keeps for it in the current database (see
    /// `queue::registry`); the queue's shard must be held.
    #[inline]
    pub fn queue_state(&mut self, queue: &[u8]) -> Option<&mut crate::queue::registry::QueueState> {
        let db = self.db;
        self.shards.shard(queue).queues.get_mut(db, queue)
    }

    /// [`ExecCtx::modified`] for the waiting-room family's own writes: a line that admissions
    /// empty is still the same sale, so its statistics stay.
    #[inline]
    pub fn modified_in_sale(&mut self, key: &[u8]) {
        let db = self.db;
        self.shards.shard(key).touch(db, key);
        self.effects.dirty += 1;
    }

    /// Logs this command as `argv` (in the selected database) instead of its own argv, for a
    /// deterministic replay: SPOP's random pick becomes the SREM of what it popped.
    pub fn log_as(&mut self, argv: Vec<Vec<u8>>) {
        self.effects.rewritten = true;
        self.effects.propagate.push((self.db, argv));
    }

    /// Records keyspace event `event` of `class` (a [`keyspace_events`] bit) on `key` of the
    /// selected database, as Redis's `notifyKeyspaceEvent`. One branch when the class is off.
    #[inline]
    pub fn notify(&mut self, class: u32, event: &'static str, key: &[u8]) {
        if self.config.notify_classes & class != 0 {
            let db = self.db;
            self.record_event(class, event, db, key);
        }
    }

    /// [`ExecCtx::notify`] for a key of another database (MOVE, COPY ... DB).
    #[inline]
    pub fn notify_in(&mut self, db: usize, class: u32, event: &'static str, key: &[u8]) {
        if self.config.notify_classes & class != 0 {
            self.record_event(class, event, db, key);
        }
    }

    /// Where the next event will go, for [`ExecCtx::events_swap_since`].
    #[inline]
    pub fn events_mark(&mut self) -> usize {
        if self.config.notify_classes != 0 {
            keyspace_events::take_into(&mut self.effects.events);
        }
        self.effects.events.len()
    }

    /// Puts the events recorded since `split` before those recorded from `mark` to `split`:
    /// for commands whose steps run in another order than Redis's (LMOVE pops, then pushes;
    /// Redis pushes, then pops).
    pub fn events_swap_since(&mut self, mark: usize, split: usize) {
        if self.config.notify_classes != 0 {
            keyspace_events::take_into(&mut self.effects.events);
            self.effects.events[mark..].rotate_left(split - mark);
        }
    }

    #[cold]
    fn record_event(&mut self, class: u32, event: &'static str, db: usize, key: &[u8]) {
        // What the database logged on the way (`expired`, `new`) happened first.
        keyspace_events::take_into(&mut self.effects.events);
        self.effects.events.push(KeyEvent {
            class,
            event,
            db: db as u32,
            key: SmallBytes::new(key),
        });
    }

    /// Records that `key` received elements a blocked client may be waiting for. Costs one
    /// emptiness check when nobody is blocked on the shard.
    #[inline]
    pub fn ready(&mut self, key: &[u8]) {
        let db = self.db;
        self.ready_in(db, key);
    }

    /// [`ExecCtx::ready`] for a key of another database (COPY ... DB, MOVE).
    pub fn ready_in(&mut self, db: usize, key: &[u8]) {
        if let Some(shard) = self.shards.try_shard(key) {
            if shard.blocked.has_waiters(db, key) {
                self.effects.ready_keys.push((db, SmallBytes::new(key)));
            }
        }
    }
}
