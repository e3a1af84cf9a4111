//! The journal's database behind one small interface: SQLite (a file, one process) or
//! PostgreSQL (a URL, any number of workers on any machines).
//!
//! Statements are written once, in the SQL both engines share, with three placeholders that
//! [`Db`] rewrites per engine: `?N` parameters (PostgreSQL's `$N`), `{now}` (the database's
//! clock in Unix seconds: leases and ages are measured on one clock, whatever the workers'
//! clocks say) and `{skip_locked}` (`FOR UPDATE SKIP LOCKED` on PostgreSQL; nothing on SQLite,
//! where one process holds the journal).
//!
//! A PostgreSQL URL carries a password: it is never printed. [`Location`]'s `Display` shows
//! only the host, port and database. TLS follows `sslmode` (`disable`, `prefer`, the default,
//! `require`, `verify-ca`, `verify-full`): whenever TLS is used the server's certificate and
//! host name are verified (against the system's roots, or the CA file of `sslrootcert=FILE`),
//! which is stricter than libpq's `require`.

use std::cell::RefCell;
use std::time::Duration;

use super::location::{connect_pg, Location};

/// One value in or out of a statement.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// NULL.
    Null,
    /// An integer.
    Int(i64),
    /// Text.
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
}

impl Value {
    /// The integer, if it is one.
    pub fn int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The text, if it is text.
    pub fn text(&self) -> Option<String> {
        match self {
            Value::Text(s) => Some(s.clone()),
            _ => None,
        }
    }

    /// The bytes, if they are bytes.
    pub fn blob(&self) -> Option<Vec<u8>> {
        match self {
            Value::Blob(b) => Some(b.clone()),
            _ => None,
        }
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_string())
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(v.clone())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}
impl From<&[u8]> for Value {
    fn from(v: &[u8]) -> Self {
        Value::Blob(v.to_vec())
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(match self {
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Int(i) => ToSqlOutput::Borrowed(ValueRef::Integer(*i)),
            Value::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Value::Blob(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
        })
    }
}

impl postgres::types::ToSql for Value {
    fn to_sql(
        &self,
        ty: &postgres::types::Type,
        out: &mut postgres::types::private::BytesMut,
    ) -> Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        use postgres::types::Type;
        match self {
            Value::Null => Ok(postgres::types::IsNull::Yes),
            Value::Int(i) if *ty == Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
            Value::Int(i) => i.to_sql(ty, out),
            Value::Text(s) => s.as_str().to_sql(ty, out),
            Value::Blob(b) => b.as_slice().to_sql(ty, out),
        }
    }

    fn accepts(ty: &postgres::types::Type) -> bool {
        use postgres::types::Type;
        [
            Type::INT8,
            Type::INT4,
            Type::TEXT,
            Type::VARCHAR,
            Type::BYTEA,
        ]
        .contains(ty)
    }

    postgres::types::to_sql_checked!();
}

/// Which engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// A connection.
pub(crate) enum Db {
    Sqlite(rusqlite::Connection),
    Postgres(PgClient),
}

/// A PostgreSQL client that may be dropped inside the oracle's runtime (the `postgres` client
/// blocks on its own runtime when it closes).
pub(crate) struct PgClient(Option<Box<postgres::Client>>);

impl std::ops::Deref for PgClient {
    type Target = postgres::Client;
    fn deref(&self) -> &postgres::Client {
        self.0
            .as_ref()
            .expect("a client is only taken when dropped")
    }
}

impl std::ops::DerefMut for PgClient {
    fn deref_mut(&mut self) -> &mut postgres::Client {
        self.0
            .as_mut()
            .expect("a client is only taken when dropped")
    }
}

impl Drop for PgClient {
    fn drop(&mut self) {
        if let Some(c) = self.0.take() {
            blocking(move || drop(c));
        }
    }
}

