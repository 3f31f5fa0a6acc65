//! Storage for Aftercare: one small SQL interface ([`Tx`]) with two backends behind it,
//! SQLite (the embedded default, WAL) and PostgreSQL, chosen by URL. Migrations are embedded
//! per backend and run when a database is opened.
//!
//! The service code (crate `aftercare-app`) is written once against [`Tx`] in the SQL both
//! databases share (`?` placeholders, `ON CONFLICT`, `RETURNING`, partial indexes), instead
//! of once per backend: the same statements run in the same order on both, so one story test
//! covers both. Where they differ (row locks, DDL) the [`Dialect`] says so.

mod error;
mod migrate;
mod postgres_backend;
mod sqlite_backend;
mod value;

pub use error::{StoreError, Violation};
pub use migrate::hex;
pub use value::{Row, Val};

use std::collections::{HashMap, HashSet};

/// Which SQL a backend speaks, where the two differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// A table `w` of rows given as one JSON parameter (an array of objects), for a `FROM`:
    /// `columns` are the rows' fields and their SQL types. However many rows, the statement's
    /// text is the same, so it is prepared once (a condition or a `VALUES` row per item is a
    /// new statement to plan at every count).
    pub fn json_rows(self, columns: &[(&str, &str)]) -> String {
        match self {
            Dialect::Postgres => {
                let typed: Vec<String> = columns.iter().map(|(c, t)| format!("{c} {t}")).collect();
                format!(
                    "json_to_recordset(CAST(? AS json)) AS w ({})",
                    typed.join(", ")
                )
            }
            Dialect::Sqlite => {
                let fields: Vec<String> = columns
                    .iter()
                    .map(|(c, _)| format!("json_extract(value, '$.{c}') AS {c}"))
                    .collect();
                format!("(SELECT {} FROM json_each(?)) AS w", fields.join(", "))
            }
        }
    }
}

/// Statements inside one transaction. Placeholders are `?`, numbered in order.
pub trait Tx {
    fn dialect(&self) -> Dialect;
    /// Runs a statement; the number of rows it changed.
    fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64, StoreError>;
    /// Runs several statements separated by `;`, without parameters (migrations).
    fn batch(&mut self, sql: &str) -> Result<(), StoreError>;
    /// Runs a query; all its rows.
    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Row>, StoreError>;

    /// Runs a statement whose outcome nothing in the transaction reads back (an audit event,
    /// a webhook delivery, a cancelled timer). PostgreSQL sends it at once and reads its
    /// answer with the next statement that waits for one, or the commit: a failure is that
    /// statement's error (or the commit's), and the transaction rolls back as for any other.
    /// So a failure here must be a fault, never the caller's mistake to report.
    fn exec_later(&mut self, sql: &str, params: &[Val]) -> Result<(), StoreError> {
        self.exec(sql, params).map(|_| ())
    }

    /// What this connection found already stored in its database and that can never be taken
    /// out again (rows of append-only tables, by a key the caller chooses): kept for the
    /// connection's life, so that it need not ask again. Put here only what was read as
    /// committed, never what this transaction wrote (it may still roll back).
    fn seen(&mut self) -> &mut HashSet<String>;

    /// What this transaction learned of rows it holds locked until it ends (an audit
    /// chain's head, once taken), by a key the caller chooses: no one else can change them
    /// meanwhile, so it need not ask again. Empty when a transaction begins; `None` outside
    /// one (autocommit), where nothing stays locked.
    fn held(&mut self) -> Option<&mut HashMap<String, String>>;

    /// Runs queries that do not depend on each other; their rows, in order. PostgreSQL
    /// sends them together: one round trip, not one each.
    fn query_all(&mut self, batch: &[(&str, &[Val])]) -> Result<Vec<Vec<Row>>, StoreError> {
        batch.iter().map(|(sql, p)| self.query(sql, p)).collect()
    }

    /// The first row, if any.
    fn query_opt(&mut self, sql: &str, params: &[Val]) -> Result<Option<Row>, StoreError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// The first column of the first row as text; `None` when there is no row or it is NULL.
    fn query_text(&mut self, sql: &str, params: &[Val]) -> Result<Option<String>, StoreError> {
        match self.query_opt(sql, params)? {
            Some(r) => r.opt_text(0),
            None => Ok(None),
        }
    }

    /// Exactly one row.
    fn query_one(&mut self, sql: &str, params: &[Val]) -> Result<Row, StoreError> {
        self.query_opt(sql, params)?
            .ok_or_else(|| StoreError::Internal(format!("no row from `{sql}`")))
    }
}

/// An open database: SQLite or PostgreSQL.
pub struct Store {
    backend: Backend,
    url: String,
}

enum Backend {
    Sqlite(sqlite_backend::Sqlite),
    Postgres(Box<postgres_backend::Postgres>),
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("url", &redact(&self.url))
            .finish()
    }
}

impl Store {
    /// Opens (and creates, for SQLite) the database at `url` and brings its schema up to date:
    /// [`Store::connect`] then [`Store::migrate`], for a command that runs once.
    /// `postgres://…` or `postgresql://…` is PostgreSQL; `sqlite://PATH`, `sqlite::memory:` or
    /// a plain path is SQLite.
    pub fn open(url: &str) -> Result<Store, StoreError> {
        let mut store = Self::connect_unmigrated(url)?;
        store.migrate()?;
        Ok(store)
    }

