//! Errors at the HTTP edge: RFC 9457 `application/problem+json`. The caller's mistakes are
//! 4xx and name the field at fault; anything else is a 500 that shows nothing internal and is
//! logged with its cause (crates.io's `util/errors.rs` does the same split).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use aftercare_app::AppError;

/// A problem document.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem (`…/problems/invalid`, `…/not-found`…).
    #[serde(rename = "type", serialize_with = "type_uri")]
    #[schema(value_type = String)]
    pub kind: &'static str,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    /// The request field at fault, for a 422.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Every problem found, where there are several (a registry file's bad records).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    /// Seconds to wait before trying again, sent as `Retry-After` (a 429 or a 503).
    #[serde(skip)]
    pub retry_after: Option<u32>,
}

/// Where problem types are documented.
const TYPES: &str = "https://aftercare.invalid/problems/";

fn type_uri<S: serde::Serializer>(kind: &&'static str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{TYPES}{kind}"))
}

impl Problem {
    pub fn new(status: StatusCode, kind: &'static str, detail: impl Into<String>) -> Self {
        Problem {
            kind,
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail: detail.into(),
            field: None,
            errors: Vec::new(),
            retry_after: None,
        }
    }

    /// The same problem, telling the caller to try again in `seconds`.
    pub fn retry_after(self, seconds: u64) -> Self {
        Problem {
            retry_after: Some(u32::try_from(seconds).unwrap_or(u32::MAX).max(1)),
            ..self
        }
    }

    /// The server is at capacity for this kind of request: try again in `seconds`.
    pub fn busy(detail: impl Into<String>, seconds: u64) -> Self {
        Problem::new(StatusCode::SERVICE_UNAVAILABLE, "busy", detail).retry_after(seconds)
    }

    pub fn invalid(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Problem {
            field: Some(field.into()),
            ..Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", detail)
        }
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::NOT_FOUND, "not-found", detail)
    }

    /// A failure that is not the caller's: logged whole, shown as nothing but its kind.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "request failed");
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server could not complete the request; the failure is logged",
        )
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut r = (status, axum::Json(&self)).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(secs) = self.retry_after {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        r
    }
}

impl From<AppError> for Problem {
    fn from(e: AppError) -> Self {
        match e {
            AppError::NotFound { .. } => Problem::not_found(e.to_string()),
            AppError::Invalid { field, message } => Problem::invalid(field, message),
            AppError::Transition(t) => Problem::new(StatusCode::CONFLICT, "state", t.to_string()),
            AppError::Refused(m) => Problem::new(StatusCode::CONFLICT, "refused", m),
            AppError::Unauthenticated(m) => {
                Problem::new(StatusCode::UNAUTHORIZED, "unauthenticated", m)
            }
            AppError::Forbidden(m) => Problem::new(StatusCode::FORBIDDEN, "forbidden", m),
            AppError::Stale(m) => Problem::new(StatusCode::PRECONDITION_FAILED, "stale", m),
            AppError::Throttled {
                message,
                retry_after,
            } => Problem::new(StatusCode::TOO_MANY_REQUESTS, "throttled", message)
                .retry_after(retry_after),
            other => Problem::internal(&other),
        }
    }
}
