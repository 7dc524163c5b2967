//! The sorted-set value: members ordered by `(score, member)`, with ranks, ranges and scans.
//!
//! A [`ZSet`] has one of two encodings, as in Redis 7.0, and every element lives in exactly
//! one place in each structure of its encoding:
//! - **listpack** (small sets): a single `Vec` of `(member, score)` sorted by `(score,
//!   member)`. Member lookups are linear, which is cheap at the default 128 entries.
//! - **skiplist** (big sets; the name is what `OBJECT ENCODING` says, the structure is not a
//!   skiplist): members live once in a dense slab under `u32` ids; an order-statistic B+tree
//!   of `(score, id)` answers order and rank; a segmented hash index of ids answers "member ->
//!   score". An element is in slab, tree and index, or in none of them (see the `big` module).
//!
//! Order is Redis's: by score (IEEE comparison; `-0.0 == 0.0`), ties by member bytes in
//! `memcmp` order. Scores are never NaN: callers validate them.
//!
//! Signed zero: scores are stored exactly as given, in both encodings. Redis 7.0.15 differs in
//! one place. Its listpack stores `-0` as the integer 0, so on a small set `ZADD z -0 a`
//! then `ZRANGE z 0 -1 WITHSCORES` shows `0`, while a skiplist-encoded set shows `-0`.
//! `ZINCRBY z -0.0 b` replies `-0` either way (the reply comes from the computed value). To
//! reproduce Redis exactly, a caller passes `score + 0.0` (which turns `-0.0` into `0.0`) for
//! inserts that leave the set a listpack. Both Redis and this type keep the old score when an
//! update compares equal, so `ZADD z 0 a` over `-0` leaves `-0`.
//!
//! A set starts as a listpack and converts to the big encoding when an insertion would take
//! it past [`ZSetLimits::max_listpack_entries`] or brings a member longer than
//! [`ZSetLimits::max_listpack_value`]. Like Redis 7.0 it never converts back on its own; a
//! command that builds a fresh key (`ZUNIONSTORE`, RDB load) calls
//! [`ZSet::convert_to_listpack_if_fits`].
//!
//! Complexities (big encoding, n elements): insert, remove, rank, score, pop and get-by-rank
//! O(log n); range starts O(log n) and then O(1) per element; counts in a score or lex range
//! O(log n); `ZSCAN` steps O(COUNT + one index segment).
//!
//! Why a B+tree and not a skiplist: measured in `bench/benches/zset.rs` (results in
//! `docs/benchmarks.md`), it needs under half of Redis's memory per element and ranks faster,
//! because a leaf packs 63 `(score, id)` pairs in 760 bytes where a skiplist spends a node,
//! pointers and span counters per element.

mod big;
mod group_table;
mod index;
mod listpack;
mod slab;
mod tree;

#[cfg(test)]
mod tests;

use std::cmp::Ordering;

use big::{Big, BigIter};
use listpack::Listpack;
use slab::Entry;
use tree::Pred;

use crate::bytes::SmallBytes;

/// One end of a score range (`ZRANGEBYSCORE min max`): `-inf`/`+inf` are `Inclusive(±inf)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ScoreBound {
    Inclusive(f64),
    Exclusive(f64),
}

/// One end of a lex range (`ZRANGEBYLEX min max`): `-`, `+`, `[a`, `(a`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LexBound {
    Min,
    Max,
    Inclusive(Vec<u8>),
    Exclusive(Vec<u8>),
}

impl ScoreBound {
    /// Whether `score` is inside when this bound is a range's minimum (`zslValueGteMin`).
    pub fn admits_as_min(&self, score: f64) -> bool {
        !BelowMin(*self).holds(score, || &[])
    }

    /// Whether `score` is inside when this bound is a range's maximum (`zslValueLteMax`).
    pub fn admits_as_max(&self, score: f64) -> bool {
        NotAboveMax(*self).holds(score, || &[])
    }
}

impl LexBound {
    /// Whether `member` is inside when this bound is a range's minimum (`zslLexValueGteMin`).
    pub fn admits_as_min(&self, member: &[u8]) -> bool {
        lex_gte_min(member, self)
    }

