//! The LATENCY family: HISTOGRAM (per-command latency distributions, Redis 7.0's
//! `latency-tracking`, from [`crate::latency`]), the latency monitor's LATEST, HISTORY, RESET,
//! DOCTOR and GRAPH (events over `latency-monitor-threshold`, from [`crate::latency_monitor`]),
//! and HELP.

use crate::latency::Snapshot;
use crate::registry::{Command, ServerHandler, ServerSpec};
use crate::session::Session;
use crate::stats::command_snapshot;
use usher_engine::cmd::keys::write_help;
use usher_engine::command::{cmd, container, Flags, Group};
use usher_engine::error::{CmdError, CmdResult};
use usher_engine::store::LockedShards;
use usher_protocol::{Argv, ReplySink, RespWriter};

/// ```text
/// LATENCY HISTOGRAM [command ...]
/// ```
/// A map of command name to `{calls, histogram_usec: {bucket: cumulative calls}}` for every
/// command (and subcommand) timed since start or CONFIG RESETSTAT, or for the named ones: a
/// container name (`config`) brings its timed subcommands, `config|get` names one, unknown
/// names are skipped.
fn latency_histogram(
    s: &mut Session,
    _locked: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    let shared = s.shared;
    let registry = crate::registry::get();
    let mut chosen: Vec<&Command> = Vec::new();
    if argv.len() == 2 {
        chosen.extend(registry.all());
    } else {
        for j in 2..argv.len() {
            let Some(c) = registry.by_full_name(argv.arg(j)) else {
                continue;
            };
            chosen.push(c);
            chosen.extend(c.children.iter().map(|&id| registry.get(id)));
        }
    }
    let timed: Vec<(&Command, Snapshot)> = chosen
        .into_iter()
        .map(|c| (c, command_snapshot(&shared.thread_stats, c.id)))
        .filter(|(_, snapshot)| snapshot.total() > 0)
        .collect();
    out.map(timed.len());
    for (c, snapshot) in timed {
        out.bulk(c.full_name.as_bytes());
        out.map(2);
        out.bulk(b"calls");
        out.int(snapshot.total() as i64);
        out.bulk(b"histogram_usec");
        let buckets = snapshot.cumulative_usec();
        out.map(buckets.len());
        for (usec, calls) in buckets {
            out.int(usec as i64);
            out.int(calls as i64);
        }
    }
    Ok(())
}

/// ```text
/// LATENCY LATEST
/// ```
/// `[[event, unix-time, latest-ms, max-ms], ...]`.
fn latency_latest(
    s: &mut Session,
    _: &mut LockedShards,
    _: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    let latest = s.shared.latency_monitor.latest();
    out.array(latest.len());
    for (name, t, ms, max) in latest {
        out.array(4);
        out.bulk(name.as_bytes());
        out.int(t);
        out.int(ms as i64);
        out.int(max as i64);
    }
    Ok(())
}

/// ```text
/// LATENCY HISTORY event
/// ```
/// `[[unix-time, ms], ...]`, oldest first (empty for an unknown event).
fn latency_history(
    s: &mut Session,
    _: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    let samples = s.shared.latency_monitor.history(argv.arg(2));
    out.array(samples.len());
    for (t, ms) in samples {
        out.array(2);
        out.int(t);
        out.int(ms as i64);
    }
    Ok(())
}

/// ```text
/// LATENCY GRAPH event
/// ```
/// Redis's ASCII chart of the event's samples, each labelled with its age (a verbatim string);
/// `ERR No samples available for event '<event>'` for an event with none.
fn latency_graph(
    s: &mut Session,
    _: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    let event = argv.arg(2);
    let now_s = crate::shared::unix_ms() / 1000;
    let Some(graph) = s.shared.latency_monitor.graph(event, now_s) else {
        // Redis formats the name with `%s`: it ends at a NUL byte.
        let name = event.split(|&b| b == 0).next().unwrap_or_default();
        return Err(CmdError::msg(format!(
            "ERR No samples available for event '{}'",
            String::from_utf8_lossy(name)
        )));
    };
    out.verbatim("txt", graph.as_bytes());
    Ok(())
}

