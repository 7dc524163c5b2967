//! The x87 80-bit `long double` that Redis's `INCRBYFLOAT`, `HINCRBYFLOAT` and blocking
//! timeouts compute in on x86-64, with glibc's `strtold` parsing and `%.17Lf` printing.
//!
//! Arithmetic is `rustc_apfloat`'s `X87DoubleExtended`: 64-bit significand, 15-bit exponent,
//! round to nearest with ties to even and gradual underflow, which is what the x87 unit does
//! at Linux's default precision control. Printing is exact: the value's binary expansion is
//! turned into decimal with integer arithmetic and rounded once, ties to even, as glibc's
//! `printf` does.

use num_bigint::BigUint;
use rustc_apfloat::ieee::X87DoubleExtended;
use rustc_apfloat::{Float, Round, Status};

use super::cfloat::{apfloat_hex_text, scan, CLiteral};

/// Redis's `MAX_LONG_DOUBLE_CHARS` (5 KiB): `string2ld` copies its input into a buffer of this
/// size, so an input of this length or more is rejected outright.
pub const MAX_LONG_DOUBLE_CHARS: usize = 5 * 1024;

/// `10^17`, the scale of `%.17Lf`'s fraction.
const FRACTION_SCALE: u128 = 100_000_000_000_000_000;

/// The x87 exponent bias.
const EXP_BIAS: i32 = 16383;

/// A C `long double` on x86-64 (x87 extended precision).
#[derive(Clone, Copy, Debug)]
pub struct LongDouble(X87DoubleExtended);

impl LongDouble {
    /// Positive zero.
    pub const ZERO: LongDouble = LongDouble(X87DoubleExtended::ZERO);

    /// Redis's `string2ld` (util.c): `strtold` over the whole input, rejecting an empty input,
    /// one of [`MAX_LONG_DOUBLE_CHARS`] bytes or more, a leading space, anything left over (an
    /// embedded NUL included), a NaN, and an overflow to ±inf or underflow to zero
    /// (`errno == ERANGE`). `inf`, `-infinity` and hex floats are accepted.
    pub fn parse(s: &[u8]) -> Option<LongDouble> {
        if s.is_empty() || s.len() >= MAX_LONG_DOUBLE_CHARS {
            return None;
        }
        let (negative, magnitude, nonzero) = match scan(s)? {
            CLiteral::Inf { negative } => (negative, X87DoubleExtended::INFINITY, false),
            CLiteral::Nan => return None,
            CLiteral::Decimal {
                negative,
                unsigned,
                nonzero,
                ..
            } => (negative, parse_apfloat(unsigned)?, nonzero),
            CLiteral::Hex {
                negative,
                digits,
                has_exponent,
                nonzero,
            } => (
                negative,
                parse_apfloat(&apfloat_hex_text(digits, has_exponent))?,
                nonzero,
            ),
        };
        let overflowed = magnitude.is_infinite() && nonzero;
        let underflowed = magnitude.is_zero() && nonzero;
        if overflowed || underflowed {
            return None;
        }
        Some(LongDouble(if negative { -magnitude } else { magnitude }))
    }

    /// `(long double) v`, exact (the significand has 64 bits).
    pub fn from_i64(v: i64) -> LongDouble {
        let converted = X87DoubleExtended::from_i128(v as i128);
        debug_assert_eq!(converted.status, Status::OK);
        LongDouble(converted.value)
    }

    /// Neither infinite nor NaN (the `isnan(value) || isinf(value)` test Redis applies).
    pub fn is_finite(self) -> bool {
        self.0.is_finite()
    }

    /// The 80-bit image (sign, 15-bit exponent, 64-bit significand with explicit integer bit)
    /// in the low bits, for tests and debugging.
    pub fn to_bits(self) -> u128 {
        self.0.to_bits()
    }

