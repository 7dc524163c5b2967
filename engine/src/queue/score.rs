//! Arrival scores: strict FIFO even within one millisecond, exactly representable as doubles.
//!
//! A waiting line's score is the arrival time in Unix milliseconds, so the line stays readable
//! with `ZRANGE ... WITHSCORES` and `ZRANGEBYSCORE` by time. Arrivals within the same
//! millisecond take the next of [`SLOTS_PER_MS`] sub-millisecond slots (`ms + k/2048`). Until
//! the year 2109 a Unix millisecond count is below 2^42, which leaves 11 of a double's 53
//! mantissa bits for the slot: every score is exact, and comparing scores is comparing arrival
//! order. If a millisecond's 2048 slots are used up the next arrivals borrow the following
//! millisecond's: order stays strict and scores never collide.
//!
//! Users who arrive before the sale opens (a pre-queue) are not ordered by arrival: each gets a
//! random slot in the [`PREQUEUE_WINDOW_MS`] before the opening time, so at opening they form a
//! shuffled block ahead of everyone who arrives later, as Queue-it and Cloudflare do.

/// Sub-millisecond slots per millisecond (2^11).
pub const SLOTS_PER_MS: f64 = 2048.0;

/// Width of the pre-queue's score window before the opening time: 2^13 ms holds 2^24 distinct
/// slots, so collisions among even a million early arrivals are rare (and retried).
pub const PREQUEUE_WINDOW_MS: i64 = 1 << 13;

/// The score for an arrival at `now_ms` in a line whose current highest score is `last`.
/// Strictly greater than `last`, on the 1/2048 grid whenever the magnitudes allow.
pub fn next_arrival(now_ms: i64, last: Option<f64>) -> f64 {
    let base = now_ms as f64;
    match last {
        Some(last) if last >= base => {
            let on_grid = (last * SLOTS_PER_MS).floor() / SLOTS_PER_MS + 1.0 / SLOTS_PER_MS;
            // Past 2^42 the grid step is below a double's resolution: take the next double.
            if on_grid > last {
                on_grid
            } else {
                last.next_up()
            }
        }
        _ => base,
    }
}

/// A pre-queue score: slot `slot` (0 ≤ slot < window × 2048) of the window before `open_ms`.
pub fn prequeue_slot(open_ms: i64, slot: u32) -> f64 {
    debug_assert!((slot as i64) < PREQUEUE_WINDOW_MS * SLOTS_PER_MS as i64);
    (open_ms - PREQUEUE_WINDOW_MS) as f64 + slot as f64 / SLOTS_PER_MS
}

/// Number of distinct pre-queue slots.
pub const PREQUEUE_SLOTS: u32 = (PREQUEUE_WINDOW_MS as u32) * (SLOTS_PER_MS as u32);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrivals_in_one_millisecond_stay_ordered_and_exact() {
        let now = 1_795_000_000_123;
        let mut last = None;
        let mut scores = Vec::new();
        for _ in 0..5000 {
            let s = next_arrival(now, last);
            assert!(last.is_none_or(|l| s > l));
            // Exact: the score is an integer number of 1/2048 ms.
            assert_eq!((s * SLOTS_PER_MS).fract(), 0.0);
            scores.push(s);
            last = Some(s);
        }
        assert_eq!(scores[0], now as f64);
        assert_eq!(scores[1], now as f64 + 1.0 / 2048.0);
        // The 2049th arrival borrows the next millisecond.
        assert_eq!(scores[2048], (now + 1) as f64);
    }

    #[test]
    fn a_later_clock_starts_a_new_millisecond() {
        assert_eq!(next_arrival(2000, Some(1000.5)), 2000.0);
        assert_eq!(next_arrival(1000, Some(1000.0)), 1000.0 + 1.0 / 2048.0);
        // A clock that went backwards never reorders.
        assert!(next_arrival(900, Some(1000.0)) > 1000.0);
    }

    #[test]
    fn huge_foreign_scores_still_get_a_strictly_greater_score() {
        let last = 1e18;
        assert!(next_arrival(1000, Some(last)) > last);
    }

    #[test]
    fn prequeue_slots_fill_the_window_before_opening() {
        let open = 1_795_000_000_000;
        assert_eq!(prequeue_slot(open, 0), (open - PREQUEUE_WINDOW_MS) as f64);
        let last = prequeue_slot(open, PREQUEUE_SLOTS - 1);
        assert!(last < open as f64 && open as f64 - last <= 1.0 / 2048.0 + 1e-9);
    }
}
