//! Connections and phases: set-up checks, the pre-fill, and the measured mix.
//!
//! Each client thread runs its own current-thread tokio runtime with a share of the
//! connections (no work stealing, like the server). A connection writes its P operations as one
//! batch, reads their replies, checks every one, and records each operation's latency from the
//! moment the batch was written to the read that completed its last reply, like
//! `redis-benchmark -P`.

use super::cli::Options;
use super::report::{self, Stats, Summary};
use super::resp::{self, Reply};
use super::workload::{self, Call, Mode, Op, PollStyle, Shas, Workload, OPS};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Read buffer size; large enough for a full P=16 batch of replies in one read.
const READ_CHUNK: usize = 64 * 1024;
/// Joined users a connection remembers for polling (beyond that it replaces old ones).
const OWN_JOINED_MAX: usize = 65_536;
/// How often progress lines are printed.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// One client connection with its read buffer.
pub struct Conn {
    stream: TcpStream,
    rbuf: Vec<u8>,
    start: usize,
}

impl Conn {
    pub async fn connect(host: &str, port: u16) -> io::Result<Conn> {
        let stream = TcpStream::connect((host, port)).await?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            rbuf: Vec::with_capacity(READ_CHUNK),
            start: 0,
        })
    }

    pub async fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes).await
    }

    /// Reads `n` replies, handing each to `f` with the instant its last byte was read.
    pub async fn read_replies(
        &mut self,
        n: usize,
        mut f: impl FnMut(Reply<'_>, Instant),
    ) -> io::Result<()> {
        let mut got = 0;
        let mut read_at = Instant::now();
        loop {
            while got < n {
                match resp::parse(&self.rbuf[self.start..]).map_err(io::Error::other)? {
                    Some((reply, used)) => {
                        f(reply, read_at);
                        self.start += used;
                        got += 1;
                    }
                    None => break,
                }
            }
            if got == n {
                return Ok(());
            }
            if self.start > 0 {
                self.rbuf.drain(..self.start);
                self.start = 0;
            }
            self.rbuf.reserve(READ_CHUNK);
            if self.stream.read_buf(&mut self.rbuf).await? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "server closed the connection",
                ));
            }
            read_at = Instant::now();
        }
    }

    /// Sends one command and hands its reply to `f`.
    pub async fn call<T>(
        &mut self,
        args: &[&[u8]],
        f: impl FnOnce(&Reply<'_>) -> T,
    ) -> io::Result<T> {
        let mut buf = Vec::new();
        resp::push_command(&mut buf, args);
        self.send(&buf).await?;
        let mut f = Some(f);
        let mut out = None;
        self.read_replies(1, |r, _| out = f.take().map(|f| f(&r)))
            .await?;
        Ok(out.expect("one reply was read"))
    }
}

fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Connects, checks the server can run the mix, loads the scripts, and returns the workload.
pub async fn prepare(o: &Options) -> Result<(Conn, Workload), String> {
    let mut conn = Conn::connect(&o.host, o.port)
        .await
        .map_err(|e| format!("connect {}:{}: {e}", o.host, o.port))?;
    let io = |e: io::Error| e.to_string();
    let pong = conn
        .call(&[b"PING"], |r| r.as_bulk() == Some(b"PONG"))
        .await
        .map_err(io)?;
    if !pong {
        return Err("PING did not answer PONG".into());
    }
    let mut w = Workload::new(&o.event, o.mode, o.poll);
    w.admit_count = o.admit_count;
    w.max_active = o.max_active;
    w.active_ttl_ms = o.active_ttl_ms;
    w.seat_ttl_s = o.seat_ttl_s;
    match o.mode {
        Mode::Script => w.shas = Some(load_scripts(&mut conn, o).await?),
        Mode::Native => check_native_commands(&mut conn, o).await?,
    }
    let exists = conn
        .call(&[b"EXISTS", &w.queue], |r| r.as_int())
        .await
        .map_err(io)?;
    if exists != Some(0) {
        return Err(format!(
            "{} already exists: use a fresh --event (or FLUSHALL)",
            String::from_utf8_lossy(&w.queue)
        ));
    }
    Ok((conn, w))
}

