//! The card's update rules: the mask vocabulary, each edit, the no-op, the history details,
//! the parent and lead-key checks, the portal's limits. Fixtures shared with `merge` and `erase`.
use std::collections::BTreeMap;

use chrono::{Duration, TimeZone, Utc};

use super::super::rules::{Ctx, Settings, create};
use super::super::*;
use super::*;

pub(crate) fn t(min: i64) -> Timestamp {
    Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap() + Duration::minutes(min)
}

pub(crate) fn ctx<'a>(catalog: &'a Catalog, settings: &'a Settings) -> Ctx<'a> {
    Ctx {
        at: t(100),
        now: t(100),
        actor: "dana",
        settings,
        catalog,
    }
}

/// A NEW client `id` named "Levi", created at t(0).
pub(crate) fn client(id: i64) -> Client {
    let catalog = Catalog::default();
    let settings = Settings::default();
    let mut c = ctx(&catalog, &settings);
    c.at = t(0);
    let new = NewClient {
        name: ClientName {
            last_name: "Levi".into(),
            ..Default::default()
        },
        branch: String::new(),
        owner: "dana".into(),
        email: String::new(),
        phone: String::new(),
        external_lead_id: String::new(),
        parent_client_id: None,
        classifications: Classifications::default(),
        custom_properties: BTreeMap::new(),
        lead_status: LeadStatus::Regular,
        record_source: "web".into(),
        status_id: None,
    };
    let (mut client, _) = create(&new, &c).unwrap();
    client.client_id = id;
    client
}

fn run(c: &mut Client, edits: &[FieldEdit]) -> Result<Option<rules::Change>, DomainError> {
    let catalog = Catalog::default();
    let settings = Settings::default();
    edit(c, edits, &ctx(&catalog, &settings), None)
}

#[test]
fn the_mask_vocabulary_names_the_details_and_refuses_the_rest() {
    assert_eq!(parse_path("email"), Ok(vec![Path::Email]));
    assert_eq!(
        parse_path("name"),
        Ok(vec![Path::LastName, Path::FirstName, Path::MiddleName])
    );
    assert_eq!(parse_path("classifications").map(|p| p.len()), Ok(3));
    assert_eq!(parse_path("*").map(|p| p.len()), Ok(12));
    assert_eq!(
        parse_path("custom_properties.colour"),
        Ok(vec![Path::Property("colour".into())])
    );
    assert_eq!(
        parse_path("custom_properties.`shoe size`"),
        Ok(vec![Path::Property("shoe size".into())])
    );
    for rule_owned in [
        "stage",
        "status_id",
        "owner",
        "last_call_at",
        "first_meeting_at",
        "became_real_at",
        "created_at",
        "version",
        "deleted_at",
        "merged_into_client_id",
    ] {
        assert!(
            matches!(parse_path(rule_owned), Err(PathError::NotUpdatable(_))),
            "{rule_owned}"
        );
    }
    for unknown in ["colour", "name.nick", "emails", "custom_properties.", ""] {
        assert_eq!(parse_path(unknown), Err(PathError::Unknown), "{unknown}");
    }
}

#[test]
fn each_edit_changes_its_field_and_the_history_names_old_and_new() {
    let mut c = client(7);
    c.email = "old@example.com".into();
    c.custom_properties.insert("colour".into(), "red".into());
    let change = run(
        &mut c,
        &[
            FieldEdit::Email("new@example.com".into()),
            FieldEdit::FirstName("Dana".into()),
            FieldEdit::Branch("Haifa".into()),
            FieldEdit::Phone("050-1234567".into()),
            FieldEdit::ExternalLeadId("L-9".into()),
            FieldEdit::Parent(Some(3)),
            FieldEdit::Property("colour".into(), None),
            FieldEdit::Property("size".into(), Some("XL".into())),
        ],
    )
    .unwrap()
    .expect("a change");
    assert_eq!(c.email, "new@example.com");
    assert_eq!(c.name.first_name, "Dana");
    assert_eq!(
        (c.branch.as_str(), c.phone.as_str()),
        ("Haifa", "050-1234567")
    );
    assert_eq!(
        (c.external_lead_id.as_str(), c.parent_client_id),
        ("L-9", Some(3))
    );
    assert_eq!(
        c.custom_properties,
        [("size".to_string(), "XL".to_string())].into()
    );
    let d = &change.details;
    assert_eq!(d["old.email"], "old@example.com");
    assert_eq!(d["new.email"], "new@example.com");
    assert_eq!(d["old.parent_client_id"], "");
    assert_eq!(d["new.parent_client_id"], "3");
    assert_eq!(d["old.custom_properties.colour"], "red");
    assert_eq!(d["new.custom_properties.colour"], "");
    assert_eq!(
        d["changed"],
        "email,name.first_name,branch,phone,external_lead_id,parent_client_id,\
         custom_properties.colour,custom_properties.size"
    );
    assert_eq!(change.event, None, "details are not a status change");
    assert_eq!(c.version, 2);
}

#[test]
fn an_update_that_changes_nothing_writes_nothing() {
    let mut c = client(7);
    c.email = "same@example.com".into();
    let before = c.clone();
    let none = run(
        &mut c,
        &[
            FieldEdit::Email("same@example.com".into()),
            FieldEdit::LastName("Levi".into()),
            FieldEdit::Property("gone".into(), None),
        ],
    )
    .unwrap();
    assert_eq!(none, None);
    assert_eq!(c, before, "not even the version moves");
}