/// ```text
/// LATENCY RESET [event ...]
/// ```
/// The number of event classes reset.
fn latency_reset(
    s: &mut Session,
    _: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    let names: Vec<&[u8]> = argv.iter().skip(2).collect();
    out.int(s.shared.latency_monitor.reset(&names) as i64);
    Ok(())
}

/// ```text
/// LATENCY DOCTOR
/// ```
fn latency_doctor(
    s: &mut Session,
    _: &mut LockedShards,
    _: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    let threshold = s.shared.config.read().latency_monitor_threshold;
    out.verbatim("txt", s.shared.latency_monitor.doctor(threshold).as_bytes());
    Ok(())
}

const LATENCY_HELP: &[&str] = &[
    "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DOCTOR",
    "    Return a human readable latency analysis report.",
    "GRAPH <event>",
    "    Return an ASCII latency graph for the <event> class.",
    "HISTORY <event>",
    "    Return time-latency samples for the <event> class.",
    "LATEST",
    "    Return the latest latency samples for all events.",
    "RESET [<event> ...]",
    "    Reset latency data of one or more <event> classes.",
    "    (default: reset all data for all event classes)",
    "HISTOGRAM [COMMAND ...]",
    "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
    "    If no commands are specified then all histograms are replied.",
    "HELP",
    "    Prints this help.",
];

fn latency_help(
    _s: &mut Session,
    _locked: &mut LockedShards,
    _argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    write_help(out, LATENCY_HELP);
    Ok(())
}

const MONITOR_FLAGS: Flags = Flags::ADMIN
    .union(Flags::NOSCRIPT)
    .union(Flags::LOADING)
    .union(Flags::STALE);

const LATENCY_SUBCOMMANDS: &[ServerSpec] = &[
    cmd("LATEST", 2, MONITOR_FLAGS, latency_latest as ServerHandler).doc(
        Group::Server,
        "2.8.13",
        "Returns the latest latency samples for all events.",
        "O(1)",
    ),
    cmd(
        "HISTORY",
        3,
        MONITOR_FLAGS,
        latency_history as ServerHandler,
    )
    .doc(
        Group::Server,
        "2.8.13",
        "Returns timestamp-latency samples for an event.",
        "O(1)",
    ),
    cmd("RESET", -2, MONITOR_FLAGS, latency_reset as ServerHandler).doc(
        Group::Server,
        "2.8.13",
        "Resets the latency data for one or more events.",
        "O(1)",
    ),
    cmd("DOCTOR", 2, MONITOR_FLAGS, latency_doctor as ServerHandler).doc(
        Group::Server,
        "2.8.13",
        "Returns a human-readable latency analysis report.",
        "O(1)",
    ),
    cmd("GRAPH", 3, MONITOR_FLAGS, latency_graph as ServerHandler).doc(
        Group::Server,
        "2.8.13",
        "Return a latency graph for the event.",
        "O(1)",
    ),
    cmd(
        "HISTOGRAM",
        -2,
        Flags::ADMIN
            .union(Flags::NOSCRIPT)
            .union(Flags::LOADING)
            .union(Flags::STALE),
        latency_histogram as ServerHandler,
    )
    .doc(
        Group::Server,
        "7.0.0",
        "Returns the cumulative distribution of latencies of a subset or all commands.",
        "O(N) where N is the number of commands with latency information being retrieved.",
    ),
    cmd(
        "HELP",
        2,
        Flags::LOADING.union(Flags::STALE),
        latency_help as ServerHandler,
    )
    .doc(
        Group::Server,
        "2.8.13",
        "Returns helpful text about the different subcommands.",
        "O(1)",
    ),
];

pub static COMMANDS: &[ServerSpec] = &[container("LATENCY", LATENCY_SUBCOMMANDS).doc(
    Group::Server,
    "2.8.13",
    "A container for latency diagnostics commands.",
    "Depends on subcommand.",
)];
