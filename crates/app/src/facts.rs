//! What the registry and the service know about a case, as policy facts: the order's dates,
//! channel and price, the invoice, the unit and its SKU, the buyer, the unit's repair history;
//! and the photos stored, the description and order number given. A decision is made on
//! [`decision_facts`]: the registry's, then what the customer and staff stated on the case
//! (a fact of the records only where staff corrected it), then the service's own, which
//! nothing stated overrides.
//!
//! The dates come from the unit's first sale when it has a serial, not from the order the
//! case names: a resale does not restart a warranty, and a later buyer is not the original
//! one.

use aftercare_policy::schema::{self, Source};
use aftercare_policy::value::{Currency, Money};
use aftercare_store::{Tx, Val};
use serde_json::{Map, Value as J};

use crate::AppError;
use crate::cases::Case;

/// What the registry facts are about: a case's serial, order and customer, or a serial alone
/// (a public warranty look-up).
#[derive(Clone, Debug, Default)]
pub(crate) struct Subject {
    pub serial: Option<String>,
    pub order_no: Option<String>,
    pub customer_id: Option<i64>,
}

impl From<&Case> for Subject {
    fn from(c: &Case) -> Self {
        Subject {
            serial: c.serial.clone(),
            order_no: c.order_no.clone(),
            customer_id: c.customer_id,
        }
    }
}

pub(crate) fn from_registry(tx: &mut dyn Tx, case: &Subject) -> Result<Map<String, J>, AppError> {
    let mut f = Map::new();
    let mut put = |k: &str, v: J| {
        f.insert(k.to_string(), v);
    };
    let mut buyer = case.customer_id;
    let mut no_invoice_date = false;
    let mut ordered_on: Option<String> = None;
    let first_sale = match &case.serial {
        Some(serial) => crate::lineage::first_sale(tx, serial)?
            .map(|r| r.text(0))
            .transpose()?,
        None => None,
    };
    if let Some(order_no) = first_sale.as_ref().or(case.order_no.as_ref())
        && let Some(o) = tx.query_opt(crate::registry::ORDER_WITH_DELIVERY, &[order_no.into()])?
    {
        let date = o.text(0)?;
        ordered_on = Some(date.clone());
        put("order.date", J::String(date));
        put("order.channel", J::String(o.text(1)?));
        if let Some(d) = o.opt_text(2)? {
            put("order.shipped", J::String(d));
        }
        if let Some(d) = o.opt_text(3)? {
            put("order.delivered", J::String(d));
        }
        let currency =
            Currency::parse(&o.text(4)?).map_err(|e| AppError::invalid("order.currency", e))?;
        let money = |minor: i64| J::String(Money { minor, currency }.to_string());
        put("order.shipping_fee", money(o.int(5)?));
        let line = tx.query_opt(
            "SELECT price_minor FROM order_lines WHERE order_no = ?
             ORDER BY CASE WHEN serial = ? THEN 0 ELSE 1 END, line_no LIMIT 1",
            &[order_no.into(), case.serial.clone().into()],
        )?;
        if let Some(l) = line {
            put("order.price", money(l.int(0)?));
        }
        if let Some(d) = o.opt_int(7)? {
            put("order.distance", J::Bool(d != 0));
        }
        let order_customer = o.int(6)?;
        if let Some(c) = case.customer_id {
            put("buyer.original", J::Bool(c == order_customer));
        }
        buyer = buyer.or(Some(order_customer));
        let invoice = tx.query_opt(
            "SELECT i.valid, i.issued_on FROM invoices i
             LEFT JOIN invoice_lines l ON l.invoice_no = i.invoice_no AND l.serial = ?
             WHERE i.order_no = ? OR l.serial IS NOT NULL
             ORDER BY CASE WHEN l.serial IS NOT NULL THEN 0 ELSE 1 END, i.issued_on LIMIT 1",
            &[case.serial.clone().into(), order_no.into()],
        )?;
        if let Some(i) = invoice {
            let status = if i.bool(0)? { "valid" } else { "invalid" };
            put("invoice.status", J::String(status.into()));
            put("invoice.date", J::String(i.text(1)?));
        }
    }
    if let Some(id) = buyer
        && let Some(c) = tx.query_opt(
            "SELECT kind, country FROM customers WHERE id = ?",
            &[Val::Int(id)],
        )?
    {
        put("buyer.kind", J::String(c.text(0)?));
        put("buyer.country", J::String(c.text(1)?));
    }
    if let Some(serial) = &case.serial
        && let Some(u) = tx.query_opt(
            "SELECT u.genuine, u.manufactured_on, k.class, k.security_sensitive, u.origin
             FROM units u JOIN skus k ON k.code = u.sku WHERE u.serial = ?",
            &[serial.into()],
        )?
    {
        put("unit.serial", J::String(serial.clone()));
        put("unit.genuine", J::Bool(u.bool(0)?));
        if let Some(d) = u.opt_text(1)? {
            put("unit.manufactured", J::String(d));
        }
        let class = u.text(2)?;
        // A service's withdrawal period runs from its purchase (CRD 9(2)(a)).
        if class == "service"
            && let Some(d) = ordered_on.clone()
        {
            put("service.purchased", J::String(d));
        }
        put("product.class", J::String(class));
        put("product.security_sensitive", J::Bool(u.bool(3)?));
        let failed = tx.query_one(
            "SELECT COUNT(*) FROM repairs WHERE serial = ? AND outcome = 'failed'",
            &[serial.into()],
        )?;
        put("history.failed_repairs", J::from(failed.int(0)?));
        // A unit given in exchange has no invoice of its own: its warranty starts in the
        // seller's records, on the day it was given.
        if u.text(4)? == "replacement" {
            let given = tx.query_opt(
                "SELECT at FROM unit_events WHERE serial = ? AND kind = 'replacement_for' ORDER BY id LIMIT 1",
                &[serial.into()],
            )?;
            if let Some(g) = given {
                let day = crate::time::from_micros(g.int(0)?)?
                    .to_zoned(jiff::tz::TimeZone::UTC)
                    .date();
                put("registry.warranty_start", J::String(day.to_string()));
                put("invoice.status", J::String("absent".into()));
                no_invoice_date = true;
            }
        }
        // How often this item was exchanged: the replacements along its lineage.
        let replaced = crate::lineage::chain(tx, serial)?.len() - 1;
        put("history.accessory_replacements", J::from(replaced));
    }
    if no_invoice_date {
        f.remove("invoice.date");
    }
    Ok(f)
}

