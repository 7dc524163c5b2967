//! The append-only file, in Redis 7.0's multi-part layout: `dir/appenddirname/` holds a base
//! (an RDB with `aof-base`), incremental files of RESP commands, and the manifest naming them.
//!
//! - **Writing.** Commands reach the propagation stream (`crate::propagate`) under their shard
//!   locks; [`write_out`] moves the stream's bytes into the current incremental file.
//!   Each worker writes its turn's bytes itself at the end of the turn (`propagate::wake`,
//!   [`turn_end`]). `appendfsync always`: it then `fdatasync`s and publishes the synced
//!   offset; a connection holds its replies until the offset of its last write is covered, so
//!   one fsync serves every client of the turn, and of other threads that wrote before it
//!   (group commit). `everysec`: the writer thread fsyncs once a second.
//!   A failed write or fsync keeps what was not written, refuses writes (`-MISCONF`, see
//!   `crate::persistence::disk_error`) and is retried every 100 ms.
//! - **Rewriting** (BGREWRITEAOF, auto-aof-rewrite-*, `CONFIG SET appendonly yes`), fork-less:
//!   a new incremental file is created, then, under every shard lock for an instant, the
//!   stream is told to switch to it at its current offset and every shard is marked as owing
//!   an image. A background thread then takes the shards one at a time; any thread that locks
//!   an owing shard first (a command, the cron) serializes it itself, before touching it
//!   (`Store::set_capture`). So every shard's image is its state at the switch, and the base
//!   plus the new incremental file replay exactly. Nothing is copied: images stream into the
//!   file. The stall a command can see is one shard's serialization, as with BGSAVE.
//! - **Loading**: base (RDB, or RESP), then each incremental file, with nothing expiring
//!   (expiries are logged as DEL) and the waiting room's clock check off (replayed NOWs are
//!   old). A torn tail of the last file is cut off when `aof-load-truncated` is yes; anything
//!   else that is not a command stops start-up, naming the file and offset.

use crate::config::AppendFsync;
use crate::session::Session;
use crate::shared::{unix_ms, Shared};
use parking_lot::Mutex;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, Ordering};
use std::time::{Duration, Instant};
use usher_persist::aof::{self, AofFile, FileType, Manifest, ReadError};
use usher_persist::rdb::{Aux, WriteOptions};
use usher_persist::snapshot::ImageFile;
use usher_protocol::{Argv, RespWriter};

/// State shown by INFO and used by the writer and rewrites.
pub struct Aof {
    /// `aof_enabled`: the stream is being written to an incremental file.
    pub enabled: AtomicBool,
    pub rewrite_in_progress: AtomicBool,
    pub rewrite_scheduled: AtomicBool,
    pub last_bgrewrite_ok: AtomicBool,
    pub last_write_ok: AtomicBool,
    /// The OS error of the last failed write or fsync (for `-MISCONF` and the log).
    last_write_errno: std::sync::atomic::AtomicI32,
    pub last_rewrite_time_sec: AtomicI64,
    pub rewrites: AtomicU64,
    pub consecutive_failures: AtomicU64,
    rewrite_started: Mutex<Option<Instant>>,
    /// Bytes of base plus incremental files (`aof_current_size`).
    pub current_size: AtomicU64,
    /// `aof_current_size` after the last rewrite or start-up (`aof_base_size`): the
    /// reference for auto-aof-rewrite-percentage.
    pub base_size: AtomicU64,
    /// `appendfsync`, as the writer and connections read it (0 always, 1 everysec, 2 no).
    fsync: AtomicU8,
    pub delayed_fsync: AtomicU64,
    /// Bytes were written since the last fsync (by the writer or a worker).
    unsynced: AtomicBool,
    /// The manifest in force and the folder it lives in.
    files: Mutex<Option<(PathBuf, Manifest)>>,
    /// The file the writer appends to, and where in the stream it switches to the next one.
    target: Mutex<Target>,
    /// The base being written by a rewrite; shards owing an image are serialized into it.
    image: Mutex<Option<ImageFile>>,
    image_error: Mutex<Option<String>>,
    write_options: Mutex<Option<WriteOptions>>,
    /// Serializes rewrites and turning the AOF on or off.
    switching: Mutex<()>,
    /// Whether the running rewrite keeps a log after its base (the AOF is or turns on).
    rewrite_logs: Mutex<bool>,
}

/// Where the writer puts the stream's bytes.
#[derive(Default)]
struct Target {
    file: Option<File>,
    /// Bytes a failed write left unwritten, written before anything newer.
    retry: Vec<u8>,
    /// From this stream offset on, bytes go to `next` (`None` in `next`: nowhere, AOF off).
    switch: Option<(u64, Option<File>)>,
}

