//! Stream fan-out: status-changing writes (SetStatus between two stages, each write one event)
//! with and without subscribers on StreamStatusChanges, commit-to-receipt at a fixed offered
//! rate, and the catch-up replay of a whole stream.
use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clientstatus::proto::*;
use tokio::task::JoinSet;

use crate::db::BenchDb;
use crate::drive::{Sample, Timing, closed_loop, open_loop};
use crate::fixtures::{Api, Fixtures, request_id};
use crate::report::{Baselines, Figure, count, ms};
use crate::server::Server;
use crate::unary::{Clients, b0, pick};
use crate::{Result, Settings, seed};

const WRITERS: usize = 64;

/// The pool's clients and the stage each is in; a writer takes one, moves it to the other
/// stage and puts it back, so no two writes touch one client at the same time.
#[derive(Clone)]
struct Writers(Arc<Mutex<VecDeque<(i64, ClientStage)>>>);

impl Writers {
    fn new(pool: &[i64]) -> Writers {
        let clients = pool.iter().map(|id| (*id, ClientStage::FollowUp)).collect();
        Writers(Arc::new(Mutex::new(clients)))
    }

    async fn toggle(&self, mut api: Api) -> std::result::Result<(), tonic::Status> {
        let taken = self.0.lock().unwrap_or_else(|e| e.into_inner()).pop_front();
        let (client_id, stage) = taken.ok_or_else(|| tonic::Status::resource_exhausted("pool"))?;
        let next = if stage == ClientStage::FollowUp {
            ClientStage::FollowUpMeetingOrQuote
        } else {
            ClientStage::FollowUp
        };
        let result = api
            .set_status(SetStatusRequest {
                request_id: request_id(),
                client_id,
                stage: next as i32,
                reason: "Manager moved the client".into(),
                ..Default::default()
            })
            .await;
        let now = if result.is_ok() { next } else { stage };
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back((client_id, now));
        result.map(|_| ())
    }
}

/// What every subscriber shares: the window whose events are timed, in microseconds since the
/// epoch of their `recorded_at` (empty when `from > to`).
struct Window {
    from: AtomicI64,
    to: AtomicI64,
}

#[derive(Default)]
struct Subscriber {
    last: AtomicI64,
    gaps: AtomicU64,
    latencies: Mutex<Vec<Duration>>,
}

fn micros(t: &prost_types::Timestamp) -> i64 {
    t.seconds * 1_000_000 + i64::from(t.nanos) / 1000
}

fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

/// Opens `n` subscriptions after `head` over `n / 8` connections; each counts gaps and times
/// the events recorded inside the window (receipt time minus `recorded_at`, same machine clock).
async fn subscribe(
    server: &Server,
    n: usize,
    head: i64,
    window: Arc<Window>,
) -> Result<(Vec<Arc<Subscriber>>, JoinSet<()>)> {
    let clients = Clients::connect(server, n).await?;
    let mut states = Vec::new();
    let mut tasks = JoinSet::new();
    for i in 0..n {
        let mut api = pick(&clients.api, i);
        let mut stream = api
            .stream_status_changes(StreamStatusChangesRequest {
                after_sequence: head,
                ..Default::default()
            })
            .await?
            .into_inner();
        let state = Arc::new(Subscriber::default());
        state.last.store(head, Ordering::Relaxed);
        states.push(state.clone());
        let window = window.clone();
        tasks.spawn(async move {
            while let Ok(Some(message)) = stream.message().await {
                let received = now_micros();
                let Some(event) = message.event else { continue };
                if event.sequence != state.last.load(Ordering::Relaxed) + 1 {
                    state.gaps.fetch_add(1, Ordering::Relaxed);
                }
                state.last.store(event.sequence, Ordering::Relaxed);
                let recorded = event.recorded_at.as_ref().map_or(0, micros);
                let (from, to) = (
                    window.from.load(Ordering::Relaxed),
                    window.to.load(Ordering::Relaxed),
                );
                if (from..=to).contains(&recorded) {
                    let took =
                        Duration::from_micros(u64::try_from(received - recorded).unwrap_or(0));
                    state
                        .latencies
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(took);
                }
            }
        });
    }
    Ok((states, tasks))
}

