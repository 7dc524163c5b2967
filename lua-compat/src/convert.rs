//! Conversions between RESP and Lua values, exactly as Redis 7.0's `script_lua.c` does them,
//! written against the Lua C API: this is every `redis.call`'s and every script's hot path,
//! and going through mlua's value handles cost more than the command itself.
//!
//! A command called from a script writes its reply as RESP (in the script's protocol, 2 unless
//! `redis.setresp(3)`), just as Redis runs it on a fake client, and [`push_reply`] pushes it as
//! a Lua value: integers become numbers, bulk strings strings, nulls `false` (RESP2) or `nil`
//! (RESP3), status and error replies `{ok=...}` / `{err=...}`, RESP3 maps, sets, doubles, big
//! numbers and verbatim strings tables tagged `map`, `set`, `double`, `big_number`,
//! `verbatim_string`. [`write_reply`] is the other way, for what a script returns: numbers are
//! truncated to integers, `false` is a null, tables are arrays up to their first `nil`.
//!
//! # Safety
//! Every function here takes a raw `lua_State` with room checked by the caller or by
//! `lua_checkstack`; they call only API functions that fail on memory exhaustion alone.

use mlua::ffi;
use std::os::raw::c_int;
use usher_protocol::ReplySink;

fn line<'b>(buf: &'b [u8], pos: &mut usize) -> &'b [u8] {
    let start = (*pos).min(buf.len());
    let end = buf[start..]
        .windows(2)
        .position(|w| w == b"\r\n")
        .map_or(buf.len(), |i| start + i);
    *pos = (end + 2).min(buf.len());
    &buf[start..end]
}

/// An integer reply's digits (Redis's `string2ll`, as the server wrote them); 0 for anything
/// else.
fn int(bytes: &[u8]) -> i64 {
    usher_protocol::parse::parse_i64(bytes).unwrap_or(0)
}

fn bulk<'b>(buf: &'b [u8], pos: &mut usize, len: i64) -> &'b [u8] {
    let start = (*pos).min(buf.len());
    let end = (start + len.max(0) as usize).min(buf.len());
    *pos = (end + 2).min(buf.len());
    &buf[start..end]
}

unsafe fn push_bytes(l: *mut ffi::lua_State, b: &[u8]) {
    ffi::lua_pushlstring(l, b.as_ptr().cast(), b.len());
}

/// Sets `t[name] = <top>` on the table just below the top, popping the value.
unsafe fn set_field(l: *mut ffi::lua_State, name: &[u8]) {
    push_bytes(l, name);
    ffi::lua_insert(l, -2);
    ffi::lua_rawset(l, -3);
}

/// The field Redis sets on an error table whose error the error statistics already hold.
const COUNTED_FIELD: &[u8] = b"ignore_error_stats_update";

/// Sets `ignore_error_stats_update = true` on the error table at the top of the stack.
///
/// # Safety
/// `l` must be a valid state with a table on top and room for two more values.
pub unsafe fn mark_counted(l: *mut ffi::lua_State) {
    ffi::lua_pushboolean(l, 1);
    set_field(l, COUNTED_FIELD);
}

/// Whether the table at `t` carries `ignore_error_stats_update` set to true.
///
/// # Safety
/// `l` must be a valid state and `t` an absolute index of a table.
pub unsafe fn is_counted(l: *mut ffi::lua_State, t: c_int) -> bool {
    let top = ffi::lua_gettop(l);
    let counted =
        raw_field(l, t, COUNTED_FIELD) == ffi::LUA_TBOOLEAN && ffi::lua_toboolean(l, -1) != 0;
    ffi::lua_settop(l, top);
    counted
}

/// The error replies a script's result held, for the caller's error statistics: Redis counts
/// each error reply it writes, except one whose table says a command's run already counted it
/// (`ignore_error_stats_update`), which only marks the script's call as failed.
#[derive(Default, Debug, Clone, PartialEq, Eq)]
pub struct ReplyErrors {
    /// The texts of the errors not counted yet, as written (without the `-`).
    pub fresh: Vec<Vec<u8>>,
    /// Errors a command's run already counted.
    pub counted: u32,
}

