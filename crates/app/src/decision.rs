//! Deciding a case: the facts the registry and the service know, the policy's decision on
//! them, and the decision kept on record with its audit event ([`Recorded`]: what the service
//! acts on). A decision on record can be made again from the stored texts ([`reexplain`]).

use aftercare_policy::decision::{Due, Status};
use aftercare_policy::facts::Facts;
use aftercare_policy::schema::{DeadlineName, Output, Remedy};
use aftercare_policy::value::{Money, Value};
use aftercare_store::{Store, Tx, Val};
use jiff::Timestamp;
use jiff::civil::Date;
use serde_json::{Map, Value as J, json};

use crate::audit::{self, Event};
use crate::case::{Case, check_facts};
use crate::error::stored_json;
use crate::time::{from_micros, micros};
use crate::{AppError, Policies};

/// What a decision on record says, as the service acts on it: typed values taken from the
/// decision itself when it was made. The JSON `summary` is what is stored and shown; nothing
/// the service does reads it back by key.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub id: i64,
    pub summary: J,
    /// The customer's last day to send the device: the decision's ship-by, else send-back-by.
    pub ship_by: Option<Date>,
    /// The decision's deadlines that have a date.
    pub deadlines: Vec<(DeadlineName, Due)>,
    /// Each remedy the policy speaks of, with its status.
    pub remedies: Vec<(Remedy, Status)>,
    /// The money the decision refunds, if it refunds any.
    pub refund: Option<Money>,
    /// The outputs the decision settled (freight payers, warranties of parts and units…).
    pub outputs: Vec<(Output, Value)>,
    /// The warranty end of the component that covers the item claimed, in the first layer
    /// that dates it (the seller's before the laws').
    pub claimed_warranty_end: Option<Date>,
    /// The documents and evidence the decision lists as missing, by their labels.
    pub missing: Vec<String>,
    /// The flags the decision raises, each with the clause that raises it.
    pub flags: Vec<(String, String)>,
}

impl Recorded {
    fn of(id: i64, decision: &aftercare_policy::Decision<'_>, summary: J) -> Recorded {
        let deadlines: Vec<(DeadlineName, Due)> = decision
            .deadlines
            .iter()
            .filter_map(|d| d.due.map(|due| (d.name, due)))
            .collect();
        let ship_by = [DeadlineName::ShipBy, DeadlineName::SendBackBy]
            .iter()
            .find_map(|name| deadlines.iter().find(|(n, _)| n == name))
            .map(|(_, due)| due.last_day);
        Recorded {
            id,
            summary,
            ship_by,
            remedies: decision
                .remedies
                .iter()
                .map(|r| (r.remedy, r.status))
                .collect(),
            refund: decision.refund.as_ref().map(|r| r.amount),
            outputs: decision
                .outputs
                .iter()
                .filter_map(|o| o.value.clone().map(|v| (o.output, v)))
                .collect(),
            claimed_warranty_end: decision
                .warranty
                .iter()
                .filter(|a| a.claimed)
                .find_map(|a| a.end),
            missing: decision
                .missing
                .iter()
                .filter_map(|m| match decision.rule(m.at).map(|(_, r)| &r.action) {
                    Some(aftercare_policy::model::Action::Require { label, .. }) => {
                        Some(label.clone())
                    }
                    _ => None,
                })
                .collect(),
            flags: decision
                .flags
                .iter()
                .filter_map(|at| {
                    let (p, r) = decision.rule(*at)?;
                    let aftercare_policy::model::Action::Flag(name) = &r.action else {
                        return None;
                    };
                    let clause = p.clause(r.clause).map(|c| c.id.as_str()).unwrap_or("?");
                    Some((
                        name.clone(),
                        format!("{} {clause}", p.seller.as_deref().unwrap_or(&p.id)),
                    ))
                })
                .collect(),
            deadlines,
        }
    }

    /// The clause that raises flag `name`, if the decision raises it.
    pub fn flag(&self, name: &str) -> Option<&str> {
        self.flags
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, c)| c.as_str())
    }

    /// The instant deadline `name` passes, if the decision sets it.
    pub fn passes(&self, name: DeadlineName, tz: &jiff::tz::TimeZone) -> Option<Timestamp> {
        self.deadlines
            .iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, due)| due.until(tz))
    }

    /// The value the decision gives output `o`, if it settled it.
    pub fn output(&self, o: Output) -> Option<&Value> {
        self.outputs.iter().find(|(x, _)| *x == o).map(|(_, v)| v)
    }
}

pub(crate) fn decide_in(
    tx: &mut dyn Tx,
    policies: &Policies,
    case: &Case,
    actor: &str,
    now: Timestamp,
) -> Result<Recorded, AppError> {
    Ok(decide_recorded(tx, policies, case, actor, now)?.0)
}

/// What the registry and the service know about a case, read once per change.
pub(crate) struct Known {
    registry: Map<String, J>,
    service: Map<String, J>,
}

impl Known {
    pub(crate) fn read(tx: &mut dyn Tx, case: &Case) -> Result<Known, AppError> {
        let (registry, service) = crate::facts::known(tx, case)?;
        Ok(Known { registry, service })
    }

