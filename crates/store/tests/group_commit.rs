//! SQLite's group commit: writers of one file in a process share transactions, and each still
//! stands or falls alone. Many threads write at once, some of their transactions fail after
//! writing, one panics after writing; what the others wrote is all there, theirs is not, and
//! every transaction that was told "done" is in the file (read back by a new connection).
//! A file deleted and made again at the same path gets a writer of its own.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests fail on error"
)]

use std::sync::{Arc, Barrier};
use std::thread::JoinHandle;

use aftercare_store::{Store, StoreError, Val};

struct File(std::path::PathBuf);

impl Drop for File {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut p = self.0.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
    }
}

fn file(test: &str) -> (File, String) {
    let path =
        std::env::temp_dir().join(format!("aftercare_group_{test}_{}.db", std::process::id()));
    let f = File(path.clone());
    // Leftovers of an earlier run go first.
    drop(File(path.clone()));
    (f, format!("sqlite://{}", path.display()))
}

fn ids(store: &mut Store) -> Vec<i64> {
    store
        .read(|tx| {
            tx.query("SELECT id FROM t ORDER BY id", &[])?
                .iter()
                .map(|r| r.int(0))
                .collect::<Result<Vec<_>, StoreError>>()
        })
        .unwrap()
}

/// `threads` threads, each with a connection of its own to `url`, started together: thread `t`
/// runs `work(t, its store)`. Their answers come back from [`joined`].
fn writers<T: Send + 'static>(
    url: &str,
    threads: usize,
    work: impl Fn(usize, &mut Store) -> Vec<T> + Send + Sync + 'static,
) -> Vec<JoinHandle<Vec<T>>> {
    let start = Arc::new(Barrier::new(threads));
    let work = Arc::new(work);
    (0..threads)
        .map(|t| {
            let (url, start, work) = (url.to_string(), Arc::clone(&start), Arc::clone(&work));
            std::thread::spawn(move || {
                let mut store = Store::connect_unmigrated(&url).unwrap();
                start.wait();
                work(t, &mut store)
            })
        })
        .collect()
}

/// Every answer of [`writers`]' threads, in thread order.
fn joined<T>(handles: Vec<JoinHandle<Vec<T>>>) -> Vec<T> {
    handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect()
}

#[test]
fn each_transaction_stands_or_falls_alone_when_committed_together() {
    let (_file, url) = file("alone");
    Store::connect_unmigrated(&url)
        .unwrap()
        .tx(|tx| tx.batch("CREATE TABLE t (id BIGINT PRIMARY KEY, note TEXT NOT NULL)"))
        .unwrap();
    let threads = 8;
    let per_thread = 200;
    let handles = writers(&url, threads, move |t, store| {
        let mut done = Vec::new();
        for i in 0..per_thread {
            let id = i64::try_from(t * per_thread + i).unwrap();
            // Every seventh writes two rows, then fails: neither may stay.
            let fails = id % 7 == 3;
            let r = store.tx(|tx| -> Result<(), StoreError> {
                tx.exec(
                    "INSERT INTO t (id, note) VALUES (?, 'first')",
                    &[Val::Int(id)],
                )?;
                tx.exec(
                    "INSERT INTO t (id, note) VALUES (?, 'second')",
                    &[Val::Int(id + 1_000_000)],
                )?;
                if fails {
                    return Err(StoreError::Refused(format!("{id} refused")));
                }
                Ok(())
            });
            match r {
                Ok(()) => {
                    assert!(!fails, "{id} should have failed");
                    done.push(id);
                }
                Err(StoreError::Refused(m)) => assert!(fails, "{id}: {m}"),
                Err(e) => panic!("{id}: {e}"),
            }
        }
        done
    });
    // Meanwhile a writer panics after writing: its rows go, and the writer lives on.
    let mut store = Store::connect_unmigrated(&url).unwrap();
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = store.tx(|tx| -> Result<(), StoreError> {
            tx.exec("INSERT INTO t (id, note) VALUES (-1, 'panics')", &[])?;
            panic!("a bug in a use case");
        });
    }));
    assert!(panicked.is_err());
    let mut done: Vec<i64> = joined(handles);
    done.extend(done.clone().iter().map(|id| id + 1_000_000));
    done.sort_unstable();
    // Read by a connection opened after everything: what is in the file, not in a cache.
    let mut fresh = Store::connect_unmigrated(&url).unwrap();
    assert_eq!(ids(&mut fresh), done);
    let expected = threads * per_thread - (0..threads * per_thread).filter(|i| i % 7 == 3).count();
    assert_eq!(done.len(), 2 * expected);
    // The writer that saw a panic still writes.
    store
        .tx(|tx| tx.exec("INSERT INTO t (id, note) VALUES (-2, 'after')", &[]))
        .unwrap();
    assert_eq!(ids(&mut fresh).first(), Some(&-2));
}

