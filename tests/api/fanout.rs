//! Stream fan-out: one hub per stream reads each entry once and serves every subscriber from
//! memory; a subscriber that lags past what memory holds reads the database by cursor, and
//! sees the same contiguous sequence either way.
use std::time::Duration;

use clientstatus::proto::client_status_service_client::ClientStatusServiceClient;
use clientstatus::proto::*;
use tokio_stream::StreamExt;
use tonic::transport::Channel;

use crate::helpers::*;

pub type Api = ClientStatusServiceClient<Channel>;

/// More entries than a stream's ring holds (`clientstatus::stream::RING`).
const PAST_THE_RING: usize = 4_096 + 400;

/// `n` new clients.
pub async fn clients(app: &mut TestApp, n: usize) -> Vec<i64> {
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(app.create(&format!("Fan {i}")).await.client_id);
    }
    ids
}

/// Changes the stage of every client in `ids` (NEW ones), `rounds` times over, in one call
/// each way: a meeting (to FOLLOW_UP_MEETING_OR_QUOTE), then a reassignment (back to NEW).
/// Each round appends `2 * ids.len()` status events.
pub async fn churn(api: &mut Api, ids: &[i64], rounds: usize) {
    for call in 0..2 * rounds {
        if call % 2 == 0 {
            api.summarize_meeting(SummarizeMeetingRequest {
                request_id: rid(),
                client_ids: ids.to_vec(),
                note: "review".into(),
                ..Default::default()
            })
            .await
            .expect("meeting");
        } else {
            api.reassign(ReassignRequest {
                request_id: rid(),
                client_ids: ids.to_vec(),
                new_owner: format!("owner-{call}"),
                reset_stage: Some(true),
                ..Default::default()
            })
            .await
            .expect("reassign");
        }
    }
}

pub async fn subscribe(api: &mut Api, req: StreamStatusChangesRequest) -> Events {
    api.stream_status_changes(req)
        .await
        .expect("subscribe")
        .into_inner()
}

pub type Events = tonic::Streaming<StreamStatusChangesResponse>;

/// The next `n` events, failing if they do not come in time.
pub async fn next_events(stream: &mut Events, n: usize) -> Vec<StatusChangeEvent> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let next = tokio::time::timeout(Duration::from_secs(20), stream.next()).await;
        let item = next.unwrap_or_else(|_| panic!("only {} of {n} events arrived", out.len()));
        out.push(
            item.expect("stream ended")
                .expect("event")
                .event
                .expect("event"),
        );
    }
    out
}

pub fn seqs(events: &[StatusChangeEvent]) -> Vec<i64> {
    events.iter().map(|e| e.sequence).collect()
}

fn from(after: i64) -> StreamStatusChangesRequest {
    StreamStatusChangesRequest {
        after_sequence: after,
        ..Default::default()
    }
}

/// A connection whose streams take at most 1 KiB before the server must wait for the reader.
async fn narrow_window(app: &TestApp) -> Api {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", app.addr))
        .expect("url")
        .initial_stream_window_size(Some(1024))
        .connect()
        .await
        .expect("connect");
    ClientStatusServiceClient::new(channel)
}

#[tokio::test]
async fn many_subscribers_see_one_identical_contiguous_sequence() {
    let mut app = spawn_app().await;
    let ids = clients(&mut app, 20).await;
    let second = ClientStatusServiceClient::new(connect(&format!("http://{}", app.addr)).await);
    let mut readers = Vec::new();
    for i in 0..24 {
        let mut api = if i % 2 == 0 {
            app.api.clone()
        } else {
            second.clone()
        };
        let mut stream = subscribe(&mut api, from(0)).await;
        readers.push(tokio::spawn(
            async move { next_events(&mut stream, 200).await },
        ));
    }
    // Two writers on disjoint clients, so their commits interleave.
    let mut writers = Vec::new();
    for half in ids.chunks(10) {
        let (mut api, half) = (app.api.clone(), half.to_vec());
        writers.push(tokio::spawn(async move { churn(&mut api, &half, 5).await }));
    }
    for w in writers {
        w.await.expect("writer");
    }
    let mut seen = Vec::new();
    for r in readers {
        seen.push(r.await.expect("reader"));
    }
    assert_eq!(seqs(&seen[0]), (1..=200).collect::<Vec<i64>>());
    for (i, events) in seen.iter().enumerate() {
        assert_eq!(events, &seen[0], "subscriber {i} saw what subscriber 0 saw");
    }
}

