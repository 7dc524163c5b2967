//! An in-process usher for the fuzz targets in `fuzz/` and for the tests that pin what they
//! found: the real command registry, dispatch gate, loaders and Lua engine on one
//! process-wide [`Shared`], driven by client sessions without sockets, the way the AOF loader
//! drives its replay session. Nothing is mocked; what is left out is what needs a socket, a
//! thread of the runtime or the file system outside a scratch folder (see [`outside`]).
//!
//! Every reply is held to [`wellformed`]: one complete RESP value per command (none under
//! CLIENT REPLY OFF, one push per channel for the subscribe family), well-formed in the
//! client's protocol; messages queued for other clients (pub/sub, MONITOR, invalidations) must
//! be well-formed too. A malformed reply panics, which is how a fuzz target reports it.
//!
//! There is one server per process, so one [`Instance`] exists at a time (others wait); each
//! new one starts from an empty server: data, scripts, functions, users, logs, pause and
//! configuration are put back as they were (statistics are not: resetting them costs more
//! than a typical input, and no reply's shape depends on them).

#[cfg(test)]
mod seeds;
pub mod targets;
mod walk;
pub mod wellformed;

use crate::config::{self, Config};
use crate::session::{ReplyMode, Session};
use crate::shared::{unix_ms, Shared};
use parking_lot::{Mutex, MutexGuard};
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use usher_protocol::{Argv, Protocol, ReplySink, RespWriter};
pub use wellformed::Value;

/// The server every instance runs on, and the configuration it is put back to.
struct Server {
    shared: &'static Shared,
    base: Config,
    dir: std::path::PathBuf,
}

fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("usher-harness-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the harness's scratch folder");
        // One thread's worth of stats, four shards so that multi-key commands cross shards,
        // DEBUG as Redis ships it (refused), nothing saved unless asked, and strings bounded
        // at 1 MB (Redis's proto-max-bulk-len, at its minimum) so that SETRANGE or SETBIT at a
        // huge offset is refused rather than allocating half a gigabyte per input.
        let text = format!(
            "threads 1\nshards 4\nsave \"\"\nappendonly no\nloglevel warning\n\
             proto-max-bulk-len 1mb\ntoken-secret harness-secret\ndir \"{}\"\n",
            dir.display()
        );
        let mut base = Config::default();
        config::load_text(&mut base, &text).expect("the harness's configuration loads");
        let mut engine_families = usher_engine::cmd::families();
        engine_families.push(usher_persist::commands::COMMANDS);
        engine_families.push(usher_persist::migrate::COMMANDS);
        let registry = crate::registry::init(&engine_families, &crate::cmd::families());
        let acl = crate::acl::Acl::new(registry, &base);
        let shared: &'static Shared = Box::leak(Box::new(Shared::new(
            base.clone(),
            registry.command_count(),
            acl,
        )));
        crate::log::set_level(base.loglevel);
        usher_persist::set_compression(base.rdbcompression);
        usher_engine::lfu::configure(&base.engine.lfu);
        Server { shared, base, dir }
    })
}

/// Commands an instance does not run, with why: they act outside it.
/// SHUTDOWN ends the process; REPLICAOF, SLAVEOF, SYNC and PSYNC open or become replication
/// links; MIGRATE connects to another server; SAVE, BGSAVE and BGREWRITEAOF write files (their loaders are fuzzed instead); CONFIG
/// REWRITE writes the config file; CONFIG SET of a path, a port, the AOF or TLS files or the
/// log reaches the file system or sockets (every other directive may be set; the
/// configuration is put back for the next instance).
pub fn outside(args: &[&[u8]]) -> bool {
    let Some(name) = args.first() else {
        return false;
    };
    let is = |n: &str| name.eq_ignore_ascii_case(n.as_bytes());
    if [
        "SHUTDOWN",
        "REPLICAOF",
        "SLAVEOF",
        "SYNC",
        "PSYNC",
        "MIGRATE",
        "SAVE",
        "BGSAVE",
        "BGREWRITEAOF",
    ]
    .iter()
    .any(|n| is(n))
    {
        return true;
    }
    if !is("CONFIG") || args.len() < 2 {
        return false;
    }
    let sub = args[1];
    if sub.eq_ignore_ascii_case(b"REWRITE") {
        return true;
    }
    sub.eq_ignore_ascii_case(b"SET")
        && args[2..].iter().step_by(2).any(|name| {
            config::find(&String::from_utf8_lossy(name)).is_some_and(|d| {
                const REACHING_OUT: &[&str] = &[
                    "dir",
                    "dbfilename",
                    "logfile",
                    "pidfile",
                    "aclfile",
                    "appendonly",
                    "appendfilename",
                    "appenddirname",
                    "save",
                    "port",
                    "bind",
                    "metrics-port",
                    "replicaof",
                ];
                REACHING_OUT.contains(&d.name) || d.name.starts_with("tls-")
            })
        })
}

