//! One index segment's table: open addressing over 64-byte groups of twelve `u32` ids.
//!
//! Why not `hashbrown::HashTable<u32>`: hashbrown keeps its control bytes and its buckets in
//! two places, so a hit on a cold table costs two cache misses (control group, then bucket)
//! before the slab read that confirms the member. Here a group holds the one-byte tags *and*
//! the ids of its twelve slots in a single cache line, so a hit costs one miss, and that line's
//! address is known from the hash alone, which lets a caller prefetch it ([`GroupTable::prefetch`]).
//! Under the waiting line's poll load (one `QPOS` per member lookup) the table's misses were a
//! quarter of the server's CPU.
//!
//! Layout and invariants:
//! - `groups.len()` is 0 (nothing allocated) or a power of two. A hash's home group is its low
//!   bits; its tag is byte 4 of the hash, never 0 (0 marks an empty slot).
//! - An id is stored in its home group or, if that was full when it arrived, in one of the
//!   groups after it (wrapping). Every group passed over on the way counts the id in its
//!   `overflow` byte, so a lookup stops at the first group whose count is 0: nothing that
//!   hashes to an earlier group lies beyond it. A removal decrements the counts it passes.
//!   A count that reaches 255 stays there (a lookup then just probes on), as in Meta's F14.
//! - `len` is at most [`max_len`] of the group count (7/8 of the slots), so probes stay short
//!   and an empty slot always exists.

/// Slots per group: 16 control bytes (12 tags, the overflow count, 3 spare) + 12 x 4-byte ids.
const SLOTS: usize = 12;
/// Control byte holding the group's overflow count.
const OVERFLOW: usize = SLOTS;
/// Bit mask of the tag bytes among the 16 control bytes.
const TAG_BITS: u16 = (1 << SLOTS) - 1;
const EMPTY: u8 = 0;
const OVERFLOW_STUCK: u8 = u8::MAX;

#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Group {
    ctrl: [u8; 16],
    ids: [u32; SLOTS],
}

const _: () = assert!(size_of::<Group>() == 64);

impl Group {
    const EMPTY: Group = Group {
        ctrl: [EMPTY; 16],
        ids: [0; SLOTS],
    };

    /// Bit i set when slot i's control byte equals `byte` (tag slots only).
    #[inline]
    fn matching(&self, byte: u8) -> u16 {
        let lo = u64::from_le_bytes(self.ctrl[..8].try_into().expect("8 bytes"));
        let hi = u64::from_le_bytes(self.ctrl[8..].try_into().expect("8 bytes"));
        (zero_bytes(lo ^ splat(byte)) | (zero_bytes(hi ^ splat(byte)) << 8)) & TAG_BITS
    }

    #[inline]
    fn overflow(&self) -> u8 {
        self.ctrl[OVERFLOW]
    }
}

#[inline]
fn splat(byte: u8) -> u64 {
    u64::from(byte) * 0x0101_0101_0101_0101
}

/// An 8-bit mask of the zero bytes of `x` (bit i for byte i), exactly: the carry-free form of
/// the "has zero byte" trick, then the bytes' top bits gathered by one multiplication.
#[inline]
fn zero_bytes(x: u64) -> u16 {
    const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    let high = !(((x & LOW7) + LOW7) | x | LOW7);
    (((high >> 7).wrapping_mul(0x0102_0408_1020_4080)) >> 56) as u16
}

/// The slot tag of a hash: byte 4, with 0 (the empty mark) moved to 1.
#[inline]
fn tag_of(h: u64) -> u8 {
    ((h >> 32) as u8).max(1)
}

/// Most ids a table of `groups` groups holds before it must grow.
#[inline]
fn max_len(groups: usize) -> usize {
    groups * SLOTS * 7 / 8
}

/// Fewest groups (a power of two) that hold `len` ids.
fn groups_for(len: usize) -> usize {
    if len == 0 {
        return 0;
    }
    let mut groups = 1;
    while max_len(groups) < len {
        groups *= 2;
    }
    groups
}

/// The table; see the module docs.
#[derive(Clone, Default)]
pub(super) struct GroupTable {
    groups: Box<[Group]>,
    len: usize,
}

