//! clientstatus: owns each CRM client's lifecycle stage and the record of every sales effort
//! behind it. Reading guide:
//! - `domain`: the pure rules (stages, forward-only advance, stamps, summary, lead matching).
//! - `store`: persistence behind one trait; `engine` runs a request, `sqlite` persists it.
//! - `alerts`: the scheduler raising time-based alerts; streams are in `grpc::streams`.
//! - `grpc`: handlers, validation, conversions, error mapping, the caller's identity.
//! - `telemetry`: Prometheus metrics and the per-RPC span/metrics layer.
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
pub mod startup;
pub mod store;
pub mod telemetry;

/// Code generated from `proto/crm/clientstatus/v1/`.
pub mod proto {
    tonic::include_proto!("crm.clientstatus.v1");

    /// For server reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        tonic::include_file_descriptor_set!("clientstatus_descriptor");
}
