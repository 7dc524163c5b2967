//! Split lines: one event's waiting line spread over K sub-queues on different shards, read
//! and written as if it were one sorted set (see `docs/split-queues.md`).
//!
//! A split line keeps its waiters in K sorted sets named after the queue with a suffix in the
//! hash tag (`queue:{concert42}` → `queue:{concert42#3}`), the suffixes chosen so the sets land
//! on K different shards. Everything else of the event (active set, policy, heartbeats, held
//! users, tokens, the arrival watermark) stays with the queue's own key and slot. A user's
//! sub-queue is fixed by a hash of the user, so re-entering finds the same place. Arrival
//! scores come from the one watermark of the queue, so they are unique across the split and
//! the line's order is the order of `(score, member)` over all sub-queues: a position is the
//! sum over sub-queues of those ahead, and the head is the least of the sub-queues' heads.
//!
//! The split is recorded in the hash `<queue>:split` (`queue`, `k`, `1`..`k` = the sub-queue
//! names), so snapshots and the append-only file carry it; the shard's [`QueueRegistry`]
//! caches it, so asking whether a line is split costs one compare while no line of the shard
//! is. [`Line`] is the view the queue family reads and writes a line through.
//!
//! [`QueueRegistry`]: super::registry::QueueRegistry

use super::arrivals::ArrivalIndex;
use super::registry::SubQueues;
use crate::bytes::SmallBytes;
use crate::cmd::zset::get_zset as zset;
use crate::ctx::ExecCtx;
use crate::error::CmdError;
use crate::shard::Shard;
use crate::store::{LockedShards, Store};
use crate::types::zset::{ScoreBound, ZSet};
use smallvec::SmallVec;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use usher_cluster::companion_key;
use usher_cluster::naming::hash_tag;

/// How many suffixes are tried to find K sub-queue names on K different shards (and free).
pub const SUFFIX_SEARCH: u32 = 65_536;

/// In cluster mode, whether this node serves a slot: a sub-queue must live on the node that
/// serves its queue (the fan-out over nodes is not built), so QSPLIT only picks names in slots
/// this node owns. Unset outside cluster mode: every slot is local.
static LOCAL_SLOT: std::sync::OnceLock<Box<dyn Fn(u16) -> bool + Send + Sync>> =
    std::sync::OnceLock::new();

/// Installs the cluster's "is this slot mine" check (once, at start-up).
pub fn set_local_slot_check(check: Box<dyn Fn(u16) -> bool + Send + Sync>) {
    let _ = LOCAL_SLOT.set(check);
}

fn slot_is_local(name: &[u8]) -> bool {
    LOCAL_SLOT
        .get()
        .is_none_or(|mine| mine(usher_cluster::key_hash_slot(name)))
}

/// The hash that records a split: `queue`, `k`, and fields `1`..`k` naming the sub-queues.
pub fn split_key(queue: &[u8]) -> Vec<u8> {
    companion_key(queue, b"split")
}

/// The `n`th candidate sub-queue name: the queue's hash tag with `#n` appended, or, for a
/// queue without one, the whole name as the tag (`q` → `{q#n}`).
pub fn sub_queue_name(queue: &[u8], n: u32) -> Vec<u8> {
    let suffix = format!("#{n}");
    let mut out = Vec::with_capacity(queue.len() + suffix.len() + 2);
    match hash_tag(queue) {
        Some(tag) => {
            let end = tag.as_ptr() as usize - queue.as_ptr() as usize + tag.len();
            out.extend_from_slice(&queue[..end]);
            out.extend_from_slice(suffix.as_bytes());
            out.extend_from_slice(&queue[end..]);
        }
        None if !queue.contains(&b'}') => {
            out.push(b'{');
            out.extend_from_slice(queue);
            out.extend_from_slice(suffix.as_bytes());
            out.push(b'}');
        }
        // A `}` would end the tag early: tag the suffix alone.
        None => {
            out.push(b'{');
            out.extend_from_slice(suffix.as_bytes());
            out.push(b'}');
            out.extend_from_slice(queue);
        }
    }
    out
}

