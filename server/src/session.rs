//! A connection's own state: selected database, protocol, authentication, the MULTI queue,
//! WATCHed keys, subscriptions and reply mode. Owned by the connection's task; never shared.

use crate::client::ClientInfo;
use crate::shared::{HotConfig, Shared};
use crate::stats::ThreadStats;
use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use usher_engine::block_queues::Waiter;
use usher_engine::ctx::{Effects, ExecCtx, TimeoutReply};
use usher_engine::shard::WatchFlag;
use usher_engine::store::LockedShards;
use usher_protocol::{OwnedArgv, Protocol};

/// CLIENT REPLY mode.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ReplyMode {
    On,
    Off,
    /// Skip the next command's reply, then back to On.
    Skip,
    /// Internal: the command after CLIENT REPLY SKIP is running.
    Skipping,
}

/// Commands queued between MULTI and EXEC.
#[derive(Default)]
pub struct MultiState {
    pub queued: Vec<(u32, OwnedArgv)>,
    /// A queued command was rejected (unknown, wrong arity, ...): EXEC will abort.
    pub errored: bool,
    /// In cluster mode, the slot of the transaction's keys so far, and whether a queued
    /// command named another: EXEC then answers CROSSSLOT and discards, as Redis Cluster.
    pub slot: Option<u16>,
    pub cross_slot: bool,
}

/// WATCHed keys and the flag shards raise when one changes.
pub struct WatchState {
    pub flag: WatchFlag,
    /// (db, key, expired-or-absent when watched).
    pub keys: Vec<(usize, Vec<u8>, bool)>,
}

impl WatchState {
    pub fn dirty(&self) -> bool {
        self.flag.load(Ordering::Acquire)
    }
}

/// A client blocked by BLPOP and friends.
pub struct Blocked {
    pub waiter: Arc<Waiter>,
    /// Registry id of the blocked command (to retry it).
    pub cmd_id: u32,
    pub on_timeout: TimeoutReply,
}

/// The last command a connection named without a subcommand, spelled exactly as it sent it.
/// Pipelines repeat one command, so most look-ups become one compare of a few bytes instead of
/// lower-casing and hashing the name (about 120 instructions of a pipelined GET). Kept here,
/// not in `crate::registry`, because the registry's handlers take a [`Session`]: the registry
/// sits above this module and decides what is remembered (`Registry::lookup_cached`).
#[derive(Default)]
pub struct LastLookup {
    name: [u8; LAST_NAME_MAX],
    /// 0: nothing remembered.
    len: u8,
    id: u32,
}

const LAST_NAME_MAX: usize = 16;

impl LastLookup {
    /// The id remembered for `name`, spelled exactly as then.
    #[inline(always)]
    pub fn get(&self, name: &[u8]) -> Option<u32> {
        (self.len != 0 && name.len() == self.len as usize && name == &self.name[..name.len()])
            .then_some(self.id)
    }

    /// Remembers `name` as `id`; a name too long to keep is not remembered.
    #[inline]
    pub fn remember(&mut self, name: &[u8], id: u32) {
        if name.len() <= LAST_NAME_MAX {
            self.name[..name.len()].copy_from_slice(name);
            self.len = name.len() as u8;
            self.id = id;
        }
    }
}

