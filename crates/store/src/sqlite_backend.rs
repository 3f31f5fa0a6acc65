//! SQLite: one file (created on first use) in WAL mode, or `:memory:`.
//!
//! Reads run on each [`Sqlite`]'s own connection, side by side. Writes to a file go through
//! the file's one [`Writer`] in this process, which commits several transactions at a time.

use rusqlite::types::{ToSqlOutput, ValueRef};
use std::collections::{HashMap, HashSet};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError, Weak};

use rusqlite::{Connection, TransactionBehavior};

use crate::{Dialect, Row, StoreError, Tx, Val};

pub(crate) struct Sqlite {
    conn: Connection,
    seen: HashSet<String>,
    /// Where writing transactions run: `None` for an in-memory database, which is this
    /// connection's alone.
    writer: Option<Arc<Writer>>,
}

/// Transactions committed together at most.
const BATCH_MAX: usize = 64;

/// The one connection that writes a database file in this process, and its group commit.
///
/// SQLite lets one writer in at a time, and a commit writes every page the transaction
/// changed to the log: a case opened changes about fifteen (the row and its indexes, a timer,
/// an audit event and chain), 30 `pwrite` calls and the locks around them, most of the time
/// an open takes. Connections that each begin their own transaction also meet in SQLite's busy
/// handler, which polls for the lock sleeping 1, 2, 5, 10, … 100 ms between tries: under load
/// the lock is free while the writers sleep. `scripts/load-bench.sh` measured opening cases
/// at 64 connections: 1,842/s, p99 204 ms before this writer; 2,499/s, p99 60 ms with it.
///
/// Here writers queue for one connection instead, and the lock passes at once. Each runs its
/// work inside a savepoint of a transaction it may share: if another writer is queued behind
/// it, it leaves the transaction open for that one and waits; the last in line commits for
/// all and wakes them. Pages that several transactions change are then written once. Each
/// transaction still stands or falls alone (its savepoint is rolled back if it fails or
/// panics), no caller hears "done" before the commit that holds its work, and if that commit
/// fails, every transaction in it fails.
///
/// Other processes writing the same file (a CLI command beside a server) meet the busy
/// timeout, as before.
pub(crate) struct Writer {
    state: Mutex<Batch>,
    ended: Condvar,
    /// Writers waiting for the connection: while one is, the last to finish leaves the commit to it.
    queued: AtomicUsize,
    /// Tells the file's checkpointer that something was committed.
    checkpoint: SyncSender<()>,
}

/// The log's length (in pages) at which the writer checkpoints by itself: the checkpointer
/// has fallen far behind.
const WAL_PAGES_MAX: i64 = 10_000;
/// How often the checkpointer checkpoints at most, while commits go on.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

/// A thread that copies what was committed from the log into the database file (a passive
/// checkpoint: it waits for no one, and no one for it) at most every [`CHECKPOINT_EVERY`],
/// after commits, on a connection of its own. The writer would otherwise do it inside a
/// commit every 1,000 pages, holding every other writer up through two `fsync`s. It stops
/// when the writer is gone.
fn checkpointer(path: &str) -> Result<SyncSender<()>, StoreError> {
    let conn = connect(path)?;
    let (tx, rx) = std::sync::mpsc::sync_channel::<()>(1);
    std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            while rx.recv().is_ok() {
                if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                    tracing::warn!(error = %e, "sqlite: checkpoint failed; the next commit tries again");
                }
                std::thread::sleep(CHECKPOINT_EVERY);
            }
        })
        .map_err(|e| StoreError::Internal(format!("cannot start the checkpointer: {e}")))?;
    Ok(tx)
}

/// The writer's connection and the transaction open on it.
struct Batch {
    conn: Connection,
    seen: HashSet<String>,
    /// The number of the batch open on the connection (after its `BEGIN`), if one is.
    open: Option<u64>,
    last: u64,
    /// Transactions of the open batch whose work stands and waits for the commit.
    members: usize,
    /// How ended batches ended (an error's text), kept until each member waiting on it has read it.
    outcomes: HashMap<u64, (Result<(), String>, usize)>,
}

