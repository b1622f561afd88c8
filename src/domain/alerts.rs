//! Alerts the service raises itself (docs/behaviour.md#alerts), and the timers behind the time-based ones.
//! Each occurrence has a key; the store raises an alert at most once per key.
use chrono::Duration;
use serde::{Deserialize, Serialize};

use super::client::{Client, LeadStatus, Timestamp};
use super::stage::Stage;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AlertKind {
    /// A client's next_call_at is reached.
    NextCallDue,
    /// A HOT lead has had no contact within the hot-lead SLA.
    HotLeadUntouched,
    /// A FOLLOW_UP or FOLLOW_UP_MEETING_OR_QUOTE client has had no contact for N days.
    FollowUpStale,
    /// The portal re-sent an existing client.
    InterestedAgain,
    /// A client reached REAL (accounting opens its account card).
    BecameReal,
    /// A client was frozen.
    Frozen,
}

impl AlertKind {
    pub const ALL: [AlertKind; 6] = [
        AlertKind::NextCallDue,
        AlertKind::HotLeadUntouched,
        AlertKind::FollowUpStale,
        AlertKind::InterestedAgain,
        AlertKind::BecameReal,
        AlertKind::Frozen,
    ];

    /// The time-based kinds, which the scheduler raises from timers.
    pub const TIMED: [AlertKind; 3] = [
        AlertKind::NextCallDue,
        AlertKind::HotLeadUntouched,
        AlertKind::FollowUpStale,
    ];

    pub fn name(self) -> &'static str {
        match self {
            AlertKind::NextCallDue => "NEXT_CALL_DUE",
            AlertKind::HotLeadUntouched => "HOT_LEAD_UNTOUCHED",
            AlertKind::FollowUpStale => "FOLLOW_UP_STALE",
            AlertKind::InterestedAgain => "INTERESTED_AGAIN",
            AlertKind::BecameReal => "BECAME_REAL",
            AlertKind::Frozen => "FROZEN",
        }
    }

    pub fn from_name(name: &str) -> Option<AlertKind> {
        AlertKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertSettings {
    /// A HOT lead must be contacted within this time of its creation.
    pub hot_lead_sla: Duration,
    /// A client in follow-up with no contact for this long is stale.
    pub follow_up_stale: Duration,
}

impl Default for AlertSettings {
    fn default() -> Self {
        AlertSettings {
            hot_lead_sla: Duration::minutes(15),
            follow_up_stale: Duration::days(14),
        }
    }
}

impl AlertSettings {
    /// How long after its timer's base time an alert of `kind` is due.
    pub fn delay(&self, kind: AlertKind) -> Duration {
        match kind {
            AlertKind::HotLeadUntouched => self.hot_lead_sla,
            AlertKind::FollowUpStale => self.follow_up_stale,
            _ => Duration::zero(),
        }
    }
}

/// A pending time-based alert: due at `base_at + settings.delay(kind)`. Keeping the base time
/// (not the due time) lets a changed setting apply to timers already set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timer {
    pub kind: AlertKind,
    pub base_at: Timestamp,
    pub occurrence_key: String,
}

/// The timers a client should have in its current state. The store replaces the client's
/// timers with these after every change.
pub fn timers(client: &Client) -> Vec<Timer> {
    if client.is_deleted() || client.merged_into.is_some() {
        return Vec::new();
    }
    let id = client.client_id;
    let mut out = Vec::new();
    if let Some(next) = client.next_call_at {
        out.push(Timer {
            kind: AlertKind::NextCallDue,
            base_at: next,
            occurrence_key: format!("NEXT_CALL_DUE:{id}:{}", next.timestamp_micros()),
        });
    }
    if client.lead_status == LeadStatus::Hot && client.last_contact_at.is_none() {
        out.push(Timer {
            kind: AlertKind::HotLeadUntouched,
            base_at: client.created_at,
            occurrence_key: format!("HOT_LEAD_UNTOUCHED:{id}"),
        });
    }
    if matches!(
        client.stage,
        Stage::FollowUp | Stage::FollowUpMeetingOrQuote
    ) {
        let since = client.last_contact_at.unwrap_or(client.created_at);
        out.push(Timer {
            kind: AlertKind::FollowUpStale,
            base_at: since,
            occurrence_key: format!("FOLLOW_UP_STALE:{id}:{}", since.timestamp_micros()),
        });
    }
    out
}

/// The key of an alert raised by a change: one occurrence per client version.
pub fn change_occurrence_key(kind: AlertKind, client_id: i64, version: i64) -> String {
    format!("{}:{client_id}:v{version}", kind.name())
}
