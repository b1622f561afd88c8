//! Who may call what (the role table of docs/behaviour.md), and the tower layer that enforces it on every RPC.
//! Tokens come from a file of SHA-256 hashes; a presented token is hashed and compared with
//! every entry in constant time. Health checks need no token; reflection without one describes
//! only the health service (`health::reflection`).
use std::sync::Arc;
use std::task::{Context, Poll};

use serde::Deserialize;
use tonic::codegen::http;
use tonic::{Code, Status};

use super::auth::Principal;
use super::status::Rich;
pub use super::tokens::Tokens;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Portal,
    Agent,
    Manager,
    Accounting,
    Trading,
    Dashboard,
}

/// "All reads": clients, history, the reports and the catalogue listings.
const READS: &[&str] = &[
    "GetClient",
    "ListClients",
    "GetClientHistory",
    "ListStatuses",
    "ListStatusGroups",
    "ListClassifications",
    "CountClients",
    "CountActivities",
    "StageConversion",
    "TimeInStage",
    "StageEntries",
];
const STREAMS: &[&str] = &["StreamStatusChanges", "StreamAlerts"];
const AGENT_WRITES: &[&str] = &[
    "CreateClient",
    "RecordContactAttempt",
    "RecordMessageSent",
    "ScheduleMeeting",
    "SummarizeMeeting",
    "IssueQuote",
    "ApproveOrder",
    "RecordExtraProperties",
    "DeclareNotInterested",
    "DeclareFictitious",
    "UpdateClient",
];
const MANAGER_WRITES: &[&str] = &[
    "DeclareFrozen",
    "RestoreClient",
    "SetStatus",
    "Reassign",
    "MergeClients",
    "EraseClient",
    // Catalogue changes.
    "CreateStatus",
    "UpdateStatus",
    "DeleteStatus",
    "CreateStatusGroup",
    "UpdateStatusGroup",
    "DeleteStatusGroup",
    "CreateClassification",
    "UpdateClassification",
    "DeleteClassification",
];

impl Role {
    /// The role table: may this role call `method` (of ClientStatusService or
    /// StatusCatalogService)?
    pub fn may_call(self, method: &str) -> bool {
        let any = |lists: &[&[&str]]| lists.iter().any(|l| l.contains(&method));
        match self {
            Role::Portal => matches!(method, "CreateClient" | "GetClient" | "UpdateClient"),
            Role::Agent => any(&[AGENT_WRITES, READS]),
            Role::Manager => any(&[AGENT_WRITES, MANAGER_WRITES, READS, STREAMS]),
            Role::Accounting => {
                any(&[READS, STREAMS])
                    || matches!(
                        method,
                        "RecordInvoice" | "RecordPaidService" | "ApproveOrder"
                    )
            }
            Role::Trading => any(&[READS, STREAMS]) || method == "OpenTradingAccount",
            Role::Dashboard => any(&[READS, STREAMS]),
        }
    }

    /// The portal edits only the leads it created, and only the details they carried
    /// (the lead fields): the rule that checks it needs the client, so it runs in the store.
    pub fn lead_source_only(self, method: &str) -> bool {
        self == Role::Portal && method == "UpdateClient"
    }

    /// Service roles record changes for users of their own systems (the request's `actor`).
    pub fn acts_for_users(self) -> bool {
        matches!(self, Role::Portal | Role::Accounting | Role::Trading)
    }
}

/// Paths anyone may call: health checks (probes carry no token).
const OPEN_PREFIXES: &[&str] = &["/grpc.health.v1.Health/"];
/// Paths any known caller may use, whatever its roles: server reflection (the contract).
const ANY_ROLE_PREFIXES: &[&str] = &["/grpc.reflection."];

