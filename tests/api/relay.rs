//! The JetStream relay against the real NATS server: every status event and alert published
//! once, in sequence order, equal to what the gRPC streams send; JSON on request; and a relay
//! that stops, gracefully or by SIGKILL in the middle of publishing, resumes after the newest
//! message JetStream holds.
use std::time::Duration;

use clientstatus::proto::client_status_service_client::ClientStatusServiceClient;
use clientstatus::proto::*;
use prost::Message;
use tokio_stream::StreamExt;
use tonic::transport::Channel;

use crate::helpers::*;
use crate::relay_support::*;

const WITHIN: Duration = Duration::from_secs(30);

/// The first `n` status events of the gRPC stream.
pub async fn grpc_events(
    api: &mut ClientStatusServiceClient<Channel>,
    n: usize,
) -> Vec<StreamStatusChangesResponse> {
    let mut stream = api
        .stream_status_changes(StreamStatusChangesRequest::default())
        .await
        .expect("subscribe")
        .into_inner();
    let mut out = Vec::new();
    while out.len() < n {
        let next = tokio::time::timeout(WITHIN, stream.next()).await;
        out.push(next.expect("in time").expect("open").expect("event"));
    }
    out
}

async fn grpc_alerts(app: &mut TestApp, n: usize) -> Vec<StreamAlertsResponse> {
    let mut stream = app
        .api
        .stream_alerts(StreamAlertsRequest::default())
        .await
        .expect("subscribe")
        .into_inner();
    let mut out = Vec::new();
    while out.len() < n {
        let next = tokio::time::timeout(WITHIN, stream.next()).await;
        out.push(next.expect("in time").expect("open").expect("alert"));
    }
    out
}

/// Asserts `stored` holds sequences 1..=n of `stream`, once each, in stream order.
pub fn assert_contiguous(stored: &[Stored], stream: &str, n: i64) {
    let seqs: Vec<i64> = stored.iter().map(Stored::seq).collect();
    assert_eq!(
        seqs,
        (1..=n).collect::<Vec<_>>(),
        "{stream} sequences in JetStream"
    );
    for m in stored {
        assert_eq!(m.header("Nats-Msg-Id"), format!("{stream}-{}", m.seq()));
    }
    assert!(stored.windows(2).all(|w| w[0].js_seq < w[1].js_seq));
}

pub fn decoded(stored: &[Stored]) -> Vec<StreamStatusChangesResponse> {
    stored
        .iter()
        .map(|m| StreamStatusChangesResponse::decode(m.payload.clone()).expect("protobuf"))
        .collect()
}

/// Five clients, each called (FOLLOW_UP) then invoiced (REAL, with a BECAME_REAL alert): ten
/// status events and five alerts.
async fn five_clients_become_real(app: &mut TestApp) {
    for i in 0..5 {
        let c = app.create(&format!("Relay {i}")).await;
        app.call(c.client_id, CallOutcome::CallWithContent).await;
        app.invoice(c.client_id, &format!("INV-{i}")).await;
    }
}

#[tokio::test]
async fn every_event_and_alert_reaches_jetstream_in_order_as_the_grpc_streams_send_it() {
    let Some(nats) = Nats::start().await else {
        return;
    };
    let mut app = spawn_with(|c| nats.configure(c)).await;
    five_clients_become_real(&mut app).await;

    let events = nats.entries("status", 10, WITHIN).await;
    assert_contiguous(&events, "status", 10);
    assert_eq!(decoded(&events), grpc_events(&mut app.api, 10).await);
    let subjects: Vec<&str> = events.iter().map(|m| m.subject.as_str()).collect();
    let p = &nats.prefix;
    assert_eq!(
        subjects[..2],
        [format!("{p}.status.follow_up"), format!("{p}.status.real")]
    );
    assert_eq!(events[0].header("Content-Type"), "application/protobuf");
    assert_eq!(
        events[0].header(clientstatus::relay::TYPE),
        "crm.clientstatus.v1.StreamStatusChangesResponse"
    );

    let alerts = nats.entries("alerts", 5, WITHIN).await;
    assert_contiguous(&alerts, "alerts", 5);
    let published: Vec<StreamAlertsResponse> = alerts
        .iter()
        .map(|m| StreamAlertsResponse::decode(m.payload.clone()).expect("protobuf"))
        .collect();
    assert_eq!(published, grpc_alerts(&mut app, 5).await);
    assert!(
        alerts
            .iter()
            .all(|m| m.subject == format!("{p}.alert.became_real"))
    );

    // Every message carries where the relay stood once it was stored: the last one says both.
    let last = nats.read_all().await.pop().expect("messages");
    assert_eq!(last.header(clientstatus::relay::STATUS_THROUGH), "10");
    assert_eq!(last.header(clientstatus::relay::ALERTS_THROUGH), "5");
}

