//! The service desk, first pages: staff sign in with their password, and the queue of open
//! cases of the sellers they work for, nearest deadline first, with overdue and at-risk
//! marks (IMASK's 24-hour targets show here), filtered by state and kind. The same use cases
//! as the API (`auth::sign_in_with_password`, `access::queue`).

use aftercare_app::accounts::Principal;
use aftercare_app::{AppError, access};
use aftercare_domain::case::{CaseKind, State as CaseState};
use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::i18n::{Lang, Texts};
use super::{LangQuery, page};
use crate::AppState;
use crate::auth::SignInRefused;

#[derive(Template)]
#[template(path = "desk_sign_in.html")]
struct SignIn {
    lang: Lang,
    t: &'static Texts,
    title: &'static str,
    switch_href: String,
    email: String,
    /// Why the last try did not sign in.
    failed: Option<&'static str>,
}

/// `GET /desk/sign-in`.
pub async fn sign_in_page(Query(q): Query<LangQuery>, headers: HeaderMap) -> Response {
    let lang = Lang::choose(q.lang.as_deref(), &headers);
    let t = lang.texts();
    let view = SignIn {
        lang,
        t,
        title: t.desk.sign_in_title,
        switch_href: format!("/desk/sign-in?lang={}", lang.other().tag()),
        email: String::new(),
        failed: None,
    };
    page(StatusCode::OK, view.render(), lang, q.lang.is_some())
}

#[derive(Debug, Deserialize)]
pub struct SignInForm {
    pub email: String,
    pub password: String,
}

