//! Admission policies: the QPOLICY container (SET, UNSET, GET, DEL, LIST, HELP), reading a
//! queue's policy for the rest of the family, and the policy tick the server runs for every
//! queue that has one.
//!
//! The policy hash `<queue>:policy` is the truth and is re-read on every use, so an edit takes
//! effect at once; the shard remembers the last valid policy so that a malformed edit never
//! loosens a limit (see [`crate::queue::policy`]). The tick runs under the queue's shard lock
//! and touches only keys of the queue's slot: the policy's active set must share it (checked
//! at QPOLICY SET by `Flags::SAME_SLOT`, and at every read of the hash).

pub mod feed;
pub mod lanes;
pub mod noshow;
mod reset;
pub mod stats;

use crate::cmd::hash::get_hash;
use crate::cmd::keys::write_help;
use crate::cmd::queue::{admit_users, check_zset, sweep, zadd, Admission, MAX_BATCH};
use crate::cmd::zset::get_zset as zset;
use crate::command::{cmd, container, CommandSpec, EngineHandler, Flags, Group};
use crate::ctx::ExecCtx;
use crate::error::{CmdError, CmdResult};
use crate::keyspace_events as ev;
use crate::queue::heartbeat::timeout_ms;
use crate::queue::policy::{heartbeat_key, policy_key, Policy, FIELDS};
use crate::queue::split::Line;
use crate::shard::Shard;
use crate::types::hash::{Hash, ListpackLimits};
use crate::types::zset::ScoreBound;
use crate::value::Value;
use smallvec::SmallVec;
use usher_protocol::{Argv, ReplySink};

type Spec = CommandSpec<EngineHandler>;

/// The policy of `queue`, if it has one: the hash as it reads now, with any refused field at
/// its last valid value. A policy hash of the wrong type, or one without a usable `active`,
/// leaves the last valid policy in force (and the refusal shows in QPOLICY GET).
pub(crate) fn policy_of(ctx: &mut ExecCtx, queue: &[u8]) -> Result<Option<Policy>, CmdError> {
    let db = ctx.db;
    if !ctx.shards.shard(queue).queues.has_policy(db, queue) {
        return Ok(None);
    }
    let key = policy_key(queue);
    if !ctx.shards.holds(&key) {
        return Ok(None);
    }
    let last = ctx
        .shards
        .shard(queue)
        .queues
        .policy_state(db, queue)
        .and_then(|s| s.policy.clone());
    let now = ctx.now_ms;
    let (policy, errors) = match get_hash(ctx.db(&key), &key, now) {
        Ok(Some(h)) => Policy::from_hash(h, queue, last.as_ref()),
        Ok(None) => return Ok(None),
        Err(_) => (
            last.clone(),
            vec!["the policy key holds the wrong kind of value".to_string()],
        ),
    };
    match &policy {
        Some(p) if Some(p) != last.as_ref() => {
            // A hash edited by hand that switches heartbeats on back-fills as QPOLICY SET
            // does: nobody over an empty line, whenever the next tick runs.
            let gains_heartbeat =
                p.heartbeat_ms.is_some() && last.as_ref().is_none_or(|l| l.heartbeat_ms.is_none());
            let empty = gains_heartbeat && line_is_empty(ctx, queue);
            ctx.shards
                .shard(queue)
                .queues
                .store_policy(db, queue, p.clone(), errors, empty)
        }
        _ => {
            if let Some(state) = ctx.shards.shard(queue).queues.policy_state(db, queue) {
                state.errors = errors;
            }
        }
    }
    Ok(policy)
}

/// Writes `policy` as the hash `<queue>:policy` (replacing it) and registers it. The hash also
/// names its queue (`queue`), so that a policy loaded from a snapshot finds its queue again
/// ([`adopt_policy_hash`]): the key name alone cannot say (`{q}:policy` serves `q` and `{q}`).
fn store(ctx: &mut ExecCtx, queue: &[u8], policy: Policy) {
    let key = policy_key(queue);
    let limits = ListpackLimits::from_config(ctx.config);
    let mut hash = Hash::new();
    hash.set(b"queue", queue, limits);
    for (field, value) in policy.fields() {
        hash.set(field, &value, limits);
    }
    ctx.db(&key).set(&key, Value::Hash(Box::new(hash)));
    ctx.modified(&key);
    ctx.notify(ev::HASH, "hset", &key);
    let db = ctx.db;
    let empty = line_is_empty(ctx, queue);
    ctx.shards
        .shard(queue)
        .queues
        .store_policy(db, queue, policy, Vec::new(), empty);
}

