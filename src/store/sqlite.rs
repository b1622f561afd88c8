//! SQLite backend: WAL, `synchronous=FULL` (an acknowledged write survives power loss), one
//! writer connection so writers queue in the pool instead of failing with "database is locked",
//! and a separate reader pool so reads never wait behind writes.
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool, Transaction};

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

pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    clock: Arc<dyn Clock>,
    settings: Settings,
    wake: watch::Sender<u64>,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url` and runs the migrations.
    pub async fn connect(url: &str, clock: Arc<dyn Clock>, settings: Settings) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Internal(format!("bad SQLite URL: {e}")))?
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
        crate::telemetry::metrics().watch_pool("sqlite_writer", &writer);
        crate::telemetry::metrics().watch_pool("sqlite_reader", &reader);
        Ok(SqliteStore {
            writer,
            reader,
            clock,
            settings,
            wake: watch::Sender::new(0),
        })
    }

    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }
}

/// Selects a `ClientRow` from `clients c`.
const CLIENT_COLUMNS: &str = "c.client_id, c.body, c.status_id, c.customer_type_id, \
     c.industry_id, c.headcount_class_id, \
     (SELECT s.name FROM catalog s WHERE s.entry_id = c.status_id) AS status_name, \
     (SELECT group_concat(k.client_id) FROM clients k WHERE k.parent_client_id = c.client_id) \
     AS children";

const HISTORY_COLUMNS: &str = "entry_id, client_id, version, cause, actor, principal, \
     request_id, occurred_at, recorded_at, old_stage, new_stage, note, details";

impl Store for SqliteStore {
    async fn execute(&self, mutation: Mutation) -> Result<Outcome> {
        let mut tx = SqliteTx(self.writer.begin().await.map_err(db_error)?);
        // Taken while holding the only writer connection, so recorded_at follows commit order.
        let now = self.clock.now();
        let (outcome, appended) = engine::execute(&mut tx, &mutation, now, &self.settings).await?;
        crate::telemetry::timed_commit("execute", tx.0.commit())
            .await
            .map_err(db_error)?;
        if !appended.is_empty() {
            appended.count();
            self.wake.send_modify(|n| *n = n.wrapping_add(1));
        }
        Ok(outcome)
    }

    async fn status_events(
        &self,
        after: i64,
        filter: &EventFilter,
        limit: i64,
    ) -> Result<Vec<StatusEventRecord>> {
        let mut q = QueryBuilder::<Sqlite>::new(
            "SELECT seq, client_id, kind, cause, actor, request_id, old_stage, new_stage, \
             old_status_id, new_status_id, occurred_at, recorded_at, snapshot \
             FROM status_events WHERE seq > ",
        );
        q.push_bind(after);
        if !filter.new_stages.is_empty() {
            push_in(
                &mut q,
                "new_stage",
                filter.new_stages.iter().map(|s| s.rank()),
            );
        }
        if !filter.causes.is_empty() {
            push_in(&mut q, "cause", filter.causes.iter().cloned());
        }
        if !filter.client_ids.is_empty() {
            push_in(&mut q, "client_id", filter.client_ids.iter().copied());
        }
        q.push(" ORDER BY seq LIMIT ").push_bind(limit);
        let rows: Vec<StatusEventRow> = q
            .build_query_as()
            .fetch_all(&self.reader)
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
        let mut q = QueryBuilder::<Sqlite>::new(
            "SELECT seq, kind, client_id, occurrence_key, due_at, raised_at, snapshot \
             FROM alerts WHERE seq > ",
        );
        q.push_bind(after);
        if !filter.kinds.is_empty() {
            push_in(&mut q, "kind", filter.kinds.iter().map(|k| k.name()));
        }
        if !filter.client_ids.is_empty() {
            push_in(&mut q, "client_id", filter.client_ids.iter().copied());
        }
        q.push(" ORDER BY seq LIMIT ").push_bind(limit);
        let rows: Vec<AlertRow> = q
            .build_query_as()
            .fetch_all(&self.reader)
            .await
            .map_err(db_error)?;
        rows.into_iter().map(AlertRecord::try_from).collect()
    }

    async fn stream_bounds(&self, stream: Stream) -> Result<StreamBounds> {
        let row = sqlx::query("SELECT pruned_through, last_seq FROM stream_heads WHERE stream = ?")
            .bind(stream.name())
            .fetch_one(&self.reader)
            .await
            .map_err(db_error)?;
        Ok(StreamBounds {
            pruned_through: row.try_get("pruned_through").map_err(db_error)?,
            last_seq: row.try_get("last_seq").map_err(db_error)?,
        })
    }

    async fn prune_streams(&self, cutoff: Timestamp) -> Result<()> {
        let mut tx = self.writer.begin().await.map_err(db_error)?;
        for (stream, table, time) in [
            (Stream::Status, "status_events", "recorded_at"),
            (Stream::Alerts, "alerts", "raised_at"),
        ] {
            let newest: Option<i64> =
                sqlx::query_scalar(&format!("SELECT max(seq) FROM {table} WHERE {time} < ?"))
                    .bind(cutoff.timestamp_micros())
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_error)?;
            let Some(newest) = newest else { continue };
            sqlx::query(&format!("DELETE FROM {table} WHERE seq <= ?"))
                .bind(newest)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            sqlx::query(
                "UPDATE stream_heads SET pruned_through = max(pruned_through, ?) WHERE stream = ?",
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
        let mut tx = SqliteTx(self.writer.begin().await.map_err(db_error)?);
        let raised = engine::raise_due(&mut tx, now, settings).await?;
        crate::telemetry::timed_commit("raise_due_alerts", tx.0.commit())
            .await
            .map_err(db_error)?;
        if raised.is_empty() {
            return Ok(0);
        }
        raised.count();
        self.wake.send_modify(|n| *n = n.wrapping_add(1));
        Ok(raised.alerts_len())
    }

    fn wakeups(&self) -> watch::Receiver<u64> {
        self.wake.subscribe()
    }

    async fn get_client(&self, client_id: i64) -> Result<Client> {
        let sql = format!("SELECT {CLIENT_COLUMNS} FROM clients c WHERE c.client_id = ?");
        let row: Option<ClientRow> = sqlx::query_as(&sql)
            .bind(client_id)
            .fetch_optional(&self.reader)
            .await
            .map_err(db_error)?;
        row.ok_or(DomainError::ClientNotFound { client_id })?
            .try_into()
    }

    async fn list_clients(&self, filter: &ClientFilter, page: Page<i64>) -> Result<Vec<Client>> {
        let mut q = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {CLIENT_COLUMNS} FROM clients c WHERE c.client_id > "
        ));
        q.push_bind(page.after.unwrap_or(0));
        if !filter.include_deleted {
            q.push(" AND c.deleted_at IS NULL");
        }
        if let Some(stages) = stage_filter(&filter.stages, filter.permanent) {
            if stages.is_empty() {
                return Ok(Vec::new());
            }
            push_in(&mut q, "c.stage", stages.into_iter().map(|s| s.rank()));
        }
        if let Some(owner) = &filter.owner {
            q.push(" AND c.owner = ").push_bind(owner.clone());
        }
        if let Some(branch) = &filter.branch {
            q.push(" AND c.branch = ").push_bind(branch.clone());
        }
        if !filter.lead_statuses.is_empty() {
            push_in(
                &mut q,
                "c.lead_status",
                filter.lead_statuses.iter().map(|s| s.name()),
            );
        }
        if let Some(before) = filter.next_call_due_before {
            q.push(" AND c.next_call_at < ")
                .push_bind(before.timestamp_micros());
        }
        match &filter.status_ids {
            Some(ids) if ids.is_empty() => return Ok(Vec::new()),
            Some(ids) => push_in(&mut q, "c.status_id", ids.iter().copied()),
            None if filter.hides_ended() => {
                q.push(
                    " AND c.status_id NOT IN \
                     (SELECT entry_id FROM catalog WHERE kind = 'STATUS' AND ended = 1)",
                );
            }
            None => {}
        }
        if !filter.customer_type_ids.is_empty() {
            push_in(
                &mut q,
                "c.customer_type_id",
                filter.customer_type_ids.iter().copied(),
            );
        }
        q.push(" ORDER BY c.client_id LIMIT ").push_bind(page.limit);
        let rows: Vec<ClientRow> = q
            .build_query_as()
            .fetch_all(&self.reader)
            .await
            .map_err(db_error)?;
        rows.into_iter().map(Client::try_from).collect()
    }

    async fn count_clients(
        &self,
        filter: &CountFilter,
        dims: Dimensions,
    ) -> Result<Vec<ClientCount>> {
        let mut q = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {}, count(*) AS n FROM clients c WHERE 1 = 1",
            dims.select_list()
        ));
        if !filter.include_deleted {
            q.push(" AND c.deleted_at IS NULL");
        }
        if !filter.stages.is_empty() {
            push_in(&mut q, "c.stage", filter.stages.iter().map(|s| s.rank()));
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
            .fetch_all(&self.reader)
            .await
            .map_err(db_error)?;
        Ok(rows.into_iter().map(|r| r.into_count(dims)).collect())
    }

    async fn count_activities(&self, query: &ActivityQuery) -> Result<Vec<ActivityCount>> {
        let offset = i64::from(query.utc_offset_minutes) * 60_000_000;
        // Days by floor division: SQL's `/` truncates towards zero, which would put times
        // before 1970 on the wrong day. With t the shifted time, t - ((t % d) + d) % d is t
        // rounded down to a whole day.
        let mut q = QueryBuilder::<Sqlite>::new("SELECT actor, ((occurred_at + ");
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
            push_in(&mut q, "cause", query.causes.iter().cloned());
        }
        q.push(" GROUP BY actor, day, cause ORDER BY day, actor, cause");
        let rows: Vec<ActivityRow> = q
            .build_query_as()
            .fetch_all(&self.reader)
            .await
            .map_err(db_error)?;
        rows.into_iter().map(ActivityRow::into_count).collect()
    }

    async fn catalog(&self, kinds: &[CatalogKind]) -> Result<Vec<Entry>> {
        load_entries(&self.reader, kinds).await
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
        let rows: Vec<HistoryRow> = sqlx::query_as(&format!(
            "SELECT {HISTORY_COLUMNS} FROM history \
             WHERE client_id = ? AND (occurred_at, entry_id) > (?, ?) \
             ORDER BY occurred_at, entry_id LIMIT ?"
        ))
        .bind(client_id)
        .bind(after_at)
        .bind(after_id)
        .bind(page.limit)
        .fetch_all(&self.reader)
        .await
        .map_err(db_error)?;
        rows.into_iter().map(HistoryRecord::try_from).collect()
    }

    /// On the reader pool: a health probe must not queue behind writes.
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.reader)
            .await
            .map_err(db_error)?;
        Ok(())
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
            "INSERT INTO requests (request_id, fingerprint, outcome, created_at) \
             VALUES (?, ?, ?, ?)",
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

    async fn lock_clients(&mut self, _client_ids: &[i64]) -> Result<()> {
        // The single writer connection already serialises every write transaction.
        Ok(())
    }

    async fn load_client(&mut self, client_id: i64) -> Result<Option<Client>> {
        let sql = format!("SELECT {CLIENT_COLUMNS} FROM clients c WHERE c.client_id = ?");
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
        for (matched_on, column, key) in candidates {
            let Some(key) = key else { continue };
            let sql = format!(
                "SELECT {CLIENT_COLUMNS} FROM clients c \
                 WHERE c.{column} = ? AND c.deleted_at IS NULL ORDER BY c.client_id LIMIT 1"
            );
            let row: Option<ClientRow> = sqlx::query_as(&sql)
                .bind(key)
                .fetch_optional(&mut *self.0)
                .await
                .map_err(db_error)?;
            if let Some(row) = row {
                return Ok(Some((row.try_into()?, matched_on)));
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
                updated_at, body, status_id, customer_type_id, industry_id, headcount_class_id) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING client_id",
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
            "UPDATE clients SET version = ?, stage = ?, lead_status = ?, owner = ?, branch = ?, \
                external_lead_id = ?, email_key = ?, phone_key = ?, parent_client_id = ?, \
                next_call_at = ?, deleted_at = ?, updated_at = ?, body = ?, status_id = ?, \
                customer_type_id = ?, industry_id = ?, headcount_class_id = ? \
             WHERE client_id = ? AND version = ?",
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
        sqlx::query("DELETE FROM alert_timers WHERE client_id = ?")
            .bind(client_id)
            .execute(&mut *self.0)
            .await
            .map_err(db_error)?;
        for t in timers {
            sqlx::query(
                "INSERT INTO alert_timers (client_id, kind, base_at, occurrence_key) \
                 VALUES (?, ?, ?, ?)",
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
        // The single writer connection means no other transaction can hold these rows.
        let rows: Vec<TimerRow> = sqlx::query_as(
            "SELECT client_id, kind, base_at, occurrence_key FROM alert_timers \
             WHERE kind = ? AND base_at <= ? ORDER BY base_at LIMIT ?",
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
        sqlx::query("DELETE FROM alert_timers WHERE client_id = ? AND kind = ?")
            .bind(client_id)
            .bind(kind.name())
            .execute(&mut *self.0)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn alert_exists(&mut self, occurrence_key: &str) -> Result<bool> {
        let row = sqlx::query("SELECT 1 FROM alerts WHERE occurrence_key = ?")
            .bind(occurrence_key)
            .fetch_optional(&mut *self.0)
            .await
            .map_err(db_error)?;
        Ok(row.is_some())
    }

    async fn next_sequences(&mut self, stream: Stream, count: i64) -> Result<i64> {
        let last: i64 = sqlx::query_scalar(
            "UPDATE stream_heads SET last_seq = last_seq + ? WHERE stream = ? RETURNING last_seq",
        )
        .bind(count)
        .bind(stream.name())
        .fetch_one(&mut *self.0)
        .await
        .map_err(db_error)?;
        Ok(last - count + 1)
    }

    async fn insert_status_event(&mut self, seq: i64, e: &NewStatusEvent) -> Result<()> {
        sqlx::query(
            "INSERT INTO status_events (seq, client_id, kind, cause, actor, request_id, \
                old_stage, new_stage, old_status_id, new_status_id, occurred_at, recorded_at, \
                snapshot) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
        // The single writer connection already makes catalogue changes take turns.
        Ok(())
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
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING entry_id",
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
            "UPDATE catalog SET name = ?, display_order = ?, color = ?, \
                selectable_for_project = ?, selectable_as_supplier = ?, ended = ?, \
                is_default = ?, status_ids = ?, version = ?, updated_at = ? \
             WHERE entry_id = ? AND version = ?",
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
        sqlx::query("DELETE FROM catalog WHERE entry_id = ?")
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
        sqlx::query_scalar(&format!("SELECT count(*) FROM clients WHERE {column} = ?"))
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
            "SELECT client_id FROM clients WHERE {column} = ? ORDER BY client_id LIMIT ?"
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
                snapshot) VALUES (?, ?, ?, ?, ?, ?, ?)",
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

async fn load_entries<'c, E>(executor: E, kinds: &[CatalogKind]) -> Result<Vec<Entry>>
where
    E: sqlx::Executor<'c, Database = Sqlite>,
{
    if kinds.is_empty() {
        return Ok(Vec::new());
    }
    let mut q =
        QueryBuilder::<Sqlite>::new(format!("SELECT {ENTRY_COLUMNS} FROM catalog WHERE 1 = 1"));
    push_in(&mut q, "kind", kinds.iter().map(|k| k.name()));
    let rows: Vec<EntryRow> = q
        .build_query_as()
        .fetch_all(executor)
        .await
        .map_err(db_error)?;
    entries_in_order(rows)
}

/// Appends ` AND column IN (v1, v2, …)` with each value bound.
fn push_in<'a, T>(q: &mut QueryBuilder<'a, Sqlite>, column: &str, values: impl Iterator<Item = T>)
where
    T: 'a + sqlx::Encode<'a, Sqlite> + sqlx::Type<Sqlite>,
{
    q.push(format!(" AND {column} IN ("));
    let mut list = q.separated(", ");
    for v in values {
        list.push_bind(v);
    }
    q.push(")");
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
