//! The command table's row type: name, arity, flags, key positions, docs and handler.
//!
//! Every command family (`cmd/strings.rs`, `cmd/keys.rs`, ...) ends with a `COMMANDS` table of
//! [`CommandSpec`] rows, like Redis's `commands.def` and Dragonfly's `Register` functions. The
//! server chains the engine's tables with its own (connection, pub/sub, server commands) into
//! one registry; the single dispatch gate checks arity, auth and the rest from these rows, and
//! `COMMAND INFO` / `COMMAND DOCS` / `COMMAND GETKEYS` answer from them.
//!
//! The row is generic over the handler type so that engine commands (which see only locked
//! shards) and server commands (which see the connection) share one metadata shape.

use crate::ctx::ExecCtx;
use crate::error::CmdResult;
use smallvec::SmallVec;
use usher_protocol::{Argv, ReplySink};

/// Handler of an engine command: runs against locked shards, writes one reply.
pub type EngineHandler = fn(&mut ExecCtx<'_, '_>, Argv<'_>, &mut dyn ReplySink) -> CmdResult;

/// Command flags, named and printed as Redis 7.0's `COMMAND` prints them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Flags(pub u32);

impl Flags {
    pub const NONE: Flags = Flags(0);
    pub const WRITE: Flags = Flags(1 << 0);
    pub const READONLY: Flags = Flags(1 << 1);
    pub const DENYOOM: Flags = Flags(1 << 2);
    pub const ADMIN: Flags = Flags(1 << 3);
    pub const PUBSUB: Flags = Flags(1 << 4);
    pub const NOSCRIPT: Flags = Flags(1 << 5);
    pub const BLOCKING: Flags = Flags(1 << 6);
    pub const LOADING: Flags = Flags(1 << 7);
    pub const STALE: Flags = Flags(1 << 8);
    pub const SKIP_MONITOR: Flags = Flags(1 << 9);
    pub const SKIP_SLOWLOG: Flags = Flags(1 << 10);
    pub const FAST: Flags = Flags(1 << 11);
    pub const NO_AUTH: Flags = Flags(1 << 12);
    pub const MAY_REPLICATE: Flags = Flags(1 << 13);
    pub const NO_MULTI: Flags = Flags(1 << 14);
    pub const ALLOW_BUSY: Flags = Flags(1 << 15);
    pub const NO_MANDATORY_KEYS: Flags = Flags(1 << 16);
    pub const NO_ASYNC_LOADING: Flags = Flags(1 << 17);
    /// Served for a slot this node is importing without a preceding ASKING (RESTORE-ASKING).
    pub const ASKING: Flags = Flags(1 << 18);
    /// usher-only: the command reads or writes the whole keyspace, so every shard is locked.
    pub const ALL_SHARDS: Flags = Flags(1 << 24);
    /// usher-only: the command reads the server clock or randomness; its effect is
    /// propagated as the concrete writes it made (for the later command log).
    pub const NONDETERMINISTIC: Flags = Flags(1 << 25);
    /// usher-only: every key the command names or derives must hash to one slot, else the
    /// dispatcher answers `CROSSSLOT` before the handler runs. The waiting-room family carries
    /// it: one slot is one shard (and, in cluster mode, one node), so a queue, its active set
    /// and its companion keys always change under one lock. The one exception is a split line
    /// (`queue::split`): its sub-queues are on other shards, which the dispatcher locks too.
    pub const SAME_SLOT: Flags = Flags(1 << 26);

    const NAMES: &'static [(Flags, &'static str)] = &[
        (Flags::WRITE, "write"),
        (Flags::READONLY, "readonly"),
        (Flags::DENYOOM, "denyoom"),
        (Flags::ADMIN, "admin"),
        (Flags::PUBSUB, "pubsub"),
        (Flags::NOSCRIPT, "noscript"),
        (Flags::BLOCKING, "blocking"),
        (Flags::LOADING, "loading"),
        (Flags::STALE, "stale"),
        (Flags::SKIP_MONITOR, "skip_monitor"),
        (Flags::SKIP_SLOWLOG, "skip_slowlog"),
        (Flags::ASKING, "asking"),
        (Flags::FAST, "fast"),
        (Flags::NO_AUTH, "no_auth"),
        (Flags::MAY_REPLICATE, "may_replicate"),
        (Flags::NO_MANDATORY_KEYS, "no_mandatory_keys"),
        (Flags::NO_ASYNC_LOADING, "no_async_loading"),
        (Flags::NO_MULTI, "no_multi"),
        (Flags::ALLOW_BUSY, "allow_busy"),
    ];

    #[inline]
    pub const fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    pub const fn union(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }

    pub const fn difference(self, other: Flags) -> Flags {
        Flags(self.0 & !other.0)
    }

    /// The Redis flag names, in Redis's order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Self::NAMES
            .iter()
            .filter(move |(f, _)| self.contains(*f))
            .map(|(_, n)| *n)
    }
}

