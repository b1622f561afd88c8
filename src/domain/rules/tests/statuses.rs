//! The catalogue's statuses as the rules use them.
use std::collections::BTreeMap;

use super::super::super::*;
use super::super::{apply, create};
use super::*;

// --- The catalogue's statuses ---

fn with_ctx(c: &mut Client, action: Action, ctx: &Ctx) -> Result<Effect, DomainError> {
    apply(c, &action, ctx, None, None)
}

#[test]
fn a_new_client_takes_news_default_status_or_a_named_new_status() {
    assert_eq!(
        new_client().status_id,
        catalog::builtin_default_status(Stage::New)
    );
    let mut new = NewClient {
        name: ClientName {
            last_name: "Cohen".into(),
            ..Default::default()
        },
        branch: String::new(),
        owner: String::new(),
        email: String::new(),
        phone: String::new(),
        external_lead_id: String::new(),
        parent_client_id: None,
        classifications: Classifications::default(),
        custom_properties: BTreeMap::new(),
        lead_status: LeadStatus::Regular,
        record_source: String::new(),
        status_id: Some(NO_PROJECTS),
    };
    let err = create(&new, &ctx_at(0)).unwrap_err();
    assert!(
        matches!(&err, DomainError::InvalidArgument { violations, .. } if violations[0].field == "status_id"),
        "a FOLLOW_UP status cannot start a client: {err:?}"
    );
    new.status_id = None;
    new.classifications.customer_type_id = Some(999);
    let err = create(&new, &ctx_at(0)).unwrap_err();
    assert!(
        matches!(&err, DomainError::InvalidArgument { violations, .. }
            if violations[0].field == "classifications.customer_type_id"),
        "{err:?}"
    );
    new.classifications.customer_type_id = Some(TYPE_A);
    new.classifications.industry_id = Some(TYPE_A);
    let err = create(&new, &ctx_at(0)).unwrap_err();
    assert!(
        matches!(&err, DomainError::InvalidArgument { violations, .. }
            if violations.len() == 1 && violations[0].field == "classifications.industry_id"),
        "a customer type is not an industry: {err:?}"
    );
    new.classifications.industry_id = None;
    let (c, change) = create(&new, &ctx_at(0)).unwrap();
    assert_eq!(c.classifications.customer_type_id, Some(TYPE_A));
    assert_eq!(change.new_status_id, 1);
}

#[test]
fn an_automatic_advance_puts_the_target_stages_default_status() {
    let mut c = new_client();
    let ch = changed(&mut c, call(CallOutcome::NoAnswer, None), 1);
    assert_eq!(
        c.status_id,
        catalog::builtin_default_status(Stage::FollowUp)
    );
    assert_eq!((ch.old_status_id, ch.new_status_id), (Some(1), 2));
    changed(&mut c, invoice("I1"), 2);
    assert_eq!(c.status_id, catalog::builtin_default_status(Stage::Real));

    // A default moved to another status is what an advance puts.
    let mut moved = test_catalog();
    for e in &mut moved.entries {
        if e.stage == Some(Stage::Real) {
            e.is_default = e.entry_id == KEY_ACCOUNT;
        }
    }
    let ctx = Ctx {
        catalog: &moved,
        ..ctx_at(3)
    };
    let mut c = client_at(Stage::FollowUp);
    with_ctx(&mut c, invoice("I2"), &ctx).unwrap();
    assert_eq!((c.stage, c.status_id), (Stage::Real, KEY_ACCOUNT));
}

#[test]
fn an_event_that_does_not_change_the_stage_keeps_the_status() {
    let mut c = client_at(Stage::FollowUp);
    c.status_id = NO_PROJECTS;
    let ch = changed(&mut c, call(CallOutcome::ShortCall, None), 1);
    assert_eq!(c.status_id, NO_PROJECTS);
    assert_eq!(ch.event, None);
    assert!(!ch.details.contains_key("new_status_id"));
}

