//! Memory figures from jemalloc (the allocator Redis uses too), for INFO, MEMORY and
//! `maxmemory`.
//!
//! Reading jemalloc's totals needs an "epoch" refresh that takes a global lock inside jemalloc,
//! so the figure is cached and refreshed at most once per millisecond; `maxmemory` checks see
//! a value at most that stale.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use tikv_jemalloc_ctl::{epoch, stats};

static USED: AtomicU64 = AtomicU64::new(0);
static REFRESHED_US: AtomicI64 = AtomicI64::new(i64::MIN);

fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// Bytes allocated by the process (Redis's `used_memory`), at most 1 ms old.
pub fn used_bytes() -> u64 {
    let now = now_us();
    let last = REFRESHED_US.load(Ordering::Relaxed);
    // Saturating: `last` starts at i64::MIN, and a wrapped difference would never refresh.
    if now.saturating_sub(last) >= 1000
        && REFRESHED_US
            .compare_exchange(last, now, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
    {
        refresh();
    }
    USED.load(Ordering::Relaxed)
}

fn refresh() {
    if epoch::advance().is_ok() {
        if let Ok(v) = stats::allocated::read() {
            USED.store(v as u64, Ordering::Relaxed);
        }
    }
}

/// Detailed allocator figures: (allocated, active, resident, retained).
pub fn allocator_stats() -> (u64, u64, u64, u64) {
    let _ = epoch::advance();
    let get = |r: Result<usize, tikv_jemalloc_ctl::Error>| r.unwrap_or(0) as u64;
    (
        get(stats::allocated::read()),
        get(stats::active::read()),
        get(stats::resident::read()),
        get(stats::retained::read()),
    )
}

/// Resident set size from /proc (Redis's `used_memory_rss`).
pub fn rss_bytes() -> u64 {
    let page = 4096u64;
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map_or(0, |pages| pages * page)
}

/// Peak of `used_bytes` seen so far.
pub fn peak_bytes(current: u64) -> u64 {
    static PEAK: AtomicU64 = AtomicU64::new(0);
    PEAK.fetch_max(current, Ordering::Relaxed).max(current)
}

/// Formats bytes like Redis's `bytesToHuman` (`1.23M`).
pub fn human(bytes: u64) -> String {
    let b = bytes as f64;
    const K: f64 = 1024.0;
    if b < K {
        format!("{bytes}B")
    } else if b < K * K {
        format!("{:.2}K", b / K)
    } else if b < K * K * K {
        format!("{:.2}M", b / (K * K))
    } else if b < K * K * K * K {
        format!("{:.2}G", b / (K * K * K))
    } else {
        format!("{:.2}T", b / (K * K * K * K))
    }
}

/// Returns dirty pages of every jemalloc arena to the system (MEMORY PURGE).
pub fn purge() {
    // MALLCTL_ARENAS_ALL is 4096 in jemalloc 5.
    // SAFETY: "arena.4096.purge" takes no value; writing () is its documented use.
    let _ = unsafe { tikv_jemalloc_ctl::raw::write(b"arena.4096.purge\0", ()) };
}
