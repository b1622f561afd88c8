//! The rules for one entry: its name, colour and members, and when it may be deleted.
use super::super::client::Timestamp;
use super::super::error::{DomainError, FieldViolation};
use super::super::stage::Stage;
use super::{Catalog, CatalogKind, Draft, Entry, Patch, ended_by_default};

/// `#RRGGBB` (any case) -> upper case; anything else is refused.
pub fn normalize_color(field: &str, color: &str) -> Result<String, DomainError> {
    let hex = color.strip_prefix('#').unwrap_or("");
    if hex.len() == 6 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(format!("#{}", hex.to_ascii_uppercase()))
    } else {
        Err(DomainError::invalid(
            field,
            format!("{color:?} is not a colour: use #RRGGBB, e.g. #0000FF for blue"),
        ))
    }
}

/// The colour a new status gets when none is given.
pub fn default_color(stage: Stage) -> &'static str {
    match stage {
        Stage::New => "#1E88E5",
        Stage::FollowUp => "#FDD835",
        Stage::FollowUpMeetingOrQuote => "#FB8C00",
        Stage::NotInterested => "#9E9E9E",
        Stage::Real => "#43A047",
        Stage::RealClubOrContract => "#00897B",
        Stage::Frozen => "#546E7A",
    }
}

/// Two names are the same when they differ only in case or surrounding space.
fn same_name(a: &str, b: &str) -> bool {
    a.trim().to_lowercase() == b.trim().to_lowercase()
}

fn check_name_free(
    catalog: &Catalog,
    kind: CatalogKind,
    stage: Option<Stage>,
    name: &str,
    except: Option<i64>,
) -> Result<(), DomainError> {
    if let Some(other) = catalog
        .siblings(kind, stage)
        .find(|e| Some(e.entry_id) != except && same_name(&e.name, name))
    {
        let place = match stage {
            Some(stage) if kind == CatalogKind::Status => format!(" in stage {}", stage.name()),
            _ => String::new(),
        };
        return Err(DomainError::AlreadyExists {
            reason: "CATALOG_NAME_TAKEN",
            subject: other.subject(),
            description: format!(
                "a {} named {:?} already exists{place} ({})",
                kind.label(),
                other.name,
                other.subject()
            ),
        });
    }
    Ok(())
}

fn check_group_members(
    catalog: &Catalog,
    field: &str,
    ids: &[i64],
) -> Result<Vec<i64>, DomainError> {
    let mut violations = Vec::new();
    let mut members = Vec::with_capacity(ids.len());
    for (i, &id) in ids.iter().enumerate() {
        if catalog.status(id).is_none() {
            violations.push(FieldViolation::new(
                format!("{field}[{i}]"),
                format!("no status {id}"),
            ));
        } else if !members.contains(&id) {
            members.push(id);
        }
    }
    if !violations.is_empty() {
        return Err(DomainError::InvalidArgument {
            reason: "INVALID_ARGUMENT",
            violations,
        });
    }
    Ok(members)
}

/// The entry `draft` describes, checked against the catalogue (`entry_id` is 0 until stored).
pub fn create(catalog: &Catalog, draft: &Draft, now: Timestamp) -> Result<Entry, DomainError> {
    let kind = draft.kind;
    let stage = if kind == CatalogKind::Status {
        Some(
            draft
                .stage
                .ok_or_else(|| DomainError::invalid("stage", "is required"))?,
        )
    } else {
        None
    };
    check_name_free(catalog, kind, stage, &draft.name, None)?;
    let display_order = draft.display_order.unwrap_or_else(|| {
        catalog
            .siblings(kind, stage)
            .map(|e| e.display_order)
            .max()
            .map_or(1, |m| m.saturating_add(1))
    });
    let color = match (&draft.color, stage) {
        (Some(c), _) => normalize_color("color", c)?,
        (None, Some(stage)) => default_color(stage).to_string(),
        (None, None) => String::new(),
    };
    let status_ids = if kind == CatalogKind::StatusGroup {
        check_group_members(catalog, "status_ids", &draft.status_ids)?
    } else {
        Vec::new()
    };
    let is_status = kind == CatalogKind::Status;
    Ok(Entry {
        entry_id: 0,
        kind,
        name: draft.name.trim().to_string(),
        display_order,
        stage,
        color,
        selectable_for_project: is_status && draft.selectable_for_project.unwrap_or(true),
        selectable_as_supplier: is_status && draft.selectable_as_supplier,
        ended: is_status
            && draft
                .ended
                .unwrap_or_else(|| stage.is_some_and(ended_by_default)),
        is_default: false,
        status_ids,
        version: 1,
        created_at: now,
        updated_at: now,
    })
}