#[test]
fn replacing_the_properties_lists_every_key_that_changed() {
    let mut c = client(7);
    c.custom_properties = [("a", "1"), ("b", "2")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let change = run(
        &mut c,
        &[FieldEdit::Properties(
            [
                ("b".to_string(), "2".to_string()),
                ("c".to_string(), "3".to_string()),
            ]
            .into(),
        )],
    )
    .unwrap()
    .expect("a change");
    assert_eq!(
        change.details["changed"],
        "custom_properties.a,custom_properties.c"
    );
}

#[test]
fn a_classification_must_be_in_its_catalogue() {
    let mut c = client(7);
    let err = run(&mut c, &[FieldEdit::CustomerType(Some(999))]).unwrap_err();
    assert!(matches!(
        err,
        DomainError::InvalidArgument { ref violations, .. }
            if violations[0].field == "client.classifications.customer_type_id"
    ));
}

#[test]
fn deleted_and_merged_clients_are_not_edited_and_the_version_is_checked() {
    let mut c = client(7);
    c.merged_into = Some(3);
    let err = run(&mut c, &[FieldEdit::Email("a@b.co".into())]).unwrap_err();
    assert!(matches!(
        err,
        DomainError::BecauseOf {
            reason: "CLIENT_MERGED",
            other_client_id: 3,
            ..
        }
    ));
    let mut c = client(7);
    c.deleted_at = Some(t(1));
    let err = run(&mut c, &[FieldEdit::Email("a@b.co".into())]).unwrap_err();
    assert!(matches!(
        err,
        DomainError::FailedPrecondition {
            reason: "CLIENT_DELETED",
            ..
        }
    ));
    let mut c = client(7);
    let (catalog, settings) = (Catalog::default(), Settings::default());
    let err = edit(&mut c, &[], &ctx(&catalog, &settings), Some(5)).unwrap_err();
    assert!(matches!(
        err,
        DomainError::VersionMismatch {
            expected: 5,
            actual: 1,
            ..
        }
    ));
}

#[test]
fn a_parent_must_exist_not_be_merged_and_not_make_a_cycle() {
    let a = |client_id, merged_into| Ancestor {
        client_id,
        merged_into,
    };
    assert!(check_parent(7, 3, &[a(3, None), a(1, None)]).is_ok());
    assert!(matches!(
        check_parent(7, 3, &[]),
        Err(DomainError::InvalidArgument { .. })
    ));
    assert!(matches!(
        check_parent(7, 3, &[a(3, Some(4))]),
        Err(DomainError::BecauseOf {
            reason: "CLIENT_MERGED",
            ..
        })
    ));
    for chain in [vec![a(7, None)], vec![a(3, None), a(5, None), a(7, None)]] {
        assert!(matches!(
            check_parent(7, chain[0].client_id, &chain),
            Err(DomainError::FailedPrecondition {
                reason: "PARENT_CYCLE",
                ..
            })
        ));
    }
}

#[test]
fn only_the_lead_keys_an_edit_gives_are_checked() {
    let mut before = client(7);
    before.email = "Dana@Example.com".into();
    before.phone = "050-1".into();
    let mut after = before.clone();
    after.email = "dana@example.com ".into();
    after.phone = "0502".into();
    after.external_lead_id = "L-1".into();
    assert_eq!(
        changed_keys(&before, &after),
        vec![("external_lead_id", "L-1".into()), ("phone", "0502".into())],
        "the same email after normalising is no new key"
    );
    assert!(matches!(
        key_taken(7, "email", 3),
        DomainError::BecauseOf {
            reason: "LEAD_KEY_TAKEN",
            other_client_id: 3,
            ..
        }
    ));
}

#[test]
fn the_portal_edits_only_its_own_leads_and_the_details_they_carried() {
    let creation = Creation {
        principal: "portal".into(),
        details: [(LEAD_FIELDS.to_string(), "name,email".to_string())].into(),
    };
    let email = [FieldEdit::Email("a@b.co".into())];
    let phone = [FieldEdit::Phone("0501234".into())];
    assert!(check_lead_source(7, "portal", Some(&creation), &email).is_ok());
    assert!(
        check_lead_source(
            7,
            "portal",
            Some(&creation),
            &[FieldEdit::FirstName("D".into())]
        )
        .is_ok()
    );
    for (principal, edits) in [("portal", &phone[..]), ("other-portal", &email[..])] {
        assert!(matches!(
            check_lead_source(7, principal, Some(&creation), edits),
            Err(DomainError::PermissionDenied { .. })
        ));
    }
    assert!(check_lead_source(7, "portal", None, &email).is_err());
}

#[test]
fn a_new_client_records_which_details_its_lead_carried() {
    let mut new = NewClient {
        name: ClientName {
            last_name: "Levi".into(),
            ..Default::default()
        },
        branch: String::new(),
        owner: String::new(),
        email: "a@b.co".into(),
        phone: String::new(),
        external_lead_id: "L-1".into(),
        parent_client_id: None,
        classifications: Classifications::default(),
        custom_properties: BTreeMap::new(),
        lead_status: LeadStatus::Regular,
        record_source: String::new(),
        status_id: None,
    };
    assert_eq!(lead_fields(&new), "name,email,external_lead_id");
    new.custom_properties.insert("k".into(), "v".into());
    assert!(lead_fields(&new).ends_with(",custom_properties"));
}
