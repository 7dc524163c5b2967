//! The stream type: an append-only log of `(id, field/value pairs)` entries, plus the
//! consumer groups that read it (see [`group`]).
//!
//! Entries live in nodes, a `BTreeMap` from a node's *master id* (its first entry's id) to a
//! listpack laid out exactly as Redis 7.0's stream listpacks (`t_stream.c`):
//!
//! ```text
//! master entry: count | deleted | num-fields | field_1 .. field_N | 0
//! each entry:   flags | ms-diff | seq-diff | [num-fields | f_1 v_1 ..] or [v_1 ..] | lp-count
//! ```
//!
//! Ids are deltas against the master id, and an entry whose fields equal the master fields
//! stores only its values (flag `SAMEFIELDS`), so memory per entry is Redis's, and the RDB
//! writer copies nodes byte for byte. A new node starts where Redis starts one:
//! when the tail node's bytes plus the new entry's field and value bytes reach
//! `stream-node-max-bytes`, or its entries (live and deleted) reach `stream-node-max-entries`.
//!
//! Invariants: nodes never overlap and are keyed by their master id; an entry is deleted by
//! setting its `DELETED` flag and moving one from the master's `count` to `deleted`; a node
//! whose last live entry is deleted is removed whole (as `streamIteratorRemoveEntry`);
//! `length` is the number of live entries; `last_id` never decreases.
//!
//! The type knows nothing of commands or replies.

pub mod group;

use crate::types::listpack::{self, read_at, replace_int_at, Corrupt, ListpackWriter, LpVal};
use group::Group;
use std::collections::BTreeMap;

const FLAG_DELETED: i64 = 1;
const FLAG_SAMEFIELDS: i64 = 2;
/// `STREAM_LISTPACK_MAX_SIZE`: no node grows past 1 GiB, whatever the configuration says.
const NODE_BYTES_MAX: usize = 1 << 30;

/// A stream entry id: milliseconds and sequence, ordered as a 128-bit number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

/// An id's reply text, [`StreamId::text`]: at most twenty digits, a dash, twenty digits.
pub struct IdText {
    buf: [u8; 41],
    len: usize,
}

impl IdText {
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl StreamId {
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    pub const fn new(ms: u64, seq: u64) -> Self {
        StreamId { ms, seq }
    }

    pub fn is_zero(&self) -> bool {
        *self == StreamId::MIN
    }

    /// The next id (`streamIncrID`), or `None` past the maximum.
    pub fn incr(self) -> Option<StreamId> {
        if self.seq == u64::MAX {
            (self.ms != u64::MAX).then(|| StreamId::new(self.ms + 1, 0))
        } else {
            Some(StreamId::new(self.ms, self.seq + 1))
        }
    }

    /// The previous id (`streamDecrID`), or `None` below zero.
    pub fn decr(self) -> Option<StreamId> {
        if self.seq == 0 {
            (self.ms != 0).then(|| StreamId::new(self.ms - 1, u64::MAX))
        } else {
            Some(StreamId::new(self.ms, self.seq - 1))
        }
    }

    /// `<ms>-<seq>`, as replies spell it.
    pub fn to_bytes(self) -> Vec<u8> {
        self.text().as_bytes().to_vec()
    }

    /// `<ms>-<seq>` on the stack: every reply that carries an id (XADD's, each entry of XRANGE
    /// and XREADGROUP) writes one, and `format!` cost a growing heap string each time.
    pub fn text(self) -> IdText {
        let mut t = IdText {
            buf: [0; 41],
            len: 0,
        };
        let mut digits = itoa::Buffer::new();
        for (i, part) in [self.ms, self.seq].into_iter().enumerate() {
            if i == 1 {
                t.buf[t.len] = b'-';
                t.len += 1;
            }
            let d = digits.format(part).as_bytes();
            t.buf[t.len..t.len + d.len()].copy_from_slice(d);
            t.len += d.len();
        }
        t
    }

    /// The 16-byte big-endian form: radix-tree keys in RDB files.
    pub fn encode(self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.ms.to_be_bytes());
        b[8..].copy_from_slice(&self.seq.to_be_bytes());
        b
    }

