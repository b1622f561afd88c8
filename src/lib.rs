//! clientstatus: owns each CRM client's lifecycle stage and the record of every sales effort
//! behind it. Reading guide:
//! - `domain`: the pure rules (stages, forward-only advance, stamps, summary, lead matching).
//! - `store`: persistence behind one trait; `engine` runs a request, `sqlite` persists it.
//! - `alerts`: the scheduler raising time-based alerts.
//! - `stream`: the two streams: one hub per stream tails the store, subscribers fan out from it.
//! - `grpc`: handlers, validation, conversions, error mapping, the caller's identity.
//! - `telemetry`: Prometheus metrics and the per-RPC span/metrics layer.
//! - `relay`: every status event and alert published to NATS JetStream by one replica.
//! - `web`: gRPC-Web and CORS for browsers, and the built-in dashboard's files.
//! - `health`: the truthful health service; `net`: accept loop, connection limits, TLS;
//!   `preflight`: what is checked before the database is opened.
//! - `startup`: wiring and `run(config, listener, shutdown)`; `config`: flags and variables.
pub mod alerts;
pub mod clock;
pub mod config;
pub mod domain;
pub mod grpc;
pub mod health;
pub mod net;
pub mod preflight;
pub mod relay;
pub mod startup;
pub mod store;
pub mod stream;
pub mod telemetry;
pub mod web;

/// Code generated from `proto/crm/clientstatus/v1/`.
pub mod proto {
    tonic::include_proto!("crm.clientstatus.v1");

    /// For server reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        tonic::include_file_descriptor_set!("clientstatus_descriptor");
}
