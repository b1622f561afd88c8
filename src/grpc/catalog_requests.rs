//! StatusCatalogService's mutating requests -> catalogue commands, one `TryFrom` per request.
//! The catalogue's rules (names taken, defaults, members) are `domain::catalog`'s.
use crate::domain::catalog::{Draft, GROUP_STATUSES_MAX, NAME_MAX, Patch, normalize_color};
use crate::domain::{CatalogCommand, CatalogKind, Command, DomainError, Holders};
use crate::proto as pb;

use super::enums::{CLASSIFICATION_KINDS, STAGES, choice};
use super::requests::{Envelope, MutationRequest};
use super::validate::{self, Need, entry_id, ids, line, optional_id};
use super::violations::{All, Violations, reason};

/// Longer than any way of writing `#RRGGBB`: refused before the colour is looked at.
const COLOR_MAX: usize = 16;

/// Wires a catalogue request to its `CatalogCommand` parser; `expected_version` names the
/// field of requests that change an existing entry.
macro_rules! catalog_request {
    ($($t:ty => $method:literal $(, $version:ident)?;)*) => {$(
        impl MutationRequest for $t {
            const METHOD: &'static str = $method;
            fn envelope(&self) -> Envelope<'_> {
                Envelope {
                    request_id: &self.request_id,
                    occurred_at: None,
                    actor: "",
                    expected_version: catalog_request!(@version self $(, $version)?),
                }
            }
            fn command(&self) -> Result<Command, Violations> {
                CatalogCommand::try_from(self).map(Command::Catalog)
            }
        }
    )*};
    (@version $r:ident) => { None };
    (@version $r:ident, $field:ident) => { $r.$field };
}

catalog_request! {
    pb::CreateStatusRequest => "CreateStatus";
    pb::UpdateStatusRequest => "UpdateStatus", expected_version;
    pb::DeleteStatusRequest => "DeleteStatus", expected_version;
    pb::CreateStatusGroupRequest => "CreateStatusGroup";
    pb::UpdateStatusGroupRequest => "UpdateStatusGroup", expected_version;
    pb::DeleteStatusGroupRequest => "DeleteStatusGroup", expected_version;
    pb::CreateClassificationRequest => "CreateClassification";
    pb::UpdateClassificationRequest => "UpdateClassification", expected_version;
    pb::DeleteClassificationRequest => "DeleteClassification", expected_version;
}

fn name(value: &str) -> Result<String, Violations> {
    line("name", value, NAME_MAX, Need::Required)
}

fn optional_name(value: Option<&String>) -> Result<Option<String>, Violations> {
    value.map(|v| name(v)).transpose()
}

fn display_order(value: Option<i32>) -> Result<Option<i32>, Violations> {
    match value {
        Some(v) if v < 0 => Err(Violations::one(
            "display_order",
            reason::VALUE_OUT_OF_RANGE,
            "must be 0 or more",
        )),
        v => Ok(v),
    }
}

/// `#RRGGBB`, as the domain normalises it; its wording explains a refusal.
fn color(value: &str) -> Result<String, Violations> {
    let len = value.chars().count();
    if len > COLOR_MAX {
        return Err(Violations::one(
            "color",
            reason::FIELD_TOO_LONG,
            format!("is {len} characters long; a colour is #RRGGBB, e.g. #0000FF for blue"),
        ));
    }
    normalize_color("color", value).map_err(|e| match e {
        DomainError::InvalidArgument { violations, .. } => {
            let mut v = Violations::default();
            for f in violations {
                v.push(f.field, reason::INVALID_FORMAT, f.description);
            }
            v
        }
        other => Violations::one("color", reason::INVALID_FORMAT, other.to_string()),
    })
}

impl TryFrom<&pb::CreateStatusRequest> for CatalogCommand {
    type Error = Violations;
    fn try_from(r: &pb::CreateStatusRequest) -> Result<Self, Violations> {
        let (stage, name, display_order, color) = (
            choice("stage", r.stage, &STAGES),
            name(&r.name),
            display_order(r.display_order),
            (!r.color.is_empty()).then(|| color(&r.color)).transpose(),
        )
            .all()?;
        Ok(CatalogCommand::Create(Draft {
            kind: CatalogKind::Status,
            name,
            display_order,
            stage: Some(stage),
            color,
            selectable_for_project: r.selectable_for_project,
            selectable_as_supplier: r.selectable_as_supplier,
            ended: r.ended,
            status_ids: Vec::new(),
        }))
    }
}

impl TryFrom<&pb::UpdateStatusRequest> for CatalogCommand {
    type Error = Violations;
    fn try_from(r: &pb::UpdateStatusRequest) -> Result<Self, Violations> {
        let (entry_id, name, display_order, color) = (
            entry_id("status_id", r.status_id),
            optional_name(r.name.as_ref()),
            display_order(r.display_order),
            r.color.as_deref().map(color).transpose(),
        )
            .all()?;
        Ok(CatalogCommand::Update {
            kind: CatalogKind::Status,
            entry_id,
            patch: Patch {
                name,
                display_order,
                color,
                selectable_for_project: r.selectable_for_project,
                selectable_as_supplier: r.selectable_as_supplier,
                ended: r.ended,
                make_default: r.make_default,
                status_ids: None,
            },
        })
    }
}

