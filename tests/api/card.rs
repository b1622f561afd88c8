//! The card's lines of the role table: who may edit, merge and erase. The
//! helpers here serve the card's other modules (`card_edit`, `card_keys`, `merge`, `erase`).
use std::io::Write;
use std::time::Duration;

use clientstatus::proto::*;
use sha2::{Digest, Sha256};
use tokio_stream::StreamExt;
use tonic::{Code, Status};
use tonic_types::StatusExt;

use crate::helpers::*;

pub fn mask(paths: &[&str]) -> Option<prost_types::FieldMask> {
    Some(prost_types::FieldMask {
        paths: paths.iter().map(|p| p.to_string()).collect(),
    })
}

pub async fn update(
    app: &mut TestApp,
    client_id: i64,
    paths: &[&str],
    client: Client,
) -> Result<UpdateClientResponse, Status> {
    app.api
        .update_client(UpdateClientRequest {
            request_id: rid(),
            client_id,
            client: Some(client),
            update_mask: mask(paths),
            ..Default::default()
        })
        .await
        .map(|r| r.into_inner())
}

pub async fn merge(
    app: &mut TestApp,
    survivor: i64,
    merged: &[i64],
) -> Result<MergeClientsResponse, Status> {
    app.api
        .merge_clients(MergeClientsRequest {
            request_id: rid(),
            survivor_client_id: survivor,
            merged_client_ids: merged.to_vec(),
            ..Default::default()
        })
        .await
        .map(|r| r.into_inner())
}

pub async fn erase(app: &mut TestApp, client_id: i64) -> Result<EraseClientResponse, Status> {
    app.api
        .erase_client(EraseClientRequest {
            request_id: rid(),
            client_id,
            ..Default::default()
        })
        .await
        .map(|r| r.into_inner())
}

/// Every status event from the beginning (a stream replayed from 0).
pub async fn all_events(app: &mut TestApp) -> Vec<StatusChangeEvent> {
    let mut stream = app
        .api
        .stream_status_changes(StreamStatusChangesRequest::default())
        .await
        .expect("subscribe")
        .into_inner();
    let mut out = Vec::new();
    while let Ok(Some(item)) = tokio::time::timeout(Duration::from_millis(300), stream.next()).await
    {
        out.push(item.expect("event").event.expect("event"));
    }
    out
}

/// Every alert raised so far, after the scheduler had a moment.
pub async fn all_alerts(app: &mut TestApp) -> Vec<Alert> {
    tokio::time::sleep(Duration::from_millis(400)).await;
    let mut stream = app
        .api
        .stream_alerts(StreamAlertsRequest::default())
        .await
        .expect("subscribe")
        .into_inner();
    let mut out = Vec::new();
    while let Ok(Some(item)) = tokio::time::timeout(Duration::from_millis(300), stream.next()).await
    {
        out.push(item.expect("alert").alert.expect("alert"));
    }
    out
}

/// An ErrorInfo metadata value of `status`.
pub fn info(status: &Status, key: &str) -> String {
    let details = status.get_error_details();
    let info = details.error_info().expect("ErrorInfo");
    info.metadata.get(key).cloned().unwrap_or_default()
}

pub fn named(last_name: &str) -> Option<ClientName> {
    Some(ClientName {
        last_name: last_name.into(),
        ..Default::default()
    })
}

pub fn token(role: &str) -> String {
    format!("card-token-of-{role}")
}

/// A server with one token per role (principal `ROLE-user`).
pub async fn spawn_secured() -> TestApp {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("tokens.toml");
    let mut file = std::fs::File::create(&path).expect("tokens file");
    for role in ["portal", "agent", "manager", "accounting", "dashboard"] {
        let hash: String = Sha256::digest(token(role).as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        writeln!(
            file,
            "[[tokens]]\nprincipal = \"{role}-user\"\nroles = [\"{role}\"]\nsha256 = \"{hash}\"\n"
        )
        .expect("write");
    }
    let app = spawn_with(|c| c.tokens_file = Some(path.clone())).await;
    std::mem::forget(dir); // the file must outlive the server's start; it is tiny
    app
}

pub fn as_role<T>(role: &str, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {}", token(role)).parse().expect("header"),
    );
    request
}

pub async fn create_full(app: &mut TestApp) -> Client {
    app.create_with(CreateClientRequest {
        name: Some(ClientName {
            last_name: "Levi".into(),
            first_name: "Dana".into(),
            middle_name: "D".into(),
        }),
        branch: "Tel Aviv".into(),
        email: "dana@example.com".into(),
        phone: "050-1111111".into(),
        external_lead_id: "L-1".into(),
        custom_properties: [("colour".to_string(), "red".to_string())].into(),
        ..Default::default()
    })
    .await
}

#[tokio::test]
async fn the_portal_edits_only_its_own_leads_and_the_details_they_carried() {
    let app = spawn_secured().await;
    let mut api = app.api.clone();
    let create = |role: &str| {
        as_role(
            role,
            CreateClientRequest {
                request_id: rid(),
                actor: "web-visitor".into(),
                name: named("Lead"),
                email: format!("{}@example.com", rid()),
                ..Default::default()
            },
        )
    };
    let ours = api
        .create_client(create("portal"))
        .await
        .expect("lead")
        .into_inner()
        .client
        .expect("client");
    let theirs = api
        .create_client(create("agent"))
        .await
        .expect("lead")
        .into_inner()
        .client
        .expect("client");
    let edit = |role: &str, id: i64, path: &str, values: Client| {
        as_role(
            role,
            UpdateClientRequest {
                request_id: rid(),
                client_id: id,
                client: Some(values),
                update_mask: mask(&[path]),
                ..Default::default()
            },
        )
    };
    let email = || Client {
        email: format!("{}@example.org", rid()),
        ..Default::default()
    };
    let phone = || Client {
        phone: "054-7777777".into(),
        ..Default::default()
    };
    api.update_client(edit("portal", ours.client_id, "email", email()))
        .await
        .expect("the portal corrects its own lead's email");
    for (id, path, values) in [
        (theirs.client_id, "email", email()),
        (ours.client_id, "phone", phone()),
    ] {
        let err = api
            .update_client(edit("portal", id, path, values))
            .await
            .unwrap_err();
        assert_error(&err, Code::PermissionDenied, "NOT_THE_LEAD_SOURCE");
    }
    for role in ["agent", "manager"] {
        api.update_client(edit(role, ours.client_id, "phone", phone()))
            .await
            .unwrap_or_else(|e| panic!("{role}: {e:?}"));
    }
    for role in ["accounting", "dashboard"] {
        let err = api
            .update_client(edit(role, ours.client_id, "email", email()))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied, "{role}");
    }
    for role in ["portal", "agent", "accounting", "dashboard"] {
        let merge = as_role(
            role,
            MergeClientsRequest {
                request_id: rid(),
                survivor_client_id: ours.client_id,
                merged_client_ids: vec![theirs.client_id],
                ..Default::default()
            },
        );
        assert_eq!(
            api.merge_clients(merge).await.unwrap_err().code(),
            Code::PermissionDenied
        );
        let erase = as_role(
            role,
            EraseClientRequest {
                request_id: rid(),
                client_id: ours.client_id,
                ..Default::default()
            },
        );
        assert_eq!(
            api.erase_client(erase).await.unwrap_err().code(),
            Code::PermissionDenied
        );
    }
}
