//! For the relay tests: a JetStream stream and subject prefix of the test's own on the real NATS
//! server (CLIENTSTATUS_TEST_NATS_URL, default nats://127.0.0.1:4222), an independent consumer
//! reading it back, and server processes started from the binary (so they can be SIGKILLed).
use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer::AckPolicy, consumer::pull};
use clientstatus::config::Config;
use clientstatus::proto::client_status_service_client::ClientStatusServiceClient;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_stream::StreamExt;
use tonic::transport::Channel;

use crate::helpers::connect;

const DEFAULT_NATS_URL: &str = "nats://127.0.0.1:4222";

/// A JetStream stream of the test's own, deleted when dropped.
pub struct Nats {
    pub url: String,
    pub stream: String,
    pub prefix: String,
    pub js: jetstream::Context,
}

/// One message as JetStream stored it.
#[derive(Debug, Clone)]
pub struct Stored {
    pub js_seq: u64,
    pub subject: String,
    pub headers: BTreeMap<String, String>,
    pub payload: bytes::Bytes,
}

impl Stored {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(String::as_str).unwrap_or("")
    }

    pub fn seq(&self) -> i64 {
        self.header(clientstatus::relay::SEQUENCE)
            .parse()
            .unwrap_or(-1)
    }

    pub fn stream(&self) -> &str {
        self.header(clientstatus::relay::STREAM)
    }
}

