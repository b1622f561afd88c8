//! Field-by-field input checks. A `Check` collects every violation of a request so the caller
//! sees them all at once, as one INVALID_ARGUMENT with a BadRequest detail.
use std::collections::BTreeMap;

use chrono::{DateTime, SubsecRound};

use crate::domain::{DomainError, FieldViolation, Stage, Timestamp};

/// Longest text a free-text note may hold, in characters.
pub const NOTE_MAX: usize = 4_000;
/// Longest short text (names, owners, reasons, ids), in characters.
pub const SHORT_MAX: usize = 200;
/// Longest request_id or business document id.
pub const ID_MAX: usize = 128;
/// Most custom properties in one request.
pub const PROPERTIES_MAX: usize = 100;

/// Earliest and latest times google.protobuf.Timestamp allows (0001-01-01 .. 9999-12-31).
const MIN_SECONDS: i64 = -62_135_596_800;
const MAX_SECONDS: i64 = 253_402_300_799;

/// Most violations reported one by one; the rest are counted.
const VIOLATIONS_MAX: usize = 20;
/// Longest field path echoed back (map keys are part of it).
const FIELD_NAME_MAX: usize = 80;

#[derive(Default)]
pub struct Check {
    violations: Vec<FieldViolation>,
    more: usize,
}

impl Check {
    pub fn fail(&mut self, field: &str, description: impl Into<String>) {
        // Bounded: a request with thousands of bad values gets a readable error, not a huge one.
        if self.violations.len() >= VIOLATIONS_MAX {
            self.more += 1;
            return;
        }
        let field: String = field.chars().take(FIELD_NAME_MAX).collect();
        self.violations
            .push(FieldViolation::new(field, description));
    }

    pub fn finish(mut self) -> Result<(), DomainError> {
        if self.violations.is_empty() {
            return Ok(());
        }
        if self.more > 0 {
            self.violations.push(FieldViolation::new(
                "…",
                format!("and {} more violations", self.more),
            ));
        }
        Err(DomainError::InvalidArgument {
            reason: "INVALID_ARGUMENT",
            violations: self.violations,
        })
    }

    /// One line of text: at most `max` characters, no control characters.
    pub fn line(&mut self, field: &str, value: &str, max: usize, required: bool) -> String {
        self.text(field, value, max, required, false)
    }

    /// Free text: line breaks and tabs allowed.
    pub fn note(&mut self, field: &str, value: &str, required: bool) -> String {
        self.text(field, value, NOTE_MAX, required, true)
    }

    fn text(
        &mut self,
        field: &str,
        value: &str,
        max: usize,
        required: bool,
        multiline: bool,
    ) -> String {
        let value = value.trim();
        if required && value.is_empty() {
            self.fail(field, "is required");
        }
        let len = value.chars().count();
        if len > max {
            self.fail(
                field,
                format!("is {len} characters long; at most {max} are allowed"),
            );
        }
        let bad = |c: char| c.is_control() && !(multiline && matches!(c, '\n' | '\r' | '\t'));
        if value.chars().any(bad) {
            self.fail(field, "contains control characters");
        }
        value.to_string()
    }

    pub fn request_id(&mut self, value: &str) -> String {
        let id = self.line("request_id", value, ID_MAX, true);
        if id != value {
            self.fail("request_id", "must not have leading or trailing spaces");
        }
        id
    }

    pub fn client_id(&mut self, field: &str, id: i64) -> i64 {
        if id <= 0 {
            self.fail(field, "must be a client number (a positive integer)");
        }
        id
    }

    /// A list of stages (a filter): each must be one of the seven, UNSPECIFIED included in the
    /// refusal.
    pub fn stages(&mut self, field: &str, values: &[i32]) -> Vec<Stage> {
        let mut stages = Vec::with_capacity(values.len());
        for (i, &s) in values.iter().enumerate() {
            match crate::proto::ClientStage::try_from(s)
                .ok()
                .and_then(super::convert::stage_from_proto)
            {
                Some(stage) => stages.push(stage),
                None => self.fail(&format!("{field}[{i}]"), format!("{s} is not a stage")),
            }
        }
        stages
    }

    /// An optional reference to a catalogue entry: 0 means none.
    pub fn optional_id(&mut self, field: &str, id: i64) -> Option<i64> {
        if id < 0 {
            self.fail(field, "must be an id (a positive integer), or 0 for none");
        }
        (id > 0).then_some(id)
    }

    /// A required id of a catalogue entry.
    pub fn entry_id(&mut self, field: &str, id: i64) -> i64 {
        if id <= 0 {
            self.fail(field, "must be an id (a positive integer)");
        }
        id
    }

