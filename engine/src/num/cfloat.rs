//! C's `strtod` / `strtold` grammar (glibc, "C" locale), and Redis's `string2d` on top of it.
//!
//! Redis never parses a float itself: it calls `strtod` or `strtold` and then decides, from
//! where the parse stopped and from `errno`, whether to accept the result. So the accepted
//! language is glibc's, which is wider than Rust's `f64::from_str` (hex floats, `nan(...)`) and
//! narrower in one way (no leading whitespace once Redis has looked at the first byte). This
//! module recognises that grammar exactly, byte by byte, and leaves the arithmetic to Rust's
//! correctly rounded decimal parser or to `rustc_apfloat` (for hex and for long doubles), which
//! round like glibc: to nearest, ties to even, with gradual underflow.

use rustc_apfloat::ieee::Double;
use rustc_apfloat::{Float, Round};

/// One C float literal, recognised in full (the whole input, nothing left over).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CLiteral<'a> {
    /// `inf` or `infinity`, any case.
    Inf { negative: bool },
    /// `nan` or `nan(n-char-sequence)`, any case: a NaN, which every Redis caller rejects.
    Nan,
    /// Decimal digits with an optional point and exponent; `text` is the whole literal
    /// including its sign, in the form Rust's and apfloat's decimal parsers read.
    Decimal {
        negative: bool,
        text: &'a str,
        unsigned: &'a str,
        nonzero: bool,
    },
    /// `0x` hex digits with an optional point and optional binary exponent `p`; `digits` is
    /// what follows `0x`.
    Hex {
        negative: bool,
        digits: &'a str,
        has_exponent: bool,
        nonzero: bool,
    },
}

/// C's `isspace` in the "C" locale (the only locale Redis runs its number parsing in).
pub(crate) fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Recognises `s` as one complete `strtod` literal (no leading whitespace, nothing after it).
/// Returns `None` when `strtod` would stop before the end of `s` or convert nothing.
pub(crate) fn scan(s: &[u8]) -> Option<CLiteral<'_>> {
    let (negative, body) = match s.first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
        return Some(CLiteral::Inf { negative });
    }
    if body.len() >= 3 && body[..3].eq_ignore_ascii_case(b"nan") {
        return is_nan_tail(&body[3..]).then_some(CLiteral::Nan);
    }
    // The scanner below only accepts ASCII, so these conversions cannot fail.
    let text = std::str::from_utf8(s).ok()?;
    let unsigned = &text[s.len() - body.len()..];
    if body.len() >= 2 && body[0] == b'0' && (body[1] | 0x20) == b'x' {
        if let Some((nonzero, has_exponent)) = scan_hex(&body[2..]) {
            return Some(CLiteral::Hex {
                negative,
                digits: &unsigned[2..],
                has_exponent,
                nonzero,
            });
        }
        // `0x` not followed by a hex mantissa: strtod reads just the `0`, so the `x` is left
        // over and the literal is not complete.
        return None;
    }
    let nonzero = scan_decimal(body)?;
    Some(CLiteral::Decimal {
        negative,
        text,
        unsigned,
        nonzero,
    })
}

/// After `nan`: nothing, or `(` alphanumerics and underscores `)`.
fn is_nan_tail(tail: &[u8]) -> bool {
    match tail {
        [] => true,
        [b'(', inner @ .., b')'] => inner
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'_'),
        _ => false,
    }
}

/// `digits [. digits] [(e|E) [+-] digits]` with at least one mantissa digit, the whole input.
/// Returns whether any mantissa digit is non-zero.
fn scan_decimal(s: &[u8]) -> Option<bool> {
    let mut i = 0;
    let mut n_digits = 0;
    let mut nonzero = false;
    let mut seen_point = false;
    while i < s.len() {
        match s[i] {
            b'0'..=b'9' => {
                n_digits += 1;
                nonzero |= s[i] != b'0';
            }
            b'.' if !seen_point => seen_point = true,
            _ => break,
        }
        i += 1;
    }
    if n_digits == 0 {
        return None;
    }
    if i < s.len() && (s[i] | 0x20) == b'e' {
        i = scan_exponent(s, i + 1)?;
    }
    (i == s.len()).then_some(nonzero)
}

/// After `0x`: `hexdigits [. hexdigits] [(p|P) [+-] digits]` with at least one mantissa digit,
/// the whole input. Returns (any non-zero mantissa digit, has an exponent).
fn scan_hex(s: &[u8]) -> Option<(bool, bool)> {
    let mut i = 0;
    let mut n_digits = 0;
    let mut nonzero = false;
    let mut seen_point = false;
    while i < s.len() {
        match s[i] {
            b if b.is_ascii_hexdigit() => {
                n_digits += 1;
                nonzero |= b != b'0';
            }
            b'.' if !seen_point => seen_point = true,
            _ => break,
        }
        i += 1;
    }
    if n_digits == 0 {
        return None;
    }
    let has_exponent = i < s.len() && (s[i] | 0x20) == b'p';
    if has_exponent {
        i = scan_exponent(s, i + 1)?;
    }
    (i == s.len()).then_some((nonzero, has_exponent))
}

