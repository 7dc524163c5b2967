//! The CLUSTER family and the cluster connection commands (READONLY, READWRITE, ASKING), in
//! Redis Cluster's reply shapes, answered from the operator-given topology
//! ([`crate::cluster`]). Outside cluster mode every one of them answers Redis's
//! `ERR This instance has cluster support disabled`.
//!
//! `CLUSTER SETTOPOLOGY` is usher's own: the operator (or an orchestrator) replaces the
//! topology on every node with it, as Dragonfly's managed mode does; there is no gossip bus.
//! After a change (SETTOPOLOGY, SETSLOT NODE) the commands here also redirect the clients
//! blocked on slots that left and drop those slots' shard channels (`topology_changed`).

use crate::cluster::ClusterState;
use crate::registry::{ServerHandler, ServerSpec};
use crate::session::Session;
use std::sync::Arc;
use usher_cluster::{key_hash_slot, OpenSlot, Topology};
use usher_engine::cmd::keys::write_help;
use usher_engine::command::{cmd, container, Flags, Group};
use usher_engine::error::{CmdError, CmdResult};
use usher_engine::store::LockedShards;
use usher_protocol::{Argv, ReplySink, RespWriter};

const DISABLED: &str = "ERR This instance has cluster support disabled";

fn state(s: &Session) -> Result<&'static ClusterState, CmdError> {
    s.shared.cluster.get().ok_or(CmdError::Static(DISABLED))
}

fn topology(s: &Session) -> Result<Arc<Topology>, CmdError> {
    Ok(state(s)?.topology())
}

/// A slot argument: an integer (else Redis's "not an integer"), then a slot (else `invalid`).
fn slot_arg(arg: &[u8], invalid: &'static str) -> Result<u16, CmdError> {
    match usher_protocol::parse::parse_i64(arg) {
        Some(n) if (0..16384).contains(&n) => Ok(n as u16),
        Some(_) => Err(CmdError::Static(invalid)),
        None => Err(CmdError::NotInteger),
    }
}

/// ```text
/// CLUSTER KEYSLOT key
/// ```
fn keyslot(s: &mut Session, _: &mut LockedShards, argv: Argv, out: &mut RespWriter) -> CmdResult {
    state(s)?;
    out.int(key_hash_slot(argv.arg(2)) as i64);
    Ok(())
}

/// Calls `f` with every live key of the selected database that hashes to `slot`, until it
/// returns false. Takes only the slot's shard (a reshard asks this of every slot it moves, and
/// the node's other shards keep serving meanwhile), or uses it if the caller holds it already
/// (`SETSLOT` holds every shard). Inside a transaction or a script that holds a higher shard,
/// a busy lower one is an error, not a wait (see `LockedShards::extend`).
fn keys_in_slot(
    s: &Session,
    locked: &mut LockedShards,
    slot: u16,
    mut f: impl FnMut(&[u8]) -> bool,
) -> CmdResult {
    let (db, now) = (s.db, s.now_ms);
    let shard = locked.store().shard_of_slot(slot) as u16;
    if !locked.holds_shard(shard) && !locked.extend(shard) {
        return Err(CmdError::Static(
            "ERR the slot's shard is busy: retry the command outside MULTI or the script",
        ));
    }
    let Some(target) = locked.shard_at(shard) else {
        return Ok(());
    };
    for (key, entry) in target.db(db).iter() {
        if !entry.is_expired(now) && key_hash_slot(key) == slot && !f(key) {
            break;
        }
    }
    Ok(())
}

/// ```text
/// CLUSTER COUNTKEYSINSLOT slot
/// ```
/// O(N) in the keys of the slot's shard: usher keeps no per-slot key index (Redis does).
fn countkeysinslot(
    s: &mut Session,
    locked: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    state(s)?;
    let slot = slot_arg(argv.arg(2), "ERR Invalid slot")?;
    let mut n = 0i64;
    keys_in_slot(s, locked, slot, |_| {
        n += 1;
        true
    })?;
    out.int(n);
    Ok(())
}

