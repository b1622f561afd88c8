//! The effective settings as one readable line of `key=value` pairs (keys as in the settings
//! file), for the startup log; passwords masked.
use std::fmt::Display;

use super::{Config, format_duration, redact_url};

impl Config {
    pub fn settings_for_logs(&self) -> String {
        let duration = |d: &chrono::Duration| format_duration(*d);
        let path = |p: &Option<std::path::PathBuf>| p.as_ref().map(|p| p.display().to_string());
        let format = match self.log_format {
            super::LogFormat::Text => "text",
            super::LogFormat::Json => "json",
        };
        let pairs: Vec<(&str, Option<String>)> = vec![
            ("config", path(&self.config)),
            ("listen", shown(&self.listen)),
            ("database_url", Some(self.database_for_logs())),
            (
                "extra_properties_mean_deal",
                shown(&self.extra_properties_mean_deal),
            ),
            ("hot_lead_sla", Some(duration(&self.hot_lead_sla))),
            ("follow_up_stale_days", shown(&self.follow_up_stale_days)),
            (
                "alert_poll_interval",
                Some(duration(&self.alert_poll_interval)),
            ),
            ("tokens_file", path(&self.tokens_file)),
            (
                "metrics_listen",
                self.metrics_listen.as_ref().and_then(shown),
            ),
            ("log_format", Some(format.into())),
            (
                "event_retention",
                self.event_retention.as_ref().map(duration),
            ),
            ("request_retention", Some(duration(&self.request_retention))),
            ("drain_timeout", Some(duration(&self.drain_timeout))),
            (
                "otlp_endpoint",
                self.otlp_endpoint.as_deref().map(redact_url),
            ),
            ("max_connections", shown(&self.max_connections)),
            (
                "max_streams_per_connection",
                shown(&self.max_streams_per_connection),
            ),
            ("handshake_timeout", Some(duration(&self.handshake_timeout))),
            ("tls_cert", path(&self.tls_cert)),
            ("tls_key", path(&self.tls_key)),
            ("tls_client_ca", path(&self.tls_client_ca)),
            ("allow_plaintext", shown(&self.allow_plaintext)),
            (
                "page_token_key",
                Some(match self.edge.page_token_key {
                    Some(_) => "set".into(),
                    None => "random per start".into(),
                }),
            ),
            ("error_domain", Some(self.edge.error_domain.clone())),
            (
                "cors_allowed_origins",
                (!self.cors_allowed_origins.is_empty())
                    .then(|| self.cors_allowed_origins.join(",")),
            ),
            ("dashboard", shown(&self.dashboard)),
            (
                "relay_nats_url",
                self.relay.relay_nats_url.as_deref().map(redact_url),
            ),
            ("relay_stream", Some(self.relay.relay_stream.clone())),
            (
                "relay_subject_prefix",
                Some(self.relay.relay_subject_prefix.clone()),
            ),
            (
                "relay_format",
                Some(match self.relay.relay_format {
                    crate::relay::Format::Protobuf => "protobuf".into(),
                    crate::relay::Format::Json => "json".into(),
                }),
            ),
            (
                "relay_max_age",
                self.relay.relay_max_age.as_ref().map(duration),
            ),
            ("relay_replicas", shown(&self.relay.relay_replicas)),
            (
                "relay_duplicate_window",
                Some(duration(&self.relay.relay_duplicate_window)),
            ),
        ];
        pairs
            .into_iter()
            .map(|(key, value)| format!("{key}={}", quoted(value.as_deref().unwrap_or("unset"))))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn shown(value: &impl Display) -> Option<String> {
    Some(value.to_string())
}

/// Values with spaces or quotes are quoted, so the line splits back into its pairs.
fn quoted(value: &str) -> String {
    if value.is_empty() || value.contains([' ', '"', '=']) {
        format!("{value:?}")
    } else {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;
    use crate::config::Cli;

    #[test]
    fn every_setting_is_shown_as_key_equals_value() {
        let mut c = Config::with_database("postgres://app:s3cret@db:5432/crm");
        c.event_retention = Some(chrono::Duration::days(90));
        let shown = c.settings_for_logs();
        assert!(!shown.contains("s3cret"), "{shown}");
        for pair in [
            "listen=127.0.0.1:0",
            "database_url=postgres://app:***@db:5432/crm",
            "hot_lead_sla=15m",
            "event_retention=90d",
            "tokens_file=unset",
            "log_format=text",
            "max_connections=10000",
        ] {
            assert!(shown.split(' ').any(|p| p == pair), "{pair} not in {shown}");
        }
        let command = Cli::command();
        let serve = command.find_subcommand("serve").expect("serve");
        for arg in serve.get_arguments().filter(|a| a.get_long().is_some()) {
            let key = format!("{}=", arg.get_id());
            if ["help", "version"].contains(&arg.get_id().as_str()) {
                continue;
            }
            assert!(shown.contains(&key), "{key} missing from {shown}");
        }
    }
}