impl std::ops::BitOr for Flags {
    type Output = Flags;
    fn bitor(self, rhs: Flags) -> Flags {
        Flags(self.0 | rhs.0)
    }
}

/// Redis's command groups (`COMMAND DOCS` "group").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    Generic,
    String,
    List,
    Set,
    SortedSet,
    Hash,
    Bitmap,
    Hyperloglog,
    Geo,
    Stream,
    Pubsub,
    Transactions,
    Connection,
    Server,
    Scripting,
    Cluster,
    /// usher's waiting-room and seat commands.
    Queue,
}

impl Group {
    pub fn name(self) -> &'static str {
        match self {
            Group::Generic => "generic",
            Group::String => "string",
            Group::List => "list",
            Group::Set => "set",
            Group::SortedSet => "sorted-set",
            Group::Hash => "hash",
            Group::Bitmap => "bitmap",
            Group::Hyperloglog => "hyperloglog",
            Group::Geo => "geo",
            Group::Stream => "stream",
            Group::Pubsub => "pubsub",
            Group::Transactions => "transactions",
            Group::Connection => "connection",
            Group::Server => "server",
            Group::Scripting => "scripting",
            Group::Cluster => "cluster",
            Group::Queue => "queue",
        }
    }

    /// The ACL category implied by the group (`@string`, `@list`, ...), if any.
    pub fn acl_category(self) -> Option<&'static str> {
        Some(match self {
            Group::String => "@string",
            Group::List => "@list",
            Group::Set => "@set",
            Group::SortedSet => "@sortedset",
            Group::Hash => "@hash",
            Group::Bitmap => "@bitmap",
            Group::Hyperloglog => "@hyperloglog",
            Group::Geo => "@geo",
            Group::Stream => "@stream",
            Group::Pubsub => "@pubsub",
            Group::Transactions => "@transaction",
            Group::Connection => "@connection",
            Group::Scripting => "@scripting",
            Group::Queue => "@sortedset",
            Group::Generic | Group::Server | Group::Cluster => return None,
        })
    }
}

/// Finds the key positions of a command whose keys move (`ZUNIONSTORE dst 2 a b`, `EVAL`).
/// Returns `None` when the arguments are too malformed to say (the command then reports it).
pub type KeyFinder = fn(Argv<'_>) -> Option<KeyPositions>;

/// A command's keys hash to more than one slot (Redis's CROSSSLOT).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CrossSlot;

/// Argument indexes that are keys.
pub type KeyPositions = SmallVec<[usize; 4]>;

/// Keys a command touches that are not among its arguments but derived from them (SEATLOCK's
/// `<seat>:token` counter). The dispatcher locks their shards too.
pub type DerivedKeys = fn(Argv<'_>) -> SmallVec<[Vec<u8>; 2]>;

/// What the `SAME_SLOT` check knows about a command's derived keys without building them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DerivedSlot {
    /// Nothing: build them and hash each.
    Computed,
    /// Each is a named key with a suffix (`seat` → `seat:token`): the named key's slot exactly
    /// when the named key has a hash tag, another slot (CROSSSLOT) when it has none.
    SuffixedNamed,
    /// They exist only inside a named key's hash tag (`{tag}:holds:user`): always its slot.
    InTag,
}

/// One row of the command table.
pub struct CommandSpec<H: 'static> {
    /// Upper-case name (`GET`, or the subcommand name `SETNAME` inside a container).
    pub name: &'static str,
    /// Redis's convention: `n` exactly n arguments (name included), `-n` at least n.
    pub arity: i32,
    pub flags: Flags,
    /// Legacy key positions as `COMMAND` reports them (first, last, step); last < 0 counts from
    /// the end. (0, 0, 0) means no keys.
    pub first_key: i32,
    pub last_key: i32,
    pub key_step: i32,
    /// For commands whose keys cannot be described by the triple (`movablekeys`).
    pub key_finder: Option<KeyFinder>,
    /// Keys derived from the arguments, locked along with the argument keys.
    pub derived_keys: Option<DerivedKeys>,
    /// Where the derived keys hash, when that is known without building them (the `SAME_SLOT`
    /// check then builds none: [`Self::keys_slot`]).
    pub derived_slot: DerivedSlot,
    pub group: Group,
    pub since: &'static str,
    pub summary: &'static str,
    pub complexity: &'static str,
    /// The sorted-set member this command looks up, which a pipelined batch prefetches before
    /// it runs (see `crate::warm`).
    pub warm: Option<WarmHint>,
    /// Subcommands for containers (`CLIENT`, `OBJECT`, `CONFIG`); the container's own handler
    /// is unused.
    pub subcommands: &'static [CommandSpec<H>],
    pub handler: Option<H>,
}

