//! The persistence driver: when and where snapshots are written, and loading one at start-up.
//! File formats live in `usher-persist`; this folder owns the policy around them.
//!
//! - `save <seconds> <changes> ...` points are checked ten times a second by a small thread
//!   of their own (changes are summed from the workers' per-thread counters, so the command
//!   path pays one uncontended store per write), and start a background save like BGSAVE.
//! - SAVE writes in the calling thread; BGSAVE and save points write in a background thread.
//!   Neither forks nor stops the world: `usher_persist::snapshot` takes one shard's lock at a
//!   time (see its module docs for the consistency that gives).
//! - SHUTDOWN (and SIGTERM/SIGINT) save when save points are configured or SAVE is asked, and
//!   FLUSHALL writes the empty dataset when save points are configured, as Redis 7.0 does.
//! - Start-up loads `dir/dbfilename` in a thread while the server answers `-LOADING` to every
//!   command without Redis's `loading` flag, refuses to start on a corrupt file (naming the
//!   file and byte offset), and re-registers waiting-room policies before it opens up.
//!
//! - A failing disk refuses writes, as Redis's `writeCommandsDeniedByDiskError`: while the
//!   last background save failed (with save points and `stop-writes-on-bgsave-error yes`), or
//!   while the AOF cannot be written, write commands (and PING) get `-MISCONF`; reads go on.
//!   Nothing is acknowledged that the disk then loses, and writes resume by themselves once a
//!   save or the AOF writer's retry succeeds ([`disk_error`]).
//! - The append-only file (`aof.rs`): Redis 7.0's multi-part layout, group commit, fork-less
//!   rewrites. With `appendonly yes` start-up loads the AOF when one exists (else the RDB).

pub mod aof;

use crate::shared::{unix_ms, Shared};
use parking_lot::Mutex;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use usher_persist::rdb::{Aux, WriteOptions};
use usher_persist::snapshot::{self, Saved};

/// Redis's `CONFIG_BGSAVE_RETRY_DELAY`: after a failed background save, save points wait this
/// long before trying again.
const RETRY_DELAY_S: i64 = 5;

/// Persistence state shown by INFO and LASTSAVE.
pub struct Persistence {
    /// Changes counted when the last successful save started (the workers' sum at that time).
    dirty_at_save: AtomicU64,
    /// Unix seconds of the last successful save (start-up time before the first).
    pub lastsave: AtomicI64,
    pub bgsave_in_progress: AtomicBool,
    bgsave_started: Mutex<Option<Instant>>,
    pub last_bgsave_ok: AtomicBool,
    pub last_bgsave_time_sec: AtomicI64,
    last_bgsave_try: AtomicI64,
    pub rdb_saves: AtomicU64,
    pub loading: AtomicBool,
    pub last_load_keys_loaded: AtomicU64,
    pub last_load_keys_expired: AtomicU64,
    /// A BGSAVE SCHEDULE waiting for the running one to finish.
    pub bgsave_scheduled: AtomicBool,
    /// Serializes foreground and background saves (one temp file at a time).
    save_lock: Mutex<()>,
}

impl Default for Persistence {
    fn default() -> Self {
        Persistence {
            dirty_at_save: AtomicU64::new(0),
            lastsave: AtomicI64::new(unix_ms() / 1000),
            bgsave_in_progress: AtomicBool::new(false),
            bgsave_started: Mutex::new(None),
            last_bgsave_ok: AtomicBool::new(true),
            last_bgsave_time_sec: AtomicI64::new(-1),
            last_bgsave_try: AtomicI64::new(0),
            rdb_saves: AtomicU64::new(0),
            loading: AtomicBool::new(false),
            last_load_keys_loaded: AtomicU64::new(0),
            last_load_keys_expired: AtomicU64::new(0),
            bgsave_scheduled: AtomicBool::new(false),
            save_lock: Mutex::new(()),
        }
    }
}

/// Changes made since start-up, summed over the workers.
fn dirty_total(shared: &Shared) -> u64 {
    shared
        .thread_stats
        .iter()
        .map(|t| t.dirty.load(Ordering::Relaxed))
        .sum()
}

/// `rdb_changes_since_last_save`.
pub fn changes_since_save(shared: &Shared) -> u64 {
    dirty_total(shared).saturating_sub(shared.persist.dirty_at_save.load(Ordering::Relaxed))
}

/// `dir/dbfilename`.
pub fn rdb_path(shared: &Shared) -> PathBuf {
    let c = shared.config.read();
    PathBuf::from(&c.dir).join(&c.dbfilename)
}

fn options(shared: &Shared) -> (WriteOptions, bool) {
    let c = shared.config.read();
    (
        WriteOptions::new(c.rdbcompression, &c.engine),
        c.rdbchecksum,
    )
}

