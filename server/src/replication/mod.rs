//! Replication, as Redis 7.0 does it: a primary streams every change to its replicas, which
//! apply it; PSYNC resumes from the backlog after a short disconnect.
//!
//! - `backlog.rs`: the last stream bytes by offset (the replication buffer).
//! - `primary.rs`: PSYNC on the primary: a full sync (an RDB of every shard, taken under every
//!   shard lock at one stream offset) or `+CONTINUE`, then the stream and the replica's ACKs.
//! - `keepalive.rs`: the primary's PING every `repl-ping-replica-period` and its drop of
//!   replicas silent for `repl-timeout`.
//! - `replica.rs`: the link to our primary (a thread of its own): the handshake, loading the
//!   RDB, applying the stream as the AOF loader does, `REPLCONF ACK` every second.
//!
//! On a primary the backlog is fed from the propagation stream (`crate::propagate`, through
//! its tap), so its offsets count exactly the bytes replicas receive. On a replica it is fed
//! with the primary's bytes as they are applied, so its offset is the primary's: after a
//! promotion (`REPLICAOF NO ONE`) the old replication id becomes `replid2`, and sibling
//! replicas resume from the new primary with `+CONTINUE`.
//!
//! The command side (REPLICAOF, REPLCONF, PSYNC, ROLE, WAIT) is `crate::cmd::replication`;
//! the gate's READONLY, MASTERDOWN and NOREPLICAS checks are [`gate`].

pub mod backlog;
pub mod keepalive;
pub mod primary;
pub mod replica;

use crate::ids::random_hex;
use crate::session::Session;
use crate::shared::{unix_ms, Shared};
use backlog::Backlog;
use parking_lot::Mutex;
use std::fmt::Write;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use usher_engine::command::Flags;

use usher_protocol::errors::{MASTERDOWN, NOREPLICAS, READONLY};

/// The replication ids (`master_replid`, `master_replid2`, `second_repl_offset`).
pub struct Ids {
    pub replid: String,
    pub replid2: String,
    /// The first offset `replid2` does not cover (-1: none).
    pub second_offset: i64,
}

/// One replica as its primary sees it (`slaveN:` in INFO, ROLE).
pub struct ReplicaLink {
    pub client_id: u64,
    pub ip: Mutex<String>,
    pub port: AtomicU64,
    /// The offset the replica last acknowledged.
    pub ack: AtomicU64,
    /// When it last acknowledged (Unix ms).
    pub ack_ms: AtomicI64,
    /// 0 wait_bgsave, 1 send_bulk, 2 online.
    pub state: AtomicU8,
    /// Attached with plain SYNC: it sends no ACKs, so it never times out (Redis's
    /// `CLIENT_PRE_PSYNC`).
    pub pre_psync: bool,
}

impl ReplicaLink {
    /// How the log names it (Redis's `replicationGetSlaveName`): `ip:listening-port`.
    pub fn name(&self) -> String {
        let ip = self.ip.lock();
        let port = self.port.load(Ordering::Relaxed);
        let host = if ip.contains(':') {
            format!("[{ip}]")
        } else {
            ip.clone()
        };
        if port > 0 {
            format!("{host}:{port}")
        } else {
            format!("{host}:<unknown-replica-port>")
        }
    }
}

/// The replica side's view of its link (`master_link_status` and friends).
#[derive(Default)]
pub struct MasterLink {
    pub host: String,
    pub port: u16,
    /// connect, connecting, sync, connected (ROLE's words).
    pub state: &'static str,
    /// Unix ms of the last byte read from the primary.
    pub last_io_ms: i64,
    /// Unix ms the link went down (0: up, or never up).
    pub down_since_ms: i64,
    pub sync_in_progress: bool,
}

