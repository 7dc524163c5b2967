//! Auditable randomness: the pre-queue shuffle and the random method's draws are functions of
//! the policy's secret seed and public facts, never of a hidden random generator, so that
//! after a sale the operator can publish the seed and anyone can recompute who was placed or
//! drawn where (and a replay of the same commands, from a log or a replica, places and draws
//! the same users).
//!
//! Both are the first 8 bytes, big-endian, of SHA-256 over the seed and a tagged message:
//!
//! ```text
//! pre-queue slot of user   = H(seed "|prequeue|" user) mod PREQUEUE_SLOTS
//! i-th draw at now, of n   = H(seed "|draw|" now "|" n "|" i) mod n    (decimal numbers)
//! ```
//!
//! Users whose pre-queue slots collide share a score and are ordered by user id, as a sorted
//! set orders equal scores, so the order needs nothing but the seed to recompute.

use sha2::{Digest, Sha256};

fn hash64(parts: &[&[u8]]) -> u64 {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    let digest = h.finalize();
    u64::from_be_bytes(digest[..8].try_into().expect("SHA-256 is 32 bytes"))
}

/// The pre-queue slot `user` draws under `seed`, below `slots`.
pub fn prequeue_slot_of(seed: &[u8], user: &[u8], slots: u32) -> u32 {
    (hash64(&[seed, b"|prequeue|", user]) % slots as u64) as u32
}

/// The rank (0-based, below `n`) of the `i`-th user drawn at `now_ms` from a line of `n`
/// live waiters.
pub fn draw_rank(seed: &[u8], now_ms: i64, n: usize, i: usize) -> usize {
    let (now, len, i) = (now_ms.to_string(), n.to_string(), i.to_string());
    let h = hash64(&[
        seed,
        b"|draw|",
        now.as_bytes(),
        b"|",
        len.as_bytes(),
        b"|",
        i.as_bytes(),
    ]);
    (h % n as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_places_and_draws() {
        assert_eq!(
            prequeue_slot_of(b"s", b"alice", 1 << 24),
            prequeue_slot_of(b"s", b"alice", 1 << 24)
        );
        assert_ne!(
            (0..8)
                .map(|i| draw_rank(b"s", 5, 1000, i))
                .collect::<Vec<_>>(),
            (0..8)
                .map(|i| draw_rank(b"t", 5, 1000, i))
                .collect::<Vec<_>>()
        );
        assert!((0..1000).all(|i| draw_rank(b"s", 5, 7, i) < 7));
    }

    #[test]
    fn draws_are_close_to_uniform() {
        let mut counts = [0u32; 10];
        for i in 0..100_000 {
            counts[draw_rank(b"seed", 1, 10, i)] += 1;
        }
        assert!(
            counts.iter().all(|&c| (9_500..10_500).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn matches_the_documented_formula() {
        // H("k|prequeue|u") computed with Python's hashlib:
        // int.from_bytes(hashlib.sha256(b"k|prequeue|u").digest()[:8], "big")
        assert_eq!(hash64(&[b"k|prequeue|u"]), 5001220651099602253);
        assert_eq!(
            prequeue_slot_of(b"k", b"u", 1 << 24),
            (5001220651099602253u64 % (1 << 24)) as u32
        );
    }
}