/// Whether nobody waits in `queue` (every sub-queue of a split line counted).
fn line_is_empty(ctx: &mut ExecCtx, queue: &[u8]) -> bool {
    Line::of(ctx, queue).and_then(|line| line.len(ctx, queue)) == Ok(0)
}

/// The current policy for QPOLICY SET/UNSET to start from; WRONGTYPE if the key is taken.
fn current(ctx: &mut ExecCtx, queue: &[u8]) -> Result<Option<Policy>, CmdError> {
    let key = policy_key(queue);
    let now = ctx.now_ms;
    get_hash(ctx.db(&key), &key, now)?;
    policy_of(ctx, queue)
}

/// Registers the policy stored at `key` in `db` of `shard`, if `key` is a policy hash written by
/// QPOLICY SET (it names its queue, and is that queue's policy key): for loaders (snapshots,
/// logs, replication) that bring keys back without running QPOLICY. Returns true if adopted.
pub fn adopt_policy_hash(shard: &mut Shard, db: usize, key: &[u8], now_ms: i64) -> bool {
    let Ok(Some(h)) = get_hash(shard.db(db), key, now_ms) else {
        return false;
    };
    let Some(queue) = h.get(b"queue").map(<[u8]>::to_vec) else {
        return false;
    };
    if policy_key(&queue) != key {
        return false;
    }
    let (Some(policy), errors) = Policy::from_hash(h, &queue, None) else {
        return false;
    };
    shard.queues.store_policy(db, &queue, policy, errors, false);
    true
}

/// What the metrics endpoint shows of one waiting-room event (a queue the shard keeps state
/// for), read under the shard's lock at scrape time.
pub struct EventGauges {
    pub db: usize,
    pub queue: Vec<u8>,
    pub waiting: u64,
    /// Live sessions in the policy's active set (`None` without a policy: no known set).
    pub active: Option<u64>,
    pub admitted_total: u64,
    /// Measured admissions per second, once known.
    pub admit_rate_per_sec: Option<f64>,
    pub policy_rate_per_sec: Option<f64>,
    pub max_active: Option<i64>,
    pub policy_errors: usize,
    pub dropped_total: u64,
    pub tokens_issued_total: u64,
    pub tokens_consumed_total: u64,
}

/// One event's seat counters (by the seat keys' hash tag), for the metrics endpoint.
pub struct SeatCounters {
    pub db: usize,
    pub event: Vec<u8>,
    pub stats: crate::queue::registry::SeatStats,
}

/// The seat counters of every event on `shard`, at most `limit` of them.
pub fn seat_counters(shard: &Shard, limit: usize) -> Vec<SeatCounters> {
    shard
        .queues
        .seat_events()
        .take(limit)
        .map(|(db, tag, stats)| SeatCounters {
            db,
            event: tag.to_vec(),
            stats: stats.clone(),
        })
        .collect()
}

