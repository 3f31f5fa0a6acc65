//! Moving a case through the state machine of `aftercare_domain::case`. A move records the
//! facts it establishes (the date an application was accepted, a parcel received, a quote sent
//! or paid), re-decides the case, keeps that decision on record and sets the case's timers from
//! its deadlines, all in one transaction with its audit events.

use aftercare_domain::case::{self, Action};
use aftercare_policy::schema::DeadlineName;
use aftercare_store::{Store, Tx, Val};
use jiff::Timestamp;
use jiff::civil::Date;
use serde_json::{Map, Value as J};

use crate::audit::{self, Event};
use crate::case::{Case, authorisation_number, check_facts, description, load, save};
use crate::decision::{Known, Recorded, decide_recorded, decide_recorded_on, evaluate};
use crate::effects::announce;
use crate::stated::{self, By};
use crate::time::micros;
use crate::{AppError, Policies, timers};

/// One move of a case.
#[derive(Clone, Debug)]
pub struct Step {
    pub action: Action,
    /// Facts this step establishes (inspection findings, parcel condition…).
    pub facts: Map<String, J>,
    /// For `approve`: the return authorisation number (default `RA-<case id>`).
    pub authorisation: Option<String>,
    /// For `approve`: the ship-by date (default: the decision's `ship_by` deadline).
    pub ship_by: Option<Date>,
    pub note: Option<String>,
    /// For `quote`: its lines, each `KIND:DESCRIPTION:AMOUNT` (`part:Fan:25.00`, `labour:Bench
    /// time:40.00`), amounts in the case's currency.
    pub quote_lines: Vec<String>,
    /// Move only if the case is still the version the caller saw ([`Case::version`]): two
    /// people moving one case cannot both win.
    pub if_version: Option<String>,
    /// For `submit` and `provide_info`: the customer's own words about what happened, in
    /// place of those the case has (at most [`MAX_DESCRIPTION`] characters).
    pub description: Option<String>,
}

/// One line of a repair quote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuoteLine {
    /// `part` or `labour`.
    pub kind: String,
    pub description: String,
    pub amount_minor: i64,
}

impl QuoteLine {
    /// Parses `KIND:DESCRIPTION:AMOUNT`, the amount in major units (`part:Fan:25.00`), in
    /// `currency`.
    pub fn parse(
        s: &str,
        currency: aftercare_policy::value::Currency,
    ) -> Result<QuoteLine, AppError> {
        let field = || format!("quote line `{s}`");
        let mut it = s.splitn(3, ':');
        let (Some(kind), Some(description), Some(amount)) = (it.next(), it.next(), it.next())
        else {
            return Err(AppError::invalid(
                field(),
                "expected KIND:DESCRIPTION:AMOUNT, e.g. part:Fan:25.00",
            ));
        };
        let money = aftercare_policy::value::Money::parse(&format!(
            "{} {}",
            amount.trim(),
            currency.as_str()
        ))
        .map_err(|e| AppError::invalid(field(), e))?;
        Ok(QuoteLine {
            kind: kind.trim().to_string(),
            description: description.trim().to_string(),
            amount_minor: money.minor,
        })
    }
}

impl Step {
    pub fn new(action: Action) -> Step {
        Step {
            action,
            facts: Map::new(),
            authorisation: None,
            ship_by: None,
            note: None,
            quote_lines: Vec::new(),
            if_version: None,
            description: None,
        }
    }
}

/// Moves a case; returns it as it is afterwards. `by` says who states the step's facts.
pub fn transition(
    store: &mut Store,
    policies: &Policies,
    id: i64,
    step: &Step,
    by: By,
    actor: &str,
    now: Timestamp,
) -> Result<Case, AppError> {
    by_hand(step)?;
    store.tx(|tx| transition_in(tx, policies, id, step, by, actor, now))
}

