//! Keeps each client's stage timeline in step with its history, in the write's transaction:
//! the dates on the client record, and the rows the reports read (`stage_visits`,
//! `stage_firsts`). `domain::timeline` defines the path; this decides how little to redo.
//!
//! - An entry in `occurred_at` order (the common case) that does not move the path costs
//!   nothing beyond the record's JSON; one that moves it costs four statements on the client's
//!   own rows (close the open visit, add one, fill the conversion times, add a first entry).
//! - A late entry that moves something replays the client's own history (one indexed read)
//!   and rewrites its rows. A late entry that moves nothing is nothing to redo.
//! - A change of owner, branch, record source, deletion or merge rewrites those copies on the
//!   client's rows.
use std::future::Future;

use crate::domain::rules::{Change, Ctx};
use crate::domain::timeline::{self, Move, Step, Timeline, Visit};
use crate::domain::{Client, Stage, Timestamp};

use super::super::Result;
use super::WriteTx;

/// What the reports group and filter a client's rows by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Groups {
    pub owner: String,
    pub branch: String,
    pub record_source: String,
    /// 0 active, 1 deleted, 2 merged.
    pub state: i64,
}

impl Groups {
    pub fn of(client: &Client) -> Groups {
        Groups {
            owner: client.owner.clone(),
            branch: client.branch.clone(),
            record_source: client.record_source.clone(),
            state: if client.merged_into.is_some() {
                2
            } else if client.is_deleted() {
                1
            } else {
                0
            },
        }
    }
}

/// The timeline's rows, which `store::sql::timeline_write` implements for both databases.
pub trait TimelineTx: Send {
    /// Every history entry of the client, as replay steps.
    fn timeline_steps(&mut self, client_id: i64) -> impl Future<Output = Result<Vec<Step>>> + Send;
    /// The path moved, in order, into `stage` at `at`: closes the open visit, opens one,
    /// notes the client reached `stage` (and the stages it counts for), and records the first
    /// entry into `stage` if this is one.
    fn enter_stage(
        &mut self,
        client_id: i64,
        stage: Stage,
        at: Timestamp,
        groups: &Groups,
    ) -> impl Future<Output = Result<()>> + Send;
    /// A new client's path starts in `stage` at `at` (no earlier rows to close or update).
    fn start_path(
        &mut self,
        client_id: i64,
        stage: Stage,
        at: Timestamp,
        groups: &Groups,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Replaces the client's rows with those of `visits`.
    fn replace_path(
        &mut self,
        client_id: i64,
        visits: &[Visit],
        groups: &Groups,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Writes the group columns of the client's rows.
    fn regroup(
        &mut self,
        client_id: i64,
        groups: &Groups,
    ) -> impl Future<Output = Result<()>> + Send;
}

/// A new client's rows: its first visit.
pub(super) async fn created<T: WriteTx>(tx: &mut T, client: &Client) -> Result<()> {
    if let (Some(stage), Some(at)) = (client.timeline.path, client.timeline.through) {
        tx.start_path(client.client_id, stage, at, &Groups::of(client))
            .await?;
    }
    Ok(())
}

/// Brings `client`'s timeline (on the record, and its rows) up to date with the entry `change`
/// is about to write.
pub(super) async fn maintain<T: WriteTx>(
    tx: &mut T,
    before: &Client,
    client: &mut Client,
    change: &Change,
    ctx: &Ctx<'_>,
) -> Result<()> {
    let id = client.client_id;
    let mv = timeline::move_of(
        change.cause,
        change.old_stage,
        change.new_stage,
        &change.details,
    );
    let groups = Groups::of(client);
    let tl = &mut client.timeline;
    let replays = tl.path.is_none() || (tl.is_late(ctx.at) && mv != Move::Nothing);
    if replays {
        let (replayed, visits) = replay(tx, id, mv, ctx.at, &merging_ids(change)).await?;
        client.timeline = replayed;
        tx.replace_path(id, &visits, &groups).await?;
        return Ok(());
    }
    tl.through = tl.through.max(Some(ctx.at));
    if groups != Groups::of(before) {
        tx.regroup(id, &groups).await?;
    }
    if let Some(next) = timeline::next_stage(tl.path, mv) {
        tl.path = Some(next);
        tl.entered(next, ctx.at);
        tx.enter_stage(id, next, ctx.at, &groups).await?;
    }
    Ok(())
}

/// The clients a MergeClients entry folds into this one (not yet marked merged in this
/// transaction, so not found by `merged_into`).
fn merging_ids(change: &Change) -> Vec<i64> {
    if change.cause != "MergeClients" {
        return Vec::new();
    }
    change
        .details
        .get("merged_client_ids")
        .map(|ids| ids.split(',').filter_map(|id| id.parse().ok()).collect())
        .unwrap_or_default()
}

/// The pending entry comes after every stored one at its time.
fn pending(mv: Move, at: Timestamp) -> Step {
    Step {
        at,
        entry_id: i64::MAX,
        mv,
    }
}

/// The whole timeline again: the client's own path, then the dates of the clients merged
/// into it (those already merged, and those this entry merges).
async fn replay<T: WriteTx>(
    tx: &mut T,
    id: i64,
    mv: Move,
    at: Timestamp,
    merging: &[i64],
) -> Result<(Timeline, Vec<Visit>)> {
    let mut steps = tx.timeline_steps(id).await?;
    steps.push(pending(mv, at));
    let through = steps.iter().map(|s| s.at).max();
    let visits = timeline::replay(steps);
    let mut tl = Timeline::of_path(&visits, through);
    let mut others = tx.merged_into(id).await?;
    others.extend(merging.iter().copied().filter(|m| *m != id));
    others.sort_unstable();
    others.dedup();
    for other in others {
        if let Some(c) = tx.load_client(other).await? {
            tl.absorb(&c.timeline);
        }
    }
    Ok((tl, visits))
}
