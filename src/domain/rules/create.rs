//! A new client, and a lead that turns out to be an existing one.
use std::collections::BTreeMap;

use super::super::alerts::AlertKind;
use super::super::catalog::Catalog;
use super::super::client::{CallOutcome, Client, LeadStatus};
use super::super::command::NewClient;
use super::super::error::{DomainError, FieldViolation};
use super::super::stage::Stage;
use super::super::timeline::Timeline;
use super::{Change, Ctx};

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
        merged_into: None,
        merged_at: None,
        erased_at: None,
        erased_by: String::new(),
        timeline: Timeline::start(Stage::New, ctx.at),
    };
    let mut details = BTreeMap::new();
    details.insert("lead_status".into(), new.lead_status.name().into());
    if !new.record_source.is_empty() {
        details.insert("record_source".into(), new.record_source.clone());
    }
    // Which details the lead carried: the portal may later correct those (UpdateClient).
    details.insert(
        crate::domain::card::LEAD_FIELDS.into(),
        crate::domain::card::lead_fields(new),
    );
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
