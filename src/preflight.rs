//! Checks run before the database is opened (and so before migrations), so that a start-up
//! failure names what failed: the SQLite file and why it cannot be opened, the Postgres host
//! that does not answer.
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// `Err` names the file or host and the reason (permission denied, connection refused…).
pub async fn database(url: &str) -> Result<(), String> {
    if url.starts_with("sqlite:") {
        let Ok(options) = SqliteConnectOptions::from_str(url) else {
            return Ok(()); // the store reports a bad URL itself
        };
        let path = options.get_filename();
        if path.as_os_str() == ":memory:" {
            return Ok(());
        }
        // What SQLite will do: open the file for writing, creating it if missing.
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| format!("cannot open the SQLite database {}: {e}", path.display()))?;
    } else if let Ok(options) = PgConnectOptions::from_str(url) {
        let (host, port) = (options.get_host().to_string(), options.get_port());
        if host.starts_with('/') {
            return Ok(()); // a Unix socket directory: sqlx reports it
        }
        let reached = tokio::time::timeout(
            CONNECT_TIMEOUT,
            tokio::net::TcpStream::connect((host.as_str(), port)),
        )
        .await;
        match reached {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(format!("cannot reach Postgres at {host}:{port}: {e}")),
            Err(_) => {
                return Err(format!(
                    "cannot reach Postgres at {host}:{port}: no answer within {CONNECT_TIMEOUT:?}"
                ));
            }
        }
    }
    Ok(())
}
