//! The ACL family: SETUSER, GETUSER, DELUSER, USERS, LIST, CAT, WHOAMI, LOG, DRYRUN, GENPASS,
//! SAVE, LOAD and HELP, with Redis 7.0.15's replies and errors. The users, the rules and the
//! check itself live in `crate::acl`; this file only speaks the protocol.

use crate::acl::{self, categories, check, user};
use crate::registry::{Lookup, ServerHandler, ServerSpec};
use crate::session::Session;
use usher_engine::args::is;
use usher_engine::cmd::keys::write_help;
use usher_engine::command::{cmd, container, Flags, Group};
use usher_engine::error::{CmdError, CmdResult};
use usher_engine::store::LockedShards;
use usher_protocol::{errors, Argv, ReplySink, RespWriter};

/// ACL SETUSER username [rule ...]
fn setuser(s: &mut Session, _: &mut LockedShards, argv: Argv, out: &mut RespWriter) -> CmdResult {
    let name = argv.arg(2);
    if user::has_spaces(name) {
        return Err(CmdError::Static(
            "ERR Usernames can't contain spaces or null characters",
        ));
    }
    let rules: Vec<&[u8]> = argv.iter().skip(3).collect();
    let merged = user::merge_selector_args(&rules).map_err(|i| {
        CmdError::Owned(format!(
            "ERR Unmatched parenthesis in acl selector starting at '{}'.",
            String::from_utf8_lossy(rules[i])
        ))
    })?;
    let shared = s.shared;
    let config = shared.config.read().clone();
    let ctx = acl::ctx(crate::registry::get(), &config);
    let name = String::from_utf8_lossy(name).into_owned();
    // Rules apply to a copy: one bad rule and nothing changes.
    let mut u = match shared.acl.get(name.as_bytes()) {
        Some(existing) => (*existing).clone(),
        None => user::User::new(&name, &ctx),
    };
    for rule in &merged {
        u.apply(&ctx, rule).map_err(|e| {
            CmdError::Owned(format!(
                "ERR Error in ACL SETUSER modifier '{}': {}",
                String::from_utf8_lossy(rule),
                e.text()
            ))
        })?;
    }
    shared.acl.put(u);
    acl::wake_subscribers_of(shared, &name);
    out.ok();
    Ok(())
}

/// ACL GETUSER username
fn getuser(s: &mut Session, _: &mut LockedShards, argv: Argv, out: &mut RespWriter) -> CmdResult {
    let Some(u) = s.shared.acl.get(argv.arg(2)) else {
        out.null();
        return Ok(());
    };
    let registry = crate::registry::get();
    out.map(6);
    out.bulk(b"flags");
    let flags = u.flag_names();
    out.set(flags.len());
    for f in flags {
        out.bulk(f.as_bytes());
    }
    out.bulk(b"passwords");
    out.array(u.passwords.len());
    for p in &u.passwords {
        out.bulk(p.as_bytes());
    }
    write_selector(&u.selectors[0], registry, out);
    out.bulk(b"selectors");
    out.array(u.selectors.len() - 1);
    for sel in &u.selectors[1..] {
        out.map(3);
        write_selector(sel, registry, out);
    }
    Ok(())
}

/// The three fields of a selector in ACL GETUSER.
fn write_selector(
    sel: &user::Selector,
    registry: &crate::registry::Registry,
    out: &mut RespWriter,
) {
    out.bulk(b"commands");
    out.bulk(sel.describe_commands(registry).as_bytes());
    out.bulk(b"keys");
    out.bulk(sel.keys_text().as_bytes());
    out.bulk(b"channels");
    out.bulk(sel.channels_text().as_bytes());
}

/// ACL DELUSER username [username ...]: their connections are closed.
fn deluser(s: &mut Session, _: &mut LockedShards, argv: Argv, out: &mut RespWriter) -> CmdResult {
    if argv.iter().skip(2).any(|n| n == b"default") {
        return Err(CmdError::Static("ERR The 'default' user cannot be removed"));
    }
    let mut deleted = Vec::new();
    for name in argv.iter().skip(2) {
        if s.shared.acl.remove(name) {
            deleted.push(String::from_utf8_lossy(name).into_owned());
        }
    }
    acl::kill_clients_of(s.shared, &deleted);
    out.int(deleted.len() as i64);
    Ok(())
}

