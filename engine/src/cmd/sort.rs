//! SORT and SORT_RO: the elements of a list, set or sorted set, sorted numerically or
//! lexicographically, by themselves or by other keys (`BY weight_*`, `BY h_*->field`), with
//! values fetched from other keys (`GET`), a window (`LIMIT`), and for SORT a list result
//! stored under a key (`STORE`).
//!
//! Follows Redis 7.0.15's `sort.c` step for step: options left to right (a malformed LIMIT is
//! the integer error, an unknown word a syntax error), then the key's type, then LIMIT
//! clamped to the size; a BY pattern without `*` means "do not sort" (lists and sorted sets
//! keep their order, a set stored with STORE is sorted ALPHA so replicas agree); numeric
//! ties are broken by comparing the elements as bytes; with BY and a partial LIMIT the sort
//! is Redis's partial quicksort, whose order for equal keys is its own. ALPHA compares bytes
//! (Redis's `strcoll` in the C locale).
//!
//! BY and GET read keys anywhere in the keyspace, so these commands lock every shard.
//! Differences: a set's own iteration order (BY a constant without STORE, or ALPHA BY keys
//! that tie) is usher's, not Redis's dict order; `strtod` hexadecimal floats (`0x1p3`) are not
//! numbers here.

use crate::args::{self, is};
use crate::command::{cmd, CommandSpec, EngineHandler, Flags, Group, KeyPositions};
use crate::ctx::ExecCtx;
use crate::error::{CmdError, CmdResult};
use crate::keyspace_events as ev;
use crate::pqsort::pqsort;
use crate::types::list::{End, List};
use crate::value::{StrValue, Value};
use std::cmp::Ordering;
use usher_protocol::{errors, Argv, ReplySink};

type Spec = CommandSpec<EngineHandler>;

/// One element to sort, with what it sorts by.
struct Item {
    element: Vec<u8>,
    score: f64,
    /// The BY value for ALPHA sorts (None: the BY key is missing).
    by: Option<Vec<u8>>,
}

