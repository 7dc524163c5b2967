//! The primary's side of PSYNC: a partial resync from the backlog (`+CONTINUE`) when the
//! replica's id and offset allow it, else a full one (`+FULLRESYNC`, then the RDB as a sized
//! bulk), then the stream from the agreed offset, reading the replica's `REPLCONF ACK`s.
//!
//! The full sync's image is taken under every shard lock at one stream offset, so it is one
//! point in time and the stream continues exactly after it; the lock is held while the
//! shards are serialized into memory, on a blocking thread (during the sync of a
//! 10,000,000-user line clients waited at most 30 ms, docs/benchmarks.md), then the bytes are
//! sent without any lock.
//!
//! No write may hold the connection against a replica that stopped reading (a partition): the
//! sync's bytes must each make progress within `repl-timeout`, and the stream's writes give
//! way to the kill `keepalive.rs` sends when ACKs stop.

use super::{ReplicaLink, Replication};
use crate::connection::Transport;
use crate::session::Session;
use crate::shared::{unix_ms, Shared};
use bytes::{Buf, BytesMut};
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use usher_persist::rdb::{self, Aux};
use usher_protocol::{Limits, Parsed, RequestParser};

/// What PSYNC (or SYNC) asked for.
pub struct SyncRequest {
    pub replid: String,
    /// The first offset the replica wants (-1: it has nothing).
    pub offset: i64,
    /// Plain SYNC: no `+FULLRESYNC` line, as Redis answers old replicas.
    pub legacy: bool,
}

/// Bytes sent to a replica per write.
const CHUNK: usize = 256 * 1024;

/// How the replica will be fed: from `from` on, after the reply line (and the RDB bulk when
/// full: its `$<len>` header ends the line's bytes, the image is sent as it is, uncopied).
fn negotiate(shared: &'static Shared, req: &SyncRequest) -> (Vec<u8>, Vec<u8>, u64, bool) {
    let r: &Replication = &shared.replication;
    if !req.legacy && req.offset > 0 {
        let want = req.offset as u64 - 1;
        let b = r.backlog.lock();
        let ids = r.ids.lock();
        let known = req.replid == ids.replid
            || (req.replid == ids.replid2 && req.offset <= ids.second_offset);
        if known && b.holds(want) {
            r.partial_ok.fetch_add(1, Ordering::Relaxed);
            let line = format!("+CONTINUE {}\r\n", ids.replid).into_bytes();
            return (line, Vec::new(), want, false);
        }
        r.partial_err.fetch_add(1, Ordering::Relaxed);
    }
    let (image, offset) = image(shared);
    r.full_syncs.fetch_add(1, Ordering::Relaxed);
    let replid = r.ids.lock().replid.clone();
    let mut pre = Vec::new();
    if !req.legacy {
        pre.extend_from_slice(format!("+FULLRESYNC {replid} {offset}\r\n").as_bytes());
    }
    pre.extend_from_slice(format!("${}\r\n", image.len()).as_bytes());
    (pre, image, offset, true)
}

