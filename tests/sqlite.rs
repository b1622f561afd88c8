//! The integration suite on SQLite: the real server on 127.0.0.1:0, driven through the
//! generated gRPC client. The shared modules (`tests/api/modules.rs`) run on both backends; the
//! ones below need a process of SQLite's own (the binary, a tmpfs, file limits, TLS…).

mod backend {
    pub const POSTGRES: bool = false;
}
include!("api/modules.rs");
#[path = "api/access.rs"]
mod access;
#[path = "api/cli.rs"]
mod cli;
#[path = "api/connections.rs"]
mod connections;
#[path = "api/faults.rs"]
mod faults;
#[path = "api/grpc_web.rs"]
mod grpc_web;
#[path = "api/gzip.rs"]
mod gzip;
#[path = "api/health.rs"]
mod health;
#[path = "api/logs.rs"]
mod logs;
#[path = "api/metrics.rs"]
mod metrics;
#[path = "api/process.rs"]
mod process;
#[path = "api/prometheus.rs"]
mod prometheus;
#[path = "api/tls.rs"]
mod tls;