    pub fn decode(b: &[u8]) -> Option<StreamId> {
        let b: &[u8; 16] = b.try_into().ok()?;
        Some(StreamId::new(
            u64::from_be_bytes(b[..8].try_into().unwrap()),
            u64::from_be_bytes(b[8..].try_into().unwrap()),
        ))
    }
}

/// `stream-node-max-bytes` and `stream-node-max-entries`.
#[derive(Clone, Copy, Debug)]
pub struct NodeLimits {
    pub max_bytes: usize,
    pub max_entries: i64,
}

impl NodeLimits {
    pub fn from_config(c: &crate::config::EngineConfig) -> Self {
        NodeLimits {
            max_bytes: c.stream_node_max_bytes,
            max_entries: c.stream_node_max_entries,
        }
    }
}

/// How XADD and XTRIM trim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trim {
    MaxLen(u64),
    MinId(StreamId),
}

#[derive(Clone, Default)]
pub struct Stream {
    nodes: BTreeMap<StreamId, Vec<u8>>,
    /// Live entries.
    pub length: u64,
    pub last_id: StreamId,
    /// The first live entry's id, or 0-0 when empty.
    pub first_id: StreamId,
    /// The highest id XDEL ever removed (`max_deleted_entry_id`).
    pub max_deleted_id: StreamId,
    /// Entries ever added (`entries_added`).
    pub entries_added: u64,
    /// Consumer groups by name (Redis keeps them in a radix tree: name order).
    pub groups: BTreeMap<Vec<u8>, Group>,
    /// The last live entry's id (0-0 when empty), kept so reads need not scan the tail node
    /// backwards (Redis walks its listpack from the end for it).
    top: StreamId,
}

/// A live entry found by iteration, read in place inside its node.
#[derive(Clone, Copy)]
pub struct EntryRef<'a> {
    pub id: StreamId,
    lp: &'a [u8],
    master_fields_at: usize,
    n_fields: usize,
    same_fields: bool,
    body_at: usize,
}

impl<'a> EntryRef<'a> {
    pub fn field_count(&self) -> usize {
        self.n_fields
    }

    /// The entry's field/value pairs in order.
    pub fn pairs(&self) -> impl Iterator<Item = (LpVal<'a>, LpVal<'a>)> + 'a {
        let (lp, same) = (self.lp, self.same_fields);
        let mut fp = self.master_fields_at;
        let mut p = self.body_at;
        (0..self.n_fields).map(move |_| {
            let field = if same {
                let (f, next) = elem(lp, fp);
                fp = next;
                f
            } else {
                let (f, next) = elem(lp, p);
                p = next;
                f
            };
            let (v, next) = elem(lp, p);
            p = next;
            (field, v)
        })
    }
}

/// The element at `p` of a node this module built or validated.
fn elem(lp: &[u8], p: usize) -> (LpVal<'_>, usize) {
    read_at(lp, p)
        .ok()
        .flatten()
        .expect("stream nodes are valid listpacks")
}

fn int_at(lp: &[u8], p: usize) -> Result<(i64, usize), Corrupt> {
    let (v, next) = read_at(lp, p)?.ok_or(Corrupt("stream node ends early"))?;
    Ok((
        v.as_int().ok_or(Corrupt("stream node integer expected"))?,
        next,
    ))
}

fn entry_ref<'a>(lp: &'a [u8], master_fields_at: usize, e: &RawEntry) -> EntryRef<'a> {
    EntryRef {
        id: e.id,
        lp,
        master_fields_at,
        n_fields: e.n_fields,
        same_fields: e.flags & FLAG_SAMEFIELDS != 0,
        body_at: e.body_at,
    }
}

/// One entry of a node, as stored (deleted ones included).
struct RawEntry {
    id: StreamId,
    flags: i64,
    flags_at: usize,
    n_fields: usize,
    body_at: usize,
}

/// Walks a node's entries front to back, checking every read.
struct NodeScan<'a> {
    lp: &'a [u8],
    master: StreamId,
    count: i64,
    deleted: i64,
    n_master: usize,
    master_fields_at: usize,
    p: usize,
}

