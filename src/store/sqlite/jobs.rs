//! What waits for the SQLite writer: each write with where its answer goes, and the answer
//! held until the batch it ran in commits (or fails, and every write of it with the batch).
use std::sync::atomic::{AtomicU8, Ordering};

use tokio::sync::oneshot;

use crate::domain::alerts::AlertSettings;
use crate::domain::{CatalogCommand, Timestamp};
use crate::store::engine::Appended;
use crate::store::{CatalogOutcome, Mutation, Outcome, Result, StoreError};

type Reply<T> = oneshot::Sender<Result<T>>;

/// One write waiting for the writer, with where its answer goes.
pub enum Job {
    Execute(Box<Mutation>, Reply<(Outcome, Appended)>),
    ChangeCatalog(
        Box<Mutation<CatalogCommand>>,
        Reply<(CatalogOutcome, Appended)>,
    ),
    RaiseDueAlerts(Timestamp, AlertSettings, Reply<Appended>),
    PruneStreams(Timestamp, Reply<()>),
    PruneRequests(Timestamp, Reply<u64>),
}

/// A write that ran, holding its answer until the batch commits.
pub(super) struct Pending<T> {
    result: Result<T>,
    reply: Reply<T>,
}

pub(super) trait Answer: Send {
    /// The write's own error, if it failed.
    fn error(&self) -> Option<&StoreError>;
    fn answer(self: Box<Self>);
    fn fail(self: Box<Self>, failure: &Failure);
}

impl<T: Send> Answer for Pending<T> {
    fn error(&self) -> Option<&StoreError> {
        self.result.as_ref().err()
    }

    fn answer(self: Box<Self>) {
        let _ = self.reply.send(self.result);
    }

    fn fail(self: Box<Self>, failure: &Failure) {
        let _ = self.reply.send(Err(failure.error()));
    }
}

pub(super) fn pending<T: Send + 'static>(result: Result<T>, reply: Reply<T>) -> Box<dyn Answer> {
    Box::new(Pending { result, reply })
}

pub(super) fn fail<T>(reply: Reply<T>, failure: &Failure) {
    let _ = reply.send(Err(failure.error()));
}

impl Job {
    /// The caller went away (its RPC was cancelled): nothing waits for the answer, so the
    /// write is not applied; a retry with its request_id applies it once.
    pub(super) fn abandoned(&self) -> bool {
        match self {
            Job::Execute(_, r) => r.is_closed(),
            Job::ChangeCatalog(_, r) => r.is_closed(),
            Job::RaiseDueAlerts(_, _, r) => r.is_closed(),
            Job::PruneStreams(_, r) => r.is_closed(),
            Job::PruneRequests(_, r) => r.is_closed(),
        }
    }

    pub(super) fn fail(self, failure: &Failure) {
        match self {
            Job::Execute(_, r) => fail(r, failure),
            Job::ChangeCatalog(_, r) => fail(r, failure),
            Job::RaiseDueAlerts(_, _, r) => fail(r, failure),
            Job::PruneStreams(_, r) => fail(r, failure),
            Job::PruneRequests(_, r) => fail(r, failure),
        }
    }
}

/// Why a whole batch failed; every write of it is answered with this.
pub(super) struct Failure {
    storage_full: bool,
    message: String,
}

impl Failure {
    pub(super) fn of(e: &StoreError) -> Failure {
        Failure {
            storage_full: matches!(e, StoreError::StorageFull(_)),
            message: e.to_string(),
        }
    }

    pub(super) fn error(&self) -> StoreError {
        let cause = format!(
            "the batch this write was in was not committed: {}",
            self.message
        );
        if self.storage_full {
            StoreError::StorageFull(cause.into())
        } else {
            StoreError::Unavailable(cause.into())
        }
    }
}

/// What the writer's connection is doing, for the pool metrics.
#[derive(Debug, Default)]
pub struct WriterState(AtomicU8);

impl WriterState {
    pub(super) const IDLE: u8 = 0;
    pub(super) const BUSY: u8 = 1;
    pub(super) const REOPENING: u8 = 2;
    pub(super) const STOPPED: u8 = 3;

    pub(super) fn set(&self, state: u8) {
        self.0.store(state, Ordering::Relaxed);
    }

    /// The writer as a pool of one connection; `None` once it stopped.
    pub fn sample(&self) -> Option<crate::telemetry::PoolSample> {
        let (size, idle) = match self.0.load(Ordering::Relaxed) {
            Self::IDLE => (1, 1),
            Self::BUSY => (1, 0),
            Self::REOPENING => (0, 0),
            _ => return None,
        };
        Some(crate::telemetry::PoolSample { size, idle, max: 1 })
    }
}
