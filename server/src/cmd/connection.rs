//! The connection family: PING, ECHO, HELLO, AUTH, SELECT, QUIT, RESET and CLIENT.
//!
//! These change or report the connection's own state, so they are server commands (they see
//! the [`Session`]) rather than engine commands. Replies and errors are Redis 7.0's; CLIENT
//! SETINFO and CLIENT NO-TOUCH follow 7.2, where 7.0 lacked the command (docs/compatibility.md
//! lists these).

use crate::client::{flag, ClientInfo, UNBLOCK_ERROR, UNBLOCK_TIMEOUT};
use crate::registry::{ServerHandler, ServerSpec};
use crate::session::{ReplyMode, Session};
use crate::shared::unix_ms;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use usher_engine::args::{self, is};
use usher_engine::cmd::keys::write_help;
use usher_engine::command::{cmd, container, Flags, Group};
use usher_engine::error::{CmdError, CmdResult};
use usher_engine::store::LockedShards;
use usher_protocol::{errors, Argv, Protocol, ReplySink, RespWriter};

/// The Redis version whose behaviour usher matches (reported by HELLO and INFO).
pub const REDIS_VERSION: &str = "7.0.15";

/// ```text
/// PING [message]
/// ```
fn ping(
    s: &mut Session,
    _locked: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    // PING's arity is -1 in the table (as Redis's), and like Redis it checks the upper bound
    // itself.
    if argv.len() > 2 {
        return Err(CmdError::Owned(errors::wrong_arity("ping")));
    }
    if s.in_pubsub_context() {
        out.array(2);
        out.bulk(b"pong");
        out.bulk(argv.get(1).unwrap_or(b""));
        return Ok(());
    }
    match argv.get(1) {
        Some(msg) => out.bulk(msg),
        None => out.simple("PONG"),
    }
    Ok(())
}

/// ```text
/// ECHO message
/// ```
fn echo(
    _s: &mut Session,
    _locked: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    out.bulk(argv.arg(1));
    Ok(())
}

/// Checks `user`/`password` against the ACL users (Redis's `ACLAuthenticateUser`): the user
/// must exist, be on, and have this password or `nopass`. A failure is logged in the ACL log
/// under the command's name as typed (`typed`).
fn authenticate(s: &mut Session, typed: &[u8], user: &[u8], password: &[u8]) -> CmdResult {
    match s.shared.acl.get(user) {
        Some(u) if u.enabled && u.password_ok(password) => {
            s.authenticated = true;
            s.set_user(u);
            Ok(())
        }
        _ => {
            crate::acl::log_auth_failure(s, typed, user);
            Err(CmdError::Static(errors::WRONGPASS))
        }
    }
}

/// ```text
/// AUTH [username] password
/// ```
fn auth(
    s: &mut Session,
    _locked: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    if argv.len() > 3 {
        return Err(CmdError::Syntax);
    }
    if argv.len() == 2 {
        if s.shared.acl.default_user().nopass {
            return Err(CmdError::Static(errors::AUTH_NO_PASSWORD));
        }
        authenticate(s, argv.arg(0), b"default", argv.arg(1))?;
    } else {
        authenticate(s, argv.arg(0), argv.arg(1), argv.arg(2))?;
    }
    out.ok();
    Ok(())
}

