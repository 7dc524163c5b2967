//! The hash type, in Redis 7.0's two encodings.
//!
//! * `listpack`: field/value pairs in a `Vec`, in insertion order (an update keeps the field's
//!   place, a delete closes the gap), found by linear search. Small hashes print `HGETALL`,
//!   `HKEYS` and `HSCAN` in exactly Redis's order, since a listpack is an append-only sequence
//!   of pairs there too.
//! * `hashtable`: a [`Dict<SmallBytes>`] from field to value, with stable `HSCAN` cursors.
//!
//! **Invariants:** a listpack never holds a field twice, never more than
//! `hash-max-listpack-entries` pairs after a write, and no field or value longer than
//! `hash-max-listpack-value` bytes. A hash converts to a hashtable when a write would break
//! one of these (Redis's `hashTypeTryConversion` and `hashTypeSet`) and never converts back,
//! as in Redis. `value_heap_bytes` of a hashtable is the sum of its values' heap bytes, kept in
//! step on every write so memory reporting costs no walk.
//!
//! The type knows nothing of commands or replies.

use crate::bytes::SmallBytes;
use crate::dict::Dict;
use rand::RngExt;

/// `hash-max-listpack-entries` and `hash-max-listpack-value`, as read from the config.
#[derive(Clone, Copy, Debug)]
pub struct ListpackLimits {
    pub max_entries: usize,
    pub max_value: usize,
}

impl ListpackLimits {
    pub fn from_config(c: &crate::config::EngineConfig) -> Self {
        ListpackLimits {
            max_entries: c.hash_max_listpack_entries,
            max_value: c.hash_max_listpack_value,
        }
    }
}

#[derive(Clone, Debug)]
pub enum Hash {
    /// Insertion-ordered pairs, fields unique.
    Listpack(Vec<(SmallBytes, SmallBytes)>),
    Table {
        dict: Dict<SmallBytes>,
        /// Sum of the values' heap bytes (the dict counts its keys').
        value_heap_bytes: usize,
    },
}

impl Default for Hash {
    fn default() -> Self {
        Hash::Listpack(Vec::new())
    }
}

impl Hash {
    pub fn new() -> Hash {
        Hash::default()
    }

    pub fn len(&self) -> usize {
        match self {
            Hash::Listpack(v) => v.len(),
            Hash::Table { dict, .. } => dict.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding_name(&self) -> &'static str {
        match self {
            Hash::Listpack(_) => "listpack",
            Hash::Table { .. } => "hashtable",
        }
    }

    pub fn is_listpack(&self) -> bool {
        matches!(self, Hash::Listpack(_))
    }

    /// Heap bytes owned by the hash: the pair array or the dict, plus long fields and values.
    pub fn allocated_bytes(&self) -> usize {
        match self {
            Hash::Listpack(v) => {
                v.capacity() * size_of::<(SmallBytes, SmallBytes)>()
                    + v.iter()
                        .map(|(f, x)| f.heap_size() + x.heap_size())
                        .sum::<usize>()
            }
            Hash::Table {
                dict,
                value_heap_bytes,
            } => dict.allocated_bytes() + value_heap_bytes,
        }
    }

    /// The value of `field`.
    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match self {
            Hash::Listpack(v) => v.iter().find(|(f, _)| **f == *field).map(|(_, x)| &**x),
            Hash::Table { dict, .. } => dict.get(field).map(|x| &**x),
        }
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    /// Redis's `hashTypeTryConversion`: converts a listpack to a hashtable before a write whose
    /// arguments (fields and values) include one longer than `max_value`, whether or not the
    /// write ends up changing anything.
    pub fn prepare_for<'a>(&mut self, args: impl IntoIterator<Item = &'a [u8]>, max_value: usize) {
        if self.is_listpack() && args.into_iter().any(|a| a.len() > max_value) {
            self.convert_to_table();
        }
    }

