//! CSV files for the registry, one kind per file, told apart by their header:
//!
//! | kind | columns |
//! |---|---|
//! | skus | code, name, class, components, security_sensitive, seller, policy, [policy_by_country: `DE=p1;FR=p2`] |
//! | customers | ref, kind, name, email, phone, country |
//! | units | serial, sku, manufactured_on, genuine |
//! | orders | order_no, customer, channel, ordered_on, shipped_on, delivered_on, currency, shipping_fee_minor, paid_minor, payment_method, sku, serial, quantity, price_minor, [distance: `true`, `false` or empty] |
//! | invoices | invoice_no, order_no, issued_on, valid, model, serial |
//! | shipments | carrier, tracking, order_no, shipped_on, delivered_on |
//!
//! Orders and invoices take one row per line; the rows of one order (or invoice) must follow
//! each other and agree on the order's own columns. Every bad row is reported with its line
//! number, and then nothing is loaded.

use jiff::civil::Date;
use serde::Deserialize;

use crate::import::{Batch, ImportError};
use crate::registry::{Customer, Invoice, InvoiceLine, Order, OrderLine, Shipment, Sku, Unit};

const KINDS: &[(&str, &[&str])] = &[
    (
        "skus",
        &[
            "code",
            "name",
            "class",
            "components",
            "security_sensitive",
            "seller",
            "policy",
        ],
    ),
    (
        "customers",
        &["ref", "kind", "name", "email", "phone", "country"],
    ),
    ("units", &["serial", "sku", "manufactured_on", "genuine"]),
    (
        "orders",
        &[
            "order_no",
            "customer",
            "channel",
            "ordered_on",
            "shipped_on",
            "delivered_on",
            "currency",
            "shipping_fee_minor",
            "paid_minor",
            "payment_method",
            "sku",
            "serial",
            "quantity",
            "price_minor",
        ],
    ),
    (
        "invoices",
        &[
            "invoice_no",
            "order_no",
            "issued_on",
            "valid",
            "model",
            "serial",
        ],
    ),
    (
        "shipments",
        &[
            "carrier",
            "tracking",
            "order_no",
            "shipped_on",
            "delivered_on",
        ],
    ),
];

#[derive(Deserialize)]
struct ShipmentRow {
    carrier: String,
    tracking: String,
    order_no: String,
    shipped_on: String,
    delivered_on: Option<String>,
}

#[derive(Deserialize)]
struct OrderRow {
    order_no: String,
    customer: String,
    channel: String,
    ordered_on: String,
    shipped_on: Option<String>,
    delivered_on: Option<String>,
    currency: String,
    shipping_fee_minor: Option<i64>,
    paid_minor: i64,
    payment_method: Option<String>,
    sku: String,
    serial: Option<String>,
    quantity: Option<i64>,
    price_minor: i64,
    distance: Option<bool>,
}

#[derive(Deserialize)]
struct InvoiceRow {
    invoice_no: String,
    order_no: Option<String>,
    issued_on: String,
    valid: Option<bool>,
    model: String,
    serial: Option<String>,
}

#[derive(Deserialize)]
struct SkuRow {
    code: String,
    name: String,
    class: String,
    components: Option<String>,
    security_sensitive: Option<bool>,
    seller: String,
    policy: String,
    policy_by_country: Option<String>,
}

#[derive(Deserialize)]
struct UnitRow {
    serial: String,
    sku: String,
    manufactured_on: Option<String>,
    genuine: Option<bool>,
}

/// A date column: `YYYY-MM-DD`, or empty.
fn date(column: &str, value: Option<&str>) -> Result<Option<Date>, String> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v
            .parse::<Date>()
            .map(Some)
            .map_err(|e| format!("{column}: `{v}` is not a date (YYYY-MM-DD): {e}")),
    }
}