/// Pushes the RESP reply at `*pos` as one Lua value.
///
/// # Safety
/// `l` must be a valid state; see the module's safety note.
pub unsafe fn push_reply(l: *mut ffi::lua_State, buf: &[u8], pos: &mut usize) {
    ffi::lua_checkstack(l, 4);
    let Some(&kind) = buf.get(*pos) else {
        ffi::lua_pushnil(l);
        return;
    };
    *pos += 1;
    let head = line(buf, pos);
    match kind {
        b'+' => {
            ffi::lua_createtable(l, 0, 1);
            push_bytes(l, head);
            set_field(l, b"ok");
        }
        b'-' => {
            // The command's own run counted this error, as Redis's
            // `redisProtocolToLuaType_Error` notes on the table.
            ffi::lua_createtable(l, 0, 2);
            push_bytes(l, head);
            set_field(l, b"err");
            mark_counted(l);
        }
        b':' => ffi::lua_pushnumber(l, int(head) as f64),
        b'$' => {
            let n = int(head);
            if n < 0 {
                ffi::lua_pushboolean(l, 0);
            } else {
                push_bytes(l, bulk(buf, pos, n));
            }
        }
        b'*' | b'>' => {
            let n = int(head);
            if n < 0 {
                ffi::lua_pushboolean(l, 0);
                return;
            }
            ffi::lua_createtable(l, n.min(1 << 20) as c_int, 0);
            for i in 1..=n {
                push_reply(l, buf, pos);
                ffi::lua_rawseti(l, -2, i as _);
            }
        }
        b'%' | b'~' => {
            let n = int(head);
            ffi::lua_createtable(l, 0, 1);
            ffi::lua_createtable(l, 0, n.min(1 << 20) as c_int);
            for _ in 0..n {
                push_reply(l, buf, pos);
                if kind == b'%' {
                    push_reply(l, buf, pos);
                } else {
                    ffi::lua_pushboolean(l, 1);
                }
                if ffi::lua_type(l, -2) == ffi::LUA_TNIL {
                    ffi::lua_pop(l, 2);
                } else {
                    ffi::lua_rawset(l, -3);
                }
            }
            set_field(l, if kind == b'%' { b"map" } else { b"set" });
        }
        b'_' => ffi::lua_pushnil(l),
        b'#' => ffi::lua_pushboolean(l, (head == b"t") as c_int),
        b',' => {
            let text = String::from_utf8_lossy(head);
            let v = match text.as_ref() {
                "inf" => f64::INFINITY,
                "-inf" => f64::NEG_INFINITY,
                "nan" => f64::NAN,
                t => t.parse().unwrap_or(0.0),
            };
            ffi::lua_createtable(l, 0, 1);
            ffi::lua_pushnumber(l, v);
            set_field(l, b"double");
        }
        b'(' => {
            ffi::lua_createtable(l, 0, 1);
            push_bytes(l, head);
            set_field(l, b"big_number");
        }
        b'=' => {
            let body = bulk(buf, pos, int(head));
            let (format, text) = if body.len() >= 4 {
                (&body[..3], &body[4..])
            } else {
                (&b"txt"[..], body)
            };
            ffi::lua_createtable(l, 0, 1);
            ffi::lua_createtable(l, 0, 2);
            push_bytes(l, format);
            set_field(l, b"format");
            push_bytes(l, text);
            set_field(l, b"string");
            set_field(l, b"verbatim_string");
        }
        b'|' => {
            // Attributes are dropped, as Redis's script client does; the reply follows.
            for _ in 0..2 * int(head) {
                push_reply(l, buf, pos);
                ffi::lua_pop(l, 1);
            }
            push_reply(l, buf, pos);
        }
        _ => ffi::lua_pushnil(l),
    }
}

/// C's `(long long)` of a double on x86-64: truncation, and the "integer indefinite" value for
/// NaN and anything out of range (what Redis replies for `return 1e300`).
pub fn lua_number_to_i64(v: f64) -> i64 {
    if !(-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&v) {
        i64::MIN
    } else {
        v as i64
    }
}

