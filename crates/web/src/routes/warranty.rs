//! `GET /api/v1/warranty/{serial}`: the public warranty look-up.

use aftercare_app::coverage::{self, Coverage};
use axum::extract::State;

use crate::AppState;
use crate::extract::Path;
use crate::problem::Problem;

/// Longest serial accepted.
const MAX_SERIAL: usize = 64;

/// What a unit's warranty covers and until when, per component, by the seller's policy and
/// the law that binds the seller; its repaired parts and replacements. No personal data.
#[utoipa::path(get, path = "/api/v1/warranty/{serial}", tag = "warranty",
    params(("serial" = String, Path, description = "the unit's serial number", pattern = "^[A-Za-z0-9._/-]{1,64}$")),
    responses(
        (status = 200, description = "the unit's coverage today", body = Coverage),
        (status = 404, description = "no unit has this serial", body = Problem,
            content_type = "application/problem+json"),
        (status = 422, description = "not a serial number", body = Problem,
            content_type = "application/problem+json"),
    ))]
pub async fn lookup(
    State(state): State<AppState>,
    Path(serial): Path<String>,
) -> Result<axum::Json<Coverage>, Problem> {
    let serial = serial.trim().to_string();
    if serial.is_empty()
        || serial.len() > MAX_SERIAL
        || !serial
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
    {
        return Err(Problem::invalid(
            "serial",
            format!("a serial is 1 to {MAX_SERIAL} letters, digits, '-', '_', '.' or '/'"),
        ));
    }
    let policies = state.policies();
    let now = state.now();
    let c = state
        .pool()
        .run(move |store| coverage::coverage(store, &policies, &serial, now))
        .await?;
    Ok(axum::Json(c))
}
