//! The guided start of a request: the customer picks an item and what happened, and answers
//! only what the seller's policy needs. The questions are not a form written per seller: they
//! are the facts the policy's decision is still waiting on (each remedy's `pending_on`, each
//! missing document's `needs`) that a customer can tell, so imKey asks about activation,
//! CryptKi about the seal, IMIKI about the invoice. Before anything is sent the page shows
//! what the customer can get, each remedy with its reason and the clause's own words, and what
//! is still missing; the decision is `access::preview`, the one a case would get, written
//! nowhere.
//!
//! The form posts (with the session's CSRF token) and the page comes back with the answers
//! taken into account; with htmx each change does that in place. Opening the case is the same
//! form's other button; the form carries a one-time key, so a double click opens one case.

use std::collections::HashMap;

use aftercare_app::accounts::Principal;
use aftercare_app::cases::NewCase;
use aftercare_app::{AppError, access};
use aftercare_domain::case::CaseKind;
use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::{Map, Value as J};

use super::i18n::{Answer, Lang, QUESTIONS, Texts};
use super::{at, customer, forged, page, strings};
use crate::AppState;

/// The kinds of request a customer starts here, with the problem each reports.
const KINDS: &[(CaseKind, &str)] = &[
    (CaseKind::WarrantyService, "defect"),
    (CaseKind::Return, "change_of_mind"),
    (CaseKind::DeliveryDamage, "delivery_damage"),
    (CaseKind::WrongItem, "wrong_item"),
];

/// Longest answer or value read from the form.
const MAX_VALUE: usize = 200;

struct ItemRow {
    value: String,
    label: String,
}

struct QuestionRow {
    name: String,
    id: String,
    text: &'static str,
    date: bool,
    value: String,
    error: Option<&'static str>,
}

/// A remedy as the page offers it.
pub(crate) struct Offer {
    pub label: String,
    pub status: &'static str,
    pub class: &'static str,
    pub reason: String,
    pub clause: Option<String>,
    pub clause_text: Option<String>,
}

/// A decision's remedies as pages show them: those still possible first, then the others,
/// which pages fold under "other options" when something is possible.
pub(crate) struct Offers(pub Vec<Offer>);

impl Offers {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Allowed, or waiting for something.
    pub fn possible(&self) -> Vec<&Offer> {
        self.0.iter().filter(|o| o.class != "no").collect()
    }

    /// Not possible, with why.
    pub fn other(&self) -> Vec<&Offer> {
        self.0.iter().filter(|o| o.class == "no").collect()
    }
}

pub(crate) struct Notice {
    pub clause: String,
    pub title: String,
    pub text: String,
}

struct Chosen {
    questions: Vec<QuestionRow>,
    description: String,
    offers: Offers,
    missing: Vec<String>,
    notices: Vec<Notice>,
    policy: String,
    can_open: bool,
}