/// Reads one CSV file into a batch, with each record's line number kept for messages.
pub fn parse(text: &str) -> Result<Batch, ImportError> {
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| one(format!("line 1: {e}")))?
        .iter()
        .map(str::to_string)
        .collect();
    let kind = kind_of(&header)?;
    let mut batch = Batch::default();
    let mut problems = Vec::new();
    let mut record = csv::StringRecord::new();
    let headers = csv::StringRecord::from(header.clone());
    loop {
        match rdr.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                problems.push(format!("{e}"));
                break;
            }
        }
        let line = record.position().map_or(0, csv::Position::line);
        let place = format!("line {line}");
        let bad = |e: csv::Error| format!("{place}: {}", reason(&e, &header));
        match kind {
            "skus" => match record.deserialize::<SkuRow>(Some(&headers)) {
                Ok(r) => {
                    // `DE=imiki-eu;FR=imiki-eu`
                    let mut by_country = std::collections::BTreeMap::new();
                    let mut bad_pair = None;
                    for pair in r.policy_by_country.as_deref().unwrap_or("").split(';') {
                        if pair.trim().is_empty() {
                            continue;
                        }
                        match pair.split_once('=') {
                            Some((c, p)) => {
                                by_country.insert(c.trim().to_string(), p.trim().to_string());
                            }
                            None => bad_pair = Some(pair.to_string()),
                        }
                    }
                    if let Some(pair) = bad_pair {
                        problems.push(format!(
                            "{place}: policy_by_country: `{pair}` is not COUNTRY=POLICY"
                        ));
                        continue;
                    }
                    batch.places.insert(("skus", batch.skus.len()), place);
                    batch.skus.push(Sku {
                        code: r.code,
                        name: r.name,
                        class: r.class,
                        components: r.components.unwrap_or_default(),
                        security_sensitive: r.security_sensitive.unwrap_or(false),
                        seller: r.seller,
                        policy: r.policy,
                        policy_by_country: by_country,
                    });
                }
                Err(e) => problems.push(bad(e)),
            },
            "customers" => match record.deserialize::<Customer>(Some(&headers)) {
                Ok(r) => {
                    batch
                        .places
                        .insert(("customers", batch.customers.len()), place);
                    batch.customers.push(r);
                }
                Err(e) => problems.push(bad(e)),
            },
            "units" => match record.deserialize::<UnitRow>(Some(&headers)) {
                Ok(r) => match date("manufactured_on", r.manufactured_on.as_deref()) {
                    Ok(manufactured_on) => {
                        batch.places.insert(("units", batch.units.len()), place);
                        batch.units.push(Unit {
                            serial: r.serial,
                            sku: r.sku,
                            manufactured_on,
                            genuine: r.genuine.unwrap_or(true),
                        });
                    }
                    Err(e) => problems.push(format!("{place}: {e}")),
                },
                Err(e) => problems.push(bad(e)),
            },
            "orders" => match record.deserialize::<OrderRow>(Some(&headers)) {
                Ok(r) => {
                    let dates = (|| -> Result<_, String> {
                        Ok((
                            date("ordered_on", Some(&r.ordered_on))?
                                .ok_or("ordered_on: must not be empty")?,
                            date("shipped_on", r.shipped_on.as_deref())?,
                            date("delivered_on", r.delivered_on.as_deref())?,
                        ))
                    })();
                    let (ordered_on, shipped_on, delivered_on) = match dates {
                        Ok(d) => d,
                        Err(e) => {
                            problems.push(format!("{place}: {e}"));
                            continue;
                        }
                    };
                    let line_item = OrderLine {
                        sku: r.sku.clone(),
                        serial: r.serial.clone(),
                        quantity: r.quantity.unwrap_or(1),
                        price_minor: r.price_minor,
                    };
                    let order = Order {
                        order_no: r.order_no,
                        customer: r.customer,
                        channel: r.channel,
                        distance: r.distance,
                        ordered_on,
                        shipped_on,
                        delivered_on,
                        currency: r.currency,
                        shipping_fee_minor: r.shipping_fee_minor.unwrap_or(0),
                        paid_minor: r.paid_minor,
                        payment_method: r.payment_method,
                        lines: Vec::new(),
                    };
                    match batch.orders.last_mut() {
                        Some(prev) if prev.order_no == order.order_no => {
                            let same = Order {
                                lines: Vec::new(),
                                ..prev.clone()
                            } == order;
                            if same {
                                prev.lines.push(line_item);
                            } else {
                                problems.push(format!(
                                    "{place}: order `{}` continues with different order columns than its first row",
                                    order.order_no
                                ));
                            }
                        }
                        _ => {
                            batch.places.insert(("orders", batch.orders.len()), place);
                            batch.orders.push(Order {
                                lines: vec![line_item],
                                ..order
                            });
                        }
                    }
                }
                Err(e) => problems.push(bad(e)),
            },
            "shipments" => match record.deserialize::<ShipmentRow>(Some(&headers)) {
                Ok(r) => {
                    let dates = date("shipped_on", Some(&r.shipped_on)).and_then(|shipped| {
                        Ok((shipped, date("delivered_on", r.delivered_on.as_deref())?))
                    });
                    match dates {
                        Ok((Some(shipped_on), delivered_on)) => {
                            batch
                                .places
                                .insert(("shipments", batch.shipments.len()), place);
                            batch.shipments.push(Shipment {
                                carrier: r.carrier,
                                tracking: r.tracking,
                                order_no: r.order_no,
                                shipped_on,
                                delivered_on,
                            });
                        }
                        Ok((None, _)) => {
                            problems.push(format!("{place}: shipped_on: must not be empty"));
                        }
                        Err(e) => problems.push(format!("{place}: {e}")),
                    }
                }
                Err(e) => problems.push(bad(e)),
            },
            _ => match record.deserialize::<InvoiceRow>(Some(&headers)) {
                Ok(r) => {
                    let issued_on = match date("issued_on", Some(&r.issued_on)) {
                        Ok(Some(d)) => d,
                        Ok(None) => {
                            problems.push(format!("{place}: issued_on: must not be empty"));
                            continue;
                        }
                        Err(e) => {
                            problems.push(format!("{place}: {e}"));
                            continue;
                        }
                    };
                    let item = InvoiceLine {
                        model: r.model,
                        serial: r.serial,
                    };
                    match batch.invoices.last_mut() {
                        Some(prev) if prev.invoice_no == r.invoice_no => prev.lines.push(item),
                        _ => {
                            batch
                                .places
                                .insert(("invoices", batch.invoices.len()), place);
                            batch.invoices.push(Invoice {
                                invoice_no: r.invoice_no,
                                order_no: r.order_no,
                                issued_on,
                                valid: r.valid.unwrap_or(true),
                                lines: vec![item],
                            });
                        }
                    }
                }
                Err(e) => problems.push(bad(e)),
            },
        }
    }
    if problems.is_empty() {
        Ok(batch)
    } else {
        Err(ImportError { problems })
    }
}