/// ```text
/// HELLO [protover [AUTH username password] [SETNAME clientname]]
/// ```
fn hello(
    s: &mut Session,
    _locked: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    let mut version = None;
    let mut next = 1;
    if argv.len() >= 2 {
        let v = usher_protocol::parse::parse_i64(argv.arg(1))
            .ok_or(CmdError::Static(errors::HELLO_PROTO_NOT_INTEGER))?;
        if !(2..=3).contains(&v) {
            return Err(CmdError::Static(errors::NOPROTO));
        }
        version = Some(v);
        next = 2;
    }
    let (mut credentials, mut name) = (None, None);
    let mut j = next;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        let opt = argv.arg(j);
        if is(opt, "AUTH") && more >= 2 {
            credentials = Some((argv.arg(j + 1), argv.arg(j + 2)));
            j += 2;
        } else if is(opt, "SETNAME") && more >= 1 {
            name = Some(argv.arg(j + 1));
            j += 1;
        } else {
            return Err(CmdError::Owned(format!(
                "ERR Syntax error in HELLO option '{}'",
                errors::sanitize(opt, 128)
            )));
        }
        j += 1;
    }
    if let Some((user, password)) = credentials {
        authenticate(s, argv.arg(0), user, password)?;
    }
    if s.auth_required() {
        return Err(CmdError::Static(errors::HELLO_NOAUTH));
    }
    if let Some(name) = name {
        set_name(&s.info, name)?;
    }
    if let Some(v) = version {
        let proto = if v == 3 {
            Protocol::Resp3
        } else {
            Protocol::Resp2
        };
        s.set_protocol(proto);
        out.set_protocol(proto);
    }
    out.map(7);
    out.bulk(b"server");
    out.bulk(b"redis");
    out.bulk(b"version");
    out.bulk(REDIS_VERSION.as_bytes());
    out.bulk(b"proto");
    out.int(if s.resp == Protocol::Resp3 { 3 } else { 2 });
    out.bulk(b"id");
    out.int(s.info.id as i64);
    out.bulk(b"mode");
    out.bulk(b"standalone");
    out.bulk(b"role");
    out.bulk(b"master");
    out.bulk(b"modules");
    out.array(0);
    Ok(())
}

/// ```text
/// SELECT index
/// ```
fn select(
    s: &mut Session,
    _locked: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    let id = usher_engine::cmd::keys::c_int(argv.arg(1))?;
    if s.shared.config.read().cluster_enabled && id != 0 {
        return Err(CmdError::Static(
            "ERR SELECT is not allowed in cluster mode",
        ));
    }
    if id < 0 || id as usize >= s.shared.store.databases() {
        return Err(CmdError::Static(errors::DB_INDEX_OUT_OF_RANGE));
    }
    s.set_db(id as usize);
    out.ok();
    Ok(())
}

/// ```text
/// QUIT
/// ```
fn quit(
    s: &mut Session,
    _locked: &mut LockedShards,
    _argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    s.close_after_reply = true;
    out.ok();
    Ok(())
}

/// ```text
/// RESET
/// ```
/// Back to a fresh connection's state: MULTI discarded, WATCHes dropped, subscriptions left,
/// db 0, RESP2, name cleared, reply mode on; authentication is dropped when a password is set.
fn reset(
    s: &mut Session,
    _locked: &mut LockedShards,
    _argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    s.multi = None;
    s.info.set_flag(flag::MULTI, false);
    s.info.multi_len.store(-1, Ordering::Relaxed);
    s.info.multi_mem.store(0, Ordering::Relaxed);
    s.unwatch_all();
    s.unsubscribe_all();
    s.stop_tracking();
    s.shared.monitors.remove(s.info.id);
    s.info.set_flag(crate::client::flag::MONITOR, false);
    s.set_db(0);
    s.set_protocol(Protocol::Resp2);
    out.set_protocol(Protocol::Resp2);
    *s.info.name.lock() = None;
    s.reply_mode = ReplyMode::On;
    s.asking = false;
    s.info.set_flag(flag::NO_EVICT, false);
    s.info.set_flag(flag::NO_TOUCH, false);
    // Back to the default user: authenticated only if it needs no password (Redis's
    // clearClientConnectionState).
    let default = s.shared.acl.default_user();
    s.authenticated = default.enabled && default.nopass;
    s.set_user(default);
    out.simple("RESET");
    Ok(())
}

/// Redis's `clientSetName` validation: printable ASCII without spaces; empty clears the name.
fn set_name(info: &ClientInfo, name: &[u8]) -> CmdResult {
    if name.iter().any(|&c| !(b'!'..=b'~').contains(&c)) {
        return Err(CmdError::Static(errors::CLIENT_NAME_INVALID));
    }
    *info.name.lock() = (!name.is_empty()).then(|| String::from_utf8_lossy(name).into_owned());
    Ok(())
}

fn client_id(
    s: &mut Session,
    _locked: &mut LockedShards,
    _argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    out.int(s.info.id as i64);
    Ok(())
}

fn client_setname(
    s: &mut Session,
    _locked: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    set_name(&s.info, argv.arg(2))?;
    out.ok();
    Ok(())
}

fn client_getname(
    s: &mut Session,
    _locked: &mut LockedShards,
    _argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    match s.info.name.lock().as_deref() {
        Some(name) => out.bulk(name.as_bytes()),
        None => out.null(),
    }
    Ok(())
}

