//! MergeClients' rules one by one, on the pure merge.
use std::collections::BTreeMap;

use super::*;
use crate::domain::card::tests::{client, ctx, t};
use crate::domain::rules::Settings;
use crate::domain::summary::SummaryEntry;
use crate::domain::{CallOutcome, Catalog, Stage};

fn run(s: &mut Client, merged: &mut [Client]) -> Result<Merged, DomainError> {
    let (catalog, settings) = (Catalog::default(), Settings::default());
    merge(
        s,
        merged,
        &BTreeMap::new(),
        &ctx(&catalog, &settings),
        None,
        "same person",
    )
}

fn at_stage(id: i64, stage: Stage, status: i64) -> Client {
    let mut c = client(id);
    c.stage = stage;
    c.status_id = status;
    c
}

#[test]
fn the_stage_is_the_highest_and_the_status_the_stages_default_when_it_came_from_another() {
    let mut s = at_stage(1, Stage::FollowUp, 42);
    let mut m = [at_stage(2, Stage::Real, 55), at_stage(3, Stage::New, 1)];
    let merged = run(&mut s, &mut m).unwrap();
    assert_eq!(s.stage, Stage::Real);
    assert_eq!(
        s.status_id,
        crate::domain::catalog::builtin_default_status(Stage::Real)
    );
    assert_eq!(merged.survivor.event, Some(StatusEvent::StageChanged));
    assert_eq!(merged.survivor.old_stage, Some(Stage::FollowUp));
}

#[test]
fn the_survivor_keeps_its_status_when_the_stage_is_its_own() {
    let mut s = at_stage(1, Stage::Real, 55);
    let mut m = [at_stage(2, Stage::Real, 5), at_stage(3, Stage::FollowUp, 2)];
    let merged = run(&mut s, &mut m).unwrap();
    assert_eq!((s.stage, s.status_id), (Stage::Real, 55));
    assert_eq!(merged.survivor.event, None);
}

#[test]
fn first_stamps_are_the_earliest_and_last_stamps_the_latest_of_all() {
    let mut s = client(1);
    s.first_meeting_at = Some(t(50));
    s.last_meeting_at = Some(t(50));
    s.last_contact_at = Some(t(10));
    s.last_call_at = Some(t(10));
    s.last_call_by = "dana".into();
    s.last_call_outcome = CallOutcome::NoAnswer;
    let mut m = client(2);
    m.first_meeting_at = Some(t(20));
    m.last_meeting_at = Some(t(30));
    m.first_quote_at = Some(t(25));
    m.last_contact_at = Some(t(40));
    m.last_call_at = Some(t(40));
    m.last_call_by = "yossi".into();
    m.last_call_outcome = CallOutcome::CallWithContent;
    m.next_call_at = Some(t(90));
    m.next_call_by = "yossi".into();
    let mut merged = [m];
    run(&mut s, &mut merged).unwrap();
    assert_eq!(s.first_meeting_at, Some(t(20)));
    assert_eq!(s.last_meeting_at, Some(t(50)));
    assert_eq!(s.first_quote_at, Some(t(25)));
    assert_eq!(s.last_contact_at, Some(t(40)));
    assert_eq!(s.last_call_at, Some(t(40)));
    assert_eq!(
        (s.last_call_by.as_str(), s.last_call_outcome),
        ("yossi", CallOutcome::CallWithContent),
        "who called and how it went come from the latest call"
    );
    assert_eq!(
        (s.next_call_at, s.next_call_by.as_str()),
        (Some(t(90)), "yossi")
    );
}

#[test]
fn the_summary_is_the_newest_entries_of_all_within_the_limit() {
    let mut s = client(1);
    let mut m = client(2);
    for i in 0..30 {
        let entry = |who: &str| SummaryEntry::new(t(i * 2), who, "Call", &"x".repeat(40));
        crate::domain::summary::add_entry(&mut s.summary, entry("s"));
        let mut later = SummaryEntry::new(t(i * 2 + 1), "m", "Call", &"y".repeat(40));
        later.at = t(i * 2 + 1);
        crate::domain::summary::add_entry(&mut m.summary, later);
    }
    run(&mut s, &mut [m]).unwrap();
    let text = s.recent_events_summary();
    assert!(text.chars().count() <= crate::domain::summary::SUMMARY_LIMIT);
    assert!(
        s.summary.windows(2).all(|w| w[0].at >= w[1].at),
        "newest first"
    );
    assert_eq!(s.summary[0].at, t(59), "the newest of either");
    assert!(text.contains(" | s | ") && text.contains(" | m | "));
}

