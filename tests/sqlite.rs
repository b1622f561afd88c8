//! The integration suite on SQLite: the real server on 127.0.0.1:0, driven through the
//! generated gRPC client. The test modules live in `tests/api/` and run on both backends.

mod backend {
    pub const POSTGRES: bool = false;
}
#[path = "api/access.rs"]
mod access;
#[path = "api/catalog.rs"]
mod catalog;
#[path = "api/cli.rs"]
mod cli;
#[path = "api/concurrency.rs"]
mod concurrency;
#[path = "api/connections.rs"]
mod connections;
#[path = "api/declarations.rs"]
mod declarations;
#[path = "api/durability.rs"]
mod durability;
#[path = "api/errors.rs"]
mod errors;
#[path = "api/events.rs"]
mod events;
#[path = "api/fanout.rs"]
mod fanout;
#[path = "api/fanout_memory.rs"]
mod fanout_memory;
#[path = "api/faults.rs"]
mod faults;
#[path = "api/fields.rs"]
mod fields;
#[path = "api/fuzz.rs"]
mod fuzz;
#[path = "api/grpc_web.rs"]
mod grpc_web;
#[path = "api/gzip.rs"]
mod gzip;
#[path = "api/health.rs"]
mod health;
#[path = "api/helpers.rs"]
mod helpers;
#[path = "api/idempotency.rs"]
mod idempotency;
#[path = "api/limits.rs"]
mod limits;
#[path = "api/logs.rs"]
mod logs;
#[path = "api/metrics.rs"]
mod metrics;
#[path = "api/process.rs"]
mod process;
#[path = "api/prometheus.rs"]
mod prometheus;
#[path = "api/reads.rs"]
mod reads;
#[path = "api/relay.rs"]
mod relay;
#[path = "api/relay_support.rs"]
mod relay_support;
#[path = "api/reports.rs"]
mod reports;
#[path = "api/requests.rs"]
mod requests;
#[path = "api/server.rs"]
mod server;
#[path = "api/streams.rs"]
mod streams;
#[path = "api/tls.rs"]
mod tls;
#[path = "api/upgrade.rs"]
mod upgrade;
#[path = "api/validation.rs"]
mod validation;
