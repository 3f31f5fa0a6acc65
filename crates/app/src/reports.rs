//! Reports for the people who run the service (issue 21), from counts the write path keeps:
//! each case opened adds one to its policy's, week's and kind's count (`report_opened`,
//! migration 15) in the transaction that opens it. A report reads those counts, not the
//! cases: a few hundred rows whatever the history.
//!
//! The other reports read `report_tallies` (migration 16), kept the same way by the moves,
//! refunds and timers they count (see `report_counts`): the share of cases decided in the
//! customer's favour, service-level targets met and missed, the causes found at inspection per
//! product, refunds per month with the time from request to refund, and the return rate per
//! SKU (cases per unit sold; units sold are counted by triggers on the order lines).

use std::collections::BTreeMap;

use aftercare_policy::value::decimal;
use aftercare_store::{Store, Val};
use jiff::Timestamp;
use jiff::civil::Date;

use crate::accounts::{Principal, Role};
use crate::{AppError, Policies, access};

pub use crate::report_counts::{REFUND_DAYS_CAP, month_of, week_of};

/// At most this many weeks are reported.
pub const MOST_WEEKS: u32 = 104;

/// Cases opened per week, by kind, for the weeks asked for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Opened {
    /// The weeks reported, oldest first (their Mondays), with none left out.
    pub weeks: Vec<Date>,
    /// The kinds that have cases in those weeks, in name order.
    pub kinds: Vec<String>,
    /// `counts[w][k]`: cases of kind `kinds[k]` opened in week `weeks[w]`.
    pub counts: Vec<Vec<u64>>,
}

impl Opened {
    pub fn total(&self) -> u64 {
        self.counts.iter().flatten().sum()
    }

    /// The report as CSV: `week,kind,opened`, one line per week and kind (zeros included).
    pub fn csv(&self) -> String {
        let mut out = String::from("week,kind,opened\n");
        for (w, week) in self.weeks.iter().enumerate() {
            for (k, kind) in self.kinds.iter().enumerate() {
                let n = self
                    .counts
                    .get(w)
                    .and_then(|c| c.get(k))
                    .copied()
                    .unwrap_or(0);
                out.push_str(&format!("{week},{kind},{n}\n"));
            }
        }
        out
    }
}

/// Whether `who` may read reports: managers and admins (of their sellers).
pub fn may_read(who: &Principal) -> bool {
    matches!(
        who,
        Principal::Staff {
            role: Role::Manager | Role::Admin,
            ..
        }
    ) && access::may_read_cases(who)
}

/// Cases opened per week by kind over the `weeks` weeks up to the one `now` falls in, for the
/// sellers `who` works for (or only `seller`, if they work for it).
pub fn opened(
    store: &mut Store,
    policies: &Policies,
    who: &Principal,
    seller: Option<&str>,
    weeks: u32,
    now: Timestamp,
) -> Result<Opened, AppError> {
    opened_in(store, &Window::new(policies, who, seller, weeks, now)?)
}

/// [`opened`] within a window already made.
pub fn opened_in(store: &mut Store, window: &Window) -> Result<Opened, AppError> {
    let all_weeks = window.weeks.clone();
    let ids = &window.policy_ids;
    let (first, last) = window.week_range();
    if ids.is_empty() {
        return Ok(Opened {
            weeks: all_weeks.clone(),
            kinds: Vec::new(),
            counts: vec![Vec::new(); all_weeks.len()],
        });
    }
    let sql = format!(
        "SELECT week, kind, CAST(SUM(opened) AS BIGINT) FROM report_opened
         WHERE policy_id IN ({}) AND week >= ? AND week <= ?
         GROUP BY week, kind",
        vec!["?"; ids.len()].join(", ")
    );
    let mut params: Vec<Val> = ids.iter().map(Val::from).collect();
    params.push(first.into());
    params.push(last.into());
    let rows = store.read(|tx| tx.query(&sql, &params))?;
    let mut by: BTreeMap<(String, String), u64> = BTreeMap::new();
    for r in &rows {
        let n = u64::try_from(r.int(2)?).unwrap_or(0);
        by.insert((r.text(0)?, r.text(1)?), n);
    }
    let mut kinds: Vec<String> = by.keys().map(|(_, k)| k.clone()).collect();
    kinds.sort();
    kinds.dedup();
    let counts = all_weeks
        .iter()
        .map(|w| {
            let w = w.to_string();
            kinds
                .iter()
                .map(|k| by.get(&(w.clone(), k.clone())).copied().unwrap_or(0))
                .collect()
        })
        .collect();
    Ok(Opened {
        weeks: all_weeks,
        kinds,
        counts,
    })
}

