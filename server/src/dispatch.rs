//! The one dispatch gate every command passes through, in Redis's `processCommand` order:
//!
//! ```text
//! lookup ─ unknown command / unknown subcommand ─┐
//! arity ─ wrong number of arguments ──────────────┤ rejected (and, inside MULTI, the
//! auth ─ NOAUTH ───────────────────────────────────┤ transaction is marked to abort)
//! ACL ─ NOPERM (command, key or channel) ──────────┤
//! maxmemory ─ OOM (DENYOOM commands) ─────────────┤
//! failing disk ─ MISCONF (writes, PING) ──────────┤
//! RESP2 subscriber mode ─ only (P)SUBSCRIBE ... ──┤
//! cluster mode ─ MOVED / CROSSSLOT / CLUSTERDOWN ──┤
//! loading a snapshot ─ LOADING (no `loading` flag) ┘
//! MULTI ─ queue it, reply QUEUED
//! execute: lock the shards of its keys (ascending), run the handler, unlock
//! stats, CLIENT REPLY mode
//! ```
//!
//! Engine commands run inline on the connection's thread under the shard locks of their keys;
//! there is no hop to another thread (see ARCHITECTURE.md, "Threads").

use crate::registry::{Command, Lookup, Spec};
use crate::session::{MultiState, ReplyMode, Session};
use crate::stats::bump;
use smallvec::SmallVec;
use std::sync::atomic::Ordering;
use std::time::Instant;
use usher_cluster::key_hash_slot;
use usher_engine::command::{CommandSpec, EngineHandler, Flags};
use usher_engine::error::{CmdError, CmdResult};
use usher_engine::store::{LockedShards, Store};
use usher_protocol::{errors, Argv, ReplySink, RespWriter};

/// Commands that run immediately even inside MULTI.
fn runs_inside_multi(name: &str) -> bool {
    matches!(
        name,
        "EXEC" | "DISCARD" | "MULTI" | "WATCH" | "QUIT" | "RESET"
    )
}

/// Commands allowed in RESP2 subscriber mode.
fn allowed_in_pubsub(name: &str) -> bool {
    matches!(
        name,
        "SUBSCRIBE"
            | "PSUBSCRIBE"
            | "SSUBSCRIBE"
            | "UNSUBSCRIBE"
            | "PUNSUBSCRIBE"
            | "SUNSUBSCRIBE"
            | "PING"
            | "QUIT"
            | "RESET"
    )
}

/// Runs one command and writes its reply.
pub fn dispatch(s: &mut Session, argv: Argv<'_>, out: &mut RespWriter<'_>) {
    let reply_start = out.len();
    if s.reply_mode == ReplyMode::Skip {
        s.reply_mode = ReplyMode::Skipping;
    }
    let no_touch = s.info.has_flag(crate::client::flag::NO_TOUCH);
    if no_touch {
        // Redis 7.2: a NO-TOUCH client's reads leave keys' access times alone, except TOUCH.
        usher_engine::lfu::set_no_touch(!argv.arg(0).eq_ignore_ascii_case(b"TOUCH"));
    }
    dispatch_inner(s, argv, out);
    if no_touch {
        usher_engine::lfu::set_no_touch(false);
    }
    if std::mem::take(&mut s.pushed_reply) {
        // Pub/sub confirmations are pushes: REPLY OFF does not hold them back (a SKIP still
        // ends with this command).
        if s.reply_mode == ReplyMode::Skipping {
            s.reply_mode = ReplyMode::On;
        }
        return;
    }
    match s.reply_mode {
        ReplyMode::On => {}
        ReplyMode::Off | ReplyMode::Skip => out.truncate(reply_start),
        ReplyMode::Skipping => {
            out.truncate(reply_start);
            s.reply_mode = ReplyMode::On;
        }
    }
}

