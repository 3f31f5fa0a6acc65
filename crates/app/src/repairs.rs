//! Repair reports: what a repair or replacement did to a unit (parts replaced, a new unit in
//! exchange, each part's warranty with the clause that gives it), recorded on the unit's
//! lineage and the case, which is decided again. The lineage itself is [`crate::lineage`].

use aftercare_domain::case::State;
use aftercare_policy::schema::Output;
use aftercare_policy::value::Value;
use aftercare_store::{Store, Tx, Val};
use jiff::Timestamp;
use serde_json::{Value as J, json};

use crate::audit::{self, Event};
use crate::time::micros;
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
        let mut case = crate::case::load(tx, case_id)?;
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
        let decision = crate::decision::decide_in(tx, policies, &case, actor, now)?;
        let date_output = |o: Output| match decision.output(o) {
            Some(Value::Date(d)) => Some(*d),
            _ => None,
        };
        let paid = case.facts.contains_key("quote.paid");
        // The clause that set a part's warranty, as the decision cites it.
        // The clause that set a part's warranty, as the pages cite it: the seller's name for
        // its own policy (`IMASK Repair Service Quality Commitment 1`), the policy's id for a law layer.
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
        crate::effects::announce(tx, policies, &case, "repair_report", &seq, now)?;
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