impl Default for Aof {
    fn default() -> Self {
        Aof {
            enabled: AtomicBool::new(false),
            rewrite_in_progress: AtomicBool::new(false),
            rewrite_scheduled: AtomicBool::new(false),
            last_bgrewrite_ok: AtomicBool::new(true),
            last_write_ok: AtomicBool::new(true),
            last_write_errno: std::sync::atomic::AtomicI32::new(0),
            last_rewrite_time_sec: AtomicI64::new(-1),
            rewrites: AtomicU64::new(0),
            consecutive_failures: AtomicU64::new(0),
            rewrite_started: Mutex::new(None),
            current_size: AtomicU64::new(0),
            base_size: AtomicU64::new(0),
            fsync: AtomicU8::new(1),
            delayed_fsync: AtomicU64::new(0),
            unsynced: AtomicBool::new(false),
            files: Mutex::new(None),
            target: Mutex::new(Target::default()),
            image: Mutex::new(None),
            image_error: Mutex::new(None),
            write_options: Mutex::new(None),
            switching: Mutex::new(()),
            rewrite_logs: Mutex::new(false),
        }
    }
}

fn fsync_code(f: AppendFsync) -> u8 {
    match f {
        AppendFsync::Always => 0,
        AppendFsync::Everysec => 1,
        AppendFsync::No => 2,
    }
}

/// Follows `CONFIG SET appendfsync`.
pub fn set_fsync(shared: &Shared, f: AppendFsync) {
    shared.aof.fsync.store(fsync_code(f), Ordering::Relaxed);
    // Connections waiting under `always` may go now.
    shared.stream.wake.all();
}

/// `dir/appenddirname`.
pub fn aof_dir(shared: &Shared) -> PathBuf {
    let c = shared.config.read();
    PathBuf::from(&c.dir).join(&c.appenddirname)
}

fn base_name(prefix: &str, seq: u64) -> String {
    format!("{prefix}.{seq}.base.rdb")
}

fn incr_name(prefix: &str, seq: u64) -> String {
    format!("{prefix}.{seq}.incr.aof")
}

/// Writes the manifest atomically (temp file, fsync, rename, fsync the folder).
fn write_manifest(dir: &Path, prefix: &str, m: &Manifest) -> std::io::Result<()> {
    let tmp = dir.join(format!("temp-{prefix}.manifest"));
    let mut f = File::create(&tmp)?;
    f.write_all(m.render().as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, dir.join(format!("{prefix}.manifest")))?;
    File::open(dir)?.sync_all()
}

fn manifest_path(shared: &Shared) -> PathBuf {
    let name = shared.config.read().appendfilename.clone();
    aof_dir(shared).join(format!("{name}.manifest"))
}

/// Whether an AOF exists to load (its manifest does).
pub fn exists(shared: &Shared) -> bool {
    manifest_path(shared).is_file()
}

fn files_size(dir: &Path, m: &Manifest) -> u64 {
    m.load_order()
        .filter_map(|f| std::fs::metadata(dir.join(&f.name)).ok())
        .map(|md| md.len())
        .sum()
}

