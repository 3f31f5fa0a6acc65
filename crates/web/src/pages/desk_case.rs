//! The desk's case page: the case's facts, its decision with the clauses that decided each
//! remedy and what changed since the previous decision, its photos, its audit timeline, and
//! exactly the moves its state and the staff member's role allow: the inspection form (whose
//! findings re-decide the case live before saving: `access::what_if`), the quote builder,
//! receipt with the parcel's condition, approval, refunds. Every move is a form carrying the
//! session's CSRF token and the case's version, so a double click or an old tab changes
//! nothing (a refund is paid once).

use aftercare_app::accounts::Principal;
use aftercare_app::cases::Step;
use aftercare_app::{AppError, access};
use aftercare_domain::case::Action;
use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Map, Value as J};

use super::i18n::{Lang, Texts};
use super::{at, field, page, staff, staff_form, strings, text};
use crate::AppState;

/// The findings staff record, by fact: yes/no facts, then `invoice.status`.
const YES_NO_FINDINGS: &[&str] = &[
    "condition.complete",
    "condition.activated",
    "condition.packaging_opened",
    "condition.seal_broken",
    "condition.gifts_returned",
    "unit.genuine",
    "warranty_card.present",
    "arrival.parcel_damaged",
    "arrival.soaked",
];

/// The yes/no findings the inspection form asks.
const INSPECTION: &[&str] = &[
    "condition.complete",
    "condition.activated",
    "condition.seal_broken",
    "unit.genuine",
    "warranty_card.present",
];

/// What the receipt form asks about the parcel.
const ARRIVAL: &[&str] = &["arrival.parcel_damaged", "arrival.soaked"];

/// Moves taken with a note only.
const NOTE_MOVES: &[&str] = &[
    "reject",
    "request_info",
    "return_unrepaired",
    "reject_on_arrival",
    "cancel",
];

pub(crate) struct Cite {
    clause: String,
    role: String,
    title: String,
}

pub(crate) struct RemedyView {
    label: String,
    status: &'static str,
    class: &'static str,
    cites: Vec<Cite>,
    pending: String,
}

struct Finding {
    name: String,
    id: String,
    words: String,
    value: String,
}

/// What one repair or replacement did, as recorded.
pub(crate) struct RepairView {
    pub when: String,
    pub fixed: bool,
    /// Part, warranty end, clause.
    pub parts: Vec<(String, String, String)>,
    /// The unit given in exchange: serial, warranty end, clause.
    pub replaced_by: Option<(String, String, String)>,
    pub to_customer: bool,
}

/// The repairs a case JSON records, for the desk and the portal.
pub(crate) fn repairs(j: &J, lang: Lang) -> Vec<RepairView> {
    let day = |v: &J| {
        v.as_str()
            .and_then(|s| s.parse::<jiff::civil::Date>().ok())
            .map(|d| lang.date(d))
            .unwrap_or_default()
    };
    at(j, "/repairs")
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| RepairView {
            when: at(r, "/at")
                .as_str()
                .and_then(|s| s.parse::<jiff::Timestamp>().ok())
                .map(|t| lang.date(t.to_zoned(jiff::tz::TimeZone::UTC).date()))
                .unwrap_or_default(),
            fixed: at(r, "/outcome").as_str() == Some("fixed"),
            parts: at(r, "/parts")
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| {
                    (
                        text(at(p, "/part")),
                        day(at(p, "/warranty_until")),
                        text(at(p, "/clause")),
                    )
                })
                .collect(),
            replaced_by: at(r, "/replaced_by").as_str().map(|s| {
                (
                    s.to_string(),
                    day(at(r, "/replacement_warranty_until")),
                    text(at(r, "/replacement_clause")),
                )
            }),
            to_customer: at(r, "/parts_to_customer").as_bool() == Some(true),
        })
        .collect()
}

struct TimelineRow {
    when: String,
    who: String,
    what: String,
    note: String,
}

