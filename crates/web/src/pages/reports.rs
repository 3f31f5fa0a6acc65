//! `/desk/reports`: reports for managers and admins, of their sellers (issue 21), each a chart
//! drawn here as SVG (no JavaScript chart library: the page works without scripts and under
//! the strict Content-Security-Policy), its numbers in a table under it, and its CSV:
//! cases opened per week by kind; cases decided per week and the share in the customer's
//! favour; service-level targets met and missed; causes found per product; the return rate
//! per SKU; refunds per month and the days to them (`aftercare_app::reports`).

use aftercare_app::reports::{self, Causes, Decided, Opened, Refunds, ReturnRate, Targets, Window};
use askama::Template;
use axum::extract::{Path, Query, State};
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
/// One colour per series (readable on white, told apart by their legend and the table as
/// well as by colour).
const COLOURS: [&str; 6] = [
    "#0b5cad", "#b45309", "#166534", "#9f1239", "#6b21a8", "#475569",
];
/// The colour of series `i`.
fn colour(i: usize) -> &'static str {
    COLOURS.get(i % COLOURS.len()).copied().unwrap_or("#475569")
}

/// Column `i` of rows of counts (zero where a row is short).
fn column(rows: &[Vec<u64>], i: usize) -> Vec<u64> {
    rows.iter()
        .map(|r| r.get(i).copied().unwrap_or(0))
        .collect()
}

const GOOD: &str = "#166534";
const BAD: &str = "#9f1239";

/// A rectangle of a chart: its place, size, colour and what it stands for (its tooltip).
struct Bar {
    x: u32,
    y: u32,
    width: u32,
    height: u32,
    colour: &'static str,
    label: String,
}

/// A text of a chart: place, anchor (`start`, `end`) and words.
struct Label {
    x: u32,
    y: u32,
    anchor: &'static str,
    text: String,
}