/// ```text
/// CLUSTER GETKEYSINSLOT slot count
/// ```
fn getkeysinslot(
    s: &mut Session,
    locked: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    state(s)?;
    const INVALID: &str = "ERR Invalid slot or number of keys";
    let slot = usher_protocol::parse::parse_i64(argv.arg(2)).ok_or(CmdError::NotInteger)?;
    let count = usher_protocol::parse::parse_i64(argv.arg(3)).ok_or(CmdError::NotInteger)?;
    let slot = slot_arg(slot.to_string().as_bytes(), INVALID)?;
    let count = usize::try_from(count).map_err(|_| CmdError::Static(INVALID))?;
    let mut keys: Vec<Vec<u8>> = Vec::new();
    if count > 0 {
        keys_in_slot(s, locked, slot, |k| {
            keys.push(k.to_vec());
            keys.len() < count
        })?;
    }
    out.array(keys.len());
    for k in &keys {
        out.bulk(k);
    }
    Ok(())
}

/// ```text
/// CLUSTER INFO
/// ```
fn info(s: &mut Session, _: &mut LockedShards, _: Argv, out: &mut RespWriter) -> CmdResult {
    let t = topology(s)?;
    out.verbatim("txt", t.info_text().as_bytes());
    Ok(())
}

/// ```text
/// CLUSTER MYID
/// ```
fn myid(s: &mut Session, _: &mut LockedShards, _: Argv, out: &mut RespWriter) -> CmdResult {
    let t = topology(s)?;
    out.bulk(t.me().id.as_bytes());
    Ok(())
}

/// ```text
/// CLUSTER LINKS
/// ```
/// The cluster bus's links to peers: usher's nodes keep none (the topology comes from the
/// operator, not from gossip), so the list is empty, as a lone Redis node's is.
fn links(s: &mut Session, _: &mut LockedShards, _: Argv, out: &mut RespWriter) -> CmdResult {
    topology(s)?;
    out.array(0);
    Ok(())
}

/// ```text
/// CLUSTER SAVECONFIG
/// ```
/// Writes the topology to `cluster-config-file` now (usher also writes it after every change).
fn saveconfig(s: &mut Session, _: &mut LockedShards, _: Argv, out: &mut RespWriter) -> CmdResult {
    state(s)?
        .save_now()
        .map_err(|e| CmdError::Owned(format!("ERR error saving the cluster node config: {e}")))?;
    out.simple("OK");
    Ok(())
}

/// ```text
/// CLUSTER NODES
/// ```
fn nodes(s: &mut Session, _: &mut LockedShards, _: Argv, out: &mut RespWriter) -> CmdResult {
    let t = topology(s)?;
    out.verbatim("txt", t.nodes_text().as_bytes());
    Ok(())
}

/// ```text
/// CLUSTER SLOTS
/// ```
/// `[[start, end, [host, port, id, {}]], ...]`, one entry per contiguous range, as Redis 7.0.
fn slots(s: &mut Session, _: &mut LockedShards, _: Argv, out: &mut RespWriter) -> CmdResult {
    let t = topology(s)?;
    let ranges: Vec<(u16, u16, &usher_cluster::Node)> = t
        .nodes
        .iter()
        .flat_map(|n| n.slots.iter().map(move |&(a, b)| (a, b, n)))
        .collect();
    out.array(ranges.len());
    for (a, b, n) in ranges {
        out.array(3);
        out.int(a as i64);
        out.int(b as i64);
        out.array(4);
        out.bulk(n.host.as_bytes());
        out.int(n.port as i64);
        out.bulk(n.id.as_bytes());
        out.map(0);
    }
    Ok(())
}

/// ```text
/// CLUSTER SHARDS
/// ```
/// One map per node (each node is its own shard until replicas exist): `slots` (flat start/end
/// pairs) and `nodes` (this node's id, port, ip, endpoint, role, replication-offset, health).
fn shards(s: &mut Session, _: &mut LockedShards, _: Argv, out: &mut RespWriter) -> CmdResult {
    let t = topology(s)?;
    out.array(t.nodes.len());
    for n in &t.nodes {
        out.map(2);
        out.bulk(b"slots");
        out.array(n.slots.len() * 2);
        for &(a, b) in &n.slots {
            out.int(a as i64);
            out.int(b as i64);
        }
        out.bulk(b"nodes");
        out.array(1);
        out.map(7);
        out.bulk(b"id");
        out.bulk(n.id.as_bytes());
        out.bulk(b"port");
        out.int(n.port as i64);
        out.bulk(b"ip");
        out.bulk(n.host.as_bytes());
        out.bulk(b"endpoint");
        out.bulk(n.host.as_bytes());
        out.bulk(b"role");
        out.bulk(b"master");
        out.bulk(b"replication-offset");
        out.int(0);
        out.bulk(b"health");
        out.bulk(b"online");
    }
    Ok(())
}