struct DeskCase {
    id: i64,
    version: String,
    reference: String,
    kind: String,
    state: String,
    state_key: String,
    /// The case's own path, and the next deadline in words (as the customer sees it).
    progress: super::progress::Progress,
    policy: String,
    order: String,
    serial: String,
    /// The customer's id, for a link to their other cases.
    customer_id: Option<i64>,
    /// The search for the unit's cases (its history), when the case names a unit.
    unit_search: Option<String>,
    description: Option<String>,
    authorisation: Option<String>,
    ship_by: Option<String>,
    opened: String,
    decided_at: String,
    remedies: Vec<RemedyView>,
    changes: Option<Vec<String>>,
    flags: Vec<(String, String, String)>,
    missing: Vec<String>,
    deadlines: Vec<String>,
    refund: Option<String>,
    freight_to_seller: &'static str,
    freight_to_customer: &'static str,
    facts: Vec<(String, String, String)>,
    photos: Vec<(i64, String)>,
    timeline: Vec<TimelineRow>,
    /// Plain moves: action and its button's words.
    buttons: Vec<(String, String)>,
    /// Moves with a note.
    noted: Vec<(String, String)>,
    approve: bool,
    receive: bool,
    inspect: bool,
    quote: bool,
    causes: Vec<(&'static str, String, bool)>,
    /// Every photo kind and its words, for the upload form.
    photo_kinds: Vec<(&'static str, String)>,
    inspection: Vec<Finding>,
    arrival: Vec<Finding>,
    currency: String,
    /// The repair report form: on a `repairing` or `replacing` case, for those who repair.
    repair_form: bool,
    components: Vec<String>,
    repairs: Vec<RepairView>,
}

#[derive(Template)]
#[template(path = "desk_case.html")]
struct CasePage {
    lang: Lang,
    t: &'static Texts,
    title: &'static str,
    switch_href: String,
    c: DeskCase,
    csrf: String,
    notice: Option<&'static str>,
    error: Option<String>,
    preview: Option<(Vec<RemedyView>, Option<String>)>,
    /// Whether the caller may save this case as a scenario of its policy (the studio's).
    studio: bool,
}

fn remedies(decision: &J, lang: Lang) -> Vec<RemedyView> {
    let t = lang.texts();
    at(decision, "/remedies")
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let (status, class) = match at(r, "/status").as_str() {
                Some("allowed") => (t.case.status_allowed, "ok"),
                Some("pending") => (t.case.status_pending, "wait"),
                _ => (t.case.status_denied, "no"),
            };
            RemedyView {
                label: lang.remedy(at(r, "/remedy").as_str().unwrap_or_default()),
                status,
                class,
                cites: at(r, "/citations")
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|c| Cite {
                        clause: super::start::clause_of(decision, c, lang).unwrap_or_default(),
                        role: text(at(c, "/role")).replace('_', " "),
                        title: super::start::clause_title(c, lang),
                    })
                    .collect(),
                pending: strings(at(r, "/pending_on"))
                    .map(|f| lang.fact(f))
                    .collect::<Vec<_>>()
                    .join("; "),
            }
        })
        .collect()
}

fn refund_of(decision: &J) -> Option<String> {
    let minor = at(decision, "/refund/amount_minor").as_i64()?;
    Some(super::portal::money(
        minor,
        at(decision, "/refund/currency")
            .as_str()
            .unwrap_or_default(),
    ))
}

/// What changed between two decisions: each remedy whose status moved, refunds, missing.
fn changes(newer: &J, older: &J, lang: Lang) -> Vec<String> {
    let t = lang.texts();
    let status = |d: &J, remedy: &str| -> Option<String> {
        at(d, "/remedies")
            .as_array()?
            .iter()
            .find(|r| at(r, "/remedy").as_str() == Some(remedy))
            .and_then(|r| at(r, "/status").as_str())
            .map(str::to_string)
    };
    let word = |s: Option<&str>| match s {
        Some("allowed") => t.case.status_allowed,
        Some("pending") => t.case.status_pending,
        Some("denied") => t.case.status_denied,
        _ => "—",
    };
    let mut out = Vec::new();
    for r in at(newer, "/remedies").as_array().into_iter().flatten() {
        let name = at(r, "/remedy").as_str().unwrap_or_default();
        let now = at(r, "/status").as_str().map(str::to_string);
        let before = status(older, name);
        if now != before {
            out.push(format!(
                "{}: {} → {}",
                lang.remedy(name),
                word(before.as_deref()),
                word(now.as_deref())
            ));
        }
    }
    let (a, b) = (refund_of(older), refund_of(newer));
    if a != b {
        out.push(format!(
            "{}: {} → {}",
            t.desk_case.refund_amount,
            a.unwrap_or_else(|| "—".into()),
            b.unwrap_or_else(|| "—".into())
        ));
    }
    let labels = |d: &J| -> Vec<String> {
        at(d, "/missing")
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| text(at(m, "/label")))
            .collect()
    };
    let (was, is) = (labels(older), labels(newer));
    for m in was.iter().filter(|m| !is.contains(m)) {
        out.push(format!("✓ {m}"));
    }
    for m in is.iter().filter(|m| !was.contains(m)) {
        out.push(format!("{}: {m}", t.case.still_needed));
    }
    out
}

