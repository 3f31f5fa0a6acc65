//! Evidence photos: attach to a case, list, download. An upload's bytes are the request body;
//! whatever it claims to be, it is kept only as a re-encoded JPEG (see
//! `aftercare_app::evidence`). Downloads are attachments that a browser does not sniff.

use std::sync::Arc;

use aftercare_app::evidence::{self, Attached, Photo};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::AppState;
use crate::auth::Caller;
use crate::extract::{Path, Query};
use crate::problem::Problem;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct Kind {
    /// What the photo shows.
    pub kind: PhotoKind,
}

/// The kinds of photo the policies ask for.
#[derive(Clone, Copy, Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PhotoKind {
    OuterBox,
    InnerBox,
    PackagingDamage,
    Product,
    ProductDamage,
    ItemReceived,
    Labels,
}

impl PhotoKind {
    fn as_str(self) -> &'static str {
        match self {
            PhotoKind::OuterBox => "outer_box",
            PhotoKind::InnerBox => "inner_box",
            PhotoKind::PackagingDamage => "packaging_damage",
            PhotoKind::Product => "product",
            PhotoKind::ProductDamage => "product_damage",
            PhotoKind::ItemReceived => "item_received",
            PhotoKind::Labels => "labels",
        }
    }
}

/// Attaches a photo (JPEG, PNG or WebP, at most 10 MB and 40 megapixels, and no more than 64
/// pixels per byte of the file past the first megapixel; the body is the file) to a case the
/// caller sees, and decides the case again. A case takes at most 40 photos; a customer
/// uploads at most 100 a day.
#[utoipa::path(post, path = "/api/v1/cases/{id}/evidence", tag = "evidence",
    params(("id" = i64, Path, description = "the case's number"), Kind),
    request_body(content = Vec<u8>, content_type = "image/jpeg", description = "the photo's bytes"),
    responses(
        (status = 201, description = "attached; what the decision still lists as missing", body = Attached),
        (status = 401, description = "no valid credentials", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such case among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "larger than 10 MB", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "not a sound JPEG, PNG or WebP image within the limits, an unknown kind, or a case with all the photos it takes", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "the customer's photos for the day, or the server busy decoding others: try later", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn attach(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<i64>,
    Query(q): Query<Kind>,
    body: Bytes,
) -> Result<(StatusCode, axum::Json<Attached>), Problem> {
    let attached = attach_as(&state, who, id, q.kind.as_str(), body).await?;
    Ok((StatusCode::CREATED, axum::Json(attached)))
}

/// How long an upload waits for a core to decode it before the server says it is busy.
const DECODE_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Attaches an upload as `who`, for the API and the pages alike: the case and the room for
/// a photo are checked first; the upload is decoded with no database connection held, at
/// most one per core at a time (a caller who would wait longer is told to retry); the file
/// is kept; then the photo is recorded and the case decided again.
pub(crate) async fn attach_as(
    state: &AppState,
    who: aftercare_app::accounts::Principal,
    id: i64,
    kind: &str,
    upload: Bytes,
) -> Result<Attached, aftercare_app::AppError> {
    use aftercare_app::AppError;
    let policies = state.policies();
    let now = state.now();
    let (p, w, k) = (policies.clone(), who.clone(), kind.to_string());
    state
        .pool()
        .run(move |store| evidence::admit(store, &p, &w, id, &k, now))
        .await?;
    let busy = || AppError::Throttled {
        message: "the server is checking many photos: try again in a moment".into(),
        retry_after: 1,
    };
    let permit = tokio::time::timeout(DECODE_WAIT, Arc::clone(&state.0.decodes).acquire_owned())
        .await
        .map_err(|_| busy())?
        .map_err(|_| busy())?;
    let blobs = state.blobs();
    let (clean, name) = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let clean = evidence::clean(&upload)?;
        let name = evidence::keep(blobs.as_ref(), &clean)?;
        Ok::<_, AppError>((clean, name))
    })
    .await
    .map_err(|e| AppError::Config(format!("a decoding task failed: {e}")))??;
    let (kind, kept) = (kind.to_string(), name.clone());
    let recorded = state
        .pool()
        .run(move |store| evidence::record(store, &policies, &who, id, &kind, &clean, &kept, now))
        .await;
    if recorded.is_err() {
        // Nothing half-written: the file goes with the row that was not written.
        let blobs = state.blobs();
        let _ = tokio::task::spawn_blocking(move || blobs.delete(&name)).await;
    }
    recorded
}

/// The photos of a case the caller sees.
#[utoipa::path(get, path = "/api/v1/cases/{id}/evidence", tag = "evidence",
    params(("id" = i64, Path, description = "the case's number")),
    responses(
        (status = 200, description = "its photos", body = [Photo]),
        (status = 401, description = "no valid credentials", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such case among the caller's", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<i64>,
) -> Result<axum::Json<Vec<Photo>>, Problem> {
    let policies = state.policies();
    let photos = state
        .pool()
        .run(move |store| evidence::list(store, &policies, &who, id))
        .await?;
    Ok(axum::Json(photos))
}

/// A photo's file, as an attachment.
#[utoipa::path(get, path = "/api/v1/evidence/{id}", tag = "evidence",
    params(("id" = i64, Path, description = "the photo's number")),
    responses(
        (status = 200, description = "the re-encoded JPEG", body = Vec<u8>, content_type = "image/jpeg"),
        (status = 401, description = "no valid credentials", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such photo among the caller's cases", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn download(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<i64>,
) -> Result<Response, Problem> {
    let policies = state.policies();
    let blobs = state.blobs();
    let (content_type, bytes) = state
        .pool()
        .run(move |store| evidence::get(store, blobs.as_ref(), &policies, &who, id))
        .await?;
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"evidence-{id}.jpg\""),
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
            (header::CACHE_CONTROL, "private, no-store".to_string()),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; sandbox".to_string(),
            ),
        ],
        bytes,
    )
        .into_response())
}
