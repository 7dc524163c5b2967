//! `Dict<V>`: the segmented hash dictionary behind the keyspace, large sets and large hashes.
//!
//! # Why not a plain `HashMap`
//!
//! 1. `SCAN`/`SSCAN`/`HSCAN` promise that a full iteration (cursor 0 back to 0) returns every
//!    element present for the whole iteration at least once, even while the table grows or
//!    shrinks between calls, with a stateless 64-bit cursor. A `HashMap` has no stable position.
//! 2. Growth must not stall a shard: one monolithic rehash of a 10M-entry table takes 100+ ms
//!    under the shard lock. Here growth is one segment split at a time, `O(SEGMENT_MAX)` work.
//!
//! # Structure (extendible hashing, like Dragonfly's dash table)
//!
//! Every key is hashed once with foldhash under one random per-process seed ([`hash_key`]), so
//! all dicts agree on hashes (the expiry index stores them) and hash flooding is impractical.
//! The 64-bit hash space is cut into *segments*: a segment of local depth `d` owns one aligned
//! range of `2^(64-d)` hash values, those whose top `d` bits equal its prefix, and keeps its
//! entries in a small `hashbrown::HashTable<(SmallBytes, V)>`. A *directory* of
//! `2^global_depth` `u32` slots, indexed by the top `global_depth` bits of the hash, names the
//! segment owning each slot; a segment of depth `d < global_depth` fills `2^(global_depth-d)`
//! consecutive slots. Segments live in one `Vec` (no box per segment, so a lookup touches the
//! directory word, the segment header, then the table's control bytes and bucket).
//!
//! A lookup is: hash, `dir[hash >> (64 - global_depth)]`, then a probe of that segment's table.
//! The table is handed a remix of the hash (`hash.rotate_right(7)`, see `table_hash`): all
//! keys of a segment share their top bits, and hashbrown takes its 7-bit tag from the top bits,
//! so the raw hash would give every entry of a deep segment the same tag. Measured on a depth-6
//! segment (3122 keys, 4096 buckets), key comparisons per lookup: raw hash 1.84 per hit and 7.8
//! per miss; rotated 1.01 and 0.12, the ideal (a 16-slot group, 1/128 false tag matches).
//!
//! # Growth, shrinking and memory
//!
//! * A full-size segment table has `SEGMENT_BUCKETS` buckets and holds `SEGMENT_MAX` (7/8 of
//!   that) entries, hashbrown's own load limit. Inserting into a full segment splits it by the
//!   next hash bit (doubling the directory first when its depth equals the global depth): the
//!   entries with that bit set move to a new full-size table, the rest stay. Cost:
//!   `O(SEGMENT_MAX)`, bounded, instead of a whole-table rehash. Tables of a one-segment dict
//!   start empty and grow by hashbrown's doubling, so a dict of 5 entries is one segment with a
//!   small table and an empty dict allocates nothing.
//! * A segment table never grows past `SEGMENT_BUCKETS`: when tombstones leave a full-size
//!   table without room while it holds more than half of `SEGMENT_MAX`, it is rebuilt at the
//!   same size (where hashbrown would double it).
//! * Memory comes back after deletes: when a segment drops to `SEGMENT_MAX / 4` entries or
//!   fewer and its buddy (the other half of the parent range) has the same depth and the two
//!   together hold at most `SEGMENT_MAX / 4`, they merge; the directory halves once no segment
//!   needs its full depth. A table with more than 64 buckets also shrinks (to twice its length)
//!   once it is less than 1/8 full. Between a split (halves of about `SEGMENT_MAX / 2`) and a
//!   merge of the same range lie at least `3/4 SEGMENT_MAX` removals, and between a merge and
//!   the next split `3/4 SEGMENT_MAX` insertions, so splits and merges, each `O(SEGMENT_MAX)`,
//!   cost `O(1)` amortised per operation and cannot thrash. `retain` merges and shrinks
//!   everything it emptied; `clear`, `drain` and a `retain` that removes everything free it all.
//!
//! # Invariants (checked by [`Dict::check_invariants`])
//!
//! * The directory has `2^global_depth` slots (or none, before the first insert).
//! * A segment with local depth `d <= global_depth` and prefix `p` is named by exactly the
//!   `2^(global_depth-d)` slots whose top `d` bits are `p`, so the segments partition hash space.
//! * Every entry lives in exactly one segment: the one owning its hash.
//! * `len` is the sum of the segment lengths; `key_heap_bytes` is the sum of the keys' heap bytes;
//!   `n_at_global_depth` counts the segments whose depth is `global_depth`.
//!
//! # Scan cursors and why they survive resizes
//!
//! A cursor is a position in hash space. `scan(c, count)` visits entries in increasing order of
//! hash from `c`: it finds the segment owning `c`, collects that segment's entries with hash
//! `>= c`, and emits the `count` smallest of them together with every further entry whose hash
//! ties the largest emitted one, returning `last_hash + 1`; if the segment runs out first it goes
//! on to the next segment (`segment end + 1`), returning 0 after the segment ending at
//! `u64::MAX`. Proof sketch of the guarantee: the cursors of one iteration, `0 = c0 < c1 < ... <
//! ck` and then 0, cut `[0, 2^64)` into the disjoint ranges `[c_i, c_{i+1})`, the last one ending
//! at `u64::MAX`. Call `i` emits *every* entry present at that moment whose hash lies in `[c_i,
//! c_{i+1})`: it walks the segments that, at that moment, cover the range (segments always
//! partition hash space, whatever splits and merges happened before), and inside each it emits
//! all entries of the range because it selects by hash, not by bucket position. An element
//! present throughout has one fixed hash, which lies in exactly one range, and it was present
//! during that range's call, so it is returned. Since ranges never overlap and a key's hash never
//! changes, no key is returned twice in one iteration, even across resizes (Redis may repeat
//! elements while its table shrinks). Hashes depend on the process seed, so cursors do not
//! outlive the process (Redis's do not survive a restart either). Termination: each call either
//! emits `count` entries or finishes at least one segment (or 64 empty ones), so a full
//! iteration takes at most `n / count + segments + 1` calls. The price: a call hashes every key
//! of the segment it resumes in, `O(SEGMENT_MAX)` per call.
//!
//! # Choice of `SEGMENT_BUCKETS`
//!
//! 2048 buckets (`SEGMENT_MAX` = 1792 entries). Measured in release builds with 1M short keys
//! and `u64` values against `hashbrown::HashMap<SmallBytes, u64>` with foldhash, on a 2-core VM
//! shared with other builds (best of several rounds, so ranges are noise):
//!
//! | `SEGMENT_BUCKETS` | get hit   | get miss  | p99.99 insert (a split) | `SCAN` COUNT 10 |
//! |-------------------|-----------|-----------|-------------------------|-----------------|
//! | 1024              | 1.22x     | 1.8x      | -                       | 2.9 us/call     |
//! | 2048              | 1.16-1.26x| 1.6-1.9x  | 57 us                   | 4.3-6.8 us/call |
//! | 4096              | 1.10-1.25x| 1.6-1.8x  | 115 us                  | 8-11 us/call    |
//!
//! At 10M entries the three sizes cost 1.32x, 1.28x and 1.27x per hit. Lookups barely depend on
//! the size: the extra cost over a flat table is two dependent loads (directory slot, segment
//! header; ~10 ns, usually L2 hits), visible mostly on misses, which are cheap to begin with.
//! A split and a `SCAN` call cost in proportion to the segment, so 2048 is the knee: a 10M-entry
//! dict has ~8K segments (a 32-64 KiB directory, 384 KiB of headers). For comparison the flat
//! table's worst single insert, its final doubling at 1M entries, took 38-85 ms; inserts as a
//! whole run 2-3x faster here since no operation ever rehashes more than one segment.

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;

