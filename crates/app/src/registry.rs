//! The registry: SKUs, customers, units, orders with their lines, and invoices. Every write is
//! an upsert by natural key (SKU code, customer ref, serial, order and invoice numbers), so
//! loading the same data twice changes nothing. Values are checked before they are written,
//! and each refusal names the field and the value.

use aftercare_policy::schema::EnumKind;
use std::collections::HashMap;

use aftercare_store::{Row, Tx, Val};
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::AppError;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sku {
    pub code: String,
    pub name: String,
    /// A product class of the policy schema (`main`, `accessory`, `cable`, …).
    pub class: String,
    #[serde(default)]
    pub components: String,
    #[serde(default)]
    pub security_sensitive: bool,
    pub seller: String,
    /// The seller policy that applies to it.
    pub policy: String,
    /// Another policy for buyers in some countries (ISO 3166 alpha-2 → policy id).
    #[serde(default)]
    pub policy_by_country: std::collections::BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    /// The seller's own customer key.
    #[serde(rename = "ref")]
    pub reference: String,
    /// `consumer` or `professional`.
    pub kind: String,
    pub name: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    /// ISO 3166 alpha-2.
    pub country: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Unit {
    pub serial: String,
    pub sku: String,
    #[serde(default)]
    pub manufactured_on: Option<Date>,
    #[serde(default = "yes")]
    pub genuine: bool,
}

fn yes() -> bool {
    true
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Order {
    pub order_no: String,
    pub customer: String,
    /// `official`, `authorised_dealer` or `other`.
    pub channel: String,
    /// Sold at a distance (online, by phone), as distance-selling law means it; unset when
    /// the records do not say.
    #[serde(default)]
    pub distance: Option<bool>,
    pub ordered_on: Date,
    #[serde(default)]
    pub shipped_on: Option<Date>,
    #[serde(default)]
    pub delivered_on: Option<Date>,
    pub currency: String,
    #[serde(default)]
    pub shipping_fee_minor: i64,
    pub paid_minor: i64,
    #[serde(default)]
    pub payment_method: Option<String>,
    pub lines: Vec<OrderLine>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrderLine {
    pub sku: String,
    #[serde(default)]
    pub serial: Option<String>,
    #[serde(default = "one")]
    pub quantity: i64,
    pub price_minor: i64,
}

fn one() -> i64 {
    1
}

/// A shipment of an order to its customer. Its natural key is the carrier and the tracking
/// number.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Shipment {
    pub carrier: String,
    pub tracking: String,
    pub order_no: String,
    pub shipped_on: Date,
    #[serde(default)]
    pub delivered_on: Option<Date>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Invoice {
    pub invoice_no: String,
    #[serde(default)]
    pub order_no: Option<String>,
    pub issued_on: Date,
    #[serde(default = "yes")]
    pub valid: bool,
    #[serde(default)]
    pub lines: Vec<InvoiceLine>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InvoiceLine {
    pub model: String,
    #[serde(default)]
    pub serial: Option<String>,
}

fn one_of(field: &str, value: &str, allowed: &[&str]) -> Result<(), AppError> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(AppError::invalid(
            field,
            format!("`{value}` is not one of: {}", allowed.join(", ")),
        ))
    }
}

fn not_empty(field: &str, value: &str) -> Result<(), AppError> {
    if value.trim().is_empty() {
        Err(AppError::invalid(field, "must not be empty"))
    } else {
        Ok(())
    }
}

fn currency(field: &str, code: &str) -> Result<(), AppError> {
    aftercare_policy::value::Currency::parse(code)
        .map(|_| ())
        .map_err(|e| AppError::invalid(field, e))
}

fn country(field: &str, code: &str) -> Result<(), AppError> {
    if code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err(AppError::invalid(
            field,
            format!("`{code}` is not an ISO 3166 alpha-2 country code (two capital letters)"),
        ))
    }
}

pub fn upsert_sku(tx: &mut dyn Tx, s: &Sku) -> Result<(), AppError> {
    not_empty("code", &s.code)?;
    not_empty("name", &s.name)?;
    not_empty("seller", &s.seller)?;
    not_empty("policy", &s.policy)?;
    one_of("class", &s.class, EnumKind::ProductClass.variants())?;
    tx.exec(
        "INSERT INTO skus (code, name, class, components, security_sensitive, seller, policy_id)
         VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (code) DO UPDATE SET name = excluded.name, class = excluded.class,
           components = excluded.components, security_sensitive = excluded.security_sensitive,
           seller = excluded.seller, policy_id = excluded.policy_id",
        &[
            (&s.code).into(),
            (&s.name).into(),
            (&s.class).into(),
            (&s.components).into(),
            s.security_sensitive.into(),
            (&s.seller).into(),
            (&s.policy).into(),
        ],
    )?;
    tx.exec(
        "DELETE FROM sku_policies WHERE sku = ?",
        &[(&s.code).into()],
    )?;
    for (c, policy) in &s.policy_by_country {
        country(&format!("policy_by_country.{c}"), c)?;
        not_empty(&format!("policy_by_country.{c}"), policy)?;
        tx.exec(
            "INSERT INTO sku_policies (sku, country, policy_id) VALUES (?, ?, ?)",
            &[(&s.code).into(), c.into(), policy.into()],
        )?;
    }
    Ok(())
}

/// Inserts or updates a customer; returns its id.
pub fn upsert_customer(tx: &mut dyn Tx, c: &Customer) -> Result<i64, AppError> {
    not_empty("ref", &c.reference)?;
    not_empty("name", &c.name)?;
    one_of("kind", &c.kind, EnumKind::BuyerKind.variants())?;
    country("country", &c.country)?;
    let row = tx.query_one(
        "INSERT INTO customers (ref, kind, name, email, phone, country) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (ref) DO UPDATE SET kind = excluded.kind, name = excluded.name,
           email = excluded.email, phone = excluded.phone, country = excluded.country
         RETURNING id",
        &[
            (&c.reference).into(),
            (&c.kind).into(),
            (&c.name).into(),
            c.email.clone().into(),
            c.phone.clone().into(),
            (&c.country).into(),
        ],
    )?;
    Ok(row.int(0)?)
}

pub fn upsert_unit(tx: &mut dyn Tx, u: &Unit) -> Result<(), AppError> {
    first_refusal(upsert_units(tx, std::slice::from_ref(u), &mut |_| {})?)
}

/// Rows per multi-row insert (and keys per `IN` list): few round trips, well inside both
/// databases' parameter limits.
const UNITS_PER_STATEMENT: usize = 500;

/// Checks every unit, then, if all are good, writes them in multi-row upserts (one round trip
/// per 500 units rather than two per unit). Returns each refused unit's index and reason;
/// nothing is written when there is any. `progress` gets the number written so far.
pub fn upsert_units(
    tx: &mut dyn Tx,
    units: &[Unit],
    progress: &mut dyn FnMut(usize),
) -> Result<Vec<(usize, AppError)>, AppError> {
    let skus = rows_by_key(
        tx,
        "SELECT code FROM skus WHERE code IN",
        units.iter().map(|u| u.sku.as_str()),
    )?;
    let mut problems = Vec::new();
    for (i, u) in units.iter().enumerate() {
        if let Err(e) = not_empty("serial", &u.serial) {
            problems.push((i, e));
        } else if !skus.contains_key(&u.sku) {
            problems.push((
                i,
                AppError::invalid("sku", format!("unknown SKU `{}`", u.sku)),
            ));
        }
    }
    if !problems.is_empty() {
        return Ok(problems);
    }
    insert_many(
        tx,
        "INSERT INTO units (serial, sku, manufactured_on, genuine)",
        4,
        "ON CONFLICT (serial) DO UPDATE SET sku = excluded.sku,
           manufactured_on = excluded.manufactured_on, genuine = excluded.genuine",
        units,
        &|u, p| {
            p.push((&u.serial).into());
            p.push((&u.sku).into());
            p.push(u.manufactured_on.map(|d| d.to_string()).into());
            p.push(u.genuine.into());
        },
        progress,
    )?;
    Ok(problems)
}

/// Inserts or replaces an order and its lines. `today` bounds the dates: nothing is in the
/// future, and shipping and delivery follow the order in time.
pub fn upsert_order(tx: &mut dyn Tx, o: &Order, today: Date) -> Result<(), AppError> {
    first_refusal(upsert_orders(
        tx,
        std::slice::from_ref(o),
        today,
        &mut |_| {},
    )?)
}

fn first_refusal(refused: Vec<(usize, AppError)>) -> Result<(), AppError> {
    match refused.into_iter().next() {
        Some((_, e)) => Err(e),
        None => Ok(()),
    }
}

/// The checks of one order that need no database.
fn check_order(o: &Order, today: Date) -> Result<(), AppError> {
    not_empty("order_no", &o.order_no)?;
    one_of("channel", &o.channel, EnumKind::Channel.variants())?;
    currency("currency", &o.currency)?;
    let dates = [
        ("ordered_on", Some(o.ordered_on)),
        ("shipped_on", o.shipped_on),
        ("delivered_on", o.delivered_on),
    ];
    for (field, d) in dates {
        if let Some(d) = d
            && d > today
        {
            return Err(AppError::invalid(field, format!("{d} is in the future")));
        }
    }
    let mut last: Option<(&str, Date)> = None;
    for (field, d) in dates {
        if let Some(d) = d {
            if let Some((prev_field, prev)) = last
                && d < prev
            {
                return Err(AppError::invalid(
                    field,
                    format!("{d} is before {prev_field} {prev}"),
                ));
            }
            last = Some((field, d));
        }
    }
    for (field, v) in [
        ("paid_minor", o.paid_minor),
        ("shipping_fee_minor", o.shipping_fee_minor),
    ] {
        if v < 0 {
            return Err(AppError::invalid(field, format!("{v} is negative")));
        }
    }
    if o.lines.is_empty() {
        return Err(AppError::invalid(
            "lines",
            "an order needs at least one line",
        ));
    }
    for (i, line) in o.lines.iter().enumerate() {
        if line.price_minor < 0 || line.quantity <= 0 {
            return Err(AppError::invalid(
                format!("lines[{i}].price_minor"),
                "price must not be negative and quantity must be positive",
            ));
        }
    }
    Ok(())
}

/// Rows of `sql … IN (keys)` for many keys, [`UNITS_PER_STATEMENT`] to a statement: one round
/// trip per 500 keys instead of one per key. `sql` ends with `IN`; each row's first column is
/// its key.
fn rows_by_key<'k>(
    tx: &mut dyn Tx,
    sql: &str,
    keys: impl IntoIterator<Item = &'k str>,
) -> Result<HashMap<String, Row>, AppError> {
    let mut keys: Vec<&str> = keys.into_iter().collect();
    keys.sort_unstable();
    keys.dedup();
    let mut out = HashMap::with_capacity(keys.len());
    for chunk in keys.chunks(UNITS_PER_STATEMENT) {
        let marks = vec!["?"; chunk.len()].join(", ");
        let params: Vec<Val> = chunk.iter().map(|k| (*k).into()).collect();
        for row in tx.query(&format!("{sql} ({marks})"), &params)? {
            out.insert(row.text(0)?, row);
        }
    }
    Ok(out)
}