fn value_words(v: &J, lang: Lang) -> String {
    let t = lang.texts();
    match v {
        J::Bool(true) => t.case.answer_yes.to_string(),
        J::Bool(false) => t.case.answer_no.to_string(),
        J::String(s) => s.clone(),
        J::Array(a) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map_or_else(|| x.to_string(), |s| s.replace('_', " "))
            })
            .collect::<Vec<_>>()
            .join(", "),
        J::Null => "—".into(),
        other => other.to_string(),
    }
}

fn finding(path: &str, form: &[(String, String)], facts: &Map<String, J>, lang: Lang) -> Finding {
    let name = format!("f.{path}");
    let value = form
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| match facts.get(path) {
            Some(J::Bool(true)) => "yes".into(),
            Some(J::Bool(false)) => "no".into(),
            _ => String::new(),
        });
    Finding {
        id: format!("f-{}", path.replace('.', "-")),
        name,
        words: lang.fact(path),
        value,
    }
}

#[expect(clippy::too_many_lines, reason = "one page's view, field by field")]
fn desk_case(
    who: &Principal,
    j: &J,
    decisions: &[(i64, jiff::Timestamp, J)],
    photos: &[aftercare_app::evidence::Photo],
    form: &[(String, String)],
    lang: Lang,
    now: jiff::Timestamp,
) -> DeskCase {
    let decision = decisions.first().map_or(&J::Null, |(_, _, d)| d);
    let utc = jiff::tz::TimeZone::UTC;
    let stamp = |s: &str| {
        s.parse::<jiff::Timestamp>()
            .map(|ts| {
                let z = ts.to_zoned(utc.clone());
                format!("{} {}", lang.date(z.date()), z.strftime("%H:%M UTC"))
            })
            .unwrap_or_default()
    };
    let can: Vec<Action> = strings(at(j, "/can"))
        .filter_map(|a| a.parse::<Action>().ok())
        .filter(|a| access::may_move(who, *a))
        .collect();
    let has = |a: Action| can.contains(&a);
    let facts: Map<String, J> = at(j, "/facts").as_object().cloned().unwrap_or_default();
    let checked: Vec<String> = form
        .iter()
        .filter(|(k, _)| k == "f.diagnosis.causes")
        .map(|(_, v)| v.clone())
        .collect();
    let found: Vec<String> = if checked.is_empty() {
        strings(facts.get("diagnosis.causes").unwrap_or(&J::Null))
            .map(str::to_string)
            .collect()
    } else {
        checked
    };
    let state_key = text(at(j, "/state"));
    DeskCase {
        id: at(j, "/id").as_i64().unwrap_or_default(),
        version: text(at(j, "/version")),
        reference: at(j, "/authorisation")
            .as_str()
            .map_or_else(|| format!("#{}", at(j, "/id")), str::to_string),
        kind: lang.kind(at(j, "/kind").as_str().unwrap_or_default()),
        state: lang.state(&state_key),
        customer_id: at(j, "/customer_id").as_i64(),
        unit_search: at(j, "/serial").as_str().map(|serial| {
            format!(
                "/desk/search?{}",
                serde_urlencoded::to_string([("q", serial)]).unwrap_or_default()
            )
        }),
        progress: super::progress::progress(
            j,
            decision,
            lang,
            super::progress::today(decision, now),
        ),
        policy: format!(
            "{} {}",
            at(decision, "/policy/title")
                .as_str()
                .map_or_else(|| text(at(j, "/policy")), str::to_string),
            text(at(decision, "/policy/version"))
        ),
        order: text(at(j, "/order_no")),
        serial: text(at(j, "/serial")),
        description: at(j, "/description").as_str().map(str::to_string),
        authorisation: at(j, "/authorisation").as_str().map(str::to_string),
        ship_by: at(j, "/ship_by")
            .as_str()
            .and_then(|s| s.parse::<jiff::civil::Date>().ok())
            .map(|d| lang.date(d)),
        opened: stamp(at(j, "/opened_at").as_str().unwrap_or_default()),
        decided_at: decisions
            .first()
            .map(|(_, at, _)| stamp(&at.to_string()))
            .unwrap_or_default(),
        remedies: remedies(decision, lang),
        changes: decisions
            .get(1)
            .map(|(_, _, older)| changes(decision, older, lang)),
        flags: at(decision, "/flags")
            .as_array()
            .into_iter()
            .flatten()
            .map(|f| {
                (
                    text(at(f, "/flag")).replace('_', " "),
                    text(at(f, "/note")),
                    format!(
                        "{} {}",
                        text(at(f, "/cites/policy")),
                        text(at(f, "/cites/clause"))
                    ),
                )
            })
            .collect(),
        missing: super::start::missing(decision, false),
        deadlines: at(decision, "/deadlines")
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| {
                let day = at(d, "/last_day")
                    .as_str()?
                    .parse::<jiff::civil::Date>()
                    .ok()?;
                Some(format!(
                    "{}: {} ({})",
                    lang.deadline(at(d, "/name").as_str().unwrap_or_default()),
                    lang.date(day),
                    super::start::clause_of(decision, at(d, "/cites"), lang).unwrap_or_default()
                ))
            })
            .collect(),
        refund: refund_of(decision),
        freight_to_seller: lang.payer(at(decision, "/freight/to_seller").as_str()),
        freight_to_customer: lang.payer(at(decision, "/freight/to_customer").as_str()),
        facts: facts
            .iter()
            .map(|(k, v)| (k.clone(), lang.fact(k), value_words(v, lang)))
            .collect(),
        photos: photos.iter().map(|p| (p.id, lang.photo(&p.kind))).collect(),
        timeline: at(j, "/history")
            .as_array()
            .into_iter()
            .flatten()
            .map(|h| TimelineRow {
                when: stamp(at(h, "/at").as_str().unwrap_or_default()),
                who: text(at(h, "/actor")),
                what: text(at(h, "/action")).replace('_', " "),
                note: text(at(h, "/after/note")),
            })
            .collect(),
        buttons: can
            .iter()
            .filter(|a| {
                !matches!(
                    a,
                    Action::Approve | Action::Receive | Action::Inspect | Action::Quote
                ) && !NOTE_MOVES.contains(&a.as_str())
            })
            .map(|a| (a.as_str().to_string(), lang.staff_action(a.as_str())))
            .collect(),
        noted: can
            .iter()
            .filter(|a| NOTE_MOVES.contains(&a.as_str()))
            .map(|a| (a.as_str().to_string(), lang.staff_action(a.as_str())))
            .collect(),
        approve: has(Action::Approve),
        receive: has(Action::Receive),
        inspect: has(Action::Inspect),
        quote: has(Action::Quote),
        causes: aftercare_policy::schema::EnumKind::Cause
            .variants()
            .iter()
            .map(|c| (*c, c.replace('_', " "), found.iter().any(|f| f == c)))
            .collect(),
        photo_kinds: aftercare_app::evidence::KINDS
            .iter()
            .map(|k| (*k, lang.photo(k)))
            .collect(),
        inspection: INSPECTION
            .iter()
            .map(|p| finding(p, form, &facts, lang))
            .collect(),
        arrival: ARRIVAL
            .iter()
            .map(|p| finding(p, form, &facts, lang))
            .collect(),
        // What quote amounts are written in: the order's currency.
        currency: text(at(j, "/currency")),
        repair_form: matches!(state_key.as_str(), "repairing" | "replacing")
            && access::may_record_repair(who),
        components: strings(at(j, "/components")).map(str::to_string).collect(),
        repairs: repairs(j, lang),
        state_key,
    }
}