/// `POST /desk/sign-in`: a session, then the queue. A wrong password, an unknown account
/// and too many tries all get the same answer.
pub async fn sign_in(
    State(state): State<AppState>,
    crate::auth::ClientAddress(from): crate::auth::ClientAddress,
    headers: HeaderMap,
    Form(f): Form<SignInForm>,
) -> Response {
    let email = f.email.clone();
    match crate::auth::sign_in_with_password(&state, f.email, f.password, from).await {
        Ok(session) => {
            let mut r = Redirect::to("/desk").into_response();
            if let Ok(v) =
                HeaderValue::from_str(&crate::auth::set_cookie(&session.token, 12 * 3600))
            {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        Err(SignInRefused::App(e)) if !e.is_callers() => {
            crate::problem::Problem::from(e).into_response()
        }
        Err(refused) => {
            let lang = Lang::choose(None, &headers);
            let t = lang.texts();
            let (status, wait, failed) = match refused {
                SignInRefused::Busy => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    Some(1),
                    t.desk.sign_in_busy,
                ),
                SignInRefused::App(AppError::Throttled { retry_after, .. }) => (
                    StatusCode::TOO_MANY_REQUESTS,
                    Some(retry_after),
                    t.desk.sign_in_failed,
                ),
                SignInRefused::App(_) => (StatusCode::UNAUTHORIZED, None, t.desk.sign_in_failed),
            };
            let view = SignIn {
                lang,
                t,
                title: t.desk.sign_in_title,
                switch_href: format!("/desk/sign-in?lang={}", lang.other().tag()),
                email: email.chars().take(254).collect(),
                failed: Some(failed),
            };
            let mut r = page(status, view.render(), lang, false);
            if let Some(secs) = wait {
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            r
        }
    }
}

/// `POST /desk/sign-out`.
pub async fn sign_out(State(state): State<AppState>, headers: HeaderMap) -> Response {
    super::end_session(&state, &headers, "/desk/sign-in").await
}

struct Row {
    id: i64,
    reference: String,
    policy: String,
    kind: String,
    state: String,
    order: String,
    due: String,
    mark: &'static str,
    class: &'static str,
}

#[derive(Template)]
#[template(path = "desk_queue.html")]
struct Queue {
    lang: Lang,
    t: &'static Texts,
    title: &'static str,
    switch_href: String,
    who: String,
    /// Whether the caller may use the policy studio (a link to it).
    studio: bool,
    states: Vec<(&'static str, String)>,
    kinds: Vec<(&'static str, String)>,
    state: String,
    kind: String,
    sellers: Vec<String>,
    seller: String,
    rows: Vec<Row>,
    /// The next page's link, when there is one.
    next: Option<String>,
    /// Whether this is a later page (a link back to the first).
    later: bool,
}

#[derive(Debug, Default, Deserialize)]
pub struct QueueQuery {
    pub lang: Option<String>,
    pub state: Option<String>,
    pub kind: Option<String>,
    pub seller: Option<String>,
    /// The next page's cursor: `DUE.ID`.
    pub after: Option<String>,
}

/// Cases per page of the queue.
const PAGE: i64 = 50;

/// `GET /desk`: the queue.
pub async fn queue(
    State(state): State<AppState>,
    Query(q): Query<QueueQuery>,
    headers: HeaderMap,
) -> Response {
    let who = match super::staff(&state, &headers).await {
        Ok((p, _)) => p,
        Err(r) => return r,
    };
    let lang = Lang::choose(q.lang.as_deref(), &headers);
    let t = lang.texts();
    let wanted_state = q
        .state
        .as_deref()
        .filter(|s| !s.is_empty())
        .and_then(|s| CaseState::ALL.into_iter().find(|x| x.as_str() == s));
    let wanted_kind = q
        .kind
        .as_deref()
        .filter(|s| !s.is_empty())
        .and_then(|s| CaseKind::ALL.into_iter().find(|x| x.as_str() == s));
    let sellers: Vec<String> = match &who {
        Principal::Staff { sellers, .. } => access::seller_names(&state.policies(), sellers),
        Principal::Customer { .. } => Vec::new(),
    };
    let wanted_seller = q
        .seller
        .as_deref()
        .filter(|s| sellers.iter().any(|x| x == s))
        .map(str::to_string);
    let after = q.after.as_deref().and_then(|a| {
        let (due, id) = a.split_once('.')?;
        Some((due.parse::<i64>().ok()?, id.parse::<i64>().ok()?))
    });
    let filter = access::Filter {
        state: wanted_state,
        kind: wanted_kind,
        seller: wanted_seller.clone(),
        after,
        // One more than a page: whether there is a next page.
        limit: PAGE + 1,
        ..access::Filter::default()
    };
    let name = match &who {
        Principal::Staff { email, role, .. } => format!("{email} · {}", role.as_str()),
        Principal::Customer { .. } => String::new(),
    };
    let policies = state.policies();
    let studio = aftercare_app::studio::visible(&who, &policies).is_ok_and(|v| !v.is_empty());
    let now = state.now();
    let found = match state
        .pool()
        .run(move |store| access::queue(store, &policies, &who, &filter))
        .await
    {
        Ok(f) => f,
        Err(e) => return crate::problem::Problem::from(e).into_response(),
    };
    let soon = now + jiff::SignedDuration::from_hours(24);
    let more = i64::try_from(found.len()).unwrap_or(i64::MAX) > PAGE;
    let mut found = found;
    found.truncate(usize::try_from(PAGE).unwrap_or(0));
    let next = found.last().filter(|_| more).map(|last| {
        let query = [
            (
                "after",
                Some(format!("{}.{}", last.cursor.0, last.cursor.1)),
            ),
            ("state", wanted_state.map(|s| s.as_str().to_string())),
            ("kind", wanted_kind.map(|k| k.as_str().to_string())),
            ("seller", wanted_seller.clone()),
        ];
        let set: Vec<(&str, String)> = query
            .into_iter()
            .filter_map(|(k, v)| Some((k, v?)))
            .collect();
        format!(
            "/desk?{}",
            serde_urlencoded::to_string(set).unwrap_or_default()
        )
    });
    let rows = found
        .iter()
        .map(|item| {
            let c = &item.case;
            let (due, mark, class) = match &item.due {
                _ if item.breached => (
                    item.due.as_ref().map_or_else(
                        || t.desk.no_deadline.to_string(),
                        |(at, _)| lang.date(at.to_zoned(jiff::tz::TimeZone::UTC).date()),
                    ),
                    t.desk.target_missed,
                    "overdue",
                ),
                Some((at, _)) => {
                    let zoned = at.to_zoned(jiff::tz::TimeZone::UTC);
                    let when = format!(
                        "{} {}",
                        lang.date(zoned.date()),
                        zoned.strftime("%H:%M UTC")
                    );
                    if *at <= now {
                        (when, t.desk.overdue, "overdue")
                    } else if *at <= soon {
                        (when, t.desk.at_risk, "risk")
                    } else {
                        (when, "", "")
                    }
                }
                None => (t.desk.no_deadline.to_string(), "", ""),
            };
            Row {
                id: c.id,
                reference: c
                    .authorisation
                    .clone()
                    .unwrap_or_else(|| format!("#{}", c.id)),
                policy: c.policy_id.clone(),
                kind: lang.kind(c.kind.as_str()),
                state: lang.state(c.state.as_str()),
                order: c.order_no.clone().unwrap_or_default(),
                due,
                mark,
                class,
            }
        })
        .collect();
    let view = Queue {
        lang,
        t,
        title: t.common.nav_desk,
        switch_href: format!("/desk?lang={}", lang.other().tag()),
        who: name,
        studio,
        states: CaseState::ALL
            .iter()
            .map(|s| (s.as_str(), lang.state(s.as_str())))
            .collect(),
        kinds: CaseKind::ALL
            .iter()
            .map(|k| (k.as_str(), lang.kind(k.as_str())))
            .collect(),
        state: wanted_state
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        kind: wanted_kind
            .map(|k| k.as_str().to_string())
            .unwrap_or_default(),
        sellers,
        seller: wanted_seller.unwrap_or_default(),
        rows,
        next,
        later: after.is_some(),
    };
    page(StatusCode::OK, view.render(), lang, q.lang.is_some())
}

#[derive(Debug, Default, Deserialize)]
pub struct SearchQuery {
    pub q: Option<String>,
    /// A customer's id (from a case page: no personal data in the address).
    pub customer: Option<i64>,
    pub lang: Option<String>,
}

/// One case found, in words.
struct FoundRow {
    id: i64,
    reference: String,
    policy: String,
    kind: String,
    state: String,
    order: String,
    serial: String,
    customer: String,
    matched: String,
    opened: String,
}

#[derive(Template)]
#[template(path = "desk_search.html")]
struct Search {
    lang: Lang,
    t: &'static Texts,
    title: &'static str,
    switch_href: String,
    q: String,
    /// Whether a search was made (a query or a customer).
    asked: bool,
    by_customer: bool,
    rows: Vec<FoundRow>,
}

/// `GET /desk/search?q=…` (or `?customer=ID`): the cases of the caller's sellers it finds.
pub async fn search(
    State(state): State<AppState>,
    Query(sq): Query<SearchQuery>,
    headers: HeaderMap,
) -> Response {
    let who = match super::staff(&state, &headers).await {
        Ok((p, _)) => p,
        Err(r) => return r,
    };
    let lang = Lang::choose(sq.lang.as_deref(), &headers);
    let t = lang.texts();
    let text = sq.q.clone().unwrap_or_default();
    let query = match (sq.customer, text.trim().is_empty()) {
        (Some(id), _) => Some(aftercare_app::search::Query::Customer(id)),
        (None, false) => Some(aftercare_app::search::Query::Text(text.clone())),
        (None, true) => None,
    };
    let rows = match query.clone() {
        None => Vec::new(),
        Some(query) => {
            let policies = state.policies();
            let found = state
                .pool()
                .run(move |store| aftercare_app::search::search(store, &policies, &who, &query))
                .await;
            match found {
                Ok(f) => f,
                Err(e) => return crate::problem::Problem::from(e).into_response(),
            }
        }
    };
    let rows = rows
        .into_iter()
        .map(|f| FoundRow {
            id: f.id,
            reference: f.authorisation.unwrap_or_else(|| format!("#{}", f.id)),
            policy: f.policy_id,
            kind: lang.kind(f.kind.as_str()),
            state: lang.state(f.state.as_str()),
            order: f.order_no.unwrap_or_default(),
            serial: f.serial.unwrap_or_default(),
            customer: f.customer.unwrap_or_default(),
            matched: lang.found_by(f.matched.as_str()),
            opened: lang.date(f.opened_at.to_zoned(jiff::tz::TimeZone::UTC).date()),
        })
        .collect();
    let mut switch = vec![("lang", lang.other().tag().to_string())];
    if let Some(id) = sq.customer {
        switch.push(("customer", id.to_string()));
    } else if !text.is_empty() {
        switch.push(("q", text.clone()));
    }
    let view = Search {
        lang,
        t,
        title: t.desk.search_title,
        switch_href: format!(
            "/desk/search?{}",
            serde_urlencoded::to_string(switch).unwrap_or_default()
        ),
        q: text,
        asked: query.is_some(),
        by_customer: sq.customer.is_some(),
        rows,
    };
    page(StatusCode::OK, view.render(), lang, sq.lang.is_some())
}