/// ACL USERS
fn users(s: &mut Session, _: &mut LockedShards, _: Argv, out: &mut RespWriter) -> CmdResult {
    let users = s.shared.acl.users();
    out.array(users.len());
    for u in users {
        out.bulk(u.name.as_bytes());
    }
    Ok(())
}

/// ACL LIST
fn list(s: &mut Session, _: &mut LockedShards, _: Argv, out: &mut RespWriter) -> CmdResult {
    let users = s.shared.acl.users();
    out.array(users.len());
    for u in users {
        let line = format!("user {} {}", u.name, u.describe(crate::registry::get()));
        out.bulk(line.as_bytes());
    }
    Ok(())
}

/// ACL CAT [category]
fn cat(_s: &mut Session, _: &mut LockedShards, argv: Argv, out: &mut RespWriter) -> CmdResult {
    match argv.len() {
        2 => {
            out.array(categories::NAMES.len());
            for name in categories::NAMES {
                out.bulk(name.as_bytes());
            }
        }
        3 => {
            let bit = categories::bit(argv.arg(2)).ok_or_else(|| {
                CmdError::Owned(format!(
                    "ERR Unknown category '{}'",
                    errors::sanitize(argv.arg(2), 128)
                ))
            })?;
            let names: Vec<&str> = crate::registry::get()
                .all()
                .filter(|c| c.categories & bit != 0)
                .map(|c| c.full_name.as_str())
                .collect();
            out.array(names.len());
            for n in names {
                out.bulk(n.as_bytes());
            }
        }
        _ => {
            return Err(CmdError::Owned(errors::subcommand_syntax(
                argv.arg(1),
                "acl",
            )))
        }
    }
    Ok(())
}

/// ACL WHOAMI
fn whoami(s: &mut Session, _: &mut LockedShards, _: Argv, out: &mut RespWriter) -> CmdResult {
    out.bulk(s.user.name.as_bytes());
    Ok(())
}

/// ACL LOG [count | RESET]
fn log(s: &mut Session, _: &mut LockedShards, argv: Argv, out: &mut RespWriter) -> CmdResult {
    let mut count = 10usize;
    match argv.len() {
        2 => {}
        3 if is(argv.arg(2), "RESET") => {
            s.shared.acl.log.lock().reset();
            out.ok();
            return Ok(());
        }
        3 => {
            let n = usher_protocol::parse::parse_i64(argv.arg(2)).ok_or(CmdError::NotInteger)?;
            count = n.max(0) as usize;
        }
        _ => {
            return Err(CmdError::Owned(errors::subcommand_syntax(
                argv.arg(1),
                "acl",
            )))
        }
    }
    let now = crate::shared::unix_ms();
    let log = s.shared.acl.log.lock();
    let count = count.min(log.len());
    out.array(count);
    for e in log.entries().take(count) {
        out.map(7);
        out.bulk(b"count");
        out.int(e.count as i64);
        out.bulk(b"reason");
        out.bulk(e.reason.name().as_bytes());
        out.bulk(b"context");
        out.bulk(e.context.name().as_bytes());
        out.bulk(b"object");
        out.bulk(&e.object);
        out.bulk(b"username");
        out.bulk(e.username.as_bytes());
        out.bulk(b"age-seconds");
        out.double((now - e.ctime_ms) as f64 / 1000.0);
        out.bulk(b"client-info");
        out.bulk(e.client_info.as_bytes());
    }
    Ok(())
}