/// Multi-row `INSERT … VALUES (…), (…) …` of `width` values per item (pushed by `row`), then
/// `tail` (the conflict clause), [`UNITS_PER_STATEMENT`] items to a statement. Values are made
/// one statement at a time, so a large import holds its records once, not twice.
pub(crate) fn insert_many<T>(
    tx: &mut dyn Tx,
    head: &str,
    width: usize,
    tail: &str,
    items: &[T],
    row: &dyn Fn(&T, &mut Vec<Val>),
    progress: &mut dyn FnMut(usize),
) -> Result<(), AppError> {
    let marks = format!("({})", vec!["?"; width].join(", "));
    let mut done = 0;
    let mut params = Vec::with_capacity(UNITS_PER_STATEMENT.min(items.len()) * width);
    for chunk in items.chunks(UNITS_PER_STATEMENT) {
        let sql = format!(
            "{head} VALUES {} {tail}",
            vec![marks.as_str(); chunk.len()].join(", ")
        );
        params.clear();
        for item in chunk {
            row(item, &mut params);
        }
        tx.exec(&sql, &params)?;
        done += chunk.len();
        progress(done);
    }
    Ok(())
}

/// Deletes the lines a re-imported record no longer has: only for records that had more
/// before (`before`: rows by key, with the old line count in column `count_col`). `delete`
/// takes the key and the new line count.
fn drop_lost_lines<'k>(
    tx: &mut dyn Tx,
    delete: &str,
    before: &HashMap<String, Row>,
    count_col: usize,
    records: impl Iterator<Item = (&'k str, usize)>,
) -> Result<(), AppError> {
    for (key, lines) in records {
        let count = i64::try_from(lines).unwrap_or(i64::MAX);
        if let Some(row) = before.get(key)
            && row.int(count_col)? > count
        {
            tx.exec(delete, &[key.into(), Val::Int(count)])?;
        }
    }
    Ok(())
}

