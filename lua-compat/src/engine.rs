//! One Lua 5.1 state per worker thread, set up as Redis 7.0 sets up its own: the sandbox, the
//! `redis` API, the libraries, and the run of one script with Redis's error shapes.
//!
//! Sandbox: `os`, `io`, `debug`, `require`, `loadfile`, `dofile`, `print`, `setfenv`,
//! `getfenv`, `module`, `newproxy` are gone; the globals a script sees are an empty proxy whose
//! reads fall through to the real globals and whose writes fail ("Attempt to modify a readonly
//! table"), and reading an undefined global fails ("Script attempted to access nonexistent
//! global variable"). The library tables (`redis`, `cjson`, `string`, ...) are read-only
//! proxies too, and so is the strings' shared metatable as `getmetatable('')` shows it (its
//! `__index` is the read-only `string`). Redis patched its Lua with read-only tables; proxies
//! give the same answers without patching (one difference: `pairs(redis)` iterates nothing).
//! Binary (precompiled) chunks are never loaded (`libs::BINARY_STAND_IN`). Each state has a
//! memory bound (`MEMORY_LIMIT`), and an instruction hook checks the time limit and
//! `SCRIPT KILL`.
//!
//! `redis.call` reaches the server through the [`Host`] trait: the server runs the command under
//! the script's shard locks and hands back its RESP reply, which `convert` turns into Lua.

use crate::cache::{Script, ScriptFlags};
use crate::convert::ReplyErrors;
use crate::functions::{FunctionDef, Library};
use crate::libs::{self, Rand48};
use mlua::ffi;
use mlua::{Function, Lua, LuaOptions, MultiValue, StdLib, Table, Value};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ptr::NonNull;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use usher_protocol::{Argv, OwnedArgv, Protocol, ReplySink};

/// Memory one worker's Lua state may use; past it a script fails with a clear error.
pub const MEMORY_LIMIT: usize = 256 << 20;

/// Lua's collector starts a cycle when memory reaches this percentage of what the last cycle
/// left (Lua's default: 200).
const GC_PAUSE: i32 = 400;

/// The chunk names scripts and function libraries are compiled under (Redis's).
const SCRIPT_CHUNK: &str = "@user_script";
const FUNCTION_CHUNK: &str = "@user_function";

/// Instructions between two checks of the clock and the kill flag.
const HOOK_EVERY: u32 = 10_000;

/// Why the server did not run a command a script asked for.
pub enum Refusal {
    /// An error for the script (`"ERR ..."`, Redis's wording, or a bare message that gets `ERR`).
    Error(String),
    /// The command needs a shard the script did not lock, before the script wrote anything:
    /// unwind, and let the server rerun the script with every shard locked.
    Retry,
}

/// What the server provides to scripts.
pub trait Host {
    /// Runs one command for the script and writes its RESP reply (in `proto`) to `out`.
    /// Returns whether the command may have written (for `SCRIPT KILL`'s UNKILLABLE).
    fn call(&mut self, argv: Argv<'_>, proto: Protocol, out: &mut Vec<u8>)
        -> Result<bool, Refusal>;
    /// `redis.log`: level 0 debug .. 3 warning.
    fn log(&mut self, level: i32, message: &str);
    /// `redis.acl_check_cmd`: whether the user who called the script may run `argv` (the
    /// command, its keys and channels); `None` when there is no such command.
    fn acl_check(&mut self, argv: Argv<'_>) -> Option<bool>;
}

/// How a run ended when it did not produce a reply.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The reply was written; the error replies it held, for the error statistics.
    Done(ReplyErrors),
    /// The script reached an unlocked shard before writing: rerun it with every shard locked.
    Retry,
}

/// A run that ended in the script's error (or one before it ran: compiling, memory).
#[derive(Debug)]
pub struct RunError {
    /// The error text as sent (without the leading `-`).
    pub text: String,
    /// A command's run counted this error already (the script raised what `redis.call`
    /// got): the caller's call is failed, nothing more is counted, as Redis's
    /// `ERR_REPLY_FLAG_NO_STATS_UPDATE`.
    pub counted: bool,
}

impl From<String> for RunError {
    fn from(text: String) -> Self {
        RunError {
            text,
            counted: false,
        }
    }
}

/// What other threads can see of a running script: `SCRIPT KILL`, `BUSY` replies, and
/// `FUNCTION STATS`.
#[derive(Default)]
pub struct Running {
    pub active: AtomicBool,
    pub wrote: AtomicBool,
    pub kill: AtomicBool,
    /// Past the busy threshold (counted in [`BUSY_SCRIPTS`]).
    pub busy: AtomicBool,
    pub is_function: AtomicBool,
    /// Bytes this state uses, after its last run.
    pub memory: AtomicU64,
    /// Set while the script is busy: what `FUNCTION STATS` reports as `running_script`.
    pub call: parking_lot::Mutex<Option<ScriptCall>>,
}

/// A busy script's function name, the command that called it and when it started.
#[derive(Clone, Debug)]
pub struct ScriptCall {
    pub name: String,
    pub command: Vec<Vec<u8>>,
    pub started: Instant,
}

/// The script past `busy-reply-threshold`, if one is (the first found: Redis runs one at a
/// time). Redis can answer other clients only then, so `FUNCTION STATS` reports no other.
pub fn busy_script() -> Option<(ScriptCall, bool)> {
    let reg = running_registry().lock();
    reg.iter()
        .filter(|r| r.active.load(Ordering::Acquire) && r.busy.load(Ordering::Acquire))
        .find_map(|r| {
            let call = r.call.lock().clone()?;
            Some((call, r.is_function.load(Ordering::Relaxed)))
        })
}

/// Set when the server shuts down: every running script stops at its next hook check, writes
/// or not (SHUTDOWN NOSAVE must work while a script is busy).
pub static ABORT_ALL: AtomicBool = AtomicBool::new(false);

/// Scripts running past `busy-reply-threshold`: while non-zero, other clients get `BUSY`.
pub static BUSY_SCRIPTS: AtomicUsize = AtomicUsize::new(0);

/// Every worker's [`Running`], for `SCRIPT KILL` / `FUNCTION KILL` from any thread.
pub fn running_registry() -> &'static parking_lot::Mutex<Vec<Arc<Running>>> {
    static REG: OnceLock<parking_lot::Mutex<Vec<Arc<Running>>>> = OnceLock::new();
    REG.get_or_init(Default::default)
}

/// Sum of every state's Lua memory (`used_memory_lua`).
pub fn lua_memory() -> u64 {
    running_registry()
        .lock()
        .iter()
        .map(|r| r.memory.load(Ordering::Relaxed))
        .sum()
}

/// Outcome of SCRIPT KILL / FUNCTION KILL.
pub enum KillResult {
    Killed,
    NotBusy,
    Unkillable,
}

/// Asks the running script (of the right kind) to stop; it stops at its next hook check.
pub fn kill_running(functions: bool) -> KillResult {
    let reg = running_registry().lock();
    let mut result = KillResult::NotBusy;
    for r in reg.iter() {
        if !r.active.load(Ordering::Acquire) {
            continue;
        }
        if r.wrote.load(Ordering::Acquire) {
            result = KillResult::Unkillable;
            continue;
        }
        if r.is_function.load(Ordering::Relaxed) != functions {
            continue;
        }
        r.kill.store(true, Ordering::Release);
        return KillResult::Killed;
    }
    result
}

