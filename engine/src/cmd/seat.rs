//! The seat family: holding seats with fencing tokens (SEATLOCK, SEATLOCKALL), extending a
//! hold (SEATEXTEND), confirming (SEATCONFIRM), releasing (SEATRELEASE), cancelling a sale
//! (SEATCANCEL) and reading one seat (SEATSTATUS) or a section's map (SEATMAP).
//!
//! A seat is an ordinary HASH (`status` HELD|CONFIRMED, `userId`, `token`, `heldAt`) with a TTL
//! while held, and `<seat>:token` is its fencing counter, a plain integer string that never
//! expires, so every hold gets a larger token than any before it. A payment carrying an old
//! token (its hold expired and someone else got the seat) is refused by SEATCONFIRM. Each
//! command validates everything first, so bad input never leaves a half-made hold.
//!
//! A per-user limit on seats held at once (SEATLOCK ... MAXHELD n) keeps an index of the
//! user's live holds in the event, `{tag}:holds:<user>` (a ZSET of seat → hold expiry in ms,
//! named from the seat's hash tag so it shares the seat's slot). Only holds taken with MAXHELD
//! are indexed, so plain SEATLOCK writes exactly what its seed script writes; confirming,
//! releasing, cancelling or extending a seat keeps the index true.

use crate::args;
use crate::cmd::hash::get_hash;
use crate::cmd::zset::get_zset;
use crate::command::{cmd, CommandSpec, DerivedSlot, EngineHandler, Flags, Group};
use crate::ctx::ExecCtx;
use crate::error::{CmdError, CmdResult};
use crate::keyspace_events as ev;
use crate::queue::registry::SeatStats;
use crate::types::hash::{Hash, ListpackLimits};
use crate::types::zset::ScoreBound;
use crate::value::{StrValue, Value};
use smallvec::SmallVec;
use usher_protocol::{errors, Argv, ReplySink};

type Spec = CommandSpec<EngineHandler>;

/// The fencing counter of `seat`: `<seat>:token`, as the seed script names it.
pub fn token_key(seat: &[u8]) -> Vec<u8> {
    // Sized once: growing `seat.to_vec()` by the suffix reallocated on every SEATLOCK (twice:
    // the slot check builds this key too), about 1,200 instructions in the allocator.
    let mut k = Vec::with_capacity(seat.len() + 6);
    k.extend_from_slice(seat);
    k.extend_from_slice(b":token");
    k
}

/// The index of `user`'s live holds in the event of `seat` (see the module comment); `None`
/// for a seat key without a hash tag.
pub fn holds_key(seat: &[u8], user: &[u8]) -> Option<Vec<u8>> {
    holds_key_buf(seat, user).map(|k| k.to_vec())
}

/// [`holds_key`] on the stack for the usual short names: every SEATCONFIRM, SEATRELEASE and
/// SEATEXTEND looks its holds index up, and a heap key cost each an allocation and a free.
fn holds_key_buf(seat: &[u8], user: &[u8]) -> Option<SmallVec<[u8; 64]>> {
    let tag = usher_cluster::naming::hash_tag(seat)?;
    let mut k = SmallVec::with_capacity(tag.len() + user.len() + 10);
    k.push(b'{');
    k.extend_from_slice(tag);
    k.extend_from_slice(b"}:holds:");
    k.extend_from_slice(user);
    Some(k)
}

/// Counts what happened to `seat` in its event's statistics (the seat key's hash tag), for
/// the metrics endpoint; seats without a tag are not counted.
fn count_seat(ctx: &mut ExecCtx, seat: &[u8], bump: impl FnOnce(&mut SeatStats)) {
    let Some(tag) = usher_cluster::naming::hash_tag(seat) else {
        return;
    };
    let db = ctx.db;
    if let Some(stats) = ctx.shards.shard(seat).queues.seat_stats(db, tag) {
        bump(stats);
    }
}