pub struct Replication {
    /// This server follows a primary (the gate reads it on every command).
    pub is_replica: AtomicBool,
    /// The link is up (a replica serving stale data, or not).
    pub link_up: AtomicBool,
    pub ids: Mutex<Ids>,
    pub backlog: Mutex<Backlog>,
    /// Signalled when the backlog grows (replica senders wait on it).
    pub fed: tokio::sync::Notify,
    /// Set by a sender about to look for bytes and then wait on `fed`: the stream's appends
    /// signal `fed` only then, not once per command (see [`start`]).
    pub want_fed: AtomicBool,
    /// Signalled when a replica acknowledges (WAIT waits on it).
    pub acked: tokio::sync::Notify,
    pub replicas: Mutex<Vec<Arc<ReplicaLink>>>,
    /// What REPLCONF told us before PSYNC, by client id: (listening-port, ip-address).
    pub handshakes: Mutex<std::collections::HashMap<u64, (u16, String)>>,
    pub master: Mutex<MasterLink>,
    /// Changed by every REPLICAOF: a link thread of an older generation stops.
    pub generation: AtomicU64,
    /// Bytes applied from the primary (`slave_read_repl_offset` = `slave_repl_offset` here).
    pub full_syncs: AtomicU64,
    pub partial_ok: AtomicU64,
    pub partial_err: AtomicU64,
}

impl Default for Replication {
    fn default() -> Self {
        Replication {
            is_replica: AtomicBool::new(false),
            link_up: AtomicBool::new(false),
            ids: Mutex::new(Ids {
                replid: random_hex(40),
                replid2: "0".repeat(40),
                second_offset: -1,
            }),
            backlog: Mutex::new(Backlog::default()),
            fed: tokio::sync::Notify::new(),
            want_fed: AtomicBool::new(false),
            acked: tokio::sync::Notify::new(),
            replicas: Mutex::new(Vec::new()),
            handshakes: Mutex::new(Default::default()),
            master: Mutex::new(MasterLink::default()),
            generation: AtomicU64::new(0),
            full_syncs: AtomicU64::new(0),
            partial_ok: AtomicU64::new(0),
            partial_err: AtomicU64::new(0),
        }
    }
}

/// Installs the backlog as the stream's second consumer and, with `replicaof` in the
/// configuration, starts following that primary.
pub fn start(shared: &'static Shared) {
    let _ = shared.stream.tap.set(Box::new(move |bytes| {
        let r = &shared.replication;
        // On a replica the backlog holds the primary's bytes, fed as they are applied.
        if r.is_replica.load(Ordering::Relaxed) {
            return;
        }
        let mut b = r.backlog.lock();
        if b.active {
            b.append(bytes);
            drop(b);
            // A sender sets `want_fed` before it looks at the backlog under its mutex, so
            // either it saw these bytes or this load sees its flag.
            if r.want_fed.load(Ordering::Relaxed) && r.want_fed.swap(false, Ordering::Relaxed) {
                r.fed.notify_waiters();
            }
        }
    }));
    let target = shared.config.read().repl.replicaof.clone();
    if let Some((host, port)) = target {
        set_primary(shared, Some((host, port)));
    }
}

/// Whether this server is a replica.
#[inline]
pub fn is_replica(shared: &Shared) -> bool {
    shared.replication.is_replica.load(Ordering::Relaxed)
}

