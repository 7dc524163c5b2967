//! The server family: INFO, CONFIG, COMMAND, TIME and SHUTDOWN.
//!
//! COMMAND answers from the registry (the same rows the dispatch gate checks), in Redis 7.0's
//! reply shapes: COMMAND INFO's ten-element entries, COMMAND DOCS' maps, COMMAND GETKEYS.

use crate::command_docs;
use crate::config;
use crate::keyspecs::{self, Begin, Find};
use crate::registry::{Command, Lookup, ServerHandler, ServerSpec};
use crate::session::Session;
use usher_engine::args::is;
use usher_engine::cmd::keys::write_help;
use usher_engine::command::{cmd, container, Flags, Group};
use usher_engine::error::{CmdError, CmdResult};
use usher_engine::glob::glob_match;
use usher_engine::store::LockedShards;
use usher_protocol::{Argv, ReplySink, RespWriter};

/// ```text
/// INFO [section [section ...]]
/// ```
fn info(s: &mut Session, locked: &mut LockedShards, argv: Argv, out: &mut RespWriter) -> CmdResult {
    let args: Vec<&[u8]> = argv.iter().skip(1).collect();
    let sections = crate::info::requested_sections(&args);
    let text = crate::info::render(s, locked, &sections);
    out.verbatim("txt", &text);
    Ok(())
}

/// ```text
/// CONFIG GET parameter [parameter ...]
/// ```
fn config_get(
    s: &mut Session,
    _locked: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    let config = s.shared.config.read();
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut add = |name: String, d: &config::Directive| {
        if !pairs.iter().any(|(n, _)| n.eq_ignore_ascii_case(&name)) {
            pairs.push((name, d.show(&config)));
        }
    };
    for pattern in argv.iter().skip(2) {
        // Like Redis's configGetCommand: a plain name is looked up (aliases too) and answered
        // under the name as typed; a glob matches every name, old aliases included.
        if !pattern.iter().any(|c| matches!(c, b'*' | b'?' | b'[')) {
            let name = String::from_utf8_lossy(pattern).into_owned();
            if let Some(d) = config::find(&name) {
                add(name, d);
            }
            continue;
        }
        for d in config::all() {
            for name in std::iter::once(&d.name).chain(d.aliases) {
                if glob_match(pattern, name.as_bytes(), true) {
                    add(name.to_string(), d);
                }
            }
        }
    }
    out.map(pairs.len());
    for (name, value) in pairs {
        out.bulk(name.as_bytes());
        out.bulk(value.as_bytes());
    }
    Ok(())
}

/// Redis's `enable-protected-configs`: `yes`, or `local` for a client on a loopback address.
fn protected_allowed(s: &Session) -> bool {
    s.allows_protected(&s.shared.config.read().enable_protected_configs)
}

