//! Warranty lineage: what happened to each unit. A repair records the parts it replaced, each
//! with the warranty its policy gives (IMASK: a part gets max(the unit's remaining warranty,
//! 90 days); parts of a paid repair 90 days); a replacement unit joins the registry pointing
//! at the unit it replaces, with its own warranty end (IMASK: a new 12 months; an accessory
//! recalculated). Failed repairs are counted per unit and feed the next decision
//! (`history.failed_repairs`). A serial's look-up shows its whole chain and history.

use aftercare_domain::case::State;
use aftercare_policy::schema::Output;
use aftercare_policy::value::Value;
use aftercare_store::{Store, Tx, Val};
use jiff::Timestamp;
use serde_json::{Value as J, json};

use crate::audit::{self, Event};
use crate::cases;
use crate::error::stored_json;
use crate::time::{from_micros, micros};
use crate::{AppError, Policies};

/// The outcome of a repair or replacement, reported by the workshop.
#[derive(Clone, Debug, Default)]
pub struct RepairReport {
    /// Whether the fault is cured.
    pub fixed: bool,
    /// Parts replaced, by name.
    pub parts: Vec<String>,
    /// For a replacement: the serial of the unit given in exchange.
    pub replacement_serial: Option<String>,
    /// Record it only if the case is still this version ([`cases::Case::version`]).
    pub if_version: Option<String>,
}

/// The most parts one report names.
const MAX_PARTS: usize = 20;

