//! Timers: deadlines of a case's latest decision that act when they pass. Each timer is a row
//! (one per case and kind), set here from each decision ([`sync`]); the sweep
//! ([`crate::sweep`]) claims the due ones, acts and marks them fired in one transaction, so
//! each fires exactly once. On PostgreSQL the claim is `FOR UPDATE SKIP
//! LOCKED`: several instances sweep at once and never take the same timer. A partial index
//! holds only pending timers, so a sweep reads the due ones and not every case.

use aftercare_domain::case::State;
use aftercare_policy::schema::DeadlineName;
use aftercare_policy::value::start_of_day;
use aftercare_store::{Tx, Val};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::{Value as J, json};

use crate::AppError;
use crate::case::Case;
use crate::decision::Recorded;
use crate::time::{from_micros, micros};

/// What a timer does when it fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The device did not arrive in time: the case closes (`not_received`).
    NotReceived,
    /// The quote was not paid in time: the device goes back unrepaired (`expire_quote`).
    QuoteExpired,
    /// The customer's last day to ship: a reminder is recorded.
    ShipByReminder,
    /// Three days before an unpaid quote expires: the customer is reminded.
    QuoteReminder,
    /// A service-level target passed with the device not yet inspected (IMASK: 24 hours).
    InspectByBreached,
    /// A service-level target passed with the repair not yet done.
    RepairByBreached,
}

pub(crate) const KINDS: [Kind; 6] = [
    Kind::NotReceived,
    Kind::QuoteExpired,
    Kind::ShipByReminder,
    Kind::QuoteReminder,
    Kind::InspectByBreached,
    Kind::RepairByBreached,
];

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::NotReceived => "not_received",
            Kind::QuoteExpired => "quote_expired",
            Kind::ShipByReminder => "ship_by_reminder",
            Kind::QuoteReminder => "quote_reminder",
            Kind::InspectByBreached => "inspect_by_breached",
            Kind::RepairByBreached => "repair_by_breached",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Kind> {
        KINDS.into_iter().find(|k| k.as_str() == s)
    }

    /// The service-level target a timer keeps, for the reports: the device arrives by its
    /// deadline (the customer ships in time), a quote is paid by its deadline, the device is
    /// inspected (IMASK: within 24 hours) and repaired by theirs. Reminders keep none.
    pub fn target(self) -> Option<&'static str> {
        match self {
            Kind::NotReceived => Some("arrive_by"),
            Kind::QuoteExpired => Some("quote_pay_by"),
            Kind::InspectByBreached => Some("inspect_by"),
            Kind::RepairByBreached => Some("repair_by"),
            Kind::ShipByReminder | Kind::QuoteReminder => None,
        }
    }
}

/// Whether a timer of `kind` runs while a case is in `state` (when its decision sets the
/// deadline): [`sync`] sets it then and cancels it otherwise.
pub(crate) fn runs_in(kind: Kind, state: State) -> bool {
    match kind {
        Kind::NotReceived => matches!(state, State::Approved | State::AwaitingDevice),
        Kind::QuoteExpired | Kind::QuoteReminder => state == State::AwaitingPayment,
        Kind::InspectByBreached => state == State::Received,
        Kind::RepairByBreached => matches!(
            state,
            State::Received | State::Inspecting | State::Paid | State::Repairing | State::Replacing
        ),
        Kind::ShipByReminder => state == State::Approved,
    }
}

/// How long before an unpaid quote expires the customer is reminded.
const QUOTE_REMINDER_AHEAD: jiff::SignedDuration = jiff::SignedDuration::from_hours(72);