/// The sub-queue (0-based) of `user` in a line split `k` ways: a hash of the user alone, so
/// the same user always lands in the same sub-queue.
#[inline]
pub fn home_of(user: &[u8], k: usize) -> usize {
    usher_cluster::crc16(user) as usize % k
}

/// K sub-queue names on K different shards of `store`, none of them a key that exists in `db`
/// (unless it is in `reuse`, the current split's); `None` if the search space has none.
pub fn choose_sub_queues(
    locked: &mut LockedShards,
    db: usize,
    queue: &[u8],
    k: usize,
    reuse: &[SmallBytes],
    now_ms: i64,
) -> Option<Vec<Vec<u8>>> {
    let store: &Store = locked.store();
    let mut used = vec![false; store.shard_count()];
    let mut names = Vec::with_capacity(k);
    for n in 0..SUFFIX_SEARCH {
        if names.len() == k {
            break;
        }
        let name = sub_queue_name(queue, n);
        let shard = store.shard_of(&name);
        if used[shard] || !slot_is_local(&name) {
            continue;
        }
        let free = reuse.iter().any(|r| r[..] == name[..])
            || !locked.db(db, &name).contains(&name, now_ms);
        if free {
            used[shard] = true;
            names.push(name);
        }
    }
    (names.len() == k).then_some(names)
}

/// The user argument of the commands that read a split line only through its arrival index
/// and the user's own sub-queue while the index is sound and the line not empty (ENTER and
/// QPOS, nearly every request of a sale): the dispatcher locks that one sub-queue for them.
pub fn user_of<'a>(command: &str, argv: usher_protocol::Argv<'a>) -> Option<&'a [u8]> {
    let narrow = ["ENTER", "QPOS"]
        .iter()
        .any(|c| c.eq_ignore_ascii_case(command));
    narrow.then(|| argv.get(3)).flatten()
}

/// The shards holding the sub-queues of any split line among `queues` that `locked` does not
/// hold yet: only `user`'s sub-queue where the line allows it (see [`user_of`]). One compare
/// per key while no line of their shard is split.
pub fn missing_shards(
    locked: &mut LockedShards,
    db: usize,
    queues: impl Iterator<Item = impl AsRef<[u8]>>,
    user: Option<&[u8]>,
) -> SmallVec<[u16; 8]> {
    let mut out = SmallVec::new();
    for queue in queues {
        let queue = queue.as_ref();
        let Some(shard) = locked.try_shard(queue) else {
            continue;
        };
        if !shard.queues.has_splits() {
            continue;
        }
        let Some((subs, sound)) = shard.queues.get(db, queue).and_then(|q| {
            let sound = q.arrivals.as_ref().is_some_and(|(index, edited)| {
                !index.is_empty() && !edited.load(Ordering::Relaxed)
            });
            Some((q.split.clone()?, sound))
        }) else {
            continue;
        };
        let narrow = user.filter(|_| sound);
        let store = locked.store();
        let slots = match narrow {
            Some(user) => std::slice::from_ref(&subs.slots()[home_of(user, subs.len())]),
            None => subs.slots(),
        };
        for &slot in slots {
            let idx = store.shard_of_slot(slot) as u16;
            if !locked.holds_shard(idx) && !out.contains(&idx) {
                out.push(idx);
            }
        }
    }
    out
}

/// Makes `locked` hold the sub-queue shards of every split line among `queues` (the
/// dispatcher's part: a command on a split event locks its sub-queues too, ascending; only
/// `user`'s where [`missing_shards`] allows). Loops when it had to release everything, since
/// a split (or its index) may have changed meanwhile.
pub fn lock_sub_queues<Q: AsRef<[u8]>>(
    locked: &mut LockedShards,
    db: usize,
    queues: &[Q],
    user: Option<&[u8]>,
) {
    locked.widen_until(|locked| missing_shards(locked, db, queues.iter(), user));
}

