//! Rules that hold across every action: forward-only, stamps under late events, limits.
use std::collections::BTreeMap;

use super::super::super::*;
use super::super::apply;
use super::*;

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
