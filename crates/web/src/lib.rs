//! Aftercare over HTTP: the JSON API under `/api/v1` with its OpenAPI document, health and
//! readiness, on axum. Handlers are thin: each parses the request, calls one use case of
//! `aftercare-app` (the same functions the command line calls) on a pooled connection, and
//! turns the result or the error into a response. No SQL and no business rule live here.

pub mod auth;
pub mod blobs;
pub mod cache;
pub mod dispatch;
pub mod extract;
pub mod hashing;
pub mod idempotent;
pub mod mail;
pub mod metrics;
pub mod openapi;
pub mod origin;
pub mod pages;
pub mod pool;
pub mod problem;
pub mod routes;
pub mod server;
pub mod state;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::routing::{MethodRouter, get, post};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

pub use server::{Bound, Config, serve};
pub use state::{AppState, Clock};

use problem::Problem;

/// Largest request body at all (the registry import); each JSON body is held to axum's
/// 2 MB default by its extractor.
pub(crate) const BODY_LIMIT: usize = routes::admin::IMPORT_LIMIT;

/// One route: a path, the methods it answers, and its handlers.
#[derive(Debug)]
pub struct Route {
    pub path: &'static str,
    pub methods: &'static [&'static str],
    handler: MethodRouter<AppState>,
}

fn route(
    path: &'static str,
    methods: &'static [&'static str],
    handler: MethodRouter<AppState>,
) -> Route {
    Route {
        path,
        methods,
        handler,
    }
}

