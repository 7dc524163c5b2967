//! Configuration: every directive usher understands, with redis.conf's names, syntax, units
//! and defaults, read from a config file and `--directive value` flags, and changed at run time
//! with `CONFIG SET`.
//!
//! The table [`DIRECTIVES`] is the single source: file parsing, flags, `CONFIG GET` and
//! `CONFIG SET` all go through it. An unknown or malformed directive stops start-up with
//! Redis's message shape, naming the line.
//!
//! Memory values accept Redis's units (`1k` = 1000, `1kb` = 1024, `mb`, `gb`, case-insensitive).

use std::fmt::Write as _;
use usher_engine::config::EngineConfig;

mod inert;

/// Output-buffer limit of one client class (`client-output-buffer-limit <class> hard soft secs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutputLimit {
    pub hard_bytes: u64,
    pub soft_bytes: u64,
    pub soft_seconds: u64,
}

impl OutputLimit {
    /// Whether `len` bytes of pending output break this limit: over the hard limit, or over
    /// the soft one continuously for `soft_seconds` (`soft_since` remembers since when; it is
    /// reset once the output drops back under).
    pub fn exceeded(&self, len: u64, soft_since: &mut Option<std::time::Instant>) -> bool {
        if self.hard_bytes != 0 && len > self.hard_bytes {
            return true;
        }
        if self.soft_bytes == 0 || len <= self.soft_bytes {
            *soft_since = None;
            return false;
        }
        let since = *soft_since.get_or_insert_with(std::time::Instant::now);
        since.elapsed().as_secs() >= self.soft_seconds
    }
}

/// `maxmemory-clients`: bytes, or a percentage of `maxmemory` (as Redis 7.0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientMemoryLimit {
    Bytes(u64),
    Percent(u32),
}

impl ClientMemoryLimit {
    /// The limit in bytes under `maxmemory` (a percentage of no `maxmemory` is no limit).
    pub fn bytes(self, maxmemory: u64) -> u64 {
        match self {
            ClientMemoryLimit::Bytes(b) => b,
            ClientMemoryLimit::Percent(p) => maxmemory / 100 * p as u64,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Debug,
    Verbose,
    Notice,
    Warning,
}

impl LogLevel {
    /// Redis 7.0's levels (7.2 added `nothing`).
    const NAMES: [(&'static str, LogLevel); 4] = [
        ("debug", LogLevel::Debug),
        ("verbose", LogLevel::Verbose),
        ("notice", LogLevel::Notice),
        ("warning", LogLevel::Warning),
    ];

    pub fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, l)| *l == self)
            .map(|(n, _)| *n)
            .unwrap_or("notice")
    }
}

/// The server's settings. Field names are the directives' names in snake case.
#[derive(Clone, Debug)]
pub struct Config {
    pub port: u16,
    pub bind: Vec<String>,
    /// Worker threads, each with its own current-thread runtime; 0 (the default): one per core
    /// but one, at least one ([`Config::worker_threads`]).
    pub threads: usize,
    /// Keyspace shards (0, the default: one per worker thread).
    pub shards: usize,
    pub databases: usize,
    pub requirepass: String,
    /// `aclfile`: where ACL SAVE writes users and ACL LOAD reads them (start-up only).
    pub aclfile: String,
    /// `user <name> <rules...>` lines of the config file, in order (not CONFIG GET-able, as
    /// in Redis).
    pub acl_users: Vec<Vec<String>>,
    /// `acllog-max-len`: entries the ACL log keeps.
    pub acllog_max_len: usize,
    /// `acl-pubsub-default`: `allchannels` (true) or `resetchannels` (Redis 7.0's default).
    pub acl_pubsub_default_all: bool,
    /// `tls-port` (0: no TLS listener; start-up only) and the files and choices of
    /// `server/src/tls.rs`. `tls-auth-clients` is `yes`, `no` or `optional`.
    pub tls_port: u16,
    /// `token-signing-key`: a PKCS#8 Ed25519 private key (PEM or DER) that signs EdDSA tokens
    /// until the first `TOKENKEYS ROTATE` (start-up only; empty: one generated per process).
    pub token_signing_key: String,
    pub tls_cert_file: String,
    pub tls_key_file: String,
    pub tls_ca_cert_file: String,
    pub tls_auth_clients: String,
    pub tls_protocols: String,
    pub tls_ciphersuites: String,
    pub loglevel: LogLevel,
    pub logfile: String,
    pub maxclients: usize,
    /// Idle seconds before a client is closed; 0 never.
    pub timeout: u64,
    pub tcp_keepalive: u64,
    pub tcp_backlog: u32,
    pub protected_mode: bool,
    pub client_query_buffer_limit: u64,
    pub output_normal: OutputLimit,
    pub output_replica: OutputLimit,
    pub output_pubsub: OutputLimit,
    pub maxmemory: u64,
    /// `maxmemory-clients`: what all clients together may hold before the biggest are
    /// evicted (0: no limit).
    pub maxmemory_clients: ClientMemoryLimit,
    pub maxmemory_policy: String,
    pub hz: u32,
    /// Per-command latency histograms (INFO latencystats, LATENCY HISTOGRAM).
    pub latency_tracking: bool,
    /// `latency-monitor-threshold` (ms; 0: the latency monitor is off).
    pub latency_monitor_threshold: u64,
    /// `busy-reply-threshold` (alias `lua-time-limit`), ms: past it other clients get BUSY.
    pub busy_reply_threshold: u64,
    /// The percentiles INFO latencystats prints.
    pub latency_tracking_info_percentiles: Vec<f64>,
    pub engine: EngineConfig,
    /// `notify-keyspace-events` (Redis's bits); `engine.notify_classes` is derived from it.
    pub notify_keyspace_events: u32,
    /// `tracking-table-max-keys`: keys remembered for client-side caching (0: no limit).
    pub tracking_table_max_keys: u64,
    /// `save <seconds> <changes> ...`: snapshot points (server/src/persistence); "" for none.
    pub save: String,
    /// `stop-writes-on-bgsave-error`: refuse writes (MISCONF) while the last background save
    /// failed and save points are configured.
    pub stop_writes_on_bgsave_error: bool,
    /// LZF-compress strings over 20 bytes in snapshots and DUMP payloads.
    pub rdbcompression: bool,
    /// End snapshots with a CRC-64 (no: eight zero bytes, which loaders skip checking).
    pub rdbchecksum: bool,
    /// `enable-protected-configs no | yes | local`: whether CONFIG SET may change `dir` and
    /// `dbfilename` (with SAVE they would write a file anywhere the server can; Redis 7.0
    /// refuses by default for that reason).
    pub enable_protected_configs: String,
    pub appendonly: bool,
    pub dir: String,
    pub dbfilename: String,
    pub appendfilename: String,
    /// The folder (inside `dir`) holding the append-only file's parts and manifest.
    pub appenddirname: String,
    pub appendfsync: AppendFsync,
    /// Rewrite the AOF when it grew by this percent over its size after the last rewrite
    /// (0: never automatically).
    pub auto_aof_rewrite_percentage: u64,
    /// ... and is at least this large.
    pub auto_aof_rewrite_min_size: u64,
    /// Load an AOF whose last command is cut short (a crash mid-write), dropping it.
    pub aof_load_truncated: bool,
    /// Rewrites write the base as an RDB (yes, Redis 7.0's default) or as commands.
    pub aof_use_rdb_preamble: bool,
    pub pidfile: String,
    /// The file the configuration was read from, for `CONFIG REWRITE` and INFO.
    pub config_file: Option<String>,
    /// `metrics-port`: the Prometheus endpoint's port (0: off; start-up only).
    pub metrics_port: u16,
    /// `slowlog-log-slower-than` (µs; negative: off) and `slowlog-max-len`.
    pub slowlog_log_slower_than: i64,
    pub slowlog_max_len: usize,
    /// `cluster-enabled`: route by hash slot, answer MOVED and CROSSSLOT (start-up only).
    pub cluster_enabled: bool,
    /// Replication's settings (server/src/replication), under Redis's names.
    pub repl: ReplConfig,
    /// `cluster-config-file`: the topology (JSON, see `usher_cluster::topology`); absent file:
    /// the emulated one-node mode.
    pub cluster_config_file: String,
    /// `cluster-node-id`: this node's id in the topology (usher's directive; Redis nodes make
    /// up their own). Default: a random id, fine for the emulated mode.
    pub cluster_node_id: String,
    /// `cluster-announce-ip`: the address this node gives clients in the emulated mode.
    pub cluster_announce_ip: String,
    /// `enable-debug-command no | yes | local`: whether DEBUG runs (Redis 7.0 refuses it by
    /// default; start-up only).
    pub enable_debug_command: String,
    /// `enable-module-command no | yes | local`: whether MODULE LOAD, LOADEX and UNLOAD are
    /// accepted (usher loads no modules; they then fail as a failed load does in Redis).
    pub enable_module_command: String,
    /// Values of the directives usher accepts but does not act on (`inert.rs`), by name;
    /// absent: Redis's default.
    pub inert: std::collections::BTreeMap<&'static str, String>,
}

