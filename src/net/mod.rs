//! The network edge: the open-file limit, the accept loop (connection cap, handshake timeout,
//! accept backoff) and TLS. `startup` calls `prepare` and serves `incoming`.
use std::net::SocketAddr;
use std::time::Duration;

use crate::config::Config;

pub mod limits;
pub mod listener;
pub mod tls;

pub use listener::{Conn, ListenerSettings, incoming};
pub use tls::{TlsFiles, TlsSettings};

/// The largest request header block (metadata) a call may carry. A bigger decoded block fails
/// only its own call (HTTP 431, the stream refused); only an *encoded* block over this
/// ends the connection, which h2 does to bound the memory a peer can make it hold.
pub const MAX_HEADER_LIST_SIZE: u32 = 256 * 1024;

/// The TLS files named by the configuration, if any; an error when only some are given.
pub fn tls_files(config: &Config) -> Result<Option<TlsFiles>, String> {
    match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => Ok(Some(TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
            client_ca: config.tls_client_ca.clone(),
        })),
        (None, None) if config.tls_client_ca.is_some() => {
            Err("--tls-client-ca needs --tls-cert and --tls-key".into())
        }
        (None, None) => Ok(None),
        _ => Err("--tls-cert and --tls-key go together".into()),
    }
}

/// Bearer tokens must not cross a network in clear text: with a tokens file and an address
/// other machines can reach, TLS is required unless `--allow-plaintext` says the network is
/// trusted (a service mesh that encrypts for us).
pub fn check_plaintext(config: &Config, addr: SocketAddr, tls: bool) -> Result<(), String> {
    if config.tokens_file.is_some() && !addr.ip().is_loopback() && !tls && !config.allow_plaintext {
        return Err(format!(
            "refusing to serve bearer tokens in clear text on {addr}: give --tls-cert and \
             --tls-key, listen on loopback, or pass --allow-plaintext if the network is trusted"
        ));
    }
    Ok(())
}

/// Everything the accept loop needs, checked before the database is opened: the TLS files
/// (loaded, so a bad one stops the start), the plaintext rule, the open-file limit.
pub struct Edge {
    pub settings: ListenerSettings,
    /// Certificates to watch for reloads.
    pub reload: Option<(TlsSettings, TlsFiles)>,
}

pub fn prepare(config: &Config, addr: SocketAddr) -> Result<Edge, String> {
    let files = tls_files(config)?;
    let tls = files.as_ref().map(TlsSettings::load).transpose()?;
    check_plaintext(config, addr, tls.is_some())?;
    let open_files = limits::raise_open_files();
    let max_connections = limits::connection_cap(config.max_connections, open_files);
    if max_connections < config.max_connections as usize {
        tracing::warn!(
            max_connections,
            requested = config.max_connections,
            open_file_limit = open_files,
            "the open-file limit caps client connections below --max-connections"
        );
    }
    Ok(Edge {
        settings: ListenerSettings {
            max_connections,
            handshake_timeout: config
                .handshake_timeout
                .to_std()
                .unwrap_or(Duration::from_secs(10)),
            tls: tls.clone(),
        },
        reload: tls.zip(files),
    })
}
