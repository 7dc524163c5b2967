//! Cluster topology: which node owns which hash slots, as the operator (or an orchestrator)
//! declares it, and the replies Redis Cluster clients read it from.
//!
//! usher runs no consensus protocol: every node is given the same topology, from the file
//! named by `cluster-config-file` at start-up or by `CLUSTER SETTOPOLOGY` at run time (the
//! shape of Dragonfly's managed mode). A topology is JSON:
//!
//! ```text
//! {"epoch": 1,
//!  "nodes": [{"id": "<40 hex>", "host": "10.0.0.1", "port": 7000, "slots": ["0-5460"]},
//!            {"id": "<40 hex>", "host": "10.0.0.2", "port": 7000, "slots": ["5461-10922"]},
//!            {"id": "<40 hex>", "host": "10.0.0.3", "port": 7000, "slots": ["10923-16383"]}]}
//! ```
//!
//! A slot nobody owns is answered with `CLUSTERDOWN`; a slot another node owns with `MOVED`.
//! With no topology at all a node runs the emulated mode: one node owning every slot, so
//! applications written for Redis Cluster run against a single usher.

use crate::slot::SLOT_COUNT;
use std::collections::BTreeMap;

/// One node of the topology.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// 40 hexadecimal characters, as Redis node ids.
    pub id: String,
    pub host: String,
    pub port: u16,
    /// Owned slot ranges, inclusive, sorted.
    pub slots: Vec<(u16, u16)>,
}

/// Which node owns each slot, and which node this one is.
#[derive(Clone, Debug)]
pub struct Topology {
    pub nodes: Vec<Node>,
    /// Raised by the operator with every change, so nodes and clients can tell versions apart.
    pub epoch: u64,
    /// Index into `nodes` of this node.
    pub myself: usize,
    /// Slot → index into `nodes`; [`NO_OWNER`] for an unassigned slot.
    owner: Box<[u16]>,
    /// Slots this node is moving (`CLUSTER SETSLOT ... MIGRATING / IMPORTING`): this node's own
    /// state, as in Redis, never part of the operator's JSON. Empty almost always, so the
    /// routing check costs one `is_empty` outside a migration.
    open: BTreeMap<u16, OpenSlot>,
}

/// A slot in the middle of a move, as this node sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenSlot {
    /// This node owns the slot and is sending its keys to `nodes[i]`.
    Migrating(usize),
    /// `nodes[i]` owns the slot and is sending its keys here.
    Importing(usize),
}

const NO_OWNER: u16 = u16::MAX;

