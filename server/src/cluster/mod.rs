//! Cluster mode: the topology this node serves under, and the routing check the dispatch gate
//! runs on every keyed command (`MOVED`, `CROSSSLOT`, `CLUSTERDOWN`, as Redis Cluster words
//! them).
//!
//! While a slot moves (`CLUSTER SETSLOT ... MIGRATING / IMPORTING`, keys sent over with
//! `MIGRATE`), the check is Redis's `getNodeByQuery`: the source serves a command whose keys
//! are all still here, answers `ASK` when none is, `TRYAGAIN` when some are; the target serves
//! a command sent after `ASKING`. Whether a key is here is decided under the command's own
//! shard locks ([`SlotCheck`]), so a `MIGRATE` cannot move a key between the check and the
//! command: the check and the command are one step, as in single-threaded Redis.
//!
//! The topology comes from the operator (`cluster-config-file`, `CLUSTER SETTOPOLOGY`), never
//! from a consensus protocol of usher's own (see `usher_cluster::topology`). It is read on the
//! command path through one uncontended read lock; replacing it is rare (an operator's change).

use crate::config::Config;
use crate::registry::Spec;
use parking_lot::RwLock;
use std::sync::Arc;
use usher_cluster::{OpenSlot, Topology};
use usher_engine::store::LockedShards;
use usher_protocol::{errors, Argv};

pub struct ClusterState {
    topology: RwLock<Arc<Topology>>,
    /// Raised with every change of the topology. Changes are made by commands that hold every
    /// shard's lock (SETSLOT, SETTOPOLOGY), so a command that holds its own shards and reads
    /// the version the gate saw knows the gate's routing still stands ([`Routed::confirm`]).
    version: std::sync::atomic::AtomicU64,
    /// The `cluster-config-file` the topology came from, rewritten after every change (as
    /// Redis rewrites `nodes.conf`) so a restarted node starts from the map it last served,
    /// not from one that still gives it slots it handed over. `None` in the emulated mode.
    file: Option<std::path::PathBuf>,
}

impl ClusterState {
    /// Cluster mode as `config` asks for it, once the node knows its port: the topology file,
    /// or the emulated one-node mode when there is none.
    pub fn start(config: &Config, port: u16) -> Result<Option<ClusterState>, String> {
        if !config.cluster_enabled {
            return Ok(None);
        }
        let mut file = None;
        let topology = match std::fs::read_to_string(&config.cluster_config_file) {
            Ok(text) => {
                file = Some(std::path::PathBuf::from(&config.cluster_config_file));
                let myself = match config.cluster_node_id.as_str() {
                    "" => Topology::lone_node_id(&text)?,
                    id => id.to_string(),
                };
                Topology::parse(&text, &myself)
                    .map_err(|e| format!("{}: {e}", config.cluster_config_file))?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let id = match config.cluster_node_id.as_str() {
                    "" => crate::ids::random_hex(40),
                    id => id.to_string(),
                };
                Topology::single(&id, &announce_host(config), port)
            }
            Err(e) => return Err(format!("{}: {e}", config.cluster_config_file)),
        };
        Ok(Some(ClusterState {
            topology: RwLock::new(Arc::new(topology)),
            version: std::sync::atomic::AtomicU64::new(0),
            file,
        }))
    }

    pub fn topology(&self) -> Arc<Topology> {
        self.topology.read().clone()
    }

    /// The topology and its version, read together: a change replaces both under the write
    /// lock, so the version never belongs to a newer topology than the one returned.
    pub fn snapshot(&self) -> (Arc<Topology>, u64) {
        let guard = self.topology.read();
        (guard.clone(), self.version())
    }

    /// Replaces the topology (CLUSTER SETTOPOLOGY): `text` must keep this node in it and carry
    /// a higher epoch than this node's, so a stale map (one written before a reshard moved
    /// slots, each `SETSLOT NODE` raising the epoch) cannot hand slots back to nodes that no
    /// longer hold their keys. Slots in the middle of a move stay so while their nodes remain.
    pub fn replace(&self, text: &str) -> Result<(), String> {
        let mut guard = self.topology.write();
        let mut next = Topology::parse(text, &guard.me().id)?;
        if next.epoch <= guard.epoch {
            return Err(format!(
                "epoch {} is not above this node's current epoch {} (CLUSTER INFO \
                 cluster_current_epoch): the map may predate a slot move",
                next.epoch, guard.epoch
            ));
        }
        next.carry_open_slots(&guard);
        self.save(&guard, &next)?;
        *guard = Arc::new(next);
        self.bump();
        Ok(())
    }

