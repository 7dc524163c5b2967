//! The propagation stream: every change to the data, as the commands that replay it, in one
//! ordered byte stream (RESP, with SELECT where the database changes). The AOF writer
//! (`crate::persistence::aof`) drains it into files; replication's backlog
//! (`crate::replication`) copies the same bytes through [`Stream::tap`].
//!
//! ```text
//! run_engine(cmd) under its shard locks:
//!     handler runs; effects say dirty > 0, or a rewritten form, or pops served to waiters
//!     record(): lazily expired keys as DEL, then the command's effect form   → session.prop
//! before the command (or EXEC, or script) releases its locks:
//!     commit(): session.prop → stream (MULTI ... EXEC around more than one)  → offset
//! ```
//!
//! Order: two commands that conflict hold a common shard lock, and each appends while still
//! holding its locks, so the stream orders them as they ran. Commands that share no shard may
//! appear in either order; they commute. The stream's own mutex is held only to copy bytes.
//!
//! Replay is deterministic because what is logged is an effect, never a choice made at run
//! time (see `rewrite.rs`): relative TTLs become absolute, random pops become SREM, the
//! waiting room's clock is written down with `NOW`, scripts become the writes they made, and
//! expiry deletions are logged as DEL where they happened (a loader never expires anything).

mod pending;
mod rewrite;
pub mod wake;

pub use pending::Pending;

use crate::session::Session;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use usher_engine::command::{CommandSpec, EngineHandler};
use usher_engine::store::LockedShards;
use usher_persist::aof::encode_command;
use usher_protocol::Argv;

/// One logged command: its database and arguments.
pub type Entry = (usize, Vec<Vec<u8>>);

/// The ordered stream.
#[derive(Default)]
pub struct Stream {
    /// Whether commands are being logged at all (the AOF is on): one relaxed load per command
    /// when it is not.
    on: AtomicBool,
    pub inner: Mutex<Inner>,
    /// The writer's sleep and the workers' group-commit wake-ups (`wake.rs`).
    pub wake: wake::Wake,
    /// Bytes handed to the files and synced to disk, as stream offsets (for `appendfsync
    /// always`, a connection's replies wait until `synced` covers its last write).
    pub written: AtomicU64,
    pub synced: AtomicU64,
    /// A second consumer (replication's backlog, `crate::replication`): sees each append's
    /// bytes in stream order, under the stream's mutex.
    pub tap: std::sync::OnceLock<Tap>,
    /// Whether the AOF writer takes the bytes (a file is open, or one is to be switched to);
    /// changed only under `inner`'s mutex. While it is not (replication alone turned the
    /// stream on), an append only feeds the tap: nothing is kept for the writer, the writer
    /// is not woken and replies wait for nothing, as Redis's replies never wait for replicas.
    aof_takes: AtomicBool,
}

/// What [`Stream::tap`] calls with the bytes one append added.
pub type Tap = Box<dyn Fn(&[u8]) + Send + Sync>;

/// What the stream's mutex guards.
#[derive(Default)]
pub struct Inner {
    /// Bytes not yet taken by the writer.
    pub buf: Vec<u8>,
    /// The stream offset just past `buf`.
    pub end: u64,
    /// The database the stream last SELECTed (`None`: the next entry SELECTs).
    db: Option<usize>,
}

impl Inner {
    fn push(&mut self, entries: &Pending) {
        let start = self.buf.len();
        let wrap = entries.iter().len() > 1;
        if let Some((db, _)) = entries
            .iter()
            .next()
            .filter(|&(db, _)| wrap && self.db != Some(db))
        {
            // SELECT before MULTI, where Redis puts it.
            self.select(db);
        }
        if wrap {
            encode_command(&mut self.buf, &[b"MULTI"]);
        }
        for (db, bytes) in entries.iter() {
            if self.db != Some(db) {
                self.select(db);
            }
            self.buf.extend_from_slice(bytes);
        }
        if wrap {
            encode_command(&mut self.buf, &[b"EXEC"]);
        }
        self.end += (self.buf.len() - start) as u64;
    }

    /// The bytes [`Inner::push`] would append unchanged: one command in the database already
    /// selected (no SELECT, no MULTI/EXEC around it).
    fn unframed<'p>(&self, entries: &'p Pending) -> Option<&'p [u8]> {
        let mut it = entries.iter();
        match (it.next(), it.next()) {
            (Some((db, bytes)), None) if self.db == Some(db) => Some(bytes),
            _ => None,
        }
    }

    fn select(&mut self, db: usize) {
        let mut n = itoa::Buffer::new();
        encode_command(&mut self.buf, &[&b"SELECT"[..], n.format(db).as_bytes()]);
        self.db = Some(db);
    }

    /// Forgets the selected database: the next entry starts a new file, which must SELECT.
    pub fn reselect(&mut self) {
        self.db = None;
    }
}

impl Stream {
    #[inline]
    pub fn on(&self) -> bool {
        self.on.load(Ordering::Relaxed)
    }

    /// Turns logging on or off. Called with every shard locked, so no command is half logged.
    pub fn set_on(&self, on: bool) {
        self.on.store(on, Ordering::Release);
    }

