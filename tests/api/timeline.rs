//! The stage timeline: the dates each client entered each stage by occurred_at, whatever order
//! events arrive in, and the three reports built on them, against numbers worked out by hand.
use clientstatus::proto::*;
use tonic::Code;

use crate::helpers::*;

/// 2026-03-DD at HH:00 UTC.
pub fn at(day: u32, hour: u32) -> prost_types::Timestamp {
    ts(&format!("2026-03-{day:02}T{hour:02}:00:00Z"))
}

fn seconds(t: &prost_types::Timestamp) -> i64 {
    t.seconds
}

pub async fn create_at(app: &mut TestApp, name: &str, owner: &str, when: prost_types::Timestamp) -> i64 {
    app.create_with(CreateClientRequest {
        name: Some(ClientName {
            last_name: name.into(),
            ..Default::default()
        }),
        owner: owner.into(),
        record_source: "web".into(),
        occurred_at: Some(when),
        ..Default::default()
    })
    .await
    .client_id
}

pub async fn call_at(app: &mut TestApp, client_id: i64, when: prost_types::Timestamp) -> Client {
    app.api
        .record_contact_attempt(RecordContactAttemptRequest {
            request_id: rid(),
            client_id,
            occurred_at: Some(when),
            outcome: CallOutcome::NoAnswer as i32,
            ..Default::default()
        })
        .await
        .expect("call")
        .into_inner()
        .client
        .expect("client")
}

pub async fn invoice_at(app: &mut TestApp, client_id: i64, when: prost_types::Timestamp) -> Client {
    app.api
        .record_invoice(RecordInvoiceRequest {
            request_id: rid(),
            client_id,
            occurred_at: Some(when),
            document_type: AccountingDocumentType::Invoice as i32,
            document_number: rid(),
            ..Default::default()
        })
        .await
        .expect("invoice")
        .into_inner()
        .client
        .expect("client")
}

async fn quote_at(app: &mut TestApp, client_id: i64, when: prost_types::Timestamp) -> Client {
    app.api
        .issue_quote(IssueQuoteRequest {
            request_id: rid(),
            client_id,
            occurred_at: Some(when),
            quote_id: rid(),
            ..Default::default()
        })
        .await
        .expect("quote")
        .into_inner()
        .client
        .expect("client")
}

pub async fn set_at(
    app: &mut TestApp,
    client_id: i64,
    stage: ClientStage,
    when: prost_types::Timestamp,
) -> Client {
    app.api
        .set_status(SetStatusRequest {
            request_id: rid(),
            client_id,
            occurred_at: Some(when),
            stage: stage as i32,
            reason: "manager".into(),
            ..Default::default()
        })
        .await
        .expect("set status")
        .into_inner()
        .client
        .expect("client")
}

/// (first, last) entry of `stage`, in seconds; None if never entered.
fn dates(c: &Client, stage: ClientStage) -> Option<(i64, i64)> {
    let d = c
        .stage_dates
        .iter()
        .find(|d| d.stage == stage as i32)
        .expect("every stage is listed");
    match (&d.first_entered_at, &d.last_entered_at) {
        (Some(f), Some(l)) => Some((seconds(f), seconds(l))),
        (None, None) => None,
        other => panic!("half a date: {other:?}"),
    }
}

fn s(day: u32, hour: u32) -> i64 {
    at(day, hour).seconds
}

