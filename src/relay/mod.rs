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

use lease::{Candidate, TAKEOVER_POLL};
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

/// Competes for leadership; while it has it, runs a session; after a failed session gives it
/// up, waits, and competes again.
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
                let ended = pump::session(&store, &settings, &url, &lease, shutdown.clone()).await;
                metrics::relay().leading(false);
                drop(lease);
                match ended {
                    Ok(()) => TAKEOVER_POLL,
                    Err(e @ (SinkError::PositionLost(_) | SinkError::Foreign(_))) => {
                        tracing::error!(error = %e, "the relay stopped; it needs an operator");
                        RETRY_LATER
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "relay session failed; will retry");
                        RETRY_SOON
                    }
                }
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
