//! Answered requests (AIP-155) are kept per caller and for a while: two callers' ids never
//! collide, a retry within the retention gets the first answer, after it the request is new,
//! and records written before answers were keyed by caller still answer their retries.
use std::io::Write;

use clientstatus::proto::*;
use sha2::{Digest, Sha256};
use sqlx::Connection;

use crate::helpers::*;

fn token(user: &str) -> String {
    format!("token-of-{user}-0123456789")
}

/// A server whose tokens file has two agents, `dana` and `eli`.
async fn spawn_two_agents(adjust: impl FnOnce(&mut clientstatus::config::Config)) -> TestApp {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("tokens.toml");
    let mut file = std::fs::File::create(&path).expect("tokens file");
    for user in ["dana", "eli"] {
        let hash: String = Sha256::digest(token(user).as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        writeln!(
            file,
            "[[tokens]]\nprincipal = \"{user}\"\nroles = [\"agent\"]\nsha256 = \"{hash}\"\n"
        )
        .expect("write");
    }
    let app = spawn_with(|c| {
        c.tokens_file = Some(path.clone());
        adjust(c);
    })
    .await;
    std::mem::forget(dir);
    app
}

fn as_user<T>(user: &str, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {}", token(user)).parse().expect("header"),
    );
    request
}

fn lead(name: &str, request_id: &str) -> CreateClientRequest {
    CreateClientRequest {
        request_id: request_id.into(),
        name: Some(ClientName {
            last_name: name.into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

async fn create_as(
    app: &mut TestApp,
    user: &str,
    req: CreateClientRequest,
) -> CreateClientResponse {
    app.api
        .create_client(as_user(user, req))
        .await
        .expect("create")
        .into_inner()
}

#[tokio::test]
async fn two_callers_may_use_the_same_request_id() {
    let mut app = spawn_two_agents(|_| {}).await;
    let dana = create_as(&mut app, "dana", lead("Dana's lead", "batch-1")).await;
    let eli = create_as(&mut app, "eli", lead("Eli's lead", "batch-1")).await;
    assert!(
        dana.created && eli.created,
        "each caller's request is its own"
    );
    let (d, e) = (dana.client.expect("client"), eli.client.expect("client"));
    assert_ne!(d.client_id, e.client_id);
    // Each caller's retry gets its own first answer.
    let again = create_as(&mut app, "dana", lead("Dana's lead", "batch-1")).await;
    assert_eq!(again.client, Some(d));
    let again = create_as(&mut app, "eli", lead("Eli's lead", "batch-1")).await;
    assert_eq!(again.client, Some(e));
}

#[tokio::test]
async fn a_retry_within_the_retention_gets_the_first_answer_and_after_it_is_new() {
    let mut app = spawn_with(|c| c.request_retention = chrono::Duration::hours(1)).await;
    let first = app
        .api
        .create_client(lead("Kept", "r-kept"))
        .await
        .expect("create");
    let first = first.into_inner();
    app.clock.advance(chrono::Duration::minutes(50));
    let retry = app
        .api
        .create_client(lead("Kept", "r-kept"))
        .await
        .expect("retry");
    assert_eq!(
        retry.into_inner(),
        first,
        "within the retention: the first answer"
    );

    // Past the retention, the scheduler prunes the record (it prunes once a minute of the
    // service's clock): the same request is then taken as new.
    app.clock.advance(chrono::Duration::minutes(70));
    let mut after = None;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let r = app
            .api
            .create_client(lead("Kept", &format!("probe-{}", rid())))
            .await
            .expect("probe");
        drop(r);
        let retry = app
            .api
            .create_client(lead("Kept", "r-kept"))
            .await
            .expect("retry")
            .into_inner();
        if retry.created && retry.client != first.client {
            after = Some(retry);
            break;
        }
    }
    let after = after.expect("after the retention the request is applied as new");
    assert_ne!(
        after.client.map(|c| c.client_id),
        first.client.map(|c| c.client_id)
    );
}

/// Runs `sql` on the test database directly.
async fn run_sql(url: &str, sql: &str) {
    if url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(url).await.expect("connect");
        sqlx::query(sql).execute(&mut conn).await.expect("sql");
        conn.close().await.expect("close");
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await.expect("connect");
        sqlx::query(sql).execute(&mut conn).await.expect("sql");
        conn.close().await.expect("close");
    }
}

#[tokio::test]
async fn a_record_written_before_answers_were_kept_per_caller_still_answers_its_retry() {
    let mut app = spawn_app().await;
    let first = app
        .api
        .create_client(lead("From the old release", "old-1"))
        .await
        .expect("create")
        .into_inner();
    let other = app
        .api
        .create_client(lead("Another", "old-2"))
        .await
        .expect("create")
        .into_inner();
    // The previous release kept no caller with the record: make these two look like that.
    app.stop().await;
    run_sql(&app.db.url, "UPDATE requests SET principal = ''").await;
    let mut app = app.restart().await;
    let retry = app
        .api
        .create_client(lead("From the old release", "old-1"))
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(retry, first, "the old record answers its retry");
    let retry = app
        .api
        .create_client(lead("Another", "old-2"))
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(retry, other);
    // An old record names no caller, so a different request under its id may be another
    // caller's: it is applied, as ids of different callers never collide now.
    let elsewhere = app
        .api
        .create_client(lead("Something else", "old-2"))
        .await
        .expect("a different request under an old id")
        .into_inner();
    assert!(elsewhere.created);
}
