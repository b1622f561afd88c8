//! What open streams cost the server, measured on the real binary (so `/proc/PID/status` is
//! the server's alone): memory within the README's budget, writers served while the streams
//! are open, abandoned streams reaped, and the lag of a consumer that reads nothing.
//!
//! The default run opens 300 streams; `CLIENTSTATUS_HEAVY_TESTS=1` opens 1,000.
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clientstatus::proto::client_status_service_client::ClientStatusServiceClient;
use clientstatus::proto::*;

use crate::fanout::{Api, Events, churn, next_events, seqs, subscribe};
use crate::helpers::*;

/// The README's budget: the server's peak resident memory with 1,000 streams open over a
/// 1,000-event backlog.
const BUDGET_MB: u64 = 120;

struct Server {
    child: Child,
    url: String,
    metrics: std::net::SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

async fn launch(db: &TestDb) -> (Server, Api) {
    let (port, metrics_port) = (free_port(), free_port());
    let child = Command::new(env!("CARGO_BIN_EXE_clientstatus"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--database-url", &db.url])
        .args(["--metrics-listen", &format!("127.0.0.1:{metrics_port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the binary");
    let url = format!("http://127.0.0.1:{port}");
    let api = ClientStatusServiceClient::new(connect(&url).await);
    let metrics = std::net::SocketAddr::from(([127, 0, 0, 1], metrics_port));
    (
        Server {
            child,
            url,
            metrics,
        },
        api,
    )
}

async fn narrow_window(url: &str) -> Api {
    let channel = tonic::transport::Endpoint::from_shared(url.to_string())
        .expect("url")
        .initial_stream_window_size(Some(1024))
        .connect()
        .await
        .expect("connect");
    ClientStatusServiceClient::new(channel)
}

/// A field of `/proc/PID/status`, in MiB.
fn memory_mb(server: &Server, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.child.id()))
        .expect("the server's /proc status");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in {status}"));
    kb / 1024
}

/// One series of the server's metrics.
async fn metric(server: &Server, series: &str) -> f64 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    for _ in 0..100 {
        if let Ok(mut socket) = tokio::net::TcpStream::connect(server.metrics).await {
            socket
                .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
                .await
                .expect("request");
            let mut body = String::new();
            socket.read_to_string(&mut body).await.expect("response");
            return body
                .lines()
                .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
                .unwrap_or(0.0);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no metrics at {}", server.metrics);
}

/// A backlog of 1,000 status events on 100 clients.
async fn backlog(api: &mut Api) -> Vec<i64> {
    let mut ids = Vec::new();
    for i in 0..100 {
        let c = api
            .create_client(CreateClientRequest {
                request_id: rid(),
                name: Some(ClientName {
                    last_name: format!("Backlog {i}"),
                    ..Default::default()
                }),
                email: format!("backlog{i}@example.com"),
                ..Default::default()
            })
            .await
            .expect("create")
            .into_inner()
            .client
            .expect("client");
        ids.push(c.client_id);
    }
    churn(api, &ids, 5).await;
    ids
}

/// Sequential writes per second (each one a stage change, so every stream gets it too).
async fn write_rate(api: &mut Api, client_id: i64, n: usize) -> f64 {
    let stages = [ClientStage::FollowUp, ClientStage::New];
    let started = Instant::now();
    for i in 0..n {
        api.set_status(SetStatusRequest {
            request_id: rid(),
            client_id,
            stage: stages[i % 2] as i32,
            reason: "rate".into(),
            ..Default::default()
        })
        .await
        .expect("write");
    }
    n as f64 / started.elapsed().as_secs_f64()
}

#[tokio::test]
async fn open_streams_over_a_backlog_stay_within_the_memory_budget_and_are_reaped() {
    let heavy = std::env::var("CLIENTSTATUS_HEAVY_TESTS").as_deref() == Ok("1");
    let (connections, per_connection) = if heavy { (10, 100) } else { (3, 100) };
    let db = TestDb::new().await;
    let (server, mut api) = launch(&db).await;
    let ids = backlog(&mut api).await;
    // A new process: its hubs hold none of the backlog, so every stream reads it from the
    // database, the costlier path.
    drop(server);
    let (server, mut api) = launch(&db).await;
    let idle_mb = memory_mb(&server, "VmRSS:");
    let alone = write_rate(&mut api, ids[0], 100).await;

    // One stream will be read to the end; the others take 1 KiB each and then read nothing,
    // the costliest kind of consumer: each holds what it took from the server.
    let mut reader = subscribe(
        &mut ClientStatusServiceClient::new(connect(&server.url).await),
        StreamStatusChangesRequest::default(),
    )
    .await;
    let mut streams: Vec<Events> = Vec::new();
    for _ in 0..connections {
        let mut conn = narrow_window(&server.url).await;
        for _ in 0..per_connection {
            streams.push(subscribe(&mut conn, StreamStatusChangesRequest::default()).await);
        }
    }
    let open = (connections * per_connection + 1) as f64;
    assert_eq!(
        metric(&server, "clientstatus_stream_subscribers").await,
        open
    );
    // Every stream takes what its window allows, then waits.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let with_streams = write_rate(&mut api, ids[0], 100).await;
    // The stream read to the end: the backlog and the writes, each once, in order.
    let total = 1_000 + 200;
    let got = seqs(&next_events(&mut reader, total).await);
    assert_eq!(got, (1..=total as i64).collect::<Vec<_>>());
    let peak_mb = memory_mb(&server, "VmHWM:");
    println!(
        "{open} streams: idle {idle_mb} MB, peak {peak_mb} MB; writes/s alone {alone:.0}, \
         with the streams open {with_streams:.0}"
    );
    // The short form's share: what the server holds whatever the number of streams (the
    // hubs' large-read budget, 8 MiB, the one stream read at full speed, the allocator's
    // arenas, and entries whose snapshots carry the stage dates: 20 MiB in all), and 64 KiB a
    // stream.
    let budget = if heavy {
        BUDGET_MB
    } else {
        idle_mb + 20 + (open as u64 * 64).div_ceil(1024)
    };
    assert!(
        peak_mb <= budget,
        "peak {peak_mb} MB with {open} streams, budget {budget} MB"
    );

    // Consumers that vanish take their streams with them.
    drop(reader);
    drop(streams);
    let mut left = open;
    for _ in 0..100 {
        left = metric(&server, "clientstatus_stream_subscribers").await;
        if left == 0.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(left, 0.0, "every abandoned stream is reaped");
}

#[tokio::test]
async fn the_lag_of_a_consumer_that_reads_nothing_counts_what_the_transport_has_not_taken() {
    let db = TestDb::new().await;
    let (server, mut api) = launch(&db).await;
    let _stalled = subscribe(
        &mut narrow_window(&server.url).await,
        StreamStatusChangesRequest::default(),
    )
    .await;
    // Written after it subscribed: the subscriber is never polled again once its window is
    // full, and its lag still follows the stream.
    backlog(&mut api).await;
    let lag = "clientstatus_stream_subscriber_lag_max{stream=\"status\"}";
    let mut seen = 0.0;
    for _ in 0..100 {
        seen = metric(&server, lag).await;
        if seen >= 900.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        seen >= 900.0,
        "1,000 entries, at most about 32 KiB of them taken by the transport: lag {seen}"
    );
}