#[tokio::test]
async fn each_date_is_where_its_event_happened_whatever_order_events_arrive_in() {
    let mut app = spawn_app().await;
    let id = create_at(&mut app, "Late", "avi", at(1, 9)).await;
    // The invoice of the 10th arrives first; the call of the 5th after it.
    let c = invoice_at(&mut app, id, at(10, 9)).await;
    assert_eq!(dates(&c, ClientStage::Real), Some((s(10, 9), s(10, 9))));
    assert_eq!(dates(&c, ClientStage::FollowUp), None);
    let c = call_at(&mut app, id, at(5, 9)).await;
    assert_eq!(stage(&c), ClientStage::Real, "the forward-only rule is unchanged");
    assert_eq!(dates(&c, ClientStage::New), Some((s(1, 9), s(1, 9))));
    assert_eq!(dates(&c, ClientStage::FollowUp), Some((s(5, 9), s(5, 9))));
    assert_eq!(dates(&c, ClientStage::Real), Some((s(10, 9), s(10, 9))));
    // A quote of the 7th: FOLLOW_UP_MEETING_OR_QUOTE between the call and the invoice.
    quote_at(&mut app, id, at(7, 9)).await;
    // A second invoice dated the 8th: REAL was entered on the 8th, not the 10th.
    let c = invoice_at(&mut app, id, at(8, 9)).await;
    assert_eq!(
        dates(&c, ClientStage::FollowUpMeetingOrQuote),
        Some((s(7, 9), s(7, 9)))
    );
    assert_eq!(dates(&c, ClientStage::Real), Some((s(8, 9), s(8, 9))));
    // An event dated before the lead was recorded: the client existed then, in NEW.
    let c = call_at(&mut app, id, ts("2026-02-27T09:00:00Z")).await;
    let feb27 = ts("2026-02-27T09:00:00Z").seconds;
    assert_eq!(dates(&c, ClientStage::New), Some((feb27, feb27)));
    assert_eq!(dates(&c, ClientStage::FollowUp), Some((feb27, feb27)));
    for never in [
        ClientStage::NotInterested,
        ClientStage::RealClubOrContract,
        ClientStage::Frozen,
    ] {
        assert_eq!(dates(&c, never), None, "{never:?}");
    }
    // What the write answered is what a read gives.
    assert_eq!(app.get(id).await.stage_dates, c.stage_dates);
    assert_eq!(c.stage_dates.len(), 7);
}

#[tokio::test]
async fn set_status_down_and_back_up_keeps_the_first_entry_and_moves_the_last() {
    let mut app = spawn_app().await;
    let id = create_at(&mut app, "Bounce", "avi", at(1, 9)).await;
    call_at(&mut app, id, at(2, 9)).await;
    set_at(&mut app, id, ClientStage::New, at(3, 9)).await;
    let c = call_at(&mut app, id, at(4, 9)).await;
    assert_eq!(dates(&c, ClientStage::FollowUp), Some((s(2, 9), s(4, 9))));
    assert_eq!(dates(&c, ClientStage::New), Some((s(1, 9), s(3, 9))));
    // Down to NEW and up to REAL by hand: the explicit moves are entries too.
    set_at(&mut app, id, ClientStage::Real, at(6, 9)).await;
    let c = set_at(&mut app, id, ClientStage::FollowUp, at(7, 9)).await;
    assert_eq!(dates(&c, ClientStage::Real), Some((s(6, 9), s(6, 9))));
    assert_eq!(dates(&c, ClientStage::FollowUp), Some((s(2, 9), s(7, 9))));
    // A status of the same stage is no new entry.
    let c = set_at(&mut app, id, ClientStage::FollowUp, at(8, 9)).await;
    assert_eq!(dates(&c, ClientStage::FollowUp), Some((s(2, 9), s(7, 9))));
}

#[tokio::test]
async fn a_late_explicit_move_is_replayed_where_it_happened() {
    let mut app = spawn_app().await;
    let id = create_at(&mut app, "Reset", "avi", at(1, 9)).await;
    call_at(&mut app, id, at(5, 9)).await;
    // SetStatus to NEW dated the 3rd, recorded after the call of the 5th: by time, NEW from
    // the 3rd until the call moved it to FOLLOW_UP again on the 5th.
    let c = set_at(&mut app, id, ClientStage::New, at(3, 9)).await;
    assert_eq!(stage(&c), ClientStage::New, "the stage follows arrival order");
    assert_eq!(dates(&c, ClientStage::New), Some((s(1, 9), s(1, 9))));
    assert_eq!(dates(&c, ClientStage::FollowUp), Some((s(5, 9), s(5, 9))));
}