fn dispatch_inner(s: &mut Session, argv: Argv<'_>, out: &mut RespWriter<'_>) {
    let shared = s.shared;
    let registry = crate::registry::get();
    let cmd = match registry.lookup_cached(argv, &mut s.last_lookup) {
        Lookup::Found(cmd) => cmd,
        Lookup::Unknown => {
            let msg = errors::unknown_command(argv.arg(0), &mut argv.iter().skip(1));
            return reject(s, None, out, &msg);
        }
        Lookup::UnknownSubcommand(container) => {
            // Not counted against the container: Redis's lookup finds no command at all.
            let msg = errors::unknown_subcommand(argv.arg(1), container.spec.name());
            return reject(s, None, out, &msg);
        }
    };
    // Like Redis's `c->lastcmd`, set at lookup: CLIENT LIST shows the command being run (its
    // own `client|list` included), and rejected commands count too.
    s.info.last_cmd.store(cmd.id, Ordering::Relaxed);
    let spec = cmd.spec;
    if !spec.arity_ok(argv.len()) {
        return reject(s, Some(cmd), out, &errors::wrong_arity(&cmd.full_name));
    }
    if s.auth_required() && !spec.flags().contains(Flags::NO_AUTH) {
        return reject(s, Some(cmd), out, errors::NOAUTH);
    }
    // The default user's `+@all ~* &*` passes on this one flag; anyone else is checked.
    if !s.acl_free {
        if let Err(denied) = crate::acl::check::check(&s.user, cmd, argv) {
            crate::acl::log_denial(s, cmd, argv, denied, None);
            return reject(s, Some(cmd), out, &denied.error(&cmd.full_name));
        }
    }
    let top_name = registry.get(cmd.parent.unwrap_or(cmd.id)).spec.name();
    let disk_error = crate::persistence::disk_error(s);
    // A script's declared flags count only where a gate below could refuse on them.
    let flags = if s.hot.maxmemory > 0
        || disk_error.is_some()
        || crate::replication::is_replica(shared)
        || s.hot.repl.min_replicas_to_write > 0
    {
        crate::cmd::scripting::gate_flags(s, top_name, spec.flags(), argv)
    } else {
        spec.flags()
    };
    if s.hot.maxmemory > 0
        && denies_oom(s, flags, top_name)
        && crate::memory::used_bytes() > s.hot.maxmemory
    {
        return reject(s, Some(cmd), out, errors::OOM);
    }
    if let Some(msg) = disk_error {
        if writes(s, flags, top_name) || top_name == "PING" {
            return reject(s, Some(cmd), out, &msg);
        }
    }
    if s.in_pubsub_context() && !allowed_in_pubsub(top_name) {
        return reject(
            s,
            Some(cmd),
            out,
            &errors::fill(errors::PUBSUB_CONTEXT, &cmd.full_name),
        );
    }
    if let Some(cluster) = shared.cluster.get() {
        // As Redis Cluster: each command is routed alone (a queued one too); a transaction
        // whose commands name several slots fails at EXEC, which discards it.
        if top_name == "EXEC" && s.multi.as_ref().is_some_and(|m| m.cross_slot) {
            crate::cmd::transaction::end_multi(s);
            s.unwatch_all();
            return reject(s, Some(cmd), out, errors::CROSSSLOT);
        }
        s.slot_route = None;
        // ASKING covers the next command, or a whole transaction (Redis's resetClient).
        let asking = s.asking || spec.flags().contains(Flags::ASKING);
        s.asked = asking;
        if s.multi.is_none() || top_name == "EXEC" {
            s.asking = false;
        }
        let (topology, version) = cluster.snapshot();
        let routed = match s.multi.as_ref().and_then(|m| m.slot) {
            Some(slot) if top_name == "EXEC" => {
                crate::cluster::route_slot(&topology, slot, asking, false)
            }
            _ => crate::cluster::route(&topology, spec, argv, asking, top_name == "MIGRATE"),
        };
        let (slot, check) = match routed {
            Ok(crate::cluster::Route::Serve(slot)) => (slot, None),
            Ok(crate::cluster::Route::Check(slot, check)) => (Some(slot), Some(check)),
            Err(msg) => {
                if top_name == "EXEC" {
                    crate::cmd::transaction::end_multi(s);
                    s.unwatch_all();
                }
                return reject(s, Some(cmd), out, &msg);
            }
        };
        if let (Some(check), true) = (&check, is_queued(s, top_name)) {
            // A queued command in a moving slot meets the key check now too, as Redis's
            // getNodeByQuery does for each command it queues: ASK or TRYAGAIN at once (and
            // the transaction flagged), not a QUEUED that EXEC can only refuse as a whole.
            if let Err(msg) = verify_queued(s, spec, argv, check) {
                return reject(s, Some(cmd), out, &msg);
            }
        }
        if let Some(slot) = slot {
            // Confirmed under the command's locks; queued commands together, at EXEC.
            if s.multi.is_none() || top_name == "EXEC" {
                let migrate = top_name == "MIGRATE";
                s.slot_route = Some(crate::cluster::Routed::new(
                    version, slot, asking, migrate, check,
                ));
            }
            if let Some(m) = s.multi.as_mut().filter(|_| !runs_inside_multi(top_name)) {
                m.cross_slot |= m.slot.is_some_and(|t| t != slot);
                m.slot = Some(slot);
            }
        }
    }
    if !spec.flags().contains(Flags::LOADING) && shared.persist.loading.load(Ordering::Relaxed) {
        return reject(s, Some(cmd), out, errors::LOADING);
    }
    if let Some(msg) = crate::replication::gate(s, flags) {
        return reject(s, Some(cmd), out, msg);
    }
    if usher_lua::engine::BUSY_SCRIPTS.load(Ordering::Relaxed) > 0
        && !spec.flags().contains(Flags::ALLOW_BUSY)
        && !(top_name == "SHUTDOWN"
            && argv
                .iter()
                .skip(1)
                .any(|a| a.eq_ignore_ascii_case(b"NOSAVE")))
    {
        // A script on another thread is past busy-reply-threshold (Redis's BUSY).
        return reject(s, Some(cmd), out, errors::BUSY);
    }
    if s.multi.is_some() && spec.flags().contains(Flags::NO_MULTI) {
        return reject(
            s,
            Some(cmd),
            out,
            "ERR Command not allowed inside a transaction",
        );
    }
    if let Some(multi) = s.multi.as_mut().filter(|_| !runs_inside_multi(top_name)) {
        multi.queued.push((cmd.id, argv.to_owned_argv()));
        s.info
            .multi_len
            .store(multi.queued.len() as i64, Ordering::Relaxed);
        let bytes: usize = argv.iter().map(<[u8]>::len).sum();
        s.info.multi_mem.fetch_add(bytes, Ordering::Relaxed);
        out.simple("QUEUED");
        return;
    }
    execute(s, cmd, argv, out);
}

