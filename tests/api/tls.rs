//! gRPC over TLS, with certificates made in the test: calls, mutual TLS, the rule that bearer
//! tokens never cross a network in clear text, and certificates replaced while serving.
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clientstatus::config::Config;
use clientstatus::proto::GetClientRequest;
use clientstatus::proto::client_status_service_client::ClientStatusServiceClient;
use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, KeyPair};
use tokio::net::TcpListener;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use crate::helpers::*;
use crate::process::{Binary, tokens_file};

/// A certificate authority and what it issues, as PEM.
struct Ca {
    pem: String,
    cert: rcgen::Certificate,
    key: KeyPair,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let key = KeyPair::generate().expect("key");
        let cert = params.self_signed(&key).expect("CA");
        Ca {
            pem: cert.pem(),
            cert,
            key,
        }
    }

    /// (certificate, key) for `localhost`, as a server (or a client) presents it.
    fn issue(&self, client: bool) -> (String, String) {
        let mut params = CertificateParams::new(vec!["localhost".to_string()]).expect("params");
        if client {
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        }
        let key = KeyPair::generate().expect("key");
        let cert = params
            .signed_by(&key, &self.cert, &self.key)
            .expect("issue");
        (cert.pem(), key.serialize_pem())
    }
}

struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new() -> Files {
        Files {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        // Write then rename, as certificate tools do, so the server never reads half a file.
        let partial = self.dir.path().join(format!("{name}.partial"));
        std::fs::write(&partial, text).expect("write");
        std::fs::rename(&partial, &path).expect("rename");
        path
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// The server in this process with TLS from `files` (server.pem, server.key, maybe ca.pem).
async fn serve_tls(files: &Files, mutual: bool) -> (std::net::SocketAddr, TestDbGuard) {
    let db = TestDb::new().await;
    let mut config = Config::with_database(db.url.clone());
    config.tls_cert = Some(files.path("server.pem"));
    config.tls_key = Some(files.path("server.key"));
    if mutual {
        config.tls_client_ca = Some(files.path("clients.pem"));
    }
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        clientstatus::startup::run(config, listener, async {
            let _ = stopped.await;
        })
        .await
        .expect("server");
    });
    (
        addr,
        TestDbGuard {
            _db: db,
            _stop: stop,
        },
    )
}

/// Keeps the database and the server for the test's length.
struct TestDbGuard {
    _db: TestDb,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn tls_channel(
    addr: std::net::SocketAddr,
    ca_pem: &str,
    identity: Option<&(String, String)>,
) -> Result<Channel, tonic::transport::Error> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca_pem))
        .domain_name("localhost");
    if let Some((cert, key)) = identity {
        tls = tls.identity(Identity::from_pem(cert, key));
    }
    Endpoint::from_shared(format!("https://{addr}"))
        .expect("url")
        .tls_config(tls)
        .expect("tls")
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
}

/// A call that reaches the service answers NOT_FOUND for a client that does not exist.
async fn reaches_the_service(channel: Channel) -> bool {
    let mut req = tonic::Request::new(GetClientRequest { client_id: 1 });
    req.set_timeout(Duration::from_secs(5));
    match ClientStatusServiceClient::new(channel)
        .get_client(req)
        .await
    {
        Err(e) => e.code() == tonic::Code::NotFound,
        Ok(_) => true,
    }
}

async fn wait_until_listening(addr: std::net::SocketAddr) {
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{addr} never listened");
}

#[tokio::test]
async fn calls_over_tls_work_and_plaintext_to_the_tls_port_does_not() {
    let ca = Ca::new("test CA");
    let files = Files::new();
    let (cert, key) = ca.issue(false);
    files.write("server.pem", &cert);
    files.write("server.key", &key);
    let (addr, _server) = serve_tls(&files, false).await;
    wait_until_listening(addr).await;

    let channel = tls_channel(addr, &ca.pem, None).await.expect("TLS connect");
    assert!(reaches_the_service(channel).await);

    let plain = Endpoint::from_shared(format!("http://{addr}"))
        .expect("url")
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(2))
        .connect_lazy();
    assert!(
        !reaches_the_service(plain).await,
        "plaintext HTTP/2 is not served"
    );
    let stranger = Ca::new("another CA");
    assert!(
        tls_channel(addr, &stranger.pem, None).await.is_err(),
        "a client that does not trust the server's CA cannot connect"
    );
}

#[tokio::test]
async fn mutual_tls_refuses_a_client_without_a_certificate() {
    let ca = Ca::new("server CA");
    let clients = Ca::new("client CA");
    let files = Files::new();
    let (cert, key) = ca.issue(false);
    files.write("server.pem", &cert);
    files.write("server.key", &key);
    files.write("clients.pem", &clients.pem);
    let (addr, _server) = serve_tls(&files, true).await;
    wait_until_listening(addr).await;

    let identity = clients.issue(true);
    let channel = tls_channel(addr, &ca.pem, Some(&identity))
        .await
        .expect("mTLS connect");
    assert!(reaches_the_service(channel).await);

    let anonymous = tls_channel(addr, &ca.pem, None).await;
    let refused = match anonymous {
        Err(_) => true,
        Ok(channel) => !reaches_the_service(channel).await,
    };
    assert!(refused, "a client without a certificate is refused");
    let wrong = ca.issue(true); // issued by a CA the server does not take for clients
    let refused = match tls_channel(addr, &ca.pem, Some(&wrong)).await {
        Err(_) => true,
        Ok(channel) => !reaches_the_service(channel).await,
    };
    assert!(refused, "a client certificate from another CA is refused");
}

