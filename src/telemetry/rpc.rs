//! The per-RPC tower layer: a span per call, continuing the caller's W3C trace (`traceparent`,
//! `tracestate` metadata), named and attributed as OpenTelemetry's gRPC conventions say, plus
//! the call's count and latency in the metrics. What only the handler and the store know (the
//! client a request names, the stage change it made) reaches the span through a task-local
//! notebook that the store wrapper and the metrics fill in.
use std::cell::RefCell;
use std::task::{Context, Poll};
use std::time::Instant;

use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tonic::codegen::http;
use tracing::Instrument;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::calls::{self, Call, Observed};

/// What the work of one RPC noted for its span.
#[derive(Debug, Default)]
struct Notes {
    client_ids: Vec<i64>,
    stage_changes: Vec<(&'static str, &'static str)>,
    principal: Option<String>,
}

tokio::task_local! {
    static NOTES: RefCell<Notes>;
}

/// The request names these clients (a no-op outside an RPC, e.g. in the alert scheduler).
pub fn note_client_ids(ids: impl IntoIterator<Item = i64>) {
    let _ = NOTES.try_with(|n| {
        let mut n = n.borrow_mut();
        for id in ids {
            if !n.client_ids.contains(&id) {
                n.client_ids.push(id);
            }
        }
    });
}

/// The caller's token named this principal (for the RPC's log line).
pub fn note_principal(name: &str) {
    let _ = NOTES.try_with(|n| n.borrow_mut().principal = Some(name.to_string()));
}

/// The RPC changed a client's stage.
pub fn note_stage_change(from: &'static str, to: &'static str) {
    let _ = NOTES.try_with(|n| n.borrow_mut().stage_changes.push((from, to)));
}

/// Reads W3C trace context from request headers (gRPC metadata are HTTP/2 headers).
struct Headers<'a>(&'a http::HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// Counts and times every gRPC call and runs it in a span named after its method.
#[derive(Debug, Clone, Default)]
pub struct RpcLayer;

impl<S> tower::Layer<S> for RpcLayer {
    type Service = Rpc<S>;

    fn layer(&self, inner: S) -> Rpc<S> {
        Rpc { inner }
    }
}

#[derive(Debug, Clone)]
pub struct Rpc<S> {
    inner: S,
}

type BoxFuture<T, E> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, E>> + Send>>;

impl<S, B, RB> tower::Service<http::Request<B>> for Rpc<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<RB>>,
    S::Future: Send + 'static,
    RB: Send + 'static,
{
    type Response = http::Response<Observed<RB>>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let path = request.uri().path().to_string();
        // Labels and span names only ever carry methods this server serves.
        let (service, method) = calls::method_of(&path);
        let span = tracing::info_span!(
            "rpc",
            otel.name = %format!("{service}/{method}"),
            otel.kind = "server",
            otel.status_code = Empty,
            rpc.system = "grpc",
            rpc.service = service,
            rpc.method = method,
            rpc.code = Empty,
            rpc.grpc.status_code = Empty,
            client_id = Empty,
            client_ids = Empty,
            stage.old = Empty,
            stage.new = Empty,
        );
        let caller = TraceContextPropagator::new().extract(&Headers(request.headers()));
        let mut trace_id = caller.span().span_context().clone();
        if trace_id.is_valid() {
            // Fails only without an OpenTelemetry layer (nothing exported): then no matter.
            let _ = span.set_parent(caller);
        } else {
            trace_id = span.context().span().span_context().clone();
        }
        let trace_id = trace_id.is_valid().then(|| trace_id.trace_id().to_string());
        let started = Instant::now();
        // The access layer below notes the caller's principal while it decides the request.
        let (future, early) = NOTES.sync_scope(RefCell::default(), || {
            let future = self.inner.call(request);
            (future, NOTES.with(|n| n.take()))
        });
        let work = async move {
            let result = future.await;
            (result, NOTES.with(|n| n.take()))
        };
        let call_span = span.clone();
        Box::pin(
            async move {
                let (result, notes) = NOTES.scope(RefCell::new(early), work).await;
                record_notes(&call_span, &notes);
                let call = Call {
                    service,
                    method,
                    started,
                    span: call_span,
                    client_ids: (!notes.client_ids.is_empty()).then(|| {
                        let ids: Vec<String> =
                            notes.client_ids.iter().map(i64::to_string).collect();
                        ids.join(",")
                    }),
                    principal: notes.principal,
                    trace_id,
                };
                match result {
                    // tonic sends a handler's error as a trailers-only response: its code is in
                    // the headers, and the call is over. Otherwise it ends with the body.
                    Ok(response) => {
                        let (parts, body) = response.into_parts();
                        let call = match calls::status_in(&parts.headers) {
                            Some(code) => {
                                call.finish(code);
                                None
                            }
                            None => Some(call),
                        };
                        Ok(http::Response::from_parts(parts, Observed::new(body, call)))
                    }
                    Err(e) => {
                        call.finish(tonic::Code::Unknown);
                        Err(e)
                    }
                }
            }
            .instrument(span),
        )
    }
}

/// Codes that mean the server failed (OpenTelemetry's gRPC conventions for server spans); a
/// caller's mistake (NOT_FOUND, INVALID_ARGUMENT…) leaves the span's status unset.
pub(super) fn is_server_error(code: tonic::Code) -> bool {
    use tonic::Code::*;
    matches!(
        code,
        Unknown | DeadlineExceeded | Unimplemented | Internal | Unavailable | DataLoss
    )
}

fn record_notes(span: &tracing::Span, notes: &Notes) {
    match notes.client_ids.as_slice() {
        [] => {}
        [one] => {
            span.record("client_id", *one);
        }
        many => {
            let ids: Vec<String> = many.iter().map(i64::to_string).collect();
            span.record("client_ids", ids.join(",").as_str());
        }
    }
    if !notes.stage_changes.is_empty() {
        let (old, new): (Vec<&str>, Vec<&str>) = notes.stage_changes.iter().copied().unzip();
        span.record("stage.old", old.join(",").as_str());
        span.record("stage.new", new.join(",").as_str());
    }
}