impl<'a> NodeScan<'a> {
    fn new(lp: &'a [u8], master: StreamId) -> Result<Self, Corrupt> {
        let p = listpack::check_header(lp)?;
        let (count, p) = int_at(lp, p)?;
        let (deleted, p) = int_at(lp, p)?;
        let (n_master, mut p) = int_at(lp, p)?;
        if count < 0 || deleted < 0 || n_master < 0 {
            return Err(Corrupt("negative stream node counter"));
        }
        let master_fields_at = p;
        for _ in 0..n_master {
            p = read_at(lp, p)?
                .ok_or(Corrupt("stream master entry ends early"))?
                .1;
        }
        let (zero, p) = int_at(lp, p)?;
        if zero != 0 {
            return Err(Corrupt("stream master entry without its terminator"));
        }
        Ok(NodeScan {
            lp,
            master,
            count,
            deleted,
            n_master: n_master as usize,
            master_fields_at,
            p,
        })
    }

    fn next_entry(&mut self) -> Result<Option<RawEntry>, Corrupt> {
        let lp = self.lp;
        if read_at(lp, self.p)?.is_none() {
            return Ok(None);
        }
        let flags_at = self.p;
        let (flags, p) = int_at(lp, self.p)?;
        let (ms_diff, p) = int_at(lp, p)?;
        let (seq_diff, mut p) = int_at(lp, p)?;
        let id = StreamId::new(
            self.master.ms.wrapping_add(ms_diff as u64),
            self.master.seq.wrapping_add(seq_diff as u64),
        );
        let same = flags & FLAG_SAMEFIELDS != 0;
        let n_fields = if same {
            self.n_master
        } else {
            let (n, next) = int_at(lp, p)?;
            p = next;
            usize::try_from(n).map_err(|_| Corrupt("negative stream field count"))?
        };
        let body_at = p;
        let elems = if same { n_fields } else { n_fields * 2 };
        for _ in 0..elems {
            p = read_at(lp, p)?.ok_or(Corrupt("stream entry ends early"))?.1;
        }
        let (lp_count, p) = int_at(lp, p)?;
        let want = 3 + n_fields as i64 + if same { 0 } else { n_fields as i64 + 1 };
        if lp_count != want {
            return Err(Corrupt("stream entry lp-count mismatch"));
        }
        self.p = p;
        Ok(Some(RawEntry {
            id,
            flags,
            flags_at,
            n_fields,
            body_at,
        }))
    }

    fn entry_ref(&self, e: &RawEntry) -> EntryRef<'a> {
        entry_ref(self.lp, self.master_fields_at, e)
    }

    /// Every entry of a node this module built (which cannot be corrupt).
    fn all(lp: &'a [u8], master: StreamId) -> (Self, Vec<RawEntry>) {
        let mut scan = NodeScan::new(lp, master).expect("stream nodes are valid listpacks");
        let mut out = Vec::new();
        while let Some(e) = scan.next_entry().expect("stream nodes are valid listpacks") {
            out.push(e);
        }
        (scan, out)
    }
}

impl Stream {
    pub fn new() -> Self {
        Stream::default()
    }

    pub fn len(&self) -> u64 {
        self.length
    }

    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// Number of nodes (`radix-tree-keys`).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// The nodes, in id order: (master id, listpack). For the RDB writer.
    pub fn nodes(&self) -> impl Iterator<Item = (&StreamId, &Vec<u8>)> {
        self.nodes.iter()
    }

    /// Bytes held by the nodes and the groups' pending lists.
    pub fn allocated_bytes(&self) -> usize {
        let nodes: usize = self.nodes.values().map(|lp| lp.capacity() + 48).sum();
        let groups: usize = self.groups.values().map(Group::allocated_bytes).sum();
        nodes + groups
    }

