//! Command-line options of `ticket_rush`, parsed by hand (the bench crate takes no argument
//! parser dependency for one binary).

use super::workload::{Mode, Op, PollStyle, OPS};
use std::path::PathBuf;

pub const USAGE: &str = "\
ticket_rush: the ticket-rush mix (join, poll, admit, seat lock, confirm) against usher or
redis-server

USAGE: ticket_rush --port PORT [options]

  --host H              server address (default 127.0.0.1)
  --port P              server port (required)
  --mode native|script  native: ENTER/QPOS/ADMIT/SEATLOCK/SEATCONFIRM; script: the seed
                        scripts via EVALSHA
                        (default native)
  --poll default|zrank  default: QPOS (native) or enter_queue.lua again (script);
                        zrank: ZRANK + ZCARD pipelined, the cheapest plain-Redis poll
  --conns N             connections (default 50)
  --pipeline P          commands in flight per connection, sent as one batch (default 1)
  --waiting W           users pre-filled into the line before measuring (default 100000)
  --duration D          seconds of measured mix (default 10)
  --mix SPEC            weights, e.g. join=10,poll=75,seat=14,admit=1 (the default); any
                        left out are 0; confirm=N adds payments
  --seats S             seats locks are drawn from (default 5000)
  --confirm-seats N     seats held before the run for confirmations to confirm, each by its
                        own user, again and again (default 10000; only with confirm > 0)
  --admit-count N       ADMIT count (default 100)
  --max-active N        MAXACTIVE (default 10000)
  --active-ttl-ms MS    session TTL (default 300000)
  --seat-ttl S          seat hold seconds (default 300)
  --event NAME          event id in the keys' hash tag (default: random, so runs never collide)
  --server-pid PID      measure the server's CPU time from /proc/PID/stat
  --client-threads T    client threads, each with its own runtime (default 1)
  --prefill-pipeline N  joins per batch while pre-filling (default 1000)
  --scripts DIR         where the seed scripts are (default tests/scripts of this repository)
  --seed N              random seed (default 1)
  --split K             after pre-filling, split the event's line over K sub-queues (QSPLIT;
                        native mode, default 1: unsplit)
  --label TEXT          free text carried into the CSV (e.g. the server and its threads)
  --csv FILE            append the CSV line to FILE (header first if FILE is new or empty)
  --quiet               no progress lines
";

/// Everything the run needs to know.
#[derive(Clone, Debug)]
pub struct Options {
    pub host: String,
    pub port: u16,
    pub mode: Mode,
    pub poll: PollStyle,
    pub conns: usize,
    pub pipeline: usize,
    pub waiting: u64,
    pub duration_s: f64,
    /// Mix weights by [`Op::index`].
    pub weights: [u32; OPS],
    pub seats: u64,
    pub confirm_seats: u64,
    pub admit_count: u64,
    pub max_active: u64,
    pub active_ttl_ms: u64,
    pub seat_ttl_s: u64,
    pub event: String,
    pub server_pid: Option<u32>,
    pub client_threads: usize,
    pub prefill_pipeline: usize,
    pub scripts: PathBuf,
    pub seed: u64,
    /// Sub-queues the line is split over after pre-filling (1: unsplit).
    pub split: u64,
    pub label: String,
    pub csv: Option<PathBuf>,
    pub quiet: bool,
}

/// Upper bounds on the knobs, so a typo cannot ask for a billion connections.
const CONNS_MAX: usize = 10_000;
const PIPELINE_MAX: usize = 4096;
const USERS_MAX: u64 = 999_999_999;

impl Default for Options {
    fn default() -> Self {
        Options {
            host: "127.0.0.1".into(),
            port: 0,
            mode: Mode::Native,
            poll: PollStyle::Default,
            conns: 50,
            pipeline: 1,
            waiting: 100_000,
            duration_s: 10.0,
            weights: [10, 75, 14, 1, 0],
            seats: 5_000,
            confirm_seats: 10_000,
            admit_count: 100,
            max_active: 10_000,
            active_ttl_ms: 300_000,
            seat_ttl_s: 300,
            event: String::new(),
            server_pid: None,
            client_threads: 1,
            prefill_pipeline: 1000,
            scripts: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/scripts")),
            seed: 1,
            split: 1,
            label: String::new(),
            csv: None,
            quiet: false,
        }
    }
}

/// `Ok(None)` means `--help` was asked for.
pub fn parse(args: &[String]) -> Result<Option<Options>, String> {
    let mut o = Options::default();
    let mut i = 0;
    while i < args.len() {
        let flag = args[i].as_str();
        if matches!(flag, "-h" | "--help") {
            return Ok(None);
        }
        if flag == "--quiet" {
            o.quiet = true;
            i += 1;
            continue;
        }
        let value = args
            .get(i + 1)
            .ok_or_else(|| format!("{flag} needs a value"))?
            .as_str();
        apply(&mut o, flag, value)?;
        i += 2;
    }
    validate(&mut o)?;
    Ok(Some(o))
}

fn num<T: std::str::FromStr>(flag: &str, value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("{flag}: not a valid number: {value}"))
}