/// Checks every order, then, if all are good, writes them and their lines many to a statement
/// (references are looked up the same way). Returns each refused order's index and reason;
/// nothing is written when there is any. `progress` gets the number of orders written so far.
pub fn upsert_orders(
    tx: &mut dyn Tx,
    orders: &[Order],
    today: Date,
    progress: &mut dyn FnMut(usize),
) -> Result<Vec<(usize, AppError)>, AppError> {
    let customers = rows_by_key(
        tx,
        "SELECT ref, id FROM customers WHERE ref IN",
        orders.iter().map(|o| o.customer.as_str()),
    )?;
    let skus = rows_by_key(
        tx,
        "SELECT code FROM skus WHERE code IN",
        orders
            .iter()
            .flat_map(|o| o.lines.iter().map(|l| l.sku.as_str())),
    )?;
    let serials = rows_by_key(
        tx,
        "SELECT serial FROM units WHERE serial IN",
        orders
            .iter()
            .flat_map(|o| o.lines.iter().filter_map(|l| l.serial.as_deref())),
    )?;
    // What re-importing changes: the refunds already made, and lines that may go.
    let before = rows_by_key(
        tx,
        "SELECT order_no, refunded_minor,
           (SELECT count(*) FROM order_lines l WHERE l.order_no = o.order_no)
         FROM orders o WHERE order_no IN",
        orders.iter().map(|o| o.order_no.as_str()),
    )?;
    let mut problems = Vec::new();
    let mut customer_ids = Vec::with_capacity(orders.len());
    for (i, o) in orders.iter().enumerate() {
        let checked = check_order(o, today).and_then(|()| {
            let customer = customers
                .get(&o.customer)
                .ok_or_else(|| {
                    AppError::invalid("customer", format!("unknown customer `{}`", o.customer))
                })?
                .int(1)?;
            let refunded = before.get(&o.order_no).map(|r| r.int(1)).transpose()?;
            if let Some(refunded) = refunded
                && o.paid_minor < refunded
            {
                return Err(AppError::invalid(
                    "paid_minor",
                    format!(
                        "{} is less than the {refunded} already refunded on order `{}`",
                        o.paid_minor, o.order_no
                    ),
                ));
            }
            for (i, line) in o.lines.iter().enumerate() {
                let field = |f: &str| format!("lines[{i}].{f}");
                if !skus.contains_key(&line.sku) {
                    return Err(AppError::invalid(
                        field("sku"),
                        format!("unknown SKU `{}`", line.sku),
                    ));
                }
                if let Some(serial) = &line.serial
                    && !serials.contains_key(serial)
                {
                    return Err(AppError::invalid(
                        field("serial"),
                        format!("unknown serial `{serial}`"),
                    ));
                }
            }
            Ok(customer)
        });
        match checked {
            Ok(id) => customer_ids.push(id),
            Err(e) if e.is_callers() => problems.push((i, e)),
            Err(e) => return Err(e),
        }
    }
    if !problems.is_empty() {
        return Ok(problems);
    }
    let with_customer: Vec<(&Order, i64)> = orders.iter().zip(customer_ids).collect();
    insert_many(
        tx,
        "INSERT INTO orders (order_no, customer_id, channel, ordered_at, shipped_on, delivered_on,
           currency, shipping_fee_minor, paid_minor, payment_method, distance)",
        11,
        "ON CONFLICT (order_no) DO UPDATE SET customer_id = excluded.customer_id,
           channel = excluded.channel, distance = excluded.distance, ordered_at = excluded.ordered_at,
           shipped_on = excluded.shipped_on, delivered_on = excluded.delivered_on,
           currency = excluded.currency, shipping_fee_minor = excluded.shipping_fee_minor,
           paid_minor = excluded.paid_minor, payment_method = excluded.payment_method",
        &with_customer,
        &|(o, customer), p| {
            p.extend([
                (&o.order_no).into(),
                Val::Int(*customer),
                (&o.channel).into(),
                o.ordered_on.to_string().into(),
                o.shipped_on.map(|d| d.to_string()).into(),
                o.delivered_on.map(|d| d.to_string()).into(),
                (&o.currency).into(),
                Val::Int(o.shipping_fee_minor),
                Val::Int(o.paid_minor),
                o.payment_method.clone().into(),
                o.distance.map(i64::from).into(),
            ]);
        },
        progress,
    )?;
    let lines: Vec<(&str, i64, &OrderLine)> = orders
        .iter()
        .flat_map(|o| {
            (1i64..)
                .zip(&o.lines)
                .map(|(n, l)| (o.order_no.as_str(), n, l))
        })
        .collect();
    insert_many(
        tx,
        "INSERT INTO order_lines (order_no, line_no, sku, serial, quantity, price_minor)",
        6,
        "ON CONFLICT (order_no, line_no) DO UPDATE SET sku = excluded.sku,
           serial = excluded.serial, quantity = excluded.quantity,
           price_minor = excluded.price_minor",
        &lines,
        &|(order_no, line_no, line), p| {
            p.extend([
                (*order_no).into(),
                Val::Int(*line_no),
                (&line.sku).into(),
                line.serial.clone().into(),
                Val::Int(line.quantity),
                Val::Int(line.price_minor),
            ]);
        },
        &mut |_| {},
    )?;
    drop_lost_lines(
        tx,
        "DELETE FROM order_lines WHERE order_no = ? AND line_no > ?",
        &before,
        2,
        orders.iter().map(|o| (o.order_no.as_str(), o.lines.len())),
    )?;
    Ok(problems)
}

