//! lua-cjson 2.1.0's settings and the functions that read and change them
//! (`cjson.encode_sparse_array`, `encode_max_depth`, `decode_max_depth`,
//! `encode_number_precision`, `encode_keep_buffer`, `encode_invalid_numbers`,
//! `decode_invalid_numbers`), with the C's validation, errors and return values.
//!
//! As in Redis, a setting outlives the script that made it: Redis keeps it in its Lua state
//! for EVAL scripts until `SCRIPT FLUSH` rebuilds the state. usher has a state per worker
//! thread, so the settings are kept once for the server instead, read by every thread's
//! `cjson` and put back to the defaults by `SCRIPT FLUSH` (`cache::ScriptCache::flush`).
//! Functions run in a Lua state of their own in Redis, so they have settings of their own
//! too ([`Realm`]), which nothing resets: `FUNCTION FLUSH` keeps Redis's functions state.

use mlua::ffi;
use parking_lot::Mutex;
use std::cell::Cell;
use std::ffi::{c_char, CStr};
use std::os::raw::c_int;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Clone, Copy)]
pub struct Config {
    pub sparse_convert: bool,
    pub sparse_ratio: i32,
    pub sparse_safe: i32,
    pub encode_max_depth: i32,
    pub decode_max_depth: i32,
    pub number_precision: i32,
    keep_buffer: bool,
    /// 0 off (an error), 1 on (`inf`, `nan`), 2 as `null`.
    pub encode_invalid_numbers: u8,
    pub decode_invalid_numbers: bool,
}

/// lua-cjson's `DEFAULT_*` settings.
const DEFAULT: Config = Config {
    sparse_convert: false,
    sparse_ratio: 2,
    sparse_safe: 10,
    encode_max_depth: 1000,
    decode_max_depth: 1000,
    number_precision: 14,
    keep_buffer: true,
    encode_invalid_numbers: 0,
    decode_invalid_numbers: true,
};

/// Whose settings a call reads and changes: Redis's EVAL scripts and its functions each have
/// a Lua state, and so a lua-cjson configuration, of their own.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Realm {
    Scripts = 0,
    Functions = 1,
}

static CONFIG: [Mutex<Config>; 2] = [Mutex::new(DEFAULT), Mutex::new(DEFAULT)];

/// Bumped under its realm's lock by every change: `cjson.encode` and `decode` run in every
/// script that answers JSON, so each thread keeps the settings it last read and takes the
/// lock only after a change (one atomic load per call otherwise).
static VERSION: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];

thread_local! {
    static SEEN: [Cell<(u64, Config)>; 2] =
        const { [Cell::new((0, DEFAULT)), Cell::new((0, DEFAULT))] };
    /// The realm of what this thread runs now (set by the engine before each run).
    static REALM: Cell<Realm> = const { Cell::new(Realm::Scripts) };
}

/// Called by the engine before it runs a script or a function on this thread.
pub fn enter(realm: Realm) {
    REALM.with(|r| r.set(realm));
}

/// The settings of the realm running on this thread.
pub fn get() -> Config {
    let realm = REALM.with(Cell::get) as usize;
    let now = VERSION[realm].load(Ordering::Acquire);
    SEEN.with(|seen| {
        let (at, cfg) = seen[realm].get();
        if at == now {
            return cfg;
        }
        let fresh = {
            let cfg = CONFIG[realm].lock();
            (VERSION[realm].load(Ordering::Acquire), *cfg)
        };
        seen[realm].set(fresh);
        fresh.1
    })
}

/// The scripts' settings back to lua-cjson's defaults (`SCRIPT FLUSH`, as a new Lua state in
/// Redis; the functions' stay).
pub fn reset() {
    let mut cfg = CONFIG[Realm::Scripts as usize].lock();
    *cfg = DEFAULT;
    VERSION[Realm::Scripts as usize].fetch_add(1, Ordering::AcqRel);
}

fn update(f: impl FnOnce(&mut Config)) {
    let realm = REALM.with(Cell::get) as usize;
    let mut cfg = CONFIG[realm].lock();
    f(&mut cfg);
    VERSION[realm].fetch_add(1, Ordering::AcqRel);
}

/// `json_arg_init`: at most `n` arguments, padded with nil to `n`.
unsafe fn arg_init(l: *mut ffi::lua_State, n: c_int) {
    if ffi::lua_gettop(l) > n {
        ffi::luaL_argerror(l, n + 1, c"found too many arguments".as_ptr());
    }
    while ffi::lua_gettop(l) < n {
        ffi::lua_pushnil(l);
    }
}

