//! The organisation's catalogue: statuses under each fixed stage, status groups for
//! searching, and the classification lists clients reference. Pure rules only: the store loads
//! the entries and writes what these functions decide. The entries and commands are here; the
//! rules for one entry in `entry`, what a whole change writes in `plan`.
use serde::{Deserialize, Serialize};

use super::client::Timestamp;
use super::error::DomainError;
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

mod entry;
mod plan;
#[cfg(test)]
mod tests;

pub use entry::{
    check_delete, check_replacement, check_version, create, default_color, normalize_color, update,
};
pub use plan::{Plan, plan, users};
