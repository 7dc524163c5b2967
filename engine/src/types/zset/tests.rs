//! Model tests: every operation is replayed on a sorted `Vec` and the two must agree, in both
//! encodings. Under `cfg(test)` the tree has 4-entry leaves and 4-child inner nodes, the slab
//! 8-entry chunks and the index 3-member segments with a 6-bit directory cap, so a few hundred
//! operations split, merge, redistribute and collapse nodes, grow and split segments and fall
//! back to growing them, and cross the listpack -> big conversion.

use std::cmp::Ordering;
use std::collections::HashSet;

use proptest::prelude::*;
use rand::rngs::SmallRng;
use rand::SeedableRng;

use super::*;

/// The reference: a `Vec` kept sorted by Redis order.
#[derive(Default, Debug)]
struct Model {
    v: Vec<(f64, Vec<u8>)>,
}

fn redis_cmp(a: &(f64, Vec<u8>), b: &(f64, Vec<u8>)) -> Ordering {
    a.0.partial_cmp(&b.0)
        .expect("no NaN")
        .then_with(|| a.1.cmp(&b.1))
}

impl Model {
    fn pos(&self, m: &[u8]) -> Option<usize> {
        self.v.iter().position(|e| e.1 == m)
    }

    fn insert(&mut self, m: &[u8], s: f64) -> Option<f64> {
        if let Some(i) = self.pos(m) {
            let old = self.v[i].0;
            if old != s {
                self.v.remove(i);
                self.insert_sorted(m, s);
            }
            return Some(old);
        }
        self.insert_sorted(m, s);
        None
    }

    fn insert_sorted(&mut self, m: &[u8], s: f64) {
        let e = (s, m.to_vec());
        let at = self
            .v
            .partition_point(|x| redis_cmp(x, &e) == Ordering::Less);
        self.v.insert(at, e);
    }

    fn remove(&mut self, m: &[u8]) -> Option<f64> {
        self.pos(m).map(|i| self.v.remove(i).0)
    }

    fn in_score_range(s: f64, min: ScoreBound, max: ScoreBound) -> bool {
        let above_min = match min {
            ScoreBound::Inclusive(x) => s >= x,
            ScoreBound::Exclusive(x) => s > x,
        };
        let below_max = match max {
            ScoreBound::Inclusive(x) => s <= x,
            ScoreBound::Exclusive(x) => s < x,
        };
        above_min && below_max
    }
}

const SCORES: &[f64] = &[
    f64::NEG_INFINITY,
    -2.5,
    -0.0,
    0.0,
    1.0,
    2.0,
    3.0,
    4.0,
    5.5,
    7.0,
    1e300,
    f64::INFINITY,
];

/// Member `i`: mostly short (inline), every 7th longer than 23 bytes (heap), every 31st
/// longer than 64 bytes (forces the big encoding at default limits).
fn member(i: u16) -> Vec<u8> {
    match i {
        i if i % 31 == 30 => format!("{i:05}-{}", "x".repeat(70)).into_bytes(),
        i if i % 7 == 6 => format!("{i:05}-a-member-longer-than-inline").into_bytes(),
        i => format!("m{i:04}").into_bytes(),
    }
}

#[derive(Clone, Debug)]
enum Op {
    Insert(u16, usize),
    Remove(u16),
    PopMin,
    PopMax,
    RemoveRange(usize, usize),
}

fn op(members: u16) -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..members, 0..SCORES.len()).prop_map(|(m, s)| Op::Insert(m, s)),
        2 => (0..members).prop_map(Op::Remove),
        1 => Just(Op::PopMin),
        1 => Just(Op::PopMax),
        1 => (0usize..40, 0usize..6).prop_map(|(a, k)| Op::RemoveRange(a, a + k)),
    ]
}

fn limits() -> impl Strategy<Value = ZSetLimits> {
    (
        prop_oneof![Just(0usize), Just(1), Just(4), Just(16), Just(128)],
        prop_oneof![Just(8usize), Just(64)],
    )
        .prop_map(|(e, v)| ZSetLimits {
            max_listpack_entries: e,
            max_listpack_value: v,
        })
}

