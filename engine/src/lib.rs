//! The usher engine: keyspace, data types, expiry, the command table and command execution.
//!
//! It owns every byte of user data and every command's semantics, and knows nothing of sockets
//! or threads: the server hands it a parsed command, a set of locked shards and a reply sink,
//! and the engine runs the command to completion without ever awaiting.
//!
//! Map: [`store`] (shards and routing) → [`shard`] → [`db`] (one database: keys and expiry) →
//! [`value`] / [`types`] (the data). [`command`] is the table's row type, [`cmd`] the
//! families, [`ctx`] the context a handler runs in.
//!
//! **Architecture Invariant:** engine code never awaits, never blocks on I/O and never spawns a
//! thread; everything it needs done outside a command is returned in [`ctx::Effects`].

pub mod args;
pub mod block_queues;
pub mod blocking;
pub mod bytes;
pub mod cmd;
pub mod command;
pub mod config;
pub mod ctx;
pub mod db;
pub mod dict;
pub mod error;
pub mod glob;
pub mod keyspace_events;
pub mod keyspace_stats;
pub mod lazyfree;
pub mod lfu;
pub mod num;
pub mod pqsort;
pub mod prefetch;
pub mod queue;
pub mod shard;
pub mod store;
pub mod types;
pub mod value;
pub mod warm;