/// ```text
/// CONFIG SET parameter value [parameter value ...]
/// ```
/// All pairs are applied, or none.
fn config_set(
    s: &mut Session,
    _locked: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    // Redis 7.0 answers an unpaired argument with a plain syntax error.
    if !argv.len().is_multiple_of(2) {
        return Err(CmdError::Syntax);
    }
    let mut changes: Vec<(&'static config::Directive, String)> = Vec::new();
    for i in (2..argv.len()).step_by(2) {
        let name = String::from_utf8_lossy(argv.arg(i)).into_owned();
        let directive = config::find(&name).ok_or_else(|| {
            CmdError::Owned(format!(
                "ERR Unknown option or number of arguments for CONFIG SET - '{name}'"
            ))
        })?;
        if changes.iter().any(|(d, _)| d.name == directive.name) {
            return Err(CmdError::Owned(config::set_error(
                &name,
                "duplicate parameter",
            )));
        }
        if !directive.mutable {
            return Err(CmdError::Owned(config::set_error(
                &name,
                "can't set immutable config",
            )));
        }
        if ["dir", "dbfilename"].contains(&directive.name) && !protected_allowed(s) {
            return Err(CmdError::Owned(config::set_error(
                &name,
                "can't set protected config",
            )));
        }
        changes.push((
            directive,
            String::from_utf8_lossy(argv.arg(i + 1)).into_owned(),
        ));
    }
    s.shared.update_config(|c| {
        let mut next = c.clone();
        for (d, value) in &changes {
            let words: Vec<String> = if d.multi_arg {
                value.split_whitespace().map(str::to_string).collect()
            } else {
                vec![value.clone()]
            };
            let words = if words.is_empty() {
                vec![String::new()]
            } else {
                words
            };
            config::apply(&mut next, d.name, &words)
                .map_err(|reason| CmdError::Owned(config::set_error(d.name, &reason)))?;
        }
        // Any tls-* directive reloads the certificates, as Redis does (a rotated file is
        // picked up by setting the same path again); a failed load changes nothing.
        if let Some((d, _)) = changes.iter().find(|(d, _)| d.name.starts_with("tls-")) {
            if let Err(e) = s.shared.tls.reload(&next) {
                crate::warning!("Failed applying new TLS configuration: {e}");
                return Err(CmdError::Owned(config::set_error(
                    d.name,
                    "Unable to update TLS configuration. Check server logs.",
                )));
            }
        }
        *c = next;
        Ok::<(), CmdError>(())
    })?;
    s.refresh_config();
    for (d, _) in &changes {
        match d.name {
            "appendonly" => {
                let on = s.shared.config.read().appendonly;
                crate::persistence::aof::set_enabled(s.shared, on).map_err(CmdError::Owned)?;
            }
            "appendfsync" => {
                let f = s.shared.config.read().appendfsync;
                crate::persistence::aof::set_fsync(s.shared, f);
            }
            _ => {}
        }
    }
    out.ok();
    Ok(())
}

/// ```text
/// CONFIG RESETSTAT
/// ```
fn config_resetstat(
    s: &mut Session,
    locked: &mut LockedShards,
    _argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    for t in &s.shared.thread_stats {
        t.reset();
    }
    s.shared.errors.reset();
    // The databases' own counters (ALL_SHARDS: every shard is locked here).
    for shard in locked.iter_mut() {
        shard.dbs.iter_mut().for_each(|d| d.reset_stats());
        shard.queues.reset_stats();
    }
    s.shared
        .connections_received
        .store(0, std::sync::atomic::Ordering::Relaxed);
    s.shared
        .rejected_connections
        .store(0, std::sync::atomic::Ordering::Relaxed);
    out.ok();
    Ok(())
}

/// ```text
/// CONFIG REWRITE
/// ```
/// Rewrites the config file in place: known directives get their current value, others stay.
fn config_rewrite(
    s: &mut Session,
    _locked: &mut LockedShards,
    _argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    let config = s.shared.config.read().clone();
    let path = config.config_file.clone().ok_or(CmdError::Static(
        "ERR The server is running without a config file",
    ))?;
    let text = std::fs::read_to_string(&path)
        .map_err(|e| CmdError::Owned(format!("ERR Rewriting config file: {e}")))?;
    let mut lines = config::rewrite_lines(&text, &config);
    // Without an ACL file the config file keeps the users (with one, ACL SAVE does).
    if config.aclfile.is_empty() {
        for u in s.shared.acl.users() {
            lines.push(format!(
                "user {} {}",
                u.name,
                u.describe(crate::registry::get())
            ));
        }
    }
    let tmp = format!("{path}.usher-tmp");
    std::fs::write(&tmp, lines.join("\n") + "\n")
        .and_then(|_| std::fs::rename(&tmp, &path))
        .map_err(|e| CmdError::Owned(format!("ERR Rewriting config file: {e}")))?;
    out.ok();
    Ok(())
}

const CONFIG_HELP: &[&str] = &[
    "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET <pattern>",
    "    Return parameters matching the glob-like <pattern> and their values.",
    "SET <directive> <value>",
    "    Set the configuration <directive> to <value>.",
    "RESETSTAT",
    "    Reset statistics reported by the INFO command.",
    "REWRITE",
    "    Rewrite the configuration file.",
    "HELP",
    "    Prints this help.",
];

fn config_help(
    _s: &mut Session,
    _locked: &mut LockedShards,
    _argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    write_help(out, CONFIG_HELP);
    Ok(())
}

/// One COMMAND INFO entry (Redis 7.0's ten fields).
fn write_command_info(c: &Command, out: &mut RespWriter) {
    let spec = c.spec;
    let (first, last, step) = spec.key_triple();
    out.array(10);
    out.bulk(c.full_name.as_bytes());
    out.int(spec.arity() as i64);
    let flags = spec.flag_names();
    out.set(flags.len());
    for f in flags {
        out.simple(f);
    }
    out.int(first as i64);
    out.int(last as i64);
    out.int(step as i64);
    let cats: Vec<String> = crate::acl::categories::names(c.categories).collect();
    out.set(cats.len());
    for cat in cats {
        out.simple(&cat);
    }
    let tips = keyspecs::tips(&c.full_name);
    out.set(tips.len());
    for tip in tips {
        out.bulk(tip.as_bytes());
    }
    write_key_specs(c, out);
    // Redis 7.0 sends key specs and subcommands as sets (`~` in RESP3).
    out.set(c.children.len());
    for &child in &c.children {
        write_command_info(crate::registry::get().get(child), out);
    }
}

/// The command's key specs as Redis's `addReplyCommandKeySpecs` writes them.
fn write_key_specs(c: &Command, out: &mut RespWriter) {
    let specs = keyspecs::of(&c.full_name, c.spec);
    out.set(specs.len());
    for spec in specs.iter() {
        out.map(3 + spec.notes.is_some() as usize);
        if let Some(notes) = spec.notes {
            out.bulk(b"notes");
            out.bulk(notes.as_bytes());
        }
        out.bulk(b"flags");
        write_key_flags(out, spec.flags);
        out.bulk(b"begin_search");
        match spec.begin {
            Begin::Index(index) => typed_spec(out, b"index", &[(b"index", index)]),
            Begin::Keyword(keyword, startfrom) => {
                out.map(2);
                out.bulk(b"type");
                out.bulk(b"keyword");
                out.bulk(b"spec");
                out.map(2);
                out.bulk(b"keyword");
                out.bulk(keyword.as_bytes());
                out.bulk(b"startfrom");
                out.int(startfrom as i64);
            }
            Begin::Unknown => typed_spec(out, b"unknown", &[]),
        }
        out.bulk(b"find_keys");
        match spec.find {
            Find::Range {
                lastkey,
                keystep,
                limit,
            } => typed_spec(
                out,
                b"range",
                &[
                    (b"lastkey", lastkey),
                    (b"keystep", keystep),
                    (b"limit", limit),
                ],
            ),
            Find::Keynum {
                keynumidx,
                firstkey,
                keystep,
            } => typed_spec(
                out,
                b"keynum",
                &[
                    (b"keynumidx", keynumidx),
                    (b"firstkey", firstkey),
                    (b"keystep", keystep),
                ],
            ),
            Find::Unknown => typed_spec(out, b"unknown", &[]),
        }
    }
}

/// Key flags as Redis's `addReplyFlagsForKeyArgs` writes them: a set of status strings.
fn write_key_flags(out: &mut RespWriter, flags: u16) {
    out.set(keyspecs::flag_names(flags).count());
    for name in keyspecs::flag_names(flags) {
        out.simple(name);
    }
}

/// A key spec's `{type: kind, spec: {field: n, ...}}`, as Redis writes begin-searches and
/// find-keys whose fields are numbers.
fn typed_spec(out: &mut RespWriter, kind: &[u8], fields: &[(&[u8], i32)]) {
    out.map(2);
    out.bulk(b"type");
    out.bulk(kind);
    out.bulk(b"spec");
    out.map(fields.len());
    for (name, value) in fields {
        out.bulk(name);
        out.int(*value as i64);
    }
}

/// ```text
/// COMMAND
/// ```
fn command(
    _s: &mut Session,
    _locked: &mut LockedShards,
    _argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    let top: Vec<_> = crate::registry::get().top_level().collect();
    out.array(top.len());
    for c in top {
        write_command_info(c, out);
    }
    Ok(())
}

/// ```text
/// COMMAND INFO [command-name ...]
/// ```
fn command_info(
    s: &mut Session,
    locked: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    if argv.len() == 2 {
        return command(s, locked, argv, out);
    }
    out.array(argv.len() - 2);
    for name in argv.iter().skip(2) {
        match crate::registry::get().by_full_name(name) {
            Some(c) => write_command_info(c, out),
            // Redis answers a null bulk (addReplyNull), `$-1` in RESP2.
            None => out.null(),
        }
    }
    Ok(())
}

/// One command's COMMAND DOCS entry: Redis 7.0.15's own for Redis's commands (with the
/// argument tree redis-cli builds its hints from), the command table's summary, since, group
/// and complexity for usher's; then the subcommands usher has.
fn write_docs(c: &Command, out: &mut RespWriter) {
    let spec = c.spec;
    let has_subs = !c.children.is_empty();
    if let Some(fields) = command_docs::redis_docs(&c.full_name) {
        out.map(fields.len() + has_subs as usize);
        command_docs::write_pairs(fields, out);
    } else {
        out.map(4 + has_subs as usize);
        out.bulk(b"summary");
        out.bulk(spec.summary().as_bytes());
        out.bulk(b"since");
        out.bulk(spec.since().as_bytes());
        out.bulk(b"group");
        out.bulk(spec.group().name().as_bytes());
        out.bulk(b"complexity");
        out.bulk(spec.complexity().as_bytes());
    }
    if has_subs {
        out.bulk(b"subcommands");
        out.map(c.children.len());
        for &child in &c.children {
            let child = crate::registry::get().get(child);
            out.bulk(child.full_name.as_bytes());
            write_docs(child, out);
        }
    }
}

/// ```text
/// COMMAND DOCS [command-name ...]
/// ```
fn command_docs(
    _s: &mut Session,
    _locked: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    let wanted: Vec<&Command> = if argv.len() == 2 {
        crate::registry::get().top_level().collect()
    } else {
        argv.iter()
            .skip(2)
            .filter_map(|n| crate::registry::get().by_full_name(n))
            .collect()
    };
    out.map(wanted.len());
    for c in wanted {
        out.bulk(c.full_name.as_bytes());
        write_docs(c, out);
    }
    Ok(())
}

/// ```text
/// COMMAND COUNT
/// ```
fn command_count(
    _s: &mut Session,
    _locked: &mut LockedShards,
    _argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    out.int(crate::registry::get().top_level().count() as i64);
    Ok(())
}

/// ```text
/// COMMAND LIST [FILTERBY MODULE module-name | ACLCAT category | PATTERN pattern]
/// ```
fn command_list(
    _s: &mut Session,
    _locked: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    let filter: Box<dyn Fn(&Command) -> bool> = match argv.len() {
        2 => Box::new(|_| true),
        5 if is(argv.arg(2), "FILTERBY") => {
            let (kind, value) = (argv.arg(3), argv.arg(4).to_vec());
            if is(kind, "MODULE") {
                Box::new(|_| false)
            } else if is(kind, "ACLCAT") {
                let bit = crate::acl::categories::bit(&value).unwrap_or(0);
                Box::new(move |c: &Command| c.categories & bit != 0)
            } else if is(kind, "PATTERN") {
                Box::new(move |c: &Command| glob_match(&value, c.full_name.as_bytes(), true))
            } else {
                return Err(CmdError::Syntax);
            }
        }
        _ => return Err(CmdError::Syntax),
    };
    let names: Vec<&str> = crate::registry::get()
        .all()
        .filter(|c| filter(c))
        .map(|c| c.full_name.as_str())
        .collect();
    out.array(names.len());
    for n in names {
        out.bulk(n.as_bytes());
    }
    Ok(())
}

/// ```text
/// COMMAND GETKEYS command [arg ...]
/// ```
fn command_getkeys(
    _s: &mut Session,
    _locked: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    getkeys(argv, out, false)
}

/// ```text
/// COMMAND GETKEYSANDFLAGS command [arg ...]
/// ```
fn command_getkeysandflags(
    _s: &mut Session,
    _locked: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    getkeys(argv, out, true)
}

/// Redis's `getKeysSubcommandImpl`: the checks in its order, then the keys as the key specs
/// (or the command's own key finder) find them.
fn getkeys(argv: Argv, out: &mut RespWriter, with_flags: bool) -> CmdResult {
    let target = argv.tail(2);
    let c = match crate::registry::get().lookup(target) {
        Lookup::Found(c) => c,
        _ => return Err(CmdError::Static("ERR Invalid command specified")),
    };
    let specs = keyspecs::of(&c.full_name, c.spec);
    if !keyspecs::has_keys(&specs, &c.full_name, c.spec) {
        return Err(CmdError::Static("ERR The command has no key arguments"));
    }
    if !c.spec.arity_ok(target.len()) {
        return Err(CmdError::Static(
            "ERR Invalid number of arguments specified for command",
        ));
    }
    let keys = keyspecs::keys_and_flags(&specs, &c.full_name, c.spec, target).unwrap_or_default();
    if keys.is_empty() && !c.spec.flags().contains(Flags::NO_MANDATORY_KEYS) {
        return Err(CmdError::Static(
            "ERR Invalid arguments specified for command",
        ));
    }
    out.array(keys.len());
    for (pos, flags) in keys {
        if with_flags {
            out.array(2);
            out.bulk(target.arg(pos));
            write_key_flags(out, flags);
        } else {
            out.bulk(target.arg(pos));
        }
    }
    Ok(())
}

const COMMAND_HELP: &[&str] = &[
    "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "(no subcommand)",
    "    Return details about all Redis commands.",
    "COUNT",
    "    Return the total number of commands in this Redis server.",
    "LIST",
    "    Return a list of all commands in this Redis server.",
    "INFO [<command-name> ...]",
    "    Return details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "DOCS [<command-name> ...]",
    "    Return documentation details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "GETKEYS <full-command>",
    "    Return the keys from a full Redis command.",
    "GETKEYSANDFLAGS <full-command>",
    "    Return the keys and the access flags from a full Redis command.",
    "HELP",
    "    Prints this help.",
];

fn command_help(
    _s: &mut Session,
    _locked: &mut LockedShards,
    _argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    write_help(out, COMMAND_HELP);
    Ok(())
}

/// ```text
/// TIME
/// ```
fn time(
    _s: &mut Session,
    _locked: &mut LockedShards,
    _argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    out.array(2);
    out.bulk(now.as_secs().to_string().as_bytes());
    out.bulk(now.subsec_micros().to_string().as_bytes());
    Ok(())
}

/// ```text
/// SHUTDOWN [NOSAVE | SAVE] [NOW] [FORCE] [ABORT]
/// ```
/// On success the connection closes without a reply, as in Redis. It saves a snapshot first
/// when asked (SAVE) or when save points are configured (unless NOSAVE); a failed save keeps
/// the server running with Redis's error, unless FORCE.
fn shutdown(
    s: &mut Session,
    _locked: &mut LockedShards,
    argv: Argv,
    _out: &mut RespWriter,
) -> CmdResult {
    let (mut abort, mut nosave, mut save, mut force) = (false, false, false, false);
    for opt in argv.iter().skip(1) {
        if is(opt, "ABORT") {
            abort = true;
        } else if is(opt, "NOSAVE") {
            nosave = true;
        } else if is(opt, "SAVE") {
            save = true;
        } else if is(opt, "FORCE") {
            force = true;
        } else if !is(opt, "NOW") {
            return Err(CmdError::Syntax);
        }
    }
    if nosave && save {
        return Err(CmdError::Syntax);
    }
    if abort {
        if argv.len() > 2 {
            return Err(CmdError::Syntax);
        }
        return Err(CmdError::Static("ERR No shutdown in progress."));
    }
    crate::warning!("User requested shutdown...");
    let loading = s
        .shared
        .persist
        .loading
        .load(std::sync::atomic::Ordering::Acquire);
    if !loading && (save || (!nosave && crate::persistence::has_save_points(s.shared))) {
        crate::notice!("Saving the final RDB snapshot before exiting.");
        if crate::persistence::save(s.shared).is_err() && !force {
            crate::warning!("Error trying to save the DB, can't exit.");
            return Err(CmdError::Static(
                "ERR Errors trying to SHUTDOWN. Check logs.",
            ));
        }
    }
    s.shared
        .shutdown
        .save_settled
        .store(true, std::sync::atomic::Ordering::Release);
    s.shared.shutdown.request();
    s.close_after_reply = true;
    Ok(())
}

const ADMIN: Flags = Flags::ADMIN
    .union(Flags::NOSCRIPT)
    .union(Flags::LOADING)
    .union(Flags::STALE);

const CONFIG_SUBCOMMANDS: &[ServerSpec] = &[
    cmd("GET", -3, ADMIN, config_get as ServerHandler).doc(
        Group::Server,
        "2.0.0",
        "Returns the effective values of configuration parameters.",
        "O(N) when N is the number of configuration parameters provided",
    ),
    cmd("SET", -4, ADMIN, config_set as ServerHandler).doc(
        Group::Server,
        "2.0.0",
        "Sets configuration parameters in-flight.",
        "O(N) when N is the number of configuration parameters provided",
    ),
    cmd(
        "RESETSTAT",
        2,
        ADMIN.union(Flags::ALL_SHARDS),
        config_resetstat as ServerHandler,
    )
    .doc(
        Group::Server,
        "2.0.0",
        "Resets the server's statistics.",
        "O(1)",
    ),
    cmd("REWRITE", 2, ADMIN, config_rewrite as ServerHandler).doc(
        Group::Server,
        "2.8.0",
        "Persists the effective configuration to file.",
        "O(1)",
    ),
    cmd(
        "HELP",
        2,
        Flags::LOADING.union(Flags::STALE),
        config_help as ServerHandler,
    )
    .doc(
        Group::Server,
        "5.0.0",
        "Returns helpful text about the different subcommands.",
        "O(1)",
    ),
];

const CMD_FLAGS: Flags = Flags::LOADING.union(Flags::STALE);

const COMMAND_SUBCOMMANDS: &[ServerSpec] = &[
    cmd("COUNT", 2, CMD_FLAGS, command_count as ServerHandler).doc(
        Group::Server,
        "2.8.13",
        "Returns a count of commands.",
        "O(1)",
    ),
    cmd("INFO", -2, CMD_FLAGS, command_info as ServerHandler).doc(
        Group::Server,
        "2.8.13",
        "Returns information about one, multiple or all commands.",
        "O(N) where N is the number of commands to look up",
    ),
    cmd("DOCS", -2, CMD_FLAGS, command_docs as ServerHandler).doc(
        Group::Server,
        "7.0.0",
        "Returns documentary information about one, multiple or all commands.",
        "O(N) where N is the number of commands to look up",
    ),
    cmd("LIST", -2, CMD_FLAGS, command_list as ServerHandler).doc(
        Group::Server,
        "7.0.0",
        "Returns a list of command names.",
        "O(N) where N is the total number of Redis commands",
    ),
    cmd("GETKEYS", -4, CMD_FLAGS, command_getkeys as ServerHandler).doc(
        Group::Server,
        "2.8.13",
        "Extracts the key names from an arbitrary command.",
        "O(N) where N is the number of arguments to the command",
    ),
    cmd(
        "GETKEYSANDFLAGS",
        -4,
        CMD_FLAGS,
        command_getkeysandflags as ServerHandler,
    )
    .doc(
        Group::Server,
        "7.0.0",
        "Extract keys and access flags given a full Redis command",
        "O(N) where N is the number of arguments to the command",
    ),
    cmd("HELP", 2, CMD_FLAGS, command_help as ServerHandler).doc(
        Group::Server,
        "5.0.0",
        "Returns helpful text about the different subcommands.",
        "O(1)",
    ),
];

pub static COMMANDS: &[ServerSpec] = &[
    cmd("INFO", -1, Flags::LOADING.union(Flags::STALE).union(Flags::ALL_SHARDS), info as ServerHandler).doc(Group::Server, "1.0.0", "Returns information and statistics about the server.", "O(1)"),
    container("CONFIG", CONFIG_SUBCOMMANDS).doc(Group::Server, "2.0.0", "A container for server configuration commands.", "Depends on subcommand."),
    CommandRow::with_handler(container("COMMAND", COMMAND_SUBCOMMANDS).doc(Group::Server, "2.8.13", "Returns detailed information about all commands.", "O(N) where N is the total number of Redis commands"), command as ServerHandler),
    cmd("TIME", 1, Flags::LOADING.union(Flags::STALE).union(Flags::FAST), time as ServerHandler).doc(Group::Server, "2.6.0", "Returns the server time.", "O(1)"),
    cmd("SHUTDOWN", -1, ADMIN.union(Flags::NO_MULTI).union(Flags::ALLOW_BUSY), shutdown as ServerHandler).doc(Group::Server, "1.0.0", "Synchronously saves the database(s) to disk and shuts down the Redis server.", "O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)"),
];

/// COMMAND is both a container and a command of its own (bare `COMMAND`).
struct CommandRow;

impl CommandRow {
    const fn with_handler(mut spec: ServerSpec, handler: ServerHandler) -> ServerSpec {
        spec.handler = Some(handler);
        spec.arity = -1;
        spec.flags = Flags::LOADING.union(Flags::STALE);
        spec
    }
}
