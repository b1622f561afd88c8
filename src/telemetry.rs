//! Metrics in the Prometheus text format, served on their own HTTP port; `rpc` is the per-RPC
//! tower layer (span, W3C trace context, counts, latency) and `otel` the log and trace export.
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::future::Future;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Instant;

mod calls;
mod http;
mod otel;
mod process;
mod rpc;

pub use http::serve_metrics;
pub use otel::{Tracing, TracingError};
pub use rpc::{Rpc, RpcLayer, note_client_ids, note_principal};

/// Latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        self.count += 1;
        self.sum += seconds;
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                self.counts[i] += 1;
            }
        }
    }

    /// The `_bucket`, `_sum` and `_count` lines of one labelled series.
    fn render(&self, out: &mut String, name: &str, labels: &str) {
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
const BATCH_BUCKETS: [u64; 8] = [1, 2, 4, 8, 16, 32, 64, 128];

#[derive(Default)]
struct Sizes {
    counts: [u64; BATCH_BUCKETS.len()],
    count: u64,
    sum: u64,
}

impl Sizes {
    fn observe(&mut self, size: u64) {
        self.count += 1;
        self.sum += size;
        for (i, bound) in BATCH_BUCKETS.iter().enumerate() {
            if size <= *bound {
                self.counts[i] += 1;
            }
        }
    }
}

/// A connection pool's state when sampled.
pub struct PoolSample {
    pub size: u32,
    pub idle: u32,
    pub max: u32,
}

/// Samples one pool; `None` once the pool is closed (and then forgotten).
type PoolProbe = Box<dyn Fn() -> Option<PoolSample> + Send + Sync>;

/// A stream subscriber's place, for the lag gauge: the newest sequence of its stream it knows
/// of, and the newest it has handed to its consumer's queue or skipped past by its filter.
#[derive(Debug, Default)]
pub struct StreamPosition {
    head: AtomicI64,
    position: AtomicI64,
}

impl StreamPosition {
    /// The stream's newest sequence, as last read.
    pub fn saw_head(&self, seq: i64) {
        self.head.fetch_max(seq, Ordering::Relaxed);
    }

    /// Everything up to `seq` has been queued for the consumer (or filtered out).
    pub fn reached(&self, seq: i64) {
        self.position.fetch_max(seq, Ordering::Relaxed);
    }

    fn lag(&self) -> i64 {
        (self.head.load(Ordering::Relaxed) - self.position.load(Ordering::Relaxed)).max(0)
    }
}

/// The streams, by the name used in the metrics' `stream` label.
const STREAMS: [&str; 2] = ["status", "alerts"];

/// The process's metrics. One set per process: several servers in one process add up.
#[derive(Default)]
pub struct Metrics {
    /// By (service, method, code): names from `calls`, so the set is bounded.
    rpcs: Mutex<BTreeMap<(&'static str, &'static str, &'static str), Histogram>>,
    transitions: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    alerts: Mutex<BTreeMap<&'static str, u64>>,
    events_written: AtomicU64,
    subscribers: AtomicI64,
    pools: Mutex<Vec<(&'static str, PoolProbe)>>,
    commits: Mutex<BTreeMap<&'static str, Histogram>>,
    batches: Mutex<Sizes>,
    positions: Mutex<Vec<(&'static str, Weak<StreamPosition>)>>,
}

pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::default)
}

impl Metrics {
    fn observe_rpc(
        &self,
        service: &'static str,
        method: &'static str,
        code: &'static str,
        seconds: f64,
    ) {
        self.rpcs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((service, method, code))
            .or_default()
            .observe(seconds);
    }

    /// A committed stage change (counted when its event is written). Also noted on the span
    /// of the RPC that made it.
    pub fn stage_transition(&self, from: &'static str, to: &'static str) {
        rpc::note_stage_change(from, to);
        *self
            .transitions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((from, to))
            .or_default() += 1;
        self.events_written.fetch_add(1, Ordering::Relaxed);
    }

    pub fn status_event(&self) {
        self.events_written.fetch_add(1, Ordering::Relaxed);
    }

    pub fn alert_raised(&self, kind: &'static str) {
        *self
            .alerts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(kind)
            .or_default() += 1;
    }

    pub fn subscriber_joined(&self) {
        self.subscribers.fetch_add(1, Ordering::Relaxed);
    }

    pub fn subscriber_left(&self) {
        self.subscribers.fetch_sub(1, Ordering::Relaxed);
    }

    /// Reports `pool`'s connections (in use, idle, maximum) under `name` until it is closed.
    /// Pools of one name add up (several servers in one process).
    pub fn watch_pool<DB: sqlx::Database>(&self, name: &'static str, pool: &sqlx::Pool<DB>) {
        let pool = pool.clone();
        self.watch_connections(name, move || {
            (!pool.is_closed()).then(|| PoolSample {
                size: pool.size(),
                idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
                max: pool.options().get_max_connections(),
            })
        });
    }

    /// Reports connections that are not a sqlx pool (the SQLite writer's one connection) as
    /// a pool; `probe` answers `None` once they are closed for good.
    pub fn watch_connections(
        &self,
        name: &'static str,
        probe: impl Fn() -> Option<PoolSample> + Send + Sync + 'static,
    ) {
        let mut pools = self.pools.lock().unwrap_or_else(|e| e.into_inner());
        pools.retain(|(_, probe)| probe().is_some());
        pools.push((name, Box::new(probe)));
    }

    /// A subscriber of `stream` starting after `after`; its lag counts while the result lives.
    pub fn stream_position(&self, stream: &'static str, after: i64) -> Arc<StreamPosition> {
        let position = Arc::new(StreamPosition::default());
        position.saw_head(after);
        position.reached(after);
        let mut positions = self.positions.lock().unwrap_or_else(|e| e.into_inner());
        positions.retain(|(_, p)| p.strong_count() > 0);
        positions.push((stream, Arc::downgrade(&position)));
        position
    }

    /// One group-committed transaction of `writes` writes (the SQLite writer).
    pub fn commit_batch(&self, writes: usize) {
        self.batches
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .observe(writes as u64);
    }

    fn commit_took(&self, op: &'static str, seconds: f64) {
        self.commits
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(op)
            .or_default()
            .observe(seconds);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        process::render(&mut out);
        let _ = writeln!(
            out,
            "# HELP clientstatus_build_info The running build: version and git commit.\n\
             # TYPE clientstatus_build_info gauge\n\
             clientstatus_build_info{{version=\"{}\",commit=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION"),
            env!("CLIENTSTATUS_GIT_COMMIT")
        );
        out.push_str(
            "# HELP clientstatus_rpc_requests_total gRPC calls by service, method and status \
             code, counted when they end (streams too).\n",
        );
        out.push_str("# TYPE clientstatus_rpc_requests_total counter\n");
        let rpcs = self.rpcs.lock().unwrap_or_else(|e| e.into_inner());
        for ((service, method, code), h) in rpcs.iter() {
            let _ = writeln!(
                out,
                "clientstatus_rpc_requests_total{{service=\"{service}\",method=\"{method}\",code=\"{code}\"}} {}",
                h.count
            );
        }
        out.push_str(
            "# HELP clientstatus_rpc_duration_seconds gRPC call latency, to the end of the \
             response (a stream's whole life).\n",
        );
        out.push_str("# TYPE clientstatus_rpc_duration_seconds histogram\n");
        for ((service, method, code), h) in rpcs.iter() {
            let labels = format!("service=\"{service}\",method=\"{method}\",code=\"{code}\"");
            h.render(&mut out, "clientstatus_rpc_duration_seconds", &labels);
        }
        drop(rpcs);
        out.push_str(
            "# HELP clientstatus_stage_transitions_total Committed stage changes by from and to.\n",
        );
        out.push_str("# TYPE clientstatus_stage_transitions_total counter\n");
        for ((from, to), n) in self
            .transitions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "clientstatus_stage_transitions_total{{from=\"{from}\",to=\"{to}\"}} {n}"
            );
        }
        out.push_str(
            "# HELP clientstatus_status_events_written_total Status-change events committed.\n",
        );
        out.push_str("# TYPE clientstatus_status_events_written_total counter\n");
        let _ = writeln!(
            out,
            "clientstatus_status_events_written_total {}",
            self.events_written.load(Ordering::Relaxed)
        );
        out.push_str("# HELP clientstatus_alerts_raised_total Alerts raised by kind.\n");
        out.push_str("# TYPE clientstatus_alerts_raised_total counter\n");
        for (kind, n) in self.alerts.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let _ = writeln!(
                out,
                "clientstatus_alerts_raised_total{{kind=\"{kind}\"}} {n}"
            );
        }
        out.push_str("# HELP clientstatus_stream_subscribers Open stream subscriptions.\n");
        out.push_str("# TYPE clientstatus_stream_subscribers gauge\n");
        let _ = writeln!(
            out,
            "clientstatus_stream_subscribers {}",
            self.subscribers.load(Ordering::Relaxed)
        );
        self.render_streams(&mut out);
        self.render_database(&mut out);
        crate::relay::render_metrics(&mut out);
        out
    }

    fn render_streams(&self, out: &mut String) {
        let mut lag: BTreeMap<&str, i64> = STREAMS.iter().map(|s| (*s, 0)).collect();
        let mut positions = self.positions.lock().unwrap_or_else(|e| e.into_inner());
        positions.retain(|(_, p)| p.strong_count() > 0);
        for (stream, position) in positions.iter() {
            if let Some(p) = position.upgrade() {
                let max = lag.entry(stream).or_default();
                *max = (*max).max(p.lag());
            }
        }
        drop(positions);
        out.push_str(
            "# HELP clientstatus_stream_subscriber_lag_max How many sequences the furthest-behind \
             subscriber of each stream is behind the stream's newest entry.\n",
        );
        out.push_str("# TYPE clientstatus_stream_subscriber_lag_max gauge\n");
        for (stream, n) in lag {
            let _ = writeln!(
                out,
                "clientstatus_stream_subscriber_lag_max{{stream=\"{stream}\"}} {n}"
            );
        }
    }

    fn render_database(&self, out: &mut String) {
        let mut pools: BTreeMap<&str, PoolSample> = BTreeMap::new();
        let mut probes = self.pools.lock().unwrap_or_else(|e| e.into_inner());
        probes.retain(|(name, probe)| match probe() {
            Some(sample) => {
                let total = pools.entry(name).or_insert(PoolSample {
                    size: 0,
                    idle: 0,
                    max: 0,
                });
                total.size += sample.size;
                total.idle += sample.idle.min(sample.size);
                total.max += sample.max;
                true
            }
            None => false,
        });
        drop(probes);
        out.push_str(
            "# HELP clientstatus_db_pool_connections Open database connections by pool and state.\n",
        );
        out.push_str("# TYPE clientstatus_db_pool_connections gauge\n");
        for (pool, s) in &pools {
            let _ = writeln!(
                out,
                "clientstatus_db_pool_connections{{pool=\"{pool}\",state=\"in_use\"}} {}",
                s.size - s.idle
            );
            let _ = writeln!(
                out,
                "clientstatus_db_pool_connections{{pool=\"{pool}\",state=\"idle\"}} {}",
                s.idle
            );
        }
        out.push_str(
            "# HELP clientstatus_db_pool_max_connections Most connections each pool may open.\n",
        );
        out.push_str("# TYPE clientstatus_db_pool_max_connections gauge\n");
        for (pool, s) in &pools {
            let _ = writeln!(
                out,
                "clientstatus_db_pool_max_connections{{pool=\"{pool}\"}} {}",
                s.max
            );
        }
        out.push_str(
            "# HELP clientstatus_db_commit_duration_seconds Time to commit a write transaction.\n",
        );
        out.push_str("# TYPE clientstatus_db_commit_duration_seconds histogram\n");
        for (op, h) in self
            .commits
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            h.render(
                out,
                "clientstatus_db_commit_duration_seconds",
                &format!("op=\"{op}\""),
            );
        }
        out.push_str(
            "# HELP clientstatus_db_commit_batch_writes Writes per group-committed transaction \
             (SQLite).\n",
        );
        out.push_str("# TYPE clientstatus_db_commit_batch_writes histogram\n");
        let batches = self.batches.lock().unwrap_or_else(|e| e.into_inner());
        for (i, bound) in BATCH_BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "clientstatus_db_commit_batch_writes_bucket{{le=\"{bound}\"}} {}",
                batches.counts[i]
            );
        }
        let _ = writeln!(
            out,
            "clientstatus_db_commit_batch_writes_bucket{{le=\"+Inf\"}} {}",
            batches.count
        );
        let _ = writeln!(
            out,
            "clientstatus_db_commit_batch_writes_sum {}",
            batches.sum
        );
        let _ = writeln!(
            out,
            "clientstatus_db_commit_batch_writes_count {}",
            batches.count
        );
    }
}

/// Awaits a transaction's `commit` and records how long it took under `op` (the store
/// operation: `execute`, `raise_due_alerts`).
pub async fn timed_commit<T>(op: &'static str, commit: impl Future<Output = T>) -> T {
    let started = Instant::now();
    let result = commit.await;
    metrics().commit_took(op, started.elapsed().as_secs_f64());
    result
}
