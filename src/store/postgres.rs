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
use tokio::sync::watch;

use crate::domain::alerts::{AlertSettings, Timer};
use crate::domain::rules::Settings;
use crate::domain::{
    AlertKind, Catalog, CatalogKind, Client, DocumentKey, DomainError, Entry, Stage, Timestamp,
};

use super::engine::{self, NewAlert, NewStatusEvent, StoredRequest, WriteTx};
use super::rows::{
    AlertRow, ClientColumns, ClientRow, ENTRY_COLUMNS, EntryRow, HistoryRow, StatusEventRow,
    TimerRow, details_json, entries_in_order, reference_column, stage_filter, status_ids_json,
};
use super::{
    ActivityCount, ActivityQuery, ActivityRow, AlertFilter, AlertRecord, ClientCount,
    ClientCountRow, ClientFilter, CountFilter, Dimensions, EventFilter, HistoryKey, HistoryRecord,
    MICROS_PER_DAY, Mutation, Outcome, Page, Result, StatusEventRecord, Store, StoreError, Stream,
    StreamBounds,
};

async fn load_entries<'c, E>(executor: E, kinds: &[CatalogKind]) -> Result<Vec<Entry>>
where
    E: sqlx::Executor<'c, Database = Postgres>,
{
    let names: Vec<&str> = kinds.iter().map(|k| k.name()).collect();
    let rows: Vec<EntryRow> = sqlx::query_as(&format!(
        "SELECT {ENTRY_COLUMNS} FROM catalog WHERE kind = ANY($1)"
    ))
    .bind(names)
    .fetch_all(executor)
    .await
    .map_err(db_error)?;
    entries_in_order(rows)
}

/// How many times a colliding transaction is run before the caller is told to retry.
const MAX_ATTEMPTS: u32 = 8;

pub struct PgStore {
    pool: PgPool,
    clock: Arc<dyn Clock>,
    settings: Settings,
    wake: watch::Sender<u64>,
}

/// The LISTEN/NOTIFY channel on which committed stream entries are announced to every process.
const NOTIFY_CHANNEL: &str = "clientstatus_streams";

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
        crate::telemetry::metrics().watch_pool("postgres", &pool);
        sqlx::migrate!("migrations/postgres")
            .run(&pool)
            .await
            .map_err(|e| StoreError::Internal(format!("migrations failed: {e}")))?;
        let wake = watch::Sender::new(0);
        tokio::spawn(listen(pool.clone(), wake.clone()));
        Ok(PgStore {
            pool,
            clock,
            settings,
            wake,
        })
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn attempt(&self, mutation: &Mutation) -> Result<Outcome> {
        let mut tx = PgTx(self.pool.begin().await.map_err(db_error)?);
        let now = self.clock.now();
        let (outcome, appended) = engine::execute(&mut tx, mutation, now, &self.settings).await?;
        crate::telemetry::timed_commit("execute", tx.0.commit())
            .await
            .map_err(db_error)?;
        if !appended.is_empty() {
            appended.count();
            self.wake.send_modify(|n| *n = n.wrapping_add(1));
        }
        Ok(outcome)
    }
}

