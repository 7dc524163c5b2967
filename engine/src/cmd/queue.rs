//! The waiting-line family: ENTER, ADMIT and the Q* commands (position, leave, heartbeats,
//! sweeps, session renewal and revocation, summaries). QPOLICY and the policy tick the server
//! runs live next door, in `qpolicy.rs`.
//!
//! Each command does atomically, on ordinary sorted sets (see [`crate::queue`]), what a
//! ticketing backend otherwise does with several round trips or a Lua script. Where a seed
//! script exists the command is equivalent to it for valid input (same reply, same resulting
//! keys; the exceptions are listed in `docs/commands.md`), and validates every argument before
//! touching anything, so bad input changes nothing. Every key of a command shares one hash
//! slot (`Flags::SAME_SLOT`), hence one shard lock.
//!
//! A queue with a policy gets more: its cap, session length and opening time hold for every
//! admission, manual ones included; a pre-queue before the opening time; heartbeats whose
//! timeout follows the user's poll interval; one admission token per admission.

use crate::args::{self, is};
use crate::bytes::SmallBytes;
use crate::cmd::qpolicy::{lanes, policy_of};
use crate::cmd::token::{check_invite, spend_invite};
use crate::cmd::zset::{get_zset as zset, limits as zset_limits};
use crate::command::{cmd, CommandSpec, EngineHandler, Flags, Group, WarmHint};
use crate::ctx::ExecCtx;
use crate::error::{CmdError, CmdResult};
use crate::keyspace_events as ev;
use crate::queue::draw::{draw_rank, prequeue_slot_of};
use crate::queue::heartbeat::{poll_ms, timeout_ms};
use crate::queue::policy::{clients_key, heartbeat_key, held_key, lane_key, Method, Policy};
use crate::queue::rate::eta_ms;
use crate::queue::score::{next_arrival, prequeue_slot, PREQUEUE_SLOTS};
use crate::queue::split::Line;
use crate::queue::MAX_TIME_MS;
use crate::types::zset::{ScoreBound, ZSet};
use crate::value::Value;
use usher_protocol::{errors, Argv, ReplySink};

type Spec = CommandSpec<EngineHandler>;

/// ADMIT's default session length: 5 minutes, as in the seeds.
pub const DEFAULT_ACTIVE_TTL_MS: i64 = 300_000;

/// The most users one call moves: admitted by ADMIT or a policy tick, expired sessions
/// dropped, stale waiters swept. About a millisecond of work; the reply says how many moved,
/// and the caller (or the next tick) goes on.
pub const MAX_BATCH: usize = 1000;

/// Fails with WRONGTYPE unless `key` is absent or a sorted set (checked before any change).
pub(crate) fn check_zset(ctx: &mut ExecCtx, key: &[u8]) -> CmdResult {
    let now = ctx.now_ms;
    zset(ctx.db(key), key, now).map(|_| ())
}

/// Inserts into the sorted set at `key`, creating it if needed.
/// Returns the member's score before, if it was there.
pub(crate) fn zadd(ctx: &mut ExecCtx, key: &[u8], member: &[u8], score: f64) -> Option<f64> {
    let limits = zset_limits(ctx);
    let now = ctx.now_ms;
    let (value, _) = ctx
        .db(key)
        .get_or_insert_with(key, now, || Value::ZSet(Box::default()));
    match value {
        Value::ZSet(z) => z.insert(member, score, &limits),
        _ => None,
    }
}

/// Removes `member` from the sorted set at `key`; true if it was there. Empty sets disappear.
pub(crate) fn zrem(ctx: &mut ExecCtx, key: &[u8], member: &[u8]) -> bool {
    zrem_score(ctx, key, member).is_some()
}

/// [`zrem`], answering the score `member` had.
pub(crate) fn zrem_score(ctx: &mut ExecCtx, key: &[u8], member: &[u8]) -> Option<f64> {
    let now = ctx.now_ms;
    let removed = match zset(ctx.db(key), key, now) {
        Ok(Some(z)) => z.remove(member),
        _ => None,
    };
    if removed.is_some() {
        ctx.notify(ev::ZSET, "zrem", key);
        drop_if_empty(ctx, key);
        ctx.modified_in_sale(key);
    }
    removed
}

/// Deletes `key` if it holds an empty sorted set (empty collections disappear).
pub(crate) fn drop_if_empty(ctx: &mut ExecCtx, key: &[u8]) {
    let now = ctx.now_ms;
    if matches!(zset(ctx.db(key), key, now), Ok(Some(z)) if z.is_empty()) {
        ctx.db(key).delete(key, now);
        ctx.notify(ev::GENERIC, "del", key);
    }
}

/// Trailing options shared by the family: `MAXACTIVE n`, `TTL ms`, `LIMIT n`, `CLIENT key`,
/// `INVITE token`, `LANE name`, `NOW ms`.
#[derive(Default)]
struct Options<'a> {
    max_active: Option<i64>,
    ttl_ms: Option<i64>,
    now_ms: Option<i64>,
    limit: Option<i64>,
    client: Option<&'a [u8]>,
    invite: Option<&'a [u8]>,
    lane: Option<&'a [u8]>,
}

#[derive(Clone, Copy)]
struct Allowed {
    max_active: bool,
    ttl: bool,
    limit: bool,
    client: bool,
    invite: bool,
    lane: bool,
}

const ONLY_NOW: Allowed = Allowed {
    max_active: false,
    ttl: false,
    limit: false,
    client: false,
    invite: false,
    lane: false,
};

/// A positive duration in ms that keeps `now + ttl` a valid time, else Redis's
/// `invalid expire time in '<command>' command`.
pub(crate) fn ttl_ms(value: &[u8], command: &str) -> Result<i64, CmdError> {
    let ttl = args::int(value)?;
    if !(1..=MAX_TIME_MS).contains(&ttl) {
        return Err(CmdError::Owned(errors::fill(
            errors::INVALID_EXPIRE,
            command,
        )));
    }
    Ok(ttl)
}

/// A count: an integer (else "not an integer"), not negative (else "must be positive").
pub(crate) fn count(value: &[u8]) -> Result<i64, CmdError> {
    match args::int(value)? {
        n if n < 0 => Err(CmdError::Static(errors::NOT_POSITIVE)),
        n => Ok(n),
    }
}

