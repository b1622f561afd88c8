//! One test per row of the rule tables (docs/behaviour.md), on the pure rules; the fixtures here.
mod declarations;
mod events;
mod invariants;
mod statuses;

use std::collections::BTreeMap;

use chrono::{Duration, TimeZone, Utc};

use super::super::*;
use super::{apply, create};

pub(super) fn t(min: i64) -> Timestamp {
    Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap() + Duration::minutes(min)
}

const SETTINGS: Settings = Settings {
    extra_properties_mean_deal: false,
};

/// NOT_INTERESTED "Price", FROZEN "Moved abroad", FOLLOW_UP "Prospect, no projects"
/// (not selectable for projects), REAL "Key account", and customer type "A".
const PRICE: i64 = 11;
const MOVED_ABROAD: i64 = 21;
const NO_PROJECTS: i64 = 31;
const KEY_ACCOUNT: i64 = 41;
const TYPE_A: i64 = 51;

pub(super) fn entry(entry_id: i64, kind: CatalogKind, stage: Option<Stage>, name: &str) -> Entry {
    Entry {
        entry_id,
        kind,
        name: name.into(),
        display_order: 1,
        stage,
        color: "#000000".into(),
        selectable_for_project: true,
        selectable_as_supplier: false,
        ended: stage.is_some_and(catalog::ended_by_default),
        is_default: false,
        status_ids: Vec::new(),
        version: 1,
        created_at: t(0),
        updated_at: t(0),
    }
}

pub(super) fn test_catalog() -> Catalog {
    let mut entries: Vec<Entry> = Stage::ALL
        .into_iter()
        .map(|stage| {
            let mut e = entry(
                catalog::builtin_default_status(stage),
                CatalogKind::Status,
                Some(stage),
                stage.name(),
            );
            e.is_default = true;
            e
        })
        .collect();
    entries.push(entry(
        PRICE,
        CatalogKind::Status,
        Some(Stage::NotInterested),
        "Price",
    ));
    entries.push(entry(
        MOVED_ABROAD,
        CatalogKind::Status,
        Some(Stage::Frozen),
        "Moved abroad",
    ));
    let mut no_projects = entry(
        NO_PROJECTS,
        CatalogKind::Status,
        Some(Stage::FollowUp),
        "Prospect, no projects",
    );
    no_projects.selectable_for_project = false;
    entries.push(no_projects);
    entries.push(entry(
        KEY_ACCOUNT,
        CatalogKind::Status,
        Some(Stage::Real),
        "Key account",
    ));
    entries.push(entry(TYPE_A, CatalogKind::CustomerType, None, "A"));
    Catalog { entries }
}

static CATALOG: std::sync::LazyLock<Catalog> = std::sync::LazyLock::new(test_catalog);

pub(super) fn ctx_at(min: i64) -> Ctx<'static> {
    Ctx {
        at: t(min),
        now: t(1_000),
        actor: "dana",
        settings: &SETTINGS,
        catalog: &CATALOG,
    }
}

pub(super) fn new_client() -> Client {
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
        lead_status: LeadStatus::Hot,
        record_source: "web".into(),
        status_id: None,
    };
    let (mut c, _) = create(&new, &ctx_at(0)).unwrap();
    c.client_id = 7;
    c
}

pub(super) fn client_at(stage: Stage) -> Client {
    let mut c = new_client();
    c.stage = stage;
    c.status_id = catalog::builtin_default_status(stage);
    c
}

pub(super) fn run(c: &mut Client, action: Action, min: i64) -> Result<Effect, DomainError> {
    apply(c, &action, &ctx_at(min), None, None)
}

pub(super) fn changed(c: &mut Client, action: Action, min: i64) -> Change {
    match run(c, action, min) {
        Ok(Effect::Changed(ch)) => ch,
        other => panic!("expected a change, got {other:?}"),
    }
}

pub(super) fn call(outcome: CallOutcome, next: Option<i64>) -> Action {
    Action::ContactAttempt {
        outcome,
        note: "spoke".into(),
        next_call_at: next.map(t),
        next_call_by: None,
    }
}

pub(super) fn invoice(number: &str) -> Action {
    Action::RecordInvoice {
        document_type: AccountingDocument::Invoice,
        document_number: number.into(),
        note: String::new(),
    }
}

pub(super) fn paid(id: &str) -> Action {
    Action::RecordPaidService {
        service_id: id.into(),
        note: String::new(),
    }
}