/// The facts a form's findings give: `f.<fact>` yes/no, `f.invoice.status`, and the
/// checked `f.diagnosis.causes`.
fn findings(form: &[(String, String)]) -> Map<String, J> {
    let mut facts = Map::new();
    for path in YES_NO_FINDINGS {
        let name = format!("f.{path}");
        match form
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
        {
            Some("yes") => {
                facts.insert((*path).to_string(), J::Bool(true));
            }
            Some("no") => {
                facts.insert((*path).to_string(), J::Bool(false));
            }
            _ => {}
        }
    }
    if let Some((_, v)) = form.iter().find(|(k, _)| k == "f.invoice.status")
        && ["valid", "invalid", "absent"].contains(&v.as_str())
    {
        facts.insert("invoice.status".into(), J::String(v.clone()));
    }
    let causes: Vec<J> = form
        .iter()
        .filter(|(k, _)| k == "f.diagnosis.causes")
        .map(|(_, v)| J::String(v.clone()))
        .collect();
    if !causes.is_empty() {
        facts.insert("diagnosis.causes".into(), J::Array(causes));
    }
    facts
}

#[derive(Debug, Default, Deserialize)]
pub struct CaseQuery {
    pub lang: Option<String>,
    /// `done` or `stale`: what the last move came to.
    pub notice: Option<String>,
}

