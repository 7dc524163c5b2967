//! ACL command categories: Redis 7.0's twenty-one, in its order, plus usher's four for the
//! waiting room, and the one place a command's categories are decided.
//!
//! Redis derives most categories from command flags (`setImplicitACLCategories`) and lists the
//! rest in each command's JSON file. usher derives the same from each table row
//! (`CommandSpec::acl_categories`, flags plus group) and corrects the few commands where Redis's
//! JSON says more or less in [`OVERRIDES`], keyed by full name, so no family table needs an
//! extra column. `tests/tests/acl.rs` checks the result against redis-server for every command
//! both have.

use usher_engine::command::CommandSpec;

/// Category names, without `@`, in bit order: the order `ACL CAT` lists them and the order
/// `ACL GETUSER` tries them in when it describes a user's commands.
pub const NAMES: &[&str] = &[
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
    // usher's own: the waiting room's roles (docs/security.md).
    "waitingroom",
    "admission",
    "seat",
    "token",
];

/// How many of [`NAMES`] are Redis's: the rest are usher's own.
pub const REDIS_COUNT: usize = 21;

/// The bit of a category name (case-insensitive, without `@`), if it is one.
pub fn bit(name: &[u8]) -> Option<u32> {
    NAMES
        .iter()
        .position(|n| n.as_bytes().eq_ignore_ascii_case(name))
        .map(|i| 1 << i)
}

/// The categories of a bit set, as `COMMAND INFO` prints them (`@read`, ...).
pub fn names(bits: u32) -> impl Iterator<Item = String> {
    NAMES
        .iter()
        .enumerate()
        .filter(move |(i, _)| bits & (1 << i) != 0)
        .map(|(_, n)| format!("@{n}"))
}

fn bits_of(names: &[&str]) -> u32 {
    names
        .iter()
        .fold(0, |acc, n| acc | bit(n.as_bytes()).expect("known category"))
}

/// Where Redis's command JSON adds (or, for containers' help, removes) categories that flags
/// and group do not imply: (full name, added, removed).
const OVERRIDES: &[(&str, &[&str], &[&str])] = &[
    ("asking", &["connection"], &[]),
    ("readonly", &["connection"], &[]),
    ("readwrite", &["connection"], &[]),
    ("command", &["connection"], &[]),
    ("dbsize", &["keyspace"], &[]),
    ("randomkey", &["keyspace"], &[]),
    ("scan", &["keyspace"], &[]),
    ("flushall", &["keyspace", "dangerous"], &[]),
    ("flushdb", &["keyspace", "dangerous"], &[]),
    ("swapdb", &["keyspace", "dangerous"], &[]),
    ("keys", &["keyspace", "dangerous"], &[]),
    ("restore", &["dangerous"], &[]),
    ("restore-asking", &["keyspace", "dangerous"], &[]),
    ("migrate", &["dangerous"], &[]),
    ("info", &["dangerous"], &[]),
    ("lastsave", &["admin", "dangerous"], &[]),
    ("role", &["admin", "dangerous"], &[]),
    ("wait", &["connection"], &[]),
    ("object|help", &["keyspace"], &[]),
    ("pubsub|help", &[], &["pubsub"]),
    (
        "sort",
        &["set", "sortedset", "list", "dangerous"],
        &["keyspace"],
    ),
    (
        "sort_ro",
        &["set", "sortedset", "list", "dangerous"],
        &["keyspace"],
    ),
    // The waiting room: what a visitor's web tier calls, what the admission worker and the
    // operator call, what the booking service calls (docs/security.md has the three roles).
    ("enter", &["waitingroom"], &[]),
    ("qpos", &["waitingroom"], &[]),
    ("qleave", &["waitingroom"], &[]),
    ("qheartbeat", &["waitingroom"], &[]),
    ("qstats", &["waitingroom"], &[]),
    ("admit", &["admission"], &[]),
    ("qsweep", &["admission"], &[]),
    ("qrenew", &["admission"], &[]),
    ("qrevoke", &["admission"], &[]),
    ("qpolicy", &["admission"], &[]),
    ("qhold", &["admission"], &[]),
    ("qunhold", &["admission"], &[]),
    ("qsplit", &["admission"], &[]),
    ("seatlock", &["seat"], &[]),
    ("seatlockall", &["seat"], &[]),
    ("seatconfirm", &["seat"], &[]),
    ("seatrelease", &["seat"], &[]),
    ("seatstatus", &["seat"], &[]),
    ("seatextend", &["seat"], &[]),
    ("seatcancel", &["seat"], &[]),
    ("seatmap", &["seat"], &[]),
    ("tokenissue", &["token"], &[]),
    ("tokenconsume", &["token"], &[]),
    ("tokensign", &["token"], &[]),
    ("tokenverify", &["token"], &[]),
    ("tokeninvite", &["token"], &[]),
    // The key ring: anyone verifying tokens may read the public keys; changing the ring is
    // the operator's (the admission role's), and a replacement ring carries private keys.
    ("tokenkeys|jwks", &["token"], &[]),
    ("tokenkeys|list", &["token"], &[]),
    ("tokenkeys|rotate", &["admission", "dangerous"], &[]),
    ("tokenkeys|retire", &["admission", "dangerous"], &[]),
    ("tokenkeys|restore", &["admission", "dangerous"], &[]),
];

/// The categories of the command `full_name` (`get`, `config|get`) with table row `spec`.
pub fn of<H>(full_name: &str, spec: &CommandSpec<H>) -> u32 {
    let mut bits = spec
        .acl_categories()
        .iter()
        .fold(0, |acc, c| acc | bit(&c.as_bytes()[1..]).unwrap_or(0));
    // A container's categories are only its own flags' (`@slow`): Redis's container rows name
    // no group category (CLIENT is not @connection, SCRIPT not @scripting).
    if spec.is_container() {
        if let Some(group) = spec.group.acl_category() {
            bits &= !bit(&group.as_bytes()[1..]).unwrap_or(0);
        }
    }
    // COMMAND's and QPOLICY's subcommands share their container's extra category.
    let parent = full_name.split('|').next().unwrap_or(full_name);
    for (name, add, remove) in OVERRIDES {
        if *name == full_name || (*name == parent && INHERITED.contains(name)) {
            bits |= bits_of(add);
            bits &= !bits_of(remove);
        }
    }
    bits
}

/// Containers whose override applies to every subcommand too.
const INHERITED: &[&str] = &["command", "qpolicy"];
