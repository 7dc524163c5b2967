//! The waiting-line family: ENTER, ADMIT and the Q* commands (position, leave, heartbeats,
//! sweeps, active-session renewal and revocation, summaries).
//!
//! Each command does atomically, on ordinary sorted sets (see [`crate::queue`]), what a
//! ticketing backend otherwise does with several round trips or a Lua script. Where a seed
//! script exists the command is equivalent to it for valid input (same reply, same resulting
//! keys), and validates every argument before touching anything, so bad input changes nothing.

use crate::args::{self, is};
use crate::bytes::SmallBytes;
use crate::command::{cmd, CommandSpec, EngineHandler, Flags, Group};
use crate::ctx::ExecCtx;
use crate::db::Db;
use crate::error::{CmdError, CmdResult};
use crate::queue::score::next_arrival;
use crate::types::zset::{ScoreBound, ZSet, ZSetLimits};
use crate::value::Value;
use usher_protocol::{errors, Argv, ReplySink};

type Spec = CommandSpec<EngineHandler>;

/// ADMIT's default session length: 5 minutes, as in the seeds.
pub const DEFAULT_ACTIVE_TTL_MS: i64 = 300_000;

/// The sorted set under `key`, if any; WRONGTYPE for other types.
pub(crate) fn zset<'d>(
    db: &'d mut Db,
    key: &[u8],
    now: i64,
) -> Result<Option<&'d mut ZSet>, CmdError> {
    match db.get(key, now) {
        None => Ok(None),
        Some(Value::ZSet(z)) => Ok(Some(z)),
        Some(_) => Err(CmdError::WrongType),
    }
}

/// Fails with WRONGTYPE unless `key` is absent or a sorted set (checked before any change).
fn check_zset(ctx: &mut ExecCtx, key: &[u8]) -> CmdResult {
    let now = ctx.now_ms;
    zset(ctx.db(key), key, now).map(|_| ())
}

/// Inserts into the sorted set at `key`, creating it if needed.
fn zadd(ctx: &mut ExecCtx, key: &[u8], member: &[u8], score: f64) {
    let limits = zset_limits(ctx);
    let now = ctx.now_ms;
    let (value, _) = ctx
        .db(key)
        .get_or_insert_with(key, now, || Value::ZSet(Box::default()));
    if let Value::ZSet(z) = value {
        z.insert(member, score, &limits);
    }
}

/// Deletes `key` if it holds an empty sorted set (empty collections disappear).
fn drop_if_empty(ctx: &mut ExecCtx, key: &[u8]) {
    let now = ctx.now_ms;
    if matches!(zset(ctx.db(key), key, now), Ok(Some(z)) if z.is_empty()) {
        ctx.db(key).delete(key, now);
    }
}

pub(crate) fn zset_limits(ctx: &ExecCtx) -> ZSetLimits {
    ZSetLimits {
        max_listpack_entries: ctx.config.zset_max_listpack_entries,
        max_listpack_value: ctx.config.zset_max_listpack_value,
    }
}

/// Trailing options shared by the family: `MAXACTIVE n`, `TTL ms`, `NOW ms`, as allowed.
#[derive(Default)]
struct Options {
    max_active: Option<i64>,
    ttl_ms: Option<i64>,
    now_ms: Option<i64>,
    limit: Option<i64>,
}

#[derive(Clone, Copy)]
struct Allowed {
    max_active: bool,
    ttl: bool,
    limit: bool,
}

const ONLY_NOW: Allowed = Allowed {
    max_active: false,
    ttl: false,
    limit: false,
};

