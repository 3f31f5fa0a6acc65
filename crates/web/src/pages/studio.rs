//! The policy studio (issue 20, part 2), for managers and admins of a policy's seller: the
//! policy as its document (each clause with the rules that cite it, in words, and the clauses
//! none cites), a draft edited in a textarea and checked as it is saved (the checker's
//! messages at line and column), what-if of the saved draft against every recorded decision
//! with progress and a stop button, and publishing the draft as a new version from a date.
//! Use cases: `aftercare_app::studio` and `aftercare_app::simulate`.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use aftercare_app::accounts::Principal;
use aftercare_app::simulate::{self, Simulation};
use aftercare_app::studio::{self, Change, Checked, Diff, Document};
use aftercare_app::{AppError, published::Version};
use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::i18n::{Lang, Texts};
use super::{field, page, staff, staff_form};
use crate::AppState;
use crate::extract::Path;

fn problem(e: AppError) -> Response {
    crate::problem::Problem::from(e).into_response()
}

#[derive(Debug, Default, Deserialize)]
pub struct StudioQuery {
    pub lang: Option<String>,
    /// `published` or `busy`: what the last form came to.
    pub notice: Option<String>,
}

struct Row {
    id: String,
    title: String,
    seller: String,
    version: String,
    from: String,
    uncited: usize,
}

#[derive(Template)]
#[template(path = "studio_list.html")]
struct ListPage {
    lang: Lang,
    t: &'static Texts,
    title: &'static str,
    switch_href: String,
    rows: Vec<Row>,
    drafts: Vec<studio::NewDraft>,
}

