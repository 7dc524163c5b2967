//! The waiting-line family: ENTER, ADMIT, the Q* commands (position, leave, heartbeats,
//! sweeps, session renewal and revocation, summaries) and QPOLICY, plus the policy tick the
//! server runs for every queue that has a policy.
//!
//! Each command does atomically, on ordinary sorted sets (see [`crate::queue`]), what a
//! ticketing backend otherwise does with several round trips or a Lua script. Where a seed
//! script exists the command is equivalent to it for valid input (same reply, same resulting
//! keys), and validates every argument before touching anything, so bad input changes nothing.
//!
//! A queue with a policy (QPOLICY) gets more: a pre-queue (arrivals before the opening time
//! are shuffled), heartbeats (a silent waiter is dropped in bounded batches and never counted
//! as waiting, nor admitted), admissions run by the server at a rate under a cap, each one
//! announced on a pub/sub channel with an optional signed admission token.

use crate::args::{self, is};
use crate::bytes::SmallBytes;
use crate::cmd::hash::get_hash;
use crate::cmd::zset::{get_zset as zset, limits as zset_limits};
use crate::command::{cmd, container, CommandSpec, EngineHandler, Flags, Group, WarmHint};
use crate::ctx::ExecCtx;
use crate::error::{CmdError, CmdResult};
use crate::queue::policy::{heartbeat_key, policy_key, token_key, Policy};
use crate::queue::score::{next_arrival, prequeue_slot, PREQUEUE_SLOTS, SLOTS_PER_MS};
use crate::queue::token::{self, Claims};
use crate::types::hash::ListpackLimits;
use crate::types::zset::ScoreBound;
use crate::value::Value;
use rand::RngExt;
use usher_protocol::{errors, Argv, ReplySink};

type Spec = CommandSpec<EngineHandler>;

/// ADMIT's default session length: 5 minutes, as in the seeds.
pub const DEFAULT_ACTIVE_TTL_MS: i64 = 300_000;

/// Stale waiters a policy tick sweeps per queue at most (bounded work per lock hold).
pub const SWEEP_BATCH: i64 = 1000;

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

/// Removes `member` from the sorted set at `key`; true if it was there. Empty sets disappear.
fn zrem(ctx: &mut ExecCtx, key: &[u8], member: &[u8]) -> bool {
    let now = ctx.now_ms;
    let removed = match zset(ctx.db(key), key, now) {
        Ok(Some(z)) => z.remove(member).is_some(),
        _ => false,
    };
    if removed {
        drop_if_empty(ctx, key);
        ctx.modified(key);
    }
    removed
}

/// Deletes `key` if it holds an empty sorted set (empty collections disappear).
fn drop_if_empty(ctx: &mut ExecCtx, key: &[u8]) {
    let now = ctx.now_ms;
    if matches!(zset(ctx.db(key), key, now), Ok(Some(z)) if z.is_empty()) {
        ctx.db(key).delete(key, now);
    }
}

/// The policy of `queue`, if it has one (and its hash lives on the queue's shard, which holds
/// for every queue name but the empty one and names with a `}` but no hash tag).
pub(crate) fn policy_of(ctx: &mut ExecCtx, queue: &[u8]) -> Result<Option<Policy>, CmdError> {
    let db = ctx.db;
    if !ctx.shards.shard(queue).queues.has_policy(db, queue) {
        return Ok(None);
    }
    let key = policy_key(queue);
    if !ctx.shards.holds(&key) {
        return Ok(None);
    }
    let now = ctx.now_ms;
    Ok(get_hash(ctx.db(&key), &key, now)?.and_then(|h| Policy::from_hash(h)))
}

/// Trailing options shared by the family: `MAXACTIVE n`, `TTL ms`, `LIMIT n`, `NOW ms`.
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