/// Tallies read back: `(period, key) -> (n, amount)`.
type Tallies = BTreeMap<(String, String), (u64, i64)>;

/// The window a report covers: the `weeks` weeks up to the one `now` falls in, and the
/// policies of the sellers `who` works for (or only `seller`, if they work for it).
#[derive(Clone, Debug)]
pub struct Window {
    pub weeks: Vec<Date>,
    pub policy_ids: Vec<String>,
}

impl Window {
    pub fn new(
        policies: &Policies,
        who: &Principal,
        seller: Option<&str>,
        weeks: u32,
        now: Timestamp,
    ) -> Result<Window, AppError> {
        let Principal::Staff { sellers, .. } = who else {
            return Err(AppError::Forbidden("reports are for staff".into()));
        };
        if !may_read(who) {
            return Err(AppError::Forbidden(
                "reports are for managers and admins".into(),
            ));
        }
        let weeks = weeks.clamp(1, MOST_WEEKS);
        let last = week_of(now);
        let first = last
            .checked_sub(jiff::Span::new().weeks(i64::from(weeks) - 1))
            .map_err(|e| AppError::invalid("weeks", e.to_string()))?;
        Ok(Window {
            weeks: (0..i64::from(weeks))
                .filter_map(|i| first.checked_add(jiff::Span::new().weeks(i)).ok())
                .collect(),
            policy_ids: access::filtered_policy_ids(policies, sellers, seller),
        })
    }

    /// The months the weeks touch, oldest first (`YYYY-MM`).
    pub fn months(&self) -> Vec<String> {
        let (Some(first), Some(last)) = (self.weeks.first(), self.weeks.last()) else {
            return Vec::new();
        };
        let last = last.checked_add(jiff::Span::new().days(6)).unwrap_or(*last);
        let mut out = Vec::new();
        let mut m = first.first_of_month();
        while m <= last {
            out.push(format!("{:04}-{:02}", m.year(), m.month()));
            match m.checked_add(jiff::Span::new().months(1)) {
                Ok(next) => m = next,
                Err(_) => break,
            }
        }
        out
    }

    /// A measure's tallies within the window's policies and periods `from..=to`, summed over
    /// slots and policies: `(period, key) -> (n, amount)`.
    fn tallies(
        &self,
        store: &mut Store,
        measure: &str,
        from: &str,
        to: &str,
    ) -> Result<Tallies, AppError> {
        let mut out = BTreeMap::new();
        if self.policy_ids.is_empty() {
            return Ok(out);
        }
        let sql = format!(
            "SELECT period, key, CAST(SUM(n) AS BIGINT), CAST(SUM(amount) AS BIGINT)
             FROM report_tallies
             WHERE policy_id IN ({}) AND measure = ? AND period >= ? AND period <= ?
             GROUP BY period, key",
            vec!["?"; self.policy_ids.len()].join(", ")
        );
        let mut params: Vec<Val> = self.policy_ids.iter().map(Val::from).collect();
        params.extend([measure.into(), from.into(), to.into()]);
        for r in store.read(|tx| tx.query(&sql, &params))? {
            let n = u64::try_from(r.int(2)?).unwrap_or(0);
            out.insert((r.text(0)?, r.text(1)?), (n, r.int(3)?));
        }
        Ok(out)
    }