/// Redis's `lookupKeyByPattern`: `#` is the element itself; otherwise the first `*` is
/// replaced by the element, and `key->field` reads a hash field. Only strings (or hash
/// fields) are found; anything else is "missing".
fn lookup_by_pattern(ctx: &mut ExecCtx, pattern: &[u8], element: &[u8]) -> Option<Vec<u8>> {
    if pattern == b"#" {
        return Some(element.to_vec());
    }
    // C string semantics: the pattern ends at a NUL byte.
    let pattern = pattern.split(|&b| b == 0).next().unwrap_or(&[]);
    let star = pattern.iter().position(|&b| b == b'*')?;
    let after = &pattern[star + 1..];
    let arrow = after
        .windows(2)
        .position(|w| w == b"->")
        .filter(|&at| at + 2 < after.len());
    let (postfix, field) = match arrow {
        Some(at) => (&after[..at], Some(&after[at + 2..])),
        None => (after, None),
    };
    let mut key = Vec::with_capacity(pattern.len() + element.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(element);
    key.extend_from_slice(postfix);
    let now = ctx.now_ms;
    match (ctx.db(&key).get(&key, now)?, field) {
        (Value::Str(s), None) => Some(s.to_vec()),
        (Value::Hash(h), Some(f)) => h.get(f).map(<[u8]>::to_vec),
        _ => None,
    }
}

/// `strtod` as SORT uses it: the whole string (up to a NUL) must be a number, no NaN, no
/// overflow or underflow.
fn sort_score(value: &[u8]) -> Option<f64> {
    let s = value.split(|&b| b == 0).next().unwrap_or(&[]);
    if s.is_empty() {
        // strtod converts nothing and stops at the terminator: 0, no error.
        return Some(0.0);
    }
    let text = std::str::from_utf8(s).ok()?;
    let trimmed = text.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
    let v: f64 = trimmed.parse().ok()?;
    let lower = trimmed.to_ascii_lowercase();
    let literal_inf = lower.trim_start_matches(['+', '-']).starts_with("inf");
    if v.is_nan() || (v.is_infinite() && !literal_inf) {
        return None;
    }
    let has_nonzero_digit = trimmed
        .bytes()
        .take_while(|b| !matches!(b, b'e' | b'E'))
        .any(|b| (b'1'..=b'9').contains(&b));
    if (v == 0.0 && has_nonzero_digit) || (v != 0.0 && v.abs() < f64::MIN_POSITIVE) {
        return None;
    }
    Some(v)
}

/// The value of a string as SORT reads it: integers are exact.
fn numeric(value: &StrValue) -> Option<f64> {
    match value {
        StrValue::Int(i) => Some(*i as f64),
        other => sort_score(&other.to_vec()),
    }
}

/// Keys of SORT: the sorted key and the last STORE target (Redis's `sortGetKeys`).
fn sort_keys(argv: Argv<'_>) -> Option<KeyPositions> {
    let mut keys = KeyPositions::new();
    keys.push(1);
    let mut store = None;
    let mut i = 2;
    while i < argv.len() {
        let a = argv.arg(i);
        if is(a, "LIMIT") {
            i += 2;
        } else if is(a, "GET") || is(a, "BY") {
            i += 1;
        } else if is(a, "STORE") && i + 1 < argv.len() {
            store = Some(i + 1);
        }
        i += 1;
    }
    keys.extend(store);
    Some(keys)
}

/// Keys of SORT_RO: only the sorted key.
fn sort_ro_keys(_argv: Argv<'_>) -> Option<KeyPositions> {
    let mut keys = KeyPositions::new();
    keys.push(1);
    Some(keys)
}

/// ```text
/// SORT key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]]
///     [ASC | DESC] [ALPHA] [STORE destination]
/// ```
fn sort(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    sort_generic(ctx, argv, out, false)
}

/// ```text
/// SORT_RO key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]]
///     [ASC | DESC] [ALPHA]
/// ```
fn sort_ro(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    sort_generic(ctx, argv, out, true)
}

fn sort_generic(
    ctx: &mut ExecCtx,
    argv: Argv,
    out: &mut dyn ReplySink,
    read_only: bool,
) -> CmdResult {
    // The sorted key and every BY/GET lookup are `lookupKeyRead`s in Redis, SORT's included.
    crate::keyspace_stats::count_as_reads();
    let (mut desc, mut alpha, mut dont_sort) = (false, false, false);
    let (mut limit_start, mut limit_count): (i64, i64) = (0, -1);
    let mut by: Option<&[u8]> = None;
    let mut store: Option<&[u8]> = None;
    let mut gets: Vec<&[u8]> = Vec::new();
    let mut j = 2;
    while j < argv.len() {
        let left = argv.len() - j - 1;
        let a = argv.arg(j);
        if is(a, "ASC") {
            desc = false;
        } else if is(a, "DESC") {
            desc = true;
        } else if is(a, "ALPHA") {
            alpha = true;
        } else if is(a, "LIMIT") && left >= 2 {
            limit_start = args::int(argv.arg(j + 1))?;
            limit_count = args::int(argv.arg(j + 2))?;
            j += 2;
        } else if !read_only && is(a, "STORE") && left >= 1 {
            store = Some(argv.arg(j + 1));
            j += 1;
        } else if is(a, "BY") && left >= 1 {
            let pattern = argv.arg(j + 1);
            by = Some(pattern);
            // Sticky, as in Redis: a later BY with a `*` does not turn sorting back on.
            if !pattern
                .split(|&b| b == 0)
                .next()
                .unwrap_or(&[])
                .contains(&b'*')
            {
                dont_sort = true;
            } else if ctx.config.cluster_enabled {
                // Redis 7.0: the pattern's keys may live in any slot, on any node.
                return Err(CmdError::Static(
                    "ERR BY option of SORT denied in Cluster mode.",
                ));
            }
            j += 1;
        } else if is(a, "GET") && left >= 1 {
            if ctx.config.cluster_enabled {
                return Err(CmdError::Static(
                    "ERR GET option of SORT denied in Cluster mode.",
                ));
            }
            gets.push(argv.arg(j + 1));
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let (key, now) = (argv.arg(1), ctx.now_ms);
    let mut is_set = false;
    // The elements in the order the source gives them; for a sorted set also whether it is
    // already in score order.
    let mut elements: Vec<Vec<u8>> = match ctx.db(key).get(key, now) {
        None => Vec::new(),
        Some(Value::List(l)) => l.iter().map(|e| e.to_vec()).collect(),
        Some(Value::Set(s)) => {
            is_set = true;
            s.iter().map(|m| m.to_small_bytes().to_vec()).collect()
        }
        Some(Value::ZSet(z)) => z.iter().map(|(m, _)| m.to_vec()).collect(),
        Some(_) => return Err(CmdError::WrongType),
    };
    if dont_sort && is_set && store.is_some() {
        // Redis forces ALPHA here so the stored result does not depend on the set's order.
        dont_sort = false;
        alpha = true;
        by = None;
    }
    let len = elements.len() as i64;
    let mut start = limit_start.max(0).min(len);
    let limit_count = limit_count.max(-1).min(len);
    let mut end = if limit_count < 0 {
        len - 1
    } else {
        start + limit_count - 1
    };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    if end >= len {
        end = len - 1;
    }
    if dont_sort && !is_set {
        // Lists and sorted sets keep their order (reversed by DESC); LIMIT picks the window.
        if desc {
            elements.reverse();
        }
        if end >= start {
            elements = elements.drain(start as usize..=end as usize).collect();
        } else {
            elements.clear();
        }
        end -= start;
        start = 0;
    }
    let mut items: Vec<Item> = elements
        .into_iter()
        .map(|element| Item {
            element,
            score: 0.0,
            by: None,
        })
        .collect();
    if !dont_sort {
        let mut conversion_error = false;
        for item in &mut items {
            let by_value: Option<Vec<u8>> = match by {
                Some(pattern) => match lookup_by_pattern(ctx, pattern, &item.element) {
                    Some(v) => Some(v),
                    None => continue,
                },
                None => None,
            };
            if alpha {
                item.by = by_value;
            } else {
                let value = match &by_value {
                    Some(v) => StrValue::from_bytes(v),
                    None => StrValue::from_bytes(&item.element),
                };
                match numeric(&value) {
                    Some(score) => item.score = score,
                    None => conversion_error = true,
                }
            }
        }
        let by_pattern = by.is_some();
        let cmp = |a: &Item, b: &Item| -> i32 {
            let ord = if !alpha {
                match a.score.partial_cmp(&b.score) {
                    Some(Ordering::Equal) | None => a.element.cmp(&b.element),
                    Some(o) => o,
                }
            } else if by_pattern {
                match (&a.by, &b.by) {
                    (None, None) => Ordering::Equal,
                    (None, Some(_)) => Ordering::Less,
                    (Some(_), None) => Ordering::Greater,
                    (Some(x), Some(y)) => c_string_cmp(x, y, store.is_some()),
                }
            } else {
                c_string_cmp(&a.element, &b.element, store.is_some())
            };
            let c = match ord {
                Ordering::Less => -1,
                Ordering::Equal => 0,
                Ordering::Greater => 1,
            };
            if desc {
                -c
            } else {
                c
            }
        };
        if by_pattern && (start != 0 || end != len - 1) && !items.is_empty() {
            pqsort(&mut items, &cmp, start.max(0) as usize, end.max(0) as usize);
        } else {
            // glibc's qsort (a stable merge sort at these sizes).
            items.sort_by(|a, b| cmp(a, b).cmp(&0));
        }
        if conversion_error {
            return Err(CmdError::Static(errors::SORT_NOT_DOUBLE));
        }
    }
    let window: &[Item] = if end >= start && !items.is_empty() {
        &items[start as usize..=end as usize]
    } else {
        &[]
    };
    let output_len = if gets.is_empty() {
        window.len()
    } else {
        gets.len() * window.len()
    };
    match store {
        None => {
            out.array(output_len);
            for item in window {
                if gets.is_empty() {
                    out.bulk(&item.element);
                }
                for pattern in &gets {
                    match lookup_by_pattern(ctx, pattern, &item.element) {
                        Some(v) => out.bulk(&v),
                        None => out.null(),
                    }
                }
            }
        }
        Some(dst) => {
            let mut list = List::new();
            for item in window {
                if gets.is_empty() {
                    list.push(End::Tail, &item.element);
                }
                for pattern in &gets {
                    let v = lookup_by_pattern(ctx, pattern, &item.element).unwrap_or_default();
                    list.push(End::Tail, &v);
                }
            }
            if output_len > 0 {
                ctx.db(dst).set(dst, Value::List(Box::new(list)));
                ctx.modified(dst);
                ctx.notify(ev::LIST, "sortstore", dst);
                ctx.effects.dirty += output_len as u64 - 1;
                ctx.ready(dst);
            } else if ctx.db(dst).delete(dst, now) {
                ctx.modified(dst);
                ctx.notify(ev::GENERIC, "del", dst);
            }
            out.int(output_len as i64);
        }
    }
    Ok(())
}

/// ALPHA's comparison: with STORE, Redis compares whole byte strings; otherwise `strcoll`,
/// which in the C locale compares up to the first NUL byte.
fn c_string_cmp(a: &[u8], b: &[u8], binary: bool) -> Ordering {
    if binary {
        return a.cmp(b);
    }
    let cut = |s: &[u8]| -> usize { s.iter().position(|&c| c == 0).unwrap_or(s.len()) };
    a[..cut(a)].cmp(&b[..cut(b)])
}

const SORT_COMPLEXITY: &str = "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements. When the elements are not sorted, complexity is O(N).";

pub static COMMANDS: &[Spec] = &[
    cmd(
        "SORT",
        -2,
        Flags::WRITE.union(Flags::DENYOOM).union(Flags::ALL_SHARDS),
        sort as EngineHandler,
    )
    .keys(1, 1, 1)
    .movable_keys(sort_keys)
    .doc(
        Group::Generic,
        "1.0.0",
        "Sort the elements in a list, set or sorted set",
        SORT_COMPLEXITY,
    ),
    cmd(
        "SORT_RO",
        -2,
        Flags::READONLY.union(Flags::ALL_SHARDS),
        sort_ro as EngineHandler,
    )
    .keys(1, 1, 1)
    .movable_keys(sort_ro_keys)
    .doc(
        Group::Generic,
        "7.0.0",
        "Sort the elements in a list, set or sorted set. Read-only variant of SORT.",
        SORT_COMPLEXITY,
    ),
];
