//! MIGRATE and RESTORE-ASKING: keys moved to another server as DUMP payloads, the way Redis
//! Cluster moves a slot's keys (`redis-cli --cluster reshard` sends MIGRATE to the source).
//!
//! MIGRATE runs under its keys' shard locks from the first look-up to the last delete, so no
//! write can land on a key between its DUMP here and its RESTORE there (Redis gets the same by
//! blocking the whole server). The cost is Redis's too: those shards wait for the round trip to
//! the target, bounded by the command's timeout. The connection to each target is kept for
//! ten seconds and reused, as Redis's `migrateGetSocket` cache.
//!
//! Keys the target acknowledged are deleted here (unless `COPY`) and logged as one `DEL`, as
//! Redis propagates MIGRATE. In cluster mode the target gets `RESTORE-ASKING`, which it serves
//! for a slot it is importing.

use crate::rdb::{self, WriteOptions};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};
use usher_engine::args::is;
use usher_engine::command::{cmd, CommandSpec, EngineHandler, Flags, Group, KeyPositions};
use usher_engine::ctx::ExecCtx;
use usher_engine::error::{CmdError, CmdResult};
use usher_engine::keyspace_events;
use usher_protocol::parse::parse_i64;
use usher_protocol::{Argv, ReplySink};

/// An idle connection to a target is closed after this long (Redis's
/// `MIGRATE_SOCKET_CACHE_TTL`).
const SOCKET_TTL: Duration = Duration::from_secs(10);

struct Cached {
    stream: TcpStream,
    /// The database the connection has SELECTed, so the next MIGRATE to it can skip SELECT.
    db: Option<i64>,
    used: Instant,
}

/// Connections to targets, by `host:port`. A MIGRATE takes its connection out while it uses it,
/// so two MIGRATEs to one target never share a socket.
static SOCKETS: Mutex<Option<HashMap<String, Cached>>> = Mutex::new(None);

/// Whether the cluster mode is on: the target is then sent RESTORE-ASKING. Set once at start.
static CLUSTER: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub fn set_cluster_mode(on: bool) {
    CLUSTER.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// Redis's `migrateGetKeys`: `argv[3]`, or with `KEYS` (and an empty `argv[3]`) everything
/// after it.
fn migrate_keys(argv: Argv<'_>) -> Option<KeyPositions> {
    let mut out = KeyPositions::new();
    for j in 6..argv.len() {
        if is(argv.arg(j), "KEYS") {
            if !argv.arg(3).is_empty() {
                return Some(out);
            }
            out.extend(j + 1..argv.len());
            return Some(out);
        }
    }
    out.push(3);
    Some(out)
}

struct Options<'a> {
    copy: bool,
    replace: bool,
    auth: Option<(Option<&'a [u8]>, &'a [u8])>,
    keys: Vec<&'a [u8]>,
    db: i64,
    timeout: Duration,
}

