//! The list type: a double-ended sequence of byte strings, what `LPUSH`, `LRANGE` and friends
//! work on.
//!
//! Representation: one `VecDeque<SmallBytes>`. Elements of up to 23 bytes (most list payloads:
//! ids, small JSON keys, numbers) live inline in the ring buffer's 24-byte slots; longer ones
//! own a boxed slice. That gives O(1) push and pop at both ends, O(1) `LINDEX`/`LSET` at any
//! index and contiguous `LRANGE` reads, at 24 bytes a slot. Measured at one million 16-byte
//! elements: about 25 bytes per element (the ring's capacity is a power of two) against about
//! 18 for Redis 7.0's quicklist of listpacks; Redis pays for its density with O(n) index walks
//! and node decoding, and the difference is too small to justify a chunked structure here.
//!
//! Invariants:
//! - `heap_bytes` is the sum of [`SmallBytes::heap_size`] over the elements; every mutation goes
//!   through this module's methods, which keep it in step, so `allocated_bytes` is O(1).
//! - The ring never keeps more than four times the capacity it needs once it is larger than
//!   [`SHRINK_MIN_CAPACITY`]: a queue that once held a million entries and now holds ten does
//!   not pin 24 MB (see [`List::maybe_shrink`]).
//!
//! Index arithmetic (negative indexes count from the tail, ranges clamp) is Redis's, from
//! `t_list.c`, and lives in the free functions [`normalize_index`] and [`normalize_range`] so
//! the command layer and the tests share one definition. An empty list is never stored under a
//! key: the command layer deletes the key when the last element goes.

use crate::bytes::SmallBytes;
use std::collections::VecDeque;

/// Which end of a list (Redis's `LIST_HEAD` / `LIST_TAIL`; `LEFT` / `RIGHT` on the wire).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// The head: index 0, `LEFT`, what `LPUSH` and `LPOP` touch.
    Head,
    /// The tail: index -1, `RIGHT`, what `RPUSH` and `RPOP` touch.
    Tail,
}

/// Below this capacity the ring is never shrunk (shrinking small rings only churns the
/// allocator).
pub const SHRINK_MIN_CAPACITY: usize = 64;

/// A list value.
#[derive(Clone, Default, Debug)]
pub struct List {
    items: VecDeque<SmallBytes>,
    /// Heap bytes owned by elements longer than the inline limit.
    heap_bytes: usize,
}

/// Redis's index rule for `LINDEX`/`LSET`: a negative index counts from the tail. `None` when
/// the index falls outside `0..len`.
pub fn normalize_index(index: i64, len: usize) -> Option<usize> {
    let len = len as i64;
    let i = if index < 0 { len + index } else { index };
    (0..len).contains(&i).then_some(i as usize)
}

/// Redis's range rule (`addListRangeReply`, `ltrimCommand`): negative bounds count from the
/// tail, `start` clamps at 0 and `end` at the last element; both bounds are inclusive. Returns
/// the half-open range `start..end`, or `None` when it is empty.
pub fn normalize_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    // `len + x` cannot overflow: len >= 0 and x < 0.
    let mut start = if start < 0 { len + start } else { start };
    let end = if end < 0 { len + end } else { end };
    start = start.max(0);
    if start > end || start >= len {
        return None;
    }
    let end = end.min(len - 1);
    Some((start as usize, end as usize + 1))
}

/// What `LPOS` was asked, after its arguments were parsed.
#[derive(Clone, Copy, Debug)]
pub struct PosQuery {
    /// `RANK`: 1 the first match, 2 the second, negative from the tail. Never 0.
    pub rank: i64,
    /// `COUNT`: `None` when absent (reply is one index or nil), `Some(0)` for every match.
    pub count: Option<i64>,
    /// `MAXLEN`: compare at most this many elements, 0 for all.
    pub maxlen: i64,
}

impl List {
    pub fn new() -> Self {
        List::default()
    }

