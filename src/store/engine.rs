//! Runs one request inside one backend transaction: idempotency check, load, the domain's
//! decision, then every row it implies (client, history, document, alert, request record).
//! Backends supply only the primitives of [`WriteTx`], so both behave the same by construction.
use std::future::Future;

use crate::domain::lead::LeadKeys;
use crate::domain::rules::{self, AlertKind, Change, Ctx, Effect, Settings};
use crate::domain::{Client, Command, DocumentKey, DomainError, FieldViolation, Timestamp};

use super::{HistoryRecord, Mutation, Outcome, Result, StoreError};

/// A request already answered under this id.
pub struct StoredRequest {
    pub fingerprint: Vec<u8>,
    pub outcome_json: String,
}

/// The writes of one transaction. Implementations map database errors to `StoreError`.
pub trait WriteTx: Send {
    fn find_request(
        &mut self,
        request_id: &str,
    ) -> impl Future<Output = Result<Option<StoredRequest>>> + Send;
    fn save_request(
        &mut self,
        request_id: &str,
        fingerprint: &[u8],
        outcome_json: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Locks the rows of `client_ids` (given in ascending order, so concurrent requests
    /// naming the same clients cannot deadlock) until the transaction ends.
    fn lock_clients(&mut self, client_ids: &[i64]) -> impl Future<Output = Result<()>> + Send;
    /// The client row as stored, with `child_client_ids` filled.
    fn load_client(
        &mut self,
        client_id: i64,
    ) -> impl Future<Output = Result<Option<Client>>> + Send;
    /// The oldest active client matching the lead, and which key matched.
    fn find_lead(
        &mut self,
        keys: &LeadKeys,
    ) -> impl Future<Output = Result<Option<(Client, &'static str)>>> + Send;
    fn document_owner(
        &mut self,
        key: &DocumentKey,
    ) -> impl Future<Output = Result<Option<i64>>> + Send;
    /// Inserts a new client and returns its number (increasing, never reused).
    fn insert_client(&mut self, client: &Client) -> impl Future<Output = Result<i64>> + Send;
    /// Writes `client`, which must still be at `previous_version` in the database.
    fn update_client(
        &mut self,
        client: &Client,
        previous_version: i64,
    ) -> impl Future<Output = Result<()>> + Send;
    fn insert_document(
        &mut self,
        key: &DocumentKey,
        client_id: i64,
        now: Timestamp,
    ) -> impl Future<Output = Result<()>> + Send;
    fn insert_history(&mut self, entry: &HistoryRecord) -> impl Future<Output = Result<()>> + Send;
    fn insert_alert(
        &mut self,
        kind: AlertKind,
        client_id: i64,
        at: Timestamp,
        now: Timestamp,
    ) -> impl Future<Output = Result<()>> + Send;
}

/// Executes `mutation` on `tx`. The caller commits on `Ok` and rolls back on `Err`.
pub async fn execute<T: WriteTx>(
    tx: &mut T,
    mutation: &Mutation,
    now: Timestamp,
    settings: &Settings,
) -> Result<Outcome> {
    let meta = &mutation.request.meta;
    if let Some(previous) = tx.find_request(&meta.request_id).await? {
        if previous.fingerprint != mutation.fingerprint {
            return Err(DomainError::InvalidArgument {
                reason: "REQUEST_ID_REUSED",
                violations: vec![FieldViolation::new(
                    "request_id",
                    "was already used for a different request; use a new id per request",
                )],
            }
            .into());
        }
        return serde_json::from_str(&previous.outcome_json)
            .map_err(|e| StoreError::Internal(format!("stored outcome unreadable: {e}")));
    }

    let ctx = Ctx {
        at: rules::resolve_occurred_at(meta.occurred_at, now)?,
        now,
        actor: &meta.actor,
        settings,
    };
    let outcome = match &mutation.request.command {
        Command::Create(new) => {
            let keys = LeadKeys::new(&new.external_lead_id, &new.email, &new.phone);
            let matched = if keys.is_empty() {
                None
            } else {
                tx.find_lead(&keys).await?
            };
            if let Some((mut client, matched_on)) = matched {
                let previous = client.version;
                let change = rules::interested_again(&mut client, matched_on, &ctx);
                record(tx, &client, previous, &change, mutation, &ctx).await?;
                Outcome {
                    clients: vec![client],
                    created: false,
                    already_recorded: false,
                }
            } else {
                if let Some(parent) = new.parent_client_id
                    && tx.load_client(parent).await?.is_none()
                {
                    return Err(DomainError::invalid(
                        "parent_client_id",
                        format!("no client {parent}"),
                    )
                    .into());
                }
                let (mut client, change) = rules::create(new, &ctx);
                client.client_id = tx.insert_client(&client).await?;
                record(tx, &client, 0, &change, mutation, &ctx).await?;
                Outcome {
                    clients: vec![client],
                    created: true,
                    already_recorded: false,
                }
            }
        }
        Command::Update { client_ids, action } => {
            let document = action.document();
            let mut clients = Vec::with_capacity(client_ids.len());
            let mut already_recorded = false;
            let mut sorted = client_ids.clone();
            sorted.sort_unstable();
            tx.lock_clients(&sorted).await?;
            for &client_id in client_ids {
                let mut client = tx
                    .load_client(client_id)
                    .await?
                    .ok_or(DomainError::ClientNotFound { client_id })?;
                let owner = match &document {
                    Some(key) => tx.document_owner(key).await?,
                    None => None,
                };
                let previous = client.version;
                match rules::apply(&mut client, action, &ctx, meta.expected_version, owner)? {
                    Effect::AlreadyRecorded => already_recorded = true,
                    Effect::Changed(change) => {
                        if let Some(key) = &document {
                            tx.insert_document(key, client_id, now).await?;
                        }
                        record(tx, &client, previous, &change, mutation, &ctx).await?;
                    }
                }
                clients.push(client);
            }
            Outcome {
                clients,
                created: false,
                already_recorded,
            }
        }
    };
    let json = serde_json::to_string(&outcome)
        .map_err(|e| StoreError::Internal(format!("outcome not serialisable: {e}")))?;
    tx.save_request(&meta.request_id, &mutation.fingerprint, &json, now)
        .await?;
    Ok(outcome)
}

/// Persists one accepted change: the client row (unless just inserted), its history entry and
/// its alerts.
async fn record<T: WriteTx>(
    tx: &mut T,
    client: &Client,
    previous_version: i64,
    change: &Change,
    mutation: &Mutation,
    ctx: &Ctx<'_>,
) -> Result<()> {
    if previous_version > 0 {
        tx.update_client(client, previous_version).await?;
    }
    let meta = &mutation.request.meta;
    tx.insert_history(&HistoryRecord {
        entry_id: 0,
        client_id: client.client_id,
        version: client.version,
        cause: change.cause.to_string(),
        actor: meta.actor.clone(),
        principal: meta.principal.clone(),
        request_id: meta.request_id.clone(),
        occurred_at: ctx.at,
        recorded_at: ctx.now,
        old_stage: change.old_stage,
        new_stage: change.new_stage,
        note: change.note.clone(),
        details: change.details.clone(),
    })
    .await?;
    for &kind in &change.alerts {
        tx.insert_alert(kind, client.client_id, ctx.at, ctx.now)
            .await?;
    }
    Ok(())
}