#[tokio::test]
async fn replaced_certificates_serve_new_connections_and_keep_open_ones() {
    let old_ca = Ca::new("old CA");
    let files = Files::new();
    let (cert, key) = old_ca.issue(false);
    files.write("server.pem", &cert);
    files.write("server.key", &key);
    let (addr, _server) = serve_tls(&files, false).await;
    wait_until_listening(addr).await;
    let open = tls_channel(addr, &old_ca.pem, None).await.expect("connect");
    assert!(reaches_the_service(open.clone()).await);

    let new_ca = Ca::new("new CA");
    let (cert, key) = new_ca.issue(false);
    files.write("server.key", &key);
    files.write("server.pem", &cert);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(channel) = tls_channel(addr, &new_ca.pem, None).await
            && reaches_the_service(channel).await
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the new certificate was never served"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        tls_channel(addr, &old_ca.pem, None).await.is_err(),
        "new connections get the new certificate"
    );
    // Had the open connection been dropped, reconnecting would fail: it trusts the old CA only.
    assert!(
        reaches_the_service(open).await,
        "the open connection goes on"
    );
}

#[tokio::test]
async fn tokens_on_a_network_address_without_tls_refuse_to_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    let tokens = tokens_file(dir.path(), "ops");
    let db = format!("sqlite:{}", dir.path().join("c.db").display());
    let args = [
        "--database-url",
        db.as_str(),
        "--tokens-file",
        tokens.to_str().expect("path"),
        "--listen",
        "0.0.0.0:0",
    ];
    let mut refused = Binary::start(&args, None);
    let status = refused.exit(Duration::from_secs(20)).await;
    assert_eq!(status.code(), Some(1), "{}", refused.stderr());
    let stderr = refused.stderr();
    assert!(
        stderr.contains("refusing to serve bearer tokens in clear text"),
        "{stderr}"
    );
    assert!(stderr.contains("--allow-plaintext"), "{stderr}");
    assert!(
        !dir.path().join("c.db").exists(),
        "refused before the database was opened"
    );

    let mut with_flag = args.to_vec();
    with_flag.push("--allow-plaintext");
    let trusted = Binary::start(&with_flag, None);
    trusted.addr().await;
}

/// Writes `text` over `path` padded to the old file's length and with its old modification
/// time, so only a SIGHUP can tell the server the file changed.
fn replace_unnoticed(path: &std::path::Path, text: &str) {
    let old = std::fs::metadata(path).expect("old file");
    let mut padded = text.to_string();
    let room = usize::try_from(old.len())
        .expect("size")
        .saturating_sub(padded.len());
    padded.push_str(&"\n".repeat(room));
    assert_eq!(padded.len() as u64, old.len(), "the new file is not longer");
    let file = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .expect("open");
    std::io::Write::write_all(&mut &file, padded.as_bytes()).expect("write");
    file.set_modified(old.modified().expect("mtime"))
        .expect("set mtime");
}

#[tokio::test]
async fn sighup_reloads_the_certificates_and_a_bad_file_keeps_the_old_ones() {
    let old_ca = Ca::new("old CA");
    let files = Files::new();
    let (cert, key) = old_ca.issue(false);
    // Room to spare, so the new certificate fits in the old file's length.
    let cert_path = files.write("server.pem", &format!("{cert}{}", "\n".repeat(512)));
    let key_path = files.write("server.key", &format!("{key}{}", "\n".repeat(512)));
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite:{}", dir.path().join("c.db").display());
    let server = Binary::start(
        &[
            "--database-url",
            &db,
            "--tls-cert",
            cert_path.to_str().expect("path"),
            "--tls-key",
            key_path.to_str().expect("path"),
        ],
        None,
    );
    let addr = server.addr().await;
    assert!(
        reaches_the_service(tls_channel(addr, &old_ca.pem, None).await.expect("connect")).await
    );

    // A broken key: the reload fails and the certificate in use stays.
    replace_unnoticed(&key_path, "not a key");
    server.signal(libc::SIGHUP);
    server
        .wait_for_log("TLS reload failed; keeping the certificates in use")
        .await;
    assert!(reaches_the_service(tls_channel(addr, &old_ca.pem, None).await.expect("old")).await);

    let new_ca = Ca::new("new CA");
    let (cert, key) = new_ca.issue(false);
    replace_unnoticed(&cert_path, &cert);
    replace_unnoticed(&key_path, &key);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(
        tls_channel(addr, &old_ca.pem, None).await.is_ok(),
        "unchanged size and time: not reloaded before the signal"
    );
    server.signal(libc::SIGHUP);
    let reloaded = server.wait_for_log("TLS certificates reloaded").await;
    assert_eq!(reloaded["fields"]["reason"], "SIGHUP", "{reloaded}");
    let channel = tls_channel(addr, &new_ca.pem, None)
        .await
        .expect("the new certificate after SIGHUP");
    assert!(reaches_the_service(channel).await);
}