#[test]
fn a_statement_error_rolls_back_only_its_own_transaction() {
    let (_file, url) = file("error");
    let mut a = Store::connect_unmigrated(&url).unwrap();
    a.tx(|tx| tx.batch("CREATE TABLE t (id BIGINT PRIMARY KEY, note TEXT NOT NULL)"))
        .unwrap();
    a.tx(|tx| tx.exec("INSERT INTO t (id, note) VALUES (1, 'one')", &[]))
        .unwrap();
    let threads = 4;
    let handles = writers(&url, threads, move |t, s| {
        (0..100)
            .map(|i| {
                let id = i64::try_from(10 + t * 100 + i).unwrap();
                // Half write a row, then a duplicate of row 1: the database refuses.
                s.tx(|tx| -> Result<(), StoreError> {
                    tx.exec("INSERT INTO t (id, note) VALUES (?, 'x')", &[Val::Int(id)])?;
                    if id % 2 == 0 {
                        tx.exec("INSERT INTO t (id, note) VALUES (1, 'dup')", &[])?;
                    }
                    Ok(())
                })
                .map(|()| id)
                .map_err(|e| (id, e.violation().map(|v| v.0)))
            })
            .collect::<Vec<_>>()
    });
    let mut kept = vec![1];
    for r in joined(handles) {
        match r {
            Ok(id) => {
                assert_eq!(id % 2, 1);
                kept.push(id);
            }
            Err((id, v)) => {
                assert_eq!(id % 2, 0);
                assert_eq!(v, Some(aftercare_store::Violation::Unique), "{id}");
            }
        }
    }
    kept.sort_unstable();
    assert_eq!(ids(&mut Store::connect_unmigrated(&url).unwrap()), kept);
}

#[test]
fn a_file_made_again_at_the_same_path_is_written_as_itself() {
    let (_file, url) = file("again");
    let path = url.trim_start_matches("sqlite://").to_string();
    // An old connection to the first file stays open while the second is made.
    let mut old = Store::connect_unmigrated(&url).unwrap();
    old.tx(|tx| tx.batch("CREATE TABLE t (id BIGINT PRIMARY KEY, note TEXT NOT NULL)"))
        .unwrap();
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{path}{suffix}"));
    }
    let mut new = Store::connect_unmigrated(&url).unwrap();
    new.tx(|tx| tx.batch("CREATE TABLE t (id BIGINT PRIMARY KEY, note TEXT NOT NULL)"))
        .unwrap();
    new.tx(|tx| tx.exec("INSERT INTO t (id, note) VALUES (7, 'new')", &[]))
        .unwrap();
    assert_eq!(ids(&mut Store::connect_unmigrated(&url).unwrap()), vec![7]);
    drop(old);
}

#[test]
fn a_commit_that_fails_fails_everyone_in_it_and_only_what_was_acknowledged_is_kept() {
    // A deferred foreign key is checked at the commit: a transaction leaving a dangling
    // reference fails the commit it shares. The others in it fail too (told so, not "done"),
    // and whatever was acknowledged is in the file.
    let (_file, url) = file("commit");
    Store::connect_unmigrated(&url)
        .unwrap()
        .tx(|tx| {
            tx.batch(
                "CREATE TABLE t (id BIGINT PRIMARY KEY, note TEXT NOT NULL);
                 CREATE TABLE parent (id BIGINT PRIMARY KEY);
                 CREATE TABLE child (id BIGINT PRIMARY KEY,
                   parent BIGINT REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)",
            )
        })
        .unwrap();
    let threads = 8;
    let handles = writers(&url, threads, move |t, s| {
        (0..150)
            .map(|i| {
                let id = i64::try_from(t * 1000 + i).unwrap();
                let r = s.tx(|tx| -> Result<(), StoreError> {
                    tx.exec("INSERT INTO t (id, note) VALUES (?, 'x')", &[Val::Int(id)])?;
                    if t == 0 && i % 5 == 2 {
                        tx.exec(
                            "INSERT INTO child (id, parent) VALUES (?, -1)",
                            &[Val::Int(id)],
                        )?;
                    }
                    Ok(())
                });
                (id, r.is_ok())
            })
            .collect::<Vec<_>>()
    });
    let results: Vec<(i64, bool)> = joined(handles);
    let acknowledged: Vec<i64> = {
        let mut v: Vec<i64> = results.iter().filter(|r| r.1).map(|r| r.0).collect();
        v.sort_unstable();
        v
    };
    // Every dangling one failed, and the others stand or fall with their commit.
    for (id, ok) in &results {
        if id / 1000 == 0 && id % 5 == 2 {
            assert!(!ok, "{id} left a dangling reference and was acknowledged");
        }
    }
    let mut fresh = Store::connect_unmigrated(&url).unwrap();
    assert_eq!(ids(&mut fresh), acknowledged);
    assert!(!acknowledged.is_empty());
    let dangling = fresh
        .read(|tx| tx.query_one("SELECT COUNT(*) FROM child", &[])?.int(0))
        .unwrap();
    assert_eq!(dangling, 0);
    // The writer lives on.
    fresh
        .tx(|tx| tx.exec("INSERT INTO t (id, note) VALUES (-5, 'after')", &[]))
        .unwrap();
}
