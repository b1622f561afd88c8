//! Runs one request inside one backend transaction: idempotency check, load, the domain's
//! decision, then every row it implies (client, history, document, alert, request record).
//! Backends supply only the primitives of [`WriteTx`], so both behave the same by construction.
use std::future::Future;

use crate::domain::alerts::{self, AlertSettings, Timer};
use crate::domain::catalog;
use crate::domain::lead::LeadKeys;
use crate::domain::rules::{self, Change, Ctx, Effect, Settings};
use crate::domain::{
    AlertKind, Catalog, CatalogCommand, CatalogKind, Client, Command, DocumentKey, DomainError,
    Entry, FieldViolation, Holders, Stage, StatusEvent, Timestamp,
};

use super::{HistoryRecord, Mutation, Outcome, Result, StoreError};

/// A request already answered under this id.
pub struct StoredRequest {
    pub fingerprint: Vec<u8>,
    pub outcome: Outcome,
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
        outcome_json: String,
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
    /// Replaces the client's pending alert timers with `timers`.
    fn sync_timers(
        &mut self,
        client_id: i64,
        timers: &[Timer],
    ) -> impl Future<Output = Result<()>> + Send;
    /// Timers of `kind` with `base_at <= cutoff`, oldest first, locked for this transaction
    /// (skipping ones another transaction holds).
    fn claim_due_timers(
        &mut self,
        kind: AlertKind,
        cutoff: Timestamp,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<(i64, Timer)>>> + Send;
    fn delete_timer(
        &mut self,
        client_id: i64,
        kind: AlertKind,
    ) -> impl Future<Output = Result<()>> + Send;
    fn alert_exists(&mut self, occurrence_key: &str) -> impl Future<Output = Result<bool>> + Send;
    /// Makes catalogue changes take turns (names stay unique, one default per stage).
    fn lock_catalog(&mut self) -> impl Future<Output = Result<()>> + Send;
    /// The catalogue entries of `kinds`.
    fn load_catalog(
        &mut self,
        kinds: &[CatalogKind],
    ) -> impl Future<Output = Result<Catalog>> + Send;
    /// Inserts a new entry and returns its id.
    fn insert_entry(&mut self, entry: &Entry) -> impl Future<Output = Result<i64>> + Send;
    /// Writes `entry`, which must still be at `previous_version` in the database.
    fn update_entry(
        &mut self,
        entry: &Entry,
        previous_version: i64,
    ) -> impl Future<Output = Result<()>> + Send;
    fn delete_entry(&mut self, entry: &Entry) -> impl Future<Output = Result<()>> + Send;
    /// How many clients (soft-deleted ones too) reference `entry`.
    fn count_clients_using(&mut self, entry: &Entry) -> impl Future<Output = Result<i64>> + Send;
    /// The clients (soft-deleted ones too) referencing `entry`, at most `limit`.
    fn clients_using(
        &mut self,
        entry: &Entry,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<i64>>> + Send;
    /// Takes the next `count` sequence numbers of `stream`; returns the first. Holds the
    /// stream's counter until commit, which is what keeps sequences gap-free in commit order.
    fn next_sequences(
        &mut self,
        stream: super::Stream,
        count: i64,
    ) -> impl Future<Output = Result<i64>> + Send;
    fn insert_status_event(
        &mut self,
        seq: i64,
        event: &NewStatusEvent,
    ) -> impl Future<Output = Result<()>> + Send;
    fn insert_alert(
        &mut self,
        seq: i64,
        alert: &NewAlert,
    ) -> impl Future<Output = Result<()>> + Send;
}

/// A status event waiting for its sequence number.
pub struct NewStatusEvent {
    pub client_id: i64,
    pub kind: StatusEvent,
    pub cause: String,
    pub actor: String,
    pub request_id: String,
    pub old_stage: Stage,
    pub new_stage: Stage,
    pub old_status_id: i64,
    pub new_status_id: i64,
    pub occurred_at: Timestamp,
    pub recorded_at: Timestamp,
    pub snapshot: String,
}

/// An alert waiting for its sequence number.
pub struct NewAlert {
    pub kind: AlertKind,
    pub client_id: i64,
    pub occurrence_key: String,
    pub due_at: Timestamp,
    pub raised_at: Timestamp,
    pub snapshot: String,
}

/// What one request appends to the streams; written last, just before commit.
#[derive(Default)]
struct Appends {
    events: Vec<NewStatusEvent>,
    alerts: Vec<NewAlert>,
}

/// Gives the appends their sequence numbers and writes them. Status first, then alerts: every
/// writer takes the counters in this order, so they cannot deadlock on them.
/// What a transaction appended to the streams; counted in the metrics once it commits.
#[derive(Debug, Default)]
pub struct Appended {
    events: Vec<(StatusEvent, Stage, Stage)>,
    alerts: Vec<AlertKind>,
}

impl Appended {
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.alerts.is_empty()
    }

    pub fn alerts_len(&self) -> usize {
        self.alerts.len()
    }

    /// Call after commit.
    pub fn count(&self) {
        let m = crate::telemetry::metrics();
        for (kind, old, new) in &self.events {
            match kind {
                StatusEvent::StageChanged => m.stage_transition(old.name(), new.name()),
                _ => m.status_event(),
            }
        }
        for kind in &self.alerts {
            m.alert_raised(kind.name());
        }
    }
}

async fn append<T: WriteTx>(tx: &mut T, appends: Appends) -> Result<Appended> {
    let mut appended = Appended::default();
    if !appends.events.is_empty() {
        let first = tx
            .next_sequences(super::Stream::Status, appends.events.len() as i64)
            .await?;
        for (i, event) in appends.events.iter().enumerate() {
            tx.insert_status_event(first + i as i64, event).await?;
            appended
                .events
                .push((event.kind, event.old_stage, event.new_stage));
        }
    }
    let mut alerts = Vec::with_capacity(appends.alerts.len());
    for alert in appends.alerts {
        if !tx.alert_exists(&alert.occurrence_key).await? {
            alerts.push(alert);
        }
    }
    if !alerts.is_empty() {
        let first = tx
            .next_sequences(super::Stream::Alerts, alerts.len() as i64)
            .await?;
        for (i, alert) in alerts.iter().enumerate() {
            tx.insert_alert(first + i as i64, alert).await?;
            appended.alerts.push(alert.kind);
        }
    }
    Ok(appended)
}

/// Raises every time-based alert due at `now`, in one transaction: claims due timers, writes
/// one alert per new occurrence, removes the timers. Returns how many alerts were raised.
pub async fn raise_due<T: WriteTx>(
    tx: &mut T,
    now: Timestamp,
    settings: &AlertSettings,
) -> Result<Appended> {
    let mut appends = Appends::default();
    for kind in AlertKind::TIMED {
        let delay = settings.delay(kind);
        for (client_id, timer) in tx.claim_due_timers(kind, now - delay, 200).await? {
            tx.delete_timer(client_id, kind).await?;
            let Some(client) = tx.load_client(client_id).await? else {
                continue;
            };
            appends.alerts.push(NewAlert {
                kind,
                client_id,
                occurrence_key: timer.occurrence_key,
                due_at: timer.base_at + delay,
                raised_at: now,
                snapshot: snapshot(&client)?,
            });
        }
    }
    append(tx, appends).await
}

fn snapshot(client: &Client) -> Result<String> {
    serde_json::to_string(client)
        .map_err(|e| StoreError::internal(format!("client not serialisable: {e}")))
}

/// Executes `mutation` on `tx`. The caller commits on `Ok` and rolls back on `Err`; the flag
/// says whether stream entries were written (so subscribers should be woken after commit).
pub async fn execute<T: WriteTx>(
    tx: &mut T,
    mutation: &Mutation,
    now: Timestamp,
    settings: &Settings,
) -> Result<(Outcome, Appended)> {
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
        let mut outcome = previous.outcome;
        outcome
            .clients
            .iter_mut()
            .for_each(Client::fill_legacy_status);
        return Ok((outcome, Appended::default()));
    }

