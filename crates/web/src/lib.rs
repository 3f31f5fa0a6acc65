//! Aftercare over HTTP: the JSON API under `/api/v1` with its OpenAPI document, health and
//! readiness, on axum. Handlers are thin: each parses the request, calls one use case of
//! `aftercare-app` (the same functions the command line calls) on a pooled connection, and
//! turns the result or the error into a response. No SQL and no business rule live here.

pub mod extract;
pub mod openapi;
pub mod pool;
pub mod problem;
pub mod routes;
pub mod server;
pub mod state;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;

pub use server::{Config, serve};
pub use state::{AppState, Clock};

use problem::Problem;

/// Largest request body accepted (evidence uploads have their own, larger limit).
const BODY_LIMIT: usize = 1 << 20;

/// Every route of the server, with its layers.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(routes::health::healthz))
        .route("/readyz", get(routes::health::readyz))
        .route("/api/openapi.json", get(openapi::document))
        .route("/api/v1/warranty/{serial}", get(routes::warranty::lookup))
        .route("/api/v1/policies", get(routes::policies::list))
        .route("/api/v1/policies/{id}", get(routes::policies::read))
        .route(
            "/api/v1/policies/{id}/explain",
            post(routes::policies::explain),
        )
        .fallback(|| async { Problem::not_found("no such resource") })
        .method_not_allowed_fallback(|| async {
            Problem::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method",
                "this resource does not take that method",
            )
        })
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT))
        .layer(CatchPanicLayer::custom(
            |_: Box<dyn std::any::Any + Send>| {
                use axum::response::IntoResponse;
                Problem::internal(&"a handler panicked").into_response()
            },
        ))
        // A span per request with its method and route only: never the path's values or
        // the query (serials, sign-in tokens), never headers (cookies, credentials).
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &axum::http::Request<_>| {
                    let route = req
                        .extensions()
                        .get::<axum::extract::MatchedPath>()
                        .map_or("unmatched", axum::extract::MatchedPath::as_str);
                    tracing::info_span!("request", method = %req.method(), route)
                })
                .on_request(())
                .on_response(
                    tower_http::trace::DefaultOnResponse::new().level(tracing::Level::INFO),
                ),
        )
        .with_state(state)
}
