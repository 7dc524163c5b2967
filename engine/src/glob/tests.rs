//! Tests of `glob_match` against (pattern, string, matched) triples read from redis-server 7.0.15.

use super::*;
use crate::num::tests::{data_fields, Field};

/// Replays `<1|0> <s|i> "pattern" "string"` lines; returns the mismatches.
fn replay(text: &str) -> Vec<String> {
    let mut bad = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let f = data_fields(line);
        let want = f[0] == Field::Word("1".into());
        let nocase = f[1] == Field::Word("i".into());
        if glob_match(f[2].bytes(), f[3].bytes(), nocase) != want {
            bad.push(line.to_string());
        }
    }
    bad
}

#[test]
fn replays_redis_vectors() {
    let bad = replay(include_str!("testdata_glob.txt"));
    assert!(
        bad.is_empty(),
        "{} mismatches:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

fn m(pattern: &[u8], s: &[u8]) -> bool {
    glob_match(pattern, s, false)
}

// The expectations below came from redis-server 7.0.15 (`KEYS`, `CONFIG GET`, `PSUBSCRIBE`).
#[test]
fn basics() {
    assert!(m(b"h?llo", b"hello"));
    assert!(m(b"h*llo", b"heeeello"));
    assert!(m(b"h[ae]llo", b"hallo"));
    assert!(!m(b"h[^e]llo", b"hello"));
    assert!(m(b"h[a-b]llo", b"hbllo"));
    assert!(
        m(b"h[b-a]llo", b"hbllo"),
        "a backwards range is ordered first"
    );
    assert!(m(b"h\\*llo", b"h*llo"));
    assert!(!m(b"h\\*llo", b"hello"));
    assert!(m(b"", b""));
    assert!(!m(b"", b"a"));
}

#[test]
fn star_does_not_match_the_empty_string() {
    // `KEYS *` and `SCAN` without MATCH short-cut to "everything", but the matcher itself never
    // enters its loop for an empty string: `PSUBSCRIBE *` does not receive `PUBLISH "" x`, and
    // `KEYS **` does not list the empty key.
    assert!(!m(b"*", b""));
    assert!(!m(b"**", b""));
    assert!(m(b"*", b"a"));
}

#[test]
fn unclosed_brackets_and_stray_escapes() {
    assert!(!m(b"[", b"a"), "a lone [ matches nothing");
    assert!(m(b"[^", b"a"), "[^ matches any one byte");
    assert!(m(b"[abc", b"b"));
    assert!(!m(b"[abc", b"bc"));
    assert!(!m(b"[]", b"a"));
    assert!(m(b"[^]", b"a"));
    assert!(m(b"a\\", b"a\\"), "a trailing backslash is literal");
    assert!(m(b"[\\]]", b"]"));
    // `a-]` is a range (93..=97 once ordered) that swallows the closing bracket, leaving
    // the class unclosed.
    assert!(m(b"[a-]", b"]"));
    assert!(m(b"[a-]", b"a"));
    assert!(m(b"[a-]", b"_"));
    assert!(!m(b"[a-]", b"-"));
    assert!(
        !m(b"[]]", b"]"),
        "[] closes at once, then ] must match a second byte"
    );
}

#[test]
fn ranges_compare_signed_chars() {
    // [a-\xff] is -1..=97 with signed chars.
    assert!(m(b"[a-\xff]", b"\xff"));
    assert!(m(b"[a-\xff]", b"A"));
    assert!(!m(b"[a-\xff]", b"\x80"));
    assert!(!m(b"[a-\xff]", b"b"));
}

#[test]
fn case_insensitive_quirks() {
    // `CONFIG GET <pattern>` on redis-server 7.0.15.
    let i = |p: &[u8], s: &[u8]| glob_match(p, s, true);
    assert!(i(b"MAX*", b"maxmemory"));
    assert!(i(b"[z-A]axmemory", b"maxmemory"));
    assert!(
        !i(b"[Z-a]axmemory", b"maxmemory"),
        "ends are lower-cased after ordering"
    );
    assert!(i(b"[M-M]axmemory", b"maxmemory"));
    assert!(
        !i(b"[\x80-z]axmemory", b"maxmemory"),
        "tolower(-128) is 128"
    );
    assert!(
        i(b"cLuS[t-\xff]eR-*iMEoUT", b"cluster-node-timeout"),
        "tolower(-1) is EOF"
    );
    assert!(
        !i(b"maxmemor[\\Y]", b"maxmemory"),
        "escapes in a class keep their case"
    );
    assert!(i(b"maxmemor[\\y]", b"maxmemory"));
    assert!(i(b"maxmemor[^", b"maxmemory"));
}

#[test]
fn star_nesting_is_capped_at_1000() {
    // From redis-server 7.0.15 (Debian): `KEYS` with these patterns against the key a^n.
    for (n, star_a, a_star, star_a_star) in [
        (999, true, true, true),
        (1000, true, true, true),
        (1001, false, true, true),
        (1002, false, false, false),
    ] {
        let key = vec![b'a'; n];
        assert_eq!(m(&b"*a".repeat(n), &key), star_a, "(*a)^{n}");
        assert_eq!(m(&b"a*".repeat(n), &key), a_star, "(a*)^{n}");
        let mut p = b"*a".repeat(n - 1);
        p.push(b'*');
        assert_eq!(m(&p, &key), star_a_star, "(*a)^{}*", n - 1);
    }
}

#[test]
fn hostile_patterns_finish_quickly() {
    // Exponential without the skip rule: each star would retry every split of the string.
    let s = vec![b'a'; 20_000];
    let mut p = b"a*".repeat(40);
    p.push(b'b');
    assert!(!m(&p, &s));
    let p = b"*a".repeat(5_000);
    assert!(!m(&p, &s[..4_000]));
}

#[test]
fn literals() {
    assert!(is_literal(b"user:1000"));
    assert!(is_literal(b""));
    assert!(is_literal(b"a]b^c-d"));
    for special in [&b"a*"[..], b"?", b"[ab]", b"a\\b"] {
        assert!(!is_literal(special));
    }
}