pub fn upsert_invoice(tx: &mut dyn Tx, inv: &Invoice, today: Date) -> Result<(), AppError> {
    first_refusal(upsert_invoices(
        tx,
        std::slice::from_ref(inv),
        today,
        &mut |_| {},
    )?)
}

/// Checks every invoice, then, if all are good, writes them and their lines many to a
/// statement. Returns each refused invoice's index and reason; nothing is written when there
/// is any.
pub fn upsert_invoices(
    tx: &mut dyn Tx,
    invoices: &[Invoice],
    today: Date,
    progress: &mut dyn FnMut(usize),
) -> Result<Vec<(usize, AppError)>, AppError> {
    let orders = rows_by_key(
        tx,
        "SELECT order_no FROM orders WHERE order_no IN",
        invoices.iter().filter_map(|v| v.order_no.as_deref()),
    )?;
    let before = rows_by_key(
        tx,
        "SELECT i.invoice_no,
           (SELECT count(*) FROM invoice_lines l WHERE l.invoice_no = i.invoice_no)
         FROM invoices i WHERE invoice_no IN",
        invoices.iter().map(|v| v.invoice_no.as_str()),
    )?;
    let mut problems = Vec::new();
    for (i, inv) in invoices.iter().enumerate() {
        let checked = not_empty("invoice_no", &inv.invoice_no).and_then(|()| {
            if inv.issued_on > today {
                return Err(AppError::invalid(
                    "issued_on",
                    format!("{} is in the future", inv.issued_on),
                ));
            }
            match &inv.order_no {
                Some(order) if !orders.contains_key(order) => Err(AppError::invalid(
                    "order_no",
                    format!("unknown order `{order}`"),
                )),
                _ => Ok(()),
            }
        });
        if let Err(e) = checked {
            problems.push((i, e));
        }
    }
    if !problems.is_empty() {
        return Ok(problems);
    }
    insert_many(
        tx,
        "INSERT INTO invoices (invoice_no, order_no, issued_on, valid)",
        4,
        "ON CONFLICT (invoice_no) DO UPDATE SET order_no = excluded.order_no,
           issued_on = excluded.issued_on, valid = excluded.valid",
        invoices,
        &|inv, p| {
            p.extend([
                (&inv.invoice_no).into(),
                inv.order_no.clone().into(),
                inv.issued_on.to_string().into(),
                inv.valid.into(),
            ]);
        },
        progress,
    )?;
    let lines: Vec<(&str, i64, &InvoiceLine)> = invoices
        .iter()
        .flat_map(|inv| {
            (1i64..)
                .zip(&inv.lines)
                .map(|(n, l)| (inv.invoice_no.as_str(), n, l))
        })
        .collect();
    insert_many(
        tx,
        "INSERT INTO invoice_lines (invoice_no, line_no, model, serial)",
        4,
        "ON CONFLICT (invoice_no, line_no) DO UPDATE SET model = excluded.model,
           serial = excluded.serial",
        &lines,
        &|(invoice_no, line_no, line), p| {
            p.extend([
                (*invoice_no).into(),
                Val::Int(*line_no),
                (&line.model).into(),
                line.serial.clone().into(),
            ]);
        },
        &mut |_| {},
    )?;
    drop_lost_lines(
        tx,
        "DELETE FROM invoice_lines WHERE invoice_no = ? AND line_no > ?",
        &before,
        1,
        invoices
            .iter()
            .map(|v| (v.invoice_no.as_str(), v.lines.len())),
    )?;
    Ok(problems)
}