    /// `(long long) ceill(self * 1000.0)` with x87 semantics: the product is rounded to 64
    /// bits, and a value outside `long long` (or an infinity) converts to the "integer
    /// indefinite" `LLONG_MIN`. This is how Redis 7.0 turns a timeout in seconds into
    /// milliseconds.
    pub(crate) fn seconds_to_ms_ceil(self) -> i64 {
        let thousand = X87DoubleExtended::from_u128(1000).value;
        let ms = self.0.mul_r(thousand, Round::NearestTiesToEven).value;
        let ms = ms.round_to_integral(Round::TowardPositive).value;
        if !ms.is_finite() {
            return i64::MIN;
        }
        let mut exact = false;
        let converted = ms.to_i128_r(64, Round::TowardZero, &mut exact);
        if converted.status.contains(Status::INVALID_OP) {
            return i64::MIN;
        }
        i64::try_from(converted.value).unwrap_or(i64::MIN)
    }

    /// Appends Redis's `ld2string(..., LD_STR_HUMAN)`: `%.17Lf`, then trailing zeros after the
    /// point removed, then a trailing point removed, then `-0` turned into `0`. Infinities are
    /// `inf` / `-inf` (Redis spells them out before calling `snprintf`); a NaN prints as glibc
    /// would (`nan` / `-nan`), though no Redis caller lets one through.
    pub fn write_human(self, out: &mut Vec<u8>) {
        let bits = self.0.to_bits();
        let negative = (bits >> 79) & 1 == 1;
        if self.0.is_infinite() {
            out.extend_from_slice(if negative { b"-inf" } else { b"inf" });
            return;
        }
        let start = out.len();
        if negative {
            out.push(b'-');
        }
        if self.0.is_nan() {
            out.extend_from_slice(b"nan");
            return;
        }
        let exp_field = ((bits >> 64) & 0x7fff) as i32;
        let significand = bits as u64;
        // Denormals share the smallest normal exponent; their integer bit is simply clear.
        let exp2 = exp_field.max(1) - EXP_BIAS - 63;
        write_fixed17(significand, exp2, out);
        trim_human(out, start);
    }

    /// [`LongDouble::write_human`] into a fresh vector.
    pub fn to_human(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(24);
        self.write_human(&mut out);
        out
    }
}

/// `a + b` in x87 long double: rounded once to 64 significant bits; may be ±inf or NaN.
impl std::ops::Add for LongDouble {
    type Output = LongDouble;

    fn add(self, rhs: LongDouble) -> LongDouble {
        LongDouble(self.0.add_r(rhs.0, Round::NearestTiesToEven).value)
    }
}

/// apfloat's correctly rounded parse of an unsigned literal it understands.
fn parse_apfloat(text: &str) -> Option<X87DoubleExtended> {
    Some(
        X87DoubleExtended::from_str_r(text, Round::NearestTiesToEven)
            .ok()?
            .value,
    )
}

/// Appends `%.17Lf` of `significand * 2^exp2` (non-negative): the exact value rounded to 17
/// decimals, ties to even.
fn write_fixed17(significand: u64, exp2: i32, out: &mut Vec<u8>) {
    if exp2 >= 0 {
        // An integer: no rounding, seventeen zero decimals.
        if exp2 <= 64 {
            let value = (significand as u128) << exp2;
            out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
        } else {
            let value = BigUint::from(significand) << exp2 as usize;
            out.extend_from_slice(value.to_str_radix(10).as_bytes());
        }
        out.extend_from_slice(b".00000000000000000");
        return;
    }
    // value * 10^17 = significand * 10^17 / 2^shift, and significand * 10^17 < 2^121.
    let shift = exp2.unsigned_abs();
    let scaled = significand as u128 * FRACTION_SCALE;
    let rounded = if shift >= 122 {
        // Below 2^121 / 2^122 = half a unit in the last place: rounds to zero.
        0
    } else {
        let quotient = scaled >> shift;
        let remainder = scaled & ((1u128 << shift) - 1);
        let half = 1u128 << (shift - 1);
        let round_up = remainder > half || (remainder == half && quotient & 1 == 1);
        quotient + round_up as u128
    };
    let int_part = rounded / FRACTION_SCALE;
    let fraction = rounded % FRACTION_SCALE;
    out.extend_from_slice(itoa::Buffer::new().format(int_part).as_bytes());
    out.push(b'.');
    let digits = itoa::Buffer::new().format(fraction).len();
    out.resize(out.len() + (17 - digits), b'0');
    out.extend_from_slice(itoa::Buffer::new().format(fraction).as_bytes());
}

