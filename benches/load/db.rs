//! A fresh database per backend run: a SQLite file in a temporary directory, or a Postgres
//! database of its own (created, and dropped afterwards, on the server the URL names).
use sqlx::Connection;

use crate::Result;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "Postgres",
        }
    }
}

/// Databases this program creates on Postgres start with this, then the process id.
const PG_PREFIX: &str = "clientstatus_bench_";

pub struct BenchDb {
    pub backend: Backend,
    /// What the server is given as `--database-url`.
    pub url: String,
    /// Holds the SQLite file and the server logs; removed on drop.
    pub dir: tempfile::TempDir,
    /// Postgres: the maintenance URL and the database's name, to drop it at the end.
    postgres: Option<(String, String)>,
}

impl BenchDb {
    pub async fn create(backend: Backend, postgres_url: &str) -> Result<BenchDb> {
        let dir = tempfile::Builder::new()
            .prefix("clientstatus-bench-")
            .tempdir()?;
        match backend {
            Backend::Sqlite => Ok(BenchDb {
                backend,
                url: format!("sqlite:{}", dir.path().join("clients.db").display()),
                dir,
                postgres: None,
            }),
            Backend::Postgres => {
                let mut conn = sqlx::PgConnection::connect(postgres_url)
                    .await
                    .map_err(|e| format!("no Postgres at {postgres_url}: {e}"))?;
                sweep_leftovers(&mut conn).await;
                let name = format!("{PG_PREFIX}{}", std::process::id());
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn)
                    .await?;
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .await?;
                Ok(BenchDb {
                    backend,
                    url: with_database(postgres_url, &name)?,
                    dir,
                    postgres: Some((postgres_url.to_string(), name)),
                })
            }
        }
    }

    /// The size of the database on disk, in bytes.
    pub async fn size(&self) -> Result<u64> {
        match self.backend {
            Backend::Sqlite => {
                let mut total = 0;
                for entry in std::fs::read_dir(self.dir.path())? {
                    let entry = entry?;
                    if entry
                        .file_name()
                        .to_string_lossy()
                        .starts_with("clients.db")
                    {
                        total += entry.metadata()?.len();
                    }
                }
                Ok(total)
            }
            Backend::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&self.url).await?;
                let size: i64 = sqlx::query_scalar("SELECT pg_database_size(current_database())")
                    .fetch_one(&mut conn)
                    .await?;
                Ok(u64::try_from(size).unwrap_or_default())
            }
        }
    }

    /// Drops the Postgres database; the temporary directory goes with `self`.
    pub async fn remove(self) {
        if let Some((admin, name)) = &self.postgres {
            match sqlx::PgConnection::connect(admin).await {
                Ok(mut conn) => {
                    let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    if let Err(e) = sqlx::query(&drop).execute(&mut conn).await {
                        eprintln!("load: could not drop database {name}: {e}");
                    }
                }
                Err(e) => eprintln!("load: could not drop database {name}: {e}"),
            }
        }
    }
}

/// `url` with its database name replaced by `name` (query parameters kept).
fn with_database(url: &str, name: &str) -> Result<String> {
    let scheme_end = url.find("://").ok_or("the Postgres URL has no scheme")? + 3;
    let (base, query) = match url.find('?') {
        Some(q) => url.split_at(q),
        None => (url, ""),
    };
    let host_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    Ok(format!("{}/{name}{query}", &base[..host_end]))
}

/// Drops the databases of earlier runs whose process is gone (a run that was killed), so a
/// million-client database does not stay behind.
async fn sweep_leftovers(conn: &mut sqlx::PgConnection) {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT datname::text FROM pg_database WHERE datname LIKE 'clientstatus\\_bench\\_%'",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap_or_default();
    for name in names {
        let pid = name.trim_start_matches(PG_PREFIX);
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            let _ = sqlx::query(&drop).execute(&mut *conn).await;
        }
    }
}