fn parse_options<'a>(
    argv: Argv<'a>,
    start: usize,
    allowed: Allowed,
    command: &str,
) -> Result<Options<'a>, CmdError> {
    let mut o = Options::default();
    let mut i = start;
    while i < argv.len() {
        let opt = argv.arg(i);
        let value = argv.get(i + 1).ok_or(CmdError::Syntax)?;
        if is(opt, "NOW") {
            o.now_ms = Some(args::int(value)?);
        } else if is(opt, "MAXACTIVE") && allowed.max_active {
            o.max_active = Some(count(value)?);
        } else if is(opt, "TTL") && allowed.ttl {
            o.ttl_ms = Some(ttl_ms(value, command)?);
        } else if is(opt, "LIMIT") && allowed.limit {
            o.limit = Some(args::int(value)?);
        } else if is(opt, "CLIENT") && allowed.client {
            o.client = Some(value);
        } else if is(opt, "INVITE") && allowed.invite {
            o.invite = Some(value);
        } else if is(opt, "LANE") && allowed.lane {
            o.lane = Some(value);
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    Ok(o)
}

/// The command's clock: `NOW ms` if given, else the server's. A given NOW must be a valid time
/// within `queue-now-max-skew` ms of the server clock (0 turns the check off): a client with a
/// clock an hour ahead would otherwise push every later arrival an hour back.
pub(crate) fn resolve_now(ctx: &ExecCtx, given: Option<i64>) -> Result<i64, CmdError> {
    let Some(now) = given else {
        return Ok(ctx.now_ms);
    };
    let skew = ctx.config.queue_now_max_skew_ms;
    if !(0..=MAX_TIME_MS).contains(&now) || (skew > 0 && (now - ctx.now_ms).abs() > skew) {
        return Err(CmdError::Owned(format!(
            "ERR NOW must be a Unix time in ms within queue-now-max-skew ({skew} ms) of the server clock"
        )));
    }
    Ok(now)
}

/// A policy admits into one active set: naming another with its queue is a mistake that
/// would bypass its cap.
pub(crate) fn check_policy_active(policy: Option<&Policy>, active: &[u8]) -> CmdResult {
    match policy {
        Some(p) if p.active != active => Err(CmdError::Owned(format!(
            "ERR the queue's policy admits into '{}': name that active set",
            String::from_utf8_lossy(&p.active)
        ))),
        _ => Ok(()),
    }
}

/// ```text
/// ADMIT queue active count [MAXACTIVE n] [TTL ms] [NOW ms]
/// ```
/// Drops expired sessions from `active` (score ≤ now), then moves up to `count` of the earliest
/// arrivals from `queue` into `active` with expiry `now + TTL`, never beyond MAXACTIVE live
/// sessions. Reply: `[admitted, [user, ...]]`. Equivalent to `admission_zpopmin.lua`
/// (`EVAL ... 2 queue active count now ttl maxActive`). Defaults: no cap, TTL 300000, NOW from
/// the server clock. On a queue with a policy, the policy's cap (the lower of both), session
/// length (unless TTL is given) and opening time hold, and users whose heartbeat lapsed are
/// dropped instead of admitted. At most [`MAX_BATCH`] users move per call.
/// Complexity: O((E + K) log N) for E expired sessions and K admissions.
fn admit(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (queue, active) = (argv.arg(1), argv.arg(2));
    let requested = count(argv.arg(3))?;
    let opts = parse_options(
        argv,
        4,
        Allowed {
            max_active: true,
            ttl: true,
            limit: false,
            client: false,
            invite: false,
            lane: false,
        },
        "admit",
    )?;
    let now = resolve_now(ctx, opts.now_ms)?;
    Line::of(ctx, queue)?.check(ctx, queue)?;
    check_zset(ctx, active)?;
    let policy = policy_of(ctx, queue)?;
    check_policy_active(policy.as_ref(), active)?;
    let admitted = match &policy {
        Some(p) if p.holds_admissions(now) => Vec::new(),
        _ => {
            let cap = match (opts.max_active, policy.as_ref().and_then(|p| p.max_active)) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let ttl = opts
                .ttl_ms
                .or(policy.as_ref().map(|p| p.ttl_ms))
                .unwrap_or(DEFAULT_ACTIVE_TTL_MS);
            if now.checked_add(ttl).is_none_or(|t| t > MAX_TIME_MS) {
                return Err(CmdError::Owned(errors::fill(
                    errors::INVALID_EXPIRE,
                    "admit",
                )));
            }
            let round = Admission {
                count: requested.min(MAX_BATCH as i64) as usize,
                max_active: cap,
                now,
                ttl,
            };
            admit_users(ctx, queue, active, round, policy.as_ref())
        }
    };
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
    let (expired, live) = match zset(ctx.db(active), active, clock) {
        Ok(Some(z)) => {
            let upto = z.last_rank_in_score_range(
                &ScoreBound::Inclusive(f64::NEG_INFINITY),
                &ScoreBound::Inclusive(a.now as f64),
            );
            let expired = upto.map_or(0, |last| z.remove_rank_range(0, last.min(MAX_BATCH - 1)));
            // Counted, not taken from the length: expired sessions beyond this call's batch
            // are still there, and must not count as live.
            let live = z.count_in_score_range(
                &ScoreBound::Exclusive(a.now as f64),
                &ScoreBound::Inclusive(f64::INFINITY),
            );
            (expired, live as i64)
        }
        _ => (0, 0),
    };
    if expired > 0 {
        ctx.notify(ev::ZSET, "zremrangebyscore", active);
        drop_if_empty(ctx, active);
        ctx.modified_in_sale(active);
    }
    let room = a.max_active.map_or(i64::MAX, |cap| cap - live);
    if room <= 0 {
        return Vec::new();
    }
    let take = (a.count as i64).min(room) as usize;
    let (admitted, arrivals) = pop_live(ctx, queue, take, policy, a.now);
    if admitted.is_empty() {
        return admitted;
    }
    let expiry = a.now + a.ttl;
    for user in &admitted {
        zadd(ctx, active, user, expiry as f64);
    }
    ctx.modified_in_sale(active);
    ctx.notify(ev::ZSET, "zadd", active);
    ctx.ready(active);
    let db = ctx.db;
    ctx.shards
        .shard(queue)
        .queues
        .record_admissions(db, queue, a.now, admitted.len() as u64);
    if let Some(policy) = policy {
        crate::cmd::token::grant_admissions(ctx, queue, &admitted, policy, a.now, expiry);
        crate::cmd::qpolicy::noshow::expect(ctx, queue, &admitted, policy, a.now);
        crate::cmd::qpolicy::stats::record_admissions(ctx, queue, &arrivals, a.now);
    }
    admitted
}

/// Pops up to `take` users from the head of the line, with their arrival scores. With a heartbeat policy, users whose
/// heartbeat deadline passed are dropped on the way (at most 4×take + 64 of them per call, so
/// the work stays bounded) and admitted users leave the heartbeat set.
fn pop_live(
    ctx: &mut ExecCtx,
    queue: &[u8],
    take: usize,
    policy: Option<&Policy>,
    now: i64,
) -> (Vec<SmallBytes>, Vec<f64>) {
    let clock = ctx.now_ms;
    let heartbeat = policy
        .and_then(|p| p.heartbeat_ms)
        .map(|_| heartbeat_key(queue));
    let random = policy
        .filter(|p| p.method == Method::Random)
        .map(|p| p.seed_or(queue).to_vec());
    let Ok(line) = Line::of(ctx, queue) else {
        return (Vec::new(), Vec::new());
    };
    let mut admitted = Vec::with_capacity(take.min(4096));
    let mut arrivals = Vec::with_capacity(take.min(4096));
    let mut dropped = Vec::new();
    let max_dropped = take * 4 + 64;
    let mut draws = 0;
    // Sub-queues a split line's admissions took from (bit i: sub-queue i), and lanes.
    let mut touched = 0u64;
    let mut lanes_touched = 0u64;
    let mut main_touched = false;
    // With priority lanes, each pick's source (0: the main line, i + 1: lane i) is chosen by
    // the lanes' weights (see `qpolicy::lanes`).
    let mut picker = match policy.filter(|p| !p.lanes.is_empty()) {
        Some(p) => {
            let main_len = line.len(ctx, queue).unwrap_or(0);
            Some(lanes::Picker::load(ctx, queue, p, main_len))
        }
        None => None,
    };
    while admitted.len() < take && dropped.len() < max_dropped {
        let (source, weights) = match &picker {
            Some(pk) => match pk.choose() {
                Some(choice) => choice,
                None => break,
            },
            None => (0, Vec::new()),
        };
        let popped = if let (true, Some(p)) = (source > 0, policy) {
            let key = lane_key(queue, &p.lanes[source - 1].name);
            match zset(ctx.db(&key), &key, clock) {
                Ok(Some(z)) => take_next(z, random.as_deref(), now, &mut draws),
                _ => None,
            }
        } else if line.is_split() {
            let taken = match &random {
                Some(seed) => match line.len(ctx, queue) {
                    Ok(len) if len > 0 => {
                        let rank = draw_rank(seed, now, len, draws);
                        draws += 1;
                        line.remove_at_rank(ctx, queue, rank)
                    }
                    _ => None,
                },
                None => line.pop_min(ctx, queue),
            };
            taken.map(|(user, i, score)| {
                touched |= 1 << i;
                (user, score)
            })
        } else {
            match zset(ctx.db(queue), queue, clock) {
                Ok(Some(z)) => take_next(z, random.as_deref(), now, &mut draws),
                _ => None,
            }
        };
        let Some((user, arrival)) = popped else {
            match picker.as_mut() {
                Some(pk) => {
                    pk.exhausted(source);
                    continue;
                }
                None => break,
            }
        };
        if source > 0 {
            lanes_touched |= 1 << (source - 1);
        } else {
            main_touched = true;
        }
        let stale = match &heartbeat {
            Some(hb) => {
                matches!(zset(ctx.db(hb), hb, clock), Ok(Some(h)) if h.score(&user).is_some_and(|due| due <= now as f64))
            }
            None => false,
        };
        if let Some(pk) = picker.as_mut() {
            pk.took(source, weights, !stale);
        }
        if stale {
            dropped.push(user);
        } else {
            admitted.push(user);
            arrivals.push(arrival);
        }
    }
    if admitted.is_empty() && dropped.is_empty() {
        return (admitted, arrivals);
    }
    if let (Some(pk), Some(p)) = (&picker, policy) {
        pk.save(ctx, queue, p);
    }
    if !dropped.is_empty() {
        count_dropped(ctx, queue, dropped.len() as u64);
    }
    // A random draw removes members by name, as ZREM would.
    let event = if random.is_some() { "zrem" } else { "zpopmin" };
    for (i, key) in line.keys(queue).into_iter().enumerate() {
        if !main_touched || (line.is_split() && touched & (1 << i) == 0) {
            continue;
        }
        ctx.notify(ev::ZSET, event, key);
        drop_if_empty(ctx, key);
        ctx.modified_in_sale(key);
    }
    if let Some(p) = policy {
        for i in (0..p.lanes.len()).filter(|i| lanes_touched & (1 << i) != 0) {
            lanes::touched(ctx, queue, p, i, event);
        }
    }
    if let Some(hb) = &heartbeat {
        for user in admitted.iter().chain(&dropped) {
            zrem(ctx, hb, user);
        }
    }
    (admitted, arrivals)
}

/// The next user one sorted set gives an admission: its head, or on a random event the
/// `draws`-th draw of this call (see `queue::draw`).
fn take_next(
    z: &mut ZSet,
    random: Option<&[u8]>,
    now: i64,
    draws: &mut usize,
) -> Option<(SmallBytes, f64)> {
    match random {
        Some(seed) if !z.is_empty() => {
            let rank = draw_rank(seed, now, z.len(), *draws);
            *draws += 1;
            z.remove_at_rank(rank)
        }
        _ => z.pop_min(),
    }
}

/// Counts waiters dropped for a lapsed heartbeat (abandoners), for QSTATS and the metrics.
fn count_dropped(ctx: &mut ExecCtx, queue: &[u8], n: u64) {
    let db = ctx.db;
    ctx.shards
        .shard(queue)
        .queues
        .entry(db, queue)
        .dropped_total += n;
}

/// Users waiting, not counting those whose heartbeat deadline passed (with a heartbeat policy).
fn live_waiting(ctx: &mut ExecCtx, queue: &[u8], policy: Option<&Policy>, now: i64) -> i64 {
    let clock = ctx.now_ms;
    let total = Line::of(ctx, queue)
        .and_then(|line| line.len(ctx, queue))
        .unwrap_or(0)
        + lanes::waiting(ctx, queue, policy);
    let total = total as i64;
    if policy.is_none_or(|p| p.heartbeat_ms.is_none()) {
        return total;
    }
    let hb = heartbeat_key(queue);
    let stale = match zset(ctx.db(&hb), &hb, clock) {
        Ok(Some(h)) => h.count_in_score_range(
            &ScoreBound::Inclusive(f64::NEG_INFINITY),
            &ScoreBound::Inclusive(now as f64),
        ) as i64,
        _ => 0,
    };
    (total - stale).max(0)
}

/// Records a heartbeat for a waiting user at 1-based `position` if the policy tracks them: the
/// next one is due after the timeout for that position.
fn touch_heartbeat(
    ctx: &mut ExecCtx,
    queue: &[u8],
    user: &[u8],
    policy: Option<&Policy>,
    now: i64,
    position: i64,
) {
    if let Some(base) = policy.and_then(|p| p.heartbeat_ms) {
        let hb = heartbeat_key(queue);
        zadd(ctx, &hb, user, (now + timeout_ms(base, position)) as f64);
        ctx.modified_in_sale(&hb);
        ctx.notify(ev::ZSET, "zadd", &hb);
    }
}

fn reply_status(out: &mut dyn ReplySink, status: &str, position: i64, waiting: i64) -> CmdResult {
    out.array(3);
    out.bulk(status.as_bytes());
    out.int(position);
    out.int(waiting);
    Ok(())
}

/// The arrival score for a new user: after everyone in line and after every arrival this line
/// ever had (the watermark), so scores keep growing when the line empties and fills again.
fn arrival_score(ctx: &mut ExecCtx, queue: &[u8], now: i64, last_in_line: Option<f64>) -> f64 {
    let db = ctx.db;
    let state = ctx.shards.shard(queue).queues.entry(db, queue);
    let last = match (last_in_line, state.last_arrival) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    let score = next_arrival(now, last);
    state.last_arrival = Some(score);
    score
}

/// ```text
/// ENTER queue active user [CLIENT key] [INVITE token] [NOW ms]
/// ```
/// Joins `user` to the line, idempotently. Reply: `[status, position, waiting]` where status is
/// `ACTIVE` (the user's session in `active` has not expired, or a passthrough event admitted
/// them at once; position 0), `WAITING` (already in line: keeps its place), `NEW` (joined at
/// the back), before a policy's opening time `PREQUEUE` (position 0: places are drawn at the
/// opening), and on a policy's refusal `CLOSED` (closed or rejecting) or `FULL` (MAXWAITING
/// reached); on an invite-only event (INVITEONLY) a new arrival must present an unused invite
/// of TOKENINVITE for this queue and user, else `INVITE` (none given), `INVITE_INVALID`
/// (malformed, tampered, unknown key, another user or event), `INVITE_EXPIRED` or
/// `INVITE_USED`; nobody joins then. Positions are 1-based. Arrival
/// scores are the arrival time in ms plus a sub-millisecond slot, strictly increasing per line,
/// so order is strict FIFO even within a millisecond and every score is exact. A session that
/// expired is dropped and the user joins anew. Complexity: O(log N).
fn enter(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (queue, active, user) = (argv.arg(1), argv.arg(2), argv.arg(3));
    let opts = parse_options(
        argv,
        4,
        Allowed {
            client: true,
            invite: true,
            lane: true,
            ..ONLY_NOW
        },
        "enter",
    )?;
    let now = resolve_now(ctx, opts.now_ms)?;
    let clock = ctx.now_ms;
    // Read both keys first (each once): both types are checked before anything changes.
    let session = zset(ctx.db(active), active, clock)?.and_then(|z| z.score(user));
    let line = Line::of(ctx, queue)?;
    let (rank, len, last) = if line.is_split() {
        // The user's sub-queue is read (its type checked) by `rank`, the others through the
        // line's index, which is built from them, types checked, when it is missing.
        (
            line.rank(ctx, queue, user)?,
            line.len(ctx, queue)? as i64,
            line.last_score(ctx, queue)?,
        )
    } else {
        match zset(ctx.db(queue), queue, clock)? {
            Some(z) => (
                z.rank(user),
                z.len() as i64,
                z.len()
                    .checked_sub(1)
                    .and_then(|r| z.get_by_rank(r))
                    .map(|(_, s)| s),
            ),
            None => (None, 0, None),
        }
    };
    let main_len = len;
    let policy = policy_of(ctx, queue)?;
    check_policy_active(policy.as_ref(), active)?;
    lanes::check(ctx, queue, policy.as_ref())?;
    let lane = match opts.lane {
        None => None,
        Some(name) => match policy.as_ref().and_then(|p| p.lane_index(name)) {
            Some(i) => Some(i),
            None => {
                return Err(CmdError::Owned(format!(
                    "ERR no lane '{}' in the queue's policy (QPOLICY SET queue active LANES name:percent,...)",
                    String::from_utf8_lossy(name)
                )))
            }
        },
    };
    // With lanes, a user waits in the main line or in one lane, and everyone waiting counts.
    let lane_lens = lanes::lengths(ctx, queue, policy.as_ref());
    let lane_place = match rank {
        None if !lane_lens.is_empty() => lanes::locate(ctx, queue, policy.as_ref(), user)?,
        _ => None,
    };
    let in_line = rank.or(lane_place.map(|l| l.rank));
    let len = len + lane_lens.iter().sum::<usize>() as i64;
    if policy.as_ref().is_some_and(Policy::names_users_in_text)
        && std::str::from_utf8(user).is_err()
    {
        return Err(CmdError::Static(
            "ERR user ids must be UTF-8 on a queue whose policy announces admissions or issues tokens",
        ));
    }
    let clients = match (policy.as_ref().and_then(|p| p.max_per_client), opts.client) {
        (Some(max), Some(client)) => Some((max, client, places_taken(ctx, queue, client)?)),
        _ => None,
    };
    let prequeue_open = policy
        .as_ref()
        .and_then(|p| p.open_at_ms.filter(|_| p.before_open(now)));
    if let Some(position) = held_position(ctx, queue, user, policy.as_ref())? {
        let waiting = live_waiting(ctx, queue, policy.as_ref(), now);
        return reply_status(out, "WAITING", position, waiting);
    }
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
    // A random queue has no order to show: everyone waiting has the same chance.
    let shown = |position: i64| {
        if policy.as_ref().is_some_and(|p| p.method == Method::Random) {
            0
        } else {
            position
        }
    };
    if let Some(rank) = in_line {
        let position = rank as i64 + 1;
        touch_heartbeat(ctx, queue, user, policy.as_ref(), now, position);
        let waiting = waiting_now(ctx, len);
        return match prequeue_open {
            Some(_) => reply_status(out, "PREQUEUE", 0, waiting),
            None => reply_status(out, "WAITING", shown(position), waiting),
        };
    }
    if let Some(p) = policy.as_ref() {
        let waiting = waiting_now(ctx, len);
        if p.refuses_arrivals(now) {
            return reply_status(out, "CLOSED", 0, waiting);
        }
        if p.max_waiting.is_some_and(|max| waiting >= max) {
            return reply_status(out, "FULL", 0, waiting);
        }
        let invite = if p.invite_only {
            match check_invite(ctx, queue, user, opts.invite, now) {
                Ok(claims) => Some(claims),
                Err(status) => return reply_status(out, status, 0, waiting),
            }
        } else {
            None
        };
        if let Some((max, client, taken)) = clients {
            if taken >= max {
                return reply_status(out, "LIMITED", 0, waiting);
            }
            crate::cmd::hash::write_companion_hash(
                ctx,
                &clients_key(queue),
                "hincrby",
                |h, limits| {
                    h.set(client, (taken + 1).to_string().as_bytes(), limits);
                },
            );
        }
        if let Some(claims) = invite {
            spend_invite(ctx, &claims, now);
        }
    }
    let score = match (prequeue_open, policy.as_ref()) {
        (Some(open_at), Some(p)) => prequeue_score(p, queue, user, open_at),
        _ => arrival_score(ctx, queue, now, last),
    };
    let (lane_home, position) = match (lane, policy.as_ref()) {
        (Some(i), Some(p)) => (
            Some(lane_key(queue, &p.lanes[i].name)),
            lane_lens[i] as i64 + 1,
        ),
        _ => (None, main_len + 1),
    };
    let home = lane_home
        .as_deref()
        .unwrap_or_else(|| line.home(queue, user));
    let before = zadd(ctx, home, user, score);
    if lane_home.is_none() {
        line.added(ctx, queue, before, score);
    }
    ctx.modified_in_sale(home);
    ctx.notify(ev::ZSET, "zadd", home);
    ctx.ready(home);
    touch_heartbeat(ctx, queue, user, policy.as_ref(), now, position);
    if let Some(p) = policy.as_ref() {
        if passes_through(ctx, queue, p, len, now) {
            // No line: the arrival is the only one waiting, so one admission takes exactly
            // them (unless the cap is reached).
            let round = Admission {
                count: 1,
                max_active: p.max_active,
                now,
                ttl: p.ttl_ms,
            };
            if !admit_users(ctx, queue, active, round, Some(p)).is_empty() {
                switch_queueing(ctx, queue, p, now, false);
                let waiting = waiting_now(ctx, len);
                return reply_status(out, "ACTIVE", 0, waiting);
            }
        }
        if p.method == Method::Auto && prequeue_open.is_none() {
            switch_queueing(ctx, queue, p, now, true);
        }
    }
    let waiting = waiting_now(ctx, len + 1);
    match prequeue_open {
        Some(_) => reply_status(out, "PREQUEUE", 0, waiting),
        None => reply_status(out, "NEW", shown(position), waiting),
    }
}

/// Whether an arrival is admitted at once: on a passthrough event, or an automatic one still
/// under its rate (admissions in the last minute), when the event admits now and nobody else
/// waits (a line formed meanwhile is served first, in order). The cap is checked by the
/// admission itself.
fn passes_through(
    ctx: &mut ExecCtx,
    queue: &[u8],
    p: &Policy,
    waiting_before: i64,
    now: i64,
) -> bool {
    if waiting_before != 0 || p.holds_admissions(now) {
        return false;
    }
    match p.method {
        Method::Passthrough => true,
        Method::Auto => {
            let admitted = ctx
                .queue_state(queue)
                .map_or(0, |q| q.stats.admitted_last_minute(now));
            p.rate_per_min.is_none_or(|rate| admitted < rate as u64)
        }
        _ => false,
    }
}

/// Automatic queueing switched on (arrivals now queue) or off (they are admitted at once
/// again): announced once per switch on the policy's channel and in its feed, and shown by
/// QSTATS. The feed keeps its own durable flag: the one in memory starts over on a restart.
fn switch_queueing(ctx: &mut ExecCtx, queue: &[u8], p: &Policy, now: i64, on: bool) {
    if p.method != Method::Auto {
        return;
    }
    crate::cmd::qpolicy::feed::queueing(ctx, queue, p, now, on);
    let db = ctx.db;
    let state = ctx.shards.shard(queue).queues.entry(db, queue);
    if state.queueing == on {
        return;
    }
    state.queueing = on;
    if let Some(channel) = &p.channel {
        let message = serde_json::json!({
            "event": "queueing",
            "queue": String::from_utf8_lossy(queue),
            "queueing": on,
        });
        ctx.effects
            .publish
            .push((channel.clone(), message.to_string().into_bytes()));
    }
}

/// Places a client key has taken in the event (checked, like every key, before any change).
fn places_taken(ctx: &mut ExecCtx, queue: &[u8], client: &[u8]) -> Result<i64, CmdError> {
    let key = clients_key(queue);
    let now = ctx.now_ms;
    Ok(crate::cmd::hash::get_hash(ctx.db(&key), &key, now)?
        .and_then(|h| h.get(client))
        .and_then(usher_protocol::parse::parse_i64)
        .unwrap_or(0))
}

/// The position a held user is shown: where their arrival would stand in the line now (it
/// moves as others are admitted, and never reaches admission). `None` for a user not held;
/// only a queue with a policy holds users.
fn held_position(
    ctx: &mut ExecCtx,
    queue: &[u8],
    user: &[u8],
    policy: Option<&Policy>,
) -> Result<Option<i64>, CmdError> {
    if policy.is_none() {
        return Ok(None);
    }
    let (key, now) = (held_key(queue), ctx.now_ms);
    let Some(score) = zset(ctx.db(&key), &key, now)?.and_then(|z| z.score(user)) else {
        return Ok(None);
    };
    let ahead = Line::of(ctx, queue)?.count_below(ctx, queue, score)?;
    Ok(Some(ahead as i64 + 1))
}

/// ```text
/// QHOLD queue user [NOW ms]
/// ```
/// Holds a user in an "infinite queue" (a flagged bot or scalper): they leave the line but keep
/// seeing a normal position, which moves as others are admitted, and are never admitted. A user
/// not in line is held from their next arrival on. Needs a queue with a policy. Reply: 1 if
/// the user was not held yet, else 0. Complexity: O(log N).
fn qhold(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (queue, user) = (argv.arg(1), argv.arg(2));
    let opts = parse_options(argv, 3, ONLY_NOW, "qhold")?;
    let now = resolve_now(ctx, opts.now_ms)?;
    let held = held_key(queue);
    let line = Line::of(ctx, queue)?;
    line.check(ctx, queue)?;
    check_zset(ctx, &held)?;
    let Some(policy) = policy_of(ctx, queue)? else {
        return Err(CmdError::Static(
            "ERR QHOLD needs a queue with a policy (QPOLICY SET)",
        ));
    };
    lanes::check(ctx, queue, Some(&policy))?;
    let clock = ctx.now_ms;
    if zset(ctx.db(&held), &held, clock)?.is_some_and(|z| z.score(user).is_some()) {
        out.int(0);
        return Ok(());
    }
    let from_main = zrem_score(ctx, line.home(queue, user), user);
    if let Some(score) = from_main {
        line.removed(ctx, queue, score);
    }
    // A user held from a lane is released (QUNHOLD) into the main line.
    let waited = from_main.or_else(|| lanes::remove(ctx, queue, Some(&policy), user));
    let score = match waited {
        Some(score) => {
            let hb = heartbeat_key(queue);
            if check_zset(ctx, &hb).is_ok() {
                zrem(ctx, &hb, user);
            }
            score
        }
        None => arrival_score(ctx, queue, now, None),
    };
    zadd(ctx, &held, user, score);
    ctx.modified_in_sale(&held);
    ctx.notify(ev::ZSET, "zadd", &held);
    out.int(1);
    Ok(())
}

/// ```text
/// QUNHOLD queue user
/// ```
/// Releases a held user back into the line at their original arrival: a mistaken flag costs
/// them nothing. Reply: 1 if the user was held, else 0. Complexity: O(log N).
fn qunhold(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (queue, user) = (argv.arg(1), argv.arg(2));
    let held = held_key(queue);
    let line = Line::of(ctx, queue)?;
    line.check(ctx, queue)?;
    check_zset(ctx, &held)?;
    let now = ctx.now_ms;
    let Some(score) = zset(ctx.db(&held), &held, now)?.and_then(|z| z.remove(user)) else {
        out.int(0);
        return Ok(());
    };
    ctx.notify(ev::ZSET, "zrem", &held);
    drop_if_empty(ctx, &held);
    ctx.modified_in_sale(&held);
    let home = line.home(queue, user);
    let before = zadd(ctx, home, user, score);
    line.added(ctx, queue, before, score);
    ctx.modified_in_sale(home);
    ctx.notify(ev::ZSET, "zadd", home);
    ctx.ready(home);
    out.int(1);
    Ok(())
}

/// The pre-queue score of `user`: its slot under the policy's seed (see `queue::draw`), so
/// the shuffle can be recomputed from the seed. Users on the same slot share the score and
/// are ordered by id.
fn prequeue_score(p: &Policy, queue: &[u8], user: &[u8], open_at: i64) -> f64 {
    prequeue_slot(
        open_at,
        prequeue_slot_of(p.seed_or(queue), user, PREQUEUE_SLOTS),
    )
}

/// The admission pace for estimates, in users per ms: measured when the window says enough,
/// else the policy's configured rate, else unknown.
fn pace_per_ms(ctx: &mut ExecCtx, queue: &[u8], policy: Option<&Policy>, now: i64) -> Option<f64> {
    let measured = ctx
        .queue_state(queue)
        .and_then(|q| q.stats.rate_per_ms(now));
    measured.or_else(|| {
        policy
            .and_then(|p| p.rate_per_min)
            .map(|r| r as f64 / 60_000.0)
    })
}

/// ```text
/// QPOS queue active user [NOW ms]
/// ```
/// A user's place without joining:
/// `[status, position, waiting, eta_ms, poll_ms, token, state, message, eta_p90_ms]`
/// (on a random event position 0, eta_ms the median and eta_p90_ms the 90th percentile).
/// Status `ACTIVE` (position 0, eta 0), `WAITING`, `PREQUEUE` (before the opening time;
/// position 0, eta counts from the opening) or `NONE`. `eta_ms` estimates the wait from the
/// measured admission pace, or the policy's rate until enough admissions were seen (-1 when
/// unknown). `poll_ms` is when to ask again (the seeds' adaptive interval for the position;
/// -1 for ACTIVE and NONE); the heartbeat timeout follows it. `token` is the user's admission
/// token once active, until consumed (nil otherwise). `state` is the event's (`open`,
/// `prequeue`, `paused`, `closed`), `message` the operator's (nil without one). Polling is a
/// heartbeat on a queue with a heartbeat policy. Complexity: O(log N).
fn qpos(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (queue, active, user) = (argv.arg(1), argv.arg(2), argv.arg(3));
    let opts = parse_options(argv, 4, ONLY_NOW, "qpos")?;
    let now = resolve_now(ctx, opts.now_ms)?;
    let clock = ctx.now_ms;
    let is_active = zset(ctx.db(active), active, clock)?
        .and_then(|z| z.score(user))
        .is_some_and(|e| e > now as f64);
    let rank = Line::of(ctx, queue)?.rank(ctx, queue, user)?;
    let policy = policy_of(ctx, queue)?;
    check_policy_active(policy.as_ref(), active)?;
    let lane_place = match (rank, policy.as_ref()) {
        (None, Some(p)) if !p.lanes.is_empty() => lanes::locate(ctx, queue, Some(p), user)?,
        _ => None,
    };
    let rank = rank.or(lane_place.map(|l| l.rank));
    let held = held_position(ctx, queue, user, policy.as_ref())?;
    // A held user is shown the place their arrival would have, as if waiting.
    let rank = rank.or(held.map(|p| p as usize - 1));
    let open_at = policy
        .as_ref()
        .and_then(|p| p.open_at_ms.filter(|_| p.before_open(now)));
    if let (Some(rank), false, None) = (rank, is_active, held) {
        touch_heartbeat(ctx, queue, user, policy.as_ref(), now, rank as i64 + 1);
    }
    let waiting = live_waiting(ctx, queue, policy.as_ref(), now);
    let mut pace = pace_per_ms(ctx, queue, policy.as_ref(), now);
    if let (Some(place), Some(p)) = (lane_place, policy.as_ref()) {
        // A lane moves at its share of the admissions.
        let main_len = Line::of(ctx, queue)?.len(ctx, queue)?;
        let lens = lanes::lengths(ctx, queue, Some(p));
        let share = lanes::effective_share(p, place.lane, main_len, &lens);
        pace = pace.map(|per_ms| per_ms * share);
    }
    let mut token = None;
    let random = policy.as_ref().is_some_and(|p| p.method == Method::Random);
    let (status, position, eta, eta_p90, poll) = match (is_active, rank, open_at) {
        (true, _, _) => {
            token = crate::cmd::token::admission_token_of(ctx, queue, user);
            ("ACTIVE", 0, 0, 0, -1)
        }
        (false, Some(_), Some(open)) => {
            let until_open = open - now;
            let poll = until_open.clamp(1, poll_ms(waiting));
            ("PREQUEUE", 0, until_open, until_open, poll)
        }
        (false, Some(_), None) if random => {
            // Every live waiter is equally likely at each draw: with the line as it stands,
            // half of it is drawn within 0.5 × waiting admissions, 90% within 0.9 ×.
            let pct = |share: f64| {
                let drawn_within = (waiting as f64 * share).ceil().max(1.0) as u64;
                pace.and_then(|p| eta_ms(drawn_within, p, now, now))
                    .unwrap_or(-1)
            };
            ("WAITING", 0, pct(0.5), pct(0.9), poll_ms(waiting))
        }
        (false, Some(rank), None) => {
            let position = rank as i64 + 1;
            let eta = pace
                .and_then(|p| eta_ms(position as u64, p, now, now))
                .unwrap_or(-1);
            ("WAITING", position, eta, eta, poll_ms(position))
        }
        (false, None, _) => ("NONE", 0, -1, -1, -1),
    };
    out.array(9);
    out.bulk(status.as_bytes());
    out.int(position);
    out.int(waiting);
    out.int(eta);
    out.int(poll);
    match token {
        Some(t) => out.bulk(&t),
        None => out.null(),
    }
    out.bulk(
        policy
            .as_ref()
            .map_or("open", |p| p.state_at(now))
            .as_bytes(),
    );
    match policy.as_ref().and_then(|p| p.message.as_deref()) {
        Some(m) => out.bulk(m),
        None => out.null(),
    }
    out.int(eta_p90);
    Ok(())
}

/// ```text
/// QLEAVE queue user
/// ```
/// Leaves the line (and drops the user's heartbeat). Reply: 1 if the user was in line, else 0.
/// Complexity: O(log N).
fn qleave(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (queue, user) = (argv.arg(1), argv.arg(2));
    let line = Line::of(ctx, queue)?;
    line.check(ctx, queue)?;
    let left = zrem_score(ctx, line.home(queue, user), user);
    if let Some(score) = left {
        line.removed(ctx, queue, score);
    }
    let mut removed = left.is_some();
    if !removed {
        let policy = policy_of(ctx, queue)?;
        if policy.as_ref().is_some_and(|p| !p.lanes.is_empty()) {
            lanes::check(ctx, queue, policy.as_ref())?;
            removed = lanes::remove(ctx, queue, policy.as_ref(), user).is_some();
        }
    }
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
/// Records that a waiting user is still there, on a queue whose policy has HEARTBEAT: the
/// user's next heartbeat is then due after the timeout for its position (see QPOS's
/// `poll_ms`). Reply: 1 if the user is in line, else 0 (nothing recorded). A queue without a
/// heartbeat policy answers an error: nothing would ever read the heartbeat.
/// Complexity: O(log N).
fn qheartbeat(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (queue, user) = (argv.arg(1), argv.arg(2));
    let opts = parse_options(argv, 3, ONLY_NOW, "qheartbeat")?;
    let now = resolve_now(ctx, opts.now_ms)?;
    Line::of(ctx, queue)?.check(ctx, queue)?;
    let policy = policy_of(ctx, queue)?;
    if policy.as_ref().is_none_or(|p| p.heartbeat_ms.is_none()) {
        return Err(CmdError::Static(
            "ERR the queue has no heartbeat policy: set one with QPOLICY SET queue active HEARTBEAT ms",
        ));
    }
    let hb = heartbeat_key(queue);
    check_zset(ctx, &hb)?;
    let rank = match Line::of(ctx, queue)?.rank(ctx, queue, user)? {
        Some(rank) => Some(rank),
        None => lanes::locate(ctx, queue, policy.as_ref(), user)?.map(|l| l.rank),
    };
    if let Some(rank) = rank {
        touch_heartbeat(ctx, queue, user, policy.as_ref(), now, rank as i64 + 1);
    }
    out.int(rank.is_some() as i64);
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
            client: false,
            invite: false,
            lane: false,
        },
        "qsweep",
    )?;
    let limit = opts.limit.unwrap_or(MAX_BATCH as i64);
    check_zset(ctx, hb)?;
    Line::of(ctx, queue)?.check(ctx, queue)?;
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
    ctx.notify(ev::ZSET, "zrem", hb);
    drop_if_empty(ctx, hb);
    ctx.modified_in_sale(hb);
    let Ok(line) = Line::of(ctx, queue).and_then(|l| l.hold_all(ctx).map(|_| l)) else {
        return stale;
    };
    let mut dropped = 0;
    let mut left: Vec<&SmallBytes> = Vec::new();
    for key in line.keys(queue) {
        let mut here = 0;
        let mut z = zset(ctx.db(key), key, now).ok().flatten();
        let mut scores = Vec::new();
        for user in stale.iter().filter(|u| line.home(queue, u) == key) {
            match z.as_mut().and_then(|z| z.remove(user)) {
                Some(score) => {
                    here += 1;
                    scores.push(score);
                }
                None => left.push(user),
            }
        }
        for score in scores {
            line.removed(ctx, queue, score);
        }
        if here > 0 {
            dropped += here;
            ctx.notify(ev::ZSET, "zrem", key);
            drop_if_empty(ctx, key);
            ctx.modified_in_sale(key);
        }
    }
    // Those not in the main line may wait in a lane.
    if !left.is_empty() {
        if let Ok(Some(p)) = policy_of(ctx, queue) {
            if !p.lanes.is_empty() {
                for user in left {
                    dropped += lanes::remove(ctx, queue, Some(&p), user).is_some() as u64;
                }
            }
        }
    }
    if dropped > 0 {
        count_dropped(ctx, queue, dropped);
    }
    stale
}