/// Decides a request: `Ok(Some(p))` to run it as `p`, `Ok(None)` for paths that need no token
/// (health, reflection) or when no credentials are configured, `Err` to refuse it. Every
/// other path needs a token whose roles allow its method, so a service added later is closed
/// until the role table names its methods.
fn authorize(
    tokens: Option<&Tokens>,
    path: &str,
    headers: &http::HeaderMap,
) -> Result<Option<Principal>, Status> {
    let Some(tokens) = tokens else {
        return Ok(None);
    };
    if OPEN_PREFIXES.iter().any(|p| path.starts_with(p)) {
        return Ok(None);
    }
    let method = path.rsplit('/').next().unwrap_or_default();
    let token = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .ok_or_else(missing_token)?;
    let credential = tokens.find(token.trim()).ok_or_else(|| {
        refuse(
            Code::Unauthenticated,
            "UNKNOWN_TOKEN",
            "the token is not known",
        )
    })?;
    let any_role = ANY_ROLE_PREFIXES.iter().any(|p| path.starts_with(p));
    if !any_role && !credential.roles.iter().any(|r| r.may_call(method)) {
        return Err(refuse(
            Code::PermissionDenied,
            "ROLE_NOT_ALLOWED",
            &format!("{} may not call {method}", credential.principal),
        ));
    }
    // A token with a person's role and a service role names another user only on a call its
    // service role allows: a manager-and-accounting token records SetStatus as itself.
    Ok(Some(Principal {
        name: credential.principal.clone(),
        acts_for_users: credential
            .roles
            .iter()
            .any(|r| r.acts_for_users() && r.may_call(method)),
        // Limited only when no other role of the token allows the call in full.
        lead_source_only: credential
            .roles
            .iter()
            .filter(|r| r.may_call(method))
            .all(|r| r.lead_source_only(method)),
    }))
}

/// UNAUTHENTICATED `MISSING_TOKEN`, as for any call without a token.
pub fn missing_token() -> Status {
    refuse(
        Code::Unauthenticated,
        "MISSING_TOKEN",
        "send `authorization: Bearer <token>`",
    )
}

fn refuse(code: Code, reason: &'static str, message: &str) -> Status {
    Rich::new(code, reason, message).into_status()
}

/// Marks a reflection request that carries no token: it is answered from the health
/// service's schema only (`health::reflection`), so probes and grpcurl need no credentials.
#[derive(Debug, Clone, Copy)]
pub struct Anonymous;

/// Tower layer enforcing `authorize` in front of every service of the server.
#[derive(Debug, Clone)]
pub struct AccessLayer {
    tokens: Option<Arc<Tokens>>,
}

impl AccessLayer {
    pub fn new(tokens: Option<Arc<Tokens>>) -> Self {
        AccessLayer { tokens }
    }
}

impl<S> tower::Layer<S> for AccessLayer {
    type Service = Access<S>;

