//! What the rest of the server may see of a connection: its [`ClientInfo`] (for CLIENT LIST,
//! CLIENT KILL, INFO clients, and pub/sub delivery from other threads) and the registry of all
//! of them.
//!
//! A connection's own state (selected db, MULTI queue, ...) lives in its task
//! ([`crate::session::Session`]); only what other threads need is shared here, in atomics or
//! behind small locks, so the command path never takes a lock another connection contends.
//!
//! Pub/sub messages published on other threads land in the client's [`Outbox`]; the connection
//! task is woken to write them. The outbox is where `client-output-buffer-limit pubsub` is
//! enforced: a subscriber that cannot keep up is disconnected instead of growing memory.

use crate::config::OutputLimit;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{
    AtomicBool, AtomicI32, AtomicI64, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering,
};
use std::sync::Arc;
use std::time::Instant;
use usher_engine::block_queues::{Waiter, Wake};

/// Client flags shown by CLIENT LIST (`flags=`).
pub mod flag {
    pub const MULTI: u32 = 1 << 0;
    pub const PUBSUB: u32 = 1 << 1;
    pub const BLOCKED: u32 = 1 << 2;
    /// Shown from [`super::ClientInfo::watch_dirty`], which shards raise directly.
    pub const DIRTY_CAS: u32 = 1 << 3;
    pub const CLOSE_ASAP: u32 = 1 << 4;
    pub const NO_EVICT: u32 = 1 << 5;
    pub const MONITOR: u32 = 1 << 6;
    /// CLIENT NO-TOUCH ON (Redis 7.2's `T`).
    pub const NO_TOUCH: u32 = 1 << 7;
    /// A replica being fed by this server (CLIENT KILL TYPE replica).
    pub const REPLICA: u32 = 1 << 11;
    /// CLIENT TRACKING on (`t`), its redirect target gone (`R`), in BCAST mode (`B`): kept
    /// by [`crate::tracking::Tracking`] so CLIENT LIST shows what Redis shows.
    pub const TRACKING: u32 = 1 << 8;
    pub const TRACKING_BROKEN_REDIR: u32 = 1 << 9;
    pub const TRACKING_BCAST: u32 = 1 << 10;
}

/// Messages queued for a client by other threads.
#[derive(Default)]
pub struct Outbox {
    pub buf: Vec<u8>,
    /// When the buffer first went over the soft limit (cleared when it drops below).
    pub soft_since: Option<Instant>,
    /// Shard channels the server unsubscribed this client from (its node lost their slot):
    /// the connection removes them from its session and sends the `sunsubscribe`s.
    pub lost_shard_channels: Vec<Vec<u8>>,
}

pub struct ClientInfo {
    pub id: u64,
    pub addr: String,
    pub laddr: String,
    pub created_ms: i64,
    pub name: Mutex<Option<String>>,
    pub lib_name: Mutex<String>,
    pub lib_ver: Mutex<String>,
    pub last_active_ms: AtomicI64,
    pub db: AtomicUsize,
    /// Registry id of the last command (for `cmd=` in CLIENT LIST).
    pub last_cmd: AtomicU32,
    pub resp3: AtomicBool,
    pub flags: AtomicU32,
    pub subscriptions: AtomicUsize,
    pub pattern_subscriptions: AtomicUsize,
    pub shard_subscriptions: AtomicUsize,
    /// The socket's file descriptor (-1 for internal clients: the AOF loader).
    pub fd: AtomicI32,
    /// Commands queued in MULTI, or -1 outside MULTI.
    pub multi_len: AtomicI64,
    pub query_buf_bytes: AtomicUsize,
    /// Unused room in the query buffer (`qbuf-free`), the buffer's size (`rbs`) and the most
    /// it ever held (`rbp`).
    pub query_buf_free: AtomicUsize,
    pub read_buf_size: AtomicUsize,
    pub read_buf_peak: AtomicUsize,
    /// Bytes of the commands queued in MULTI (`multi-mem`).
    pub multi_mem: AtomicUsize,
    /// Replies produced and not yet written to the socket (part of `omem`).
    pub reply_bytes: AtomicUsize,
    /// What this client last added to [`ClientRegistry::memory`] (`maxmemory-clients`).
    pub memory_counted: AtomicUsize,
    pub kill: AtomicBool,
    /// [`Outbox::lost_shard_channels`] is not empty (one load per connection turn).
    pub lost_pending: AtomicBool,
    /// Wakes the connection task: a kill request or messages in the outbox.
    pub wake: crate::signal::Signal,
    pub outbox: Mutex<Outbox>,
    pub authenticated_user: Mutex<String>,
    /// The waiter while the client is blocked (BLPOP and friends), for CLIENT UNBLOCK.
    pub blocked_waiter: Mutex<Option<Arc<Waiter>>>,
    /// A pending CLIENT UNBLOCK: 0 none, [`UNBLOCK_TIMEOUT`], [`UNBLOCK_ERROR`] or
    /// [`UNBLOCK_REDIRECT`].
    pub unblock: AtomicU8,
    /// The session's WATCH flag (Redis's `CLIENT_DIRTY_CAS`): shards raise it when a
    /// watched key changes; shared here so CLIENT LIST can show `d`.
    pub watch_dirty: usher_engine::shard::WatchFlag,
}

