//! `aftercare serve`: migrate once, load the policies, listen, and run the timer sweeper
//! beside the requests; stop gracefully on Ctrl-C or SIGTERM (requests in flight finish, the
//! sweeper stops between sweeps).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aftercare_app::published::Live;
use aftercare_app::{AppError, sweep};
use aftercare_store::Store;

use crate::pool::Pool;
use crate::state::{AppState, Clock, Inner};

/// How a server runs.
#[derive(Debug, Clone)]
pub struct Config {
    pub bind: SocketAddr,
    /// Also serve `/metrics`, without credentials and nothing else, on this address (an
    /// internal one); on `bind` they need a `metrics:read` token either way.
    pub metrics_bind: Option<SocketAddr>,
    pub db: String,
    /// Connections to the database at most.
    pub connections: usize,
    /// Sweep due timers this often; `None`: no sweeper in this process.
    pub sweep_every: Option<Duration>,
    pub clock: Clock,
    /// The address people reach the server at (links in e-mails); default `http://<bind>`.
    pub public_url: Option<String>,
    /// Where e-mails go: a folder of `.eml` files.
    pub mail_dir: std::path::PathBuf,
    /// The `From` of e-mails.
    pub mail_from: String,
    /// Where evidence photos are kept: a folder.
    pub evidence_dir: std::path::PathBuf,
    /// Whether webhooks may go to loopback and private addresses.
    pub webhooks_to_private: bool,
    /// Send e-mails over SMTP (`smtp://…`, `smtps://…`) instead of into `mail_dir`.
    pub smtp: Option<String>,
    /// On a demo server: the accounts its landing page lists.
    pub demo: Option<crate::pages::Demo>,
    /// Keep evidence in an S3-compatible bucket (`s3://BUCKET[/PREFIX]`) instead of
    /// `evidence_dir`.
    pub evidence_s3: Option<String>,
    /// Each seller's service-centre address (lines separated by `;`), for return slips.
    pub service_centres: std::collections::BTreeMap<String, String>,
    /// The proxies in front whose `X-Forwarded-For` names the client; from anyone else the
    /// header is ignored.
    pub trusted_proxies: Vec<crate::auth::Cidr>,
    /// The key the audit log's checkpoints are signed with; without one they are not signed.
    pub audit_key: Option<Arc<aftercare_app::audit::SealKey>>,
}

/// Where a server listens, once it does.
#[derive(Debug, Clone, Copy)]
pub struct Bound {
    /// The API, the pages and everything else.
    pub api: SocketAddr,
    /// `/metrics` without credentials (`Config::metrics_bind`).
    pub metrics: Option<SocketAddr>,
}

