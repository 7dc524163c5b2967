//! The pub/sub family: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH, PUBSUB, and
//! Redis 7.0's sharded pub/sub (SSUBSCRIBE, SUNSUBSCRIBE, SPUBLISH, PUBSUB SHARDCHANNELS /
//! SHARDNUMSUB): shard channels are a namespace of their own and, in cluster mode, are routed
//! by slot like keys (the gate answers MOVED and CROSSSLOT), so an event's announcements
//! travel only through the node that owns the event.
//!
//! Subscriptions are recorded twice: in the session (what this connection listens to, the
//! authority for counts and cleanup) and in the shared registry (who to deliver to). Confirmations
//! are push messages (`>` in RESP3, arrays in RESP2) exactly as Redis sends them.

use crate::client::flag;
use crate::pubsub::{encode_with_count, PubSub};
use crate::registry::{ServerHandler, ServerSpec};
use crate::session::Session;
use std::collections::HashSet;
use std::sync::atomic::Ordering;
use usher_engine::cmd::keys::write_help;
use usher_engine::command::{cmd, container, Flags, Group};
use usher_engine::error::CmdResult;
use usher_engine::store::LockedShards;
use usher_protocol::{Argv, ReplySink, RespWriter};

fn sync_counts(s: &Session) {
    s.info
        .subscriptions
        .store(s.channels.len(), Ordering::Relaxed);
    s.info
        .pattern_subscriptions
        .store(s.patterns.len(), Ordering::Relaxed);
    s.info
        .shard_subscriptions
        .store(s.shard_channels.len(), Ordering::Relaxed);
    s.info.set_flag(
        flag::PUBSUB,
        s.subscription_count() + s.shard_channels.len() > 0,
    );
}

/// Applies the shard channels the server dropped for this client (its node lost their slot):
/// leaves them in the session and sends one `sunsubscribe` each, as Redis's
/// `removeChannelsInSlot` does; a client left with no subscription leaves pub/sub mode.
pub fn apply_lost_shard_channels(s: &mut Session, out: &mut Vec<u8>) {
    for channel in s.info.take_lost_shard_channels() {
        if s.shard_channels.remove(&channel) {
            let count = s.shard_channels.len();
            out.extend_from_slice(&encode_with_count(
                s.resp,
                b"sunsubscribe",
                Some(&channel),
                count,
            ));
        }
    }
    sync_counts(s);
}

/// Which subscriptions a command is about: channels, patterns, or shard channels.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Space {
    Channels,
    Patterns,
    Shard,
}

impl Space {
    /// The session's subscriptions in this space.
    fn held(self, s: &mut Session) -> &mut HashSet<Vec<u8>> {
        match self {
            Space::Channels => &mut s.channels,
            Space::Patterns => &mut s.patterns,
            Space::Shard => &mut s.shard_channels,
        }
    }

    /// The count confirmations carry: channels and patterns together, shard channels apart
    /// (Redis 7.0).
    fn count(self, s: &Session) -> usize {
        match self {
            Space::Shard => s.shard_channels.len(),
            _ => s.subscription_count(),
        }
    }

    /// Adds or removes `client` in the shared registry.
    fn register(self, registry: &PubSub, name: &[u8], s: &Session, add: bool) {
        match (self, add) {
            (Space::Channels, true) => registry.subscribe(name, &s.info),
            (Space::Patterns, true) => registry.psubscribe(name, &s.info),
            (Space::Shard, true) => registry.ssubscribe(name, &s.info),
            (Space::Channels, false) => registry.unsubscribe(name, s.info.id),
            (Space::Patterns, false) => registry.punsubscribe(name, s.info.id),
            (Space::Shard, false) => registry.sunsubscribe(name, s.info.id),
        };
    }
}

/// Shared by SUBSCRIBE, PSUBSCRIBE and SSUBSCRIBE: one confirmation per name.
fn subscribe_generic(s: &mut Session, argv: Argv, out: &mut RespWriter, space: Space) {
    let kind: &[u8] = match space {
        Space::Channels => b"subscribe",
        Space::Patterns => b"psubscribe",
        Space::Shard => b"ssubscribe",
    };
    for name in argv.iter().skip(1) {
        if space.held(s).insert(name.to_vec()) {
            space.register(&s.shared.pubsub, name, s, true);
        }
        out.raw(&encode_with_count(s.resp, kind, Some(name), space.count(s)));
    }
    s.pushed_reply = true;
    sync_counts(s);
}

