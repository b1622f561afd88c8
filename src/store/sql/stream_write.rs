//! Alert timers and the streams' entries ([`StreamTx`]), and pruning the streams and the
//! request records, once for both databases.
use crate::domain::alerts::Timer;
use crate::domain::{AlertKind, Timestamp};

use super::super::engine::{NewAlert, NewStatusEvent, StreamTx};
use super::super::rows::{self, TIMER_COLUMNS};
use super::super::{Result, Stream};
use super::write::Tx;
use super::{Conn, Row, Sql};

impl<C: Conn> StreamTx for Tx<C> {
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
