//! What one RPC looked like when it ended: its service and method (only names this server
//! serves, so a caller cannot grow the metrics with made-up paths), its code as gRPC spells it,
//! and how long it took. A response body wrapper finishes the call when its trailers go out
//! (or the caller goes away), so a stream is timed and coded at its end, not at its headers.
use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::Instant;

use http_body::{Body, Frame};
use prost::Message;
use tonic::Code;
use tonic::codegen::http;

use super::metrics;

/// The label values for paths this server does not serve.
pub const UNKNOWN: &str = "unknown";

/// `(service, method)` of a path this server serves; `("unknown", "unknown")` otherwise.
pub fn method_of(path: &str) -> (&'static str, &'static str) {
    static METHODS: OnceLock<BTreeMap<String, (String, String)>> = OnceLock::new();
    let methods = METHODS.get_or_init(|| {
        let mut methods = BTreeMap::new();
        for set in [
            crate::proto::FILE_DESCRIPTOR_SET,
            tonic_health::pb::FILE_DESCRIPTOR_SET,
            tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
            tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
        ] {
            let Ok(set) = prost_types::FileDescriptorSet::decode(set) else {
                continue;
            };
            for file in set.file {
                for service in &file.service {
                    let name = format!("{}.{}", file.package(), service.name());
                    for method in &service.method {
                        let path = format!("/{name}/{}", method.name());
                        methods.insert(path, (name.clone(), method.name().to_string()));
                    }
                }
            }
        }
        methods
    });
    methods
        .get(path)
        .map_or((UNKNOWN, UNKNOWN), |(s, m)| (s.as_str(), m.as_str()))
}

/// The code's name as gRPC writes it (`OK`, `NOT_FOUND`…).
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// The `grpc-status` in a header or trailer map, if any.
pub fn status_in(headers: &http::HeaderMap) -> Option<Code> {
    headers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok())
        .map(Code::from_i32)
}

/// A call in progress: recorded (metrics, the span's code, one log line) exactly once.
pub struct Call {
    pub service: &'static str,
    pub method: &'static str,
    pub started: Instant,
    pub span: tracing::Span,
    pub principal: Option<String>,
    pub trace_id: Option<String>,
    /// The clients the request named, comma-separated.
    pub client_ids: Option<String>,
}

impl Call {
    pub fn finish(self, code: Code) {
        let name = code_name(code);
        let seconds = self.started.elapsed().as_secs_f64();
        // The span keeps tonic's spelling of the code ("NotFound"), as its consumers know it.
        self.span.record("rpc.code", format!("{code:?}").as_str());
        self.span.record("rpc.grpc.status_code", code as i32);
        if super::rpc::is_server_error(code) {
            self.span.record("otel.status_code", "ERROR");
        }
        metrics().observe_rpc(self.service, self.method, name, seconds);
        tracing::info!(
            parent: &self.span,
            service = self.service,
            method = self.method,
            code = name,
            duration_ms = seconds * 1000.0,
            client_id = self.client_ids.as_deref(),
            principal = self.principal.as_deref(),
            trace_id = self.trace_id.as_deref(),
            "rpc finished"
        );
    }
}

/// A response body that finishes its call when the trailers pass (or it ends or is dropped:
/// then the caller went away, CANCELLED).
pub struct Observed<B> {
    inner: B,
    call: Option<Call>,
}

impl<B> Observed<B> {
    /// `call` is `None` when it was already finished (a trailers-only answer).
    pub fn new(inner: B, call: Option<Call>) -> Self {
        Observed { inner, call }
    }

    fn finish(&mut self, code: Code) {
        if let Some(call) = self.call.take() {
            call.finish(code);
        }
    }
}

impl<B> Drop for Observed<B> {
    fn drop(&mut self) {
        self.finish(Code::Cancelled);
    }
}

impl<B: Body + Unpin> Body for Observed<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(trailers) = frame.trailers_ref() {
                    let code = status_in(trailers).unwrap_or(Code::Unknown);
                    self.finish(code);
                }
            }
            Poll::Ready(Some(Err(_))) => self.finish(Code::Internal),
            Poll::Ready(None) => self.finish(Code::Unknown),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