/// `entry` with `patch` applied; the caller also clears the old default when `make_default`.
pub fn update(
    catalog: &Catalog,
    entry: &Entry,
    patch: &Patch,
    now: Timestamp,
) -> Result<Entry, DomainError> {
    let mut next = entry.clone();
    if let Some(name) = &patch.name {
        check_name_free(catalog, entry.kind, entry.stage, name, Some(entry.entry_id))?;
        next.name = name.trim().to_string();
    }
    if let Some(order) = patch.display_order {
        next.display_order = order;
    }
    if entry.kind == CatalogKind::Status {
        if let Some(color) = &patch.color {
            next.color = normalize_color("color", color)?;
        }
        if let Some(v) = patch.selectable_for_project {
            next.selectable_for_project = v;
        }
        if let Some(v) = patch.selectable_as_supplier {
            next.selectable_as_supplier = v;
        }
        if let Some(v) = patch.ended {
            next.ended = v;
        }
        if patch.make_default {
            next.is_default = true;
        }
    }
    if entry.kind == CatalogKind::StatusGroup
        && let Some(ids) = &patch.status_ids
    {
        next.status_ids = check_group_members(catalog, "status_ids.ids", ids)?;
    }
    if next != *entry {
        next.version += 1;
        next.updated_at = now;
    }
    Ok(next)
}

/// Whether `entry` may be deleted, given how many clients (for a group: statuses) use it.
pub fn check_delete(entry: &Entry, in_use: i64) -> Result<(), DomainError> {
    if entry.is_default {
        return Err(DomainError::FailedPrecondition {
            reason: "STATUS_IS_STAGE_DEFAULT",
            subject: entry.subject(),
            description: format!(
                "status {:?} is the default of stage {}; make another status the default first",
                entry.name,
                entry.stage.map_or("?", Stage::name)
            ),
        });
    }
    if in_use > 0 {
        let (reason, users) = match entry.kind {
            CatalogKind::StatusGroup => ("STATUS_GROUP_NOT_EMPTY", "statuses"),
            CatalogKind::Status => ("STATUS_IN_USE", "clients"),
            _ => ("CLASSIFICATION_IN_USE", "clients"),
        };
        let hint = if entry.kind == CatalogKind::StatusGroup {
            "remove its statuses first"
        } else {
            "move them elsewhere first"
        };
        return Err(DomainError::InUse {
            reason,
            subject: entry.subject(),
            description: format!(
                "{} {:?} is used by {in_use} {users}; {hint}",
                entry.kind.label(),
                entry.name
            ),
            count: in_use,
        });
    }
    Ok(())
}

/// Whether `target` may take over the clients of `entry`: a status of the same stage, or an
/// entry of the same classification list, and not `entry` itself.
pub fn check_replacement(
    entry: &Entry,
    target: Option<&Entry>,
    field: &str,
    id: i64,
) -> Result<(), DomainError> {
    let fits = match target {
        Some(t) if t.entry_id == entry.entry_id => {
            Err(format!("is the {} being deleted", entry.kind.label()))
        }
        Some(t) if t.kind == entry.kind && t.stage == entry.stage => Ok(()),
        Some(t) if entry.kind == CatalogKind::Status => Err(format!(
            "status {id} belongs to stage {}, not {}",
            t.stage.map_or("?", Stage::name),
            entry.stage.map_or("?", Stage::name)
        )),
        Some(_) | None => Err(format!("no {} {id}", entry.kind.label())),
    };
    fits.map_err(|description| DomainError::invalid(field, description))
}

/// Expected-version check for catalogue entries.
pub fn check_version(entry: &Entry, expected: Option<i64>) -> Result<(), DomainError> {
    match expected {
        Some(expected) if expected != entry.version => Err(DomainError::VersionMismatch {
            subject: entry.subject(),
            expected,
            actual: entry.version,
        }),
        _ => Ok(()),
    }
}
