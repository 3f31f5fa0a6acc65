//! `/metrics`: Prometheus text. Requests by method, route and status, and their latency as a
//! histogram per route; what is waiting in the database (timers pending and due, e-mails
//! unsent). Routes are their patterns (`/api/v1/cases/{id}`), never the values in a path.
//!
//! Not public: the figures tell an outsider what others do (asking for a sign-in link queues
//! an e-mail only when the order number and the address match, so the e-mail gauge would
//! answer that question). On the server's address they are read with an API token that has
//! the `metrics:read` scope; `--metrics-bind` serves them, and nothing else, without
//! credentials on an address of their own, for a scraper on an internal network.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Instant;

use aftercare_app::AppError;
use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::AppState;
use crate::auth::Caller;
use crate::problem::Problem;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 11] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    requests: BTreeMap<(String, String, u16), u64>,
    /// Per route: counts per bucket, the sum of seconds, the count.
    latency: BTreeMap<String, ([u64; BUCKETS.len()], f64, u64)>,
}

impl Metrics {
    fn record(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let Ok(mut m) = self.inner.lock() else { return };
        *m.requests
            .entry((method.to_string(), route.to_string(), status))
            .or_default() += 1;
        let (buckets, sum, count) = m.latency.entry(route.to_string()).or_default();
        for (b, le) in buckets.iter_mut().zip(BUCKETS) {
            if seconds <= le {
                *b += 1;
            }
        }
        *sum += seconds;
        *count += 1;
    }

    fn render(&self, out: &mut String) {
        let Ok(m) = self.inner.lock() else { return };
        out.push_str("# HELP aftercare_http_requests_total HTTP requests answered, by method, route and status.\n# TYPE aftercare_http_requests_total counter\n");
        for ((method, route, status), n) in &m.requests {
            let _ = writeln!(
                out,
                "aftercare_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        out.push_str("# HELP aftercare_http_request_duration_seconds Time to answer, by route.\n# TYPE aftercare_http_request_duration_seconds histogram\n");
        for (route, (buckets, sum, count)) in &m.latency {
            for (le, n) in BUCKETS.iter().zip(buckets) {
                let _ = writeln!(
                    out,
                    "aftercare_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{le}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "aftercare_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {count}"
            );
            let _ = writeln!(
                out,
                "aftercare_http_request_duration_seconds_sum{{route=\"{route}\"}} {sum}"
            );
            let _ = writeln!(
                out,
                "aftercare_http_request_duration_seconds_count{{route=\"{route}\"}} {count}"
            );
        }
    }
}

/// Records every request.
pub async fn layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let response = next.run(req).await;
    state.0.metrics.record(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// `GET /metrics`
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses(
        (status = 200, description = "Prometheus text exposition", body = String, content_type = "text/plain"),
        (status = 401, description = "no valid credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "only an API token with the `metrics:read` scope, of an admin who works for every seller", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn metrics(State(state): State<AppState>, Caller(who): Caller) -> Response {
    if let Err(e) = aftercare_app::access::require_metrics_reader(&who) {
        return Problem::from(e).into_response();
    }
    exposition(&state).await
}

/// The server on the separate metrics address (`--metrics-bind`): `GET /metrics` without
/// credentials, and nothing else.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(open))
        .fallback(|| async { Problem::not_found("this address serves only /metrics") })
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .with_state(state)
}

/// `GET /metrics` on the metrics address: whoever reaches that address may read them.
async fn open(State(state): State<AppState>) -> Response {
    exposition(&state).await
}

/// The Prometheus text of everything counted, and what waits in the database.
async fn exposition(state: &AppState) -> Response {
    let mut out = String::new();
    state.0.metrics.render(&mut out);
    let now = aftercare_app::time_micros(state.now());
    let waiting = state
        .pool()
        .run(move |store| {
            store.read(|tx| -> Result<(i64, i64, i64), AppError> {
                let r = tx.query_one(
                    "SELECT
                       (SELECT COUNT(*) FROM timers WHERE fired_at IS NULL AND cancelled_at IS NULL),
                       (SELECT COUNT(*) FROM timers WHERE fired_at IS NULL AND cancelled_at IS NULL AND due_at <= ?),
                       (SELECT COUNT(*) FROM outbox_emails WHERE sent_at IS NULL)",
                    &[aftercare_store::Val::Int(now)],
                )?;
                Ok((r.int(0)?, r.int(1)?, r.int(2)?))
            })
        })
        .await;
    if let Ok((pending, due, unsent)) = waiting {
        let _ = write!(
            out,
            "# HELP aftercare_timers_pending Case timers waiting for their deadline.\n# TYPE aftercare_timers_pending gauge\naftercare_timers_pending {pending}\n\
             # HELP aftercare_timers_due Timers past their deadline and not yet fired (a sweeper behind or failing).\n# TYPE aftercare_timers_due gauge\naftercare_timers_due {due}\n\
             # HELP aftercare_emails_unsent E-mails waiting in the outbox.\n# TYPE aftercare_emails_unsent gauge\naftercare_emails_unsent {unsent}\n"
        );
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        out,
    )
        .into_response()
}
