//! Opening a case: what its references name (customer, order, unit, policy), checked
//! against each other and the registry, and the case written in `draft` with its audit event.

use aftercare_domain::case::{CaseKind, State};
use aftercare_store::{Store, Tx, Val};
use jiff::Timestamp;
use serde_json::{Map, Value as J, json};

use crate::audit::{self, Event};
use crate::case::{Case, check_facts, description};
use crate::effects::announce;
use crate::stated::{self, By};
use crate::time::micros;
use crate::{AppError, Policies};

/// What a new case needs.
#[derive(Clone, Debug, Default)]
pub struct NewCase {
    pub kind: Option<CaseKind>,
    /// The customer's ref.
    pub customer: Option<String>,
    pub order_no: Option<String>,
    pub serial: Option<String>,
    /// The seller policy; by default the one the unit's (or the order's) SKU names.
    pub policy: Option<String>,
    /// Facts about the case itself: the problem reported, the condition, evidence…
    pub facts: Map<String, J>,
    /// The request's own key (from its `Idempotency-Key`): opening again under the same key
    /// returns the case already opened.
    pub open_key: Option<String>,
    /// The customer's own words about what happened (at most [`MAX_DESCRIPTION`] characters).
    pub description: Option<String>,
}

/// The seller policy a new case would be decided by: the one it names, else the one its
/// unit's (or order's) SKU names for the buyer's country.
pub fn policy_for(tx: &mut dyn Tx, new: &NewCase) -> Result<String, AppError> {
    if let Some(p) = &new.policy {
        return Ok(p.clone());
    }
    References::resolve(tx, new)?.policy()
}

/// Opens a case in `draft`; returns its id. `by` says who states its facts.
pub fn open(
    store: &mut Store,
    policies: &Policies,
    new: &NewCase,
    by: By,
    actor: &str,
    now: Timestamp,
) -> Result<i64, AppError> {
    store.tx(|tx| open_in(tx, policies, new, by, actor, now, &|_| Ok(())))
}

/// [`open`] inside a transaction the caller holds; `allow` refuses a policy the caller may
/// not open cases under, once it is known.
pub fn open_in(
    tx: &mut dyn Tx,
    policies: &Policies,
    new: &NewCase,
    by: By,
    actor: &str,
    now: Timestamp,
    allow: &dyn Fn(&aftercare_policy::model::Policy) -> Result<(), AppError>,
) -> Result<i64, AppError> {
    let kind = new
        .kind
        .ok_or_else(|| AppError::invalid("kind", "a case needs a kind"))?;
    let refs = References::resolve(tx, new)?;
    if let Some(r) = &new.customer
        && refs.customer_id.is_none()
    {
        return Err(AppError::invalid(
            "customer",
            format!("unknown customer `{r}`"),
        ));
    }
    if let Some(o) = &new.order_no
        && !refs.order_known
    {
        return Err(AppError::invalid("order", format!("unknown order `{o}`")));
    }
    if let Some(s) = &new.serial
        && refs.unit_sku.is_none()
    {
        return Err(AppError::invalid("serial", format!("unknown serial `{s}`")));
    }
    let customer_id = refs.customer_id;
    let (policy_id, policy) = match &new.policy {
        // A policy the caller names is the caller's to get right.
        Some(p) => {
            let policy = policies.get(p).map_err(|e| match e {
                AppError::Config(m) => AppError::invalid("policy", m),
                e => e,
            })?;
            (p.clone(), policy)
        }
        None => {
            let p = refs.policy()?;
            let policy = policies.get(&p)?;
            (p, policy)
        }
    };
    allow(policy)?;
    refs.check(new, policy)?;
    check_facts(&new.facts)?;
    let stated_by = stated::check(&new.facts, by, &Map::new())?;
    let description = new
        .description
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty());
    if let Some(d) = description {
        self::description(d)?;
    }
    if let Some(k) = &new.open_key
        && let Some(r) = tx.query_opt("SELECT id FROM cases WHERE open_key = ?", &[k.into()])?
    {
        return Ok(r.int(0)?);
    }
    let at = micros(now);
    let mut case = Case {
        id: 0,
        kind,
        state: State::Draft,
        customer_id,
        order_no: new.order_no.clone(),
        serial: new.serial.clone(),
        policy_id: policy_id.clone(),
        facts: Map::new(),
        authorisation: None,
        ship_by: None,
        opened_at: now,
        updated_at: now,
        description: description.map(str::to_string),
        fact_sources: Map::new(),
    };
    case.state(&new.facts, &stated_by);
    let id = tx
        .query_one(
            "INSERT INTO cases (kind, state, customer_id, order_no, serial, policy_id, facts, opened_at, updated_at, open_key, description, fact_sources)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            &[
                kind.as_str().into(),
                State::Draft.as_str().into(),
                customer_id.into(),
                new.order_no.clone().into(),
                new.serial.clone().into(),
                (&policy_id).into(),
                J::Object(new.facts.clone()).to_string().into(),
                Val::Int(at),
                Val::Int(at),
                new.open_key.clone().into(),
                description.map(str::to_string).into(),
                J::Object(case.fact_sources.clone()).to_string().into(),
            ],
        )?
        .int(0)?;
    case.id = id;
    let seq = audit::append_first(
        tx,
        now,
        &Event::new(
            actor,
            "case",
            id,
            "open",
            json!({
                "kind": kind.as_str(),
                "state": "draft",
                "customer_id": customer_id,
                "order_no": new.order_no,
                "serial": new.serial,
                "policy": policy_id,
                "facts": new.facts,
            }),
        ),
    )?;
    crate::report_counts::count_opened(tx, &policy_id, kind.as_str(), id, now)?;
    announce(tx, policies, &case, "open", &seq, now)?;
    Ok(id)
}

