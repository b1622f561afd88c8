//! Postgres-only behaviour: several server processes on one database, and a database outage.
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clientstatus::proto::*;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;
use tonic::Code;

use crate::concurrency::{assert_no_lost_update, hammer};
use crate::helpers::*;

#[tokio::test]
async fn two_servers_on_one_database_behave_as_one_service() {
    let mut a = spawn_app().await;
    let b = start(a.config.clone(), a.db.clone()).await;
    let hot: Vec<i64> = vec![
        a.create("Hot 1").await.client_id,
        a.create("Hot 2").await.client_id,
    ];
    let apis = [a.api.clone(), b.api.clone()];
    let (one, two) = tokio::join!(hammer(&apis, hot[0], 6, 8), hammer(&apis, hot[1], 6, 8));
    assert_no_lost_update(&mut a, hot[0], &one, "w5 i7").await;
    assert_no_lost_update(&mut a, hot[1], &two, "w5 i7").await;

    // One request sent to both servers at once is applied once.
    let req = RecordInvoiceRequest {
        request_id: "both-servers".into(),
        client_id: hot[0],
        document_type: AccountingDocumentType::Invoice as i32,
        document_number: "X-1".into(),
        ..Default::default()
    };
    let (mut api_a, mut api_b) = (a.api.clone(), b.api.clone());
    let (ra, rb) = tokio::join!(api_a.record_invoice(req.clone()), api_b.record_invoice(req));
    assert_eq!(ra.expect("a").into_inner(), rb.expect("b").into_inner());
    let history = a.history(hot[0]).await;
    assert_eq!(
        history
            .iter()
            .filter(|h| h.request_id == "both-servers")
            .count(),
        1
    );
}

/// A TCP proxy in front of Postgres that the test can cut and restore.
struct Proxy {
    addr: SocketAddr,
    up: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<AbortHandle>>>,
    accept: AbortHandle,
}

impl Proxy {
    async fn start(target: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("addr");
        let up = Arc::new(AtomicBool::new(true));
        let connections: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let (up2, conns2) = (up.clone(), connections.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !up2.load(Ordering::SeqCst) {
                    drop(inbound); // the database is "down": refuse by hanging up
                    continue;
                }
                let target = target.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                conns2.lock().expect("lock").push(task.abort_handle());
            }
        })
        .abort_handle();
        Proxy {
            addr,
            up,
            connections,
            accept,
        }
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for c in self.connections.lock().expect("lock").drain(..) {
            c.abort();
        }
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

/// `url` with its host:port replaced by `addr`.
fn through(url: &str, addr: SocketAddr) -> (String, String) {
    let start = url.find("://").expect("scheme") + 3;
    let end = url[start..].find('/').map_or(url.len(), |i| start + i);
    let host_start = url[start..end].rfind('@').map_or(start, |i| start + i + 1);
    let target = url[host_start..end].to_string();
    let target = if target.contains(':') {
        target
    } else {
        format!("{target}:5432")
    };
    (
        format!("{}{addr}{}", &url[..host_start], &url[end..]),
        target,
    )
}

#[tokio::test]
async fn two_servers_stream_one_contiguous_sequence_to_a_reconnecting_consumer() {
    let mut a = spawn_app().await;
    let b = start(a.config.clone(), a.db.clone()).await;
    let apis = [a.api.clone(), b.api.clone()];
    crate::streams::assert_stream_contiguous(&mut a, &apis).await;
}

#[tokio::test]
async fn two_servers_raise_each_due_alert_once() {
    let mut a = spawn_app().await;
    let b = start_with_clock(a.config.clone(), a.db.clone(), a.clock.clone()).await;
    for i in 0..20 {
        a.create_with(CreateClientRequest {
            name: Some(ClientName {
                last_name: format!("Hot {i}"),
                ..Default::default()
            }),
            lead_status: LeadStatus::Hot as i32,
            ..Default::default()
        })
        .await;
    }
    a.clock.advance(chrono::Duration::minutes(16));
    tokio::time::sleep(Duration::from_millis(800)).await;
    let mut stream = a
        .api
        .stream_alerts(StreamAlertsRequest::default())
        .await
        .expect("subscribe")
        .into_inner();
    let mut keys = std::collections::HashSet::new();
    use tokio_stream::StreamExt;
    while let Ok(Some(item)) = tokio::time::timeout(Duration::from_millis(500), stream.next()).await
    {
        let alert = item.expect("alert").alert.expect("alert");
        assert!(
            keys.insert(alert.client_id),
            "client {} alerted twice",
            alert.client_id
        );
    }
    assert_eq!(keys.len(), 20);
    drop(b);
}

