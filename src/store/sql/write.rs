//! The write primitives of [`WriteTx`], once for both databases, over any [`Conn`] that is
//! inside a transaction. Serialisation between writers comes from the connection: `lock_key`
//! and `FOR UPDATE` on Postgres, the single writer connection on SQLite.
use std::sync::{Arc, Mutex};

use crate::domain::alerts::Timer;
use crate::domain::lead::LeadKeys;
use crate::domain::{
    AlertKind, Catalog, CatalogKind, Client, DocumentKey, Entry, Stage, Timestamp,
};

use super::super::engine::{NewAlert, NewStatusEvent, StoredRequest, WriteTx};
use super::super::rows::{self, CLIENT_COLUMNS, TIMER_COLUMNS, reference_column, to_json};
use super::super::{HistoryRecord, Result, StoreError, Stream};
use super::{Conn, Row, Sql, Value, read};

/// A transaction on `C`; the backend begins and ends it.
pub struct Tx<C> {
    pub conn: C,
    pub catalog: Arc<CatalogCache>,
}

impl<C> Tx<C> {
    pub fn new(conn: C, catalog: Arc<CatalogCache>) -> Self {
        Tx { conn, catalog }
    }
}

/// The catalogue as last read, with the version counter it was read at. Every catalogue write
/// bumps the counter in its own transaction, so a transaction that reads the counter and finds
/// it unchanged sees exactly the cached catalogue, without reading it again.
#[derive(Debug, Default)]
pub struct CatalogCache(Mutex<Option<(i64, Arc<Catalog>)>>);

impl CatalogCache {
    fn get(&self, version: i64) -> Option<Arc<Catalog>> {
        let cached = self.0.lock().unwrap_or_else(|e| e.into_inner());
        cached
            .as_ref()
            .filter(|(v, _)| *v == version)
            .map(|(_, c)| c.clone())
    }

    fn put(&self, version: i64, catalog: Arc<Catalog>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some((version, catalog));
    }
}

/// Which column holds each lead key.
fn lead_column(matched_on: &str) -> &'static str {
    match matched_on {
        "email" => "email_key",
        "phone" => "phone_key",
        _ => "external_lead_id",
    }
}

/// The columns a client row keeps beside its JSON body, in `CLIENT_WRITE_COLUMNS` order.
fn client_values(client: &Client, body: &str) -> Vec<Value> {
    let keys = client.lead_keys();
    vec![
        client.version.into(),
        client.stage.rank().into(),
        client.lead_status.name().into(),
        client.owner.as_str().into(),
        client.branch.as_str().into(),
        keys.external_lead_id.into(),
        keys.email.into(),
        keys.phone.into(),
        client.parent_client_id.into(),
        client.next_call_at.map(|t| t.timestamp_micros()).into(),
        client.deleted_at.map(|t| t.timestamp_micros()).into(),
        client.created_at.timestamp_micros().into(),
        client.updated_at.timestamp_micros().into(),
        Value::Json(body.to_string()),
        client.status_id.into(),
        client.classifications.customer_type_id.into(),
        client.classifications.industry_id.into(),
        client.classifications.headcount_class_id.into(),
        client.merged_into.into(),
    ]
}

const CLIENT_WRITE_COLUMNS: [&str; 19] = [
    "version",
    "stage",
    "lead_status",
    "owner",
    "branch",
    "external_lead_id",
    "email_key",
    "phone_key",
    "parent_client_id",
    "next_call_at",
    "deleted_at",
    "created_at",
    "updated_at",
    "body",
    "status_id",
    "customer_type_id",
    "industry_id",
    "headcount_class_id",
    "merged_into",
];

impl<C: Conn> Tx<C> {
    /// Every catalogue write bumps the version, so cached catalogues are read again.
    async fn catalog_changed(&mut self) -> Result<()> {
        self.conn
            .execute(Sql::new("UPDATE catalog_version SET version = version + 1"))
            .await
            .map(drop)
    }
}

impl<C: Conn> WriteTx for Tx<C> {
    async fn find_request(
        &mut self,
        principal: &str,
        request_id: &str,
    ) -> Result<Option<StoredRequest>> {
        let q = Sql::new(
            "SELECT fingerprint, outcome FROM requests WHERE principal = $1 AND request_id = $2",
        )
        .arg(principal)
        .arg(request_id);
        let row = self.conn.fetch_optional(q).await?;
        row.map(|r| {
            Ok(StoredRequest {
                fingerprint: r.bytes("fingerprint")?,
                outcome: r.json("outcome")?,
            })
        })
        .transpose()
    }