/// The worker threads a server gets without `threads`: one per core, leaving one core to
/// everything that is not a worker (the kernel's network processing, the AOF writer,
/// snapshots, replication links, and on a small machine the clients themselves). Measured on
/// two cores with the clients on the same machine (docs/benchmarks.md, "Default threads"): one
/// worker served unpipelined GETs at twice the operations per CPU-second of two, and 37%
/// more per second, and pipelined SETs within 7%; two workers and the load generator
/// oversubscribed the cores, so each worker woke for about one request at a time.
pub fn default_threads(cores: usize) -> usize {
    cores.saturating_sub(1).max(1)
}

/// The machine's cores (as the scheduler and cgroup quota let this process use them), read
/// once: `available_parallelism` reads cgroup files, and INFO and CONFIG GET ask again.
fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    })
}

impl Default for Config {
    fn default() -> Self {
        Config {
            port: 6379,
            bind: vec!["127.0.0.1".into()],
            threads: 0,
            shards: 0,
            databases: 16,
            requirepass: String::new(),
            aclfile: String::new(),
            acl_users: Vec::new(),
            acllog_max_len: 128,
            acl_pubsub_default_all: false,
            tls_port: 0,
            token_signing_key: String::new(),
            tls_cert_file: String::new(),
            tls_key_file: String::new(),
            tls_ca_cert_file: String::new(),
            tls_auth_clients: "yes".into(),
            tls_protocols: String::new(),
            tls_ciphersuites: String::new(),
            loglevel: LogLevel::Notice,
            logfile: String::new(),
            maxclients: 10_000,
            timeout: 0,
            tcp_keepalive: 300,
            tcp_backlog: 511,
            protected_mode: true,
            client_query_buffer_limit: 1 << 30,
            output_normal: OutputLimit {
                hard_bytes: 0,
                soft_bytes: 0,
                soft_seconds: 0,
            },
            output_replica: OutputLimit {
                hard_bytes: 256 << 20,
                soft_bytes: 64 << 20,
                soft_seconds: 60,
            },
            output_pubsub: OutputLimit {
                hard_bytes: 32 << 20,
                soft_bytes: 8 << 20,
                soft_seconds: 60,
            },
            maxmemory: 0,
            maxmemory_clients: ClientMemoryLimit::Bytes(0),
            maxmemory_policy: "noeviction".into(),
            hz: 10,
            latency_tracking: true,
            latency_monitor_threshold: 0,
            busy_reply_threshold: 5000,
            latency_tracking_info_percentiles: vec![50.0, 99.0, 99.9],
            engine: EngineConfig::default(),
            notify_keyspace_events: 0,
            tracking_table_max_keys: 1_000_000,
            // Redis 7.0's built-in save points (used when no config file sets `save`).
            save: "3600 1 300 100 60 10000".into(),
            stop_writes_on_bgsave_error: true,
            rdbcompression: true,
            rdbchecksum: true,
            enable_protected_configs: "no".into(),
            appendonly: false,
            dir: ".".into(),
            dbfilename: "dump.rdb".into(),
            appendfilename: "appendonly.aof".into(),
            appenddirname: "appendonlydir".into(),
            appendfsync: AppendFsync::Everysec,
            auto_aof_rewrite_percentage: 100,
            auto_aof_rewrite_min_size: 64 << 20,
            aof_load_truncated: true,
            aof_use_rdb_preamble: true,
            pidfile: String::new(),
            metrics_port: 0,
            slowlog_log_slower_than: 10_000,
            slowlog_max_len: 128,
            cluster_enabled: false,
            repl: ReplConfig::default(),
            cluster_config_file: "nodes.conf".to_string(),
            cluster_node_id: String::new(),
            cluster_announce_ip: String::new(),
            enable_debug_command: "no".into(),
            enable_module_command: "no".into(),
            inert: Default::default(),
            config_file: None,
        }
    }
}

impl Config {
    /// Worker threads actually run: the configured count, or [`default_threads`].
    pub fn worker_threads(&self) -> usize {
        match self.threads {
            0 => default_threads(cores()),
            n => n,
        }
    }

    /// Shards actually used: the configured count, or one per worker thread. More shards than
    /// workers cost every keyed command its routing (a CRC16 and a shard look-up: 14% of a
    /// pipelined GET's instructions with one worker and two shards) and buy nothing a worker
    /// can use: a worker that meets a shard a snapshot holds waits for it whichever shard it
    /// is. (`--shards N` still asks for more, to split a waiting line N ways.)
    pub fn shard_count(&self) -> usize {
        match self.shards {
            0 => self.worker_threads(),
            s => s,
        }
    }
}

/// Replication's directives (`replicaof`, `masterauth`, `repl-backlog-size`, ...).
#[derive(Clone, Debug)]
pub struct ReplConfig {
    /// `replicaof host port` (`None`: a primary).
    pub replicaof: Option<(String, u16)>,
    pub masterauth: String,
    pub masteruser: String,
    pub replica_read_only: bool,
    pub replica_serve_stale_data: bool,
    pub repl_backlog_size: u64,
    pub min_replicas_to_write: u64,
    pub min_replicas_max_lag: u64,
    pub replica_priority: u64,
    pub replica_announce_ip: String,
    pub replica_announce_port: u16,
    pub replica_announced: bool,
    pub repl_ping_replica_period: u64,
    pub repl_timeout: u64,
}