    /// The topology's version (see `version`).
    #[inline]
    pub fn version(&self) -> u64 {
        self.version.load(std::sync::atomic::Ordering::Acquire)
    }

    fn bump(&self) {
        self.version
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    /// Writes `next` to the topology file when the map changed (not for open-slot marks), whole
    /// or not at all (a temporary file, fsynced, renamed over it). A change that cannot be
    /// saved is refused, so memory and file never disagree.
    fn save(&self, current: &Topology, next: &Topology) -> Result<(), String> {
        let Some(path) = &self.file else {
            return Ok(());
        };
        if current.epoch == next.epoch && current.nodes == next.nodes {
            return Ok(());
        }
        write_topology(path, next)
    }

    /// Writes the topology this node serves to its `cluster-config-file` now (`CLUSTER
    /// SAVECONFIG`); nothing to write in the emulated mode.
    pub fn save_now(&self) -> Result<(), String> {
        let guard = self.topology.read();
        match &self.file {
            Some(path) => write_topology(path, &guard),
            None => Ok(()),
        }
    }

    /// Changes this node's topology in place (`CLUSTER SETSLOT`): `f` edits a copy, which
    /// replaces the current one if it returns `Ok`.
    pub fn update(
        &self,
        f: impl FnOnce(&mut Topology) -> Result<(), String>,
    ) -> Result<(), String> {
        let mut guard = self.topology.write();
        let mut next = (**guard).clone();
        f(&mut next)?;
        self.save(&guard, &next).map_err(|e| format!("ERR {e}"))?;
        *guard = Arc::new(next);
        self.bump();
        Ok(())
    }
}

/// Writes `topology` to `path` whole or not at all (a temporary file, fsynced, renamed over it).
fn write_topology(path: &std::path::Path, topology: &Topology) -> Result<(), String> {
    let fail =
        |e: std::io::Error| format!("could not save the topology to {}: {e}", path.display());
    let tmp = path.with_file_name(format!(
        ".{}.tmp-{}",
        path.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    let mut f = std::fs::File::create(&tmp).map_err(fail)?;
    use std::io::Write;
    f.write_all(topology.to_json().as_bytes()).map_err(fail)?;
    f.sync_all().map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(fail)?;
    Ok(())
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

/// What the gate decided for a keyed command in cluster mode.
pub enum Route {
    /// Keyless, or a slot this node serves: run it.
    Serve(Option<u16>),
    /// A slot being moved: run it if [`SlotCheck::verify`] passes under the command's locks.
    Check(u16, SlotCheck),
}

/// The key check for a command in a slot that is moving (Redis's `getNodeByQuery`).
#[derive(Clone, Debug)]
pub enum SlotCheck {
    /// This node is migrating the slot: every key must still be here; none here is `ASK` to
    /// the target (this text), some here is `TRYAGAIN`.
    Migrating(String),
    /// This node is importing the slot and the client said ASKING: a command over several
    /// keys needs them all here (else `TRYAGAIN`).
    Importing,
}

const TRYAGAIN: &str = "TRYAGAIN Multiple keys request during rehashing of slot";

impl SlotCheck {
    /// Passes, or gives the redirection, looking at `keys` in `db` under `locked`, which holds
    /// their shards: nothing can move them between this check and the command.
    pub fn verify<'k>(
        &self,
        locked: &mut LockedShards<'_>,
        db: usize,
        now_ms: i64,
        keys: impl Iterator<Item = &'k [u8]>,
    ) -> Result<(), String> {
        let (mut here, mut missing) = (0usize, 0usize);
        for key in keys {
            let live = locked
                .try_shard(key)
                .and_then(|shard| shard.db(db).peek_entry(key))
                .is_some_and(|e| !e.is_expired(now_ms));
            if live {
                here += 1;
            } else {
                missing += 1;
            }
        }
        match self {
            _ if missing == 0 => Ok(()),
            SlotCheck::Migrating(_) if here > 0 => Err(TRYAGAIN.to_string()),
            SlotCheck::Migrating(ask) => Err(ask.clone()),
            SlotCheck::Importing if here + missing > 1 => Err(TRYAGAIN.to_string()),
            SlotCheck::Importing => Ok(()),
        }
    }
}

/// What the gate decided for a keyed command (or EXEC's transaction), to be confirmed under
/// the command's locks: the topology may have changed between the gate and the locks (a
/// `SETSLOT MIGRATING` and a `MIGRATE` of the key, say), and a command that ran on the gate's
/// stale answer would write a key the source no longer owns.
#[derive(Clone, Debug)]
pub struct Routed {
    version: u64,
    slot: u16,
    asking: bool,
    migrate: bool,
    check: Option<SlotCheck>,
}

impl Routed {
    /// `version`: the one [`ClusterState::snapshot`] gave with the topology the gate routed by.
    pub fn new(
        version: u64,
        slot: u16,
        asking: bool,
        migrate: bool,
        check: Option<SlotCheck>,
    ) -> Routed {
        Routed {
            version,
            slot,
            asking,
            migrate,
            check,
        }
    }

    /// Under the command's locks (which every topology change waits for): the gate's answer
    /// if the topology is unchanged since (one atomic load), else the slot routed again; then
    /// the key check of a moving slot over `keys` (asked for only then).
    pub fn confirm<K: AsRef<[u8]>>(
        self,
        cluster: &ClusterState,
        locked: &mut LockedShards<'_>,
        db: usize,
        now_ms: i64,
        keys: impl FnOnce() -> Vec<K>,
    ) -> Result<(), String> {
        let check = match cluster.version() == self.version {
            true => self.check,
            false => match route_slot(&cluster.topology(), self.slot, self.asking, self.migrate)? {
                Route::Serve(_) => None,
                Route::Check(_, check) => Some(check),
            },
        };
        let Some(check) = check else {
            return Ok(());
        };
        let keys = keys();
        check.verify(locked, db, now_ms, keys.iter().map(AsRef::as_ref))
    }
}

/// Every key of a command (named and derived), for [`SlotCheck::verify`].
pub fn command_keys(spec: Spec, argv: Argv<'_>) -> Vec<Vec<u8>> {
    let mut keys: Vec<Vec<u8>> = spec
        .key_positions(argv)
        .unwrap_or_default()
        .iter()
        .map(|&i| argv.arg(i).to_vec())
        .collect();
    if let Some(derive) = spec.derived_keys() {
        keys.extend(derive(argv));
    }
    keys
}

/// For a client blocked on keys of `slot` (Redis's `clusterRedirectBlockedClientIfNeeded`): the
/// error that sends it on once this node neither serves nor imports the slot.
pub fn redirect_blocked(topology: &Topology, slot: u16) -> Option<String> {
    if topology.owns(slot) || matches!(topology.open_slot(slot), Some(OpenSlot::Importing(_))) {
        return None;
    }
    Some(elsewhere(topology, slot))
}

/// Where a slot this node does not serve is: `MOVED` to its owner, or `CLUSTERDOWN`.
fn elsewhere(topology: &Topology, slot: u16) -> String {
    match topology.owner_of(slot) {
        Some(owner) => format!("MOVED {slot} {}:{}", owner.host, owner.port),
        None => "CLUSTERDOWN Hash slot not served".to_string(),
    }
}

/// The one slot a command's keys (named and derived) hash to, or `Err(wire text)`:
/// `CROSSSLOT` for several slots, `MOVED` for a slot another node owns, `CLUSTERDOWN` for one
/// nobody owns. Keyless commands pass with `None`. `asking`: the client sent ASKING (or the
/// command is RESTORE-ASKING); `migrate`: the command is MIGRATE, which runs wherever the slot
/// is open, since it is what moves the keys.
pub fn route(
    topology: &Topology,
    spec: Spec,
    argv: Argv<'_>,
    asking: bool,
    migrate: bool,
) -> Result<Route, String> {
    let Some(slot) = spec
        .keys_slot(argv)
        .map_err(|_| errors::CROSSSLOT.to_string())?
    else {
        return Ok(Route::Serve(None));
    };
    route_slot(topology, slot, asking, migrate)
}

/// [`route`] for a known slot (EXEC routes its transaction's slot).
pub fn route_slot(
    topology: &Topology,
    slot: u16,
    asking: bool,
    migrate: bool,
) -> Result<Route, String> {
    let open = match topology.has_open_slots() {
        true => topology.open_slot(slot),
        false => None,
    };
    match open {
        Some(_) if migrate => Ok(Route::Serve(Some(slot))),
        Some(OpenSlot::Migrating(to)) => {
            let n = &topology.nodes[to];
            let ask = format!("ASK {slot} {}:{}", n.host, n.port);
            Ok(Route::Check(slot, SlotCheck::Migrating(ask)))
        }
        Some(OpenSlot::Importing(_)) if asking => Ok(Route::Check(slot, SlotCheck::Importing)),
        _ if topology.owns(slot) => Ok(Route::Serve(Some(slot))),
        _ => Err(elsewhere(topology, slot)),
    }
}