/// The function libraries as a file holds them, between its header and its keys.
pub fn function_records(shared: &Shared, compress: bool) -> Vec<u8> {
    let libs = shared.functions.all();
    usher_persist::functions::records(libs.iter().map(|l| &l.code[..]), compress)
}

/// Writes a snapshot now, in this thread (SAVE, SHUTDOWN, background saves).
fn write_snapshot(shared: &Shared) -> std::io::Result<Saved> {
    let _one_at_a_time = shared.persist.save_lock.lock();
    let path = rdb_path(shared);
    let (o, checksum) = options(shared);
    let dirty_before = dirty_total(shared);
    let aux = Aux {
        ctime_s: unix_ms() / 1000,
        used_mem: crate::memory::used_bytes(),
        aof_base: false,
    };
    let functions = function_records(shared, o.compress);
    let saved = snapshot::save(&shared.store, &path, &aux, &functions, o, checksum)?;
    let p = &shared.persist;
    p.dirty_at_save.store(dirty_before, Ordering::Relaxed);
    p.lastsave.store(unix_ms() / 1000, Ordering::Relaxed);
    p.rdb_saves.fetch_add(1, Ordering::Relaxed);
    Ok(saved)
}

/// SAVE: a snapshot in the caller's thread. Logs like Redis.
pub fn save(shared: &Shared) -> std::io::Result<Saved> {
    let started = Instant::now();
    match write_snapshot(shared) {
        Ok(saved) => {
            crate::notice!(
                "DB saved on disk ({} keys, {} bytes, {} ms)",
                saved.keys,
                saved.bytes,
                started.elapsed().as_millis()
            );
            Ok(saved)
        }
        Err(e) => {
            crate::warning!(
                "Failed saving the DB to {}: {e}",
                rdb_path(shared).display()
            );
            Err(e)
        }
    }
}

/// Writes an empty dataset (FLUSHALL with save points configured): no shard needs locking.
pub fn save_empty(shared: &Shared) {
    let _one_at_a_time = shared.persist.save_lock.lock();
    let path = rdb_path(shared);
    let (o, checksum) = options(shared);
    let empty = usher_engine::store::Store::new(1, 1);
    let aux = Aux {
        ctime_s: unix_ms() / 1000,
        used_mem: crate::memory::used_bytes(),
        aof_base: false,
    };
    // FLUSHALL leaves the function libraries (as in Redis, whose file keeps them).
    let functions = function_records(shared, o.compress);
    match snapshot::save(&empty, &path, &aux, &functions, o, checksum) {
        Ok(_) => {
            let p = &shared.persist;
            p.dirty_at_save
                .store(dirty_total(shared), Ordering::Relaxed);
            p.lastsave.store(unix_ms() / 1000, Ordering::Relaxed);
            p.rdb_saves.fetch_add(1, Ordering::Relaxed);
        }
        Err(e) => crate::warning!("Failed saving the DB to {}: {e}", path.display()),
    }
}

