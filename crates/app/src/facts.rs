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
use crate::case::Case;

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

/// Facts by name, as JSON.
pub(crate) type FactMap = Map<String, J>;

const UNIT: &str = "SELECT u.genuine, u.manufactured_on, k.class, k.security_sensitive, u.origin
     FROM units u JOIN skus k ON k.code = u.sku WHERE u.serial = ?";
const FAILED_REPAIRS: &str = "SELECT COUNT(*) FROM repairs WHERE serial = ? AND outcome = 'failed'";
const GIVEN_IN_EXCHANGE: &str =
    "SELECT at FROM unit_events WHERE serial = ? AND kind = 'replacement_for' ORDER BY id LIMIT 1";
const PHOTO_KINDS: &str = "SELECT DISTINCT kind FROM evidence WHERE case_id = ? ORDER BY kind";
const ORDER_LINE: &str = "SELECT price_minor FROM order_lines WHERE order_no = ?
     ORDER BY CASE WHEN serial = ? THEN 0 ELSE 1 END, line_no LIMIT 1";
/// The invoice naming the serial on a line, else the order's first. Two look-ups by index
/// (an `OR` across a join read both tables whole).
const INVOICE: &str = "SELECT valid, issued_on FROM (
       SELECT i.valid, i.issued_on, 0 AS rank FROM invoice_lines l
       JOIN invoices i ON i.invoice_no = l.invoice_no WHERE l.serial = ?
       UNION ALL
       SELECT valid, issued_on, 1 AS rank FROM invoices WHERE order_no = ?
     ) AS found ORDER BY rank, issued_on LIMIT 1";
/// The buyer: the case's customer, else the order's.
const BUYER: &str = "SELECT kind, country FROM customers
     WHERE id = COALESCE(?, (SELECT customer_id FROM orders WHERE order_no = ?))";

pub(crate) fn from_registry(tx: &mut dyn Tx, case: &Subject) -> Result<Map<String, J>, AppError> {
    Ok(read(tx, case, None)?.0)
}

