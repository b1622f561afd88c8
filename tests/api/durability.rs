//! An acknowledged write is never lost: across a graceful restart and a SIGKILL.
use std::process::{Child, Command, Stdio};

use clientstatus::proto::client_status_service_client::ClientStatusServiceClient;
use clientstatus::proto::*;

use crate::helpers::*;

#[tokio::test]
async fn a_restart_keeps_every_acknowledged_write() {
    let mut app = spawn_app().await;
    let c = app.create("Durable").await;
    app.call(c.client_id, CallOutcome::CallWithContent).await;
    let before = app
        .invoice(c.client_id, "INV")
        .await
        .client
        .expect("client");
    let history = app.history(c.client_id).await;
    let mut app = app.restart().await;
    assert_eq!(app.get(c.client_id).await, before);
    assert_eq!(app.history(c.client_id).await, history);
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn launch(db: &str, port: u16) -> Server {
    Server(
        Command::new(env!("CARGO_BIN_EXE_clientstatus"))
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--database-url",
                db,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the binary"),
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

#[tokio::test]
async fn a_server_killed_with_sigkill_keeps_every_acknowledged_write() {
    let db = TestDb::new().await;
    let port = free_port();
    let mut server = launch(&db.url, port);
    let url = format!("http://127.0.0.1:{port}");
    let api = ClientStatusServiceClient::new(connect(&url).await);

    // Writers in parallel; every acknowledged answer is remembered.
    let mut tasks = Vec::new();
    for w in 0..4 {
        let mut api = api.clone();
        tasks.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            for i in 0..25 {
                let c = api
                    .create_client(CreateClientRequest {
                        request_id: format!("kill-{w}-{i}"),
                        name: Some(ClientName {
                            last_name: format!("W{w}-{i}"),
                            ..Default::default()
                        }),
                        ..Default::default()
                    })
                    .await
                    .expect("create")
                    .into_inner()
                    .client
                    .expect("client");
                let c = api
                    .record_contact_attempt(RecordContactAttemptRequest {
                        request_id: format!("kill-call-{w}-{i}"),
                        client_id: c.client_id,
                        outcome: CallOutcome::NoAnswer as i32,
                        ..Default::default()
                    })
                    .await
                    .expect("call")
                    .into_inner()
                    .client
                    .expect("client");
                acked.push(c);
            }
            acked
        }));
    }
    let mut acked = Vec::new();
    for t in tasks {
        acked.extend(t.await.expect("writer"));
    }
    // SIGKILL right after the last acknowledgement: no chance to flush anything.
    server.0.kill().expect("kill -9");
    server.0.wait().expect("reaped");

    let _server = launch(&db.url, port);
    let mut api = ClientStatusServiceClient::new(connect(&url).await);
    for c in &acked {
        let stored = api
            .get_client(GetClientRequest {
                client_id: c.client_id,
            })
            .await
            .expect("get")
            .into_inner()
            .client
            .expect("client");
        assert_eq!(&stored, c);
    }
    assert_eq!(acked.len(), 100);
}
