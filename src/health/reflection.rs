//! Server reflection for callers without a token: only the health service's schema, so
//! `grpcurl host:port grpc.health.v1.Health/Check` works with no credentials while the rest
//! of the contract stays behind a token. `AccessLayer` marks such requests `Anonymous`.
//! Listing the services still needs a token: an anonymous stream whose first request is
//! ListServices is refused (UNAUTHENTICATED) before anything is answered.
use std::pin::Pin;
use std::task::{Context, Poll};

use http_body::{Body as _, Frame};
use prost::Message;
use tonic::Status;
use tonic::body::Body;
use tonic::codegen::{Bytes, http};
use tonic::server::NamedService;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tower::ServiceExt;

use crate::grpc::access::{Anonymous, missing_token};

/// The most an anonymous first request may take; reflection requests are a few hundred bytes.
const FIRST_REQUEST_MAX: usize = 16 * 1024;

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

type BoxFuture<T, E> = Pin<Box<dyn std::future::Future<Output = Result<T, E>> + Send>>;

impl<S> tower::Service<http::Request<Body>> for OpenToAnonymous<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<S::Response, S::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Each call readies the service it picks (`oneshot`).
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        if request.extensions().get::<Anonymous>().is_none() {
            return Box::pin(self.full.clone().oneshot(request));
        }
        let health_only = self.health_only.clone();
        Box::pin(async move {
            let (parts, mut body) = request.into_parts();
            let Some((first, length)) = first_message(&mut body).await else {
                return Ok(missing_token().into_http());
            };
            let lists = ServerReflectionRequest::decode(&first[5..5 + length])
                .map(|r| matches!(r.message_request, Some(MessageRequest::ListServices(_))))
                .unwrap_or(true);
            if lists {
                return Ok(missing_token().into_http());
            }
            let replay = Replay {
                first: Some(first),
                rest: body,
            };
            let request = http::Request::from_parts(parts, Body::new(replay));
            health_only.oneshot(request).await
        })
    }
}

/// What was read up to the end of the first gRPC message of `body` (prefix included; maybe
/// more), and that message's length: `None` if the stream ends first, or if the message is
/// compressed or too long (an anonymous caller gets no benefit of the doubt).
async fn first_message(body: &mut Body) -> Option<(Bytes, usize)> {
    let mut read = Vec::new();
    loop {
        if read.len() >= 5 {
            let compressed = read[0] != 0;
            let length = u32::from_be_bytes([read[1], read[2], read[3], read[4]]) as usize;
            if compressed || length > FIRST_REQUEST_MAX {
                return None;
            }
            if read.len() >= 5 + length {
                return Some((Bytes::from(read), length));
            }
        }
        if read.len() > FIRST_REQUEST_MAX + 5 {
            return None;
        }
        let frame = std::future::poll_fn(|cx| Pin::new(&mut *body).poll_frame(cx)).await?;
        if let Ok(data) = frame.ok()?.into_data() {
            read.extend_from_slice(&data);
        }
    }
}

/// The bytes already read, then the rest of the request body.
struct Replay {
    first: Option<Bytes>,
    rest: Body,
}

impl http_body::Body for Replay {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        if let Some(first) = self.first.take() {
            return Poll::Ready(Some(Ok(Frame::data(first))));
        }
        Pin::new(&mut self.rest).poll_frame(cx)
    }
}
