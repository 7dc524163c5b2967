//! The transaction family: MULTI, EXEC, DISCARD, WATCH and UNWATCH.
//!
//! EXEC is atomic across shards: it locks every shard any queued command touches (ascending,
//! all of them if one command needs the whole keyspace), runs the queue, then unlocks. No other
//! client's command can interleave, on any thread. WATCH registers the client's flag on each
//! key's shard; any modification raises it, and EXEC then answers a null array.

use crate::client::flag;
use crate::dispatch::{self, finish, run_engine, shards_needed};
use crate::registry::{ServerHandler, ServerSpec, Spec};
use crate::session::Session;
use smallvec::SmallVec;
use std::sync::atomic::Ordering;
use std::time::Instant;
use usher_engine::command::{cmd, Flags, Group};
use usher_engine::error::{CmdError, CmdResult};
use usher_engine::store::LockedShards;
use usher_protocol::{errors, Argv, ReplySink, RespWriter};

pub fn end_multi(s: &mut Session) {
    s.multi = None;
    s.info.set_flag(flag::MULTI, false);
    s.info.multi_len.store(-1, Ordering::Relaxed);
    s.info.multi_mem.store(0, Ordering::Relaxed);
}

/// ```text
/// MULTI
/// ```
fn multi(
    s: &mut Session,
    _locked: &mut LockedShards,
    _argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    dispatch::begin_multi(s)?;
    out.ok();
    Ok(())
}

/// ```text
/// DISCARD
/// ```
fn discard(
    s: &mut Session,
    _locked: &mut LockedShards,
    _argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    if s.multi.is_none() {
        return Err(CmdError::Static(errors::DISCARD_WITHOUT_MULTI));
    }
    end_multi(s);
    s.unwatch_all();
    out.ok();
    Ok(())
}

/// True if a key that existed when WATCHed is gone or expired now: a deletion by expiry counts
/// as a modification, as in Redis 7.0.
fn watched_key_vanished(s: &Session) -> bool {
    s.watch.keys.iter().any(|(db, key, existed)| {
        *existed && {
            let shard = s.shared.store.shard_of(key);
            !s.shared
                .store
                .lock_one(shard)
                .shard(key)
                .db(*db)
                .contains(key, s.now_ms)
        }
    })
}

/// ```text
/// EXEC
/// ```
fn exec(
    s: &mut Session,
    _locked: &mut LockedShards,
    _argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    let Some(multi) = s.multi.take() else {
        return Err(CmdError::Static(errors::EXEC_WITHOUT_MULTI));
    };
    end_multi(s);
    if multi.errored {
        s.unwatch_all();
        return Err(CmdError::Static(errors::EXECABORT));
    }
    if s.watch.dirty() || watched_key_vanished(s) {
        s.unwatch_all();
        out.null_array();
        return Ok(());
    }
    s.unwatch_all();
    let shared = s.shared;
    let mut shards: SmallVec<[u16; 8]> = SmallVec::new();
    let mut all = false;
    for (id, argv) in &multi.queued {
        let spec = crate::registry::get().get(*id).spec;
        // A script may reach keys it did not declare: EXEC cannot rerun, so it holds all.
        all |= spec.group() == usher_engine::command::Group::Scripting
            || !shards_needed(&shared.store, spec, argv.argv(), &mut shards);
    }
    let mut locked = if all {
        shared.store.lock_all()
    } else {
        shared.store.lock_many(&mut shards)
    };
    if !all && crate::dispatch::holds_sub_queues(&mut locked) {
        // Sub-queues written by hand inside the transaction: their lines' queue shards too
        // (`dispatch::lock_sub_queue_homes`).
        let keys: Vec<Vec<u8>> = multi
            .queued
            .iter()
            .map(|(id, argv)| (crate::registry::get().get(*id).spec, argv.argv()))
            .filter(|&(spec, _)| crate::dispatch::writes_by_hand(spec))
            .flat_map(|(spec, argv)| crate::cluster::command_keys(spec, argv))
            .collect();
        crate::dispatch::lock_homes_of(keys.iter().map(Vec::as_slice), &mut locked);
    }
    if let (Some(routed), Some(cluster)) = (s.slot_route.take(), shared.cluster.get()) {
        // Cluster mode: the transaction's slot, routed again if the topology changed since
        // the gate, and if it is moving, its keys all together (Redis's getNodeByQuery over
        // the queued commands), under the locks EXEC runs with.
        let keys = || -> Vec<Vec<u8>> {
            multi
                .queued
                .iter()
                .flat_map(|(id, argv)| {
                    crate::cluster::command_keys(crate::registry::get().get(*id).spec, argv.argv())
                })
                .collect()
        };
        routed
            .confirm(cluster, &mut locked, s.db, s.now_ms, keys)
            .map_err(CmdError::Owned)?;
    }
    out.array(multi.queued.len());
    let mut started = Instant::now();
    for (id, owned) in &multi.queued {
        let cmd = crate::registry::get().get(*id);
        let argv = owned.argv();
        // As Redis 7.0: permissions are checked again, in case ACL rules changed since queueing.
        if !s.acl_free {
            if let Err(denied) = crate::acl::check::check(&s.user, cmd, argv) {
                let multi = Some(crate::acl::log::Context::Multi);
                crate::acl::log_denial(s, cmd, argv, denied, multi);
                out.error(&denied.exec_error());
                continue;
            }
        }
        let result = match cmd.spec {
            Spec::Engine(spec) => run_engine(s, spec, argv, out, &mut locked, false, false),
            Spec::Server(spec) => spec.handler.expect("resolved")(s, &mut locked, argv, out),
        };
        started = finish(s, cmd, started, result, out);
        if shared.monitors.active() {
            let addr = s.info.addr.clone();
            crate::dispatch::feed_monitors(s, cmd, argv, &addr);
        }
    }
    // Clients blocked on keys the transaction filled are served before anyone else runs.
    crate::waiters::serve_ready_keys(s, &mut locked);
    crate::propagate::commit(s, &mut locked);
    drop(locked);
    crate::dispatch::after_unlock(s);
    Ok(())
}