/// Refuses a step only a timer takes.
pub(crate) fn by_hand(step: &Step) -> Result<(), AppError> {
    if step.action.is_timer() {
        return Err(AppError::Refused(format!(
            "`{}` is taken by the case's timer when its deadline passes, not by hand",
            step.action
        )));
    }
    Ok(())
}

/// [`transition`] inside a transaction the caller holds (the timer sweep's).
pub(crate) fn transition_in(
    tx: &mut dyn Tx,
    policies: &Policies,
    id: i64,
    step: &Step,
    by: By,
    actor: &str,
    now: Timestamp,
) -> Result<Case, AppError> {
    let before = load(tx, id)?;
    transition_loaded(tx, policies, before, step, by, actor, now)
}

/// [`transition_in`] of a case already loaded with [`load`] (its row locked).
pub(crate) fn transition_loaded(
    tx: &mut dyn Tx,
    policies: &Policies,
    before: Case,
    step: &Step,
    by: By,
    actor: &str,
    now: Timestamp,
) -> Result<Case, AppError> {
    let id = before.id;
    if let Some(v) = &step.if_version
        && *v != before.version()
    {
        return Err(AppError::Stale(format!(
            "case {id} changed since version {v} (it is now {}, `{}`): read it again",
            before.version(),
            before.state
        )));
    }
    let to = case::next(before.kind, before.state, step.action)?;
    let policy = policies.get(&before.policy_id)?;
    let today = policy.day_of(now);
    check_facts(&step.facts)?;
    let stated_by = stated::check(&step.facts, by, &before.fact_sources)?;
    let mut after = before.clone();
    after.state = to;
    after.state(&step.facts, &stated_by);
    if let Some(d) = &step.description {
        if !matches!(step.action, Action::Submit | Action::ProvideInfo) {
            return Err(AppError::invalid(
                "description",
                "the customer's description is given when the request is sent or information is added",
            ));
        }
        after.description = Some(description(d)?);
    }
    // Read once: the hold below and the decision after the step decide on the same facts.
    let known = Known::read(tx, &after)?;
    if matches!(
        step.action,
        Action::Submit | Action::Approve | Action::DeviceShipped | Action::Inspect
    ) {
        // Held back on the case as it stands with what the step says, before the step's own
        // facts (shipping records the parcel as sent, which would lift the hold by itself).
        check_facts(&after.facts)?;
        hold(step.action, &evaluate(policies, &after, &known, now)?)?;
    }
    // What the move itself establishes is the service's to say, whatever was there.
    for (k, v) in lifecycle_facts(step.action, today, now) {
        after.facts.insert(k.to_string(), v);
    }
    check_facts(&after.facts)?;
    after.updated_at = now;
    if step.action == Action::Approve {
        let authorisation = match &step.authorisation {
            Some(a) => authorisation_number(tx, id, a)?,
            None => format!("RA-{id:06}"),
        };
        after.authorisation = Some(authorisation);
    }
    let decision = decide_recorded_on(tx, policies, &after, &known, actor, now)?.0;
    match step.action {
        Action::Refund => refund_case(tx, &after, &decision, actor, now)?,
        Action::RefundPaid => crate::money::mark_case_paid_in(tx, id, actor, now)?,
        Action::Quote => {
            let currency = currency_of(tx, &after, policies)?;
            let lines = step
                .quote_lines
                .iter()
                .map(|l| QuoteLine::parse(l, currency))
                .collect::<Result<Vec<_>, _>>()?;
            record_quote(tx, &after, &lines, currency, &decision, policy.tz(), now)?;
        }
        Action::Pay | Action::DeclineQuote | Action::ExpireQuote => {
            let status = match step.action {
                Action::Pay => "paid",
                Action::DeclineQuote => "declined",
                _ => "expired",
            };
            tx.exec(
                "UPDATE quotes SET status = ? WHERE case_id = ? AND status = 'open'",
                &[status.into(), Val::Int(id)],
            )?;
        }
        _ => {}
    }
    if step.action == Action::Approve {
        after.ship_by = step.ship_by.or(decision.ship_by);
    }
    // Counted before the timers are set again: the targets this move ends are still pending.
    crate::report_counts::count_move(tx, &before, &after, step.action, now, today)?;
    timers::sync(tx, &after, &decision, policy.tz())?;
    save(tx, &after, step.action == Action::Approve)?;
    let mut after_view = after.audit_view();
    if let (Some(note), J::Object(m)) = (&step.note, &mut after_view) {
        m.insert("note".into(), J::String(note.clone()));
    }
    let seq = audit::append(
        tx,
        now,
        &Event {
            before: Some(before.audit_view()),
            ..Event::new(actor, "case", id, step.action.as_str(), after_view)
        },
    )?;
    announce(tx, policies, &after, step.action.as_str(), &seq, now)?;
    Ok(after)
}

