//! Loading the registry from a file: one JSON document with any of `skus`, `customers`,
//! `units`, `orders`, `invoices` and `shipments`, loaded in that order in one transaction. Every bad
//! record is reported (up to a limit) with its place and the reason, and then nothing is
//! written. Loading the same file again changes nothing: every write is an upsert by natural
//! key.

use std::collections::HashMap;

use aftercare_store::{Store, Tx};
use jiff::Timestamp;
use jiff::civil::Date;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::AppError;
use crate::audit::{self, Event};
use crate::registry::{self, Customer, Invoice, Order, Shipment, Sku, Unit};

/// A registry document.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    #[serde(default)]
    pub skus: Vec<Sku>,
    #[serde(default)]
    pub customers: Vec<Customer>,
    #[serde(default)]
    pub units: Vec<Unit>,
    #[serde(default)]
    pub orders: Vec<Order>,
    #[serde(default)]
    pub invoices: Vec<Invoice>,
    #[serde(default)]
    pub shipments: Vec<Shipment>,
    /// Where each record came from, when not its index in a JSON array (a CSV line).
    #[serde(skip)]
    pub places: HashMap<(&'static str, usize), String>,
}

impl Batch {
    /// Where record `i` of `kind` came from: `line 7` for CSV, `units[3]` for JSON.
    pub fn place(&self, kind: &'static str, i: usize) -> String {
        self.places
            .get(&(kind, i))
            .cloned()
            .unwrap_or_else(|| format!("{kind}[{i}]"))
    }

