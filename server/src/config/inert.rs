//! Directives redis-server 7.0.15 lists in `CONFIG GET *` that have no effect in usher:
//! replication, TLS session tuning, active defrag, lazy-free switches, stream and list node
//! tuning, process titles and the like. They are accepted by the config file, flags and
//! `CONFIG SET` with Redis's own validation (type, range, choices, immutability) and shown by
//! `CONFIG GET`, so tools that set or read them (and config files written for Redis) work.
//!
//! The table was read off a running redis-server 7.0.15: each name's default, whether
//! `CONFIG SET` refuses it as immutable, and the error a bad value gets (which gives the type
//! and the range). A directive that gains a real effect moves to `config.rs`'s table, which is
//! searched first. docs/compatibility.md says why each group is inert.

use super::{bool_str, int_in, memory, one, yes_no, Config, Directive};

/// How an inert directive's value is checked (Redis's config types).
pub enum Kind {
    Bool,
    Int(i64, i64),
    Mem,
    Enum(&'static [&'static str]),
    Str,
    /// `oom-score-adj-values`: three integers.
    OomValues,
}

/// Validates `args` for a directive of `kind` and returns the value `CONFIG GET` shows.
fn normalize(kind: &Kind, args: &[String]) -> Result<String, String> {
    Ok(match kind {
        Kind::Bool => bool_str(yes_no(args)?),
        Kind::Int(min, max) => int_in(args, *min, *max)?.to_string(),
        Kind::Mem => memory(args)?.to_string(),
        Kind::Enum(choices) => {
            let v = one(args)?.to_ascii_lowercase();
            if !choices.contains(&v.as_str()) {
                return Err(format!(
                    "argument(s) must be one of the following: {}",
                    choices.join(", ")
                ));
            }
            v
        }
        Kind::Str => one(args)?.to_string(),
        Kind::OomValues => {
            let words: Vec<&str> = args.iter().flat_map(|a| a.split_whitespace()).collect();
            if words.len() != 3 {
                return Err("wrong number of arguments".into());
            }
            for w in &words {
                match w.parse::<i64>() {
                    Ok(v) if (-2000..=2000).contains(&v) => {}
                    _ => return Err("Invalid oom-score-adj-values".into()),
                }
            }
            words.join(" ")
        }
    })
}

/// Stores a checked value of the directive `name`.
fn apply(c: &mut Config, name: &'static str, kind: &Kind, args: &[String]) -> Result<(), String> {
    let value = normalize(kind, args)?;
    c.inert.insert(name, value);
    Ok(())
}

/// The value set for `name`, or Redis's default.
fn show(c: &Config, name: &str, default: &str) -> String {
    c.inert
        .get(name)
        .cloned()
        .unwrap_or_else(|| default.to_string())
}

macro_rules! inert {
    (@aliases) => { &[] };
    (@aliases $aliases:expr) => { $aliases };
    ($name:literal, $mutable:expr, $kind:expr, $default:literal $(, $aliases:expr)?) => {
        Directive {
            name: $name,
            aliases: inert!(@aliases $($aliases)?),
            mutable: $mutable,
            multi_arg: matches!($kind, Kind::OomValues),
            apply: |c, a| {
                use Kind::*;
                apply(c, $name, &$kind, a)
            },
            show: |c| show(c, $name, $default),
        }
    };
}

use Kind::*;

