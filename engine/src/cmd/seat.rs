//! The seat family: holding seats with fencing tokens (SEATLOCK, SEATLOCKALL), confirming them
//! (SEATCONFIRM), releasing (SEATRELEASE) and reading (SEATSTATUS).
//!
//! A seat is an ordinary HASH (`status` HELD|CONFIRMED, `userId`, `token`, `heldAt`) with a TTL
//! while held, and `<seat>:token` is its fencing counter, a plain integer string that never
//! expires, so every hold gets a larger token than any before it. A payment carrying an old
//! token (its hold expired and someone else got the seat) is refused by SEATCONFIRM. Each
//! command validates everything first, so bad input never leaves a half-made hold.

use crate::args;
use crate::cmd::hash::get_hash;
use crate::command::{cmd, CommandSpec, EngineHandler, Flags, Group};
use crate::ctx::ExecCtx;
use crate::error::{CmdError, CmdResult};
use crate::keyspace_events as ev;
use crate::types::hash::{Hash, ListpackLimits};
use crate::value::{StrValue, Value};
use smallvec::SmallVec;
use usher_protocol::{errors, Argv, ReplySink};

type Spec = CommandSpec<EngineHandler>;

/// The fencing counter of `seat`: `<seat>:token`, as the seed script names it.
pub fn token_key(seat: &[u8]) -> Vec<u8> {
    let mut k = seat.to_vec();
    k.extend_from_slice(b":token");
    k
}

fn seatlock_derived(argv: Argv) -> SmallVec<[Vec<u8>; 2]> {
    argv.get(1).map(token_key).into_iter().collect()
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
    let Some(current) = check_lockable(ctx, seat)? else {
        out.array(1);
        out.int(0);
        return Ok(());
    };
    let token = hold(ctx, seat, user, ttl, current);
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
        out.int(token);
    }
    Ok(())
}

/// Lua 5.1's `tonumber` on a string: surrounding whitespace allowed, decimal via strtod, or a
/// `0x` hexadecimal integer; anything else is nil. SEATCONFIRM compares tokens with it so it
/// accepts and refuses exactly what `payment_verify.lua` does.
pub fn lua_tonumber(s: &[u8]) -> Option<f64> {
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
    let held_by_user = match get_hash(ctx.db(seat), seat, now)? {
        Some(h) => {
            h.get(b"status") == Some(b"HELD")
                && h.get(b"userId") == Some(user)
                && h.get(b"token").and_then(lua_tonumber) == lua_tonumber(token)
        }
        None => false,
    };
    if held_by_user {
        ctx.db(seat).delete(seat, now);
        ctx.modified(seat);
        ctx.notify(ev::GENERIC, "del", seat);
    }
    out.int(held_by_user as i64);
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
    cmd("SEATLOCK", 4, W.union(Flags::FAST).union(CLOCK), seatlock as EngineHandler)
        .keys(1, 1, 1)
        .derived_keys(seatlock_derived)
        .doc(Group::Queue, "0.1.0", "Holds a free seat for a user with a TTL and returns a fencing token that only grows.", "O(1)"),
    cmd("SEATLOCKALL", -4, W.union(CLOCK), seatlockall as EngineHandler)
        .keys(3, -1, 1)
        .derived_keys(seatlockall_derived)
        .doc(Group::Queue, "0.1.0", "Holds several seats for a user all or nothing, returning their fencing tokens or the seats that are taken.", "O(N) where N is the number of seats."),
    cmd("SEATCONFIRM", -4, Flags::WRITE.union(Flags::FAST), seatconfirm as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Queue, "0.1.0", "Confirms a held seat if the user and fencing token match the current hold; a confirmed seat no longer expires unless KEEPTTL is given.", "O(1)"),
    cmd("SEATRELEASE", 4, Flags::WRITE.union(Flags::FAST), seatrelease as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Queue, "0.1.0", "Releases a seat held by the user under the given token.", "O(1)"),
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
