//! DEBUG (the subset tools and test suites use) and LOLWUT.
//!
//! Redis 7.0 refuses DEBUG unless `enable-debug-command` allows it (`yes`, or `local` for a
//! loopback client), and so does usher. Supported: SLEEP, RELOAD (save the snapshot, empty the
//! keyspace, load it back, with the persistence code SAVE and start-up use), SET-ACTIVE-EXPIRE,
//! OBJECT, CHANGE-REPL-ID (no replication: a no-op), ERROR (client test suites simulate a
//! server's errors with it) and HELP; any other subcommand gets
//! Redis's unknown-subcommand error. OBJECT takes a shard lock itself and RELOAD lets the
//! snapshot code take them, so both refuse to run while the caller holds locks (inside EXEC);
//! scripts cannot call DEBUG (`noscript`).

use crate::cmd::connection::REDIS_VERSION;
use crate::registry::{ServerHandler, ServerSpec};
use crate::session::Session;
use std::sync::atomic::Ordering;
use usher_engine::args::is;
use usher_engine::cmd::keys::write_help;
use usher_engine::command::{cmd, Flags, Group};
use usher_engine::error::{CmdError, CmdResult};
use usher_engine::store::LockedShards;
use usher_protocol::{errors, Argv, ReplySink, RespWriter};

/// Redis's text when `enable-debug-command` keeps DEBUG off.
const DEBUG_NOT_ALLOWED: &str = "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.";

/// Whether this client may run DEBUG (Redis's `allowProtectedAction`).
fn debug_allowed(s: &Session) -> bool {
    s.allows_protected(&s.shared.config.read().enable_debug_command)
}

/// Redis's error for a subcommand it does not know or got the wrong argument count.
fn unknown_subcommand(sub: &[u8]) -> CmdError {
    CmdError::Owned(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try DEBUG HELP.",
        errors::sanitize(sub, 128)
    ))
}

/// C's `atof`: the longest numeric prefix, 0 when there is none (DEBUG SLEEP's parsing).
fn atof(arg: &[u8]) -> f64 {
    let text = String::from_utf8_lossy(arg);
    let text = text.trim_start();
    (1..=text.len())
        .rev()
        .filter(|&n| text.is_char_boundary(n))
        .find_map(|n| text[..n].parse::<f64>().ok())
        .unwrap_or(0.0)
}

/// ```text
/// DEBUG OBJECT key
/// ```
/// Redis's shape; the address is the entry's, `serializedlength` the value's RDB size.
fn debug_object(s: &mut Session, key: &[u8], out: &mut RespWriter) -> CmdResult {
    let store = &s.shared.store;
    let mut locked = store.lock_one(store.shard_of(key));
    let now = crate::shared::unix_ms();
    let config = s.shared.config.read().engine.clone();
    let entry = locked
        .db(s.db, key)
        .lookup_no_touch(key, now)
        .ok_or(CmdError::Static("ERR no such key"))?;
    let mut body = Vec::new();
    let options = usher_persist::rdb::WriteOptions::new(false, &config);
    usher_persist::rdb::save_value(&mut body, &entry.value, options);
    let text = format!(
        "Value at:{:p} refcount:1 encoding:{} serializedlength:{} lru:{} lru_seconds_idle:{}",
        entry as *const _,
        entry.value.encoding_name(),
        body.len(),
        (now / 1000) & 0xff_ffff,
        entry.idle_seconds(now),
    );
    out.simple(&text);
    Ok(())
}

/// ```text
/// DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]
/// ```
fn debug_reload(s: &mut Session, argv: Argv, out: &mut RespWriter) -> CmdResult {
    let (mut save, mut flush) = (true, true);
    for opt in argv.iter().skip(2) {
        // MERGE loads over the existing keys, as NOFLUSH does here (the loader replaces).
        if is(opt, "MERGE") || is(opt, "NOFLUSH") {
            flush = false;
        } else if is(opt, "NOSAVE") {
            save = false;
        } else {
            return Err(CmdError::Static(
                "ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.",
            ));
        }
    }
    if save && crate::persistence::save(s.shared).is_err() {
        return Err(CmdError::Static("ERR Error trying to save the DB"));
    }
    crate::persistence::reload(s.shared, flush).map_err(|e| CmdError::Owned(format!("ERR {e}")))?;
    crate::notice!("DB reloaded by DEBUG RELOAD");
    out.ok();
    Ok(())
}

