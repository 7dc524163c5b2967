//! An order-statistic B+tree of `(score, id)` keys, ordered by `(score, member)`.
//!
//! Invariants (checked by [`Tree::check_invariants`]):
//! - Entries live only in leaves, which all sit at depth `height`. A leaf stores its scores and
//!   slab ids in two parallel arrays; the member bytes stay in the [`Slab`], read only to break
//!   score ties. Keys are strictly increasing across the leaves, left to right.
//! - An inner node with `k` children holds `k - 1` separators (copies of a `(score, member)`
//!   key) and `k` subtree counts. Every key in child `i` is `>= sep[i-1]` and `< sep[i]`, and
//!   `counts[i]` is exactly the number of entries under child `i`: rank arithmetic relies on it.
//!   Separators are copies, not ids, so they stay valid when their entry is deleted or moves to
//!   another slab id.
//! - Every node off the rightmost spine is at least half full; rightmost-spine leaves hold at
//!   least one entry and rightmost-spine inner nodes at least two children. The exception exists
//!   because the waiting line appends: when the rightmost leaf overflows it splits at the insert
//!   position (see [`split_point`]), leaving full leaves behind instead of half-empty ones.
//!
//! Ties compare member bytes with `memcmp` order, and scores compare with IEEE `<`/`==`, so
//! `-0.0` and `0.0` tie exactly as in Redis's `zslInsert`.

use std::cmp::Ordering;

use smallvec::SmallVec;

use super::slab::Slab;
use crate::bytes::SmallBytes;

/// Entries per leaf: 63 x 12 bytes + length = 760 bytes, inside a 768-byte allocator class.
#[cfg(not(test))]
pub(super) const LEAF_CAP: usize = 63;
/// Tiny nodes under test so that random operations split and merge constantly.
#[cfg(test)]
pub(super) const LEAF_CAP: usize = 4;
const LEAF_MIN: usize = LEAF_CAP / 2;
/// Free slots a sibling needs before a full leaf spills into it rather than splitting; below
/// this the spill would free too few slots to be worth its copying.
const SPILL_ROOM_MIN: usize = max_usize(LEAF_CAP / 8, 2);

const fn max_usize(a: usize, b: usize) -> usize {
    if a > b {
        a
    } else {
        b
    }
}

/// Children per inner node.
#[cfg(not(test))]
const INNER_CAP: usize = 64;
#[cfg(test)]
const INNER_CAP: usize = 4;
const INNER_MIN: usize = INNER_CAP / 2;

/// A search key: a score and the member bytes that break ties.
#[derive(Clone, Copy, Debug)]
pub(super) struct Key<'a> {
    pub(super) score: f64,
    pub(super) member: &'a [u8],
}

/// Redis's element order: by score, then by member bytes.
#[inline]
pub(super) fn cmp_key(score: f64, member: &[u8], key: Key<'_>) -> Ordering {
    if score < key.score {
        Ordering::Less
    } else if score > key.score {
        Ordering::Greater
    } else {
        member.cmp(key.member)
    }
}

/// Entries of the sorted `scores` below `x`.
///
/// A branch-free count over the whole array rather than a binary search: the compiler
/// vectorises it, and the sequential reads are prefetched, where a binary search's dependent
/// probes would each wait for a cache line of a cold node.
#[inline]
fn count_below(scores: &[f64], x: f64) -> usize {
    scores.iter().map(|&s| usize::from(s < x)).sum()
}

/// The run `[lo, hi)` of the sorted `scores` equal to `x`: one counting pass for `lo`, then a
/// walk over the ties, which are few (usually none).
#[inline]
fn score_run(scores: &[f64], x: f64) -> (usize, usize) {
    let lo = count_below(scores, x);
    let ties = scores[lo..].iter().take_while(|&&s| s == x).count();
    (lo, lo + ties)
}

/// A monotone predicate over keys: true on a prefix of the order, false after it.
///
/// `member` is a closure because reading a leaf entry's member costs a slab lookup, which
/// score-only predicates never need.
pub(super) trait Pred {
    fn holds<'m>(&self, score: f64, member: impl FnOnce() -> &'m [u8]) -> bool;
}

/// Leaf node: parallel score and id arrays, sorted by key.
#[derive(Clone)]
pub(super) struct Leaf {
    scores: [f64; LEAF_CAP],
    ids: [u32; LEAF_CAP],
    len: u16,
}

impl Leaf {
    fn new() -> Box<Leaf> {
        Box::new(Leaf {
            scores: [0.0; LEAF_CAP],
            ids: [0; LEAF_CAP],
            len: 0,
        })
    }

    #[inline]
    pub(super) fn len(&self) -> usize {
        self.len as usize
    }

