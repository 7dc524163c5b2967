//! How a command that changed data is logged when its argv would not replay to the same
//! effect, as Redis 7.0 rewrites them (`docs/persistence.md` lists every write command):
//!
//! | command | logged as |
//! | --- | --- |
//! | EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT | `PEXPIREAT key <abs ms>`, or `DEL key` if it expired it |
//! | SETEX, PSETEX, SET with EX/PX/EXAT, GETSET-like SETs | `SET key value PXAT <abs ms>` |
//! | GETEX with an option | `PEXPIREAT key <abs ms>` or `PERSIST key` |
//! | INCRBYFLOAT | `SET key value KEEPTTL` |
//! | RESTORE with a relative TTL | `RESTORE ... <abs ms> ... ABSTTL` |
//! | ENTER, ADMIT, QPOS, QHEARTBEAT, QRENEW, QREVOKE, QEND, TOKEN* | the command with `NOW <ms>` |
//! | SEATLOCK, SEATLOCKALL | the command, then `HSET seat heldAt <s>` and `PEXPIREAT seat <ms>`; with MAXHELD, plain SEATLOCK and the holds index's prune and `ZADD` |
//! | SEATEXTEND | `PEXPIREAT seat <ms>` (and the holds index's `ZADD XX`) |
//! | TOKENISSUE | the command with `NOW <ms>`, then `PEXPIREAT key <ms>` |
//! | QHOLD | the command with `NOW <ms>` |
//! | XADD | `XADD key [NOMKSTREAM] <the id it generated> field value ...`, then, if it trimmed, `XTRIM key MINID = <first id left>` |
//! | XTRIM | `XTRIM key MINID = <first id left>` (`MAXLEN = 0` when it emptied the stream) |
//! | XREADGROUP, XCLAIM, XAUTOCLAIM | the stream's whole state: `RESTORE key <ms> <payload> REPLACE ABSTTL` |
//! | a queue policy's tick | `QSWEEP`, `ZADD` of back-filled heartbeats, `ADMIT ... NOW <ms>`, the feed's `XADD key MAXLEN = n <id> ...` and `HSET <queue>:stats` of its markers (in MULTI) |
//!
//! SPOP (engine/src/cmd/set.rs) and served blocking pops (engine/src/blocking.rs) say their
//! own form through `Effects`. Everything else is logged as its argv. The state is read back
//! under the command's still-held locks, so it is exactly what the command left.

use super::Pending;
use usher_engine::store::LockedShards;
use usher_engine::value::{Entry as KeyEntry, Value};
use usher_protocol::Argv;

/// Waiting-room commands that take `NOW ms` as their last option and otherwise read the clock.
const CLOCK_COMMANDS: &[&str] = &[
    "ENTER",
    "ADMIT",
    "QPOS",
    "QHEARTBEAT",
    "QRENEW",
    "TOKENISSUE",
    "TOKENCONSUME",
    "TOKENVERIFY",
    "QHOLD",
    "QREVOKE",
    "QEND",
];

fn v(b: &[u8]) -> Vec<u8> {
    b.to_vec()
}

fn num(n: i64) -> Vec<u8> {
    n.to_string().into_bytes()
}

fn argv_of(argv: Argv<'_>) -> Vec<Vec<u8>> {
    argv.iter().map(v).collect()
}

/// The entry `key` holds now in `db` (held by the caller), expired or not.
fn entry<'a>(locked: &'a mut LockedShards<'_>, db: usize, key: &[u8]) -> Option<&'a KeyEntry> {
    locked.try_shard(key)?.db(db).peek_entry(key)
}

fn has_option(argv: Argv<'_>, from: usize, names: &[&str]) -> bool {
    // `SET key value` (most SETs) has nothing to look at: no walk to get past the first three.
    argv.len() > from
        && argv
            .tail(from)
            .iter()
            .any(|a| names.iter().any(|n| a.eq_ignore_ascii_case(n.as_bytes())))
}

