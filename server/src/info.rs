//! INFO: the server's report, in Redis's sections, field names and order, so monitoring that
//! parses Redis's INFO (redis_exporter, Datadog, redis-cli --stat) works unchanged. usher adds a
//! few fields of its own (`usher_version`, `threads`, `shards`), never renames Redis's, and one
//! section of its own, `waitingroom` (in `INFO everything`, where Redis puts its modules'
//! sections, or asked for by name), listing the events.

use crate::cmd::connection::REDIS_VERSION;
use crate::memory;
use crate::session::Session;
use crate::shared::{unix_ms, Shared};
use crate::stats::total;
use std::fmt::Write;
use std::sync::atomic::Ordering;
use usher_engine::store::LockedShards;

/// Sections printed by `INFO` / `INFO default`.
const DEFAULT_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "errorstats",
    "cluster",
    "keyspace",
];
/// Sections added by `INFO all` / `INFO everything`.
const EXTRA_SECTIONS: &[&str] = &["commandstats", "latencystats"];
/// usher's own sections: in `INFO everything` (where Redis adds its modules' sections, which
/// `all` leaves out) or asked for by name.
const OWN_SECTIONS: &[&str] = &["waitingroom"];
/// Redis's output order over every section.
const ORDER: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "commandstats",
    "errorstats",
    "latencystats",
    "cluster",
    "keyspace",
    "waitingroom",
];

/// Which sections `INFO args...` asks for, in output order.
pub fn requested_sections(args: &[&[u8]]) -> Vec<&'static str> {
    if args.is_empty() {
        return DEFAULT_SECTIONS.to_vec();
    }
    let mut wanted: Vec<&'static str> = Vec::new();
    for arg in args {
        let name = String::from_utf8_lossy(arg).to_ascii_lowercase();
        let add: Vec<&'static str> = match name.as_str() {
            "default" => DEFAULT_SECTIONS.to_vec(),
            "all" => DEFAULT_SECTIONS
                .iter()
                .chain(EXTRA_SECTIONS)
                .copied()
                .collect(),
            "everything" => DEFAULT_SECTIONS
                .iter()
                .chain(EXTRA_SECTIONS)
                .chain(OWN_SECTIONS)
                .copied()
                .collect(),
            other => DEFAULT_SECTIONS
                .iter()
                .chain(EXTRA_SECTIONS)
                .chain(OWN_SECTIONS)
                .copied()
                .filter(|s| *s == other)
                .collect(),
        };
        for s in add {
            if !wanted.contains(&s) {
                wanted.push(s);
            }
        }
    }
    wanted.sort_by_key(|s| ORDER.iter().position(|o| o == s));
    wanted
}

/// Builds the INFO text for `sections`: bytes, since an error code counted in `errorstats`
/// may hold any (a script's `{err=...}`); every other section is text.
pub fn render(s: &Session, locked: &mut LockedShards, sections: &[&str]) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut out = String::new();
    for (i, section) in sections.iter().enumerate() {
        if i > 0 {
            out.push_str("\r\n");
        }
        let shared = &s.shared;
        match *section {
            "server" => server(shared, &mut out),
            "clients" => clients(shared, &mut out),
            "memory" => memory_section(shared, locked, &mut out),
            "persistence" => persistence(shared, &mut out),
            "stats" => stats(shared, locked, &mut out),
            "replication" => replication(shared, &mut out),
            "cpu" => cpu(&mut out),
            "modules" => out.push_str("# Modules\r\n"),
            "errorstats" => {
                bytes.extend_from_slice(std::mem::take(&mut out).as_bytes());
                errorstats(shared, &mut bytes);
            }
            "cluster" => out.push_str(if shared.cluster.get().is_some() {
                "# Cluster\r\ncluster_enabled:1\r\n"
            } else {
                "# Cluster\r\ncluster_enabled:0\r\n"
            }),
            "keyspace" => keyspace(shared, locked, s.now_ms, &mut out),
            "commandstats" => commandstats(shared, &mut out),
            "latencystats" => latencystats(shared, &mut out),
            "waitingroom" => waitingroom(locked, s.now_ms, &mut out),
            _ => {}
        }
    }
    bytes.extend_from_slice(out.as_bytes());
    bytes
}