/// Records a repair (or replacement) of a case in `repairing` or `replacing`.
pub fn record_repair(
    store: &mut Store,
    policies: &Policies,
    case_id: i64,
    report: &RepairReport,
    actor: &str,
    now: Timestamp,
) -> Result<J, AppError> {
    if report.parts.len() > MAX_PARTS {
        return Err(AppError::invalid(
            "parts",
            format!("at most {MAX_PARTS} parts in one report"),
        ));
    }
    for (i, part) in report.parts.iter().enumerate() {
        let p = part.trim();
        if p.is_empty() || p.chars().count() > 80 || p.chars().any(char::is_control) {
            return Err(AppError::invalid(
                format!("parts[{i}]"),
                "a part is named in 1 to 80 characters",
            ));
        }
    }
    if let Some(new) = &report.replacement_serial {
        let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/');
        if new.is_empty() || new.len() > 64 || !new.chars().all(plain) {
            return Err(AppError::invalid(
                "replacement_serial",
                "1 to 64 letters, digits, `-`, `_`, `.` or `/`",
            ));
        }
    }
    store.tx(|tx| -> Result<J, AppError> {
        let mut case = cases::load(tx, case_id)?;
        if let Some(v) = &report.if_version
            && *v != case.version()
        {
            return Err(AppError::Stale(format!(
                "case {case_id} changed since version {v} (it is now {}): read it again",
                case.version()
            )));
        }
        if !matches!(case.state, State::Repairing | State::Replacing) {
            return Err(AppError::Refused(format!(
                "case {case_id} is `{}`: a repair is recorded while it is `repairing` or `replacing`",
                case.state
            )));
        }
        let serial = case
            .serial
            .clone()
            .ok_or_else(|| AppError::invalid("serial", format!("case {case_id} names no unit")))?;
        let policy = policies.get(&case.policy_id)?;
        let today = policy.day_of(now);
        // The repair is done today: the warranty it gives counts from here.
        case.facts
            .insert("repair.date".into(), J::String(today.to_string()));
        case.updated_at = now;
        tx.exec(
            "UPDATE cases SET facts = ?, updated_at = ? WHERE id = ?",
            &[
                J::Object(case.facts.clone()).to_string().into(),
                Val::Int(micros(now)),
                Val::Int(case_id),
            ],
        )?;
        let decision = cases::decide_in(tx, policies, &case, actor, now)?;
        let date_output = |o: Output| match decision.output(o) {
            Some(Value::Date(d)) => Some(*d),
            _ => None,
        };
        let paid = case.facts.contains_key("quote.paid");
        // The clause that set a part's warranty, as the decision cites it.
        // The clause that set a part's warranty, as the pages cite it: the seller's name for
        // its own policy (`IMASK Repair quality 1`), the policy's id for a law layer.
        let output_clause = |name: &str| {
            let summary = &decision.summary;
            let by = summary.pointer(&format!("/outputs/{}/by", name.replace('/', "~1")))?;
            let policy = by.get("policy")?.as_str()?;
            let whose = if summary.pointer("/policy/id").and_then(J::as_str) == Some(policy) {
                summary
                    .pointer("/policy/seller")
                    .and_then(J::as_str)
                    .unwrap_or(policy)
            } else {
                policy
            };
            Some(format!("{whose} {}", by.get("clause")?.as_str()?))
        };
        let part_clause = if paid {
            output_clause(Output::PaidRepairPartsWarranty.name())
        } else {
            output_clause(Output::PartWarrantyEnd.name())
        };
        // The policy's answer, else the unit's own warranty end, else nothing is promised.
        let part_until = if paid {
            match decision.output(Output::PaidRepairPartsWarranty) {
                Some(Value::Duration(p)) => p.add_to(today, 1),
                _ => None,
            }
        } else {
            date_output(Output::PartWarrantyEnd).or(decision.claimed_warranty_end)
        };
        let repair_id = tx
            .query_one(
                "INSERT INTO repairs (case_id, serial, finished_at, outcome, paid) VALUES (?, ?, ?, ?, ?) RETURNING id",
                &[
                    Val::Int(case_id),
                    (&serial).into(),
                    Val::Int(micros(now)),
                    if report.fixed { "fixed" } else { "failed" }.into(),
                    paid.into(),
                ],
            )?
            .int(0)?;
        let mut parts = Vec::new();
        for part in &report.parts {
            if part.trim().is_empty() {
                return Err(AppError::invalid("parts", "a part needs a name"));
            }
            let until = part_until.unwrap_or(today);
            tx.exec(
                "INSERT INTO unit_parts (serial, part, repair_id, installed_on, warranty_until) VALUES (?, ?, ?, ?, ?)",
                &[
                    (&serial).into(),
                    part.into(),
                    Val::Int(repair_id),
                    today.to_string().into(),
                    until.to_string().into(),
                ],
            )?;
            parts.push(json!({"part": part, "warranty_until": until.to_string(), "clause": part_clause}));
        }
        // Replaced parts go back to a customer who asked to keep them (Maintenance 2.5).
        let keeps = case.facts.get("customer.keeps_parts") == Some(&J::Bool(true));
        let mut detail = json!({
            "repair": repair_id,
            "outcome": if report.fixed { "fixed" } else { "failed" },
            "paid": paid,
            "parts": parts,
            "parts_to_customer": keeps && !report.parts.is_empty(),
        });
        if let Some(new) = &report.replacement_serial {
            let class = tx
                .query_one(
                    "SELECT k.class, u.sku FROM units u JOIN skus k ON k.code = u.sku WHERE u.serial = ?",
                    &[(&serial).into()],
                )?;
            let (class, sku) = (class.text(0)?, class.text(1)?);
            let accessory = matches!(class.as_str(), "accessory" | "adapter" | "cable" | "strap" | "buckle");
            let until = date_output(if accessory {
                Output::AccessoryWarrantyEnd
            } else {
                Output::UnitWarrantyEnd
            })
            .or(decision.claimed_warranty_end);
            if tx
                .query_opt("SELECT 1 FROM units WHERE serial = ?", &[new.into()])?
                .is_some()
            {
                return Err(AppError::invalid(
                    "replacement_serial",
                    format!("serial `{new}` is already in the registry"),
                ));
            }
            tx.exec(
                "INSERT INTO units (serial, sku, genuine, origin, replaces, warranty_until) VALUES (?, ?, 1, 'replacement', ?, ?)",
                &[new.into(), sku.into(), (&serial).into(), until.map(|d| d.to_string()).into()],
            )?;
            event(tx, new, now, "replacement_for", case_id, &json!({"replaces": serial, "warranty_until": until.map(|d| d.to_string())}))?;
            if let J::Object(m) = &mut detail {
                m.insert("replaced_by".into(), J::String(new.clone()));
                m.insert(
                    "replacement_warranty_until".into(),
                    until.map_or(J::Null, |d| J::String(d.to_string())),
                );
                let name = if accessory {
                    Output::AccessoryWarrantyEnd
                } else {
                    Output::UnitWarrantyEnd
                };
                m.insert(
                    "replacement_clause".into(),
                    output_clause(name.name()).map_or(J::Null, J::String),
                );
            }
        }
        event(tx, &serial, now, if report.replacement_serial.is_some() { "replaced" } else { "repaired" }, case_id, &detail)?;
        audit::append(
            tx,
            now,
            &Event::new(actor, "unit", serial, "repair", detail.clone()),
        )?;
        let seq = audit::append(
            tx,
            now,
            &Event::new(actor, "case", case_id, "repair_report", detail.clone()),
        )?;
        cases::announce(tx, policies, &case, "repair_report", &seq, now)?;
        if let J::Object(m) = &mut detail {
            m.insert("version".into(), J::String(case.version()));
        }
        Ok(detail)
    })
}

