//! Statements sent ahead (`exec_later`, `query_all`, and on PostgreSQL the `BEGIN` that goes
//! out with a transaction's first statement) keep what a transaction promises: answers come
//! back in order and to the statement that asked; a failure among statements sent ahead fails
//! the transaction and nothing of it stays; a connection whose transaction was abandoned by a
//! panic is clean for the next one. SQLite always, PostgreSQL when `AFTERCARE_TEST_POSTGRES`
//! names a server.

#![allow(clippy::unwrap_used, clippy::panic, reason = "tests fail on error")]

use aftercare_store::{Store, StoreError, Val, Violation};

struct Db {
    url: String,
    drop_pg: Option<(String, String)>,
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Some((admin, name)) = &self.drop_pg {
            if let Ok(mut c) = postgres::Client::connect(admin, postgres::NoTls) {
                let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        } else {
            let path = self.url.trim_start_matches("sqlite://");
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{path}{suffix}"));
            }
        }
    }
}

fn databases(test: &str) -> Vec<Db> {
    let tag = format!("aftercare_pipeline_{test}_{}", std::process::id());
    let path = std::env::temp_dir().join(format!("{tag}.db"));
    let mut out = vec![Db {
        url: format!("sqlite://{}", path.display()),
        drop_pg: None,
    }];
    if let Ok(admin) = std::env::var("AFTERCARE_TEST_POSTGRES")
        && !admin.is_empty()
    {
        let mut c = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
        c.batch_execute(&format!("DROP DATABASE IF EXISTS {tag}"))
            .unwrap();
        c.batch_execute(&format!("CREATE DATABASE {tag}")).unwrap();
        let (server, _) = admin.rsplit_once('/').unwrap();
        out.push(Db {
            url: format!("{server}/{tag}"),
            drop_pg: Some((admin.clone(), tag)),
        });
    }
    for db in &out {
        let mut s = Store::connect_unmigrated(&db.url).unwrap();
        s.tx(|tx| {
            tx.batch(
                "CREATE TABLE t (id BIGINT PRIMARY KEY, note TEXT NOT NULL);
                 CREATE TABLE log (n BIGINT NOT NULL)",
            )
        })
        .unwrap();
    }
    out
}

fn count(store: &mut Store, table: &str) -> i64 {
    store
        .read(|tx| {
            tx.query_one(&format!("SELECT COUNT(*) FROM {table}"), &[])?
                .int(0)
        })
        .unwrap()
}

fn refused_as_duplicate(err: &StoreError, url: &str) {
    assert_eq!(
        err.violation().map(|v| v.0),
        Some(Violation::Unique),
        "{url}: {err}"
    );
}

#[test]
fn answers_come_back_in_order_to_the_statement_that_asked() {
    for db in databases("order") {
        let mut store = Store::connect_unmigrated(&db.url).unwrap();
        let got = store
            .tx(|tx| -> Result<_, StoreError> {
                for i in 1..=5 {
                    tx.exec_later(
                        "INSERT INTO t (id, note) VALUES (?, ?)",
                        &[Val::Int(i), Val::Text(format!("n{i}"))],
                    )?;
                }
                // A query after statements sent ahead sees them (same transaction, in order).
                let seen = tx.query_one("SELECT COUNT(*) FROM t", &[])?.int(0)?;
                tx.exec_later("INSERT INTO log (n) VALUES (?)", &[Val::Int(seen)])?;
                let batch = tx.query_all(&[
                    ("SELECT note FROM t WHERE id = ?", &[Val::Int(4)]),
                    ("SELECT COUNT(*) FROM log", &[]),
                    ("SELECT note FROM t WHERE id = ?", &[Val::Int(99)]),
                    ("SELECT id FROM t WHERE id <= ? ORDER BY id", &[Val::Int(3)]),
                ])?;
                let changed = tx.exec("UPDATE t SET note = 'x' WHERE id > ?", &[Val::Int(2)])?;
                Ok((seen, batch, changed))
            })
            .unwrap();
        let (seen, batch, changed) = got;
        assert_eq!(seen, 5, "{}", db.url);
        assert_eq!(batch.len(), 4, "{}", db.url);
        assert_eq!(batch[0][0].text(0).unwrap(), "n4", "{}", db.url);
        assert_eq!(batch[1][0].int(0).unwrap(), 1, "{}", db.url);
        assert!(batch[2].is_empty(), "{}", db.url);
        let ids: Vec<i64> = batch[3].iter().map(|r| r.int(0).unwrap()).collect();
        assert_eq!(ids, [1, 2, 3], "{}", db.url);
        assert_eq!(changed, 3, "{}", db.url);
        assert_eq!(count(&mut store, "t"), 5, "{}", db.url);
    }
}

