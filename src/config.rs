//! Settings, by flag, environment variable or configuration file (`clientstatus serve --help`
//! lists them). A flag wins over its variable, the variable over the file, the file over the
//! built-in default; `file` reads the file.
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::alerts::SchedulerSettings;
use crate::domain::Settings;
use crate::domain::alerts::AlertSettings;

mod file;
mod show;

pub use file::load;

#[derive(Debug, Parser)]
#[command(
    name = "clientstatus",
    version,
    about = "Owns each CRM client's lifecycle status and the record of every sales effort behind it"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: CliCommand,
}

#[derive(Debug, Subcommand)]
pub enum CliCommand {
    /// Run the gRPC server (migrations run at start).
    Serve(Config),
}

/// Debug redacts the database password (see the `Debug` impl below).
#[derive(Clone, Args)]
pub struct Config {
    /// A TOML file of settings, keys named like these flags (`listen = "0.0.0.0:50051"`,
    /// `hot_lead_sla = "15m"`); a flag or environment variable wins over the file.
    #[arg(long, env = "CLIENTSTATUS_CONFIG")]
    pub config: Option<PathBuf>,

    /// Address to listen on for gRPC (a host name such as `localhost:50051` is resolved).
    #[arg(long, env = "CLIENTSTATUS_LISTEN", default_value = "127.0.0.1:50051", value_parser = resolve_address)]
    pub listen: SocketAddr,