fn event(
    tx: &mut dyn Tx,
    serial: &str,
    at: Timestamp,
    kind: &str,
    case_id: i64,
    detail: &J,
) -> Result<(), AppError> {
    tx.exec(
        "INSERT INTO unit_events (serial, at, kind, case_id, detail) VALUES (?, ?, ?, ?, ?)",
        &[
            serial.into(),
            Val::Int(micros(at)),
            kind.into(),
            Val::Int(case_id),
            detail.to_string().into(),
        ],
    )?;
    Ok(())
}

/// The serials from `serial` back to the unit first sold, each replacement followed by the
/// unit it replaced (bounded, in case of a cycle in bad data).
pub(crate) fn chain(tx: &mut dyn Tx, serial: &str) -> Result<Vec<String>, AppError> {
    let rows = tx.query(CHAIN, &[serial.into()])?;
    chain_of_rows(serial, &rows)
}

/// One statement however long the chain: a recursive walk, bounded at 100 links.
pub(crate) const CHAIN: &str = "WITH RECURSIVE up (serial, replaces, depth) AS (
       SELECT serial, replaces, 0 FROM units WHERE serial = ?
       UNION ALL
       SELECT u.serial, u.replaces, up.depth + 1 FROM units u
       JOIN up ON u.serial = up.replaces WHERE up.depth < 100
     )
     SELECT serial FROM up ORDER BY depth";

/// [`chain`] from the rows of [`CHAIN`].
pub(crate) fn chain_of_rows(
    serial: &str,
    rows: &[aftercare_store::Row],
) -> Result<Vec<String>, AppError> {
    let mut chain = vec![serial.to_string()];
    for r in rows.iter().skip(1) {
        let s = r.text(0)?;
        if chain.contains(&s) {
            break;
        }
        chain.push(s);
    }
    Ok(chain)
}

/// A serial's first sale: order number, order date, delivery date (from the order's shipments
/// when it has any, as decisions take it) and channel, then how many times it was sold.
pub(crate) fn first_sale(
    tx: &mut dyn Tx,
    serial: &str,
) -> Result<Option<aftercare_store::Row>, AppError> {
    Ok(tx.query_opt(FIRST_SALE, &[serial.into()])?)
}

pub(crate) const FIRST_SALE: &str = concat!(
    "SELECT o.order_no, o.ordered_at, ",
    crate::registry::order_delivered_sql!(),
    ", o.channel, COUNT(*) OVER ()
     FROM order_lines l JOIN orders o ON o.order_no = l.order_no WHERE l.serial = ?
     ORDER BY o.ordered_at, o.order_no LIMIT 1"
);

