//! The string family: GET, SET and its options, counters, ranges and multi-key MGET/MSET.
//!
//! Semantics, option parsing order and error texts follow Redis 7.0's `t_string.c`, including
//! its quirks (repeated SET options are accepted; SETRANGE with an empty value on a missing key
//! creates nothing; MGET answers nil for keys of other types instead of failing).

use crate::args::{self, is};
use crate::command::{cmd, CommandSpec, EngineHandler, Flags, Group};
use crate::ctx::ExecCtx;
use crate::db::Db;
use crate::error::{CmdError, CmdResult};
use crate::keyspace_events as ev;
use crate::value::{StrValue, Value};
use usher_protocol::{errors, Argv, ReplySink};

type Spec = CommandSpec<EngineHandler>;

/// The string under `key`, if any; WRONGTYPE if the key holds something else.
pub(crate) fn get_str<'d>(
    db: &'d mut Db,
    key: &[u8],
    now_ms: i64,
) -> Result<Option<&'d mut StrValue>, CmdError> {
    match db.get(key, now_ms) {
        None => Ok(None),
        Some(Value::Str(s)) => Ok(Some(s)),
        Some(_) => Err(CmdError::WrongType),
    }
}

fn reply_str(out: &mut dyn ReplySink, s: &StrValue) {
    match s {
        StrValue::Int(i) => out.bulk_int(*i),
        StrValue::Embstr(b) => out.bulk(b),
        StrValue::Raw(v) => out.bulk(v),
    }
}

/// ```text
/// GET key
/// ```
/// Complexity: O(1).
fn get(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let now = ctx.now_ms;
    match get_str(ctx.db(argv.arg(1)), argv.arg(1), now)? {
        Some(s) => reply_str(out, s),
        None => out.null(),
    }
    Ok(())
}

/// Expiry options shared by SET and GETEX, as Redis's `parseExtendedStringArgumentsOrReply`.
#[derive(Default, Clone, Copy)]
struct SetOptions {
    nx: bool,
    xx: bool,
    get: bool,
    keep_ttl: bool,
    persist: bool,
    /// Which expiry form was given and its raw argument index.
    expire: Option<(ExpireUnit, usize)>,
}

#[derive(Clone, Copy, PartialEq)]
enum ExpireUnit {
    Ex,
    Px,
    ExAt,
    PxAt,
}

#[derive(PartialEq)]
enum OptionsFor {
    Set,
    GetEx,
}