/// SEATLOCK's MAXHELD, if given: `Ok(None)` without it.
fn max_held(argv: Argv) -> Result<Option<i64>, CmdError> {
    match argv.len() {
        4 => Ok(None),
        6 if args::is(argv.arg(4), "MAXHELD") => {
            let n = args::int(argv.arg(5))?;
            if n < 1 {
                return Err(CmdError::Static("ERR MAXHELD must be at least 1"));
            }
            Ok(Some(n))
        }
        _ => Err(CmdError::Syntax),
    }
}

fn seatlock_derived(argv: Argv) -> SmallVec<[Vec<u8>; 2]> {
    let mut keys: SmallVec<[Vec<u8>; 2]> = argv.get(1).map(token_key).into_iter().collect();
    if argv.len() == 6 {
        keys.extend(holds_key(argv.arg(1), argv.arg(2)));
    }
    keys
}

/// The holds index of a command whose seat is at 1 and user at 2 (kept true by every write).
fn seat_user_derived(argv: Argv) -> SmallVec<[Vec<u8>; 2]> {
    match (argv.get(1), argv.get(2)) {
        (Some(seat), Some(user)) => holds_key(seat, user).into_iter().collect(),
        _ => SmallVec::new(),
    }
}

/// Sets (Some(expiry)) or removes (None) `seat` in `user`'s holds index, if the index exists
/// (or, when setting, `create`).
fn index_hold(
    ctx: &mut ExecCtx,
    seat: &[u8],
    user: &[u8],
    expiry: Option<i64>,
    create: bool,
) -> CmdResult {
    let Some(key) = holds_key_buf(seat, user) else {
        return Ok(());
    };
    let key = &key[..];
    let now = ctx.now_ms;
    let exists = get_zset(ctx.db(key), key, now)?.is_some();
    if !(exists || create && expiry.is_some()) {
        return Ok(());
    }
    match expiry {
        Some(at) => {
            crate::cmd::queue::zadd(ctx, key, seat, at as f64);
            ctx.notify(ev::ZSET, "zadd", key);
        }
        None => {
            crate::cmd::queue::zrem(ctx, key, seat);
            crate::cmd::queue::drop_if_empty(ctx, key);
        }
    }
    ctx.modified(key);
    Ok(())
}

/// Live holds in `key` (a holds index) after dropping the expired ones.
fn live_holds(ctx: &mut ExecCtx, key: &[u8]) -> Result<i64, CmdError> {
    let now = ctx.now_ms;
    let Some(z) = get_zset(ctx.db(key), key, now)? else {
        return Ok(0);
    };
    let expired = z.last_rank_in_score_range(
        &ScoreBound::Inclusive(f64::NEG_INFINITY),
        &ScoreBound::Inclusive(now as f64),
    );
    if let Some(last) = expired {
        z.remove_rank_range(0, last);
    }
    let live = z.len() as i64;
    if expired.is_some() {
        ctx.notify(ev::ZSET, "zremrangebyscore", key);
        crate::cmd::queue::drop_if_empty(ctx, key);
        ctx.modified(key);
    }
    Ok(live)
}

fn seatlockall_derived(argv: Argv) -> SmallVec<[Vec<u8>; 2]> {
    argv.iter().skip(3).map(token_key).collect()
}

/// True when the seat hash says it is taken (`status` HELD or CONFIRMED), as the script reads it.
fn is_taken(hash: Option<&mut Hash>) -> bool {
    matches!(
        hash.and_then(|h| h.get(b"status")),
        Some(b"HELD") | Some(b"CONFIRMED")
    )
}

/// The current counter value; errors as INCR would give them.
fn counter(ctx: &mut ExecCtx, key: &[u8]) -> Result<i64, CmdError> {
    let now = ctx.now_ms;
    match ctx.db(key).get(key, now) {
        None => Ok(0),
        Some(Value::Str(StrValue::Int(i))) => Ok(*i),
        Some(Value::Str(s)) => {
            usher_protocol::parse::parse_i64(&s.to_vec()).ok_or(CmdError::NotInteger)
        }
        Some(_) => Err(CmdError::WrongType),
    }
}

