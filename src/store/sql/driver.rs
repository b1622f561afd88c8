//! The glue between the shared SQL and sqlx, once for both drivers: running a [`Sql`] on a
//! connection and reading its rows. What a driver does its own way (binding a list or a JSON
//! document, its error codes, holding a key) is its [`Driver`] impl, in the backend's module.
use std::ops::DerefMut;

use serde::de::DeserializeOwned;
use sqlx::{Database, IntoArguments};

use super::{Conn, Dialect, Row, Sql, Value};
use crate::store::{Result, StoreError};

pub type Query<'q, D> = sqlx::query::Query<'q, D, <D as Database>::Arguments<'q>>;

/// What differs between the sqlx drivers.
pub trait Driver: Database + sqlx::database::HasStatementCache {
    const DIALECT: Dialect;
    /// A statement holding the key `$1` until the transaction ends, where the database needs
    /// one to serialise writers (several processes on Postgres); `None` where one writer
    /// connection already does.
    const LOCK_KEY: Option<&'static str>;

    fn bind(q: Query<'_, Self>, v: Value) -> Result<Query<'_, Self>>;
    fn classify(e: sqlx::Error) -> StoreError;
    fn rows_affected(done: &Self::QueryResult) -> u64;
    fn json<T: DeserializeOwned>(row: &Self::Row, column: &str) -> Result<T>;
}

/// A connection of any [`Driver`]: a pooled one, the writer's, or a transaction.
pub struct Db<C>(pub C);

fn query<D: Driver>(q: &mut Sql) -> Result<Query<'_, D>>
where
    for<'q> D::Arguments<'q>: IntoArguments<'q, D>,
{
    let args = std::mem::take(&mut q.args);
    let query = sqlx::query(q.text.as_str()).persistent(!q.one_off);
    args.into_iter()
        .try_fold(query, |query, v| D::bind(query, v))
}

impl<C, D> Conn for Db<C>
where
    C: DerefMut + Send,
    C::Target: sqlx::Connection<Database = D>,
    D: Driver,
    for<'c> &'c mut C::Target: sqlx::Executor<'c, Database = D>,
    for<'q> D::Arguments<'q>: IntoArguments<'q, D> + Send,
    D::Row: Row,
{
    type Row = D::Row;
    const DIALECT: Dialect = D::DIALECT;

    async fn execute(&mut self, mut q: Sql) -> Result<u64> {
        use sqlx::Executor;
        let done = (&mut *self.0)
            .execute(query::<D>(&mut q)?)
            .await
            .map_err(D::classify)?;
        Ok(D::rows_affected(&done))
    }

    async fn fetch_all(&mut self, mut q: Sql) -> Result<Vec<D::Row>> {
        use sqlx::Executor;
        (&mut *self.0)
            .fetch_all(query::<D>(&mut q)?)
            .await
            .map_err(D::classify)
    }

    async fn fetch_optional(&mut self, mut q: Sql) -> Result<Option<D::Row>> {
        use sqlx::Executor;
        (&mut *self.0)
            .fetch_optional(query::<D>(&mut q)?)
            .await
            .map_err(D::classify)
    }

    async fn lock_key(&mut self, key: &str) -> Result<()> {
        match D::LOCK_KEY {
            Some(sql) => self.execute(Sql::new(sql).arg(key)).await.map(drop),
            None => Ok(()),
        }
    }
}

fn get<'r, R, T>(row: &'r R, column: &str) -> Result<T>
where
    R: sqlx::Row,
    T: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'a> &'a str: sqlx::ColumnIndex<R>,
{
    row.try_get(column)
        .map_err(|e| StoreError::internal_from("reading a row", e))
}

impl<R, D> Row for R
where
    R: sqlx::Row<Database = D>,
    D: Driver<Row = R>,
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'r> i64: sqlx::Decode<'r, D>,
    i64: sqlx::Type<D>,
    for<'r> i32: sqlx::Decode<'r, D>,
    i32: sqlx::Type<D>,
    for<'r> bool: sqlx::Decode<'r, D>,
    bool: sqlx::Type<D>,
    for<'r> String: sqlx::Decode<'r, D>,
    String: sqlx::Type<D>,
    for<'r> Vec<u8>: sqlx::Decode<'r, D>,
    Vec<u8>: sqlx::Type<D>,
{
    fn i64(&self, column: &str) -> Result<i64> {
        get(self, column)
    }
    fn opt_i64(&self, column: &str) -> Result<Option<i64>> {
        get(self, column)
    }
    fn i32(&self, column: &str) -> Result<i32> {
        get(self, column)
    }
    fn bool(&self, column: &str) -> Result<bool> {
        get(self, column)
    }
    fn text(&self, column: &str) -> Result<String> {
        get(self, column)
    }
    fn opt_text(&self, column: &str) -> Result<Option<String>> {
        get(self, column)
    }
    fn bytes(&self, column: &str) -> Result<Vec<u8>> {
        get(self, column)
    }
    fn json<T: DeserializeOwned>(&self, column: &str) -> Result<T> {
        D::json(self, column)
    }
}
