//! Persistence behind one trait. The rules stay in `domain`; `engine` runs a request against
//! the transaction primitives of `WriteTx`; `sql` holds every query, written once for both
//! databases; `sqlite` and `postgres` keep only what differs: connections, the transaction
//! discipline (group commit on one writer; row and advisory locks with retries), error codes.
use std::collections::BTreeMap;
use std::future::Future;

use tokio::sync::watch;

use crate::domain::alerts::AlertSettings;
use crate::domain::{
    AlertKind, CatalogCommand, CatalogKind, Client, Command, DomainError, Entry, Request, Stage,
    StatusEvent, Timestamp,
};

pub mod engine;
pub mod postgres;
mod rows;
pub mod sql;
pub mod sqlite;
pub mod timeline;
pub mod traced;

/// A request with the fingerprint that tells a retry from a different request under the same
/// `request_id`.
#[derive(Debug, Clone)]
pub struct Mutation<C = Command> {
    pub request: Request<C>,
    pub fingerprint: Vec<u8>,
}

/// What a client mutation answered. Stored with its request id so a retry gets the same answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub clients: Vec<Client>,
    /// CreateClient made a new client (false: the lead matched an existing one).
    pub created: bool,
    /// The business document was already recorded: nothing changed.
    pub already_recorded: bool,
}

/// What a catalogue change answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogOutcome {
    /// The entry as created, updated, or as it was before deletion.
    pub entry: Entry,
    /// How many clients a deletion moved to the replacement (or cleared).
    pub moved: i64,
}

/// One immutable history entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryRecord {
    pub entry_id: i64,
    pub client_id: i64,
    pub version: i64,
    pub cause: String,
    pub actor: String,
    pub principal: String,
    pub request_id: String,
    pub occurred_at: Timestamp,
    pub recorded_at: Timestamp,
    pub old_stage: Option<Stage>,
    pub new_stage: Stage,
    pub note: String,
    pub details: BTreeMap<String, String>,
}

pub use crate::domain::search::ClientFilter;

/// Which clients a funnel counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CountFilter {
    pub stages: Vec<Stage>,
    pub owner: Option<String>,
    pub branch: Option<String>,
    pub include_deleted: bool,
}

/// What a funnel is broken down by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dimensions {
    pub stage: bool,
    pub status: bool,
    pub owner: bool,
}

impl Dimensions {
    /// The select list: each dimension's column, or a blank of its type when not grouped by.
    pub(crate) fn select_list(self) -> String {
        format!(
            "{} AS stage, {} AS status_id, {} AS owner",
            if self.stage {
                "c.stage"
            } else {
                "CAST(-1 AS BIGINT)"
            },
            if self.status {
                "c.status_id"
            } else {
                "CAST(0 AS BIGINT)"
            },
            if self.owner { "c.owner" } else { "''" },
        )
    }
}

/// One row of the funnel; a dimension not grouped by is `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCount {
    pub stage: Option<Stage>,
    pub status_id: Option<i64>,
    pub owner: Option<String>,
    pub count: i64,
}

/// Which history entries an activity report counts, and the day boundaries it uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityQuery {
    pub from: Timestamp,
    pub to: Timestamp,
    /// Offset from UTC of the days, in minutes.
    pub utc_offset_minutes: i32,
    pub actor: Option<String>,
    pub causes: Vec<String>,
}

/// How many entries one user made of one kind on one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityCount {
    pub actor: String,
    pub day: chrono::NaiveDate,
    pub cause: String,
    pub count: i64,
}

/// A page position: the last key returned, exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page<K> {
    pub after: Option<K>,
    pub limit: i64,
}

/// One entry of the status-change stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusEventRecord {
    pub seq: i64,
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
    /// The client right after the change.
    pub client: Client,
}

/// One entry of the alert stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRecord {
    pub seq: i64,
    pub kind: AlertKind,
    pub client_id: i64,
    pub occurrence_key: String,
    pub due_at: Timestamp,
    pub raised_at: Timestamp,
    /// The client when the alert was raised.
    pub client: Client,
}

/// Which status events a consumer wants (empty lists: all).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    pub new_stages: Vec<Stage>,
    pub causes: Vec<String>,
    pub client_ids: Vec<i64>,
}

/// Which alerts a consumer wants (empty lists: all).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertFilter {
    pub kinds: Vec<AlertKind>,
    pub client_ids: Vec<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Status,
    Alerts,
}

impl Stream {
    pub fn name(self) -> &'static str {
        match self {
            Stream::Status => "status",
            Stream::Alerts => "alerts",
        }
    }
}

/// What a stream holds: sequences `pruned_through + 1 ..= last_seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamBounds {
    pub pruned_through: i64,
    pub last_seq: i64,
}

/// Position in a client's timeline: (occurred_at, entry_id).
pub type HistoryKey = (Timestamp, i64);

