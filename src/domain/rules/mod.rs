//! What each event does to a client: the stage floor, the stamps, the preconditions. This is
//! the one place the rule tables of docs/behaviour.md live: `apply` below says which rule each request
//! runs, and each family of rules has its file (`activity`, `deals`, `declarations`), with new
//! clients in `create` and catalogue-driven moves in `references`.
use std::collections::BTreeMap;

use chrono::Duration;
use serde::{Deserialize, Serialize};

use super::alerts::AlertKind;
use super::catalog::Catalog;
use super::client::{Client, Timestamp, stamp_first};
use super::command::Action;
use super::error::{DomainError, FieldViolation};
use super::stage::Stage;
use super::summary::{SummaryEntry, add_entry};

mod activity;
mod create;
mod deals;
mod declarations;
mod references;
#[cfg(test)]
mod tests;

pub use create::{create, interested_again, new_client_status};
pub use references::replace_reference;

/// Organisation settings the rules read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// When on, filling the extra properties counts as a deal (floor REAL).
    pub extra_properties_mean_deal: bool,
}

/// Most custom properties one client may hold.
pub const CLIENT_PROPERTIES_MAX: usize = 200;

/// How far in the future `occurred_at` may be before it is refused (clock skew allowance).
pub const MAX_CLOCK_SKEW: Duration = Duration::minutes(5);

/// What kind of status event a change writes to the status-change stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum StatusEvent {
    StageChanged,
    /// The status changed within the same stage.
    StatusChanged,
    /// Soft delete (DeclareFictitious).
    Deleted,
    Restored,
    /// Folded into another client (MergeClients).
    Merged,
    /// Personal data removed (EraseClient).
    Erased,
}

impl StatusEvent {
    pub fn name(self) -> &'static str {
        match self {
            StatusEvent::StageChanged => "STAGE_CHANGED",
            StatusEvent::StatusChanged => "STATUS_CHANGED",
            StatusEvent::Deleted => "DELETED",
            StatusEvent::Restored => "RESTORED",
            StatusEvent::Merged => "MERGED",
            StatusEvent::Erased => "ERASED",
        }
    }

    pub fn from_name(name: &str) -> Option<StatusEvent> {
        [
            StatusEvent::StageChanged,
            StatusEvent::StatusChanged,
            StatusEvent::Deleted,
            StatusEvent::Restored,
            StatusEvent::Merged,
            StatusEvent::Erased,
        ]
        .into_iter()
        .find(|e| e.name() == name)
    }
}

/// The facts of one accepted change, for the history entry and the alerts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub cause: &'static str,
    /// `None` when the client was created by this change.
    pub old_stage: Option<Stage>,
    pub new_stage: Stage,
    /// `None` when the client was created by this change.
    pub old_status_id: Option<i64>,
    pub new_status_id: i64,
    pub note: String,
    pub details: BTreeMap<String, String>,
    pub alerts: Vec<AlertKind>,
    /// The status-change event this change writes, if it changes stage or deletion.
    pub event: Option<StatusEvent>,
}

/// The result of an action on one client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Changed(Change),
    /// The business document was already recorded on this client: nothing changes.
    AlreadyRecorded,
}

/// The time and people of one request, resolved.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    /// When it happened (the request's `occurred_at`, or now).
    pub at: Timestamp,
    /// The server's clock when the change is written.
    pub now: Timestamp,
    pub actor: &'a str,
    pub settings: &'a Settings,
    /// The statuses (and, for a new client, the classifications) the change may refer to.
    pub catalog: &'a Catalog,
}

/// `occurred_at` defaults to now; a time further ahead than clock skew explains is refused.
pub fn resolve_occurred_at(
    occurred_at: Option<Timestamp>,
    now: Timestamp,
) -> Result<Timestamp, DomainError> {
    match occurred_at {
        None => Ok(now),
        Some(t) if t > now + MAX_CLOCK_SKEW => Err(DomainError::InvalidArgument {
            reason: "TIMESTAMP_IN_FUTURE",
            violations: vec![FieldViolation::new(
                "occurred_at",
                "is in the future; events are recorded after they happen",
            )],
        }),
        Some(t) => Ok(t),
    }
}

