//! The counts reports read, kept by the write path (migrations 15 and 16): a module of its
//! own, below `cases` (which calls it as a case opens and moves), `money` (as a refund is
//! recorded), `sweep` (as a target is missed) and `reports` (which reads what it keeps), so
//! none of them depends on another for it.

use aftercare_domain::case::{Action, State};
use aftercare_store::{Dialect, Tx, Val};
use jiff::Timestamp;
use jiff::civil::Date;
use serde_json::Value as J;

use crate::AppError;
use crate::case::Case;
use crate::time::micros;
use crate::timers::{self, Kind};

/// Counts are split over this many rows per policy, week and kind (see the migration).
const SLOTS: i64 = 8;

/// The product a case is about, as SQL over a row of `cases`: its unit's SKU, else its
/// order's first line's (NULL when it names neither).
const CASE_SKU: &str = "COALESCE((SELECT sku FROM units WHERE serial = cases.serial),
    (SELECT sku FROM order_lines WHERE order_no = cases.order_no ORDER BY line_no LIMIT 1))";
/// The Monday (UTC) of the week `at` falls in.
pub fn week_of(at: Timestamp) -> Date {
    monday_of(at.to_zoned(jiff::tz::TimeZone::UTC).date())
}

/// The Monday of the week of `day`.
pub fn monday_of(day: Date) -> Date {
    let back = i64::from(day.weekday().to_monday_zero_offset());
    day.checked_sub(jiff::Span::new().days(back)).unwrap_or(day)
}

/// Counts a case just opened: called by `cases::open` in its transaction.
pub(crate) fn count_opened(
    tx: &mut dyn Tx,
    policy_id: &str,
    kind: &str,
    case_id: i64,
    at: Timestamp,
) -> Result<(), AppError> {
    tx.exec(
        "INSERT INTO report_opened (policy_id, week, kind, slot, opened) VALUES (?, ?, ?, ?, 1)
         ON CONFLICT (policy_id, week, kind, slot) DO UPDATE SET opened = report_opened.opened + 1",
        &[
            policy_id.into(),
            week_of(at).to_string().into(),
            kind.into(),
            Val::Int(case_id.rem_euclid(SLOTS)),
        ],
    )?;
    // And per SKU (the unit's, else the order's first line's), for the return rate; units
    // sold are counted by triggers on the order lines (migration 16).
    tx.exec_later(
        &format!(
            "INSERT INTO report_tallies (policy_id, measure, period, key, slot, n, amount)
             SELECT policy_id, 'sku_cases', '', sku, id % {SLOTS}, 1, 0 FROM (
               SELECT policy_id, id, {CASE_SKU} AS sku FROM cases WHERE id = ?) AS x
             WHERE sku IS NOT NULL
             ON CONFLICT (policy_id, measure, period, key, slot) DO UPDATE
             SET n = report_tallies.n + 1"
        ),
        &[Val::Int(case_id)],
    )?;
    Ok(())
}

/// The month (`YYYY-MM`, UTC) `at` falls in.
pub fn month_of(at: Timestamp) -> String {
    let day = at.to_zoned(jiff::tz::TimeZone::UTC).date();
    format!("{:04}-{:02}", day.year(), day.month())
}

/// Days from a case's opening to its refund are counted up to this many; more is one bucket.
pub const REFUND_DAYS_CAP: i64 = 91;

/// Adds one to a tally of `report_tallies` (migration 16) under the policy of case
/// `case_id` (read by the insert itself: no round trip to find it), in the case's slot, sent
/// without waiting.
fn tally_case(
    tx: &mut dyn Tx,
    case_id: i64,
    measure: &str,
    period: &str,
    key: &str,
) -> Result<(), AppError> {
    tx.exec_later(
        &format!(
            "INSERT INTO report_tallies (policy_id, measure, period, key, slot, n, amount)
             SELECT policy_id, CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), id % {SLOTS},
               1, 0 FROM cases WHERE id = ?
             ON CONFLICT (policy_id, measure, period, key, slot) DO UPDATE
             SET n = report_tallies.n + 1"
        ),
        &[measure.into(), period.into(), key.into(), Val::Int(case_id)],
    )?;
    Ok(())
}

/// How a move settles what the customer gets, for the share decided in their favour: a
/// refund, a replacement or a free repair is in their favour; a refusal (of the request, or of
/// the parcel on arrival), a repair quote or a return unrepaired is not. Other moves settle
/// nothing (a repair after a paid quote was settled by the quote; a cancelled case or one
/// whose device never came was not decided).
pub fn settles(action: Action, from: State) -> Option<bool> {
    match action {
        Action::Refund | Action::Replace => Some(true),
        Action::Repair if from == State::Inspecting => Some(true),
        Action::Reject | Action::RejectOnArrival | Action::Quote | Action::ReturnUnrepaired => {
            Some(false)
        }
        _ => None,
    }
}

