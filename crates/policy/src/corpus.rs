//! Scenarios: facts, a moment, and what the decision must say. Parsing and checking are pure;
//! the caller reads the files. See `docs/corpus.md`.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use serde::Deserialize;
use toml::de::DeValue;

use crate::decide::{Decision, Role, Status, decide};
use crate::diag::{Diagnostics, Source};
use crate::facts::{Facts, When, parse_toml, toml_when};
use crate::model::{Action, Policy};
use crate::schema::{self, DeadlineName, Output, Remedy};
use crate::set::PolicySet;
use crate::value::Money;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    title: String,
    policy: String,
    now: toml::value::Datetime,
    #[serde(default)]
    #[allow(dead_code)]
    facts: Option<toml::Table>,
    expect: Expect,
}

/// What a scenario expects.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    #[serde(default)]
    pub remedies: BTreeMap<String, String>,
    #[serde(default)]
    pub cites: Vec<String>,
    #[serde(default)]
    pub not_cites: Vec<String>,
    /// Remedies a law layer grants; `[]` asserts that the law grants none.
    pub by_law: Option<Vec<String>>,
    /// Labels of missing documents; `[]` asserts that nothing is missing.
    pub missing: Option<Vec<String>>,
    #[serde(default)]
    pub flags: Vec<String>,
    /// Flags that must not be raised, by name or with their clause (as `flags`).
    #[serde(default)]
    pub not_flags: Vec<String>,
    /// Clauses the decision must show the customer as a notice.
    #[serde(default)]
    pub notices: Vec<String>,
    /// Facts the decision waits for; `[]` asserts that it waits for none.
    pub pending_on: Option<Vec<String>>,
    pub warranty: Option<ExpectWarranty>,
    #[serde(default)]
    pub freight: BTreeMap<String, String>,
    pub money: Option<ExpectMoney>,
    #[serde(default)]
    pub deadlines: BTreeMap<String, toml::value::Datetime>,
    #[serde(default)]
    pub outputs: BTreeMap<String, toml::Value>,
    /// Per remedy, per role (`allows`, `denies`, `not_binding`…), the clauses that must be
    /// cited for that remedy in that role.
    #[serde(default)]
    pub citations: BTreeMap<String, BTreeMap<String, Vec<String>>>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectWarranty {
    /// The layer whose component to check: the seller's by default.
    pub layer: Option<String>,
    pub start: Option<toml::value::Datetime>,
    pub end: Option<toml::value::Datetime>,
    #[serde(rename = "in")]
    pub in_warranty: Option<bool>,
    pub basis: Option<String>,
    pub covered: Option<bool>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectMoney {
    /// `"none"` when no refund is due.
    pub refund: Option<String>,
}

/// One parsed scenario.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub file: String,
    pub title: String,
    pub policy: String,
    pub now: When,
    pub facts: Facts,
    pub expect: Expect,
}

impl Scenario {
    pub fn parse(name: &str, text: &str) -> Result<Self, Diagnostics> {
        let src = Source::new(name, text);
        let raw: RawScenario = toml::from_str(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            Diagnostics(vec![src.error(span, e.message().trim().replace('\n', " "))])
        })?;
        let doc = parse_toml(&src)?;
        let facts = match doc.get_ref().get("facts").map(|v| v.get_ref()) {
            Some(DeValue::Table(t)) => Facts::from_toml_table(&src, t)?,
            _ => Facts::new(),
        };
        let now = toml_when(&raw.now).map_err(|m| {
            let line = text
                .lines()
                .position(|l| l.trim_start().starts_with("now"))
                .unwrap_or(0)
                + 1;
            Diagnostics(vec![src.at_line(crate::diag::Severity::Error, line, m)])
        })?;
        Ok(Self {
            file: name.to_string(),
            title: raw.title,
            policy: raw.policy,
            now,
            facts,
            expect: raw.expect,
        })
    }

    /// The moment of deciding: a date means the start of that day in the policy's zone.
    pub fn now_in(&self, policy: &Policy) -> Option<Timestamp> {
        self.now.at(policy.tz())
    }

    /// Decides the scenario and compares; the failures, empty when it passes.
    pub fn run(&self, set: &PolicySet) -> Vec<String> {
        let Some(policy) = set.get(&self.policy) else {
            return vec![format!("unknown policy `{}`", self.policy)];
        };
        let Some(now) = self.now_in(policy) else {
            return vec!["`now` cannot be placed in the policy's time zone".to_string()];
        };
        if let Err(m) = self.facts.check_not_after(now) {
            return vec![m];
        }
        let d = decide(policy, &self.facts, now);
        check(&d, &self.expect)
    }
}

