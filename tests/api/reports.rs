//! Reports: the funnel by stage, status and owner, and activity per user per day.
use clientstatus::proto::*;

use crate::helpers::*;

fn owned(last_name: &str, owner: &str) -> CreateClientRequest {
    CreateClientRequest {
        name: Some(ClientName {
            last_name: last_name.into(),
            ..Default::default()
        }),
        owner: owner.into(),
        ..Default::default()
    }
}

async fn funnel(app: &mut TestApp, req: CountClientsRequest) -> CountClientsResponse {
    app.reports
        .count_clients(req)
        .await
        .expect("count")
        .into_inner()
}

fn row(stage: ClientStage, status_id: i64, owner: &str, count: i64) -> ClientCount {
    ClientCount {
        stage: stage as i32,
        status_id,
        owner: owner.into(),
        count,
    }
}

#[tokio::test]
async fn the_funnel_counts_clients_by_stage_status_and_owner() {
    let mut app = spawn_app().await;
    let key = app.add_status(ClientStage::Real, "Key account").await;
    for i in 0..3 {
        app.create_with(owned(&format!("New{i}"), "avi")).await;
    }
    let f1 = app.create_with(owned("F1", "avi")).await.client_id;
    let f2 = app.create_with(owned("F2", "dana")).await.client_id;
    app.call(f1, CallOutcome::NoAnswer).await;
    app.call(f2, CallOutcome::NoAnswer).await;
    let real = app.create_with(owned("R", "dana")).await.client_id;
    app.set_client_status(real, key.status_id).await;
    let gone = app.create_with(owned("Bot", "avi")).await.client_id;
    app.api
        .declare_fictitious(DeclareFictitiousRequest {
            request_id: rid(),
            client_id: gone,
            note: "n".into(),
            fictitious_reason: "bot".into(),
            ..Default::default()
        })
        .await
        .expect("fictitious");
    let lost = app.create_with(owned("Lost", "dana")).await.client_id;
    app.api
        .declare_not_interested(DeclareNotInterestedRequest {
            request_id: rid(),
            client_id: lost,
            note: "n".into(),
            reason_status_id: default_status(ClientStage::NotInterested),
            ..Default::default()
        })
        .await
        .expect("declared");

    let by_stage = funnel(&mut app, CountClientsRequest::default()).await;
    assert_eq!(
        by_stage.counts,
        [
            row(ClientStage::New, 0, "", 3),
            row(ClientStage::FollowUp, 0, "", 2),
            row(ClientStage::NotInterested, 0, "", 1),
            row(ClientStage::Real, 0, "", 1),
        ],
        "ended statuses are counted, the fictitious client is not"
    );
    assert_eq!(by_stage.total, 7);
    let with_deleted = funnel(
        &mut app,
        CountClientsRequest {
            include_deleted: true,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(with_deleted.total, 8);

    let by_stage_and_owner = funnel(
        &mut app,
        CountClientsRequest {
            group_by: vec![ReportDimension::Owner as i32, ReportDimension::Stage as i32],
            stages: vec![ClientStage::New as i32, ClientStage::FollowUp as i32],
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        by_stage_and_owner.counts,
        [
            row(ClientStage::New, 0, "avi", 3),
            row(ClientStage::FollowUp, 0, "avi", 1),
            row(ClientStage::FollowUp, 0, "dana", 1),
        ]
    );
    let by_status = funnel(
        &mut app,
        CountClientsRequest {
            group_by: vec![ReportDimension::Status as i32],
            owner: "dana".into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        by_status.counts,
        [
            row(ClientStage::Unspecified, 2, "", 1),
            row(ClientStage::Unspecified, 4, "", 1),
            row(ClientStage::Unspecified, key.status_id, "", 1),
        ]
    );
    let err = app
        .reports
        .count_clients(CountClientsRequest {
            group_by: vec![99],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["group_by[0]"]);
}

#[tokio::test]
async fn activity_is_counted_per_user_per_day_in_the_requested_offset() {
    let mut app = spawn_app().await;
    let c = app.create("Levi").await.client_id;
    let call = |actor: &str, at: &str| RecordContactAttemptRequest {
        request_id: rid(),
        client_id: c,
        actor: actor.into(),
        occurred_at: Some(ts(at)),
        outcome: CallOutcome::NoAnswer as i32,
        ..Default::default()
    };
    for (actor, at) in [
        ("avi", "2026-03-01T09:00:00Z"),
        ("avi", "2026-03-01T15:00:00Z"),
        ("dana", "2026-03-01T10:00:00Z"),
        // 23:30 UTC on the 1st is already the 2nd in UTC+2.
        ("avi", "2026-03-01T23:30:00Z"),
        ("avi", "2026-03-02T08:00:00Z"),
        // Outside the period.
        ("avi", "2026-03-05T08:00:00Z"),
    ] {
        app.api
            .record_contact_attempt(call(actor, at))
            .await
            .expect("call");
    }
    app.api
        .record_message_sent(RecordMessageSentRequest {
            request_id: rid(),
            client_id: c,
            actor: "dana".into(),
            occurred_at: Some(ts("2026-03-01T11:00:00Z")),
            channel: MessageChannel::Sms as i32,
            ..Default::default()
        })
        .await
        .expect("sms");
    let report = |offset: i32, causes: Vec<String>| CountActivitiesRequest {
        from: Some(ts("2026-03-01T00:00:00Z")),
        to: Some(ts("2026-03-03T00:00:00Z")),
        utc_offset_minutes: offset,
        causes,
        ..Default::default()
    };
    let count = |actor: &str, day: &str, cause: &str, count: i64| ActivityCount {
        actor: actor.into(),
        day: day.into(),
        cause: cause.into(),
        count,
    };
    let utc = app
        .reports
        .count_activities(report(0, vec![]))
        .await
        .expect("report")
        .into_inner()
        .counts;
    assert_eq!(
        utc,
        [
            count("avi", "2026-03-01", "RecordContactAttempt", 3),
            count("dana", "2026-03-01", "RecordContactAttempt", 1),
            count("dana", "2026-03-01", "RecordMessageSent", 1),
            count("avi", "2026-03-02", "RecordContactAttempt", 1),
        ]
    );
    let israel = app
        .reports
        .count_activities(report(120, vec!["RecordContactAttempt".into()]))
        .await
        .expect("report")
        .into_inner()
        .counts;
    assert_eq!(
        israel,
        [
            count("avi", "2026-03-01", "RecordContactAttempt", 2),
            count("dana", "2026-03-01", "RecordContactAttempt", 1),
            count("avi", "2026-03-02", "RecordContactAttempt", 2),
        ]
    );
    let err = app
        .reports
        .count_activities(CountActivitiesRequest {
            from: Some(ts("2026-03-01T00:00:00Z")),
            to: Some(ts("2025-03-01T00:00:00Z")),
            utc_offset_minutes: 2000,
            ..Default::default()
        })
        .await
        .unwrap_err();
    let mut fields = bad_fields(&err);
    fields.sort();
    assert_eq!(fields, ["to", "utc_offset_minutes"]);
}

#[tokio::test]
async fn activity_before_1970_falls_on_its_own_day() {
    let mut app = spawn_app().await;
    let c = app.create("Old").await.client_id;
    app.api
        .record_contact_attempt(RecordContactAttemptRequest {
            request_id: rid(),
            client_id: c,
            actor: "archivist".into(),
            occurred_at: Some(ts("1969-12-31T20:00:00Z")),
            outcome: CallOutcome::NoAnswer as i32,
            ..Default::default()
        })
        .await
        .expect("call");
    let counts = app
        .reports
        .count_activities(CountActivitiesRequest {
            from: Some(ts("1969-12-30T00:00:00Z")),
            to: Some(ts("1970-01-02T00:00:00Z")),
            ..Default::default()
        })
        .await
        .expect("report")
        .into_inner()
        .counts;
    assert_eq!(counts.len(), 1);
    assert_eq!(counts[0].day, "1969-12-31");
}
