//! Prometheus metrics: the text exposition format (version 0.0.4), rendered at scrape time from
//! the counters the server keeps anyway, and served over HTTP on `metrics-port` (`http.rs`).
//!
//! Recording costs nothing extra on the command path: per-command calls, errors, time and
//! latency histograms are the per-thread counters INFO and LATENCY already read (written only
//! by their own thread, with relaxed stores), and the waiting-room gauges are read from each
//! shard under its lock at scrape time, one shard at a time. That is why this module writes
//! the text format itself rather than feeding the `metrics` crate's recorder, which would count
//! everything a second time, through a registry, on the command path.
//!
//! Names follow Prometheus's conventions: `usher_` prefix, base units (seconds, bytes),
//! `_total` counters, and bounded label sets (commands, databases, at most
//! [`MAX_EVENTS`] waiting-room events; never a user).

pub mod http;

use crate::shared::{unix_ms, Shared};
use crate::stats::total;
use std::fmt::Write;

/// Waiting-room events exported per scrape at most (per shard), so that a flood of queue names
/// cannot blow up the label set.
pub const MAX_EVENTS: usize = 1000;

/// A label value escaped as the text format asks (`\\`, `\"`, `\n`).
fn label(value: &[u8]) -> String {
    let text = String::from_utf8_lossy(value);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// A metric family: its HELP and TYPE lines, then its samples.
struct Family<'a> {
    out: &'a mut String,
}

impl<'a> Family<'a> {
    fn new(out: &'a mut String, name: &str, kind: &str, help: &str) -> Self {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        Family { out }
    }

    fn sample(&mut self, name: &str, labels: &str, value: impl std::fmt::Display) {
        if labels.is_empty() {
            let _ = writeln!(self.out, "{name} {value}");
        } else {
            let _ = writeln!(self.out, "{name}{{{labels}}} {value}");
        }
    }
}

fn single(out: &mut String, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
    Family::new(out, name, kind, help).sample(name, "", value);
}

/// The whole exposition.
pub fn render(shared: &Shared) -> String {
    let mut out = String::with_capacity(16 * 1024);
    server(shared, &mut out);
    commands(shared, &mut out);
    let shards = read_shards(shared);
    keyspace(&shards, &mut out);
    persistence(shared, &mut out);
    seats(shards.seats, &mut out);
    events(shards.events, &mut out);
    out
}

/// What the endpoint reads under shard locks, gathered in one pass (one lock per shard).
struct ShardReadings {
    keys: Vec<usize>,
    volatile: Vec<usize>,
    events: Vec<usher_engine::cmd::qpolicy::EventGauges>,
    seats: Vec<usher_engine::cmd::qpolicy::SeatCounters>,
}

fn read_shards(shared: &Shared) -> ShardReadings {
    let store = &shared.store;
    let now = unix_ms();
    let mut r = ShardReadings {
        keys: vec![0; store.databases()],
        volatile: vec![0; store.databases()],
        events: Vec::new(),
        seats: Vec::new(),
    };
    for i in 0..store.shard_count() {
        let mut locked = store.lock_one(i);
        for shard in locked.iter_mut() {
            for (db, d) in shard.dbs.iter().enumerate() {
                r.keys[db] += d.len();
                r.volatile[db] += d.volatile_len();
            }
            r.events.extend(usher_engine::cmd::qpolicy::event_gauges(
                shard, now, MAX_EVENTS,
            ));
            r.seats
                .extend(usher_engine::cmd::qpolicy::seat_counters(shard, MAX_EVENTS));
        }
    }
    r
}

