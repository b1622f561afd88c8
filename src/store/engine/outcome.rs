//! How an answer is kept under its request id: the JSON shape every release has written, so a
//! record stays readable across an upgrade (and a downgrade). Clients are written from the
//! JSON their row got in the same transaction, not serialised a second time.
use serde::{Deserialize, Serialize};

use crate::domain::{Client, Entry};

use super::super::rows::to_json;
use super::super::{Outcome, Result};

#[derive(Debug, Deserialize)]
pub struct StoredOutcome {
    #[serde(default)]
    clients: Vec<Client>,
    #[serde(default)]
    created: bool,
    #[serde(default)]
    already_recorded: bool,
    #[serde(default)]
    entry: Option<Entry>,
    #[serde(default)]
    moved: i64,
}

impl From<StoredOutcome> for Outcome {
    fn from(s: StoredOutcome) -> Outcome {
        let mut clients = s.clients;
        clients.iter_mut().for_each(Client::fill_legacy_status);
        Outcome {
            clients,
            created: s.created,
            already_recorded: s.already_recorded,
            entry: s.entry,
            moved: s.moved,
        }
    }
}

/// The answer's fields other than the clients.
#[derive(Serialize)]
struct Rest<'a> {
    created: bool,
    already_recorded: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    entry: Option<&'a Entry>,
    moved: i64,
}

/// The record of `outcome`, whose clients' JSON is `bodies` (in the same order): the bodies
/// are spliced in as they are (each is serde's own output, so the result is valid JSON).
pub fn to_record(outcome: &Outcome, bodies: &[String]) -> Result<String> {
    let rest = to_json(
        "outcome",
        &Rest {
            created: outcome.created,
            already_recorded: outcome.already_recorded,
            entry: outcome.entry.as_ref(),
            moved: outcome.moved,
        },
    )?;
    // `rest` is `{"created":…}`: the clients go in front of its first field.
    Ok(format!(
        "{{\"clients\":[{}],{}",
        bodies.join(","),
        rest.strip_prefix('{').unwrap_or(&rest)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_back_as_the_answer_it_was_written_from() {
        let outcome = Outcome {
            clients: Vec::new(),
            created: true,
            already_recorded: false,
            entry: None,
            moved: 3,
        };
        let bodies = vec![r#"{"a":1}"#.to_string(), r#"{"b":[2]}"#.to_string()];
        let record = to_record(&outcome, &bodies).expect("record");
        let v: serde_json::Value = serde_json::from_str(&record).expect("valid JSON");
        assert_eq!(v["clients"], serde_json::json!([{"a": 1}, {"b": [2]}]));
        assert_eq!(v["created"], serde_json::json!(true));
        assert_eq!(v["moved"], serde_json::json!(3));
        let empty = to_record(&outcome, &[]).expect("record");
        assert!(serde_json::from_str::<serde_json::Value>(&empty).is_ok());
    }
}