/// Waits until every subscriber has seen `head`; false after `limit`.
async fn caught_up(subscribers: &[Arc<Subscriber>], head: i64, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if subscribers
            .iter()
            .all(|s| s.last.load(Ordering::Relaxed) >= head)
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

pub async fn fan_out(
    server: &Server,
    db: &BenchDb,
    fixtures: &Fixtures,
    settings: &Settings,
    baselines: &mut Baselines,
    figures: &mut Vec<Figure>,
) -> Result<()> {
    let backend = server.backend;
    let timing = Timing {
        warmup: settings.warmup,
        duration: settings.duration,
    };
    let clients = Clients::connect(server, WRITERS).await?;
    let b = match baselines.get(WRITERS) {
        Some(b) => b,
        None => {
            let rate = b0(&clients, WRITERS, timing).await.rate();
            baselines.set(WRITERS, rate);
            rate
        }
    };
    let writers = Writers::new(&fixtures.pool);
    let write = |clients: &Clients| {
        let api = clients.api.clone();
        let writers = writers.clone();
        move |w: usize, _: u64| {
            let writers = writers.clone();
            let api = pick(&api, w);
            async move { writers.toggle(api).await }
        }
    };
    // Without subscribers before and after the runs with them (the mean of both), so a drift of
    // the shared machine does not pass for the subscribers' cost.
    let before = closed_loop(WRITERS, timing, write(&clients)).await;

    let n = settings.subscribers;
    let window = Arc::new(Window {
        from: AtomicI64::new(1),
        to: AtomicI64::new(0),
    });
    let head = seed::stream_head(db).await?;
    let (subscribers, mut tasks) = subscribe(server, n, head, window.clone()).await?;
    let watched = closed_loop(WRITERS, timing, write(&clients)).await;
    let head = seed::stream_head(db).await?;
    if !caught_up(&subscribers, head, Duration::from_secs(60)).await {
        println!("    the subscribers did not catch up with sequence {head} within 60 s");
    }

    // Commit-to-receipt at a fixed offered rate: events recorded inside the measured window.
    let from = now_micros() + i64::try_from(timing.warmup.as_micros()).unwrap_or(0);
    window.to.store(
        from + i64::try_from(timing.duration.as_micros()).unwrap_or(0),
        Ordering::Relaxed,
    );
    window.from.store(from, Ordering::Relaxed);
    let api = clients.api.clone();
    let offered = writers.clone();
    let rate = settings.event_rate;
    let paced = open_loop(rate, WRITERS, timing, move |k| {
        let writers = offered.clone();
        let api = pick(&api, k as usize);
        async move { writers.toggle(api).await }
    })
    .await;
    let head = seed::stream_head(db).await?;
    let complete = caught_up(&subscribers, head, Duration::from_secs(60)).await;
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    let after = closed_loop(WRITERS, timing, write(&clients)).await;
    let alone = before.merged(after);
    let f = Figure::calls(
        "SetStatus (1 event each), no subscribers",
        backend,
        WRITERS,
        &alone,
        Some(b),
    );
    figures.push(f.announce(Some(&alone)));
    let share = watched.rate() / alone.rate().max(f64::MIN_POSITIVE);
    let f = Figure::calls(
        &format!("SetStatus, {n} subscribers"),
        backend,
        WRITERS,
        &watched,
        Some(b),
    )
    .with_target(
        format!("≥ 0.85 of no subscribers: {share:.3}"),
        share >= 0.85,
    );
    figures.push(f.announce(Some(&watched)));
    let mut latencies = Vec::new();
    let mut gaps = 0;
    for s in &subscribers {
        latencies.append(&mut s.latencies.lock().unwrap_or_else(|e| e.into_inner()));
        gaps += s.gaps.load(Ordering::Relaxed);
    }
    let receipts = Sample::from_latencies(latencies, timing.duration.as_secs_f64());
    println!(
        "    {rate}/s offered, {} writes/s done; {} deliveries to {n} subscribers ({} per \
         subscriber), {gaps} gaps{}",
        count(paced.rate()),
        receipts.calls(),
        receipts.calls() / n.max(1),
        if complete {
            ""
        } else {
            ", not all delivered within 60 s"
        }
    );
    let mut f = Figure::calls(
        &format!("commit-to-receipt, {n} subscribers, {rate} events/s offered"),
        backend,
        WRITERS,
        &paced,
        Some(b),
    );
    f.p50 = receipts.quantile(0.5);
    f.p99 = receipts.quantile(0.99);
    let met = complete && gaps == 0 && f.p99.is_some_and(|p| p <= Duration::from_millis(20));
    let p99 = f.p99.map_or("none".into(), ms);
    f = f.with_target(format!("p99 ≤ 20 ms: {p99}"), met);
    figures.push(f.announce(Some(&paced)));
    Ok(())
}

/// One subscriber from sequence 0 to the stream's head, in events per second.
pub async fn replay(server: &Server, db: &BenchDb, figures: &mut Vec<Figure>) -> Result<()> {
    let head = seed::stream_head(db).await?;
    if head == 0 {
        println!("replay: the stream is empty");
        return Ok(());
    }
    let mut api = Api::new(server.channel().await?);
    let started = Instant::now();
    let mut stream = api
        .stream_status_changes(StreamStatusChangesRequest::default())
        .await?
        .into_inner();
    let mut received = 0u64;
    while let Some(message) = stream.message().await? {
        received += 1;
        if message.event.is_some_and(|e| e.sequence >= head) {
            break;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let rate = received as f64 / seconds;
    let mut f = Figure::value(
        &format!("replay from sequence 0 ({} events)", count(received as f64)),
        server.backend,
        format!("≥ 50,000 events/s: {}", count(rate)),
        Some(rate >= 50_000.0 && received as i64 >= head),
    );
    f.rate = Some(rate);
    figures.push(f.announce(None));
    Ok(())
}