/// The command will be queued, not run: inside MULTI and not one of MULTI's own.
fn is_queued(s: &Session, top_name: &str) -> bool {
    s.multi.is_some() && !runs_inside_multi(top_name)
}

/// The key check of a moving slot for a command about to be queued, under its keys' locks
/// for that instant. EXEC checks every queued key again, together, under its own locks.
fn verify_queued(
    s: &Session,
    spec: Spec,
    argv: Argv<'_>,
    check: &crate::cluster::SlotCheck,
) -> Result<(), String> {
    let mut locked = lock_for(&s.shared.store, spec, argv);
    let keys = crate::cluster::command_keys(spec, argv);
    check.verify(&mut locked, s.db, s.now_ms, keys.iter().map(Vec::as_slice))
}

/// DENYOOM applies to the command itself, or to EXEC when a queued command is DENYOOM.
/// Inside MULTI every command but EXEC, DISCARD, QUIT and RESET is refused over the limit,
/// since queueing itself costs memory (Redis's `processCommand`).
fn denies_oom(s: &Session, flags: Flags, top_name: &str) -> bool {
    carries(s, flags, top_name, Flags::DENYOOM)
        || (s.multi.is_some() && !matches!(top_name, "EXEC" | "DISCARD" | "QUIT" | "RESET"))
}

/// A write command, or EXEC of a transaction that queued one (what a failing disk refuses).
fn writes(s: &Session, flags: Flags, top_name: &str) -> bool {
    carries(s, flags, top_name, Flags::WRITE)
}