#[tokio::test]
async fn a_subscriber_that_lags_past_memory_reads_the_database_without_gap_or_duplicate() {
    let mut app = spawn_app().await;
    let ids = clients(&mut app, 100).await;
    churn(&mut app.api, &ids, 1).await;
    let mut slow = subscribe(&mut narrow_window(&app).await, from(0)).await;
    let mut first = next_events(&mut slow, 5).await;
    // While it reads nothing, more than the ring holds is written after it.
    let rounds = PAST_THE_RING.div_ceil(2 * ids.len());
    churn(&mut app.api, &ids, rounds).await;
    let total = 2 * ids.len() * (rounds + 1);
    first.extend(next_events(&mut slow, total - 5).await);
    assert_eq!(seqs(&first), (1..=total as i64).collect::<Vec<_>>());
    // A subscriber starting behind the ring reads the database up to it, then the ring.
    let late = next_events(&mut subscribe(&mut app.api, from(0)).await, total).await;
    assert_eq!(
        late, first,
        "the same entries, from the database and from memory"
    );
}

#[tokio::test]
async fn a_subscriber_started_mid_stream_gets_what_follows_then_live_entries() {
    let mut app = spawn_app().await;
    let ids = clients(&mut app, 10).await;
    churn(&mut app.api, &ids, 2).await;
    let everything = next_events(&mut subscribe(&mut app.api, from(0)).await, 40).await;
    let mut mid = subscribe(&mut app.api, from(12)).await;
    let caught_up = next_events(&mut mid, 28).await;
    assert_eq!(caught_up, everything[12..].to_vec());
    churn(&mut app.api, &ids, 1).await;
    assert_eq!(
        seqs(&next_events(&mut mid, 20).await),
        (41..=60).collect::<Vec<_>>()
    );
}

/// The filters a test subscribes with, and how many events each admits.
fn filtered(client: i64) -> Vec<(StreamStatusChangesRequest, usize)> {
    vec![
        (
            StreamStatusChangesRequest {
                client_ids: vec![client],
                ..Default::default()
            },
            4,
        ),
        (
            StreamStatusChangesRequest {
                new_stages: vec![ClientStage::New as i32],
                ..Default::default()
            },
            20,
        ),
        (
            StreamStatusChangesRequest {
                causes: vec!["SummarizeMeeting".into()],
                new_stages: vec![ClientStage::FollowUpMeetingOrQuote as i32],
                ..Default::default()
            },
            20,
        ),
    ]
}

#[tokio::test]
async fn filters_served_from_memory_match_filters_read_from_the_database() {
    let mut app = spawn_app().await;
    let ids = clients(&mut app, 10).await;
    let mut live = Vec::new();
    for (req, n) in filtered(ids[3]) {
        let mut stream = subscribe(&mut app.api, req).await;
        live.push(tokio::spawn(
            async move { next_events(&mut stream, n).await },
        ));
    }
    let mut alerts = app
        .api
        .stream_alerts(StreamAlertsRequest {
            kinds: vec![AlertKind::BecameReal as i32],
            client_ids: vec![ids[1], ids[2]],
            ..Default::default()
        })
        .await
        .expect("alerts")
        .into_inner();
    churn(&mut app.api, &ids, 2).await;
    for &id in &ids[..4] {
        app.invoice(id, &format!("I-{id}")).await;
    }
    let mut from_memory = Vec::new();
    for reader in live {
        from_memory.push(reader.await.expect("reader"));
    }
    let mut real = Vec::new();
    for _ in 0..2 {
        let next = tokio::time::timeout(Duration::from_secs(10), alerts.next()).await;
        real.push(
            next.expect("alert in time")
                .expect("open")
                .expect("alert")
                .alert
                .expect("alert"),
        );
    }
    assert_eq!(
        real.iter().map(|a| a.client_id).collect::<Vec<_>>(),
        vec![ids[1], ids[2]]
    );
    assert!(real.iter().all(|a| a.kind == AlertKind::BecameReal as i32));
    assert!(from_memory[0].iter().all(|e| e.client_id == ids[3]));
    assert!(
        from_memory[1]
            .iter()
            .all(|e| e.new_stage == ClientStage::New as i32)
    );
    assert!(from_memory[2].iter().all(|e| e.cause == "SummarizeMeeting"));

    // After a restart the ring holds nothing older: the same filters run in the database.
    drop(alerts);
    let mut app = app.restart().await;
    for ((req, n), memory) in filtered(ids[3]).into_iter().zip(&from_memory) {
        let database = next_events(&mut subscribe(&mut app.api, req).await, n).await;
        assert_eq!(&database, memory);
    }
    let mut alerts = app
        .api
        .stream_alerts(StreamAlertsRequest {
            kinds: vec![AlertKind::BecameReal as i32],
            client_ids: vec![ids[1], ids[2]],
            ..Default::default()
        })
        .await
        .expect("alerts")
        .into_inner();
    for expected in &real {
        let next = tokio::time::timeout(Duration::from_secs(10), alerts.next()).await;
        let got = next.expect("in time").expect("open").expect("alert").alert;
        assert_eq!(got.as_ref(), Some(expected));
    }
}
