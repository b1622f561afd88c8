//! Pure rules: stages, the forward-only advance, field stamping, the summary, lead matching.
//! No tonic, no sqlx, no clock: time is passed in.
pub mod alerts;
pub mod card;
pub mod catalog;
pub mod client;
pub mod command;
pub mod erase;
pub mod error;
pub mod filters;
pub mod lead;
pub mod merge;
pub mod rules;
pub mod search;
pub mod stage;
pub mod summary;
pub mod timeline;

pub use alerts::AlertKind;
pub use catalog::{Catalog, CatalogCommand, CatalogKind, Entry, Holders};
pub use client::{CallOutcome, Classifications, Client, ClientName, LeadStatus, Timestamp};
pub use command::{
    AccountingDocument, Action, Channel, Command, DocumentKey, Meta, NewClient, Request,
};
pub use error::{DomainError, FieldViolation};
pub use rules::{Change, Ctx, Effect, Settings, StatusEvent};
pub use stage::Stage;