use foldhash::fast::SeedableRandomState;
use hashbrown::hash_table::{self, HashTable};
use rand::RngExt;

use crate::bytes::SmallBytes;

/// Buckets of a full-size segment table. A power of two; see the module doc for the choice.
pub const SEGMENT_BUCKETS: usize = 2048;

/// Entries a full-size segment holds before it splits: hashbrown's 7/8 load limit.
pub const SEGMENT_MAX: usize = capacity_of(SEGMENT_BUCKETS);

/// Deepest a segment (and the directory) may go. Beyond it a segment table just grows; only an
/// attacker who knows the process seed could make 32 top bits collide for thousands of keys.
const DEPTH_MAX: u32 = 32;

/// A table with more buckets than this shrinks when under 1/8 full; smaller ones are not worth
/// the rehash.
const SHRINK_BUCKETS_MIN: usize = 64;

/// `scan` gives up after this many empty segments in one call, bounding its latency the way
/// Redis bounds empty bucket visits.
const SCAN_EMPTY_SEGMENTS_MAX: usize = 64;

/// Random-bucket probes `random_entry` tries before falling back to an exact `O(segments)` walk.
const RANDOM_PROBES_MAX: usize = 64;

/// The process-wide hash state: one random seed, chosen on first use, shared by every dict.
static HASH_STATE: OnceLock<SeedableRandomState> = OnceLock::new();

/// The process-wide 64-bit hash of a key (foldhash under a random per-process seed).
///
/// Every [`Dict`] agrees on it, so a hash stored elsewhere (the expiry index) finds the key again
/// through [`Dict::get_by_hash_mut`].
#[inline]
pub fn hash_key(key: &[u8]) -> u64 {
    let mut hasher = HASH_STATE
        .get_or_init(SeedableRandomState::random)
        .build_hasher();
    hasher.write(key);
    hasher.finish()
}

/// The hash handed to a segment's hashbrown table.
///
/// hashbrown indexes buckets with the low bits and takes its 7-bit tag from the top 7 bits. The
/// top bits of the raw hash are (nearly) constant inside a segment, so rotate the well-mixed low
/// 7 bits up into the tag; the bucket index then comes from bits 7 to 17 of the hash (for 2048
/// buckets), which the directory would only reach at depth 46, far beyond `DEPTH_MAX`.
#[inline(always)]
fn table_hash(hash: u64) -> u64 {
    hash.rotate_right(7)
}

/// What [`Dict::get_mut_unless`] found.
pub enum Probe<'a, V> {
    Live(&'a mut V),
    Removed(SmallBytes, V),
    Absent,
}

/// Rehashes an entry for hashbrown's internal moves.
#[inline]
fn entry_table_hash<V>(entry: &(SmallBytes, V)) -> u64 {
    table_hash(hash_key(&entry.0))
}

/// Directory slot of `hash` in a directory of depth `depth` (0 when the depth is 0).
#[inline(always)]
fn dir_slot(depth: u32, hash: u64) -> usize {
    debug_assert!(depth < 64);
    ((hash >> 1) >> (63 - depth)) as usize
}

/// What hashbrown lets a table of `buckets` buckets (at least 8) hold; a table created
/// `with_capacity(capacity_of(buckets))` gets exactly `buckets` buckets.
const fn capacity_of(buckets: usize) -> usize {
    buckets / 8 * 7
}

/// One segment: the entries whose hash lies in `[start, start + 2^(64-depth))`.
#[derive(Clone)]
struct Segment<V> {
    table: HashTable<(SmallBytes, V)>,
    /// First hash of the range; its low `64 - depth` bits are zero.
    start: u64,
    /// Local depth: the number of top hash bits all entries share.
    depth: u32,
}

impl<V> Segment<V> {
    /// Last hash of the range.
    #[inline]
    fn end(&self) -> u64 {
        self.start | (u64::MAX >> self.depth)
    }

    #[inline]
    fn owns(&self, hash: u64) -> bool {
        self.start <= hash && hash <= self.end()
    }
}

/// A hash dictionary from byte-string keys to `V`, with stable scan cursors and growth in
/// bounded steps. See the module documentation.
#[derive(Clone)]
pub struct Dict<V> {
    /// `2^global_depth` segment indices, by top hash bits; empty until the first insert.
    dir: Vec<u32>,
    segs: Vec<Segment<V>>,
    global_depth: u32,
    /// Segments whose depth is `global_depth`; the directory halves when none are left.
    n_at_global_depth: u32,
    len: usize,
    /// Heap bytes owned by keys (those longer than the inline limit), for `allocated_bytes`.
    key_heap_bytes: usize,
    /// Buckets of a full-size table: `SEGMENT_BUCKETS`, smaller in tests to force splits.
    segment_buckets: usize,
}

/// Where an insertion lands: an existing entry, or a segment with room for a new one.
enum Slot {
    Occupied { seg: usize, bucket: usize },
    Vacant { seg: usize },
}

impl<V> Default for Dict<V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V> Dict<V> {
    /// An empty dict; allocates nothing until the first insert.
    pub const fn new() -> Self {
        Self::with_segment_buckets(SEGMENT_BUCKETS)
    }

    /// An empty dict whose full-size segment tables have `buckets` buckets (a power of two,
    /// at least 16). Tests use small segments to exercise splits and merges cheaply.
    pub(crate) const fn with_segment_buckets(buckets: usize) -> Self {
        assert!(buckets.is_power_of_two() && buckets >= 16);
        Dict {
            dir: Vec::new(),
            segs: Vec::new(),
            global_depth: 0,
            n_at_global_depth: 0,
            len: 0,
            key_heap_bytes: 0,
            segment_buckets: buckets,
        }
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The process-wide hash of `key`; the same as [`hash_key`].
    #[inline]
    pub fn hash_key(key: &[u8]) -> u64 {
        hash_key(key)
    }

    /// Number of segments (diagnostics: `DEBUG HTSTATS`-like output and tests).
    pub fn segment_count(&self) -> usize {
        self.segs.len()
    }

    /// Entries a full-size segment holds before it splits.
    #[inline]
    fn segment_max(&self) -> usize {
        capacity_of(self.segment_buckets)
    }

    /// A segment this small tries to merge with its buddy.
    #[inline]
    fn merge_max(&self) -> usize {
        self.segment_max() / 4
    }

    /// Index of the segment owning `hash`, or `None` before the first insert.
    #[inline]
    fn seg_of(&self, hash: u64) -> Option<usize> {
        self.dir
            .get(dir_slot(self.global_depth, hash))
            .map(|&i| i as usize)
    }

    #[inline(always)]
    pub fn get(&self, key: &[u8]) -> Option<&V> {
        self.get_key_value(key).map(|(_, v)| v)
    }

    #[inline(always)]
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut V> {
        let hash = hash_key(key);
        let seg = self.seg_of(hash)?;
        let entry = self.segs[seg]
            .table
            .find_mut(table_hash(hash), |e| e.0.as_slice() == key)?;
        Some(&mut entry.1)
    }

    /// One probe for a lookup that may find a dead entry (an expired key): the live value, or
    /// the entry removed because `dead` said so, or nothing.
    #[inline]
    pub fn get_mut_unless(&mut self, key: &[u8], dead: impl FnOnce(&V) -> bool) -> Probe<'_, V> {
        let hash = hash_key(key);
        let Some(seg) = self.seg_of(hash) else {
            return Probe::Absent;
        };
        // One probe finds the bucket; its index then serves either outcome without probing
        // again (and without holding a borrow across the two paths).
        let table = &mut self.segs[seg].table;
        let Some(bucket) = table.find_bucket_index(table_hash(hash), |e| e.0.as_slice() == key)
        else {
            return Probe::Absent;
        };
        if !dead(&table.get_bucket_mut(bucket).expect("bucket just found").1) {
            return Probe::Live(
                &mut self.segs[seg]
                    .table
                    .get_bucket_mut(bucket)
                    .expect("bucket just found")
                    .1,
            );
        }
        let Ok(entry) = self.segs[seg].table.get_bucket_entry(bucket) else {
            unreachable!("bucket just found")
        };
        let ((k, v), _) = entry.remove();
        self.note_removed(seg, &k);
        Probe::Removed(k, v)
    }