impl GroupTable {
    /// A table that holds `capacity` ids without growing.
    pub(super) fn with_capacity(capacity: usize) -> Self {
        GroupTable {
            groups: vec![Group::EMPTY; groups_for(capacity)].into_boxed_slice(),
            len: 0,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn capacity(&self) -> usize {
        max_len(self.groups.len())
    }

    pub(super) fn allocation_size(&self) -> usize {
        self.groups.len() * size_of::<Group>()
    }

    #[inline]
    fn mask(&self) -> usize {
        self.groups.len() - 1
    }

    /// Asks the CPU to start loading the home group of `h` (a hint; it changes nothing).
    #[inline]
    pub(super) fn prefetch(&self, h: u64) {
        if !self.groups.is_empty() {
            crate::prefetch::read(&self.groups[h as usize & self.mask()]);
        }
    }

    /// Walks the probe sequence of `h`, calling `visit(group, slot, id)` for every slot whose
    /// tag matches, until `visit` returns true (answering that group and slot) or a group
    /// with no overflow ends the sequence.
    #[inline]
    fn probe(&self, h: u64, mut visit: impl FnMut(u32) -> bool) -> Option<(usize, usize)> {
        if self.groups.is_empty() {
            return None;
        }
        let (mask, tag) = (self.mask(), tag_of(h));
        let mut g = h as usize & mask;
        for _ in 0..self.groups.len() {
            let group = &self.groups[g];
            let mut hits = group.matching(tag);
            while hits != 0 {
                let slot = hits.trailing_zeros() as usize;
                if visit(group.ids[slot]) {
                    return Some((g, slot));
                }
                hits &= hits - 1;
            }
            if group.overflow() == 0 {
                return None;
            }
            g = (g + 1) & mask;
        }
        None
    }

    /// The id stored under `h` that satisfies `is_it`.
    #[inline]
    pub(super) fn find(&self, h: u64, mut is_it: impl FnMut(u32) -> bool) -> Option<u32> {
        self.probe(h, &mut is_it)
            .map(|(g, slot)| self.groups[g].ids[slot])
    }

    /// Calls `f` for every stored id whose tag matches `h` (a superset of the id that
    /// [`GroupTable::find`] would answer), reading only the table, never what the ids name.
    #[inline]
    pub(super) fn candidates(&self, h: u64, mut f: impl FnMut(u32)) {
        self.probe(h, |id| {
            f(id);
            false
        });
    }

    /// Replaces the stored id `old` (under `h`) with `new`; false if `old` is not there.
    pub(super) fn replace(&mut self, h: u64, old: u32, new: u32) -> bool {
        match self.probe(h, |id| id == old) {
            Some((g, slot)) => {
                self.groups[g].ids[slot] = new;
                true
            }
            None => false,
        }
    }

    /// Adds `id` under `h` (the caller knows it is absent), growing the table if it is full;
    /// `hash_of` recomputes a stored id's hash for the move.
    pub(super) fn insert_unique(&mut self, h: u64, id: u32, hash_of: impl Fn(u32) -> u64) {
        if self.len >= self.capacity() {
            self.resize(
                groups_for(self.len + 1).max(self.groups.len() * 2),
                &hash_of,
            );
        }
        self.place(h, id);
        self.len += 1;
    }

    /// Puts `id` in the first free slot of `h`'s probe sequence (one exists: len < capacity).
    fn place(&mut self, h: u64, id: u32) {
        let (mask, tag) = (self.mask(), tag_of(h));
        let mut g = h as usize & mask;
        loop {
            let group = &mut self.groups[g];
            let free = group.matching(EMPTY);
            if free != 0 {
                let slot = free.trailing_zeros() as usize;
                group.ctrl[slot] = tag;
                group.ids[slot] = id;
                return;
            }
            if group.ctrl[OVERFLOW] != OVERFLOW_STUCK {
                group.ctrl[OVERFLOW] += 1;
            }
            g = (g + 1) & mask;
        }
    }

    /// Removes the id under `h` that satisfies `is_it`; false if there is none.
    pub(super) fn remove(&mut self, h: u64, is_it: impl FnMut(u32) -> bool) -> bool {
        let Some((found, slot)) = self.probe(h, is_it) else {
            return false;
        };
        self.groups[found].ctrl[slot] = EMPTY;
        let mask = self.mask();
        let mut g = h as usize & mask;
        while g != found {
            let overflow = &mut self.groups[g].ctrl[OVERFLOW];
            if *overflow != OVERFLOW_STUCK {
                *overflow -= 1;
            }
            g = (g + 1) & mask;
        }
        self.len -= 1;
        true
    }

    /// Rebuilds the table with room for at least `len` ids, in the fewest groups that allow it
    /// (the next inserts may grow it again; callers ask for headroom).
    pub(super) fn shrink_to(&mut self, len: usize, hash_of: impl Fn(u32) -> u64) {
        let groups = groups_for(len.max(self.len));
        if groups < self.groups.len() {
            self.resize(groups, &hash_of);
        }
    }

    fn resize(&mut self, groups: usize, hash_of: &impl Fn(u32) -> u64) {
        let old = std::mem::replace(
            &mut self.groups,
            vec![Group::EMPTY; groups].into_boxed_slice(),
        );
        for group in old.iter() {
            for (slot, &id) in group.ids.iter().enumerate() {
                if group.ctrl[slot] != EMPTY {
                    self.place(hash_of(id), id);
                }
            }
        }
    }

    /// Every stored id, in slot order.
    pub(super) fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.groups.iter().flat_map(|group| {
            (0..SLOTS)
                .filter(|&slot| group.ctrl[slot] != EMPTY)
                .map(|slot| group.ids[slot])
        })
    }

    /// Empties the table, keeping its groups, and returns what it held.
    pub(super) fn drain(&mut self) -> Vec<u32> {
        let ids = self.iter().collect();
        self.groups.fill(Group::EMPTY);
        self.len = 0;
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hash that sends ids to chosen groups and tags, to force collisions and overflow.
    fn hash(id: u32) -> u64 {
        let home = u64::from(id % 3); // three home groups at most: long probe runs
        let tag = u64::from(id % 5); // tags collide often, and tag 0 maps to 1
        (tag << 32) | home
    }

    fn check(t: &GroupTable, present: &std::collections::BTreeSet<u32>) {
        assert_eq!(t.len(), present.len());
        let mut stored: Vec<u32> = t.iter().collect();
        stored.sort_unstable();
        assert_eq!(stored, present.iter().copied().collect::<Vec<_>>());
        for &id in present {
            assert_eq!(t.find(hash(id), |x| x == id), Some(id), "id {id} lost");
        }
        // Overflow counts match the ids stored past their home groups.
        let n = t.groups.len();
        let mut expect = vec![0usize; n];
        for (g, group) in t.groups.iter().enumerate() {
            for slot in 0..SLOTS {
                if group.ctrl[slot] != EMPTY {
                    let id = group.ids[slot];
                    assert_eq!(group.ctrl[slot], tag_of(hash(id)));
                    let mut h = hash(id) as usize & (n - 1);
                    while h != g {
                        expect[h] += 1;
                        h = (h + 1) & (n - 1);
                    }
                }
            }
        }
        for (g, group) in t.groups.iter().enumerate() {
            let stored = usize::from(group.overflow());
            // A count that reached 255 is stuck there until the next rebuild.
            assert!(
                stored == expect[g] || stored == 255,
                "group {g}: {stored} vs {}",
                expect[g]
            );
        }
    }

    #[test]
    fn zero_bytes_marks_exactly_the_zero_bytes() {
        for x in [
            0u64,
            u64::MAX,
            0x0100_FF00_0080_0001,
            0x8000_0000_0000_0000,
            0x00FF,
        ] {
            let want = (0..8)
                .filter(|i| (x >> (8 * i)) as u8 == 0)
                .fold(0u16, |m, i| m | 1 << i);
            assert_eq!(zero_bytes(x), want, "{x:#x}");
        }
    }

    #[test]
    fn inserts_finds_and_removes_through_overflow_chains() {
        let mut t = GroupTable::default();
        let mut present = std::collections::BTreeSet::new();
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        for step in 0..20_000u32 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let id = (rng % 400) as u32;
            if present.contains(&id) {
                assert!(t.remove(hash(id), |x| x == id));
                present.remove(&id);
                assert_eq!(t.find(hash(id), |x| x == id), None);
            } else {
                t.insert_unique(hash(id), id, hash);
                present.insert(id);
            }
            if step % 997 == 0 {
                t.shrink_to(t.len() * 2, hash);
                check(&t, &present);
            }
        }
        check(&t, &present);
        // Re-pointing keeps the slot.
        if let Some(&id) = present.iter().next() {
            assert!(t.replace(hash(id), id, 10_000 + id));
            assert_eq!(t.find(hash(id), |x| x == 10_000 + id), Some(10_000 + id));
        }
        let drained = t.drain().len();
        assert_eq!((drained, t.len(), t.iter().count()), (present.len(), 0, 0));
    }

    #[test]
    fn an_empty_table_allocates_nothing_and_finds_nothing() {
        let mut t = GroupTable::with_capacity(0);
        assert_eq!((t.allocation_size(), t.capacity()), (0, 0));
        assert_eq!(t.find(7, |_| true), None);
        assert!(!t.remove(7, |_| true));
        t.prefetch(7);
        t.insert_unique(7, 1, |_| 7);
        assert_eq!((t.allocation_size(), t.find(7, |_| true)), (64, Some(1)));
    }
}