fn apply(zs: &mut ZSet, model: &mut Model, op: &Op, limits: &ZSetLimits) {
    match *op {
        Op::Insert(m, s) => {
            let (m, s) = (member(m), SCORES[s]);
            let got = zs.insert(&m, s, limits).map(f64::to_bits);
            assert_eq!(got, model.insert(&m, s).map(f64::to_bits), "insert {m:?}");
        }
        Op::Remove(m) => {
            let m = member(m);
            assert_eq!(
                zs.remove(&m).map(f64::to_bits),
                model.remove(&m).map(f64::to_bits)
            );
        }
        Op::PopMin => {
            let want = (!model.v.is_empty()).then(|| model.v.remove(0));
            assert_eq!(
                zs.pop_min().map(|(m, s)| (s.to_bits(), m.to_vec())),
                want.map(|(s, m)| (s.to_bits(), m))
            );
        }
        Op::PopMax => {
            let want = model.v.pop();
            assert_eq!(
                zs.pop_max().map(|(m, s)| (s.to_bits(), m.to_vec())),
                want.map(|(s, m)| (s.to_bits(), m))
            );
        }
        Op::RemoveRange(a, b) => {
            let n = if a < model.v.len() {
                b.min(model.v.len() - 1) - a + 1
            } else {
                0
            };
            if n > 0 {
                model.v.drain(a..a + n);
            }
            assert_eq!(zs.remove_rank_range(a, b), n);
        }
    }
}

/// Full comparison of contents, ranks and scores.
fn assert_same(zs: &ZSet, model: &Model) {
    zs.check_invariants();
    assert_eq!(zs.len(), model.v.len());
    let got: Vec<(u64, Vec<u8>)> = zs.iter().map(|(m, s)| (s.to_bits(), m.to_vec())).collect();
    let want: Vec<(u64, Vec<u8>)> = model
        .v
        .iter()
        .map(|(s, m)| (s.to_bits(), m.clone()))
        .collect();
    assert_eq!(got, want);
    for (rank, (s, m)) in model.v.iter().enumerate() {
        assert_eq!(zs.rank(m), Some(rank));
        // Where an element sits, and where one just after it (same score) would go.
        assert_eq!(zs.count_before(*s, m), rank);
        let mut next = m.clone();
        next.push(0);
        let probe = (*s, next);
        let before = model
            .v
            .iter()
            .filter(|e| redis_cmp(e, &probe) == Ordering::Less)
            .count();
        assert_eq!(zs.count_before(*s, &probe.1), before);
        let lower = model.v.iter().filter(|e| e.0 < *s).count();
        assert_eq!(zs.count_below_score(*s), lower);
        assert_eq!(zs.score(m).map(f64::to_bits), Some(s.to_bits()));
        assert_eq!(
            zs.get_by_rank(rank).map(|(m, s)| (m.to_vec(), s.to_bits())),
            Some((m.clone(), s.to_bits()))
        );
    }
    assert_eq!(zs.get_by_rank(model.v.len()), None);
}

fn score_bound(i: usize, excl: bool) -> ScoreBound {
    if excl {
        ScoreBound::Exclusive(SCORES[i])
    } else {
        ScoreBound::Inclusive(SCORES[i])
    }
}

