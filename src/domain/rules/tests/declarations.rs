//! The manual declarations, documents, versions and the lead matched again.
use std::collections::BTreeMap;

use chrono::Duration;

use super::super::super::*;
use super::super::{apply, interested_again, resolve_occurred_at};
use super::*;

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
    assert!(matches!(
        resolve_occurred_at(Some(t(10)), t(0)),
        Err(DomainError::InvalidArgument {
            reason: "TIMESTAMP_IN_FUTURE",
            ..
        })
    ));
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
