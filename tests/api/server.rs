//! Health and reflection, as operators and tools (grpcurl) use them.
use tokio_stream::StreamExt;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

use clientstatus::proto::client_status_service_client::ClientStatusServiceClient;
use clientstatus::proto::{
    ReassignRequest, StreamStatusChangesRequest, StreamStatusChangesResponse,
    SummarizeMeetingRequest,
};

use crate::helpers::*;

#[tokio::test]
async fn health_reports_serving_for_the_server_and_the_service() {
    let app = spawn_app().await;
    let mut health = HealthClient::new(app.channel.clone());
    for service in [
        "",
        "crm.clientstatus.v1.ClientStatusService",
        "crm.clientstatus.v1.StatusCatalogService",
        "crm.clientstatus.v1.ClientReportService",
    ] {
        let resp = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .expect("health")
            .into_inner();
        assert_eq!(resp.status, ServingStatus::Serving as i32, "{service:?}");
    }
}

#[tokio::test]
async fn reflection_lists_the_service_with_its_twenty_rpcs_and_two_streams() {
    let app = spawn_app().await;
    let mut reflection = ServerReflectionClient::new(app.channel.clone());
    let requests = vec![
        ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        },
        ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::FileContainingSymbol(
                "crm.clientstatus.v1.ClientStatusService".into(),
            )),
        },
        ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::FileContainingSymbol(
                "crm.clientstatus.v1.ClientReportService".into(),
            )),
        },
    ];
    let mut responses = reflection
        .server_reflection_info(tokio_stream::iter(requests))
        .await
        .expect("reflection")
        .into_inner();
    let Some(Ok(first)) = responses.next().await else {
        panic!("no list")
    };
    let Some(MessageResponse::ListServicesResponse(list)) = first.message_response else {
        panic!("not a list")
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    assert!(
        names.contains(&"crm.clientstatus.v1.ClientStatusService".to_string()),
        "{names:?}"
    );
    assert!(
        names.contains(&"grpc.health.v1.Health".to_string()),
        "{names:?}"
    );
    for other in ["StatusCatalogService", "ClientReportService"] {
        assert!(
            names.contains(&format!("crm.clientstatus.v1.{other}")),
            "{names:?}"
        );
    }

    let Some(Ok(second)) = responses.next().await else {
        panic!("no file")
    };
    let Some(MessageResponse::FileDescriptorResponse(files)) = second.message_response else {
        panic!("not a file")
    };
    use prost::Message;
    let methods: Vec<String> = files
        .file_descriptor_proto
        .iter()
        .map(|bytes| {
            prost_types::FileDescriptorProto::decode(bytes.as_slice()).expect("descriptor")
        })
        .flat_map(|f| f.service)
        .filter(|s| s.name() == "ClientStatusService")
        .flat_map(|s| s.method)
        .map(|m| m.name().to_string())
        .collect();
    assert_eq!(
        methods.len(),
        25,
        "the twenty events, declarations and reads, the three card RPCs, and the two streams: \
         {methods:?}"
    );
    for rpc in [
        "CreateClient",
        "GetClient",
        "ListClients",
        "GetClientHistory",
        "RecordContactAttempt",
        "RecordMessageSent",
        "ScheduleMeeting",
        "SummarizeMeeting",
        "IssueQuote",
        "ApproveOrder",
        "RecordInvoice",
        "RecordExtraProperties",
        "OpenTradingAccount",
        "RecordPaidService",
        "DeclareNotInterested",
        "DeclareFrozen",
        "DeclareFictitious",
        "RestoreClient",
        "SetStatus",
        "Reassign",
        "UpdateClient",
        "MergeClients",
        "EraseClient",
    ] {
        assert!(
            methods.iter().any(|m| m == rpc),
            "{rpc} missing from {methods:?}"
        );
    }

    // The reports: the funnel, activity, and the stage timeline's three.
    let Some(Ok(third)) = responses.next().await else {
        panic!("no report file")
    };
    let Some(MessageResponse::FileDescriptorResponse(files)) = third.message_response else {
        panic!("not a file")
    };
    let reports: Vec<String> = files
        .file_descriptor_proto
        .iter()
        .map(|bytes| {
            prost_types::FileDescriptorProto::decode(bytes.as_slice()).expect("descriptor")
        })
        .flat_map(|f| f.service)
        .filter(|s| s.name() == "ClientReportService")
        .flat_map(|s| s.method)
        .map(|m| m.name().to_string())
        .collect();
    assert_eq!(
        reports,
        [
            "CountClients",
            "CountActivities",
            "StageConversion",
            "TimeInStage",
            "StageEntries"
        ]
    );
}