fn line(out: &mut String, key: &str, value: impl std::fmt::Display) {
    let _ = write!(out, "{key}:{value}\r\n");
}

fn uname() -> String {
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: uname fills the struct we own; its fields are NUL-terminated C strings.
    if unsafe { libc::uname(&mut u) } != 0 {
        return "Linux".into();
    }
    let field = |f: &[libc::c_char]| {
        unsafe { std::ffi::CStr::from_ptr(f.as_ptr()) }
            .to_string_lossy()
            .into_owned()
    };
    format!(
        "{} {} {}",
        field(&u.sysname),
        field(&u.release),
        field(&u.machine)
    )
}

fn server(shared: &Shared, out: &mut String) {
    let config = shared.config.read();
    let uptime = shared.uptime_secs();
    out.push_str("# Server\r\n");
    line(out, "redis_version", REDIS_VERSION);
    line(out, "usher_version", env!("CARGO_PKG_VERSION"));
    line(out, "redis_git_sha1", "00000000");
    line(out, "redis_git_dirty", 0);
    line(out, "redis_build_id", "0");
    line(out, "redis_mode", "standalone");
    line(out, "os", uname());
    line(out, "arch_bits", 64);
    line(out, "monotonic_clock", "POSIX clock_gettime");
    line(out, "multiplexing_api", "epoll");
    line(out, "atomicvar_api", "c11-builtin");
    line(out, "gcc_version", "0.0.0");
    line(out, "process_id", std::process::id());
    line(out, "process_supervised", "no");
    line(out, "run_id", &shared.run_id);
    line(out, "tcp_port", shared.tcp_port.load(Ordering::Relaxed));
    line(out, "server_time_usec", unix_ms() * 1000);
    line(out, "uptime_in_seconds", uptime);
    line(out, "uptime_in_days", uptime / 86_400);
    line(out, "hz", config.hz);
    line(out, "configured_hz", config.hz);
    line(out, "lru_clock", (unix_ms() / 1000) & ((1 << 24) - 1));
    line(
        out,
        "executable",
        std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
    );
    line(
        out,
        "config_file",
        config.config_file.clone().unwrap_or_default(),
    );
    line(out, "io_threads_active", 0);
    line(out, "threads", config.worker_threads());
    line(out, "shards", shared.store.shard_count());
}

fn clients(shared: &Shared, out: &mut String) {
    let all = shared.clients.all();
    let pubsub = all
        .iter()
        .filter(|c| c.has_flag(crate::client::flag::PUBSUB))
        .count();
    let blocked = all
        .iter()
        .filter(|c| c.has_flag(crate::client::flag::BLOCKED))
        .count();
    out.push_str("# Clients\r\n");
    line(out, "connected_clients", shared.clients.count());
    line(out, "cluster_connections", 0);
    line(out, "maxclients", shared.config.read().maxclients);
    line(out, "client_recent_max_input_buffer", 0);
    line(out, "client_recent_max_output_buffer", 0);
    line(out, "blocked_clients", blocked);
    line(out, "tracking_clients", shared.tracking.clients());
    line(out, "pubsub_clients", pubsub);
    line(out, "clients_in_timeout_table", blocked);
}

fn total_system_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