/// Sets a case's timers from its state and latest decision: each timer that should run is
/// (re)set to its deadline, the others are cancelled. Call it before the case is saved
/// ([`crate::case::save`]), which sets the case's next due time from its timers in the same
/// write of its row.
pub(crate) fn sync(
    tx: &mut dyn Tx,
    case: &Case,
    decision: &Recorded,
    tz: &TimeZone,
) -> Result<(), AppError> {
    let deadline = |kind: Kind, name: DeadlineName| {
        runs_in(kind, case.state)
            .then(|| decision.passes(name, tz))
            .flatten()
    };
    let wanted = [
        (
            Kind::NotReceived,
            deadline(Kind::NotReceived, DeadlineName::ArriveBy),
        ),
        (
            Kind::QuoteExpired,
            deadline(Kind::QuoteExpired, DeadlineName::QuotePayBy),
        ),
        (
            Kind::InspectByBreached,
            deadline(Kind::InspectByBreached, DeadlineName::InspectBy),
        ),
        (
            Kind::RepairByBreached,
            deadline(Kind::RepairByBreached, DeadlineName::RepairBy),
        ),
        (
            Kind::QuoteReminder,
            deadline(Kind::QuoteReminder, DeadlineName::QuotePayBy)
                .and_then(|end| end.checked_sub(QUOTE_REMINDER_AHEAD).ok())
                // Not for a quote whose time to pay is shorter than the reminder's lead.
                .filter(|&at| at > case.updated_at),
        ),
        (
            Kind::ShipByReminder,
            runs_in(Kind::ShipByReminder, case.state)
                .then(|| case.ship_by.and_then(|d| start_of_day(d, tz)))
                .flatten(),
        ),
    ];
    // Two statements at most: one upsert of the timers that should run, one cancelling the
    // others; sent without waiting (nothing reads them back here).
    let set: Vec<(Kind, Timestamp)> = wanted
        .iter()
        .filter_map(|(k, due)| due.map(|d| (*k, d)))
        .collect();
    if !set.is_empty() {
        let rows = vec!["(?, ?, ?)"; set.len()].join(", ");
        let params: Vec<Val> = set
            .iter()
            .flat_map(|(kind, due)| {
                [
                    Val::Int(case.id),
                    kind.as_str().into(),
                    Val::Int(micros(*due)),
                ]
            })
            .collect();
        tx.exec_later(
            &format!(
                "INSERT INTO timers (case_id, kind, due_at) VALUES {rows}
                 ON CONFLICT (case_id, kind) DO UPDATE SET due_at = excluded.due_at,
                   cancelled_at = NULL
                 WHERE timers.fired_at IS NULL"
            ),
            &params,
        )?;
    }
    let off: Vec<Val> = wanted
        .iter()
        .filter(|(_, due)| due.is_none())
        .map(|(k, _)| k.as_str().into())
        .collect();
    if !off.is_empty() {
        let marks = vec!["?"; off.len()].join(", ");
        let mut params = vec![Val::Int(micros(case.updated_at)), Val::Int(case.id)];
        params.extend(off);
        tx.exec_later(
            &format!(
                "UPDATE timers SET cancelled_at = ?
                 WHERE case_id = ? AND kind IN ({marks}) AND fired_at IS NULL
                   AND cancelled_at IS NULL"
            ),
            &params,
        )?;
    }
    Ok(())
}

/// Keeps `cases.next_due_at` at the case's nearest pending timer, where the case's row is
/// not saved anyway.
pub(crate) fn refresh_next_due(tx: &mut dyn Tx, case_id: i64) -> Result<(), AppError> {
    static REFRESH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "UPDATE cases SET next_due_at = {} WHERE id = ?",
            crate::case::NEXT_DUE
        )
    });
    tx.exec_later(&REFRESH, &[Val::Int(case_id)])?;
    Ok(())
}

/// A case's timers, for showing.
pub(crate) fn of_case(tx: &mut dyn Tx, case_id: i64) -> Result<Vec<J>, AppError> {
    let rows = tx.query(
        "SELECT kind, due_at, fired_at, cancelled_at, outcome FROM timers WHERE case_id = ? ORDER BY due_at",
        &[Val::Int(case_id)],
    )?;
    rows.iter()
        .map(|r| {
            let at = |i: usize| -> Result<J, AppError> {
                Ok(match r.opt_int(i)? {
                    Some(us) => J::String(from_micros(us)?.to_string()),
                    None => J::Null,
                })
            };
            Ok(json!({
                "kind": r.text(0)?,
                "due_at": at(1)?,
                "fired_at": at(2)?,
                "cancelled_at": at(3)?,
                "outcome": r.opt_text(4)?,
            }))
        })
        .collect()
}
