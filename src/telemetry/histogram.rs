//! Fixed-bucket histograms: call latencies and group-commit batch sizes.
use std::fmt::Write as _;

/// Latency buckets, in seconds.
pub(super) const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Default)]
pub(super) struct Histogram {
    pub(super) counts: [u64; BUCKETS.len()],
    pub(super) count: u64,
    pub(super) sum: f64,
}

impl Histogram {
    pub(super) fn observe(&mut self, seconds: f64) {
        self.count += 1;
        self.sum += seconds;
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                self.counts[i] += 1;
            }
        }
    }

    /// The `_bucket`, `_sum` and `_count` lines of one labelled series.
    pub(super) fn render(&self, out: &mut String, name: &str, labels: &str) {
        for (i, bound) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels},le=\"{bound}\"}} {}",
                self.counts[i]
            );
        }
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count);
    }
}

/// Writes per group-committed transaction.
pub(super) const BATCH_BUCKETS: [u64; 8] = [1, 2, 4, 8, 16, 32, 64, 128];

#[derive(Default)]
pub(super) struct Sizes {
    pub(super) counts: [u64; BATCH_BUCKETS.len()],
    pub(super) count: u64,
    pub(super) sum: u64,
}

impl Sizes {
    pub(super) fn observe(&mut self, size: u64) {
        self.count += 1;
        self.sum += size;
        for (i, bound) in BATCH_BUCKETS.iter().enumerate() {
            if size <= *bound {
                self.counts[i] += 1;
            }
        }
    }
}
