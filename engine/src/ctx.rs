//! The execution context a command runs in: locked shards, the selected database, the clock,
//! configuration, and the side effects the server must act on afterwards.
//!
//! Engine code never awaits and never touches a socket; whatever must happen outside the locks
//! (waking blocked clients, counting changes for persistence) is recorded in [`Effects`] and
//! done by the server once the command returns.

use crate::bytes::SmallBytes;
use crate::config::EngineConfig;
use crate::db::Db;
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
}

#[derive(Debug, Clone)]
pub struct BlockOn {
    pub keys: Vec<SmallBytes>,
    pub deadline_ms: i64,
}

impl Effects {
    pub fn clear(&mut self) {
        self.dirty = 0;
        self.ready_keys.clear();
        self.block = None;
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
}

impl<'a, 's> ExecCtx<'a, 's> {
    /// The selected database on the shard that owns `key`.
    #[inline]
    pub fn db(&mut self, key: &[u8]) -> &mut Db {
        self.shards.db(self.db, key)
    }

    /// Records that `key` was modified: invalidates WATCHes and counts a change.
    #[inline]
    pub fn modified(&mut self, key: &[u8]) {
        let db = self.db;
        self.shards.shard(key).touch(db, key);
        self.effects.dirty += 1;
    }

    /// Records that `key` received elements a blocked client may be waiting for.
    pub fn ready(&mut self, key: &[u8]) {
        let db = self.db;
        self.effects.ready_keys.push((db, SmallBytes::new(key)));
    }
}