    /// Appends an entry with id `id` (the caller checked it is above `last_id`). Does not
    /// count it in `entries_added` (XADD does; loading does not).
    pub fn append<'f>(&mut self, id: StreamId, pairs: &[(&'f [u8], &'f [u8])], limits: NodeLimits) {
        debug_assert!(self.length == 0 && self.nodes.is_empty() || id > self.last_id);
        let payload: usize = pairs.iter().map(|(f, v)| f.len() + v.len()).sum();
        let max_bytes = match limits.max_bytes {
            0 => NODE_BYTES_MAX,
            n => n.min(NODE_BYTES_MAX),
        };
        // The tail's header, read once: it decides whether the entry fits, and the append
        // needs its counters and master fields.
        let tail = |nodes: &BTreeMap<StreamId, Vec<u8>>| {
            nodes.last_key_value().map(|(master, lp)| {
                let scan = NodeScan::new(lp, *master).expect("valid node");
                let (count, deleted) = (scan.count, scan.deleted);
                (
                    *master,
                    count,
                    deleted,
                    scan.n_master,
                    scan.master_fields_at,
                    lp.len(),
                )
            })
        };
        let mut header = tail(&self.nodes);
        let tail_fits = header.is_some_and(|(_, count, deleted, _, _, len)| {
            len + payload < max_bytes
                && (limits.max_entries == 0 || count + deleted < limits.max_entries)
        });
        if !tail_fits {
            if let Some(mut tail) = self.nodes.last_entry() {
                tail.get_mut().shrink_to_fit();
            }
            let mut w = ListpackWriter::new();
            w.push_int(0);
            w.push_int(0);
            w.push_int(pairs.len() as i64);
            for (f, _) in pairs {
                w.push(f);
            }
            w.push_int(0);
            self.nodes.insert(id, w.finish());
            header = tail(&self.nodes);
        }
        let (master, count, _, n_master, master_fields_at, _) = header.expect("a tail node");
        let lp = self.nodes.last_key_value().expect("a tail node").1;
        let same = n_master == pairs.len() && {
            let mut p = master_fields_at;
            pairs.iter().all(|(f, _)| {
                let (mf, next) = elem(lp, p);
                p = next;
                mf.with_bytes(|b| b == *f)
            })
        };
        let n_elems = lp_len(lp);
        let lp = self.nodes.last_entry().expect("a tail node").into_mut();
        replace_int_at(lp, 6, count + 1);
        let mut w = ListpackWriter::reopen(std::mem::take(lp), n_elems);
        w.push_int(if same { FLAG_SAMEFIELDS } else { 0 });
        w.push_int(id.ms.wrapping_sub(master.ms) as i64);
        w.push_int(id.seq.wrapping_sub(master.seq) as i64);
        if !same {
            w.push_int(pairs.len() as i64);
        }
        for (f, v) in pairs {
            if !same {
                w.push(f);
            }
            w.push(v);
        }
        let n = pairs.len() as i64;
        w.push_int(3 + n + if same { 0 } else { n + 1 });
        *lp = w.finish();
        if self.length == 0 {
            self.first_id = id;
        }
        self.length += 1;
        self.last_id = id;
        self.top = id;
    }

    /// Calls `f` on each live entry with `start <= id <= end`, ascending or (`rev`)
    /// descending, until it returns false. Ascending walks decode only up to the last entry
    /// used; descending ones decode each node they enter whole (its entries are then taken
    /// back to front).
    pub fn for_each<'s>(
        &'s self,
        start: StreamId,
        end: StreamId,
        rev: bool,
        mut f: impl FnMut(EntryRef<'s>) -> bool,
    ) {
        if start > end {
            return;
        }
        // The node holding `start` is the last one whose master id is <= start.
        let from = self
            .nodes
            .range(..=start)
            .next_back()
            .map(|(k, _)| *k)
            .unwrap_or(StreamId::MIN);
        let nodes = self.nodes.range(from..=end);
        if rev {
            for (master, lp) in nodes.rev() {
                let (scan, entries) = NodeScan::all(lp, *master);
                for e in entries.iter().rev() {
                    if e.flags & FLAG_DELETED == 0
                        && e.id >= start
                        && e.id <= end
                        && !f(scan.entry_ref(e))
                    {
                        return;
                    }
                }
            }
            return;
        }
        for (master, lp) in nodes {
            let mut scan = NodeScan::new(lp, *master).expect("stream nodes are valid listpacks");
            let (lp, master_fields_at) = (scan.lp, scan.master_fields_at);
            while let Some(e) = scan.next_entry().expect("stream nodes are valid listpacks") {
                if e.id > end {
                    return;
                }
                if e.flags & FLAG_DELETED != 0 || e.id < start {
                    continue;
                }
                if !f(entry_ref(lp, master_fields_at, &e)) {
                    return;
                }
            }
        }
    }

    /// The live entry with id `id`, if any.
    pub fn get(&self, id: StreamId) -> Option<EntryRef<'_>> {
        let mut found = None;
        self.for_each(id, id, false, |e| {
            found = Some(e);
            false
        });
        found
    }

    /// The first (or, `last`, the last) live entry's id.
    pub fn edge_id(&self, last: bool) -> Option<StreamId> {
        if self.length == 0 {
            return None;
        }
        if last {
            return Some(self.top);
        }
        let mut found = None;
        self.for_each(StreamId::MIN, StreamId::MAX, false, |e| {
            found = Some(e.id);
            false
        });
        found
    }

    /// Recomputes the cached last live id by scanning from the tail.
    fn refresh_top(&mut self) {
        let mut top = StreamId::MIN;
        self.for_each(StreamId::MIN, StreamId::MAX, true, |e| {
            top = e.id;
            false
        });
        self.top = top;
    }

    /// Marks entry `id` deleted (`streamDeleteItem`); false if there is no such live entry.
    /// Keeps `length` but not `first_id` or `max_deleted_id` (XDEL settles those).
    pub fn delete(&mut self, id: StreamId) -> bool {
        let Some((&master, lp)) = self.nodes.range(..=id).next_back() else {
            return false;
        };
        let (scan, entries) = NodeScan::all(lp, master);
        let Some(e) = entries
            .iter()
            .find(|e| e.id == id && e.flags & FLAG_DELETED == 0)
        else {
            return false;
        };
        let (count, deleted, flags_at, flags) = (scan.count, scan.deleted, e.flags_at, e.flags);
        if count == 1 {
            self.nodes.remove(&master);
        } else {
            let lp = self.nodes.get_mut(&master).expect("node found above");
            replace_int_at(lp, flags_at, flags | FLAG_DELETED);
            set_counters(lp, count - 1, deleted + 1);
        }
        self.length -= 1;
        if id == self.top {
            self.refresh_top();
        }
        true
    }

    /// `streamTrim`: removes entries from the head per `trim`; `approx` removes whole nodes
    /// only; `limit` (0: none) caps the entries removed, counted per node. Returns how many
    /// entries were removed and sets `first_id`.
    pub fn trim(&mut self, trim: Trim, approx: bool, limit: u64) -> u64 {
        let mut deleted = 0u64;
        loop {
            if let Trim::MaxLen(max) = trim {
                if self.length <= max {
                    break;
                }
            }
            let Some((&master, lp)) = self.nodes.first_key_value() else {
                break;
            };
            // The header alone decides MAXLEN's whole-node step (as `streamTrim` reads only
            // the master entry's counters): an approximate trim of a stream one entry over
            // its length, the common case of `XADD ... MAXLEN ~ n`, decodes nothing else.
            let count = NodeScan::new(lp, master).expect("valid node").count as u64;
            if limit > 0 && deleted + count > limit {
                break;
            }
            // MINID needs the node's last id, so its entries; decoded once, for the exact
            // step below too.
            let mut decoded = None;
            let remove_node = match trim {
                Trim::MaxLen(max) => self.length - count >= max,
                Trim::MinId(min) => decoded
                    .insert(NodeScan::all(lp, master))
                    .1
                    .last()
                    .is_none_or(|e| e.id < min),
            };
            if remove_node {
                self.nodes.remove(&master);
                self.length -= count;
                deleted += count;
                continue;
            }
            if approx {
                break;
            }
            let (scan, entries) = decoded.unwrap_or_else(|| NodeScan::all(lp, master));
            let mut marks = Vec::new();
            let mut length = self.length;
            for e in &entries {
                let stop = match trim {
                    Trim::MaxLen(max) => length <= max,
                    Trim::MinId(min) => e.id >= min,
                };
                if stop {
                    break;
                }
                if e.flags & FLAG_DELETED == 0 {
                    marks.push((e.flags_at, e.flags | FLAG_DELETED));
                    length -= 1;
                }
            }
            let n = marks.len() as i64;
            let (c, d) = (scan.count, scan.deleted);
            let lp = self.nodes.get_mut(&master).expect("first node");
            // Back to front: a flag rewrite never changes the offsets before it.
            for (at, flags) in marks.into_iter().rev() {
                replace_int_at(lp, at, flags);
            }
            set_counters(lp, c - n, d + n);
            self.length -= n as u64;
            deleted += n as u64;
            break;
        }
        // Trimming takes from the head: the last entry goes only with all the others.
        if self.length == 0 {
            self.top = StreamId::MIN;
        }
        self.first_id = self.edge_id(false).unwrap_or(StreamId::MIN);
        deleted
    }

    /// Adds a node read from an RDB file after checking every entry in it; returns its live
    /// entries and its last entry's id (deleted or not).
    pub fn load_node(&mut self, master: StreamId, lp: Vec<u8>) -> Result<(u64, StreamId), Corrupt> {
        let mut scan = NodeScan::new(&lp, master)?;
        let (mut live, mut dead, mut last) = (0i64, 0i64, None);
        while let Some(e) = scan.next_entry()? {
            if last.is_some_and(|l| e.id <= l) || e.id < master {
                return Err(Corrupt("stream node ids out of order"));
            }
            if e.flags & FLAG_DELETED == 0 {
                live += 1;
            } else {
                dead += 1;
            }
            last = Some(e.id);
        }
        if live != scan.count || dead != scan.deleted {
            return Err(Corrupt("stream node counters mismatch"));
        }
        let last = last.ok_or(Corrupt("empty stream node"))?;
        if self
            .nodes
            .last_key_value()
            .is_some_and(|(m, _)| *m >= master)
        {
            return Err(Corrupt("stream nodes out of order"));
        }
        self.nodes.insert(master, lp);
        self.length += live as u64;
        self.refresh_top();
        Ok((live as u64, last))
    }

    /// `streamRangeHasTombstones`: whether an XDEL'd id may lie in `[start, MAX]`.
    pub fn has_tombstones_from(&self, start: StreamId) -> bool {
        if self.length == 0 || self.max_deleted_id.is_zero() {
            return false;
        }
        if self.first_id > self.max_deleted_id {
            return false;
        }
        start <= self.max_deleted_id
    }

    /// `streamEstimateDistanceFromFirstEverEntry`: the logical read counter of `id`, or
    /// `None` where it cannot be known.
    pub fn estimate_entries_read(&self, id: StreamId) -> Option<u64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if self.length == 0 && id <= self.last_id {
            return Some(self.entries_added);
        }
        if id == self.last_id {
            return Some(self.entries_added);
        }
        if id > self.last_id {
            return None;
        }
        if self.max_deleted_id.is_zero() || self.max_deleted_id < self.first_id {
            if id < self.first_id {
                return Some(self.entries_added - self.length);
            }
            if id == self.first_id {
                return Some(self.entries_added - self.length + 1);
            }
        }
        None
    }

    /// A group's lag (`streamReplyWithCGLag`), `None` where it cannot be known. Negative
    /// when a group's read counter was set past the entries added (Redis does not clamp).
    pub fn group_lag(&self, g: &Group) -> Option<i64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        let added = self.entries_added as i64;
        if g.entries_read >= 0 && !self.has_tombstones_from(g.last_id) {
            return Some(added.wrapping_sub(g.entries_read));
        }
        self.estimate_entries_read(g.last_id)
            .map(|read| added.wrapping_sub(read as i64))
    }
}