/// The page, with what a move or a preview brought.
struct Extra {
    form: Vec<(String, String)>,
    error: Option<String>,
    preview: Option<J>,
    notice: Option<&'static str>,
    status: StatusCode,
}

async fn render(
    state: &AppState,
    who: Principal,
    csrf: String,
    id: i64,
    lang: Lang,
    chosen: bool,
    extra: Extra,
) -> Response {
    let t = lang.texts();
    let policies = state.policies();
    let viewer = who.clone();
    let loaded = state
        .pool()
        .run(move |store| {
            let shown = access::show(store, &policies, &viewer, id)?;
            // The latest two decisions, for what changed (`show` checked the case is theirs).
            let decisions = aftercare_app::cases::decisions(store, id, 2)?;
            let photos = aftercare_app::evidence::list(store, &policies, &viewer, id)?;
            Ok::<_, AppError>((shown, decisions, photos))
        })
        .await;
    let (shown, decisions, photos) = match loaded {
        Ok(x) => x,
        Err(e) => return crate::problem::Problem::from(e).into_response(),
    };
    let studio = at(&shown, "/policy").as_str().is_some_and(|id| {
        aftercare_app::studio::visible(&who, &state.policies())
            .is_ok_and(|v| v.iter().any(|p| p.id == id))
    });
    let c = desk_case(
        &who,
        &shown,
        &decisions,
        &photos,
        &extra.form,
        lang,
        state.now(),
    );
    let view = CasePage {
        studio,
        lang,
        t,
        title: t.desk_case.title,
        switch_href: format!("/desk/cases/{id}?lang={}", lang.other().tag()),
        c,
        csrf,
        notice: extra.notice,
        error: extra.error,
        preview: extra.preview.map(|d| (remedies(&d, lang), refund_of(&d))),
    };
    page(extra.status, view.render(), lang, chosen)
}

