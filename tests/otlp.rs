//! Traces leave the process over OTLP. The real binary is pointed at an OTLP/gRPC receiver
//! running in this test; a call carrying W3C trace context must arrive as a span of the
//! caller's trace, with its method, client, code and stage change, and with its store calls as
//! children. The exporter's batch delay is set beyond the test's length, so the spans can only
//! arrive through the flush on graceful shutdown (SIGTERM).
//!
//! A binary of its own: the process under test is a child process, and nothing here touches
//! the global tracing subscriber of the other suites.
use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use clientstatus::proto::client_status_service_client::ClientStatusServiceClient;
use clientstatus::proto::*;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::{Span, span::SpanKind};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::{Channel, Server};
use tonic::{Code, Request, Response, Status};

const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

/// One received span and the `service.name` of the process that sent it.
#[derive(Debug, Clone)]
struct Received {
    service: String,
    span: Span,
}

/// An OTLP/gRPC trace receiver that keeps everything it is sent.
#[derive(Clone, Default)]
struct Collector(Arc<Mutex<Vec<Received>>>);

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let mut kept = self.0.lock().expect("collector");
        for resource_spans in request.into_inner().resource_spans {
            let service = resource_spans
                .resource
                .as_ref()
                .and_then(|r| text(&r.attributes, "service.name"))
                .unwrap_or_default();
            for scope in resource_spans.scope_spans {
                for span in scope.spans {
                    kept.push(Received {
                        service: service.clone(),
                        span,
                    });
                }
            }
        }
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}

fn attribute<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a any_value::Value> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

fn text(attributes: &[KeyValue], key: &str) -> Option<String> {
    match attribute(attributes, key) {
        Some(any_value::Value::StringValue(s)) => Some(s.clone()),
        _ => None,
    }
}

