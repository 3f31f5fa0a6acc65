//! `/healthz` (the process answers) and `/readyz` (and so does its database).

use aftercare_app::AppError;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;

use crate::AppState;
use crate::problem::Problem;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    pub status: &'static str,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "the process answers", body = Health)))]
pub async fn healthz() -> axum::Json<Health> {
    axum::Json(Health { status: "ok" })
}

/// The process is up and its database answers.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "ready to serve", body = Health),
        (status = 503, description = "the database does not answer", body = Problem,
            content_type = "application/problem+json"),
    ))]
pub async fn readyz(State(state): State<AppState>) -> Result<axum::Json<Health>, Problem> {
    state
        .pool()
        .run(|store| {
            store.read(|tx| tx.query("SELECT 1", &[]).map_err(AppError::from))?;
            Ok(())
        })
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "not ready");
            Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the database does not answer",
            )
        })?;
    Ok(axum::Json(Health { status: "ready" }))
}
