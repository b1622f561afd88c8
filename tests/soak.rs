//! Replicas under failure (issue #16), a soak run, not part of the default `cargo test`:
//!
//!     CLIENTSTATUS_SOAK_SECONDS=60 cargo test --test soak -- --ignored --nocapture
//!
//! Three server processes on one Postgres with the relay on; writers and stream consumers
//! spread over all three; one replica SIGKILLed and restarted every few seconds (the relaying
//! one every other time). At the end: every acknowledged write is there; every gRPC consumer
//! and an independent JetStream consumer saw 1..N once each; every HOT lead's
//! HOT_LEAD_UNTOUCHED alert was raised once. It prints its figures.
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::{AckPolicy, pull};
use clientstatus::proto::client_status_service_client::ClientStatusServiceClient;
use clientstatus::proto::*;
use tokio::sync::{Mutex, watch};
use tokio_stream::StreamExt;
use tonic::transport::Channel;

mod backend {
    pub const POSTGRES: bool = true;
}
#[allow(dead_code)]
#[path = "api/helpers.rs"]
mod helpers;
#[allow(dead_code)]
#[path = "api/relay_support.rs"]
mod relay_support;

use helpers::TestDb;
use relay_support::{Nats, Replica};

type Api = ClientStatusServiceClient<Channel>;

const REPLICAS: usize = 3;
const WRITERS_PER_REPLICA: usize = 2;
const HOT_LEAD_SLA: Duration = Duration::from_secs(3);
const KILL_EVERY: Duration = Duration::from_secs(4);
const DOWN_FOR: Duration = Duration::from_millis(800);

/// A write the service acknowledged: the client, and the stage it must have at least.
#[derive(Debug, Clone, Copy)]
struct Acked {
    client_id: i64,
    hot: bool,
    called: bool,
}

#[derive(Default)]
struct Figures {
    writes: AtomicU64,
    retries: AtomicU64,
}