    #[inline(always)]
    pub fn get_key_value(&self, key: &[u8]) -> Option<(&SmallBytes, &V)> {
        let hash = hash_key(key);
        let seg = self.seg_of(hash)?;
        let entry = self.segs[seg]
            .table
            .find(table_hash(hash), |e| e.0.as_slice() == key)?;
        Some((&entry.0, &entry.1))
    }

    #[inline(always)]
    pub fn contains_key(&self, key: &[u8]) -> bool {
        self.get_key_value(key).is_some()
    }

    /// Inserts or overwrites; returns the old value. An existing key object is kept.
    #[inline]
    pub fn insert(&mut self, key: &[u8], value: V) -> Option<V> {
        let hash = hash_key(key);
        match self.slot(hash, key) {
            Slot::Occupied { seg, bucket } => {
                let entry = self.segs[seg]
                    .table
                    .get_bucket_mut(bucket)
                    .expect("occupied bucket");
                Some(std::mem::replace(&mut entry.1, value))
            }
            Slot::Vacant { seg } => {
                self.push(seg, hash, SmallBytes::new(key), value);
                None
            }
        }
    }

    /// Inserts a key the caller knows is absent (checked in debug builds), without a lookup.
    pub fn insert_new(&mut self, key: SmallBytes, value: V) {
        debug_assert!(
            !self.contains_key(&key),
            "insert_new of a present key {key:?}"
        );
        let hash = hash_key(&key);
        let seg = self.make_room(hash);
        self.push(seg, hash, key, value);
    }

    /// The value of `key`, inserting `f()` first if absent; `true` when it was inserted.
    pub fn get_or_insert_with(&mut self, key: &[u8], f: impl FnOnce() -> V) -> (&mut V, bool) {
        let hash = hash_key(key);
        let (seg, bucket, inserted) = match self.slot(hash, key) {
            Slot::Occupied { seg, bucket } => (seg, bucket, false),
            Slot::Vacant { seg } => (seg, self.push(seg, hash, SmallBytes::new(key), f()), true),
        };
        let entry = self.segs[seg]
            .table
            .get_bucket_mut(bucket)
            .expect("occupied bucket");
        (&mut entry.1, inserted)
    }

    #[inline]
    pub fn remove(&mut self, key: &[u8]) -> Option<(SmallBytes, V)> {
        let hash = hash_key(key);
        let seg = self.seg_of(hash)?;
        let found = self.segs[seg]
            .table
            .find_entry(table_hash(hash), |e| e.0.as_slice() == key);
        let (entry, _) = found.ok()?.remove();
        self.note_removed(seg, &entry.0);
        Some(entry)
    }

    /// An entry whose key hashes to exactly `hash` and which satisfies `pred`. For the expiry
    /// index, which stores key hashes instead of keys.
    pub fn get_by_hash_mut(
        &mut self,
        hash: u64,
        mut pred: impl FnMut(&SmallBytes, &V) -> bool,
    ) -> Option<(&SmallBytes, &mut V)> {
        let seg = self.seg_of(hash)?;
        let entry = self.segs[seg].table.find_mut(table_hash(hash), |e| {
            hash_key(&e.0) == hash && pred(&e.0, &e.1)
        })?;
        Some((&entry.0, &mut entry.1))
    }

    /// Removes the entry [`get_by_hash_mut`](Self::get_by_hash_mut) would find.
    pub fn remove_by_hash(
        &mut self,
        hash: u64,
        mut pred: impl FnMut(&SmallBytes, &V) -> bool,
    ) -> Option<(SmallBytes, V)> {
        let seg = self.seg_of(hash)?;
        let found = self.segs[seg].table.find_entry(table_hash(hash), |e| {
            hash_key(&e.0) == hash && pred(&e.0, &e.1)
        });
        let (entry, _) = found.ok()?.remove();
        self.note_removed(seg, &entry.0);
        Some(entry)
    }

