//! The function family (Redis 7): `FUNCTION LOAD / LIST / DELETE / FLUSH / STATS / KILL /
//! HELP`, `FCALL` and `FCALL_RO`. Libraries live server-wide (`Shared::functions`); each worker's
//! Lua state loads a library the first time it calls one of its functions. `FCALL` runs like
//! `EVALSHA` (same locking, see `scripting.rs`), passing `(keys, args)` to the function.
//!
//! `FUNCTION DUMP` writes every library as Redis's RDB does, sealed like a key's DUMP
//! (`usher_persist::functions`); `FUNCTION RESTORE` compiles a payload's libraries into a set
//! of their own first and joins it to the server's in one step, so a failing restore changes
//! nothing. The writing subcommands lock every shard: a snapshot, an AOF rewrite or a
//! replica's sync (which take them all) then sees the libraries as of its point in the
//! propagation stream, where these commands are logged as themselves, as Redis logs them.

use crate::cmd::scripting::{kill, parse_numkeys, run_script, with_engine, Body};
use crate::registry::{ServerHandler, ServerSpec};
use crate::session::Session;
use crate::shared::Shared;
use usher_engine::command::{cmd, container, Flags, Group};
use usher_engine::error::{CmdError, CmdResult};
use usher_engine::store::LockedShards;
use usher_lua::functions::{Libraries, Library, RestorePolicy};
use usher_persist::functions::PayloadError;
use usher_protocol::{errors, Argv, ReplySink, RespWriter};

/// How long FUNCTION LOAD lets a library's code run (Redis's `LOAD_TIMEOUT_MS`).
const LOAD_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(500);

/// Compiles library `code` into `into` (the server's set, or one being assembled from a
/// payload or a file) with Redis's checks in Redis's order: the `#!` line, a taken name
/// (unless `replace`), the code itself, then function names taken by another library.
/// Returns the library's name.
pub fn stage(
    shared: &Shared,
    into: &Libraries,
    code: &[u8],
    replace: bool,
    timeout: Option<std::time::Duration>,
) -> Result<String, String> {
    let name = usher_lua::engine::library_name(code)?;
    if !replace && into.contains(&name) {
        return Err(format!("ERR Library '{name}' already exists"));
    }
    let (name, functions) = with_engine(|e| e.load_library(code, timeout))?;
    let lib = Library {
        name: name.clone(),
        code: code.to_vec(),
        functions: functions.into_iter().map(|(d, _)| d).collect(),
        // From the server's counter even for a set on the side: a Lua state knows a library
        // by name and generation, so generations must never repeat.
        generation: shared.functions.next_generation(),
    };
    into.insert(lib, replace)?;
    Ok(name)
}

/// A change to the libraries counts as a change to the data (Redis's `server.dirty++`), for
/// save points.
fn dirtied(s: &Session) {
    crate::stats::bump(&s.stats.dirty, 1);
}

/// ```text
/// FUNCTION LOAD [REPLACE] function-code
/// ```
fn function_load(
    s: &mut Session,
    _l: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    let (replace, code) = match argv.len() {
        3 => (false, argv.arg(2)),
        4 if argv.arg(2).eq_ignore_ascii_case(b"REPLACE") => (true, argv.arg(3)),
        4 => {
            return Err(CmdError::msg(format!(
                "ERR Unknown option given: {}",
                String::from_utf8_lossy(argv.arg(2))
            )))
        }
        _ => return Err(CmdError::Syntax),
    };
    // Redis's LOAD_TIMEOUT_MS, for clients; the primary's stream and the AOF were checked by
    // it when first loaded (Redis sets no limit for them either).
    let obeyed = s.from_master
        || s.shared
            .persist
            .loading
            .load(std::sync::atomic::Ordering::Acquire);
    let timeout = (!obeyed).then_some(LOAD_TIMEOUT);
    let name =
        stage(s.shared, &s.shared.functions, code, replace, timeout).map_err(CmdError::Owned)?;
    dirtied(s);
    out.bulk(name.as_bytes());
    Ok(())
}

/// ```text
/// FUNCTION DUMP
/// ```
fn function_dump(
    s: &mut Session,
    _l: &mut LockedShards,
    _a: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    let libs = s.shared.functions.all();
    let payload = usher_persist::functions::dump_payload(
        libs.iter().map(|l| &l.code[..]),
        usher_persist::compression(),
    );
    out.bulk(&payload);
    Ok(())
}