impl Default for ReplConfig {
    fn default() -> Self {
        ReplConfig {
            replicaof: None,
            masterauth: String::new(),
            masteruser: String::new(),
            replica_read_only: true,
            replica_serve_stale_data: true,
            repl_backlog_size: 1 << 20,
            min_replicas_to_write: 0,
            min_replicas_max_lag: 10,
            replica_priority: 100,
            replica_announce_ip: String::new(),
            replica_announce_port: 0,
            replica_announced: true,
            repl_ping_replica_period: 10,
            repl_timeout: 60,
        }
    }
}

type Apply = fn(&mut Config, &[String]) -> Result<(), String>;
type Show = fn(&Config) -> String;

/// `appendfsync`: when the AOF's writes reach the disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppendFsync {
    /// Before the reply of every write leaves (one fsync serves a whole group of writes).
    Always,
    /// Once a second, in the background.
    Everysec,
    /// When the OS decides.
    No,
}

impl AppendFsync {
    pub fn name(self) -> &'static str {
        match self {
            AppendFsync::Always => "always",
            AppendFsync::Everysec => "everysec",
            AppendFsync::No => "no",
        }
    }
}

/// A file name that is not a path (Redis's check for `appendfilename`, `appenddirname`).
fn file_name(args: &[String], what: &str) -> Result<String, String> {
    let name = one(args)?;
    if name.contains('/') || name.is_empty() {
        return Err(format!("{what} can't be a path, just a filename"));
    }
    Ok(name.to_string())
}

/// One configuration directive.
pub struct Directive {
    pub name: &'static str,
    /// Older names Redis still accepts (`hash-max-ziplist-entries`).
    pub aliases: &'static [&'static str],
    /// Whether `CONFIG SET` may change it while running.
    pub mutable: bool,
    /// Whether it takes several words (`bind`, `save`, `client-output-buffer-limit`).
    pub multi_arg: bool,
    apply: Apply,
    show: Show,
}

impl Directive {
    pub fn show(&self, config: &Config) -> String {
        (self.show)(config)
    }
}

const fn d(name: &'static str, mutable: bool, apply: Apply, show: Show) -> Directive {
    Directive {
        name,
        aliases: &[],
        mutable,
        multi_arg: false,
        apply,
        show,
    }
}

/// Stores a parsed value (keeps the directive table's closures one expression each).
fn set<T>(slot: &mut T, value: T) -> Result<(), String> {
    *slot = value;
    Ok(())
}

fn one(args: &[String]) -> Result<&str, String> {
    match args {
        [v] => Ok(v),
        _ => Err("wrong number of arguments".into()),
    }
}

fn int_in(args: &[String], min: i64, max: i64) -> Result<i64, String> {
    let v: i64 = one(args)?
        .parse()
        .map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
    if v < min || v > max {
        return Err(format!(
            "argument must be between {min} and {max} inclusive"
        ));
    }
    Ok(v)
}

fn yes_no(args: &[String]) -> Result<bool, String> {
    match one(args)?.to_ascii_lowercase().as_str() {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err("argument must be 'yes' or 'no'".into()),
    }
}

/// A protected action's setting (`enable-debug-command` and the like): `no`, `yes`, or
/// `local` for loopback clients only.
fn protected_setting(args: &[String]) -> Result<String, String> {
    let v = one(args)?.to_ascii_lowercase();
    if !["no", "yes", "local"].contains(&v.as_str()) {
        return Err("argument(s) must be one of the following: no, yes, local".into());
    }
    Ok(v)
}

fn bool_str(v: bool) -> String {
    if v { "yes" } else { "no" }.into()
}

/// Redis's `memtoull`: a byte count with an optional k/kb/m/mb/g/gb unit.
pub fn parse_memory(s: &str) -> Option<u64> {
    let lower = s.to_ascii_lowercase();
    let (digits, mul) = [
        ("gb", 1u64 << 30),
        ("mb", 1 << 20),
        ("kb", 1 << 10),
        ("g", 1_000_000_000),
        ("m", 1_000_000),
        ("k", 1000),
        ("b", 1),
    ]
    .iter()
    .find_map(|(suffix, mul)| lower.strip_suffix(suffix).map(|d| (d.to_string(), *mul)))
    .unwrap_or((lower.clone(), 1));
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(mul)
}

fn memory(args: &[String]) -> Result<u64, String> {
    parse_memory(one(args)?).ok_or_else(|| "argument must be a memory value".into())
}

fn output_limits(c: &mut Config, args: &[String]) -> Result<(), String> {
    let words: Vec<&str> = args.iter().flat_map(|a| a.split_whitespace()).collect();
    if words.is_empty() || !words.len().is_multiple_of(4) {
        return Err("Wrong number of arguments in buffer limit configuration.".into());
    }
    let mut next = c.clone();
    for chunk in words.chunks(4) {
        let bad = || {
            "Error in hard, soft or soft_seconds setting in buffer limit configuration.".to_string()
        };
        let limit = OutputLimit {
            hard_bytes: parse_memory(chunk[1]).ok_or_else(bad)?,
            soft_bytes: parse_memory(chunk[2]).ok_or_else(bad)?,
            soft_seconds: chunk[3].parse().map_err(|_| bad())?,
        };
        match chunk[0].to_ascii_lowercase().as_str() {
            "normal" => next.output_normal = limit,
            "slave" | "replica" => next.output_replica = limit,
            "pubsub" => next.output_pubsub = limit,
            _ => {
                return Err("Invalid client class specified in buffer limit configuration.".into())
            }
        }
    }
    *c = next;
    Ok(())
}

/// `latency-tracking-info-percentiles "50 99 99.9"`: space-separated, each within 0..=100,
/// with Redis's two error texts.
fn percentiles(args: &[String]) -> Result<Vec<f64>, String> {
    args.iter()
        .flat_map(|a| a.split_whitespace())
        .map(|w| match w.parse::<f64>() {
            Ok(p) if (0.0..=100.0).contains(&p) => Ok(p),
            Ok(p) if !p.is_nan() => Err(
                "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"
                    .to_string(),
            ),
            _ => Err("Invalid latency-tracking-info-percentiles parameters".to_string()),
        })
        .collect()
}

fn show_output_limits(c: &Config) -> String {
    let f = |o: &OutputLimit| format!("{} {} {}", o.hard_bytes, o.soft_bytes, o.soft_seconds);
    format!(
        "normal {} slave {} pubsub {}",
        f(&c.output_normal),
        f(&c.output_replica),
        f(&c.output_pubsub)
    )
}

fn show_memory_of(v: u64) -> String {
    v.to_string()
}

/// Redis 7.0's `maxmemory-policy` choices, in its order (its error lists them so).
const MAXMEMORY_POLICIES: [&str; 8] = [
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "noeviction",
];

