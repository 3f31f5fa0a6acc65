//! Evidence photos: attach to a case, list, download. An upload's bytes are the request body;
//! whatever it claims to be, it is kept only as a re-encoded JPEG (see
//! `aftercare_app::evidence`). Downloads are attachments that a browser does not sniff.

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

/// Attaches a photo (JPEG, PNG or WebP, at most 10 MB and 40 megapixels; the body is the file)
/// to a case the caller sees, and decides the case again.
#[utoipa::path(post, path = "/api/v1/cases/{id}/evidence", tag = "evidence",
    params(("id" = i64, Path, description = "the case's number"), Kind),
    request_body(content = Vec<u8>, content_type = "image/jpeg", description = "the photo's bytes"),
    responses(
        (status = 201, description = "attached; what the decision still lists as missing", body = Attached),
        (status = 401, description = "no valid credentials", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such case among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "larger than 10 MB", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "not a sound JPEG, PNG or WebP image within the limits, or an unknown kind", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn attach(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<i64>,
    Query(q): Query<Kind>,
    body: Bytes,
) -> Result<(StatusCode, axum::Json<Attached>), Problem> {
    let policies = state.policies();
    let blobs = state.blobs();
    let now = state.now();
    let attached = state
        .pool()
        .run(move |store| {
            evidence::attach(
                store,
                blobs.as_ref(),
                &policies,
                &who,
                id,
                q.kind.as_str(),
                &body,
                now,
            )
        })
        .await?;
    Ok((StatusCode::CREATED, axum::Json(attached)))
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
