//! A mutating request -> a validated domain `Request`, with its idempotency fingerprint. The
//! fields every mutation shares are parsed here; each RPC's own fields by its `TryFrom` in
//! `client_requests` and `catalog_requests`. All violations are reported together.
use sha2::{Digest, Sha256};

use crate::domain::{Command, Meta, Request};
use crate::store::Mutation;

use super::auth::Principal;
use super::validate::{self, Need, SHORT_MAX};
use super::violations::{All, Violations, reason};

/// The fields every mutating request shares.
pub struct Envelope<'a> {
    pub request_id: &'a str,
    pub occurred_at: Option<&'a prost_types::Timestamp>,
    pub actor: &'a str,
    pub expected_version: Option<i64>,
}

pub trait MutationRequest: prost::Message + Sized {
    const METHOD: &'static str;
    fn envelope(&self) -> Envelope<'_>;
    fn command(&self) -> Result<Command, Violations>;
}

fn expected_version(v: Option<i64>) -> Result<Option<i64>, Violations> {
    match v {
        Some(v) if v < 1 => Err(Violations::one(
            "expected_version",
            reason::VALUE_OUT_OF_RANGE,
            "must be 1 or more (versions start at 1)",
        )),
        v => Ok(v),
    }
}

/// Validates `body` and wraps it with its idempotency fingerprint: method, caller and the
/// request's canonical encoding (maps are sorted, so equal requests encode equally).
pub fn to_mutation<T: MutationRequest>(
    body: &T,
    principal: &Principal,
) -> Result<Mutation, Violations> {
    let env = body.envelope();
    let (request_id, occurred_at, actor, expected_version, command) = (
        validate::request_id(env.request_id),
        validate::time("occurred_at", env.occurred_at),
        validate::line("actor", env.actor, SHORT_MAX, Need::Optional),
        expected_version(env.expected_version),
        body.command(),
    )
        .all()?;
    if let Command::Update { client_ids, .. } = &command
        && expected_version.is_some()
        && client_ids.len() > 1
    {
        return Err(Violations::one(
            "expected_version",
            reason::CONFLICTING_FIELDS,
            "applies to a single client; omit it when naming several",
        ));
    }

    let mut hash = Sha256::new();
    hash.update(T::METHOD.as_bytes());
    hash.update([0]);
    hash.update(principal.name.as_bytes());
    hash.update([0]);
    hash.update(body.encode_to_vec());
    Ok(Mutation {
        request: Request {
            meta: Meta {
                request_id,
                occurred_at,
                actor: principal.actor_for(&actor),
                principal: principal.name.clone(),
                expected_version,
            },
            command,
        },
        fingerprint: hash.finalize().to_vec(),
    })
}