fn open_append(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// Starts the writer thread (once, at start-up) and installs the shard-image hook.
pub fn start(shared: &'static Shared) {
    set_fsync(shared, shared.config.read().appendfsync);
    shared.store.set_capture(Box::new(move |_idx, shard| {
        let o = *shared.aof.write_options.lock();
        let mut image = shared.aof.image.lock();
        if let (Some(img), Some(o)) = (image.as_mut(), o) {
            if let Err(e) = img.write_shard(shard, o) {
                *shared.aof.image_error.lock() = Some(e.to_string());
            }
        }
    }));
    let _ = std::thread::Builder::new()
        .name("usher-aof".into())
        .spawn(move || writer(shared));
}

/// The writer thread: writes whatever no worker wrote at the end of its turn (every byte under
/// `appendfsync always`, jobs' appends, a kick from `drain`), and syncs as `appendfsync` says.
fn writer(shared: &'static Shared) {
    let stream = &shared.stream;
    let aof = &shared.aof;
    let mut last_sync = Instant::now();
    // Whether the last fsync failed: writes stay refused until one succeeds.
    let mut sync_failed = false;
    let mut failing_since: Option<Instant> = None;
    let mut last_logged: Option<Instant> = None;
    loop {
        {
            let mut inner = stream.inner.lock();
            if inner.buf.is_empty() {
                stream
                    .wake
                    .writer_wait(&mut inner, Duration::from_millis(100));
            }
        }
        let wrote = write_out(shared);
        let mode = aof.fsync.load(Ordering::Relaxed);
        let due = aof.unsynced.load(Ordering::SeqCst)
            && match mode {
                0 => true,
                1 => sync_failed || last_sync.elapsed() >= Duration::from_secs(1),
                _ => false,
            };
        if (due && wrote) || shared.shutdown.requested() {
            sync_failed = !sync(shared);
            last_sync = Instant::now();
        }
        if wrote && !sync_failed {
            if failing_since.take().is_some() {
                crate::warning!("AOF write error looks solved, Redis can write again.");
            }
            aof.last_write_ok.store(true, Ordering::Relaxed);
            let done = if mode == 0 {
                &stream.synced
            } else {
                &stream.written
            };
            stream.wake.synced(done.load(Ordering::SeqCst));
        } else {
            aof.last_write_ok.store(false, Ordering::Relaxed);
            failing_since.get_or_insert_with(Instant::now);
            // Redis's AOF_WRITE_LOG_ERROR_RATE: one line every 30 seconds while it lasts.
            if last_logged.is_none_or(|t| t.elapsed() >= Duration::from_secs(30)) {
                let what = if wrote { "fsync-ing" } else { "writing to" };
                let err = write_error(shared).unwrap_or_default();
                crate::warning!(
                    "Error {what} the AOF file: {err}; writes are refused until it succeeds"
                );
                last_logged = Some(Instant::now());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// The text of the AOF's last write or fsync error while writes are refused for it (the AOF is
/// on and its last write or fsync failed), else `None`.
pub fn write_error(shared: &Shared) -> Option<String> {
    let aof = &shared.aof;
    if aof.last_write_ok.load(Ordering::Relaxed) || !aof.enabled.load(Ordering::Relaxed) {
        return None;
    }
    let errno = aof.last_write_errno.load(Ordering::Relaxed);
    Some(usher_protocol::errors::strerror(
        &std::io::Error::from_raw_os_error(errno),
    ))
}

fn note_error(shared: &Shared, e: &std::io::Error) {
    let aof = &shared.aof;
    aof.last_write_errno
        .store(e.raw_os_error().unwrap_or(5), Ordering::Relaxed);
    aof.last_write_ok.store(false, Ordering::Relaxed);
}

/// A worker's end of a turn in which its connections appended: it writes the stream's bytes
/// itself and, under `appendfsync always`, fsyncs them, as Redis's one thread writes and
/// fsyncs its AOF buffer in `beforeSleep` before the turn's replies leave. One fsync then
/// covers every client of the turn (of every thread, for what they appended before it), with
/// no hand-off to the writer thread and back (a futex wake each way per batch, and a batch
/// that started its fsync on whatever had arrived: one fsync per 20 commands where Redis's
/// turn holds 44). Workers of other threads whose waiters it covered are woken. The writer
/// thread still takes the server's own jobs' appends and retries a failed write or fsync.
pub fn turn_end(shared: &Shared) {
    let wrote = write_out(shared);
    let aof = &shared.aof;
    if wrote && aof.fsync.load(Ordering::Relaxed) == 0 && aof.unsynced.load(Ordering::SeqCst) {
        if sync(shared) {
            aof.last_write_ok.store(true, Ordering::Relaxed);
        }
        shared
            .stream
            .wake
            .synced(shared.stream.synced.load(Ordering::SeqCst));
    }
}

/// Takes the stream's unwritten bytes and writes them to the current file (switching files
/// where a rewrite asked), then publishes `written` (and, unless `always`, `synced`). Called by
/// the writer thread and, under `everysec` and `no`, by a worker's dispatcher at the end of
/// its turn, as Redis writes its AOF buffer in `beforeSleep`: the turn's replies then leave
/// with no hand-off to another thread and back. The target's mutex is taken before the
/// stream's is released, so chunks reach the file in stream order whoever writes them, and
/// whoever gets the target's mutex finds every byte taken before it written. Returns false on
/// a write error; what was not written is kept and written first next time, so a failed write
/// loses nothing and duplicates nothing.
pub fn write_out(shared: &Shared) -> bool {
    let stream = &shared.stream;
    let aof = &shared.aof;
    let mut inner = stream.inner.lock();
    let bytes = std::mem::take(&mut inner.buf);
    let end = inner.end;
    let mut target = aof.target.lock();
    drop(inner);
    let start = end - bytes.len() as u64;
    let mut rest: &[u8] = &bytes;
    let mut ok = true;
    let mut switched = false;
    if let Some((at, _)) = target.switch.as_ref() {
        if *at <= end {
            let split = at.saturating_sub(start) as usize;
            let (old, new) = rest.split_at(split.min(rest.len()));
            let retry = std::mem::take(&mut target.retry);
            if let Some(f) = target.file.as_mut() {
                let done = f.write_all(&retry).and_then(|()| f.write_all(old));
                if let Err(e) = done.and_then(|()| f.sync_data()) {
                    note_error(shared, &e);
                    ok = false;
                }
            }
            let (_, next) = target.switch.take().expect("checked");
            target.file = next;
            rest = new;
            switched = true;
        }
    }
    let Target { file, retry, .. } = &mut *target;
    if let Some(f) = file
        .as_mut()
        .filter(|_| !retry.is_empty() || !rest.is_empty())
    {
        if !retry.is_empty() {
            retry.extend_from_slice(rest);
            rest = &[];
            let mut done = 0;
            if let Err(e) = write_from(f, retry, &mut done) {
                note_error(shared, &e);
                ok = false;
            }
            retry.drain(..done);
        }
        if !rest.is_empty() {
            let mut done = 0;
            if let Err(e) = write_from(f, rest, &mut done) {
                note_error(shared, &e);
                ok = false;
                retry.extend_from_slice(&rest[done..]);
            }
        }
        aof.unsynced.store(true, Ordering::SeqCst);
    }
    if ok {
        stream.written.store(end, Ordering::SeqCst);
        if aof.fsync.load(Ordering::Relaxed) != 0 {
            stream.synced.store(end, Ordering::SeqCst);
        }
    }
    drop(target);
    if switched {
        // The stream's mutex comes before the target's (as in `start_rewrite`).
        let mut inner = stream.inner.lock();
        let t = aof.target.lock();
        let takes = t.file.is_some() || t.switch.is_some();
        drop(t);
        stream.set_aof_takes(&mut inner, takes);
    }
    if !bytes.is_empty() {
        aof.current_size
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
    }
    ok
}

/// Writes `buf[*done..]`, counting what was written in `done` even when a write fails part way.
fn write_from(f: &mut File, buf: &[u8], done: &mut usize) -> std::io::Result<()> {
    while *done < buf.len() {
        match f.write(&buf[*done..]) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => *done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Fsyncs what is written, through a copy of the file's handle, so workers keep writing the
/// file meanwhile; publishes the synced offset. An fsync covers every byte written before the
/// copy was taken.
fn sync(shared: &Shared) -> bool {
    let stream = &shared.stream;
    let (file, covered) = {
        let target = shared.aof.target.lock();
        shared.aof.unsynced.store(false, Ordering::SeqCst);
        let file = target.file.as_ref().map(File::try_clone).transpose();
        (file, stream.written.load(Ordering::SeqCst))
    };
    let synced = match file {
        Ok(Some(f)) => f.sync_data(),
        Ok(None) => Ok(()),
        Err(e) => Err(e),
    };
    if let Err(e) = &synced {
        note_error(shared, e);
    }
    let ok = synced.is_ok();
    if ok {
        stream.synced.fetch_max(covered, Ordering::SeqCst);
    } else {
        shared.aof.unsynced.store(true, Ordering::SeqCst);
    }
    ok
}

/// Whether a connection whose last write ends at stream offset `to` may send its replies:
/// under `appendfsync always` once the AOF has `to` on disk, otherwise once it is written to
/// the file (as Redis writes its AOF buffer before it sends the turn's replies, so a `kill -9`
/// loses no acknowledged write).
pub fn sync_covers(shared: &Shared, to: u64) -> bool {
    let stream = &shared.stream;
    let done = if shared.aof.fsync.load(Ordering::Relaxed) == 0 {
        &stream.synced
    } else {
        &stream.written
    };
    done.load(Ordering::SeqCst) >= to || !stream.on() || !stream.aof_takes()
}

/// Waits (in a plain thread) until everything appended so far is written and synced.
pub fn drain(shared: &Shared) {
    let end = shared.stream.inner.lock().end;
    let since = Instant::now();
    while shared.stream.written.load(Ordering::Acquire) < end
        && since.elapsed() < Duration::from_secs(10)
    {
        shared.stream.kick();
        std::thread::sleep(Duration::from_millis(1));
    }
    if let Some(f) = shared.aof.target.lock().file.as_mut() {
        let _ = f.sync_data();
    }
}

/// Start-up with `appendonly yes`, after loading: keeps appending to the last incremental
/// file of an existing AOF, or creates one (base from the loaded data, as Redis 7.0 does).
pub fn open_at_startup(shared: &'static Shared) -> Result<(), String> {
    let dir = aof_dir(shared);
    let prefix = shared.config.read().appendfilename.clone();
    let existing = std::fs::read(manifest_path(shared))
        .ok()
        .map(|b| Manifest::parse(&b))
        .transpose()
        .map_err(|e| format!("Bad AOF manifest: {e}"))?;
    let Some(mut m) = existing else {
        return rewrite_now(shared);
    };
    if m.incrs.is_empty() {
        let seq = m.next_incr_seq();
        m.incrs.push(AofFile {
            name: incr_name(&prefix, seq),
            seq,
            kind: FileType::Incr,
        });
        write_manifest(&dir, &prefix, &m).map_err(|e| e.to_string())?;
    }
    let last = m.incrs.last().expect("one incr").name.clone();
    let file = open_append(&dir.join(&last)).map_err(|e| format!("Can't open {last}: {e}"))?;
    let size = files_size(&dir, &m);
    shared.aof.current_size.store(size, Ordering::Relaxed);
    shared.aof.base_size.store(size, Ordering::Relaxed);
    *shared.aof.files.lock() = Some((dir, m));
    let mut locked = shared.store.lock_all();
    let mut inner = shared.stream.inner.lock();
    inner.reselect();
    shared.aof.target.lock().file = Some(file);
    shared.stream.set_aof_takes(&mut inner, true);
    shared.stream.written.store(inner.end, Ordering::Release);
    shared.stream.synced.store(inner.end, Ordering::Release);
    drop(inner);
    crate::propagate::log_expired(&mut locked, true);
    shared.stream.set_on(true);
    shared.aof.enabled.store(true, Ordering::Release);
    Ok(())
}

/// Writes a base from the data now in memory while nothing else runs (start-up).
fn rewrite_now(shared: &'static Shared) -> Result<(), String> {
    start_rewrite(shared, true).map_err(|e| format!("Creating the AOF failed: {e}"))?;
    finish_rewrite(shared).map_err(|e| format!("Creating the AOF failed: {e}"))
}

/// Redis's reply to a second BGREWRITEAOF.
pub const REWRITE_IN_PROGRESS: &str =
    "ERR Background append only file rewriting already in progress";

/// BGREWRITEAOF: `Err` with Redis's text when one is running. With the AOF off it writes a
/// base only and logging stays off, as Redis 7.0 does; `log` turns logging on.
pub fn bgrewrite(shared: &'static Shared, log: bool) -> Result<(), String> {
    if shared.aof.rewrite_in_progress.load(Ordering::Acquire) {
        return Err(REWRITE_IN_PROGRESS.into());
    }
    let log = log || shared.aof.enabled.load(Ordering::Acquire);
    start_rewrite(shared, log).map_err(|e| format!("ERR Can't rewrite append only file: {e}"))?;
    crate::notice!("Background append only file rewriting started");
    let spawned = std::thread::Builder::new()
        .name("usher-aofrw".into())
        .spawn(move || {
            if let Err(e) = finish_rewrite(shared) {
                crate::warning!("Background AOF rewrite failed: {e}");
            }
        });
    spawned.map(|_| ()).map_err(|e| e.to_string())
}

/// The instant part of a rewrite: a new incremental file, the stream's switch to it, and
/// every shard marked as owing its image.
fn start_rewrite(shared: &'static Shared, log: bool) -> std::io::Result<()> {
    let aof = &shared.aof;
    if aof.rewrite_in_progress.swap(true, Ordering::AcqRel) {
        return Err(std::io::Error::other("a rewrite is already in progress"));
    }
    let result = (|| {
        let dir = aof_dir(shared);
        std::fs::create_dir_all(&dir)?;
        let prefix = shared.config.read().appendfilename.clone();
        let mut files = aof.files.lock();
        let mut m = match files.as_ref() {
            Some((_, m)) => m.clone(),
            None => std::fs::read(dir.join(format!("{prefix}.manifest")))
                .ok()
                .and_then(|b| Manifest::parse(&b).ok())
                .unwrap_or_default(),
        };
        let mut file = None;
        if log {
            let seq = m.next_incr_seq();
            let incr = incr_name(&prefix, seq);
            file = Some(open_append(&dir.join(&incr))?);
            m.incrs.push(AofFile {
                name: incr,
                seq,
                kind: FileType::Incr,
            });
            // Lists the new (empty) incremental file before anything is written to it: a
            // crash from here on replays the old files and then this one.
            if m.base.is_some() {
                write_manifest(&dir, &prefix, &m)?;
            }
        }
        *aof.rewrite_logs.lock() = log;
        *files = Some((dir.clone(), m));
        drop(files);
        let tmp = dir.join(format!("temp-rewriteaof-bg-{}.aof", std::process::id()));
        let aux = Aux {
            ctime_s: unix_ms() / 1000,
            used_mem: crate::memory::used_bytes(),
            aof_base: true,
        };
        *aof.image.lock() = Some(ImageFile::create(&tmp, &aux)?);
        *aof.image_error.lock() = None;
        let (o, _) = super::options(shared);
        *aof.write_options.lock() = Some(o);
        *aof.rewrite_started.lock() = Some(Instant::now());
        let mut locked = shared.store.lock_all();
        // The libraries as of the switch: the FUNCTION commands that change them lock every
        // shard, so none runs between here and the stream's switch point.
        let functions = super::function_records(shared, o.compress);
        if let Some(image) = aof.image.lock().as_mut() {
            image.write_functions(&functions)?;
        }
        {
            let mut inner = shared.stream.inner.lock();
            let at = inner.end;
            if log {
                inner.reselect();
                aof.target.lock().switch = Some((at, file));
                shared.stream.set_aof_takes(&mut inner, true);
            }
        }
        for shard in locked.iter_mut() {
            shard.image_pending = true;
        }
        if log {
            crate::propagate::log_expired(&mut locked, true);
            shared.stream.set_on(true);
        }
        drop(locked);
        shared.stream.kick();
        Ok(())
    })();
    if result.is_err() {
        aof.rewrite_in_progress.store(false, Ordering::Release);
    }
    result
}

/// The background part: takes every shard still owing its image, finishes the base, and
/// installs the new manifest (old files become history and are deleted).
fn finish_rewrite(shared: &'static Shared) -> std::io::Result<()> {
    let aof = &shared.aof;
    let started = Instant::now();
    for i in 0..shared.store.shard_count() {
        // Locking serializes the shard if it still owes its image (the capture hook).
        drop(shared.store.lock_one(i));
    }
    let result = (|| {
        let image = aof.image.lock().take().expect("started");
        if let Some(e) = aof.image_error.lock().take() {
            return Err(std::io::Error::other(e));
        }
        let saved = image.finish()?;
        let mut files = aof.files.lock();
        let (dir, m) = files.as_mut().expect("started");
        let prefix = shared.config.read().appendfilename.clone();
        let seq = m.next_base_seq();
        let base = base_name(&prefix, seq);
        let tmp = dir.join(format!("temp-rewriteaof-bg-{}.aof", std::process::id()));
        std::fs::rename(&tmp, dir.join(&base))?;
        let logs = *aof.rewrite_logs.lock();
        let new_incr = if logs { m.incrs.pop() } else { None };
        let mut next = Manifest {
            base: Some(AofFile {
                name: base,
                seq,
                kind: FileType::Base,
            }),
            incrs: new_incr.into_iter().collect(),
            history: Vec::new(),
        };
        let old: Vec<AofFile> = m.base.iter().chain(m.incrs.iter()).cloned().collect();
        next.history = old
            .iter()
            .map(|f| AofFile {
                kind: FileType::History,
                ..f.clone()
            })
            .collect();
        write_manifest(dir, &prefix, &next)?;
        for f in &old {
            let _ = std::fs::remove_file(dir.join(&f.name));
        }
        next.history.clear();
        write_manifest(dir, &prefix, &next)?;
        let size = files_size(dir, &next);
        *m = next;
        aof.current_size.store(size, Ordering::Relaxed);
        aof.base_size.store(size, Ordering::Relaxed);
        crate::notice!(
            "Background AOF rewrite terminated with success ({} keys, {} bytes base)",
            saved.keys,
            saved.bytes
        );
        Ok(())
    })();
    aof.last_rewrite_time_sec
        .store(started.elapsed().as_secs() as i64, Ordering::Relaxed);
    aof.last_bgrewrite_ok
        .store(result.is_ok(), Ordering::Relaxed);
    if result.is_ok() {
        aof.rewrites.fetch_add(1, Ordering::Relaxed);
        aof.consecutive_failures.store(0, Ordering::Relaxed);
        if *aof.rewrite_logs.lock() {
            aof.enabled.store(true, Ordering::Release);
        }
    } else {
        aof.consecutive_failures.fetch_add(1, Ordering::Relaxed);
        let dir = aof_dir(shared);
        let _ = std::fs::remove_file(
            dir.join(format!("temp-rewriteaof-bg-{}.aof", std::process::id())),
        );
    }
    *aof.rewrite_started.lock() = None;
    aof.rewrite_in_progress.store(false, Ordering::Release);
    result
}

/// `aof_current_rewrite_time_sec`.
pub fn current_rewrite_secs(shared: &Shared) -> i64 {
    shared
        .aof
        .rewrite_started
        .lock()
        .map_or(-1, |t| t.elapsed().as_secs() as i64)
}

/// `CONFIG SET appendonly yes|no` at run time.
pub fn set_enabled(shared: &'static Shared, on: bool) -> Result<(), String> {
    let _one = shared.aof.switching.lock();
    if on {
        if shared.aof.enabled.load(Ordering::Acquire)
            || shared.aof.rewrite_in_progress.load(Ordering::Acquire)
        {
            return Ok(());
        }
        return bgrewrite(shared, true);
    }
    let mut locked = shared.store.lock_all();
    // Replication's backlog still reads the stream.
    if !shared.replication.backlog.lock().active {
        shared.stream.set_on(false);
        crate::propagate::log_expired(&mut locked, false);
    }
    let end = shared.stream.inner.lock().end;
    shared.aof.target.lock().switch = Some((end, None));
    shared.aof.enabled.store(false, Ordering::Release);
    drop(locked);
    drain(shared);
    shared.stream.wake.all();
    Ok(())
}

/// Starts a rewrite when the AOF grew past auto-aof-rewrite-percentage (checked by the
/// persistence cron).
pub fn auto_rewrite(shared: &'static Shared) {
    let aof = &shared.aof;
    if !aof.enabled.load(Ordering::Acquire) || aof.rewrite_in_progress.load(Ordering::Acquire) {
        return;
    }
    if aof.rewrite_scheduled.swap(false, Ordering::AcqRel) {
        let _ = bgrewrite(shared, true);
        return;
    }
    let (pct, min) = {
        let c = shared.config.read();
        (c.auto_aof_rewrite_percentage, c.auto_aof_rewrite_min_size)
    };
    let size = aof.current_size.load(Ordering::Relaxed);
    let base = aof.base_size.load(Ordering::Relaxed).max(1);
    if pct > 0 && size > min && (size - base.min(size)) * 100 / base >= pct {
        crate::notice!(
            "Starting automatic rewriting of AOF on {}% growth",
            (size - base.min(size)) * 100 / base
        );
        let _ = bgrewrite(shared, true);
    }
}

/// What a load did.
#[derive(Default)]
pub struct Loaded {
    pub keys: u64,
    pub commands: u64,
    /// `:policy` hashes brought back by the base, to re-register.
    pub policies: Vec<super::PolicyKey>,
}

/// Loads the AOF named by the manifest. `Err` (naming the file and offset) stops start-up.
pub fn load(shared: &'static Shared) -> Result<Loaded, String> {
    let dir = aof_dir(shared);
    let mpath = manifest_path(shared);
    let text = std::fs::read(&mpath)
        .map_err(|e| format!("Can't read the AOF manifest {}: {e}", mpath.display()))?;
    let m =
        Manifest::parse(&text).map_err(|e| format!("Bad AOF manifest {}: {e}", mpath.display()))?;
    let truncated_ok = shared.config.read().aof_load_truncated;
    let mut loaded = Loaded::default();
    let mut replayer = Replayer::new(shared);
    let files: Vec<&AofFile> = m.load_order().collect();
    for (i, f) in files.iter().enumerate() {
        let path = dir.join(&f.name);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            // Redis tolerates a missing empty last incremental file.
            Err(e)
                if e.kind() == std::io::ErrorKind::NotFound
                    && f.kind == FileType::Incr
                    && i == files.len() - 1 =>
            {
                continue
            }
            Err(e) => {
                return Err(format!(
                    "Fatal error: can't open the append log file {}: {e}",
                    path.display()
                ))
            }
        };
        crate::notice!("Loading AOF file {} ({} bytes)", f.name, bytes.len());
        if f.kind == FileType::Base && aof::is_rdb(&bytes) {
            let (keys, policies) = super::load_rdb_bytes(shared, &bytes, &path, 0)?;
            loaded.keys += keys;
            loaded.policies.extend(policies);
            continue;
        }
        let last = i == files.len() - 1;
        match replayer.replay(&bytes) {
            Ok(n) => loaded.commands += n,
            Err(ReadError::Truncated { offset }) if last && truncated_ok => {
                crate::warning!(
                    "!!! Warning: short read while loading the AOF file {}!!! AOF loaded anyway because aof-load-truncated is enabled; truncating it to {offset} bytes (the last command was cut short)",
                    path.display()
                );
                if let Ok(f) = OpenOptions::new().write(true).open(&path) {
                    let _ = f.set_len(offset as u64);
                    let _ = f.sync_all();
                }
                loaded.commands += replayer.commands;
            }
            Err(ReadError::Truncated { offset }) => {
                return Err(format!(
                    "Unexpected end of file reading the append only file {} at offset {offset} (the command there is cut short). Refusing to start; fix it with redis-check-aof --fix, or set aof-load-truncated yes if it is the last file.",
                    path.display()
                ))
            }
            Err(ReadError::Corrupt { offset, msg }) => {
                return Err(format!(
                    "{msg} {} at offset {offset}. Refusing to start; check it with redis-check-aof.",
                    path.display()
                ))
            }
        }
    }
    Ok(loaded)
}

/// A command read inside MULTI: its offset and argument spans.
type Queued = (usize, Vec<(usize, usize)>);

/// Runs logged commands as Redis's AOF fake client does: no replies, no expiry, MULTI blocks
/// applied only once their EXEC is read.
struct Replayer {
    s: Session,
    commands: u64,
}

impl Replayer {
    fn new(shared: &'static Shared) -> Replayer {
        let s = Session::for_replay(shared, u64::MAX, "aof");
        Replayer { s, commands: 0 }
    }

    /// Replays one file's commands; each file starts in database 0.
    fn replay(&mut self, buf: &[u8]) -> Result<u64, ReadError> {
        self.s.set_db(0);
        self.commands = 0;
        let mut at = 0;
        // Start of an open MULTI and the commands read since.
        let mut multi: Option<(usize, Vec<Queued>)> = None;
        let mut next_report = 64 << 20;
        while at < buf.len() {
            if buf[at] == b'#' {
                // An annotation (`#TS:...`), as Redis 7.0 may write.
                match buf[at..].iter().position(|&b| b == b'\n') {
                    Some(nl) => {
                        at += nl + 1;
                        continue;
                    }
                    None => return Err(ReadError::Truncated { offset: at }),
                }
            }
            let (spans, end) = match aof::read_command(buf, at) {
                Ok(x) => x,
                Err(ReadError::Truncated { .. }) if multi.is_some() => {
                    let (start, _) = multi.expect("checked");
                    return Err(ReadError::Truncated { offset: start });
                }
                Err(e) => return Err(e),
            };
            let argv = Argv::new(buf, &spans);
            let name = argv.arg(0);
            if name.eq_ignore_ascii_case(b"MULTI") {
                multi = Some((at, Vec::new()));
            } else if name.eq_ignore_ascii_case(b"EXEC") {
                let Some((_, queued)) = multi.take() else {
                    return Err(ReadError::Corrupt {
                        offset: at,
                        msg: "EXEC without MULTI reading the append only file",
                    });
                };
                for (cmd_at, spans) in queued {
                    self.run(Argv::new(buf, &spans), cmd_at)?;
                }
            } else if let Some((_, queued)) = multi.as_mut() {
                queued.push((at, spans.clone()));
            } else {
                self.run(argv, at)?;
            }
            at = end;
            if at >= next_report {
                crate::notice!(
                    "Loading AOF: {:.0}% ({at} of {} bytes)",
                    at as f64 * 100.0 / buf.len() as f64,
                    buf.len()
                );
                next_report += 64 << 20;
            }
        }
        if let Some((start, _)) = multi {
            return Err(ReadError::Truncated { offset: start });
        }
        Ok(self.commands)
    }

    fn run(&mut self, argv: Argv<'_>, at: usize) -> Result<(), ReadError> {
        let s = &mut self.s;
        let cmd = match crate::registry::get().lookup(argv) {
            crate::registry::Lookup::Found(cmd) => cmd,
            _ => {
                return Err(ReadError::Corrupt {
                    offset: at,
                    msg: "Unknown command reading the append only file",
                })
            }
        };
        // The gate's arity check does not run here, and handlers index their arguments on its
        // word: a short command (a corrupt or hand-edited file) must stop the load, not panic
        // the loader. (Redis runs it anyway, reading past its argv.)
        if !cmd.spec.arity_ok(argv.len()) {
            return Err(ReadError::Corrupt {
                offset: at,
                msg: "Wrong number of arguments reading the append only file",
            });
        }
        // Nothing expires while loading: expiries were logged as DEL where they happened.
        s.now_ms = 0;
        s.last_command_end = None;
        let mut reply = Vec::new();
        let mut out = RespWriter::new(&mut reply, s.resp);
        crate::dispatch::execute(s, cmd, argv, &mut out);
        if s.blocked.is_some() {
            crate::blocked::on_close(s);
            s.blocked = None;
        }
        self.commands += 1;
        Ok(())
    }
}