/// `GET /desk/cases/{id}`.
pub async fn case(
    State(state): State<AppState>,
    crate::extract::Path(id): crate::extract::Path<i64>,
    Query(q): Query<CaseQuery>,
    headers: HeaderMap,
) -> Response {
    let (who, csrf) = match staff(&state, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let lang = Lang::choose(q.lang.as_deref(), &headers);
    let t = lang.texts();
    let notice = match q.notice.as_deref() {
        Some("done") => Some(t.desk_case.done),
        Some("stale") => Some(t.case.changed_meanwhile),
        Some("photo") => Some(t.case.photo_added),
        Some("scenario") => Some(t.studio.scenario_saved),
        _ => None,
    };
    let refused =
        (q.notice.as_deref() == Some("photo-refused")).then(|| t.case.photo_refused.to_string());
    let extra = Extra {
        form: Vec::new(),
        error: refused,
        preview: None,
        notice,
        status: StatusCode::OK,
    };
    render(&state, who, csrf, id, lang, q.lang.is_some(), extra).await
}

/// `POST /desk/cases/{id}/what-if`: the inspection form's findings decided, not saved; the
/// page again with the preview (htmx swaps only the preview in).
pub async fn what_if(
    State(state): State<AppState>,
    crate::extract::Path(id): crate::extract::Path<i64>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let (who, csrf) = match staff_form(&state, &headers, &form).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let lang = Lang::choose(None, &headers);
    let facts = findings(&form);
    let policies = state.policies();
    let now = state.now();
    let viewer = who.clone();
    let decided = state
        .pool()
        .run(move |store| {
            access::what_if(
                store,
                &policies,
                &viewer,
                id,
                Some(Action::Inspect),
                &facts,
                now,
            )
        })
        .await;
    let (preview, error, status) = match decided {
        Ok(d) => (Some(d), None, StatusCode::OK),
        Err(e) if e.is_callers() && !matches!(e, AppError::NotFound { .. }) => {
            (None, Some(e.to_string()), StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(e) => return crate::problem::Problem::from(e).into_response(),
    };
    let extra = Extra {
        form,
        error,
        preview,
        notice: None,
        status,
    };
    render(&state, who, csrf, id, lang, false, extra).await
}

/// `POST /desk/cases/{id}/move`: a staff move from the case page: `action`, `version`,
/// `csrf`, and what the move carries (`note`, `authorisation`, findings `f.*`, quote lines
/// `line_kind`/`line_description`/`line_amount`).
pub async fn move_case(
    State(state): State<AppState>,
    crate::extract::Path(id): crate::extract::Path<i64>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let (who, csrf) = match staff_form(&state, &headers, &form).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let lang = Lang::choose(None, &headers);
    let Some(action) = field(&form, "action").and_then(|a| a.parse::<Action>().ok()) else {
        return crate::problem::Problem::invalid("action", "not a move").into_response();
    };
    let mut step = Step {
        if_version: field(&form, "version").map(str::to_string),
        note: field(&form, "note").map(|n| n.chars().take(2000).collect()),
        authorisation: field(&form, "authorisation").map(|a| a.trim().chars().take(64).collect()),
        facts: findings(&form),
        ..Step::new(action)
    };
    if action == Action::Quote {
        let kinds = form
            .iter()
            .filter(|(k, _)| k == "line_kind")
            .map(|(_, v)| v);
        let descriptions = form
            .iter()
            .filter(|(k, _)| k == "line_description")
            .map(|(_, v)| v);
        let amounts = form
            .iter()
            .filter(|(k, _)| k == "line_amount")
            .map(|(_, v)| v);
        step.quote_lines = kinds
            .zip(descriptions)
            .zip(amounts)
            .filter(|((_, d), a)| !d.trim().is_empty() || !a.trim().is_empty())
            .map(|((k, d), a)| {
                let kind = if k == "labour" { "labour" } else { "part" };
                // The line's own separator cannot be part of its description.
                format!("{kind}:{}:{}", d.trim().replace(':', " "), a.trim())
            })
            .collect();
        if step.quote_lines.is_empty() {
            let extra = Extra {
                error: Some(
                    AppError::invalid("quote", "a quote needs at least one line").to_string(),
                ),
                form,
                preview: None,
                notice: None,
                status: StatusCode::UNPROCESSABLE_ENTITY,
            };
            return render(&state, who, csrf, id, lang, false, extra).await;
        }
    }
    let policies = state.policies();
    let now = state.now();
    let mover = who.clone();
    let moved = state
        .pool()
        .run(move |store| access::transition(store, &policies, &mover, id, &step, now))
        .await;
    match moved {
        Ok(_) => Redirect::to(&format!("/desk/cases/{id}?notice=done")).into_response(),
        Err(AppError::Stale(_) | AppError::Transition(_)) => {
            Redirect::to(&format!("/desk/cases/{id}?notice=stale")).into_response()
        }
        Err(e @ AppError::Refused(_)) => {
            let t = lang.texts();
            let extra = Extra {
                error: Some(format!("{}: {e}", t.desk_case.refused)),
                form,
                preview: None,
                notice: None,
                status: StatusCode::CONFLICT,
            };
            render(&state, who, csrf, id, lang, false, extra).await
        }
        Err(e) if e.is_callers() && !matches!(e, AppError::NotFound { .. }) => {
            let extra = Extra {
                error: Some(e.to_string()),
                form,
                preview: None,
                notice: None,
                status: StatusCode::UNPROCESSABLE_ENTITY,
            };
            render(&state, who, csrf, id, lang, false, extra).await
        }
        Err(e) => crate::problem::Problem::from(e).into_response(),
    }
}

/// `POST /desk/cases/{id}/repair`: the repair report form (`csrf`, `version`, `fixed`
/// yes/no, checked `part`s and `other_part`, `replacement_serial`), recorded by the same use
/// case as the API's; back to the case page, which shows each part's warranty end and clause.
pub async fn repair(
    State(state): State<AppState>,
    crate::extract::Path(id): crate::extract::Path<i64>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let (who, csrf) = match staff_form(&state, &headers, &form).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let lang = Lang::choose(None, &headers);
    let mut parts: Vec<String> = form
        .iter()
        .filter(|(k, v)| k == "part" && !v.trim().is_empty())
        .map(|(_, v)| v.trim().to_string())
        .collect();
    if let Some(other) = field(&form, "other_part") {
        parts.push(other.trim().to_string());
    }
    let report = aftercare_app::repairs::RepairReport {
        fixed: field(&form, "fixed") != Some("no"),
        parts,
        replacement_serial: field(&form, "replacement_serial").map(|s| s.trim().to_string()),
        if_version: field(&form, "version").map(str::to_string),
    };
    let policies = state.policies();
    let now = state.now();
    let recorder = who.clone();
    let recorded = state
        .pool()
        .run(move |store| access::record_repair(store, &policies, &recorder, id, &report, now))
        .await;
    match recorded {
        Ok(_) => Redirect::to(&format!("/desk/cases/{id}?notice=done")).into_response(),
        Err(AppError::Stale(_)) => {
            Redirect::to(&format!("/desk/cases/{id}?notice=stale")).into_response()
        }
        Err(e) if e.is_callers() && !matches!(e, AppError::NotFound { .. }) => {
            let extra = Extra {
                error: Some(e.to_string()),
                form,
                preview: None,
                notice: None,
                status: StatusCode::UNPROCESSABLE_ENTITY,
            };
            render(&state, who, csrf, id, lang, false, extra).await
        }
        Err(e) => crate::problem::Problem::from(e).into_response(),
    }
}

/// `POST /desk/cases/{id}/photos`: a photo staff take (the item as received, the damage
/// found), attached like the customer's.
pub async fn upload(
    State(state): State<AppState>,
    crate::extract::Path(id): crate::extract::Path<i64>,
    headers: HeaderMap,
    multipart: Result<axum::extract::Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    let (who, csrf) = match staff(&state, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    super::attach_photo(
        &state,
        who,
        &csrf,
        id,
        multipart,
        &format!("/desk/cases/{id}"),
    )
    .await
}

/// `POST /desk/cases/{id}/scenario`: the case saved as a scenario of its policy (managers
/// and admins of its seller), for the studio to run against drafts.
pub async fn save_scenario(
    State(state): State<AppState>,
    crate::extract::Path(id): crate::extract::Path<i64>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let (who, _) = match staff_form(&state, &headers, &form).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let policies = state.policies();
    let now = state.now();
    let saved = state
        .pool()
        .run(move |store| {
            aftercare_app::studio::save_case_as_scenario(store, &who, &policies, id, now)
        })
        .await;
    match saved {
        Ok(_) => Redirect::to(&format!("/desk/cases/{id}?notice=scenario")).into_response(),
        Err(e) => crate::problem::Problem::from(e).into_response(),
    }
}