/// Checks every shipment, then, if all are good, writes them many to a statement. A shipment
/// leaves after its order was placed, arrives after it left, and neither is in the future.
/// Returns each refused shipment's index and reason; nothing is written when there is any.
pub fn upsert_shipments(
    tx: &mut dyn Tx,
    shipments: &[Shipment],
    today: Date,
    progress: &mut dyn FnMut(usize),
) -> Result<Vec<(usize, AppError)>, AppError> {
    let orders = rows_by_key(
        tx,
        "SELECT order_no, ordered_at FROM orders WHERE order_no IN",
        shipments.iter().map(|s| s.order_no.as_str()),
    )?;
    let mut problems = Vec::new();
    for (i, sh) in shipments.iter().enumerate() {
        let checked = not_empty("carrier", &sh.carrier)
            .and_then(|()| not_empty("tracking", &sh.tracking))
            .and_then(|()| {
                let order = orders.get(&sh.order_no).ok_or_else(|| {
                    AppError::invalid("order_no", format!("unknown order `{}`", sh.order_no))
                })?;
                for (field, d) in [
                    ("shipped_on", Some(sh.shipped_on)),
                    ("delivered_on", sh.delivered_on),
                ] {
                    if let Some(d) = d
                        && d > today
                    {
                        return Err(AppError::invalid(field, format!("{d} is in the future")));
                    }
                }
                let ordered = order.text(1)?;
                if sh.shipped_on.to_string() < ordered {
                    return Err(AppError::invalid(
                        "shipped_on",
                        format!("{} is before the order's date {ordered}", sh.shipped_on),
                    ));
                }
                if let Some(d) = sh.delivered_on
                    && d < sh.shipped_on
                {
                    return Err(AppError::invalid(
                        "delivered_on",
                        format!("{d} is before shipped_on {}", sh.shipped_on),
                    ));
                }
                Ok(())
            });
        match checked {
            Ok(()) => {}
            Err(e) if e.is_callers() => problems.push((i, e)),
            Err(e) => return Err(e),
        }
    }
    if !problems.is_empty() {
        return Ok(problems);
    }
    insert_many(
        tx,
        "INSERT INTO shipments (carrier, tracking, order_no, shipped_on, delivered_on)",
        5,
        "ON CONFLICT (carrier, tracking) DO UPDATE SET order_no = excluded.order_no,
           shipped_on = excluded.shipped_on, delivered_on = excluded.delivered_on",
        shipments,
        &|sh, p| {
            p.extend([
                (&sh.carrier).into(),
                (&sh.tracking).into(),
                (&sh.order_no).into(),
                sh.shipped_on.to_string().into(),
                sh.delivered_on.map(|d| d.to_string()).into(),
            ]);
        },
        progress,
    )?;
    Ok(problems)
}

