//! EraseClient (docs/card.md): the right to be forgotten. What is the client's personal data
//! and goes (name, email, phone, external lead id, custom properties, notes, summary, pop-up
//! message, free-text reasons and every history detail not on the kept list), and what is not
//! and stays (number, stage and status, dates, document keys, the users who acted, counts).
use std::collections::BTreeMap;

use super::client::{Client, ClientName};
use super::error::DomainError;
use super::rules::{Change, Ctx, StatusEvent};

/// History details that hold no personal data: outcomes, channels, times, stage and status
/// ids, catalogue names, owners (users of the organisation), document keys, which fields an
/// edit changed (not their values) and the numbers of merged clients. Every other detail is
/// removed by an erasure, so a detail added later is erased unless it is listed here.
pub const KEPT_DETAILS: &[&str] = &[
    "outcome",
    "next_call_at",
    "channel",
    "meeting_at",
    "lead_status",
    "record_source",
    "lead_fields",
    "matched_on",
    "reason",
    "old_owner",
    "new_owner",
    "reset_stage",
    "document_kind",
    "document_id",
    "old_status_id",
    "new_status_id",
    "deleted",
    "replacement",
    "changed",
    "filled",
    "merged_client_ids",
    "merged_into_client_id",
    "old.parent_client_id",
    "new.parent_client_id",
];

/// Removes the personal data from a record of the client (the row, a stream snapshot, a
/// stored answer). Returns whether anything was there to remove.
pub fn scrub(client: &mut Client) -> bool {
    let before = client.clone();
    client.name = ClientName::default();
    client.email.clear();
    client.phone.clear();
    client.external_lead_id.clear();
    client.custom_properties.clear();
    client.summary.clear();
    client.frozen_message.clear();
    client.fictitious_reason.clear();
    *client != before
}

/// Removes the note and the personal details of a history entry. Returns whether it changed.
pub fn scrub_entry(note: &mut String, details: &mut BTreeMap<String, String>) -> bool {
    let before = details.len();
    details.retain(|k, _| KEPT_DETAILS.contains(&k.as_str()));
    let had_note = !note.is_empty();
    note.clear();
    had_note || details.len() != before
}

/// Erases `client`: its personal data goes, it is marked erased and soft-deleted (out of every
/// list, for good: an erased client cannot be restored). `None` when it already was: erasing
/// twice changes nothing. The change's ERASED event carries the erased record only.
pub fn erase(
    client: &mut Client,
    ctx: &Ctx,
    expected_version: Option<i64>,
) -> Result<Option<Change>, DomainError> {
    let id = client.client_id;
    if let Some(expected) = expected_version
        && expected != client.version
    {
        return Err(DomainError::VersionMismatch {
            subject: format!("clients/{id}"),
            expected,
            actual: client.version,
        });
    }
    if client.is_erased() {
        return Ok(None);
    }
    scrub(client);
    if client.deleted_at.is_none() {
        client.deleted_at = Some(ctx.at);
        client.deleted_by = ctx.actor.to_string();
    }
    client.erased_at = Some(ctx.at);
    client.erased_by = ctx.actor.to_string();
    client.version += 1;
    client.updated_at = ctx.now;
    Ok(Some(Change {
        cause: "EraseClient",
        old_stage: Some(client.stage),
        new_stage: client.stage,
        old_status_id: Some(client.status_id),
        new_status_id: client.status_id,
        note: String::new(),
        details: BTreeMap::new(),
        alerts: Vec::new(),
        event: Some(StatusEvent::Erased),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::rules::Settings;
    use crate::domain::{Catalog, Classifications};

    fn person() -> Client {
        let mut c = crate::domain::card::tests::client(7);
        c.name.last_name = "Cohen".into();
        c.name.first_name = "Dana".into();
        c.email = "dana@example.com".into();
        c.phone = "+972-54-1234567".into();
        c.external_lead_id = "L-7".into();
        c.custom_properties.insert("shoe".into(), "41".into());
        c.frozen_message = "call Dana first".into();
        c.classifications = Classifications {
            customer_type_id: Some(9),
            ..Default::default()
        };
        c.trading_account_ids = vec!["MT-1".into()];
        c
    }

    #[test]
    fn erasing_removes_personal_data_and_keeps_the_number_stage_dates_and_documents() {
        let catalog = Catalog::default();
        let settings = Settings::default();
        let ctx = crate::domain::card::tests::ctx(&catalog, &settings);
        let mut c = person();
        let before = c.clone();
        let change = erase(&mut c, &ctx, None).unwrap().expect("a change");
        assert_eq!(change.event, Some(StatusEvent::Erased));
        assert!(change.details.is_empty() && change.note.is_empty());
        assert_eq!(c.name, ClientName::default());
        assert!(c.email.is_empty() && c.phone.is_empty() && c.external_lead_id.is_empty());
        assert!(c.custom_properties.is_empty() && c.frozen_message.is_empty());
        assert_eq!(
            (c.client_id, c.stage, c.status_id, c.created_at),
            (
                before.client_id,
                before.stage,
                before.status_id,
                before.created_at
            )
        );
        assert_eq!(c.trading_account_ids, before.trading_account_ids);
        assert_eq!(c.classifications, before.classifications);
        assert!(c.is_deleted() && c.is_erased());
        assert_eq!(c.version, before.version + 1);
    }

    #[test]
    fn erasing_twice_changes_nothing_the_second_time() {
        let catalog = Catalog::default();
        let settings = Settings::default();
        let ctx = crate::domain::card::tests::ctx(&catalog, &settings);
        let mut c = person();
        erase(&mut c, &ctx, None).unwrap();
        let once = c.clone();
        assert_eq!(erase(&mut c, &ctx, None).unwrap(), None);
        assert_eq!(c, once);
    }

    #[test]
    fn a_history_entry_keeps_only_the_details_on_the_kept_list() {
        let mut note = "spoke with Dana about her divorce".to_string();
        let mut details: BTreeMap<String, String> = [
            ("outcome", "CallWithContent"),
            ("old.email", "dana@example.com"),
            ("new.email", "dana@work.example"),
            ("changed", "email"),
            ("fictitious_reason", "Dana's prank"),
            ("document_id", "INV-1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert!(scrub_entry(&mut note, &mut details));
        assert!(note.is_empty());
        let kept: Vec<&str> = details.keys().map(String::as_str).collect();
        assert_eq!(kept, ["changed", "document_id", "outcome"]);
        assert!(
            !scrub_entry(&mut note, &mut details),
            "nothing left to remove"
        );
    }
}