/// Registers the split recorded in the hash at `key` of `db` (a loader brought it back), if it
/// names its queue and that queue's split key. Returns true if adopted.
pub fn adopt_split_hash(shard: &mut Shard, db: usize, key: &[u8], now_ms: i64) -> bool {
    let Ok(Some(h)) = crate::cmd::hash::get_hash(shard.db(db), key, now_ms) else {
        return false;
    };
    let Some(queue) = h.get(b"queue").map(<[u8]>::to_vec) else {
        return false;
    };
    let k = h
        .get(b"k")
        .and_then(usher_protocol::parse::parse_i64)
        .unwrap_or(0);
    if split_key(&queue) != key || k < 2 {
        return false;
    }
    let subs: Option<Vec<SmallBytes>> = (1..=k)
        .map(|i| h.get(i.to_string().as_bytes()).map(SmallBytes::new))
        .collect();
    let Some(subs) = subs else {
        return false;
    };
    shard
        .queues
        .set_split(db, &queue, Some(SubQueues::new(subs)));
    true
}

/// A lower shard of a split line was busy when a command that had not locked it needed it.
static SUB_QUEUE_BUSY: &str = "ERR a sub-queue of this split line is busy on another shard: retry the command outside MULTI or the script";

/// True for the error of a command that found a sub-queue's shard busy: before it changed
/// anything, so the dispatcher may run it again with every sub-queue locked (ENTER and QPOS,
/// locked narrowly, need them all for a user whose arrival score ties another's).
pub fn is_sub_queue_busy(e: &CmdError) -> bool {
    matches!(e, CmdError::Static(text) if *text == SUB_QUEUE_BUSY)
}

/// Holds the shard of `slot` (see [`Line::hold_all`]).
fn hold(ctx: &mut ExecCtx, slot: u16) -> Result<(), CmdError> {
    let idx = ctx.shards.store().shard_of_slot(slot) as u16;
    match ctx.shards.extend(idx) {
        true => Ok(()),
        false => Err(CmdError::Static(SUB_QUEUE_BUSY)),
    }
}

/// How many members of `z` come before `(score, member)` in sorted-set order (ties, as
/// pre-queue slots or scores written by hand, by member).
#[inline]
fn below(z: &ZSet, score: f64, member: &[u8]) -> usize {
    z.count_before(score, member)
}

/// A waiting line as the queue family sees it: the queue's own sorted set, or its sub-queues.
pub enum Line {
    Plain,
    Split(Arc<SubQueues>),
}

impl Line {
    /// The line of `queue`. Takes no lock: each method holds the sub-queue shards it reads
    /// (the user's own, or all of them; see [`Line::hold_all`]), which the dispatcher has
    /// usually locked already (`lock_sub_queues`).
    #[inline]
    pub fn of(ctx: &mut ExecCtx, queue: &[u8]) -> Result<Line, CmdError> {
        let db = ctx.db;
        Ok(match ctx.shards.shard(queue).queues.split_of(db, queue) {
            Some(subs) => Line::Split(subs.clone()),
            None => Line::Plain,
        })
    }

    /// Makes sure every sub-queue's shard is held. The dispatcher locked them for most
    /// commands; a transaction, a script or a policy tick takes them now, a lower shard only
    /// if free (else the command fails before it changes anything).
    pub fn hold_all(&self, ctx: &mut ExecCtx) -> Result<(), CmdError> {
        match self {
            Line::Plain => Ok(()),
            Line::Split(subs) => subs.slots().iter().try_for_each(|&slot| hold(ctx, slot)),
        }
    }

    /// Makes sure the shard of `user`'s sub-queue is held.
    fn hold_home(&self, ctx: &mut ExecCtx, user: &[u8]) -> Result<(), CmdError> {
        match self {
            Line::Plain => Ok(()),
            Line::Split(subs) => hold(ctx, subs.slots()[home_of(user, subs.len())]),
        }
    }

    pub fn is_split(&self) -> bool {
        matches!(self, Line::Split(_))
    }