#[tokio::test]
async fn a_merge_gives_the_survivor_the_earliest_first_and_the_latest_last_entry() {
    let mut app = spawn_app().await;
    let dup = create_at(&mut app, "Dup", "avi", ts("2026-02-01T09:00:00Z")).await;
    call_at(&mut app, dup, ts("2026-02-03T09:00:00Z")).await;
    let survivor = create_at(&mut app, "Keep", "avi", at(1, 9)).await;
    call_at(&mut app, survivor, at(5, 9)).await;
    let merged = app
        .api
        .merge_clients(MergeClientsRequest {
            request_id: rid(),
            survivor_client_id: survivor,
            merged_client_ids: vec![dup],
            note: "same person".into(),
            ..Default::default()
        })
        .await
        .expect("merge")
        .into_inner();
    let s_ = merged.survivor.expect("survivor");
    let feb = |d: u32| ts(&format!("2026-02-{d:02}T09:00:00Z")).seconds;
    assert_eq!(dates(&s_, ClientStage::New), Some((feb(1), s(1, 9))));
    assert_eq!(dates(&s_, ClientStage::FollowUp), Some((feb(3), s(5, 9))));
    // A late event on the survivor replays its own path and keeps the duplicate's dates.
    let c = invoice_at(&mut app, survivor, at(4, 9)).await;
    assert_eq!(dates(&c, ClientStage::New), Some((feb(1), s(1, 9))));
    assert_eq!(dates(&c, ClientStage::FollowUp), Some((feb(3), feb(3))), "{c:?}");
    assert_eq!(dates(&c, ClientStage::Real), Some((s(4, 9), s(4, 9))));
    // The merged client keeps its own.
    let gone = &merged.merged[0];
    assert_eq!(dates(gone, ClientStage::New), Some((feb(1), feb(1))));
}

/// The reports' fixture, March 2026 (all at 09:00 UTC), sent partly out of order:
/// - c1 (avi): created the 1st, called the 3rd (sent after its invoice), invoiced the 11th.
/// - c2 (avi): created the 2nd, called the 4th.
/// - c3 (dana): created the 5th, invoiced the 6th (FOLLOW_UP skipped).
/// - c4 (dana): created the 8th, declared not interested the 9th.
/// - c5 (dana): created 20 February, called the 2nd.
/// - c6 (avi): created the 12th, declared fictitious (left out unless include_deleted).
pub async fn fixture(app: &mut TestApp) {
    let c1 = create_at(app, "C1", "avi", at(1, 9)).await;
    invoice_at(app, c1, at(11, 9)).await;
    call_at(app, c1, at(3, 9)).await;
    let c2 = create_at(app, "C2", "avi", at(2, 9)).await;
    call_at(app, c2, at(4, 9)).await;
    let c3 = create_at(app, "C3", "dana", at(5, 9)).await;
    invoice_at(app, c3, at(6, 9)).await;
    let c4 = create_at(app, "C4", "dana", at(8, 9)).await;
    app.api
        .declare_not_interested(DeclareNotInterestedRequest {
            request_id: rid(),
            client_id: c4,
            occurred_at: Some(at(9, 9)),
            note: "no budget".into(),
            reason_status_id: default_status(ClientStage::NotInterested),
            ..Default::default()
        })
        .await
        .expect("not interested");
    let c5 = create_at(app, "C5", "dana", ts("2026-02-20T09:00:00Z")).await;
    call_at(app, c5, at(2, 9)).await;
    let c6 = create_at(app, "C6", "avi", at(12, 9)).await;
    app.api
        .declare_fictitious(DeclareFictitiousRequest {
            request_id: rid(),
            client_id: c6,
            occurred_at: Some(at(12, 10)),
            note: "n".into(),
            fictitious_reason: "bot".into(),
            ..Default::default()
        })
        .await
        .expect("fictitious");
}