    pub fn iter(&self) -> Iter<'_, V> {
        Iter {
            segs: self.segs.iter(),
            cur: None,
            remaining: self.len,
        }
    }

    pub fn iter_mut(&mut self) -> IterMut<'_, V> {
        IterMut {
            segs: self.segs.iter_mut(),
            cur: None,
            remaining: self.len,
        }
    }

    pub fn keys(&self) -> impl Iterator<Item = &SmallBytes> + '_ {
        self.iter().map(|(k, _)| k)
    }

    /// Takes every entry out, leaving the dict empty (and unallocated) at once; the entries not
    /// consumed are dropped with the iterator.
    pub fn drain(&mut self) -> IntoIter<V> {
        let empty = Self::with_segment_buckets(self.segment_buckets);
        std::mem::replace(self, empty).into_iter()
    }

    /// Removes everything and frees the memory.
    pub fn clear(&mut self) {
        *self = Self::with_segment_buckets(self.segment_buckets);
    }

    /// Keeps the entries for which `f` returns true, then merges and shrinks what emptied.
    pub fn retain(&mut self, mut f: impl FnMut(&SmallBytes, &mut V) -> bool) {
        let len_before = self.len;
        // Count each removal as it happens, so the counters stay right even if `f` panics.
        let Dict {
            segs,
            len,
            key_heap_bytes,
            ..
        } = self;
        for seg in segs.iter_mut() {
            seg.table.retain(|(k, v)| {
                let keep = f(k, v);
                if !keep {
                    *len -= 1;
                    *key_heap_bytes -= k.heap_size();
                }
                keep
            });
        }
        if self.len == 0 {
            self.clear();
        } else if self.len < len_before {
            self.compact();
        }
    }

    /// Calls `f` on the (at least) `count` entries with the smallest hashes `>= cursor`, in no
    /// particular order (entries tying the largest of those hashes come along), and returns the
    /// cursor to continue from, or 0 when the iteration is complete. Any `u64` is a valid
    /// cursor. See the module doc for the guarantee and its proof. `O(count + SEGMENT_MAX)`.
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&SmallBytes, &V)) -> u64 {
        if self.is_empty() {
            return 0;
        }
        let count = count.max(1);
        let mut pos = cursor;
        let mut n_emitted = 0;
        let mut n_empty_segments = 0;
        let mut found: Vec<(u64, &(SmallBytes, V))> = Vec::new();
        loop {
            let seg = &self.segs[self.seg_of(pos).expect("non-empty dict has a directory")];
            debug_assert!(seg.owns(pos));
            found.clear();
            found.extend(seg.table.iter().filter_map(|e| {
                let hash = hash_key(&e.0);
                (hash >= pos).then_some((hash, e))
            }));
            let wanted = count - n_emitted;
            if found.len() > wanted {
                // Emit the `wanted` smallest hashes plus any ties of the largest of them, so the
                // next cursor can start right after it.
                found.select_nth_unstable_by_key(wanted - 1, |&(hash, _)| hash);
                let last = found[wanted - 1].0;
                for &(hash, e) in &found {
                    if hash <= last {
                        f(&e.0, &e.1);
                    }
                }
                // Only a tie at u64::MAX, the end of hash space, ends the iteration here.
                return last.checked_add(1).unwrap_or(0);
            }
            for &(_, e) in &found {
                f(&e.0, &e.1);
            }
            n_emitted += found.len();
            if found.is_empty() {
                n_empty_segments += 1;
            }
            let end = seg.end();
            if end == u64::MAX {
                return 0;
            }
            pos = end + 1;
            if n_emitted >= count || n_empty_segments >= SCAN_EMPTY_SEGMENTS_MAX {
                return pos;
            }
        }
    }

    /// A random entry, uniform over the entries (rejection sampling over equal-size buckets,
    /// with an exact fallback walk).
    pub fn random_entry<R: rand::Rng + ?Sized>(&self, rng: &mut R) -> Option<(&SmallBytes, &V)> {
        let (seg, bucket) = self.random_bucket(rng)?;
        let entry = self.segs[seg]
            .table
            .get_bucket(bucket)
            .expect("occupied bucket");
        Some((&entry.0, &entry.1))
    }

    /// Removes and returns a random entry (uniform like [`random_entry`](Self::random_entry)).
    pub fn remove_random<R: rand::Rng + ?Sized>(&mut self, rng: &mut R) -> Option<(SmallBytes, V)> {
        let (seg, bucket) = self.random_bucket(rng)?;
        let found = self.segs[seg].table.get_bucket_entry(bucket);
        let (entry, _) = found.ok().expect("occupied bucket").remove();
        self.note_removed(seg, &entry.0);
        Some(entry)
    }

    /// Approximate bytes owned: directory, segment headers, tables and keys' heap bytes; what
    /// `V` owns on the heap is not included. `O(segments)`.
    pub fn allocated_bytes(&self) -> usize {
        let tables: usize = self.segs.iter().map(|s| s.table.allocation_size()).sum();
        self.dir.capacity() * size_of::<u32>()
            + self.segs.capacity() * size_of::<Segment<V>>()
            + tables
            + self.key_heap_bytes
    }

    /// Asserts every structural invariant listed in the module doc. `O(n)`; for tests.
    #[doc(hidden)]
    pub fn check_invariants(&self) {
        let gd = self.global_depth;
        if self.segs.is_empty() {
            assert!(self.dir.is_empty() && self.len == 0 && self.key_heap_bytes == 0);
            return;
        }
        assert_eq!(self.dir.len(), 1 << gd, "directory size");
        let (mut n_entries, mut heap, mut n_at_gd, mut n_slots) = (0, 0, 0, 0);
        for (i, seg) in self.segs.iter().enumerate() {
            assert!(seg.depth <= gd, "segment {i} deeper than the directory");
            assert_eq!(
                seg.start & (u64::MAX >> seg.depth),
                0,
                "segment {i} start is aligned"
            );
            let first = dir_slot(gd, seg.start);
            let n = 1usize << (gd - seg.depth);
            assert!(
                self.dir[first..first + n].iter().all(|&s| s as usize == i),
                "slots of {i}"
            );
            n_slots += n;
            for (k, _) in &seg.table {
                assert!(seg.owns(hash_key(k)), "entry {k:?} outside segment {i}");
                heap += k.heap_size();
            }
            n_entries += seg.table.len();
            n_at_gd += u32::from(seg.depth == gd);
        }
        assert_eq!(n_slots, self.dir.len(), "segments partition the directory");
        assert_eq!(n_entries, self.len, "len is the sum of segment lengths");
        assert_eq!(heap, self.key_heap_bytes, "key heap bytes");
        assert_eq!(
            n_at_gd, self.n_at_global_depth,
            "segments at the global depth"
        );
        assert!(gd == 0 || n_at_gd > 0, "directory deeper than needed");
    }

    // ---- Insertion internals ----

    /// Finds `key` or a segment with room for it (splitting or rebuilding as needed).
    #[inline]
    fn slot(&mut self, hash: u64, key: &[u8]) -> Slot {
        if let Some(seg) = self.seg_of(hash) {
            let table = &self.segs[seg].table;
            if let Some(bucket) =
                table.find_bucket_index(table_hash(hash), |e| e.0.as_slice() == key)
            {
                return Slot::Occupied { seg, bucket };
            }
        }
        Slot::Vacant {
            seg: self.make_room(hash),
        }
    }

    /// Inserts an absent entry into segment `seg` (which must own `hash`); returns its bucket.
    #[inline]
    fn push(&mut self, seg: usize, hash: u64, key: SmallBytes, value: V) -> usize {
        debug_assert!(self.segs[seg].owns(hash));
        self.len += 1;
        self.key_heap_bytes += key.heap_size();
        let table = &mut self.segs[seg].table;
        table
            .insert_unique(table_hash(hash), (key, value), entry_table_hash)
            .bucket_index()
    }

    /// The segment owning `hash`, made able to take one more entry without growing past
    /// `segment_buckets`: full segments split, tombstone-clogged full-size tables are rebuilt.
    #[inline]
    fn make_room(&mut self, hash: u64) -> usize {
        if let Some(seg) = self.seg_of(hash) {
            let table = &self.segs[seg].table;
            if table.len() < table.capacity() {
                return seg;
            }
        }
        self.make_room_slow(hash)
    }

    #[cold]
    #[inline(never)]
    fn make_room_slow(&mut self, hash: u64) -> usize {
        if self.segs.is_empty() {
            self.segs.push(Segment {
                table: HashTable::new(),
                start: 0,
                depth: 0,
            });
            self.dir.push(0);
            self.n_at_global_depth = 1;
        }
        loop {
            let seg = self.seg_of(hash).expect("directory exists");
            let (table, depth) = (&self.segs[seg].table, self.segs[seg].depth);
            if table.len() < table.capacity() {
                return seg;
            }
            if table.len() >= self.segment_max() && depth < DEPTH_MAX {
                self.split(seg);
                continue;
            }
            // hashbrown rehashes in place when at most half full, else it would double the
            // table; keep full-size tables at their size instead.
            if table.num_buckets() >= self.segment_buckets && table.len() >= self.segment_max() / 2
            {
                let table = std::mem::take(&mut self.segs[seg].table);
                self.segs[seg].table = self.rebuild(table);
            }
            return seg;
        }
    }

    /// A fresh full-size table (no tombstones) holding everything in `from`.
    fn rebuild(&self, from: HashTable<(SmallBytes, V)>) -> HashTable<(SmallBytes, V)> {
        let mut to = HashTable::with_capacity(self.segment_max().max(from.len()));
        for entry in from {
            to.insert_unique(entry_table_hash(&entry), entry, entry_table_hash);
        }
        to
    }

    /// Splits segment `seg` by the hash bit below its prefix: entries with the bit set move to
    /// a new segment. Doubles the directory first if needed. `O(segment_max)`.
    fn split(&mut self, seg: usize) {
        let depth = self.segs[seg].depth;
        debug_assert!(depth < DEPTH_MAX);
        if depth == self.global_depth {
            self.grow_directory();
        }
        let bit = 1u64 << (63 - depth);
        let mut upper = HashTable::with_capacity(self.segment_max());
        let lower = &mut self.segs[seg];
        for entry in lower.table.extract_if(|e| hash_key(&e.0) & bit != 0) {
            upper.insert_unique(entry_table_hash(&entry), entry, entry_table_hash);
        }
        lower.depth = depth + 1;
        let upper_start = lower.start | bit;
        let upper_idx = self.segs.len();
        self.segs.push(Segment {
            table: upper,
            start: upper_start,
            depth: depth + 1,
        });
        let gd = self.global_depth;
        let first = dir_slot(gd, upper_start);
        self.dir[first..first + (1 << (gd - depth - 1))].fill(upper_idx as u32);
        if depth + 1 == gd {
            self.n_at_global_depth += 2;
        }
        debug_assert!(self.dir[dir_slot(gd, upper_start - 1)] as usize == seg);
    }

    /// Doubles the directory: each slot becomes two slots naming the same segment.
    fn grow_directory(&mut self) {
        debug_assert!(self.global_depth < DEPTH_MAX);
        let dir: Vec<u32> = self.dir.iter().flat_map(|&s| [s, s]).collect();
        self.dir = dir;
        self.global_depth += 1;
        self.n_at_global_depth = 0;
    }

    // ---- Removal internals ----

    /// Bookkeeping after an entry left segment `seg`: counters, then merge or shrink.
    #[inline]
    fn note_removed(&mut self, seg: usize, key: &SmallBytes) {
        self.len -= 1;
        self.key_heap_bytes -= key.heap_size();
        let (table, depth) = (&self.segs[seg].table, self.segs[seg].depth);
        let mergeable = depth > 0 && table.len() <= self.merge_max();
        if mergeable || Self::shrinkable(table) {
            self.settle(seg);
        }
    }

    /// Whether a table is big and less than 1/8 full.
    #[inline]
    fn shrinkable(table: &HashTable<(SmallBytes, V)>) -> bool {
        table.num_buckets() > SHRINK_BUCKETS_MIN && table.len() * 8 < table.num_buckets()
    }

    /// Merges segment `seg` with its buddies while they are small enough, then shrinks the
    /// table if it is mostly empty.
    #[cold]
    #[inline(never)]
    fn settle(&mut self, mut seg: usize) {
        while self.segs[seg].table.len() <= self.merge_max() {
            match self.try_merge(seg) {
                Some(merged) => seg = merged,
                None => break,
            }
        }
        let table = &mut self.segs[seg].table;
        if Self::shrinkable(table) {
            table.shrink_to(table.len() * 2, entry_table_hash);
        }
    }

    /// Merges segment `seg` with its buddy if both have the same depth and together hold at most
    /// `merge_max` entries; returns the merged segment's index.
    fn try_merge(&mut self, seg: usize) -> Option<usize> {
        let depth = self.segs[seg].depth;
        if depth == 0 {
            return None;
        }
        let half = 1u64 << (64 - depth);
        let buddy = self.dir[dir_slot(self.global_depth, self.segs[seg].start ^ half)] as usize;
        let (a, b) = (&self.segs[seg], &self.segs[buddy]);
        if b.depth != depth || a.table.len() + b.table.len() > self.merge_max() {
            return None;
        }
        // Keep the segment with the bigger table; move the other one's entries in.
        let (keep, gone) = if a.table.num_buckets() >= b.table.num_buckets() {
            (seg, buddy)
        } else {
            (buddy, seg)
        };
        let moved = std::mem::take(&mut self.segs[gone].table);
        let kept = &mut self.segs[keep];
        kept.table.reserve(moved.len(), entry_table_hash);
        for entry in moved {
            kept.table
                .insert_unique(entry_table_hash(&entry), entry, entry_table_hash);
        }
        kept.depth = depth - 1;
        kept.start &= !half;
        if depth == self.global_depth {
            self.n_at_global_depth -= 2;
        }
        let keep = self.remove_segment(gone, keep);
        let gd = self.global_depth;
        let first = dir_slot(gd, self.segs[keep].start);
        self.dir[first..first + (1 << (gd - depth + 1))].fill(keep as u32);
        while self.global_depth > 0 && self.n_at_global_depth == 0 {
            self.shrink_directory();
        }
        Some(keep)
    }

    /// Removes the (now empty, unreferenced once the caller refills its slots) segment `gone`
    /// by moving the last segment into its place; returns `keep`'s index afterwards.
    fn remove_segment(&mut self, gone: usize, keep: usize) -> usize {
        let last = self.segs.len() - 1;
        self.segs.swap_remove(gone);
        if self.segs.len() * 4 < self.segs.capacity() {
            self.segs.shrink_to(self.segs.len() * 2);
        }
        if gone == last {
            return keep;
        }
        // The segment that was last now sits at `gone`: repoint its slots.
        let moved = &self.segs[gone];
        let gd = self.global_depth;
        let first = dir_slot(gd, moved.start);
        self.dir[first..first + (1 << (gd - moved.depth))].fill(gone as u32);
        if keep == last {
            gone
        } else {
            keep
        }
    }

    /// Halves the directory; only valid when no segment has the full global depth.
    fn shrink_directory(&mut self) {
        debug_assert!(self.global_depth > 0 && self.n_at_global_depth == 0);
        let dir: Vec<u32> = self.dir.iter().step_by(2).copied().collect();
        self.dir = dir;
        self.global_depth -= 1;
        let gd = self.global_depth;
        self.n_at_global_depth = self.segs.iter().filter(|s| s.depth == gd).count() as u32;
    }

    /// Merges and shrinks every segment that allows it (after a bulk `retain`). A merge moves
    /// the last segment into the freed index, which this pass may already have passed, so
    /// passes repeat until one merges nothing; each earlier pass removed a segment.
    fn compact(&mut self) {
        loop {
            let n_before = self.segs.len();
            let mut seg = 0;
            while seg < self.segs.len() {
                self.settle(seg);
                seg += 1;
            }
            if self.segs.len() == n_before {
                return;
            }
        }
    }

    // ---- Sampling internals ----

    /// `(segment, bucket)` of a uniformly random entry.
    ///
    /// Draw a segment uniformly and a bucket index uniformly below the largest table size; the
    /// draw is accepted if the bucket is occupied, which gives each entry the same probability.
    /// Full-size tables are at least ~40% full, so this rarely needs the exact fallback.
    fn random_bucket<R: rand::Rng + ?Sized>(&self, rng: &mut R) -> Option<(usize, usize)> {
        if self.is_empty() {
            return None;
        }
        let buckets_max = if self.segs.len() == 1 {
            self.segs[0].table.num_buckets()
        } else {
            self.segment_buckets
        };
        for _ in 0..RANDOM_PROBES_MAX {
            let seg = rng.random_range(0..self.segs.len());
            let bucket = rng.random_range(0..buckets_max);
            if self.segs[seg].table.get_bucket(bucket).is_some() {
                return Some((seg, bucket));
            }
        }
        let mut nth = rng.random_range(0..self.len);
        for (i, seg) in self.segs.iter().enumerate() {
            if nth < seg.table.len() {
                return Some((i, seg.table.iter_buckets().nth(nth).expect("nth < len")));
            }
            nth -= seg.table.len();
        }
        unreachable!("len is the sum of segment lengths")
    }
}