/// Everything about a serial: the unit, the units it replaced back to the one first sold,
/// its first sale (a resale does not restart the warranty), parts with their warranty,
/// repairs and cases.
pub fn lookup(store: &mut Store, serial: &str) -> Result<J, AppError> {
    store.tx(|tx| -> Result<J, AppError> {
        let unit = tx
            .query_opt(
                "SELECT u.serial, u.sku, k.name, k.class, u.manufactured_on, u.genuine, u.origin,
                   u.replaces, u.warranty_until,
                   (SELECT COUNT(*) FROM repairs r WHERE r.serial = u.serial AND r.outcome = 'failed')
                 FROM units u JOIN skus k ON k.code = u.sku WHERE u.serial = ?",
                &[serial.into()],
            )?
            .ok_or_else(|| AppError::not_found("serial", serial))?;
        let failed = unit.int(9)?;
        let chain = chain(tx, serial)?;
        let root = chain.last().cloned().unwrap_or_else(|| serial.to_string());
        let (first_sale, sales) = match first_sale(tx, &root)? {
            Some(s) => (
                json!({"order_no": s.text(0)?, "ordered_on": s.text(1)?, "delivered_on": s.opt_text(2)?, "channel": s.text(3)?}),
                s.int(4)?,
            ),
            None => (J::Null, 0),
        };
        let parts = tx
            .query(
                "SELECT part, installed_on, warranty_until, repair_id FROM unit_parts WHERE serial = ? ORDER BY id",
                &[serial.into()],
            )?
            .iter()
            .map(|r| Ok(json!({"part": r.text(0)?, "installed_on": r.text(1)?, "warranty_until": r.text(2)?, "repair": r.opt_int(3)?})))
            .collect::<Result<Vec<J>, AppError>>()?;
        // The events of every unit in the chain, the first sold first.
        let marks = vec!["?"; chain.len()].join(", ");
        let params: Vec<Val> = chain.iter().map(Into::into).collect();
        let mut events = tx.query(
            &format!(
                "SELECT serial, at, kind, case_id, detail, id FROM unit_events
                 WHERE serial IN ({marks})"
            ),
            &params,
        )?;
        let position = |s: &str| chain.iter().rev().position(|c| c == s);
        let mut keyed = Vec::with_capacity(events.len());
        for r in events.drain(..) {
            keyed.push((position(&r.text(0)?), r.int(5)?, r));
        }
        keyed.sort_by_key(|(p, id, _)| (*p, *id));
        let mut history = Vec::with_capacity(keyed.len());
        for (_, _, r) in keyed {
            history.push(json!({
                "serial": r.text(0)?,
                "at": from_micros(r.int(1)?)?.to_string(),
                "event": r.text(2)?,
                "case": r.opt_int(3)?,
                "detail": stored_json("unit_events.detail", &r.text(4)?)?,
            }));
        }
        let cases = tx
            .query("SELECT id, kind, state FROM cases WHERE serial = ? ORDER BY id", &[serial.into()])?
            .iter()
            .map(|r| Ok(json!({"id": r.int(0)?, "kind": r.text(1)?, "state": r.text(2)?})))
            .collect::<Result<Vec<J>, AppError>>()?;
        Ok(json!({
            "serial": unit.text(0)?,
            "sku": unit.text(1)?,
            "name": unit.text(2)?,
            "class": unit.text(3)?,
            "manufactured_on": unit.opt_text(4)?,
            "genuine": unit.bool(5)?,
            "origin": unit.text(6)?,
            "replaces": unit.opt_text(7)?,
            "warranty_until": unit.opt_text(8)?,
            "lineage": chain,
            "first_sale": first_sale,
            "times_sold": sales,
            "failed_repairs": failed,
            "parts": parts,
            "cases": cases,
            "history": history,
        }))
    })
}
