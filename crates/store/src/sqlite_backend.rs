//! SQLite: one file (created on first use) in WAL mode, or `:memory:`.

use rusqlite::types::{ToSqlOutput, ValueRef};
use std::collections::HashSet;

use rusqlite::{Connection, TransactionBehavior};

use crate::{Dialect, Row, StoreError, Tx, Val};

pub(crate) struct Sqlite {
    conn: Connection,
    seen: HashSet<String>,
}

impl Sqlite {
    pub(crate) fn open(path: &str) -> Result<Sqlite, StoreError> {
        let conn = if path == ":memory:" || path == "sqlite::memory:" {
            Connection::open_in_memory()?
        } else {
            if let Some(dir) = std::path::Path::new(path).parent()
                && !dir.as_os_str().is_empty()
            {
                std::fs::create_dir_all(dir).map_err(|e| StoreError::Open {
                    path: path.to_string(),
                    message: e.to_string(),
                })?;
            }
            Connection::open(path)?
        };
        // WAL: readers never block the writer; NORMAL is durable at each checkpoint and safe
        // from corruption, the usual pairing with WAL. Writers wait for each other up to the
        // busy timeout instead of failing at once.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        conn.set_prepared_statement_cache_capacity(256);
        Ok(Sqlite {
            conn,
            seen: HashSet::new(),
        })
    }

    pub(crate) fn tx<T, E: From<StoreError>>(
        &mut self,
        read_only: bool,
        f: impl FnOnce(&mut dyn Tx) -> Result<T, E>,
    ) -> Result<T, E> {
        // A writer takes the write lock at once (no upgrade deadlock between two writers); a
        // reader takes none and reads a snapshot, beside the writer (WAL).
        let behavior = if read_only {
            TransactionBehavior::Deferred
        } else {
            TransactionBehavior::Immediate
        };
        let t = self
            .conn
            .transaction_with_behavior(behavior)
            .map_err(StoreError::from)?;
        let out = f(&mut SqliteTx {
            tx: &t,
            seen: &mut self.seen,
        })?;
        t.commit().map_err(StoreError::from)?;
        Ok(out)
    }

    pub(crate) fn autocommit<T, E: From<StoreError>>(
        &mut self,
        f: impl FnOnce(&mut dyn Tx) -> Result<T, E>,
    ) -> Result<T, E> {
        f(&mut SqliteTx {
            tx: &self.conn,
            seen: &mut self.seen,
        })
    }
}

/// Statements in a transaction, or on the bare connection (each its own, autocommit).
struct SqliteTx<'a> {
    tx: &'a Connection,
    seen: &'a mut HashSet<String>,
}

impl rusqlite::ToSql for Val {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Val::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Val::Int(i) => ToSqlOutput::Borrowed(ValueRef::Integer(*i)),
            Val::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
        })
    }
}

impl Tx for SqliteTx<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        Ok(self.tx.execute_batch(sql)?)
    }

    fn seen(&mut self) -> &mut HashSet<String> {
        self.seen
    }

    fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64, StoreError> {
        let mut st = self.tx.prepare_cached(sql)?;
        let n = st.execute(rusqlite::params_from_iter(params))?;
        Ok(u64::try_from(n).unwrap_or(u64::MAX))
    }

    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Row>, StoreError> {
        let mut st = self.tx.prepare_cached(sql)?;
        let cols = st.column_count();
        let mut rows = st.query(rusqlite::params_from_iter(params))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let mut vals = Vec::with_capacity(cols);
            for i in 0..cols {
                vals.push(match r.get_ref(i)? {
                    ValueRef::Null => Val::Null,
                    ValueRef::Integer(v) => Val::Int(v),
                    ValueRef::Text(t) => Val::Text(String::from_utf8_lossy(t).into_owned()),
                    other => {
                        return Err(StoreError::Internal(format!(
                            "column {i} of `{sql}` has type {:?}; the schema uses only integers and text",
                            other.data_type()
                        )));
                    }
                });
            }
            out.push(Row(vals));
        }
        Ok(out)
    }
}
