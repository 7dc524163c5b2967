//! Redis's glob-style matcher, `stringmatchlen` (util.c), reproduced exactly: `KEYS`,
//! `SCAN ... MATCH`, `PSUBSCRIBE` and `CONFIG GET` (case-insensitive) all match with it, and
//! a pattern must select the same names on usher as on Redis, odd corners included.
//!
//! The language: `*` (any run), `?` (any one byte), `[...]` (one byte from a set: `^` first
//! negates, `a-z` is a range, `\x` is a literal `x`) and `\x` (a literal `x`). The corners,
//! each checked against redis-server 7.0.15 (see the tests and `glob/testdata_glob.txt`):
//! - A range may be written backwards: `[z-a]` is `[a-z]`.
//! - Ranges compare C `char`s, which are signed on x86-64: bytes 0x80..=0xff sort *below*
//!   0x00. So `[a-\xff]` is the range -1..=97 and matches `\xff` and `A` but not `\x80`.
//! - Case-insensitive ranges lower-case their ends *after* ordering them, through glibc's
//!   `tolower`, which maps the negative chars to 128..=254 except -1 (`\xff`, which is `EOF`
//!   to `tolower` and stays -1): `[Z-a]` becomes 122..=97 and matches nothing, `[z-A]` becomes
//!   `[a-z]`, `[\x80-z]` matches nothing, and `[t-\xff]` is -1..=116.
//! - Inside brackets `\x` always compares case-sensitively, even when matching without case.
//! - An unclosed `[` runs to the end of the pattern and still consumes one byte: `[abc` is
//!   `[abc]`, `[^` matches any single byte, a lone `[` matches nothing.
//! - A trailing lone `\` is a literal backslash.
//! - `]` right after `[` closes an empty set (`[]` matches nothing, `[^]` any one byte), and
//!   a range may swallow the closing bracket: `[a-]` is the unclosed range `]..=a`.
//!
//! Cost is bounded the way Redis bounds it (CVE-2022-36021 and CVE-2024-31228, both in the
//! Debian 7.0.15 build usher is measured against): when the rest of a pattern after a `*`
//! fails at every position, no earlier `*` retries (`skip_longer`), which makes matching
//! O(pattern × string) instead of exponential; and `*` recursion deeper than 1000 levels is a
//! non-match, so a hostile pattern cannot overflow the stack. A pattern with more than 1000
//! separate `*` groups therefore never matches a string that needs them all (as on Redis).

/// Redis's nesting limit for `*` recursion (`if (nesting > 1000) return 0;`).
const NESTING_MAX: u32 = 1000;

/// Whether `s` matches the glob `pattern`; `nocase` lower-cases ASCII letters on both sides
/// (Redis uses it for `CONFIG GET` only).
pub fn glob_match(pattern: &[u8], s: &[u8], nocase: bool) -> bool {
    let mut skip_longer = false;
    match_from(pattern, s, nocase, &mut skip_longer, 0)
}

/// Whether `pattern` has no special byte (`*`, `?`, `[`, `\`), so that it matches exactly the
/// one string equal to it (ASCII case aside, when matching without case). Callers can then
/// look the name up instead of scanning.
pub fn is_literal(pattern: &[u8]) -> bool {
    !pattern
        .iter()
        .any(|b| matches!(b, b'*' | b'?' | b'[' | b'\\'))
}

/// The pattern byte at `i`, or 0 past the end: Redis's patterns are NUL-terminated `sds`
/// strings, and `stringmatchlen` reads that terminator in a few places.
fn at(p: &[u8], i: usize) -> u8 {
    p.get(i).copied().unwrap_or(0)
}

