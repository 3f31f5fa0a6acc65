//! Reading cases: one with its decision, timers, quotes, repairs and history; lists; what the
//! policy would decide for a case not opened yet, or after a step not taken.

use aftercare_domain::case::{Action, State};
use aftercare_store::{Store, Tx, Val};
use jiff::Timestamp;
use serde_json::{Map, Value as J, json};

use super::moves::lifecycle_facts;
use super::open::{NewCase, References};
use crate::audit;
use crate::case::{CASE_COLUMNS, Case, check_facts, find};
use crate::decision::Known;
use crate::error::stored_json;
use crate::stated::{self, By};
use crate::time::from_micros;
use crate::{AppError, Policies, timers};

/// What the policy would decide for a case not opened yet: the same references, registry
/// facts and policy as [`open`], nothing written. The guided start shows it before the customer
/// sends anything. Returns the policy's id and the decision as JSON.
pub fn preview(
    store: &mut Store,
    policies: &Policies,
    new: &NewCase,
    by: By,
    now: Timestamp,
) -> Result<(String, J), AppError> {
    check_facts(&new.facts)?;
    stated::check(&new.facts, by, &Map::new())?;
    store.read(|tx| -> Result<(String, J), AppError> {
        let refs = References::resolve(tx, new)?;
        let policy_id = match &new.policy {
            Some(p) => p.clone(),
            None => refs.policy()?,
        };
        refs.check(new, policies.get(&policy_id)?)?;
        let subject = crate::facts::Subject {
            serial: new.serial.clone(),
            order_no: new.order_no.clone(),
            customer_id: refs.customer_id,
        };
        let mut facts_json = crate::facts::from_registry(tx, &subject)?;
        for (k, v) in &new.facts {
            facts_json.insert(k.clone(), v.clone());
        }
        // As the service would know it once sent: no photo yet, the description and order
        // given, and this request the application.
        facts_json.insert("evidence.photos".into(), J::Array(Vec::new()));
        facts_json.extend(crate::facts::given(
            new.description.as_deref(),
            new.order_no.as_deref(),
        ));
        facts_json.insert("application.submitted".into(), J::Bool(true));
        let policy = policies.select(&policy_id, &facts_json, now)?;
        let facts = check_facts(&facts_json)?;
        let decision = aftercare_policy::decide(policy, &facts, now);
        Ok((policy_id, decision.to_json(&facts)))
    })
}

/// What a case would be decided if `action` were taken with `extra` facts (inspection
/// findings, arrival condition): its registry facts, its own, the step's lifecycle facts and
/// `extra`, decided now, nothing written. The desk's forms show it before saving.
pub fn what_if(
    store: &mut Store,
    policies: &Policies,
    id: i64,
    action: Option<Action>,
    extra: &Map<String, J>,
    by: By,
    now: Timestamp,
) -> Result<J, AppError> {
    check_facts(extra)?;
    store.read(|tx| -> Result<J, AppError> {
        let mut case = find(tx, id)?;
        let who = stated::check(extra, by, &case.fact_sources)?;
        case.state(extra, &who);
        if let Some(action) = action {
            let today = policies.get(&case.policy_id)?.day_of(now);
            for (k, v) in lifecycle_facts(action, today, now) {
                case.facts.insert(k.to_string(), v);
            }
        }
        let known = Known::read(tx, &case)?;
        let facts_json = known.facts(&case);
        let policy = policies.select(&case.policy_id, &facts_json, now)?;
        let facts = check_facts(&facts_json)?;
        Ok(aftercare_policy::decide(policy, &facts, now).to_json(&facts))
    })
}

/// A case's decisions on record, newest first (at most `limit`): id, when, the decision.
pub fn decisions(
    store: &mut Store,
    id: i64,
    limit: i64,
) -> Result<Vec<(i64, Timestamp, J)>, AppError> {
    store.read(|tx| -> Result<Vec<(i64, Timestamp, J)>, AppError> {
        tx.query(
            "SELECT id, decided_at, summary FROM decisions WHERE case_id = ? ORDER BY id DESC LIMIT ?",
            &[Val::Int(id), Val::Int(limit)],
        )?
        .iter()
        .map(|r| {
            Ok((
                r.int(0)?,
                from_micros(r.int(1)?)?,
                stored_json("decision.summary", &r.text(2)?)?,
            ))
        })
        .collect()
    })
}

