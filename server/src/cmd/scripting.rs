//! The scripting family: `EVAL`, `EVALSHA`, `EVAL_RO`, `EVALSHA_RO`, `SCRIPT ...`, and the
//! server side of `redis.call` (the [`usher_lua::Host`] a running script talks to).
//!
//! Atomicity. The dispatcher locks the shards of a script's declared `KEYS` (ascending, as for
//! any multi-key command) before the handler runs. Every `redis.call` then checks that the
//! shards of its keys are held; all locks are held to the script's end (two-phase locking), so
//! the script is atomic whichever way its locks were gathered:
//!
//! ```text
//! first run of a SHA          every shard locked; it records whether the script reached a
//!                             shard its declared keys are not on (a key built at run time).
//!                             If it did, the SHA locks every shard from then on; if not,
//!                             later runs lock only the declared keys' shards
//! later run reaches an
//! undeclared shard:
//!   above every held one      wait for it (ascending order: no deadlock possible)
//!   lower, free now           take it (try_lock)
//!   lower, busy, no write yet abandon the run, relock every shard, rerun; the SHA locks every
//!                             shard from then on
//!   lower, busy, after writes wait for it up to 200 ms (a lock cycle cannot form unless the
//!                             holder waits on one of ours); past that the command fails
//!                             with an error and the SHA locks every shard from then on
//! ```
//!
//! Inside `EXEC` every shard is already held (EXEC locks all when a script is queued), so none
//! of this happens there. One Lua state per worker thread (`thread_local`), one script cache per
//! server (`Shared::scripts`).

use crate::dispatch::{finish, run_engine, shards_needed};
use crate::registry::{Command, Lookup, ServerHandler, ServerSpec, Spec};
use crate::session::Session;
use crate::stats::bump;
use smallvec::SmallVec;
use std::cell::RefCell;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use usher_engine::command::{cmd, container, Flags, Group, KeyPositions};
use usher_engine::error::{CmdError, CmdResult};
use usher_engine::store::LockedShards;
use usher_lua::engine::{kill_running, KillResult};
use usher_lua::{Engine, Host, Outcome, Refusal, Script};
use usher_protocol::{errors, parse::parse_i64, Argv, Protocol, ReplySink, RespWriter};

thread_local! {
    /// This worker's Lua state, created on first use.
    static ENGINE: RefCell<Option<Engine>> = const { RefCell::new(None) };
}

/// Runs `f` on this thread's Lua state. Scripts cannot call scripting commands (they are
/// `noscript`), so this is never re-entered.
pub fn with_engine<R>(f: impl FnOnce(&mut Engine) -> R) -> R {
    ENGINE.with(|cell| {
        let mut slot = cell.borrow_mut();
        let engine = slot.get_or_insert_with(|| Engine::new().expect("create the Lua state"));
        f(engine)
    })
}

/// Key positions of `EVAL script numkeys key ... arg ...` (and EVALSHA, FCALL, ...).
pub fn numkeys_keys(argv: Argv<'_>) -> Option<KeyPositions> {
    let n = parse_i64(argv.get(2)?)?;
    if n < 0 || n as usize > argv.len() - 3 {
        return None;
    }
    Some((3..3 + n as usize).collect())
}

