//! Server reflection for callers without a token: only the health service's schema, so
//! `grpcurl host:port grpc.health.v1.Health/Check` works with no credentials while the rest
//! of the contract stays behind a token. `AccessLayer` marks such requests `Anonymous`.
use std::task::{Context, Poll};

use tonic::codegen::http;
use tonic::server::NamedService;
use tower::ServiceExt;

use crate::grpc::access::Anonymous;

/// One reflection service in front of two: the full one, and the health-only one for
/// anonymous callers.
#[derive(Clone)]
pub struct OpenToAnonymous<S> {
    full: S,
    health_only: S,
}

impl<S> OpenToAnonymous<S> {
    pub fn new(full: S, health_only: S) -> Self {
        OpenToAnonymous { full, health_only }
    }
}

impl<S: NamedService> NamedService for OpenToAnonymous<S> {
    const NAME: &'static str = S::NAME;
}

impl<S, B> tower::Service<http::Request<B>> for OpenToAnonymous<S>
where
    S: tower::Service<http::Request<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Each call readies the service it picks (`oneshot`).
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let chosen = if request.extensions().get::<Anonymous>().is_some() {
            self.health_only.clone()
        } else {
            self.full.clone()
        };
        Box::pin(chosen.oneshot(request))
    }
}
