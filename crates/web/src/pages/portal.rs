//! The customer portal, first pages: sign in with a link sent to the order's e-mail address,
//! the customer's cases, and a case in words (what they can get and by which clause, what is
//! still needed, the deadlines, the history). The same use cases as the API: the link is
//! `accounts::request_sign_in_link`, the list `access::list`, the case `access::show`, so a
//! customer sees only their own cases here as there.
//!
//! The link's page does not sign in by itself: it shows a button that posts the token, so a
//! mail scanner that opens links does not use up the customer's link.

use aftercare_app::accounts::{self, Principal};
use aftercare_app::{AppError, access};
use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::Value as J;

use super::i18n::{Lang, Texts};
use super::{LangQuery, page};
use crate::AppState;

/// The signed-in customer and their session's CSRF token; `None` for anyone else.
async fn customer(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<(Principal, String)>, Response> {
    Ok(super::session(state, headers)
        .await?
        .filter(|(p, _)| matches!(p, Principal::Customer { .. })))
}

#[derive(Debug, Default, Deserialize)]
pub struct SignInQuery {
    pub token: Option<String>,
    pub sent: Option<String>,
    pub lang: Option<String>,
}

#[derive(Template)]
#[template(path = "portal_sign_in.html")]
struct SignIn {
    lang: Lang,
    t: &'static Texts,
    title: &'static str,
    switch_href: String,
    token: Option<String>,
    sent: bool,
    error: Option<&'static str>,
}

/// `GET /portal/sign-in`: ask for a link; with `?token=`, the button that signs in.
pub async fn sign_in_page(Query(q): Query<SignInQuery>, headers: HeaderMap) -> Response {
    let lang = Lang::choose(q.lang.as_deref(), &headers);
    let t = lang.texts();
    let token = q
        .token
        .filter(|t| !t.is_empty() && t.len() <= 128 && t.chars().all(|c| c.is_ascii_hexdigit()));
    let view = SignIn {
        lang,
        t,
        title: t.portal_sign_in_title,
        switch_href: format!("/portal/sign-in?lang={}", lang.other().tag()),
        token,
        sent: q.sent.is_some(),
        error: None,
    };
    page(StatusCode::OK, view.render(), lang, q.lang.is_some())
}

#[derive(Debug, Deserialize)]
pub struct LinkForm {
    pub order_no: String,
    pub email: String,
}

/// `POST /portal/sign-in`: sends the link (when order and address match; the answer is the
/// same either way), then shows "sent".
pub async fn request_link(State(state): State<AppState>, Form(f): Form<LinkForm>) -> Response {
    if f.order_no.len() <= 100 && f.email.len() <= 254 {
        let now = state.now();
        let base = state.0.link_base.clone();
        if let Err(e) = state
            .pool()
            .run(move |store| {
                accounts::request_sign_in_link(store, f.order_no.trim(), &f.email, &base, now)
            })
            .await
            && !e.is_callers()
        {
            return crate::problem::Problem::from(e).into_response();
        }
    }
    Redirect::to("/portal/sign-in?sent=1").into_response()
}

#[derive(Debug, Deserialize)]
pub struct TokenForm {
    pub token: String,
}

/// `POST /portal/session`: the link's token for a session; then the customer's cases.
pub async fn redeem(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<TokenForm>,
) -> Response {
    let now = state.now();
    match state
        .pool()
        .run(move |store| accounts::redeem_sign_in_link(store, &f.token, now))
        .await
    {
        Ok(session) => {
            let mut r = Redirect::to("/portal").into_response();
            if let Ok(v) =
                HeaderValue::from_str(&crate::auth::set_cookie(&session.token, 24 * 3600))
            {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        Err(AppError::Unauthenticated(_)) => {
            let lang = Lang::choose(None, &headers);
            let t = lang.texts();
            let view = SignIn {
                lang,
                t,
                title: t.portal_sign_in_title,
                switch_href: format!("/portal/sign-in?lang={}", lang.other().tag()),
                token: None,
                sent: false,
                error: Some(t.link_invalid),
            };
            page(StatusCode::UNAUTHORIZED, view.render(), lang, false)
        }
        Err(e) => crate::problem::Problem::from(e).into_response(),
    }
}

/// `POST /portal/sign-out`: ends the session.
pub async fn sign_out(State(state): State<AppState>, headers: HeaderMap) -> Response {
    super::end_session(&state, &headers, "/portal/sign-in").await
}

struct CaseRow {
    id: i64,
    reference: String,
    kind: String,
    state: String,
    updated: String,
}

#[derive(Template)]
#[template(path = "portal_cases.html")]
struct Cases {
    lang: Lang,
    t: &'static Texts,
    title: &'static str,
    switch_href: String,
    rows: Vec<CaseRow>,
}

/// `GET /portal`: the signed-in customer's cases, newest first.
pub async fn cases(
    State(state): State<AppState>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    let who = match customer(&state, &headers).await {
        Ok(Some((p, _))) => p,
        Ok(None) => return Redirect::to("/portal/sign-in").into_response(),
        Err(r) => return r,
    };
    let lang = Lang::choose(q.lang.as_deref(), &headers);
    let t = lang.texts();
    let policies = state.policies();
    let page_of = state
        .pool()
        .run(move |store| {
            access::list(
                store,
                &policies,
                &who,
                &access::Filter {
                    limit: 200,
                    ..access::Filter::default()
                },
            )
        })
        .await;
    let found = match page_of {
        Ok(p) => p,
        Err(e) => return crate::problem::Problem::from(e).into_response(),
    };
    let tz = jiff::tz::TimeZone::UTC;
    let rows = found
        .cases
        .iter()
        .map(|c| CaseRow {
            id: c.id,
            reference: c
                .authorisation
                .clone()
                .unwrap_or_else(|| format!("#{}", c.id)),
            kind: lang.kind(c.kind.as_str()),
            state: lang.state(c.state.as_str()),
            updated: lang.date(c.updated_at.to_zoned(tz.clone()).date()),
        })
        .collect();
    let view = Cases {
        lang,
        t,
        title: t.my_cases,
        switch_href: format!("/portal?lang={}", lang.other().tag()),
        rows,
    };
    page(StatusCode::OK, view.render(), lang, q.lang.is_some())
}

struct RemedyRow {
    label: String,
    status: &'static str,
    class: &'static str,
    pending_on: String,
    clause: Option<String>,
}

struct ShownCase {
    id: i64,
    version: String,
    /// The moves the customer may take now, with their buttons' words.
    actions: Vec<(String, &'static str)>,
    reference: String,
    kind: String,
    state: String,
    state_key: String,
    authorisation: Option<String>,
    ship_by: Option<String>,
    policy: String,
    remedies: Vec<RemedyRow>,
    missing: Vec<String>,
    deadlines: Vec<String>,
    history: Vec<String>,
}

#[derive(Template)]
#[template(path = "portal_case.html")]
struct CasePage {
    lang: Lang,
    t: &'static Texts,
    title: &'static str,
    switch_href: String,
    c: ShownCase,
    csrf: String,
    stale: bool,
}

#[derive(Debug, Default, Deserialize)]
pub struct CaseQuery {
    pub lang: Option<String>,
    pub stale: Option<String>,
}

/// The value at a JSON pointer, or null.
fn at<'a>(v: &'a J, pointer: &str) -> &'a J {
    v.pointer(pointer).unwrap_or(&J::Null)
}

fn text(v: &J) -> String {
    v.as_str().unwrap_or_default().to_string()
}

fn shown_case(j: &J, lang: Lang) -> ShownCase {
    let t = lang.texts();
    let decision = at(j, "/latest_decision/decision");
    let date = |v: &J| {
        v.as_str()
            .and_then(|s| s.parse::<jiff::civil::Date>().ok())
            .map(|d| lang.date(d))
    };
    let remedies = at(decision, "/remedies")
        .as_array()
        .map(|rs| {
            rs.iter()
                .map(|r| {
                    let (status, class) = match at(r, "/status").as_str() {
                        Some("allowed") => (t.status_allowed, "ok"),
                        Some("pending") => (t.status_pending, "wait"),
                        _ => (t.status_denied, "no"),
                    };
                    RemedyRow {
                        label: text(at(r, "/label")),
                        status,
                        class,
                        pending_on: at(r, "/pending_on")
                            .as_array()
                            .map(|p| {
                                p.iter()
                                    .map(|f| lang.fact(f.as_str().unwrap_or_default()))
                                    .collect::<Vec<_>>()
                                    .join("; ")
                            })
                            .unwrap_or_default(),
                        clause: at(r, "/citations/0/clause").as_str().map(str::to_string),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let list = |v: &J, f: &dyn Fn(&J) -> Option<String>| -> Vec<String> {
        v.as_array()
            .map(|a| a.iter().filter_map(f).collect())
            .unwrap_or_default()
    };
    let reference = at(j, "/authorisation")
        .as_str()
        .map_or_else(|| format!("#{}", at(j, "/id")), str::to_string);
    ShownCase {
        id: at(j, "/id").as_i64().unwrap_or_default(),
        version: text(at(j, "/version")),
        actions: at(j, "/can")
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str())
                    .filter_map(|x| Some((x.to_string(), lang.action(x)?)))
                    .collect()
            })
            .unwrap_or_default(),
        reference,
        kind: lang.kind(at(j, "/kind").as_str().unwrap_or_default()),
        state: lang.state(at(j, "/state").as_str().unwrap_or_default()),
        state_key: text(at(j, "/state")),
        authorisation: at(j, "/authorisation").as_str().map(str::to_string),
        ship_by: date(at(j, "/ship_by")),
        policy: text(at(j, "/policy")),
        remedies,
        missing: list(at(decision, "/missing"), &|m| {
            let clause = at(m, "/cites/clause").as_str().unwrap_or_default();
            Some(format!("{} ({clause})", text(at(m, "/label"))))
        }),
        deadlines: list(at(decision, "/deadlines"), &|d| {
            Some(format!(
                "{}: {}",
                text(at(d, "/label")),
                date(at(d, "/last_day"))?
            ))
        }),
        history: list(at(j, "/history"), &|h| {
            let when = at(h, "/at")
                .as_str()
                .and_then(|s| s.parse::<jiff::Timestamp>().ok())
                .map(|ts| lang.date(ts.to_zoned(jiff::tz::TimeZone::UTC).date()))
                .unwrap_or_default();
            Some(format!(
                "{when} · {}",
                text(at(h, "/action")).replace('_', " ")
            ))
        }),
    }
}

/// `GET /portal/cases/{id}`: one of the customer's cases, in words. Another's is "not found".
pub async fn case(
    State(state): State<AppState>,
    crate::extract::Path(id): crate::extract::Path<i64>,
    Query(q): Query<CaseQuery>,
    headers: HeaderMap,
) -> Response {
    let (who, csrf) = match customer(&state, &headers).await {
        Ok(Some(p)) => p,
        Ok(None) => return Redirect::to("/portal/sign-in").into_response(),
        Err(r) => return r,
    };
    let lang = Lang::choose(q.lang.as_deref(), &headers);
    let t = lang.texts();
    let policies = state.policies();
    let shown = match state
        .pool()
        .run(move |store| access::show(store, &policies, &who, id))
        .await
    {
        Ok(j) => j,
        Err(e) => return crate::problem::Problem::from(e).into_response(),
    };
    let view = CasePage {
        lang,
        t,
        title: t.my_cases,
        switch_href: format!("/portal/cases/{id}?lang={}", lang.other().tag()),
        c: shown_case(&shown, lang),
        csrf,
        stale: q.stale.is_some(),
    };
    page(StatusCode::OK, view.render(), lang, q.lang.is_some())
}

#[derive(Debug, Deserialize)]
pub struct MoveForm {
    pub action: String,
    pub version: String,
    pub csrf: String,
}

/// `POST /portal/cases/{id}/move`: a customer's move from the case page's form. The form
/// carries the session's CSRF token and the case's version: a second click, or a move made
/// meanwhile by someone else, changes nothing and shows the case as it now is.
pub async fn move_case(
    State(state): State<AppState>,
    crate::extract::Path(id): crate::extract::Path<i64>,
    headers: HeaderMap,
    Form(f): Form<MoveForm>,
) -> Response {
    let (who, csrf) = match customer(&state, &headers).await {
        Ok(Some(p)) => p,
        Ok(None) => return Redirect::to("/portal/sign-in").into_response(),
        Err(r) => return r,
    };
    if f.csrf != csrf {
        return crate::problem::Problem::new(
            StatusCode::FORBIDDEN,
            "csrf",
            "this form is not from your session: reload the page",
        )
        .into_response();
    }
    let Ok(action) = f.action.parse::<aftercare_domain::case::Action>() else {
        return crate::problem::Problem::invalid("action", format!("`{}` is not a move", f.action))
            .into_response();
    };
    let step = aftercare_app::cases::Step {
        if_version: Some(f.version),
        ..aftercare_app::cases::Step::new(action)
    };
    let policies = state.policies();
    let now = state.now();
    match state
        .pool()
        .run(move |store| access::transition(store, &policies, &who, id, &step, now))
        .await
    {
        Ok(_) => Redirect::to(&format!("/portal/cases/{id}")).into_response(),
        Err(AppError::Stale(_) | AppError::Transition(_)) => {
            Redirect::to(&format!("/portal/cases/{id}?stale=1")).into_response()
        }
        Err(e) => crate::problem::Problem::from(e).into_response(),
    }
}
