//! TEMPORARY shim over hashbrown, replaced by the segmented dict (branch h/dict) before landing.

use crate::bytes::SmallBytes;
use std::hash::BuildHasher;

pub struct Dict<V> {
    map: hashbrown::HashMap<SmallBytes, V, foldhash::fast::FixedState>,
}

impl<V> Default for Dict<V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V> Dict<V> {
    pub fn new() -> Self {
        Dict {
            map: hashbrown::HashMap::with_hasher(foldhash::fast::FixedState::with_seed(7)),
        }
    }
    pub fn len(&self) -> usize {
        self.map.len()
    }
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
    pub fn hash_key(key: &[u8]) -> u64 {
        foldhash::fast::FixedState::with_seed(7).hash_one(key)
    }
    pub fn get(&self, key: &[u8]) -> Option<&V> {
        self.map.get(key)
    }
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut V> {
        self.map.get_mut(key)
    }
    pub fn contains_key(&self, key: &[u8]) -> bool {
        self.map.contains_key(key)
    }
    pub fn insert(&mut self, key: &[u8], value: V) -> Option<V> {
        if let Some(v) = self.map.get_mut(key) {
            return Some(std::mem::replace(v, value));
        }
        self.map.insert(SmallBytes::new(key), value);
        None
    }
    pub fn get_or_insert_with(&mut self, key: &[u8], f: impl FnOnce() -> V) -> (&mut V, bool) {
        let inserted = !self.map.contains_key(key);
        if inserted {
            self.map.insert(SmallBytes::new(key), f());
        }
        (self.map.get_mut(key).unwrap(), inserted)
    }
    pub fn remove(&mut self, key: &[u8]) -> Option<(SmallBytes, V)> {
        self.map.remove_entry(key)
    }
    pub fn get_by_hash_mut(
        &mut self,
        hash: u64,
        mut pred: impl FnMut(&SmallBytes, &V) -> bool,
    ) -> Option<(&SmallBytes, &mut V)> {
        self.map
            .iter_mut()
            .find(|(k, v)| Self::hash_key(k) == hash && pred(k, v))
            .map(|(k, v)| (k, v))
    }
    pub fn iter(&self) -> impl Iterator<Item = (&SmallBytes, &V)> {
        self.map.iter()
    }
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&SmallBytes, &mut V)> {
        self.map.iter_mut()
    }
    pub fn clear(&mut self) {
        self.map.clear()
    }
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&SmallBytes, &V)) -> u64 {
        let mut all: Vec<_> = self
            .map
            .iter()
            .map(|(k, v)| (Self::hash_key(k), k, v))
            .collect();
        all.sort_by_key(|e| e.0);
        let mut n = 0;
        for (h, k, v) in all {
            if h < cursor {
                continue;
            }
            if n >= count {
                return h;
            }
            f(k, v);
            n += 1;
        }
        0
    }
    pub fn random_entry<R: rand::Rng + ?Sized>(&self, rng: &mut R) -> Option<(&SmallBytes, &V)> {
        if self.map.is_empty() {
            return None;
        }
        let i = rand::RngExt::random_range(rng, 0..self.map.len());
        self.map.iter().nth(i)
    }
    pub fn allocated_bytes(&self) -> usize {
        self.map.capacity() * (std::mem::size_of::<(SmallBytes, V)>() + 1)
    }
}