    /// Sets `field` to `value` (Redis's `hashTypeSet`); true if the field is new. A listpack
    /// converts first if the field or value is too long, and after the write if it holds too
    /// many pairs (checked on updates too, as Redis does).
    pub fn set(&mut self, field: &[u8], value: &[u8], limits: ListpackLimits) -> bool {
        if self.is_listpack() && (field.len() > limits.max_value || value.len() > limits.max_value)
        {
            self.convert_to_table();
        }
        match self {
            Hash::Listpack(v) => {
                let inserted = match v.iter_mut().find(|(f, _)| **f == *field) {
                    Some((_, x)) => {
                        *x = SmallBytes::new(value);
                        false
                    }
                    None => {
                        v.push((SmallBytes::new(field), SmallBytes::new(value)));
                        true
                    }
                };
                if v.len() > limits.max_entries {
                    self.convert_to_table();
                }
                inserted
            }
            Hash::Table {
                dict,
                value_heap_bytes,
            } => {
                let value = SmallBytes::new(value);
                *value_heap_bytes += value.heap_size();
                match dict.insert(field, value) {
                    Some(old) => {
                        *value_heap_bytes -= old.heap_size();
                        false
                    }
                    None => true,
                }
            }
        }
    }

    /// Removes `field`; true if it was there. An emptied hash stays (the caller deletes the key).
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self {
            Hash::Listpack(v) => match v.iter().position(|(f, _)| **f == *field) {
                Some(at) => {
                    v.remove(at);
                    crate::types::set::shrink_if_sparse(v);
                    true
                }
                None => false,
            },
            Hash::Table {
                dict,
                value_heap_bytes,
            } => match dict.remove(field) {
                Some((_, old)) => {
                    *value_heap_bytes -= old.heap_size();
                    true
                }
                None => false,
            },
        }
    }

    /// Pairs in iteration order: insertion order for a listpack, dict order for a hashtable.
    pub fn iter(&self) -> Iter<'_> {
        match self {
            Hash::Listpack(v) => Iter::Listpack(v.iter()),
            Hash::Table { dict, .. } => Iter::Table(dict.iter()),
        }
    }

    /// A uniformly random pair, or `None` if the hash is empty.
    pub fn random_pair<R: rand::Rng + ?Sized>(&self, rng: &mut R) -> Option<(&[u8], &[u8])> {
        match self {
            Hash::Listpack(v) if v.is_empty() => None,
            Hash::Listpack(v) => {
                let (f, x) = &v[rng.random_range(0..v.len())];
                Some((f, x))
            }
            Hash::Table { dict, .. } => dict.random_entry(rng).map(|(f, x)| (&**f, &**x)),
        }
    }

    /// One `HSCAN` step: a listpack returns everything at once (cursor 0, as Redis does for
    /// compact encodings); a hashtable scans its dict from `cursor`. Returns the next cursor.
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&[u8], &[u8])) -> u64 {
        match self {
            Hash::Listpack(v) => {
                v.iter().for_each(|(k, x)| f(k, x));
                0
            }
            Hash::Table { dict, .. } => dict.scan(cursor, count, |k, x| f(k, x)),
        }
    }

    /// Turns a listpack into a hashtable; a no-op for a hashtable.
    pub fn convert_to_table(&mut self) {
        let Hash::Listpack(v) = self else { return };
        let pairs = std::mem::take(v);
        let value_heap_bytes = pairs.iter().map(|(_, x)| x.heap_size()).sum();
        let mut dict = Dict::new();
        for (f, x) in pairs {
            dict.insert_new(f, x);
        }
        *self = Hash::Table {
            dict,
            value_heap_bytes,
        };
    }

    /// Asserts the type's invariants (the entry limits only for `limits`); for tests.
    #[doc(hidden)]
    pub fn check_invariants(&self, limits: Option<ListpackLimits>) {
        match self {
            Hash::Listpack(v) => {
                for (i, (f, x)) in v.iter().enumerate() {
                    assert!(v[i + 1..].iter().all(|(g, _)| g != f), "duplicate field");
                    if let Some(l) = limits {
                        assert!(f.len() <= l.max_value && x.len() <= l.max_value);
                    }
                }
                if let Some(l) = limits {
                    assert!(v.len() <= l.max_entries);
                }
            }
            Hash::Table {
                dict,
                value_heap_bytes,
            } => {
                dict.check_invariants();
                let heap: usize = dict.iter().map(|(_, x)| x.heap_size()).sum();
                assert_eq!(heap, *value_heap_bytes);
            }
        }
    }
}

