//! The MEMORY family: USAGE (a key's real footprint), STATS, DOCTOR, PURGE, MALLOC-STATS, HELP.
//!
//! Figures come from jemalloc (the allocator Redis uses too) and from each value's own
//! accounting of its heap, so `MEMORY USAGE` of a 10-million-member sorted set is what it
//! really holds, computed in O(1).

use crate::memory;
use crate::registry::{ServerHandler, ServerSpec};
use crate::session::Session;
use usher_engine::args::{self, is};
use usher_engine::cmd::keys::write_help;
use usher_engine::command::{cmd, container, Flags, Group};
use usher_engine::error::{CmdError, CmdResult};
use usher_engine::store::LockedShards;
use usher_engine::value::{Entry, Value};
use usher_protocol::{Argv, ReplySink, RespWriter};

/// The bytes a key and its value occupy: the keyspace slot, the key's own heap bytes, the
/// value's heap (collections count their nodes, members and indexes) and its box.
pub fn key_usage(key: &[u8], entry: &Entry) -> usize {
    let slot = std::mem::size_of::<(usher_engine::bytes::SmallBytes, Entry)>();
    let key_heap = if key.len() > usher_engine::bytes::INLINE_MAX {
        key.len()
    } else {
        0
    };
    let boxed = match &entry.value {
        Value::Str(_) => 0,
        Value::List(l) => std::mem::size_of_val(&**l),
        Value::Hash(h) => std::mem::size_of_val(&**h),
        Value::Set(s) => std::mem::size_of_val(&**s),
        Value::ZSet(z) => std::mem::size_of_val(&**z),
        Value::Stream(s) => std::mem::size_of_val(&**s),
    };
    slot + key_heap + boxed + entry.value.allocated_bytes()
}

