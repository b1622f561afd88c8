//! Field parsers: each turns one field of a request into the value the domain takes, or the
//! violations that say why not (combined per request with `violations::All`). Every limit a
//! caller meets is a constant here or next to the request that uses it (docs/errors.md lists
//! them all).
use std::collections::BTreeMap;

use chrono::{DateTime, SubsecRound};

use crate::domain::Timestamp;

use super::violations::{Violations, reason};

/// Longest text a free-text note may hold, in characters.
pub const NOTE_MAX: usize = 4_000;
/// Longest short text (names, owners, reasons, ids), in characters.
pub const SHORT_MAX: usize = 200;
/// Longest request_id or business document id.
pub const ID_MAX: usize = 128;
/// Most custom properties in one request.
pub const PROPERTIES_MAX: usize = 100;
/// Most ids one list filter may name (statuses, groups, customer types).
pub const FILTER_IDS_MAX: usize = 200;
const EMAIL_MAX: usize = 254;
const PHONE_MAX: usize = 40;

/// Earliest and latest times google.protobuf.Timestamp allows (0001-01-01 .. 9999-12-31).
const MIN_SECONDS: i64 = -62_135_596_800;
const MAX_SECONDS: i64 = 253_402_300_799;

/// How much of a refused value an error quotes back, in characters.
const QUOTE_MAX: usize = 24;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Required,
    Optional,
}

/// The start of `value`, quoted and escaped, for an error description.
pub fn quote(value: &str) -> String {
    let mut chars = value.chars();
    let head: String = chars.by_ref().take(QUOTE_MAX).collect();
    let more = if chars.next().is_some() { "…" } else { "" };
    format!("{head:?}{more}")
}

/// A repeated field (or map) of `len` values, at most `max`.
pub fn count(field: &str, len: usize, max: usize) -> Result<(), Violations> {
    if len > max {
        return Err(Violations::one(
            field,
            reason::TOO_MANY_VALUES,
            format!("has {len} values; at most {max} are allowed"),
        ));
    }
    Ok(())
}

/// One line of text: at most `max` characters, no control characters; trimmed.
pub fn line(field: &str, value: &str, max: usize, need: Need) -> Result<String, Violations> {
    text(field, value, max, need, false)
}

/// Free text: line breaks and tabs allowed.
pub fn note(field: &str, value: &str, need: Need) -> Result<String, Violations> {
    text(field, value, NOTE_MAX, need, true)
}

fn text(
    field: &str,
    value: &str,
    max: usize,
    need: Need,
    multiline: bool,
) -> Result<String, Violations> {
    let value = value.trim();
    let mut v = Violations::default();
    if need == Need::Required && value.is_empty() {
        v.push(field, reason::FIELD_REQUIRED, "is required");
    }
    let len = value.chars().count();
    if len > max {
        v.push(
            field,
            reason::FIELD_TOO_LONG,
            format!("is {len} characters long; at most {max} are allowed"),
        );
    }
    let bad = |c: char| c.is_control() && !(multiline && matches!(c, '\n' | '\r' | '\t'));
    if value.chars().any(bad) {
        v.push(field, reason::INVALID_FORMAT, "contains control characters");
    }
    v.into_result().map(|()| value.to_string())
}

/// A text that must not carry surrounding spaces (a key the caller will send again).
fn exact(field: &str, value: &str, max: usize, what: &str) -> Result<String, Violations> {
    let trimmed = line(field, value, max, Need::Required)?;
    if trimmed != value {
        return Err(Violations::one(
            field,
            reason::INVALID_FORMAT,
            format!("{what} must not start or end with spaces"),
        ));
    }
    Ok(trimmed)
}

pub fn request_id(value: &str) -> Result<String, Violations> {
    exact("request_id", value, ID_MAX, "the request_id")
}

