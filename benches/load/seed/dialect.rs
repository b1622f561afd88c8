//! What differs between SQLite and Postgres for seeding: the connection, the number source,
//! JSON patching, time formatting, catalogue introspection and the bulk-load settings.
use std::str::FromStr;

use sqlx::Connection;
use sqlx::Row;
use sqlx::postgres::PgConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};

use crate::Result;
use crate::db::{Backend, BenchDb};

pub enum Conn {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

impl Conn {
    pub async fn open(db: &BenchDb) -> Result<Conn> {
        Ok(match db.backend {
            Backend::Sqlite => {
                let options = SqliteConnectOptions::from_str(&db.url)?;
                Conn::Sqlite(SqliteConnection::connect_with(&options).await?)
            }
            Backend::Postgres => Conn::Postgres(PgConnection::connect(&db.url).await?),
        })
    }

    pub fn backend(&self) -> Backend {
        match self {
            Conn::Sqlite(_) => Backend::Sqlite,
            Conn::Postgres(_) => Backend::Postgres,
        }
    }

    /// Runs one statement; the rows it changed.
    pub async fn execute(&mut self, sql: &str) -> Result<u64> {
        let done = match self {
            Conn::Sqlite(c) => sqlx::query(sql).execute(c).await?.rows_affected(),
            Conn::Postgres(c) => sqlx::query(sql).execute(c).await?.rows_affected(),
        };
        Ok(done)
    }

    /// The first column of the first row, as an integer (NULL: 0).
    pub async fn integer(&mut self, sql: &str) -> Result<i64> {
        let v: Option<i64> = match self {
            Conn::Sqlite(c) => sqlx::query_scalar(sql).fetch_one(c).await?,
            Conn::Postgres(c) => sqlx::query_scalar(sql).fetch_one(c).await?,
        };
        Ok(v.unwrap_or_default())
    }

    /// Rows of two text columns.
    pub async fn pairs(&mut self, sql: &str) -> Result<Vec<(String, String)>> {
        Ok(match self {
            Conn::Sqlite(c) => sqlx::query(sql)
                .fetch_all(c)
                .await?
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect::<std::result::Result<_, sqlx::Error>>()?,
            Conn::Postgres(c) => sqlx::query(sql)
                .fetch_all(c)
                .await?
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect::<std::result::Result<_, sqlx::Error>>()?,
        })
    }

    /// The table's columns, in order.
    pub async fn columns(&mut self, table: &str) -> Result<Vec<String>> {
        let sql = match self.backend() {
            Backend::Sqlite => {
                format!("SELECT name, type FROM pragma_table_info('{table}') ORDER BY cid")
            }
            Backend::Postgres => format!(
                "SELECT column_name::text, data_type::text FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = '{table}' \
                 ORDER BY ordinal_position"
            ),
        };
        Ok(self
            .pairs(&sql)
            .await?
            .into_iter()
            .map(|(name, _)| name)
            .collect())
    }

    /// The table's secondary indexes (name, definition): the ones that are no constraint, so
    /// they can be dropped before a bulk load and built once after it.
    pub async fn secondary_indexes(&mut self, table: &str) -> Result<Vec<(String, String)>> {
        let sql = match self.backend() {
            Backend::Sqlite => format!(
                "SELECT name, sql FROM sqlite_master \
                 WHERE type = 'index' AND tbl_name = '{table}' AND sql IS NOT NULL"
            ),
            Backend::Postgres => format!(
                "SELECT indexname::text, indexdef::text FROM pg_indexes \
                 WHERE schemaname = current_schema() AND tablename = '{table}' \
                   AND indexname NOT IN (SELECT conname FROM pg_constraint \
                                         WHERE conrelid = '{table}'::regclass)"
            ),
        };
        self.pairs(&sql).await
    }