/// A hold's TTL in seconds: positive (a hold that expires at once would be reported as taken
/// while the seat stays free), and small enough that now plus it is a valid time. Anything
/// else is Redis's `invalid expire time` error, before anything changes.
fn ttl_seconds(ctx: &ExecCtx, arg: &[u8], command: &str) -> Result<i64, CmdError> {
    let ttl = args::int(arg)?;
    let valid = ttl > 0
        && ttl
            .checked_mul(1000)
            .and_then(|ms| ms.checked_add(ctx.now_ms))
            .is_some_and(|at| at <= crate::queue::MAX_TIME_MS);
    if !valid {
        return Err(CmdError::Owned(errors::fill(
            errors::INVALID_EXPIRE,
            command,
        )));
    }
    Ok(ttl)
}

/// Everything SEATLOCK checks before it changes anything: the seat's type, whether it is taken,
/// and only then (as the script, which never touches the counter of a taken seat) the
/// counter's type, value and headroom. Returns `None` for a taken seat, else the counter.
fn check_lockable(ctx: &mut ExecCtx, seat: &[u8]) -> Result<Option<i64>, CmdError> {
    let now = ctx.now_ms;
    if is_taken(get_hash(ctx.db(seat), seat, now)?) {
        return Ok(None);
    }
    let current = counter(ctx, &token_key(seat))?;
    if current == i64::MAX {
        return Err(CmdError::Overflow);
    }
    Ok(Some(current))
}

/// Takes the hold: bumps the counter, writes the hash fields, sets the TTL. Returns the token.
fn hold(ctx: &mut ExecCtx, seat: &[u8], user: &[u8], ttl_s: i64, current: i64) -> i64 {
    let now = ctx.now_ms;
    let token = current + 1;
    let tkey = token_key(seat);
    ctx.db(&tkey)
        .set_keep_ttl(&tkey, Value::Str(StrValue::Int(token)), now);
    ctx.modified(&tkey);
    ctx.notify(ev::STRING, "incrby", &tkey);
    let limits = ListpackLimits::from_config(ctx.config);
    let held_at = (now / 1000).to_string();
    let token_text = token.to_string();
    let (value, _) = ctx
        .db(seat)
        .get_or_insert_with(seat, now, || Value::Hash(Box::default()));
    if let Value::Hash(h) = value {
        for (field, v) in [
            (&b"status"[..], &b"HELD"[..]),
            (b"userId", user),
            (b"token", token_text.as_bytes()),
            (b"heldAt", held_at.as_bytes()),
        ] {
            h.set(field, v, limits);
        }
    }
    ctx.db(seat).set_expire(seat, now + ttl_s * 1000, now);
    ctx.modified(seat);
    ctx.notify(ev::HASH, "hset", seat);
    ctx.notify(ev::GENERIC, "expire", seat);
    token
}

