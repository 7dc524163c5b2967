//! Thread-per-core: N worker threads, each running its own tokio current-thread runtime.
//!
//! ```text
//! acceptor (main thread) ── accept ── round-robin ──► worker 0 │ worker 1 │ … │ worker N-1
//!                                                      each: current-thread runtime + LocalSet
//!                                                      connections stay where they landed
//!                                                      cron: active expiry of its shards,
//!                                                            client timeouts, stats sampling
//! ```
//!
//! There is no work stealing and no cross-thread hop per command: a connection's commands run
//! inline on its worker, taking the shard locks they need (see `dispatch`). Shard `i`'s active
//! expiry is done by worker `i % N`, so every shard has exactly one expirer.

use crate::connection;
use crate::shared::{unix_ms, Shared};
use crate::stats::bump;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use usher_engine::ctx::{Effects, ExecCtx};
use usher_engine::keyspace_events;

/// Keys expired per lock hold: bounds how long active expiry holds a shard.
const EXPIRE_BATCH: usize = 64;

/// A worker thread's stack: the main thread's 8 MiB (as Redis runs scripts and commands on),
/// not Rust's 2 MiB default, for the recursion a script's data can drive (nested replies,
/// cjson and cmsgpack documents) within the bounds Redis's own limits allow.
const WORKER_STACK: usize = 8 << 20;
/// Share of each cron period active expiry may use (Redis's slow cycle: 25%).
const EXPIRE_TIME_PERCENT: u32 = 25;

/// Runs the server until shutdown: spawns the workers, accepts on `listeners` in this thread.
/// Each listener says whether its connections speak TLS (`tls-port`).
pub fn run(
    shared: &'static Shared,
    listeners: Vec<(std::net::TcpListener, bool)>,
) -> std::io::Result<()> {
    let threads = shared.config.read().worker_threads();
    // The regular workers, and the spare (index `threads`), which only takes connections while
    // every other worker is stuck in a script (see `crate::script_workers`).
    crate::script_workers::init(threads + 1);
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut senders = Vec::with_capacity(threads + 1);
    let mut workers = Vec::with_capacity(threads + 1);
    for index in 0..=threads {
        let (tx, rx) = mpsc::unbounded_channel::<Accepted>();
        senders.push(tx);
        let (shared, stop) = (shared, stop_rx.clone());
        let name = match index == threads {
            true => "usher-spare".to_string(),
            false => format!("usher-worker-{index}"),
        };
        workers.push(
            std::thread::Builder::new()
                .name(name)
                .stack_size(WORKER_STACK)
                .spawn(move || worker(index, index == threads, shared, rx, stop))?,
        );
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(accept_loop(shared, listeners, senders))?;
    let _ = stop_tx.send(true);
    for w in workers {
        let _ = w.join();
    }
    Ok(())
}

/// An accepted connection on its way to a worker, and whether it came in on the TLS port.
type Accepted = (std::net::TcpStream, bool);

async fn accept_loop(
    shared: &'static Shared,
    listeners: Vec<(std::net::TcpListener, bool)>,
    senders: Vec<mpsc::UnboundedSender<Accepted>>,
) -> std::io::Result<()> {
    let (conn_tx, mut conn_rx) = mpsc::unbounded_channel::<Accepted>();
    for (l, tls) in listeners {
        l.set_nonblocking(true)?;
        let listener = tokio::net::TcpListener::from_std(l)?;
        let tx = conn_tx.clone();
        tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, _)) => {
                        configure_socket(&stream, shared);
                        if let Ok(std) = stream.into_std() {
                            let _ = tx.send((std, tls));
                        }
                    }
                    Err(e) => {
                        crate::warning!("Accepting client connection: {e}");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
        });
    }
    let mut next = 0;
    // Both signal streams are created once, before the loop: a stream created per iteration
    // (as `ctrl_c()` would be) misses a signal that arrives between two iterations, and once
    // tokio's handler is installed the default action no longer ends the process.
    use tokio::signal::unix::{signal, SignalKind};
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sigint = signal(SignalKind::interrupt())?;
    loop {
        tokio::select! {
            Some(stream) = conn_rx.recv() => {
                // Not to a worker stuck in a script: its new client would wait for it.
                let target = crate::script_workers::pick(next, senders.len(), unix_ms() as u64);
                let _ = senders[target].send(stream);
                let regular = senders.len() - 1;
                next = (target + 1) % regular;
            }
            _ = sigint.recv() => {
                crate::warning!("Received SIGINT scheduling shutdown...");
                break;
            }
            _ = sigterm.recv() => {
                crate::warning!("Received SIGTERM scheduling shutdown...");
                break;
            }
            _ = shared.shutdown.notify.notified() => break,
        }
        if shared.shutdown.requested() {
            break;
        }
    }
    shared.shutdown.request();
    crate::notice!("usher is now ready to exit, bye bye...");
    Ok(())
}