/// ```text
/// FUNCTION RESTORE serialized-value [FLUSH|APPEND|REPLACE]
/// ```
fn function_restore(
    s: &mut Session,
    _l: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    if argv.len() > 4 {
        return Err(CmdError::Owned(errors::subcommand_syntax(
            argv.arg(1),
            "FUNCTION",
        )));
    }
    let policy =
        match argv.get(3) {
            None => RestorePolicy::Append,
            Some(p) if p.eq_ignore_ascii_case(b"APPEND") => RestorePolicy::Append,
            Some(p) if p.eq_ignore_ascii_case(b"REPLACE") => RestorePolicy::Replace,
            Some(p) if p.eq_ignore_ascii_case(b"FLUSH") => RestorePolicy::Flush,
            Some(_) => return Err(CmdError::Static(
                "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
            )),
        };
    let staged = Libraries::default();
    let read = usher_persist::functions::read_payload(argv.arg(2), |code| {
        stage(s.shared, &staged, &code, false, None).map(|_| ())
    });
    match read {
        Err(PayloadError::Footer) => {
            return Err(CmdError::Static(
                "ERR DUMP payload version or checksum are wrong",
            ))
        }
        Err(PayloadError::Record(msg)) => return Err(CmdError::Owned(format!("ERR {msg}"))),
        Ok(Err(e)) => return Err(CmdError::Owned(e)),
        Ok(Ok(())) => {}
    }
    s.shared
        .functions
        .join(staged, policy)
        .map_err(CmdError::Owned)?;
    dirtied(s);
    out.ok();
    Ok(())
}

/// ```text
/// FUNCTION LIST [LIBRARYNAME library-name-pattern] [WITHCODE]
/// ```
fn function_list(
    s: &mut Session,
    _l: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    let mut pattern: Option<&[u8]> = None;
    let mut with_code = false;
    let mut i = 2;
    while i < argv.len() {
        let a = argv.arg(i);
        if a.eq_ignore_ascii_case(b"WITHCODE") && !with_code {
            with_code = true;
        } else if a.eq_ignore_ascii_case(b"LIBRARYNAME") && pattern.is_none() {
            if i + 1 >= argv.len() {
                return Err(CmdError::msg("ERR library name argument was not given"));
            }
            i += 1;
            pattern = Some(argv.arg(i));
        } else {
            return Err(CmdError::msg(format!(
                "ERR Unknown argument {}",
                String::from_utf8_lossy(a)
            )));
        }
        i += 1;
    }
    let libs: Vec<_> = s
        .shared
        .functions
        .all()
        .into_iter()
        .filter(|l| {
            // Redis matches the pattern without regard to case.
            pattern.is_none_or(|p| usher_engine::glob::glob_match(p, l.name.as_bytes(), true))
        })
        .collect();
    out.array(libs.len());
    for lib in libs {
        out.map(if with_code { 4 } else { 3 });
        out.bulk(b"library_name");
        out.bulk(lib.name.as_bytes());
        out.bulk(b"engine");
        out.bulk(b"LUA");
        out.bulk(b"functions");
        out.array(lib.functions.len());
        for f in &lib.functions {
            out.map(3);
            out.bulk(b"name");
            out.bulk(f.name.as_bytes());
            out.bulk(b"description");
            match &f.description {
                Some(d) => out.bulk(d.as_bytes()),
                None => out.null(),
            }
            out.bulk(b"flags");
            let names = f.flags.names();
            out.set(names.len());
            for n in names {
                // Status replies, as Redis's `functionListReplyFlags` writes them.
                out.simple(n);
            }
        }
        if with_code {
            out.bulk(b"library_code");
            out.bulk(&lib.code);
        }
    }
    Ok(())
}

/// ```text
/// FUNCTION DELETE library-name
/// ```
fn function_delete(
    s: &mut Session,
    _l: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    let name = String::from_utf8_lossy(argv.arg(2));
    if !s.shared.functions.delete(&name) {
        return Err(CmdError::Static("ERR Library not found"));
    }
    dirtied(s);
    out.ok();
    Ok(())
}

