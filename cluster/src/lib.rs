//! Cluster routing for usher: the one function that maps a key to a hash slot.
//!
//! This crate owns CRC16 hash slots and hash tags, companion-key naming, and the cluster
//! topology (which node owns which slot, and the `CLUSTER NODES` / `CLUSTER INFO` texts),
//! and the slots this node is moving (`CLUSTER SETSLOT`). It never runs commands and never holds
//! data.

pub mod naming;
pub mod slot;
pub mod topology;

pub use naming::{companion_key, has_hash_tag};
pub use slot::{crc16, key_hash_slot, SLOT_COUNT};
pub use topology::{valid_node_id, Node, OpenSlot, Topology};
