//! Redis's latency monitor: events that took at least `latency-monitor-threshold` ms, kept as a
//! short history per event class (LATENCY LATEST / HISTORY / RESET / DOCTOR / GRAPH).
//!
//! usher records the command classes Redis does (`command`, and `fast-command` for commands
//! flagged fast). Each class keeps its last 160 samples, at most one per second (the worst of
//! that second), and its all-time maximum. Only a command past the threshold takes the lock.
//!
//! LATENCY GRAPH draws a class's samples as Redis 7.0.15 does (`latencyCommandGenSparkeline`
//! in latency.c, `sparklineRender` in sparkline.c), character for character: see [`graph`].

use parking_lot::Mutex;
use std::collections::{BTreeMap, VecDeque};

/// Redis's LATENCY_TS_LEN.
const HISTORY: usize = 160;

#[derive(Default)]
struct Series {
    samples: VecDeque<(i64, u64)>,
    max_ms: u64,
}

#[derive(Default)]
pub struct LatencyMonitor {
    events: Mutex<BTreeMap<&'static str, Series>>,
}

impl LatencyMonitor {
    /// Adds a sample of `ms` for `event` at `now_s`.
    pub fn record(&self, event: &'static str, ms: u64, now_s: i64) {
        let mut events = self.events.lock();
        let series = events.entry(event).or_default();
        series.max_ms = series.max_ms.max(ms);
        match series.samples.back_mut() {
            Some((t, worst)) if *t == now_s => *worst = (*worst).max(ms),
            _ => {
                series.samples.push_back((now_s, ms));
                if series.samples.len() > HISTORY {
                    series.samples.pop_front();
                }
            }
        }
    }

    /// `(event, time of the latest sample, its ms, all-time max ms)`, by event name.
    pub fn latest(&self) -> Vec<(&'static str, i64, u64, u64)> {
        self.events
            .lock()
            .iter()
            .filter_map(|(name, s)| s.samples.back().map(|&(t, ms)| (*name, t, ms, s.max_ms)))
            .collect()
    }

    /// The samples of `event`, oldest first.
    pub fn history(&self, event: &[u8]) -> Vec<(i64, u64)> {
        self.events
            .lock()
            .iter()
            .find(|(name, _)| name.as_bytes() == event)
            .map(|(_, s)| s.samples.iter().copied().collect())
            .unwrap_or_default()
    }

    /// LATENCY GRAPH's text for `event` at `now_s` (unix seconds), or `None` for an event
    /// with no samples.
    pub fn graph(&self, event: &[u8], now_s: i64) -> Option<String> {
        let (name, samples, max_ms) = {
            let events = self.events.lock();
            let (name, s) = events.iter().find(|(name, _)| name.as_bytes() == event)?;
            (
                *name,
                s.samples.iter().copied().collect::<Vec<_>>(),
                s.max_ms,
            )
        };
        Some(graph(name, &samples, max_ms, now_s))
    }

    /// Drops the named events (all when none is named); returns how many were dropped.
    pub fn reset(&self, names: &[&[u8]]) -> usize {
        let mut events = self.events.lock();
        if names.is_empty() {
            let n = events.len();
            events.clear();
            return n;
        }
        let before = events.len();
        events.retain(|name, _| !names.contains(&name.as_bytes()));
        before - events.len()
    }

    /// LATENCY DOCTOR's report, in the spirit (and with the opening lines) of Redis's.
    pub fn doctor(&self, threshold_ms: u64) -> String {
        if threshold_ms == 0 {
            return "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n".to_string();
        }
        let events = self.events.lock();
        if events.values().all(|s| s.samples.is_empty()) {
            return "Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n".to_string();
        }
        let mut out = String::from(
            "Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n",
        );
        for (i, (name, s)) in events.iter().enumerate() {
            let n = s.samples.len() as u64;
            let avg = s.samples.iter().map(|(_, ms)| ms).sum::<u64>() / n.max(1);
            let period = match (s.samples.front(), s.samples.back()) {
                (Some((a, _)), Some((b, _))) if n > 1 => (b - a) / (n as i64 - 1),
                _ => 0,
            };
            out.push_str(&format!(
                "{}. {name}: {n} latency spikes (average {avg}ms, period {period} sec). Worst all time event {}ms.\n",
                i + 1,
                s.max_ms
            ));
        }
        out.push_str(&format!(
            "\nI have a few advices for you:\n\n- Check your slow log (SLOWLOG GET) for the commands that ran over {threshold_ms} milliseconds, and the waiting-room commands' batch sizes (one call moves at most 1000 users).\n"
        ));
        out
    }
}