fn configure_socket(stream: &tokio::net::TcpStream, shared: &Shared) {
    let _ = stream.set_nodelay(true);
    let keepalive = shared.config.read().tcp_keepalive;
    if keepalive > 0 {
        let sock = socket2::SockRef::from(stream);
        let _ = sock.set_tcp_keepalive(
            &socket2::TcpKeepalive::new().with_time(Duration::from_secs(keepalive)),
        );
    }
}

fn worker(
    index: usize,
    spare: bool,
    shared: &'static Shared,
    mut incoming: mpsc::UnboundedReceiver<Accepted>,
    mut stop: watch::Receiver<bool>,
) {
    crate::script_workers::set_worker(index);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("worker runtime");
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async move {
        if !spare {
            // The spare has no share of the housekeeping: the regular workers split it.
            tokio::task::spawn_local(cron(index, shared));
        }
        loop {
            tokio::select! {
                stream = incoming.recv() => {
                    let Some((std, tls)) = stream else { break };
                    match tokio::net::TcpStream::from_std(std) {
                        Ok(stream) => {
                            tokio::task::spawn_local(connection::serve(shared, stream, index, tls));
                        }
                        Err(e) => crate::warning!("Registering client connection: {e}"),
                    }
                }
                _ = stop.changed() => break,
            }
        }
    });
}

/// The per-worker housekeeping loop, `hz` times a second.
async fn cron(index: usize, shared: &'static Shared) {
    let threads = shared.config.read().worker_threads();
    let mut last_timeout_check = Instant::now();
    loop {
        let hz = shared.config.read().hz.max(1);
        let period = Duration::from_millis(1000 / hz as u64);
        tokio::time::sleep(period).await;
        // Keys the policies and expiry write below take their access time from it.
        usher_engine::value::note_now_ms(crate::shared::unix_ms());
        let budget = period * EXPIRE_TIME_PERCENT / 100;
        // A replica's keys expire and its lines advance by its primary's stream only.
        if !crate::replication::is_replica(shared) {
            active_expire(index, threads, shared, budget);
            run_queue_policies(index, threads, shared);
        }
        // The policies' own key lookups are not clients' hits and misses (Redis's cron does
        // not count either): drop them before the next command takes the tally.
        usher_engine::keyspace_stats::take();
        if index == 0 {
            sample_ops(shared);
            if last_timeout_check.elapsed() >= Duration::from_secs(1) {
                close_idle_clients(shared);
                crate::replication::keepalive::tick(shared);
                last_timeout_check = Instant::now();
            }
            crate::memory::peak_bytes(crate::memory::used_bytes());
        }
    }
}

/// How long cron waits for a shard lock before it leaves that shard to its next tick. Commands
/// hold a shard for microseconds; one held longer is a script or a transaction, and cron runs
/// on its worker's thread, whose clients would wait with it.
const CRON_LOCK_WAIT: Duration = Duration::from_millis(2);

/// Expires due keys of the shards this worker owns, in small locked batches, within `budget`.
fn active_expire(index: usize, threads: usize, shared: &Shared, budget: Duration) {
    if !shared
        .active_expire
        .load(std::sync::atomic::Ordering::Relaxed)
    {
        return;
    }
    let started = Instant::now();
    let stats = &shared.thread_stats[index];
    let hot = shared.hot();
    let notify_expired = hot.engine.notify_classes & keyspace_events::EXPIRED != 0;
    let mut events = Vec::new();
    'shards: for shard in (index..shared.store.shard_count()).step_by(threads) {
        for db in 0..shared.store.databases() {
            loop {
                let now = unix_ms();
                let Some(mut locked) = shared.store.lock_one_within(shard, CRON_LOCK_WAIT) else {
                    continue 'shards;
                };
                let target = locked.iter_mut().next().expect("one shard");
                let mut expired_keys: Vec<Vec<u8>> = Vec::new();
                let (n, more) =
                    target.dbs[db].expire_due(now, EXPIRE_BATCH, |k| expired_keys.push(k.to_vec()));
                for k in &expired_keys {
                    target.touch(db, k);
                    if notify_expired {
                        events.push(keyspace_events::KeyEvent {
                            class: keyspace_events::EXPIRED,
                            event: "expired",
                            db: db as u32,
                            key: k.as_slice().into(),
                        });
                    }
                }
                if shared.stream.on() && !expired_keys.is_empty() {
                    // Logged as DEL under the shard's lock, as Redis propagates expiries.
                    let dels: Vec<crate::propagate::Entry> = expired_keys
                        .iter()
                        .map(|k| (db, vec![b"DEL".to_vec(), k.clone()]))
                        .collect();
                    shared.stream.append(&dels);
                }
                drop(locked);
                crate::notify::deliver(shared, &hot, &mut events, None);
                bump(&stats.expired_keys, n as u64);
                if !more || started.elapsed() >= budget {
                    break;
                }
            }
            if started.elapsed() >= budget {
                return;
            }
        }
    }
}