/// Whether a command asks for a reply whose size its data does not bound: SRANDMEMBER,
/// HRANDFIELD and ZRANDMEMBER with a negative count repeat members that many times, as in
/// Redis (`SRANDMEMBER s -1000000000` answers a billion elements). Such a count is fine on a
/// server and a time and memory sink in a fuzz input, so the instance skips counts past
/// -10000 (the replies' shape is the same at any count).
fn unbounded_reply(args: &[&[u8]]) -> bool {
    let random_members = ["SRANDMEMBER", "HRANDFIELD", "ZRANDMEMBER"]
        .iter()
        .any(|n| args[0].eq_ignore_ascii_case(n.as_bytes()));
    random_members
        && args.get(2).is_some_and(|count| {
            std::str::from_utf8(count)
                .ok()
                .and_then(|c| c.parse::<i64>().ok())
                .is_some_and(|c| c < -10_000)
        })
}

/// A client of the instance: its session, and whether it ever spoke RESP3 (its queued
/// messages may be in either protocol).
struct Client {
    s: Session,
    resp3_seen: bool,
}

impl Client {
    fn open(shared: &'static Shared) -> Client {
        let id = shared.clients.next_id();
        let info = Arc::new(crate::client::ClientInfo::new(
            id,
            format!("127.0.0.1:{}", 10000 + id % 50000),
            "127.0.0.1:6379".into(),
            unix_ms(),
        ));
        // Registered like a connection, so CLIENT LIST / KILL / INFO see it.
        let registered = shared.clients.try_register(info.clone(), usize::MAX);
        assert!(registered);
        let stats = shared.thread_stats[0].clone();
        Client {
            s: Session::new(shared, info, stats),
            resp3_seen: false,
        }
    }
}

impl Drop for Client {
    /// What a connection does when it closes.
    fn drop(&mut self) {
        let s = &mut self.s;
        crate::blocked::on_close(s);
        s.unwatch_all();
        s.unsubscribe_all();
        s.stop_tracking();
        s.shared.monitors.remove(s.info.id);
        s.shared.clients.unregister(s.info.id);
    }
}

/// An empty server and its clients. See the module's documentation.
pub struct Instance {
    shared: &'static Shared,
    clients: Vec<Client>,
    _one_at_a_time: MutexGuard<'static, ()>,
}

static IN_USE: Mutex<()> = Mutex::new(());

impl Instance {
    /// An empty server with `clients` fresh client connections (at least one).
    pub fn new(clients: usize) -> Instance {
        let guard = IN_USE.lock();
        let srv = server();
        let shared = srv.shared;
        watchdog::start();
        shared.update_config(|c| *c = srv.base.clone());
        let mut admin = Admin::open(shared);
        for cmd in [
            &["CLIENT", "UNPAUSE"][..],
            &["FLUSHALL", "SYNC"],
            &["SCRIPT", "FLUSH", "SYNC"],
            &["FUNCTION", "FLUSH", "SYNC"],
            &[
                "ACL", "SETUSER", "default", "reset", "on", "nopass", "~*", "&*", "+@all",
            ],
            &["ACL", "LOG", "RESET"],
            &["SLOWLOG", "RESET"],
            &["LATENCY", "RESET"],
        ] {
            let reply = admin.run(cmd);
            assert!(
                !reply.is_error(),
                "resetting the server: {cmd:?} gave {reply:?}"
            );
        }
        if let Value::Array(users) = admin.run(&["ACL", "USERS"]) {
            for user in users {
                if let Value::Bulk(name) = user {
                    if name != b"default" {
                        admin.run_bytes(&[b"ACL", b"DELUSER", &name]);
                    }
                }
            }
        }
        drop(admin);
        let _ = std::fs::remove_dir_all(srv.dir.join(&srv.base.appenddirname));
        let clients = (0..clients.max(1)).map(|_| Client::open(shared)).collect();
        Instance {
            shared,
            clients,
            _one_at_a_time: guard,
        }
    }

