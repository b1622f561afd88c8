//! The card's requests -> `CardCommand`s: UpdateClient's mask and values, MergeClients' ids,
//! EraseClient. The mask's words are `domain::card`'s; here each named value is read from the
//! request and validated like CreateClient's, and every bad path or value is reported at once.
use crate::domain::Command;
use crate::domain::card::{self, CardCommand, FieldEdit, Path, PathError};
use crate::proto as pb;

use super::client_requests::optional_note;
use super::requests::{Envelope, MutationRequest};
use super::validate::{self, ID_MAX, Need, SHORT_MAX, client_ids, line, optional_id};
use super::violations::{All, Violations, reason};

/// Most clients one MergeClients may fold into the survivor.
pub const MERGE_CLIENTS_MAX: usize = 100;
/// Most paths one update mask may name.
pub const MASK_PATHS_MAX: usize = 128;

macro_rules! envelope {
    () => {
        fn envelope(&self) -> Envelope<'_> {
            Envelope {
                request_id: &self.request_id,
                occurred_at: self.occurred_at.as_ref(),
                actor: &self.actor,
                expected_version: self.expected_version,
            }
        }
    };
}

impl MutationRequest for pb::UpdateClientRequest {
    const METHOD: &'static str = "UpdateClient";
    type Command = Command;
    envelope!();
    fn command(&self) -> Result<Command, Violations> {
        let values = self.client.clone().unwrap_or_default();
        let (client_id, paths) = (
            validate::client_id("client_id", self.client_id),
            mask(self.update_mask.as_ref(), &values),
        )
            .all()?;
        if values.client_id != 0 && values.client_id != client_id {
            return Err(Violations::one(
                "client.client_id",
                reason::CONFLICTING_FIELDS,
                "names another client than client_id; leave it 0",
            ));
        }
        let mut v = Violations::default();
        let edits: Vec<FieldEdit> = paths
            .iter()
            .filter_map(|p| v.keep(value(p, &values)))
            .collect();
        v.into_result()?;
        Ok(Command::Card(CardCommand::Edit {
            client_id,
            edits,
            // Set by the handler from the caller's roles.
            lead_source_only: false,
        }))
    }
}

/// The leaves the mask names (without repeats), or, with no mask, those `values` sets.
fn mask(
    mask: Option<&prost_types::FieldMask>,
    values: &pb::Client,
) -> Result<Vec<Path>, Violations> {
    let paths = mask.map(|m| m.paths.as_slice()).unwrap_or_default();
    if paths.is_empty() {
        return Ok(implicit(values));
    }
    validate::count("update_mask.paths", paths.len(), MASK_PATHS_MAX)?;
    let mut v = Violations::default();
    let mut out: Vec<Path> = Vec::new();
    for (i, path) in paths.iter().enumerate() {
        let field = format!("update_mask.paths[{i}]");
        match card::parse_path(path.trim()) {
            Ok(leaves) => {
                for leaf in leaves {
                    if !out.contains(&leaf) {
                        out.push(leaf);
                    }
                }
            }
            Err(PathError::Unknown) => v.push(
                field,
                reason::INVALID_FORMAT,
                format!(
                    "{} is not a field of Client UpdateClient can change",
                    validate::quote(path)
                ),
            ),
            Err(PathError::NotUpdatable(why)) => v.push(
                field,
                reason::CONFLICTING_FIELDS,
                format!(
                    "{} {why}; UpdateClient does not change it",
                    validate::quote(path)
                ),
            ),
        }
    }
    v.into_result().map(|()| out)
}