unsafe fn to_bytes<'a>(l: *mut ffi::lua_State, idx: c_int) -> &'a [u8] {
    let mut len = 0usize;
    let p = ffi::lua_tolstring(l, idx, &mut len);
    if p.is_null() {
        return &[];
    }
    std::slice::from_raw_parts(p.cast(), len)
}

/// Pushes `t[name]` (raw) for the table at absolute index `t`; returns its type.
unsafe fn raw_field(l: *mut ffi::lua_State, t: c_int, name: &[u8]) -> c_int {
    push_bytes(l, name);
    ffi::lua_rawget(l, t)
}

/// Writes the Lua value at absolute index `idx` as a reply. `script_resp3` is the script's
/// `redis.setresp` version: it decides how booleans go out, as in Redis.
///
/// # Safety
/// `l` must be a valid state and `idx` an absolute index; see the module's safety note.
pub unsafe fn write_reply(
    l: *mut ffi::lua_State,
    idx: c_int,
    out: &mut dyn ReplySink,
    script_resp3: bool,
    errs: &mut ReplyErrors,
) {
    // Redis's `luaReplyToRedisReply` checks for room for four more values at every value it
    // converts, and each nested table holds one more slot (its child) while it converts, so
    // the deepest reply is bounded by Lua's stack (`LUAI_MAXCSTACK`), with Redis's error in
    // place of what lies below; the values are pushed as Redis pushes them, so the bound
    // falls at the same depth.
    if ffi::lua_checkstack(l, 4) == 0 {
        out.error("ERR reached lua stack limit");
        errs.fresh.push(b"ERR reached lua stack limit".to_vec());
        return;
    }
    match ffi::lua_type(l, idx) {
        ffi::LUA_TSTRING => out.bulk(to_bytes(l, idx)),
        ffi::LUA_TBOOLEAN => {
            let b = ffi::lua_toboolean(l, idx) != 0;
            if script_resp3 {
                out.boolean(b);
            } else if b {
                out.int(1);
            } else {
                out.null();
            }
        }
        ffi::LUA_TNUMBER => out.int(lua_number_to_i64(ffi::lua_tonumber(l, idx))),
        ffi::LUA_TTABLE => write_table(l, idx, out, script_resp3, errs),
        _ => out.null(),
    }
}

unsafe fn write_table(
    l: *mut ffi::lua_State,
    t: c_int,
    out: &mut dyn ReplySink,
    resp3: bool,
    errs: &mut ReplyErrors,
) {
    let top = ffi::lua_gettop(l);
    if !small_plain_array(l, t) && write_tagged(l, t, out, resp3, top, errs) {
        return;
    }
    let mut n = 0;
    while ffi::lua_rawgeti(l, t, n + 1) != ffi::LUA_TNIL {
        n += 1;
        ffi::lua_pop(l, 1);
    }
    ffi::lua_settop(l, top);
    out.array(n as usize);
    for i in 1..=n {
        ffi::lua_rawgeti(l, t, i);
        write_reply(l, ffi::lua_gettop(l), out, resp3, errs);
        ffi::lua_settop(l, top);
    }
}

/// Whether the table at `t` is a short array with no string key at all, so none of the
/// seven tag probes below can match. Scripts mostly return such tables (`{1, 'Success'}`),
/// and each probe interns its name and looks it up; walking a few keys with `lua_next` is
/// cheaper. Longer tables skip the walk: the probes then cost little beside the elements.
unsafe fn small_plain_array(l: *mut ffi::lua_State, t: c_int) -> bool {
    const WALK_AT_MOST: usize = 8;
    let top = ffi::lua_gettop(l);
    ffi::lua_pushnil(l);
    let mut seen = 0;
    let plain = loop {
        if ffi::lua_next(l, t) == 0 {
            break true;
        }
        seen += 1;
        if seen > WALK_AT_MOST || ffi::lua_type(l, -2) == ffi::LUA_TSTRING {
            break false;
        }
        ffi::lua_pop(l, 1);
    };
    ffi::lua_settop(l, top);
    plain
}

