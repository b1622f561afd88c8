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
mod parse;
mod show;

pub use file::load;
pub use parse::{format_duration, parse_duration, redact_url};
use parse::{parse_otlp_endpoint, resolve_address};

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}
