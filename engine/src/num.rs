//! Redis 7.0's number helpers, reproduced to the byte: what Redis accepts as an integer or a
//! float, how it adds long doubles, how it prints them, and how it reads blocking timeouts.
//!
//! Every helper mirrors one Redis function, and its quirks are Redis's quirks (each was checked
//! against redis-server 7.0.15; the tests carry those observations):
//!
//! | helper | Redis | used by |
//! | --- | --- | --- |
//! | [`parse_i64`] | `string2ll` (util.c) | every integer argument and value |
//! | [`is_canonical_i64`] | `tryObjectEncoding`'s `len <= 20 && string2l` | `OBJECT ENCODING` "int" |
//! | [`fmt_i64`] | `ll2string` | integer replies and values |
//! | [`parse_f64`] | `string2d` (util.c) via `getDoubleFromObject` | `ZADD`, `ZINCRBY` scores |
//! | [`parse_score_bound`] | `zslParseRange` (t_zset.c), one bound | `ZCOUNT`, `ZRANGEBYSCORE`, ... |
//! | [`LongDouble::parse`] | `string2ld` (util.c) via `getLongDoubleFromObject` | `INCRBYFLOAT`, `HINCRBYFLOAT`, timeouts |
//! | `LongDouble + LongDouble` | x87 `long double` addition | `INCRBYFLOAT`, `HINCRBYFLOAT` |
//! | [`LongDouble::write_human`] | `ld2string(..., LD_STR_HUMAN)` | their replies and stored values |
//! | [`incr_by_float`] | `incrbyfloatCommand` (t_string.c), after the type check | `INCRBYFLOAT` |
//! | [`hincr_by_float_increment`], [`hincr_by_float`] | `hincrbyfloatCommand` (t_hash.c) | `HINCRBYFLOAT` |
//! | [`parse_timeout_secs`], [`parse_timeout_ms`] | `getTimeoutFromObjectOrReply` (timeout.c) | `BLPOP` & co, `XREAD BLOCK`, `WAIT` |
//!
//! Error values carry no wire text (that lives in `usher_protocol::errors`); each variant's
//! doc gives the exact text Redis sends.
//!
//! Floats go through C's `strtod` grammar (submodule `cfloat`), not Rust's: Redis accepts hex
//! floats (`0x10`, `0x1p3`), `inf` and `infinity` in any case, and rejects a leading space,
//! trailing bytes, NaN, and literals that overflow or underflow to zero. Long doubles are the
//! x87 80-bit format, computed with `rustc_apfloat` (submodule `long_double`).

mod cfloat;
mod long_double;

pub use cfloat::{parse_f64, parse_score_bound, small_integer, ScoreBound};
pub use long_double::{LongDouble, MAX_LONG_DOUBLE_CHARS};
/// Redis's `string2ll`: an optional `-`, then digits with no leading zero (except `0` itself),
/// nothing else, fitting in an i64. `"-0"`, `"+1"`, `"007"` and `" 1"` are not integers.
pub use usher_protocol::parse::parse_i64;

/// Whether Redis would store `s` with the "int" encoding (`OBJECT ENCODING` answers `int`):
/// `tryObjectEncoding` checks `len <= 20 && string2l(s)`, which is exactly [`parse_i64`].
///
/// From redis-server 7.0.15: `1`, `-1`, `0`, `9223372036854775807` and
/// `-9223372036854775808` are "int"; `007`, `-0`, `+1`, `" 1"`, `1.0`, `-01` and
/// `9223372036854775808` are "embstr".
pub fn is_canonical_i64(s: &[u8]) -> bool {
    parse_i64(s).is_some()
}

/// Appends `v` in decimal (Redis's `ll2string`), the form [`parse_i64`] reads back.
pub fn fmt_i64(v: i64, out: &mut Vec<u8>) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// Why `INCRBYFLOAT` failed (after the key's type was checked: `WRONGTYPE` comes first).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FloatIncrError {
    /// `ERR value is not a valid float`: the stored value or the increment is not a
    /// [`LongDouble::parse`] number. Redis uses the same text for both.
    NotFloat,
    /// `ERR increment would produce NaN or Infinity`: the sum is not finite (also when the
    /// stored value or the increment is itself `inf`).
    NanOrInfinity,
}

/// `INCRBYFLOAT key incr` once the key is known to hold a string (or nothing: pass `b"0"`,
/// which adds exactly like Redis's missing-key zero). Returns the bytes Redis both stores and
/// replies with, e.g. `10.5` + `0.1` is `10.6`, then `+ 1e20` is `100000000000000000008`.
///
/// Redis parses both operands with `strtold`, adds them in x87 long double and prints the sum
/// with `%.17Lf`, trimmed ([`LongDouble::write_human`]). An int-encoded stored value converts
/// exactly, the same as parsing its digits.
pub fn incr_by_float(current: &[u8], incr: &[u8]) -> Result<Vec<u8>, FloatIncrError> {
    let value = LongDouble::parse(current).ok_or(FloatIncrError::NotFloat)?;
    let incr = LongDouble::parse(incr).ok_or(FloatIncrError::NotFloat)?;
    let sum = value + incr;
    if !sum.is_finite() {
        return Err(FloatIncrError::NanOrInfinity);
    }
    Ok(sum.to_human())
}