    /// Whether the AOF writer takes the stream's bytes (see [`Stream::aof_takes`]'s field).
    #[inline]
    pub fn aof_takes(&self) -> bool {
        self.aof_takes.load(Ordering::Acquire)
    }

    /// Says whether the AOF writer takes the bytes; `held` is the stream's locked `inner`, so
    /// every append sees the change at one offset.
    pub fn set_aof_takes(&self, held: &mut Inner, takes: bool) {
        let _ = held;
        self.aof_takes.store(takes, Ordering::Release);
    }

    /// Appends entries (wrapped in MULTI/EXEC when more than one) and returns the stream's
    /// offset after them. The caller holds the shard locks of what they changed. The writer
    /// is not woken: a connection's turn does that once (`wake::turn_appended`).
    fn push(&self, entries: &Pending) -> u64 {
        let mut inner = self.inner.lock();
        if !self.aof_takes.load(Ordering::Relaxed) {
            // Replicas alone read the stream: bytes that need no framing go to the tap as
            // they were encoded, not copied through `buf` first.
            if let Some(bytes) = inner.unframed(entries) {
                if let Some(tap) = self.tap.get() {
                    tap(bytes);
                }
                inner.end += bytes.len() as u64;
                return inner.end;
            }
        }
        let start = inner.buf.len();
        inner.push(entries);
        if let Some(tap) = self.tap.get() {
            tap(&inner.buf[start..]);
        }
        if !self.aof_takes.load(Ordering::Relaxed) {
            inner.buf.truncate(start);
        }
        inner.end
    }

    /// Appends a job's entries (outside any connection's turn) and wakes the writer.
    pub fn append(&self, entries: &[Entry]) -> u64 {
        let mut pending = Pending::default();
        for (db, argv) in entries {
            pending.push_args(*db, argv);
        }
        self.append_pending(&pending)
    }

    fn append_pending(&self, pending: &Pending) -> u64 {
        let end = self.push(pending);
        self.kick();
        end
    }
}

/// Logs what the engine command that just ran changed, into the session's pending entries
/// (called under its locks, only while the stream is on).
pub fn record(
    s: &mut Session,
    spec: &CommandSpec<EngineHandler>,
    argv: Argv<'_>,
    locked: &mut LockedShards<'_>,
) {
    take_expired(locked, &mut s.prop);
    let effects = &mut s.effects;
    if effects.rewritten {
        effects.rewritten = false;
        s.prop.append(&mut effects.propagate);
    } else if effects.dirty > 0 {
        let db = s.db;
        rewrite::effect_of(spec.name, argv, db, s.now_ms, locked, &mut s.prop);
    }
    // Pops served to blocked clients by this command follow it.
    s.prop.append(&mut s.effects.propagate);
}

/// Moves what the pending entries of the current command (or EXEC, or script) into the
/// stream, still under their locks, and notes the offset the connection's replies wait for.
pub fn commit(s: &mut Session, locked: &mut LockedShards<'_>) {
    if !s.shared.stream.on() {
        s.prop.clear();
        return;
    }
    // Pops served to waiters after the last engine command ran (EXEC, retries).
    s.prop.append(&mut s.effects.propagate);
    take_expired(locked, &mut s.prop);
    if s.prop.is_empty() {
        return;
    }
    s.sync_to = s.shared.stream.push(&s.prop);
    s.prop.clear();
}

/// Logs what a job of the server's own (a queue policy's tick) changed under `locked`, before
/// the locks are released: keys its look-ups expired, then the entries it recorded in its
/// `Effects` (MULTI ... EXEC around more than one, so a replay applies a tick whole).
pub fn commit_job(stream: &Stream, locked: &mut LockedShards<'_>, entries: &mut Vec<Entry>) {
    if !stream.on() {
        entries.clear();
        return;
    }
    let mut all = Pending::default();
    take_expired(locked, &mut all);
    all.append(entries);
    if !all.is_empty() {
        stream.append_pending(&all);
    }
}

/// Keys lookups expired under these locks, as DEL (Redis propagates them the same way).
#[inline]
fn take_expired(locked: &mut LockedShards<'_>, into: &mut Pending) {
    // Nothing logged anywhere (nearly always): no walk over every database of the held shards.
    if usher_engine::db::expired_pending() {
        take_expired_walk(locked, into);
    }
}

#[cold]
#[inline(never)]
fn take_expired_walk(locked: &mut LockedShards<'_>, into: &mut Pending) {
    for shard in locked.iter_mut() {
        for (db, d) in shard.dbs.iter_mut().enumerate() {
            if let Some(keys) = d.take_expired() {
                for k in keys {
                    into.push_args(db, &[&b"DEL"[..], &k[..]]);
                }
            }
        }
    }
}

/// Turns logging of lazily expired keys on or off in every database of the held shards.
pub fn log_expired(locked: &mut LockedShards<'_>, on: bool) {
    for shard in locked.iter_mut() {
        shard.dbs.iter_mut().for_each(|d| d.log_expired(on));
    }
}
