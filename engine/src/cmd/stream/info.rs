//! XINFO STREAM [FULL [COUNT n]], XINFO GROUPS, XINFO CONSUMERS and XINFO HELP, with Redis
//! 7.0's fields and order (`xinfoReplyWithStreamInfo`).
//!
//! `radix-tree-nodes` is the node count of the radix tree Redis would hold for the same node
//! keys, computed from the keys (see [`rax_nodes`]).

use super::group::no_group;
use super::{get_stream, reply_entry, reply_id, reply_range};
use crate::args::{self, is};
use crate::cmd::keys::write_help;
use crate::command::{cmd, CommandSpec, EngineHandler, Flags, Group as CmdGroup};
use crate::ctx::ExecCtx;
use crate::error::{CmdError, CmdResult};
use crate::types::stream::{Stream, StreamId};
use usher_protocol::{errors, Argv, ReplySink};

type Spec = CommandSpec<EngineHandler>;

/// Nodes of Redis's radix tree (`rax.c`) holding these 16-byte keys: a compressed node per
/// run of bytes shared by all keys below it, a branching node where they differ, and a leaf
/// per key; an empty tree is its head alone. Redis's tree takes exactly this shape when keys
/// are appended in order and removed from the front, which is how stream nodes come and go.
pub(crate) fn rax_nodes(keys: &[[u8; 16]]) -> usize {
    fn count(keys: &[[u8; 16]], depth: usize) -> usize {
        if depth == 16 {
            return 1;
        }
        let (first, last) = (&keys[0], &keys[keys.len() - 1]);
        let lcp = (depth..16).take_while(|&i| first[i] == last[i]).count();
        if lcp > 0 {
            return 1 + count(keys, depth + lcp);
        }
        let mut total = 1;
        let mut i = 0;
        while i < keys.len() {
            let b = keys[i][depth];
            let j = i + keys[i..].iter().take_while(|k| k[depth] == b).count();
            total += count(&keys[i..j], depth + 1);
            i = j;
        }
        total
    }
    if keys.is_empty() {
        1
    } else {
        count(keys, 0)
    }
}

fn stream_for_xinfo<'c>(ctx: &'c mut ExecCtx, key: &[u8]) -> Result<&'c mut Stream, CmdError> {
    let now = ctx.now_ms;
    get_stream(ctx.db(key), key, now)?.ok_or(CmdError::NoSuchKey)
}

/// A group's lag, or null where it cannot be known.
fn reply_lag(out: &mut dyn ReplySink, s: &Stream, g: &crate::types::stream::group::Group) {
    match s.group_lag(g) {
        Some(lag) => out.int(lag),
        None => out.null(),
    }
}

fn reply_entries_read(out: &mut dyn ReplySink, n: i64) {
    if n >= 0 {
        out.int(n);
    } else {
        out.null();
    }
}

/// ```text
/// XINFO STREAM key [FULL [COUNT count]]
/// ```
fn xinfo_stream(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let key = argv.arg(2);
    let s = stream_for_xinfo(ctx, key)?;
    let syntax = || CmdError::Owned(errors::subcommand_syntax(argv.arg(1), "XINFO"));
    let (full, count) = match argv.len() {
        3 => (false, 10),
        4 if is(argv.arg(3), "FULL") => (true, 10),
        6 if is(argv.arg(3), "FULL") && is(argv.arg(4), "COUNT") => {
            (true, args::int(argv.arg(5))?.max(0) as usize)
        }
        _ => return Err(syntax()),
    };
    let keys: Vec<[u8; 16]> = s.nodes().map(|(id, _)| id.encode()).collect();
    out.map(if full { 9 } else { 10 });
    out.bulk_str("length");
    out.int(s.len() as i64);
    out.bulk_str("radix-tree-keys");
    out.int(keys.len() as i64);
    out.bulk_str("radix-tree-nodes");
    out.int(rax_nodes(&keys) as i64);
    out.bulk_str("last-generated-id");
    reply_id(out, s.last_id);
    out.bulk_str("max-deleted-entry-id");
    reply_id(out, s.max_deleted_id);
    out.bulk_str("entries-added");
    out.int(s.entries_added as i64);
    out.bulk_str("recorded-first-entry-id");
    reply_id(out, s.first_id);
    if !full {
        out.bulk_str("groups");
        out.int(s.groups.len() as i64);
        for (name, rev) in [("first-entry", false), ("last-entry", true)] {
            out.bulk_str(name);
            let mut found = None;
            s.for_each(StreamId::MIN, StreamId::MAX, rev, |e| {
                found = Some(e);
                false
            });
            match found {
                Some(e) => reply_entry(out, &e),
                None => out.null(),
            }
        }
        return Ok(());
    }
    out.bulk_str("entries");
    reply_range(out, s, StreamId::MIN, StreamId::MAX, count, false);
    out.bulk_str("groups");
    out.array(s.groups.len());
    let limit = if count == 0 { usize::MAX } else { count };
    for (name, g) in &s.groups {
        out.map(7);
        out.bulk_str("name");
        out.bulk(name);
        out.bulk_str("last-delivered-id");
        reply_id(out, g.last_id);
        out.bulk_str("entries-read");
        reply_entries_read(out, g.entries_read);
        out.bulk_str("lag");
        reply_lag(out, s, g);
        out.bulk_str("pel-count");
        out.int(g.pel.len() as i64);
        out.bulk_str("pending");
        out.array(g.pel.len().min(limit));
        for (id, nack) in g.pel.iter().take(limit) {
            out.array(4);
            reply_id(out, *id);
            out.bulk(&nack.consumer);
            out.int(nack.delivery_time);
            out.int(nack.delivery_count as i64);
        }
        out.bulk_str("consumers");
        out.array(g.consumers.len());
        for (cname, c) in &g.consumers {
            out.map(4);
            out.bulk_str("name");
            out.bulk(cname);
            out.bulk_str("seen-time");
            out.int(c.seen_time);
            out.bulk_str("pel-count");
            out.int(c.pel.len() as i64);
            out.bulk_str("pending");
            out.array(c.pel.len().min(limit));
            for id in c.pel.iter().take(limit) {
                let nack = &g.pel[id];
                out.array(3);
                reply_id(out, *id);
                out.int(nack.delivery_time);
                out.int(nack.delivery_count as i64);
            }
        }
    }
    Ok(())
}