/// ```text
/// QRENEW active user ttl-ms [NOW ms]
/// ```
/// Extends a live active session to `now + ttl-ms` (call it on each request of an active
/// buyer); never shortens one. Reply: 1 if the user has a live session (now lasting at least
/// until `now + ttl-ms`), 0 if not. Complexity: O(log N).
fn qrenew(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (active, user) = (argv.arg(1), argv.arg(2));
    let ttl = ttl_ms(argv.arg(3), "qrenew")?;
    let opts = parse_options(argv, 4, ONLY_NOW, "qrenew")?;
    let now = resolve_now(ctx, opts.now_ms)?;
    let clock = ctx.now_ms;
    let expiry = zset(ctx.db(active), active, clock)?
        .and_then(|z| z.score(user))
        .filter(|e| *e > now as f64);
    if let Some(expiry) = expiry {
        let db = ctx.db;
        let queues = ctx
            .shards
            .try_shard(active)
            .map(|s| s.queues.queues_admitting_into(db, active))
            .unwrap_or_default();
        // A policy with RENEW no keeps sessions at the length they were admitted with.
        let mut renewable = true;
        for queue in &queues {
            if let Ok(Some(p)) = policy_of(ctx, queue) {
                renewable &= p.renew;
            }
        }
        let renewed = (now + ttl) as f64;
        if renewable && renewed > expiry {
            zadd(ctx, active, user, renewed);
            ctx.modified_in_sale(active);
            ctx.notify(ev::ZSET, "zadd", active);
        }
        // Renewing is activity at the origin: the user showed up.
        for queue in queues {
            crate::cmd::qpolicy::noshow::showed_up(ctx, &queue, user);
        }
    }
    out.int(expiry.is_some() as i64);
    Ok(())
}

