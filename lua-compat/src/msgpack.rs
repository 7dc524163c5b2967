//! `cmsgpack`: Redis's bundled lua-cmsgpack 0.4.0, reimplemented in Rust with the same
//! encoding choices, so payloads are byte-identical to Redis's.
//!
//! `pack(...)` encodes each argument: integral numbers as the smallest MessagePack integer,
//! other numbers as float32 when exact, else float64; strings as fixstr/str8/str16/str32;
//! tables without holes keyed 1..n as arrays, other tables as maps (in Lua's table order);
//! nesting deeper than 16 and unsupported types as nil. `unpack(s)` returns every object in
//! `s`; `unpack_one(s [, offset])` returns the next offset (-1 at the end) and one object;
//! `unpack_limit(s, n [, offset])` the next offset and up to `n` objects. Both directions work
//! on the Lua stack directly (`pack`, `raw`), as the C library does: job queues unpack a
//! payload in every script call.

use mlua::{Lua, Table};

/// lua-cmsgpack's `LUACMSGPACK_MAX_NESTING`: deeper tables are encoded as nil (so a table that
/// contains itself still encodes).
const MAX_NESTING: usize = 16;

/// Encoding, as lua-cmsgpack 0.4.0 encodes (`mp_encode_lua_type` and its helpers), on the Lua
/// C API: tables are read with `lua_next`, `lua_objlen` and `lua_gettable` (so an `__index`
/// metamethod is seen as Redis sees it), with Redis's `luaL_checkstack` calls. The bytes go
/// to a userdata buffer kept in a fixed stack slot, so a Lua error raised meanwhile (a
/// metamethod's, memory) unwinds through frames that own nothing.
mod pack {
    use super::MAX_NESTING;
    use mlua::ffi;
    use std::os::raw::c_int;

    /// The output: a userdata at stack index `slot`, replaced by a bigger one as it fills.
    struct Buf {
        l: *mut ffi::lua_State,
        slot: c_int,
        ptr: *mut u8,
        len: usize,
        cap: usize,
    }

