//! The server's command families: those that need the connection (its session) or
//! server-wide state rather than only the keyspace. Each ends with its `COMMANDS` table.

pub mod acl;
pub mod cluster;
pub mod connection;
pub mod debug;
pub mod functions;
pub mod latency;
pub mod memory;
pub mod module;
pub mod monitor;
pub mod persistence;
pub mod pubsub;
pub mod replication;
pub mod scripting;
pub mod server;
pub mod slowlog;
pub mod transaction;

use crate::registry::ServerSpec;

/// Every server command family, in registration order.
pub fn families() -> Vec<&'static [ServerSpec]> {
    vec![
        connection::COMMANDS,
        server::COMMANDS,
        debug::COMMANDS,
        memory::COMMANDS,
        module::COMMANDS,
        persistence::COMMANDS,
        latency::COMMANDS,
        pubsub::COMMANDS,
        transaction::COMMANDS,
        cluster::COMMANDS,
        slowlog::COMMANDS,
        monitor::COMMANDS,
        scripting::COMMANDS,
        functions::COMMANDS,
        acl::COMMANDS,
        replication::COMMANDS,
    ]
}
