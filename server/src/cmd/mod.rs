//! The server's command families: those that need the connection (its session) or
//! server-wide state rather than only the keyspace. Each ends with its `COMMANDS` table.

pub mod connection;
pub mod latency;
pub mod memory;
pub mod persistence;
pub mod pubsub;
pub mod server;
pub mod transaction;

use crate::registry::ServerSpec;

/// Every server command family, in registration order.
pub fn families() -> Vec<&'static [ServerSpec]> {
    vec![
        connection::COMMANDS,
        server::COMMANDS,
        memory::COMMANDS,
        persistence::COMMANDS,
        latency::COMMANDS,
        pubsub::COMMANDS,
        transaction::COMMANDS,
    ]
}