    #[inline]
    pub(super) fn get(&self, i: usize) -> (f64, u32) {
        debug_assert!(i < self.len());
        (self.scores[i], self.ids[i])
    }

    fn set_id(&mut self, i: usize, id: u32) {
        debug_assert!(i < self.len());
        self.ids[i] = id;
    }

    fn insert_at(&mut self, i: usize, score: f64, id: u32) {
        let len = self.len();
        assert!(len < LEAF_CAP && i <= len);
        self.scores.copy_within(i..len, i + 1);
        self.ids.copy_within(i..len, i + 1);
        self.scores[i] = score;
        self.ids[i] = id;
        self.len += 1;
    }

    fn remove_at(&mut self, i: usize) -> (f64, u32) {
        let len = self.len();
        assert!(i < len);
        let out = (self.scores[i], self.ids[i]);
        self.scores.copy_within(i + 1..len, i);
        self.ids.copy_within(i + 1..len, i);
        self.len -= 1;
        out
    }

    /// Moves entries `at..` into a new leaf.
    fn split_off(&mut self, at: usize) -> Box<Leaf> {
        let len = self.len();
        debug_assert!(at <= len);
        let mut right = Leaf::new();
        right.scores[..len - at].copy_from_slice(&self.scores[at..len]);
        right.ids[..len - at].copy_from_slice(&self.ids[at..len]);
        right.len = (len - at) as u16;
        self.len = at as u16;
        right
    }

    /// Appends the first `k` entries of `right` to `self` and removes them from `right`.
    fn take_front(&mut self, right: &mut Leaf, k: usize) {
        let (len, rlen) = (self.len(), right.len());
        assert!(k <= rlen && len + k <= LEAF_CAP);
        self.scores[len..len + k].copy_from_slice(&right.scores[..k]);
        self.ids[len..len + k].copy_from_slice(&right.ids[..k]);
        right.scores.copy_within(k..rlen, 0);
        right.ids.copy_within(k..rlen, 0);
        self.len += k as u16;
        right.len -= k as u16;
    }

    /// Prepends the last `k` entries of `left` to `self` and removes them from `left`.
    fn take_back(&mut self, left: &mut Leaf, k: usize) {
        let (len, llen) = (self.len(), left.len());
        assert!(k <= llen && len + k <= LEAF_CAP);
        self.scores.copy_within(0..len, k);
        self.ids.copy_within(0..len, k);
        self.scores[..k].copy_from_slice(&left.scores[llen - k..llen]);
        self.ids[..k].copy_from_slice(&left.ids[llen - k..llen]);
        self.len += k as u16;
        left.len -= k as u16;
    }

    /// Number of entries that `pred` holds for (binary search; `pred` is monotone).
    fn partition<P: Pred>(&self, pred: &P, slab: &Slab) -> usize {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            if pred.holds(self.scores[mid], || slab.member(self.ids[mid])) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// Number of entries ordered before `key`. Scores are searched first so that the member
    /// (a slab lookup, likely a cache miss) is read only for entries whose score ties.
    fn lower_bound(&self, key: Key<'_>, slab: &Slab) -> usize {
        let scores = &self.scores[..self.len()];
        let (lo, hi) = score_run(scores, key.score);
        lo + self.ids[lo..hi].partition_point(|&id| slab.member(id) < key.member)
    }

    /// Position of the entry with this score and slab id. Matching the id, which the caller
    /// got from the index, spares the slab reads a member comparison would cost.
    fn find_id(&self, score: f64, id: u32) -> Option<usize> {
        let scores = &self.scores[..self.len()];
        let (lo, hi) = score_run(scores, score);
        self.ids[lo..hi]
            .iter()
            .position(|&x| x == id)
            .map(|i| lo + i)
    }
}

/// A child pointer; every leaf sits at the same depth.
#[derive(Clone)]
pub(super) enum Node {
    Leaf(Box<Leaf>),
    Inner(Box<Inner>),
}

impl Node {
    /// Entries (leaf) or children (inner): the quantity the occupancy bounds apply to.
    fn occupancy(&self) -> usize {
        match self {
            Node::Leaf(l) => l.len(),
            Node::Inner(n) => n.children.len(),
        }
    }

