//! A catalogue change: the domain plans it against the whole catalogue (`catalog::plan`); this
//! writes the plan, moving the clients of a deleted entry first, each as a recorded change.
use crate::domain::catalog::{self, Plan};
use crate::domain::rules::{self, Ctx};
use crate::domain::{CatalogCommand, DomainError, Entry};

use super::super::{CatalogOutcome, Mutation, Result};
use super::{Appends, Env, WriteTx, record};

pub(super) async fn execute<T: WriteTx>(
    tx: &mut T,
    mutation: &Mutation<CatalogCommand>,
    env: Env<'_>,
) -> Result<(CatalogOutcome, Appends)> {
    let command = &mutation.request.command;
    tx.lock_catalog().await?;
    let catalog = tx.catalog().await?;
    let plan = catalog::plan(
        &catalog,
        command,
        mutation.request.meta.expected_version,
        env.now,
    )?;
    let mut appends = Appends::default();
    let (entry, moved) = match plan {
        Plan::Create(mut entry) => {
            entry.entry_id = tx.insert_entry(&entry).await?;
            (entry, 0)
        }
        Plan::Update { entry, writes } => {
            for (next, previous_version) in &writes {
                tx.update_entry(next, *previous_version).await?;
            }
            (entry, 0)
        }
        Plan::Delete {
            entry,
            move_holders,
            prune_groups,
        } => {
            let moved = match move_holders {
                Some(to) => {
                    let ctx = Ctx {
                        at: env.now,
                        now: env.now,
                        actor: &mutation.request.meta.actor,
                        settings: env.settings,
                        catalog: &catalog,
                    };
                    move_clients(tx, &entry, to, &ctx, mutation, &mut appends).await?
                }
                None => 0,
            };
            let clients = tx.count_clients_using(&entry).await?;
            catalog::check_delete(&entry, catalog::users(&entry, clients))?;
            for (group, previous_version) in &prune_groups {
                tx.update_entry(group, *previous_version).await?;
            }
            tx.delete_entry(&entry).await?;
            (entry, moved)
        }
    };
    Ok((CatalogOutcome { entry, moved }, appends))
}

/// Moves every client referencing `entry` to `replacement` (or clears the reference), each as
/// a recorded change; returns how many moved.
async fn move_clients<T: WriteTx>(
    tx: &mut T,
    entry: &Entry,
    replacement: Option<i64>,
    ctx: &Ctx<'_>,
    mutation: &Mutation<CatalogCommand>,
    appends: &mut Appends,
) -> Result<i64> {
    let mut holders = tx
        .clients_using(entry, catalog::MOVE_MAX as i64 + 1)
        .await?;
    if holders.len() > catalog::MOVE_MAX {
        return Err(DomainError::InUse {
            reason: "TOO_MANY_TO_MOVE",
            subject: entry.subject(),
            description: format!(
                "more than {} clients use {} {:?}; one deletion moves at most that many",
                catalog::MOVE_MAX,
                entry.kind.label(),
                entry.name
            ),
            count: tx.count_clients_using(entry).await?,
        }
        .into());
    }
    holders.sort_unstable();
    for before in tx.lock_clients(&holders).await? {
        let mut client = before.clone();
        let change = rules::replace_reference(&mut client, entry, replacement, ctx);
        record(
            tx,
            &before,
            &mut client,
            &change,
            &mutation.request.meta,
            ctx,
            appends,
        )
        .await?;
    }
    Ok(holders.len() as i64)
}