/// The command has `flag`, or it is EXEC and a queued command has it (Redis's
/// `mstate.cmd_flags`, which the gate reads for EXEC).
fn carries(s: &Session, flags: Flags, top_name: &str, flag: Flags) -> bool {
    flags.contains(flag)
        || (top_name == "EXEC"
            && s.multi.as_ref().is_some_and(|m| {
                m.queued
                    .iter()
                    .any(|(id, _)| crate::registry::get().get(*id).spec.flags().contains(flag))
            }))
}

/// Replies with a rejection error, counts it, and poisons an open MULTI. A rejected EXEC
/// discards the transaction and says why, as Redis's `rejectCommand` does (`execCommandAbort`):
/// the client must not be left inside a MULTI it believes ended.
fn reject(s: &mut Session, cmd: Option<&Command>, out: &mut RespWriter<'_>, msg: &str) {
    s.slot_route = None;
    let aborted;
    let msg = if s.multi.is_some() && cmd.is_some_and(|c| c.spec.name() == "EXEC") {
        crate::cmd::transaction::end_multi(s);
        s.unwatch_all();
        aborted = format!("EXECABORT Transaction discarded because of: {msg}");
        &aborted
    } else {
        msg
    };
    out.error(msg);
    s.stats
        .record_error(usher_engine::error::error_code(msg.as_bytes()));
    if let Some(cmd) = cmd {
        bump(&s.stats.commands[cmd.id as usize].rejected_calls, 1);
    }
    if let Some(multi) = s.multi.as_mut() {
        multi.errored = true;
    }
}

/// Runs a resolved command now (outside MULTI, or one queued command of EXEC when `locked`
/// is given), with stats.
pub fn execute(s: &mut Session, cmd: &Command, argv: Argv<'_>, out: &mut RespWriter<'_>) {
    // In a pipelined read, the previous command's end is this one's start: one clock read per
    // command instead of two (the dispatch gate's time since then is counted here).
    let started = s.last_command_end.take().unwrap_or_else(|| {
        let now = Instant::now();
        s.read_started = Some(now);
        now
    });
    let result = match cmd.spec {
        Spec::Engine(spec) => {
            let shared = s.shared;
            let (mut locked, one_slot) = lock_routed(&shared.store, cmd.spec, argv);
            lock_split_lines(s.db, spec, argv, &mut locked, true);
            lock_sub_queue_homes(cmd.spec, argv, &mut locked);
            let mut result = match verify_slot(s, cmd.spec, argv, &mut locked) {
                Ok(()) => run_engine(s, spec, argv, out, &mut locked, true, one_slot),
                Err(e) => Err(e),
            };
            if result
                .as_ref()
                .is_err_and(usher_engine::queue::split::is_sub_queue_busy)
                && usher_engine::queue::split::user_of(spec.name, argv).is_some()
            {
                // Locked for one user's sub-queue, it needed them all (tied arrival scores)
                // and had changed nothing: again, with the whole line locked.
                lock_split_lines(s.db, spec, argv, &mut locked, false);
                result = run_engine(s, spec, argv, out, &mut locked, true, one_slot);
            }
            if s.tracking.is_some() && result.is_ok() {
                // Under the locks the read took: no write can come between read and record.
                crate::tracking::after_read(s, cmd.spec, argv);
            }
            crate::waiters::serve_ready_keys(s, &mut locked);
            crate::waiters::register_if_blocked(s, &mut locked, cmd.id, argv);
            crate::propagate::commit(s, &mut locked);
            drop(locked);
            after_unlock(s);
            result
        }
        Spec::Server(spec) => {
            let handler = spec
                .handler
                .expect("containers are resolved to subcommands");
            let shared = s.shared;
            let mut locked = lock_for(&shared.store, cmd.spec, argv);
            let result = match verify_slot(s, cmd.spec, argv, &mut locked) {
                Ok(()) => handler(s, &mut locked, argv, out),
                Err(e) => Err(e),
            };
            if result.is_ok() && logs_as_itself(spec) && s.shared.stream.on() {
                s.prop.push_argv(s.db, argv);
            }
            crate::propagate::commit(s, &mut locked);
            if s.effects.has_deliveries() {
                // A script's commands may queue announcements and keyspace events: sent once
                // its locks are gone.
                drop(locked);
                after_unlock(s);
            }
            result
        }
    };
    s.last_command_end = Some(finish(s, cmd, started, result, out));
    if let Some(t) = s.tracking.as_mut() {
        // CLIENT CACHING's choice covers the next command only (a whole transaction).
        if s.multi.is_none() && cmd.full_name != "client|caching" {
            t.caching = false;
        }
    }
    if s.shared.monitors.active() {
        feed_monitors(s, cmd, argv, &s.info.addr);
    }
    // `finish` measured the command already: one clock subtraction per command, not two.
    let threshold = s.hot.slowlog_threshold_us;
    if threshold >= 0
        && s.last_took_us >= threshold as u64
        && !cmd.spec.flags().contains(Flags::SKIP_SLOWLOG)
    {
        record_slow(s, argv, s.last_took_us);
    }
    let latency = s.hot.latency_monitor_us;
    if latency > 0 && s.last_took_us >= latency {
        let fast = cmd.spec.flags().contains(Flags::FAST);
        s.shared.latency_monitor.record(
            if fast { "fast-command" } else { "command" },
            s.last_took_us / 1000,
            s.now_ms / 1000,
        );
    }
}

