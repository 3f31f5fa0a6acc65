//! `GET /api/v1/warranty/{serial}`: the public warranty look-up.

use std::sync::Arc;

use aftercare_app::AppError;
use aftercare_app::coverage::{self, Coverage};
use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::extract::Path;
use crate::problem::Problem;

/// Longest serial accepted.
const MAX_SERIAL: usize = 64;

/// What a unit's warranty covers and until when, per component, by the seller's policy and
/// the law that binds the seller; its repaired parts and replacements. No personal data.
/// An answer may be up to ten seconds old (kept five seconds, and given while it is looked
/// up again); `Cache-Control: public, max-age=5`.
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
) -> Result<Response, Problem> {
    let Some(serial) = url_safe(serial.trim()).map(str::to_string) else {
        return Err(Problem::invalid(
            "serial",
            format!("a serial is 1 to {MAX_SERIAL} letters, digits, '-', '_', '.' or '/'"),
        ));
    };
    // Answers (and "no such serial") are kept a few seconds: a look-up may be that old.
    // One past its time is still given while one request looks it up again in the
    // background, so no request waits on an expired entry.
    if let Some((kept, refresh)) = state.0.lookups.get_or_refresh(&serial) {
        if refresh {
            let state = state.clone();
            tokio::spawn(async move {
                if let Err(e) = look_up(&state, serial).await {
                    tracing::warn!(error = %e.detail, "a warranty look-up was not refreshed");
                }
            });
        }
        return answer(kept);
    }
    answer(look_up(&state, serial).await?)
}

/// Looks a serial up and keeps the answer.
async fn look_up(state: &AppState, serial: String) -> Result<Kept, Problem> {
    let policies = state.policies();
    let now = state.now();
    let key = serial.clone();
    let found = state
        .pool()
        .run(move |store| coverage::coverage(store, &policies, &serial, now))
        .await;
    let kept = match found {
        Ok(c) => Ok(Arc::new(
            serde_json::to_vec(&c).map_err(|e| Problem::internal(&e))?,
        )),
        Err(e @ AppError::NotFound { .. }) => Err(e.to_string()),
        Err(e) => return Err(e.into()),
    };
    state.0.lookups.put(key, kept.clone());
    Ok(kept)
}

/// `serial` if it has the form of one (and so needs no escaping in a URL).
pub fn url_safe(serial: &str) -> Option<&str> {
    (!serial.is_empty()
        && serial.len() <= MAX_SERIAL
        && serial
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/')))
    .then_some(serial)
}

/// A kept look-up: the coverage's JSON, or why there is none.
pub type Kept = Result<Arc<Vec<u8>>, String>;

/// How long a look-up is kept.
pub const KEPT_FOR: std::time::Duration = std::time::Duration::from_secs(5);

fn answer(kept: Kept) -> Result<Response, Problem> {
    match kept {
        Ok(json) => Ok((
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::CACHE_CONTROL, "public, max-age=5"),
            ],
            Body::from(json.as_ref().clone()),
        )
            .into_response()),
        Err(why) => Err(Problem::not_found(why)),
    }
}
