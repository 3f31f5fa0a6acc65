//! The routes, one module per resource; each handler calls one use case of `aftercare-app`.

pub mod cases;
pub mod health;
pub mod policies;
pub mod session;
pub mod warranty;
