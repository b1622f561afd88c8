//! EraseClient in one transaction: the person's clients (a survivor and the clients merged into
//! it are one person), then every other place their personal data was written: history notes
//! and details, stream snapshots, stored answers.
use crate::domain::erase;
use crate::domain::rules::Ctx;
use crate::domain::{Client, Meta};

use super::super::super::rows::to_json;
use super::super::super::{Result, Stream};
use super::super::{Appends, Ran, WriteTx, record};
use super::answer;

pub(super) async fn run<T: WriteTx>(
    tx: &mut T,
    asked: &Client,
    meta: &Meta,
    ctx: &Ctx<'_>,
) -> Result<Ran> {
    let survivor = asked.merged_into.unwrap_or(asked.client_id);
    let mut group = vec![survivor];
    group.extend(tx.merged_into(survivor).await?);
    let mut sorted = group.clone();
    sorted.sort_unstable();
    let locked = tx.lock_clients(&sorted).await?;
    let mut appends = Appends::default();
    let (mut clients, mut bodies, mut erased) = (Vec::new(), Vec::new(), Vec::new());
    for id in group {
        let Some(before) = locked.iter().find(|c| c.client_id == id) else {
            continue;
        };
        let expected = meta.expected_version.filter(|_| id == asked.client_id);
        let mut client = before.clone();
        match erase::erase(&mut client, ctx, expected)? {
            Some(change) => {
                bodies
                    .push(record(tx, before, &mut client, &change, meta, ctx, &mut appends).await?);
                erased.push(id);
            }
            None => bodies.push(to_json("client", &client)?),
        }
        clients.push(client);
    }
    if !erased.is_empty() {
        scrub_everywhere(tx, &erased).await?;
    }
    Ok(answer(clients, bodies, erased.is_empty(), appends))
}

/// Rewrites every stored record of these clients without their personal data. The entries
/// this request writes (history, the ERASED event, its answer) hold none already.
async fn scrub_everywhere<T: WriteTx>(tx: &mut T, ids: &[i64]) -> Result<()> {
    for mut entry in tx.history_of(ids).await? {
        if erase::scrub_entry(&mut entry.note, &mut entry.details) {
            tx.rewrite_history(&entry).await?;
        }
    }
    for stream in [Stream::Status, Stream::Alerts] {
        for (seq, mut snapshot) in tx.snapshots(stream, ids).await? {
            if erase::scrub(&mut snapshot) {
                tx.rewrite_snapshot(stream, seq, to_json("snapshot", &snapshot)?)
                    .await?;
            }
        }
    }
    for mut answer in tx.answers_holding(ids).await? {
        if scrub_answer(&mut answer.outcome, ids)? {
            tx.rewrite_answer(&answer).await?;
        }
    }
    Ok(())
}

/// Scrubs the clients of `ids` in a stored answer's `clients`; whether any changed.
fn scrub_answer(outcome: &mut serde_json::Value, ids: &[i64]) -> Result<bool> {
    let Some(clients) = outcome.get_mut("clients").and_then(|c| c.as_array_mut()) else {
        return Ok(false);
    };
    let mut changed = false;
    for value in clients.iter_mut() {
        let named = value.get("client_id").and_then(|v| v.as_i64());
        if !named.is_some_and(|id| ids.contains(&id)) {
            continue;
        }
        let mut client: Client = serde_json::from_value(value.clone()).map_err(|e| {
            super::super::super::StoreError::internal(format!("a stored answer is unreadable: {e}"))
        })?;
        if erase::scrub(&mut client) {
            *value = serde_json::to_value(&client).map_err(|e| {
                super::super::super::StoreError::internal(format!("client not serialisable: {e}"))
            })?;
            changed = true;
        }
    }
    Ok(changed)
}
