//! Request extractors whose rejections are problem documents naming what is wrong, instead
//! of axum's plain-text ones.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::problem::Problem;

/// A JSON body.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<S, T> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Json(v)),
            Err(JsonRejection::JsonDataError(e)) => {
                // "Failed to deserialize …: facts.order.date: invalid type …": the field
                // path is the part before the first ": " of the cause.
                let text = e.body_text();
                let cause = text
                    .split_once("target type: ")
                    .map_or(text.as_str(), |(_, c)| c);
                let (field, detail) = cause.split_once(": ").unwrap_or(("body", cause));
                Err(Problem::invalid(field, detail))
            }
            Err(JsonRejection::JsonSyntaxError(e)) => Err(Problem::new(
                StatusCode::BAD_REQUEST,
                "malformed",
                format!("the body is not valid JSON: {}", e.body_text()),
            )),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "media-type",
                "send the body as `Content-Type: application/json`",
            )),
            Err(other) => Err(Problem::new(
                StatusCode::BAD_REQUEST,
                "malformed",
                other.body_text(),
            )),
        }
    }
}

/// Path parameters.
#[derive(Debug)]
pub struct Path<T>(pub T);

impl<S, T> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| Path(v))
            .map_err(|e: PathRejection| Problem::invalid("path", e.body_text()))
    }
}

/// Query parameters.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<S, T> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| Query(v))
            .map_err(|e: QueryRejection| Problem::invalid("query", e.body_text()))
    }
}