/// ```text
/// ADMIT queue active count [MAXACTIVE n] [TTL ms] [NOW ms]
/// ```
/// Drops expired sessions from `active` (score ≤ now), then moves up to `count` of the earliest
/// arrivals from `queue` into `active` with expiry `now + TTL`, never beyond MAXACTIVE live
/// sessions. Reply: `[admitted, [user, ...]]`. Equivalent to `admission_zpopmin.lua`
/// (`EVAL ... 2 queue active count now ttl maxActive`). Defaults: no cap, TTL 300000, NOW from
/// the server clock. On a queue with a heartbeat policy, waiters whose heartbeat lapsed are
/// dropped instead of admitted. Complexity: O((E + K) log N) for E expired sessions and K
/// admissions.
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
    let policy = policy_of(ctx, queue)?;
    let admitted = admit_users(
        ctx,
        queue,
        active,
        Admission {
            count,
            max_active: opts.max_active,
            now,
            ttl,
        },
        policy.as_ref(),
    );
    out.array(2);
    out.int(admitted.len() as i64);
    out.array(admitted.len());
    for user in &admitted {
        out.bulk(user);
    }
    Ok(())
}

/// What one admission round may do.
#[derive(Clone, Copy)]
pub(crate) struct Admission {
    pub count: usize,
    pub max_active: Option<i64>,
    pub now: i64,
    pub ttl: i64,
}

