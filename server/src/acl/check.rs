//! The permission check: may this user run this command with these keys and channels
//! (Redis 7.0's `ACLCheckAllUserCommandPerm`)?
//!
//! A key needs read access when the command's key spec says ACCESS and write access when it
//! says INSERT, DELETE or UPDATE; those flags come from Redis's own key specs
//! (`crate::keyspecs`). usher-only commands, which Redis has no specs for, need read access to
//! their keys, and write access too unless they are read-only.

use super::user::{Selector, User, READ, READ_WRITE, WRITE};
use crate::keyspecs;
use crate::registry::Command;
use smallvec::SmallVec;
use usher_engine::command::Flags;
use usher_engine::glob::glob_match;
use usher_protocol::Argv;

/// Why a command was refused; the argument index names the key or channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Denied {
    Command,
    Key(usize),
    Channel(usize),
}

impl Denied {
    /// Redis's ranking when no selector allows a command: a channel beats a key beats the
    /// command, and among equals the later argument wins.
    fn rank(self) -> (u8, usize) {
        match self {
            Denied::Command => (1, 0),
            Denied::Key(i) => (2, i),
            Denied::Channel(i) => (4, i),
        }
    }

    /// The `NOPERM` error a refused command gets (Redis 7.0.15's texts).
    pub fn error(self, full_name: &str) -> String {
        match self {
            Denied::Command => {
                format!("NOPERM this user has no permissions to run the '{full_name}' command")
            }
            Denied::Key(_) => {
                "NOPERM this user has no permissions to access one of the keys used as arguments"
                    .into()
            }
            Denied::Channel(_) => {
                "NOPERM this user has no permissions to access one of the channels used as arguments".into()
            }
        }
    }

    /// The error a queued command gets at EXEC when the rules changed since it was queued.
    pub fn exec_error(self) -> String {
        let reason = match self {
            Denied::Command => "no permission to execute the command or subcommand",
            Denied::Key(_) => "no permission to touch the specified keys",
            Denied::Channel(_) => "no permission to access one of the channels used as arguments",
        };
        format!("NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: {reason}")
    }

    /// The error `redis.call` raises inside a script.
    pub fn script_error(self) -> &'static str {
        match self {
            Denied::Command => "The user executing the script can't run this command or subcommand",
            Denied::Key(_) => "The user executing the script can't access at least one of the keys mentioned in the command arguments",
            Denied::Channel(_) => "The user executing the script can't publish to the channel mentioned in the command",
        }
    }
}

/// Checks `cmd` with arguments `argv` against every selector of `user`.
pub fn check(user: &User, cmd: &Command, argv: Argv<'_>) -> Result<(), Denied> {
    let mut worst: Option<Denied> = None;
    // Found once, by the first selector that checks keys (Redis's `keys_init` cache).
    let mut keys = None;
    for selector in &user.selectors {
        match check_selector(selector, cmd, argv, &mut keys) {
            Ok(()) => return Ok(()),
            Err(d) => {
                if worst.is_none_or(|w| d.rank() > w.rank()) {
                    worst = Some(d);
                }
            }
        }
    }
    Err(worst.unwrap_or(Denied::Command))
}

fn check_selector(
    sel: &Selector,
    cmd: &Command,
    argv: Argv<'_>,
    keys: &mut Option<KeysToCheck>,
) -> Result<(), Denied> {
    let flags = cmd.spec.flags();
    if !sel.all_commands && !flags.contains(Flags::NO_AUTH) && !sel.allows_id(cmd.id) {
        let at = if cmd.parent.is_some() { 2 } else { 1 };
        let first_arg_ok = argv.get(at).is_some_and(|arg| {
            sel.first_args
                .iter()
                .find(|(id, _)| *id == cmd.id)
                .is_some_and(|(_, args)| args.iter().any(|a| a.eq_ignore_ascii_case(arg)))
        });
        if !first_arg_ok {
            return Err(Denied::Command);
        }
    }
    if !sel.all_keys {
        for &(pos, need) in keys.get_or_insert_with(|| keys_to_check(cmd, argv)).iter() {
            if !key_allowed(sel, argv.arg(pos), need) {
                return Err(Denied::Key(pos));
            }
        }
    }
    if !sel.all_channels {
        if let Some((first, pattern)) = channel_args(&cmd.full_name) {
            for pos in first..argv.len() {
                if !channel_allowed(sel, argv.arg(pos), pattern) {
                    return Err(Denied::Channel(pos));
                }
                if first == 1 && cmd.full_name.ends_with("publish") {
                    break;
                }
            }
        }
    }
    Ok(())
}

/// Argument index and access needed, per key.
type KeysToCheck = SmallVec<[(usize, u8); 4]>;

/// The keys a selector's patterns must allow, and the access each needs. For Redis's
/// commands, the keys and flags Redis's `getKeysFromCommandWithSpecs` finds: read for
/// `access`, write for `insert`, `delete` or `update` (shard channels, `not_key`, are no
/// keys). usher-only commands need read access to their keys, and write access too unless
/// they are read-only.
fn keys_to_check(cmd: &Command, argv: Argv<'_>) -> KeysToCheck {
    if let Some(specs) = keyspecs::redis_specs(&cmd.full_name) {
        let keys =
            keyspecs::keys_and_flags(specs, &cmd.full_name, cmd.spec, argv).unwrap_or_default();
        return keys
            .into_iter()
            .map(|(pos, flags)| (pos, access_of(flags)))
            .collect();
    }
    let need = if cmd.spec.flags().contains(Flags::READONLY) {
        READ
    } else {
        READ_WRITE
    };
    let positions = cmd.spec.key_positions(argv).unwrap_or_default();
    positions.iter().map(|&pos| (pos, need)).collect()
}

fn access_of(flags: u16) -> u8 {
    let mut access = 0;
    if flags & keyspecs::ACCESS != 0 {
        access |= READ;
    }
    if flags & (keyspecs::INSERT | keyspecs::DELETE | keyspecs::UPDATE) != 0 {
        access |= WRITE;
    }
    access
}

fn key_allowed(sel: &Selector, key: &[u8], need: u8) -> bool {
    sel.keys
        .iter()
        .any(|p| p.access & need == need && glob_match(&p.pattern, key, false))
}

/// Where a command's channels are: (first argument, whether they are patterns). PUBLISH and
/// SPUBLISH name one channel; the subscribe commands name all their arguments. Unsubscribing
/// is always allowed, as in Redis.
fn channel_args(full_name: &str) -> Option<(usize, bool)> {
    match full_name {
        "publish" | "spublish" | "subscribe" | "ssubscribe" => Some((1, false)),
        "psubscribe" => Some((1, true)),
        _ => None,
    }
}

/// A channel matches the user's channel patterns; a PSUBSCRIBE pattern must equal one of them
/// literally (a user allowed `news.*` may not subscribe to `*`).
fn channel_allowed(sel: &Selector, channel: &[u8], is_pattern: bool) -> bool {
    sel.channels.iter().any(|p| {
        if is_pattern {
            p == channel
        } else {
            glob_match(p, channel, false)
        }
    })
}

/// May `user` stay subscribed to `channel` (a pattern when `is_pattern`)? Redis's
/// `ACLUserCheckChannelPerm`, used when a user's rules change under its subscribers.
pub fn channel_permitted(user: &User, channel: &[u8], is_pattern: bool) -> bool {
    user.selectors
        .iter()
        .any(|s| s.all_channels || channel_allowed(s, channel, is_pattern))
}
