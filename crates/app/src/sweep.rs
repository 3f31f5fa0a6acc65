//! The timer sweep: claims the timers that are due, takes each one's step on its case (an
//! ordinary move, as the timer) and marks it fired, in one transaction per timer, so each fires
//! exactly once. On PostgreSQL the claim is `FOR UPDATE SKIP LOCKED`: several instances sweep
//! at once and never take the same timer. The timers themselves are set in [`crate::timers`].

use aftercare_domain::case::Action;
use aftercare_store::{Dialect, Store, Tx, Val};
use jiff::Timestamp;
use serde_json::json;

use crate::audit::{self, Event};
use crate::cases::{self, Step};
use crate::time::micros;
use crate::timers::{Kind, refresh_next_due};
use crate::{AppError, Policies};

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
                    "SELECT id, case_id, kind, due_at FROM timers
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
                if column == "fired_at" {
                    // A target's timer fired: the target was missed.
                    let due = crate::time::from_micros(t.int(3)?)?;
                    crate::report_counts::count_target(tx, case_id, kind, due, false)?;
                }
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
    let case = crate::case::load(tx, case_id)?;
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
    crate::effects::announce(tx, policies, &case, event, &seq, now)?;
    Ok(outcome)
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
    policies: &dyn Fn() -> std::sync::Arc<Policies>,
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
            let r = sweep(&mut st, &policies(), clock(), s.batch);
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