async fn load_scripts(conn: &mut Conn, o: &Options) -> Result<Shas, String> {
    let mut shas = Vec::new();
    for file in workload::SCRIPT_FILES {
        let path = o.scripts.join(file);
        let body = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let sha = conn
            .call(&[b"SCRIPT", b"LOAD", &body], |r| {
                r.as_bulk().map(<[u8]>::to_vec)
            })
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("SCRIPT LOAD {file} failed"))?;
        shas.push(sha);
    }
    let mut next = || shas.remove(0);
    Ok(Shas {
        enter: next(),
        admit: next(),
        seat: next(),
        confirm: next(),
    })
}

/// Fails unless the server has every native command the mix uses.
async fn check_native_commands(conn: &mut Conn, o: &Options) -> Result<(), String> {
    let w = o.weights;
    let needed = [
        ("enter", true),
        (
            "qpos",
            w[Op::Poll.index()] > 0 && o.poll == PollStyle::Default,
        ),
        ("admit", w[Op::Admit.index()] > 0),
        ("seatlock", w[Op::Seat.index()] > 0),
        ("seatconfirm", w[Op::Confirm.index()] > 0),
    ];
    for (name, needed) in needed {
        if !needed {
            continue;
        }
        let known = conn
            .call(&[b"COMMAND", b"INFO", name.as_bytes()], |r| {
                r.as_array()
                    .and_then(|a| a.first())
                    .and_then(|c| c.as_array())
                    .is_some()
            })
            .await
            .map_err(|e| e.to_string())?;
        if !known {
            return Err(format!(
                "the server has no {} command; run with a mix without it (e.g. --mix join=10,poll=75,admit=1)",
                name.to_uppercase()
            ));
        }
    }
    Ok(())
}

