//! Cluster mode: the topology this node serves under, and the routing check the dispatch gate
//! runs on every keyed command (`MOVED`, `CROSSSLOT`, `CLUSTERDOWN`, as Redis Cluster words
//! them).
//!
//! The topology comes from the operator (`cluster-config-file`, `CLUSTER SETTOPOLOGY`), never
//! from a consensus protocol of usher's own (see `usher_cluster::topology`). It is read on the
//! command path through one uncontended read lock; replacing it is rare (an operator's change).

use crate::config::Config;
use crate::registry::Spec;
use parking_lot::RwLock;
use std::sync::Arc;
use usher_cluster::Topology;
use usher_protocol::{errors, Argv};

pub struct ClusterState {
    topology: RwLock<Arc<Topology>>,
}

impl ClusterState {
    /// Cluster mode as `config` asks for it, once the node knows its port: the topology file,
    /// or the emulated one-node mode when there is none.
    pub fn start(config: &Config, port: u16) -> Result<Option<ClusterState>, String> {
        if !config.cluster_enabled {
            return Ok(None);
        }
        let topology = match std::fs::read_to_string(&config.cluster_config_file) {
            Ok(text) => {
                let myself = match config.cluster_node_id.as_str() {
                    "" => Topology::lone_node_id(&text)?,
                    id => id.to_string(),
                };
                Topology::parse(&text, &myself)
                    .map_err(|e| format!("{}: {e}", config.cluster_config_file))?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let id = match config.cluster_node_id.as_str() {
                    "" => crate::shared::random_hex(40),
                    id => id.to_string(),
                };
                Topology::single(&id, &announce_host(config), port)
            }
            Err(e) => return Err(format!("{}: {e}", config.cluster_config_file)),
        };
        Ok(Some(ClusterState {
            topology: RwLock::new(Arc::new(topology)),
        }))
    }

    pub fn topology(&self) -> Arc<Topology> {
        self.topology.read().clone()
    }

    /// Replaces the topology (CLUSTER SETTOPOLOGY): `text` must keep this node in it.
    pub fn replace(&self, text: &str) -> Result<(), String> {
        let myself = self.topology().me().id.clone();
        let next = Topology::parse(text, &myself)?;
        *self.topology.write() = Arc::new(next);
        Ok(())
    }
}

/// The address clients are sent to in the emulated mode.
fn announce_host(config: &Config) -> String {
    if !config.cluster_announce_ip.is_empty() {
        return config.cluster_announce_ip.clone();
    }
    config
        .bind
        .iter()
        .map(|b| b.trim_start_matches('-'))
        .find(|b| !matches!(*b, "*" | "0.0.0.0" | "::" | "::*"))
        .unwrap_or("127.0.0.1")
        .to_string()
}

/// The one slot a command's keys (named and derived) hash to, or `Err(wire text)`:
/// `CROSSSLOT` for several slots, `MOVED` for a slot another node owns, `CLUSTERDOWN` for one
/// nobody owns. Keyless commands pass with `None`.
pub fn route(topology: &Topology, spec: Spec, argv: Argv<'_>) -> Result<Option<u16>, String> {
    let Some(slot) = spec
        .keys_slot(argv)
        .map_err(|_| errors::CROSSSLOT.to_string())?
    else {
        return Ok(None);
    };
    match topology.owner_of(slot) {
        _ if topology.owns(slot) => Ok(Some(slot)),
        Some(owner) => Err(format!("MOVED {slot} {}:{}", owner.host, owner.port)),
        None => Err("CLUSTERDOWN Hash slot not served".to_string()),
    }
}