fn parse(argv: Argv<'_>) -> Result<Options<'_>, CmdError> {
    let mut o = Options {
        copy: false,
        replace: false,
        auth: None,
        keys: vec![argv.arg(3)],
        db: 0,
        timeout: Duration::ZERO,
    };
    let mut j = 6;
    while j < argv.len() {
        let a = argv.arg(j);
        let more = argv.len() - 1 - j;
        if is(a, "COPY") {
            o.copy = true;
        } else if is(a, "REPLACE") {
            o.replace = true;
        } else if is(a, "AUTH") && more >= 1 {
            o.auth = Some((None, argv.arg(j + 1)));
            j += 1;
        } else if is(a, "AUTH2") && more >= 2 {
            o.auth = Some((Some(argv.arg(j + 1)), argv.arg(j + 2)));
            j += 2;
        } else if is(a, "KEYS") {
            if !argv.arg(3).is_empty() {
                return Err(CmdError::Static(
                    "ERR When using MIGRATE KEYS option, the key argument must be set to the empty string",
                ));
            }
            o.keys = (j + 1..argv.len()).map(|i| argv.arg(i)).collect();
            break;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let timeout = parse_i64(argv.arg(5)).ok_or(CmdError::NotInteger)?;
    o.db = parse_i64(argv.arg(4)).ok_or(CmdError::NotInteger)?;
    o.timeout = Duration::from_millis(if timeout <= 0 { 1000 } else { timeout as u64 });
    Ok(o)
}

fn bulk(buf: &mut Vec<u8>, b: &[u8]) {
    buf.extend_from_slice(format!("${}\r\n", b.len()).as_bytes());
    buf.extend_from_slice(b);
    buf.extend_from_slice(b"\r\n");
}

fn command(buf: &mut Vec<u8>, args: &[&[u8]]) {
    buf.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        bulk(buf, a);
    }
}

fn connect(host: &str, port: &str, timeout: Duration) -> Result<Cached, CmdError> {
    let addr = format!("{host}:{port}");
    let fail = || CmdError::Static("IOERR error or timeout connecting to the client");
    let target = addr
        .to_socket_addrs()
        .map_err(|_| fail())?
        .next()
        .ok_or_else(fail)?;
    // Redis connects without blocking and meets a refused or timed-out connection only when
    // it first writes, so it words those as a failed write; only an address it cannot even
    // try is a failed connection.
    let stream = TcpStream::connect_timeout(&target, timeout).map_err(|e| match e.kind() {
        std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::TimedOut => {
            CmdError::Static("IOERR error or timeout writing to target instance")
        }
        _ => fail(),
    })?;
    let _ = stream.set_nodelay(true);
    Ok(Cached {
        stream,
        db: None,
        used: Instant::now(),
    })
}

/// A connection to `host:port`: the cached one if it is fresh, else a new one.
fn socket(host: &str, port: &str, timeout: Duration) -> Result<Cached, CmdError> {
    let name = format!("{host}:{port}");
    let cached = SOCKETS
        .lock()
        .get_or_insert_with(HashMap::new)
        .remove(&name);
    match cached {
        Some(c) if c.used.elapsed() < SOCKET_TTL => Ok(c),
        _ => connect(host, port, timeout),
    }
}

fn give_back(host: &str, port: &str, mut c: Cached) {
    c.used = Instant::now();
    SOCKETS
        .lock()
        .get_or_insert_with(HashMap::new)
        .insert(format!("{host}:{port}"), c);
}

/// Why no reply line came.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ReadFailure {
    /// The timeout passed: the target may have applied what it was sent.
    TimedOut,
    /// The connection was closed or broke.
    Closed,
}

/// One reply line from the target (every reply MIGRATE waits for is a status or an error).
fn read_line(reader: &mut BufReader<&TcpStream>) -> Result<String, ReadFailure> {
    let mut line = String::new();
    match reader.read_line(&mut line) {
        Ok(n) if n > 0 && line.ends_with('\n') => Ok(line.trim_end().to_string()),
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
            Err(ReadFailure::TimedOut)
        }
        _ => Err(ReadFailure::Closed),
    }
}

/// What one round trip to the target gave: the keys it restored, its first error, and why
/// replies stopped coming, if they did.
struct Exchange<'k> {
    acked: Vec<&'k [u8]>,
    error: Option<String>,
    failure: Option<ReadFailure>,
}

/// Sends AUTH (if asked), SELECT (if `select`) and one RESTORE per key found, then reads the
/// replies in order; `None` if the request could not be written.
fn round_trip<'k>(
    conn: &Cached,
    o: &Options<'_>,
    restore: &[u8],
    found: &[(&'k [u8], i64, Vec<u8>)],
    select: bool,
) -> Option<Exchange<'k>> {
    let mut buf = Vec::new();
    if let Some((user, pass)) = o.auth {
        match user {
            Some(u) => command(&mut buf, &[b"AUTH", u, pass]),
            None => command(&mut buf, &[b"AUTH", pass]),
        }
    }
    if select {
        command(&mut buf, &[b"SELECT", o.db.to_string().as_bytes()]);
    }
    for (key, ttl, payload) in found {
        let ttl = ttl.to_string();
        let mut args: Vec<&[u8]> = vec![restore, key, ttl.as_bytes(), payload];
        if o.replace {
            args.push(b"REPLACE");
        }
        command(&mut buf, &args);
    }
    let _ = conn.stream.set_write_timeout(Some(o.timeout));
    let _ = conn.stream.set_read_timeout(Some(o.timeout));
    (&conn.stream).write_all(&buf).ok()?;
    let mut reader = BufReader::new(&conn.stream);
    let mut x = Exchange {
        acked: Vec::new(),
        error: None,
        failure: None,
    };
    let prelude = usize::from(o.auth.is_some()) + usize::from(select);
    for _ in 0..prelude {
        match read_line(&mut reader) {
            Err(why) => x.failure = Some(why),
            Ok(l) if l.starts_with('-') => {
                x.error.get_or_insert_with(|| l[1..].to_string());
            }
            Ok(_) => {}
        }
    }
    // As Redis: once AUTH or SELECT failed no key counts as moved; a RESTORE refused
    // (BUSYKEY) leaves its own key here and the others go on.
    let prelude_failed = x.error.is_some();
    if x.failure.is_some() {
        return Some(x);
    }
    for (key, ..) in found {
        match read_line(&mut reader) {
            Err(why) => {
                x.failure = Some(why);
                break;
            }
            Ok(l) if l.starts_with('-') => {
                x.error.get_or_insert_with(|| l[1..].to_string());
            }
            Ok(_) if !prelude_failed => x.acked.push(*key),
            Ok(_) => {}
        }
    }
    Some(x)
}

