//! `cmsgpack`: Redis's bundled lua-cmsgpack 0.4.0, reimplemented in Rust with the same
//! encoding choices, so payloads are byte-identical to Redis's.
//!
//! `pack(...)` encodes each argument: integral numbers as the smallest MessagePack integer,
//! other numbers as float32 when exact, else float64; strings as fixstr/str8/str16/str32;
//! tables without holes keyed 1..n as arrays, other tables as maps (in Lua's table order);
//! nesting deeper than 16 and unsupported types as nil. `unpack(s)` returns every object in
//! `s`; `unpack_one(s [, offset])` returns the next offset (-1 at the end) and one object;
//! `unpack_limit(s, n [, offset])` the next offset and up to `n` objects. The decoder works on
//! the Lua stack directly (see `raw`): job queues unpack a payload in every script call.

use mlua::{Lua, MultiValue, Table, Value};

const MAX_NESTING: usize = 16;

fn encode_int(n: i64, out: &mut Vec<u8>) {
    if n >= 0 {
        match n {
            0..=127 => out.push(n as u8),
            128..=0xff => out.extend_from_slice(&[0xcc, n as u8]),
            0x100..=0xffff => {
                out.push(0xcd);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            0x1_0000..=0xffff_ffff => {
                out.push(0xce);
                out.extend_from_slice(&(n as u32).to_be_bytes());
            }
            _ => {
                out.push(0xcf);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -(1 << 31) {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn encode_number(n: f64, out: &mut Vec<u8>) {
    // IS_INT64_EQUIVALENT: finite and equal to its int64 truncation.
    if n.is_finite() && (n as i64) as f64 == n {
        return encode_int(n as i64, out);
    }
    let f = n as f32;
    if f as f64 == n {
        out.push(0xca);
        out.extend_from_slice(&f.to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn encode_len(len: usize, fix: u8, fix_max: usize, codes: [u8; 2], out: &mut Vec<u8>) {
    if len <= fix_max {
        out.push(fix | len as u8);
    } else if len <= 0xffff {
        out.push(codes[0]);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(codes[1]);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
}

/// lua-cmsgpack's `table_is_an_array`: every key a positive integer and no holes.
fn array_len(t: &Table) -> mlua::Result<Option<usize>> {
    let (mut count, mut max) = (0usize, 0usize);
    for pair in t.pairs::<Value, Value>() {
        let (k, _) = pair?;
        let n = match k {
            Value::Integer(i) => i as f64,
            Value::Number(n) => n,
            _ => return Ok(None),
        };
        if n <= 0.0 || n.floor() != n {
            return Ok(None);
        }
        count += 1;
        max = max.max(n as usize);
    }
    Ok((max == count).then_some(count))
}

fn encode(v: &Value, level: usize, out: &mut Vec<u8>) -> mlua::Result<()> {
    match v {
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(i) => encode_number(*i as f64, out),
        Value::Number(n) => encode_number(*n, out),
        Value::String(s) => {
            let b = s.as_bytes();
            if b.len() < 32 {
                out.push(0xa0 | b.len() as u8);
            } else if b.len() <= 0xff {
                out.extend_from_slice(&[0xd9, b.len() as u8]);
            } else {
                encode_len(b.len(), 0, 0, [0xda, 0xdb], out);
            }
            out.extend_from_slice(&b);
        }
        Value::Table(t) if level < MAX_NESTING => match array_len(t)? {
            Some(n) => {
                encode_len(n, 0x90, 15, [0xdc, 0xdd], out);
                for i in 1..=n {
                    encode(&t.raw_get::<Value>(i)?, level + 1, out)?;
                }
            }
            None => {
                let pairs: Vec<(Value, Value)> =
                    t.pairs::<Value, Value>().collect::<mlua::Result<_>>()?;
                encode_len(pairs.len(), 0x80, 15, [0xde, 0xdf], out);
                for (k, val) in &pairs {
                    encode(k, level + 1, out)?;
                    encode(val, level + 1, out)?;
                }
            }
        },
        _ => out.push(0xc0),
    }
    Ok(())
}

/// Decoding, as lua-cmsgpack 0.4.0 decodes (`mp_decode_to_lua_type` and its helpers), on the Lua
/// C API directly: objects are pushed on the script's stack as they are read, with Redis's
/// `luaL_checkstack` calls and `lua_settable`, so a nesting bound, a nil or NaN map key, or a
/// stream of too many top-level objects fails with the error Redis gives, at the same point.
/// (Going through mlua's safe API cost a protected call, a C closure, per string and per
/// table slot: a fifth of a BullMQ job's server time.)
///
/// Lua errors (`luaL_checkstack`, `lua_settable`, memory) unwind with `longjmp` through the
/// decoder's frames, so they hold nothing that needs dropping: a cursor and integers.
mod raw {
    use mlua::ffi;
    use std::os::raw::c_int;

    /// What stops a decode (`mp_cur`'s `err`); raised by the caller once back at the top.
    pub enum Stop {
        Missing,
        BadFormat,
    }

    pub struct Cursor<'a> {
        pub buf: &'a [u8],
        pub pos: usize,
    }

    impl Cursor<'_> {
        pub fn left(&self) -> usize {
            self.buf.len() - self.pos
        }

        /// `mp_cur_need`: `n` more bytes, or Missing.
        fn need(&self, n: usize) -> Result<&[u8], Stop> {
            self.buf
                .get(self.pos..self.pos.checked_add(n).ok_or(Stop::Missing)?)
                .ok_or(Stop::Missing)
        }

        /// The `n`-byte big-endian integer after the type byte.
        fn be(&self, n: usize) -> Result<u64, Stop> {
            Ok(self.need(1 + n)?[1..]
                .iter()
                .fold(0u64, |acc, &b| (acc << 8) | b as u64))
        }
    }

    /// Lua 5.1's `luaL_checkstack` (mlua's wrapper adds Lua 5.4's `LUA_MINSTACK`).
    unsafe fn check_stack(l: *mut ffi::lua_State, msg: &std::ffi::CStr) {
        ffi::luaL_checkstack_(l, 1, msg.as_ptr());
    }

    /// `lua_pushinteger` of a value lua-cmsgpack reads as an unsigned or signed integer: Lua
    /// 5.1's `lua_Integer` is signed, so a uint64 above 2^63 wraps, as in Redis.
    unsafe fn push_int(l: *mut ffi::lua_State, v: i64) {
        ffi::lua_pushinteger(l, v as ffi::lua_Integer);
    }

    unsafe fn push_str(
        l: *mut ffi::lua_State,
        c: &mut Cursor<'_>,
        header: usize,
        len: usize,
    ) -> Result<(), Stop> {
        let total = header.checked_add(len).ok_or(Stop::Missing)?;
        let bytes = &c.need(total)?[header..];
        ffi::lua_pushlstring(l, bytes.as_ptr().cast(), bytes.len());
        c.pos += total;
        Ok(())
    }

    unsafe fn array(l: *mut ffi::lua_State, c: &mut Cursor<'_>, len: usize) -> Result<(), Stop> {
        ffi::lua_createtable(l, 0, 0);
        check_stack(l, c"in function mp_decode_to_lua_array");
        for index in 1..=len {
            ffi::lua_pushnumber(l, index as f64);
            value(l, c)?;
            ffi::lua_settable(l, -3);
        }
        Ok(())
    }

    unsafe fn hash(l: *mut ffi::lua_State, c: &mut Cursor<'_>, len: usize) -> Result<(), Stop> {
        ffi::lua_createtable(l, 0, 0);
        for _ in 0..len {
            value(l, c)?;
            value(l, c)?;
            ffi::lua_settable(l, -3);
        }
        Ok(())
    }

    /// `mp_decode_to_lua_type`: pushes the next object.
    pub unsafe fn value(l: *mut ffi::lua_State, c: &mut Cursor<'_>) -> Result<(), Stop> {
        let t = c.need(1)?[0];
        check_stack(
            l,
            c"too many return values at once; use unpack_one or unpack_limit instead.",
        );
        let (n, consumed) = match t {
            0x00..=0x7f => (t as i64, 1),
            0xe0..=0xff => (t as i8 as i64, 1),
            0xcc => (c.be(1)? as i64, 2),
            0xd0 => (c.be(1)? as u8 as i8 as i64, 2),
            0xcd => (c.be(2)? as i64, 3),
            0xd1 => (c.be(2)? as u16 as i16 as i64, 3),
            0xce => (c.be(4)? as i64, 5),
            0xd2 => (c.be(4)? as u32 as i32 as i64, 5),
            0xcf => (c.be(8)? as i64, 9),
            0xd3 => {
                // Lua 5.1: pushed as a number, not through lua_Integer.
                ffi::lua_pushnumber(l, c.be(8)? as i64 as f64);
                c.pos += 9;
                return Ok(());
            }
            0xca => {
                ffi::lua_pushnumber(l, f32::from_bits(c.be(4)? as u32) as f64);
                c.pos += 5;
                return Ok(());
            }
            0xcb => {
                ffi::lua_pushnumber(l, f64::from_bits(c.be(8)?));
                c.pos += 9;
                return Ok(());
            }
            0xc0 | 0xc2 | 0xc3 => {
                match t {
                    0xc0 => ffi::lua_pushnil(l),
                    _ => ffi::lua_pushboolean(l, c_int::from(t == 0xc3)),
                }
                c.pos += 1;
                return Ok(());
            }
            0xa0..=0xbf => return push_str(l, c, 1, (t & 0x1f) as usize),
            0xd9 => return push_str(l, c, 2, c.be(1)? as usize),
            0xda => return push_str(l, c, 3, c.be(2)? as usize),
            0xdb => return push_str(l, c, 5, c.be(4)? as usize),
            0x90..=0x9f => {
                c.pos += 1;
                return array(l, c, (t & 0x0f) as usize);
            }
            0xdc | 0xdd => {
                let width = if t == 0xdc { 2 } else { 4 };
                let len = c.be(width)? as usize;
                c.pos += 1 + width;
                return array(l, c, len);
            }
            0x80..=0x8f => {
                c.pos += 1;
                return hash(l, c, (t & 0x0f) as usize);
            }
            0xde | 0xdf => {
                let width = if t == 0xde { 2 } else { 4 };
                let len = c.be(width)? as usize;
                c.pos += 1 + width;
                return hash(l, c, len);
            }
            // lua-cmsgpack 0.4.0 has no bin or ext types.
            _ => return Err(Stop::BadFormat),
        };
        push_int(l, n);
        c.pos += consumed;
        Ok(())
    }

    /// `mp_unpack_full`: decodes up to `limit` objects (all of them when `limit` and `offset`
    /// are both 0) from argument 1 at `offset`; unless decoding all, the next offset (-1 at the
    /// end) comes first in the results.
    unsafe fn unpack_full(l: *mut ffi::lua_State, limit: i64, offset: i64) -> c_int {
        let mut len = 0usize;
        let s = ffi::luaL_checklstring(l, 1, &mut len);
        if offset < 0 || limit < 0 {
            return ffi::luaL_error(
                l,
                c"Invalid request to unpack with offset of %d and limit of %d.".as_ptr(),
                offset as c_int,
                len as c_int,
            );
        }
        if offset as u64 > len as u64 {
            return ffi::luaL_error(
                l,
                c"Start offset %d greater than input length %d.".as_ptr(),
                offset as c_int,
                len as c_int,
            );
        }
        let decode_all = limit == 0 && offset == 0;
        let limit = if decode_all { i32::MAX as i64 } else { limit };
        // Safety: the string is argument 1, alive for the whole call.
        let mut c = Cursor {
            buf: std::slice::from_raw_parts(s.cast(), len),
            pos: offset as usize,
        };
        let mut count: c_int = 0;
        while c.left() > 0 && (count as i64) < limit {
            match value(l, &mut c) {
                Ok(()) => count += 1,
                Err(Stop::Missing) => {
                    return ffi::luaL_error(l, c"Missing bytes in input.".as_ptr())
                }
                Err(Stop::BadFormat) => {
                    return ffi::luaL_error(l, c"Bad data format in input.".as_ptr())
                }
            }
        }
        if !decode_all {
            check_stack(l, c"in function mp_unpack_full");
            let next = if c.left() == 0 { -1 } else { c.pos as i64 };
            push_int(l, next);
            ffi::lua_insert(l, 2);
            count += 1;
        }
        count
    }

    /// `cmsgpack.unpack(s)`.
    pub unsafe extern "C-unwind" fn unpack(l: *mut ffi::lua_State) -> c_int {
        unpack_full(l, 0, 0)
    }

    /// `cmsgpack.unpack_one(s [, offset])`.
    pub unsafe extern "C-unwind" fn unpack_one(l: *mut ffi::lua_State) -> c_int {
        let offset = ffi::luaL_optinteger(l, 2, 0);
        ffi::lua_settop(l, 1.min(ffi::lua_gettop(l)));
        unpack_full(l, 1, offset as i64)
    }

    /// `cmsgpack.unpack_limit(s, limit [, offset])`.
    pub unsafe extern "C-unwind" fn unpack_limit(l: *mut ffi::lua_State) -> c_int {
        let limit = ffi::luaL_checkinteger(l, 2);
        let offset = ffi::luaL_optinteger(l, 3, 0);
        ffi::lua_settop(l, 1.min(ffi::lua_gettop(l)));
        unpack_full(l, limit as i64, offset as i64)
    }
}

/// Builds the `cmsgpack` table.
pub fn table(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "pack",
        lua.create_function(|lua, args: MultiValue| {
            if args.is_empty() {
                return Err(mlua::Error::runtime(
                    "bad argument #0 to 'pack' (MessagePack pack needs input.)",
                ));
            }
            let mut out = Vec::new();
            for v in args.iter() {
                encode(v, 0, &mut out)?;
            }
            lua.create_string(&out)
        })?,
    )?;
    // Safety: plain Lua C functions (see `raw`).
    unsafe {
        t.raw_set("unpack", lua.create_c_function(raw::unpack)?)?;
        t.raw_set("unpack_one", lua.create_c_function(raw::unpack_one)?)?;
        t.raw_set("unpack_limit", lua.create_c_function(raw::unpack_limit)?)?;
    }
    Ok(t)
}
