//! The timeline's definition, case by case, on hand-made histories.
use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};

use super::*;
use Stage::*;

fn t(day: u32) -> Timestamp {
    Utc.with_ymd_and_hms(2026, 3, day, 9, 0, 0).unwrap()
}

fn step(day: u32, entry_id: i64, mv: Move) -> Step {
    Step {
        at: t(day),
        entry_id,
        mv,
    }
}

/// (stage, entered day, left day) of each visit.
fn path(visits: &[Visit]) -> Vec<(Stage, Timestamp, Option<Timestamp>)> {
    visits
        .iter()
        .map(|v| (v.stage, v.entered_at, v.left_at))
        .collect()
}

fn no_details() -> BTreeMap<String, String> {
    BTreeMap::new()
}

#[test]
fn each_cause_moves_the_path_as_its_rule_moves_the_stage() {
    let d = no_details();
    assert_eq!(move_of("CreateClient", None, New, &d), Move::Start(New));
    // A lead re-sent: an entry on an existing client, nothing to the path.
    assert_eq!(move_of("CreateClient", Some(Real), Real, &d), Move::Nothing);
    for cause in [
        "RecordContactAttempt",
        "RecordMessageSent",
        "ScheduleMeeting",
    ] {
        assert_eq!(
            move_of(cause, Some(Real), Real, &d),
            Move::Propose(FollowUp),
            "{cause}"
        );
    }
    for cause in ["SummarizeMeeting", "IssueQuote"] {
        assert_eq!(
            move_of(cause, Some(New), FollowUpMeetingOrQuote, &d),
            Move::Propose(FollowUpMeetingOrQuote)
        );
    }
    for cause in ["ApproveOrder", "RecordInvoice", "OpenTradingAccount"] {
        assert_eq!(
            move_of(cause, Some(Frozen), Frozen, &d),
            Move::Propose(Real)
        );
    }
    assert_eq!(
        move_of("RecordPaidService", Some(New), RealClubOrContract, &d),
        Move::Propose(RealClubOrContract)
    );
    assert_eq!(
        move_of("RecordExtraProperties", Some(New), Real, &d),
        Move::Propose(Real)
    );
    assert_eq!(
        move_of("RecordExtraProperties", Some(New), New, &d),
        Move::Nothing
    );
    assert_eq!(
        move_of("MergeClients", Some(New), Real, &d),
        Move::Propose(Real)
    );
    assert_eq!(move_of("MergeClients", Some(Real), Real, &d), Move::Nothing);
    assert_eq!(
        move_of("SetStatus", Some(Real), FollowUp, &d),
        Move::Set(FollowUp)
    );
    assert_eq!(
        move_of("DeclareNotInterested", Some(FollowUp), NotInterested, &d),
        Move::Set(NotInterested)
    );
    assert_eq!(
        move_of("DeclareFrozen", Some(Real), Frozen, &d),
        Move::Set(Frozen)
    );
    let mut reset = BTreeMap::new();
    reset.insert("reset_stage".to_string(), "true".to_string());
    assert_eq!(move_of("Reassign", Some(New), New, &reset), Move::Set(New));
    reset.insert("reset_stage".to_string(), "false".to_string());
    assert_eq!(move_of("Reassign", Some(Real), Real, &reset), Move::Nothing);
    for cause in [
        "UpdateClient",
        "EraseClient",
        "DeclareFictitious",
        "RestoreClient",
        "DeleteStatus",
    ] {
        assert_eq!(move_of(cause, Some(New), New, &d), Move::Nothing, "{cause}");
    }
    assert_eq!(
        move_of("SomethingNew", Some(New), Real, &d),
        Move::Set(Real),
        "an unknown cause that changed the stage puts it there"
    );
}

#[test]
fn in_order_the_path_is_the_stage_as_it_changed() {
    let visits = replay(vec![
        step(1, 1, Move::Start(New)),
        step(2, 2, Move::Propose(FollowUp)),
        step(3, 3, Move::Propose(FollowUp)),
        step(5, 4, Move::Propose(Real)),
    ]);
    assert_eq!(
        path(&visits),
        vec![
            (New, t(1), Some(t(2))),
            (FollowUp, t(2), Some(t(5))),
            (Real, t(5), None),
        ]
    );
}