    /// Whether `member` is inside when this bound is a range's maximum (`zslLexValueLteMax`).
    /// `ZRANGEBYLEX` walks from the first match while this holds, which is what Redis does
    /// when scores are not all equal.
    pub fn admits_as_max(&self, member: &[u8]) -> bool {
        lex_lte_max(member, self)
    }
}

/// Encoding thresholds: the `zset-max-listpack-entries` and `zset-max-listpack-value` config
/// directives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZSetLimits {
    pub max_listpack_entries: usize,
    pub max_listpack_value: usize,
}

impl Default for ZSetLimits {
    /// Redis 7.0's defaults.
    fn default() -> Self {
        ZSetLimits {
            max_listpack_entries: 128,
            max_listpack_value: 64,
        }
    }
}

/// Bytes owned by each part of the big encoding; they sum to [`ZSet::allocated_bytes`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemoryBreakdown {
    /// Member/score entries, including long members' heap bytes.
    pub slab: usize,
    /// B+tree nodes and separator copies.
    pub tree: usize,
    /// Hash index segments and directory.
    pub index: usize,
    /// The fixed header of the encoding.
    pub header: usize,
}

/// A sorted set; see the module docs.
#[derive(Clone)]
pub struct ZSet {
    repr: Repr,
}

#[derive(Clone)]
enum Repr {
    Listpack(Listpack),
    Big(Box<Big>),
}

impl Default for ZSet {
    fn default() -> Self {
        ZSet::new()
    }
}

/// Holds for elements before the start of a score range.
struct BelowMin(ScoreBound);

impl Pred for BelowMin {
    #[inline]
    fn holds<'m>(&self, score: f64, _: impl FnOnce() -> &'m [u8]) -> bool {
        match self.0 {
            ScoreBound::Inclusive(min) => score < min,
            ScoreBound::Exclusive(min) => score <= min,
        }
    }
}

/// Holds for elements before `(score, member)` in sorted-set order.
struct Before<'a>(f64, &'a [u8]);

impl Pred for Before<'_> {
    #[inline]
    fn holds<'m>(&self, score: f64, member: impl FnOnce() -> &'m [u8]) -> bool {
        score < self.0 || (score == self.0 && member() < self.1)
    }
}

/// Holds for elements up to the end of a score range (and everything before it).
struct NotAboveMax(ScoreBound);

impl Pred for NotAboveMax {
    #[inline]
    fn holds<'m>(&self, score: f64, _: impl FnOnce() -> &'m [u8]) -> bool {
        match self.0 {
            ScoreBound::Inclusive(max) => score <= max,
            ScoreBound::Exclusive(max) => score < max,
        }
    }
}

/// `member >= min` under a lex bound (Redis's `zslLexValueGteMin`).
fn lex_gte_min(member: &[u8], min: &LexBound) -> bool {
    match min {
        LexBound::Min => true,
        LexBound::Max => false,
        LexBound::Inclusive(v) => member >= v.as_slice(),
        LexBound::Exclusive(v) => member > v.as_slice(),
    }
}

/// `member <= max` under a lex bound (Redis's `zslLexValueLteMax`).
fn lex_lte_max(member: &[u8], max: &LexBound) -> bool {
    match max {
        LexBound::Min => false,
        LexBound::Max => true,
        LexBound::Inclusive(v) => member <= v.as_slice(),
        LexBound::Exclusive(v) => member < v.as_slice(),
    }
}

/// A lex bound as a sortable key: `-` below every string, `+` above; and its exclusivity.
fn lex_bound_key(b: &LexBound) -> ((u8, &[u8]), bool) {
    match b {
        LexBound::Min => ((0, &[]), true),
        LexBound::Max => ((2, &[]), true),
        LexBound::Inclusive(v) => ((1, v.as_slice()), false),
        LexBound::Exclusive(v) => ((1, v.as_slice()), true),
    }
}

