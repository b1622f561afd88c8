//! One test per row of the spec's section 2 tables, on the pure rules.
use std::collections::BTreeMap;

use chrono::{Duration, TimeZone, Utc};

use super::rules::{apply, create, interested_again, resolve_occurred_at};
use super::*;

fn t(min: i64) -> Timestamp {
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

fn entry(entry_id: i64, kind: CatalogKind, stage: Option<Stage>, name: &str) -> Entry {
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

fn test_catalog() -> Catalog {
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

fn ctx_at(min: i64) -> Ctx<'static> {
    Ctx {
        at: t(min),
        now: t(1_000),
        actor: "dana",
        settings: &SETTINGS,
        catalog: &CATALOG,
    }
}

fn new_client() -> Client {
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

fn client_at(stage: Stage) -> Client {
    let mut c = new_client();
    c.stage = stage;
    c.status_id = catalog::builtin_default_status(stage);
    c
}

fn run(c: &mut Client, action: Action, min: i64) -> Result<Effect, DomainError> {
    apply(c, &action, &ctx_at(min), None, None)
}

fn changed(c: &mut Client, action: Action, min: i64) -> Change {
    match run(c, action, min) {
        Ok(Effect::Changed(ch)) => ch,
        other => panic!("expected a change, got {other:?}"),
    }
}

fn call(outcome: CallOutcome, next: Option<i64>) -> Action {
    Action::ContactAttempt {
        outcome,
        note: "spoke".into(),
        next_call_at: next.map(t),
        next_call_by: None,
    }
}

fn invoice(number: &str) -> Action {
    Action::RecordInvoice {
        document_type: AccountingDocument::Invoice,
        document_number: number.into(),
        note: String::new(),
    }
}

fn paid(id: &str) -> Action {
    Action::RecordPaidService {
        service_id: id.into(),
        note: String::new(),
    }
}

#[test]
fn create_client_is_new_with_no_call_yet() {
    let c = new_client();
    assert_eq!(c.stage, Stage::New);
    assert_eq!(c.last_call_outcome, CallOutcome::NoCallYet);
    assert_eq!(c.created_at, t(0));
    assert_eq!(c.created_by, "dana");
    assert_eq!(c.record_source, "web");
    assert_eq!(c.lead_status, LeadStatus::Hot);
    assert_eq!(c.version, 1);
}

#[test]
fn contact_attempt_advances_to_follow_up_and_stamps_the_call() {
    let mut c = new_client();
    changed(&mut c, call(CallOutcome::NoAnswer, Some(60)), 10);
    assert_eq!(c.stage, Stage::FollowUp);
    assert_eq!(c.last_call_at, Some(t(10)));
    assert_eq!(c.last_call_by, "dana");
    assert_eq!(c.last_call_outcome, CallOutcome::NoAnswer);
    assert_eq!(c.next_call_at, Some(t(60)));
    assert_eq!(c.next_call_by, "dana");
    assert_eq!(c.last_contact_at, Some(t(10)));
    assert!(
        c.recent_events_summary()
            .contains("Call: no answer | spoke")
    );
    assert_eq!(c.version, 2);
}

#[test]
fn contact_attempt_without_next_call_clears_it() {
    let mut c = new_client();
    changed(&mut c, call(CallOutcome::LeftMessage, Some(60)), 10);
    changed(&mut c, call(CallOutcome::CallWithContent, None), 61);
    assert_eq!(c.next_call_at, None);
    assert_eq!(c.next_call_by, "");
}

#[test]
fn next_call_must_be_after_the_attempt() {
    let mut c = new_client();
    let err = run(&mut c, call(CallOutcome::ShortCall, Some(10)), 10).unwrap_err();
    assert!(
        matches!(err, DomainError::InvalidArgument { ref violations, .. } if violations[0].field == "next_call_at")
    );
}

#[test]
fn a_late_older_call_does_not_move_last_call_back_or_touch_the_next_call() {
    let mut c = new_client();
    changed(&mut c, call(CallOutcome::CallWithContent, Some(120)), 30);
    changed(&mut c, call(CallOutcome::NoAnswer, None), 5);
    assert_eq!(c.last_call_at, Some(t(30)));
    assert_eq!(c.last_call_outcome, CallOutcome::CallWithContent);
    assert_eq!(c.next_call_at, Some(t(120)));
    assert_eq!(c.last_contact_at, Some(t(30)));
    // the late entry is still in the summary, below the newer one
    let s = c.recent_events_summary();
    assert!(s.find("Call |").unwrap() < s.find("Call: no answer").unwrap());
}

#[test]
fn email_advances_without_a_summary_line_but_sms_adds_one() {
    let mut c = new_client();
    changed(
        &mut c,
        Action::MessageSent {
            channel: Channel::Email,
            note: "offer".into(),
        },
        1,
    );
    assert_eq!(c.stage, Stage::FollowUp);
    assert_eq!(c.recent_events_summary(), "");
    assert_eq!(c.last_contact_at, Some(t(1)));
    changed(
        &mut c,
        Action::MessageSent {
            channel: Channel::Sms,
            note: "hi".into(),
        },
        2,
    );
    assert!(c.recent_events_summary().contains("SMS | hi"));
    assert_eq!(c.last_contact_at, Some(t(2)));
}

#[test]
fn schedule_meeting_advances_to_follow_up_and_stamps_nothing() {
    let mut c = new_client();
    changed(
        &mut c,
        Action::ScheduleMeeting {
            meeting_at: t(300),
            note: String::new(),
        },
        1,
    );
    assert_eq!(c.stage, Stage::FollowUp);
    assert_eq!(c.last_contact_at, None);
    assert_eq!(c.first_meeting_at, None);
}

#[test]
fn summarize_meeting_stamps_first_once_and_last_latest() {
    let mut c = new_client();
    let meeting = || Action::SummarizeMeeting { note: "met".into() };
    changed(&mut c, meeting(), 50);
    assert_eq!(c.stage, Stage::FollowUpMeetingOrQuote);
    changed(&mut c, meeting(), 80);
    changed(&mut c, meeting(), 20);
    assert_eq!(c.first_meeting_at, Some(t(20)));
    assert_eq!(c.last_meeting_at, Some(t(80)));
    assert_eq!(c.last_contact_at, Some(t(80)));
    assert!(c.recent_events_summary().contains("Meeting summary | met"));
}

#[test]
fn issue_quote_stamps_first_quote_once() {
    let mut c = new_client();
    changed(
        &mut c,
        Action::IssueQuote {
            quote_id: "Q1".into(),
            note: String::new(),
        },
        40,
    );
    changed(
        &mut c,
        Action::IssueQuote {
            quote_id: "Q2".into(),
            note: String::new(),
        },
        90,
    );
    assert_eq!(c.stage, Stage::FollowUpMeetingOrQuote);
    assert_eq!(c.first_quote_at, Some(t(40)));
}

#[test]
fn approve_order_invoice_and_trading_account_make_a_prospect_real() {
    for action in [
        Action::ApproveOrder {
            order_id: "O1".into(),
            note: String::new(),
        },
        invoice("I1"),
        Action::OpenTradingAccount {
            trading_account_id: "MT-1".into(),
            note: String::new(),
        },
    ] {
        let mut c = new_client();
        let ch = changed(&mut c, action.clone(), 5);
        assert_eq!(c.stage, Stage::Real, "{action:?}");
        assert_eq!(c.became_real_at, Some(t(5)));
        assert_eq!(ch.alerts, vec![AlertKind::BecameReal]);
    }
    let mut c = new_client();
    changed(
        &mut c,
        Action::OpenTradingAccount {
            trading_account_id: "MT-1".into(),
            note: String::new(),
        },
        5,
    );
    assert_eq!(c.trading_account_ids, vec!["MT-1".to_string()]);
}

#[test]
fn became_real_at_is_written_once_at_the_earliest_time() {
    let mut c = new_client();
    changed(&mut c, invoice("I1"), 50);
    let ch = changed(&mut c, invoice("I2"), 10);
    assert_eq!(c.became_real_at, Some(t(10)));
    assert!(ch.alerts.is_empty(), "already real: no second BECAME_REAL");
}

#[test]
fn paid_service_makes_real_club_even_from_not_interested() {
    let mut c = client_at(Stage::NotInterested);
    changed(&mut c, paid("S1"), 5);
    assert_eq!(c.stage, Stage::RealClubOrContract);
    assert_eq!(c.became_real_at, Some(t(5)));
}

#[test]
fn not_interested_stays_on_a_call_but_a_first_invoice_makes_it_real() {
    let mut c = client_at(Stage::NotInterested);
    changed(&mut c, call(CallOutcome::NoAnswer, None), 1);
    assert_eq!(c.stage, Stage::NotInterested);
    changed(&mut c, invoice("I1"), 2);
    assert_eq!(c.stage, Stage::Real);
}

#[test]
fn frozen_stays_frozen_whatever_arrives() {
    let mut c = client_at(Stage::Frozen);
    changed(&mut c, paid("S1"), 1);
    changed(&mut c, invoice("I1"), 2);
    changed(&mut c, call(CallOutcome::CallWithContent, None), 3);
    assert_eq!(c.stage, Stage::Frozen);
}

#[test]
fn extra_properties_mean_a_deal_only_when_the_setting_is_on() {
    let props = || Action::RecordExtraProperties {
        properties: BTreeMap::from([("size".to_string(), "XL".to_string())]),
    };
    let mut c = new_client();
    changed(&mut c, props(), 1);
    assert_eq!(c.stage, Stage::New);
    assert_eq!(c.became_real_at, None);
    assert_eq!(
        c.custom_properties.get("size").map(String::as_str),
        Some("XL")
    );

    let on = Settings {
        extra_properties_mean_deal: true,
    };
    let mut c = new_client();
    let ctx = Ctx {
        settings: &on,
        ..ctx_at(3)
    };
    apply(&mut c, &props(), &ctx, None, None).unwrap();
    assert_eq!(c.stage, Stage::Real);
    assert_eq!(c.became_real_at, Some(t(3)));
}

#[test]
fn declare_not_interested_only_below_real() {
    for stage in Stage::ALL {
        let mut c = client_at(stage);
        let r = run(
            &mut c,
            Action::DeclareNotInterested {
                note: "no budget".into(),
                reason_status_id: PRICE,
            },
            1,
        );
        if stage < Stage::Real {
            assert!(r.is_ok(), "{stage:?}");
            assert_eq!(c.stage, Stage::NotInterested);
            assert_eq!(c.not_interested_reason, "Price");
            assert_eq!(c.status_id, PRICE);
            assert!(c.recent_events_summary().contains("no budget"));
        } else {
            assert!(
                matches!(
                    r,
                    Err(DomainError::FailedPrecondition {
                        reason: "NOT_INTERESTED_ONLY_BELOW_REAL",
                        ..
                    })
                ),
                "{stage:?}"
            );
            assert_eq!(c.stage, stage);
        }
    }
}

#[test]
fn declare_frozen_only_from_real() {
    for stage in Stage::ALL {
        let mut c = client_at(stage);
        let r = run(
            &mut c,
            Action::DeclareFrozen {
                frozen_message: "call legal".into(),
                note: "stopped".into(),
                reason_status_id: None,
            },
            1,
        );
        if matches!(stage, Stage::Real | Stage::RealClubOrContract) {
            assert_eq!(
                r.unwrap(),
                Effect::Changed(Change {
                    cause: "DeclareFrozen",
                    old_stage: Some(stage),
                    new_stage: Stage::Frozen,
                    old_status_id: Some(catalog::builtin_default_status(stage)),
                    new_status_id: catalog::builtin_default_status(Stage::Frozen),
                    note: "stopped".into(),
                    details: BTreeMap::from([
                        ("frozen_message".to_string(), "call legal".to_string()),
                        (
                            "old_status_id".to_string(),
                            catalog::builtin_default_status(stage).to_string()
                        ),
                        ("new_status_id".to_string(), "7".to_string()),
                    ]),
                    alerts: vec![AlertKind::Frozen],
                    event: Some(StatusEvent::StageChanged),
                })
            );
            assert_eq!(c.frozen_message, "call legal");
        } else {
            assert!(
                matches!(
                    r,
                    Err(DomainError::FailedPrecondition {
                        reason: "FROZEN_ONLY_FROM_REAL",
                        ..
                    })
                ),
                "{stage:?}"
            );
        }
    }
}

#[test]
fn declare_fictitious_only_from_new_and_restore_brings_it_back() {
    for stage in Stage::ALL {
        let mut c = client_at(stage);
        let r = run(
            &mut c,
            Action::DeclareFictitious {
                note: "n".into(),
                fictitious_reason: "test data".into(),
            },
            1,
        );
        assert_eq!(r.is_ok(), stage == Stage::New, "{stage:?}");
    }
    let mut c = new_client();
    changed(
        &mut c,
        Action::DeclareFictitious {
            note: "n".into(),
            fictitious_reason: "test".into(),
        },
        1,
    );
    assert_eq!(c.deleted_at, Some(t(1)));
    assert_eq!(c.deleted_by, "dana");
    let err = run(&mut c, call(CallOutcome::NoAnswer, None), 2).unwrap_err();
    assert!(matches!(
        err,
        DomainError::FailedPrecondition {
            reason: "CLIENT_DELETED",
            ..
        }
    ));
    changed(
        &mut c,
        Action::Restore {
            note: String::new(),
        },
        3,
    );
    assert_eq!(c.deleted_at, None);
    assert_eq!(c.stage, Stage::New, "restored with the stage it had");
    let err = run(
        &mut c,
        Action::Restore {
            note: String::new(),
        },
        4,
    )
    .unwrap_err();
    assert!(matches!(
        err,
        DomainError::FailedPrecondition {
            reason: "CLIENT_NOT_DELETED",
            ..
        }
    ));
}

#[test]
fn set_status_moves_anywhere_including_down() {
    let mut c = client_at(Stage::Frozen);
    let ch = changed(
        &mut c,
        Action::SetStatus {
            stage: Some(Stage::FollowUp),
            status_id: None,
            reason: "data fix".into(),
        },
        1,
    );
    assert_eq!(c.stage, Stage::FollowUp);
    assert_eq!(ch.note, "data fix");
    changed(
        &mut c,
        Action::SetStatus {
            stage: Some(Stage::Real),
            status_id: None,
            reason: "manual".into(),
        },
        2,
    );
    assert_eq!(c.became_real_at, Some(t(2)));
}

#[test]
fn reassign_resets_to_new_unless_told_not_to_and_stamps_allocation() {
    let mut c = client_at(Stage::FollowUpMeetingOrQuote);
    changed(
        &mut c,
        Action::Reassign {
            new_owner: "avi".into(),
            reset_stage: true,
            note: String::new(),
        },
        5,
    );
    assert_eq!((c.owner.as_str(), c.stage), ("avi", Stage::New));
    assert_eq!(c.last_allocated_at, Some(t(5)));
    let mut c = client_at(Stage::FollowUpMeetingOrQuote);
    changed(
        &mut c,
        Action::Reassign {
            new_owner: "avi".into(),
            reset_stage: false,
            note: String::new(),
        },
        5,
    );
    assert_eq!(c.stage, Stage::FollowUpMeetingOrQuote);
}

#[test]
fn a_document_recorded_twice_changes_nothing_and_another_clients_document_is_refused() {
    let mut c = new_client();
    let before = c.clone();
    assert_eq!(
        apply(&mut c, &invoice("I1"), &ctx_at(1), None, Some(7)).unwrap(),
        Effect::AlreadyRecorded
    );
    assert_eq!(c, before);
    let err = apply(&mut c, &invoice("I1"), &ctx_at(1), None, Some(8)).unwrap_err();
    assert!(matches!(
        err,
        DomainError::DocumentOwnedByOther { owner: 8, .. }
    ));
}

#[test]
fn expected_version_mismatch_is_refused() {
    let mut c = new_client();
    let err = apply(
        &mut c,
        &call(CallOutcome::NoAnswer, None),
        &ctx_at(1),
        Some(5),
        None,
    )
    .unwrap_err();
    assert_eq!(
        err,
        DomainError::VersionMismatch {
            subject: "clients/7".into(),
            expected: 5,
            actual: 1
        }
    );
    assert!(
        apply(
            &mut c,
            &call(CallOutcome::NoAnswer, None),
            &ctx_at(1),
            Some(1),
            None
        )
        .is_ok()
    );
}

#[test]
fn interested_again_marks_the_lead_and_raises_the_alert() {
    let mut c = client_at(Stage::FollowUp);
    let ch = interested_again(&mut c, "email", &ctx_at(1));
    assert_eq!(c.lead_status, LeadStatus::InterestedAgain);
    assert_eq!(c.stage, Stage::FollowUp);
    assert_eq!(ch.alerts, vec![AlertKind::InterestedAgain]);
    assert_eq!(c.version, 2);
}

#[test]
fn occurred_at_defaults_to_now_and_may_not_be_in_the_future() {
    assert_eq!(resolve_occurred_at(None, t(0)).unwrap(), t(0));
    assert_eq!(resolve_occurred_at(Some(t(-60)), t(0)).unwrap(), t(-60));
    assert!(
        resolve_occurred_at(Some(t(4)), t(0)).is_ok(),
        "clock skew allowed"
    );
    assert!(resolve_occurred_at(Some(t(10)), t(0)).is_err());
}

#[test]
fn leaving_not_interested_clears_its_reason() {
    let mut c = new_client();
    changed(
        &mut c,
        Action::DeclareNotInterested {
            note: "n".into(),
            reason_status_id: PRICE,
        },
        1,
    );
    changed(&mut c, invoice("I9"), 2);
    assert_eq!(c.not_interested_reason, "");
}

#[test]
fn stage_changes_deletes_and_restores_write_status_events_and_nothing_else_does() {
    let mut c = new_client();
    let ch = changed(
        &mut c,
        Action::ScheduleMeeting {
            meeting_at: t(9),
            note: String::new(),
        },
        1,
    );
    assert_eq!(ch.event, Some(StatusEvent::StageChanged));
    let ch = changed(&mut c, call(CallOutcome::NoAnswer, None), 2);
    assert_eq!(ch.event, None, "FOLLOW_UP to FOLLOW_UP is no change");
    let ch = changed(
        &mut c,
        Action::SetStatus {
            stage: Some(Stage::FollowUp),
            status_id: None,
            reason: "same".into(),
        },
        3,
    );
    assert_eq!(ch.event, None);
    let mut c = new_client();
    let ch = changed(
        &mut c,
        Action::DeclareFictitious {
            note: "n".into(),
            fictitious_reason: "r".into(),
        },
        1,
    );
    assert_eq!(ch.event, Some(StatusEvent::Deleted));
    let ch = changed(
        &mut c,
        Action::Restore {
            note: String::new(),
        },
        2,
    );
    assert_eq!(ch.event, Some(StatusEvent::Restored));
}

#[test]
fn timers_follow_the_clients_state() {
    use super::alerts::{AlertSettings, timers};
    let kinds = |c: &Client| timers(c).into_iter().map(|t| t.kind).collect::<Vec<_>>();
    let mut c = new_client(); // HOT lead, no contact yet
    assert_eq!(kinds(&c), vec![AlertKind::HotLeadUntouched]);
    assert_eq!(timers(&c)[0].base_at, c.created_at);
    changed(&mut c, call(CallOutcome::LeftMessage, Some(60)), 10);
    assert_eq!(
        kinds(&c),
        vec![AlertKind::NextCallDue, AlertKind::FollowUpStale]
    );
    let stale = timers(&c)
        .into_iter()
        .find(|t| t.kind == AlertKind::FollowUpStale)
        .unwrap();
    assert_eq!(stale.base_at, t(10), "stale counts from the last contact");
    changed(&mut c, invoice("I"), 11);
    assert_eq!(
        kinds(&c),
        vec![AlertKind::NextCallDue],
        "a REAL client is not in follow-up"
    );
    changed(&mut c, call(CallOutcome::CallWithContent, None), 12);
    assert!(kinds(&c).is_empty());
    let mut c = new_client();
    changed(
        &mut c,
        Action::DeclareFictitious {
            note: "n".into(),
            fictitious_reason: "r".into(),
        },
        1,
    );
    assert!(timers(&c).is_empty(), "deleted clients raise nothing");
    let s = AlertSettings::default();
    assert_eq!(s.delay(AlertKind::HotLeadUntouched), Duration::minutes(15));
    assert_eq!(s.delay(AlertKind::FollowUpStale), Duration::days(14));
    assert_eq!(s.delay(AlertKind::NextCallDue), Duration::zero());
}

/// Every automatic action, from every stage: stage = max(current, floor).
#[test]
fn every_automatic_advance_is_forward_only_from_every_stage() {
    let on = Settings {
        extra_properties_mean_deal: true,
    };
    let actions: Vec<(Action, Stage)> = vec![
        (call(CallOutcome::NoAnswer, None), Stage::FollowUp),
        (
            Action::MessageSent {
                channel: Channel::Email,
                note: String::new(),
            },
            Stage::FollowUp,
        ),
        (
            Action::MessageSent {
                channel: Channel::Sms,
                note: String::new(),
            },
            Stage::FollowUp,
        ),
        (
            Action::ScheduleMeeting {
                meeting_at: t(9),
                note: String::new(),
            },
            Stage::FollowUp,
        ),
        (
            Action::SummarizeMeeting { note: "m".into() },
            Stage::FollowUpMeetingOrQuote,
        ),
        (
            Action::IssueQuote {
                quote_id: "Q".into(),
                note: String::new(),
            },
            Stage::FollowUpMeetingOrQuote,
        ),
        (
            Action::ApproveOrder {
                order_id: "O".into(),
                note: String::new(),
            },
            Stage::Real,
        ),
        (invoice("I"), Stage::Real),
        (
            Action::OpenTradingAccount {
                trading_account_id: "T".into(),
                note: String::new(),
            },
            Stage::Real,
        ),
        (paid("S"), Stage::RealClubOrContract),
        (
            Action::RecordExtraProperties {
                properties: BTreeMap::from([("k".to_string(), "v".to_string())]),
            },
            Stage::Real,
        ),
    ];
    for (action, floor) in actions {
        for stage in Stage::ALL {
            let mut c = client_at(stage);
            let ctx = Ctx {
                settings: &on,
                ..ctx_at(1)
            };
            apply(&mut c, &action, &ctx, None, None).unwrap();
            assert_eq!(c.stage, stage.max(floor), "{action:?} from {stage:?}");
        }
    }
}

#[test]
fn clearing_extra_properties_is_no_deal() {
    let on = Settings {
        extra_properties_mean_deal: true,
    };
    let mut c = new_client();
    let clear = Action::RecordExtraProperties {
        properties: BTreeMap::from([("k".to_string(), String::new())]),
    };
    apply(
        &mut c,
        &clear,
        &Ctx {
            settings: &on,
            ..ctx_at(1)
        },
        None,
        None,
    )
    .unwrap();
    assert_eq!(c.stage, Stage::New);
    assert_eq!(c.became_real_at, None);
}

#[test]
fn a_client_holds_a_bounded_number_of_properties() {
    let mut c = new_client();
    for batch in 0..2 {
        let properties = (0..100)
            .map(|i| (format!("k{batch}-{i}"), "v".to_string()))
            .collect();
        changed(&mut c, Action::RecordExtraProperties { properties }, 1);
    }
    let one_more = Action::RecordExtraProperties {
        properties: BTreeMap::from([("extra".to_string(), "v".to_string())]),
    };
    assert!(matches!(
        run(&mut c, one_more, 2),
        Err(DomainError::InvalidArgument { .. })
    ));
}

#[test]
fn first_quote_keeps_the_earliest_even_when_quotes_arrive_late() {
    let mut c = new_client();
    changed(
        &mut c,
        Action::IssueQuote {
            quote_id: "Q2".into(),
            note: String::new(),
        },
        90,
    );
    changed(
        &mut c,
        Action::IssueQuote {
            quote_id: "Q1".into(),
            note: String::new(),
        },
        40,
    );
    assert_eq!(c.first_quote_at, Some(t(40)));
}

#[test]
fn last_allocated_never_moves_earlier() {
    let mut c = new_client();
    let reassign = || Action::Reassign {
        new_owner: "x".into(),
        reset_stage: false,
        note: String::new(),
    };
    changed(&mut c, reassign(), 50);
    changed(&mut c, reassign(), 10);
    assert_eq!(c.last_allocated_at, Some(t(50)));
}

#[test]
fn documents_and_declarations_without_a_star_do_not_stamp_last_contact() {
    for action in [
        Action::IssueQuote {
            quote_id: "Q".into(),
            note: String::new(),
        },
        Action::ApproveOrder {
            order_id: "O".into(),
            note: String::new(),
        },
        invoice("I"),
        Action::OpenTradingAccount {
            trading_account_id: "T".into(),
            note: String::new(),
        },
        paid("S"),
        Action::ScheduleMeeting {
            meeting_at: t(9),
            note: String::new(),
        },
        Action::SetStatus {
            stage: Some(Stage::FollowUp),
            status_id: None,
            reason: "r".into(),
        },
        Action::Reassign {
            new_owner: "x".into(),
            reset_stage: true,
            note: String::new(),
        },
    ] {
        let mut c = new_client();
        changed(&mut c, action.clone(), 5);
        assert_eq!(c.last_contact_at, None, "{action:?}");
    }
}

#[test]
fn became_real_at_is_stamped_the_first_time_a_client_enters_real_even_from_frozen() {
    let mut c = new_client();
    changed(
        &mut c,
        Action::SetStatus {
            stage: Some(Stage::Frozen),
            status_id: None,
            reason: "import".into(),
        },
        1,
    );
    let ch = changed(
        &mut c,
        Action::SetStatus {
            stage: Some(Stage::Real),
            status_id: None,
            reason: "fix".into(),
        },
        2,
    );
    assert_eq!(c.became_real_at, Some(t(2)));
    assert_eq!(ch.alerts, vec![AlertKind::BecameReal]);
}

// --- The catalogue's statuses (spec section 3) ---

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