/// The service's own facts about a case: the kinds of photo stored (known, possibly none),
/// whether the customer described the problem and named the order.
pub(crate) fn of_service(tx: &mut dyn Tx, case: &Case) -> Result<Map<String, J>, AppError> {
    let kinds = tx
        .query(
            "SELECT DISTINCT kind FROM evidence WHERE case_id = ? ORDER BY kind",
            &[Val::Int(case.id)],
        )?
        .iter()
        .map(|r| r.text(0).map(J::String))
        .collect::<Result<Vec<J>, _>>()?;
    let mut f = Map::new();
    f.insert("evidence.photos".into(), J::Array(kinds));
    f.extend(given(case.description.as_deref(), case.order_no.as_deref()));
    Ok(f)
}

/// What a request gives by being made: a description, an order number.
pub(crate) fn given(description: Option<&str>, order_no: Option<&str>) -> Map<String, J> {
    let mut f = Map::new();
    f.insert(
        "evidence.description".into(),
        J::Bool(description.is_some_and(|d| !d.trim().is_empty())),
    );
    f.insert("evidence.order_number".into(), J::Bool(order_no.is_some()));
    f
}

/// The facts a case is decided on: the registry's; over them what was stated on the case
/// (a fact only the records state counts only where staff corrected it: anything else was
/// stated before sources were checked and is not believed); over all, the service's own.
pub(crate) fn decision_facts(
    registry: Map<String, J>,
    case: &Case,
    service: Map<String, J>,
) -> Map<String, J> {
    let mut f = registry;
    for (k, v) in &case.facts {
        let records_only = schema::fact_id(k)
            .map(schema::fact)
            .is_some_and(|d| d.sources == [Source::Registry]);
        if records_only && case.source_of(k) != Some(crate::stated::Provenance::Correction) {
            continue;
        }
        f.insert(k.clone(), v.clone());
    }
    f.extend(service);
    f
}
