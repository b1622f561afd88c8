//! Postgres backend. Several server processes may share one database, so every write
//! transaction serialises on what it touches: the request id, the lead keys and the business
//! document (transaction-scoped advisory locks) and the client rows (`FOR UPDATE`, taken in
//! ascending id order). A transaction that still collides (deadlock, serialization failure,
//! a racing unique insert) is rolled back and run again from the start.
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use sqlx::{PgPool, Postgres, Transaction};
use tokio::sync::watch;

use crate::clock::Clock;
use crate::domain::Timestamp;
use crate::domain::alerts::AlertSettings;
use crate::domain::rules::Settings;

use super::engine::{self, Appended, Env, Executed};
use super::sql::driver::Db;
use super::sql::store::{Backend, SqlStore};
use super::sql::write::{CatalogCache, Tx, legacy_requests, prune_requests, prune_streams};
use super::sql::{Conn, Sql};
use super::{Mutation, Outcome, Result, StoreError};

mod conn;

use conn::classify;

pub type PgStore = SqlStore<PgBackend>;

/// How many times a colliding transaction is run before the caller is told to retry.
const MAX_ATTEMPTS: u32 = 8;

/// The LISTEN/NOTIFY channel on which committed stream entries are announced to every process.
const NOTIFY_CHANNEL: &str = "clientstatus_streams";

pub struct PgBackend {
    pool: PgPool,
    clock: Arc<dyn Clock>,
    settings: Arc<Settings>,
    catalog: Arc<CatalogCache>,
    /// Request records of the release before answers were keyed by caller may exist.
    legacy_requests: Arc<AtomicBool>,
}

type PgTx = Tx<Db<Transaction<'static, Postgres>>>;
/// One attempt: `None` asks for the transaction to be rolled back instead of committed.
type Attempt<'t, T> = Pin<Box<dyn Future<Output = Result<Option<(T, Appended)>>> + Send + 't>>;

impl SqlStore<PgBackend> {
    /// Connects to `url`, runs the migrations and starts listening for other processes'
    /// commits.
    pub async fn connect(url: &str, clock: Arc<dyn Clock>, settings: Settings) -> Result<Self> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::internal_from("bad Postgres URL", e))?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            // A call waits this long for a connection, then answers UNAVAILABLE.
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await
            .map_err(classify)?;
        crate::telemetry::metrics().watch_pool("postgres", &pool);
        sqlx::migrate!("migrations/postgres")
            .run(&pool)
            .await
            .map_err(|e| StoreError::internal_from("migrations failed", e))?;
        let mut conn = pool.acquire().await.map_err(classify)?;
        let legacy = legacy_requests(&mut Db(&mut *conn)).await?;
        drop(conn);
        let wake = watch::Sender::new(0);
        tokio::spawn(listen(pool.clone(), wake.clone()));
        let backend = PgBackend {
            pool,
            clock,
            settings: Arc::new(settings),
            catalog: Arc::new(CatalogCache::default()),
            legacy_requests: Arc::new(AtomicBool::new(legacy)),
        };
        Ok(SqlStore::new(backend, wake))
    }
}

impl PgBackend {
    /// Runs `attempt` in a transaction of its own, again from the start while it collides,
    /// and commits it (announcing stream entries to every process on commit). `Ok(None)`: the
    /// attempt asked for its work to be rolled back.
    async fn transact<T>(
        &self,
        attempt: impl for<'t> Fn(&'t mut PgTx, Timestamp) -> Attempt<'t, T>,
    ) -> Result<Option<(T, Appended)>> {
        let mut tries = 1;
        loop {
            let once = async {
                let begun = self.pool.begin().await.map_err(classify)?;
                let mut tx = Tx::new(Db(begun), self.catalog.clone());
                let Some((value, appended)) = attempt(&mut tx, self.clock.now()).await? else {
                    return Ok(None);
                };
                if !appended.is_empty() {
                    let notify = Sql::new("SELECT pg_notify($1, '')").arg(NOTIFY_CHANNEL);
                    tx.conn.execute(notify).await?;
                }
                crate::telemetry::timed_commit("execute", tx.conn.0.commit())
                    .await
                    .map_err(classify)?;
                Ok(Some((value, appended)))
            };
            match once.await {
                Err(StoreError::Conflict(cause)) if tries < MAX_ATTEMPTS => {
                    tracing::debug!(%cause, tries, "a write collided; running it again");
                    tokio::time::sleep(Duration::from_millis(u64::from(tries) * 5)).await;
                    tries += 1;
                }
                result => return result,
            }
        }
    }

    /// Runs `attempt`, which always commits.
    async fn committed<T>(
        &self,
        attempt: impl for<'t> Fn(&'t mut PgTx, Timestamp) -> Attempt<'t, T>,
    ) -> Result<(T, Appended)> {
        self.transact(attempt)
            .await?
            .ok_or_else(|| StoreError::internal("a write that always commits asked to roll back"))
    }
}

