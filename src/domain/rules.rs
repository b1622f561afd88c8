//! What each event does to a client: the stage floor, the stamps, the preconditions.
//! This is the one place the spec's section 2 tables live.
use std::collections::BTreeMap;

use chrono::Duration;
use serde::{Deserialize, Serialize};

use super::alerts::AlertKind;
use super::catalog::{Catalog, CatalogKind, Entry};
use super::client::{CallOutcome, Client, LeadStatus, Timestamp, stamp_first, stamp_last};
use super::command::{Action, Channel, NewClient};
use super::error::{DomainError, FieldViolation};
use super::stage::Stage;
use super::summary::{SummaryEntry, add_entry};

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
}

impl StatusEvent {
    pub fn name(self) -> &'static str {
        match self {
            StatusEvent::StageChanged => "STAGE_CHANGED",
            StatusEvent::StatusChanged => "STATUS_CHANGED",
            StatusEvent::Deleted => "DELETED",
            StatusEvent::Restored => "RESTORED",
        }
    }

    pub fn from_name(name: &str) -> Option<StatusEvent> {
        [
            StatusEvent::StageChanged,
            StatusEvent::StatusChanged,
            StatusEvent::Deleted,
            StatusEvent::Restored,
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
        Some(t) if t > now + MAX_CLOCK_SKEW => Err(DomainError::invalid(
            "occurred_at",
            "is in the future; events are recorded after they happen",
        )),
        Some(t) => Ok(t),
    }
}

/// A new client from a lead or an agent: stage NEW (its default status unless the request
/// names a NEW status), NO_CALL_YET. Classifications must name entries of their catalogues.
pub fn create(new: &NewClient, ctx: &Ctx) -> Result<(Client, Change), DomainError> {
    let status_id = new_client_status(new, ctx.catalog)?;
    let client = Client {
        client_id: 0,
        name: new.name.clone(),
        branch: new.branch.clone(),
        owner: new.owner.clone(),
        email: new.email.clone(),
        phone: new.phone.clone(),
        external_lead_id: new.external_lead_id.clone(),
        parent_client_id: new.parent_client_id,
        child_client_ids: Vec::new(),
        classifications: new.classifications.clone(),
        custom_properties: new.custom_properties.clone(),
        stage: Stage::New,
        status_id,
        status_name: ctx
            .catalog
            .status(status_id)
            .map(|s| s.name.clone())
            .unwrap_or_default(),
        lead_status: new.lead_status,
        record_source: new.record_source.clone(),
        created_at: ctx.at,
        created_by: ctx.actor.to_string(),
        last_call_at: None,
        last_call_by: String::new(),
        last_call_outcome: CallOutcome::NoCallYet,
        next_call_at: None,
        next_call_by: String::new(),
        last_contact_at: None,
        first_meeting_at: None,
        last_meeting_at: None,
        first_quote_at: None,
        became_real_at: None,
        last_allocated_at: None,
        not_interested_reason: String::new(),
        frozen_message: String::new(),
        frozen_reason: String::new(),
        deleted_at: None,
        deleted_by: String::new(),
        fictitious_reason: String::new(),
        summary: Vec::new(),
        trading_account_ids: Vec::new(),
        version: 1,
        updated_at: ctx.now,
    };
    let mut details = BTreeMap::new();
    details.insert("lead_status".into(), new.lead_status.name().into());
    if !new.record_source.is_empty() {
        details.insert("record_source".into(), new.record_source.clone());
    }
    let change = Change {
        cause: "CreateClient",
        old_stage: None,
        new_stage: Stage::New,
        old_status_id: None,
        new_status_id: status_id,
        note: String::new(),
        details,
        alerts: Vec::new(),
        event: None,
    };
    Ok((client, change))
}

/// Checks the catalogue references of a new client (also when the lead turns out to match an
/// existing client, so the same request is valid or not whatever it matches) and returns the
/// status it starts in.
pub fn new_client_status(new: &NewClient, catalog: &Catalog) -> Result<i64, DomainError> {
    let mut violations = Vec::new();
    let status_id = match new.status_id {
        Some(id) => match catalog.status_of_stage("status_id", id, Stage::New) {
            Ok(status) => status.entry_id,
            Err(DomainError::InvalidArgument { violations: v, .. }) => {
                violations.extend(v);
                0
            }
            Err(e) => return Err(e),
        },
        None => catalog.default_status(Stage::New),
    };
    for (kind, field, id) in new.classifications.references() {
        if let Some(id) = id
            && catalog.get(kind, id).is_none()
        {
            violations.push(FieldViolation::new(
                field,
                format!("no {} {id}", kind.label()),
            ));
        }
    }
    if !violations.is_empty() {
        return Err(DomainError::InvalidArgument {
            reason: "INVALID_ARGUMENT",
            violations,
        });
    }
    Ok(status_id)
}

