//! The set type, in Redis 7.0's two encodings.
//!
//! * `intset`: every member is a canonical integer (what Redis's `string2ll` accepts: no sign
//!   but `-`, no leading zero, no spaces, fits an i64), kept in a sorted `Vec<i64>` without
//!   duplicates. Iteration is ascending, so `SMEMBERS` of a small integer set prints exactly
//!   what Redis prints.
//! * `hashtable`: a [`Dict<()>`] keyed by the member bytes, with stable `SSCAN` cursors.
//!
//! **Invariant:** an `Intset` is sorted strictly ascending. A set starts as an intset when its
//! first member is an integer (Redis's `setTypeCreate`), and turns into a hashtable, for good,
//! when a non-integer member arrives or when it grows past `set-max-intset-entries`. Conversion
//! is one-way, as in Redis: removing members never brings the intset back. (Redis 7.0 has no
//! listpack sets; 7.2 added them.)
//!
//! The type knows nothing of commands or replies; members come out as [`Member`]s, integers
//! unformatted, so a reply can print them without building strings.

use crate::bytes::SmallBytes;
use crate::dict::Dict;
use rand::RngExt;
use usher_protocol::parse::parse_i64;

/// Redis clamps `set-max-intset-entries` to 2^30 ("due to intset internals").
const INTSET_ENTRIES_CAP: usize = 1 << 30;

/// One member, borrowed from a set: an intset integer, or hashtable bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Member<'a> {
    Int(i64),
    Bytes(&'a [u8]),
}

impl Member<'_> {
    /// The member's bytes (integers formatted in decimal).
    pub fn to_small_bytes(self) -> SmallBytes {
        match self {
            Member::Int(i) => SmallBytes::new(itoa::Buffer::new().format(i).as_bytes()),
            Member::Bytes(b) => SmallBytes::new(b),
        }
    }

    /// Calls `f` with the member's bytes, formatting integers on the stack.
    pub fn with_bytes<R>(self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            Member::Int(i) => f(itoa::Buffer::new().format(i).as_bytes()),
            Member::Bytes(b) => f(b),
        }
    }
}

#[derive(Clone, Debug)]
pub enum Set {
    /// Sorted ascending, no duplicates.
    Intset(Vec<i64>),
    Table(Dict<()>),
}

impl Default for Set {
    fn default() -> Self {
        Set::Intset(Vec::new())
    }
}

impl Set {
    /// An empty intset, the start of every computed set (SUNION, SINTERSTORE, ...), as Redis's
    /// `createIntsetObject`.
    pub fn new_intset() -> Set {
        Set::Intset(Vec::new())
    }

    /// An empty set able to hold `first` (Redis's `setTypeCreate`): an intset when `first` is
    /// an integer, else a hashtable.
    pub fn for_first(first: &[u8]) -> Set {
        if parse_i64(first).is_some() {
            Set::Intset(Vec::new())
        } else {
            Set::Table(Dict::new())
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Set::Intset(v) => v.len(),
            Set::Table(d) => d.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding_name(&self) -> &'static str {
        match self {
            Set::Intset(_) => "intset",
            Set::Table(_) => "hashtable",
        }
    }

    pub fn is_intset(&self) -> bool {
        matches!(self, Set::Intset(_))
    }

    /// Heap bytes owned by the set: the integer array, or the dict with its members.
    pub fn allocated_bytes(&self) -> usize {
        match self {
            Set::Intset(v) => v.capacity() * size_of::<i64>(),
            Set::Table(d) => d.allocated_bytes(),
        }
    }

    /// Adds `member`; true if it was not there. `max_intset_entries` is
    /// `set-max-intset-entries`: an intset growing past it becomes a hashtable (Redis's
    /// `setTypeAdd`).
    pub fn add(&mut self, member: &[u8], max_intset_entries: usize) -> bool {
        match self {
            Set::Table(d) => add_to_table(d, member),
            Set::Intset(v) => match parse_i64(member) {
                Some(i) => {
                    let Err(at) = v.binary_search(&i) else {
                        return false;
                    };
                    v.insert(at, i);
                    if v.len() > max_intset_entries.min(INTSET_ENTRIES_CAP) {
                        self.convert_to_table();
                    }
                    true
                }
                None => {
                    self.convert_to_table();
                    let Set::Table(d) = self else {
                        unreachable!("just converted")
                    };
                    d.insert_new(SmallBytes::new(member), ());
                    true
                }
            },
        }
    }

    /// Adds a member taken from another set (saves formatting intset integers).
    pub fn add_member(&mut self, member: Member<'_>, max_intset_entries: usize) -> bool {
        match (member, &mut *self) {
            (Member::Int(i), Set::Intset(v)) => {
                let Err(at) = v.binary_search(&i) else {
                    return false;
                };
                v.insert(at, i);
                if v.len() > max_intset_entries.min(INTSET_ENTRIES_CAP) {
                    self.convert_to_table();
                }
                true
            }
            (m, _) => m.with_bytes(|b| self.add(b, max_intset_entries)),
        }
    }

    /// Removes `member`; true if it was there. An emptied set stays (the caller deletes the
    /// key).
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self {
            Set::Table(d) => d.remove(member).is_some(),
            Set::Intset(v) => match parse_i64(member).map(|i| v.binary_search(&i)) {
                Some(Ok(at)) => {
                    v.remove(at);
                    shrink_if_sparse(v);
                    true
                }
                _ => false,
            },
        }
    }