    /// Database: `sqlite:PATH` (created if missing) or `postgres://…`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite:clientstatus.db",
        hide_env_values = true
    )]
    pub database_url: String,

    /// Filling a client's extra properties counts as a deal: the client becomes REAL.
    #[arg(
        long,
        env = "CLIENTSTATUS_EXTRA_PROPERTIES_MEAN_DEAL",
        default_value_t = false
    )]
    pub extra_properties_mean_deal: bool,

    /// A HOT lead with no contact this long after creation raises HOT_LEAD_UNTOUCHED (e.g. 15m).
    #[arg(long, env = "CLIENTSTATUS_HOT_LEAD_SLA", default_value = "15m", value_parser = parse_duration)]
    pub hot_lead_sla: chrono::Duration,

    /// A follow-up client with no contact for this many days raises FOLLOW_UP_STALE.
    #[arg(long, env = "CLIENTSTATUS_FOLLOW_UP_STALE_DAYS", default_value_t = 14, value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub follow_up_stale_days: u32,

    /// How often due time-based alerts are looked for (e.g. 1s).
    #[arg(long, env = "CLIENTSTATUS_ALERT_POLL_INTERVAL", default_value = "1s", value_parser = parse_duration)]
    pub alert_poll_interval: chrono::Duration,

    /// Bearer tokens (TOML: `[[tokens]]` with principal, roles, sha256). Without it every
    /// caller is the local operator and the server listens on loopback only.
    #[arg(long, env = "CLIENTSTATUS_TOKENS_FILE")]
    pub tokens_file: Option<PathBuf>,

    /// Where to serve Prometheus metrics (`GET /metrics`), e.g. 0.0.0.0:9090; unset: nowhere.
    #[arg(long, env = "CLIENTSTATUS_METRICS_LISTEN", value_parser = resolve_address)]
    pub metrics_listen: Option<SocketAddr>,

    /// Log format: `text` for people, `json` (one object per line) for log collectors.
    #[arg(long, env = "CLIENTSTATUS_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Keep stream entries (status events, alerts) this long (e.g. 90d); unset: for ever.
    #[arg(long, env = "CLIENTSTATUS_EVENT_RETENTION", value_parser = parse_duration)]
    pub event_retention: Option<chrono::Duration>,

    /// Keep answered requests this long (e.g. 30d): a retry with the same request_id within it
    /// gets the first answer; after it, the request is taken as new.
    #[arg(long, env = "CLIENTSTATUS_REQUEST_RETENTION", default_value = "30d", value_parser = parse_duration)]
    pub request_retention: chrono::Duration,

    /// On SIGTERM/SIGINT, how long calls and streams in flight may take to finish (e.g. 10s);
    /// connections still open then are closed (a consumer that stopped reading would otherwise
    /// hold the drain open for ever).
    #[arg(long, env = "CLIENTSTATUS_DRAIN_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub drain_timeout: chrono::Duration,

    /// OpenTelemetry collector to send traces to over OTLP/gRPC, e.g. http://otel-collector:4317;
    /// unset: no traces leave the process. The other OTEL_* variables apply as usual
    /// (OTEL_SERVICE_NAME, OTEL_EXPORTER_OTLP_HEADERS, OTEL_TRACES_SAMPLER…).
    #[arg(
        long,
        env = "OTEL_EXPORTER_OTLP_ENDPOINT",
        value_parser = parse_otlp_endpoint,
        hide_env_values = true
    )]
    pub otlp_endpoint: Option<String>,

    /// Most client connections open at once (lowered to fit the open-file limit). When all are
    /// taken, the oldest one that has not spoken HTTP/2 yet is closed to make room.
    #[arg(long, env = "CLIENTSTATUS_MAX_CONNECTIONS", default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,

    /// Most calls and streams in flight on one connection (HTTP/2 max_concurrent_streams).
    #[arg(long, env = "CLIENTSTATUS_MAX_STREAMS_PER_CONNECTION", default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_streams_per_connection: u32,

    /// A connection that has not finished TLS and sent the HTTP/2 preface this long after it
    /// was accepted is closed (e.g. 10s).
    #[arg(long, env = "CLIENTSTATUS_HANDSHAKE_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub handshake_timeout: chrono::Duration,

    /// Serve gRPC over TLS with this certificate chain (PEM); needs --tls-key. Reloaded on
    /// SIGHUP and when the file changes.
    #[arg(long, env = "CLIENTSTATUS_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,

    /// The private key of --tls-cert (PEM).
    #[arg(long, env = "CLIENTSTATUS_TLS_KEY")]
    pub tls_key: Option<PathBuf>,

    /// Mutual TLS: callers must present a certificate issued by one of these CAs (PEM).
    #[arg(long, env = "CLIENTSTATUS_TLS_CLIENT_CA")]
    pub tls_client_ca: Option<PathBuf>,

    /// Serve bearer tokens without TLS on a non-loopback address (a trusted network, e.g. a
    /// service mesh that encrypts); without it such a server refuses to start.
    #[arg(long, env = "CLIENTSTATUS_ALLOW_PLAINTEXT", default_value_t = false)]
    pub allow_plaintext: bool,
    /// Page tokens and the error model (src/grpc/settings.rs).
    #[command(flatten)]
    pub edge: crate::grpc::settings::EdgeSettings,
    /// Web pages on other origins that may call the API over gRPC-Web (CORS), comma separated,
    /// e.g. https://crm.example.com; unset: none (the built-in dashboard needs none).
    #[arg(long, env = "CLIENTSTATUS_CORS_ALLOWED_ORIGINS", value_delimiter = ',', value_parser = crate::web::parse_origin)]
    pub cors_allowed_origins: Vec<String>,

    /// Serve the built-in dashboard at /dashboard/ on the gRPC port (`--dashboard false`: don't).
    #[arg(long, env = "CLIENTSTATUS_DASHBOARD", default_value_t = true, action = clap::ArgAction::Set)]
    pub dashboard: bool,

    /// The NATS JetStream relay (src/relay/settings.rs).
    #[command(flatten)]
    pub relay: crate::relay::RelaySettings,
}

