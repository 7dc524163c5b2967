//! Keyspace hits and misses (`INFO stats` `keyspace_hits` / `keyspace_misses`), counted per
//! thread as lookups happen.
//!
//! Redis counts a hit or a miss for each key its read-path lookups find or do not find, and
//! nothing for a write command's own lookups (`lookupKey` skips `LOOKUP_WRITE`). usher's
//! [`crate::db::Db`] has one lookup for both, so every lookup is tallied here, on the running
//! thread, and the server takes the tally after each command: it keeps it for commands that
//! count (read-only ones, and writes whose handler said [`count_as_reads`] because Redis reads
//! their keys with `lookupKeyRead`, as in `GETDEL` or `SINTERSTORE`) and drops it otherwise.
//! A thread-local costs one add per lookup and no lock, and a command never moves threads.

use std::cell::Cell;

thread_local! {
    /// Hits in bits 0..32, misses in bits 32..63, and bit 63 set by [`count_as_reads`]: one
    /// thread-local access per lookup and one per command.
    static TALLY: Cell<u64> = const { Cell::new(0) };
}

const MISS: u64 = 1 << 32;
const COUNTED: u64 = 1 << 63;

/// A hit if `found`, else a miss, without a branch.
#[inline]
pub(crate) fn tally(found: bool) {
    let add = if found { 1 } else { MISS };
    TALLY.with(|t| t.set(t.get().wrapping_add(add)));
}

/// Called by a write command's handler when its lookups read keys the way Redis's
/// `lookupKeyRead` does (GETDEL, SET ... GET, the STORE forms' sources), so they count as a
/// read-only command's do.
#[inline]
pub fn count_as_reads() {
    TALLY.with(|t| t.set(t.get() | COUNTED));
}

/// What this thread counted since the last take: hits, misses, and whether the command asked
/// for them to count ([`count_as_reads`]). Starts a fresh tally.
#[inline]
/// Whether the running command asked for its lookups to count as reads (without taking).
pub fn counted_as_reads() -> bool {
    TALLY.with(|t| t.get() & COUNTED != 0)
}

pub fn take() -> Tally {
    let tally = TALLY.with(|t| t.replace(0));
    Tally {
        hits: tally & (MISS - 1),
        misses: (tally & !COUNTED) >> 32,
        counted: tally & COUNTED != 0,
    }
}

/// Lookups since the last [`take`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tally {
    pub hits: u64,
    pub misses: u64,
    /// A write command asked for its lookups to count.
    pub counted: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_returns_and_resets_the_tally() {
        take();
        tally(true);
        tally(true);
        tally(false);
        let first = take();
        assert_eq!((first.hits, first.misses, first.counted), (2, 1, false));
        count_as_reads();
        tally(false);
        let second = take();
        assert_eq!((second.hits, second.misses, second.counted), (0, 1, true));
        let third = take();
        assert_eq!((third.hits, third.misses, third.counted), (0, 0, false));
    }
}
