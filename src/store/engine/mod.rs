//! Runs one request inside one backend transaction: load, the domain's decision, then every row
//! it implies (client, history, document, timers, stream entries, and the request record that
//! makes a retry get the same answer). Backends supply the primitives of [`WriteTx`] and the
//! transaction; the rules stay in `domain`.
//!
//! Idempotency costs nothing on the common path: the answer is recorded last with an insert that
//! reports whether the caller's request id was already taken; only then (or when a rule refused
//! the request) is the stored answer looked up, and the backend undoes this transaction's work.
use std::future::Future;

use crate::domain::alerts::{self};
use crate::domain::lead::LeadKeys;
use crate::domain::rules::{self, Change, Ctx, Effect, Settings};
use crate::domain::{
    CatalogCommand, Client, Command, DomainError, FieldViolation, Meta, Timestamp,
};

use super::rows::to_json;
use super::{CatalogOutcome, HistoryRecord, Mutation, Outcome, Result};

mod append;
mod card;
mod catalog;
mod outcome;
mod timeline;
mod tx;

use append::append;
pub use append::{Appended, Appends, raise_due};
pub use card::{CardTx, StoredAnswer};
pub use outcome::StoredOutcome;
pub use timeline::{Groups, TimelineTx};
pub use tx::{CatalogTx, NewAlert, NewStatusEvent, StoredRequest, StreamTx, WriteTx};

/// What a transaction's request runs with.
#[derive(Debug, Clone, Copy)]
pub struct Env<'a> {
    /// The server's time for this write (taken where writers are serialised, so recorded times
    /// follow commit order).
    pub now: Timestamp,
    pub settings: &'a Settings,
    /// Request records of the release before answers were keyed by caller may still exist:
    /// they are looked up by id (and fingerprint, which names the caller) too.
    pub legacy_requests: bool,
}

/// A kind of request the engine runs: client commands and catalogue changes, each with its own
/// answer, so nothing downstream has to tell them apart.
pub trait Applies: Sized + Send + Sync + 'static {
    type Outcome: Send + 'static;

    /// Does the request's work on `tx` (everything but its record); returns the answer, the
    /// record to keep under its request id, and what it appends to the streams.
    fn run<T: WriteTx>(
        tx: &mut T,
        mutation: &Mutation<Self>,
        env: Env<'_>,
    ) -> impl Future<Output = Result<(Self::Outcome, String, Appends)>> + Send;

    /// The answer a record holds.
    fn recorded(stored: StoredOutcome) -> Result<Self::Outcome>;

    /// The client an answer holds that no history entry of its request names (a document
    /// already recorded, an update that changed nothing): kept beside the record, so an
    /// erasure finds every answer holding a client without reading them all.
    fn unlogged(_outcome: &Self::Outcome) -> Option<i64> {
        None
    }
}

impl Applies for Command {
    type Outcome = Outcome;

    async fn run<T: WriteTx>(
        tx: &mut T,
        mutation: &Mutation,
        env: Env<'_>,
    ) -> Result<(Outcome, String, Appends)> {
        let (outcome, bodies, appends) = run(tx, mutation, env).await?;
        let record = outcome::to_record(&outcome, &bodies)?;
        Ok((outcome, record, appends))
    }

    fn recorded(stored: StoredOutcome) -> Result<Outcome> {
        Ok(stored.into())
    }

    fn unlogged(outcome: &Outcome) -> Option<i64> {
        // Nothing changed, so nothing was written to history for this client.
        outcome
            .already_recorded
            .then(|| outcome.clients.first().map(|c| c.client_id))
            .flatten()
    }
}

impl Applies for CatalogCommand {
    type Outcome = CatalogOutcome;

    async fn run<T: WriteTx>(
        tx: &mut T,
        mutation: &Mutation<CatalogCommand>,
        env: Env<'_>,
    ) -> Result<(CatalogOutcome, String, Appends)> {
        let (outcome, appends) = catalog::execute(tx, mutation, env).await?;
        let record = outcome::catalog_record(&outcome)?;
        Ok((outcome, record, appends))
    }

    fn recorded(stored: StoredOutcome) -> Result<CatalogOutcome> {
        stored.try_into()
    }
}

/// How a request ran.
#[derive(Debug)]
pub enum Executed<O> {
    /// Applied: commit, then answer.
    Applied(Box<O>, Appended),
    /// The caller already has an answer under this request id: undo this transaction's work,
    /// then give [`answer_of`]'s.
    AlreadyAnswered,
}

