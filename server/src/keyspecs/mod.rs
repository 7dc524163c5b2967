//! Key specs, as Redis 7.0 describes a command's keys: for each key argument, where the
//! search begins (an index or a keyword), how the keys are found from there (a range or a
//! count argument), and how the command uses them (`RO`, `RW`, `OW`, `RM`, `access`,
//! `update`, `insert`, `delete`, `not_key`, `incomplete`, `variable_flags`).
//!
//! Redis's own commands carry Redis's specs, recorded from redis-server 7.0.15
//! (`redis.rs`, `scripts/gen-key-specs.py`); usher's own commands get one spec derived from
//! their `(first, last, step)`. COMMAND INFO writes them, COMMAND GETKEYSANDFLAGS finds keys
//! through them as Redis's `getKeysFromCommandWithSpecs` does, and ACL key patterns
//! (`%R~`, `%W~`) check the access they name. Redis's command tips
//! (`nondeterministic_output`, `request_policy:...`) are recorded alongside, for COMMAND INFO.

mod redis;

use crate::registry::Spec;
use redis::{REDIS_COMMAND_TIPS, REDIS_KEY_SPECS};
use smallvec::SmallVec;
use std::borrow::Cow;
use usher_engine::command::Flags;
use usher_protocol::parse::parse_i64;
use usher_protocol::Argv;

pub const RO: u16 = 1;
pub const RW: u16 = 1 << 1;
pub const OW: u16 = 1 << 2;
pub const RM: u16 = 1 << 3;
pub const ACCESS: u16 = 1 << 4;
pub const UPDATE: u16 = 1 << 5;
pub const INSERT: u16 = 1 << 6;
pub const DELETE: u16 = 1 << 7;
pub const NOT_KEY: u16 = 1 << 8;
pub const INCOMPLETE: u16 = 1 << 9;
pub const VARIABLE_FLAGS: u16 = 1 << 10;

/// Flag names in Redis's order (`addReplyFlagsForKeyArgs`).
const FLAG_NAMES: [(u16, &str); 11] = [
    (RO, "RO"),
    (RW, "RW"),
    (OW, "OW"),
    (RM, "RM"),
    (ACCESS, "access"),
    (UPDATE, "update"),
    (INSERT, "insert"),
    (DELETE, "delete"),
    (NOT_KEY, "not_key"),
    (INCOMPLETE, "incomplete"),
    (VARIABLE_FLAGS, "variable_flags"),
];

/// The names of the flags set in `flags`, in Redis's order.
pub fn flag_names(flags: u16) -> impl Iterator<Item = &'static str> {
    FLAG_NAMES
        .iter()
        .filter(move |(bit, _)| flags & bit != 0)
        .map(|(_, name)| *name)
}

/// Where the search for a spec's keys begins.
#[derive(Clone, Copy, Debug)]
pub enum Begin {
    /// At this argument.
    Index(i32),
    /// After this keyword, searched from this argument (backwards from the end if negative).
    Keyword(&'static str, i32),
    Unknown,
}

/// How a spec's keys are found from where the search began.
#[derive(Clone, Copy, Debug)]
pub enum Find {
    /// Keys up to `lastkey` (relative; negative counts from the end), every `keystep`th;
    /// with a `limit`, a 1/limit share of the remaining arguments.
    Range {
        lastkey: i32,
        keystep: i32,
        limit: i32,
    },
    /// The argument at `keynumidx` says how many keys follow from `firstkey`.
    Keynum {
        keynumidx: i32,
        firstkey: i32,
        keystep: i32,
    },
    Unknown,
}

#[derive(Clone, Copy, Debug)]
pub struct KeySpec {
    pub notes: Option<&'static str>,
    pub flags: u16,
    pub begin: Begin,
    pub find: Find,
}

/// Redis's key specs for the command `full_name` (`get`, `client|kill`); `None` for
/// commands Redis does not have and for Redis's commands without keys.
pub fn redis_specs(full_name: &str) -> Option<&'static [KeySpec]> {
    REDIS_KEY_SPECS
        .binary_search_by(|(name, _)| name.cmp(&full_name))
        .ok()
        .map(|i| REDIS_KEY_SPECS[i].1)
}