    if let Command::Catalog(command) = &mutation.request.command {
        let mut appends = Appends::default();
        let (entry, moved) =
            execute_catalog(tx, command, mutation, now, settings, &mut appends).await?;
        let outcome = Outcome {
            clients: Vec::new(),
            created: false,
            already_recorded: false,
            entry: Some(entry),
            moved,
        };
        let appended = append(tx, appends).await?;
        save_outcome(tx, mutation, &outcome, now).await?;
        return Ok((outcome, appended));
    }
    // The catalogue is read after the clients are locked: a write that waited for a client sees
    // every catalogue change committed before it got the lock.
    let catalog = match &mutation.request.command {
        Command::Create(new) => {
            let mut kinds = vec![CatalogKind::Status];
            kinds.extend(
                new.classifications
                    .references()
                    .into_iter()
                    .filter(|(_, _, id)| id.is_some())
                    .map(|(kind, _, _)| kind),
            );
            let catalog = tx.load_catalog(&kinds).await?;
            rules::new_client_status(new, &catalog)?;
            catalog
        }
        Command::Update { client_ids, .. } => {
            let mut sorted = client_ids.clone();
            sorted.sort_unstable();
            tx.lock_clients(&sorted).await?;
            tx.load_catalog(&[CatalogKind::Status]).await?
        }
        Command::Catalog(_) => {
            return Err(StoreError::internal(
                "a catalogue command reached the client path",
            ));
        }
    };
    let ctx = Ctx {
        at: rules::resolve_occurred_at(meta.occurred_at, now)?,
        now,
        actor: &meta.actor,
        settings,
        catalog: &catalog,
    };
    let mut appends = Appends::default();
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
                record(tx, &client, previous, &change, mutation, &ctx, &mut appends).await?;
                Outcome {
                    clients: vec![client],
                    created: false,
                    already_recorded: false,
                    entry: None,
                    moved: 0,
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
                let (mut client, change) = rules::create(new, &ctx)?;
                client.client_id = tx.insert_client(&client).await?;
                record(tx, &client, 0, &change, mutation, &ctx, &mut appends).await?;
                Outcome {
                    clients: vec![client],
                    created: true,
                    already_recorded: false,
                    entry: None,
                    moved: 0,
                }
            }
        }
        Command::Update { client_ids, action } => {
            let document = action.document();
            let mut clients = Vec::with_capacity(client_ids.len());
            let mut already_recorded = false;
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
                        record(tx, &client, previous, &change, mutation, &ctx, &mut appends)
                            .await?;
                    }
                }
                clients.push(client);
            }
            Outcome {
                clients,
                created: false,
                already_recorded,
                entry: None,
                moved: 0,
            }
        }
        Command::Catalog(_) => {
            return Err(StoreError::internal(
                "a catalogue command reached the client path",
            ));
        }
    };
    let appended = append(tx, appends).await?;
    save_outcome(tx, mutation, &outcome, now).await?;
    Ok((outcome, appended))
}