/// Starts a background save; `Err` with Redis's text when one is already running.
pub fn bgsave(shared: &'static Shared) -> Result<(), &'static str> {
    let p = &shared.persist;
    if p.bgsave_in_progress.swap(true, Ordering::AcqRel) {
        return Err(usher_protocol::errors::BGSAVE_IN_PROGRESS);
    }
    *p.bgsave_started.lock() = Some(Instant::now());
    p.last_bgsave_try.store(unix_ms() / 1000, Ordering::Relaxed);
    crate::notice!("Background saving started");
    let spawned = std::thread::Builder::new()
        .name("usher-bgsave".into())
        .spawn(move || {
            let started = Instant::now();
            let result = write_snapshot(shared);
            let p = &shared.persist;
            p.last_bgsave_time_sec
                .store(started.elapsed().as_secs() as i64, Ordering::Relaxed);
            match result {
                Ok(saved) => {
                    crate::notice!(
                        "Background saving terminated with success ({} keys, {} bytes)",
                        saved.keys,
                        saved.bytes
                    );
                    p.last_bgsave_ok.store(true, Ordering::Relaxed);
                }
                Err(e) => {
                    crate::warning!("Background saving error: {e}");
                    p.last_bgsave_ok.store(false, Ordering::Relaxed);
                }
            }
            *p.bgsave_started.lock() = None;
            p.bgsave_in_progress.store(false, Ordering::Release);
        });
    if spawned.is_err() {
        p.bgsave_in_progress.store(false, Ordering::Release);
        return Err("ERR Background save failed to start");
    }
    Ok(())
}

/// `rdb_current_bgsave_time_sec`.
pub fn current_bgsave_secs(shared: &Shared) -> i64 {
    shared
        .persist
        .bgsave_started
        .lock()
        .map_or(-1, |t| t.elapsed().as_secs() as i64)
}

/// Starts the thread that checks save points (Redis's `serverCron` part) and runs scheduled
/// BGSAVEs.
pub fn start_cron(shared: &'static Shared) {
    let _ = std::thread::Builder::new()
        .name("usher-saver".into())
        .spawn(move || loop {
            std::thread::sleep(Duration::from_millis(100));
            if shared.shutdown.requested() {
                return;
            }
            let p = &shared.persist;
            if p.loading.load(Ordering::Acquire) {
                continue;
            }
            aof::auto_rewrite(shared);
            if p.bgsave_in_progress.load(Ordering::Acquire) {
                continue;
            }
            if p.bgsave_scheduled.swap(false, Ordering::AcqRel) {
                let _ = bgsave(shared);
                continue;
            }
            let points =
                crate::config::parse_save_points(&shared.config.read().save).unwrap_or_default();
            let now = unix_ms() / 1000;
            let changes = changes_since_save(shared);
            let since = now - p.lastsave.load(Ordering::Relaxed);
            let may_retry = p.last_bgsave_ok.load(Ordering::Relaxed)
                || now - p.last_bgsave_try.load(Ordering::Relaxed) > RETRY_DELAY_S;
            if let Some((secs, ch)) = points
                .iter()
                .find(|(secs, ch)| changes >= *ch && since > *secs)
            {
                if may_retry {
                    crate::notice!("{ch} changes in {secs} seconds. Saving...");
                    let _ = bgsave(shared);
                }
            }
        });
}

/// Why writes are refused while the disk fails (Redis's `-MISCONF`), or `None`: two relaxed
/// loads on the command path.
pub fn disk_error(s: &crate::session::Session) -> Option<String> {
    let shared = s.shared;
    if s.hot.stop_writes_on_bgsave_error && !shared.persist.last_bgsave_ok.load(Ordering::Relaxed) {
        return Some(usher_protocol::errors::BGSAVE_ERR.to_string());
    }
    aof::write_error(shared).map(|e| format!("{}{e}", usher_protocol::errors::AOF_WRITE_ERR))
}

/// Whether `save` lists any save point (what SHUTDOWN and FLUSHALL check). Never while
/// loading: a partial dataset must not overwrite the file it comes from (Redis's
/// `prepareForShutdown` turns SAVE into NOSAVE then too).
pub fn has_save_points(shared: &Shared) -> bool {
    !shared.persist.loading.load(Ordering::Acquire) && !shared.config.read().save.trim().is_empty()
}

/// Starts loading `dir/dbfilename` in a background thread; `loading` is set before this
/// returns, so no command slips in ahead of it. A corrupt file ends the process.
pub fn start_loading(shared: &'static Shared) {
    shared.persist.loading.store(true, Ordering::Release);
    let spawned = std::thread::Builder::new()
        .name("usher-loader".into())
        .spawn(move || {
            if let Err(msg) = load_at_startup(shared) {
                crate::warning!("{msg}");
                std::process::exit(1);
            }
            shared.persist.loading.store(false, Ordering::Release);
            crate::notice!("Ready to accept connections tcp");
        });
    if spawned.is_err() {
        crate::warning!("Fatal: could not start the loader thread");
        std::process::exit(1);
    }
}

/// Loads the data at start-up: the AOF when `appendonly` is on and one exists, else
/// `dir/dbfilename` if it exists; then opens (or creates) the AOF when it is on. `Err` (with
/// the file and byte offset) stops start-up.
pub fn load_at_startup(shared: &'static Shared) -> Result<(), String> {
    let appendonly = shared.config.read().appendonly;
    if appendonly && aof::exists(shared) {
        let started = Instant::now();
        let loaded = aof::load(shared)?;
        let adopted = adopt_policies(shared, loaded.policies, unix_ms());
        crate::notice!(
            "DB loaded from append only file: {:.3} seconds ({} keys from the base, {} commands, {adopted} queue policies resumed)",
            started.elapsed().as_secs_f64(),
            loaded.keys,
            loaded.commands
        );
    } else {
        load_rdb(shared)?;
    }
    if appendonly {
        aof::open_at_startup(shared)?;
    }
    Ok(())
}

/// A `<queue>:policy` or `<queue>:split` hash a load brought back: (db, key).
pub(crate) type PolicyKey = (usize, Vec<u8>);

/// Re-registers waiting-room policies and split lines whose hashes a load brought back;
/// counts the policies.
pub(crate) fn adopt_policies(shared: &Shared, policies: Vec<PolicyKey>, now: i64) -> usize {
    let store = &shared.store;
    let mut adopted = 0;
    for (db, key) in policies {
        let mut locked = store.lock_one(store.shard_of(&key));
        let shard = locked.shard(&key);
        if key.ends_with(b":split") {
            usher_engine::queue::split::adopt_split_hash(shard, db, &key, now);
        } else if usher_engine::cmd::qpolicy::adopt_policy_hash(shard, db, &key, now) {
            adopted += 1;
        }
    }
    adopt_token_keys(shared);
    adopted
}

/// Installs the EdDSA key ring a load brought back in `usher:tokenkeys` (database 0), so
/// tokens signed before a restart, a DEBUG RELOAD or on a replica's primary keep verifying
/// and new ones are signed with the same current key. Without that key the ring in memory
/// stays (`token-signing-key`'s, or the process's own).
pub(crate) fn adopt_token_keys(shared: &Shared) {
    use usher_engine::queue::keyring::{self, KeyRing, RING_KEY};
    let store = &shared.store;
    let mut locked = store.lock_one(store.shard_of(RING_KEY));
    let json = match locked.db(0, RING_KEY).peek(RING_KEY) {
        Some(usher_engine::value::Value::Str(s)) => s.to_vec(),
        _ => return,
    };
    drop(locked);
    match KeyRing::from_json(&json) {
        Ok(ring) => keyring::install(ring),
        Err(e) => crate::warning!(
            "usher:tokenkeys holds no valid key ring ({e}): keeping the key ring in memory"
        ),
    }
}

/// DEBUG RELOAD's second half: empties every database (unless `flush` is false) and loads
/// `dir/dbfilename` back. Takes every shard lock for the flush, then the loader's own.
pub fn reload(shared: &Shared, flush: bool) -> Result<(), String> {
    if flush {
        let mut locked = shared.store.lock_all();
        for shard in locked.iter_mut() {
            for db in 0..shard.dbs.len() {
                shard.db(db).clear();
                shard.queues.flush_db(db);
            }
        }
    }
    load_rdb(shared)
}

/// Loads `dir/dbfilename` if it exists.
fn load_rdb(shared: &Shared) -> Result<(), String> {
    let path = rdb_path(shared);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(format!(
                "Fatal error loading the DB {}: {e}",
                path.display()
            ))
        }
    };
    let started = Instant::now();
    let now = unix_ms();
    let (keys, policies) = load_rdb_bytes(shared, &bytes, &path, now)?;
    let adopted = adopt_policies(shared, policies, now);
    let p = &shared.persist;
    crate::notice!(
        "DB loaded from disk: {:.3} seconds ({} keys, {} expired keys skipped, {adopted} queue policies resumed)",
        started.elapsed().as_secs_f64(),
        keys,
        p.last_load_keys_expired.load(Ordering::Relaxed)
    );
    Ok(())
}

