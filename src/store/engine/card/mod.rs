//! Runs the card's commands (UpdateClient, MergeClients, EraseClient): loads what the rules
//! of `domain::card`, `domain::merge` and `domain::erase` need, and persists what they decide
//! through the primitives of [`CardTx`], which `store::sql::card` implements for both
//! databases.
use std::collections::BTreeMap;
use std::future::Future;

use crate::domain::card::{self, Ancestor, CardCommand, Creation, FieldEdit};
use crate::domain::rules::{self, Ctx};
use crate::domain::{Client, DomainError, Meta};

use super::super::rows::to_json;
use super::super::{HistoryRecord, Outcome, Result, Stream};
use super::{Appends, Env, Ran, WriteTx, record};

mod erase;
mod merge;

/// A stored answer, as JSON, under its key.
pub struct StoredAnswer {
    pub principal: String,
    pub request_id: String,
    pub outcome: serde_json::Value,
}

/// The reads and writes the card's commands need beside [`WriteTx`]'s. They decide nothing.
pub trait CardTx: Send {
    /// The client's first history entry: who created it, and what it recorded.
    fn creation(&mut self, client_id: i64)
    -> impl Future<Output = Result<Option<Creation>>> + Send;
    /// The active client holding lead key `key` (as `matched_on` names it), other than
    /// `client_id`: for a merged one, its survivor. Holds the key until the transaction ends,
    /// as a new lead with that key does, so two writers cannot both take it.
    fn key_holder(
        &mut self,
        matched_on: &'static str,
        key: &str,
        client_id: i64,
    ) -> impl Future<Output = Result<Option<i64>>> + Send;
    /// `client_id` and its ancestors, nearest first (empty when there is no such client).
    fn ancestors(&mut self, client_id: i64) -> impl Future<Output = Result<Vec<Ancestor>>> + Send;
    /// The clients whose parent is one of `parents`, ascending.
    fn children_of(&mut self, parents: &[i64]) -> impl Future<Output = Result<Vec<i64>>> + Send;
    /// The clients merged into `survivor`, ascending.
    fn merged_into(&mut self, survivor: i64) -> impl Future<Output = Result<Vec<i64>>> + Send;
    /// The business documents of `from`, and the clients merged into them, go to `to`.
    fn fold_into(&mut self, from: &[i64], to: i64) -> impl Future<Output = Result<()>> + Send;
    /// Every history entry of these clients.
    fn history_of(
        &mut self,
        client_ids: &[i64],
    ) -> impl Future<Output = Result<Vec<HistoryRecord>>> + Send;
    fn rewrite_history(&mut self, entry: &HistoryRecord)
    -> impl Future<Output = Result<()>> + Send;
    /// Every snapshot of these clients in `stream`, by sequence.
    fn snapshots(
        &mut self,
        stream: Stream,
        client_ids: &[i64],
    ) -> impl Future<Output = Result<Vec<(i64, Client)>>> + Send;
    fn rewrite_snapshot(
        &mut self,
        stream: Stream,
        seq: i64,
        json: String,
    ) -> impl Future<Output = Result<()>> + Send;
    /// The stored answers that may hold these clients: those of their history entries'
    /// requests, and those recorded as holding one without a history entry.
    fn answers_holding(
        &mut self,
        client_ids: &[i64],
    ) -> impl Future<Output = Result<Vec<StoredAnswer>>> + Send;
    fn rewrite_answer(&mut self, answer: &StoredAnswer) -> impl Future<Output = Result<()>> + Send;
}

/// Runs one of the card's commands.
pub(super) async fn run<T: WriteTx>(
    tx: &mut T,
    command: &CardCommand,
    meta: &Meta,
    env: Env<'_>,
) -> Result<Ran> {
    let mut ids = command.client_ids();
    ids.sort_unstable();
    // Clients are locked before the catalogue is read, as every client command does.
    let locked = tx.lock_clients(&ids).await?;
    if let Some(&client_id) = ids
        .iter()
        .find(|id| !locked.iter().any(|c| c.client_id == **id))
    {
        return Err(DomainError::ClientNotFound { client_id }.into());
    }
    let catalog = tx.catalog().await?;
    let ctx = Ctx {
        at: rules::resolve_occurred_at(meta.occurred_at, env.now)?,
        now: env.now,
        actor: &meta.actor,
        settings: env.settings,
        catalog: &catalog,
    };
    match command {
        CardCommand::Edit {
            edits,
            lead_source_only,
            ..
        } => edit(tx, &locked[0], edits, *lead_source_only, meta, &ctx).await,
        CardCommand::Merge {
            survivor,
            merged,
            note,
        } => merge::run(tx, locked, *survivor, merged, note, meta, &ctx).await,
        CardCommand::Erase { .. } => erase::run(tx, &locked[0], meta, &ctx).await,
    }
}

fn answer(clients: Vec<Client>, bodies: Vec<String>, unchanged: bool, appends: Appends) -> Ran {
    let outcome = Outcome {
        clients,
        created: false,
        // Nothing was written: the answer holds the client as it was.
        already_recorded: unchanged,
    };
    (outcome, bodies, appends)
}

/// UpdateClient: the rule's edit, then the checks that need other rows (parent chain, lead
/// keys), then the row, history and timers.
async fn edit<T: WriteTx>(
    tx: &mut T,
    before: &Client,
    edits: &[FieldEdit],
    lead_source_only: bool,
    meta: &Meta,
    ctx: &Ctx<'_>,
) -> Result<Ran> {
    let id = before.client_id;
    if lead_source_only {
        let creation = tx.creation(id).await?;
        card::check_lead_source(id, &meta.principal, creation.as_ref(), edits)?;
    }
    let mut client = before.clone();
    let mut appends = Appends::default();
    let Some(change) = card::edit(&mut client, edits, ctx, meta.expected_version)? else {
        let body = to_json("client", before)?;
        return Ok(answer(vec![before.clone()], vec![body], true, appends));
    };
    if let Some(parent) = client.parent_client_id
        && client.parent_client_id != before.parent_client_id
    {
        let chain = tx.ancestors(parent).await?;
        card::check_parent(id, parent, &chain)?;
    }
    for (matched_on, key) in card::changed_keys(before, &client) {
        if let Some(holder) = tx.key_holder(matched_on, &key, id).await? {
            return Err(card::key_taken(id, matched_on, holder).into());
        }
    }
    let body = record(tx, before, &mut client, &change, meta, ctx, &mut appends).await?;
    Ok(answer(vec![client], vec![body], false, appends))
}

/// The ancestors of each client, by client: what `domain::merge` checks cycles with.
async fn chains<T: WriteTx>(tx: &mut T, parents: &[i64]) -> Result<BTreeMap<i64, Vec<i64>>> {
    let mut out = BTreeMap::new();
    for &p in parents {
        let chain = tx.ancestors(p).await?;
        out.insert(p, chain.iter().map(|a| a.client_id).collect());
    }
    Ok(out)
}