/// An RDB of every shard at one stream offset, and that offset. Turns the stream (and the
/// backlog) on if they were off.
pub fn image(shared: &'static Shared) -> (Vec<u8>, u64) {
    let r = &shared.replication;
    let o = {
        let c = shared.config.read();
        rdb::WriteOptions::new(c.rdbcompression, &c.engine)
    };
    let aux = Aux {
        ctime_s: unix_ms() / 1000,
        used_mem: crate::memory::used_bytes(),
        aof_base: false,
    };
    // Room for the image, touched before the shard locks are taken: growing it by doubling,
    // or faulting its fresh pages in, while every shard waits made that wait 30 ms to 1.3 s
    // for a 10,000,000-user line on a busy VM.
    let mut out = Vec::new();
    if out.try_reserve(aux.used_mem as usize / 2).is_ok() {
        out.resize(out.capacity(), 0);
        out.clear();
    }
    out.extend_from_slice(&rdb::file_header(&aux));
    let mut locked = shared.store.lock_all();
    let offset = {
        let mut inner = shared.stream.inner.lock();
        // The stream after this point starts with a SELECT, as a loaded RDB leaves db 0.
        inner.reselect();
        let mut b = r.backlog.lock();
        b.size = shared.config.read().repl.repl_backlog_size;
        if !b.active {
            let end = b.end();
            b.reset(end);
        }
        b.end()
    };
    if !shared.stream.on() {
        crate::propagate::log_expired(&mut locked, true);
        shared.stream.set_on(true);
    }
    // Under every shard lock, so at the image's offset (FUNCTION's writes lock every shard).
    out.extend_from_slice(&crate::persistence::function_records(shared, o.compress));
    for shard in locked.iter_mut() {
        let _ = usher_persist::snapshot::write_shard(shard, o, &mut |b| {
            out.extend_from_slice(b);
            Ok(())
        });
    }
    drop(locked);
    out.push(rdb::OP_EOF);
    let crc = usher_persist::crc64::crc64(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    (out, offset)
}

/// Serves a replica on this connection until it closes: the sync, then the stream.
pub async fn serve<S: Transport>(
    s: &mut Session,
    stream: &mut S,
    rbuf: &mut BytesMut,
    req: SyncRequest,
) -> std::io::Result<()> {
    let shared = s.shared;
    let r = &shared.replication;
    let id = s.info.id;
    s.info
        .flags
        .fetch_or(crate::client::flag::REPLICA, Ordering::Relaxed);
    let (port, ip) = r.handshakes.lock().remove(&id).unwrap_or_default();
    let ip = if ip.is_empty() {
        s.info
            .addr
            .rsplit_once(':')
            .map_or(String::new(), |(h, _)| {
                h.trim_matches(['[', ']']).to_string()
            })
    } else {
        ip
    };
    let link = Arc::new(ReplicaLink {
        client_id: id,
        ip: parking_lot::Mutex::new(ip),
        port: AtomicU64::new(port as u64),
        ack: AtomicU64::new(0),
        ack_ms: AtomicI64::new(unix_ms()),
        state: AtomicU8::new(1),
        pre_psync: req.legacy,
    });
    r.replicas.lock().push(link.clone());
    let result = feed(s, stream, rbuf, req, &link).await;
    r.replicas.lock().retain(|l| l.client_id != id);
    r.backlog.lock().unpin(id);
    crate::notice!("Connection with replica {} lost.", s.info.addr);
    result
}

async fn feed<S: Transport>(
    s: &mut Session,
    stream: &mut S,
    rbuf: &mut BytesMut,
    req: SyncRequest,
    link: &ReplicaLink,
) -> std::io::Result<()> {
    let shared = s.shared;
    let r = &shared.replication;
    let id = s.info.id;
    // Off this worker: while the image is taken and checksummed its other connections keep
    // being served; only commands needing a shard lock wait, while the shards are serialized.
    let (pre, image, mut from, full) = tokio::task::spawn_blocking(move || negotiate(shared, &req))
        .await
        .map_err(std::io::Error::other)?;
    r.backlog.lock().pin(id, from);
    crate::notice!(
        "Replica {} asks for synchronization: {} from offset {from}",
        s.info.addr,
        if full {
            "full resync"
        } else {
            "partial resync"
        }
    );
    let info = s.info.clone();
    let timeout = Duration::from_secs(shared.config.read().repl.repl_timeout.max(1));
    // The sync's bytes in pieces, each of which must go out within `repl-timeout`: a replica
    // cut off in the middle of a full sync is given up on, as Redis gives up on one whose
    // transfer makes no progress (there is no ACK to time out yet).
    for piece in pre.chunks(CHUNK).chain(image.chunks(CHUNK)) {
        let sent = tokio::select! {
            biased;
            _ = until_killed(&info) => return Ok(()),
            sent = tokio::time::timeout(timeout, send(stream, piece)) => sent,
        };
        match sent {
            Ok(result) => result?,
            Err(_) => {
                crate::warning!(
                    "Disconnecting timedout replica (full sync): {}",
                    link.name()
                );
                return Ok(());
            }
        }
    }
    drop(image);
    link.state.store(2, Ordering::Relaxed);
    link.ack_ms.store(unix_ms(), Ordering::Relaxed);
    let mut parser = RequestParser::new();
    loop {
        let fed = r.fed.notified();
        tokio::pin!(fed);
        fed.as_mut().enable();
        r.want_fed.store(true, Ordering::Relaxed);
        let chunk = {
            let mut b = r.backlog.lock();
            if b.is_dropped(id) || !b.holds(from) {
                crate::warning!(
                    "Replica {} fell behind the replication buffer; closing it",
                    s.info.addr
                );
                return Ok(());
            }
            b.read(id, from, CHUNK)
        };
        if !chunk.is_empty() {
            // A replica that stops reading (a partition) must not hold this task: the write
            // gives way to the kill the keepalive sends once its ACKs are `repl-timeout` old.
            tokio::select! {
                biased;
                _ = until_killed(&info) => return Ok(()),
                sent = send(stream, &chunk) => sent?,
            }
            from += chunk.len() as u64;
            // ACKs that arrived meanwhile, read without waiting: a replica kept busy by a
            // steady stream must still have them counted, or it would look silent.
            let now = tokio::select! {
                biased;
                n = stream.read_buf(rbuf) => Some(n),
                _ = std::future::ready(()) => None,
            };
            if let Some(n) = now {
                if n? == 0 || !take_acks(&mut parser, rbuf, link, r) {
                    return Ok(());
                }
            }
            continue;
        }
        tokio::select! {
            biased;
            _ = info.wake.notified() => {
                if info.killed() {
                    return Ok(());
                }
            }
            _ = &mut fed => {}
            n = stream.read_buf(rbuf) => {
                if n? == 0 || !take_acks(&mut parser, rbuf, link, r) {
                    return Ok(());
                }
            }
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// Writes `bytes` (and flushes a buffering transport).
async fn send<S: Transport>(stream: &mut S, bytes: &[u8]) -> std::io::Result<()> {
    stream.write_all(bytes).await?;
    if S::BUFFERED {
        stream.flush().await?;
    }
    Ok(())
}

/// Resolves once the client is killed (CLIENT KILL, REPLICAOF, the keepalive's timeout).
async fn until_killed(info: &crate::client::ClientInfo) {
    // A kill raises the signal after setting its flag, and a raise nobody waited for is kept
    // for the next wait: checking the flag first misses none.
    while !info.killed() {
        info.wake.notified().await;
    }
}

/// Reads what the replica sent: `REPLCONF ACK <offset>` records its offset; a bare newline
/// (a loading redis-server replica's keep-alive) only proves it is alive, as in Redis. False
/// on a protocol error (the link is closed).
fn take_acks(
    parser: &mut RequestParser,
    rbuf: &mut BytesMut,
    link: &ReplicaLink,
    r: &Replication,
) -> bool {
    let limits = Limits {
        proto_max_bulk_len: 512 << 20,
        auth_required: false,
    };
    loop {
        let consumed = match parser.parse(&rbuf[..], &limits) {
            Ok(Parsed::Command { consumed }) => consumed,
            Ok(Parsed::Skip { consumed }) => {
                link.ack_ms.store(unix_ms(), Ordering::Relaxed);
                rbuf.advance(consumed);
                continue;
            }
            Ok(Parsed::Incomplete) => return true,
            Err(_) => return false,
        };
        let argv = parser.argv(&rbuf[..]);
        if argv.len() >= 3
            && argv.arg(0).eq_ignore_ascii_case(b"REPLCONF")
            && argv.arg(1).eq_ignore_ascii_case(b"ACK")
        {
            if let Some(off) = std::str::from_utf8(argv.arg(2))
                .ok()
                .and_then(|t| t.parse::<u64>().ok())
            {
                link.ack.store(off, Ordering::Relaxed);
                link.ack_ms.store(unix_ms(), Ordering::Relaxed);
                r.acked.notify_waiters();
            }
        }
        rbuf.advance(consumed);
    }
}

/// Appends a command of replication's own (`REPLCONF GETACK *`, the periodic PING) to the
/// stream replicas receive; it never reaches the AOF.
pub fn feed_own(shared: &Shared, argv: &[&[u8]]) {
    let r = &shared.replication;
    let mut b = r.backlog.lock();
    if !b.active || r.is_replica.load(Ordering::Relaxed) {
        return;
    }
    let mut bytes = Vec::new();
    usher_persist::aof::encode_command(&mut bytes, argv);
    b.append(&bytes);
    drop(b);
    r.fed.notify_waiters();
}
