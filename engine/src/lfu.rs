//! Redis's LFU access counter (evict.c): what `OBJECT FREQ` reports under an LFU
//! `maxmemory-policy`. usher never evicts, but it keeps the counter exactly as Redis does so
//! tools that read key popularity see the same numbers.
//!
//! Under an LFU policy an entry's 24-bit access field holds Redis's layout: the last decrement
//! time in minutes (16 bits) and a logarithmic counter (8 bits). An access first decays the
//! counter by one per `lfu-decay-time` minutes elapsed, then increments it with probability
//! `1 / ((counter - 5) * lfu-log-factor + 1)`. Switching policy at run time reinterprets the
//! field, as in Redis ("LRU and LFU data will take some time to adjust").
//!
//! A client in `CLIENT NO-TOUCH ON` mode (Redis 7.2) reads keys without recording the access;
//! the dispatcher sets that per command on its thread ([`set_no_touch`]).
//!
//! The settings live in process-wide atomics, set by the server on every configuration change:
//! lookups read one relaxed flag, and the database needs no configuration handle.

use rand::RngExt;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// Redis's `LFU_INIT_VAL`: a new key starts warm so it is not evicted at once.
pub const INIT_VAL: u32 = 5;

/// The LFU part of the configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LfuConfig {
    /// Whether `maxmemory-policy` is one of the `*-lfu` policies.
    pub enabled: bool,
    /// `lfu-log-factor`.
    pub log_factor: u32,
    /// `lfu-decay-time` (minutes; 0: never decay).
    pub decay_time: u32,
}

impl Default for LfuConfig {
    fn default() -> Self {
        LfuConfig {
            enabled: false,
            log_factor: 10,
            decay_time: 1,
        }
    }
}

static ENABLED: AtomicBool = AtomicBool::new(false);
static LOG_FACTOR: AtomicU32 = AtomicU32::new(10);
static DECAY_TIME: AtomicU32 = AtomicU32::new(1);

/// Installs the settings the lookups use.
pub fn configure(c: &LfuConfig) {
    LOG_FACTOR.store(c.log_factor, Ordering::Relaxed);
    DECAY_TIME.store(c.decay_time, Ordering::Relaxed);
    ENABLED.store(c.enabled, Ordering::Relaxed);
}

thread_local! {
    /// The command running on this thread comes from a NO-TOUCH client (and is not TOUCH).
    static NO_TOUCH: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Marks the commands this thread runs next as not recording accesses (or as recording).
pub fn set_no_touch(on: bool) {
    NO_TOUCH.with(|c| c.set(on));
}

/// Whether accesses are not recorded now.
#[inline]
pub fn no_touch() -> bool {
    NO_TOUCH.with(|c| c.get())
}

/// Whether the access field holds LFU data.
#[inline]
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Redis's `LFUGetTimeInMinutes`: the Unix clock in minutes, 16 bits.
fn minutes(now_ms: i64) -> u32 {
    ((now_ms / 60_000) & 0xffff) as u32
}

/// A new key's field: now, and the initial counter.
pub fn initial(now_ms: i64) -> u32 {
    (minutes(now_ms) << 8) | INIT_VAL
}

/// Redis's `LFUTimeElapsed`: minutes since `ldt`, modulo the 16-bit wrap.
fn elapsed(ldt: u32, now_ms: i64) -> u32 {
    let now = minutes(now_ms);
    if now >= ldt {
        now - ldt
    } else {
        65535 - ldt + now
    }
}

/// Redis's `LFUDecrAndReturn`: the counter after decay (the field is not changed).
pub fn decayed(field: u32, now_ms: i64) -> u32 {
    let (ldt, counter) = (field >> 8 & 0xffff, field & 0xff);
    let decay = DECAY_TIME.load(Ordering::Relaxed);
    // lfu-decay-time 0: the counter never decays.
    let periods = elapsed(ldt, now_ms).checked_div(decay).unwrap_or(0);
    counter.saturating_sub(periods)
}

/// Redis's `LFULogIncr`: a logarithmic increment, saturating at 255.
fn log_incr(counter: u32) -> u32 {
    if counter == 255 {
        return 255;
    }
    let r: f64 = rand::rng().random();
    let base = counter.saturating_sub(INIT_VAL) as f64;
    let p = 1.0 / (base * LOG_FACTOR.load(Ordering::Relaxed) as f64 + 1.0);
    if r < p {
        counter + 1
    } else {
        counter
    }
}

/// Redis's `updateLFU`: the field after one access.
pub fn accessed(field: u32, now_ms: i64) -> u32 {
    let counter = log_incr(decayed(field, now_ms));
    (minutes(now_ms) << 8) | counter
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decay_takes_one_per_period_and_stops_at_zero() {
        let now = 10 * 60_000;
        let field = (minutes(now - 3 * 60_000) << 8) | 7;
        assert_eq!(decayed(field, now), 4);
        let old = (minutes(now - 30 * 60_000) << 8) | 7;
        assert_eq!(decayed(old, now), 0);
        assert_eq!(decayed(initial(now), now), INIT_VAL);
    }

    #[test]
    fn increments_slow_down_logarithmically() {
        let now = 0;
        let mut field = initial(now);
        for _ in 0..1000 {
            field = accessed(field, now);
        }
        let c = field & 0xff;
        // Redis's table (lfu-log-factor 10): 1K hits reach about 18, far below 255.
        assert!((10..=30).contains(&c), "counter after 1000 hits: {c}");
        assert_eq!(log_incr(255), 255);
    }
}