/// ```text
/// CLUSTER SETTOPOLOGY json
/// ```
/// Replaces this node's topology (usher's admin command; send the same JSON to every node).
/// The new topology must name this node; a refused one changes nothing.
fn settopology(
    s: &mut Session,
    _: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    let state = state(s)?;
    let text = std::str::from_utf8(argv.arg(2))
        .map_err(|_| CmdError::Static("ERR the topology must be UTF-8 JSON"))?;
    let before = state.topology();
    state
        .replace(text)
        .map_err(|e| CmdError::Owned(format!("ERR invalid topology: {e}")))?;
    topology_changed(s.shared, &before);
    out.ok();
    Ok(())
}

/// ```text
/// CLUSTER SETSLOT slot MIGRATING node-id | IMPORTING node-id | STABLE | NODE node-id
/// ```
/// Moves one slot between nodes, Redis's way: the target is told IMPORTING, the source
/// MIGRATING, keys go over with MIGRATE, then every node is told NODE. This node's own view
/// only; there is no bus to spread it (send NODE to every node, as `redis-cli --cluster` does).
fn setslot(
    s: &mut Session,
    locked: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    let state = state(s)?;
    let slot = slot_arg(argv.arg(2), "ERR Invalid or out of range slot")?;
    let action = argv.arg(3).to_ascii_uppercase();
    let node = argv.get(4).map(|n| String::from_utf8_lossy(n).into_owned());
    let mut keys_here = None;
    if action == b"NODE" && argv.len() == 5 {
        let mut n = 0usize;
        keys_in_slot(s, locked, slot, |_| {
            n += 1;
            false
        })?;
        keys_here = Some(n > 0);
    }
    let before = state.topology();
    state
        .update(|t| {
            let find = |t: &Topology, missing: &str| {
                let id = node.as_deref().unwrap_or_default();
                t.node_index(id)
                    .ok_or_else(|| format!("ERR {missing} {id}"))
            };
            match (action.as_slice(), argv.len()) {
                (b"MIGRATING", 5) => {
                    if !t.owns(slot) {
                        return Err(format!("ERR I'm not the owner of hash slot {slot}"));
                    }
                    let to = find(t, "I don't know about node")?;
                    t.set_open(slot, Some(OpenSlot::Migrating(to)));
                }
                (b"IMPORTING", 5) => {
                    if t.owns(slot) {
                        return Err(format!("ERR I'm already the owner of hash slot {slot}"));
                    }
                    let from = find(t, "I don't know about node")?;
                    t.set_open(slot, Some(OpenSlot::Importing(from)));
                }
                (b"STABLE", 4) => t.set_open(slot, None),
                (b"NODE", 5) => {
                    let to = find(t, "Unknown node")?;
                    let has_keys = keys_here.unwrap_or(false);
                    if t.owns(slot) && to != t.myself && has_keys {
                        return Err(format!(
                            "ERR Can't assign hashslot {slot} to a different node while I still \
                             hold keys for this hash slot."
                        ));
                    }
                    let open = t.open_slot(slot);
                    let done = match open {
                        Some(OpenSlot::Migrating(_)) => !has_keys,
                        Some(OpenSlot::Importing(_)) => to == t.myself,
                        None => false,
                    };
                    if done {
                        t.set_open(slot, None);
                    }
                    t.assign(slot, to);
                }
                _ => {
                    return Err(
                        "ERR Invalid CLUSTER SETSLOT action or number of arguments. \
                                Try CLUSTER HELP"
                            .to_string(),
                    )
                }
            }
            Ok(())
        })
        .map_err(CmdError::Owned)?;
    topology_changed(s.shared, &before);
    out.ok();
    Ok(())
}