fn memory_section(shared: &Shared, locked: &mut LockedShards, out: &mut String) {
    let (allocated, active, resident, _) = memory::allocator_stats();
    let rss = memory::rss_bytes();
    let peak = memory::peak_bytes(allocated);
    let maxmemory = shared.config.read().maxmemory;
    let overhead: u64 = locked
        .iter_mut()
        .flat_map(|s| {
            s.dbs
                .iter()
                .map(|d| d.overhead_bytes() as u64)
                .collect::<Vec<_>>()
        })
        .sum();
    let dataset = allocated.saturating_sub(overhead);
    let pct = |a: u64, b: u64| {
        if b == 0 {
            0.0
        } else {
            a as f64 * 100.0 / b as f64
        }
    };
    out.push_str("# Memory\r\n");
    line(out, "used_memory", allocated);
    line(out, "used_memory_human", memory::human(allocated));
    line(out, "used_memory_rss", rss);
    line(out, "used_memory_rss_human", memory::human(rss));
    line(out, "used_memory_peak", peak);
    line(out, "used_memory_peak_human", memory::human(peak));
    line(
        out,
        "used_memory_peak_perc",
        format!("{:.2}%", pct(allocated, peak)),
    );
    line(out, "used_memory_overhead", overhead);
    line(out, "used_memory_startup", 0);
    line(out, "used_memory_dataset", dataset);
    line(
        out,
        "used_memory_dataset_perc",
        format!("{:.2}%", pct(dataset, allocated)),
    );
    line(out, "allocator_allocated", allocated);
    line(out, "allocator_active", active);
    line(out, "allocator_resident", resident);
    let system = total_system_memory();
    line(out, "total_system_memory", system);
    line(out, "total_system_memory_human", memory::human(system));
    let lua = usher_lua::engine::lua_memory() as u64;
    let scripts = shared.scripts.body_bytes() as u64;
    line(out, "used_memory_lua", lua);
    line(out, "used_memory_vm_eval", lua);
    line(out, "used_memory_lua_human", memory::human(lua));
    line(out, "used_memory_scripts_eval", scripts);
    line(out, "number_of_cached_scripts", shared.scripts.len());
    line(
        out,
        "number_of_functions",
        shared.functions.function_count(),
    );
    line(out, "number_of_libraries", shared.functions.library_count());
    line(out, "used_memory_vm_functions", 0);
    line(out, "used_memory_vm_total", lua);
    line(out, "used_memory_vm_total_human", memory::human(lua));
    line(out, "used_memory_functions", 0);
    line(out, "used_memory_scripts", scripts);
    line(out, "used_memory_scripts_human", memory::human(scripts));
    line(out, "maxmemory", maxmemory);
    line(out, "maxmemory_human", memory::human(maxmemory));
    line(out, "maxmemory_policy", "noeviction");
    let ratio = |a: u64, b: u64| format!("{:.2}", if b == 0 { 1.0 } else { a as f64 / b as f64 });
    line(out, "allocator_frag_ratio", ratio(active, allocated));
    line(
        out,
        "allocator_frag_bytes",
        active.saturating_sub(allocated),
    );
    line(out, "allocator_rss_ratio", ratio(resident, active));
    line(out, "allocator_rss_bytes", resident as i64 - active as i64);
    line(out, "rss_overhead_ratio", ratio(rss, resident));
    line(out, "rss_overhead_bytes", rss as i64 - resident as i64);
    line(out, "mem_fragmentation_ratio", ratio(rss, allocated));
    line(
        out,
        "mem_fragmentation_bytes",
        rss as i64 - allocated as i64,
    );
    line(out, "mem_not_counted_for_evict", 0);
    line(out, "mem_replication_backlog", 0);
    line(out, "mem_total_replication_buffers", 0);
    line(out, "mem_clients_slaves", 0);
    let clients_memory: usize = shared
        .clients
        .all()
        .iter()
        .filter(|c| !c.has_flag(crate::client::flag::REPLICA))
        .map(|c| c.memory())
        .sum();
    line(out, "mem_clients_normal", clients_memory);
    line(out, "mem_cluster_links", 0);
    let aof_buffer = {
        let stream = &shared.stream;
        let end = stream.inner.lock().end;
        end.saturating_sub(stream.written.load(Ordering::Relaxed))
    };
    line(out, "mem_aof_buffer", aof_buffer);
    line(out, "mem_allocator", "jemalloc-5.3.0");
    line(out, "active_defrag_running", 0);
    line(out, "lazyfree_pending_objects", crate::lazyfree::pending());
    line(out, "lazyfreed_objects", crate::lazyfree::freed());
}