#[test]
fn declare_not_interested_takes_a_not_interested_status_as_its_reason() {
    for (id, why) in [
        (MOVED_ABROAD, "belongs to stage FROZEN"),
        (999, "no status 999"),
    ] {
        let mut c = new_client();
        let before = c.clone();
        let err = run(
            &mut c,
            Action::DeclareNotInterested {
                note: "n".into(),
                reason_status_id: id,
            },
            1,
        )
        .unwrap_err();
        match err {
            DomainError::InvalidArgument { violations, .. } => {
                assert_eq!(violations[0].field, "reason_status_id");
                assert!(violations[0].description.contains(why), "{violations:?}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(c, before, "a refused declaration changes nothing");
    }
    let mut c = new_client();
    changed(
        &mut c,
        Action::DeclareNotInterested {
            note: "n".into(),
            reason_status_id: catalog::builtin_default_status(Stage::NotInterested),
        },
        1,
    );
    assert_eq!(c.not_interested_reason, "NOT_INTERESTED");
}

#[test]
fn declare_frozen_takes_an_optional_frozen_status() {
    let mut c = client_at(Stage::Real);
    changed(
        &mut c,
        Action::DeclareFrozen {
            frozen_message: "m".into(),
            note: "n".into(),
            reason_status_id: Some(MOVED_ABROAD),
        },
        1,
    );
    assert_eq!((c.stage, c.status_id), (Stage::Frozen, MOVED_ABROAD));
    assert_eq!(c.frozen_reason, "Moved abroad");
    let mut c = client_at(Stage::Real);
    let err = run(
        &mut c,
        Action::DeclareFrozen {
            frozen_message: "m".into(),
            note: "n".into(),
            reason_status_id: Some(PRICE),
        },
        1,
    )
    .unwrap_err();
    assert!(
        matches!(err, DomainError::InvalidArgument { .. }),
        "{err:?}"
    );
    assert_eq!(c.stage, Stage::Real);
}

#[test]
fn a_status_not_selectable_for_project_refuses_quotes_and_orders_only() {
    let quote = Action::IssueQuote {
        quote_id: "Q1".into(),
        note: String::new(),
    };
    let order = Action::ApproveOrder {
        order_id: "O1".into(),
        note: String::new(),
    };
    for action in [quote, order] {
        let mut c = client_at(Stage::FollowUp);
        c.status_id = NO_PROJECTS;
        let before = c.clone();
        let err = run(&mut c, action.clone(), 1).unwrap_err();
        assert!(
            matches!(
                err,
                DomainError::FailedPrecondition {
                    reason: "STATUS_NOT_SELECTABLE_FOR_PROJECT",
                    ..
                }
            ),
            "{action:?}: {err:?}"
        );
        assert_eq!(c, before);
        // In a selectable status the same action goes through.
        let mut c = client_at(Stage::FollowUp);
        changed(&mut c, action, 1);
    }
    let mut c = client_at(Stage::FollowUp);
    c.status_id = NO_PROJECTS;
    changed(&mut c, invoice("I1"), 1);
    assert_eq!(c.stage, Stage::Real, "an invoice is not a project");
}

#[test]
fn set_status_sets_a_stage_a_status_or_both_consistently() {
    let mut c = new_client();
    let ch = changed(
        &mut c,
        Action::SetStatus {
            stage: None,
            status_id: Some(KEY_ACCOUNT),
            reason: "r".into(),
        },
        1,
    );
    assert_eq!((c.stage, c.status_id), (Stage::Real, KEY_ACCOUNT));
    assert_eq!(ch.event, Some(StatusEvent::StageChanged));
    // Within the stage: a status change, with its own event kind.
    let ch = changed(
        &mut c,
        Action::SetStatus {
            stage: Some(Stage::Real),
            status_id: Some(catalog::builtin_default_status(Stage::Real)),
            reason: "r".into(),
        },
        2,
    );
    assert_eq!(ch.event, Some(StatusEvent::StatusChanged));
    assert_eq!(ch.details["old_status_id"], KEY_ACCOUNT.to_string());
    let before = c.clone();
    let err = run(
        &mut c,
        Action::SetStatus {
            stage: Some(Stage::New),
            status_id: Some(KEY_ACCOUNT),
            reason: "r".into(),
        },
        3,
    )
    .unwrap_err();
    assert!(
        matches!(err, DomainError::InvalidArgument { .. }),
        "{err:?}"
    );
    assert_eq!(c, before);
    changed(
        &mut c,
        Action::SetStatus {
            stage: Some(Stage::FollowUp),
            status_id: None,
            reason: "r".into(),
        },
        4,
    );
    assert_eq!(
        c.status_id,
        catalog::builtin_default_status(Stage::FollowUp)
    );
}

#[test]
fn reassign_with_reset_puts_news_default_status() {
    let mut c = client_at(Stage::Real);
    c.status_id = KEY_ACCOUNT;
    changed(
        &mut c,
        Action::Reassign {
            new_owner: "x".into(),
            reset_stage: true,
            note: String::new(),
        },
        1,
    );
    assert_eq!((c.stage, c.status_id), (Stage::New, 1));
    let mut c = client_at(Stage::Real);
    c.status_id = KEY_ACCOUNT;
    changed(
        &mut c,
        Action::Reassign {
            new_owner: "x".into(),
            reset_stage: false,
            note: String::new(),
        },
        1,
    );
    assert_eq!(c.status_id, KEY_ACCOUNT);
}

#[test]
fn the_reason_text_always_names_the_not_interested_or_frozen_status_the_client_is_in() {
    let mut c = new_client();
    changed(
        &mut c,
        Action::SetStatus {
            stage: None,
            status_id: Some(PRICE),
            reason: "import".into(),
        },
        1,
    );
    assert_eq!(
        (c.stage, c.not_interested_reason.as_str()),
        (Stage::NotInterested, "Price")
    );
    changed(
        &mut c,
        Action::SetStatus {
            stage: None,
            status_id: Some(catalog::builtin_default_status(Stage::NotInterested)),
            reason: "fix".into(),
        },
        2,
    );
    assert_eq!(
        c.not_interested_reason, "NOT_INTERESTED",
        "moved between reasons"
    );
    assert_eq!(c.status_name, "NOT_INTERESTED");

    let mut c = client_at(Stage::Real);
    changed(
        &mut c,
        Action::DeclareFrozen {
            frozen_message: "m".into(),
            note: "n".into(),
            reason_status_id: None,
        },
        1,
    );
    assert_eq!(
        c.frozen_reason, "FROZEN",
        "no reason given: the default status is the reason"
    );
    changed(
        &mut c,
        Action::SetStatus {
            stage: None,
            status_id: Some(MOVED_ABROAD),
            reason: "r".into(),
        },
        2,
    );
    assert_eq!(c.frozen_reason, "Moved abroad");
    changed(
        &mut c,
        Action::SetStatus {
            stage: Some(Stage::Real),
            status_id: None,
            reason: "r".into(),
        },
        3,
    );
    assert_eq!(
        (c.frozen_reason.as_str(), c.frozen_message.as_str()),
        ("", "")
    );
    assert_eq!(c.status_name, "REAL");
}

#[test]
fn a_deleted_status_or_classification_moves_its_clients_even_soft_deleted_ones() {
    let status = CATALOG.status(PRICE).unwrap().clone();
    let mut c = client_at(Stage::NotInterested);
    c.status_id = PRICE;
    c.deleted_at = Some(t(0));
    let ch = rules::replace_reference(
        &mut c,
        &status,
        Some(catalog::builtin_default_status(Stage::NotInterested)),
        &ctx_at(1),
    );
    assert_eq!(c.status_id, 4);
    assert_eq!(c.not_interested_reason, "NOT_INTERESTED");
    assert_eq!(ch.event, Some(StatusEvent::StatusChanged));
    assert_eq!(ch.cause, "DeleteStatus");
    assert_eq!(c.version, 2);

    let type_a = CATALOG
        .get(CatalogKind::CustomerType, TYPE_A)
        .unwrap()
        .clone();
    let mut c = new_client();
    c.classifications.customer_type_id = Some(TYPE_A);
    let ch = rules::replace_reference(&mut c, &type_a, None, &ctx_at(1));
    assert_eq!(c.classifications.customer_type_id, None);
    assert_eq!((ch.event, ch.cause), (None, "DeleteClassification"));
}
