//! Signing in and out: staff with a password, customers with a one-time link sent to the
//! e-mail address on their order.

use aftercare_app::accounts::{self, Principal, Role};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::auth::{self, Caller};
use crate::extract::Json;
use crate::problem::Problem;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    pub email: String,
    #[schema(format = Password)]
    pub password: String,
}

/// A session just opened. The session itself is in the `aftercare_session` cookie.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Opened {
    /// Send it back in `X-CSRF-Token` with every write made with the cookie.
    pub csrf: String,
    pub expires_at: String,
    pub me: Me,
}

/// Who is signed in.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Me {
    /// `staff` or `customer`.
    pub kind: &'static str,
    pub email: Option<String>,
    pub role: Option<Role>,
    /// The sellers a staff member works for (`*`: all).
    pub sellers: Vec<String>,
    /// An API token's scopes.
    pub scopes: Option<Vec<String>>,
}

pub fn me_of(p: &Principal) -> Me {
    match p {
        Principal::Staff {
            email,
            role,
            sellers,
            scopes,
            ..
        } => Me {
            kind: "staff",
            email: Some(email.clone()),
            role: Some(*role),
            sellers: match sellers {
                accounts::Sellers::All => vec!["*".into()],
                accounts::Sellers::Only(s) => s.clone(),
            },
            scopes: scopes.clone(),
        },
        Principal::Customer { .. } => Me {
            kind: "customer",
            email: None,
            role: None,
            sellers: Vec::new(),
            scopes: None,
        },
    }
}

fn opened(session: &accounts::NewSession, me: Me, hours: i64) -> Response {
    let body = Opened {
        csrf: session.csrf.clone(),
        expires_at: session.expires_at.to_string(),
        me,
    };
    (
        StatusCode::OK,
        [(
            header::SET_COOKIE,
            auth::set_cookie(&session.token, hours * 3600),
        )],
        axum::Json(body),
    )
        .into_response()
}

/// Staff sign in with e-mail and password. Wrong e-mail or wrong password get the same answer.
#[utoipa::path(post, path = "/api/v1/session", tag = "accounts", request_body = SignIn,
    responses(
        (status = 200, description = "signed in; the session is in the `aftercare_session` cookie", body = Opened),
        (status = 401, description = "wrong e-mail or password", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "too many failed sign-ins for this account or address: each try after the first few waits twice as long since the last failure (at most 15 minutes)", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "seconds until the next try is checked"))),
        (status = 503, description = "too many sign-ins at once: every password-checking thread is busy and their queue is full", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "seconds to wait before trying again"))),
    ))]
pub async fn sign_in(
    State(state): State<AppState>,
    auth::ClientAddress(from): auth::ClientAddress,
    Json(req): Json<SignIn>,
) -> Result<Response, Problem> {
    let now = state.now();
    let email = req.email.clone();
    let session = auth::sign_in_with_password(&state, req.email, req.password, from).await?;
    let token = session.token.clone();
    let me = state
        .pool()
        .run(move |store| store.read(|tx| accounts::session(tx, &token, now)))
        .await?
        .map(|(p, _)| me_of(&p))
        .ok_or_else(auth::unauthenticated)?;
    tracing::info!(account = %accounts::hash_secret(&email).get(..12).unwrap_or(""), "signed in");
    Ok(opened(&session, me, 12))
}

/// Signs out: the session ends here and in the browser.
#[utoipa::path(delete, path = "/api/v1/session", tag = "accounts",
    responses((status = 204, description = "signed out")))]
pub async fn sign_out(State(state): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    if let Some(token) = auth::session_cookie(&headers) {
        let _ = state
            .pool()
            .run(move |store| accounts::sign_out(store, &token))
            .await;
    }
    (
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, auth::clear_cookie())],
    )
        .into_response()
}

/// Who the credentials belong to.
#[utoipa::path(get, path = "/api/v1/me", tag = "accounts",
    responses(
        (status = 200, description = "the caller", body = Me),
        (status = 401, description = "no valid credentials", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn me(Caller(p): Caller) -> axum::Json<Me> {
    axum::Json(me_of(&p))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    pub order_no: String,
    pub email: String,
    /// The language of this e-mail and the customer's later ones; default: the one kept
    /// from their last choice, else their country's (Simplified Chinese in CN and SG).
    pub lang: Option<MailLanguage>,
}

/// A language e-mails are written in.
#[derive(Clone, Copy, Debug, Deserialize, utoipa::ToSchema)]
pub enum MailLanguage {
    #[serde(rename = "en")]
    En,
    #[serde(rename = "zh-CN")]
    ZhCn,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Accepted {
    pub detail: &'static str,
}

/// A customer asks for a sign-in link: it goes to the order's e-mail address when order and
/// address match, and it ends the customer's older unused links. At most three go to one
/// customer in a quarter of an hour. The answer is the same either way.
#[utoipa::path(post, path = "/api/v1/customer/sign-in-links", tag = "accounts", request_body = LinkRequest,
    responses((status = 202, description = "if the order and address match, and fewer than three links went to this customer in the last quarter of an hour, a link is on its way (older unused links stop working)", body = Accepted)))]
pub async fn request_link(
    State(state): State<AppState>,
    Json(req): Json<LinkRequest>,
) -> Result<(StatusCode, axum::Json<Accepted>), Problem> {
    if req.order_no.len() > 100 || req.email.len() > 254 {
        return Err(Problem::invalid("order_no", "too long"));
    }
    let now = state.now();
    let base = state.0.link_base.clone();
    state
        .pool()
        .run(move |store| {
            let lang = req.lang.map(|l| match l {
                MailLanguage::En => "en",
                MailLanguage::ZhCn => "zh-CN",
            });
            accounts::request_sign_in_link(store, &req.order_no, &req.email, &base, lang, now)
        })
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(Accepted {
            detail: "if this order was placed with this address, a sign-in link is on its way to it",
        }),
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Redeem {
    /// The token from the sign-in link.
    pub token: String,
}

/// A customer signs in with the token of their link (it works once).
#[utoipa::path(post, path = "/api/v1/customer/session", tag = "accounts", request_body = Redeem,
    responses(
        (status = 200, description = "signed in", body = Opened),
        (status = 401, description = "unknown, used or expired link", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn redeem(
    State(state): State<AppState>,
    Json(req): Json<Redeem>,
) -> Result<Response, Problem> {
    let now = state.now();
    let session = state
        .pool()
        .run(move |store| accounts::redeem_sign_in_link(store, &req.token, now))
        .await?;
    let me = Me {
        kind: "customer",
        email: None,
        role: None,
        sellers: Vec::new(),
        scopes: None,
    };
    Ok(opened(&session, me, 24))
}
