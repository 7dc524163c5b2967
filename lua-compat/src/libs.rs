//! The libraries Redis adds to Lua 5.1 that usher implements in Rust: `bit` (LuaBitOp 1.0
//! semantics) and the deterministic `math.random` / `math.randomseed` (Redis's `rand48`).
//!
//! `cjson` lives in `cjson.rs`. Each function takes Lua values and raises Lua errors with the
//! texts the C libraries use.

use mlua::ffi;
use mlua::{Lua, MultiValue, Table, Value, Variadic};
use std::cell::Cell;
use std::os::raw::c_int;
use std::rc::Rc;

/// LuaBitOp's number → int32 conversion: round to nearest, then wrap modulo 2^32 (the
/// `n + 2^52 + 2^51` trick, done the same way so results agree bit for bit).
pub fn tobit(v: f64) -> i32 {
    (v + 6_755_399_441_055_744.0).to_bits() as u32 as i32
}

/// The name `luaL_argerror` gives the running function: what its caller called it
/// (`random`), or `?` when Lua cannot tell (a call through `pcall`).
pub(crate) fn called_as(lua: &Lua) -> String {
    lua.inspect_stack(0, |d| d.names().name.map(|n| n.into_owned()))
        .flatten()
        .unwrap_or_else(|| "?".to_string())
}

/// Argument `i` (0-based) as a number; the function's name for an error is asked of Lua only
/// then ([`called_as`] walks the call stack).
fn arg_num(lua: &Lua, args: &[Value], i: usize) -> mlua::Result<f64> {
    match args.get(i) {
        Some(Value::Number(n)) => Ok(*n),
        Some(Value::Integer(n)) => Ok(*n as f64),
        Some(Value::String(s)) => s
            .to_str()
            .ok()
            .and_then(|t| t.trim().parse::<f64>().ok())
            .ok_or_else(|| bad_arg(lua, i, "number expected, got string")),
        Some(v) => Err(bad_arg(
            lua,
            i,
            &format!("number expected, got {}", v.type_name()),
        )),
        None => Err(bad_arg(lua, i, "number expected, got no value")),
    }
}

fn bad_arg(lua: &Lua, i: usize, what: &str) -> mlua::Error {
    let fname = called_as(lua);
    mlua::Error::runtime(format!("bad argument #{} to '{fname}' ({what})", i + 1))
}

/// LuaBitOp's `barg`: argument `idx` as an int32 (`lua_tonumber`, then [`tobit`]); a value
/// that converts to 0 without being a number is a type error, as in the C.
unsafe fn barg(l: *mut ffi::lua_State, idx: c_int) -> u32 {
    let b = tobit(ffi::lua_tonumber(l, idx)) as u32;
    if b == 0 && ffi::lua_isnumber(l, idx) == 0 {
        ffi::luaL_typerror(l, idx, c"number".as_ptr());
    }
    b
}

/// LuaBitOp's `BRET`: the int32 as a number.
unsafe fn bret(l: *mut ffi::lua_State, b: u32) -> c_int {
    ffi::lua_pushnumber(l, b as i32 as f64);
    1
}

/// LuaBitOp 1.0's functions, as C functions: argument errors name the function as Lua can
/// (`'?'` through `pcall`), and the arguments are checked in the C's order (`band` checks its
/// first, then the rest from the last down).
mod bit {
    use super::{barg, bret};
    use mlua::ffi;
    use std::os::raw::c_int;

    macro_rules! fold {
        ($name:ident, $op:tt) => {
            pub unsafe extern "C-unwind" fn $name(l: *mut ffi::lua_State) -> c_int {
                let mut b = barg(l, 1);
                let mut i = ffi::lua_gettop(l);
                while i > 1 {
                    b $op barg(l, i);
                    i -= 1;
                }
                bret(l, b)
            }
        };
    }
    fold!(band, &=);
    fold!(bor, |=);
    fold!(bxor, ^=);

