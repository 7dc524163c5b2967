//! DUMP and RESTORE: one value in RDB encoding, with the RDB version and a CRC-64 as footer,
//! byte-compatible with Redis 7.0.15 both ways (a payload DUMPed by either restores on the
//! other).
//!
//! RESTORE checks in Redis's order (options, then BUSYKEY, then the TTL, then the footer, then
//! the body), and parses the whole payload before it touches the keyspace, so a bad payload
//! changes nothing. `IDLETIME` and `FREQ` are validated like Redis's but only matter under an
//! LRU/LFU eviction policy, which usher does not have (maxmemory is noeviction only).
//!
//! A restored `<queue>:policy` hash written by QPOLICY SET is adopted at once, as the start-up
//! loader does, so moving a waiting room key by key (DUMP on one server, RESTORE on another)
//! brings its running policy along.

use crate::rdb::{self, WriteOptions};
use usher_engine::args::is;
use usher_engine::command::{cmd, CommandSpec, EngineHandler, Flags, Group};
use usher_engine::ctx::ExecCtx;
use usher_engine::error::{CmdError, CmdResult};
use usher_engine::keyspace_events;
use usher_protocol::parse::parse_i64;
use usher_protocol::{errors, Argv, ReplySink};

/// ```text
/// DUMP key
/// ```
fn dump(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let key = argv.arg(1);
    let now = ctx.now_ms;
    let o = WriteOptions::new(crate::compression(), ctx.config);
    match ctx.db(key).lookup(key, now) {
        Some(entry) => out.bulk(&rdb::dump_payload(&entry.value, o)),
        None => out.null(),
    }
    Ok(())
}

/// ```text
/// RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]
/// ```
fn restore(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (mut replace, mut absttl) = (false, false);
    let (mut idle, mut freq) = (-1i64, -1i64);
    let mut j = 4;
    while j < argv.len() {
        let a = argv.arg(j);
        let more = argv.len() - j - 1;
        if is(a, "REPLACE") {
            replace = true;
        } else if is(a, "ABSTTL") {
            absttl = true;
        } else if is(a, "IDLETIME") && more >= 1 && freq == -1 {
            idle = parse_i64(argv.arg(j + 1)).ok_or(CmdError::NotInteger)?;
            if idle < 0 {
                return Err(CmdError::Static(errors::INVALID_IDLETIME));
            }
            j += 1;
        } else if is(a, "FREQ") && more >= 1 && idle == -1 {
            freq = parse_i64(argv.arg(j + 1)).ok_or(CmdError::NotInteger)?;
            if !(0..=255).contains(&freq) {
                return Err(CmdError::Static(errors::INVALID_FREQ));
            }
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let key = argv.arg(1);
    let now = ctx.now_ms;
    if !replace && ctx.db(key).contains(key, now) {
        return Err(CmdError::Static(errors::BUSYKEY));
    }
    let mut ttl = parse_i64(argv.arg(2)).ok_or(CmdError::NotInteger)?;
    if ttl < 0 {
        return Err(CmdError::Static(errors::INVALID_TTL));
    }
    let body =
        rdb::verify_dump_payload(argv.arg(3)).ok_or(CmdError::Static(errors::DUMP_PAYLOAD))?;
    let value =
        rdb::load_dump_body(body, ctx.config).ok_or(CmdError::Static(errors::BAD_DATA_FORMAT))?;
    let deleted = replace && ctx.db(key).delete(key, now);
    if ttl != 0 && !absttl {
        ttl = ttl.saturating_add(now);
    }
    if ttl != 0 && ttl <= now {
        // Already expired: the key is (still) gone, as Redis's checkAlreadyExpired.
        if deleted {
            ctx.modified(key);
            ctx.notify(keyspace_events::GENERIC, "del", key);
        }
        out.ok();
        return Ok(());
    }
    let db = ctx.db(key);
    db.set(key, value);
    if ttl != 0 {
        db.set_expire(key, ttl, now);
    }
    ctx.modified(key);
    ctx.notify(keyspace_events::GENERIC, "restore", key);
    ctx.ready(key);
    if key.ends_with(b":policy") {
        let db = ctx.db;
        usher_engine::cmd::qpolicy::adopt_policy_hash(ctx.shards.shard(key), db, key, now);
    } else if key.ends_with(b":split") {
        let db = ctx.db;
        usher_engine::queue::split::adopt_split_hash(ctx.shards.shard(key), db, key, now);
    }
    out.ok();
    Ok(())
}

pub static COMMANDS: &[CommandSpec<EngineHandler>] = &[
    cmd("DUMP", 2, Flags::READONLY, dump as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Generic, "2.6.0", "Returns a serialized representation of the value stored at a key.", "O(1) to access the key and additional O(N*M) to serialize it, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1)."),
    cmd("RESTORE", -4, Flags::WRITE.union(Flags::DENYOOM), restore as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Generic, "2.6.0", "Creates a key from the serialized representation of a value.", "O(1) to create the new key and additional O(N*M) to reconstruct the serialized value, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1). However for sorted set values the complexity is O(N*M*log(N)) because inserting values into sorted sets is O(log(N))."),
    cmd("RESTORE-ASKING", -4, Flags::WRITE.union(Flags::DENYOOM).union(Flags::ASKING), restore as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Server, "3.0.0", "An internal command for migrating keys in a cluster", "O(1) to create the new key and additional O(N*M) to reconstruct the serialized value, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1). However for sorted set values the complexity is O(N*M*log(N)) because inserting values into sorted sets is O(log(N))."),
];
