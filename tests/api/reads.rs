//! Reads: lists with filters and stable page tokens, and the history timeline.
use clientstatus::proto::*;

use crate::helpers::*;

async fn ids(app: &mut TestApp, req: ListClientsRequest) -> Vec<i64> {
    app.api
        .list_clients(req)
        .await
        .expect("list")
        .into_inner()
        .clients
        .iter()
        .map(|c| c.client_id)
        .collect()
}

#[tokio::test]
async fn list_filters_by_stage_kind_owner_branch_lead_status_and_next_call() {
    let mut app = spawn_app().await;
    let new_hot = app
        .create_with(CreateClientRequest {
            name: Some(ClientName {
                last_name: "Hot".into(),
                ..Default::default()
            }),
            owner: "avi".into(),
            branch: "Haifa".into(),
            lead_status: LeadStatus::Hot as i32,
            ..Default::default()
        })
        .await
        .client_id;
    let follow = app
        .create_with(CreateClientRequest {
            name: Some(ClientName {
                last_name: "Follow".into(),
                ..Default::default()
            }),
            owner: "local".into(),
            branch: "Eilat".into(),
            ..Default::default()
        })
        .await
        .client_id;
    app.api
        .record_contact_attempt(RecordContactAttemptRequest {
            request_id: rid(),
            client_id: follow,
            outcome: CallOutcome::LeftMessage as i32,
            occurred_at: Some(ts("2026-01-01T10:00:00Z")),
            next_call_at: Some(ts("2026-01-02T10:00:00Z")),
            ..Default::default()
        })
        .await
        .expect("call");
    let real = app.create("Real").await.client_id;
    app.invoice(real, "I").await;

    let stages = |s: &[ClientStage]| ListClientsRequest {
        stages: s.iter().map(|x| *x as i32).collect(),
        ..Default::default()
    };
    assert_eq!(
        ids(&mut app, stages(&[ClientStage::New])).await,
        vec![new_hot]
    );
    assert_eq!(
        ids(
            &mut app,
            stages(&[ClientStage::FollowUp, ClientStage::Real])
        )
        .await,
        vec![follow, real]
    );
    let kind = |k: ClientKind| ListClientsRequest {
        kind: k as i32,
        ..Default::default()
    };
    assert_eq!(
        ids(&mut app, kind(ClientKind::Prospect)).await,
        vec![new_hot, follow]
    );
    assert_eq!(ids(&mut app, kind(ClientKind::Permanent)).await, vec![real]);
    assert_eq!(
        ids(
            &mut app,
            ListClientsRequest {
                owner: "avi".into(),
                ..Default::default()
            }
        )
        .await,
        vec![new_hot]
    );
    assert_eq!(
        ids(
            &mut app,
            ListClientsRequest {
                assigned_to_me: true,
                ..Default::default()
            }
        )
        .await,
        vec![follow]
    );
    assert_eq!(
        ids(
            &mut app,
            ListClientsRequest {
                branch: "Eilat".into(),
                ..Default::default()
            }
        )
        .await,
        vec![follow]
    );
    assert_eq!(
        ids(
            &mut app,
            ListClientsRequest {
                lead_statuses: vec![LeadStatus::Hot as i32],
                ..Default::default()
            }
        )
        .await,
        vec![new_hot]
    );
    let due = |t: &str| ListClientsRequest {
        next_call_due_before: Some(ts(t)),
        ..Default::default()
    };
    assert_eq!(
        ids(&mut app, due("2026-01-03T00:00:00Z")).await,
        vec![follow]
    );
    assert!(ids(&mut app, due("2026-01-02T00:00:00Z")).await.is_empty());
    // filters combine
    let both = ListClientsRequest {
        kind: ClientKind::Permanent as i32,
        stages: vec![ClientStage::New as i32],
        ..Default::default()
    };
    assert!(ids(&mut app, both).await.is_empty());
}