impl<V: fmt::Debug> fmt::Debug for Dict<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<V> FromIterator<(SmallBytes, V)> for Dict<V> {
    fn from_iter<I: IntoIterator<Item = (SmallBytes, V)>>(iter: I) -> Self {
        let mut dict = Dict::new();
        dict.extend(iter);
        dict
    }
}

impl<V> Extend<(SmallBytes, V)> for Dict<V> {
    /// Later values win over earlier ones for the same key, like `HashMap`.
    fn extend<I: IntoIterator<Item = (SmallBytes, V)>>(&mut self, iter: I) {
        for (key, value) in iter {
            let hash = hash_key(&key);
            match self.slot(hash, &key) {
                Slot::Occupied { seg, bucket } => {
                    let entry = self.segs[seg]
                        .table
                        .get_bucket_mut(bucket)
                        .expect("occupied");
                    entry.1 = value;
                }
                Slot::Vacant { seg } => {
                    self.push(seg, hash, key, value);
                }
            }
        }
    }
}

impl<V> IntoIterator for Dict<V> {
    type Item = (SmallBytes, V);
    type IntoIter = IntoIter<V>;

    fn into_iter(self) -> IntoIter<V> {
        IntoIter {
            remaining: self.len,
            segs: self.segs.into_iter(),
            cur: None,
        }
    }
}