/// A case's quotes with their lines.
pub(crate) fn quotes_of(tx: &mut dyn Tx, id: i64) -> Result<Vec<J>, AppError> {
    let mut quotes = Vec::new();
    for q in tx.query(
        "SELECT id, currency, total_minor, status, expires_at FROM quotes WHERE case_id = ? ORDER BY id",
        &[Val::Int(id)],
    )? {
        let qid = q.int(0)?;
        let lines = tx
            .query(
                "SELECT kind, description, amount_minor FROM quote_lines WHERE quote_id = ? ORDER BY line_no",
                &[Val::Int(qid)],
            )?
            .iter()
            .map(|l| Ok(json!({"kind": l.text(0)?, "description": l.text(1)?, "amount_minor": l.int(2)?})))
            .collect::<Result<Vec<J>, AppError>>()?;
        let expires = q.int(4)?;
        quotes.push(json!({
            "id": qid,
            "currency": q.text(1)?,
            "total_minor": q.int(2)?,
            "status": q.text(3)?,
            "expires_at": if expires == i64::MAX { J::Null } else { J::String(from_micros(expires)?.to_string()) },
            "lines": lines,
        }));
    }
    Ok(quotes)
}

/// A case with its decisions and history.
pub fn show(store: &mut Store, id: i64) -> Result<J, AppError> {
    store.read(|tx| -> Result<_, AppError> {
        let case = find(tx, id)?;
        let decisions = tx.query(
            "SELECT id, decided_at, policy_id, policy_version, summary FROM decisions
                 WHERE case_id = ? ORDER BY id DESC LIMIT 1",
            &[Val::Int(id)],
        )?;
        let latest = match decisions.first() {
            Some(r) => Some(json!({
                "id": r.int(0)?,
                "decided_at": from_micros(r.int(1)?)?.to_string(),
                "policy": r.text(2)?,
                "version": r.text(3)?,
                "decision": stored_json("decision.summary", &r.text(4)?)?,
            })),
            None => None,
        };
        let timers = timers::of_case(tx, id)?;
        let quotes = quotes_of(tx, id)?;
        // What each repair or replacement did: parts and their warranty, with the clause.
        let repairs = tx
            .query(
                "SELECT at, detail FROM unit_events WHERE case_id = ? AND kind IN ('repaired', 'replaced') ORDER BY id",
                &[Val::Int(id)],
            )?
            .iter()
            .map(|r| {
                let mut d = stored_json("unit_events.detail", &r.text(1)?)?;
                if let J::Object(m) = &mut d {
                    m.insert("at".into(), J::String(from_micros(r.int(0)?)?.to_string()));
                }
                Ok(d)
            })
            .collect::<Result<Vec<J>, AppError>>()?;
        let history = audit::history(tx, "case", &id.to_string())?;
        let currency = match &case.order_no {
            Some(o) => tx.query_text(
                "SELECT currency FROM orders WHERE order_no = ?",
                &[o.into()],
            )?,
            None => None,
        };
        // The unit's components (its SKU's, `display; battery; …`): what a repair may replace.
        let components: Vec<J> = match &case.serial {
            Some(s) => tx
                .query_text(
                    "SELECT k.components FROM units u JOIN skus k ON k.code = u.sku WHERE u.serial = ?",
                    &[s.into()],
                )?
                .unwrap_or_default()
                .split([';', ','])
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(|c| J::String(c.to_string()))
                .collect(),
            None => Vec::new(),
        };
        let mut out = case.to_json();
        if let J::Object(m) = &mut out {
            m.insert("components".into(), J::Array(components));
            m.insert("currency".into(), currency.map_or(J::Null, J::String));
            m.insert("latest_decision".into(), latest.unwrap_or(J::Null));
            m.insert("timers".into(), J::Array(timers));
            m.insert("quotes".into(), J::Array(quotes));
            m.insert("repairs".into(), J::Array(repairs));
            m.insert("history".into(), J::Array(history));
        }
        Ok(out)
    })
}

/// Cases, newest first, optionally in one state.
pub fn list(store: &mut Store, state: Option<State>, limit: i64) -> Result<Vec<Case>, AppError> {
    store.read(|tx| -> Result<_, AppError> {
        let rows = match state {
            Some(s) => tx.query(
                &format!(
                    "SELECT {CASE_COLUMNS} FROM cases WHERE state = ? ORDER BY id DESC LIMIT ?"
                ),
                &[s.as_str().into(), Val::Int(limit)],
            )?,
            None => tx.query(
                &format!("SELECT {CASE_COLUMNS} FROM cases ORDER BY id DESC LIMIT ?"),
                &[Val::Int(limit)],
            )?,
        };
        rows.iter().map(Case::from_row).collect()
    })
}
