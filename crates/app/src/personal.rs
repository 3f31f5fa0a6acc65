//! Personal data: everything held about a customer, exported as JSON; and erasure, which
//! replaces the personal fields (name, email, phone, and the seller's ref, which may be an
//! email address) with placeholders. Orders, cases, refunds and the audit log keep pointing
//! at the same customer id, so money and history stay whole; the audit log never held the
//! personal fields in the first place.

use aftercare_store::{Store, Tx, Val};
use jiff::Timestamp;
use serde_json::{Value as J, json};

use crate::AppError;
use crate::accounts::Sellers;
use crate::audit::{self, Event};
use crate::error::stored_json;
use crate::time::{from_micros, micros};

fn customer_id(tx: &mut dyn Tx, reference: &str) -> Result<i64, AppError> {
    Ok(tx
        .query_opt(
            "SELECT id FROM customers WHERE ref = ?",
            &[reference.into()],
        )?
        .ok_or_else(|| AppError::not_found("customer", reference))?
        .int(0)?)
}

/// Everything held about the customer with this ref: with `within` some sellers, only their
/// orders and the cases about them (staff of one seller see nothing of another's).
pub fn export(store: &mut Store, reference: &str, within: &Sellers) -> Result<J, AppError> {
    store.tx(|tx| -> Result<J, AppError> {
        let id = customer_id(tx, reference)?;
        let c = tx.query_one(
            "SELECT ref, kind, name, email, phone, country, erased_at FROM customers WHERE id = ?",
            &[Val::Int(id)],
        )?;
        let mut orders = Vec::new();
        let mut kept: Vec<String> = Vec::new();
        for o in tx.query(
            "SELECT order_no, channel, ordered_at, shipped_on, delivered_on, currency, shipping_fee_minor,
                    paid_minor, refunded_minor, payment_method
             FROM orders WHERE customer_id = ? ORDER BY ordered_at, order_no",
            &[Val::Int(id)],
        )? {
            let order_no = o.text(0)?;
            if !of_sellers(
                tx,
                "SELECT DISTINCT k.seller FROM order_lines l JOIN skus k ON k.code = l.sku WHERE l.order_no = ?",
                &order_no,
                within,
            )? {
                continue;
            }
            kept.push(order_no.clone());
            let lines = tx
                .query(
                    "SELECT sku, serial, quantity, price_minor FROM order_lines WHERE order_no = ? ORDER BY line_no",
                    &[(&order_no).into()],
                )?
                .iter()
                .map(|l| {
                    Ok(json!({"sku": l.text(0)?, "serial": l.opt_text(1)?, "quantity": l.int(2)?, "price_minor": l.int(3)?}))
                })
                .collect::<Result<Vec<J>, AppError>>()?;
            let invoices = tx
                .query(
                    "SELECT invoice_no, issued_on, valid FROM invoices WHERE order_no = ? ORDER BY invoice_no",
                    &[(&order_no).into()],
                )?
                .iter()
                .map(|i| Ok(json!({"invoice_no": i.text(0)?, "issued_on": i.text(1)?, "valid": i.bool(2)?})))
                .collect::<Result<Vec<J>, AppError>>()?;
            let shipments = tx
                .query(
                    "SELECT carrier, tracking, shipped_on, delivered_on FROM shipments
                     WHERE order_no = ? ORDER BY shipped_on, carrier, tracking",
                    &[(&order_no).into()],
                )?
                .iter()
                .map(|s| {
                    Ok(json!({"carrier": s.text(0)?, "tracking": s.text(1)?, "shipped_on": s.text(2)?, "delivered_on": s.opt_text(3)?}))
                })
                .collect::<Result<Vec<J>, AppError>>()?;
            let refunds = tx
                .query(
                    "SELECT id, amount_minor, currency, reason, recorded_at, paid_at FROM refunds WHERE order_no = ? ORDER BY id",
                    &[(&order_no).into()],
                )?
                .iter()
                .map(|r| {
                    Ok(json!({
                        "id": r.int(0)?, "amount_minor": r.int(1)?, "currency": r.text(2)?, "reason": r.text(3)?,
                        "recorded_at": from_micros(r.int(4)?)?.to_string(),
                        "paid_at": r.opt_int(5)?.map(from_micros).transpose()?.map(|t| t.to_string()),
                    }))
                })
                .collect::<Result<Vec<J>, AppError>>()?;
            orders.push(json!({
                "order_no": order_no, "channel": o.text(1)?, "ordered_on": o.text(2)?,
                "shipped_on": o.opt_text(3)?, "delivered_on": o.opt_text(4)?, "currency": o.text(5)?,
                "shipping_fee_minor": o.int(6)?, "paid_minor": o.int(7)?, "refunded_minor": o.int(8)?,
                "payment_method": o.opt_text(9)?, "lines": lines, "invoices": invoices, "shipments": shipments, "refunds": refunds,
            }));
        }
        let rows = tx
            .query(
                "SELECT id, kind, state, order_no, serial, policy_id, facts, opened_at FROM cases
                 WHERE customer_id = ? ORDER BY id",
                &[Val::Int(id)],
            )?;
        let mut cases = Vec::new();
        for r in rows {
            let order = r.opt_text(3)?;
            let serial = r.opt_text(4)?;
            let of_order = order.as_ref().is_some_and(|o| kept.contains(o));
            let of_unit = match &serial {
                Some(s) => of_sellers(
                    tx,
                    "SELECT k.seller FROM units u JOIN skus k ON k.code = u.sku WHERE u.serial = ?",
                    s,
                    within,
                )?,
                None => false,
            };
            if *within != Sellers::All && !of_order && !of_unit {
                continue;
            }
            cases.push(json!({
                "id": r.int(0)?, "kind": r.text(1)?, "state": r.text(2)?, "order_no": order,
                "serial": serial, "policy": r.text(5)?,
                "facts": stored_json("case.facts", &r.text(6)?)?,
                "opened_at": from_micros(r.int(7)?)?.to_string(),
            }));
        }
        Ok(json!({
            "customer": {
                "id": id, "ref": c.text(0)?, "kind": c.text(1)?, "name": c.text(2)?,
                "email": c.opt_text(3)?, "phone": c.opt_text(4)?, "country": c.text(5)?,
                "erased_at": c.opt_int(6)?.map(from_micros).transpose()?.map(|t| t.to_string()),
            },
            "orders": orders,
            "cases": cases,
        }))
    })
}

