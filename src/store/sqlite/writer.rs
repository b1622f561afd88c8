//! The one writer connection, with group commit. Writes queue on a channel; the writer takes
//! whatever is queued when it becomes free (no timer: at low load a batch is one write), runs
//! each in a SAVEPOINT inside one transaction, and commits the batch with one fsync. A write
//! refused by a rule rolls back to its savepoint alone; every answer is sent only after the
//! COMMIT returned, so nothing unsaved is ever acknowledged.
//!
//! When a statement or the COMMIT fails for a reason of the database's (disk full, I/O error),
//! SQLite may already have rolled the whole transaction back on its own. The writer then fails
//! every write of the batch (none was acknowledged), rolls back, and throws the connection away;
//! the next batch opens a fresh one, so writes resume by themselves once space is freed.
use std::sync::Arc;

use std::path::PathBuf;
use tokio::sync::mpsc;

use crate::clock::Clock;
use crate::domain::Timestamp;
use crate::domain::rules::Settings;
use crate::store::engine::{self, Appended, Applies, Env, Executed};
use crate::store::sql::write::{CatalogCache, Tx, prune_requests, prune_streams};
use crate::store::{Mutation, Result, StoreError};

use super::jobs::{Answer, Failure, Job, WriterState, pending};
use super::lite::LiteConn;

/// Most writes in one transaction: bounds a batch's latency and the memory it holds.
pub const BATCH_MAX: usize = 128;

/// Errors the database raised (as opposed to a rule refusing a request): after one, the
/// transaction may be gone, so the batch is abandoned.
fn is_database_fault(e: &StoreError) -> bool {
    matches!(e, StoreError::Unavailable(_) | StoreError::StorageFull(_))
}

async fn exec(conn: &mut LiteConn, sql: &str) -> Result<()> {
    conn.batch(sql)
}

pub struct Writer {
    /// The database file, to reopen after a fault.
    pub path: PathBuf,
    pub clock: Arc<dyn Clock>,
    pub settings: Settings,
    pub state: Arc<WriterState>,
    pub catalog: Arc<CatalogCache>,
    /// Request records of the release before answers were keyed by caller may exist.
    pub legacy_requests: bool,
}

impl Writer {
    /// Serves `jobs` until every sender is gone, starting on `conn`.
    pub async fn run(mut self, conn: LiteConn, mut jobs: mpsc::Receiver<Job>) {
        let mut conn = Some(conn);
        let mut batch = Vec::with_capacity(BATCH_MAX);
        while jobs.recv_many(&mut batch, BATCH_MAX).await > 0 {
            let size = batch.len();
            crate::telemetry::metrics().commit_batch(size);
            self.state.set(WriterState::BUSY);
            let current = match conn.take() {
                Some(c) => Ok(c),
                None => LiteConn::open(&self.path),
            };
            let mut current = match current {
                Ok(c) => c,
                Err(e) => {
                    self.state.set(WriterState::REOPENING);
                    tracing::warn!(error = %e, "the SQLite writer cannot reopen the database");
                    let failure = Failure::of(&e);
                    batch.drain(..).for_each(|job| job.fail(&failure));
                    continue;
                }
            };
            match self.commit(&mut current, &mut batch).await {
                Ok(()) => {
                    conn = Some(current);
                    self.state.set(WriterState::IDLE);
                }
                Err(e) => {
                    self.state.set(WriterState::REOPENING);
                    tracing::warn!(error = %e, writes = size, "a batch was not committed; reopening the database");
                    // Whatever SQLite thinks of the transaction now, a new connection knows none.
                    let _ = exec(&mut current, "ROLLBACK").await;
                    drop(current);
                }
            }
        }
        drop(conn);
        self.state.set(WriterState::STOPPED);
    }

    /// Runs and commits `batch` (emptying it), answering every write; on `Err` every write was
    /// answered with the failure and the connection must not be used again.
    async fn commit(&mut self, conn: &mut LiteConn, batch: &mut Vec<Job>) -> Result<()> {
        let mut ran: Vec<Box<dyn Answer>> = Vec::with_capacity(batch.len());
        let result = self.run_all(conn, batch, &mut ran).await;
        let result = match result {
            Ok(()) => crate::telemetry::timed_commit("execute", exec(conn, "COMMIT")).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => {
                ran.into_iter().for_each(|r| r.answer());
                Ok(())
            }
            Err(e) => {
                let failure = Failure::of(&e);
                ran.into_iter().for_each(|r| r.fail(&failure));
                batch.drain(..).for_each(|job| job.fail(&failure));
                Err(e)
            }
        }
    }