/// ```text
/// MEMORY USAGE key [SAMPLES count]
/// ```
/// Bytes used by the key and its value, or nil. SAMPLES is accepted for compatibility: usher's
/// values know their exact size, so nothing is sampled.
fn memory_usage(
    s: &mut Session,
    locked: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    let mut j = 3;
    while j < argv.len() {
        if is(argv.arg(j), "SAMPLES") && j + 1 < argv.len() {
            if args::int(argv.arg(j + 1))? < 0 {
                return Err(CmdError::Syntax);
            }
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let key = argv.arg(2);
    match locked.db(s.db, key).lookup_no_touch(key, s.now_ms) {
        Some(entry) => out.int(key_usage(key, entry) as i64),
        None => out.null(),
    }
    Ok(())
}

/// ```text
/// MEMORY STATS
/// ```
/// Memory figures as a map, with Redis's field names for the ones usher has.
fn memory_stats(
    s: &mut Session,
    locked: &mut LockedShards,
    _argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    let (allocated, active, resident, _) = memory::allocator_stats();
    let peak = memory::peak_bytes(allocated);
    let rss = memory::rss_bytes();
    let (mut keys, mut overhead) = (0usize, 0usize);
    for shard in locked.iter_mut() {
        for db in shard.dbs.iter() {
            keys += db.len();
            overhead += db.overhead_bytes();
        }
    }
    let dataset = allocated.saturating_sub(overhead as u64);
    let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let fields: Vec<(&str, Stat)> = vec![
        ("peak.allocated", Stat::Int(peak as i64)),
        ("total.allocated", Stat::Int(allocated as i64)),
        ("startup.allocated", Stat::Int(0)),
        ("clients.normal", Stat::Int(0)),
        ("overhead.total", Stat::Int(overhead as i64)),
        ("keys.count", Stat::Int(keys as i64)),
        (
            "keys.bytes-per-key",
            Stat::Int(if keys == 0 {
                0
            } else {
                (allocated / keys as u64) as i64
            }),
        ),
        ("dataset.bytes", Stat::Int(dataset as i64)),
        (
            "dataset.percentage",
            Stat::Float(ratio(dataset, allocated) * 100.0),
        ),
        (
            "peak.percentage",
            Stat::Float(ratio(allocated, peak) * 100.0),
        ),
        ("allocator.allocated", Stat::Int(allocated as i64)),
        ("allocator.active", Stat::Int(active as i64)),
        ("allocator.resident", Stat::Int(resident as i64)),
        (
            "allocator-fragmentation.ratio",
            Stat::Float(ratio(active, allocated)),
        ),
        (
            "allocator-fragmentation.bytes",
            Stat::Int(active as i64 - allocated as i64),
        ),
        ("fragmentation", Stat::Float(ratio(rss, allocated))),
        (
            "fragmentation.bytes",
            Stat::Int(rss as i64 - allocated as i64),
        ),
    ];
    let _ = s;
    out.map(fields.len());
    for (name, value) in fields {
        out.bulk(name.as_bytes());
        match value {
            Stat::Int(i) => out.int(i),
            Stat::Float(f) => out.double(f),
        }
    }
    Ok(())
}

enum Stat {
    Int(i64),
    Float(f64),
}

/// ```text
/// MEMORY DOCTOR
/// ```
fn memory_doctor(
    _s: &mut Session,
    _locked: &mut LockedShards,
    _argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    let (allocated, active, resident, _) = memory::allocator_stats();
    let report = if allocated < 5 << 20 {
        "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.".to_string()
    } else if active as f64 / allocated as f64 > 1.4 {
        format!("Sam, I detected a few issues in this instance memory implementation:\n\n * High allocator fragmentation: This instance has an allocator external fragmentation greater than 1.4 ({:.2}): {} bytes allocated, {} active. usher frees large values in the background; a restart compacts the heap.\n", active as f64 / allocated as f64, allocated, active)
    } else {
        let _ = resident;
        "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.".to_string()
    };
    out.verbatim("txt", report.as_bytes());
    Ok(())
}

/// ```text
/// MEMORY PURGE
/// ```
/// Asks jemalloc to return dirty pages of every arena to the system.
fn memory_purge(
    _s: &mut Session,
    _locked: &mut LockedShards,
    _argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    memory::purge();
    out.ok();
    Ok(())
}

/// ```text
/// MEMORY MALLOC-STATS
/// ```
fn memory_malloc_stats(
    _s: &mut Session,
    _locked: &mut LockedShards,
    _argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    let (allocated, active, resident, retained) = memory::allocator_stats();
    let text = format!(
        "___ Begin jemalloc statistics ___\nAllocated: {allocated}, active: {active}, resident: {resident}, retained: {retained}\n--- End jemalloc statistics ---\n"
    );
    out.verbatim("txt", text.as_bytes());
    Ok(())
}

const MEMORY_HELP: &[&str] = &[
    "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DOCTOR",
    "    Return memory problems reports.",
    "MALLOC-STATS",
    "    Return internal statistics report from the memory allocator.",
    "PURGE",
    "    Attempt to purge dirty pages for reclamation by the allocator.",
    "STATS",
    "    Return information about the memory usage of the server.",
    "USAGE <key> [SAMPLES <count>]",
    "    Return memory in bytes used by <key> and its value. Nested values are",
    "    sampled up to <count> times (default: 5, 0 means sample all).",
    "HELP",
    "    Prints this help.",
];

fn memory_help(
    _s: &mut Session,
    _locked: &mut LockedShards,
    _argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    write_help(out, MEMORY_HELP);
    Ok(())
}

const MEMORY_SUBCOMMANDS: &[ServerSpec] = &[
    cmd("USAGE", -3, Flags::READONLY, memory_usage as ServerHandler)
        .keys(2, 2, 1)
        .doc(
            Group::Server,
            "4.0.0",
            "Estimates the memory usage of a key.",
            "O(N) where N is the number of samples.",
        ),
    cmd("STATS", 2, Flags::ALL_SHARDS, memory_stats as ServerHandler).doc(
        Group::Server,
        "4.0.0",
        "Returns details about memory usage.",
        "O(1)",
    ),
    cmd("DOCTOR", 2, Flags::NONE, memory_doctor as ServerHandler).doc(
        Group::Server,
        "4.0.0",
        "Outputs a memory problems report.",
        "O(1)",
    ),
    cmd("PURGE", 2, Flags::NONE, memory_purge as ServerHandler).doc(
        Group::Server,
        "4.0.0",
        "Asks the allocator to release memory.",
        "Depends on how much memory is allocated, could be slow",
    ),
    cmd(
        "MALLOC-STATS",
        2,
        Flags::NONE,
        memory_malloc_stats as ServerHandler,
    )
    .doc(
        Group::Server,
        "4.0.0",
        "Returns the allocator statistics.",
        "Depends on how much memory is allocated, could be slow",
    ),
    cmd(
        "HELP",
        2,
        Flags::LOADING.union(Flags::STALE),
        memory_help as ServerHandler,
    )
    .doc(
        Group::Server,
        "4.0.0",
        "Returns helpful text about the different subcommands.",
        "O(1)",
    ),
];

pub static COMMANDS: &[ServerSpec] = &[container("MEMORY", MEMORY_SUBCOMMANDS).doc(
    Group::Server,
    "4.0.0",
    "A container for memory diagnostics commands.",
    "Depends on subcommand.",
)];
