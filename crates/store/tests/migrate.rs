//! Migrating is its own step: `connect` refuses a database whose schema is behind (naming the
//! command that fixes it) and changes nothing; `migrate` brings it up to date, once, however
//! often it runs; `open` does both, for commands that run once. SQLite always, PostgreSQL when
//! `AFTERCARE_TEST_POSTGRES` names a server.

#![allow(clippy::unwrap_used, clippy::panic, reason = "tests fail on error")]

use aftercare_store::{Store, StoreError};

fn databases() -> Vec<(String, Option<(String, String)>)> {
    let path = std::env::temp_dir().join(format!("aftercare_migrate_{}.db", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let mut out = vec![(format!("sqlite://{}", path.display()), None)];
    if let Ok(admin) = std::env::var("AFTERCARE_TEST_POSTGRES")
        && !admin.is_empty()
    {
        let name = format!("aftercare_migrate_{}", std::process::id());
        let mut c = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
        c.batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
            .unwrap();
        c.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        let (server, _) = admin.rsplit_once('/').unwrap();
        out.push((format!("{server}/{name}"), Some((admin.clone(), name))));
    }
    out
}

#[test]
fn connect_refuses_an_unmigrated_database_and_migrate_brings_it_up_to_date() {
    for (url, pg) in databases() {
        match Store::connect(&url) {
            Err(StoreError::NotMigrated { at: 0, needs }) => assert!(needs >= 3, "{url}"),
            other => panic!("{url}: expected NotMigrated, got {other:?}"),
        }
        let err = Store::connect(&url).unwrap_err().to_string();
        assert!(err.contains("run `aftercare migrate`"), "{err}");

        // `open` (as `aftercare migrate` does) brings the schema up to date...
        let mut store = Store::open(&url).unwrap();
        let v = store.migrate().unwrap();
        drop(store);
        // ...after which `connect` accepts it, and migrating again changes nothing.
        let mut connected = Store::connect(&url).unwrap();
        assert_eq!(connected.migrate().unwrap(), v, "{url}");

        if let Some((admin, name)) = pg {
            let mut c = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
            let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        } else {
            let path = url.trim_start_matches("sqlite://");
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{path}{suffix}"));
            }
        }
    }
}

#[test]
fn another_connection_sees_the_same_file_and_none_is_made_for_memory() {
    let path = std::env::temp_dir().join(format!("aftercare_another_{}.db", std::process::id()));
    let url = format!("sqlite://{}", path.display());
    let mut one = Store::open(&url).unwrap();
    one.tx(|tx| tx.batch("CREATE TABLE seen_by_both (x INTEGER)"))
        .unwrap();
    let mut two = one
        .another()
        .expect("a file has other connections")
        .unwrap();
    let found = two
        .read(|tx| tx.query("SELECT COUNT(*) FROM seen_by_both", &[]))
        .unwrap();
    assert_eq!(found.len(), 1);
    drop((one, two));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    for memory in ["sqlite::memory:", ":memory:"] {
        assert!(Store::open(memory).unwrap().another().is_none(), "{memory}");
    }
}
