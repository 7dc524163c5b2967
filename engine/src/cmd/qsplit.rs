//! QSPLIT: splitting one event's waiting line over sub-queues on several shards, showing the
//! split, and merging it back. The model (naming, the user → sub-queue hash, the line view the
//! rest of the family reads through) is in [`crate::queue::split`].
//!
//! Splitting and merging move every waiter with their arrival score, under every shard's lock
//! (the command is `ALL_SHARDS`), so nobody is lost or reordered and no other command sees a
//! half-moved line.

use crate::args;
use crate::bytes::SmallBytes;
use crate::cmd::hash::get_hash;
use crate::cmd::queue::zadd;
use crate::cmd::zset::get_zset as zset;
use crate::command::{cmd, CommandSpec, EngineHandler, Flags, Group};
use crate::ctx::ExecCtx;
use crate::error::{CmdError, CmdResult};
use crate::keyspace_events as ev;
use crate::queue::registry::SubQueues;
use crate::queue::split::{choose_sub_queues, split_key, Line};
use crate::types::hash::{Hash, ListpackLimits};
use crate::value::Value;
use std::sync::Arc;
use usher_protocol::{Argv, ReplySink};

type Spec = CommandSpec<EngineHandler>;

/// The most sub-queues one line splits into (and never more than the node's shards).
pub const MAX_SPLIT: usize = 64;

/// ```text
/// QSPLIT queue [k]
/// ```
/// With `k` ≥ 2: splits the line at `queue` over `k` sub-queues on `k` different shards (a
/// split line is re-split); with `k` = 1: merges it back into `queue`. Every waiter keeps their
/// arrival score, so positions and order do not change. Reply: OK. Without `k`: the split as a
/// map, `k` (1 when unsplit), `queues` (the keys holding the waiters) and `waiting` (how many
/// each holds). Complexity: O(N log N) to split or merge a line of N waiters, O(k) to show.
fn qsplit(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let queue = argv.arg(1);
    if argv.len() > 3 {
        return Err(CmdError::Syntax);
    }
    let max = MAX_SPLIT.min(ctx.shards.store().shard_count());
    let want = match argv.get(2) {
        None => None,
        Some(k) => match args::int(k)? {
            k if (1..=max as i64).contains(&k) => Some(k as usize),
            _ => {
                return Err(CmdError::Owned(format!(
                    "ERR the split count must be between 1 and {max} (at most one sub-queue per shard of this node, and {MAX_SPLIT})"
                )))
            }
        },
    };
    let line = Line::of(ctx, queue)?;
    line.check(ctx, queue)?;
    let key = split_key(queue);
    let now = ctx.now_ms;
    get_hash(ctx.db(&key), &key, now)?;
    let Some(k) = want else {
        return show(ctx, queue, &line, out);
    };
    let current = match &line {
        Line::Plain => 1,
        Line::Split(subs) => subs.len(),
    };
    if k == current {
        out.ok();
        return Ok(());
    }
    let reuse: Vec<SmallBytes> = match &line {
        Line::Plain => Vec::new(),
        Line::Split(subs) => subs.names().to_vec(),
    };
    let db = ctx.db;
    let subs = match k {
        1 => None,
        _ => Some(
            choose_sub_queues(ctx.shards, db, queue, k, &reuse, now).ok_or(CmdError::Static(
                "ERR no free sub-queue names on distinct shards were found for this queue",
            ))?,
        ),
    };
    // Everyone waiting, with their arrival; then the old keys go and the new ones fill.
    // A split line's own key is empty, unless written by hand: its members join too.
    let mut olds = line.keys(queue);
    if line.is_split() {
        olds.push(queue);
    }
    let mut waiters: Vec<(SmallBytes, f64)> = Vec::new();
    for old in olds {
        if let Some(z) = zset(ctx.db(old), old, now)? {
            waiters.extend(z.iter().map(|(m, s)| (SmallBytes::new(m), s)));
        }
        if ctx.db(old).delete(old, now) {
            ctx.modified_in_sale(old);
            ctx.notify(ev::GENERIC, "del", old);
        }
    }
    let next = match &subs {
        None => Line::Plain,
        Some(names) => Line::Split(SubQueues::new(
            names.iter().map(|n| SmallBytes::new(n)).collect(),
        )),
    };
    for (user, score) in &waiters {
        zadd(ctx, next.home(queue, user), user, *score);
    }
    for new in next.keys(queue) {
        if ctx.db(new).contains(new, now) {
            ctx.modified_in_sale(new);
            ctx.notify(ev::ZSET, "zadd", new);
        }
    }
    if ctx.db(&key).delete(&key, now) {
        ctx.modified_in_sale(&key);
        ctx.notify(ev::GENERIC, "del", &key);
    }
    if let Some(names) = &subs {
        let limits = ListpackLimits::from_config(ctx.config);
        let mut hash = Hash::new();
        hash.set(b"queue", queue, limits);
        hash.set(b"k", k.to_string().as_bytes(), limits);
        for (i, name) in names.iter().enumerate() {
            hash.set((i + 1).to_string().as_bytes(), name, limits);
        }
        ctx.db(&key).set(&key, Value::Hash(Box::new(hash)));
        ctx.modified_in_sale(&key);
        ctx.notify(ev::HASH, "hset", &key);
    }
    let split: Option<Arc<SubQueues>> = match next {
        Line::Plain => None,
        Line::Split(subs) => Some(subs),
    };
    // The old sub-queues are plain keys now (or sub-queues again, watched anew below).
    for old in &reuse {
        ctx.shards.shard(old).queues.unwatch_sub_queue(db, old);
    }
    ctx.shards.shard(queue).queues.set_split(db, queue, split);
    // Every shard is held: build the new line's arrival index now, not at its first use.
    Line::of(ctx, queue)?.len(ctx, queue)?;
    out.ok();
    Ok(())
}

fn show(ctx: &mut ExecCtx, queue: &[u8], line: &Line, out: &mut dyn ReplySink) -> CmdResult {
    let keys = line.keys(queue);
    let now = ctx.now_ms;
    let mut waiting = Vec::with_capacity(keys.len());
    for key in &keys {
        waiting.push(zset(ctx.db(key), key, now)?.map_or(0, |z| z.len() as i64));
    }
    out.map(3);
    out.bulk(b"k");
    out.int(keys.len() as i64);
    out.bulk(b"queues");
    out.array(keys.len());
    for key in &keys {
        out.bulk(key);
    }
    out.bulk(b"waiting");
    out.array(waiting.len());
    for n in waiting {
        out.int(n);
    }
    Ok(())
}

pub static COMMANDS: &[Spec] = &[
    cmd("QSPLIT", -2, Flags::WRITE.union(Flags::DENYOOM).union(Flags::ALL_SHARDS), qsplit as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Queue, "0.1.0", "Splits an event's waiting line over sub-queues on several shards, merges it back (k = 1), or shows the split.", "O(N*log(N)) to split or merge a line of N users, O(k) to show."),
];