/// Selects a `ClientRow` from `clients c`.
const CLIENT_COLUMNS: &str = "c.client_id, c.body::text AS body, c.status_id, \
     c.customer_type_id, c.industry_id, c.headcount_class_id, \
     (SELECT s.name FROM catalog s WHERE s.entry_id = c.status_id) AS status_name, \
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
        match &filter.status_ids {
            Some(ids) => {
                q.push(" AND c.status_id = ANY(")
                    .push_bind(ids.clone())
                    .push(")");
            }
            None if filter.hides_ended() => {
                q.push(
                    " AND c.status_id NOT IN \
                     (SELECT entry_id FROM catalog WHERE kind = 'STATUS' AND ended)",
                );
            }
            None => {}
        }
        if !filter.customer_type_ids.is_empty() {
            q.push(" AND c.customer_type_id = ANY(")
                .push_bind(filter.customer_type_ids.clone())
                .push(")");
        }
        q.push(" ORDER BY c.client_id LIMIT ").push_bind(page.limit);
        let rows: Vec<ClientRow> = q
            .build_query_as()
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        rows.into_iter().map(Client::try_from).collect()
    }

    async fn count_clients(
        &self,
        filter: &CountFilter,
        dims: Dimensions,
    ) -> Result<Vec<ClientCount>> {
        let mut q = QueryBuilder::<Postgres>::new(format!(
            "SELECT {}, count(*) AS n FROM clients c WHERE 1 = 1",
            dims.select_list()
        ));
        if !filter.include_deleted {
            q.push(" AND c.deleted_at IS NULL");
        }
        if !filter.stages.is_empty() {
            let ranks: Vec<i64> = filter.stages.iter().map(|s| s.rank()).collect();
            q.push(" AND c.stage = ANY(").push_bind(ranks).push(")");
        }
        if let Some(owner) = &filter.owner {
            q.push(" AND c.owner = ").push_bind(owner.clone());
        }
        if let Some(branch) = &filter.branch {
            q.push(" AND c.branch = ").push_bind(branch.clone());
        }
        q.push(" GROUP BY 1, 2, 3 ORDER BY 1, 2, 3");
        let rows: Vec<ClientCountRow> = q
            .build_query_as()
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(rows.into_iter().map(|r| r.into_count(dims)).collect())
    }

    async fn count_activities(&self, query: &ActivityQuery) -> Result<Vec<ActivityCount>> {
        let offset = i64::from(query.utc_offset_minutes) * 60_000_000;
        // Days by floor division: SQL's `/` truncates towards zero, which would put times
        // before 1970 on the wrong day. With t the shifted time, t - ((t % d) + d) % d is t
        // rounded down to a whole day.
        let mut q = QueryBuilder::<Postgres>::new("SELECT actor, ((occurred_at + ");
        q.push_bind(offset).push(") - (((occurred_at + ");
        q.push_bind(offset)
            .push(format!(
                ") % {D}) + {D}) % {D}) / {D} AS day, cause, count(*) AS n FROM history",
                D = MICROS_PER_DAY
            ))
            .push(" WHERE occurred_at >= ")
            .push_bind(query.from.timestamp_micros())
            .push(" AND occurred_at < ")
            .push_bind(query.to.timestamp_micros());
        if let Some(actor) = &query.actor {
            q.push(" AND actor = ").push_bind(actor.clone());
        }
        if !query.causes.is_empty() {
            q.push(" AND cause = ANY(")
                .push_bind(query.causes.clone())
                .push(")");
        }
        q.push(" GROUP BY actor, day, cause ORDER BY day, actor, cause");
        let rows: Vec<ActivityRow> = q
            .build_query_as()
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        rows.into_iter().map(ActivityRow::into_count).collect()
    }

    async fn catalog(&self, kinds: &[CatalogKind]) -> Result<Vec<Entry>> {
        load_entries(&self.pool, kinds).await
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

    async fn status_events(
        &self,
        after: i64,
        filter: &EventFilter,
        limit: i64,
    ) -> Result<Vec<StatusEventRecord>> {
        let mut q = QueryBuilder::<Postgres>::new(
            "SELECT seq, client_id, kind, cause, actor, request_id, old_stage, new_stage, \
             old_status_id, new_status_id, occurred_at, recorded_at, snapshot::text AS snapshot \
             FROM status_events WHERE seq > ",
        );
        q.push_bind(after);
        if !filter.new_stages.is_empty() {
            let ranks: Vec<i64> = filter.new_stages.iter().map(|s| s.rank()).collect();
            q.push(" AND new_stage = ANY(").push_bind(ranks).push(")");
        }
        if !filter.causes.is_empty() {
            q.push(" AND cause = ANY(")
                .push_bind(filter.causes.clone())
                .push(")");
        }
        if !filter.client_ids.is_empty() {
            q.push(" AND client_id = ANY(")
                .push_bind(filter.client_ids.clone())
                .push(")");
        }
        q.push(" ORDER BY seq LIMIT ").push_bind(limit);
        let rows: Vec<StatusEventRow> = q
            .build_query_as()
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        rows.into_iter().map(StatusEventRecord::try_from).collect()
    }

    async fn alerts(
        &self,
        after: i64,
        filter: &AlertFilter,
        limit: i64,
    ) -> Result<Vec<AlertRecord>> {
        let mut q = QueryBuilder::<Postgres>::new(
            "SELECT seq, kind, client_id, occurrence_key, due_at, raised_at, \
             snapshot::text AS snapshot FROM alerts WHERE seq > ",
        );
        q.push_bind(after);
        if !filter.kinds.is_empty() {
            let names: Vec<&str> = filter.kinds.iter().map(|k| k.name()).collect();
            q.push(" AND kind = ANY(").push_bind(names).push(")");
        }
        if !filter.client_ids.is_empty() {
            q.push(" AND client_id = ANY(")
                .push_bind(filter.client_ids.clone())
                .push(")");
        }
        q.push(" ORDER BY seq LIMIT ").push_bind(limit);
        let rows: Vec<AlertRow> = q
            .build_query_as()
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        rows.into_iter().map(AlertRecord::try_from).collect()
    }

    async fn stream_bounds(&self, stream: Stream) -> Result<StreamBounds> {
        let row =
            sqlx::query("SELECT pruned_through, last_seq FROM stream_heads WHERE stream = $1")
                .bind(stream.name())
                .fetch_one(&self.pool)
                .await
                .map_err(db_error)?;
        Ok(StreamBounds {
            pruned_through: row.try_get("pruned_through").map_err(db_error)?,
            last_seq: row.try_get("last_seq").map_err(db_error)?,
        })
    }

    async fn prune_streams(&self, cutoff: Timestamp) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        for (stream, table, time) in [
            (Stream::Status, "status_events", "recorded_at"),
            (Stream::Alerts, "alerts", "raised_at"),
        ] {
            // Hold the stream's counter so no writer appends while the prefix goes.
            sqlx::query("SELECT 1 FROM stream_heads WHERE stream = $1 FOR UPDATE")
                .bind(stream.name())
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            let newest: Option<i64> =
                sqlx::query_scalar(&format!("SELECT max(seq) FROM {table} WHERE {time} < $1"))
                    .bind(cutoff.timestamp_micros())
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_error)?;
            let Some(newest) = newest else { continue };
            sqlx::query(&format!("DELETE FROM {table} WHERE seq <= $1"))
                .bind(newest)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            sqlx::query(
                "UPDATE stream_heads SET pruned_through = greatest(pruned_through, $1) \
                 WHERE stream = $2",
            )
            .bind(newest)
            .bind(stream.name())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        }
        tx.commit().await.map_err(db_error)
    }

    async fn raise_due_alerts(&self, now: Timestamp, settings: &AlertSettings) -> Result<usize> {
        let mut attempt = 1;
        loop {
            let result = async {
                let mut tx = PgTx(self.pool.begin().await.map_err(db_error)?);
                let raised = engine::raise_due(&mut tx, now, settings).await?;
                crate::telemetry::timed_commit("raise_due_alerts", tx.0.commit())
                    .await
                    .map_err(db_error)?;
                Ok(raised)
            }
            .await;
            match result {
                Err(StoreError::Conflict(_)) if attempt < MAX_ATTEMPTS => attempt += 1,
                Ok(raised) => {
                    if raised.is_empty() {
                        return Ok(0);
                    }
                    raised.count();
                    self.wake.send_modify(|n| *n = n.wrapping_add(1));
                    return Ok(raised.alerts_len());
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn wakeups(&self) -> watch::Receiver<u64> {
        self.wake.subscribe()
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }
}

/// Wakes local subscribers when any process sharing the database commits stream entries.
/// Reconnects on its own; subscribers also poll, so a lost notification only delays them.
async fn listen(pool: PgPool, wake: watch::Sender<u64>) {
    use sqlx::postgres::PgListener;
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
                // Re-read under the lock: it may have been deleted since the lookup.
                if let Some(client) = self.load_client(id).await?
                    && !client.is_deleted()
                {
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
                updated_at, body, status_id, customer_type_id, industry_id, headcount_class_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14::jsonb, $15, \
                $16, $17, $18) \
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
        .bind(c.status_id)
        .bind(c.customer_type_id)
        .bind(c.industry_id)
        .bind(c.headcount_class_id)
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
                body = $13::jsonb, status_id = $14, customer_type_id = $15, industry_id = $16, \
                headcount_class_id = $17 \
             WHERE client_id = $18 AND version = $19",
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
        .bind(c.status_id)
        .bind(c.customer_type_id)
        .bind(c.industry_id)
        .bind(c.headcount_class_id)
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

    async fn sync_timers(&mut self, client_id: i64, timers: &[Timer]) -> Result<()> {
        sqlx::query("DELETE FROM alert_timers WHERE client_id = $1")
            .bind(client_id)
            .execute(&mut *self.0)
            .await
            .map_err(db_error)?;
        for t in timers {
            sqlx::query(
                "INSERT INTO alert_timers (client_id, kind, base_at, occurrence_key) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(client_id)
            .bind(t.kind.name())
            .bind(t.base_at.timestamp_micros())
            .bind(&t.occurrence_key)
            .execute(&mut *self.0)
            .await
            .map_err(db_error)?;
        }
        Ok(())
    }

    async fn claim_due_timers(
        &mut self,
        kind: AlertKind,
        cutoff: Timestamp,
        limit: i64,
    ) -> Result<Vec<(i64, Timer)>> {
        // SKIP LOCKED: replicas share the due timers out instead of raising one twice.
        let rows: Vec<TimerRow> = sqlx::query_as(
            "SELECT client_id, kind, base_at, occurrence_key FROM alert_timers \
             WHERE kind = $1 AND base_at <= $2 ORDER BY base_at LIMIT $3 \
             FOR UPDATE SKIP LOCKED",
        )
        .bind(kind.name())
        .bind(cutoff.timestamp_micros())
        .bind(limit)
        .fetch_all(&mut *self.0)
        .await
        .map_err(db_error)?;
        rows.into_iter().map(TimerRow::into_timer).collect()
    }

    async fn delete_timer(&mut self, client_id: i64, kind: AlertKind) -> Result<()> {
        sqlx::query("DELETE FROM alert_timers WHERE client_id = $1 AND kind = $2")
            .bind(client_id)
            .bind(kind.name())
            .execute(&mut *self.0)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn alert_exists(&mut self, occurrence_key: &str) -> Result<bool> {
        let row = sqlx::query("SELECT 1 FROM alerts WHERE occurrence_key = $1")
            .bind(occurrence_key)
            .fetch_optional(&mut *self.0)
            .await
            .map_err(db_error)?;
        Ok(row.is_some())
    }

    async fn next_sequences(&mut self, stream: Stream, count: i64) -> Result<i64> {
        // The row lock taken here is held until commit: the next writer's numbers come after
        // this transaction is visible, so readers never pass over a late commit.
        let last: i64 = sqlx::query_scalar(
            "UPDATE stream_heads SET last_seq = last_seq + $1 WHERE stream = $2 \
             RETURNING last_seq",
        )
        .bind(count)
        .bind(stream.name())
        .fetch_one(&mut *self.0)
        .await
        .map_err(db_error)?;
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(NOTIFY_CHANNEL)
            .bind(stream.name())
            .execute(&mut *self.0)
            .await
            .map_err(db_error)?;
        Ok(last - count + 1)
    }

    async fn insert_status_event(&mut self, seq: i64, e: &NewStatusEvent) -> Result<()> {
        sqlx::query(
            "INSERT INTO status_events (seq, client_id, kind, cause, actor, request_id, \
                old_stage, new_stage, old_status_id, new_status_id, occurred_at, recorded_at, \
                snapshot) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::jsonb)",
        )
        .bind(seq)
        .bind(e.client_id)
        .bind(e.kind.name())
        .bind(&e.cause)
        .bind(&e.actor)
        .bind(&e.request_id)
        .bind(e.old_stage.rank())
        .bind(e.new_stage.rank())
        .bind(e.old_status_id)
        .bind(e.new_status_id)
        .bind(e.occurred_at.timestamp_micros())
        .bind(e.recorded_at.timestamp_micros())
        .bind(&e.snapshot)
        .execute(&mut *self.0)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn lock_catalog(&mut self) -> Result<()> {
        self.advisory_lock("catalog").await
    }

    async fn load_catalog(&mut self, kinds: &[CatalogKind]) -> Result<Catalog> {
        Ok(Catalog {
            entries: load_entries(&mut *self.0, kinds).await?,
        })
    }

    async fn insert_entry(&mut self, e: &Entry) -> Result<i64> {
        sqlx::query_scalar(
            "INSERT INTO catalog (kind, stage, name, display_order, color, \
                selectable_for_project, selectable_as_supplier, ended, is_default, status_ids, \
                version, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING entry_id",
        )
        .bind(e.kind.name())
        .bind(e.stage.map(Stage::rank))
        .bind(&e.name)
        .bind(e.display_order)
        .bind(&e.color)
        .bind(e.selectable_for_project)
        .bind(e.selectable_as_supplier)
        .bind(e.ended)
        .bind(e.is_default)
        .bind(status_ids_json(&e.status_ids))
        .bind(e.version)
        .bind(e.created_at.timestamp_micros())
        .bind(e.updated_at.timestamp_micros())
        .fetch_one(&mut *self.0)
        .await
        .map_err(db_error)
    }

    async fn update_entry(&mut self, e: &Entry, previous_version: i64) -> Result<()> {
        let done = sqlx::query(
            "UPDATE catalog SET name = $1, display_order = $2, color = $3, \
                selectable_for_project = $4, selectable_as_supplier = $5, ended = $6, \
                is_default = $7, status_ids = $8, version = $9, updated_at = $10 \
             WHERE entry_id = $11 AND version = $12",
        )
        .bind(&e.name)
        .bind(e.display_order)
        .bind(&e.color)
        .bind(e.selectable_for_project)
        .bind(e.selectable_as_supplier)
        .bind(e.ended)
        .bind(e.is_default)
        .bind(status_ids_json(&e.status_ids))
        .bind(e.version)
        .bind(e.updated_at.timestamp_micros())
        .bind(e.entry_id)
        .bind(previous_version)
        .execute(&mut *self.0)
        .await
        .map_err(db_error)?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Conflict(format!(
                "{} is no longer at version {previous_version}",
                e.subject()
            )));
        }
        Ok(())
    }

    async fn delete_entry(&mut self, e: &Entry) -> Result<()> {
        sqlx::query("DELETE FROM catalog WHERE entry_id = $1")
            .bind(e.entry_id)
            .execute(&mut *self.0)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn count_clients_using(&mut self, e: &Entry) -> Result<i64> {
        let Some(column) = reference_column(e.kind) else {
            return Ok(0);
        };
        // Waits for writers assigning this entry right now, so the count includes them; one
        // that assigns it after the count fails on the foreign key and is run again.
        sqlx::query("SELECT 1 FROM catalog WHERE entry_id = $1 FOR UPDATE")
            .bind(e.entry_id)
            .execute(&mut *self.0)
            .await
            .map_err(db_error)?;
        sqlx::query_scalar(&format!("SELECT count(*) FROM clients WHERE {column} = $1"))
            .bind(e.entry_id)
            .fetch_one(&mut *self.0)
            .await
            .map_err(db_error)
    }

    async fn clients_using(&mut self, e: &Entry, limit: i64) -> Result<Vec<i64>> {
        let Some(column) = reference_column(e.kind) else {
            return Ok(Vec::new());
        };
        sqlx::query_scalar(&format!(
            "SELECT client_id FROM clients WHERE {column} = $1 ORDER BY client_id LIMIT $2"
        ))
        .bind(e.entry_id)
        .bind(limit)
        .fetch_all(&mut *self.0)
        .await
        .map_err(db_error)
    }

    async fn insert_alert(&mut self, seq: i64, a: &NewAlert) -> Result<()> {
        sqlx::query(
            "INSERT INTO alerts (seq, kind, client_id, occurrence_key, due_at, raised_at, \
                snapshot) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)",
        )
        .bind(seq)
        .bind(a.kind.name())
        .bind(a.client_id)
        .bind(&a.occurrence_key)
        .bind(a.due_at.timestamp_micros())
        .bind(a.raised_at.timestamp_micros())
        .bind(&a.snapshot)
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
                // foreign_key_violation: a catalogue entry deleted while a writer assigned it
                "40001" | "40P01" | "23505" | "23503" => StoreError::Conflict(e.to_string()),
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