/// Shared by UNSUBSCRIBE, PUNSUBSCRIBE and SUNSUBSCRIBE: the named ones, or all when none are
/// named.
fn unsubscribe_generic(s: &mut Session, argv: Argv, out: &mut RespWriter, space: Space) {
    let kind: &[u8] = match space {
        Space::Channels => b"unsubscribe",
        Space::Patterns => b"punsubscribe",
        Space::Shard => b"sunsubscribe",
    };
    let named: Vec<Vec<u8>> = argv.iter().skip(1).map(<[u8]>::to_vec).collect();
    let targets: Vec<Vec<u8>> = if named.is_empty() {
        space.held(s).iter().cloned().collect()
    } else {
        named
    };
    if targets.is_empty() {
        out.raw(&encode_with_count(s.resp, kind, None, space.count(s)));
    }
    for t in targets {
        if space.held(s).remove(&t) {
            space.register(&s.shared.pubsub, &t, s, false);
        }
        out.raw(&encode_with_count(s.resp, kind, Some(&t), space.count(s)));
    }
    s.pushed_reply = true;
    sync_counts(s);
}

/// ```text
/// SUBSCRIBE channel [channel ...]
/// ```
fn subscribe(s: &mut Session, _: &mut LockedShards, argv: Argv, out: &mut RespWriter) -> CmdResult {
    subscribe_generic(s, argv, out, Space::Channels);
    Ok(())
}

/// ```text
/// PSUBSCRIBE pattern [pattern ...]
/// ```
fn psubscribe(
    s: &mut Session,
    _: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    subscribe_generic(s, argv, out, Space::Patterns);
    Ok(())
}

/// ```text
/// SSUBSCRIBE shardchannel [shardchannel ...]
/// ```
fn ssubscribe(
    s: &mut Session,
    _: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    subscribe_generic(s, argv, out, Space::Shard);
    Ok(())
}

/// ```text
/// UNSUBSCRIBE [channel [channel ...]]
/// ```
fn unsubscribe(
    s: &mut Session,
    _: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    unsubscribe_generic(s, argv, out, Space::Channels);
    Ok(())
}

/// ```text
/// PUNSUBSCRIBE [pattern [pattern ...]]
/// ```
fn punsubscribe(
    s: &mut Session,
    _: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    unsubscribe_generic(s, argv, out, Space::Patterns);
    Ok(())
}

/// ```text
/// SUNSUBSCRIBE [shardchannel [shardchannel ...]]
/// ```
fn sunsubscribe(
    s: &mut Session,
    _: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    unsubscribe_generic(s, argv, out, Space::Shard);
    Ok(())
}

/// ```text
/// PUBLISH channel message   /   SPUBLISH shardchannel message
/// ```
/// Complexity: O(N+M), N subscribers of the channel and M subscribed patterns (none for shard
/// channels).
fn publish_generic(s: &mut Session, argv: Argv, out: &mut RespWriter, shard: bool) {
    let (pubsub, limit) = (&s.shared.pubsub, &s.hot.output_pubsub);
    let n = if shard {
        pubsub.spublish(argv.arg(1), argv.arg(2), limit)
    } else {
        pubsub.publish(argv.arg(1), argv.arg(2), limit)
    };
    out.int(n as i64);
}

fn publish(s: &mut Session, _: &mut LockedShards, argv: Argv, out: &mut RespWriter) -> CmdResult {
    publish_generic(s, argv, out, false);
    Ok(())
}

fn spublish(s: &mut Session, _: &mut LockedShards, argv: Argv, out: &mut RespWriter) -> CmdResult {
    publish_generic(s, argv, out, true);
    Ok(())
}

/// PUBSUB CHANNELS / SHARDCHANNELS [pattern]. The rows' arity is -2, as Redis's; like Redis
/// the handler refuses more than a pattern.
fn channels_generic(s: &mut Session, argv: Argv, out: &mut RespWriter, shard: bool) -> CmdResult {
    if argv.len() > 3 {
        return Err(usher_engine::error::CmdError::Owned(
            usher_protocol::errors::subcommand_syntax(argv.arg(1), "pubsub"),
        ));
    }
    let channels = if shard {
        s.shared.pubsub.shard_channels(argv.get(2))
    } else {
        s.shared.pubsub.channels(argv.get(2))
    };
    out.array(channels.len());
    for ch in channels {
        out.bulk(&ch);
    }
    Ok(())
}

fn pubsub_channels(
    s: &mut Session,
    _: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    channels_generic(s, argv, out, false)
}

fn pubsub_shardchannels(
    s: &mut Session,
    _: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    channels_generic(s, argv, out, true)
}

/// PUBSUB NUMSUB / SHARDNUMSUB [channel ...]: a flat array in RESP3 too (Redis 7.0 answers
/// with addReplyArrayLen, not a map).
fn numsub_generic(s: &mut Session, argv: Argv, out: &mut RespWriter, shard: bool) {
    out.array((argv.len() - 2) * 2);
    for ch in argv.iter().skip(2) {
        out.bulk(ch);
        let n = if shard {
            s.shared.pubsub.shard_numsub(ch)
        } else {
            s.shared.pubsub.numsub(ch)
        };
        out.int(n as i64);
    }
}

fn pubsub_numsub(
    s: &mut Session,
    _: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    numsub_generic(s, argv, out, false);
    Ok(())
}

