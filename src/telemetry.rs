//! Metrics in the Prometheus text format, served on their own HTTP port; `rpc` is the per-RPC
//! tower layer (span, W3C trace context, counts, latency) and `otel` the log and trace export.
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Instant;

mod calls;
mod histogram;
mod http;
mod log_writer;
mod otel;
mod process;
mod render;
mod rpc;

use histogram::{Histogram, Sizes};

pub use http::serve_metrics;
pub use otel::{Tracing, TracingError};
pub use rpc::{Rpc, RpcLayer, note_client_ids, note_principal};

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
}

/// Awaits a transaction's `commit` and records how long it took under `op` (the store
/// operation: `execute`, `raise_due_alerts`).
pub async fn timed_commit<T>(op: &'static str, commit: impl Future<Output = T>) -> T {
    let started = Instant::now();
    let result = commit.await;
    metrics().commit_took(op, started.elapsed().as_secs_f64());
    result
}