/// The answer already recorded for `mutation`'s request id: the same answer again, or a refusal
/// when the id was used for a different request.
pub async fn answer_of<T: WriteTx, C: Applies>(
    tx: &mut T,
    mutation: &Mutation<C>,
    legacy_requests: bool,
) -> Result<C::Outcome> {
    match recorded(tx, mutation, legacy_requests).await? {
        Some(stored) => C::recorded(stored),
        None => Err(super::StoreError::internal(
            "a request id was taken but no answer is recorded under it",
        )),
    }
}

/// The answer recorded under `mutation`'s request id, refusing a different request under it.
async fn recorded<T: WriteTx, C>(
    tx: &mut T,
    mutation: &Mutation<C>,
    legacy_requests: bool,
) -> Result<Option<StoredOutcome>> {
    let meta = &mutation.request.meta;
    let mut found = tx.find_request(&meta.principal, &meta.request_id).await?;
    if found.is_none() && legacy_requests {
        // Recorded before answers were keyed by caller: the fingerprint names the caller, so
        // only the same caller's same request matches.
        found = tx
            .find_request("", &meta.request_id)
            .await?
            .filter(|r| r.fingerprint == mutation.fingerprint);
    }
    let Some(previous) = found else {
        return Ok(None);
    };
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
    Ok(Some(previous.outcome))
}

/// Executes `mutation` on `tx`. On `Applied` the caller commits; on an error or
/// `AlreadyAnswered` it undoes everything the transaction wrote.
pub async fn execute<T: WriteTx, C: Applies>(
    tx: &mut T,
    mutation: &Mutation<C>,
    env: Env<'_>,
) -> Result<Executed<C::Outcome>> {
    if env.legacy_requests && recorded(tx, mutation, true).await?.is_some() {
        return Ok(Executed::AlreadyAnswered);
    }
    let (outcome, record, appends) = match C::run(tx, mutation, env).await {
        Ok(done) => done,
        // A retry of a request that was applied may be refused by the state it left (already
        // declared, version moved on): the first answer stands.
        Err(super::StoreError::Domain(e)) => {
            return match recorded(tx, mutation, false).await? {
                Some(_) => Ok(Executed::AlreadyAnswered),
                None => Err(e.into()),
            };
        }
        Err(e) => return Err(e),
    };
    let appended = append(tx, appends).await?;
    let meta = &mutation.request.meta;
    let claimed = tx
        .claim_request(
            &meta.principal,
            &meta.request_id,
            &mutation.fingerprint,
            record,
            C::unlogged(&outcome),
            env.now,
        )
        .await?;
    Ok(if claimed {
        Executed::Applied(Box::new(outcome), appended)
    } else {
        Executed::AlreadyAnswered
    })
}

/// The answer, each of its clients' JSON, and what it appends to the streams.
type Ran = (Outcome, Vec<String>, Appends);