fn persistence(shared: &Shared, out: &mut String) {
    let p = &shared.persist;
    let ld = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    out.push_str("# Persistence\r\n");
    line(out, "loading", u8::from(p.loading.load(Ordering::Relaxed)));
    line(out, "async_loading", 0);
    line(out, "current_cow_peak", 0);
    line(out, "current_cow_size", 0);
    line(out, "current_cow_size_age", 0);
    line(out, "current_fork_perc", "0.00");
    line(out, "current_save_keys_processed", 0);
    line(out, "current_save_keys_total", 0);
    line(
        out,
        "rdb_changes_since_last_save",
        crate::persistence::changes_since_save(shared),
    );
    line(
        out,
        "rdb_bgsave_in_progress",
        u8::from(p.bgsave_in_progress.load(Ordering::Relaxed)),
    );
    line(
        out,
        "rdb_last_save_time",
        p.lastsave.load(Ordering::Relaxed),
    );
    line(
        out,
        "rdb_last_bgsave_status",
        if p.last_bgsave_ok.load(Ordering::Relaxed) {
            "ok"
        } else {
            "err"
        },
    );
    line(
        out,
        "rdb_last_bgsave_time_sec",
        p.last_bgsave_time_sec.load(Ordering::Relaxed),
    );
    line(
        out,
        "rdb_current_bgsave_time_sec",
        crate::persistence::current_bgsave_secs(shared),
    );
    line(out, "rdb_saves", ld(&p.rdb_saves));
    line(out, "rdb_last_cow_size", 0);
    line(
        out,
        "rdb_last_load_keys_expired",
        ld(&p.last_load_keys_expired),
    );
    line(
        out,
        "rdb_last_load_keys_loaded",
        ld(&p.last_load_keys_loaded),
    );
    let a = &shared.aof;
    let flag = |b: &std::sync::atomic::AtomicBool| u8::from(b.load(Ordering::Relaxed));
    let status = |b: &std::sync::atomic::AtomicBool| {
        if b.load(Ordering::Relaxed) {
            "ok"
        } else {
            "err"
        }
    };
    let enabled = a.enabled.load(Ordering::Relaxed);
    line(out, "aof_enabled", u8::from(enabled));
    line(out, "aof_rewrite_in_progress", flag(&a.rewrite_in_progress));
    line(out, "aof_rewrite_scheduled", flag(&a.rewrite_scheduled));
    line(
        out,
        "aof_last_rewrite_time_sec",
        a.last_rewrite_time_sec.load(Ordering::Relaxed),
    );
    line(
        out,
        "aof_current_rewrite_time_sec",
        crate::persistence::aof::current_rewrite_secs(shared),
    );
    line(
        out,
        "aof_last_bgrewrite_status",
        status(&a.last_bgrewrite_ok),
    );
    line(out, "aof_rewrites", ld(&a.rewrites));
    line(
        out,
        "aof_rewrites_consecutive_failures",
        ld(&a.consecutive_failures),
    );
    line(out, "aof_last_write_status", status(&a.last_write_ok));
    line(out, "aof_last_cow_size", 0);
    line(out, "module_fork_in_progress", 0);
    line(out, "module_fork_last_cow_size", 0);
    if enabled {
        let stream = &shared.stream;
        let end = stream.inner.lock().end;
        line(out, "aof_current_size", ld(&a.current_size));
        line(out, "aof_base_size", ld(&a.base_size));
        line(out, "aof_pending_rewrite", flag(&a.rewrite_scheduled));
        line(
            out,
            "aof_buffer_length",
            end.saturating_sub(stream.written.load(Ordering::Relaxed)),
        );
        line(out, "aof_pending_bio_fsync", 0);
        line(out, "aof_delayed_fsync", ld(&a.delayed_fsync));
    }
}