fn positive(field: &str, id: i64, what: &str) -> Result<i64, Violations> {
    if id <= 0 {
        return Err(Violations::one(
            field,
            reason::VALUE_OUT_OF_RANGE,
            format!("must be {what} (a positive integer)"),
        ));
    }
    Ok(id)
}

pub fn client_id(field: &str, id: i64) -> Result<i64, Violations> {
    positive(field, id, "a client number")
}

/// A required id of a catalogue entry.
pub fn entry_id(field: &str, id: i64) -> Result<i64, Violations> {
    positive(field, id, "an id")
}

/// An optional reference to a catalogue entry or client: 0 means none.
pub fn optional_id(field: &str, id: i64) -> Result<Option<i64>, Violations> {
    if id < 0 {
        return Err(Violations::one(
            field,
            reason::VALUE_OUT_OF_RANGE,
            "must be an id (a positive integer), or 0 for none",
        ));
    }
    Ok((id > 0).then_some(id))
}

/// At most `max` positive ids (a filter or a group's members); repeats are collapsed.
pub fn ids(field: &str, ids: &[i64], max: usize) -> Result<Vec<i64>, Violations> {
    count(field, ids.len(), max)?;
    let mut v = Violations::default();
    let mut out = Vec::with_capacity(ids.len());
    for (i, &id) in ids.iter().enumerate() {
        if let Some(id) = v.keep(entry_id(&format!("{field}[{i}]"), id))
            && !out.contains(&id)
        {
            out.push(id);
        }
    }
    v.into_result().map(|()| out)
}

/// 1..=max distinct client numbers (each is changed, so naming one twice is a mistake).
pub fn client_ids(field: &str, ids: &[i64], max: usize) -> Result<Vec<i64>, Violations> {
    if ids.is_empty() {
        return Err(Violations::one(
            field,
            reason::FIELD_REQUIRED,
            "must name at least one client",
        ));
    }
    count(field, ids.len(), max)?;
    let mut v = Violations::default();
    let mut seen = std::collections::HashSet::with_capacity(ids.len());
    for (i, &id) in ids.iter().enumerate() {
        let item = format!("{field}[{i}]");
        if let Some(id) = v.keep(client_id(&item, id))
            && !seen.insert(id)
        {
            v.push(
                item,
                reason::DUPLICATE_VALUE,
                format!("client {id} is named twice"),
            );
        }
    }
    v.into_result().map(|()| ids.to_vec())
}

/// A valid google.protobuf.Timestamp, kept to the microsecond (what the store keeps).
pub fn time(
    field: &str,
    ts: Option<&prost_types::Timestamp>,
) -> Result<Option<Timestamp>, Violations> {
    let Some(ts) = ts else { return Ok(None) };
    let valid =
        (0..1_000_000_000).contains(&ts.nanos) && (MIN_SECONDS..=MAX_SECONDS).contains(&ts.seconds);
    match DateTime::from_timestamp(ts.seconds, ts.nanos as u32).filter(|_| valid) {
        Some(t) => Ok(Some(t.trunc_subsecs(6))),
        None => Err(Violations::one(
            field,
            reason::VALUE_OUT_OF_RANGE,
            "is not a valid timestamp (years 1..9999, nanos 0..999999999)",
        )),
    }
}

pub fn required_time(
    field: &str,
    ts: Option<&prost_types::Timestamp>,
) -> Result<Timestamp, Violations> {
    time(field, ts)?.ok_or_else(|| Violations::one(field, reason::FIELD_REQUIRED, "is required"))
}

