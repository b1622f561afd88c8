//! The events of section 2: what each does to the stage and the stamps.
use std::collections::BTreeMap;

use super::super::super::*;
use super::super::apply;
use super::*;

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
