//! The metrics endpoint: a deliberately small HTTP/1.1 responder for Prometheus.
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::metrics;

/// The method and the path without its query string (`/metrics?x=1` is `/metrics`).
fn request_line(head: &str) -> (&str, &str) {
    let mut words = head.split_whitespace();
    let method = words.next().unwrap_or_default();
    let target = words.next().unwrap_or_default();
    (method, target.split('?').next().unwrap_or_default())
}

/// Serves `GET /metrics` (and `HEAD`) on `listener` until the task is dropped. A deliberately small HTTP/1.1
/// responder: one request per connection, bounded request size.
pub async fn serve_metrics(listener: TcpListener) {
    loop {
        let Ok((mut socket, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            let mut read = 0;
            while read < buf.len() {
                match socket.read(&mut buf[read..]).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => read += n,
                }
                if buf[..read].windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
            let head = String::from_utf8_lossy(&buf[..read]);
            let (status, body, send_body) = match request_line(&head) {
                (method @ ("GET" | "HEAD"), "/metrics") => {
                    ("200 OK", metrics().render(), method == "GET")
                }
                _ => (
                    "404 Not Found",
                    "not found: try GET /metrics\n".to_string(),
                    true,
                ),
            };
            // HEAD: the headers GET would send, Content-Length included, and no body.
            let response = format!(
                "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
                body.len(),
                if send_body { body.as_str() } else { "" }
            );
            let _ = socket.write_all(response.as_bytes()).await;
        });
    }
}
