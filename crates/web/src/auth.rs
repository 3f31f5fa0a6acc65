//! Who is calling. An integration sends `Authorization: Bearer act_…` (an API token); a person
//! carries the `aftercare_session` cookie (`Secure; HttpOnly; SameSite=Lax`). A write made with
//! the cookie must also carry the session's CSRF token in `X-CSRF-Token`, which a page from
//! another site cannot read: a forged form post is refused. Handlers that need a caller take
//! [`Caller`]; without valid credentials the answer is 401.

use aftercare_app::accounts::{self, Principal};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, header};

use crate::AppState;
use crate::problem::Problem;

/// The session cookie's name.
pub const COOKIE: &str = "aftercare_session";
/// The header a cookie-authenticated write carries its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// An authenticated caller.
#[derive(Clone, Debug)]
pub struct Caller(pub Principal);

impl FromRequestParts<AppState> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        // Checked once per request: the idempotency layer may have done it already.
        if let Some(c) = parts.extensions.get::<Caller>() {
            return Ok(c.clone());
        }
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| t.trim().to_string());
        let cookie = session_cookie(&parts.headers);
        let csrf_sent = parts
            .headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let writes = !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        let now = state.now();
        let found = state
            .pool()
            .run(move |store| {
                store.read(
                    |tx| -> Result<Option<(Principal, Option<String>)>, aftercare_app::AppError> {
                        if let Some(t) = bearer {
                            return Ok(accounts::token(tx, &t)?.map(|p| (p, None)));
                        }
                        if let Some(c) = cookie {
                            return Ok(
                                accounts::session(tx, &c, now)?.map(|(p, csrf)| (p, Some(csrf)))
                            );
                        }
                        Ok(None)
                    },
                )
            })
            .await?;
        let Some((principal, csrf)) = found else {
            return Err(unauthenticated());
        };
        if writes
            && let Some(expected) = csrf
            && csrf_sent.as_deref() != Some(expected.as_str())
        {
            return Err(Problem::new(
                StatusCode::FORBIDDEN,
                "csrf",
                "a write with the session cookie needs its CSRF token in `X-CSRF-Token`",
            ));
        }
        Ok(Caller(principal))
    }
}

pub fn unauthenticated() -> Problem {
    Problem::new(
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        "sign in, or send an API token as `Authorization: Bearer …`",
    )
}

/// The session cookie's value, if the request carries it.
pub fn session_cookie(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
}

/// `Set-Cookie` for a new session.
pub fn set_cookie(token: &str, max_age_secs: i64) -> String {
    format!("{COOKIE}={token}; Path=/; Max-Age={max_age_secs}; HttpOnly; Secure; SameSite=Lax")
}

/// `Set-Cookie` that ends the session in the browser.
pub fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax")
}

/// The client's address for sign-in throttling: as the proxy in front reports it
/// (`X-Forwarded-For`), else `direct`.
pub fn client_address(headers: &axum::http::HeaderMap) -> String {
    headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .unwrap_or("direct")
        .trim()
        .to_string()
}