    fn week_range(&self) -> (String, String) {
        let s = |d: Option<&Date>| d.map(Date::to_string).unwrap_or_default();
        (s(self.weeks.first()), s(self.weeks.last()))
    }

    fn month_range(&self) -> (String, String) {
        let months = self.months();
        (
            months.first().cloned().unwrap_or_default(),
            months.last().cloned().unwrap_or_default(),
        )
    }
}

/// Cases decided per week, in the customer's favour or not (see
/// [`crate::report_counts::settles`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Decided {
    pub weeks: Vec<Date>,
    pub favour: Vec<u64>,
    pub against: Vec<u64>,
}

impl Decided {
    /// The share in the customer's favour in week `w`, in whole per cent (none: nothing decided).
    pub fn share(&self, w: usize) -> Option<u64> {
        let f = self.favour.get(w).copied().unwrap_or(0);
        let all = f + self.against.get(w).copied().unwrap_or(0);
        (all > 0).then(|| (f * 100 + all / 2) / all)
    }

    /// The share over the whole window.
    pub fn overall(&self) -> Option<u64> {
        let f: u64 = self.favour.iter().sum();
        let all = f + self.against.iter().sum::<u64>();
        (all > 0).then(|| (f * 100 + all / 2) / all)
    }

    /// `week,in_favour,against,share_percent` (share empty where nothing was decided).
    pub fn csv(&self) -> String {
        let mut out = String::from("week,in_favour,against,share_percent\n");
        for (w, week) in self.weeks.iter().enumerate() {
            let share = self.share(w).map(|s| s.to_string()).unwrap_or_default();
            out.push_str(&format!(
                "{week},{},{},{share}\n",
                self.favour.get(w).copied().unwrap_or(0),
                self.against.get(w).copied().unwrap_or(0)
            ));
        }
        out
    }
}

pub fn decided(store: &mut Store, window: &Window) -> Result<Decided, AppError> {
    let (from, to) = window.week_range();
    let t = window.tallies(store, "decided", &from, &to)?;
    let get = |w: &Date, key: &str| {
        t.get(&(w.to_string(), key.to_string()))
            .map_or(0, |(n, _)| *n)
    };
    Ok(Decided {
        weeks: window.weeks.clone(),
        favour: window.weeks.iter().map(|w| get(w, "favour")).collect(),
        against: window.weeks.iter().map(|w| get(w, "against")).collect(),
    })
}

/// Service-level targets falling due per week, met and missed, by target.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Targets {
    pub weeks: Vec<Date>,
    /// The targets with any count in the window, in a fixed order (`ship_by`, `arrive_by`,
    /// `quote_pay_by`, `inspect_by`, `repair_by`).
    pub targets: Vec<&'static str>,
    /// `met[w][t]`, `missed[w][t]`.
    pub met: Vec<Vec<u64>>,
    pub missed: Vec<Vec<u64>>,
}

/// Every target, in the order reports show them.
pub const TARGET_NAMES: [&str; 5] = [
    "ship_by",
    "arrive_by",
    "quote_pay_by",
    "inspect_by",
    "repair_by",
];

impl Targets {
    pub fn total(&self, missed: bool) -> u64 {
        let m = if missed { &self.missed } else { &self.met };
        m.iter().flatten().sum()
    }

    /// `week,target,met,missed`, one line per week and target (zeros included).
    pub fn csv(&self) -> String {
        let mut out = String::from("week,target,met,missed\n");
        for (w, week) in self.weeks.iter().enumerate() {
            for (i, target) in self.targets.iter().enumerate() {
                let at = |m: &Vec<Vec<u64>>| m.get(w).and_then(|r| r.get(i)).copied().unwrap_or(0);
                out.push_str(&format!(
                    "{week},{target},{},{}\n",
                    at(&self.met),
                    at(&self.missed)
                ));
            }
        }
        out
    }
}