/// CLIENT UNBLOCK ... TIMEOUT: reply as if the timeout expired.
pub const UNBLOCK_TIMEOUT: u8 = 1;
/// CLIENT UNBLOCK ... ERROR: reply `-UNBLOCKED`.
pub const UNBLOCK_ERROR: u8 = 2;
/// Cluster mode: the slot of the client's keys is no longer served here (a slot moved):
/// reply `-MOVED` (or `-CLUSTERDOWN`), as Redis's `clusterRedirectBlockedClientIfNeeded`.
pub const UNBLOCK_REDIRECT: u8 = 3;

impl Wake for ClientInfo {
    fn wake(&self) {
        self.wake.notify_one();
    }
}

impl ClientInfo {
    pub fn new(id: u64, addr: String, laddr: String, now_ms: i64) -> Self {
        ClientInfo {
            id,
            addr,
            laddr,
            created_ms: now_ms,
            name: Mutex::new(None),
            lib_name: Mutex::new(String::new()),
            lib_ver: Mutex::new(String::new()),
            last_active_ms: AtomicI64::new(now_ms),
            db: AtomicUsize::new(0),
            last_cmd: AtomicU32::new(u32::MAX),
            resp3: AtomicBool::new(false),
            flags: AtomicU32::new(0),
            subscriptions: AtomicUsize::new(0),
            pattern_subscriptions: AtomicUsize::new(0),
            shard_subscriptions: AtomicUsize::new(0),
            fd: AtomicI32::new(-1),
            multi_len: AtomicI64::new(-1),
            query_buf_bytes: AtomicUsize::new(0),
            query_buf_free: AtomicUsize::new(0),
            read_buf_size: AtomicUsize::new(0),
            read_buf_peak: AtomicUsize::new(0),
            multi_mem: AtomicUsize::new(0),
            reply_bytes: AtomicUsize::new(0),
            memory_counted: AtomicUsize::new(0),
            lost_pending: AtomicBool::new(false),
            kill: AtomicBool::new(false),
            wake: crate::signal::Signal::new(),
            outbox: Mutex::new(Outbox::default()),
            authenticated_user: Mutex::new("default".into()),
            blocked_waiter: Mutex::new(None),
            unblock: AtomicU8::new(0),
            watch_dirty: Arc::new(AtomicBool::new(false)),
        }
    }

    pub fn set_flag(&self, f: u32, on: bool) {
        if on {
            self.flags.fetch_or(f, Ordering::Relaxed);
        } else {
            self.flags.fetch_and(!f, Ordering::Relaxed);
        }
    }

    pub fn has_flag(&self, f: u32) -> bool {
        self.flags.load(Ordering::Relaxed) & f != 0
    }

    /// Asks the connection to close as soon as its task runs.
    pub fn request_kill(&self) {
        self.kill.store(true, Ordering::Release);
        self.wake.notify_one();
    }

    pub fn killed(&self) -> bool {
        self.kill.load(Ordering::Acquire)
    }

    /// Queues an encoded message (pub/sub) for the connection, enforcing `limit`. Returns false
    /// if the client was scheduled to close for overrunning its output buffer.
    pub fn deliver(&self, message: &[u8], limit: &OutputLimit) -> bool {
        // A client on its way out (cut off, killed) gets nothing more: its connection task
        // unsubscribes it as it closes.
        if self.killed() {
            return false;
        }
        let over = {
            let mut outbox = self.outbox.lock();
            outbox.buf.extend_from_slice(message);
            let len = outbox.buf.len() as u64;
            if limit.exceeded(len, &mut outbox.soft_since) {
                // Drop what is queued: the client is going away and memory must come back now.
                outbox.buf = Vec::new();
                true
            } else {
                false
            }
        };
        if over {
            self.close_for_output_limit();
            return false;
        }
        self.wake.notify_one();
        true
    }

    /// Closes the client for overrunning its output buffer limit, as Redis logs it.
    pub fn close_for_output_limit(&self) {
        crate::notice!(
            "Client id={} addr={} closed for overcoming of output buffer limits.",
            self.id,
            self.addr
        );
        self.set_flag(flag::CLOSE_ASAP, true);
        self.request_kill();
    }

    /// The server dropped shard channel `channel` (its slot left this node): tells the
    /// connection, which unsubscribes its session and confirms with `sunsubscribe`.
    pub fn lose_shard_channel(&self, channel: &[u8]) {
        self.outbox
            .lock()
            .lost_shard_channels
            .push(channel.to_vec());
        self.lost_pending.store(true, Ordering::Release);
        self.wake.notify_one();
    }