/// Cluster mode: the gate's routing, confirmed under the command's locks (a slot that began
/// to move, or moved away, since the gate). EXEC confirms its queued commands itself.
#[inline]
fn verify_slot(
    s: &mut Session,
    spec: Spec,
    argv: Argv<'_>,
    locked: &mut LockedShards<'_>,
) -> CmdResult {
    let Some(routed) = s.slot_route.take() else {
        return Ok(());
    };
    if spec.name() == "EXEC" {
        s.slot_route = Some(routed);
        return Ok(());
    }
    let Some(cluster) = s.shared.cluster.get() else {
        return Ok(());
    };
    routed
        .confirm(cluster, locked, s.db, s.now_ms, || {
            crate::cluster::command_keys(spec, argv)
        })
        .map_err(CmdError::Owned)
}

/// Shows a finished command to MONITOR clients (not admin commands, as Redis).
#[cold]
pub fn feed_monitors(s: &Session, cmd: &Command, argv: Argv<'_>, origin: &str) {
    let flags = cmd.spec.flags();
    if flags.contains(Flags::ADMIN) || flags.contains(Flags::SKIP_MONITOR) {
        return;
    }
    s.shared
        .monitors
        .feed(s.db, origin, s.info.id, argv, &s.hot.output_pubsub);
}

/// Shows a script-running command (EVAL, FCALL and friends) to MONITOR clients before it runs,
/// as Redis does: they carry `skip_monitor` so the normal path after running skips them, and
/// the commands the script calls follow as `[db lua]` lines.
pub fn feed_script_call(s: &Session, argv: Argv<'_>) {
    if s.shared.monitors.active() {
        s.shared
            .monitors
            .feed(s.db, &s.info.addr, s.info.id, argv, &s.hot.output_pubsub);
    }
}

/// Adds a command that ran past `slowlog-log-slower-than` to the slow log (the rare path).
#[cold]
fn record_slow(s: &Session, argv: Argv<'_>, took_us: u64) {
    let name = s.info.name.lock().clone().unwrap_or_default();
    s.shared.slowlog.record(
        argv,
        took_us,
        s.info.addr.clone(),
        name,
        s.hot.slowlog_max_len,
        s.now_ms / 1000,
    );
}

