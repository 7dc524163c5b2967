//! One client connection: read, parse, dispatch, write, on the worker thread that accepted it.
//!
//! ```text
//! loop {
//!     wait for: bytes from the socket | a wake-up (pub/sub messages queued, kill request)
//!     parse every complete command in the buffer, dispatch each, appending replies to `out`
//!     write `out` in one call (a pipeline of N commands costs one read and one write)
//! }
//! ```
//!
//! Protocol errors are answered and then the connection closes, as Redis does; commands parsed
//! before the bad bytes still run. A query buffer beyond `client-query-buffer-limit` closes the
//! connection without a reply, as Redis does.

use crate::client::{flag, ClientInfo};
use crate::config::OutputLimit;
use crate::dispatch::dispatch;
use crate::session::Session;
use crate::shared::{unix_ms, Shared};
use crate::stats::bump;
use crate::warm::Warmer;
use bytes::{Buf, BytesMut};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use usher_protocol::{Limits, Parsed, ReplySink, RequestParser, RespWriter};

/// Read buffer growth step; also the smallest free space offered to `read`.
const READ_CHUNK: usize = 16 * 1024;

/// A pipelined batch that ran at least this long has its replies written after the other
/// connections ready in the same wake-up have run theirs. By then the client has most likely
/// gone to sleep waiting, and each reply written on its own wakes it again: on a VM that
/// wake-up (an inter-processor interrupt through the hypervisor) cost a fifth of the CPU of
/// pipelined EVALSHAs, charged to the server's send. Shorter batches write at once: their
/// client is likely still awake, and the extra task poll would be all cost (single commands
/// never wait, so unpipelined rows are unchanged).
const DEFER_WRITE_AFTER: Duration = Duration::from_micros(10);
/// Buffers larger than this are released once drained, so one big request does not pin memory.
const BUFFER_KEEP_MAX: usize = 1 << 20;

/// Redis's protected-mode refusal, sent verbatim before closing.
const DENIED: &[u8] = b"-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

/// A client's byte stream: plain TCP, or TLS over it.
pub trait Transport: AsyncRead + AsyncWrite + Unpin {
    /// Writes what the stream takes without waiting (`WouldBlock` when it would wait): TCP's
    /// fast path. A TLS stream always goes through the waiting path.
    fn write_now(&mut self, buf: &[u8]) -> std::io::Result<usize>;
    /// Written bytes may wait in the stream's own buffer until flushed (TLS records).
    const BUFFERED: bool = false;
}

impl Transport for TcpStream {
    #[inline]
    fn write_now(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.try_write(buf)
    }
}

impl Transport for tokio_rustls::server::TlsStream<TcpStream> {
    const BUFFERED: bool = true;
    fn write_now(&mut self, _buf: &[u8]) -> std::io::Result<usize> {
        Err(std::io::ErrorKind::WouldBlock.into())
    }
}

/// Serves one accepted connection until it closes; `tls` runs the TLS handshake first.
pub async fn serve(shared: &'static Shared, stream: TcpStream, thread: usize, tls: bool) {
    let peer = stream
        .peer_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    let local = stream
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    let fd = std::os::fd::AsRawFd::as_raw_fd(&stream);
    if !tls {
        return serve_stream(shared, stream, peer, local, thread, fd).await;
    }
    let Some(acceptor) = shared.tls.acceptor() else {
        return;
    };
    match tokio::time::timeout(crate::tls::HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(stream)) => serve_stream(shared, stream, peer, local, thread, fd).await,
        Ok(Err(e)) => crate::verbose!("Error accepting a client connection: {e} (addr={peer})"),
        Err(_) => crate::verbose!("TLS handshake timed out (addr={peer})"),
    }
}

