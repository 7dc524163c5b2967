//! Heartbeat timeouts that follow the poll interval a user is told to use.
//!
//! The seeds poll adaptively (seed 002, `getNextPollInterval`): every second near the front,
//! once a minute beyond 100,000th place. A single timeout cannot fit both: short enough to drop
//! a front-row user who left, it drops everyone far back between two of their polls. So each
//! heartbeat sets a deadline of `now + timeout(position)`, where the timeout is the policy's
//! HEARTBEAT or [`MISSED_POLLS`] poll intervals at that position, whichever is longer.

/// Polls a user may miss before being dropped.
pub const MISSED_POLLS: i64 = 3;

/// The poll interval for a 1-based place in line, in ms (the seeds' table).
pub fn poll_ms(position: i64) -> i64 {
    match position {
        p if p > 100_000 => 60_000,
        p if p > 10_000 => 30_000,
        p if p > 5_000 => 10_000,
        p if p > 1_000 => 5_000,
        _ => 1_000,
    }
}

/// How long a user at `position` may stay silent under a policy heartbeat of `base_ms`.
pub fn timeout_ms(base_ms: i64, position: i64) -> i64 {
    base_ms.max(MISSED_POLLS * poll_ms(position))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn far_back_users_get_the_time_of_their_slower_polls() {
        assert_eq!(poll_ms(1), 1_000);
        assert_eq!(poll_ms(1_001), 5_000);
        assert_eq!(poll_ms(150_000), 60_000);
        assert_eq!(timeout_ms(30_000, 1), 30_000);
        assert_eq!(timeout_ms(30_000, 150_000), 180_000);
        assert_eq!(timeout_ms(1_000, 2_000), 15_000);
    }
}