/// Inserts the function libraries and keys of an RDB image; keys expired before `now` are
/// skipped (0: none, as for an AOF base, whose log may still name them). A library whose
/// name or functions are taken fails the load, as in Redis. Returns the keys loaded and the
/// `:policy` hashes to re-register.
pub(crate) fn load_rdb_bytes(
    shared: &Shared,
    bytes: &[u8],
    path: &std::path::Path,
    now: i64,
) -> Result<(u64, Vec<PolicyKey>), String> {
    let p = &shared.persist;
    let config = shared.config.read().engine.clone();
    let databases = shared.store.databases();
    let total = bytes.len();
    let mut policies = Vec::new();
    let store = &shared.store;
    let result = usher_persist::rdb::load_file(
        bytes,
        &config,
        databases,
        now,
        |code| {
            crate::cmd::functions::stage(shared, &shared.functions, &code, false, None)
                .map(|_| ())
                .map_err(|e| e.strip_prefix("ERR ").map(str::to_string).unwrap_or(e))
        },
        |k| {
            if (k.key.ends_with(b":policy") || k.key.ends_with(b":split"))
                && matches!(k.value, usher_engine::value::Value::Hash(_))
            {
                policies.push((k.db, k.key.clone()));
            }
            let mut locked = store.lock_one(store.shard_of(&k.key));
            let db = locked.db(k.db, &k.key);
            db.set(&k.key, k.value);
            if let Some(at) = k.expire_ms {
                db.set_expire(&k.key, at, now);
            }
        },
        |offset| {
            crate::notice!(
                "Loading RDB: {:.0}% ({offset} of {total} bytes)",
                offset as f64 * 100.0 / total as f64
            )
        },
    );
    let stats = result.map_err(|e| {
        format!(
            "Short read or corrupt RDB file {}: {} at offset {}. Refusing to start; check it with redis-check-rdb.",
            path.display(),
            e.msg,
            e.offset
        )
    })?;
    p.last_load_keys_loaded
        .store(stats.keys_loaded, Ordering::Relaxed);
    p.last_load_keys_expired
        .store(stats.keys_expired, Ordering::Relaxed);
    Ok((stats.keys_loaded, policies))
}