/// State the `redis.*` callbacks share with the engine during a run.
struct RunCtx {
    host: Cell<Option<NonNull<dyn Host + 'static>>>,
    resp3: Cell<bool>,
    retry: Cell<bool>,
    argv: RefCell<OwnedArgv>,
    buf: RefCell<Vec<u8>>,
    rand: Rc<Cell<Rand48>>,
    started: Cell<Instant>,
    busy_ms: Cell<u64>,
    killed: Cell<bool>,
    running: Arc<Running>,
    /// The function's name and the command that called it, published to [`Running::call`]
    /// only once the script turns busy, so a run that ends in time copies nothing. They point
    /// into `run_function`'s caller and are cleared before it returns (as `host`).
    caller: Cell<Option<(NonNull<str>, Argv<'static>)>>,
    /// Set while a library's code loads: when its load must end (far away when it has no
    /// limit). A load is never a busy script: the hook checks only this and shutdown.
    load_deadline: Cell<Option<Instant>>,
    /// The state the hook is set on, to make it fire at every instruction once a run must
    /// stop (see [`stop`]).
    main_state: Cell<*mut ffi::lua_State>,
}

const PRELUDE: &str = r#"
local errtext = ...
local dbg = debug
local getinfo, error, type, tostring = dbg.getinfo, error, type, tostring
local raw_setmetatable, raw_rawset, raw_getmetatable = setmetatable, rawset, getmetatable

-- Redis's __redis__err__handler: string errors get ERR, every error learns where the
-- script was (the first frame that is the user's code, not C nor this prelude).
local function handler(err)
  local level, i = 2, nil
  while true do
    i = getinfo(level, 'Sl')
    if not i then break end
    if i.what ~= 'C' and i.source ~= '=[usher]' then break end
    level = level + 1
  end
  if type(err) == 'userdata' then
    -- A Rust library function failed: as luaL_error does, say where the script called it,
    -- unless the message is one Redis raises as an error table.
    local text, as_table = errtext(err)
    if as_table then
      err = {err = text}
    elseif i then
      err = i.short_src .. ':' .. i.currentline .. ': ' .. text
    else
      err = text
    end
  end
  if type(err) ~= 'table' then err = {err = 'ERR ' .. tostring(err)} end
  if i then
    raw_rawset(err, 'source', i.source)
    raw_rawset(err, 'line', i.currentline)
  end
  return err
end

local protected = raw_setmetatable({}, {__mode = 'k'})
local function readonly_error() error('Attempt to modify a readonly table', 2) end
local function protect(t)
  local p = raw_setmetatable({}, {__index = t, __newindex = readonly_error, __metatable = false})
  protected[p] = true
  return p
end

local redis = {}

for _, name in ipairs({'os', 'io', 'debug', 'require', 'loadfile', 'dofile', 'print',
                       'setfenv', 'getfenv', 'module', 'newproxy', 'package'}) do
  _G[name] = nil
end

-- The environment a library's code loads in. While it loads, `redis` (the loading API:
-- register_function, log, ...) is its only global, as in Redis 7.0, whose library globals
-- hold nothing else (not even `string` or `pairs`); its functions, run later, read through
-- to the globals.
local function load_env(base, loading_redis)
  local state = {loading = true}
  raw_setmetatable(loading_redis, {__index = function(_, k)
    error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
  end})
  return raw_setmetatable({}, {
    __index = function(_, k)
      if state.loading then
        if k == 'redis' then return loading_redis end
        error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
      end
      -- EVAL's KEYS and ARGV live in the shared globals; a function has no such globals.
      local v = k ~= 'KEYS' and k ~= 'ARGV' and rawget(base, k) or nil
      if v == nil then
        error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
      end
      return v
    end,
    __newindex = readonly_error,
    __metatable = false,
  }), function() state.loading = false end
end

-- Strings share one metatable, whose __index is the string library: left writable, a script
-- could change string methods for every later script (other users' included) or keep state
-- between runs (Redis's CVE-2025-46818). Its lookups go through the read-only `string` proxy,
-- and getmetatable('') hands scripts a read-only proxy of it.
local function protect_strings(string_proxy)
  local mt = dbg.getmetatable('')
  mt.__index = string_proxy
  mt.__metatable = protect(mt)
end

return handler, protect, redis, protected, load_env, protect_strings
"#;

/// One worker's Lua state.
pub struct Engine {
    lua: Lua,
    /// The main thread's state: runs go straight through the C API on it (see [`RawFn`]).
    state: *mut ffi::lua_State,
    /// [`run_entry`], the error handler and the globals, anchored in the registry.
    runner: RawFn,
    handler_ref: RawFn,
    base_ref: RawFn,
    /// KEYS and ARGV, refilled by every EVAL (see [`refill_argv`]).
    argv_tables: (RawFn, RawFn),
    base: Table,
    handler: Function,
    xpcall: Function,
    load_env: Function,
    /// Function libraries loaded in this state: name → (generation, function name → function).
    libraries: HashMap<String, (u64, HashMap<String, RawFn>)>,
    compiled: foldhash::HashMap<String, RawFn>,
    epoch: u64,
    ctx: Rc<RunCtx>,
}

/// A Lua value anchored in the state's registry (`luaL_ref`) and pushed with one
/// `lua_rawgeti`. A run pushes its function, the error handler and the globals this way and
/// enters Lua through one `lua_pcall` of [`run_entry`]: mlua's `exec_raw` made two C closures
/// (garbage for the collector) and pushed three handles on every call, a tenth of a short
/// script's whole cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawFn(std::os::raw::c_int);

impl RawFn {
    /// Pushes the anchored value.
    ///
    /// # Safety
    /// `l` is the state (or a thread of it) that anchored the value, with a free stack slot.
    unsafe fn push(self, l: *mut ffi::lua_State) {
        ffi::lua_rawgeti(l, ffi::LUA_REGISTRYINDEX, self.0 as ffi::lua_Integer);
    }
}

/// What [`run_entry`] needs, passed as a light userdata for the length of one run.
struct RunParams<'a> {
    handler: RawFn,
    func: RawFn,
    base: RawFn,
    /// The KEYS and ARGV tables the last EVAL filled (see [`refill_argv`]).
    tables: (RawFn, RawFn),
    keys: Argv<'a>,
    args: Argv<'a>,
    is_function: bool,
    resp3: &'a Cell<bool>,
    out: &'a mut dyn ReplySink,
    name: &'a str,
    /// The script's own error: its text, and whether a command's run counted it already.
    failure: Option<(String, bool)>,
    errors: ReplyErrors,
}

/// Builds KEYS and ARGV (or a function's two arguments), calls the script under Redis's error
/// handler and writes its result, inside the `lua_pcall` that [`Engine::run_function`] makes,
/// so a memory error while building the tables is caught as well.
///
/// # Safety
/// Called by `lua_pcall` only, with a `RunParams` light userdata as its one argument.
unsafe extern "C-unwind" fn run_entry(l: *mut ffi::lua_State) -> std::os::raw::c_int {
    let p = &mut *(ffi::lua_touserdata(l, 1) as *mut RunParams<'static>);
    ffi::lua_settop(l, 0);
    ffi::lua_checkstack(l, 8);
    p.handler.push(l);
    p.func.push(l);
    p.base.push(l);
    let (h, func, base) = (1, 2, 3);
    let nargs = if p.is_function {
        ffi::lua_pushvalue(l, func);
        push_argv(l, p.keys);
        push_argv(l, p.args);
        2
    } else {
        refill_argv(l, base, c"KEYS", p.tables.0, p.keys);
        refill_argv(l, base, c"ARGV", p.tables.1, p.args);
        ffi::lua_pushvalue(l, func);
        0
    };
    let status = ffi::lua_pcall(l, nargs, 1, h);
    let result = ffi::lua_gettop(l);
    if status == 0 {
        // Only the error handler under the result, as in Redis's frame when it converts the
        // reply: the deepest reply then ends where Redis's does (see `write_reply`).
        ffi::lua_replace(l, 2);
        ffi::lua_settop(l, 2);
        crate::convert::write_reply(l, 2, p.out, p.resp3.get(), &mut p.errors);
    } else {
        let counted =
            ffi::lua_type(l, result) == ffi::LUA_TTABLE && crate::convert::is_counted(l, result);
        p.failure = Some((error_text_at(l, result, p.name), counted));
    }
    0
}

/// Anchors `value` in the registry.
fn anchor(lua: &Lua, value: impl mlua::IntoLua) -> mlua::Result<RawFn> {
    let mut r = 0;
    // Safety: `luaL_ref` pops the one value pushed; exec_raw runs it protected.
    unsafe { lua.exec_raw::<()>(value, |l| r = ffi::luaL_ref(l, ffi::LUA_REGISTRYINDEX))? };
    Ok(RawFn(r))
}

/// Drops an anchor, so the collector may free its value.
fn release(lua: &Lua, f: RawFn) {
    // Safety: `luaL_unref` only writes registry slots that exist.
    let _ = unsafe { lua.exec_raw::<()>((), |l| ffi::luaL_unref(l, ffi::LUA_REGISTRYINDEX, f.0)) };
}

fn root_message(e: &mlua::Error) -> String {
    match e {
        mlua::Error::CallbackError { cause, .. } => root_message(cause),
        mlua::Error::RuntimeError(m) => m.clone(),
        mlua::Error::MemoryError(m) => m.clone(),
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        mlua::Error::BadArgument { cause, .. } => root_message(cause),
        mlua::Error::ExternalError(e) => e.to_string(),
        other => other.to_string(),
    }
}

impl Engine {
    pub fn new() -> mlua::Result<Engine> {
        // Safety: the debug library is loaded only for the prelude's error handler, which keeps
        // `debug.getinfo` in a local and removes `debug` from the globals before any script runs.
        let lua = unsafe {
            Lua::unsafe_new_with(
                StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::DEBUG,
                LuaOptions::default(),
            )
        };
        let running = Arc::new(Running::default());
        running_registry().lock().push(running.clone());
        let ctx = Rc::new(RunCtx {
            host: Cell::new(None),
            resp3: Cell::new(false),
            retry: Cell::new(false),
            argv: RefCell::new(OwnedArgv::default()),
            buf: RefCell::new(Vec::new()),
            rand: Rc::new(Cell::new(Rand48::initial())),
            started: Cell::new(Instant::now()),
            busy_ms: Cell::new(5000),
            load_deadline: Cell::new(None),
            main_state: Cell::new(std::ptr::null_mut()),
            killed: Cell::new(false),
            running,
            caller: Cell::new(None),
        });
        let base = lua.globals();
        // (message, raised-as-table): messages starting with `-` are Redis's error tables
        // (`luaPushError`), which carry no position; the rest are `luaL_error`s.
        let errtext = lua.create_function(|lua, v: Value| {
            let text = match v {
                Value::Error(e) => root_message(&e),
                other => other.to_string()?,
            };
            match text.strip_prefix('-') {
                Some(t) => Ok((lua.create_string(t)?, true)),
                None => Ok((lua.create_string(&text)?, false)),
            }
        })?;
        let (handler, protect, redis, protected, load_env, protect_strings): (
            Function,
            Function,
            Table,
            Table,
            Function,
            Function,
        ) = lua
            .load(PRELUDE)
            .set_name("=[usher]")
            .call(errtext.clone())?;
        // Redis's pcall, and setmetatable and rawset refusing the read-only tables: C
        // closures over the error-text function and the read-only set (see `libs::pcall`).
        // Safety: exec_raw leaves the two arguments at 1 and 2; the three closures pushed
        // after them are the results.
        let (pcall, setmetatable, rawset): (Function, Function, Function) = unsafe {
            lua.exec_raw((errtext, protected), |l| {
                ffi::lua_pushvalue(l, 1);
                ffi::lua_pushcclosure(l, libs::pcall, 1);
                ffi::lua_pushvalue(l, 2);
                ffi::lua_pushcclosure(l, libs::setmetatable, 1);
                ffi::lua_pushvalue(l, 2);
                ffi::lua_pushcclosure(l, libs::rawset, 1);
                ffi::lua_remove(l, 1);
                ffi::lua_remove(l, 1);
            })?
        };
        base.raw_set("pcall", pcall)?;
        base.raw_set("setmetatable", setmetatable)?;
        base.raw_set("rawset", rawset)?;
        // Safety: both are plain Lua C functions (see `redis_call_c`).
        unsafe {
            redis.raw_set("call", lua.create_c_function(redis_call_c)?)?;
            redis.raw_set("pcall", lua.create_c_function(redis_pcall_c)?)?;
            redis.raw_set(
                "acl_check_cmd",
                lua.create_c_function(redis_acl_check_cmd_c)?,
            )?;
        }
        install_redis_api(&lua, &redis, &ctx)?;
        let math: Table = base.get("math")?;
        libs::install_random(&lua, &math, ctx.rand.clone())?;
        // Safety: plain Lua C functions (see `libs::tonumber`, `libs::unpack`, `libs::load`).
        base.raw_set("tonumber", unsafe {
            lua.create_c_function(libs::tonumber)?
        })?;
        base.raw_set("unpack", unsafe { lua.create_c_function(libs::unpack)? })?;
        base.raw_set("loadstring", unsafe {
            lua.create_c_function(libs::loadstring)?
        })?;
        base.raw_set("load", unsafe { lua.create_c_function(libs::load)? })?;
        crate::patterns::install(&lua, &base.raw_get::<Table>("string")?)?;
        base.raw_set("cjson", crate::cjson::table(&lua)?)?;
        base.raw_set("bit", libs::bit_table(&lua)?)?;
        base.raw_set("cmsgpack", crate::msgpack::table(&lua)?)?;
        base.raw_set("struct", crate::lstruct::table(&lua)?)?;
        base.raw_set("redis", redis)?;
        // Lua 5.1's table.getn and unpack are part of the base/table libraries already.
        for lib in [
            "redis",
            "cjson",
            "bit",
            "cmsgpack",
            "struct",
            "string",
            "math",
            "table",
            "coroutine",
        ] {
            let t: Value = base.raw_get(lib)?;
            if let Value::Table(t) = t {
                let p: Table = protect.call(t)?;
                base.raw_set(lib, p)?;
            }
        }
        protect_strings.call::<()>(base.raw_get::<Table>("string")?)?;
        // The environment scripts see: reads fall through to `base`, writes fail.
        let missing = lua
            .load(
                r#"return function(_, k)
                     error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
                   end"#,
            )
            .set_name("=[usher]")
            .call::<Function>(())?;
        let base_meta = lua.create_table()?;
        base_meta.raw_set("__index", missing)?;
        base.set_metatable(Some(base_meta))?;
        let env: Table = protect.call(base.clone())?;
        base.raw_set("_G", env.clone())?;
        let xpcall: Function = base.raw_get("xpcall")?;
        lua.set_globals(env)?;
        lua.set_memory_limit(MEMORY_LIMIT)?;
        let mut state: *mut ffi::lua_State = std::ptr::null_mut();
        // Safety: the closure copies the state pointer out and installs the hook on it; the
        // engine keeps `ctx` (the hook's registry entry) alive as long as the Lua state.
        unsafe {
            lua.exec_raw::<()>((), |l| {
                state = l;
                install_hook(l, Rc::as_ptr(&ctx));
            })?
        };
        ctx.main_state.set(state);
        // Safety: the main state, on this thread.
        unsafe { ffi::lua_gc(state, ffi::LUA_GCSETPAUSE, GC_PAUSE) };
        // Safety: a plain Lua C function (see `run_entry`).
        let runner = unsafe { lua.create_c_function(run_entry)? };
        let runner = anchor(&lua, runner)?;
        let handler_ref = anchor(&lua, handler.clone())?;
        // Lua 5.1's parser interns the chunk's name without anchoring it, so a collection
        // during the parse could free the name while the parser still uses it (Redis's
        // CVE-2025-49844). Scripts and libraries are parsed under these two names: kept in the
        // registry, the interned strings the parser finds are always alive.
        for name in [SCRIPT_CHUNK, FUNCTION_CHUNK] {
            anchor(&lua, lua.create_string(name)?)?;
        }
        let base_ref = anchor(&lua, base.clone())?;
        let (keys, argv) = (lua.create_table()?, lua.create_table()?);
        base.raw_set("KEYS", &keys)?;
        base.raw_set("ARGV", &argv)?;
        let argv_tables = (anchor(&lua, keys)?, anchor(&lua, argv)?);
        Ok(Engine {
            lua,
            state,
            runner,
            handler_ref,
            base_ref,
            argv_tables,
            base,
            handler,
            xpcall,
            load_env,
            libraries: HashMap::new(),
            compiled: foldhash::HashMap::default(),
            epoch: 0,
            ctx,
        })
    }

    /// Compiles a body (checking it, for SCRIPT LOAD and EVAL) and keeps the function.
    pub fn compile(&mut self, sha: &str, body: &[u8], cache_epoch: u64) -> Result<RawFn, String> {
        if self.epoch != cache_epoch {
            for (_, f) in self.compiled.drain() {
                release(&self.lua, f);
            }
            self.epoch = cache_epoch;
        }
        if let Some(&f) = self.compiled.get(sha) {
            return Ok(f);
        }
        let source: std::borrow::Cow<[u8]> = if libs::is_binary_chunk(body) {
            libs::BINARY_STAND_IN.into()
        } else if body.starts_with(b"#!") {
            // The shebang line stays a line (a comment) so line numbers match Redis's.
            let mut b = body.to_vec();
            b[0] = b'-';
            b[1] = b'-';
            b.into()
        } else {
            body.into()
        };
        let f = self
            .lua
            .load(&*source)
            .set_name(SCRIPT_CHUNK)
            .into_function()
            .map_err(|e| {
                format!(
                    "ERR Error compiling script (new function): {}",
                    root_message(&e)
                )
            })?;
        let f = anchor(&self.lua, f).map_err(|e| root_message(&e))?;
        self.compiled.insert(sha.to_string(), f);
        Ok(f)
    }

    /// Runs `script` for `command` (`EVAL* script numkeys key ... arg ...`), writing its reply
    /// (or error) to `out`.
    #[allow(clippy::too_many_arguments)]
    pub fn run(
        &mut self,
        script: &Script,
        cache_epoch: u64,
        command: Argv<'_>,
        numkeys: usize,
        busy_ms: u64,
        host: &mut dyn Host,
        out: &mut dyn ReplySink,
    ) -> Result<Outcome, RunError> {
        let f = self.compile(&script.sha, &script.body, cache_epoch)?;
        self.run_function(f, &script.sha, command, numkeys, busy_ms, false, host, out)
    }

    /// The hook back to its usual interval, and a kill request dropped, once a run (or a
    /// load) has ended: nothing else the state runs may meet a stop meant for it.
    fn arm_hook(&self) {
        self.ctx.running.kill.store(false, Ordering::Relaxed);
        let l = self.state;
        // Safety: the main state, on this thread, between runs.
        unsafe {
            if ffi::lua_gethookcount(l) != HOOK_EVERY as std::os::raw::c_int {
                ffi::lua_sethook(
                    l,
                    ffi::lua_gethook(l),
                    ffi::lua_gethookmask(l),
                    HOOK_EVERY as std::os::raw::c_int,
                );
            }
        }
    }

    /// Runs a compiled function (a script body, or an FCALL'd function) as a script, for
    /// `command` (`EVAL*` / `FCALL*` `x numkeys key ... arg ...`).
    #[allow(clippy::too_many_arguments)]
    pub fn run_function(
        &mut self,
        f: RawFn,
        name: &str,
        command: Argv<'_>,
        numkeys: usize,
        busy_ms: u64,
        is_function: bool,
        host: &mut dyn Host,
        out: &mut dyn ReplySink,
    ) -> Result<Outcome, RunError> {
        let keys = command.range(3, 3 + numkeys);
        let args = command.tail(3 + numkeys);
        let ctx = &*self.ctx;
        // Safety: the pointer is cleared by `_guard` before `host`'s borrow ends, and the
        // callbacks only use it while this call is on the stack.
        let host_ptr: NonNull<dyn Host + '_> = NonNull::from(host);
        let host_ptr: NonNull<dyn Host + 'static> = unsafe { std::mem::transmute(host_ptr) };
        ctx.host.set(Some(host_ptr));
        // Safety: as for `host`: cleared by `_guard` while `name` and `command` still live.
        let command_static: Argv<'static> = unsafe { std::mem::transmute(command) };
        ctx.caller.set(Some((NonNull::from(name), command_static)));
        CURRENT.with(|c| c.set(Rc::as_ptr(&self.ctx)));
        struct Clear<'a>(&'a RunCtx);
        impl Drop for Clear<'_> {
            fn drop(&mut self) {
                self.0.host.set(None);
                self.0.caller.set(None);
                CURRENT.with(|c| c.set(std::ptr::null()));
                let r = &self.0.running;
                r.active.store(false, Ordering::Release);
                if r.busy.swap(false, Ordering::AcqRel) {
                    *r.call.lock() = None;
                    BUSY_SCRIPTS.fetch_sub(1, Ordering::AcqRel);
                }
            }
        }
        let _guard = Clear(ctx);
        ctx.resp3.set(false);
        ctx.retry.set(false);
        ctx.killed.set(false);
        ctx.rand.set(Rand48::initial());
        ctx.started.set(Instant::now());
        ctx.busy_ms.set(busy_ms);
        ctx.running.wrote.store(false, Ordering::Relaxed);
        ctx.running.kill.store(false, Ordering::Relaxed);
        ctx.running
            .is_function
            .store(is_function, Ordering::Relaxed);
        crate::cjson_config::enter(if is_function {
            crate::cjson_config::Realm::Functions
        } else {
            crate::cjson_config::Realm::Scripts
        });
        ctx.running.active.store(true, Ordering::Release);
        // The run itself goes through the C API: KEYS/ARGV built in place, the function
        // called under Redis's error handler, its result written straight to `out`.
        let mut params = RunParams {
            handler: self.handler_ref,
            func: f,
            base: self.base_ref,
            tables: self.argv_tables,
            keys,
            args,
            is_function,
            resp3: &ctx.resp3,
            out,
            name,
            failure: None,
            errors: ReplyErrors::default(),
        };
        let l = self.state;
        // Safety: `l` is this engine's main state, used on this thread only; between runs its
        // stack is empty (mlua's calls restore it), so the two pushes have room, and neither
        // allocates. `params` outlives the call.
        let ran = unsafe {
            self.runner.push(l);
            ffi::lua_pushlightuserdata(l, (&mut params as *mut RunParams<'_>).cast());
            if ffi::lua_pcall(l, 1, 0, 0) == 0 {
                Ok(())
            } else {
                // Only an error outside the script's own pcall (memory, building KEYS).
                let text = error_text_at(l, ffi::lua_gettop(l), name);
                ffi::lua_pop(l, 1);
                Err(RunError::from(text))
            }
        };
        self.arm_hook();
        let failure = params.failure.take();
        let errors = std::mem::take(&mut params.errors);
        if self.lua.used_memory() > MEMORY_LIMIT / 4 {
            // A big script (or one stopped at the bound) leaves garbage that the incremental
            // collector would free only slowly: reclaim it now, so the next script has room.
            let _ = self.lua.gc_collect();
        }
        ctx.running
            .memory
            .store(self.lua.used_memory() as u64, Ordering::Relaxed);
        if ctx.retry.get() {
            return Ok(Outcome::Retry);
        }
        ran?;
        match failure {
            Some((text, counted)) => Err(RunError { text, counted }),
            None => Ok(Outcome::Done(errors)),
        }
    }

    /// Loads a library's code (`#!lua name=lib` ...) in this state: runs it once with
    /// `redis.register_function` available and returns the library's name and functions.
    /// Errors are worded as Redis's `FUNCTION LOAD` words them.
    ///
    /// `timeout` bounds the load as Redis's `FUNCTION LOAD` does (500 ms, `ERR FUNCTION LOAD
    /// timeout`); None for a library already accepted (loaded again on another thread, or from
    /// a file, a payload or the primary, where Redis sets no limit either).
    pub fn load_library(
        &mut self,
        code: &[u8],
        timeout: Option<Duration>,
    ) -> Result<(String, Vec<(FunctionDef, Function)>), String> {
        let name = library_name(code)?;
        let now = Instant::now();
        // A year stands for "no limit": the hook then only keeps the load from being
        // counted as a busy script, whose stale start time would otherwise mark it busy.
        let deadline = now + timeout.unwrap_or(Duration::from_secs(365 * 24 * 3600));
        self.ctx.load_deadline.set(Some(deadline));
        struct Loaded<'a>(&'a RunCtx);
        impl Drop for Loaded<'_> {
            fn drop(&mut self) {
                self.0.load_deadline.set(None);
            }
        }
        let _loading = Loaded(&self.ctx);
        let lua = &self.lua;
        let registered: Rc<RefCell<Vec<(FunctionDef, Function)>>> = Rc::default();
        let loading = lua.create_table().map_err(|e| e.to_string())?;
        let reg = registered.clone();
        let register = lua
            .create_function(move |_, args: MultiValue| {
                let def = parse_registration(args)?;
                let mut reg = reg.borrow_mut();
                // Within a library names are compared exactly (Redis lets one hold `f` and `F`).
                if reg.iter().any(|(d, _)| d.name == def.0.name) {
                    return Err(mlua::Error::runtime(
                        "-ERR Function already exists in the library",
                    ));
                }
                reg.push(def);
                Ok(())
            })
            .map_err(|e| e.to_string())?;
        let real_redis: Table = self.base.raw_get("redis").map_err(|e| e.to_string())?;
        let setup = || -> mlua::Result<()> {
            loading.raw_set("register_function", register)?;
            for k in [
                "log",
                "LOG_DEBUG",
                "LOG_VERBOSE",
                "LOG_NOTICE",
                "LOG_WARNING",
                "REDIS_VERSION",
                "REDIS_VERSION_NUM",
            ] {
                loading.raw_set(k, real_redis.get::<Value>(k)?)?;
            }
            Ok(())
        };
        setup().map_err(|e| e.to_string())?;
        let (env, loaded): (Table, Function) = self
            .load_env
            .call((self.base.clone(), loading))
            .map_err(|e| e.to_string())?;
        let mut source = code.to_vec();
        source[0] = b'-';
        source[1] = b'-';
        let chunk = lua
            .load(&source)
            .set_name(FUNCTION_CHUNK)
            .set_environment(env)
            .into_function()
            .map_err(|e| format!("ERR Error compiling function: {}", root_message(&e)))?;
        let ran = self
            .xpcall
            .call::<MultiValue>((chunk, self.handler.clone()));
        self.arm_hook();
        let ran = ran.map_err(|e| e.to_string())?;
        // From now on the library's functions see the full `redis` API.
        loaded.call::<()>(()).map_err(|e| e.to_string())?;
        let mut it = ran.into_iter();
        if !matches!(it.next(), Some(Value::Boolean(true))) {
            let msg = match it.next() {
                Some(Value::Table(t)) => t
                    .raw_get::<Option<mlua::String>>("err")
                    .ok()
                    .flatten()
                    .map(|m| m.to_string_lossy())
                    .unwrap_or_else(|| "ERR unknown error".into()),
                Some(other) => format!("{other:?}"),
                None => "ERR unknown error".into(),
            };
            return Err(format!("ERR Error registering functions: {msg}"));
        }
        let functions = std::mem::take(&mut *registered.borrow_mut());
        if functions.is_empty() {
            return Err("ERR No functions registered".into());
        }
        Ok((name, functions))
    }

    /// The function `fname` of `lib`, loading (or reloading) the library in this state.
    pub fn library_function(&mut self, lib: &Library, fname: &str) -> Result<RawFn, String> {
        let fresh = self
            .libraries
            .get(&lib.name)
            .is_some_and(|(generation, _)| *generation == lib.generation);
        if !fresh {
            let (_, functions) = self.load_library(&lib.code, None)?;
            let mut map = HashMap::with_capacity(functions.len());
            for (d, f) in functions {
                map.insert(d.name, anchor(&self.lua, f).map_err(|e| root_message(&e))?);
            }
            let old = self
                .libraries
                .insert(lib.name.clone(), (lib.generation, map));
            for (_, f) in old.into_iter().flat_map(|(_, m)| m) {
                release(&self.lua, f);
            }
        }
        self.libraries
            .get(&lib.name)
            .and_then(|(_, m)| m.get(fname))
            .copied()
            .ok_or_else(|| "ERR Function not found".to_string())
    }

    /// Bytes the state uses.
    pub fn used_memory(&self) -> usize {
        self.lua.used_memory()
    }
}

impl Drop for Engine {
    /// A state that goes away (a loader thread's, once it has compiled a file's libraries)
    /// leaves the registry, so its memory stops counting in `used_memory_lua`.
    fn drop(&mut self) {
        let running = &self.ctx.running;
        running_registry()
            .lock()
            .retain(|r| !Arc::ptr_eq(r, running));
    }
}

/// The `name=` of a library's `#!lua name=<lib>` line, with Redis's errors.
pub fn library_name(code: &[u8]) -> Result<String, String> {
    if !code.starts_with(b"#!") {
        return Err("ERR Missing library metadata".into());
    }
    let end = code.iter().position(|&b| b == b'\n').unwrap_or(code.len());
    let line = String::from_utf8_lossy(&code[2..end]).into_owned();
    let mut parts = line.split(' ').filter(|p| !p.is_empty());
    let engine = parts.next().unwrap_or("");
    if !engine.eq_ignore_ascii_case("lua") {
        return Err(format!("ERR Engine '{engine}' not found"));
    }
    let mut name = None;
    for p in parts {
        match p.split_once('=') {
            Some(("name", v)) => name = Some(v.to_string()),
            _ => return Err(format!("ERR Invalid metadata value given: {p}")),
        }
    }
    let name = name.ok_or_else(|| "ERR Library name was not given".to_string())?;
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(
            "ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"
                .into(),
        );
    }
    Ok(name)
}