    macro_rules! shift {
        ($name:ident, $f:expr) => {
            pub unsafe extern "C-unwind" fn $name(l: *mut ffi::lua_State) -> c_int {
                let b = barg(l, 1);
                let n = barg(l, 2) & 31;
                let f: fn(u32, u32) -> u32 = $f;
                bret(l, f(b, n))
            }
        };
    }
    shift!(lshift, |b, n| b << n);
    shift!(rshift, |b, n| b >> n);
    shift!(arshift, |b, n| ((b as i32) >> n) as u32);
    shift!(rol, |b, n| b.rotate_left(n));
    shift!(ror, |b, n| b.rotate_right(n));

    pub unsafe extern "C-unwind" fn tobit(l: *mut ffi::lua_State) -> c_int {
        bret(l, barg(l, 1))
    }

    pub unsafe extern "C-unwind" fn bnot(l: *mut ffi::lua_State) -> c_int {
        bret(l, !barg(l, 1))
    }

    pub unsafe extern "C-unwind" fn bswap(l: *mut ffi::lua_State) -> c_int {
        bret(l, barg(l, 1).swap_bytes())
    }

    /// `bit.tohex(x [, n])`, with Redis's fix for CVE-2024-31449 (a width of -2^31).
    pub unsafe extern "C-unwind" fn tohex(l: *mut ffi::lua_State) -> c_int {
        let mut b = barg(l, 1);
        let mut n = if ffi::lua_type(l, 2) == ffi::LUA_TNONE {
            8
        } else {
            barg(l, 2) as i32
        };
        let mut digits = b"0123456789abcdef";
        if n == i32::MIN {
            n = i32::MIN + 1;
        }
        if n < 0 {
            n = -n;
            digits = b"0123456789ABCDEF";
        }
        let n = n.min(8) as usize;
        let mut buf = [0u8; 8];
        for i in (0..n).rev() {
            buf[i] = digits[(b & 15) as usize];
            b >>= 4;
        }
        ffi::lua_pushlstring(l, buf.as_ptr().cast(), n);
        1
    }
}

/// Builds the `bit` table.
pub fn bit_table(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    let functions: [(&str, ffi::lua_CFunction); 12] = [
        ("band", bit::band),
        ("bor", bit::bor),
        ("bxor", bit::bxor),
        ("lshift", bit::lshift),
        ("rshift", bit::rshift),
        ("arshift", bit::arshift),
        ("rol", bit::rol),
        ("ror", bit::ror),
        ("tobit", bit::tobit),
        ("bnot", bit::bnot),
        ("bswap", bit::bswap),
        ("tohex", bit::tohex),
    ];
    for (name, f) in functions {
        // Safety: plain Lua C functions (see `bit`).
        t.raw_set(name, unsafe { lua.create_c_function(f)? })?;
    }
    Ok(t)
}

/// Redis's `rand48` (the classic 48-bit linear congruential generator), so `math.random` gives
/// the numbers Redis's does.
#[derive(Clone, Copy)]
pub struct Rand48(u64);

impl Rand48 {
    const A: u64 = 0x5DEECE66D;
    const MASK: u64 = (1 << 48) - 1;

    /// The state before any seeding (drand48's default), where Redis 7.0 starts: a fresh
    /// redis-server's first `math.random(100)` is 40.
    pub fn initial() -> Rand48 {
        Rand48(0x1234_ABCD_330E)
    }

    pub fn seeded(seed: i32) -> Rand48 {
        Rand48((((seed as u32 as u64) << 16) | 0x330E) & Self::MASK)
    }

    /// `lrand48`: 31 bits.
    pub fn draw(&mut self) -> i32 {
        self.0 = (self.0.wrapping_mul(Self::A).wrapping_add(0xB)) & Self::MASK;
        (self.0 >> 17) as i32
    }
}

