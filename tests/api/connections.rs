//! Connections as hostile or unlucky peers use them: idle sockets past the file limit,
//! sockets that never speak HTTP/2, too many streams on one connection, huge metadata.
use std::time::Duration;

use clientstatus::proto::*;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio_stream::StreamExt;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::helpers::*;
use crate::process::Binary;

/// Raises this test process's own soft file limit: it opens over a thousand sockets.
fn raise_own_file_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain calls on a struct we own.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        limit.rlim_cur = limit.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
    }
}

#[tokio::test]
async fn idle_sockets_past_the_file_limit_do_not_lock_out_a_new_caller() {
    raise_own_file_limit();
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite:{}", dir.path().join("c.db").display());
    let server = Binary::start(&["--database-url", &db], Some(1024));
    let addr = server.addr().await;

    let mut idle = Vec::new();
    for _ in 0..1100 {
        idle.push(TcpStream::connect(addr).await.expect("idle socket"));
    }
    // Let the server accept them all (and close the oldest to stay within its files).
    tokio::time::sleep(Duration::from_millis(500)).await;

    let served = tokio::time::timeout(Duration::from_secs(1), async {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .expect("url")
            .connect()
            .await
            .expect("connect");
        HealthClient::new(channel)
            .check(HealthCheckRequest::default())
            .await
            .expect("check")
            .into_inner()
    })
    .await
    .expect("a new caller is served within 1 s");
    assert_eq!(served.status, ServingStatus::Serving as i32);

    // The server made room by closing idle sockets that never spoke HTTP/2.
    let closed = idle.iter().filter(|s| closed_by_peer(s)).count();
    assert!(closed >= 100, "only {closed} idle sockets were closed");
    let log = server.stdout();
    assert!(
        log.contains("the open-file limit caps client connections"),
        "the cap is logged:\n{log}"
    );
}

/// Whether the peer has closed `socket`: past what it sent (the server's HTTP/2 SETTINGS),
/// the end of the stream, without waiting.
fn closed_by_peer(socket: &TcpStream) -> bool {
    let mut buf = [0u8; 1024];
    loop {
        match socket.try_read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) => return e.kind() != std::io::ErrorKind::WouldBlock,
        }
    }
}

#[tokio::test]
async fn a_socket_that_never_speaks_http2_is_closed_after_the_handshake_timeout() {
    let app = spawn_with(|c| c.handshake_timeout = chrono::Duration::milliseconds(300)).await;
    let mut silent = TcpStream::connect(app.addr).await.expect("connect");
    let mut sent = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), silent.read_to_end(&mut sent))
        .await
        .expect("closed by the server, not left open");
    drop(read); // ended, whether by FIN or by reset
    // A real client's connection is not affected.
    let mut api = app.api.clone();
    tokio::time::sleep(Duration::from_millis(500)).await;
    api.get_client(GetClientRequest { client_id: 1 })
        .await
        .expect_err("no such client, but an answer");
}

#[tokio::test]
async fn streams_beyond_the_per_connection_cap_wait_for_a_free_one() {
    let app = spawn_with(|c| c.max_streams_per_connection = 2).await;
    let mut api = app.api.clone();
    let one = api
        .stream_status_changes(StreamStatusChangesRequest::default())
        .await
        .expect("first stream");
    let two = api
        .stream_status_changes(StreamStatusChangesRequest::default())
        .await
        .expect("second stream");
    let mut third = tonic::Request::new(GetClientRequest { client_id: 1 });
    third.set_timeout(Duration::from_millis(500));
    let err = api.get_client(third).await.expect_err("no stream free");
    // The client's own deadline ends the wait (tonic reports it as CANCELLED).
    assert!(
        matches!(
            err.code(),
            tonic::Code::DeadlineExceeded | tonic::Code::Cancelled
        ),
        "{err:?}"
    );
    drop(one);
    let mut fourth = tonic::Request::new(GetClientRequest { client_id: 1 });
    fourth.set_timeout(Duration::from_secs(5));
    let err = api.get_client(fourth).await.expect_err("no such client");
    assert_eq!(err.code(), tonic::Code::NotFound, "{err:?}");
    drop(two);
}

/// Huge metadata fails (at most) its own call: a stream open on the same connection goes on.
#[tokio::test]
async fn huge_metadata_does_not_tear_down_the_connection() {
    let mut app = spawn_app().await;
    let mut events = app
        .api
        .stream_status_changes(StreamStatusChangesRequest::default())
        .await
        .expect("subscribe")
        .into_inner();
    let mut api = app.api.clone();
    let mut big = tonic::Request::new(GetClientRequest { client_id: 1 });
    let value = "x".repeat(64 * 1024);
    big.metadata_mut()
        .insert("x-padding", value.parse().expect("ascii"));
    let err = api.get_client(big).await.expect_err("no such client");
    assert_eq!(
        err.code(),
        tonic::Code::NotFound,
        "64 KB is served: {err:?}"
    );
    let c = app.create("After 64 KB").await;
    app.call(c.client_id, CallOutcome::NoAnswer).await;
    let event = tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .expect("the stream is alive after 64 KB")
        .expect("an event")
        .expect("not an error");
    assert_eq!(event.event.expect("event").client_id, c.client_id);
    // Larger than the server takes: that call fails, nothing else does.
    let mut huge = tonic::Request::new(GetClientRequest { client_id: 1 });
    let value = "a".repeat(400 * 1024);
    huge.metadata_mut()
        .insert("x-padding", value.parse().expect("ascii"));
    let err = api.get_client(huge).await.expect_err("over the limit");
    assert!(
        err.message().contains("431"),
        "refused as too large: {err:?}"
    );

    let c = app.create("Still streaming").await;
    app.call(c.client_id, CallOutcome::NoAnswer).await;
    let event = tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .expect("the stream is alive")
        .expect("an event")
        .expect("not an error");
    assert_eq!(event.event.expect("event").client_id, c.client_id);
}
