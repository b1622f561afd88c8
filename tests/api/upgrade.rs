//! A database written by the release before the catalogue keeps everything when the new
//! binary migrates it: clients take their stage's default status, and the free-text
//! classifications become catalogue entries the clients reference. (SQLite; the Postgres
//! migration is the same statements in its dialect.)
use clientstatus::config::Config;
use clientstatus::proto::*;
use sqlx::Connection;

use crate::helpers::*;

/// A client record as the previous release stored it (classifications as text).
fn old_body(stage: &str, customer_type: &str, industry: &str) -> String {
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
        "not_interested_reason": "", "frozen_message": "", "frozen_reason": "",
        "deleted_at": null, "deleted_by": "", "fictitious_reason": "",
        "summary": [], "trading_account_ids": [],
        "version": 1, "updated_at": "2026-01-05T10:00:00Z"
    })
    .to_string()
}

#[tokio::test]
async fn a_database_from_before_the_catalogue_is_migrated_without_losing_anything() {
    let db = std::sync::Arc::new(TestDb::new().await);
    // The previous release's schema: the first migration only.
    let dir = tempfile::tempdir().expect("dir");
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/migrations/sqlite/20261123000001_init.sql"
        ),
        dir.path().join("20261123000001_init.sql"),
    )
    .expect("copy");
    let options = db
        .url
        .parse::<sqlx::sqlite::SqliteConnectOptions>()
        .expect("url")
        .create_if_missing(true);
    let mut conn = sqlx::SqliteConnection::connect_with(&options)
        .await
        .expect("connect");
    sqlx::migrate::Migrator::new(dir.path())
        .await
        .expect("migrator")
        .run(&mut conn)
        .await
        .expect("old schema");
    for (stage, rank, customer_type, industry) in [
        ("Real", 4, "A", " Retail "),
        ("NotInterested", 3, "A", ""),
        ("New", 0, "", ""),
    ] {
        sqlx::query(
            "INSERT INTO clients (version, stage, lead_status, owner, branch, created_at, \
             updated_at, body) VALUES (1, ?, 'REGULAR', 'avi', '', 0, 0, ?)",
        )
        .bind(rank)
        .bind(old_body(stage, customer_type, industry))
        .execute(&mut conn)
        .await
        .expect("old client");
    }
    conn.close().await.expect("close");

    let mut app = start(Config::with_database(db.url.clone()), db).await;
    let real = app.get(1).await;
    assert_eq!(real.status_id, default_status(ClientStage::Real));
    assert_eq!(
        app.get(2).await.status_id,
        default_status(ClientStage::NotInterested)
    );
    assert_eq!(app.get(3).await.status_id, default_status(ClientStage::New));
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
        "each distinct text once, trimmed"
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