/// ```text
/// QREVOKE active user [NOW ms]
/// ```
/// Ends an active session now, and withdraws the admission token of every queue whose policy
/// admits into `active`; a policy with FEED gets a `revoked` entry (at NOW, so the logged
/// command replays the same entry). Reply: 1 if the user had a session entry, else 0.
/// Complexity: O(log N).
fn qrevoke(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (active, user) = (argv.arg(1), argv.arg(2));
    let opts = parse_options(argv, 3, ONLY_NOW, "qrevoke")?;
    let now = resolve_now(ctx, opts.now_ms)?;
    check_zset(ctx, active)?;
    let removed = zrem(ctx, active, user);
    crate::cmd::token::withdraw_admission_tokens(ctx, active, user);
    if removed {
        revoked_in_feeds(ctx, active, user, now);
    }
    out.int(removed as i64);
    Ok(())
}

/// ```text
/// QEND queue user COMPLETED|ABANDONED [NOW ms]
/// ```
/// The buyer ends their own session: the purchase is done, or they gave up. The session
/// leaves the policy's active set at once (its place under MAXACTIVE goes to the next in
/// line), the admission token is withdrawn, the user counts as having shown up, and the
/// outcome is counted in `<queue>:stats` (`completed`, `abandoned`; QSTATS) and written to
/// the feed. Reply: 1 if the user had a live session, else 0 (nothing changes).
/// Complexity: O(log N).
fn qend(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (queue, user) = (argv.arg(1), argv.arg(2));
    let outcome: &'static [u8] = if is(argv.arg(3), "COMPLETED") {
        b"completed"
    } else if is(argv.arg(3), "ABANDONED") {
        b"abandoned"
    } else {
        return Err(CmdError::Syntax);
    };
    let opts = parse_options(argv, 4, ONLY_NOW, "qend")?;
    let now = resolve_now(ctx, opts.now_ms)?;
    let Some(p) = policy_of(ctx, queue)? else {
        return Err(CmdError::Static(
            "ERR QEND needs a queue with a policy (QPOLICY SET)",
        ));
    };
    check_zset(ctx, &p.active)?;
    let clock = ctx.now_ms;
    let live = zset(ctx.db(&p.active), &p.active, clock)?
        .and_then(|z| z.score(user))
        .is_some_and(|expiry| expiry > now as f64);
    if !live {
        out.int(0);
        return Ok(());
    }
    zrem(ctx, &p.active, user);
    crate::cmd::token::withdraw_admission_tokens(ctx, &p.active, user);
    crate::cmd::qpolicy::noshow::showed_up(ctx, queue, user);
    crate::cmd::qpolicy::stats::bump(ctx, queue, outcome, 1);
    crate::cmd::qpolicy::feed::user_event(ctx, queue, &p, now, outcome, user, &[]);
    out.int(1);
    Ok(())
}

