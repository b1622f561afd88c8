//! `/metrics` as Prometheus scrapes it, from a server process of its own (metrics are per
//! process): strict text format, bounded labels, gRPC code names, streams counted when they
//! end, build info and the standard process metrics, HEAD and query strings.
use std::net::SocketAddr;
use std::time::Duration;

use clientstatus::proto::client_status_service_client::ClientStatusServiceClient;
use clientstatus::proto::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::connect;
use crate::process::Binary;
use crate::prometheus;

async fn get(addr: SocketAddr, request: &str) -> String {
    let mut socket = tokio::net::TcpStream::connect(addr)
        .await
        .expect("metrics port");
    socket
        .write_all(format!("{request}\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .expect("write");
    let mut answer = String::new();
    socket.read_to_string(&mut answer).await.expect("read");
    answer
}

async fn scrape(addr: SocketAddr) -> prometheus::Families {
    let answer = get(addr, "GET /metrics HTTP/1.1").await;
    let body = answer.split_once("\r\n\r\n").expect("headers").1;
    prometheus::parse(body).unwrap_or_else(|e| panic!("{e}\n{body}"))
}

async fn start() -> (Binary, SocketAddr, SocketAddr, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite:{}", dir.path().join("c.db").display());
    let server = Binary::start(
        &["--database-url", &db, "--metrics-listen", "127.0.0.1:0"],
        None,
    );
    let grpc = server.addr().await;
    let metrics = server.wait_for_log("metrics on /metrics").await["fields"]["addr"]
        .as_str()
        .and_then(|a| a.parse().ok())
        .expect("metrics address");
    (server, grpc, metrics, dir)
}

/// An RPC to a path this server does not serve.
async fn call_unknown(channel: tonic::transport::Channel, path: String) -> tonic::Code {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.expect("ready");
    let path = tonic::codegen::http::uri::PathAndQuery::try_from(path).expect("path");
    let codec: tonic_prost::ProstCodec<GetClientRequest, GetClientResponse> =
        tonic_prost::ProstCodec::default();
    match grpc
        .unary(
            tonic::Request::new(GetClientRequest::default()),
            path,
            codec,
        )
        .await
    {
        Ok(_) => tonic::Code::Ok,
        Err(e) => e.code(),
    }
}

#[tokio::test]
async fn a_thousand_unknown_paths_add_at_most_one_series_per_family() {
    let (_server, grpc, metrics, _dir) = start().await;
    let channel = connect(&format!("http://{grpc}")).await;
    assert_eq!(
        call_unknown(channel.clone(), "/warm.Up/Call".into()).await,
        tonic::Code::Unimplemented
    );
    let before = scrape(metrics).await;
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..1000 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let path = match i % 3 {
            0 => format!("/svc{seed:x}.S/M{i}"),
            1 => format!("/crm.clientstatus.v1.ClientStatusService/Made{seed:x}Up"),
            _ => format!("/grpc.health.v1.Health/X{seed:x}"),
        };
        assert_eq!(
            call_unknown(channel.clone(), path).await,
            tonic::Code::Unimplemented
        );
    }
    let after = scrape(metrics).await;
    for (family, series) in &after {
        let new = series
            .difference(before.get(family).unwrap_or(&Default::default()))
            .count();
        assert!(new <= 1, "{family} grew by {new} series: {series:?}");
    }
    let unknown = &after["clientstatus_rpc_requests_total"];
    assert!(
        unknown.contains(
            "clientstatus_rpc_requests_total{service=\"unknown\",method=\"unknown\",code=\"UNIMPLEMENTED\"}"
        ),
        "{unknown:?}"
    );
}

#[tokio::test]
async fn codes_are_named_as_grpc_spells_them_and_streams_count_when_they_end() {
    let (_server, grpc, metrics, _dir) = start().await;
    let mut api = ClientStatusServiceClient::new(connect(&format!("http://{grpc}")).await);
    let err = api
        .get_client(GetClientRequest { client_id: 42 })
        .await
        .expect_err("no such client");
    assert_eq!(err.code(), tonic::Code::NotFound);
    let stream = api
        .stream_status_changes(StreamStatusChangesRequest::default())
        .await
        .expect("subscribe");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let open = scrape(metrics).await;
    let rpcs = &open["clientstatus_rpc_requests_total"];
    assert!(rpcs.contains(
        "clientstatus_rpc_requests_total{service=\"crm.clientstatus.v1.ClientStatusService\",method=\"GetClient\",code=\"NOT_FOUND\"}"
    ), "{rpcs:?}");
    assert!(
        !rpcs.iter().any(|s| s.contains("StreamStatusChanges")),
        "an open stream is not counted yet: {rpcs:?}"
    );

    drop(stream);
    let mut ended = false;
    for _ in 0..50 {
        let body = get(metrics, "GET /metrics HTTP/1.1").await;
        let sum = body.lines().find_map(|l| {
            l.strip_prefix(
                "clientstatus_rpc_duration_seconds_sum{service=\"crm.clientstatus.v1.ClientStatusService\",method=\"StreamStatusChanges\",code=\"CANCELLED\"} ",
            )
            .and_then(|v| v.parse::<f64>().ok())
        });
        if let Some(sum) = sum {
            assert!(sum >= 0.3, "timed to its end: {sum} s");
            ended = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        ended,
        "the stream is counted, CANCELLED, once its caller left"
    );
}

#[tokio::test]
async fn build_info_and_process_metrics_are_there_and_head_and_queries_work() {
    let (_server, _grpc, metrics, _dir) = start().await;
    let body = get(metrics, "GET /metrics?format=text HTTP/1.1").await;
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    let value = |name: &str| -> f64 {
        body.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
            .unwrap_or_else(|| panic!("no {name} in\n{body}"))
    };
    assert!(value("process_open_fds ") > 0.0);
    assert!(value("process_max_fds ") >= value("process_open_fds "));
    assert!(value("process_resident_memory_bytes ") > 1_000_000.0);
    assert!(value("process_cpu_seconds_total ") >= 0.0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    let started = value("process_start_time_seconds ");
    assert!(
        started <= now + 1.0 && started > now - 600.0,
        "{started} vs {now}"
    );
    let info = format!(
        "clientstatus_build_info{{version=\"{}\",commit=\"",
        env!("CARGO_PKG_VERSION")
    );
    assert!(body.contains(&info), "{body}");

    let head = get(metrics, "HEAD /metrics HTTP/1.1").await;
    let (headers, rest) = head.split_once("\r\n\r\n").expect("headers");
    assert!(headers.starts_with("HTTP/1.1 200"), "{head}");
    assert!(headers.contains("Content-Length: "), "{headers}");
    assert!(rest.is_empty(), "HEAD has no body: {rest}");
}