/// Runs a blocking PostgreSQL call: inside a (multi-threaded) tokio runtime, the `postgres`
/// client's own runtime may only block outside the worker's async context.
/// On a current-thread runtime it runs on a thread of its own.
pub(super) fn blocking<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        Ok(_) => std::thread::scope(|s| match s.spawn(f).join() {
            Ok(v) => v,
            Err(panic) => std::panic::resume_unwind(panic),
        }),
        Err(_) => f(),
    }
}

/// A PostgreSQL error's text: the server's message when there is one.
pub(super) fn pg_error(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(d) => format!("{}: {}", d.severity(), d.message()),
        None => match std::error::Error::source(e) {
            Some(s) => format!("{e}: {s}"),
            None => e.to_string(),
        },
    }
}

impl Db {
    /// Opens a connection (a SQLite file is created if missing).
    pub(crate) fn open(loc: &Location) -> Result<Self, String> {
        match loc {
            Location::Sqlite(p) => {
                let c = rusqlite::Connection::open(p).map_err(|e| e.to_string())?;
                c.busy_timeout(Duration::from_secs(10))
                    .map_err(|e| e.to_string())?;
                Ok(Db::Sqlite(c))
            }
            Location::Postgres(t) => Ok(Db::Postgres(PgClient(Some(Box::new(connect_pg(t)?))))),
        }
    }

    pub(crate) fn dialect(&self) -> Dialect {
        match self {
            Db::Sqlite(_) => Dialect::Sqlite,
            Db::Postgres(_) => Dialect::Postgres,
        }
    }

    /// The statement in this engine's SQL (see the module doc).
    pub(crate) fn sql(&self, sql: &str) -> String {
        rewrite(self.dialect(), sql)
    }

    /// Runs one statement; the number of rows it changed.
    pub(crate) fn exec(&mut self, sql: &str, params: &[Value]) -> Result<u64, String> {
        let sql = self.sql(sql);
        match self {
            Db::Sqlite(c) => c
                .execute(&sql, rusqlite::params_from_iter(params))
                .map(|n| n as u64)
                .map_err(|e| e.to_string()),
            Db::Postgres(c) => {
                let p: Vec<&(dyn postgres::types::ToSql + Sync)> =
                    params.iter().map(|v| v as _).collect();
                blocking(|| c.execute(sql.as_str(), &p)).map_err(|e| pg_error(&e))
            }
        }
    }

    /// Runs statements without parameters (schema, transaction control).
    pub(crate) fn batch(&mut self, sql: &str) -> Result<(), String> {
        let sql = self.sql(sql);
        match self {
            Db::Sqlite(c) => c.execute_batch(&sql).map_err(|e| e.to_string()),
            Db::Postgres(c) => blocking(|| c.batch_execute(&sql)).map_err(|e| pg_error(&e)),
        }
    }

    /// The rows of a query.
    pub(crate) fn rows(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Vec<Value>>, String> {
        let sql = self.sql(sql);
        match self {
            Db::Sqlite(c) => {
                let mut st = c.prepare(&sql).map_err(|e| e.to_string())?;
                let n = st.column_count();
                let rows = st
                    .query_map(rusqlite::params_from_iter(params), |r| {
                        (0..n).map(|i| sqlite_value(r.get_ref(i)?)).collect()
                    })
                    .map_err(|e| e.to_string())?
                    .collect::<rusqlite::Result<Vec<Vec<Value>>>>()
                    .map_err(|e| e.to_string());
                rows
            }
            Db::Postgres(c) => {
                let p: Vec<&(dyn postgres::types::ToSql + Sync)> =
                    params.iter().map(|v| v as _).collect();
                let rows = blocking(|| c.query(sql.as_str(), &p)).map_err(|e| pg_error(&e))?;
                rows.iter()
                    .map(|r| (0..r.len()).map(|i| pg_value(r, i)).collect())
                    .collect()
            }
        }
    }

    /// The first row of a query, if any.
    pub(crate) fn row(
        &mut self,
        sql: &str,
        params: &[Value],
    ) -> Result<Option<Vec<Value>>, String> {
        Ok(self.rows(sql, params)?.into_iter().next())
    }

    /// Runs `f` in a transaction (SQLite: `BEGIN IMMEDIATE`, so it holds the write lock from
    /// the start); rolled back when `f` fails.
    pub(crate) fn transaction<T>(
        &mut self,
        f: impl FnOnce(&mut Db) -> Result<T, String>,
    ) -> Result<T, String> {
        let begin = match self.dialect() {
            Dialect::Sqlite => "BEGIN IMMEDIATE",
            Dialect::Postgres => "BEGIN",
        };
        self.batch(begin)?;
        match f(self) {
            Ok(v) => {
                self.batch("COMMIT")?;
                Ok(v)
            }
            Err(e) => {
                let _ = self.batch("ROLLBACK");
                Err(e)
            }
        }
    }
}

fn sqlite_value(v: rusqlite::types::ValueRef<'_>) -> rusqlite::Result<Value> {
    use rusqlite::types::ValueRef;
    Ok(match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Int(i),
        ValueRef::Real(f) => Value::Int(f as i64),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    })
}

