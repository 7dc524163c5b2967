//! Server-level sorted-set benchmark: usher and redis-server side by side, in one run.
//!
//! ```text
//! cargo build --release -p usher-server
//! cargo run --release -p usher-bench --bin zset_server -- --sizes 1k,64k,1m,10m
//! # options: --queries N (default 100000)  --runs R (default 3)  --scores increasing|random
//! #          --servers usher,redis  --cpu N (pin the client and both servers to CPU N)
//! # env:     USHER_BIN (default target/release/usher), REDIS_SERVER (default redis-server)
//! ```
//!
//! For each size n and each server, a fresh server process (usher with `--threads 1`, so both
//! run the commands on one thread) gets one sorted set of n members `m%015d` (16 bytes) filled
//! by pipelined ZADDs (1000 members per command, 16 commands in flight), with increasing scores
//! (arrival times, the waiting line's pattern; the default) or uniformly random ones. Then:
//! - memory: `INFO memory` `used_memory` and the process RSS, before and after the fill, per
//!   member;
//! - ZRANK latency: `--queries` ZRANKs of uniformly random members, one at a time on one
//!   connection, each timed from send to reply (p50, p99, p99.9); the same member sequence on
//!   both servers; 10% more run first, untimed, as warm-up;
//! - each measurement runs `--runs` times on the filled server and the best figure of each
//!   column is kept (the machine is shared; a neighbour's burst is not the server's latency);
//! - ZRANK cost: the same ZRANKs pipelined 64 deep, five passes, reporting the server's CPU
//!   time per command (utime + stime from `/proc/<pid>/stat`), which leaves out the client and the
//!   loopback round trip that dominate the unpipelined latency.
//!
//! On a small VM, pass `--cpu 0`: a request that wakes a server on *another* vCPU pays the
//! hypervisor's cross-CPU wake-up (measured on the 2-vCPU machine of `docs/benchmarks.md`:
//! p50 55 µs instead of 23 µs, for usher and redis-server alike), and where the scheduler puts
//! the two processes changes from run to run. With one CPU the client and the server take
//! turns, which costs nothing in a one-request-at-a-time test.
//!
//! Progress goes to stderr, the Markdown tables to stdout. The client is a minimal blocking
//! RESP client (no dependencies), so what is timed is the servers and the loopback.

use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

const FILL_BATCH: usize = 1000;
const FILL_IN_FLIGHT: usize = 16;
const PIPELINE_DEPTH: usize = 64;
const PIPELINE_PASSES: usize = 5;

/// One reply, as much of it as the benchmark looks at.
#[derive(Debug, PartialEq)]
enum Reply {
    Int(i64),
    Text(String),
    Nil,
    Array(usize),
    Error(String),
}

struct Client {
    r: BufReader<TcpStream>,
    w: BufWriter<TcpStream>,
    line: String,
}

impl Client {
    fn connect(port: u16) -> std::io::Result<Client> {
        let s = TcpStream::connect(("127.0.0.1", port))?;
        s.set_nodelay(true)?;
        Ok(Client {
            r: BufReader::with_capacity(1 << 16, s.try_clone()?),
            w: BufWriter::with_capacity(1 << 16, s),
            line: String::new(),
        })
    }

    fn send<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        write!(self.w, "*{}\r\n", args.len()).unwrap();
        for a in args {
            let a = a.as_ref();
            write!(self.w, "${}\r\n", a.len()).unwrap();
            self.w.write_all(a).unwrap();
            self.w.write_all(b"\r\n").unwrap();
        }
    }

    fn flush(&mut self) {
        self.w.flush().unwrap();
    }

    /// Reads one reply; arrays are read whole and reported by length.
    fn read(&mut self) -> Reply {
        self.line.clear();
        self.r.read_line(&mut self.line).unwrap();
        let line = self.line.trim_end().to_string();
        let (kind, rest) = line.split_at(1);
        match kind {
            ":" => Reply::Int(rest.parse().unwrap()),
            "+" => Reply::Text(rest.to_string()),
            "-" => Reply::Error(rest.to_string()),
            "$" => {
                let n: i64 = rest.parse().unwrap();
                if n < 0 {
                    return Reply::Nil;
                }
                let mut buf = vec![0u8; n as usize + 2];
                self.r.read_exact(&mut buf).unwrap();
                buf.truncate(n as usize);
                Reply::Text(String::from_utf8_lossy(&buf).into_owned())
            }
            "*" => {
                let n: i64 = rest.parse().unwrap();
                for _ in 0..n.max(0) {
                    self.read();
                }
                Reply::Array(n.max(0) as usize)
            }
            _ => panic!("unexpected reply line {line:?}"),
        }
    }

    fn call<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Reply {
        self.send(args);
        self.flush();
        self.read()
    }

    fn info_field(&mut self, section: &str, field: &str) -> u64 {
        let Reply::Text(text) = self.call(&["INFO", section]) else {
            panic!("INFO failed")
        };
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{field}:")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {field} in INFO {section}"))
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Usher,
    Redis,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Usher => "usher",
            Kind::Redis => "redis-server",
        }
    }
}