/// Records stats for a finished command and writes its error, if any; returns the time it
/// finished.
pub fn finish(
    s: &mut Session,
    cmd: &Command,
    started: Instant,
    result: CmdResult,
    out: &mut dyn ReplySink,
) -> Instant {
    let lookups = usher_engine::keyspace_stats::take();
    if (lookups.hits | lookups.misses) != 0
        && (lookups.counted || cmd.spec.flags().contains(Flags::READONLY))
    {
        bump(&s.stats.keyspace_hits, lookups.hits);
        bump(&s.stats.keyspace_misses, lookups.misses);
    }
    let stat = &s.stats.commands[cmd.id as usize];
    let ended = Instant::now();
    let took = ended - started;
    let took_us = took.as_micros() as u64;
    s.last_took_us = took_us;
    bump(&stat.calls, 1);
    bump(&stat.usec, took_us);
    if s.hot.latency_tracking {
        stat.latency.record(took.as_nanos() as u64);
    }
    bump(&s.stats.commands_processed, 1);
    if let Err(e) = result {
        let text = e.wire_text();
        out.error(&text);
        if !matches!(e, CmdError::Counted(_)) {
            s.stats
                .record_error(usher_engine::error::error_code(text.as_bytes()));
        }
        bump(&stat.failed_calls, 1);
    }
    if s.failed_in_reply != 0 {
        bump(
            &stat.failed_calls,
            u64::from(std::mem::take(&mut s.failed_in_reply)),
        );
    }
    ended
}

/// Runs an engine handler against already-locked shards. `one_slot`: the caller's routing of
/// this very command saw all its keys in one slot, so the `SAME_SLOT` check needs no hashing.
pub fn run_engine(
    s: &mut Session,
    spec: &CommandSpec<EngineHandler>,
    argv: Argv<'_>,
    out: &mut dyn ReplySink,
    locked: &mut LockedShards<'_>,
    may_block: bool,
    one_slot: bool,
) -> CmdResult {
    let handler = spec
        .handler
        .expect("containers are resolved to subcommands");
    if !one_slot && !spec.keys_share_slot(argv) {
        return Err(CmdError::Static(errors::CROSSSLOT));
    }
    // Ready keys and publishes accumulate until the caller handles them (after a command, or
    // after EXEC).
    s.effects.dirty = 0;
    s.effects.block = None;
    let result = handler(&mut s.exec_ctx(locked, may_block), argv, out);
    if s.hot.engine.notify_classes & usher_engine::keyspace_events::KEY_MISS != 0
        && !spec.flags.contains(Flags::READONLY)
        && !usher_engine::keyspace_stats::counted_as_reads()
    {
        // Only reads publish `keymiss` (Redis's lookupKeyRead); writes' look-ups do not.
        usher_engine::keyspace_events::drop_misses(&mut s.effects.events);
    }
    if s.shared.stream.on() {
        crate::propagate::record(s, spec, argv, locked);
    } else if s.effects.rewritten {
        s.effects.rewritten = false;
        s.effects.propagate.clear();
    }
    if s.effects.dirty != 0 {
        crate::stats::bump(&s.stats.dirty, s.effects.dirty);
        // Redis 7.0's FLUSHALL rewrites the snapshot (empty) when save points are configured;
        // done by `after_unlock`, since waiting here for a running BGSAVE (which waits for
        // these shard locks) would deadlock.
        if result.is_ok()
            && spec.flags.contains(Flags::ALL_SHARDS)
            && spec.name == "FLUSHALL"
            && crate::persistence::has_save_points(s.shared)
        {
            s.flushall_save = true;
        }
    }
    result
}

/// Server-side commands that change state the AOF keeps and replay as they are: FUNCTION
/// LOAD/DELETE/FLUSH/RESTORE, as Redis propagates them. Scripts (EVAL, FCALL: not flagged
/// `write`) and EXEC log the commands they ran instead.
fn logs_as_itself(spec: &crate::registry::ServerSpec) -> bool {
    spec.flags.contains(Flags::WRITE) && spec.group != usher_engine::command::Group::Transactions
}

/// Shard indexes a command's keys live on, ascending and unique; `None` means every shard.
pub fn shards_needed(
    store: &Store,
    spec: Spec,
    argv: Argv<'_>,
    into: &mut SmallVec<[u16; 8]>,
) -> bool {
    route(store, spec, argv, into, &mut OneSlot::default())
}

/// Whether every key routed hashed to one slot: the `SAME_SLOT` check, from the CRC16s the
/// routing computed anyway (a queue command's two keys cost two CRC16s, not four).
#[derive(Default)]
struct OneSlot {
    first: Option<u16>,
    split: bool,
}

