//! Parsing and printing of setting values: durations, addresses, URLs (and masking their
//! passwords).
use std::net::SocketAddr;

/// `scheme://user:password@host/…` with the password masked (`user:***`); other text as is.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    // The credentials end at the last '@' before the path: a password may contain '@'.
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => {
            let user = rest[..at].split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***{}", &rest[at..])
        }
        None => url.to_string(),
    }
}

/// "500ms", "30s", "15m", "12h", "90d".
pub fn parse_duration(text: &str) -> Result<chrono::Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{text:?} needs a unit: ms, s, m, h or d"))?;
    let (number, unit) = text.split_at(split);
    let n: i64 = number
        .parse()
        .map_err(|_| format!("{text:?} does not start with a whole number"))?;
    let d = match unit {
        "ms" => chrono::Duration::try_milliseconds(n),
        "s" => chrono::Duration::try_seconds(n),
        "m" => chrono::Duration::try_minutes(n),
        "h" => chrono::Duration::try_hours(n),
        "d" => chrono::Duration::try_days(n),
        _ => {
            return Err(format!(
                "{text:?}: unknown unit {unit:?} (ms, s, m, h or d)"
            ));
        }
    };
    d.filter(|d| *d > chrono::Duration::zero())
        .ok_or_else(|| format!("{text:?} is out of range"))
}

/// The inverse of `parse_duration`, in the largest unit that divides evenly.
pub fn format_duration(d: chrono::Duration) -> String {
    let ms = d.num_milliseconds();
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
    ] {
        if ms != 0 && ms % size == 0 {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

/// `HOST:PORT` or `IP:PORT`; a host name is resolved to its first address (`localhost:50051`).
pub(super) fn resolve_address(text: &str) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs;
    let text = text.trim();
    if let Ok(addr) = text.parse() {
        return Ok(addr);
    }
    let mut addrs = text
        .to_socket_addrs()
        .map_err(|e| format!("{text:?} is not HOST:PORT or IP:PORT that resolves: {e}"))?;
    addrs
        .next()
        .ok_or_else(|| format!("{text:?} resolves to no address"))
}

/// The collector's address: an `http://` URL (the exporter is built without TLS; run a local
/// collector or agent to reach a TLS endpoint).
pub(super) fn parse_otlp_endpoint(text: &str) -> Result<String, String> {
    let text = text.trim();
    if text.starts_with("http://") && text.len() > "http://".len() {
        Ok(text.to_string())
    } else if text.starts_with("https://") {
        Err(
            "https is not supported: this build exports OTLP/gRPC without TLS; send to a \
             collector or agent reachable over http://"
                .into(),
        )
    } else {
        Err("expected http://HOST:PORT, e.g. http://otel-collector:4317".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Cli, CliCommand, Config};

    #[test]
    fn durations_read_as_operators_write_them() {
        assert_eq!(parse_duration("15m"), Ok(chrono::Duration::minutes(15)));
        assert_eq!(parse_duration("90d"), Ok(chrono::Duration::days(90)));
        assert_eq!(
            parse_duration("250ms"),
            Ok(chrono::Duration::milliseconds(250))
        );
        assert!(parse_duration("15").is_err());
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("5 weeks").is_err());
    }

    #[test]
    fn passwords_never_reach_the_logs() {
        let mut c = Config::with_database("postgres://app:s3cret@db:5432/crm");
        assert_eq!(c.database_for_logs(), "postgres://app:***@db:5432/crm");
        c.database_url = "postgres://app:p@ss@db/crm?sslmode=require".into();
        assert_eq!(
            c.database_for_logs(),
            "postgres://app:***@db/crm?sslmode=require"
        );
        c.database_url = "sqlite:clientstatus.db".into();
        assert_eq!(c.database_for_logs(), "sqlite:clientstatus.db");
    }

    #[test]
    fn debug_of_the_configuration_masks_passwords() {
        let mut c = Config::with_database("postgres://app:s3cret@db:5432/crm");
        c.otlp_endpoint = Some("http://otel:hunter2@collector:4317".into());
        let shown = format!("{c:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("postgres://app:***@db:5432/crm"), "{shown}");
        assert!(shown.contains("hot_lead_sla: \"15m\""), "{shown}");
        let cli = Cli {
            command: CliCommand::Serve(c),
        };
        assert!(!format!("{cli:?}").contains("s3cret"));
    }

    #[test]
    fn durations_print_as_they_are_written() {
        for text in ["15m", "90d", "250ms", "1s", "12h", "90s"] {
            assert_eq!(format_duration(parse_duration(text).unwrap()), text);
        }
    }

    #[test]
    fn the_collector_must_be_a_plain_http_url() {
        assert!(parse_otlp_endpoint("http://otel-collector:4317").is_ok());
        assert!(parse_otlp_endpoint("https://collector:4317").is_err());
        assert!(parse_otlp_endpoint("otel-collector:4317").is_err());
    }
}
