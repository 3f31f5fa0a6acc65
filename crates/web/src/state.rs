//! What every handler reaches: the connection pool, the loaded policies and the clock.

use std::sync::Arc;

use aftercare_app::Policies;
use aftercare_app::published::Live;
use jiff::Timestamp;

use crate::pool::Pool;

/// Shared by all requests; cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState(pub Arc<Inner>);

#[derive(Debug)]
pub struct Inner {
    pub pool: Arc<Pool>,
    /// The published policies, replaced when a new version is published.
    pub policies: Arc<Live>,
    pub clock: Clock,
    /// Where a customer's sign-in link points, up to its token.
    pub link_base: String,
    /// This server's origin as people reach it (`https://service.shop.example`): a browser's
    /// write from any other is refused.
    pub origin: String,
    pub metrics: crate::metrics::Metrics,
    /// Where evidence files are kept.
    pub blobs: Arc<dyn aftercare_app::evidence::Blobs>,
    /// Wakes the webhook dispatcher (a delivery asked for now).
    pub dispatch: Arc<tokio::sync::Notify>,
    /// Each seller's service-centre address (lines separated by `;`), for return slips.
    pub service_centres: std::collections::BTreeMap<String, String>,
    /// On a demo server, what its landing page lists.
    pub demo: Option<Arc<crate::pages::Demo>>,
    /// The threads that check passwords, and their queue.
    pub hashers: crate::hashing::Hashers,
    /// The proxies whose `X-Forwarded-For` names the client (`--trusted-proxy`).
    pub trusted_proxies: Vec<crate::auth::Cidr>,
    /// Public warranty look-ups of the last few seconds, by serial.
    pub lookups: crate::cache::Ttl<String, crate::routes::warranty::Kept>,
    /// Uploads decoded at once, at most (one per core): decoding is the CPU a caller can make
    /// the server spend, and it runs outside any database connection.
    pub decodes: Arc<tokio::sync::Semaphore>,
    /// The policy studio's what-if runs.
    pub what_ifs: crate::pages::studio::WhatIfs,
}

/// The time handlers act at: the system's, or a fixed moment (replays).
#[derive(Clone, Copy, Debug)]
pub enum Clock {
    System,
    Fixed(Timestamp),
}

impl AppState {
    pub fn now(&self) -> Timestamp {
        match self.0.clock {
            Clock::System => Timestamp::now(),
            Clock::Fixed(t) => t,
        }
    }

    pub fn pool(&self) -> &Arc<Pool> {
        &self.0.pool
    }

    pub fn blobs(&self) -> Arc<dyn aftercare_app::evidence::Blobs> {
        Arc::clone(&self.0.blobs)
    }

    /// Has the webhook dispatcher look for due deliveries now.
    pub fn wake_dispatcher(&self) {
        self.0.dispatch.notify_one();
    }

    /// The policies in force now; a request keeps the handle it took, so one set decides it
    /// from start to end.
    pub fn policies(&self) -> Arc<Policies> {
        self.0.policies.get()
    }
}