impl OneSlot {
    #[inline]
    fn see(&mut self, slot: u16) -> u16 {
        match self.first {
            None => self.first = Some(slot),
            Some(first) if first != slot => self.split = true,
            Some(_) => {}
        }
        slot
    }

    fn holds(&self) -> bool {
        self.first.is_some() && !self.split
    }
}

/// [`shards_needed`], noting in `one` the slots of the keys routed.
fn route(
    store: &Store,
    spec: Spec,
    argv: Argv<'_>,
    into: &mut SmallVec<[u16; 8]>,
    one: &mut OneSlot,
) -> bool {
    let mut shard_of = |key: &[u8]| store.shard_of_slot(one.see(key_hash_slot(key))) as u16;
    if spec.flags().contains(Flags::ALL_SHARDS) {
        return false;
    }
    if store.shard_count() == 1 {
        // Every key lives on the one shard: skip routing (a CRC16 per key, and an allocation
        // per derived key). A command with keys locks it ("all"); a keyless one locks nothing.
        let keyless =
            spec.key_triple().0 == 0 && !spec.has_movable_keys() && spec.derived_keys().is_none();
        return keyless;
    }
    if let Some(derive) = spec.derived_keys() {
        into.extend(derive(argv).iter().map(|k| shard_of(k)));
    }
    let (first, last, _) = spec.key_triple();
    if first == 1 && last == 1 && !spec.has_movable_keys() {
        if argv.len() > 1 {
            into.push(shard_of(argv.arg(1)));
        }
    } else {
        match spec.key_positions(argv) {
            Some(positions) => into.extend(positions.iter().map(|&i| shard_of(argv.arg(i)))),
            // Malformed key arguments: the handler will reject them; lock everything to be safe.
            None => return false,
        }
    }
    // Ascending and unique, so that keys of one shard (a queue and its active set) are one.
    if into.len() > 1 {
        into.sort_unstable();
        into.dedup();
    }
    true
}

/// Locks what one command needs.
pub fn lock_for<'s>(store: &'s Store, spec: Spec, argv: Argv<'_>) -> LockedShards<'s> {
    let mut locked = lock_routed(store, spec, argv).0;
    lock_sub_queue_homes(spec, argv, &mut locked);
    locked
}

/// A write outside the waiting-room family that names a sub-queue of a split line (a ZADD,
/// DEL or script writing it by hand, a blocking pop) also holds the shard of that line's
/// queue. ENTER and QPOS lock only the queue's shard and their user's sub-queue; sharing the
/// queue's shard orders them with such a write, so the stream logs the two in the order they
/// ran and a replica or a replay computes what the primary did. One load while no line's
/// arrival index is built anywhere.
#[inline]
pub fn lock_sub_queue_homes(spec: Spec, argv: Argv<'_>, locked: &mut LockedShards<'_>) {
    if writes_by_hand(spec) && holds_sub_queues(locked) {
        lock_homes_of_command(spec, argv, locked);
    }
}

#[inline(never)]
fn lock_homes_of_command(spec: Spec, argv: Argv<'_>, locked: &mut LockedShards<'_>) {
    let keys = crate::cluster::command_keys(spec, argv);
    lock_homes_of(keys.iter().map(Vec::as_slice), locked);
}

/// Whether a held shard may hold a watched sub-queue (one load while none is watched).
#[inline]
pub fn holds_sub_queues(locked: &mut LockedShards<'_>) -> bool {
    usher_engine::queue::registry::sub_queues_watched()
        && locked.iter_mut().any(|s| s.queues.has_sub_queues())
}

/// A command that may write keys outside the waiting-room family's own locking: a write, or
/// a script (its commands run under the locks it starts with).
#[inline]
pub fn writes_by_hand(spec: Spec) -> bool {
    use usher_engine::command::Group;
    let group = spec.group();
    group != Group::Queue && (spec.flags().contains(Flags::WRITE) || group == Group::Scripting)
}

