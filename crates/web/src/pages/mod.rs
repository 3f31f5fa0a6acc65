//! The HTML pages, rendered on the server (askama) over the same use cases as the API, in
//! English or Simplified Chinese. They work without JavaScript: forms use GET or POST and
//! redirect; htmx (vendored, like every asset) only makes them nicer. Every page carries a
//! strict Content-Security-Policy: scripts, styles and images from this server only.

pub mod desk;
pub mod desk_case;
pub mod i18n;
pub mod portal;
pub(crate) mod progress;
pub mod reports;
pub mod start;
pub mod studio;

use std::sync::Arc;

use aftercare_app::coverage;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::AppState;
use i18n::{Lang, Texts};

/// What the landing page of a demo server lists.
#[derive(Clone, Debug)]
pub struct Demo {
    pub password: String,
    pub accounts: Vec<DemoAccount>,
    pub customer_order: String,
    pub customer_email: String,
}

#[derive(Clone, Debug)]
pub struct DemoAccount {
    pub email: String,
    pub role: String,
    pub sellers: String,
}

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
    connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// A rendered page with its language, its headers and, when a `?lang=` link chose the
/// language, the cookie that keeps it.
fn page(
    status: StatusCode,
    html: Result<String, askama::Error>,
    lang: Lang,
    chosen: bool,
) -> Response {
    let Ok(html) = html else {
        return crate::problem::Problem::internal(&"a page could not be rendered").into_response();
    };
    let mut r = (status, html).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        header::CONTENT_LANGUAGE,
        HeaderValue::from_static(lang.tag()),
    );
    h.insert(
        header::VARY,
        HeaderValue::from_static("Accept-Language, Cookie"),
    );
    if chosen
        && let Ok(v) = HeaderValue::from_str(&format!(
            "{}={}; Path=/; Max-Age=31536000; SameSite=Lax",
            i18n::COOKIE,
            lang.tag()
        ))
    {
        h.insert(header::SET_COOKIE, v);
    }
    r
}

#[derive(Debug, Default, Deserialize)]
pub struct LangQuery {
    pub lang: Option<String>,
}

/// Who the session cookie signs in, with the session's CSRF token; `None` without a valid one.
pub(crate) async fn session(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<(aftercare_app::accounts::Principal, String)>, Response> {
    let Some(cookie) = crate::auth::session_cookie(headers) else {
        return Ok(None);
    };
    let now = state.now();
    state
        .pool()
        .run(move |store| {
            store.read(|tx| -> Result<_, aftercare_app::AppError> {
                aftercare_app::accounts::session(tx, &cookie, now)
            })
        })
        .await
        .map_err(|e| crate::problem::Problem::from(e).into_response())
}

/// The signed-in customer and their session's CSRF token; anyone else goes to the portal's
/// sign-in.
pub(crate) async fn customer(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<(aftercare_app::accounts::Principal, String), Response> {
    match session(state, headers).await? {
        Some((p @ aftercare_app::accounts::Principal::Customer { .. }, csrf)) => Ok((p, csrf)),
        _ => Err(axum::response::Redirect::to("/portal/sign-in").into_response()),
    }
}

/// The signed-in staff member and their session's CSRF token; anyone else goes to the desk's
/// sign-in.
pub(crate) async fn staff(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<(aftercare_app::accounts::Principal, String), Response> {
    match session(state, headers).await? {
        Some((p @ aftercare_app::accounts::Principal::Staff { .. }, csrf)) => Ok((p, csrf)),
        _ => Err(axum::response::Redirect::to("/desk/sign-in").into_response()),
    }
}

/// The signed-in staff member who sent `form`, and their session's CSRF token, when the form
/// carries that token: anyone else goes to the desk's sign-in, a form without it is refused.
pub(crate) async fn staff_form(
    state: &AppState,
    headers: &HeaderMap,
    form: &[(String, String)],
) -> Result<(aftercare_app::accounts::Principal, String), Response> {
    let (who, csrf) = staff(state, headers).await?;
    if field(form, "csrf") != Some(csrf.as_str()) {
        return Err(forged());
    }
    Ok((who, csrf))
}

/// A form's field; `None` when it is missing or blank.
pub(crate) fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.trim().is_empty())
}

/// The answer to a form whose CSRF token is not its session's.
pub(crate) fn forged() -> Response {
    crate::problem::Problem::new(
        StatusCode::FORBIDDEN,
        "csrf",
        "this form is not from your session: reload the page",
    )
    .into_response()
}

/// The value at a JSON pointer of a use case's result, or null.
pub(crate) fn at<'a>(v: &'a serde_json::Value, pointer: &str) -> &'a serde_json::Value {
    v.pointer(pointer).unwrap_or(&serde_json::Value::Null)
}

