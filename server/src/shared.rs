//! State shared by every worker thread: the keyspace, configuration, clients, pub/sub,
//! statistics and the shutdown signal. The command registry is not here but in
//! `crate::registry` (its handlers take a session, which holds `&Shared`).
//!
//! **Architecture Invariant:** nothing here is locked on the command path except the shard a
//! command touches. Configuration the command path reads is a [`HotConfig`] snapshot that each
//! connection re-reads only when `config_epoch` changes.

use crate::client::ClientRegistry;
use crate::config::{Config, OutputLimit};
use crate::pubsub::PubSub;
use crate::stats::ThreadStats;
use parking_lot::{Mutex, RwLock};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Notify;
use usher_engine::config::EngineConfig;
use usher_engine::store::Store;

/// The settings read on the command path, as one immutable snapshot.
#[derive(Clone, Debug)]
pub struct HotConfig {
    pub engine: EngineConfig,
    pub maxmemory: u64,
    pub query_buffer_limit: u64,
    pub output_normal: OutputLimit,
    pub output_pubsub: OutputLimit,
    /// `maxmemory-clients` in bytes (0: clients are never evicted).
    pub maxmemory_clients: u64,
    pub protected_mode: bool,
    pub latency_tracking: bool,
    pub busy_reply_threshold: u64,
    /// `slowlog-log-slower-than` (µs; negative: off) and `slowlog-max-len`.
    pub slowlog_threshold_us: i64,
    pub slowlog_max_len: usize,
    /// `latency-monitor-threshold` in µs (0: off).
    pub latency_monitor_us: u64,
    /// `notify-keyspace-events` as Redis's bits (`K`/`E` included).
    pub notify_flags: u32,
    /// `tracking-table-max-keys` (0: no limit).
    pub tracking_table_max_keys: u64,
    /// Replication's settings (the gate reads `replica-read-only` and friends).
    pub repl: crate::config::ReplConfig,
    /// A failed background save refuses writes: `stop-writes-on-bgsave-error` with save points.
    pub stop_writes_on_bgsave_error: bool,
}

impl HotConfig {
    fn from(config: &Config) -> Self {
        HotConfig {
            engine: config.engine.clone(),
            maxmemory: config.maxmemory,
            query_buffer_limit: config.client_query_buffer_limit,
            output_normal: config.output_normal,
            output_pubsub: config.output_pubsub,
            maxmemory_clients: config.maxmemory_clients.bytes(config.maxmemory),
            protected_mode: config.protected_mode,
            latency_tracking: config.latency_tracking,
            slowlog_threshold_us: config.slowlog_log_slower_than,
            slowlog_max_len: config.slowlog_max_len,
            latency_monitor_us: config.latency_monitor_threshold.saturating_mul(1000),
            busy_reply_threshold: config.busy_reply_threshold,
            notify_flags: config.notify_keyspace_events,
            tracking_table_max_keys: config.tracking_table_max_keys,
            repl: config.repl.clone(),
            stop_writes_on_bgsave_error: config.stop_writes_on_bgsave_error
                && !config.save.trim().is_empty(),
        }
    }
}

/// Shutdown request: set once, observed by every thread.
#[derive(Default)]
pub struct Shutdown {
    requested: AtomicBool,
    /// Set by SHUTDOWN, which settles saving itself; a signal leaves it to the exit path.
    pub save_settled: AtomicBool,
    pub notify: Notify,
}

impl Shutdown {
    pub fn request(&self) {
        self.requested.store(true, Ordering::Release);
        // A busy script would keep its worker (and so the process) alive: stop every script.
        usher_lua::engine::ABORT_ALL.store(true, Ordering::Relaxed);
        // A permit, not a broadcast: the acceptor may be between two waits when this runs.
        self.notify.notify_one();
    }

    pub fn requested(&self) -> bool {
        self.requested.load(Ordering::Acquire)
    }
}

