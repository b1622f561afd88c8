//! The alert scheduler: raises time-based alerts when due and applies stream retention. Every
//! server process runs one; the store makes each alert happen once however many run.
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::clock::Clock;
use crate::domain::alerts::AlertSettings;
use crate::store::Store;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchedulerSettings {
    pub alerts: AlertSettings,
    /// How often due timers are looked for (the lateness bound of a time-based alert).
    pub poll_interval: Duration,
    /// Stream entries older than this are removed; `None` keeps them for ever.
    pub retention: Option<chrono::Duration>,
    /// Answered-request records older than this are removed.
    pub request_retention: chrono::Duration,
}

/// How often retention runs, at most (by the service's clock, like the retention itself).
const PRUNE_EVERY: chrono::Duration = chrono::Duration::seconds(60);

pub async fn run<S: Store>(
    store: Arc<S>,
    clock: Arc<dyn Clock>,
    settings: SchedulerSettings,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut last_prune: Option<chrono::DateTime<chrono::Utc>> = None;
    loop {
        if *shutdown.borrow_and_update() {
            return;
        }
        let now = clock.now();
        match store.raise_due_alerts(now, &settings.alerts).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(raised = n, "time-based alerts raised"),
            Err(e) => tracing::warn!(error = %e, "raising due alerts failed; will retry"),
        }
        if last_prune.is_none_or(|t| now - t >= PRUNE_EVERY) {
            last_prune = Some(now);
            if let Some(retention) = settings.retention
                && let Err(e) = store.prune_streams(now - retention).await
            {
                tracing::warn!(error = %e, "stream retention failed; will retry");
            }
            prune_requests(&*store, now - settings.request_retention, &mut shutdown).await;
        }
        tokio::select! {
            _ = tokio::time::sleep(settings.poll_interval) => {}
            Ok(()) = shutdown.changed() => {}
        }
    }
}

/// Removes request records older than `cutoff`, a bounded batch per transaction (other writes
/// go between batches), until none is left or the server stops.
async fn prune_requests<S: Store>(
    store: &S,
    cutoff: chrono::DateTime<chrono::Utc>,
    shutdown: &mut watch::Receiver<bool>,
) {
    loop {
        match store.prune_requests(cutoff).await {
            Ok(removed) if removed < crate::store::sql::write::PRUNE_BATCH as u64 => return,
            Ok(_) if *shutdown.borrow() => return,
            Ok(_) => tokio::task::yield_now().await,
            Err(e) => {
                tracing::warn!(error = %e, "request retention failed; will retry");
                return;
            }
        }
    }
}