impl<'a, V> IntoIterator for &'a Dict<V> {
    type Item = (&'a SmallBytes, &'a V);
    type IntoIter = Iter<'a, V>;

    fn into_iter(self) -> Iter<'a, V> {
        self.iter()
    }
}

/// Borrowing iterator over a [`Dict`], in no particular order.
pub struct Iter<'a, V> {
    segs: std::slice::Iter<'a, Segment<V>>,
    cur: Option<hash_table::Iter<'a, (SmallBytes, V)>>,
    remaining: usize,
}

impl<'a, V> Iterator for Iter<'a, V> {
    type Item = (&'a SmallBytes, &'a V);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some((k, v)) = self.cur.as_mut().and_then(Iterator::next) {
                self.remaining -= 1;
                return Some((k, v));
            }
            self.cur = Some(self.segs.next()?.table.iter());
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<V> ExactSizeIterator for Iter<'_, V> {}

/// Iterator over a [`Dict`] with mutable values.
pub struct IterMut<'a, V> {
    segs: std::slice::IterMut<'a, Segment<V>>,
    cur: Option<hash_table::IterMut<'a, (SmallBytes, V)>>,
    remaining: usize,
}

impl<'a, V> Iterator for IterMut<'a, V> {
    type Item = (&'a SmallBytes, &'a mut V);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some((k, v)) = self.cur.as_mut().and_then(Iterator::next) {
                self.remaining -= 1;
                return Some((&*k, v));
            }
            self.cur = Some(self.segs.next()?.table.iter_mut());
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<V> ExactSizeIterator for IterMut<'_, V> {}

/// Owning iterator over a [`Dict`] (from `into_iter` or `drain`).
pub struct IntoIter<V> {
    segs: std::vec::IntoIter<Segment<V>>,
    cur: Option<hash_table::IntoIter<(SmallBytes, V)>>,
    remaining: usize,
}

impl<V> Iterator for IntoIter<V> {
    type Item = (SmallBytes, V);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(entry) = self.cur.as_mut().and_then(Iterator::next) {
                self.remaining -= 1;
                return Some(entry);
            }
            self.cur = Some(self.segs.next()?.table.into_iter());
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<V> ExactSizeIterator for IntoIter<V> {}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use proptest::prelude::*;
    use rand::rngs::SmallRng;
    use rand::{RngExt, SeedableRng};

    use super::*;

    /// Keys `k0`, `k1`, ...; every 7th is longer than the inline limit to exercise heap keys.
    fn key(i: u32) -> Vec<u8> {
        if i.is_multiple_of(7) {
            format!("a-long-key-that-lives-on-the-heap-{i}").into_bytes()
        } else {
            format!("k{i}").into_bytes()
        }
    }

    fn dict_with(segment_buckets: usize, keys: impl IntoIterator<Item = u32>) -> Dict<u32> {
        let mut dict = Dict::with_segment_buckets(segment_buckets);
        for i in keys {
            dict.insert(&key(i), i);
        }
        dict.check_invariants();
        dict
    }

    /// Runs a full scan, calling `between` after every call; returns the keys seen (with
    /// repetitions) and the number of calls.
    fn full_scan(
        dict: &mut Dict<u32>,
        count: usize,
        mut between: impl FnMut(&mut Dict<u32>),
    ) -> (Vec<SmallBytes>, usize) {
        let (mut seen, mut n_calls, mut cursor) = (Vec::new(), 0, 0);
        loop {
            cursor = dict.scan(cursor, count, |k, _| seen.push(k.clone()));
            n_calls += 1;
            assert!(n_calls < 1_000_000, "scan does not terminate");
            if cursor == 0 {
                return (seen, n_calls);
            }
            between(dict);
        }
    }

    #[test]
    fn empty_dict_allocates_nothing_and_answers_everything() {
        let mut dict: Dict<u32> = Dict::new();
        assert_eq!(dict.allocated_bytes(), 0);
        assert!(dict.is_empty() && dict.get(b"x").is_none() && dict.remove(b"x").is_none());
        assert_eq!(dict.scan(0, 10, |_, _| panic!("empty")), 0);
        assert_eq!(dict.scan(12345, 10, |_, _| panic!("empty")), 0);
        assert!(dict.random_entry(&mut SmallRng::seed_from_u64(1)).is_none());
        assert!(dict.get_by_hash_mut(0, |_, _| true).is_none());
        assert_eq!(dict.iter().count(), 0);
        dict.retain(|_, _| true);
        dict.check_invariants();
    }

    #[test]
    fn a_small_dict_is_one_small_segment() {
        let dict = dict_with(SEGMENT_BUCKETS, 1..=5);
        assert_eq!(dict.segment_count(), 1);
        assert!(dict.segs[0].table.num_buckets() <= 8);
        assert!(
            dict.allocated_bytes() < 512,
            "{} bytes",
            dict.allocated_bytes()
        );
    }