fn parse_set_options(argv: Argv, start: usize, target: OptionsFor) -> Result<SetOptions, CmdError> {
    let mut o = SetOptions::default();
    let is_set = target == OptionsFor::Set;
    let mut j = start;
    while j < argv.len() {
        let opt = argv.arg(j);
        let has_next = j + 1 < argv.len();
        let no_expire = o.expire.is_none();
        if is(opt, "NX") && !o.xx && is_set {
            o.nx = true;
        } else if is(opt, "XX") && !o.nx && is_set {
            o.xx = true;
        } else if is(opt, "GET") && is_set {
            o.get = true;
        } else if is(opt, "KEEPTTL") && !o.persist && no_expire && is_set {
            o.keep_ttl = true;
        } else if is(opt, "PERSIST") && !is_set && no_expire && !o.keep_ttl {
            o.persist = true;
        } else if let Some(unit) = expire_unit(opt) {
            // Redis lets the same expiry option repeat (the last wins) but not two different ones.
            let compatible = o.expire.is_none_or(|(u, _)| u == unit);
            if !compatible || o.keep_ttl || o.persist || !has_next {
                return Err(CmdError::Syntax);
            }
            o.expire = Some((unit, j + 1));
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    Ok(o)
}

fn expire_unit(opt: &[u8]) -> Option<ExpireUnit> {
    if is(opt, "EX") {
        Some(ExpireUnit::Ex)
    } else if is(opt, "PX") {
        Some(ExpireUnit::Px)
    } else if is(opt, "EXAT") {
        Some(ExpireUnit::ExAt)
    } else if is(opt, "PXAT") {
        Some(ExpireUnit::PxAt)
    } else {
        None
    }
}

/// Redis's `getExpireMillisecondsOrReply`: the absolute expiry in ms, or the command's
/// "invalid expire time" error.
fn expire_at_ms(arg: &[u8], unit: ExpireUnit, now_ms: i64, command: &str) -> Result<i64, CmdError> {
    let invalid = || CmdError::Owned(errors::fill(errors::INVALID_EXPIRE, command));
    let mut ms = args::int(arg)?;
    let seconds = matches!(unit, ExpireUnit::Ex | ExpireUnit::ExAt);
    if ms <= 0 || (seconds && ms > i64::MAX / 1000) {
        return Err(invalid());
    }
    if seconds {
        ms *= 1000;
    }
    if matches!(unit, ExpireUnit::Ex | ExpireUnit::Px) {
        ms = ms.checked_add(now_ms).ok_or_else(invalid)?;
    }
    Ok(ms)
}

/// ```text
/// SET key value [NX | XX] [GET] [EX seconds | PX milliseconds | EXAT unix-time-seconds |
///     PXAT unix-time-milliseconds | KEEPTTL]
/// ```
/// Complexity: O(1).
fn set(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let o = parse_set_options(argv, 3, OptionsFor::Set)?;
    let expire = match o.expire {
        Some((unit, at)) => Some(expire_at_ms(argv.arg(at), unit, ctx.now_ms, "set")?),
        None => None,
    };
    let (key, now) = (argv.arg(1), ctx.now_ms);
    if o.get {
        // Redis's SET ... GET reads the old value with `lookupKeyRead` (a plain SET does not):
        // it counts as a hit or a miss.
        crate::keyspace_stats::count_as_reads();
    }
    let db = ctx.db(key);
    let old = get_str_or_absent(db, key, now, o.get)?;
    let found = old.is_some();
    if o.get {
        match &old {
            Some(s) => reply_str(out, s),
            None => out.null(),
        }
    }
    if (o.nx && found) || (o.xx && !found) {
        if !o.get {
            out.null();
        }
        return Ok(());
    }
    let value = Value::Str(StrValue::from_bytes(argv.arg(2)));
    if o.keep_ttl {
        db.set_keep_ttl(key, value, now);
    } else {
        db.set(key, value);
    }
    if let Some(at) = expire {
        db.set_expire(key, at, now);
    }
    ctx.modified(key);
    ctx.notify(ev::STRING, "set", key);
    if expire.is_some() {
        ctx.notify(ev::GENERIC, "expire", key);
    }
    if !o.get {
        out.ok();
    }
    Ok(())
}

/// Whether `key` exists; with `need_string`, its string value (WRONGTYPE otherwise). A clone is
/// returned so the caller can keep writing to the database.
fn get_str_or_absent(
    db: &mut Db,
    key: &[u8],
    now: i64,
    need_string: bool,
) -> Result<Option<StrValue>, CmdError> {
    match db.get(key, now) {
        None => Ok(None),
        Some(Value::Str(s)) if need_string => Ok(Some(s.clone())),
        Some(_) if need_string => Err(CmdError::WrongType),
        Some(_) => Ok(Some(StrValue::Int(0))),
    }
}

/// ```text
/// SETNX key value
/// ```
fn setnx(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (key, now) = (argv.arg(1), ctx.now_ms);
    let db = ctx.db(key);
    if db.contains(key, now) {
        out.int(0);
        return Ok(());
    }
    db.set(key, Value::Str(StrValue::from_bytes(argv.arg(2))));
    ctx.modified(key);
    ctx.notify(ev::STRING, "set", key);
    out.int(1);
    Ok(())
}

fn setex_generic(
    ctx: &mut ExecCtx,
    argv: Argv,
    out: &mut dyn ReplySink,
    unit: ExpireUnit,
    name: &str,
) -> CmdResult {
    let at = expire_at_ms(argv.arg(2), unit, ctx.now_ms, name)?;
    let (key, now) = (argv.arg(1), ctx.now_ms);
    let db = ctx.db(key);
    db.set(key, Value::Str(StrValue::from_bytes(argv.arg(3))));
    db.set_expire(key, at, now);
    ctx.modified(key);
    ctx.notify(ev::STRING, "set", key);
    ctx.notify(ev::GENERIC, "expire", key);
    out.ok();
    Ok(())
}

/// ```text
/// SETEX key seconds value
/// ```
fn setex(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    setex_generic(ctx, argv, out, ExpireUnit::Ex, "setex")
}

/// ```text
/// PSETEX key milliseconds value
/// ```
fn psetex(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    setex_generic(ctx, argv, out, ExpireUnit::Px, "psetex")
}

/// ```text
/// GETSET key value
/// ```
fn getset(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    // Redis reads this key with `lookupKeyRead`: its lookups count as hits and misses.
    crate::keyspace_stats::count_as_reads();
    let (key, now) = (argv.arg(1), ctx.now_ms);
    let db = ctx.db(key);
    match get_str(db, key, now)? {
        Some(s) => reply_str(out, s),
        None => out.null(),
    }
    db.set(key, Value::Str(StrValue::from_bytes(argv.arg(2))));
    ctx.modified(key);
    ctx.notify(ev::STRING, "set", key);
    Ok(())
}

/// ```text
/// GETDEL key
/// ```
fn getdel(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    // Redis reads this key with `lookupKeyRead`: its lookups count as hits and misses.
    crate::keyspace_stats::count_as_reads();
    let (key, now) = (argv.arg(1), ctx.now_ms);
    let db = ctx.db(key);
    match get_str(db, key, now)? {
        None => out.null(),
        Some(s) => {
            reply_str(out, s);
            db.delete(key, now);
            ctx.modified(key);
            ctx.notify(ev::GENERIC, "del", key);
        }
    }
    Ok(())
}

/// ```text
/// GETEX key [EX seconds | PX milliseconds | EXAT unix-time-seconds |
///     PXAT unix-time-milliseconds | PERSIST]
/// ```
fn getex(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    // Redis reads this key with `lookupKeyRead`: its lookups count as hits and misses.
    crate::keyspace_stats::count_as_reads();
    let o = parse_set_options(argv, 2, OptionsFor::GetEx)?;
    let (key, now) = (argv.arg(1), ctx.now_ms);
    let db = ctx.db(key);
    if get_str(db, key, now)?.is_none() {
        out.null();
        return Ok(());
    }
    let expire = match o.expire {
        Some((unit, at)) => Some((unit, expire_at_ms(argv.arg(at), unit, now, "getex")?)),
        None => None,
    };
    let db = ctx.db(key);
    let Some(Value::Str(s)) = db.get_again(key, now) else {
        unreachable!("checked above")
    };
    reply_str(out, s);
    match expire {
        // An absolute time already past deletes the key, as Redis's checkAlreadyExpired.
        Some((ExpireUnit::ExAt | ExpireUnit::PxAt, at)) if at <= now => {
            db.delete(key, now);
            ctx.modified(key);
            ctx.notify(ev::GENERIC, "del", key);
        }
        Some((_, at)) => {
            db.set_expire(key, at, now);
            ctx.modified(key);
            ctx.notify(ev::GENERIC, "expire", key);
        }
        None if o.persist && db.persist(key, now) => {
            ctx.modified(key);
            ctx.notify(ev::GENERIC, "persist", key);
        }
        None => {}
    }
    Ok(())
}

/// ```text
/// MGET key [key ...]
/// ```
/// Keys of other types read as nil, as in Redis.
fn mget(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let now = ctx.now_ms;
    out.array(argv.len() - 1);
    for key in argv.iter().skip(1) {
        match ctx.db(key).get(key, now) {
            Some(Value::Str(s)) => reply_str(out, s),
            _ => out.null(),
        }
    }
    Ok(())
}

fn check_pairs(argv: Argv, name: &str) -> CmdResult {
    if argv.len().is_multiple_of(2) {
        return Err(CmdError::Owned(errors::wrong_arity(name)));
    }
    Ok(())
}

/// ```text
/// MSET key value [key value ...]
/// ```
fn mset(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    check_pairs(argv, "mset")?;
    set_pairs(ctx, argv);
    out.ok();
    Ok(())
}

fn set_pairs(ctx: &mut ExecCtx, argv: Argv) {
    for i in (1..argv.len()).step_by(2) {
        let key = argv.arg(i);
        ctx.db(key)
            .set(key, Value::Str(StrValue::from_bytes(argv.arg(i + 1))));
        ctx.modified(key);
        ctx.notify(ev::STRING, "set", key);
    }
}

/// ```text
/// MSETNX key value [key value ...]
/// ```
fn msetnx(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    check_pairs(argv, "msetnx")?;
    let now = ctx.now_ms;
    let any_exists = (1..argv.len()).step_by(2).any(|i| {
        let key = argv.arg(i);
        ctx.db(key).contains(key, now)
    });
    if any_exists {
        out.int(0);
        return Ok(());
    }
    set_pairs(ctx, argv);
    out.int(1);
    Ok(())
}

/// Redis's `checkStringLength`: a string may not grow past `proto-max-bulk-len`.
fn check_string_length(ctx: &ExecCtx, size: i64, append: i64) -> CmdResult {
    match size.checked_add(append) {
        Some(total) if total <= ctx.config.proto_max_bulk_len => Ok(()),
        _ => Err(CmdError::Static(errors::STRING_TOO_LONG)),
    }
}

/// ```text
/// APPEND key value
/// ```
fn append(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (key, value, now) = (argv.arg(1), argv.arg(2), ctx.now_ms);
    let current_len = match get_str(ctx.db(key), key, now)? {
        Some(s) => s.len() as i64,
        None => {
            // Redis stores the argument object itself, after tryObjectEncoding.
            ctx.db(key)
                .set(key, Value::Str(StrValue::from_bytes(value)));
            ctx.modified(key);
            ctx.notify(ev::STRING, "append", key);
            out.int(value.len() as i64);
            return Ok(());
        }
    };
    check_string_length(ctx, current_len, value.len() as i64)?;
    let s = get_str(ctx.db(key), key, now)?.expect("exists");
    let raw = s.make_raw();
    raw.extend_from_slice(value);
    let len = raw.len();
    ctx.modified(key);
    ctx.notify(ev::STRING, "append", key);
    out.int(len as i64);
    Ok(())
}

/// ```text
/// STRLEN key
/// ```
fn strlen(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let now = ctx.now_ms;
    let len = get_str(ctx.db(argv.arg(1)), argv.arg(1), now)?.map_or(0, |s| s.len());
    out.int(len as i64);
    Ok(())
}

fn incr_by(ctx: &mut ExecCtx, key: &[u8], incr: i64, out: &mut dyn ReplySink) -> CmdResult {
    let now = ctx.now_ms;
    let db = ctx.db(key);
    let current = match get_str(db, key, now)? {
        None => 0,
        Some(StrValue::Int(i)) => *i,
        Some(other) => {
            usher_protocol::parse::parse_i64(&other.to_vec()).ok_or(CmdError::NotInteger)?
        }
    };
    let new = current.checked_add(incr).ok_or(CmdError::Overflow)?;
    db.set_keep_ttl(key, Value::Str(StrValue::Int(new)), now);
    ctx.modified(key);
    ctx.notify(ev::STRING, "incrby", key);
    out.int(new);
    Ok(())
}

/// ```text
/// INCR key
/// ```
fn incr(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    incr_by(ctx, argv.arg(1), 1, out)
}

/// ```text
/// DECR key
/// ```
fn decr(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    incr_by(ctx, argv.arg(1), -1, out)
}

/// ```text
/// INCRBY key increment
/// ```
fn incrby(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let incr = args::int(argv.arg(2))?;
    incr_by(ctx, argv.arg(1), incr, out)
}

/// ```text
/// DECRBY key decrement
/// ```
fn decrby(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let decr = args::int(argv.arg(2))?;
    if decr == i64::MIN {
        return Err(CmdError::Static("ERR decrement would overflow"));
    }
    incr_by(ctx, argv.arg(1), -decr, out)
}

/// ```text
/// INCRBYFLOAT key increment
/// ```
/// Computed in 80-bit long double and printed with `%.17Lf` trimmed, exactly as Redis.
fn incrbyfloat(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (key, now) = (argv.arg(1), ctx.now_ms);
    let db = ctx.db(key);
    let current = get_str(db, key, now)?.map(|s| s.to_vec());
    let result = crate::num::incr_by_float(current.as_deref().unwrap_or(b"0"), argv.arg(2))?;
    db.set_keep_ttl(key, Value::Str(StrValue::from_bytes_no_int(&result)), now);
    ctx.modified(key);
    ctx.notify(ev::STRING, "incrbyfloat", key);
    out.bulk(&result);
    Ok(())
}

/// ```text
/// GETRANGE key start end
/// ```
fn getrange(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let start = args::int(argv.arg(2))?;
    let end = args::int(argv.arg(3))?;
    let now = ctx.now_ms;
    let Some(s) = get_str(ctx.db(argv.arg(1)), argv.arg(1), now)? else {
        out.bulk(b"");
        return Ok(());
    };
    let mut scratch = itoa::Buffer::new();
    let bytes = s.as_bytes(&mut scratch);
    out.bulk(substring(bytes, start, end));
    Ok(())
}

/// Redis's GETRANGE index arithmetic (negative indexes count from the end; clamped).
fn substring(bytes: &[u8], mut start: i64, mut end: i64) -> &[u8] {
    let len = bytes.len() as i64;
    if start < 0 && end < 0 && start > end {
        return b"";
    }
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= len {
        end = len - 1;
    }
    if start > end || len == 0 {
        return b"";
    }
    &bytes[start as usize..=end as usize]
}

/// ```text
/// SETRANGE key offset value
/// ```
fn setrange(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let offset = args::int(argv.arg(2))?;
    if offset < 0 {
        return Err(CmdError::Static(errors::OFFSET_OUT_OF_RANGE));
    }
    let (key, value, now) = (argv.arg(1), argv.arg(3), ctx.now_ms);
    let existing_len = get_str(ctx.db(key), key, now)?.map(|s| s.len() as i64);
    match existing_len {
        None if value.is_empty() => {
            out.int(0);
            return Ok(());
        }
        Some(len) if value.is_empty() => {
            out.int(len);
            return Ok(());
        }
        _ => check_string_length(ctx, offset, value.len() as i64)?,
    }
    let db = ctx.db(key);
    if existing_len.is_none() {
        db.set(key, Value::Str(StrValue::Raw(Vec::new())));
    }
    let raw = get_str(db, key, now)?.expect("exists").make_raw();
    let end = offset as usize + value.len();
    if raw.len() < end {
        raw.resize(end, 0);
    }
    raw[offset as usize..end].copy_from_slice(value);
    let len = raw.len();
    ctx.modified(key);
    ctx.notify(ev::STRING, "setrange", key);
    out.int(len as i64);
    Ok(())
}

pub static COMMANDS: &[Spec] = &[
    cmd("GET", 2, Flags::READONLY.union(Flags::FAST), get as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::String, "1.0.0", "Returns the string value of a key.", "O(1)"),
    cmd("SET", -3, Flags::WRITE.union(Flags::DENYOOM), set as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::String, "1.0.0", "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.", "O(1)"),
    cmd("SETNX", 3, Flags::WRITE.union(Flags::DENYOOM).union(Flags::FAST), setnx as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::String, "1.0.0", "Set the string value of a key only when the key doesn't exist.", "O(1)"),
    cmd("SETEX", 4, Flags::WRITE.union(Flags::DENYOOM), setex as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::String, "2.0.0", "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.", "O(1)"),
    cmd("PSETEX", 4, Flags::WRITE.union(Flags::DENYOOM), psetex as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::String, "2.6.0", "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.", "O(1)"),
    cmd("GETSET", 3, Flags::WRITE.union(Flags::DENYOOM).union(Flags::FAST), getset as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::String, "1.0.0", "Returns the previous string value of a key after setting it to a new value.", "O(1)"),
    cmd("GETDEL", 2, Flags::WRITE.union(Flags::FAST), getdel as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::String, "6.2.0", "Returns the string value of a key after deleting the key.", "O(1)"),
    cmd("GETEX", -2, Flags::WRITE.union(Flags::FAST), getex as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::String, "6.2.0", "Returns the string value of a key after setting its expiration time.", "O(1)"),
    cmd("MGET", -2, Flags::READONLY.union(Flags::FAST), mget as EngineHandler)
        .keys(1, -1, 1)
        .doc(Group::String, "1.0.0", "Atomically returns the string values of one or more keys.", "O(N) where N is the number of keys to retrieve."),
    cmd("MSET", -3, Flags::WRITE.union(Flags::DENYOOM), mset as EngineHandler)
        .keys(1, -1, 2)
        .doc(Group::String, "1.0.1", "Atomically creates or modifies the string values of one or more keys.", "O(N) where N is the number of keys to set."),
    cmd("MSETNX", -3, Flags::WRITE.union(Flags::DENYOOM), msetnx as EngineHandler)
        .keys(1, -1, 2)
        .doc(Group::String, "1.0.1", "Atomically modifies the string values of one or more keys only when all keys don't exist.", "O(N) where N is the number of keys to set."),
    cmd("APPEND", 3, Flags::WRITE.union(Flags::DENYOOM).union(Flags::FAST), append as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::String, "2.0.0", "Appends a string to the value of a key. Creates the key if it doesn't exist.", "O(1). The amortized time complexity is O(1) assuming the appended value is small and the already present value is of any size, since the dynamic string library used by Redis will double the free space available on every reallocation."),
    cmd("STRLEN", 2, Flags::READONLY.union(Flags::FAST), strlen as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::String, "2.2.0", "Returns the length of a string value.", "O(1)"),
    cmd("INCR", 2, Flags::WRITE.union(Flags::DENYOOM).union(Flags::FAST), incr as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::String, "1.0.0", "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", "O(1)"),
    cmd("DECR", 2, Flags::WRITE.union(Flags::DENYOOM).union(Flags::FAST), decr as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::String, "1.0.0", "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", "O(1)"),
    cmd("INCRBY", 3, Flags::WRITE.union(Flags::DENYOOM).union(Flags::FAST), incrby as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::String, "1.0.0", "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.", "O(1)"),
    cmd("DECRBY", 3, Flags::WRITE.union(Flags::DENYOOM).union(Flags::FAST), decrby as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::String, "1.0.0", "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.", "O(1)"),
    cmd("INCRBYFLOAT", 3, Flags::WRITE.union(Flags::DENYOOM).union(Flags::FAST), incrbyfloat as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::String, "2.6.0", "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.", "O(1)"),
    cmd("GETRANGE", 4, Flags::READONLY, getrange as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::String, "2.4.0", "Returns a substring of the string stored at a key.", "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings."),
    cmd("SUBSTR", 4, Flags::READONLY, getrange as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::String, "1.0.0", "Returns a substring from a string value.", "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings."),
    cmd("SETRANGE", 4, Flags::WRITE.union(Flags::DENYOOM), setrange as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::String, "2.2.0", "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.", "O(1), not counting the time taken to copy the new string in place. Usually, this string is very small so the amortized complexity is O(1). Otherwise, complexity is O(M) with M being the length of the value argument."),
];

#[cfg(test)]
mod tests {
    use super::substring;

    #[test]
    fn getrange_index_arithmetic_matches_redis() {
        let s = b"Hello World";
        assert_eq!(substring(s, 0, 3), b"Hell");
        assert_eq!(substring(s, -3, -1), b"rld");
        assert_eq!(substring(s, 0, -1), s);
        assert_eq!(substring(s, 10, 100), b"d");
        assert_eq!(substring(s, 5, 3), b"");
        assert_eq!(substring(s, -1, -5), b"");
        assert_eq!(substring(b"", 0, -1), b"");
    }
}
