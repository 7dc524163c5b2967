//! Per-command latency histograms: `INFO latencystats` and `LATENCY HISTOGRAM`.
//!
//! Redis 7.0 keeps one HdrHistogram per command (1 ns to 1 s, two significant digits) and
//! reports percentiles as the bucket's highest equivalent value. usher keeps the same layout,
//! so the numbers read the same, but one histogram per command *per worker thread*, written
//! only by its own thread with plain relaxed loads and stores (no locked instruction on the
//! command path) and summed by whoever reads. The `hdrhistogram` crate's histograms are
//! single-writer values that another thread cannot read while they are written, which is why
//! this layout is written out here (it is the crate's and HdrHistogram_c's bucket math).
//! A histogram's 24 KiB are allocated on a command's first call on a thread.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// Smallest and largest values tracked, in ns (Redis's LATENCY_HISTOGRAM_MIN/MAX_VALUE).
const MIN_NS: u64 = 1;
const MAX_NS: u64 = 1_000_000_000;
/// Two significant digits: 256 sub-buckets, of which the upper half is new in each bucket.
const SUB_BUCKET_HALF_MAGNITUDE: u32 = 7;
const SUB_BUCKET_HALF: usize = 1 << SUB_BUCKET_HALF_MAGNITUDE;
const SUB_BUCKET_MASK: u64 = (2 * SUB_BUCKET_HALF as u64) - 1;
/// Buckets needed to reach MAX_NS: 256 << 22 > 1e9.
const BUCKETS: usize = 23;
const COUNTS: usize = (BUCKETS + 1) * SUB_BUCKET_HALF;

/// The bucket (power of two) holding `v`.
fn bucket_of(v: u64) -> u32 {
    63 - (v | SUB_BUCKET_MASK).leading_zeros() - SUB_BUCKET_HALF_MAGNITUDE
}

fn index_of(v: u64) -> usize {
    let bucket = bucket_of(v);
    let sub = (v >> bucket) as usize;
    (((bucket + 1) as usize) << SUB_BUCKET_HALF_MAGNITUDE) + sub - SUB_BUCKET_HALF
}

fn value_at_index(index: usize) -> u64 {
    let mut bucket = (index >> SUB_BUCKET_HALF_MAGNITUDE) as i64 - 1;
    let mut sub = (index & (SUB_BUCKET_HALF - 1)) + SUB_BUCKET_HALF;
    if bucket < 0 {
        sub -= SUB_BUCKET_HALF;
        bucket = 0;
    }
    (sub as u64) << bucket
}

fn lowest_equivalent(v: u64) -> u64 {
    let bucket = bucket_of(v);
    (v >> bucket) << bucket
}

fn highest_equivalent(v: u64) -> u64 {
    lowest_equivalent(v) + (1u64 << bucket_of(v)) - 1
}

/// One command's histogram on one thread, allocated on first use.
#[derive(Default)]
pub struct LatencyHistogram {
    counts: OnceLock<Box<[AtomicU64]>>,
}

impl LatencyHistogram {
    /// Records one call of `ns` nanoseconds. Only the owning thread calls this.
    #[inline]
    pub fn record(&self, ns: u64) {
        let counts = self
            .counts
            .get_or_init(|| (0..COUNTS).map(|_| AtomicU64::new(0)).collect());
        let slot = &counts[index_of(ns.clamp(MIN_NS, MAX_NS))];
        slot.store(
            slot.load(Ordering::Relaxed).wrapping_add(1),
            Ordering::Relaxed,
        );
    }

    /// Adds this histogram's counts into `into` (a [`Snapshot`] being summed over threads).
    pub fn add_to(&self, into: &mut Snapshot) {
        if let Some(counts) = self.counts.get() {
            let sums = into.counts.get_or_insert_with(|| vec![0; COUNTS]);
            for (sum, c) in sums.iter_mut().zip(counts.iter()) {
                let n = c.load(Ordering::Relaxed);
                *sum += n;
                into.total += n;
            }
        }
    }

    /// CONFIG RESETSTAT.
    pub fn reset(&self) {
        if let Some(counts) = self.counts.get() {
            counts.iter().for_each(|c| c.store(0, Ordering::Relaxed));
        }
    }
}

/// A command's histogram summed over threads, for reading.
#[derive(Default)]
pub struct Snapshot {
    /// `None` while no thread ever timed the command.
    counts: Option<Vec<u64>>,
    /// The sum of `counts`, kept as they are added.
    total: u64,
}

impl Snapshot {
    pub fn total(&self) -> u64 {
        self.total
    }

    /// HdrHistogram_c's `hdr_value_at_percentile`, in ns: the highest value equivalent to the
    /// one at `percentile` (the lowest for percentile 0).
    pub fn value_at_percentile(&self, percentile: f64) -> u64 {
        let Some(counts) = &self.counts else { return 0 };
        let wanted = ((percentile.min(100.0) / 100.0 * self.total as f64) + 0.5) as u64;
        let wanted = wanted.max(1);
        let mut seen = 0;
        for (index, &count) in counts.iter().enumerate() {
            seen += count;
            if seen >= wanted {
                let v = value_at_index(index);
                return if percentile == 0.0 {
                    lowest_equivalent(v)
                } else {
                    highest_equivalent(v)
                };
            }
        }
        0
    }