#[tokio::test]
async fn calls_are_unavailable_while_the_database_is_down_and_recover_after() {
    let db = Arc::new(TestDb::new().await);
    let probe = Proxy::start(String::new()).await; // only to learn the URL shape
    let (_, target) = through(&db.url, probe.addr);
    drop(probe);
    let proxy = Proxy::start(target).await;
    let (url, _) = through(&db.url, proxy.addr);
    let mut config = clientstatus::config::Config::with_database(url);
    config.listen = "127.0.0.1:0".parse().expect("addr");
    let mut app = start(config, db).await;

    let c = app.create("Outage").await;
    let before = app.call(c.client_id, CallOutcome::NoAnswer).await;

    proxy.cut();
    for attempt in 0..3 {
        let started = Instant::now();
        let mut read = tonic::Request::new(GetClientRequest {
            client_id: c.client_id,
        });
        read.set_timeout(Duration::from_secs(15));
        let err = app.api.get_client(read).await.unwrap_err();
        assert_error(&err, Code::Unavailable, "DATABASE_UNAVAILABLE");
        let mut write = tonic::Request::new(RecordContactAttemptRequest {
            request_id: format!("during-outage-{attempt}"),
            client_id: c.client_id,
            outcome: CallOutcome::ShortCall as i32,
            ..Default::default()
        });
        write.set_timeout(Duration::from_secs(15));
        let err = app.api.record_contact_attempt(write).await.unwrap_err();
        assert_error(&err, Code::Unavailable, "DATABASE_UNAVAILABLE");
        assert!(
            started.elapsed() < Duration::from_secs(12),
            "answered, not hung: {:?}",
            started.elapsed()
        );
    }

    proxy.restore();
    let deadline = Instant::now() + Duration::from_secs(20);
    let after = loop {
        match app
            .api
            .get_client(GetClientRequest {
                client_id: c.client_id,
            })
            .await
        {
            Ok(resp) => break resp.into_inner().client.expect("client"),
            Err(e) if Instant::now() < deadline => {
                assert_eq!(e.code(), Code::Unavailable, "{e:?}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("never recovered: {e:?}"),
        }
    };
    assert_eq!(
        after, before,
        "the write acknowledged before the outage is there; none during it"
    );
    let resumed = app.call(c.client_id, CallOutcome::CallWithContent).await;
    assert_eq!(resumed.version, before.version + 1);
}

/// Catalogue changes from two servers at once: names stay unique and each stage keeps exactly
/// one default, because catalogue writers take turns on the database.
#[tokio::test]
async fn two_servers_changing_the_catalogue_at_once_keep_its_rules() {
    let mut a = spawn_app().await;
    let b = start(a.config.clone(), a.db.clone()).await;
    let mut creates = Vec::new();
    for i in 0..8 {
        let mut catalog = if i % 2 == 0 {
            a.catalog.clone()
        } else {
            b.catalog.clone()
        };
        creates.push(tokio::spawn(async move {
            catalog
                .create_status(CreateStatusRequest {
                    request_id: rid(),
                    stage: ClientStage::Real as i32,
                    name: "Key account".into(),
                    ..Default::default()
                })
                .await
                .map(|r| r.into_inner().status.expect("status").status_id)
        }));
    }
    let mut created = Vec::new();
    for task in creates {
        match task.await.expect("task") {
            Ok(id) => created.push(id),
            Err(e) => assert_error(&e, tonic::Code::AlreadyExists, "CATALOG_NAME_TAKEN"),
        }
    }
    assert_eq!(created.len(), 1, "one of eight concurrent creations wins");

    let partner = a.add_status(ClientStage::Real, "Partner").await;
    let mut defaults = Vec::new();
    for (i, id) in [created[0], partner.status_id]
        .into_iter()
        .cycle()
        .take(6)
        .enumerate()
    {
        let mut catalog = if i % 2 == 0 {
            a.catalog.clone()
        } else {
            b.catalog.clone()
        };
        defaults.push(tokio::spawn(async move {
            catalog
                .update_status(UpdateStatusRequest {
                    request_id: rid(),
                    status_id: id,
                    make_default: true,
                    ..Default::default()
                })
                .await
                .map(|_| ())
        }));
    }
    for task in defaults {
        task.await.expect("task").expect("make default");
    }
    let real = a
        .catalog
        .list_statuses(ListStatusesRequest {
            stages: vec![ClientStage::Real as i32],
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner()
        .statuses;
    assert_eq!(real.iter().filter(|s| s.is_default).count(), 1, "{real:?}");
}

#[tokio::test]
async fn unavailable_carries_retry_info() {
    use tonic_types::StatusExt;
    let db = Arc::new(TestDb::new().await);
    let probe = Proxy::start(String::new()).await; // only to learn the URL shape
    let (_, target) = through(&db.url, probe.addr);
    drop(probe);
    let proxy = Proxy::start(target).await;
    let (url, _) = through(&db.url, proxy.addr);
    let mut app = start(clientstatus::config::Config::with_database(url), db).await;
    let c = app.create("Outage").await;
    proxy.cut();
    let mut read = tonic::Request::new(GetClientRequest {
        client_id: c.client_id,
    });
    read.set_timeout(Duration::from_secs(15));
    let err = app.api.get_client(read).await.unwrap_err();
    assert_error(&err, Code::Unavailable, "DATABASE_UNAVAILABLE");
    let details = err.get_error_details();
    let retry = details.retry_info().expect("RetryInfo on UNAVAILABLE");
    assert!(retry.retry_delay.is_some_and(|d| !d.is_zero()), "{retry:?}");
}

/// A Kubernetes-style probe: NOT_SERVING within 2 s of losing the database, SERVING again
/// once it is back, and a Watch sees both changes.
#[tokio::test]
async fn health_is_not_serving_while_the_database_is_down() {
    use tokio_stream::StreamExt;
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;

    let db = Arc::new(TestDb::new().await);
    let probe = Proxy::start(String::new()).await; // only to learn the URL shape
    let (_, target) = through(&db.url, probe.addr);
    drop(probe);
    let proxy = Proxy::start(target).await;
    let (url, _) = through(&db.url, proxy.addr);
    let app = start(clientstatus::config::Config::with_database(url), db).await;
    let mut health = HealthClient::new(app.channel.clone());
    let mut watch = health
        .watch(HealthCheckRequest::default())
        .await
        .expect("watch")
        .into_inner();
    let status = |r: Option<Result<tonic_health::pb::HealthCheckResponse, tonic::Status>>| {
        r.expect("an update").expect("status").status
    };
    assert_eq!(status(watch.next().await), ServingStatus::Serving as i32);

    proxy.cut();
    let down = tokio::time::timeout(Duration::from_secs(2), watch.next())
        .await
        .expect("NOT_SERVING within 2 s of losing the database");
    assert_eq!(status(down), ServingStatus::NotServing as i32);
    let check = health
        .check(HealthCheckRequest::default())
        .await
        .expect("check")
        .into_inner();
    assert_eq!(check.status, ServingStatus::NotServing as i32);

    proxy.restore();
    let up = tokio::time::timeout(Duration::from_secs(20), watch.next())
        .await
        .expect("SERVING once the database is back");
    assert_eq!(status(up), ServingStatus::Serving as i32);
}

/// `sslmode=require` in the URL: the server's connections to Postgres are encrypted.
#[tokio::test]
async fn postgres_over_tls_when_the_url_asks_for_it() {
    let db = Arc::new(TestDb::new().await);
    let url = format!("{}&sslmode=require", db.url);
    let mut app = start(clientstatus::config::Config::with_database(url), db.clone()).await;
    let c = app.create("Encrypted").await;
    assert_eq!(app.get(c.client_id).await.client_id, c.client_id);

    let schema = db
        .url
        .rsplit("application_name=")
        .next()
        .expect("application name")
        .to_string();
    let base = std::env::var("CLIENTSTATUS_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let pool = sqlx::PgPool::connect(&base).await.expect("connect");
    let encrypted: Vec<bool> = sqlx::query_scalar(
        "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
         WHERE a.application_name = $1",
    )
    .bind(&schema)
    .fetch_all(&pool)
    .await
    .expect("pg_stat_ssl");
    assert!(!encrypted.is_empty(), "the server has connections open");
    assert!(encrypted.iter().all(|e| *e), "{encrypted:?}");
}