/// `redis.register_function(name, callback)` or `redis.register_function{function_name=...,
/// callback=..., flags={...}, description=...}`.
fn parse_registration(args: MultiValue) -> mlua::Result<(FunctionDef, Function)> {
    let bad = |m: &str| mlua::Error::runtime(format!("-ERR {m}"));
    // `luaGetStringSds`: a string, or a number taken as its text (`lua_isstring`).
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.to_string_lossy()),
        // As Lua 5.1's `lua_tolstring` prints a number (`%.14g`).
        Value::Integer(i) => Some(crate::cjson::fmt_g14(*i as f64)),
        Value::Number(n) => Some(crate::cjson::fmt_g14(*n)),
        _ => None,
    };
    let mut flags: Option<Table> = None;
    let mut description: Option<String> = None;
    let (name, callback) = match args.len() {
        1 => {
            let Some(Value::Table(t)) = args.front() else {
                return Err(bad("calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments)."));
            };
            // `luaRegisterFunctionReadNamedArgs`: keys in the table's own order, each checked
            // as it comes, names without regard to case.
            let (mut name, mut callback) = (None, None);
            for pair in t.clone().pairs::<Value, Value>() {
                let (k, v) = pair?;
                let Some(key) = text(&k) else {
                    return Err(bad(
                        "named argument key given to redis.register_function is not a string",
                    ));
                };
                match key.to_ascii_lowercase().as_str() {
                    "function_name" => {
                        name = Some(text(&v).ok_or_else(|| {
                            bad("function_name argument given to redis.register_function must be a string")
                        })?);
                    }
                    "description" => {
                        description = Some(text(&v).ok_or_else(|| {
                            bad("description argument given to redis.register_function must be a string")
                        })?);
                    }
                    "callback" => match v {
                        Value::Function(f) => callback = Some(f),
                        _ => {
                            return Err(bad(
                                "callback argument given to redis.register_function must be a function",
                            ))
                        }
                    },
                    "flags" => match v {
                        Value::Table(f) => flags = Some(f),
                        _ => return Err(bad("flags argument to redis.register_function must be a table representing function flags")),
                    },
                    _ => return Err(bad("unknown argument given to redis.register_function")),
                }
            }
            let name = name
                .ok_or_else(|| bad("redis.register_function must get a function name argument"))?;
            let callback = callback
                .ok_or_else(|| bad("redis.register_function must get a callback argument"))?;
            (name, callback)
        }
        2 => {
            let name = text(&args[0])
                .ok_or_else(|| bad("first argument to redis.register_function must be a string"))?;
            let Value::Function(callback) = &args[1] else {
                return Err(bad(
                    "second argument to redis.register_function must be a function",
                ));
            };
            (name, callback.clone())
        }
        _ => return Err(bad("wrong number of arguments to redis.register_function")),
    };
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        // Redis 7.0 says "Library" here, for a function's name too.
        return Err(bad("Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"));
    }
    let mut f = ScriptFlags {
        declared: true,
        ..ScriptFlags::default()
    };
    if let Some(flags) = flags {
        // `luaRegisterFunctionReadFlags`: flags[1], flags[2], ... up to the first nil, each a
        // flag's name without regard to case.
        for i in 1.. {
            let v: Value = flags.get(i)?;
            if v.is_nil() {
                break;
            }
            let known = text(&v).is_some_and(|name| f.set(&name.to_ascii_lowercase()));
            if !known {
                return Err(bad("unknown flag given"));
            }
        }
    }
    Ok((
        FunctionDef {
            state: Arc::new(Script::named(&name, f)),
            name,
            description,
            flags: f,
        },
        callback,
    ))
}

