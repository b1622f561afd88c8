//! The organisation's catalogue (seed 004): statuses under each fixed stage, status groups for
//! searching, and the classification lists clients reference. Pure rules only: the store loads
//! the entries and writes what these functions decide.
use serde::{Deserialize, Serialize};

use super::client::Timestamp;
use super::error::{DomainError, FieldViolation};
use super::stage::Stage;

/// Longest name of a catalogue entry, in characters.
pub const NAME_MAX: usize = 100;
/// Most statuses one group may hold.
pub const GROUP_STATUSES_MAX: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum CatalogKind {
    Status,
    StatusGroup,
    CustomerType,
    Industry,
    HeadcountClass,
}

impl CatalogKind {
    pub const ALL: [CatalogKind; 5] = [
        CatalogKind::Status,
        CatalogKind::StatusGroup,
        CatalogKind::CustomerType,
        CatalogKind::Industry,
        CatalogKind::HeadcountClass,
    ];

    /// Stored in the database's `kind` column.
    pub fn name(self) -> &'static str {
        match self {
            CatalogKind::Status => "STATUS",
            CatalogKind::StatusGroup => "STATUS_GROUP",
            CatalogKind::CustomerType => "CUSTOMER_TYPE",
            CatalogKind::Industry => "INDUSTRY",
            CatalogKind::HeadcountClass => "HEADCOUNT_CLASS",
        }
    }

    pub fn from_name(name: &str) -> Option<CatalogKind> {
        CatalogKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The resource collection an entry is named under in errors, e.g. `statuses/12`.
    pub fn collection(self) -> &'static str {
        match self {
            CatalogKind::Status => "statuses",
            CatalogKind::StatusGroup => "status_groups",
            CatalogKind::CustomerType => "customer_types",
            CatalogKind::Industry => "industries",
            CatalogKind::HeadcountClass => "headcount_classes",
        }
    }

    /// What people call it, for messages.
    pub fn label(self) -> &'static str {
        match self {
            CatalogKind::Status => "status",
            CatalogKind::StatusGroup => "status group",
            CatalogKind::CustomerType => "customer type",
            CatalogKind::Industry => "industry",
            CatalogKind::HeadcountClass => "headcount class",
        }
    }

    pub fn is_classification(self) -> bool {
        matches!(
            self,
            CatalogKind::CustomerType | CatalogKind::Industry | CatalogKind::HeadcountClass
        )
    }
}

/// One catalogue entry. Statuses use `stage`, `color` and the flags; groups use `status_ids`;
/// classifications only the name and order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub entry_id: i64,
    pub kind: CatalogKind,
    pub name: String,
    pub display_order: i32,
    pub stage: Option<Stage>,
    /// `#RRGGBB`, upper case.
    pub color: String,
    /// When false, IssueQuote and ApproveOrder are refused for clients in this status.
    pub selectable_for_project: bool,
    /// Exposed for purchasing systems; the service only keeps it.
    pub selectable_as_supplier: bool,
    /// Clients in an ended status are left out of searches unless asked for.
    pub ended: bool,
    /// The stage's default status: what an automatic advance puts.
    pub is_default: bool,
    pub status_ids: Vec<i64>,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Entry {
    pub fn subject(&self) -> String {
        format!("{}/{}", self.kind.collection(), self.entry_id)
    }
}

/// The built-in default status of `stage`: the migrations create them with these ids.
pub fn builtin_default_status(stage: Stage) -> i64 {
    stage.rank() + 1
}

/// NOT_INTERESTED and FROZEN statuses end the relationship unless said otherwise.
pub fn ended_by_default(stage: Stage) -> bool {
    matches!(stage, Stage::NotInterested | Stage::Frozen)
}

/// The statuses (and groups) as one transaction sees them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog {
    pub entries: Vec<Entry>,
}

impl Catalog {
    pub fn get(&self, kind: CatalogKind, id: i64) -> Option<&Entry> {
        self.entries
            .iter()
            .find(|e| e.entry_id == id && e.kind == kind)
    }

    pub fn status(&self, id: i64) -> Option<&Entry> {
        self.get(CatalogKind::Status, id)
    }

    /// The status an automatic move to `stage` puts the client in.
    pub fn default_status(&self, stage: Stage) -> i64 {
        self.entries
            .iter()
            .find(|e| e.kind == CatalogKind::Status && e.stage == Some(stage) && e.is_default)
            .map_or_else(|| builtin_default_status(stage), |e| e.entry_id)
    }

