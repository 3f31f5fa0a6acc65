//! PostgreSQL, through the asynchronous `tokio-postgres` client driven on a current-thread
//! runtime of its own (as the synchronous `postgres` crate does), so that the service keeps
//! its synchronous [`Tx`] and still pipelines.
//!
//! Round trips, not statements, are what a transaction costs here: on two cores, a
//! transaction of eight single-row inserts runs at about 2,000 per second one statement at a
//! time and at about 9,000 when they are sent together (pgbench, `\startpipeline`). So a
//! statement is sent as soon as it is known, and its answer read only when somebody needs it:
//!
//! - `BEGIN` goes out with the transaction's first statement;
//! - [`Tx::exec_later`] (effects nothing reads back: an audit event, a webhook delivery, a
//!   cancelled timer) and [`Tx::query_all`] (look-ups that do not depend on each other) are
//!   sent at once and answered together with the next statement that waits, or the commit;
//! - the first failure among them is the error of that statement or of the commit, and the
//!   transaction rolls back: nothing is half-written.
//!
//! Statements are prepared once per connection and cached.

use std::collections::{HashMap, HashSet};
use std::error::Error;
use std::future::Future;
use std::pin::{Pin, pin};
use std::task::{Context, Poll};

use bytes::BytesMut;
use futures_util::{Stream, StreamExt};
use tokio::runtime::Runtime;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use tokio_postgres::{AsyncMessage, Client, NoTls, Statement};

use crate::{Dialect, Row, StoreError, Tx, Val, numbered_placeholders};

type Messages = Pin<Box<dyn Stream<Item = Result<AsyncMessage, tokio_postgres::Error>> + Send>>;

/// One connection: the client, and the connection's message loop, which runs only while a
/// call waits on the runtime (nothing runs in the background).
pub(crate) struct Postgres {
    runtime: Runtime,
    messages: Messages,
    client: Client,
    statements: HashMap<String, Statement>,
    seen: HashSet<String>,
    /// A transaction was left open (its closure panicked): rolled back before the next.
    open: bool,
}

struct MessageStream<S, T>(tokio_postgres::Connection<S, T>);

impl<S, T> Stream for MessageStream<S, T>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    type Item = Result<AsyncMessage, tokio_postgres::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_message(cx)
    }
}

/// Waits for `future` on `runtime`, driving the connection's messages meanwhile.
fn block_on<T>(
    runtime: &Runtime,
    messages: &mut Messages,
    future: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    let mut future = pin!(future);
    runtime.block_on(std::future::poll_fn(|cx| {
        loop {
            match messages.as_mut().poll_next(cx) {
                // Notices and notifications: nothing here listens for them.
                Poll::Ready(Some(Ok(_))) => {}
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(StoreError::from(e))),
                Poll::Ready(None) | Poll::Pending => break,
            }
        }
        future.as_mut().poll(cx)
    }))
}

impl Postgres {
    pub(crate) fn connect(url: &str) -> Result<Postgres, StoreError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StoreError::Internal(format!("cannot start a runtime: {e}")))?;
        let (client, connection) = runtime.block_on(tokio_postgres::connect(url, NoTls))?;
        Ok(Postgres {
            runtime,
            messages: Box::pin(MessageStream(connection)),
            client,
            statements: HashMap::new(),
            seen: HashSet::new(),
            open: false,
        })
    }

    /// The connection for one unit of work; a transaction a panic left open is rolled back
    /// first (sent ahead of the work's first statement).
    fn unit(&mut self) -> PgTx<'_> {
        let mut t = PgTx {
            runtime: &self.runtime,
            messages: &mut self.messages,
            client: &self.client,
            statements: &mut self.statements,
            seen: &mut self.seen,
            open: &mut self.open,
            sent: Vec::new(),
            held: None,
        };
        if std::mem::take(t.open) {
            t.send_simple("ROLLBACK");
        }
        t
    }

    pub(crate) fn tx<T, E: From<StoreError>>(
        &mut self,
        read_only: bool,
        f: impl FnOnce(&mut dyn Tx) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut t = self.unit();
        t.send_simple(if read_only {
            "START TRANSACTION READ ONLY"
        } else {
            "START TRANSACTION READ WRITE"
        });
        *t.open = true;
        t.held = Some(HashMap::new());
        let out = f(&mut t);
        t.send_simple(if out.is_ok() { "COMMIT" } else { "ROLLBACK" });
        let ended = t.flush();
        // A failed commit or rollback leaves the transaction open: the next one rolls it back
        // first. Of a failed rollback, the caller's own error is the one that counts.
        if ended.is_ok() {
            *t.open = false;
        }
        let out = out?;
        ended?;
        Ok(out)
    }

    pub(crate) fn autocommit<T, E: From<StoreError>>(
        &mut self,
        f: impl FnOnce(&mut dyn Tx) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut t = self.unit();
        let out = f(&mut t)?;
        t.flush()?;
        Ok(out)
    }
}

