//! The replication family: REPLICAOF (alias SLAVEOF), REPLCONF, PSYNC, SYNC, ROLE and WAIT,
//! over `server/src/replication`. PSYNC and WAIT leave their waiting to the connection
//! (`Session::repl`): a handler cannot wait.

use crate::registry::{ServerHandler, ServerSpec};
use crate::replication::{self, primary::SyncRequest, Pending};
use crate::session::Session;
use crate::shared::unix_ms;
use std::sync::atomic::Ordering;
use usher_engine::args::is;
use usher_engine::command::{cmd, Flags, Group};
use usher_engine::error::{CmdError, CmdResult};
use usher_engine::store::LockedShards;
use usher_protocol::{errors, Argv, ReplySink, RespWriter};

fn text(a: &[u8]) -> String {
    String::from_utf8_lossy(a).into_owned()
}

/// ```text
/// REPLICAOF host port | NO ONE
/// ```
fn replicaof(
    s: &mut Session,
    _locked: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    let shared = s.shared;
    if shared.cluster.get().is_some() {
        return Err(CmdError::Static(
            "ERR REPLICAOF not allowed in cluster mode.",
        ));
    }
    if is(argv.arg(1), "no") && is(argv.arg(2), "one") {
        replication::set_primary(shared, None);
        out.ok();
        return Ok(());
    }
    let port = std::str::from_utf8(argv.arg(2))
        .ok()
        .and_then(|p| p.parse::<u16>().ok())
        .ok_or(CmdError::Static(errors::INVALID_MASTER_PORT))?;
    let host = text(argv.arg(1));
    if replication::is_replica(shared) {
        let m = shared.replication.master.lock();
        if m.host.eq_ignore_ascii_case(&host) && m.port == port {
            out.simple("OK Already connected to specified master");
            return Ok(());
        }
    }
    replication::set_primary(shared, Some((host, port)));
    out.ok();
    Ok(())
}

/// ```text
/// REPLCONF option value [option value ...]
/// ```
/// `listening-port`, `ip-address`, `capa` and `rdb-only` are noted; `ACK` (which gets no
/// reply) is read by the replica's feed once PSYNC has made it one; `GETACK` is a replica's.
fn replconf(
    s: &mut Session,
    _locked: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    if argv.len().is_multiple_of(2) {
        return Err(CmdError::Syntax);
    }
    let r = &s.shared.replication;
    let mut i = 1;
    while i < argv.len() {
        let (opt, val) = (argv.arg(i), argv.arg(i + 1));
        if is(opt, "listening-port") {
            let port = usher_engine::cmd::keys::c_int(val)?;
            r.handshakes.lock().entry(s.info.id).or_default().0 = port.clamp(0, 65535) as u16;
        } else if is(opt, "ip-address") {
            r.handshakes.lock().entry(s.info.id).or_default().1 = text(val);
        } else if is(opt, "ack") || is(opt, "fack") {
            // Only meaningful from a replica's feed, where the feed itself reads it.
            return Ok(());
        } else if is(opt, "getack") {
            return Err(CmdError::Syntax);
        } else if !(is(opt, "capa") || is(opt, "rdb-only") || is(opt, "rdb-filter-only")) {
            return Err(CmdError::Owned(format!(
                "ERR Unrecognized REPLCONF option: {}",
                errors::sanitize(opt, 128)
            )));
        }
        i += 2;
    }
    out.ok();
    Ok(())
}

/// ```text
/// PSYNC replicationid offset
/// ```
fn psync(
    s: &mut Session,
    _locked: &mut LockedShards,
    argv: Argv,
    _out: &mut RespWriter,
) -> CmdResult {
    let offset = usher_engine::args::int(argv.arg(2))?;
    start_sync(s, text(argv.arg(1)), offset, false)
}

/// ```text
/// SYNC
/// ```
fn sync(
    s: &mut Session,
    _locked: &mut LockedShards,
    _argv: Argv,
    _out: &mut RespWriter,
) -> CmdResult {
    start_sync(s, "?".into(), -1, true)
}

fn start_sync(s: &mut Session, replid: String, offset: i64, legacy: bool) -> CmdResult {
    if s.multi.is_some() {
        return Err(CmdError::Static(
            "ERR Replica can't interact with the keyspace",
        ));
    }
    if replication::is_replica(s.shared) && !s.shared.replication.link_up.load(Ordering::Relaxed) {
        return Err(CmdError::Static(
            "NOMASTERLINK Can't SYNC while not connected with my master",
        ));
    }
    s.repl = Some(Pending::Sync(SyncRequest {
        replid,
        offset,
        legacy,
    }));
    Ok(())
}