fn server(shared: &Shared, out: &mut String) {
    let t = &shared.thread_stats;
    Family::new(out, "usher_info", "gauge", "Build information.").sample(
        "usher_info",
        &format!(
            "version=\"{}\",redis_version=\"{}\"",
            env!("CARGO_PKG_VERSION"),
            crate::cmd::connection::REDIS_VERSION
        ),
        1,
    );
    single(
        out,
        "usher_uptime_seconds",
        "gauge",
        "Seconds since the server started.",
        shared.uptime_secs(),
    );
    let clients = shared.clients.all();
    let flagged = |f| clients.iter().filter(|c| c.has_flag(f)).count();
    single(
        out,
        "usher_connected_clients",
        "gauge",
        "Client connections open.",
        shared.clients.count(),
    );
    single(
        out,
        "usher_blocked_clients",
        "gauge",
        "Clients waiting in a blocking command.",
        flagged(crate::client::flag::BLOCKED),
    );
    single(
        out,
        "usher_pubsub_clients",
        "gauge",
        "Clients in subscriber mode.",
        flagged(crate::client::flag::PUBSUB),
    );
    let relaxed = std::sync::atomic::Ordering::Relaxed;
    single(
        out,
        "usher_connections_received_total",
        "counter",
        "Connections accepted.",
        shared.connections_received.load(relaxed),
    );
    single(
        out,
        "usher_rejected_connections_total",
        "counter",
        "Connections refused (maxclients).",
        shared.rejected_connections.load(relaxed),
    );
    single(
        out,
        "usher_commands_processed_total",
        "counter",
        "Commands run.",
        total(t, |s| &s.commands_processed),
    );
    single(
        out,
        "usher_net_input_bytes_total",
        "counter",
        "Bytes read from clients.",
        total(t, |s| &s.net_input_bytes),
    );
    single(
        out,
        "usher_net_output_bytes_total",
        "counter",
        "Bytes written to clients.",
        total(t, |s| &s.net_output_bytes),
    );
    single(
        out,
        "usher_expired_keys_total",
        "counter",
        "Keys removed because their TTL passed.",
        total(t, |s| &s.expired_keys),
    );
    single(
        out,
        "usher_keyspace_hits_total",
        "counter",
        "Key lookups that found the key.",
        total(t, |s| &s.keyspace_hits),
    );
    single(
        out,
        "usher_keyspace_misses_total",
        "counter",
        "Key lookups that found nothing.",
        total(t, |s| &s.keyspace_misses),
    );
    let (allocated, _, _, _) = crate::memory::allocator_stats();
    single(
        out,
        "usher_memory_used_bytes",
        "gauge",
        "Bytes allocated by the server.",
        allocated,
    );
    single(
        out,
        "usher_memory_rss_bytes",
        "gauge",
        "Resident set size of the process.",
        crate::memory::rss_bytes(),
    );
    single(
        out,
        "usher_memory_max_bytes",
        "gauge",
        "maxmemory (0: no limit).",
        shared.config.read().maxmemory,
    );
    single(
        out,
        "usher_pubsub_channels",
        "gauge",
        "Channels with at least one subscriber.",
        shared.pubsub.channel_count(),
    );
    single(
        out,
        "usher_pubsub_patterns",
        "gauge",
        "Pattern subscriptions.",
        shared.pubsub.numpat(),
    );
    single(
        out,
        "usher_slowlog_entries",
        "gauge",
        "Entries in the slow log.",
        shared.slowlog.len(),
    );
    single(
        out,
        "usher_monitor_clients",
        "gauge",
        "Clients in MONITOR mode.",
        shared.monitors.len(),
    );
}

fn commands(shared: &Shared, out: &mut String) {
    let t = &shared.thread_stats;
    let stats: Vec<(String, [u64; 4], u32)> = crate::registry::get()
        .all()
        .filter_map(|cmd| {
            let id = cmd.id as usize;
            let sum = |f: fn(&crate::stats::CommandStat) -> &std::sync::atomic::AtomicU64| {
                t.iter()
                    .map(|s| f(&s.commands[id]).load(std::sync::atomic::Ordering::Relaxed))
                    .sum::<u64>()
            };
            let v = [
                sum(|c| &c.calls),
                sum(|c| &c.failed_calls),
                sum(|c| &c.rejected_calls),
                sum(|c| &c.usec),
            ];
            (v.iter().any(|x| *x > 0)).then(|| (label(cmd.full_name.as_bytes()), v, cmd.id))
        })
        .collect();
    let families: [(&str, &str, usize); 3] = [
        ("usher_commands_total", "Commands run, by command.", 0),
        (
            "usher_command_failed_calls_total",
            "Commands that ran and answered an error.",
            1,
        ),
        (
            "usher_command_rejected_calls_total",
            "Commands refused before running (arity, auth, OOM, MOVED...).",
            2,
        ),
    ];
    for (name, help, i) in families {
        let mut f = Family::new(out, name, "counter", help);
        for (cmd, v, _) in &stats {
            f.sample(name, &format!("command=\"{cmd}\""), v[i]);
        }
    }
    let name = "usher_command_duration_seconds_total";
    let mut f = Family::new(
        out,
        name,
        "counter",
        "Time spent running commands, by command.",
    );
    for (cmd, v, _) in &stats {
        f.sample(name, &format!("command=\"{cmd}\""), v[3] as f64 / 1e6);
    }
    let name = "usher_command_latency_seconds";
    let mut f = Family::new(
        out,
        name,
        "histogram",
        "Command latency (latency-tracking), by command.",
    );
    for (cmd, v, id) in &stats {
        let snapshot = crate::stats::command_snapshot(t, *id);
        if snapshot.total() == 0 {
            continue;
        }
        for (usec, calls) in snapshot.cumulative_usec_all() {
            let le = (usec + 1) as f64 / 1e6;
            f.sample(
                &format!("{name}_bucket"),
                &format!("command=\"{cmd}\",le=\"{le}\""),
                calls,
            );
        }
        f.sample(
            &format!("{name}_bucket"),
            &format!("command=\"{cmd}\",le=\"+Inf\""),
            snapshot.total(),
        );
        f.sample(
            &format!("{name}_sum"),
            &format!("command=\"{cmd}\""),
            v[3] as f64 / 1e6,
        );
        f.sample(
            &format!("{name}_count"),
            &format!("command=\"{cmd}\""),
            snapshot.total(),
        );
    }
}

