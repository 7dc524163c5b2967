//! The function family (Redis 7): `FUNCTION LOAD / LIST / DELETE / FLUSH / STATS / KILL /
//! HELP`, `FCALL` and `FCALL_RO`. Libraries live server-wide (`Shared::functions`); each worker's
//! Lua state loads a library the first time it calls one of its functions. `FCALL` runs like
//! `EVALSHA` (same locking, see `scripting.rs`), passing `(keys, args)` to the function.
//! `FUNCTION DUMP` / `RESTORE` are not implemented (docs/compatibility.md).

use crate::cmd::scripting::{kill, parse_numkeys, run_script, with_engine, Body};
use crate::registry::{ServerHandler, ServerSpec};
use crate::session::Session;
use usher_engine::command::{cmd, container, Flags, Group};
use usher_engine::error::{CmdError, CmdResult};
use usher_engine::store::LockedShards;
use usher_lua::functions::Library;
use usher_protocol::{Argv, ReplySink, RespWriter};

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
    let name = usher_lua::engine::library_name(code).map_err(CmdError::Owned)?;
    if !replace && s.shared.functions.all().iter().any(|l| l.name == name) {
        return Err(CmdError::msg(format!(
            "ERR Library '{name}' already exists"
        )));
    }
    let (name, functions) = with_engine(|e| e.load_library(code)).map_err(CmdError::Owned)?;
    let lib = Library {
        name: name.clone(),
        code: code.to_vec(),
        functions: functions.into_iter().map(|(d, _)| d).collect(),
        generation: s.shared.functions.next_generation(),
    };
    s.shared
        .functions
        .insert(lib, replace)
        .map_err(CmdError::Owned)?;
    out.bulk(name.as_bytes());
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
        } else if a.eq_ignore_ascii_case(b"LIBRARYNAME") && pattern.is_none() && i + 1 < argv.len()
        {
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
            pattern.is_none_or(|p| usher_engine::glob::glob_match(p, l.name.as_bytes(), false))
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
                out.bulk(n.as_bytes());
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
        _ => {
            return Err(CmdError::Static(
                "ERR FUNCTION FLUSH only supports SYNC|ASYNC option",
            ))
        }
    }
    s.shared.functions.flush();
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
    out.map(2);
    out.bulk(b"running_script");
    out.null();
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
/// FUNCTION DUMP / FUNCTION RESTORE
/// ```
fn function_dump(
    _s: &mut Session,
    _l: &mut LockedShards,
    _a: Argv,
    _o: &mut RespWriter,
) -> CmdResult {
    Err(CmdError::Static(
        "ERR usher does not implement FUNCTION DUMP/RESTORE yet; use FUNCTION LIST WITHCODE and FUNCTION LOAD",
    ))
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
    let lines = [
        "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "LOAD [REPLACE] <FUNCTION CODE>",
        "DELETE <LIBRARY NAME>",
        "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
        "FLUSH [ASYNC|SYNC]",
        "STATS",
        "KILL",
        "HELP",
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
    let name = String::from_utf8_lossy(argv.arg(1)).into_owned();
    let Some((lib, def)) = s.shared.functions.function(&name) else {
        return Err(CmdError::Static("ERR Function not found"));
    };
    if read_only && !def.flags.no_writes {
        return Err(CmdError::Static(
            "ERR Can not execute a script with write flag using *_ro command.",
        ));
    }
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

const WRITE_ADMIN: Flags = Flags::WRITE.union(Flags::NOSCRIPT);

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
        function_dump as ServerHandler,
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