thread_local! {
    /// The running script's context, for `redis.call` (a plain C function, so it has no
    /// upvalue to find it by). Set by `run_function` for the length of a run.
    static CURRENT: Cell<*const RunCtx> = const { Cell::new(std::ptr::null()) };
}

/// Fills KEYS or ARGV (the global `name` in `base`) for an EVAL: the table anchored at
/// `slot` is refilled in place when the last script left it a plain array (keys 1..n, no
/// metatable), else a new one takes its place, in the registry and in `base`. A table and
/// its array allocated per call (and collected later) cost a short script about 4% of its
/// instructions; an EVAL script cannot keep a reference to KEYS or ARGV from one run to the
/// next (its globals and libraries are read-only), so nothing sees the reuse. FCALL's
/// arguments are never reused: a library's functions can keep them in upvalues.
unsafe fn refill_argv(
    l: *mut ffi::lua_State,
    base: std::os::raw::c_int,
    name: &std::ffi::CStr,
    slot: RawFn,
    a: Argv<'_>,
) {
    slot.push(l);
    let t = ffi::lua_gettop(l);
    if let Some(old) = plain_array_len(l, t) {
        for (i, v) in a.iter().enumerate() {
            ffi::lua_pushlstring(l, v.as_ptr().cast(), v.len());
            ffi::lua_rawseti(l, t, (i + 1) as _);
        }
        for i in a.len() + 1..=old {
            ffi::lua_pushnil(l);
            ffi::lua_rawseti(l, t, i as _);
        }
        ffi::lua_settop(l, t - 1);
        return;
    }
    ffi::lua_settop(l, t - 1);
    push_argv(l, a);
    ffi::lua_pushvalue(l, -1);
    ffi::lua_rawseti(l, ffi::LUA_REGISTRYINDEX, slot.0 as _);
    ffi::lua_setfield(l, base, name.as_ptr());
}

