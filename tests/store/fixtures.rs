//! Fresh migrated databases for the store suite, and clients built by the domain's own rules.
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, SubsecRound, Utc};
use clientstatus::domain::rules::{self, Ctx, Settings};
use clientstatus::domain::{Catalog, Classifications, Client, ClientName, LeadStatus, NewClient};
use clientstatus::store::engine::WriteTx;
use clientstatus::store::sql::Conn;
use clientstatus::store::sql::driver::Db;
use clientstatus::store::sql::write::{CatalogCache, Tx};
use clientstatus::store::sqlite::LiteConn;
use sqlx::Connection;

/// A connection to a fresh database, and what keeps that database alive.
pub struct Opened<C> {
    pub conn: C,
    _dir: Option<tempfile::TempDir>,
}

async fn migrated_sqlite() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("store.db");
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true)
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
        .foreign_keys(true);
    let mut conn = sqlx::SqliteConnection::connect_with(&options)
        .await
        .expect("open");
    sqlx::migrate!("migrations/sqlite")
        .run(&mut conn)
        .await
        .expect("migrations");
    conn.close().await.expect("close");
    (dir, path)
}

/// SQLite through sqlx, as the readers use it.
pub async fn sqlite_sqlx() -> Option<Opened<Db<Box<sqlx::SqliteConnection>>>> {
    let (dir, path) = migrated_sqlite().await;
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&path)
        .foreign_keys(true);
    let conn = sqlx::SqliteConnection::connect_with(&options)
        .await
        .expect("open");
    Some(Opened {
        conn: Db(Box::new(conn)),
        _dir: Some(dir),
    })
}

/// SQLite through rusqlite, as the writer uses it.
pub async fn sqlite_writer() -> Option<Opened<LiteConn>> {
    let (dir, path) = migrated_sqlite().await;
    Some(Opened {
        conn: LiteConn::open(&path).expect("open"),
        _dir: Some(dir),
    })
}

/// Postgres in a schema of its own (dropped by the next run's sweep, like the API suite's).
pub async fn postgres() -> Option<Opened<Db<Box<sqlx::PgConnection>>>> {
    let base = std::env::var("CLIENTSTATUS_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let mut admin = match sqlx::PgConnection::connect(&base).await {
        Ok(c) => c,
        Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true and Postgres is not reachable at {base}: {e}")
        }
        Err(e) => {
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED a Postgres store test: no server at {base} ({e})"
            );
            return None;
        }
    };
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let schema = format!(
        "cs_store_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    // Schemas of runs that are gone are removed first.
    let stale: Vec<String> = sqlx::query_scalar(
        "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'cs\\_store\\_%' \
         AND nspname NOT LIKE $1",
    )
    .bind(format!("cs\\_store\\_{}\\_%", std::process::id()))
    .fetch_all(&mut admin)
    .await
    .expect("schemas");
    for old in stale {
        let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {old} CASCADE"))
            .execute(&mut admin)
            .await;
    }
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut admin)
        .await
        .expect("schema");
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
    let mut conn = sqlx::PgConnection::connect(&url).await.expect("connect");
    sqlx::migrate!("migrations/postgres")
        .run(&mut conn)
        .await
        .expect("migrations");
    Some(Opened {
        conn: Db(Box::new(conn)),
        _dir: None,
    })
}

/// A transaction's primitives on `conn` (autocommit: each statement stands alone).
pub fn tx<C: Conn>(conn: &mut C) -> Tx<&mut C> {
    Tx::new(conn, Arc::new(CatalogCache::default()))
}

pub fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .expect("time")
        .with_timezone(&Utc)
        .trunc_subsecs(6)
}

/// A client as CreateClient would make it, at `when`.
pub fn new_client(catalog: &Catalog, name: &str, email: &str, when: DateTime<Utc>) -> Client {
    let settings = Settings::default();
    let ctx = Ctx {
        at: when,
        now: when,
        actor: "dana",
        settings: &settings,
        catalog,
    };
    let new = NewClient {
        name: ClientName {
            last_name: name.into(),
            ..Default::default()
        },
        branch: "north".into(),
        owner: "dana".into(),
        email: email.into(),
        phone: String::new(),
        external_lead_id: String::new(),
        parent_client_id: None,
        classifications: Classifications::default(),
        custom_properties: Default::default(),
        lead_status: LeadStatus::Regular,
        record_source: "web".into(),
        status_id: None,
    };
    rules::create(&new, &ctx).expect("a valid client").0
}

/// Inserts a client built by `new_client` and returns it with its number.
pub async fn stored<T: WriteTx>(
    tx: &mut T,
    name: &str,
    email: &str,
    when: DateTime<Utc>,
) -> Client {
    let catalog = tx.catalog().await.expect("catalog");
    let mut client = new_client(&catalog, name, email, when);
    let body = serde_json::to_string(&client).expect("json");
    client.client_id = tx.insert_client(&client, &body).await.expect("insert");
    client
}