/// Installs `math.random` and `math.randomseed` over the generator in `state`, which the
/// engine reseeds before every script (deterministic per call).
/// Lua 5.1's `luaL_checkint`: the number truncated to a 64-bit integer, then to an `int`
/// (its low 32 bits), so `math.random(2^40)` sees 0, as in Redis.
fn check_int(n: f64) -> i32 {
    n as i64 as i32
}

pub fn install_random(lua: &Lua, math: &Table, state: Rc<Cell<Rand48>>) -> mlua::Result<()> {
    let st = state.clone();
    math.raw_set(
        "random",
        lua.create_function(move |lua, args: MultiValue| {
            let mut g = st.get();
            // REDIS_LRAND48_MAX is INT32_MAX.
            let r = (g.draw() % i32::MAX) as f64 / i32::MAX as f64;
            st.set(g);
            let args: Vec<Value> = args.into_iter().collect();
            match args.len() {
                0 => Ok(r),
                1 => {
                    let u = check_int(arg_num(lua, &args, 0)?);
                    if u < 1 {
                        return Err(bad_arg(lua, 0, "interval is empty"));
                    }
                    Ok((r * u as f64).floor() + 1.0)
                }
                2 => {
                    let l = check_int(arg_num(lua, &args, 0)?);
                    let u = check_int(arg_num(lua, &args, 1)?);
                    if l > u {
                        return Err(bad_arg(lua, 1, "interval is empty"));
                    }
                    Ok((r * (u as f64 - l as f64 + 1.0)).floor() + l as f64)
                }
                _ => Err(mlua::Error::runtime("wrong number of arguments")),
            }
        })?,
    )?;
    math.raw_set(
        "randomseed",
        lua.create_function(move |lua, args: Variadic<Value>| {
            state.set(Rand48::seeded(check_int(arg_num(lua, &args, 0)?)));
            Ok(())
        })?,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tobit_wraps_like_bitop() {
        assert_eq!(tobit(0xffff_ffffu32 as f64), -1);
        assert_eq!(tobit(2147483648.0), i32::MIN);
        assert_eq!(tobit(-1.0), -1);
        assert_eq!(tobit(1.5), 2);
    }

    #[test]
    fn rand48_seed_zero_matches_redis_first_draw() {
        // redis-server 7.0.15, fresh: EVAL "return math.random(100)" 0 -> 40.
        let mut g = Rand48::initial();
        let r = (g.draw() % i32::MAX) as f64 / i32::MAX as f64;
        assert_eq!((r * 100.0).floor() + 1.0, 40.0);
    }
}

/// Redis's Lua parses every chunk as text, so a precompiled (binary) chunk, whose first byte
/// is `ESC`, is a syntax error there and never loaded: Lua 5.1 trusts the bytecode it loads,
/// and crafted bytecode escapes any sandbox (Redis's CVE-2015-4335). Vanilla 5.1.5 loads it;
/// `loadstring`, `load` and EVAL's compiler give Lua's parser [`BINARY_STAND_IN`] instead.
pub fn is_binary_chunk(chunk: &[u8]) -> bool {
    chunk.first() == Some(&0x1b)
}

/// What the parser is given in place of a binary chunk: text that fails, on line 1, at an
/// `ESC` byte, so the error (`<chunk name>:1: unexpected symbol near 'char(27)'`, the name
/// shortened by Lua itself) is the one Redis's text parser gives the binary chunk.
pub const BINARY_STAND_IN: &[u8] = b" \x1b";

/// Lua 5.1's `load_aux`: the loaded function, or nil and the error message.
unsafe fn load_result(l: *mut ffi::lua_State, status: std::os::raw::c_int) -> std::os::raw::c_int {
    if status == 0 {
        1
    } else {
        ffi::lua_pushnil(l);
        ffi::lua_insert(l, -2);
        2
    }
}

/// Lua 5.1's `loadstring`, refusing binary chunks as Redis does.
///
/// # Safety
/// Called by Lua only; raises errors with `luaL_argerror`, holding nothing that needs a drop.
pub unsafe extern "C-unwind" fn loadstring(l: *mut ffi::lua_State) -> std::os::raw::c_int {
    let mut len = 0usize;
    let s = ffi::luaL_checklstring(l, 1, &mut len);
    let chunkname = ffi::luaL_optlstring(l, 2, s, std::ptr::null_mut());
    let (s, len) = if is_binary_chunk(std::slice::from_raw_parts(s.cast(), len)) {
        (BINARY_STAND_IN.as_ptr().cast(), BINARY_STAND_IN.len())
    } else {
        (s, len)
    };
    load_result(l, ffi::luaL_loadbuffer(l, s, len, chunkname))
}

/// Lua 5.1's `load(func [, chunkname])`, refusing binary chunks as Redis does: the reader
/// checks the first piece the function gives.
///
/// # Safety
/// Called by Lua only; raises errors with `luaL_argerror`, holding nothing that needs a drop.
pub unsafe extern "C-unwind" fn load(l: *mut ffi::lua_State) -> std::os::raw::c_int {
    let cname = ffi::luaL_optlstring(l, 2, c"=(load)".as_ptr(), std::ptr::null_mut());
    ffi::luaL_checktype(l, 1, ffi::LUA_TFUNCTION);
    ffi::lua_settop(l, 3); // the function, the name, and a slot for the piece being read
    let mut first = true;
    let status = ffi::lua_load(l, load_reader, (&mut first as *mut bool).cast(), cname);
    load_result(l, status)
}

/// Lua 5.1's `generic_reader`, which hands the parser [`BINARY_STAND_IN`] when the chunk's
/// first piece is binary (the parse then fails there, as Redis's does).
unsafe extern "C-unwind" fn load_reader(
    l: *mut ffi::lua_State,
    first: *mut std::ffi::c_void,
    size: *mut usize,
) -> *const std::os::raw::c_char {
    let first = std::mem::take(&mut *first.cast::<bool>());
    ffi::luaL_checkstack(l, 2, c"too many nested functions".as_ptr());
    ffi::lua_pushvalue(l, 1);
    ffi::lua_call(l, 0, 1);
    if ffi::lua_type(l, -1) == ffi::LUA_TNIL {
        ffi::lua_settop(l, -2);
        *size = 0;
        return std::ptr::null();
    }
    if ffi::lua_isstring(l, -1) == 0 {
        ffi::luaL_error(l, c"reader function must return a string".as_ptr());
        return std::ptr::null();
    }
    ffi::lua_replace(l, 3);
    let piece = ffi::lua_tolstring(l, 3, size);
    if first && is_binary_chunk(std::slice::from_raw_parts(piece.cast(), *size)) {
        *size = BINARY_STAND_IN.len();
        return BINARY_STAND_IN.as_ptr().cast();
    }
    piece
}

/// Lua 5.1's `unpack` with Redis's fix for CVE-2025-46817: the count of results is computed
/// in unsigned arithmetic. Vanilla 5.1.5's `e - i + 1` overflows for extreme bounds
/// (`unpack({}, -2^31, 2^31 - 1)`), and the optimiser drops its overflow check: the server
/// then pushed billions of values and crashed.
///
/// # Safety
/// Called by Lua only; raises errors with `luaL_error`, holding nothing that needs a drop.
pub unsafe extern "C-unwind" fn unpack(l: *mut ffi::lua_State) -> std::os::raw::c_int {
    use std::os::raw::c_int;
    ffi::luaL_checktype(l, 1, ffi::LUA_TTABLE);
    let i = ffi::luaL_optinteger(l, 2, 1) as c_int;
    let e = if ffi::lua_type(l, 3) <= 0 {
        ffi::lua_objlen(l, 1) as c_int // none or nil: the table's length
    } else {
        ffi::luaL_checkinteger(l, 3) as c_int
    };
    if i > e {
        return 0;
    }
    let n = (e as u32).wrapping_sub(i as u32); // results minus one
    if n >= c_int::MAX as u32 || ffi::lua_checkstack(l, n as c_int + 1) == 0 {
        return ffi::luaL_error(l, c"too many results to unpack".as_ptr());
    }
    ffi::lua_rawgeti(l, 1, i as ffi::lua_Integer);
    let mut k = i;
    while k < e {
        k += 1;
        ffi::lua_rawgeti(l, 1, k as ffi::lua_Integer);
    }
    n as c_int + 1
}

/// Lua 5.1's `tonumber` (`luaB_tonumber`, line for line, so its errors read the same) with
/// one shortcut: a one-argument call on a short decimal integer string skips `strtod`.
/// glibc takes its multi-precision path for a 13-digit arrival time, and `luaB_tonumber`
/// converts twice (`lua_isnumber`, then `lua_tonumber`): two thirds of the seed scripts'
/// `tonumber(ARGV[n])` calls cost about a thousand instructions each.
///
/// # Safety
/// Called by Lua only; raises errors with `luaL_argerror`, holding nothing that needs a drop.
pub unsafe extern "C-unwind" fn tonumber(l: *mut ffi::lua_State) -> std::os::raw::c_int {
    if ffi::lua_gettop(l) == 1 && ffi::lua_type(l, 1) == ffi::LUA_TSTRING {
        let mut len = 0usize;
        let p = ffi::lua_tolstring(l, 1, &mut len);
        if let Some(v) =
            usher_protocol::double::small_integer(std::slice::from_raw_parts(p.cast(), len))
        {
            ffi::lua_pushnumber(l, v);
            return 1;
        }
    }
    let base = ffi::luaL_optinteger(l, 2, 10) as std::os::raw::c_int;
    if base == 10 {
        ffi::luaL_checkany(l, 1);
        if ffi::lua_isnumber(l, 1) != 0 {
            ffi::lua_pushnumber(l, ffi::lua_tonumber(l, 1));
            return 1;
        }
    } else {
        let s1 = ffi::luaL_checklstring(l, 1, std::ptr::null_mut());
        if !(2..=36).contains(&base) {
            ffi::luaL_argerror(l, 2, c"base out of range".as_ptr());
        }
        let mut s2: *mut std::os::raw::c_char = std::ptr::null_mut();
        let n = libc::strtoul(s1, &mut s2, base);
        if s1 != s2.cast_const() {
            while libc::isspace(*s2 as u8 as std::os::raw::c_int) != 0 {
                s2 = s2.add(1);
            }
            if *s2 == 0 {
                ffi::lua_pushnumber(l, n as f64);
                return 1;
            }
        }
    }
    ffi::lua_pushnil(l);
    1
}

#[cfg(test)]
mod tonumber_tests {
    use usher_protocol::double::small_integer;

    #[test]
    fn short_decimals_read_as_strtod_does() {
        for s in [
            "0",
            "-0",
            "7",
            "-12",
            "1795000000000",
            "999999999999999",
            "-999999999999999",
        ] {
            let want: f64 = s.parse().unwrap();
            let got = small_integer(s.as_bytes()).unwrap();
            assert_eq!(got.to_bits(), want.to_bits(), "{s}");
        }
        for s in [
            "",
            "-",
            "1e3",
            " 1",
            "1 ",
            "+1",
            "0x10",
            "1.5",
            "1000000000000000",
            "12a",
        ] {
            assert_eq!(small_integer(s.as_bytes()), None, "{s:?}");
        }
    }
}

/// Redis 7.0's `pcall` (`luaRedisPcall`): Lua's, except that an error table's `err` text is
/// what a script catches, as Redis hands it. A Rust library function's error (a userdata) is
/// turned into its text first by upvalue 1. Written in C like Redis's, not as a Lua wrapper:
/// a wrapper's frame showed in error positions (`pcall(error, 'x', 2)` said `[usher]:51:`)
/// and its argument errors named the wrapped function.
///
/// # Safety
/// Called by Lua only, as a C closure with the error-text function as upvalue 1.
pub unsafe extern "C-unwind" fn pcall(l: *mut ffi::lua_State) -> std::os::raw::c_int {
    let argc = ffi::lua_gettop(l);
    ffi::lua_pushboolean(l, 1); // the result's place
    if argc == 0 {
        // Redis calls with -1 arguments, which calls its placeholder: a boolean.
        ffi::lua_pcall(l, 0, ffi::LUA_MULTRET, 0);
        ffi::lua_pushboolean(l, 0);
        ffi::lua_insert(l, 1);
        return 2;
    }
    ffi::lua_insert(l, 1);
    if ffi::lua_pcall(l, argc - 1, ffi::LUA_MULTRET, 0) != 0 {
        ffi::lua_remove(l, 1);
        if ffi::lua_type(l, -1) == ffi::LUA_TUSERDATA {
            ffi::lua_pushvalue(l, ffi::lua_upvalueindex(1));
            ffi::lua_insert(l, -2);
            ffi::lua_call(l, 1, 1);
        }
        if ffi::lua_istable(l, -1) != 0 {
            ffi::lua_getfield(l, -1, c"err".as_ptr());
            if ffi::lua_isstring(l, -1) != 0 {
                ffi::lua_replace(l, -2);
            } else {
                ffi::lua_pop(l, 1);
            }
        }
        ffi::lua_pushboolean(l, 0);
        ffi::lua_insert(l, 1);
    }
    ffi::lua_gettop(l)
}

/// Whether the value at `idx` is one of the sandbox's read-only proxies (upvalue 1 is the
/// weak set of them).
unsafe fn is_read_only(l: *mut ffi::lua_State, idx: std::os::raw::c_int) -> bool {
    ffi::lua_pushvalue(l, idx);
    ffi::lua_rawget(l, ffi::lua_upvalueindex(1));
    let read_only = ffi::lua_toboolean(l, -1) != 0;
    ffi::lua_pop(l, 1);
    read_only
}

unsafe fn read_only_error(l: *mut ffi::lua_State) -> std::os::raw::c_int {
    ffi::lua_pushstring(l, c"Attempt to modify a readonly table".as_ptr());
    ffi::lua_error(l)
}

/// Lua 5.1's `setmetatable`, refusing the sandbox's read-only tables (upvalue 1).
///
/// # Safety
/// Called by Lua only, as a C closure with the read-only set as upvalue 1.
pub unsafe extern "C-unwind" fn setmetatable(l: *mut ffi::lua_State) -> std::os::raw::c_int {
    if is_read_only(l, 1) {
        return read_only_error(l);
    }
    let t = ffi::lua_type(l, 2);
    ffi::luaL_checktype(l, 1, ffi::LUA_TTABLE);
    if t != ffi::LUA_TNIL && t != ffi::LUA_TTABLE {
        ffi::luaL_argerror(l, 2, c"nil or table expected".as_ptr());
    }
    if ffi::luaL_getmetafield(l, 1, c"__metatable".as_ptr()) != ffi::LUA_TNIL {
        ffi::luaL_error(l, c"cannot change a protected metatable".as_ptr());
    }
    ffi::lua_settop(l, 2);
    ffi::lua_setmetatable(l, 1);
    1
}

/// Lua 5.1's `rawset`, refusing the sandbox's read-only tables (upvalue 1).
///
/// # Safety
/// Called by Lua only, as a C closure with the read-only set as upvalue 1.
pub unsafe extern "C-unwind" fn rawset(l: *mut ffi::lua_State) -> std::os::raw::c_int {
    if is_read_only(l, 1) {
        return read_only_error(l);
    }
    ffi::luaL_checktype(l, 1, ffi::LUA_TTABLE);
    ffi::luaL_checkany(l, 2);
    ffi::luaL_checkany(l, 3);
    ffi::lua_settop(l, 3);
    ffi::lua_rawset(l, 1);
    1
}