pub fn targets(store: &mut Store, window: &Window) -> Result<Targets, AppError> {
    let (from, to) = window.week_range();
    let t = window.tallies(store, "target", &from, &to)?;
    let targets: Vec<&'static str> = TARGET_NAMES
        .into_iter()
        .filter(|name| t.keys().any(|(_, k)| k.split(':').next() == Some(name)))
        .collect();
    let grid = |outcome: &str| -> Vec<Vec<u64>> {
        window
            .weeks
            .iter()
            .map(|w| {
                targets
                    .iter()
                    .map(|name| {
                        t.get(&(w.to_string(), format!("{name}:{outcome}")))
                            .map_or(0, |(n, _)| *n)
                    })
                    .collect()
            })
            .collect()
    };
    Ok(Targets {
        weeks: window.weeks.clone(),
        met: grid("met"),
        missed: grid("missed"),
        targets,
    })
}

/// Causes found at inspection, by product (SKU), most found first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Causes {
    /// `(sku, cause, cases)`; the SKU is empty where the case names no unit or order line.
    pub rows: Vec<(String, String, u64)>,
}

/// How many causes the page shows (the CSV has all).
pub const TOP_CAUSES: usize = 10;

impl Causes {
    pub fn top(&self) -> &[(String, String, u64)] {
        self.rows
            .get(..TOP_CAUSES.min(self.rows.len()))
            .unwrap_or(&[])
    }

    /// `sku,cause,cases`, most found first.
    pub fn csv(&self) -> String {
        let mut out = String::from("sku,cause,cases\n");
        for (sku, cause, n) in &self.rows {
            out.push_str(&format!("{},{},{n}\n", csv_field(sku), csv_field(cause)));
        }
        out
    }
}

/// A CSV field: quoted where it holds a comma, a quote or a line break, and never read as a
/// formula by a spreadsheet (a leading `=`, `+`, `-` or `@` is quoted behind an apostrophe).
pub fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

pub fn causes(store: &mut Store, window: &Window) -> Result<Causes, AppError> {
    let (from, to) = window.month_range();
    let t = window.tallies(store, "cause", &from, &to)?;
    let mut by: BTreeMap<(String, String), u64> = BTreeMap::new();
    for ((_, key), (n, _)) in t {
        let (sku, cause) = key.split_once('|').unwrap_or(("", key.as_str()));
        *by.entry((sku.to_string(), cause.to_string())).or_default() += n;
    }
    let mut rows: Vec<(String, String, u64)> =
        by.into_iter().map(|((s, c), n)| (s, c, n)).collect();
    rows.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| (&a.0, &a.1).cmp(&(&b.0, &b.1))));
    Ok(Causes { rows })
}

/// Cases per unit sold, by SKU, since the start (units sold are the order lines' quantities).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReturnRate {
    /// `(sku, cases, units sold)`, the highest rate first (SKUs with sales or cases).
    pub rows: Vec<(String, u64, u64)>,
}

impl ReturnRate {
    /// Cases per hundred units sold, to a tenth (none: nothing sold).
    pub fn rate(cases: u64, sold: u64) -> Option<String> {
        (sold > 0).then(|| {
            let tenths = (cases * 1000 + sold / 2) / sold;
            format!("{}.{}", tenths / 10, tenths % 10)
        })
    }

    /// `sku,cases,sold,rate_percent`, the highest rate first.
    pub fn csv(&self) -> String {
        let mut out = String::from("sku,cases,sold,rate_percent\n");
        for (sku, cases, sold) in &self.rows {
            out.push_str(&format!(
                "{},{cases},{sold},{}\n",
                csv_field(sku),
                Self::rate(*cases, *sold).unwrap_or_default()
            ));
        }
        out
    }
}