/// Every route of the server. Tests read this list (the role matrix classifies each entry,
/// and fails on one it does not know), so a route is added here or nowhere.
pub fn routes() -> Vec<Route> {
    use routes::{admin, cases, evidence, health, money, policies, session, warranty, webhooks};
    vec![
        route("/", &["GET"], get(crate::pages::landing)),
        route("/warranty", &["GET"], get(crate::pages::warranty)),
        route("/assets/{file}", &["GET"], get(crate::pages::asset)),
        route(
            "/portal/sign-in",
            &["GET", "POST"],
            get(crate::pages::portal::sign_in_page).post(crate::pages::portal::request_link),
        ),
        route(
            "/portal/session",
            &["POST"],
            post(crate::pages::portal::redeem),
        ),
        route(
            "/portal/sign-out",
            &["POST"],
            post(crate::pages::portal::sign_out),
        ),
        route("/portal", &["GET"], get(crate::pages::portal::cases)),
        route(
            "/portal/cases/{id}/photos",
            &["POST"],
            post(crate::pages::portal::upload).layer(axum::extract::DefaultBodyLimit::max(
                aftercare_app::evidence::MAX_BYTES + 64 * 1024,
            )),
        ),
        route(
            "/portal/cases/{id}/slip",
            &["GET"],
            get(crate::pages::portal::slip),
        ),
        route(
            "/portal/start",
            &["GET", "POST"],
            get(crate::pages::start::start).post(crate::pages::start::post),
        ),
        route(
            "/desk/sign-in",
            &["GET", "POST"],
            get(crate::pages::desk::sign_in_page).post(crate::pages::desk::sign_in),
        ),
        route(
            "/desk/sign-out",
            &["POST"],
            post(crate::pages::desk::sign_out),
        ),
        route("/desk", &["GET"], get(crate::pages::desk::queue)),
        route("/desk/search", &["GET"], get(crate::pages::desk::search)),
        route(
            "/desk/reports",
            &["GET"],
            get(crate::pages::reports::reports_page),
        ),
        route(
            "/desk/reports/{file}",
            &["GET"],
            get(crate::pages::reports::report_csv),
        ),
        route("/desk/policies", &["GET"], get(crate::pages::studio::list)),
        route(
            "/desk/policies/new",
            &["GET", "POST"],
            get(crate::pages::studio::new_policy).post(crate::pages::studio::new_policy_post),
        ),
        route(
            "/desk/policies/{id}",
            &["GET"],
            get(crate::pages::studio::policy),
        ),
        route(
            "/desk/policies/{id}/draft",
            &["GET", "POST"],
            get(crate::pages::studio::draft).post(crate::pages::studio::draft_post),
        ),
        route(
            "/desk/policies/{id}/compare",
            &["GET"],
            get(crate::pages::studio::compare),
        ),
        route(
            "/desk/policies/{id}/what-if",
            &["POST"],
            post(crate::pages::studio::what_if_start),
        ),
        route(
            "/desk/policies/{id}/what-if/{job}",
            &["GET"],
            get(crate::pages::studio::what_if_page),
        ),
        route(
            "/desk/policies/{id}/what-if/{job}/stop",
            &["POST"],
            post(crate::pages::studio::what_if_stop),
        ),
        route(
            "/desk/cases/{id}",
            &["GET"],
            get(crate::pages::desk_case::case),
        ),
        route(
            "/desk/cases/{id}/move",
            &["POST"],
            post(crate::pages::desk_case::move_case),
        ),
        route(
            "/desk/cases/{id}/photos",
            &["POST"],
            post(crate::pages::desk_case::upload).layer(axum::extract::DefaultBodyLimit::max(
                aftercare_app::evidence::MAX_BYTES + 64 * 1024,
            )),
        ),
        route(
            "/desk/cases/{id}/repair",
            &["POST"],
            post(crate::pages::desk_case::repair),
        ),
        route(
            "/desk/cases/{id}/scenario",
            &["POST"],
            post(crate::pages::desk_case::save_scenario),
        ),
        route(
            "/desk/cases/{id}/what-if",
            &["POST"],
            post(crate::pages::desk_case::what_if),
        ),
        route(
            "/portal/cases/{id}",
            &["GET"],
            get(crate::pages::portal::case),
        ),
        route(
            "/portal/cases/{id}/move",
            &["POST"],
            post(crate::pages::portal::move_case),
        ),
        route("/healthz", &["GET"], get(health::healthz)),
        route("/readyz", &["GET"], get(health::readyz)),
        route("/metrics", &["GET"], get(metrics::metrics)),
        route("/api/openapi.json", &["GET"], get(openapi::document)),
        route("/api/v1/warranty/{serial}", &["GET"], get(warranty::lookup)),
        route(
            "/api/v1/session",
            &["POST", "DELETE"],
            post(session::sign_in).delete(session::sign_out),
        ),
        route("/api/v1/me", &["GET"], get(session::me)),
        route(
            "/api/v1/customer/sign-in-links",
            &["POST"],
            post(session::request_link),
        ),
        route("/api/v1/customer/session", &["POST"], post(session::redeem)),
        route(
            "/api/v1/cases",
            &["GET", "POST"],
            get(cases::list).post(cases::open),
        ),
        route("/api/v1/cases/{id}", &["GET"], get(cases::read)),
        route(
            "/api/v1/cases/{id}/transitions",
            &["POST"],
            post(cases::transition),
        ),
        route("/api/v1/cases/{id}/decide", &["POST"], post(cases::decide)),
        route(
            "/api/v1/cases/{id}/corrections",
            &["POST"],
            post(cases::correct),
        ),
        route(
            "/api/v1/cases/{id}/repair-report",
            &["POST"],
            post(cases::repair_report),
        ),
        route(
            "/api/v1/cases/{id}/evidence",
            &["GET", "POST"],
            get(evidence::list)
                .post(evidence::attach)
                .layer(axum::extract::DefaultBodyLimit::max(
                    aftercare_app::evidence::MAX_BYTES + 1024,
                )),
        ),
        route("/api/v1/evidence/{id}", &["GET"], get(evidence::download)),
        route("/api/v1/refunds", &["POST"], post(money::record)),
        route("/api/v1/refunds/{id}/paid", &["POST"], post(money::paid)),
        route("/api/v1/customers/{ref}", &["GET"], get(admin::export)),
        route(
            "/api/v1/customers/{ref}/erase",
            &["POST"],
            post(admin::erase),
        ),
        route(
            "/api/v1/registry",
            &["POST"],
            post(admin::import).layer(axum::extract::DefaultBodyLimit::max(admin::IMPORT_LIMIT)),
        ),
        route("/api/v1/audit/verify", &["GET"], get(admin::verify)),
        route("/api/v1/policies", &["GET"], get(policies::list)),
        route("/api/v1/policies/{id}", &["GET"], get(policies::read)),
        route(
            "/api/v1/policies/{id}/explain",
            &["POST"],
            post(policies::explain),
        ),
        route(
            "/api/v1/webhooks",
            &["GET", "POST"],
            get(webhooks::list).post(webhooks::create),
        ),
        route(
            "/api/v1/webhooks/{id}",
            &["DELETE"],
            axum::routing::delete(webhooks::disable),
        ),
        route(
            "/api/v1/webhooks/{id}/deliveries",
            &["GET"],
            get(webhooks::deliveries),
        ),
        route(
            "/api/v1/webhook-deliveries/{id}/redeliver",
            &["POST"],
            post(webhooks::redeliver),
        ),
    ]
}