#[test]
fn details_the_survivor_lacks_are_filled_in_request_order() {
    let mut s = client(1);
    s.email = "s@example.com".into();
    s.custom_properties.insert("colour".into(), "red".into());
    let mut a = client(2);
    a.email = "a@example.com".into();
    a.phone = "050-111".into();
    a.custom_properties.insert("colour".into(), "blue".into());
    a.custom_properties.insert("size".into(), "M".into());
    a.trading_account_ids = vec!["MT-1".into()];
    let mut b = client(3);
    b.phone = "050-222".into();
    b.branch = "Haifa".into();
    b.classifications.industry_id = Some(8);
    let mut merged = [a, b];
    let change = run(&mut s, &mut merged).unwrap();
    assert_eq!(s.email, "s@example.com", "the survivor's own details stay");
    assert_eq!(s.phone, "050-111", "the first merged client's wins");
    assert_eq!(s.branch, "Haifa");
    assert_eq!(s.classifications.industry_id, Some(8));
    assert_eq!(s.custom_properties["colour"], "red");
    assert_eq!(s.custom_properties["size"], "M");
    assert_eq!(s.trading_account_ids, vec!["MT-1".to_string()]);
    assert!(
        merged[0].trading_account_ids.is_empty(),
        "the accounts moved"
    );
    assert_eq!(change.survivor.details["merged_client_ids"], "2,3");
    assert!(change.survivor.details["filled"].contains("phone"));
}

#[test]
fn each_merged_client_names_the_survivor_and_leaves_the_active_set() {
    let mut s = client(1);
    let mut merged = [client(2), client(3)];
    let changes = run(&mut s, &mut merged).unwrap();
    for (m, change) in merged.iter().zip(&changes.merged) {
        assert_eq!(m.merged_into, Some(1));
        assert_eq!(m.version, 2);
        assert_eq!(change.event, Some(StatusEvent::Merged));
        assert_eq!(change.details["merged_into_client_id"], "1");
        assert!(
            crate::domain::alerts::timers(m).is_empty(),
            "no timers on a merged client"
        );
    }
    assert_eq!(s.version, 2);
}

#[test]
fn merging_into_itself_a_deleted_or_a_merged_client_is_refused() {
    let reason = |r: Result<Merged, DomainError>| match r {
        Err(
            DomainError::FailedPrecondition { reason, .. } | DomainError::BecauseOf { reason, .. },
        ) => reason,
        other => panic!("expected a refusal, got {other:?}"),
    };
    assert_eq!(
        reason(run(&mut client(1), &mut [client(1)])),
        "MERGE_INTO_ITSELF"
    );
    let mut deleted = client(1);
    deleted.deleted_at = Some(t(1));
    assert_eq!(
        reason(run(&mut deleted, &mut [client(2)])),
        "CLIENT_DELETED"
    );
    let mut merged = client(1);
    merged.merged_into = Some(9);
    assert_eq!(reason(run(&mut merged, &mut [client(2)])), "CLIENT_MERGED");
    assert_eq!(reason(run(&mut client(2), &mut [merged])), "CLIENT_MERGED");
}

#[test]
fn parents_inside_the_group_are_dropped_and_a_parent_reaching_into_it_is_a_cycle() {
    let (catalog, settings) = (Catalog::default(), Settings::default());
    let ctx = ctx(&catalog, &settings);
    // The survivor was the merged client's child: it takes the merged client's parent.
    let mut s = client(1);
    s.parent_client_id = Some(2);
    let mut m = client(2);
    m.parent_client_id = Some(5);
    let chains: BTreeMap<i64, Vec<i64>> = [(5, vec![5])].into();
    assert_eq!(outside_parents(&s, std::slice::from_ref(&m)), vec![5]);
    merge(&mut s, &mut [m], &chains, &ctx, None, "").unwrap();
    assert_eq!(s.parent_client_id, Some(5));
    // 1's parent is 6, and 6 is a child of 2: once 2 is 1, 1 would be its own ancestor.
    let mut s = client(1);
    s.parent_client_id = Some(6);
    let chains: BTreeMap<i64, Vec<i64>> = [(6, vec![6, 2])].into();
    let err = merge(&mut s, &mut [client(2)], &chains, &ctx, None, "").unwrap_err();
    assert!(matches!(
        err,
        DomainError::FailedPrecondition {
            reason: "PARENT_CYCLE",
            ..
        }
    ));
}

#[test]
fn an_adopted_child_records_its_new_parent() {
    let (catalog, settings) = (Catalog::default(), Settings::default());
    let mut child = client(4);
    child.parent_client_id = Some(2);
    let change = adopt(&mut child, 1, &ctx(&catalog, &settings));
    assert_eq!(child.parent_client_id, Some(1));
    assert_eq!(change.details["old.parent_client_id"], "2");
    assert_eq!(change.event, None);
}