/// Each remedy's citations by role: `expect.citations.<remedy>.<role> = [clauses]`.
fn check_citations(
    d: &Decision<'_>,
    want: &BTreeMap<String, BTreeMap<String, Vec<String>>>,
    fails: &mut Vec<String>,
) {
    for (name, roles) in want {
        let Some(remedy) = Remedy::parse(name) else {
            fails.push(format!("expect.citations: `{name}` is not a remedy"));
            continue;
        };
        let cited = d.remedy(remedy).map_or(&[][..], |r| r.citations.as_slice());
        for (role_name, clauses) in roles {
            let Some(role) = Role::parse(role_name) else {
                let names: Vec<&str> = Role::ALL.iter().map(|r| r.name()).collect();
                fails.push(format!(
                    "expect.citations.{name}: `{role_name}` is not a role ({})",
                    names.join(", ")
                ));
                continue;
            };
            let got: Vec<&str> = cited
                .iter()
                .filter(|c| c.role == role)
                .filter_map(|c| d.clause_id(c.at))
                .collect();
            for c in clauses {
                if !got.contains(&current(d, c)) {
                    fails.push(format!(
                        "{name}: expected `{c}` cited as {role_name}; cited as {role_name}: [{}]",
                        got.join(", ")
                    ));
                }
            }
        }
    }
}

/// The clause id a scenario names, as it is now: a clause renamed keeps its former ids
/// (`formerly`), so scenarios written before the rename still pass.
fn current<'a>(d: &Decision<'a>, name: &'a str) -> &'a str {
    d.renamed(name).unwrap_or(name)
}