/// A `revoked` entry in the feed of every queue whose policy admits into `active` and keeps one.
fn revoked_in_feeds(ctx: &mut ExecCtx, active: &[u8], user: &[u8], now: i64) {
    let db = ctx.db;
    let queues = match ctx.shards.try_shard(active) {
        Some(shard) => shard.queues.queues_admitting_into(db, active),
        None => return,
    };
    for queue in queues {
        if let Ok(Some(p)) = policy_of(ctx, &queue) {
            crate::cmd::qpolicy::feed::user_event(ctx, &queue, &p, now, b"revoked", user, &[]);
        }
    }
}

/// ```text
/// QSTATS queue active [NOW ms]
/// ```
/// A summary map: `state` (the event's: `open`, `prequeue`, `paused`, `closed`), `waiting` (not counting waiters whose heartbeat lapsed), `active` (live
/// sessions), `admitted` (since the line's statistics started), `admit_rate` (users per minute
/// measured over the last minute; nil until enough admissions were seen), `oldest_wait_ms`
/// (how long the head of the line has waited; -1 when empty), `eta_last_ms` (estimated
/// wait of the last in line, from the measured pace or the policy's rate; -1 when unknown),
/// then the method, queueing, dropped, and the durable statistics of a policy's event
/// (`stats.rs`: last minute's admissions, time-in-line percentiles, shows, no-shows).
/// Complexity: O(log N).
fn qstats(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (queue, active) = (argv.arg(1), argv.arg(2));
    let opts = parse_options(argv, 3, ONLY_NOW, "qstats")?;
    let now = resolve_now(ctx, opts.now_ms)?;
    let line = Line::of(ctx, queue)?;
    line.check(ctx, queue)?;
    check_zset(ctx, active)?;
    let policy = policy_of(ctx, queue)?;
    let clock = ctx.now_ms;
    let waiting = live_waiting(ctx, queue, policy.as_ref(), now);
    let head = line.head_score(ctx, queue)?;
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
        .get(db, queue)
        .map_or((0, None, false, 0), |q| {
            (
                q.stats.admitted_total,
                q.stats.rate_per_min(now),
                q.queueing,
                q.dropped_total,
            )
        });
    let open_at = policy
        .as_ref()
        .and_then(|p| p.open_at_ms.filter(|_| p.before_open(now)))
        .unwrap_or(now);
    let eta_last = match pace_per_ms(ctx, queue, policy.as_ref(), now) {
        _ if waiting == 0 => 0,
        Some(p) => eta_ms(waiting as u64, p, now, open_at).unwrap_or(-1),
        None => -1,
    };
    let (mut admitted, measured, auto_queueing, dropped) = stats;
    // With a policy the event's statistics live in its keys: they survive a restart or a
    // failover, where the in-memory counters start again from zero.
    let durable = match &policy {
        Some(_) => crate::cmd::qpolicy::stats::durable(ctx, queue, now),
        None => Default::default(),
    };
    if policy.is_some() {
        admitted = durable.admitted as u64;
    }
    let method = policy.as_ref().map_or(Method::Fifo, |p| p.method);
    // Whether an arrival now would wait in line.
    let queueing = match method {
        _ if policy.as_ref().is_some_and(|p| p.refuses_arrivals(now)) => false,
        Method::Auto => auto_queueing,
        Method::Passthrough => waiting > 0,
        _ => true,
    };
    let lanes_waiting = match policy.as_ref().filter(|p| !p.lanes.is_empty()) {
        Some(p) => {
            let lens = lanes::lengths(ctx, queue, Some(p));
            let main = line.len(ctx, queue)?;
            let mut rows = vec![(b"main".to_vec(), main)];
            rows.extend(p.lanes.iter().map(|l| l.name.clone()).zip(lens));
            Some(rows)
        }
        None => None,
    };
    out.map(18 + lanes_waiting.is_some() as usize);
    out.bulk(b"state");
    out.bulk(
        policy
            .as_ref()
            .map_or("open", |p| p.state_at(now))
            .as_bytes(),
    );
    out.bulk(b"waiting");
    out.int(waiting);
    out.bulk(b"active");
    out.int(live);
    out.bulk(b"admitted");
    out.int(admitted as i64);
    out.bulk(b"admit_rate");
    match measured {
        Some(r) => out.double(r),
        None => out.null(),
    }
    out.bulk(b"oldest_wait_ms");
    out.int(head.map_or(-1, |s| (now as f64 - s).max(0.0) as i64));
    out.bulk(b"eta_last_ms");
    out.int(eta_last);
    out.bulk(b"method");
    out.bulk(method.name().as_bytes());
    out.bulk(b"queueing");
    out.int(queueing as i64);
    out.bulk(b"dropped");
    out.int(dropped as i64);
    out.bulk(b"admitted_last_minute");
    out.int(durable.last_minute);
    for (i, name) in ["wait_p50_ms", "wait_p90_ms", "wait_p99_ms"]
        .iter()
        .enumerate()
    {
        out.bulk(name.as_bytes());
        out.int(durable.wait_ms.map_or(-1, |w| w[i]));
    }
    out.bulk(b"shows");
    out.int(durable.shows);
    out.bulk(b"noshows");
    out.int(durable.noshows);
    out.bulk(b"completed");
    out.int(durable.completed);
    out.bulk(b"abandoned");
    out.int(durable.abandoned);
    if let Some(rows) = lanes_waiting {
        // How many wait in the main line and in each lane (all counted in `waiting`).
        out.bulk(b"lanes");
        out.map(rows.len());
        for (name, n) in rows {
            out.bulk(&name);
            out.int(n as i64);
        }
    }
    Ok(())
}