/// `n` if the table at `t` has no metatable and exactly the keys 1..n, else `None`.
unsafe fn plain_array_len(l: *mut ffi::lua_State, t: std::os::raw::c_int) -> Option<usize> {
    if ffi::lua_getmetatable(l, t) != 0 {
        ffi::lua_pop(l, 1);
        return None;
    }
    let len = ffi::lua_objlen(l, t);
    let mut count = 0usize;
    ffi::lua_pushnil(l);
    while ffi::lua_next(l, t) != 0 {
        ffi::lua_pop(l, 1);
        let k = ffi::lua_tonumber(l, -1);
        let in_range = ffi::lua_type(l, -1) == ffi::LUA_TNUMBER
            && k >= 1.0
            && k <= len as f64
            && k.fract() == 0.0;
        count += 1;
        if !in_range {
            ffi::lua_pop(l, 1);
            return None;
        }
    }
    (count == len).then_some(len)
}

/// Pushes an argv as a Lua array of strings.
unsafe fn push_argv(l: *mut ffi::lua_State, a: Argv<'_>) {
    ffi::lua_createtable(l, a.len() as std::os::raw::c_int, 0);
    for (i, v) in a.iter().enumerate() {
        ffi::lua_pushlstring(l, v.as_ptr().cast(), v.len());
        ffi::lua_rawseti(l, -2, (i + 1) as _);
    }
}

