//! Metrics in the Prometheus text format, served on their own HTTP port; `rpc` is the per-RPC
//! tower layer (span, W3C trace context, counts, latency) and `otel` the log and trace export.
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

mod otel;
mod rpc;

pub use otel::{Tracing, TracingError};
pub use rpc::{Rpc, RpcLayer, note_client_ids};

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

/// The process's metrics. One set per process: several servers in one process add up.
#[derive(Default)]
pub struct Metrics {
    rpcs: Mutex<BTreeMap<(String, String), Histogram>>,
    transitions: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    alerts: Mutex<BTreeMap<&'static str, u64>>,
    events_written: AtomicU64,
    subscribers: AtomicI64,
}

pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::default)
}

impl Metrics {
    fn observe_rpc(&self, method: &str, code: &str, seconds: f64) {
        let mut rpcs = self.rpcs.lock().unwrap_or_else(|e| e.into_inner());
        let h = rpcs
            .entry((method.to_string(), code.to_string()))
            .or_default();
        h.count += 1;
        h.sum += seconds;
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                h.counts[i] += 1;
            }
        }
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

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP clientstatus_rpc_requests_total gRPC calls by method and status code.\n",
        );
        out.push_str("# TYPE clientstatus_rpc_requests_total counter\n");
        let rpcs = self.rpcs.lock().unwrap_or_else(|e| e.into_inner());
        for ((method, code), h) in rpcs.iter() {
            let _ = writeln!(
                out,
                "clientstatus_rpc_requests_total{{method=\"{method}\",code=\"{code}\"}} {}",
                h.count
            );
        }
        out.push_str("# HELP clientstatus_rpc_duration_seconds gRPC call latency.\n");
        out.push_str("# TYPE clientstatus_rpc_duration_seconds histogram\n");
        for ((method, code), h) in rpcs.iter() {
            let labels = format!("method=\"{method}\",code=\"{code}\"");
            for (i, bound) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "clientstatus_rpc_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                out,
                "clientstatus_rpc_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "clientstatus_rpc_duration_seconds_sum{{{labels}}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "clientstatus_rpc_duration_seconds_count{{{labels}}} {}",
                h.count
            );
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
        out
    }
}

/// Serves `GET /metrics` on `listener` until the task is dropped. A deliberately small HTTP/1.1
/// responder: one request per connection, bounded request size.
pub async fn serve_metrics(listener: TcpListener) {
    loop {
        let Ok((mut socket, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            let mut read = 0;
            while read < buf.len() {
                match socket.read(&mut buf[read..]).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => read += n,
                }
                if buf[..read].windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
            let head = String::from_utf8_lossy(&buf[..read]);
            let (status, body) = if head.starts_with("GET /metrics ") {
                ("200 OK", metrics().render())
            } else {
                ("404 Not Found", "not found: try GET /metrics\n".to_string())
            };
            let response = format!(
                "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(response.as_bytes()).await;
        });
    }
}
