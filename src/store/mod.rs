//! Persistence behind one trait. The rules stay in `domain`; `engine` runs a request against
//! any backend's transaction primitives; `sqlite` supplies those primitives and the reads.
use std::collections::BTreeMap;
use std::future::Future;

use serde::{Deserialize, Serialize};

use crate::domain::{Client, DomainError, LeadStatus, Request, Stage, Timestamp};

pub mod engine;
pub mod postgres;
mod rows;
pub mod sqlite;

/// A request with the fingerprint that tells a retry from a different request under the same
/// `request_id`.
#[derive(Debug, Clone)]
pub struct Mutation {
    pub request: Request,
    pub fingerprint: Vec<u8>,
}

/// What a mutation answered. Stored with its request id so a retry gets the same answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub clients: Vec<Client>,
    /// CreateClient made a new client (false: the lead matched an existing one).
    pub created: bool,
    /// The business document was already recorded: nothing changed.
    pub already_recorded: bool,
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

/// ListClients filters, already validated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientFilter {
    pub stages: Vec<Stage>,
    /// `Some(true)`: permanent clients only; `Some(false)`: prospects only.
    pub permanent: Option<bool>,
    pub owner: Option<String>,
    pub branch: Option<String>,
    pub lead_statuses: Vec<LeadStatus>,
    pub next_call_due_before: Option<Timestamp>,
    pub include_deleted: bool,
}

/// A page position: the last key returned, exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page<K> {
    pub after: Option<K>,
    pub limit: i64,
}

/// Position in a client's timeline: (occurred_at, entry_id).
pub type HistoryKey = (Timestamp, i64);

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// The database cannot be reached or is overloaded; the caller may retry.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Concurrent transactions collided (serialization failure, deadlock); the backend retries,
    /// and reports it only when retries are exhausted.
    #[error("concurrent change: {0}")]
    Conflict(String),
    /// A fault of ours or of the data; logged, never caused by a caller.
    #[error("internal store error: {0}")]
    Internal(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// The service's persistence. Every write goes through `execute`, one request at a time from
/// the caller's side, so a backend may batch many into one transaction (group commit).
pub trait Store: Send + Sync + 'static {
    fn execute(&self, mutation: Mutation) -> impl Future<Output = Result<Outcome>> + Send;
    fn get_client(&self, client_id: i64) -> impl Future<Output = Result<Client>> + Send;
    fn list_clients(
        &self,
        filter: &ClientFilter,
        page: Page<i64>,
    ) -> impl Future<Output = Result<Vec<Client>>> + Send;
    /// Fails with `ClientNotFound` when the client does not exist.
    fn history(
        &self,
        client_id: i64,
        page: Page<HistoryKey>,
    ) -> impl Future<Output = Result<Vec<HistoryRecord>>> + Send;
}
