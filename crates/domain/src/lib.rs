//! Aftercare's domain, pure: what a case is, the states it goes through and which moves between
//! them are allowed. No storage, no clock: the store and the CLI drive it.

pub mod case;

pub use case::{Action, CaseKind, State, TransitionError};