/// Compares a decision with what is expected.
pub fn check(d: &Decision<'_>, e: &Expect) -> Vec<String> {
    let mut fails = Vec::new();
    for (name, want) in &e.remedies {
        let Some(remedy) = Remedy::parse(name) else {
            fails.push(format!("expect.remedies: `{name}` is not a remedy"));
            continue;
        };
        let Some(want) = Status::parse(want) else {
            fails.push(format!("expect.remedies.{name}: `{want}` is not a status (allowed, pending, denied, not_offered)"));
            continue;
        };
        let got = d.remedy(remedy).map_or(Status::NotOffered, |r| r.status);
        if got != want {
            fails.push(format!(
                "{name}: expected {}, got {}",
                want.name(),
                got.name()
            ));
        }
    }
    check_citations(d, &e.citations, &mut fails);
    let cited = d.cited_clauses();
    for c in &e.cites {
        if !cited.contains(&current(d, c)) {
            fails.push(format!(
                "expected clause `{c}` to be cited; cited: {}",
                cited.join(", ")
            ));
        }
    }
    for c in &e.not_cites {
        if cited.contains(&current(d, c)) {
            fails.push(format!("clause `{c}` is cited but should not be"));
        }
    }
    if e.by_law.as_ref().is_some_and(Vec::is_empty) {
        let granted: Vec<&str> = d
            .remedies
            .iter()
            .filter(|r| r.by_law)
            .map(|r| r.remedy.name())
            .collect();
        if !granted.is_empty() {
            fails.push(format!(
                "expected no remedy granted by law; granted by law: {}",
                granted.join(", ")
            ));
        }
    }
    for name in e.by_law.iter().flatten() {
        match Remedy::parse(name).and_then(|r| d.remedy(r)) {
            Some(r) if r.by_law => {}
            Some(_) => fails.push(format!("{name}: expected to be granted by law, it is not")),
            None => fails.push(format!(
                "{name}: expected to be granted by law; it is not offered"
            )),
        }
    }
    let labels: Vec<&str> = d
        .missing
        .iter()
        .filter_map(|m| match d.rule(m.at).map(|(_, r)| &r.action) {
            Some(Action::Require { label, .. }) => Some(label.as_str()),
            _ => None,
        })
        .collect();
    if e.missing.as_ref().is_some_and(Vec::is_empty) && !labels.is_empty() {
        fails.push(format!(
            "expected nothing missing; missing: [{}]",
            labels.join("; ")
        ));
    }
    for m in e.missing.iter().flatten() {
        if !labels.contains(&m.as_str()) {
            fails.push(format!(
                "expected `{m}` to be missing; missing: [{}]",
                labels.join("; ")
            ));
        }
    }
    // A flag is expected by name (`manual_review`), or by name and the clause that raises it
    // (`manual_review [6.2]`).
    let flags: Vec<(&str, &str)> = d
        .flags
        .iter()
        .filter_map(|at| match d.rule(*at).map(|(_, r)| &r.action) {
            Some(Action::Flag(f)) => Some((f.as_str(), d.clause_id(*at).unwrap_or(""))),
            _ => None,
        })
        .collect();
    let raised = |f: &str| match f.split_once(" [") {
        Some((name, clause)) => {
            let clause = current(d, clause.trim_end_matches(']'));
            flags.iter().any(|(n, c)| *n == name && *c == clause)
        }
        None => flags.iter().any(|(n, _)| *n == f),
    };
    let all_raised = || -> String {
        let each: Vec<String> = flags.iter().map(|(n, c)| format!("{n} [{c}]")).collect();
        each.join(", ")
    };
    for f in &e.flags {
        if !raised(f) {
            fails.push(format!("expected flag `{f}`; raised: [{}]", all_raised()));
        }
    }
    for f in &e.not_flags {
        if raised(f) {
            fails.push(format!(
                "flag `{f}` is raised but should not be; raised: [{}]",
                all_raised()
            ));
        }
    }
    let notices: Vec<&str> = d.notices.iter().filter_map(|at| d.clause_id(*at)).collect();
    for n in &e.notices {
        if !notices.contains(&current(d, n)) {
            fails.push(format!(
                "expected a notice of clause `{n}`; shown: [{}]",
                notices.join(", ")
            ));
        }
    }
    let mut pending: BTreeSet<&str> = BTreeSet::new();
    for r in &d.remedies {
        pending.extend(r.pending_on.iter().map(|id| schema::fact(*id).path));
    }
    for o in &d.outputs {
        pending.extend(o.pending_on.iter().map(|id| schema::fact(*id).path));
    }
    for a in &d.warranty {
        pending.extend(a.pending_on.iter().map(|id| schema::fact(*id).path));
    }
    if e.pending_on.as_ref().is_some_and(Vec::is_empty) && !pending.is_empty() {
        let all: Vec<&str> = pending.iter().copied().collect();
        fails.push(format!(
            "expected the decision to wait for nothing; it waits for [{}]",
            all.join(", ")
        ));
    }
    for p in e.pending_on.iter().flatten() {
        if !pending.contains(p.as_str()) {
            let all: Vec<&str> = pending.iter().copied().collect();
            fails.push(format!(
                "expected the decision to wait for `{p}`; it waits for [{}]",
                all.join(", ")
            ));
        }
    }
    if let Some(w) = &e.warranty {
        check_warranty(d, w, &mut fails);
    }
    for (name, want) in &e.freight {
        let out = match name.as_str() {
            "to_seller" => Output::FreightToSeller,
            "to_customer" => Output::FreightToCustomer,
            other => {
                fails.push(format!(
                    "expect.freight: `{other}` is not to_seller or to_customer"
                ));
                continue;
            }
        };
        compare_output(d, out, want, &mut fails);
    }
    if let Some(m) = e.money.as_ref().and_then(|m| m.refund.as_ref()) {
        let got = d.refund.as_ref().map(|r| r.amount);
        if m == "none" {
            if let Some(g) = got {
                fails.push(format!("expected no refund, got {g}"));
            }
        } else {
            match Money::parse(m) {
                Ok(want) if Some(want) == got => {}
                Ok(want) => fails.push(format!(
                    "refund: expected {want}, got {}",
                    got.map_or("none".to_string(), |g| g.to_string())
                )),
                Err(err) => fails.push(format!("expect.money.refund: {err}")),
            }
        }
    }
    for (name, want) in &e.deadlines {
        let Some(dn) = DeadlineName::parse(name) else {
            fails.push(format!("expect.deadlines: `{name}` is not a deadline"));
            continue;
        };
        let want = match toml_when(want) {
            Ok(When::Day(day)) => day,
            _ => {
                fails.push(format!(
                    "expect.deadlines.{name}: give the last day as a date"
                ));
                continue;
            }
        };
        match d.deadlines.iter().find(|x| x.name == dn) {
            Some(x) => match x.due {
                Some(due) if due.last_day == want => {}
                Some(due) => fails.push(format!(
                    "{name}: expected last day {want}, got {}",
                    due.last_day
                )),
                None => fails.push(format!(
                    "{name}: expected last day {want}, but its start is unknown"
                )),
            },
            None => fails.push(format!("{name}: expected a deadline, none was set")),
        }
    }
    for (name, want) in &e.outputs {
        let Some(out) = Output::parse(name) else {
            fails.push(format!("expect.outputs: `{name}` is not an output"));
            continue;
        };
        let want = match want {
            toml::Value::String(s) => s.clone(),
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::Integer(n) => n.to_string(),
            toml::Value::Datetime(dt) => dt.to_string(),
            _ => {
                fails.push(format!(
                    "expect.outputs.{name}: give a string, date, number or boolean"
                ));
                continue;
            }
        };
        compare_output(d, out, &want, &mut fails);
    }
    fails
}