/// After a topology change from `before`: clients blocked on keys of a slot that left this
/// node are redirected ([`redirect_blocked_clients`]), and the shard channels of such slots are
/// dropped with their subscribers told (`sunsubscribe`), as Redis does when a slot is deleted
/// from a node: an event's announcements now travel through its new node.
fn topology_changed(shared: &crate::shared::Shared, before: &Topology) {
    redirect_blocked_clients(shared);
    let Some(cluster) = shared.cluster.get() else {
        return;
    };
    let now = cluster.topology();
    let lost = |slot: u16| before.owns(slot) && !now.owns(slot);
    if (0..usher_cluster::SLOT_COUNT as u16).any(lost) {
        shared
            .pubsub
            .drop_shard_channels(|ch| lost(usher_cluster::key_hash_slot(ch)));
    }
}

/// After a topology change: wakes every client blocked on keys of a slot this node no longer
/// serves, which then answers it with [`redirect_blocked`]'s error (it would otherwise wait
/// for writes that now go to another node).
fn redirect_blocked_clients(shared: &crate::shared::Shared) {
    let Some(cluster) = shared.cluster.get() else {
        return;
    };
    let topology = cluster.topology();
    for client in shared.clients.all() {
        let moved = client.blocked_waiter.lock().as_ref().is_some_and(|w| {
            w.is_waiting()
                && w.keys.first().is_some_and(|k| {
                    crate::cluster::redirect_blocked(&topology, usher_cluster::key_hash_slot(k))
                        .is_some()
                })
        });
        if moved
            && client
                .unblock
                .compare_exchange(
                    0,
                    crate::client::UNBLOCK_REDIRECT,
                    std::sync::atomic::Ordering::AcqRel,
                    std::sync::atomic::Ordering::Acquire,
                )
                .is_ok()
        {
            client.wake.notify_one();
        }
    }
}

const HELP: &[&str] = &[
    "CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "COUNTKEYSINSLOT <slot>",
    "    Return the number of keys in <slot>.",
    "GETKEYSINSLOT <slot> <count>",
    "    Return key names stored by current node in a slot.",
    "INFO",
    "    Return information about the cluster.",
    "KEYSLOT <key>",
    "    Return the hash slot for <key>.",
    "LINKS",
    "    Return information about all network links between this node and its peers.",
    "    Output format is an array where each array element is a map containing attributes of a link",
    "MYID",
    "    Return the node id.",
    "NODES",
    "    Return cluster configuration seen by node. Output format:",
    "    <id> <ip:port@bus-port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
    "SAVECONFIG",
    "    Force saving cluster configuration on disk.",
    "SETSLOT <slot> (IMPORTING <node-id>|MIGRATING <node-id>|STABLE|NODE <node-id>)",
    "    Set slot state.",
    "SETTOPOLOGY <json>",
    "    (usher) Replace the topology: {\"epoch\":n,\"nodes\":[{\"id\",\"host\",\"port\",\"slots\"}]}.",
    "SHARDS",
    "    Return information about slot range mappings and the nodes that own them.",
    "SLOTS",
    "    Return information about slots range mappings. Each range is made of:",
    "    start, end, master and replicas IP addresses, ports and ids",
    "HELP",
    "    Print this help.",
];

fn help(s: &mut Session, _: &mut LockedShards, _: Argv, out: &mut RespWriter) -> CmdResult {
    state(s)?;
    write_help(out, HELP);
    Ok(())
}

/// ```text
/// ASKING
/// ```
/// The next command (or transaction) may touch a slot this node is importing.
fn asking(s: &mut Session, _: &mut LockedShards, _: Argv, out: &mut RespWriter) -> CmdResult {
    state(s)?;
    s.asking = true;
    out.ok();
    Ok(())
}

/// READONLY, READWRITE: accepted in cluster mode. Cluster nodes have no replicas to read from
/// yet, so they only answer OK.
fn connection_ok(
    s: &mut Session,
    _: &mut LockedShards,
    _: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    state(s)?;
    out.ok();
    Ok(())
}

const STALE: Flags = Flags::STALE;

