//! Embedded migrations, one list per backend, applied in order by `Store::migrate` (and
//! `Store::open`); `Store::connect` only checks that they all ran.
//! Each applied migration's checksum is kept: a migration edited after it ran is an error,
//! not a silent drift between databases.

use sha2::{Digest, Sha256};

use crate::{Dialect, Store, StoreError, Tx, Val};

struct Migration {
    version: i64,
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sqlite: include_str!("../migrations/sqlite/0001_init.sql"),
        postgres: include_str!("../migrations/postgres/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "policy_by_country",
        sqlite: include_str!("../migrations/sqlite/0002_policy_by_country.sql"),
        postgres: include_str!("../migrations/postgres/0002_policy_by_country.sql"),
    },
    Migration {
        version: 3,
        name: "shipments",
        sqlite: include_str!("../migrations/sqlite/0003_shipments.sql"),
        postgres: include_str!("../migrations/postgres/0003_shipments.sql"),
    },
    Migration {
        version: 4,
        name: "accounts",
        sqlite: include_str!("../migrations/sqlite/0004_accounts.sql"),
        postgres: include_str!("../migrations/postgres/0004_accounts.sql"),
    },
    Migration {
        version: 5,
        name: "evidence",
        sqlite: include_str!("../migrations/sqlite/0005_evidence.sql"),
        postgres: include_str!("../migrations/postgres/0005_evidence.sql"),
    },
    Migration {
        version: 6,
        name: "webhooks",
        sqlite: include_str!("../migrations/sqlite/0006_webhooks.sql"),
        postgres: include_str!("../migrations/postgres/0006_webhooks.sql"),
    },
    Migration {
        version: 7,
        name: "case_description",
        sqlite: include_str!("../migrations/sqlite/0007_case_description.sql"),
        postgres: include_str!("../migrations/postgres/0007_case_description.sql"),
    },
    Migration {
        version: 8,
        name: "trust",
        sqlite: include_str!("../migrations/sqlite/0008_trust.sql"),
        postgres: include_str!("../migrations/postgres/0008_trust.sql"),
    },
    Migration {
        version: 9,
        name: "sign_in_limits",
        sqlite: include_str!("../migrations/sqlite/0009_sign_in_limits.sql"),
        postgres: include_str!("../migrations/postgres/0009_sign_in_limits.sql"),
    },
    Migration {
        version: 10,
        name: "audit_chains",
        sqlite: include_str!("../migrations/sqlite/0010_audit_chains.sql"),
        postgres: include_str!("../migrations/postgres/0010_audit_chains.sql"),
    },
    Migration {
        version: 11,
        name: "partial_authorisation",
        sqlite: include_str!("../migrations/sqlite/0011_partial_authorisation.sql"),
        postgres: include_str!("../migrations/postgres/0011_partial_authorisation.sql"),
    },
    Migration {
        version: 12,
        name: "decision_compression",
        sqlite: include_str!("../migrations/sqlite/0012_decision_compression.sql"),
        postgres: include_str!("../migrations/postgres/0012_decision_compression.sql"),
    },
    Migration {
        version: 13,
        name: "policy_versions",
        sqlite: include_str!("../migrations/sqlite/0013_policy_versions.sql"),
        postgres: include_str!("../migrations/postgres/0013_policy_versions.sql"),
    },
    Migration {
        version: 14,
        name: "search",
        sqlite: include_str!("../migrations/sqlite/0014_search.sql"),
        postgres: include_str!("../migrations/postgres/0014_search.sql"),
    },
    Migration {
        version: 15,
        name: "reports",
        sqlite: include_str!("../migrations/sqlite/0015_reports.sql"),
        postgres: include_str!("../migrations/postgres/0015_reports.sql"),
    },
    Migration {
        version: 16,
        name: "report tallies",
        sqlite: include_str!("../migrations/sqlite/0016_report_tallies.sql"),
        postgres: include_str!("../migrations/postgres/0016_report_tallies.sql"),
    },
];

/// The schema version this build needs: its last migration's.
pub(crate) fn latest() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// The schema version of the database: its last applied migration's (0 when none ran).
pub(crate) fn version(store: &mut Store) -> Result<i64, StoreError> {
    // A read: every connection a server opens asks, and on SQLite a write would wait for the
    // file's writer.
    store.read(|tx| -> Result<i64, StoreError> {
        let exists = match tx.dialect() {
            Dialect::Sqlite => tx.query(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
                &[],
            )?,
            Dialect::Postgres => tx.query(
                "SELECT 1 FROM information_schema.tables WHERE table_name = 'schema_migrations'
                   AND table_schema = current_schema()",
                &[],
            )?,
        };
        if exists.is_empty() {
            return Ok(0);
        }
        let row = tx.query(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            &[],
        )?;
        row.first().map_or(Ok(0), |r| r.int(0))
    })
}

pub(crate) fn run(store: &mut Store) -> Result<(), StoreError> {
    store.tx(|tx| -> Result<(), StoreError> {
        if tx.dialect() == Dialect::Postgres {
            // Several instances may start at once against one database: one migrates, the
            // others wait here and then find nothing left to do.
            tx.batch("SELECT pg_advisory_xact_lock(7243019)")?;
        }
        tx.batch(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                version BIGINT PRIMARY KEY,
                name TEXT NOT NULL,
                checksum TEXT NOT NULL
            )",
        )?;
        let applied = tx.query("SELECT version, checksum FROM schema_migrations", &[])?;
        for m in MIGRATIONS {
            let sql = match tx.dialect() {
                Dialect::Sqlite => m.sqlite,
                Dialect::Postgres => m.postgres,
            };
            let checksum = hex(&Sha256::digest(sql.as_bytes()));
            let mut done = false;
            for row in &applied {
                if row.int(0)? == m.version {
                    if row.text(1)? != checksum {
                        return Err(StoreError::MigrationChanged {
                            version: m.version,
                            name: m.name.to_string(),
                        });
                    }
                    done = true;
                }
            }
            if !done {
                apply(tx, m, sql, &checksum)?;
            }
        }
        Ok(())
    })
}

fn apply(tx: &mut dyn Tx, m: &Migration, sql: &str, checksum: &str) -> Result<(), StoreError> {
    tx.batch(sql)?;
    tx.exec(
        "INSERT INTO schema_migrations (version, name, checksum) VALUES (?, ?, ?)",
        &[Val::Int(m.version), m.name.into(), checksum.into()],
    )?;
    Ok(())
}

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}