/// `want` is the value expected, or `"none"` when nothing may be decided for the output.
fn compare_output(d: &Decision<'_>, out: Output, want: &str, fails: &mut Vec<String>) {
    let got = d
        .output(out)
        .and_then(|o| o.value.as_ref())
        .map(|v| v.to_string());
    if want == "none" {
        if let Some(g) = got {
            fails.push(format!("{}: expected nothing, got {g}", out.name()));
        }
    } else if got.as_deref() != Some(want) {
        fails.push(format!(
            "{}: expected {want}, got {}",
            out.name(),
            got.unwrap_or_else(|| "nothing".to_string())
        ));
    }
}

fn check_warranty(d: &Decision<'_>, w: &ExpectWarranty, fails: &mut Vec<String>) {
    let layer = match &w.layer {
        None => Some(0u8),
        Some(id) => d
            .layers
            .iter()
            .position(|l| &l.policy.id == id)
            .and_then(|i| u8::try_from(i).ok()),
    };
    let Some(layer) = layer else {
        fails.push(format!(
            "expect.warranty.layer: no layer `{}` in this decision",
            w.layer.as_deref().unwrap_or("")
        ));
        return;
    };
    let Some(a) = d.warranty.iter().find(|a| a.layer == layer && a.claimed) else {
        fails.push("expect.warranty: no warranty component matches the item claimed".to_string());
        return;
    };
    let date = |x: &Option<toml::value::Datetime>| match x.as_ref().map(toml_when) {
        Some(Ok(When::Day(day))) => Some(Some(day)),
        Some(_) => Some(None),
        None => None,
    };
    if let Some(want) = date(&w.start)
        && want != a.start
    {
        fails.push(format!(
            "warranty start: expected {want:?}, got {:?}",
            a.start
        ));
    }
    if let Some(want) = date(&w.end)
        && want != a.end
    {
        fails.push(format!("warranty end: expected {want:?}, got {:?}", a.end));
    }
    if let Some(want) = w.in_warranty
        && Some(want) != a.in_warranty
    {
        fails.push(format!(
            "in warranty: expected {want}, got {:?}",
            a.in_warranty
        ));
    }
    if let Some(want) = w.covered
        && want != a.covered
    {
        fails.push(format!("covered: expected {want}, got {}", a.covered));
    }
    if let Some(want) = &w.basis {
        let basis = d
            .layer_policy(layer)
            .and_then(|p| p.warranty.as_ref())
            .and_then(|wr| {
                let c = wr.components.get(usize::from(a.component))?;
                let starts = c.start.as_deref().unwrap_or(&wr.start);
                a.start_rule
                    .and_then(|i| starts.get(usize::from(i)))
                    .map(|s| schema::EnumKind::Basis.variant(s.basis))
            });
        if basis != Some(want.as_str()) {
            fails.push(format!(
                "warranty basis: expected {want}, got {}",
                basis.unwrap_or("none")
            ));
        }
    }
}

/// The result of running many scenarios.
#[derive(Debug, Default)]
pub struct Report {
    pub passed: usize,
    pub failed: Vec<(String, Vec<String>)>,
    /// Per seller policy: clauses no passing scenario cites.
    pub uncovered: BTreeMap<String, Vec<String>>,
}

/// Clauses of `policy` that no passing scenario expects to be cited.
pub fn uncovered(policy: &Policy, passing: &[&Scenario]) -> Vec<String> {
    let cited: BTreeSet<&str> = passing
        .iter()
        .filter(|s| s.policy == policy.id)
        .flat_map(|s| s.expect.cites.iter().map(String::as_str))
        .collect();
    policy
        .clauses
        .iter()
        .filter(|c| {
            !cited.contains(c.id.as_str()) && !c.formerly.iter().any(|f| cited.contains(f.as_str()))
        })
        .map(|c| c.id.clone())
        .collect()
}

/// Runs scenarios and measures clause coverage of every seller policy that has scenarios.
pub fn run_all(set: &PolicySet, scenarios: &[Scenario]) -> Report {
    let mut report = Report::default();
    let mut passing = Vec::new();
    for s in scenarios {
        let fails = s.run(set);
        if fails.is_empty() {
            report.passed += 1;
            passing.push(s);
        } else {
            report.failed.push((s.file.clone(), fails));
        }
    }
    let with_cases: BTreeSet<&str> = scenarios.iter().map(|s| s.policy.as_str()).collect();
    for p in set.sellers().filter(|p| with_cases.contains(p.id.as_str())) {
        let missing = uncovered(p, &passing);
        if !missing.is_empty() {
            report.uncovered.insert(p.id.clone(), missing);
        }
    }
    report
}
