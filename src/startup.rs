//! Wires the store, the gRPC services, health and reflection, and serves until `shutdown`.
use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;

use crate::alerts;
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::grpc::ClientStatusApi;
use crate::grpc::access::{AccessLayer, Tokens};
use crate::grpc::catalog::StatusCatalogApi;
use crate::grpc::reports::ClientReportApi;
use crate::proto::client_report_service_server::ClientReportServiceServer;
use crate::proto::client_status_service_server::ClientStatusServiceServer;
use crate::proto::status_catalog_service_server::StatusCatalogServiceServer;
use crate::store::Store;
use crate::store::postgres::PgStore;
use crate::store::sqlite::SqliteStore;
use crate::store::traced::Traced;
use crate::stream::Streams;
use crate::telemetry::{self, RpcLayer};

pub type StartError = Box<dyn std::error::Error + Send + Sync>;

/// Opens the database named by `config` (running migrations), then serves gRPC on `listener`
/// until `shutdown` completes: new connections stop, in-flight calls finish, the pool closes.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    run_with_clock(config, listener, shutdown, Arc::new(SystemClock)).await
}

/// `run` with an injected clock (tests move time with it).
pub async fn run_with_clock(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    clock: Arc<dyn Clock>,
) -> Result<(), StartError> {
    let tokens = match &config.tokens_file {
        Some(path) => {
            let tokens = Tokens::load(path)?;
            tracing::info!(file = %path.display(), "bearer tokens loaded");
            Some(Arc::new(tokens))
        }
        None => {
            tracing::warn!("no credentials configured: every caller acts as the local operator");
            None
        }
    };
    let access = AccessLayer::new(tokens);
    let url = config.database_url.as_str();
    if url.starts_with("sqlite:") {
        let store = Arc::new(SqliteStore::connect(url, clock.clone(), config.settings()).await?);
        tracing::info!(database = %config.database_for_logs(), "database ready");
        let traced = Arc::new(Traced::new(store.clone(), "sqlite"));
        let served = serve(traced, &config, clock, access, listener, shutdown).await;
        store.close().await;
        served
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        let store = Arc::new(PgStore::connect(url, clock.clone(), config.settings()).await?);
        tracing::info!(database = %config.database_for_logs(), "database ready");
        let traced = Arc::new(Traced::new(store.clone(), "postgresql"));
        let served = serve(traced, &config, clock, access, listener, shutdown).await;
        store.close().await;
        served
    } else {
        Err(format!(
            "unsupported database URL {:?}: use sqlite:PATH or postgres://…",
            config.database_for_logs()
        )
        .into())
    }
}

async fn serve<S: Store>(
    store: Arc<S>,
    config: &Config,
    clock: Arc<dyn Clock>,
    access: AccessLayer,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    // Streams and the scheduler watch this; it turns true when `shutdown` completes.
    let (stopping, stop_watch) = watch::channel(false);
    let scheduler = tokio::spawn(alerts::run(
        store.clone(),
        clock,
        config.scheduler(),
        stop_watch.clone(),
    ));
    let relay = crate::relay::start(
        store.clone(),
        &config.database_url,
        &config.relay,
        stop_watch.clone(),
    )?;
    let shutdown = async move {
        shutdown.await;
        let _ = stopping.send(true);
    };
    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_serving::<ClientStatusServiceServer<ClientStatusApi<S>>>()
        .await;
    health
        .set_serving::<StatusCatalogServiceServer<StatusCatalogApi<S>>>()
        .await;
    health
        .set_serving::<ClientReportServiceServer<ClientReportApi<S>>>()
        .await;
    crate::grpc::status::set_error_domain(&config.edge.error_domain);
    let page_tokens = crate::grpc::page::PageTokens::new(config.edge.page_token_key.as_deref())?;
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(crate::proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(crate::proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;

    let metrics = match config.metrics_listen {
        Some(addr) => {
            let metrics_listener = TcpListener::bind(addr).await?;
            tracing::info!(addr = %metrics_listener.local_addr()?, "metrics on /metrics");
            Some(tokio::spawn(telemetry::serve_metrics(metrics_listener)))
        }
        None => None,
    };
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "clientstatus listening");
    // TCP_NODELAY: hyper writes a unary answer's headers and body in one segment and its trailers
    // in a second; with Nagle on, the trailers wait for the peer's delayed ACK (~40 ms per call).
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    let server = Server::builder()
        // The window grows with the connection's bandwidth-delay product instead of staying at
        // 64 KiB; pings find peers that vanished without closing (a NAT dropping the flow).
        .http2_adaptive_window(Some(true))
        .http2_keepalive_interval(Some(std::time::Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(std::time::Duration::from_secs(10)))
        // Browsers: gRPC-Web over HTTP/1.1, CORS, the dashboard's files (src/web/).
        .accept_http1(true)
        .layer(crate::web::WebLayer::new(config))
        .layer(RpcLayer)
        .layer(access)
        .layer(crate::grpc::framing::FramingLayer)
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(StatusCatalogServiceServer::new(StatusCatalogApi::new(
            store.clone(),
        )))
        .add_service(ClientReportServiceServer::new(ClientReportApi::new(
            store.clone(),
        )))
        .add_service(ClientStatusServiceServer::new(ClientStatusApi::new(
            store.clone(),
            Streams::start(store, stop_watch.clone()),
            page_tokens,
        )))
        .serve_with_incoming_shutdown(incoming, shutdown);
    // The drain has a deadline: HTTP/2 flow control lets a consumer that stopped reading keep its
    // stream, and so the graceful stop, open for ever.
    let drain = config
        .drain_timeout
        .to_std()
        .unwrap_or(std::time::Duration::from_secs(10));
    let mut stopped = stop_watch.clone();
    let deadline = async move {
        let _ = stopped.wait_for(|stopping| *stopping).await;
        tokio::time::sleep(drain).await;
    };
    tokio::select! {
        served = server => served?,
        () = deadline => {
            tracing::warn!(?drain, "calls still in flight after the drain timeout; closing their connections");
        }
    }
    scheduler.abort();
    if let Some(relay) = relay {
        relay.abort();
    }
    if let Some(metrics) = metrics {
        metrics.abort();
    }
    tracing::info!("clientstatus stopped");
    Ok(())
}