/// Applies `action` to `client`. `document_owner` is the client that already holds the
/// action's business document, if any.
pub fn apply(
    client: &mut Client,
    action: &Action,
    ctx: &Ctx,
    expected_version: Option<i64>,
    document_owner: Option<i64>,
) -> Result<Effect, DomainError> {
    if let Some(effect) = preconditions(client, action, ctx, expected_version, document_owner)? {
        return Ok(effect);
    }
    let old = client.stage;
    let old_status = client.status_id;
    let mut details = BTreeMap::new();
    // The table: which rule each request runs (stage floor, stamps, checks).
    let note = match action {
        Action::ContactAttempt {
            outcome,
            note,
            next_call_at,
            next_call_by,
        } => activity::contact_attempt(
            client,
            ctx,
            *outcome,
            *next_call_at,
            next_call_by.as_deref(),
            note,
            &mut details,
        )?,
        Action::MessageSent { channel, note } => {
            activity::message_sent(client, ctx, *channel, note, &mut details)
        }
        Action::ScheduleMeeting { meeting_at, note } => {
            activity::schedule_meeting(client, ctx, *meeting_at, note, &mut details)
        }
        Action::SummarizeMeeting { note } => activity::summarize_meeting(client, ctx, note),
        Action::IssueQuote { note, .. } => deals::issue_quote(client, ctx, note),
        Action::ApproveOrder { note, .. } | Action::RecordInvoice { note, .. } => {
            deals::became_real(client, ctx, note)
        }
        Action::OpenTradingAccount {
            trading_account_id,
            note,
        } => deals::trading_account(client, ctx, trading_account_id, note),
        Action::RecordPaidService { note, .. } => deals::paid_service(client, ctx, note),
        Action::RecordExtraProperties { properties } => {
            deals::extra_properties(client, ctx, properties, &mut details)?
        }
        Action::DeclareNotInterested {
            note,
            reason_status_id,
        } => declarations::not_interested(client, ctx, *reason_status_id, note, &mut details)?,
        Action::DeclareFrozen {
            frozen_message,
            note,
            reason_status_id,
        } => declarations::frozen(
            client,
            ctx,
            frozen_message,
            *reason_status_id,
            note,
            &mut details,
        )?,
        Action::DeclareFictitious {
            note,
            fictitious_reason,
        } => declarations::fictitious(client, ctx, fictitious_reason, note, &mut details)?,
        Action::Restore { note } => declarations::restore(client, note),
        Action::SetStatus {
            stage,
            status_id,
            reason,
        } => declarations::set_status(client, ctx, *stage, *status_id, reason)?,
        Action::Reassign {
            new_owner,
            reset_stage,
            note,
        } => declarations::reassign(client, ctx, new_owner, *reset_stage, note, &mut details),
    };
    if let Some(key) = action.document() {
        details.insert("document_kind".into(), key.kind.into());
        details.insert("document_id".into(), key.id);
    }
    Ok(Effect::Changed(finish(
        client, action, ctx, old, old_status, note, details,
    )))
}

/// What every action checks before its own rule: the expected version, that the client is
/// active (or deleted, to be restored), whether the business document is new, and whether the
/// client's status allows projects.
fn preconditions(
    client: &Client,
    action: &Action,
    ctx: &Ctx,
    expected_version: Option<i64>,
    document_owner: Option<i64>,
) -> Result<Option<Effect>, DomainError> {
    let id = client.client_id;
    if let Some(survivor) = client.merged_into {
        // A document the survivor holds is recognised on the merged number too (a bridge
        // re-sending it has not re-keyed yet); anything new belongs on the survivor.
        if action.document().is_some() && document_owner == Some(survivor) {
            return Ok(Some(Effect::AlreadyRecorded));
        }
        return Err(DomainError::merged(id, survivor));
    }
    if let Some(expected) = expected_version
        && expected != client.version
    {
        return Err(DomainError::VersionMismatch {
            subject: format!("clients/{id}"),
            expected,
            actual: client.version,
        });
    }
    match action {
        // Its details are gone for good: restoring would bring back an empty card.
        Action::Restore { .. } if client.is_erased() => {
            return Err(DomainError::precondition(
                "CLIENT_ERASED",
                id,
                format!("client {id} was erased; it cannot be restored"),
            ));
        }
        Action::Restore { .. } if !client.is_deleted() => {
            return Err(DomainError::precondition(
                "CLIENT_NOT_DELETED",
                id,
                format!("client {id} is not deleted; only a soft-deleted client can be restored"),
            ));
        }
        Action::Restore { .. } => {}
        _ if client.is_deleted() => {
            return Err(DomainError::precondition(
                "CLIENT_DELETED",
                id,
                format!("client {id} is deleted (fictitious); restore it first"),
            ));
        }
        _ => {}
    }
    // Business documents are natural keys: recorded twice, they change nothing the second time.
    if let Some(key) = action.document() {
        match document_owner {
            Some(owner) if owner == id => return Ok(Some(Effect::AlreadyRecorded)),
            Some(owner) => {
                return Err(DomainError::DocumentOwnedByOther {
                    kind: key.kind,
                    document_id: key.id,
                    owner,
                });
            }
            None => {}
        }
    }
    if matches!(
        action,
        Action::IssueQuote { .. } | Action::ApproveOrder { .. }
    ) && let Some(status) = ctx.catalog.status(client.status_id)
        && !status.selectable_for_project
    {
        return Err(DomainError::precondition(
            "STATUS_NOT_SELECTABLE_FOR_PROJECT",
            id,
            format!(
                "client {id} is in status {:?}, which does not allow quotes or orders; \
                 change its status first",
                status.name
            ),
        ));
    }
    Ok(None)
}