/// ```text
/// CLIENT SETINFO <LIB-NAME libname | LIB-VER libver>
/// ```
/// Redis 7.2's command, accepted so clients that announce themselves on connect (redis-py 5,
/// Jedis 5, go-redis 9) need no option to turn it off.
fn client_setinfo(
    s: &mut Session,
    _locked: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    // Redis 7.2's order: the attribute first, then the value; errors name the attribute as
    // the client spelled it.
    let (attr, value) = (argv.arg(2), argv.arg(3));
    let slot = if is(attr, "LIB-NAME") {
        &s.info.lib_name
    } else if is(attr, "LIB-VER") {
        &s.info.lib_ver
    } else {
        return Err(CmdError::Owned(format!(
            "ERR Unrecognized option '{}'",
            errors::sanitize(attr, 128)
        )));
    };
    if value.iter().any(|&c| !(b'!'..=b'~').contains(&c)) {
        return Err(CmdError::Owned(format!(
            "ERR {} cannot contain spaces, newlines or special characters.",
            errors::sanitize(attr, 128)
        )));
    }
    *slot.lock() = String::from_utf8_lossy(value).into_owned();
    out.ok();
    Ok(())
}

/// One CLIENT LIST line, with Redis's fields in Redis's order.
pub fn client_line(shared: &crate::shared::Shared, c: &ClientInfo, now_ms: i64) -> String {
    client_line_with(shared, c, now_ms, 0)
}

/// [`client_line`] with `argv-mem`: the bytes of the command the client is running (only the
/// caller of CLIENT LIST / INFO runs one while its line is built).
fn client_line_with(
    shared: &crate::shared::Shared,
    c: &ClientInfo,
    now_ms: i64,
    argv_mem: usize,
) -> String {
    let age = (now_ms - c.created_ms).max(0) / 1000;
    let idle = (now_ms - c.last_active_ms.load(Ordering::Relaxed)).max(0) / 1000;
    let last = c.last_cmd.load(Ordering::Relaxed);
    let cmd = if last == u32::MAX {
        "NULL".to_string()
    } else {
        crate::registry::get().get(last).full_name.clone()
    };
    let omem = c.output_bytes();
    format!(
        "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} qbuf={} qbuf-free={} argv-mem={} multi-mem={} rbs={} rbp={} obl=0 oll=0 omem={} tot-mem={} events=r cmd={} user={} redir={} resp={} lib-name={} lib-ver={}",
        c.id,
        c.addr,
        c.laddr,
        c.fd.load(Ordering::Relaxed),
        c.name(),
        age,
        idle,
        c.flag_letters(),
        c.db.load(Ordering::Relaxed),
        c.subscriptions.load(Ordering::Relaxed),
        c.pattern_subscriptions.load(Ordering::Relaxed),
        c.shard_subscriptions.load(Ordering::Relaxed),
        c.multi_len.load(Ordering::Relaxed),
        c.query_buf_bytes.load(Ordering::Relaxed),
        c.query_buf_free.load(Ordering::Relaxed),
        argv_mem,
        c.multi_mem.load(Ordering::Relaxed),
        c.read_buf_size.load(Ordering::Relaxed),
        c.read_buf_peak.load(Ordering::Relaxed),
        omem,
        c.memory() + argv_mem,
        cmd,
        c.authenticated_user.lock(),
        shared.tracking.redirect_of(c.id),
        if c.resp3.load(Ordering::Relaxed) { 3 } else { 2 },
        c.lib_name.lock(),
        c.lib_ver.lock(),
    )
}

/// The bytes of a command's arguments, as Redis's `argv-mem` counts them.
fn argv_bytes(argv: Argv) -> usize {
    argv.iter().map(<[u8]>::len).sum()
}

fn client_type_matches(c: &ClientInfo, ty: &[u8]) -> Result<bool, CmdError> {
    if is(ty, "normal") {
        Ok(!c.has_flag(flag::PUBSUB) && !c.has_flag(flag::REPLICA))
    } else if is(ty, "pubsub") {
        Ok(c.has_flag(flag::PUBSUB))
    } else if is(ty, "replica") || is(ty, "slave") {
        Ok(c.has_flag(flag::REPLICA))
    } else if is(ty, "master") {
        Ok(false)
    } else {
        Err(CmdError::Owned(format!(
            "ERR Unknown client type '{}'",
            errors::sanitize(ty, 128)
        )))
    }
}