    /// The server this instance runs on (for the crate's own tests).
    #[cfg(test)]
    pub(crate) fn shared(&self) -> &'static Shared {
        self.shared
    }

    /// Runs one command as client `client` (modulo the number of clients) and returns its
    /// reply: `None` for a command [`outside`] the instance, one with an unbounded reply (see
    /// `unbounded_reply`) or one that sent no reply (CLIENT REPLY OFF), the last value for the
    /// subscribe family. Panics on a malformed reply.
    pub fn run(&mut self, client: usize, args: &[&[u8]]) -> Option<Value> {
        if args.is_empty() || outside(args) || unbounded_reply(args) {
            return None;
        }
        let i = client % self.clients.len();
        let shared = self.shared;
        if self.clients[i].s.info.killed() {
            // Killed by the other client (CLIENT KILL): its connection is gone; reconnect.
            self.clients[i] = Client::open(shared);
        }
        let c = &mut self.clients[i];
        let (buf, spans) = pack(args);
        let argv = Argv::new(&buf, &spans);
        let proto_before = c.s.resp;
        let mode_before = c.s.reply_mode;
        let mut out = Vec::new();
        {
            let s = &mut c.s;
            s.now_ms = unix_ms();
            s.last_command_end = None;
            s.refresh_config();
            let _running = watchdog::Guard::arm();
            let mut w = RespWriter::new(&mut out, s.resp);
            crate::dispatch::dispatch(s, argv, &mut w);
            // A blocking command that found nothing waits in a real connection; here its
            // timeout comes at once, with the timeout reply.
            if s.blocked.is_some() {
                crate::blocked::on_timeout(s, &mut w);
            }
            // WAIT with no replicas answers 0 once its timeout passes; SYNC and PSYNC are
            // outside.
            if let Some(crate::replication::Pending::Wait { .. }) = s.repl.take() {
                RespWriter::new(&mut out, s.resp).int(0);
            }
        }
        c.resp3_seen |= c.s.resp == Protocol::Resp3;
        let resp3 = proto_before == Protocol::Resp3 || c.s.resp == Protocol::Resp3;
        let values = wellformed::read_all(&out, resp3)
            .unwrap_or_else(|e| panic!("malformed reply to {}: {e}", show(args)));
        check_count(args, &values, mode_before, c.s.reply_mode);
        let closed = c.s.close_after_reply || c.s.info.killed();
        self.check_queued_messages();
        if closed {
            // QUIT, CLIENT KILL of itself: the connection closes; a new one takes its place.
            self.clients[i] = Client::open(shared);
        }
        values.into_iter().last()
    }

    /// Messages queued for any client (pub/sub, MONITOR, tracking) must be well-formed.
    fn check_queued_messages(&mut self) {
        for c in &mut self.clients {
            let mut queued = Vec::new();
            c.s.info.drain_outbox(&mut queued);
            if let Err(e) = wellformed::read_all(&queued, c.resp3_seen) {
                panic!("malformed message queued for a client: {e}");
            }
        }
    }

    /// Loads an RDB file as start-up does (keys expired by now are skipped), then re-registers
    /// the waiting-room policies it holds. `Err` is the start-up error.
    pub fn load_rdb(&mut self, bytes: &[u8]) -> Result<u64, String> {
        let now = unix_ms();
        let path = std::path::Path::new("dump.rdb");
        let (keys, policies) = crate::persistence::load_rdb_bytes(self.shared, bytes, path, now)?;
        crate::persistence::adopt_policies(self.shared, policies, now);
        Ok(keys)
    }

    /// Loads `incr` as the only incremental file of an AOF, as start-up does (with
    /// `aof-load-truncated yes`, a torn last command is cut off). Returns the commands run.
    /// `Err` is the start-up error, or says that the file names a command [`outside`] the
    /// instance (such a file is not run at all).
    pub fn load_aof(&mut self, incr: &[u8]) -> Result<u64, String> {
        if let Some(name) = aof_outside(incr) {
            return Err(format!("not run: the file runs {name}"));
        }
        let srv = server();
        let dir = srv.dir.join(&srv.base.appenddirname);
        let prefix = &srv.base.appendfilename;
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let name = format!("{prefix}.1.incr.aof");
        std::fs::write(dir.join(&name), incr).map_err(|e| e.to_string())?;
        std::fs::write(
            dir.join(format!("{prefix}.manifest")),
            format!("file {name} seq 1 type i\n"),
        )
        .map_err(|e| e.to_string())?;
        let loaded = {
            let _running = watchdog::Guard::arm();
            crate::persistence::aof::load(self.shared)?
        };
        crate::persistence::adopt_policies(self.shared, loaded.policies, unix_ms());
        Ok(loaded.commands)
    }

    /// Reads every key of every database back with the commands of its type, and checks that
    /// they agree (a list's LLEN is its LRANGE's length, a DUMP restores to the same DUMP,
    /// ...). A loader that accepts a value it cannot serve fails here.
    pub fn check_keyspace(&mut self) {
        let mut admin = Admin::open(self.shared);
        walk::every_key(&mut admin);
        drop(admin);
        self.check_queued_messages();
    }
}

