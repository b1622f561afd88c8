//! SQLite's side of the shared SQL: lists bound as one JSON array, JSON documents as text, and
//! the result codes that tell a caller's retry apart from a fault of ours.
use serde::de::DeserializeOwned;
use sqlx::Sqlite;
use sqlx::sqlite::{SqliteQueryResult, SqliteRow};
use sqlx::types::Json;

use crate::store::sql::driver::{Driver, Query};
use crate::store::sql::{Dialect, Value};
use crate::store::{Result, StoreError};

impl Driver for Sqlite {
    const DIALECT: Dialect = Dialect::Sqlite;
    // The single writer connection already serialises every write transaction.
    const LOCK_KEY: Option<&'static str> = None;

    fn bind(q: Query<'_, Sqlite>, v: Value) -> Result<Query<'_, Sqlite>> {
        Ok(match v {
            Value::I64(v) => q.bind(v),
            Value::I32(v) => q.bind(v),
            Value::Bool(v) => q.bind(v),
            Value::Text(v) => q.bind(v),
            Value::Json(v) => q.bind(v),
            Value::Bytes(v) => q.bind(v),
            // One JSON array parameter, read back with json_each (see `Dialect::in_list`).
            Value::I64List(v) => q.bind(Json(v)),
            Value::TextList(v) => q.bind(Json(v)),
        })
    }

    fn classify(e: sqlx::Error) -> StoreError {
        classify(e)
    }

    fn rows_affected(done: &SqliteQueryResult) -> u64 {
        done.rows_affected()
    }

    fn json<T: DeserializeOwned>(row: &SqliteRow, column: &str) -> Result<T> {
        sqlx::Row::try_get::<Json<T>, _>(row, column)
            .map(|j| j.0)
            .map_err(|e| StoreError::internal_from("reading a JSON column", e))
    }
}

/// SQLite's primary result codes (the low byte of an extended code) that matter here.
mod code {
    pub const BUSY: i64 = 5;
    pub const LOCKED: i64 = 6;
    pub const NOMEM: i64 = 7;
    pub const READONLY: i64 = 8;
    pub const IOERR: i64 = 10;
    pub const FULL: i64 = 13;
    pub const CANTOPEN: i64 = 14;
    pub const CONSTRAINT: i64 = 19;
}

/// A sqlx error by its SQLite result code (see `classify_code`).
pub fn classify(e: sqlx::Error) -> StoreError {
    let code = match &e {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => return StoreError::Unavailable(e.into()),
        sqlx::Error::Database(db) => db.code().and_then(|c| c.parse::<i64>().ok()),
        _ => None,
    };
    classify_code(code, e)
}

/// A full disk is `StorageFull`; faults the caller can retry become `Unavailable`; a
/// constraint a concurrent change broke is a `Conflict`; the rest are ours. `code` is SQLite's
/// (extended) result code, when the error has one.
pub fn classify_code(
    code: Option<i64>,
    e: impl std::error::Error + Send + Sync + 'static,
) -> StoreError {
    match code.map(|c| c & 0xff) {
        Some(code::FULL) => StoreError::StorageFull(e.into()),
        Some(
            code::BUSY | code::LOCKED | code::NOMEM | code::READONLY | code::IOERR | code::CANTOPEN,
        ) => StoreError::Unavailable(e.into()),
        Some(code::CONSTRAINT) => StoreError::Conflict(e.into()),
        _ => StoreError::Internal(e.into()),
    }
}