/// Every directive, in the order `CONFIG GET *` lists them.
pub static DIRECTIVES: &[Directive] = &[
    d(
        "port",
        false,
        |c, a| set(&mut c.port, int_in(a, 0, 65535)? as u16),
        |c| c.port.to_string(),
    ),
    Directive {
        multi_arg: true,
        ..d(
            "bind",
            false,
            |c, a| {
                let words: Vec<String> = a
                    .iter()
                    .flat_map(|w| w.split_whitespace().map(str::to_string))
                    .collect();
                if words.is_empty() {
                    return Err("wrong number of arguments".into());
                }
                c.bind = words;
                Ok(())
            },
            |c| c.bind.join(" "),
        )
    },
    d(
        "threads",
        false,
        |c, a| set(&mut c.threads, int_in(a, 1, 1024)? as usize),
        |c| c.worker_threads().to_string(),
    ),
    d(
        "shards",
        false,
        |c, a| set(&mut c.shards, int_in(a, 0, 16384)? as usize),
        |c| c.shard_count().to_string(),
    ),
    d(
        "databases",
        false,
        |c, a| set(&mut c.databases, int_in(a, 1, i32::MAX as i64)? as usize),
        |c| c.databases.to_string(),
    ),
    d(
        "requirepass",
        true,
        |c, a| set(&mut c.requirepass, one(a)?.to_string()),
        |c| c.requirepass.clone(),
    ),
    d(
        "aclfile",
        false,
        |c, a| set(&mut c.aclfile, one(a)?.to_string()),
        |c| c.aclfile.clone(),
    ),
    d(
        "acllog-max-len",
        true,
        |c, a| set(&mut c.acllog_max_len, int_in(a, 0, i64::MAX)? as usize),
        |c| c.acllog_max_len.to_string(),
    ),
    d(
        "acl-pubsub-default",
        true,
        |c, a| {
            let v = one(a)?.to_ascii_lowercase();
            c.acl_pubsub_default_all = match v.as_str() {
                "allchannels" => true,
                "resetchannels" => false,
                _ => {
                    return Err(
                        "argument(s) must be one of the following: allchannels, resetchannels"
                            .into(),
                    )
                }
            };
            Ok(())
        },
        |c| {
            if c.acl_pubsub_default_all {
                "allchannels".into()
            } else {
                "resetchannels".into()
            }
        },
    ),
    d(
        "tls-port",
        false,
        |c, a| set(&mut c.tls_port, int_in(a, 0, 65535)? as u16),
        |c| c.tls_port.to_string(),
    ),
    d(
        "tls-cert-file",
        true,
        |c, a| set(&mut c.tls_cert_file, one(a)?.to_string()),
        |c| c.tls_cert_file.clone(),
    ),
    d(
        "tls-key-file",
        true,
        |c, a| set(&mut c.tls_key_file, one(a)?.to_string()),
        |c| c.tls_key_file.clone(),
    ),
    d(
        "tls-ca-cert-file",
        true,
        |c, a| set(&mut c.tls_ca_cert_file, one(a)?.to_string()),
        |c| c.tls_ca_cert_file.clone(),
    ),
    d(
        "tls-auth-clients",
        true,
        |c, a| {
            let v = one(a)?.to_ascii_lowercase();
            if !["yes", "no", "optional"].contains(&v.as_str()) {
                return Err("argument(s) must be one of the following: no, yes, optional".into());
            }
            set(&mut c.tls_auth_clients, v)
        },
        |c| c.tls_auth_clients.clone(),
    ),
    d(
        "tls-protocols",
        true,
        |c, a| set(&mut c.tls_protocols, one(a)?.to_string()),
        |c| c.tls_protocols.clone(),
    ),
    d(
        "tls-ciphersuites",
        true,
        |c, a| set(&mut c.tls_ciphersuites, one(a)?.to_string()),
        |c| c.tls_ciphersuites.clone(),
    ),
    d(
        "loglevel",
        true,
        |c, a| {
            let v = one(a)?.to_ascii_lowercase();
            c.loglevel = LogLevel::NAMES
                .iter()
                .find(|(n, _)| *n == v)
                .map(|(_, l)| *l)
                .ok_or(
                    "argument(s) must be one of the following: debug, verbose, notice, warning",
                )?;
            Ok(())
        },
        |c| c.loglevel.name().into(),
    ),
    d(
        "logfile",
        false,
        |c, a| set(&mut c.logfile, one(a)?.to_string()),
        |c| c.logfile.clone(),
    ),
    d(
        "maxclients",
        true,
        |c, a| set(&mut c.maxclients, int_in(a, 1, u32::MAX as i64)? as usize),
        |c| c.maxclients.to_string(),
    ),
    d(
        "timeout",
        true,
        |c, a| set(&mut c.timeout, int_in(a, 0, i32::MAX as i64)? as u64),
        |c| c.timeout.to_string(),
    ),
    d(
        "tcp-keepalive",
        true,
        |c, a| set(&mut c.tcp_keepalive, int_in(a, 0, i32::MAX as i64)? as u64),
        |c| c.tcp_keepalive.to_string(),
    ),
    d(
        "tcp-backlog",
        false,
        |c, a| set(&mut c.tcp_backlog, int_in(a, 0, i32::MAX as i64)? as u32),
        |c| c.tcp_backlog.to_string(),
    ),
    d(
        "protected-mode",
        true,
        |c, a| set(&mut c.protected_mode, yes_no(a)?),
        |c| bool_str(c.protected_mode),
    ),
    d(
        "proto-max-bulk-len",
        true,
        |c, a| {
            let v = memory(a)?;
            if v < 1024 * 1024 || v > i64::MAX as u64 {
                return Err(format!(
                    "argument must be between {} and {} inclusive",
                    1024 * 1024,
                    i64::MAX
                ));
            }
            c.engine.proto_max_bulk_len = v as i64;
            Ok(())
        },
        |c| c.engine.proto_max_bulk_len.to_string(),
    ),
    d(
        "client-query-buffer-limit",
        true,
        |c, a| {
            let v = memory(a)?;
            if v < 1024 * 1024 {
                return Err(format!(
                    "argument must be between {} and {} inclusive",
                    1024 * 1024,
                    i64::MAX
                ));
            }
            c.client_query_buffer_limit = v;
            Ok(())
        },
        |c| show_memory_of(c.client_query_buffer_limit),
    ),
    Directive {
        multi_arg: true,
        ..d(
            "client-output-buffer-limit",
            true,
            output_limits,
            show_output_limits,
        )
    },
    d(
        "maxmemory-clients",
        true,
        |c, a| {
            let v = one(a)?;
            c.maxmemory_clients = match v.strip_suffix('%') {
                Some(p) => {
                    let p = p
                        .parse::<u32>()
                        .map_err(|_| "argument must be a memory or percent value")?;
                    if p > 100 {
                        return Err("percentage argument must be less or equal to 100".into());
                    }
                    ClientMemoryLimit::Percent(p)
                }
                None => ClientMemoryLimit::Bytes(
                    parse_memory(v).ok_or("argument must be a memory or percent value")?,
                ),
            };
            Ok(())
        },
        |c| match c.maxmemory_clients {
            ClientMemoryLimit::Bytes(b) => b.to_string(),
            ClientMemoryLimit::Percent(p) => format!("{p}%"),
        },
    ),
    d(
        "maxmemory",
        true,
        |c, a| set(&mut c.maxmemory, memory(a)?),
        |c| show_memory_of(c.maxmemory),
    ),
    d(
        "maxmemory-policy",
        true,
        |c, a| {
            // Every Redis policy is accepted (an LFU one turns on OBJECT FREQ's counters),
            // but a waiting line is a system of record: usher never evicts, and at the limit
            // writes fail as under `noeviction` (docs/compatibility.md).
            let v = one(a)?.to_ascii_lowercase();
            if !MAXMEMORY_POLICIES.contains(&v.as_str()) {
                return Err(format!(
                    "argument(s) must be one of the following: {}",
                    MAXMEMORY_POLICIES.join(", ")
                ));
            }
            c.engine.lfu.enabled = v.ends_with("-lfu");
            c.maxmemory_policy = v;
            Ok(())
        },
        |c| c.maxmemory_policy.clone(),
    ),
    d(
        "lfu-log-factor",
        true,
        |c, a| {
            set(
                &mut c.engine.lfu.log_factor,
                int_in(a, 0, i32::MAX as i64)? as u32,
            )
        },
        |c| c.engine.lfu.log_factor.to_string(),
    ),
    d(
        "lfu-decay-time",
        true,
        |c, a| {
            set(
                &mut c.engine.lfu.decay_time,
                int_in(a, 0, i32::MAX as i64)? as u32,
            )
        },
        |c| c.engine.lfu.decay_time.to_string(),
    ),
    d(
        "enable-debug-command",
        false,
        |c, a| set(&mut c.enable_debug_command, protected_setting(a)?),
        |c| c.enable_debug_command.clone(),
    ),
    d(
        "enable-module-command",
        false,
        |c, a| set(&mut c.enable_module_command, protected_setting(a)?),
        |c| c.enable_module_command.clone(),
    ),
    d(
        "hz",
        true,
        // Redis accepts any int and clamps it to 1..=500 (updateHZ); CONFIG GET shows the
        // clamped value.
        |c, a| {
            set(
                &mut c.hz,
                int_in(a, 0, i32::MAX as i64)?.clamp(1, 500) as u32,
            )
        },
        |c| c.hz.to_string(),
    ),
    Directive {
        aliases: &["lua-time-limit"],
        ..d(
            "busy-reply-threshold",
            true,
            |c, a| set(&mut c.busy_reply_threshold, int_in(a, 0, i64::MAX)? as u64),
            |c| c.busy_reply_threshold.to_string(),
        )
    },
    d(
        "latency-monitor-threshold",
        true,
        |c, a| {
            set(
                &mut c.latency_monitor_threshold,
                int_in(a, 0, i64::MAX)? as u64,
            )
        },
        |c| c.latency_monitor_threshold.to_string(),
    ),
    d(
        "latency-tracking",
        true,
        |c, a| set(&mut c.latency_tracking, yes_no(a)?),
        |c| bool_str(c.latency_tracking),
    ),
    Directive {
        multi_arg: true,
        ..d(
            "latency-tracking-info-percentiles",
            true,
            |c, a| set(&mut c.latency_tracking_info_percentiles, percentiles(a)?),
            |c| {
                c.latency_tracking_info_percentiles
                    .iter()
                    .map(|&p| crate::latency::format_percentile(p))
                    .collect::<Vec<_>>()
                    .join(" ")
            },
        )
    },
    d(
        "notify-keyspace-events",
        true,
        |c, a| {
            let flags = crate::notify::parse_flags(one(a)?)?;
            c.notify_keyspace_events = flags;
            c.engine.notify_classes = crate::notify::published_classes(flags);
            Ok(())
        },
        |c| crate::notify::format_flags(c.notify_keyspace_events),
    ),
    d(
        "tracking-table-max-keys",
        true,
        |c, a| {
            set(
                &mut c.tracking_table_max_keys,
                int_in(a, 0, i64::MAX)? as u64,
            )
        },
        |c| c.tracking_table_max_keys.to_string(),
    ),
    Directive {
        aliases: &["hash-max-ziplist-entries"],
        ..d(
            "hash-max-listpack-entries",
            true,
            |c, a| {
                set(
                    &mut c.engine.hash_max_listpack_entries,
                    int_in(a, 0, i64::MAX)? as usize,
                )
            },
            |c| c.engine.hash_max_listpack_entries.to_string(),
        )
    },
    Directive {
        aliases: &["hash-max-ziplist-value"],
        ..d(
            "hash-max-listpack-value",
            true,
            |c, a| set(&mut c.engine.hash_max_listpack_value, memory(a)? as usize),
            |c| c.engine.hash_max_listpack_value.to_string(),
        )
    },
    d(
        "set-max-intset-entries",
        true,
        |c, a| {
            set(
                &mut c.engine.set_max_intset_entries,
                int_in(a, 0, i64::MAX)? as usize,
            )
        },
        |c| c.engine.set_max_intset_entries.to_string(),
    ),
    Directive {
        aliases: &["zset-max-ziplist-entries"],
        ..d(
            "zset-max-listpack-entries",
            true,
            |c, a| {
                set(
                    &mut c.engine.zset_max_listpack_entries,
                    int_in(a, 0, i64::MAX)? as usize,
                )
            },
            |c| c.engine.zset_max_listpack_entries.to_string(),
        )
    },
    Directive {
        aliases: &["zset-max-ziplist-value"],
        ..d(
            "zset-max-listpack-value",
            true,
            |c, a| set(&mut c.engine.zset_max_listpack_value, memory(a)? as usize),
            |c| c.engine.zset_max_listpack_value.to_string(),
        )
    },
    d(
        "hll-sparse-max-bytes",
        true,
        |c, a| set(&mut c.engine.hll_sparse_max_bytes, memory(a)? as usize),
        |c| c.engine.hll_sparse_max_bytes.to_string(),
    ),
    Directive {
        aliases: &["list-max-ziplist-size"],
        ..d(
            "list-max-listpack-size",
            true,
            |c, a| {
                set(
                    &mut c.engine.list_max_listpack_size,
                    int_in(a, i32::MIN as i64, i32::MAX as i64)?,
                )
            },
            |c| c.engine.list_max_listpack_size.to_string(),
        )
    },
    d(
        "stream-node-max-bytes",
        true,
        |c, a| set(&mut c.engine.stream_node_max_bytes, memory(a)? as usize),
        |c| c.engine.stream_node_max_bytes.to_string(),
    ),
    d(
        "stream-node-max-entries",
        true,
        |c, a| {
            set(
                &mut c.engine.stream_node_max_entries,
                int_in(a, 0, i64::MAX)?,
            )
        },
        |c| c.engine.stream_node_max_entries.to_string(),
    ),
    d(
        "token-secret",
        true,
        |c, a| {
            c.engine.token_secret = one(a)?.as_bytes().to_vec();
            Ok(())
        },
        // Never shown: anyone who can run CONFIG GET could otherwise forge admission tokens.
        |c| {
            if c.engine.token_secret.is_empty() {
                String::new()
            } else {
                "(redacted)".to_string()
            }
        },
    ),
    d(
        "token-signing-key",
        false,
        |c, a| set(&mut c.token_signing_key, one(a)?.to_string()),
        |c| c.token_signing_key.clone(),
    ),
    d(
        "queue-now-max-skew",
        true,
        |c, a| {
            set(
                &mut c.engine.queue_now_max_skew_ms,
                int_in(a, 0, usher_engine::queue::MAX_TIME_MS)?,
            )
        },
        |c| c.engine.queue_now_max_skew_ms.to_string(),
    ),
    Directive {
        multi_arg: true,
        ..d(
            "save",
            true,
            |c, a| {
                let text = a.join(" ");
                parse_save_points(&text)?;
                set(
                    &mut c.save,
                    text.split_whitespace().collect::<Vec<_>>().join(" "),
                )
            },
            |c| c.save.clone(),
        )
    },
    d(
        "stop-writes-on-bgsave-error",
        true,
        |c, a| set(&mut c.stop_writes_on_bgsave_error, yes_no(a)?),
        |c| bool_str(c.stop_writes_on_bgsave_error),
    ),
    d(
        "rdbcompression",
        true,
        |c, a| set(&mut c.rdbcompression, yes_no(a)?),
        |c| bool_str(c.rdbcompression),
    ),
    d(
        "rdbchecksum",
        false,
        |c, a| set(&mut c.rdbchecksum, yes_no(a)?),
        |c| bool_str(c.rdbchecksum),
    ),
    d(
        "enable-protected-configs",
        false,
        |c, a| set(&mut c.enable_protected_configs, protected_setting(a)?),
        |c| c.enable_protected_configs.clone(),
    ),
    d(
        "appendonly",
        true,
        |c, a| set(&mut c.appendonly, yes_no(a)?),
        |c| bool_str(c.appendonly),
    ),
    d(
        "dir",
        true,
        |c, a| {
            let dir = one(a)?;
            if !std::path::Path::new(dir).is_dir() {
                return Err("No such file or directory".into());
            }
            set(&mut c.dir, dir.to_string())
        },
        |c| c.dir.clone(),
    ),
    d(
        "dbfilename",
        true,
        |c, a| {
            let name = one(a)?;
            if name.contains('/') {
                return Err("dbfilename can't be a path, just a filename".into());
            }
            set(&mut c.dbfilename, name.to_string())
        },
        |c| c.dbfilename.clone(),
    ),
    d(
        "appendfilename",
        false,
        |c, a| set(&mut c.appendfilename, file_name(a, "appendfilename")?),
        |c| c.appendfilename.clone(),
    ),
    d(
        "appenddirname",
        false,
        |c, a| set(&mut c.appenddirname, file_name(a, "appenddirname")?),
        |c| c.appenddirname.clone(),
    ),
    d(
        "appendfsync",
        true,
        |c, a| {
            let v = match one(a)?.to_ascii_lowercase().as_str() {
                "always" => AppendFsync::Always,
                "everysec" => AppendFsync::Everysec,
                "no" => AppendFsync::No,
                _ => {
                    return Err(
                        "argument(s) must be one of the following: always, everysec, no".into(),
                    )
                }
            };
            set(&mut c.appendfsync, v)
        },
        |c| c.appendfsync.name().into(),
    ),
    d(
        "auto-aof-rewrite-percentage",
        true,
        |c, a| {
            set(
                &mut c.auto_aof_rewrite_percentage,
                int_in(a, 0, i32::MAX as i64)? as u64,
            )
        },
        |c| c.auto_aof_rewrite_percentage.to_string(),
    ),
    d(
        "auto-aof-rewrite-min-size",
        true,
        |c, a| set(&mut c.auto_aof_rewrite_min_size, memory(a)?),
        |c| c.auto_aof_rewrite_min_size.to_string(),
    ),
    d(
        "aof-load-truncated",
        true,
        |c, a| set(&mut c.aof_load_truncated, yes_no(a)?),
        |c| bool_str(c.aof_load_truncated),
    ),
    d(
        "aof-use-rdb-preamble",
        true,
        |c, a| set(&mut c.aof_use_rdb_preamble, yes_no(a)?),
        |c| bool_str(c.aof_use_rdb_preamble),
    ),
    d(
        "pidfile",
        false,
        |c, a| set(&mut c.pidfile, one(a)?.to_string()),
        |c| c.pidfile.clone(),
    ),
    d(
        "daemonize",
        false,
        |_, a| match yes_no(a)? {
            false => Ok(()),
            true => {
                Err("usher does not daemonize; run it under a supervisor (systemd, docker)".into())
            }
        },
        |_| "no".into(),
    ),
    d(
        "metrics-port",
        false,
        |c, a| set(&mut c.metrics_port, int_in(a, 0, 65535)? as u16),
        |c| c.metrics_port.to_string(),
    ),
    d(
        "slowlog-log-slower-than",
        true,
        |c, a| {
            set(
                &mut c.slowlog_log_slower_than,
                int_in(a, i64::MIN, i64::MAX)?,
            )
        },
        |c| c.slowlog_log_slower_than.to_string(),
    ),
    d(
        "slowlog-max-len",
        true,
        |c, a| set(&mut c.slowlog_max_len, int_in(a, 0, i64::MAX)? as usize),
        |c| c.slowlog_max_len.to_string(),
    ),
    d(
        "cluster-enabled",
        false,
        |c, a| {
            c.cluster_enabled = yes_no(a)?;
            c.engine.cluster_enabled = c.cluster_enabled;
            Ok(())
        },
        |c| bool_str(c.cluster_enabled),
    ),
    d(
        "cluster-config-file",
        false,
        |c, a| set(&mut c.cluster_config_file, one(a)?.to_string()),
        |c| c.cluster_config_file.clone(),
    ),
    d(
        "cluster-node-id",
        false,
        |c, a| {
            let id = one(a)?;
            if !usher_cluster::valid_node_id(id) {
                return Err("a node id is 40 hexadecimal characters".into());
            }
            set(&mut c.cluster_node_id, id.to_ascii_lowercase())
        },
        |c| c.cluster_node_id.clone(),
    ),
    d(
        "cluster-announce-ip",
        true,
        |c, a| set(&mut c.cluster_announce_ip, one(a)?.to_string()),
        |c| c.cluster_announce_ip.clone(),
    ),
    Directive {
        aliases: &["slaveof"],
        multi_arg: true,
        // Start-up only here: at run time REPLICAOF starts and stops the link.
        ..d(
            "replicaof",
            false,
            |c, a| {
                let words: Vec<&str> = a.iter().flat_map(|w| w.split_whitespace()).collect();
                c.repl.replicaof = match words[..] {
                    [] => None,
                    [h, p] if h.eq_ignore_ascii_case("no") && p.eq_ignore_ascii_case("one") => None,
                    [h, p] => Some((
                        h.to_string(),
                        p.parse().map_err(|_| "Invalid master port".to_string())?,
                    )),
                    _ => return Err("wrong number of arguments".into()),
                };
                Ok(())
            },
            |c| {
                c.repl
                    .replicaof
                    .as_ref()
                    .map_or(String::new(), |(h, p)| format!("{h} {p}"))
            },
        )
    },
    d(
        "masterauth",
        true,
        |c, a| set(&mut c.repl.masterauth, one(a)?.to_string()),
        |c| c.repl.masterauth.clone(),
    ),
    d(
        "masteruser",
        true,
        |c, a| set(&mut c.repl.masteruser, one(a)?.to_string()),
        |c| c.repl.masteruser.clone(),
    ),
    Directive {
        aliases: &["slave-read-only"],
        ..d(
            "replica-read-only",
            true,
            |c, a| set(&mut c.repl.replica_read_only, yes_no(a)?),
            |c| bool_str(c.repl.replica_read_only),
        )
    },
    Directive {
        aliases: &["slave-serve-stale-data"],
        ..d(
            "replica-serve-stale-data",
            true,
            |c, a| set(&mut c.repl.replica_serve_stale_data, yes_no(a)?),
            |c| bool_str(c.repl.replica_serve_stale_data),
        )
    },
    d(
        "repl-backlog-size",
        true,
        |c, a| set(&mut c.repl.repl_backlog_size, memory(a)?.max(16 * 1024)),
        |c| c.repl.repl_backlog_size.to_string(),
    ),
    Directive {
        aliases: &["min-slaves-to-write"],
        ..d(
            "min-replicas-to-write",
            true,
            |c, a| {
                set(
                    &mut c.repl.min_replicas_to_write,
                    int_in(a, 0, i32::MAX as i64)? as u64,
                )
            },
            |c| c.repl.min_replicas_to_write.to_string(),
        )
    },
    Directive {
        aliases: &["min-slaves-max-lag"],
        ..d(
            "min-replicas-max-lag",
            true,
            |c, a| {
                set(
                    &mut c.repl.min_replicas_max_lag,
                    int_in(a, 0, i32::MAX as i64)? as u64,
                )
            },
            |c| c.repl.min_replicas_max_lag.to_string(),
        )
    },
    Directive {
        aliases: &["slave-priority"],
        ..d(
            "replica-priority",
            true,
            |c, a| {
                set(
                    &mut c.repl.replica_priority,
                    int_in(a, 0, i32::MAX as i64)? as u64,
                )
            },
            |c| c.repl.replica_priority.to_string(),
        )
    },
    Directive {
        aliases: &["slave-announce-ip"],
        ..d(
            "replica-announce-ip",
            true,
            |c, a| set(&mut c.repl.replica_announce_ip, one(a)?.to_string()),
            |c| c.repl.replica_announce_ip.clone(),
        )
    },
    Directive {
        aliases: &["slave-announce-port"],
        ..d(
            "replica-announce-port",
            true,
            |c, a| {
                set(
                    &mut c.repl.replica_announce_port,
                    int_in(a, 0, 65535)? as u16,
                )
            },
            |c| c.repl.replica_announce_port.to_string(),
        )
    },
    d(
        "replica-announced",
        true,
        |c, a| set(&mut c.repl.replica_announced, yes_no(a)?),
        |c| bool_str(c.repl.replica_announced),
    ),
    Directive {
        aliases: &["repl-ping-slave-period"],
        ..d(
            "repl-ping-replica-period",
            true,
            |c, a| {
                set(
                    &mut c.repl.repl_ping_replica_period,
                    int_in(a, 1, i32::MAX as i64)? as u64,
                )
            },
            |c| c.repl.repl_ping_replica_period.to_string(),
        )
    },
    d(
        "repl-timeout",
        true,
        |c, a| {
            set(
                &mut c.repl.repl_timeout,
                int_in(a, 1, i32::MAX as i64)? as u64,
            )
        },
        |c| c.repl.repl_timeout.to_string(),
    ),
];