/// Widens `locked` by the queue shards of the held sub-queues among `keys` (see
/// [`lock_sub_queue_homes`]); a lower shard that is busy means retaking the whole set in
/// order, after which the sub-queues are looked up again.
pub fn lock_homes_of<'k>(
    keys: impl Iterator<Item = &'k [u8]> + Clone,
    locked: &mut LockedShards<'_>,
) {
    locked.widen_until(|locked| {
        let mut missing: SmallVec<[u16; 8]> = SmallVec::new();
        for key in keys.clone() {
            let home = locked
                .try_shard(key)
                .and_then(|shard| shard.queues.home_of_sub_queue(key));
            if let Some(home) = home.filter(|&h| locked.shard_at(h).is_none()) {
                if !missing.contains(&home) {
                    missing.push(home);
                }
            }
        }
        missing
    });
}

/// [`lock_for`], and whether every key of the command (named and derived) hashed to one slot.
fn lock_routed<'s>(store: &'s Store, spec: Spec, argv: Argv<'_>) -> (LockedShards<'s>, bool) {
    let mut shards: SmallVec<[u16; 8]> = SmallVec::new();
    let mut one = OneSlot::default();
    if !route(store, spec, argv, &mut shards, &mut one) {
        return (store.lock_all(), false);
    }
    let locked = match shards.len() {
        0 => store.lock_none(),
        1 => {
            let mut locked = store.lock_one(shards[0] as usize);
            // The keys at 1 and 2 (a queue and its active set) were routed above to this one
            // shard: their look-ups need no second CRC16.
            let (first, last, step) = spec.key_triple();
            if first == 1 && argv.len() > 1 {
                if last == 2 && step == 1 && argv.len() > 2 && !spec.has_movable_keys() {
                    locked.set_routed(argv.arg(2));
                }
                locked.set_routed(argv.arg(1));
            }
            locked
        }
        _ => store.lock_many(&mut shards),
    };
    (locked, one.holds())
}

/// A waiting-room command on a split line also locks the line's sub-queues, which live on
/// other shards: the one exception to `SAME_SLOT`'s single slot, in standalone mode (see
/// `docs/split-queues.md`). One compare per held shard while none of them has a split line.
/// `narrow`: ENTER and QPOS may lock only their user's sub-queue (`split::user_of`).
#[inline]
fn lock_split_lines(
    db: usize,
    spec: &CommandSpec<EngineHandler>,
    argv: Argv<'_>,
    locked: &mut LockedShards<'_>,
    narrow: bool,
) {
    if spec.group != usher_engine::command::Group::Queue
        || !locked.iter_mut().any(|s| s.queues.has_splits())
    {
        return;
    }
    let keys = spec.key_positions(argv).unwrap_or_default();
    let queues: SmallVec<[&[u8]; 4]> = keys.iter().map(|&i| argv.arg(i)).collect();
    let user = narrow
        .then(|| usher_engine::queue::split::user_of(spec.name, argv))
        .flatten();
    usher_engine::queue::split::lock_sub_queues(locked, db, &queues, user);
}

/// Starts a transaction (MULTI).
pub fn begin_multi(s: &mut Session) -> Result<(), CmdError> {
    if s.multi.is_some() {
        return Err(CmdError::Static(errors::MULTI_NESTED));
    }
    s.multi = Some(MultiState::default());
    s.info.set_flag(crate::client::flag::MULTI, true);
    s.info.multi_len.store(0, Ordering::Relaxed);
    s.info.multi_mem.store(0, Ordering::Relaxed);
    Ok(())
}

/// What engine commands leave for after their locks are released: FLUSHALL's empty snapshot
/// (it may wait for a background save, which takes shard locks), then what they queued for
/// pub/sub (queue policies' announcements): delivery never happens under a shard lock.
pub fn after_unlock(s: &mut Session) {
    if std::mem::take(&mut s.flushall_save) {
        crate::persistence::save_empty(s.shared);
    }
    if !s.effects.has_deliveries() {
        return;
    }
    crate::notify::deliver(s.shared, &s.hot, &mut s.effects.events, Some(s.info.id));
    for (channel, message) in std::mem::take(&mut s.effects.publish) {
        s.shared
            .pubsub
            .publish(&channel, &message, &s.hot.output_pubsub);
    }
}
