//! Member -> slab id index: extendible hashing over small [`GroupTable`]s ("segments").
//!
//! Invariants:
//! - Each id in the slab appears in exactly one segment, the one the directory assigns to the
//!   top bits of its member's 64-bit hash. The table stores only the 4-byte id: the member
//!   bytes live once, in the slab, and equality is checked there.
//! - A segment of local depth `d` owns one contiguous hash range: all hashes whose top `d` bits
//!   equal its prefix. The directory has `2^depth` slots (`depth >= d` for every segment); a
//!   segment appears in the `2^(depth - d)` consecutive slots that share its prefix.
//!
//! Why segments rather than one table: a full segment splits in two by the next hash bit, so
//! growth rehashes at most [`SEG_MAX`] members at a time. One `HashTable` for 10M members would
//! rehash everything at once (every rehash re-reads a member from the slab, a cache miss), a
//! stall of a large fraction of a second on the shard's thread.
//!
//! Why this makes `ZSCAN` easy: segments cover contiguous, ordered hash ranges, so a cursor is
//! simply a hash value. A scan call returns every member whose hash lies in `[cursor, next)`
//! and answers `next`; the intervals of successive calls tile the 64-bit hash space. A member
//! present for the whole scan has a fixed hash, which lies in exactly one interval, and is
//! returned by that call whatever splits, growth or deletions happened in between. Splits only
//! add boundaries, so a returned cursor stays a segment boundary and calls rarely re-hash.

use super::group_table::GroupTable;

/// Members per segment before it splits: the load limit of a 16-group table (7/8 of its 192
/// slots), 1 KiB.
#[cfg(not(test))]
pub(super) const SEG_MAX: usize = 168;
/// Under test, splits happen every few inserts.
#[cfg(test)]
pub(super) const SEG_MAX: usize = 3;

/// Directory depth cap: beyond it full segments just grow. 2^24 slots (64 MiB) would index
/// billions of members; the cap only matters for pathological hash clustering.
#[cfg(not(test))]
const DIR_DEPTH_MAX: u32 = 24;
/// Reached in tests, so the grow-instead-of-split fallback runs too.
#[cfg(test)]
const DIR_DEPTH_MAX: u32 = 6;

/// Tables at or below this capacity (two groups) are never shrunk.
const SHRINK_CAPACITY_MIN: usize = 21;

/// A scan call visits at most this many segments per requested element in one scan call, so a
/// sparse index cannot make one call walk the whole directory.
const SCAN_SEGMENTS_PER_COUNT: usize = 10;

#[derive(Clone)]
struct Segment {
    depth: u32,
    table: GroupTable,
}

/// The index; see the module docs.
#[derive(Clone)]
pub(super) struct Index {
    dir: Vec<u32>,
    depth: u32,
    segs: Vec<Segment>,
    /// Sum of the segment tables' allocation sizes, kept incrementally.
    table_bytes: usize,
}

impl Default for Index {
    fn default() -> Self {
        Index {
            dir: vec![0],
            depth: 0,
            segs: vec![Segment {
                depth: 0,
                table: GroupTable::default(),
            }],
            table_bytes: 0,
        }
    }
}

#[inline]
fn dir_slot(h: u64, depth: u32) -> usize {
    if depth == 0 {
        0
    } else {
        (h >> (64 - depth)) as usize
    }
}

/// `[start, end)` of the hash range of the segment with local depth `d` owning hash `h`.
fn seg_range(h: u64, d: u32) -> (u64, u128) {
    if d == 0 {
        return (0, 1u128 << 64);
    }
    let prefix = h >> (64 - d);
    let start = prefix << (64 - d);
    (start, ((prefix as u128) + 1) << (64 - d))
}

impl Index {
    fn seg_of(&self, h: u64) -> usize {
        self.dir[dir_slot(h, self.depth)] as usize
    }

    /// The id whose member has hash `h` and satisfies `is_member`.
    #[inline]
    pub(super) fn find(&self, h: u64, is_member: impl FnMut(u32) -> bool) -> Option<u32> {
        self.segs[self.seg_of(h)].table.find(h, is_member)
    }

    /// Calls `f` with every id that may be the one stored under `h` (tag matches).
    #[inline]
    pub(super) fn candidates(&self, h: u64, f: impl FnMut(u32)) {
        self.segs[self.seg_of(h)].table.candidates(h, f);
    }

    /// Starts loading the header of the segment that owns `h`.
    #[inline]
    pub(super) fn prefetch_segment(&self, h: u64) {
        crate::prefetch::read(&self.segs[self.seg_of(h)]);
    }

    /// Starts loading the table group that [`Index::find`] of `h` reads first.
    #[inline]
    pub(super) fn prefetch(&self, h: u64) {
        self.segs[self.seg_of(h)].table.prefetch(h);
    }

    /// Adds `id` (not present) under hash `h`. `hash_of` recomputes an id's member hash, for
    /// splits and table growth.
    pub(super) fn insert(&mut self, h: u64, id: u32, hash_of: impl Fn(u32) -> u64) {
        let mut s = self.seg_of(h);
        while self.segs[s].table.len() >= SEG_MAX && self.can_split(s) {
            self.split(s, h, &hash_of);
            s = self.seg_of(h);
        }
        let table = &mut self.segs[s].table;
        debug_assert!(
            table.find(h, |x| x == id).is_none(),
            "id {id} indexed twice"
        );
        let before = table.allocation_size();
        table.insert_unique(h, id, hash_of);
        self.table_bytes = self.table_bytes + table.allocation_size() - before;
    }