struct ServerProc {
    child: Child,
    port: u16,
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn usher_bin() -> PathBuf {
    std::env::var_os("USHER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/release/usher")
        })
}

fn start(kind: Kind) -> ServerProc {
    let port = free_port();
    let p = port.to_string();
    let mut cmd = match kind {
        Kind::Usher => {
            let mut c = Command::new(usher_bin());
            c.args([
                "--port",
                &p,
                "--threads",
                "1",
                "--shards",
                "1",
                "--loglevel",
                "warning",
            ]);
            c
        }
        Kind::Redis => {
            let bin = std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
            let mut c = Command::new(bin);
            c.args([
                "--port",
                &p,
                "--save",
                "",
                "--appendonly",
                "no",
                "--loglevel",
                "warning",
            ]);
            c
        }
    };
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", kind.name()));
    let server = ServerProc { child, port };
    for _ in 0..200 {
        if let Ok(mut c) = Client::connect(port) {
            if c.call(&["PING"]) == Reply::Text("PONG".into()) {
                return server;
            }
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("{} did not start", kind.name());
}

/// Resident set size of a process, in bytes.
fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS");
    kb * 1024
}

/// User + system CPU time of a process, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    ticks / hz
}

fn member(i: usize) -> String {
    format!("m{i:015}")
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Scores {
    Increasing,
    Random,
}

fn fill(c: &mut Client, key: &str, n: usize, scores: Scores, label: &str) -> Duration {
    let started = Instant::now();
    let mut rng = SmallRng::seed_from_u64(7);
    let (mut sent, mut in_flight, mut added) = (0usize, 0usize, 0i64);
    let mut last_report = Instant::now();
    while sent < n || in_flight > 0 {
        while sent < n && in_flight < FILL_IN_FLIGHT {
            let end = (sent + FILL_BATCH).min(n);
            let mut args = Vec::with_capacity(2 + 2 * (end - sent));
            args.push("ZADD".to_string());
            args.push(key.to_string());
            for i in sent..end {
                let score = match scores {
                    Scores::Increasing => i as f64,
                    Scores::Random => rng.random_range(0.0..1e9),
                };
                args.push(format!("{score}"));
                args.push(member(i));
            }
            c.send(&args);
            sent = end;
            in_flight += 1;
        }
        c.flush();
        match c.read() {
            Reply::Int(k) => added += k,
            other => panic!("ZADD replied {other:?}"),
        }
        in_flight -= 1;
        if last_report.elapsed() > Duration::from_secs(2) {
            eprintln!("  {label}: filled {sent}/{n}");
            last_report = Instant::now();
        }
    }
    assert_eq!(added as usize, n, "every member is new");
    started.elapsed()
}

/// Percentile of sorted samples.
fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 * p / 100.0).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1e6
}

struct Row {
    server: Kind,
    n: usize,
    fill_s: f64,
    mem_per_member: f64,
    rss_per_member: f64,
    p50_us: f64,
    p99_us: f64,
    p999_us: f64,
    pipelined_kops: f64,
    cpu_us_per_op: f64,
}