#[derive(Template)]
#[template(path = "portal_start.html")]
struct StartPage {
    lang: Lang,
    t: &'static Texts,
    title: &'static str,
    switch_href: String,
    items: Vec<ItemRow>,
    kinds: Vec<(&'static str, String)>,
    item: String,
    kind: String,
    chosen: Option<Chosen>,
    error: Option<String>,
    csrf: String,
    /// The form's one-time key: opening twice with it opens one case.
    key: String,
}

/// The item a form names: `s:SERIAL` or `o:ORDER`.
fn item_of(items: &[access::Item], value: &str) -> Option<(String, Option<String>)> {
    if let Some(serial) = value.strip_prefix("s:") {
        let i = items.iter().find(|i| i.serial.as_deref() == Some(serial))?;
        return Some((i.order_no.clone(), i.serial.clone()));
    }
    let order = value.strip_prefix("o:")?;
    let i = items.iter().find(|i| i.order_no == order)?;
    Some((i.order_no.clone(), None))
}

fn item_value(i: &access::Item) -> String {
    match &i.serial {
        Some(s) => format!("s:{s}"),
        None => format!("o:{}", i.order_no),
    }
}

/// The facts the answers give, and the questions whose answer is wrong.
fn facts_of(
    form: &HashMap<String, String>,
    problem: &str,
    today: jiff::civil::Date,
) -> (Map<String, J>, HashMap<&'static str, &'static str>, String) {
    let mut facts = Map::new();
    let mut wrong = HashMap::new();
    // Only what the customer tells: that the order is named, the application made, the
    // photos and the description given is for the service to say.
    facts.insert("problem.reported".into(), J::from(problem));
    for (path, answer, ..) in QUESTIONS {
        let Some(v) = form.get(&format!("a.{path}")).map(|v| v.trim()) else {
            continue;
        };
        match answer {
            Answer::YesNo => {
                let yes = match v {
                    "yes" => true,
                    "no" => false,
                    _ => continue,
                };
                facts.insert((*path).to_string(), J::Bool(yes));
            }
            Answer::Date => {
                if v.is_empty() {
                    continue;
                }
                match v.parse::<jiff::civil::Date>() {
                    Ok(d) if d <= today => {
                        facts.insert((*path).to_string(), J::String(d.to_string()));
                    }
                    Ok(_) => {
                        wrong.insert(*path, "future");
                    }
                    Err(_) => {
                        wrong.insert(*path, "date");
                    }
                }
            }
        }
    }
    let description: String = form
        .get("description")
        .map(|d| {
            d.trim()
                .chars()
                .take(aftercare_app::cases::MAX_DESCRIPTION)
                .collect()
        })
        .unwrap_or_default();
    (facts, wrong, description)
}

/// The facts a decision is still waiting on.
fn needed(decision: &J) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut add = |p: &str| {
        if !out.iter().any(|x| x == p) {
            out.push(p.to_string());
        }
    };
    for r in at(decision, "/remedies").as_array().into_iter().flatten() {
        strings(at(r, "/pending_on")).for_each(&mut add);
        for c in at(r, "/citations").as_array().into_iter().flatten() {
            strings(at(c, "/needs")).for_each(&mut add);
        }
    }
    for m in at(decision, "/missing").as_array().into_iter().flatten() {
        strings(at(m, "/needs")).for_each(&mut add);
    }
    for w in at(decision, "/warranty").as_array().into_iter().flatten() {
        strings(at(w, "/pending_on")).for_each(&mut add);
    }
    out
}

/// Whose clause a citation is, as a person says it: the seller's name for its own policy
/// ("IMASK 2(1)"), "CN law" or "EU law" for a law layer.
pub(crate) fn source(decision: &J, id: &str, lang: Lang) -> String {
    if at(decision, "/policy/id").as_str() == Some(id) {
        return at(decision, "/policy/seller")
            .as_str()
            .unwrap_or(id)
            .to_string();
    }
    let jurisdiction = at(decision, "/laws")
        .as_array()
        .into_iter()
        .flatten()
        .find(|l| at(l, "/id").as_str() == Some(id))
        .and_then(|l| at(l, "/jurisdiction").as_str());
    match (jurisdiction, lang) {
        (Some("CN"), Lang::En) => "CN law".into(),
        (Some("CN"), Lang::ZhCn) => "中国法律".into(),
        (Some("EU"), Lang::En) => "EU law".into(),
        (Some("EU"), Lang::ZhCn) => "欧盟法律".into(),
        _ => id.to_string(),
    }
}

/// A clause as cited: whose, and its number.
pub(crate) fn clause_of(decision: &J, cite: &J, lang: Lang) -> Option<String> {
    let id = at(cite, "/clause").as_str()?;
    let policy = at(cite, "/policy").as_str().unwrap_or_default();
    Some(format!("{} {id}", source(decision, policy, lang)))
}

/// A cited clause's title in the page's language: the policy's own translation where it
/// gives one, else the document's title, marked as the original on a page in another language
/// (the seed documents are English).
pub(crate) fn clause_title(cite: &J, lang: Lang) -> String {
    title_in(
        at(cite, "/title").as_str().unwrap_or_default(),
        at(cite, &format!("/titles/{}", lang.tag())).as_str(),
        lang,
    )
}

/// A clause's title for a page in `lang`: the policy's translation where it gives one, else
/// the document's own, marked as the original on a page in another language than English.
/// The explanation's citations and the warranty table both show titles through it.
pub(crate) fn title_in(original: &str, translation: Option<&str>, lang: Lang) -> String {
    match translation {
        Some(words) => words.to_string(),
        None if original.is_empty() || lang == Lang::En => original.to_string(),
        None => format!("{original} {}", lang.texts().common.original_mark),
    }
}