    fn min_occupancy(&self) -> usize {
        match self {
            Node::Leaf(_) => LEAF_MIN,
            Node::Inner(_) => INNER_MIN,
        }
    }
}

/// Inner node: separators, subtree counts and children, in parallel vectors.
pub(super) struct Inner {
    sep_scores: Vec<f64>,
    sep_members: Vec<SmallBytes>,
    counts: Vec<usize>,
    children: Vec<Node>,
}

impl Clone for Inner {
    /// Keeps the fixed vector capacities: the byte accounting (`Inner::BYTES`) and the
    /// no-reallocation guarantee rely on them, and a derived clone would shrink them to fit.
    fn clone(&self) -> Self {
        let mut copy = Inner::with_capacity();
        copy.sep_scores.extend_from_slice(&self.sep_scores);
        copy.sep_members.extend_from_slice(&self.sep_members);
        copy.counts.extend_from_slice(&self.counts);
        copy.children.extend(self.children.iter().cloned());
        *copy
    }
}

/// A node split off to the right during insertion, with the separator that routes to it.
struct Split {
    sep_score: f64,
    sep_member: SmallBytes,
    node: Node,
    count: usize,
}

/// Where to split an overflowing node of `cap` (+1 pending) items, given the insert position.
///
/// Off the rightmost spine: in the middle, as usual. On the rightmost spine: at the insert
/// position, clamped to at least half, so that appending arrival times (the waiting line's
/// pattern) leaves full nodes behind instead of half-empty ones; `max` keeps a few items on the
/// right so an inner node there never has a single child.
fn split_point(pos: usize, rightmost: bool, half: usize, max: usize) -> usize {
    if rightmost {
        pos.clamp(half, max)
    } else {
        half
    }
}

impl Inner {
    fn with_capacity() -> Box<Inner> {
        // One slot of headroom: a child is inserted before an overflowing node splits.
        Box::new(Inner {
            sep_scores: Vec::with_capacity(INNER_CAP),
            sep_members: Vec::with_capacity(INNER_CAP),
            counts: Vec::with_capacity(INNER_CAP + 1),
            children: Vec::with_capacity(INNER_CAP + 1),
        })
    }

    /// Bytes one inner node occupies (its vectors never outgrow their initial capacity).
    const BYTES: usize = size_of::<Inner>()
        + INNER_CAP * (size_of::<f64>() + size_of::<SmallBytes>())
        + (INNER_CAP + 1) * (size_of::<usize>() + size_of::<Node>());

