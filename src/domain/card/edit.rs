//! UpdateClient's rules: what each edit changes, the history it writes (every changed field
//! with its old and new value), the no-op, the parent cycle check, the lead keys an edit takes
//! and who may edit a lead.
use std::collections::BTreeMap;

use super::super::client::Client;
use super::super::error::{DomainError, FieldViolation};
use super::super::lead::LeadKeys;
use super::super::rules::{CLIENT_PROPERTIES_MAX, Change, Ctx};
use super::{FieldEdit, LEAD_FIELDS};

/// One step up a parent chain: a client and the survivor it was merged into, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ancestor {
    pub client_id: i64,
    pub merged_into: Option<i64>,
}

/// Who created a client and what its creation recorded (its first history entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Creation {
    pub principal: String,
    pub details: BTreeMap<String, String>,
}

fn id_text(id: Option<i64>) -> String {
    id.map(|i| i.to_string()).unwrap_or_default()
}

/// Applies `edits` to `client`. `None` when nothing changes: the update is accepted and writes
/// nothing. Otherwise the history entry names each changed path (`changed`) with its old and
/// new value (`old.PATH`, `new.PATH`; an empty value is none). Changing details writes no
/// status event: nothing about the status changed.
pub fn edit(
    client: &mut Client,
    edits: &[FieldEdit],
    ctx: &Ctx,
    expected_version: Option<i64>,
) -> Result<Option<Change>, DomainError> {
    let id = client.client_id;
    if let Some(survivor) = client.merged_into {
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
    if client.is_deleted() {
        return Err(DomainError::precondition(
            "CLIENT_DELETED",
            id,
            format!("client {id} is deleted; restore it before editing it"),
        ));
    }
    check_references(edits, ctx)?;
    let mut changes: Vec<(String, String, String)> = Vec::new();
    let mut note = |path: String, old: String, new: String| {
        if old != new {
            changes.push((path, old, new));
        }
    };
    for e in edits {
        match e {
            FieldEdit::LastName(v) => {
                set(&mut client.name.last_name, v, "name.last_name", &mut note)
            }
            FieldEdit::FirstName(v) => {
                set(&mut client.name.first_name, v, "name.first_name", &mut note)
            }
            FieldEdit::MiddleName(v) => set(
                &mut client.name.middle_name,
                v,
                "name.middle_name",
                &mut note,
            ),
            FieldEdit::Branch(v) => set(&mut client.branch, v, "branch", &mut note),
            FieldEdit::Email(v) => set(&mut client.email, v, "email", &mut note),
            FieldEdit::Phone(v) => set(&mut client.phone, v, "phone", &mut note),
            FieldEdit::ExternalLeadId(v) => set(
                &mut client.external_lead_id,
                v,
                "external_lead_id",
                &mut note,
            ),
            FieldEdit::Parent(v) => set_id(
                &mut client.parent_client_id,
                *v,
                "parent_client_id",
                &mut note,
            ),
            FieldEdit::CustomerType(v) => set_id(
                &mut client.classifications.customer_type_id,
                *v,
                "classifications.customer_type_id",
                &mut note,
            ),
            FieldEdit::Industry(v) => set_id(
                &mut client.classifications.industry_id,
                *v,
                "classifications.industry_id",
                &mut note,
            ),
            FieldEdit::HeadcountClass(v) => set_id(
                &mut client.classifications.headcount_class_id,
                *v,
                "classifications.headcount_class_id",
                &mut note,
            ),
            FieldEdit::Properties(map) => {
                let old = std::mem::replace(&mut client.custom_properties, map.clone());
                let keys: std::collections::BTreeSet<&String> =
                    old.keys().chain(map.keys()).collect();
                for key in keys {
                    note(
                        format!("custom_properties.{key}"),
                        old.get(key).cloned().unwrap_or_default(),
                        map.get(key).cloned().unwrap_or_default(),
                    );
                }
            }
            FieldEdit::Property(key, value) => {
                let old = match value {
                    Some(v) => client.custom_properties.insert(key.clone(), v.clone()),
                    None => client.custom_properties.remove(key),
                };
                note(
                    format!("custom_properties.{key}"),
                    old.unwrap_or_default(),
                    value.clone().unwrap_or_default(),
                );
            }
        }
    }
    if client.custom_properties.len() > CLIENT_PROPERTIES_MAX {
        return Err(DomainError::invalid(
            "client.custom_properties",
            format!(
                "would give the client {} properties; at most {CLIENT_PROPERTIES_MAX} are allowed",
                client.custom_properties.len()
            ),
        ));
    }
    if changes.is_empty() {
        return Ok(None);
    }
    let mut details = BTreeMap::new();
    let changed: Vec<&str> = changes.iter().map(|(p, _, _)| p.as_str()).collect();
    details.insert("changed".to_string(), changed.join(","));
    for (path, old, new) in &changes {
        details.insert(format!("old.{path}"), old.clone());
        details.insert(format!("new.{path}"), new.clone());
    }
    client.version += 1;
    client.updated_at = ctx.now;
    Ok(Some(Change {
        cause: "UpdateClient",
        old_stage: Some(client.stage),
        new_stage: client.stage,
        old_status_id: Some(client.status_id),
        new_status_id: client.status_id,
        note: String::new(),
        details,
        alerts: Vec::new(),
        event: None,
    }))
}

fn set(field: &mut String, value: &str, path: &str, note: &mut impl FnMut(String, String, String)) {
    let old = std::mem::replace(field, value.to_string());
    note(path.to_string(), old, value.to_string());
}

fn set_id(
    field: &mut Option<i64>,
    value: Option<i64>,
    path: &str,
    note: &mut impl FnMut(String, String, String),
) {
    let old = std::mem::replace(field, value);
    note(path.to_string(), id_text(old), id_text(value));
}

/// Classifications must name entries of their catalogues.
fn check_references(edits: &[FieldEdit], ctx: &Ctx) -> Result<(), DomainError> {
    use super::super::catalog::CatalogKind;
    let mut violations = Vec::new();
    for e in edits {
        let (kind, field, id) = match e {
            FieldEdit::CustomerType(Some(id)) => (
                CatalogKind::CustomerType,
                "client.classifications.customer_type_id",
                *id,
            ),
            FieldEdit::Industry(Some(id)) => (
                CatalogKind::Industry,
                "client.classifications.industry_id",
                *id,
            ),
            FieldEdit::HeadcountClass(Some(id)) => (
                CatalogKind::HeadcountClass,
                "client.classifications.headcount_class_id",
                *id,
            ),
            _ => continue,
        };
        if ctx.catalog.get(kind, id).is_none() {
            violations.push(FieldViolation::new(
                field,
                format!("no {} {id}", kind.label()),
            ));
        }
    }
    if violations.is_empty() {
        Ok(())
    } else {
        Err(DomainError::InvalidArgument {
            reason: "UNKNOWN_REFERENCE",
            violations,
        })
    }
}

/// A new parent must exist, not be merged, and not be the client or one of its descendants:
/// `chain` is the parent and its ancestors, nearest first (empty: no such client).
pub fn check_parent(client_id: i64, parent: i64, chain: &[Ancestor]) -> Result<(), DomainError> {
    let Some(first) = chain.first() else {
        return Err(DomainError::invalid(
            "client.parent_client_id",
            format!("no client {parent}"),
        ));
    };
    if let Some(survivor) = first.merged_into {
        return Err(DomainError::merged(parent, survivor));
    }
    if chain.iter().any(|a| a.client_id == client_id) {
        return Err(DomainError::precondition(
            "PARENT_CYCLE",
            client_id,
            format!(
                "client {parent} is client {client_id} or one of its descendants; a client \
                 cannot be its own ancestor"
            ),
        ));
    }
    Ok(())
}

/// The lead keys `after` holds that `before` did not: each must not be another active
/// client's (a new lead would match two clients).
pub fn changed_keys(before: &Client, after: &Client) -> Vec<(&'static str, String)> {
    let old: LeadKeys = before.lead_keys();
    let new = after.lead_keys();
    old.candidates()
        .into_iter()
        .zip(new.candidates())
        .filter_map(|((_, o), (name, n))| match n {
            Some(n) if o != Some(n) => Some((name, n.to_string())),
            _ => None,
        })
        .collect()
}

/// The refusal of an edit that would give `client_id` a key `holder` has.
pub fn key_taken(client_id: i64, key: &str, holder: i64) -> DomainError {
    let what = key.replace('_', " ");
    DomainError::because_of(
        "LEAD_KEY_TAKEN",
        "other_client_id",
        holder,
        format!(
            "client {holder} already has this {what}; merge client {client_id} and client \
             {holder} instead"
        ),
    )
}

/// The portal may edit a lead it created, and only the details that lead carried.
pub fn check_lead_source(
    client_id: i64,
    principal: &str,
    creation: Option<&Creation>,
    edits: &[FieldEdit],
) -> Result<(), DomainError> {
    let denied = |description: String| DomainError::PermissionDenied {
        reason: "NOT_THE_LEAD_SOURCE",
        description,
    };
    let Some(creation) = creation.filter(|c| c.principal == principal) else {
        return Err(denied(format!(
            "{principal} did not create client {client_id}; only an agent or a manager may edit it"
        )));
    };
    let sent: Vec<&str> = creation
        .details
        .get(LEAD_FIELDS)
        .map(|f| f.split(',').collect())
        .unwrap_or_default();
    if let Some(e) = edits.iter().find(|e| !sent.contains(&e.field())) {
        return Err(denied(format!(
            "the lead of client {client_id} did not carry {}; only an agent or a manager may \
             set it",
            e.field()
        )));
    }
    Ok(())
}