    async fn claim_request(
        &mut self,
        principal: &str,
        request_id: &str,
        fingerprint: &[u8],
        outcome_json: String,
        unlogged_client: Option<i64>,
        now: Timestamp,
    ) -> Result<bool> {
        // A concurrent copy of the same request (Postgres) waits here on the key until the
        // first commits, then finds it taken.
        let q = Sql::new(
            "INSERT INTO requests (principal, request_id, fingerprint, outcome, created_at, \
                client_id) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (principal, request_id) DO NOTHING",
        )
        .arg(principal)
        .arg(request_id)
        .arg(fingerprint)
        .json(outcome_json)
        .arg(now.timestamp_micros())
        .arg(unlogged_client);
        Ok(self.conn.execute(q).await? == 1)
    }

    async fn lock_clients(&mut self, client_ids: &[i64]) -> Result<Vec<Client>> {
        let mut q = Sql::new(format!(
            "SELECT {CLIENT_COLUMNS} FROM clients c WHERE 1 = 1"
        ));
        q.in_list(
            C::DIALECT,
            "c.client_id",
            Value::I64List(client_ids.to_vec()),
        );
        q.push(" ORDER BY c.client_id")
            .push(C::DIALECT.for_update());
        self.conn
            .fetch_all(q)
            .await?
            .iter()
            .map(rows::client)
            .collect()
    }

    async fn load_client(&mut self, client_id: i64) -> Result<Option<Client>> {
        read::client(&mut self.conn, client_id).await
    }

    async fn find_lead(&mut self, keys: &LeadKeys) -> Result<Option<(Client, &'static str)>> {
        let candidates = keys.candidates();
        // Concurrent leads sharing any key queue here (always in this order), so the same
        // lead sent twice at once makes one client.
        for (matched_on, key) in candidates {
            if let Some(key) = key {
                self.conn
                    .lock_key(&format!("lead:{matched_on}:{key}"))
                    .await?;
            }
        }
        for (matched_on, key) in candidates {
            let Some(key) = key else { continue };
            // A merged client's keys are its survivor's (MergeClients moved them there).
            let q = Sql::new(format!(
                "SELECT coalesce(merged_into, client_id) AS client_id FROM clients WHERE {} = $1 \
                 AND deleted_at IS NULL ORDER BY client_id LIMIT 1",
                lead_column(matched_on)
            ))
            .arg(key);
            if let Some(id) = self.conn.fetch_optional(q).await? {
                // Locked, then checked again: it may have been deleted since the lookup.
                let locked = self.lock_clients(&[id.i64("client_id")?]).await?;
                if let Some(client) = locked.into_iter().find(|c| !c.is_deleted()) {
                    return Ok(Some((client, matched_on)));
                }
            }
        }
        Ok(None)
    }

    async fn document_owner(&mut self, key: &DocumentKey) -> Result<Option<i64>> {
        self.conn
            .lock_key(&format!("document:{}:{}", key.kind, key.id))
            .await?;
        let row = self
            .conn
            .fetch_optional(
                Sql::new("SELECT client_id FROM documents WHERE kind = $1 AND document_id = $2")
                    .arg(key.kind)
                    .arg(key.id.as_str()),
            )
            .await?;
        row.map(|r| r.i64("client_id")).transpose()
    }

    async fn insert_client(&mut self, client: &Client, body: &str) -> Result<i64> {
        let placeholders: Vec<String> = (1..=CLIENT_WRITE_COLUMNS.len())
            .map(|n| format!("${n}"))
            .collect();
        let mut q = Sql::new(format!(
            "INSERT INTO clients ({}) VALUES ({}) RETURNING client_id",
            CLIENT_WRITE_COLUMNS.join(", "),
            placeholders.join(", ")
        ));
        q.args = client_values(client, body);
        self.conn.fetch_one(q).await?.i64("client_id")
    }

