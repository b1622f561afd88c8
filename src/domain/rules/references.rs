//! A catalogue entry is deleted: the clients referencing it move to its replacement.
use std::collections::BTreeMap;

use super::super::catalog::{CatalogKind, Entry};
use super::super::client::Client;
use super::{Change, Ctx, StatusEvent, put_status};

/// A catalogue entry `client` references is being deleted: the client moves to `replacement`
/// (for a status: one of the same stage), or loses the reference. Deleted clients move too, so
/// a later restore finds a status that exists.
pub fn replace_reference(
    client: &mut Client,
    entry: &Entry,
    replacement: Option<i64>,
    ctx: &Ctx,
) -> Change {
    let stage = client.stage;
    let old_status = client.status_id;
    let mut details = BTreeMap::new();
    details.insert("deleted".into(), entry.subject());
    match entry.kind {
        CatalogKind::Status => {
            if let Some(id) = replacement {
                put_status(client, ctx, id);
            }
        }
        CatalogKind::CustomerType => client.classifications.customer_type_id = replacement,
        CatalogKind::Industry => client.classifications.industry_id = replacement,
        CatalogKind::HeadcountClass => client.classifications.headcount_class_id = replacement,
        CatalogKind::StatusGroup => {}
    }
    if let Some(id) = replacement {
        details.insert(
            "replacement".into(),
            format!("{}/{id}", entry.kind.collection()),
        );
    }
    if client.status_id != old_status {
        details.insert("old_status_id".into(), old_status.to_string());
        details.insert("new_status_id".into(), client.status_id.to_string());
    }
    client.version += 1;
    client.updated_at = ctx.now;
    Change {
        cause: if entry.kind == CatalogKind::Status {
            "DeleteStatus"
        } else {
            "DeleteClassification"
        },
        old_stage: Some(stage),
        new_stage: stage,
        old_status_id: Some(old_status),
        new_status_id: client.status_id,
        note: String::new(),
        details,
        alerts: Vec::new(),
        event: (client.status_id != old_status).then_some(StatusEvent::StatusChanged),
    }
}
