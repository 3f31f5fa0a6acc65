//! Timers: deadlines of a case's latest decision that act when they pass. Each timer is a row
//! (one per case and kind); a sweep claims the due ones, acts and marks them fired in one
//! transaction, so each fires exactly once. On PostgreSQL the claim is `FOR UPDATE SKIP
//! LOCKED`: several instances sweep at once and never take the same timer. A partial index
//! holds only pending timers, so a sweep reads the due ones and not every case.

use aftercare_domain::case::{Action, State};
use aftercare_policy::schema::DeadlineName;
use aftercare_policy::value::start_of_day;
use aftercare_store::{Dialect, Store, Tx, Val};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::{Value as J, json};

use crate::audit::{self, Event};
use crate::cases::{self, Case, Recorded, Step};
use crate::time::{from_micros, micros};
use crate::{AppError, Policies};

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

const KINDS: [Kind; 6] = [
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

    fn parse(s: &str) -> Option<Kind> {
        KINDS.into_iter().find(|k| k.as_str() == s)
    }
}

/// How long before an unpaid quote expires the customer is reminded.
const QUOTE_REMINDER_AHEAD: jiff::SignedDuration = jiff::SignedDuration::from_hours(72);

/// Sets a case's timers from its state and latest decision: each timer that should run is
/// (re)set to its deadline, the others are cancelled.
pub(crate) fn sync(
    tx: &mut dyn Tx,
    case: &Case,
    decision: &Recorded,
    tz: &TimeZone,
) -> Result<(), AppError> {
    let deadline = |name: DeadlineName| decision.passes(name, tz);
    let awaiting = matches!(case.state, State::Approved | State::AwaitingDevice);
    let unrepaired = matches!(
        case.state,
        State::Received | State::Inspecting | State::Paid | State::Repairing | State::Replacing
    );
    let wanted = [
        (
            Kind::NotReceived,
            awaiting.then(|| deadline(DeadlineName::ArriveBy)).flatten(),
        ),
        (
            Kind::QuoteExpired,
            (case.state == State::AwaitingPayment)
                .then(|| deadline(DeadlineName::QuotePayBy))
                .flatten(),
        ),
        (
            Kind::InspectByBreached,
            (case.state == State::Received)
                .then(|| deadline(DeadlineName::InspectBy))
                .flatten(),
        ),
        (
            Kind::RepairByBreached,
            unrepaired
                .then(|| deadline(DeadlineName::RepairBy))
                .flatten(),
        ),
        (
            Kind::QuoteReminder,
            (case.state == State::AwaitingPayment)
                .then(|| deadline(DeadlineName::QuotePayBy))
                .flatten()
                .and_then(|end| end.checked_sub(QUOTE_REMINDER_AHEAD).ok())
                // Not for a quote whose time to pay is shorter than the reminder's lead.
                .filter(|&at| at > case.updated_at),
        ),
        (
            Kind::ShipByReminder,
            (case.state == State::Approved)
                .then(|| case.ship_by.and_then(|d| start_of_day(d, tz)))
                .flatten(),
        ),
    ];
    // Three statements at most: one upsert of the timers that should run, one cancelling the
    // others, the case's next due time; sent without waiting (nothing reads them back here).
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
    refresh_next_due(tx, case.id)
}

/// Keeps `cases.next_due_at` (the desk queue's order) at the case's nearest pending timer.
pub(crate) fn refresh_next_due(tx: &mut dyn Tx, case_id: i64) -> Result<(), AppError> {
    tx.exec_later(
        "UPDATE cases SET next_due_at = COALESCE(
           (SELECT MIN(t.due_at) FROM timers t
             WHERE t.case_id = ? AND t.fired_at IS NULL AND t.cancelled_at IS NULL),
           9223372036854775807)
         WHERE id = ?",
        &[Val::Int(case_id), Val::Int(case_id)],
    )?;
    Ok(())
}

/// A timer that fired.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fired {
    pub case_id: i64,
    pub kind: &'static str,
    pub outcome: String,
}

/// A due timer that could not fire for a reason the case does not decide (a policy not
/// loaded, stored data that no longer reads, a failing statement): it stays pending and the
/// next sweep tries it again.
#[derive(Debug)]
pub struct Failed {
    pub case_id: i64,
    pub timer_id: i64,
    pub kind: String,
    pub error: AppError,
}