    impl Buf {
        unsafe fn put(&mut self, bytes: &[u8]) {
            if self.len + bytes.len() > self.cap {
                let cap = (self.cap * 2).max(self.len + bytes.len());
                if ffi::lua_checkstack(self.l, 1) == 0 {
                    ffi::luaL_error(
                        self.l,
                        c"stack overflow (in function mp_buf_append)".as_ptr(),
                    );
                }
                let grown = ffi::lua_newuserdata(self.l, cap).cast::<u8>();
                std::ptr::copy_nonoverlapping(self.ptr, grown, self.len);
                ffi::lua_replace(self.l, self.slot);
                self.ptr = grown;
                self.cap = cap;
            }
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.ptr.add(self.len), bytes.len());
            self.len += bytes.len();
        }
    }

    /// A type byte and a big-endian payload, on the stack (nothing here may own heap memory).
    unsafe fn tagged(buf: &mut Buf, tag: u8, payload: &[u8]) {
        let mut b = [0u8; 9];
        b[0] = tag;
        b[1..=payload.len()].copy_from_slice(payload);
        buf.put(&b[..=payload.len()]);
    }

    /// `mp_encode_int`: the smallest MessagePack integer holding `n`.
    unsafe fn int(buf: &mut Buf, n: i64) {
        match n {
            0..=127 => buf.put(&[n as u8]),
            128..=0xff => buf.put(&[0xcc, n as u8]),
            0x100..=0xffff => tagged(buf, 0xcd, &(n as u16).to_be_bytes()),
            0x1_0000..=0xffff_ffff => tagged(buf, 0xce, &(n as u32).to_be_bytes()),
            0x1_0000_0000.. => tagged(buf, 0xcf, &(n as u64).to_be_bytes()),
            -32..=-1 => buf.put(&[n as i8 as u8]),
            -128..=-33 => buf.put(&[0xd0, n as i8 as u8]),
            -32768..=-129 => tagged(buf, 0xd1, &(n as i16).to_be_bytes()),
            -2_147_483_648..=-32769 => tagged(buf, 0xd2, &(n as i32).to_be_bytes()),
            _ => tagged(buf, 0xd3, &n.to_be_bytes()),
        }
    }

    /// `IS_INT64_EQUIVALENT`: finite and equal to its int64 conversion, as x86 converts
    /// (a value at or past 2^63, or a NaN, is not).
    fn is_int64(n: f64) -> bool {
        (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&n) && n.trunc() == n
    }

    /// `IS_INT_EQUIVALENT`, for table keys: within C's `int` and integral.
    fn is_int(n: f64) -> bool {
        (-2_147_483_648.0..=2_147_483_647.0).contains(&n) && n.trunc() == n
    }

    /// `mp_encode_lua_number`: an integer where exact, else float32 where exact, else float64.
    unsafe fn number(buf: &mut Buf, n: f64) {
        if is_int64(n) {
            return int(buf, n as i64);
        }
        let f = n as f32;
        if f as f64 == n {
            tagged(buf, 0xca, &f.to_be_bytes());
        } else {
            tagged(buf, 0xcb, &n.to_be_bytes());
        }
    }

    /// A header: `fix | n` up to `fix_max`, else a 16- or 32-bit length after `codes`.
    unsafe fn header(buf: &mut Buf, n: usize, fix: u8, fix_max: usize, codes: [u8; 2]) {
        if n <= fix_max {
            buf.put(&[fix | n as u8]);
        } else if n <= 0xffff {
            buf.put(&[codes[0], (n >> 8) as u8, n as u8]);
        } else {
            tagged(buf, codes[1], &(n as u32).to_be_bytes());
        }
    }

    /// `mp_encode_bytes`.
    unsafe fn bytes(buf: &mut Buf, b: &[u8]) {
        if b.len() < 32 {
            buf.put(&[0xa0 | b.len() as u8]);
        } else if b.len() <= 0xff {
            buf.put(&[0xd9, b.len() as u8]);
        } else {
            header(buf, b.len(), 0, 0, [0xda, 0xdb]);
        }
        buf.put(b);
    }

    /// `table_is_an_array`: every key a positive integral number and no holes.
    unsafe fn is_array(l: *mut ffi::lua_State) -> bool {
        let top = ffi::lua_gettop(l);
        ffi::luaL_checkstack_(l, 2, c"in function table_is_an_array".as_ptr());
        let (mut count, mut max) = (0i64, 0i64);
        ffi::lua_pushnil(l);
        while ffi::lua_next(l, -2) != 0 {
            ffi::lua_pop(l, 1);
            let n = ffi::lua_tonumber(l, -1);
            if ffi::lua_type(l, -1) != ffi::LUA_TNUMBER || n <= 0.0 || !is_int(n) {
                ffi::lua_settop(l, top);
                return false;
            }
            max = max.max(n as i64);
            count += 1;
        }
        ffi::lua_settop(l, top);
        max == count
    }

    /// `mp_encode_lua_type`: encodes the value on top of the stack and pops it.
    unsafe fn value(l: *mut ffi::lua_State, buf: &mut Buf, level: usize) {
        let mut t = ffi::lua_type(l, -1);
        if t == ffi::LUA_TTABLE && level == MAX_NESTING {
            t = ffi::LUA_TNIL;
        }
        match t {
            ffi::LUA_TSTRING => {
                let mut len = 0usize;
                let p = ffi::lua_tolstring(l, -1, &mut len);
                bytes(buf, std::slice::from_raw_parts(p.cast(), len));
            }
            ffi::LUA_TBOOLEAN => buf.put(&[if ffi::lua_toboolean(l, -1) != 0 {
                0xc3
            } else {
                0xc2
            }]),
            ffi::LUA_TNUMBER => number(buf, ffi::lua_tonumber(l, -1)),
            ffi::LUA_TTABLE if is_array(l) => {
                let len = ffi::lua_objlen(l, -1);
                header(buf, len, 0x90, 15, [0xdc, 0xdd]);
                ffi::luaL_checkstack_(l, 1, c"in function mp_encode_lua_table_as_array".as_ptr());
                for j in 1..=len {
                    ffi::lua_pushnumber(l, j as f64);
                    ffi::lua_gettable(l, -2);
                    value(l, buf, level + 1);
                }
            }
            ffi::LUA_TTABLE => {
                ffi::luaL_checkstack_(l, 3, c"in function mp_encode_lua_table_as_map".as_ptr());
                let mut len = 0usize;
                ffi::lua_pushnil(l);
                while ffi::lua_next(l, -2) != 0 {
                    ffi::lua_pop(l, 1);
                    len += 1;
                }
                header(buf, len, 0x80, 15, [0xde, 0xdf]);
                ffi::lua_pushnil(l);
                while ffi::lua_next(l, -2) != 0 {
                    ffi::lua_pushvalue(l, -2);
                    value(l, buf, level + 1);
                    value(l, buf, level + 1);
                }
            }
            _ => buf.put(&[0xc0]),
        }
        ffi::lua_pop(l, 1);
    }

    /// `cmsgpack.pack(...)`: every argument encoded, one after the other.
    pub unsafe extern "C-unwind" fn pack(l: *mut ffi::lua_State) -> c_int {
        let nargs = ffi::lua_gettop(l);
        if nargs == 0 {
            return ffi::luaL_argerror(l, 0, c"MessagePack pack needs input.".as_ptr());
        }
        if ffi::lua_checkstack(l, nargs) == 0 {
            return ffi::luaL_argerror(l, 0, c"Too many arguments for MessagePack pack.".as_ptr());
        }
        let cap = 64;
        let ptr = ffi::lua_newuserdata(l, cap).cast::<u8>();
        let mut buf = Buf {
            l,
            slot: nargs + 1,
            ptr,
            len: 0,
            cap,
        };
        for i in 1..=nargs {
            ffi::luaL_checkstack_(l, 1, c"in function mp_check".as_ptr());
            ffi::lua_pushvalue(l, i);
            value(l, &mut buf, 0);
        }
        ffi::lua_pushlstring(l, buf.ptr.cast(), buf.len);
        1
    }
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
            0x80..=0x9f | 0xdc..=0xdf => {
                // Fix array and map: the count is in the type byte; 16 and 32 follow it.
                let (len, header) = match t {
                    0x80..=0x9f => ((t & 0x0f) as usize, 1),
                    0xdc | 0xde => (c.be(2)? as usize, 3),
                    _ => (c.be(4)? as usize, 5),
                };
                c.pos += header;
                return match t {
                    0x90..=0x9f | 0xdc | 0xdd => array(l, c, len),
                    _ => hash(l, c, len),
                };
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
    // Safety: plain Lua C functions (see `pack` and `raw`).
    unsafe {
        t.raw_set("pack", lua.create_c_function(pack::pack)?)?;
        t.raw_set("unpack", lua.create_c_function(raw::unpack)?)?;
        t.raw_set("unpack_one", lua.create_c_function(raw::unpack_one)?)?;
        t.raw_set("unpack_limit", lua.create_c_function(raw::unpack_limit)?)?;
    }
    Ok(t)
}