/// Where a command's sorted-set member lookup is: argument positions of the key and the member,
/// and whether the command also needs the member's rank (so the tree leaf is worth loading).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WarmHint {
    pub key: u8,
    pub member: u8,
    pub rank: bool,
}

/// Starts a row; chain `.keys()`, `.doc()`, ... on it.
pub const fn cmd<H>(name: &'static str, arity: i32, flags: Flags, handler: H) -> CommandSpec<H> {
    CommandSpec {
        name,
        arity,
        flags,
        first_key: 0,
        last_key: 0,
        key_step: 0,
        key_finder: None,
        derived_keys: None,
        derived_slot: DerivedSlot::Computed,
        group: Group::Generic,
        since: "1.0.0",
        summary: "",
        complexity: "",
        warm: None,
        subcommands: &[],
        handler: Some(handler),
    }
}

/// Starts a container row (`CLIENT`, `CONFIG`, ...), whose work is done by its subcommands.
pub const fn container<H>(
    name: &'static str,
    subcommands: &'static [CommandSpec<H>],
) -> CommandSpec<H> {
    CommandSpec {
        name,
        arity: -2,
        flags: Flags::NONE,
        first_key: 0,
        last_key: 0,
        key_step: 0,
        key_finder: None,
        derived_keys: None,
        derived_slot: DerivedSlot::Computed,
        group: Group::Generic,
        since: "1.0.0",
        summary: "",
        complexity: "",
        warm: None,
        subcommands,
        handler: None,
    }
}

impl<H> CommandSpec<H> {
    pub const fn keys(mut self, first: i32, last: i32, step: i32) -> Self {
        self.first_key = first;
        self.last_key = last;
        self.key_step = step;
        self
    }

    pub const fn movable_keys(mut self, finder: KeyFinder) -> Self {
        self.key_finder = Some(finder);
        self
    }

    pub const fn derived_keys(mut self, derive: DerivedKeys) -> Self {
        self.derived_keys = Some(derive);
        self
    }

    /// [`Self::derived_keys`] whose slot is known from the named keys (see [`DerivedSlot`]).
    pub const fn derived_keys_at(mut self, derive: DerivedKeys, slot: DerivedSlot) -> Self {
        self.derived_keys = Some(derive);
        self.derived_slot = slot;
        self
    }

    /// Declares the sorted-set member lookup that batch prefetching may warm.
    pub const fn warms(mut self, hint: WarmHint) -> Self {
        self.warm = Some(hint);
        self
    }

    pub const fn doc(
        mut self,
        group: Group,
        since: &'static str,
        summary: &'static str,
        complexity: &'static str,
    ) -> Self {
        self.group = group;
        self.since = since;
        self.summary = summary;
        self.complexity = complexity;
        self
    }

    pub const fn group(mut self, group: Group) -> Self {
        self.group = group;
        self
    }

    pub fn is_container(&self) -> bool {
        !self.subcommands.is_empty()
    }

    /// True when `argc` arguments satisfy the arity.
    #[inline]
    pub fn arity_ok(&self, argc: usize) -> bool {
        let argc = argc as i32;
        if self.arity >= 0 {
            argc == self.arity
        } else {
            argc >= -self.arity
        }
    }

    /// The subcommand row named by `sub` (case-insensitive).
    pub fn subcommand(&self, sub: &[u8]) -> Option<&CommandSpec<H>> {
        self.subcommands
            .iter()
            .find(|s| s.name.as_bytes().eq_ignore_ascii_case(sub))
    }

    /// Argument indexes holding keys, or `None` if the arguments are malformed for a movable
    /// key command. Uses the finder for movable keys, else the legacy triple.
    pub fn key_positions(&self, argv: Argv<'_>) -> Option<KeyPositions> {
        if let Some(finder) = self.key_finder {
            return finder(argv);
        }
        let mut out = KeyPositions::new();
        if self.first_key <= 0 {
            return Some(out);
        }
        let argc = argv.len() as i32;
        let last = if self.last_key < 0 {
            argc + self.last_key
        } else {
            self.last_key.min(argc - 1)
        };
        let mut i = self.first_key;
        while i <= last && i < argc {
            out.push(i as usize);
            i += self.key_step.max(1);
        }
        Some(out)
    }