/// A JSON string's text, or empty.
pub(crate) fn text(v: &serde_json::Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// The strings of a JSON list.
pub(crate) fn strings(v: &serde_json::Value) -> impl Iterator<Item = &str> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(serde_json::Value::as_str)
}

/// A redirect to `to` that sets (or, with `None`, clears) the session cookie.
pub(crate) fn redirect_with_session(to: &str, session: Option<(&str, i64)>) -> Response {
    let mut r = axum::response::Redirect::to(to).into_response();
    let cookie = match session {
        Some((token, max_age)) => crate::auth::set_cookie(token, max_age),
        None => crate::auth::clear_cookie(),
    };
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

/// Ends the session of the request's cookie, here and in the browser; then `to`.
pub(crate) async fn end_session(state: &AppState, headers: &HeaderMap, to: &str) -> Response {
    if let Some(cookie) = crate::auth::session_cookie(headers) {
        let _ = state
            .pool()
            .run(move |store| aftercare_app::accounts::sign_out(store, &cookie))
            .await;
    }
    redirect_with_session(to, None)
}

#[derive(Template)]
#[template(path = "landing.html")]
struct Landing<'a> {
    lang: Lang,
    t: &'static Texts,
    title: &'static str,
    switch_href: String,
    demo: Option<&'a Demo>,
}

/// `GET /`: what Aftercare is, the ways in, and on a demo server its accounts.
pub async fn landing(
    State(state): State<AppState>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = Lang::choose(q.lang.as_deref(), &headers);
    let t = lang.texts();
    let html = Landing {
        lang,
        t,
        title: t.common.nav_home,
        switch_href: format!("/?lang={}", lang.other().tag()),
        demo: state.0.demo.as_deref(),
    }
    .render();
    page(StatusCode::OK, html, lang, q.lang.is_some())
}

#[derive(Debug, Default, Deserialize)]
pub struct WarrantyQuery {
    pub serial: Option<String>,
    pub lang: Option<String>,
}

/// One line of the coverage table, in words.
struct Row {
    name: String,
    source: String,
    this_item: bool,
    status: String,
    class: &'static str,
    period: String,
    basis: Option<String>,
    clause: String,
    clause_title: String,
}

struct Shown {
    serial: String,
    product: String,
    policy: String,
    today: String,
    rows: Vec<Row>,
    parts: Vec<String>,
    replaces: Option<String>,
    replaced_by: Option<String>,
}

#[derive(Template)]
#[template(path = "warranty.html")]
struct Warranty {
    lang: Lang,
    t: &'static Texts,
    title: &'static str,
    switch_href: String,
    serial: String,
    error: Option<&'static str>,
    coverage: Option<Shown>,
}

fn shown(c: &coverage::Coverage, lang: Lang) -> Shown {
    let t = lang.texts();
    let rows = c
        .components
        .iter()
        .map(|k| {
            let (status, class) = match (k.covered, k.in_warranty, k.end) {
                (false, ..) => (t.warranty.not_covered.to_string(), "no"),
                (true, Some(true), Some(end)) => (
                    format!("{} {}", t.warranty.covered_until, lang.date(end)),
                    "ok",
                ),
                (true, Some(false), Some(end)) if end < c.today => {
                    (format!("{} {}", t.warranty.ended_on, lang.date(end)), "no")
                }
                (true, Some(false), _) => (t.warranty.not_started.to_string(), "wait"),
                _ => (t.warranty.unknown_dates.to_string(), "wait"),
            };
            let period = match (k.start, k.end) {
                (Some(s), Some(e)) => format!("{} – {}", lang.date(s), lang.date(e)),
                (Some(s), None) => format!("{} –", lang.date(s)),
                _ => "—".to_string(),
            };
            Row {
                name: k.name.clone(),
                source: format!(
                    "{} · {}",
                    k.from,
                    if k.by_law {
                        t.warranty.by_law
                    } else {
                        t.warranty.by_seller
                    }
                ),
                this_item: k.this_item,
                status,
                class,
                period,
                basis: k.basis.as_deref().map(|b| lang.basis(b)),
                clause: k.clause.clone(),
                clause_title: start::title_in(
                    &k.clause_title,
                    k.clause_titles.get(lang.tag()).map(String::as_str),
                    lang,
                ),
            }
        })
        .collect();
    Shown {
        serial: c.serial.clone(),
        product: c.product.clone(),
        policy: format!("{} ({})", c.policy.title, c.policy.version),
        today: lang.date(c.today),
        rows,
        parts: c
            .parts
            .iter()
            .map(|p| {
                format!(
                    "{} · {} {} · {} {}",
                    p.part,
                    t.warranty.part_fitted,
                    p.installed_on,
                    t.warranty.covered_until,
                    p.warranty_until
                )
            })
            .collect(),
        replaces: c.replaces.clone(),
        replaced_by: c.replaced_by.clone(),
    }
}

