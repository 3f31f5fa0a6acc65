//! The customer portal, first pages: sign in with a link sent to the order's e-mail address,
//! the customer's cases, and a case in words (what they can get and by which clause, what is
//! still needed, the deadlines, the history). The same use cases as the API: the link is
//! `accounts::request_sign_in_link`, the list `access::list`, the case `access::show`, so a
//! customer sees only their own cases here as there.
//!
//! The link's page does not sign in by itself: it shows a button that posts the token, so a
//! mail scanner that opens links does not use up the customer's link.

use aftercare_app::accounts;
use aftercare_app::{AppError, access};
use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::Value as J;

use super::i18n::{Lang, Texts};
use super::{LangQuery, at, page, text};
use crate::AppState;

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
        title: t.portal.sign_in_title,
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
pub async fn request_link(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<LinkForm>,
) -> Response {
    if f.order_no.len() <= 100 && f.email.len() <= 254 {
        let now = state.now();
        let base = state.0.link_base.clone();
        // The language the page was in is the one the customer's e-mails are written in.
        let lang = Lang::choose(None, &headers).tag();
        if let Err(e) = state
            .pool()
            .run(move |store| {
                accounts::request_sign_in_link(
                    store,
                    f.order_no.trim(),
                    &f.email,
                    &base,
                    Some(lang),
                    now,
                )
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
                title: t.portal.sign_in_title,
                switch_href: format!("/portal/sign-in?lang={}", lang.other().tag()),
                token: None,
                sent: false,
                error: Some(t.portal.link_invalid),
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
    let who = match super::customer(&state, &headers).await {
        Ok((p, _)) => p,
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
        title: t.common.my_cases,
        switch_href: format!("/portal?lang={}", lang.other().tag()),
        rows,
    };
    page(StatusCode::OK, view.render(), lang, q.lang.is_some())
}

pub(crate) struct QuoteView {
    pub lines: Vec<(String, String)>,
    pub total: String,
    pub pay_by: Option<String>,
}

pub(crate) struct PhotoRow {
    pub kind: String,
    pub words: String,
    pub have: bool,
}

pub(crate) struct ShownCase {
    pub id: i64,
    pub version: String,
    /// The moves the customer may take now, with their buttons' words.
    pub actions: Vec<(String, &'static str)>,
    pub reference: String,
    pub kind: String,
    pub state: String,
    pub state_key: String,
    pub authorisation: Option<String>,
    pub ship_by: Option<String>,
    pub policy: String,
    pub description: Option<String>,
    /// The case's own path, and the next deadline in words.
    pub progress: super::progress::Progress,
    pub offers: super::start::Offers,
    pub missing: Vec<String>,
    pub notices: Vec<super::start::Notice>,
    pub deadlines: Vec<String>,
    pub history: Vec<String>,
    pub freight_to_seller: &'static str,
    pub freight_to_customer: &'static str,
    /// The photo kinds the policy asks for, each with whether one is there.
    pub checklist: Vec<PhotoRow>,
    /// The photos on the case: id and what they show.
    pub photos: Vec<(i64, String)>,
    pub quote: Option<QuoteView>,
    /// The parcel may be recorded as sent only with the data acknowledgment ticked.
    pub needs_ack: bool,
    /// The policy does not process the request yet (CryptKi 5.1).
    pub held: bool,
    /// A return slip can be printed.
    pub slip: bool,
    /// What the repairs did: parts and their warranty, a unit given in exchange.
    pub repairs: Vec<super::desk_case::RepairView>,
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
    /// Every photo kind, its words, and whether the policy still asks for it.
    kinds: Vec<(&'static str, String, bool)>,
    notice: Option<&'static str>,
    problem: Option<&'static str>,
}

#[derive(Debug, Default, Deserialize)]
pub struct CaseQuery {
    pub lang: Option<String>,
    /// What the last move came to: `stale`, `photo`, `held-submit`, `held-ship`,
    /// `photo-refused`.
    pub notice: Option<String>,
}

/// Money in minor units as the language writes it: `¥1,299.00`, `€149.00`, `4,990 JPY`,
/// `1.250 KWD` (the currency's own decimals, ISO 4217).
pub(crate) fn money(minor: i64, currency: &str) -> String {
    let exp = aftercare_policy::value::Currency::parse(currency).map_or(2, |c| c.exponent());
    let number = aftercare_policy::value::decimal(minor, exp);
    let (sign, number) = match number.strip_prefix('-') {
        Some(n) => ("-", n),
        None => ("", number.as_str()),
    };
    let (whole, fraction) = number.split_at(number.find('.').unwrap_or(number.len()));
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let symbol = match currency {
        "CNY" => "¥",
        "EUR" => "€",
        "USD" => "$",
        "GBP" => "£",
        _ => "",
    };
    if symbol.is_empty() {
        format!("{sign}{grouped}{fraction} {currency}")
    } else {
        format!("{sign}{symbol}{grouped}{fraction}")
    }
}

pub(crate) fn shown_case(
    j: &J,
    photos: &[aftercare_app::evidence::Photo],
    lang: Lang,
    now: jiff::Timestamp,
) -> ShownCase {
    let decision = at(j, "/latest_decision/decision");
    let today = super::progress::today(decision, now);
    let date = |v: &J| {
        v.as_str()
            .and_then(|s| s.parse::<jiff::civil::Date>().ok())
            .map(|d| lang.date(d))
    };
    let list = |v: &J, f: &dyn Fn(&J) -> Option<String>| -> Vec<String> {
        v.as_array()
            .map(|a| a.iter().filter_map(f).collect())
            .unwrap_or_default()
    };
    let reference = at(j, "/authorisation")
        .as_str()
        .map_or_else(|| format!("#{}", at(j, "/id")), str::to_string);
    let flags: Vec<&str> = at(decision, "/flags")
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| at(f, "/flag").as_str())
        .collect();
    let state_key = text(at(j, "/state"));
    // The photo kinds asked for: those still missing, and those already there.
    let mut checklist: Vec<PhotoRow> = Vec::new();
    for m in at(decision, "/missing").as_array().into_iter().flatten() {
        if let Some(k) = at(m, "/photo").as_str()
            && !checklist.iter().any(|r| r.kind == k)
        {
            checklist.push(PhotoRow {
                kind: k.to_string(),
                words: lang.photo(k),
                have: false,
            });
        }
    }
    for p in photos {
        match checklist.iter_mut().find(|r| r.kind == p.kind) {
            Some(r) => r.have = true,
            None => checklist.push(PhotoRow {
                kind: p.kind.clone(),
                words: lang.photo(&p.kind),
                have: true,
            }),
        }
    }
    checklist.sort_by_key(|r| {
        aftercare_app::evidence::KINDS
            .iter()
            .position(|k| *k == r.kind)
            .unwrap_or(usize::MAX)
    });
    let quote = at(j, "/quotes").as_array().and_then(|qs| {
        let q = qs
            .iter()
            .rev()
            .find(|q| at(q, "/status").as_str() == Some("open"))?;
        let currency = text(at(q, "/currency"));
        Some(QuoteView {
            lines: at(q, "/lines")
                .as_array()
                .into_iter()
                .flatten()
                .map(|l| {
                    (
                        text(at(l, "/description")),
                        money(
                            at(l, "/amount_minor").as_i64().unwrap_or_default(),
                            &currency,
                        ),
                    )
                })
                .collect(),
            total: money(
                at(q, "/total_minor").as_i64().unwrap_or_default(),
                &currency,
            ),
            pay_by: at(q, "/expires_at")
                .as_str()
                .and_then(|s| s.parse::<jiff::Timestamp>().ok())
                .map(|ts| lang.date(ts.to_zoned(jiff::tz::TimeZone::UTC).date())),
        })
    });
    ShownCase {
        id: at(j, "/id").as_i64().unwrap_or_default(),
        version: text(at(j, "/version")),
        actions: at(j, "/can")
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str())
                    .filter(|x| !(*x == "submit" && flags.contains(&"not_processed")))
                    .filter_map(|x| Some((x.to_string(), lang.action(x)?)))
                    .collect()
            })
            .unwrap_or_default(),
        reference,
        kind: lang.kind(at(j, "/kind").as_str().unwrap_or_default()),
        state: lang.state(&state_key),
        authorisation: at(j, "/authorisation").as_str().map(str::to_string),
        ship_by: date(at(j, "/ship_by")),
        policy: at(decision, "/policy/title")
            .as_str()
            .map_or_else(|| text(at(j, "/policy")), str::to_string),
        description: at(j, "/description").as_str().map(str::to_string),
        progress: super::progress::progress(j, decision, lang, today),
        offers: super::start::offers(decision, lang),
        missing: super::start::missing(decision, true),
        notices: super::start::notices(decision, lang),
        deadlines: list(at(decision, "/deadlines"), &|d| {
            Some(format!(
                "{}: {}",
                lang.deadline(at(d, "/name").as_str().unwrap_or_default()),
                date(at(d, "/last_day"))?
            ))
        }),
        history: list(at(j, "/history"), &|h| {
            let when = at(h, "/at")
                .as_str()
                .and_then(|s| s.parse::<jiff::Timestamp>().ok())
                .map(|ts| lang.date(ts.to_zoned(jiff::tz::TimeZone::UTC).date()))
                .unwrap_or_default();
            // What happened in the customer's words, with the message staff wrote to them
            // (`access::customer_view` chose both, for the API alike).
            let action = at(h, "/action").as_str().unwrap_or_default();
            let words = lang.event(action)?;
            let message = at(h, "/message").as_str().map(|n| format!(": {n}"));
            Some(format!("{when} · {words}{}", message.unwrap_or_default()))
        }),
        freight_to_seller: lang.party(at(decision, "/freight/to_seller").as_str()),
        freight_to_customer: lang.party(at(decision, "/freight/to_customer").as_str()),
        checklist,
        photos: photos.iter().map(|p| (p.id, lang.photo(&p.kind))).collect(),
        quote,
        needs_ack: flags.contains(&"hold_shipping"),
        held: state_key == "draft" && flags.contains(&"not_processed"),
        slip: matches!(state_key.as_str(), "approved" | "awaiting_device")
            && at(j, "/authorisation").is_string(),
        repairs: super::desk_case::repairs(j, lang),
        state_key,
    }
}

/// `GET /portal/cases/{id}`: one of the customer's cases, in words. Another's is "not found".
pub async fn case(
    State(state): State<AppState>,
    crate::extract::Path(id): crate::extract::Path<i64>,
    Query(q): Query<CaseQuery>,
    headers: HeaderMap,
) -> Response {
    let (who, csrf) = match super::customer(&state, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let lang = Lang::choose(q.lang.as_deref(), &headers);
    let t = lang.texts();
    let policies = state.policies();
    let (shown, photos) = match state
        .pool()
        .run(move |store| {
            let shown = access::show(store, &policies, &who, id)?;
            let photos = aftercare_app::evidence::list(store, &policies, &who, id)?;
            Ok::<_, AppError>((shown, photos))
        })
        .await
    {
        Ok(j) => j,
        Err(e) => return crate::problem::Problem::from(e).into_response(),
    };
    let c = shown_case(&shown, &photos, lang, state.now());
    let view = CasePage {
        lang,
        t,
        title: t.common.my_cases,
        switch_href: format!("/portal/cases/{id}?lang={}", lang.other().tag()),
        kinds: aftercare_app::evidence::KINDS
            .iter()
            .map(|k| {
                let needed = c.checklist.iter().any(|r| r.kind == *k && !r.have);
                (*k, lang.photo(k), needed)
            })
            .collect(),
        c,
        csrf,
        notice: match q.notice.as_deref() {
            Some("stale") => Some(t.case.changed_meanwhile),
            Some("photo") => Some(t.case.photo_added),
            _ => None,
        },
        problem: match q.notice.as_deref() {
            Some("held-submit") => Some(t.portal.held_submit),
            Some("held-ship") => Some(t.portal.held_ship),
            Some("photo-refused") => Some(t.case.photo_refused),
            _ => None,
        },
    };
    page(StatusCode::OK, view.render(), lang, q.lang.is_some())
}

#[derive(Debug, Deserialize)]
pub struct MoveForm {
    pub action: String,
    pub version: String,
    pub csrf: String,
    /// The data-wipe acknowledgment's box, ticked (imKey 2(5), Maintenance 3.1–3.2).
    pub ack: Option<String>,
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
    let (who, csrf) = match super::customer(&state, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if f.csrf != csrf {
        return super::forged();
    }
    let Ok(action) = f.action.parse::<aftercare_domain::case::Action>() else {
        return crate::problem::Problem::invalid("action", format!("`{}` is not a move", f.action))
            .into_response();
    };
    let mut step = aftercare_app::cases::Step {
        if_version: Some(f.version),
        ..aftercare_app::cases::Step::new(action)
    };
    if action == aftercare_domain::case::Action::DeviceShipped && f.ack.is_some() {
        step.facts
            .insert("customer.data_acknowledged".into(), J::Bool(true));
    }
    let policies = state.policies();
    let now = state.now();
    match state
        .pool()
        .run(move |store| access::transition(store, &policies, &who, id, &step, now))
        .await
    {
        Ok(_) => Redirect::to(&format!("/portal/cases/{id}")).into_response(),
        Err(AppError::Stale(_) | AppError::Transition(_)) => {
            Redirect::to(&format!("/portal/cases/{id}?notice=stale")).into_response()
        }
        Err(AppError::Refused(_)) => {
            let which = if action == aftercare_domain::case::Action::DeviceShipped {
                "held-ship"
            } else {
                "held-submit"
            };
            Redirect::to(&format!("/portal/cases/{id}?notice={which}")).into_response()
        }
        Err(e) => crate::problem::Problem::from(e).into_response(),
    }
}

/// `POST /portal/cases/{id}/photos`: a photo from the case page's form (multipart: `csrf`,
/// `kind`, `file`), checked and re-encoded like any upload; back to the case, whose checklist
/// now ticks the kind.
pub async fn upload(
    State(state): State<AppState>,
    crate::extract::Path(id): crate::extract::Path<i64>,
    headers: HeaderMap,
    multipart: Result<axum::extract::Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    let (who, csrf) = match super::customer(&state, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    super::attach_photo(
        &state,
        who,
        &csrf,
        id,
        multipart,
        &format!("/portal/cases/{id}"),
    )
    .await
}

#[derive(Template)]
#[template(path = "portal_slip.html")]
struct Slip {
    lang: Lang,
    t: &'static Texts,
    title: &'static str,
    switch_href: String,
    c: ShownCase,
    authorisation: String,
    qr: String,
    address: Vec<String>,
    order: String,
    serial: String,
}

/// `GET /portal/cases/{id}/slip`: the return slip to print once a case is approved: its
/// authorisation number (also as a QR code), where to send it, by when, who pays the
/// freight, and the policy's own packing instructions.
pub async fn slip(
    State(state): State<AppState>,
    crate::extract::Path(id): crate::extract::Path<i64>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    let (who, _) = match super::customer(&state, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let lang = Lang::choose(q.lang.as_deref(), &headers);
    let t = lang.texts();
    let policies = state.policies();
    let seller_of = state.policies();
    let (shown, seller) = match state
        .pool()
        .run(move |store| {
            let shown = access::show(store, &policies, &who, id)?;
            let seller = shown
                .pointer("/policy")
                .and_then(J::as_str)
                .and_then(|p| seller_of.get(p).ok())
                .and_then(|p| p.seller.clone());
            Ok::<_, AppError>((shown, seller))
        })
        .await
    {
        Ok(x) => x,
        Err(e) => return crate::problem::Problem::from(e).into_response(),
    };
    let c = shown_case(&shown, &[], lang, state.now());
    let Some(authorisation) = c.authorisation.clone().filter(|_| c.slip) else {
        return Redirect::to(&format!("/portal/cases/{id}")).into_response();
    };
    let qr = match qrcode::QrCode::new(authorisation.as_bytes()) {
        Ok(code) => code
            .render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(160, 160)
            .dark_color(qrcode::render::svg::Color("#000000"))
            .light_color(qrcode::render::svg::Color("#ffffff"))
            .build(),
        Err(_) => String::new(),
    };
    let address = seller
        .and_then(|s| state.0.service_centres.get(&s).cloned())
        .map(|a| a.split(';').map(|l| l.trim().to_string()).collect())
        .unwrap_or_default();
    let view = Slip {
        lang,
        t,
        title: t.portal.slip_title,
        switch_href: format!("/portal/cases/{id}/slip?lang={}", lang.other().tag()),
        authorisation,
        qr,
        address,
        order: text(at(&shown, "/order_no")),
        serial: text(at(&shown, "/serial")),
        c,
    };
    page(StatusCode::OK, view.render(), lang, q.lang.is_some())
}

#[cfg(test)]
mod tests {
    use super::money;

    /// Each currency with its own decimals, grouped, signed.
    #[test]
    fn money_is_written_with_the_currencys_own_decimals() {
        assert_eq!(money(129_900, "CNY"), "¥1,299.00");
        assert_eq!(money(14_900, "EUR"), "€149.00");
        assert_eq!(money(-5, "EUR"), "-€0.05");
        assert_eq!(money(1_234_567_890, "CHF"), "12,345,678.90 CHF");
        assert_eq!(money(4_990, "JPY"), "4,990 JPY");
        assert_eq!(money(1_250, "KWD"), "1.250 KWD");
        assert_eq!(money(0, "USD"), "$0.00");
        assert_eq!(money(i64::MIN, "JPY"), "-9,223,372,036,854,775,808 JPY");
    }
}
