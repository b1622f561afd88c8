//! The one mapping from errors to gRPC statuses, with the rich error model: every status
//! carries an ErrorInfo with a stable UPPER_SNAKE reason, plus BadRequest or
//! PreconditionFailure details where they apply. Internal causes are logged, never sent.
use std::collections::HashMap;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::domain::DomainError;
use crate::store::StoreError;

/// ErrorInfo.domain of every error this service raises.
pub const ERROR_DOMAIN: &str = "clientstatus.crm";

impl From<StoreError> for Status {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Domain(d) => d.into(),
            StoreError::Unavailable(cause) => {
                tracing::warn!(%cause, "database unavailable");
                status(
                    Code::Unavailable,
                    "the database is unavailable; retry with the same request_id",
                    info("DATABASE_UNAVAILABLE", []),
                )
            }
            StoreError::StorageFull(cause) => {
                tracing::error!(%cause, "the database's disk is full");
                status(
                    Code::ResourceExhausted,
                    "the database's storage is full; nothing was written; retry with the same \
                     request_id once space is freed",
                    info("STORAGE_FULL", []),
                )
            }
            StoreError::Conflict(cause) => {
                tracing::warn!(%cause, "retries exhausted on a concurrent change");
                status(
                    Code::Aborted,
                    "a concurrent change collided with this one; retry with the same request_id",
                    info("CONCURRENT_CHANGE", []),
                )
            }
            StoreError::Internal(cause) => {
                tracing::error!(%cause, "internal error");
                status(Code::Internal, "internal error", info("INTERNAL", []))
            }
        }
    }
}

impl From<DomainError> for Status {
    fn from(e: DomainError) -> Self {
        let message = e.to_string();
        match e {
            DomainError::InvalidArgument { reason, violations } => {
                let mut details = info(reason, []);
                for v in violations {
                    details.add_bad_request_violation(v.field, v.description);
                }
                status(Code::InvalidArgument, message, details)
            }
            DomainError::ClientNotFound { client_id } => status(
                Code::NotFound,
                message,
                info("CLIENT_NOT_FOUND", [("client_id", client_id.to_string())]),
            ),
            DomainError::FailedPrecondition {
                reason,
                subject,
                description,
            } => {
                let mut details = info(reason, []);
                details.add_precondition_failure_violation(reason, subject, description);
                status(Code::FailedPrecondition, message, details)
            }
            DomainError::InUse {
                reason,
                subject,
                description,
                count,
            } => {
                let mut details = info(reason, [("in_use_count", count.to_string())]);
                details.add_precondition_failure_violation(reason, subject, description);
                status(Code::FailedPrecondition, message, details)
            }
            DomainError::VersionMismatch {
                subject,
                expected,
                actual,
            } => status(
                Code::Aborted,
                message,
                info(
                    "VERSION_MISMATCH",
                    [
                        ("subject", subject),
                        ("expected_version", expected.to_string()),
                        ("actual_version", actual.to_string()),
                    ],
                ),
            ),
            DomainError::CatalogEntryNotFound {
                reason,
                label,
                entry_id,
            } => status(
                Code::NotFound,
                message,
                info(
                    reason,
                    [("kind", label.to_string()), ("id", entry_id.to_string())],
                ),
            ),
            DomainError::AlreadyExists {
                reason,
                subject,
                description: _,
            } => status(
                Code::AlreadyExists,
                message,
                info(reason, [("existing", subject)]),
            ),
            DomainError::DocumentOwnedByOther {
                kind,
                document_id,
                owner,
            } => status(
                Code::AlreadyExists,
                message,
                info(
                    "DOCUMENT_OWNED_BY_OTHER_CLIENT",
                    [
                        ("document_kind", kind.to_string()),
                        ("document_id", document_id),
                        ("owner_client_id", owner.to_string()),
                    ],
                ),
            ),
        }
    }
}

fn info<const N: usize>(reason: &str, metadata: [(&str, String); N]) -> ErrorDetails {
    let metadata: HashMap<String, String> = metadata
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    ErrorDetails::with_error_info(reason, ERROR_DOMAIN, metadata)
}

fn status(code: Code, message: impl Into<String>, details: ErrorDetails) -> Status {
    Status::with_error_details(code, message, details)
}