/// `[+-] digits` starting at `i`; returns the index after it. A marker without digits is not
/// consumed by strtod, which leaves the literal incomplete, so that is `None` here.
fn scan_exponent(s: &[u8], mut i: usize) -> Option<usize> {
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        i += 1;
    }
    let start = i;
    while i < s.len() && s[i].is_ascii_digit() {
        i += 1;
    }
    (i > start).then_some(i)
}

/// The hex body in the form apfloat reads (it insists on a binary exponent).
pub(crate) fn apfloat_hex_text(digits: &str, has_exponent: bool) -> String {
    let mut text = String::with_capacity(digits.len() + 4);
    text.push_str("0x");
    text.push_str(digits);
    if !has_exponent {
        text.push_str("p0");
    }
    text
}

/// Redis's `string2d` (util.c): `strtod` over the whole input, rejecting an empty input, a
/// leading space (`isspace(s[0])`), anything left over (an embedded NUL included), a NaN, and
/// a result that overflowed to ±HUGE_VAL or underflowed to zero (`errno == ERANGE`). The
/// literals `inf` / `-inf` / `infinity` are accepted; hex floats are accepted; denormal
/// results are accepted.
///
/// This is what `getDoubleFromObject` uses, so it is the parser for `ZADD` and `ZINCRBY`
/// scores (`ERR value is not a valid float`).
pub fn parse_f64(s: &[u8]) -> Option<f64> {
    if let Some(v) = small_integer(s) {
        return Some(v);
    }
    match scan(s)? {
        CLiteral::Inf { negative } => Some(if negative {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        }),
        CLiteral::Nan => None,
        CLiteral::Decimal { text, nonzero, .. } => {
            let v: f64 = text.parse().ok()?;
            erange_checked(v, nonzero)
        }
        CLiteral::Hex {
            negative,
            digits,
            has_exponent,
            nonzero,
        } => {
            let v = hex_to_f64(digits, has_exponent)?;
            erange_checked(if negative { -v } else { v }, nonzero)
        }
    }
}

pub use usher_protocol::double::small_integer;

/// `strtod`'s value for a hex literal (without its sign), as an `f64`.
fn hex_to_f64(digits: &str, has_exponent: bool) -> Option<f64> {
    let text = apfloat_hex_text(digits, has_exponent);
    let parsed = Double::from_str_r(&text, Round::NearestTiesToEven)
        .ok()?
        .value;
    Some(f64::from_bits(parsed.to_bits() as u64))
}

/// The `errno == ERANGE && (value == ±HUGE_VAL || value == 0)` rejection: a finite literal
/// that came out infinite overflowed, a non-zero literal that came out zero underflowed.
fn erange_checked(v: f64, nonzero: bool) -> Option<f64> {
    if v.is_infinite() || (v == 0.0 && nonzero) {
        None
    } else {
        Some(v)
    }
}

/// One end of a score range, as `ZRANGEBYSCORE`, `ZCOUNT`, `ZREMRANGEBYSCORE` and
/// `ZRANGE ... BYSCORE` read it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScoreBound {
    pub value: f64,
    /// Written with a leading `(`: the bound itself is excluded.
    pub exclusive: bool,
}

