//! The status-change and alert streams, and every alert rule.
use std::time::Duration;

use clientstatus::proto::*;
use tokio_stream::StreamExt;
use tonic::Code;
use tonic::transport::Channel;

use crate::helpers::*;

type Api = client_status_service_client::ClientStatusServiceClient<Channel>;

/// Takes `n` entries from a stream, failing if they do not come within a few seconds.
async fn take<R, T: std::fmt::Debug>(
    mut stream: tonic::Streaming<R>,
    n: usize,
    unwrap: fn(R) -> Option<T>,
) -> Vec<T> {
    let mut out = Vec::new();
    while out.len() < n {
        let next = tokio::time::timeout(Duration::from_secs(10), stream.next()).await;
        let item =
            next.unwrap_or_else(|_| panic!("only {} of {n} entries arrived: {out:?}", out.len()));
        let response = item.expect("stream ended").expect("entry");
        out.push(unwrap(response).expect("entry"));
    }
    out
}

/// Reads `n` status events after `after`.
pub async fn status_events(
    api: &mut Api,
    req: StreamStatusChangesRequest,
    n: usize,
) -> Vec<StatusChangeEvent> {
    let stream = api
        .stream_status_changes(req)
        .await
        .expect("subscribe")
        .into_inner();
    take(stream, n, |r| r.event).await
}

async fn alerts(api: &mut Api, after: i64, n: usize) -> Vec<Alert> {
    let req = StreamAlertsRequest {
        after_sequence: after,
        ..Default::default()
    };
    let stream = api
        .stream_alerts(req)
        .await
        .expect("subscribe")
        .into_inner();
    take(stream, n, |r| r.alert).await
}

/// Every alert raised so far (waits a moment for the scheduler first).
async fn all_alerts(app: &mut TestApp) -> Vec<Alert> {
    tokio::time::sleep(Duration::from_millis(400)).await;
    let mut stream = app
        .api
        .stream_alerts(StreamAlertsRequest::default())
        .await
        .expect("subscribe")
        .into_inner();
    let mut out = Vec::new();
    while let Ok(Some(item)) = tokio::time::timeout(Duration::from_millis(300), stream.next()).await
    {
        out.push(item.expect("alert").alert.expect("alert"));
    }
    out
}

fn kinds(alerts: &[Alert]) -> Vec<AlertKind> {
    alerts
        .iter()
        .map(|a| AlertKind::try_from(a.kind).expect("kind"))
        .collect()
}

#[tokio::test]
async fn every_stage_change_delete_and_restore_is_streamed_in_order_with_a_snapshot() {
    let mut app = spawn_app().await;
    let c = app.create("Stream").await;
    app.call(c.client_id, CallOutcome::NoAnswer).await; // NEW -> FOLLOW_UP
    app.call(c.client_id, CallOutcome::NoAnswer).await; // no change: no event
    app.invoice(c.client_id, "I-1").await; // -> REAL
    let fake = app.create("Fake").await;
    app.api
        .declare_fictitious(DeclareFictitiousRequest {
            request_id: rid(),
            client_id: fake.client_id,
            note: "n".into(),
            fictitious_reason: "bot".into(),
            ..Default::default()
        })
        .await
        .expect("delete");
    app.api
        .restore_client(RestoreClientRequest {
            request_id: rid(),
            client_id: fake.client_id,
            ..Default::default()
        })
        .await
        .expect("restore");

    let events = status_events(&mut app.api, StreamStatusChangesRequest::default(), 4).await;
    let seqs: Vec<i64> = events.iter().map(|e| e.sequence).collect();
    assert_eq!(seqs, vec![1, 2, 3, 4]);
    let kinds: Vec<StatusEventKind> = events
        .iter()
        .map(|e| StatusEventKind::try_from(e.kind).expect("kind"))
        .collect();
    assert_eq!(
        kinds,
        vec![
            StatusEventKind::StageChanged,
            StatusEventKind::StageChanged,
            StatusEventKind::Deleted,
            StatusEventKind::Restored
        ]
    );
    assert_eq!(
        (events[0].old_stage, events[0].new_stage),
        (ClientStage::New as i32, ClientStage::FollowUp as i32)
    );
    assert_eq!(events[0].cause, "RecordContactAttempt");
    assert_eq!(events[1].cause, "RecordInvoice");
    assert_eq!(events[1].new_stage, ClientStage::Real as i32);
    let snapshot = events[1].client.as_ref().expect("snapshot");
    assert_eq!(snapshot.version, 4, "the client right after the change");
    assert!(snapshot.became_real_at.is_some());
    assert!(
        events[2]
            .client
            .as_ref()
            .expect("snapshot")
            .deleted_at
            .is_some()
    );
    assert_eq!(events[2].actor, "local");
}