/// The gauges of every event on `shard`, at most `limit` of them (label sets stay bounded).
pub fn event_gauges(shard: &mut Shard, now_ms: i64, limit: usize) -> Vec<EventGauges> {
    let mut out: Vec<EventGauges> = shard
        .queues
        .iter()
        .take(limit)
        .map(|(db, q, state)| {
            let policy = state.policy.as_ref();
            EventGauges {
                db,
                queue: q.to_vec(),
                // A split line's waiters are on other shards: its arrival index counts them.
                waiting: match (&state.split, &state.arrivals) {
                    (Some(_), Some((index, _))) => index.len() as u64,
                    _ => 0,
                },
                active: None,
                admitted_total: state.stats.admitted_total,
                admit_rate_per_sec: state.stats.rate_per_ms(now_ms).map(|r| r * 1000.0),
                policy_rate_per_sec: policy
                    .and_then(|p| p.policy.as_ref())
                    .and_then(|p| p.rate_per_min)
                    .map(|r| r as f64 / 60.0),
                max_active: policy
                    .and_then(|p| p.policy.as_ref())
                    .and_then(|p| p.max_active),
                policy_errors: policy.map_or(0, |p| p.errors.len()),
                dropped_total: state.dropped_total,
                tokens_issued_total: state.tokens_issued_total,
                tokens_consumed_total: state.tokens_consumed_total,
            }
        })
        .collect();
    for g in &mut out {
        let db = shard.db(g.db);
        g.waiting += zset(db, &g.queue, now_ms)
            .ok()
            .flatten()
            .map_or(0, |z| z.len() as u64);
        let active_key = shard
            .queues
            .get(g.db, &g.queue)
            .and_then(|q| q.policy.as_ref())
            .and_then(|p| p.policy.as_ref())
            .map(|p| p.active.clone());
        if let Some(key) = active_key {
            g.active = Some(
                zset(shard.db(g.db), &key, now_ms)
                    .ok()
                    .flatten()
                    .map_or(0, |z| {
                        z.count_in_score_range(
                            &ScoreBound::Exclusive(now_ms as f64),
                            &ScoreBound::Inclusive(f64::INFINITY),
                        ) as u64
                    }),
            );
        }
    }
    out
}

/// ```text
/// QPOLICY SET queue active [MAXACTIVE n] [RATE per-minute] [TTL ms] [HEARTBEAT ms]
///     [OPENAT unix-ms] [CHANNEL channel] [TOKENS ttl-ms] [STATE open|paused|closed]
///     [METHOD fifo|random|auto|passthrough|reject] [MAXWAITING n] [MESSAGE text]
///     [MAXPERCLIENT n] [NOSHOW ms] [SEED text] [TOKENALG HS256|EdDSA] [INVITEONLY yes|no]
///     [FEED maxlen] [SOON n] [EXPIRING ms]
/// ```
/// Sets the queue's admission policy and has the server run it: admissions at RATE per minute
/// under the MAXACTIVE cap, sessions of TTL ms, heartbeats (a waiter silent for HEARTBEAT ms,
/// or three of its poll intervals if longer, is dropped), a shuffled pre-queue before OPENAT,
/// each admission published on CHANNEL as JSON, and one admission token per admission, valid
/// for TOKENS ms; STATE pauses admissions (`paused`) or turns new arrivals away (`closed`),
/// METHOD draws admissions at random (`random`), admits arrivals at once while under the cap
/// and the rate (`auto`) or while nobody waits and the cap allows (`passthrough`) or
/// turns them away (`reject`), MAXWAITING bounds the line (later arrivals get FULL) and
/// MESSAGE reaches everyone waiting through QPOS; a change of state or message is published
/// on CHANNEL; TOKENALG signs admission tokens and invites with the key ring's Ed25519 key
/// (`EdDSA`) rather than `token-secret` (`HS256`), INVITEONLY has ENTER take only users who
/// present an unused invite (TOKENINVITE). FEED keeps every announcement, per user and without
/// tokens, in the stream `<queue>:feed` (trimmed to maxlen entries), with SOON a `soon` entry
/// for each waiter reaching the first n places and with EXPIRING an `expiring` entry for each
/// session within that many ms of its end (see [`feed`]). On an existing policy only the
/// options given change (QPOLICY UNSET clears one).
/// `active` must share the queue's hash slot. Reply: OK.
fn qpolicy_set(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (queue, active) = (argv.arg(2), argv.arg(3));
    check_zset(ctx, queue)?;
    check_zset(ctx, active)?;
    let base = current(ctx, queue)?;
    let policy = Policy::from_args(active, base.as_ref(), argv.iter().skip(4))?;
    if let Some(seed) = policy
        .seed
        .as_ref()
        .filter(|s| base.as_ref().and_then(|b| b.seed.as_ref()) != Some(*s))
    {
        // A seed drawn here is written into the log, so a replay shuffles and draws alike.
        let mut logged: Vec<Vec<u8>> = argv.iter().map(<[u8]>::to_vec).collect();
        logged.extend([b"SEED".to_vec(), seed.clone()]);
        ctx.log_as(logged);
    }
    store(ctx, queue, policy.clone());
    announce_state(ctx, queue, &policy);
    out.ok();
    Ok(())
}