/// Pushes an `{err=...}` table as `luaPushErrorBuff` builds it: `-CODE msg` keeps its code, a
/// bare message gets `ERR`. `counted`: the host already counted this error in the error
/// statistics (a command it refused), so the table carries Redis's
/// `ignore_error_stats_update = true` and the script's reply does not count it again.
unsafe fn push_error_table(l: *mut ffi::lua_State, text: &str, counted: bool) {
    let full = full_error(text.as_bytes());
    ffi::lua_createtable(l, 0, 2);
    ffi::lua_pushlstring(l, c"err".as_ptr(), 3);
    ffi::lua_pushlstring(l, full.as_ptr().cast(), full.len());
    ffi::lua_rawset(l, -3);
    if counted {
        crate::convert::mark_counted(l);
    }
}

/// `luaPushErrorBuff`'s text: `-CODE msg` as `CODE msg`, anything else under `ERR`. Bytes:
/// a script's error may hold any.
fn full_error(text: &[u8]) -> Vec<u8> {
    let end = text
        .iter()
        .rposition(|&b| b != b'\r' && b != b'\n')
        .map_or(0, |i| i + 1);
    let text = &text[..end];
    match text.strip_prefix(b"-") {
        Some(rest) if rest.contains(&b' ') => rest.to_vec(),
        Some(rest) => [&b"ERR "[..], rest].concat(),
        None => [&b"ERR "[..], text].concat(),
    }
}

/// The text of a failed run's error value at `idx`, in Redis 7.0's shape.
unsafe fn error_text_at(l: *mut ffi::lua_State, idx: std::os::raw::c_int, name: &str) -> String {
    let field = |k: &std::ffi::CStr| -> Option<Vec<u8>> {
        ffi::lua_pushstring(l, k.as_ptr());
        ffi::lua_rawget(l, idx);
        let mut len = 0usize;
        let v = match ffi::lua_type(l, -1) {
            ffi::LUA_TSTRING | ffi::LUA_TNUMBER => {
                let p = ffi::lua_tolstring(l, -1, &mut len);
                Some(std::slice::from_raw_parts(p.cast::<u8>(), len).to_vec())
            }
            _ => None,
        };
        ffi::lua_pop(l, 1);
        v
    };
    match ffi::lua_type(l, idx) {
        ffi::LUA_TTABLE => {
            let msg = field(c"err")
                .map(|m| String::from_utf8_lossy(&m).into_owned())
                .unwrap_or_else(|| "ERR unknown error".into());
            let place = match (field(c"source"), field(c"line")) {
                (Some(s), Some(line)) => Some(format!(
                    "{}:{}",
                    String::from_utf8_lossy(&s),
                    String::from_utf8_lossy(&line)
                )),
                _ => None,
            };
            format_error_text(&msg, name, place.as_deref())
        }
        ffi::LUA_TSTRING => {
            let mut len = 0usize;
            let p = ffi::lua_tolstring(l, idx, &mut len);
            let text = String::from_utf8_lossy(std::slice::from_raw_parts(p.cast::<u8>(), len))
                .into_owned();
            if text.contains("not enough memory") {
                format!(
                    "ERR Lua state out of memory: the script's state is over its {} MB bound",
                    MEMORY_LIMIT >> 20
                )
            } else {
                format_error_text(&format!("ERR {text}"), name, None)
            }
        }
        _ => "ERR unknown error".into(),
    }
}

enum After {
    Return,
    Raise,
}

/// `redis.call` and `redis.pcall` are C functions, as in Redis: a Lua function there would be
/// replaced by a `return redis.call(...)` tail call, and an error could no longer say which
/// line of the script made the call. They read their arguments off the stack, run the command
/// through the [`Host`], and push its reply; `redis.call` raises an error reply.
///
/// # Safety
/// Called by Lua only. `lua_error` is called last, once every Rust value here is dropped.
unsafe fn forward_call(l: *mut ffi::lua_State, raise: bool) -> std::os::raw::c_int {
    if let After::Raise = forward_call_inner(l, raise) {
        ffi::lua_error(l);
    }
    1
}

unsafe fn forward_call_inner(l: *mut ffi::lua_State, raise: bool) -> After {
    let fail_as = |text: &str, counted: bool| {
        push_error_table(l, text, counted);
        if raise {
            After::Raise
        } else {
            After::Return
        }
    };
    let fail = |text: &str| fail_as(text, false);
    let ctx = CURRENT.with(|c| c.get());
    if ctx.is_null() {
        return fail("ERR redis.call is only available while a script runs");
    }
    let ctx = &*ctx;
    if ctx.retry.get() {
        // The run is being abandoned (a pcall may have caught the first unwind): keep
        // failing until the script ends, so nothing runs or writes.
        return fail("ERR script is being rerun with every shard locked");
    }
    if let Err(text) = collect_args(l, ctx) {
        return fail(text);
    }
    let Some(mut host) = ctx.host.get() else {
        return fail("ERR redis.call is only available while a script runs");
    };
    let proto = if ctx.resp3.get() {
        Protocol::Resp3
    } else {
        Protocol::Resp2
    };
    let result = {
        let argv = ctx.argv.borrow();
        let mut buf = ctx.buf.borrow_mut();
        buf.clear();
        // A panic must not unwind through Lua's C frames.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            host.as_mut().call(argv.argv(), proto, &mut buf)
        }))
        .unwrap_or_else(|_| {
            Err(Refusal::Error(
                "ERR internal error running the command".into(),
            ))
        })
    };
    match result {
        Ok(wrote) => {
            if wrote {
                ctx.running.wrote.store(true, Ordering::Release);
            }
            let buf = std::mem::take(&mut *ctx.buf.borrow_mut());
            let failed = buf.first() == Some(&b'-');
            let mut pos = 0;
            crate::convert::push_reply(l, &buf, &mut pos);
            *ctx.buf.borrow_mut() = buf;
            if raise && failed {
                After::Raise
            } else {
                After::Return
            }
        }
        // The host counted its refusal (Redis's `scriptCall` does, as a rejected call).
        Err(Refusal::Error(text)) => fail_as(&text, true),
        Err(Refusal::Retry) => {
            ctx.retry.set(true);
            push_error_table(
                l,
                "ERR script is being rerun with every shard locked",
                false,
            );
            After::Raise
        }
    }
}

