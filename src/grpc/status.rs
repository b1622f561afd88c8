//! The one mapping from errors to gRPC statuses, with the rich error model: every status
//! carries an ErrorInfo with a stable UPPER_SNAKE reason, plus BadRequest, PreconditionFailure,
//! ResourceInfo (NOT_FOUND) or RetryInfo (UNAVAILABLE, ABORTED) where they apply. Internal
//! causes are logged, never sent.
//!
//! Every error this server sends is built by [`Rich::into_status`], which bounds it: texts are
//! cut to a short prefix, at most `LISTED_MAX` violations are listed, and the encoded details
//! stay under `DETAILS_MAX`, so the trailers stay under ~4 KB whatever the caller sent (clients
//! refuse trailers over 16 KB, and would see RESOURCE_EXHAUSTED instead of the real error).
use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

use crate::domain::DomainError;
use crate::store::StoreError;

use super::violations::{Violation, Violations};

/// ErrorInfo.domain unless `--error-domain` says otherwise.
pub const DEFAULT_ERROR_DOMAIN: &str = "clientstatus.crm";

static ERROR_DOMAIN: OnceLock<String> = OnceLock::new();

/// Sets ErrorInfo.domain for the process, once (at start-up; later calls change nothing).
pub fn set_error_domain(domain: &str) {
    let _ = ERROR_DOMAIN.set(domain.to_string());
}

/// ErrorInfo.domain of every error this service raises.
pub fn error_domain() -> &'static str {
    ERROR_DOMAIN
        .get()
        .map_or(DEFAULT_ERROR_DOMAIN, String::as_str)
}

/// Longest grpc-message, in bytes (percent-encoding may triple it on the wire).
const MESSAGE_MAX: usize = 200;
/// Longest text inside the details (a field path, a description, a metadata value).
const TEXT_MAX: usize = 160;
/// Most field violations listed; the rest are counted in one last entry.
const LISTED_MAX: usize = 20;
/// Largest encoded google.rpc.Status details (base64 adds a third on the wire).
const DETAILS_MAX: usize = 2_400;

/// How long a caller should wait before retrying a request the database could not take.
const RETRY_UNAVAILABLE: Duration = Duration::from_secs(1);
/// … and one that collided with a concurrent change.
const RETRY_ABORTED: Duration = Duration::from_millis(100);

