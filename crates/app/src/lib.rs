//! Aftercare's service, written once over the storage interface: the registry, cases run
//! through their state machine, decisions kept on record, timers that fire once, and an
//! append-only, hash-chained audit log. Every change and its audit event share one
//! transaction. Time comes in as an argument (`now`); nothing here reads a clock.

pub mod access;
pub mod accounts;
pub mod audit;
mod case;
pub mod cases;
pub mod coverage;
pub mod csv_import;
mod decision;
mod effects;
mod error;
pub mod evidence;
mod facts;
pub mod idempotency;
pub mod import;
pub mod lineage;
pub mod mail_words;
pub mod money;
pub mod outbox;
pub mod personal;
pub mod policies;
pub mod published;
pub mod registry;
pub mod repairs;
mod report_counts;
pub mod reports;
pub mod search;
pub mod simulate;
pub mod stated;
pub mod studio;
pub mod sweep;
mod time;
pub mod timers;
pub mod webhooks;

pub use error::AppError;
pub use policies::Policies;

/// An instant as the database stores it (microseconds since 1970 UTC).
pub fn time_micros(t: jiff::Timestamp) -> i64 {
    time::micros(t)
}