pub struct Shared {
    pub store: Store,
    pub config: RwLock<Config>,
    hot: RwLock<Arc<HotConfig>>,
    pub config_epoch: AtomicU64,
    pub clients: ClientRegistry,
    pub pubsub: PubSub,
    /// One entry per worker thread, indexed by thread number.
    pub thread_stats: Vec<Arc<ThreadStats>>,
    /// The server's error codes (INFO errorstats), which every thread's stats record into.
    pub errors: Arc<crate::stats::ErrorTable>,
    pub connections_received: AtomicU64,
    pub rejected_connections: AtomicU64,
    /// Clients closed by `maxmemory-clients` (INFO's `evicted_clients`).
    pub evicted_clients: AtomicU64,
    pub started: Instant,
    pub run_id: String,
    /// The TCP port actually bound (differs from the config when it says 0).
    pub tcp_port: AtomicU16,
    pub shutdown: Shutdown,
    /// (when, total commands) samples for `instantaneous_ops_per_sec`.
    /// (when, [commands, input bytes, output bytes]) every 100 ms, for INFO's instantaneous
    /// rates.
    pub ops_samples: Mutex<VecDeque<(Instant, [u64; 3])>>,
    pub slowlog: crate::slowlog::SlowLog,
    pub monitors: crate::monitor::Monitors,
    pub latency_monitor: crate::latency_monitor::LatencyMonitor,
    pub pause: crate::pause::Pause,
    /// Set once at start-up in cluster mode (`cluster-enabled yes`).
    pub cluster: std::sync::OnceLock<crate::cluster::ClusterState>,
    /// The script cache, one for the server (scripts loaded anywhere run everywhere).
    pub scripts: usher_lua::ScriptCache,
    /// FUNCTION libraries, one set for the server.
    pub functions: usher_lua::functions::Libraries,
    /// Snapshot state (server/src/persistence).
    pub persist: crate::persistence::Persistence,
    /// Every change, as commands, in one ordered stream (server/src/propagate).
    pub stream: crate::propagate::Stream,
    /// The append-only file's state (server/src/persistence/aof.rs).
    pub aof: crate::persistence::aof::Aof,
    /// Client-side caching: who tracks which keys (server/src/tracking.rs).
    pub tracking: crate::tracking::Tracking,
    /// ACL users, the ACL log (server/src/acl).
    pub acl: crate::acl::Acl,
    /// The TLS configuration new connections on `tls-port` get (server/src/tls.rs).
    pub tls: crate::tls::Tls,
    /// Whether the cron expires keys nobody reads (DEBUG SET-ACTIVE-EXPIRE 0 turns it off).
    pub active_expire: std::sync::atomic::AtomicBool,
    /// Replication's state (server/src/replication).
    pub replication: crate::replication::Replication,
}

impl Shared {
    /// `command_count` sizes the per-command statistics; `acl` is built from the registry
    /// (`crate::acl::Acl::new`) by the caller, which has it.
    pub fn new(config: Config, command_count: usize, acl: crate::acl::Acl) -> Shared {
        // One per worker thread, the spare (`crate::script_workers`) included.
        let threads = config.worker_threads() + 1;
        let errors = Arc::new(crate::stats::ErrorTable::default());
        let thread_stats = (0..threads)
            .map(|_| Arc::new(ThreadStats::new(command_count, errors.clone())))
            .collect();
        let hot = Arc::new(HotConfig::from(&config));
        crate::notify::refresh_capture(config.engine.notify_classes, false);
        Shared {
            acl,
            tls: crate::tls::Tls::default(),
            store: Store::new(config.shard_count(), config.databases),
            tcp_port: AtomicU16::new(config.port),
            config: RwLock::new(config),
            hot: RwLock::new(hot),
            config_epoch: AtomicU64::new(1),
            clients: ClientRegistry::default(),
            pubsub: PubSub::default(),
            thread_stats,
            errors,
            connections_received: AtomicU64::new(0),
            rejected_connections: AtomicU64::new(0),
            evicted_clients: AtomicU64::new(0),
            started: Instant::now(),
            run_id: crate::ids::random_hex(40),
            shutdown: Shutdown::default(),
            ops_samples: Mutex::new(VecDeque::new()),
            slowlog: crate::slowlog::SlowLog::default(),
            monitors: crate::monitor::Monitors::default(),
            latency_monitor: crate::latency_monitor::LatencyMonitor::default(),
            pause: crate::pause::Pause::default(),
            cluster: std::sync::OnceLock::new(),
            scripts: usher_lua::ScriptCache::default(),
            functions: usher_lua::functions::Libraries::default(),
            persist: Default::default(),
            stream: Default::default(),
            aof: Default::default(),
            tracking: Default::default(),
            active_expire: std::sync::atomic::AtomicBool::new(true),
            replication: Default::default(),
        }
    }

    /// The current command-path settings.
    pub fn hot(&self) -> Arc<HotConfig> {
        self.hot.read().clone()
    }

    /// Applies `change` to the configuration atomically and publishes a new snapshot.
    pub fn update_config<T>(&self, change: impl FnOnce(&mut Config) -> T) -> T {
        let mut config = self.config.write();
        let requirepass = config.requirepass.clone();
        let result = change(&mut config);
        if config.requirepass != requirepass {
            // Redis 7.0: `requirepass` is the default user's password.
            crate::acl::update_default_password(self, &config);
        }
        *self.hot.write() = Arc::new(HotConfig::from(&config));
        self.config_epoch.fetch_add(1, Ordering::AcqRel);
        crate::log::set_level(config.loglevel);
        crate::notify::refresh_capture(config.engine.notify_classes, self.tracking.active());
        usher_persist::set_compression(config.rdbcompression);
        usher_engine::lfu::configure(&config.engine.lfu);
        result
    }

    pub fn uptime_secs(&self) -> u64 {
        self.started.elapsed().as_secs()
    }
}

/// Milliseconds since the Unix epoch.
pub fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