/// Redis's `zslParseRange`, one bound: an optional `(`, then bare `strtod` with only
/// `eptr[0] != '\0' || isnan(value)` as the rejection test (error text
/// `ERR min or max is not a float`). That is laxer than [`parse_f64`], and usher must be too:
/// - leading whitespace is skipped (`" 1"`, `"( 1"`, `"\t2"` are 1, 1 and 2);
/// - the empty string and a lone `(` convert nothing and leave `eptr` on the terminator, so they
///   are 0 (inclusive and exclusive);
/// - the input ends at its first NUL byte (`"1\0x"` is 1, `"\0abc"` is 0);
/// - overflow and underflow are not errors: `1e400` is `inf`, `1e-400` is 0.
pub fn parse_score_bound(s: &[u8]) -> Option<ScoreBound> {
    let (exclusive, s) = match s.first() {
        Some(b'(') => (true, &s[1..]),
        _ => (false, s),
    };
    let s = match s.iter().position(|&b| b == 0) {
        Some(nul) => &s[..nul],
        None => s,
    };
    if s.is_empty() {
        return Some(ScoreBound {
            value: 0.0,
            exclusive,
        });
    }
    let start = s.iter().position(|&b| !is_c_space(b))?;
    let value = match scan(&s[start..])? {
        CLiteral::Inf { negative } => {
            if negative {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            }
        }
        CLiteral::Nan => return None,
        CLiteral::Decimal { text, .. } => text.parse().ok()?,
        CLiteral::Hex {
            negative,
            digits,
            has_exponent,
            ..
        } => {
            let v = hex_to_f64(digits, has_exponent)?;
            if negative {
                -v
            } else {
                v
            }
        }
    };
    Some(ScoreBound { value, exclusive })
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values below came from redis-server 7.0.15 (`ZADD z <s> m` then `ZSCORE z m`,
    // or the error).
    #[test]
    fn parse_f64_accepts_what_zadd_accepts() {
        let ok: &[(&[u8], f64)] = &[
            (b"0x10", 16.0),
            (b"0x1p3", 8.0),
            (b"0X1P-2", 0.25),
            (b"0x.8p1", 1.0),
            (b"inf", f64::INFINITY),
            (b"-inf", f64::NEG_INFINITY),
            (b"+inf", f64::INFINITY),
            (b"Infinity", f64::INFINITY),
            (b"-INFINITY", f64::NEG_INFINITY),
            (b"0e-400", 0.0),
            (b"3e-324", f64::from_bits(1)), // the smallest denormal, 4.9406564584124654e-324
            (b"2.5e-324", f64::from_bits(1)),
            (b"+1", 1.0),
            (b".5", 0.5),
            (b"5.", 5.0),
            (b"1.e5", 100000.0),
            (b"1e308", 1e308),
            (b"1.7976931348623158e308", f64::MAX),
        ];
        for (s, v) in ok {
            assert_eq!(parse_f64(s), Some(*v), "{}", String::from_utf8_lossy(s));
        }
        assert!(parse_f64(b"-0").unwrap().is_sign_negative());
    }

    /// The integer fast path gives exactly what the general scan gives, at and around its
    /// 15-digit edge, with leading zeros and signs.
    #[test]
    fn small_integers_agree_with_the_general_path() {
        let general = |s: &[u8]| match scan(s) {
            Some(CLiteral::Decimal { text, nonzero, .. }) => {
                erange_checked(text.parse::<f64>().ok()?, nonzero)
            }
            _ => None,
        };
        for s in [
            &b"0"[..],
            b"-0",
            b"7",
            b"000000012345",
            b"-42",
            b"999999999999999",
            b"-999999999999999",
            b"1796582400123",
        ] {
            assert_eq!(
                small_integer(s),
                general(s),
                "{}",
                String::from_utf8_lossy(s)
            );
            assert_eq!(
                small_integer(s).map(f64::to_bits),
                general(s).map(f64::to_bits)
            );
        }
        for s in [
            &b"1234567890123456"[..],
            b"+1",
            b"",
            b"-",
            b"1.0",
            b" 1",
            b"1 ",
            b"--1",
        ] {
            assert_eq!(small_integer(s), None, "{}", String::from_utf8_lossy(s));
        }
        assert_eq!(parse_f64(b"1234567890123456"), Some(1234567890123456.0));
    }

    #[test]
    fn parse_f64_rejects_what_zadd_rejects() {
        let bad: &[&[u8]] = &[
            b"infinit",
            b"nan",
            b"NaN(1)",
            b"1e400",
            b"1e-400",
            b"2e-324",
            b"1\0",
            b"",
            b" 1",
            b"1 ",
            b".e5",
            b"0x",
            b"1e",
            b"1e+",
            b"\t1",
            b"\x0b1",
            b"1_0",
            b"1.7976931348623159e308",
            b"0x1p1024",
            b"0x1p-1080",
            b"-",
            b"+",
            b".",
            b"0x1p",
            b"0x.",
            b"1..2",
            b"--1",
            b"+-1",
            b"infx",
            b"nan(",
            b"nan(a b)",
        ];
        for s in bad {
            assert_eq!(parse_f64(s), None, "{}", String::from_utf8_lossy(s));
        }
    }

    // From redis-server 7.0.15: `ZADD z 1 a 2 b 3 c inf m`, then `ZCOUNT z <bound> +inf` and
    // `ZCOUNT z -inf <bound>`.
    #[test]
    fn score_bounds_follow_zsl_parse_range() {
        type Case = (&'static [u8], Option<(f64, bool)>);
        let cases: &[Case] = &[
            (b"", Some((0.0, false))),
            (b"(", Some((0.0, true))),
            (b"(1", Some((1.0, true))),
            (b" 1", Some((1.0, false))),
            (b"( 1", Some((1.0, true))),
            (b"\t2", Some((2.0, false))),
            (b"1\0x", Some((1.0, false))),
            (b"\0abc", Some((0.0, false))),
            (b"(inf", Some((f64::INFINITY, true))),
            (b"+inf", Some((f64::INFINITY, false))),
            (b"-inf", Some((f64::NEG_INFINITY, false))),
            (b"infinity", Some((f64::INFINITY, false))),
            (b"0x1", Some((1.0, false))),
            (b"(0x1", Some((1.0, true))),
            (b"1e400", Some((f64::INFINITY, false))),
            (b"1e-400", Some((0.0, false))),
            (b"1 ", None),
            (b"nan", None),
            (b"((1", None),
            (b" ", None),
            (b" \0", None),
            (b"abc", None),
            (b"-", None),
        ];
        for (s, want) in cases {
            let got = parse_score_bound(s).map(|b| (b.value, b.exclusive));
            assert_eq!(got, *want, "{}", String::from_utf8_lossy(s));
        }
    }
}
