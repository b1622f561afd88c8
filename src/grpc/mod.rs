//! The gRPC edge: handlers, request parsing and validation, proto <-> domain conversion, the
//! error model, paging and the caller's identity.
pub mod access;
pub mod auth;
pub mod card_requests;
pub mod catalog;
pub mod catalog_requests;
pub mod client_requests;
pub mod codec;
pub mod convert;
pub mod declaration_requests;
pub mod enums;
pub mod framing;
pub mod page;
pub mod reads;
pub mod reports;
pub mod requests;
pub mod service;
pub mod settings;
pub mod status;
pub mod streams;
pub mod timeline_reports;
pub mod tokens;
pub mod validate;
pub mod violations;

pub use service::ClientStatusApi;