pub fn march() -> (Option<prost_types::Timestamp>, Option<prost_types::Timestamp>) {
    (Some(at(1, 0)), Some(ts("2026-04-01T00:00:00Z")))
}

async fn conversion(app: &mut TestApp, r: StageConversionRequest) -> StageConversionResponse {
    app.reports
        .stage_conversion(r)
        .await
        .expect("conversion")
        .into_inner()
}

fn conv(group: &str, entered: i64, reached: i64, within: i64) -> (String, i64, i64, i64) {
    (group.to_string(), entered, reached, within)
}

fn conv_rows(r: &StageConversionResponse) -> Vec<(String, i64, i64, i64)> {
    r.groups
        .iter()
        .map(|g| (g.group.clone(), g.entered, g.reached, g.reached_within))
        .collect()
}

#[tokio::test]
async fn stage_conversion_counts_the_clients_that_went_on() {
    let mut app = spawn_app().await;
    fixture(&mut app).await;
    let (from, to) = march();
    let new_to_fu = StageConversionRequest {
        from,
        to,
        from_stage: ClientStage::New as i32,
        to_stage: ClientStage::FollowUp as i32,
        within_days: 1,
        ..Default::default()
    };
    // Entered NEW in March: c1..c4 (c5 in February, c6 deleted). Reached FOLLOW_UP or beyond:
    // c1 and c2 after 2 days, c3 after exactly 1 day (by its skip to REAL); c4 went aside.
    let r = conversion(&mut app, new_to_fu).await;
    assert_eq!(conv_rows(&r), vec![conv("", 4, 3, 1)]);
    let total = r.total.expect("total");
    assert_eq!((total.entered, total.reached), (4, 3));
    assert!((total.reached_rate - 0.75).abs() < 1e-9);
    assert!((total.reached_within_rate - 0.25).abs() < 1e-9);
    let by_owner = conversion(
        &mut app,
        StageConversionRequest {
            group_by: TimelineGroup::Owner as i32,
            ..new_to_fu
        },
    )
    .await;
    assert_eq!(
        conv_rows(&by_owner),
        vec![conv("avi", 2, 2, 0), conv("dana", 2, 1, 1)]
    );
    let with_deleted = conversion(
        &mut app,
        StageConversionRequest {
            include_deleted: true,
            ..new_to_fu
        },
    )
    .await;
    assert_eq!(conv_rows(&with_deleted), vec![conv("", 5, 3, 1)]);
    // Entered FOLLOW_UP in March: c5 (2nd), c1 (3rd), c2 (4th); c3 skipped it. Only c1 went
    // on to REAL, 8 days later.
    let fu_to_real = |within_days| StageConversionRequest {
        from,
        to,
        from_stage: ClientStage::FollowUp as i32,
        to_stage: ClientStage::Real as i32,
        within_days,
        ..Default::default()
    };
    let r = conversion(&mut app, fu_to_real(7)).await;
    assert_eq!(conv_rows(&r), vec![conv("", 3, 1, 0)]);
    let r = conversion(&mut app, fu_to_real(8)).await;
    assert_eq!(conv_rows(&r), vec![conv("", 3, 1, 1)]);
    let r = conversion(&mut app, fu_to_real(0)).await;
    assert_eq!(conv_rows(&r), vec![conv("", 3, 1, 0)], "within not asked");
}

fn day_secs(days: f64) -> f64 {
    days * 86_400.0
}

fn secs(d: &Option<prost_types::Duration>) -> f64 {
    let d = d.as_ref().expect("a duration");
    d.seconds as f64 + f64::from(d.nanos) / 1e9
}