/// `json_enum_option` over `options` (`off`/`on` when None, where a boolean also sets it):
/// the new setting if argument `idx` is given, and pushes the setting as the C returns it.
unsafe fn enum_option(l: *mut ffi::lua_State, idx: c_int, setting: u8, options: &[&CStr]) -> u8 {
    let mut list: [*const c_char; 4] = [std::ptr::null(); 4];
    for (slot, o) in list.iter_mut().zip(options) {
        *slot = o.as_ptr();
    }
    let mut setting = setting;
    if ffi::lua_type(l, idx) != ffi::LUA_TNIL {
        setting = if ffi::lua_type(l, idx) == ffi::LUA_TBOOLEAN {
            u8::from(ffi::lua_toboolean(l, idx) != 0)
        } else {
            ffi::luaL_checkoption(l, idx, std::ptr::null(), list.as_ptr()) as u8
        };
    }
    if setting <= 1 {
        ffi::lua_pushboolean(l, c_int::from(setting));
    } else {
        ffi::lua_pushstring(l, options[setting as usize].as_ptr());
    }
    setting
}

const OFF_ON: &[&CStr] = &[c"off", c"on"];

/// `json_integer_option`: argument `idx` within `min..=max` (the error names argument 1, as
/// the C's does), and pushes the setting.
unsafe fn integer_option(
    l: *mut ffi::lua_State,
    idx: c_int,
    setting: i32,
    min: i32,
    max: i32,
) -> i32 {
    let mut setting = setting;
    if ffi::lua_type(l, idx) != ffi::LUA_TNIL {
        let value = ffi::luaL_checkinteger(l, idx) as i32;
        if !(min..=max).contains(&value) {
            let msg = ffi::lua_pushfstring(
                l,
                c"expected integer between %d and %d".as_ptr(),
                min as c_int,
                max as c_int,
            );
            ffi::luaL_argerror(l, 1, msg);
        }
        setting = value;
    }
    ffi::lua_pushinteger(l, setting as ffi::lua_Integer);
    setting
}

pub unsafe extern "C-unwind" fn encode_sparse_array(l: *mut ffi::lua_State) -> c_int {
    arg_init(l, 3);
    let cfg = get();
    let convert = enum_option(l, 1, u8::from(cfg.sparse_convert), OFF_ON) != 0;
    let ratio = integer_option(l, 2, cfg.sparse_ratio, 0, i32::MAX);
    let safe = integer_option(l, 3, cfg.sparse_safe, 0, i32::MAX);
    update(|c| {
        c.sparse_convert = convert;
        c.sparse_ratio = ratio;
        c.sparse_safe = safe;
    });
    3
}

pub unsafe extern "C-unwind" fn encode_max_depth(l: *mut ffi::lua_State) -> c_int {
    arg_init(l, 1);
    let v = integer_option(l, 1, get().encode_max_depth, 1, i32::MAX);
    update(|c| c.encode_max_depth = v);
    1
}

pub unsafe extern "C-unwind" fn decode_max_depth(l: *mut ffi::lua_State) -> c_int {
    arg_init(l, 1);
    let v = integer_option(l, 1, get().decode_max_depth, 1, i32::MAX);
    update(|c| c.decode_max_depth = v);
    1
}

pub unsafe extern "C-unwind" fn encode_number_precision(l: *mut ffi::lua_State) -> c_int {
    arg_init(l, 1);
    let v = integer_option(l, 1, get().number_precision, 1, 14);
    update(|c| c.number_precision = v);
    1
}

pub unsafe extern "C-unwind" fn encode_keep_buffer(l: *mut ffi::lua_State) -> c_int {
    arg_init(l, 1);
    let v = enum_option(l, 1, u8::from(get().keep_buffer), OFF_ON) != 0;
    update(|c| c.keep_buffer = v);
    1
}

pub unsafe extern "C-unwind" fn encode_invalid_numbers(l: *mut ffi::lua_State) -> c_int {
    arg_init(l, 1);
    let options: &[&CStr] = &[c"off", c"on", c"null"];
    let v = enum_option(l, 1, get().encode_invalid_numbers, options);
    update(|c| c.encode_invalid_numbers = v);
    1
}

pub unsafe extern "C-unwind" fn decode_invalid_numbers(l: *mut ffi::lua_State) -> c_int {
    arg_init(l, 1);
    let v = enum_option(l, 1, u8::from(get().decode_invalid_numbers), OFF_ON) != 0;
    update(|c| c.decode_invalid_numbers = v);
    1
}

/// The configuration functions, by name, for the `cjson` table.
pub const FUNCTIONS: [(&str, ffi::lua_CFunction); 7] = [
    ("encode_sparse_array", encode_sparse_array),
    ("encode_max_depth", encode_max_depth),
    ("decode_max_depth", decode_max_depth),
    ("encode_number_precision", encode_number_precision),
    ("encode_keep_buffer", encode_keep_buffer),
    ("encode_invalid_numbers", encode_invalid_numbers),
    ("decode_invalid_numbers", decode_invalid_numbers),
];