    /// The facts `case` is decided on (see [`crate::facts::decision_facts`]).
    pub(crate) fn facts(&self, case: &Case) -> Map<String, J> {
        crate::facts::decision_facts(self.registry.clone(), case, self.service.clone())
    }
}

/// Decides a case as it stands on these facts, recording nothing.
pub(crate) fn evaluate(
    policies: &Policies,
    case: &Case,
    known: &Known,
    now: Timestamp,
) -> Result<Recorded, AppError> {
    let facts_json = known.facts(case);
    let policy = policies.select(&case.policy_id, &facts_json, now)?;
    let facts = check_facts(&facts_json)?;
    let decision = aftercare_policy::decide(policy, &facts, now);
    Ok(Recorded::of(0, &decision, J::Null))
}

/// Decides a case and records the decision; returns it with its audit event.
pub(crate) fn decide_recorded(
    tx: &mut dyn Tx,
    policies: &Policies,
    case: &Case,
    actor: &str,
    now: Timestamp,
) -> Result<(Recorded, audit::Appended), AppError> {
    let known = Known::read(tx, case)?;
    decide_recorded_on(tx, policies, case, &known, actor, now)
}

/// [`decide_recorded`] on facts already read.
pub(crate) fn decide_recorded_on(
    tx: &mut dyn Tx,
    policies: &Policies,
    case: &Case,
    known: &Known,
    actor: &str,
    now: Timestamp,
) -> Result<(Recorded, audit::Appended), AppError> {
    let facts_json = known.facts(case);
    let policy = policies.select(&case.policy_id, &facts_json, now)?;
    let facts = check_facts(&facts_json)?;
    let decision = aftercare_policy::decide(policy, &facts, now);
    let summary = decision.to_json(&facts);
    policies.record(tx, policy, now)?;
    let laws: Vec<&str> = policy.laws.iter().map(|l| l.hash.as_str()).collect();
    let decision_id = tx
        .query_one(
            "INSERT INTO decisions (case_id, decided_at, policy_id, policy_version, policy_hash, law_hashes, facts, summary)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            &[
                Val::Int(case.id),
                Val::Int(micros(now)),
                (&policy.id).into(),
                (&policy.version).into(),
                (&policy.hash).into(),
                laws.join(",").into(),
                J::Object(facts_json).to_string().into(),
                summary.to_string().into(),
            ],
        )?
        .int(0)?;
    let statuses: Map<String, J> = decision
        .remedies
        .iter()
        .map(|r| {
            (
                r.remedy.name().to_string(),
                J::String(r.status.name().to_string()),
            )
        })
        .collect();
    let seq = audit::append(
        tx,
        now,
        &Event::new(
            actor,
            "case",
            case.id,
            "decide",
            json!({
                "decision": decision_id,
                "policy": policy.id,
                "version": policy.version,
                "hash": policy.hash,
                "remedies": statuses,
            }),
        ),
    )?;
    Ok((Recorded::of(decision_id, &decision, summary), seq))
}

/// A decision on record, made again from the stored policy texts, facts and `now`: the
/// same answer it gave then, whatever the policy files say today.
pub fn reexplain(store: &mut Store, decision_id: i64) -> Result<(J, J), AppError> {
    store.tx(|tx| reexplain_in(tx, decision_id))
}

pub(crate) fn reexplain_in(tx: &mut dyn Tx, decision_id: i64) -> Result<(J, J), AppError> {
    let r = tx
        .query_opt(
            "SELECT policy_id, policy_hash, law_hashes, facts, decided_at, summary FROM decisions WHERE id = ?",
            &[Val::Int(decision_id)],
        )?
        .ok_or_else(|| AppError::not_found("decision", decision_id.to_string()))?;
    let policies = made_with(tx, &r.text(1)?, &r.text(2)?)?;
    let policy = policies.get(&r.text(0)?)?;
    let facts = stored_facts(&r.text(3)?)?;
    let now = from_micros(r.int(4)?)?;
    let again = aftercare_policy::decide(policy, &facts, now).to_json(&facts);
    let stored = stored_json("decision.summary", &r.text(5)?)?;
    Ok((stored, again))
}

/// The policy texts a decision was made with, from its record: its policy's hash and its
/// law layers' (`law_hashes`, comma-separated).
pub(crate) fn made_with(
    tx: &mut dyn Tx,
    policy_hash: &str,
    law_hashes: &str,
) -> Result<Policies, AppError> {
    let hashes: Vec<String> = std::iter::once(policy_hash)
        .chain(law_hashes.split(',').filter(|h| !h.is_empty()))
        .map(str::to_string)
        .collect();
    Policies::from_record(tx, &hashes)
}

/// The facts a decision was made on, from its record.
pub(crate) fn stored_facts(text: &str) -> Result<Facts, AppError> {
    let mut facts = Facts::new();
    read_stored_facts(&mut facts, text)?;
    Ok(facts)
}

/// [`stored_facts`] into `facts`, in place of what they held (see [`Facts::read_json_str`]).
pub(crate) fn read_stored_facts(facts: &mut Facts, text: &str) -> Result<(), AppError> {
    facts.read_json_str(text).map_err(|e| {
        if e.path.is_empty() {
            AppError::corrupt("decision.facts", e.message)
        } else {
            AppError::corrupt(format!("decision facts.{}", e.path), e.message)
        }
    })
}