fn run_one(kind: Kind, n: usize, queries: usize, scores: Scores, runs: usize) -> Row {
    let server = start(kind);
    let pid = server.child.id();
    let mut c = Client::connect(server.port).unwrap();
    let label = format!("{} n={}", kind.name(), n);
    let key = "waiting:line";
    let (used0, rss0) = (c.info_field("memory", "used_memory"), rss_bytes(pid));
    let fill_time = fill(&mut c, key, n, scores, &label);
    let (used1, rss1) = (c.info_field("memory", "used_memory"), rss_bytes(pid));
    assert_eq!(c.call(&["ZCARD", key]), Reply::Int(n as i64));
    if scores == Scores::Increasing {
        for i in [0, n / 2, n - 1] {
            assert_eq!(c.call(&["ZRANK", key, &member(i)]), Reply::Int(i as i64));
        }
    }
    eprintln!(
        "  {label}: filled in {:.1}s, {:.1} B/member used_memory",
        fill_time.as_secs_f64(),
        (used1 - used0) as f64 / n as f64
    );
    // The same member sequence on both servers.
    let mut rng = SmallRng::seed_from_u64(42);
    let picks: Vec<String> = (0..queries + queries / 10)
        .map(|_| member(rng.random_range(0..n)))
        .collect();
    let (warm, timed) = picks.split_at(queries / 10);
    for m in warm {
        c.call(&["ZRANK", key, m]);
    }
    // Best of `runs` for each figure: the machine is shared, and a neighbour's burst should
    // not pass for the server's latency.
    let mut best = [f64::MAX; 3];
    let (mut best_kops, mut best_cpu) = (0f64, f64::MAX);
    for run in 0..runs {
        let mut samples = Vec::with_capacity(timed.len());
        for m in timed {
            let t = Instant::now();
            let r = c.call(&["ZRANK", key, m]);
            samples.push(t.elapsed());
            debug_assert!(matches!(r, Reply::Int(_)));
        }
        samples.sort_unstable();
        for (b, p) in best.iter_mut().zip([50.0, 99.0, 99.9]) {
            *b = b.min(pct(&samples, p));
        }
        // Pipelined: server CPU per command. Several passes, since /proc counts CPU time in
        // 10 ms ticks.
        let (cpu0, t0) = (cpu_seconds(pid), Instant::now());
        for _ in 0..PIPELINE_PASSES {
            for chunk in timed.chunks(PIPELINE_DEPTH) {
                for m in chunk {
                    c.send(&["ZRANK", key, m]);
                }
                c.flush();
                for _ in chunk {
                    c.read();
                }
            }
        }
        let (cpu1, wall) = (cpu_seconds(pid), t0.elapsed());
        let pipelined = (timed.len() * PIPELINE_PASSES) as f64;
        best_kops = best_kops.max(pipelined / wall.as_secs_f64() / 1e3);
        best_cpu = best_cpu.min((cpu1 - cpu0) * 1e6 / pipelined);
        eprintln!(
            "  {label}: run {}: p50 {:.1} µs, p99 {:.1} µs, {:.2} µs CPU/ZRANK",
            run + 1,
            pct(&samples, 50.0),
            pct(&samples, 99.0),
            (cpu1 - cpu0) * 1e6 / pipelined
        );
    }
    Row {
        server: kind,
        n,
        fill_s: fill_time.as_secs_f64(),
        mem_per_member: (used1 - used0) as f64 / n as f64,
        rss_per_member: rss1.saturating_sub(rss0) as f64 / n as f64,
        p50_us: best[0],
        p99_us: best[1],
        p999_us: best[2],
        pipelined_kops: best_kops,
        cpu_us_per_op: best_cpu,
    }
}

/// Pins this process, and so the servers it starts, to one CPU.
fn pin_to_cpu(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET and sched_setaffinity only
    // read and write that set.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        let rc = libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
        assert_eq!(rc, 0, "sched_setaffinity to CPU {cpu}");
    }
}

fn parse_size(s: &str) -> usize {
    let s = s.trim().to_ascii_lowercase();
    let (digits, mul) = match s.chars().last() {
        Some('k') => (&s[..s.len() - 1], 1 << 10),
        Some('m') => (&s[..s.len() - 1], 1 << 20),
        _ => (&s[..], 1),
    };
    digits.parse::<usize>().expect("size") * mul
}

fn size_label(n: usize) -> String {
    match n {
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{} Mi", n >> 20),
        n if n >= 1 << 10 && n % (1 << 10) == 0 => format!("{} Ki", n >> 10),
        n => n.to_string(),
    }
}

fn main() {
    let mut sizes = vec![1 << 10, 1 << 16, 1 << 20, 10 << 20];
    let mut queries = 100_000;
    let mut runs = 3;
    let mut scores = Scores::Increasing;
    let mut servers = vec![Kind::Usher, Kind::Redis];
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let value = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--sizes" => sizes = value.split(',').map(parse_size).collect(),
            "--queries" => queries = value.parse().expect("--queries N"),
            "--runs" => runs = value.parse().expect("--runs N"),
            "--cpu" => pin_to_cpu(value.parse().expect("--cpu N")),
            "--scores" => {
                scores = match value.as_str() {
                    "increasing" => Scores::Increasing,
                    "random" => Scores::Random,
                    _ => panic!("--scores increasing|random"),
                }
            }
            "--servers" => {
                servers = value
                    .split(',')
                    .map(|s| match s {
                        "usher" => Kind::Usher,
                        "redis" => Kind::Redis,
                        _ => panic!("--servers usher,redis"),
                    })
                    .collect()
            }
            other => panic!("unknown option {other}"),
        }
        i += 2;
    }
    let mut rows = Vec::new();
    for &n in &sizes {
        for &kind in &servers {
            eprintln!("{} with {} members ...", kind.name(), size_label(n));
            rows.push(run_one(kind, n, queries, scores, runs));
        }
    }
    println!(
        "| members | server | fill s | used_memory B/member | RSS B/member | ZRANK p50 µs | p99 µs | p99.9 µs | pipelined kops/s | server CPU µs/ZRANK |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in &rows {
        println!(
            "| {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.0} | {:.2} |",
            size_label(r.n),
            r.server.name(),
            r.fill_s,
            r.mem_per_member,
            r.rss_per_member,
            r.p50_us,
            r.p99_us,
            r.p999_us,
            r.pipelined_kops,
            r.cpu_us_per_op
        );
    }
}