/// Elements in a listpack: the header's count, or a walk when it says "unknown".
fn lp_len(lp: &[u8]) -> usize {
    let n = u16::from_le_bytes([lp[4], lp[5]]) as usize;
    if n < 65535 {
        return n;
    }
    let mut p = 6;
    let mut count = 0;
    while let Some((_, next)) = read_at(lp, p).ok().flatten() {
        p = next;
        count += 1;
    }
    count
}

/// Rewrites a node's master `count` and `deleted`.
fn set_counters(lp: &mut Vec<u8>, count: i64, deleted: i64) {
    replace_int_at(lp, 6, count);
    let (_, next) = elem(lp, 6);
    replace_int_at(lp, next, deleted);
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: NodeLimits = NodeLimits {
        max_bytes: 4096,
        max_entries: 3,
    };

    fn ids(s: &Stream, rev: bool) -> Vec<u64> {
        let mut out = Vec::new();
        s.for_each(StreamId::MIN, StreamId::MAX, rev, |e| {
            out.push(e.id.ms);
            true
        });
        out
    }

    fn filled(n: u64) -> Stream {
        let mut s = Stream::new();
        for i in 1..=n {
            let v = i.to_string();
            let f: &[u8] = if i % 2 == 0 { b"a" } else { b"b" };
            s.append(StreamId::new(i, 0), &[(f, v.as_bytes())], LIMITS);
        }
        s
    }

    #[test]
    fn ids_are_spelled_as_redis_replies_them() {
        for (id, text) in [
            (StreamId::MIN, "0-0"),
            (StreamId::new(1_700_000_000_123, 7), "1700000000123-7"),
            (StreamId::MAX, "18446744073709551615-18446744073709551615"),
        ] {
            assert_eq!(id.text().as_bytes(), text.as_bytes());
            assert_eq!(id.to_bytes(), text.as_bytes());
        }
    }

    #[test]
    fn entries_read_back_in_both_directions_across_nodes() {
        let s = filled(10);
        assert_eq!(s.node_count(), 4);
        assert_eq!(ids(&s, false), (1..=10).collect::<Vec<_>>());
        assert_eq!(ids(&s, true), (1..=10).rev().collect::<Vec<_>>());
        let e = s.get(StreamId::new(4, 0)).unwrap();
        let pairs: Vec<_> = e.pairs().map(|(f, v)| (f.to_elem(), v.to_elem())).collect();
        assert_eq!(
            pairs,
            vec![(listpack::Elem::Bytes(b"a".to_vec()), listpack::Elem::Int(4))]
        );
    }

    #[test]
    fn delete_flags_entries_and_drops_empty_nodes() {
        let mut s = filled(6);
        assert!(s.delete(StreamId::new(2, 0)));
        assert!(!s.delete(StreamId::new(2, 0)));
        assert_eq!(ids(&s, false), vec![1, 3, 4, 5, 6]);
        for i in [1, 3] {
            assert!(s.delete(StreamId::new(i, 0)));
        }
        assert_eq!(s.node_count(), 1);
        assert_eq!(s.len(), 3);
    }

    #[test]
    fn trimming_exact_and_approximate() {
        let mut s = filled(10);
        assert_eq!(s.trim(Trim::MaxLen(8), true, 0), 0);
        assert_eq!(s.trim(Trim::MaxLen(7), true, 0), 3);
        assert_eq!(s.trim(Trim::MaxLen(5), false, 0), 2);
        assert_eq!(ids(&s, false), vec![6, 7, 8, 9, 10]);
        assert_eq!(s.first_id, StreamId::new(6, 0));
        assert_eq!(s.trim(Trim::MinId(StreamId::new(9, 0)), false, 0), 3);
        assert_eq!(ids(&s, false), vec![9, 10]);
    }

    #[test]
    fn loading_checks_nodes() {
        let s = filled(5);
        let mut t = Stream::new();
        for (m, lp) in s.nodes() {
            t.load_node(*m, lp.clone()).unwrap();
            let mut bad = lp.clone();
            let n = bad.len();
            bad[n - 3] ^= 0x01; // the last entry's lp-count
            assert!(Stream::new().load_node(*m, bad).is_err());
        }
        assert_eq!(t.len(), 5);
    }
}
