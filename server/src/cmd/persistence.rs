//! The persistence family: SAVE, BGSAVE, LASTSAVE and BGREWRITEAOF, driving
//! `server/src/persistence`.
//! (DUMP and RESTORE are keyspace commands and live in `usher-persist`; SHUTDOWN's saving is in
//! the server family; FLUSHALL's is in the dispatcher.)

use crate::registry::{ServerHandler, ServerSpec};
use crate::session::Session;
use std::sync::atomic::Ordering;
use usher_engine::args::is;
use usher_engine::command::{cmd, Flags, Group};
use usher_engine::error::{CmdError, CmdResult};
use usher_engine::store::LockedShards;
use usher_protocol::{errors, Argv, ReplySink, RespWriter};

/// ```text
/// SAVE
/// ```
/// Writes the snapshot in this thread; other threads keep serving (each shard is locked only
/// while it is serialized).
fn save(
    s: &mut Session,
    _locked: &mut LockedShards,
    _argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    if s.shared.persist.bgsave_in_progress.load(Ordering::Acquire) {
        return Err(CmdError::Static(errors::BGSAVE_IN_PROGRESS));
    }
    match crate::persistence::save(s.shared) {
        Ok(_) => out.ok(),
        Err(_) => return Err(CmdError::Static("ERR")),
    }
    Ok(())
}

/// ```text
/// BGSAVE [SCHEDULE]
/// ```
fn bgsave(
    s: &mut Session,
    _locked: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    let schedule = match argv.len() {
        1 => false,
        2 if is(argv.arg(1), "SCHEDULE") => true,
        _ => return Err(CmdError::Syntax),
    };
    let p = &s.shared.persist;
    if p.bgsave_in_progress.load(Ordering::Acquire) {
        if schedule {
            p.bgsave_scheduled.store(true, Ordering::Release);
            out.simple("Background saving scheduled");
            return Ok(());
        }
        return Err(CmdError::Static(errors::BGSAVE_IN_PROGRESS));
    }
    crate::persistence::bgsave(s.shared).map_err(CmdError::Static)?;
    out.simple("Background saving started");
    Ok(())
}

/// ```text
/// BGREWRITEAOF
/// ```
/// Rewrites the append-only file in the background without forking (see
/// `server/src/persistence/aof.rs`); with the AOF off it writes a base only, as Redis 7.0.
fn bgrewriteaof(
    s: &mut Session,
    _locked: &mut LockedShards,
    _argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    crate::persistence::aof::bgrewrite(s.shared, false).map_err(CmdError::Owned)?;
    out.simple("Background append only file rewriting started");
    Ok(())
}

/// ```text
/// LASTSAVE
/// ```
/// Unix time of the last successful save (start-up time before the first, as Redis).
fn lastsave(
    s: &mut Session,
    _locked: &mut LockedShards,
    _argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    out.int(s.shared.persist.lastsave.load(Ordering::Relaxed));
    Ok(())
}

const ADMIN: Flags = Flags::ADMIN
    .union(Flags::NOSCRIPT)
    .union(Flags::NO_ASYNC_LOADING);

pub static COMMANDS: &[ServerSpec] = &[
    cmd(
        "SAVE",
        1,
        ADMIN.union(Flags::NO_MULTI),
        save as ServerHandler,
    )
    .doc(
        Group::Server,
        "1.0.0",
        "Synchronously saves the database(s) to disk.",
        "O(N) where N is the total number of keys in all databases",
    ),
    cmd("BGSAVE", -1, ADMIN, bgsave as ServerHandler).doc(
        Group::Server,
        "1.0.0",
        "Asynchronously saves the database(s) to disk.",
        "O(1)",
    ),
    cmd("BGREWRITEAOF", 1, ADMIN, bgrewriteaof as ServerHandler).doc(
        Group::Server,
        "1.0.0",
        "Asynchronously rewrites the append-only file to disk.",
        "O(1)",
    ),
    cmd(
        "LASTSAVE",
        1,
        Flags::LOADING.union(Flags::STALE).union(Flags::FAST),
        lastsave as ServerHandler,
    )
    .doc(
        Group::Server,
        "1.0.0",
        "Returns the Unix timestamp of the last successful save to disk.",
        "O(1)",
    ),
];
