//! The small encoding ("listpack" in `OBJECT ENCODING`): one `Vec` sorted by `(score, member)`.
//!
//! Invariant: `entries` is strictly increasing in Redis order and holds each member once.
//! Lookups by member are linear, as in Redis's listpack: with at most
//! `zset-max-listpack-entries` (128 by default) 32-byte entries a scan touches a few cache
//! lines, and the set carries no index at all.

use std::cmp::Ordering;

use super::slab::Entry;
use super::tree::{cmp_key, Key};
use crate::bytes::SmallBytes;

#[derive(Default, Clone)]
pub(super) struct Listpack {
    entries: Vec<Entry>,
}

impl Listpack {
    pub(super) fn from_sorted(entries: Vec<Entry>) -> Listpack {
        let lp = Listpack { entries };
        debug_assert!(lp.is_sorted());
        lp
    }

    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(super) fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub(super) fn into_entries(self) -> Vec<Entry> {
        self.entries
    }

    pub(super) fn position(&self, member: &[u8]) -> Option<usize> {
        self.entries
            .iter()
            .position(|e| e.member.as_slice() == member)
    }

    /// Position where `key` belongs (entries before it).
    fn lower_bound(&self, key: Key<'_>) -> usize {
        self.entries
            .partition_point(|e| cmp_key(e.score, &e.member, key) == Ordering::Less)
    }

    /// Inserts a member known to be absent.
    pub(super) fn insert_new(&mut self, member: &[u8], score: f64) {
        debug_assert!(self.position(member).is_none());
        let at = self.lower_bound(Key { score, member });
        self.entries.insert(
            at,
            Entry {
                member: SmallBytes::new(member),
                score,
            },
        );
    }

    /// Changes the score of the entry at `i`, moving it to its new place; returns the old
    /// score. Equal scores (IEEE, so also `-0.0` vs `0.0`) change nothing, as in Redis.
    pub(super) fn update(&mut self, i: usize, score: f64) -> f64 {
        let old = self.entries[i].score;
        if old != score {
            let mut e = self.entries.remove(i);
            e.score = score;
            let at = self.lower_bound(Key {
                score,
                member: &e.member,
            });
            self.entries.insert(at, e);
        }
        old
    }

    pub(super) fn remove_at(&mut self, i: usize) -> Entry {
        self.entries.remove(i)
    }

    pub(super) fn remove_range(&mut self, start: usize, stop: usize) {
        self.entries.drain(start..=stop);
    }

    pub(super) fn allocated_bytes(&self) -> usize {
        self.entries.capacity() * size_of::<Entry>()
            + self
                .entries
                .iter()
                .map(|e| e.member.heap_size())
                .sum::<usize>()
    }

    fn is_sorted(&self) -> bool {
        self.entries.windows(2).all(|w| {
            cmp_key(
                w[0].score,
                &w[0].member,
                Key {
                    score: w[1].score,
                    member: &w[1].member,
                },
            ) == Ordering::Less
        })
    }

    pub(super) fn check_invariants(&self) {
        assert!(self.is_sorted(), "listpack out of order");
        let members: std::collections::HashSet<&[u8]> =
            self.entries.iter().map(|e| e.member.as_slice()).collect();
        assert_eq!(
            members.len(),
            self.entries.len(),
            "listpack holds a member twice"
        );
    }
}
