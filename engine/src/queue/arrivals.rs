//! The arrival index of a split line: every waiter's arrival score, across all its
//! sub-queues, in one order-statistic multiset kept with the queue (on the queue's shard).
//!
//! A position in a split line is the number of waiters ahead across every sub-queue. Read
//! from the sub-queues themselves that is K tree descents, K key look-ups and K hash-slot
//! computations per ENTER or QPOS (the profile of a K = 8 line put 25% of the server there).
//! Arrival scores are unique in a line unless pre-queue slots or hand-written scores tie, so
//! the index answers "how many waiters have a lower score" in one descent, and the line's
//! length and last score in O(1); the sub-queues still hold the users and are read for ties,
//! admissions and rebuilds.
//!
//! Layout: sorted blocks of scores with each block's first score in a dense array (the block
//! search touches one array, not every block) and a Fenwick tree over the block lengths (a
//! prefix count is O(log blocks)). The waiting line appends at its tail and admits from its
//! head, so both ends are cheap: a push onto the last block, a removal from the first.

/// Scores per block at most; a full block splits in two.
#[cfg(not(test))]
const BLOCK_CAP: usize = 512;
/// Tiny blocks under test, so that random operations split and empty blocks constantly.
#[cfg(test)]
const BLOCK_CAP: usize = 4;

#[derive(Clone, Debug, Default)]
pub struct ArrivalIndex {
    blocks: Vec<Vec<f64>>,
    /// `firsts[i] == blocks[i][0]`; every block is non-empty.
    firsts: Vec<f64>,
    /// Fenwick tree over `blocks[i].len()`.
    fenwick: Vec<usize>,
    len: usize,
}