#[tokio::test]
async fn pages_are_stable_while_clients_are_added() {
    let mut app = spawn_app().await;
    let mut created = Vec::new();
    for i in 0..7 {
        created.push(app.create(&format!("C{i}")).await.client_id);
    }
    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let resp = app
            .api
            .list_clients(ListClientsRequest {
                page_size: 3,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .expect("page")
            .into_inner();
        seen.extend(resp.clients.iter().map(|c| c.client_id));
        pages += 1;
        if pages == 1 {
            created.push(app.create("added while paging").await.client_id);
        }
        if resp.next_page_token.is_empty() {
            break;
        }
        token = resp.next_page_token;
    }
    assert_eq!(
        seen, created,
        "every client once, in order, including one added mid-way"
    );
    assert_eq!(pages, 3);
}

#[tokio::test]
async fn a_page_token_only_fits_the_query_it_came_from() {
    let mut app = spawn_app().await;
    for i in 0..3 {
        app.create(&format!("C{i}")).await;
    }
    let token = app
        .api
        .list_clients(ListClientsRequest {
            page_size: 1,
            ..Default::default()
        })
        .await
        .expect("page")
        .into_inner()
        .next_page_token;
    assert!(!token.is_empty());
    let err = app
        .api
        .list_clients(ListClientsRequest {
            page_size: 1,
            page_token: token.clone(),
            owner: "someone".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), vec!["page_token".to_string()]);
    // page size may change between pages
    let ok = app
        .api
        .list_clients(ListClientsRequest {
            page_size: 10,
            page_token: token,
            ..Default::default()
        })
        .await
        .expect("page")
        .into_inner();
    assert_eq!(ok.clients.len(), 2);
}

#[tokio::test]
async fn history_is_the_timeline_in_time_order_with_pages() {
    let mut app = spawn_app().await;
    let c = app
        .create_with(CreateClientRequest {
            name: Some(ClientName {
                last_name: "T".into(),
                ..Default::default()
            }),
            occurred_at: Some(ts("2026-01-01T00:00:00Z")),
            ..Default::default()
        })
        .await;
    for at in [
        "2026-01-05T00:00:00Z",
        "2026-01-03T00:00:00Z",
        "2026-01-04T00:00:00Z",
    ] {
        app.api
            .record_contact_attempt(RecordContactAttemptRequest {
                request_id: rid(),
                client_id: c.client_id,
                outcome: CallOutcome::NoAnswer as i32,
                occurred_at: Some(ts(at)),
                ..Default::default()
            })
            .await
            .expect("call");
    }
    let mut times = Vec::new();
    let mut token = String::new();
    loop {
        let resp = app
            .api
            .get_client_history(GetClientHistoryRequest {
                client_id: c.client_id,
                page_size: 3,
                page_token: token,
                ..Default::default()
            })
            .await
            .expect("history")
            .into_inner();
        times.extend(
            resp.entries
                .iter()
                .map(|e| e.occurred_at.expect("time").seconds),
        );
        if resp.next_page_token.is_empty() {
            break;
        }
        token = resp.next_page_token;
    }
    let expect: Vec<i64> = [
        "2026-01-01T00:00:00Z",
        "2026-01-03T00:00:00Z",
        "2026-01-04T00:00:00Z",
        "2026-01-05T00:00:00Z",
    ]
    .iter()
    .map(|t| ts(t).seconds)
    .collect();
    assert_eq!(times, expect);
}

#[tokio::test]
async fn next_call_due_before_is_strict() {
    let mut app = spawn_app().await;
    let c = app.create("C").await;
    app.api
        .record_contact_attempt(RecordContactAttemptRequest {
            request_id: rid(),
            client_id: c.client_id,
            outcome: CallOutcome::LeftMessage as i32,
            occurred_at: Some(ts("2026-01-01T10:00:00Z")),
            next_call_at: Some(ts("2026-01-02T10:00:00Z")),
            ..Default::default()
        })
        .await
        .expect("call");
    let at = |t: &str| ListClientsRequest {
        next_call_due_before: Some(ts(t)),
        ..Default::default()
    };
    assert!(ids(&mut app, at("2026-01-02T10:00:00Z")).await.is_empty());
    assert_eq!(
        ids(&mut app, at("2026-01-02T10:00:01Z")).await,
        vec![c.client_id]
    );
}