/// Range queries and partial iteration against the model.
fn assert_queries(zs: &ZSet, model: &Model, q: &Queries) {
    let (min, max) = (
        score_bound(q.min, q.min_excl),
        score_bound(q.max, q.max_excl),
    );
    let inside: Vec<usize> = (0..model.v.len())
        .filter(|&i| Model::in_score_range(model.v[i].0, min, max))
        .collect();
    assert_eq!(
        zs.count_in_score_range(&min, &max),
        inside.len(),
        "{min:?} {max:?}"
    );
    assert_eq!(
        zs.first_rank_in_score_range(&min, &max),
        inside.first().copied()
    );
    assert_eq!(
        zs.last_rank_in_score_range(&min, &max),
        inside.last().copied()
    );
    let got: Vec<Vec<u8>> = zs
        .iter_from_rank(q.start, q.rev)
        .take(q.take)
        .map(|(m, _)| m.to_vec())
        .collect();
    let want: Vec<Vec<u8>> = if q.start >= model.v.len() {
        vec![]
    } else if q.rev {
        model.v[..=q.start]
            .iter()
            .rev()
            .take(q.take)
            .map(|e| e.1.clone())
            .collect()
    } else {
        model.v[q.start..]
            .iter()
            .take(q.take)
            .map(|e| e.1.clone())
            .collect()
    };
    assert_eq!(got, want, "iter_from_rank({}, {})", q.start, q.rev);
    let n = model.v.len();
    let want_len = if q.start >= n {
        0
    } else if q.rev {
        q.start + 1
    } else {
        n - q.start
    };
    assert_eq!(zs.iter_from_rank(q.start, q.rev).len(), want_len);
    // Mixed scores make lex answers encoding-specific (as in Redis); they must stay in bounds.
    let (lmin, lmax) = (
        LexBound::Inclusive(member(q.lex_min)),
        LexBound::Exclusive(member(q.lex_max)),
    );
    assert!(zs.count_in_lex_range(&lmin, &lmax) <= model.v.len());
    assert!(zs
        .first_rank_in_lex_range(&lmin, &lmax)
        .is_none_or(|r| r < model.v.len()));
    assert!(zs
        .last_rank_in_lex_range(&lmin, &lmax)
        .is_none_or(|r| r < model.v.len()));
    let mut rng = SmallRng::seed_from_u64(q.start as u64);
    match zs.random_member(&mut rng) {
        Some((m, _)) => assert!(model.pos(m).is_some()),
        None => assert!(model.v.is_empty()),
    }
}

#[derive(Clone, Debug)]
struct Queries {
    min: usize,
    min_excl: bool,
    max: usize,
    max_excl: bool,
    start: usize,
    rev: bool,
    take: usize,
    lex_min: u16,
    lex_max: u16,
}