/// Follows `host:port`, or (`None`) becomes a primary: REPLICAOF and the `replicaof` directive.
pub fn set_primary(shared: &'static Shared, target: Option<(String, u16)>) {
    let r = &shared.replication;
    let generation = r.generation.fetch_add(1, Ordering::AcqRel) + 1;
    disconnect_replicas(shared);
    match target {
        None => {
            if r.is_replica.swap(false, Ordering::AcqRel) {
                // Promotion: our own writes now feed the backlog through the stream, which
                // starts with a SELECT (the primary's last one is unknown to the stream).
                let mut locked = shared.store.lock_all();
                shared.stream.inner.lock().reselect();
                if !shared.stream.on() {
                    crate::propagate::log_expired(&mut locked, true);
                    shared.stream.set_on(true);
                }
                drop(locked);
                // The history so far stays valid under the old id for replicas that
                // followed the same primary (PSYNC2).
                let end = r.backlog.lock().end();
                let mut ids = r.ids.lock();
                ids.replid2 = std::mem::replace(&mut ids.replid, random_hex(40));
                ids.second_offset = end as i64 + 1;
                crate::notice!(
                    "MASTER MODE enabled (user request); new replication id {}, the old one valid up to offset {end}",
                    ids.replid
                );
            }
            usher_engine::db::REPLICA_READS.store(false, Ordering::Relaxed);
            r.link_up.store(false, Ordering::Relaxed);
            *r.master.lock() = MasterLink::default();
            shared.update_config(|c| c.repl.replicaof = None);
        }
        Some((host, port)) => {
            r.is_replica.store(true, Ordering::Release);
            usher_engine::db::REPLICA_READS.store(true, Ordering::Relaxed);
            let was_up = r.link_up.swap(false, Ordering::AcqRel);
            *r.master.lock() = MasterLink {
                host: host.clone(),
                port,
                state: "connect",
                // As Redis: a link dropped for a new primary counts as down from now.
                down_since_ms: if was_up { unix_ms() } else { 0 },
                ..Default::default()
            };
            shared.update_config(|c| c.repl.replicaof = Some((host.clone(), port)));
            crate::notice!("Connecting to MASTER {host}:{port}");
            replica::spawn(shared, host, port, generation);
        }
    }
}

/// Closes every replica connection (their ids change; they reconnect and resync).
pub fn disconnect_replicas(shared: &Shared) {
    let ids: Vec<u64> = shared
        .replication
        .replicas
        .lock()
        .iter()
        .map(|l| l.client_id)
        .collect();
    for id in ids {
        if let Some(c) = shared.clients.get(id) {
            c.request_kill();
        }
    }
}

/// Replicas whose last ACK is at most `min-replicas-max-lag` seconds old.
pub fn good_replicas(shared: &Shared, max_lag_s: u64) -> usize {
    let now = unix_ms();
    shared
        .replication
        .replicas
        .lock()
        .iter()
        .filter(|l| {
            l.state.load(Ordering::Relaxed) == 2
                && (now - l.ack_ms.load(Ordering::Relaxed)) / 1000 <= max_lag_s as i64
        })
        .count()
}

/// Replicas that acknowledged `offset` or more.
pub fn acked_at_least(shared: &Shared, offset: u64) -> usize {
    shared
        .replication
        .replicas
        .lock()
        .iter()
        .filter(|l| l.ack.load(Ordering::Relaxed) >= offset)
        .count()
}

/// The replication part of the dispatch gate: READONLY on a read-only replica, MASTERDOWN
/// while its link is down with `replica-serve-stale-data no`, NOREPLICAS on a primary short of
/// `min-replicas-to-write` good replicas. `None`: the command may run.
#[inline]
pub fn gate(s: &Session, flags: Flags) -> Option<&'static str> {
    let r = &s.shared.replication;
    let c = &s.hot.repl;
    if r.is_replica.load(Ordering::Relaxed) {
        if s.from_master {
            return None;
        }
        if flags.contains(Flags::WRITE) && c.replica_read_only {
            return Some(READONLY);
        }
        if !c.replica_serve_stale_data
            && !flags.contains(Flags::STALE)
            && !r.link_up.load(Ordering::Relaxed)
        {
            return Some(MASTERDOWN);
        }
        return None;
    }
    if c.min_replicas_to_write > 0
        && flags.contains(Flags::WRITE)
        && (good_replicas(s.shared, c.min_replicas_max_lag) as u64) < c.min_replicas_to_write
    {
        return Some(NOREPLICAS);
    }
    None
}

fn line(out: &mut String, key: &str, value: impl std::fmt::Display) {
    let _ = write!(out, "{key}:{value}\r\n");
}

