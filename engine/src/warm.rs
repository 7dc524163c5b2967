//! Batch prefetching ("warming") of sorted-set member lookups.
//!
//! A poll of a 100,000-member waiting line is a chain of dependent cache misses: the index
//! group, then the slab entry it names, then the tree leaf for the rank. Run one command after
//! another and a pipelined batch waits for each miss in turn. Before the batch runs, the
//! connection hands the member lookups its commands declare ([`crate::command::WarmHint`]) to
//! [`warm_members`], which walks them stage by stage: first every index group is requested,
//! then every slab entry, then every leaf, so the misses of the whole batch overlap. The
//! commands then run as usual and find their lines in cache.
//!
//! Warming only issues prefetch hints and reads: it changes no value, no access time and no
//! expiry, so it cannot change any reply. A key that is missing, of another type or small is
//! skipped.

use crate::db::Db;
use crate::types::zset::ZSet;
use crate::value::Value;
use smallvec::SmallVec;

/// One lookup to warm: a key, a member, and whether its rank is wanted.
#[derive(Clone, Copy, Debug)]
pub struct WarmItem<'a> {
    pub key: &'a [u8],
    pub member: &'a [u8],
    pub rank: bool,
}

/// Warms `items`, all of whose keys live in `db`.
pub fn warm_members(db: &Db, items: &[WarmItem<'_>]) {
    let mut sets: SmallVec<[(&ZSet, WarmItem<'_>); 32]> = SmallVec::new();
    let mut last: Option<(&[u8], Option<&ZSet>)> = None;
    for item in items {
        // Batches usually poll one line: look each distinct key up once.
        let zset = match last {
            Some((key, zset)) if key == item.key => zset,
            _ => {
                let zset = match db.peek(item.key) {
                    Some(Value::ZSet(z)) => Some(&**z),
                    _ => None,
                };
                last = Some((item.key, zset));
                zset
            }
        };
        if let Some(zset) = zset {
            sets.push((zset, *item));
        }
    }
    for stage in 0..ZSet::WARM_STAGES {
        for (zset, item) in &sets {
            zset.warm(item.member, stage, item.rank);
        }
    }
}