/// Publishes a change of the event's state or message on the policy's channel, so pages can
/// show "paused", "open" or the operator's message without waiting for their next poll: at
/// once for an operator's change, and from the tick for a scheduled one (the pre-queue
/// opening, the sale opening or ending). Each change is announced once.
fn announce_state(ctx: &mut ExecCtx, queue: &[u8], after: &Policy) {
    let (db, now) = (ctx.db, ctx.now_ms);
    let current = (after.state_at(now), after.message.clone());
    let Some(state) = ctx.shards.shard(queue).queues.policy_state(db, queue) else {
        return;
    };
    // A new policy was an open event without a message.
    let was = state
        .announced
        .replace(current.clone())
        .unwrap_or(("open", None));
    let Some(channel) = &after.channel else {
        return;
    };
    if was == current {
        return;
    }
    let message = serde_json::json!({
        "event": "state",
        "queue": String::from_utf8_lossy(queue),
        "state": after.state_at(now),
        "message": after.message.as_deref().map(String::from_utf8_lossy),
    });
    ctx.effects
        .publish
        .push((channel.clone(), message.to_string().into_bytes()));
}

/// ```text
/// QPOLICY UNSET queue field [field ...]
/// ```
/// Clears optional fields of the queue's policy (`maxactive`, `rate`, `heartbeat`, `openat`,
/// `channel`, `tokens`; `ttl` returns to its default). Reply: OK.
fn qpolicy_unset(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let queue = argv.arg(2);
    let Some(before) = current(ctx, queue)? else {
        return Err(CmdError::Static("ERR the queue has no policy"));
    };
    let mut policy = before.clone();
    for field in argv.iter().skip(3) {
        let name = String::from_utf8_lossy(field).to_ascii_lowercase();
        if !FIELDS.contains(&name.as_str()) {
            return Err(CmdError::Owned(format!(
                "ERR unknown policy field '{}' (fields: {})",
                String::from_utf8_lossy(field),
                FIELDS.join(", ")
            )));
        }
        policy.unset_field(&name);
    }
    store(ctx, queue, policy.clone());
    announce_state(ctx, queue, &policy);
    out.ok();
    Ok(())
}