/// ```text
/// DEBUG subcommand [argument ...]
/// ```
fn debug(
    s: &mut Session,
    locked: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    if !debug_allowed(s) {
        return Err(CmdError::Static(DEBUG_NOT_ALLOWED));
    }
    let (sub, argc) = (argv.arg(1), argv.len());
    // DEBUG has no keys: the gate locks nothing for it, unless EXEC holds its own shards.
    if (is(sub, "OBJECT") || is(sub, "RELOAD")) && locked.iter_mut().next().is_some() {
        return Err(CmdError::Static(
            "ERR DEBUG OBJECT and DEBUG RELOAD cannot run inside MULTI in usher",
        ));
    }
    if is(sub, "HELP") && argc == 2 {
        write_help(out, DEBUG_HELP);
    } else if is(sub, "SLEEP") && argc == 3 {
        let secs = atof(argv.arg(2));
        if secs > 0.0 && secs.is_finite() {
            // Redis stops the whole server; usher stops this connection's thread.
            std::thread::sleep(std::time::Duration::from_secs_f64(secs.min(3600.0)));
        }
        out.ok();
    } else if is(sub, "OBJECT") && argc == 3 {
        debug_object(s, argv.arg(2), out)?;
    } else if is(sub, "RELOAD") {
        debug_reload(s, argv, out)?;
    } else if is(sub, "SET-ACTIVE-EXPIRE") && argc == 3 {
        // C's atoi: any non-zero number turns it on.
        let on = atof(argv.arg(2)) as i64 != 0;
        s.shared.active_expire.store(on, Ordering::Relaxed);
        out.ok();
    } else if is(sub, "CHANGE-REPL-ID") && argc == 2 {
        out.ok();
    } else if is(sub, "ERROR") && argc == 3 {
        // Written as the reply itself, as Redis writes it: no error is counted, and the call
        // does not fail.
        out.error_bytes(argv.arg(2));
    } else {
        return Err(unknown_subcommand(sub));
    }
    Ok(())
}

const DEBUG_HELP: &[&str] = &[
    "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANGE-REPL-ID",
    "    Change the replication IDs of the instance.",
    "    Dangerous: should be used only for testing the replication subsystem.",
    "ERROR <string>",
    "    Return a Redis protocol error with <string> as message. Useful for clients",
    "    unit tests to simulate Redis errors.",
    "OBJECT <key>",
    "    Show low level info about the `key` and associated value.",
    "RELOAD [option ...]",
    "    Save the RDB on disk and reload it back to memory. Valid <option> values:",
    "    * MERGE: conflicting keys will be loaded from RDB.",
    "    * NOFLUSH: the existing database will not be removed before load, but",
    "      conflicting keys will generate an exception and kill the server.",
    "    * NOSAVE: the database will be loaded from an existing RDB file.",
    "    Examples:",
    "    * DEBUG RELOAD: verify that the server is able to persist, flush and reload",
    "      the database.",
    "    * DEBUG RELOAD NOSAVE: replace the current database with the contents of an",
    "      existing RDB file.",
    "    * DEBUG RELOAD NOSAVE NOFLUSH MERGE: add the contents of an existing RDB",
    "      file to the database.",
    "SET-ACTIVE-EXPIRE <0|1>",
    "    Setting it to 0 disables expiring keys in background when they are not",
    "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
    "    default.",
    "SLEEP <seconds>",
    "    Stop the server for <seconds>. Decimals allowed.",
    "HELP",
    "    Prints this help.",
];

/// ```text
/// LOLWUT [VERSION version] [argument ...]
/// ```
/// Redis draws generative art for versions 5 and 6; usher draws a small braille pattern with
/// Redis's captions. Any other version prints the version line alone, as Redis 7.0 does.
fn lolwut(_s: &mut Session, _: &mut LockedShards, argv: Argv, out: &mut RespWriter) -> CmdResult {
    let mut version = 7;
    let mut rest = 1;
    if argv.len() >= 3 && is(argv.arg(1), "VERSION") {
        version = usher_protocol::parse::parse_i64(argv.arg(2))
            .ok_or(CmdError::Static(errors::NOT_INTEGER))?;
        rest = 3;
    }
    // The art's own arguments are integers too (Redis reads them with getLongFromObject).
    let mut params = Vec::new();
    for a in argv.iter().skip(rest).take(3) {
        params.push(
            usher_protocol::parse::parse_i64(a).ok_or(CmdError::Static(errors::NOT_INTEGER))?,
        );
    }
    let caption = match version {
        5 => "Georg Nees - schotter, plotter on paper, 1968.",
        6 => "Dedicated to the 8 bit game developers of past and present.\nOriginal 8 bit image from Plaguemon by hikikomori.",
        _ => {
            out.verbatim("txt", format!("Redis ver. {REDIS_VERSION}\n").as_bytes());
            return Ok(());
        }
    };
    let cols = params.first().copied().unwrap_or(66).clamp(1, 1000) as usize;
    let rows = (cols / 3).clamp(1, 40);
    let mut text = String::new();
    for r in 0..rows {
        for c in 0..cols {
            // A fixed pattern that tilts further down the canvas, like schotter's squares.
            let dots = ((c * 7 + r * 13 + r * c / 5) % 255) as u32 + 1;
            text.push(char::from_u32(0x2800 + dots).unwrap_or(' '));
        }
        text.push('\n');
    }
    text.push('\n');
    text.push_str(caption);
    text.push_str(&format!(" Redis ver. {REDIS_VERSION}\n"));
    out.verbatim("txt", text.as_bytes());
    Ok(())
}

pub static COMMANDS: &[ServerSpec] = &[
    cmd(
        "DEBUG",
        -2,
        Flags::ADMIN
            .union(Flags::NOSCRIPT)
            .union(Flags::LOADING)
            .union(Flags::STALE),
        debug as ServerHandler,
    )
    .doc(
        Group::Server,
        "1.0.0",
        "A container for debugging commands",
        "Depends on subcommand.",
    ),
    cmd(
        "LOLWUT",
        -1,
        Flags::READONLY.union(Flags::FAST),
        lolwut as ServerHandler,
    )
    .doc(
        Group::Server,
        "5.0.0",
        "Display some computer art and the Redis version",
        "",
    ),
];
