//! Unary calls at 1, 16 and 64 in flight: B0, two writes and two reads, each against B0 at the
//! same concurrency; and one write at a time against the server's own time for it.
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use clientstatus::proto::*;
use prost::Message;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use crate::db::Backend;
use crate::drive::{Sample, Timing, closed_loop};
use crate::fixtures::{Api, Fixtures, owner, pool_owner, request_id};
use crate::report::{Baselines, Figure, ms};
use crate::server::{HEALTH_SERVICE, Server, histogram};
use crate::{Result, Settings};

pub const LEVELS: [usize; 3] = [1, 16, 64];
/// Calls in flight per connection.
pub const PER_CONNECTION: usize = 8;

/// gRPC clients over `in_flight / 8` connections; worker `w` uses `clients[w / 8]`.
pub struct Clients {
    pub api: Arc<Vec<Api>>,
    pub health: Arc<Vec<HealthClient<tonic::transport::Channel>>>,
}

impl Clients {
    pub async fn connect(server: &Server, in_flight: usize) -> Result<Clients> {
        let channels = server.channels(in_flight.div_ceil(PER_CONNECTION)).await?;
        Ok(Clients {
            api: Arc::new(channels.iter().cloned().map(Api::new).collect()),
            health: Arc::new(channels.into_iter().map(HealthClient::new).collect()),
        })
    }
}

pub fn pick<T: Clone>(clients: &[T], worker: usize) -> T {
    clients[worker / PER_CONNECTION % clients.len()].clone()
}

/// B0: `grpc.health.v1.Health/Check`, which reads nothing.
pub async fn b0(clients: &Clients, in_flight: usize, timing: Timing) -> Sample {
    let health = clients.health.clone();
    closed_loop(in_flight, timing, move |w, _| {
        let mut h = pick(&health, w);
        async move {
            h.check(HealthCheckRequest {
                service: HEALTH_SERVICE.into(),
            })
            .await
            .map(|_| ())
        }
    })
    .await
}

pub async fn run(
    server: &Server,
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
    let answer = check_reads(server, fixtures).await?;
    let pool = Arc::new(fixtures.pool.clone());
    let readable = Arc::new(fixtures.readable.clone());
    for in_flight in LEVELS {
        let clients = Clients::connect(server, in_flight).await?;
        let s = b0(&clients, in_flight, timing).await;
        let b = s.rate();
        baselines.set(in_flight, b);
        figures.push(
            Figure::calls("B0 Health/Check", backend, in_flight, &s, Some(b)).announce(Some(&s)),
        );

        let s = if in_flight == 1 {
            one_at_a_time(server, &clients, pool.clone(), settings, backend, figures).await?
        } else {
            record_contact_attempt(&clients, in_flight, pool.clone(), timing).await
        };
        let f = Figure::calls("RecordContactAttempt", backend, in_flight, &s, Some(b));
        figures.push(write_target(f, backend, in_flight).announce(Some(&s)));

        let s = create_client(&clients, in_flight, timing).await;
        figures.push(
            Figure::calls("CreateClient", backend, in_flight, &s, Some(b)).announce(Some(&s)),
        );

        let api = clients.api.clone();
        let ids = readable.clone();
        let s = closed_loop(in_flight, timing, move |w, n| {
            let mut api = pick(&api, w);
            let client_id = ids[(w + n as usize) % ids.len()];
            async move {
                api.get_client(GetClientRequest { client_id })
                    .await
                    .map(|_| ())
            }
        })
        .await;
        let name = format!("GetClient ({answer} B answer)");
        figures.push(Figure::calls(&name, backend, in_flight, &s, Some(b)).announce(Some(&s)));

        let api = clients.api.clone();
        let s = closed_loop(in_flight, timing, move |w, n| {
            let mut api = pick(&api, w);
            let request = list_by_stage_and_owner(w + n as usize);
            async move { api.list_clients(request).await.map(|_| ()) }
        })
        .await;
        let name = "ListClients stage + owner, 50 a page";
        figures.push(Figure::calls(name, backend, in_flight, &s, Some(b)).announce(Some(&s)));
    }
    Ok(())
}

/// The targets for durable writes at 64 in flight.
fn write_target(f: Figure, backend: Backend, in_flight: usize) -> Figure {
    let (Some(ratio), Some(p99)) = (f.ratio, f.p99) else {
        return f;
    };
    match (backend, in_flight) {
        (Backend::Sqlite, 64) => {
            let met = ratio >= 0.5 && p99 <= Duration::from_millis(20);
            f.with_target(
                format!("≥ 0.5 of B0, p99 ≤ 20 ms: {ratio:.3}, {}", ms(p99)),
                met,
            )
        }
        (Backend::Postgres, 64) => f.with_target(format!("≥ 0.3 of B0: {ratio:.3}"), ratio >= 0.3),
        _ => f,
    }
}

fn list_by_stage_and_owner(k: usize) -> ListClientsRequest {
    ListClientsRequest {
        stages: vec![ClientStage::FollowUp as i32],
        owner: pool_owner(k),
        page_size: 50,
        ..Default::default()
    }
}