fn parse_options(
    argv: Argv,
    start: usize,
    allowed: Allowed,
    command: &str,
) -> Result<Options, CmdError> {
    let mut o = Options::default();
    let mut i = start;
    while i < argv.len() {
        let opt = argv.arg(i);
        let value = argv.get(i + 1).ok_or(CmdError::Syntax)?;
        if is(opt, "NOW") {
            o.now_ms = Some(args::int(value)?);
        } else if is(opt, "MAXACTIVE") && allowed.max_active {
            o.max_active = Some(args::positive_int(value)?);
        } else if is(opt, "TTL") && allowed.ttl {
            let ttl = args::int(value)?;
            if ttl <= 0 {
                return Err(CmdError::Owned(errors::fill(
                    errors::INVALID_EXPIRE,
                    command,
                )));
            }
            o.ttl_ms = Some(ttl);
        } else if is(opt, "LIMIT") && allowed.limit {
            o.limit = Some(args::int(value)?);
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    Ok(o)
}

fn user_count(n: usize) -> i64 {
    n as i64
}

/// ```text
/// ADMIT queue active count [MAXACTIVE n] [TTL ms] [NOW ms]
/// ```
/// Drops expired sessions from `active` (score ≤ now), then moves up to `count` of the earliest
/// arrivals from `queue` into `active` with expiry `now + TTL`, never beyond MAXACTIVE live
/// sessions. Reply: `[admitted, [user, ...]]`. Equivalent to `admission_zpopmin.lua`
/// (`EVAL ... 2 queue active count now ttl maxActive`). Defaults: no cap, TTL 300000, NOW from
/// the server clock. Complexity: O((E + K) log N) for E expired sessions and K admissions.
fn admit(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (queue, active) = (argv.arg(1), argv.arg(2));
    let count = args::positive_int(argv.arg(3))? as usize;
    let opts = parse_options(
        argv,
        4,
        Allowed {
            max_active: true,
            ttl: true,
            limit: false,
        },
        "admit",
    )?;
    let now = opts.now_ms.unwrap_or(ctx.now_ms);
    let ttl = opts.ttl_ms.unwrap_or(DEFAULT_ACTIVE_TTL_MS);
    check_zset(ctx, queue)?;
    check_zset(ctx, active)?;
    let admitted = admit_users(ctx, queue, active, count, opts.max_active, now, ttl);
    out.array(2);
    out.int(user_count(admitted.len()));
    out.array(admitted.len());
    for user in &admitted {
        out.bulk(user);
    }
    Ok(())
}

/// ADMIT's effect, after validation; returns the admitted users in arrival order.
pub(crate) fn admit_users(
    ctx: &mut ExecCtx,
    queue: &[u8],
    active: &[u8],
    count: usize,
    max_active: Option<i64>,
    now: i64,
    ttl: i64,
) -> Vec<SmallBytes> {
    let clock = ctx.now_ms;
    let expired = match zset(ctx.db(active), active, clock) {
        Ok(Some(z)) => {
            let upto = z.last_rank_in_score_range(
                &ScoreBound::Inclusive(f64::NEG_INFINITY),
                &ScoreBound::Inclusive(now as f64),
            );
            upto.map_or(0, |last| z.remove_rank_range(0, last))
        }
        _ => 0,
    };
    if expired > 0 {
        drop_if_empty(ctx, active);
        ctx.modified(active);
    }
    let live = zset(ctx.db(active), active, clock)
        .ok()
        .flatten()
        .map_or(0, |z| z.len() as i64);
    let room = max_active.map_or(i64::MAX, |cap| cap - live);
    if room <= 0 {
        return Vec::new();
    }
    let take = (count as i64).min(room) as usize;
    let mut admitted = Vec::with_capacity(take.min(4096));
    if let Ok(Some(z)) = zset(ctx.db(queue), queue, clock) {
        while admitted.len() < take {
            match z.pop_min() {
                Some((user, _)) => admitted.push(user),
                None => break,
            }
        }
    }
    if admitted.is_empty() {
        return admitted;
    }
    drop_if_empty(ctx, queue);
    ctx.modified(queue);
    let expiry = (now + ttl) as f64;
    for user in &admitted {
        zadd(ctx, active, user, expiry);
    }
    ctx.modified(active);
    ctx.ready(active);
    let db = ctx.db;
    ctx.shards
        .shard(queue)
        .queues
        .record_admissions(db, queue, now, admitted.len() as u64);
    admitted
}

/// A line's size and a user's place in it.
struct Place {
    /// 1-based position, or 0 when the user is active or absent.
    position: i64,
    waiting: i64,
}

/// ```text
/// ENTER queue active user [NOW ms]
/// ```
/// Joins `user` to the line, idempotently. Reply: `[status, position, waiting]` where status is
/// `ACTIVE` (the user's session in `active` has not expired; position 0), `WAITING` (already in
/// line: keeps its place) or `NEW` (joined at the back). Positions are 1-based. Arrival scores
/// are the arrival time in ms plus a sub-millisecond slot, so order is strict FIFO even within a
/// millisecond and every score is exact. A session that expired is dropped and the user joins
/// anew. Complexity: O(log N).
fn enter(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (queue, active, user) = (argv.arg(1), argv.arg(2), argv.arg(3));
    let opts = parse_options(argv, 4, ONLY_NOW, "enter")?;
    let now = opts.now_ms.unwrap_or(ctx.now_ms);
    check_zset(ctx, queue)?;
    check_zset(ctx, active)?;
    let clock = ctx.now_ms;
    let session = zset(ctx.db(active), active, clock)?.and_then(|z| z.score(user));
    match session {
        Some(expiry) if expiry > now as f64 => {
            let waiting = zset(ctx.db(queue), queue, clock)?.map_or(0, |z| z.len() as i64);
            return reply_status(
                out,
                "ACTIVE",
                Place {
                    position: 0,
                    waiting,
                },
            );
        }
        Some(_) => {
            if let Some(z) = zset(ctx.db(active), active, clock)? {
                z.remove(user);
            }
            drop_if_empty(ctx, active);
            ctx.modified(active);
        }
        None => {}
    }
    if let Some(z) = zset(ctx.db(queue), queue, clock)? {
        if let Some(rank) = z.rank(user) {
            let place = Place {
                position: rank as i64 + 1,
                waiting: z.len() as i64,
            };
            return reply_status(out, "WAITING", place);
        }
    }
    let last = zset(ctx.db(queue), queue, clock)?
        .and_then(|z| z.get_by_rank(z.len().wrapping_sub(1)).map(|(_, s)| s));
    let score = next_arrival(now, last);
    zadd(ctx, queue, user, score);
    ctx.modified(queue);
    ctx.ready(queue);
    let z = zset(ctx.db(queue), queue, clock)?.expect("just inserted");
    let place = Place {
        position: z.rank(user).expect("just inserted") as i64 + 1,
        waiting: z.len() as i64,
    };
    reply_status(out, "NEW", place)
}

fn reply_status(out: &mut dyn ReplySink, status: &str, place: Place) -> CmdResult {
    out.array(3);
    out.bulk(status.as_bytes());
    out.int(place.position);
    out.int(place.waiting);
    Ok(())
}

/// ```text
/// QPOS queue active user [NOW ms]
/// ```
/// A user's place without joining: `[status, position, waiting, eta_ms]`, status `ACTIVE`,
/// `WAITING` or `NONE`. `eta_ms` estimates the wait from the admission rate measured over the
/// last minute (-1 while nothing has been admitted; 0 when active). Complexity: O(log N).
fn qpos(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (queue, active, user) = (argv.arg(1), argv.arg(2), argv.arg(3));
    let opts = parse_options(argv, 4, ONLY_NOW, "qpos")?;
    let now = opts.now_ms.unwrap_or(ctx.now_ms);
    check_zset(ctx, queue)?;
    check_zset(ctx, active)?;
    let clock = ctx.now_ms;
    let is_active = zset(ctx.db(active), active, clock)?
        .and_then(|z| z.score(user))
        .is_some_and(|e| e > now as f64);
    let (rank, waiting) = match zset(ctx.db(queue), queue, clock)? {
        Some(z) => (z.rank(user), z.len() as i64),
        None => (None, 0),
    };
    let db = ctx.db;
    let eta_of = |ctx: &mut ExecCtx, position: i64| {
        ctx.shards
            .shard(queue)
            .queues
            .stats(db, queue)
            .and_then(|s| s.eta_ms(position as u64, now))
            .unwrap_or(-1)
    };
    let (status, position, eta) = if is_active {
        ("ACTIVE", 0, 0)
    } else if let Some(rank) = rank {
        let position = rank as i64 + 1;
        ("WAITING", position, eta_of(ctx, position))
    } else {
        ("NONE", 0, -1)
    };
    out.array(4);
    out.bulk(status.as_bytes());
    out.int(position);
    out.int(waiting);
    out.int(eta);
    Ok(())
}

/// ```text
/// QLEAVE queue user
/// ```
/// Leaves the line (and drops the user's heartbeat). Reply: 1 if the user was in line, else 0.
/// Complexity: O(log N).
fn qleave(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (queue, user) = (argv.arg(1), argv.arg(2));
    let hb = usher_cluster::companion_key(queue, b"hb");
    check_zset(ctx, queue)?;
    let now = ctx.now_ms;
    let removed = zset(ctx.db(queue), queue, now)?.is_some_and(|z| z.remove(user).is_some());
    if removed {
        drop_if_empty(ctx, queue);
        ctx.modified(queue);
        if ctx.shards.holds(&hb) {
            if let Ok(Some(z)) = zset(ctx.db(&hb), &hb, now) {
                if z.remove(user).is_some() {
                    drop_if_empty(ctx, &hb);
                    ctx.modified(&hb);
                }
            }
        }
    }
    out.int(removed as i64);
    Ok(())
}

/// ```text
/// QHEARTBEAT queue user [NOW ms]
/// ```
/// Records that a waiting user is still there: sets its score in the heartbeat set
/// `<queue>:hb` (a companion key in the queue's slot) to now. Reply: 1 if the user is in line,
/// else 0 (nothing recorded). Complexity: O(log N).
fn qheartbeat(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (queue, user) = (argv.arg(1), argv.arg(2));
    let opts = parse_options(argv, 3, ONLY_NOW, "qheartbeat")?;
    let hb = heartbeat_key(ctx, queue)?;
    check_zset(ctx, queue)?;
    check_zset(ctx, &hb)?;
    let clock = ctx.now_ms;
    let now = opts.now_ms.unwrap_or(clock);
    let in_line = zset(ctx.db(queue), queue, clock)?.is_some_and(|z| z.score(user).is_some());
    if in_line {
        zadd(ctx, &hb, user, now as f64);
        ctx.modified(&hb);
    }
    out.int(in_line as i64);
    Ok(())
}

/// The queue's heartbeat set, which must live on the queue's shard.
fn heartbeat_key(ctx: &ExecCtx, queue: &[u8]) -> Result<Vec<u8>, CmdError> {
    let hb = usher_cluster::companion_key(queue, b"hb");
    if !ctx.shards.holds(&hb) {
        return Err(CmdError::Static(
            "ERR the queue key cannot host a heartbeat set: give it a hash tag, e.g. queue:{event}",
        ));
    }
    Ok(hb)
}

/// ```text
/// QSWEEP heartbeats queue max-score [LIMIT count]
/// ```
/// Drops, in one bounded batch, users whose last heartbeat is at or before `max-score`: at most
/// `count` (default 1000) of the stalest are removed from both sets. Reply: the removed users.
/// Equivalent to `cleanup_stale.lua` (`EVAL ... 2 heartbeats queue max-score count`). Call it
/// repeatedly (or let a queue policy do it) until it returns fewer than `count`.
/// Complexity: O((K + 1) log N) for K removed.
fn qsweep(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (hb, queue) = (argv.arg(1), argv.arg(2));
    let max = crate::num::parse_score_bound(argv.arg(3))
        .ok_or(CmdError::Static(errors::MIN_MAX_NOT_FLOAT))?;
    let opts = parse_options(
        argv,
        4,
        Allowed {
            max_active: false,
            ttl: false,
            limit: true,
        },
        "qsweep",
    )?;
    let limit = opts.limit.unwrap_or(1000);
    check_zset(ctx, hb)?;
    check_zset(ctx, queue)?;
    let max = if max.exclusive {
        ScoreBound::Exclusive(max.value)
    } else {
        ScoreBound::Inclusive(max.value)
    };
    let removed = sweep(ctx, hb, queue, &max, limit);
    out.array(removed.len());
    for user in &removed {
        out.bulk(user);
    }
    Ok(())
}

/// Removes up to `limit` (negative: all) heartbeat entries at or below `max` from `hb` and
/// their users from `queue`; returns them, stalest first.
pub(crate) fn sweep(
    ctx: &mut ExecCtx,
    hb: &[u8],
    queue: &[u8],
    max: &ScoreBound,
    limit: i64,
) -> Vec<SmallBytes> {
    let now = ctx.now_ms;
    let mut stale = Vec::new();
    if let Ok(Some(z)) = zset(ctx.db(hb), hb, now) {
        let last = z.last_rank_in_score_range(&ScoreBound::Inclusive(f64::NEG_INFINITY), max);
        let n = last.map_or(0, |l| l + 1);
        let n = if limit < 0 { n } else { n.min(limit as usize) };
        stale.extend(
            z.iter_from_rank(0, false)
                .take(n)
                .map(|(m, _)| SmallBytes::new(m)),
        );
        for user in &stale {
            z.remove(user);
        }
    }
    if stale.is_empty() {
        return stale;
    }
    drop_if_empty(ctx, hb);
    ctx.modified(hb);
    let mut changed = false;
    if let Ok(Some(z)) = zset(ctx.db(queue), queue, now) {
        for user in &stale {
            changed |= z.remove(user).is_some();
        }
    }
    if changed {
        drop_if_empty(ctx, queue);
        ctx.modified(queue);
    }
    stale
}

/// ```text
/// QRENEW active user ttl-ms [NOW ms]
/// ```
/// Extends a live active session to `now + ttl-ms` (call it on each request of an active
/// buyer). Reply: 1 if renewed, 0 if the user has no live session. Complexity: O(log N).
fn qrenew(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (active, user) = (argv.arg(1), argv.arg(2));
    let ttl = args::int(argv.arg(3))?;
    if ttl <= 0 {
        return Err(CmdError::Owned(errors::fill(
            errors::INVALID_EXPIRE,
            "qrenew",
        )));
    }
    let opts = parse_options(argv, 4, ONLY_NOW, "qrenew")?;
    let clock = ctx.now_ms;
    let now = opts.now_ms.unwrap_or(clock);
    let live = zset(ctx.db(active), active, clock)?
        .and_then(|z| z.score(user))
        .is_some_and(|e| e > now as f64);
    if live {
        zadd(ctx, active, user, (now + ttl) as f64);
        ctx.modified(active);
    }
    out.int(live as i64);
    Ok(())
}

/// ```text
/// QREVOKE active user
/// ```
/// Ends an active session now. Reply: 1 if the user had a session entry, else 0.
/// Complexity: O(log N).
fn qrevoke(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (active, user) = (argv.arg(1), argv.arg(2));
    let now = ctx.now_ms;
    let removed = zset(ctx.db(active), active, now)?.is_some_and(|z| z.remove(user).is_some());
    if removed {
        drop_if_empty(ctx, active);
        ctx.modified(active);
    }
    out.int(removed as i64);
    Ok(())
}

/// ```text
/// QSTATS queue active [NOW ms]
/// ```
/// A summary map: `waiting`, `active` (live sessions), `admitted` (since the server started),
/// `admit_rate` (users per minute, measured over the last minute), `oldest_wait_ms` (how long the
/// head of the line has waited; -1 when empty) and `eta_last_ms` (estimated wait of the last in
/// line; -1 when unknown). Complexity: O(log N).
fn qstats(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (queue, active) = (argv.arg(1), argv.arg(2));
    let opts = parse_options(argv, 3, ONLY_NOW, "qstats")?;
    check_zset(ctx, queue)?;
    check_zset(ctx, active)?;
    let clock = ctx.now_ms;
    let now = opts.now_ms.unwrap_or(clock);
    let (waiting, head) = match zset(ctx.db(queue), queue, clock)? {
        Some(z) => (z.len() as i64, z.get_by_rank(0).map(|(_, s)| s)),
        None => (0, None),
    };
    let live = zset(ctx.db(active), active, clock)?.map_or(0, |z| {
        z.count_in_score_range(
            &ScoreBound::Exclusive(now as f64),
            &ScoreBound::Inclusive(f64::INFINITY),
        ) as i64
    });
    let db = ctx.db;
    let stats = ctx
        .shards
        .shard(queue)
        .queues
        .stats(db, queue)
        .cloned()
        .unwrap_or_default();
    let rate_per_min = stats.rate_per_sec(now).map_or(0.0, |r| r * 60.0);
    let eta_last = if waiting == 0 {
        0
    } else {
        stats.eta_ms(waiting as u64, now).unwrap_or(-1)
    };
    out.map(6);
    out.bulk(b"waiting");
    out.int(waiting);
    out.bulk(b"active");
    out.int(live);
    out.bulk(b"admitted");
    out.int(stats.admitted_total as i64);
    out.bulk(b"admit_rate");
    out.double(rate_per_min);
    out.bulk(b"oldest_wait_ms");
    out.int(head.map_or(-1, |s| (now as f64 - s).max(0.0) as i64));
    out.bulk(b"eta_last_ms");
    out.int(eta_last);
    Ok(())
}

const W: Flags = Flags::WRITE;
const WF: Flags = Flags::WRITE.union(Flags::FAST);
const WFD: Flags = Flags::WRITE.union(Flags::FAST).union(Flags::DENYOOM);
const CLOCK: Flags = Flags::NONDETERMINISTIC;

pub static COMMANDS: &[Spec] = &[
    cmd("ENTER", -4, WFD.union(CLOCK), enter as EngineHandler)
        .keys(1, 2, 1)
        .doc(Group::Queue, "0.1.0", "Joins a user to a waiting line idempotently and returns its status, 1-based position and the line's length.", "O(log(N)) with N the number of users in line."),
    cmd("ADMIT", -4, W.union(Flags::DENYOOM).union(CLOCK), admit as EngineHandler)
        .keys(1, 2, 1)
        .doc(Group::Queue, "0.1.0", "Admits the earliest arrivals of a waiting line into the active set, dropping expired sessions and respecting a cap.", "O((E+K)*log(N)) with E expired sessions removed and K users admitted."),
    cmd("QPOS", -4, Flags::READONLY.union(Flags::FAST).union(CLOCK), qpos as EngineHandler)
        .keys(1, 2, 1)
        .doc(Group::Queue, "0.1.0", "Returns a user's status, position, the line's length and an estimated wait from the measured admission rate.", "O(log(N))"),
    cmd("QLEAVE", 3, WF, qleave as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Queue, "0.1.0", "Removes a user from a waiting line and its heartbeat set.", "O(log(N))"),
    cmd("QHEARTBEAT", -3, WFD.union(CLOCK), qheartbeat as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Queue, "0.1.0", "Records that a waiting user is still present.", "O(log(N))"),
    cmd("QSWEEP", -4, W, qsweep as EngineHandler)
        .keys(1, 2, 1)
        .doc(Group::Queue, "0.1.0", "Removes, in one bounded batch, waiting users whose heartbeat lapsed.", "O((K+1)*log(N)) with K users removed."),
    cmd("QRENEW", -4, WFD.union(CLOCK), qrenew as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Queue, "0.1.0", "Extends a live active session.", "O(log(N))"),
    cmd("QREVOKE", 3, WF, qrevoke as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Queue, "0.1.0", "Ends an active session now.", "O(log(N))"),
    cmd("QSTATS", -3, Flags::READONLY.union(Flags::FAST).union(CLOCK), qstats as EngineHandler)
        .keys(1, 2, 1)
        .doc(Group::Queue, "0.1.0", "Summarizes a waiting line: waiting, active, admitted, admission rate, oldest wait and estimated wait of the last.", "O(log(N))"),
];