/// INFO's replication section, every field Redis 7.0 prints.
pub fn info(shared: &Shared, out: &mut String) {
    let r = &shared.replication;
    let now = unix_ms();
    out.push_str("# Replication\r\n");
    let (start, end, histlen, active, size) = {
        let b = r.backlog.lock();
        (b.start(), b.end(), b.histlen(), b.active, b.size)
    };
    let c = shared.config.read();
    if r.is_replica.load(Ordering::Relaxed) {
        let m = r.master.lock();
        let up = r.link_up.load(Ordering::Relaxed);
        line(out, "role", "slave");
        line(out, "master_host", &m.host);
        line(out, "master_port", m.port);
        line(out, "master_link_status", if up { "up" } else { "down" });
        let io = if m.last_io_ms > 0 {
            (now - m.last_io_ms) / 1000
        } else {
            -1
        };
        line(out, "master_last_io_seconds_ago", io);
        line(out, "master_sync_in_progress", u8::from(m.sync_in_progress));
        line(out, "slave_read_repl_offset", end);
        line(out, "slave_repl_offset", end);
        if !up {
            let down = if m.down_since_ms > 0 {
                (now - m.down_since_ms) / 1000
            } else {
                -1
            };
            line(out, "master_link_down_since_seconds", down);
        }
        line(out, "slave_priority", c.repl.replica_priority);
        line(out, "slave_read_only", u8::from(c.repl.replica_read_only));
        line(out, "replica_announced", u8::from(c.repl.replica_announced));
    } else {
        line(out, "role", "master");
    }
    let replicas = r.replicas.lock();
    line(out, "connected_slaves", replicas.len());
    for (i, l) in replicas.iter().enumerate() {
        let state = match l.state.load(Ordering::Relaxed) {
            0 => "wait_bgsave",
            1 => "send_bulk",
            _ => "online",
        };
        let _ = write!(
            out,
            "slave{i}:ip={},port={},state={state},offset={},lag={}\r\n",
            l.ip.lock(),
            l.port.load(Ordering::Relaxed),
            l.ack.load(Ordering::Relaxed),
            (now - l.ack_ms.load(Ordering::Relaxed)).max(0) / 1000
        );
    }
    drop(replicas);
    if c.repl.min_replicas_to_write > 0 {
        line(
            out,
            "min_slaves_good_slaves",
            good_replicas(shared, c.repl.min_replicas_max_lag),
        );
    }
    drop(c);
    line(out, "master_failover_state", "no-failover");
    let ids = r.ids.lock();
    line(out, "master_replid", &ids.replid);
    line(out, "master_replid2", &ids.replid2);
    line(out, "master_repl_offset", end);
    line(out, "second_repl_offset", ids.second_offset);
    line(out, "repl_backlog_active", u8::from(active));
    line(out, "repl_backlog_size", size);
    line(
        out,
        "repl_backlog_first_byte_offset",
        if active { start + 1 } else { 0 },
    );
    line(out, "repl_backlog_histlen", histlen);
}

/// WAIT's waiting: until `count` replicas acknowledged `offset`, the deadline (Unix ms; 0:
/// none) passes, or the client is killed. Returns how many acknowledged.
pub async fn wait_acks(
    shared: &Shared,
    count: u64,
    offset: u64,
    deadline_ms: i64,
    client: &crate::client::ClientInfo,
) -> usize {
    let r = &shared.replication;
    loop {
        let acked = r.acked.notified();
        tokio::pin!(acked);
        acked.as_mut().enable();
        let n = acked_at_least(shared, offset);
        let now = unix_ms();
        if n as u64 >= count || (deadline_ms > 0 && now >= deadline_ms) || client.killed() {
            return n;
        }
        let left = if deadline_ms > 0 {
            (deadline_ms - now) as u64
        } else {
            1000
        };
        tokio::select! {
            _ = &mut acked => {}
            _ = client.wake.notified() => {}
            _ = tokio::time::sleep(std::time::Duration::from_millis(left.min(1000))) => {}
        }
    }
}

/// Work a command leaves to its connection (which can wait; handlers cannot).
pub enum Pending {
    /// WAIT: reply with the replicas that acknowledged `offset` once `count` have, or at
    /// `deadline_ms` (0: never).
    Wait {
        count: u64,
        offset: u64,
        deadline_ms: i64,
    },
    /// PSYNC / SYNC: the connection becomes this replica's feed.
    Sync(primary::SyncRequest),
}