    /// The shard channels dropped since the last call, in the order they were dropped.
    pub fn take_lost_shard_channels(&self) -> Vec<Vec<u8>> {
        self.lost_pending.store(false, Ordering::Release);
        std::mem::take(&mut self.outbox.lock().lost_shard_channels)
    }

    /// Moves queued messages into `out`.
    pub fn drain_outbox(&self, out: &mut Vec<u8>) {
        let mut outbox = self.outbox.lock();
        if !outbox.buf.is_empty() {
            out.extend_from_slice(&outbox.buf);
            outbox.buf.clear();
            outbox.soft_since = None;
            if outbox.buf.capacity() > 1 << 20 {
                outbox.buf = Vec::new();
            }
        }
    }

    pub fn name(&self) -> String {
        self.name.lock().clone().unwrap_or_default()
    }

    /// Output waiting for the socket: replies not yet written and queued pub/sub messages
    /// (CLIENT LIST's `omem`).
    pub fn output_bytes(&self) -> usize {
        self.reply_bytes.load(Ordering::Relaxed) + self.outbox.lock().buf.len()
    }

    /// The memory this client holds, as `maxmemory-clients` and CLIENT LIST's `tot-mem`
    /// count it: its query buffer, its pending output, its queued MULTI and its own struct.
    pub fn memory(&self) -> usize {
        std::mem::size_of::<ClientInfo>()
            + self.read_buf_size.load(Ordering::Relaxed)
            + self.output_bytes()
            + self.multi_mem.load(Ordering::Relaxed)
    }

    /// The `flags=` field of CLIENT LIST, letters in Redis's order.
    pub fn flag_letters(&self) -> String {
        let mut f = self.flags.load(Ordering::Relaxed);
        if self.watch_dirty.load(Ordering::Acquire) {
            f |= flag::DIRTY_CAS;
        }
        let mut s = String::new();
        for (bit, letter) in [
            (flag::REPLICA, 'S'),
            (flag::MONITOR, 'O'),
            (flag::PUBSUB, 'P'),
            (flag::MULTI, 'x'),
            (flag::BLOCKED, 'b'),
            (flag::TRACKING, 't'),
            (flag::TRACKING_BROKEN_REDIR, 'R'),
            (flag::TRACKING_BCAST, 'B'),
            (flag::DIRTY_CAS, 'd'),
            (flag::CLOSE_ASAP, 'A'),
            (flag::NO_EVICT, 'e'),
            (flag::NO_TOUCH, 'T'),
        ] {
            if f & bit != 0 {
                s.push(letter);
            }
        }
        if s.is_empty() {
            s.push('N');
        }
        s
    }
}

const REGISTRY_SHARDS: usize = 16;

/// All connected clients, by id. Touched on connect, disconnect, CLIENT LIST/KILL and INFO,
/// never on the command path.
pub struct ClientRegistry {
    shards: [Mutex<HashMap<u64, Arc<ClientInfo>>>; REGISTRY_SHARDS],
    count: AtomicUsize,
    /// The clients' memory as last counted by each (only while `maxmemory-clients` is set).
    pub memory: AtomicUsize,
    next_id: AtomicU64,
}

impl Default for ClientRegistry {
    fn default() -> Self {
        ClientRegistry {
            shards: Default::default(),
            count: AtomicUsize::new(0),
            memory: AtomicUsize::new(0),
            next_id: AtomicU64::new(1),
        }
    }
}

impl ClientRegistry {
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Registers a client unless `maxclients` are already connected.
    pub fn try_register(&self, client: Arc<ClientInfo>, maxclients: usize) -> bool {
        if self.count.fetch_add(1, Ordering::AcqRel) >= maxclients {
            self.count.fetch_sub(1, Ordering::AcqRel);
            return false;
        }
        self.shards[client.id as usize % REGISTRY_SHARDS]
            .lock()
            .insert(client.id, client);
        true
    }

    pub fn unregister(&self, id: u64) {
        let removed = self.shards[id as usize % REGISTRY_SHARDS]
            .lock()
            .remove(&id);
        if let Some(client) = removed {
            self.count.fetch_sub(1, Ordering::AcqRel);
            let counted = client.memory_counted.swap(0, Ordering::Relaxed);
            self.memory.fetch_sub(counted, Ordering::Relaxed);
        }
    }

    pub fn count(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }

    /// The client with `id`, if connected.
    pub fn get(&self, id: u64) -> Option<Arc<ClientInfo>> {
        self.shards[id as usize % REGISTRY_SHARDS]
            .lock()
            .get(&id)
            .cloned()
    }

    /// Every client, ordered by id (as CLIENT LIST prints them).
    pub fn all(&self) -> Vec<Arc<ClientInfo>> {
        let mut all: Vec<_> = self
            .shards
            .iter()
            .flat_map(|s| s.lock().values().cloned().collect::<Vec<_>>())
            .collect();
        all.sort_by_key(|c| c.id);
        all
    }
}
