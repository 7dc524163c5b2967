//! The command registry: the engine's families and the server's own, chained into one table,
//! like Redis's command table and Dragonfly's `RegisterCommands`.
//!
//! Every command and subcommand gets a dense id (for per-command stats) and a full name
//! (`get`, `client|setname`). Lookup lower-cases the name into a stack buffer, so dispatch
//! allocates nothing.
//!
//! The registry is built once at start-up into a process-wide `static` ([`init`], [`get`])
//! rather than kept in [`crate::shared::Shared`]: a server handler takes a
//! [`Session`](crate::session::Session), which holds `&Shared`, so `Shared` owning the table
//! of handlers would make these modules import each other. This module sits above both.

use crate::session::{LastLookup, Session};
use std::collections::HashMap;
use std::sync::OnceLock;
use usher_engine::command::{CommandSpec, EngineHandler, Flags, Group, KeyPositions};
use usher_engine::error::CmdResult;
use usher_engine::store::LockedShards;
use usher_protocol::{Argv, RespWriter};

/// Handler of a server command: sees the connection's session and the shards the gate locked
/// for it (its keys, every shard for `ALL_SHARDS`, or the whole set an EXEC holds). A server
/// handler never locks a shard itself: inside EXEC that would deadlock.
pub type ServerHandler =
    fn(&mut Session, &mut LockedShards<'_>, Argv<'_>, &mut RespWriter<'_>) -> CmdResult;
pub type ServerSpec = CommandSpec<ServerHandler>;

/// A row of either kind.
#[derive(Clone, Copy)]
pub enum Spec {
    Engine(&'static CommandSpec<EngineHandler>),
    Server(&'static ServerSpec),
}

macro_rules! field {
    ($self:ident, $f:ident) => {
        match $self {
            Spec::Engine(s) => s.$f,
            Spec::Server(s) => s.$f,
        }
    };
}

impl Spec {
    pub fn name(self) -> &'static str {
        field!(self, name)
    }
    pub fn arity(self) -> i32 {
        field!(self, arity)
    }
    pub fn flags(self) -> Flags {
        field!(self, flags)
    }
    pub fn group(self) -> Group {
        field!(self, group)
    }
    pub fn since(self) -> &'static str {
        field!(self, since)
    }
    pub fn summary(self) -> &'static str {
        field!(self, summary)
    }
    pub fn complexity(self) -> &'static str {
        field!(self, complexity)
    }
    pub fn key_triple(self) -> (i32, i32, i32) {
        match self {
            Spec::Engine(s) => (s.first_key, s.last_key, s.key_step),
            Spec::Server(s) => (s.first_key, s.last_key, s.key_step),
        }
    }
    pub fn arity_ok(self, argc: usize) -> bool {
        match self {
            Spec::Engine(s) => s.arity_ok(argc),
            Spec::Server(s) => s.arity_ok(argc),
        }
    }
    pub fn key_positions(self, argv: Argv<'_>) -> Option<KeyPositions> {
        match self {
            Spec::Engine(s) => s.key_positions(argv),
            Spec::Server(s) => s.key_positions(argv),
        }
    }
    pub fn keys_slot(
        self,
        argv: Argv<'_>,
    ) -> Result<Option<u16>, usher_engine::command::CrossSlot> {
        match self {
            Spec::Engine(s) => s.keys_slot(argv),
            Spec::Server(s) => s.keys_slot(argv),
        }
    }
    pub fn derived_keys(self) -> Option<usher_engine::command::DerivedKeys> {
        match self {
            Spec::Engine(s) => s.derived_keys,
            Spec::Server(s) => s.derived_keys,
        }
    }

    pub fn has_movable_keys(self) -> bool {
        match self {
            Spec::Engine(s) => s.key_finder.is_some(),
            Spec::Server(s) => s.key_finder.is_some(),
        }
    }
    pub fn flag_names(self) -> Vec<&'static str> {
        match self {
            Spec::Engine(s) => s.flag_names(),
            Spec::Server(s) => s.flag_names(),
        }
    }
}

pub struct Command {
    pub id: u32,
    pub spec: Spec,
    /// Lower-case full name: `get`, `client|setname`.
    pub full_name: String,
    pub parent: Option<u32>,
    /// Ids of subcommands, for containers.
    pub children: Vec<u32>,
    /// ACL categories, one bit each (`crate::acl::categories`).
    pub categories: u32,
}