/// ```text
/// SEATLOCK seat user ttl-seconds
/// ```
/// Holds a free seat for `user` for `ttl-seconds` and returns a fencing token: `[1, token]`,
/// or `[0]` when the seat is HELD or CONFIRMED. Equivalent to `seat_lock_with_token.lua`
/// (`EVAL ... 1 seat user ttl`) for a positive TTL; a TTL ≤ 0 is an error here, where the
/// script reports a hold it deleted at once. The seat and its counter `<seat>:token` must share
/// a hash slot (give the seat key a hash tag: `seat:{concert}:A1`). Complexity: O(1).
fn seatlock(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (seat, user) = (argv.arg(1), argv.arg(2));
    let ttl = ttl_seconds(ctx, argv.arg(3), "seatlock")?;
    let max_held = max_held(argv)?;
    let index = match max_held {
        Some(_) => Some(holds_key(seat, user).ok_or(CmdError::Static(
            "ERR MAXHELD needs a seat key with a hash tag (seat:{event}:A1)",
        ))?),
        None => None,
    };
    let Some(current) = check_lockable(ctx, seat)? else {
        count_seat(ctx, seat, |s| s.conflicts += 1);
        out.array(1);
        out.int(0);
        return Ok(());
    };
    if let (Some(max), Some(key)) = (max_held, &index) {
        if live_holds(ctx, key)? >= max {
            return Err(CmdError::Owned(format!(
                "LIMIT the user already holds {max} seats (MAXHELD)"
            )));
        }
    }
    let token = hold(ctx, seat, user, ttl, current);
    count_seat(ctx, seat, |s| s.holds += 1);
    if max_held.is_some() {
        let expiry = ctx.now_ms + ttl * 1000;
        index_hold(ctx, seat, user, Some(expiry), true)?;
    }
    out.array(2);
    out.int(1);
    out.int(token);
    Ok(())
}

/// ```text
/// SEATLOCKALL user ttl-seconds seat [seat ...]
/// ```
/// Holds several seats for one user, all or nothing: `[1, [token, ...]]` in seat order, or
/// `[0, [seat, ...]]` naming the seats that are taken (then nothing is held). All seats (and
/// their counters) must share one hash slot, like the seats of one event under one hash tag.
/// Complexity: O(N) seats.
fn seatlockall(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let user = argv.arg(1);
    let ttl = ttl_seconds(ctx, argv.arg(2), "seatlockall")?;
    let seats: Vec<&[u8]> = argv.iter().skip(3).collect();
    let mut taken = Vec::new();
    let mut currents = Vec::with_capacity(seats.len());
    for (i, seat) in seats.iter().enumerate() {
        if seats[..i].contains(seat) {
            return Err(CmdError::Static("ERR a seat is named more than once"));
        }
        match check_lockable(ctx, seat)? {
            Some(current) => currents.push(current),
            None => taken.push(*seat),
        }
    }
    out.array(2);
    if !taken.is_empty() {
        for seat in &taken {
            count_seat(ctx, seat, |s| s.conflicts += 1);
        }
        out.int(0);
        out.array(taken.len());
        for seat in taken {
            out.bulk(seat);
        }
        return Ok(());
    }
    out.int(1);
    out.array(seats.len());
    for (seat, current) in seats.iter().zip(currents) {
        let token = hold(ctx, seat, user, ttl, current);
        count_seat(ctx, seat, |s| s.holds += 1);
        out.int(token);
    }
    Ok(())
}

/// Lua 5.1's `tonumber` on a string: surrounding whitespace allowed, decimal via strtod, or a
/// `0x` hexadecimal integer; anything else is nil. SEATCONFIRM compares tokens with it so it
/// accepts and refuses exactly what `payment_verify.lua` does.
pub fn lua_tonumber(s: &[u8]) -> Option<f64> {
    // A fencing token is a plain integer: exact without the general grammar.
    if let Some(v) = crate::num::small_integer(s) {
        return Some(v);
    }
    let is_space = |c: &u8| matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r');
    let start = s.iter().position(|c| !is_space(c))?;
    let end = s.iter().rposition(|c| !is_space(c))? + 1;
    let t = std::str::from_utf8(&s[start..end]).ok()?;
    let (negative, body) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if let Some(hex) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        let v = u64::from_str_radix(hex, 16).ok()? as f64;
        return Some(if negative { -v } else { v });
    }
    let lower = body.to_ascii_lowercase();
    let simple = lower
        .bytes()
        .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'+' | b'-'));
    if !(simple || ["inf", "infinity", "nan"].contains(&lower.as_str())) {
        return None;
    }
    t.parse::<f64>().ok()
}