    /// Runs the writes of `batch` in order, each in its savepoint, moving them to `ran`. Stops
    /// at the first fault of the database's, leaving the rest in `batch`.
    async fn run_all(
        &mut self,
        conn: &mut LiteConn,
        batch: &mut Vec<Job>,
        ran: &mut Vec<Box<dyn Answer>>,
    ) -> Result<()> {
        exec(conn, "BEGIN IMMEDIATE").await?;
        let mut jobs = std::mem::take(batch).into_iter();
        while let Some(job) = jobs.next() {
            if job.abandoned() {
                continue;
            }
            if let Err(e) = exec(conn, "SAVEPOINT write").await {
                job_back(batch, job, jobs);
                return Err(e);
            }
            // Taken on the one writer, so recorded_at follows commit order.
            let now = self.clock.now();
            let done = self.perform(job, conn, now).await;
            let fault = done
                .error()
                .filter(|e| is_database_fault(e))
                .map(Failure::of);
            let close = if done.error().is_some() {
                // A refused write leaves nothing behind; if the savepoint is gone, SQLite
                // rolled the whole transaction back.
                match exec(conn, "ROLLBACK TO write").await {
                    Ok(()) => exec(conn, "RELEASE write").await,
                    Err(e) => Err(e),
                }
            } else {
                exec(conn, "RELEASE write").await
            };
            ran.push(done);
            if let Some(fault) = fault {
                batch.extend(jobs);
                return Err(fault.error());
            }
            if let Err(e) = close {
                batch.extend(jobs);
                return Err(e);
            }
        }
        Ok(())
    }
}

impl Writer {
    /// Runs one write inside its savepoint `write`.
    async fn perform(&mut self, job: Job, conn: &mut LiteConn, now: Timestamp) -> Box<dyn Answer> {
        if let Job::Execute(m, reply) = job {
            return pending(self.apply(&m, conn, now).await, reply);
        }
        if let Job::ChangeCatalog(m, reply) = job {
            return pending(self.apply(&m, conn, now).await, reply);
        }
        let mut tx = Tx::new(&mut *conn, self.catalog.clone());
        match job {
            Job::RaiseDueAlerts(at, alerts, reply) => {
                pending(engine::raise_due(&mut tx, at, &alerts).await, reply)
            }
            Job::PruneStreams(cutoff, reply) => {
                pending(prune_streams(&mut tx.conn, cutoff).await, reply)
            }
            Job::PruneRequests(cutoff, reply) => {
                let result = prune_requests(&mut tx.conn, cutoff).await;
                if let Ok((_, legacy_left)) = &result {
                    self.legacy_requests = *legacy_left;
                }
                pending(result.map(|(removed, _)| removed), reply)
            }
            Job::Execute(m, reply) => pending(self.apply(&m, conn, now).await, reply),
            Job::ChangeCatalog(m, reply) => pending(self.apply(&m, conn, now).await, reply),
        }
    }

    /// Runs a request; when its id already has an answer, undoes the attempt and gives that.
    async fn apply<C: Applies>(
        &self,
        m: &Mutation<C>,
        conn: &mut LiteConn,
        now: Timestamp,
    ) -> Result<(C::Outcome, Appended)> {
        let env = Env {
            now,
            settings: &self.settings,
            legacy_requests: self.legacy_requests,
        };
        let mut tx = Tx::new(&mut *conn, self.catalog.clone());
        match engine::execute(&mut tx, m, env).await? {
            Executed::Applied(outcome, appended) => Ok((*outcome, appended)),
            Executed::AlreadyAnswered => {
                drop(tx);
                exec(conn, "ROLLBACK TO write").await?;
                let mut tx = Tx::new(conn, self.catalog.clone());
                let outcome = engine::answer_of(&mut tx, m, self.legacy_requests).await?;
                Ok((outcome, Appended::default()))
            }
        }
    }
}

/// Puts `job` and the rest back into `batch`, so they are answered with the batch's failure.
fn job_back(batch: &mut Vec<Job>, job: Job, rest: impl Iterator<Item = Job>) {
    batch.push(job);
    batch.extend(rest);
}