/// ```text
/// CLIENT LIST [TYPE <NORMAL | MASTER | REPLICA | PUBSUB>] [ID client-id [client-id ...]]
/// ```
fn client_list(
    s: &mut Session,
    _locked: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    let mut type_filter = None;
    let mut ids: Option<Vec<u64>> = None;
    if argv.len() > 2 {
        if is(argv.arg(2), "TYPE") && argv.len() == 4 {
            type_filter = Some(argv.arg(3));
        } else if is(argv.arg(2), "ID") && argv.len() >= 4 {
            let parsed: Result<Vec<u64>, _> = argv
                .iter()
                .skip(3)
                .map(|a| args::int(a).map(|v| v as u64))
                .collect();
            ids = Some(parsed.map_err(|_| CmdError::Static("ERR Invalid client ID"))?);
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let now = unix_ms();
    let mut text = String::new();
    for c in s.shared.clients.all() {
        if let Some(ty) = type_filter {
            if !client_type_matches(&c, ty)? {
                continue;
            }
        }
        if ids.as_ref().is_some_and(|ids| !ids.contains(&c.id)) {
            continue;
        }
        let argv_mem = if c.id == s.info.id {
            argv_bytes(argv)
        } else {
            0
        };
        text.push_str(&client_line_with(s.shared, &c, now, argv_mem));
        text.push('\n');
    }
    out.verbatim("txt", text.as_bytes());
    Ok(())
}

fn client_info(
    s: &mut Session,
    _locked: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    let mut line = client_line_with(s.shared, &s.info, unix_ms(), argv_bytes(argv));
    line.push('\n');
    out.verbatim("txt", line.as_bytes());
    Ok(())
}

/// ```text
/// CLIENT KILL ip:port
/// CLIENT KILL [ID id] [ADDR ip:port] [LADDR ip:port] [USER name] [TYPE type] [SKIPME yes|no]
/// ```
fn client_kill(
    s: &mut Session,
    _locked: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    let all = s.shared.clients.all();
    if argv.len() == 3 {
        // Old form: one address, an error when nobody matches.
        let target = argv.arg(2);
        let victim = all
            .iter()
            .find(|c| c.addr.as_bytes() == target)
            .ok_or(CmdError::Static("ERR No such client"))?;
        kill(s, victim);
        out.ok();
        return Ok(());
    }
    if !argv.len().is_multiple_of(2) {
        return Err(CmdError::Syntax);
    }
    let mut skip_me = true;
    let mut filters: Vec<(&[u8], &[u8])> = Vec::new();
    for pair in (2..argv.len()).step_by(2) {
        let (opt, val) = (argv.arg(pair), argv.arg(pair + 1));
        if is(opt, "SKIPME") {
            skip_me = if is(val, "yes") {
                true
            } else if is(val, "no") {
                false
            } else {
                return Err(CmdError::Syntax);
            };
        } else if is(opt, "ID") {
            args::int(val)
                .ok()
                .filter(|v| *v > 0)
                .ok_or(CmdError::Static("ERR client-id should be greater than 0"))?;
            filters.push((opt, val));
        } else if is(opt, "TYPE") {
            // Validated while parsing, as Redis does, even if no client is left to match.
            client_type_matches(&s.info, val)?;
            filters.push((opt, val));
        } else if is(opt, "USER") {
            // Redis names a user that does not exist.
            if s.shared.acl.get(val).is_none() {
                return Err(CmdError::Owned(format!(
                    "ERR No such user '{}'",
                    String::from_utf8_lossy(val)
                )));
            }
            filters.push((opt, val));
        } else if is(opt, "ADDR") || is(opt, "LADDR") {
            filters.push((opt, val));
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let mut killed = 0;
    for c in &all {
        if skip_me && c.id == s.info.id {
            continue;
        }
        let mut matched = true;
        for &(opt, val) in &filters {
            matched &= if is(opt, "ID") {
                args::int(val).is_ok_and(|v| v as u64 == c.id)
            } else if is(opt, "ADDR") {
                c.addr.as_bytes() == val
            } else if is(opt, "LADDR") {
                c.laddr.as_bytes() == val
            } else if is(opt, "USER") {
                c.authenticated_user.lock().as_bytes() == val
            } else {
                client_type_matches(c, val)?
            };
        }
        if matched {
            kill(s, c);
            killed += 1;
        }
    }
    out.int(killed);
    Ok(())
}

fn kill(s: &mut Session, victim: &Arc<ClientInfo>) {
    if victim.id == s.info.id {
        s.close_after_reply = true;
    } else {
        victim.request_kill();
    }
}

/// ```text
/// CLIENT REPLY ON | OFF | SKIP
/// ```
fn client_reply(
    s: &mut Session,
    _locked: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    let mode = argv.arg(2);
    if is(mode, "ON") {
        s.reply_mode = ReplyMode::On;
        out.ok();
    } else if is(mode, "OFF") {
        s.reply_mode = ReplyMode::Off;
    } else if is(mode, "SKIP") {
        if s.reply_mode != ReplyMode::Off {
            s.reply_mode = ReplyMode::Skip;
        }
    } else {
        return Err(CmdError::Syntax);
    }
    Ok(())
}

/// ```text
/// CLIENT UNBLOCK client-id [TIMEOUT | ERROR]
/// ```
/// Unblocks a client blocked in BLPOP and friends: it replies as on timeout, or with
/// `-UNBLOCKED` for ERROR. Answers 1 if the client was blocked, else 0.
fn client_unblock(
    s: &mut Session,
    _locked: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    let id = args::int(argv.arg(2))?;
    let kind = match argv.get(3) {
        None => UNBLOCK_TIMEOUT,
        Some(k) if is(k, "TIMEOUT") => UNBLOCK_TIMEOUT,
        Some(k) if is(k, "ERROR") => UNBLOCK_ERROR,
        Some(_) => {
            return Err(CmdError::Static(
                "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR",
            ))
        }
    };
    let target = s
        .shared
        .clients
        .all()
        .into_iter()
        .find(|c| c.id as i64 == id);
    // Redis unblocks at once, so a second CLIENT UNBLOCK, or one after a push served the
    // client, finds it no longer blocked: only the first request on a still-waiting waiter
    // counts, though the connection acts on it a moment later.
    let unblocked = match target {
        Some(c)
            if c.blocked_waiter
                .lock()
                .as_ref()
                .is_some_and(|w| w.is_waiting())
                && c.unblock
                    .compare_exchange(0, kind, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok() =>
        {
            c.wake.notify_one();
            true
        }
        _ => false,
    };
    out.int(unblocked as i64);
    Ok(())
}

/// `ON` or `OFF` (any case), else a syntax error, as Redis's client flag switches.
fn on_off(arg: &[u8]) -> Result<bool, CmdError> {
    if is(arg, "ON") {
        Ok(true)
    } else if is(arg, "OFF") {
        Ok(false)
    } else {
        Err(CmdError::Syntax)
    }
}

/// ```text
/// CLIENT NO-EVICT ON | OFF
/// ```
/// usher never evicts keys; the flag is kept and shown for compatibility.
fn client_no_evict(
    s: &mut Session,
    _locked: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    s.info.set_flag(flag::NO_EVICT, on_off(argv.arg(2))?);
    out.ok();
    Ok(())
}

/// ```text
/// CLIENT NO-TOUCH ON | OFF
/// ```
/// Redis 7.2's: while on, this client's commands leave keys' LRU/LFU data alone, except TOUCH
/// (the dispatcher applies it; see `usher_engine::lfu`).
fn client_no_touch(
    s: &mut Session,
    _locked: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    s.info.set_flag(flag::NO_TOUCH, on_off(argv.arg(2))?);
    out.ok();
    Ok(())
}

/// ```text
/// CLIENT PAUSE timeout [WRITE | ALL]
/// ```
/// Holds every client's commands (ALL, the default) or only those that may write (WRITE) for
/// `timeout` ms; this client's too, as Redis does.
fn client_pause(
    s: &mut Session,
    _: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    let timeout = usher_protocol::parse::parse_i64(argv.arg(2)).ok_or(CmdError::Static(
        "ERR timeout is not an integer or out of range",
    ))?;
    if timeout < 0 {
        return Err(CmdError::Static("ERR timeout is negative"));
    }
    let all = match argv.get(3) {
        None => true,
        Some(m) if m.eq_ignore_ascii_case(b"ALL") && argv.len() == 4 => true,
        Some(m) if m.eq_ignore_ascii_case(b"WRITE") && argv.len() == 4 => false,
        Some(_) => {
            return Err(CmdError::Static(
                "ERR CLIENT PAUSE mode must be WRITE or ALL",
            ))
        }
    };
    s.shared
        .pause
        .pause(crate::shared::unix_ms().saturating_add(timeout), all);
    out.ok();
    Ok(())
}

/// ```text
/// CLIENT UNPAUSE
/// ```
fn client_unpause(
    s: &mut Session,
    _: &mut LockedShards,
    _: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    s.shared.pause.unpause();
    out.ok();
    Ok(())
}

const CLIENT_HELP: &[&str] = &[
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CACHING (YES|NO)",
    "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
    "GETREDIR",
    "    Return the client ID we are redirecting to when tracking is enabled.",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Kill connections by type.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "UNPAUSE",
    "    Stop the current client pause, resuming traffic.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Suspend all, or just write, clients for <timeout> milliseconds.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Unblock the specified blocked client.",
    "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
    "         [OPTIN] [OPTOUT] [NOLOOP]",
    "    Control server assisted client side caching.",
    "TRACKINGINFO",
    "    Report tracking status for the current connection.",
    "SETINFO <option> <value>",
    "    Set client meta attr. Options are:",
    "    * LIB-NAME: the client lib name.",
    "    * LIB-VER: the client lib version.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
    "NO-TOUCH (ON|OFF)",
    "    Will not touch LRU/LFU stats when this mode is on.",
    "HELP",
    "    Prints this help.",
];

fn client_help(
    _s: &mut Session,
    _locked: &mut LockedShards,
    _argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    write_help(out, CLIENT_HELP);
    Ok(())
}

const CONN: Flags = Flags::NOSCRIPT.union(Flags::LOADING).union(Flags::STALE);

const CLIENT_SUBCOMMANDS: &[ServerSpec] = &[
    cmd("ID", 2, CONN, client_id as ServerHandler).doc(
        Group::Connection,
        "5.0.0",
        "Returns the unique client ID of the connection.",
        "O(1)",
    ),
    cmd("SETNAME", 3, CONN, client_setname as ServerHandler).doc(
        Group::Connection,
        "2.6.9",
        "Sets the connection name.",
        "O(1)",
    ),
    cmd("GETNAME", 2, CONN, client_getname as ServerHandler).doc(
        Group::Connection,
        "2.6.9",
        "Returns the name of the connection.",
        "O(1)",
    ),
    cmd("SETINFO", 4, CONN, client_setinfo as ServerHandler).doc(
        Group::Connection,
        "7.2.0",
        "Sets information specific to the client or connection.",
        "O(1)",
    ),
    cmd(
        "LIST",
        -2,
        Flags::ADMIN.union(CONN),
        client_list as ServerHandler,
    )
    .doc(
        Group::Connection,
        "2.4.0",
        "Lists open connections.",
        "O(N) where N is the number of client connections",
    ),
    cmd("INFO", 2, CONN, client_info as ServerHandler).doc(
        Group::Connection,
        "6.2.0",
        "Returns information about the connection.",
        "O(1)",
    ),
    cmd(
        "KILL",
        -3,
        Flags::ADMIN.union(CONN),
        client_kill as ServerHandler,
    )
    .doc(
        Group::Connection,
        "2.4.0",
        "Terminates open connections.",
        "O(N) where N is the number of client connections",
    ),
    cmd("REPLY", 3, CONN, client_reply as ServerHandler).doc(
        Group::Connection,
        "3.2.0",
        "Instructs the server whether to reply to commands.",
        "O(1)",
    ),
    cmd(
        "PAUSE",
        -3,
        Flags::ADMIN.union(CONN),
        client_pause as ServerHandler,
    )
    .doc(
        Group::Connection,
        "2.9.50",
        "Suspends commands processing.",
        "O(1)",
    ),
    cmd(
        "UNPAUSE",
        2,
        Flags::ADMIN.union(CONN),
        client_unpause as ServerHandler,
    )
    .doc(
        Group::Connection,
        "6.2.0",
        "Resumes processing commands from paused clients.",
        "O(N) Where N is the number of paused clients",
    ),
    cmd(
        "UNBLOCK",
        -3,
        Flags::ADMIN.union(CONN),
        client_unblock as ServerHandler,
    )
    .doc(
        Group::Connection,
        "5.0.0",
        "Unblocks a client blocked by a blocking command from a different connection.",
        "O(log N) where N is the number of client connections",
    ),
    cmd(
        "NO-EVICT",
        3,
        Flags::ADMIN.union(CONN),
        client_no_evict as ServerHandler,
    )
    .doc(
        Group::Connection,
        "7.0.0",
        "Sets the client eviction mode of the connection.",
        "O(1)",
    ),
    cmd("NO-TOUCH", 3, CONN, client_no_touch as ServerHandler).doc(
        Group::Connection,
        "7.2.0",
        "Controls whether commands sent by the client affect the LRU/LFU of accessed keys.",
        "O(1)",
    ),
    cmd(
        "TRACKING",
        -3,
        CONN,
        crate::tracking::client_tracking as ServerHandler,
    )
    .doc(
        Group::Connection,
        "6.0.0",
        "Controls server-assisted client-side caching for the connection.",
        "O(1). Some options may introduce additional complexity.",
    ),
    cmd(
        "TRACKINGINFO",
        2,
        CONN,
        crate::tracking::client_trackinginfo as ServerHandler,
    )
    .doc(
        Group::Connection,
        "6.2.0",
        "Returns information about server-assisted client-side caching for the connection.",
        "O(1)",
    ),
    cmd(
        "GETREDIR",
        2,
        CONN,
        crate::tracking::client_getredir as ServerHandler,
    )
    .doc(
        Group::Connection,
        "6.0.0",
        "Returns the client ID to which the connection's tracking notifications are redirected.",
        "O(1)",
    ),
    cmd(
        "CACHING",
        3,
        CONN,
        crate::tracking::client_caching as ServerHandler,
    )
    .doc(
        Group::Connection,
        "6.0.0",
        "Instructs the server whether to track the keys in the next request.",
        "O(1)",
    ),
    cmd(
        "HELP",
        2,
        Flags::LOADING.union(Flags::STALE),
        client_help as ServerHandler,
    )
    .doc(
        Group::Connection,
        "5.0.0",
        "Returns helpful text about the different subcommands.",
        "O(1)",
    ),
];

pub static COMMANDS: &[ServerSpec] = &[
    cmd("PING", -1, Flags::FAST, ping as ServerHandler).doc(
        Group::Connection,
        "1.0.0",
        "Returns the server's liveliness response.",
        "O(1)",
    ),
    cmd(
        "ECHO",
        2,
        Flags::FAST.union(Flags::LOADING).union(Flags::STALE),
        echo as ServerHandler,
    )
    .doc(
        Group::Connection,
        "1.0.0",
        "Returns the given string.",
        "O(1)",
    ),
    cmd(
        "AUTH",
        -2,
        CONN.union(Flags::FAST)
            .union(Flags::NO_AUTH)
            .union(Flags::ALLOW_BUSY),
        auth as ServerHandler,
    )
    .doc(
        Group::Connection,
        "1.0.0",
        "Authenticates the connection.",
        "O(N) where N is the number of passwords defined for the user",
    ),
    cmd(
        "HELLO",
        -1,
        CONN.union(Flags::FAST)
            .union(Flags::NO_AUTH)
            .union(Flags::ALLOW_BUSY),
        hello as ServerHandler,
    )
    .doc(
        Group::Connection,
        "6.0.0",
        "Handshakes with the Redis server.",
        "O(1)",
    ),
    cmd(
        "SELECT",
        2,
        Flags::LOADING.union(Flags::STALE).union(Flags::FAST),
        select as ServerHandler,
    )
    .doc(
        Group::Connection,
        "1.0.0",
        "Changes the selected database.",
        "O(1)",
    ),
    cmd(
        "QUIT",
        -1,
        CONN.union(Flags::FAST)
            .union(Flags::NO_AUTH)
            .union(Flags::ALLOW_BUSY),
        quit as ServerHandler,
    )
    .doc(Group::Connection, "1.0.0", "Closes the connection.", "O(1)"),
    cmd(
        "RESET",
        1,
        CONN.union(Flags::FAST)
            .union(Flags::NO_AUTH)
            .union(Flags::ALLOW_BUSY),
        reset as ServerHandler,
    )
    .doc(Group::Connection, "6.2.0", "Resets the connection.", "O(1)"),
    container("CLIENT", CLIENT_SUBCOMMANDS).doc(
        Group::Connection,
        "2.4.0",
        "A container for client connection commands.",
        "Depends on subcommand.",
    ),
];
