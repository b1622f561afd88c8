//! Everything a caller controls is bounded: each repeated field has a limit named in the error,
//! an error stays small whatever the input, an oversized or broken request is INVALID_ARGUMENT
//! with details, and a page never grows past what a default client can receive.
use clientstatus::proto::*;
use tonic::{Code, Status};
use tonic_types::StatusExt;

use crate::helpers::*;

/// Bytes the error takes in the trailers, at worst: grpc-message percent-encoded, the details
/// base64.
fn trailer_bytes(status: &Status) -> usize {
    status.message().len() * 3 + status.details().len().div_ceil(3) * 4
}

/// Asserts a TOO_MANY_VALUES refusal of `field` that names `limit`.
fn assert_too_many(result: Result<impl std::fmt::Debug, Status>, field: &str, limit: usize) {
    let err = result.expect_err(field);
    assert_eq!(bad_fields(&err), [field], "{err:?}");
    assert_error(&err, Code::InvalidArgument, "TOO_MANY_VALUES");
    let details = err.get_error_details();
    let violation = &details.bad_request().expect("bad request").field_violations[0];
    assert_eq!(violation.reason, "TOO_MANY_VALUES");
    assert!(
        violation.description.contains(&format!("at most {limit}")),
        "{violation:?}"
    );
}

#[tokio::test]
async fn count_clients_with_40000_stages_is_refused_naming_the_field() {
    let mut app = spawn_app().await;
    app.create("L").await;
    let result = app
        .reports
        .count_clients(CountClientsRequest {
            stages: vec![ClientStage::New as i32; 40_000],
            ..Default::default()
        })
        .await;
    assert_too_many(result, "stages", 100);
}

#[tokio::test]
async fn every_repeated_field_of_every_request_has_a_limit() {
    let mut app = spawn_app().await;
    let list = |f: fn(&mut ListClientsRequest)| {
        let mut r = ListClientsRequest::default();
        f(&mut r);
        r
    };
    let cases: [(ListClientsRequest, &str, usize); 5] = [
        (list(|r| r.stages = vec![1; 101]), "stages", 100),
        (
            list(|r| r.lead_statuses = vec![1; 101]),
            "lead_statuses",
            100,
        ),
        (list(|r| r.status_ids = vec![1; 201]), "status_ids", 200),
        (
            list(|r| r.status_group_ids = vec![1; 201]),
            "status_group_ids",
            200,
        ),
        (
            list(|r| r.customer_type_ids = vec![1; 201]),
            "customer_type_ids",
            200,
        ),
    ];
    for (request, field, limit) in cases {
        assert_too_many(app.api.list_clients(request).await, field, limit);
    }
    let result = app
        .catalog
        .list_statuses(ListStatusesRequest {
            stages: vec![1; 101],
            ..Default::default()
        })
        .await;
    assert_too_many(result, "stages", 100);
    let result = app
        .reports
        .count_clients(CountClientsRequest {
            group_by: vec![1; 101],
            ..Default::default()
        })
        .await;
    assert_too_many(result, "group_by", 100);
    let result = app
        .reports
        .count_activities(CountActivitiesRequest {
            from: Some(ts("2024-01-01T00:00:00Z")),
            to: Some(ts("2024-01-02T00:00:00Z")),
            causes: vec!["SetStatus".into(); 51],
            ..Default::default()
        })
        .await;
    assert_too_many(result, "causes", 50);
    let result = app
        .catalog
        .create_status_group(CreateStatusGroupRequest {
            request_id: rid(),
            name: "G".into(),
            status_ids: vec![1; 501],
            ..Default::default()
        })
        .await;
    assert_too_many(result, "status_ids", 500);
    let result = app
        .catalog
        .update_status_group(UpdateStatusGroupRequest {
            request_id: rid(),
            status_group_id: 1,
            status_ids: Some(StatusIds { ids: vec![1; 501] }),
            ..Default::default()
        })
        .await;
    assert_too_many(result, "status_ids.ids", 500);
    let result = app
        .api
        .summarize_meeting(SummarizeMeetingRequest {
            request_id: rid(),
            client_ids: (1..=101).collect(),
            note: "n".into(),
            ..Default::default()
        })
        .await;
    assert_too_many(result, "client_ids", 100);
    let result = app
        .api
        .reassign(ReassignRequest {
            request_id: rid(),
            client_ids: (1..=1001).collect(),
            new_owner: "x".into(),
            ..Default::default()
        })
        .await;
    assert_too_many(result, "client_ids", 1000);
    let props = |n: usize| (0..n).map(|i| (format!("k{i}"), "v".to_string())).collect();
    let result = app
        .api
        .create_client(CreateClientRequest {
            request_id: rid(),
            name: Some(ClientName {
                last_name: "L".into(),
                ..Default::default()
            }),
            custom_properties: props(101),
            ..Default::default()
        })
        .await;
    assert_too_many(result, "custom_properties", 100);
}