/// An error on its way to the caller; `into_status` bounds and encodes it.
pub struct Rich {
    code: Code,
    message: String,
    reason: &'static str,
    metadata: Vec<(&'static str, String)>,
    violations: Vec<Violation>,
    /// Violations not kept by the collector, only counted.
    unlisted: usize,
    precondition: Option<(&'static str, String, String)>,
    resource: Option<(String, String)>,
    retry: Option<Duration>,
}

impl Rich {
    pub fn new(code: Code, reason: &'static str, message: impl Into<String>) -> Self {
        Rich {
            code,
            message: message.into(),
            reason,
            metadata: Vec::new(),
            violations: Vec::new(),
            unlisted: 0,
            precondition: None,
            resource: None,
            retry: None,
        }
    }

    /// INVALID_ARGUMENT for these violations; ErrorInfo names the first one's reason.
    pub fn invalid(violations: Violations) -> Self {
        let (violations, unlisted) = violations.into_parts();
        let first = violations.first();
        let reason = first.map_or(super::violations::reason::MALFORMED_REQUEST, |v| v.reason);
        let total = violations.len() + unlisted;
        let mut shown: Vec<String> = violations
            .iter()
            .take(3)
            .map(|v| format!("{}: {}", v.field, v.description))
            .collect();
        if total > shown.len() {
            shown.push(format!("and {} more", total - shown.len()));
        }
        let mut rich = Rich::new(
            Code::InvalidArgument,
            reason,
            format!("invalid argument: {}", shown.join("; ")),
        );
        if let Some(first) = first {
            rich = rich.meta("field", first.field.clone());
        }
        rich.violations = violations;
        rich.unlisted = unlisted;
        rich.meta("violations", total.to_string())
    }

    pub fn meta(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.metadata.push((key, value.into()));
        self
    }

    fn precondition(mut self, kind: &'static str, subject: String, description: String) -> Self {
        self.precondition = Some((kind, subject, description));
        self
    }

    fn resource(mut self, resource_type: String, name: String) -> Self {
        self.resource = Some((resource_type, name));
        self
    }

    fn retry(mut self, after: Duration) -> Self {
        self.retry = Some(after);
        self
    }

    pub fn into_status(self) -> Status {
        let message = clip(&self.message, MESSAGE_MAX);
        let mut base = ErrorDetails::with_error_info(
            self.reason,
            error_domain(),
            self.metadata
                .iter()
                .map(|(k, v)| (k.to_string(), clip(v, TEXT_MAX)))
                .collect::<HashMap<_, _>>(),
        );
        if let Some((kind, subject, description)) = &self.precondition {
            base.add_precondition_failure_violation(
                *kind,
                clip(subject, TEXT_MAX),
                clip(description, TEXT_MAX),
            );
        }
        if let Some((resource_type, name)) = &self.resource {
            base.set_resource_info(resource_type, name, "", &message);
        }
        if let Some(after) = self.retry {
            base.set_retry_info(Some(after));
        }
        if self.violations.is_empty() {
            return Status::with_error_details(self.code, message, base);
        }
        // `listed` estimates the violations' share of the budget; the whole encoding is checked
        // too, listing fewer until it fits (ErrorInfo alone, at worst).
        let mut budget = DETAILS_MAX * 4 / 5;
        while budget > 0 {
            let mut details = base.clone();
            details.set_bad_request(self.listed(budget));
            let status = Status::with_error_details(self.code, message.clone(), details);
            if status.details().len() <= DETAILS_MAX {
                return status;
            }
            budget /= 2;
        }
        Status::with_error_details(self.code, message, base)
    }

    /// The violations to list: bounded texts, as many as fit `budget` bytes, and a last entry
    /// counting the rest.
    fn listed(&self, mut budget: usize) -> Vec<FieldViolation> {
        let total = self.violations.len() + self.unlisted;
        let mut listed = Vec::new();
        for v in self.violations.iter().take(LISTED_MAX) {
            let mut fv =
                FieldViolation::new(clip(&v.field, TEXT_MAX), clip(&v.description, TEXT_MAX));
            fv.reason = v.reason.to_string();
            let size = fv.field.len() + fv.description.len() + fv.reason.len() + 12;
            if size > budget {
                break;
            }
            budget -= size;
            listed.push(fv);
        }
        if listed.len() < total {
            listed.push(FieldViolation::new(
                "…",
                format!("and {} more violations", total - listed.len()),
            ));
        }
        listed
    }
}

/// `text` cut to at most `max` bytes on a character boundary, with an ellipsis when cut.
fn clip(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

impl From<Rich> for Status {
    fn from(rich: Rich) -> Self {
        rich.into_status()
    }
}

impl From<Violations> for Status {
    fn from(v: Violations) -> Self {
        Rich::invalid(v).into_status()
    }
}

impl From<StoreError> for Status {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Domain(d) => d.into(),
            StoreError::Unavailable(cause) => {
                tracing::warn!(%cause, "database unavailable");
                Rich::new(
                    Code::Unavailable,
                    "DATABASE_UNAVAILABLE",
                    "the database is unavailable; retry with the same request_id",
                )
                .retry(RETRY_UNAVAILABLE)
                .into()
            }
            StoreError::StorageFull(cause) => {
                tracing::error!(%cause, "the database's disk is full");
                Rich::new(
                    Code::ResourceExhausted,
                    "STORAGE_FULL",
                    "the database's storage is full; nothing was written; retry with the same \
                     request_id once space is freed",
                )
                .retry(RETRY_UNAVAILABLE)
                .into()
            }
            StoreError::Conflict(cause) => {
                tracing::warn!(%cause, "retries exhausted on a concurrent change");
                Rich::new(
                    Code::Aborted,
                    "CONCURRENT_CHANGE",
                    "a concurrent change collided with this one; retry with the same request_id",
                )
                .retry(RETRY_ABORTED)
                .into()
            }
            StoreError::Internal(cause) => {
                tracing::error!(%cause, "internal error");
                Rich::new(Code::Internal, "INTERNAL", "internal error").into()
            }
        }
    }
}

impl From<DomainError> for Status {
    fn from(e: DomainError) -> Self {
        let message = e.to_string();
        let rich = match e {
            DomainError::InvalidArgument { reason, violations } => {
                let mut v = Violations::default();
                for f in violations {
                    v.push(f.field, reason, f.description);
                }
                Rich::invalid(v)
            }
            DomainError::ClientNotFound { client_id } => {
                Rich::new(Code::NotFound, "CLIENT_NOT_FOUND", message)
                    .meta("client_id", client_id.to_string())
                    .resource(
                        "crm.clientstatus.v1.Client".into(),
                        format!("clients/{client_id}"),
                    )
            }
            DomainError::FailedPrecondition {
                reason,
                subject,
                description,
            } => Rich::new(Code::FailedPrecondition, reason, message).precondition(
                reason,
                subject,
                description,
            ),
            DomainError::InUse {
                reason,
                subject,
                description,
                count,
            } => Rich::new(Code::FailedPrecondition, reason, message)
                .meta("in_use_count", count.to_string())
                .precondition(reason, subject, description),
            DomainError::VersionMismatch {
                subject,
                expected,
                actual,
            } => Rich::new(Code::Aborted, "VERSION_MISMATCH", message)
                .meta("subject", subject)
                .meta("expected_version", expected.to_string())
                .meta("actual_version", actual.to_string())
                .retry(RETRY_ABORTED),
            DomainError::CatalogEntryNotFound {
                reason,
                label,
                entry_id,
            } => {
                let (resource_type, collection) = match label {
                    "status" => ("CatalogStatus", "statuses"),
                    "status group" => ("StatusGroup", "status_groups"),
                    _ => ("Classification", "classifications"),
                };
                Rich::new(Code::NotFound, reason, message)
                    .meta("kind", label)
                    .meta("id", entry_id.to_string())
                    .resource(
                        format!("crm.clientstatus.v1.{resource_type}"),
                        format!("{collection}/{entry_id}"),
                    )
            }
            DomainError::BecauseOf {
                reason,
                subject,
                description,
                key,
                other_client_id,
            } => Rich::new(Code::FailedPrecondition, reason, message)
                .meta(key, other_client_id.to_string())
                .precondition(reason, subject, description),
            DomainError::PermissionDenied { reason, .. } => {
                Rich::new(Code::PermissionDenied, reason, message)
            }
            DomainError::AlreadyExists {
                reason,
                subject,
                description: _,
            } => Rich::new(Code::AlreadyExists, reason, message).meta("existing", subject),
            DomainError::DocumentOwnedByOther {
                kind,
                document_id,
                owner,
            } => Rich::new(
                Code::AlreadyExists,
                "DOCUMENT_OWNED_BY_OTHER_CLIENT",
                message,
            )
            .meta("document_kind", kind)
            .meta("document_id", document_id)
            .meta("owner_client_id", owner.to_string()),
        };
        rich.into_status()
    }
}

#[cfg(test)]
mod tests;