pub struct Session {
    pub shared: &'static Shared,
    /// The command this connection named last.
    pub last_lookup: LastLookup,
    pub info: Arc<ClientInfo>,
    pub stats: Arc<ThreadStats>,
    pub db: usize,
    pub resp: Protocol,
    pub authenticated: bool,
    /// The ACL user this connection runs as (`default` until AUTH says otherwise).
    pub user: Arc<crate::acl::user::User>,
    /// The user may run anything (`+@all ~* &*`, no selectors): the gate's one-flag fast path.
    pub acl_free: bool,
    /// The ACL epoch `user` was read at.
    acl_epoch: u64,
    pub multi: Option<MultiState>,
    /// When the last command of the current read finished (`None` at the start of a read):
    /// the next command's start, for per-command timing with one clock read.
    pub last_command_end: Option<std::time::Instant>,
    /// When the first command of the current read started (the clock read that began the
    /// chain above): with `last_command_end`, how long the read's batch ran, which decides
    /// whether its replies wait for the other ready connections (`connection.rs`).
    pub read_started: Option<std::time::Instant>,
    /// How long the last finished command took (µs), for the slow log.
    pub last_took_us: u64,
    /// Failed calls the running command's reply carries beyond its own result (a script's
    /// error replies): `dispatch::finish` adds them to the command's `failed_calls`.
    pub failed_in_reply: u32,
    /// CLIENT PAUSE holds this connection's next command until then (Unix ms).
    pub paused_until: Option<i64>,
    /// A FLUSHALL ran with save points configured: write the empty snapshot once the
    /// command's shard locks are released (a background save may be waiting for them).
    pub flushall_save: bool,
    pub watch: WatchState,
    pub channels: HashSet<Vec<u8>>,
    pub patterns: HashSet<Vec<u8>>,
    /// Shard channels (SSUBSCRIBE), a namespace of their own as in Redis 7.0.
    pub shard_channels: HashSet<Vec<u8>>,
    pub reply_mode: ReplyMode,
    /// The command just run wrote pub/sub confirmations, which Redis sends as pushes even
    /// under `CLIENT REPLY OFF | SKIP` (its CLIENT_PUSHING): the dispatcher keeps them.
    pub pushed_reply: bool,
    /// Close once the pending replies are written (QUIT, protocol errors, CLIENT KILL of self).
    pub close_after_reply: bool,
    /// Since when the replies waiting for this client have been over the soft output limit
    /// of its class (`client-output-buffer-limit`).
    pub output_soft_since: Option<std::time::Instant>,
    pub effects: Effects,
    pub hot: Arc<HotConfig>,
    hot_epoch: u64,
    /// The clock for the commands of the current batch (Unix ms).
    pub now_ms: i64,
    /// Set while a blocking command waits; the connection processes nothing else meanwhile.
    pub blocked: Option<Blocked>,
    /// What the running command (or EXEC, or script) logs once it is done, still under its
    /// locks (see `crate::propagate`).
    pub prop: crate::propagate::Pending,
    /// The stream offset of this connection's last logged write: with `appendfsync always`
    /// its replies wait until the AOF has synced that far.
    pub sync_to: u64,
    /// CLIENT TRACKING's state while on.
    pub tracking: Option<TrackingState>,
    /// This session applies the primary's stream (a replica's link): the gate lets it write.
    pub from_master: bool,
    /// What the connection does once the current command's reply is out: wait for replica
    /// ACKs (WAIT) or turn into a replica's feed (PSYNC). See `crate::replication`.
    pub repl: Option<crate::replication::Pending>,
    /// Cluster mode: ASKING was sent, so the next command (or the transaction) may touch a
    /// slot this node is importing.
    pub asking: bool,
    /// Cluster mode: the command running now was sent after ASKING (or belongs to a
    /// transaction that was), so the keys a script reaches may be in an importing slot too.
    pub asked: bool,
    /// A script's `redis.call` is running (see `ExecCtx::in_script`).
    pub in_script: bool,
    /// Cluster mode: the gate's routing of the command about to run, confirmed under its own
    /// locks (see `crate::cluster::Routed`).
    pub slot_route: Option<crate::cluster::Routed>,
}

/// A tracking client's options and its pending CLIENT CACHING choice.
pub struct TrackingState {
    pub mode: crate::tracking::Mode,
    /// CLIENT CACHING yes (OPTIN) or no (OPTOUT) was sent for the next command.
    pub caching: bool,
}

impl Session {
    /// Whether a protected action set to `setting` (`no`, `yes`, `local`) is allowed for this
    /// client, as Redis's `allowProtectedAction`: `local` allows loopback clients only.
    pub fn allows_protected(&self, setting: &str) -> bool {
        match setting {
            "yes" => true,
            "local" => {
                let ip = self.info.addr.rsplit_once(':').map_or("", |(ip, _)| ip);
                ip.trim_matches(|c| c == '[' || c == ']')
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
            }
            _ => false,
        }
    }

    /// A session that applies a stream of logged commands (the AOF loader, a replica's link to
    /// its primary): an internal client `id` named `name`, with the waiting room's clock-skew
    /// check off, since every logged command carries its own clock.
    pub fn for_replay(shared: &'static Shared, id: u64, name: &str) -> Self {
        let info = Arc::new(ClientInfo::new(
            id,
            name.into(),
            String::new(),
            crate::shared::unix_ms(),
        ));
        let stats = shared.thread_stats[0].clone();
        let mut s = Session::new(shared, info, stats);
        let mut hot = (*s.hot).clone();
        hot.engine.queue_now_max_skew_ms = 0;
        s.hot = Arc::new(hot);
        s
    }

    pub fn new(shared: &'static Shared, info: Arc<ClientInfo>, stats: Arc<ThreadStats>) -> Self {
        let hot = shared.hot();
        let watch = WatchState {
            flag: info.watch_dirty.clone(),
            keys: Vec::new(),
        };
        let hot_epoch = shared.config_epoch.load(Ordering::Acquire);
        let acl_epoch = shared.acl.epoch();
        let user = shared.acl.default_user();
        Session {
            shared,
            info,
            stats,
            db: 0,
            resp: Protocol::Resp2,
            // As Redis: a client that connects while the default user needs no password is
            // authenticated, and stays so if `requirepass` is set later.
            authenticated: user.enabled && user.nopass,
            acl_free: user.unrestricted(),
            user,
            acl_epoch,
            multi: None,
            last_command_end: None,
            read_started: None,
            last_took_us: 0,
            failed_in_reply: 0,
            paused_until: None,
            flushall_save: false,
            watch,
            channels: HashSet::new(),
            patterns: HashSet::new(),
            shard_channels: HashSet::new(),
            reply_mode: ReplyMode::On,
            pushed_reply: false,
            close_after_reply: false,
            output_soft_since: None,
            effects: Effects::default(),
            hot,
            hot_epoch,
            now_ms: 0,
            blocked: None,
            prop: Default::default(),
            sync_to: 0,
            tracking: None,
            from_master: false,
            repl: None,
            asking: false,
            asked: false,
            in_script: false,
            slot_route: None,
            last_lookup: Default::default(),
        }
    }