/// Why `HINCRBYFLOAT` failed. Redis checks in this order: the increment parses
/// ([`HashFloatIncrError::NotFloat`]), it is finite ([`HashFloatIncrError::IncrNanOrInfinity`]),
/// *then* the key's type (`WRONGTYPE`), then the field's value, then the sum. So
/// `HINCRBYFLOAT stringkey f abc` answers "not a valid float", not `WRONGTYPE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashFloatIncrError {
    /// `ERR value is not a valid float`: the increment does not parse.
    NotFloat,
    /// `ERR value is NaN or Infinity`: the increment is `inf` (or `-inf`, `infinity`, ...).
    IncrNanOrInfinity,
    /// `ERR hash value is not a float`: the field's current value does not parse.
    HashValueNotFloat,
    /// `ERR increment would produce NaN or Infinity`: the sum overflowed.
    NanOrInfinity,
}

/// `HINCRBYFLOAT`'s first step, before the key is looked up: the increment must parse and be
/// finite.
pub fn hincr_by_float_increment(incr: &[u8]) -> Result<LongDouble, HashFloatIncrError> {
    let incr = LongDouble::parse(incr).ok_or(HashFloatIncrError::NotFloat)?;
    if !incr.is_finite() {
        return Err(HashFloatIncrError::IncrNanOrInfinity);
    }
    Ok(incr)
}

/// `HINCRBYFLOAT`'s second step, once the key is known to be a hash (or missing): `current` is
/// the field's value (`None` when the field or the key is missing, which counts as 0). Returns
/// the bytes Redis stores and replies with.
pub fn hincr_by_float(
    current: Option<&[u8]>,
    incr: LongDouble,
) -> Result<Vec<u8>, HashFloatIncrError> {
    let value = match current {
        Some(bytes) => LongDouble::parse(bytes).ok_or(HashFloatIncrError::HashValueNotFloat)?,
        None => LongDouble::ZERO,
    };
    let sum = value + incr;
    if !sum.is_finite() {
        return Err(HashFloatIncrError::NanOrInfinity);
    }
    Ok(sum.to_human())
}

/// Why a blocking timeout was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeoutError {
    /// `ERR timeout is not a float or out of range` (seconds: not a [`LongDouble::parse`]
    /// number).
    NotFloat,
    /// `ERR timeout is not an integer or out of range` (milliseconds: not a [`parse_i64`]
    /// integer).
    NotInteger,
    /// `ERR timeout is negative`.
    Negative,
}

/// A blocking timeout given in seconds (`BLPOP`, `BRPOP`, `BLMOVE`, `BLMPOP`, `BZPOPMIN`,
/// `BZPOPMAX`, `BZMPOP`), as Redis 7.0.15's `getTimeoutFromObjectOrReply(..., UNIT_SECONDS)`
/// reads it. Returns the *relative* timeout in milliseconds, `0` meaning "block forever".
///
/// Redis computes `(long long) ceill(seconds * 1000.0)` in x87 long double, so:
/// - any positive amount below a millisecond waits 1 ms (`0.0005`, `1e-400`), it is not 0;
/// - a negative amount above -1 ms rounds up to 0 and blocks forever (`-0.0001`, `-0`);
/// - `inf`, and anything from `9223372036854775.808` seconds up, converts to `LLONG_MIN` and
///   is "timeout is negative" (as is `-inf`);
/// - `" 1"`, `""` and `1e-5000` are "not a float".
///
/// Redis then adds the current time in milliseconds *without* an overflow check (7.2 added
/// "timeout is out of range"); such a timeout never fires in practice (observed: `BLPOP k
/// 9223372036854775.807` stays blocked). Callers should compute the deadline with
/// `saturating_add`, which gives the same behaviour.
pub fn parse_timeout_secs(s: &[u8]) -> Result<u64, TimeoutError> {
    let seconds = LongDouble::parse(s).ok_or(TimeoutError::NotFloat)?;
    let ms = seconds.seconds_to_ms_ceil();
    u64::try_from(ms).map_err(|_| TimeoutError::Negative)
}

/// A blocking timeout given in milliseconds (`XREAD BLOCK`, `XREADGROUP BLOCK`, `WAIT`), as
/// `getTimeoutFromObjectOrReply(..., UNIT_MILLISECONDS)` reads it: a strict [`parse_i64`]
/// integer (so `-0`, `+1`, `01`, `1.0` are "not an integer"), not negative. `0` means "block
/// forever". The same note on adding the current time applies as for [`parse_timeout_secs`].
pub fn parse_timeout_ms(s: &[u8]) -> Result<u64, TimeoutError> {
    let ms = parse_i64(s).ok_or(TimeoutError::NotInteger)?;
    u64::try_from(ms).map_err(|_| TimeoutError::Negative)
}

#[cfg(test)]
pub(crate) mod tests;