#[tokio::test]
async fn the_relay_creates_its_stream_with_the_configured_limits() {
    let Some(nats) = Nats::start().await else {
        return;
    };
    let mut app = spawn_with(|c| {
        nats.configure(c);
        c.relay.relay_max_age = Some(chrono::Duration::days(3));
        c.relay.relay_duplicate_window = chrono::Duration::seconds(30);
    })
    .await;
    let c = app.create("Limits").await;
    app.call(c.client_id, CallOutcome::NoAnswer).await;
    nats.entries("status", 1, WITHIN).await;
    let mut stream = nats.js.get_stream(&nats.stream).await.expect("stream");
    let config = stream.info().await.expect("info").config.clone();
    assert_eq!(config.subjects, vec![format!("{}.>", nats.prefix)]);
    assert_eq!(
        config.retention,
        async_nats::jetstream::stream::RetentionPolicy::Limits
    );
    assert_eq!(config.max_age, Duration::from_secs(3 * 86_400));
    assert_eq!(config.duplicate_window, Duration::from_secs(30));
    assert_eq!(config.num_replicas, 1);
}

#[tokio::test]
async fn the_json_form_is_the_canonical_mapping_of_the_grpc_message() {
    let Some(nats) = Nats::start().await else {
        return;
    };
    let mut app = spawn_with(|c| {
        nats.configure(c);
        c.relay.relay_format = clientstatus::relay::Format::Json;
    })
    .await;
    let c = app.create("Json").await;
    app.call(c.client_id, CallOutcome::CallWithContent).await;
    app.invoice(c.client_id, "J-1").await;

    let events = nats.entries("status", 2, WITHIN).await;
    assert_contiguous(&events, "status", 2);
    assert_eq!(events[0].header("Content-Type"), "application/json");
    let grpc = grpc_events(&mut app.api, 2).await;
    for (m, g) in events.iter().zip(&grpc) {
        let json: serde_json::Value = serde_json::from_slice(&m.payload).expect("JSON");
        let g = g.event.as_ref().expect("event");
        let e = &json["event"];
        // proto3 JSON: int64 as strings, enums by name, lowerCamelCase fields.
        assert_eq!(e["sequence"], g.sequence.to_string());
        assert_eq!(e["clientId"], c.client_id.to_string());
        assert_eq!(e["cause"], g.cause);
        assert_eq!(
            e["newStage"],
            ClientStage::try_from(g.new_stage)
                .expect("stage")
                .as_str_name()
        );
        assert_eq!(e["client"]["name"]["lastName"], "Json");
    }
    let alerts = nats.entries("alerts", 1, WITHIN).await;
    let json: serde_json::Value = serde_json::from_slice(&alerts[0].payload).expect("JSON");
    assert_eq!(json["alert"]["kind"], "ALERT_KIND_BECAME_REAL");
}

#[tokio::test]
async fn a_restarted_relay_resumes_after_the_newest_message_without_loss_or_duplicate() {
    let Some(nats) = Nats::start().await else {
        return;
    };
    let mut app = spawn_with(|c| nats.configure(c)).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let c = app.create(&format!("Resume {i}")).await;
        app.call(c.client_id, CallOutcome::NoAnswer).await;
        ids.push(c.client_id);
    }
    nats.entries("status", 3, WITHIN).await;
    let mut app = app.restart().await;
    for (i, id) in ids.iter().enumerate() {
        app.invoice(*id, &format!("R-{i}")).await;
    }
    let events = nats.entries("status", 6, WITHIN).await;
    assert_contiguous(&events, "status", 6);
    assert_eq!(decoded(&events), grpc_events(&mut app.api, 6).await);
    assert_contiguous(&nats.entries("alerts", 3, WITHIN).await, "alerts", 3);
}