/// Parses numkeys with Redis's errors.
pub fn parse_numkeys(argv: Argv<'_>) -> Result<usize, CmdError> {
    let n = parse_i64(argv.arg(2)).ok_or(CmdError::NotInteger)?;
    if n < 0 {
        return Err(CmdError::Static("ERR Number of keys can't be negative"));
    }
    if n as usize > argv.len() - 3 {
        return Err(CmdError::Static(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    Ok(n as usize)
}

/// What a script's `redis.call` runs against.
pub struct ScriptHost<'a, 's> {
    pub s: &'a mut Session,
    pub locked: &'a mut LockedShards<'s>,
    pub read_only: bool,
    /// The script declared `allow-oom`: its writes run over `maxmemory`.
    pub allow_oom: bool,
    /// May abandon and rerun (false inside EXEC, which already holds every shard).
    pub can_retry: bool,
    pub wrote: bool,
    /// Set when the script reached a busy shard after writing: lock every shard next time.
    pub wants_all: bool,
    /// Shards the declared keys live on (ascending, unique).
    pub declared: SmallVec<[u16; 8]>,
    /// The script reached a shard outside `declared`.
    pub undeclared: bool,
}

fn refuse(text: &str) -> Refusal {
    Refusal::Error(text.to_string())
}

/// Counts a call the script host refused, as Redis's `scriptCall` does before the script
/// sees the error: an error reply under the refusal's code (a text without `-CODE` counts as
/// ERR) and, for a known command, a rejected call.
fn count_refusal(s: &Session, cmd: Option<&Command>, refusal: Refusal) -> Refusal {
    if let Refusal::Error(text) = &refusal {
        let code = text.strip_prefix('-').map_or(&b"ERR"[..], |t| {
            usher_engine::error::error_code(t.as_bytes())
        });
        s.stats.record_error(code);
        if let Some(cmd) = cmd {
            bump(&s.stats.commands[cmd.id as usize].rejected_calls, 1);
        }
    }
    refusal
}

impl ScriptHost<'_, '_> {
    /// Makes sure the shards `argv` touches are held; see the module comment.
    fn reach(&mut self, spec: Spec, argv: Argv<'_>) -> Result<(), Refusal> {
        let store = &self.s.shared.store;
        let mut needed: SmallVec<[u16; 8]> = SmallVec::new();
        if !shards_needed(store, spec, argv, &mut needed) {
            if self.locked.holds_all() {
                return Ok(());
            }
            needed = (0..store.shard_count() as u16).collect();
        }
        needed.sort_unstable();
        needed.dedup();
        for &idx in &needed {
            if self.declared.binary_search(&idx).is_err() {
                self.undeclared = true;
            }
            if self.locked.extend(idx) {
                continue;
            }
            if !self.wrote && self.can_retry {
                return Err(Refusal::Retry);
            }
            self.wants_all = true;
            let since = Instant::now();
            while !self.locked.extend(idx) {
                if since.elapsed() > Duration::from_millis(200) {
                    return Err(refuse(
                        "-ERR this script reached a key on a shard it had not locked, after \
                         writing, and could not take that shard; from its next run it locks \
                         every shard",
                    ));
                }
                std::thread::yield_now();
            }
        }
        Ok(())
    }
}

/// Redis's `scriptVerifyClusterState` refusal, for a call whose keys are not all served here.
const NON_LOCAL_KEY: &str = "Script attempted to access a non local key in a cluster node";

impl ScriptHost<'_, '_> {
    /// Cluster mode: each `redis.call` is routed as the command sent alone would be (Redis's
    /// `scriptVerifyClusterState`), so a script cannot write a key into a slot another node
    /// owns, where no client would find it again. Keys over several slots, a slot served
    /// elsewhere or by nobody: refused. A slot on the move: its key check, to run under the
    /// call's locks. The primary's stream and the AOF are obeyed as they come.
    fn cluster_route(
        &self,
        spec: Spec,
        argv: Argv<'_>,
    ) -> Result<Option<crate::cluster::SlotCheck>, Refusal> {
        let Some(cluster) = self.s.shared.cluster.get() else {
            return Ok(None);
        };
        if self.s.from_master || self.s.shared.persist.loading.load(Ordering::Relaxed) {
            return Ok(None);
        }
        match crate::cluster::route(&cluster.topology(), spec, argv, self.s.asked, false) {
            Ok(crate::cluster::Route::Serve(_)) => Ok(None),
            Ok(crate::cluster::Route::Check(_, check)) => Ok(Some(check)),
            Err(_) => Err(refuse(NON_LOCAL_KEY)),
        }
    }
}

impl Host for ScriptHost<'_, '_> {
    fn call(
        &mut self,
        argv: Argv<'_>,
        proto: Protocol,
        out: &mut Vec<u8>,
    ) -> Result<bool, Refusal> {
        let cmd = match crate::registry::get().lookup(argv) {
            Lookup::Found(cmd) => cmd,
            _ => {
                let refusal = refuse("Unknown Redis command called from script");
                return Err(count_refusal(self.s, None, refusal));
            }
        };
        self.call_known(cmd, argv, proto, out)
            .map_err(|r| count_refusal(self.s, Some(cmd), r))
    }

    fn log(&mut self, level: i32, message: &str) {
        use crate::config::LogLevel;
        let level = match level {
            0 => LogLevel::Debug,
            1 => LogLevel::Verbose,
            2 => LogLevel::Notice,
            _ => LogLevel::Warning,
        };
        crate::log::log(level, format_args!("{message}"));
    }

    fn acl_check(&mut self, argv: Argv<'_>) -> Option<bool> {
        // Redis's `lookupCommand`: an unknown subcommand is an unknown command; the arity is
        // not checked.
        let Lookup::Found(cmd) = crate::registry::get().lookup(argv) else {
            return None;
        };
        Some(self.s.acl_free || crate::acl::check::check(&self.s.user, cmd, argv).is_ok())
    }
}

impl ScriptHost<'_, '_> {
    /// `redis.call` of a command that exists: Redis's `scriptCall` checks, then the run.
    fn call_known(
        &mut self,
        cmd: &'static Command,
        argv: Argv<'_>,
        proto: Protocol,
        out: &mut Vec<u8>,
    ) -> Result<bool, Refusal> {
        let spec = cmd.spec;
        if !spec.arity_ok(argv.len()) {
            return Err(refuse(
                "Wrong number of args calling Redis command from script",
            ));
        }
        let flags = spec.flags();
        if flags.contains(Flags::NOSCRIPT) {
            return Err(refuse("This Redis command is not allowed from script"));
        }
        // As Redis: `redis.call` runs with the permissions of the user who called the script.
        if !self.s.acl_free {
            if let Err(denied) = crate::acl::check::check(&self.s.user, cmd, argv) {
                let lua = Some(crate::acl::log::Context::Lua);
                crate::acl::log_denial(self.s, cmd, argv, denied, lua);
                return Err(refuse(denied.script_error()));
            }
        }
        let writes = flags.contains(Flags::WRITE);
        if writes && self.read_only {
            return Err(refuse(
                "-ERR Write commands are not allowed from read-only scripts.",
            ));
        }
        if self.s.hot.maxmemory > 0
            && flags.contains(Flags::DENYOOM)
            && !self.allow_oom
            && !self.wrote
            && crate::memory::used_bytes() > self.s.hot.maxmemory
        {
            return Err(refuse(&format!("-{}", errors::OOM)));
        }
        // Redis's `scriptVerifyWriteCommandAllow` and `scriptVerifyAllowStale`: a call gets
        // the replica's READONLY and MASTERDOWN, NOREPLICAS, and a failing disk's MISCONF, as
        // the command sent alone would; a script that has already written goes on writing
        // (it must not stop half-applied).
        if !(writes && self.wrote) {
            if let Some(msg) = crate::replication::gate(self.s, flags) {
                return Err(refuse(&format!("-{msg}")));
            }
            if writes {
                if let Some(msg) = crate::persistence::disk_error(self.s) {
                    return Err(refuse(&format!("-{msg}")));
                }
            }
        }
        let moving = self.cluster_route(spec, argv)?;
        self.reach(spec, argv)?;
        if let Some(check) = moving {
            let keys = crate::cluster::command_keys(spec, argv);
            let (db, now) = (self.s.db, self.s.now_ms);
            if check
                .verify(self.locked, db, now, keys.iter().map(Vec::as_slice))
                .is_err()
            {
                return Err(refuse(NON_LOCAL_KEY));
            }
        }
        let started = Instant::now();
        let mut w = RespWriter::new(out, proto);
        let result = match spec {
            Spec::Engine(es) => {
                self.s.in_script = true;
                let r = run_engine(self.s, es, argv, &mut w, self.locked, false, false);
                self.s.in_script = false;
                r
            }
            Spec::Server(ss) => ss.handler.expect("resolved")(self.s, self.locked, argv, &mut w),
        };
        finish(self.s, cmd, started, result, &mut w);
        if self.s.shared.monitors.active() {
            crate::dispatch::feed_monitors(self.s, cmd, argv, "lua");
        }
        self.wrote |= writes;
        Ok(writes)
    }
}

/// Counts the error replies a script returned, as Redis counts each error reply it writes:
/// a fresh one as an error reply under its code, one a `redis.call` already counted only as
/// a failed call of the script's command (`dispatch::finish` adds those, and one more for
/// any fresh error, as Redis's `call` marks a command failed when errors were counted).
fn count_reply_errors(s: &mut Session, errors: &usher_lua::ReplyErrors) {
    for text in &errors.fresh {
        s.stats.record_error(usher_engine::error::error_code(text));
    }
    s.failed_in_reply += errors.counted + u32::from(!errors.fresh.is_empty());
}

/// Redis's `getCommandFlags` for the script commands: a script that declared flags (a shebang
/// line), and every function (`register_function` always declares), replaces EVAL's and FCALL's own WRITE, DENYOOM and STALE with
/// what it declared (`scriptFlagsToCmdFlags`), so the dispatch gate refuses it up front as it
/// would the writes it makes (READONLY, OOM, MISCONF, NOREPLICAS; MASTERDOWN unless
/// `allow-stale`). An unknown SHA or function, a script without a shebang, and every other
/// command keep the command's own flags.
pub fn gate_flags(s: &Session, name: &str, flags: Flags, argv: Argv<'_>) -> Flags {
    let declared = match name {
        "EVAL" | "EVAL_RO" => usher_lua::cache::parse_shebang(argv.arg(1)).ok(),
        "EVALSHA" | "EVALSHA_RO" => s.shared.scripts.get(argv.arg(1)).map(|sc| sc.flags),
        "FCALL" | "FCALL_RO" => std::str::from_utf8(argv.arg(1))
            .ok()
            .and_then(|f| s.shared.functions.function(f))
            .map(|(_, def)| def.flags),
        _ => None,
    };
    let Some(declared) = declared.filter(|d| d.declared) else {
        return flags;
    };
    let mut flags = flags
        .difference(Flags::STALE)
        .difference(Flags::DENYOOM)
        .difference(Flags::WRITE);
    if !declared.allow_oom && !declared.no_writes {
        flags = flags.union(Flags::DENYOOM);
    }
    if !declared.no_writes {
        flags = flags.union(Flags::WRITE);
    }
    if declared.allow_stale {
        flags = flags.union(Flags::STALE);
    }
    flags
}

/// Replaces the held locks by every shard (only outside EXEC: the handler owns no other lock).
fn relock_all(s: &Session, locked: &mut LockedShards<'_>) {
    let store = &s.shared.store;
    *locked = store.lock_none();
    *locked = store.lock_all();
}

/// What a run executes: a cached script, or a library's function.
pub enum Body<'a> {
    Script(&'a Script),
    Function(&'a usher_lua::functions::Library, &'a str),
}

/// Runs a script or function with the keys and args of `argv` (`EVAL* x numkeys ...`);
/// `script` carries the SHA's (or function's) flags and what it learned about its shards.
pub fn run_script(
    s: &mut Session,
    locked: &mut LockedShards<'_>,
    script: &Script,
    body: Body<'_>,
    argv: Argv<'_>,
    read_only: bool,
    out: &mut RespWriter<'_>,
) -> CmdResult {
    let numkeys = parse_numkeys(argv)?;
    let keys = argv.range(3, 3 + numkeys);
    let read_only = read_only || script.flags.no_writes;
    let in_exec = locked.holds_all();
    let probing = !script.probed.load(Ordering::Relaxed);
    if (probing || script.lock_all.load(Ordering::Relaxed)) && !in_exec {
        relock_all(s, locked);
    }
    let store = &s.shared.store;
    let mut declared: SmallVec<[u16; 8]> = keys.iter().map(|k| store.shard_of(k) as u16).collect();
    declared.sort_unstable();
    declared.dedup();
    let db = s.db;
    let epoch = s.shared.scripts.epoch();
    let busy_ms = s.hot.busy_reply_threshold;
    // While it runs, the acceptor sends new connections to other workers.
    let _running = crate::script_workers::Running::start(s.now_ms as u64);
    let result = loop {
        let can_retry = !locked.holds_all();
        let mut host = ScriptHost {
            s,
            locked,
            read_only,
            allow_oom: script.flags.allow_oom,
            can_retry,
            wrote: false,
            wants_all: false,
            declared: declared.clone(),
            undeclared: false,
        };
        let r = with_engine(|e| match body {
            Body::Script(sc) => e.run(sc, epoch, argv, numkeys, busy_ms, &mut host, out),
            Body::Function(lib, name) => {
                let f = e.library_function(lib, name)?;
                e.run_function(f, name, argv, numkeys, busy_ms, true, &mut host, out)
            }
        });
        let wants_all = host.wants_all || host.undeclared;
        if probing {
            script.probed.store(true, Ordering::Relaxed);
        }
        // A script's SELECT does not change its caller's database (Redis 7).
        s.set_db(db);
        if wants_all {
            script.lock_all.store(true, Ordering::Relaxed);
        }
        match r {
            Ok(Outcome::Done(errors)) => {
                count_reply_errors(s, &errors);
                break Ok(());
            }
            Ok(Outcome::Retry) => {
                script.lock_all.store(true, Ordering::Relaxed);
                relock_all(s, locked);
            }
            Err(e) if e.counted => break Err(CmdError::Counted(e.text)),
            Err(e) => break Err(CmdError::Owned(e.text)),
        }
    };
    crate::waiters::serve_ready_keys(s, locked);
    result
}

/// Redis's `scriptPrepareForRun` checks of a script's declared flags that the dispatch gate
/// does not make: `no-cluster` in cluster mode, a writing script through a `*_RO` command.
pub fn prepare(
    s: &Session,
    flags: &usher_lua::cache::ScriptFlags,
    read_only: bool,
) -> Result<(), CmdError> {
    if !flags.declared {
        return Ok(());
    }
    if flags.no_cluster && s.shared.cluster.get().is_some() {
        return Err(CmdError::Static(
            "ERR Can not run script on cluster, 'no-cluster' flag is set.",
        ));
    }
    if read_only && !flags.no_writes {
        return Err(CmdError::Static(
            "ERR Can not execute a script with write flag using *_ro command.",
        ));
    }
    Ok(())
}

/// Compiles a body on this thread (Redis's error if it does not compile) and caches it.
fn load_body(s: &Session, body: &[u8], loaded: bool) -> Result<std::sync::Arc<Script>, CmdError> {
    let cache = &s.shared.scripts;
    let sha = usher_lua::sha1hex(body);
    if let Some(script) = cache.get(sha.as_bytes()) {
        if loaded {
            script.loaded.store(true, Ordering::Relaxed);
        }
        return Ok(script);
    }
    let flags = usher_lua::cache::parse_shebang(body).map_err(CmdError::Owned)?;
    with_engine(|e| e.compile(&sha, body, cache.epoch())).map_err(CmdError::Owned)?;
    Ok(cache.insert(sha, body, flags, loaded))
}

fn eval_generic(
    s: &mut Session,
    locked: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
    read_only: bool,
) -> CmdResult {
    parse_numkeys(argv)?;
    crate::dispatch::feed_script_call(s, argv);
    let script = load_body(s, argv.arg(1), false)?;
    prepare(s, &script.flags, read_only)?;
    run_script(
        s,
        locked,
        &script,
        Body::Script(&script),
        argv,
        read_only,
        out,
    )
}

fn evalsha_generic(
    s: &mut Session,
    locked: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
    read_only: bool,
) -> CmdResult {
    parse_numkeys(argv)?;
    crate::dispatch::feed_script_call(s, argv);
    let Some(script) = s.shared.scripts.get(argv.arg(1)) else {
        return Err(CmdError::Static(errors::NOSCRIPT));
    };
    prepare(s, &script.flags, read_only)?;
    run_script(
        s,
        locked,
        &script,
        Body::Script(&script),
        argv,
        read_only,
        out,
    )
}

/// ```text
/// EVAL script numkeys [key ...] [arg ...]
/// ```
fn eval(s: &mut Session, locked: &mut LockedShards, argv: Argv, out: &mut RespWriter) -> CmdResult {
    eval_generic(s, locked, argv, out, false)
}

/// ```text
/// EVAL_RO script numkeys [key ...] [arg ...]
/// ```
fn eval_ro(
    s: &mut Session,
    locked: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    eval_generic(s, locked, argv, out, true)
}

/// ```text
/// EVALSHA sha1 numkeys [key ...] [arg ...]
/// ```
fn evalsha(
    s: &mut Session,
    locked: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    evalsha_generic(s, locked, argv, out, false)
}

/// ```text
/// EVALSHA_RO sha1 numkeys [key ...] [arg ...]
/// ```
fn evalsha_ro(
    s: &mut Session,
    locked: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    evalsha_generic(s, locked, argv, out, true)
}

/// ```text
/// SCRIPT LOAD script
/// ```
fn script_load(
    s: &mut Session,
    _l: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    let script = load_body(s, argv.arg(2), true)?;
    out.bulk(script.sha.as_bytes());
    Ok(())
}

/// ```text
/// SCRIPT EXISTS sha1 [sha1 ...]
/// ```
fn script_exists(
    s: &mut Session,
    _l: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    out.array(argv.len() - 2);
    for sha in argv.iter().skip(2) {
        out.int(s.shared.scripts.contains(sha) as i64);
    }
    Ok(())
}

/// `[ASYNC|SYNC]`, as FLUSHALL and SCRIPT FLUSH take it.
pub fn flush_mode_ok(argv: Argv<'_>) -> CmdResult {
    match argv.len() {
        2 => Ok(()),
        3 if argv.arg(2).eq_ignore_ascii_case(b"ASYNC")
            || argv.arg(2).eq_ignore_ascii_case(b"SYNC") =>
        {
            Ok(())
        }
        _ => Err(CmdError::Static(
            "ERR SCRIPT FLUSH only support SYNC|ASYNC option",
        )),
    }
}

/// ```text
/// SCRIPT FLUSH [ASYNC|SYNC]
/// ```
fn script_flush(
    s: &mut Session,
    _l: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    flush_mode_ok(argv)?;
    s.shared.scripts.flush();
    out.ok();
    Ok(())
}

/// Replies to SCRIPT KILL / FUNCTION KILL.
pub fn kill(functions: bool, out: &mut RespWriter) -> CmdResult {
    match kill_running(functions) {
        KillResult::Killed => {
            out.ok();
            Ok(())
        }
        KillResult::NotBusy => Err(CmdError::Static(
            "NOTBUSY No scripts in execution right now.",
        )),
        KillResult::Unkillable => Err(CmdError::Static(
            "UNKILLABLE Sorry the script already executed write commands against the dataset. \
             You can either wait the script termination or kill the server in a hard way using \
             the SHUTDOWN NOSAVE command.",
        )),
    }
}

/// ```text
/// SCRIPT KILL
/// ```
fn script_kill(
    _s: &mut Session,
    _l: &mut LockedShards,
    _a: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    kill(false, out)
}

/// ```text
/// SCRIPT HELP
/// ```
fn script_help(
    _s: &mut Session,
    _l: &mut LockedShards,
    _a: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    let lines = [
        "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DEBUG (YES|SYNC|NO)",
        "    Set the debug mode for subsequent scripts executed.",
        "EXISTS <sha1> [<sha1> ...]",
        "    Return information about the existence of the scripts in the script cache.",
        "FLUSH [ASYNC|SYNC]",
        "    Flush the Lua scripts cache. Very dangerous on replicas.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the scripts cache.",
        "    * SYNC: Synchronously flush the scripts cache.",
        "KILL",
        "    Kill the currently executing Lua script.",
        "LOAD <script>",
        "    Load a script into the scripts cache without executing it.",
        "HELP",
        "    Prints this help.",
    ];
    out.array(lines.len());
    for l in lines {
        out.simple(l);
    }
    Ok(())
}

/// ```text
/// SCRIPT DEBUG YES|SYNC|NO
/// ```
fn script_debug(
    _s: &mut Session,
    _l: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    if argv.arg(2).eq_ignore_ascii_case(b"NO") {
        out.ok();
        return Ok(());
    }
    Err(CmdError::Static(
        "ERR usher does not support the Lua debugger (SCRIPT DEBUG YES|SYNC)",
    ))
}

const SCRIPTING: Flags = Flags::NOSCRIPT
    .union(Flags::STALE)
    .union(Flags::SKIP_MONITOR)
    .union(Flags::NO_MANDATORY_KEYS);

static SCRIPT_SUBCOMMANDS: &[ServerSpec] = &[
    cmd(
        "HELP",
        2,
        Flags::LOADING.union(Flags::STALE),
        script_help as ServerHandler,
    )
    .doc(
        Group::Scripting,
        "5.0.0",
        "Show helpful text about the different subcommands",
        "O(1)",
    ),
    cmd("FLUSH", -2, Flags::NOSCRIPT, script_flush as ServerHandler).doc(
        Group::Scripting,
        "2.6.0",
        "Remove all the scripts from the script cache.",
        "O(N) with N being the number of scripts in cache",
    ),
    cmd("DEBUG", 3, Flags::NOSCRIPT, script_debug as ServerHandler).doc(
        Group::Scripting,
        "3.2.0",
        "Set the debug mode for executed scripts.",
        "O(1)",
    ),
    cmd("EXISTS", -3, Flags::NOSCRIPT, script_exists as ServerHandler).doc(
        Group::Scripting,
        "2.6.0",
        "Check existence of scripts in the script cache.",
        "O(N) with N being the number of scripts to check (so checking a single script is an O(1) operation).",
    ),
    cmd(
        "KILL",
        2,
        Flags::NOSCRIPT.union(Flags::ALLOW_BUSY),
        script_kill as ServerHandler,
    )
    .doc(
        Group::Scripting,
        "2.6.0",
        "Kill the script currently in execution.",
        "O(1)",
    ),
    cmd(
        "LOAD",
        3,
        Flags::NOSCRIPT.union(Flags::STALE),
        script_load as ServerHandler,
    )
    .doc(
        Group::Scripting,
        "2.6.0",
        "Load the specified Lua script into the script cache.",
        "O(N) with N being the length in bytes of the script body.",
    ),
];

pub static COMMANDS: &[ServerSpec] = &[
    cmd("EVAL", -3, SCRIPTING, eval as ServerHandler)
        .movable_keys(numkeys_keys)
        .doc(
            Group::Scripting,
            "2.6.0",
            "Execute a Lua script server side",
            "Depends on the script that is executed.",
        ),
    cmd("EVALSHA", -3, SCRIPTING, evalsha as ServerHandler)
        .movable_keys(numkeys_keys)
        .doc(
            Group::Scripting,
            "2.6.0",
            "Execute a Lua script server side",
            "Depends on the script that is executed.",
        ),
    cmd(
        "EVAL_RO",
        -3,
        SCRIPTING.union(Flags::READONLY),
        eval_ro as ServerHandler,
    )
    .movable_keys(numkeys_keys)
    .doc(
        Group::Scripting,
        "7.0.0",
        "Execute a read-only Lua script server side",
        "Depends on the script that is executed.",
    ),
    cmd(
        "EVALSHA_RO",
        -3,
        SCRIPTING.union(Flags::READONLY),
        evalsha_ro as ServerHandler,
    )
    .movable_keys(numkeys_keys)
    .doc(
        Group::Scripting,
        "7.0.0",
        "Execute a read-only Lua script server side",
        "Depends on the script that is executed.",
    ),
    container("SCRIPT", SCRIPT_SUBCOMMANDS).doc(
        Group::Scripting,
        "2.6.0",
        "A container for Lua scripts management commands",
        "Depends on subcommand.",
    ),
];