/// Records the answer under the request id, so a retry gets it back.
async fn save_outcome<T: WriteTx>(
    tx: &mut T,
    mutation: &Mutation,
    outcome: &Outcome,
    now: Timestamp,
) -> Result<()> {
    let json = super::rows::to_json("outcome", outcome)?;
    tx.save_request(
        &mutation.request.meta.request_id,
        &mutation.fingerprint,
        json,
        now,
    )
    .await
}

/// Creates, updates or deletes one catalogue entry; returns it (as it was, when deleted).
async fn execute_catalog<T: WriteTx>(
    tx: &mut T,
    command: &CatalogCommand,
    mutation: &Mutation,
    now: Timestamp,
    settings: &Settings,
    appends: &mut Appends,
) -> Result<(Entry, i64)> {
    let expected_version = mutation.request.meta.expected_version;
    tx.lock_catalog().await?;
    let kind = command.kind();
    // Groups are checked against the statuses, and a deleted status leaves its groups.
    // Classification ids are unique across the three lists: an update or delete names only
    // the id, so all three are loaded and the entry found in whichever holds it.
    let kinds: &[CatalogKind] = if kind.is_classification() {
        &[
            CatalogKind::CustomerType,
            CatalogKind::Industry,
            CatalogKind::HeadcountClass,
        ]
    } else {
        &[CatalogKind::Status, CatalogKind::StatusGroup]
    };
    let catalog = tx.load_catalog(kinds).await?;
    let existing = |id: i64| {
        catalog
            .entries
            .iter()
            .find(|e| {
                e.entry_id == id
                    && (e.kind == kind || (kind.is_classification() && e.kind.is_classification()))
            })
            .cloned()
            .ok_or(DomainError::CatalogEntryNotFound {
                reason: match kind {
                    CatalogKind::Status => "STATUS_NOT_FOUND",
                    CatalogKind::StatusGroup => "STATUS_GROUP_NOT_FOUND",
                    _ => "CLASSIFICATION_NOT_FOUND",
                },
                label: if kind.is_classification() {
                    "classification"
                } else {
                    kind.label()
                },
                entry_id: id,
            })
            .and_then(|e| catalog::check_version(&e, expected_version).map(|()| e))
    };
    match command {
        CatalogCommand::Create(draft) => {
            let mut entry = catalog::create(&catalog, draft, now)?;
            entry.entry_id = tx.insert_entry(&entry).await?;
            Ok((entry, 0))
        }
        CatalogCommand::Update {
            entry_id, patch, ..
        } => {
            let entry = existing(*entry_id)?;
            let next = catalog::update(&catalog, &entry, patch, now)?;
            if next.is_default && !entry.is_default {
                let previous = catalog.entries.iter().find(|e| {
                    e.kind == CatalogKind::Status && e.stage == entry.stage && e.is_default
                });
                if let Some(previous) = previous {
                    let mut demoted = previous.clone();
                    demoted.is_default = false;
                    demoted.version += 1;
                    demoted.updated_at = now;
                    tx.update_entry(&demoted, previous.version).await?;
                }
            }
            if next != entry {
                tx.update_entry(&next, entry.version).await?;
            }
            Ok((next, 0))
        }
        CatalogCommand::Delete {
            entry_id, holders, ..
        } => {
            let entry = existing(*entry_id)?;
            let replacement = match holders {
                Holders::Refuse => None,
                Holders::MoveTo(target) => {
                    let field = if entry.kind == CatalogKind::Status {
                        "replacement_status_id"
                    } else {
                        "replacement_classification_id"
                    };
                    let found = catalog.entries.iter().find(|e| e.entry_id == *target);
                    catalog::check_replacement(&entry, found, field, *target)?;
                    Some(Some(*target))
                }
                Holders::Clear => Some(None),
            };
            let moved = match replacement {
                Some(to) if entry.kind != CatalogKind::StatusGroup => {
                    let ctx = Ctx {
                        at: now,
                        now,
                        actor: &mutation.request.meta.actor,
                        settings,
                        catalog: &catalog,
                    };
                    move_holders(tx, &entry, to, &ctx, mutation, appends).await?
                }
                _ => 0,
            };
            let in_use = match entry.kind {
                CatalogKind::StatusGroup => entry.status_ids.len() as i64,
                _ => tx.count_clients_using(&entry).await?,
            };
            catalog::check_delete(&entry, in_use)?;
            if entry.kind == CatalogKind::Status {
                for group in catalog.entries.iter().filter(|g| {
                    g.kind == CatalogKind::StatusGroup && g.status_ids.contains(entry_id)
                }) {
                    let mut next = group.clone();
                    next.status_ids.retain(|id| id != entry_id);
                    next.version += 1;
                    next.updated_at = now;
                    tx.update_entry(&next, group.version).await?;
                }
            }
            tx.delete_entry(&entry).await?;
            Ok((entry, moved))
        }
    }
}

