//! `/api/v1/webhooks`: subscriptions to case events, their delivery log, and redelivery.
//! Managers and admins of the subscription's seller only. The dispatcher that sends the
//! deliveries is [`crate::dispatch`].

use aftercare_app::webhooks::{self, Created, Delivery, Webhook};
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

use crate::AppState;
use crate::auth::Caller;
use crate::extract::{Json, Path, Query};
use crate::problem::Problem;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    /// The seller whose cases are reported (one the caller works for).
    #[schema(min_length = 1, max_length = 100)]
    pub seller: String,
    /// Where events are posted: an `http://` or `https://` address.
    #[schema(min_length = 8, max_length = 2000)]
    pub url: String,
    /// Event types (`case.open`, `case.approve`, `case.decide`…), or `["*"]` for all.
    #[schema(min_items = 1, max_items = 64)]
    pub events: Vec<String>,
}

/// Subscribes a URL to a seller's case events. The answer carries the signing secret, once.
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks", request_body = NewWebhook,
    params(("Idempotency-Key" = Option<String>, Header, description = "send the same key to retry safely")),
    responses(
        (status = 201, description = "subscribed; the secret is shown this once", body = Created),
        (status = 401, description = "no valid credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "only managers and admins manage webhooks", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "the seller has too many webhooks", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "a field is wrong (the seller, the URL, an event)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create(
    State(state): State<AppState>,
    Caller(who): Caller,
    Json(req): Json<NewWebhook>,
) -> Result<(StatusCode, axum::Json<Created>), Problem> {
    let now = state.now();
    let created = state
        .pool()
        .run(move |store| webhooks::subscribe(store, &who, &req.seller, &req.url, &req.events, now))
        .await?;
    Ok((StatusCode::CREATED, axum::Json(created)))
}

/// The caller's sellers' webhooks, newest first (never their secrets).
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks",
    responses(
        (status = 200, description = "the subscriptions", body = Vec<Webhook>),
        (status = 401, description = "no valid credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "only managers and admins manage webhooks", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list(
    State(state): State<AppState>,
    Caller(who): Caller,
) -> Result<axum::Json<Vec<Webhook>>, Problem> {
    let list = state
        .pool()
        .run(move |store| webhooks::list(store, &who))
        .await?;
    Ok(axum::Json(list))
}

/// Disables a webhook: nothing more is queued or sent to it.
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = i64, Path, description = "the webhook's number")),
    responses(
        (status = 204, description = "disabled"),
        (status = 401, description = "no valid credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "only managers and admins manage webhooks", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such webhook among the caller's sellers", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn disable(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, Problem> {
    let now = state.now();
    state
        .pool()
        .run(move |store| webhooks::disable(store, &who, id, now))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LogQuery {
    /// How many deliveries, newest first (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

/// A webhook's delivery log: its deliveries, newest first, each with every attempt.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries", tag = "webhooks",
    params(("id" = i64, Path, description = "the webhook's number"), LogQuery),
    responses(
        (status = 200, description = "the deliveries", body = Vec<Delivery>),
        (status = 401, description = "no valid credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "only managers and admins manage webhooks", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such webhook among the caller's sellers", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn deliveries(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<i64>,
    Query(q): Query<LogQuery>,
) -> Result<axum::Json<Vec<Delivery>>, Problem> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(Problem::invalid("limit", "between 1 and 500"));
    }
    let list = state
        .pool()
        .run(move |store| webhooks::deliveries(store, &who, id, limit))
        .await?;
    Ok(axum::Json(list))
}

/// Sends a delivery again now (same event id), whether it failed or was delivered.
#[utoipa::path(post, path = "/api/v1/webhook-deliveries/{id}/redeliver", tag = "webhooks",
    params(("id" = i64, Path, description = "the delivery's number"),
        ("Idempotency-Key" = Option<String>, Header, description = "send the same key to retry safely")),
    responses(
        (status = 202, description = "queued to be sent now", body = Delivery),
        (status = 401, description = "no valid credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "only managers and admins manage webhooks", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such delivery among the caller's sellers", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "its webhook is disabled", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn redeliver(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<i64>,
) -> Result<(StatusCode, axum::Json<Delivery>), Problem> {
    let now = state.now();
    let d = state
        .pool()
        .run(move |store| webhooks::redeliver(store, &who, id, now))
        .await?;
    state.wake_dispatcher();
    Ok((StatusCode::ACCEPTED, axum::Json(d)))
}
