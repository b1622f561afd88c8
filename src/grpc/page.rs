//! Paging (AIP-158): signed page tokens bound to the query they were issued for, and pages
//! that end early rather than grow past what a default gRPC client can receive.
//!
//! A token is base64url of `version | query tag | position | MAC`: the MAC (HMAC-SHA256 with
//! the server's key, cut to 16 bytes) makes an edited token fail, the query tag (a digest of
//! the request without its paging fields, and of the caller) makes a token fail with other
//! filters. Replicas that should accept each other's tokens share the key
//! (`--page-token-key`); without one, each start draws a random key.
use std::future::Future;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use tonic::Status;

use crate::store::StoreError;

use super::violations::{Violations, reason};

/// Most bytes of items one page carries: a default client accepts 4 MiB per message, and the
/// rest of the response (the token, framing) is small.
pub const PAGE_BYTES_MAX: usize = 3 * 1024 * 1024;
/// Rows read by a page's first query (the default pages, 50 clients or 100 entries, take one);
/// later ones are sized by what the first weighed, so a page of huge clients never loads a
/// thousand of them to send a few.
const FIRST_CHUNK: usize = 100;

const VERSION: u8 = 1;
const QUERY_TAG_LEN: usize = 8;
const MAC_LEN: usize = 16;
/// Longer tokens are refused unread (a real one is well under 100 characters).
const TOKEN_MAX: usize = 128;
/// Shortest key accepted from the settings.
pub const KEY_MIN: usize = 16;

type HmacSha256 = Hmac<Sha256>;

/// Issues and opens page tokens with one server key.
#[derive(Clone)]
pub struct PageTokens {
    mac: HmacSha256,
}

/// What a token is bound to: one RPC's query, as one caller asked it.
pub struct Query([u8; QUERY_TAG_LEN]);

impl Query {
    /// `request` is the request with its paging fields cleared.
    pub fn new<M: prost::Message>(rpc: &str, caller: &str, request: &M) -> Query {
        let mut hash = Sha256::new();
        for part in [rpc.as_bytes(), caller.as_bytes(), &request.encode_to_vec()] {
            hash.update((part.len() as u64).to_be_bytes());
            hash.update(part);
        }
        let mut tag = [0; QUERY_TAG_LEN];
        tag.copy_from_slice(&hash.finalize()[..QUERY_TAG_LEN]);
        Query(tag)
    }
}

fn invalid(description: &str) -> Violations {
    Violations::one("page_token", reason::PAGE_TOKEN_INVALID, description)
}

impl PageTokens {
    /// Tokens signed with `key`, or with a random key when there is none.
    pub fn new(key: Option<&str>) -> Result<PageTokens, String> {
        let mut random = [0u8; 32];
        let key = match key {
            Some(k) if k.chars().count() < KEY_MIN => {
                return Err(format!(
                    "the page token key must be at least {KEY_MIN} characters"
                ));
            }
            Some(k) => k.as_bytes(),
            None => {
                getrandom::getrandom(&mut random)
                    .map_err(|e| format!("no random page token key: {e}"))?;
                &random
            }
        };
        let mac = HmacSha256::new_from_slice(key).map_err(|e| e.to_string())?;
        Ok(PageTokens { mac })
    }

    fn sign(&self, payload: &[u8]) -> hmac::digest::CtOutput<HmacSha256> {
        self.mac.clone().chain_update(payload).finalize()
    }

    pub fn issue(&self, query: &Query, position: &[u8]) -> String {
        let mut token = Vec::with_capacity(1 + QUERY_TAG_LEN + position.len() + MAC_LEN);
        token.push(VERSION);
        token.extend_from_slice(&query.0);
        token.extend_from_slice(position);
        let mac = self.sign(&token).into_bytes();
        token.extend_from_slice(&mac[..MAC_LEN]);
        URL_SAFE_NO_PAD.encode(token)
    }

