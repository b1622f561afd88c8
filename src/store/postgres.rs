//! Postgres backend. Several server processes may share one database, so every write
//! transaction serialises on what it touches: the request id, the lead keys and the business
//! document (transaction-scoped advisory locks) and the client rows (`FOR UPDATE`, taken in
//! ascending id order). A transaction that still collides (deadlock, serialization failure,
//! a racing unique insert) is rolled back and run again from the start.
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, QueryBuilder, Row, Transaction};

use crate::clock::Clock;
use crate::domain::lead::LeadKeys;
use crate::domain::rules::{AlertKind, Settings};
use crate::domain::{Client, DocumentKey, DomainError, Timestamp};

use super::engine::{self, StoredRequest, WriteTx};
use super::rows::{ClientColumns, ClientRow, HistoryRow, details_json, stage_filter};
use super::{
    ClientFilter, HistoryKey, HistoryRecord, Mutation, Outcome, Page, Result, Store, StoreError,
};

/// How many times a colliding transaction is run before the caller is told to retry.
const MAX_ATTEMPTS: u32 = 8;

pub struct PgStore {
    pool: PgPool,
    clock: Arc<dyn Clock>,
    settings: Settings,
}

impl PgStore {
    /// Connects to `url` and runs the migrations.
    pub async fn connect(url: &str, clock: Arc<dyn Clock>, settings: Settings) -> Result<Self> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Internal(format!("bad Postgres URL: {e}")))?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            // A call waits this long for a connection, then answers UNAVAILABLE.
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await
            .map_err(db_error)?;
        sqlx::migrate!("migrations/postgres")
            .run(&pool)
            .await
            .map_err(|e| StoreError::Internal(format!("migrations failed: {e}")))?;
        Ok(PgStore {
            pool,
            clock,
            settings,
        })
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn attempt(&self, mutation: &Mutation) -> Result<Outcome> {
        let mut tx = PgTx(self.pool.begin().await.map_err(db_error)?);
        let now = self.clock.now();
        let outcome = engine::execute(&mut tx, mutation, now, &self.settings).await?;
        tx.0.commit().await.map_err(db_error)?;
        Ok(outcome)
    }
}

/// Selects a `ClientRow` from `clients c`.
const CLIENT_COLUMNS: &str = "c.client_id, c.body::text AS body, \
     (SELECT string_agg(k.client_id::text, ',') FROM clients k \
      WHERE k.parent_client_id = c.client_id) AS children";

const HISTORY_COLUMNS: &str = "entry_id, client_id, version, cause, actor, principal, \
     request_id, occurred_at, recorded_at, old_stage, new_stage, note, details::text AS details";