    pub fn contains(&self, member: &[u8]) -> bool {
        match self {
            Set::Table(d) => d.contains_key(member),
            Set::Intset(v) => parse_i64(member).is_some_and(|i| v.binary_search(&i).is_ok()),
        }
    }

    /// Like [`Set::contains`] for a member of another set: intset against intset compares
    /// integers directly, as Redis's SINTER does.
    pub fn contains_member(&self, member: Member<'_>) -> bool {
        match (member, self) {
            (Member::Int(i), Set::Intset(v)) => v.binary_search(&i).is_ok(),
            (m, _) => m.with_bytes(|b| self.contains(b)),
        }
    }

    /// Members in iteration order: ascending for an intset, dict order for a hashtable.
    pub fn iter(&self) -> Iter<'_> {
        match self {
            Set::Intset(v) => Iter::Intset(v.iter()),
            Set::Table(d) => Iter::Table(d.iter()),
        }
    }

    /// A uniformly random member, or `None` if the set is empty.
    pub fn random_member<R: rand::Rng + ?Sized>(&self, rng: &mut R) -> Option<Member<'_>> {
        match self {
            Set::Intset(v) if v.is_empty() => None,
            Set::Intset(v) => Some(Member::Int(v[rng.random_range(0..v.len())])),
            Set::Table(d) => d.random_entry(rng).map(|(k, _)| Member::Bytes(k)),
        }
    }

    /// Removes and returns a uniformly random member (its bytes), or `None` if empty.
    pub fn pop_random<R: rand::Rng + ?Sized>(&mut self, rng: &mut R) -> Option<SmallBytes> {
        match self {
            Set::Intset(v) if v.is_empty() => None,
            Set::Intset(v) => {
                let i = v.remove(rng.random_range(0..v.len()));
                shrink_if_sparse(v);
                Some(Member::Int(i).to_small_bytes())
            }
            Set::Table(d) => d.remove_random(rng).map(|(k, _)| k),
        }
    }

    /// One `SSCAN` step: an intset returns everything at once (cursor 0, as Redis does for
    /// compact encodings); a hashtable scans its dict from `cursor`. Returns the next cursor.
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(Member<'_>)) -> u64 {
        match self {
            Set::Intset(v) => {
                v.iter().for_each(|&i| f(Member::Int(i)));
                0
            }
            Set::Table(d) => d.scan(cursor, count, |k, _| f(Member::Bytes(k))),
        }
    }

    /// Turns an intset into a hashtable (Redis's `setTypeConvert`); a no-op for a hashtable.
    pub fn convert_to_table(&mut self) {
        let Set::Intset(v) = self else { return };
        let mut d = Dict::new();
        let mut buf = itoa::Buffer::new();
        for &i in v.iter() {
            d.insert_new(SmallBytes::new(buf.format(i).as_bytes()), ());
        }
        *self = Set::Table(d);
    }

    /// Asserts the type's invariants; for tests.
    #[doc(hidden)]
    pub fn check_invariants(&self) {
        match self {
            Set::Intset(v) => assert!(v.windows(2).all(|w| w[0] < w[1]), "intset not sorted"),
            Set::Table(d) => d.check_invariants(),
        }
    }
}

/// Gives memory back once a compact encoding is three-quarters empty (Redis's intset and
/// listpack shrink on every delete; halving at a quarter keeps removals amortised O(1)).
pub(crate) fn shrink_if_sparse<T>(v: &mut Vec<T>) {
    if v.capacity() > 16 && v.len() < v.capacity() / 4 {
        v.shrink_to(v.len() * 2);
    }
}

fn add_to_table(d: &mut Dict<()>, member: &[u8]) -> bool {
    d.get_or_insert_with(member, || ()).1
}

