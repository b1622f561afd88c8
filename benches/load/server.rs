//! The real release server as a separate process: started on free ports over the run's
//! database, waited for until health says SERVING, stopped with SIGTERM.
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::Result;
use crate::db::{Backend, BenchDb};

/// The service health is asked about: SERVING once the store is open.
pub const HEALTH_SERVICE: &str = "crm.clientstatus.v1.ClientStatusService";

pub struct Server {
    child: Child,
    pub backend: Backend,
    pub addr: SocketAddr,
    metrics: SocketAddr,
    log: PathBuf,
}

/// A port nobody listens on now: bound, read, released, then handed to the server.
fn free_port() -> Result<SocketAddr> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?)
}

impl Server {
    pub async fn start(db: &BenchDb) -> Result<Server> {
        static STARTS: AtomicUsize = AtomicUsize::new(0);
        let addr = free_port()?;
        let metrics = free_port()?;
        let log = db.dir.path().join(format!(
            "server-{}.log",
            STARTS.fetch_add(1, Ordering::Relaxed)
        ));
        let out = std::fs::File::create(&log)?;
        let mut command = Command::new(env!("CARGO_BIN_EXE_clientstatus"));
        command
            .arg("serve")
            .arg("--listen")
            .arg(addr.to_string())
            .arg("--database-url")
            .arg(&db.url)
            .arg("--metrics-listen")
            .arg(metrics.to_string())
            // Only what is passed here: no tokens file or exporter from the caller's shell.
            .env_clear()
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out);
        if let Ok(filter) = std::env::var("RUST_LOG") {
            command.env("RUST_LOG", filter);
        }
        let started = Instant::now();
        let child = command.spawn()?;
        let mut server = Server {
            child,
            backend: db.backend,
            addr,
            metrics,
            log,
        };
        server.wait_serving().await?;
        println!(
            "server pid {} on {addr} (metrics {metrics}), serving after {:.1} s",
            server.child.id(),
            started.elapsed().as_secs_f64()
        );
        Ok(server)
    }

    async fn wait_serving(&mut self) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Err(format!("the server exited ({status}): {}", self.log_tail()).into());
            }
            if let Ok(channel) = self.channel().await {
                let check = HealthClient::new(channel)
                    .check(HealthCheckRequest {
                        service: HEALTH_SERVICE.into(),
                    })
                    .await;
                if let Ok(r) = check
                    && r.into_inner().status == ServingStatus::Serving as i32
                {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                return Err(format!("the server is not serving: {}", self.log_tail()).into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(20)..].join("\n");
        format!("log {}:\n{tail}", self.log.display())
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// One HTTP/2 connection.
    pub async fn channel(&self) -> Result<Channel> {
        Ok(Endpoint::from_shared(format!("http://{}", self.addr))?
            .tcp_nodelay(true)
            .connect()
            .await?)
    }

    /// `n` separate connections (at least one).
    pub async fn channels(&self, n: usize) -> Result<Vec<Channel>> {
        let mut channels = Vec::new();
        for _ in 0..n.max(1) {
            channels.push(self.channel().await?);
        }
        Ok(channels)
    }

    /// The Prometheus text of `GET /metrics`.
    pub async fn metrics(&self) -> Result<String> {
        let mut stream = tokio::net::TcpStream::connect(self.metrics).await?;
        let request = format!(
            "GET /metrics HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.metrics
        );
        stream.write_all(request.as_bytes()).await?;
        let mut response = String::new();
        stream.read_to_string(&mut response).await?;
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .ok_or("no body in the /metrics answer")?;
        Ok(body)
    }

    /// The server's resident memory (VmRSS), in bytes.
    pub fn rss(&self) -> Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))?;
        let kib = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .ok_or("no VmRSS line")?;
        Ok(kib * 1024)
    }

    /// SIGTERM, then waits for a clean exit (SIGKILL after 30 s).
    pub async fn stop(mut self) -> Result<()> {
        self.terminate();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait()? {
                return if status.success() {
                    Ok(())
                } else {
                    Err(format!("the server stopped with {status}: {}", self.log_tail()).into())
                };
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return Err(format!("the server did not stop: {}", self.log_tail()).into());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn terminate(&self) {
        if let Ok(pid) = libc::pid_t::try_from(self.child.id()) {
            // SAFETY: kill(2) on our own child's pid; it has not been reaped, so the pid is ours.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
    }
}

impl Drop for Server {
    /// A run that failed half-way leaves no server behind.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Sum and count of a histogram's series whose labels contain `labels` (e.g.
/// `method="RecordContactAttempt",code="OK"`), added over every matching series.
pub fn histogram(text: &str, name: &str, labels: &str) -> (f64, f64) {
    let mut sum = 0.0;
    let mut count = 0.0;
    for line in text.lines() {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(value) = value.parse::<f64>() else {
            continue;
        };
        if !series.contains(labels) {
            continue;
        }
        if series.starts_with(&format!("{name}_sum{{")) {
            sum += value;
        } else if series.starts_with(&format!("{name}_count{{")) {
            count += value;
        }
    }
    (sum, count)
}