async fn serve_stream<S: Transport>(
    shared: &'static Shared,
    mut stream: S,
    peer: SocketAddr,
    local: SocketAddr,
    thread: usize,
    fd: i32,
) {
    let hot = shared.hot();
    if hot.protected_mode && shared.acl.default_user().nopass && !peer.ip().is_loopback() {
        let _ = stream.write_all(DENIED).await;
        shared.rejected_connections.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let id = shared.clients.next_id();
    let info = Arc::new(ClientInfo::new(
        id,
        peer.to_string(),
        local.to_string(),
        unix_ms(),
    ));
    info.fd.store(fd, Ordering::Relaxed);
    let maxclients = shared.config.read().maxclients;
    if !shared.clients.try_register(info.clone(), maxclients) {
        let _ = stream
            .write_all(b"-ERR max number of clients reached\r\n")
            .await;
        shared.rejected_connections.fetch_add(1, Ordering::Relaxed);
        return;
    }
    shared.connections_received.fetch_add(1, Ordering::Relaxed);
    crate::verbose!("Accepted {peer}");
    let stats = shared.thread_stats[thread].clone();
    let mut session = Session::new(shared, info.clone(), stats);
    if let Err(e) = run(&mut session, &mut stream).await {
        crate::verbose!("Client id={} addr={} closed: {}", id, info.addr, e);
    }
    crate::blocked::on_close(&mut session);
    session.unwatch_all();
    session.unsubscribe_all();
    session.stop_tracking();
    shared.monitors.remove(id);
    shared.clients.unregister(id);
}

async fn run<S: Transport>(s: &mut Session, stream: &mut S) -> std::io::Result<()> {
    let info = s.info.clone();
    let mut rbuf = BytesMut::with_capacity(READ_CHUNK);
    let mut out: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    let mut parser = RequestParser::new();
    let mut warmer = Warmer::default();
    let mut defer_write = false;
    loop {
        if rbuf.capacity() - rbuf.len() < READ_CHUNK / 4 {
            rbuf.reserve(READ_CHUNK);
        }
        // While blocked, wake at the deadline (or never, for timeout 0).
        let deadline = s
            .blocked
            .as_ref()
            .map(|b| b.waiter.deadline_ms)
            .filter(|&d| d > 0);
        // One ms past the deadline, as Redis times a client out once `timeout < now`: the
        // deadline counts from a clock truncated to the ms, so firing at it could answer up
        // to a ms sooner than asked.
        let wait = Duration::from_millis(
            deadline.map_or(u64::MAX / 4, |d| (d - unix_ms()).max(0) as u64 + 1),
        );
        tokio::select! {
            biased;
            _ = info.wake.notified() => {
                // ACL SETUSER wakes its user's subscribers to re-read their permissions.
                s.refresh_config();
                if info.killed() {
                    return Ok(());
                }
                info.drain_outbox(&mut out);
                if s.blocked.is_some() && crate::blocked::on_wake(s, &mut RespWriter::new(&mut out, s.resp)) {
                    process_input(s, &mut parser, &mut warmer, &mut rbuf, &mut out);
                }
            }
            // An async block, so the timer is only made when the branch is enabled (a disabled
            // branch's future is still built, and a `Sleep` reads the clock).
            _ = async { tokio::time::sleep(wait).await }, if deadline.is_some() => {
                crate::blocked::on_timeout(s, &mut RespWriter::new(&mut out, s.resp));
                process_input(s, &mut parser, &mut warmer, &mut rbuf, &mut out);
            }
            _ = pause_ends(s.shared, s.paused_until), if s.paused_until.is_some() => {
                s.paused_until = None;
                process_input(s, &mut parser, &mut warmer, &mut rbuf, &mut out);
            }
            read = stream.read_buf(&mut rbuf) => {
                let n = read?;
                if n == 0 {
                    crate::verbose!("Client closed connection id={} addr={}", info.id, info.addr);
                    return Ok(());
                }
                bump(&s.stats.net_input_bytes, n as u64);
                info.read_buf_peak.fetch_max(rbuf.len(), Ordering::Relaxed);
                info.read_buf_size.store(rbuf.capacity(), Ordering::Relaxed);
                info.query_buf_bytes.store(rbuf.len(), Ordering::Relaxed);
                info.query_buf_free
                    .store(rbuf.capacity() - rbuf.len(), Ordering::Relaxed);
                bump(&s.stats.reads_processed, 1);
                // A blocked client's further commands wait in the buffer, as in Redis.
                if s.blocked.is_none() {
                    let ran = process_input(s, &mut parser, &mut warmer, &mut rbuf, &mut out);
                    // The commands' own timing (see `Session::read_started`): no clock read.
                    defer_write = ran > 1
                        && s.read_started.zip(s.last_command_end).is_some_and(|(start, end)| {
                            end.duration_since(start) >= DEFER_WRITE_AFTER
                        });
                }
            }
        }
        if info.lost_pending.load(Ordering::Acquire) {
            crate::cmd::pubsub::apply_lost_shard_channels(s, &mut out);
        }
        while let Some(pending) = s.repl.take() {
            if !flush_replies(s, &info, stream, &mut out).await? {
                return Ok(());
            }
            match pending {
                crate::replication::Pending::Sync(req) => {
                    return crate::replication::primary::serve(s, stream, &mut rbuf, req).await;
                }
                crate::replication::Pending::Wait {
                    count,
                    offset,
                    deadline_ms,
                } => {
                    let n =
                        crate::replication::wait_acks(s.shared, count, offset, deadline_ms, &info)
                            .await;
                    RespWriter::new(&mut out, s.resp).int(n as i64);
                }
            }
            process_input(s, &mut parser, &mut warmer, &mut rbuf, &mut out);
        }
        if s.sync_to > 0 {
            // The turn appended to the AOF: the writer is kicked once for the worker's turn,
            // and under `appendfsync always` these replies leave once their writes are on disk.
            let to = std::mem::take(&mut s.sync_to);
            crate::propagate::wake::turn_appended(s.shared, to).await;
        }
        if std::mem::take(&mut defer_write) && !out.is_empty() {
            // Let the other connections this wake-up found ready read and run first, so the
            // replies leave together, as Redis's beforeSleep sends them (see DEFER_WRITE_AFTER).
            tokio::task::yield_now().await;
        }
        let clients_limit = s.hot.maxmemory_clients;
        if clients_limit > 0 {
            info.reply_bytes.store(out.len(), Ordering::Relaxed);
            crate::client_eviction::account(s.shared, &info, clients_limit);
        }
        if !flush_replies(s, &info, stream, &mut out).await? {
            return Ok(());
        }
        if clients_limit > 0 {
            info.reply_bytes.store(0, Ordering::Relaxed);
            crate::client_eviction::account(s.shared, &info, clients_limit);
        }
        if s.close_after_reply || info.killed() {
            return Ok(());
        }
        if rbuf.len() as u64 > s.hot.query_buffer_limit {
            crate::warning!("Closing client that reached max query buffer length: id={} addr={} (qbuf initial bytes: {:?})", info.id, info.addr, String::from_utf8_lossy(&rbuf[..rbuf.len().min(64)]));
            return Ok(());
        }
        if rbuf.is_empty() && rbuf.capacity() > BUFFER_KEEP_MAX {
            rbuf = BytesMut::with_capacity(READ_CHUNK);
        }
        info.query_buf_bytes.store(rbuf.len(), Ordering::Relaxed);
        info.query_buf_free
            .store(rbuf.capacity() - rbuf.len(), Ordering::Relaxed);
        info.read_buf_size.store(rbuf.capacity(), Ordering::Relaxed);
    }
}

/// [`flush`] under the session's output limit.
async fn flush_replies<S: Transport>(
    s: &mut Session,
    info: &ClientInfo,
    stream: &mut S,
    out: &mut Vec<u8>,
) -> std::io::Result<bool> {
    let limit = output_limit(s);
    flush(info, stream, out, &s.stats, limit, &mut s.output_soft_since).await
}

/// Writes `out`, then whatever pub/sub messages queued up meanwhile, until both are empty.
/// Returns false if the client was killed while writing.
///
/// A client that stops reading blocks this write; its messages then pile up in the outbox,
/// where `client-output-buffer-limit pubsub` is enforced. The write therefore also waits for a
/// kill request: a client cut off for its output buffer, by CLIENT KILL or by `timeout` must
/// close even though its socket will never drain (Redis frees such clients asynchronously).
///
/// Replies the client does not read stay in `out` while the socket is full: the soft limit
/// of the client's class (`client-output-buffer-limit`) is enforced here, closing a client
/// that stays over it for its seconds.
async fn flush<S: Transport>(
    info: &ClientInfo,
    stream: &mut S,
    out: &mut Vec<u8>,
    stats: &crate::stats::ThreadStats,
    limit: OutputLimit,
    soft_since: &mut Option<std::time::Instant>,
) -> std::io::Result<bool> {
    loop {
        if out.is_empty() {
            info.drain_outbox(out);
            if out.is_empty() {
                return Ok(true);
            }
        }
        let mut written = 0;
        while written < out.len() {
            // The common case, a socket with room, writes without waiting on anything else.
            match stream.write_now(&out[written..]) {
                Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    written += n;
                    continue;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            // A full socket (or TLS): write when there is room, or stop at a kill request or
            // at the end of the soft limit's grace, whichever comes first. `write` is
            // cancel-safe: nothing is lost when another branch wins.
            let pending = (out.len() - written) as u64;
            if limit.exceeded(pending, soft_since) {
                info.close_for_output_limit();
                return Ok(false);
            }
            let grace_ends =
                soft_since.map(|since| since + Duration::from_secs(limit.soft_seconds));
            tokio::select! {
                biased;
                _ = info.wake.notified() => {
                    // Messages that arrive meanwhile are drained once this write is done.
                    if info.killed() {
                        return Ok(false);
                    }
                }
                _ = tokio::time::sleep_until(grace_ends.unwrap_or_else(std::time::Instant::now).into()), if grace_ends.is_some() => {}
                n = stream.write(&out[written..]) => match n? {
                    0 => return Err(std::io::ErrorKind::WriteZero.into()),
                    n => written += n,
                },
            }
        }
        // TLS buffers records: push them out, unless the client is killed meanwhile.
        if S::BUFFERED {
            tokio::select! {
                biased;
                _ = info.wake.notified() => {
                    if info.killed() {
                        return Ok(false);
                    }
                    stream.flush().await?;
                }
                flushed = stream.flush() => flushed?,
            }
        }
        bump(&stats.net_output_bytes, out.len() as u64);
        bump(&stats.writes_processed, 1);
        *soft_since = None;
        out.clear();
        if out.capacity() > BUFFER_KEEP_MAX {
            *out = Vec::with_capacity(READ_CHUNK);
        }
    }
}

/// Resolves when a pause that holds this connection until `until` ends: at that time, or at
/// CLIENT UNPAUSE, whichever comes first.
async fn pause_ends(shared: &'static crate::shared::Shared, until: Option<i64>) {
    let until = until.unwrap_or(0);
    let wait = Duration::from_millis((until - unix_ms()).max(0) as u64);
    tokio::select! {
        _ = shared.pause.resumed.notified() => {}
        _ = tokio::time::sleep(wait) => {}
    }
}

/// Until when CLIENT PAUSE holds `argv`, if it does (only looked up while a pause is on).
#[inline]
fn paused_here(s: &Session, argv: usher_protocol::Argv<'_>) -> Option<i64> {
    let pause = &s.shared.pause;
    if !pause.active() {
        return None;
    }
    let flags = match crate::registry::get().lookup(argv) {
        crate::registry::Lookup::Found(cmd) => cmd.spec.flags(),
        _ => usher_engine::command::Flags::NONE,
    };
    pause.holds(flags, unix_ms())
}

/// The output limit of the client's class: `pubsub` for a subscriber, else `normal` (a
/// replica's link is fed elsewhere, under `replica`'s).
fn output_limit(s: &Session) -> OutputLimit {
    if s.info.has_flag(flag::PUBSUB) {
        s.hot.output_pubsub
    } else {
        s.hot.output_normal
    }
}

/// Runs every complete command in `rbuf`, leaving a partial one for the next read.
fn process_input(
    s: &mut Session,
    parser: &mut RequestParser,
    warmer: &mut Warmer,
    rbuf: &mut BytesMut,
    out: &mut Vec<u8>,
) -> usize {
    let mut ran_commands = 0;
    s.now_ms = unix_ms();
    usher_engine::value::note_now_ms(s.now_ms);
    s.last_command_end = None;
    s.refresh_config();
    s.info.last_active_ms.store(s.now_ms, Ordering::Relaxed);
    let mut writer = RespWriter::new(out, s.resp);
    let mut offset = 0;
    // Input up to here has had its member lookups warmed (see `crate::warm`).
    let mut warmed_until = 0;
    while offset < rbuf.len() && !s.close_after_reply && s.blocked.is_none() && s.repl.is_none() {
        let limits = Limits {
            proto_max_bulk_len: s.hot.engine.proto_max_bulk_len,
            auth_required: s.auth_required(),
        };
        match parser.parse(&rbuf[offset..], &limits) {
            Ok(Parsed::Command { consumed }) => {
                if let Some(until) = paused_here(s, parser.argv(&rbuf[offset..])) {
                    // Leave it (and what follows) in the buffer until the pause ends.
                    s.paused_until = Some(until);
                    break;
                }
                if offset >= warmed_until && offset + consumed < rbuf.len() {
                    warmed_until = offset + warmer.warm(s, &rbuf[offset..]);
                }
                let argv = parser.argv(&rbuf[offset..]);
                // A bug that panics in one command must not take the worker thread (and every
                // connection and shard cron on it) down: the client gets an error and is
                // closed, and the log says what happened. Locks are released by unwinding.
                let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    dispatch(s, argv, &mut writer)
                }));
                if ran.is_err() {
                    let name = String::from_utf8_lossy(argv.arg(0)).into_owned();
                    crate::warning!(
                        "BUG: command '{name}' panicked (client id={} addr={}); the client is closed",
                        s.info.id,
                        s.info.addr
                    );
                    writer.error(&format!(
                        "ERR internal error running '{name}' (see the server log)"
                    ));
                    s.close_after_reply = true;
                    break;
                }
                offset += consumed;
                ran_commands += 1;
                if output_limit(s).exceeded(writer.len() as u64, &mut s.output_soft_since) {
                    // Nothing more is produced for a client that does not read: what it was
                    // owed is dropped and it is closed, as Redis does.
                    writer.truncate(0);
                    s.info.close_for_output_limit();
                    break;
                }
            }
            Ok(Parsed::Skip { consumed }) => offset += consumed,
            Ok(Parsed::Incomplete) => break,
            Err(e) => {
                crate::verbose!(
                    "Protocol error ({}) from client: id={} addr={}",
                    e.message,
                    s.info.id,
                    s.info.addr
                );
                writer.error(&e.message);
                s.close_after_reply = true;
                break;
            }
        }
    }
    rbuf.advance(offset);
    ran_commands
}