    pub fn len(&self) -> usize {
        self.skus.len()
            + self.customers.len()
            + self.units.len()
            + self.orders.len()
            + self.invoices.len()
            + self.shipments.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// How many records of each kind were loaded.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Loaded {
    pub skus: usize,
    pub customers: usize,
    pub units: usize,
    pub orders: usize,
    pub invoices: usize,
    pub shipments: usize,
}

/// Why a file was not loaded: every problem found, each with where it is.
#[derive(Debug, thiserror::Error)]
#[error("{} problem(s), nothing was imported:\n{}", .problems.len(), .problems.join("\n"))]
pub struct ImportError {
    pub problems: Vec<String>,
}

/// Refuses a SKU that names a policy of another seller (or one not loaded): its cases would
/// be decided by one seller's rules and seen by another's staff.
fn sku_policies_are_its_sellers(policies: &crate::Policies, s: &Sku) -> Result<(), AppError> {
    let named = std::iter::once(("policy".to_string(), &s.policy)).chain(
        s.policy_by_country
            .iter()
            .map(|(c, p)| (format!("policy_by_country.{c}"), p)),
    );
    for (field, id) in named {
        let seller = policies
            .get(id)
            .map_err(|_| AppError::invalid(field.clone(), format!("no policy `{id}` is loaded")))?
            .seller
            .clone();
        if seller.as_deref() != Some(s.seller.as_str()) {
            return Err(AppError::invalid(
                field,
                format!(
                    "policy `{id}` is {}'s, not {}'s",
                    seller.as_deref().unwrap_or("no seller"),
                    s.seller
                ),
            ));
        }
    }
    Ok(())
}

/// At most this many problems are listed.
const MAX_PROBLEMS: usize = 100;

pub fn parse_json(text: &str) -> Result<Batch, ImportError> {
    serde_json::from_str(text).map_err(|e| ImportError {
        problems: vec![format!("line {}, column {}: {e}", e.line(), e.column())],
    })
}

/// Loads `batch`; `progress(done, total)` is called as records are written. A SKU must name
/// policies of its own seller (`policies` are the ones loaded).
#[expect(
    clippy::too_many_arguments,
    reason = "one use case's inputs; each is needed"
)]
pub fn load(
    store: &mut Store,
    policies: &crate::Policies,
    batch: &Batch,
    source: &str,
    actor: &str,
    now: Timestamp,
    today: Date,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Loaded, ImportError> {
    let mut problems = duplicates(batch);
    if !problems.is_empty() {
        return Err(ImportError { problems });
    }
    let total = u64::try_from(batch.len()).unwrap_or(u64::MAX);
    let result = store.tx(|tx| -> Result<Loaded, AppError> {
        let done = std::cell::Cell::new(0u64);
        let progress = std::cell::RefCell::new(progress);
        let advance = |n: u64| {
            let before = done.get();
            done.set(before + n);
            if (before + n) / 1024 != before / 1024 || before + n == total {
                (progress.borrow_mut())(before + n, total);
            }
        };
        let step = |tx: &mut dyn Tx,
                    place: String,
                    f: &dyn Fn(&mut dyn Tx) -> Result<(), AppError>,
                    problems: &mut Vec<String>|
         -> Result<(), AppError> {
            match f(tx) {
                Ok(()) => {}
                // A refused value: note it and go on, to report every bad record at once.
                Err(e) if e.is_callers() => {
                    if problems.len() < MAX_PROBLEMS {
                        problems.push(format!("{place}: {e}"));
                    }
                }
                Err(e) => return Err(e),
            }
            advance(1);
            Ok(())
        };
        for (i, s) in batch.skus.iter().enumerate() {
            step(
                tx,
                format!("{} (code `{}`)", batch.place("skus", i), s.code),
                &|tx| {
                    sku_policies_are_its_sellers(policies, s)?;
                    registry::upsert_sku(tx, s)
                },
                &mut problems,
            )?;
        }
        for (i, c) in batch.customers.iter().enumerate() {
            step(
                tx,
                format!("{} (ref `{}`)", batch.place("customers", i), c.reference),
                &|tx| registry::upsert_customer(tx, c).map(|_| ()),
                &mut problems,
            )?;
        }
        // Units, orders, invoices and shipments come in bulk: checked one by one, written many
        // to a statement.
        let refused = [
            bulk(
                tx,
                batch,
                "units",
                &batch.units,
                |u| format!("serial `{}`", u.serial),
                registry::upsert_units,
                &advance,
            )?,
            bulk(
                tx,
                batch,
                "orders",
                &batch.orders,
                |o| format!("order_no `{}`", o.order_no),
                |tx, x, p| registry::upsert_orders(tx, x, today, p),
                &advance,
            )?,
            bulk(
                tx,
                batch,
                "invoices",
                &batch.invoices,
                |v| format!("invoice_no `{}`", v.invoice_no),
                |tx, x, p| registry::upsert_invoices(tx, x, today, p),
                &advance,
            )?,
            bulk(
                tx,
                batch,
                "shipments",
                &batch.shipments,
                |s| format!("tracking `{} {}`", s.carrier, s.tracking),
                |tx, x, p| registry::upsert_shipments(tx, x, today, p),
                &advance,
            )?,
        ];
        let room = MAX_PROBLEMS.saturating_sub(problems.len());
        problems.extend(refused.into_iter().flatten().take(room));
        if !problems.is_empty() {
            // Rolls the whole batch back.
            return Err(AppError::Refused(String::new()));
        }
        let loaded = Loaded {
            skus: batch.skus.len(),
            customers: batch.customers.len(),
            units: batch.units.len(),
            orders: batch.orders.len(),
            invoices: batch.invoices.len(),
            shipments: batch.shipments.len(),
        };
        audit::append(
            tx,
            now,
            &Event::new(
                actor,
                "import",
                aftercare_store::hex(&Sha256::digest(source.as_bytes())),
                "import",
                json!({
                    "skus": loaded.skus,
                    "customers": loaded.customers,
                    "units": loaded.units,
                    "orders": loaded.orders,
                    "invoices": loaded.invoices,
                    "shipments": loaded.shipments,
                }),
            ),
        )?;
        Ok(loaded)
    });
    match result {
        Ok(l) => Ok(l),
        Err(_) if !problems.is_empty() => Err(ImportError { problems }),
        Err(e) => Err(ImportError {
            problems: vec![e.to_string()],
        }),
    }
}

/// One bulk step of a load: `upsert` checks and writes `items`, progress advances as it
/// writes, and each refused record comes back as a message naming its place and key.
fn bulk<T>(
    tx: &mut dyn Tx,
    batch: &Batch,
    kind: &'static str,
    items: &[T],
    key: impl Fn(&T) -> String,
    upsert: impl FnOnce(
        &mut dyn Tx,
        &[T],
        &mut dyn FnMut(usize),
    ) -> Result<Vec<(usize, AppError)>, AppError>,
    advance: &dyn Fn(u64),
) -> Result<Vec<String>, AppError> {
    let mut written = 0;
    let refused = upsert(tx, items, &mut |n| {
        advance(u64::try_from(n - written).unwrap_or(0));
        written = n;
    })?;
    Ok(refused
        .into_iter()
        .map(|(i, e)| {
            let key = items.get(i).map(&key).unwrap_or_default();
            format!("{} ({key}): {e}", batch.place(kind, i))
        })
        .collect())
}

/// The same natural key twice in one file is a mistake, not an update.
fn duplicates(batch: &Batch) -> Vec<String> {
    let mut out = Vec::new();
    let mut find = |kind: &'static str, key: &str, keys: Vec<&str>| {
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (i, k) in keys.into_iter().enumerate() {
            if let Some(first) = seen.insert(k, i) {
                out.push(format!(
                    "{}: duplicate {key} `{k}` (also {})",
                    batch.place(kind, i),
                    batch.place(kind, first)
                ));
            }
        }
    };
    find(
        "skus",
        "code",
        batch.skus.iter().map(|s| s.code.as_str()).collect(),
    );
    find(
        "customers",
        "ref",
        batch
            .customers
            .iter()
            .map(|c| c.reference.as_str())
            .collect(),
    );
    find(
        "units",
        "serial",
        batch.units.iter().map(|u| u.serial.as_str()).collect(),
    );
    find(
        "orders",
        "order_no",
        batch.orders.iter().map(|o| o.order_no.as_str()).collect(),
    );
    let tracking: Vec<String> = batch
        .shipments
        .iter()
        .map(|s| format!("{} {}", s.carrier, s.tracking))
        .collect();
    find(
        "shipments",
        "tracking",
        tracking.iter().map(String::as_str).collect(),
    );
    find(
        "invoices",
        "invoice_no",
        batch
            .invoices
            .iter()
            .map(|v| v.invoice_no.as_str())
            .collect(),
    );
    out
}
