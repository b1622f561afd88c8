//! The primitives of one write transaction, which `store::sql::write` implements once for both
//! databases. They read and write rows; they decide nothing.
use std::future::Future;
use std::sync::Arc;

use crate::domain::alerts::Timer;
use crate::domain::lead::LeadKeys;
use crate::domain::{
    AlertKind, Catalog, Client, DocumentKey, Entry, Stage, StatusEvent, Timestamp,
};

use super::super::{HistoryRecord, Result, Stream};
use super::outcome::StoredOutcome;

/// A request already answered under this id.
pub struct StoredRequest {
    pub fingerprint: Vec<u8>,
    pub outcome: StoredOutcome,
}

/// A status event waiting for its sequence number.
pub struct NewStatusEvent {
    pub client_id: i64,
    pub kind: StatusEvent,
    pub cause: String,
    pub actor: String,
    pub request_id: String,
    pub old_stage: Stage,
    pub new_stage: Stage,
    pub old_status_id: i64,
    pub new_status_id: i64,
    pub occurred_at: Timestamp,
    pub recorded_at: Timestamp,
    /// The client after the change, as JSON.
    pub snapshot: String,
}

/// An alert waiting for its sequence number.
pub struct NewAlert {
    pub kind: AlertKind,
    pub client_id: i64,
    pub occurrence_key: String,
    pub due_at: Timestamp,
    pub raised_at: Timestamp,
    pub snapshot: String,
}

/// The writes of one transaction. Implementations map database errors to `StoreError`.
pub trait WriteTx: super::CardTx + super::TimelineTx + CatalogTx + StreamTx + Send {
    /// The answer recorded for the caller's `request_id`, if any.
    fn find_request(
        &mut self,
        principal: &str,
        request_id: &str,
    ) -> impl Future<Output = Result<Option<StoredRequest>>> + Send;

    /// Records the answer under the caller's `request_id`; `false` when one is already there
    /// (a retry that raced the first attempt, or came after it): this transaction's work must
    /// then be undone and the recorded answer given instead.
    fn claim_request(
        &mut self,
        principal: &str,
        request_id: &str,
        fingerprint: &[u8],
        outcome_json: String,
        unlogged_client: Option<i64>,
        now: Timestamp,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// The clients of `client_ids` (ascending), locked until the transaction ends, so
    /// concurrent requests naming the same clients take turns and cannot deadlock.
    fn lock_clients(
        &mut self,
        client_ids: &[i64],
    ) -> impl Future<Output = Result<Vec<Client>>> + Send;

    /// The client row as stored (not locked), with `child_client_ids` filled.
    fn load_client(
        &mut self,
        client_id: i64,
    ) -> impl Future<Output = Result<Option<Client>>> + Send;

    /// The oldest active client matching the lead (locked), and which key matched.
    fn find_lead(
        &mut self,
        keys: &LeadKeys,
    ) -> impl Future<Output = Result<Option<(Client, &'static str)>>> + Send;

    fn document_owner(
        &mut self,
        key: &DocumentKey,
    ) -> impl Future<Output = Result<Option<i64>>> + Send;

    fn insert_document(
        &mut self,
        key: &DocumentKey,
        client_id: i64,
        now: Timestamp,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Inserts a new client, its record already serialised, and returns its number
    /// (increasing, never reused).
    fn insert_client(
        &mut self,
        client: &Client,
        body: &str,
    ) -> impl Future<Output = Result<i64>> + Send;

    /// Writes `client` over `before`, which must still be the row's version in the database.
    /// Only the columns that differ are written: an unchanged indexed column leaves its index
    /// alone.
    fn update_client(
        &mut self,
        before: &Client,
        client: &Client,
        body: &str,
    ) -> impl Future<Output = Result<()>> + Send;

    fn insert_history(&mut self, entry: &HistoryRecord) -> impl Future<Output = Result<()>> + Send;
}

/// The catalogue's rows, inside a write transaction.
pub trait CatalogTx: Send {
    /// Makes catalogue changes take turns (names stay unique, one default per stage).
    fn lock_catalog(&mut self) -> impl Future<Output = Result<()>> + Send;

    /// The whole catalogue as this transaction sees it (cached while it does not change).
    fn catalog(&mut self) -> impl Future<Output = Result<Arc<Catalog>>> + Send;

    /// Inserts a new entry and returns its id.
    fn insert_entry(&mut self, entry: &Entry) -> impl Future<Output = Result<i64>> + Send;

    /// Writes `entry`, which must still be at `previous_version` in the database.
    fn update_entry(
        &mut self,
        entry: &Entry,
        previous_version: i64,
    ) -> impl Future<Output = Result<()>> + Send;

    fn delete_entry(&mut self, entry: &Entry) -> impl Future<Output = Result<()>> + Send;

    /// How many clients (soft-deleted ones too) reference `entry`.
    fn count_clients_using(&mut self, entry: &Entry) -> impl Future<Output = Result<i64>> + Send;

    /// The clients (soft-deleted ones too) referencing `entry`, at most `limit`.
    fn clients_using(
        &mut self,
        entry: &Entry,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<i64>>> + Send;
}

/// Alert timers and the two streams' entries, inside a write transaction.
pub trait StreamTx: Send {
    /// Replaces the client's pending alert timers with `timers`.
    fn replace_timers(
        &mut self,
        client_id: i64,
        timers: &[Timer],
    ) -> impl Future<Output = Result<()>> + Send;

    /// Timers of `kind` with `base_at <= cutoff`, oldest first, locked for this transaction
    /// (skipping ones another transaction holds).
    fn claim_due_timers(
        &mut self,
        kind: AlertKind,
        cutoff: Timestamp,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<(i64, Timer)>>> + Send;

    fn delete_timer(
        &mut self,
        client_id: i64,
        kind: AlertKind,
    ) -> impl Future<Output = Result<()>> + Send;

    fn alert_exists(&mut self, occurrence_key: &str) -> impl Future<Output = Result<bool>> + Send;

    /// Takes the next `count` sequence numbers of `stream`; returns the first. Holds the
    /// stream's counter until commit, which is what keeps sequences gap-free in commit order.
    fn next_sequences(
        &mut self,
        stream: Stream,
        count: i64,
    ) -> impl Future<Output = Result<i64>> + Send;

    fn insert_status_event(
        &mut self,
        seq: i64,
        event: &NewStatusEvent,
    ) -> impl Future<Output = Result<()>> + Send;

    fn insert_alert(
        &mut self,
        seq: i64,
        alert: &NewAlert,
    ) -> impl Future<Output = Result<()>> + Send;
}