    /// Bulk-load settings for this connection only. SQLite: a rollback journal instead of the
    /// WAL (the WAL would hold every new page once more) and no fsync; the server opens the
    /// file in WAL mode again. Postgres: no wait for the WAL flush, memory for index builds,
    /// no foreign-key triggers.
    pub async fn bulk_mode(&mut self) -> Result<()> {
        let statements: &[&str] = match self.backend() {
            Backend::Sqlite => &[
                "PRAGMA journal_mode = DELETE",
                "PRAGMA synchronous = OFF",
                "PRAGMA cache_size = -262144",
                "PRAGMA temp_store = MEMORY",
            ],
            Backend::Postgres => &[
                "SET synchronous_commit = off",
                "SET maintenance_work_mem = '256MB'",
                "SET work_mem = '64MB'",
            ],
        };
        for s in statements {
            self.execute(s).await?;
        }
        if self.backend() == Backend::Postgres {
            // Foreign-key checks off for this session: a copy references exactly what its
            // template does (catalogue entries, stream rows' clients), all of which exist. Only
            // a superuser may; without it the load runs with the checks, just slower.
            if let Err(e) = self.execute("SET session_replication_role = replica").await {
                println!("    foreign-key checks stay on during the load ({e})");
            }
        }
        Ok(())
    }

    /// Back to what the service expects, with statistics for the planner where the service's
    /// database would have them: Postgres analyses a table after a bulk change by itself
    /// (autovacuum); SQLite keeps no statistics unless told, and the service never tells it.
    pub async fn finish(&mut self, tables: &[&str]) -> Result<()> {
        match self.backend() {
            Backend::Sqlite => {
                self.execute("PRAGMA journal_mode = WAL").await?;
            }
            Backend::Postgres => {
                for table in tables {
                    self.execute(&format!("ANALYZE {table}")).await?;
                }
            }
        }
        Ok(())
    }

    /// The integers `lo..=hi` as a row source `n(i)`.
    pub fn numbers(&self, lo: i64, hi: i64) -> String {
        match self.backend() {
            Backend::Sqlite => format!(
                "(WITH RECURSIVE s(i) AS (SELECT {lo} UNION ALL SELECT i + 1 FROM s WHERE i < {hi}) \
                 SELECT i FROM s) AS n"
            ),
            Backend::Postgres => format!("generate_series({lo}::bigint, {hi}::bigint) AS n(i)"),
        }
    }

    /// `json` with the top-level keys set to the values (SQL expressions).
    pub fn json_set(&self, json: &str, values: &[(&str, String)]) -> String {
        match self.backend() {
            Backend::Sqlite => {
                let pairs: Vec<String> = values
                    .iter()
                    .map(|(k, v)| format!("'$.{k}', {v}"))
                    .collect();
                format!("json_set({json}, {})", pairs.join(", "))
            }
            Backend::Postgres => {
                let pairs: Vec<String> =
                    values.iter().map(|(k, v)| format!("'{k}', {v}")).collect();
                format!("({json} || jsonb_build_object({}))", pairs.join(", "))
            }
        }
    }

    /// Whole seconds since the epoch as the service's JSON writes a time with no fraction:
    /// RFC 3339 in UTC, `2026-03-01T09:30:00Z`.
    pub fn rfc3339(&self, seconds: &str) -> String {
        match self.backend() {
            Backend::Sqlite => format!("strftime('%Y-%m-%dT%H:%M:%SZ', {seconds}, 'unixepoch')"),
            Backend::Postgres => format!(
                "to_char(to_timestamp({seconds}) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
            ),
        }
    }

    /// What lets an INSERT name values for an identity column (Postgres `GENERATED ALWAYS`).
    pub fn overriding(&self) -> &'static str {
        match self.backend() {
            Backend::Sqlite => "",
            Backend::Postgres => "OVERRIDING SYSTEM VALUE",
        }
    }

    /// Makes the next client number follow the highest one inserted by hand.
    pub async fn advance_client_numbers(&mut self) -> Result<()> {
        let sql = match self.backend() {
            // AUTOINCREMENT keeps the highest number ever used in sqlite_sequence.
            Backend::Sqlite => {
                "UPDATE sqlite_sequence SET seq = max(seq, (SELECT max(client_id) FROM clients)) \
                 WHERE name = 'clients'"
            }
            Backend::Postgres => {
                "SELECT setval(pg_get_serial_sequence('clients', 'client_id'), \
                 (SELECT max(client_id) FROM clients))"
            }
        };
        self.execute(sql).await?;
        Ok(())
    }
}