/// ADMIT's effect, after validation; returns the admitted users in arrival order.
pub(crate) fn admit_users(
    ctx: &mut ExecCtx,
    queue: &[u8],
    active: &[u8],
    a: Admission,
    policy: Option<&Policy>,
) -> Vec<SmallBytes> {
    let clock = ctx.now_ms;
    let expired = match zset(ctx.db(active), active, clock) {
        Ok(Some(z)) => {
            let upto = z.last_rank_in_score_range(
                &ScoreBound::Inclusive(f64::NEG_INFINITY),
                &ScoreBound::Inclusive(a.now as f64),
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
    let room = a.max_active.map_or(i64::MAX, |cap| cap - live);
    if room <= 0 {
        return Vec::new();
    }
    let take = (a.count as i64).min(room) as usize;
    let admitted = pop_live(ctx, queue, take, policy, a.now);
    if admitted.is_empty() {
        return admitted;
    }
    let expiry = a.now + a.ttl;
    for user in &admitted {
        zadd(ctx, active, user, expiry as f64);
    }
    ctx.modified(active);
    ctx.ready(active);
    let db = ctx.db;
    ctx.shards
        .shard(queue)
        .queues
        .record_admissions(db, queue, a.now, admitted.len() as u64);
    if let Some(policy) = policy {
        announce(ctx, queue, &admitted, policy, a.now, expiry);
    }
    admitted
}

/// Pops up to `take` users from the head of the line. With a heartbeat policy, users whose
/// heartbeat lapsed are dropped on the way (at most 4×take + 64 of them per call, so the work
/// stays bounded) and admitted users leave the heartbeat set.
fn pop_live(
    ctx: &mut ExecCtx,
    queue: &[u8],
    take: usize,
    policy: Option<&Policy>,
    now: i64,
) -> Vec<SmallBytes> {
    let clock = ctx.now_ms;
    let heartbeat = policy
        .and_then(|p| p.heartbeat_ms)
        .map(|ms| (heartbeat_key(queue), (now - ms) as f64));
    let mut admitted = Vec::with_capacity(take.min(4096));
    let mut dropped = Vec::new();
    let max_dropped = take * 4 + 64;
    while admitted.len() < take && dropped.len() < max_dropped {
        let Ok(Some(z)) = zset(ctx.db(queue), queue, clock) else {
            break;
        };
        let Some((user, _)) = z.pop_min() else { break };
        let stale = match &heartbeat {
            Some((hb, threshold)) => {
                matches!(zset(ctx.db(hb), hb, clock), Ok(Some(h)) if h.score(&user).is_some_and(|s| s <= *threshold))
            }
            None => false,
        };
        if stale {
            dropped.push(user);
        } else {
            admitted.push(user);
        }
    }
    if admitted.is_empty() && dropped.is_empty() {
        return admitted;
    }
    drop_if_empty(ctx, queue);
    ctx.modified(queue);
    if let Some((hb, _)) = &heartbeat {
        for user in admitted.iter().chain(&dropped) {
            zrem(ctx, hb, user);
        }
    }
    admitted
}

/// Issues admission tokens and publishes the admissions, as the policy asks.
fn announce(
    ctx: &mut ExecCtx,
    queue: &[u8],
    admitted: &[SmallBytes],
    policy: &Policy,
    now: i64,
    active_until: i64,
) {
    for user in admitted {
        let jwt = policy
            .token_ttl_ms
            .map(|ttl| issue_token(ctx, queue, user, now, ttl));
        if let Some(channel) = &policy.channel {
            let message = serde_json::json!({
                "event": "admitted",
                "queue": String::from_utf8_lossy(queue),
                "user": String::from_utf8_lossy(user),
                "active_until_ms": active_until,
                "token": jwt,
            });
            ctx.effects
                .publish
                .push((channel.clone(), message.to_string().into_bytes()));
        }
    }
}

/// Signs an admission token for `user` and records it in `<queue>:token:<user>` (a hash with
/// `userId`, `issuedAt`, `expiresAt`, `jti` and `token`, expiring with the token), the key
/// TOKENCONSUME consumes once.
fn issue_token(ctx: &mut ExecCtx, queue: &[u8], user: &[u8], now: i64, ttl_ms: i64) -> String {
    let jti: String = (0..16)
        .map(|_| char::from_digit(rand::rng().random_range(0..16), 16).unwrap())
        .collect();
    let claims = Claims {
        sub: String::from_utf8_lossy(user).into_owned(),
        aud: String::from_utf8_lossy(queue).into_owned(),
        iat: now / 1000,
        exp: (now + ttl_ms + 999) / 1000,
        jti: jti.clone(),
    };
    let jwt = token::sign(&ctx.config.token_secret, &claims);
    let key = token_key(queue, user);
    if ctx.shards.holds(&key) {
        let limits = ListpackLimits::from_config(ctx.config);
        let mut hash = crate::types::hash::Hash::new();
        let (issued, expires) = (now.to_string(), (now + ttl_ms).to_string());
        for (f, v) in [
            (&b"userId"[..], user),
            (b"issuedAt", issued.as_bytes()),
            (b"expiresAt", expires.as_bytes()),
            (b"jti", jti.as_bytes()),
            (b"token", jwt.as_bytes()),
        ] {
            hash.set(f, v, limits);
        }
        let clock = ctx.now_ms;
        ctx.db(&key).set(&key, Value::Hash(Box::new(hash)));
        ctx.db(&key).set_expire(&key, now + ttl_ms, clock);
        ctx.modified(&key);
    }
    jwt
}

/// Users waiting, not counting those whose heartbeat lapsed (with a heartbeat policy).
fn live_waiting(ctx: &mut ExecCtx, queue: &[u8], policy: Option<&Policy>, now: i64) -> i64 {
    let clock = ctx.now_ms;
    let total = zset(ctx.db(queue), queue, clock)
        .ok()
        .flatten()
        .map_or(0, |z| z.len() as i64);
    let Some(hb_ms) = policy.and_then(|p| p.heartbeat_ms) else {
        return total;
    };
    let hb = heartbeat_key(queue);
    let stale = match zset(ctx.db(&hb), &hb, clock) {
        Ok(Some(h)) => h.count_in_score_range(
            &ScoreBound::Inclusive(f64::NEG_INFINITY),
            &ScoreBound::Inclusive((now - hb_ms) as f64),
        ) as i64,
        _ => 0,
    };
    (total - stale).max(0)
}

/// Records a heartbeat for a waiting user if the policy tracks them.
fn touch_heartbeat(
    ctx: &mut ExecCtx,
    queue: &[u8],
    user: &[u8],
    policy: Option<&Policy>,
    now: i64,
) {
    if policy.is_some_and(|p| p.heartbeat_ms.is_some()) {
        let hb = heartbeat_key(queue);
        zadd(ctx, &hb, user, now as f64);
        ctx.modified(&hb);
    }
}

fn reply_status(out: &mut dyn ReplySink, status: &str, position: i64, waiting: i64) -> CmdResult {
    out.array(3);
    out.bulk(status.as_bytes());
    out.int(position);
    out.int(waiting);
    Ok(())
}

/// ```text
/// ENTER queue active user [NOW ms]
/// ```
/// Joins `user` to the line, idempotently. Reply: `[status, position, waiting]` where status is
/// `ACTIVE` (the user's session in `active` has not expired; position 0), `WAITING` (already in
/// line: keeps its place) or `NEW` (joined at the back). Positions are 1-based. Arrival scores
/// are the arrival time in ms plus a sub-millisecond slot, so order is strict FIFO even within a
/// millisecond and every score is exact. A session that expired is dropped and the user joins
/// anew. Before a policy's opening time, a new user gets a random place in the block that opens
/// first (the pre-queue shuffle). Complexity: O(log N).
fn enter(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (queue, active, user) = (argv.arg(1), argv.arg(2), argv.arg(3));
    let opts = parse_options(argv, 4, ONLY_NOW, "enter")?;
    let now = opts.now_ms.unwrap_or(ctx.now_ms);
    let policy = policy_of(ctx, queue)?;
    let clock = ctx.now_ms;
    // Read both keys first (each once): both types are checked before anything changes.
    let session = zset(ctx.db(active), active, clock)?.and_then(|z| z.score(user));
    let (rank, len, last) = match zset(ctx.db(queue), queue, clock)? {
        Some(z) => (
            z.rank(user),
            z.len() as i64,
            z.len()
                .checked_sub(1)
                .and_then(|r| z.get_by_rank(r))
                .map(|(_, s)| s),
        ),
        None => (None, 0, None),
    };
    let waiting_now = |ctx: &mut ExecCtx, len: i64| {
        if policy.as_ref().is_some_and(|p| p.heartbeat_ms.is_some()) {
            live_waiting(ctx, queue, policy.as_ref(), now)
        } else {
            len
        }
    };
    match session {
        Some(expiry) if expiry > now as f64 => {
            let waiting = waiting_now(ctx, len);
            return reply_status(out, "ACTIVE", 0, waiting);
        }
        Some(_) => {
            zrem(ctx, active, user);
        }
        None => {}
    }
    if let Some(rank) = rank {
        touch_heartbeat(ctx, queue, user, policy.as_ref(), now);
        let waiting = waiting_now(ctx, len);
        return reply_status(out, "WAITING", rank as i64 + 1, waiting);
    }
    let prequeue_open = policy
        .as_ref()
        .and_then(|p| p.open_at_ms.filter(|_| p.before_open(now)));
    let score = match prequeue_open {
        Some(open_at) => prequeue_score(ctx, queue, open_at),
        None => next_arrival(now, last),
    };
    zadd(ctx, queue, user, score);
    ctx.modified(queue);
    ctx.ready(queue);
    touch_heartbeat(ctx, queue, user, policy.as_ref(), now);
    // A normal arrival scores above everyone, so its place is the back; a pre-queue slot is
    // anywhere in the shuffled block.
    let position = match prequeue_open {
        Some(_) => {
            zset(ctx.db(queue), queue, clock)?
                .and_then(|z| z.rank(user))
                .expect("just inserted") as i64
                + 1
        }
        None => len + 1,
    };
    let waiting = waiting_now(ctx, len + 1);
    reply_status(out, "NEW", position, waiting)
}

/// A free random pre-queue slot before `open_at` (redrawn on the rare collision, then probed).
fn prequeue_score(ctx: &mut ExecCtx, queue: &[u8], open_at: i64) -> f64 {
    let clock = ctx.now_ms;
    let taken = |ctx: &mut ExecCtx, s: f64| matches!(zset(ctx.db(queue), queue, clock), Ok(Some(z)) if z.count_in_score_range(&ScoreBound::Inclusive(s), &ScoreBound::Inclusive(s)) > 0);
    let mut score = prequeue_slot(open_at, rand::rng().random_range(0..PREQUEUE_SLOTS));
    for _ in 0..16 {
        if !taken(ctx, score) {
            return score;
        }
        score = prequeue_slot(open_at, rand::rng().random_range(0..PREQUEUE_SLOTS));
    }
    while taken(ctx, score) {
        score += 1.0 / SLOTS_PER_MS;
    }
    score
}

/// ```text
/// QPOS queue active user [NOW ms]
/// ```
/// A user's place without joining: `[status, position, waiting, eta_ms]`, status `ACTIVE`,
/// `WAITING` or `NONE`. `eta_ms` estimates the wait from the admission rate measured over the
/// last minute (-1 while nothing has been admitted; 0 when active). Polling is a heartbeat on
/// a queue with a heartbeat policy. Complexity: O(log N).
fn qpos(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (queue, active, user) = (argv.arg(1), argv.arg(2), argv.arg(3));
    let opts = parse_options(argv, 4, ONLY_NOW, "qpos")?;
    let now = opts.now_ms.unwrap_or(ctx.now_ms);
    let policy = policy_of(ctx, queue)?;
    let clock = ctx.now_ms;
    let is_active = zset(ctx.db(active), active, clock)?
        .and_then(|z| z.score(user))
        .is_some_and(|e| e > now as f64);
    let (rank, len) = match zset(ctx.db(queue), queue, clock)? {
        Some(z) => (z.rank(user), z.len() as i64),
        None => (None, 0),
    };
    let tracks_heartbeats = policy.as_ref().is_some_and(|p| p.heartbeat_ms.is_some());
    if rank.is_some() && !is_active {
        touch_heartbeat(ctx, queue, user, policy.as_ref(), now);
    }
    let waiting = if tracks_heartbeats {
        live_waiting(ctx, queue, policy.as_ref(), now)
    } else {
        len
    };
    let db = ctx.db;
    let (status, position, eta) = match (is_active, rank) {
        (true, _) => ("ACTIVE", 0, 0),
        (false, Some(rank)) => {
            let position = rank as i64 + 1;
            let eta = ctx
                .shards
                .shard(queue)
                .queues
                .stats(db, queue)
                .and_then(|s| s.eta_ms(position as u64, now))
                .unwrap_or(-1);
            ("WAITING", position, eta)
        }
        (false, None) => ("NONE", 0, -1),
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
    check_zset(ctx, queue)?;
    let removed = zrem(ctx, queue, user);
    let hb = heartbeat_key(queue);
    if removed && ctx.shards.holds(&hb) && check_zset(ctx, &hb).is_ok() {
        zrem(ctx, &hb, user);
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
    let hb = heartbeat_key(queue);
    if !ctx.shards.holds(&hb) {
        return Err(CmdError::Static(
            "ERR the queue key cannot host a heartbeat set: give it a hash tag, e.g. queue:{event}",
        ));
    }
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
    let limit = opts.limit.unwrap_or(SWEEP_BATCH);
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
    check_zset(ctx, active)?;
    let removed = zrem(ctx, active, user);
    out.int(removed as i64);
    Ok(())
}

/// ```text
/// QSTATS queue active [NOW ms]
/// ```
/// A summary map: `waiting` (not counting waiters whose heartbeat lapsed), `active` (live
/// sessions), `admitted` (since the server started), `admit_rate` (users per minute, measured
/// over the last minute), `oldest_wait_ms` (how long the head of the line has waited; -1 when
/// empty) and `eta_last_ms` (estimated wait of the last in line; -1 when unknown).
/// Complexity: O(log N).
fn qstats(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (queue, active) = (argv.arg(1), argv.arg(2));
    let opts = parse_options(argv, 3, ONLY_NOW, "qstats")?;
    check_zset(ctx, queue)?;
    check_zset(ctx, active)?;
    let policy = policy_of(ctx, queue)?;
    let clock = ctx.now_ms;
    let now = opts.now_ms.unwrap_or(clock);
    let waiting = live_waiting(ctx, queue, policy.as_ref(), now);
    let head = zset(ctx.db(queue), queue, clock)?.and_then(|z| z.get_by_rank(0).map(|(_, s)| s));
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

/// ```text
/// QPOLICY SET queue active [MAXACTIVE n] [RATE per-minute] [TTL ms] [HEARTBEAT ms]
///     [OPENAT unix-ms] [CHANNEL channel] [TOKENS ttl-ms]
/// ```
/// Sets the queue's admission policy (replacing any previous one) and has the server run it:
/// admissions at RATE per minute under the MAXACTIVE cap, sessions of TTL ms, heartbeats
/// expected every HEARTBEAT ms (silent waiters are dropped in batches), a shuffled pre-queue
/// before OPENAT, each admission published on CHANNEL as JSON, and admission tokens valid for
/// TOKENS ms. The policy is stored in the hash `<queue>:policy`. Reply: OK.
fn qpolicy_set(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (queue, active) = (argv.arg(2), argv.arg(3));
    let policy = Policy::from_args(active, argv.iter().skip(4))?;
    let key = policy_key(queue);
    if !ctx.shards.holds(&key) || !ctx.shards.holds(&heartbeat_key(queue)) {
        return Err(CmdError::Static("ERR a queue with a policy needs a name that can carry a hash tag: give it one, e.g. queue:{event}"));
    }
    check_zset(ctx, queue)?;
    check_zset(ctx, active)?;
    let now = ctx.now_ms;
    get_hash(ctx.db(&key), &key, now)?;
    let limits = ListpackLimits::from_config(ctx.config);
    let mut hash = crate::types::hash::Hash::new();
    for (field, value) in policy.fields() {
        hash.set(field, &value, limits);
    }
    ctx.db(&key).set(&key, Value::Hash(Box::new(hash)));
    ctx.modified(&key);
    let db = ctx.db;
    ctx.shards.shard(queue).queues.register_policy(db, queue);
    out.ok();
    Ok(())
}

/// ```text
/// QPOLICY GET queue
/// ```
/// The queue's policy as a map (nil when it has none). Complexity: O(1).
fn qpolicy_get(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let queue = argv.arg(2);
    match policy_of(ctx, queue)? {
        None => out.null(),
        Some(p) => {
            let fields = p.fields();
            out.map(fields.len());
            for (name, value) in fields {
                out.bulk(name);
                out.bulk(&value);
            }
        }
    }
    Ok(())
}

/// ```text
/// QPOLICY DEL queue
/// ```
/// Stops running the queue's policy and deletes `<queue>:policy`. Reply: 1 if it had one.
fn qpolicy_del(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let queue = argv.arg(2);
    let db = ctx.db;
    let had = ctx.shards.shard(queue).queues.unregister_policy(db, queue);
    let key = policy_key(queue);
    let now = ctx.now_ms;
    if ctx.shards.holds(&key) && ctx.db(&key).delete(&key, now) {
        ctx.modified(&key);
    }
    out.int(had as i64);
    Ok(())
}

/// One tick of a queue's policy, run by the server under the queue's shard lock: sweeps a
/// batch of silent waiters, then admits what the rate allows. Returns false once the queue
/// has no policy any more (its hash was deleted), so the server stops ticking it.
pub fn run_policy(ctx: &mut ExecCtx, queue: &[u8]) -> bool {
    let now = ctx.now_ms;
    let policy = match policy_of(ctx, queue) {
        Ok(Some(p)) => p,
        Ok(None) | Err(_) => {
            let db = ctx.db;
            ctx.shards.shard(queue).queues.unregister_policy(db, queue);
            return false;
        }
    };
    if let Some(hb_ms) = policy.heartbeat_ms {
        let hb = heartbeat_key(queue);
        if check_zset(ctx, &hb).is_ok() && check_zset(ctx, queue).is_ok() {
            sweep(
                ctx,
                &hb,
                queue,
                &ScoreBound::Inclusive((now - hb_ms) as f64),
                SWEEP_BATCH,
            );
        }
    }
    let Some(rate) = policy.rate_per_min.filter(|_| !policy.before_open(now)) else {
        return true;
    };
    let db = ctx.db;
    let Some(n) = ctx
        .shards
        .shard(queue)
        .queues
        .bucket(db, queue)
        .map(|b| b.earn(now, rate))
    else {
        return true;
    };
    if n == 0 || check_zset(ctx, queue).is_err() || check_zset(ctx, &policy.active).is_err() {
        return true;
    }
    let active = policy.active.clone();
    let round = Admission {
        count: n,
        max_active: policy.max_active,
        now,
        ttl: policy.ttl_ms,
    };
    let admitted = admit_users(ctx, queue, &active, round, Some(&policy));
    if let Some(bucket) = ctx.shards.shard(queue).queues.bucket(db, queue) {
        bucket.spend(admitted.len());
    }
    true
}

const W: Flags = Flags::WRITE;
const WF: Flags = Flags::WRITE.union(Flags::FAST);
const WFD: Flags = Flags::WRITE.union(Flags::FAST).union(Flags::DENYOOM);
const CLOCK: Flags = Flags::NONDETERMINISTIC;

const QPOLICY_SUBCOMMANDS: &[Spec] = &[
    cmd(
        "SET",
        -4,
        W.union(Flags::DENYOOM),
        qpolicy_set as EngineHandler,
    )
    .keys(2, 3, 1)
    .doc(
        Group::Queue,
        "0.1.0",
        "Sets a queue's admission policy, which the server then runs.",
        "O(1)",
    ),
    cmd(
        "GET",
        3,
        Flags::READONLY.union(Flags::FAST),
        qpolicy_get as EngineHandler,
    )
    .keys(2, 2, 1)
    .doc(
        Group::Queue,
        "0.1.0",
        "Returns a queue's admission policy.",
        "O(1)",
    ),
    cmd("DEL", 3, WF, qpolicy_del as EngineHandler)
        .keys(2, 2, 1)
        .doc(
            Group::Queue,
            "0.1.0",
            "Removes a queue's admission policy.",
            "O(1)",
        ),
];

pub static COMMANDS: &[Spec] = &[
    cmd("ENTER", -4, WFD.union(CLOCK), enter as EngineHandler)
        .keys(1, 2, 1)
        .warms(WarmHint { key: 1, member: 3, rank: true })
        .doc(Group::Queue, "0.1.0", "Joins a user to a waiting line idempotently and returns its status, 1-based position and the line's length.", "O(log(N)) with N the number of users in line."),
    cmd("ADMIT", -4, W.union(Flags::DENYOOM).union(CLOCK), admit as EngineHandler)
        .keys(1, 2, 1)
        .doc(Group::Queue, "0.1.0", "Admits the earliest arrivals of a waiting line into the active set, dropping expired sessions and respecting a cap.", "O((E+K)*log(N)) with E expired sessions removed and K users admitted."),
    cmd("QPOS", -4, WF.union(CLOCK), qpos as EngineHandler)
        .keys(1, 2, 1)
        .warms(WarmHint { key: 1, member: 3, rank: true })
        .doc(Group::Queue, "0.1.0", "Returns a user's status, position, the line's length and an estimated wait from the measured admission rate.", "O(log(N))"),
    cmd("QLEAVE", 3, WF, qleave as EngineHandler)
        .keys(1, 1, 1)
        .warms(WarmHint { key: 1, member: 2, rank: true })
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
    container("QPOLICY", QPOLICY_SUBCOMMANDS).doc(
        Group::Queue,
        "0.1.0",
        "A container for queue admission-policy commands.",
        "Depends on subcommand.",
    ),
];