fn queries() -> impl Strategy<Value = Queries> {
    let n = SCORES.len();
    (
        0..n,
        any::<bool>(),
        0..n,
        any::<bool>(),
        0usize..300,
        any::<bool>(),
        0usize..12,
        0u16..300,
        0u16..300,
    )
        .prop_map(
            |(min, min_excl, max, max_excl, start, rev, take, lex_min, lex_max)| Queries {
                min,
                min_excl,
                max,
                max_excl,
                start,
                rev,
                take,
                lex_min,
                lex_max,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Random operations on a small universe (many updates and misses) and a large one (deep
    /// trees), checked against the model after every step.
    #[test]
    fn operations_match_a_sorted_vec_model(
        universe in prop_oneof![Just(24u16), Just(300u16)],
        limits in limits(),
        ops in proptest::collection::vec((op(300), queries()), 1..400),
    ) {
        let mut zs = ZSet::new();
        let mut model = Model::default();
        for (op, q) in &ops {
            let op = match *op {
                Op::Insert(m, s) => Op::Insert(m % universe, s),
                Op::Remove(m) => Op::Remove(m % universe),
                ref other => other.clone(),
            };
            apply(&mut zs, &mut model, &op, &limits);
            assert_same(&zs, &model);
            assert_queries(&zs, &model, q);
        }
    }

    /// With equal scores (the documented use of lex ranges) both encodings answer exactly.
    #[test]
    fn lex_ranges_match_the_model_when_scores_are_equal(
        big in any::<bool>(),
        present in proptest::collection::btree_set(0u16..200, 0..160),
        bounds in proptest::collection::vec((0u16..210, 0u8..4, 0u16..210, 0u8..4), 1..20),
    ) {
        let limits = if big { ZSetLimits { max_listpack_entries: 0, ..ZSetLimits::default() } } else { ZSetLimits { max_listpack_entries: 1000, max_listpack_value: 1000 } };
        let mut zs = ZSet::new();
        let mut sorted: Vec<Vec<u8>> = present.iter().map(|&i| member(i)).collect();
        for m in &sorted {
            zs.insert(m, 0.0, &limits);
        }
        sorted.sort();
        let bound = |i: u16, kind: u8| match kind {
            0 => LexBound::Min,
            1 => LexBound::Max,
            2 => LexBound::Inclusive(member(i)),
            _ => LexBound::Exclusive(member(i)),
        };
        for &(a, ka, b, kb) in &bounds {
            let (min, max) = (bound(a, ka), bound(b, kb));
            let inside: Vec<usize> = (0..sorted.len())
                .filter(|&i| lex_gte_min(&sorted[i], &min) && lex_lte_max(&sorted[i], &max))
                .collect();
            prop_assert_eq!(zs.count_in_lex_range(&min, &max), inside.len(), "{:?} {:?}", min, max);
            prop_assert_eq!(zs.first_rank_in_lex_range(&min, &max), inside.first().copied());
            prop_assert_eq!(zs.last_rank_in_lex_range(&min, &max), inside.last().copied());
        }
    }

    /// Redis's SCAN guarantee: members present from the first call to the last are all
    /// returned, whatever is inserted, updated or removed between calls.
    #[test]
    fn scan_returns_every_member_present_throughout(
        initial in 0u16..400,
        count in 1usize..20,
        cursor_noise in any::<bool>(),
        steps in proptest::collection::vec(proptest::collection::vec((0u16..800, 0usize..SCORES.len(), 0u8..3), 0..6), 0..200),
    ) {
        let limits = ZSetLimits::default();
        let mut zs = ZSet::new();
        for i in 0..initial {
            zs.insert(&member(i), SCORES[usize::from(i) % SCORES.len()], &limits);
        }
        let mut throughout: HashSet<Vec<u8>> = (0..initial).map(member).collect();
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut calls = 0;
        loop {
            cursor = zs.scan(cursor, count, |m, _| {
                seen.insert(m.to_vec());
            });
            calls += 1;
            if cursor == 0 {
                break;
            }
            prop_assert!(calls < 10_000, "scan does not terminate");
            for &(m, s, what) in steps.get(calls - 1).map(Vec::as_slice).unwrap_or(&[]) {
                let m = member(m);
                match what {
                    0 => drop(zs.insert(&m, SCORES[s], &limits)),
                    1 => {
                        zs.remove(&m);
                        throughout.remove(&m);
                    }
                    _ => drop(zs.pop_min().map(|(m, _)| throughout.remove(m.as_slice()))),
                }
            }
        }
        let missed: Vec<_> = throughout.difference(&seen).collect();
        prop_assert!(missed.is_empty(), "scan missed {} members", missed.len());
        zs.check_invariants();
        // A cursor the set never produced still terminates and stays in bounds.
        if cursor_noise {
            let mut c = 0x9e37_79b9_7f4a_7c15u64;
            for _ in 0..10_000 {
                c = zs.scan(c, count, |_, _| {});
                if c == 0 { break; }
            }
            prop_assert_eq!(c, 0);
        }
    }
}

#[test]
fn small_sets_are_listpacks_until_the_entry_limit() {
    let limits = ZSetLimits {
        max_listpack_entries: 3,
        max_listpack_value: 64,
    };
    let mut zs = ZSet::new();
    for (i, m) in [b"a", b"b", b"c"].iter().enumerate() {
        assert_eq!(zs.insert(*m, i as f64, &limits), None);
        assert_eq!(zs.encoding_name(), "listpack");
    }
    // Updates never convert, even at the limit.
    assert_eq!(zs.insert(b"a", 9.0, &limits), Some(0.0));
    assert_eq!(zs.encoding_name(), "listpack");
    zs.insert(b"d", 3.0, &limits);
    assert_eq!(zs.encoding_name(), "skiplist");
    // Redis 7.0 never converts back on its own.
    zs.pop_min();
    zs.pop_min();
    assert_eq!(zs.encoding_name(), "skiplist");
    zs.convert_to_listpack_if_fits(&limits);
    assert_eq!(zs.encoding_name(), "listpack");
    assert_eq!(
        zs.iter().map(|(m, _)| m.to_vec()).collect::<Vec<_>>(),
        vec![b"d".to_vec(), b"a".to_vec()]
    );
}

#[test]
fn a_long_member_converts_and_zero_entries_means_always_big() {
    let limits = ZSetLimits {
        max_listpack_entries: 128,
        max_listpack_value: 4,
    };
    let mut zs = ZSet::new();
    zs.insert(b"abcd", 1.0, &limits);
    assert_eq!(zs.encoding_name(), "listpack");
    zs.insert(b"abcde", 1.0, &limits);
    assert_eq!(zs.encoding_name(), "skiplist");
    let mut zs = ZSet::new();
    zs.insert(
        b"a",
        1.0,
        &ZSetLimits {
            max_listpack_entries: 0,
            max_listpack_value: 64,
        },
    );
    assert_eq!(zs.encoding_name(), "skiplist");
    zs.check_invariants();
}

#[test]
fn an_equal_score_update_keeps_the_stored_zero_sign() {
    // Redis: `if (score != curscore)` guards the update, so 0 over -0 changes nothing.
    for limits in [
        ZSetLimits::default(),
        ZSetLimits {
            max_listpack_entries: 0,
            max_listpack_value: 64,
        },
    ] {
        let mut zs = ZSet::new();
        assert_eq!(zs.insert(b"a", -0.0, &limits), None);
        assert_eq!(
            zs.insert(b"a", 0.0, &limits).map(f64::to_bits),
            Some((-0.0f64).to_bits())
        );
        assert_eq!(zs.score(b"a").map(f64::to_bits), Some((-0.0f64).to_bits()));
        // -0 and 0 tie, so members decide the order.
        zs.insert(b"0", 0.0, &limits);
        assert_eq!(zs.rank(b"0"), Some(0));
    }
}

#[test]
fn appended_arrivals_fill_leaves_completely() {
    let limits = ZSetLimits::default();
    let mut zs = ZSet::new();
    for i in 0..1000u32 {
        zs.insert(format!("user:{i}").as_bytes(), f64::from(i), &limits);
    }
    zs.check_invariants();
    let Repr::Big(big) = &zs.repr else {
        panic!("1000 members are big")
    };
    // 1000 entries in 4-entry leaves: 250 leaves when full, 500 if every split were even.
    assert!(
        big.allocated_bytes() < 260 * size_of::<tree::Leaf>() + 200 * 1024,
        "{}",
        big.allocated_bytes()
    );
}

#[test]
fn score_ranges_follow_redis_bounds() {
    let limits = ZSetLimits {
        max_listpack_entries: 0,
        max_listpack_value: 64,
    };
    let mut zs = ZSet::new();
    for (m, s) in [
        ("a", 1.0),
        ("b", 2.0),
        ("c", 2.0),
        ("d", 3.0),
        ("e", f64::INFINITY),
    ] {
        zs.insert(m.as_bytes(), s, &limits);
    }
    let (inc, exc) = (ScoreBound::Inclusive, ScoreBound::Exclusive);
    assert_eq!(
        zs.count_in_score_range(&inc(f64::NEG_INFINITY), &inc(f64::INFINITY)),
        5
    );
    assert_eq!(zs.count_in_score_range(&exc(1.0), &exc(3.0)), 2);
    assert_eq!(zs.first_rank_in_score_range(&exc(1.0), &inc(3.0)), Some(1));
    assert_eq!(zs.last_rank_in_score_range(&exc(1.0), &exc(3.0)), Some(2));
    assert_eq!(zs.first_rank_in_score_range(&inc(2.0), &exc(2.0)), None);
    assert_eq!(
        zs.first_rank_in_score_range(&exc(f64::INFINITY), &inc(f64::INFINITY)),
        None
    );
    assert_eq!(
        zs.last_rank_in_score_range(&inc(f64::INFINITY), &inc(f64::INFINITY)),
        Some(4)
    );
}

#[test]
fn lex_ranges_reject_empty_and_inverted_bounds_like_redis() {
    for limits in [
        ZSetLimits::default(),
        ZSetLimits {
            max_listpack_entries: 0,
            max_listpack_value: 64,
        },
    ] {
        let mut zs = ZSet::new();
        for m in ["a", "b", "c"] {
            zs.insert(m.as_bytes(), 0.0, &limits);
        }
        let b = |s: &str| s.as_bytes().to_vec();
        assert_eq!(zs.count_in_lex_range(&LexBound::Min, &LexBound::Max), 3);
        assert_eq!(zs.count_in_lex_range(&LexBound::Max, &LexBound::Min), 0);
        assert_eq!(zs.count_in_lex_range(&LexBound::Min, &LexBound::Min), 0);
        assert_eq!(
            zs.count_in_lex_range(&LexBound::Inclusive(b("b")), &LexBound::Inclusive(b("b"))),
            1
        );
        assert_eq!(
            zs.count_in_lex_range(&LexBound::Exclusive(b("b")), &LexBound::Inclusive(b("b"))),
            0
        );
        assert_eq!(
            zs.first_rank_in_lex_range(&LexBound::Exclusive(b("a")), &LexBound::Max),
            Some(1)
        );
        assert_eq!(
            zs.last_rank_in_lex_range(&LexBound::Min, &LexBound::Exclusive(b("c"))),
            Some(1)
        );
    }
}

#[test]
fn a_listpack_scan_returns_everything_at_once() {
    let mut zs = ZSet::new();
    for m in ["a", "b", "c"] {
        zs.insert(m.as_bytes(), 0.0, &ZSetLimits::default());
    }
    let mut n = 0;
    assert_eq!(zs.scan(12345, 1, |_, _| n += 1), 0);
    assert_eq!(n, 3);
}

#[test]
fn removing_every_rank_empties_a_big_set() {
    let limits = ZSetLimits {
        max_listpack_entries: 0,
        max_listpack_value: 64,
    };
    let mut zs = ZSet::new();
    for i in 0..100u32 {
        zs.insert(format!("m{i}").as_bytes(), f64::from(i % 7), &limits);
    }
    assert_eq!(zs.remove_rank_range(0, usize::MAX), 100);
    assert!(zs.is_empty());
    zs.check_invariants();
    zs.insert(b"x", 1.0, &limits);
    assert_eq!(zs.rank(b"x"), Some(0));
}

#[test]
fn a_clone_is_independent_and_keeps_its_invariants() {
    let limits = ZSetLimits {
        max_listpack_entries: 4,
        max_listpack_value: 64,
    };
    let mut zs = ZSet::new();
    for i in 0..200u16 {
        zs.insert(&member(i), f64::from(i % 13), &limits);
    }
    let copy = zs.clone();
    for i in 0..150u16 {
        zs.remove(&member(i));
    }
    zs.insert(b"late", 1.0, &limits);
    copy.check_invariants();
    zs.check_invariants();
    assert_eq!(copy.len(), 200);
    assert!(copy.allocated_bytes() > zs.allocated_bytes());
    let mut grown = copy.clone();
    for i in 200..400u16 {
        grown.insert(&member(i), 0.5, &limits);
    }
    grown.check_invariants();
    assert_eq!(grown.len(), 400);
}

#[test]
fn bounds_admit_like_redis_range_checks() {
    assert!(ScoreBound::Inclusive(1.0).admits_as_min(1.0));
    assert!(!ScoreBound::Exclusive(1.0).admits_as_min(1.0));
    assert!(ScoreBound::Inclusive(f64::INFINITY).admits_as_max(f64::INFINITY));
    assert!(!ScoreBound::Exclusive(2.0).admits_as_max(2.0));
    assert!(LexBound::Min.admits_as_min(b""));
    assert!(!LexBound::Min.admits_as_max(b""));
    assert!(LexBound::Max.admits_as_max(b"\xff"));
    assert!(LexBound::Inclusive(b"b".to_vec()).admits_as_max(b"b"));
    assert!(!LexBound::Exclusive(b"b".to_vec()).admits_as_min(b"b"));
}

#[test]
fn a_set_created_big_stays_big_and_keeps_negative_zero() {
    let limits = ZSetLimits::default();
    let mut zs = ZSet::new_big();
    assert!(!zs.is_listpack());
    assert_eq!(zs.encoding_name(), "skiplist");
    assert!(zs.is_empty());
    for i in 0..20u16 {
        zs.insert(
            &member(i),
            if i == 3 { -0.0 } else { f64::from(i) },
            &limits,
        );
    }
    zs.check_invariants();
    assert!(!zs.is_listpack(), "a big set never turns back by itself");
    assert!(zs.score(&member(3)).unwrap().is_sign_negative());
    assert_eq!(
        zs.rank(&member(3)),
        Some(1),
        "-0 ties with 0 and sorts by member"
    );
    assert!(ZSet::new().is_listpack());
}