/// Serves until Ctrl-C or SIGTERM. Calls `ready` with the addresses it listens on once it
/// accepts connections.
pub fn serve(config: Config, policies: Live, ready: impl FnOnce(Bound)) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    // Migrations run once, here; the pool's connections only check the schema version.
    Store::open(&config.db)
        .map_err(|e| format!("cannot open the database `{}`: {e}", config.db))?;
    // Bound before anything else, so links in e-mails name the port actually taken (with
    // `--bind 127.0.0.1:0` too).
    let listener = std::net::TcpListener::bind(config.bind)
        .and_then(|l| l.set_nonblocking(true).map(|()| l))
        .map_err(|e| format!("cannot listen on {}: {e}", config.bind))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    let metrics_listener = config
        .metrics_bind
        .map(|at| {
            std::net::TcpListener::bind(at)
                .and_then(|l| l.set_nonblocking(true).map(|()| l))
                .map_err(|e| format!("--metrics-bind: cannot listen on {at}: {e}"))
        })
        .transpose()?;
    let policies = Arc::new(policies);
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{bound}"));
    let public_url = public_url.trim_end_matches('/');
    let hashers = crate::hashing::Hashers::per_core()?;
    // The dummy hash a sign-in for a missing account is checked against is made now, on a
    // hashing thread, so that the first such sign-in takes no longer than any other.
    if let Ok(slot) = hashers.slot() {
        let _ = hashers.submit(slot, aftercare_app::accounts::prepare);
    }
    let state = AppState(Arc::new(Inner {
        pool: Arc::new(Pool::new(&config.db, config.connections)),
        policies: Arc::clone(&policies),
        clock: config.clock,
        link_base: format!("{public_url}/portal/sign-in?token="),
        // Scheme and authority only.
        origin: public_url
            .split_once("://")
            .map(|(scheme, rest)| format!("{scheme}://{}", rest.split('/').next().unwrap_or("")))
            .unwrap_or_default(),
        metrics: crate::metrics::Metrics::default(),
        blobs: match &config.evidence_s3 {
            Some(url) => Arc::new(crate::blobs::S3::new(url, runtime.handle().clone())?),
            None => Arc::new(aftercare_app::evidence::Folder(config.evidence_dir.clone())),
        },
        dispatch: Arc::new(tokio::sync::Notify::new()),
        demo: config.demo.clone().map(Arc::new),
        service_centres: config.service_centres.clone(),
        hashers,
        trusted_proxies: config.trusted_proxies.clone(),
        lookups: crate::cache::Ttl::new(crate::routes::warranty::KEPT_FOR, 100_000),
        decodes: Arc::new(tokio::sync::Semaphore::new(
            std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get),
        )),
        what_ifs: crate::pages::studio::WhatIfs::default(),
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
            let s = sweep::Sweeper {
                every,
                batch: 500,
                rounds: None,
                stop: &stop,
            };
            sweep::run_sweeper(&connect, &|| policies.get(), &now, &s, &mut |round| match round {
                sweep::Round::Swept(s) => {
                    for f in &s.fired {
                        tracing::info!(case = f.case_id, timer = f.kind, outcome = %f.outcome, "timer fired");
                    }
                    for f in &s.failed {
                        tracing::error!(case = f.case_id, timer = %f.kind, error = %f.error, "timer not fired; left pending");
                    }
                }
                sweep::Round::Failed(e) => tracing::error!(error = %e, "sweep failed; retrying"),
            });
        })
    });
    // The e-mail outbox, delivered every two seconds by one thread (each message is claimed
    // under a row lock, so several servers deliver it once).
    let mailer = {
        let sender: Box<dyn aftercare_app::outbox::Sender> = match &config.smtp {
            Some(url) => Box::new(crate::mail::Smtp::from_url(url)?),
            None => Box::new(aftercare_app::outbox::Folder(config.mail_dir.clone())),
        };
        let from = config.mail_from.clone();
        periodically(&config.db, &stop, 20, false, move |store| {
            let now = jiff::Timestamp::now();
            aftercare_app::outbox::deliver(store, sender.as_ref(), &from, now, 50)
                .map(|d| {
                    if d.sent + d.failed > 0 {
                        tracing::info!(sent = d.sent, failed = d.failed, "e-mails delivered");
                    }
                })
                .inspect_err(|e| tracing::error!(error = %e, "e-mail delivery failed; retrying"))
        })
    };
    // The audit sealer: every half second, the events written since are folded into the
    // tree and a checkpoint of it is signed. One sealer works at a time across servers (the
    // seal row's lock); the others find it taken and wait for the next round. What the last
    // requests wrote is sealed before the server stops.
    if config.audit_key.is_none() {
        tracing::warn!("no --audit-key: the audit log's checkpoints are not signed");
    }
    let sealer = {
        let key = config.audit_key.clone();
        periodically(&config.db, &stop, 5, true, move |store| {
            aftercare_app::audit::seal_all(store, key.as_deref(), jiff::Timestamp::now())
                .map(|_| ())
                .inspect_err(
                    |e| tracing::error!(error = %e, "sealing the audit log failed; retrying"),
                )
        })
    };
    // New policy versions published (by any server, or the command line) are picked up
    // within a second: the publications' generation is polled (see `published`).
    let reloader = {
        let live = Arc::clone(&policies);
        periodically(&config.db, &stop, 10, false, move |store| {
            match live.refresh(store) {
                Ok(Some(generation)) => {
                    tracing::info!(
                        generation,
                        "policy versions published: now deciding with them"
                    );
                    Ok(())
                }
                Ok(None) => Ok(()),
                Err(e) => {
                    tracing::error!(error = %e, "the published policies did not load; keeping the ones loaded");
                    Err(e)
                }
            }
        })
    };
    // The last handle on the pool is dropped here, outside the runtime: a PostgreSQL
    // connection closes by blocking on its own runtime, which cannot happen in an async task.
    let pool = Arc::clone(state.pool());
    let result = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)
            .map_err(|e| format!("cannot listen on {bound}: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let metrics_listener = metrics_listener
            .map(|l| {
                tokio::net::TcpListener::from_std(l)
                    .map_err(|e| format!("--metrics-bind: cannot listen: {e}"))
            })
            .transpose()?;
        let metrics_addr = metrics_listener
            .as_ref()
            .map(|l| l.local_addr().map_err(|e| e.to_string()))
            .transpose()?;
        // The signal handlers are in place before anyone is told the server is up.
        let stop_signal = shutdown_signal()?;
        // The webhook dispatcher, beside the requests; it stops after them, letting the
        // sends in flight finish.
        let (stop_dispatch, stopped) = tokio::sync::watch::channel(false);
        let dispatcher = tokio::spawn(crate::dispatch::run(
            Arc::clone(state.pool()),
            Arc::clone(&state.0.dispatch),
            stopped,
            crate::dispatch::Settings {
                to_private: config.webhooks_to_private,
                every: Duration::from_secs(1),
            },
        ));
        // The metrics address, beside the requests; it stops with them.
        let metrics_server = metrics_listener.map(|l| {
            let mut stopped = stop_dispatch.subscribe();
            let app = crate::metrics::router(state.clone());
            tokio::spawn(async move {
                axum::serve(l, app)
                    .with_graceful_shutdown(async move {
                        let _ = stopped.changed().await;
                    })
                    .await
            })
        });
        ready(Bound {
            api: addr,
            metrics: metrics_addr,
        });
        // Each request knows its TCP peer (`ConnectInfo`): the client, or a trusted proxy.
        let served = axum::serve(
            listener,
            crate::router(state).into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(stop_signal)
        .await
        .map_err(|e| format!("the server stopped: {e}"));
        let _ = stop_dispatch.send(true);
        let _ = dispatcher.await;
        if let Some(m) = metrics_server {
            match m.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "the metrics address stopped"),
                Err(e) => tracing::error!(error = %e, "the metrics address stopped"),
            }
        }
        served
    });
    drop(runtime);
    drop(pool);
    stop.store(true, Ordering::Relaxed);
    if let Some(t) = sweeper {
        let _ = t.join();
    }
    let _ = mailer.join();
    let _ = sealer.join();
    let _ = reloader.join();
    result
}

