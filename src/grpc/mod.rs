//! The gRPC edge: handlers, request validation, proto <-> domain conversion, error mapping and
//! the caller's identity.
pub mod access;
pub mod auth;
pub mod catalog;
pub mod codec;
pub mod convert;
pub mod reports;
pub mod requests;
pub mod service;
pub mod status;
pub mod streams;
pub mod validate;

pub use service::ClientStatusApi;