impl TryFrom<&pb::DeleteStatusRequest> for CatalogCommand {
    type Error = Violations;
    fn try_from(r: &pb::DeleteStatusRequest) -> Result<Self, Violations> {
        let (entry_id, replacement) = (
            entry_id("status_id", r.status_id),
            optional_id("replacement_status_id", r.replacement_status_id),
        )
            .all()?;
        Ok(CatalogCommand::Delete {
            kind: CatalogKind::Status,
            entry_id,
            holders: replacement.map_or(Holders::Refuse, Holders::MoveTo),
        })
    }
}

impl TryFrom<&pb::CreateStatusGroupRequest> for CatalogCommand {
    type Error = Violations;
    fn try_from(r: &pb::CreateStatusGroupRequest) -> Result<Self, Violations> {
        let (name, display_order, status_ids) = (
            name(&r.name),
            display_order(r.display_order),
            ids("status_ids", &r.status_ids, GROUP_STATUSES_MAX),
        )
            .all()?;
        Ok(CatalogCommand::Create(Draft {
            kind: CatalogKind::StatusGroup,
            name,
            display_order,
            stage: None,
            color: None,
            selectable_for_project: None,
            selectable_as_supplier: false,
            ended: None,
            status_ids,
        }))
    }
}

impl TryFrom<&pb::UpdateStatusGroupRequest> for CatalogCommand {
    type Error = Violations;
    fn try_from(r: &pb::UpdateStatusGroupRequest) -> Result<Self, Violations> {
        let (entry_id, name, display_order, status_ids) = (
            entry_id("status_group_id", r.status_group_id),
            optional_name(r.name.as_ref()),
            display_order(r.display_order),
            r.status_ids
                .as_ref()
                .map(|s| ids("status_ids.ids", &s.ids, GROUP_STATUSES_MAX))
                .transpose(),
        )
            .all()?;
        Ok(CatalogCommand::Update {
            kind: CatalogKind::StatusGroup,
            entry_id,
            patch: Patch {
                name,
                display_order,
                status_ids,
                ..Patch::default()
            },
        })
    }
}

impl TryFrom<&pb::DeleteStatusGroupRequest> for CatalogCommand {
    type Error = Violations;
    fn try_from(r: &pb::DeleteStatusGroupRequest) -> Result<Self, Violations> {
        Ok(CatalogCommand::Delete {
            kind: CatalogKind::StatusGroup,
            entry_id: entry_id("status_group_id", r.status_group_id)?,
            holders: Holders::Refuse,
        })
    }
}

impl TryFrom<&pb::CreateClassificationRequest> for CatalogCommand {
    type Error = Violations;
    fn try_from(r: &pb::CreateClassificationRequest) -> Result<Self, Violations> {
        let (kind, name, display_order) = (
            choice("kind", r.kind, &CLASSIFICATION_KINDS),
            name(&r.name),
            display_order(r.display_order),
        )
            .all()?;
        Ok(CatalogCommand::Create(Draft {
            kind,
            name,
            display_order,
            stage: None,
            color: None,
            selectable_for_project: None,
            selectable_as_supplier: false,
            ended: None,
            status_ids: Vec::new(),
        }))
    }
}

// Classification ids are unique across the three lists, so an update or delete names only
// the id, and `kind` is any classification kind: the store finds the entry's own list.
impl TryFrom<&pb::UpdateClassificationRequest> for CatalogCommand {
    type Error = Violations;
    fn try_from(r: &pb::UpdateClassificationRequest) -> Result<Self, Violations> {
        let (entry_id, name, display_order) = (
            entry_id("classification_id", r.classification_id),
            optional_name(r.name.as_ref()),
            display_order(r.display_order),
        )
            .all()?;
        Ok(CatalogCommand::Update {
            kind: CatalogKind::CustomerType,
            entry_id,
            patch: Patch {
                name,
                display_order,
                ..Patch::default()
            },
        })
    }
}

/// What happens to the clients of a deleted classification: moved, cleared, or (neither
/// asked) the deletion is refused while it has clients.
fn classification_holders(r: &pb::DeleteClassificationRequest) -> Result<Holders, Violations> {
    let replacement = optional_id(
        "replacement_classification_id",
        r.replacement_classification_id,
    )?;
    match (replacement, r.clear_references) {
        (Some(_), true) => Err(Violations::one(
            "clear_references",
            reason::CONFLICTING_FIELDS,
            "contradicts replacement_classification_id; give one or the other",
        )),
        (Some(id), false) => Ok(Holders::MoveTo(id)),
        (None, true) => Ok(Holders::Clear),
        (None, false) => Ok(Holders::Refuse),
    }
}

impl TryFrom<&pb::DeleteClassificationRequest> for CatalogCommand {
    type Error = Violations;
    fn try_from(r: &pb::DeleteClassificationRequest) -> Result<Self, Violations> {
        let (entry_id, holders) = (
            validate::entry_id("classification_id", r.classification_id),
            classification_holders(r),
        )
            .all()?;
        Ok(CatalogCommand::Delete {
            kind: CatalogKind::CustomerType,
            entry_id,
            holders,
        })
    }
}
