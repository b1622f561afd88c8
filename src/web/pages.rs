//! The built-in dashboard's files, compiled into the binary so one artefact deploys it. They come
//! from `dashboard/` (`static/` as written, `dist/app.js` as built and committed; see
//! docs/dashboard.md), so `cargo build` needs no Node.js. Only GET and HEAD under `/dashboard/`
//! (and `/`, which redirects there) are answered here; every call goes on to gRPC-Web and gRPC,
//! which use POST.
use bytes::Bytes;
use http_body_util::Full;
use tonic::body::Body;
use tonic::codegen::http::{self, HeaderValue, Method, StatusCode, header};

const ROOT: &str = "/dashboard/";

struct File {
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const FILES: [File; 3] = [
    File {
        path: ROOT,
        content_type: "text/html; charset=utf-8",
        body: include_bytes!("../../dashboard/static/index.html"),
    },
    File {
        path: "/dashboard/app.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../../dashboard/static/app.css"),
    },
    File {
        path: "/dashboard/app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../dashboard/dist/app.js"),
    },
];

/// The page runs only its own script and style and talks only to its own origin; people paste
/// bearer tokens into it, so no other site may frame it or learn its address.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// The answer to a request for a page: `None` unless it is one (GET or HEAD of `/`, or of a path
/// under `/dashboard`).
pub fn answer<B>(request: &http::Request<B>) -> Option<http::Response<Body>> {
    let head = request.method() == Method::HEAD;
    let path = request.uri().path();
    let page = head || request.method() == Method::GET;
    (page && (path == "/" || path == "/dashboard" || path.starts_with(ROOT)))
        .then(|| file(path, head))
}

/// The file at `path`, a redirect to the dashboard, or 404.
fn file(path: &str, head: bool) -> http::Response<Body> {
    let Some(file) = FILES.iter().find(|f| f.path == path) else {
        if path.starts_with(ROOT) {
            return plain(StatusCode::NOT_FOUND, "not found", head);
        }
        let mut response = plain(StatusCode::PERMANENT_REDIRECT, "see /dashboard/", head);
        response
            .headers_mut()
            .insert(header::LOCATION, HeaderValue::from_static(ROOT));
        return response;
    };
    let mut response = body(file.body, head);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(file.content_type),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    // A new binary may bring new files: the browser asks again each time (they are small).
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

fn plain(status: StatusCode, text: &'static str, head: bool) -> http::Response<Body> {
    let mut response = body(text.as_bytes(), head);
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn body(bytes: &'static [u8], head: bool) -> http::Response<Body> {
    let content = if head {
        Body::empty()
    } else {
        Body::new(Full::new(Bytes::from_static(bytes)))
    };
    let mut response = http::Response::new(content);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}