/// What a statement sent ahead answers: its rows (a query's) and the rows it changed.
#[derive(Default)]
struct Reply {
    rows: Vec<tokio_postgres::Row>,
    changed: u64,
}

type Answer = Result<Reply, tokio_postgres::Error>;

/// A statement on its way: the SQL (to name it when it fails) and its answer to come.
struct Sent<'a> {
    sql: String,
    answer: Pin<Box<dyn Future<Output = Answer> + 'a>>,
}

/// Statements in a transaction, or on the bare connection (each its own, autocommit).
struct PgTx<'a> {
    runtime: &'a Runtime,
    messages: &'a mut Messages,
    client: &'a Client,
    statements: &'a mut HashMap<String, Statement>,
    seen: &'a mut HashSet<String>,
    /// The connection's flag: a transaction is open.
    open: &'a mut bool,
    /// Sent, not yet answered, in the order sent.
    sent: Vec<Sent<'a>>,
    /// See [`Tx::held`]: a map in a transaction, none on the bare connection.
    held: Option<HashMap<String, String>>,
}

impl<'a> PgTx<'a> {
    fn statement(&mut self, sql: &str) -> Result<Statement, StoreError> {
        if let Some(st) = self.statements.get(sql) {
            return Ok(st.clone());
        }
        // Prepared behind whatever was sent before it, which it waits for: a statement's
        // first use on a connection is a round trip of its own.
        self.flush()?;
        let client = self.client;
        let text = numbered_placeholders(sql);
        let st = block_on(self.runtime, self.messages, async {
            Ok(client.prepare(&text).await?)
        })?;
        self.statements.insert(sql.to_string(), st.clone());
        Ok(st)
    }

    /// Sends `answer`'s request now (its first poll encodes and queues it, in order) and
    /// keeps the answer for later.
    fn push(&mut self, sql: &str, answer: Pin<Box<dyn Future<Output = Answer> + 'a>>) {
        let mut sent = Sent {
            sql: sql.to_string(),
            answer,
        };
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        // A request is queued on its first poll; the reply cannot be there yet (nothing has
        // been written to the socket), and a failure to encode stays in the future.
        if let Poll::Ready(answer) = sent.answer.as_mut().poll(&mut cx) {
            sent.answer = Box::pin(std::future::ready(answer));
        }
        self.sent.push(sent);
    }

    fn send_simple(&mut self, sql: &'static str) {
        let client = self.client;
        self.push(
            sql,
            Box::pin(async move { client.batch_execute(sql).await.map(|()| Reply::default()) }),
        );
    }

    /// Sends a prepared statement (see [`PgTx::statement`]: preparing waits for what was
    /// sent before, so prepare first, then send).
    fn send(&mut self, st: Statement, sql: &str, params: &[Val]) {
        let client = self.client;
        let params = params.to_vec();
        self.push(
            sql,
            Box::pin(async move {
                let refs = params.iter().map(|p| p as &(dyn ToSql + Sync));
                let mut stream = pin!(client.query_raw(&st, refs).await?);
                let mut rows = Vec::new();
                while let Some(row) = stream.next().await {
                    rows.push(row?);
                }
                let changed = stream.rows_affected().unwrap_or(0);
                Ok(Reply { rows, changed })
            }),
        );
    }