impl ArrivalIndex {
    /// An index of `scores`, in any order.
    pub fn from_scores(mut scores: Vec<f64>) -> ArrivalIndex {
        scores.sort_unstable_by(f64::total_cmp);
        let mut index = ArrivalIndex {
            len: scores.len(),
            ..ArrivalIndex::default()
        };
        // Half-full blocks leave room for the insertions in the middle (QUNHOLD, ties).
        for chunk in scores.chunks(BLOCK_CAP / 2) {
            index.firsts.push(chunk[0]);
            index.blocks.push(chunk.to_vec());
        }
        index.rebuild_fenwick();
        index
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The highest score.
    pub fn max(&self) -> Option<f64> {
        self.blocks.last().and_then(|b| b.last().copied())
    }

    /// How many scores are below `score`.
    pub fn count_below(&self, score: f64) -> usize {
        // Blocks starting below `score`: all of them but the last lie wholly below it.
        let b = self.firsts.partition_point(|&f| f < score);
        if b == 0 {
            return 0;
        }
        self.prefix(b - 1) + self.blocks[b - 1].partition_point(|&s| s < score)
    }

    /// How many scores are below `score`, if at most one equals it (else `None`: ties,
    /// which a position breaks by member). One search, and a look at the next score or two.
    pub fn rank_if_unique(&self, score: f64) -> Option<usize> {
        let b = self.firsts.partition_point(|&f| f < score);
        let (below, mut block, mut at) = match b {
            0 => (0, 0, 0),
            _ => {
                let at = self.blocks[b - 1].partition_point(|&s| s < score);
                (self.prefix(b - 1) + at, b - 1, at)
            }
        };
        // Walk the run of `score` from its first place: a second one means ties.
        let mut equal = 0;
        while let Some(scores) = self.blocks.get(block) {
            match scores.get(at) {
                Some(&s) if s == score => {
                    equal += 1;
                    if equal > 1 {
                        return None;
                    }
                    at += 1;
                }
                Some(_) => break,
                None => (block, at) = (block + 1, 0),
            }
        }
        Some(below)
    }

    /// The score at 0-based place `rank` in ascending order (a random event's draw).
    pub fn select(&self, rank: usize) -> Option<f64> {
        if rank >= self.len {
            return None;
        }
        // Fenwick descent: the most blocks whose total stays at or below `rank`.
        let (mut blocks, mut rest) = (0, rank);
        let mut step = self.fenwick.len().next_power_of_two();
        while step > 0 {
            let next = blocks + step;
            if next <= self.fenwick.len() && self.fenwick[next - 1] <= rest {
                blocks = next;
                rest -= self.fenwick[next - 1];
            }
            step >>= 1;
        }
        self.blocks.get(blocks)?.get(rest).copied()
    }

    pub fn insert(&mut self, score: f64) {
        self.len += 1;
        if self.blocks.is_empty() {
            self.blocks.push(vec![score]);
            self.firsts.push(score);
            self.rebuild_fenwick();
            return;
        }
        // The last block starting at or below `score` (or the first block, for a new least).
        let b = self.firsts.partition_point(|&f| f <= score).max(1) - 1;
        let last_block = b + 1 == self.blocks.len();
        let block = &mut self.blocks[b];
        let at = block.partition_point(|&s| s <= score);
        block.insert(at, score);
        self.firsts[b] = block[0];
        if block.len() > BLOCK_CAP {
            // An arrival at the back of the line starts a new block and leaves this one full
            // (arrivals only ever come at the back); anywhere else the block halves.
            let appended = last_block && at == BLOCK_CAP;
            let keep = if appended { BLOCK_CAP } else { block.len() / 2 };
            let tail = block.split_off(keep);
            self.firsts.insert(b + 1, tail[0]);
            self.blocks.insert(b + 1, tail);
            self.rebuild_fenwick();
        } else {
            self.add(b, 1);
        }
    }

    /// Removes one occurrence of `score`; false if there is none.
    pub fn remove(&mut self, score: f64) -> bool {
        // Equal scores may run over several blocks: the first block holding one is either the
        // last one starting below `score` or the first one starting at it.
        let b = self.firsts.partition_point(|&f| f < score);
        let found = [b.wrapping_sub(1), b].into_iter().find_map(|i| {
            let block = self.blocks.get(i)?;
            let at = block.partition_point(|&s| s < score);
            (block.get(at) == Some(&score)).then_some((i, at))
        });
        let Some((b, at)) = found else {
            return false;
        };
        self.len -= 1;
        let block = &mut self.blocks[b];
        block.remove(at);
        if block.is_empty() {
            self.blocks.remove(b);
            self.firsts.remove(b);
            self.rebuild_fenwick();
        } else {
            self.firsts[b] = block[0];
            self.add(b, usize::MAX); // -1, wrapping
        }
        true
    }

    /// Scores in blocks `0..b`.
    fn prefix(&self, b: usize) -> usize {
        let mut sum = 0usize;
        let mut i = b;
        while i > 0 {
            sum = sum.wrapping_add(self.fenwick[i - 1]);
            i &= i - 1;
        }
        sum
    }

    /// Adds `delta` (wrapping: `usize::MAX` is -1) to block `b`'s length.
    fn add(&mut self, b: usize, delta: usize) {
        let mut i = b + 1;
        while i <= self.fenwick.len() {
            self.fenwick[i - 1] = self.fenwick[i - 1].wrapping_add(delta);
            i += i & i.wrapping_neg();
        }
    }

    /// O(blocks), when blocks appear or vanish (once per half a block of insertions).
    fn rebuild_fenwick(&mut self) {
        self.fenwick.clear();
        self.fenwick.extend(self.blocks.iter().map(Vec::len));
        for i in 1..=self.fenwick.len() {
            let parent = i + (i & i.wrapping_neg());
            if parent <= self.fenwick.len() {
                self.fenwick[parent - 1] += self.fenwick[i - 1];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The model: a sorted vector.
    fn check(index: &ArrivalIndex, model: &[f64], probes: &[f64]) {
        assert_eq!(index.len(), model.len());
        assert_eq!(index.max(), model.last().copied());
        for (rank, &score) in model.iter().enumerate() {
            assert_eq!(index.select(rank), Some(score), "select {rank}");
        }
        assert_eq!(index.select(model.len()), None);
        for &p in probes.iter().chain(model) {
            let below = model.iter().filter(|&&s| s < p).count();
            let equal = model.iter().filter(|&&s| s == p).count();
            assert_eq!(index.count_below(p), below, "below {p}");
            let unique = (equal <= 1).then_some(below);
            assert_eq!(index.rank_if_unique(p), unique, "rank if unique {p}");
        }
    }

    #[test]
    fn appends_and_admits_at_both_ends() {
        let mut index = ArrivalIndex::default();
        let mut model = Vec::new();
        for i in 0..5_000 {
            index.insert(i as f64);
            model.push(i as f64);
        }
        check(&index, &model, &[-1.0, 2_500.5, 1e9]);
        for i in 0..3_000 {
            assert!(index.remove(i as f64));
        }
        model.drain(..3_000);
        assert!(!index.remove(0.0));
        check(&index, &model, &[0.0, 4_999.5]);
    }

    proptest! {
        #[test]
        fn matches_a_sorted_vector(ops in proptest::collection::vec((0u8..4, 0u16..300), 1..3_000),
                                   start in proptest::collection::vec(0u16..300, 0..1_500)) {
            let mut model: Vec<f64> = start.iter().map(|&s| s as f64).collect();
            let mut index = ArrivalIndex::from_scores(model.clone());
            model.sort_by(f64::total_cmp);
            for (op, v) in ops {
                let v = v as f64;
                if op < 2 {
                    index.insert(v);
                    let at = model.partition_point(|&s| s <= v);
                    model.insert(at, v);
                } else {
                    let present = model.iter().position(|&s| s == v);
                    prop_assert_eq!(index.remove(v), present.is_some());
                    if let Some(at) = present {
                        model.remove(at);
                    }
                }
            }
            check(&index, &model, &[-1.0, 0.5, 150.0, 299.5, 400.0]);
        }
    }
}