/// An internal client that may run anything (the harness's own resets and checks), whatever
/// the users a fuzz input created. Its replies are checked like any client's.
struct Admin(Client);

impl Admin {
    fn open(shared: &'static Shared) -> Admin {
        Admin(Client::open(shared))
    }

    fn run(&mut self, args: &[&str]) -> Value {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        self.run_bytes(&args)
    }

    fn run_bytes(&mut self, args: &[&[u8]]) -> Value {
        let s = &mut self.0.s;
        s.refresh_config();
        s.authenticated = true;
        s.acl_free = true;
        s.now_ms = unix_ms();
        s.last_command_end = None;
        let (buf, spans) = pack(args);
        let mut out = Vec::new();
        {
            let _running = watchdog::Guard::arm();
            let mut w = RespWriter::new(&mut out, s.resp);
            crate::dispatch::dispatch(s, Argv::new(&buf, &spans), &mut w);
        }
        let mut values = wellformed::read_all(&out, false)
            .unwrap_or_else(|e| panic!("malformed reply to {}: {e}", show(args)));
        assert_eq!(values.len(), 1, "{} gave {values:?}", show(args));
        values.pop().expect("one value")
    }
}

/// The first command of an AOF file that is [`outside`] the instance, or DEBUG (which the
/// loader runs without the gate's `enable-debug-command` check). Reads the file as the loader
/// does: `#` annotation lines, then RESP commands, up to the first unreadable byte.
fn aof_outside(buf: &[u8]) -> Option<String> {
    let mut at = 0;
    while at < buf.len() {
        if buf[at] == b'#' {
            at += buf[at..].iter().position(|&b| b == b'\n')? + 1;
            continue;
        }
        let (spans, end) = usher_persist::aof::read_command(buf, at).ok()?;
        let args: Vec<&[u8]> = spans.iter().map(|&(s, e)| &buf[s..e]).collect();
        if outside(&args) || args[0].eq_ignore_ascii_case(b"DEBUG") {
            return Some(String::from_utf8_lossy(args[0]).into_owned());
        }
        at = end;
    }
    None
}

/// The number of replies a command must produce: one, except that the subscribe family
/// answers once per channel (at least once), and CLIENT REPLY OFF / SKIP silence replies.
fn check_count(args: &[&[u8]], values: &[Value], before: ReplyMode, after: ReplyMode) {
    let name = args[0].to_ascii_uppercase();
    let subscribe_family = matches!(
        &name[..],
        b"SUBSCRIBE"
            | b"PSUBSCRIBE"
            | b"SSUBSCRIBE"
            | b"UNSUBSCRIBE"
            | b"PUNSUBSCRIBE"
            | b"SUNSUBSCRIBE"
    );
    let replies = values
        .iter()
        .filter(|v| !matches!(v, Value::Push(_)))
        .count();
    let silenced = before != ReplyMode::On || after != ReplyMode::On;
    let ok = if subscribe_family {
        !values.is_empty() || silenced
    } else if silenced {
        replies <= 1
    } else {
        replies == 1
    };
    assert!(
        ok,
        "{} gave {} replies: {values:?}",
        show(args),
        values.len()
    );
}