#[test]
fn a_late_call_puts_follow_up_before_the_invoice_that_arrived_first() {
    // Arrival: created, invoice (REAL), then a call dated before the invoice.
    let visits = replay(vec![
        step(1, 1, Move::Start(New)),
        step(10, 2, Move::Propose(Real)),
        step(4, 3, Move::Propose(FollowUp)),
    ]);
    assert_eq!(
        path(&visits),
        vec![
            (New, t(1), Some(t(4))),
            (FollowUp, t(4), Some(t(10))),
            (Real, t(10), None),
        ]
    );
}

#[test]
fn a_late_invoice_moves_real_earlier_and_later_calls_stay_in_real() {
    let visits = replay(vec![
        step(1, 1, Move::Start(New)),
        step(3, 2, Move::Propose(FollowUp)),
        step(8, 3, Move::Propose(FollowUp)),
        // Recorded last, dated day 5: the call of day 8 came after it.
        step(5, 4, Move::Propose(Real)),
    ]);
    let t = Timeline::of_path(&visits, None);
    assert_eq!(
        t.dates_of(Real).map(|d| d.first_entered_at),
        Some(super::tests::t(5))
    );
    assert_eq!(
        t.dates_of(FollowUp).map(|d| d.last_entered_at),
        Some(super::tests::t(3))
    );
    assert_eq!(t.path, Some(Real));
}

#[test]
fn set_status_down_and_back_up_keeps_the_first_entry_and_moves_the_last() {
    let visits = replay(vec![
        step(1, 1, Move::Start(New)),
        step(2, 2, Move::Propose(FollowUp)),
        step(3, 3, Move::Set(New)),
        step(6, 4, Move::Propose(FollowUp)),
    ]);
    let tl = Timeline::of_path(&visits, None);
    let fu = tl.dates_of(FollowUp).unwrap();
    assert_eq!((fu.first_entered_at, fu.last_entered_at), (t(2), t(6)));
    let new = tl.dates_of(New).unwrap();
    assert_eq!((new.first_entered_at, new.last_entered_at), (t(1), t(3)));
    assert_eq!(visits.len(), 4);
}

#[test]
fn an_explicit_move_replays_where_it_happened_not_where_it_arrived() {
    // SetStatus to NEW dated day 9 arrived before a call dated day 4: by time, the call came
    // first, then the reset.
    let visits = replay(vec![
        step(1, 1, Move::Start(New)),
        step(9, 2, Move::Set(New)),
        step(4, 3, Move::Propose(FollowUp)),
    ]);
    assert_eq!(
        path(&visits),
        vec![
            (New, t(1), Some(t(4))),
            (FollowUp, t(4), Some(t(9))),
            (New, t(9), None)
        ]
    );
}

#[test]
fn a_set_to_the_stage_the_path_is_in_is_no_new_entry() {
    let visits = replay(vec![
        step(1, 1, Move::Start(New)),
        step(2, 2, Move::Set(New)),
        step(3, 3, Move::Nothing),
    ]);
    assert_eq!(path(&visits), vec![(New, t(1), None)]);
}

#[test]
fn ties_in_time_replay_in_entry_order() {
    let visits = replay(vec![
        step(1, 1, Move::Start(New)),
        step(2, 3, Move::Set(New)),
        step(2, 2, Move::Propose(FollowUp)),
    ]);
    assert_eq!(
        path(&visits),
        vec![
            (New, t(1), Some(t(2))),
            (FollowUp, t(2), Some(t(2))),
            (New, t(2), None)
        ]
    );
}

#[test]
fn an_event_dated_before_the_creation_starts_the_path_at_its_time() {
    let visits = replay(vec![
        step(5, 1, Move::Start(New)),
        step(3, 2, Move::Propose(FollowUp)),
    ]);
    assert_eq!(
        path(&visits),
        vec![(New, t(3), Some(t(3))), (FollowUp, t(3), None)]
    );
}