/// ```text
/// SEATCONFIRM seat user token [KEEPTTL | PERSIST]
/// ```
/// Confirms a hold: if the seat's `userId` is `user` and its `token` equals `token` (compared
/// as numbers), sets `status` to CONFIRMED and replies 1; otherwise 0. A confirmed seat is
/// sold: by default it loses the hold's TTL (PERSIST says so explicitly), so it can never
/// expire and be sold again. KEEPTTL keeps the hold's TTL, which is what `payment_verify.lua`
/// (`EVAL ... 1 seat user token`) does and is then equivalent to; use it only when something
/// else makes the sale permanent. Complexity: O(1).
fn seatconfirm(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (seat, user, token) = (argv.arg(1), argv.arg(2), argv.arg(3));
    let persist = match argv.get(4) {
        None => true,
        Some(opt) if argv.len() == 5 && args::is(opt, "PERSIST") => true,
        Some(opt) if argv.len() == 5 && args::is(opt, "KEEPTTL") => false,
        Some(_) => return Err(CmdError::Syntax),
    };
    let now = ctx.now_ms;
    let limits = ListpackLimits::from_config(ctx.config);
    let matches = match get_hash(ctx.db(seat), seat, now)? {
        Some(h) => {
            h.get(b"userId") == Some(user)
                && h.get(b"token").and_then(lua_tonumber) == lua_tonumber(token)
        }
        None => false,
    };
    if !matches {
        out.int(0);
        return Ok(());
    }
    index_hold(ctx, seat, user, None, false)?;
    count_seat(ctx, seat, |s| s.confirmations += 1);
    if let Some(h) = get_hash(ctx.db(seat), seat, now)? {
        h.set(b"status", b"CONFIRMED", limits);
    }
    if persist {
        ctx.db(seat).persist(seat, now);
    }
    ctx.modified(seat);
    ctx.notify(ev::HASH, "hset", seat);
    if persist {
        ctx.notify(ev::GENERIC, "persist", seat);
    }
    out.int(1);
    Ok(())
}

/// ```text
/// SEATRELEASE seat user token
/// ```
/// Gives a held seat back before its TTL: if it is HELD by `user` under `token`, deletes the
/// seat hash (the fencing counter stays) and replies 1; otherwise 0. Complexity: O(1).
fn seatrelease(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (seat, user, token) = (argv.arg(1), argv.arg(2), argv.arg(3));
    let now = ctx.now_ms;
    let held_by_user = is_theirs(ctx, seat, b"HELD", user, token)?;
    if held_by_user {
        count_seat(ctx, seat, |s| s.releases += 1);
        index_hold(ctx, seat, user, None, false)?;
        ctx.db(seat).delete(seat, now);
        ctx.modified(seat);
        ctx.notify(ev::GENERIC, "del", seat);
    }
    out.int(held_by_user as i64);
    Ok(())
}

/// True when `seat` is in `status` for `user` under `token` (compared as SEATCONFIRM does).
fn is_theirs(
    ctx: &mut ExecCtx,
    seat: &[u8],
    status: &[u8],
    user: &[u8],
    token: &[u8],
) -> Result<bool, CmdError> {
    let now = ctx.now_ms;
    Ok(match get_hash(ctx.db(seat), seat, now)? {
        Some(h) => {
            h.get(b"status") == Some(status)
                && h.get(b"userId") == Some(user)
                && h.get(b"token").and_then(lua_tonumber) == lua_tonumber(token)
        }
        None => false,
    })
}

/// ```text
/// SEATEXTEND seat user token ttl-seconds
/// ```
/// Extends a hold (a buyer still paying): if the seat is HELD by `user` under `token`, its hold
/// now lasts at least `ttl-seconds` from now (an extension never shortens a hold) and the
/// reply is 1; otherwise 0. Complexity: O(1).
fn seatextend(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (seat, user, token) = (argv.arg(1), argv.arg(2), argv.arg(3));
    let ttl = ttl_seconds(ctx, argv.arg(4), "seatextend")?;
    if !is_theirs(ctx, seat, b"HELD", user, token)? {
        out.int(0);
        return Ok(());
    }
    let now = ctx.now_ms;
    let current = ctx
        .db(seat)
        .lookup_no_touch(seat, now)
        .and_then(|e| e.expire_at());
    let at = (now + ttl * 1000).max(current.unwrap_or(0));
    if current != Some(at) {
        ctx.db(seat).set_expire(seat, at, now);
        index_hold(ctx, seat, user, Some(at), false)?;
        ctx.modified(seat);
        ctx.notify(ev::GENERIC, "expire", seat);
    }
    out.int(1);
    Ok(())
}