/// Arguments laid out as a parsed request's: one buffer and the span of each argument.
fn pack(args: &[&[u8]]) -> (Vec<u8>, Vec<(usize, usize)>) {
    let mut buf = Vec::with_capacity(args.iter().map(|a| a.len()).sum());
    let mut spans = Vec::with_capacity(args.len());
    for a in args {
        spans.push((buf.len(), buf.len() + a.len()));
        buf.extend_from_slice(a);
    }
    (buf, spans)
}

fn show(args: &[&[u8]]) -> String {
    let words: Vec<String> = args
        .iter()
        .map(|a| format!("{:?}", String::from_utf8_lossy(a)))
        .collect();
    words.join(" ")
}

/// Loads redis.conf text as start-up does, and checks that what CONFIG REWRITE would write
/// for it loads back to the same values. `Err` is the start-up error for a
/// refused file; a rewrite that does not load back panics.
pub fn check_config(text: &str) -> Result<(), String> {
    let mut loaded = Config::default();
    config::load_text(&mut loaded, text).map_err(|e| e.to_string())?;
    let rewritten = config::rewrite_lines(text, &loaded).join("\n") + "\n";
    let mut again = Config::default();
    if let Err(e) = config::load_text(&mut again, &rewritten) {
        panic!("CONFIG REWRITE's output does not load: {e}");
    }
    for d in config::all() {
        let (was, now) = (d.show(&loaded), d.show(&again));
        if d.multi_arg {
            // A list of words (`bind`, `save`): shown joined by spaces, read back split on
            // whitespace, so the words are what must survive.
            let words = |v: &str| v.split_whitespace().map(str::to_string).collect::<Vec<_>>();
            assert_eq!(
                words(&was),
                words(&now),
                "{} changed through CONFIG REWRITE",
                d.name
            );
        } else {
            assert_eq!(was, now, "{} changed through CONFIG REWRITE", d.name);
        }
    }
    Ok(())
}

/// Stops a script that runs too long: the fuzz targets' scripts may loop forever, and a
/// script that wrote cannot be killed with SCRIPT KILL. Past `LIMIT` the watchdog raises
/// the flag SHUTDOWN raises, which every script checks; the next command lowers it.
mod watchdog {
    use super::*;

    /// Short, since an input may run dozens of scripts and must stay well inside libFuzzer's
    /// per-input timeout.
    const LIMIT: Duration = Duration::from_millis(200);

    /// When the running command started, if one is running.
    static RUNNING: Mutex<Option<Instant>> = Mutex::new(None);

    pub fn start() {
        static STARTED: OnceLock<()> = OnceLock::new();
        STARTED.get_or_init(|| {
            std::thread::Builder::new()
                .name("usher-harness-watchdog".into())
                .spawn(|| loop {
                    std::thread::sleep(LIMIT / 10);
                    let running = RUNNING.lock();
                    if running.is_some_and(|t| t.elapsed() > LIMIT) {
                        usher_lua::engine::ABORT_ALL.store(true, Ordering::Relaxed);
                    }
                })
                .expect("spawn the harness's watchdog");
        });
    }

    /// Watches one command while it lives.
    pub struct Guard;

    impl Guard {
        pub fn arm() -> Guard {
            let mut running = RUNNING.lock();
            usher_lua::engine::ABORT_ALL.store(false, Ordering::Relaxed);
            *running = Some(Instant::now());
            Guard
        }
    }