/// Refuses a move the policy holds back: sending or approving a request the policy will not
/// process yet (CryptKi 5.1: "no claim will be processed without complete photographic
/// evidence"), recording a parcel as sent before the customer confirmed the device's data is
/// erased and backed up (imKey 2(5), Maintenance 3.1–3.2), and inspecting an item the policy
/// rejects as it arrived (Maintenance 3.6: refused on arrival instead).
pub(crate) fn hold(action: Action, decision: &Recorded) -> Result<(), AppError> {
    let (flag, why) = match action {
        Action::Submit | Action::Approve => (
            "not_processed",
            "the policy does not process this request until it has everything it asks for",
        ),
        // A parcel the policy rejects (Maintenance 3.6: damaged or soaked) is refused on
        // arrival, not inspected.
        Action::Inspect => (
            "not_processed",
            "the policy does not process this item as it arrived: refuse it on arrival",
        ),
        Action::DeviceShipped => (
            "hold_shipping",
            "confirm first that the device's data is erased and backed up (recovery phrase, PIN, passwords)",
        ),
        _ => return Ok(()),
    };
    match decision.flag(flag) {
        None => Ok(()),
        Some(clause) => {
            let missing = if decision.missing.is_empty() {
                String::new()
            } else {
                format!("; still needed: {}", decision.missing.join(", "))
            };
            Err(AppError::Refused(format!("{why} ({clause}){missing}")))
        }
    }
}

/// Records the refund the decision gives, under the case's own idempotency key.
pub(crate) fn refund_case(
    tx: &mut dyn Tx,
    case: &Case,
    decision: &Recorded,
    actor: &str,
    now: Timestamp,
) -> Result<(), AppError> {
    let Some(amount) = decision.refund.map(|m| m.minor) else {
        let statuses: Vec<String> = decision
            .remedies
            .iter()
            .map(|(r, s)| format!("{} {}", r.name(), s.name()))
            .collect();
        return Err(AppError::Refused(format!(
            "the decision for case {} gives no refund ({})",
            case.id,
            statuses.join(", ")
        )));
    };
    let order_no = case.order_no.clone().ok_or_else(|| {
        AppError::invalid(
            "order",
            format!("case {} names no order to refund", case.id),
        )
    })?;
    crate::money::record_in(
        tx,
        &crate::money::RefundRequest {
            order_no,
            case_id: Some(case.id),
            amount_minor: amount,
            currency: None,
            idempotency_key: format!("case-{}-refund", case.id),
            reason: format!("case {} ({})", case.id, case.kind),
        },
        crate::money::RefundKey::Case(case.id),
        actor,
        now,
    )?;
    Ok(())
}

/// The currency a case's money is in: its order's, else its policy's.
pub fn currency_of(
    tx: &mut dyn Tx,
    case: &Case,
    policies: &Policies,
) -> Result<aftercare_policy::value::Currency, AppError> {
    if let Some(o) = &case.order_no
        && let Some(r) = tx.query_opt(
            "SELECT currency FROM orders WHERE order_no = ?",
            &[o.into()],
        )?
    {
        return aftercare_policy::value::Currency::parse(&r.text(0)?)
            .map_err(|e| AppError::invalid("order.currency", e));
    }
    Ok(policies.get(&case.policy_id)?.currency)
}