/// ACL DRYRUN username command [arg ...]: would the user be allowed to run it?
fn dryrun(s: &mut Session, _: &mut LockedShards, argv: Argv, out: &mut RespWriter) -> CmdResult {
    let Some(u) = s.shared.acl.get(argv.arg(2)) else {
        return Err(CmdError::Owned(format!(
            "ERR User '{}' not found",
            String::from_utf8_lossy(argv.arg(2))
        )));
    };
    let call = argv.tail(3);
    let Lookup::Found(cmd) = crate::registry::get().lookup(call) else {
        return Err(CmdError::Owned(format!(
            "ERR Command '{}' not found",
            String::from_utf8_lossy(argv.arg(3))
        )));
    };
    if !cmd.spec.arity_ok(call.len()) {
        return Err(CmdError::Owned(errors::wrong_arity(&cmd.full_name)));
    }
    match check::check(&u, cmd, call) {
        Ok(()) => out.ok(),
        Err(denied) => {
            let text = match denied {
                check::Denied::Command => format!(
                    "This user has no permissions to run the '{}' command",
                    cmd.full_name
                ),
                check::Denied::Key(i) => format!(
                    "This user has no permissions to access the '{}' key",
                    String::from_utf8_lossy(call.arg(i))
                ),
                check::Denied::Channel(i) => format!(
                    "This user has no permissions to access the '{}' channel",
                    String::from_utf8_lossy(call.arg(i))
                ),
            };
            out.bulk(text.as_bytes());
        }
    }
    Ok(())
}

/// Redis's GENPASS limit (`GENPASS_MAX_BITS`).
const GENPASS_MAX_BITS: i64 = 4096;

/// ACL GENPASS [bits]: random hex, `bits` rounded up to a nibble.
fn genpass(_: &mut Session, _: &mut LockedShards, argv: Argv, out: &mut RespWriter) -> CmdResult {
    let bits = match argv.len() {
        2 => 256,
        3 => usher_protocol::parse::parse_i64(argv.arg(2)).ok_or(CmdError::NotInteger)?,
        _ => {
            return Err(CmdError::Owned(errors::subcommand_syntax(
                argv.arg(1),
                "acl",
            )))
        }
    };
    if bits <= 0 || bits > GENPASS_MAX_BITS {
        return Err(CmdError::Owned(format!(
            "ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to {GENPASS_MAX_BITS}"
        )));
    }
    let chars = ((bits + 3) / 4) as usize;
    // ThreadRng is a CSPRNG seeded from the OS, like Redis's getRandomHexChars.
    let hex = crate::ids::random_hex(chars);
    out.bulk(hex.as_bytes());
    Ok(())
}

const NO_ACL_FILE: &str = "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.";

fn has_acl_file(s: &Session) -> CmdResult {
    if s.shared.config.read().aclfile.is_empty() {
        return Err(CmdError::Static(NO_ACL_FILE));
    }
    Ok(())
}

/// ACL SAVE
fn save(s: &mut Session, _: &mut LockedShards, _: Argv, out: &mut RespWriter) -> CmdResult {
    has_acl_file(s)?;
    if let Err(e) = acl::save_file(s.shared) {
        crate::warning!("Saving the ACL file: {e}");
        return Err(CmdError::Static("ERR There was an error trying to save the ACLs. Please check the server logs for more information"));
    }
    out.ok();
    Ok(())
}

/// ACL LOAD: all or nothing; connections of replaced users are closed.
fn load(s: &mut Session, _: &mut LockedShards, _: Argv, out: &mut RespWriter) -> CmdResult {
    has_acl_file(s)?;
    acl::load_file(s.shared).map_err(|e| CmdError::Owned(format!("ERR {e}")))?;
    out.ok();
    Ok(())
}