#[tokio::test]
async fn time_in_stage_gives_the_median_and_90th_percentile_and_counts_those_still_there() {
    let mut app = spawn_app().await;
    fixture(&mut app).await;
    let (from, to) = march();
    let r = app
        .reports
        .time_in_stage(TimeInStageRequest {
            from,
            to,
            stages: vec![
                ClientStage::New as i32,
                ClientStage::FollowUp as i32,
                ClientStage::Real as i32,
            ],
            ..Default::default()
        })
        .await
        .expect("time in stage")
        .into_inner();
    let as_of = r.as_of.expect("as_of");
    let as_of = as_of.seconds as f64 + f64::from(as_of.nanos) / 1e9;
    let stages: Vec<i32> = r.stages.iter().map(|s| s.stage).collect();
    assert_eq!(
        stages,
        vec![
            ClientStage::New as i32,
            ClientStage::FollowUp as i32,
            ClientStage::Real as i32
        ]
    );
    // NEW entered in March: c1 2 days, c2 2 days, c3 1 day, c4 1 day (c5 entered in February).
    // Median of [1, 1, 2, 2] = 1.5 days; the 90th percentile lies at rank 3.7: 2 days.
    let new = &r.stages[0];
    assert_eq!((new.left, new.still_in), (4, 0));
    assert!((secs(&new.median) - day_secs(1.5)).abs() < 1e-6);
    assert!((secs(&new.p90) - day_secs(2.0)).abs() < 1e-6);
    assert!(new.still_in_median.is_none());
    // FOLLOW_UP entered in March: c1 left after 8 days; c5 (2nd) and c2 (4th) are still there.
    let fu = &r.stages[1];
    assert_eq!((fu.left, fu.still_in), (1, 2));
    assert!((secs(&fu.median) - day_secs(8.0)).abs() < 1e-6);
    assert!((secs(&fu.p90) - day_secs(8.0)).abs() < 1e-6);
    let since = |day: u32| as_of - s(day, 9) as f64;
    assert!((secs(&fu.still_in_median) - (since(2) + since(4)) / 2.0).abs() < 1e-3);
    // At rank 1.9: nine tenths of the way from the shorter stay (the 4th) to the longer.
    let p90 = since(4) + 0.9 * (since(2) - since(4));
    assert!((secs(&fu.still_in_p90) - p90).abs() < 1e-3);
    // REAL: c3 (6th) and c1 (11th), both still there.
    let real = &r.stages[2];
    assert_eq!((real.left, real.still_in), (0, 2));
    assert!(real.median.is_none());
    // By owner: NEW for avi is c1 and c2 (2 days each).
    let by_owner = app
        .reports
        .time_in_stage(TimeInStageRequest {
            from: march().0,
            to: march().1,
            stages: vec![ClientStage::New as i32],
            group_by: TimelineGroup::Owner as i32,
            ..Default::default()
        })
        .await
        .expect("by owner")
        .into_inner();
    let rows: Vec<(&str, i64, f64)> = by_owner
        .stages
        .iter()
        .map(|s| (s.group.as_str(), s.left, secs(&s.median) / 86_400.0))
        .collect();
    assert_eq!(rows, vec![("avi", 2, 2.0), ("dana", 2, 1.0)]);
}

fn entry_rows(r: &StageEntriesResponse) -> Vec<(i32, &str, &str, i64)> {
    r.counts
        .iter()
        .map(|c| (c.stage, c.day.as_str(), c.group.as_str(), c.count))
        .collect()
}