pub(crate) fn record_quote(
    tx: &mut dyn Tx,
    case: &Case,
    lines: &[QuoteLine],
    currency: aftercare_policy::value::Currency,
    decision: &Recorded,
    tz: &jiff::tz::TimeZone,
    now: Timestamp,
) -> Result<(), AppError> {
    if lines.is_empty() {
        return Err(AppError::invalid(
            "quote",
            "a quote needs at least one line (KIND:DESCRIPTION:AMOUNT, e.g. part:Fan:25.00)",
        ));
    }
    for (i, l) in lines.iter().enumerate() {
        if !matches!(l.kind.as_str(), "part" | "labour") {
            return Err(AppError::invalid(
                format!("quote.lines[{i}].kind"),
                format!("`{}` is not `part` or `labour`", l.kind),
            ));
        }
        if l.amount_minor < 0 || l.description.is_empty() {
            return Err(AppError::invalid(
                format!("quote.lines[{i}]"),
                "needs a description and an amount that is not negative",
            ));
        }
    }
    let total = lines
        .iter()
        .try_fold(0i64, |t, l| t.checked_add(l.amount_minor))
        .ok_or_else(|| AppError::invalid("quote", "the total overflows"))?;
    // It expires when the policy's payment deadline ends (none: it does not expire).
    let expires = decision.passes(DeadlineName::QuotePayBy, tz);
    let quote_id = tx
        .query_one(
            "INSERT INTO quotes (case_id, currency, total_minor, created_at, expires_at, status)
             VALUES (?, ?, ?, ?, ?, 'open') RETURNING id",
            &[
                Val::Int(case.id),
                currency.as_str().into(),
                Val::Int(total),
                Val::Int(micros(now)),
                Val::Int(expires.map_or(i64::MAX, micros)),
            ],
        )?
        .int(0)?;
    for (i, l) in lines.iter().enumerate() {
        tx.exec(
            "INSERT INTO quote_lines (quote_id, line_no, kind, description, amount_minor) VALUES (?, ?, ?, ?, ?)",
            &[
                Val::Int(quote_id),
                Val::Int(i64::try_from(i + 1).unwrap_or(i64::MAX)),
                (&l.kind).into(),
                (&l.description).into(),
                Val::Int(l.amount_minor),
            ],
        )?;
    }
    Ok(())
}

/// The facts a move establishes by itself, dated today in the policy's zone (receipt: the
/// instant).
pub(crate) fn lifecycle_facts(
    action: Action,
    today: Date,
    now: Timestamp,
) -> Vec<(&'static str, J)> {
    let d = J::String(today.to_string());
    match action {
        // Sending the request is the application.
        Action::Submit => vec![("claim.date", d), ("application.submitted", J::Bool(true))],
        Action::Approve => vec![
            ("application.submitted", J::Bool(true)),
            ("application.accepted", d),
            ("return.authorised", J::Bool(true)),
        ],
        Action::DeviceShipped => vec![("return.shipped", d)],
        // To the second: service-level targets run in hours from receipt (IMASK: 24 hours).
        Action::Receive => vec![("return.received", J::String(now.to_string()))],
        Action::Quote => vec![("quote.notified", d)],
        Action::Pay => vec![("quote.accepted", J::Bool(true)), ("quote.paid", d)],
        Action::DeclineQuote => vec![("quote.accepted", J::Bool(false))],
        _ => Vec::new(),
    }
}

/// Decides a case now and keeps the decision on record.
pub fn decide(
    store: &mut Store,
    policies: &Policies,
    id: i64,
    actor: &str,
    now: Timestamp,
) -> Result<Recorded, AppError> {
    store.tx(|tx| -> Result<_, AppError> {
        let case = load(tx, id)?;
        let (recorded, seq) = decide_recorded(tx, policies, &case, actor, now)?;
        announce(tx, policies, &case, "decide", &seq, now)?;
        Ok(recorded)
    })
}