impl Nats {
    /// `None` (the test is skipped, saying so) without a NATS server, except under `CI=true`.
    pub async fn start() -> Option<Nats> {
        let url =
            std::env::var("CLIENTSTATUS_TEST_NATS_URL").unwrap_or_else(|_| DEFAULT_NATS_URL.into());
        let client = match async_nats::connect(&url).await {
            Ok(c) => c,
            Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
                panic!("CI=true and NATS is not reachable at {url}: {e}")
            }
            Err(e) => {
                let _ = writeln!(
                    std::io::stderr(),
                    "SKIPPED a relay test: no NATS at {url} ({e}); start nats-server -js"
                );
                return None;
            }
        };
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let js = jetstream::new(client);
        sweep_leftovers(&js).await;
        Some(Nats {
            url,
            stream: format!("CSTEST_{pid}_{n}"),
            prefix: format!("cstest_{pid}_{n}"),
            js,
        })
    }

    /// The server settings that relay to this stream.
    pub fn configure(&self, config: &mut Config) {
        config.relay.relay_nats_url = Some(self.url.clone());
        config.relay.relay_stream = self.stream.clone();
        config.relay.relay_subject_prefix = self.prefix.clone();
    }

    /// The same, as flags of `clientstatus serve`.
    pub fn flags(&self) -> Vec<String> {
        vec![
            "--relay-nats-url".into(),
            self.url.clone(),
            "--relay-stream".into(),
            self.stream.clone(),
            "--relay-subject-prefix".into(),
            self.prefix.clone(),
        ]
    }

    /// How many messages the stream holds (0 before the relay created it).
    pub async fn count(&self) -> u64 {
        match self.js.get_stream(&self.stream).await {
            Ok(mut s) => s.info().await.map(|i| i.state.messages).unwrap_or(0),
            Err(_) => 0,
        }
    }

    /// Everything the stream holds, through an ephemeral pull consumer.
    pub async fn read_all(&self) -> Vec<Stored> {
        let total = self.count().await as usize;
        let stream = self.js.get_stream(&self.stream).await.expect("stream");
        let consumer = stream
            .create_consumer(pull::Config {
                ack_policy: AckPolicy::None,
                inactive_threshold: Duration::from_secs(30),
                ..Default::default()
            })
            .await
            .expect("consumer");
        let mut out = Vec::with_capacity(total);
        while out.len() < total {
            let mut batch = consumer
                .fetch()
                .max_messages(total - out.len())
                .expires(Duration::from_secs(2))
                .messages()
                .await
                .expect("fetch");
            let before = out.len();
            while let Some(m) = batch.next().await {
                let m = m.expect("message");
                let info = m.info().expect("info");
                let headers = m
                    .headers
                    .as_ref()
                    .map(|h| {
                        h.iter()
                            .map(|(k, v)| {
                                (
                                    k.to_string(),
                                    v.first().map(|v| v.to_string()).unwrap_or_default(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                out.push(Stored {
                    js_seq: info.stream_sequence,
                    subject: m.subject.to_string(),
                    headers,
                    payload: m.payload.clone(),
                });
            }
            assert!(
                out.len() > before,
                "the consumer stopped at {} of {total}",
                out.len()
            );
        }
        out
    }

    /// The messages of one of the service's streams (`status` or `alerts`), in stream order.
    pub async fn entries(&self, stream: &str, n: u64, within: Duration) -> Vec<Stored> {
        let deadline = Instant::now() + within;
        loop {
            let of: Vec<Stored> = self
                .read_all()
                .await
                .into_iter()
                .filter(|m| m.stream() == stream)
                .collect();
            if of.len() as u64 >= n || Instant::now() >= deadline {
                tokio::time::sleep(Duration::from_millis(500)).await;
                return self
                    .read_all()
                    .await
                    .into_iter()
                    .filter(|m| m.stream() == stream)
                    .collect();
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        let (js, stream) = (self.js.clone(), self.stream.clone());
        // Never block the test's runtime; a stream left behind is swept by the next run.
        std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                rt.block_on(async {
                    let _ = js.delete_stream(&stream).await;
                });
            }
        });
    }
}

/// Deletes the test streams of processes that are no longer running.
async fn sweep_leftovers(js: &jetstream::Context) {
    static SWEPT: std::sync::Once = std::sync::Once::new();
    let mut first = false;
    SWEPT.call_once(|| first = true);
    if !first {
        return;
    }
    let mut names = js.stream_names();
    let mut leftovers = Vec::new();
    while let Some(Ok(name)) = names.next().await {
        if let Some(pid) = name
            .strip_prefix("CSTEST_")
            .and_then(|r| r.split('_').next())
            && !std::path::Path::new(&format!("/proc/{pid}")).exists()
        {
            leftovers.push(name);
        }
    }
    for name in leftovers {
        let _ = js.delete_stream(&name).await;
    }
}

/// A server process started from the binary; killed when dropped.
pub struct Replica {
    child: Option<Child>,
    args: Vec<String>,
    pub port: u16,
    pub metrics_port: u16,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

impl Replica {
    /// `clientstatus serve` on `database_url`, with metrics and the given extra flags.
    pub fn launch(database_url: &str, extra: &[String]) -> Replica {
        let (port, metrics_port) = (free_port(), free_port());
        let mut args: Vec<String> = vec![
            "serve".into(),
            "--listen".into(),
            format!("127.0.0.1:{port}"),
            "--database-url".into(),
            database_url.into(),
            "--metrics-listen".into(),
            format!("127.0.0.1:{metrics_port}"),
        ];
        args.extend(extra.iter().cloned());
        let mut replica = Replica {
            child: None,
            args,
            port,
            metrics_port,
        };
        replica.spawn();
        replica
    }

    fn spawn(&mut self) {
        let log = std::env::var("CLIENTSTATUS_TEST_SERVER_LOGS").is_ok();
        self.child = Some(
            Command::new(env!("CARGO_BIN_EXE_clientstatus"))
                .args(&self.args)
                .stdout(if log { Stdio::inherit() } else { Stdio::null() })
                .stderr(if log { Stdio::inherit() } else { Stdio::null() })
                .spawn()
                .expect("start the binary"),
        );
    }

    pub async fn api(&self) -> ClientStatusServiceClient<Channel> {
        ClientStatusServiceClient::new(connect(&format!("http://127.0.0.1:{}", self.port)).await)
    }

    /// SIGKILL: no chance to finish anything.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The same process again (same ports and flags), after a kill.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// `/metrics`, or an empty text while the process does not answer.
    pub async fn metrics(&self) -> String {
        let Ok(mut socket) = tokio::net::TcpStream::connect(("127.0.0.1", self.metrics_port)).await
        else {
            return String::new();
        };
        let _ = socket
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            .await;
        let mut text = String::new();
        let _ = socket.read_to_string(&mut text).await;
        text
    }

    /// A metric's value (the first line that starts with `series`), if shown.
    pub async fn metric(&self, series: &str) -> Option<f64> {
        let text = self.metrics().await;
        text.lines().find_map(|l| {
            l.strip_prefix(series)?
                .strip_prefix(' ')?
                .trim()
                .parse()
                .ok()
        })
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill();
    }
}
