//! Consumer groups of a stream: the group's last delivered id and read counter, its pending
//! entries list (PEL), and its consumers with their own PELs and seen-times.
//!
//! Invariant (as Redis's `streamCG`): an id is in a consumer's PEL exactly when it is in the
//! group's PEL with that consumer as owner; every change goes through [`Group`]'s methods,
//! which keep both sides in step.

use super::StreamId;
use std::collections::{BTreeMap, BTreeSet};

/// `SCG_INVALID_ENTRIES_READ`: the group's read counter is unknown.
pub const ENTRIES_READ_INVALID: i64 = -1;

/// A pending entry (`streamNACK`).
#[derive(Clone, Debug)]
pub struct Nack {
    /// Last delivery, Unix ms.
    pub delivery_time: i64,
    pub delivery_count: u64,
    pub consumer: Vec<u8>,
}

#[derive(Clone, Debug, Default)]
pub struct Consumer {
    /// Last time the consumer read or claimed, Unix ms.
    pub seen_time: i64,
    pub pel: BTreeSet<StreamId>,
}

#[derive(Clone, Debug)]
pub struct Group {
    pub last_id: StreamId,
    /// Logical read counter, or [`ENTRIES_READ_INVALID`].
    pub entries_read: i64,
    pub pel: BTreeMap<StreamId, Nack>,
    /// By name (Redis's radix tree: name order).
    pub consumers: BTreeMap<Vec<u8>, Consumer>,
}

impl Group {
    pub fn new(last_id: StreamId, entries_read: i64) -> Self {
        Group {
            last_id,
            entries_read,
            pel: BTreeMap::new(),
            consumers: BTreeMap::new(),
        }
    }

    pub fn allocated_bytes(&self) -> usize {
        let pel: usize = self.pel.values().map(|n| 64 + n.consumer.len()).sum();
        let consumers: usize = self
            .consumers
            .iter()
            .map(|(name, c)| 64 + name.len() + c.pel.len() * 24)
            .sum();
        pel + consumers
    }

    /// The consumer `name`, created if missing (`streamLookupConsumer` + create); true in the
    /// second place when it was created.
    pub fn consumer_or_create(&mut self, name: &[u8], now_ms: i64) -> (&mut Consumer, bool) {
        let created = !self.consumers.contains_key(name);
        if created {
            let c = Consumer {
                seen_time: now_ms,
                pel: BTreeSet::new(),
            };
            self.consumers.insert(name.to_vec(), c);
        }
        let c = self
            .consumers
            .get_mut(name)
            .expect("present or just created");
        (c, created)
    }

    /// Records a delivery of `id` to `consumer` (XREADGROUP, XCLAIM): a new pending entry,
    /// or an existing one moved to `consumer`. Leaves times and counts to the caller.
    pub fn assign(&mut self, id: StreamId, consumer: &[u8], delivery_time: i64, count: u64) {
        if let Some(old) = self.pel.get(&id).map(|n| n.consumer.clone()) {
            if let Some(c) = self.consumers.get_mut(&old) {
                c.pel.remove(&id);
            }
        }
        self.pel.insert(
            id,
            Nack {
                delivery_time,
                delivery_count: count,
                consumer: consumer.to_vec(),
            },
        );
        if let Some(c) = self.consumers.get_mut(consumer) {
            c.pel.insert(id);
        }
    }

    /// Removes `id` from the PELs (XACK, and claims of deleted entries); false if it was not
    /// pending.
    pub fn ack(&mut self, id: StreamId) -> bool {
        let Some(nack) = self.pel.remove(&id) else {
            return false;
        };
        if let Some(c) = self.consumers.get_mut(&nack.consumer) {
            c.pel.remove(&id);
        }
        true
    }

    /// Deletes a consumer and its pending entries; returns how many were pending, or `None`
    /// if there was no such consumer.
    pub fn delete_consumer(&mut self, name: &[u8]) -> Option<usize> {
        let c = self.consumers.remove(name)?;
        for id in &c.pel {
            self.pel.remove(id);
        }
        Some(c.pel.len())
    }
}