/// Whether a lex range can hold anything at all, exactly as Redis's `zslIsInLexRange` decides
/// before looking at elements (`-` and `+` count as exclusive there).
fn lex_range_nonempty(min: &LexBound, max: &LexBound) -> bool {
    let ((lo, lo_excl), (hi, hi_excl)) = (lex_bound_key(min), lex_bound_key(max));
    match lo.cmp(&hi) {
        Ordering::Less => true,
        Ordering::Equal => !lo_excl && !hi_excl,
        Ordering::Greater => false,
    }
}

/// Holds for elements whose member is below a lex range's start. Redis descends a big set by
/// member alone (scores are assumed equal), and so does the tree with this predicate.
struct LexBelowMin<'a>(&'a LexBound);

impl Pred for LexBelowMin<'_> {
    #[inline]
    fn holds<'m>(&self, _: f64, member: impl FnOnce() -> &'m [u8]) -> bool {
        !lex_gte_min(member(), self.0)
    }
}

/// Holds for elements whose member is not above a lex range's end.
struct LexNotAboveMax<'a>(&'a LexBound);

impl Pred for LexNotAboveMax<'_> {
    #[inline]
    fn holds<'m>(&self, _: f64, member: impl FnOnce() -> &'m [u8]) -> bool {
        lex_lte_max(member(), self.0)
    }
}

impl ZSet {
    /// An empty set in the listpack encoding.
    pub fn new() -> Self {
        ZSet {
            repr: Repr::Listpack(Listpack::default()),
        }
    }

    /// An empty set in the big encoding (Redis's `createZsetObject`), for a command that knows
    /// up front that its result will not fit a listpack: Redis's ZRANGESTORE picks the
    /// destination's encoding from the length of a rank range before adding anything, which
    /// decides whether `-0` scores keep their sign. Like every set it is never stored empty.
    pub fn new_big() -> Self {
        ZSet {
            repr: Repr::Big(Box::new(Big::new())),
        }
    }

    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Listpack(lp) => lp.len(),
            Repr::Big(big) => big.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the set has the small encoding. Commands need it to store `-0` the way Redis's
    /// listpack does (see the module docs on signed zero).
    pub fn is_listpack(&self) -> bool {
        matches!(self.repr, Repr::Listpack(_))
    }

