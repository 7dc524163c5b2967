//! The MODULE family (LIST, LOAD, LOADEX, UNLOAD, HELP), in Redis 7.0's shapes.
//!
//! usher loads no Redis modules: its native commands are built in. Clients and tools probe
//! for modules with `MODULE LIST` (redis-py's test suite, RedisInsight, redis-om), so LIST
//! answers the empty list. LOAD, LOADEX and UNLOAD are protected as in Redis 7.0
//! (`enable-module-command`, `no` by default); where allowed they fail as a load of a
//! missing library fails in Redis, with the reason in the log.

use crate::registry::{ServerHandler, ServerSpec};
use crate::session::Session;
use usher_engine::cmd::keys::write_help;
use usher_engine::command::{cmd, container, Flags, Group};
use usher_engine::error::{CmdError, CmdResult};
use usher_engine::store::LockedShards;
use usher_protocol::{errors, Argv, ReplySink, RespWriter};

/// Redis's text when `enable-module-command` keeps MODULE LOAD and the like off.
const NOT_ALLOWED: &str = "ERR MODULE command not allowed. If the enable-module-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.";

/// Redis's `allowProtectedAction` for `enable-module-command`.
fn check_allowed(s: &Session) -> CmdResult {
    if s.allows_protected(&s.shared.config.read().enable_module_command) {
        Ok(())
    } else {
        Err(CmdError::Static(NOT_ALLOWED))
    }
}

/// ```text
/// MODULE LIST
/// ```
/// No module is ever loaded.
fn list(_: &mut Session, _: &mut LockedShards, _: Argv, out: &mut RespWriter) -> CmdResult {
    out.array(0);
    Ok(())
}

/// ```text
/// MODULE LOAD path [arg ...]
/// MODULE LOADEX path [CONFIG name value ...] [ARGS arg ...]
/// ```
fn load(s: &mut Session, _: &mut LockedShards, argv: Argv, _: &mut RespWriter) -> CmdResult {
    check_allowed(s)?;
    crate::warning!(
        "Module {} failed to load: usher does not load Redis modules",
        errors::sanitize(argv.arg(2), 128)
    );
    Err(CmdError::Static(
        "ERR Error loading the extension. Please check the server logs.",
    ))
}

/// ```text
/// MODULE UNLOAD name
/// ```
fn unload(s: &mut Session, _: &mut LockedShards, _: Argv, _: &mut RespWriter) -> CmdResult {
    check_allowed(s)?;
    Err(CmdError::Static(
        "ERR Error unloading module: no such module with that name",
    ))
}

const HELP: &[&str] = &[
    "MODULE <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "LIST",
    "    Return a list of loaded modules.",
    "LOAD <path> [<arg> ...]",
    "    Load a module library from <path>, passing to it any optional arguments.",
    "LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]",
    "    Load a module library from <path>, while passing it module configurations and optional arguments.",
    "UNLOAD <name>",
    "    Unload a module.",
    "HELP",
    "    Prints this help.",
];

fn help(_: &mut Session, _: &mut LockedShards, _: Argv, out: &mut RespWriter) -> CmdResult {
    write_help(out, HELP);
    Ok(())
}

const ADMIN: Flags = Flags::ADMIN.union(Flags::NOSCRIPT);
const LOADS: Flags = ADMIN.union(Flags::NO_ASYNC_LOADING);

const SUBCOMMANDS: &[ServerSpec] = &[
    cmd("LIST", 2, ADMIN, list as ServerHandler).doc(
        Group::Server,
        "4.0.0",
        "Returns all loaded modules.",
        "O(N) where N is the number of loaded modules.",
    ),
    cmd("LOAD", -3, LOADS, load as ServerHandler).doc(
        Group::Server,
        "4.0.0",
        "Loads a module.",
        "O(1)",
    ),
    cmd("LOADEX", -3, LOADS, load as ServerHandler).doc(
        Group::Server,
        "7.0.0",
        "Loads a module using extended parameters.",
        "O(1)",
    ),
    cmd("UNLOAD", 3, LOADS, unload as ServerHandler).doc(
        Group::Server,
        "4.0.0",
        "Unloads a module.",
        "O(1)",
    ),
    cmd(
        "HELP",
        2,
        Flags::LOADING.union(Flags::STALE),
        help as ServerHandler,
    )
    .doc(
        Group::Server,
        "5.0.0",
        "Returns helpful text about the different subcommands.",
        "O(1)",
    ),
];

pub static COMMANDS: &[ServerSpec] = &[container("MODULE", SUBCOMMANDS).doc(
    Group::Server,
    "4.0.0",
    "A container for module commands.",
    "Depends on subcommand.",
)];