/// Reads the Lua arguments of a `redis.*` command call into `ctx.argv`, as Redis's
/// `luaArgsToRedisArgv` does (numbers as `%.17g`), with its errors.
///
/// # Safety
/// Called by Lua's C functions only, with their stack.
unsafe fn collect_args(l: *mut ffi::lua_State, ctx: &RunCtx) -> Result<(), &'static str> {
    let n = ffi::lua_gettop(l);
    if n == 0 {
        return Err("Please specify at least one argument for this redis lib call");
    }
    let mut argv = ctx.argv.borrow_mut();
    argv.clear();
    // Allocated on the first number argument only: most calls pass strings alone.
    let mut num = Vec::new();
    for i in 1..=n {
        match ffi::lua_type(l, i) {
            ffi::LUA_TSTRING => {
                let mut len = 0usize;
                let p = ffi::lua_tolstring(l, i, &mut len);
                argv.push(std::slice::from_raw_parts(p.cast(), len));
            }
            ffi::LUA_TNUMBER => {
                num.clear();
                usher_protocol::double::write_g17(ffi::lua_tonumber(l, i), &mut num);
                argv.push(&num);
            }
            _ => return Err("Lua redis lib command arguments must be strings or integers"),
        }
    }
    Ok(())
}

/// `redis.acl_check_cmd(command, arg ...)`: a boolean, or Redis 7.0's error for a command that
/// does not exist.
///
/// # Safety
/// Called by Lua only. `lua_error` is called last, once every Rust value here is dropped.
unsafe extern "C-unwind" fn redis_acl_check_cmd_c(l: *mut ffi::lua_State) -> std::os::raw::c_int {
    if let After::Raise = acl_check_inner(l) {
        ffi::lua_error(l);
    }
    1
}

unsafe fn acl_check_inner(l: *mut ffi::lua_State) -> After {
    let fail = |text: &str| {
        push_error_table(l, text, false);
        After::Raise
    };
    let ctx = CURRENT.with(|c| c.get());
    if ctx.is_null() {
        return fail("redis.acl_check_cmd can only be called inside a script invocation");
    }
    let ctx = &*ctx;
    if let Err(text) = collect_args(l, ctx) {
        return fail(text);
    }
    let Some(mut host) = ctx.host.get() else {
        return fail("redis.acl_check_cmd can only be called inside a script invocation");
    };
    let allowed = {
        let argv = ctx.argv.borrow();
        // A panic must not unwind through Lua's C frames.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            host.as_mut().acl_check(argv.argv())
        }))
    };
    match allowed {
        Ok(Some(yes)) => {
            ffi::lua_pushboolean(l, yes as std::os::raw::c_int);
            After::Return
        }
        Ok(None) => fail("Invalid command passed to redis.acl_check_cmd()"),
        Err(_) => fail("ERR internal error checking the command"),
    }
}

unsafe extern "C-unwind" fn redis_call_c(l: *mut mlua::ffi::lua_State) -> std::os::raw::c_int {
    forward_call(l, true)
}

unsafe extern "C-unwind" fn redis_pcall_c(l: *mut mlua::ffi::lua_State) -> std::os::raw::c_int {
    forward_call(l, false)
}

/// `msg script: name, on place.` as Redis 7.0 words a script's error.
fn format_error_text(msg: &str, name: &str, place: Option<&str>) -> String {
    let msg = msg.strip_prefix('-').unwrap_or(msg);
    match place {
        Some(p) => format!("{msg} script: {name}, on {p}."),
        None => msg.to_string(),
    }
}

/// The registry key under which [`raw_hook`] finds its engine's [`RunCtx`].
static HOOK_CTX_KEY: u8 = 0;

/// The instruction hook, set on the main state; Lua 5.1 copies it into every coroutine a
/// script creates (`luaE_newthread`). It is a plain C hook, not mlua's, because it must know
/// which thread it fired on: mlua's hook reads the stack of the main state, so in a coroutine
/// it saw another frame, took it for the error handler and let a killed script run on forever.
///
/// # Safety
/// `l` is the engine's main state, on its own thread; `ctx` outlives the state.
unsafe fn install_hook(l: *mut ffi::lua_State, ctx: *const RunCtx) {
    ffi::lua_pushlightuserdata(l, std::ptr::addr_of!(HOOK_CTX_KEY) as *mut _);
    ffi::lua_pushlightuserdata(l, ctx as *mut _);
    ffi::lua_rawset(l, ffi::LUA_REGISTRYINDEX);
    ffi::lua_sethook(
        l,
        Some(raw_hook),
        ffi::LUA_MASKCOUNT,
        HOOK_EVERY as std::os::raw::c_int,
    );
}

/// The engine's context that [`install_hook`] put in the registry of `l`'s state, if any.
///
/// # Safety
/// `l` is a live thread of an engine's state, on its own thread.
unsafe fn hook_ctx<'a>(l: *mut ffi::lua_State) -> Option<&'a RunCtx> {
    ffi::lua_pushlightuserdata(l, std::ptr::addr_of!(HOOK_CTX_KEY) as *mut _);
    ffi::lua_rawget(l, ffi::LUA_REGISTRYINDEX);
    let ctx = ffi::lua_touserdata(l, -1) as *const RunCtx;
    ffi::lua_pop(l, 1);
    // Safety: installed with the engine's context, which outlives its state.
    unsafe { ctx.as_ref() }
}

/// Checks the time limit, kills and shutdown every `HOOK_EVERY` instructions of the thread
/// `l` (the main state or a coroutine), and ends the run by raising Redis's error table.
unsafe extern "C-unwind" fn raw_hook(l: *mut ffi::lua_State, ar: *mut ffi::lua_Debug) {
    let Some(ctx) = hook_ctx(l) else {
        return;
    };
    let Some(msg) = verdict(ctx) else {
        // A coroutine a library kept from a killed run may still check at every instruction:
        // with no stop pending, back to the usual interval.
        if ffi::lua_gethookcount(l) == 1 {
            ffi::lua_sethook(l, Some(raw_hook), ffi::LUA_MASKCOUNT, HOOK_EVERY as _);
        }
        return;
    };
    // From now on check at every instruction, as Redis's hook turns to every line once a
    // script is killed: a script catching the error with `pcall` in a loop meets it again as
    // soon as `pcall` returns, so it cannot go on forever. Both on this thread and on the main
    // one, where the error lands once it leaves a coroutine. [`Engine::arm_hook`] puts the
    // usual interval back as soon as the run has ended.
    check_every_instruction(l);
    check_every_instruction(ctx.main_state.get());
    // The error handler (this crate's own Lua, `=[usher]`) runs on undisturbed to shape the
    // message.
    if ffi::lua_getinfo(l, c"S".as_ptr(), ar) != 0
        && !(*ar).source.is_null()
        && std::ffi::CStr::from_ptr((*ar).source) == c"=[usher]"
    {
        return;
    }
    // Redis's `luaPushError`: a table with the text (no position; the handler adds where).
    raise_stop(l, msg);
}

/// For C code that runs long without returning to the hook (the pattern matcher): the
/// hook's verdict for the engine running on `l`, with every-instruction checking armed as the
/// hook arms it when the answer is a stop. `None` outside a run.
///
/// # Safety
/// `l` is a live thread of an engine's state, on its own thread.
pub(crate) unsafe fn stop_requested(l: *mut ffi::lua_State) -> Option<&'static str> {
    let ctx = hook_ctx(l)?;
    let msg = verdict(ctx)?;
    check_every_instruction(l);
    check_every_instruction(ctx.main_state.get());
    Some(msg)
}

