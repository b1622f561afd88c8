//! The NATS JetStream relay: every status event and alert, in sequence order, published to a
//! JetStream stream by one replica at a time. `lease` decides which replica relays, `sink`
//! talks to JetStream, `pump` moves entries from the store to it, `message` shapes what is
//! published. docs/relay.md describes the subjects, headers, resume and failure behaviour.
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::store::Store;

mod lease;
mod message;
mod metrics;
mod pump;
mod settings;
mod sink;

pub use message::{ALERTS_THROUGH, GAP, SEQUENCE, STATUS_THROUGH, STREAM, TYPE};
pub use settings::{Format, RelaySettings};

use lease::{Candidate, Lease, TAKEOVER_POLL};
use sink::SinkError;

/// How long a replica waits after a failed session before competing again: briefly for a
/// passing fault, longer for one an operator must fix (the log says which).
const RETRY_SOON: Duration = Duration::from_secs(1);
const RETRY_LATER: Duration = Duration::from_secs(15);

/// Starts the relay when the settings name a NATS server; it ends when `shutdown` turns true.
pub fn start<S: Store>(
    store: Arc<S>,
    database_url: &str,
    settings: &RelaySettings,
    shutdown: watch::Receiver<bool>,
) -> Result<Option<JoinHandle<()>>, String> {
    let Some(url) = settings.relay_nats_url.clone() else {
        return Ok(None);
    };
    let candidate = Candidate::for_database(database_url, &settings.relay_stream)?;
    metrics::relay().configured();
    let settings = settings.clone();
    Ok(Some(tokio::spawn(supervise(
        store, candidate, settings, url, shutdown,
    ))))
}

/// Renders the relay's metrics (a hook for `telemetry::Metrics::render`).
pub fn render_metrics(out: &mut String) {
    metrics::relay().render(out);
}

/// Competes for leadership, and relays while it has it.
async fn supervise<S: Store>(
    store: Arc<S>,
    mut candidate: Candidate,
    settings: RelaySettings,
    url: String,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        if *shutdown.borrow_and_update() {
            return;
        }
        let wait = match candidate.try_acquire().await {
            Ok(Some(lease)) => {
                tracing::info!(stream = %settings.relay_stream, "this replica relays to JetStream");
                metrics::relay().leading(true);
                lead(&store, &settings, &url, &lease, shutdown.clone()).await;
                metrics::relay().leading(false);
                TAKEOVER_POLL
            }
            Ok(None) => TAKEOVER_POLL,
            Err(e) => {
                tracing::warn!(error = %e, "relay cannot reach Postgres for its lock; will retry");
                TAKEOVER_POLL
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            changed = shutdown.changed() => if changed.is_err() { return },
        }
    }
}

/// While the lease holds: runs sessions, each after the last one failed, keeping the lag metric
/// current meanwhile (it grows while JetStream cannot be reached).
async fn lead<S: Store>(
    store: &Arc<S>,
    settings: &RelaySettings,
    url: &str,
    lease: &Lease,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut known = None;
    let mut lost = lease.lost();
    loop {
        let Err(e) = pump::session(store, settings, url, lease, &mut known, shutdown.clone()).await
        else {
            return;
        };
        let wait = if matches!(e, SinkError::PositionLost(_) | SinkError::Foreign(_)) {
            tracing::error!(error = %e, "the relay cannot go on; it needs an operator");
            RETRY_LATER
        } else {
            tracing::warn!(error = %e, "relay session failed; will retry");
            RETRY_SOON
        };
        if let Some(position) = known {
            let _ = pump::report_lag(store, &position).await;
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = lost.changed() => return,
            _ = shutdown.changed() => return,
        }
        if *lost.borrow() || *shutdown.borrow() {
            return;
        }
    }
}