async fn scrape(addr: std::net::SocketAddr) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // The metrics port opens as the server starts; the harness's gRPC port is bound earlier.
    let mut socket = None;
    for _ in 0..100 {
        if let Ok(s) = tokio::net::TcpStream::connect(addr).await {
            socket = Some(s);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let mut socket = socket.expect("metrics port");
    socket
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("request");
    let mut out = String::new();
    socket.read_to_string(&mut out).await.expect("response");
    assert!(out.starts_with("HTTP/1.1 200 OK"), "{out}");
    out
}

fn value(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| {
            l.strip_prefix(series)
                .and_then(|rest| rest.trim().parse().ok())
        })
        .unwrap_or(0.0)
}

#[tokio::test]
async fn metrics_show_rpcs_stage_transitions_events_and_alerts_moving() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr");
    let mut app = spawn_with(|c| c.metrics_listen = Some(port)).await;
    let before = scrape(port).await;
    let c = app.create("Metered").await;
    app.call(c.client_id, clientstatus::proto::CallOutcome::NoAnswer)
        .await;
    app.invoice(c.client_id, "M-1").await;
    let _ = app
        .api
        .get_client(clientstatus::proto::GetClientRequest { client_id: 999_999 })
        .await;
    let after = scrape(port).await;
    let grew = |series: &str, by: f64| {
        let delta = value(&after, series) - value(&before, series);
        assert!(
            delta >= by,
            "{series} grew by {delta}, expected {by}:\n{after}"
        );
    };
    grew(
        "clientstatus_rpc_requests_total{service=\"crm.clientstatus.v1.ClientStatusService\",method=\"CreateClient\",code=\"OK\"}",
        1.0,
    );
    grew(
        "clientstatus_rpc_requests_total{service=\"crm.clientstatus.v1.ClientStatusService\",method=\"GetClient\",code=\"NOT_FOUND\"}",
        1.0,
    );
    grew(
        "clientstatus_rpc_duration_seconds_count{service=\"crm.clientstatus.v1.ClientStatusService\",method=\"RecordInvoice\",code=\"OK\"}",
        1.0,
    );
    grew(
        "clientstatus_stage_transitions_total{from=\"NEW\",to=\"FOLLOW_UP\"}",
        1.0,
    );
    grew(
        "clientstatus_stage_transitions_total{from=\"FOLLOW_UP\",to=\"REAL\"}",
        1.0,
    );
    grew("clientstatus_status_events_written_total", 2.0);
    grew(
        "clientstatus_alerts_raised_total{kind=\"BECAME_REAL\"}",
        1.0,
    );
    assert!(after.contains("# TYPE clientstatus_stream_subscribers gauge"));
}

/// A consumer that stops reading: its client takes at most 1 KiB of stream data before the
/// server must wait, so the subscriber's queue fills and its cursor stays behind.
async fn stalled_subscriber(app: &TestApp) -> tonic::Streaming<StreamStatusChangesResponse> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", app.addr))
        .expect("url")
        .initial_stream_window_size(Some(1024))
        .connect()
        .await
        .expect("connect");
    ClientStatusServiceClient::new(channel)
        .stream_status_changes(StreamStatusChangesRequest::default())
        .await
        .expect("subscribe")
        .into_inner()
}