fn stats(shared: &Shared, locked: &mut LockedShards, out: &mut String) {
    let t = &shared.thread_stats;
    // Active expiry counts in the workers' stats; lookups count in each database.
    let expired_lazily: u64 = locked
        .iter_mut()
        .flat_map(|s| s.dbs.iter().map(|d| d.expired_lazily()))
        .sum();
    out.push_str("# Stats\r\n");
    line(
        out,
        "total_connections_received",
        shared.connections_received.load(Ordering::Relaxed),
    );
    line(
        out,
        "total_commands_processed",
        total(t, |s| &s.commands_processed),
    );
    line(
        out,
        "instantaneous_ops_per_sec",
        crate::runtime::instantaneous_ops(shared),
    );
    line(
        out,
        "total_net_input_bytes",
        total(t, |s| &s.net_input_bytes),
    );
    line(
        out,
        "total_net_output_bytes",
        total(t, |s| &s.net_output_bytes),
    );
    // usher has no replication, forks, defragmentation, client eviction or I/O threads yet:
    // their counters are truthfully zero.
    line(out, "total_net_repl_input_bytes", 0);
    line(out, "total_net_repl_output_bytes", 0);
    let [_, input, output] = crate::runtime::instantaneous(shared);
    line(
        out,
        "instantaneous_input_kbps",
        format!("{:.2}", input / 1024.0),
    );
    line(
        out,
        "instantaneous_output_kbps",
        format!("{:.2}", output / 1024.0),
    );
    line(out, "instantaneous_input_repl_kbps", "0.00");
    line(out, "instantaneous_output_repl_kbps", "0.00");
    line(
        out,
        "rejected_connections",
        shared.rejected_connections.load(Ordering::Relaxed),
    );
    let r = &shared.replication;
    line(out, "sync_full", r.full_syncs.load(Ordering::Relaxed));
    line(out, "sync_partial_ok", r.partial_ok.load(Ordering::Relaxed));
    line(
        out,
        "sync_partial_err",
        r.partial_err.load(Ordering::Relaxed),
    );
    line(
        out,
        "expired_keys",
        total(t, |s| &s.expired_keys) + expired_lazily,
    );
    line(out, "expired_stale_perc", "0.00");
    line(out, "expired_time_cap_reached_count", 0);
    line(out, "expire_cycle_cpu_milliseconds", 0);
    line(out, "evicted_keys", 0);
    line(
        out,
        "evicted_clients",
        shared.evicted_clients.load(Ordering::Relaxed),
    );
    for name in [
        "total_eviction_exceeded_time",
        "current_eviction_exceeded_time",
    ] {
        line(out, name, 0);
    }
    line(out, "keyspace_hits", total(t, |s| &s.keyspace_hits));
    line(out, "keyspace_misses", total(t, |s| &s.keyspace_misses));
    line(out, "pubsub_channels", shared.pubsub.channel_count());
    line(out, "pubsub_patterns", shared.pubsub.numpat());
    line(
        out,
        "pubsubshard_channels",
        shared.pubsub.shard_channels(None).len(),
    );
    for name in [
        "latest_fork_usec",
        "total_forks",
        "migrate_cached_sockets",
        "slave_expires_tracked_keys",
        "active_defrag_hits",
        "active_defrag_misses",
        "active_defrag_key_hits",
        "active_defrag_key_misses",
        "total_active_defrag_time",
        "current_active_defrag_time",
    ] {
        line(out, name, 0);
    }
    let (keys, items, prefixes) = shared.tracking.totals();
    line(out, "tracking_total_keys", keys);
    line(out, "tracking_total_items", items);
    line(out, "tracking_total_prefixes", prefixes);
    line(out, "unexpected_error_replies", 0);
    line(out, "total_error_replies", total(t, |s| &s.error_replies));
    line(out, "dump_payload_sanitizations", 0);
    line(
        out,
        "total_reads_processed",
        total(t, |s| &s.reads_processed),
    );
    line(
        out,
        "total_writes_processed",
        total(t, |s| &s.writes_processed),
    );
    line(out, "io_threaded_reads_processed", 0);
    line(out, "io_threaded_writes_processed", 0);
    line(out, "reply_buffer_shrinks", 0);
    line(out, "reply_buffer_expands", 0);
}

fn replication(shared: &Shared, out: &mut String) {
    crate::replication::info(shared, out);
}

/// CPU seconds used by this process: (system, user).
pub fn cpu_times() -> (f64, f64) {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage fills the struct we own.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (secs(usage.ru_stime), secs(usage.ru_utime))
}

fn cpu(out: &mut String) {
    let (sys, user) = cpu_times();
    out.push_str("# CPU\r\n");
    line(out, "used_cpu_sys", format!("{sys:.6}"));
    line(out, "used_cpu_user", format!("{user:.6}"));
    line(out, "used_cpu_sys_children", "0.000000");
    line(out, "used_cpu_user_children", "0.000000");
    // usher has no main thread that does the work; the process's times stand for it.
    line(out, "used_cpu_sys_main_thread", format!("{sys:.6}"));
    line(out, "used_cpu_user_main_thread", format!("{user:.6}"));
}

fn errorstats(shared: &Shared, out: &mut Vec<u8>) {
    out.extend_from_slice(b"# Errorstats\r\n");
    for (code, n) in shared.errors.counts() {
        out.extend_from_slice(b"errorstat_");
        out.extend_from_slice(&code);
        out.extend_from_slice(format!(":count={n}\r\n").as_bytes());
    }
}