/// ```text
/// SEATCANCEL seat user token
/// ```
/// Cancels a sale (a refund): if the seat is CONFIRMED for `user` under `token`, deletes the
/// seat hash so it can be sold again, and replies 1; otherwise 0. The fencing counter stays,
/// so the next hold's token is larger than the cancelled sale's and a stale payment for it is
/// refused. Complexity: O(1).
fn seatcancel(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (seat, user, token) = (argv.arg(1), argv.arg(2), argv.arg(3));
    let theirs = is_theirs(ctx, seat, b"CONFIRMED", user, token)?;
    if theirs {
        count_seat(ctx, seat, |s| s.cancellations += 1);
        let now = ctx.now_ms;
        ctx.db(seat).delete(seat, now);
        ctx.modified(seat);
        ctx.notify(ev::GENERIC, "del", seat);
    }
    out.int(theirs as i64);
    Ok(())
}

/// ```text
/// SEATMAP seat [seat ...]
/// ```
/// A section's seat map in one call: each seat's status (`FREE`, `HELD` or `CONFIRMED`), in
/// the order given. Holders and tokens are left out: a map is shown to every buyer.
/// Complexity: O(N) seats.
fn seatmap(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let now = ctx.now_ms;
    let mut statuses = Vec::with_capacity(argv.len() - 1);
    for seat in argv.iter().skip(1) {
        let status = match get_hash(ctx.db(seat), seat, now)?.and_then(|h| h.get(b"status")) {
            Some(b"HELD") => "HELD",
            Some(b"CONFIRMED") => "CONFIRMED",
            _ => "FREE",
        };
        statuses.push(status);
    }
    out.array(statuses.len());
    for status in statuses {
        out.bulk(status.as_bytes());
    }
    Ok(())
}

/// ```text
/// SEATSTATUS seat
/// ```
/// A map: `status` (FREE, HELD or CONFIRMED), `user`, `token` (nil when free), `held_at` (Unix
/// seconds) and `ttl_ms` (-1 without expiry, -2 when free). Complexity: O(1).
fn seatstatus(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let seat = argv.arg(1);
    let now = ctx.now_ms;
    let ttl_ms = match ctx.db(seat).lookup_no_touch(seat, now) {
        None => -2,
        Some(e) => e.expire_at().map_or(-1, |at| (at - now).max(0)),
    };
    // Read (and type-check) before the first reply byte: an error after the map header would
    // leave a half-written reply on the connection.
    let hash = get_hash(ctx.db(seat), seat, now)?;
    let field = |name: &[u8]| hash.as_ref().and_then(|h| h.get(name)).map(<[u8]>::to_vec);
    let status = match field(b"status").as_deref() {
        Some(b"HELD") => "HELD",
        Some(b"CONFIRMED") => "CONFIRMED",
        _ => "FREE",
    };
    out.map(5);
    out.bulk(b"status");
    out.bulk(status.as_bytes());
    for (name, value) in [
        ("user", field(b"userId")),
        ("token", field(b"token")),
        ("held_at", field(b"heldAt")),
    ] {
        out.bulk(name.as_bytes());
        match value.filter(|_| status != "FREE") {
            Some(v) => out.bulk(&v),
            None => out.null(),
        }
    }
    out.bulk(b"ttl_ms");
    out.int(if status == "FREE" { -2 } else { ttl_ms });
    Ok(())
}