/// A cited clause's text in the page's language, where the policy gives it, else the
/// document's (shown under "the document says", so not marked).
pub(crate) fn clause_text(cite: &J, lang: Lang) -> Option<String> {
    let original = at(cite, "/text").as_str()?;
    Some(
        at(cite, &format!("/texts/{}", lang.tag()))
            .as_str()
            .unwrap_or(original)
            .to_string(),
    )
}

/// Each remedy of a decision with its reason in words and the clause's own words.
pub(crate) fn offers(decision: &J, lang: Lang) -> Offers {
    let t = lang.texts();
    let mut all = at(decision, "/remedies")
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let status = at(r, "/status").as_str().unwrap_or_default();
            let (word, class) = match status {
                "allowed" => (t.case.status_allowed, "ok"),
                "pending" => (t.case.status_pending, "wait"),
                _ => (t.case.status_denied, "no"),
            };
            // The citation that decided it: for a denial the one that denies or was unmet,
            // else the first.
            let cites: Vec<&J> = at(r, "/citations")
                .as_array()
                .into_iter()
                .flatten()
                .collect();
            let decisive = cites
                .iter()
                .find(|c| {
                    let role = at(c, "/role").as_str().unwrap_or_default();
                    match status {
                        "allowed" => role == "allows" || role == "prevails",
                        "denied" => role == "denies" || role == "unmet",
                        _ => role == "undecided" || role == "requires",
                    }
                })
                .or(cites.first())
                .copied();
            let title = decisive.map(|c| clause_title(c, lang)).unwrap_or_default();
            let clause = decisive.and_then(|c| clause_of(decision, c, lang));
            let pending: Vec<String> = strings(at(r, "/pending_on"))
                .map(|f| lang.fact(f))
                .collect();
            let waiting: Vec<&str> = strings(at(r, "/missing")).collect();
            let reason = match status {
                "pending" if !pending.is_empty() => {
                    format!("{}: {}", t.case.decided_on, pending.join("; "))
                }
                "pending" if !waiting.is_empty() => {
                    format!("{}: {}", t.start.once_provided, waiting.join("; "))
                }
                _ if title.is_empty() => t.start.not_offered.to_string(),
                "allowed" => format!("{} {title}", t.start.reason_allowed),
                _ => format!("{} {title}", t.start.reason_denied),
            };
            Offer {
                label: lang.remedy(at(r, "/remedy").as_str().unwrap_or_default()),
                status: word,
                class,
                reason,
                clause,
                clause_text: decisive.and_then(|c| clause_text(c, lang)),
            }
        })
        .collect::<Vec<_>>();
    // What the customer can get first, then what is still open, then what they cannot.
    all.sort_by_key(|o| match o.class {
        "ok" => 0,
        "wait" => 1,
        _ => 2,
    });
    Offers(all)
}

/// The decision's notices (do not open a damaged parcel further, erase the device first…).
pub(crate) fn notices(decision: &J, lang: Lang) -> Vec<Notice> {
    at(decision, "/notices")
        .as_array()
        .into_iter()
        .flatten()
        .map(|n| Notice {
            clause: clause_of(decision, n, lang).unwrap_or_default(),
            title: clause_title(n, lang),
            text: clause_text(n, lang).unwrap_or_default(),
        })
        .collect()
}

/// Facts the service establishes later in a case (a quote's answer, inspection, receipt):
/// a requirement waiting only on these is nothing a customer can supply now.
const LATER: &[&str] = &["quote.", "diagnosis.", "return.", "repair.", "application."];

/// What the decision still lists as missing for a remedy still possible, in its words and
/// clauses; for a customer, only
/// what they can supply now.
pub(crate) fn missing(decision: &J, for_customer: bool) -> Vec<String> {
    // What a remedy still possible (allowed, or waiting) needs: a document only a remedy that
    // is not possible would need is not asked for.
    let needed: Vec<&str> = at(decision, "/remedies")
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| matches!(at(r, "/status").as_str(), Some("allowed" | "pending")))
        .flat_map(|r| strings(at(r, "/missing")))
        .collect();
    at(decision, "/missing")
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| {
            at(m, "/label")
                .as_str()
                .is_some_and(|l| needed.contains(&l))
        })
        .filter(|m| {
            let reads: Vec<&str> = strings(at(m, "/reads")).collect();
            !(for_customer
                && !reads.is_empty()
                && reads.iter().all(|n| LATER.iter().any(|p| n.starts_with(p))))
        })
        .map(|m| {
            format!(
                "{} ({})",
                at(m, "/label").as_str().unwrap_or_default(),
                at(m, "/cites/clause").as_str().unwrap_or_default()
            )
        })
        .collect()
}

