//! Reports for the people who run the service (issue 21), from counts the write path keeps:
//! each case opened adds one to its policy's, week's and kind's count (`report_opened`,
//! migration 15) in the transaction that opens it. A report reads those counts, not the
//! cases: a few hundred rows whatever the history.
//!
//! Built so far: cases opened per week by kind. Still to come (the part 3): the share
//! decided in the customer's favour, service-level targets met and missed, diagnosed causes per
//! product, return rate per SKU, refunds per month and time to refund.

use std::collections::BTreeMap;

use aftercare_store::{Store, Val};
use jiff::Timestamp;
use jiff::civil::Date;

use crate::accounts::{Principal, Role};
use crate::{AppError, Policies, access};

pub use crate::report_counts::week_of;

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
    let all_weeks: Vec<Date> = (0..i64::from(weeks))
        .filter_map(|i| first.checked_add(jiff::Span::new().weeks(i)).ok())
        .collect();
    let ids = access::filtered_policy_ids(policies, sellers, seller);
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
    let mut params: Vec<Val> = ids.into_iter().map(Val::from).collect();
    params.push(first.to_string().into());
    params.push(last.to_string().into());
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail on error")]

    use super::*;

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