    /// Number of separators `pred` holds for; the boundary it describes lies in that child.
    fn partition<P: Pred>(&self, pred: &P) -> usize {
        let (mut lo, mut hi) = (0, self.sep_scores.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            if pred.holds(self.sep_scores[mid], || self.sep_members[mid].as_slice()) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// The child whose key range contains `key`: the number of separators `<= key`.
    fn child_for_key(&self, key: Key<'_>) -> usize {
        let (lo, hi) = score_run(&self.sep_scores, key.score);
        lo + self.sep_members[lo..hi].partition_point(|m| m.as_slice() <= key.member)
    }

    /// The child holding ascending rank `rank`, and the rank inside that child.
    fn child_for_rank(&self, mut rank: usize) -> (usize, usize) {
        for (i, &c) in self.counts.iter().enumerate() {
            if rank < c {
                return (i, rank);
            }
            rank -= c;
        }
        unreachable!("rank beyond the subtree's count")
    }

    fn count_before(&self, i: usize) -> usize {
        self.counts[..i].iter().sum()
    }

    fn insert_child(&mut self, at: usize, split: Split) {
        debug_assert!(at >= 1 && at <= self.children.len());
        self.sep_scores.insert(at - 1, split.sep_score);
        self.sep_members.insert(at - 1, split.sep_member);
        self.counts.insert(at, split.count);
        self.children.insert(at, split.node);
    }

    /// Splits an overflowing node (`INNER_CAP + 1` children) after a child was inserted at
    /// `pos`; the separator between the halves moves up.
    fn split(&mut self, pos: usize, rightmost: bool) -> Split {
        let n = self.children.len();
        debug_assert_eq!(n, INNER_CAP + 1);
        let mid = split_point(pos, rightmost, n / 2, n - 2);
        let mut right = Inner::with_capacity();
        right.sep_scores.extend(self.sep_scores.drain(mid..));
        right.sep_members.extend(self.sep_members.drain(mid..));
        right.counts.extend(self.counts.drain(mid..));
        right.children.extend(self.children.drain(mid..));
        let sep_score = self.sep_scores.pop().expect("mid >= 1");
        let sep_member = self.sep_members.pop().expect("mid >= 1");
        let count = right.counts.iter().sum();
        Split {
            sep_score,
            sep_member,
            node: Node::Inner(right),
            count,
        }
    }

    /// Restores the occupancy of child `i` after a removal left it under the minimum, by
    /// merging it with a sibling or moving items over from one.
    fn rebalance(&mut self, i: usize, slab: &Slab, stats: &mut Stats) {
        if self.children.len() < 2 {
            // No sibling at this level; our own parent rebalances us, then we are revisited.
            return;
        }
        let a = if i > 0 { i - 1 } else { i };
        let pair_count = self.counts[a] + self.counts[a + 1];
        let (left, right) = self.children.split_at_mut(a + 1);
        let merge = match (&mut left[a], &mut right[0]) {
            (Node::Leaf(x), Node::Leaf(y)) => {
                if x.len() + y.len() <= LEAF_CAP {
                    let k = y.len();
                    x.take_front(y, k);
                    true
                } else {
                    let moved = balance_leaves(x, y);
                    let first = y.get(0);
                    self.after_leaf_balance(a, moved, first, slab, stats);
                    false
                }
            }
            (Node::Inner(x), Node::Inner(y)) => {
                let sep = (self.sep_scores[a], std::mem::take(&mut self.sep_members[a]));
                if x.children.len() + y.children.len() <= INNER_CAP {
                    x.absorb(y, sep);
                    true
                } else {
                    let (moved, up) = balance_inners(x, y, sep);
                    self.sep_scores[a] = up.0;
                    self.sep_members[a] = up.1;
                    self.counts[a] = (self.counts[a] as isize + moved) as usize;
                    self.counts[a + 1] = (self.counts[a + 1] as isize - moved) as usize;
                    false
                }
            }
            _ => unreachable!("siblings sit at the same depth"),
        };
        debug_assert_eq!(
            self.counts[a] + self.counts[a + 1],
            pair_count,
            "rebalancing lost entries"
        );
        if merge {
            self.counts[a] += self.counts[a + 1];
            self.counts.remove(a + 1);
            let gone = self.sep_members.remove(a);
            stats.sep_heap -= gone.heap_size();
            self.sep_scores.remove(a);
            match self.children.remove(a + 1) {
                Node::Leaf(_) => stats.leaves -= 1,
                Node::Inner(_) => stats.inners -= 1,
            }
        }
    }

    /// Fixes separator `a` and the counts after leaves `a` and `a + 1` were evened out
    /// (`moved` entries went left; `first` is now the right leaf's first entry).
    fn after_leaf_balance(
        &mut self,
        a: usize,
        moved: isize,
        first: (f64, u32),
        slab: &Slab,
        stats: &mut Stats,
    ) {
        stats.sep_heap -= self.sep_members[a].heap_size();
        self.sep_scores[a] = first.0;
        self.sep_members[a] = SmallBytes::new(slab.member(first.1));
        stats.sep_heap += self.sep_members[a].heap_size();
        self.counts[a] = (self.counts[a] as isize + moved) as usize;
        self.counts[a + 1] = (self.counts[a + 1] as isize - moved) as usize;
    }

    /// Makes room in child `i`, a full leaf, by evening it out with a sibling leaf that has
    /// at least [`SPILL_ROOM_MIN`] free slots (the B*-tree idea). Splitting only when the
    /// neighbours are full too raises leaf fill under random inserts from ~65% to over 80%.
    /// Returns whether entries moved (the caller must route its key again).
    fn spill(&mut self, i: usize, slab: &Slab, stats: &mut Stats) -> bool {
        let room = |node: &Node| match node {
            Node::Leaf(l) => LEAF_CAP - l.len(),
            Node::Inner(_) => 0,
        };
        let a = if i > 0 && room(&self.children[i - 1]) >= SPILL_ROOM_MIN {
            i - 1
        } else if i + 1 < self.children.len() && room(&self.children[i + 1]) >= SPILL_ROOM_MIN {
            i
        } else {
            return false;
        };
        let (left, right) = self.children.split_at_mut(a + 1);
        let (Node::Leaf(x), Node::Leaf(y)) = (&mut left[a], &mut right[0]) else {
            unreachable!("room() is zero for inner nodes")
        };
        debug_assert_eq!(x.len() + y.len(), self.counts[a] + self.counts[a + 1]);
        let moved = balance_leaves(x, y);
        debug_assert!(
            x.len() < LEAF_CAP && y.len() < LEAF_CAP,
            "a spill must free a slot"
        );
        let first = y.get(0);
        self.after_leaf_balance(a, moved, first, slab, stats);
        true
    }

    /// Appends `right`'s children to `self`, pulling the parent separator down between them.
    fn absorb(&mut self, right: &mut Inner, sep: (f64, SmallBytes)) {
        self.sep_scores.push(sep.0);
        self.sep_members.push(sep.1);
        self.sep_scores.append(&mut right.sep_scores);
        self.sep_members.append(&mut right.sep_members);
        self.counts.append(&mut right.counts);
        self.children.append(&mut right.children);
        debug_assert!(self.children.len() <= INNER_CAP);
    }
}

/// Evens out two adjacent leaves; returns how many entries moved left (negative: right).
fn balance_leaves(x: &mut Leaf, y: &mut Leaf) -> isize {
    let total = x.len() + y.len();
    let want = total / 2;
    if x.len() < want {
        let k = want - x.len();
        x.take_front(y, k);
        k as isize
    } else {
        let k = x.len() - want;
        y.take_back(x, k);
        -(k as isize)
    }
}

/// Evens out two adjacent inner nodes by rotating children through the parent separator
/// `sep`. Returns the number of entries moved left (negative: right) and the new separator.
fn balance_inners(
    x: &mut Inner,
    y: &mut Inner,
    sep: (f64, SmallBytes),
) -> (isize, (f64, SmallBytes)) {
    let total = x.children.len() + y.children.len();
    let want = total / 2;
    if x.children.len() < want {
        let k = want - x.children.len();
        x.sep_scores.push(sep.0);
        x.sep_members.push(sep.1);
        x.sep_scores.extend(y.sep_scores.drain(..k - 1));
        x.sep_members.extend(y.sep_members.drain(..k - 1));
        let up = (y.sep_scores.remove(0), y.sep_members.remove(0));
        let moved: usize = y.counts[..k].iter().sum();
        x.counts.extend(y.counts.drain(..k));
        x.children.extend(y.children.drain(..k));
        (moved as isize, up)
    } else {
        let k = x.children.len() - want;
        let n = x.children.len();
        let mut scores: Vec<f64> = x.sep_scores.drain(n - k..).collect();
        let mut members: Vec<SmallBytes> = x.sep_members.drain(n - k..).collect();
        scores.push(sep.0);
        members.push(sep.1);
        y.sep_scores.splice(0..0, scores);
        y.sep_members.splice(0..0, members);
        let up = (
            x.sep_scores.pop().expect("k < n"),
            x.sep_members.pop().expect("k < n"),
        );
        let moved: usize = x.counts[n - k..].iter().sum();
        y.counts.splice(0..0, x.counts.drain(n - k..));
        y.children.splice(0..0, x.children.drain(n - k..));
        (-(moved as isize), up)
    }
}

/// What a removal looks for.
#[derive(Clone, Copy)]
enum Target<'a> {
    /// The entry with this key and slab id.
    Key(Key<'a>, u32),
    Rank(usize),
}

/// Node and heap accounting, kept incrementally so `allocated_bytes` is O(1).
#[derive(Default, Clone)]
struct Stats {
    leaves: usize,
    inners: usize,
    /// Heap bytes of separator copies of long members.
    sep_heap: usize,
}

/// The tree; see the module docs.
#[derive(Clone)]
pub(super) struct Tree {
    root: Node,
    len: usize,
    /// Inner levels above the leaves (0: the root is a leaf).
    height: usize,
    stats: Stats,
}

impl Default for Tree {
    fn default() -> Self {
        Tree {
            root: Node::Leaf(Leaf::new()),
            len: 0,
            height: 0,
            stats: Stats {
                leaves: 1,
                ..Stats::default()
            },
        }
    }
}

impl Tree {
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Inserts `id` under `key`, which must not be present.
    pub(super) fn insert(&mut self, key: Key<'_>, id: u32, slab: &Slab) {
        if let Some(split) = insert_into(&mut self.root, key, id, slab, true, &mut self.stats) {
            debug_assert!(split.count >= 1 && split.count <= self.len + 1);
            let left_count = self.len + 1 - split.count;
            let old_root = std::mem::replace(&mut self.root, Node::Leaf(Leaf::new()));
            let mut root = Inner::with_capacity();
            root.counts.extend([left_count, split.count]);
            root.sep_scores.push(split.sep_score);
            root.sep_members.push(split.sep_member);
            root.children.extend([old_root, split.node]);
            self.root = Node::Inner(root);
            self.height += 1;
            self.stats.inners += 1;
        }
        self.len += 1;
    }

    /// Removes the entry with `key` and slab id `id`; returns whether it was there.
    pub(super) fn remove(&mut self, key: Key<'_>, id: u32, slab: &Slab) -> bool {
        self.remove_target(Target::Key(key, id), slab).is_some()
    }

    /// Removes the entry at ascending rank `rank`; returns its score and id.
    pub(super) fn remove_at(&mut self, rank: usize, slab: &Slab) -> Option<(f64, u32)> {
        if rank >= self.len {
            return None;
        }
        self.remove_target(Target::Rank(rank), slab)
    }

    fn remove_target(&mut self, target: Target<'_>, slab: &Slab) -> Option<(f64, u32)> {
        let out = remove_from(&mut self.root, target, slab, &mut self.stats)?;
        self.len -= 1;
        // A root left with one child hands the root role down, shrinking the height.
        while let Node::Inner(inner) = &mut self.root {
            if inner.children.len() > 1 {
                break;
            }
            let child = inner.children.pop().expect("an inner node has a child");
            self.root = child;
            self.height -= 1;
            self.stats.inners -= 1;
        }
        Some(out)
    }

    /// Re-points the entry equal to `key` (currently `old_id`) at `new_id`. Used when the slab
    /// moves an entry; nothing else changes.
    pub(super) fn replace_id(&mut self, key: Key<'_>, old_id: u32, new_id: u32) {
        let mut node = &mut self.root;
        loop {
            match node {
                Node::Inner(inner) => {
                    let i = inner.child_for_key(key);
                    node = &mut inner.children[i];
                }
                Node::Leaf(leaf) => {
                    let i = leaf.find_id(key.score, old_id);
                    leaf.set_id(i.expect("the moved entry is in the tree"), new_id);
                    return;
                }
            }
        }
    }

    /// Ascending rank of the entry with `key` and slab id `id`.
    pub(super) fn rank(&self, key: Key<'_>, id: u32) -> Option<usize> {
        let mut node = &self.root;
        let mut before = 0;
        loop {
            match node {
                Node::Inner(inner) => {
                    let i = inner.child_for_key(key);
                    before += inner.count_before(i);
                    node = &inner.children[i];
                }
                Node::Leaf(leaf) => return leaf.find_id(key.score, id).map(|i| before + i),
            }
        }
    }

    /// Starts loading the scores of the leaf that holds `key` (all their cache lines: ranking
    /// counts over the whole array), descending the inner nodes as [`Tree::rank`] does. The
    /// ids, of which ranking reads one line, are left to demand: with a batch's leaves in
    /// flight, more hints would only queue behind them.
    pub(super) fn prefetch_leaf(&self, key: Key<'_>) {
        let mut node = &self.root;
        loop {
            match node {
                Node::Inner(inner) => node = &inner.children[inner.child_for_key(key)],
                Node::Leaf(leaf) => {
                    // One hint per cache line (8 scores to a line).
                    for i in (0..LEAF_CAP).step_by(8).chain([LEAF_CAP - 1]) {
                        crate::prefetch::read(&leaf.scores[i]);
                    }
                    return;
                }
            }
        }
    }

    /// The `(score, id)` at ascending rank `rank`.
    pub(super) fn get(&self, mut rank: usize) -> Option<(f64, u32)> {
        if rank >= self.len {
            return None;
        }
        let mut node = &self.root;
        loop {
            match node {
                Node::Inner(inner) => {
                    let (i, r) = inner.child_for_rank(rank);
                    rank = r;
                    node = &inner.children[i];
                }
                Node::Leaf(leaf) => return Some(leaf.get(rank)),
            }
        }
    }

    /// Number of entries `pred` holds for, i.e. the rank where it turns false. O(log n).
    pub(super) fn partition_point<P: Pred>(&self, pred: &P, slab: &Slab) -> usize {
        let mut node = &self.root;
        let mut before = 0;
        loop {
            match node {
                Node::Inner(inner) => {
                    let i = inner.partition(pred);
                    before += inner.count_before(i);
                    node = &inner.children[i];
                }
                Node::Leaf(leaf) => return before + leaf.partition(pred, slab),
            }
        }
    }

    /// A lazy iterator from ascending rank `start`, forward or (`rev`) backward to rank 0.
    pub(super) fn iter_from(&self, start: usize, rev: bool) -> TreeIter<'_> {
        let remaining = match (start < self.len, rev) {
            (false, _) => 0,
            (true, false) => self.len - start,
            (true, true) => start + 1,
        };
        let mut stack = SmallVec::new();
        let mut node = &self.root;
        let mut rank = start.min(self.len.saturating_sub(1));
        let leaf = loop {
            match node {
                Node::Inner(inner) => {
                    let (i, r) = inner.child_for_rank(rank);
                    stack.push((&**inner, i));
                    rank = r;
                    node = &inner.children[i];
                }
                Node::Leaf(leaf) => break &**leaf,
            }
        };
        TreeIter {
            stack,
            leaf,
            pos: rank,
            remaining,
            rev,
        }
    }

    /// Bytes owned by nodes and separator copies.
    pub(super) fn allocated_bytes(&self) -> usize {
        self.stats.leaves * size_of::<Leaf>()
            + self.stats.inners * Inner::BYTES
            + self.stats.sep_heap
    }

    /// Verifies every invariant in the module docs; returns nothing, panics on a violation.
    pub(super) fn check_invariants(&self, slab: &Slab) {
        let mut walk = Walk {
            slab,
            prev: None,
            leaves: 0,
            inners: 0,
            sep_heap: 0,
        };
        let n = walk.node(&self.root, 0, self.height, true, true, None, None);
        assert_eq!(n, self.len, "tree length disagrees with its entries");
        assert_eq!(walk.leaves, self.stats.leaves, "leaf count");
        assert_eq!(walk.inners, self.stats.inners, "inner node count");
        assert_eq!(walk.sep_heap, self.stats.sep_heap, "separator heap bytes");
    }
}

/// Inserts into the subtree at `node`; returns the right half if the node split.
fn insert_into(
    node: &mut Node,
    key: Key<'_>,
    id: u32,
    slab: &Slab,
    rightmost: bool,
    stats: &mut Stats,
) -> Option<Split> {
    match node {
        Node::Leaf(leaf) => {
            let pos = leaf.lower_bound(key, slab);
            if leaf.len() < LEAF_CAP {
                leaf.insert_at(pos, key.score, id);
                return None;
            }
            let mid = split_point(pos, rightmost, LEAF_CAP / 2, LEAF_CAP);
            let mut right = leaf.split_off(mid);
            if pos < mid {
                leaf.insert_at(pos, key.score, id);
            } else {
                right.insert_at(pos - mid, key.score, id);
            }
            let (sep_score, first) = right.get(0);
            let sep_member = if first == id {
                SmallBytes::new(key.member)
            } else {
                SmallBytes::new(slab.member(first))
            };
            stats.leaves += 1;
            stats.sep_heap += sep_member.heap_size();
            Some(Split {
                sep_score,
                sep_member,
                count: right.len(),
                node: Node::Leaf(right),
            })
        }
        Node::Inner(inner) => {
            let mut i = inner.child_for_key(key);
            let mut child_rightmost = rightmost && i + 1 == inner.children.len();
            // The rightmost leaf keeps its append-friendly split; others spill first.
            let full_leaf = matches!(&inner.children[i], Node::Leaf(l) if l.len() == LEAF_CAP);
            if full_leaf && !child_rightmost && inner.spill(i, slab, stats) {
                i = inner.child_for_key(key);
                child_rightmost = rightmost && i + 1 == inner.children.len();
            }
            inner.counts[i] += 1;
            let split = insert_into(
                &mut inner.children[i],
                key,
                id,
                slab,
                child_rightmost,
                stats,
            )?;
            debug_assert!(
                split.count < inner.counts[i],
                "both halves of a split hold entries"
            );
            inner.counts[i] -= split.count;
            inner.insert_child(i + 1, split);
            if inner.children.len() <= INNER_CAP {
                return None;
            }
            stats.inners += 1;
            Some(inner.split(i + 1, rightmost))
        }
    }
}

/// Removes `target` from the subtree at `node`, rebalancing children on the way back up.
fn remove_from(
    node: &mut Node,
    target: Target<'_>,
    slab: &Slab,
    stats: &mut Stats,
) -> Option<(f64, u32)> {
    match node {
        Node::Leaf(leaf) => {
            let pos = match target {
                Target::Key(key, id) => leaf.find_id(key.score, id)?,
                Target::Rank(rank) => rank,
            };
            Some(leaf.remove_at(pos))
        }
        Node::Inner(inner) => {
            let (i, sub) = match target {
                Target::Key(key, _) => (inner.child_for_key(key), target),
                Target::Rank(rank) => {
                    let (i, r) = inner.child_for_rank(rank);
                    (i, Target::Rank(r))
                }
            };
            let out = remove_from(&mut inner.children[i], sub, slab, stats)?;
            inner.counts[i] -= 1;
            let child = &inner.children[i];
            if child.occupancy() < child.min_occupancy() {
                inner.rebalance(i, slab, stats);
            }
            Some(out)
        }
    }
}

/// Lazy in-order iterator over `(score, id)`; O(log n) to start, O(1) amortised per step.
pub(super) struct TreeIter<'a> {
    /// Inner nodes above the current leaf, with the child index taken in each.
    stack: SmallVec<[(&'a Inner, usize); 8]>,
    leaf: &'a Leaf,
    /// Index in `leaf` of the next entry to yield.
    pos: usize,
    remaining: usize,
    rev: bool,
}

impl TreeIter<'_> {
    /// Moves to the first entry of the next leaf (or last entry of the previous one).
    fn step_leaf(&mut self) {
        loop {
            let (inner, i) = self
                .stack
                .pop()
                .expect("remaining > 0 means another leaf exists");
            let next = if self.rev {
                i.checked_sub(1)
            } else {
                Some(i + 1).filter(|&j| j < inner.children.len())
            };
            let Some(mut j) = next else { continue };
            let mut inner = inner;
            loop {
                self.stack.push((inner, j));
                match &inner.children[j] {
                    Node::Inner(child) => {
                        inner = child;
                        j = if self.rev {
                            child.children.len() - 1
                        } else {
                            0
                        };
                    }
                    Node::Leaf(leaf) => {
                        self.leaf = leaf;
                        self.pos = if self.rev {
                            leaf.len().wrapping_sub(1)
                        } else {
                            0
                        };
                        return;
                    }
                }
            }
        }
    }
}

impl Iterator for TreeIter<'_> {
    type Item = (f64, u32);