fn text_of(form: &HashMap<String, String>, key: &str) -> String {
    form.get(key)
        .map(|v| v.chars().take(MAX_VALUE).collect())
        .unwrap_or_default()
}

/// `GET /portal/start`: choose the item and what happened; then the policy's questions and
/// what the customer can get.
pub async fn start(
    State(state): State<AppState>,
    Query(form): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let (who, csrf) = match customer(&state, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let lang = Lang::choose(form.get("lang").map(String::as_str), &headers);
    render(&state, who, csrf, &form, lang, None).await
}

async fn render(
    state: &AppState,
    who: Principal,
    csrf: String,
    form: &HashMap<String, String>,
    lang: Lang,
    error: Option<String>,
) -> Response {
    let t = lang.texts();
    let items = {
        let who = who.clone();
        match state
            .pool()
            .run(move |store| access::items(store, &who))
            .await
        {
            Ok(i) => i,
            Err(e) => return crate::problem::Problem::from(e).into_response(),
        }
    };
    let item = text_of(form, "item");
    let kind = text_of(form, "kind");
    let key = match form.get("key").filter(|k| valid_key(k)) {
        Some(k) => k.clone(),
        None => match aftercare_app::accounts::secret() {
            Ok(k) => k,
            Err(e) => return crate::problem::Problem::from(e).into_response(),
        },
    };
    let mut view = StartPage {
        lang,
        t,
        title: t.start.title,
        switch_href: format!("/portal/start?lang={}", lang.other().tag()),
        items: items
            .iter()
            .map(|i| {
                let ordered = i
                    .ordered_at
                    .get(..10)
                    .and_then(|d| d.parse::<jiff::civil::Date>().ok())
                    .map(|d| lang.date(d))
                    .unwrap_or_default();
                ItemRow {
                    value: item_value(i),
                    label: format!(
                        "{}{} · {} {} ({} {ordered})",
                        i.product,
                        i.serial
                            .as_deref()
                            .map(|s| format!(" · {s}"))
                            .unwrap_or_default(),
                        t.common.col_order,
                        i.order_no,
                        t.start.ordered_on
                    ),
                }
            })
            .collect(),
        kinds: KINDS
            .iter()
            .map(|(k, _)| (k.as_str(), lang.kind_question(k.as_str())))
            .collect(),
        item: item.clone(),
        kind: kind.clone(),
        chosen: None,
        error,
        csrf,
        key,
    };
    let chosen_kind = KINDS.iter().find(|(k, _)| k.as_str() == kind);
    if let (Some((order_no, serial)), Some((kind, problem))) = (item_of(&items, &item), chosen_kind)
    {
        let now = state.now();
        let today = now.to_zoned(jiff::tz::TimeZone::UTC).date();
        let (facts, wrong, description) = facts_of(form, problem, today);
        let new = NewCase {
            kind: Some(*kind),
            order_no: Some(order_no),
            serial,
            facts: facts.clone(),
            description: (!description.is_empty()).then(|| description.clone()),
            ..NewCase::default()
        };
        let policies = state.policies();
        let who = who.clone();
        let preview = state
            .pool()
            .run(move |store| access::preview(store, &policies, &who, &new, now))
            .await;
        let (policy, decision) = match preview {
            Ok(p) => p,
            Err(e) if e.is_callers() => {
                view.error = Some(e.to_string());
                return page(StatusCode::UNPROCESSABLE_ENTITY, view.render(), lang, false);
            }
            Err(e) => return crate::problem::Problem::from(e).into_response(),
        };
        let needs = needed(&decision);
        let questions = QUESTIONS
            .iter()
            .filter(|(path, ..)| {
                needs.iter().any(|n| n == path) || form.contains_key(&format!("a.{path}"))
            })
            .filter_map(|(path, ..)| lang.question(path))
            .map(|q| QuestionRow {
                name: format!("a.{}", q.path),
                id: format!("q-{}", q.path.replace('.', "-")),
                text: q.text,
                date: q.answer == Answer::Date,
                value: text_of(form, &format!("a.{}", q.path)),
                error: wrong.get(q.path).map(|_| t.start.date_in_future),
            })
            .collect::<Vec<_>>();
        let can_open = wrong.is_empty();
        view.chosen = Some(Chosen {
            questions,
            description,
            offers: offers(&decision, lang),
            missing: missing(&decision, true),
            notices: notices(&decision, lang),
            policy: at(&decision, "/policy/title")
                .as_str()
                .unwrap_or(&policy)
                .to_string(),
            can_open,
        });
    }
    page(
        StatusCode::OK,
        view.render(),
        lang,
        form.contains_key("lang"),
    )
}

fn valid_key(k: &str) -> bool {
    (16..=128).contains(&k.len()) && k.chars().all(|c| c.is_ascii_hexdigit())
}

/// `POST /portal/start`: the same page again with the answers given (`intent=check`, also
/// what htmx sends on each change), or, with `intent=open`, opens the case as the answers
/// describe it, once per form (its key), and goes to it: photos next, then sending.
pub async fn post(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let (who, csrf) = match customer(&state, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if form.get("csrf") != Some(&csrf) {
        return forged();
    }
    let lang = Lang::choose(None, &headers);
    if form.get("intent").map(String::as_str) != Some("open") {
        return render(&state, who, csrf, &form, lang, None).await;
    }
    let Principal::Customer { customer_id } = who else {
        return Redirect::to("/portal/sign-in").into_response();
    };
    let key = text_of(&form, "key");
    if !valid_key(&key) {
        return crate::problem::Problem::invalid("key", "reload the page and submit its form")
            .into_response();
    }
    let items = {
        let who = who.clone();
        match state
            .pool()
            .run(move |store| access::items(store, &who))
            .await
        {
            Ok(i) => i,
            Err(e) => return crate::problem::Problem::from(e).into_response(),
        }
    };
    let kind = text_of(&form, "kind");
    let (Some((order_no, serial)), Some((kind, problem))) = (
        item_of(&items, &text_of(&form, "item")),
        KINDS.iter().find(|(k, _)| k.as_str() == kind),
    ) else {
        return render(&state, who, csrf, &form, lang, None).await;
    };
    let now = state.now();
    let (facts, wrong, description) =
        facts_of(&form, problem, now.to_zoned(jiff::tz::TimeZone::UTC).date());
    if !wrong.is_empty() {
        return render(&state, who, csrf, &form, lang, None).await;
    }
    let new = NewCase {
        kind: Some(*kind),
        order_no: Some(order_no),
        serial,
        facts,
        description: (!description.is_empty()).then_some(description),
        open_key: Some(format!("portal:{customer_id}:{key}")),
        ..NewCase::default()
    };
    let policies = state.policies();
    let opener = who.clone();
    match state
        .pool()
        .run(move |store| {
            let id = access::open(store, &policies, &opener, &new, now)?;
            // Decided at once, so the case page shows what the customer can get and what
            // photos the policy still asks for.
            aftercare_app::cases::decide(store, &policies, id, &opener.actor(), now)?;
            Ok::<_, AppError>(id)
        })
        .await
    {
        Ok(id) => Redirect::to(&format!("/portal/cases/{id}")).into_response(),
        Err(e @ AppError::Invalid { .. }) => {
            render(&state, who, csrf, &form, lang, Some(e.to_string())).await
        }
        Err(e) => crate::problem::Problem::from(e).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::missing;

    /// "Still needed" lists what a remedy still possible waits for, and nothing only a remedy
    /// that is not possible would need (IMASK's certificate with repair records, which only
    /// replacement after two failed repairs asks for).
    #[test]
    fn still_needed_is_what_a_possible_remedy_needs() {
        let decision = json!({
            "remedies": [
                {"remedy": "free_repair", "status": "pending", "missing": ["invoice"]},
                {"remedy": "refund", "status": "allowed", "missing": []},
                {"remedy": "replacement_after_repairs", "status": "denied",
                 "missing": ["certificate with repair records"]},
            ],
            "missing": [
                {"label": "invoice", "reads": ["invoice.status"], "cites": {"clause": "3"}},
                {"label": "certificate with repair records", "reads": ["history.certificate"],
                 "cites": {"clause": "4"}},
            ],
        });
        assert_eq!(missing(&decision, true), vec!["invoice (3)"]);
        assert_eq!(missing(&decision, false), vec!["invoice (3)"]);
    }
}
