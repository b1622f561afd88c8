//! The primitives of [`TimelineTx`]: the stage timeline's rows, once for both databases, on a
//! connection inside the write transaction.
use std::collections::BTreeMap;

use crate::domain::timeline::{self, Step, Visit};
use crate::domain::{Stage, Timestamp};

use super::super::Result;
use super::super::engine::{Groups, TimelineTx};
use super::super::rows::{from_micros, stage};
use super::write::Tx;
use super::{Conn, Row, Sql, Value};

/// Rows per INSERT when a whole path is written again (well below either database's limit
/// on parameters).
const ROWS_PER_INSERT: usize = 200;

fn micros(t: Timestamp) -> Value {
    t.timestamp_micros().into()
}

/// `reached_N = coalesce(reached_N, $n)` for each stage an entry into `stage` counts as
/// reaching: the stages a first entry before it had not reached yet are reached now.
fn reached_now(stage: Stage, n: usize) -> String {
    Stage::ALL
        .iter()
        .filter(|t| timeline::reaches(stage, **t))
        .map(|t| format!("reached_{r} = coalesce(reached_{r}, ${n})", r = t.rank()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn push_groups(q: &mut Sql, g: &Groups) {
    q.bind(g.owner.as_str())
        .push(", ")
        .bind(g.branch.as_str())
        .push(", ")
        .bind(g.record_source.as_str())
        .push(", ")
        .bind(g.state);
}

impl<C: Conn> Tx<C> {
    /// Enters `stage` at `at`; `earlier_rows`: the client may have rows already (an open
    /// visit to close, first entries that now reach `stage`), which a new client has not.
    async fn enter(
        &mut self,
        client_id: i64,
        stage: Stage,
        at: Timestamp,
        groups: &Groups,
        earlier_rows: bool,
    ) -> Result<()> {
        if earlier_rows {
            self.conn
                .execute(
                    Sql::new(
                        "UPDATE stage_visits SET left_at = $2 WHERE client_id = $1 AND left_at IS NULL",
                    )
                    .arg(client_id)
                    .arg(micros(at)),
                )
                .await?;
        }
        let mut q = Sql::new(
            "INSERT INTO stage_visits (stage, entered_at, client_id, seq, left_at, owner, branch, \
             record_source, state) SELECT $1, $2, $3, coalesce(max(seq), -1) + 1, NULL, ",
        )
        .arg(stage.rank())
        .arg(micros(at))
        .arg(client_id);
        push_groups(&mut q, groups);
        q.push(" FROM stage_visits WHERE client_id = $3");
        self.conn.execute(q).await?;
        if earlier_rows {
            // The client's earlier first entries reach this stage now, if they had not yet.
            self.conn
                .execute(
                    Sql::new(format!(
                        "UPDATE stage_firsts SET {} WHERE client_id = $1",
                        reached_now(stage, 2)
                    ))
                    .arg(client_id)
                    .arg(micros(at)),
                )
                .await?;
        }
        let mut q = Sql::new(
            "INSERT INTO stage_firsts (stage, entered_at, client_id, reached_0, reached_1, \
             reached_2, reached_3, reached_4, reached_5, reached_6, owner, branch, \
             record_source, state) VALUES (",
        );
        q.bind(stage.rank())
            .push(", ")
            .bind(micros(at))
            .push(", ")
            .bind(client_id);
        for target in Stage::ALL {
            let reached = timeline::reaches(stage, target).then(|| at.timestamp_micros());
            q.push(", ").bind(reached);
        }
        q.push(", ");
        push_groups(&mut q, groups);
        q.push(") ON CONFLICT (client_id, stage) DO NOTHING");
        self.conn.execute(q).await?;
        Ok(())
    }
}

impl<C: Conn> TimelineTx for Tx<C> {
    async fn timeline_steps(&mut self, client_id: i64) -> Result<Vec<Step>> {
        let q = Sql::new(
            "SELECT entry_id, cause, old_stage, new_stage, occurred_at, details FROM history \
             WHERE client_id = $1",
        )
        .arg(client_id);
        self.conn
            .fetch_all(q)
            .await?
            .iter()
            .map(|r| {
                let old = r.opt_i64("old_stage")?.map(stage).transpose()?;
                let new = stage(r.i64("new_stage")?)?;
                let details = r.json::<BTreeMap<String, String>>("details")?;
                Ok(Step {
                    at: from_micros(r.i64("occurred_at")?)?,
                    entry_id: r.i64("entry_id")?,
                    mv: timeline::move_of(&r.text("cause")?, old, new, &details),
                })
            })
            .collect()
    }

    async fn enter_stage(
        &mut self,
        client_id: i64,
        stage: Stage,
        at: Timestamp,
        groups: &Groups,
    ) -> Result<()> {
        self.enter(client_id, stage, at, groups, true).await
    }

    async fn start_path(
        &mut self,
        client_id: i64,
        stage: Stage,
        at: Timestamp,
        groups: &Groups,
    ) -> Result<()> {
        self.enter(client_id, stage, at, groups, false).await
    }

    async fn replace_path(
        &mut self,
        client_id: i64,
        visits: &[Visit],
        groups: &Groups,
    ) -> Result<()> {
        for table in ["stage_visits", "stage_firsts"] {
            self.conn
                .execute(
                    Sql::new(format!("DELETE FROM {table} WHERE client_id = $1")).arg(client_id),
                )
                .await?;
        }
        for (chunk_no, chunk) in visits.chunks(ROWS_PER_INSERT).enumerate() {
            let mut q = Sql::new(
                "INSERT INTO stage_visits (stage, entered_at, client_id, seq, left_at, owner, \
                 branch, record_source, state) VALUES ",
            );
            for (i, v) in chunk.iter().enumerate() {
                let seq = (chunk_no * ROWS_PER_INSERT + i) as i64;
                q.push(if i == 0 { "(" } else { ", (" })
                    .bind(v.stage.rank())
                    .push(", ")
                    .bind(micros(v.entered_at))
                    .push(", ")
                    .bind(client_id)
                    .push(", ")
                    .bind(seq)
                    .push(", ")
                    .bind(v.left_at.map(|t| t.timestamp_micros()))
                    .push(", ");
                push_groups(&mut q, groups);
                q.push(")");
            }
            self.conn.execute(q).await?;
        }
        let firsts = timeline::firsts(visits);
        if firsts.is_empty() {
            return Ok(());
        }
        let mut q = Sql::new(
            "INSERT INTO stage_firsts (stage, entered_at, client_id, reached_0, reached_1, \
             reached_2, reached_3, reached_4, reached_5, reached_6, owner, branch, \
             record_source, state) VALUES ",
        );
        for (i, f) in firsts.iter().enumerate() {
            q.push(if i == 0 { "(" } else { ", (" })
                .bind(f.stage.rank())
                .push(", ")
                .bind(micros(f.entered_at))
                .push(", ")
                .bind(client_id);
            for reached in f.reached {
                q.push(", ").bind(reached.map(|t| t.timestamp_micros()));
            }
            q.push(", ");
            push_groups(&mut q, groups);
            q.push(")");
        }
        self.conn.execute(q).await?;
        Ok(())
    }

    async fn regroup(&mut self, client_id: i64, groups: &Groups) -> Result<()> {
        for table in ["stage_visits", "stage_firsts"] {
            let mut q = Sql::new(format!("UPDATE {table} SET owner = "));
            q.bind(groups.owner.as_str())
                .push(", branch = ")
                .bind(groups.branch.as_str())
                .push(", record_source = ")
                .bind(groups.record_source.as_str())
                .push(", state = ")
                .bind(groups.state)
                .push(" WHERE client_id = ")
                .bind(client_id);
            self.conn.execute(q).await?;
        }
        Ok(())
    }
}
