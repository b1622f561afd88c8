//! The tokens file: SHA-256 hashes of bearer tokens, each with a principal and its roles.
//! A presented token is hashed and compared with every entry in constant time.
use std::collections::BTreeSet;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::access::Role;

#[derive(Debug, Deserialize)]
struct TokenFile {
    tokens: Vec<TokenEntry>,
}

#[derive(Debug, Deserialize)]
struct TokenEntry {
    principal: String,
    roles: BTreeSet<Role>,
    /// Hex SHA-256 of the bearer token: `printf %s "$TOKEN" | sha256sum`.
    sha256: String,
}

#[derive(Debug)]
pub(super) struct Credential {
    hash: [u8; 32],
    pub(super) principal: String,
    pub(super) roles: BTreeSet<Role>,
}

/// The configured credentials.
#[derive(Debug)]
pub struct Tokens(Vec<Credential>);

impl Tokens {
    /// Reads a tokens file (TOML, `[[tokens]]` entries of principal, roles, sha256).
    pub fn load(path: &std::path::Path) -> Result<Tokens, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read tokens file {}: {e}", path.display()))?;
        Tokens::parse(&text).map_err(|e| format!("tokens file {}: {e}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Tokens, String> {
        let file: TokenFile = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        for (i, t) in file.tokens.into_iter().enumerate() {
            let hash = decode_hex(&t.sha256)
                .ok_or_else(|| format!("tokens[{i}].sha256 is not 64 hex digits"))?;
            if t.principal.trim().is_empty() || t.roles.is_empty() {
                return Err(format!(
                    "tokens[{i}] needs a principal and at least one role"
                ));
            }
            out.push(Credential {
                hash,
                principal: t.principal,
                roles: t.roles,
            });
        }
        if out.is_empty() {
            return Err("no tokens".into());
        }
        Ok(Tokens(out))
    }

    /// The credential of `token`. Every entry is compared in full, whatever matches, so the
    /// time taken says nothing about which entry or how much of it matched.
    pub(super) fn find(&self, token: &str) -> Option<&Credential> {
        let presented: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let mut found = None;
        for c in &self.0 {
            let diff = c
                .hash
                .iter()
                .zip(presented.iter())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b));
            if diff == 0 {
                found = Some(c);
            }
        }
        found
    }
}

fn decode_hex(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}