/// Parses `save` ("3600 1 300 100", or "" for none) into (seconds, changes) pairs. Here
/// rather than in `crate::persistence`, which acts on the points: validating the directive
/// then needs no import upward.
pub fn parse_save_points(s: &str) -> Result<Vec<(i64, u64)>, String> {
    let words: Vec<&str> = s.split_whitespace().collect();
    if !words.len().is_multiple_of(2) {
        return Err("Invalid save parameters".into());
    }
    words
        .chunks(2)
        .map(|c| match (c[0].parse::<i64>(), c[1].parse::<u64>()) {
            (Ok(secs), Ok(changes)) if secs >= 0 => Ok((secs, changes)),
            _ => Err("Invalid save parameters".into()),
        })
        .collect()
}

/// What CONFIG REWRITE writes for `d`: its shown value, except for a secret CONFIG GET
/// redacts (`token-secret`), which the file must keep for real.
pub fn stored_value(d: &Directive, config: &Config) -> String {
    if d.name == "token-secret" {
        return String::from_utf8_lossy(&config.engine.token_secret).into_owned();
    }
    d.show(config)
}

/// What CONFIG REWRITE writes for a config file's `text`: each directive line of the file
/// with its current value (repeated directives once, comments and other lines as they are),
/// then every directive the file lacks whose value differs from its default. `user` lines
/// are dropped: the caller writes the live ACL users.
pub fn rewrite_lines(text: &str, config: &Config) -> Vec<String> {
    let defaults = Config::default();
    let mut written: Vec<&str> = Vec::new();
    let mut lines: Vec<String> = Vec::new();
    for line in text.lines() {
        // The name as the loader reads it (quotes, escapes), so that a line the loader applies
        // is never kept verbatim after its rewritten value, undoing it.
        let words = line_words(line).unwrap_or_default();
        let name = words.first().map_or("", String::as_str);
        if name.eq_ignore_ascii_case("user") {
            continue;
        }
        match find(name) {
            Some(d) if written.contains(&d.name) => {}
            Some(d) => {
                written.push(d.name);
                lines.push(rewrite_line(d, config));
            }
            None => lines.push(line.to_string()),
        }
    }
    for d in all() {
        if !written.contains(&d.name) && d.show(config) != d.show(&defaults) {
            lines.push(rewrite_line(d, config));
        }
    }
    lines
}