impl Writer {
    /// The writer of the file at `path`, which [`Sqlite::open`] has just opened: the one this
    /// process has, or a new one. Files are told apart by device and inode, so a file deleted
    /// and made again at the same path gets a writer of its own.
    fn of(path: &str) -> Result<Arc<Writer>, StoreError> {
        static WRITERS: OnceLock<Mutex<HashMap<FileId, Weak<Writer>>>> = OnceLock::new();
        let id = file_id(path)?;
        let mut writers = WRITERS
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        writers.retain(|_, w| w.strong_count() > 0);
        if let Some(w) = writers.get(&id).and_then(Weak::upgrade) {
            return Ok(w);
        }
        let w = Arc::new(Writer {
            state: Mutex::new(Batch {
                conn: {
                    let conn = connect(path)?;
                    // Checkpoints are the checkpointer's; this one only if it falls far behind.
                    conn.pragma_update(None, "wal_autocheckpoint", WAL_PAGES_MAX)?;
                    conn
                },
                seen: HashSet::new(),
                open: None,
                last: 0,
                members: 0,
                outcomes: HashMap::new(),
            }),
            ended: Condvar::new(),
            queued: AtomicUsize::new(0),
            checkpoint: checkpointer(path)?,
        });
        writers.insert(id, Arc::downgrade(&w));
        Ok(w)
    }

