//! What a rule can refuse. The gRPC layer maps each variant to one code, in one place.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    pub field: String,
    pub description: String,
}

impl FieldViolation {
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        FieldViolation {
            field: field.into(),
            description: description.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// Bad input, field by field (INVALID_ARGUMENT, reason given in `reason`).
    #[error("invalid argument: {}", .violations.iter().map(|v| format!("{}: {}", v.field, v.description)).collect::<Vec<_>>().join("; "))]
    InvalidArgument {
        reason: &'static str,
        violations: Vec<FieldViolation>,
    },
    #[error("client {client_id} not found")]
    ClientNotFound { client_id: i64 },
    /// A rule forbids the change (FAILED_PRECONDITION). `reason` is the rule's stable name.
    #[error("{description}")]
    FailedPrecondition {
        reason: &'static str,
        subject: String,
        description: String,
    },
    /// `expected_version` did not match (ABORTED). `subject` is e.g. `clients/7`.
    #[error("{subject} is at version {actual}, not {expected}")]
    VersionMismatch {
        subject: String,
        expected: i64,
        actual: i64,
    },
    /// No catalogue entry of that kind with that id (NOT_FOUND).
    #[error("no {label} {entry_id}")]
    CatalogEntryNotFound {
        reason: &'static str,
        label: &'static str,
        entry_id: i64,
    },
    /// A catalogue entry still in use cannot be deleted (FAILED_PRECONDITION, with the count).
    #[error("{description}")]
    InUse {
        reason: &'static str,
        subject: String,
        description: String,
        count: i64,
    },
    /// A name already taken (ALREADY_EXISTS).
    #[error("{description}")]
    AlreadyExists {
        reason: &'static str,
        subject: String,
        description: String,
    },
    /// A rule forbids the change because of another client, which it names
    /// (FAILED_PRECONDITION; `subject` is that client, `key` the ErrorInfo metadata naming it).
    #[error("{description}")]
    BecauseOf {
        reason: &'static str,
        subject: String,
        description: String,
        key: &'static str,
        other_client_id: i64,
    },
    /// The caller's role allows the RPC, but not on this client or these fields
    /// (PERMISSION_DENIED).
    #[error("{description}")]
    PermissionDenied {
        reason: &'static str,
        description: String,
    },
    /// A business document already belongs to another client (ALREADY_EXISTS).
    #[error("{kind} {document_id} is already recorded for client {owner}")]
    DocumentOwnedByOther {
        kind: &'static str,
        document_id: String,
        owner: i64,
    },
}

impl DomainError {
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        DomainError::InvalidArgument {
            reason: "INVALID_ARGUMENT",
            violations: vec![FieldViolation::new(field, description)],
        }
    }

    /// FAILED_PRECONDITION naming `other`, the client the caller must act on instead.
    pub fn because_of(
        reason: &'static str,
        key: &'static str,
        other: i64,
        description: impl Into<String>,
    ) -> Self {
        DomainError::BecauseOf {
            reason,
            subject: format!("clients/{other}"),
            description: description.into(),
            key,
            other_client_id: other,
        }
    }

    /// A merged client takes no further changes: its survivor does.
    pub fn merged(client_id: i64, survivor: i64) -> Self {
        DomainError::because_of(
            "CLIENT_MERGED",
            "merged_into_client_id",
            survivor,
            format!("client {client_id} was merged into client {survivor}; use {survivor}"),
        )
    }

    pub fn precondition(
        reason: &'static str,
        client_id: i64,
        description: impl Into<String>,
    ) -> Self {
        DomainError::FailedPrecondition {
            reason,
            subject: format!("clients/{client_id}"),
            description: description.into(),
        }
    }
}
