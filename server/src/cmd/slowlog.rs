//! The SLOWLOG family (GET, LEN, RESET, HELP) over [`crate::slowlog`], in Redis 7.0's shapes.

use crate::registry::{ServerHandler, ServerSpec};
use crate::session::Session;
use usher_engine::cmd::keys::write_help;
use usher_engine::command::{cmd, container, Flags, Group};
use usher_engine::error::{CmdError, CmdResult};
use usher_engine::store::LockedShards;
use usher_protocol::{Argv, ReplySink, RespWriter};

/// ```text
/// SLOWLOG GET [count]
/// ```
/// The newest `count` entries (default 10; -1: all): `[id, timestamp, microseconds,
/// [args...], client address, client name]`.
fn get(s: &mut Session, _: &mut LockedShards, argv: Argv, out: &mut RespWriter) -> CmdResult {
    const BAD: &str = "ERR count should be greater than or equal to -1";
    let count = match argv.get(2) {
        None => Some(10),
        Some(a) => match usher_protocol::parse::parse_i64(a) {
            Some(-1) => None,
            Some(n) if n >= 0 => Some(n as usize),
            _ => return Err(CmdError::Static(BAD)),
        },
    };
    s.shared.slowlog.newest(count, |entries| {
        out.array(entries.len());
        for e in entries {
            out.array(6);
            out.int(e.id as i64);
            out.int(e.time_s);
            out.int(e.duration_us as i64);
            out.array(e.args.len());
            for a in &e.args {
                out.bulk(a);
            }
            out.bulk(e.addr.as_bytes());
            out.bulk(e.name.as_bytes());
        }
    });
    Ok(())
}

/// ```text
/// SLOWLOG LEN
/// ```
fn len(s: &mut Session, _: &mut LockedShards, _: Argv, out: &mut RespWriter) -> CmdResult {
    out.int(s.shared.slowlog.len() as i64);
    Ok(())
}

/// ```text
/// SLOWLOG RESET
/// ```
fn reset(s: &mut Session, _: &mut LockedShards, _: Argv, out: &mut RespWriter) -> CmdResult {
    s.shared.slowlog.reset();
    out.ok();
    Ok(())
}

const HELP: &[&str] = &[
    "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET [<count>]",
    "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
    "    Entries are made of:",
    "    id, timestamp, time in microseconds, arguments array, client IP and port,",
    "    client name",
    "LEN",
    "    Return the length of the slowlog.",
    "RESET",
    "    Reset the slowlog.",
    "HELP",
    "    Prints this help.",
];

fn help(_: &mut Session, _: &mut LockedShards, _: Argv, out: &mut RespWriter) -> CmdResult {
    write_help(out, HELP);
    Ok(())
}

const ADMIN: Flags = Flags::ADMIN.union(Flags::LOADING).union(Flags::STALE);

const SUBCOMMANDS: &[ServerSpec] = &[
    cmd("GET", -2, ADMIN, get as ServerHandler).doc(
        Group::Server,
        "2.2.12",
        "Returns the slow log's entries.",
        "O(N) where N is the number of entries returned",
    ),
    cmd("LEN", 2, ADMIN, len as ServerHandler).doc(
        Group::Server,
        "2.2.12",
        "Returns the number of entries in the slow log.",
        "O(1)",
    ),
    cmd("RESET", 2, ADMIN, reset as ServerHandler).doc(
        Group::Server,
        "2.2.12",
        "Clears all entries from the slow log.",
        "O(N) where N is the number of entries in the slowlog",
    ),
    cmd(
        "HELP",
        2,
        Flags::LOADING.union(Flags::STALE),
        help as ServerHandler,
    )
    .doc(
        Group::Server,
        "6.2.0",
        "Show helpful text about the different subcommands",
        "O(1)",
    ),
];

pub static COMMANDS: &[ServerSpec] = &[container("SLOWLOG", SUBCOMMANDS).doc(
    Group::Server,
    "2.2.12",
    "A container for slow log commands.",
    "Depends on subcommand.",
)];