fn help(_: &mut Session, _: &mut LockedShards, _: Argv, out: &mut RespWriter) -> CmdResult {
    write_help(
        out,
        &[
            "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "CAT [<category>]",
            "    List all commands that belong to <category>, or all command categories",
            "    when no category is specified.",
            "DELUSER <username> [<username> ...]",
            "    Delete a list of users.",
            "DRYRUN <username> <command> [<arg> ...]",
            "    Returns whether the user can execute the given command without executing the command.",
            "GETUSER <username>",
            "    Get the user's details.",
            "GENPASS [<bits>]",
            "    Generate a secure 256-bit user password. The optional `bits` argument can",
            "    be used to specify a different size.",
            "LIST",
            "    Show users details in config file format.",
            "LOAD",
            "    Reload users from the ACL file.",
            "LOG [<count> | RESET]",
            "    Show the ACL log entries.",
            "SAVE",
            "    Save the current config to the ACL file.",
            "SETUSER <username> <attribute> [<attribute> ...]",
            "    Create or modify a user with the specified attributes.",
            "USERS",
            "    List all the registered usernames.",
            "WHOAMI",
            "    Return the current connection username.",
            "HELP",
            "    Prints this help.",
        ],
    );
    Ok(())
}

const ADMIN: Flags = Flags::ADMIN
    .union(Flags::NOSCRIPT)
    .union(Flags::LOADING)
    .union(Flags::STALE);
const PLAIN: Flags = Flags::NOSCRIPT.union(Flags::LOADING).union(Flags::STALE);

#[rustfmt::skip]
const SUBCOMMANDS: &[ServerSpec] = &[
    cmd("CAT", -2, PLAIN, cat as ServerHandler).doc(Group::Server, "6.0.0", "List the ACL categories or the commands inside a category", "O(1) since the categories and commands are a fixed set."),
    cmd("DELUSER", -3, ADMIN, deluser as ServerHandler).doc(Group::Server, "6.0.0", "Remove the specified ACL users and the associated rules", "O(1) amortized time considering the typical user."),
    cmd("DRYRUN", -4, ADMIN, dryrun as ServerHandler).doc(Group::Server, "7.0.0", "Returns whether the user can execute the given command without executing the command.", "O(1)."),
    cmd("GENPASS", -2, PLAIN, genpass as ServerHandler).doc(Group::Server, "6.0.0", "Generate a pseudorandom secure password to use for ACL users", "O(1)"),
    cmd("GETUSER", 3, ADMIN, getuser as ServerHandler).doc(Group::Server, "6.0.0", "Get the rules for a specific ACL user", "O(N). Where N is the number of password, command and pattern rules that the user has."),
    cmd("HELP", 2, Flags::LOADING.union(Flags::STALE), help as ServerHandler).doc(Group::Server, "6.0.0", "Show helpful text about the different subcommands", "O(1)"),
    cmd("LIST", 2, ADMIN, list as ServerHandler).doc(Group::Server, "6.0.0", "List the current ACL rules in ACL config file format", "O(N). Where N is the number of configured users."),
    cmd("LOAD", 2, ADMIN, load as ServerHandler).doc(Group::Server, "6.0.0", "Reload the ACLs from the configured ACL file", "O(N). Where N is the number of configured users."),
    cmd("LOG", -2, ADMIN, log as ServerHandler).doc(Group::Server, "6.0.0", "List latest events denied because of ACLs in place", "O(N) with N being the number of entries shown."),
    cmd("SAVE", 2, ADMIN, save as ServerHandler).doc(Group::Server, "6.0.0", "Save the current ACL rules in the configured ACL file", "O(N). Where N is the number of configured users."),
    cmd("SETUSER", -3, ADMIN, setuser as ServerHandler).doc(Group::Server, "6.0.0", "Modify or create the rules for a specific ACL user", "O(N). Where N is the number of rules provided."),
    cmd("USERS", 2, ADMIN, users as ServerHandler).doc(Group::Server, "6.0.0", "List the username of all the configured ACL rules", "O(N). Where N is the number of configured users."),
    cmd("WHOAMI", 2, PLAIN, whoami as ServerHandler).doc(Group::Server, "6.0.0", "Return the name of the user associated to the current connection", "O(1)"),
];

pub static COMMANDS: &[ServerSpec] = &[container("ACL", SUBCOMMANDS).doc(
    Group::Server,
    "6.0.0",
    "A container for Access List Control commands ",
    "Depends on subcommand.",
)];