struct Chart {
    width: u32,
    height: u32,
    /// The axis under vertical bars (none for horizontal ones).
    baseline: Option<u32>,
    bars: Vec<Bar>,
    labels: Vec<Label>,
    legend: Vec<(&'static str, String)>,
}

/// One report on the page: chart, summary, table, CSV.
struct Section {
    id: &'static str,
    title: &'static str,
    summary: String,
    /// What the table's `td.sum` cells add up to, and what the CSV's counts add up to (the
    /// browser test checks both).
    total: u64,
    all: u64,
    csv_href: String,
    chart: Option<Chart>,
    head: Vec<String>,
    rows: Vec<(String, Vec<Cell>)>,
}

/// A table cell; `sum` marks the cells that add up to the section's total.
struct Cell {
    text: String,
    sum: bool,
}

fn cell(text: impl ToString) -> Cell {
    Cell {
        text: text.to_string(),
        sum: false,
    }
}

fn sum_cell(n: u64) -> Cell {
    Cell {
        text: n.to_string(),
        sum: true,
    }
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
    sections: Vec<Section>,
}

const BAR_AREA: u32 = 120;
const LEFT: u32 = 36;
const STEP: u32 = 28;

/// Stacked vertical bars: one per period, each stacked from `series` (name, colour, count
/// per period).
fn stacked(periods: &[String], series: &[(String, &'static str, Vec<u64>)]) -> Chart {
    let totals: Vec<u64> = (0..periods.len())
        .map(|p| {
            series
                .iter()
                .map(|(_, _, c)| c.get(p).copied().unwrap_or(0))
                .sum()
        })
        .collect();
    let max = totals.iter().copied().max().unwrap_or(0).max(1);
    let mut bars = Vec::new();
    let mut labels = vec![
        Label {
            x: LEFT - 6,
            y: 12,
            anchor: "end",
            text: max.to_string(),
        },
        Label {
            x: LEFT - 6,
            y: BAR_AREA,
            anchor: "end",
            text: "0".into(),
        },
    ];
    // A label every few periods (every other at least: a label is wider than a bar), so
    // that they never run into each other.
    let every = periods.len().div_ceil(6).max(2);
    for (p, period) in periods.iter().enumerate() {
        let x = LEFT + u32::try_from(p).unwrap_or(0) * STEP;
        let mut top = BAR_AREA;
        for (name, colour, counts) in series {
            let n = counts.get(p).copied().unwrap_or(0);
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
                width: 22,
                height: h,
                colour,
                label: format!("{period} · {name}: {n}"),
            });
        }
        if p % every == 0 {
            labels.push(Label {
                x,
                y: BAR_AREA + 16,
                anchor: "start",
                text: period.clone(),
            });
        }
    }
    let width = LEFT + u32::try_from(periods.len()).unwrap_or(0) * STEP + 40;
    Chart {
        // Few periods (months) do not make wide bars.
        width: width.max(400),
        height: BAR_AREA + 40,
        baseline: Some(BAR_AREA),
        bars,
        labels,
        legend: series
            .iter()
            .map(|(name, colour, _)| (*colour, name.clone()))
            .collect(),
    }
}

/// Horizontal bars, one per row (label, length, what is written at its end), in the order
/// given.
fn horizontal(rows: &[(String, u64, String)]) -> Chart {
    const LABELS: u32 = 230;
    const LENGTH: u32 = 300;
    const ROW: u32 = 22;
    let max = rows.iter().map(|(_, n, _)| *n).max().unwrap_or(0).max(1);
    let mut bars = Vec::new();
    let mut labels = Vec::new();
    for (i, (label, n, shown)) in rows.iter().enumerate() {
        let y = u32::try_from(i).unwrap_or(0) * ROW + 4;
        let w = u32::try_from(n.saturating_mul(u64::from(LENGTH)) / max)
            .unwrap_or(LENGTH)
            .max(1);
        bars.push(Bar {
            x: LABELS,
            y,
            width: w,
            height: ROW - 6,
            colour: colour(0),
            label: format!("{label}: {shown}"),
        });
        labels.push(Label {
            x: LABELS - 6,
            y: y + 12,
            anchor: "end",
            text: label.clone(),
        });
        labels.push(Label {
            x: LABELS + w + 4,
            y: y + 12,
            anchor: "start",
            text: shown.clone(),
        });
    }
    Chart {
        width: LABELS + LENGTH + 40,
        height: u32::try_from(rows.len()).unwrap_or(0) * ROW + 8,
        baseline: None,
        bars,
        labels,
        legend: Vec::new(),
    }
}

/// Weeks as the charts label them (month-day, short) and as the tables do.
fn week_labels(weeks: &[jiff::civil::Date], lang: Lang) -> (Vec<String>, Vec<String>) {
    (
        weeks
            .iter()
            .map(|w| format!("{:02}-{:02}", w.month(), w.day()))
            .collect(),
        weeks.iter().map(|w| lang.date(*w)).collect(),
    )
}

fn opened_section(o: &Opened, lang: Lang, csv: String) -> Section {
    let t = lang.texts();
    let (short, long) = week_labels(&o.weeks, lang);
    let series: Vec<(String, &'static str, Vec<u64>)> = o
        .kinds
        .iter()
        .enumerate()
        .map(|(k, kind)| (lang.kind(kind), colour(k), column(&o.counts, k)))
        .collect();
    let total = o.total();
    let mut head = vec![t.desk.reports_week.to_string()];
    head.extend(o.kinds.iter().map(|k| lang.kind(k)));
    head.push(t.desk.reports_total.to_string());
    Section {
        id: "opened",
        title: t.desk.reports_opened,
        summary: format!("{}: {total}", t.desk.reports_total),
        total,
        all: total,
        csv_href: csv,
        chart: Some(stacked(&short, &series)),
        head,
        rows: long
            .into_iter()
            .zip(&o.counts)
            .map(|(w, c)| {
                let mut cells: Vec<Cell> = c.iter().map(cell).collect();
                cells.push(sum_cell(c.iter().sum()));
                (w, cells)
            })
            .collect(),
    }
}

fn decided_section(d: &Decided, lang: Lang, csv: String) -> Section {
    let t = lang.texts();
    let (short, long) = week_labels(&d.weeks, lang);
    let total: u64 = d.favour.iter().chain(&d.against).sum();
    let share = |s: Option<u64>| s.map_or_else(|| "–".to_string(), |s| format!("{s} %"));
    Section {
        id: "decided",
        title: t.desk.reports_decided,
        summary: format!(
            "{}: {total} · {}: {}",
            t.desk.reports_total,
            t.desk.reports_share,
            share(d.overall())
        ),
        total,
        all: total,
        csv_href: csv,
        chart: Some(stacked(
            &short,
            &[
                (t.desk.reports_favour.to_string(), GOOD, d.favour.clone()),
                (t.desk.reports_against.to_string(), BAD, d.against.clone()),
            ],
        )),
        head: vec![
            t.desk.reports_week.into(),
            t.desk.reports_favour.into(),
            t.desk.reports_against.into(),
            t.desk.reports_total.into(),
            t.desk.reports_share.into(),
        ],
        rows: long
            .into_iter()
            .enumerate()
            .map(|(w, week)| {
                let (f, a) = (
                    d.favour.get(w).copied().unwrap_or(0),
                    d.against.get(w).copied().unwrap_or(0),
                );
                (
                    week,
                    vec![cell(f), cell(a), sum_cell(f + a), cell(share(d.share(w)))],
                )
            })
            .collect(),
    }
}

fn targets_section(x: &Targets, lang: Lang, csv: String) -> Section {
    let t = lang.texts();
    let (short, long) = week_labels(&x.weeks, lang);
    let per_week = |m: &Vec<Vec<u64>>| -> Vec<u64> { m.iter().map(|r| r.iter().sum()).collect() };
    let (met, missed) = (x.total(false), x.total(true));
    let mut head = vec![t.desk.reports_week.to_string()];
    for target in &x.targets {
        let name = lang.target(target);
        head.push(format!("{name}: {}", t.desk.reports_met));
        head.push(format!("{name}: {}", t.desk.reports_missed));
    }
    head.push(t.desk.reports_total.to_string());
    Section {
        id: "targets",
        title: t.desk.reports_targets,
        summary: format!(
            "{}: {met} · {}: {missed}",
            t.desk.reports_met, t.desk.reports_missed
        ),
        total: met + missed,
        all: met + missed,
        csv_href: csv,
        chart: Some(stacked(
            &short,
            &[
                (t.desk.reports_met.to_string(), GOOD, per_week(&x.met)),
                (t.desk.reports_missed.to_string(), BAD, per_week(&x.missed)),
            ],
        )),
        head,
        rows: long
            .into_iter()
            .enumerate()
            .map(|(w, week)| {
                let mut cells = Vec::new();
                let mut sum = 0;
                for i in 0..x.targets.len() {
                    for m in [&x.met, &x.missed] {
                        let n = m.get(w).and_then(|r| r.get(i)).copied().unwrap_or(0);
                        sum += n;
                        cells.push(cell(n));
                    }
                }
                cells.push(sum_cell(sum));
                (week, cells)
            })
            .collect(),
    }
}

fn causes_section(c: &Causes, lang: Lang, csv: String) -> Section {
    let t = lang.texts();
    let product = |sku: &str| {
        if sku.is_empty() {
            t.desk.reports_no_product.to_string()
        } else {
            sku.to_string()
        }
    };
    let top = c.top();
    let all: u64 = c.rows.iter().map(|r| r.2).sum();
    Section {
        id: "causes",
        title: t.desk.reports_causes,
        summary: format!("{}: {all}", t.desk.reports_all_causes),
        total: top.iter().map(|r| r.2).sum(),
        all,
        csv_href: csv,
        chart: (!top.is_empty()).then(|| {
            horizontal(
                &top.iter()
                    .map(|(sku, cause, n)| {
                        (
                            format!("{} · {}", product(sku), lang.cause(cause)),
                            *n,
                            n.to_string(),
                        )
                    })
                    .collect::<Vec<_>>(),
            )
        }),
        head: vec![
            t.desk.reports_product.into(),
            t.desk.reports_cause.into(),
            t.desk.reports_cases.into(),
        ],
        rows: top
            .iter()
            .map(|(sku, cause, n)| (product(sku), vec![cell(lang.cause(cause)), sum_cell(*n)]))
            .collect(),
    }
}

/// How many SKUs the return-rate chart shows (the table and CSV have all).
const TOP_RATES: usize = 10;

fn return_rate_section(r: &ReturnRate, lang: Lang, csv: String) -> Section {
    let t = lang.texts();
    let cases: u64 = r.rows.iter().map(|x| x.1).sum();
    let sold: u64 = r.rows.iter().map(|x| x.2).sum();
    let rate =
        |c: u64, s: u64| ReturnRate::rate(c, s).map_or_else(|| "–".into(), |r| format!("{r} %"));
    let charted: Vec<(String, u64, String)> = r
        .rows
        .iter()
        .filter(|x| x.2 > 0)
        .take(TOP_RATES)
        .map(|(sku, c, s)| {
            (
                sku.clone(),
                c.saturating_mul(100_000) / (*s).max(1),
                rate(*c, *s),
            )
        })
        .collect();
    Section {
        id: "return-rate",
        title: t.desk.reports_return_rate,
        summary: format!(
            "{}: {cases} · {}: {sold} · {}",
            t.desk.reports_cases,
            t.desk.reports_sold,
            rate(cases, sold)
        ),
        total: cases,
        all: cases,
        csv_href: csv,
        chart: (!charted.is_empty()).then(|| horizontal(&charted)),
        head: vec![
            t.desk.reports_sku.into(),
            t.desk.reports_cases.into(),
            t.desk.reports_sold.into(),
            t.desk.reports_rate.into(),
        ],
        rows: r
            .rows
            .iter()
            .map(|(sku, c, s)| (sku.clone(), vec![sum_cell(*c), cell(s), cell(rate(*c, *s))]))
            .collect(),
    }
}

fn refunds_section(r: &Refunds, lang: Lang, csv: String) -> Section {
    let t = lang.texts();
    let days = |d: Option<i64>| match d {
        None => "–".to_string(),
        Some(d) if d >= reports::REFUND_DAYS_CAP => t.desk.reports_more_than.to_string(),
        Some(d) => d.to_string(),
    };
    let total = r.total();
    let mut head = vec![t.desk.reports_month.to_string()];
    for c in &r.currencies {
        head.push(format!("{} ({c})", t.desk.reports_refund_count));
        head.push(c.clone());
    }
    head.extend([
        t.desk.reports_total.to_string(),
        t.desk.reports_median.to_string(),
        t.desk.reports_p90.to_string(),
    ]);
    let series: Vec<(String, &'static str, Vec<u64>)> = r
        .currencies
        .iter()
        .enumerate()
        .map(|(i, c)| (c.clone(), colour(i), column(&r.count, i)))
        .collect();
    Section {
        id: "refunds",
        title: t.desk.reports_refunds,
        summary: format!(
            "{}: {total} · {}: {} · {}: {}",
            t.desk.reports_refund_count,
            t.desk.reports_median,
            days(r.overall_quantile(0.5)),
            t.desk.reports_p90,
            days(r.overall_quantile(0.9))
        ),
        total,
        all: total,
        csv_href: csv,
        // Months labelled short (`26-09`), as weeks are, so that labels do not overlap.
        chart: Some(stacked(
            &r.months
                .iter()
                .map(|m| m.get(2..).unwrap_or(m).to_string())
                .collect::<Vec<_>>(),
            &series,
        )),
        head,
        rows: r
            .months
            .iter()
            .enumerate()
            .map(|(m, month)| {
                let mut cells = Vec::new();
                let mut sum = 0;
                for (i, c) in r.currencies.iter().enumerate() {
                    let n = r.count.get(m).and_then(|x| x.get(i)).copied().unwrap_or(0);
                    let minor = r.amount.get(m).and_then(|x| x.get(i)).copied().unwrap_or(0);
                    sum += n;
                    cells.push(cell(n));
                    cells.push(cell(super::portal::money(minor, c)));
                }
                cells.push(sum_cell(sum));
                cells.push(cell(days(r.days_quantile(m, 0.5))));
                cells.push(cell(days(r.days_quantile(m, 0.9))));
                (month.clone(), cells)
            })
            .collect(),
    }
}

/// The reports read for a request: every one for the page, one for a CSV.
#[derive(Default)]
struct All {
    opened: Opened,
    decided: Decided,
    targets: Targets,
    causes: Causes,
    return_rate: ReturnRate,
    refunds: Refunds,
}

/// The reports by name, as their CSVs are named.
const NAMES: [&str; 6] = [
    "opened",
    "decided",
    "targets",
    "causes",
    "return-rate",
    "refunds",
];

/// Reads the reports named `only` (all when `None`) for `who`, signed in as staff.
async fn load(
    state: &AppState,
    who: aftercare_app::accounts::Principal,
    q: &ReportQuery,
    only: Option<&'static str>,
) -> Result<(All, Vec<String>, u32, String), Response> {
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
    let one_seller = (!seller.is_empty()).then(|| seller.clone());
    let all = state
        .pool()
        .run(move |store| {
            let window = Window::new(&policies, &who, one_seller.as_deref(), weeks, now)?;
            let wanted = |name: &str| only.is_none_or(|o| o == name);
            let mut all = All::default();
            if wanted("opened") {
                all.opened = reports::opened_in(store, &window)?;
            }
            if wanted("decided") {
                all.decided = reports::decided(store, &window)?;
            }
            if wanted("targets") {
                all.targets = reports::targets(store, &window)?;
            }
            if wanted("causes") {
                all.causes = reports::causes(store, &window)?;
            }
            if wanted("return-rate") {
                all.return_rate = reports::return_rate(store, &window)?;
            }
            if wanted("refunds") {
                all.refunds = reports::refunds(store, &window)?;
            }
            Ok::<_, aftercare_app::AppError>(all)
        })
        .await
        .map_err(|e| crate::problem::Problem::from(e).into_response())?;
    Ok((all, sellers, weeks, seller))
}

/// `GET /desk/reports`.
pub async fn reports_page(
    State(state): State<AppState>,
    Query(q): Query<ReportQuery>,
    headers: HeaderMap,
) -> Response {
    let who = match staff(&state, &headers).await {
        Ok((who, _)) => who,
        Err(r) => return r,
    };
    let (all, sellers, weeks, seller) = match load(&state, who, &q, None).await {
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
    let csv = |name: &str| format!("/desk/reports/{name}.csv?{}", query(None));
    let view = ReportsPage {
        lang,
        t,
        title: t.desk.reports_title,
        switch_href: format!(
            "/desk/reports?{}",
            query(Some(("lang", lang.other().tag().to_string())))
        ),
        weeks,
        sections: vec![
            opened_section(&all.opened, lang, csv("opened")),
            decided_section(&all.decided, lang, csv("decided")),
            targets_section(&all.targets, lang, csv("targets")),
            causes_section(&all.causes, lang, csv("causes")),
            return_rate_section(&all.return_rate, lang, csv("return-rate")),
            refunds_section(&all.refunds, lang, csv("refunds")),
        ],
        seller,
        sellers,
    };
    page(StatusCode::OK, view.render(), lang, q.lang.is_some())
}

/// `GET /desk/reports/{name}.csv`: a report's numbers as CSV (`opened`, `decided`, `targets`,
/// `causes`, `return-rate`, `refunds`).
pub async fn report_csv(
    State(state): State<AppState>,
    Path(file): Path<String>,
    Query(q): Query<ReportQuery>,
    headers: HeaderMap,
) -> Response {
    // Who asks is checked first: a stranger learns nothing, not even which reports exist.
    let who = match staff(&state, &headers).await {
        Ok((who, _)) => who,
        Err(r) => return r,
    };
    let Some(name) = NAMES
        .into_iter()
        .find(|n| file.strip_suffix(".csv") == Some(*n))
    else {
        return crate::problem::Problem::from(aftercare_app::AppError::not_found(
            "report",
            file.chars().take(40).collect::<String>(),
        ))
        .into_response();
    };
    let (all, ..) = match load(&state, who, &q, Some(name)).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let body = match name {
        "decided" => all.decided.csv(),
        "targets" => all.targets.csv(),
        "causes" => all.causes.csv(),
        "return-rate" => all.return_rate.csv(),
        "refunds" => all
            .refunds
            .csv(|c| aftercare_policy::value::Currency::parse(c).map_or(2, |c| c.exponent())),
        _ => all.opened.csv(),
    };
    let mut r = (StatusCode::OK, body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    let disposition = format!("attachment; filename=\"{name}.csv\"");
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}
