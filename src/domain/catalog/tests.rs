//! The catalogue's rules, one test each.
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
