//! The Prometheus text exposition of [`Metrics`].
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use super::histogram::BATCH_BUCKETS;
use super::{Metrics, PoolSample, STREAMS, process};

impl Metrics {
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