#[test]
fn a_failure_sent_ahead_fails_the_transaction_and_nothing_of_it_stays() {
    for db in databases("fail") {
        let mut store = Store::connect_unmigrated(&db.url).unwrap();
        store
            .tx(|tx| tx.exec("INSERT INTO t (id, note) VALUES (1, 'kept')", &[]))
            .unwrap();

        // The duplicate is sent ahead; the commit is where it is answered. Nothing after the
        // first statement is kept, though each was sent.
        let err = store
            .tx(|tx| -> Result<(), StoreError> {
                tx.exec_later("INSERT INTO log (n) VALUES (1)", &[])?;
                tx.exec_later("INSERT INTO t (id, note) VALUES (1, 'again')", &[])?;
                tx.exec_later("INSERT INTO log (n) VALUES (2)", &[])?;
                Ok(())
            })
            .unwrap_err();
        refused_as_duplicate(&err, &db.url);
        assert_eq!(count(&mut store, "log"), 0, "{}", db.url);

        // The same when a query follows: the query's result is the failure ahead of it.
        let err = store
            .tx(|tx| -> Result<i64, StoreError> {
                tx.exec_later("INSERT INTO log (n) VALUES (3)", &[])?;
                tx.exec_later("INSERT INTO t (id, note) VALUES (1, 'again')", &[])?;
                tx.query_one("SELECT COUNT(*) FROM log", &[])?.int(0)
            })
            .unwrap_err();
        refused_as_duplicate(&err, &db.url);
        assert_eq!(count(&mut store, "log"), 0, "{}", db.url);

        // An error of the caller's own rolls back what was sent ahead.
        let err = store
            .tx(|tx| -> Result<(), StoreError> {
                tx.exec_later("INSERT INTO log (n) VALUES (4)", &[])?;
                Err(StoreError::Refused("changed my mind".into()))
            })
            .unwrap_err();
        assert!(matches!(err, StoreError::Refused(_)), "{}", db.url);
        assert_eq!(count(&mut store, "log"), 0, "{}", db.url);

        // And the connection goes on working.
        store
            .tx(|tx| tx.exec_later("INSERT INTO log (n) VALUES (5)", &[]))
            .unwrap();
        assert_eq!(count(&mut store, "log"), 1, "{}", db.url);
    }
}

#[test]
fn a_transaction_abandoned_by_a_panic_leaves_the_connection_clean() {
    for db in databases("panic") {
        let mut store = Store::connect_unmigrated(&db.url).unwrap();
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _ = store.tx(|tx| -> Result<(), StoreError> {
                tx.exec("INSERT INTO log (n) VALUES (1)", &[])?;
                tx.exec_later("INSERT INTO log (n) VALUES (2)", &[])?;
                panic!("a bug in the middle of a transaction");
            });
        }));
        assert!(caught.is_err());
        // Nothing of the abandoned transaction is there, and a new one commits.
        assert_eq!(count(&mut store, "log"), 0, "{}", db.url);
        store
            .tx(|tx| tx.exec("INSERT INTO log (n) VALUES (3)", &[]))
            .unwrap();
        assert_eq!(count(&mut store, "log"), 1, "{}", db.url);
    }
}
