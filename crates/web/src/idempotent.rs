//! The `Idempotency-Key` layer: a POST that carries the header is done once per caller and
//! key (see `aftercare_app::idempotency`). Same key, same request (method, path, query and
//! body): the first response again, marked `Idempotent-Replayed: true`. Same key, another
//! request: 422. While the first is in flight: 409.
//!
//! The caller is authenticated before anything is read or kept: an anonymous request (or one
//! with credentials that sign no one in) is passed on as if it had no key, so it can neither
//! make the server keep a row nor read a body past its route's own limit. Keys belong to the
//! account, not to the bytes of a cookie.

use aftercare_app::accounts::hash_secret;
use aftercare_app::idempotency::{self, Claim, Kept};
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::auth::Caller;
use crate::problem::Problem;

pub const HEADER: &str = "idempotency-key";

/// The caller's key for this request (a hash of who they are and the key they sent), for a
/// use case that makes its work idempotent by itself: when a server dies between the work and
/// keeping its answer, the retry that takes the key over finds the work by this key instead
/// of doing it twice.
#[derive(Clone, Debug)]
pub struct RequestKey(pub String);
const MAX_KEY: usize = 255;
/// Largest response kept for replay.
const MAX_KEPT: usize = 1 << 20;

pub async fn layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    match run(state, req, next).await {
        Ok(r) => r,
        Err(p) => p.into_response(),
    }
}

async fn run(state: AppState, req: Request, next: Next) -> Result<Response, Problem> {
    if req.method() != Method::POST {
        return Ok(next.run(req).await);
    }
    let Some(key) = req.headers().get(HEADER) else {
        return Ok(next.run(req).await);
    };
    let key = key
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= MAX_KEY && k.chars().all(|c| c.is_ascii_graphic()))
        .ok_or_else(|| {
            Problem::invalid(
                "Idempotency-Key",
                format!("use 1 to {MAX_KEY} printable ASCII characters"),
            )
        })?
        .to_string();
    let (mut parts, body) = req.into_parts();
    // Who is asking, checked as the handler would (the handler then reuses it).
    let caller = match <Caller as axum::extract::FromRequestParts<AppState>>::from_request_parts(
        &mut parts, &state,
    )
    .await
    {
        Ok(c) => c,
        Err(p) if p.status == StatusCode::UNAUTHORIZED.as_u16() => {
            return Ok(next.run(Request::from_parts(parts, body)).await);
        }
        Err(p) => return Err(p),
    };
    // Keys are the caller's own: their account's (a customer, a staff member's sessions, a
    // token).
    let owner = hash_secret(&format!("owner:{}", owner_of(&caller.0)));
    parts.extensions.insert(caller);
    let limit = body_limit(parts.uri.path());
    let bytes = to_bytes(body, limit).await.map_err(|_| {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            "the body is too large",
        )
    })?;
    let request_hash = hash_secret(&format!(
        "{} {}\n{}",
        parts.method,
        parts.uri,
        aftercare_store::hex(&<sha2::Sha256 as sha2::Digest>::digest(&bytes))
    ));
    let now = state.now();
    let (o, k, rh) = (owner.clone(), key.clone(), request_hash);
    let claim = state
        .pool()
        .run(move |store| idempotency::claim(store, &o, &k, &rh, now))
        .await?;
    match claim {
        Claim::Proceed => {}
        Claim::Replay(kept) => return Ok(replay(&kept)),
        Claim::Mismatch => {
            return Err(Problem::invalid(
                "Idempotency-Key",
                "this key was used for a different request; use a new key for a new request",
            ));
        }
        Claim::InFlight => {
            return Err(Problem::new(
                StatusCode::CONFLICT,
                "in-flight",
                "a request with this Idempotency-Key is still being processed; retry shortly",
            ));
        }
    }
    parts
        .extensions
        .insert(RequestKey(hash_secret(&format!("{owner}\n{key}"))));
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let (rparts, rbody) = response.into_parts();
    let body = to_bytes(rbody, MAX_KEPT).await.unwrap_or_default();
    let kept = (rparts.status.as_u16() < 500).then(|| Kept {
        status: rparts.status.as_u16(),
        content_type: header_text(&rparts.headers, header::CONTENT_TYPE),
        location: header_text(&rparts.headers, header::LOCATION),
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    let done = state
        .pool()
        .run(move |store| idempotency::complete(store, &owner, &key, kept.as_ref()))
        .await;
    if let Err(e) = done {
        tracing::error!(error = %e, "an idempotent response could not be kept");
    }
    Ok(Response::from_parts(rparts, Body::from(body)))
}

/// Who owns a caller's keys.
fn owner_of(p: &aftercare_app::accounts::Principal) -> String {
    use aftercare_app::accounts::Principal;
    match p {
        Principal::Customer { customer_id } => format!("customer:{customer_id}"),
        Principal::Staff {
            user_id, scopes, ..
        } => match scopes {
            Some(s) => format!("token:{user_id}:{}", s.join(" ")),
            None => format!("staff:{user_id}"),
        },
    }
}

/// The most a route reads of a body: its own limit (photos, the registry), else axum's 2 MB
/// for JSON and forms.
fn body_limit(path: &str) -> usize {
    if path == "/api/v1/registry" {
        crate::routes::admin::IMPORT_LIMIT
    } else if path.ends_with("/evidence") || path.ends_with("/photos") {
        aftercare_app::evidence::MAX_BYTES + 64 * 1024
    } else {
        2 << 20
    }
}

fn header_text(h: &axum::http::HeaderMap, name: header::HeaderName) -> Option<String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn replay(k: &Kept) -> Response {
    let mut r = Response::new(Body::from(k.body.clone()));
    *r.status_mut() = StatusCode::from_u16(k.status).unwrap_or(StatusCode::OK);
    for (name, value) in [
        (header::CONTENT_TYPE, &k.content_type),
        (header::LOCATION, &k.location),
    ] {
        if let Some(v) = value.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
            r.headers_mut().insert(name, v);
        }
    }
    r.headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    r
}
