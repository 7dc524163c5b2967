//! Measurements of one run and how they are printed: latency histograms per operation (as the
//! client saw each command, from writing its batch to reading its reply), error counts, the
//! server's CPU time from `/proc/<pid>/stat`, and the human table and CSV line.

use super::workload::{Op, Outcome, OPS};
use hdrhistogram::Histogram;

/// Slowest latency a histogram holds: one minute, in nanoseconds.
const LATENCY_NS_MAX: u64 = 60_000_000_000;
/// Error messages kept per connection, so a broken run says why without flooding.
const ERROR_SAMPLES_MAX: usize = 5;

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_NS_MAX, 3).expect("valid histogram bounds")
}

/// One connection's (or, merged, the whole run's) measurements.
pub struct Stats {
    /// Latency of every completed operation, by [`Op::index`].
    pub latency: [Histogram<u64>; OPS],
    pub errors: [u64; OPS],
    pub admitted: u64,
    pub seats_locked: u64,
    pub seats_taken: u64,
    pub error_samples: Vec<String>,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            latency: std::array::from_fn(|_| histogram()),
            errors: [0; OPS],
            admitted: 0,
            seats_locked: 0,
            seats_taken: 0,
            error_samples: Vec::new(),
        }
    }
}

impl Stats {
    pub fn record(&mut self, op: Op, latency_ns: u64, outcome: Result<Outcome, String>) {
        self.latency[op.index()].saturating_record(latency_ns.clamp(1, LATENCY_NS_MAX));
        match outcome {
            Ok(Outcome::Ok) => {}
            Ok(Outcome::Admitted(n)) => self.admitted += n,
            Ok(Outcome::SeatLocked) => self.seats_locked += 1,
            Ok(Outcome::SeatTaken) => self.seats_taken += 1,
            Err(message) => self.error(op, message),
        }
    }

    pub fn error(&mut self, op: Op, message: String) {
        self.errors[op.index()] += 1;
        if self.error_samples.len() < ERROR_SAMPLES_MAX {
            self.error_samples.push(message);
        }
    }

    pub fn merge(&mut self, other: &Stats) {
        for op in Op::ALL {
            let i = op.index();
            self.latency[i]
                .add(&other.latency[i])
                .expect("same histogram bounds");
            self.errors[i] += other.errors[i];
        }
        self.admitted += other.admitted;
        self.seats_locked += other.seats_locked;
        self.seats_taken += other.seats_taken;
        for s in &other.error_samples {
            if self.error_samples.len() < ERROR_SAMPLES_MAX * 4 {
                self.error_samples.push(s.clone());
            }
        }
    }

    pub fn overall(&self) -> Histogram<u64> {
        let mut all = histogram();
        for h in &self.latency {
            all.add(h).expect("same histogram bounds");
        }
        all
    }

    pub fn total_errors(&self) -> u64 {
        self.errors.iter().sum()
    }
}

/// CPU seconds a process has used, split like `/proc/<pid>/stat` splits them.
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuTime {
    pub user_s: f64,
    pub sys_s: f64,
}

impl CpuTime {
    pub fn total_s(self) -> f64 {
        self.user_s + self.sys_s
    }

    pub fn since(self, earlier: CpuTime) -> CpuTime {
        CpuTime {
            user_s: self.user_s - earlier.user_s,
            sys_s: self.sys_s - earlier.sys_s,
        }
    }
}

/// The server's user and system CPU time so far, from `/proc/<pid>/stat` (all its threads).
pub fn process_cpu(pid: u32) -> std::io::Result<CpuTime> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) may hold spaces; the fields after its closing ')' start at
    // field 3, so utime (field 14) and stime (field 15) are the 12th and 13th of them.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> std::io::Result<u64> {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("unreadable /proc/{pid}/stat")))
    };
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    Ok(CpuTime {
        user_s: ticks(11)? as f64 / hz,
        sys_s: ticks(12)? as f64 / hz,
    })
}

