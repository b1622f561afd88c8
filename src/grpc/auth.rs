//! Who is calling. An authentication layer puts a `Principal` in the request extensions; with
//! no credentials configured the server only listens on loopback and every caller is the
//! local operator.
use tonic::Request;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub name: String,
    /// Service callers (portal, accounting, trading) record changes for users of their own
    /// systems, named in the request's `actor`; people always act as themselves.
    pub acts_for_users: bool,
    /// The caller may call this RPC only on what it brought in itself (the portal's
    /// UpdateClient: leads it created, and only the details they carried).
    pub lead_source_only: bool,
}

impl Principal {
    /// The operator of a server with no credentials configured (loopback only).
    pub fn local() -> Self {
        Principal {
            name: "local".into(),
            acts_for_users: true,
            lead_source_only: false,
        }
    }

    /// The user a change is recorded for: the request's `actor` when this caller may name
    /// one, otherwise the caller itself.
    pub fn actor_for(&self, requested: &str) -> String {
        if self.acts_for_users && !requested.is_empty() {
            requested.to_string()
        } else {
            self.name.clone()
        }
    }
}

pub fn principal<T>(request: &Request<T>) -> Principal {
    request
        .extensions()
        .get::<Principal>()
        .cloned()
        .unwrap_or_else(Principal::local)
}