/// What a sweep did: the timers it fired (or cancelled, when their case's state refused
/// them) and those it could not fire.
#[derive(Debug, Default)]
pub struct Swept {
    pub fired: Vec<Fired>,
    pub failed: Vec<Failed>,
}

/// Fires every timer due at `now`, in batches of `batch`, each batch one transaction.
///
/// Each timer acts under a savepoint. Refused by its case's state machine (the case moved
/// on in a way the timer did not foresee), it is cancelled with the reason. Failing for any
/// other reason, it is left pending, reported in [`Swept::failed`] and not tried again in
/// this sweep: a misconfiguration never cancels a deadline, and one broken case does not
/// hold back the others.
pub fn sweep(
    store: &mut Store,
    policies: &Policies,
    now: Timestamp,
    batch: i64,
) -> Result<Swept, AppError> {
    let mut all = Swept::default();
    loop {
        let skip: Vec<Val> = all.failed.iter().map(|f| Val::Int(f.timer_id)).collect();
        let (fired, failed) = store.tx(|tx| -> Result<(Vec<Fired>, Vec<Failed>), AppError> {
            let lock = if tx.dialect() == Dialect::Postgres {
                " FOR UPDATE SKIP LOCKED"
            } else {
                ""
            };
            let not_failed = if skip.is_empty() {
                String::new()
            } else {
                format!(" AND id NOT IN ({})", vec!["?"; skip.len()].join(", "))
            };
            let mut params = vec![Val::Int(micros(now))];
            params.extend(skip.iter().cloned());
            params.push(Val::Int(batch));
            let due = tx.query(
                &format!(
                    "SELECT id, case_id, kind FROM timers
                     WHERE fired_at IS NULL AND cancelled_at IS NULL AND due_at <= ?{not_failed}
                     ORDER BY due_at, id LIMIT ?{lock}"
                ),
                &params,
            )?;
            let mut fired = Vec::with_capacity(due.len());
            let mut failed = Vec::new();
            for t in &due {
                let (id, case_id, kind_name) = (t.int(0)?, t.int(1)?, t.text(2)?);
                tx.batch("SAVEPOINT fire")?;
                let result = Kind::parse(&kind_name)
                    .ok_or_else(|| {
                        AppError::corrupt(
                            "timers.kind",
                            format!("unknown timer kind `{kind_name}`"),
                        )
                    })
                    .and_then(|kind| Ok((kind, fire(tx, policies, case_id, kind, now)?)));
                let (column, kind, outcome) = match result {
                    Ok((kind, outcome)) => ("fired_at", kind, outcome),
                    Err(e) => {
                        // Undo whatever the action wrote before it failed.
                        tx.batch("ROLLBACK TO SAVEPOINT fire")?;
                        match Kind::parse(&kind_name) {
                            Some(kind) if e.is_state_refusal() => {
                                ("cancelled_at", kind, format!("not fired: {e}"))
                            }
                            _ => {
                                tx.batch("RELEASE SAVEPOINT fire")?;
                                failed.push(Failed {
                                    case_id,
                                    timer_id: id,
                                    kind: kind_name,
                                    error: e,
                                });
                                continue;
                            }
                        }
                    }
                };
                tx.batch("RELEASE SAVEPOINT fire")?;
                tx.exec(
                    &format!("UPDATE timers SET {column} = ?, outcome = ? WHERE id = ?"),
                    &[Val::Int(micros(now)), (&outcome).into(), Val::Int(id)],
                )?;
                refresh_next_due(tx, case_id)?;
                fired.push(Fired {
                    case_id,
                    kind: kind.as_str(),
                    outcome,
                });
            }
            Ok((fired, failed))
        })?;
        let n = fired.len() + failed.len();
        all.fired.extend(fired);
        all.failed.extend(failed);
        if i64::try_from(n).unwrap_or(i64::MAX) < batch {
            return Ok(all);
        }
    }
}