#[tokio::test]
async fn stage_entries_count_entries_per_stage_per_day_or_week_in_the_callers_days() {
    let mut app = spawn_app().await;
    fixture(&mut app).await;
    let (from, to) = march();
    use ClientStage::*;
    let (n, fu, real, ni) = (New as i32, FollowUp as i32, Real as i32, NotInterested as i32);
    let daily = app
        .reports
        .stage_entries(StageEntriesRequest {
            from,
            to,
            ..Default::default()
        })
        .await
        .expect("entries")
        .into_inner();
    assert_eq!(
        entry_rows(&daily),
        vec![
            (n, "2026-03-01", "", 1),
            (n, "2026-03-02", "", 1),
            (fu, "2026-03-02", "", 1),
            (fu, "2026-03-03", "", 1),
            (fu, "2026-03-04", "", 1),
            (n, "2026-03-05", "", 1),
            (real, "2026-03-06", "", 1),
            (n, "2026-03-08", "", 1),
            (ni, "2026-03-09", "", 1),
            (real, "2026-03-11", "", 1),
        ]
    );
    // Ten hours behind UTC, 09:00 UTC is 23:00 the day before.
    let behind = app
        .reports
        .stage_entries(StageEntriesRequest {
            from,
            to,
            utc_offset_minutes: -600,
            stages: vec![n],
            ..Default::default()
        })
        .await
        .expect("entries")
        .into_inner();
    let days: Vec<&str> = behind.counts.iter().map(|c| c.day.as_str()).collect();
    assert_eq!(
        days,
        vec!["2026-02-28", "2026-03-01", "2026-03-04", "2026-03-07"]
    );
    // Weeks start on Monday: 1 March 2026 is a Sunday, in the week of 23 February.
    let weekly = app
        .reports
        .stage_entries(StageEntriesRequest {
            from,
            to,
            bucket: TimeBucket::Week as i32,
            group_by: TimelineGroup::Owner as i32,
            ..Default::default()
        })
        .await
        .expect("entries")
        .into_inner();
    assert_eq!(
        entry_rows(&weekly),
        vec![
            (n, "2026-02-23", "avi", 1),
            (n, "2026-03-02", "avi", 1),
            (n, "2026-03-02", "dana", 2),
            (fu, "2026-03-02", "avi", 2),
            (fu, "2026-03-02", "dana", 1),
            (real, "2026-03-02", "dana", 1),
            (ni, "2026-03-09", "dana", 1),
            (real, "2026-03-09", "avi", 1),
        ]
    );
}

#[tokio::test]
async fn first_entries_only_leaves_re_entries_out() {
    let mut app = spawn_app().await;
    let id = create_at(&mut app, "Again", "avi", at(1, 9)).await;
    call_at(&mut app, id, at(2, 9)).await;
    set_at(&mut app, id, ClientStage::New, at(3, 9)).await;
    call_at(&mut app, id, at(4, 9)).await;
    let (from, to) = march();
    let count = |first_entries_only| StageEntriesRequest {
        from,
        to,
        stages: vec![ClientStage::FollowUp as i32],
        bucket: TimeBucket::Week as i32,
        first_entries_only,
        ..Default::default()
    };
    let all = app.reports.stage_entries(count(false)).await.expect("all");
    assert_eq!(all.into_inner().counts[0].count, 2);
    let firsts = app.reports.stage_entries(count(true)).await.expect("firsts");
    assert_eq!(firsts.into_inner().counts[0].count, 1);
}

#[tokio::test]
async fn bad_report_requests_are_invalid_arguments_naming_every_field() {
    let mut app = spawn_app().await;
    let err = app
        .reports
        .stage_conversion(StageConversionRequest {
            within_days: -1,
            group_by: 99,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let mut fields = bad_fields(&err);
    fields.sort();
    assert_eq!(
        fields,
        ["from", "from_stage", "group_by", "to", "to_stage", "within_days"]
    );
    let (from, to) = march();
    let same = app
        .reports
        .stage_conversion(StageConversionRequest {
            from,
            to,
            from_stage: ClientStage::New as i32,
            to_stage: ClientStage::New as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&same), ["to_stage"]);
    let backwards = app
        .reports
        .time_in_stage(TimeInStageRequest {
            from: to,
            to: from,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&backwards), ["to"]);
    let too_long = app
        .reports
        .stage_entries(StageEntriesRequest {
            from: Some(ts("2025-01-01T00:00:00Z")),
            to: Some(ts("2026-03-01T00:00:00Z")),
            utc_offset_minutes: 900,
            bucket: 7,
            stages: vec![42],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(too_long.code(), Code::InvalidArgument);
    let mut fields = bad_fields(&too_long);
    fields.sort();
    assert_eq!(fields, ["bucket", "stages[0]", "to", "utc_offset_minutes"]);
}
