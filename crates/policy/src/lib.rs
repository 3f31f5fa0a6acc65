//! The Aftercare policy language: a seller's after-sales document as a checked, executable
//! file, and `decide(policy, facts, now)`, a pure function from facts to a decision that
//! cites the document's own clauses. No clock, no files, no database in here.
//!
//! See `docs/policy-language.md` for the language and `docs/corpus.md` for scenarios.

pub mod corpus;
pub mod decide;
pub mod decision;
pub mod diag;
pub mod explain;
pub mod expr;
pub mod facts;
pub mod json;
mod lint;
pub mod load;
pub mod model;
pub mod mutate;
pub mod schema;
pub mod set;
pub mod split;
pub mod value;

pub use decide::{Decision, Detail, Status, decide, decide_in};
pub use diag::{Diagnostic, Diagnostics};
pub use facts::Facts;
pub use model::Policy;
pub use set::{PolicySet, SourceFile};
