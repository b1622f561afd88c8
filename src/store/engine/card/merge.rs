//! MergeClients in one transaction: the survivor's row, each merged client's (with its MERGED
//! event), the documents and earlier merges re-pointed, the children adopted.
use crate::domain::merge;
use crate::domain::rules::Ctx;
use crate::domain::{Client, Meta};

use super::super::super::Result;
use super::super::{Appends, Ran, WriteTx, record};
use super::{answer, chains};

pub(super) async fn run<T: WriteTx>(
    tx: &mut T,
    locked: Vec<Client>,
    survivor_id: i64,
    merged_ids: &[i64],
    note: &str,
    meta: &Meta,
    ctx: &Ctx<'_>,
) -> Result<Ran> {
    let find = |id: i64| locked.iter().find(|c| c.client_id == id).cloned();
    let before_survivor = find(survivor_id);
    let before_merged: Vec<Client> = merged_ids.iter().filter_map(|&id| find(id)).collect();
    let Some(before_survivor) = before_survivor else {
        return Err(crate::domain::DomainError::ClientNotFound {
            client_id: survivor_id,
        }
        .into());
    };
    let mut survivor = before_survivor.clone();
    let mut merged = before_merged.clone();
    let chains = chains(tx, &merge::outside_parents(&survivor, &merged)).await?;
    let changes = merge::merge(
        &mut survivor,
        &mut merged,
        &chains,
        ctx,
        meta.expected_version,
        note,
    )?;
    let mut appends = Appends::default();
    let mut bodies = Vec::with_capacity(merged.len() + 1);
    bodies.push(
        record(
            tx,
            &before_survivor,
            &mut survivor,
            &changes.survivor,
            meta,
            ctx,
            &mut appends,
        )
        .await?,
    );
    for ((before, after), change) in before_merged.iter().zip(&mut merged).zip(&changes.merged) {
        bodies.push(record(tx, before, after, change, meta, ctx, &mut appends).await?);
    }
    tx.fold_into(merged_ids, survivor_id).await?;
    // The merged clients' other children become the survivor's.
    let group: Vec<i64> = std::iter::once(survivor_id)
        .chain(merged_ids.iter().copied())
        .collect();
    let children: Vec<i64> = tx
        .children_of(merged_ids)
        .await?
        .into_iter()
        .filter(|c| !group.contains(c))
        .collect();
    for before in tx.lock_clients(&children).await? {
        let mut child = before.clone();
        let change = merge::adopt(&mut child, survivor_id, ctx);
        record(tx, &before, &mut child, &change, meta, ctx, &mut appends).await?;
    }
    let clients = std::iter::once(survivor).chain(merged).collect();
    Ok(answer(clients, bodies, false, appends))
}