/// Custom properties: at most `PROPERTIES_MAX`, keys short and exact, values notes.
pub fn properties(
    field: &str,
    map: &BTreeMap<String, String>,
    allow_empty_values: bool,
) -> Result<BTreeMap<String, String>, Violations> {
    count(field, map.len(), PROPERTIES_MAX)?;
    let mut v = Violations::default();
    let mut out = BTreeMap::new();
    for (k, value) in map {
        // The key is part of the field path: quote only its start.
        let entry = format!("{field}[{}]", k.chars().take(QUOTE_MAX).collect::<String>());
        let key = v.keep(exact(&entry, k, SHORT_MAX, "the key"));
        let need = if allow_empty_values {
            Need::Optional
        } else {
            Need::Required
        };
        let value = v.keep(note(&entry, value, need));
        if let (Some(key), Some(value)) = (key, value) {
            out.insert(key, value);
        }
    }
    v.into_result().map(|()| out)
}

pub fn email(field: &str, value: &str) -> Result<String, Violations> {
    let e = line(field, value, EMAIL_MAX, Need::Optional)?;
    let well_formed = match e.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.contains('@')
                && !e.contains(char::is_whitespace)
        }
        None => false,
    };
    if !e.is_empty() && !well_formed {
        return Err(Violations::one(
            field,
            reason::INVALID_FORMAT,
            format!("{} is not an email address", quote(&e)),
        ));
    }
    Ok(e)
}

pub fn phone(field: &str, value: &str) -> Result<String, Violations> {
    let p = line(field, value, PHONE_MAX, Need::Optional)?;
    let ok = |c: char| c.is_ascii_digit() || " +-().".contains(c);
    if !p.is_empty() && (!p.chars().all(ok) || p.chars().filter(char::is_ascii_digit).count() < 3) {
        return Err(Violations::one(
            field,
            reason::INVALID_FORMAT,
            "is not a phone number (digits, spaces, + - ( ) . only)",
        ));
    }
    Ok(p)
}

/// AIP-158: 0 means the default, above the maximum means the maximum, negative is refused.
pub fn page_size(value: i32, default: usize, max: usize) -> Result<usize, Violations> {
    match usize::try_from(value) {
        Ok(0) => Ok(default),
        Ok(n) => Ok(n.min(max)),
        Err(_) => Err(Violations::one(
            "page_size",
            reason::VALUE_OUT_OF_RANGE,
            format!("{value} is negative; use 1..{max}, or 0 for {default}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reasons(r: Result<impl std::fmt::Debug, Violations>) -> Vec<&'static str> {
        let (kept, _) = r.expect_err("refused").into_parts();
        kept.into_iter().map(|v| v.reason).collect()
    }

    #[test]
    fn each_text_fault_has_its_reason() {
        assert_eq!(
            reasons(line("f", " ", 5, Need::Required)),
            ["FIELD_REQUIRED"]
        );
        assert_eq!(
            reasons(line("f", "abcdef", 5, Need::Optional)),
            ["FIELD_TOO_LONG"]
        );
        assert_eq!(
            reasons(line("f", "a\u{1}", 5, Need::Optional)),
            ["INVALID_FORMAT"]
        );
        assert_eq!(note("f", " a\nb ", Need::Required), Ok("a\nb".to_string()));
        assert_eq!(reasons(request_id(" r")), ["INVALID_FORMAT"]);
    }

    #[test]
    fn filter_lists_collapse_repeats() {
        assert_eq!(ids("ids", &[3, 1, 3, 3], 10), Ok(vec![3, 1]));
        assert_eq!(reasons(client_ids("c", &[4, 4], 10)), ["DUPLICATE_VALUE"]);
    }

    #[test]
    fn page_sizes_are_coerced_not_refused() {
        assert_eq!(page_size(0, 50, 1000), Ok(50));
        assert_eq!(page_size(5000, 50, 1000), Ok(1000));
        assert_eq!(page_size(7, 50, 1000), Ok(7));
        assert_eq!(reasons(page_size(-1, 50, 1000)), ["VALUE_OUT_OF_RANGE"]);
    }

    #[test]
    fn quotes_are_short() {
        assert_eq!(quote("abc"), "\"abc\"");
        let q = quote(&"x".repeat(1_000_000));
        assert!(q.len() < 40 && q.ends_with('…'), "{q}");
    }
}
