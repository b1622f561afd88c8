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
}

/// How often retention runs, at most.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

pub async fn run<S: Store>(
    store: Arc<S>,
    clock: Arc<dyn Clock>,
    settings: SchedulerSettings,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut last_prune: Option<tokio::time::Instant> = None;
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
        if let Some(retention) = settings.retention
            && last_prune.is_none_or(|t| t.elapsed() >= PRUNE_EVERY)
        {
            last_prune = Some(tokio::time::Instant::now());
            if let Err(e) = store.prune_streams(now - retention).await {
                tracing::warn!(error = %e, "stream retention failed; will retry");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(settings.poll_interval) => {}
            Ok(()) = shutdown.changed() => {}
        }
    }
}