/// The server: every route, with its layers.
pub fn router(state: AppState) -> Router {
    routes()
        .into_iter()
        .fold(Router::new(), |r, rt| r.route(rt.path, rt.handler))
        .fallback(|| async { Problem::not_found("no such resource") })
        .method_not_allowed_fallback(|| async {
            Problem::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method",
                "this resource does not take that method",
            )
        })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            idempotent::layer,
        ))
        // Before anything else reads the request: a write a browser sends from another site.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            origin::layer,
        ))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::layer,
        ))
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT))
        .layer(CatchPanicLayer::custom(
            |_: Box<dyn std::any::Any + Send>| {
                use axum::response::IntoResponse;
                Problem::internal(&"a handler panicked").into_response()
            },
        ))
        // Pages and JSON carry personal data and session secrets: no cache keeps an answer
        // unless its handler says it may (the vendored assets and the public warranty
        // look-up, which carry nothing personal).
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(tower_http::request_id::PropagateRequestIdLayer::x_request_id())
        // A span per request with its id, method and route only: never the path's values or
        // the query (serials, sign-in tokens), never other headers (cookies, credentials).
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &axum::http::Request<_>| {
                    let route = req
                        .extensions()
                        .get::<axum::extract::MatchedPath>()
                        .map_or("unmatched", axum::extract::MatchedPath::as_str);
                    let id = req
                        .headers()
                        .get(X_REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("");
                    tracing::info_span!("request", id, method = %req.method(), route)
                })
                .on_request(())
                .on_response(
                    tower_http::trace::DefaultOnResponse::new().level(tracing::Level::INFO),
                ),
        )
        .layer(tower_http::request_id::SetRequestIdLayer::x_request_id(
            RequestIds::default(),
        ))
        // Before an id is kept: a caller's id of another form is dropped here, so it is
        // replaced, never echoed or logged.
        .layer(axum::middleware::from_fn(screen_request_id))
        .with_state(state)
}

/// Whether a caller's request id may be kept: 1 to 64 letters, digits and `-`.
fn sane_request_id(v: &axum::http::HeaderValue) -> bool {
    (1..=64).contains(&v.len())
        && v.as_bytes()
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
}

/// Drops the caller's `X-Request-Id` unless it is one sane value ([`sane_request_id`]):
/// `SetRequestIdLayer` keeps whatever the header holds and makes an id only when there is
/// none, so an id of any other form (quotes, markup, too long, several) is removed first
/// and a new one is made in its place.
async fn screen_request_id(
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let mut given = req.headers().get_all(X_REQUEST_ID).iter();
    let keep = match (given.next(), given.next()) {
        (None, _) => true,
        (Some(v), None) => sane_request_id(v),
        (Some(_), Some(_)) => false,
    };
    if !keep {
        req.headers_mut().remove(X_REQUEST_ID);
    }
    next.run(req).await
}

const X_REQUEST_ID: &str = "x-request-id";

/// Request ids: the caller's `X-Request-Id` when it sends a sane one (what
/// [`screen_request_id`] lets through), else a new one (a random prefix per process and a
/// counter), echoed in the response and in the logs.
#[derive(Clone, Debug)]
struct RequestIds {
    prefix: String,
    next: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Default for RequestIds {
    fn default() -> Self {
        let mut b = [0u8; 4];
        let _ = getrandom::fill(&mut b);
        RequestIds {
            prefix: aftercare_store::hex(&b),
            next: std::sync::Arc::default(),
        }
    }
}

impl tower_http::request_id::MakeRequestId for RequestIds {
    /// Called when the request has no id (tower-http keeps one that is there).
    fn make_request_id<B>(
        &mut self,
        _: &axum::http::Request<B>,
    ) -> Option<tower_http::request_id::RequestId> {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        axum::http::HeaderValue::from_str(&format!("{}-{n}", self.prefix))
            .ok()
            .map(tower_http::request_id::RequestId::new)
    }
}
