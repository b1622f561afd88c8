//! The browser's way in, on the gRPC port: gRPC-Web (tonic-web) for every service, CORS for
//! pages served from other origins, and the built-in dashboard's files under `/dashboard/`.
//!
//! `WebLayer` goes outside the per-RPC and access layers, so a gRPC-Web call reaches them, and
//! the services, as the gRPC call it translates to: the same span, metrics, tokens and roles.
//! The server must accept HTTP/1.1 (`accept_http1`): browsers speak gRPC-Web over it.
mod cors;
mod pages;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tonic::body::Body;
use tonic::codegen::http::{self, header};
use tonic_web::{GrpcWebLayer, GrpcWebService};
use tower::{Layer, Service};
use tower_http::cors::{Cors, CorsLayer};

use crate::config::Config;

pub use cors::parse_origin;

/// Pages, then CORS, then gRPC-Web translation, in front of the gRPC server's services.
#[derive(Debug, Clone)]
pub struct WebLayer {
    cors: CorsLayer,
    dashboard: bool,
}

impl WebLayer {
    pub fn new(config: &Config) -> WebLayer {
        if config.dashboard {
            tracing::info!("dashboard on /dashboard/");
        }
        WebLayer {
            cors: cors::layer(&config.cors_allowed_origins),
            dashboard: config.dashboard,
        }
    }
}

impl<S> Layer<S> for WebLayer {
    type Service = Web<S>;

    fn layer(&self, inner: S) -> Web<S> {
        Web {
            dashboard: self.dashboard,
            inner: self.cors.layer(GrpcWebLayer::new().layer(inner)),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Web<S> {
    dashboard: bool,
    inner: Cors<GrpcWebService<S>>,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S, B, E> Service<http::Request<B>> for Web<S>
where
    GrpcWebService<S>: Service<http::Request<B>, Response = http::Response<Body>, Error = E>,
    Cors<GrpcWebService<S>>: Service<http::Request<B>, Response = http::Response<Body>, Error = E>,
    <GrpcWebService<S> as Service<http::Request<B>>>::Future: Send + 'static,
    <Cors<GrpcWebService<S>> as Service<http::Request<B>>>::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = E;
    type Future = BoxFuture<Self::Response, E>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), E>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if self.dashboard
            && let Some(page) = pages::answer(&request)
        {
            return Box::pin(async move { Ok(page) });
        }
        // Only browsers send `Origin`: other callers' answers carry no CORS headers.
        if request.headers().contains_key(header::ORIGIN) {
            Box::pin(self.inner.call(request))
        } else {
            Box::pin(self.inner.get_mut().call(request))
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{CliCommand, Config, load};

    fn serve(args: &[&str]) -> Result<Config, String> {
        let args = ["clientstatus", "serve"].iter().chain(args);
        let CliCommand::Serve(config) = load(args).map_err(|e| e.to_string())?.command;
        Ok(config)
    }

    #[test]
    fn allowed_origins_are_a_comma_separated_list_and_none_by_default() {
        assert!(
            serve(&[])
                .expect("defaults")
                .cors_allowed_origins
                .is_empty()
        );
        let config = serve(&[
            "--cors-allowed-origins",
            "https://crm.example.com/,http://localhost:5173",
        ])
        .expect("origins");
        assert_eq!(
            config.cors_allowed_origins,
            ["https://crm.example.com", "http://localhost:5173"]
        );
        let err = serve(&["--cors-allowed-origins", "*"]).expect_err("wildcard");
        assert!(err.contains("no wildcard"), "{err}");
    }

    #[test]
    fn a_settings_file_lists_origins_and_turns_the_dashboard_off() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("clientstatus.toml");
        std::fs::write(
            &path,
            "cors_allowed_origins = \"https://a.example,https://b.example\"\ndashboard = false\n",
        )
        .expect("write");
        let config = serve(&["--config", &path.display().to_string()]).expect("file");
        assert_eq!(
            config.cors_allowed_origins,
            ["https://a.example", "https://b.example"]
        );
        assert!(!config.dashboard);
        assert!(serve(&[]).expect("defaults").dashboard, "on by default");
    }
}
