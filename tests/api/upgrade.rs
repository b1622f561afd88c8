//! A database written by the release before the catalogue keeps everything when the new
//! binary migrates it: clients take their stage's default status, and the free-text
//! classifications and declaration reasons become catalogue entries the clients reference.
//! Runs on both backends: each has its own migration SQL.
use clientstatus::config::Config;
use clientstatus::proto::*;
use sqlx::Connection;

use crate::helpers::*;

/// A client record as the previous release stored it (classifications as text).
fn old_body(stage: &str, customer_type: &str, industry: &str, reason: &str) -> String {
    serde_json::json!({
        "client_id": 0,
        "name": {"last_name": "Old", "first_name": "", "middle_name": ""},
        "branch": "", "owner": "avi", "email": "", "phone": "", "external_lead_id": "",
        "parent_client_id": null, "child_client_ids": [],
        "classifications": {
            "customer_type": customer_type, "industry": industry, "headcount_class": ""
        },
        "custom_properties": {},
        "stage": stage, "lead_status": "Regular", "record_source": "",
        "created_at": "2026-01-05T10:00:00Z", "created_by": "avi",
        "last_call_at": null, "last_call_by": "", "last_call_outcome": "NoCallYet",
        "next_call_at": null, "next_call_by": "", "last_contact_at": null,
        "first_meeting_at": null, "last_meeting_at": null, "first_quote_at": null,
        "became_real_at": null, "last_allocated_at": null,
        "not_interested_reason": if stage == "NotInterested" { reason } else { "" },
        "frozen_message": "", "frozen_reason": if stage == "Frozen" { reason } else { "" },
        "deleted_at": null, "deleted_by": "", "fictitious_reason": "",
        "summary": [], "trading_account_ids": [],
        "version": 1, "updated_at": "2026-01-05T10:00:00Z"
    })
    .to_string()
}

#[tokio::test]
async fn a_database_from_before_the_catalogue_is_migrated_without_losing_anything() {
    let db = std::sync::Arc::new(TestDb::new().await);
    let clients = [
        ("Real", 4, "A", " Retail ", ""),
        ("NotInterested", 3, "a", "", "PRICE "),
        ("New", 0, "", "", ""),
        ("NotInterested", 3, "", "", "price"),
        ("Frozen", 6, "", "", "Moved abroad"),
        ("NotInterested", 3, "", "", ""),
    ];
    old_release_database(&db.url, &clients).await;
    let mut app = start(Config::with_database(db.url.clone()), db).await;
    let real = app.get(1).await;
    assert_eq!(real.status_id, default_status(ClientStage::Real));
    assert_eq!(real.status_name, "Real");
    assert_eq!(app.get(3).await.status_id, default_status(ClientStage::New));
    assert_eq!(
        app.get(6).await.status_id,
        default_status(ClientStage::NotInterested),
        "no reason: the default status"
    );
    // Each distinct reason (ignoring case) became an ended status of its stage.
    let statuses = app
        .catalog
        .list_statuses(ListStatusesRequest {
            stages: vec![
                ClientStage::NotInterested as i32,
                ClientStage::Frozen as i32,
            ],
            ..Default::default()
        })
        .await
        .expect("statuses")
        .into_inner()
        .statuses;
    let added: Vec<(&str, bool)> = statuses
        .iter()
        .filter(|s| !s.is_default)
        .map(|s| (s.name.as_str(), s.ended))
        .collect();
    assert_eq!(added, [("PRICE", true), ("Moved abroad", true)]);
    let price = statuses.iter().find(|s| s.name == "PRICE").expect("price");
    let moved = statuses
        .iter()
        .find(|s| s.name == "Moved abroad")
        .expect("moved");
    assert_eq!(app.get(2).await.status_id, price.status_id);
    assert_eq!(app.get(4).await.status_id, price.status_id);
    assert_eq!(app.get(5).await.status_id, moved.status_id);
    let classifications = app
        .catalog
        .list_classifications(ListClassificationsRequest::default())
        .await
        .expect("list")
        .into_inner()
        .classifications;
    let names: Vec<(i32, &str)> = classifications
        .iter()
        .map(|c| (c.kind, c.name.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            (ClassificationKind::CustomerType as i32, "A"),
            (ClassificationKind::Industry as i32, "Retail"),
        ],
        "each distinct text once, trimmed, case ignored"
    );
    let class = real.classifications.expect("classifications");
    assert_eq!(class.customer_type_id, classifications[0].classification_id);
    assert_eq!(class.industry_id, classifications[1].classification_id);
    assert_eq!(
        app.get(2)
            .await
            .classifications
            .expect("c")
            .customer_type_id,
        classifications[0].classification_id
    );
    // The migrated clients behave like any other: in use, so not deletable.
    let err = app
        .catalog
        .delete_classification(DeleteClassificationRequest {
            request_id: rid(),
            classification_id: classifications[0].classification_id,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_error(
        &err,
        tonic::Code::FailedPrecondition,
        "CLASSIFICATION_IN_USE",
    );
    let after = app.call(3, CallOutcome::NoAnswer).await;
    assert_eq!(after.status_id, default_status(ClientStage::FollowUp));
}

/// Creates the previous release's schema (the first migration only) at `url` and stores
/// `clients` (stage name, rank, customer type, industry, reason) as that release wrote them.
async fn old_release_database(url: &str, clients: &[(&str, i64, &str, &str, &str)]) {
    let backend = if url.starts_with("sqlite:") {
        "sqlite"
    } else {
        "postgres"
    };
    let dir = tempfile::tempdir().expect("dir");
    std::fs::copy(
        format!(
            "{}/migrations/{backend}/20261123000001_init.sql",
            env!("CARGO_MANIFEST_DIR")
        ),
        dir.path().join("20261123000001_init.sql"),
    )
    .expect("copy");
    let migrator = sqlx::migrate::Migrator::new(dir.path())
        .await
        .expect("migrator");
    if backend == "sqlite" {
        let options = url
            .parse::<sqlx::sqlite::SqliteConnectOptions>()
            .expect("url")
            .create_if_missing(true);
        let mut conn = sqlx::SqliteConnection::connect_with(&options)
            .await
            .expect("connect");
        migrator.run(&mut conn).await.expect("old schema");
        for (stage, rank, customer_type, industry, reason) in clients {
            sqlx::query(
                "INSERT INTO clients (version, stage, lead_status, owner, branch, created_at, \
                 updated_at, body) VALUES (1, ?, 'REGULAR', 'avi', '', 0, 0, ?)",
            )
            .bind(rank)
            .bind(old_body(stage, customer_type, industry, reason))
            .execute(&mut conn)
            .await
            .expect("old client");
        }
        conn.close().await.expect("close");
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await.expect("connect");
        migrator.run(&mut conn).await.expect("old schema");
        for (stage, rank, customer_type, industry, reason) in clients {
            sqlx::query(
                "INSERT INTO clients (version, stage, lead_status, owner, branch, created_at, \
                 updated_at, body) VALUES (1, $1, 'REGULAR', 'avi', '', 0, 0, $2::jsonb)",
            )
            .bind(rank)
            .bind(old_body(stage, customer_type, industry, reason))
            .execute(&mut conn)
            .await
            .expect("old client");
        }
        conn.close().await.expect("close");
    }
}