/// What follows every accepted action: the status change noted, the alerts a stage change
/// raises, the status event it writes, the new version.
fn finish(
    client: &mut Client,
    action: &Action,
    ctx: &Ctx,
    old: Stage,
    old_status: i64,
    note: String,
    mut details: BTreeMap<String, String>,
) -> Change {
    let new = client.stage;
    if client.status_id != old_status {
        details.insert("old_status_id".into(), old_status.to_string());
        details.insert("new_status_id".into(), client.status_id.to_string());
    }
    let mut alerts = Vec::new();
    // Entering REAL (or REAL_CLUB_OR_CONTRACT) for the first time, or from a prospect stage.
    if matches!(new, Stage::Real | Stage::RealClubOrContract)
        && (!old.is_permanent() || client.became_real_at.is_none())
    {
        stamp_first(&mut client.became_real_at, ctx.at);
        alerts.push(AlertKind::BecameReal);
    }
    if old != Stage::Frozen && new == Stage::Frozen {
        alerts.push(AlertKind::Frozen);
    }
    let event = match action {
        Action::DeclareFictitious { .. } => Some(StatusEvent::Deleted),
        Action::Restore { .. } => Some(StatusEvent::Restored),
        _ if old != new => Some(StatusEvent::StageChanged),
        _ if old_status != client.status_id => Some(StatusEvent::StatusChanged),
        _ => None,
    };
    client.version += 1;
    client.updated_at = ctx.now;
    Change {
        cause: action.cause(),
        old_stage: Some(old),
        new_stage: new,
        old_status_id: Some(old_status),
        new_status_id: client.status_id,
        note,
        details,
        alerts,
        event,
    }
}

/// Automatic advance: the forward-only rule.
pub(super) fn advance(client: &mut Client, ctx: &Ctx, floor: Stage) {
    set_stage(client, ctx, client.stage.advance(floor));
}

/// Moves to `stage`; a client leaving NOT_INTERESTED or FROZEN drops that declaration's
/// fields (its history keeps them), so a revived client shows no stale pop-up.
/// Entering another stage puts its default status.
pub(super) fn set_stage(client: &mut Client, ctx: &Ctx, stage: Stage) {
    if client.stage == Stage::NotInterested && stage != Stage::NotInterested {
        client.not_interested_reason.clear();
    }
    if client.stage == Stage::Frozen && stage != Stage::Frozen {
        client.frozen_message.clear();
        client.frozen_reason.clear();
    }
    let changed = client.stage != stage;
    client.stage = stage;
    if changed {
        put_status(client, ctx, ctx.catalog.default_status(stage));
    }
}

/// Puts the client in status `status_id` (of its current stage). In NOT_INTERESTED and FROZEN
/// the status is the reason, so the reason text always names the status the client is in.
pub(super) fn put_status(client: &mut Client, ctx: &Ctx, status_id: i64) {
    client.status_id = status_id;
    let name = ctx
        .catalog
        .status(status_id)
        .map(|s| s.name.clone())
        .unwrap_or_default();
    match client.stage {
        Stage::NotInterested => client.not_interested_reason = name.clone(),
        Stage::Frozen => client.frozen_reason = name.clone(),
        _ => {}
    }
    client.status_name = name;
}

pub(super) fn summary(client: &mut Client, ctx: &Ctx, kind: &str, note: &str) {
    add_entry(
        &mut client.summary,
        SummaryEntry::new(ctx.at, ctx.actor, kind, note),
    );
}