/// Iterator over a set's members; see [`Set::iter`].
pub enum Iter<'a> {
    Intset(std::slice::Iter<'a, i64>),
    Table(crate::dict::Iter<'a, ()>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = Member<'a>;

    fn next(&mut self) -> Option<Member<'a>> {
        match self {
            Iter::Intset(it) => it.next().map(|&i| Member::Int(i)),
            Iter::Table(it) => it.next().map(|(k, _)| Member::Bytes(k)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::SeedableRng;

    fn members(s: &Set) -> Vec<Vec<u8>> {
        s.iter().map(|m| m.to_small_bytes().to_vec()).collect()
    }

    #[test]
    fn integer_sets_stay_intsets_sorted_ascending() {
        let mut s = Set::for_first(b"3");
        for m in ["3", "-7", "10", "3", "0"] {
            s.add(m.as_bytes(), 512);
        }
        assert_eq!(s.encoding_name(), "intset");
        assert_eq!(members(&s), [&b"-7"[..], b"0", b"3", b"10"]);
        s.check_invariants();
    }

    #[test]
    fn non_canonical_integers_turn_an_intset_into_a_hashtable() {
        for odd in ["007", "-0", "+1", " 1", "1.0", "9223372036854775808"] {
            let mut s = Set::for_first(b"1");
            assert!(s.add(b"1", 512));
            assert!(s.add(odd.as_bytes(), 512), "{odd} is a new member");
            assert_eq!(s.encoding_name(), "hashtable", "{odd}");
            assert!(s.contains(b"1") && s.contains(odd.as_bytes()));
            assert_eq!(s.len(), 2);
            s.check_invariants();
        }
    }

    #[test]
    fn growing_past_the_entry_limit_converts_once_and_for_good() {
        let mut s = Set::new_intset();
        for i in 0..4 {
            s.add(i.to_string().as_bytes(), 4);
        }
        assert_eq!(s.encoding_name(), "intset");
        assert!(
            !s.add(b"3", 4),
            "a duplicate adds nothing and converts nothing"
        );
        assert_eq!(s.encoding_name(), "intset");
        s.add(b"4", 4);
        assert_eq!(s.encoding_name(), "hashtable");
        for i in 0..5 {
            assert!(s.remove(i.to_string().as_bytes()));
        }
        assert!(s.is_empty());
        s.add(b"1", 4);
        assert_eq!(s.encoding_name(), "hashtable", "conversion is one-way");
        s.check_invariants();
    }

    #[test]
    fn first_member_chooses_the_encoding() {
        assert_eq!(Set::for_first(b"12").encoding_name(), "intset");
        assert_eq!(Set::for_first(b"x").encoding_name(), "hashtable");
        let mut s = Set::for_first(b"x");
        s.add(b"1", 512);
        assert_eq!(s.encoding_name(), "hashtable");
    }

    #[test]
    fn membership_agrees_across_encodings() {
        let mut a = Set::new_intset();
        let mut b = Set::for_first(b"x");
        for m in ["1", "2", "-3"] {
            a.add(m.as_bytes(), 512);
            b.add(m.as_bytes(), 512);
        }
        for m in a.iter() {
            assert!(b.contains_member(m));
        }
        for m in b.iter() {
            assert!(a.contains_member(m));
        }
        assert!(!a.contains(b"01"));
        assert!(!a.contains_member(Member::Bytes(b"x")));
        assert!(
            a.contains_member(Member::Bytes(b"-3")),
            "hashtable bytes against an intset"
        );
        assert!(!b.contains_member(Member::Int(4)));
    }

    #[test]
    fn random_pops_empty_the_set_exactly_once_per_member() {
        let mut rng = SmallRng::seed_from_u64(7);
        for first in ["1", "x"] {
            let mut s = Set::for_first(first.as_bytes());
            for i in 0..50 {
                s.add(i.to_string().as_bytes(), 512);
            }
            let mut seen = std::collections::BTreeSet::new();
            while let Some(m) = s.pop_random(&mut rng) {
                assert!(seen.insert(m.to_vec()), "popped twice");
                s.check_invariants();
            }
            assert_eq!(seen.len(), 50);
            assert!(s.random_member(&mut rng).is_none());
        }
    }

    #[test]
    fn intset_scan_returns_everything_with_cursor_zero() {
        let mut s = Set::new_intset();
        for i in 0..20 {
            s.add(i.to_string().as_bytes(), 512);
        }
        let mut n = 0;
        assert_eq!(s.scan(12345, 3, |_| n += 1), 0);
        assert_eq!(n, 20);
    }

    #[test]
    fn hashtable_scan_visits_every_member() {
        let mut s = Set::for_first(b"x");
        for i in 0..3000 {
            s.add(format!("m{i}").as_bytes(), 512);
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        loop {
            cursor = s.scan(cursor, 10, |m| {
                seen.insert(m.to_small_bytes().to_vec());
            });
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(seen.len(), 3000);
    }

    #[test]
    fn removals_give_intset_memory_back() {
        let mut s = Set::new_intset();
        for i in 0..400 {
            s.add(i.to_string().as_bytes(), 512);
        }
        let full = s.allocated_bytes();
        for i in 0..390 {
            s.remove(i.to_string().as_bytes());
        }
        assert!(
            s.allocated_bytes() * 4 < full,
            "{} vs {full}",
            s.allocated_bytes()
        );
        assert_eq!(s.len(), 10);
        s.check_invariants();
    }

    #[test]
    fn clones_keep_the_encoding_and_members() {
        let mut s = Set::new_intset();
        s.add(b"5", 512);
        let c = s.clone();
        assert_eq!(c.encoding_name(), "intset");
        s.add(b"y", 512);
        let c = s.clone();
        assert_eq!(c.encoding_name(), "hashtable");
        assert!(c.contains(b"5") && c.contains(b"y"));
        assert!(c.allocated_bytes() > 0);
    }
}
