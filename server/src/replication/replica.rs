//! The replica's link to its primary, in a thread of its own (blocking socket I/O; it never
//! holds a worker): connect, handshake (`PING`, `AUTH`, `REPLCONF listening-port`,
//! `REPLCONF capa eof capa psync2`, `PSYNC replid offset`), then either load the RDB the
//! primary sends (a sized `$<len>` bulk or disk-less `$EOF:<mark>`) or continue from our
//! offset, and apply the stream.
//!
//! The stream is applied as the AOF loader does (`crate::persistence::aof`): MULTI blocks
//! whole at their EXEC, a clock of 0 so nothing expires under it (expiries arrive as DEL)
//! and the waiting room's clock-skew check off (the NOWs it carries are the primary's).
//! Every applied byte goes into our own backlog, so our offset is the primary's: sub-replicas
//! are fed from it and, after a promotion, siblings resume from it. `REPLCONF ACK <offset>`
//! goes back every second and on `REPLCONF GETACK`.

use crate::session::Session;
use crate::shared::{unix_ms, Shared};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use usher_persist::aof::{encode_command, read_command, ReadError};
use usher_protocol::{Argv, RespWriter};

/// Starts following `host:port` (generation `generation`; a newer REPLICAOF stops it).
pub fn spawn(shared: &'static Shared, host: String, port: u16, generation: u64) {
    let _ = std::thread::Builder::new()
        .name("usher-replica".into())
        .spawn(move || run(shared, &host, port, generation));
}

fn current(shared: &Shared, generation: u64) -> bool {
    shared.replication.generation.load(Ordering::Acquire) == generation
}

fn run(shared: &'static Shared, host: &str, port: u16, generation: u64) {
    let r = &shared.replication;
    // The local dataset loads first (start-up); the primary's then replaces it.
    while shared.persist.loading.load(Ordering::Acquire) {
        std::thread::sleep(Duration::from_millis(20));
    }
    while current(shared, generation) {
        r.master.lock().state = "connecting";
        match follow(shared, host, port, generation) {
            Ok(()) => {}
            Err(e) => crate::warning!("Replication link with MASTER {host}:{port}: {e}"),
        }
        if !current(shared, generation) {
            return;
        }
        let was_up = r.link_up.swap(false, Ordering::AcqRel);
        {
            let mut m = r.master.lock();
            m.state = "connect";
            m.sync_in_progress = false;
            if was_up {
                crate::notice!("Connection with master lost.");
                m.down_since_ms = unix_ms();
            }
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

type Result<T> = std::result::Result<T, String>;

/// The socket and what was read from it but not yet used.
struct Link {
    sock: TcpStream,
    buf: Vec<u8>,
}

impl Link {
    fn fill(&mut self, shared: &Shared) -> Result<usize> {
        let mut chunk = [0u8; 64 * 1024];
        match self.sock.read(&mut chunk) {
            Ok(0) => Err("connection closed by the primary".into()),
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                shared.replication.master.lock().last_io_ms = unix_ms();
                Ok(n)
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                Ok(0)
            }
            Err(e) => Err(e.to_string()),
        }
    }

    /// One reply line (without CRLF), skipping the bare newlines a primary sends to keep the
    /// link alive while it prepares the RDB.
    fn line(&mut self, shared: &Shared, deadline: Instant) -> Result<String> {
        loop {
            while self.buf.first() == Some(&b'\n') {
                self.buf.remove(0);
            }
            if let Some(nl) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=nl).collect();
                let text = String::from_utf8_lossy(&line);
                return Ok(text.trim_end_matches(['\r', '\n']).to_string());
            }
            if Instant::now() > deadline {
                return Err("timeout reading from the primary".into());
            }
            self.fill(shared)?;
        }
    }

    fn send(&mut self, argv: &[&[u8]]) -> Result<()> {
        let mut bytes = Vec::new();
        encode_command(&mut bytes, argv);
        self.sock.write_all(&bytes).map_err(|e| e.to_string())
    }

    fn ask(&mut self, shared: &Shared, argv: &[&[u8]], timeout: Duration) -> Result<String> {
        self.send(argv)?;
        self.line(shared, Instant::now() + timeout)
    }
}

