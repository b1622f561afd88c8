//! Health and reflection, as operators and tools (grpcurl) use them.
use tokio_stream::StreamExt;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

use crate::helpers::*;

#[tokio::test]
async fn health_reports_serving_for_the_server_and_the_service() {
    let app = spawn_app().await;
    let mut health = HealthClient::new(app.channel.clone());
    for service in ["", "crm.clientstatus.v1.ClientStatusService"] {
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
        22,
        "the twenty of SPEC sections 2 and 5, and the two streams: {methods:?}"
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
    ] {
        assert!(
            methods.iter().any(|m| m == rpc),
            "{rpc} missing from {methods:?}"
        );
    }
}
