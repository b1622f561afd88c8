//! The relay's Prometheus series, rendered by `telemetry` after its own. A process that runs
//! no relay shows none of them.
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

use crate::store::Stream;

#[derive(Default)]
struct PerStream {
    published: AtomicU64,
    skipped: AtomicU64,
    lag: AtomicI64,
}

#[derive(Default)]
pub struct RelayMetrics {
    configured: AtomicBool,
    leader: AtomicBool,
    takeovers: AtomicU64,
    status: PerStream,
    alerts: PerStream,
}

pub fn relay() -> &'static RelayMetrics {
    static METRICS: std::sync::OnceLock<RelayMetrics> = std::sync::OnceLock::new();
    METRICS.get_or_init(RelayMetrics::default)
}

impl RelayMetrics {
    fn stream(&self, stream: Stream) -> &PerStream {
        match stream {
            Stream::Status => &self.status,
            Stream::Alerts => &self.alerts,
        }
    }

    pub fn configured(&self) {
        self.configured.store(true, Ordering::Relaxed);
    }

    /// This process relays from now on (`true`) or no longer does.
    pub fn leading(&self, leading: bool) {
        if leading && !self.leader.swap(true, Ordering::Relaxed) {
            self.takeovers.fetch_add(1, Ordering::Relaxed);
        }
        if !leading {
            self.leader.store(false, Ordering::Relaxed);
        }
    }

    pub fn published(&self, stream: Stream) {
        self.stream(stream)
            .published
            .fetch_add(1, Ordering::Relaxed);
    }

    pub fn skipped(&self, stream: Stream, n: u64) {
        self.stream(stream).skipped.fetch_add(n, Ordering::Relaxed);
    }

    /// The stream's newest sequence minus the last one stored in JetStream.
    pub fn lag(&self, stream: Stream, lag: i64) {
        self.stream(stream).lag.store(lag.max(0), Ordering::Relaxed);
    }

    pub fn render(&self, out: &mut String) {
        if !self.configured.load(Ordering::Relaxed) {
            return;
        }
        let leader = self.leader.load(Ordering::Relaxed);
        out.push_str(
            "# HELP clientstatus_relay_leader 1 while this process relays to JetStream.\n",
        );
        out.push_str("# TYPE clientstatus_relay_leader gauge\n");
        let _ = writeln!(out, "clientstatus_relay_leader {}", u8::from(leader));
        out.push_str(
            "# HELP clientstatus_relay_takeovers_total Times this process became the relay.\n",
        );
        out.push_str("# TYPE clientstatus_relay_takeovers_total counter\n");
        let _ = writeln!(
            out,
            "clientstatus_relay_takeovers_total {}",
            self.takeovers.load(Ordering::Relaxed)
        );
        let streams = [Stream::Status, Stream::Alerts];
        out.push_str(
            "# HELP clientstatus_relay_published_total Entries this process stored in JetStream.\n",
        );
        out.push_str("# TYPE clientstatus_relay_published_total counter\n");
        for s in streams {
            let n = self.stream(s).published.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "clientstatus_relay_published_total{{stream=\"{}\"}} {n}",
                s.name()
            );
        }
        out.push_str(
            "# HELP clientstatus_relay_skipped_total Entries retention removed from the database \
             before they were relayed.\n",
        );
        out.push_str("# TYPE clientstatus_relay_skipped_total counter\n");
        for s in streams {
            let n = self.stream(s).skipped.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "clientstatus_relay_skipped_total{{stream=\"{}\"}} {n}",
                s.name()
            );
        }
        // Only the relaying replica knows its lag; the others show none rather than a 0 that
        // would hide a stuck relay in a max() over replicas.
        out.push_str(
            "# HELP clientstatus_relay_lag Newest sequence of each stream minus the last one \
             stored in JetStream (only on the relaying replica).\n",
        );
        out.push_str("# TYPE clientstatus_relay_lag gauge\n");
        if leader {
            for s in streams {
                let n = self.stream(s).lag.load(Ordering::Relaxed);
                let _ = writeln!(out, "clientstatus_relay_lag{{stream=\"{}\"}} {n}", s.name());
            }
        }
    }
}
