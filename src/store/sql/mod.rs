//! The store's SQL, written once for both databases. Queries use `$N` placeholders, which SQLite
//! accepts too, and bind [`Value`]s; a backend supplies a [`Conn`] that binds them with its own
//! types and decodes its rows through [`Row`]. The few places where the dialects differ (a list
//! parameter, row locks) are [`Dialect`] methods, so the text a query sends is still read here.
use std::future::Future;

use serde::de::DeserializeOwned;

use super::Result;

pub mod card;
pub mod catalog_write;
pub mod driver;
pub mod read;
pub mod store;
pub mod stream_write;
pub mod timeline;
pub mod timeline_write;
pub mod write;

/// Which database a connection speaks, for the few strings the dialects spell differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// ` AND column IN (…list…)`: Postgres binds an array; SQLite a JSON array read with
    /// `json_each`, so a list is one parameter whatever its length (no variable limit).
    pub fn in_list(self, column: &str, n: usize) -> String {
        match self {
            Dialect::Postgres => format!(" AND {column} = ANY(${n})"),
            Dialect::Sqlite => format!(" AND {column} IN (SELECT value FROM json_each(${n}))"),
        }
    }

    /// Row locks taken by a `SELECT`: Postgres locks the rows until the transaction ends; on
    /// SQLite the single writer connection already serialises every write.
    pub fn for_update(self) -> &'static str {
        match self {
            Dialect::Postgres => " FOR UPDATE",
            Dialect::Sqlite => "",
        }
    }

    /// Like `for_update`, skipping rows another transaction holds (replicas share work out).
    pub fn for_update_skip_locked(self) -> &'static str {
        match self {
            Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
            Dialect::Sqlite => "",
        }
    }
}

/// A bound parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    I64(Option<i64>),
    I32(i32),
    Bool(bool),
    Text(Option<String>),
    Bytes(Vec<u8>),
    /// A JSON document (a `jsonb` column on Postgres, `TEXT` on SQLite), already serialised.
    Json(String),
    I64List(Vec<i64>),
    TextList(Vec<String>),
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::I64(Some(v))
    }
}

impl From<Option<i64>> for Value {
    fn from(v: Option<i64>) -> Self {
        Value::I64(v)
    }
}

impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Value::I32(v)
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(Some(v.to_string()))
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(Some(v))
    }
}

impl From<Option<String>> for Value {
    fn from(v: Option<String>) -> Self {
        Value::Text(v)
    }
}

impl From<&[u8]> for Value {
    fn from(v: &[u8]) -> Self {
        Value::Bytes(v.to_vec())
    }
}

/// A statement and its parameters, in placeholder order.
#[derive(Debug, Clone, PartialEq)]
pub struct Sql {
    pub text: String,
    pub args: Vec<Value>,
    /// Planned for its own values each time, not kept as a prepared statement: for queries
    /// whose best plan depends on the values (Postgres would otherwise settle on one generic
    /// plan for every value, e.g. walking the primary key for a status no client holds).
    pub one_off: bool,
}

impl Sql {
    pub fn new(text: impl Into<String>) -> Sql {
        Sql {
            text: text.into(),
            args: Vec::new(),
            one_off: false,
        }
    }

    /// Adds the parameter of the next `$N` the text already names.
    pub fn arg(mut self, v: impl Into<Value>) -> Sql {
        self.args.push(v.into());
        self
    }

    /// Adds the parameter of the next `$N` the text already names, as JSON.
    pub fn json(mut self, v: String) -> Sql {
        self.args.push(Value::Json(v));
        self
    }

    /// Marks the statement as planned for its own values each time (see `one_off`).
    pub fn one_off(&mut self) -> &mut Sql {
        self.one_off = true;
        self
    }

    pub fn push(&mut self, text: &str) -> &mut Sql {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder for `v`.
    pub fn bind(&mut self, v: impl Into<Value>) -> &mut Sql {
        self.args.push(v.into());
        let n = self.args.len();
        self.text.push('$');
        self.text.push_str(&n.to_string());
        self
    }

    /// Appends ` AND column IN (values)` as one parameter.
    /// A list of one value is a plain equality: both planners then use an index on
    /// `(column, client_id)` to read rows already in page order, which they cannot assume for
    /// a list parameter whose length they do not know when planning.
    pub fn in_list(&mut self, dialect: Dialect, column: &str, values: Value) -> &mut Sql {
        let one = match &values {
            Value::I64List(v) if v.len() == 1 => Some(Value::I64(Some(v[0]))),
            Value::TextList(v) if v.len() == 1 => Some(Value::Text(Some(v[0].clone()))),
            _ => None,
        };
        if let Some(value) = one {
            self.push(" AND ").push(column).push(" = ").bind(value);
            return self;
        }
        self.args.push(values);
        let fragment = dialect.in_list(column, self.args.len());
        self.text.push_str(&fragment);
        self
    }
}

/// One decoded row. Column types follow the migrations: integers are `BIGINT` except where a
/// getter says otherwise, times are microseconds, JSON columns decode straight into `T`.
pub trait Row: Send {
    fn i64(&self, column: &str) -> Result<i64>;
    fn opt_i64(&self, column: &str) -> Result<Option<i64>>;
    fn i32(&self, column: &str) -> Result<i32>;
    fn bool(&self, column: &str) -> Result<bool>;
    fn text(&self, column: &str) -> Result<String>;
    fn opt_text(&self, column: &str) -> Result<Option<String>>;
    fn bytes(&self, column: &str) -> Result<Vec<u8>>;
    fn json<T: DeserializeOwned>(&self, column: &str) -> Result<T>;
}

/// A connection (or a transaction on one) of either database.
pub trait Conn: Send {
    type Row: Row;
    const DIALECT: Dialect;

    /// Runs a statement; returns how many rows it changed.
    fn execute(&mut self, q: Sql) -> impl Future<Output = Result<u64>> + Send;
    fn fetch_all(&mut self, q: Sql) -> impl Future<Output = Result<Vec<Self::Row>>> + Send;
    fn fetch_optional(&mut self, q: Sql) -> impl Future<Output = Result<Option<Self::Row>>> + Send;

    /// Holds `key` until the transaction ends (Postgres: an advisory lock); a no-op where one
    /// writer already serialises every write.
    fn lock_key(&mut self, key: &str) -> impl Future<Output = Result<()>> + Send;

    fn fetch_one(&mut self, q: Sql) -> impl Future<Output = Result<Self::Row>> + Send {
        async move {
            self.fetch_optional(q).await?.ok_or_else(|| {
                super::StoreError::internal("a query that returns a row returned none")
            })
        }
    }
}

/// A borrowed connection is a connection (a transaction borrows the writer's).
impl<C: Conn> Conn for &mut C {
    type Row = C::Row;
    const DIALECT: Dialect = C::DIALECT;

    fn execute(&mut self, q: Sql) -> impl Future<Output = Result<u64>> + Send {
        (**self).execute(q)
    }

    fn fetch_all(&mut self, q: Sql) -> impl Future<Output = Result<Vec<Self::Row>>> + Send {
        (**self).fetch_all(q)
    }

    fn fetch_optional(&mut self, q: Sql) -> impl Future<Output = Result<Option<Self::Row>>> + Send {
        (**self).fetch_optional(q)
    }

    fn lock_key(&mut self, key: &str) -> impl Future<Output = Result<()>> + Send {
        (**self).lock_key(key)
    }
}