/// Counts what a move of case `before` → `after` by `action` settles: the decision in the
/// customer's favour or not, the service-level targets it ends (met if before they fell due),
/// and at inspection the causes found. `today` is the day of the move in the policy's zone.
/// Called by the move in its transaction, before the case's timers are set again.
pub(crate) fn count_move(
    tx: &mut dyn Tx,
    before: &Case,
    after: &Case,
    action: Action,
    now: Timestamp,
    today: Date,
) -> Result<(), AppError> {
    let id = before.id;
    if let Some(favour) = settles(action, before.state) {
        let key = if favour { "favour" } else { "against" };
        tally_case(tx, id, "decided", &week_of(now).to_string(), key)?;
    }
    // The customer's last day to ship: met when the device goes (or arrives, or is refused at
    // the door) by then, in the policy's zone; missed when it goes later, or never (the case
    // closes not received). Counted in the week of that day.
    if before.state == State::Approved
        && let Some(ship_by) = before.ship_by
    {
        let sent = matches!(
            action,
            Action::DeviceShipped | Action::Receive | Action::RejectOnArrival
        );
        if sent || action == Action::NotReceived {
            let key = if sent && today <= ship_by {
                "ship_by:met"
            } else {
                "ship_by:missed"
            };
            tally_case(tx, id, "target", &monday_of(ship_by).to_string(), key)?;
        }
    }
    // Targets a move ends, met or missed; not those of a case the customer cancels, a quote
    // they decline, or one a timer ends (the sweep counts those as missed). Counted from the
    // pending timers by the insert itself: nothing is read back, nothing waited for.
    if !action.is_timer() && !matches!(action, Action::Cancel | Action::DeclineQuote) {
        let ended: Vec<Kind> = timers::KINDS
            .into_iter()
            .filter(|k| k.target().is_some())
            .filter(|k| timers::runs_in(*k, before.state) && !timers::runs_in(*k, after.state))
            .collect();
        if !ended.is_empty() {
            // The pending timers of the kinds ended, each counted under its target.
            let mut params = vec![Val::Int(micros(now)), Val::Int(id)];
            params.extend(ended.iter().map(|k| Val::from(k.as_str())));
            tx.exec_later(
                &format!(
                    "{} AND t.kind IN ({})
                     ON CONFLICT (policy_id, measure, period, key, slot) DO UPDATE
                     SET n = report_tallies.n + 1",
                    ended_targets_sql(tx.dialect()),
                    vec!["?"; ended.len()].join(", "),
                ),
                &params,
            )?;
        }
    }
    if action == Action::Inspect
        && let Some(J::Array(causes)) = after.facts.get("diagnosis.causes")
    {
        // The product is the unit's SKU, else the order's first line's: found by the insert.
        let month = month_of(now);
        for cause in causes.iter().filter_map(J::as_str) {
            tx.exec_later(
                &format!(
                    "INSERT INTO report_tallies (policy_id, measure, period, key, slot, n, amount)
                     SELECT policy_id, 'cause', CAST(? AS TEXT),
                       COALESCE({CASE_SKU}, '') || '|' || CAST(? AS TEXT),
                       id % {SLOTS}, 1, 0
                     FROM cases WHERE id = ?
                     ON CONFLICT (policy_id, measure, period, key, slot) DO UPDATE
                     SET n = report_tallies.n + 1"
                ),
                &[month.as_str().into(), cause.into(), Val::Int(id)],
            )?;
        }
    }
    Ok(())
}

/// The start of the insert that counts a case's pending target timers met (when the move at
/// the first parameter is by their due time) or missed, in the week they fall due; the case is
/// the second parameter, and the kinds follow the text. The same for every move: made once
/// per dialect.
fn ended_targets_sql(dialect: Dialect) -> &'static str {
    static SQLITE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    static POSTGRES: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let made = match dialect {
        Dialect::Sqlite => &SQLITE,
        Dialect::Postgres => &POSTGRES,
    };
    made.get_or_init(|| {
        let target: String = timers::KINDS
            .into_iter()
            .filter_map(|k| Some(format!(" WHEN '{}' THEN '{}'", k.as_str(), k.target()?)))
            .collect();
        format!(
            "INSERT INTO report_tallies (policy_id, measure, period, key, slot, n, amount)
             SELECT c.policy_id, 'target', {week},
               (CASE t.kind{target} END) || CASE WHEN CAST(? AS BIGINT) <= t.due_at
                 THEN ':met' ELSE ':missed' END,
               c.id % {SLOTS}, 1, 0
             FROM timers t JOIN cases c ON c.id = t.case_id
             WHERE t.case_id = ? AND t.fired_at IS NULL AND t.cancelled_at IS NULL",
            week = week_sql(dialect, "t.due_at"),
        )
    })
}

/// The Monday (UTC, `YYYY-MM-DD`) of the week of `micros`, an SQL expression of microseconds,
/// as [`week_of`] finds it (migrations 15 and 16 use the same).
fn week_sql(dialect: Dialect, micros: &str) -> String {
    match dialect {
        Dialect::Sqlite => format!("date({micros} / 1000000, 'unixepoch', 'weekday 0', '-6 days')"),
        Dialect::Postgres => format!(
            "to_char(date_trunc('week', to_timestamp({micros} / 1000000.0) AT TIME ZONE 'UTC'), 'YYYY-MM-DD')"
        ),
    }
}

