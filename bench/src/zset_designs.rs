//! The sorted-set designs the structure benchmark compares, behind one small trait.
//!
//! - [`UsherZSet`]: the engine's `ZSet` (slab + order-statistic B+tree + segmented index).
//! - [`SkiplistZSet`]: the design card's baseline, the `skiplist` crate's `OrderedSkipList`
//!   of `(score, member)` plus a `HashMap` member -> score, i.e. Redis's dict + skiplist pair.
//!   The crate fixes the level count at compile time (`N = 16`, its default) and stores all
//!   `N` links inline in every node.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::ops::Bound;

use skiplist::comparator::FnComparator;
use skiplist::ordered_skip_list::OrderedSkipList;
use usher_engine::bytes::SmallBytes;
use usher_engine::types::zset::{ZSet, ZSetLimits};

/// The operations the benchmark times.
pub trait ZSetDesign {
    const NAME: &'static str;
    fn new() -> Self;
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Adds a member known to be absent.
    fn insert(&mut self, member: &[u8], score: f64);
    fn rank(&self, member: &[u8]) -> Option<usize>;
    /// Visits up to `n` elements from ascending rank `start`; returns how many.
    fn range(&self, start: usize, n: usize, f: impl FnMut(&[u8], f64)) -> usize;
    fn pop_min(&mut self) -> Option<(SmallBytes, f64)>;
}

/// The engine's sorted set with Redis's default encoding limits.
pub struct UsherZSet {
    pub set: ZSet,
    limits: ZSetLimits,
}

impl ZSetDesign for UsherZSet {
    const NAME: &'static str = "btree";

    fn new() -> Self {
        UsherZSet {
            set: ZSet::new(),
            limits: ZSetLimits::default(),
        }
    }

    fn len(&self) -> usize {
        self.set.len()
    }

    fn insert(&mut self, member: &[u8], score: f64) {
        self.set.insert(member, score, &self.limits);
    }

    fn rank(&self, member: &[u8]) -> Option<usize> {
        self.set.rank(member)
    }

    fn range(&self, start: usize, n: usize, mut f: impl FnMut(&[u8], f64)) -> usize {
        let mut k = 0;
        for (m, s) in self.set.iter_from_rank(start, false).take(n) {
            f(m, s);
            k += 1;
        }
        k
    }

    fn pop_min(&mut self) -> Option<(SmallBytes, f64)> {
        self.set.pop_min()
    }
}

type Item = (f64, SmallBytes);
type ItemCmp = fn(&Item, &Item) -> Ordering;

/// Redis's order: score, then member bytes. Scores are never NaN here.
fn redis_order(a: &Item, b: &Item) -> Ordering {
    a.0.partial_cmp(&b.0)
        .expect("no NaN scores")
        .then_with(|| a.1.cmp(&b.1))
}

/// The baseline: `OrderedSkipList` + `HashMap`, both holding the member (as Redis does).
pub struct SkiplistZSet {
    list: OrderedSkipList<Item, 16, FnComparator<ItemCmp>>,
    dict: HashMap<SmallBytes, f64, foldhash::fast::RandomState>,
}

impl ZSetDesign for SkiplistZSet {
    const NAME: &'static str = "skiplist";

    fn new() -> Self {
        SkiplistZSet {
            list: OrderedSkipList::with_comparator(FnComparator(redis_order as ItemCmp)),
            dict: HashMap::default(),
        }
    }

    fn len(&self) -> usize {
        self.list.len()
    }

    fn insert(&mut self, member: &[u8], score: f64) {
        let m = SmallBytes::new(member);
        let old = self.dict.insert(m.clone(), score);
        debug_assert!(old.is_none());
        self.list.insert((score, m));
    }

    fn rank(&self, member: &[u8]) -> Option<usize> {
        let score = *self.dict.get(member)?;
        self.list.rank(&(score, SmallBytes::new(member)))
    }

    fn range(&self, start: usize, n: usize, mut f: impl FnMut(&[u8], f64)) -> usize {
        // ZRANGE start stop: find both ends by index, then walk between them by value. The
        // crate's `range` counts its span eagerly, so an open end would cost O(n).
        if n == 0 || start >= self.list.len() {
            return 0;
        }
        let stop = (start + n - 1).min(self.list.len() - 1);
        let (Some(first), Some(last)) =
            (self.list.get_by_index(start), self.list.get_by_index(stop))
        else {
            return 0;
        };
        let mut k = 0;
        for (s, m) in self
            .list
            .range((Bound::Included(first), Bound::Included(last)))
        {
            f(m, *s);
            k += 1;
        }
        k
    }

    fn pop_min(&mut self) -> Option<(SmallBytes, f64)> {
        let (score, member) = self.list.pop_first()?;
        self.dict.remove(&member);
        Some((member, score))
    }
}