/// What a new case refers to, looked up in one statement: the customer, whether the order
/// exists, the buyer's country, the SKU and the policy it names.
pub(crate) struct References {
    pub(crate) customer_id: Option<i64>,
    order_known: bool,
    /// The policy the SKU (the unit's, else the order's first line's) names for the buyer's
    /// country (the case's customer's, else the order's customer's), else its default.
    policy: Option<String>,
    /// The unit's SKU; `None` when no serial is given or it is unknown.
    unit_sku: Option<String>,
    /// The seller of the records named: the unit's SKU's, else the order's first line's.
    seller: Option<String>,
    /// Whether the serial was sold on the order (`None` unless both are named).
    serial_on_order: Option<bool>,
}

impl References {
    pub(crate) fn resolve(tx: &mut dyn Tx, new: &NewCase) -> Result<Self, AppError> {
        let row = tx.query_one(
            "SELECT
               (SELECT id FROM customers WHERE ref = ?),
               (SELECT COUNT(*) FROM orders WHERE order_no = ?),
               (SELECT sku FROM units WHERE serial = ?),
               (SELECT k.seller FROM units u JOIN skus k ON k.code = u.sku WHERE u.serial = ?),
               (SELECT k.seller FROM order_lines l JOIN skus k ON k.code = l.sku
                 WHERE l.order_no = ? ORDER BY l.line_no LIMIT 1),
               (SELECT COUNT(*) FROM order_lines WHERE order_no = ? AND serial = ?),
               (SELECT COALESCE(p.policy_id, k.policy_id) FROM skus k
                 LEFT JOIN sku_policies p ON p.sku = k.code AND p.country =
                   CASE WHEN CAST(? AS TEXT) IS NOT NULL
                     THEN (SELECT country FROM customers WHERE ref = ?)
                     ELSE (SELECT c.country FROM orders o JOIN customers c ON c.id = o.customer_id
                            WHERE o.order_no = ?) END
                 WHERE k.code =
                   CASE WHEN CAST(? AS TEXT) IS NOT NULL
                     THEN (SELECT sku FROM units WHERE serial = ?)
                     ELSE (SELECT sku FROM order_lines WHERE order_no = ? ORDER BY line_no LIMIT 1) END)",
            &[
                new.customer.clone().into(),
                new.order_no.clone().into(),
                new.serial.clone().into(),
                new.serial.clone().into(),
                new.order_no.clone().into(),
                new.order_no.clone().into(),
                new.serial.clone().into(),
                new.customer.clone().into(),
                new.customer.clone().into(),
                new.order_no.clone().into(),
                new.serial.clone().into(),
                new.serial.clone().into(),
                new.order_no.clone().into(),
            ],
        )?;
        let customer_id = row.opt_int(0)?;
        let unit_sku = row.opt_text(2)?;
        let serial_on_order = match (&new.order_no, &new.serial) {
            (Some(order), Some(serial)) if row.int(5)? == 0 => {
                // A unit given in exchange was not on the order; the one it replaced was.
                let chain = crate::lineage::chain(tx, serial)?;
                let mut found = false;
                for earlier in chain.iter().skip(1) {
                    if tx
                        .query_opt(
                            "SELECT 1 FROM order_lines WHERE order_no = ? AND serial = ?",
                            &[order.into(), earlier.into()],
                        )?
                        .is_some()
                    {
                        found = true;
                        break;
                    }
                }
                Some(found)
            }
            (Some(_), Some(_)) => Some(true),
            _ => None,
        };
        Ok(Self {
            seller: if new.serial.is_some() {
                row.opt_text(3)?
            } else {
                row.opt_text(4)?
            },
            serial_on_order,
            customer_id,
            order_known: row.int(1)? > 0,
            policy: row.opt_text(6)?,
            unit_sku,
        })
    }

    /// Refuses a case whose records do not hang together: a serial not sold on the order it
    /// names, or a policy of another seller than the one who sold the item.
    pub(crate) fn check(
        &self,
        new: &NewCase,
        policy: &aftercare_policy::model::Policy,
    ) -> Result<(), AppError> {
        if self.serial_on_order == Some(false) {
            return Err(AppError::invalid(
                "serial",
                format!(
                    "`{}` was not sold on order `{}`",
                    new.serial.as_deref().unwrap_or(""),
                    new.order_no.as_deref().unwrap_or("")
                ),
            ));
        }
        if let (Some(records), Some(theirs)) = (&self.seller, &policy.seller)
            && records != theirs
        {
            return Err(AppError::invalid(
                "policy",
                format!(
                    "policy `{}` is {theirs}'s; the item was sold by {records}",
                    policy.id
                ),
            ));
        }
        Ok(())
    }

    /// The policy the SKU names for the buyer's country, else its default.
    pub(crate) fn policy(&self) -> Result<String, AppError> {
        if let Some(policy) = &self.policy {
            return Ok(policy.clone());
        }
        Err(AppError::invalid(
            "policy",
            "cannot tell which policy applies: name one, or give a serial or order whose SKU names one",
        ))
    }
}