fn pubsub_shardnumsub(
    s: &mut Session,
    _: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    numsub_generic(s, argv, out, true);
    Ok(())
}

fn pubsub_numpat(
    s: &mut Session,
    _locked: &mut LockedShards,
    _argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    out.int(s.shared.pubsub.numpat() as i64);
    Ok(())
}

const PUBSUB_HELP: &[&str] = &[
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
    "HELP",
    "    Prints this help.",
];

fn pubsub_help(
    _s: &mut Session,
    _locked: &mut LockedShards,
    _argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    write_help(out, PUBSUB_HELP);
    Ok(())
}

const SUB: Flags = Flags::PUBSUB
    .union(Flags::NOSCRIPT)
    .union(Flags::LOADING)
    .union(Flags::STALE);
const INTROSPECT: Flags = Flags::PUBSUB.union(Flags::LOADING).union(Flags::STALE);

const PUBSUB_SUBCOMMANDS: &[ServerSpec] = &[
    cmd("CHANNELS", -2, INTROSPECT, pubsub_channels as ServerHandler).doc(Group::Pubsub, "2.8.0", "Returns the active channels.", "O(N) where N is the number of active channels, and assuming constant time pattern matching (relatively short channels and patterns)"),
    cmd("NUMSUB", -2, INTROSPECT, pubsub_numsub as ServerHandler).doc(Group::Pubsub, "2.8.0", "Returns a count of subscribers to channels.", "O(N) for the NUMSUB subcommand, where N is the number of requested channels"),
    cmd("NUMPAT", 2, INTROSPECT, pubsub_numpat as ServerHandler).doc(Group::Pubsub, "2.8.0", "Returns a count of unique pattern subscriptions.", "O(1)"),
    cmd("HELP", 2, Flags::LOADING.union(Flags::STALE), pubsub_help as ServerHandler).doc(Group::Pubsub, "6.2.0", "Returns helpful text about the different subcommands.", "O(1)"),
    cmd("SHARDCHANNELS", -2, INTROSPECT, pubsub_shardchannels as ServerHandler).doc(Group::Pubsub, "7.0.0", "Returns the active shard channels.", "O(N) where N is the number of active shard channels, and assuming constant time pattern matching (relatively short shard channels)."),
    cmd("SHARDNUMSUB", -2, INTROSPECT, pubsub_shardnumsub as ServerHandler).doc(Group::Pubsub, "7.0.0", "Returns the count of subscribers of shard channels.", "O(N) for the SHARDNUMSUB subcommand, where N is the number of requested shard channels"),
];

pub static COMMANDS: &[ServerSpec] = &[
    cmd("SUBSCRIBE", -2, SUB, subscribe as ServerHandler).doc(Group::Pubsub, "2.0.0", "Listens for messages published to channels.", "O(N) where N is the number of channels to subscribe to."),
    cmd("UNSUBSCRIBE", -1, SUB, unsubscribe as ServerHandler).doc(Group::Pubsub, "2.0.0", "Stops listening to messages posted to channels.", "O(N) where N is the number of channels to unsubscribe."),
    cmd("PSUBSCRIBE", -2, SUB, psubscribe as ServerHandler).doc(Group::Pubsub, "2.0.0", "Listens for messages published to channels that match one or more patterns.", "O(N) where N is the number of patterns to subscribe to."),
    cmd("PUNSUBSCRIBE", -1, SUB, punsubscribe as ServerHandler).doc(Group::Pubsub, "2.0.0", "Stops listening to messages published to channels that match one or more patterns.", "O(N) where N is the number of patterns to unsubscribe."),
    cmd("PUBLISH", 3, INTROSPECT.union(Flags::FAST), publish as ServerHandler).doc(Group::Pubsub, "2.0.0", "Posts a message to a channel.", "O(N+M) where N is the number of clients subscribed to the receiving channel and M is the total number of subscribed patterns (by any client)."),
    cmd("SSUBSCRIBE", -2, SUB, ssubscribe as ServerHandler).keys(1, -1, 1).doc(Group::Pubsub, "7.0.0", "Listens for messages published to shard channels.", "O(N) where N is the number of shard channels to subscribe to."),
    cmd("SUNSUBSCRIBE", -1, SUB, sunsubscribe as ServerHandler).keys(1, -1, 1).doc(Group::Pubsub, "7.0.0", "Stops listening to messages posted to shard channels.", "O(N) where N is the number of shard channels to unsubscribe."),
    cmd("SPUBLISH", 3, INTROSPECT.union(Flags::FAST), spublish as ServerHandler).keys(1, 1, 1).doc(Group::Pubsub, "7.0.0", "Post a message to a shard channel", "O(N) where N is the number of clients subscribed to the receiving shard channel."),
    container("PUBSUB", PUBSUB_SUBCOMMANDS).doc(Group::Pubsub, "2.8.0", "A container for Pub/Sub commands.", "Depends on subcommand."),
];