/// AIP-134's implicit mask: the details `values` sets (a property each, merged in).
fn implicit(c: &pb::Client) -> Vec<Path> {
    let name = c.name.clone().unwrap_or_default();
    let cls = c.classifications.unwrap_or_default();
    let mut out: Vec<Path> = [
        (Path::LastName, !name.last_name.is_empty()),
        (Path::FirstName, !name.first_name.is_empty()),
        (Path::MiddleName, !name.middle_name.is_empty()),
        (Path::Branch, !c.branch.is_empty()),
        (Path::Email, !c.email.is_empty()),
        (Path::Phone, !c.phone.is_empty()),
        (Path::ExternalLeadId, !c.external_lead_id.is_empty()),
        (Path::Parent, c.parent_client_id != 0),
        (Path::CustomerType, cls.customer_type_id != 0),
        (Path::Industry, cls.industry_id != 0),
        (Path::HeadcountClass, cls.headcount_class_id != 0),
    ]
    .into_iter()
    .filter_map(|(p, set)| set.then_some(p))
    .collect();
    out.extend(
        c.custom_properties
            .keys()
            .map(|k| Path::Property(k.clone())),
    );
    out
}

/// The new value of one leaf, validated as CreateClient validates it.
fn value(path: &Path, c: &pb::Client) -> Result<FieldEdit, Violations> {
    let name = c.name.clone().unwrap_or_default();
    let cls = c.classifications.unwrap_or_default();
    let field = path.field();
    let short = |value: &str| line(&field, value, SHORT_MAX, Need::Optional);
    Ok(match path {
        Path::LastName => {
            FieldEdit::LastName(line(&field, &name.last_name, SHORT_MAX, Need::Required)?)
        }
        Path::FirstName => FieldEdit::FirstName(short(&name.first_name)?),
        Path::MiddleName => FieldEdit::MiddleName(short(&name.middle_name)?),
        Path::Branch => FieldEdit::Branch(short(&c.branch)?),
        Path::Email => FieldEdit::Email(validate::email(&field, &c.email)?),
        Path::Phone => FieldEdit::Phone(validate::phone(&field, &c.phone)?),
        Path::ExternalLeadId => {
            FieldEdit::ExternalLeadId(line(&field, &c.external_lead_id, ID_MAX, Need::Optional)?)
        }
        Path::Parent => FieldEdit::Parent(optional_id(&field, c.parent_client_id)?),
        Path::CustomerType => FieldEdit::CustomerType(optional_id(&field, cls.customer_type_id)?),
        Path::Industry => FieldEdit::Industry(optional_id(&field, cls.industry_id)?),
        Path::HeadcountClass => {
            FieldEdit::HeadcountClass(optional_id(&field, cls.headcount_class_id)?)
        }
        Path::Properties => FieldEdit::Properties(validate::properties(
            "client.custom_properties",
            &c.custom_properties,
            false,
        )?),
        Path::Property(key) => {
            let one = [(
                key.clone(),
                c.custom_properties.get(key).cloned().unwrap_or_default(),
            )];
            let checked = validate::properties("client.custom_properties", &one.into(), true)?;
            let (key, value) = checked.into_iter().next().unwrap_or_default();
            // An empty value (or none) removes the property.
            FieldEdit::Property(key, (!value.is_empty()).then_some(value))
        }
    })
}

impl MutationRequest for pb::MergeClientsRequest {
    const METHOD: &'static str = "MergeClients";
    type Command = Command;
    envelope!();
    fn command(&self) -> Result<Command, Violations> {
        let (survivor, merged, note) = (
            validate::client_id("survivor_client_id", self.survivor_client_id),
            client_ids(
                "merged_client_ids",
                &self.merged_client_ids,
                MERGE_CLIENTS_MAX,
            ),
            optional_note(&self.note),
        )
            .all()?;
        Ok(Command::Card(CardCommand::Merge {
            survivor,
            merged,
            note,
        }))
    }
}

impl MutationRequest for pb::EraseClientRequest {
    const METHOD: &'static str = "EraseClient";
    type Command = Command;
    envelope!();
    fn command(&self) -> Result<Command, Violations> {
        let client_id = validate::client_id("client_id", self.client_id)?;
        Ok(Command::Card(CardCommand::Erase { client_id }))
    }
}