/// Redis's tagged tables (`err`, `ok`, `double`, `big_number`, `verbatim_string`, `map`,
/// `set`), probed in Redis's order; false if the table carries none of them.
unsafe fn write_tagged(
    l: *mut ffi::lua_State,
    t: c_int,
    out: &mut dyn ReplySink,
    resp3: bool,
    top: c_int,
    errs: &mut ReplyErrors,
) -> bool {
    if raw_field(l, t, b"err") == ffi::LUA_TSTRING {
        // Redis writes `-` and the text as it is, a leading `-` included (`--x`), any bytes.
        out.error_bytes(to_bytes(l, -1));
        if is_counted(l, t) {
            errs.counted += 1;
        } else {
            errs.fresh.push(to_bytes(l, -1).to_vec());
        }
        ffi::lua_settop(l, top);
        return true;
    }
    ffi::lua_settop(l, top);
    if raw_field(l, t, b"ok") == ffi::LUA_TSTRING {
        let text = String::from_utf8_lossy(to_bytes(l, -1)).replace(['\r', '\n'], " ");
        ffi::lua_settop(l, top);
        out.simple(&text);
        return true;
    }
    ffi::lua_settop(l, top);
    if raw_field(l, t, b"double") == ffi::LUA_TNUMBER {
        let d = ffi::lua_tonumber(l, -1);
        ffi::lua_settop(l, top);
        out.double(d);
        return true;
    }
    ffi::lua_settop(l, top);
    if raw_field(l, t, b"big_number") == ffi::LUA_TSTRING {
        // The writer has no big-number frame: a bulk string, as RESP2 clients get it.
        out.bulk(to_bytes(l, -1));
        ffi::lua_settop(l, top);
        return true;
    }
    ffi::lua_settop(l, top);
    if raw_field(l, t, b"verbatim_string") == ffi::LUA_TTABLE {
        let v = ffi::lua_gettop(l);
        let f = raw_field(l, v, b"format");
        let s = raw_field(l, v, b"string");
        if f == ffi::LUA_TSTRING && s == ffi::LUA_TSTRING {
            let format = String::from_utf8_lossy(to_bytes(l, -2)).into_owned();
            out.verbatim(&format, to_bytes(l, -1));
            ffi::lua_settop(l, top);
            return true;
        }
    }
    ffi::lua_settop(l, top);
    for (tag, is_map) in [(&b"map"[..], true), (&b"set"[..], false)] {
        if raw_field(l, t, tag) == ffi::LUA_TTABLE {
            let m = ffi::lua_gettop(l);
            let mut n = 0;
            ffi::lua_pushnil(l);
            while ffi::lua_next(l, m) != 0 {
                n += 1;
                ffi::lua_pop(l, 1);
            }
            if is_map {
                out.map(n);
            } else {
                out.set(n);
            }
            ffi::lua_pushnil(l);
            while ffi::lua_next(l, m) != 0 {
                // As Redis: a set drops the value first; both convert a copy of the key on
                // top of the stack (so nesting under a key or value uses Redis's slots).
                if !is_map {
                    ffi::lua_pop(l, 1);
                }
                ffi::lua_pushvalue(l, -1 - is_map as c_int);
                write_reply(l, ffi::lua_gettop(l), out, resp3, errs);
                ffi::lua_pop(l, 1);
                if is_map {
                    write_reply(l, ffi::lua_gettop(l), out, resp3, errs);
                    ffi::lua_pop(l, 1);
                }
            }
            ffi::lua_settop(l, top);
            return true;
        }
        ffi::lua_settop(l, top);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::int;

    #[test]
    fn integer_replies_parse_as_i64_does() {
        for text in [
            "0",
            "-0",
            "7",
            "-7",
            "1795000000000",
            "9223372036854775807",
            "-9223372036854775808",
            "9223372036854775808",
            "-9223372036854775809",
            "",
            "-",
            "12a",
            "+5",
            " 5",
        ] {
            let want = text
                .parse::<i64>()
                .ok()
                .filter(|_| !text.starts_with('+'))
                .unwrap_or(0);
            assert_eq!(int(text.as_bytes()), want, "{text:?}");
        }
    }
}
