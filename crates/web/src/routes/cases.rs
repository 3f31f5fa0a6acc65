//! `/api/v1/cases`: open, list, read, decide and move cases, each within what the caller
//! sees (their sellers' cases for staff, their own for a customer) and may do.

use aftercare_app::access::{self, Filter};
use aftercare_app::cases::{self, Case, NewCase, Step};
use aftercare_domain::case::{Action, CaseKind, State as CaseState};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::auth::Caller;
use crate::extract::{Json, Path, Query};
use crate::problem::Problem;

/// A case, in brief.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CaseSummary {
    pub id: i64,
    pub kind: String,
    pub state: String,
    pub order_no: Option<String>,
    pub serial: Option<String>,
    pub policy: String,
    pub authorisation: Option<String>,
    pub ship_by: Option<String>,
    pub opened_at: String,
    pub updated_at: String,
    /// Send it in `If-Match` to move the case only if nobody moved it since.
    pub version: String,
}

fn summary(c: &Case) -> CaseSummary {
    CaseSummary {
        id: c.id,
        kind: c.kind.as_str().to_string(),
        state: c.state.as_str().to_string(),
        order_no: c.order_no.clone(),
        serial: c.serial.clone(),
        policy: c.policy_id.clone(),
        authorisation: c.authorisation.clone(),
        ship_by: c.ship_by.map(|d| d.to_string()),
        opened_at: c.opened_at.to_string(),
        updated_at: c.updated_at.to_string(),
        version: c.version(),
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only cases in this state.
    pub state: Option<CaseState>,
    /// Only cases of this kind.
    pub kind: Option<CaseKind>,
    /// Only this seller's cases (among the caller's own).
    pub seller: Option<String>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = "^[0-9]{1,18}$")]
    pub cursor: Option<String>,
    /// Cases per page (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CasePage {
    pub items: Vec<CaseSummary>,
    /// Pass it as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// The cases the caller sees, newest first, a page at a time.
#[utoipa::path(get, path = "/api/v1/cases", tag = "cases", params(ListQuery),
    responses(
        (status = 200, description = "a page of cases", body = CasePage),
        (status = 401, description = "no valid credentials", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "a filter is wrong; `field` names it", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list(
    State(state): State<AppState>,
    Caller(who): Caller,
    Query(q): Query<ListQuery>,
) -> Result<axum::Json<CasePage>, Problem> {
    let filter = Filter {
        state: q.state,
        kind: q.kind,
        seller: q.seller,
        before: q
            .cursor
            .as_deref()
            .map(|c| {
                c.parse::<i64>().map_err(|_| {
                    Problem::invalid("cursor", "pass the `next_cursor` of the previous page")
                })
            })
            .transpose()?,
        after: None,
        limit: match q.limit {
            Some(n) if (1..=200).contains(&n) => n,
            Some(_) => return Err(Problem::invalid("limit", "from 1 to 200")),
            None => 50,
        },
    };
    let policies = state.policies();
    let page = state
        .pool()
        .run(move |store| access::list(store, &policies, &who, &filter))
        .await?;
    Ok(axum::Json(CasePage {
        items: page.cases.iter().map(summary).collect(),
        next_cursor: page.next.map(|n| n.to_string()),
    }))
}

/// A new case.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenCase {
    pub kind: CaseKind,
    pub order_no: Option<String>,
    pub serial: Option<String>,
    /// Staff only: the customer's reference (a customer opens cases as themselves).
    pub customer: Option<String>,
    /// Staff only: the seller policy, when the SKU does not tell.
    pub policy: Option<String>,
    /// What the customer reports, by fact path (`{"problem.reported": "defect"}`).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub facts: serde_json::Map<String, serde_json::Value>,
    /// The customer's own words about what happened (at most 4,000 characters).
    #[schema(max_length = 4000)]
    pub description: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Opened {
    pub id: i64,
}

/// Opens a case in `draft`: a customer for one of their own orders, staff for a seller they
/// work for.
#[utoipa::path(post, path = "/api/v1/cases", tag = "cases", request_body = OpenCase,
    params(("Idempotency-Key" = Option<String>, Header, description = "send the same key to retry safely: the case is opened once")),
    responses(
        (status = 201, description = "opened; `Location` names it", body = Opened),
        (status = 401, description = "no valid credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "the token may not open cases", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "a field is wrong; `field` names it", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn open(
    State(state): State<AppState>,
    Caller(who): Caller,
    key: Option<axum::Extension<crate::idempotent::RequestKey>>,
    Json(req): Json<OpenCase>,
) -> Result<Response, Problem> {
    let new = NewCase {
        open_key: key.map(|axum::Extension(k)| k.0),
        kind: Some(req.kind),
        customer: req.customer,
        order_no: req.order_no,
        serial: req.serial,
        policy: req.policy,
        facts: req.facts,
        description: req.description,
    };
    let policies = state.policies();
    let now = state.now();
    let id = state
        .pool()
        .run(move |store| access::open(store, &policies, &who, &new, now))
        .await?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/api/v1/cases/{id}"))],
        axum::Json(Opened { id }),
    )
        .into_response())
}

/// [`with_etag`] with the `version` the body itself states.
fn with_own_etag(body: serde_json::Value) -> Response {
    let version = body
        .get("version")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("")
        .to_string();
    with_etag(body, &version)
}

fn with_etag(body: serde_json::Value, version: &str) -> Response {
    let mut r = axum::Json(body).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("\"{version}\"")) {
        r.headers_mut().insert(header::ETAG, v);
    }
    r
}

