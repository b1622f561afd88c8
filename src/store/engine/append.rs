//! What a write appends to the two streams: its status events and alerts, numbered in commit
//! order just before commit, and the time-based alerts the scheduler raises.
use crate::domain::alerts::AlertSettings;
use crate::domain::{AlertKind, Stage, StatusEvent, Timestamp};

use super::super::Result;
use super::super::rows::to_json;
use super::{NewAlert, NewStatusEvent, WriteTx};

/// What one request appends to the streams; written last, just before commit.
#[derive(Default)]
pub struct Appends {
    pub(super) events: Vec<NewStatusEvent>,
    pub(super) alerts: Vec<NewAlert>,
}

/// What a transaction appended to the streams; counted in the metrics once it commits.
#[derive(Debug, Default)]
pub struct Appended {
    events: Vec<(StatusEvent, Stage, Stage)>,
    alerts: Vec<AlertKind>,
}

impl Appended {
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.alerts.is_empty()
    }

    pub fn alerts_len(&self) -> usize {
        self.alerts.len()
    }

    /// Call after commit.
    pub fn count(&self) {
        let m = crate::telemetry::metrics();
        for (kind, old, new) in &self.events {
            match kind {
                StatusEvent::StageChanged => m.stage_transition(old.name(), new.name()),
                _ => m.status_event(),
            }
        }
        for kind in &self.alerts {
            m.alert_raised(kind.name());
        }
    }
}

/// Gives the appends their sequence numbers and writes them. Status first, then alerts: every
/// writer takes the counters in this order, so they cannot deadlock on them.
pub(super) async fn append<T: WriteTx>(tx: &mut T, appends: Appends) -> Result<Appended> {
    let mut appended = Appended::default();
    if !appends.events.is_empty() {
        let first = tx
            .next_sequences(super::super::Stream::Status, appends.events.len() as i64)
            .await?;
        for (i, event) in appends.events.iter().enumerate() {
            tx.insert_status_event(first + i as i64, event).await?;
            appended
                .events
                .push((event.kind, event.old_stage, event.new_stage));
        }
    }
    let mut alerts = Vec::with_capacity(appends.alerts.len());
    for alert in appends.alerts {
        if !tx.alert_exists(&alert.occurrence_key).await? {
            alerts.push(alert);
        }
    }
    if !alerts.is_empty() {
        let first = tx
            .next_sequences(super::super::Stream::Alerts, alerts.len() as i64)
            .await?;
        for (i, alert) in alerts.iter().enumerate() {
            tx.insert_alert(first + i as i64, alert).await?;
            appended.alerts.push(alert.kind);
        }
    }
    Ok(appended)
}

/// Raises every time-based alert due at `now`, in one transaction: claims due timers, writes
/// one alert per new occurrence, removes the timers.
pub async fn raise_due<T: WriteTx>(
    tx: &mut T,
    now: Timestamp,
    settings: &AlertSettings,
) -> Result<Appended> {
    let mut appends = Appends::default();
    for kind in AlertKind::TIMED {
        let delay = settings.delay(kind);
        for (client_id, timer) in tx.claim_due_timers(kind, now - delay, 200).await? {
            tx.delete_timer(client_id, kind).await?;
            let Some(client) = tx.load_client(client_id).await? else {
                continue;
            };
            appends.alerts.push(NewAlert {
                kind,
                client_id,
                occurrence_key: timer.occurrence_key,
                due_at: timer.base_at + delay,
                raised_at: now,
                snapshot: to_json("client", &client)?,
            });
        }
    }
    append(tx, appends).await
}