fn keyspace(shards: &ShardReadings, out: &mut String) {
    let (keys, volatile) = (&shards.keys, &shards.volatile);
    let name = "usher_db_keys";
    let mut f = Family::new(out, name, "gauge", "Keys, by database.");
    for (db, n) in keys.iter().enumerate().filter(|(_, n)| **n > 0) {
        f.sample(name, &format!("db=\"{db}\""), n);
    }
    let name = "usher_db_expiring_keys";
    let mut f = Family::new(out, name, "gauge", "Keys with a TTL, by database.");
    for (db, n) in volatile.iter().enumerate().filter(|(db, _)| keys[*db] > 0) {
        f.sample(name, &format!("db=\"{db}\""), n);
    }
}

/// Persistence state, as INFO persistence shows it.
fn persistence(shared: &Shared, out: &mut String) {
    use std::sync::atomic::Ordering::Relaxed;
    let (p, a) = (&shared.persist, &shared.aof);
    single(
        out,
        "usher_rdb_changes_since_last_save",
        "gauge",
        "Changes since the last snapshot.",
        crate::persistence::changes_since_save(shared),
    );
    single(
        out,
        "usher_rdb_last_save_timestamp_seconds",
        "gauge",
        "Unix time of the last successful snapshot.",
        p.lastsave.load(Relaxed),
    );
    single(
        out,
        "usher_rdb_last_bgsave_ok",
        "gauge",
        "1 if the last background snapshot succeeded.",
        u8::from(p.last_bgsave_ok.load(Relaxed)),
    );
    let aof_on = a.enabled.load(Relaxed);
    single(
        out,
        "usher_aof_enabled",
        "gauge",
        "1 while the append-only file is on.",
        u8::from(aof_on),
    );
    single(
        out,
        "usher_aof_last_write_ok",
        "gauge",
        "1 if the last write to the append-only file succeeded.",
        u8::from(a.last_write_ok.load(Relaxed)),
    );
    single(
        out,
        "usher_aof_rewrite_in_progress",
        "gauge",
        "1 while the append-only file is rewritten.",
        u8::from(a.rewrite_in_progress.load(Relaxed)),
    );
    replication(shared, out);
    if aof_on {
        single(
            out,
            "usher_aof_current_size_bytes",
            "gauge",
            "Size of the append-only file.",
            a.current_size.load(Relaxed),
        );
    }
}

/// Replication state, as INFO replication shows it.
fn replication(shared: &Shared, out: &mut String) {
    use std::sync::atomic::Ordering::Relaxed;
    let r = &shared.replication;
    let replica = r.is_replica.load(Relaxed);
    single(
        out,
        "usher_replication_is_replica",
        "gauge",
        "1 when this server follows a primary.",
        u8::from(replica),
    );
    if replica {
        single(
            out,
            "usher_replication_master_link_up",
            "gauge",
            "1 while the link to the primary is up.",
            u8::from(r.link_up.load(Relaxed)),
        );
    }
    single(
        out,
        "usher_replication_connected_replicas",
        "gauge",
        "Replicas fed by this server.",
        r.replicas.lock().len(),
    );
    single(
        out,
        "usher_replication_offset_bytes",
        "gauge",
        "The replication stream's offset (master_repl_offset).",
        r.backlog.lock().end(),
    );
}