/// The portal re-sent a lead that matches this client: no new client, INTERESTED_AGAIN.
pub fn interested_again(client: &mut Client, matched_on: &str, ctx: &Ctx) -> Change {
    client.lead_status = LeadStatus::InterestedAgain;
    client.version += 1;
    client.updated_at = ctx.now;
    let mut details = BTreeMap::new();
    details.insert("matched_on".into(), matched_on.into());
    Change {
        cause: "CreateClient",
        old_stage: Some(client.stage),
        new_stage: client.stage,
        old_status_id: Some(client.status_id),
        new_status_id: client.status_id,
        note: String::new(),
        details,
        alerts: vec![AlertKind::InterestedAgain],
        event: None,
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
    let id = client.client_id;
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
    if let Some(key) = action.document() {
        match document_owner {
            Some(owner) if owner == id => return Ok(Effect::AlreadyRecorded),
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

    let old = client.stage;
    let old_status = client.status_id;
    let at = ctx.at;
    let actor = ctx.actor;
    let mut details = BTreeMap::new();
    let note: String;
    match action {
        Action::ContactAttempt {
            outcome,
            note: n,
            next_call_at,
            next_call_by,
        } => {
            if let Some(next) = next_call_at
                && *next <= at
            {
                return Err(DomainError::invalid(
                    "next_call_at",
                    "must be after occurred_at: it names a future call",
                ));
            }
            advance(client, ctx, Stage::FollowUp);
            // Only the newest attempt decides who called, how it went and what comes next;
            // a replayed older attempt still counts for the stage and the summary.
            if client.last_call_at.is_none_or(|last| at >= last) {
                client.last_call_by = actor.to_string();
                client.last_call_outcome = *outcome;
                match next_call_at {
                    Some(next) => {
                        client.next_call_at = Some(*next);
                        client.next_call_by =
                            next_call_by.clone().unwrap_or_else(|| actor.to_string());
                    }
                    None => {
                        client.next_call_at = None;
                        client.next_call_by.clear();
                    }
                }
            }
            stamp_last(&mut client.last_call_at, at);
            stamp_last(&mut client.last_contact_at, at);
            summary(client, ctx, outcome.label(), n);
            details.insert("outcome".into(), format!("{outcome:?}"));
            if let Some(next) = next_call_at {
                details.insert("next_call_at".into(), next.to_rfc3339());
            }
            note = n.clone();
        }
        Action::MessageSent { channel, note: n } => {
            advance(client, ctx, Stage::FollowUp);
            if *channel == Channel::Sms {
                summary(client, ctx, "SMS", n);
            }
            stamp_last(&mut client.last_contact_at, at);
            details.insert("channel".into(), format!("{channel:?}").to_uppercase());
            note = n.clone();
        }
        Action::ScheduleMeeting {
            meeting_at,
            note: n,
        } => {
            advance(client, ctx, Stage::FollowUp);
            details.insert("meeting_at".into(), meeting_at.to_rfc3339());
            note = n.clone();
        }
        Action::SummarizeMeeting { note: n } => {
            advance(client, ctx, Stage::FollowUpMeetingOrQuote);
            stamp_first(&mut client.first_meeting_at, at);
            stamp_last(&mut client.last_meeting_at, at);
            stamp_last(&mut client.last_contact_at, at);
            summary(client, ctx, "Meeting summary", n);
            note = n.clone();
        }
        Action::IssueQuote { note: n, .. } => {
            advance(client, ctx, Stage::FollowUpMeetingOrQuote);
            stamp_first(&mut client.first_quote_at, at);
            note = n.clone();
        }
        Action::ApproveOrder { note: n, .. }
        | Action::RecordInvoice { note: n, .. }
        | Action::OpenTradingAccount { note: n, .. } => {
            advance(client, ctx, Stage::Real);
            stamp_first(&mut client.became_real_at, at);
            if let Action::OpenTradingAccount {
                trading_account_id, ..
            } = action
            {
                client.trading_account_ids.push(trading_account_id.clone());
            }
            note = n.clone();
        }
        Action::RecordPaidService { note: n, .. } => {
            advance(client, ctx, Stage::RealClubOrContract);
            stamp_first(&mut client.became_real_at, at);
            note = n.clone();
        }
        Action::RecordExtraProperties { properties } => {
            for (key, value) in properties {
                if value.is_empty() {
                    client.custom_properties.remove(key);
                } else {
                    client.custom_properties.insert(key.clone(), value.clone());
                }
            }
            if client.custom_properties.len() > CLIENT_PROPERTIES_MAX {
                return Err(DomainError::invalid(
                    "properties",
                    format!(
                        "the client would hold {} properties; at most {CLIENT_PROPERTIES_MAX}",
                        client.custom_properties.len()
                    ),
                ));
            }
            // Only filling properties is a deal; a request that only clears some is not.
            if ctx.settings.extra_properties_mean_deal && properties.values().any(|v| !v.is_empty())
            {
                advance(client, ctx, Stage::Real);
            }
            details.insert(
                "properties".into(),
                properties.keys().cloned().collect::<Vec<_>>().join(","),
            );
            note = String::new();
        }
        Action::DeclareNotInterested {
            note: n,
            reason_status_id,
        } => {
            if client.stage >= Stage::Real {
                return Err(DomainError::precondition(
                    "NOT_INTERESTED_ONLY_BELOW_REAL",
                    id,
                    format!(
                        "client {id} is {}; only a client below REAL can be declared not interested",
                        client.stage.name()
                    ),
                ));
            }
            let reason = ctx
                .catalog
                .status_of_stage("reason_status_id", *reason_status_id, Stage::NotInterested)?
                .name
                .clone();
            set_stage(client, ctx, Stage::NotInterested);
            put_status(client, ctx, *reason_status_id);
            stamp_last(&mut client.last_contact_at, at);
            summary(client, ctx, &format!("Not interested ({reason})"), n);
            details.insert("reason".into(), reason);
            note = n.clone();
        }
        Action::DeclareFrozen {
            frozen_message,
            note: n,
            reason_status_id,
        } => {
            if !matches!(client.stage, Stage::Real | Stage::RealClubOrContract) {
                return Err(DomainError::precondition(
                    "FROZEN_ONLY_FROM_REAL",
                    id,
                    format!(
                        "client {id} is {}; only a REAL or REAL_CLUB_OR_CONTRACT client can be frozen",
                        client.stage.name()
                    ),
                ));
            }
            let reason = match reason_status_id {
                Some(sid) => Some(
                    ctx.catalog
                        .status_of_stage("reason_status_id", *sid, Stage::Frozen)?
                        .name
                        .clone(),
                ),
                None => None,
            };
            set_stage(client, ctx, Stage::Frozen);
            if let Some(sid) = reason_status_id {
                put_status(client, ctx, *sid);
            }
            client.frozen_message = frozen_message.clone();
            details.insert("frozen_message".into(), frozen_message.clone());
            if let Some(reason) = reason {
                details.insert("reason".into(), reason);
            }
            note = n.clone();
        }
        Action::DeclareFictitious {
            note: n,
            fictitious_reason,
        } => {
            if client.stage != Stage::New {
                return Err(DomainError::precondition(
                    "FICTITIOUS_ONLY_FROM_NEW",
                    id,
                    format!(
                        "client {id} is {}; only a NEW client can be declared fictitious",
                        client.stage.name()
                    ),
                ));
            }
            client.deleted_at = Some(at);
            client.deleted_by = actor.to_string();
            client.fictitious_reason = fictitious_reason.clone();
            details.insert("fictitious_reason".into(), fictitious_reason.clone());
            note = n.clone();
        }
        Action::Restore { note: n } => {
            client.deleted_at = None;
            client.deleted_by.clear();
            client.fictitious_reason.clear();
            note = n.clone();
        }
        Action::SetStatus {
            stage,
            status_id,
            reason,
        } => {
            let (stage, status) = match (stage, status_id) {
                (Some(stage), Some(sid)) => (
                    *stage,
                    Some(
                        ctx.catalog
                            .status_of_stage("status_id", *sid, *stage)?
                            .entry_id,
                    ),
                ),
                (None, Some(sid)) => {
                    let status = ctx.catalog.status(*sid).ok_or_else(|| {
                        DomainError::invalid("status_id", format!("no status {sid}"))
                    })?;
                    (status.stage.unwrap_or(client.stage), Some(*sid))
                }
                (Some(stage), None) => (*stage, None),
                (None, None) => {
                    return Err(DomainError::invalid(
                        "stage",
                        "name a stage, a status, or both",
                    ));
                }
            };
            set_stage(client, ctx, stage);
            if let Some(sid) = status {
                put_status(client, ctx, sid);
            }
            note = reason.clone();
        }
        Action::Reassign {
            new_owner,
            reset_stage,
            note: n,
        } => {
            details.insert("old_owner".into(), client.owner.clone());
            details.insert("new_owner".into(), new_owner.clone());
            details.insert("reset_stage".into(), reset_stage.to_string());
            client.owner = new_owner.clone();
            if *reset_stage {
                set_stage(client, ctx, Stage::New);
                put_status(client, ctx, ctx.catalog.default_status(Stage::New));
            }
            stamp_last(&mut client.last_allocated_at, at);
            note = n.clone();
        }
    }
    if let Some(key) = action.document() {
        details.insert("document_kind".into(), key.kind.into());
        details.insert("document_id".into(), key.id);
    }

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
        stamp_first(&mut client.became_real_at, at);
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
    Ok(Effect::Changed(Change {
        cause: action.cause(),
        old_stage: Some(old),
        new_stage: new,
        old_status_id: Some(old_status),
        new_status_id: client.status_id,
        note,
        details,
        alerts,
        event,
    }))
}

/// A catalogue entry `client` references is being deleted: the client moves to `replacement`
/// (for a status: one of the same stage), or loses the reference. Deleted clients move too, so
/// a later restore finds a status that exists.
pub fn replace_reference(
    client: &mut Client,
    entry: &Entry,
    replacement: Option<i64>,
    ctx: &Ctx,
) -> Change {
    let stage = client.stage;
    let old_status = client.status_id;
    let mut details = BTreeMap::new();
    details.insert("deleted".into(), entry.subject());
    match entry.kind {
        CatalogKind::Status => {
            if let Some(id) = replacement {
                put_status(client, ctx, id);
            }
        }
        CatalogKind::CustomerType => client.classifications.customer_type_id = replacement,
        CatalogKind::Industry => client.classifications.industry_id = replacement,
        CatalogKind::HeadcountClass => client.classifications.headcount_class_id = replacement,
        CatalogKind::StatusGroup => {}
    }
    if let Some(id) = replacement {
        details.insert(
            "replacement".into(),
            format!("{}/{id}", entry.kind.collection()),
        );
    }
    if client.status_id != old_status {
        details.insert("old_status_id".into(), old_status.to_string());
        details.insert("new_status_id".into(), client.status_id.to_string());
    }
    client.version += 1;
    client.updated_at = ctx.now;
    Change {
        cause: if entry.kind == CatalogKind::Status {
            "DeleteStatus"
        } else {
            "DeleteClassification"
        },
        old_stage: Some(stage),
        new_stage: stage,
        old_status_id: Some(old_status),
        new_status_id: client.status_id,
        note: String::new(),
        details,
        alerts: Vec::new(),
        event: (client.status_id != old_status).then_some(StatusEvent::StatusChanged),
    }
}

/// Automatic advance: the forward-only rule.
fn advance(client: &mut Client, ctx: &Ctx, floor: Stage) {
    set_stage(client, ctx, client.stage.advance(floor));
}

/// Moves to `stage`; a client leaving NOT_INTERESTED or FROZEN drops that declaration's
/// fields (its history keeps them), so a revived client shows no stale pop-up.
/// Entering another stage puts its default status.
fn set_stage(client: &mut Client, ctx: &Ctx, stage: Stage) {
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
fn put_status(client: &mut Client, ctx: &Ctx, status_id: i64) {
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

fn summary(client: &mut Client, ctx: &Ctx, kind: &str, note: &str) {
    add_entry(
        &mut client.summary,
        SummaryEntry::new(ctx.at, ctx.actor, kind, note),
    );
}