const W: Flags = Flags::WRITE.union(Flags::SAME_SLOT);
const WF: Flags = W.union(Flags::FAST);
const WFD: Flags = WF.union(Flags::DENYOOM);
const CLOCK: Flags = Flags::NONDETERMINISTIC;

pub static COMMANDS: &[Spec] = &[
    cmd("ENTER", -4, WFD.union(CLOCK), enter as EngineHandler)
        .keys(1, 2, 1)
        .warms(WarmHint { key: 1, member: 3, rank: true })
        .doc(Group::Queue, "0.1.0", "Joins a user to a waiting line idempotently and returns its status, 1-based position and the line's length.", "O(log(N)) with N the number of users in line."),
    cmd("ADMIT", -4, W.union(Flags::DENYOOM).union(CLOCK), admit as EngineHandler)
        .keys(1, 2, 1)
        .doc(Group::Queue, "0.1.0", "Admits the earliest arrivals of a waiting line (random draws on a random event) into the active set, dropping expired sessions and respecting a cap.", "O((E+K)*log(N)) with E expired sessions removed and K users admitted."),
    cmd("QPOS", -4, WF.union(CLOCK), qpos as EngineHandler)
        .keys(1, 2, 1)
        .warms(WarmHint { key: 1, member: 3, rank: true })
        .doc(Group::Queue, "0.1.0", "Returns a user's status, position, the line's length, an estimated wait, when to poll again and, once active, the admission token.", "O(log(N))"),
    cmd("QHOLD", -3, WF.union(CLOCK), qhold as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Queue, "0.1.0", "Holds a user in an infinite queue: they see a normal, moving position and are never admitted.", "O(log(N))"),
    cmd("QUNHOLD", 3, WF, qunhold as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Queue, "0.1.0", "Releases a held user back into the line at their original arrival.", "O(log(N))"),
    cmd("QLEAVE", 3, WF, qleave as EngineHandler)
        .keys(1, 1, 1)
        .warms(WarmHint { key: 1, member: 2, rank: true })
        .doc(Group::Queue, "0.1.0", "Removes a user from a waiting line (or its lane) and its heartbeat set.", "O(log(N))"),
    cmd("QHEARTBEAT", -3, WFD.union(CLOCK), qheartbeat as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Queue, "0.1.0", "Records that a waiting user is still present.", "O(log(N))"),
    cmd("QSWEEP", -4, W, qsweep as EngineHandler)
        .keys(1, 2, 1)
        .doc(Group::Queue, "0.1.0", "Removes, in one bounded batch, waiting users whose heartbeat lapsed.", "O((K+1)*log(N)) with K users removed."),
    cmd("QRENEW", -4, WFD.union(CLOCK), qrenew as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Queue, "0.1.0", "Extends a live active session; never shortens one.", "O(log(N))"),
    cmd("QREVOKE", -3, WF.union(CLOCK), qrevoke as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Queue, "0.1.0", "Ends an active session now and withdraws its admission token.", "O(log(N))"),
    cmd("QEND", -4, WF.union(CLOCK), qend as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Queue, "0.1.0", "Ends a buyer's own session as completed or abandoned, freeing its place for the next in line.", "O(log(N))"),
    cmd("QSTATS", -3, Flags::READONLY.union(Flags::FAST).union(Flags::SAME_SLOT).union(CLOCK), qstats as EngineHandler)
        .keys(1, 2, 1)
        .doc(Group::Queue, "0.1.0", "Summarizes a waiting line: waiting, active, admitted, admission rate, oldest wait, estimated wait of the last, and the durable time-in-line percentiles and no-show counts.", "O(log(N))"),
];