/// The line CONFIG REWRITE writes for `d`: its name and its stored value, quoted where the
/// value is empty or has spaces.
fn rewrite_line(d: &Directive, config: &Config) -> String {
    format!("{} {}", d.name, quote(&stored_value(d, config)))
}

/// A value as one config-file word: bare when it is plain, else in double quotes with
/// Redis's `sdscatrepr` escapes, so that the file's parser reads back exactly `v` (a value
/// with a quote, a backslash or a newline must not end or break the line).
fn quote(v: &str) -> String {
    let plain = |b: u8| b.is_ascii_graphic() && !matches!(b, b'"' | b'\'' | b'\\');
    if !v.is_empty() && v.bytes().all(plain) {
        return v.to_string();
    }
    let mut out = String::with_capacity(v.len() + 2);
    crate::repr::repr(&mut out, v.as_bytes());
    out
}

/// Every directive: usher's own first, then those it accepts without acting on them.
pub fn all() -> impl Iterator<Item = &'static Directive> {
    DIRECTIVES.iter().chain(inert::DIRECTIVES)
}

/// The directive named `name` (case-insensitive, aliases included).
pub fn find(name: &str) -> Option<&'static Directive> {
    all().find(|d| {
        d.name.eq_ignore_ascii_case(name) || d.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
    })
}