/// An order's shipping date as the registry knows it, over an order `o`: when its first
/// shipment left if it has any, else the order's own.
macro_rules! order_shipped_sql {
    () => {
        "(SELECT CASE WHEN COUNT(*) = 0 THEN o.shipped_on ELSE MIN(s.shipped_on) END
          FROM shipments s WHERE s.order_no = o.order_no)"
    };
}

/// An order's delivery date as the registry knows it, over an order `o`: when its last
/// shipment arrived, and not before every one has, if it has any; else the order's own.
macro_rules! order_delivered_sql {
    () => {
        "(SELECT CASE WHEN COUNT(*) = 0 THEN o.delivered_on
                      WHEN COUNT(*) = COUNT(s.delivered_on) THEN MAX(s.delivered_on) END
          FROM shipments s WHERE s.order_no = o.order_no)"
    };
}
pub(crate) use order_delivered_sql;

/// An order's dates and terms, with shipping and delivery as the registry knows them (see
/// `order_shipped_sql!` and `order_delivered_sql!`). Columns: ordered_at, channel, shipped,
/// delivered, currency, shipping_fee_minor, customer_id, distance. Parameter: the order number.
pub(crate) const ORDER_WITH_DELIVERY: &str = concat!(
    "SELECT o.ordered_at, o.channel, ",
    order_shipped_sql!(),
    ", ",
    order_delivered_sql!(),
    ", o.currency, o.shipping_fee_minor, o.customer_id, o.distance FROM orders o WHERE o.order_no = ?"
);
