//! Refunds: recorded, each under its own idempotency key, before anything is paid out, and
//! never deleted. The database keeps the total: each refund adds to its order's
//! `refunded_minor` in the same transaction, and a CHECK refuses a total above what was paid.
//! On PostgreSQL that update locks the order row, so concurrent refunds of one order queue up
//! and the check sees each one's total; on SQLite writers are serialised anyway.

use aftercare_policy::value::{Currency, Money};
use aftercare_store::{Store, Tx, Val, Violation};
use jiff::Timestamp;
use serde_json::json;

use crate::AppError;
use crate::audit::{self, Event};
use crate::time::micros;

/// A refund to record.
#[derive(Clone, Debug)]
pub struct RefundRequest {
    pub order_no: String,
    pub case_id: Option<i64>,
    pub amount_minor: i64,
    /// The currency the caller meant, checked against the order's when given.
    pub currency: Option<String>,
    /// The caller's key for this refund: sending the same request again records nothing new.
    /// A key counts within its order ([`RefundKey`]).
    pub idempotency_key: String,
    pub reason: String,
}

/// Where a refund's key counts. A caller's key counts within the refund's order, so a key
/// reused on another order (perhaps another seller's) is another refund and tells nothing
/// about the first; a case's own refund has the service's key, which no caller can take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RefundKey {
    Caller,
    Case(i64),
}

impl RefundKey {
    /// The key as stored.
    fn stored(self, r: &RefundRequest) -> String {
        match self {
            RefundKey::Caller => format!("order:{}:{}", r.order_no, r.idempotency_key),
            RefundKey::Case(id) => format!("case-{id}-refund"),
        }
    }
}

/// A refund on record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refund {
    pub id: i64,
    pub order_no: String,
    pub amount: String,
    pub amount_minor: i64,
    /// Whether this call found it already recorded under its key.
    pub replayed: bool,
}

/// Records a refund, or finds the one already recorded under its key.
pub fn record(
    store: &mut Store,
    r: &RefundRequest,
    actor: &str,
    now: Timestamp,
) -> Result<Refund, AppError> {
    if r.amount_minor <= 0 {
        return Err(AppError::invalid(
            "amount",
            format!("{} is not a positive amount", r.amount_minor),
        ));
    }
    if r.idempotency_key.trim().is_empty() {
        return Err(AppError::invalid("idempotency_key", "must not be empty"));
    }
    match try_record(store, r, actor, now) {
        // Two requests with one key raced: the other one recorded it; this one is a replay.
        Err(AppError::Store(e)) if matches!(e.violation(), Some((Violation::Unique, _))) => {
            try_record(store, r, actor, now)
        }
        other => other,
    }
}

fn try_record(
    store: &mut Store,
    r: &RefundRequest,
    actor: &str,
    now: Timestamp,
) -> Result<Refund, AppError> {
    store.tx(|tx| record_in(tx, r, RefundKey::Caller, actor, now))
}