/// `ld2string`'s LD_STR_HUMAN clean-up of the `%.17Lf` text that starts at `start`.
fn trim_human(out: &mut Vec<u8>, start: usize) {
    debug_assert!(out[start..].contains(&b'.'), "%.17Lf always has a point");
    while out.last() == Some(&b'0') {
        out.pop();
    }
    if out.last() == Some(&b'.') {
        out.pop();
    }
    if &out[start..] == b"-0" {
        out.truncate(start);
        out.push(b'0');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn human(s: &str) -> String {
        String::from_utf8(LongDouble::parse(s.as_bytes()).unwrap().to_human()).unwrap()
    }

    // Expected values from redis-server 7.0.15: `INCRBYFLOAT <fresh key> <s>`.
    #[test]
    fn human_format_matches_redis() {
        assert_eq!(human("0.000003814697265625"), "0.00000381469726562"); // a tie, to even
        assert_eq!(human("0.000011444091796875"), "0.00001144409179688"); // a tie, to even
        assert_eq!(human("-0.0000000000000000001"), "0");
        assert_eq!(human("-0"), "0");
        assert_eq!(human("0x10"), "16");
        assert_eq!(human("0x.8"), "0.5");
        assert_eq!(human("-0x1.8p1"), "-3");
        assert_eq!(human("0x1p-16445"), "0");
        assert_eq!(human("3.6e-4951"), "0");
        assert!(
            human("1e4000").starts_with("99999999999999999999654638730996237849324925835069576")
        );
        assert_eq!(human("1e4000").len(), 4000);
    }

    #[test]
    fn parse_respects_strtold_range() {
        // From redis-server 7.0.15: accepted (a number) or rejected (not a valid float).
        for ok in [
            "1.18973149535723176502e+4932",
            "0x1p16383",
            "0x1p-16445",
            "0x1.8p-16446",
            "3.6e-4951",
            "1.9e-4951",
            "0e-5000",
        ] {
            assert!(LongDouble::parse(ok.as_bytes()).is_some(), "{ok}");
        }
        for bad in [
            "1.18973149535723176508e+4932",
            "1.2e4932",
            "0x1p16384",
            "0x1p-16446",
            "1.8e-4951",
            "1e-5000",
            "1e5000",
        ] {
            assert!(LongDouble::parse(bad.as_bytes()).is_none(), "{bad}");
        }
        let long_ok = format!("{}1", "0".repeat(MAX_LONG_DOUBLE_CHARS - 2));
        assert_eq!(
            LongDouble::parse(long_ok.as_bytes()).map(|v| v.to_human()),
            Some(b"1".to_vec())
        );
        let long_bad = format!("{}1", "0".repeat(MAX_LONG_DOUBLE_CHARS - 1));
        assert!(LongDouble::parse(long_bad.as_bytes()).is_none());
    }

    #[test]
    fn integers_convert_exactly() {
        for v in [0, 1, -1, i64::MAX, i64::MIN, 1 << 53, (1 << 53) + 1] {
            assert_eq!(
                LongDouble::from_i64(v).to_human(),
                v.to_string().into_bytes()
            );
            assert_eq!(
                LongDouble::from_i64(v).to_bits(),
                LongDouble::parse(v.to_string().as_bytes())
                    .unwrap()
                    .to_bits()
            );
        }
    }
}
