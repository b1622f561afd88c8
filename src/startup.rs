//! Wires the store, the gRPC services, health and reflection, and serves until `shutdown`.
use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic::codec::CompressionEncoding;
use tonic::transport::Server;

use crate::alerts;
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::grpc::ClientStatusApi;
use crate::grpc::access::{AccessLayer, Tokens};
use crate::grpc::catalog::StatusCatalogApi;
use crate::grpc::reports::ClientReportApi;
use crate::health::Health;
use crate::health::reflection::OpenToAnonymous;
use crate::net;
use crate::proto::client_report_service_server::ClientReportServiceServer;
use crate::proto::client_status_service_server::ClientStatusServiceServer;
use crate::proto::status_catalog_service_server::StatusCatalogServiceServer;
use crate::store::Store;
use crate::store::postgres::PgStore;
use crate::store::sqlite::SqliteStore;
use crate::store::traced::Traced;
use crate::stream::Streams;
use crate::telemetry::{self, RpcLayer};

/// Requests compressed with gzip are accepted; answers are compressed when the caller asks.
macro_rules! gzip {
    ($server:expr) => {
        $server
            .accept_compressed(CompressionEncoding::Gzip)
            .send_compressed(CompressionEncoding::Gzip)
    };
}

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
    // Everything that can be checked without the database is, before migrations run.
    let edge = net::prepare(&config, listener.local_addr()?)?;
    let metrics = match config.metrics_listen {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .map_err(|e| format!("cannot serve metrics on {addr} (--metrics-listen): {e}"))?,
        ),
        None => None,
    };
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
    let url = crate::preflight::with_tls_default(&config.database_url);
    let url = url.as_str();
    crate::preflight::database(url).await?;
    if url.starts_with("sqlite:") {
        let store = Arc::new(SqliteStore::connect(url, clock.clone(), config.settings()).await?);
        tracing::info!(database = %config.database_for_logs(), "database ready");
        let traced = Arc::new(Traced::new(store.clone(), "sqlite"));
        let served = serve(
            traced,
            &config,
            clock,
            access,
            (listener, edge, metrics),
            shutdown,
        )
        .await;
        store.close().await;
        served
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        let store = Arc::new(PgStore::connect(url, clock.clone(), config.settings()).await?);
        tracing::info!(database = %config.database_for_logs(), "database ready");
        let traced = Arc::new(Traced::new(store.clone(), "postgresql"));
        let served = serve(
            traced,
            &config,
            clock,
            access,
            (listener, edge, metrics),
            shutdown,
        )
        .await;
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
    (listener, edge, metrics): (TcpListener, net::Edge, Option<TcpListener>),
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
    let health = Health::new(
        &[
            crate::proto::client_status_service_server::SERVICE_NAME,
            crate::proto::status_catalog_service_server::SERVICE_NAME,
            crate::proto::client_report_service_server::SERVICE_NAME,
        ],
        stop_watch.clone(),
    );
    let probe = tokio::spawn(health.clone().probe(store.clone()));
    let health_service = health.service();
    let relay = crate::relay::start(
        store.clone(),
        &config.database_url,
        &config.relay,
        stop_watch.clone(),
    )?;
    let shutdown = async move {
        shutdown.await;
        // NOT_SERVING before the connections are told to go away.
        health.stopping();
        let _ = stopping.send(true);
    };
    crate::grpc::status::set_error_domain(&config.edge.error_domain);
    let page_tokens = crate::grpc::page::PageTokens::new(config.edge.page_token_key.as_deref())?;
    let reflection = |health_only: bool| {
        let builder = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET);
        if health_only {
            builder
        } else {
            builder.register_encoded_file_descriptor_set(crate::proto::FILE_DESCRIPTOR_SET)
        }
    };
    let reflection_v1 =
        OpenToAnonymous::new(reflection(false).build_v1()?, reflection(true).build_v1()?);
    let reflection_v1alpha = OpenToAnonymous::new(
        reflection(false).build_v1alpha()?,
        reflection(true).build_v1alpha()?,
    );
    let metrics = metrics.map(|metrics_listener| {
        if let Ok(addr) = metrics_listener.local_addr() {
            tracing::info!(%addr, "metrics on /metrics");
        }
        tokio::spawn(telemetry::serve_metrics(metrics_listener))
    });
    let addr = listener.local_addr()?;
    tracing::info!(%addr, tls = edge.reload.is_some(), "clientstatus listening");
    let reload = edge
        .reload
        .map(|(tls, files)| tokio::spawn(tls.watch(files)));
    let incoming = net::incoming(listener, edge.settings);
    let server = Server::builder()
        // The window grows with the connection's bandwidth-delay product instead of staying at
        // 64 KiB; pings find peers that vanished without closing (a NAT dropping the flow).
        .http2_adaptive_window(Some(true))
        .http2_keepalive_interval(Some(std::time::Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(std::time::Duration::from_secs(10)))
        .max_concurrent_streams(config.max_streams_per_connection)
        .http2_max_header_list_size(net::MAX_HEADER_LIST_SIZE)
        // Browsers: gRPC-Web over HTTP/1.1, CORS, the dashboard's files (src/web/).
        .accept_http1(true)
        .layer(crate::web::WebLayer::new(config))
        .layer(RpcLayer)
        .layer(access)
        .layer(crate::grpc::framing::FramingLayer)
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(gzip!(StatusCatalogServiceServer::new(
            StatusCatalogApi::new(store.clone())
        )))
        .add_service(gzip!(ClientReportServiceServer::new(ClientReportApi::new(
            store.clone()
        ))))
        .add_service(gzip!(ClientStatusServiceServer::new(ClientStatusApi::new(
            store.clone(),
            Streams::start(store, stop_watch.clone()),
            page_tokens,
        ))))
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
    probe.abort();
    if let Some(reload) = reload {
        reload.abort();
    }
    if let Some(relay) = relay {
        relay.abort();
    }
    if let Some(metrics) = metrics {
        metrics.abort();
    }
    tracing::info!("clientstatus stopped");
    Ok(())
}