const W: Flags = Flags::WRITE.union(Flags::DENYOOM).union(Flags::SAME_SLOT);
const CLOCK: Flags = Flags::NONDETERMINISTIC;

pub static COMMANDS: &[Spec] = &[
    cmd("SEATLOCK", -4, W.union(Flags::FAST).union(CLOCK), seatlock as EngineHandler)
        .keys(1, 1, 1)
        .derived_keys_at(seatlock_derived, DerivedSlot::SuffixedNamed)
        .doc(Group::Queue, "0.1.0", "Holds a free seat for a user with a TTL and returns a fencing token that only grows; MAXHELD caps the seats a user holds at once.", "O(1)"),
    cmd("SEATLOCKALL", -4, W.union(CLOCK), seatlockall as EngineHandler)
        .keys(3, -1, 1)
        .derived_keys_at(seatlockall_derived, DerivedSlot::SuffixedNamed)
        .doc(Group::Queue, "0.1.0", "Holds several seats for a user all or nothing, returning their fencing tokens or the seats that are taken.", "O(N) where N is the number of seats."),
    cmd("SEATCONFIRM", -4, Flags::WRITE.union(Flags::FAST).union(Flags::SAME_SLOT), seatconfirm as EngineHandler)
        .keys(1, 1, 1)
        .derived_keys_at(seat_user_derived, DerivedSlot::InTag)
        .doc(Group::Queue, "0.1.0", "Confirms a held seat if the user and fencing token match the current hold; a confirmed seat no longer expires unless KEEPTTL is given.", "O(1)"),
    cmd("SEATRELEASE", 4, Flags::WRITE.union(Flags::FAST).union(Flags::SAME_SLOT), seatrelease as EngineHandler)
        .keys(1, 1, 1)
        .derived_keys_at(seat_user_derived, DerivedSlot::InTag)
        .doc(Group::Queue, "0.1.0", "Releases a seat held by the user under the given token.", "O(1)"),
    cmd("SEATEXTEND", 5, Flags::WRITE.union(Flags::FAST).union(Flags::SAME_SLOT).union(CLOCK), seatextend as EngineHandler)
        .keys(1, 1, 1)
        .derived_keys_at(seat_user_derived, DerivedSlot::InTag)
        .doc(Group::Queue, "0.1.0", "Extends a seat held by the user under the given token to at least a TTL from now.", "O(1)"),
    cmd("SEATCANCEL", 4, Flags::WRITE.union(Flags::FAST).union(Flags::SAME_SLOT), seatcancel as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Queue, "0.1.0", "Cancels a confirmed sale (a refund) made by the user under the given token; the fencing counter stays.", "O(1)"),
    cmd("SEATMAP", -2, Flags::READONLY, seatmap as EngineHandler)
        .keys(1, -1, 1)
        .doc(Group::Queue, "0.1.0", "Returns the status of each seat given (a section's map), without holders or tokens.", "O(N) where N is the number of seats."),
    cmd("SEATSTATUS", 2, Flags::READONLY.union(Flags::FAST), seatstatus as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Queue, "0.1.0", "Returns a seat's status, holder, token, hold time and remaining TTL.", "O(1)"),
];

#[cfg(test)]
mod tests {
    use super::lua_tonumber;

    #[test]
    fn tonumber_follows_lua() {
        assert_eq!(lua_tonumber(b"5"), Some(5.0));
        assert_eq!(lua_tonumber(b" 5 "), Some(5.0));
        assert_eq!(lua_tonumber(b"5.0"), Some(5.0));
        assert_eq!(lua_tonumber(b"1e1"), Some(10.0));
        assert_eq!(lua_tonumber(b"0x10"), Some(16.0));
        assert_eq!(lua_tonumber(b"abc"), None);
        assert_eq!(lua_tonumber(b""), None);
        assert_eq!(lua_tonumber(b"5x"), None);
        assert!(lua_tonumber(b"nan").unwrap().is_nan());
    }
}