/// The registry's facts about `case` and, for a case on record (`case_id`), the kinds of
/// photo stored. Two round trips on PostgreSQL whatever is asked ([`Tx::query_all`]): what
/// the serial names and the photos, then what the order names (the order is the serial's
/// first sale, known only from the first).
fn read(
    tx: &mut dyn Tx,
    case: &Subject,
    case_id: Option<i64>,
) -> Result<(Map<String, J>, Vec<J>), AppError> {
    let mut first: Vec<(&str, Vec<Val>)> = Vec::new();
    if let Some(serial) = &case.serial {
        for sql in [
            crate::lineage::FIRST_SALE,
            UNIT,
            FAILED_REPAIRS,
            GIVEN_IN_EXCHANGE,
            crate::lineage::CHAIN,
        ] {
            first.push((sql, vec![serial.into()]));
        }
    }
    if let Some(id) = case_id {
        first.push((PHOTO_KINDS, vec![Val::Int(id)]));
    }
    let mut answers = query_all(tx, &first)?.into_iter();
    let mut next = || answers.next().unwrap_or_default();
    let by_serial = case.serial.as_ref().map(|serial| {
        let [sale, unit, failed, given, chain] = [next(), next(), next(), next(), next()];
        (serial, sale, unit, failed, given, chain)
    });
    let photos = match case_id {
        Some(_) => next()
            .iter()
            .map(|r| r.text(0).map(J::String))
            .collect::<Result<Vec<J>, _>>()?,
        None => Vec::new(),
    };

    let first_sale = match &by_serial {
        Some((_, sale, ..)) => sale.first().map(|r| r.text(0)).transpose()?,
        None => None,
    };
    let order_no = first_sale.or_else(|| case.order_no.clone());
    let mut second: Vec<(&str, Vec<Val>)> = Vec::new();
    if let Some(order_no) = &order_no {
        second.push((crate::registry::ORDER_WITH_DELIVERY, vec![order_no.into()]));
        second.push((
            ORDER_LINE,
            vec![order_no.into(), case.serial.clone().into()],
        ));
        second.push((INVOICE, vec![case.serial.clone().into(), order_no.into()]));
    }
    // The buyer: the case's customer, else the order's; none without either.
    let buyer_named = case.customer_id.is_some() || order_no.is_some();
    if buyer_named {
        second.push((
            BUYER,
            vec![case.customer_id.into(), order_no.clone().into()],
        ));
    }
    let mut answers = query_all(tx, &second)?.into_iter();
    let mut next = || answers.next().unwrap_or_default();
    let by_order = order_no.as_ref().map(|_| [next(), next(), next()]);
    let buyer = if buyer_named {
        next().into_iter().next()
    } else {
        None
    };

    let mut f = Map::new();
    let mut put = |k: &str, v: J| {
        f.insert(k.to_string(), v);
    };
    let mut no_invoice_date = false;
    let mut ordered_on: Option<String> = None;
    if let Some([order, line, invoice]) = &by_order
        && let Some(o) = order.first()
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
        if let Some(l) = line.first() {
            put("order.price", money(l.int(0)?));
        }
        if let Some(d) = o.opt_int(7)? {
            put("order.distance", J::Bool(d != 0));
        }
        let order_customer = o.int(6)?;
        if let Some(c) = case.customer_id {
            put("buyer.original", J::Bool(c == order_customer));
        }
        if let Some(i) = invoice.first() {
            let status = if i.bool(0)? { "valid" } else { "invalid" };
            put("invoice.status", J::String(status.into()));
            put("invoice.date", J::String(i.text(1)?));
        }
    }
    if let Some(c) = &buyer {
        put("buyer.kind", J::String(c.text(0)?));
        put("buyer.country", J::String(c.text(1)?));
    }
    if let Some((serial, _, unit, failed, given, chain)) = &by_serial
        && let Some(u) = unit.first()
    {
        put("unit.serial", J::String((*serial).clone()));
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
        let failed = failed.first().map_or(Ok(0), |r| r.int(0))?;
        put("history.failed_repairs", J::from(failed));
        // A unit given in exchange has no invoice of its own: its warranty starts in the
        // seller's records, on the day it was given.
        if u.text(4)? == "replacement"
            && let Some(g) = given.first()
        {
            let day = crate::time::from_micros(g.int(0)?)?
                .to_zoned(jiff::tz::TimeZone::UTC)
                .date();
            put("registry.warranty_start", J::String(day.to_string()));
            put("invoice.status", J::String("absent".into()));
            no_invoice_date = true;
        }
        // How often this item was exchanged: the replacements along its lineage.
        let replaced = crate::lineage::chain_of_rows(serial, chain)?.len() - 1;
        put("history.accessory_replacements", J::from(replaced));
    }
    if no_invoice_date {
        f.remove("invoice.date");
    }
    Ok((f, photos))
}

fn query_all(
    tx: &mut dyn Tx,
    batch: &[(&str, Vec<Val>)],
) -> Result<Vec<Vec<aftercare_store::Row>>, AppError> {
    if batch.is_empty() {
        return Ok(Vec::new());
    }
    let refs: Vec<(&str, &[Val])> = batch.iter().map(|(s, p)| (*s, p.as_slice())).collect();
    Ok(tx.query_all(&refs)?)
}

/// What the registry and the service know about a case on record, in one pass: the photos
/// stored ride with the registry's first round trip.
pub(crate) fn known(tx: &mut dyn Tx, case: &Case) -> Result<(FactMap, FactMap), AppError> {
    let (registry, photos) = read(tx, &case.into(), Some(case.id))?;
    Ok((registry, service_facts(case, photos)))
}

/// The service's own facts about a case: the kinds of photo stored (known, possibly none),
/// whether the customer described the problem and named the order.
fn service_facts(case: &Case, photo_kinds: Vec<J>) -> Map<String, J> {
    let mut f = Map::new();
    f.insert("evidence.photos".into(), J::Array(photo_kinds));
    f.extend(given(case.description.as_deref(), case.order_no.as_deref()));
    f
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
