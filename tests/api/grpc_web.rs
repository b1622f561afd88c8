//! Browsers (issue 17): gRPC-Web over plain HTTP/1.1 on the gRPC port, for a unary call and a
//! server stream, with the same tokens and roles as gRPC; CORS for the configured origins only;
//! the dashboard's files served by the binary.
use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use clientstatus::proto::*;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use prost::Message;
use sha2::{Digest, Sha256};

use crate::helpers::*;

const GRPC_WEB: &str = "application/grpc-web+proto";
const ALLOWED: &str = "https://crm.example.com";

/// One HTTP/1.1 request on a fresh connection.
async fn send<B>(addr: SocketAddr, request: Request<B>) -> Response<Incoming>
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("HTTP/1.1 handshake");
    tokio::spawn(connection);
    let response = sender.send_request(request).await.expect("response");
    assert_eq!(response.version(), hyper::Version::HTTP_11);
    response
}

/// A gRPC-Web call: the encoded message in one length-prefixed frame, as a browser sends it.
fn web_request(
    path: &str,
    message: &[u8],
    token: Option<&str>,
    origin: Option<&str>,
) -> Request<Full<Bytes>> {
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::HOST, "localhost")
        .header(header::CONTENT_TYPE, GRPC_WEB)
        .header("x-grpc-web", "1");
    if let Some(t) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    if let Some(o) = origin {
        request = request.header(header::ORIGIN, o);
    }
    request.body(Full::new(frame(message))).expect("request")
}

/// What a gRPC-Web answer carried: its messages and its status, from the trailers frame or,
/// for an answer with no body (a refusal), from the headers.
#[derive(Debug, Default)]
struct WebAnswer {
    messages: Vec<Bytes>,
    trailers: HeaderMap,
}

impl WebAnswer {
    fn grpc_status(&self) -> &str {
        self.trailers
            .get("grpc-status")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("none")
    }
}

/// Reads frames from `body` until the trailers frame, or until `want` messages came.
async fn read_frames(body: &mut Incoming, want: usize) -> WebAnswer {
    let mut answer = WebAnswer::default();
    let mut buf = BytesMut::new();
    loop {
        while buf.len() >= 5 {
            let len = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
            if buf.len() < 5 + len {
                break;
            }
            let flag = buf[0];
            buf.advance(5);
            let payload = buf.split_to(len).freeze();
            if flag & 0x80 != 0 {
                answer.trailers.extend(parse_trailers(&payload));
                return answer;
            }
            answer.messages.push(payload);
            if answer.messages.len() == want {
                return answer;
            }
        }
        let frame = tokio::time::timeout(Duration::from_secs(10), body.frame())
            .await
            .unwrap_or_else(|_| panic!("only {} messages came", answer.messages.len()));
        match frame {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    buf.extend_from_slice(&data);
                }
            }
            Some(Err(e)) => panic!("body: {e}"),
            None => return answer,
        }
    }
}

fn parse_trailers(block: &[u8]) -> HeaderMap {
    let text = std::str::from_utf8(block).expect("trailers are text");
    let mut map = HeaderMap::new();
    for line in text.split("\r\n").filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':').expect("name: value");
        map.insert(
            header::HeaderName::from_bytes(name.trim().as_bytes()).expect("name"),
            HeaderValue::from_str(value.trim()).expect("value"),
        );
    }
    map
}

/// A whole unary answer; a body-less answer's status is in its headers.
async fn unary(response: Response<Incoming>) -> WebAnswer {
    let headers = response.headers().clone();
    let mut body = response.into_body();
    let mut answer = read_frames(&mut body, usize::MAX).await;
    if answer.trailers.is_empty() {
        answer.trailers = headers;
    }
    answer
}

#[tokio::test]
async fn a_unary_call_over_grpc_web_answers_as_over_grpc() {
    let mut app = spawn_app().await;
    let created = app.create("כהן").await;

    let get = GetClientRequest {
        client_id: created.client_id,
    };
    let path = "/crm.clientstatus.v1.ClientStatusService/GetClient";
    let response = send(
        app.addr,
        web_request(path, &get.encode_to_vec(), None, None),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], GRPC_WEB);
    let answer = unary(response).await;
    assert_eq!(answer.grpc_status(), "0");
    assert_eq!(answer.messages.len(), 1);
    let got = GetClientResponse::decode(answer.messages[0].clone()).expect("decode");
    assert_eq!(got.client, Some(app.get(created.client_id).await));
}

#[tokio::test]
async fn a_refusal_over_grpc_web_carries_the_rich_error_details() {
    let app = spawn_app().await;
    let path = "/crm.clientstatus.v1.ClientStatusService/GetClient";
    let bad = GetClientRequest { client_id: 0 };
    let answer = unary(
        send(
            app.addr,
            web_request(path, &bad.encode_to_vec(), None, None),
        )
        .await,
    )
    .await;
    assert_eq!(answer.grpc_status(), "3", "INVALID_ARGUMENT: {answer:?}");
    assert!(
        answer.trailers.contains_key("grpc-status-details-bin"),
        "{answer:?}"
    );
}