/// Pushes the entries that replay `argv`'s effect (it changed data) onto `into`.
pub fn effect_of(
    name: &str,
    argv: Argv<'_>,
    db: usize,
    now_ms: i64,
    locked: &mut LockedShards<'_>,
    into: &mut Pending,
) {
    let key = argv.get(1).unwrap_or_default();
    let out = match name {
        "EXPIRE" | "PEXPIRE" | "EXPIREAT" | "PEXPIREAT" => {
            match entry(locked, db, key).and_then(|e| e.expire_at()) {
                Some(at) => vec![v(b"PEXPIREAT"), v(key), num(at)],
                None => vec![v(b"DEL"), v(key)],
            }
        }
        "SETEX" | "PSETEX" => string_state(locked, db, key, false),
        "SET" if has_option(argv, 3, &["EX", "PX", "EXAT"]) => string_state(locked, db, key, false),
        "INCRBYFLOAT" => string_state(locked, db, key, true),
        "GETEX" => match entry(locked, db, key).map(|e| e.expire_at()) {
            Some(Some(at)) => vec![v(b"PEXPIREAT"), v(key), num(at)],
            Some(None) => vec![v(b"PERSIST"), v(key)],
            None => vec![v(b"DEL"), v(key)],
        },
        "RESTORE" => restore_abs(argv, now_ms),
        "XADD" => {
            xadd_effect(argv, db, locked, into);
            return;
        }
        "XTRIM" => {
            into.push((db, trim_effect(locked, db, key)));
            return;
        }
        "XREADGROUP" | "XCLAIM" | "XAUTOCLAIM" => {
            // Delivery times, idle times and the consumers' seen-times were read from the
            // clock: the stream's resulting state replays exactly (Redis sends XCLAIMs).
            let keys: Vec<&[u8]> = if name == "XREADGROUP" {
                let args: Vec<&[u8]> = argv.iter().collect();
                match args.iter().position(|a| a.eq_ignore_ascii_case(b"STREAMS")) {
                    Some(at) => {
                        let rest = &args[at + 1..];
                        rest[..rest.len() / 2].to_vec()
                    }
                    None => Vec::new(),
                }
            } else {
                vec![key]
            };
            for k in keys {
                into.push((db, state_of(locked, db, k)));
            }
            return;
        }
        "SEATEXTEND" => {
            let (seat, user) = (argv.arg(1), argv.get(2).unwrap_or_default());
            if let Some(at) = entry(locked, db, seat).and_then(|e| e.expire_at()) {
                into.push((db, vec![v(b"PEXPIREAT"), v(seat), num(at)]));
                if let Some(index) = usher_engine::cmd::seat::holds_key(seat, user) {
                    if entry(locked, db, &index).is_some() {
                        into.push((db, vec![v(b"ZADD"), index, v(b"XX"), num(at), v(seat)]));
                    }
                }
            }
            return;
        }
        "TOKENISSUE" => {
            let mut out = argv_of(argv);
            if !(argv.len() >= 3 && argv.arg(argv.len() - 2).eq_ignore_ascii_case(b"NOW")) {
                out.push(v(b"NOW"));
                out.push(num(now_ms));
            }
            into.push((db, out));
            if let Some(at) = entry(locked, db, key).and_then(|e| e.expire_at()) {
                into.push((db, vec![v(b"PEXPIREAT"), v(key), num(at)]));
            }
            return;
        }
        "SEATLOCK" if argv.len() == 6 => {
            // MAXHELD: the hold itself, then the index as the command left it (its prune of
            // expired holds, then this hold), so a replay never refuses what once succeeded.
            let (seat, user) = (argv.arg(1), argv.arg(2));
            into.push((db, argv_of(argv)[..4].to_vec()));
            seat_state(locked, db, seat, into);
            if let Some(index) = usher_engine::cmd::seat::holds_key(seat, user) {
                into.push((
                    db,
                    vec![
                        v(b"ZREMRANGEBYSCORE"),
                        index.clone(),
                        v(b"-inf"),
                        num(now_ms),
                    ],
                ));
                if let Some(at) = entry(locked, db, seat).and_then(|e| e.expire_at()) {
                    into.push((db, vec![v(b"ZADD"), index, num(at), v(seat)]));
                }
            }
            return;
        }
        "SEATLOCK" | "SEATLOCKALL" => {
            into.push((db, argv_of(argv)));
            let seats = if name == "SEATLOCK" {
                1..2
            } else {
                3..argv.len()
            };
            for seat in seats.map(|i| argv.arg(i)) {
                seat_state(locked, db, seat, into);
            }
            return;
        }
        n if CLOCK_COMMANDS.contains(&n) => {
            let given = argv.len() >= 3 && argv.arg(argv.len() - 2).eq_ignore_ascii_case(b"NOW");
            if given {
                into.push_argv(db, argv);
            } else {
                into.push_argv_now(db, argv, now_ms);
            }
            return;
        }
        _ => {
            into.push_argv(db, argv);
            return;
        }
    };
    into.push((db, out));
}