/// The seat counters, one label set per event (db, the seat keys' hash tag).
fn seats(mut all: Vec<usher_engine::cmd::qpolicy::SeatCounters>, out: &mut String) {
    all.sort_by(|a, b| (a.db, &a.event).cmp(&(b.db, &b.event)));
    type Pick = fn(&usher_engine::queue::registry::SeatStats) -> u64;
    let families: [(&str, &str, Pick); 5] = [
        ("usher_event_seat_holds_total", "Seat holds taken.", |s| {
            s.holds
        }),
        (
            "usher_event_seat_conflicts_total",
            "Seat holds refused because the seat was taken.",
            |s| s.conflicts,
        ),
        (
            "usher_event_seat_confirmations_total",
            "Seats confirmed (sold).",
            |s| s.confirmations,
        ),
        (
            "usher_event_seat_releases_total",
            "Holds given back before their TTL.",
            |s| s.releases,
        ),
        (
            "usher_event_seat_cancellations_total",
            "Confirmed sales cancelled (refunds).",
            |s| s.cancellations,
        ),
    ];
    for (name, help, pick) in families {
        let mut f = Family::new(out, name, "counter", help);
        for c in &all {
            let labels = format!("db=\"{}\",event=\"{}\"", c.db, label(&c.event));
            f.sample(name, &labels, pick(&c.stats));
        }
    }
}

/// The waiting-room gauges, one label set per event (db, queue).
fn events(mut all: Vec<usher_engine::cmd::qpolicy::EventGauges>, out: &mut String) {
    all.sort_by(|a, b| (a.db, &a.queue).cmp(&(b.db, &b.queue)));
    let labels: Vec<String> = all
        .iter()
        .map(|g| format!("db=\"{}\",queue=\"{}\"", g.db, label(&g.queue)))
        .collect();
    type Pick = fn(&usher_engine::cmd::qpolicy::EventGauges) -> Option<f64>;
    let families: [(&str, &str, &str, Pick); 10] = [
        (
            "usher_queue_waiting",
            "gauge",
            "Users waiting in line.",
            |g| Some(g.waiting as f64),
        ),
        (
            "usher_queue_active",
            "gauge",
            "Live sessions in the event's active set (events with a policy).",
            |g| g.active.map(|a| a as f64),
        ),
        (
            "usher_queue_admitted_total",
            "counter",
            "Users admitted since the line's statistics started.",
            |g| Some(g.admitted_total as f64),
        ),
        (
            "usher_queue_admit_rate_per_second",
            "gauge",
            "Measured admissions per second over the last minute, once known.",
            |g| g.admit_rate_per_sec,
        ),
        (
            "usher_queue_policy_rate_per_second",
            "gauge",
            "The policy's configured admission rate.",
            |g| g.policy_rate_per_sec,
        ),
        (
            "usher_queue_policy_max_active",
            "gauge",
            "The policy's cap on live sessions.",
            |g| g.max_active.map(|m| m as f64),
        ),
        (
            "usher_queue_policy_errors",
            "gauge",
            "Fields of the policy hash refused at its last read.",
            |g| Some(g.policy_errors as f64),
        ),
        (
            "usher_queue_dropped_total",
            "counter",
            "Waiters dropped because their heartbeat lapsed (abandoners).",
            |g| Some(g.dropped_total as f64),
        ),
        (
            "usher_queue_tokens_issued_total",
            "counter",
            "Admission tokens issued.",
            |g| Some(g.tokens_issued_total as f64),
        ),
        (
            "usher_queue_tokens_consumed_total",
            "counter",
            "Admission tokens spent through TOKENVERIFY ... CONSUME.",
            |g| Some(g.tokens_consumed_total as f64),
        ),
    ];
    for (name, kind, help, pick) in families {
        let mut f = Family::new(out, name, kind, help);
        for (g, l) in all.iter().zip(&labels) {
            if let Some(v) = pick(g) {
                f.sample(name, l, v);
            }
        }
    }
    let name = "usher_queue_eta_last_seconds";
    let mut f = Family::new(
        out,
        name,
        "gauge",
        "Estimated wait of the last user in line, once a pace is known.",
    );
    for (g, l) in all.iter().zip(&labels) {
        if let Some(rate) = g
            .admit_rate_per_sec
            .or(g.policy_rate_per_sec)
            .filter(|r| *r > 0.0)
        {
            f.sample(name, l, g.waiting as f64 / rate);
        }
    }
}