fn pg_value(r: &postgres::Row, i: usize) -> Result<Value, String> {
    use postgres::types::Type;
    let ty = r.columns()[i].type_().clone();
    let e = |e: postgres::Error| format!("column {}: {e}", r.columns()[i].name());
    Ok(if ty == Type::INT8 {
        r.try_get::<_, Option<i64>>(i).map_err(e)?.into()
    } else if ty == Type::INT4 {
        r.try_get::<_, Option<i32>>(i)
            .map_err(e)?
            .map(i64::from)
            .into()
    } else if ty == Type::BOOL {
        r.try_get::<_, Option<bool>>(i)
            .map_err(e)?
            .map(i64::from)
            .into()
    } else if ty == Type::BYTEA {
        r.try_get::<_, Option<Vec<u8>>>(i)
            .map_err(e)?
            .map_or(Value::Null, Value::Blob)
    } else if ty == Type::NUMERIC {
        // Sums and the like arrive as NUMERIC; the journal casts them, this is a fallback.
        return Err(format!(
            "column {}: NUMERIC (cast it)",
            r.columns()[i].name()
        ));
    } else {
        r.try_get::<_, Option<String>>(i).map_err(e)?.into()
    })
}

/// `sql` in `d`'s SQL (see the module doc).
pub(crate) fn rewrite(d: Dialect, sql: &str) -> String {
    match d {
        Dialect::Sqlite => sql
            .replace("{now}", "CAST(strftime('%s', 'now') AS INTEGER)")
            .replace("{skip_locked}", ""),
        Dialect::Postgres => {
            let s = sql
                .replace(
                    "{now}",
                    "CAST(EXTRACT(EPOCH FROM clock_timestamp()) AS BIGINT)",
                )
                .replace("{skip_locked}", "FOR UPDATE SKIP LOCKED");
            let mut out = String::with_capacity(s.len());
            let mut chars = s.chars().peekable();
            while let Some(c) = chars.next() {
                if c == '?' && chars.peek().is_some_and(|d| d.is_ascii_digit()) {
                    out.push('$');
                } else {
                    out.push(c);
                }
            }
            out
        }
    }
}

/// A [`Db`] shared by a journal's methods, which take `&self`.
pub(crate) type Shared = RefCell<Db>;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn statements_are_rewritten_per_engine() {
        let s = "a = ?1 AND b = ?12 {skip_locked} LIMIT ?2";
        assert_eq!(rewrite(Dialect::Sqlite, s), "a = ?1 AND b = ?12  LIMIT ?2");
        assert_eq!(
            rewrite(Dialect::Postgres, s),
            "a = $1 AND b = $12 FOR UPDATE SKIP LOCKED LIMIT $2"
        );
        assert!(rewrite(Dialect::Sqlite, "{now}").contains("strftime"));
        assert!(rewrite(Dialect::Postgres, "{now}").contains("EPOCH"));
    }
}
