//! SQLite backend: WAL, `synchronous=FULL` (an acknowledged write survives power loss), one
//! writer connection so writers queue in the pool instead of failing with "database is locked",
//! and a separate reader pool so reads never wait behind writes.
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::DateTime;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool, Transaction};

use crate::clock::Clock;
use crate::domain::lead::LeadKeys;
use crate::domain::rules::{AlertKind, Settings};
use crate::domain::{Client, DocumentKey, DomainError, Stage, Timestamp};

use super::engine::{self, StoredRequest, WriteTx};
use super::{
    ClientFilter, HistoryKey, HistoryRecord, Mutation, Outcome, Page, Result, Store, StoreError,
};

pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    clock: Arc<dyn Clock>,
    settings: Settings,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url` and runs the migrations.
    pub async fn connect(url: &str, clock: Arc<dyn Clock>, settings: Settings) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Internal(format!("bad SQLite URL {url:?}: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await
            .map_err(db_error)?;
        sqlx::migrate!("migrations/sqlite")
            .run(&writer)
            .await
            .map_err(|e| StoreError::Internal(format!("migrations failed: {e}")))?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(db_error)?;
        Ok(SqliteStore {
            writer,
            reader,
            clock,
            settings,
        })
    }

    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }
}

/// The columns every client query selects: the record and its children.
const CLIENT_COLUMNS: &str = "c.client_id, c.body, \
     (SELECT group_concat(k.client_id) FROM clients k WHERE k.parent_client_id = c.client_id) \
     AS children";

impl Store for SqliteStore {
    async fn execute(&self, mutation: Mutation) -> Result<Outcome> {
        let mut tx = SqliteTx(self.writer.begin().await.map_err(db_error)?);
        // Taken while holding the only writer connection, so recorded_at follows commit order.
        let now = self.clock.now();
        let outcome = engine::execute(&mut tx, &mutation, now, &self.settings).await?;
        tx.0.commit().await.map_err(db_error)?;
        Ok(outcome)
    }

    async fn get_client(&self, client_id: i64) -> Result<Client> {
        let sql = format!("SELECT {CLIENT_COLUMNS} FROM clients c WHERE c.client_id = ?");
        let row = sqlx::query(&sql)
            .bind(client_id)
            .fetch_optional(&self.reader)
            .await
            .map_err(db_error)?;
        match row {
            Some(row) => client_from_row(&row),
            None => Err(DomainError::ClientNotFound { client_id }.into()),
        }
    }

    async fn list_clients(&self, filter: &ClientFilter, page: Page<i64>) -> Result<Vec<Client>> {
        let mut q = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {CLIENT_COLUMNS} FROM clients c WHERE c.client_id > "
        ));
        q.push_bind(page.after.unwrap_or(0));
        if !filter.include_deleted {
            q.push(" AND c.deleted_at IS NULL");
        }
        let mut stages: Vec<Stage> = filter.stages.clone();
        if let Some(permanent) = filter.permanent {
            let kind: Vec<Stage> = Stage::ALL
                .into_iter()
                .filter(|s| s.is_permanent() == permanent)
                .collect();
            stages = if stages.is_empty() {
                kind
            } else {
                stages.into_iter().filter(|s| kind.contains(s)).collect()
            };
            if stages.is_empty() {
                return Ok(Vec::new());
            }
        }
        if !stages.is_empty() {
            q.push(" AND c.stage IN (");
            let mut list = q.separated(", ");
            for s in &stages {
                list.push_bind(s.rank());
            }
            q.push(")");
        }
        if let Some(owner) = &filter.owner {
            q.push(" AND c.owner = ").push_bind(owner.clone());
        }
        if let Some(branch) = &filter.branch {
            q.push(" AND c.branch = ").push_bind(branch.clone());
        }
        if !filter.lead_statuses.is_empty() {
            q.push(" AND c.lead_status IN (");
            let mut list = q.separated(", ");
            for s in &filter.lead_statuses {
                list.push_bind(s.name());
            }
            q.push(")");
        }
        if let Some(before) = filter.next_call_due_before {
            q.push(" AND c.next_call_at < ")
                .push_bind(before.timestamp_micros());
        }
        q.push(" ORDER BY c.client_id LIMIT ").push_bind(page.limit);
        let rows = q.build().fetch_all(&self.reader).await.map_err(db_error)?;
        rows.iter().map(client_from_row).collect()
    }

    async fn history(&self, client_id: i64, page: Page<HistoryKey>) -> Result<Vec<HistoryRecord>> {
        let exists = sqlx::query("SELECT 1 FROM clients WHERE client_id = ?")
            .bind(client_id)
            .fetch_optional(&self.reader)
            .await
            .map_err(db_error)?;
        if exists.is_none() {
            return Err(DomainError::ClientNotFound { client_id }.into());
        }
        let (after_at, after_id) = page
            .after
            .map_or((i64::MIN, i64::MIN), |(at, id)| (at.timestamp_micros(), id));
        let rows = sqlx::query(
            "SELECT entry_id, client_id, version, cause, actor, principal, request_id, \
                    occurred_at, recorded_at, old_stage, new_stage, note, details \
             FROM history WHERE client_id = ? AND (occurred_at, entry_id) > (?, ?) \
             ORDER BY occurred_at, entry_id LIMIT ?",
        )
        .bind(client_id)
        .bind(after_at)
        .bind(after_id)
        .bind(page.limit)
        .fetch_all(&self.reader)
        .await
        .map_err(db_error)?;
        rows.iter().map(history_from_row).collect()
    }
}

struct SqliteTx(Transaction<'static, Sqlite>);

impl WriteTx for SqliteTx {
    async fn find_request(&mut self, request_id: &str) -> Result<Option<StoredRequest>> {
        let row = sqlx::query("SELECT fingerprint, outcome FROM requests WHERE request_id = ?")
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
            "INSERT INTO requests (request_id, fingerprint, outcome, created_at) VALUES (?, ?, ?, ?)",
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

    async fn load_client(&mut self, client_id: i64) -> Result<Option<Client>> {
        let sql = format!("SELECT {CLIENT_COLUMNS} FROM clients c WHERE c.client_id = ?");
        let row = sqlx::query(&sql)
            .bind(client_id)
            .fetch_optional(&mut *self.0)
            .await
            .map_err(db_error)?;
        row.as_ref().map(client_from_row).transpose()
    }

    async fn find_lead(&mut self, keys: &LeadKeys) -> Result<Option<(Client, &'static str)>> {
        let candidates = [
            ("external_lead_id", &keys.external_lead_id),
            ("email", &keys.email),
            ("phone", &keys.phone),
        ];
        for (matched_on, key) in candidates {
            let Some(key) = key else { continue };
            let column = match matched_on {
                "external_lead_id" => "external_lead_id",
                "email" => "email_key",
                _ => "phone_key",
            };
            let sql = format!(
                "SELECT {CLIENT_COLUMNS} FROM clients c \
                 WHERE c.{column} = ? AND c.deleted_at IS NULL ORDER BY c.client_id LIMIT 1"
            );
            let row = sqlx::query(&sql)
                .bind(key)
                .fetch_optional(&mut *self.0)
                .await
                .map_err(db_error)?;
            if let Some(row) = row {
                return Ok(Some((client_from_row(&row)?, matched_on)));
            }
        }
        Ok(None)
    }

    async fn document_owner(&mut self, key: &DocumentKey) -> Result<Option<i64>> {
        sqlx::query_scalar("SELECT client_id FROM documents WHERE kind = ? AND document_id = ?")
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
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING client_id",
        )
        .bind(client.version)
        .bind(client.stage.rank())
        .bind(client.lead_status.name())
        .bind(&client.owner)
        .bind(&client.branch)
        .bind(c.external_lead_id)
        .bind(c.email_key)
        .bind(c.phone_key)
        .bind(client.parent_client_id)
        .bind(c.next_call_at)
        .bind(c.deleted_at)
        .bind(client.created_at.timestamp_micros())
        .bind(client.updated_at.timestamp_micros())
        .bind(c.body)
        .fetch_one(&mut *self.0)
        .await
        .map_err(db_error)
    }

    async fn update_client(&mut self, client: &Client, previous_version: i64) -> Result<()> {
        let c = ClientColumns::of(client)?;
        let done = sqlx::query(
            "UPDATE clients SET version = ?, stage = ?, lead_status = ?, owner = ?, branch = ?, \
                external_lead_id = ?, email_key = ?, phone_key = ?, parent_client_id = ?, \
                next_call_at = ?, deleted_at = ?, updated_at = ?, body = ? \
             WHERE client_id = ? AND version = ?",
        )
        .bind(client.version)
        .bind(client.stage.rank())
        .bind(client.lead_status.name())
        .bind(&client.owner)
        .bind(&client.branch)
        .bind(c.external_lead_id)
        .bind(c.email_key)
        .bind(c.phone_key)
        .bind(client.parent_client_id)
        .bind(c.next_call_at)
        .bind(c.deleted_at)
        .bind(client.updated_at.timestamp_micros())
        .bind(c.body)
        .bind(client.client_id)
        .bind(previous_version)
        .execute(&mut *self.0)
        .await
        .map_err(db_error)?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Internal(format!(
                "client {} changed under a write at version {previous_version}",
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
            "INSERT INTO documents (kind, document_id, client_id, recorded_at) VALUES (?, ?, ?, ?)",
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
        let details = serde_json::to_string(&e.details)
            .map_err(|err| StoreError::Internal(format!("history details: {err}")))?;
        sqlx::query(
            "INSERT INTO history (client_id, version, cause, actor, principal, request_id, \
                occurred_at, recorded_at, old_stage, new_stage, note, details) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(e.client_id)
        .bind(e.version)
        .bind(&e.cause)
        .bind(&e.actor)
        .bind(&e.principal)
        .bind(&e.request_id)
        .bind(e.occurred_at.timestamp_micros())
        .bind(e.recorded_at.timestamp_micros())
        .bind(e.old_stage.map(Stage::rank))
        .bind(e.new_stage.rank())
        .bind(&e.note)
        .bind(details)
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
            "INSERT INTO alerts (kind, client_id, occurred_at, raised_at) VALUES (?, ?, ?, ?)",
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

/// The indexed copies of a client's fields, and its body.
struct ClientColumns {
    external_lead_id: Option<String>,
    email_key: Option<String>,
    phone_key: Option<String>,
    next_call_at: Option<i64>,
    deleted_at: Option<i64>,
    body: String,
}

impl ClientColumns {
    fn of(client: &Client) -> Result<Self> {
        let id = client.external_lead_id.trim();
        Ok(ClientColumns {
            external_lead_id: (!id.is_empty()).then(|| id.to_string()),
            email_key: client.email_key(),
            phone_key: client.phone_key(),
            next_call_at: client.next_call_at.map(|t| t.timestamp_micros()),
            deleted_at: client.deleted_at.map(|t| t.timestamp_micros()),
            body: serde_json::to_string(client)
                .map_err(|e| StoreError::Internal(format!("client not serialisable: {e}")))?,
        })
    }
}

fn client_from_row(row: &SqliteRow) -> Result<Client> {
    let client_id: i64 = row.try_get("client_id").map_err(db_error)?;
    let body: String = row.try_get("body").map_err(db_error)?;
    let children: Option<String> = row.try_get("children").map_err(db_error)?;
    let mut client: Client = serde_json::from_str(&body)
        .map_err(|e| StoreError::Internal(format!("client {client_id} unreadable: {e}")))?;
    client.client_id = client_id;
    client.child_client_ids = children
        .unwrap_or_default()
        .split(',')
        .filter_map(|s| s.parse().ok())
        .collect();
    client.child_client_ids.sort_unstable();
    Ok(client)
}

fn history_from_row(row: &SqliteRow) -> Result<HistoryRecord> {
    let get_i64 = |name: &str| -> Result<i64> { row.try_get(name).map_err(db_error) };
    let get_str = |name: &str| -> Result<String> { row.try_get(name).map_err(db_error) };
    let stage = |rank: i64| {
        Stage::from_rank(rank).ok_or_else(|| StoreError::Internal(format!("bad stage {rank}")))
    };
    let old_stage: Option<i64> = row.try_get("old_stage").map_err(db_error)?;
    Ok(HistoryRecord {
        entry_id: get_i64("entry_id")?,
        client_id: get_i64("client_id")?,
        version: get_i64("version")?,
        cause: get_str("cause")?,
        actor: get_str("actor")?,
        principal: get_str("principal")?,
        request_id: get_str("request_id")?,
        occurred_at: micros(get_i64("occurred_at")?)?,
        recorded_at: micros(get_i64("recorded_at")?)?,
        old_stage: old_stage.map(stage).transpose()?,
        new_stage: stage(get_i64("new_stage")?)?,
        note: get_str("note")?,
        details: serde_json::from_str(&get_str("details")?)
            .map_err(|e| StoreError::Internal(format!("history details unreadable: {e}")))?,
    })
}

fn micros(v: i64) -> Result<Timestamp> {
    DateTime::from_timestamp_micros(v).ok_or_else(|| StoreError::Internal(format!("bad time {v}")))
}

/// Database faults the caller can retry become `Unavailable`; the rest are ours.
fn db_error(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(e.to_string()),
        sqlx::Error::Database(db) => {
            // Primary result codes: BUSY 5, LOCKED 6, NOMEM 7, IOERR 10, FULL 13, CANTOPEN 14.
            let primary = db
                .code()
                .and_then(|c| c.parse::<i64>().ok())
                .map(|c| c & 0xff);
            match primary {
                Some(5 | 6 | 7 | 10 | 13 | 14) => StoreError::Unavailable(e.to_string()),
                _ => StoreError::Internal(e.to_string()),
            }
        }
        _ => StoreError::Internal(e.to_string()),
    }
}
