//! Checks run before the database is opened (and so before migrations), so that a start-up
//! failure names what failed: the SQLite file and why it cannot be opened, the Postgres host
//! that does not answer.
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A Postgres URL that names no `sslmode` (and no PGSSLMODE in the environment) gets
/// `sslmode=disable`: TLS to the database when the URL asks for it (`require`, `verify-ca`,
/// `verify-full`, `prefer`), and otherwise the plain connection this server always made.
/// `prefer` would first ask every server for TLS, and a proxy that hangs up on that question
/// reads as a protocol error instead of an unreachable database.
pub fn with_tls_default(url: &str) -> String {
    let postgres = url.starts_with("postgres:") || url.starts_with("postgresql:");
    let query = url.split_once('?').map_or("", |(_, q)| q);
    let named = query.split('&').any(|pair| pair.starts_with("sslmode="));
    if !postgres || named || std::env::var_os("PGSSLMODE").is_some() {
        return url.to_string();
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}sslmode=disable")
}

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
    } else if (url.starts_with("postgres:") || url.starts_with("postgresql:"))
        && let Ok(options) = PgConnectOptions::from_str(url)
    {
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

#[cfg(test)]
mod tests {
    use super::with_tls_default;

    #[test]
    fn postgres_tls_is_what_the_url_asks_for() {
        assert_eq!(
            with_tls_default("postgres://db/crm"),
            "postgres://db/crm?sslmode=disable"
        );
        assert_eq!(
            with_tls_default("postgres://db/crm?application_name=x"),
            "postgres://db/crm?application_name=x&sslmode=disable"
        );
        assert_eq!(
            with_tls_default("postgres://db/crm?sslmode=verify-full"),
            "postgres://db/crm?sslmode=verify-full"
        );
        assert_eq!(with_tls_default("sqlite:c.db"), "sqlite:c.db");
    }
}