/// Every setting, with the database URL's and the collector URL's passwords masked: this is
/// what the startup log prints.
impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let duration = |d: &chrono::Duration| format_duration(*d);
        f.debug_struct("Config")
            .field("config", &self.config)
            .field("listen", &self.listen)
            .field("database_url", &self.database_for_logs())
            .field(
                "extra_properties_mean_deal",
                &self.extra_properties_mean_deal,
            )
            .field("hot_lead_sla", &duration(&self.hot_lead_sla))
            .field("follow_up_stale_days", &self.follow_up_stale_days)
            .field("alert_poll_interval", &duration(&self.alert_poll_interval))
            .field("tokens_file", &self.tokens_file)
            .field("metrics_listen", &self.metrics_listen)
            .field("log_format", &self.log_format)
            .field(
                "event_retention",
                &self.event_retention.as_ref().map(duration),
            )
            .field("request_retention", &duration(&self.request_retention))
            .field("drain_timeout", &duration(&self.drain_timeout))
            .field(
                "otlp_endpoint",
                &self.otlp_endpoint.as_deref().map(redact_url),
            )
            .field("max_connections", &self.max_connections)
            .field(
                "max_streams_per_connection",
                &self.max_streams_per_connection,
            )
            .field("handshake_timeout", &duration(&self.handshake_timeout))
            .field("tls_cert", &self.tls_cert)
            .field("tls_key", &self.tls_key)
            .field("tls_client_ca", &self.tls_client_ca)
            .field("allow_plaintext", &self.allow_plaintext)
            .field("edge", &self.edge)
            .field("cors_allowed_origins", &self.cors_allowed_origins)
            .field("dashboard", &self.dashboard)
            .field("relay", &self.relay)
            .finish()
    }
}

impl Config {
    /// A configuration for tests and embedding: the given database, defaults elsewhere.
    pub fn with_database(database_url: impl Into<String>) -> Self {
        Config {
            config: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            database_url: database_url.into(),
            extra_properties_mean_deal: false,
            hot_lead_sla: chrono::Duration::minutes(15),
            follow_up_stale_days: 14,
            alert_poll_interval: chrono::Duration::seconds(1),
            event_retention: None,
            request_retention: chrono::Duration::days(30),
            log_format: LogFormat::Text,
            tokens_file: None,
            metrics_listen: None,
            drain_timeout: chrono::Duration::seconds(10),
            otlp_endpoint: None,
            max_connections: 10_000,
            max_streams_per_connection: 200,
            handshake_timeout: chrono::Duration::seconds(10),
            tls_cert: None,
            tls_key: None,
            tls_client_ca: None,
            allow_plaintext: false,
            edge: Default::default(),
            cors_allowed_origins: Vec::new(),
            dashboard: true,
            relay: Default::default(),
        }
    }

    pub fn scheduler(&self) -> SchedulerSettings {
        SchedulerSettings {
            alerts: AlertSettings {
                hot_lead_sla: self.hot_lead_sla,
                follow_up_stale: chrono::Duration::days(i64::from(self.follow_up_stale_days)),
            },
            poll_interval: self
                .alert_poll_interval
                .to_std()
                .unwrap_or(std::time::Duration::from_secs(1)),
            retention: self.event_retention,
            request_retention: self.request_retention,
        }
    }

    pub fn settings(&self) -> Settings {
        Settings {
            extra_properties_mean_deal: self.extra_properties_mean_deal,
        }
    }

    /// Where to listen: the configured address, or its loopback twin when no credentials are
    /// configured (an open server must not be reachable from other machines).
    pub fn effective_listen(&self) -> SocketAddr {
        if self.tokens_file.is_none() && !self.listen.ip().is_loopback() {
            SocketAddr::from(([127, 0, 0, 1], self.listen.port()))
        } else {
            self.listen
        }
    }

    /// The database URL with any password masked, for logs.
    pub fn database_for_logs(&self) -> String {
        redact_url(&self.database_url)
    }
}

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
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
fn resolve_address(text: &str) -> Result<SocketAddr, String> {
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
fn parse_otlp_endpoint(text: &str) -> Result<String, String> {
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
