//! What a whole catalogue change writes: the entry, the default it demotes, the groups that
//! lose a deleted status, and whether the deleted entry's clients move first.
use super::super::client::Timestamp;
use super::super::error::DomainError;
use super::{
    Catalog, CatalogCommand, CatalogKind, Entry, Holders, check_replacement, check_version, create,
    update,
};

/// What a catalogue change writes. The store persists it as decided: it checks nothing here
/// but what only the database knows (how many clients use an entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    Create(Entry),
    Update {
        /// The entry as changed (unchanged when the patch changed nothing).
        entry: Entry,
        /// Every row to write, each with the version it must still be at: the entry (if it
        /// changed) and the stage's previous default it demotes.
        writes: Vec<(Entry, i64)>,
    },
    Delete {
        entry: Entry,
        /// `Some`: the entry's clients move to this entry (`Some(None)`: lose the reference).
        move_holders: Option<Option<i64>>,
        /// The groups that lose the deleted status, each with its previous version.
        prune_groups: Vec<(Entry, i64)>,
    },
}

/// The entry `id` names for a change of `kind`, at the expected version. Classification ids are
/// unique across the three lists, so an update or delete naming only the id finds it in
/// whichever list holds it.
fn existing(
    catalog: &Catalog,
    kind: CatalogKind,
    id: i64,
    expected_version: Option<i64>,
) -> Result<Entry, DomainError> {
    let entry = catalog
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
        })?;
    check_version(&entry, expected_version)?;
    Ok(entry)
}

/// Decides a catalogue change against the whole catalogue.
pub fn plan(
    catalog: &Catalog,
    command: &CatalogCommand,
    expected_version: Option<i64>,
    now: Timestamp,
) -> Result<Plan, DomainError> {
    match command {
        CatalogCommand::Create(draft) => Ok(Plan::Create(create(catalog, draft, now)?)),
        CatalogCommand::Update {
            kind,
            entry_id,
            patch,
        } => {
            let entry = existing(catalog, *kind, *entry_id, expected_version)?;
            let next = update(catalog, &entry, patch, now)?;
            let mut writes = Vec::new();
            // One default per stage: the one this replaces stops being it.
            if next.is_default && !entry.is_default {
                let previous = catalog.entries.iter().find(|e| {
                    e.kind == CatalogKind::Status && e.stage == entry.stage && e.is_default
                });
                if let Some(previous) = previous {
                    let mut demoted = previous.clone();
                    demoted.is_default = false;
                    demoted.version += 1;
                    demoted.updated_at = now;
                    writes.push((demoted, previous.version));
                }
            }
            if next != entry {
                writes.push((next.clone(), entry.version));
            }
            Ok(Plan::Update {
                entry: next,
                writes,
            })
        }
        CatalogCommand::Delete {
            kind,
            entry_id,
            holders,
        } => {
            let entry = existing(catalog, *kind, *entry_id, expected_version)?;
            let move_holders = match holders {
                Holders::Refuse => None,
                Holders::MoveTo(target) => {
                    let field = if entry.kind == CatalogKind::Status {
                        "replacement_status_id"
                    } else {
                        "replacement_classification_id"
                    };
                    let found = catalog.entries.iter().find(|e| e.entry_id == *target);
                    check_replacement(&entry, found, field, *target)?;
                    Some(Some(*target))
                }
                Holders::Clear => Some(None),
            };
            // A group holds no clients: only statuses move.
            let move_holders = move_holders.filter(|_| entry.kind != CatalogKind::StatusGroup);
            let prune_groups = if entry.kind == CatalogKind::Status {
                catalog
                    .entries
                    .iter()
                    .filter(|g| {
                        g.kind == CatalogKind::StatusGroup && g.status_ids.contains(entry_id)
                    })
                    .map(|group| {
                        let mut next = group.clone();
                        next.status_ids.retain(|id| id != entry_id);
                        next.version += 1;
                        next.updated_at = now;
                        (next, group.version)
                    })
                    .collect()
            } else {
                Vec::new()
            };
            Ok(Plan::Delete {
                entry,
                move_holders,
                prune_groups,
            })
        }
    }
}

/// How many things keep `entry` from being deleted, given how many clients reference it: a
/// group is in use while it holds statuses.
pub fn users(entry: &Entry, clients: i64) -> i64 {
    match entry.kind {
        CatalogKind::StatusGroup => entry.status_ids.len() as i64,
        _ => clients,
    }
}
