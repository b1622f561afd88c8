//! Many requests on the same clients at once: no lost update, one client per lead, one owner
//! per document.
use std::collections::HashSet;

use clientstatus::proto::*;
use tonic::transport::Channel;

use crate::helpers::*;

type Api = client_status_service_client::ClientStatusServiceClient<Channel>;

/// `writers` tasks each record `each` calls on `client_id`, spread over the given APIs (one per
/// server). Returns the acknowledged request ids.
pub async fn hammer(apis: &[Api], client_id: i64, writers: usize, each: usize) -> Vec<String> {
    let mut tasks = Vec::new();
    for w in 0..writers {
        let mut api = apis[w % apis.len()].clone();
        tasks.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            for i in 0..each {
                let request_id = format!("hammer-{client_id}-{w}-{i}");
                // distinct times, so "newest" is well defined: minute w*each+i
                let minute = (w * each + i) as i64;
                let at = prost_types::Timestamp {
                    seconds: 1_767_225_600 + minute * 60,
                    nanos: 0,
                };
                api.record_contact_attempt(RecordContactAttemptRequest {
                    request_id: request_id.clone(),
                    client_id,
                    outcome: CallOutcome::CallWithContent as i32,
                    occurred_at: Some(at),
                    note: format!("w{w} i{i}"),
                    ..Default::default()
                })
                .await
                .expect("concurrent call");
                acked.push(request_id);
            }
            acked
        }));
    }
    let mut acked = Vec::new();
    for t in tasks {
        acked.extend(t.await.expect("writer"));
    }
    acked
}

/// Every acknowledged request has its one history entry, versions have no gaps, and the summary
/// holds the newest call.
pub async fn assert_no_lost_update(
    app: &mut TestApp,
    client_id: i64,
    acked: &[String],
    newest_note: &str,
) {
    let client = app.get(client_id).await;
    let history = app.history(client_id).await;
    assert_eq!(client.version as usize, acked.len() + 1);
    let mut versions: Vec<i64> = history.iter().map(|h| h.version).collect();
    versions.sort_unstable();
    assert_eq!(
        versions,
        (1..=client.version).collect::<Vec<_>>(),
        "no gaps, no duplicates"
    );
    let recorded: HashSet<&str> = history.iter().map(|h| h.request_id.as_str()).collect();
    for id in acked {
        assert!(
            recorded.contains(id.as_str()),
            "acknowledged {id} missing from history"
        );
    }
    let first_line = client
        .recent_events_summary
        .lines()
        .next()
        .unwrap_or_default();
    assert!(
        first_line.ends_with(newest_note),
        "summary starts with the newest call: {first_line}"
    );
}

#[tokio::test]
async fn concurrent_calls_on_one_client_lose_no_update() {
    let mut app = spawn_app().await;
    let c = app.create("Hot client").await;
    let acked = hammer(std::slice::from_ref(&app.api), c.client_id, 8, 10).await;
    assert_no_lost_update(&mut app, c.client_id, &acked, "w7 i9").await;
}

#[tokio::test]
async fn the_same_lead_sent_concurrently_makes_one_client() {
    let app = spawn_app().await;
    let mut tasks = Vec::new();
    for i in 0..12 {
        let mut api = app.api.clone();
        tasks.push(tokio::spawn(async move {
            api.create_client(CreateClientRequest {
                request_id: format!("lead-race-{i}"),
                name: Some(ClientName {
                    last_name: format!("Race {i}"),
                    ..Default::default()
                }),
                external_lead_id: "RACE-1".into(),
                ..Default::default()
            })
            .await
            .expect("create")
            .into_inner()
        }));
    }
    let mut created = 0;
    let mut ids = HashSet::new();
    for t in tasks {
        let resp = t.await.expect("task");
        created += usize::from(resp.created);
        ids.insert(resp.client.expect("client").client_id);
    }
    assert_eq!(created, 1);
    assert_eq!(ids.len(), 1);
    let mut app = app;
    let all = app
        .api
        .list_clients(ListClientsRequest::default())
        .await
        .expect("list")
        .into_inner()
        .clients;
    assert_eq!(all.len(), 1);
}

