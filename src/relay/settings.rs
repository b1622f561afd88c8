//! The relay's settings (flattened into `serve`'s flags; docs/relay.md explains them).
use std::fmt;

use clap::Args;

use crate::config::{format_duration, parse_duration, redact_url};

#[derive(Clone, Args)]
pub struct RelaySettings {
    /// Publish every status event and alert to NATS JetStream at this server, e.g.
    /// nats://127.0.0.1:4222 (one replica at a time relays); unset: no relay.
    #[arg(long, env = "CLIENTSTATUS_RELAY_NATS_URL", hide_env_values = true)]
    pub relay_nats_url: Option<String>,

    /// The JetStream stream the relay creates (or checks) and publishes to.
    #[arg(long, env = "CLIENTSTATUS_RELAY_STREAM", default_value = "CLIENTSTATUS", value_parser = parse_stream_name)]
    pub relay_stream: String,

    /// First token of every subject: `<prefix>.status.<stage>`, `<prefix>.alert.<kind>`; the
    /// stream holds `<prefix>.>`.
    #[arg(long, env = "CLIENTSTATUS_RELAY_SUBJECT_PREFIX", default_value = "clientstatus", value_parser = parse_prefix)]
    pub relay_subject_prefix: String,

    /// Payload: the protobuf event (as the gRPC streams send it) or its canonical JSON form.
    #[arg(long, env = "CLIENTSTATUS_RELAY_FORMAT", value_enum, default_value_t = Format::Protobuf)]
    pub relay_format: Format,

    /// JetStream drops messages older than this (e.g. 30d); unset: kept for ever.
    #[arg(long, env = "CLIENTSTATUS_RELAY_MAX_AGE", value_parser = parse_duration)]
    pub relay_max_age: Option<chrono::Duration>,

    /// Copies of the stream in a JetStream cluster (1 on a single server).
    #[arg(long, env = "CLIENTSTATUS_RELAY_REPLICAS", default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=5))]
    pub relay_replicas: u8,

    /// JetStream's duplicate window: a re-sent message (same Nats-Msg-Id) within it is dropped.
    #[arg(long, env = "CLIENTSTATUS_RELAY_DUPLICATE_WINDOW", default_value = "2m", value_parser = parse_duration)]
    pub relay_duplicate_window: chrono::Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Protobuf,
    Json,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Protobuf => "application/protobuf",
            Format::Json => "application/json",
        }
    }
}

impl Default for RelaySettings {
    fn default() -> Self {
        RelaySettings {
            relay_nats_url: None,
            relay_stream: "CLIENTSTATUS".into(),
            relay_subject_prefix: "clientstatus".into(),
            relay_format: Format::Protobuf,
            relay_max_age: None,
            relay_replicas: 1,
            relay_duplicate_window: chrono::Duration::minutes(2),
        }
    }
}

/// The NATS URL's password (nats://user:password@host) masked.
impl fmt::Debug for RelaySettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RelaySettings")
            .field(
                "relay_nats_url",
                &self.relay_nats_url.as_deref().map(redact_url),
            )
            .field("relay_stream", &self.relay_stream)
            .field("relay_subject_prefix", &self.relay_subject_prefix)
            .field("relay_format", &self.relay_format)
            .field("relay_max_age", &self.relay_max_age.map(format_duration))
            .field("relay_replicas", &self.relay_replicas)
            .field(
                "relay_duplicate_window",
                &format_duration(self.relay_duplicate_window),
            )
            .finish()
    }
}

/// JetStream stream names: no spaces, dots, wildcards or path separators.
fn parse_stream_name(text: &str) -> Result<String, String> {
    let ok = !text.is_empty()
        && text.len() <= 64
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(text.to_string())
    } else {
        Err(format!(
            "{text:?}: a stream name is 1 to 64 letters, digits, '-' or '_'"
        ))
    }
}

/// Dot-separated subject tokens without wildcards or spaces, e.g. `crm.clientstatus`.
fn parse_prefix(text: &str) -> Result<String, String> {
    let token_ok = |t: &str| {
        !t.is_empty()
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    if text.len() <= 128 && text.split('.').all(token_ok) {
        Ok(text.to_string())
    } else {
        Err(format!(
            "{text:?}: a subject prefix is dot-separated tokens of letters, digits, '-' or '_'"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_prefixes_are_plain_tokens() {
        assert!(parse_prefix("clientstatus").is_ok());
        assert!(parse_prefix("crm.clientstatus").is_ok());
        for bad in ["", "a..b", "a.*", "a.>", "a b", ".a", "a."] {
            assert!(parse_prefix(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn stream_names_have_no_dots_or_wildcards() {
        assert!(parse_stream_name("CLIENTSTATUS").is_ok());
        assert!(parse_stream_name("relay_test-1").is_ok());
        for bad in ["", "a.b", "a*", "a>", "a b", "a/b"] {
            assert!(parse_stream_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_nats_password_never_reaches_the_logs() {
        let settings = RelaySettings {
            relay_nats_url: Some("nats://relay:s3cret@nats:4222".into()),
            ..Default::default()
        };
        let shown = format!("{settings:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("nats://relay:***@nats:4222"), "{shown}");
    }
}
