use tokio::net::TcpListener;

use clientstatus::config::{self, CliCommand};
use clientstatus::startup;
use clientstatus::telemetry::Tracing;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let CliCommand::Serve(config) = match config::load(std::env::args_os()) {
        Ok(cli) => cli.command,
        Err(e) => e.exit(),
    };
    let tracing = match Tracing::init(&config) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("clientstatus: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    // Passwords are masked; tokens are only ever a file's path.
    tracing::info!(settings = %config.settings_for_logs(), "starting");
    let code = serve(config).await;
    tracing.shutdown().await;
    code
}

async fn serve(config: config::Config) -> std::process::ExitCode {
    let listen = config.effective_listen();
    if listen != config.listen {
        tracing::warn!(
            requested = %config.listen,
            %listen,
            "no credentials configured (--tokens-file): listening on loopback only"
        );
    }
    let listener = match TcpListener::bind(listen).await {
        Ok(l) => l,
        Err(e) => {
            let e = format!("cannot listen on {listen} (--listen): {e}");
            tracing::error!(error = %e, "clientstatus failed to start");
            eprintln!("clientstatus: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match startup::run(config, listener, shutdown_signal()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "clientstatus failed");
            // Logs may go to a collector; whoever started the process reads stderr.
            eprintln!("clientstatus: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// SIGINT or SIGTERM: stop accepting, let in-flight calls finish.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received; draining");
}