#[tokio::test]
async fn a_server_stream_over_grpc_web_delivers_the_backlog_then_live_events() {
    let mut app = spawn_app().await;
    let first = app.create("Stream").await;
    app.call(first.client_id, CallOutcome::NoAnswer).await; // sequence 1

    let subscribe = StreamStatusChangesRequest::default();
    let path = "/crm.clientstatus.v1.ClientStatusService/StreamStatusChanges";
    let response = send(
        app.addr,
        web_request(path, &subscribe.encode_to_vec(), None, None),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    let backlog = read_frames(&mut body, 1).await;

    let second = app.create("Live").await;
    app.call(second.client_id, CallOutcome::NoAnswer).await; // sequence 2, after subscribing
    let live = read_frames(&mut body, 1).await;

    let event = |bytes: &Bytes| {
        StreamStatusChangesResponse::decode(bytes.clone())
            .expect("decode")
            .event
            .expect("event")
    };
    let (old, new) = (event(&backlog.messages[0]), event(&live.messages[0]));
    assert_eq!(
        (old.sequence, old.client_id),
        (1, first.client_id),
        "{old:?}"
    );
    assert_eq!(
        (new.sequence, new.client_id),
        (2, second.client_id),
        "{new:?}"
    );
    assert_eq!(new.new_stage, ClientStage::FollowUp as i32);
}

fn token(role: &str) -> String {
    format!("web-token-of-{role}-0123456789")
}

async fn spawn_with_tokens() -> TestApp {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("tokens.toml");
    let mut file = std::fs::File::create(&path).expect("tokens file");
    for role in ["dashboard", "portal"] {
        let hash: String = Sha256::digest(token(role).as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        writeln!(
            file,
            "[[tokens]]\nprincipal = \"{role}-user\"\nroles = [\"{role}\"]\nsha256 = \"{hash}\"\n"
        )
        .expect("write");
    }
    let app = spawn_with(|c| c.tokens_file = Some(path.clone())).await;
    std::mem::forget(dir); // the file must outlive the server's start; it is tiny
    app
}

#[tokio::test]
async fn grpc_web_calls_need_the_same_tokens_and_roles_as_grpc_calls() {
    let app = spawn_with_tokens().await;
    let list = "/crm.clientstatus.v1.ClientStatusService/ListClients";
    let stream = "/crm.clientstatus.v1.ClientStatusService/StreamAlerts";
    let create = "/crm.clientstatus.v1.ClientStatusService/CreateClient";
    let status = |path: &'static str, message: Vec<u8>, token: Option<String>| {
        let addr = app.addr;
        async move {
            let request = web_request(path, &message, token.as_deref(), None);
            unary(send(addr, request).await)
                .await
                .grpc_status()
                .to_string()
        }
    };
    // An empty message decodes as any request's defaults.
    let empty = Vec::new();
    let dashboard = Some(token("dashboard"));
    assert_eq!(status(list, empty.clone(), None).await, "16", "no token");
    assert_eq!(
        status(list, empty.clone(), Some("guess".into())).await,
        "16",
        "unknown token"
    );
    assert_eq!(status(list, empty.clone(), dashboard.clone()).await, "0");
    assert_eq!(
        status(list, empty.clone(), Some(token("portal"))).await,
        "7",
        "the portal may not list clients"
    );
    assert_eq!(
        status(stream, empty.clone(), None).await,
        "16",
        "streams need a token too"
    );
    let new_client = CreateClientRequest {
        request_id: rid(),
        name: Some(ClientName {
            last_name: "X".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    assert_eq!(
        status(create, new_client.encode_to_vec(), dashboard).await,
        "7",
        "a dashboard only reads"
    );
}

fn frame(payload: &[u8]) -> Bytes {
    let mut out = vec![0u8];
    out.extend_from_slice(&u32::try_from(payload.len()).expect("size").to_be_bytes());
    out.extend_from_slice(payload);
    out.into()
}

fn preflight(origin: &str) -> Request<Empty<Bytes>> {
    Request::builder()
        .method(Method::OPTIONS)
        .uri("/crm.clientstatus.v1.ClientStatusService/GetClient")
        .header(header::HOST, "localhost")
        .header(header::ORIGIN, origin)
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            "authorization,content-type,x-grpc-web,x-user-agent",
        )
        .body(Empty::new())
        .expect("request")
}

fn header_text(response: &Response<Incoming>, name: header::HeaderName) -> &str {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

#[tokio::test]
async fn cors_lets_in_the_configured_origins_and_no_other() {
    let mut app = spawn_with(|c| c.cors_allowed_origins = vec![ALLOWED.into()]).await;

    let allowed = send(app.addr, preflight(ALLOWED)).await;
    assert!(allowed.status().is_success(), "{allowed:?}");
    assert_eq!(
        header_text(&allowed, header::ACCESS_CONTROL_ALLOW_ORIGIN),
        ALLOWED
    );
    let headers = header_text(&allowed, header::ACCESS_CONTROL_ALLOW_HEADERS);
    for needed in [
        "authorization",
        "content-type",
        "x-grpc-web",
        "x-user-agent",
    ] {
        assert!(headers.contains(needed), "{needed} not allowed: {headers}");
    }
    assert!(header_text(&allowed, header::ACCESS_CONTROL_ALLOW_METHODS).contains("POST"));

    let other = send(app.addr, preflight("https://evil.example.net")).await;
    assert!(
        other
            .headers()
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none(),
        "{other:?}"
    );

    // The call itself: the page may read the outcome's headers.
    let c = app.create("Cors").await;
    let get = GetClientRequest {
        client_id: c.client_id,
    };
    let path = "/crm.clientstatus.v1.ClientStatusService/GetClient";
    let call = send(
        app.addr,
        web_request(path, &get.encode_to_vec(), None, Some(ALLOWED)),
    )
    .await;
    assert_eq!(
        header_text(&call, header::ACCESS_CONTROL_ALLOW_ORIGIN),
        ALLOWED
    );
    let exposed = header_text(&call, header::ACCESS_CONTROL_EXPOSE_HEADERS).to_string();
    for needed in ["grpc-status", "grpc-message", "grpc-status-details-bin"] {
        assert!(exposed.contains(needed), "{needed} not exposed: {exposed}");
    }
    assert_eq!(unary(call).await.grpc_status(), "0");
}

#[tokio::test]
async fn by_default_no_other_origin_is_let_in() {
    let app = spawn_app().await;
    let response = send(app.addr, preflight(ALLOWED)).await;
    assert!(
        response
            .headers()
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none(),
        "{response:?}"
    );
}

fn get(path: &str) -> Request<Empty<Bytes>> {
    Request::builder()
        .uri(path)
        .header(header::HOST, "localhost")
        .body(Empty::new())
        .expect("request")
}

async fn text(response: Response<Incoming>) -> String {
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    String::from_utf8(bytes.to_vec()).expect("utf-8")
}

#[tokio::test]
async fn the_binary_serves_the_dashboard_under_its_path() {
    let app = spawn_app().await;

    let page = send(app.addr, get("/dashboard/")).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(header_text(&page, header::CONTENT_TYPE).starts_with("text/html"));
    let policy = header_text(&page, header::CONTENT_SECURITY_POLICY);
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    assert!(policy.contains("connect-src 'self'"), "{policy}");
    let html = text(page).await;
    assert!(html.contains("src=\"app.js\""), "{html}");

    let script = send(app.addr, get("/dashboard/app.js")).await;
    assert!(header_text(&script, header::CONTENT_TYPE).starts_with("text/javascript"));
    let js = text(script).await;
    assert!(js.contains(GRPC_WEB), "the bundle speaks gRPC-Web");
    let style = send(app.addr, get("/dashboard/app.css")).await;
    assert!(header_text(&style, header::CONTENT_TYPE).starts_with("text/css"));

    let root = send(app.addr, get("/")).await;
    assert_eq!(root.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(header_text(&root, header::LOCATION), "/dashboard/");
    let missing = send(app.addr, get("/dashboard/nothing.js")).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_dashboard_can_be_turned_off() {
    let app = spawn_with(|c| c.dashboard = false).await;
    let page = send(app.addr, get("/dashboard/")).await;
    assert!(page.status().is_client_error(), "{page:?}");
}

/// The binary embeds the dashboard's files, so the image build must have them in its context.
#[test]
fn the_container_image_build_has_the_dashboard_files() {
    let root = env!("CARGO_MANIFEST_DIR");
    let read = |file: &str| std::fs::read_to_string(format!("{root}/{file}")).expect(file);
    let (dockerfile, ignore) = (
        read("deploy/Dockerfile"),
        read("deploy/Dockerfile.dockerignore"),
    );
    for dir in ["dashboard/static", "dashboard/dist"] {
        assert!(
            dockerfile.contains(&format!("COPY {dir} ./{dir}")),
            "the image build copies {dir}"
        );
        assert!(
            ignore.lines().any(|l| l == format!("!{dir}/")),
            "the build context lets {dir} in"
        );
    }
}

#[tokio::test]
async fn callers_that_are_not_browsers_get_no_cors_headers() {
    let mut app = spawn_with(|c| c.cors_allowed_origins = vec![ALLOWED.into()]).await;
    let c = app.create("Plain").await;
    let answer = app
        .api
        .get_client(GetClientRequest {
            client_id: c.client_id,
        })
        .await
        .expect("get");
    let metadata = answer.metadata();
    assert!(
        metadata.get("access-control-expose-headers").is_none(),
        "{metadata:?}"
    );
    assert!(metadata.get("vary").is_none(), "{metadata:?}");
}
