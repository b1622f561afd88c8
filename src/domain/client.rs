//! The client record as the domain sees it.
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::catalog::CatalogKind;
use super::stage::Stage;
use super::summary::{self, SummaryEntry};
use super::timeline::Timeline;

pub type Timestamp = DateTime<Utc>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LeadStatus {
    Regular,
    RecentlyCreated,
    Hot,
    InterestedAgain,
}

impl LeadStatus {
    pub fn name(self) -> &'static str {
        match self {
            LeadStatus::Regular => "REGULAR",
            LeadStatus::RecentlyCreated => "RECENTLY_CREATED",
            LeadStatus::Hot => "HOT",
            LeadStatus::InterestedAgain => "INTERESTED_AGAIN",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CallOutcome {
    NoCallYet,
    NoAnswer,
    LeftMessage,
    ShortCall,
    CallWithContent,
}

impl CallOutcome {
    pub fn label(self) -> &'static str {
        match self {
            CallOutcome::NoCallYet => "No call yet",
            CallOutcome::NoAnswer => "Call: no answer",
            CallOutcome::LeftMessage => "Call: left message",
            CallOutcome::ShortCall => "Short call",
            CallOutcome::CallWithContent => "Call",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientName {
    pub last_name: String,
    pub first_name: String,
    pub middle_name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Classifications {
    /// Entries of the customer-type, industry and headcount-class catalogues.
    pub customer_type_id: Option<i64>,
    pub industry_id: Option<i64>,
    pub headcount_class_id: Option<i64>,
}

impl Classifications {
    /// Each reference with its catalogue and request field.
    pub fn references(&self) -> [(CatalogKind, &'static str, Option<i64>); 3] {
        [
            (
                CatalogKind::CustomerType,
                "classifications.customer_type_id",
                self.customer_type_id,
            ),
            (
                CatalogKind::Industry,
                "classifications.industry_id",
                self.industry_id,
            ),
            (
                CatalogKind::HeadcountClass,
                "classifications.headcount_class_id",
                self.headcount_class_id,
            ),
        ]
    }
}

/// Everything the service keeps about one client. The store persists it whole; the fields it
/// filters on are copied into indexed columns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Client {
    pub client_id: i64,
    pub name: ClientName,
    pub branch: String,
    pub owner: String,
    pub email: String,
    pub phone: String,
    pub external_lead_id: String,
    pub parent_client_id: Option<i64>,
    /// Derived from the clients naming this one as parent; the store fills it on every read.
    pub child_client_ids: Vec<i64>,
    pub classifications: Classifications,
    pub custom_properties: BTreeMap<String, String>,

    pub stage: Stage,
    /// A status of `stage` from the catalogue. The store's column is authoritative.
    #[serde(default)]
    pub status_id: i64,
    /// The status's name: as it was at the change in stored snapshots, as it is now on reads.
    #[serde(default)]
    pub status_name: String,
    pub lead_status: LeadStatus,
    pub record_source: String,

    pub created_at: Timestamp,
    pub created_by: String,
    pub last_call_at: Option<Timestamp>,
    pub last_call_by: String,
    pub last_call_outcome: CallOutcome,
    pub next_call_at: Option<Timestamp>,
    pub next_call_by: String,
    pub last_contact_at: Option<Timestamp>,
    pub first_meeting_at: Option<Timestamp>,
    pub last_meeting_at: Option<Timestamp>,
    pub first_quote_at: Option<Timestamp>,
    pub became_real_at: Option<Timestamp>,
    pub last_allocated_at: Option<Timestamp>,

    pub not_interested_reason: String,
    pub frozen_message: String,
    pub frozen_reason: String,

    pub deleted_at: Option<Timestamp>,
    pub deleted_by: String,
    pub fictitious_reason: String,

    pub summary: Vec<SummaryEntry>,
    pub trading_account_ids: Vec<String>,

    pub version: i64,
    pub updated_at: Timestamp,

    /// MergeClients folded this client into that survivor (the store's column is
    /// authoritative: a survivor merged later re-points its merged clients there).
    #[serde(default)]
    pub merged_into: Option<i64>,
    #[serde(default)]
    pub merged_at: Option<Timestamp>,
    /// EraseClient removed this client's personal data.
    #[serde(default)]
    pub erased_at: Option<Timestamp>,
    #[serde(default)]
    pub erased_by: String,
    /// When the client entered each stage, by `occurred_at` (see `domain::timeline`).
    #[serde(default)]
    pub timeline: Timeline,
}

impl Client {
    pub fn recent_events_summary(&self) -> String {
        summary::render(&self.summary)
    }

    /// Records stored before the catalogue existed have no status: their stage's built-in
    /// default is the one they are in.
    pub fn fill_legacy_status(&mut self) {
        if self.status_id == 0 {
            self.status_id = super::catalog::builtin_default_status(self.stage);
        }
    }

    pub fn is_deleted(&self) -> bool {
        self.deleted_at.is_some()
    }

    pub fn is_erased(&self) -> bool {
        self.erased_at.is_some()
    }

    /// The keys a new lead is matched on, normalised as matching compares them (the one
    /// normaliser: the store keeps these in indexed columns).
    pub fn lead_keys(&self) -> super::lead::LeadKeys {
        super::lead::LeadKeys::new(&self.external_lead_id, &self.email, &self.phone)
    }
}

/// `first_*` stamps keep the earliest time seen, whatever order events arrive in.
pub fn stamp_first(field: &mut Option<Timestamp>, at: Timestamp) {
    *field = Some(field.map_or(at, |t| t.min(at)));
}

/// `last_*` stamps keep the latest time seen, whatever order events arrive in.
pub fn stamp_last(field: &mut Option<Timestamp>, at: Timestamp) {
    *field = Some(field.map_or(at, |t| t.max(at)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn first_stamps_never_move_later_and_last_stamps_never_move_earlier() {
        let t = |h| Utc.with_ymd_and_hms(2026, 1, 1, h, 0, 0).unwrap();
        let mut first = None;
        let mut last = None;
        for h in [10, 8, 12, 9] {
            stamp_first(&mut first, t(h));
            stamp_last(&mut last, t(h));
        }
        assert_eq!(first, Some(t(8)));
        assert_eq!(last, Some(t(12)));
    }
}