/// The read fixtures are what the figures say: a GetClient answer above 256 bytes (smaller
/// ones hid the Nagle delay) and full ListClients pages. Returns the answer's size.
async fn check_reads(server: &Server, fixtures: &Fixtures) -> Result<usize> {
    let mut api = Api::new(server.channel().await?);
    let client_id = *fixtures.readable.first().ok_or("no readable client")?;
    let answer = api
        .get_client(GetClientRequest { client_id })
        .await?
        .into_inner();
    let size = answer.encoded_len();
    if size <= 256 {
        return Err(format!("the GetClient answer is only {size} bytes").into());
    }
    let page = api
        .list_clients(list_by_stage_and_owner(0))
        .await?
        .into_inner();
    if page.clients.len() != 50 {
        return Err(format!(
            "the ListClients page holds {} clients, not 50",
            page.clients.len()
        )
        .into());
    }
    Ok(size)
}

/// Writers on the pool: worker `w` of `in_flight` cycles through its own slice, so concurrent
/// writers never touch the same client.
async fn record_contact_attempt(
    clients: &Clients,
    in_flight: usize,
    pool: Arc<Vec<i64>>,
    timing: Timing,
) -> Sample {
    let api = clients.api.clone();
    let slice = (pool.len() / in_flight).max(1);
    closed_loop(in_flight, timing, move |w, n| {
        let mut api = pick(&api, w);
        let client_id = pool[(w * slice + n as usize % slice) % pool.len()];
        async move {
            api.record_contact_attempt(RecordContactAttemptRequest {
                request_id: request_id(),
                client_id,
                outcome: CallOutcome::NoAnswer as i32,
                note: "No answer; will try again tomorrow".into(),
                ..Default::default()
            })
            .await
            .map(|_| ())
        }
    })
    .await
}

/// New leads with keys no other client has.
async fn create_client(clients: &Clients, in_flight: usize, timing: Timing) -> Sample {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let api = clients.api.clone();
    closed_loop(in_flight, timing, move |w, _| {
        let mut api = pick(&api, w);
        let k = NEXT.fetch_add(1, Ordering::Relaxed);
        async move {
            api.create_client(CreateClientRequest {
                request_id: request_id(),
                name: Some(ClientName {
                    last_name: format!("Lead {k}"),
                    first_name: "Noa".into(),
                    middle_name: String::new(),
                }),
                branch: "Haifa".into(),
                owner: owner(k as usize),
                email: format!("lead{k}@load.bench.example"),
                phone: format!("+44 7{k:09}"),
                lead_status: LeadStatus::Regular as i32,
                record_source: "web form".into(),
                ..Default::default()
            })
            .await
            .map(|_| ())
        }
    })
    .await
}

/// One RecordContactAttempt at a time, against the server's metrics over exactly those calls:
/// its own time per call (`clientstatus_rpc_duration_seconds`) and per commit.
async fn one_at_a_time(
    server: &Server,
    clients: &Clients,
    pool: Arc<Vec<i64>>,
    settings: &Settings,
    backend: Backend,
    figures: &mut Vec<Figure>,
) -> Result<Sample> {
    let warm = Timing {
        warmup: Duration::ZERO,
        duration: settings.warmup,
    };
    record_contact_attempt(clients, 1, pool.clone(), warm).await;
    let before = server.metrics().await?;
    let timing = Timing {
        warmup: Duration::ZERO,
        duration: settings.duration,
    };
    let s = record_contact_attempt(clients, 1, pool, timing).await;
    let after = server.metrics().await?;
    let per_call = |name: &str, labels: &str| {
        let (s0, c0) = histogram(&before, name, labels);
        let (s1, c1) = histogram(&after, name, labels);
        (c1 > c0).then(|| Duration::from_secs_f64((s1 - s0) / (c1 - c0)))
    };
    let rpc = per_call(
        "clientstatus_rpc_duration_seconds",
        // Every code: the calls measured had no errors (or the figure says so).
        "method=\"RecordContactAttempt\"",
    );
    let commit = per_call("clientstatus_db_commit_duration_seconds", "op=\"execute\"");
    let (Some(p50), Some(mean), Some(rpc)) = (s.quantile(0.5), s.mean(), rpc) else {
        return Err(format!(
            "one at a time: {} calls, {} errors ({}), server metric {rpc:?}",
            s.calls(),
            s.errors,
            s.first_error.as_deref().unwrap_or("none")
        )
        .into());
    };
    let commit_text = commit.map_or("no commit timed".into(), |c| {
        format!("of which commit {}", ms(c))
    });
    // Means on both sides: the server only gives a sum and a count, over exactly these calls.
    let gap = mean.as_secs_f64() * 1000.0 - rpc.as_secs_f64() * 1000.0;
    println!(
        "one at a time: round trip p50 {} (mean {}), server {} ({commit_text}), difference {gap:.2} ms",
        ms(p50),
        ms(mean),
        ms(rpc),
    );
    let f = Figure::calls(
        "RecordContactAttempt one at a time: round trip vs server",
        backend,
        1,
        &s,
        None,
    )
    .with_target(
        format!(
            "round trip ≤ server + 2 ms: {} vs {} ({commit_text})",
            ms(mean),
            ms(rpc)
        ),
        gap <= 2.0,
    );
    figures.push(f);
    Ok(s)
}