fn apply(o: &mut Options, flag: &str, value: &str) -> Result<(), String> {
    match flag {
        "--host" => o.host = value.into(),
        "--port" => o.port = num(flag, value)?,
        "--mode" => {
            o.mode = match value {
                "native" => Mode::Native,
                "script" => Mode::Script,
                _ => return Err(format!("--mode: native or script, not {value}")),
            }
        }
        "--poll" => {
            o.poll = match value {
                "default" => PollStyle::Default,
                "zrank" => PollStyle::Zrank,
                _ => return Err(format!("--poll: default or zrank, not {value}")),
            }
        }
        "--conns" => o.conns = num(flag, value)?,
        "--pipeline" => o.pipeline = num(flag, value)?,
        "--waiting" => o.waiting = num(flag, value)?,
        "--duration" => o.duration_s = num(flag, value)?,
        "--mix" => o.weights = parse_mix(value)?,
        "--seats" => o.seats = num(flag, value)?,
        "--confirm-seats" => o.confirm_seats = num(flag, value)?,
        "--admit-count" => o.admit_count = num(flag, value)?,
        "--max-active" => o.max_active = num(flag, value)?,
        "--active-ttl-ms" => o.active_ttl_ms = num(flag, value)?,
        "--seat-ttl" => o.seat_ttl_s = num(flag, value)?,
        "--event" => o.event = value.into(),
        "--server-pid" => o.server_pid = Some(num(flag, value)?),
        "--client-threads" => o.client_threads = num(flag, value)?,
        "--prefill-pipeline" => o.prefill_pipeline = num(flag, value)?,
        "--scripts" => o.scripts = value.into(),
        "--seed" => o.seed = num(flag, value)?,
        "--split" => o.split = num(flag, value)?,
        "--label" => o.label = value.into(),
        "--csv" => o.csv = Some(value.into()),
        _ => return Err(format!("unknown option {flag} (see --help)")),
    }
    Ok(())
}

/// `join=10,poll=75,...` into weights by [`Op::index`].
pub fn parse_mix(spec: &str) -> Result<[u32; OPS], String> {
    let mut weights = [0u32; OPS];
    for part in spec.split(',').filter(|p| !p.is_empty()) {
        let (name, weight) = part
            .split_once('=')
            .ok_or_else(|| format!("--mix: expected op=weight, got {part}"))?;
        let op = Op::ALL
            .into_iter()
            .find(|op| op.name() == name)
            .ok_or_else(|| {
                format!("--mix: unknown op {name} (join, poll, seat, admit, confirm)")
            })?;
        weights[op.index()] = num("--mix", weight)?;
    }
    if weights.iter().sum::<u32>() == 0 {
        return Err("--mix: all weights are 0".into());
    }
    Ok(weights)
}

fn validate(o: &mut Options) -> Result<(), String> {
    if o.port == 0 {
        return Err("--port is required".into());
    }
    let ranges = [
        ("--conns", o.conns as u64, 1, CONNS_MAX as u64),
        ("--pipeline", o.pipeline as u64, 1, PIPELINE_MAX as u64),
        ("--prefill-pipeline", o.prefill_pipeline as u64, 1, 100_000),
        ("--client-threads", o.client_threads as u64, 1, 256),
        ("--waiting", o.waiting, 1, USERS_MAX / 2),
        ("--seats", o.seats, 1, USERS_MAX),
        ("--confirm-seats", o.confirm_seats, 1, USERS_MAX),
        ("--admit-count", o.admit_count, 1, u64::MAX),
        ("--max-active", o.max_active, 1, u64::MAX),
        ("--active-ttl-ms", o.active_ttl_ms, 1, u64::MAX),
        ("--seat-ttl", o.seat_ttl_s, 1, u64::MAX),
    ];
    for (flag, v, lo, hi) in ranges {
        if v < lo || v > hi {
            return Err(format!("{flag}: {v} is outside {lo}..={hi}"));
        }
    }
    if !(o.duration_s > 0.0 && o.duration_s <= 3600.0) {
        return Err("--duration: 0 < D <= 3600 seconds".into());
    }
    if o.poll_floor() >= o.waiting && o.weights[Op::Poll.index()] > 0 {
        return Err(format!(
            "--waiting {} leaves no one to poll: admissions may take the first {} users during \
             the run; pre-fill more users or lower --max-active",
            o.waiting,
            o.poll_floor()
        ));
    }
    if o.event.is_empty() {
        o.event = format!("rush{:08x}", random_u32());
    }
    Ok(())
}

impl Options {
    /// The first user id polls may pick. Admissions take the earliest arrivals, and the line is
    /// pre-filled in id order, so admitted users are always a prefix of the pre-filled ids. At
    /// most MAXACTIVE sessions live at once; as sessions expire after the TTL more are admitted,
    /// so over the run at most MAXACTIVE × (1 + duration / TTL) users leave the line. Polls stay
    /// above that, and never race an admission.
    pub fn poll_floor(&self) -> u64 {
        let duration_ms = (self.duration_s * 1000.0) as u64;
        self.max_active
            .saturating_mul(1 + duration_ms / self.active_ttl_ms.max(1))
    }
}

/// A seed for event names that differs per process and per call.
fn random_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish() as u32
}