    #[test]
    fn insert_get_remove_basics() {
        let mut dict = Dict::new();
        assert_eq!(dict.insert(b"a", 1), None);
        assert_eq!(dict.insert(b"a", 2), Some(1));
        assert_eq!(dict.get(b"a"), Some(&2));
        *dict.get_mut(b"a").unwrap() += 1;
        assert_eq!(
            dict.get_key_value(b"a").map(|(k, v)| (k.as_slice(), *v)),
            Some((&b"a"[..], 3))
        );
        assert_eq!(dict.get_or_insert_with(b"a", || 9), (&mut 3, false));
        assert_eq!(dict.get_or_insert_with(b"b", || 9), (&mut 9, true));
        dict.insert_new(SmallBytes::new(&key(7)), 7);
        assert!(dict.allocated_bytes() >= key(7).len());
        assert_eq!(dict.len(), 3);
        assert_eq!(dict.remove(&key(7)), Some((SmallBytes::new(&key(7)), 7)));
        assert_eq!(dict.remove(b"zz"), None);
        assert!(dict.contains_key(b"b") && !dict.contains_key(&key(7)));
        assert_eq!(format!("{dict:?}").len(), r#"{"a": 3, "b": 9}"#.len());
        dict.check_invariants();
    }

    #[test]
    fn lookups_by_hash_find_the_key_with_that_hash() {
        let mut dict = dict_with(16, 0..500);
        for i in (0..500).step_by(17) {
            let hash = Dict::<u32>::hash_key(&key(i));
            let (k, v) = dict.get_by_hash_mut(hash, |_, &v| v == i).expect("present");
            assert_eq!((k.as_slice(), *v), (&key(i)[..], i));
            assert!(dict.get_by_hash_mut(hash, |_, &v| v != i).is_none());
            assert!(dict.get_by_hash_mut(hash ^ 1, |_, _| true).is_none());
            assert_eq!(
                dict.remove_by_hash(hash, |_, _| true),
                Some((SmallBytes::new(&key(i)), i))
            );
            assert!(!dict.contains_key(&key(i)));
        }
        dict.check_invariants();
    }

    #[test]
    fn splits_then_merges_back_and_returns_memory() {
        let mut dict = dict_with(16, 0..5000);
        assert!(dict.segment_count() > 300 && dict.global_depth >= 9);
        let big_bytes = dict.allocated_bytes();
        for i in 5..5000 {
            assert_eq!(dict.remove(&key(i)), Some((SmallBytes::new(&key(i)), i)));
        }
        dict.check_invariants();
        assert!(
            dict.segment_count() < 20,
            "{} segments left",
            dict.segment_count()
        );
        assert!(
            dict.allocated_bytes() * 20 < big_bytes,
            "{big_bytes} -> {}",
            dict.allocated_bytes()
        );
        assert_eq!(
            dict.iter().map(|(_, &v)| v).collect::<HashSet<_>>(),
            (0..5).collect()
        );
    }

    #[test]
    fn production_segments_split_and_shrink_after_mass_deletes() {
        let mut dict = dict_with(SEGMENT_BUCKETS, 0..20_000);
        assert!(dict.segment_count() >= 4);
        assert!(dict
            .segs
            .iter()
            .all(|s| s.table.num_buckets() <= SEGMENT_BUCKETS));
        let big_bytes = dict.allocated_bytes();
        dict.retain(|_, v| *v < 100);
        dict.check_invariants();
        assert_eq!(
            (dict.len(), dict.segment_count(), dict.global_depth),
            (100, 1, 0)
        );
        assert!(
            dict.allocated_bytes() * 50 < big_bytes,
            "{}",
            dict.allocated_bytes()
        );
        for i in 100..20_000 {
            dict.insert(&key(i), i);
        }
        for i in 100..20_000 {
            dict.remove(&key(i));
        }
        dict.check_invariants();
        assert!(
            dict.allocated_bytes() * 50 < big_bytes,
            "{}",
            dict.allocated_bytes()
        );
    }

    #[test]
    fn tombstone_churn_does_not_grow_tables_past_full_size() {
        let mut dict = dict_with(64, 0..2000);
        let mut rng = SmallRng::seed_from_u64(7);
        for round in 0..20_000u32 {
            let i = rng.random_range(0..4000);
            if round % 2 == 0 {
                dict.insert(&key(i), i);
            } else {
                dict.remove(&key(i));
            }
        }
        dict.check_invariants();
        assert!(dict.segs.iter().all(|s| s.table.num_buckets() <= 64));
    }

    #[test]
    fn bulk_operations() {
        let mut dict = dict_with(16, 0..1000);
        for (_, v) in dict.iter_mut() {
            *v += 1;
        }
        assert!(dict.iter().all(|(k, &v)| k.as_slice() == key(v - 1)));
        assert_eq!(dict.iter().len(), 1000);
        let copy: Dict<u32> = dict.iter().map(|(k, &v)| (k.clone(), v)).collect();
        copy.check_invariants();
        assert_eq!(copy.len(), 1000);
        dict.retain(|_, v| *v % 3 == 0);
        dict.check_invariants();
        assert_eq!(dict.len(), 333);
        let drained: HashMap<SmallBytes, u32> = dict.drain().collect();
        assert_eq!(drained.len(), 333);
        assert!(dict.is_empty() && dict.allocated_bytes() == 0);
        dict.check_invariants();
        let mut copy = copy;
        copy.clear();
        copy.check_invariants();
        assert_eq!(copy.allocated_bytes(), 0);
        copy.insert(b"again", 1);
        assert_eq!(copy.get(b"again"), Some(&1));
    }

    #[test]
    fn full_scan_of_a_static_dict_returns_each_entry_once() {
        for (segment_buckets, n) in [(16, 1000), (64, 3000), (SEGMENT_BUCKETS, 10_000)] {
            let mut dict = dict_with(segment_buckets, 0..n);
            for count in [1, 2, 7, 100, 100_000] {
                let (seen, n_calls) = full_scan(&mut dict, count, |_| {});
                assert_eq!(seen.len(), n as usize, "count {count}");
                assert_eq!(seen.iter().collect::<HashSet<_>>().len(), n as usize);
                let bound = n as usize / count + dict.segment_count() + 1;
                assert!(n_calls <= bound, "{n_calls} calls > {bound}");
            }
        }
    }

    #[test]
    fn scan_from_any_cursor_returns_exactly_the_hashes_above_it() {
        let mut dict = dict_with(16, 0..800);
        let mut rng = SmallRng::seed_from_u64(3);
        for _ in 0..50 {
            let start: u64 = rng.random();
            let (mut cursor, mut seen) = (start, Vec::new());
            loop {
                cursor = dict.scan(cursor, 5, |k, _| seen.push(Dict::<u32>::hash_key(k)));
                if cursor == 0 {
                    break;
                }
                assert!(cursor > start);
            }
            let mut expected: Vec<u64> = dict
                .iter()
                .map(|(k, _)| hash_key(k))
                .filter(|&h| h >= start)
                .collect();
            seen.sort_unstable();
            expected.sort_unstable();
            assert_eq!(seen, expected);
        }
        assert_eq!(
            dict.scan(u64::MAX, 10, |k, _| assert_eq!(hash_key(k), u64::MAX)),
            0
        );
        dict.clear();
        assert_eq!(dict.scan(0, 10, |_, _| {}), 0);
    }

    /// Scans while, between calls, the dict grows from ~50 to ~3000 entries and back, forcing
    /// splits, directory doubling, merges and directory halving mid-iteration.
    /// Returns how many directory doublings and halvings happened mid-scan: whether one run
    /// sees both depends on the process's random hash seed, so callers judge the total.
    fn scan_under_churn(seed: u64, segment_buckets: usize, count: usize) -> (usize, usize) {
        let mut rng = SmallRng::seed_from_u64(seed);
        let stable = 0..50u32;
        let mut dict = dict_with(segment_buckets, stable.clone());
        let mut churn: Vec<u32> = Vec::new();
        let mut next_churn = 1_000_000u32;
        let mut growing = true;
        let (mut n_dir_doublings, mut n_dir_halvings) = (0, 0);
        let (seen, _) = full_scan(&mut dict, count, |dict| {
            let depth_before = dict.global_depth;
            if growing {
                for _ in 0..rng.random_range(0..200) {
                    dict.insert(&key(next_churn), next_churn);
                    churn.push(next_churn);
                    next_churn += 1;
                }
                growing = churn.len() < 3000;
            } else {
                for _ in 0..rng.random_range(0..200).min(churn.len()) {
                    let i = churn.swap_remove(rng.random_range(0..churn.len()));
                    assert!(dict.remove(&key(i)).is_some());
                }
                growing = churn.is_empty();
            }
            n_dir_doublings += usize::from(dict.global_depth > depth_before);
            n_dir_halvings += usize::from(dict.global_depth < depth_before);
        });
        dict.check_invariants();
        let n_seen = seen.len();
        let seen: HashSet<SmallBytes> = seen.into_iter().collect();
        assert_eq!(seen.len(), n_seen, "seed {seed}: no key is returned twice");
        for i in stable {
            assert!(
                seen.contains(&key(i)[..]),
                "seed {seed}: stable key {i} missed"
            );
        }
        (n_dir_doublings, n_dir_halvings)
    }

    #[test]
    fn scan_returns_every_stable_entry_while_the_dict_resizes() {
        let (mut doublings, mut halvings) = (0, 0);
        for seed in 0..24 {
            let (d, h) = scan_under_churn(seed, 16, [1, 3, 10][seed as usize % 3]);
            (doublings, halvings) = (doublings + d, halvings + h);
        }
        let (d, h) = scan_under_churn(99, 64, 1);
        assert!(
            doublings + d > 0 && halvings + h > 0,
            "the scans saw the directory double ({doublings}) and halve ({halvings})"
        );
    }

    #[test]
    fn random_entry_is_present_and_roughly_uniform() {
        let dict = dict_with(16, 0..50);
        assert!(dict.segment_count() > 3);
        let mut rng = SmallRng::seed_from_u64(11);
        let mut hits: HashMap<u32, u32> = HashMap::new();
        for _ in 0..50_000 {
            let (k, &v) = dict.random_entry(&mut rng).expect("non-empty");
            assert_eq!(k.as_slice(), key(v));
            *hits.entry(v).or_default() += 1;
        }
        assert_eq!(hits.len(), 50);
        // Expect 1000 each; the standard deviation is ~31.
        assert!(hits.values().all(|&n| (800..1200).contains(&n)), "{hits:?}");
    }

    #[test]
    fn remove_random_empties_the_dict_one_entry_at_a_time() {
        let mut dict = dict_with(16, 0..300);
        let mut rng = SmallRng::seed_from_u64(5);
        let mut taken = HashSet::new();
        while let Some((k, v)) = dict.remove_random(&mut rng) {
            assert_eq!(k.as_slice(), key(v));
            assert!(taken.insert(v));
        }
        assert_eq!(taken.len(), 300);
        dict.check_invariants();
    }

    #[derive(Clone, Debug)]
    enum Op {
        Insert(u32, u32),
        InsertNew(u32, u32),
        GetOrInsert(u32, u32),
        GetMut(u32, u32),
        Get(u32),
        Remove(u32),
        RemoveByHash(u32),
        Retain(u32),
        Clear,
    }

    fn op(keys: u32) -> impl Strategy<Value = Op> {
        prop_oneof![
            80 => (0..keys, any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
            30 => (0..keys, any::<u32>()).prop_map(|(k, v)| Op::InsertNew(k, v)),
            30 => (0..keys, any::<u32>()).prop_map(|(k, v)| Op::GetOrInsert(k, v)),
            20 => (0..keys, any::<u32>()).prop_map(|(k, v)| Op::GetMut(k, v)),
            30 => (0..keys).prop_map(Op::Get),
            50 => (0..keys).prop_map(Op::Remove),
            20 => (0..keys).prop_map(Op::RemoveByHash),
            3 => (2..6u32).prop_map(Op::Retain),
            1 => Just(Op::Clear),
        ]
    }

    fn run_model(segment_buckets: usize, ops: &[Op]) {
        let mut dict: Dict<u32> = Dict::with_segment_buckets(segment_buckets);
        let mut model: HashMap<Vec<u8>, u32> = HashMap::new();
        for (step, op) in ops.iter().enumerate() {
            match *op {
                Op::Insert(k, v) => assert_eq!(dict.insert(&key(k), v), model.insert(key(k), v)),
                Op::InsertNew(k, v) => {
                    if model.insert(key(k), v).is_none() {
                        dict.insert_new(SmallBytes::new(&key(k)), v);
                    } else {
                        dict.insert(&key(k), v);
                    }
                }
                Op::GetOrInsert(k, v) => {
                    let expected_new = !model.contains_key(&key(k));
                    let expected = *model.entry(key(k)).or_insert(v);
                    let (got, inserted) = dict.get_or_insert_with(&key(k), || v);
                    assert_eq!((*got, inserted), (expected, expected_new));
                }
                Op::GetMut(k, v) => {
                    if let Some(got) = dict.get_mut(&key(k)) {
                        *got = v;
                    }
                    if let Some(m) = model.get_mut(&key(k)) {
                        *m = v;
                    }
                }
                Op::Get(k) => assert_eq!(dict.get(&key(k)), model.get(&key(k))),
                Op::Remove(k) => assert_eq!(
                    dict.remove(&key(k)).map(|(key, v)| (key.to_vec(), v)),
                    model.remove_entry(&key(k))
                ),
                Op::RemoveByHash(k) => assert_eq!(
                    dict.remove_by_hash(hash_key(&key(k)), |kk, _| kk.as_slice() == key(k))
                        .map(|(_, v)| v),
                    model.remove(&key(k))
                ),
                Op::Retain(m) => {
                    dict.retain(|_, v| *v % m != 0);
                    model.retain(|_, v| *v % m != 0);
                }
                Op::Clear => {
                    dict.clear();
                    model.clear();
                }
            }
            assert_eq!(dict.len(), model.len());
            if step % 32 == 0 {
                dict.check_invariants();
            }
        }
        dict.check_invariants();
        let got: HashMap<Vec<u8>, u32> = dict.iter().map(|(k, &v)| (k.to_vec(), v)).collect();
        assert_eq!(got, model);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn dict_behaves_like_a_hash_map(ops in proptest::collection::vec(op(600), 1..1500)) {
            run_model(16, &ops);
        }

        #[test]
        fn dict_behaves_like_a_hash_map_with_larger_segments(
            ops in proptest::collection::vec(op(3000), 1..3000)
        ) {
            run_model(64, &ops);
        }
    }
}