#[test]
fn the_incremental_step_agrees_with_the_replay() {
    let steps = [
        step(1, 1, Move::Start(New)),
        step(2, 2, Move::Propose(FollowUp)),
        step(3, 3, Move::Set(NotInterested)),
        step(4, 4, Move::Propose(FollowUp)),
        step(5, 5, Move::Propose(RealClubOrContract)),
        step(6, 6, Move::Set(Frozen)),
    ];
    let mut visits = Vec::new();
    let mut tl = Timeline::default();
    for s in steps {
        if let Some(next) = next_stage(visits.last().map(|v: &Visit| v.stage), s.mv) {
            enter(&mut visits, next, s.at);
            tl.entered(next, s.at);
        }
    }
    assert_eq!(visits, replay(steps.to_vec()));
    assert_eq!(tl.dates, Timeline::of_path(&visits, None).dates);
}

#[test]
fn reaching_a_stage_counts_the_stages_beyond_it_on_the_sales_path() {
    assert!(reaches(Real, FollowUp), "a skipped stage counts as reached");
    assert!(reaches(Frozen, Real) && reaches(RealClubOrContract, Real));
    assert!(!reaches(NotInterested, FollowUp), "a side branch does not");
    assert!(!reaches(Real, NotInterested));
    assert!(!reaches(Frozen, RealClubOrContract));
    assert!(!reaches(FollowUp, FollowUpMeetingOrQuote));
    for s in Stage::ALL {
        assert!(reaches(s, s));
    }
}

#[test]
fn first_entries_say_when_each_stage_was_next_reached() {
    let visits = replay(vec![
        step(1, 1, Move::Start(New)),
        step(2, 2, Move::Propose(Real)),
        step(4, 3, Move::Set(FollowUp)),
        step(7, 4, Move::Propose(Real)),
    ]);
    let firsts = firsts(&visits);
    let stages: Vec<Stage> = firsts.iter().map(|f| f.stage).collect();
    assert_eq!(
        stages,
        vec![New, Real, FollowUp],
        "REAL's second entry is no first"
    );
    let fu = FollowUp.rank() as usize;
    let real = Real.rank() as usize;
    // From NEW (day 1): FOLLOW_UP reached on day 2, by the skip to REAL.
    assert_eq!(firsts[0].reached[fu], Some(t(2)));
    // From FOLLOW_UP (day 4): REAL next reached on day 7, not day 2.
    assert_eq!(firsts[2].entered_at, t(4));
    assert_eq!(firsts[2].reached[real], Some(t(7)));
    assert_eq!(firsts[2].reached[NotInterested.rank() as usize], None);
    // A stage reaches itself at its own entry.
    assert_eq!(firsts[1].reached[real], Some(t(2)));
}

#[test]
fn a_merge_takes_the_earliest_first_and_the_latest_last_entry() {
    let mut survivor = Timeline::start(New, t(10));
    survivor.entered(FollowUp, t(12));
    let mut other = Timeline::start(New, t(2));
    other.entered(FollowUp, t(3));
    other.entered(Real, t(4));
    other.entered(FollowUp, t(20));
    survivor.absorb(&other);
    let d = |s| {
        survivor
            .dates_of(s)
            .map(|d| (d.first_entered_at, d.last_entered_at))
    };
    assert_eq!(d(New), Some((t(2), t(10))));
    assert_eq!(d(FollowUp), Some((t(3), t(20))));
    assert_eq!(d(Real), Some((t(4), t(4))));
    assert_eq!(
        survivor.path,
        Some(New),
        "absorbing dates leaves the path alone"
    );
}

#[test]
fn the_timeline_is_stored_compactly_and_read_back() {
    let mut tl = Timeline::start(New, t(1));
    tl.entered(Real, t(2));
    let json = serde_json::to_string(&tl).unwrap();
    assert!(json.contains("\"first\":"), "{json}");
    let back: Timeline = serde_json::from_str(&json).unwrap();
    assert_eq!(back, tl);
    let old: Timeline = serde_json::from_str("{}").unwrap();
    assert_eq!(old, Timeline::default());
}