/// Joins users `0..W` in order over one connection, in batches, then checks the line's size.
/// One connection keeps arrival order equal to id order, which the poll floor relies on.
pub async fn prefill(conn: &mut Conn, w: &Workload, o: &Options) -> Result<(), String> {
    let started = Instant::now();
    let mut last_report = started;
    let mut buf = Vec::with_capacity(o.prefill_pipeline * 128);
    let mut now_ms = epoch_ms();
    let mut next = 0;
    while next < o.waiting {
        let batch = (o.waiting - next).min(o.prefill_pipeline as u64);
        buf.clear();
        // Arrival scores never go backwards, even if the wall clock does.
        now_ms = now_ms.max(epoch_ms());
        for user in next..next + batch {
            w.push(
                &mut buf,
                Call {
                    op: Op::Join,
                    user,
                    seat: 0,
                },
                now_ms,
            );
        }
        conn.send(&buf).await.map_err(|e| e.to_string())?;
        let mut failure = None;
        conn.read_replies(batch as usize, |r, _| {
            if let Err(e) = w.check(Op::Join, 0, &r) {
                failure.get_or_insert(e);
            }
        })
        .await
        .map_err(|e| e.to_string())?;
        if let Some(e) = failure {
            return Err(format!("pre-fill: {e}"));
        }
        next += batch;
        if !o.quiet && last_report.elapsed() >= PROGRESS_EVERY {
            last_report = Instant::now();
            let rate = next as f64 / started.elapsed().as_secs_f64();
            eprintln!("  pre-fill {next}/{} users ({rate:.0}/s)", o.waiting);
        }
    }
    let size = line_size(conn, w, o).await?;
    if size != Some(o.waiting as i64) {
        return Err(format!(
            "after pre-fill the line holds {size:?} users, expected {}",
            o.waiting
        ));
    }
    if !o.quiet {
        eprintln!(
            "  pre-fill {} users in {:.2} s",
            o.waiting,
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// Holds the seats confirmations will confirm (when the mix has any): seat
/// `confirm_base + i` for user `i`, pipelined over one connection, recording each fencing
/// token in the workload. The holds use the mode's own lock (SEATLOCK or the seed script).
pub async fn hold_confirm_seats(
    conn: &mut Conn,
    w: &mut Workload,
    o: &Options,
) -> Result<(), String> {
    if o.weights[Op::Confirm.index()] == 0 {
        return Ok(());
    }
    w.confirm_base = o.seats;
    let mut buf = Vec::with_capacity(o.prefill_pipeline * 96);
    let mut next = 0;
    while next < o.confirm_seats {
        let batch = (o.confirm_seats - next).min(o.prefill_pipeline as u64);
        buf.clear();
        for user in next..next + batch {
            let seat = w.confirm_base + user;
            w.push(
                &mut buf,
                Call {
                    op: Op::Seat,
                    user,
                    seat,
                },
                epoch_ms(),
            );
        }
        conn.send(&buf).await.map_err(|e| e.to_string())?;
        let mut failure = None;
        let tokens = &mut w.confirm_tokens;
        conn.read_replies(batch as usize, |r, _| match workload::seat_token(&r) {
            Some(token) => tokens.push(token),
            None => {
                failure.get_or_insert_with(|| format!("holding a seat: {}", r.describe()));
            }
        })
        .await
        .map_err(|e| e.to_string())?;
        if let Some(e) = failure {
            return Err(e);
        }
        next += batch;
    }
    if !o.quiet {
        eprintln!("  held {} seats for confirmations", o.confirm_seats);
    }
    Ok(())
}

/// Splits the pre-filled line over `o.split` sub-queues (QSPLIT), when asked.
pub async fn split(conn: &mut Conn, w: &Workload, o: &Options) -> Result<(), String> {
    if o.split <= 1 {
        return Ok(());
    }
    let k = o.split.to_string();
    let reply = conn
        .call(&[b"QSPLIT", &w.queue, k.as_bytes()], |r| match r {
            Reply::Simple(_) => Ok(()),
            other => Err(format!("QSPLIT {k}: {other:?}")),
        })
        .await
        .map_err(|e| e.to_string())?;
    reply
}

/// The line's size: `ZCARD`, or in native mode `QPOS` of the last user (a server that has only
/// the native family need not have `ZCARD`).
async fn line_size(conn: &mut Conn, w: &Workload, o: &Options) -> Result<Option<i64>, String> {
    let last = workload::user_name(o.waiting - 1);
    let size = match o.mode {
        Mode::Native => {
            conn.call(&[b"QPOS", &w.queue, &w.active, &last], |r| {
                let items = r.as_array()?;
                let (position, waiting) = (items.get(1)?.as_int()?, items.get(2)?.as_int()?);
                // The last pre-filled user stands at the back.
                (position == waiting).then_some(waiting)
            })
            .await
        }
        Mode::Script => conn.call(&[b"ZCARD", &w.queue], |r| r.as_int()).await,
    };
    size.map_err(|e| e.to_string())
}

/// Counters every connection updates, for progress and user ids.
struct Shared {
    next_user: AtomicU64,
    ops_done: AtomicU64,
    errors: AtomicU64,
}

/// Runs the measured mix and returns its summary.
pub fn measure(
    o: &Options,
    w: &Workload,
    config: Vec<(&'static str, String)>,
) -> Result<Summary, String> {
    let shared = Arc::new(Shared {
        next_user: AtomicU64::new(o.waiting),
        ops_done: AtomicU64::new(0),
        errors: AtomicU64::new(0),
    });
    let ready = Arc::new(Barrier::new(o.client_threads + 1));
    let start: Arc<OnceLock<Instant>> = Arc::new(OnceLock::new());
    let mut threads = Vec::new();
    for t in 0..o.client_threads {
        let conns: Vec<usize> = (t..o.conns).step_by(o.client_threads).collect();
        let (o, w, shared, ready, start) = (
            o.clone(),
            w.clone(),
            shared.clone(),
            ready.clone(),
            start.clone(),
        );
        threads.push(std::thread::spawn(move || {
            client_thread(o, w, conns, shared, ready, start)
        }));
    }
    ready.wait(); // every connection is open
    let cpu0 = o
        .server_pid
        .map(report::process_cpu)
        .transpose()
        .map_err(|e| e.to_string())?;
    let client0 = report::self_cpu_s();
    let t0 = Instant::now();
    start.set(t0).expect("start is set once");
    ready.wait(); // go
    progress(o, &shared, t0, &threads);
    let mut stats = Stats::default();
    let mut last = t0;
    for thread in threads {
        let (s, end) = thread
            .join()
            .map_err(|_| "a client thread panicked".to_string())??;
        stats.merge(&s);
        last = last.max(end);
    }
    let cpu1 = o
        .server_pid
        .map(report::process_cpu)
        .transpose()
        .map_err(|e| e.to_string())?;
    Ok(Summary {
        config,
        weights: o.weights,
        wall_s: (last - t0).as_secs_f64(),
        server_cpu: cpu0.zip(cpu1).map(|(a, b)| b.since(a)),
        client_cpu_s: report::self_cpu_s() - client0,
        stats,
    })
}

fn progress(
    o: &Options,
    shared: &Shared,
    t0: Instant,
    threads: &[std::thread::JoinHandle<ThreadResult>],
) {
    let mut next_report = t0 + PROGRESS_EVERY;
    while !threads.iter().all(|t| t.is_finished()) {
        std::thread::sleep(Duration::from_millis(20));
        if !o.quiet && Instant::now() >= next_report {
            next_report += PROGRESS_EVERY;
            let secs = t0.elapsed().as_secs_f64();
            let ops = shared.ops_done.load(Ordering::Relaxed);
            eprintln!(
                "  {secs:5.1} s  {ops:>10} ops  {:>9.0} ops/s  errors {}",
                ops as f64 / secs,
                shared.errors.load(Ordering::Relaxed)
            );
        }
    }
}

type ThreadResult = Result<(Stats, Instant), String>;

fn client_thread(
    o: Options,
    w: Workload,
    conns: Vec<usize>,
    shared: Arc<Shared>,
    ready: Arc<Barrier>,
    start: Arc<OnceLock<Instant>>,
) -> ThreadResult {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async move {
        let mut opened = Vec::new();
        let mut failure = None;
        for _ in &conns {
            match Conn::connect(&o.host, o.port).await {
                Ok(c) => opened.push(c),
                Err(e) => failure = Some(format!("connect: {e}")),
            }
        }
        // Waiting here blocks the runtime, which has nothing else to do yet.
        ready.wait();
        ready.wait();
        if let Some(e) = failure {
            return Err(e);
        }
        let t0 = *start.get().expect("set before the second barrier");
        let deadline = t0 + Duration::from_secs_f64(o.duration_s);
        let (o, w) = (Arc::new(o), Arc::new(w));
        let mut tasks = Vec::new();
        for (conn, idx) in opened.into_iter().zip(conns) {
            let (o, w, shared) = (o.clone(), w.clone(), shared.clone());
            tasks.push(tokio::spawn(run_conn(conn, o, w, shared, idx, deadline)));
        }
        let mut stats = Stats::default();
        let mut last = t0;
        for task in tasks {
            let (s, end) = task.await.map_err(|e| e.to_string())?;
            stats.merge(&s);
            last = last.max(end);
        }
        Ok((stats, last))
    })
}

/// Draws operations by weight.
struct Picker {
    cumulative: [u32; OPS],
}

impl Picker {
    fn new(weights: [u32; OPS]) -> Picker {
        let mut cumulative = [0; OPS];
        let mut sum = 0;
        for (c, w) in cumulative.iter_mut().zip(weights) {
            sum += w;
            *c = sum;
        }
        assert!(sum > 0, "the mix has at least one operation");
        Picker { cumulative }
    }

    fn pick(&self, rng: &mut SmallRng) -> Op {
        let r = rng.random_range(0..self.cumulative[OPS - 1]);
        let i = self
            .cumulative
            .iter()
            .position(|&c| r < c)
            .expect("r < total");
        Op::ALL[i]
    }
}

/// One connection's loop until the deadline; returns its stats and the time of its last reply.
async fn run_conn(
    mut conn: Conn,
    o: Arc<Options>,
    w: Arc<Workload>,
    shared: Arc<Shared>,
    idx: usize,
    deadline: Instant,
) -> (Stats, Instant) {
    let mut rng = SmallRng::seed_from_u64(o.seed.wrapping_mul(1_000_003).wrapping_add(idx as u64));
    let picker = Picker::new(o.weights);
    let floor = o.poll_floor();
    let mut own_joined: Vec<u64> = Vec::new();
    let mut stats = Stats::default();
    let mut buf = Vec::with_capacity(o.pipeline * 160);
    let mut calls: Vec<Call> = Vec::with_capacity(o.pipeline);
    let mut last = Instant::now();
    while Instant::now() < deadline {
        buf.clear();
        calls.clear();
        let now_ms = epoch_ms();
        let mut replies = 0;
        for _ in 0..o.pipeline {
            let op = picker.pick(&mut rng);
            let call = match op {
                Op::Join => Call {
                    op,
                    user: shared.next_user.fetch_add(1, Ordering::Relaxed),
                    seat: 0,
                },
                Op::Poll => {
                    let range = o.waiting - floor;
                    let r = rng.random_range(0..range + own_joined.len() as u64);
                    let user = if r < range {
                        floor + r
                    } else {
                        own_joined[(r - range) as usize]
                    };
                    Call { op, user, seat: 0 }
                }
                Op::Seat => Call {
                    op,
                    user: rng.random_range(0..o.max_active),
                    seat: rng.random_range(0..o.seats),
                },
                Op::Admit => Call {
                    op,
                    user: 0,
                    seat: 0,
                },
                Op::Confirm => {
                    let i = rng.random_range(0..w.confirm_tokens.len() as u64);
                    Call {
                        op,
                        user: i,
                        seat: w.confirm_base + i,
                    }
                }
            };
            w.push(&mut buf, call, now_ms);
            replies += w.replies(op);
            calls.push(call);
        }
        let sent_at = Instant::now();
        if let Err(e) = conn.send(&buf).await {
            stats.error(calls[0].op, format!("write: {e}"));
            break;
        }
        let (mut ci, mut nth, mut failure) = (0, 0, None::<String>);
        let read = conn
            .read_replies(replies, |reply, at| {
                let call = calls[ci];
                let checked = w.check(call.op, nth, &reply);
                nth += 1;
                if let Err(e) = &checked {
                    failure.get_or_insert_with(|| e.clone());
                }
                if nth < w.replies(call.op) {
                    return;
                }
                let outcome = match failure.take() {
                    Some(e) => Err(e),
                    None => checked,
                };
                if outcome.is_err() {
                    shared.errors.fetch_add(1, Ordering::Relaxed);
                } else if call.op == Op::Join {
                    remember(&mut own_joined, call.user, &mut rng);
                }
                let latency = at.saturating_duration_since(sent_at).as_nanos() as u64;
                stats.record(call.op, latency, outcome);
                last = at;
                ci += 1;
                nth = 0;
            })
            .await;
        if let Err(e) = read {
            stats.error(calls[ci.min(calls.len() - 1)].op, format!("read: {e}"));
            shared.errors.fetch_add(1, Ordering::Relaxed);
            break;
        }
        shared
            .ops_done
            .fetch_add(calls.len() as u64, Ordering::Relaxed);
    }
    (stats, last)
}

/// Keeps a bounded sample of this connection's joined users for later polls.
fn remember(own: &mut Vec<u64>, user: u64, rng: &mut SmallRng) {
    if own.len() < OWN_JOINED_MAX {
        own.push(user);
    } else {
        let i = rng.random_range(0..own.len());
        own[i] = user;
    }
}
