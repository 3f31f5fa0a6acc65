//! Customers (export, erase), the registry (import) and the audit log (verify).

use aftercare_app::{access, audit, import};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use serde::Serialize;

use crate::AppState;
use crate::auth::Caller;
use crate::extract::Path;
use crate::problem::Problem;

/// Everything held about a customer: their record, orders, cases and refunds.
#[utoipa::path(get, path = "/api/v1/customers/{ref}", tag = "customers",
    params(("ref" = String, Path, description = "the customer's reference")),
    responses(
        (status = 200, description = "everything held about them", body = Object),
        (status = 401, description = "no valid credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "only managers and admins export customers", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such customer among the caller's", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn export(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(reference): Path<String>,
) -> Result<axum::Json<serde_json::Value>, Problem> {
    let j = state
        .pool()
        .run(move |store| access::export_customer(store, &who, &reference))
        .await?;
    Ok(axum::Json(j))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Erased {
    /// The customer's reference from now on.
    pub reference: String,
}

/// Replaces a customer's personal fields with placeholders and ends their sessions and sign-in
/// links; cases, money and the audit log stay whole.
#[utoipa::path(post, path = "/api/v1/customers/{ref}/erase", tag = "customers",
    params(("ref" = String, Path, description = "the customer's reference")),
    responses(
        (status = 200, description = "erased", body = Erased),
        (status = 401, description = "no valid credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "only admins of every seller erase customers", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such customer", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn erase(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(reference): Path<String>,
) -> Result<axum::Json<Erased>, Problem> {
    let now = state.now();
    let reference = state
        .pool()
        .run(move |store| access::erase_customer(store, &who, &reference, now))
        .await?;
    Ok(axum::Json(Erased { reference }))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Loaded {
    pub skus: usize,
    pub customers: usize,
    pub units: usize,
    pub orders: usize,
    pub invoices: usize,
    pub shipments: usize,
}

/// Largest registry file accepted in one request.
pub const IMPORT_LIMIT: usize = 64 << 20;

/// Loads registry records (SKUs, customers, units, orders, invoices, shipments): a JSON
/// document, or a CSV file of one kind (`Content-Type: text/csv`). One transaction: every bad
/// record is listed, and then nothing is written. Loading the same file again changes nothing.
#[utoipa::path(post, path = "/api/v1/registry", tag = "registry",
    request_body(description = "the registry file: a JSON document of record lists, or a CSV file of one kind",
        content(
            (Object = "application/json"),
            (String = "text/csv"),
        )),
    responses(
        (status = 200, description = "loaded", body = Loaded),
        (status = 401, description = "no valid credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "only admins of every seller load the registry", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "neither JSON nor CSV", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "bad records, each named in `errors`; nothing was written", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn import(
    State(state): State<AppState>,
    Caller(who): Caller,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<axum::Json<Loaded>, Problem> {
    let body = String::from_utf8(body.to_vec()).map_err(|_| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "malformed",
            "the registry file is not UTF-8 text",
        )
    })?;
    access::require_global_admin(&who, "registry:write", "loading the registry")?;
    let kind = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let batch = if kind.starts_with("text/csv") {
        aftercare_app::csv_import::parse(&body)
    } else if kind.starts_with("application/json") {
        import::parse_json(&body)
    } else {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "media-type",
            "send the registry as application/json or text/csv",
        ));
    }
    .map_err(bad_records)?;
    let now = state.now();
    let today = now.to_zoned(jiff::tz::TimeZone::UTC).date();
    let actor = who.actor();
    let policies = state.policies();
    let loaded = state
        .pool()
        .run(move |store| {
            Ok(import::load(
                store,
                &policies,
                &batch,
                &body,
                &actor,
                now,
                today,
                &mut |_, _| {},
            ))
        })
        .await?
        .map_err(bad_records)?;
    Ok(axum::Json(Loaded {
        skus: loaded.skus,
        customers: loaded.customers,
        units: loaded.units,
        orders: loaded.orders,
        invoices: loaded.invoices,
        shipments: loaded.shipments,
    }))
}

fn bad_records(e: import::ImportError) -> Problem {
    let mut p = Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        format!("{} problem(s); nothing was imported", e.problems.len()),
    );
    p.field = Some("body".into());
    p.errors = e.problems;
    p
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Verified {
    /// Events in all, and the chains (one per case, refund, account…) they form.
    pub events: i64,
    pub chains: i64,
    /// Events sealed into the Merkle tree, and those waiting for the sealer (under a second).
    pub sealed: i64,
    pub pending: i64,
    /// Checkpoints of the tree, and how many carry no signature.
    pub checkpoints: i64,
    pub unsigned: i64,
    /// The tree's root now (SHA-256, hex).
    pub root: String,
    /// The ed25519 public keys (hex) that signed checkpoints.
    pub signed_by: Vec<String>,
}

/// Recomputes every chain of the audit log, its Merkle tree and each checkpoint's root and
/// signature: names the first edited, missing or inserted event, leaf or checkpoint.
#[utoipa::path(get, path = "/api/v1/audit/verify", tag = "audit",
    responses(
        (status = 200, description = "the log is intact", body = Verified),
        (status = 401, description = "no valid credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "only admins of every seller", body = Problem, content_type = "application/problem+json"),
        (status = 500, description = "the chain is broken (logged with the event at fault)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn verify(
    State(state): State<AppState>,
    Caller(who): Caller,
) -> Result<axum::Json<Verified>, Problem> {
    access::require_global_admin(&who, "audit:read", "verifying the audit log")?;
    let v = state.pool().run(audit::verify).await?;
    Ok(axum::Json(Verified {
        events: v.events,
        chains: v.chains,
        sealed: v.sealed,
        pending: v.pending,
        checkpoints: v.checkpoints,
        unsigned: v.unsigned,
        root: v.root,
        signed_by: v.signed_by,
    }))
}