pub fn return_rate(store: &mut Store, window: &Window) -> Result<ReturnRate, AppError> {
    let cases = window.tallies(store, "sku_cases", "", "")?;
    let sold = window.tallies(store, "sold", "", "")?;
    let mut by: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for ((_, sku), (n, _)) in cases {
        by.entry(sku).or_default().0 += n;
    }
    for ((_, sku), (n, _)) in sold {
        by.entry(sku).or_default().1 += n;
    }
    let mut rows: Vec<(String, u64, u64)> = by
        .into_iter()
        .filter(|(_, (c, s))| *c > 0 || *s > 0)
        .map(|(sku, (c, s))| (sku, c, s))
        .collect();
    // Highest rate first (cases × other's sold against other's cases × sold: no division);
    // nothing sold last; then by name.
    rows.sort_by(|a, b| {
        (b.2 > 0)
            .cmp(&(a.2 > 0))
            .then_with(|| {
                (u128::from(b.1) * u128::from(a.2)).cmp(&(u128::from(a.1) * u128::from(b.2)))
            })
            .then_with(|| a.0.cmp(&b.0))
    });
    Ok(ReturnRate { rows })
}

/// Refunds recorded per month and currency, and the days from a case's opening to its refund.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Refunds {
    pub months: Vec<String>,
    pub currencies: Vec<String>,
    /// `count[m][c]` and `amount[m][c]` (minor units).
    pub count: Vec<Vec<u64>>,
    pub amount: Vec<Vec<i64>>,
    /// Per month, how many refunds of cases took each whole number of days (index; the last,
    /// [`REFUND_DAYS_CAP`], is "more than 90").
    pub days: Vec<Vec<u64>>,
}

impl Refunds {
    /// The day by which the share `q` (0..=1) of month `m`'s refunds of cases were made,
    /// in whole days from the case's opening (none: no refund of a case that month).
    pub fn days_quantile(&self, m: usize, q: f64) -> Option<i64> {
        quantile(self.days.get(m)?, q)
    }

    /// The same over the whole window.
    pub fn overall_quantile(&self, q: f64) -> Option<i64> {
        let mut all = vec![0u64; usize::try_from(REFUND_DAYS_CAP).unwrap_or(0) + 1];
        for month in &self.days {
            for (a, n) in all.iter_mut().zip(month) {
                *a += n;
            }
        }
        quantile(&all, q)
    }

    pub fn total(&self) -> u64 {
        self.count.iter().flatten().sum()
    }

    /// `month,currency,refunds,amount,median_days,p90_days`: amounts in major units; the days
    /// are the month's, over all its currencies, empty where no case was refunded.
    pub fn csv(&self, exponent: impl Fn(&str) -> u32) -> String {
        let mut out = String::from("month,currency,refunds,amount,median_days,p90_days\n");
        for (m, month) in self.months.iter().enumerate() {
            let q = |x: f64| {
                self.days_quantile(m, x)
                    .map(|d| d.to_string())
                    .unwrap_or_default()
            };
            for (c, currency) in self.currencies.iter().enumerate() {
                let n = self
                    .count
                    .get(m)
                    .and_then(|r| r.get(c))
                    .copied()
                    .unwrap_or(0);
                let minor = self
                    .amount
                    .get(m)
                    .and_then(|r| r.get(c))
                    .copied()
                    .unwrap_or(0);
                out.push_str(&format!(
                    "{month},{currency},{n},{},{},{}\n",
                    decimal(minor, exponent(currency)),
                    q(0.5),
                    q(0.9)
                ));
            }
        }
        out
    }
}

/// The smallest bucket (day) by which at least the share `q` of the counts is reached.
fn quantile(counts: &[u64], q: f64) -> Option<i64> {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return None;
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "a share of a count of refunds"
    )]
    let want = ((q * total as f64).ceil() as u64).clamp(1, total);
    let mut seen = 0;
    for (day, n) in (0i64..).zip(counts) {
        seen += n;
        if seen >= want {
            return Some(day);
        }
    }
    None
}