/// XADD with the id it generated (a replay must not generate another) and, if it trimmed,
/// the exact trim that leaves the same first entry.
fn xadd_effect(argv: Argv<'_>, db: usize, locked: &mut LockedShards<'_>, into: &mut Pending) {
    let args: Vec<&[u8]> = argv.iter().collect();
    let key = args.get(1).copied().unwrap_or_default();
    let mut out = vec![v(b"XADD"), v(key)];
    let mut i = 2;
    let mut trimmed = false;
    while i < args.len() {
        let a = args[i];
        if a.eq_ignore_ascii_case(b"NOMKSTREAM") {
            out.push(v(a));
            i += 1;
        } else if a.eq_ignore_ascii_case(b"MAXLEN") || a.eq_ignore_ascii_case(b"MINID") {
            trimmed = true;
            i += 1;
            if args.get(i).is_some_and(|x| *x == b"=" || *x == b"~") {
                i += 1;
            }
            i += 1; // the threshold
            if args
                .get(i)
                .is_some_and(|x| x.eq_ignore_ascii_case(b"LIMIT"))
            {
                i += 2;
            }
        } else {
            break; // the id
        }
    }
    let last = match entry(locked, db, key).map(|e| &e.value) {
        Some(Value::Stream(s)) => s.last_id.to_bytes(),
        _ => return,
    };
    out.push(last);
    out.extend(args.iter().skip(i + 1).map(|a| v(a)));
    into.push((db, out));
    if trimmed {
        into.push((db, trim_effect(locked, db, key)));
    }
}

/// The exact trim that leaves `key` as it is now.
fn trim_effect(locked: &mut LockedShards<'_>, db: usize, key: &[u8]) -> Vec<Vec<u8>> {
    match entry(locked, db, key).map(|e| &e.value) {
        Some(Value::Stream(s)) if !s.is_empty() => {
            vec![
                v(b"XTRIM"),
                v(key),
                v(b"MINID"),
                v(b"="),
                s.first_id.to_bytes(),
            ]
        }
        Some(Value::Stream(_)) => vec![v(b"XTRIM"), v(key), v(b"MAXLEN"), v(b"="), v(b"0")],
        _ => vec![v(b"DEL"), v(key)],
    }
}

/// `key`'s whole state, as a RESTORE that replaces it (with its expiry), or DEL if it is gone.
fn state_of(locked: &mut LockedShards<'_>, db: usize, key: &[u8]) -> Vec<Vec<u8>> {
    let Some(e) = entry(locked, db, key) else {
        return vec![v(b"DEL"), v(key)];
    };
    let options = usher_persist::rdb::WriteOptions {
        compress: false,
        list_fill: -2,
    };
    let payload = usher_persist::rdb::dump_payload(&e.value, options);
    let at = e.expire_at().unwrap_or(0);
    let mut out = vec![v(b"RESTORE"), v(key), num(at), payload, v(b"REPLACE")];
    if at > 0 {
        out.push(v(b"ABSTTL"));
    }
    out
}

/// A hold's clock-dependent fields as the command left them: `heldAt` and the expiry.
fn seat_state(locked: &mut LockedShards<'_>, db: usize, seat: &[u8], into: &mut Pending) {
    if let Some(e) = entry(locked, db, seat) {
        let held_at = match &e.value {
            Value::Hash(h) => h.get(b"heldAt").map(v),
            _ => None,
        };
        let at = e.expire_at();
        if let Some(h) = held_at {
            into.push((db, vec![v(b"HSET"), v(seat), v(b"heldAt"), h]));
        }
        if let Some(at) = at {
            into.push((db, vec![v(b"PEXPIREAT"), v(seat), num(at)]));
        }
    }
}

/// `SET key value PXAT at` (or `KEEPTTL`, INCRBYFLOAT's form) from what `key` holds now.
fn string_state(
    locked: &mut LockedShards<'_>,
    db: usize,
    key: &[u8],
    keep_ttl: bool,
) -> Vec<Vec<u8>> {
    let Some(e) = entry(locked, db, key) else {
        return vec![v(b"DEL"), v(key)];
    };
    let Value::Str(s) = &e.value else {
        return vec![v(b"DEL"), v(key)];
    };
    let mut out = vec![v(b"SET"), v(key), s.to_vec()];
    match (keep_ttl, e.expire_at()) {
        (true, _) => out.push(v(b"KEEPTTL")),
        (false, Some(at)) => {
            out.push(v(b"PXAT"));
            out.push(num(at));
        }
        (false, None) => {}
    }
    out
}

/// RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME s] [FREQ f] with a relative TTL made
/// absolute.
fn restore_abs(argv: Argv<'_>, now_ms: i64) -> Vec<Vec<u8>> {
    let mut out = argv_of(argv);
    let ttl = std::str::from_utf8(argv.arg(2))
        .ok()
        .and_then(|t| t.parse::<i64>().ok())
        .unwrap_or(0);
    if ttl > 0 && !has_option(argv, 4, &["ABSTTL"]) {
        out[2] = num(now_ms + ttl);
        out.push(v(b"ABSTTL"));
    }
    out
}