    fn layer(&self, inner: S) -> Access<S> {
        Access {
            inner,
            tokens: self.tokens.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Access<S> {
    inner: S,
    tokens: Option<Arc<Tokens>>,
}

type BoxFuture<T, E> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, E>> + Send>>;

impl<S, B, RB> tower::Service<http::Request<B>> for Access<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<RB>>,
    S::Future: Send + 'static,
    RB: Default + Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let anonymous = self.tokens.is_some()
            && !request.headers().contains_key(http::header::AUTHORIZATION)
            && ANY_ROLE_PREFIXES
                .iter()
                .any(|p| request.uri().path().starts_with(p));
        if anonymous {
            request.extensions_mut().insert(Anonymous);
            return Box::pin(self.inner.call(request));
        }
        match authorize(
            self.tokens.as_deref(),
            request.uri().path(),
            request.headers(),
        ) {
            Ok(principal) => {
                if let Some(p) = principal {
                    crate::telemetry::note_principal(&p.name);
                    request.extensions_mut().insert(p);
                }
                Box::pin(self.inner.call(request))
            }
            Err(status) => Box::pin(async move { Ok(status.into_http()) }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    #[test]
    fn the_role_table_is_the_specs() {
        let all = [
            "CreateClient",
            "GetClient",
            "ListClients",
            "GetClientHistory",
            "RecordContactAttempt",
            "RecordMessageSent",
            "ScheduleMeeting",
            "SummarizeMeeting",
            "IssueQuote",
            "ApproveOrder",
            "RecordInvoice",
            "RecordExtraProperties",
            "OpenTradingAccount",
            "RecordPaidService",
            "DeclareNotInterested",
            "DeclareFrozen",
            "DeclareFictitious",
            "RestoreClient",
            "SetStatus",
            "Reassign",
            "StreamStatusChanges",
            "StreamAlerts",
            "CreateStatus",
            "UpdateStatus",
            "DeleteStatus",
            "ListStatuses",
            "CreateStatusGroup",
            "UpdateStatusGroup",
            "DeleteStatusGroup",
            "ListStatusGroups",
            "CreateClassification",
            "UpdateClassification",
            "DeleteClassification",
            "ListClassifications",
            "CountClients",
            "CountActivities",
            "StageConversion",
            "TimeInStage",
            "StageEntries",
        ];
        let allowed = |r: Role| all.iter().filter(|m| r.may_call(m)).count();
        assert_eq!(allowed(Role::Portal), 2);
        assert_eq!(allowed(Role::Agent), 21);
        assert_eq!(allowed(Role::Manager), 36);
        assert_eq!(allowed(Role::Accounting), 16);
        assert_eq!(allowed(Role::Trading), 14);
        assert_eq!(allowed(Role::Dashboard), 13);
        assert!(
            !Role::Agent.may_call("CreateStatus"),
            "catalogue changes are the manager's"
        );
        assert!(Role::Dashboard.may_call("ListClassifications"));
        assert!(!Role::Portal.may_call("ListStatuses"));
        assert!(!Role::Agent.may_call("DeclareFrozen"));
        assert!(!Role::Agent.may_call("RecordInvoice"));
        assert!(
            !Role::Manager.may_call("RecordInvoice"),
            "accounting's own document"
        );
        assert!(Role::Accounting.may_call("ApproveOrder"));
    }

    #[test]
    fn the_card_rpcs_follow_the_role_lines_of_section_7() {
        for role in [Role::Agent, Role::Manager] {
            assert!(role.may_call("UpdateClient") && !role.lead_source_only("UpdateClient"));
        }
        assert!(
            Role::Portal.may_call("UpdateClient") && Role::Portal.lead_source_only("UpdateClient")
        );
        for rpc in ["MergeClients", "EraseClient"] {
            assert!(Role::Manager.may_call(rpc), "{rpc}");
            for role in [
                Role::Portal,
                Role::Agent,
                Role::Accounting,
                Role::Trading,
                Role::Dashboard,
            ] {
                assert!(!role.may_call(rpc), "{role:?} {rpc}");
            }
        }
        for role in [Role::Accounting, Role::Trading, Role::Dashboard] {
            assert!(!role.may_call("UpdateClient"), "{role:?}");
        }
    }

    #[test]
    fn tokens_are_found_by_hash_only() {
        let hash = |t: &str| {
            Sha256::digest(t.as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        };
        let file = format!(
            "[[tokens]]\nprincipal = \"portal\"\nroles = [\"portal\"]\nsha256 = \"{}\"\n",
            hash("s3cret")
        );
        let tokens = Tokens::parse(&file).unwrap();
        assert_eq!(
            tokens.find("s3cret").map(|c| c.principal.as_str()),
            Some("portal")
        );
        assert!(tokens.find("s3cre").is_none());
        assert!(
            Tokens::parse("[[tokens]]\nprincipal = \"x\"\nroles = [\"root\"]\nsha256 = \"00\"")
                .is_err()
        );
        assert!(Tokens::parse("tokens = []").is_err());
    }
}