fn one(problem: String) -> ImportError {
    ImportError {
        problems: vec![problem],
    }
}

/// Columns a kind of file may have or leave out.
const OPTIONAL: &[(&str, &[&str])] = &[("skus", &["policy_by_country"]), ("orders", &["distance"])];

/// The kind of file a header belongs to, or which columns are wrong.
fn kind_of(header: &[String]) -> Result<&'static str, ImportError> {
    let has = |c: &str| header.iter().any(|h| h == c);
    // The kind whose key column (the first) is present and that shares most columns.
    let best = KINDS
        .iter()
        .filter(|(_, cols)| cols.first().is_some_and(|k| has(k)))
        .max_by_key(|(_, cols)| cols.iter().filter(|c| has(c)).count());
    let Some((kind, cols)) = best else {
        let kinds: Vec<String> = KINDS
            .iter()
            .map(|(k, cols)| format!("{k} ({})", cols.first().unwrap_or(&"")))
            .collect();
        return Err(one(format!(
            "line 1: the header names no known kind of file; the first column tells it: {}",
            kinds.join(", ")
        )));
    };
    let optional: &[&str] = OPTIONAL
        .iter()
        .find(|(k, _)| k == kind)
        .map_or(&[], |(_, o)| o);
    let unknown: Vec<&str> = header
        .iter()
        .map(String::as_str)
        .filter(|h| !cols.contains(h) && !optional.contains(h))
        .collect();
    let missing: Vec<&str> = cols.iter().copied().filter(|c| !has(c)).collect();
    if unknown.is_empty() && missing.is_empty() {
        return Ok(kind);
    }
    let mut why = Vec::new();
    if !unknown.is_empty() {
        why.push(format!("unknown column(s) `{}`", unknown.join("`, `")));
    }
    if !missing.is_empty() {
        why.push(format!("missing column(s) `{}`", missing.join("`, `")));
    }
    Err(one(format!(
        "line 1: {} for a {kind} file, which has: {}",
        why.join(" and "),
        cols.join(", ")
    )))
}

/// A row's deserialisation error without the csv crate's position prefix (the line is said
/// separately).
fn reason(e: &csv::Error, header: &[String]) -> String {
    match e.kind() {
        csv::ErrorKind::Deserialize { err, .. } => {
            let column = err
                .field()
                .and_then(|i| usize::try_from(i).ok())
                .and_then(|i| header.get(i));
            match column {
                Some(c) => format!("{c}: {}", err.kind()),
                None => err.kind().to_string(),
            }
        }
        _ => e.to_string(),
    }
}
