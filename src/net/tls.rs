//! gRPC over TLS with certificates that can be replaced while the server runs. Each new
//! connection takes the configuration current when it arrives; connections already open keep
//! the one they started with, so a reload drops nothing. The files are read again on SIGHUP
//! and when their size or modification time changes (checked every second).
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpStream;
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{self, RootCertStore, ServerConfig};
use tokio_rustls::{Accept, TlsAcceptor};

const CHECK_EVERY: Duration = Duration::from_secs(1);

/// Where the PEM files are.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Client certificates must chain to one of these (mutual TLS); unset: no client cert.
    pub client_ca: Option<PathBuf>,
}

/// The configuration new connections use, swapped as a whole on reload.
#[derive(Clone)]
pub struct TlsSettings {
    current: Arc<RwLock<Arc<ServerConfig>>>,
}

impl TlsSettings {
    /// Reads the files; an error names the file that could not be used.
    pub fn load(files: &TlsFiles) -> Result<TlsSettings, String> {
        Ok(TlsSettings {
            current: Arc::new(RwLock::new(Arc::new(server_config(files)?))),
        })
    }

    pub fn accept(&self, tcp: TcpStream) -> Accept<TcpStream> {
        let config = self
            .current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        TlsAcceptor::from(config).accept(tcp)
    }

    /// Reloads on SIGHUP and when the files change, until the task is dropped. A file that
    /// cannot be used is logged and the previous certificates stay in force. The SIGHUP handler
    /// is in place when this returns (before the task first runs): a SIGHUP never kills us.
    pub fn watch(self, files: TlsFiles) -> impl std::future::Future<Output = ()> + Send {
        let mut hangup =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        async move {
            let mut seen = stamps(&files);
            loop {
                let signalled = async {
                    match hangup.as_mut() {
                        Some(s) => s.recv().await.is_some(),
                        None => std::future::pending().await,
                    }
                };
                let reason = tokio::select! {
                    true = signalled => "SIGHUP",
                    () = tokio::time::sleep(CHECK_EVERY) => {
                        let now = stamps(&files);
                        if now == seen {
                            continue;
                        }
                        seen = now;
                        "the files changed"
                    }
                };
                self.reload(&files, reason);
            }
        }
    }

    fn reload(&self, files: &TlsFiles, reason: &str) {
        match server_config(files) {
            Ok(config) => {
                *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(config);
                tracing::info!(cert = %files.cert.display(), reason, "TLS certificates reloaded");
            }
            Err(e) => {
                tracing::error!(error = %e, reason, "TLS reload failed; keeping the certificates in use")
            }
        }
    }
}

/// Size and modification time of each file: a change in either means a new file.
fn stamps(files: &TlsFiles) -> Vec<Option<(u64, SystemTime)>> {
    [
        Some(&files.cert),
        Some(&files.key),
        files.client_ca.as_ref(),
    ]
    .into_iter()
    .flatten()
    .map(|p| {
        let meta = std::fs::metadata(p).ok()?;
        Some((meta.len(), meta.modified().ok()?))
    })
    .collect()
}

fn server_config(files: &TlsFiles) -> Result<ServerConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?;
    let builder = match &files.client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for cert in certificates(ca)? {
                roots
                    .add(cert)
                    .map_err(|e| format!("--tls-client-ca {}: {e}", ca.display()))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| format!("--tls-client-ca {}: {e}", ca.display()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| format!("--tls-key {}: {e}", files.key.display()))?;
    let mut config = builder
        .with_single_cert(certificates(&files.cert)?, key)
        .map_err(|e| {
            format!(
                "--tls-cert {} with --tls-key {}: {e}",
                files.cert.display(),
                files.key.display()
            )
        })?;
    // gRPC clients insist on HTTP/2 being negotiated.
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no PEM certificate in it", path.display()));
    }
    Ok(certs)
}