#[tokio::test]
async fn stream_filters_have_limits_too() {
    let mut app = spawn_app().await;
    let status = |f: fn(&mut StreamStatusChangesRequest)| {
        let mut r = StreamStatusChangesRequest::default();
        f(&mut r);
        r
    };
    let cases: [(StreamStatusChangesRequest, &str); 3] = [
        (status(|r| r.new_stages = vec![1; 101]), "new_stages"),
        (
            status(|r| r.causes = vec!["SetStatus".into(); 101]),
            "causes",
        ),
        (status(|r| r.client_ids = vec![1; 101]), "client_ids"),
    ];
    for (request, field) in cases {
        let result = app.api.stream_status_changes(request).await.map(|_| ());
        assert_too_many(result, field, 100);
    }
    let result = app
        .api
        .stream_alerts(StreamAlertsRequest {
            kinds: vec![1; 101],
            ..Default::default()
        })
        .await
        .map(|_| ());
    assert_too_many(result, "kinds", 100);
}

#[tokio::test]
async fn repeats_in_a_filter_collapse_instead_of_counting_twice() {
    let mut app = spawn_app().await;
    let c = app.create("L").await;
    let listed = app
        .api
        .list_clients(ListClientsRequest {
            stages: vec![ClientStage::New as i32; 100],
            status_ids: vec![default_status(ClientStage::New); 200],
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner();
    assert_eq!(listed.clients.len(), 1);
    assert_eq!(listed.clients[0].client_id, c.client_id);
}

#[tokio::test]
async fn a_megabyte_colour_gives_a_short_error_that_names_the_field() {
    let mut app = spawn_app().await;
    let err = app
        .catalog
        .create_status(CreateStatusRequest {
            request_id: rid(),
            stage: ClientStage::Real as i32,
            name: "Gold".into(),
            color: "#".repeat(1_000_000),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["color"]);
    assert_error(&err, Code::InvalidArgument, "FIELD_TOO_LONG");
    assert!(trailer_bytes(&err) < 4_096, "{} bytes", trailer_bytes(&err));
    // A short wrong colour is quoted back, so the caller sees what was wrong.
    let err = app
        .catalog
        .create_status(CreateStatusRequest {
            request_id: rid(),
            stage: ClientStage::Real as i32,
            name: "Gold".into(),
            color: "gold".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_error(&err, Code::InvalidArgument, "INVALID_FORMAT");
    assert!(err.message().contains("gold"), "{err:?}");
}

#[tokio::test]
async fn five_hundred_unknown_status_ids_give_a_short_error() {
    let mut app = spawn_app().await;
    let err = app
        .catalog
        .create_status_group(CreateStatusGroupRequest {
            request_id: rid(),
            name: "G".into(),
            status_ids: (1_000..1_500).collect(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(trailer_bytes(&err) < 4_096, "{} bytes", trailer_bytes(&err));
    let fields = bad_fields(&err);
    assert_eq!(fields[0], "status_ids[0]");
    assert_eq!(fields.last().map(String::as_str), Some("…"));
    assert!(fields.len() <= 21, "{}", fields.len());
}

#[tokio::test]
async fn a_request_over_4_mib_is_invalid_argument_with_details() {
    let mut app = spawn_app().await;
    let c = app.create("L").await;
    let err = app
        .api
        .record_contact_attempt(RecordContactAttemptRequest {
            request_id: rid(),
            client_id: c.client_id,
            outcome: CallOutcome::NoAnswer as i32,
            note: "n".repeat(5 * 1024 * 1024),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["request"]);
    assert_error(&err, Code::InvalidArgument, "REQUEST_TOO_LARGE");
    let details = err.get_error_details();
    assert_eq!(
        details.error_info().expect("info").metadata["limit_bytes"],
        "4194304"
    );
    assert_eq!(app.get(c.client_id).await, c, "nothing changed");
}

#[tokio::test]
async fn a_call_without_a_request_message_is_malformed_not_internal() {
    let app = spawn_app().await;
    let mut grpc = tonic::client::Grpc::new(app.channel.clone());
    grpc.ready().await.expect("ready");
    let path = tonic::codegen::http::uri::PathAndQuery::from_static(
        "/crm.clientstatus.v1.ClientStatusService/GetClient",
    );
    let codec = tonic_prost::ProstCodec::<GetClientRequest, GetClientResponse>::default();
    let err = grpc
        .client_streaming(
            tonic::Request::new(tokio_stream::empty::<GetClientRequest>()),
            path,
            codec,
        )
        .await
        .unwrap_err();
    assert_error(&err, Code::InvalidArgument, "MALFORMED_REQUEST");
}

/// `n` clients whose custom properties make each about `bytes` long on the wire.
async fn large_clients(app: &mut TestApp, n: usize, bytes: usize) -> Vec<i64> {
    // Four-byte characters: 100 values of `bytes / 400` of them.
    let value = "😀".repeat(bytes / 400);
    let mut ids = Vec::new();
    for i in 0..n {
        let props = (0..100).map(|k| (format!("k{k}"), value.clone())).collect();
        let c = app
            .create_with(CreateClientRequest {
                name: Some(ClientName {
                    last_name: format!("Large {i}"),
                    ..Default::default()
                }),
                custom_properties: props,
                ..Default::default()
            })
            .await;
        ids.push(c.client_id);
    }
    ids
}

#[tokio::test]
async fn a_page_of_large_clients_ends_early_with_a_token() {
    let mut app = spawn_app().await;
    // 1.2 MB each: five would be 6 MB, more than a default client accepts in one message.
    let created = large_clients(&mut app, 5, 1_200_000).await;
    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = app
            .api
            .list_clients(ListClientsRequest {
                page_size: 10,
                page_token: token,
                ..Default::default()
            })
            .await
            .expect("a page a default client can receive")
            .into_inner();
        pages += 1;
        assert!(!page.clients.is_empty());
        assert!(page.clients.len() < 5, "{} on one page", page.clients.len());
        seen.extend(page.clients.iter().map(|c| c.client_id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen, created, "every client once, in order");
    assert!(pages >= 2);
}

#[tokio::test]
async fn a_history_page_of_long_notes_ends_early_with_a_token() {
    let mut app = spawn_app().await;
    let c = app.create("Talkative").await;
    // 16 KB notes (four-byte characters): 220 of them are over 3 MiB.
    let note = "😀".repeat(4_000);
    for _ in 0..220 {
        app.api
            .record_contact_attempt(RecordContactAttemptRequest {
                request_id: rid(),
                client_id: c.client_id,
                outcome: CallOutcome::ShortCall as i32,
                note: note.clone(),
                ..Default::default()
            })
            .await
            .expect("call");
    }
    let first = app
        .api
        .get_client_history(GetClientHistoryRequest {
            client_id: c.client_id,
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("first page")
        .into_inner();
    assert!(first.entries.len() < 221, "{}", first.entries.len());
    assert!(!first.next_page_token.is_empty());
    let mut total = first.entries.len();
    let mut token = first.next_page_token;
    while !token.is_empty() {
        let page = app
            .api
            .get_client_history(GetClientHistoryRequest {
                client_id: c.client_id,
                page_size: 1000,
                page_token: token,
                ..Default::default()
            })
            .await
            .expect("page")
            .into_inner();
        total += page.entries.len();
        token = page.next_page_token;
    }
    assert_eq!(total, 221, "the creation and 220 calls");
}

#[tokio::test]
async fn a_page_size_above_the_maximum_is_coerced_to_it() {
    let app = spawn_app().await;
    let mut workers = tokio::task::JoinSet::new();
    for w in 0..8 {
        let mut api = app.api.clone();
        workers.spawn(async move {
            for i in 0..126 {
                api.create_client(CreateClientRequest {
                    request_id: rid(),
                    name: Some(ClientName {
                        last_name: format!("C{w}-{i}"),
                        ..Default::default()
                    }),
                    ..Default::default()
                })
                .await
                .expect("create");
            }
        });
    }
    while let Some(done) = workers.join_next().await {
        done.expect("worker");
    }
    let mut api = app.api.clone();
    let page = api
        .list_clients(ListClientsRequest {
            page_size: 5000,
            ..Default::default()
        })
        .await
        .expect("coerced, not refused")
        .into_inner();
    assert_eq!(page.clients.len(), 1000);
    let rest = api
        .list_clients(ListClientsRequest {
            page_size: 5000,
            page_token: page.next_page_token,
            ..Default::default()
        })
        .await
        .expect("rest")
        .into_inner();
    assert_eq!(rest.clients.len(), 8);
    assert!(rest.next_page_token.is_empty());
    let history = api
        .get_client_history(GetClientHistoryRequest {
            client_id: page.clients[0].client_id,
            page_size: 5000,
            ..Default::default()
        })
        .await
        .expect("history coerced too")
        .into_inner();
    assert_eq!(history.entries.len(), 1);
}