/// Counts a service-level target of case `case_id` falling due at `due`: met or missed.
pub(crate) fn count_target(
    tx: &mut dyn Tx,
    case_id: i64,
    kind: Kind,
    due: Timestamp,
    met: bool,
) -> Result<(), AppError> {
    let Some(target) = kind.target() else {
        return Ok(());
    };
    let key = format!("{target}:{}", if met { "met" } else { "missed" });
    tally_case(tx, case_id, "target", &week_of(due).to_string(), &key)
}

/// Counts a refund just recorded: under its case's policy, else under the policy of its
/// order's first line's SKU (a refund without a case); and for a case's, the days from the
/// case's opening.
pub(crate) fn count_refund(
    tx: &mut dyn Tx,
    refund_id: i64,
    case_id: Option<i64>,
    order_no: &str,
    currency: &str,
    amount_minor: i64,
    at: Timestamp,
) -> Result<(), AppError> {
    let month = month_of(at);
    let slot = Val::Int(refund_id.rem_euclid(SLOTS));
    tx.exec_later(
        "INSERT INTO report_tallies (policy_id, measure, period, key, slot, n, amount)
         SELECT p, 'refund', CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS BIGINT), 1,
           CAST(? AS BIGINT) FROM (SELECT COALESCE(
           (SELECT policy_id FROM cases WHERE id = ?),
           (SELECT s.policy_id FROM order_lines l JOIN skus s ON s.code = l.sku
             WHERE l.order_no = ? ORDER BY l.line_no LIMIT 1)) AS p) AS x
         WHERE p IS NOT NULL
         ON CONFLICT (policy_id, measure, period, key, slot) DO UPDATE
         SET n = report_tallies.n + 1, amount = report_tallies.amount + excluded.amount",
        &[
            month.as_str().into(),
            currency.into(),
            slot.clone(),
            Val::Int(amount_minor),
            case_id.into(),
            order_no.into(),
        ],
    )?;
    if let Some(case_id) = case_id {
        // The days, in the insert: the case's opening is read where it is.
        tx.exec_later(
            &format!(
                "INSERT INTO report_tallies (policy_id, measure, period, key, slot, n, amount)
                 SELECT policy_id, 'refund_days', CAST(? AS TEXT),
                   CAST({} AS TEXT), CAST(? AS BIGINT), 1, 0 FROM cases WHERE id = ?
                 ON CONFLICT (policy_id, measure, period, key, slot) DO UPDATE
                 SET n = report_tallies.n + 1",
                days_bucket(tx.dialect())
            ),
            &[
                month.as_str().into(),
                Val::Int(micros(at)),
                slot,
                Val::Int(case_id),
            ],
        )?;
    }
    Ok(())
}

/// Whole days from `opened_at` to the moment given first, from 0 to [`REFUND_DAYS_CAP`].
fn days_bucket(dialect: Dialect) -> String {
    let days = "(CAST(? AS BIGINT) - opened_at) / 86400000000";
    match dialect {
        Dialect::Sqlite => format!("MIN(MAX({days}, 0), {REFUND_DAYS_CAP})"),
        Dialect::Postgres => format!("LEAST(GREATEST({days}, 0), {REFUND_DAYS_CAP})"),
    }
}

#[cfg(test)]
mod tests {
    use aftercare_domain::case::{Action, State, TRANSITIONS, reachable_from};

    use super::settles;

    /// Over every move of the state machine: exactly the moves that give the customer a
    /// remedy count in their favour, exactly those that refuse one count against, and at most
    /// one move on any path through the machine settles a case (so a case is counted once).
    #[test]
    fn each_move_that_settles_a_case_is_counted_for_or_against_it_once() {
        for t in TRANSITIONS {
            for from in t.from {
                let want = match (t.action, *from) {
                    (Action::Refund | Action::Replace, _) => Some(true),
                    (Action::Repair, State::Inspecting) => Some(true),
                    (Action::Repair, _) => None,
                    (
                        Action::Reject
                        | Action::RejectOnArrival
                        | Action::Quote
                        | Action::ReturnUnrepaired,
                        _,
                    ) => Some(false),
                    _ => None,
                };
                assert_eq!(settles(t.action, *from), want, "{} from {from}", t.action);
            }
        }
        // No state a settling move leads to can reach another settling move.
        for t in TRANSITIONS {
            for from in t.from.iter().filter(|f| settles(t.action, **f).is_some()) {
                for s in reachable_from(t.to) {
                    for later in TRANSITIONS.iter().filter(|l| l.from.contains(&s)) {
                        assert!(
                            settles(later.action, s).is_none(),
                            "{} from {from} then {} from {s}",
                            t.action,
                            later.action
                        );
                    }
                }
            }
        }
    }
}
