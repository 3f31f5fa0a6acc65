//! One module per command group.

pub mod policy;
pub mod service;