    /// What Redis 7.0's `OBJECT ENCODING` reports: "listpack" or "skiplist".
    pub fn encoding_name(&self) -> &'static str {
        match &self.repr {
            Repr::Listpack(_) => "listpack",
            Repr::Big(_) => "skiplist",
        }
    }

    /// Stages of [`ZSet::warm`].
    pub const WARM_STAGES: usize = 4;

    /// Stage `stage` (of [`ZSet::WARM_STAGES`]) of warming the caches for a lookup of
    /// `member`, and of its rank when `rank`; a small set (one allocation) needs none.
    #[inline]
    pub fn warm(&self, member: &[u8], stage: usize, rank: bool) {
        if let Repr::Big(big) = &self.repr {
            big.warm(member, stage, rank);
        }
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match &self.repr {
            Repr::Listpack(lp) => lp.position(member).map(|i| lp.entries()[i].score),
            Repr::Big(big) => big.score(member),
        }
    }

    /// Insert or update; returns the previous score (None = inserted). Converts encoding per
    /// limits. An update to an equal score (IEEE `==`, so `0.0` over `-0.0` too) keeps the
    /// stored score, as Redis does.
    pub fn insert(&mut self, member: &[u8], score: f64, limits: &ZSetLimits) -> Option<f64> {
        debug_assert!(!score.is_nan(), "callers reject NaN scores");
        if let Repr::Listpack(lp) = &mut self.repr {
            if let Some(i) = lp.position(member) {
                return Some(lp.update(i, score));
            }
            // Redis's zsetAdd test: convert when the set would exceed the entry limit or the
            // new member is too long; updates never convert.
            if lp.len() < limits.max_listpack_entries && member.len() <= limits.max_listpack_value {
                lp.insert_new(member, score);
                return None;
            }
            self.convert_to_big();
        }
        match &mut self.repr {
            Repr::Big(big) => big.insert(member, score),
            Repr::Listpack(_) => unreachable!("converted above"),
        }
    }

    fn convert_to_big(&mut self) {
        if let Repr::Listpack(lp) = &mut self.repr {
            let entries = std::mem::take(lp).into_entries();
            self.repr = Repr::Big(Box::new(Big::from_sorted(entries)));
        }
    }

    /// Converts a big set back to a listpack when it fits the limits, as Redis does for keys it
    /// builds from scratch (`ZUNIONSTORE`, `ZRANGESTORE`, RDB loading). O(n).
    pub fn convert_to_listpack_if_fits(&mut self, limits: &ZSetLimits) {
        let Repr::Big(big) = &self.repr else { return };
        let fits = big.len() <= limits.max_listpack_entries
            && big
                .iter_from(0, false)
                .all(|(m, _)| m.len() <= limits.max_listpack_value);
        if fits {
            let Repr::Big(big) =
                std::mem::replace(&mut self.repr, Repr::Listpack(Listpack::default()))
            else {
                unreachable!()
            };
            self.repr = Repr::Listpack(Listpack::from_sorted(big.into_sorted()));
        }
    }

    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        match &mut self.repr {
            Repr::Listpack(lp) => lp.position(member).map(|i| lp.remove_at(i).score),
            Repr::Big(big) => big.remove(member),
        }
    }

    /// Ascending 0-based rank; reverse rank is `len - 1 - rank`.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        match &self.repr {
            Repr::Listpack(lp) => lp.position(member),
            Repr::Big(big) => big.rank(member),
        }
    }

    pub fn get_by_rank(&self, rank: usize) -> Option<(&[u8], f64)> {
        match &self.repr {
            Repr::Listpack(lp) => lp
                .entries()
                .get(rank)
                .map(|e| (e.member.as_slice(), e.score)),
            Repr::Big(big) => big.get(rank),
        }
    }

    /// Iterates from ascending rank `start` forward (or backward to rank 0 when `rev`),
    /// lazily: O(log n) to start, O(1) amortised per step. Empty when `start >= len`.
    pub fn iter_from_rank(&self, start: usize, rev: bool) -> Iter<'_> {
        let inner = match &self.repr {
            Repr::Listpack(lp) => {
                let entries = lp.entries();
                match (start < entries.len(), rev) {
                    (false, _) => IterRepr::Forward([].iter()),
                    (true, false) => IterRepr::Forward(entries[start..].iter()),
                    (true, true) => IterRepr::Backward(entries[..=start].iter().rev()),
                }
            }
            Repr::Big(big) => IterRepr::Big(big.iter_from(start, rev)),
        };
        Iter { inner }
    }

    /// All elements in ascending order.
    pub fn iter(&self) -> Iter<'_> {
        self.iter_from_rank(0, false)
    }

    /// Number of elements the predicate holds for (a monotone prefix of the order).
    fn partition_point<P: Pred>(&self, pred: &P) -> usize {
        match &self.repr {
            Repr::Listpack(lp) => lp
                .entries()
                .partition_point(|e| pred.holds(e.score, || e.member.as_slice())),
            Repr::Big(big) => big.partition_point(pred),
        }
    }

    /// Number of elements with a score below `score`: one descent (a split line counts its
    /// sub-queues' waiters ahead of an arrival this way).
    pub fn count_below_score(&self, score: f64) -> usize {
        self.partition_point(&BelowMin(ScoreBound::Inclusive(score)))
    }

    /// Number of elements that come before `(score, member)` in the set's order (score, then
    /// member bytes), whether or not that element is in the set: one descent.
    pub fn count_before(&self, score: f64, member: &[u8]) -> usize {
        self.partition_point(&Before(score, member))
    }

    /// Number of elements with score in `[min, max]` (bounds as given). O(log n).
    pub fn count_in_score_range(&self, min: &ScoreBound, max: &ScoreBound) -> usize {
        self.partition_point(&NotAboveMax(*max))
            .saturating_sub(self.partition_point(&BelowMin(*min)))
    }

    /// Lowest rank inside the score range, or `None` when nothing is inside.
    pub fn first_rank_in_score_range(&self, min: &ScoreBound, max: &ScoreBound) -> Option<usize> {
        let first = self.partition_point(&BelowMin(*min));
        (first < self.partition_point(&NotAboveMax(*max))).then_some(first)
    }

    /// Highest rank inside the score range, or `None` when nothing is inside.
    pub fn last_rank_in_score_range(&self, min: &ScoreBound, max: &ScoreBound) -> Option<usize> {
        let end = self.partition_point(&NotAboveMax(*max));
        (self.partition_point(&BelowMin(*min)) < end).then(|| end - 1)
    }

    /// Redis's quick rejection before a lex search: the range must be non-empty, the last
    /// element must be `>= min` and the first `<= max`.
    fn lex_may_intersect(&self, min: &LexBound, max: &LexBound) -> bool {
        if !lex_range_nonempty(min, max) || self.is_empty() {
            return false;
        }
        let (first, _) = self.get_by_rank(0).expect("non-empty");
        let (last, _) = self.get_by_rank(self.len() - 1).expect("non-empty");
        lex_gte_min(last, min) && lex_lte_max(first, max)
    }

    /// Lowest rank inside the lex range. With all scores equal (the documented use) this is
    /// exact; otherwise it matches what Redis returns for the same encoding: the listpack walks
    /// from the head, the big encoding searches by member as if the set were sorted by it.
    pub fn first_rank_in_lex_range(&self, min: &LexBound, max: &LexBound) -> Option<usize> {
        if !self.lex_may_intersect(min, max) {
            return None;
        }
        let first = match &self.repr {
            Repr::Listpack(lp) => lp
                .entries()
                .iter()
                .position(|e| lex_gte_min(&e.member, min))?,
            Repr::Big(big) => big.partition_point(&LexBelowMin(min)),
        };
        let (member, _) = self.get_by_rank(first)?;
        lex_lte_max(member, max).then_some(first)
    }

    /// Highest rank inside the lex range (see [`ZSet::first_rank_in_lex_range`]).
    pub fn last_rank_in_lex_range(&self, min: &LexBound, max: &LexBound) -> Option<usize> {
        if !self.lex_may_intersect(min, max) {
            return None;
        }
        let last = match &self.repr {
            Repr::Listpack(lp) => lp
                .entries()
                .iter()
                .rposition(|e| lex_lte_max(&e.member, max))?,
            Repr::Big(big) => big.partition_point(&LexNotAboveMax(max)).checked_sub(1)?,
        };
        let (member, _) = self.get_by_rank(last)?;
        lex_gte_min(member, min).then_some(last)
    }

    /// Number of elements in the lex range, as `ZLEXCOUNT` computes it for each encoding.
    pub fn count_in_lex_range(&self, min: &LexBound, max: &LexBound) -> usize {
        let Some(first) = self.first_rank_in_lex_range(min, max) else {
            return 0;
        };
        match &self.repr {
            // Redis walks forward from the first match while members stay <= max.
            Repr::Listpack(lp) => lp.entries()[first..]
                .iter()
                .take_while(|e| lex_lte_max(&e.member, max))
                .count(),
            // Redis subtracts the ranks of the first and last matches.
            Repr::Big(_) => match self.last_rank_in_lex_range(min, max) {
                Some(last) => (last + 1).saturating_sub(first),
                None => self.len() - first,
            },
        }
    }

    pub fn pop_min(&mut self) -> Option<(SmallBytes, f64)> {
        self.remove_at_rank(0)
    }

    pub fn pop_max(&mut self) -> Option<(SmallBytes, f64)> {
        let last = self.len().checked_sub(1)?;
        self.remove_at_rank(last)
    }

    /// Removes the member at 0-based `rank` (a random queue's draw); `None` past the end.
    pub fn remove_at_rank(&mut self, rank: usize) -> Option<(SmallBytes, f64)> {
        let e = match &mut self.repr {
            Repr::Listpack(lp) => (rank < lp.len()).then(|| lp.remove_at(rank))?,
            Repr::Big(big) => big.remove_at(rank)?,
        };
        Some((e.member, e.score))
    }

    /// Removes ascending ranks `start..=stop` (clamped to the set); returns how many went.
    /// O(k log n) on the big encoding, O(n) on a listpack.
    pub fn remove_rank_range(&mut self, start: usize, stop: usize) -> usize {
        let len = self.len();
        if start >= len || start > stop {
            return 0;
        }
        let stop = stop.min(len - 1);
        let n = stop - start + 1;
        match &mut self.repr {
            Repr::Listpack(lp) => lp.remove_range(start, stop),
            // Dropping everything: rebuilding empty beats n single removals.
            Repr::Big(big) if n == len => **big = Big::new(),
            Repr::Big(big) => {
                for _ in 0..n {
                    big.remove_at(start).expect("rank checked against len");
                }
            }
        }
        n
    }

    /// One `ZSCAN` step: calls `f` for some elements and returns the next cursor (0 = done).
    ///
    /// Guarantee (Redis's): a full iteration from cursor 0 until 0 comes back returns every
    /// element present throughout, at least once, however the set grows or shrinks between
    /// calls. A listpack returns everything in one call, as Redis does. A big set's cursor is
    /// a position in its members' hash space, see the `index` module for why that is safe.
    /// `count` is a hint: whole index segments (up to ~224 elements) are returned.
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&[u8], f64)) -> u64 {
        match &self.repr {
            Repr::Listpack(lp) => {
                for e in lp.entries() {
                    f(&e.member, e.score);
                }
                0
            }
            Repr::Big(big) => big.scan(cursor, count, f),
        }
    }

    /// A uniformly random element.
    pub fn random_member<R: rand::Rng + ?Sized>(&self, rng: &mut R) -> Option<(&[u8], f64)> {
        use rand::RngExt;
        match &self.repr {
            Repr::Listpack(lp) if lp.len() == 0 => None,
            Repr::Listpack(lp) => {
                let e = &lp.entries()[rng.random_range(0..lp.len())];
                Some((&e.member, e.score))
            }
            Repr::Big(big) => big.random(rng),
        }
    }

    /// Heap bytes owned by the value (not counting the `ZSet` struct itself, which lives in
    /// the keyspace's slot), for `MEMORY USAGE` and `INFO memory`. O(1) for big sets.
    pub fn allocated_bytes(&self) -> usize {
        match &self.repr {
            Repr::Listpack(lp) => lp.allocated_bytes(),
            Repr::Big(big) => big.allocated_bytes(),
        }
    }

    /// Where a big set's bytes go (`None` for a listpack): for `MEMORY DOCTOR`-style reports
    /// and the structure benchmark.
    pub fn memory_breakdown(&self) -> Option<MemoryBreakdown> {
        match &self.repr {
            Repr::Listpack(_) => None,
            Repr::Big(big) => Some(big.memory_breakdown()),
        }
    }

    /// Panics if any structural invariant is broken. O(n log n); for tests and debugging.
    pub fn check_invariants(&self) {
        match &self.repr {
            Repr::Listpack(lp) => lp.check_invariants(),
            Repr::Big(big) => big.check_invariants(),
        }
    }
}

/// Iterator over `(member, score)` in rank order; see [`ZSet::iter_from_rank`].
pub struct Iter<'a> {
    inner: IterRepr<'a>,
}

enum IterRepr<'a> {
    Forward(std::slice::Iter<'a, Entry>),
    Backward(std::iter::Rev<std::slice::Iter<'a, Entry>>),
    Big(BigIter<'a>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], f64);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.inner {
            IterRepr::Forward(it) => it.next().map(|e| (e.member.as_slice(), e.score)),
            IterRepr::Backward(it) => it.next().map(|e| (e.member.as_slice(), e.score)),
            IterRepr::Big(it) => it.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.inner {
            IterRepr::Forward(it) => it.size_hint(),
            IterRepr::Backward(it) => it.size_hint(),
            IterRepr::Big(it) => it.size_hint(),
        }
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl std::fmt::Debug for ZSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZSet")
            .field("encoding", &self.encoding_name())
            .field("len", &self.len())
            .finish()
    }
}