/// ```text
/// ROLE
/// ```
fn role(
    s: &mut Session,
    _locked: &mut LockedShards,
    _argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    let r = &s.shared.replication;
    let end = r.backlog.lock().end();
    if replication::is_replica(s.shared) {
        let m = r.master.lock();
        out.array(5);
        out.bulk(b"slave");
        out.bulk(m.host.as_bytes());
        out.int(m.port as i64);
        out.bulk(m.state.as_bytes());
        out.int(if m.state == "connected" {
            end as i64
        } else {
            -1
        });
        return Ok(());
    }
    let replicas = r.replicas.lock();
    out.array(3);
    out.bulk(b"master");
    out.int(end as i64);
    out.array(replicas.len());
    for l in replicas.iter() {
        out.array(3);
        out.bulk(l.ip.lock().as_bytes());
        out.bulk(l.port.load(Ordering::Relaxed).to_string().as_bytes());
        out.bulk(l.ack.load(Ordering::Relaxed).to_string().as_bytes());
    }
    Ok(())
}

/// ```text
/// WAIT numreplicas timeout
/// ```
/// Waits until `numreplicas` replicas acknowledged everything written so far (the stream's
/// offset now, which covers this client's writes), or `timeout` ms (0: forever); replies with
/// how many did.
fn wait(
    s: &mut Session,
    _locked: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    let shared = s.shared;
    if replication::is_replica(shared) {
        return Err(CmdError::Static(errors::WAIT_ON_REPLICA));
    }
    let count = usher_engine::args::int(argv.arg(1))?;
    let timeout = usher_engine::args::int(argv.arg(2))
        .map_err(|_| CmdError::Static(errors::TIMEOUT_NOT_INTEGER))?;
    if timeout < 0 {
        return Err(CmdError::Static(errors::TIMEOUT_NEGATIVE));
    }
    let offset = shared.replication.backlog.lock().end();
    let acked = replication::acked_at_least(shared, offset);
    if acked as i64 >= count || s.multi.is_some() || count <= 0 {
        out.int(acked as i64);
        return Ok(());
    }
    replication::primary::feed_own(shared, &[b"REPLCONF", b"GETACK", b"*"]);
    s.repl = Some(Pending::Wait {
        count: count as u64,
        offset,
        deadline_ms: if timeout == 0 { 0 } else { unix_ms() + timeout },
    });
    Ok(())
}

const ADMIN: Flags = Flags::ADMIN.union(Flags::NOSCRIPT);
const OF: Flags = ADMIN.union(Flags::STALE).union(Flags::NO_ASYNC_LOADING);
const SYNCS: Flags = ADMIN.union(Flags::NO_ASYNC_LOADING).union(Flags::NO_MULTI);

pub static COMMANDS: &[ServerSpec] = &[
    cmd("REPLICAOF", 3, OF, replicaof as ServerHandler).doc(
        Group::Server,
        "5.0.0",
        "Configures a server as replica of another, or promotes it to a master.",
        "O(1)",
    ),
    cmd("SLAVEOF", 3, OF, replicaof as ServerHandler).doc(
        Group::Server,
        "1.0.0",
        "Sets a Redis server as a replica of another, or promotes it to being a master.",
        "O(1)",
    ),
    cmd(
        "REPLCONF",
        -1,
        ADMIN
            .union(Flags::LOADING)
            .union(Flags::STALE)
            .union(Flags::ALLOW_BUSY),
        replconf as ServerHandler,
    )
    .doc(
        Group::Server,
        "3.0.0",
        "An internal command for configuring the replication stream.",
        "O(1)",
    ),
    cmd(
        "PSYNC",
        -3,
        SYNCS,
        psync as ServerHandler,
    )
    .doc(
        Group::Server,
        "2.8.0",
        "An internal command used in replication.",
        "O(1)",
    ),
    cmd(
        "SYNC",
        1,
        SYNCS,
        sync as ServerHandler,
    )
    .doc(
        Group::Server,
        "1.0.0",
        "An internal command used in replication.",
        "O(1)",
    ),
    cmd(
        "ROLE",
        1,
        Flags::NOSCRIPT
            .union(Flags::LOADING)
            .union(Flags::STALE)
            .union(Flags::FAST),
        role as ServerHandler,
    )
    .doc(
        Group::Server,
        "2.8.12",
        "Returns the replication role.",
        "O(1)",
    ),
    cmd("WAIT", 3, Flags::NOSCRIPT, wait as ServerHandler).doc(
        Group::Generic,
        "3.0.0",
        "Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed.",
        "O(1)",
    ),
];