/// Every inert directive, in name order.
pub static DIRECTIVES: &[Directive] = &[
    inert!(
        "acl-pubsub-default",
        true,
        Enum(&["allchannels", "resetchannels"]),
        "resetchannels"
    ),
    inert!("aclfile", false, Str, ""),
    inert!("acllog-max-len", true, Int(0, i64::MAX), "128"),
    inert!("active-defrag-cycle-max", true, Int(1, 99), "25"),
    inert!("active-defrag-cycle-min", true, Int(1, 99), "1"),
    inert!("active-defrag-ignore-bytes", true, Mem, "104857600"),
    inert!(
        "active-defrag-max-scan-fields",
        true,
        Int(1, i64::MAX),
        "1000"
    ),
    inert!("active-defrag-threshold-lower", true, Int(0, 1000), "10"),
    inert!("active-defrag-threshold-upper", true, Int(0, 1000), "100"),
    inert!("active-expire-effort", true, Int(1, 10), "1"),
    inert!("activedefrag", true, Bool, "no"),
    inert!("activerehashing", true, Bool, "yes"),
    inert!("always-show-logo", false, Bool, "no"),
    inert!("aof-disable-auto-gc", true, Bool, "no"),
    inert!("aof-rewrite-incremental-fsync", true, Bool, "yes"),
    inert!("aof-timestamp-enabled", true, Bool, "no"),
    inert!("aof_rewrite_cpulist", false, Str, ""),
    inert!("bgsave_cpulist", false, Str, ""),
    inert!("bind-source-addr", true, Str, ""),
    inert!("bio_cpulist", false, Str, ""),
    inert!("cluster-allow-pubsubshard-when-down", true, Bool, "yes"),
    inert!("cluster-allow-reads-when-down", true, Bool, "no"),
    inert!("cluster-allow-replica-migration", true, Bool, "yes"),
    inert!("cluster-announce-bus-port", true, Int(0, 65535), "0"),
    inert!("cluster-announce-hostname", true, Str, ""),
    inert!("cluster-announce-port", true, Int(0, 65535), "0"),
    inert!("cluster-announce-tls-port", true, Int(0, 65535), "0"),
    inert!("cluster-link-sendbuf-limit", true, Mem, "0"),
    inert!("cluster-migration-barrier", true, Int(0, 2147483647), "1"),
    inert!("cluster-node-timeout", true, Int(0, i64::MAX), "15000"),
    inert!("cluster-port", false, Int(i64::MIN, i64::MAX), "0"),
    inert!(
        "cluster-preferred-endpoint-type",
        true,
        Enum(&["ip", "hostname", "unknown-endpoint"]),
        "ip"
    ),
    inert!(
        "cluster-replica-no-failover",
        true,
        Bool,
        "no",
        &["cluster-slave-no-failover"]
    ),
    inert!(
        "cluster-replica-validity-factor",
        true,
        Int(0, 2147483647),
        "10",
        &["cluster-slave-validity-factor"]
    ),
    inert!("cluster-require-full-coverage", true, Bool, "yes"),
    inert!("crash-log-enabled", true, Bool, "yes"),
    inert!("crash-memcheck-enabled", true, Bool, "yes"),
    inert!("disable-thp", false, Bool, "yes"),
    inert!("dynamic-hz", true, Bool, "yes"),
    inert!("ignore-warnings", true, Str, ""),
    inert!("io-threads", false, Int(i64::MIN, i64::MAX), "1"),
    inert!("io-threads-do-reads", false, Bool, "no"),
    inert!("jemalloc-bg-thread", true, Bool, "yes"),
    inert!("lazyfree-lazy-eviction", true, Bool, "no"),
    inert!("lazyfree-lazy-expire", true, Bool, "no"),
    inert!("lazyfree-lazy-server-del", true, Bool, "no"),
    inert!("lazyfree-lazy-user-del", true, Bool, "no"),
    inert!("lazyfree-lazy-user-flush", true, Bool, "no"),
    inert!("list-compress-depth", true, Int(0, 2147483647), "0"),
    inert!("masterauth", true, Str, ""),
    inert!("masteruser", true, Str, ""),
    inert!("maxmemory-eviction-tenacity", true, Int(0, 100), "10"),
    inert!("maxmemory-samples", true, Int(1, 2147483647), "5"),
    inert!(
        "min-replicas-max-lag",
        true,
        Int(0, 2147483647),
        "10",
        &["min-slaves-max-lag"]
    ),
    inert!(
        "min-replicas-to-write",
        true,
        Int(0, 2147483647),
        "0",
        &["min-slaves-to-write"]
    ),
    inert!("no-appendfsync-on-rewrite", true, Bool, "no"),
    inert!(
        "oom-score-adj",
        true,
        Enum(&["no", "yes", "relative", "absolute"]),
        "no"
    ),
    inert!("oom-score-adj-values", true, OomValues, "0 200 800"),
    inert!(
        "proc-title-template",
        true,
        Str,
        "{title} {listen-addr} {server-mode}"
    ),
    inert!(
        "propagation-error-behavior",
        true,
        Enum(&["ignore", "panic", "panic-on-replicas"]),
        "ignore"
    ),
    inert!("rdb-del-sync-files", true, Bool, "no"),
    inert!("rdb-save-incremental-fsync", true, Bool, "yes"),
    inert!("repl-backlog-size", true, Mem, "1048576"),
    inert!("repl-backlog-ttl", true, Int(0, i64::MAX), "3600"),
    inert!("repl-disable-tcp-nodelay", true, Bool, "no"),
    inert!(
        "repl-diskless-load",
        true,
        Enum(&["disabled", "on-empty-db", "swapdb"]),
        "disabled"
    ),
    inert!("repl-diskless-sync", true, Bool, "yes"),
    inert!("repl-diskless-sync-delay", true, Int(0, 2147483647), "5"),
    inert!(
        "repl-diskless-sync-max-replicas",
        true,
        Int(0, 2147483647),
        "0"
    ),
    inert!(
        "repl-ping-replica-period",
        true,
        Int(1, 2147483647),
        "10",
        &["repl-ping-slave-period"]
    ),
    inert!("repl-timeout", true, Int(1, 2147483647), "60"),
    inert!("replica-announce-ip", true, Str, "", &["slave-announce-ip"]),
    inert!(
        "replica-announce-port",
        true,
        Int(0, 65535),
        "0",
        &["slave-announce-port"]
    ),
    inert!("replica-announced", true, Bool, "yes"),
    inert!("replica-ignore-disk-write-errors", true, Bool, "no"),
    inert!(
        "replica-ignore-maxmemory",
        true,
        Bool,
        "yes",
        &["slave-ignore-maxmemory"]
    ),
    inert!(
        "replica-lazy-flush",
        true,
        Bool,
        "no",
        &["slave-lazy-flush"]
    ),
    inert!(
        "replica-priority",
        true,
        Int(0, 2147483647),
        "100",
        &["slave-priority"]
    ),
    inert!("replica-read-only", true, Bool, "yes", &["slave-read-only"]),
    inert!(
        "replica-serve-stale-data",
        true,
        Bool,
        "yes",
        &["slave-serve-stale-data"]
    ),
    inert!("replicaof", false, Str, "", &["slaveof"]),
    inert!(
        "sanitize-dump-payload",
        true,
        Enum(&["no", "yes", "clients"]),
        "no"
    ),
    inert!("server_cpulist", false, Str, ""),
    inert!("set-proc-title", false, Bool, "yes"),
    inert!(
        "shutdown-on-sigint",
        true,
        Enum(&["default", "save", "nosave", "now", "force"]),
        "default"
    ),
    inert!(
        "shutdown-on-sigterm",
        true,
        Enum(&["default", "save", "nosave", "now", "force"]),
        "default"
    ),
    inert!("shutdown-timeout", true, Int(0, 2147483647), "10"),
    inert!("socket-mark-id", false, Int(i64::MIN, i64::MAX), "0"),
    inert!("stream-node-max-bytes", true, Mem, "4096"),
    inert!("stream-node-max-entries", true, Int(0, i64::MAX), "100"),
    inert!(
        "supervised",
        false,
        Enum(&["upstart", "systemd", "auto", "no"]),
        "no"
    ),
    inert!("syslog-enabled", false, Bool, "no"),
    inert!("syslog-facility", false, Str, "local0"),
    inert!("syslog-ident", false, Str, "redis"),
    inert!(
        "tls-auth-clients",
        true,
        Enum(&["no", "yes", "optional"]),
        "yes"
    ),
    inert!("tls-ca-cert-dir", true, Str, ""),
    inert!("tls-ca-cert-file", true, Str, ""),
    inert!("tls-cert-file", true, Str, ""),
    inert!("tls-ciphers", true, Str, ""),
    inert!("tls-ciphersuites", true, Str, ""),
    inert!("tls-client-cert-file", true, Str, ""),
    inert!("tls-client-key-file", true, Str, ""),
    inert!("tls-client-key-file-pass", true, Str, ""),
    inert!("tls-cluster", true, Bool, "no"),
    inert!("tls-dh-params-file", true, Str, ""),
    inert!("tls-key-file", true, Str, ""),
    inert!("tls-key-file-pass", true, Str, ""),
    inert!("tls-port", true, Int(0, 65535), "0"),
    inert!("tls-prefer-server-ciphers", true, Bool, "no"),
    inert!("tls-protocols", true, Str, ""),
    inert!("tls-replication", true, Bool, "no"),
    inert!("tls-session-cache-size", true, Int(0, 2147483647), "20480"),
    inert!("tls-session-cache-timeout", true, Int(0, 2147483647), "300"),
    inert!("tls-session-caching", true, Bool, "yes"),
    inert!("unixsocket", false, Str, ""),
    inert!("unixsocketperm", false, Int(i64::MIN, i64::MAX), "0"),
];
