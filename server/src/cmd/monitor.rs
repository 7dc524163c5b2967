//! MONITOR: turns the connection into a stream of every command the server runs (see
//! [`crate::monitor`]).

use crate::registry::{ServerHandler, ServerSpec};
use crate::session::Session;
use usher_engine::command::{cmd, Flags, Group};
use usher_engine::error::CmdResult;
use usher_engine::store::LockedShards;
use usher_protocol::{Argv, ReplySink, RespWriter};

/// ```text
/// MONITOR
/// ```
/// Replies OK, then streams each command other clients run, one line each.
fn monitor(s: &mut Session, _: &mut LockedShards, _: Argv, out: &mut RespWriter) -> CmdResult {
    s.shared.monitors.add(&s.info);
    s.info.set_flag(crate::client::flag::MONITOR, true);
    out.ok();
    Ok(())
}

pub static COMMANDS: &[ServerSpec] = &[cmd(
    "MONITOR",
    1,
    Flags::ADMIN
        .union(Flags::NOSCRIPT)
        .union(Flags::LOADING)
        .union(Flags::STALE),
    monitor as ServerHandler,
)
.doc(
    Group::Server,
    "1.0.0",
    "Listens for all requests received by the server in real-time.",
    "",
)];
