//! The manual declarations and overrides: not interested, frozen, fictitious (a soft delete)
//! and restore, the manager's SetStatus, and Reassign. Each sets the stage directly, with its
//! preconditions (a violated one is FAILED_PRECONDITION naming the rule).
use std::collections::BTreeMap;

use super::super::client::{Client, stamp_last};
use super::super::error::DomainError;
use super::super::stage::Stage;
use super::{Ctx, put_status, set_stage, summary};

/// DeclareNotInterested: from any stage below REAL, with a NOT_INTERESTED status as reason.
pub(super) fn not_interested(
    client: &mut Client,
    ctx: &Ctx,
    reason_status_id: i64,
    note: &str,
    details: &mut BTreeMap<String, String>,
) -> Result<String, DomainError> {
    let id = client.client_id;
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
        .status_of_stage("reason_status_id", reason_status_id, Stage::NotInterested)?
        .name
        .clone();
    set_stage(client, ctx, Stage::NotInterested);
    put_status(client, ctx, reason_status_id);
    stamp_last(&mut client.last_contact_at, ctx.at);
    summary(client, ctx, &format!("Not interested ({reason})"), note);
    details.insert("reason".into(), reason);
    Ok(note.to_string())
}

/// DeclareFrozen: from REAL or REAL_CLUB_OR_CONTRACT, with the pop-up message and an optional
/// FROZEN status as reason.
pub(super) fn frozen(
    client: &mut Client,
    ctx: &Ctx,
    frozen_message: &str,
    reason_status_id: Option<i64>,
    note: &str,
    details: &mut BTreeMap<String, String>,
) -> Result<String, DomainError> {
    let id = client.client_id;
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
                .status_of_stage("reason_status_id", sid, Stage::Frozen)?
                .name
                .clone(),
        ),
        None => None,
    };
    set_stage(client, ctx, Stage::Frozen);
    if let Some(sid) = reason_status_id {
        put_status(client, ctx, sid);
    }
    client.frozen_message = frozen_message.to_string();
    details.insert("frozen_message".into(), frozen_message.to_string());
    if let Some(reason) = reason {
        details.insert("reason".into(), reason);
    }
    Ok(note.to_string())
}

/// DeclareFictitious: from NEW only; the client leaves the active set, its data kept.
pub(super) fn fictitious(
    client: &mut Client,
    ctx: &Ctx,
    fictitious_reason: &str,
    note: &str,
    details: &mut BTreeMap<String, String>,
) -> Result<String, DomainError> {
    let id = client.client_id;
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
    client.deleted_at = Some(ctx.at);
    client.deleted_by = ctx.actor.to_string();
    client.fictitious_reason = fictitious_reason.to_string();
    details.insert("fictitious_reason".into(), fictitious_reason.to_string());
    Ok(note.to_string())
}

/// RestoreClient: back in the active set with the stage it had.
pub(super) fn restore(client: &mut Client, note: &str) -> String {
    client.deleted_at = None;
    client.deleted_by.clear();
    client.fictitious_reason.clear();
    note.to_string()
}

/// SetStatus: the manager's one general override. A stage (its default status unless a status
/// of it is named), or a status (its stage follows).
pub(super) fn set_status(
    client: &mut Client,
    ctx: &Ctx,
    stage: Option<Stage>,
    status_id: Option<i64>,
    reason: &str,
) -> Result<String, DomainError> {
    let (stage, status) = match (stage, status_id) {
        (Some(stage), Some(sid)) => (
            stage,
            Some(
                ctx.catalog
                    .status_of_stage("status_id", sid, stage)?
                    .entry_id,
            ),
        ),
        (None, Some(sid)) => {
            let status = ctx
                .catalog
                .status(sid)
                .ok_or_else(|| DomainError::invalid("status_id", format!("no status {sid}")))?;
            (status.stage.unwrap_or(client.stage), Some(sid))
        }
        (Some(stage), None) => (stage, None),
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
    Ok(reason.to_string())
}

/// Reassign (the allocation wizard): a new owner, back to NEW unless told not to; the
/// allocation is stamped.
pub(super) fn reassign(
    client: &mut Client,
    ctx: &Ctx,
    new_owner: &str,
    reset_stage: bool,
    note: &str,
    details: &mut BTreeMap<String, String>,
) -> String {
    details.insert("old_owner".into(), client.owner.clone());
    details.insert("new_owner".into(), new_owner.to_string());
    details.insert("reset_stage".into(), reset_stage.to_string());
    client.owner = new_owner.to_string();
    if reset_stage {
        set_stage(client, ctx, Stage::New);
        put_status(client, ctx, ctx.catalog.default_status(Stage::New));
    }
    stamp_last(&mut client.last_allocated_at, ctx.at);
    note.to_string()
}
