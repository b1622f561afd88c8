//! UpdateClient and the other clients: lead de-duplication follows an edit,
//! another client's key is refused (also when two writers race for it), parents cannot cycle,
//! and details make no status event.
use clientstatus::proto::*;
use tonic::Code;

use crate::card::*;
use crate::helpers::*;

#[tokio::test]
async fn lead_deduplication_follows_the_new_email_at_once() {
    let mut app = spawn_app().await;
    let c = create_full(&mut app).await;
    update(
        &mut app,
        c.client_id,
        &["email"],
        Client {
            email: "Dana.New@Example.com".into(),
            ..Default::default()
        },
    )
    .await
    .expect("update");
    let lead = |email: &str| CreateClientRequest {
        request_id: rid(),
        name: named("Levi"),
        email: email.into(),
        ..Default::default()
    };
    let again = app
        .api
        .create_client(lead("dana.new@example.com"))
        .await
        .expect("lead")
        .into_inner();
    assert!(!again.created, "the new email matches");
    assert_eq!(again.client.expect("client").client_id, c.client_id);
    let fresh = app
        .api
        .create_client(lead("dana@example.com"))
        .await
        .expect("lead")
        .into_inner();
    assert!(fresh.created, "the old email no longer matches");
}

#[tokio::test]
async fn taking_another_active_clients_key_is_lead_key_taken_naming_it() {
    let mut app = spawn_app().await;
    let a = create_full(&mut app).await;
    let b = app.create("Other").await;
    for (path, values) in [
        (
            "email",
            Client {
                email: "DANA@example.com".into(),
                ..Default::default()
            },
        ),
        (
            "phone",
            Client {
                phone: "+(050) 1111111".into(),
                ..Default::default()
            },
        ),
        (
            "external_lead_id",
            Client {
                external_lead_id: "L-1".into(),
                ..Default::default()
            },
        ),
    ] {
        let err = update(&mut app, b.client_id, &[path], values)
            .await
            .unwrap_err();
        assert_error(&err, Code::FailedPrecondition, "LEAD_KEY_TAKEN");
        assert_eq!(
            info(&err, "other_client_id"),
            a.client_id.to_string(),
            "{path}"
        );
    }
    assert_eq!(app.get(b.client_id).await, b);
    // A deleted client's key is free.
    app.api
        .declare_fictitious(DeclareFictitiousRequest {
            request_id: rid(),
            client_id: a.client_id,
            note: "test".into(),
            fictitious_reason: "duplicate".into(),
            ..Default::default()
        })
        .await
        .expect("fictitious");
    let values = Client {
        email: "dana@example.com".into(),
        ..Default::default()
    };
    update(&mut app, b.client_id, &["email"], values)
        .await
        .expect("free key");
}

#[tokio::test]
async fn two_clients_racing_for_one_email_cannot_both_win() {
    let app = spawn_app().await;
    let mut api = app.api.clone();
    let mut ids = Vec::new();
    for i in 0..6 {
        let c = api
            .create_client(CreateClientRequest {
                request_id: rid(),
                name: named(&format!("Racer {i}")),
                ..Default::default()
            })
            .await
            .expect("create")
            .into_inner()
            .client
            .expect("client");
        ids.push(c.client_id);
    }
    let tasks: Vec<_> = ids
        .iter()
        .map(|&id| {
            let mut api = app.api.clone();
            tokio::spawn(async move {
                api.update_client(UpdateClientRequest {
                    request_id: rid(),
                    client_id: id,
                    client: Some(Client {
                        email: "race@example.com".into(),
                        ..Default::default()
                    }),
                    update_mask: mask(&["email"]),
                    ..Default::default()
                })
                .await
            })
        })
        .collect();
    let mut won = 0;
    for t in tasks {
        match t.await.expect("task") {
            Ok(_) => won += 1,
            Err(e) => assert_error(&e, Code::FailedPrecondition, "LEAD_KEY_TAKEN"),
        }
    }
    assert_eq!(won, 1, "exactly one client took the email");
}

#[tokio::test]
async fn a_parent_that_would_make_a_cycle_is_refused() {
    let mut app = spawn_app().await;
    let top = app.create("Top").await;
    let mid = app.create("Mid").await;
    let low = app.create("Low").await;
    let parent = |id| Client {
        parent_client_id: id,
        ..Default::default()
    };
    update(
        &mut app,
        mid.client_id,
        &["parent_client_id"],
        parent(top.client_id),
    )
    .await
    .expect("mid under top");
    update(
        &mut app,
        low.client_id,
        &["parent_client_id"],
        parent(mid.client_id),
    )
    .await
    .expect("low under mid");
    for (client, new_parent) in [
        (top.client_id, low.client_id),
        (top.client_id, top.client_id),
    ] {
        let err = update(&mut app, client, &["parent_client_id"], parent(new_parent))
            .await
            .unwrap_err();
        assert_error(&err, Code::FailedPrecondition, "PARENT_CYCLE");
    }
    let err = update(
        &mut app,
        top.client_id,
        &["parent_client_id"],
        parent(999_999),
    )
    .await
    .unwrap_err();
    assert_eq!(bad_fields(&err), vec!["client.parent_client_id"]);
    update(&mut app, low.client_id, &["parent_client_id"], parent(0))
        .await
        .expect("a parent can be cleared");
    assert!(app.get(mid.client_id).await.child_client_ids.is_empty());
}

#[tokio::test]
async fn changing_details_writes_no_status_event_and_the_next_snapshot_has_them() {
    let mut app = spawn_app().await;
    let c = create_full(&mut app).await;
    let values = Client {
        email: "later@example.com".into(),
        ..Default::default()
    };
    update(&mut app, c.client_id, &["email"], values)
        .await
        .expect("update");
    assert!(all_events(&mut app).await.is_empty(), "no status changed");
    app.call(c.client_id, CallOutcome::NoAnswer).await;
    let events = all_events(&mut app).await;
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0].client.clone().expect("snapshot").email,
        "later@example.com"
    );
}
