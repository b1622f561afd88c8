//! Health that tells the truth, as a Kubernetes probe and grpcurl see it: NOT_SERVING from the
//! start of a graceful stop, a Watch that reports it and then ends, and health (only health)
//! open to callers without a token, reflection included.
use std::time::{Duration, Instant};

use tokio_stream::StreamExt;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

use crate::helpers::*;
use crate::process::{Binary, tokens_file};

#[tokio::test]
async fn a_graceful_stop_turns_health_not_serving_and_ends_the_watch() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite:{}", dir.path().join("c.db").display());
    // A long drain: an open Watch must not be what keeps the process alive.
    let mut server = Binary::start(&["--database-url", &db, "--drain-timeout", "60s"], None);
    let addr = server.addr().await;
    let mut health = HealthClient::new(connect(&format!("http://{addr}")).await);
    let mut watch = health
        .watch(HealthCheckRequest::default())
        .await
        .expect("watch")
        .into_inner();
    let first = watch.next().await.expect("first").expect("status");
    assert_eq!(first.status, ServingStatus::Serving as i32);

    server.sigterm();
    let signalled = Instant::now();
    let next = tokio::time::timeout(Duration::from_secs(2), watch.next())
        .await
        .expect("NOT_SERVING within 2 s of SIGTERM")
        .expect("an update")
        .expect("status");
    assert_eq!(next.status, ServingStatus::NotServing as i32);
    let end = tokio::time::timeout(Duration::from_secs(5), watch.next())
        .await
        .expect("the Watch ends with the stop");
    assert!(end.as_ref().is_none_or(|r| r.is_err()), "{end:?}");
    let status = server.exit(Duration::from_secs(20)).await;
    assert!(status.success(), "{status:?}");
    assert!(
        signalled.elapsed() < Duration::from_secs(30),
        "stopped without waiting out the 60 s drain"
    );
}

#[tokio::test]
async fn an_unknown_service_is_not_found() {
    let app = spawn_app().await;
    let err = HealthClient::new(app.channel.clone())
        .check(HealthCheckRequest {
            service: "no.such.Service".into(),
        })
        .await
        .expect_err("unknown");
    assert_eq!(err.code(), tonic::Code::NotFound);
}

/// Whether reflection knows `symbol` (asked first, as grpcurl does), then the services it
/// lists on the same stream.
async fn reflect(app: &TestApp, token: Option<&str>, symbol: &str) -> (Vec<String>, bool) {
    let requests = vec![
        ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::FileContainingSymbol(symbol.into())),
        },
        ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        },
    ];
    let mut request = tonic::Request::new(tokio_stream::iter(requests));
    if let Some(token) = token {
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {token}").parse().expect("header"),
        );
    }
    let mut responses = ServerReflectionClient::new(app.channel.clone())
        .server_reflection_info(request)
        .await
        .expect("reflection")
        .into_inner();
    let mut services = Vec::new();
    let mut found = false;
    while let Some(response) = responses.next().await {
        let response = match response {
            Ok(response) => response,
            Err(e) if e.code() == tonic::Code::NotFound => continue, // an unknown symbol
            Err(e) => panic!("reflection failed: {e:?}"),
        };
        match response.message_response {
            Some(MessageResponse::ListServicesResponse(list)) => {
                services = list.service.into_iter().map(|s| s.name).collect();
            }
            Some(MessageResponse::FileDescriptorResponse(_)) => found = true,
            _ => {}
        }
    }
    (services, found)
}

#[tokio::test]
async fn without_a_token_reflection_describes_health_and_nothing_else() {
    let dir = tempfile::tempdir().expect("temp dir");
    let tokens = tokens_file(dir.path(), "ops");
    let app = spawn_with(|c| c.tokens_file = Some(tokens)).await;

    let health = HealthClient::new(app.channel.clone())
        .check(HealthCheckRequest::default())
        .await
        .expect("health needs no token")
        .into_inner();
    assert_eq!(health.status, ServingStatus::Serving as i32);

    let (services, found) = reflect(&app, None, "grpc.health.v1.Health").await;
    assert!(
        services.contains(&"grpc.health.v1.Health".to_string())
            && !services.iter().any(|s| s.starts_with("crm.")),
        "{services:?}"
    );
    assert!(found, "the health schema is served without a token");
    let (_, found) = reflect(&app, None, "crm.clientstatus.v1.ClientStatusService").await;
    assert!(!found, "the contract is not served without a token");
    let listing = ServerReflectionClient::new(app.channel.clone())
        .server_reflection_info(tokio_stream::iter(vec![ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        }]))
        .await
        .expect_err("listing the services needs a token");
    assert_eq!(listing.code(), tonic::Code::Unauthenticated);

    let (services, found) = reflect(
        &app,
        Some("s3cret"),
        "crm.clientstatus.v1.ClientStatusService",
    )
    .await;
    assert!(found, "a known token sees the contract");
    assert!(
        services.contains(&"crm.clientstatus.v1.ClientStatusService".to_string()),
        "{services:?}"
    );
}