pub fn refunds(store: &mut Store, window: &Window) -> Result<Refunds, AppError> {
    let months = window.months();
    let (from, to) = window.month_range();
    let counted = window.tallies(store, "refund", &from, &to)?;
    let days = window.tallies(store, "refund_days", &from, &to)?;
    let mut currencies: Vec<String> = counted.keys().map(|(_, c)| c.clone()).collect();
    currencies.sort();
    currencies.dedup();
    let cell = |m: &String, c: &String| counted.get(&(m.clone(), c.clone())).copied();
    let buckets = usize::try_from(REFUND_DAYS_CAP).unwrap_or(0) + 1;
    Ok(Refunds {
        count: months
            .iter()
            .map(|m| {
                currencies
                    .iter()
                    .map(|c| cell(m, c).map_or(0, |x| x.0))
                    .collect()
            })
            .collect(),
        amount: months
            .iter()
            .map(|m| {
                currencies
                    .iter()
                    .map(|c| cell(m, c).map_or(0, |x| x.1))
                    .collect()
            })
            .collect(),
        days: months
            .iter()
            .map(|m| {
                let mut row = vec![0u64; buckets];
                for ((period, key), (n, _)) in &days {
                    if period == m
                        && let Ok(d) = key.parse::<usize>()
                        && let Some(slot) = row.get_mut(d.min(buckets - 1))
                    {
                        *slot += n;
                    }
                }
                row
            })
            .collect(),
        months,
        currencies,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail on error")]

    use super::*;

    #[test]
    fn quantiles_are_the_day_the_share_is_reached() {
        assert_eq!(quantile(&[0, 0, 0], 0.5), None);
        // 10 refunds: 5 on day 1, 4 on day 3, 1 on day 7.
        let mut c = vec![0u64; 8];
        c[1] = 5;
        c[3] = 4;
        c[7] = 1;
        assert_eq!(quantile(&c, 0.5), Some(1));
        assert_eq!(quantile(&c, 0.51), Some(3));
        assert_eq!(quantile(&c, 0.9), Some(3));
        assert_eq!(quantile(&c, 0.91), Some(7));
        assert_eq!(quantile(&c, 1.0), Some(7));
    }

    #[test]
    fn a_return_rate_is_cases_per_hundred_units_sold_to_a_tenth() {
        assert_eq!(ReturnRate::rate(3, 0), None);
        assert_eq!(ReturnRate::rate(3, 1000), Some("0.3".into()));
        assert_eq!(ReturnRate::rate(1, 3), Some("33.3".into()));
        assert_eq!(ReturnRate::rate(2, 3), Some("66.7".into()));
        assert_eq!(ReturnRate::rate(5, 5), Some("100.0".into()));
    }

    #[test]
    fn amounts_and_fields_are_written_for_a_spreadsheet() {
        assert_eq!(decimal(12345, 2), "123.45");
        assert_eq!(decimal(5, 2), "0.05");
        assert_eq!(decimal(-5, 3), "-0.005");
        assert_eq!(decimal(700, 0), "700");
        assert_eq!(csv_field("screen"), "screen");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=1+2"), "'=1+2");
        assert_eq!(csv_field("-x,y"), "\"'-x,y\"");
    }

    #[test]
    fn a_window_of_weeks_names_the_months_it_touches() {
        let w = Window {
            weeks: vec!["2026-11-23".parse().unwrap(), "2026-11-30".parse().unwrap()],
            policy_ids: Vec::new(),
        };
        assert_eq!(w.months(), ["2026-11", "2026-12"]);
    }

    #[test]
    fn a_week_starts_on_its_monday() {
        let at = |s: &str| s.parse::<Timestamp>().unwrap();
        assert_eq!(
            week_of(at("2026-12-07T00:00:00Z")).to_string(),
            "2026-12-07"
        );
        assert_eq!(
            week_of(at("2026-12-13T23:59:59Z")).to_string(),
            "2026-12-07"
        );
        assert_eq!(
            week_of(at("2026-12-06T12:00:00Z")).to_string(),
            "2026-11-30"
        );
        assert_eq!(
            week_of(at("2024-03-01T00:00:00Z")).to_string(),
            "2024-02-26"
        );
    }
}