    /// Redis's `LATENCY HISTOGRAM` distribution: `(bucket_usec, cumulative calls)` at each
    /// power of two from 1024 ns (HdrHistogram's logarithmic iterator, base 2), skipping
    /// buckets that add no calls. A bucket is labelled with its highest equivalent value in
    /// whole microseconds (1, 2, 4, 8, 16, 33, 66, ...).
    pub fn cumulative_usec(&self) -> Vec<(u64, u64)> {
        self.cumulative_usec_with(true)
    }

    /// [`Snapshot::cumulative_usec`] at every level, also those that add no calls: the fixed
    /// bucket layout a Prometheus histogram wants (the same `le` set on every scrape).
    pub fn cumulative_usec_all(&self) -> Vec<(u64, u64)> {
        self.cumulative_usec_with(false)
    }

    fn cumulative_usec_with(&self, skip_empty: bool) -> Vec<(u64, u64)> {
        let empty = vec![0u64; COUNTS];
        let counts = match &self.counts {
            Some(c) => c,
            None if skip_empty => return Vec::new(),
            None => &empty,
        };
        let total = self.total;
        let mut out = Vec::new();
        let (mut level, mut index, mut seen, mut reported) = (1024u64, 0usize, 0u64, 0u64);
        while seen < total || index == 0 || !skip_empty {
            let last = index_of(level.min(MAX_NS)).min(COUNTS - 1);
            while index <= last {
                seen += counts[index];
                index += 1;
            }
            if seen > reported || !skip_empty {
                out.push((highest_equivalent(level) / 1000, seen));
                reported = seen;
            }
            if level >= MAX_NS {
                break;
            }
            level *= 2;
        }
        out
    }
}

/// A percentile as Redis prints it in `latency-tracking-info-percentiles` and INFO: `%f`
/// with trailing zeros (and a trailing point) removed: `50`, `99.9`, `33.333333`.
pub fn format_percentile(p: f64) -> String {
    let s = format!("{p:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot_of(values_ns: &[u64]) -> Snapshot {
        let h = LatencyHistogram::default();
        values_ns.iter().for_each(|&v| h.record(v));
        let mut s = Snapshot::default();
        h.add_to(&mut s);
        s
    }

    /// Figures redis-server 7.0.15 printed for calls of 1, 5, 7, 8 and 1011 µs (it records
    /// whole microseconds times 1000).
    #[test]
    fn percentiles_match_redis_figures() {
        for (us, p50) in [
            (1, 1003),
            (5, 5023),
            (7, 7007),
            (8, 8031),
            (1011, 1_011_711),
        ] {
            let s = snapshot_of(&[us * 1000]);
            assert_eq!(s.value_at_percentile(50.0), p50, "{us} µs");
        }
        assert_eq!(snapshot_of(&[5000]).value_at_percentile(0.0), 4992);
    }

    #[test]
    fn percentiles_split_a_distribution() {
        // 93 calls of 1 µs, 4 of 2, 1 of 4, 2 of 8: Redis's SET run in the module doc.
        let mut values = vec![1000; 93];
        values.extend([2000; 4]);
        values.push(4000);
        values.extend([8000; 2]);
        let s = snapshot_of(&values);
        assert_eq!(s.value_at_percentile(50.0), 1003);
        assert_eq!(s.value_at_percentile(99.0), 8031);
        assert_eq!(s.total(), 100);
        assert_eq!(
            s.cumulative_usec(),
            vec![(1, 93), (2, 97), (4, 98), (8, 100)]
        );
    }

    #[test]
    fn cumulative_buckets_use_redis_labels() {
        // Past the 1 s maximum a call counts as 1 s, in the last power of two's bucket.
        let s = snapshot_of(&[40_000, 70_000, 200_000, 5_000_000_000]);
        assert_eq!(
            s.cumulative_usec(),
            vec![(66, 1), (132, 2), (264, 3), (1_082_130, 4)]
        );
    }

    #[test]
    fn every_value_lands_in_a_bucket_that_covers_it() {
        for v in (1..5000).chain((1..60).map(|s| 1u64 << s).filter(|&v| v <= MAX_NS)) {
            let i = index_of(v);
            assert!(i < COUNTS, "{v}");
            let at = value_at_index(i);
            assert!(
                lowest_equivalent(at) <= v && v <= highest_equivalent(at),
                "{v}"
            );
        }
    }

    #[test]
    fn percentile_names_print_as_redis_prints_them() {
        let names: Vec<String> = [50.0, 99.9, 12.5, 100.0, 33.3333333, 0.0]
            .iter()
            .map(|&p| format_percentile(p))
            .collect();
        assert_eq!(names, ["50", "99.9", "12.5", "100", "33.333333", "0"]);
    }
}