/// Whether the sellers `sql` finds for `key` include one of `within`.
fn of_sellers(tx: &mut dyn Tx, sql: &str, key: &str, within: &Sellers) -> Result<bool, AppError> {
    if *within == Sellers::All {
        return Ok(true);
    }
    for r in tx.query(sql, &[key.into()])? {
        if within.includes(&r.text(0)?) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Replaces the customer's personal fields with placeholders, and ends their sessions and
/// sign-in links; returns the new ref.
pub fn erase(
    store: &mut Store,
    reference: &str,
    actor: &str,
    now: Timestamp,
) -> Result<String, AppError> {
    store.tx(|tx| -> Result<String, AppError> {
        let id = customer_id(tx, reference)?;
        let placeholder = format!("erased-{id}");
        tx.exec(
            "UPDATE customers SET ref = ?, name = 'erased', email = NULL, phone = NULL, erased_at = ? WHERE id = ?",
            &[(&placeholder).into(), Val::Int(micros(now)), Val::Int(id)],
        )?;
        // The customer's own words about their cases go too.
        tx.exec(
            "UPDATE cases SET description = NULL WHERE customer_id = ?",
            &[Val::Int(id)],
        )?;
        // And every way in: their sessions end, their links stop working.
        tx.exec(
            "DELETE FROM sessions WHERE customer_id = ?",
            &[Val::Int(id)],
        )?;
        tx.exec(
            "DELETE FROM sign_in_links WHERE customer_id = ?",
            &[Val::Int(id)],
        )?;
        audit::append(
            tx,
            now,
            &Event::new(actor, "customer", id, "erase", json!({"ref": placeholder})),
        )?;
        Ok(placeholder)
    })
}