    impl Drop for Guard {
        fn drop(&mut self) {
            let mut running = RUNNING.lock();
            *running = None;
            usher_lua::engine::ABORT_ALL.store(false, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(i: &mut Instance, args: &[&str]) -> Option<Value> {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        i.run(0, &args)
    }

    #[test]
    fn each_instance_starts_empty() {
        let mut i = Instance::new(1);
        assert_eq!(
            run(&mut i, &["SET", "k", "v"]),
            Some(Value::Simple(b"OK".to_vec()))
        );
        assert_eq!(
            run(&mut i, &["ACL", "SETUSER", "u", "on"]),
            Some(Value::Simple(b"OK".to_vec()))
        );
        drop(i);
        let mut i = Instance::new(1);
        assert_eq!(run(&mut i, &["DBSIZE"]), Some(Value::Int(0)));
        assert_eq!(
            run(&mut i, &["ACL", "USERS"]),
            Some(Value::Array(vec![Value::Bulk(b"default".to_vec())]))
        );
    }

    #[test]
    fn commands_outside_the_instance_are_not_run() {
        let mut i = Instance::new(1);
        assert_eq!(run(&mut i, &["SHUTDOWN", "NOSAVE"]), None);
        assert_eq!(run(&mut i, &["SRANDMEMBER", "s", "-1000000000"]), None);
        assert!(run(&mut i, &["SRANDMEMBER", "s", "-10"]).is_some());
        assert_eq!(
            run(&mut i, &["config", "set", "maxmemory", "1", "DIR", "/"]),
            None
        );
        assert!(run(
            &mut i,
            &["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"]
        )
        .is_some());
    }

    #[test]
    fn blocking_and_silenced_commands_keep_the_count() {
        let mut i = Instance::new(2);
        assert_eq!(run(&mut i, &["BLPOP", "q", "0"]), Some(Value::Null));
        assert_eq!(run(&mut i, &["CLIENT", "REPLY", "OFF"]), None);
        assert_eq!(run(&mut i, &["PING"]), None);
        assert!(run(&mut i, &["HELLO", "3"]).is_none());
        // Subscription confirmations are pushes: REPLY OFF does not hold them back.
        assert!(run(&mut i, &["SUBSCRIBE", "a", "b"]).is_some());
        assert_eq!(
            run(&mut i, &["CLIENT", "REPLY", "ON"]),
            Some(Value::Simple(b"OK".to_vec()))
        );
        assert!(i.run(1, &[b"PUBLISH", b"a", b"m"]).is_some());
    }

    #[test]
    fn a_runaway_script_is_stopped() {
        let mut i = Instance::new(1);
        let reply = run(
            &mut i,
            &["EVAL", "redis.call('SET','k','v') while true do end", "0"],
        );
        assert!(reply.is_some_and(|v| v.is_error()));
    }

    #[test]
    fn loaded_keys_are_read_back() {
        let mut i = Instance::new(1);
        let aof = b"*3\r\n$5\r\nRPUSH\r\n$1\r\nl\r\n$1\r\na\r\n*4\r\n$4\r\nHSET\r\n$1\r\nh\r\n$1\r\nf\r\n$1\r\nv\r\n";
        assert_eq!(i.load_aof(aof), Ok(2));
        i.check_keyspace();
        assert!(i.load_aof(b"*1\r\n$8\r\nSHUTDOWN\r\n").is_err());
    }

    /// Fuzz finding (aof_load, `finding-short-command`): a logged command with too few
    /// arguments reached its handler (the loader has no gate) and panicked the loader.
    #[test]
    fn a_logged_command_of_the_wrong_arity_stops_the_load() {
        let mut i = Instance::new(1);
        let err = i
            .load_aof(b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$3\r\nSET\r\n$1\r\nk\r\n")
            .unwrap_err();
        assert!(
            err.starts_with("Wrong number of arguments reading the append only file")
                && err.ends_with("at offset 27. Refusing to start; check it with redis-check-aof."),
            "{err}"
        );
    }

    #[test]
    fn config_text_survives_its_rewrite() {
        assert_eq!(check_config("maxmemory 10mb\nsave \"3600 1\"\n"), Ok(()));
        assert!(check_config("maxmemory lots\n").is_err());
        // Fuzz finding (config_file): a value with a quote, a backslash, a newline or a
        // control byte was written bare or half-quoted, and the rewritten file did not load.
        assert_eq!(
            check_config("requirepass \"a \\\"b\\\\c\\nd\\x01\"\nmasteruser 'x y'\n"),
            Ok(())
        );
    }
}