/// Applies one directive with its arguments.
pub fn apply(config: &mut Config, name: &str, args: &[String]) -> Result<(), String> {
    let directive =
        find(name).ok_or_else(|| "Bad directive or wrong number of arguments".to_string())?;
    // A known directive with the wrong count gets Redis's shorter text.
    if args.is_empty() || (!directive.multi_arg && args.len() != 1) {
        return Err("wrong number of arguments".into());
    }
    (directive.apply)(config, args)
}

/// A fatal configuration error, formatted as Redis prints it.
#[derive(Debug)]
pub struct ConfigError {
    pub line_no: usize,
    pub line: String,
    pub reason: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "\n*** FATAL CONFIG FILE ERROR (usher {}) ***",
            env!("CARGO_PKG_VERSION")
        )?;
        writeln!(
            f,
            "Reading the configuration file, at line {}",
            self.line_no
        )?;
        writeln!(f, ">>> '{}'", self.line)?;
        write!(f, "{}", self.reason)
    }
}

/// Parses redis.conf text (directives one per line, `#` comments, quoted arguments) into
/// `config`.
pub fn load_text(config: &mut Config, text: &str) -> Result<(), ConfigError> {
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        let err = |reason: String| ConfigError {
            line_no: i + 1,
            line: line.to_string(),
            reason,
        };
        let Some(words) = line_words(line) else {
            return Err(err("Unbalanced quotes in configuration line".into()));
        };
        let Some((name, args)) = words.split_first() else {
            continue;
        };
        if name.eq_ignore_ascii_case("user") {
            // ACL users: checked when the ACL is built at start-up (crate::acl).
            if args.is_empty() {
                return Err(err("wrong number of arguments".into()));
            }
            config.acl_users.push(args.to_vec());
            continue;
        }
        apply(config, name, args).map_err(err)?;
    }
    Ok(())
}

