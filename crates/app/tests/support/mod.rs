//! Test databases: a fresh SQLite file always, and a fresh PostgreSQL database when
//! `AFTERCARE_TEST_POSTGRES` holds a server URL (`.ci/run` sets it). Each test gets its own
//! database, dropped at the end.

#![allow(dead_code, clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use aftercare_app::Policies;
use aftercare_store::Store;

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// One database for one test.
pub struct TestDb {
    pub name: &'static str,
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    File(PathBuf),
    Database { admin: String, name: String },
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::File(p) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", p.display()));
                }
            }
            Cleanup::Database { admin, name } => {
                if let Ok(mut c) = postgres::Client::connect(admin, postgres::NoTls) {
                    let _ =
                        c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
                }
            }
        }
    }
}

impl TestDb {
    pub fn open(&self) -> Store {
        Store::open(&self.url).unwrap_or_else(|e| panic!("open {}: {e}", self.name))
    }
}

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
}

/// The databases every story runs on.
pub fn databases() -> Vec<TestDb> {
    let mut out = Vec::new();
    let path = std::env::temp_dir().join(format!("{}.db", unique("aftercare_test")));
    out.push(TestDb {
        name: "sqlite",
        url: format!("sqlite://{}", path.display()),
        cleanup: Cleanup::File(path),
    });
    match std::env::var("AFTERCARE_TEST_POSTGRES") {
        Ok(admin) if !admin.is_empty() => {
            let name = unique("aftercare_test");
            let mut c = postgres::Client::connect(&admin, postgres::NoTls)
                .unwrap_or_else(|e| panic!("AFTERCARE_TEST_POSTGRES={admin}: {e}"));
            c.batch_execute(&format!("CREATE DATABASE {name}"))
                .unwrap_or_else(|e| panic!("create database {name}: {e}"));
            let url = match admin.rsplit_once('/') {
                Some((server, _)) => format!("{server}/{name}"),
                None => panic!("AFTERCARE_TEST_POSTGRES needs a database path: {admin}"),
            };
            out.push(TestDb {
                name: "postgres",
                url,
                cleanup: Cleanup::Database { admin, name },
            });
        }
        _ => eprintln!("AFTERCARE_TEST_POSTGRES is not set: PostgreSQL is skipped"),
    }
    out
}

/// The shipped policies.
pub fn policies() -> Policies {
    policies_without(&[])
}

/// The shipped policies but the files named: a server started with a policy missing.
pub fn policies_without(files: &[&str]) -> Policies {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies");
    let mut sources = aftercare_app::policies::read_dir(&dir).unwrap();
    sources.retain(|f| !files.iter().any(|x| f.name.ends_with(x)));
    Policies::from_sources(sources).unwrap()
}

pub fn at(s: &str) -> jiff::Timestamp {
    s.parse().unwrap()
}

pub fn date(s: &str) -> jiff::civil::Date {
    s.parse().unwrap()
}