    async fn update_client(&mut self, before: &Client, client: &Client, body: &str) -> Result<()> {
        let old = client_values(before, "");
        let mut q = Sql::new("UPDATE clients SET ");
        let mut first = true;
        for ((column, value), was) in CLIENT_WRITE_COLUMNS
            .iter()
            .zip(client_values(client, body))
            .zip(old)
        {
            // The body always changes (the version is in it); created_at never does.
            let changed = *column == "body" || value != was;
            if *column == "created_at" || !changed {
                continue;
            }
            if !first {
                q.push(", ");
            }
            first = false;
            q.push(column).push(" = ").bind(value);
        }
        q.push(" WHERE client_id = ")
            .bind(client.client_id)
            .push(" AND version = ")
            .bind(before.version);
        if self.conn.execute(q).await? != 1 {
            return Err(StoreError::conflict(format!(
                "client {} is no longer at version {}",
                client.client_id, before.version
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
        self.conn
            .execute(
                Sql::new(
                    "INSERT INTO documents (kind, document_id, client_id, recorded_at) \
                     VALUES ($1, $2, $3, $4)",
                )
                .arg(key.kind)
                .arg(key.id.as_str())
                .arg(client_id)
                .arg(now.timestamp_micros()),
            )
            .await?;
        Ok(())
    }

    async fn insert_history(&mut self, e: &HistoryRecord) -> Result<()> {
        self.conn
            .execute(
                Sql::new(
                    "INSERT INTO history (client_id, version, cause, actor, principal, \
                        request_id, occurred_at, recorded_at, old_stage, new_stage, note, details) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                )
                .arg(e.client_id)
                .arg(e.version)
                .arg(e.cause.as_str())
                .arg(e.actor.as_str())
                .arg(e.principal.as_str())
                .arg(e.request_id.as_str())
                .arg(e.occurred_at.timestamp_micros())
                .arg(e.recorded_at.timestamp_micros())
                .arg(e.old_stage.map(|s| s.rank()))
                .arg(e.new_stage.rank())
                .arg(e.note.as_str())
                .json(to_json("history details", &e.details)?),
            )
            .await?;
        Ok(())
    }

    async fn replace_timers(&mut self, client_id: i64, timers: &[Timer]) -> Result<()> {
        self.conn
            .execute(Sql::new("DELETE FROM alert_timers WHERE client_id = $1").arg(client_id))
            .await?;
        for t in timers {
            self.conn
                .execute(
                    Sql::new(
                        "INSERT INTO alert_timers (client_id, kind, base_at, occurrence_key) \
                         VALUES ($1, $2, $3, $4)",
                    )
                    .arg(client_id)
                    .arg(t.kind.name())
                    .arg(t.base_at.timestamp_micros())
                    .arg(t.occurrence_key.as_str()),
                )
                .await?;
        }
        Ok(())
    }

    async fn claim_due_timers(
        &mut self,
        kind: AlertKind,
        cutoff: Timestamp,
        limit: i64,
    ) -> Result<Vec<(i64, Timer)>> {
        // SKIP LOCKED (Postgres): replicas share the due timers out instead of raising one twice.
        let q = Sql::new(format!(
            "SELECT {TIMER_COLUMNS} FROM alert_timers WHERE kind = $1 AND base_at <= $2 \
             ORDER BY base_at LIMIT $3{}",
            C::DIALECT.for_update_skip_locked()
        ))
        .arg(kind.name())
        .arg(cutoff.timestamp_micros())
        .arg(limit);
        self.conn
            .fetch_all(q)
            .await?
            .iter()
            .map(rows::timer)
            .collect()
    }

    async fn delete_timer(&mut self, client_id: i64, kind: AlertKind) -> Result<()> {
        self.conn
            .execute(
                Sql::new("DELETE FROM alert_timers WHERE client_id = $1 AND kind = $2")
                    .arg(client_id)
                    .arg(kind.name()),
            )
            .await?;
        Ok(())
    }

    async fn alert_exists(&mut self, occurrence_key: &str) -> Result<bool> {
        let row = self
            .conn
            .fetch_optional(
                Sql::new("SELECT 1 AS one FROM alerts WHERE occurrence_key = $1")
                    .arg(occurrence_key),
            )
            .await?;
        Ok(row.is_some())
    }

    async fn next_sequences(&mut self, stream: Stream, count: i64) -> Result<i64> {
        // The row lock taken here is held until commit: the next writer's numbers come after
        // this transaction is visible, so readers never pass over a late commit.
        let last = self
            .conn
            .fetch_one(
                Sql::new(
                    "UPDATE stream_heads SET last_seq = last_seq + $1 WHERE stream = $2 \
                     RETURNING last_seq",
                )
                .arg(count)
                .arg(stream.name()),
            )
            .await?
            .i64("last_seq")?;
        Ok(last - count + 1)
    }

    async fn insert_status_event(&mut self, seq: i64, e: &NewStatusEvent) -> Result<()> {
        self.conn
            .execute(
                Sql::new(
                    "INSERT INTO status_events (seq, client_id, kind, cause, actor, request_id, \
                        old_stage, new_stage, old_status_id, new_status_id, occurred_at, \
                        recorded_at, snapshot) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                )
                .arg(seq)
                .arg(e.client_id)
                .arg(e.kind.name())
                .arg(e.cause.as_str())
                .arg(e.actor.as_str())
                .arg(e.request_id.as_str())
                .arg(e.old_stage.rank())
                .arg(e.new_stage.rank())
                .arg(e.old_status_id)
                .arg(e.new_status_id)
                .arg(e.occurred_at.timestamp_micros())
                .arg(e.recorded_at.timestamp_micros())
                .json(e.snapshot.clone()),
            )
            .await?;
        Ok(())
    }

    async fn insert_alert(&mut self, seq: i64, a: &NewAlert) -> Result<()> {
        self.conn
            .execute(
                Sql::new(
                    "INSERT INTO alerts (seq, kind, client_id, occurrence_key, due_at, \
                        raised_at, snapshot) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .arg(seq)
                .arg(a.kind.name())
                .arg(a.client_id)
                .arg(a.occurrence_key.as_str())
                .arg(a.due_at.timestamp_micros())
                .arg(a.raised_at.timestamp_micros())
                .json(a.snapshot.clone()),
            )
            .await?;
        Ok(())
    }

    async fn lock_catalog(&mut self) -> Result<()> {
        self.conn.lock_key("catalog").await
    }

    async fn catalog(&mut self) -> Result<Arc<Catalog>> {
        let version = self
            .conn
            .fetch_one(Sql::new("SELECT version FROM catalog_version"))
            .await?
            .i64("version")?;
        if let Some(catalog) = self.catalog.get(version) {
            return Ok(catalog);
        }
        let catalog = Arc::new(Catalog {
            entries: read::entries(&mut self.conn, &CatalogKind::ALL).await?,
        });
        self.catalog.put(version, catalog.clone());
        Ok(catalog)
    }

    async fn insert_entry(&mut self, e: &Entry) -> Result<i64> {
        let q = Sql::new(
            "INSERT INTO catalog (kind, stage, name, display_order, color, \
                selectable_for_project, selectable_as_supplier, ended, is_default, status_ids, \
                version, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING entry_id",
        )
        .arg(e.kind.name())
        .arg(e.stage.map(Stage::rank))
        .arg(e.name.as_str())
        .arg(e.display_order)
        .arg(e.color.as_str())
        .arg(e.selectable_for_project)
        .arg(e.selectable_as_supplier)
        .arg(e.ended)
        .arg(e.is_default)
        .arg(rows::status_ids_json(&e.status_ids))
        .arg(e.version)
        .arg(e.created_at.timestamp_micros())
        .arg(e.updated_at.timestamp_micros());
        let id = self.conn.fetch_one(q).await?.i64("entry_id")?;
        self.catalog_changed().await?;
        Ok(id)
    }

    async fn update_entry(&mut self, e: &Entry, previous_version: i64) -> Result<()> {
        let q = Sql::new(
            "UPDATE catalog SET name = $1, display_order = $2, color = $3, \
                selectable_for_project = $4, selectable_as_supplier = $5, ended = $6, \
                is_default = $7, status_ids = $8, version = $9, updated_at = $10 \
             WHERE entry_id = $11 AND version = $12",
        )
        .arg(e.name.as_str())
        .arg(e.display_order)
        .arg(e.color.as_str())
        .arg(e.selectable_for_project)
        .arg(e.selectable_as_supplier)
        .arg(e.ended)
        .arg(e.is_default)
        .arg(rows::status_ids_json(&e.status_ids))
        .arg(e.version)
        .arg(e.updated_at.timestamp_micros())
        .arg(e.entry_id)
        .arg(previous_version);
        if self.conn.execute(q).await? != 1 {
            return Err(StoreError::conflict(format!(
                "{} is no longer at version {previous_version}",
                e.subject()
            )));
        }
        self.catalog_changed().await
    }

    async fn delete_entry(&mut self, e: &Entry) -> Result<()> {
        self.conn
            .execute(Sql::new("DELETE FROM catalog WHERE entry_id = $1").arg(e.entry_id))
            .await?;
        self.catalog_changed().await
    }

    async fn count_clients_using(&mut self, e: &Entry) -> Result<i64> {
        let Some(column) = reference_column(e.kind) else {
            return Ok(0);
        };
        // Waits for writers assigning this entry right now (Postgres), so the count includes
        // them; one that assigns it after the count fails on the foreign key and is run again.
        self.conn
            .execute(
                Sql::new(format!(
                    "SELECT entry_id FROM catalog WHERE entry_id = $1{}",
                    C::DIALECT.for_update()
                ))
                .arg(e.entry_id),
            )
            .await?;
        self.conn
            .fetch_one(
                Sql::new(format!(
                    "SELECT count(*) AS n FROM clients WHERE {column} = $1"
                ))
                .arg(e.entry_id),
            )
            .await?
            .i64("n")
    }

    async fn clients_using(&mut self, e: &Entry, limit: i64) -> Result<Vec<i64>> {
        let Some(column) = reference_column(e.kind) else {
            return Ok(Vec::new());
        };
        let q = Sql::new(format!(
            "SELECT client_id FROM clients WHERE {column} = $1 ORDER BY client_id LIMIT $2"
        ))
        .arg(e.entry_id)
        .arg(limit);
        self.conn
            .fetch_all(q)
            .await?
            .iter()
            .map(|r| r.i64("client_id"))
            .collect()
    }
}

/// Removes stream entries recorded before `cutoff` (a whole prefix of each stream) and records
/// how far, so a cursor before it is refused rather than silently skipping entries.
pub async fn prune_streams<C: Conn>(c: &mut C, cutoff: Timestamp) -> Result<()> {
    for (stream, table, time) in [
        (Stream::Status, "status_events", "recorded_at"),
        (Stream::Alerts, "alerts", "raised_at"),
    ] {
        // Hold the stream's counter so no writer appends while the prefix goes.
        c.execute(
            Sql::new(format!(
                "SELECT stream FROM stream_heads WHERE stream = $1{}",
                C::DIALECT.for_update()
            ))
            .arg(stream.name()),
        )
        .await?;
        let newest = c
            .fetch_one(
                Sql::new(format!(
                    "SELECT max(seq) AS newest FROM {table} WHERE {time} < $1"
                ))
                .arg(cutoff.timestamp_micros()),
            )
            .await?
            .opt_i64("newest")?;
        let Some(newest) = newest else { continue };
        c.execute(Sql::new(format!("DELETE FROM {table} WHERE seq <= $1")).arg(newest))
            .await?;
        c.execute(
            Sql::new(
                "UPDATE stream_heads SET pruned_through = \
                 CASE WHEN pruned_through > $1 THEN pruned_through ELSE $1 END \
                 WHERE stream = $2",
            )
            .arg(newest)
            .arg(stream.name()),
        )
        .await?;
    }
    Ok(())
}

/// Most request records one pruning transaction removes, so it never holds the writer long.
pub const PRUNE_BATCH: i64 = 10_000;

/// Removes up to `PRUNE_BATCH` answered-request records older than `cutoff` (a retry after
/// that is taken as a new request). Returns how many went, and whether records written before
/// answers were keyed by caller remain.
pub async fn prune_requests<C: Conn>(c: &mut C, cutoff: Timestamp) -> Result<(u64, bool)> {
    let removed = c
        .execute(
            Sql::new(
                "DELETE FROM requests WHERE (principal, request_id) IN \
                 (SELECT principal, request_id FROM requests WHERE created_at < $1 LIMIT $2)",
            )
            .arg(cutoff.timestamp_micros())
            .arg(PRUNE_BATCH),
        )
        .await?;
    Ok((removed, legacy_requests(c).await?))
}

/// Whether records of the release before answers were keyed by caller (principal '') remain.
pub async fn legacy_requests<C: Conn>(c: &mut C) -> Result<bool> {
    let q = Sql::new("SELECT request_id FROM requests WHERE principal = '' LIMIT 1");
    Ok(c.fetch_optional(q).await?.is_some())
}