/// `GET /desk/policies`: the policies of the sellers the caller works for.
pub async fn list(
    State(state): State<AppState>,
    Query(q): Query<StudioQuery>,
    headers: HeaderMap,
) -> Response {
    let (who, _) = match staff(&state, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let lang = Lang::choose(q.lang.as_deref(), &headers);
    let t = lang.texts();
    let policies = state.policies();
    let visible = match studio::visible(&who, &policies) {
        Ok(v) => v,
        Err(e) => return problem(e),
    };
    let (viewer, listed) = (who.clone(), Arc::clone(&policies));
    let drafts = match state
        .pool()
        .run(move |store| studio::new_drafts(store, &viewer, &listed))
        .await
    {
        Ok(d) => d,
        Err(e) => return problem(e),
    };
    let rows = visible
        .iter()
        .map(|p| {
            let d = studio::document(p);
            Row {
                id: d.id,
                title: d.title,
                seller: d.seller,
                version: d.version,
                from: d.effective_from,
                uncited: d.uncited,
            }
        })
        .collect();
    let view = ListPage {
        lang,
        t,
        title: t.studio.list_title,
        switch_href: format!("/desk/policies?lang={}", lang.other().tag()),
        rows,
        drafts,
    };
    page(StatusCode::OK, view.render(), lang, q.lang.is_some())
}

#[derive(Template)]
#[template(path = "studio_policy.html")]
struct PolicyPage {
    lang: Lang,
    t: &'static Texts,
    title: String,
    switch_href: String,
    d: Document,
    versions: Vec<Version>,
}

/// `GET /desk/policies/{id}`: the policy as its document, and its versions.
pub async fn policy(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<StudioQuery>,
    headers: HeaderMap,
) -> Response {
    let (who, _) = match staff(&state, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let lang = Lang::choose(q.lang.as_deref(), &headers);
    let policies = state.policies();
    let key = id.clone();
    let read = state
        .pool()
        .run(move |store| studio::read(store, &who, &policies, &key))
        .await;
    let (d, versions) = match read {
        Ok(r) => r,
        Err(e) => return problem(e),
    };
    let view = PolicyPage {
        lang,
        t: lang.texts(),
        title: d.title.clone(),
        switch_href: format!("/desk/policies/{id}?lang={}", lang.other().tag()),
        d,
        versions,
    };
    page(StatusCode::OK, view.render(), lang, q.lang.is_some())
}

#[derive(Template)]
#[template(path = "studio_draft.html")]
struct DraftPage {
    lang: Lang,
    t: &'static Texts,
    title: String,
    switch_href: String,
    id: String,
    policy_title: String,
    csrf: String,
    text: String,
    saved: Option<(String, String)>,
    errors: Vec<String>,
    warnings: Vec<String>,
    loads: bool,
    document: Option<Document>,
    /// The saved draft against the version in force.
    changes: Option<Diff>,
    /// The scenarios run, when asked.
    scenarios: Option<studio::ScenarioRun>,
    notice: Option<&'static str>,
    error: Option<String>,
    today: String,
    /// Whether a version is published (else this is a new policy's first draft).
    published: bool,
    /// The policies whose recorded decisions a what-if may be run against: (id, title).
    histories: Vec<(String, String)>,
}

/// What the draft page shows beside the draft.
#[derive(Default)]
struct Shown {
    checked: Option<Checked>,
    scenarios: Option<studio::ScenarioRun>,
    notice: Option<&'static str>,
    error: Option<String>,
    status: Option<StatusCode>,
}

/// A refusal the caller mends on the same page: not "not found" or "forbidden", which say
/// nothing about what they typed.
fn mendable(e: &AppError) -> bool {
    e.is_callers() && !matches!(e, AppError::NotFound { .. } | AppError::Forbidden(_))
}

impl Shown {
    /// The page again with why, for a refusal the caller can mend (422); `None` for anything
    /// else (not found, forbidden, the server's own failure), answered as a problem.
    fn refused(e: &AppError) -> Option<Shown> {
        mendable(e).then(|| Shown {
            error: Some(e.to_string()),
            status: Some(StatusCode::UNPROCESSABLE_ENTITY),
            ..Shown::default()
        })
    }
}

async fn render_draft(
    state: &AppState,
    who: Principal,
    csrf: String,
    id: String,
    lang: Lang,
    chosen: bool,
    shown: Shown,
) -> Response {
    let policies = state.policies();
    let key = id.clone();
    let read = state
        .pool()
        .run(move |store| {
            let draft = studio::draft(store, &who, &policies, &key)?;
            let changes = studio::draft_changes(store, &who, &policies, &key)?;
            let published = policies.get(&key).ok().map(|p| p.title.clone());
            let histories: Vec<(String, String)> = studio::visible(&who, &policies)?
                .iter()
                .map(|p| (p.id.clone(), p.title.clone()))
                .collect();
            Ok((draft, changes, published, histories))
        })
        .await;
    let (draft, changes, published, histories) = match read {
        Ok(r) => r,
        Err(e) => return problem(e),
    };
    let t = lang.texts();
    let policy_title = published.clone().unwrap_or_else(|| id.clone());
    let (errors, warnings, loads, document) = match shown.checked {
        Some(Checked::Errors(e)) => (e, Vec::new(), false, None),
        Some(Checked::Loads { document, warnings }) => {
            (Vec::new(), warnings, true, Some(*document))
        }
        None => (Vec::new(), Vec::new(), false, None),
    };
    let today = state
        .now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .to_string();
    let view = DraftPage {
        lang,
        t,
        title: format!("{} · {policy_title}", t.studio.draft_title),
        switch_href: format!("/desk/policies/{id}/draft?lang={}", lang.other().tag()),
        id,
        policy_title,
        csrf,
        text: draft.text,
        saved: draft
            .saved
            .map(|(by, at)| (by, at.strftime("%Y-%m-%d %H:%M UTC").to_string())),
        errors,
        warnings,
        loads,
        document,
        changes,
        scenarios: shown.scenarios,
        notice: shown.notice,
        error: shown.error,
        today,
        published: published.is_some(),
        histories,
    };
    let status = shown.status.unwrap_or(if loads || view.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    });
    page(status, view.render(), lang, chosen)
}

/// `GET /desk/policies/{id}/draft`.
pub async fn draft(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<StudioQuery>,
    headers: HeaderMap,
) -> Response {
    let (who, csrf) = match staff(&state, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let lang = Lang::choose(q.lang.as_deref(), &headers);
    let t = lang.texts();
    // The draft as it stands, checked: its errors, or its document beside it.
    let (viewer, key, policies) = (who.clone(), id.clone(), state.policies());
    let checked = match state
        .pool()
        .run(move |store| studio::check(store, &viewer, &policies, &key))
        .await
    {
        Ok(c) => c,
        Err(e) => return problem(e),
    };
    let shown = Shown {
        checked: Some(checked),
        status: Some(StatusCode::OK),
        notice: match q.notice.as_deref() {
            Some("published") => Some(t.studio.published),
            Some("busy") => Some(t.studio.whatif_busy),
            _ => None,
        },
        ..Shown::default()
    };
    render_draft(&state, who, csrf, id, lang, q.lang.is_some(), shown).await
}

/// `POST /desk/policies/{id}/draft`: `action=save` with `text` (saved, then checked), or
/// `action=publish` with `effective_from` (the saved draft published).
pub async fn draft_post(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let (who, csrf) = match staff_form(&state, &headers, &form).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let lang = Lang::choose(None, &headers);
    let policies = state.policies();
    let now = state.now();
    let (viewer, key) = (who.clone(), id.clone());
    let shown = match field(&form, "action") {
        Some("save") => {
            let text = field(&form, "text")
                .unwrap_or_default()
                .replace("\r\n", "\n");
            state
                .pool()
                .run(move |store| studio::save_draft(store, &viewer, &policies, &key, &text, now))
                .await
                .map(|checked| Shown {
                    checked: Some(checked),
                    ..Shown::default()
                })
        }
        Some("scenarios") => state
            .pool()
            .run(move |store| studio::run_scenarios(store, &viewer, &policies, &key))
            .await
            .map(|run| Shown {
                scenarios: Some(run),
                ..Shown::default()
            }),
        Some("publish") => {
            let day = match field(&form, "effective_from")
                .unwrap_or_default()
                .parse::<jiff::civil::Date>()
            {
                Ok(d) => d,
                Err(e) => {
                    return problem(AppError::invalid(
                        "effective_from",
                        format!("not a date (YYYY-MM-DD): {e}"),
                    ));
                }
            };
            let published = state
                .pool()
                .run(move |store| studio::publish_draft(store, &viewer, &policies, &key, day, now))
                .await;
            match published {
                Ok(_) => {
                    // This server decides with it at once (the others within a second).
                    let live = Arc::clone(&state.0.policies);
                    if let Err(e) = state.pool().run(move |store| live.refresh(store)).await {
                        tracing::error!(error = %e, "the published policies did not load");
                    }
                    return Redirect::to(&format!("/desk/policies/{id}/draft?notice=published"))
                        .into_response();
                }
                Err(e) => Err(e),
            }
        }
        _ => {
            return problem(AppError::invalid(
                "action",
                "`save`, `scenarios` or `publish`",
            ));
        }
    };
    let shown = match shown {
        Ok(shown) => shown,
        Err(e) => match Shown::refused(&e) {
            Some(shown) => shown,
            None => return problem(e),
        },
    };
    render_draft(&state, who, csrf, id, lang, false, shown).await
}

/// What-if runs of this server: at most one running at a time (it takes every core for
/// seconds), the last few kept for their pages.
#[derive(Debug, Default)]
pub struct WhatIfs {
    jobs: Mutex<VecDeque<Arc<WhatIf>>>,
}

/// How many finished runs a server keeps to show.
const KEPT: usize = 8;

#[derive(Debug)]
pub struct WhatIf {
    id: String,
    policy_id: String,
    /// The account that started it: only they see it.
    owner: i64,
    done: AtomicU64,
    total: AtomicU64,
    stop: AtomicBool,
    running: AtomicBool,
    result: Mutex<Option<Result<Simulation, String>>>,
}

impl WhatIfs {
    /// A new run, unless one is running.
    fn start(&self, policy_id: &str, owner: i64) -> Option<Arc<WhatIf>> {
        let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        if jobs.iter().any(|j| j.running.load(Ordering::Relaxed)) {
            return None;
        }
        let mut b = [0u8; 12];
        getrandom::fill(&mut b).ok()?;
        let id: String = b.iter().map(|x| format!("{x:02x}")).collect();
        let job = Arc::new(WhatIf {
            id,
            policy_id: policy_id.to_string(),
            owner,
            done: AtomicU64::new(0),
            total: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            running: AtomicBool::new(true),
            result: Mutex::new(None),
        });
        jobs.push_back(Arc::clone(&job));
        while jobs.len() > KEPT {
            jobs.pop_front();
        }
        Some(job)
    }

    /// Run `id` of policy `policy_id`, if `owner` started it.
    fn find(&self, policy_id: &str, id: &str, owner: i64) -> Option<Arc<WhatIf>> {
        let jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        jobs.iter()
            .find(|j| j.id == id && j.policy_id == policy_id && j.owner == owner)
            .cloned()
    }
}

fn user_id(who: &Principal) -> i64 {
    match who {
        Principal::Staff { user_id, .. } => *user_id,
        Principal::Customer { .. } => -1,
    }
}

/// `POST /desk/policies/{id}/what-if`: starts a what-if of the saved draft, then shows it.
pub async fn what_if_start(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let (who, csrf) = match staff_form(&state, &headers, &form).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let policies = state.policies();
    // Whose recorded decisions: the policy's own, or another the caller works on.
    let history = field(&form, "history").unwrap_or(&id).to_string();
    let may = studio::visible(&who, &policies).is_ok_and(|v| v.iter().any(|p| p.id == history));
    if !may {
        return problem(AppError::not_found("policy", history));
    }
    let (viewer, key) = (who.clone(), id.clone());
    let set = state
        .pool()
        .run(move |store| studio::draft_set(store, &viewer, &policies, &key))
        .await;
    let set = match set {
        Ok(s) => s,
        Err(e) => {
            return match Shown::refused(&e) {
                Some(shown) => {
                    let lang = Lang::choose(None, &headers);
                    render_draft(&state, who, csrf, id, lang, false, shown).await
                }
                None => problem(e),
            };
        }
    };
    let Some(job) = state.0.what_ifs.start(&id, user_id(&who)) else {
        return Redirect::to(&format!("/desk/policies/{id}/draft?notice=busy")).into_response();
    };
    let url = state.pool().url().to_string();
    let run = Arc::clone(&job);
    std::thread::spawn(move || {
        let result = aftercare_store::Store::connect(&url)
            .map_err(AppError::from)
            .and_then(|mut store| {
                simulate::simulate(
                    &mut store,
                    &set,
                    &run.policy_id,
                    &simulate::Scope {
                        since: None,
                        history: Some(history),
                        span: None,
                    },
                    &mut |done, total| {
                        run.done.store(done, Ordering::Relaxed);
                        run.total.store(total, Ordering::Relaxed);
                        !run.stop.load(Ordering::Relaxed)
                    },
                )
            });
        if let Err(e) = &result {
            tracing::error!(error = %e, "a what-if failed");
        }
        *run.result.lock().unwrap_or_else(|p| p.into_inner()) =
            Some(result.map_err(|e| e.to_string()));
        run.running.store(false, Ordering::Relaxed);
    });
    Redirect::to(&format!("/desk/policies/{id}/what-if/{}", job.id)).into_response()
}

#[derive(Template)]
#[template(path = "studio_whatif.html")]
struct WhatIfPage {
    lang: Lang,
    t: &'static Texts,
    title: &'static str,
    switch_href: String,
    id: String,
    job: String,
    policy_title: String,
    csrf: String,
    running: bool,
    /// How much of the history has been read.
    percent: u64,
    sim: Option<Simulation>,
    error: Option<String>,
}

impl WhatIfPage {
    /// An amount of money as the page writes it.
    fn money(&self, minor: &i64, currency: &str) -> String {
        super::portal::money(*minor, currency)
    }
}

/// `done` of `total` as a whole percentage (0 while the total is not known).
fn percent(done: u64, total: u64) -> u64 {
    done.saturating_mul(100)
        .checked_div(total)
        .unwrap_or(0)
        .min(100)
}

/// `GET /desk/policies/{id}/what-if/{job}`: its progress, then its result.
pub async fn what_if_page(
    State(state): State<AppState>,
    Path((id, job)): Path<(String, String)>,
    Query(q): Query<StudioQuery>,
    headers: HeaderMap,
) -> Response {
    let (who, csrf) = match staff(&state, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let lang = Lang::choose(q.lang.as_deref(), &headers);
    let t = lang.texts();
    let policies = state.policies();
    // Only its owner sees a run, and only while they may still edit the policy.
    let Some(run) = state.0.what_ifs.find(&id, &job, user_id(&who)) else {
        return problem(AppError::not_found("what-if", job));
    };
    let (viewer, key) = (who.clone(), id.clone());
    // Polled every second: who may see it is asked, the draft is not read.
    let may = state
        .pool()
        .run(move |store| studio::may_work_on(store, &viewer, &policies, &key))
        .await;
    if let Err(e) = may {
        return problem(e);
    }
    let policy_title = state
        .policies()
        .get(&id)
        .map_or_else(|_| id.clone(), |p| p.title.clone());
    let running = run.running.load(Ordering::Relaxed);
    let words = |status: &str| -> String {
        match status {
            "allowed" => t.studio.status_allowed,
            "pending" => t.studio.status_pending,
            "denied" => t.studio.status_denied,
            "not_offered" => t.studio.status_not_offered,
            other => other,
        }
        .to_string()
    };
    let (mut sim, error) = match run.result.lock().unwrap_or_else(|p| p.into_inner()).clone() {
        Some(Ok(s)) => (Some(s), None),
        Some(Err(e)) => (None, Some(e)),
        None => (None, None),
    };
    if let Some(s) = &mut sim {
        for r in &mut s.remedies {
            r.from = words(&r.from);
            r.to = words(&r.to);
        }
    }
    let view = WhatIfPage {
        lang,
        t,
        title: t.studio.whatif_title,
        switch_href: format!(
            "/desk/policies/{id}/what-if/{job}?lang={}",
            lang.other().tag()
        ),
        id,
        job,
        policy_title,
        csrf,
        running: running && sim.is_none(),
        percent: percent(
            run.done.load(Ordering::Relaxed),
            run.total.load(Ordering::Relaxed),
        ),
        sim,
        error,
    };
    page(StatusCode::OK, view.render(), lang, q.lang.is_some())
}

/// `POST /desk/policies/{id}/what-if/{job}/stop`.
pub async fn what_if_stop(
    State(state): State<AppState>,
    Path((id, job)): Path<(String, String)>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let (who, _) = match staff_form(&state, &headers, &form).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some(run) = state.0.what_ifs.find(&id, &job, user_id(&who)) else {
        return problem(AppError::not_found("what-if", job));
    };
    run.stop.store(true, Ordering::Relaxed);
    Redirect::to(&format!("/desk/policies/{id}/what-if/{job}")).into_response()
}

#[derive(Template)]
#[template(path = "studio_compare.html")]
struct ComparePage {
    lang: Lang,
    t: &'static Texts,
    title: &'static str,
    switch_href: String,
    id: String,
    policy_title: String,
    from: Version,
    to: Version,
    diff: Diff,
}

#[derive(Debug, Deserialize)]
pub struct CompareQuery {
    pub lang: Option<String>,
    pub from: i64,
    pub to: i64,
}

/// `GET /desk/policies/{id}/compare?from=SEQ&to=SEQ`: two versions, clause by clause.
pub async fn compare(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<CompareQuery>,
    headers: HeaderMap,
) -> Response {
    let (who, _) = match staff(&state, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let lang = Lang::choose(q.lang.as_deref(), &headers);
    let t = lang.texts();
    let policies = state.policies();
    let (key, from, to) = (id.clone(), q.from, q.to);
    let compared = state
        .pool()
        .run(move |store| {
            let title = studio::visible(&who, &policies)?
                .into_iter()
                .find(|p| p.id == key)
                .map(|p| p.title.clone())
                .ok_or_else(|| AppError::not_found("policy", key.clone()))?;
            let (a, b, d) = studio::compare(store, &who, &policies, &key, from, to)?;
            Ok((title, a, b, d))
        })
        .await;
    let (policy_title, from, to, diff) = match compared {
        Ok(c) => c,
        Err(e) => return problem(e),
    };
    let view = ComparePage {
        lang,
        t,
        title: t.studio.compare_title,
        switch_href: format!(
            "/desk/policies/{id}/compare?from={}&to={}&lang={}",
            from.seq,
            to.seq,
            lang.other().tag()
        ),
        id,
        policy_title,
        from,
        to,
        diff,
    };
    page(StatusCode::OK, view.render(), lang, q.lang.is_some())
}

#[derive(Template)]
#[template(path = "studio_new.html")]
struct NewPage {
    lang: Lang,
    t: &'static Texts,
    title: &'static str,
    switch_href: String,
    csrf: String,
    id: String,
    seller: String,
    document: String,
    /// The sellers the caller works for that have a policy (suggestions).
    sellers: Vec<String>,
    error: Option<String>,
}

fn new_page(
    who: &Principal,
    policies: &aftercare_app::Policies,
    csrf: String,
    lang: Lang,
    form: &[(String, String)],
    error: Option<String>,
) -> Result<String, askama::Error> {
    let t = lang.texts();
    let mut sellers: Vec<String> = studio::visible(who, policies)
        .unwrap_or_default()
        .iter()
        .filter_map(|p| p.seller.clone())
        .collect();
    sellers.sort();
    sellers.dedup();
    NewPage {
        lang,
        t,
        title: t.studio.new_title,
        switch_href: format!("/desk/policies/new?lang={}", lang.other().tag()),
        csrf,
        id: field(form, "id").unwrap_or_default().to_string(),
        seller: field(form, "seller").unwrap_or_default().to_string(),
        document: field(form, "document").unwrap_or_default().to_string(),
        sellers,
        error,
    }
    .render()
}

/// `GET /desk/policies/new`: the form for a new policy from a document.
pub async fn new_policy(
    State(state): State<AppState>,
    Query(q): Query<StudioQuery>,
    headers: HeaderMap,
) -> Response {
    let (who, csrf) = match staff(&state, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let policies = state.policies();
    if let Err(e) = studio::visible(&who, &policies) {
        return problem(e);
    }
    let lang = Lang::choose(q.lang.as_deref(), &headers);
    let html = new_page(&who, &policies, csrf, lang, &[], None);
    page(StatusCode::OK, html, lang, q.lang.is_some())
}

/// `POST /desk/policies/new`: the document split into a new policy's draft, then the draft.
pub async fn new_policy_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let (who, csrf) = match staff_form(&state, &headers, &form).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let lang = Lang::choose(None, &headers);
    let policies = state.policies();
    let now = state.now();
    let id = field(&form, "id").unwrap_or_default().trim().to_string();
    let seller = field(&form, "seller").unwrap_or_default().to_string();
    let document = field(&form, "document")
        .unwrap_or_default()
        .replace("\r\n", "\n");
    let (viewer, key, set) = (who.clone(), id.clone(), Arc::clone(&policies));
    let created = state
        .pool()
        .run(move |store| studio::create(store, &viewer, &set, &key, &seller, &document, now))
        .await;
    match created {
        Ok(_) => Redirect::to(&format!("/desk/policies/{id}/draft")).into_response(),
        Err(e) if mendable(&e) => {
            let html = new_page(&who, &policies, csrf, lang, &form, Some(e.to_string()));
            page(StatusCode::UNPROCESSABLE_ENTITY, html, lang, false)
        }
        Err(e) => problem(e),
    }
}
