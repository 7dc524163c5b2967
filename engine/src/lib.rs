//! The usher engine: keyspace, data types, expiry, the command table and command execution.
//!
//! It owns every byte of user data and every command's semantics, and knows nothing of sockets
//! or threads: the server hands it a parsed command, a set of locked shards and a reply sink,
//! and the engine runs the command to completion without ever awaiting.

pub mod bytes;
pub mod types;
