//! Reclaiming large values without stalling a shard.
//!
//! Dropping a 10-million-member sorted set takes hundreds of milliseconds; doing that while a
//! shard lock is held would stall every client of the shard. Like Redis's lazyfree, values with
//! more than [`LAZYFREE_THRESHOLD`] elements (and whole databases emptied by FLUSHDB/FLUSHALL)
//! are handed to a reclaimer the server installs at start-up (a background thread); small values
//! are dropped on the spot, which is cheaper than the hand-off. Without a reclaimer (unit tests,
//! tools) everything is dropped on the spot.
//!
//! The database frees its values through here, so this module does not name `Db`: a whole
//! database arrives as an opaque box.

use crate::value::Value;
use std::sync::OnceLock;

/// Redis's `LAZYFREE_THRESHOLD`: values with more elements than this are freed in the background.
pub const LAZYFREE_THRESHOLD: usize = 64;

/// Something to drop later.
pub enum Garbage {
    Value(Value),
    /// A whole database (`crate::db::Db`), opaque for the reason above.
    Db(Box<dyn Send>),
}

type Reclaimer = Box<dyn Fn(Garbage) + Send + Sync>;

static RECLAIMER: OnceLock<Reclaimer> = OnceLock::new();

/// Installs the process-wide reclaimer; later calls are ignored.
pub fn install(reclaimer: impl Fn(Garbage) + Send + Sync + 'static) {
    let _ = RECLAIMER.set(Box::new(reclaimer));
}

/// Drops `value` now if small, else hands it to the reclaimer.
#[inline]
pub fn free(value: Value) {
    if value.element_count() > LAZYFREE_THRESHOLD {
        if let Some(reclaim) = RECLAIMER.get() {
            reclaim(Garbage::Value(value));
        }
    }
}

/// Drops a whole database of `len` keys now if small, else hands it to the reclaimer.
pub fn free_db(db: impl Send + 'static, len: usize) {
    if len > LAZYFREE_THRESHOLD {
        if let Some(reclaim) = RECLAIMER.get() {
            reclaim(Garbage::Db(Box::new(db)));
        }
    }
}
