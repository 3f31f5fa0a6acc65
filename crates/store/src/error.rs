//! Storage errors, with the two kinds of constraint violation the service turns into
//! messages about the caller's input.

/// What went wrong in the database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("postgres: {}", pg_message(.0))]
    Postgres(#[from] tokio_postgres::Error),
    #[error("cannot open `{path}`: {message}")]
    Open { path: String, message: String },
    #[error("migration {version} ({name}) was changed after it was applied: its checksum differs")]
    MigrationChanged { version: i64, name: String },
    #[error(
        "the database schema is at version {at}, this build needs {needs}: run `aftercare migrate`"
    )]
    NotMigrated { at: i64, needs: i64 },
    /// A service-level refusal raised inside a transaction (it rolls the transaction back).
    #[error("{0}")]
    Refused(String),
    #[error("internal: {0}")]
    Internal(String),
}

/// The kinds of constraint the schema enforces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Violation {
    Unique,
    Check,
    ForeignKey,
    NotNull,
    /// A trigger refused the change (append-only tables).
    Trigger,
}

impl StoreError {
    /// The constraint this error violated, if it is a constraint violation, with the
    /// database's message (which names the constraint or column).
    pub fn violation(&self) -> Option<(Violation, String)> {
        match self {
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, msg)) => {
                use rusqlite::ffi;
                let kind = match e.extended_code {
                    ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                        Violation::Unique
                    }
                    ffi::SQLITE_CONSTRAINT_CHECK => Violation::Check,
                    ffi::SQLITE_CONSTRAINT_FOREIGNKEY => Violation::ForeignKey,
                    ffi::SQLITE_CONSTRAINT_NOTNULL => Violation::NotNull,
                    ffi::SQLITE_CONSTRAINT_TRIGGER => Violation::Trigger,
                    _ => return None,
                };
                Some((kind, msg.clone().unwrap_or_default()))
            }
            StoreError::Postgres(e) => {
                let db = e.as_db_error()?;
                let kind = match db.code().code() {
                    "23505" => Violation::Unique,
                    "23514" => Violation::Check,
                    "23503" => Violation::ForeignKey,
                    "23502" => Violation::NotNull,
                    // raise_exception, used by the append-only triggers
                    "P0001" => Violation::Trigger,
                    _ => return None,
                };
                let detail = db
                    .constraint()
                    .map_or_else(|| db.message().to_string(), str::to_string);
                Some((kind, detail))
            }
            _ => None,
        }
    }

    /// Whether another transaction got in the way and the work may simply be retried.
    pub fn is_contention(&self) -> bool {
        match self {
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => matches!(
                e.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ),
            StoreError::Postgres(e) => e.as_db_error().is_some_and(|d| {
                // serialization_failure, deadlock_detected
                matches!(d.code().code(), "40001" | "40P01")
            }),
            _ => false,
        }
    }
}

/// A PostgreSQL error with the server's own message (the client's `Display` says only "db
/// error").
fn pg_message(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {} ({})", db.severity(), db.message(), db.code().code()),
        None => e.to_string(),
    }
}
