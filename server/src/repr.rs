//! Redis's `sdscatrepr`, the one quoting of arbitrary bytes as a double-quoted, escaped
//! string: MONITOR shows arguments with it, and CONFIG REWRITE writes values that need quotes
//! with it (the config-file parser reads those escapes back).

use std::fmt::Write;

/// Redis's `sdscatrepr`: a quoted string with `\\`, `\"`, `\n`, `\r`, `\t`, `\a`, `\b` escaped
/// and other unprintable bytes as `\xhh`.
pub fn repr(out: &mut String, arg: &[u8]) {
    out.push('"');
    for &b in arg {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x07 => out.push_str("\\a"),
            0x08 => out.push_str("\\b"),
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out.push('"');
}
