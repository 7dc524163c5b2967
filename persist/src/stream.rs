//! Streams in RDB: `RDB_TYPE_STREAM_LISTPACKS_2` (19) as Redis 7.0 writes it, and the older
//! `RDB_TYPE_STREAM_LISTPACKS` (15) read.
//!
//! ```text
//! nodes: len, then per node: 16-byte big-endian master id (string), listpack (string)
//! length, last-id ms, seq, first-id ms, seq, max-deleted ms, seq, entries-added   (lengths)
//! groups: len, then per group: name, last-id ms, seq, entries-read (a length; -1 wraps),
//!   PEL: len, then per entry: raw 16-byte id, delivery time (8 bytes LE ms), delivery count
//!   consumers: len, then per consumer: name, seen-time (8 bytes LE), PEL: len, raw ids
//! ```
//!
//! Nodes are the engine's own listpacks, written and read byte for byte; every node read is
//! checked entry by entry before it is accepted, and every consumer PEL id must be pending
//! in its group, as Redis's loader requires.

use crate::rdb::{save_len, save_string, LoadError, Reader, WriteOptions};
use usher_engine::types::stream::group::{Consumer, Group, Nack};
use usher_engine::types::stream::{Stream, StreamId};

pub const TYPE_STREAM_LISTPACKS: u8 = 15;
pub const TYPE_STREAM_LISTPACKS_2: u8 = 19;

fn save_id_lens(out: &mut Vec<u8>, id: StreamId) {
    save_len(out, id.ms);
    save_len(out, id.seq);
}

/// `rdbSaveObject` for a stream (type 19).
pub fn save_stream(out: &mut Vec<u8>, s: &Stream, o: WriteOptions) {
    save_len(out, s.node_count() as u64);
    for (master, lp) in s.nodes() {
        save_string(out, &master.encode(), o.compress);
        save_string(out, lp, o.compress);
    }
    save_len(out, s.len());
    save_id_lens(out, s.last_id);
    save_id_lens(out, s.first_id);
    save_id_lens(out, s.max_deleted_id);
    save_len(out, s.entries_added);
    save_len(out, s.groups.len() as u64);
    for (name, g) in &s.groups {
        save_string(out, name, o.compress);
        save_id_lens(out, g.last_id);
        save_len(out, g.entries_read as u64);
        save_len(out, g.pel.len() as u64);
        for (id, nack) in &g.pel {
            out.extend_from_slice(&id.encode());
            out.extend_from_slice(&nack.delivery_time.to_le_bytes());
            save_len(out, nack.delivery_count);
        }
        save_len(out, g.consumers.len() as u64);
        for (cname, c) in &g.consumers {
            save_string(out, cname, o.compress);
            out.extend_from_slice(&c.seen_time.to_le_bytes());
            save_len(out, c.pel.len() as u64);
            for id in &c.pel {
                out.extend_from_slice(&id.encode());
            }
        }
    }
}

fn load_id_lens(r: &mut Reader) -> Result<StreamId, LoadError> {
    Ok(StreamId::new(r.length()?, r.length()?))
}

fn raw_id(r: &mut Reader) -> Result<StreamId, LoadError> {
    Ok(StreamId::decode(r.bytes(16)?).expect("16 bytes"))
}

fn ms_time(r: &mut Reader) -> Result<i64, LoadError> {
    Ok(i64::from_le_bytes(r.bytes(8)?.try_into().expect("8 bytes")))
}

/// `rdbLoadObject` for stream types 15 and 19.
pub fn load_stream(r: &mut Reader, t: u8) -> Result<Stream, LoadError> {
    let mut s = Stream::new();
    let n_nodes = r.length()?;
    for _ in 0..n_nodes {
        let at = r.pos;
        let key = r.string()?;
        let master = StreamId::decode(&key).ok_or(LoadError {
            offset: at,
            msg: "Stream node key entry is not the size of a stream ID".into(),
        })?;
        let at = r.pos;
        let lp = r.string()?;
        s.load_node(master, lp).map_err(|e| LoadError {
            offset: at,
            msg: format!("Stream listpack integrity check failed: {}", e.0),
        })?;
    }
    let at = r.pos;
    let length = r.length()?;
    if length != s.len() {
        return r.err(format!(
            "Stream length {length} inconsistent with its nodes ({})",
            s.len()
        ));
    }
    s.last_id = load_id_lens(r)?;
    if t >= TYPE_STREAM_LISTPACKS_2 {
        s.first_id = load_id_lens(r)?;
        s.max_deleted_id = load_id_lens(r)?;
        s.entries_added = r.length()?;
    } else {
        s.first_id = s.edge_id(false).unwrap_or(StreamId::MIN);
        s.entries_added = s.len();
    }
    if s.edge_id(true).is_some_and(|top| top > s.last_id) {
        return Err(LoadError {
            offset: at,
            msg: "Stream last id below its last entry".into(),
        });
    }
    let n_groups = r.length()?;
    for _ in 0..n_groups {
        let at = r.pos;
        let name = r.string()?;
        let last_id = load_id_lens(r)?;
        let entries_read = if t >= TYPE_STREAM_LISTPACKS_2 {
            r.length()? as i64
        } else {
            s.estimate_entries_read(last_id).map_or(-1, |n| n as i64)
        };
        let mut g = Group::new(last_id, entries_read);
        for _ in 0..r.length()? {
            let id = raw_id(r)?;
            let nack = Nack {
                delivery_time: ms_time(r)?,
                delivery_count: r.length()?,
                consumer: Vec::new(),
            };
            if g.pel.insert(id, nack).is_some() {
                return r.err("Duplicated global PEL entry loading stream consumer group");
            }
        }
        for _ in 0..r.length()? {
            let cname = r.string()?;
            let mut c = Consumer {
                seen_time: ms_time(r)?,
                pel: Default::default(),
            };
            for _ in 0..r.length()? {
                let id = raw_id(r)?;
                let Some(nack) = g.pel.get_mut(&id) else {
                    return r.err("Consumer entry not found in group global PEL");
                };
                nack.consumer = cname.clone();
                if !c.pel.insert(id) {
                    return r.err("Duplicated consumer PEL entry loading a stream consumer group");
                }
            }
            if g.consumers.insert(cname, c).is_some() {
                return r.err("Duplicate stream consumer detected.");
            }
        }
        if g.pel
            .values()
            .any(|n| n.consumer.is_empty() && !g.consumers.contains_key(&n.consumer))
        {
            return Err(LoadError {
                offset: at,
                msg: "Stream CG PEL entry without consumer".into(),
            });
        }
        if s.groups.insert(name, g).is_some() {
            return Err(LoadError {
                offset: at,
                msg: "Duplicated consumer group name".into(),
            });
        }
    }
    Ok(s)
}
