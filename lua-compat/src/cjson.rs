//! `cjson`: Redis's bundled lua-cjson 2.1.0, reimplemented in Rust (its settings: `cjson_config`).
//!
//! Encoding follows lua-cjson: numbers as `%.14g`, `/` escaped as `\/`, an empty table is `{}`,
//! a table whose keys are all positive integers is an array (holes become `null`; an
//! "excessively sparse" one is an error), other tables are objects with string or number keys,
//! nesting is limited to 1000. Decoding gives tables, numbers, strings, booleans and
//! `cjson.null` (a null light userdata). Key order follows Lua's table order, which is not
//! defined, exactly as in Redis.

use mlua::{LightUserData, Lua, Table};

/// `%.14g`, the way lua-cjson (by default) and Lua's `tostring` print numbers.
pub fn fmt_g14(v: f64) -> String {
    fmt_g(v, 14)
}

/// `%.<precision>g` (precision 1 to 14: lua-cjson's `encode_number_precision`).
pub fn fmt_g(v: f64, precision: i32) -> String {
    if v.is_nan() {
        return if v.is_sign_negative() { "-nan" } else { "nan" }.into();
    }
    if v.is_infinite() {
        return if v < 0.0 { "-inf" } else { "inf" }.into();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let p = precision.max(1);
    let exp = format!("{:.*e}", (p - 1) as usize, v);
    let (mant, e) = exp.split_once('e').expect("exponent");
    let e: i32 = e.parse().expect("exponent digits");
    if !(-4..p).contains(&e) {
        let mant = trim_zeros(mant);
        let sign = if e < 0 { '-' } else { '+' };
        format!("{mant}e{sign}{:02}", e.abs())
    } else {
        let decimals = (p - 1 - e).max(0) as usize;
        trim_zeros(&format!("{:.*}", decimals, v)).to_string()
    }
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

fn encode_string(s: &[u8], out: &mut Vec<u8>) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    // Runs without escapes are copied whole: most strings have none.
    let mut plain = 0;
    for (i, &b) in s.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'/' => b"\\/",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f | 0x7f => b"",
            _ => continue,
        };
        out.extend_from_slice(&s[plain..i]);
        if escape.is_empty() {
            out.extend_from_slice(format!("\\u{b:04x}").as_bytes());
        } else {
            out.extend_from_slice(escape);
        }
        plain = i + 1;
    }
    out.extend_from_slice(&s[plain..]);
    out.push(b'"');
}

/// `cjson.encode`, written against the Lua C API: it is on the hot path of scripts that
/// answer JSON (enter_queue.lua), where mlua value handles cost more than the encoding.
mod raw {
    use super::{encode_string, fmt_g};
    use crate::cjson_config::{self, Config};
    use mlua::ffi;
    use std::os::raw::c_int;

    unsafe fn bytes<'a>(l: *mut ffi::lua_State, idx: c_int) -> &'a [u8] {
        let mut len = 0usize;
        let p = ffi::lua_tolstring(l, idx, &mut len);
        std::slice::from_raw_parts(p.cast(), len)
    }

    /// `json_append_number`, with the state's precision and invalid-number setting.
    fn number(v: f64, cfg: &Config, out: &mut Vec<u8>) -> Result<(), String> {
        if !v.is_finite() {
            match cfg.encode_invalid_numbers {
                0 => return Err("Cannot serialise number: must not be NaN or Inf".into()),
                1 if v.is_nan() => {
                    out.extend_from_slice(b"nan");
                    return Ok(());
                }
                1 => {}
                _ => {
                    out.extend_from_slice(b"null");
                    return Ok(());
                }
            }
        }
        let plain = 10f64.powi(cfg.number_precision);
        if v.fract() == 0.0 && v.abs() < plain && !(v == 0.0 && v.is_sign_negative()) {
            out.extend_from_slice(itoa::Buffer::new().format(v as i64).as_bytes());
        } else {
            out.extend_from_slice(fmt_g(v, cfg.number_precision).as_bytes());
        }
        Ok(())
    }

    /// The array length of the table at `t`, or `None` for an object.
    unsafe fn array_len(
        l: *mut ffi::lua_State,
        t: c_int,
        cfg: &Config,
    ) -> Result<Option<usize>, String> {
        let (mut max, mut items) = (0usize, 0usize);
        ffi::lua_pushnil(l);
        while ffi::lua_next(l, t) != 0 {
            ffi::lua_pop(l, 1);
            if ffi::lua_type(l, -1) != ffi::LUA_TNUMBER {
                ffi::lua_pop(l, 1);
                return Ok(None);
            }
            let n = ffi::lua_tonumber(l, -1);
            if n < 1.0 || n.floor() != n {
                ffi::lua_pop(l, 1);
                return Ok(None);
            }
            max = max.max(n as usize);
            items += 1;
        }
        let (ratio, safe) = (cfg.sparse_ratio as usize, cfg.sparse_safe as usize);
        if ratio > 0 && max > items * ratio && max > safe {
            if !cfg.sparse_convert {
                return Err("Cannot serialise table: excessively sparse array".into());
            }
            return Ok(None);
        }
        Ok(Some(max))
    }