/// Runs `work` on a thread of its own every `tenths` tenths of a second until `stop` (and
/// once more after it with `last_round`), with a connection kept between rounds (opened again
/// after a failure).
fn periodically(
    db: &str,
    stop: &Arc<AtomicBool>,
    tenths: u32,
    last_round: bool,
    mut work: impl FnMut(&mut Store) -> Result<(), AppError> + Send + 'static,
) -> std::thread::JoinHandle<()> {
    let (db, stop) = (db.to_string(), Arc::clone(stop));
    std::thread::spawn(move || {
        let mut store: Option<Store> = None;
        let mut round = |store: &mut Option<Store>| {
            let taken = store
                .take()
                .map_or_else(|| Store::connect(&db).map_err(AppError::from), Ok);
            match taken {
                Ok(mut st) => {
                    if work(&mut st).is_ok() {
                        *store = Some(st);
                    }
                }
                Err(e) => tracing::error!(error = %e, "cannot reach the database; retrying"),
            }
        };
        while !stop.load(Ordering::Relaxed) {
            round(&mut store);
            for _ in 0..tenths {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        if last_round {
            round(&mut store);
        }
    })
}

/// Ctrl-C, or SIGTERM on Unix: the handlers are installed when this is called, the future
/// resolves on the first signal.
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>, String> {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| format!("cannot listen for SIGTERM: {e}"))?;
    #[cfg(unix)]
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .map_err(|e| format!("cannot listen for Ctrl-C: {e}"))?;
    Ok(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = term.recv() => {},
            _ = int.recv() => {},
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down: finishing requests in flight");
    })
}