/// ```text
/// MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE]
///         [AUTH password | AUTH2 username password] [KEYS key [key ...]]
/// ```
fn migrate(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let o = parse(argv)?;
    let now = ctx.now_ms;
    // The keys that are here (and live), with their payloads and remaining TTLs.
    let write = WriteOptions::new(crate::compression(), ctx.config);
    let mut found: Vec<(&[u8], i64, Vec<u8>)> = Vec::new();
    let db = ctx.db;
    for &key in &o.keys {
        // A split line's sub-queues live in other slots, which this MIGRATE does not move:
        // moving the queue alone would leave its waiters behind.
        if ctx.shards.shard(key).queues.split_of(db, key).is_some() {
            return Err(CmdError::Owned(format!(
                "ERR '{}' is a split waiting line: merge it back with QSPLIT {} 1 before moving it",
                String::from_utf8_lossy(key),
                String::from_utf8_lossy(key)
            )));
        }
    }
    for &key in &o.keys {
        if let Some(entry) = ctx.db(key).lookup(key, now) {
            let ttl = match entry.expire_at() {
                Some(at) => (at - now).max(1),
                None => 0,
            };
            found.push((key, ttl, rdb::dump_payload(&entry.value, write)));
        }
    }
    if found.is_empty() {
        out.simple("NOKEY");
        return Ok(());
    }
    let (host, port) = (
        String::from_utf8_lossy(argv.arg(1)).into_owned(),
        String::from_utf8_lossy(argv.arg(2)).into_owned(),
    );
    let restore: &[u8] = if CLUSTER.load(std::sync::atomic::Ordering::Relaxed) {
        b"RESTORE-ASKING"
    } else {
        b"RESTORE"
    };
    // As Redis: one retry on a fresh connection when the cached one turns out closed before
    // the target answered anything; never after a timeout, since the target may have restored
    // keys it did not confirm.
    let mut retried = false;
    let done = loop {
        let mut conn = socket(&host, &port, o.timeout)?;
        let select = conn.db != Some(o.db);
        let Some(x) = round_trip(&conn, &o, restore, &found, select) else {
            if !retried {
                retried = true;
                continue;
            }
            return Err(CmdError::Static(
                "IOERR error or timeout writing to target instance",
            ));
        };
        let untouched = x.acked.is_empty() && x.error.is_none();
        if x.failure == Some(ReadFailure::Closed) && untouched && !retried {
            retried = true;
            continue;
        }
        if x.failure.is_none() {
            conn.db = x.error.is_none().then_some(o.db);
            give_back(&host, &port, conn);
        }
        break x;
    };
    let (acked, error, socket_error) = (done.acked, done.error, done.failure.is_some());
    if !o.copy && !acked.is_empty() {
        let mut del: Vec<Vec<u8>> = vec![b"DEL".to_vec()];
        for key in acked {
            ctx.db(key).delete(key, now);
            ctx.modified(key);
            ctx.notify(keyspace_events::GENERIC, "del", key);
            del.push(key.to_vec());
        }
        ctx.log_as(del);
    }
    if let Some(e) = error {
        return Err(CmdError::Owned(format!(
            "ERR Target instance replied with error: {e}"
        )));
    }
    if socket_error {
        return Err(CmdError::Static(
            "IOERR error or timeout reading to target instance",
        ));
    }
    out.ok();
    Ok(())
}

pub static COMMANDS: &[CommandSpec<EngineHandler>] = &[
    cmd("MIGRATE", -6, Flags::WRITE, migrate as EngineHandler)
        .keys(3, 3, 1)
        .movable_keys(migrate_keys)
        .doc(Group::Generic, "2.6.0", "Atomically transfers a key from one Redis instance to another.", "This command actually executes a DUMP+DEL in the source instance, and a RESTORE in the target instance. See the pages of these commands for time complexity. Also an O(N) data transfer between the two instances is performed."),
];