    /// Every key holding the line's waiters.
    pub fn keys<'a>(&'a self, queue: &'a [u8]) -> SmallVec<[&'a [u8]; 8]> {
        match self {
            Line::Plain => SmallVec::from_slice(&[queue]),
            Line::Split(subs) => subs.names().iter().map(|s| &s[..]).collect(),
        }
    }

    /// The key holding `user` (or where they would join).
    #[inline]
    pub fn home<'a>(&'a self, queue: &'a [u8], user: &[u8]) -> &'a [u8] {
        match self {
            Line::Plain => queue,
            Line::Split(subs) => &subs.names()[home_of(user, subs.len())],
        }
    }

    /// WRONGTYPE unless every key of the line is absent or a sorted set.
    pub fn check(&self, ctx: &mut ExecCtx, queue: &[u8]) -> Result<(), CmdError> {
        self.hold_all(ctx)?;
        let now = ctx.now_ms;
        for key in self.keys(queue) {
            zset(ctx.db(key), key, now)?;
        }
        Ok(())
    }

    /// Applies `f` to each key's sorted set (skipping absent keys).
    fn each(
        &self,
        ctx: &mut ExecCtx,
        queue: &[u8],
        mut f: impl FnMut(usize, &[u8], &mut ZSet),
    ) -> Result<(), CmdError> {
        self.hold_all(ctx)?;
        let now = ctx.now_ms;
        for (i, key) in self.keys(queue).into_iter().enumerate() {
            if let Some(z) = zset(ctx.db(key), key, now)? {
                f(i, key, z);
            }
        }
        Ok(())
    }

    /// Users waiting.
    pub fn len(&self, ctx: &mut ExecCtx, queue: &[u8]) -> Result<usize, CmdError> {
        if let Line::Split(_) = self {
            return self.read_index(ctx, queue, ArrivalIndex::len);
        }
        let mut n = 0;
        self.each(ctx, queue, |_, _, z| n += z.len())?;
        Ok(n)
    }

    /// `read` of the split line's arrival index, built first from the sub-queues (all their
    /// shards held) if there is none yet or a command outside the family wrote a sub-queue
    /// since. Errors as the sub-queues' types do.
    fn read_index<R>(
        &self,
        ctx: &mut ExecCtx,
        queue: &[u8],
        read: impl Fn(&ArrivalIndex) -> R,
    ) -> Result<R, CmdError> {
        let found = ctx
            .queue_state(queue)
            .and_then(|q| q.arrivals.as_ref())
            .map(|(index, edited)| (edited.load(Ordering::Relaxed), read(index)));
        match found {
            // Sound: one registry look-up on the hot path.
            Some((false, answer)) => return Ok(answer),
            None => self.rebuild_index(ctx, queue)?,
            // Written by hand since it was built. A command locked narrowly (the dispatcher
            // saw the index sound) finds the flag raised by a write that ran alongside it, on
            // a shard it does not hold: answering from the index as it was is answering
            // before that write. Rebuilt as soon as every sub-queue can be held.
            Some((true, answer)) => {
                if self.hold_all(ctx).is_err() {
                    return Ok(answer);
                }
                self.rebuild_index(ctx, queue)?;
            }
        }
        let (index, _) = ctx
            .queue_state(queue)
            .and_then(|q| q.arrivals.as_ref())
            .expect("the index was just built");
        Ok(read(index))
    }

    /// Builds the index from every sub-queue, and watches them for writes by hand.
    fn rebuild_index(&self, ctx: &mut ExecCtx, queue: &[u8]) -> Result<(), CmdError> {
        let Line::Split(subs) = self else {
            return Ok(());
        };
        let mut scores = Vec::new();
        self.each(ctx, queue, |_, _, z| {
            scores.extend(z.iter_from_rank(0, false).map(|(_, s)| s))
        })?;
        let db = ctx.db;
        let edited = Arc::new(AtomicBool::new(false));
        let home = ctx.shards.store().shard_of(queue) as u16;
        for sub in subs.names() {
            let shard = ctx.shards.shard(sub);
            shard.queues.watch_sub_queue(db, sub, edited.clone(), home);
        }
        ctx.shards.shard(queue).queues.entry(db, queue).arrivals =
            Some((ArrivalIndex::from_scores(scores), edited));
        Ok(())
    }

    /// The built index, if any (the bookkeeping after a write: a missing index is built
    /// later from the sub-queues, which already hold the write).
    fn built_index<'c>(&self, ctx: &'c mut ExecCtx, queue: &[u8]) -> Option<&'c mut ArrivalIndex> {
        if !self.is_split() {
            return None;
        }
        ctx.queue_state(queue)
            .and_then(|q| q.arrivals.as_mut())
            .map(|(index, _)| index)
    }

    /// Marks the index doubtful (rebuilt at its next use that holds every sub-queue).
    fn forget_index(&self, ctx: &mut ExecCtx, queue: &[u8]) {
        if let Some((_, edited)) = ctx.queue_state(queue).and_then(|q| q.arrivals.as_ref()) {
            edited.store(true, Ordering::Relaxed);
        }
    }

    /// After the command wrote `user` into their sub-queue at `score` (`old`: their score
    /// before, if they were there), keeps the index in step.
    pub fn added(&self, ctx: &mut ExecCtx, queue: &[u8], old: Option<f64>, score: f64) {
        if let Some(index) = self.built_index(ctx, queue) {
            if old.is_some_and(|o| !index.remove(o)) {
                return self.forget_index(ctx, queue);
            }
            index.insert(score);
        }
    }

    /// After the command removed a waiter with `score` from their sub-queue.
    pub fn removed(&self, ctx: &mut ExecCtx, queue: &[u8], score: f64) {
        if let Some(index) = self.built_index(ctx, queue) {
            if !index.remove(score) {
                self.forget_index(ctx, queue);
            }
        }
    }

    /// After the command emptied the line's keys.
    pub fn cleared(&self, ctx: &mut ExecCtx, queue: &[u8]) {
        self.forget_index(ctx, queue);
    }

    /// The arrival score of `user`, if waiting.
    pub fn score(
        &self,
        ctx: &mut ExecCtx,
        queue: &[u8],
        user: &[u8],
    ) -> Result<Option<f64>, CmdError> {
        self.hold_home(ctx, user)?;
        let (key, now) = (self.home(queue, user), ctx.now_ms);
        Ok(zset(ctx.db(key), key, now)?.and_then(|z| z.score(user)))
    }

    /// `user`'s 0-based place in the whole line: those ahead of them in every sub-queue.
    pub fn rank(
        &self,
        ctx: &mut ExecCtx,
        queue: &[u8],
        user: &[u8],
    ) -> Result<Option<usize>, CmdError> {
        if let Line::Plain = self {
            let now = ctx.now_ms;
            return Ok(zset(ctx.db(queue), queue, now)?.and_then(|z| z.rank(user)));
        }
        let Some(score) = self.score(ctx, queue, user)? else {
            return Ok(None);
        };
        // The user holds `score`: with nobody else on it, those ahead are those below it.
        if let Some(rank) = self.read_index(ctx, queue, |x| x.rank_if_unique(score))? {
            return Ok(Some(rank));
        }
        // Ties (pre-queue slots, scores written by hand) go by member, in every sub-queue.
        let mut n = 0;
        self.each(ctx, queue, |_, _, z| n += below(z, score, user))?;
        Ok(Some(n))
    }

    /// How many waiters have a score below `score`.
    pub fn count_below(
        &self,
        ctx: &mut ExecCtx,
        queue: &[u8],
        score: f64,
    ) -> Result<usize, CmdError> {
        if let Line::Split(_) = self {
            return self.read_index(ctx, queue, |x| x.count_below(score));
        }
        let mut n = 0;
        self.each(ctx, queue, |_, _, z| n += z.count_below_score(score))?;
        Ok(n)
    }

    /// The highest score in line.
    pub fn last_score(&self, ctx: &mut ExecCtx, queue: &[u8]) -> Result<Option<f64>, CmdError> {
        if let Line::Split(_) = self {
            return self.read_index(ctx, queue, ArrivalIndex::max);
        }
        let mut last: Option<f64> = None;
        self.each(ctx, queue, |_, _, z| {
            if let Some((_, s)) = z.len().checked_sub(1).and_then(|r| z.get_by_rank(r)) {
                last = Some(last.map_or(s, |l| l.max(s)));
            }
        })?;
        Ok(last)
    }

    /// The head of the line: (key index, member, score), least `(score, member)` of all heads.
    fn head(
        &self,
        ctx: &mut ExecCtx,
        queue: &[u8],
    ) -> Result<Option<(usize, SmallBytes, f64)>, CmdError> {
        let mut best: Option<(usize, SmallBytes, f64)> = None;
        let mut waiting = 0;
        self.each(ctx, queue, |i, _, z| {
            waiting += z.len();
            if let Some((m, s)) = z.get_by_rank(0) {
                let better = best
                    .as_ref()
                    .is_none_or(|(_, bm, bs)| (s, m) < (*bs, &bm[..]));
                if better {
                    best = Some((i, SmallBytes::new(m), s));
                }
            }
        })?;
        // Having read every sub-queue, check the index against them: a write by hand that
        // escaped the flag (an expiry set by hand, SWAPDB) is caught at the next admission.
        if self
            .built_index(ctx, queue)
            .is_some_and(|x| x.len() != waiting)
        {
            self.forget_index(ctx, queue);
        }
        Ok(best)
    }

    /// The score at the head of the line.
    pub fn head_score(&self, ctx: &mut ExecCtx, queue: &[u8]) -> Result<Option<f64>, CmdError> {
        Ok(self.head(ctx, queue)?.map(|(_, _, s)| s))
    }

    /// Removes the head of the line (the K-way merge of the sub-queues' heads); returns the
    /// user and the key they left.
    pub fn pop_min(&self, ctx: &mut ExecCtx, queue: &[u8]) -> Option<(SmallBytes, usize, f64)> {
        let (i, user, score) = self.head(ctx, queue).ok().flatten()?;
        let key = self.keys(queue)[i];
        let now = ctx.now_ms;
        zset(ctx.db(key), key, now).ok().flatten()?.remove(&user);
        self.removed(ctx, queue, score);
        Some((user, i, score))
    }

    /// Removes the waiter at 0-based place `rank` of the whole line.
    pub fn remove_at_rank(
        &self,
        ctx: &mut ExecCtx,
        queue: &[u8],
        rank: usize,
    ) -> Option<(SmallBytes, usize, f64)> {
        self.hold_all(ctx).ok()?;
        let keys = self.keys(queue);
        let now = ctx.now_ms;
        if keys.len() == 1 {
            let z = zset(ctx.db(keys[0]), keys[0], now).ok().flatten()?;
            return z.remove_at_rank(rank).map(|(m, s)| (m, 0, s));
        }
        if let Some(drawn) = self.take_at_rank(ctx, queue, rank) {
            return Some(drawn);
        }
        // The index did not match the sub-queues (written by hand mid-command): in sub-queue
        // i, the global place of its jth member grows with j, so a binary search per
        // sub-queue finds the member whose place is `rank`, in exactly one of them.
        for (i, key) in keys.iter().enumerate() {
            let len = zset(ctx.db(key), key, now)
                .ok()
                .flatten()
                .map_or(0, |z| z.len());
            let (mut lo, mut hi) = (0, len);
            while lo < hi {
                let mid = (lo + hi) / 2;
                let (m, s) = {
                    let z = zset(ctx.db(key), key, now).ok().flatten()?;
                    let (m, s) = z.get_by_rank(mid)?;
                    (SmallBytes::new(m), s)
                };
                let mut place = mid;
                for (l, other) in keys.iter().enumerate() {
                    if l != i {
                        if let Ok(Some(z)) = zset(ctx.db(other), other, now) {
                            place += below(z, s, &m);
                        }
                    }
                }
                match place.cmp(&rank) {
                    std::cmp::Ordering::Equal => {
                        let z = zset(ctx.db(key), key, now).ok().flatten()?;
                        z.remove(&m);
                        self.removed(ctx, queue, s);
                        return Some((m, i, s));
                    }
                    std::cmp::Ordering::Less => lo = mid + 1,
                    std::cmp::Ordering::Greater => hi = mid,
                }
            }
        }
        None
    }

    /// [`Line::remove_at_rank`] through the index: the score at that place, then the
    /// waiters holding it (usually one) by member across the sub-queues. K look-ups where the
    /// binary searches took K² log² N (4 ms per ADMIT of 100 at K = 8, 100,000 waiting).
    fn take_at_rank(
        &self,
        ctx: &mut ExecCtx,
        queue: &[u8],
        rank: usize,
    ) -> Option<(SmallBytes, usize, f64)> {
        let (score, below, unique) = self
            .read_index(ctx, queue, |x| {
                x.select(rank).map(|s| match x.rank_if_unique(s) {
                    Some(below) => (s, below, true),
                    None => (s, x.count_below(s), false),
                })
            })
            .ok()??;
        let now = ctx.now_ms;
        let keys = self.keys(queue);
        let mut tied: Vec<(SmallBytes, usize)> = Vec::new();
        for (i, &key) in keys.iter().enumerate() {
            if let Ok(Some(z)) = zset(ctx.db(key), key, now) {
                let from = z.count_below_score(score);
                tied.extend(
                    z.iter_from_rank(from, false)
                        .take_while(|&(_, s)| s == score)
                        .map(|(m, _)| (SmallBytes::new(m), i)),
                );
            }
            if unique && !tied.is_empty() {
                break; // the one waiter on that score: the other sub-queues cannot hold it
            }
        }
        tied.sort_unstable_by(|a, b| a.0[..].cmp(&b.0[..]));
        let (user, i) = tied.get(rank.checked_sub(below)?)?.clone();
        let key = keys[i];
        zset(ctx.db(key), key, now).ok().flatten()?.remove(&user)?;
        self.removed(ctx, queue, score);
        Some((user, i, score))
    }

    /// Up to `n` waiters after score `after`, in line order, each with its score and 0-based
    /// place in the whole line.
    pub fn after(
        &self,
        ctx: &mut ExecCtx,
        queue: &[u8],
        after: f64,
        n: usize,
    ) -> Result<Vec<(SmallBytes, f64, usize)>, CmdError> {
        let mut start = 0;
        let mut all: Vec<(f64, SmallBytes)> = Vec::new();
        self.each(ctx, queue, |_, _, z| {
            let from = z.count_in_score_range(
                &ScoreBound::Inclusive(f64::NEG_INFINITY),
                &ScoreBound::Inclusive(after),
            );
            start += from;
            all.extend(
                z.iter_from_rank(from, false)
                    .take(n)
                    .map(|(m, s)| (s, SmallBytes::new(m))),
            );
        })?;
        all.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1[..].cmp(&b.1[..])));
        Ok(all
            .into_iter()
            .take(n)
            .enumerate()
            .map(|(i, (s, m))| (m, s, start + i))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_queue_names_extend_the_tag() {
        assert_eq!(
            sub_queue_name(b"queue:{concert42}", 3),
            b"queue:{concert42#3}".to_vec()
        );
        assert_eq!(sub_queue_name(b"q", 0), b"{q#0}".to_vec());
        assert_eq!(sub_queue_name(b"a}b", 1), b"{#1}a}b".to_vec());
    }

    #[test]
    fn distinct_suffixes_reach_distinct_shards() {
        let store = Store::new(8, 1);
        let mut locked = store.lock_all();
        let names = choose_sub_queues(&mut locked, 0, b"queue:{concert42}", 8, &[], 0).unwrap();
        let mut shards: Vec<usize> = names.iter().map(|n| store.shard_of(n)).collect();
        shards.sort();
        shards.dedup();
        assert_eq!(shards.len(), 8);
    }

    #[test]
    fn a_user_always_has_the_same_home() {
        for k in 2..9 {
            assert_eq!(home_of(b"user:17", k), home_of(b"user:17", k));
            assert!(home_of(b"user:17", k) < k);
        }
    }
}