/// A case with its latest decision, timers, quotes and history; `can` lists the moves the
/// caller may take. `ETag` is its version.
#[utoipa::path(get, path = "/api/v1/cases/{id}", tag = "cases",
    params(("id" = i64, Path, description = "the case's number")),
    responses(
        (status = 200, description = "the case", body = Object),
        (status = 401, description = "no valid credentials", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such case, or not one the caller sees", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn read(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<i64>,
) -> Result<Response, Problem> {
    let policies = state.policies();
    let shown = state
        .pool()
        .run(move |store| access::show(store, &policies, &who, id))
        .await?;
    Ok(with_own_etag(shown))
}

/// A move.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Move {
    /// The move (see `can` on the case for those the caller may take now).
    pub action: Action,
    /// Facts the move establishes (inspection findings, parcel condition…).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub facts: serde_json::Map<String, serde_json::Value>,
    pub note: Option<String>,
    /// For `approve`: the authorisation number (default `RA-<case>`).
    pub authorisation: Option<String>,
    /// For `approve`: the ship-by date (default: the decision's).
    #[schema(format = Date)]
    pub ship_by: Option<String>,
    /// For `quote`: its lines, `KIND:DESCRIPTION:AMOUNT` (`part:Fan:25.00`).
    #[serde(default)]
    pub quote_lines: Vec<String>,
    /// For `submit` and `provide_info`: the customer's own words about what happened, in place
    /// of the case's (at most 4,000 characters). A policy that asks for a description (CryptKi
    /// 5.1, 8) counts it.
    #[schema(max_length = 4000)]
    pub description: Option<String>,
}

/// Moves a case. With `If-Match` (its `ETag`/`version`), only if nobody moved it since: a
/// stale version gets 412. Who takes which move: customers send, ship, pay, decline, cancel
/// and answer; agents handle the case (approve, receive, refuse on arrival, quote, `refund`:
/// the refund the decision gives, nothing else); technicians receive, refuse on arrival,
/// inspect, quote, repair, replace and ship back; managers and admins take every move,
/// `refund_paid` among them. A move states only the facts its caller's role may state.
#[utoipa::path(post, path = "/api/v1/cases/{id}/transitions", tag = "cases",
    params(
        ("id" = i64, Path, description = "the case's number"),
        ("If-Match" = Option<String>, Header, description = "the case's version as last read"),
        ("Idempotency-Key" = Option<String>, Header, description = "send the same key to retry safely: the move is made once"),
    ),
    request_body = Move,
    responses(
        (status = 200, description = "the case after the move", body = CaseSummary),
        (status = 401, description = "no valid credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "the caller may not take this move", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such case, or not one the caller sees", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "the case's state does not allow the move", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "the case changed since the version in `If-Match`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "a field is wrong; `field` names it", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn transition(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Json(req): Json<Move>,
) -> Result<Response, Problem> {
    let action: Action = req.action;
    let ship_by = req
        .ship_by
        .as_deref()
        .map(|d| {
            d.parse::<jiff::civil::Date>().map_err(|_| {
                Problem::invalid("ship_by", format!("`{d}` is not a date (YYYY-MM-DD)"))
            })
        })
        .transpose()?;
    let if_version = if_match(&headers);
    let step = Step {
        facts: req.facts,
        note: req.note,
        authorisation: req.authorisation,
        ship_by,
        quote_lines: req.quote_lines,
        description: req.description,
        if_version,
        ..Step::new(action)
    };
    let policies = state.policies();
    let now = state.now();
    let case = state
        .pool()
        .run(move |store| access::transition(store, &policies, &who, id, &step, now))
        .await?;
    let s = summary(&case);
    let version = s.version.clone();
    Ok(with_etag(
        serde_json::to_value(&s).map_err(|e| Problem::internal(&e))?,
        &version,
    ))
}

/// What a repair or replacement did.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RepairReportRequest {
    /// Whether the fault is cured (`false`: a failed repair, which counts towards replacement
    /// after repeated repairs, IMASK Three Guarantees Rights 4). Default `true`.
    #[serde(default = "cured")]
    pub fixed: bool,
    /// Parts replaced, by name (the unit's components, or others); each gets the warranty the
    /// policy gives.
    #[serde(default)]
    #[schema(max_items = 20)]
    pub parts: Vec<String>,
    /// The serial of a unit given in exchange; it joins the registry with its own warranty.
    pub replacement_serial: Option<String>,
}

fn cured() -> bool {
    true
}

