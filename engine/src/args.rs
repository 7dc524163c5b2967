//! Argument parsing helpers shared by command families, with Redis's errors.

use crate::error::CmdError;
use usher_protocol::parse::parse_i64;

/// An integer argument (Redis's `getLongLongFromObjectOrReply`).
#[inline]
pub fn int(arg: &[u8]) -> Result<i64, CmdError> {
    parse_i64(arg).ok_or(CmdError::NotInteger)
}

/// A non-negative integer argument, else "value is out of range, must be positive" (also for
/// non-numbers, as Redis's `getPositiveLongFromObjectOrReply`).
pub fn positive_int(arg: &[u8]) -> Result<i64, CmdError> {
    match parse_i64(arg) {
        Some(n) if n >= 0 => Ok(n),
        _ => Err(CmdError::Static(usher_protocol::errors::NOT_POSITIVE)),
    }
}

/// A float argument (Redis's `getDoubleFromObjectOrReply`: strtod, no NaN).
pub fn float(arg: &[u8]) -> Result<f64, CmdError> {
    crate::num::parse_f64(arg).ok_or(CmdError::NotFloat)
}

/// Case-insensitive comparison of an argument with an ASCII keyword.
#[inline]
pub fn is(arg: &[u8], keyword: &str) -> bool {
    arg.eq_ignore_ascii_case(keyword.as_bytes())
}