/// Writes until it succeeds: the server may be down (SIGKILLed) for a moment. A retry carries
/// the same request id, so it never applies twice.
pub async fn until_done<T, F, Fut>(mut call: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, tonic::Status>>,
{
    for _ in 0..600 {
        match call().await {
            Ok(v) => return v,
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    panic!("the server never came back");
}

/// `clients` new clients through `api`, each with two contact attempts: the first moves it to
/// FOLLOW_UP (one status event), the second changes nothing.
pub async fn write_clients(api: ClientStatusServiceClient<Channel>, tag: String, clients: usize) {
    for i in 0..clients {
        let create = CreateClientRequest {
            request_id: format!("{tag}-c{i}"),
            name: Some(ClientName {
                last_name: format!("{tag} {i}"),
                ..Default::default()
            }),
            ..Default::default()
        };
        let c = until_done(|| {
            let (mut api, req) = (api.clone(), create.clone());
            async move { api.create_client(req).await }
        })
        .await
        .into_inner()
        .client
        .expect("client");
        let call = RecordContactAttemptRequest {
            request_id: format!("{tag}-a{i}"),
            client_id: c.client_id,
            outcome: CallOutcome::NoAnswer as i32,
            ..Default::default()
        };
        until_done(|| {
            let (mut api, req) = (api.clone(), call.clone());
            async move { api.record_contact_attempt(req).await }
        })
        .await;
    }
}

#[tokio::test]
async fn a_relay_killed_while_publishing_resumes_without_loss_or_duplicate() {
    let Some(nats) = Nats::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let mut server = Replica::launch(&db.url, &nats.flags());
    let api = server.api().await;
    let writers: Vec<_> = (0..4)
        .map(|w| tokio::spawn(write_clients(api.clone(), format!("kill{w}"), 40)))
        .collect();
    // SIGKILL twice while events are being published: whatever it was doing (between a
    // publish and its acknowledgement, between two batches) is cut off.
    for threshold in [20, 80] {
        while nats.count().await < threshold {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        server.restart();
    }
    for w in writers {
        w.await.expect("writer");
    }
    let events = nats.entries("status", 160, WITHIN).await;
    assert_contiguous(&events, "status", 160);
    let mut api = server.api().await;
    assert_eq!(decoded(&events), grpc_events(&mut api, 160).await);
}

#[tokio::test]
async fn the_lag_metric_counts_what_jetstream_does_not_hold_yet() {
    use async_nats::jetstream::stream::{Config, DiscardPolicy};
    let Some(nats) = Nats::start().await else {
        return;
    };
    // A stream that takes three messages and refuses the rest: the relay falls behind.
    let full = Config {
        name: nats.stream.clone(),
        subjects: vec![format!("{}.>", nats.prefix)],
        max_messages: 3,
        discard: DiscardPolicy::New,
        duplicate_window: Duration::from_secs(120),
        ..Default::default()
    };
    nats.js.create_stream(full.clone()).await.expect("stream");
    let db = TestDb::new().await;
    let server = Replica::launch(&db.url, &nats.flags());
    write_clients(server.api().await, "lag".into(), 7).await;
    let lag = "clientstatus_relay_lag{stream=\"status\"}";
    wait_for_metric(&server, lag, 4.0).await;
    assert_eq!(nats.count().await, 3);

    // Room again: the relay catches up and the lag falls to zero.
    nats.js
        .update_stream(Config {
            max_messages: -1,
            ..full
        })
        .await
        .expect("update");
    wait_for_metric(&server, lag, 0.0).await;
    assert_contiguous(&nats.entries("status", 7, WITHIN).await, "status", 7);
    assert_eq!(server.metric("clientstatus_relay_leader").await, Some(1.0));
}

async fn wait_for_metric(server: &Replica, series: &str, value: f64) {
    for _ in 0..300 {
        if server.metric(series).await == Some(value) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{series} never became {value}: {}", server.metrics().await);
}