/// Whether `id` looks like a Redis node id.
pub fn valid_node_id(id: &str) -> bool {
    id.len() == 40 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

fn parse_range(text: &str) -> Result<(u16, u16), String> {
    let slot = |t: &str| {
        t.trim()
            .parse::<u16>()
            .ok()
            .filter(|s| (*s as usize) < SLOT_COUNT)
            .ok_or_else(|| format!("invalid slot '{t}' (0-16383)"))
    };
    let (a, b) = match text.split_once('-') {
        Some((a, b)) => (slot(a)?, slot(b)?),
        None => (slot(text)?, slot(text)?),
    };
    if a > b {
        return Err(format!("invalid slot range '{text}'"));
    }
    Ok((a, b))
}

impl Topology {
    /// The emulated mode: one node owning every slot.
    pub fn single(id: &str, host: &str, port: u16) -> Topology {
        Topology::build(
            vec![Node {
                id: id.to_string(),
                host: host.to_string(),
                port,
                slots: vec![(0, (SLOT_COUNT - 1) as u16)],
            }],
            0,
            id,
        )
        .expect("a single node owning every slot is a valid topology")
    }

    /// Parses a JSON topology (see the module docs) for the node whose id is `myself`.
    pub fn parse(text: &str, myself: &str) -> Result<Topology, String> {
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("topology is not valid JSON: {e}"))?;
        let epoch = v
            .get("epoch")
            .map_or(Some(0), |e| e.as_u64())
            .ok_or("'epoch' must be a non-negative integer")?;
        let list = v
            .get("nodes")
            .and_then(|n| n.as_array())
            .ok_or("topology needs a 'nodes' array")?;
        let mut nodes = Vec::with_capacity(list.len());
        for n in list {
            let text_field = |name: &str| {
                n.get(name)
                    .and_then(|x| x.as_str())
                    .map(str::to_string)
                    .ok_or_else(|| format!("every node needs a string '{name}'"))
            };
            let port = n
                .get("port")
                .and_then(|p| p.as_u64())
                .filter(|p| (1..=65535).contains(p))
                .ok_or("every node needs a 'port' between 1 and 65535")?;
            let mut slots = Vec::new();
            for s in n
                .get("slots")
                .and_then(|s| s.as_array())
                .into_iter()
                .flatten()
            {
                let range = match s {
                    serde_json::Value::String(t) => parse_range(t)?,
                    serde_json::Value::Number(x) => parse_range(&x.to_string())?,
                    _ => return Err("slots are strings like \"0-5460\" or numbers".into()),
                };
                slots.push(range);
            }
            slots.sort_unstable();
            nodes.push(Node {
                id: text_field("id")?,
                host: text_field("host")?,
                port: port as u16,
                slots,
            });
        }
        Topology::build(nodes, epoch, myself)
    }

    /// The id of the only node of a topology, for a node started without `cluster-node-id`:
    /// in a topology of several nodes a node cannot tell which one it is.
    pub fn lone_node_id(text: &str) -> Result<String, String> {
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("topology is not valid JSON: {e}"))?;
        match v.get("nodes").and_then(|n| n.as_array()).map(Vec::as_slice) {
            Some([only]) => Ok(only
                .get("id")
                .and_then(|i| i.as_str())
                .unwrap_or_default()
                .to_string()),
            _ => Err("cluster-node-id must name this node in a topology of several nodes".into()),
        }
    }

    fn build(nodes: Vec<Node>, epoch: u64, myself: &str) -> Result<Topology, String> {
        if nodes.is_empty() || nodes.len() >= NO_OWNER as usize {
            return Err("a topology has between 1 and 65534 nodes".into());
        }
        let mut owner = vec![NO_OWNER; SLOT_COUNT].into_boxed_slice();
        for (i, node) in nodes.iter().enumerate() {
            if !valid_node_id(&node.id) {
                return Err(format!(
                    "node id '{}' is not 40 hexadecimal characters",
                    node.id
                ));
            }
            if nodes[..i].iter().any(|n| n.id == node.id) {
                return Err(format!("node id '{}' appears twice", node.id));
            }
            for &(a, b) in &node.slots {
                for slot in a..=b {
                    let o = &mut owner[slot as usize];
                    if *o != NO_OWNER {
                        return Err(format!(
                            "slot {slot} is assigned to both {} and {}",
                            nodes[*o as usize].id, node.id
                        ));
                    }
                    *o = i as u16;
                }
            }
        }
        let myself = nodes
            .iter()
            .position(|n| n.id == myself)
            .ok_or_else(|| format!("this node's id '{myself}' is not in the topology"))?;
        Ok(Topology {
            nodes,
            epoch,
            myself,
            owner,
            open: BTreeMap::new(),
        })
    }

    /// The index of the node with id `id`.
    pub fn node_index(&self, id: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.id == id)
    }

    /// Whether any slot is being moved to or from this node.
    #[inline]
    pub fn has_open_slots(&self) -> bool {
        !self.open.is_empty()
    }

    /// Whether `slot` is being moved to or from this node, and with which node.
    #[inline]
    pub fn open_slot(&self, slot: u16) -> Option<OpenSlot> {
        self.open.get(&slot).copied()
    }

    /// `CLUSTER SETSLOT slot MIGRATING|IMPORTING node` (`Some`) or `STABLE` (`None`).
    pub fn set_open(&mut self, slot: u16, state: Option<OpenSlot>) {
        match state {
            Some(s) => self.open.insert(slot, s),
            None => self.open.remove(&slot),
        };
    }

    /// Keeps the open slots of `old` whose nodes `self` still knows (a topology replaced in the
    /// middle of a move keeps the move going, as Redis keeps its migrating state on a config
    /// update).
    pub fn carry_open_slots(&mut self, old: &Topology) {
        for (&slot, &state) in &old.open {
            let id = match state {
                OpenSlot::Migrating(i) | OpenSlot::Importing(i) => &old.nodes[i].id,
            };
            let Some(i) = self.node_index(id) else {
                continue;
            };
            let mine = self.owns(slot);
            match state {
                OpenSlot::Migrating(_) if mine && i != self.myself => {
                    self.open.insert(slot, OpenSlot::Migrating(i));
                }
                OpenSlot::Importing(_) if !mine && i != self.myself => {
                    self.open.insert(slot, OpenSlot::Importing(i));
                }
                _ => {}
            }
        }
    }

    /// `CLUSTER SETSLOT slot NODE id`: `slot` now belongs to `nodes[node]`, and the epoch moves
    /// on, so a node's view of the move can be told from an older one.
    pub fn assign(&mut self, slot: u16, node: usize) {
        let prev = self.owner[slot as usize];
        if prev as usize == node {
            return;
        }
        if prev != NO_OWNER {
            remove_slot(&mut self.nodes[prev as usize].slots, slot);
        }
        add_slot(&mut self.nodes[node].slots, slot);
        self.owner[slot as usize] = node as u16;
        self.epoch += 1;
    }

    pub fn me(&self) -> &Node {
        &self.nodes[self.myself]
    }

    /// The node that owns `slot`, if any.
    #[inline]
    pub fn owner_of(&self, slot: u16) -> Option<&Node> {
        match self.owner[slot as usize] {
            NO_OWNER => None,
            i => Some(&self.nodes[i as usize]),
        }
    }

    #[inline]
    pub fn owns(&self, slot: u16) -> bool {
        self.owner[slot as usize] as usize == self.myself
    }

    pub fn slots_assigned(&self) -> usize {
        self.owner.iter().filter(|o| **o != NO_OWNER).count()
    }

    /// The topology as the JSON [`Topology::parse`] reads (the operator's format), which a
    /// node writes back to its `cluster-config-file` after a change, as Redis rewrites
    /// `nodes.conf`. Open slots are not part of it: they are the node's own, in memory.
    pub fn to_json(&self) -> String {
        let nodes: Vec<serde_json::Value> = self
            .nodes
            .iter()
            .map(|n| {
                let slots: Vec<String> = n
                    .slots
                    .iter()
                    .map(|&(a, b)| match a == b {
                        true => a.to_string(),
                        false => format!("{a}-{b}"),
                    })
                    .collect();
                serde_json::json!({"id": n.id, "host": n.host, "port": n.port, "slots": slots})
            })
            .collect();
        let mut text = serde_json::to_string_pretty(&serde_json::json!({
            "epoch": self.epoch,
            "nodes": nodes,
        }))
        .expect("a topology serializes");
        text.push('\n');
        text
    }

    /// `CLUSTER NODES`: one line per node, Redis's format (`<id> <ip:port@cport> <flags>
    /// <master> <ping> <pong> <epoch> <link> <slots>`). The bus port is reported as port + 10000,
    /// as Redis derives it, though usher nodes need no bus.
    pub fn nodes_text(&self) -> String {
        let mut out = String::new();
        for (i, n) in self.nodes.iter().enumerate() {
            let flags = if i == self.myself {
                "myself,master"
            } else {
                "master"
            };
            out.push_str(&format!(
                "{} {}:{}@{} {} - 0 0 {} connected",
                n.id,
                n.host,
                n.port,
                n.port as u32 + 10000,
                flags,
                self.epoch
            ));
            for &(a, b) in &n.slots {
                if a == b {
                    out.push_str(&format!(" {a}"));
                } else {
                    out.push_str(&format!(" {a}-{b}"));
                }
            }
            if i == self.myself {
                // Redis's markers for a move in progress, on this node's own line only.
                for (slot, state) in &self.open {
                    match *state {
                        OpenSlot::Migrating(to) => {
                            out.push_str(&format!(" [{slot}->-{}]", self.nodes[to].id))
                        }
                        OpenSlot::Importing(from) => {
                            out.push_str(&format!(" [{slot}-<-{}]", self.nodes[from].id))
                        }
                    }
                }
            }
            out.push('\n');
        }
        out
    }

    /// `CLUSTER INFO`, Redis's fields.
    pub fn info_text(&self) -> String {
        let assigned = self.slots_assigned();
        let state = if assigned == SLOT_COUNT { "ok" } else { "fail" };
        let size = self.nodes.iter().filter(|n| !n.slots.is_empty()).count();
        format!(
            "cluster_state:{state}\r\ncluster_slots_assigned:{assigned}\r\ncluster_slots_ok:{assigned}\r\n\
             cluster_slots_pfail:0\r\ncluster_slots_fail:0\r\ncluster_known_nodes:{}\r\n\
             cluster_size:{size}\r\ncluster_current_epoch:{e}\r\ncluster_my_epoch:{e}\r\n\
             cluster_stats_messages_sent:0\r\ncluster_stats_messages_received:0\r\n\
             total_cluster_links_buffer_limit_exceeded:0\r\n",
            self.nodes.len(),
            e = self.epoch
        )
    }
}