    /// Connects to a database whose schema is already up to date (a server's pool, after one
    /// [`Store::migrate`] at start): one query checks the schema version, none changes it.
    pub fn connect(url: &str) -> Result<Store, StoreError> {
        let mut store = Self::connect_unmigrated(url)?;
        let at = migrate::version(&mut store)?;
        let needs = migrate::latest();
        if at != needs {
            return Err(StoreError::NotMigrated { at, needs });
        }
        Ok(store)
    }

    /// Brings the schema up to date; returns its version. Several processes may run it at
    /// once against one PostgreSQL: one migrates, the others wait and find nothing to do.
    pub fn migrate(&mut self) -> Result<i64, StoreError> {
        migrate::run(self)?;
        Ok(migrate::latest())
    }

    /// Connects without looking at the schema: for [`Store::migrate`] to follow.
    pub fn connect_unmigrated(url: &str) -> Result<Store, StoreError> {
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres(Box::new(postgres_backend::Postgres::connect(url)?))
        } else {
            let path = url.strip_prefix("sqlite://").unwrap_or(url);
            Backend::Sqlite(sqlite_backend::Sqlite::open(path)?)
        };
        Ok(Store {
            backend,
            url: url.to_string(),
        })
    }

    pub fn dialect(&self) -> Dialect {
        match self.backend {
            Backend::Sqlite(_) => Dialect::Sqlite,
            Backend::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Another connection to the same database (for work split over threads); `None` for an
    /// in-memory SQLite database, which no other connection sees.
    pub fn another(&self) -> Option<Result<Store, StoreError>> {
        let memory = self.dialect() == Dialect::Sqlite
            && sqlite_backend::is_memory(self.url.strip_prefix("sqlite://").unwrap_or(&self.url));
        (!memory).then(|| Store::connect(&self.url))
    }

    /// The URL it was opened with, without any password.
    pub fn url(&self) -> String {
        redact(&self.url)
    }

    /// Runs `f` in one transaction: committed when it returns `Ok`, rolled back otherwise, so
    /// nothing is half-written. On SQLite the writers of one file in a process take turns on
    /// one connection and are committed a few at a time (each in a savepoint of its own, so
    /// each still stands or falls alone; `Ok` comes after the commit that holds it); a
    /// transaction must not wait for another writer of the same file, which waits for it.
    /// On PostgreSQL it is `READ COMMITTED` and code that must serialise takes row locks.
    pub fn tx<T, E: From<StoreError>>(
        &mut self,
        f: impl FnOnce(&mut dyn Tx) -> Result<T, E>,
    ) -> Result<T, E> {
        match &mut self.backend {
            Backend::Sqlite(db) => db.tx(false, f),
            Backend::Postgres(db) => db.tx(false, f),
        }
    }

    /// Runs `f` in a read-only transaction: a consistent snapshot that takes no write lock,
    /// so reads on SQLite go on beside a writer (and each other). A write in it fails.
    pub fn read<T, E: From<StoreError>>(
        &mut self,
        f: impl FnOnce(&mut dyn Tx) -> Result<T, E>,
    ) -> Result<T, E> {
        match &mut self.backend {
            Backend::Sqlite(db) => db.tx(true, f),
            Backend::Postgres(db) => db.tx(true, f),
        }
    }

    /// Runs `f` with each statement its own transaction (autocommit): no `BEGIN` and `COMMIT`
    /// round trips, for a look-up of one statement on every request (who a token or session
    /// is). Statements in it see no common snapshot and nothing rolls back: not for writes
    /// that must hang together.
    pub fn autocommit<T, E: From<StoreError>>(
        &mut self,
        f: impl FnOnce(&mut dyn Tx) -> Result<T, E>,
    ) -> Result<T, E> {
        match &mut self.backend {
            Backend::Sqlite(db) => db.autocommit(f),
            Backend::Postgres(db) => db.autocommit(f),
        }
    }

    /// The schema versions applied, oldest first.
    pub fn schema_versions(&mut self) -> Result<Vec<i64>, StoreError> {
        self.read(|tx| -> Result<Vec<i64>, StoreError> {
            tx.query(
                "SELECT version FROM schema_migrations ORDER BY version",
                &[],
            )?
            .iter()
            .map(|r| r.int(0))
            .collect()
        })
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.split_once('@') {
        Some((auth, host)) => match auth.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// Turns `?` placeholders into PostgreSQL's `$1, $2, …` (outside quoted strings).
pub(crate) fn numbered_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    let mut quoted = false;
    for c in sql.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                out.push(c);
            }
            '?' if !quoted => {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_outside_strings() {
        assert_eq!(
            numbered_placeholders("SELECT '?' , a FROM t WHERE a = ? AND b = ?"),
            "SELECT '?' , a FROM t WHERE a = $1 AND b = $2"
        );
    }

    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(
            redact("postgres://me:secret@localhost/db"),
            "postgres://me:***@localhost/db"
        );
        assert_eq!(redact("sqlite://x.db"), "sqlite://x.db");
    }
}
