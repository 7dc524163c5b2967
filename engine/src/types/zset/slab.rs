//! The member slab: every `(member, score)` of a big sorted set, addressed by a dense `u32` id.
//!
//! Invariant: the ids in use are exactly `0..len`. Removing an id moves the last entry into the
//! hole ([`Slab::swap_remove`]), so the slab never holds holes and never needs compaction; the
//! caller re-points whatever referred to the moved entry (the tree and the hash index).
//!
//! Entries live in fixed-size chunks rather than one `Vec` so that growth never copies the whole
//! set: a 10M-member set would otherwise reallocate 320 MB in one go, stalling the shard and
//! briefly doubling its memory. The last chunk grows by doubling up to [`CHUNK_LEN`], so a small
//! set does not pay for a whole chunk.

use crate::bytes::SmallBytes;

/// log2 of the entries per chunk. 1024 entries x 32 bytes = 32 KiB, an exact allocator class.
#[cfg(not(test))]
const CHUNK_BITS: u32 = 10;
/// Tiny chunks under test so that chunk boundaries are crossed constantly.
#[cfg(test)]
const CHUNK_BITS: u32 = 3;
pub(super) const CHUNK_LEN: usize = 1 << CHUNK_BITS;

/// One sorted-set element: 32 bytes, with members up to 23 bytes inline.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub(crate) member: SmallBytes,
    pub(crate) score: f64,
}

/// Dense, chunked storage of entries; see the module docs.
#[derive(Default)]
pub(super) struct Slab {
    chunks: Vec<Vec<Entry>>,
    len: usize,
    /// Heap bytes owned by members longer than the inline limit (for `MEMORY USAGE`).
    member_heap_bytes: usize,
}

impl Clone for Slab {
    /// Keeps every full chunk at exactly [`CHUNK_LEN`] capacity, as `push` expects.
    fn clone(&self) -> Self {
        let chunks = self
            .chunks
            .iter()
            .map(|c| {
                let mut copy = Vec::with_capacity(c.capacity());
                copy.extend_from_slice(c);
                copy
            })
            .collect();
        Slab {
            chunks,
            len: self.len,
            member_heap_bytes: self.member_heap_bytes,
        }
    }
}

impl Slab {
    pub(super) fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub(super) fn get(&self, id: u32) -> &Entry {
        let id = id as usize;
        debug_assert!(id < self.len, "slab id {id} out of 0..{}", self.len);
        &self.chunks[id >> CHUNK_BITS][id & (CHUNK_LEN - 1)]
    }

    #[inline]
    pub(super) fn member(&self, id: u32) -> &[u8] {
        self.get(id).member.as_slice()
    }

    /// Starts loading entry `id` (a hint: an id past the end is ignored).
    #[inline]
    pub(super) fn prefetch(&self, id: u32) {
        if (id as usize) < self.len {
            crate::prefetch::read(self.get(id));
        }
    }

    #[inline]
    pub(super) fn score(&self, id: u32) -> f64 {
        self.get(id).score
    }

    pub(super) fn set_score(&mut self, id: u32, score: f64) {
        let id = id as usize;
        debug_assert!(id < self.len);
        self.chunks[id >> CHUNK_BITS][id & (CHUNK_LEN - 1)].score = score;
    }

    /// Appends an entry and returns its id (always the old `len`).
    pub(super) fn push(&mut self, entry: Entry) -> u32 {
        assert!(
            self.len < u32::MAX as usize,
            "sorted set exceeds 2^32-1 members"
        );
        if self.len & (CHUNK_LEN - 1) == 0 {
            debug_assert_eq!(self.chunks.len(), self.len >> CHUNK_BITS);
            self.chunks.push(Vec::new());
        }
        self.member_heap_bytes += entry.member.heap_size();
        let last = self.chunks.last_mut().expect("a chunk was just ensured");
        last.push(entry);
        debug_assert!(last.len() <= CHUNK_LEN && last.capacity() <= CHUNK_LEN);
        self.len += 1;
        (self.len - 1) as u32
    }

    /// Removes entry `id` and fills the hole with the last entry.
    ///
    /// Returns the removed entry and, when another entry moved, the id it moved from (always
    /// the old `len - 1`; it now lives at `id`).
    pub(super) fn swap_remove(&mut self, id: u32) -> (Entry, Option<u32>) {
        let idx = id as usize;
        assert!(idx < self.len, "slab id {idx} out of 0..{}", self.len);
        let last_idx = self.len - 1;
        let chunk = self.chunks.last_mut().expect("non-empty slab has a chunk");
        let last = chunk.pop().expect("the last chunk is never empty");
        if chunk.is_empty() {
            self.chunks.pop();
        }
        self.len -= 1;
        let removed = if idx == last_idx {
            last
        } else {
            let slot = &mut self.chunks[idx >> CHUNK_BITS][idx & (CHUNK_LEN - 1)];
            std::mem::replace(slot, last)
        };
        self.member_heap_bytes -= removed.member.heap_size();
        let moved = (idx != last_idx).then_some(last_idx as u32);
        (removed, moved)
    }

    /// All entries, in id order.
    pub(super) fn into_entries(self) -> Vec<Entry> {
        self.chunks.into_iter().flatten().collect()
    }

    /// Bytes owned: chunk buffers, the chunk table and long members' heap bytes.
    pub(super) fn allocated_bytes(&self) -> usize {
        let chunk_bytes: usize = match self.chunks.split_last() {
            // Every chunk but the last is full; the last one may still be doubling.
            Some((last, full)) => (full.len() * CHUNK_LEN + last.capacity()) * size_of::<Entry>(),
            None => 0,
        };
        chunk_bytes + self.chunks.capacity() * size_of::<Vec<Entry>>() + self.member_heap_bytes
    }

    /// Checks the chunk layout against `len` (tests and debug builds).
    pub(super) fn check_invariants(&self) {
        assert_eq!(self.chunks.len(), self.len.div_ceil(CHUNK_LEN));
        for (i, chunk) in self.chunks.iter().enumerate() {
            let want = if i + 1 == self.chunks.len() {
                self.len - i * CHUNK_LEN
            } else {
                CHUNK_LEN
            };
            assert_eq!(
                chunk.len(),
                want,
                "chunk {i} holds the wrong number of entries"
            );
            assert!(chunk.capacity() <= CHUNK_LEN);
        }
        let heap: usize = self
            .chunks
            .iter()
            .flatten()
            .map(|e| e.member.heap_size())
            .sum();
        assert_eq!(heap, self.member_heap_bytes);
    }
}
