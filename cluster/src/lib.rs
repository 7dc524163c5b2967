//! Cluster routing for usher: the one function that maps a key to a hash slot.
//!
//! This crate owns CRC16 hash slots and hash tags today; slot-to-node and slot-to-shard maps,
//! topology, `CLUSTER` replies, `MOVED`/`ASK`/`CROSSSLOT` and split-queue key naming join it
//! later. It never runs commands and never holds data.

pub mod naming;
pub mod slot;

pub use naming::{companion_key, has_hash_tag};
pub use slot::{crc16, key_hash_slot, SLOT_COUNT};