/// Ticks every queue policy on the shards this worker owns: sweeps silent waiters and admits
/// at each policy's rate. Announcements are published after the shard lock is released.
fn run_queue_policies(index: usize, threads: usize, shared: &Shared) {
    let hot = shared.hot();
    for shard in (index..shared.store.shard_count()).step_by(threads) {
        let queues = {
            let Some(mut locked) = shared.store.lock_one_within(shard, CRON_LOCK_WAIT) else {
                continue;
            };
            let target = locked.iter_mut().next().expect("one shard");
            target.queues.policy_queues()
        };
        // Cluster mode: only the node that serves a queue's slot runs its policy, and nobody
        // while the slot moves. Otherwise a source would keep writing the statistics and feed
        // of a line it just handed over (stray keys that also block `SETSLOT NODE`), and a
        // target would admit from a line whose keys are still arriving.
        let topology = shared.cluster.get().map(|c| c.topology());
        for (db, queue) in queues {
            if let Some(t) = &topology {
                let slot = usher_cluster::key_hash_slot(&queue);
                if !t.owns(slot) || t.open_slot(slot).is_some() {
                    continue;
                }
            }
            let mut effects = Effects::default();
            {
                let Some(mut locked) = shared.store.lock_one_within(shard, CRON_LOCK_WAIT) else {
                    break;
                };
                let mut ctx = ExecCtx {
                    shards: &mut locked,
                    db,
                    now_ms: unix_ms(),
                    config: &hot.engine,
                    effects: &mut effects,
                    may_block: false,
                    in_script: false,
                };
                usher_engine::cmd::qpolicy::run_policy(&mut ctx, &queue);
                usher_engine::blocking::serve_all_ready(&mut ctx);
                crate::propagate::commit_job(&shared.stream, &mut locked, &mut effects.propagate);
            }
            crate::notify::deliver(shared, &hot, &mut effects.events, None);
            for (channel, message) in effects.publish {
                shared
                    .pubsub
                    .publish(&channel, &message, &hot.output_pubsub);
            }
        }
    }
}

/// Closes clients idle longer than `timeout` (never pub/sub or blocked ones, as Redis).
fn close_idle_clients(shared: &Shared) {
    let timeout = shared.config.read().timeout;
    if timeout == 0 {
        return;
    }
    let now = unix_ms();
    for c in shared.clients.all() {
        let idle_s = (now - c.last_active_ms.load(Ordering::Relaxed)) / 1000;
        let exempt =
            c.has_flag(crate::client::flag::PUBSUB) || c.has_flag(crate::client::flag::BLOCKED);
        if !exempt && idle_s > timeout as i64 {
            crate::verbose!("Closing idle client id={}", c.id);
            c.request_kill();
        }
    }
}

/// How many samples `instantaneous_ops_per_sec` averages over (Redis: 16 at 100 ms).
const OPS_SAMPLES: usize = 16;

fn sample_ops(shared: &Shared) {
    let t = &shared.thread_stats;
    let totals = [
        crate::stats::total(t, |t| &t.commands_processed),
        crate::stats::total(t, |t| &t.net_input_bytes),
        crate::stats::total(t, |t| &t.net_output_bytes),
    ];
    let mut samples = shared.ops_samples.lock();
    samples.push_back((Instant::now(), totals));
    while samples.len() > OPS_SAMPLES {
        samples.pop_front();
    }
}

/// Commands, input bytes and output bytes per second over the last ~1.6 s.
pub fn instantaneous(shared: &Shared) -> [f64; 3] {
    let samples = shared.ops_samples.lock();
    match (samples.front(), samples.back()) {
        (Some(&(t0, n0)), Some(&(t1, n1))) if t1 > t0 => {
            let secs = (t1 - t0).as_secs_f64();
            std::array::from_fn(|i| n1[i].saturating_sub(n0[i]) as f64 / secs)
        }
        _ => [0.0; 3],
    }
}

/// Commands per second over the last ~1.6 s.
pub fn instantaneous_ops(shared: &Shared) -> u64 {
    instantaneous(shared)[0] as u64
}
