//! A policy's scenarios run on its draft, and a real case saved as one.

use aftercare_policy::SourceFile;
use aftercare_store::{Store, Val};
use jiff::Timestamp;
use serde::Serialize;

use super::drafts::draft_set;
use super::may_edit;
use crate::accounts::Principal;
use crate::published::save_scenarios;
use crate::time::from_micros;
use crate::{AppError, Policies};

/// One scenario run against a draft.
#[derive(Clone, Debug, Serialize)]
pub struct ScenarioResult {
    pub name: String,
    pub title: String,
    /// Empty when it passes.
    pub failures: Vec<String>,
}

/// The policy's scenarios run against its draft (the published text while there is no
/// draft), and the clauses no passing scenario exercises.
#[derive(Clone, Debug, Serialize)]
pub struct ScenarioRun {
    pub results: Vec<ScenarioResult>,
    pub uncovered: Vec<String>,
}

impl ScenarioRun {
    pub fn passed(&self) -> usize {
        self.results
            .iter()
            .filter(|r| r.failures.is_empty())
            .count()
    }
}

/// Runs policy `id`'s scenarios against its draft.
pub fn run_scenarios(
    store: &mut Store,
    who: &Principal,
    policies: &Policies,
    id: &str,
) -> Result<ScenarioRun, AppError> {
    let set = draft_set(store, who, policies, id)?;
    let stored = store.read(|tx| {
        tx.query(
            "SELECT name, text FROM policy_scenarios WHERE policy_id = ? ORDER BY name",
            &[id.into()],
        )
    })?;
    let mut results = Vec::with_capacity(stored.len());
    let mut passing = Vec::new();
    for row in stored {
        let name = row.text(0)?;
        let text = row.text(1)?;
        match aftercare_policy::corpus::Scenario::parse(&name, &text) {
            Ok(s) => {
                let failures = s.run(set.set());
                results.push(ScenarioResult {
                    name,
                    title: s.title.clone(),
                    failures: failures.clone(),
                });
                if failures.is_empty() {
                    passing.push(s);
                }
            }
            Err(d) => results.push(ScenarioResult {
                name,
                title: String::new(),
                failures: vec![d.to_string()],
            }),
        }
    }
    let draft = set.get(id)?;
    let refs: Vec<&aftercare_policy::corpus::Scenario> = passing.iter().collect();
    Ok(ScenarioRun {
        uncovered: aftercare_policy::corpus::uncovered(draft, &refs),
        results,
    })
}

/// A fact's value as a scenario file writes it: dates and instants bare, the rest as JSON
/// (whose strings, numbers, booleans and lists TOML reads alike).
fn toml_value(path: &str, v: &serde_json::Value) -> String {
    use aftercare_policy::schema::{Type, fact, fact_id};
    let ty = fact_id(path).map(|f| fact(f).ty);
    match (ty, v.as_str()) {
        (Some(Type::Date | Type::Instant), Some(s))
            if s.parse::<jiff::civil::Date>().is_ok() || s.parse::<Timestamp>().is_ok() =>
        {
            s.to_string()
        }
        _ => v.to_string(),
    }
}

/// Saves case `case_id` as a scenario of its policy: the facts and moment of its latest
/// decision, and the remedies as decided then as what is expected; named `case-ID` (saving
/// again replaces it). Returns its name. Managers and admins of the case's seller only.
pub fn save_case_as_scenario(
    store: &mut Store,
    who: &Principal,
    policies: &Policies,
    case_id: i64,
    now: Timestamp,
) -> Result<String, AppError> {
    let case = store.read(|tx| crate::case::find(tx, case_id))?;
    // A case of a seller the caller does not work for is not there, as elsewhere.
    let policy = may_edit(who, policies, &case.policy_id).map_err(|e| match e {
        AppError::NotFound { .. } => AppError::not_found("case", case_id.to_string()),
        e => e,
    })?;
    let row = store
        .read(|tx| {
            tx.query_opt(
                "SELECT decided_at, facts, summary FROM decisions WHERE case_id = ?
                 ORDER BY id DESC LIMIT 1",
                &[Val::Int(case_id)],
            )
        })?
        .ok_or_else(|| AppError::invalid("case", "it has no decision on record yet"))?;
    let decided_at = from_micros(row.int(0)?)?;
    let facts = crate::error::stored_json("decision.facts", &row.text(1)?)?;
    let summary = crate::error::stored_json("decision.summary", &row.text(2)?)?;
    let reference = case
        .authorisation
        .clone()
        .unwrap_or_else(|| format!("#{case_id}"));
    let title = format!(
        "Case {reference} as decided on {}",
        policy.day_of(decided_at)
    );
    let mut text = format!(
        "title = {}\npolicy = {}\nnow = {decided_at}\n\n\
         # Saved from case {reference} by {} on {}: the facts of its latest decision, and its\n\
         # remedies as decided then. Edit what is expected where the decision was not right.\n\
         [facts]\n",
        serde_json::Value::from(title),
        serde_json::Value::from(case.policy_id.clone()),
        who.actor(),
        now.strftime("%Y-%m-%d"),
    );
    for (path, v) in facts.as_object().into_iter().flatten() {
        if v.is_null() || aftercare_policy::schema::fact_id(path).is_none() {
            continue;
        }
        text.push_str(&format!("{path} = {}\n", toml_value(path, v)));
    }
    text.push_str("\n[expect.remedies]\n");
    for r in summary
        .get("remedies")
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
    {
        if let (Some(remedy), Some(status)) = (
            r.get("remedy").and_then(serde_json::Value::as_str),
            r.get("status").and_then(serde_json::Value::as_str),
        ) {
            text.push_str(&format!("{remedy} = \"{status}\"\n"));
        }
    }
    let name = format!("case-{case_id}");
    // It must read back as a scenario.
    aftercare_policy::corpus::Scenario::parse(&name, &text)
        .map_err(|d| AppError::corrupt("scenario", d.to_string()))?;
    store.tx(|tx| {
        save_scenarios(
            tx,
            &[SourceFile {
                name: format!("{name}.toml"),
                text,
            }],
            &who.actor(),
            now,
        )
    })?;
    Ok(name)
}
