//! The big encoding ("skiplist" in `OBJECT ENCODING`): slab + order-statistic tree + hash index.
//!
//! Every member lives exactly once, in the [`Slab`], under a dense id. The [`Tree`] orders the
//! ids by `(score, member)` and answers rank questions; the [`Index`] maps a member's hash to
//! its id and answers "what is this member's score". An element is therefore in all three or
//! in none: insertion goes slab, index, tree; removal goes tree, index, then the slab, whose
//! swap-remove moves the last entry into the hole, after which the tree and the index are
//! re-pointed at the moved entry's new id. Between those steps nothing compares keys, so the
//! brief disagreement (the tree already holds the new id while the slab still has the old
//! entry there) is never observed. The score is stored twice, in the slab (for `ZSCORE` without
//! a tree descent) and in the tree's leaves (for descents without slab reads); both change
//! together in [`Big::insert`].
//!
//! Memory per element: 32 bytes of slab entry; 12 bytes of leaf entry (at ~80% leaf fill
//! under random inserts, ~100% when appending); 4 bytes of index entry plus its control byte
//! (at 44-88% table load); about one byte of inner nodes and separators. Measured totals are
//! in `docs/benchmarks.md`: 57-61 bytes at 1 Mi members, under half of Redis 7.0's 125.

use std::hash::{BuildHasher, Hasher};

use foldhash::fast::RandomState;
use rand::RngExt;

use super::index::Index;
use super::slab::{Entry, Slab};
use super::tree::{Key, Pred, Tree, TreeIter};
use super::MemoryBreakdown;
use crate::bytes::SmallBytes;

/// The big encoding; see the module docs.
#[derive(Clone)]
pub(super) struct Big {
    slab: Slab,
    tree: Tree,
    index: Index,
    /// Seeded per set: scan cursors are hash values of this set's members.
    hasher: RandomState,
}

#[inline]
fn hash_member(hasher: &RandomState, member: &[u8]) -> u64 {
    let mut h = hasher.build_hasher();
    h.write(member);
    h.finish()
}

impl Big {
    pub(super) fn new() -> Big {
        Big {
            slab: Slab::default(),
            tree: Tree::default(),
            index: Index::default(),
            hasher: RandomState::default(),
        }
    }

    /// Builds the big encoding from entries already in `(score, member)` order. Appending in
    /// order fills every leaf completely (see the tree's rightmost split).
    pub(super) fn from_sorted(entries: Vec<Entry>) -> Big {
        let mut big = Big::new();
        for e in entries {
            let prev = big.insert(&e.member, e.score);
            debug_assert!(prev.is_none(), "duplicate member in a listpack");
        }
        big
    }

    pub(super) fn len(&self) -> usize {
        self.slab.len()
    }

    fn hash(&self, member: &[u8]) -> u64 {
        hash_member(&self.hasher, member)
    }

    fn find(&self, h: u64, member: &[u8]) -> Option<u32> {
        self.index.find(h, |id| self.slab.member(id) == member)
    }

    /// One stage of warming the caches for a lookup of `member` (see `crate::warm`): 0 loads
    /// the index segment's header, 1 its group for the member, 2 the slab entries the group's
    /// tags point at, 3 (with `rank`) the tree leaf. Each stage reads only what the previous
    /// ones loaded.
    pub(super) fn warm(&self, member: &[u8], stage: usize, rank: bool) {
        let h = self.hash(member);
        match stage {
            0 => self.index.prefetch_segment(h),
            1 => self.index.prefetch(h),
            2 => self.index.candidates(h, |id| self.slab.prefetch(id)),
            _ if rank => {
                if let Some(id) = self.find(h, member) {
                    let score = self.slab.score(id);
                    self.tree.prefetch_leaf(Key { score, member });
                }
            }
            _ => {}
        }
    }

    pub(super) fn score(&self, member: &[u8]) -> Option<f64> {
        self.find(self.hash(member), member)
            .map(|id| self.slab.score(id))
    }

    /// Inserts or updates; returns the previous score. An equal score (IEEE `==`, so `-0.0`
    /// vs `0.0` too) leaves the element untouched, as Redis's `zsetAdd` does.
    pub(super) fn insert(&mut self, member: &[u8], score: f64) -> Option<f64> {
        let h = self.hash(member);
        if let Some(id) = self.find(h, member) {
            let old = self.slab.score(id);
            if old != score {
                let removed = self.tree.remove(Key { score: old, member }, id, &self.slab);
                debug_assert!(removed, "index and tree disagree");
                self.slab.set_score(id, score);
                self.tree.insert(Key { score, member }, id, &self.slab);
            }
            return Some(old);
        }
        let id = self.slab.push(Entry {
            member: SmallBytes::new(member),
            score,
        });
        let (slab, hasher) = (&self.slab, &self.hasher);
        self.index
            .insert(h, id, |x| hash_member(hasher, slab.member(x)));
        self.tree.insert(Key { score, member }, id, &self.slab);
        debug_assert_eq!(self.tree.len(), self.slab.len());
        None
    }