/// Removes `slot` from sorted inclusive `ranges`, splitting the range that held it.
fn remove_slot(ranges: &mut Vec<(u16, u16)>, slot: u16) {
    let Some(i) = ranges.iter().position(|&(a, b)| a <= slot && slot <= b) else {
        return;
    };
    let (a, b) = ranges[i];
    match (a == slot, b == slot) {
        (true, true) => {
            ranges.remove(i);
        }
        (true, false) => ranges[i].0 = slot + 1,
        (false, true) => ranges[i].1 = slot - 1,
        (false, false) => {
            ranges[i].1 = slot - 1;
            ranges.insert(i + 1, (slot + 1, b));
        }
    }
}

/// Adds `slot` to sorted inclusive `ranges`, joining neighbours.
fn add_slot(ranges: &mut Vec<(u16, u16)>, slot: u16) {
    let at = ranges.partition_point(|&(a, _)| a < slot);
    ranges.insert(at, (slot, slot));
    let mut merged: Vec<(u16, u16)> = Vec::with_capacity(ranges.len());
    for &(a, b) in ranges.iter() {
        match merged.last_mut() {
            Some(last) if last.1 as u32 + 1 >= a as u32 => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    *ranges = merged;
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "a000000000000000000000000000000000000001";
    const B: &str = "b000000000000000000000000000000000000002";

    #[test]
    fn a_topology_maps_every_slot_to_its_node() {
        let json = format!(
            r#"{{"epoch": 3, "nodes": [
                {{"id": "{A}", "host": "127.0.0.11", "port": 7000, "slots": ["0-8191"]}},
                {{"id": "{B}", "host": "127.0.0.12", "port": 7001, "slots": ["8192-16383"]}}]}}"#
        );
        let t = Topology::parse(&json, B).unwrap();
        assert!(t.owns(9000) && !t.owns(5));
        assert_eq!(t.owner_of(5).unwrap().host, "127.0.0.11");
        assert!(t.info_text().starts_with("cluster_state:ok\r\n"));
        assert!(t.nodes_text().contains(&format!(
            "{B} 127.0.0.12:7001@17001 myself,master - 0 0 3 connected 8192-16383"
        )));
    }

    #[test]
    fn overlaps_unknown_selves_and_bad_ids_are_refused() {
        let two = |a: &str, b: &str| {
            format!(
                r#"{{"nodes": [{{"id": "{A}", "host": "h", "port": 1, "slots": ["{a}"]}},
                              {{"id": "{B}", "host": "h", "port": 2, "slots": ["{b}"]}}]}}"#
            )
        };
        assert!(Topology::parse(&two("0-100", "100-200"), A)
            .unwrap_err()
            .contains("slot 100"));
        assert!(Topology::parse(&two("0-100", "101-200"), "c".repeat(40).as_str()).is_err());
        assert!(Topology::parse(&two("0-16384", "1"), A).is_err());
        assert!(
            Topology::parse(r#"{"nodes": [{"id": "x", "host": "h", "port": 1}]}"#, "x").is_err()
        );
        let partial = Topology::parse(&two("0-100", "101-200"), A).unwrap();
        assert!(partial.info_text().starts_with("cluster_state:fail"));
        assert!(partial.owner_of(300).is_none());
    }

    #[test]
    fn assigning_a_slot_moves_it_between_ranges_and_marks_open_slots() {
        let json = format!(
            r#"{{"epoch": 3, "nodes": [
                {{"id": "{A}", "host": "h", "port": 1, "slots": ["0-8191"]}},
                {{"id": "{B}", "host": "h", "port": 2, "slots": ["8192-16383"]}}]}}"#
        );
        let mut t = Topology::parse(&json, A).unwrap();
        t.set_open(100, Some(OpenSlot::Migrating(1)));
        assert!(t.nodes_text().contains(&format!(" 0-8191 [100->-{B}]\n")));
        t.assign(100, 1);
        t.set_open(100, None);
        assert_eq!(t.nodes[0].slots, vec![(0, 99), (101, 8191)]);
        assert_eq!(t.nodes[1].slots, vec![(100, 100), (8192, 16383)]);
        assert_eq!(t.owner_of(100).unwrap().id, B);
        assert_eq!(t.epoch, 4);
        t.assign(100, 0);
        assert_eq!(t.nodes[0].slots, vec![(0, 8191)]);
        t.assign(0, 1);
        t.assign(8191, 1);
        assert_eq!(t.nodes[0].slots, vec![(1, 8190)]);
        assert_eq!(t.nodes[1].slots, vec![(0, 0), (8191, 16383)]);
        assert!(!t.has_open_slots());
        let again = Topology::parse(&t.to_json(), A).unwrap();
        assert_eq!(again.nodes, t.nodes);
        assert_eq!(again.epoch, t.epoch);
    }
}