/// A client mutation: a new client (or the existing one a lead matches), or an action on one
/// or more clients.
async fn run<T: WriteTx>(tx: &mut T, mutation: &Mutation, env: Env<'_>) -> Result<Ran> {
    if let Command::Card(command) = &mutation.request.command {
        return card::run(tx, command, &mutation.request.meta, env).await;
    }
    let meta = &mutation.request.meta;
    let mut appends = Appends::default();
    let mut bodies = Vec::new();
    let mut outcome = Outcome {
        clients: Vec::new(),
        created: false,
        already_recorded: false,
    };
    // Clients are locked before the catalogue is read: a write that waited for a client sees
    // every catalogue change committed before it got the lock.
    let locked = match &mutation.request.command {
        Command::Update { client_ids, .. } => {
            let mut sorted = client_ids.clone();
            sorted.sort_unstable();
            tx.lock_clients(&sorted).await?
        }
        _ => Vec::new(),
    };
    let catalog = tx.catalog().await?;
    let ctx = Ctx {
        at: rules::resolve_occurred_at(meta.occurred_at, env.now)?,
        now: env.now,
        actor: &meta.actor,
        settings: env.settings,
        catalog: &catalog,
    };
    match &mutation.request.command {
        Command::Create(new) => {
            rules::new_client_status(new, &catalog)?;
            let keys = LeadKeys::new(&new.external_lead_id, &new.email, &new.phone);
            let matched = if keys.is_empty() {
                None
            } else {
                tx.find_lead(&keys).await?
            };
            let body = if let Some((mut client, matched_on)) = matched {
                let before = client.clone();
                let change = rules::interested_again(&mut client, matched_on, &ctx);
                let body =
                    record(tx, &before, &mut client, &change, meta, &ctx, &mut appends).await?;
                outcome.clients.push(client);
                body
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
                let (mut client, change) = rules::create(new, &ctx)?;
                client.client_id = tx
                    .insert_client(&client, &to_json("client", &client)?)
                    .await?;
                let body = created(tx, &client, &change, meta, &ctx, &mut appends).await?;
                outcome.clients.push(client);
                outcome.created = true;
                body
            };
            bodies.push(body);
        }
        // Run by `card::run` above.
        Command::Card(_) => {}
        Command::Update { client_ids, action } => {
            let mut locked = locked;
            let document = action.document();
            for &client_id in client_ids {
                let before = locked
                    .iter()
                    .find(|c| c.client_id == client_id)
                    .cloned()
                    .ok_or(DomainError::ClientNotFound { client_id })?;
                let owner = match &document {
                    Some(key) => tx.document_owner(key).await?,
                    None => None,
                };
                let mut client = before.clone();
                let mut answered = None;
                match rules::apply(&mut client, action, &ctx, meta.expected_version, owner)? {
                    Effect::AlreadyRecorded => {
                        outcome.already_recorded = true;
                        // On a merged number, the survivor holding the document answers.
                        if let Some(survivor) = client.merged_into {
                            answered = tx.load_client(survivor).await?;
                        }
                        bodies.push(to_json("client", answered.as_ref().unwrap_or(&client))?);
                    }
                    Effect::Changed(change) => {
                        if let Some(key) = &document {
                            tx.insert_document(key, client_id, env.now).await?;
                        }
                        bodies.push(
                            record(tx, &before, &mut client, &change, meta, &ctx, &mut appends)
                                .await?,
                        );
                    }
                }
                // A later mention of the same client starts from this state.
                if let Some(slot) = locked.iter_mut().find(|c| c.client_id == client_id) {
                    *slot = client.clone();
                }
                outcome.clients.push(answered.unwrap_or(client));
            }
        }
    }
    Ok((outcome, bodies, appends))
}

/// Persists one accepted change to an existing client: the row, its history entry, its timers
/// (only when they change), its status event and alerts. Returns the client's JSON.
pub(super) async fn record<T: WriteTx>(
    tx: &mut T,
    before: &Client,
    client: &mut Client,
    change: &Change,
    meta: &Meta,
    ctx: &Ctx<'_>,
    appends: &mut Appends,
) -> Result<String> {
    timeline::maintain(tx, before, client, change, ctx).await?;
    let body = to_json("client", client)?;
    tx.update_client(before, client, &body).await?;
    let timers = alerts::timers(client);
    if timers != alerts::timers(before) {
        tx.replace_timers(client.client_id, &timers).await?;
    }
    history_and_streams(tx, client, body, change, meta, ctx, appends).await
}

/// Persists what a new client's creation implies besides its row.
async fn created<T: WriteTx>(
    tx: &mut T,
    client: &Client,
    change: &Change,
    meta: &Meta,
    ctx: &Ctx<'_>,
    appends: &mut Appends,
) -> Result<String> {
    let timers = alerts::timers(client);
    if !timers.is_empty() {
        tx.replace_timers(client.client_id, &timers).await?;
    }
    timeline::created(tx, client).await?;
    // The row was written before its number was known; the answer carries the number.
    let body = to_json("client", client)?;
    history_and_streams(tx, client, body, change, meta, ctx, appends).await
}

async fn history_and_streams<T: WriteTx>(
    tx: &mut T,
    client: &Client,
    body: String,
    change: &Change,
    meta: &Meta,
    ctx: &Ctx<'_>,
    appends: &mut Appends,
) -> Result<String> {
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
    if let Some(kind) = change.event {
        appends.events.push(NewStatusEvent {
            client_id: client.client_id,
            kind,
            cause: change.cause.to_string(),
            actor: meta.actor.clone(),
            request_id: meta.request_id.clone(),
            old_stage: change.old_stage.unwrap_or(change.new_stage),
            new_stage: change.new_stage,
            old_status_id: change.old_status_id.unwrap_or(change.new_status_id),
            new_status_id: change.new_status_id,
            occurred_at: ctx.at,
            recorded_at: ctx.now,
            snapshot: body.clone(),
        });
    }
    for &kind in &change.alerts {
        appends.alerts.push(NewAlert {
            kind,
            client_id: client.client_id,
            occurrence_key: alerts::change_occurrence_key(kind, client.client_id, client.version),
            due_at: ctx.at,
            raised_at: ctx.now,
            snapshot: body.clone(),
        });
    }
    Ok(body)
}