impl Backend for PgBackend {
    type Reader = Db<PoolConnection<Postgres>>;

    async fn reader(&self) -> Result<Self::Reader> {
        self.pool.acquire().await.map(Db).map_err(classify)
    }

    async fn execute(&self, mutation: Mutation) -> Result<(Outcome, Appended)> {
        // Owned by the closure: every attempt's future borrows only its transaction.
        let mutation = Arc::new(mutation);
        let legacy = self.legacy_requests.load(Ordering::Relaxed);
        let (m, settings) = (mutation.clone(), self.settings.clone());
        let applied = self
            .transact(move |tx, now| {
                let (m, settings) = (m.clone(), settings.clone());
                Box::pin(async move {
                    let env = Env {
                        now,
                        settings: &settings,
                        legacy_requests: legacy,
                    };
                    Ok(match engine::execute(tx, &m, env).await? {
                        Executed::Applied(outcome, appended) => Some((*outcome, appended)),
                        Executed::AlreadyAnswered => None,
                    })
                })
            })
            .await?;
        match applied {
            Some(applied) => Ok(applied),
            // Rolled back: the answer recorded before is the answer.
            None => {
                let mut tx = Tx::new(self.reader().await?, self.catalog.clone());
                let outcome = engine::answer_of(&mut tx, &mutation, legacy).await?;
                Ok((outcome, Appended::default()))
            }
        }
    }

    async fn raise_due_alerts(&self, now: Timestamp, settings: AlertSettings) -> Result<Appended> {
        let (_, appended) = self
            .committed(move |tx, _| {
                Box::pin(
                    async move { Ok(Some(((), engine::raise_due(tx, now, &settings).await?))) },
                )
            })
            .await?;
        Ok(appended)
    }

    async fn prune_streams(&self, cutoff: Timestamp) -> Result<()> {
        self.committed(move |tx, _| {
            Box::pin(async move {
                prune_streams(&mut tx.conn, cutoff).await?;
                Ok(Some(((), Appended::default())))
            })
        })
        .await
        .map(drop)
    }

    async fn prune_requests(&self, cutoff: Timestamp) -> Result<u64> {
        let ((removed, legacy_left), _) = self
            .committed(move |tx, _| {
                Box::pin(async move {
                    let pruned = prune_requests(&mut tx.conn, cutoff).await?;
                    Ok(Some((pruned, Appended::default())))
                })
            })
            .await?;
        self.legacy_requests.store(legacy_left, Ordering::Relaxed);
        Ok(removed)
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}

/// Wakes local subscribers when any process sharing the database commits stream entries.
/// Reconnects on its own; subscribers also poll, so a lost notification only delays them.
async fn listen(pool: PgPool, wake: watch::Sender<u64>) {
    while !pool.is_closed() {
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(l) => l,
            Err(_) => {
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if listener.listen(NOTIFY_CHANNEL).await.is_err() {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        loop {
            match listener.try_recv().await {
                Ok(Some(_)) => wake.send_modify(|n| *n = n.wrapping_add(1)),
                // Connection lost: wake everyone (they re-read), then reconnect.
                Ok(None) => wake.send_modify(|n| *n = n.wrapping_add(1)),
                Err(_) => break,
            }
            if pool.is_closed() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