    pub unsafe fn encode(
        l: *mut ffi::lua_State,
        idx: c_int,
        depth: usize,
        cfg: &Config,
        out: &mut Vec<u8>,
    ) -> Result<(), String> {
        match ffi::lua_type(l, idx) {
            ffi::LUA_TNIL => out.extend_from_slice(b"null"),
            ffi::LUA_TLIGHTUSERDATA if ffi::lua_touserdata(l, idx).is_null() => {
                out.extend_from_slice(b"null")
            }
            ffi::LUA_TBOOLEAN => out.extend_from_slice(if ffi::lua_toboolean(l, idx) != 0 {
                b"true"
            } else {
                b"false"
            }),
            ffi::LUA_TNUMBER => number(ffi::lua_tonumber(l, idx), cfg, out)?,
            ffi::LUA_TSTRING => encode_string(bytes(l, idx), out),
            ffi::LUA_TTABLE => {
                let depth = depth + 1;
                if depth > cfg.encode_max_depth as usize || ffi::lua_checkstack(l, 6) == 0 {
                    return Err(format!("Cannot serialise, excessive nesting ({depth})"));
                }
                match array_len(l, idx, cfg)? {
                    Some(n) if n > 0 => {
                        out.push(b'[');
                        for i in 1..=n {
                            if i > 1 {
                                out.push(b',');
                            }
                            ffi::lua_rawgeti(l, idx, i as _);
                            let r = encode(l, ffi::lua_gettop(l), depth, cfg, out);
                            ffi::lua_pop(l, 1);
                            r?;
                        }
                        out.push(b']');
                    }
                    _ => {
                        out.push(b'{');
                        let mut first = true;
                        ffi::lua_pushnil(l);
                        while ffi::lua_next(l, idx) != 0 {
                            if !first {
                                out.push(b',');
                            }
                            first = false;
                            let (k, v) = (ffi::lua_gettop(l) - 1, ffi::lua_gettop(l));
                            match ffi::lua_type(l, k) {
                                ffi::LUA_TSTRING => encode_string(bytes(l, k), out),
                                ffi::LUA_TNUMBER => {
                                    let mut key = Vec::new();
                                    number(ffi::lua_tonumber(l, k), cfg, &mut key)?;
                                    encode_string(&key, out);
                                }
                                _ => {
                                    ffi::lua_pop(l, 2);
                                    return Err("Cannot serialise table: table key must be a number or string".into());
                                }
                            }
                            out.push(b':');
                            if let Err(e) = encode(l, v, depth, cfg, out) {
                                ffi::lua_pop(l, 2);
                                return Err(e);
                            }
                            ffi::lua_pop(l, 1);
                        }
                        out.push(b'}');
                    }
                }
            }
            t => {
                let name = std::ffi::CStr::from_ptr(ffi::lua_typename(l, t));
                return Err(format!(
                    "Cannot serialise {}: type not supported",
                    name.to_string_lossy()
                ));
            }
        }
        Ok(())
    }

    /// `cjson.encode(value)`.
    pub unsafe extern "C-unwind" fn encode_c(l: *mut ffi::lua_State) -> c_int {
        if ffi::lua_gettop(l) != 1 {
            ffi::luaL_argerror(l, 1, c"expected 1 argument".as_ptr());
        }
        let failed = {
            let mut out = Vec::new();
            match encode(l, 1, 0, &cjson_config::get(), &mut out) {
                Ok(()) => {
                    ffi::lua_pushlstring(l, out.as_ptr().cast(), out.len());
                    false
                }
                Err(msg) => {
                    // As luaL_error: where the script called us, then the message.
                    ffi::luaL_where(l, 1);
                    ffi::lua_pushlstring(l, msg.as_ptr().cast(), msg.len());
                    ffi::lua_concat(l, 2);
                    true
                }
            }
        };
        if failed {
            ffi::lua_error(l);
        }
        1
    }
}

/// Builds the `cjson` table.
pub fn table(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    // Safety: a plain Lua C function (see `raw::encode_c`).
    t.raw_set("encode", unsafe { lua.create_c_function(raw::encode_c)? })?;
    // Safety: a plain Lua C function (see `cjson_decode`).
    t.raw_set("decode", unsafe {
        lua.create_c_function(crate::cjson_decode::decode_c)?
    })?;
    t.raw_set("null", LightUserData(std::ptr::null_mut()))?;
    // lua-cjson's configuration functions (their settings are the server's: `cjson_config`).
    for (name, f) in crate::cjson_config::FUNCTIONS {
        // Safety: plain Lua C functions (see `cjson_config`).
        t.raw_set(name, unsafe { lua.create_c_function(f)? })?;
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g14_matches_printf() {
        assert_eq!(fmt_g14(1.5), "1.5");
        assert_eq!(fmt_g14(3.0), "3");
        assert_eq!(fmt_g14(0.1), "0.1");
        assert_eq!(fmt_g14(1e20), "1e+20");
        assert_eq!(fmt_g14(123456789012345.0), "1.2345678901234e+14");
        assert_eq!(fmt_g14(0.0001), "0.0001");
        assert_eq!(fmt_g14(0.00001), "1e-05");
        assert_eq!(fmt_g14(1.0 / 3.0), "0.33333333333333");
    }

    #[test]
    fn other_precisions_match_printf() {
        assert_eq!(fmt_g(1.0 / 3.0, 3), "0.333");
        assert_eq!(fmt_g(12345.678, 3), "1.23e+04");
        assert_eq!(fmt_g(100.0, 3), "100");
        assert_eq!(fmt_g(1000.0, 3), "1e+03");
        assert_eq!(fmt_g(0.5, 1), "0.5");
        assert_eq!(fmt_g(2f64.powi(60), 3), "1.15e+18");
    }
}