/// The cause behind a store error, kept so logs show the whole chain.
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// The database cannot be reached or is overloaded; the caller may retry.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] Cause),
    /// The database's disk is full: nothing of the write was kept; retry once space is freed.
    #[error("database storage full: {0}")]
    StorageFull(#[source] Cause),
    /// Concurrent transactions collided (serialization failure, deadlock); the backend retries,
    /// and reports it only when retries are exhausted.
    #[error("concurrent change: {0}")]
    Conflict(#[source] Cause),
    /// A fault of ours or of the data; logged, never caused by a caller.
    #[error("internal store error: {0}")]
    Internal(#[source] Cause),
}

impl StoreError {
    pub fn internal(what: impl Into<String>) -> StoreError {
        StoreError::Internal(what.into().into())
    }

    /// An internal error with its cause, worded as what was being done.
    pub fn internal_from(
        what: &str,
        cause: impl std::error::Error + Send + Sync + 'static,
    ) -> StoreError {
        StoreError::Internal(Box::new(Context {
            what: what.to_string(),
            source: Box::new(cause),
        }))
    }

    pub fn conflict(what: impl Into<String>) -> StoreError {
        StoreError::Conflict(what.into().into())
    }
}

/// What was being done when `source` failed.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {source}")]
pub struct Context {
    what: String,
    #[source]
    source: Cause,
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// The service's persistence. Every write goes through `execute`, one request at a time from
/// the caller's side, so a backend may batch many into one transaction (group commit).
pub trait Store: Send + Sync + 'static {
    fn execute(&self, mutation: Mutation) -> impl Future<Output = Result<Outcome>> + Send;
    fn change_catalog(
        &self,
        mutation: Mutation<CatalogCommand>,
    ) -> impl Future<Output = Result<CatalogOutcome>> + Send;
    fn get_client(&self, client_id: i64) -> impl Future<Output = Result<Client>> + Send;
    fn list_clients(
        &self,
        filter: &ClientFilter,
        page: Page<i64>,
    ) -> impl Future<Output = Result<Vec<Client>>> + Send;
    /// The funnel: clients counted by the chosen dimensions, ordered by them.
    fn count_clients(
        &self,
        filter: &CountFilter,
        dims: Dimensions,
    ) -> impl Future<Output = Result<Vec<ClientCount>>> + Send;
    /// History entries counted per actor, day and cause, ordered by day, actor, cause.
    fn count_activities(
        &self,
        query: &ActivityQuery,
    ) -> impl Future<Output = Result<Vec<ActivityCount>>> + Send;
    /// Catalogue entries of these kinds, in listing order (kind, stage, display order, name).
    fn catalog(&self, kinds: &[CatalogKind]) -> impl Future<Output = Result<Vec<Entry>>> + Send;
    /// Fails with `ClientNotFound` when the client does not exist.
    fn history(
        &self,
        client_id: i64,
        page: Page<HistoryKey>,
    ) -> impl Future<Output = Result<Vec<HistoryRecord>>> + Send;

    /// Status events after `after`, oldest first, at most `limit`.
    fn status_events(
        &self,
        after: i64,
        filter: &EventFilter,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<StatusEventRecord>>> + Send;
    /// Alerts after `after`, oldest first, at most `limit`.
    fn alerts(
        &self,
        after: i64,
        filter: &AlertFilter,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<AlertRecord>>> + Send;
    fn stream_bounds(&self, stream: Stream) -> impl Future<Output = Result<StreamBounds>> + Send;
    /// Removes stream entries recorded before `cutoff` (oldest first, whole prefix).
    fn prune_streams(&self, cutoff: Timestamp) -> impl Future<Output = Result<()>> + Send;
    /// Removes answered-request records older than `cutoff`, a bounded batch at a time;
    /// returns how many went (fewer than a batch: nothing older is left).
    fn prune_requests(&self, cutoff: Timestamp) -> impl Future<Output = Result<u64>> + Send;
    /// Raises every time-based alert due by `now`; returns how many were raised.
    fn raise_due_alerts(
        &self,
        now: Timestamp,
        settings: &AlertSettings,
    ) -> impl Future<Output = Result<usize>> + Send;
    /// Changes whenever events or alerts may have been committed (by this process, or by
    /// another one sharing the database where the backend can tell).
    fn wakeups(&self) -> watch::Receiver<u64>;
    /// A cheap round trip to the database (`SELECT 1`), for the health probe.
    fn ping(&self) -> impl Future<Output = Result<()>> + Send;
    /// Like `history`, with the entries of the clients merged into this one, in one timeline.
    fn history_with_merged(
        &self,
        client_id: i64,
        page: Page<HistoryKey>,
    ) -> impl Future<Output = Result<Vec<HistoryRecord>>> + Send;
    /// The stage timeline's reports (docs/timeline.md), each ordered as its RPC answers.
    fn stage_conversion(
        &self,
        query: &timeline::ConversionQuery,
    ) -> impl Future<Output = Result<Vec<timeline::ConversionCount>>> + Send;
    fn time_in_stage(
        &self,
        query: &timeline::StayQuery,
    ) -> impl Future<Output = Result<Vec<timeline::StageStay>>> + Send;
    fn stage_entries(
        &self,
        query: &timeline::EntriesQuery,
    ) -> impl Future<Output = Result<Vec<timeline::EntryCount>>> + Send;
}