/// Redis's LATENCY_GRAPH_COLS: samples per block of the chart (and the dashed line's width).
const GRAPH_COLS: usize = 80;
/// The chart's height in rows (`sparklineRender(..., 4, SPARKLINE_FILL)`).
const GRAPH_ROWS: usize = 4;
/// sparkline.c's `charset_fill`: the three levels within one row, from low to high. A row
/// below the level of a sample shows `|`, a row above it a space.
const CHARSET_FILL: &[u8] = b"_o#";

/// Redis's `latencyCommandGenSparkeline`: the header line, 80 dashes, then the samples
/// (oldest first) as a sparkline with each one's age under its column.
///
/// The header is `<event> - high <max> ms, low <min> ms (all time high <all-time max> ms)`,
/// with max and min over the samples held. Each sample's label is its age at `now_s`: `Ns`
/// under a minute, else `Nm` under an hour, `Nh` under a day, else `Nd` (whole units, rounded
/// down), written top to bottom under the column after one blank row. More than 80 samples
/// make more than one block of columns, separated by an empty line.
fn graph(event: &str, samples: &[(i64, u64)], all_time_max: u64, now_s: i64) -> String {
    let min = samples.iter().map(|&(_, ms)| ms).min().unwrap_or(0);
    let max = samples.iter().map(|&(_, ms)| ms).max().unwrap_or(0);
    let mut out = format!(
        "{event} - high {max} ms, low {min} ms (all time high {all_time_max} ms)\n{}\n",
        "-".repeat(GRAPH_COLS)
    );
    let labelled: Vec<(u64, String)> = samples
        .iter()
        .map(|&(t, ms)| (ms, age_label(now_s - t)))
        .collect();
    for (i, block) in labelled.chunks(GRAPH_COLS).enumerate() {
        if i != 0 {
            out.push('\n');
        }
        sparkline_block(&mut out, block, min as f64, max as f64);
    }
    out
}

/// How long ago a sample was taken, as latency.c labels it.
fn age_label(elapsed: i64) -> String {
    match elapsed {
        e if e < 60 => format!("{e}s"),
        e if e < 3600 => format!("{}m", e / 60),
        e if e < 3600 * 24 => format!("{}h", e / 3600),
        e => format!("{}d", e / (3600 * 24)),
    }
}