    /// Waits for every answer sent; the first failure is the error (the ones after it are
    /// the transaction refusing to go on). Returns the answers in order.
    fn flush(&mut self) -> Result<Vec<(String, Reply)>, StoreError> {
        if self.sent.is_empty() {
            return Ok(Vec::new());
        }
        let sent = std::mem::take(&mut self.sent);
        block_on(self.runtime, self.messages, async move {
            let mut out = Vec::with_capacity(sent.len());
            let mut first_error = None;
            for s in sent {
                match s.answer.await {
                    Ok(rows) => out.push((s.sql, rows)),
                    Err(e) => {
                        if first_error.is_none() {
                            first_error = Some(e);
                        }
                    }
                }
            }
            match first_error {
                Some(e) => Err(StoreError::from(e)),
                None => Ok(out),
            }
        })
    }
}

impl ToSql for Val {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        match self {
            Val::Null => Ok(IsNull::Yes),
            Val::Int(i) => match *ty {
                Type::INT8 => i.to_sql(ty, out),
                Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                Type::BOOL => (*i != 0).to_sql(ty, out),
                _ => Err(format!("an integer cannot be stored in a {ty} column").into()),
            },
            Val::Text(s) => s.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn rows(sql: &str, rows: &[tokio_postgres::Row]) -> Result<Vec<Row>, StoreError> {
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let mut vals = Vec::with_capacity(r.len());
        for (i, col) in r.columns().iter().enumerate() {
            let v = match *col.type_() {
                Type::INT8 => r.try_get::<_, Option<i64>>(i)?.map(Val::Int),
                Type::INT4 => r.try_get::<_, Option<i32>>(i)?.map(|v| Val::Int(v.into())),
                Type::INT2 => r.try_get::<_, Option<i16>>(i)?.map(|v| Val::Int(v.into())),
                Type::BOOL => r.try_get::<_, Option<bool>>(i)?.map(|v| Val::Int(v.into())),
                Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => {
                    r.try_get::<_, Option<String>>(i)?.map(Val::Text)
                }
                ref other => {
                    return Err(StoreError::Internal(format!(
                        "column `{}` of `{sql}` has type {other}; cast it to BIGINT or TEXT",
                        col.name()
                    )));
                }
            };
            vals.push(v.unwrap_or(Val::Null));
        }
        out.push(Row(vals));
    }
    Ok(out)
}

impl Tx for PgTx<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        self.flush()?;
        let client = self.client;
        block_on(self.runtime, self.messages, async {
            Ok(client.batch_execute(sql).await?)
        })
    }

    fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64, StoreError> {
        let st = self.statement(sql)?;
        self.send(st, sql, params);
        Ok(self.flush()?.pop().map_or(0, |(_, r)| r.changed))
    }

    fn seen(&mut self) -> &mut HashSet<String> {
        self.seen
    }

    fn held(&mut self) -> Option<&mut HashMap<String, String>> {
        self.held.as_mut()
    }

    fn exec_later(&mut self, sql: &str, params: &[Val]) -> Result<(), StoreError> {
        let st = self.statement(sql)?;
        self.send(st, sql, params);
        Ok(())
    }

    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Row>, StoreError> {
        let st = self.statement(sql)?;
        self.send(st, sql, params);
        match self.flush()?.pop() {
            Some((sql, r)) => rows(&sql, &r.rows),
            None => Ok(Vec::new()),
        }
    }

    fn query_all(&mut self, batch: &[(&str, &[Val])]) -> Result<Vec<Vec<Row>>, StoreError> {
        let statements = batch
            .iter()
            .map(|(sql, _)| self.statement(sql))
            .collect::<Result<Vec<_>, _>>()?;
        for (st, (sql, params)) in statements.into_iter().zip(batch) {
            self.send(st, sql, params);
        }
        let answers = self.flush()?;
        // The answers end with the batch's own (those before it were sent earlier).
        let skip = answers.len().saturating_sub(batch.len());
        answers
            .iter()
            .skip(skip)
            .map(|(sql, r)| rows(sql, &r.rows))
            .collect()
    }
}
