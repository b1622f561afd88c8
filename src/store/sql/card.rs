//! The primitives of [`CardTx`] (the card's commands: edit, merge, erase), once for both
//! databases, on a connection inside the write transaction.
use std::collections::BTreeMap;

use crate::domain::Client;
use crate::domain::card::{Ancestor, Creation};

use super::super::engine::{CardTx, StoredAnswer};
use super::super::rows::{self, HISTORY_COLUMNS, to_json};
use super::super::{HistoryRecord, Result, Stream};
use super::write::Tx;
use super::{Conn, Row, Sql, Value};

/// How far up a parent chain is followed: deeper than any real hierarchy, and a bound on a
/// cycle left by data written before cycles were refused.
const CHAIN_MAX: i64 = 1_000;

fn snapshot_table(stream: Stream) -> &'static str {
    match stream {
        Stream::Status => "status_events",
        Stream::Alerts => "alerts",
    }
}

/// Which column holds each lead key (as `LeadKeys::candidates` names them).
fn key_column(matched_on: &str) -> &'static str {
    match matched_on {
        "email" => "email_key",
        "phone" => "phone_key",
        _ => "external_lead_id",
    }
}

fn ids(v: &[i64]) -> Value {
    Value::I64List(v.to_vec())
}

impl<C: Conn> CardTx for Tx<C> {
    async fn creation(&mut self, client_id: i64) -> Result<Option<Creation>> {
        let q =
            Sql::new("SELECT principal, details FROM history WHERE client_id = $1 AND version = 1")
                .arg(client_id);
        let row = self.conn.fetch_optional(q).await?;
        row.map(|r| {
            Ok(Creation {
                principal: r.text("principal")?,
                details: r.json::<BTreeMap<String, String>>("details")?,
            })
        })
        .transpose()
    }

    async fn key_holder(
        &mut self,
        matched_on: &'static str,
        key: &str,
        client_id: i64,
    ) -> Result<Option<i64>> {
        // The key a new lead with it takes too (`find_lead`): one of the two waits for the
        // other's commit, then sees it.
        self.conn
            .lock_key(&format!("lead:{matched_on}:{key}"))
            .await?;
        let q = Sql::new(format!(
            "SELECT coalesce(merged_into, client_id) AS holder FROM clients \
             WHERE {} = $1 AND deleted_at IS NULL AND coalesce(merged_into, client_id) <> $2 \
             ORDER BY client_id LIMIT 1",
            key_column(matched_on)
        ))
        .arg(key)
        .arg(client_id);
        let row = self.conn.fetch_optional(q).await?;
        row.map(|r| r.i64("holder")).transpose()
    }

    async fn ancestors(&mut self, client_id: i64) -> Result<Vec<Ancestor>> {
        let q = Sql::new(
            "WITH RECURSIVE up (client_id, parent_client_id, merged_into, depth) AS ( \
                SELECT client_id, parent_client_id, merged_into, 0 FROM clients \
                WHERE client_id = $1 \
              UNION ALL \
                SELECT c.client_id, c.parent_client_id, c.merged_into, up.depth + 1 \
                FROM clients c JOIN up ON c.client_id = up.parent_client_id \
                WHERE up.depth < $2) \
             SELECT client_id, merged_into FROM up ORDER BY depth",
        )
        .arg(client_id)
        .arg(CHAIN_MAX);
        self.conn
            .fetch_all(q)
            .await?
            .iter()
            .map(|r| {
                Ok(Ancestor {
                    client_id: r.i64("client_id")?,
                    merged_into: r.opt_i64("merged_into")?,
                })
            })
            .collect()
    }

    async fn children_of(&mut self, parents: &[i64]) -> Result<Vec<i64>> {
        let mut q = Sql::new("SELECT client_id FROM clients WHERE 1 = 1");
        q.in_list(C::DIALECT, "parent_client_id", ids(parents));
        q.push(" ORDER BY client_id");
        self.conn
            .fetch_all(q)
            .await?
            .iter()
            .map(|r| r.i64("client_id"))
            .collect()
    }

    async fn merged_into(&mut self, survivor: i64) -> Result<Vec<i64>> {
        let q = Sql::new("SELECT client_id FROM clients WHERE merged_into = $1 ORDER BY client_id")
            .arg(survivor);
        self.conn
            .fetch_all(q)
            .await?
            .iter()
            .map(|r| r.i64("client_id"))
            .collect()
    }