const CLUSTER_SUBCOMMANDS: &[ServerSpec] = &[
    cmd(
        "COUNTKEYSINSLOT",
        3,
        STALE,
        countkeysinslot as ServerHandler,
    )
    .doc(
        Group::Cluster,
        "3.0.0",
        "Returns the number of keys in a hash slot.",
        "O(N) where N is the number of keys in the slot's shard",
    ),
    cmd("GETKEYSINSLOT", 4, STALE, getkeysinslot as ServerHandler).doc(
        Group::Cluster,
        "3.0.0",
        "Returns the key names in a hash slot.",
        "O(N) where N is the number of keys in the slot's shard",
    ),
    cmd(
        "HELP",
        2,
        Flags::LOADING.union(STALE),
        help as ServerHandler,
    )
    .doc(
        Group::Cluster,
        "5.0.0",
        "Returns helpful text about the different subcommands.",
        "O(1)",
    ),
    cmd("INFO", 2, STALE, info as ServerHandler).doc(
        Group::Cluster,
        "3.0.0",
        "Returns information about the state of a node.",
        "O(1)",
    ),
    cmd("KEYSLOT", 3, STALE, keyslot as ServerHandler).doc(
        Group::Cluster,
        "3.0.0",
        "Returns the hash slot for a key.",
        "O(N) where N is the number of bytes in the key",
    ),
    cmd("LINKS", 2, STALE, links as ServerHandler).doc(
        Group::Cluster,
        "7.0.0",
        "Returns a list of all TCP links to and from peer nodes.",
        "O(N) where N is the total number of Cluster nodes",
    ),
    cmd("MYID", 2, STALE, myid as ServerHandler).doc(
        Group::Cluster,
        "3.0.0",
        "Returns the ID of a node.",
        "O(1)",
    ),
    cmd("NODES", 2, STALE, nodes as ServerHandler).doc(
        Group::Cluster,
        "3.0.0",
        "Returns the cluster configuration for a node.",
        "O(N) where N is the total number of Cluster nodes",
    ),
    cmd(
        "SAVECONFIG",
        2,
        Flags::ADMIN.union(STALE).union(Flags::NO_ASYNC_LOADING),
        saveconfig as ServerHandler,
    )
    .doc(
        Group::Cluster,
        "3.0.0",
        "Forces a node to save the cluster configuration to disk.",
        "O(1)",
    ),
    cmd(
        "SETSLOT",
        -4,
        Flags::ADMIN
            .union(STALE)
            .union(Flags::NO_ASYNC_LOADING)
            .union(Flags::ALL_SHARDS),
        setslot as ServerHandler,
    )
    .doc(
        Group::Cluster,
        "3.0.0",
        "Binds a hash slot to a node.",
        "O(1)",
    ),
    cmd(
        "SETTOPOLOGY",
        3,
        Flags::ADMIN
            .union(STALE)
            .union(Flags::NOSCRIPT)
            .union(Flags::ALL_SHARDS),
        settopology as ServerHandler,
    )
    .doc(
        Group::Cluster,
        "0.1.0",
        "Replaces the node's cluster topology (usher's managed mode).",
        "O(N) where N is the number of slots",
    ),
    cmd("SHARDS", 2, STALE, shards as ServerHandler).doc(
        Group::Cluster,
        "7.0.0",
        "Returns the mapping of cluster slots to shards.",
        "O(N) where N is the total number of cluster nodes",
    ),
    cmd("SLOTS", 2, STALE, slots as ServerHandler).doc(
        Group::Cluster,
        "3.0.0",
        "Returns the mapping of cluster slots to nodes.",
        "O(N) where N is the total number of Cluster nodes",
    ),
];

pub static COMMANDS: &[ServerSpec] = &[
    container("CLUSTER", CLUSTER_SUBCOMMANDS).doc(
        Group::Cluster,
        "3.0.0",
        "A container for Redis Cluster commands.",
        "Depends on subcommand.",
    ),
    cmd(
        "READONLY",
        1,
        Flags::LOADING.union(STALE).union(Flags::FAST),
        connection_ok as ServerHandler,
    )
    .doc(
        Group::Cluster,
        "3.0.0",
        "Enables read-only queries for a connection to a Redis Cluster replica node.",
        "O(1)",
    ),
    cmd(
        "READWRITE",
        1,
        Flags::LOADING.union(STALE).union(Flags::FAST),
        connection_ok as ServerHandler,
    )
    .doc(
        Group::Cluster,
        "3.0.0",
        "Enables read-write queries for a connection to a Redis Cluster replica node.",
        "O(1)",
    ),
    cmd("ASKING", 1, Flags::FAST, asking as ServerHandler).doc(
        Group::Cluster,
        "3.0.0",
        "Signals that a cluster client is following an -ASK redirect.",
        "O(1)",
    ),
];
