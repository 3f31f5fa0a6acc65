//! The database from async handlers. The store is synchronous (rusqlite, postgres' blocking
//! client), so each request borrows a connection and runs its use case on tokio's blocking
//! pool; a semaphore bounds the connections. A connection that failed at the database level
//! is dropped rather than reused. Connections come from `Store::connect`, which only checks
//! the schema: migrating is done once, at start.

use std::sync::{Arc, Mutex};

use aftercare_app::AppError;
use aftercare_store::Store;
use tokio::sync::Semaphore;

#[derive(Debug)]
pub struct Pool {
    url: String,
    idle: Mutex<Vec<Store>>,
    permits: Arc<Semaphore>,
}

impl Pool {
    /// A pool of at most `max` connections to `url` (opened as they are needed).
    pub fn new(url: &str, max: usize) -> Self {
        Pool {
            url: url.to_string(),
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(max.max(1))),
        }
    }

    /// The database's URL, for work that keeps a connection of its own for long (a what-if).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Runs `f` with a connection, off the async threads.
    pub async fn run<T, F>(self: &Arc<Self>, f: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Store) -> Result<T, AppError> + Send + 'static,
    {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| AppError::Config("the connection pool is closed".into()))?;
        let idle = self.idle.lock().ok().and_then(|mut v| v.pop());
        let pool = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let mut store = match idle {
                Some(s) => s,
                None => Store::connect(&pool.url)?,
            };
            let result = f(&mut store);
            // A connection whose database failed may be broken: open a new one next time.
            if !matches!(result, Err(AppError::Store(_)))
                && let Ok(mut idle) = pool.idle.lock()
            {
                idle.push(store);
            }
            result
        })
        .await
        .map_err(|e| AppError::Config(format!("a database task failed: {e}")))?
    }
}