/// Records what the repair or replacement of a case in `repairing` or `replacing` did: the
/// parts replaced, each with the warranty end the policy gives and the clause that gives it;
/// whether the fault is cured; the unit given in exchange. Technicians, managers and admins.
/// With `If-Match`, only if nobody moved the case since. The answer is the report as recorded,
/// with the case's new `version`.
#[utoipa::path(post, path = "/api/v1/cases/{id}/repair-report", tag = "cases",
    params(
        ("id" = i64, Path, description = "the case's number"),
        ("If-Match" = Option<String>, Header, description = "the case's version as last read"),
        ("Idempotency-Key" = Option<String>, Header, description = "send the same key to retry safely: the report is recorded once"),
    ),
    request_body = RepairReportRequest,
    responses(
        (status = 200, description = "the report as recorded: parts with their warranty end and clause, the outcome, the replacement", body = Object),
        (status = 401, description = "no valid credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "the caller does not record repairs", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such case, or not one the caller sees", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "the case is not `repairing` or `replacing`", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "the case changed since the version in `If-Match`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "a field is wrong; `field` names it", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn repair_report(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Json(req): Json<RepairReportRequest>,
) -> Result<Response, Problem> {
    let report = aftercare_app::repairs::RepairReport {
        fixed: req.fixed,
        parts: req.parts,
        replacement_serial: req.replacement_serial,
        if_version: if_match(&headers),
    };
    let policies = state.policies();
    let now = state.now();
    let detail = state
        .pool()
        .run(move |store| access::record_repair(store, &policies, &who, id, &report, now))
        .await?;
    Ok(with_own_etag(detail))
}

/// A correction of the seller's records for one case.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CorrectionRequest {
    /// Facts of the records as they should have been (`{"order.delivered": "2024-03-02"}`);
    /// only facts whose source is the registry (see `aftercare policy facts`).
    #[schema(value_type = Object)]
    pub facts: serde_json::Map<String, serde_json::Value>,
    /// Why the records are wrong (kept in the audit log).
    #[schema(min_length = 1, max_length = 500)]
    pub reason: String,
}

/// Corrects the seller's records for this case (a delivery date the carrier got wrong, a
/// price): managers and admins. Audited with the values before and after; the case is decided
/// again. The registry itself is not changed. With `If-Match`, only if nobody moved the case.
#[utoipa::path(post, path = "/api/v1/cases/{id}/corrections", tag = "cases",
    params(
        ("id" = i64, Path, description = "the case's number"),
        ("If-Match" = Option<String>, Header, description = "the case's version as last read"),
    ),
    request_body = CorrectionRequest,
    responses(
        (status = 200, description = "the case after the correction", body = CaseSummary),
        (status = 401, description = "no valid credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "only managers and admins correct the records", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such case, or not one the caller sees", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "the case changed since the version in `If-Match`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "a fact is not of the records, or a value is wrong; `field` names it", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn correct(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Json(req): Json<CorrectionRequest>,
) -> Result<Response, Problem> {
    let correction = cases::Correction {
        facts: req.facts,
        reason: req.reason,
        if_version: if_match(&headers),
    };
    let policies = state.policies();
    let now = state.now();
    let case = state
        .pool()
        .run(move |store| access::correct(store, &policies, &who, id, &correction, now))
        .await?;
    let s = summary(&case);
    let version = s.version.clone();
    Ok(with_etag(
        serde_json::to_value(&s).map_err(|e| Problem::internal(&e))?,
        &version,
    ))
}

/// The version a request's `If-Match` names, if any.
fn if_match(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.trim()
                .trim_start_matches("W/")
                .trim_matches('"')
                .to_string()
        })
}

/// Decides the case now and keeps the decision on record (staff; a customer reads the latest
/// decision on the case).
#[utoipa::path(post, path = "/api/v1/cases/{id}/decide", tag = "cases",
    params(("id" = i64, Path, description = "the case's number")),
    responses(
        (status = 200, description = "the decision on record", body = Object),
        (status = 401, description = "no valid credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "a customer, or a token without `cases:write`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such case, or not one the caller sees", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn decide(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<i64>,
) -> Result<axum::Json<serde_json::Value>, Problem> {
    let policies = state.policies();
    let now = state.now();
    match &who {
        aftercare_app::accounts::Principal::Staff { scopes, .. }
            if !access::has_scope(scopes.as_deref(), "cases:write") =>
        {
            return Err(Problem::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "this token may not decide cases",
            ));
        }
        // Deciding records a decision: the service's to do. A customer reads the latest one
        // on the case (`GET /api/v1/cases/{id}`), which every move keeps current.
        aftercare_app::accounts::Principal::Customer { .. } => {
            return Err(Problem::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "a customer reads the case's decision on the case; deciding again is for staff",
            ));
        }
        aftercare_app::accounts::Principal::Staff { .. } => {}
    }
    let rec = state
        .pool()
        .run(move |store| {
            store.read(|tx| access::load_for(tx, &policies, &who, id).map(|_| ()))?;
            cases::decide(store, &policies, id, &who.actor(), now)
        })
        .await?;
    Ok(axum::Json(
        serde_json::json!({"id": rec.id, "decision": rec.summary}),
    ))
}