fn fire(
    tx: &mut dyn Tx,
    policies: &Policies,
    case_id: i64,
    kind: Kind,
    now: Timestamp,
) -> Result<String, AppError> {
    // Timers that move the case (its move records and announces itself); the others put an
    // event on its record and tell the customer and the seller's webhooks.
    let moves = match kind {
        Kind::NotReceived => Some(Action::NotReceived),
        Kind::QuoteExpired => Some(Action::ExpireQuote),
        Kind::ShipByReminder
        | Kind::QuoteReminder
        | Kind::InspectByBreached
        | Kind::RepairByBreached => None,
    };
    if let Some(action) = moves {
        let case = cases::transition_in(
            tx,
            policies,
            case_id,
            &Step::new(action),
            crate::stated::By::Operator,
            "timer",
            now,
        )?;
        return Ok(format!("case is now {}", case.state));
    }
    let case = cases::load(tx, case_id)?;
    let (event, after, outcome) = match kind {
        Kind::InspectByBreached | Kind::RepairByBreached => {
            let deadline = if kind == Kind::InspectByBreached {
                "inspect_by"
            } else {
                "repair_by"
            };
            (
                "service_level_breached",
                json!({ "deadline": deadline, "state": case.state.as_str() }),
                format!("{deadline} passed while the case was {}", case.state),
            )
        }
        Kind::QuoteReminder => (
            "quote_reminder",
            json!({ "state": case.state.as_str() }),
            "reminded".to_string(),
        ),
        // (The moving kinds returned above.)
        Kind::ShipByReminder | Kind::NotReceived | Kind::QuoteExpired => (
            "ship_by_reminder",
            json!({ "ship_by": case.ship_by.map(|d| d.to_string()) }),
            "reminded".to_string(),
        ),
    };
    let seq = audit::append(tx, now, &Event::new("timer", "case", case_id, event, after))?;
    cases::announce(tx, policies, &case, event, &seq, now)?;
    Ok(outcome)
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

/// How a background sweeper runs: every `every`, at most `rounds` sweeps (none: until
/// stopped), and `stop` ends it between sweeps.
#[derive(Debug)]
pub struct Sweeper<'a> {
    pub every: std::time::Duration,
    pub batch: i64,
    pub rounds: Option<u64>,
    pub stop: &'a std::sync::atomic::AtomicBool,
}

/// What one round of a background sweeper did.
#[derive(Debug)]
pub enum Round {
    /// The sweep ran; some timers may have failed and wait for the next round.
    Swept(Swept),
    /// The sweep failed (for instance the database went away); the sweeper reconnects and
    /// tries again at the next round, and nothing of the failed sweep was kept.
    Failed(AppError),
}

/// The background sweeper (`aftercare tick --every`, and a server's): sweeps at `clock()`
/// every `s.every` until stopped. Any number may run against one PostgreSQL: each due timer
/// fires once (see [`sweep`]). A failed sweep is reported and retried with a new connection
/// from `connect`, so a sweeper outlives a database restart. Returns how many timers fired.
pub fn run_sweeper(
    connect: &dyn Fn() -> Result<Store, AppError>,
    policies: &Policies,
    clock: &dyn Fn() -> Timestamp,
    s: &Sweeper<'_>,
    report: &mut dyn FnMut(&Round),
) -> u64 {
    use std::sync::atomic::Ordering;
    let mut store: Option<Store> = None;
    let mut fired = 0u64;
    let mut round = 0u64;
    while !s.stop.load(Ordering::Relaxed) && s.rounds.is_none_or(|n| round < n) {
        round += 1;
        // The connection is kept while sweeps succeed; after a failure the next round opens a
        // new one.
        let result = store.take().map_or_else(connect, Ok).and_then(|mut st| {
            let r = sweep(&mut st, policies, clock(), s.batch);
            store = r.is_ok().then_some(st);
            r
        });
        let outcome = match result {
            Ok(f) => {
                fired += u64::try_from(f.fired.len()).unwrap_or(u64::MAX);
                Round::Swept(f)
            }
            Err(e) => Round::Failed(e),
        };
        report(&outcome);
        if s.rounds.is_some_and(|n| round >= n) {
            break;
        }
        // Sleep in short steps, so that a stop is seen soon.
        let until = std::time::Instant::now() + s.every;
        while !s.stop.load(Ordering::Relaxed) {
            let left = until.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                break;
            }
            std::thread::sleep(left.min(std::time::Duration::from_millis(100)));
        }
    }
    fired
}