/// ```text
/// QPOLICY GET queue
/// ```
/// The queue's policy in force as a map (nil when it has none), plus `errors` (an array) when
/// the hash holds fields that were refused. Complexity: O(1).
fn qpolicy_get(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let queue = argv.arg(2);
    let Some(p) = policy_of(ctx, queue)? else {
        out.null();
        return Ok(());
    };
    let db = ctx.db;
    let errors = ctx
        .shards
        .shard(queue)
        .queues
        .policy_state(db, queue)
        .map(|s| s.errors.clone())
        .unwrap_or_default();
    let fields = p.fields();
    out.map(fields.len() + usize::from(!errors.is_empty()));
    for (name, value) in fields {
        out.bulk(name);
        out.bulk(&value);
    }
    if !errors.is_empty() {
        out.bulk(b"errors");
        out.array(errors.len());
        for e in &errors {
            out.bulk(e.as_bytes());
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
        ctx.notify(ev::GENERIC, "del", &key);
    }
    out.int(had as i64);
    Ok(())
}

/// ```text
/// QPOLICY LIST
/// ```
/// The queues of the selected database whose policy the server runs, sorted.
fn qpolicy_list(ctx: &mut ExecCtx, _argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let db = ctx.db;
    let mut queues: Vec<_> = ctx
        .shards
        .iter_mut()
        .flat_map(|s| s.queues.policy_queues())
        .filter(|(d, _)| *d == db)
        .map(|(_, q)| q)
        .collect();
    queues.sort();
    out.array(queues.len());
    for q in &queues {
        out.bulk(q);
    }
    Ok(())
}

const HELP: &[&str] = &[
    "QPOLICY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "SET <queue> <active> [MAXACTIVE n] [RATE per-minute] [TTL ms] [HEARTBEAT ms] [TOKENS ms]",
    "    [PREQUEUEAT unix-ms] [OPENAT unix-ms] [CLOSEAT unix-ms] [CHANNEL channel]",
    "    [STATE open|paused|closed] [METHOD fifo|random|auto|passthrough|reject]",
    "    [MAXWAITING n] [MESSAGE text] [MAXPERCLIENT n] [NOSHOW ms] [SEED text]",
    "    [TOKENALG HS256|EdDSA] [INVITEONLY yes|no] [FEED maxlen] [SOON n] [EXPIRING ms]",
    "    [LANES name:percent,...]",
    "    Set the queue's admission policy, or change the options given; the server runs it.",
    "UNSET <queue> <field> [<field> ...]",
    "    Clear policy fields (maxactive, rate, ttl, heartbeat, prequeueat, openat, closeat, channel, tokens, state, method, maxwaiting, message, maxperclient, noshow, seed, tokenalg, inviteonly, feed, soon, expiring, lanes).",
    "GET <queue>",
    "    Return the policy in force, and the errors of fields that were refused.",
    "DEL <queue>",
    "    Stop running the queue's policy and delete it.",
    "RESET <queue> [KEEPACTIVE] [NOW unix-ms]",
    "    Start the event over: empty its line and lanes, clear its statistics, end its sessions (unless KEEPACTIVE).",
    "LIST",
    "    Return the queues of this database that have a policy.",
    "HELP",
    "    Print this help.",
];

fn qpolicy_help(_ctx: &mut ExecCtx, _argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    write_help(out, HELP);
    Ok(())
}

/// One tick of a queue's policy, run by the server under the queue's shard lock: gives
/// heartbeat deadlines to waiters who joined before heartbeats were on, sweeps a batch of
/// silent waiters, then admits what the rate allows. Returns false once the queue has no
/// policy any more (its hash was deleted), so the server stops ticking it.
pub fn run_policy(ctx: &mut ExecCtx, queue: &[u8]) -> bool {
    let now = ctx.now_ms;
    let policy = match policy_of(ctx, queue) {
        Ok(Some(p)) => p,
        Ok(None) | Err(_) => {
            let key = policy_key(queue);
            if ctx.shards.holds(&key) && ctx.db(&key).contains(&key, now) {
                return true; // unusable, reported by QPOLICY GET; nothing to run
            }
            let db = ctx.db;
            ctx.shards.shard(queue).queues.unregister_policy(db, queue);
            return false;
        }
    };
    if !ctx.shards.holds(&policy.active) {
        return true; // never: the active key shares the queue's slot (Policy::from_hash)
    }
    announce_state(ctx, queue, &policy);
    if let Some(hb_ms) = policy.heartbeat_ms {
        let hb = heartbeat_key(queue);
        let line_ok = Line::of(ctx, queue).is_ok_and(|l| l.check(ctx, queue).is_ok());
        if check_zset(ctx, &hb).is_ok() && line_ok {
            backfill_heartbeats(ctx, queue, &hb, hb_ms);
            let swept = sweep(
                ctx,
                &hb,
                queue,
                &ScoreBound::Inclusive(now as f64),
                MAX_BATCH as i64,
            );
            if !swept.is_empty() {
                // The same sweep, as the manual command that does exactly it.
                let argv = vec![
                    b"QSWEEP".to_vec(),
                    hb.clone(),
                    queue.to_vec(),
                    now.to_string().into_bytes(),
                    b"LIMIT".to_vec(),
                    MAX_BATCH.to_string().into_bytes(),
                ];
                log_tick(ctx, argv);
            }
        }
    }
    if policy.noshow_ms.is_some() {
        let gone = noshow::sweep(ctx, queue, &policy, now);
        if !gone.is_empty() {
            log_noshows(ctx, queue, &policy, &gone);
            feed::noshows(ctx, queue, &policy, now, &gone);
        }
    }
    admit_at_rate(ctx, queue, &policy, now);
    // After the admissions, so `soon` sees the line as this tick left it.
    feed::tick(ctx, queue, &policy, now);
    true
}

/// The tick's admissions: what the policy's rate has earned since the last tick (compensated
/// for no-shows), under its cap, logged as the ADMIT that does exactly the same.
fn admit_at_rate(ctx: &mut ExecCtx, queue: &[u8], policy: &Policy, now: i64) {
    let Some(mut rate) = policy
        .rate_per_min
        .filter(|_| !policy.holds_admissions(now))
    else {
        return;
    };
    if policy.noshow_ms.is_some() {
        let (shows, noshows) = noshow::counts(ctx, queue);
        rate = noshow::compensated_rate(rate, shows, noshows);
    }
    let db = ctx.db;
    let Some(n) = ctx
        .shards
        .shard(queue)
        .queues
        .policy_state(db, queue)
        .map(|s| s.bucket.earn(now, rate))
    else {
        return;
    };
    let line_ok = Line::of(ctx, queue).is_ok_and(|l| l.check(ctx, queue).is_ok());
    if n == 0 || !line_ok || check_zset(ctx, &policy.active).is_err() {
        return;
    }
    let active = policy.active.clone();
    let round = Admission {
        count: n.min(MAX_BATCH),
        max_active: policy.max_active,
        now,
        ttl: policy.ttl_ms,
    };
    let dirty = ctx.effects.dirty;
    let admitted = admit_users(ctx, queue, &active, round, Some(policy));
    if ctx.effects.dirty != dirty {
        // An ADMIT of the same count at the same clock does exactly what this round did
        // (same cap, session length and draws: they are read from the replayed keys).
        log_tick(
            ctx,
            vec![
                b"ADMIT".to_vec(),
                queue.to_vec(),
                active,
                round.count.to_string().into_bytes(),
                b"NOW".to_vec(),
                now.to_string().into_bytes(),
            ],
        );
    }
    if let Some(state) = ctx.shards.shard(queue).queues.policy_state(db, queue) {
        state.bucket.spend(admitted.len());
    }
}

/// Logs a no-show sweep as the writes it made: the users leave the pending set and the active
/// set, their admission tokens go, and the counter grows.
fn log_noshows(ctx: &mut ExecCtx, queue: &[u8], p: &Policy, gone: &[Vec<u8>]) {
    let pending = noshow::pending_key(queue);
    let mut zrem_pending = vec![b"ZREM".to_vec(), pending];
    let mut zrem_active = vec![b"ZREM".to_vec(), p.active.clone()];
    zrem_pending.extend(gone.iter().cloned());
    zrem_active.extend(gone.iter().cloned());
    log_tick(ctx, zrem_pending);
    log_tick(ctx, zrem_active);
    let mut del = vec![b"DEL".to_vec()];
    del.extend(
        gone.iter()
            .map(|u| crate::queue::policy::token_key(queue, u)),
    );
    log_tick(ctx, del);
    let stats = stats::stats_key(queue);
    let n = gone.len().to_string().into_bytes();
    log_tick(
        ctx,
        vec![b"HINCRBY".to_vec(), stats, b"noshows".to_vec(), n],
    );
}

/// Logs one step of a policy's tick (for the AOF and replicas) as the command that replays
/// it; the server appends the tick's entries to the stream before releasing the lock.
pub(crate) fn log_tick(ctx: &mut ExecCtx, argv: Vec<Vec<u8>>) {
    let db = ctx.db;
    ctx.effects.propagate.push((db, argv));
}

/// Gives up to [`MAX_BATCH`] waiters who have no heartbeat deadline (they joined before the
/// policy had heartbeats) one: a full timeout for their position from now. Until then they
/// count as waiting; afterwards they must heartbeat like everyone else.
fn backfill_heartbeats(ctx: &mut ExecCtx, queue: &[u8], hb: &[u8], base_ms: i64) {
    let (db, now) = (ctx.db, ctx.now_ms);
    let Some(after) = ctx
        .shards
        .shard(queue)
        .queues
        .policy_state(db, queue)
        .and_then(|s| s.backfill_after)
    else {
        return;
    };
    let batch = Line::of(ctx, queue)
        .and_then(|line| line.after(ctx, queue, after, MAX_BATCH))
        .unwrap_or_default();
    let mut logged = vec![b"ZADD".to_vec(), hb.to_vec()];
    for (user, _, rank) in &batch {
        let has = matches!(zset(ctx.db(hb), hb, now), Ok(Some(h)) if h.score(user).is_some());
        if !has {
            let due = now + timeout_ms(base_ms, *rank as i64 + 1);
            zadd(ctx, hb, user, due as f64);
            logged.extend([due.to_string().into_bytes(), user.to_vec()]);
        }
    }
    if logged.len() > 2 {
        ctx.modified_in_sale(hb);
        log_tick(ctx, logged);
        ctx.notify(ev::ZSET, "zadd", hb);
    }
    if let Some(state) = ctx.shards.shard(queue).queues.policy_state(db, queue) {
        state.backfill_after = match batch.last() {
            Some((_, score, _)) if batch.len() == MAX_BATCH => Some(*score),
            _ => None,
        };
    }
}

/// QPOLICY SET touches the policy hash and the heartbeat set: both are locked and, like the
/// active set, must share the queue's slot.
fn policy_companions(argv: Argv) -> SmallVec<[Vec<u8>; 2]> {
    argv.get(2)
        .map(|q| SmallVec::from_vec(vec![policy_key(q), heartbeat_key(q)]))
        .unwrap_or_default()
}

fn policy_hash(argv: Argv) -> SmallVec<[Vec<u8>; 2]> {
    argv.get(2).map(policy_key).into_iter().collect()
}

const SLOT: Flags = Flags::SAME_SLOT;

const QPOLICY_SUBCOMMANDS: &[Spec] = &[
    cmd(
        "SET",
        -4,
        Flags::WRITE.union(Flags::DENYOOM).union(SLOT),
        qpolicy_set as EngineHandler,
    )
    .keys(2, 3, 1)
    .derived_keys(policy_companions)
    .doc(
        Group::Queue,
        "0.1.0",
        "Sets a queue's admission policy, or changes the options given; the server then runs it.",
        "O(1)",
    ),
    cmd(
        "UNSET",
        -4,
        Flags::WRITE.union(SLOT),
        qpolicy_unset as EngineHandler,
    )
    .keys(2, 2, 1)
    .derived_keys(policy_hash)
    .doc(
        Group::Queue,
        "0.1.0",
        "Clears fields of a queue's admission policy.",
        "O(1)",
    ),
    cmd(
        "GET",
        3,
        Flags::READONLY.union(Flags::FAST).union(SLOT),
        qpolicy_get as EngineHandler,
    )
    .keys(2, 2, 1)
    .derived_keys(policy_hash)
    .doc(
        Group::Queue,
        "0.1.0",
        "Returns a queue's admission policy in force and any refused fields.",
        "O(1)",
    ),
    cmd(
        "DEL",
        3,
        Flags::WRITE.union(Flags::FAST).union(SLOT),
        qpolicy_del as EngineHandler,
    )
    .keys(2, 2, 1)
    .derived_keys(policy_hash)
    .doc(
        Group::Queue,
        "0.1.0",
        "Removes a queue's admission policy.",
        "O(1)",
    ),
    cmd(
        "RESET",
        -3,
        Flags::WRITE
            .union(SLOT)
            .union(Flags::NONDETERMINISTIC),
        reset::qpolicy_reset as EngineHandler,
    )
    .keys(2, 2, 1)
    .derived_keys(policy_companions)
    .doc(
        Group::Queue,
        "0.1.0",
        "Starts an event over: empties its line and lanes, clears its statistics and ends its sessions, keeping the policy and the feed.",
        "O(N) where N is the number of users waiting and active.",
    ),
    cmd(
        "LIST",
        2,
        Flags::READONLY.union(Flags::ALL_SHARDS),
        qpolicy_list as EngineHandler,
    )
    .doc(
        Group::Queue,
        "0.1.0",
        "Lists the queues of the database that have an admission policy.",
        "O(N) where N is the number of queues with a policy.",
    ),
    cmd(
        "HELP",
        2,
        Flags::READONLY.union(Flags::FAST),
        qpolicy_help as EngineHandler,
    )
    .doc(
        Group::Queue,
        "0.1.0",
        "Returns helpful text about the different subcommands.",
        "O(1)",
    ),
];

pub static COMMANDS: &[Spec] = &[container("QPOLICY", QPOLICY_SUBCOMMANDS).doc(
    Group::Queue,
    "0.1.0",
    "A container for queue admission-policy commands.",
    "Depends on subcommand.",
)];
