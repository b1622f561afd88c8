//! Logs as operators read them: one line per RPC, readable settings, no colour codes in files,
//! and start-up failures on stderr naming what failed, before any migration ran.
use std::time::Duration;

use clientstatus::proto::GetClientRequest;
use clientstatus::proto::client_status_service_client::ClientStatusServiceClient;

use crate::helpers::connect;
use crate::process::{Binary, tokens_file};

fn sqlite(dir: &tempfile::TempDir) -> String {
    format!("sqlite:{}", dir.path().join("c.db").display())
}

#[tokio::test]
async fn each_rpc_logs_its_method_code_duration_client_principal_and_trace() {
    let dir = tempfile::tempdir().expect("temp dir");
    let tokens = tokens_file(dir.path(), "ops-desk");
    let db = sqlite(&dir);
    let server = Binary::start(
        &[
            "--database-url",
            &db,
            "--tokens-file",
            tokens.to_str().expect("path"),
        ],
        None,
    );
    let addr = server.addr().await;
    let mut api = ClientStatusServiceClient::new(connect(&format!("http://{addr}")).await);
    let mut request = tonic::Request::new(GetClientRequest { client_id: 42 });
    let metadata = request.metadata_mut();
    metadata.insert("authorization", "Bearer s3cret".parse().expect("header"));
    metadata.insert(
        "traceparent",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
            .parse()
            .expect("header"),
    );
    api.get_client(request).await.expect_err("no such client");

    let line = server.wait_for_log("rpc finished").await;
    let fields = &line["fields"];
    assert_eq!(line["level"], "INFO", "{line}");
    assert_eq!(fields["method"], "GetClient", "{line}");
    assert_eq!(fields["service"], "crm.clientstatus.v1.ClientStatusService");
    assert_eq!(fields["code"], "NOT_FOUND", "{line}");
    assert_eq!(fields["principal"], "ops-desk", "{line}");
    assert_eq!(fields["client_id"], "42", "{line}");
    assert_eq!(
        fields["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736",
        "{line}"
    );
    assert!(
        fields["duration_ms"].as_f64().is_some_and(|d| d >= 0.0),
        "{line}"
    );
}

#[tokio::test]
async fn text_logs_to_a_file_have_no_colour_and_settings_read_as_key_value() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = sqlite(&dir);
    let server = Binary::start(
        &[
            "--database-url",
            &db,
            "--log-format",
            "text",
            "--hot-lead-sla",
            "20m",
        ],
        None,
    );
    let mut log = String::new();
    for _ in 0..200 {
        log = server.stdout();
        if log.contains("clientstatus listening") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(log.contains("clientstatus listening"), "{log}");
    assert!(!log.contains('\u{1b}'), "no ANSI escape codes:\n{log}");
    let starting = log
        .lines()
        .find(|l| l.contains("starting"))
        .unwrap_or_else(|| panic!("no settings line:\n{log}"));
    for pair in [
        "hot_lead_sla=20m",
        "listen=127.0.0.1:0",
        "tokens_file=unset",
    ] {
        assert!(starting.contains(pair), "{pair} not in {starting}");
    }
    assert!(!starting.contains("Config {"), "{starting}");
}

/// Runs the binary until it exits; returns its stderr.
async fn failed_start(args: &[&str]) -> String {
    let mut server = Binary::start(args, None);
    let status = server.exit(Duration::from_secs(30)).await;
    assert_eq!(status.code(), Some(1), "stdout:\n{}", server.stdout());
    server.stderr()
}

#[tokio::test]
async fn an_unwritable_sqlite_path_stops_the_start_naming_the_file() {
    let stderr = failed_start(&["--database-url", "sqlite:/sys/clientstatus-test.db"]).await;
    assert!(stderr.contains("/sys/clientstatus-test.db"), "{stderr}");
    assert!(
        stderr.contains("Permission denied") || stderr.contains("Read-only file system"),
        "{stderr}"
    );
}

#[tokio::test]
async fn an_unreachable_postgres_stops_the_start_naming_the_host() {
    let stderr = failed_start(&["--database-url", "postgres://app@127.0.0.1:1/crm"]).await;
    assert!(stderr.contains("127.0.0.1:1"), "{stderr}");
    assert!(stderr.contains("Connection refused"), "{stderr}");
}

#[tokio::test]
async fn a_metrics_address_in_use_stops_the_start_before_migrations() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").to_string();
    let dir = tempfile::tempdir().expect("temp dir");
    let db = sqlite(&dir);
    let stderr = failed_start(&["--database-url", &db, "--metrics-listen", &port]).await;
    assert!(stderr.contains(&port), "{stderr}");
    assert!(stderr.contains("--metrics-listen"), "{stderr}");
    assert!(
        stderr.to_lowercase().contains("address already in use"),
        "{stderr}"
    );
    assert!(
        !dir.path().join("c.db").exists(),
        "no database was created or migrated"
    );
}

#[tokio::test]
async fn a_host_name_is_a_listen_address() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = sqlite(&dir);
    let server = Binary::start(&["--database-url", &db, "--listen", "localhost:0"], None);
    let addr = server.addr().await;
    assert!(addr.ip().is_loopback(), "{addr}");
    connect(&format!("http://{addr}")).await;
}