fn int(attributes: &[KeyValue], key: &str) -> Option<i64> {
    match attribute(attributes, key) {
        Some(any_value::Value::IntValue(n)) => Some(*n),
        _ => None,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The server binary, stopped with SIGTERM (or killed if the test fails first).
struct Served(Option<Child>);

impl Served {
    /// Graceful stop: SIGTERM, then wait for the process to exit on its own.
    async fn terminate(&mut self) -> std::process::ExitStatus {
        let mut child = self.0.take().expect("running");
        let pid = libc::pid_t::try_from(child.id()).expect("pid");
        // SAFETY: kill(2) on our own child's pid, which has not been reaped yet.
        let sent = unsafe { libc::kill(pid, libc::SIGTERM) };
        assert_eq!(sent, 0, "SIGTERM not delivered");
        tokio::task::spawn_blocking(move || child.wait())
            .await
            .expect("waiter")
            .expect("exit status")
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

async fn connect(url: &str) -> Channel {
    for _ in 0..200 {
        if let Ok(ch) = Channel::from_shared(url.to_string())
            .expect("url")
            .connect()
            .await
        {
            return ch;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("server at {url} never answered");
}

/// A request carrying the caller's trace context, as an instrumented client sends it.
fn traced<T>(message: T) -> Request<T> {
    let mut request = Request::new(message);
    let metadata = request.metadata_mut();
    metadata.insert(
        "traceparent",
        format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01")
            .parse()
            .expect("traceparent"),
    );
    metadata.insert("tracestate", "crm=dashboard".parse().expect("tracestate"));
    request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rpc_span_continues_the_callers_trace_with_its_store_calls_beneath_it() {
    let collector = Collector::default();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let otlp = listener.local_addr().expect("addr");
    let (stop_collector, collector_stopped) = tokio::sync::oneshot::channel::<()>();
    let receiver = tokio::spawn(
        Server::builder()
            .add_service(TraceServiceServer::new(collector.clone()))
            .serve_with_incoming_shutdown(TcpListenerStream::new(listener), async {
                let _ = collector_stopped.await;
            }),
    );

    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let mut server = Served(Some(
        Command::new(env!("CARGO_BIN_EXE_clientstatus"))
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--database-url",
                &format!("sqlite:{}", dir.path().join("clients.db").display()),
            ])
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{otlp}"))
            .env("OTEL_SERVICE_NAME", "clientstatus-under-test")
            // Ten minutes: only the flush at shutdown can deliver the spans in time.
            .env("OTEL_BSP_SCHEDULE_DELAY", "600000")
            .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            .env_remove("OTEL_EXPORTER_OTLP_PROTOCOL")
            .env_remove("OTEL_SDK_DISABLED")
            .env_remove("OTEL_TRACES_EXPORTER")
            .env_remove("OTEL_TRACES_SAMPLER")
            .env_remove("CLIENTSTATUS_CONFIG")
            .env_remove("CLIENTSTATUS_TOKENS_FILE")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the binary"),
    ));
    let mut api =
        ClientStatusServiceClient::new(connect(&format!("http://127.0.0.1:{port}")).await);

    let client = api
        .create_client(CreateClientRequest {
            request_id: "otlp-create".into(),
            name: Some(ClientName {
                last_name: "Traced".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect("create")
        .into_inner()
        .client
        .expect("client");
    api.record_contact_attempt(traced(RecordContactAttemptRequest {
        request_id: "otlp-call".into(),
        client_id: client.client_id,
        outcome: CallOutcome::CallWithContent as i32,
        ..Default::default()
    }))
    .await
    .expect("call");
    let missing = api
        .get_client(traced(GetClientRequest { client_id: 999_999 }))
        .await
        .expect_err("no such client");
    assert_eq!(missing.code(), Code::NotFound);

    let exit = server.terminate().await;
    assert!(exit.success(), "graceful stop: {exit:?}");
    let _ = stop_collector.send(());
    receiver.await.expect("receiver task").expect("receiver");

    let spans = collector.0.lock().expect("collector").clone();
    let by_method: BTreeMap<String, &Received> = spans
        .iter()
        .filter_map(|r| text(&r.span.attributes, "rpc.method").map(|m| (m, r)))
        .collect();
    let call = by_method
        .get("RecordContactAttempt")
        .unwrap_or_else(|| panic!("no RecordContactAttempt span in {spans:#?}"));
    assert_eq!(call.service, "clientstatus-under-test");
    let span = &call.span;
    assert_eq!(
        span.name,
        "crm.clientstatus.v1.ClientStatusService/RecordContactAttempt"
    );
    assert_eq!(span.kind, SpanKind::Server as i32);
    assert_eq!(hex(&span.trace_id), CALLER_TRACE, "the caller's trace");
    assert_eq!(hex(&span.parent_span_id), CALLER_SPAN, "the caller's span");
    let a = &span.attributes;
    assert_eq!(text(a, "rpc.system").as_deref(), Some("grpc"));
    assert_eq!(
        text(a, "rpc.service").as_deref(),
        Some("crm.clientstatus.v1.ClientStatusService")
    );
    assert_eq!(int(a, "client_id"), Some(client.client_id));
    assert_eq!(int(a, "rpc.grpc.status_code"), Some(Code::Ok as i64));
    assert_eq!(text(a, "rpc.code").as_deref(), Some("Ok"));
    assert_eq!(text(a, "stage.old").as_deref(), Some("NEW"));
    assert_eq!(text(a, "stage.new").as_deref(), Some("FOLLOW_UP"));

    let store_call = spans
        .iter()
        .map(|r| &r.span)
        .find(|s| s.name == "store.execute" && s.parent_span_id == span.span_id)
        .unwrap_or_else(|| panic!("no store.execute span beneath the RPC in {spans:#?}"));
    assert_eq!(store_call.trace_id, span.trace_id);
    assert_eq!(store_call.kind, SpanKind::Client as i32);
    assert_eq!(
        text(&store_call.attributes, "db.system").as_deref(),
        Some("sqlite")
    );
    assert_eq!(
        int(&store_call.attributes, "client_id"),
        Some(client.client_id)
    );

    let get = by_method
        .get("GetClient")
        .unwrap_or_else(|| panic!("no GetClient span in {spans:#?}"));
    assert_eq!(hex(&get.span.trace_id), CALLER_TRACE);
    assert_eq!(int(&get.span.attributes, "client_id"), Some(999_999));
    assert_eq!(
        int(&get.span.attributes, "rpc.grpc.status_code"),
        Some(Code::NotFound as i64)
    );
    assert!(
        text(&get.span.attributes, "stage.old").is_none(),
        "no stage change on a read"
    );

    // A call without trace context starts a trace of its own.
    let create = by_method
        .get("CreateClient")
        .unwrap_or_else(|| panic!("no CreateClient span in {spans:#?}"));
    assert_ne!(hex(&create.span.trace_id), CALLER_TRACE);
    assert!(create.span.parent_span_id.is_empty(), "a root span");
    assert_eq!(
        int(&create.span.attributes, "client_id"),
        Some(client.client_id)
    );
}