/// Moves every client referencing `entry` to `replacement` (or clears the reference), each as
/// a recorded change; returns how many moved.
async fn move_holders<T: WriteTx>(
    tx: &mut T,
    entry: &Entry,
    replacement: Option<i64>,
    ctx: &Ctx<'_>,
    mutation: &Mutation,
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
    tx.lock_clients(&holders).await?;
    for &client_id in &holders {
        let mut client = tx
            .load_client(client_id)
            .await?
            .ok_or(DomainError::ClientNotFound { client_id })?;
        let previous = client.version;
        let change = rules::replace_reference(&mut client, entry, replacement, ctx);
        record(tx, &client, previous, &change, mutation, ctx, appends).await?;
    }
    Ok(holders.len() as i64)
}

/// Persists one accepted change: the client row (unless just inserted), its history entry and
/// timers; queues its status event and alerts.
async fn record<T: WriteTx>(
    tx: &mut T,
    client: &Client,
    previous_version: i64,
    change: &Change,
    mutation: &Mutation,
    ctx: &Ctx<'_>,
    appends: &mut Appends,
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
    tx.sync_timers(client.client_id, &alerts::timers(client))
        .await?;
    if change.event.is_none() && change.alerts.is_empty() {
        return Ok(());
    }
    let body = snapshot(client)?;
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
    Ok(())
}