    fn lock(&self) -> MutexGuard<'_, Batch> {
        // A panic is caught inside (below); a poisoned lock still guards a sound batch.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` in a transaction of the writer, committed (with others, perhaps) before this
    /// returns `Ok`.
    fn run<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&mut dyn Tx) -> Result<T, E>,
    ) -> Result<T, E> {
        self.queued.fetch_add(1, Ordering::SeqCst);
        let mut b = self.lock();
        self.queued.fetch_sub(1, Ordering::SeqCst);
        let batch = match b.open {
            Some(n) => n,
            None => {
                one(&b.conn, "BEGIN IMMEDIATE").map_err(StoreError::from)?;
                b.last += 1;
                b.members = 0;
                b.open = Some(b.last);
                b.last
            }
        };
        if let Err(e) = one(&b.conn, "SAVEPOINT work") {
            self.fail(&mut b, batch, &e.to_string(), 0);
            return Err(StoreError::from(e).into());
        }
        let result = {
            let Batch { conn, seen, .. } = &mut *b;
            catch_unwind(AssertUnwindSafe(|| {
                f(&mut SqliteTx {
                    tx: conn,
                    seen,
                    held: Some(HashMap::new()),
                })
            }))
        };
        let stands = matches!(result, Ok(Ok(_)));
        let kept = if stands {
            one(&b.conn, "RELEASE work")
        } else {
            one(&b.conn, "ROLLBACK TO work").and_then(|()| one(&b.conn, "RELEASE work"))
        };
        // Some failures (a full disk, an I/O error) end the whole transaction: the batch's
        // other members fail with it.
        let broken = match kept {
            Err(e) => Some(e.to_string()),
            Ok(()) if b.conn.is_autocommit() => {
                Some("the transaction was rolled back by the database".to_string())
            }
            Ok(()) => None,
        };
        if let Some(why) = broken {
            self.fail(&mut b, batch, &why, 0);
            drop(b);
            return finish(result, Err(why));
        }
        if stands {
            b.members += 1;
        }
        if self.queued.load(Ordering::SeqCst) == 0 || b.members >= BATCH_MAX {
            // The last in line: commit for everyone.
            let outcome = one(&b.conn, "COMMIT").map_err(|e| e.to_string());
            if outcome.is_err() {
                self.fail(&mut b, batch, "", usize::from(stands));
            } else {
                self.end(&mut b, batch, Ok(()), usize::from(stands));
                // Full: a checkpoint is already due.
                let _ = self.checkpoint.try_send(());
            }
            drop(b);
            return finish(result, outcome);
        }
        if !stands {
            drop(b);
            return finish(result, Ok(()));
        }
        // Another writer carries the batch on: wait for its end.
        loop {
            if let Some((outcome, readers)) = b.outcomes.get_mut(&batch) {
                let outcome = outcome.clone();
                *readers -= 1;
                if *readers == 0 {
                    b.outcomes.remove(&batch);
                }
                drop(b);
                return finish(result, outcome);
            }
            b = self.ended.wait(b).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Ends `batch` in failure: rolls back what is left of it and tells its members (all but
    /// `present` of them, who are told directly).
    fn fail(&self, b: &mut Batch, batch: u64, why: &str, present: usize) {
        if !b.conn.is_autocommit() {
            // If even this fails, the connection is unusable and every later write says so.
            let _ = one(&b.conn, "ROLLBACK");
        }
        // What was read in the batch may never have been committed.
        b.seen.clear();
        let why = if why.is_empty() {
            "the commit failed".to_string()
        } else {
            format!("the commit failed: {why}")
        };
        self.end(b, batch, Err(why), present);
    }

    /// Records how `batch` ended for its members still waiting (all but `present` of them,
    /// who are told directly) and wakes them.
    fn end(&self, b: &mut Batch, batch: u64, outcome: Result<(), String>, present: usize) {
        b.open = None;
        let waiting = b.members.saturating_sub(present);
        b.members = 0;
        if waiting > 0 {
            b.outcomes.insert(batch, (outcome, waiting));
            self.ended.notify_all();
        }
    }
}

/// Runs one statement, prepared once per connection (these run several times a transaction).
fn one(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

/// A writer's answer: the work's own result, unless the commit that should hold it failed.
fn finish<T, E: From<StoreError>>(
    result: std::thread::Result<Result<T, E>>,
    commit: Result<(), String>,
) -> Result<T, E> {
    match result {
        Err(panic) => resume_unwind(panic),
        Ok(Err(e)) => Err(e),
        Ok(Ok(t)) => match commit {
            Ok(()) => Ok(t),
            Err(why) => Err(StoreError::Internal(why).into()),
        },
    }
}

/// What tells two files apart: device and inode where there are such things, else the path.
#[cfg(unix)]
type FileId = (u64, u64);
#[cfg(not(unix))]
type FileId = std::path::PathBuf;

#[cfg(unix)]
fn file_id(path: &str) -> Result<FileId, StoreError> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).map_err(cannot_open(path))?;
    Ok((m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn file_id(path: &str) -> Result<FileId, StoreError> {
    std::fs::canonicalize(path).map_err(cannot_open(path))
}

/// The error of a file at `path` that cannot be opened (or its directory made).
fn cannot_open(path: &str) -> impl Fn(std::io::Error) -> StoreError + '_ {
    move |e| StoreError::Open {
        path: path.to_string(),
        message: e.to_string(),
    }
}

impl Sqlite {
    pub(crate) fn open(path: &str) -> Result<Sqlite, StoreError> {
        let (conn, writer) = if is_memory(path) {
            (Connection::open_in_memory()?, None)
        } else {
            (connect(path)?, Some(Writer::of(path)?))
        };
        Ok(Sqlite {
            conn,
            seen: HashSet::new(),
            writer,
        })
    }
}

/// A connection to the file at `path` (made, with its directory, if there is none).
/// Whether `path` names a database in memory (or "": a temporary file SQLite deletes on
/// close), which is its one connection's alone.
pub(crate) fn is_memory(path: &str) -> bool {
    path == ":memory:" || path == "sqlite::memory:" || path.is_empty()
}

fn connect(path: &str) -> Result<Connection, StoreError> {
    if let Some(dir) = std::path::Path::new(path).parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).map_err(cannot_open(path))?;
    }
    let conn = Connection::open(path)?;
    // WAL: readers never block the writer; NORMAL is durable at each checkpoint and safe
    // from corruption, the usual pairing with WAL. Writers of other processes wait for each
    // other up to the busy timeout instead of failing at once.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Temporary files in memory: above all the savepoint journal, where each transaction of
    // a group commit keeps the pages it changes first so that it can roll back alone. On
    // disk, that journal was a file created, written and deleted for every transaction past
    // 64 KiB: 7 % of the server's time opening cases (perf). It holds one transaction's
    // first changes, a few dozen pages.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    conn.set_prepared_statement_cache_capacity(256);
    Ok(conn)
}

impl Sqlite {
    pub(crate) fn tx<T, E: From<StoreError>>(
        &mut self,
        read_only: bool,
        f: impl FnOnce(&mut dyn Tx) -> Result<T, E>,
    ) -> Result<T, E> {
        if !read_only && let Some(writer) = &self.writer {
            return writer.run(f);
        }
        // A writer (of an in-memory database) takes the write lock at once (no upgrade
        // deadlock between two writers); a reader takes none and reads a snapshot, beside the
        // writer (WAL).
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
            held: Some(HashMap::new()),
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
            held: None,
        })
    }
}

/// Statements in a transaction, or on the bare connection (each its own, autocommit).
struct SqliteTx<'a> {
    tx: &'a Connection,
    seen: &'a mut HashSet<String>,
    /// See [`Tx::held`]: a map in a transaction, none on the bare connection.
    held: Option<HashMap<String, String>>,
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

    fn held(&mut self) -> Option<&mut HashMap<String, String>> {
        self.held.as_mut()
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
                    // Checked as UTF-8 the fast way; only text that is not is repaired.
                    ValueRef::Text(t) => Val::Text(match std::str::from_utf8(t) {
                        Ok(s) => s.to_owned(),
                        Err(_) => String::from_utf8_lossy(t).into_owned(),
                    }),
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