/// ```text
/// WATCH key [key ...]
/// ```
fn watch(
    s: &mut Session,
    locked: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    if s.multi.is_some() {
        return Err(CmdError::Static(errors::WATCH_INSIDE_MULTI));
    }
    for key in argv.iter().skip(1) {
        if s.watch
            .keys
            .iter()
            .any(|(db, k, _)| *db == s.db && k == key)
        {
            continue;
        }
        let shard = locked.shard(key);
        let existed = shard.db(s.db).contains(key, s.now_ms);
        shard.watch(s.db, key, s.watch.flag.clone());
        s.watch.keys.push((s.db, key.to_vec(), existed));
    }
    out.ok();
    Ok(())
}

/// ```text
/// UNWATCH
/// ```
fn unwatch(
    s: &mut Session,
    _locked: &mut LockedShards,
    _argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    s.unwatch_all();
    out.ok();
    Ok(())
}

const TX: Flags = Flags::NOSCRIPT
    .union(Flags::LOADING)
    .union(Flags::STALE)
    .union(Flags::FAST)
    .union(Flags::ALLOW_BUSY);

pub static COMMANDS: &[ServerSpec] = &[
    cmd("MULTI", 1, TX, multi as ServerHandler).doc(
        Group::Transactions,
        "1.2.0",
        "Starts a transaction.",
        "O(1)",
    ),
    cmd(
        "EXEC",
        1,
        Flags::NOSCRIPT
            .union(Flags::LOADING)
            .union(Flags::STALE)
            .union(Flags::SKIP_SLOWLOG),
        exec as ServerHandler,
    )
    .doc(
        Group::Transactions,
        "1.2.0",
        "Executes all commands in a transaction.",
        "Depends on commands in the transaction",
    ),
    cmd("DISCARD", 1, TX, discard as ServerHandler).doc(
        Group::Transactions,
        "2.0.0",
        "Discards a transaction.",
        "O(N), when N is the number of queued commands",
    ),
    cmd("WATCH", -2, TX, watch as ServerHandler)
        .keys(1, -1, 1)
        .doc(
            Group::Transactions,
            "2.2.0",
            "Monitors changes to keys to determine the execution of a transaction.",
            "O(1) for every key.",
        ),
    cmd("UNWATCH", 1, TX, unwatch as ServerHandler).doc(
        Group::Transactions,
        "2.2.0",
        "Forgets about watched keys of a transaction.",
        "O(1)",
    ),
];