/// The words of one config-file line as redis.conf's parser splits them (`sdssplitargs`):
/// none for a blank line or a comment, `None` for unbalanced quotes.
fn line_words(line: &str) -> Option<Vec<String>> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Some(Vec::new());
    }
    let (mut data, mut spans) = (Vec::new(), Vec::new());
    if !usher_protocol::parse::split_args(line.as_bytes(), &mut data, &mut spans) {
        return None;
    }
    Some(
        spans
            .iter()
            .map(|&(s, e)| String::from_utf8_lossy(&data[s..e]).into_owned())
            .collect(),
    )
}

/// What the command line asked for.
pub enum Invocation {
    Run(Box<Config>),
    Version,
    Help,
}

/// Builds the configuration like `redis-server [config-file] [--directive value ...]`: the file
/// first, then each flag as if it were a line appended to it.
pub fn from_args(args: &[String]) -> Result<Invocation, String> {
    let mut rest = args;
    match rest.first().map(String::as_str) {
        Some("-v" | "--version") => return Ok(Invocation::Version),
        Some("-h" | "--help") => return Ok(Invocation::Help),
        _ => {}
    }
    let mut text = String::new();
    let mut config = Config::default();
    if let Some(path) = rest.first().filter(|a| !a.starts_with("--")) {
        text = std::fs::read_to_string(path).map_err(|e| {
            // Redis's wording: the absolute path and strerror's text, no Rust error code.
            let shown = std::path::absolute(path).map_or(path.clone(), |p| p.display().to_string());
            let reason = usher_protocol::errors::strerror(&e);
            format!("Fatal error, can't open config file '{shown}': {reason}")
        })?;
        if !text.ends_with('\n') {
            text.push('\n');
        }
        config.config_file = Some(
            std::fs::canonicalize(path)
                .map(|p| p.display().to_string())
                .unwrap_or(path.clone()),
        );
        rest = &rest[1..];
    }
    // Like Redis, the flags follow the file after one empty line, so an error in the first flag
    // is reported at the file's line count + 2 (line 2 without a file).
    if !rest.is_empty() {
        text.push('\n');
    }
    let mut current: Option<String> = None;
    for arg in rest {
        if let Some(name) = arg.strip_prefix("--") {
            if let Some(line) = current.take() {
                text.push_str(&line);
                text.push('\n');
            }
            current = Some(name.to_string());
        } else {
            let line = current
                .as_mut()
                .ok_or_else(|| format!("Invalid argument '{arg}': options start with --"))?;
            let _ = write!(
                line,
                " \"{}\"",
                arg.replace('\\', "\\\\").replace('"', "\\\"")
            );
        }
    }
    if let Some(line) = current {
        text.push_str(&line);
        text.push('\n');
    }
    load_text(&mut config, &text).map_err(|e| e.to_string())?;
    Ok(Invocation::Run(Box::new(config)))
}

/// `CONFIG SET`'s error text for a directive whose value was refused.
pub fn set_error(name: &str, reason: &str) -> String {
    format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {reason}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fuzz finding (config_file): CONFIG REWRITE wrote a value with a quote and a space bare
    /// (`requirepass a "b`) and one with a newline across two lines; the file then did not load.
    #[test]
    fn rewritten_values_load_back_whatever_their_bytes() {
        let mut c = Config::default();
        let password = "a \"b\\c\nd\x01\u{e9}'";
        apply(&mut c, "requirepass", &[password.to_string()]).unwrap();
        let text = rewrite_lines("requirepass old\n", &c).join("\n");
        let mut back = Config::default();
        load_text(&mut back, &text).unwrap();
        assert_eq!(back.requirepass, password);
        assert_eq!(rewrite_lines("", &Config::default()), Vec::<String>::new());
    }

    /// Fuzz finding (config_file): CONFIG REWRITE found directive names by whitespace, the
    /// loader by redis.conf's quoting rules, so a line the loader applied (`"port" 2`) was kept
    /// verbatim after the rewritten value and undid it on the next start.
    #[test]
    fn rewrite_reads_directive_names_as_the_loader_does() {
        let file = "port 1\n\"port\" 2\n'maxmemory' 5mb\n";
        let mut c = Config::default();
        load_text(&mut c, file).unwrap();
        apply(&mut c, "port", &["3".into()]).unwrap();
        let rewritten = rewrite_lines(file, &c);
        assert_eq!(rewritten, vec!["port 3", "maxmemory 5242880"]);
    }

    fn args(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn defaults_serve_on_loopback_6379() {
        let Invocation::Run(c) = from_args(&[]).unwrap() else {
            panic!()
        };
        assert_eq!(
            (c.port, c.bind.clone()),
            (6379, vec!["127.0.0.1".to_string()])
        );
        assert_eq!(c.databases, 16);
        assert_eq!(c.maxclients, 10_000);
        assert!(c.protected_mode);
    }

    #[test]
    fn flags_are_directives() {
        let Invocation::Run(c) = from_args(&args(&[
            "--port",
            "7000",
            "--bind",
            "127.0.0.1",
            "::1",
            "--maxmemory",
            "1gb",
        ]))
        .unwrap() else {
            panic!()
        };
        assert_eq!(c.port, 7000);
        assert_eq!(c.bind, vec!["127.0.0.1", "::1"]);
        assert_eq!(c.maxmemory, 1 << 30);
    }

    #[test]
    fn bad_directives_name_the_line() {
        let mut c = Config::default();
        let err = load_text(&mut c, "port 7000\n# comment\nfoo bar\n").unwrap_err();
        assert_eq!((err.line_no, err.line.as_str()), (3, "foo bar"));
        assert_eq!(err.reason, "Bad directive or wrong number of arguments");
        let err = load_text(&mut c, "maxclients many\n").unwrap_err();
        assert_eq!(err.reason, "argument couldn't be parsed into an integer");
        assert!(err.to_string().contains(">>> 'maxclients many'"));
    }

    #[test]
    fn memory_units_follow_redis() {
        assert_eq!(parse_memory("1k"), Some(1000));
        assert_eq!(parse_memory("1KB"), Some(1024));
        assert_eq!(parse_memory("32mb"), Some(32 << 20));
        assert_eq!(parse_memory("2g"), Some(2_000_000_000));
        assert_eq!(parse_memory("12"), Some(12));
        assert_eq!(parse_memory("1zz"), None);
        assert_eq!(parse_memory("-1"), None);
    }

    #[test]
    fn output_limits_parse_per_class() {
        let mut c = Config::default();
        load_text(&mut c, "client-output-buffer-limit pubsub 1mb 512kb 10\n").unwrap();
        assert_eq!(
            c.output_pubsub,
            OutputLimit {
                hard_bytes: 1 << 20,
                soft_bytes: 512 << 10,
                soft_seconds: 10
            }
        );
        assert_eq!(
            show_output_limits(&c),
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 1048576 524288 10"
        );
    }
}
