//! The writer's connection: the shared SQL on `rusqlite`, run synchronously on the writer's own
//! thread. sqlx hands each statement to a worker thread and back, two thread wake-ups per
//! statement; on a busy machine those wake-ups, not SQLite, were most of a write's time. Here a
//! whole batch runs on the thread that holds the connection: every future of this `Conn` is
//! ready the first time it is polled.
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::types::{Value as Lv, ValueRef};
use serde::de::DeserializeOwned;

use crate::store::sql::{Conn, Dialect, Row, Sql, Value};
use crate::store::{Result, StoreError};

use super::conn::classify_code;

/// Prepared statements kept per connection: every statement the writer runs, with room.
const STATEMENT_CACHE: usize = 256;

pub struct LiteConn(rusqlite::Connection);

impl LiteConn {
    /// Opens the database file as the writer: WAL, `synchronous=FULL` (a commit is on disk
    /// before it returns), foreign keys on.
    pub fn open(path: &Path) -> Result<LiteConn> {
        let conn = rusqlite::Connection::open(path).map_err(classify)?;
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(classify)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(classify)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(classify)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(classify)?;
        // Freed space is zeroed: an erased client's data, and every earlier version of a row,
        // leaves the file instead of lingering in free pages (docs/card.md).
        conn.pragma_update(None, "secure_delete", "ON")
            .map_err(classify)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(LiteConn(conn))
    }

    /// Runs a statement without parameters (BEGIN, SAVEPOINT, COMMIT…).
    pub fn batch(&mut self, sql: &str) -> Result<()> {
        self.0.execute_batch(sql).map_err(classify)
    }

    fn prepared(&self, q: &Sql) -> Result<rusqlite::CachedStatement<'_>> {
        let mut stmt = self.0.prepare_cached(&q.text).map_err(classify)?;
        for (i, value) in q.args.iter().enumerate() {
            // By name: `$2` may appear before `$1` in a statement's text.
            let name = format!("${}", i + 1);
            let Some(index) = stmt.parameter_index(&name).map_err(classify)? else {
                continue; // a parameter the text does not use
            };
            stmt.raw_bind_parameter(index, to_sqlite(value)?)
                .map_err(classify)?;
        }
        Ok(stmt)
    }

    fn rows(&self, q: &Sql, limit: Option<usize>) -> Result<Vec<LiteRow>> {
        let mut stmt = self.prepared(q)?;
        let columns: Arc<[String]> = stmt.column_names().into_iter().map(String::from).collect();
        let mut rows = stmt.raw_query();
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(classify)? {
            let values = (0..columns.len())
                .map(|i| row.get::<_, Lv>(i))
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(classify)?;
            out.push(LiteRow {
                columns: columns.clone(),
                values,
            });
            if limit.is_some_and(|l| out.len() >= l) {
                break;
            }
        }
        Ok(out)
    }
}

fn to_sqlite(v: &Value) -> Result<Lv> {
    let json = |list: std::result::Result<String, serde_json::Error>| {
        list.map(Lv::Text)
            .map_err(|e| StoreError::internal_from("a list parameter", e))
    };
    Ok(match v {
        Value::I64(v) => v.map_or(Lv::Null, Lv::Integer),
        Value::I32(v) => Lv::Integer(i64::from(*v)),
        Value::Bool(v) => Lv::Integer(i64::from(*v)),
        Value::Text(v) => v.clone().map_or(Lv::Null, Lv::Text),
        Value::Json(v) => Lv::Text(v.clone()),
        Value::Bytes(v) => Lv::Blob(v.clone()),
        // One JSON array parameter, read back with json_each (see `Dialect::in_list`).
        Value::I64List(v) => json(serde_json::to_string(v))?,
        Value::TextList(v) => json(serde_json::to_string(v))?,
    })
}

impl Conn for LiteConn {
    type Row = LiteRow;
    const DIALECT: Dialect = Dialect::Sqlite;

    async fn execute(&mut self, q: Sql) -> Result<u64> {
        let mut stmt = self.prepared(&q)?;
        if stmt.column_count() == 0 {
            return stmt.raw_execute().map(|n| n as u64).map_err(classify);
        }
        // A statement that returns rows, run for its effect (a lock taken by a SELECT on other
        // databases): stepped to the end, changing nothing.
        let mut rows = stmt.raw_query();
        while rows.next().map_err(classify)?.is_some() {}
        Ok(0)
    }

    async fn fetch_all(&mut self, q: Sql) -> Result<Vec<LiteRow>> {
        self.rows(&q, None)
    }

    async fn fetch_optional(&mut self, q: Sql) -> Result<Option<LiteRow>> {
        Ok(self.rows(&q, Some(1))?.pop())
    }

    async fn lock_key(&mut self, _key: &str) -> Result<()> {
        // This connection is the only writer: every write transaction already takes turns.
        Ok(())
    }
}

/// A row read by the writer, its values owned.
pub struct LiteRow {
    columns: Arc<[String]>,
    values: Vec<Lv>,
}

impl LiteRow {
    fn value(&self, column: &str) -> Result<ValueRef<'_>> {
        self.columns
            .iter()
            .position(|c| c == column)
            .map(|i| ValueRef::from(&self.values[i]))
            .ok_or_else(|| StoreError::internal(format!("no column {column} in the row")))
    }

    fn get<T: rusqlite::types::FromSql>(&self, column: &str) -> Result<T> {
        T::column_result(self.value(column)?)
            .map_err(|e| StoreError::internal(format!("column {column}: {e}")))
    }
}

impl Row for LiteRow {
    fn i64(&self, column: &str) -> Result<i64> {
        self.get(column)
    }
    fn opt_i64(&self, column: &str) -> Result<Option<i64>> {
        self.get(column)
    }
    fn i32(&self, column: &str) -> Result<i32> {
        self.get(column)
    }
    fn bool(&self, column: &str) -> Result<bool> {
        self.get(column)
    }
    fn text(&self, column: &str) -> Result<String> {
        self.get(column)
    }
    fn opt_text(&self, column: &str) -> Result<Option<String>> {
        self.get(column)
    }
    fn bytes(&self, column: &str) -> Result<Vec<u8>> {
        self.get(column)
    }
    fn json<T: DeserializeOwned>(&self, column: &str) -> Result<T> {
        let text = match self.value(column)? {
            ValueRef::Text(t) | ValueRef::Blob(t) => t,
            _ => return Err(StoreError::internal(format!("column {column} is not JSON"))),
        };
        serde_json::from_slice(text)
            .map_err(|e| StoreError::internal_from(&format!("column {column}'s JSON"), e))
    }
}

/// SQLite's result codes, as `conn::classify_code` names them.
pub fn classify(e: rusqlite::Error) -> StoreError {
    let code = match &e {
        rusqlite::Error::SqliteFailure(failure, _) => Some(i64::from(failure.extended_code)),
        _ => None,
    };
    classify_code(code, e)
}