/// sparkline.c's `sparklineRenderRange` with SPARKLINE_FILL (no log scale): `GRAPH_ROWS` rows
/// of chart, then, as every sample has a label, one blank row and the labels written
/// vertically, as many rows as the longest needs. `min` and `max` span the whole sequence.
/// Every row is as wide as the block, trailing spaces included.
fn sparkline_block(out: &mut String, block: &[(u64, String)], min: f64, max: f64) {
    let charset_len = CHARSET_FILL.len() as i32;
    let steps = charset_len * GRAPH_ROWS as i32;
    let relmax = if max - min == 0.0 { 1.0 } else { max - min };
    // `step = (int) (relval*steps)/relmax;`: the product is truncated to an int first (x86's
    // conversion gives INT_MIN past its range), then divided as a double and truncated again.
    let step = |value: u64| -> i32 {
        let scaled = (value as f64 - min) * steps as f64;
        let scaled = if scaled >= 2_147_483_648.0 {
            i32::MIN
        } else {
            scaled as i32
        };
        ((scaled as f64 / relmax) as i32).clamp(0, steps - 1)
    };
    let steps_of: Vec<i32> = block.iter().map(|&(ms, _)| step(ms)).collect();
    for row in 0..GRAPH_ROWS as i32 {
        let line = steps_of.iter().map(|&step| {
            let charidx = step - (GRAPH_ROWS as i32 - row - 1) * charset_len;
            if charidx < 0 {
                ' '
            } else if charidx < charset_len {
                CHARSET_FILL[charidx as usize] as char
            } else {
                '|'
            }
        });
        out.extend(line);
        out.push('\n');
    }
    // label_margin_top: one blank row between the chart and the labels.
    out.push_str(&" ".repeat(block.len()));
    out.push('\n');
    for k in 0.. {
        if block.iter().all(|(_, label)| label.len() <= k) {
            break;
        }
        out.extend(
            block
                .iter()
                .map(|(_, label)| label.as_bytes().get(k).map_or(' ', |&b| b as char)),
        );
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000;

    fn lines(text: &str) -> Vec<&str> {
        text.strip_suffix('\n')
            .expect("ends in a newline")
            .split('\n')
            .collect()
    }

    /// Worked by hand from sparkline.c: min 10, max 50, so relmax = 40 and each sample's step
    /// is (int)((ms - 10) * 12) / 40, capped at 11: 30 -> 6, 10 -> 0, 50 -> 12 -> 11,
    /// 20 -> 3, 40 -> 9. Row r (0 at the top) shows charidx = step - (3 - r) * 3 of "_o#",
    /// `|` past it, a space below 0. Then a blank row and the labels top to bottom: the ages
    /// 172805 s -> "2d", 3700 s -> "1h", 200 s -> "3m", 59 s -> "59s", 0 s -> "0s".
    #[test]
    fn graph_matches_redis_sparkline() {
        let samples = [
            (NOW - 172_805, 30),
            (NOW - 3_700, 10),
            (NOW - 200, 50),
            (NOW - 59, 20),
            (NOW, 40),
        ];
        let text = graph("command", &samples, 70, NOW);
        let dashes = "-".repeat(80);
        assert_eq!(
            lines(&text),
            [
                "command - high 50 ms, low 10 ms (all time high 70 ms)",
                dashes.as_str(),
                "  # _",
                "_ | |",
                "| |_|",
                "|_|||",
                "     ",
                "21350",
                "dhm9s",
                "   s ",
            ]
        );
    }

    /// One sample (or all equal): relmax 0 becomes 1, every step is 0, so only the bottom row
    /// has a `_`. Min 1, max 8: relmax 7, 4 ms -> (int)(3 * 12) / 7 = 5.14 -> 5, which is `#`
    /// on the third row (5 - 3 = 2) and `|` on the bottom one.
    #[test]
    fn flat_and_fractional_steps() {
        let text = graph("fast-command", &[(NOW - 1, 7)], 7, NOW);
        assert_eq!(
            lines(&text)[2..],
            [" ", " ", " ", "_", " ", "1", "s"],
            "{text}"
        );
        let text = graph(
            "command",
            &[(NOW - 3, 1), (NOW - 2, 4), (NOW - 1, 8)],
            9,
            NOW,
        );
        assert_eq!(
            lines(&text),
            [
                "command - high 8 ms, low 1 ms (all time high 9 ms)",
                "-".repeat(80).as_str(),
                "  #",
                "  |",
                " #|",
                "_||",
                "   ",
                "321",
                "sss",
            ]
        );
    }

    /// 81 samples: sparklineRender draws 80 columns, an empty line, then the last column;
    /// min and max (5 and 9) span the whole sequence, so the last sample is step 11 (`#` on
    /// top) and the others step 0.
    #[test]
    fn more_than_eighty_samples_wrap() {
        let mut samples: Vec<(i64, u64)> = (0..80).map(|i| (NOW - 200 + i, 5)).collect();
        samples.push((NOW - 5, 9));
        let text = graph("command", &samples, 9, NOW);
        let (blank, low) = (" ".repeat(80), "_".repeat(80));
        let mut expected = vec![
            "command - high 9 ms, low 5 ms (all time high 9 ms)".to_string(),
            "-".repeat(80),
            blank.clone(),
            blank.clone(),
            blank.clone(),
            low,
            blank,
        ];
        // Ages 200 s down to 121 s: "3m" for 180 s and over, "2m" below.
        let ages: Vec<String> = (0..80).map(|i| format!("{}m", (200 - i) / 60)).collect();
        for k in 0..2 {
            expected.push(ages.iter().map(|a| a.as_bytes()[k] as char).collect());
        }
        expected.extend(["", "#", "|", "|", "|", " ", "5", "s"].map(String::from));
        assert_eq!(lines(&text), expected);
    }

    #[test]
    fn age_labels() {
        let cases = [
            (0, "0s"),
            (59, "59s"),
            (60, "1m"),
            (3599, "59m"),
            (3600, "1h"),
            (86_399, "23h"),
            (86_400, "1d"),
            (-2, "-2s"),
        ];
        for (elapsed, label) in cases {
            assert_eq!(age_label(elapsed), label);
        }
    }

    #[test]
    fn monitor_graph_reads_the_recorded_samples() {
        let m = LatencyMonitor::default();
        assert_eq!(m.graph(b"command", NOW), None);
        m.record("command", 12, NOW - 2);
        m.record("command", 30, NOW - 2); // the worst of that second
        m.record("command", 3, NOW);
        let text = m.graph(b"command", NOW).expect("samples");
        assert_eq!(
            lines(&text)[0],
            "command - high 30 ms, low 3 ms (all time high 30 ms)"
        );
        assert_eq!(
            lines(&text)[2..],
            ["# ", "| ", "| ", "|_", "  ", "20", "ss"]
        );
        assert_eq!(m.graph(b"COMMAND", NOW), None);
        m.reset(&[]);
        assert_eq!(m.graph(b"command", NOW), None);
    }
}