/// `stringmatchlen_impl`. `pi` and `si` play the roles of the C code's advancing `pattern` and
/// `string` pointers; `p.len() - pi` and `s.len() - si` are its `patternLen` and `stringLen`.
fn match_from(p: &[u8], s: &[u8], nocase: bool, skip_longer: &mut bool, nesting: u32) -> bool {
    if nesting > NESTING_MAX {
        return false;
    }
    let mut pi = 0;
    let mut si = 0;
    while pi < p.len() && si < s.len() {
        match p[pi] {
            b'*' => {
                while pi < p.len() && at(p, pi + 1) == b'*' {
                    pi += 1;
                }
                if p.len() - pi == 1 {
                    return true;
                }
                while si < s.len() {
                    if match_from(&p[pi + 1..], &s[si..], nocase, skip_longer, nesting + 1) {
                        return true;
                    }
                    if *skip_longer {
                        return false;
                    }
                    si += 1;
                }
                // Nothing after this `*` matched at any position, so no earlier `*` can make it
                // match by consuming more: tell them all to stop.
                *skip_longer = true;
                return false;
            }
            b'?' => si += 1,
            b'[' => {
                let (matched, end) = match_class(p, pi + 1, s[si], nocase);
                if !matched {
                    return false;
                }
                pi = end;
                si += 1;
            }
            literal => {
                let mut c = literal;
                if literal == b'\\' && p.len() - pi >= 2 {
                    pi += 1;
                    c = p[pi];
                }
                if !bytes_equal(c, s[si], nocase) {
                    return false;
                }
                si += 1;
            }
        }
        pi += 1;
        if si == s.len() {
            while at(p, pi) == b'*' {
                pi += 1;
            }
            break;
        }
    }
    pi >= p.len() && si == s.len()
}

/// Matches byte `c` against the class whose body starts at `pi` (just after `[`). Returns
/// whether it matched and the index of the class's last byte (its `]`, or the last byte of an
/// unclosed class), which the caller steps over.
fn match_class(p: &[u8], mut pi: usize, c: u8, nocase: bool) -> (bool, usize) {
    let negate = at(p, pi) == b'^';
    if negate {
        pi += 1;
    }
    let mut matched = false;
    loop {
        let rest = p.len() - pi;
        if at(p, pi) == b'\\' && rest >= 2 {
            pi += 1;
            // Escapes inside a class compare exactly, whatever `nocase` says.
            matched |= p[pi] == c;
        } else if at(p, pi) == b']' {
            break;
        } else if rest == 0 {
            // Unclosed: step back onto the last byte, which the caller steps over.
            pi -= 1;
            break;
        } else if rest >= 3 && p[pi + 1] == b'-' {
            matched |= in_range(p[pi], p[pi + 2], c, nocase);
            pi += 2;
        } else {
            matched |= bytes_equal(p[pi], c, nocase);
        }
        pi += 1;
    }
    (matched != negate, pi)
}

/// `[start-end]` as Redis evaluates it: signed chars, ends swapped into order, then (without
/// case) all three lower-cased through glibc's `tolower`.
fn in_range(start: u8, end: u8, c: u8, nocase: bool) -> bool {
    let (mut lo, mut hi, mut c) = (c_char(start), c_char(end), c_char(c));
    if lo > hi {
        std::mem::swap(&mut lo, &mut hi);
    }
    if nocase {
        lo = c_tolower(lo);
        hi = c_tolower(hi);
        c = c_tolower(c);
    }
    lo <= c && c <= hi
}

/// A byte as x86-64's signed `char`, widened to `int`.
fn c_char(b: u8) -> i32 {
    b as i8 as i32
}

/// glibc's `tolower` in the "C" locale over the `char` range -128..=127: ASCII capitals fold,
/// negative chars map to their unsigned value (128..=254), except -1, which is `EOF` and maps
/// to itself; everything else is unchanged.
fn c_tolower(c: i32) -> i32 {
    match c {
        -128..=-2 => c + 256,
        65..=90 => c + 32,
        _ => c,
    }
}

/// `pattern[0] == string[0]`, or `tolower(..) == tolower(..)` without case. glibc's `tolower`
/// maps bytes one-to-one apart from ASCII capitals, so this is ASCII case folding.
fn bytes_equal(a: u8, b: u8, nocase: bool) -> bool {
    a == b || (nocase && a.eq_ignore_ascii_case(&b))
}

#[cfg(test)]
mod tests;