/// Redis's tips for the command `full_name`; none for usher's own commands.
pub fn tips(full_name: &str) -> &'static [&'static str] {
    REDIS_COMMAND_TIPS
        .binary_search_by(|(name, _)| name.cmp(&full_name))
        .map_or(&[], |i| REDIS_COMMAND_TIPS[i].1)
}

/// The command's key specs: Redis's, or for usher's own commands one derived from the legacy
/// triple, `RW update` for writes and `RO access` otherwise.
pub fn of(full_name: &str, spec: Spec) -> Cow<'static, [KeySpec]> {
    if let Some(specs) = redis_specs(full_name) {
        return Cow::Borrowed(specs);
    }
    let (first, last, step) = spec.key_triple();
    if first <= 0 {
        return Cow::Borrowed(&[]);
    }
    let flags = if spec.flags().contains(Flags::WRITE) {
        RW | UPDATE
    } else {
        RO | ACCESS
    };
    Cow::Owned(vec![KeySpec {
        notes: None,
        flags,
        begin: Begin::Index(first),
        find: Find::Range {
            lastkey: if last < 0 { last } else { last - first },
            keystep: step,
            limit: 0,
        },
    }])
}

/// Whether the command can have keys (Redis's `doesCommandHaveKeys`): a spec that is not
/// `not_key`, or a key-finding function of its own.
/// `specs` are the command's ([`of`]).
pub fn has_keys(specs: &[KeySpec], full_name: &str, spec: Spec) -> bool {
    specs.iter().any(|s| s.flags & NOT_KEY == 0) || has_finder(full_name, spec)
}

/// Whether Redis (or usher, for its own commands) has a key-finding function for the
/// command beside its specs: the commands whose keys move, and SET and BITFIELD, whose flags
/// depend on the arguments.
fn has_finder(full_name: &str, spec: Spec) -> bool {
    spec.has_movable_keys() || matches!(full_name, "set" | "bitfield")
}

/// A key the command names: its argument index and the flags of the spec (or Redis's
/// key-finding function) that found it.
pub type KeyRef = (usize, u16);
pub type KeyRefs = SmallVec<[KeyRef; 4]>;

/// The keys of `argv` and how the command uses each, as Redis 7.0's
/// `getKeysFromCommandWithSpecs`: through the key specs when they are complete and their
/// flags fixed, else as the command's own key finder does, with the flags Redis's finder for
/// it sets (none for most). `specs` are the command's ([`of`]). `None` when the arguments are
/// malformed.
pub fn keys_and_flags(
    specs: &[KeySpec],
    full_name: &str,
    spec: Spec,
    argv: Argv<'_>,
) -> Option<KeyRefs> {
    let has_keys = specs.iter().any(|s| s.flags & NOT_KEY == 0);
    let variable = specs.iter().any(|s| s.flags & VARIABLE_FLAGS != 0);
    if has_keys && !variable {
        if let Some(keys) = keys_by_specs(specs, argv) {
            return Some(keys);
        }
    }
    if !has_finder(full_name, spec) {
        return Some(KeyRefs::new());
    }
    let positions = spec.key_positions(argv)?;
    Some(
        positions
            .iter()
            .enumerate()
            .map(|(i, &pos)| (pos, finder_flags(full_name, argv, i)))
            .collect(),
    )
}