pub enum Lookup<'r> {
    Found(&'r Command),
    Unknown,
    /// A known container with an unknown subcommand.
    UnknownSubcommand(&'r Command),
}

/// Name lookups hash with foldhash: the registry is built once from our own table, so
/// hash flooding is not a concern, and SipHash would cost more than the rest of the lookup.
type FastMap<K, V> = HashMap<K, V, foldhash::fast::FixedState>;

static REGISTRY: OnceLock<Registry> = OnceLock::new();

/// Builds the process's registry from the engine's and the server's tables. Every caller
/// (start-up, the fuzz harness) passes the same static tables, so a second call returns the
/// table the first one built.
pub fn init(
    engine: &[&'static [CommandSpec<EngineHandler>]],
    server: &[&'static [ServerSpec]],
) -> &'static Registry {
    REGISTRY.get_or_init(|| Registry::new(engine, server))
}

/// The registry [`init`] built. Read per command: a static's address and one load of the
/// `OnceLock` state, with no lock.
#[inline]
pub fn get() -> &'static Registry {
    REGISTRY
        .get()
        .expect("the command registry is built at start-up")
}

pub struct Registry {
    commands: Vec<Command>,
    /// Names of up to [`PACKED_NAME_MAX`] bytes, packed into one integer: the lookup every
    /// command pays hashes and compares 16 bytes in registers, with no pointer to follow.
    by_packed_name: FastMap<u128, u32>,
    /// Longer names.
    by_name: FastMap<Box<[u8]>, u32>,
    subs: FastMap<(u32, Box<[u8]>), u32>,
}

/// Longest command name looked up without allocating.
const NAME_MAX: usize = 32;

/// Longest name [`pack_name`] packs: 15 bytes and a length byte.
const PACKED_NAME_MAX: usize = 15;

/// A lower-cased name of at most [`PACKED_NAME_MAX`] bytes as one integer; the length byte
/// keeps `get` and `get\0` apart.
#[inline(always)]
fn pack_name(name: &[u8]) -> Option<u128> {
    if name.len() > PACKED_NAME_MAX {
        return None;
    }
    let mut bytes = [0u8; 16];
    bytes[..name.len()].copy_from_slice(name);
    bytes[15] = name.len() as u8;
    let lo = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
    let hi = u64::from_le_bytes(bytes[8..].try_into().expect("8 bytes"));
    Some(u128::from(ascii_lower(lo)) | u128::from(ascii_lower(hi)) << 64)
}

/// `make_ascii_lowercase` of eight bytes at once: each byte in `A..=Z` gains 0x20. Every byte
/// is computed from its own low seven bits, so no carry crosses bytes, and bytes of 0x80 and
/// up are left alone.
#[inline(always)]
fn ascii_lower(x: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let low7 = x & (0x7F * ONES);
    let at_least_a = low7 + (0x80 - u64::from(b'A')) * ONES;
    let above_z = low7 + (0x80 - u64::from(b'Z') - 1) * ONES;
    let upper = at_least_a & !above_z & !x & (0x80 * ONES);
    x | (upper >> 2)
}

impl Registry {
    fn new(
        engine: &[&'static [CommandSpec<EngineHandler>]],
        server: &[&'static [ServerSpec]],
    ) -> Registry {
        let mut r = Registry {
            commands: Vec::new(),
            by_packed_name: FastMap::default(),
            by_name: FastMap::default(),
            subs: FastMap::default(),
        };
        for table in engine {
            for spec in table.iter() {
                let id = r.add(Spec::Engine(spec), None);
                for sub in spec.subcommands {
                    r.add(Spec::Engine(sub), Some(id));
                }
            }
        }
        for table in server {
            for spec in table.iter() {
                let id = r.add(Spec::Server(spec), None);
                for sub in spec.subcommands {
                    r.add(Spec::Server(sub), Some(id));
                }
            }
        }
        r
    }

    fn add(&mut self, spec: Spec, parent: Option<u32>) -> u32 {
        let id = self.commands.len() as u32;
        let lower = spec.name().to_ascii_lowercase();
        let full_name = match parent {
            Some(p) => format!("{}|{}", self.commands[p as usize].full_name, lower),
            None => lower.clone(),
        };
        match parent {
            Some(p) => {
                let previous = self.subs.insert((p, lower.as_bytes().into()), id);
                assert!(previous.is_none(), "duplicate subcommand {full_name}");
                self.commands[p as usize].children.push(id);
            }
            None => {
                let previous = match pack_name(lower.as_bytes()) {
                    Some(packed) => self.by_packed_name.insert(packed, id),
                    None => self.by_name.insert(lower.as_bytes().into(), id),
                };
                assert!(previous.is_none(), "duplicate command {full_name}");
            }
        }
        let categories = match spec {
            Spec::Engine(s) => crate::acl::categories::of(&full_name, s),
            Spec::Server(s) => crate::acl::categories::of(&full_name, s),
        };
        self.commands.push(Command {
            id,
            spec,
            categories,
            full_name,
            parent,
            children: Vec::new(),
        });
        id
    }

    /// Commands and subcommands registered (the size of per-command stats tables).
    pub fn command_count(&self) -> usize {
        self.commands.len()
    }

    pub fn get(&self, id: u32) -> &Command {
        &self.commands[id as usize]
    }

    /// Finds a top-level command by name (case-insensitive).
    pub fn by_name(&self, name: &[u8]) -> Option<&Command> {
        if let Some(packed) = pack_name(name) {
            return self
                .by_packed_name
                .get(&packed)
                .map(|&id| &self.commands[id as usize]);
        }
        if name.len() > NAME_MAX {
            return None;
        }
        let mut buf = [0u8; NAME_MAX];
        let lower = &mut buf[..name.len()];
        lower.copy_from_slice(name);
        lower.make_ascii_lowercase();
        self.by_name
            .get(&*lower)
            .map(|&id| &self.commands[id as usize])
    }

    /// Finds a command by its full name: `get`, or `config|get` for a subcommand
    /// (case-insensitive), as COMMAND INFO and LATENCY HISTOGRAM name them.
    pub fn by_full_name(&self, name: &[u8]) -> Option<&Command> {
        let Some(bar) = name.iter().position(|&b| b == b'|') else {
            return self.by_name(name);
        };
        let (parent, sub) = (self.by_name(&name[..bar])?, &name[bar + 1..]);
        parent
            .children
            .iter()
            .map(|&id| self.get(id))
            .find(|c| c.spec.name().as_bytes().eq_ignore_ascii_case(sub))
    }

    /// Resolves `argv` to a command or subcommand.
    pub fn lookup(&self, argv: Argv<'_>) -> Lookup<'_> {
        let Some(cmd) = self.by_name(argv.arg(0)) else {
            return Lookup::Unknown;
        };
        if cmd.children.is_empty() || argv.len() < 2 {
            return Lookup::Found(cmd);
        }
        let sub = argv.arg(1);
        if sub.len() > NAME_MAX {
            return Lookup::UnknownSubcommand(cmd);
        }
        let lower = sub.to_ascii_lowercase();
        match self.subs.get(&(cmd.id, lower.into_boxed_slice())) {
            Some(&id) => Lookup::Found(&self.commands[id as usize]),
            None => Lookup::UnknownSubcommand(cmd),
        }
    }

    /// [`Self::lookup`], answered from `last` when the connection names the same command again.
    #[inline]
    pub fn lookup_cached(&self, argv: Argv<'_>, last: &mut LastLookup) -> Lookup<'_> {
        let name = argv.arg(0);
        if let Some(id) = last.get(name) {
            return Lookup::Found(&self.commands[id as usize]);
        }
        let found = self.lookup(argv);
        if let Lookup::Found(cmd) = &found {
            // Containers resolve through their second argument: not remembered.
            if cmd.parent.is_none() && cmd.children.is_empty() {
                last.remember(name, cmd.id);
            }
        }
        found
    }

    /// Top-level commands, in registration order.
    pub fn top_level(&self) -> impl Iterator<Item = &Command> {
        self.commands.iter().filter(|c| c.parent.is_none())
    }

    pub fn all(&self) -> impl Iterator<Item = &Command> {
        self.commands.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_lower_matches_the_standard_library_for_every_byte() {
        for b in 0..=255u8 {
            let word = u64::from_le_bytes([b, b'Q', 0xC1, b, b'@', b'[', b'z', b'Z']);
            let mut want = word.to_le_bytes();
            want.make_ascii_lowercase();
            assert_eq!(ascii_lower(word).to_le_bytes(), want, "byte {b:#x}");
        }
    }

    #[test]
    fn packed_names_keep_length_and_ignore_case() {
        assert_eq!(pack_name(b"GeT"), pack_name(b"get"));
        assert_ne!(pack_name(b"get"), pack_name(b"get\0"));
        assert_eq!(pack_name(b"zremrangebyscore"), None);
    }
}