    /// `id` as a status of `stage`, or a field violation on `field` saying why not.
    pub fn status_of_stage(
        &self,
        field: &str,
        id: i64,
        stage: Stage,
    ) -> Result<&Entry, DomainError> {
        match self.status(id) {
            Some(s) if s.stage == Some(stage) => Ok(s),
            Some(s) => Err(DomainError::invalid(
                field,
                format!(
                    "status {id} ({}) belongs to stage {}, not {}",
                    s.name,
                    s.stage.map_or("?", Stage::name),
                    stage.name()
                ),
            )),
            None => Err(DomainError::invalid(field, format!("no status {id}"))),
        }
    }

    fn siblings(&self, kind: CatalogKind, stage: Option<Stage>) -> impl Iterator<Item = &Entry> {
        self.entries
            .iter()
            .filter(move |e| e.kind == kind && (kind != CatalogKind::Status || e.stage == stage))
    }
}

/// A new entry as the caller describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    pub kind: CatalogKind,
    pub name: String,
    /// Absent: after the last sibling.
    pub display_order: Option<i32>,
    pub stage: Option<Stage>,
    pub color: Option<String>,
    /// Absent: true.
    pub selectable_for_project: Option<bool>,
    pub selectable_as_supplier: bool,
    /// Absent: true for NOT_INTERESTED and FROZEN statuses, false otherwise.
    pub ended: Option<bool>,
    pub status_ids: Vec<i64>,
}

/// Changes to an entry; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Patch {
    pub name: Option<String>,
    pub display_order: Option<i32>,
    pub color: Option<String>,
    pub selectable_for_project: Option<bool>,
    pub selectable_as_supplier: Option<bool>,
    pub ended: Option<bool>,
    /// Makes this status its stage's default (the previous default stops being one).
    pub make_default: bool,
    pub status_ids: Option<Vec<i64>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatalogCommand {
    Create(Draft),
    Update {
        kind: CatalogKind,
        entry_id: i64,
        patch: Patch,
    },
    Delete {
        kind: CatalogKind,
        entry_id: i64,
        /// What happens to the clients that reference the entry.
        holders: Holders,
    },
}

/// The clients referencing an entry that is being deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holders {
    /// There must be none (the deletion is refused with their count).
    Refuse,
    /// They move to this entry (a status of the same stage, an entry of the same list) first.
    MoveTo(i64),
    /// Their reference is cleared (classifications only).
    Clear,
}

/// Most clients one deletion may move; more is refused, so one transaction stays bounded.
pub const MOVE_MAX: usize = 10_000;

