//! What SCAN, SSCAN, HSCAN and ZSCAN share: cursor parsing and the MATCH/COUNT/TYPE options,
//! parsed exactly as Redis 7.0's `scanGenericCommand`.

use crate::args::{self, is};
use crate::error::CmdError;
use crate::glob::glob_match;
use usher_protocol::Argv;

/// Options of a SCAN-family command.
pub struct ScanOptions<'a> {
    pub count: usize,
    /// `None` when absent or `*` (no filtering).
    pub pattern: Option<&'a [u8]>,
    /// SCAN's TYPE filter (Redis 7.0 accepts unknown names and then matches nothing).
    pub type_name: Option<&'a [u8]>,
}

impl ScanOptions<'_> {
    pub fn matches(&self, item: &[u8]) -> bool {
        self.pattern.is_none_or(|p| glob_match(p, item, false))
    }
}

/// Redis's `parseScanCursorOrReply`: `strtoul` semantics (an optional sign, decimal digits;
/// an empty string is cursor 0; a negative number wraps), else "invalid cursor".
pub fn parse_cursor(arg: &[u8]) -> Result<u64, CmdError> {
    let invalid = || CmdError::Static("ERR invalid cursor");
    let (negative, digits) = match arg.first() {
        Some(b'-') => (true, &arg[1..]),
        Some(b'+') => (false, &arg[1..]),
        _ => (false, arg),
    };
    if arg.is_empty() {
        return Ok(0);
    }
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(invalid());
    }
    let mut v: u64 = 0;
    for &d in digits {
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add((d - b'0') as u64))
            .ok_or_else(invalid)?;
    }
    Ok(if negative { v.wrapping_neg() } else { v })
}

/// Parses `[MATCH pattern] [COUNT count] [TYPE type]` from `argv[start..]`; TYPE only when
/// `allow_type` (plain SCAN).
pub fn parse_options(
    argv: Argv<'_>,
    start: usize,
    allow_type: bool,
) -> Result<ScanOptions<'_>, CmdError> {
    let mut opts = ScanOptions {
        count: 10,
        pattern: None,
        type_name: None,
    };
    let mut i = start;
    while i < argv.len() {
        let has_value = argv.len() - i >= 2;
        let opt = argv.arg(i);
        if is(opt, "COUNT") && has_value {
            let count = args::int(argv.arg(i + 1))?;
            if count < 1 {
                return Err(CmdError::Syntax);
            }
            opts.count = count as usize;
        } else if is(opt, "MATCH") && has_value {
            let pattern = argv.arg(i + 1);
            opts.pattern = (pattern != b"*").then_some(pattern);
        } else if is(opt, "TYPE") && allow_type && has_value {
            opts.type_name = Some(argv.arg(i + 1));
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    Ok(opts)
}

#[cfg(test)]
mod tests {
    use super::parse_cursor;

    #[test]
    fn cursors_parse_like_strtoul() {
        assert_eq!(parse_cursor(b"0"), Ok(0));
        assert_eq!(parse_cursor(b""), Ok(0));
        assert_eq!(parse_cursor(b"18446744073709551615"), Ok(u64::MAX));
        assert_eq!(parse_cursor(b"-1"), Ok(u64::MAX));
        assert!(parse_cursor(b"18446744073709551616").is_err());
        assert!(parse_cursor(b"12a").is_err());
        assert!(parse_cursor(b" 1").is_err());
    }
}