#[tokio::test]
async fn concurrent_creates_get_unique_increasing_numbers() {
    let app = spawn_app().await;
    let mut tasks = Vec::new();
    for w in 0..6 {
        let mut api = app.api.clone();
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..10 {
                let c = api
                    .create_client(CreateClientRequest {
                        request_id: format!("num-{w}-{i}"),
                        name: Some(ClientName {
                            last_name: format!("N{w}-{i}"),
                            ..Default::default()
                        }),
                        ..Default::default()
                    })
                    .await
                    .expect("create")
                    .into_inner()
                    .client
                    .expect("client");
                ids.push(c.client_id);
            }
            ids
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        let ids = t.await.expect("task");
        assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "one caller's numbers increase: {ids:?}"
        );
        all.extend(ids);
    }
    let unique: HashSet<i64> = all.iter().copied().collect();
    assert_eq!(unique.len(), all.len());
}

#[tokio::test]
async fn one_document_raced_onto_two_clients_gets_exactly_one_owner() {
    let mut app = spawn_app().await;
    let a = app.create("A").await.client_id;
    let b = app.create("B").await.client_id;
    let mut tasks = Vec::new();
    for (i, client_id) in [a, b, a, b, a, b].into_iter().enumerate() {
        let mut api = app.api.clone();
        tasks.push(tokio::spawn(async move {
            api.record_invoice(RecordInvoiceRequest {
                request_id: format!("doc-race-{i}"),
                client_id,
                document_type: AccountingDocumentType::Invoice as i32,
                document_number: "RACE-INV".into(),
                ..Default::default()
            })
            .await
            .map(|r| (client_id, r.into_inner()))
        }));
    }
    let mut owners = HashSet::new();
    let mut applied = 0;
    for t in tasks {
        match t.await.expect("task") {
            Ok((client_id, resp)) => {
                owners.insert(client_id);
                applied += usize::from(!resp.already_recorded);
            }
            Err(status) => assert_error(
                &status,
                tonic::Code::AlreadyExists,
                "DOCUMENT_OWNED_BY_OTHER_CLIENT",
            ),
        }
    }
    assert_eq!(owners.len(), 1, "only one client ever accepted it");
    assert_eq!(applied, 1, "recorded once");
}

/// A status deleted while writers are moving clients into it: either the deletion is refused
/// (someone holds it) or no client ends up holding a status that no longer exists.
#[tokio::test]
async fn a_status_deleted_while_clients_move_into_it_is_never_left_dangling() {
    let mut app = spawn_app().await;
    for round in 0..3 {
        let status = app
            .add_status(ClientStage::Real, &format!("Contested {round}"))
            .await;
        let mut clients = Vec::new();
        for i in 0..6 {
            clients.push(app.create(&format!("C{round}-{i}")).await.client_id);
        }
        let mut tasks = Vec::new();
        for (i, &client_id) in clients.iter().enumerate() {
            let mut api = app.api.clone();
            tasks.push(tokio::spawn(async move {
                if i % 2 == 1 {
                    tokio::task::yield_now().await;
                }
                api.set_status(SetStatusRequest {
                    request_id: rid(),
                    client_id,
                    status_id: status.status_id,
                    reason: "race".into(),
                    ..Default::default()
                })
                .await
                .map(|_| ())
            }));
        }
        let mut catalog = app.catalog.clone();
        let deletion = tokio::spawn(async move {
            catalog
                .delete_status(DeleteStatusRequest {
                    request_id: rid(),
                    status_id: status.status_id,
                    ..Default::default()
                })
                .await
                .map(|_| ())
        });
        for task in tasks {
            if let Err(e) = task.await.expect("task") {
                assert!(
                    matches!(
                        e.code(),
                        tonic::Code::InvalidArgument | tonic::Code::Aborted
                    ),
                    "a move into a vanishing status is refused cleanly: {e:?}"
                );
            }
        }
        let deleted = match deletion.await.expect("task") {
            Ok(()) => true,
            Err(e) => {
                assert_error(&e, tonic::Code::FailedPrecondition, "STATUS_IN_USE");
                false
            }
        };
        let mut holders = 0;
        for &id in &clients {
            if app.get(id).await.status_id == status.status_id {
                holders += 1;
            }
        }
        if deleted {
            assert_eq!(holders, 0, "round {round}: deleted, yet clients hold it");
        } else {
            assert!(
                holders > 0,
                "round {round}: refused although nobody holds it"
            );
        }
    }
}