/// Redis's `getKeysUsingKeySpecs` without its partial and not-key modes: `None` for an
/// unknown or incomplete spec, a count that is not a number, or keys past the arguments.
fn keys_by_specs(specs: &[KeySpec], argv: Argv<'_>) -> Option<KeyRefs> {
    let argc = argv.len() as i32;
    let mut keys = KeyRefs::new();
    for spec in specs {
        if spec.flags & NOT_KEY != 0 {
            continue;
        }
        let mut first = match spec.begin {
            Begin::Index(pos) => pos,
            Begin::Keyword(keyword, startfrom) => {
                match keyword_position(argv, keyword, startfrom) {
                    Some(i) => i + 1,
                    None => continue, // an optional keyword that is absent
                }
            }
            Begin::Unknown => return None,
        };
        let (last, step) = match spec.find {
            Find::Range {
                lastkey,
                keystep,
                limit,
            } => {
                let last = if lastkey >= 0 {
                    first + lastkey
                } else if limit == 0 {
                    argc + lastkey
                } else {
                    first + ((argc - first) / limit + lastkey)
                };
                (last, keystep)
            }
            Find::Keynum {
                keynumidx,
                firstkey,
                keystep,
            } => {
                if keynumidx >= argc {
                    return None;
                }
                let count = argv
                    .get((first + keynumidx) as usize)
                    .and_then(parse_i64)
                    .filter(|&n| n >= 0)?;
                first += firstkey;
                (first + count as i32 - 1, keystep)
            }
            Find::Unknown => return None,
        };
        if last >= argc || last < first || first >= argc {
            return None;
        }
        let mut i = first;
        while i <= last {
            keys.push((i as usize, spec.flags));
            i += step.max(1);
        }
        if spec.flags & INCOMPLETE != 0 {
            return None;
        }
    }
    Some(keys)
}

/// The argument index of `keyword` (case-insensitive), searched from `startfrom` forwards
/// or, when negative, from `argc + startfrom` backwards; never the command name.
fn keyword_position(argv: Argv<'_>, keyword: &str, startfrom: i32) -> Option<i32> {
    let argc = argv.len() as i32;
    let is = |i: i32| {
        argv.arg(i as usize)
            .eq_ignore_ascii_case(keyword.as_bytes())
    };
    if startfrom > 0 {
        (startfrom..argc - 1).find(|&i| is(i))
    } else {
        let start = argc + startfrom;
        (2..=start).rev().find(|&i| i < argc && is(i))
    }
}

/// The flags Redis's own key-finding function gives the `i`th key it finds: only the
/// functions of commands whose specs are incomplete or variable set any (`setGetKeys`,
/// `bitfieldGetKeys`, `sortGetKeys`, `sortROGetKeys`, `migrateGetKeys`).
pub fn finder_flags(full_name: &str, argv: Argv<'_>, i: usize) -> u16 {
    let is = |a: &[u8], w: &str| a.eq_ignore_ascii_case(w.as_bytes());
    match full_name {
        "set" if argv.iter().skip(3).any(|a| is(a, "get")) => RW | ACCESS | UPDATE,
        "set" => OW | UPDATE,
        "bitfield" if bitfield_reads_only(argv) => RO | ACCESS,
        "bitfield" => RW | ACCESS | UPDATE,
        "sort" if i > 0 => OW | UPDATE,
        "sort" | "sort_ro" => RO | ACCESS,
        "migrate" => RW | ACCESS | DELETE,
        _ => 0,
    }
}

/// Whether a BITFIELD only GETs (Redis's `bitfieldGetKeys`: an unknown or incomplete
/// operation counts as a write, the safer guess).
fn bitfield_reads_only(argv: Argv<'_>) -> bool {
    let is = |a: &[u8], w: &str| a.eq_ignore_ascii_case(w.as_bytes());
    let mut i = 2;
    while i < argv.len() {
        let (arg, rest) = (argv.arg(i), argv.len() - i - 1);
        if is(arg, "get") && rest >= 2 {
            i += 3;
        } else if is(arg, "overflow") && rest >= 1 {
            i += 2;
        } else {
            return false;
        }
    }
    true
}