    fn next(&mut self) -> Option<(f64, u32)> {
        if self.remaining == 0 {
            return None;
        }
        // Rightmost-spine leaves are never empty, but stay robust: skip until in bounds.
        while self.pos >= self.leaf.len() {
            self.step_leaf();
        }
        let item = self.leaf.get(self.pos);
        self.remaining -= 1;
        if self.rev {
            self.pos = self.pos.wrapping_sub(1);
        } else {
            self.pos += 1;
        }
        Some(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ExactSizeIterator for TreeIter<'_> {}

/// State of the invariant walk: the previous key seen, to check global order, and tallies.
struct Walk<'a> {
    slab: &'a Slab,
    prev: Option<(f64, &'a [u8])>,
    leaves: usize,
    inners: usize,
    sep_heap: usize,
}

impl<'a> Walk<'a> {
    /// Checks the subtree at `node` (keys within `[lo, hi)`); returns its entry count.
    #[allow(clippy::too_many_arguments)]
    fn node(
        &mut self,
        node: &Node,
        depth: usize,
        height: usize,
        root: bool,
        rightmost: bool,
        lo: Option<Key<'_>>,
        hi: Option<Key<'_>>,
    ) -> usize {
        let occupancy = node.occupancy();
        if !root {
            let floor = if rightmost {
                if depth == height {
                    1
                } else {
                    2
                }
            } else {
                node.min_occupancy()
            };
            assert!(
                occupancy >= floor,
                "underfull node at depth {depth}: {occupancy} < {floor}"
            );
        }
        match node {
            Node::Leaf(leaf) => {
                assert_eq!(depth, height, "leaves must all sit at the same depth");
                self.leaves += 1;
                for i in 0..leaf.len() {
                    let (score, id) = leaf.get(i);
                    assert!(!score.is_nan());
                    let member = self.slab.member(id);
                    assert!(
                        self.slab.score(id) == score,
                        "slab and tree disagree on a score"
                    );
                    if let Some((ps, pm)) = self.prev {
                        assert_eq!(
                            cmp_key(ps, pm, Key { score, member }),
                            Ordering::Less,
                            "keys out of order"
                        );
                    }
                    if let Some(lo) = lo {
                        assert_ne!(
                            cmp_key(score, member, lo),
                            Ordering::Less,
                            "key below its separator"
                        );
                    }
                    if let Some(hi) = hi {
                        assert_eq!(
                            cmp_key(score, member, hi),
                            Ordering::Less,
                            "key at or above its separator"
                        );
                    }
                    self.prev = Some((score, member));
                }
                leaf.len()
            }
            Node::Inner(inner) => self.inner(inner, depth, height, rightmost, lo, hi),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn inner(
        &mut self,
        inner: &Inner,
        depth: usize,
        height: usize,
        rightmost: bool,
        lo: Option<Key<'_>>,
        hi: Option<Key<'_>>,
    ) -> usize {
        let n = inner.children.len();
        assert!((2..=INNER_CAP).contains(&n), "inner node with {n} children");
        assert_eq!(inner.sep_scores.len(), n - 1);
        assert_eq!(inner.sep_members.len(), n - 1);
        assert_eq!(inner.counts.len(), n);
        assert!(
            inner.counts.capacity() <= INNER_CAP + 1 && inner.children.capacity() <= INNER_CAP + 1
        );
        assert!(
            inner.sep_scores.capacity() <= INNER_CAP && inner.sep_members.capacity() <= INNER_CAP
        );
        self.inners += 1;
        self.sep_heap += inner
            .sep_members
            .iter()
            .map(SmallBytes::heap_size)
            .sum::<usize>();
        let mut total = 0;
        for (i, child) in inner.children.iter().enumerate() {
            let sep = |j: usize| Key {
                score: inner.sep_scores[j],
                member: inner.sep_members[j].as_slice(),
            };
            let child_lo = if i == 0 { lo } else { Some(sep(i - 1)) };
            let child_hi = if i + 1 == n { hi } else { Some(sep(i)) };
            let child_rightmost = rightmost && i + 1 == n;
            let c = self.node(
                child,
                depth + 1,
                height,
                false,
                child_rightmost,
                child_lo,
                child_hi,
            );
            assert_eq!(
                c, inner.counts[i],
                "subtree count disagrees with the subtree"
            );
            total += c;
        }
        total
    }
}