    /// At most `max` positive ids (a list filter or a group's members).
    pub fn ids(&mut self, field: &str, ids: &[i64], max: usize) -> Vec<i64> {
        if ids.len() > max {
            self.fail(
                field,
                format!("names {} ids; at most {max} are allowed", ids.len()),
            );
            return Vec::new();
        }
        for (i, &id) in ids.iter().enumerate() {
            if id <= 0 {
                self.fail(
                    &format!("{field}[{i}]"),
                    "must be an id (a positive integer)",
                );
            }
        }
        ids.to_vec()
    }

    /// 1..=max distinct client numbers.
    pub fn client_ids(&mut self, field: &str, ids: &[i64], max: usize) -> Vec<i64> {
        if ids.is_empty() {
            self.fail(field, "must name at least one client");
            return Vec::new();
        }
        if ids.len() > max {
            self.fail(
                field,
                format!("names {} clients; at most {max} are allowed", ids.len()),
            );
            return Vec::new();
        }
        let mut seen = std::collections::HashSet::with_capacity(ids.len());
        for (i, &id) in ids.iter().enumerate() {
            if id <= 0 {
                self.fail(
                    &format!("{field}[{i}]"),
                    "must be a client number (a positive integer)",
                );
            } else if !seen.insert(id) {
                self.fail(
                    &format!("{field}[{i}]"),
                    format!("client {id} is named twice"),
                );
            }
        }
        ids.to_vec()
    }

    /// A valid google.protobuf.Timestamp, kept to the microsecond (what the store keeps).
    pub fn time(&mut self, field: &str, ts: Option<&prost_types::Timestamp>) -> Option<Timestamp> {
        let ts = ts?;
        if !(0..1_000_000_000).contains(&ts.nanos)
            || !(MIN_SECONDS..=MAX_SECONDS).contains(&ts.seconds)
        {
            self.fail(
                field,
                "is not a valid timestamp (years 1..9999, nanos 0..999999999)",
            );
            return None;
        }
        DateTime::from_timestamp(ts.seconds, ts.nanos as u32).map(|t| t.trunc_subsecs(6))
    }

    pub fn required_time(
        &mut self,
        field: &str,
        ts: Option<&prost_types::Timestamp>,
    ) -> Option<Timestamp> {
        if ts.is_none() {
            self.fail(field, "is required");
        }
        self.time(field, ts)
    }

    /// A proto enum value the caller must choose (UNSPECIFIED or unknown is refused).
    pub fn choice<E: TryFrom<i32>>(
        &mut self,
        field: &str,
        value: i32,
        allowed: impl Fn(&E) -> bool,
    ) -> Option<E> {
        match E::try_from(value) {
            Ok(e) if allowed(&e) => Some(e),
            _ => {
                self.fail(field, format!("{value} is not one of the allowed values"));
                None
            }
        }
    }

    pub fn properties(
        &mut self,
        field: &str,
        map: &BTreeMap<String, String>,
        allow_empty_values: bool,
    ) -> BTreeMap<String, String> {
        if map.len() > PROPERTIES_MAX {
            self.fail(
                field,
                format!(
                    "has {} entries; at most {PROPERTIES_MAX} are allowed",
                    map.len()
                ),
            );
        }
        let mut out = BTreeMap::new();
        for (k, v) in map {
            let key = self.line(&format!("{field}[{k}]"), k, SHORT_MAX, true);
            if key != *k {
                self.fail(
                    &format!("{field}[{k}]"),
                    "key must not start or end with spaces",
                );
            }
            if !allow_empty_values && v.trim().is_empty() {
                self.fail(&format!("{field}[{k}]"), "value is required");
            }
            let value = self.note(&format!("{field}[{k}]"), v, false);
            out.insert(key, value);
        }
        out
    }

    pub fn email(&mut self, field: &str, value: &str) -> String {
        let e = self.line(field, value, 254, false);
        if !e.is_empty() {
            let parts: Vec<&str> = e.split('@').collect();
            if parts.len() != 2
                || parts[0].is_empty()
                || !parts[1].contains('.')
                || e.contains(char::is_whitespace)
            {
                self.fail(field, "is not an email address");
            }
        }
        e
    }

    pub fn phone(&mut self, field: &str, value: &str) -> String {
        let p = self.line(field, value, 40, false);
        let ok = |c: char| c.is_ascii_digit() || " +-().".contains(c);
        if !p.is_empty()
            && (!p.chars().all(ok) || p.chars().filter(char::is_ascii_digit).count() < 3)
        {
            self.fail(
                field,
                "is not a phone number (digits, spaces, + - ( ) . only)",
            );
        }
        p
    }

    pub fn page_size(&mut self, value: i32, default: i64, max: i64) -> i64 {
        match i64::from(value) {
            0 => default,
            n if (1..=max).contains(&n) => n,
            n => {
                self.fail("page_size", format!("{n} is out of range 1..{max}"));
                default
            }
        }
    }
}