    /// The one hash slot all of the command's keys, named and derived, hash to: `Ok(None)`
    /// for a keyless command, `Err(CrossSlot)` when they span several. Malformed key arguments
    /// count as no keys: the handler reports them. The dispatcher's SAME_SLOT check and cluster
    /// routing both ask this.
    pub fn keys_slot(&self, argv: Argv<'_>) -> Result<Option<u16>, CrossSlot> {
        let named = self.key_positions(argv).unwrap_or_default();
        if self.derived_slot != DerivedSlot::Computed && !named.is_empty() {
            // No derived key built (a SEATLOCK paid two allocations for this check).
            if self.derived_slot == DerivedSlot::SuffixedNamed
                && !named
                    .iter()
                    .all(|&i| usher_cluster::naming::has_hash_tag(argv.arg(i)))
            {
                return Err(CrossSlot);
            }
            let first = usher_cluster::key_hash_slot(argv.arg(named[0]));
            return match named
                .iter()
                .all(|&i| usher_cluster::key_hash_slot(argv.arg(i)) == first)
            {
                true => Ok(Some(first)),
                false => Err(CrossSlot),
            };
        }
        let derived = self.derived_keys.map(|d| d(argv)).unwrap_or_default();
        let mut slots = named
            .iter()
            .map(|&i| usher_cluster::key_hash_slot(argv.arg(i)))
            .chain(derived.iter().map(|k| usher_cluster::key_hash_slot(k)));
        let Some(first) = slots.next() else {
            return Ok(None);
        };
        if slots.all(|s| s == first) {
            Ok(Some(first))
        } else {
            Err(CrossSlot)
        }
    }

    /// For a [`Flags::SAME_SLOT`] command: true when all its keys hash to one slot (always
    /// true for other commands).
    pub fn keys_share_slot(&self, argv: Argv<'_>) -> bool {
        if !self.flags.contains(Flags::SAME_SLOT) {
            return true;
        }
        if self.derived_slot != DerivedSlot::Computed
            && (self.first_key, self.last_key, self.key_step) == (1, 1, 1)
            && self.key_finder.is_none()
            && argv.len() > 1
        {
            // One named key (a seat): nothing to hash. Its derived keys share its slot always
            // (InTag) or exactly when it has a hash tag (SuffixedNamed).
            return self.derived_slot == DerivedSlot::InTag
                || usher_cluster::naming::has_hash_tag(argv.arg(1));
        }
        self.keys_slot(argv).is_ok()
    }

    /// The flags `COMMAND INFO` shows: the declared ones plus `movablekeys`.
    pub fn flag_names(&self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = self.flags.names().collect();
        if self.key_finder.is_some() {
            names.push("movablekeys");
        }
        names
    }

    /// ACL categories derived like Redis's `setImplicitACLCategories` plus the group's own.
    pub fn acl_categories(&self) -> Vec<&'static str> {
        let mut cats = Vec::new();
        let f = self.flags;
        if f.contains(Flags::WRITE) {
            cats.push("@write");
        }
        if f.contains(Flags::READONLY) && self.group != Group::Scripting {
            cats.push("@read");
        }
        if let Some(c) = self.group.acl_category() {
            cats.push(c);
        }
        if (self.first_key > 0 || self.key_finder.is_some()) && matches!(self.group, Group::Generic)
        {
            cats.push("@keyspace");
        }
        if f.contains(Flags::ADMIN) {
            cats.push("@admin");
            cats.push("@dangerous");
        }
        if f.contains(Flags::PUBSUB) && !cats.contains(&"@pubsub") {
            cats.push("@pubsub");
        }
        if f.contains(Flags::FAST) {
            cats.push("@fast");
        }
        if f.contains(Flags::BLOCKING) {
            cats.push("@blocking");
        }
        if !f.contains(Flags::FAST) {
            cats.push("@slow");
        }
        // Redis lists categories in its own bit order, whatever the command's flags were.
        cats.sort_by_key(|c| ACL_ORDER.iter().position(|o| o == c));
        cats
    }
}

/// Redis's ACL categories in `ACLCommandCategories` order, the order COMMAND INFO prints.
const ACL_ORDER: &[&str] = &[
    "@keyspace",
    "@read",
    "@write",
    "@set",
    "@sortedset",
    "@list",
    "@hash",
    "@string",
    "@bitmap",
    "@hyperloglog",
    "@geo",
    "@stream",
    "@pubsub",
    "@admin",
    "@fast",
    "@slow",
    "@blocking",
    "@dangerous",
    "@connection",
    "@transaction",
    "@scripting",
];

/// A key finder for `cmd numkeys key [key ...] ...` shapes: `numkeys` at `at`, keys right after,
/// plus optionally a fixed leading key at index 1 (`ZUNIONSTORE dst numkeys ...`).
pub fn numkeys_positions(argv: Argv<'_>, at: usize, leading_key: bool) -> Option<KeyPositions> {
    let n = usher_protocol::parse::parse_i64(argv.get(at)?)?;
    if n <= 0 || (n as usize) > argv.len().saturating_sub(at + 1) {
        return None;
    }
    let mut out = KeyPositions::new();
    if leading_key {
        out.push(1);
    }
    out.extend((at + 1)..(at + 1 + n as usize));
    Some(out)
}
