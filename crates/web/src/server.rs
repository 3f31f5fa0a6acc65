//! `aftercare serve`: migrate once, load the policies, listen, and run the timer sweeper
//! beside the requests; stop gracefully on Ctrl-C or SIGTERM (requests in flight finish, the
//! sweeper stops between sweeps).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aftercare_app::{AppError, Policies, timers};
use aftercare_store::Store;

use crate::pool::Pool;
use crate::state::{AppState, Clock, Inner};

/// How a server runs.
#[derive(Debug, Clone)]
pub struct Config {
    pub bind: SocketAddr,
    pub db: String,
    /// Connections to the database at most.
    pub connections: usize,
    /// Sweep due timers this often; `None`: no sweeper in this process.
    pub sweep_every: Option<Duration>,
    pub clock: Clock,
}

/// Serves until `shutdown` resolves (or Ctrl-C / SIGTERM). Calls `ready` with the address
/// it listens on once it accepts connections.
pub fn serve(
    config: Config,
    policies: Policies,
    ready: impl FnOnce(SocketAddr),
) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    // Migrations run once, here; the pool's connections only check the schema version.
    Store::open(&config.db)
        .map_err(|e| format!("cannot open the database `{}`: {e}", config.db))?;
    let policies = Arc::new(policies);
    let state = AppState(Arc::new(Inner {
        pool: Arc::new(Pool::new(&config.db, config.connections)),
        policies: Arc::clone(&policies),
        clock: config.clock,
    }));
    let stop = Arc::new(AtomicBool::new(false));
    let sweeper = config.sweep_every.map(|every| {
        let (db, policies, stop, clock) =
            (config.db.clone(), Arc::clone(&policies), Arc::clone(&stop), config.clock);
        std::thread::spawn(move || {
            let connect = || Store::connect(&db).map_err(AppError::from);
            let now = || match clock {
                Clock::System => jiff::Timestamp::now(),
                Clock::Fixed(t) => t,
            };
            let s = timers::Sweeper {
                every,
                batch: 500,
                rounds: None,
                stop: &stop,
            };
            timers::run_sweeper(&connect, &policies, &now, &s, &mut |round| match round {
                timers::Round::Swept(s) => {
                    for f in &s.fired {
                        tracing::info!(case = f.case_id, timer = f.kind, outcome = %f.outcome, "timer fired");
                    }
                    for f in &s.failed {
                        tracing::error!(case = f.case_id, timer = %f.kind, error = %f.error, "timer not fired; left pending");
                    }
                }
                timers::Round::Failed(e) => tracing::error!(error = %e, "sweep failed; retrying"),
            });
        })
    });
    let result = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.bind)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", config.bind))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        ready(addr);
        axum::serve(listener, crate::router(state))
            .with_graceful_shutdown(shutdown_signal())
            .await
            .map_err(|e| format!("the server stopped: {e}"))
    });
    stop.store(true, Ordering::Relaxed);
    if let Some(t) = sweeper {
        let _ = t.join();
    }
    result
}

/// Ctrl-C, or SIGTERM on Unix.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
