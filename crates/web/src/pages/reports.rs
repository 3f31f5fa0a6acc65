//! `/desk/reports`: reports for managers and admins, of their sellers (issue 21), each a chart
//! drawn here as SVG (no JavaScript chart library: the page works without scripts and under
//! the strict Content-Security-Policy), its numbers in a table under it, and its CSV.
//! So far: cases opened per week, by kind (`aftercare_app::reports`).

use aftercare_app::reports::{self, Opened};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::i18n::{Lang, Texts};
use super::{page, staff};
use crate::AppState;

#[derive(Debug, Default, Deserialize)]
pub struct ReportQuery {
    pub weeks: Option<u32>,
    pub seller: Option<String>,
    pub lang: Option<String>,
}

/// Weeks shown when the address does not say.
const WEEKS: u32 = 12;
/// One colour per kind, in the order of `Opened::kinds` (readable on white, told apart by
/// their legend and the table as well as by colour).
const COLOURS: [&str; 6] = [
    "#0b5cad", "#b45309", "#166534", "#9f1239", "#6b21a8", "#475569",
];

/// A bar of the chart: its place, size, colour and what it stands for.
struct Bar {
    x: u32,
    y: u32,
    height: u32,
    colour: &'static str,
    label: String,
}

struct Chart {
    width: u32,
    height: u32,
    bars: Vec<Bar>,
    /// The week labels under the axis: x and text.
    ticks: Vec<(u32, String)>,
    /// The largest weekly total, for the axis.
    max: u64,
    legend: Vec<(&'static str, String)>,
}

#[derive(Template)]
#[template(path = "desk_reports.html")]
struct ReportsPage {
    lang: Lang,
    t: &'static Texts,
    title: &'static str,
    switch_href: String,
    weeks: u32,
    seller: String,
    sellers: Vec<String>,
    csv_href: String,
    chart: Chart,
    /// The numbers: each week with its counts by kind, and the kinds' names.
    kinds: Vec<String>,
    rows: Vec<(String, Vec<u64>, u64)>,
    total: u64,
}

const BAR_AREA: u32 = 180;
const LEFT: u32 = 36;
const STEP: u32 = 28;

fn chart(o: &Opened, lang: Lang) -> Chart {
    let totals: Vec<u64> = o.counts.iter().map(|c| c.iter().sum()).collect();
    let max = totals.iter().copied().max().unwrap_or(0).max(1);
    let mut bars = Vec::new();
    let mut ticks = Vec::new();
    // A label every few weeks, short (month-day), so that they never run into each other.
    let every = o.weeks.len().div_ceil(6).max(1);
    for (w, week) in o.weeks.iter().enumerate() {
        let x = LEFT + u32::try_from(w).unwrap_or(0) * STEP;
        let mut top = BAR_AREA;
        for (k, kind) in o.kinds.iter().enumerate() {
            let n = o.counts.get(w).and_then(|c| c.get(k)).copied().unwrap_or(0);
            if n == 0 {
                continue;
            }
            let h = u32::try_from(n.saturating_mul(u64::from(BAR_AREA)) / max)
                .unwrap_or(BAR_AREA)
                .max(1);
            top = top.saturating_sub(h);
            bars.push(Bar {
                x,
                y: top,
                height: h,
                colour: COLOURS.get(k % COLOURS.len()).copied().unwrap_or("#475569"),
                label: format!("{} · {}: {n}", lang.date(*week), lang.kind(kind)),
            });
        }
        if w % every == 0 {
            ticks.push((x, format!("{:02}-{:02}", week.month(), week.day())));
        }
    }
    let width = LEFT + u32::try_from(o.weeks.len()).unwrap_or(0) * STEP + 8;
    Chart {
        width: width.max(200),
        height: BAR_AREA + 40,
        bars,
        ticks,
        max,
        legend: o
            .kinds
            .iter()
            .enumerate()
            .map(|(k, kind)| {
                (
                    COLOURS.get(k % COLOURS.len()).copied().unwrap_or("#475569"),
                    lang.kind(kind),
                )
            })
            .collect(),
    }
}

async fn load(
    state: &AppState,
    headers: &HeaderMap,
    q: &ReportQuery,
) -> Result<(Opened, Vec<String>, u32, String), Response> {
    let (who, _) = staff(state, headers).await?;
    let weeks = q.weeks.unwrap_or(WEEKS).clamp(1, reports::MOST_WEEKS);
    let policies = state.policies();
    let sellers: Vec<String> = match &who {
        aftercare_app::accounts::Principal::Staff { sellers, .. } => {
            aftercare_app::access::seller_names(&policies, sellers)
        }
        aftercare_app::accounts::Principal::Customer { .. } => Vec::new(),
    };
    let seller = q
        .seller
        .clone()
        .filter(|s| sellers.iter().any(|x| x == s))
        .unwrap_or_default();
    let now = state.now();
    let only = (!seller.is_empty()).then(|| seller.clone());
    let opened = state
        .pool()
        .run(move |store| reports::opened(store, &policies, &who, only.as_deref(), weeks, now))
        .await
        .map_err(|e| crate::problem::Problem::from(e).into_response())?;
    Ok((opened, sellers, weeks, seller))
}

/// `GET /desk/reports`.
pub async fn reports_page(
    State(state): State<AppState>,
    Query(q): Query<ReportQuery>,
    headers: HeaderMap,
) -> Response {
    let (opened, sellers, weeks, seller) = match load(&state, &headers, &q).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let lang = Lang::choose(q.lang.as_deref(), &headers);
    let t = lang.texts();
    let query = |extra: Option<(&str, String)>| {
        let mut all = vec![("weeks", weeks.to_string())];
        if !seller.is_empty() {
            all.push(("seller", seller.clone()));
        }
        all.extend(extra);
        serde_urlencoded::to_string(all).unwrap_or_default()
    };
    let rows = opened
        .weeks
        .iter()
        .zip(&opened.counts)
        .map(|(w, c)| (lang.date(*w), c.clone(), c.iter().sum()))
        .collect();
    let view = ReportsPage {
        lang,
        t,
        title: t.desk.reports_title,
        switch_href: format!(
            "/desk/reports?{}",
            query(Some(("lang", lang.other().tag().to_string())))
        ),
        weeks,
        csv_href: format!("/desk/reports/opened.csv?{}", query(None)),
        chart: chart(&opened, lang),
        kinds: opened.kinds.iter().map(|k| lang.kind(k)).collect(),
        rows,
        total: opened.total(),
        seller,
        sellers,
    };
    page(StatusCode::OK, view.render(), lang, q.lang.is_some())
}

/// `GET /desk/reports/opened.csv`: the same numbers as CSV (`week,kind,opened`).
pub async fn opened_csv(
    State(state): State<AppState>,
    Query(q): Query<ReportQuery>,
    headers: HeaderMap,
) -> Response {
    let (opened, ..) = match load(&state, &headers, &q).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let mut r = (StatusCode::OK, opened.csv()).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"cases-opened.csv\""),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}
