//! Logs and traces. Logs go to stdout (text or JSON, level from `RUST_LOG`). Spans of this crate
//! (one per RPC, one per store call beneath it) go to an OpenTelemetry collector over OTLP/gRPC
//! when `--otlp-endpoint` / `OTEL_EXPORTER_OTLP_ENDPOINT` (or the traces-only
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set; otherwise nothing leaves the process. The
//! standard OTEL_* variables apply as the SDK reads them: OTEL_SERVICE_NAME and
//! OTEL_RESOURCE_ATTRIBUTES (service name `clientstatus` unless they name one),
//! OTEL_EXPORTER_OTLP_HEADERS / _TIMEOUT / _COMPRESSION, OTEL_TRACES_SAMPLER(_ARG), OTEL_BSP_*;
//! OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none turn export off.
use std::io::IsTerminal;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry::{Key, KeyValue};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::Layer;

use super::log_writer::LogWriter;
use tracing_subscriber::filter::{EnvFilter, LevelFilter, Targets, filter_fn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::{Config, LogFormat, redact_url};

const DEFAULT_SERVICE_NAME: &str = "clientstatus";

#[derive(Debug, thiserror::Error)]
pub enum TracingError {
    #[error("{0}")]
    Settings(String),
    #[error("cannot build the OTLP exporter: {0}")]
    Exporter(#[from] opentelemetry_otlp::ExporterBuildError),
    #[error("cannot install the tracing subscriber: {0}")]
    Install(#[from] tracing_subscriber::util::TryInitError),
    #[error("cannot start the log writer thread: {0}")]
    LogWriter(#[from] std::io::Error),
}

/// Where spans go, as decided from the configuration and the OTEL_* variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Export {
    Nowhere,
    /// To this endpoint; `None`: the one in OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, which the
    /// exporter reads itself.
    Otlp(Option<String>),
}

impl Export {
    /// `env` looks up an environment variable (the process's, in production).
    pub fn decide(
        otlp_endpoint: Option<&str>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Export, TracingError> {
        let set = |name: &str| {
            env(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        if set("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            return Ok(Export::Nowhere);
        }
        match set("OTEL_TRACES_EXPORTER").as_deref() {
            None | Some("otlp") => {}
            Some("none") => return Ok(Export::Nowhere),
            Some(other) => {
                return Err(TracingError::Settings(format!(
                    "OTEL_TRACES_EXPORTER={other} is not supported: use otlp or none"
                )));
            }
        }
        let traces_only = set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
        if traces_only.is_none() && otlp_endpoint.is_none() {
            return Ok(Export::Nowhere);
        }
        for var in [
            "OTEL_EXPORTER_OTLP_PROTOCOL",
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        ] {
            if let Some(protocol) = set(var).filter(|p| p != "grpc") {
                return Err(TracingError::Settings(format!(
                    "{var}={protocol} is not supported: traces are exported over OTLP/gRPC \
                     (a collector's port 4317)"
                )));
            }
        }
        // The traces-only variable is the more specific one, as the OpenTelemetry spec says.
        Ok(match traces_only {
            Some(_) => Export::Otlp(None),
            None => Export::Otlp(otlp_endpoint.map(str::to_string)),
        })
    }
}

/// The installed logging and tracing; `shutdown` sends what is still buffered.
#[derive(Debug)]
pub struct Tracing {
    provider: Option<SdkTracerProvider>,
    logs: LogWriter,
}

impl Tracing {
    /// Installs the process's subscriber. Call once, inside the Tokio runtime (the OTLP/gRPC
    /// exporter runs on it).
    pub fn init(config: &Config) -> Result<Tracing, TracingError> {
        let export = Export::decide(config.otlp_endpoint.as_deref(), |name| {
            std::env::var(name).ok()
        })?;
        let provider = match &export {
            Export::Nowhere => None,
            Export::Otlp(endpoint) => Some(provider(endpoint.as_deref())?),
        };
        let filter = EnvFilter::builder()
            .with_default_directive(LevelFilter::INFO.into())
            .from_env_lossy();
        let colour = colour(
            std::io::stdout().is_terminal(),
            std::env::var_os("NO_COLOR"),
        );
        let writer = LogWriter::spawn(std::io::stdout())?;
        let layer = tracing_subscriber::fmt::layer().with_writer(writer.clone());
        let logs = match config.log_format {
            LogFormat::Text => layer.with_ansi(colour).boxed(),
            LogFormat::Json => layer.json().boxed(),
        };
        // The exporter gets this crate's spans whatever RUST_LOG says for the logs: an
        // operator turning logs down must not lose traces.
        let spans = provider.as_ref().map(|p| {
            tracing_opentelemetry::layer()
                .with_tracer(p.tracer(env!("CARGO_PKG_NAME")))
                .with_filter(
                    Targets::new().with_target(env!("CARGO_CRATE_NAME"), LevelFilter::INFO),
                )
        });
        // The per-call span is for the trace exporter; its line in the logs ("rpc finished")
        // carries the call's fields itself. Formatting the span's fields into every line of
        // the call cost more than the call (half the throughput of a cheap RPC).
        let not_the_call_span = filter_fn(|meta| !(meta.is_span() && meta.name() == "rpc"));
        tracing_subscriber::registry()
            .with(logs.with_filter(not_the_call_span).with_filter(filter))
            .with(spans)
            .try_init()?;
        if let Export::Otlp(endpoint) = &export {
            let to = endpoint
                .as_deref()
                .map(redact_url)
                .unwrap_or_else(|| "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT".into());
            tracing::info!(endpoint = %to, "exporting traces over OTLP/gRPC");
        }
        Ok(Tracing {
            provider,
            logs: writer,
        })
    }

    pub fn exporting(&self) -> bool {
        self.provider.is_some()
    }

    /// Exports the spans still buffered and stops the exporter (bounded by the exporter's
    /// timeout). Call after the server has drained.
    pub async fn shutdown(self) {
        let logs = self.logs;
        let Some(provider) = self.provider else {
            logs.flush();
            return;
        };
        // Shutdown blocks until the batch is sent, and the gRPC exporter needs this runtime
        // to send it: block a thread of the blocking pool, not a runtime worker.
        let done = tokio::task::spawn_blocking(move || provider.shutdown()).await;
        match done {
            Ok(Ok(())) => tracing::debug!("traces flushed"),
            Ok(Err(e)) => tracing::warn!(error = %e, "flushing traces failed"),
            Err(e) => tracing::warn!(error = %e, "flushing traces failed"),
        }
        logs.flush();
    }
}

/// Colour codes only for a person at a terminal, and not when NO_COLOR is set (no-color.org:
/// any non-empty value).
fn colour(terminal: bool, no_color: Option<std::ffi::OsString>) -> bool {
    terminal && no_color.is_none_or(|v| v.is_empty())
}

fn provider(endpoint: Option<&str>) -> Result<SdkTracerProvider, TracingError> {
    let mut exporter = opentelemetry_otlp::SpanExporter::builder().with_tonic();
    if let Some(endpoint) = endpoint {
        exporter = exporter.with_endpoint(endpoint);
    }
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter.build()?)
        .with_resource(resource())
        .build())
}

/// The SDK's resource (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, SDK attributes), named
/// `clientstatus` unless those variables name the service.
fn resource() -> Resource {
    let detected = Resource::builder().build();
    let named = detected
        .get(&Key::from_static_str("service.name"))
        .is_some_and(|name| !name.as_str().starts_with("unknown_service"));
    if named {
        detected
    } else {
        Resource::builder()
            .with_attribute(KeyValue::new("service.name", DEFAULT_SERVICE_NAME))
            .build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decide(endpoint: Option<&str>, vars: &[(&str, &str)]) -> Result<Export, TracingError> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Export::decide(endpoint, move |name| {
            vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn nothing_is_exported_without_an_endpoint() {
        assert_eq!(decide(None, &[]).ok(), Some(Export::Nowhere));
        assert_eq!(
            decide(None, &[("OTEL_SERVICE_NAME", "crm")]).ok(),
            Some(Export::Nowhere)
        );
    }

    #[test]
    fn an_endpoint_turns_export_on_unless_the_sdk_is_disabled() {
        let to = Some("http://collector:4317");
        assert_eq!(
            decide(to, &[]).ok(),
            Some(Export::Otlp(Some("http://collector:4317".into())))
        );
        assert_eq!(
            decide(to, &[("OTEL_SDK_DISABLED", "true")]).ok(),
            Some(Export::Nowhere)
        );
        assert_eq!(
            decide(to, &[("OTEL_TRACES_EXPORTER", "none")]).ok(),
            Some(Export::Nowhere)
        );
        assert_eq!(
            decide(
                None,
                &[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://t:4317")]
            )
            .ok(),
            Some(Export::Otlp(None))
        );
    }

    #[test]
    fn colour_only_at_a_terminal_without_no_color() {
        assert!(colour(true, None));
        assert!(!colour(false, None));
        assert!(!colour(true, Some("1".into())));
        assert!(colour(true, Some("".into())));
    }

    #[test]
    fn only_otlp_over_grpc_is_accepted() {
        let to = Some("http://collector:4318");
        assert!(decide(to, &[("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")]).is_err());
        assert!(decide(to, &[("OTEL_TRACES_EXPORTER", "zipkin")]).is_err());
        assert!(decide(to, &[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]).is_ok());
    }
}