/// `GET /warranty?serial=…`: the public warranty check, in words.
pub async fn warranty(
    State(state): State<AppState>,
    Query(q): Query<WarrantyQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = Lang::choose(q.lang.as_deref(), &headers);
    let t = lang.texts();
    let serial = q.serial.unwrap_or_default().trim().to_string();
    let switch_href = if serial.is_empty() {
        format!("/warranty?lang={}", lang.other().tag())
    } else {
        format!(
            "/warranty?serial={}&lang={}",
            crate::routes::warranty::url_safe(&serial).unwrap_or_default(),
            lang.other().tag()
        )
    };
    let mut view = Warranty {
        lang,
        t,
        title: t.warranty.title,
        switch_href,
        serial: serial.clone(),
        error: None,
        coverage: None,
    };
    let mut status = StatusCode::OK;
    if !serial.is_empty() {
        if crate::routes::warranty::url_safe(&serial).is_none() {
            view.error = Some(t.warranty.bad_serial);
            status = StatusCode::UNPROCESSABLE_ENTITY;
        } else {
            let policies: Arc<aftercare_app::Policies> = state.policies();
            let now = state.now();
            let s = serial.clone();
            match state
                .pool()
                .run(move |store| coverage::coverage(store, &policies, &s, now))
                .await
            {
                Ok(c) => view.coverage = Some(shown(&c, lang)),
                Err(aftercare_app::AppError::NotFound { .. }) => {
                    view.error = Some(t.warranty.no_such_serial);
                    status = StatusCode::NOT_FOUND;
                }
                Err(e) => return crate::problem::Problem::from(e).into_response(),
            }
        }
    }
    page(status, view.render(), lang, q.lang.is_some())
}

/// The vendored assets, compiled into the binary.
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/app.css"),
    ),
    (
        "htmx-2.0.11.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/htmx-2.0.11.min.js"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/app.js"),
    ),
];

/// `GET /assets/{file}`: a vendored asset, cached for a day.
pub async fn asset(crate::extract::Path(file): crate::extract::Path<String>) -> Response {
    match ASSETS.iter().find(|(name, ..)| *name == file) {
        Some((_, content_type, bytes)) => (
            [
                (header::CONTENT_TYPE, *content_type),
                (header::CACHE_CONTROL, "public, max-age=86400"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            *bytes,
        )
            .into_response(),
        None => crate::problem::Problem::not_found(format!("no asset `{file}`")).into_response(),
    }
}

/// A photo from a case page's form (multipart: `csrf`, `kind`, `file`), attached as `who`
/// (the customer's portal and the desk alike), checked and re-encoded like any upload; then
/// back to `page` with `?notice=photo`, or `photo-refused` for a file that is not a sound
/// image within the limits.
pub(crate) async fn attach_photo(
    state: &AppState,
    who: aftercare_app::accounts::Principal,
    csrf: &str,
    id: i64,
    multipart: Result<axum::extract::Multipart, axum::extract::multipart::MultipartRejection>,
    page: &str,
) -> Response {
    let back = |notice: &str| axum::response::Redirect::to(&format!("{page}?notice={notice}"));
    let Ok(mut multipart) = multipart else {
        return back("photo-refused").into_response();
    };
    let (mut sent_csrf, mut kind, mut file) = (None, None, None);
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or_default().to_string();
                let Ok(bytes) = field.bytes().await else {
                    return back("photo-refused").into_response();
                };
                match name.as_str() {
                    "csrf" => sent_csrf = Some(String::from_utf8_lossy(&bytes).into_owned()),
                    "kind" => kind = Some(String::from_utf8_lossy(&bytes).into_owned()),
                    "file" => file = Some(bytes),
                    _ => {}
                }
            }
            Ok(None) => break,
            Err(_) => return back("photo-refused").into_response(),
        }
    }
    if sent_csrf.as_deref() != Some(csrf) {
        return forged();
    }
    let (Some(kind), Some(file)) = (kind, file) else {
        return back("photo-refused").into_response();
    };
    match crate::routes::evidence::attach_as(state, who, id, &kind, file).await {
        Ok(_) => back("photo").into_response(),
        Err(aftercare_app::AppError::NotFound { .. }) => {
            crate::problem::Problem::not_found("no such case among yours").into_response()
        }
        Err(e) if e.is_callers() => back("photo-refused").into_response(),
        Err(e) => crate::problem::Problem::from(e).into_response(),
    }
}