    pub(super) fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let h = self.hash(member);
        let id = self.find(h, member)?;
        let score = self.slab.score(id);
        let removed = self.tree.remove(Key { score, member }, id, &self.slab);
        assert!(
            removed,
            "index and tree disagree on {:?}",
            SmallBytes::new(member)
        );
        Some(self.release(id, h).score)
    }

    /// Removes the element at ascending rank `rank`.
    pub(super) fn remove_at(&mut self, rank: usize) -> Option<Entry> {
        let (_, id) = self.tree.remove_at(rank, &self.slab)?;
        let h = self.hash(self.slab.member(id));
        Some(self.release(id, h))
    }

    /// Drops `id` (hash `h`), already out of the tree, from the index and the slab, and
    /// re-points the tree and the index at the entry the slab moves into its place.
    fn release(&mut self, id: u32, h: u64) -> Entry {
        let (slab, hasher) = (&self.slab, &self.hasher);
        self.index
            .remove(h, id, |x| hash_member(hasher, slab.member(x)));
        let last = (self.slab.len() - 1) as u32;
        if id != last {
            let moved = self.slab.get(last);
            let key = Key {
                score: moved.score,
                member: &moved.member,
            };
            self.tree.replace_id(key, last, id);
            self.index
                .replace(hash_member(&self.hasher, &moved.member), last, id);
        }
        let (entry, moved_from) = self.slab.swap_remove(id);
        debug_assert_eq!(moved_from, (id != last).then_some(last));
        debug_assert_eq!(self.tree.len(), self.slab.len());
        entry
    }

    pub(super) fn rank(&self, member: &[u8]) -> Option<usize> {
        let id = self.find(self.hash(member), member)?;
        let rank = self.tree.rank(
            Key {
                score: self.slab.score(id),
                member,
            },
            id,
        );
        debug_assert!(rank.is_some(), "indexed member missing from the tree");
        rank
    }

    pub(super) fn get(&self, rank: usize) -> Option<(&[u8], f64)> {
        let (score, id) = self.tree.get(rank)?;
        Some((self.slab.member(id), score))
    }

    pub(super) fn partition_point<P: Pred>(&self, pred: &P) -> usize {
        self.tree.partition_point(pred, &self.slab)
    }

    pub(super) fn iter_from(&self, start: usize, rev: bool) -> BigIter<'_> {
        BigIter {
            tree: self.tree.iter_from(start, rev),
            slab: &self.slab,
        }
    }

    /// One `ZSCAN` step; see the index module for the cursor's meaning and guarantee.
    pub(super) fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&[u8], f64)) -> u64 {
        let (slab, hasher) = (&self.slab, &self.hasher);
        self.index.scan(
            cursor,
            count,
            |id| hash_member(hasher, slab.member(id)),
            |id| {
                let e = slab.get(id);
                f(&e.member, e.score)
            },
        )
    }

    /// A uniformly random element: ids are dense, so any id in `0..len` is one.
    pub(super) fn random<R: rand::Rng + ?Sized>(&self, rng: &mut R) -> Option<(&[u8], f64)> {
        if self.len() == 0 {
            return None;
        }
        let e = self.slab.get(rng.random_range(0..self.len()) as u32);
        Some((&e.member, e.score))
    }

    /// Consumes the set, yielding entries in `(score, member)` order.
    pub(super) fn into_sorted(self) -> Vec<Entry> {
        let mut slots: Vec<Option<Entry>> =
            self.slab.into_entries().into_iter().map(Some).collect();
        let order = self.tree.iter_from(0, false).map(|(_, id)| id);
        order
            .map(|id| slots[id as usize].take().expect("each id once"))
            .collect()
    }

    pub(super) fn allocated_bytes(&self) -> usize {
        let m = self.memory_breakdown();
        m.slab + m.tree + m.index + m.header
    }

    pub(super) fn memory_breakdown(&self) -> MemoryBreakdown {
        MemoryBreakdown {
            slab: self.slab.allocated_bytes(),
            tree: self.tree.allocated_bytes(),
            index: self.index.allocated_bytes(),
            header: size_of::<Big>(),
        }
    }

    /// Checks each structure, then that all three agree on every element.
    pub(super) fn check_invariants(&self) {
        let (slab, hasher) = (&self.slab, &self.hasher);
        slab.check_invariants();
        self.tree.check_invariants(slab);
        self.index
            .check_invariants(|id| hash_member(hasher, slab.member(id)));
        assert_eq!(self.tree.len(), slab.len(), "tree and slab lengths");
        assert_eq!(self.index.len(), slab.len(), "index and slab lengths");
        for id in 0..slab.len() as u32 {
            let member = slab.member(id);
            assert_eq!(
                self.find(self.hash(member), member),
                Some(id),
                "index misses slab id {id}"
            );
            let rank = self.tree.rank(
                Key {
                    score: slab.score(id),
                    member,
                },
                id,
            );
            assert_eq!(
                self.tree
                    .get(rank.expect("every slab entry is in the tree")),
                Some((slab.score(id), id))
            );
        }
    }
}

/// In-order iterator of a big set: the tree's ids resolved through the slab.
pub(super) struct BigIter<'a> {
    tree: TreeIter<'a>,
    slab: &'a Slab,
}

impl<'a> Iterator for BigIter<'a> {
    type Item = (&'a [u8], f64);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let (score, id) = self.tree.next()?;
        Some((self.slab.member(id), score))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.tree.size_hint()
    }
}