/// This process's user + system CPU seconds so far (the load generator's own cost).
pub fn self_cpu_s() -> f64 {
    // SAFETY: getrusage writes one rusage struct, which we own.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// A finished run.
pub struct Summary {
    /// Configuration columns, in order, as the CSV should carry them.
    pub config: Vec<(&'static str, String)>,
    pub weights: [u32; OPS],
    pub wall_s: f64,
    pub server_cpu: Option<CpuTime>,
    pub client_cpu_s: f64,
    pub stats: Stats,
}

fn us(ns: u64) -> f64 {
    ns as f64 / 1000.0
}

impl Summary {
    fn ops(&self) -> u64 {
        self.stats.latency.iter().map(|h| h.len()).sum()
    }

    /// Metric columns: overall, then per operation.
    fn metrics(&self) -> Vec<(String, String)> {
        let all = self.stats.overall();
        let ops = self.ops();
        let server_cpu_s = self.server_cpu.map(CpuTime::total_s);
        let per_cpu = server_cpu_s
            .filter(|&c| c > 0.0)
            .map_or(String::new(), |c| format!("{:.0}", ops as f64 / c));
        let mut cols: Vec<(String, String)> = vec![
            ("wall_s".into(), format!("{:.3}", self.wall_s)),
            ("ops".into(), ops.to_string()),
            ("ops_s".into(), format!("{:.0}", ops as f64 / self.wall_s)),
            (
                "server_cpu_s".into(),
                server_cpu_s.map_or(String::new(), |c| format!("{c:.2}")),
            ),
            (
                "server_user_s".into(),
                self.server_cpu
                    .map_or(String::new(), |c| format!("{:.2}", c.user_s)),
            ),
            (
                "server_sys_s".into(),
                self.server_cpu
                    .map_or(String::new(), |c| format!("{:.2}", c.sys_s)),
            ),
            ("ops_per_server_cpu_s".into(), per_cpu),
            ("client_cpu_s".into(), format!("{:.2}", self.client_cpu_s)),
            (
                "p50_us".into(),
                format!("{:.1}", us(all.value_at_quantile(0.5))),
            ),
            (
                "p99_us".into(),
                format!("{:.1}", us(all.value_at_quantile(0.99))),
            ),
            (
                "p999_us".into(),
                format!("{:.1}", us(all.value_at_quantile(0.999))),
            ),
            ("errors".into(), self.stats.total_errors().to_string()),
            ("admitted".into(), self.stats.admitted.to_string()),
            ("seats_locked".into(), self.stats.seats_locked.to_string()),
            ("seats_taken".into(), self.stats.seats_taken.to_string()),
        ];
        for op in Op::ALL {
            let h = &self.stats.latency[op.index()];
            let n = op.name();
            cols.push((format!("{n}_ops"), h.len().to_string()));
            cols.push((
                format!("{n}_ops_s"),
                format!("{:.0}", h.len() as f64 / self.wall_s),
            ));
            for (q, label) in [(0.5, "p50"), (0.99, "p99"), (0.999, "p999")] {
                let v = if h.is_empty() {
                    String::new()
                } else {
                    format!("{:.1}", us(h.value_at_quantile(q)))
                };
                cols.push((format!("{n}_{label}_us"), v));
            }
            cols.push((
                format!("{n}_errors"),
                self.stats.errors[op.index()].to_string(),
            ));
        }
        cols
    }

    pub fn csv_header(&self) -> String {
        let mut names: Vec<String> = self.config.iter().map(|(k, _)| k.to_string()).collect();
        names.extend(self.metrics().into_iter().map(|(k, _)| k));
        names.join(",")
    }

    pub fn csv_line(&self) -> String {
        let mut values: Vec<String> = self
            .config
            .iter()
            .map(|(_, v)| v.replace(',', ";"))
            .collect();
        values.extend(self.metrics().into_iter().map(|(_, v)| v));
        values.join(",")
    }

    /// The human table.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let config: Vec<String> = self
            .config
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        out.push_str(&format!("ticket rush: {}\n", config.join(" ")));
        out.push_str(&format!(
            "{:<8} {:>6} {:>10} {:>10} {:>10} {:>10} {:>10} {:>7}\n",
            "op", "share", "count", "ops/s", "p50 µs", "p99 µs", "p99.9 µs", "errors"
        ));
        let total: u32 = self.weights.iter().sum();
        let mut rows: Vec<(String, String, &Histogram<u64>, u64)> = Op::ALL
            .iter()
            .map(|&op| {
                let share = format!(
                    "{:.0}%",
                    100.0 * self.weights[op.index()] as f64 / total.max(1) as f64
                );
                (
                    op.name().to_string(),
                    share,
                    &self.stats.latency[op.index()],
                    self.stats.errors[op.index()],
                )
            })
            .collect();
        let all = self.stats.overall();
        rows.push(("all".into(), "100%".into(), &all, self.stats.total_errors()));
        for (name, share, h, errors) in rows {
            let q = |q: f64| {
                if h.is_empty() {
                    0.0
                } else {
                    us(h.value_at_quantile(q))
                }
            };
            out.push_str(&format!(
                "{:<8} {:>6} {:>10} {:>10.0} {:>10.1} {:>10.1} {:>10.1} {:>7}\n",
                name,
                share,
                h.len(),
                h.len() as f64 / self.wall_s,
                q(0.5),
                q(0.99),
                q(0.999),
                errors
            ));
        }
        let ops = self.ops() as f64;
        match self.server_cpu {
            Some(t) => out.push_str(&format!(
                "server CPU {:.2} s ({:.2} user, {:.2} system) over {:.2} s wall ({:.2} cores): \
                 {:.0} ops per server-CPU-second\n",
                t.total_s(),
                t.user_s,
                t.sys_s,
                self.wall_s,
                t.total_s() / self.wall_s,
                if t.total_s() > 0.0 {
                    ops / t.total_s()
                } else {
                    0.0
                }
            )),
            None => out.push_str("server CPU not measured (pass --server-pid)\n"),
        }
        out.push_str(&format!(
            "client CPU {:.2} s; admitted {}; seats locked {}, taken {}\n",
            self.client_cpu_s, self.stats.admitted, self.stats.seats_locked, self.stats.seats_taken
        ));
        out
    }
}
