//! The integration suite on Postgres: the real server on 127.0.0.1:0, driven through the
//! generated gRPC client. The test modules live in `tests/api/` and run on both backends.
//! Uses `CLIENTSTATUS_TEST_POSTGRES_URL` (default postgres://postgres@127.0.0.1:5432/postgres),
//! one fresh schema per test. Without a reachable server the suite is skipped with a printed
//! line, except under `CI=true`, where that is a failure.

mod backend {
    pub const POSTGRES: bool = true;
}
#[path = "api/catalog.rs"]
mod catalog;
#[path = "api/concurrency.rs"]
mod concurrency;
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
#[path = "api/fanout_replicas.rs"]
mod fanout_replicas;
#[path = "api/fields.rs"]
mod fields;
#[path = "api/fuzz.rs"]
mod fuzz;
#[path = "api/helpers.rs"]
mod helpers;
#[path = "api/idempotency.rs"]
mod idempotency;
#[path = "api/limits.rs"]
mod limits;
#[path = "api/postgres_only.rs"]
mod postgres_only;
#[path = "api/reads.rs"]
mod reads;
#[path = "api/relay.rs"]
mod relay;
#[path = "api/relay_failover.rs"]
mod relay_failover;
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
#[path = "api/upgrade.rs"]
mod upgrade;
#[path = "api/validation.rs"]
mod validation;