    /// Removes `id`, stored under hash `h`; panics if absent (the caller found it first).
    pub(super) fn remove(&mut self, h: u64, id: u32, hash_of: impl Fn(u32) -> u64) {
        let s = self.seg_of(h);
        let table = &mut self.segs[s].table;
        let before = table.allocation_size();
        assert!(table.remove(h, |x| x == id), "index lost slab id {id}");
        // Give memory back once a segment is mostly empty (a drained line), halving at most
        // to twice its length so that the next inserts do not immediately grow it again.
        if table.len() * 8 < table.capacity() && table.capacity() > SHRINK_CAPACITY_MIN {
            table.shrink_to(table.len() * 2, hash_of);
        }
        self.table_bytes = self.table_bytes + table.allocation_size() - before;
    }

    /// Re-points the entry for the member with hash `h` from `old` to `new` (a slab move).
    pub(super) fn replace(&mut self, h: u64, old: u32, new: u32) {
        let s = self.seg_of(h);
        let moved = self.segs[s].table.replace(h, old, new);
        assert!(moved, "the moved member is indexed");
    }

    fn can_split(&self, s: usize) -> bool {
        self.segs[s].depth < self.depth || self.depth < DIR_DEPTH_MAX
    }

    /// Splits segment `s` (which owns hash `h`) in two by the next hash bit.
    fn split(&mut self, s: usize, h: u64, hash_of: &impl Fn(u32) -> u64) {
        let d = self.segs[s].depth;
        if d == self.depth {
            // Double the directory: slot j of the new one inherits slot j/2 of the old.
            self.dir = (0..self.dir.len() * 2).map(|j| self.dir[j >> 1]).collect();
            self.depth += 1;
        }
        let bit = 1u64 << (63 - d);
        let seg = &mut self.segs[s];
        let before = seg.table.allocation_size();
        let entries: Vec<(u32, u64)> = seg
            .table
            .drain()
            .into_iter()
            .map(|id| (id, hash_of(id)))
            .collect();
        // A segment past the depth cap may hold more than SEG_MAX; size for the worst case.
        let mut upper = GroupTable::with_capacity(SEG_MAX.max(entries.len()));
        for (id, hx) in entries {
            let target = if hx & bit == 0 {
                &mut seg.table
            } else {
                &mut upper
            };
            // Both tables have room for every entry: nothing rehashes here.
            target.insert_unique(hx, id, |_| unreachable!("capacity was reserved"));
        }
        seg.depth = d + 1;
        self.table_bytes =
            self.table_bytes + seg.table.allocation_size() + upper.allocation_size() - before;
        let t = u32::try_from(self.segs.len()).expect("fewer than 2^32 segments");
        self.segs.push(Segment {
            depth: d + 1,
            table: upper,
        });
        // The old segment's slots: a run of 2^(depth - d) starting at its prefix; the upper
        // half of the run now belongs to the new segment.
        let span = 1usize << (self.depth - d);
        let first = dir_slot(h, self.depth) & !(span - 1);
        for slot in &mut self.dir[first + span / 2..first + span] {
            *slot = t;
        }
    }

    /// One `ZSCAN` step from hash `cursor`: calls `f` for every id whose member hash lies in
    /// `[cursor, next)` and returns `next`, or 0 once the hash space is exhausted. Whole
    /// segments are visited until at least `count` ids were produced (COUNT is a hint).
    pub(super) fn scan(
        &self,
        cursor: u64,
        count: usize,
        hash_of: impl Fn(u32) -> u64,
        mut f: impl FnMut(u32),
    ) -> u64 {
        let mut c = cursor;
        let mut emitted = 0;
        let visits_max = count.max(1).saturating_mul(SCAN_SEGMENTS_PER_COUNT);
        for _ in 0..visits_max {
            let seg = &self.segs[self.seg_of(c)];
            let (start, end) = seg_range(c, seg.depth);
            debug_assert!(start <= c && (c as u128) < end);
            // A cursor we returned is a segment boundary, so the filter rarely runs; it is
            // needed for cursors from a previous incarnation of the key or from a client.
            let whole = c == start;
            for id in seg.table.iter() {
                if whole || hash_of(id) >= c {
                    f(id);
                    emitted += 1;
                }
            }
            if end > u64::MAX as u128 {
                return 0;
            }
            c = end as u64;
            if emitted >= count {
                break;
            }
        }
        c
    }

    pub(super) fn allocated_bytes(&self) -> usize {
        self.table_bytes
            + self.segs.capacity() * size_of::<Segment>()
            + self.dir.capacity() * size_of::<u32>()
    }

    pub(super) fn len(&self) -> usize {
        self.segs.iter().map(|s| s.table.len()).sum()
    }

    /// Checks the directory and that every id sits in the segment its hash selects.
    pub(super) fn check_invariants(&self, hash_of: impl Fn(u32) -> u64) {
        assert_eq!(self.dir.len(), 1usize << self.depth);
        let mut bytes = 0;
        for (s, seg) in self.segs.iter().enumerate() {
            assert!(seg.depth <= self.depth, "segment deeper than the directory");
            let span = 1usize << (self.depth - seg.depth);
            let slots: Vec<usize> = (0..self.dir.len())
                .filter(|&j| self.dir[j] as usize == s)
                .collect();
            assert_eq!(
                slots.len(),
                span,
                "segment {s} owns the wrong number of slots"
            );
            assert!(slots[0].is_multiple_of(span) && slots.windows(2).all(|w| w[1] == w[0] + 1));
            for id in seg.table.iter() {
                assert_eq!(
                    self.seg_of(hash_of(id)),
                    s,
                    "id {id} is in the wrong segment"
                );
            }
            bytes += seg.table.allocation_size();
        }
        assert_eq!(bytes, self.table_bytes, "table byte tally");
    }
}
