//! The routes, one module per resource; each handler calls one use case of `aftercare-app`.

pub mod admin;
pub mod cases;
pub mod evidence;
pub mod health;
pub mod money;
pub mod policies;
pub mod session;
pub mod warranty;
pub mod webhooks;