/// ```text
/// FUNCTION FLUSH [ASYNC|SYNC]
/// ```
fn function_flush(
    s: &mut Session,
    _l: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    match argv.len() {
        2 => {}
        3 if argv.arg(2).eq_ignore_ascii_case(b"ASYNC")
            || argv.arg(2).eq_ignore_ascii_case(b"SYNC") => {}
        4.. => {
            return Err(CmdError::Owned(errors::subcommand_syntax(
                argv.arg(1),
                "FUNCTION",
            )))
        }
        _ => {
            return Err(CmdError::Static(
                "ERR FUNCTION FLUSH only supports SYNC|ASYNC option",
            ))
        }
    }
    s.shared.functions.flush();
    dirtied(s);
    out.ok();
    Ok(())
}

/// ```text
/// FUNCTION STATS
/// ```
fn function_stats(
    s: &mut Session,
    _l: &mut LockedShards,
    _a: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    // Redis answers other clients only while a script is busy: that is the script reported.
    let running = usher_lua::engine::busy_script();
    if let Some((_, false)) = running {
        // An EVAL script, not a function (Redis's `slowevalerr`).
        return Err(CmdError::Static(errors::BUSY));
    }
    out.map(2);
    out.bulk(b"running_script");
    match running {
        None => out.null(),
        Some((call, _)) => {
            out.map(3);
            out.bulk(b"name");
            out.bulk(call.name.as_bytes());
            out.bulk(b"command");
            out.array(call.command.len());
            for a in &call.command {
                out.bulk(a);
            }
            out.bulk(b"duration_ms");
            out.int(call.started.elapsed().as_millis() as i64);
        }
    }
    out.bulk(b"engines");
    out.map(1);
    out.bulk(b"LUA");
    out.map(2);
    out.bulk(b"libraries_count");
    out.int(s.shared.functions.library_count() as i64);
    out.bulk(b"functions_count");
    out.int(s.shared.functions.function_count() as i64);
    Ok(())
}

/// ```text
/// FUNCTION KILL
/// ```
fn function_kill(
    _s: &mut Session,
    _l: &mut LockedShards,
    _a: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    kill(true, out)
}

/// ```text
/// FUNCTION HELP
/// ```
fn function_help(
    _s: &mut Session,
    _l: &mut LockedShards,
    _a: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    // Redis 7.0.15's text, line for line.
    let lines = [
        "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "LOAD [REPLACE] <FUNCTION CODE>",
        "    Create a new library with the given library name and code.",
        "DELETE <LIBRARY NAME>",
        "    Delete the given library.",
        "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
        "    Return general information on all the libraries:",
        "    * Library name",
        "    * The engine used to run the Library",
        "    * Library description",
        "    * Functions list",
        "    * Library code (if WITHCODE is given)",
        "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
        "STATS",
        "    Return information about the current function running:",
        "    * Function name",
        "    * Command used to run the function",
        "    * Duration in MS that the function is running",
        "    If no function is running, return nil",
        "    In addition, returns a list of available engines.",
        "KILL",
        "    Kill the current running function.",
        "FLUSH [ASYNC|SYNC]",
        "    Delete all the libraries.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the libraries.",
        "    * SYNC: Synchronously flush the libraries.",
        "DUMP",
        "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
        "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
        "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
        "    control how to handle existing libraries (default APPEND):",
        "    * FLUSH: delete all existing libraries.",
        "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
        "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
        "      libraries with the new libraries (notice that even on this option there is a chance of failure",
        "      in case of functions name collision with another library).",
        "HELP",
        "    Prints this help.",
    ];
    out.array(lines.len());
    for l in lines {
        out.simple(l);
    }
    Ok(())
}

fn fcall_generic(
    s: &mut Session,
    locked: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
    read_only: bool,
) -> CmdResult {
    parse_numkeys(argv)?;
    crate::dispatch::feed_script_call(s, argv);
    let asked = String::from_utf8_lossy(argv.arg(1));
    let Some((lib, def)) = s.shared.functions.function(&asked) else {
        return Err(CmdError::Static("ERR Function not found"));
    };
    // Found without regard to case: run it, and name it in errors, as it was registered.
    let name = def.name.clone();
    crate::cmd::scripting::prepare(s, &def.flags, read_only)?;
    run_script(
        s,
        locked,
        &def.state,
        Body::Function(&lib, &name),
        argv,
        read_only,
        out,
    )
}