#[tokio::test]
#[ignore = "a soak run: CLIENTSTATUS_SOAK_SECONDS=60 cargo test --test soak -- --ignored"]
async fn replicas_under_failure_lose_nothing_and_relay_everything_once() {
    let seconds: u64 = std::env::var("CLIENTSTATUS_SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let Some(nats) = Nats::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let mut flags = nats.flags();
    flags.extend(["--hot-lead-sla".into(), "3s".into()]);
    flags.extend(["--alert-poll-interval".into(), "200ms".into()]);
    let replicas: Vec<Replica> = (0..REPLICAS)
        .map(|_| Replica::launch(&db.url, &flags))
        .collect();
    let mut apis = Vec::new();
    for r in &replicas {
        apis.push(r.api().await);
    }
    let replicas = Arc::new(Mutex::new(replicas));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let figures = Arc::new(Figures::default());

    let (done_tx, done) = watch::channel(i64::MAX);
    let mut consumers = Vec::new();
    for (i, api) in apis.iter().enumerate() {
        consumers.push(tokio::spawn(grpc_consumer(api.clone(), i, done.clone())));
    }
    let jetstream = tokio::spawn(jetstream_consumer(
        nats.js.clone(),
        nats.stream.clone(),
        done.clone(),
    ));
    let mut writers = Vec::new();
    for w in 0..REPLICAS * WRITERS_PER_REPLICA {
        writers.push(tokio::spawn(writer(
            apis.clone(),
            w,
            deadline,
            figures.clone(),
        )));
    }
    let chaos = tokio::spawn(killer(replicas.clone(), deadline));

    let mut acked = Vec::new();
    for w in writers {
        acked.extend(w.await.expect("writer"));
    }
    let (kills, takeovers, lag_max) = chaos.await.expect("killer");

    // Every HOT lead falls due, then everything is relayed.
    tokio::time::sleep(HOT_LEAD_SLA + Duration::from_secs(2)).await;
    let mut api = apis[0].clone();
    let status_head = newest(&mut api, true).await;
    let alerts_head = newest(&mut api, false).await;
    let _ = done_tx.send(status_head);

    // Every acknowledged write is there.
    for a in &acked {
        let c = until_done(|| {
            let mut api = api.clone();
            async move {
                api.get_client(GetClientRequest {
                    client_id: a.client_id,
                })
                .await
            }
        })
        .await
        .into_inner()
        .client
        .expect("client");
        let want = if a.called {
            ClientStage::FollowUp
        } else {
            ClientStage::New
        };
        assert_eq!(
            c.stage, want as i32,
            "acknowledged write to client {} is not there",
            a.client_id
        );
    }
    let called = acked.iter().filter(|a| a.called).count() as i64;
    assert_eq!(
        status_head, called,
        "one status event per acknowledged first call"
    );

    // Each gRPC consumer saw 1..N once each (checked as they went); so did JetStream's.
    for c in consumers {
        assert_eq!(c.await.expect("consumer"), status_head);
    }
    let from_jetstream = tokio::time::timeout(Duration::from_secs(60), jetstream)
        .await
        .expect("the JetStream consumer reached the head")
        .expect("JetStream consumer");
    assert_eq!(from_jetstream.status, (1..=status_head).collect::<Vec<_>>());
    assert_eq!(from_jetstream.alerts, (1..=alerts_head).collect::<Vec<_>>());

    // Each HOT lead's time-based alert was raised exactly once.
    let hot: Vec<i64> = acked
        .iter()
        .filter(|a| a.hot)
        .map(|a| a.client_id)
        .collect();
    let raised = hot_alerts(&mut api, alerts_head).await;
    for id in &hot {
        assert_eq!(
            raised.get(id),
            Some(&1),
            "HOT_LEAD_UNTOUCHED of client {id}"
        );
    }
    assert_eq!(raised.len(), hot.len(), "alerts only for HOT leads");

    println!("soak: {seconds} s, {REPLICAS} replicas on one Postgres, relay to JetStream");
    println!(
        "  writes acknowledged     {}",
        figures.writes.load(Ordering::Relaxed)
    );
    println!(
        "  calls retried           {}",
        figures.retries.load(Ordering::Relaxed)
    );
    println!(
        "  clients checked         {} ({} HOT leads)",
        acked.len(),
        hot.len()
    );
    println!("  replicas SIGKILLed      {kills}");
    println!(
        "  status events relayed   {status_head} (1..N once, on 3 gRPC consumers and JetStream)"
    );
    println!("  alerts relayed          {alerts_head} (HOT_LEAD_UNTOUCHED once per HOT lead)");
    let took: Vec<String> = takeovers
        .iter()
        .map(|d| format!("{:.1}", d.as_secs_f64()))
        .collect();
    println!(
        "  takeovers               {} after killing the relay, seconds: {}",
        takeovers.len(),
        took.join(" ")
    );
    println!("  relay lag max           {lag_max} events");
    let _ = replicas;
}

/// Until `deadline`: new clients (every fourth a HOT lead, never contacted), the others
/// called once. A failed call is retried on the next replica with the same request id.
async fn writer(apis: Vec<Api>, w: usize, deadline: Instant, figures: Arc<Figures>) -> Vec<Acked> {
    let mut acked = Vec::new();
    let mut home = w % apis.len();
    let mut i = 0;
    while Instant::now() < deadline {
        let hot = i % 4 == 0;
        let create = CreateClientRequest {
            request_id: format!("soak-{w}-c{i}"),
            name: Some(ClientName {
                last_name: format!("Soak {w}-{i}"),
                ..Default::default()
            }),
            lead_status: if hot {
                LeadStatus::Hot as i32
            } else {
                LeadStatus::Regular as i32
            },
            ..Default::default()
        };
        let client_id = rotate(&apis, &mut home, &figures, |mut api| {
            let req = create.clone();
            async move {
                api.create_client(req)
                    .await
                    .map(|r| r.into_inner().client.map_or(0, |c| c.client_id))
            }
        })
        .await;
        let mut a = Acked {
            client_id,
            hot,
            called: false,
        };
        if !hot {
            let call = RecordContactAttemptRequest {
                request_id: format!("soak-{w}-a{i}"),
                client_id,
                outcome: CallOutcome::NoAnswer as i32,
                ..Default::default()
            };
            rotate(&apis, &mut home, &figures, |mut api| {
                let req = call.clone();
                async move { api.record_contact_attempt(req).await.map(|_| ()) }
            })
            .await;
            a.called = true;
        }
        acked.push(a);
        i += 1;
    }
    acked
}

async fn rotate<T, F, Fut>(apis: &[Api], home: &mut usize, figures: &Figures, call: F) -> T
where
    F: Fn(Api) -> Fut,
    Fut: std::future::Future<Output = Result<T, tonic::Status>>,
{
    for _ in 0..600 {
        match call(apis[*home].clone()).await {
            Ok(v) => {
                figures.writes.fetch_add(1, Ordering::Relaxed);
                return v;
            }
            Err(_) => {
                figures.retries.fetch_add(1, Ordering::Relaxed);
                *home = (*home + 1) % apis.len();
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    panic!("no replica answered for 12 s");
}

async fn until_done<T, F, Fut>(call: F) -> T
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, tonic::Status>>,
{
    for _ in 0..300 {
        if let Ok(v) = call().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server never answered");
}

/// SIGKILLs a replica every `KILL_EVERY` until `deadline`, the relaying one every other time,
/// and restarts it. Returns the kills, how long each takeover after killing the relay took,
/// and the largest relay lag seen.
async fn killer(
    replicas: Arc<Mutex<Vec<Replica>>>,
    deadline: Instant,
) -> (u64, Vec<Duration>, i64) {
    let (mut kills, mut takeovers, mut lag_max) = (0, Vec::new(), 0i64);
    let mut round = 0;
    while Instant::now() + KILL_EVERY < deadline {
        let next = Instant::now() + KILL_EVERY;
        while Instant::now() < next {
            lag_max = lag_max.max(relay_lag(&replicas).await);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let mut rs = replicas.lock().await;
        let leader = leader_of(&rs).await;
        let victim = match leader {
            Some(l) if round % 2 == 0 => l,
            _ => (round / 2) % rs.len(),
        };
        rs[victim].kill();
        kills += 1;
        let killed_at = Instant::now();
        if Some(victim) == leader {
            // Another replica must relay within seconds; the killed one stays down meanwhile.
            loop {
                if leader_of(&rs).await.is_some() {
                    takeovers.push(killed_at.elapsed());
                    break;
                }
                assert!(
                    killed_at.elapsed() < Duration::from_secs(15),
                    "no replica took over"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        if let Some(rest) = DOWN_FOR.checked_sub(killed_at.elapsed()) {
            tokio::time::sleep(rest).await;
        }
        rs[victim].restart();
        round += 1;
    }
    (kills, takeovers, lag_max)
}

async fn leader_of(replicas: &[Replica]) -> Option<usize> {
    for (i, r) in replicas.iter().enumerate() {
        if r.metric("clientstatus_relay_leader").await == Some(1.0) {
            return Some(i);
        }
    }
    None
}

async fn relay_lag(replicas: &Mutex<Vec<Replica>>) -> i64 {
    let rs = replicas.lock().await;
    for r in rs.iter() {
        if let Some(lag) = r.metric("clientstatus_relay_lag{stream=\"status\"}").await {
            return lag as i64;
        }
    }
    0
}

/// Follows the status stream on one replica, reconnecting after `after` when it is killed;
/// asserts each event is the next sequence. Returns the last sequence once it reaches `done`.
async fn grpc_consumer(api: Api, i: usize, done: watch::Receiver<i64>) -> i64 {
    let mut last = 0;
    loop {
        if last >= *done.borrow() {
            return last;
        }
        let mut api = api.clone();
        let req = StreamStatusChangesRequest {
            after_sequence: last,
            ..Default::default()
        };
        let Ok(stream) = api.stream_status_changes(req).await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let mut stream = stream.into_inner();
        while let Ok(Some(Ok(e))) =
            tokio::time::timeout(Duration::from_secs(1), stream.next()).await
        {
            let seq = e.event.map_or(-1, |e| e.sequence);
            assert_eq!(seq, last + 1, "consumer on replica {i} after {last}");
            last = seq;
            if last >= *done.borrow() {
                return last;
            }
        }
    }
}

struct Seen {
    status: Vec<i64>,
    alerts: Vec<i64>,
}

/// An independent JetStream consumer of the whole stream, live while replicas are killed.
async fn jetstream_consumer(
    js: async_nats::jetstream::Context,
    name: String,
    done: watch::Receiver<i64>,
) -> Seen {
    let stream = loop {
        match js.get_stream(&name).await {
            Ok(s) => break s,
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    let consumer = stream
        .create_consumer(pull::Config {
            ack_policy: AckPolicy::None,
            ..Default::default()
        })
        .await
        .expect("consumer");
    let mut messages = consumer.messages().await.expect("messages");
    let mut seen = Seen {
        status: Vec::new(),
        alerts: Vec::new(),
    };
    loop {
        let last = seen.status.last().copied().unwrap_or(0);
        if last >= *done.borrow() {
            // What is left of the alerts arrives right after.
            while let Ok(Some(Ok(m))) =
                tokio::time::timeout(Duration::from_secs(2), messages.next()).await
            {
                note(&mut seen, &m);
            }
            return seen;
        }
        if let Ok(Some(Ok(m))) = tokio::time::timeout(Duration::from_secs(1), messages.next()).await
        {
            note(&mut seen, &m);
        }
    }
}

fn note(seen: &mut Seen, m: &async_nats::jetstream::Message) {
    let header = |name: &str| {
        m.headers
            .as_ref()
            .and_then(|h| h.get(name))
            .map(|v| v.as_str().to_string())
    };
    let seq = header(clientstatus::relay::SEQUENCE)
        .and_then(|s| s.parse().ok())
        .unwrap_or(-1);
    match header(clientstatus::relay::STREAM).as_deref() {
        Some("status") => seen.status.push(seq),
        Some("alerts") => seen.alerts.push(seq),
        _ => {}
    }
}

/// The newest sequence of the status (or alert) stream, read as a consumer would.
async fn newest(api: &mut Api, status: bool) -> i64 {
    let mut newest = 0;
    if status {
        let mut s = api
            .stream_status_changes(StreamStatusChangesRequest::default())
            .await
            .expect("subscribe")
            .into_inner();
        while let Ok(Some(Ok(e))) = tokio::time::timeout(Duration::from_secs(2), s.next()).await {
            newest = e.event.map_or(newest, |e| e.sequence);
        }
    } else {
        let mut s = api
            .stream_alerts(StreamAlertsRequest::default())
            .await
            .expect("subscribe")
            .into_inner();
        while let Ok(Some(Ok(a))) = tokio::time::timeout(Duration::from_secs(2), s.next()).await {
            newest = a.alert.map_or(newest, |a| a.sequence);
        }
    }
    newest
}

/// HOT_LEAD_UNTOUCHED alerts per client, over the whole alert stream.
async fn hot_alerts(api: &mut Api, head: i64) -> BTreeMap<i64, usize> {
    let mut s = api
        .stream_alerts(StreamAlertsRequest::default())
        .await
        .expect("subscribe")
        .into_inner();
    let mut per_client = BTreeMap::new();
    let mut last = 0;
    while last < head {
        let a = tokio::time::timeout(Duration::from_secs(10), s.next())
            .await
            .expect("alerts in time")
            .expect("open")
            .expect("alert")
            .alert
            .expect("alert");
        last = a.sequence;
        if a.kind == AlertKind::HotLeadUntouched as i32 {
            *per_client.entry(a.client_id).or_default() += 1;
        }
    }
    per_client
}
