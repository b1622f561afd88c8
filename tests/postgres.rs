//! The integration suite on Postgres: the real server on 127.0.0.1:0, driven through the
//! generated gRPC client. The test modules live in `tests/api/` and run on both backends.
//! Uses `CLIENTSTATUS_TEST_POSTGRES_URL` (default postgres://postgres@127.0.0.1:5432/postgres),
//! one fresh schema per test. Without a reachable server the suite is skipped with a printed
//! line, except under `CI=true`, where that is a failure.

mod backend {
    pub const POSTGRES: bool = true;
}
include!("api/modules.rs");
#[path = "api/fanout_replicas.rs"]
mod fanout_replicas;
#[path = "api/postgres_only.rs"]
mod postgres_only;
#[path = "api/relay_failover.rs"]
mod relay_failover;
