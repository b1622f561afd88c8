//! CORS for dashboards served from other origins (`--cors-allowed-origins`). The built-in
//! dashboard is same-origin and needs none. Tokens travel in the `authorization` header, never
//! in cookies, so credentials mode stays off; and gRPC-Web's content type always needs a
//! preflight, so a page of an origin not listed cannot even send a call.
use std::time::Duration;

use tonic::codegen::http::{HeaderName, HeaderValue, Method};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// Request headers a gRPC-Web client sends: connect-web and grpc-web's own, the token, and
/// W3C trace context (the per-RPC span continues a browser's trace too).
const ALLOWED_HEADERS: [&str; 7] = [
    "authorization",
    "content-type",
    "x-grpc-web",
    "x-user-agent",
    "grpc-timeout",
    "traceparent",
    "tracestate",
];

/// Where gRPC-Web puts a call's outcome when an answer has no body (a refused token, an
/// error): a page can read only the response headers CORS exposes.
const EXPOSED_HEADERS: [&str; 3] = ["grpc-status", "grpc-message", "grpc-status-details-bin"];

/// Browsers cache a preflight this long at most (Chromium caps it at two hours).
const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(2 * 60 * 60);

pub fn layer(origins: &[String]) -> CorsLayer {
    // `parse_origin` let only ASCII through, so every origin is a valid header value.
    let origins = origins.iter().filter_map(|o| HeaderValue::from_str(o).ok());
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::POST])
        .allow_headers(ALLOWED_HEADERS.map(HeaderName::from_static))
        .expose_headers(EXPOSED_HEADERS.map(HeaderName::from_static))
        .max_age(PREFLIGHT_MAX_AGE)
}

/// An origin as a browser sends it in `Origin`: `http(s)://host[:port]`, lower case, with no
/// path and no default port (a trailing `/` is dropped, as people often paste one).
pub fn parse_origin(text: &str) -> Result<String, String> {
    let text = text.trim().trim_end_matches('/').to_ascii_lowercase();
    let hint = "expected an origin such as https://crm.example.com or http://localhost:8080";
    if text.contains('*') {
        return Err(format!("{text:?}: no wildcard: list each origin"));
    }
    let (scheme, authority) = text
        .split_once("://")
        .ok_or_else(|| format!("{text:?}: {hint}"))?;
    let default_port = match scheme {
        "https" => ":443",
        "http" => ":80",
        _ => return Err(format!("{text:?}: the scheme must be http or https")),
    };
    let allowed = |c: char| c.is_ascii_alphanumeric() || "-.:[]".contains(c);
    if authority.is_empty() || !authority.chars().all(allowed) {
        return Err(format!("{text:?}: {hint} (with no path)"));
    }
    let authority = authority.strip_suffix(default_port).unwrap_or(authority);
    Ok(format!("{scheme}://{authority}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_written_as_browsers_send_them() {
        assert_eq!(
            parse_origin("https://CRM.example.com/"),
            Ok("https://crm.example.com".into())
        );
        assert_eq!(
            parse_origin("https://crm.example.com:443"),
            Ok("https://crm.example.com".into())
        );
        assert_eq!(
            parse_origin("http://localhost:8080"),
            Ok("http://localhost:8080".into())
        );
        assert_eq!(
            parse_origin("http://[::1]:3000"),
            Ok("http://[::1]:3000".into())
        );
    }

    #[test]
    fn anything_but_an_origin_is_refused() {
        for text in [
            "*",
            "crm.example.com",
            "ftp://crm.example.com",
            "https://",
            "https://crm.example.com/app",
            "https://*.example.com",
            "https://crm.example.com?x=1",
        ] {
            assert!(parse_origin(text).is_err(), "{text} accepted");
        }
    }
}
