//! The client card over time (docs/card.md): the details UpdateClient may change and the
//! words of its update mask (AIP-134), the commands of editing, merging and erasing a card.
//! The rules are in `edit` here, and in `domain::merge` and `domain::erase`.
use std::collections::BTreeMap;

use super::command::NewClient;

mod edit;
#[cfg(test)]
pub(crate) mod tests;

pub use edit::{
    Ancestor, Creation, changed_keys, check_lead_source, check_parent, edit, key_taken,
};

/// The CreateClient history detail naming the details a lead carried (see [`lead_fields`]).
pub const LEAD_FIELDS: &str = "lead_fields";

/// A change to the card's details, named by an update mask and read from the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardCommand {
    /// UpdateClient. `lead_source_only`: the caller (the portal) may change only leads it
    /// created, and only the details they carried.
    Edit {
        client_id: i64,
        edits: Vec<FieldEdit>,
        lead_source_only: bool,
    },
    /// MergeClients: `merged` (distinct, without the survivor) fold into `survivor`.
    Merge {
        survivor: i64,
        merged: Vec<i64>,
        note: String,
    },
    /// EraseClient: the client's personal data goes, with that of the clients merged into it.
    Erase { client_id: i64 },
}

impl CardCommand {
    pub fn cause(&self) -> &'static str {
        match self {
            CardCommand::Edit { .. } => "UpdateClient",
            CardCommand::Merge { .. } => "MergeClients",
            CardCommand::Erase { .. } => "EraseClient",
        }
    }

    /// Every client number the command names, survivor first.
    pub fn client_ids(&self) -> Vec<i64> {
        match self {
            CardCommand::Edit { client_id, .. } | CardCommand::Erase { client_id } => {
                vec![*client_id]
            }
            CardCommand::Merge {
                survivor, merged, ..
            } => std::iter::once(*survivor)
                .chain(merged.iter().copied())
                .collect(),
        }
    }
}

/// One detail set to a new value. Ids of `None` clear the reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldEdit {
    LastName(String),
    FirstName(String),
    MiddleName(String),
    Branch(String),
    Email(String),
    Phone(String),
    ExternalLeadId(String),
    Parent(Option<i64>),
    CustomerType(Option<i64>),
    Industry(Option<i64>),
    HeadcountClass(Option<i64>),
    /// The whole map replaced.
    Properties(BTreeMap<String, String>),
    /// One property set; `None` removes it.
    Property(String, Option<String>),
}

impl FieldEdit {
    /// The detail the edit belongs to, as `lead_fields` names it.
    pub fn field(&self) -> &'static str {
        match self {
            FieldEdit::LastName(_) | FieldEdit::FirstName(_) | FieldEdit::MiddleName(_) => "name",
            FieldEdit::Branch(_) => "branch",
            FieldEdit::Email(_) => "email",
            FieldEdit::Phone(_) => "phone",
            FieldEdit::ExternalLeadId(_) => "external_lead_id",
            FieldEdit::Parent(_) => "parent_client_id",
            FieldEdit::CustomerType(_) | FieldEdit::Industry(_) | FieldEdit::HeadcountClass(_) => {
                "classifications"
            }
            FieldEdit::Properties(_) | FieldEdit::Property(..) => "custom_properties",
        }
    }
}

/// A detail an update mask may name: one leaf of the vocabulary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Path {
    LastName,
    FirstName,
    MiddleName,
    Branch,
    Email,
    Phone,
    ExternalLeadId,
    Parent,
    CustomerType,
    Industry,
    HeadcountClass,
    /// `custom_properties`: the whole map.
    Properties,
    /// `custom_properties.KEY`: one property.
    Property(String),
}

impl Path {
    /// Where the value is read from in the request's `client`, for errors.
    pub fn field(&self) -> String {
        match self {
            Path::LastName => "client.name.last_name".into(),
            Path::FirstName => "client.name.first_name".into(),
            Path::MiddleName => "client.name.middle_name".into(),
            Path::Branch => "client.branch".into(),
            Path::Email => "client.email".into(),
            Path::Phone => "client.phone".into(),
            Path::ExternalLeadId => "client.external_lead_id".into(),
            Path::Parent => "client.parent_client_id".into(),
            Path::CustomerType => "client.classifications.customer_type_id".into(),
            Path::Industry => "client.classifications.industry_id".into(),
            Path::HeadcountClass => "client.classifications.headcount_class_id".into(),
            Path::Properties => "client.custom_properties".into(),
            Path::Property(key) => format!("client.custom_properties[{key:?}]"),
        }
    }
}

