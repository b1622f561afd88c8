//! Postgres' side of the shared SQL: lists bound as arrays, JSON as `jsonb`, advisory locks, and
//! the SQLSTATEs that tell a retry apart from a fault of ours.
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use sqlx::Postgres;
use sqlx::postgres::{PgQueryResult, PgRow};
use sqlx::types::Json;

use crate::store::sql::driver::{Driver, Query};
use crate::store::sql::{Dialect, Value};
use crate::store::{Result, StoreError};

impl Driver for Postgres {
    const DIALECT: Dialect = Dialect::Postgres;
    /// Transaction-scoped: other transactions naming the key wait until this one ends.
    const LOCK_KEY: Option<&'static str> =
        Some("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))");

    fn bind(q: Query<'_, Postgres>, v: Value) -> Result<Query<'_, Postgres>> {
        Ok(match v {
            Value::I64(v) => q.bind(v),
            Value::I32(v) => q.bind(v),
            Value::Bool(v) => q.bind(v),
            Value::Text(v) => q.bind(v),
            Value::Bytes(v) => q.bind(v),
            // Sent as jsonb, as it was serialised: no second parse on our side.
            Value::Json(v) => q
                .bind(Json(RawValue::from_string(v).map_err(|e| {
                    StoreError::internal_from("a JSON parameter is not JSON", e)
                })?)),
            Value::I64List(v) => q.bind(v),
            Value::TextList(v) => q.bind(v),
        })
    }

    fn classify(e: sqlx::Error) -> StoreError {
        classify(e)
    }

    fn rows_affected(done: &PgQueryResult) -> u64 {
        done.rows_affected()
    }

    fn json<T: DeserializeOwned>(row: &PgRow, column: &str) -> Result<T> {
        sqlx::Row::try_get::<Json<T>, _>(row, column)
            .map(|j| j.0)
            .map_err(|e| StoreError::internal_from("reading a JSON column", e))
    }
}

/// SQLSTATEs that matter here.
mod sqlstate {
    pub const SERIALIZATION_FAILURE: &str = "40001";
    pub const DEADLOCK_DETECTED: &str = "40P01";
    pub const UNIQUE_VIOLATION: &str = "23505";
    pub const FOREIGN_KEY_VIOLATION: &str = "23503";
    pub const READ_ONLY_TRANSACTION: &str = "25006";
    pub const DISK_FULL: &str = "53100";
    /// Classes: connection exceptions, insufficient resources, operator intervention
    /// (shutdown, starting up).
    pub const CONNECTION_EXCEPTION: &str = "08";
    pub const INSUFFICIENT_RESOURCES: &str = "53";
    pub const OPERATOR_INTERVENTION: &str = "57P";
}

/// Connection trouble becomes `Unavailable`, a full disk `StorageFull`, collisions `Conflict`
/// (run again), the rest ours.
pub fn classify(e: sqlx::Error) -> StoreError {
    use sqlstate::*;
    let code = match &e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => return StoreError::Unavailable(e.into()),
        sqlx::Error::Database(db) => db.code().map(|c| c.into_owned()).unwrap_or_default(),
        _ => return StoreError::Internal(e.into()),
    };
    match code.as_str() {
        // A racing insert, or a catalogue entry deleted while a writer assigned it: run again.
        SERIALIZATION_FAILURE | DEADLOCK_DETECTED | UNIQUE_VIOLATION | FOREIGN_KEY_VIOLATION => {
            StoreError::Conflict(e.into())
        }
        DISK_FULL => StoreError::StorageFull(e.into()),
        // A standby during failover answers read-only.
        READ_ONLY_TRANSACTION => StoreError::Unavailable(e.into()),
        c if c.starts_with(CONNECTION_EXCEPTION)
            || c.starts_with(INSUFFICIENT_RESOURCES)
            || c.starts_with(OPERATOR_INTERVENTION) =>
        {
            StoreError::Unavailable(e.into())
        }
        _ => StoreError::Internal(e.into()),
    }
}