/// ```text
/// FCALL function numkeys [key ...] [arg ...]
/// ```
fn fcall(
    s: &mut Session,
    locked: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    fcall_generic(s, locked, argv, out, false)
}

/// ```text
/// FCALL_RO function numkeys [key ...] [arg ...]
/// ```
fn fcall_ro(
    s: &mut Session,
    locked: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    fcall_generic(s, locked, argv, out, true)
}

/// The subcommands that change the libraries. `ALL_SHARDS` is usher's: see the module comment.
const WRITE_ADMIN: Flags = Flags::WRITE.union(Flags::NOSCRIPT).union(Flags::ALL_SHARDS);

static FUNCTION_SUBCOMMANDS: &[ServerSpec] = &[
    cmd("LIST", -2, Flags::NOSCRIPT, function_list as ServerHandler).doc(
        Group::Scripting,
        "7.0.0",
        "List information about all the functions",
        "O(N) where N is the number of functions",
    ),
    cmd("DELETE", 3, WRITE_ADMIN, function_delete as ServerHandler).doc(
        Group::Scripting,
        "7.0.0",
        "Delete a function by name",
        "O(1)",
    ),
    cmd(
        "RESTORE",
        -3,
        WRITE_ADMIN.union(Flags::DENYOOM),
        function_restore as ServerHandler,
    )
    .doc(
        Group::Scripting,
        "7.0.0",
        "Restore all the functions on the given payload",
        "O(N) where N is the number of functions on the payload",
    ),
    cmd("DUMP", 2, Flags::NOSCRIPT, function_dump as ServerHandler).doc(
        Group::Scripting,
        "7.0.0",
        "Dump all functions into a serialized binary payload",
        "O(N) where N is the number of functions",
    ),
    cmd(
        "HELP",
        2,
        Flags::LOADING.union(Flags::STALE),
        function_help as ServerHandler,
    )
    .doc(
        Group::Scripting,
        "7.0.0",
        "Show helpful text about the different subcommands",
        "O(1)",
    ),
    cmd(
        "KILL",
        2,
        Flags::NOSCRIPT.union(Flags::ALLOW_BUSY),
        function_kill as ServerHandler,
    )
    .doc(
        Group::Scripting,
        "7.0.0",
        "Kill the function currently in execution.",
        "O(1)",
    ),
    cmd("FLUSH", -2, WRITE_ADMIN, function_flush as ServerHandler).doc(
        Group::Scripting,
        "7.0.0",
        "Deleting all functions",
        "O(N) where N is the number of functions deleted",
    ),
    cmd(
        "LOAD",
        -3,
        WRITE_ADMIN.union(Flags::DENYOOM),
        function_load as ServerHandler,
    )
    .doc(
        Group::Scripting,
        "7.0.0",
        "Create a function with the given arguments (name, code, description)",
        "O(1) (considering compilation time is redundant)",
    ),
    cmd(
        "STATS",
        2,
        Flags::NOSCRIPT.union(Flags::ALLOW_BUSY),
        function_stats as ServerHandler,
    )
    .doc(
        Group::Scripting,
        "7.0.0",
        "Return information about the function currently running (name, description, duration)",
        "O(1)",
    ),
];

const SCRIPTING: Flags = Flags::NOSCRIPT
    .union(Flags::STALE)
    .union(Flags::SKIP_MONITOR)
    .union(Flags::NO_MANDATORY_KEYS);

pub static COMMANDS: &[ServerSpec] = &[
    container("FUNCTION", FUNCTION_SUBCOMMANDS).doc(
        Group::Scripting,
        "7.0.0",
        "A container for function commands",
        "Depends on subcommand.",
    ),
    cmd("FCALL", -3, SCRIPTING, fcall as ServerHandler)
        .movable_keys(crate::cmd::scripting::numkeys_keys)
        .doc(
            Group::Scripting,
            "7.0.0",
            "Invoke a function",
            "Depends on the function that is executed.",
        ),
    cmd(
        "FCALL_RO",
        -3,
        SCRIPTING.union(Flags::READONLY),
        fcall_ro as ServerHandler,
    )
    .movable_keys(crate::cmd::scripting::numkeys_keys)
    .doc(
        Group::Scripting,
        "7.0.0",
        "Invoke a read-only function",
        "Depends on the function that is executed.",
    ),
];