/// Ends the run with a stop [`stop_requested`] returned, as the hook does: Redis's
/// `{err=...}` table.
///
/// # Safety
/// As `lua_error`: nothing that needs a drop may be alive in the callers.
pub(crate) unsafe fn raise_stop(l: *mut ffi::lua_State, msg: &'static str) -> std::os::raw::c_int {
    ffi::lua_createtable(l, 0, 1);
    ffi::lua_pushlstring(l, msg.as_ptr().cast(), msg.len());
    ffi::lua_setfield(l, -2, c"err".as_ptr());
    ffi::lua_error(l)
}

/// # Safety
/// `l` is null or a live thread of the engine's state, on its own thread.
unsafe fn check_every_instruction(l: *mut ffi::lua_State) {
    if !l.is_null() && ffi::lua_gethookcount(l) != 1 {
        ffi::lua_sethook(l, ffi::lua_gethook(l), ffi::lua_gethookmask(l), 1);
    }
}

/// What the hook decides: `None` to go on, or the error that ends the run. Marks the script
/// busy once it passes the threshold.
fn verdict(ctx: &RunCtx) -> Option<&'static str> {
    if let Some(deadline) = ctx.load_deadline.get() {
        if ABORT_ALL.load(Ordering::Relaxed) {
            return Some("ERR Script stopped: the server is shutting down");
        }
        if Instant::now() >= deadline {
            return Some("ERR FUNCTION LOAD timeout");
        }
        return None;
    }
    let r = &ctx.running;
    if !r.busy.load(Ordering::Relaxed)
        && ctx.started.get().elapsed().as_millis() as u64 >= ctx.busy_ms.get()
    {
        if let Some((name, command)) = ctx.caller.get() {
            // Safety: `caller` is set only while `run_function` (and its arguments) is live.
            let name = unsafe { name.as_ref() }.to_string();
            *r.call.lock() = Some(ScriptCall {
                name,
                command: command.iter().map(<[u8]>::to_vec).collect(),
                started: ctx.started.get(),
            });
        }
        r.busy.store(true, Ordering::Release);
        BUSY_SCRIPTS.fetch_add(1, Ordering::AcqRel);
    }
    if ABORT_ALL.load(Ordering::Relaxed) {
        return Some("ERR Script stopped: the server is shutting down");
    }
    if r.kill.load(Ordering::Acquire) {
        ctx.killed.set(true);
        // Redis 7.0 says SCRIPT KILL for a function stopped by FUNCTION KILL too.
        return Some("ERR Script killed by user with SCRIPT KILL...");
    }
    None
}

/// An `{err=...}` table as `luaPushErrorBuff` builds it: `-CODE msg` keeps its code, a bare
/// message gets `ERR`.
fn error_table(lua: &Lua, text: &[u8]) -> mlua::Result<Value> {
    let t = lua.create_table_with_capacity(0, 1)?;
    t.raw_set("err", lua.create_string(full_error(text))?)?;
    Ok(Value::Table(t))
}

fn install_redis_api(lua: &Lua, redis: &Table, ctx: &Rc<RunCtx>) -> mlua::Result<()> {
    let raise = |msg: &str| -> mlua::Error { mlua::Error::runtime(msg.to_string()) };
    redis.raw_set(
        "sha1hex",
        lua.create_function(move |_, args: MultiValue| {
            if args.len() != 1 {
                return Err(raise("-ERR wrong number of arguments"));
            }
            let bytes = match &args[0] {
                Value::String(s) => s.as_bytes().to_vec(),
                Value::Integer(i) => i.to_string().into_bytes(),
                Value::Number(n) => crate::cjson::fmt_g14(*n).into_bytes(),
                _ => Vec::new(),
            };
            Ok(crate::cache::sha1hex(&bytes))
        })?,
    )?;
    redis.raw_set(
        "error_reply",
        lua.create_function(move |lua, args: MultiValue| {
            // Redis's `luaRedisErrorReplyCommand` answers bad arguments with an error table
            // (returned, not raised), as it does for a good one.
            let text = match (args.len(), args.front()) {
                (1, Some(Value::String(s))) => s.as_bytes().to_vec(),
                _ => return error_table(lua, b"wrong number or type of arguments"),
            };
            let text = if text.starts_with(b"-") {
                text
            } else {
                [&b"-"[..], &text].concat()
            };
            error_table(lua, &text)
        })?,
    )?;
    redis.raw_set(
        "status_reply",
        lua.create_function(move |lua, args: MultiValue| {
            let text = match (args.len(), args.front()) {
                (1, Some(Value::String(s))) => s.clone(),
                _ => return error_table(lua, b"wrong number or type of arguments"),
            };
            let t = lua.create_table_with_capacity(0, 1)?;
            t.raw_set("ok", text)?;
            Ok(Value::Table(t))
        })?,
    )?;
    {
        let ctx = ctx.clone();
        redis.raw_set(
            "log",
            lua.create_function(move |_, args: MultiValue| {
                if args.len() < 2 {
                    return Err(raise("-ERR redis.log() requires two arguments or more."));
                }
                let level = match &args[0] {
                    Value::Integer(i) => *i,
                    Value::Number(n) => *n as i64,
                    _ => return Err(raise("-ERR First argument must be a number (log level).")),
                };
                if !(0..=3).contains(&level) {
                    return Err(raise("-ERR Invalid debug level."));
                }
                let mut msg = String::new();
                for (i, v) in args.iter().skip(1).enumerate() {
                    if i > 0 {
                        msg.push(' ');
                    }
                    match v {
                        Value::String(s) => msg.push_str(&s.to_string_lossy()),
                        Value::Integer(n) => msg.push_str(&n.to_string()),
                        Value::Number(n) => msg.push_str(&crate::cjson::fmt_g14(*n)),
                        _ => {}
                    }
                }
                if let Some(mut host) = ctx.host.get() {
                    // Safety: see `run_function`.
                    unsafe { host.as_mut() }.log(level as i32, &msg);
                }
                Ok(())
            })?,
        )?;
    }
    {
        let ctx = ctx.clone();
        redis.raw_set(
            "setresp",
            lua.create_function(move |_, args: MultiValue| {
                if args.len() != 1 {
                    return Err(raise("-ERR redis.setresp() requires one argument."));
                }
                let v = match &args[0] {
                    Value::Integer(i) => *i,
                    Value::Number(n) => *n as i64,
                    _ => 0,
                };
                if v != 2 && v != 3 {
                    return Err(raise("-ERR RESP version must be 2 or 3."));
                }
                ctx.resp3.set(v == 3);
                Ok(())
            })?,
        )?;
    }
    redis.raw_set(
        "set_repl",
        lua.create_function(move |_, args: MultiValue| {
            if args.len() != 1 {
                // Redis's own text (its check is for one argument).
                return Err(raise("-ERR redis.set_repl() requires two arguments."));
            }
            let v = match &args[0] {
                Value::Integer(i) => *i,
                Value::Number(n) => *n as i64,
                _ => -1,
            };
            if !(0..=3).contains(&v) {
                return Err(raise(
                    "-ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
                ));
            }
            Ok(())
        })?,
    )?;
    redis.raw_set(
        "replicate_commands",
        lua.create_function(|_, _: MultiValue| Ok(true))?,
    )?;
    redis.raw_set(
        "breakpoint",
        lua.create_function(|_, _: MultiValue| Ok(false))?,
    )?;
    redis.raw_set("debug", lua.create_function(|_, _: MultiValue| Ok(()))?)?;
    for (name, v) in [
        ("LOG_DEBUG", 0),
        ("LOG_VERBOSE", 1),
        ("LOG_NOTICE", 2),
        ("LOG_WARNING", 3),
        ("REPL_NONE", 0),
        ("REPL_AOF", 1),
        ("REPL_SLAVE", 2),
        ("REPL_REPLICA", 2),
        ("REPL_ALL", 3),
    ] {
        redis.raw_set(name, v)?;
    }
    redis.raw_set("REDIS_VERSION", crate::REDIS_VERSION)?;
    redis.raw_set("REDIS_VERSION_NUM", crate::REDIS_VERSION_NUM)?;
    Ok(())
}