/// Iterator over a hash's (field, value) pairs; see [`Hash::iter`].
pub enum Iter<'a> {
    Listpack(std::slice::Iter<'a, (SmallBytes, SmallBytes)>),
    Table(crate::dict::Iter<'a, SmallBytes>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<(&'a [u8], &'a [u8])> {
        match self {
            Iter::Listpack(it) => it.next().map(|(f, x)| (&**f, &**x)),
            Iter::Table(it) => it.next().map(|(f, x)| (&**f, &**x)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: ListpackLimits = ListpackLimits {
        max_entries: 128,
        max_value: 64,
    };

    fn fields(h: &Hash) -> Vec<String> {
        h.iter()
            .map(|(f, _)| String::from_utf8_lossy(f).into_owned())
            .collect()
    }

    #[test]
    fn listpack_keeps_insertion_order_through_updates_and_deletes() {
        let mut h = Hash::new();
        for f in ["c", "a", "b", "d"] {
            assert!(h.set(f.as_bytes(), b"1", LIMITS));
        }
        assert!(!h.set(b"a", b"2", LIMITS), "an update is not an insert");
        assert!(h.remove(b"b"));
        assert!(!h.remove(b"b"));
        h.set(b"b", b"3", LIMITS);
        assert_eq!(fields(&h), ["c", "a", "d", "b"]);
        assert_eq!(h.get(b"a"), Some(&b"2"[..]));
        assert_eq!(h.encoding_name(), "listpack");
        h.check_invariants(Some(LIMITS));
    }

    #[test]
    fn more_than_max_entries_converts_to_a_hashtable() {
        let mut h = Hash::new();
        for i in 0..128 {
            h.set(format!("f{i}").as_bytes(), b"v", LIMITS);
        }
        assert_eq!(h.encoding_name(), "listpack");
        h.set(b"f0", b"updated", LIMITS);
        assert_eq!(h.encoding_name(), "listpack");
        h.set(b"f128", b"v", LIMITS);
        assert_eq!(h.encoding_name(), "hashtable");
        assert_eq!(h.len(), 129);
        assert_eq!(h.get(b"f0"), Some(&b"updated"[..]));
        h.check_invariants(None);
    }

    #[test]
    fn long_fields_or_values_convert_even_on_update() {
        let long = [b'x'; 65];
        let mut h = Hash::new();
        h.set(b"f", b"v", LIMITS);
        h.set(b"f", &long, LIMITS);
        assert_eq!(h.encoding_name(), "hashtable");
        h.set(b"f", b"v", LIMITS);
        assert_eq!(h.encoding_name(), "hashtable", "conversion is one-way");

        let mut h = Hash::new();
        h.set(&[b'y'; 64], &[b'z'; 64], LIMITS);
        assert_eq!(h.encoding_name(), "listpack", "64 bytes still fit");
        h.set(&long, b"v", LIMITS);
        assert_eq!(h.encoding_name(), "hashtable");
        h.check_invariants(None);
    }

    #[test]
    fn prepare_for_converts_on_any_long_argument() {
        let mut h = Hash::new();
        h.set(b"a", b"1", LIMITS);
        h.prepare_for([&b"a"[..], &b"1"[..]], 64);
        assert_eq!(h.encoding_name(), "listpack");
        h.prepare_for([&b"a"[..], &[b'x'; 65][..]], 64);
        assert_eq!(h.encoding_name(), "hashtable");
        assert_eq!(h.get(b"a"), Some(&b"1"[..]), "conversion keeps the data");
    }

    #[test]
    fn value_heap_bytes_follow_every_write() {
        let mut h = Hash::new();
        h.convert_to_table();
        let long = [b'v'; 100];
        h.set(b"a", &long, LIMITS);
        h.set(b"b", b"short", LIMITS);
        h.set(b"a", &long[..50], LIMITS);
        h.check_invariants(None);
        h.remove(b"a");
        h.check_invariants(None);
        assert!(h.allocated_bytes() > 0);
    }

    #[test]
    fn random_pairs_and_scans_cover_both_encodings() {
        use rand::SeedableRng;
        let mut rng = rand::rngs::SmallRng::seed_from_u64(1);
        for n in [5, 500] {
            let mut h = Hash::new();
            for i in 0..n {
                h.set(
                    format!("f{i}").as_bytes(),
                    format!("v{i}").as_bytes(),
                    LIMITS,
                );
            }
            for _ in 0..100 {
                let (f, v) = h.random_pair(&mut rng).unwrap();
                assert_eq!(h.get(f), Some(v));
            }
            let mut seen = std::collections::HashSet::new();
            let mut cursor = 0;
            loop {
                cursor = h.scan(cursor, 7, |f, _| {
                    seen.insert(f.to_vec());
                });
                if cursor == 0 {
                    break;
                }
            }
            assert_eq!(seen.len(), n);
        }
        assert!(Hash::new().random_pair(&mut rng).is_none());
    }
}