/// [`record`] inside the caller's transaction (a case's `refund` move).
pub(crate) fn record_in(
    tx: &mut dyn Tx,
    r: &RefundRequest,
    key: RefundKey,
    actor: &str,
    now: Timestamp,
) -> Result<Refund, AppError> {
    let stored_key = key.stored(r);
    {
        let order = tx
            .query_opt(
                "SELECT currency, paid_minor, refunded_minor FROM orders WHERE order_no = ?",
                &[(&r.order_no).into()],
            )?
            .ok_or_else(|| AppError::invalid("order", format!("unknown order `{}`", r.order_no)))?;
        let currency =
            Currency::parse(&order.text(0)?).map_err(|e| AppError::invalid("order.currency", e))?;
        let show = |minor: i64| Money { minor, currency }.to_string();
        if let Some(c) = &r.currency
            && c != currency.as_str()
        {
            return Err(AppError::invalid(
                "amount",
                format!(
                    "order `{}` was paid in {}, not {c}",
                    r.order_no,
                    currency.as_str()
                ),
            ));
        }
        if let Some(prev) = tx.query_opt(
            "SELECT id, order_no, amount_minor FROM refunds WHERE idempotency_key = ?",
            &[(&stored_key).into()],
        )? {
            let (id, order_no, amount) = (prev.int(0)?, prev.text(1)?, prev.int(2)?);
            if order_no != r.order_no || amount != r.amount_minor {
                return Err(AppError::invalid(
                    "idempotency_key",
                    format!(
                        "`{}` was already used for refund {id} of {} on order `{order_no}`",
                        r.idempotency_key,
                        show(amount)
                    ),
                ));
            }
            return Ok(Refund {
                id,
                order_no,
                amount: show(amount),
                amount_minor: amount,
                replayed: true,
            });
        }
        let updated = tx.exec(
            "UPDATE orders SET refunded_minor = refunded_minor + ? WHERE order_no = ?",
            &[Val::Int(r.amount_minor), (&r.order_no).into()],
        );
        match updated {
            Ok(_) => {}
            Err(e) if matches!(e.violation(), Some((Violation::Check, _))) => {
                let (paid, refunded) = (order.int(1)?, order.int(2)?);
                return Err(AppError::invalid(
                    "amount",
                    format!(
                        "a refund of {} on order `{}` would bring its refunds to more than the {} paid ({} refunded so far)",
                        show(r.amount_minor),
                        r.order_no,
                        show(paid),
                        show(refunded)
                    ),
                ));
            }
            Err(e) => return Err(e.into()),
        }
        let id = tx
            .query_one(
                "INSERT INTO refunds (order_no, case_id, idempotency_key, amount_minor, currency, reason, recorded_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                &[
                    (&r.order_no).into(),
                    r.case_id.into(),
                    (&stored_key).into(),
                    Val::Int(r.amount_minor),
                    currency.as_str().into(),
                    (&r.reason).into(),
                    Val::Int(micros(now)),
                ],
            )?
            .int(0)?;
        crate::report_counts::count_refund(
            tx,
            id,
            r.case_id,
            &r.order_no,
            currency.as_str(),
            r.amount_minor,
            now,
        )?;
        audit::append(
            tx,
            now,
            &Event::new(
                actor,
                "refund",
                id,
                "record",
                json!({
                    "order_no": r.order_no,
                    "case_id": r.case_id,
                    "amount": show(r.amount_minor),
                    "reason": r.reason,
                }),
            ),
        )?;
        Ok(Refund {
            id,
            order_no: r.order_no.clone(),
            amount: show(r.amount_minor),
            amount_minor: r.amount_minor,
            replayed: false,
        })
    }
}

/// Marks a recorded refund as paid out (once).
pub fn mark_paid(store: &mut Store, id: i64, actor: &str, now: Timestamp) -> Result<(), AppError> {
    store.tx(|tx| mark_paid_in(tx, id, actor, now))
}

/// Marks every unpaid refund of a case as paid out (its `refund_paid` move).
pub(crate) fn mark_case_paid_in(
    tx: &mut dyn Tx,
    case_id: i64,
    actor: &str,
    now: Timestamp,
) -> Result<(), AppError> {
    let unpaid = tx.query(
        "SELECT id FROM refunds WHERE case_id = ? AND paid_at IS NULL ORDER BY id",
        &[Val::Int(case_id)],
    )?;
    for r in unpaid {
        mark_paid_in(tx, r.int(0)?, actor, now)?;
    }
    Ok(())
}

fn mark_paid_in(tx: &mut dyn Tx, id: i64, actor: &str, now: Timestamp) -> Result<(), AppError> {
    let n = tx.exec(
        "UPDATE refunds SET paid_at = ? WHERE id = ? AND paid_at IS NULL",
        &[Val::Int(micros(now)), Val::Int(id)],
    )?;
    if n == 0 {
        return match tx.query_opt("SELECT 1 FROM refunds WHERE id = ?", &[Val::Int(id)])? {
            Some(_) => Err(AppError::Refused(format!("refund {id} is already paid"))),
            None => Err(AppError::not_found("refund", id.to_string())),
        };
    }
    audit::append(tx, now, &Event::new(actor, "refund", id, "paid", None))?;
    Ok(())
}
