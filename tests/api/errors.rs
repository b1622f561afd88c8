//! The error model as standard tools decode it: a specific reason per fault, enum refusals that
//! list the allowed values, RetryInfo and ResourceInfo where they help, reflection that
//! describes google.rpc's detail types, and page tokens that cannot be edited or reused.
use clientstatus::proto::*;
use tonic::Code;
use tonic_types::StatusExt;

use crate::helpers::*;

/// Each FieldViolation's (field, reason).
fn violations(status: &tonic::Status) -> Vec<(String, String)> {
    let details = status.get_error_details();
    let mut v: Vec<_> = details
        .bad_request()
        .unwrap_or_else(|| panic!("no BadRequest in {status:?}"))
        .field_violations
        .iter()
        .map(|v| (v.field.clone(), v.reason.clone()))
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn each_validation_fault_carries_its_own_reason() {
    let mut app = spawn_app().await;
    let err = app
        .api
        .create_client(CreateClientRequest {
            request_id: rid(),
            name: Some(ClientName {
                last_name: String::new(),
                first_name: "x".repeat(201),
                ..Default::default()
            }),
            email: "nope".into(),
            lead_status: 42,
            parent_client_id: -3,
            ..Default::default()
        })
        .await
        .unwrap_err();
    let pair = |f: &str, r: &str| (f.to_string(), r.to_string());
    assert_eq!(
        violations(&err),
        [
            pair("email", "INVALID_FORMAT"),
            pair("lead_status", "UNKNOWN_ENUM_VALUE"),
            pair("name.first_name", "FIELD_TOO_LONG"),
            pair("name.last_name", "FIELD_REQUIRED"),
            pair("parent_client_id", "VALUE_OUT_OF_RANGE"),
        ]
    );
    // ErrorInfo names the first fault (fields are checked in the message's order).
    assert_error(&err, Code::InvalidArgument, "FIELD_REQUIRED");
    let info = err.get_error_details().error_info().cloned().expect("info");
    assert_eq!(info.metadata["field"], "name.last_name");
    assert_eq!(info.metadata["violations"], "5");
}

#[tokio::test]
async fn an_occurred_at_in_the_future_is_timestamp_in_future() {
    let mut app = spawn_app().await;
    let c = app.create("Later").await;
    let err = app
        .api
        .record_contact_attempt(RecordContactAttemptRequest {
            request_id: rid(),
            client_id: c.client_id,
            outcome: CallOutcome::NoAnswer as i32,
            occurred_at: Some(ts("2999-01-01T00:00:00Z")),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_error(&err, Code::InvalidArgument, "TIMESTAMP_IN_FUTURE");
    assert_eq!(
        violations(&err),
        [("occurred_at".to_string(), "TIMESTAMP_IN_FUTURE".to_string())]
    );
    assert_eq!(app.get(c.client_id).await, c, "nothing changed");
}

#[tokio::test]
async fn an_unknown_enum_value_lists_the_allowed_values() {
    let mut app = spawn_app().await;
    let c = app.create("L").await;
    let err = app
        .api
        .record_contact_attempt(RecordContactAttemptRequest {
            request_id: rid(),
            client_id: c.client_id,
            outcome: 99,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_error(&err, Code::InvalidArgument, "UNKNOWN_ENUM_VALUE");
    let details = err.get_error_details();
    let description = &details.bad_request().expect("bad request").field_violations[0].description;
    for allowed in [
        "CALL_OUTCOME_NO_ANSWER",
        "CALL_OUTCOME_LEFT_MESSAGE",
        "CALL_OUTCOME_SHORT_CALL",
        "CALL_OUTCOME_CALL_WITH_CONTENT",
    ] {
        assert!(description.contains(allowed), "{description}");
    }
    assert!(
        !description.contains("NO_CALL_YET"),
        "only the service sets it: {description}"
    );
    let err = app
        .api
        .record_contact_attempt(RecordContactAttemptRequest {
            request_id: rid(),
            client_id: c.client_id,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_error(&err, Code::InvalidArgument, "FIELD_REQUIRED");
}

#[tokio::test]
async fn extreme_numbers_are_refused_not_a_crash() {
    let mut app = spawn_app().await;
    for minutes in [i32::MIN, i32::MAX] {
        let err = app
            .reports
            .count_activities(CountActivitiesRequest {
                from: Some(ts("2024-01-01T00:00:00Z")),
                to: Some(ts("2024-01-02T00:00:00Z")),
                utc_offset_minutes: minutes,
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(bad_fields(&err), ["utc_offset_minutes"]);
        assert_error(&err, Code::InvalidArgument, "VALUE_OUT_OF_RANGE");
    }
    app.create("still serving").await;
}

#[tokio::test]
async fn a_version_mismatch_is_aborted_with_retry_info() {
    let mut app = spawn_app().await;
    let c = app.create("L").await;
    let err = app
        .api
        .record_contact_attempt(RecordContactAttemptRequest {
            request_id: rid(),
            client_id: c.client_id,
            outcome: CallOutcome::NoAnswer as i32,
            expected_version: Some(c.version + 5),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_error(&err, Code::Aborted, "VERSION_MISMATCH");
    let details = err.get_error_details();
    let retry = details.retry_info().expect("RetryInfo on ABORTED");
    assert!(retry.retry_delay.is_some());
}

#[tokio::test]
async fn not_found_names_the_missing_resource() {
    let mut app = spawn_app().await;
    let err = app
        .api
        .get_client(GetClientRequest { client_id: 12345 })
        .await
        .unwrap_err();
    assert_error(&err, Code::NotFound, "CLIENT_NOT_FOUND");
    let details = err.get_error_details();
    let resource = details.resource_info().expect("ResourceInfo on NOT_FOUND");
    assert_eq!(resource.resource_type, "crm.clientstatus.v1.Client");
    assert_eq!(resource.resource_name, "clients/12345");
    let err = app
        .catalog
        .update_status(UpdateStatusRequest {
            request_id: rid(),
            status_id: 999,
            name: Some("x".into()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_error(&err, Code::NotFound, "STATUS_NOT_FOUND");
    let details = err.get_error_details();
    let resource = details.resource_info().expect("ResourceInfo");
    assert_eq!(resource.resource_name, "statuses/999");
}

#[tokio::test]
async fn reflection_describes_the_error_detail_types() {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let app = spawn_app().await;
    let mut reflection = ServerReflectionClient::new(app.channel.clone());
    for (symbol, file) in [
        ("google.rpc.Status", "google/rpc/status.proto"),
        ("google.rpc.ErrorInfo", "google/rpc/error_details.proto"),
        ("google.rpc.BadRequest", "google/rpc/error_details.proto"),
        ("google.rpc.RetryInfo", "google/rpc/error_details.proto"),
    ] {
        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::FileContainingSymbol(symbol.into())),
        };
        let mut answers = reflection
            .server_reflection_info(tokio_stream::iter([request]))
            .await
            .expect("reflection")
            .into_inner();
        let answer = answers.message().await.expect("answer").expect("one");
        let Some(MessageResponse::FileDescriptorResponse(files)) = answer.message_response else {
            panic!("{symbol}: {answer:?}");
        };
        let names: Vec<String> = files
            .file_descriptor_proto
            .iter()
            .map(|bytes| {
                <prost_types::FileDescriptorProto as prost::Message>::decode(bytes.as_slice())
                    .expect("descriptor")
                    .name
                    .unwrap_or_default()
            })
            .collect();
        assert!(names.contains(&file.to_string()), "{symbol}: {names:?}");
    }
}

/// The first page's token of a one-per-page listing of three clients.
async fn first_token(app: &mut TestApp) -> String {
    for i in 0..3 {
        app.create(&format!("C{i}")).await;
    }
    app.api
        .list_clients(ListClientsRequest {
            page_size: 1,
            ..Default::default()
        })
        .await
        .expect("page")
        .into_inner()
        .next_page_token
}

#[tokio::test]
async fn an_edited_page_token_is_page_token_invalid() {
    let mut app = spawn_app().await;
    let token = first_token(&mut app).await;
    assert!(
        token
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
        "opaque and URL-safe: {token}"
    );
    for i in [0, token.len() / 2, token.len() - 1] {
        let mut edited = token.clone().into_bytes();
        edited[i] = if edited[i] == b'A' { b'B' } else { b'A' };
        let err = app
            .api
            .list_clients(ListClientsRequest {
                page_size: 1,
                page_token: String::from_utf8(edited).expect("ascii"),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_error(&err, Code::InvalidArgument, "PAGE_TOKEN_INVALID");
        assert_eq!(bad_fields(&err), ["page_token"]);
    }
}

#[tokio::test]
async fn a_page_token_reused_with_another_query_is_refused() {
    let mut app = spawn_app().await;
    let token = first_token(&mut app).await;
    let err = app
        .api
        .list_clients(ListClientsRequest {
            page_size: 1,
            page_token: token.clone(),
            stages: vec![ClientStage::New as i32],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_error(&err, Code::InvalidArgument, "PAGE_TOKEN_INVALID");
    assert!(err.message().contains("different query"), "{err:?}");
    // Nor does a ListClients token page another RPC's results.
    let err = app
        .api
        .get_client_history(GetClientHistoryRequest {
            client_id: 1,
            page_token: token,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_error(&err, Code::InvalidArgument, "PAGE_TOKEN_INVALID");
}

#[tokio::test]
async fn replicas_sharing_the_key_accept_each_others_tokens() {
    let mut a =
        spawn_with(|c| c.edge.page_token_key = Some("a key all the replicas share".into())).await;
    let token = first_token(&mut a).await;
    let mut config = a.config.clone();
    let mut b = start(config.clone(), a.db.clone()).await;
    let page = b
        .api
        .list_clients(ListClientsRequest {
            page_size: 1,
            page_token: token.clone(),
            ..Default::default()
        })
        .await
        .expect("the same key opens the token")
        .into_inner();
    assert_eq!(page.clients.len(), 1);
    config.edge.page_token_key = None;
    let mut c = start(config, a.db.clone()).await;
    let err = c
        .api
        .list_clients(ListClientsRequest {
            page_size: 1,
            page_token: token,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_error(&err, Code::InvalidArgument, "PAGE_TOKEN_INVALID");
}

/// A child process killed when dropped, so a failing test leaves no server behind.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The binary with `--error-domain`: ErrorInfo.domain is the configured name. (The setting is
/// process-wide, so it is checked on a server of its own.)
#[tokio::test]
async fn the_error_domain_is_a_setting() {
    if crate::backend::POSTGRES {
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let _server = std::process::Command::new(env!("CARGO_BIN_EXE_clientstatus"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--database-url")
        .arg(format!("sqlite:{}", dir.path().join("c.db").display()))
        .args(["--error-domain", "clientstatus.crm.example.com"])
        .env_clear()
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map(Killed)
        .expect("start the binary");
    let channel = connect(&format!("http://127.0.0.1:{port}")).await;
    let mut api =
        clientstatus::proto::client_status_service_client::ClientStatusServiceClient::new(channel);
    let err = api
        .get_client(GetClientRequest { client_id: 7 })
        .await
        .unwrap_err();
    let details = err.get_error_details();
    let info = details.error_info().expect("info");
    assert_eq!(info.domain, "clientstatus.crm.example.com");
    assert_eq!(info.reason, "CLIENT_NOT_FOUND");
}
