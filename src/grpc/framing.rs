//! tonic answers some requests before any handler sees them, with a bare status and no
//! details: a message over the 4 MiB decoding limit (OUT_OF_RANGE), a body with no message, a
//! cut-off frame or a compressed flag without an encoding (INTERNAL). Each is the caller's
//! fault, so this layer answers them as INVALID_ARGUMENT with the rich error model
//! (REQUEST_TOO_LARGE, MALFORMED_REQUEST). It only rewrites errors that carry no details:
//! every error of this service's own carries an ErrorInfo, so none is mistaken for tonic's.
use std::task::{Context, Poll};

use tonic::codegen::http;
use tonic::{Code, Status};

use super::status::Rich;
use super::violations::{Violations, reason};

/// tonic's default limit on a request message, which the server keeps.
pub const REQUEST_BYTES_MAX: usize = 4 * 1024 * 1024;

#[derive(Debug, Clone, Copy, Default)]
pub struct FramingLayer;

impl<S> tower::Layer<S> for FramingLayer {
    type Service = Framing<S>;

    fn layer(&self, inner: S) -> Framing<S> {
        Framing { inner }
    }
}

#[derive(Debug, Clone)]
pub struct Framing<S> {
    inner: S,
}

type BoxFuture<T, E> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, E>> + Send>>;

impl<S, B, RB> tower::Service<http::Request<B>> for Framing<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<RB>>,
    S::Future: Send + 'static,
    RB: Default + Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let response = self.inner.call(request);
        Box::pin(async move { response.await.map(explain) })
    }
}

/// The response, or a rich INVALID_ARGUMENT in place of tonic's bare framing error.
fn explain<RB: Default>(response: http::Response<RB>) -> http::Response<RB> {
    let Some(status) = Status::from_header_map(response.headers()) else {
        return response;
    };
    if !status.details().is_empty() {
        return response;
    }
    match status.code() {
        Code::OutOfRange if status.message().contains("message length too large") => {
            too_large(status.message()).into_http()
        }
        Code::Internal => malformed(status.message()).into_http(),
        _ => response,
    }
}

fn too_large(message: &str) -> Status {
    // tonic says "… found N bytes, the limit is: L bytes".
    let found = message
        .split("found ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse::<u64>().ok());
    let description = match found {
        Some(n) => format!("is {n} bytes; at most {REQUEST_BYTES_MAX} bytes are accepted"),
        None => format!("is larger than the {REQUEST_BYTES_MAX} bytes accepted"),
    };
    Rich::invalid(Violations::one(
        "request",
        reason::REQUEST_TOO_LARGE,
        description,
    ))
    .meta("limit_bytes", REQUEST_BYTES_MAX.to_string())
    .into_status()
}

fn malformed(message: &str) -> Status {
    Violations::one(
        "request",
        reason::MALFORMED_REQUEST,
        format!("is not one well-formed gRPC message: {message}"),
    )
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_types::StatusExt;

    fn answer(status: Status) -> Status {
        let response = explain(status.into_http::<()>());
        Status::from_header_map(response.headers()).expect("a status")
    }

    #[test]
    fn tonics_bare_errors_become_rich_invalid_arguments() {
        let big = answer(Status::out_of_range(
            "Error, decoded message length too large: found 5000000 bytes, the limit is: \
             4194304 bytes",
        ));
        assert_eq!(big.code(), Code::InvalidArgument);
        let details = big.get_error_details();
        assert_eq!(
            details.error_info().expect("info").reason,
            "REQUEST_TOO_LARGE"
        );
        let violation = &details.bad_request().expect("bad request").field_violations[0];
        assert!(violation.description.contains("5000000"), "{violation:?}");
        let empty = answer(Status::internal("Missing request message."));
        assert_eq!(empty.code(), Code::InvalidArgument);
        assert_eq!(
            empty.get_error_details().error_info().expect("info").reason,
            "MALFORMED_REQUEST"
        );
    }

    #[test]
    fn the_services_own_errors_pass_untouched() {
        let own = Rich::new(Code::Internal, "INTERNAL", "internal error").into_status();
        assert_eq!(answer(own).code(), Code::Internal);
        assert_eq!(answer(Status::not_found("x")).code(), Code::NotFound);
    }
}