/// One connection's life: handshake, sync, then the stream until it breaks.
fn follow(shared: &'static Shared, host: &str, port: u16, generation: u64) -> Result<()> {
    let r = &shared.replication;
    let (auth, user, announce_ip, announce_port, timeout_s) = {
        let c = shared.config.read();
        (
            c.repl.masterauth.clone(),
            c.repl.masteruser.clone(),
            c.repl.replica_announce_ip.clone(),
            c.repl.replica_announce_port,
            c.repl.repl_timeout.max(1),
        )
    };
    let timeout = Duration::from_secs(timeout_s);
    let addr = std::net::ToSocketAddrs::to_socket_addrs(&(host, port))
        .map_err(|e| e.to_string())?
        .next()
        .ok_or("no address")?;
    let sock =
        TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(|e| e.to_string())?;
    let _ = sock.set_nodelay(true);
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .map_err(|e| e.to_string())?;
    let mut link = Link {
        sock,
        buf: Vec::new(),
    };
    crate::notice!("MASTER <-> REPLICA sync started");
    let pong = link.ask(shared, &[b"PING"], timeout)?;
    if pong.starts_with('-') && !pong.starts_with("-NOAUTH") && !pong.starts_with("-NOPERM") {
        return Err(format!("Error reply to PING from master: '{pong}'"));
    }
    if !auth.is_empty() {
        let mut argv: Vec<&[u8]> = vec![b"AUTH"];
        if !user.is_empty() {
            argv.push(user.as_bytes());
        }
        argv.push(auth.as_bytes());
        let reply = link.ask(shared, &argv, timeout)?;
        if reply.starts_with('-') {
            return Err(format!("Unable to AUTH to MASTER: {reply}"));
        }
    }
    let my_port = if announce_port > 0 {
        announce_port
    } else {
        shared.tcp_port.load(Ordering::Relaxed)
    }
    .to_string();
    let _ = link.ask(
        shared,
        &[b"REPLCONF", b"listening-port", my_port.as_bytes()],
        timeout,
    )?;
    if !announce_ip.is_empty() {
        let _ = link.ask(
            shared,
            &[b"REPLCONF", b"ip-address", announce_ip.as_bytes()],
            timeout,
        )?;
    }
    let _ = link.ask(
        shared,
        &[b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"],
        timeout,
    )?;
    let (replid, offset) = {
        let b = r.backlog.lock();
        let ids = r.ids.lock();
        if b.active {
            (ids.replid.clone(), (b.end() + 1).to_string())
        } else {
            ("?".to_string(), "-1".to_string())
        }
    };
    let reply = link.ask(
        shared,
        &[b"PSYNC", replid.as_bytes(), offset.as_bytes()],
        timeout,
    )?;
    let mut applier = Applier::new(shared);
    if let Some(rest) = reply.strip_prefix("+FULLRESYNC ") {
        let mut words = rest.split_whitespace();
        let id = words.next().unwrap_or_default().to_string();
        let at: u64 = words
            .next()
            .and_then(|w| w.parse().ok())
            .ok_or("bad +FULLRESYNC")?;
        r.master.lock().sync_in_progress = true;
        r.master.lock().state = "sync";
        let rdb = read_payload(shared, &mut link, timeout)?;
        crate::notice!(
            "MASTER <-> REPLICA sync: receiving {} bytes from master (offset {at})",
            rdb.len()
        );
        load(shared, &rdb)?;
        {
            let mut b = r.backlog.lock();
            b.size = shared.config.read().repl.repl_backlog_size;
            b.reset(at);
            let mut ids = r.ids.lock();
            ids.replid = id;
            ids.replid2 = "0".repeat(40);
            ids.second_offset = -1;
        }
        crate::notice!("MASTER <-> REPLICA sync: Finished with success");
    } else if let Some(rest) = reply.strip_prefix("+CONTINUE") {
        let id = rest.trim();
        let end = r.backlog.lock().end();
        let mut ids = r.ids.lock();
        if !id.is_empty() && id != ids.replid {
            ids.replid2 = std::mem::replace(&mut ids.replid, id.to_string());
            ids.second_offset = end as i64 + 1;
        }
        crate::notice!("Successful partial resynchronization with master (offset {end}).");
    } else {
        return Err(format!("Unexpected reply to PSYNC from master: {reply}"));
    }
    r.link_up.store(true, Ordering::Release);
    {
        let mut m = r.master.lock();
        m.state = "connected";
        m.sync_in_progress = false;
        m.down_since_ms = 0;
        m.last_io_ms = unix_ms();
    }
    // Sub-replicas resync against the new history.
    super::disconnect_replicas(shared);
    stream(shared, &mut link, &mut applier, generation, timeout)
}

/// The RDB after `+FULLRESYNC`: `$<len>` and that many bytes, or `$EOF:<40 bytes>` and bytes
/// up to the same 40 bytes.
fn read_payload(shared: &Shared, link: &mut Link, timeout: Duration) -> Result<Vec<u8>> {
    let head = link.line(shared, Instant::now() + timeout)?;
    let Some(spec) = head.strip_prefix('$') else {
        return Err(format!(
            "Bad protocol from MASTER, the first byte is not '$': {head}"
        ));
    };
    let mut last_io = Instant::now();
    if let Some(mark) = spec.strip_prefix("EOF:") {
        let mark = mark.as_bytes().to_vec();
        if mark.len() != 40 {
            return Err("bad EOF mark".into());
        }
        loop {
            if link.buf.len() >= 40 && link.buf.ends_with(&mark) {
                let mut data = std::mem::take(&mut link.buf);
                data.truncate(data.len() - 40);
                return Ok(data);
            }
            if link.fill(shared)? > 0 {
                last_io = Instant::now();
            } else if last_io.elapsed() > timeout {
                return Err("timeout receiving the RDB".into());
            }
        }
    }
    let len: usize = spec
        .parse()
        .map_err(|_| format!("bad bulk length {spec}"))?;
    // One allocation of the announced size, not a doubling (and a copy) per power of two.
    let _ = link.buf.try_reserve(len.saturating_sub(link.buf.len()));
    while link.buf.len() < len {
        if link.fill(shared)? > 0 {
            last_io = Instant::now();
        } else if last_io.elapsed() > timeout {
            return Err("timeout receiving the RDB".into());
        }
    }
    let rest = link.buf.split_off(len);
    Ok(std::mem::replace(&mut link.buf, rest))
}

/// Replaces the dataset with the RDB's (clients get -LOADING meanwhile).
fn load(shared: &'static Shared, rdb: &[u8]) -> Result<()> {
    let p = &shared.persist;
    p.loading.store(true, Ordering::Release);
    {
        let mut locked = shared.store.lock_all();
        for shard in locked.iter_mut() {
            for db in 0..shard.dbs.len() {
                shard.db(db).clear();
                shard.queues.flush_db(db);
            }
        }
    }
    // The primary's libraries replace ours, as Redis clears its own before loading.
    shared.functions.flush();
    let result =
        crate::persistence::load_rdb_bytes(shared, rdb, std::path::Path::new("(replication)"), 0);
    if let Ok((_, policies)) = &result {
        crate::persistence::adopt_policies(shared, policies.clone(), unix_ms());
    }
    p.loading.store(false, Ordering::Release);
    result.map(|_| ())
}

/// Applies the stream until the link breaks or a newer REPLICAOF stops us.
fn stream(
    shared: &'static Shared,
    link: &mut Link,
    applier: &mut Applier,
    generation: u64,
    timeout: Duration,
) -> Result<()> {
    let r = &shared.replication;
    let mut last_ack = Instant::now() - Duration::from_secs(2);
    let mut last_io = Instant::now();
    loop {
        if !current(shared, generation) {
            return Ok(());
        }
        let (applied, getack) = applier.apply(&link.buf)?;
        if applied > 0 {
            let bytes: Vec<u8> = link.buf.drain(..applied).collect();
            r.backlog.lock().append(&bytes);
            r.fed.notify_waiters();
        }
        if getack || last_ack.elapsed() >= Duration::from_secs(1) {
            let offset = r.backlog.lock().end().to_string();
            link.send(&[b"REPLCONF", b"ACK", offset.as_bytes()])?;
            last_ack = Instant::now();
        }
        if link.fill(shared)? > 0 {
            last_io = Instant::now();
        } else if last_io.elapsed() > timeout {
            return Err("MASTER timeout: no data nor PING received".into());
        }
    }
}

/// Runs the primary's commands on a session of its own.
struct Applier {
    s: Session,
}

impl Applier {
    fn new(shared: &'static Shared) -> Applier {
        let mut s = Session::for_replay(shared, u64::MAX - 1, "master");
        s.from_master = true;
        Applier { s }
    }

    /// Applies every whole command (a MULTI block only with its EXEC) at the front of `buf`;
    /// returns how many bytes that was and whether the primary asked for an ACK.
    fn apply(&mut self, buf: &[u8]) -> Result<(usize, bool)> {
        let mut at = 0;
        let mut applied = 0;
        let mut getack = false;
        let mut multi: Option<Vec<Vec<(usize, usize)>>> = None;
        while at < buf.len() {
            let (spans, end) = match read_command(buf, at) {
                Ok(x) => x,
                Err(ReadError::Truncated { .. }) => break,
                Err(ReadError::Corrupt { msg, .. }) => {
                    return Err(format!("Protocol error from MASTER: {msg}"))
                }
            };
            let argv = Argv::new(buf, &spans);
            let name = argv.arg(0);
            if name.eq_ignore_ascii_case(b"MULTI") {
                multi = Some(Vec::new());
            } else if name.eq_ignore_ascii_case(b"EXEC") {
                for spans in multi.take().unwrap_or_default() {
                    self.run(Argv::new(buf, &spans));
                }
            } else if let Some(q) = multi.as_mut() {
                q.push(spans);
            } else if name.eq_ignore_ascii_case(b"REPLCONF") {
                getack |= argv.len() >= 2 && argv.arg(1).eq_ignore_ascii_case(b"GETACK");
            } else if !name.eq_ignore_ascii_case(b"PING") {
                self.run(argv);
            }
            at = end;
            if multi.is_none() {
                applied = at;
            }
        }
        Ok((applied, getack))
    }

    fn run(&mut self, argv: Argv<'_>) {
        let s = &mut self.s;
        let crate::registry::Lookup::Found(cmd) = crate::registry::get().lookup(argv) else {
            crate::warning!(
                "Unknown command '{}' from MASTER; skipped",
                String::from_utf8_lossy(argv.arg(0))
            );
            return;
        };
        // As Redis's gate does for its primary's commands: a wrong arity is refused (handlers
        // index their arguments on the gate's word, and this path has no gate).
        if !cmd.spec.arity_ok(argv.len()) {
            crate::warning!(
                "Wrong number of arguments for '{}' from MASTER; skipped",
                String::from_utf8_lossy(argv.arg(0))
            );
            return;
        }
        s.now_ms = 0;
        s.last_command_end = None;
        let mut reply = Vec::new();
        let mut out = RespWriter::new(&mut reply, s.resp);
        crate::dispatch::execute(s, cmd, argv, &mut out);
        if s.blocked.is_some() {
            crate::blocked::on_close(s);
            s.blocked = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the AOF loader's fuzz target, which shares this path's shape: a command with
    /// too few arguments ran its handler without the gate's arity check and panicked.
    #[test]
    fn a_command_of_the_wrong_arity_from_the_primary_is_skipped() {
        let mut server = crate::harness::Instance::new(1);
        let mut applier = Applier::new(server.shared());
        let stream = b"*2\r\n$3\r\nSET\r\n$1\r\nk\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n";
        assert_eq!(applier.apply(stream).unwrap(), (stream.len(), false));
        drop(applier);
        let get: [&[u8]; 2] = [b"GET", b"k"];
        assert_eq!(
            server.run(0, &get),
            Some(crate::harness::Value::Bulk(b"v".to_vec()))
        );
    }
}