/// Why a mask path is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathError {
    /// Not a field of Client.
    Unknown,
    /// A field of Client that only events, declarations or the service change: why.
    NotUpdatable(&'static str),
}

/// Every leaf, which `*` stands for (the properties as a whole map).
const ALL: [Path; 12] = [
    Path::LastName,
    Path::FirstName,
    Path::MiddleName,
    Path::Branch,
    Path::Email,
    Path::Phone,
    Path::ExternalLeadId,
    Path::Parent,
    Path::CustomerType,
    Path::Industry,
    Path::HeadcountClass,
    Path::Properties,
];

/// The leaves one mask path stands for: `name` is its three parts, `classifications` its three
/// references, `*` every detail. A map key that is not a plain word is written in backticks
/// (AIP-161: ``custom_properties.`shoe size` ``).
pub fn parse_path(path: &str) -> Result<Vec<Path>, PathError> {
    let leaves = match path {
        "*" => ALL.to_vec(),
        "name" => vec![Path::LastName, Path::FirstName, Path::MiddleName],
        "name.last_name" => vec![Path::LastName],
        "name.first_name" => vec![Path::FirstName],
        "name.middle_name" => vec![Path::MiddleName],
        "branch" => vec![Path::Branch],
        "email" => vec![Path::Email],
        "phone" => vec![Path::Phone],
        "external_lead_id" => vec![Path::ExternalLeadId],
        "parent_client_id" => vec![Path::Parent],
        "classifications" => vec![Path::CustomerType, Path::Industry, Path::HeadcountClass],
        "classifications.customer_type_id" => vec![Path::CustomerType],
        "classifications.industry_id" => vec![Path::Industry],
        "classifications.headcount_class_id" => vec![Path::HeadcountClass],
        "custom_properties" => vec![Path::Properties],
        other => {
            if let Some(key) = other.strip_prefix("custom_properties.") {
                let key = key
                    .strip_prefix('`')
                    .and_then(|k| k.strip_suffix('`'))
                    .unwrap_or(key);
                if key.is_empty() {
                    return Err(PathError::Unknown);
                }
                return Ok(vec![Path::Property(key.to_string())]);
            }
            return Err(not_updatable(other));
        }
    };
    Ok(leaves)
}

/// A path outside the vocabulary: a field only the rules change, or no field at all.
fn not_updatable(path: &str) -> PathError {
    let top = path.split('.').next().unwrap_or(path);
    let why = match top {
        "stage"
        | "permanent"
        | "status_id"
        | "status_name"
        | "not_interested_reason"
        | "frozen_message"
        | "frozen_reason" => {
            "changes only through the events and declarations (SetStatus for a manual change)"
        }
        "owner" => "changes only through Reassign",
        "lead_status" | "record_source" | "created_at" | "created_by" => {
            "is set when the lead arrives"
        }
        "last_call_at"
        | "last_call_by"
        | "last_call_outcome"
        | "next_call_at"
        | "next_call_by"
        | "last_contact_at"
        | "first_meeting_at"
        | "last_meeting_at"
        | "first_quote_at"
        | "became_real_at"
        | "last_allocated_at"
        | "recent_events_summary" => "is stamped by the events; it cannot be set",
        "deleted_at" | "deleted_by" | "fictitious_reason" => {
            "changes only through DeclareFictitious and RestoreClient"
        }
        "trading_account_ids" => "changes only through OpenTradingAccount",
        "client_id" | "version" | "updated_at" | "child_client_ids" => "is kept by the service",
        "merged_into_client_id" | "merged_at" => "changes only through MergeClients",
        "erased_at" | "erased_by" => "changes only through EraseClient",
        _ => return PathError::Unknown,
    };
    PathError::NotUpdatable(why)
}

/// The details a new client's lead carried, comma-separated, as `LEAD_FIELDS` records them.
pub fn lead_fields(new: &NewClient) -> String {
    let c = &new.classifications;
    [
        ("name", true),
        ("branch", !new.branch.is_empty()),
        ("email", !new.email.is_empty()),
        ("phone", !new.phone.is_empty()),
        ("external_lead_id", !new.external_lead_id.is_empty()),
        ("parent_client_id", new.parent_client_id.is_some()),
        (
            "classifications",
            c.customer_type_id.is_some()
                || c.industry_id.is_some()
                || c.headcount_class_id.is_some(),
        ),
        ("custom_properties", !new.custom_properties.is_empty()),
    ]
    .iter()
    .filter(|(_, sent)| *sent)
    .map(|(field, _)| *field)
    .collect::<Vec<_>>()
    .join(",")
}
