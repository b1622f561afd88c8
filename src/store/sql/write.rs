//! The write primitives of [`WriteTx`], once for both databases, over any [`Conn`] that is
//! inside a transaction. Serialisation between writers comes from the connection: `lock_key`
//! and `FOR UPDATE` on Postgres, the single writer connection on SQLite.
use std::sync::Arc;

use crate::domain::lead::LeadKeys;
use crate::domain::{Client, DocumentKey, Timestamp};

use super::super::engine::{StoredRequest, WriteTx};
use super::super::rows::{self, CLIENT_COLUMNS, to_json};
use super::super::{HistoryRecord, Result, StoreError};
use super::{Conn, Row, Sql, Value, read};

pub use super::catalog_write::CatalogCache;
pub use super::stream_write::{PRUNE_BATCH, legacy_requests, prune_requests, prune_streams};

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
}
