//! Cases, use case by use case: opening one ([`open`]), moving it through the state machine of
//! `aftercare_domain::case` ([`moves`]), correcting the records it was decided on
//! ([`correct`]) and reading it ([`read`]). The timer sweep and repair reports are use cases
//! too (`crate::sweep`, `crate::repairs`).
//!
//! Each use case builds on the layers below it, which never call back up:
//! - [`crate::case`]: a case as stored (its row, read and locked, written back);
//! - [`crate::decision`]: the facts a case is decided on, the decision and its record;
//! - [`crate::effects`], [`crate::timers`]: what a recorded change sets off (webhook events,
//!   e-mail, the case's timers);
//! - [`crate::facts`], [`crate::lineage`], [`crate::audit`], [`crate::money`]: the registry's
//!   facts, a unit's lineage, the audit chains, refunds.

mod correct;
mod moves;
mod open;
mod read;

pub(crate) use crate::case::CASE_COLUMNS;
pub use crate::case::{Case, MAX_DESCRIPTION, find, load};
pub use crate::decision::{Recorded, reexplain};
pub use correct::{Correction, correct};
pub use moves::{QuoteLine, Step, currency_of, decide, transition};
pub(crate) use moves::{by_hand, transition_in, transition_loaded};
pub use open::{NewCase, open, open_in, policy_for};
pub use read::{decisions, list, preview, show, what_if};