    async fn fold_into(&mut self, from: &[i64], to: i64) -> Result<()> {
        let mut documents = Sql::new("UPDATE documents SET client_id = $1 WHERE 1 = 1").arg(to);
        documents.in_list(C::DIALECT, "client_id", ids(from));
        self.conn.execute(documents).await?;
        // Clients merged earlier into one of `from` now stand for `to`.
        let mut merged = Sql::new("UPDATE clients SET merged_into = $1 WHERE 1 = 1").arg(to);
        merged.in_list(C::DIALECT, "merged_into", ids(from));
        self.conn.execute(merged).await.map(drop)
    }

    async fn history_of(&mut self, client_ids: &[i64]) -> Result<Vec<HistoryRecord>> {
        let mut q = Sql::new(format!("SELECT {HISTORY_COLUMNS} FROM history WHERE 1 = 1"));
        q.in_list(C::DIALECT, "client_id", ids(client_ids));
        q.push(" ORDER BY entry_id");
        self.conn
            .fetch_all(q)
            .await?
            .iter()
            .map(rows::history)
            .collect()
    }

    async fn rewrite_history(&mut self, e: &HistoryRecord) -> Result<()> {
        let q = Sql::new("UPDATE history SET note = $1, details = $2 WHERE entry_id = $3")
            .arg(e.note.as_str())
            .json(to_json("history details", &e.details)?)
            .arg(e.entry_id);
        self.conn.execute(q).await.map(drop)
    }

    async fn snapshots(
        &mut self,
        stream: Stream,
        client_ids: &[i64],
    ) -> Result<Vec<(i64, Client)>> {
        let mut q = Sql::new(format!(
            "SELECT seq, snapshot FROM {} WHERE 1 = 1",
            snapshot_table(stream)
        ));
        q.in_list(C::DIALECT, "client_id", ids(client_ids));
        q.push(" ORDER BY seq");
        self.conn
            .fetch_all(q)
            .await?
            .iter()
            .map(|r| Ok((r.i64("seq")?, r.json::<Client>("snapshot")?)))
            .collect()
    }

    async fn rewrite_snapshot(&mut self, stream: Stream, seq: i64, json: String) -> Result<()> {
        let q = Sql::new(format!(
            "UPDATE {} SET snapshot = $1 WHERE seq = $2",
            snapshot_table(stream)
        ))
        .json(json)
        .arg(seq);
        self.conn.execute(q).await.map(drop)
    }

    async fn answers_holding(&mut self, client_ids: &[i64]) -> Result<Vec<StoredAnswer>> {
        // Three indexed lookups, never a scan of the requests: by the requests of the clients'
        // history entries (keyed by caller, or by id alone for records of the release before
        // that), and by the column naming a client an answer holds without a history entry.
        let d = C::DIALECT;
        let mut q = Sql::new(
            "SELECT r.principal, r.request_id, r.outcome FROM requests r \
             JOIN (SELECT DISTINCT principal, request_id FROM history WHERE 1 = 1",
        );
        q.in_list(d, "client_id", ids(client_ids));
        q.push(
            ") h ON r.request_id = h.request_id AND r.principal IN (h.principal, '') \
             UNION ALL SELECT principal, request_id, outcome FROM requests WHERE 1 = 1",
        );
        q.in_list(d, "client_id", ids(client_ids));
        let mut answers: Vec<StoredAnswer> = Vec::new();
        for r in self.conn.fetch_all(q).await? {
            let (principal, request_id) = (r.text("principal")?, r.text("request_id")?);
            // An answer both ways (a re-sent document whose client also has history) once.
            if !answers
                .iter()
                .any(|a| a.principal == principal && a.request_id == request_id)
            {
                answers.push(StoredAnswer {
                    principal,
                    request_id,
                    outcome: r.json("outcome")?,
                });
            }
        }
        Ok(answers)
    }

    async fn rewrite_answer(&mut self, a: &StoredAnswer) -> Result<()> {
        let q =
            Sql::new("UPDATE requests SET outcome = $1 WHERE principal = $2 AND request_id = $3")
                .json(to_json("stored answer", &a.outcome)?)
                .arg(a.principal.as_str())
                .arg(a.request_id.as_str());
        self.conn.execute(q).await.map(drop)
    }
}