    /// A list holding `elements`, head first.
    pub fn from_elements<'a>(elements: impl IntoIterator<Item = &'a [u8]>) -> Self {
        let mut list = List::new();
        for e in elements {
            list.push(End::Tail, e);
        }
        list
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// `OBJECT ENCODING`: Redis 7.0 stores every list as a quicklist (7.2 added listpack lists).
    pub fn encoding_name(&self) -> &'static str {
        "quicklist"
    }

    /// Heap bytes owned by the list: the ring's slots plus the boxed long elements.
    pub fn allocated_bytes(&self) -> usize {
        self.items.capacity() * std::mem::size_of::<SmallBytes>() + self.heap_bytes
    }

    /// Adds one element at `end`.
    #[inline]
    pub fn push(&mut self, end: End, element: &[u8]) {
        self.push_owned(end, SmallBytes::new(element));
    }

    /// Adds one element at `end`, taking ownership (no copy; what `LMOVE` does).
    #[inline]
    pub fn push_owned(&mut self, end: End, element: SmallBytes) {
        self.heap_bytes += element.heap_size();
        match end {
            End::Head => self.items.push_front(element),
            End::Tail => self.items.push_back(element),
        }
    }

    /// Removes and returns the element at `end`.
    #[inline]
    pub fn pop(&mut self, end: End) -> Option<SmallBytes> {
        let element = match end {
            End::Head => self.items.pop_front(),
            End::Tail => self.items.pop_back(),
        }?;
        self.heap_bytes -= element.heap_size();
        self.maybe_shrink();
        Some(element)
    }

    /// Removes up to `count` elements from `end`, returned in the order they were popped
    /// (so `Tail` gives the last element first, as `RPOP key count` replies).
    pub fn pop_many(&mut self, end: End, count: usize) -> Vec<SmallBytes> {
        let n = count.min(self.items.len());
        let popped: Vec<SmallBytes> = match end {
            End::Head => self.items.drain(..n).collect(),
            End::Tail => {
                let from = self.items.len() - n;
                self.items.drain(from..).rev().collect()
            }
        };
        self.heap_bytes -= popped.iter().map(SmallBytes::heap_size).sum::<usize>();
        self.maybe_shrink();
        debug_assert_eq!(popped.len(), n);
        popped
    }

    /// The element at a Redis index (negative from the tail).
    pub fn get(&self, index: i64) -> Option<&SmallBytes> {
        normalize_index(index, self.items.len()).map(|i| &self.items[i])
    }

    /// Replaces the element at a Redis index; false when the index is out of range.
    pub fn set(&mut self, index: i64, element: &[u8]) -> bool {
        let Some(i) = normalize_index(index, self.items.len()) else {
            return false;
        };
        let new = SmallBytes::new(element);
        self.heap_bytes += new.heap_size();
        let old = std::mem::replace(&mut self.items[i], new);
        self.heap_bytes -= old.heap_size();
        true
    }

    /// The elements from `start` to `end` inclusive, Redis's `LRANGE` rules.
    pub fn range(&self, start: i64, end: i64) -> impl ExactSizeIterator<Item = &SmallBytes> {
        let (from, to) = normalize_range(start, end, self.items.len()).unwrap_or((0, 0));
        self.items.range(from..to)
    }

    /// All elements, head first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &SmallBytes> + ExactSizeIterator {
        self.items.iter()
    }

    /// Keeps only the elements from `start` to `end` inclusive (Redis's `LTRIM` rules; an empty
    /// range empties the list). Returns how many elements were removed.
    pub fn trim(&mut self, start: i64, end: i64) -> usize {
        let len = self.items.len();
        let (from, to) = normalize_range(start, end, len).unwrap_or((len, len));
        let removed_bytes: usize = self
            .items
            .range(..from)
            .chain(self.items.range(to..))
            .map(SmallBytes::heap_size)
            .sum();
        self.items.truncate(to);
        self.items.drain(..from);
        self.heap_bytes -= removed_bytes;
        self.maybe_shrink();
        debug_assert_eq!(self.items.len(), to - from);
        len - (to - from)
    }

    /// Removes elements equal to `element`: the first `count` from the head when `count > 0`,
    /// the last `-count` from the tail when `count < 0`, all when `count == 0` (`LREM`).
    /// Returns how many were removed.
    pub fn remove(&mut self, element: &[u8], count: i64) -> usize {
        // Redis negates a negative count in a C long: i64::MIN stays negative and then never
        // equals the number removed, so it removes every match. `unsigned_abs` gives 2^63,
        // which no list reaches: the same outcome.
        let limit = match count.unsigned_abs() {
            0 => usize::MAX,
            n => usize::try_from(n).unwrap_or(usize::MAX),
        };
        let from_tail = count < 0;
        // The matches to delete, in the order Redis visits them.
        let mut doomed: Vec<usize> = Vec::new();
        let mut visit = |i: usize, e: &SmallBytes| {
            if doomed.len() < limit && e.as_slice() == element {
                doomed.push(i);
            }
            doomed.len() < limit
        };
        if from_tail {
            for (i, e) in self.items.iter().enumerate().rev() {
                if !visit(i, e) {
                    break;
                }
            }
        } else {
            for (i, e) in self.items.iter().enumerate() {
                if !visit(i, e) {
                    break;
                }
            }
        }
        let removed = doomed.len();
        match removed {
            0 => {}
            // One match (the common `LREM key 1 x`): shift the shorter side only.
            1 => {
                let gone = self.items.remove(doomed[0]).expect("index from the scan");
                self.heap_bytes -= gone.heap_size();
            }
            _ => {
                if from_tail {
                    doomed.reverse();
                }
                let mut next = doomed.iter().copied().peekable();
                let mut i = 0;
                let mut freed = 0;
                self.items.retain(|e| {
                    let drop_it = next.peek() == Some(&i);
                    if drop_it {
                        next.next();
                        freed += e.heap_size();
                    }
                    i += 1;
                    !drop_it
                });
                self.heap_bytes -= freed;
            }
        }
        self.maybe_shrink();
        removed
    }

    /// Inserts `element` before (`after == false`) or after the first element equal to `pivot`,
    /// scanning from the head (`LINSERT`). False when the pivot is absent.
    pub fn insert(&mut self, pivot: &[u8], element: &[u8], after: bool) -> bool {
        let Some(i) = self.items.iter().position(|e| e.as_slice() == pivot) else {
            return false;
        };
        let new = SmallBytes::new(element);
        self.heap_bytes += new.heap_size();
        self.items.insert(if after { i + 1 } else { i }, new);
        true
    }

    /// The indexes of the elements equal to `element`, as `LPOS` finds them, in the order it
    /// reports them. Without `COUNT` at most one index is returned.
    ///
    /// The arithmetic wraps like Redis's C longs: `RANK -9223372036854775808` negates to
    /// itself, so it searches from the tail, every match qualifies and `COUNT` never stops the
    /// scan (observed on redis-server 7.0.15: `LPOS k a RANK <LONG_MIN> COUNT 1` returns every
    /// match).
    pub fn positions(&self, element: &[u8], q: PosQuery) -> Vec<usize> {
        debug_assert_ne!(q.rank, 0, "the command layer rejects RANK 0");
        let from_tail = q.rank < 0;
        let rank = if from_tail {
            q.rank.wrapping_neg()
        } else {
            q.rank
        };
        let len = self.items.len();
        let scan_len = if q.maxlen == 0 {
            len
        } else {
            len.min(usize::try_from(q.maxlen).unwrap_or(usize::MAX))
        };
        let mut found = Vec::new();
        let mut matches: i64 = 0;
        for step in 0..scan_len {
            let i = if from_tail { len - 1 - step } else { step };
            if self.items[i].as_slice() != element {
                continue;
            }
            matches += 1;
            if matches < rank {
                continue;
            }
            found.push(i);
            match q.count {
                None => break,
                Some(count) => {
                    if count != 0 && matches.wrapping_sub(rank).wrapping_add(1) >= count {
                        break;
                    }
                }
            }
        }
        found
    }

    /// Gives memory back when the ring is under a quarter full: shrinks to twice the length,
    /// so a later regrowth is amortized against the elements popped since.
    fn maybe_shrink(&mut self) {
        let cap = self.items.capacity();
        if cap > SHRINK_MIN_CAPACITY && self.items.len() < cap / 4 {
            self.items
                .shrink_to((self.items.len() * 2).max(SHRINK_MIN_CAPACITY));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> List {
        List::from_elements(items.iter().map(|s| s.as_bytes()))
    }

    fn strs<'a>(it: impl Iterator<Item = &'a SmallBytes>) -> Vec<String> {
        it.map(|e| String::from_utf8_lossy(e).into_owned())
            .collect()
    }

    fn contents(l: &List) -> Vec<String> {
        strs(l.iter())
    }

    fn heap_bytes_recomputed(l: &List) -> usize {
        l.iter().map(SmallBytes::heap_size).sum()
    }

    const LONG: &str = "this element is longer than twenty-three bytes";

    #[test]
    fn pushes_and_pops_work_at_both_ends() {
        let mut l = List::new();
        l.push(End::Tail, b"b");
        l.push(End::Head, b"a");
        l.push(End::Tail, b"c");
        assert_eq!(contents(&l), ["a", "b", "c"]);
        assert_eq!(&*l.pop(End::Tail).unwrap(), b"c");
        assert_eq!(&*l.pop(End::Head).unwrap(), b"a");
        assert_eq!(&*l.pop(End::Head).unwrap(), b"b");
        assert!(l.pop(End::Head).is_none());
        assert!(l.is_empty());
    }

    #[test]
    fn pop_many_returns_elements_in_pop_order() {
        let mut l = list(&["a", "b", "c", "d"]);
        assert_eq!(strs(l.pop_many(End::Tail, 3).iter()), ["d", "c", "b"]);
        assert_eq!(strs(l.pop_many(End::Head, 10).iter()), ["a"]);
        assert!(l.pop_many(End::Head, 10).is_empty());
    }

    #[test]
    fn indexes_count_from_the_tail_when_negative() {
        assert_eq!(normalize_index(0, 3), Some(0));
        assert_eq!(normalize_index(-1, 3), Some(2));
        assert_eq!(normalize_index(-3, 3), Some(0));
        assert_eq!(normalize_index(-4, 3), None);
        assert_eq!(normalize_index(3, 3), None);
        assert_eq!(normalize_index(i64::MIN, 3), None);
        assert_eq!(normalize_index(i64::MAX, 3), None);
        assert_eq!(normalize_index(0, 0), None);
    }

    #[test]
    fn ranges_clamp_like_lrange() {
        assert_eq!(normalize_range(0, -1, 5), Some((0, 5)));
        assert_eq!(normalize_range(-100, 100, 5), Some((0, 5)));
        assert_eq!(normalize_range(2, 1, 5), None);
        assert_eq!(normalize_range(5, 10, 5), None);
        assert_eq!(normalize_range(-2, -1, 5), Some((3, 5)));
        assert_eq!(normalize_range(0, -6, 5), None);
        assert_eq!(normalize_range(i64::MIN, i64::MAX, 5), Some((0, 5)));
        assert_eq!(normalize_range(i64::MAX, i64::MIN, 5), None);
        assert_eq!(normalize_range(0, 0, 0), None);
    }

    #[test]
    fn set_and_get_follow_redis_indexes() {
        let mut l = list(&["a", "b", "c"]);
        assert!(l.set(-1, LONG.as_bytes()));
        assert!(!l.set(3, b"x"));
        assert_eq!(l.get(2).unwrap().as_slice(), LONG.as_bytes());
        assert_eq!(l.heap_bytes, heap_bytes_recomputed(&l));
        assert!(l.set(2, b"short"));
        assert_eq!(l.heap_bytes, 0);
    }

    #[test]
    fn trim_keeps_the_range_and_empties_on_an_empty_range() {
        let mut l = list(&["a", "b", "c", "d", "e"]);
        assert_eq!(l.trim(1, -2), 2);
        assert_eq!(contents(&l), ["b", "c", "d"]);
        assert_eq!(l.trim(5, 10), 3);
        assert!(l.is_empty());
    }

    #[test]
    fn remove_honours_count_and_direction() {
        let base = ["x", "a", "x", "b", "x", "c", "x"];
        let mut l = list(&base);
        assert_eq!(l.remove(b"x", 2), 2);
        assert_eq!(contents(&l), ["a", "b", "x", "c", "x"]);
        let mut l = list(&base);
        assert_eq!(l.remove(b"x", -3), 3);
        assert_eq!(contents(&l), ["x", "a", "b", "c"]);
        let mut l = list(&base);
        assert_eq!(l.remove(b"x", 0), 4);
        assert_eq!(contents(&l), ["a", "b", "c"]);
        let mut l = list(&base);
        assert_eq!(l.remove(b"x", i64::MIN), 4);
        let mut l = list(&base);
        assert_eq!(l.remove(b"x", -1), 1);
        assert_eq!(contents(&l), ["x", "a", "x", "b", "x", "c"]);
        assert_eq!(l.remove(b"nope", 0), 0);
    }

    #[test]
    fn insert_uses_the_first_pivot_from_the_head() {
        let mut l = list(&["a", "p", "b", "p"]);
        assert!(l.insert(b"p", b"x", false));
        assert!(l.insert(b"p", b"y", true));
        assert_eq!(contents(&l), ["a", "x", "p", "y", "b", "p"]);
        assert!(!l.insert(b"missing", b"z", true));
        assert_eq!(l.len(), 6);
    }

    #[test]
    fn positions_follow_lpos_rank_count_and_maxlen() {
        let l = list(&["a", "b", "a", "c", "a"]);
        let q = |rank, count, maxlen| PosQuery {
            rank,
            count,
            maxlen,
        };
        assert_eq!(l.positions(b"a", q(1, None, 0)), [0]);
        assert_eq!(l.positions(b"a", q(2, None, 0)), [2]);
        assert_eq!(l.positions(b"a", q(-1, None, 0)), [4]);
        assert_eq!(l.positions(b"a", q(1, Some(0), 0)), [0, 2, 4]);
        assert_eq!(l.positions(b"a", q(-2, Some(0), 0)), [2, 0]);
        assert_eq!(l.positions(b"a", q(2, Some(1), 0)), [2]);
        assert_eq!(l.positions(b"a", q(1, Some(0), 3)), [0, 2]);
        assert!(l.positions(b"a", q(4, None, 0)).is_empty());
        assert!(l.positions(b"z", q(1, Some(0), 0)).is_empty());
        // Redis's C arithmetic: LONG_MIN stays negative, so every match from the tail counts.
        assert_eq!(l.positions(b"a", q(i64::MIN, Some(1), 0)), [4, 2, 0]);
        assert_eq!(l.positions(b"a", q(i64::MAX, Some(0), 0)), [] as [usize; 0]);
    }

    #[test]
    fn heap_bytes_stay_in_step_through_every_mutation() {
        let mut l = List::new();
        for i in 0..200 {
            let long = format!("{LONG}-{i}");
            l.push(
                if i % 2 == 0 { End::Head } else { End::Tail },
                long.as_bytes(),
            );
            l.push(End::Tail, b"short");
        }
        assert_eq!(l.heap_bytes, heap_bytes_recomputed(&l));
        l.pop_many(End::Head, 17);
        l.pop(End::Tail);
        assert_eq!(l.heap_bytes, heap_bytes_recomputed(&l));
        l.remove(b"short", 5);
        l.remove(b"short", -5);
        l.insert(b"short", LONG.as_bytes(), true);
        assert_eq!(l.heap_bytes, heap_bytes_recomputed(&l));
        l.trim(10, -10);
        assert_eq!(l.heap_bytes, heap_bytes_recomputed(&l));
        let copy = l.clone();
        assert_eq!(copy.heap_bytes, heap_bytes_recomputed(&copy));
        l.trim(1, 0);
        assert_eq!(l.heap_bytes, 0);
    }

    #[test]
    fn a_drained_list_gives_its_ring_back() {
        let mut l = List::new();
        for i in 0..100_000u32 {
            l.push(End::Tail, &i.to_le_bytes());
        }
        let full = l.allocated_bytes();
        for _ in 0..99_990 {
            l.pop(End::Head);
        }
        assert_eq!(l.len(), 10);
        assert!(l.allocated_bytes() * 100 < full, "ring not shrunk");
        assert_eq!(
            l.iter().next().map(|e| e.to_vec()),
            Some(99_990u32.to_le_bytes().to_vec())
        );
    }

    mod model {
        //! The list against a plain `Vec` that follows `t_list.c` step by step (its loops, not
        //! this module's helpers), over random operation sequences.
        use super::super::*;
        use proptest::prelude::*;

        #[derive(Debug, Clone)]
        enum Op {
            Push(bool, u8),
            Pop(bool),
            PopMany(bool, usize),
            Set(i64, u8),
            Trim(i64, i64),
            Remove(i64, u8),
            Insert(u8, u8, bool),
        }

        /// Small alphabet so elements repeat; 7 is stored boxed.
        fn elem(e: u8) -> Vec<u8> {
            if e == 7 {
                b"an element that does not fit inline".to_vec()
            } else {
                vec![b'a' + e]
            }
        }

        fn op() -> impl Strategy<Value = Op> {
            let idx = -12i64..12;
            prop_oneof![
                30 => (any::<bool>(), 0u8..8).prop_map(|(h, e)| Op::Push(h, e)),
                10 => any::<bool>().prop_map(Op::Pop),
                5 => (any::<bool>(), 0usize..6).prop_map(|(h, n)| Op::PopMany(h, n)),
                5 => (idx.clone(), 0u8..8).prop_map(|(i, e)| Op::Set(i, e)),
                3 => (idx.clone(), idx.clone()).prop_map(|(a, b)| Op::Trim(a, b)),
                6 => (-3i64..4, 0u8..8).prop_map(|(c, e)| Op::Remove(c, e)),
                6 => (0u8..8, 0u8..8, any::<bool>()).prop_map(|(p, e, a)| Op::Insert(p, e, a)),
            ]
        }

        fn end(head: bool) -> End {
            if head {
                End::Head
            } else {
                End::Tail
            }
        }

        fn apply(l: &mut List, m: &mut Vec<Vec<u8>>, op: &Op) {
            match *op {
                Op::Push(h, e) => {
                    l.push(end(h), &elem(e));
                    if h {
                        m.insert(0, elem(e));
                    } else {
                        m.push(elem(e));
                    }
                }
                Op::Pop(h) => {
                    let want = if h {
                        (!m.is_empty()).then(|| m.remove(0))
                    } else {
                        m.pop()
                    };
                    assert_eq!(l.pop(end(h)).map(|e| e.to_vec()), want);
                }
                Op::PopMany(h, n) => {
                    let mut want = Vec::new();
                    for _ in 0..n.min(m.len()) {
                        want.push(if h { m.remove(0) } else { m.pop().unwrap() });
                    }
                    let got: Vec<Vec<u8>> =
                        l.pop_many(end(h), n).iter().map(|e| e.to_vec()).collect();
                    assert_eq!(got, want);
                }
                Op::Set(i, e) => {
                    let len = m.len() as i64;
                    let j = if i < 0 { len + i } else { i };
                    let ok = j >= 0 && j < len;
                    if ok {
                        m[j as usize] = elem(e);
                    }
                    assert_eq!(l.set(i, &elem(e)), ok);
                }
                Op::Trim(start, stop) => {
                    // ltrimCommand's ltrim/rtrim arithmetic.
                    let llen = m.len() as i64;
                    let mut s = if start < 0 { llen + start } else { start };
                    let mut e = if stop < 0 { llen + stop } else { stop };
                    if s < 0 {
                        s = 0;
                    }
                    let (ltrim, rtrim) = if s > e || s >= llen {
                        (llen, 0)
                    } else {
                        if e >= llen {
                            e = llen - 1;
                        }
                        (s, llen - e - 1)
                    };
                    m.drain(..ltrim as usize);
                    let keep = m.len() - rtrim as usize;
                    m.truncate(keep);
                    assert_eq!(l.trim(start, stop), (ltrim + rtrim) as usize);
                }
                Op::Remove(count, e) => {
                    let target = elem(e);
                    let limit = count.unsigned_abs() as usize;
                    let mut removed = 0;
                    if count < 0 {
                        let mut i = m.len();
                        while i > 0 {
                            i -= 1;
                            if m[i] == target {
                                m.remove(i);
                                removed += 1;
                                if removed == limit {
                                    break;
                                }
                            }
                        }
                    } else {
                        let mut i = 0;
                        while i < m.len() {
                            if m[i] == target {
                                m.remove(i);
                                removed += 1;
                                if removed == limit {
                                    break;
                                }
                            } else {
                                i += 1;
                            }
                        }
                    }
                    assert_eq!(l.remove(&target, count), removed);
                }
                Op::Insert(p, e, after) => {
                    let pos = m.iter().position(|x| *x == elem(p));
                    if let Some(i) = pos {
                        m.insert(if after { i + 1 } else { i }, elem(e));
                    }
                    assert_eq!(l.insert(&elem(p), &elem(e), after), pos.is_some());
                }
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]

            #[test]
            fn list_behaves_like_redis_over_a_vec(ops in proptest::collection::vec(op(), 1..400)) {
                let (mut l, mut m) = (List::new(), Vec::new());
                for op in &ops {
                    apply(&mut l, &mut m, op);
                    prop_assert_eq!(l.len(), m.len());
                    prop_assert_eq!(l.heap_bytes, l.iter().map(SmallBytes::heap_size).sum::<usize>());
                }
                let got: Vec<Vec<u8>> = l.iter().map(|e| e.to_vec()).collect();
                prop_assert_eq!(&got, &m);
                for (a, b) in [(0, -1), (-3, 2), (1, 1), (5, -5)] {
                    let want: Vec<Vec<u8>> = normalize_range(a, b, m.len())
                        .map_or(Vec::new(), |(x, y)| m[x..y].to_vec());
                    let got: Vec<Vec<u8>> = l.range(a, b).map(|e| e.to_vec()).collect();
                    prop_assert_eq!(got, want);
                }
            }
        }
    }
}