/// ```text
/// XINFO GROUPS key
/// ```
fn xinfo_groups(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let s = stream_for_xinfo(ctx, argv.arg(2))?;
    out.array(s.groups.len());
    for (name, g) in &s.groups {
        out.map(6);
        out.bulk_str("name");
        out.bulk(name);
        out.bulk_str("consumers");
        out.int(g.consumers.len() as i64);
        out.bulk_str("pending");
        out.int(g.pel.len() as i64);
        out.bulk_str("last-delivered-id");
        reply_id(out, g.last_id);
        out.bulk_str("entries-read");
        reply_entries_read(out, g.entries_read);
        out.bulk_str("lag");
        reply_lag(out, s, g);
    }
    Ok(())
}

/// ```text
/// XINFO CONSUMERS key group
/// ```
fn xinfo_consumers(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (key, group, now) = (argv.arg(2), argv.arg(3), ctx.now_ms);
    let s = stream_for_xinfo(ctx, key)?;
    let g = s.groups.get(group).ok_or_else(|| no_group(key, group))?;
    out.array(g.consumers.len());
    for (name, c) in &g.consumers {
        out.map(3);
        out.bulk_str("name");
        out.bulk(name);
        out.bulk_str("pending");
        out.int(c.pel.len() as i64);
        out.bulk_str("idle");
        out.int((now - c.seen_time).max(0));
    }
    Ok(())
}

const XINFO_HELP: &[&str] = &[
    "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
    "HELP",
    "    Prints this help.",
];

fn xinfo_help(_ctx: &mut ExecCtx, _argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    write_help(out, XINFO_HELP);
    Ok(())
}

const GRP: CmdGroup = CmdGroup::Stream;

pub(super) static XINFO_SUBCOMMANDS: &[Spec] = &[
    cmd(
        "CONSUMERS",
        4,
        Flags::READONLY.union(Flags::NONDETERMINISTIC),
        xinfo_consumers as EngineHandler,
    )
    .keys(2, 2, 1)
    .doc(
        GRP,
        "5.0.0",
        "List the consumers in a consumer group",
        "O(1)",
    ),
    cmd("GROUPS", 3, Flags::READONLY, xinfo_groups as EngineHandler)
        .keys(2, 2, 1)
        .doc(GRP, "5.0.0", "List the consumer groups of a stream", "O(1)"),
    cmd("STREAM", -3, Flags::READONLY, xinfo_stream as EngineHandler)
        .keys(2, 2, 1)
        .doc(GRP, "5.0.0", "Get information about a stream", "O(1)"),
    cmd(
        "HELP",
        2,
        Flags::LOADING.union(Flags::STALE),
        xinfo_help as EngineHandler,
    )
    .doc(
        GRP,
        "5.0.0",
        "Show helpful text about the different subcommands",
        "O(1)",
    ),
];

#[cfg(test)]
mod tests {
    use super::rax_nodes;
    use crate::types::stream::StreamId;

    #[test]
    fn radix_tree_node_counts_match_redis() {
        // Observed on Redis 7.0.15: empty 1, one key 2.
        assert_eq!(rax_nodes(&[]), 1);
        assert_eq!(rax_nodes(&[StreamId::new(1, 1).encode()]), 2);
        let two = [StreamId::new(1, 1).encode(), StreamId::new(1, 2).encode()];
        // A compressed run of 15 bytes, a branch, two leaves.
        assert_eq!(rax_nodes(&two), 4);
    }
}
