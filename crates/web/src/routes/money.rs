//! `/api/v1/refunds`: recording a refund of an order and marking it paid out. Managers and
//! admins of the order's seller only: these move money. A refund carries its own key, so the
//! same refund sent twice is recorded once (as well as the `Idempotency-Key` layer's replay).

use aftercare_app::access;
use aftercare_app::money::RefundRequest;
use aftercare_policy::value::Money;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::auth::Caller;
use crate::extract::{Json, Path};
use crate::problem::Problem;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRefund {
    #[schema(min_length = 1, max_length = 100)]
    pub order_no: String,
    /// Amount and currency, like `"100.00 EUR"`; never more than was paid, over all refunds.
    #[schema(pattern = "^[0-9]{1,12}(\\.[0-9]{1,3})? [A-Z]{3}$")]
    pub amount: String,
    /// The refund's own key: the same key again records nothing new.
    #[schema(min_length = 1, max_length = 200)]
    pub key: String,
    pub case_id: Option<i64>,
    #[serde(default)]
    pub reason: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RefundView {
    pub id: i64,
    pub order_no: String,
    pub amount: String,
    /// Already recorded under this key before this request.
    pub replayed: bool,
}

/// Records a refund of an order, of any amount up to what was paid: managers and admins of the
/// order's seller. (An agent records the refund a case's decision gives with the case's
/// `refund` move, whose amount is the policy's, not the caller's.)
#[utoipa::path(post, path = "/api/v1/refunds", tag = "refunds", request_body = NewRefund,
    params(("Idempotency-Key" = Option<String>, Header, description = "send the same key to retry safely")),
    responses(
        (status = 201, description = "recorded (or found under its key)", body = RefundView),
        (status = 401, description = "no valid credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "only managers and admins record refunds", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "a field is wrong, or the total would exceed what was paid", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn record(
    State(state): State<AppState>,
    Caller(who): Caller,
    Json(req): Json<NewRefund>,
) -> Result<(StatusCode, axum::Json<RefundView>), Problem> {
    let money = Money::parse(&req.amount).map_err(|e| Problem::invalid("amount", e))?;
    let request = RefundRequest {
        order_no: req.order_no,
        case_id: req.case_id,
        amount_minor: money.minor,
        currency: Some(money.currency.as_str().to_string()),
        idempotency_key: req.key,
        reason: req.reason,
    };
    let now = state.now();
    let policies = state.policies();
    let r = state
        .pool()
        .run(move |store| access::record_refund(store, &policies, &who, &request, now))
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(RefundView {
            id: r.id,
            order_no: r.order_no,
            amount: r.amount,
            replayed: r.replayed,
        }),
    ))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Paid {
    pub id: i64,
    pub paid: bool,
}

/// Marks a refund paid out: managers and admins of the order's seller.
#[utoipa::path(post, path = "/api/v1/refunds/{id}/paid", tag = "refunds",
    params(("id" = i64, Path, description = "the refund's number")),
    responses(
        (status = 200, description = "marked paid", body = Paid),
        (status = 401, description = "no valid credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "only managers and admins pay refunds out", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such refund among the caller's sellers", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "already paid", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn paid(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<i64>,
) -> Result<axum::Json<Paid>, Problem> {
    let now = state.now();
    state
        .pool()
        .run(move |store| access::mark_refund_paid(store, &who, id, now))
        .await?;
    Ok(axum::Json(Paid { id, paid: true }))
}
