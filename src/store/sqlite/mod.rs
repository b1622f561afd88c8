//! SQLite backend: WAL, `synchronous=FULL` (an acknowledged write survives power loss), one
//! writer connection that group-commits whatever writes are queued (see `writer`), and a pool
//! of readers that never wait behind it.
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool};
use tokio::sync::{mpsc, oneshot, watch};

use crate::clock::Clock;
use crate::domain::Timestamp;
use crate::domain::alerts::AlertSettings;
use crate::domain::rules::Settings;

use super::engine::Appended;
use super::sql::driver::Db;
use super::sql::store::{Backend, SqlStore};
use super::sql::write::{CatalogCache, legacy_requests};
use super::{CatalogOutcome, Mutation, Outcome, Result, StoreError};
use crate::domain::CatalogCommand;

mod conn;
mod forget;
mod jobs;
mod lite;
mod writer;

use conn::classify;
use jobs::{Job, WriterState};
pub use lite::LiteConn;
use writer::{BATCH_MAX, Writer};

pub type SqliteStore = SqlStore<SqliteBackend>;

pub struct SqliteBackend {
    reader: SqlitePool,
    /// Taken by `close`: the writer finishes what is queued, closes its connection and ends.
    jobs: std::sync::Mutex<Option<mpsc::Sender<Job>>>,
    /// Answered when the writer's thread has finished.
    writer: tokio::sync::Mutex<Option<tokio::sync::oneshot::Receiver<()>>>,
}

impl SqlStore<SqliteBackend> {
    /// Opens (creating if missing) the database at `url`, runs the migrations and starts the
    /// writer.
    pub async fn connect(url: &str, clock: Arc<dyn Clock>, settings: Settings) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::internal_from("bad SQLite URL", e))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            // As on the writer (`lite`): what migrations free is zeroed too.
            .pragma("secure_delete", "on")
            .busy_timeout(Duration::from_secs(5));
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.clone())
            .await
            .map_err(classify)?;
        sqlx::migrate!("migrations/sqlite")
            .run(&reader)
            .await
            .map_err(|e| StoreError::internal_from("migrations failed", e))?;
        let path = options.get_filename().to_path_buf();
        let mut writer_conn = LiteConn::open(&path)?;
        let legacy_requests = legacy_requests(&mut writer_conn).await?;
        crate::telemetry::metrics().watch_pool("sqlite_reader", &reader);
        // Writers wait here, not in memory of their own, while a batch commits.
        let (jobs, queue) = mpsc::channel(BATCH_MAX * 8);
        let state = Arc::new(WriterState::default());
        let probe = state.clone();
        crate::telemetry::metrics().watch_connections("sqlite_writer", move || probe.sample());
        let task = Writer {
            path,
            clock,
            settings,
            state,
            catalog: Arc::new(CatalogCache::default()),
            legacy_requests,
        };
        // The writer gets a thread and a runtime of its own: it is the one serial step every
        // write goes through, and on the shared runtime each of its statements would wait in
        // the queue behind the RPC tasks it is serving.
        let (done, writer) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime.block_on(task.run(writer_conn, queue)),
                    Err(e) => tracing::error!(error = %e, "the SQLite writer cannot start"),
                }
                let _ = done.send(());
            })
            .map_err(|e| StoreError::internal_from("starting the SQLite writer", e))?;
        let backend = SqliteBackend {
            reader,
            jobs: std::sync::Mutex::new(Some(jobs)),
            writer: tokio::sync::Mutex::new(Some(writer)),
        };
        Ok(SqlStore::new(backend, watch::Sender::new(0)))
    }
}

impl SqliteBackend {
    async fn submit<T>(&self, job: impl FnOnce(oneshot::Sender<Result<T>>) -> Job) -> Result<T> {
        let stopped = || StoreError::Unavailable("the SQLite writer has stopped".into());
        let jobs = self
            .jobs
            .lock()
            .map_err(|_| stopped())?
            .clone()
            .ok_or_else(stopped)?;
        let (reply, answer) = oneshot::channel();
        jobs.send(job(reply)).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

impl Backend for SqliteBackend {
    type Reader = Db<PoolConnection<Sqlite>>;

    async fn reader(&self) -> Result<Self::Reader> {
        self.reader.acquire().await.map(Db).map_err(classify)
    }

    async fn execute(&self, mutation: Mutation) -> Result<(Outcome, Appended)> {
        self.submit(|reply| Job::Execute(Box::new(mutation), reply))
            .await
    }

    async fn change_catalog(
        &self,
        mutation: Mutation<CatalogCommand>,
    ) -> Result<(CatalogOutcome, Appended)> {
        self.submit(|reply| Job::ChangeCatalog(Box::new(mutation), reply))
            .await
    }

    async fn raise_due_alerts(&self, now: Timestamp, settings: AlertSettings) -> Result<Appended> {
        self.submit(|reply| Job::RaiseDueAlerts(now, settings, reply))
            .await
    }

    async fn prune_streams(&self, cutoff: Timestamp) -> Result<()> {
        self.submit(|reply| Job::PruneStreams(cutoff, reply)).await
    }

    async fn prune_requests(&self, cutoff: Timestamp) -> Result<u64> {
        self.submit(|reply| Job::PruneRequests(cutoff, reply)).await
    }

    async fn forget(&self) {
        forget::checkpoint(&self.reader).await;
    }

    async fn close(&self) {
        if let Ok(mut jobs) = self.jobs.lock() {
            jobs.take();
        }
        if let Some(writer) = self.writer.lock().await.take() {
            let _ = writer.await;
        }
        self.reader.close().await;
    }
}