#[tokio::test]
async fn a_consumer_resumes_after_its_last_sequence_and_then_gets_live_events() {
    let mut app = spawn_app().await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let c = app.create(&format!("C{i}")).await;
        app.call(c.client_id, CallOutcome::NoAnswer).await;
        ids.push(c.client_id);
    }
    let first = status_events(&mut app.api, StreamStatusChangesRequest::default(), 2).await;
    assert_eq!(first.last().expect("event").sequence, 2);
    // reconnect after 2, and write more while subscribed
    let mut api = app.api.clone();
    let reader = tokio::spawn(async move {
        status_events(
            &mut api,
            StreamStatusChangesRequest {
                after_sequence: 2,
                ..Default::default()
            },
            3,
        )
        .await
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    app.invoice(ids[0], "LIVE-1").await;
    app.invoice(ids[1], "LIVE-2").await;
    let rest = reader.await.expect("reader");
    let seqs: Vec<i64> = rest.iter().map(|e| e.sequence).collect();
    assert_eq!(seqs, vec![3, 4, 5]);
    assert_eq!(rest[1].client_id, ids[0]);
    assert_eq!(rest[2].client_id, ids[1]);
}

#[tokio::test]
async fn streams_filter_by_new_stage_cause_and_client() {
    let mut app = spawn_app().await;
    let a = app.create("A").await.client_id;
    let b = app.create("B").await.client_id;
    app.call(a, CallOutcome::NoAnswer).await;
    app.call(b, CallOutcome::NoAnswer).await;
    app.invoice(a, "I-A").await;
    app.invoice(b, "I-B").await;
    let real = status_events(
        &mut app.api,
        StreamStatusChangesRequest {
            new_stages: vec![ClientStage::Real as i32],
            ..Default::default()
        },
        2,
    )
    .await;
    assert!(real.iter().all(|e| e.new_stage == ClientStage::Real as i32));
    assert_eq!(
        real.iter().map(|e| e.sequence).collect::<Vec<_>>(),
        vec![3, 4]
    );
    let calls = status_events(
        &mut app.api,
        StreamStatusChangesRequest {
            causes: vec!["RecordContactAttempt".into()],
            ..Default::default()
        },
        2,
    )
    .await;
    assert_eq!(
        calls.iter().map(|e| e.sequence).collect::<Vec<_>>(),
        vec![1, 2]
    );
    let only_b = status_events(
        &mut app.api,
        StreamStatusChangesRequest {
            client_ids: vec![b],
            ..Default::default()
        },
        2,
    )
    .await;
    assert!(only_b.iter().all(|e| e.client_id == b));
    assert_eq!(
        only_b.iter().map(|e| e.sequence).collect::<Vec<_>>(),
        vec![2, 4]
    );
}

#[tokio::test]
async fn a_cursor_ahead_of_the_stream_or_negative_is_refused() {
    let mut app = spawn_app().await;
    for after in [-1, 5] {
        let err = app
            .api
            .stream_status_changes(StreamStatusChangesRequest {
                after_sequence: after,
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(bad_fields(&err), vec!["after_sequence".to_string()]);
    }
    let err = app
        .api
        .stream_alerts(StreamAlertsRequest {
            kinds: vec![0],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), vec!["kinds[0]".to_string()]);
}

#[tokio::test]
async fn a_cursor_older_than_retention_keeps_is_expired() {
    let mut app = spawn_with(|c| c.event_retention = Some(chrono::Duration::hours(1))).await;
    let c = app.create("Old").await;
    app.call(c.client_id, CallOutcome::NoAnswer).await; // seq 1, recorded now
    app.clock.advance(chrono::Duration::hours(2));
    let mut app = app.restart().await; // retention runs as the scheduler starts
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.invoice(c.client_id, "NEW").await; // seq 2, kept
    let err = app
        .api
        .stream_status_changes(StreamStatusChangesRequest::default())
        .await
        .unwrap_err();
    assert_error(&err, Code::FailedPrecondition, "CURSOR_EXPIRED");
    let kept = status_events(
        &mut app.api,
        StreamStatusChangesRequest {
            after_sequence: 1,
            ..Default::default()
        },
        1,
    )
    .await;
    assert_eq!(kept[0].sequence, 2);
}

#[tokio::test]
async fn interested_again_became_real_and_frozen_alerts_are_raised_once_by_the_change() {
    let mut app = spawn_app().await;
    let c = app
        .create_with(CreateClientRequest {
            name: Some(ClientName {
                last_name: "A".into(),
                ..Default::default()
            }),
            email: "a@x.io".into(),
            ..Default::default()
        })
        .await;
    app.create_with(CreateClientRequest {
        name: Some(ClientName {
            last_name: "A".into(),
            ..Default::default()
        }),
        email: "a@x.io".into(),
        ..Default::default()
    })
    .await;
    app.invoice(c.client_id, "I-1").await;
    app.invoice(c.client_id, "I-2").await; // already REAL: no second BECAME_REAL
    app.api
        .declare_frozen(DeclareFrozenRequest {
            request_id: rid(),
            client_id: c.client_id,
            frozen_message: "m".into(),
            note: "n".into(),
            ..Default::default()
        })
        .await
        .expect("freeze");
    let got = alerts(&mut app.api, 0, 3).await;
    assert_eq!(
        kinds(&got),
        vec![
            AlertKind::InterestedAgain,
            AlertKind::BecameReal,
            AlertKind::Frozen
        ]
    );
    assert_eq!(
        got.iter().map(|a| a.sequence).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert!(
        got.iter()
            .all(|a| a.client_id == c.client_id && a.client.is_some())
    );
    assert_eq!(all_alerts(&mut app).await.len(), 3);
}

#[tokio::test]
async fn hot_lead_untouched_fires_once_when_the_sla_passes_not_before() {
    let mut app = spawn_with(|c| c.hot_lead_sla = chrono::Duration::minutes(15)).await;
    let hot = app
        .create_with(CreateClientRequest {
            name: Some(ClientName {
                last_name: "Hot".into(),
                ..Default::default()
            }),
            lead_status: LeadStatus::Hot as i32,
            ..Default::default()
        })
        .await;
    let touched = app
        .create_with(CreateClientRequest {
            name: Some(ClientName {
                last_name: "Touched".into(),
                ..Default::default()
            }),
            lead_status: LeadStatus::Hot as i32,
            ..Default::default()
        })
        .await;
    app.call(touched.client_id, CallOutcome::NoAnswer).await;
    app.clock.advance(chrono::Duration::minutes(14));
    assert!(all_alerts(&mut app).await.is_empty(), "not before the SLA");
    app.clock.advance(chrono::Duration::minutes(1));
    let got = all_alerts(&mut app).await;
    assert_eq!(kinds(&got), vec![AlertKind::HotLeadUntouched]);
    assert_eq!(got[0].client_id, hot.client_id);
    app.clock.advance(chrono::Duration::hours(5));
    let mut app = app.restart().await;
    assert_eq!(
        all_alerts(&mut app).await.len(),
        1,
        "not twice, not after a restart"
    );
}

#[tokio::test]
async fn a_timer_that_fell_due_while_the_server_was_down_fires_after_restart() {
    let mut app = spawn_app().await;
    let hot = app
        .create_with(CreateClientRequest {
            name: Some(ClientName {
                last_name: "Hot".into(),
                ..Default::default()
            }),
            lead_status: LeadStatus::Hot as i32,
            ..Default::default()
        })
        .await;
    app.stop().await;
    app.clock.advance(chrono::Duration::minutes(20));
    let mut app = app.restart().await;
    let got = all_alerts(&mut app).await;
    assert_eq!(kinds(&got), vec![AlertKind::HotLeadUntouched]);
    assert_eq!(got[0].client_id, hot.client_id);
}

#[tokio::test]
async fn next_call_due_fires_once_when_the_call_time_is_reached() {
    let mut app = spawn_app().await;
    let c = app.create("Caller").await;
    let base = app.clock.clone();
    use clientstatus::clock::Clock;
    let due = base.now() + chrono::Duration::hours(2);
    app.api
        .record_contact_attempt(RecordContactAttemptRequest {
            request_id: rid(),
            client_id: c.client_id,
            outcome: CallOutcome::LeftMessage as i32,
            next_call_at: Some(prost_types::Timestamp {
                seconds: due.timestamp(),
                nanos: 0,
            }),
            ..Default::default()
        })
        .await
        .expect("call");
    app.clock.advance(chrono::Duration::minutes(119));
    assert!(all_alerts(&mut app).await.is_empty());
    app.clock.advance(chrono::Duration::minutes(2));
    let got = all_alerts(&mut app).await;
    assert_eq!(kinds(&got), vec![AlertKind::NextCallDue]);
    assert_eq!(got[0].due_at.expect("due").seconds, due.timestamp());
    app.clock.advance(chrono::Duration::hours(1));
    assert_eq!(all_alerts(&mut app).await.len(), 1);
}

#[tokio::test]
async fn follow_up_stale_fires_after_n_days_without_contact_and_again_after_a_new_contact() {
    let mut app = spawn_with(|c| c.follow_up_stale_days = 3).await;
    let c = app.create("Quiet").await;
    app.call(c.client_id, CallOutcome::NoAnswer).await; // FOLLOW_UP, contact now
    app.clock.advance(chrono::Duration::days(2));
    assert!(all_alerts(&mut app).await.is_empty());
    app.clock.advance(chrono::Duration::days(1));
    assert_eq!(
        kinds(&all_alerts(&mut app).await),
        vec![AlertKind::FollowUpStale]
    );
    app.clock.advance(chrono::Duration::days(10));
    assert_eq!(all_alerts(&mut app).await.len(), 1, "once per occurrence");
    app.call(c.client_id, CallOutcome::ShortCall).await; // a new contact starts a new period
    app.clock.advance(chrono::Duration::days(3));
    assert_eq!(
        kinds(&all_alerts(&mut app).await),
        vec![AlertKind::FollowUpStale, AlertKind::FollowUpStale]
    );
    // a client that became REAL is not in follow-up any more
    app.invoice(c.client_id, "I").await;
    app.clock.advance(chrono::Duration::days(30));
    assert_eq!(
        all_alerts(&mut app).await.len(),
        3,
        "two stale alerts and BECAME_REAL"
    );
}

/// Writers change stages concurrently through `apis` while a consumer reads the status stream,
/// hanging up at pseudo-random points and resuming from its last sequence. Every event must
/// arrive exactly once, in order, numbered 1..=N, and match the stage changes in the history.
pub async fn assert_stream_contiguous(app: &mut TestApp, apis: &[Api]) {
    let mut clients = Vec::new();
    for i in 0..4 {
        clients.push(app.create(&format!("Busy {i}")).await.client_id);
    }
    let stages = [
        ClientStage::FollowUp,
        ClientStage::Real,
        ClientStage::New,
        ClientStage::Frozen,
        ClientStage::NotInterested,
    ];
    let mut writers = Vec::new();
    for w in 0..4usize {
        let mut api = apis[w % apis.len()].clone();
        let clients = clients.clone();
        writers.push(tokio::spawn(async move {
            for i in 0..15usize {
                api.set_status(SetStatusRequest {
                    request_id: format!("contig-{w}-{i}"),
                    client_id: clients[(w + i) % clients.len()],
                    stage: stages[(w * 7 + i) % stages.len()] as i32,
                    reason: "load".into(),
                    ..Default::default()
                })
                .await
                .expect("write");
            }
        }));
    }
    let mut consumer_api = apis[apis.len() - 1].clone();
    let consumer = tokio::spawn(async move {
        let mut seen: Vec<StatusChangeEvent> = Vec::new();
        let mut rng: u64 = 0x2545_f491_4f6c_dd1d;
        let mut idle_rounds = 0;
        while idle_rounds < 3 {
            let after = seen.last().map_or(0, |e| e.sequence);
            let mut stream = consumer_api
                .stream_status_changes(StreamStatusChangesRequest {
                    after_sequence: after,
                    ..Default::default()
                })
                .await
                .expect("subscribe")
                .into_inner();
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let take = 1 + (rng % 7) as usize; // hang up after this many
            let mut got = 0;
            while got < take {
                match tokio::time::timeout(Duration::from_millis(700), stream.next()).await {
                    Ok(Some(item)) => {
                        seen.push(item.expect("event").event.expect("event"));
                        got += 1;
                    }
                    _ => break,
                }
            }
            idle_rounds = if got == 0 { idle_rounds + 1 } else { 0 };
        }
        seen
    });
    for w in writers {
        w.await.expect("writer");
    }
    let seen = consumer.await.expect("consumer");

    let seqs: Vec<i64> = seen.iter().map(|e| e.sequence).collect();
    assert_eq!(
        seqs,
        (1..=seen.len() as i64).collect::<Vec<_>>(),
        "contiguous, no duplicates"
    );
    let mut expected = Vec::new();
    for &id in &clients {
        for h in app.history(id).await {
            if h.old_stage != ClientStage::Unspecified as i32 && h.old_stage != h.new_stage {
                expected.push((id, h.version, h.new_stage));
            }
        }
    }
    expected.sort_unstable();
    let mut got: Vec<(i64, i64, i32)> = seen
        .iter()
        .map(|e| {
            (
                e.client_id,
                e.client.as_ref().expect("snapshot").version,
                e.new_stage,
            )
        })
        .collect();
    got.sort_unstable();
    assert_eq!(
        got, expected,
        "one event per stage change in the history, with its snapshot"
    );
    // per client, events come in version order
    for &id in &clients {
        let versions: Vec<i64> = seen
            .iter()
            .filter(|e| e.client_id == id)
            .map(|e| e.client.as_ref().expect("snapshot").version)
            .collect();
        assert!(
            versions.windows(2).all(|w| w[0] < w[1]),
            "client {id}: {versions:?}"
        );
    }
}

#[tokio::test]
async fn concurrent_writers_and_a_reconnecting_consumer_see_every_event_once_in_order() {
    let mut app = spawn_app().await;
    let apis = [app.api.clone()];
    assert_stream_contiguous(&mut app, &apis).await;
}