    /// The engine's context for running a command (or serving waiters) under `locked`, in
    /// this session's database, clock, configuration and effects.
    pub fn exec_ctx<'a, 's>(
        &'a mut self,
        locked: &'a mut LockedShards<'s>,
        may_block: bool,
    ) -> ExecCtx<'a, 's> {
        ExecCtx {
            shards: locked,
            db: self.db,
            now_ms: self.now_ms,
            config: &self.hot.engine,
            effects: &mut self.effects,
            may_block,
            in_script: self.in_script,
        }
    }

    /// Re-reads the configuration snapshot if it changed (one atomic load when it did not).
    pub fn refresh_config(&mut self) {
        let epoch = self.shared.config_epoch.load(Ordering::Acquire);
        if epoch != self.hot_epoch {
            self.hot = self.shared.hot();
            self.hot_epoch = epoch;
        }
        let acl_epoch = self.shared.acl.epoch();
        if acl_epoch != self.acl_epoch {
            self.acl_epoch = acl_epoch;
            // A deleted user's connection is being closed (ACL DELUSER): it keeps the rules
            // it had until then.
            if let Some(user) = self.shared.acl.get(self.user.name.as_bytes()) {
                self.set_user(user);
                // As Redis: a subscriber whose channels are no longer allowed is disconnected.
                if !self.subscriptions_permitted() {
                    self.info.request_kill();
                }
            }
        }
    }

    fn subscriptions_permitted(&self) -> bool {
        use crate::acl::check::channel_permitted;
        let user = &self.user;
        self.channels
            .iter()
            .chain(&self.shard_channels)
            .all(|c| channel_permitted(user, c, false))
            && self
                .patterns
                .iter()
                .all(|p| channel_permitted(user, p, true))
    }

    /// Runs this connection as `user` from now on (AUTH, HELLO AUTH, RESET).
    pub fn set_user(&mut self, user: Arc<crate::acl::user::User>) {
        if *self.info.authenticated_user.lock() != user.name {
            *self.info.authenticated_user.lock() = user.name.clone();
        }
        self.acl_free = user.unrestricted();
        self.user = user;
    }

    /// True when the client must still AUTH before running most commands.
    #[inline]
    pub fn auth_required(&self) -> bool {
        !self.authenticated && !self.shared.acl.default_open()
    }

    /// True in RESP2 subscriber mode, where only (P)SUBSCRIBE, (P)UNSUBSCRIBE, PING, QUIT and
    /// RESET are allowed.
    pub fn in_pubsub_context(&self) -> bool {
        self.resp == Protocol::Resp2
            && (!self.channels.is_empty()
                || !self.patterns.is_empty()
                || !self.shard_channels.is_empty())
    }

    pub fn subscription_count(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    /// Drops every WATCH registration (EXEC, DISCARD, UNWATCH, RESET, disconnect).
    pub fn unwatch_all(&mut self) {
        for (db, key, _) in self.watch.keys.drain(..) {
            let shard = self.shared.store.shard_of(&key);
            self.shared
                .store
                .lock_one(shard)
                .shard(&key)
                .unwatch(db, &key, &self.watch.flag);
        }
        self.watch.flag.store(false, Ordering::Release);
    }

    /// Turns CLIENT TRACKING off (CLIENT TRACKING off, RESET, disconnect).
    pub fn stop_tracking(&mut self) {
        if self.tracking.take().is_some() {
            self.shared.tracking.disable(self.info.id);
            crate::notify::refresh_capture(
                self.hot.engine.notify_classes,
                self.shared.tracking.active(),
            );
        }
    }

    /// Leaves every channel and pattern (RESET, disconnect).
    pub fn unsubscribe_all(&mut self) {
        for ch in self.channels.drain() {
            self.shared.pubsub.unsubscribe(&ch, self.info.id);
        }
        for p in self.patterns.drain() {
            self.shared.pubsub.punsubscribe(&p, self.info.id);
        }
        for ch in self.shard_channels.drain() {
            self.shared.pubsub.sunsubscribe(&ch, self.info.id);
        }
        self.info.subscriptions.store(0, Ordering::Relaxed);
        self.info.pattern_subscriptions.store(0, Ordering::Relaxed);
        self.info.shard_subscriptions.store(0, Ordering::Relaxed);
        self.info.set_flag(crate::client::flag::PUBSUB, false);
    }

    pub fn set_db(&mut self, db: usize) {
        self.db = db;
        self.info.db.store(db, Ordering::Relaxed);
    }

    pub fn set_protocol(&mut self, proto: Protocol) {
        self.resp = proto;
        self.info
            .resp3
            .store(proto == Protocol::Resp3, Ordering::Relaxed);
    }
}