/// usher's own section: one line per waiting-room event (at most 1000 per shard), in the
/// keyspace section's style; the queue's name comes last, as it may hold any byte.
fn waitingroom(locked: &mut LockedShards, now_ms: i64, out: &mut String) {
    out.push_str("# Waitingroom\r\n");
    let mut events: Vec<_> = locked
        .iter_mut()
        .flat_map(|shard| usher_engine::cmd::qpolicy::event_gauges(shard, now_ms, 1000))
        .collect();
    events.sort_by(|a, b| (a.db, &a.queue).cmp(&(b.db, &b.queue)));
    line(out, "events", events.len());
    for (i, e) in events.iter().enumerate() {
        let active = e.active.map_or(-1, |a| a as i64);
        let rate = e.admit_rate_per_sec.map_or(-1.0, |r| r * 60.0);
        line(
            out,
            &format!("event{i}"),
            format!(
                "db={},waiting={},active={active},admitted={},admit_rate_per_min={rate:.1},dropped={},tokens_issued={},tokens_consumed={},queue={}",
                e.db,
                e.waiting,
                e.admitted_total,
                e.dropped_total,
                e.tokens_issued_total,
                e.tokens_consumed_total,
                String::from_utf8_lossy(&e.queue)
            ),
        );
    }
}

fn keyspace(shared: &Shared, locked: &mut LockedShards, now_ms: i64, out: &mut String) {
    out.push_str("# Keyspace\r\n");
    let shards: Vec<_> = locked.iter_mut().collect();
    for db in 0..shared.store.databases() {
        let keys: usize = shards.iter().map(|s| s.dbs[db].len()).sum();
        if keys == 0 {
            continue;
        }
        let expires: usize = shards.iter().map(|s| s.dbs[db].volatile_len()).sum();
        let (sum, n) = shards
            .iter()
            .map(|s| s.dbs[db].ttl_sample(now_ms))
            .fold((0i64, 0usize), |a, b| (a.0 + b.0, a.1 + b.1));
        let avg_ttl = if n == 0 { 0 } else { sum / n as i64 };
        line(
            out,
            &format!("db{db}"),
            format!("keys={keys},expires={expires},avg_ttl={avg_ttl}"),
        );
    }
}

/// `latency_percentiles_usec_<command>:p50=1.003,...` for every command timed since start or
/// CONFIG RESETSTAT, at the `latency-tracking-info-percentiles`; empty with tracking off.
fn latencystats(shared: &Shared, out: &mut String) {
    out.push_str("# Latencystats\r\n");
    let (tracking, percentiles) = {
        let config = shared.config.read();
        (
            config.latency_tracking,
            config.latency_tracking_info_percentiles.clone(),
        )
    };
    if !tracking {
        return;
    }
    for cmd in crate::registry::get().all() {
        let snapshot = crate::stats::command_snapshot(&shared.thread_stats, cmd.id);
        if snapshot.total() == 0 {
            continue;
        }
        let values: Vec<String> = percentiles
            .iter()
            .map(|&p| {
                let usec = snapshot.value_at_percentile(p) as f64 / 1000.0;
                format!("p{}={usec:.3}", crate::latency::format_percentile(p))
            })
            .collect();
        line(
            out,
            &format!("latency_percentiles_usec_{}", cmd.full_name),
            values.join(","),
        );
    }
}

fn commandstats(shared: &Shared, out: &mut String) {
    out.push_str("# Commandstats\r\n");
    for cmd in crate::registry::get().all() {
        let calls = total(&shared.thread_stats, |t| &t.commands[cmd.id as usize].calls);
        let rejected = total(&shared.thread_stats, |t| {
            &t.commands[cmd.id as usize].rejected_calls
        });
        if calls == 0 && rejected == 0 {
            continue;
        }
        let usec = total(&shared.thread_stats, |t| &t.commands[cmd.id as usize].usec);
        let failed = total(&shared.thread_stats, |t| {
            &t.commands[cmd.id as usize].failed_calls
        });
        let per_call = if calls == 0 {
            0.0
        } else {
            usec as f64 / calls as f64
        };
        line(
            out,
            &format!("cmdstat_{}", cmd.full_name),
            format!("calls={calls},usec={usec},usec_per_call={per_call:.2},rejected_calls={rejected},failed_calls={failed}"),
        );
    }
}