#[tokio::test]
async fn metrics_show_database_pools_commit_latency_and_a_stalled_subscribers_lag() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr");
    let mut app = spawn_with(|c| c.metrics_listen = Some(port)).await;
    let before = scrape(port).await;

    // 300 stage changes in five calls: 100 clients meet, are reassigned, meet again.
    let mut ids = Vec::new();
    for i in 0..100 {
        ids.push(app.create(&format!("Lagging {i}")).await.client_id);
    }
    for round in 0..3 {
        if round == 1 {
            app.api
                .reassign(ReassignRequest {
                    request_id: rid(),
                    client_ids: ids.clone(),
                    new_owner: "dana".into(),
                    ..Default::default()
                })
                .await
                .expect("reassign");
        } else {
            app.api
                .summarize_meeting(SummarizeMeetingRequest {
                    request_id: rid(),
                    client_ids: ids.clone(),
                    note: "quarterly review".into(),
                    ..Default::default()
                })
                .await
                .expect("summarize");
        }
    }
    let _stalled = stalled_subscriber(&app).await;
    // The subscriber reads a batch of 256 of the 300 entries and queues them until its queue
    // (64) and the stalled connection (1 KiB window, one 32 KiB write) are full, well before
    // the batch's end: 44 or more entries stay behind its cursor. Wait for it to get there.
    let lag = "clientstatus_stream_subscriber_lag_max{stream=\"status\"}";
    let mut after = scrape(port).await;
    for _ in 0..250 {
        if value(&after, lag) >= 44.0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        after = scrape(port).await;
    }
    assert!(
        value(&after, lag) >= 44.0,
        "a stalled subscriber lags by 44 or more:\n{after}"
    );

    let grew = |series: &str, by: f64| {
        let delta = value(&after, series) - value(&before, series);
        assert!(
            delta >= by,
            "{series} grew by {delta}, expected {by}:\n{after}"
        );
    };
    // Every accepted write commits once: 100 creations, 3 multi-client calls.
    grew(
        "clientstatus_db_commit_duration_seconds_count{op=\"execute\"}",
        103.0,
    );
    grew(
        "clientstatus_db_commit_duration_seconds_bucket{op=\"execute\",le=\"+Inf\"}",
        103.0,
    );
    assert!(after.contains("# TYPE clientstatus_db_commit_duration_seconds histogram"));
    let pools: &[(&str, f64)] = if crate::backend::POSTGRES {
        &[("postgres", 16.0)]
    } else {
        &[("sqlite_writer", 1.0), ("sqlite_reader", 4.0)]
    };
    for (pool, max) in pools {
        // Other tests' servers in this process add to the same series: at least ours.
        let series = format!("clientstatus_db_pool_max_connections{{pool=\"{pool}\"}}");
        assert!(value(&after, &series) >= *max, "{series}:\n{after}");
        let open = value(
            &after,
            &format!("clientstatus_db_pool_connections{{pool=\"{pool}\",state=\"idle\"}}"),
        ) + value(
            &after,
            &format!("clientstatus_db_pool_connections{{pool=\"{pool}\",state=\"in_use\"}}"),
        );
        assert!(open >= 1.0, "{pool} has an open connection:\n{after}");
    }
}

/// A consumer that stopped reading does not keep the server from stopping.
#[tokio::test]
async fn a_stalled_subscriber_does_not_hold_up_a_graceful_stop() {
    let mut app = spawn_with(|c| c.drain_timeout = chrono::Duration::seconds(1)).await;
    let mut ids = Vec::new();
    for i in 0..100 {
        ids.push(app.create(&format!("Stalling {i}")).await.client_id);
    }
    app.api
        .summarize_meeting(SummarizeMeetingRequest {
            request_id: rid(),
            client_ids: ids,
            note: "review".into(),
            ..Default::default()
        })
        .await
        .expect("summarize");
    let _stalled = stalled_subscriber(&app).await;
    // Give the subscriber time to fill its queue and block on the consumer.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    // The drain timeout is 1 s; well within 15 s the server is gone.
    tokio::time::timeout(std::time::Duration::from_secs(15), app.stop())
        .await
        .expect("the server stops although a consumer stopped reading");
}