impl Store for PgStore {
    async fn execute(&self, mutation: Mutation) -> Result<Outcome> {
        let mut attempt = 1;
        loop {
            match self.attempt(&mutation).await {
                Err(StoreError::Conflict(cause)) if attempt < MAX_ATTEMPTS => {
                    tracing::debug!(%cause, attempt, "write collided; running it again");
                    tokio::time::sleep(Duration::from_millis(u64::from(attempt) * 5)).await;
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    async fn get_client(&self, client_id: i64) -> Result<Client> {
        let sql = format!("SELECT {CLIENT_COLUMNS} FROM clients c WHERE c.client_id = $1");
        let row: Option<ClientRow> = sqlx::query_as(&sql)
            .bind(client_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        row.ok_or(DomainError::ClientNotFound { client_id })?
            .try_into()
    }

    async fn list_clients(&self, filter: &ClientFilter, page: Page<i64>) -> Result<Vec<Client>> {
        let mut q = QueryBuilder::<Postgres>::new(format!(
            "SELECT {CLIENT_COLUMNS} FROM clients c WHERE c.client_id > "
        ));
        q.push_bind(page.after.unwrap_or(0));
        if !filter.include_deleted {
            q.push(" AND c.deleted_at IS NULL");
        }
        if let Some(stages) = stage_filter(&filter.stages, filter.permanent) {
            let ranks: Vec<i64> = stages.iter().map(|s| s.rank()).collect();
            q.push(" AND c.stage = ANY(").push_bind(ranks).push(")");
        }
        if let Some(owner) = &filter.owner {
            q.push(" AND c.owner = ").push_bind(owner.clone());
        }
        if let Some(branch) = &filter.branch {
            q.push(" AND c.branch = ").push_bind(branch.clone());
        }
        if !filter.lead_statuses.is_empty() {
            let names: Vec<&str> = filter.lead_statuses.iter().map(|s| s.name()).collect();
            q.push(" AND c.lead_status = ANY(")
                .push_bind(names)
                .push(")");
        }
        if let Some(before) = filter.next_call_due_before {
            q.push(" AND c.next_call_at < ")
                .push_bind(before.timestamp_micros());
        }
        q.push(" ORDER BY c.client_id LIMIT ").push_bind(page.limit);
        let rows: Vec<ClientRow> = q
            .build_query_as()
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        rows.into_iter().map(Client::try_from).collect()
    }

    async fn history(&self, client_id: i64, page: Page<HistoryKey>) -> Result<Vec<HistoryRecord>> {
        let exists = sqlx::query("SELECT 1 FROM clients WHERE client_id = $1")
            .bind(client_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        if exists.is_none() {
            return Err(DomainError::ClientNotFound { client_id }.into());
        }
        let (after_at, after_id) = page
            .after
            .map_or((i64::MIN, i64::MIN), |(at, id)| (at.timestamp_micros(), id));
        let rows: Vec<HistoryRow> = sqlx::query_as(&format!(
            "SELECT {HISTORY_COLUMNS} FROM history \
             WHERE client_id = $1 AND (occurred_at, entry_id) > ($2, $3) \
             ORDER BY occurred_at, entry_id LIMIT $4"
        ))
        .bind(client_id)
        .bind(after_at)
        .bind(after_id)
        .bind(page.limit)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows.into_iter().map(HistoryRecord::try_from).collect()
    }
}

struct PgTx(Transaction<'static, Postgres>);

impl PgTx {
    /// Holds `key` until the transaction ends; other transactions naming it wait.
    async fn advisory_lock(&mut self, key: &str) -> Result<()> {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(key)
            .execute(&mut *self.0)
            .await
            .map_err(db_error)?;
        Ok(())
    }
}

impl WriteTx for PgTx {
    async fn find_request(&mut self, request_id: &str) -> Result<Option<StoredRequest>> {
        // A concurrent retry of the same request waits here until the first one commits.
        self.advisory_lock(&format!("request:{request_id}")).await?;
        let row = sqlx::query(
            "SELECT fingerprint, outcome::text AS outcome FROM requests WHERE request_id = $1",
        )
        .bind(request_id)
        .fetch_optional(&mut *self.0)
        .await
        .map_err(db_error)?;
        row.map(|r| {
            Ok(StoredRequest {
                fingerprint: r.try_get("fingerprint").map_err(db_error)?,
                outcome_json: r.try_get("outcome").map_err(db_error)?,
            })
        })
        .transpose()
    }

    async fn save_request(
        &mut self,
        request_id: &str,
        fingerprint: &[u8],
        outcome_json: &str,
        now: Timestamp,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO requests (request_id, fingerprint, outcome, created_at) \
             VALUES ($1, $2, $3::jsonb, $4)",
        )
        .bind(request_id)
        .bind(fingerprint)
        .bind(outcome_json)
        .bind(now.timestamp_micros())
        .execute(&mut *self.0)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn lock_clients(&mut self, client_ids: &[i64]) -> Result<()> {
        sqlx::query(
            "SELECT client_id FROM clients WHERE client_id = ANY($1) \
             ORDER BY client_id FOR UPDATE",
        )
        .bind(client_ids)
        .execute(&mut *self.0)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn load_client(&mut self, client_id: i64) -> Result<Option<Client>> {
        let sql = format!("SELECT {CLIENT_COLUMNS} FROM clients c WHERE c.client_id = $1");
        let row: Option<ClientRow> = sqlx::query_as(&sql)
            .bind(client_id)
            .fetch_optional(&mut *self.0)
            .await
            .map_err(db_error)?;
        row.map(Client::try_from).transpose()
    }

    async fn find_lead(&mut self, keys: &LeadKeys) -> Result<Option<(Client, &'static str)>> {
        let candidates = [
            (
                "external_lead_id",
                "external_lead_id",
                &keys.external_lead_id,
            ),
            ("email", "email_key", &keys.email),
            ("phone", "phone_key", &keys.phone),
        ];
        // Concurrent leads sharing any key queue here (always in this order), so the same
        // lead sent twice at once makes one client.
        for (matched_on, _, key) in candidates {
            if let Some(key) = key {
                self.advisory_lock(&format!("lead:{matched_on}:{key}"))
                    .await?;
            }
        }
        for (matched_on, column, key) in candidates {
            let Some(key) = key else { continue };
            let id: Option<i64> = sqlx::query_scalar(&format!(
                "SELECT client_id FROM clients WHERE {column} = $1 AND deleted_at IS NULL \
                 ORDER BY client_id LIMIT 1"
            ))
            .bind(key)
            .fetch_optional(&mut *self.0)
            .await
            .map_err(db_error)?;
            if let Some(id) = id {
                self.lock_clients(&[id]).await?;
                if let Some(client) = self.load_client(id).await? {
                    return Ok(Some((client, matched_on)));
                }
            }
        }
        Ok(None)
    }

    async fn document_owner(&mut self, key: &DocumentKey) -> Result<Option<i64>> {
        self.advisory_lock(&format!("document:{}:{}", key.kind, key.id))
            .await?;
        sqlx::query_scalar("SELECT client_id FROM documents WHERE kind = $1 AND document_id = $2")
            .bind(key.kind)
            .bind(&key.id)
            .fetch_optional(&mut *self.0)
            .await
            .map_err(db_error)
    }

    async fn insert_client(&mut self, client: &Client) -> Result<i64> {
        let c = ClientColumns::of(client)?;
        sqlx::query_scalar(
            "INSERT INTO clients (version, stage, lead_status, owner, branch, external_lead_id, \
                email_key, phone_key, parent_client_id, next_call_at, deleted_at, created_at, \
                updated_at, body) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14::jsonb) \
             RETURNING client_id",
        )
        .bind(client.version)
        .bind(c.stage)
        .bind(c.lead_status)
        .bind(&client.owner)
        .bind(&client.branch)
        .bind(c.external_lead_id)
        .bind(c.email_key)
        .bind(c.phone_key)
        .bind(client.parent_client_id)
        .bind(c.next_call_at)
        .bind(c.deleted_at)
        .bind(c.created_at)
        .bind(c.updated_at)
        .bind(c.body)
        .fetch_one(&mut *self.0)
        .await
        .map_err(db_error)
    }

    async fn update_client(&mut self, client: &Client, previous_version: i64) -> Result<()> {
        let c = ClientColumns::of(client)?;
        let done = sqlx::query(
            "UPDATE clients SET version = $1, stage = $2, lead_status = $3, owner = $4, \
                branch = $5, external_lead_id = $6, email_key = $7, phone_key = $8, \
                parent_client_id = $9, next_call_at = $10, deleted_at = $11, updated_at = $12, \
                body = $13::jsonb \
             WHERE client_id = $14 AND version = $15",
        )
        .bind(client.version)
        .bind(c.stage)
        .bind(c.lead_status)
        .bind(&client.owner)
        .bind(&client.branch)
        .bind(c.external_lead_id)
        .bind(c.email_key)
        .bind(c.phone_key)
        .bind(client.parent_client_id)
        .bind(c.next_call_at)
        .bind(c.deleted_at)
        .bind(c.updated_at)
        .bind(c.body)
        .bind(client.client_id)
        .bind(previous_version)
        .execute(&mut *self.0)
        .await
        .map_err(db_error)?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Conflict(format!(
                "client {} is no longer at version {previous_version}",
                client.client_id
            )));
        }
        Ok(())
    }

    async fn insert_document(
        &mut self,
        key: &DocumentKey,
        client_id: i64,
        now: Timestamp,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO documents (kind, document_id, client_id, recorded_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(key.kind)
        .bind(&key.id)
        .bind(client_id)
        .bind(now.timestamp_micros())
        .execute(&mut *self.0)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn insert_history(&mut self, e: &HistoryRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO history (client_id, version, cause, actor, principal, request_id, \
                occurred_at, recorded_at, old_stage, new_stage, note, details) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb)",
        )
        .bind(e.client_id)
        .bind(e.version)
        .bind(&e.cause)
        .bind(&e.actor)
        .bind(&e.principal)
        .bind(&e.request_id)
        .bind(e.occurred_at.timestamp_micros())
        .bind(e.recorded_at.timestamp_micros())
        .bind(e.old_stage.map(|s| s.rank()))
        .bind(e.new_stage.rank())
        .bind(&e.note)
        .bind(details_json(&e.details)?)
        .execute(&mut *self.0)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn insert_alert(
        &mut self,
        kind: AlertKind,
        client_id: i64,
        at: Timestamp,
        now: Timestamp,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO alerts (kind, client_id, occurred_at, raised_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(kind.name())
        .bind(client_id)
        .bind(at.timestamp_micros())
        .bind(now.timestamp_micros())
        .execute(&mut *self.0)
        .await
        .map_err(db_error)?;
        Ok(())
    }
}

/// Connection trouble becomes `Unavailable`, collisions `Conflict` (run again), the rest ours.
fn db_error(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(e.to_string()),
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            match code.as_ref() {
                // serialization_failure, deadlock_detected, unique_violation (a racing insert)
                "40001" | "40P01" | "23505" => StoreError::Conflict(e.to_string()),
                // connection exceptions, insufficient resources, shutdown / starting up,
                // read-only transaction (a standby during failover)
                c if c.starts_with("08") || c.starts_with("53") || c.starts_with("57P") => {
                    StoreError::Unavailable(e.to_string())
                }
                "25006" => StoreError::Unavailable(e.to_string()),
                _ => StoreError::Internal(e.to_string()),
            }
        }
        _ => StoreError::Internal(e.to_string()),
    }
}