    /// The position inside `token`, if this server issued it for `query`.
    pub fn open(&self, token: &str, query: &Query) -> Result<Vec<u8>, Violations> {
        let altered = "was not issued by this service (altered, or signed with another key); \
                       start again without a token";
        if token.len() > TOKEN_MAX {
            return Err(invalid(altered));
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(token)
            .map_err(|_| invalid(altered))?;
        let Some(split) = bytes
            .len()
            .checked_sub(MAC_LEN)
            .filter(|&n| n > QUERY_TAG_LEN)
        else {
            return Err(invalid(altered));
        };
        let (payload, mac) = bytes.split_at(split);
        self.mac
            .clone()
            .chain_update(payload)
            .verify_truncated_left(mac)
            .map_err(|_| invalid(altered))?;
        let (version, rest) = payload.split_at(1);
        let (tag, position) = rest.split_at(QUERY_TAG_LEN);
        if version != [VERSION] {
            return Err(invalid(altered));
        }
        if tag != query.0 {
            return Err(invalid(
                "was issued for a different query; keep the filters of the first page, or start \
                 again without a token",
            ));
        }
        Ok(position.to_vec())
    }
}

/// One page: the items, and where the next page starts (`None`: this was the last).
pub struct Filled<T, P> {
    pub items: Vec<T>,
    pub next: Option<P>,
}

/// Reads up to `size` rows after `after` with `fetch(after, limit)`, converting each with
/// `convert`; ends the page early, with a position to continue from, once the converted items
/// would pass `PAGE_BYTES_MAX` (a page always holds at least one item, so paging moves on).
pub async fn fill<D, T, P, F, Fut>(
    size: usize,
    after: Option<P>,
    mut fetch: F,
    position: impl Fn(&D) -> P,
    convert: impl Fn(D) -> T,
) -> Result<Filled<T, P>, Status>
where
    T: prost::Message,
    P: Clone,
    F: FnMut(Option<P>, i64) -> Fut,
    Fut: Future<Output = Result<Vec<D>, StoreError>>,
{
    let mut items = Vec::new();
    let mut used = 0usize;
    let mut cursor = after;
    let mut chunk = FIRST_CHUNK.min(size);
    loop {
        let want = chunk.min(size - items.len());
        // One row more than wanted says whether more follow.
        let rows = fetch(cursor.clone(), want as i64 + 1).await?;
        let more = rows.len() > want;
        for row in rows.into_iter().take(want) {
            let at = position(&row);
            let item = convert(row);
            // The item's bytes, its tag and its length prefix.
            let bytes = item.encoded_len() + 6;
            if !items.is_empty() && used + bytes > PAGE_BYTES_MAX {
                return Ok(Filled {
                    items,
                    next: cursor,
                });
            }
            used += bytes;
            items.push(item);
            cursor = Some(at);
        }
        if !more {
            return Ok(Filled { items, next: None });
        }
        if items.len() >= size {
            return Ok(Filled {
                items,
                next: cursor,
            });
        }
        let average = (used / items.len().max(1)).max(1);
        chunk = (PAGE_BYTES_MAX.saturating_sub(used) / average + 1).max(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(filter: &str) -> Query {
        Query::new(
            "ListClients",
            "dana",
            &crate::proto::ListClientsRequest {
                owner: filter.into(),
                ..Default::default()
            },
        )
    }

    #[test]
    fn a_token_opens_with_its_key_and_query_only() {
        let tokens = PageTokens::new(Some("a shared key, long enough")).expect("key");
        let token = tokens.issue(&query("avi"), &42i64.to_be_bytes());
        assert_eq!(
            tokens.open(&token, &query("avi")),
            Ok(42i64.to_be_bytes().to_vec())
        );
        assert!(
            tokens.open(&token, &query("dana")).is_err(),
            "other filters"
        );
        let other = PageTokens::new(Some("another key, long enough")).expect("key");
        assert!(other.open(&token, &query("avi")).is_err(), "another key");
        let random = PageTokens::new(None).expect("random key");
        assert!(random.open(&token, &query("avi")).is_err(), "a random key");
    }

    #[test]
    fn every_edited_character_is_noticed() {
        let tokens = PageTokens::new(None).expect("key");
        let token = tokens.issue(&query(""), &7i64.to_be_bytes());
        for i in 0..token.len() {
            let mut edited = token.clone().into_bytes();
            edited[i] = if edited[i] == b'A' { b'B' } else { b'A' };
            let edited = String::from_utf8(edited).expect("ascii");
            let err = tokens.open(&edited, &query("")).expect_err("edited");
            let (kept, _) = err.into_parts();
            assert_eq!(kept[0].reason, "PAGE_TOKEN_INVALID");
        }
        assert!(tokens.open("", &query("")).is_err());
        assert!(tokens.open(&"A".repeat(10_000), &query("")).is_err());
    }

    #[test]
    fn short_keys_are_refused() {
        assert!(PageTokens::new(Some("short")).is_err());
    }
}