impl CatalogCommand {
    pub fn kind(&self) -> CatalogKind {
        match self {
            CatalogCommand::Create(d) => d.kind,
            CatalogCommand::Update { kind, .. } | CatalogCommand::Delete { kind, .. } => *kind,
        }
    }
}

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

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    fn now() -> Timestamp {
        Utc.with_ymd_and_hms(2026, 5, 1, 8, 0, 0).unwrap()
    }

    fn status_draft(stage: Stage, name: &str) -> Draft {
        Draft {
            kind: CatalogKind::Status,
            name: name.into(),
            display_order: None,
            stage: Some(stage),
            color: None,
            selectable_for_project: None,
            selectable_as_supplier: false,
            ended: None,
            status_ids: Vec::new(),
        }
    }

    /// The built-in defaults, as the migrations create them.
    fn builtins() -> Catalog {
        let entries = Stage::ALL
            .into_iter()
            .map(|stage| {
                let mut e = create(
                    &Catalog::default(),
                    &status_draft(stage, stage.name()),
                    now(),
                )
                .unwrap();
                e.entry_id = builtin_default_status(stage);
                e.is_default = true;
                e
            })
            .collect();
        Catalog { entries }
    }

    fn add(catalog: &mut Catalog, draft: &Draft) -> Entry {
        let mut e = create(catalog, draft, now()).unwrap();
        e.entry_id = 100 + catalog.entries.len() as i64;
        catalog.entries.push(e.clone());
        e
    }

    #[test]
    fn colours_are_rrggbb_and_kept_upper_case() {
        assert_eq!(normalize_color("color", "#00ff7f").unwrap(), "#00FF7F");
        for bad in [
            "blue",
            "#12345",
            "#1234567",
            "#GGGGGG",
            "00FF7F",
            "",
            "#00ff7",
            "#٠٠٠٠٠٠",
        ] {
            assert!(normalize_color("color", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn not_interested_and_frozen_statuses_are_ended_by_default() {
        let catalog = builtins();
        for stage in Stage::ALL {
            let e = create(&catalog, &status_draft(stage, "Other"), now()).unwrap();
            assert_eq!(
                e.ended,
                matches!(stage, Stage::NotInterested | Stage::Frozen),
                "{stage:?}"
            );
            assert!(e.selectable_for_project, "selectable unless said otherwise");
            assert_eq!(e.color, default_color(stage));
        }
        let mut draft = status_draft(Stage::Frozen, "Paused");
        draft.ended = Some(false);
        assert!(!create(&catalog, &draft, now()).unwrap().ended);
    }

    #[test]
    fn names_are_unique_within_a_stage_ignoring_case() {
        let mut catalog = builtins();
        add(&mut catalog, &status_draft(Stage::NotInterested, "Price"));
        let err = create(
            &catalog,
            &status_draft(Stage::NotInterested, " price "),
            now(),
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                DomainError::AlreadyExists {
                    reason: "CATALOG_NAME_TAKEN",
                    ..
                }
            ),
            "{err:?}"
        );
        // The same name under another stage is another status.
        create(&catalog, &status_draft(Stage::Frozen, "Price"), now()).unwrap();
    }

    #[test]
    fn a_new_entry_goes_after_the_last_of_its_siblings_unless_placed() {
        let mut catalog = builtins();
        let a = add(&mut catalog, &status_draft(Stage::Real, "A"));
        assert_eq!(a.display_order, 2, "after the built-in default (order 1)");
        let mut placed = status_draft(Stage::Real, "B");
        placed.display_order = Some(10);
        add(&mut catalog, &placed);
        assert_eq!(
            add(&mut catalog, &status_draft(Stage::Real, "C")).display_order,
            11
        );
        assert_eq!(
            add(&mut catalog, &status_draft(Stage::New, "D")).display_order,
            2
        );
    }

    #[test]
    fn groups_hold_existing_statuses_once() {
        let catalog = builtins();
        let draft = Draft {
            kind: CatalogKind::StatusGroup,
            name: "Ended".into(),
            display_order: None,
            stage: None,
            color: None,
            selectable_for_project: None,
            selectable_as_supplier: false,
            ended: None,
            status_ids: vec![4, 7, 4],
        };
        let group = create(&catalog, &draft, now()).unwrap();
        assert_eq!(group.status_ids, vec![4, 7]);
        assert_eq!(group.stage, None);
        let err = create(
            &catalog,
            &Draft {
                status_ids: vec![4, 99],
                ..draft
            },
            now(),
        )
        .unwrap_err();
        match err {
            DomainError::InvalidArgument { violations, .. } => {
                assert_eq!(violations[0].field, "status_ids[1]");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn updates_change_only_what_they_name_and_count_versions() {
        let mut catalog = builtins();
        let price = add(&mut catalog, &status_draft(Stage::NotInterested, "Price"));
        let same = update(&catalog, &price, &Patch::default(), now()).unwrap();
        assert_eq!(same, price, "an empty patch is no change");
        let patch = Patch {
            color: Some("#abcdef".into()),
            selectable_for_project: Some(false),
            ..Patch::default()
        };
        let next = update(&catalog, &price, &patch, now()).unwrap();
        assert_eq!(
            (next.color.as_str(), next.selectable_for_project),
            ("#ABCDEF", false)
        );
        assert_eq!((next.name.as_str(), next.version), ("Price", 2));
        let taken = Patch {
            name: Some("not_interested".into()),
            ..Patch::default()
        };
        assert!(update(&catalog, &price, &taken, now()).is_err());
    }

    #[test]
    fn a_stage_default_or_an_entry_in_use_cannot_be_deleted() {
        let mut catalog = builtins();
        let default = catalog.status(1).unwrap().clone();
        assert!(matches!(
            check_delete(&default, 0),
            Err(DomainError::FailedPrecondition {
                reason: "STATUS_IS_STAGE_DEFAULT",
                ..
            })
        ));
        let price = add(&mut catalog, &status_draft(Stage::NotInterested, "Price"));
        match check_delete(&price, 3) {
            Err(DomainError::InUse { reason, count, .. }) => {
                assert_eq!((reason, count), ("STATUS_IN_USE", 3));
            }
            other => panic!("{other:?}"),
        }
        check_delete(&price, 0).unwrap();
    }

    #[test]
    fn the_default_status_of_a_stage_is_the_flagged_one() {
        let mut catalog = builtins();
        assert_eq!(catalog.default_status(Stage::Real), 5);
        let key = add(&mut catalog, &status_draft(Stage::Real, "Key account"));
        for e in &mut catalog.entries {
            if e.stage == Some(Stage::Real) {
                e.is_default = e.entry_id == key.entry_id;
            }
        }
        assert_eq!(catalog.default_status(Stage::Real), key.entry_id);
        assert_eq!(
            Catalog::default().default_status(Stage::Frozen),
            7,
            "built-in fallback"
        );
    }
}
