//! `aftercare policy check|explain|test|list`.

use std::path::{Path, PathBuf};

use aftercare_policy::corpus::{self, Scenario};
use aftercare_policy::facts::When;
use aftercare_policy::model::Kind;
use aftercare_policy::{Facts, PolicySet, decide};
use jiff::Timestamp;

use crate::files;

/// What a command prints and how it exits.
#[derive(Debug)]
pub struct Output {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

impl Output {
    pub fn ok(stdout: String) -> Self {
        Self {
            stdout,
            stderr: String::new(),
            code: 0,
        }
    }
    pub fn fail(stderr: String) -> Self {
        Self {
            stdout: String::new(),
            stderr,
            code: 1,
        }
    }
}

/// Checks policy files. Law layers a seller names are taken from `dir/law` when not given.
pub fn check(paths: &[PathBuf], dir: &Path) -> Output {
    let mut sources = Vec::new();
    for p in paths {
        match files::read(p) {
            Ok(f) => sources.push(f),
            Err(e) => return Output::fail(format!("error: {e}\n")),
        }
    }
    // Bring in law layers from the policies directory that the given files do not include.
    let law_dir = dir.join("law");
    if law_dir.is_dir() {
        let given: Vec<String> = sources.iter().map(|s| canonical(&s.name)).collect();
        if let Ok(laws) = files::policy_files(&law_dir) {
            for l in laws {
                if !given.contains(&canonical(&l.name)) {
                    sources.push(l);
                }
            }
        }
    }
    match PolicySet::from_sources(&sources) {
        Ok(set) => {
            let mut out = String::new();
            let given: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
            for w in set.warnings.iter().filter(|w| given.contains(&w.file)) {
                out.push_str(&format!("{w}\n"));
            }
            out.push_str(&format!(
                "ok: {} file{} checked\n",
                paths.len(),
                if paths.len() == 1 { "" } else { "s" }
            ));
            Output::ok(out)
        }
        Err(d) => Output::fail(format!(
            "{d}\n{} error{}\n",
            d.0.len(),
            if d.0.len() == 1 { "" } else { "s" }
        )),
    }
}

fn canonical(name: &str) -> String {
    std::fs::canonicalize(name)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| name.to_string())
}

/// Lists the policies of a directory.
/// `aftercare policy facts`: every fact of the schema with its type, its sources and meaning.
pub fn facts() -> Output {
    use aftercare_policy::schema::FACTS;
    let mut out = format!(
        "{:<34} {:<20} {:<28} {}\n",
        "FACT", "TYPE", "STATED BY", "MEANING"
    );
    for f in FACTS {
        let sources: Vec<&str> = f.sources.iter().map(|s| s.name()).collect();
        out.push_str(&format!(
            "{:<34} {:<20} {:<28} {}\n",
            f.path,
            f.ty.to_string(),
            sources.join(", "),
            f.doc
        ));
    }
    out.push_str(
        "\nregistry: the seller's records (corrected for one case with `aftercare case correct`); \
         service: set by Aftercare itself, never stated; inspection: technicians; arrival: whoever \
         receives the parcel; review: agents; customer: the customer, or staff for them. \
         Managers and admins state every staff finding.\n",
    );
    Output::ok(out)
}

pub fn list(dir: &Path) -> Output {
    let set = match files::load_set(dir) {
        Ok(s) => s,
        Err(e) => return Output::fail(format!("{e}\n")),
    };
    let mut out = format!(
        "{:<14} {:<7} {:<8} {:>7} {:>5}  {}\n",
        "ID", "KIND", "VERSION", "CLAUSES", "RULES", "TITLE"
    );
    for p in set.iter() {
        let kind = match p.kind {
            Kind::Seller => "seller",
            Kind::Law => "law",
        };
        let laws = if p.law_ids.is_empty() {
            String::new()
        } else {
            format!(" [law: {}]", p.law_ids.join(", "))
        };
        out.push_str(&format!(
            "{:<14} {:<7} {:<8} {:>7} {:>5}  {}{laws}\n",
            p.id,
            kind,
            p.version,
            p.clauses.len(),
            p.rules.len(),
            p.title
        ));
    }
    Output::ok(out)
}

/// The options of `policy explain`.
#[derive(Debug)]
pub struct ExplainArgs<'a> {
    pub dir: &'a Path,
    pub policy: Option<&'a str>,
    pub facts: &'a Path,
    pub now: Option<&'a str>,
    pub json: bool,
    pub options: aftercare_policy::explain::ExplainOptions,
}

/// Explains the decision for a facts file (or a scenario file).
pub fn explain(a: &ExplainArgs<'_>) -> Output {
    let set = match files::load_set(a.dir) {
        Ok(s) => s,
        Err(e) => return Output::fail(format!("{e}\n")),
    };
    let file = match files::read(a.facts) {
        Ok(f) => f,
        Err(e) => return Output::fail(format!("error: {e}\n")),
    };
    let is_json = a.facts.extension().is_some_and(|x| x == "json");
    // A scenario file carries its own policy and moment.
    let scenario = if is_json {
        None
    } else {
        Scenario::parse(&file.name, &file.text).ok()
    };
    let facts = match (&scenario, is_json) {
        (Some(s), _) => s.facts.clone(),
        (None, true) => match Facts::from_json_str(&file.text) {
            Ok(f) => f,
            Err(e) => return Output::fail(format!("error: {}: {e}\n", file.name)),
        },
        (None, false) => match Facts::from_toml_str(&file.name, &file.text) {
            Ok(f) => f,
            Err(d) => return Output::fail(format!("{d}\n")),
        },
    };
    let Some(id) = a.policy.or(scenario.as_ref().map(|s| s.policy.as_str())) else {
        return Output::fail("error: say which policy with --policy ID\n".to_string());
    };
    let Some(policy) = set.get(id) else {
        let ids: Vec<&str> = set.sellers().map(|p| p.id.as_str()).collect();
        return Output::fail(format!(
            "error: unknown policy `{id}`; known: {}\n",
            ids.join(", ")
        ));
    };
    let now = match (a.now, &scenario) {
        (Some(t), _) => match When::parse(t).map(|w| w.at(policy.tz())) {
            Ok(Some(t)) => t,
            Ok(None) => {
                return Output::fail(format!(
                    "error: --now: `{t}` cannot be placed in {}\n",
                    policy.time_zone
                ));
            }
            Err(e) => return Output::fail(format!("error: --now: {e}\n")),
        },
        (None, Some(s)) => match s.now_in(policy) {
            Some(t) => t,
            None => {
                return Output::fail(
                    "error: the scenario's `now` cannot be placed in the policy's zone\n"
                        .to_string(),
                );
            }
        },
        (None, None) => Timestamp::now(),
    };
    if let Err(e) = facts.check_not_after(now) {
        return Output::fail(format!("error: {}: {e}\n", file.name));
    }
    let d = decide(policy, &facts, now);
    if a.json {
        let text = serde_json::to_string_pretty(&d.to_json(&facts)).unwrap_or_default();
        Output::ok(text + "\n")
    } else {
        Output::ok(d.explain(&facts, a.options))
    }
}

/// Runs the scenario corpus and reports clause coverage.
pub fn test(cases: &Path, dir: &Path) -> Output {
    let set = match files::load_set(dir) {
        Ok(s) => s,
        Err(e) => return Output::fail(format!("{e}\n")),
    };
    let scenarios = match files::load_scenarios(cases) {
        Ok(s) => s,
        Err(e) => return Output::fail(format!("{e}\n")),
    };
    if scenarios.is_empty() {
        return Output::fail(format!(
            "error: no scenarios under `{}`\n0 passed, 0 failed\n",
            cases.display()
        ));
    }
    let report = corpus::run_all(&set, &scenarios);
    let mut out = String::new();
    for (file, fails) in &report.failed {
        out.push_str(&format!("FAIL {file}\n"));
        for f in fails {
            out.push_str(&format!("  {f}\n"));
        }
    }
    let mut per: std::collections::BTreeMap<&str, (usize, usize)> = Default::default();
    for s in &scenarios {
        let e = per.entry(s.policy.as_str()).or_default();
        e.0 += 1;
        if report.failed.iter().any(|(f, _)| f == &s.file) {
            e.1 += 1;
        }
    }
    for (policy, (n, failed)) in &per {
        let coverage = set.get(policy).map(|p| {
            let total = p.clauses.len();
            let unc = report.uncovered.get(*policy).map_or(0, Vec::len);
            format!("{}/{} clauses cited", total - unc, total)
        });
        out.push_str(&format!(
            "{policy}: {n} scenarios, {failed} failed, {}\n",
            coverage.unwrap_or_else(|| "unknown policy".to_string())
        ));
    }
    let mut code = 0;
    for (policy, clauses) in &report.uncovered {
        code = 1;
        out.push_str(&format!(
            "UNCOVERED {policy}: no passing scenario cites {}\n",
            clauses
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if !report.failed.is_empty() {
        code = 1;
    }
    out.push_str(&format!(
        "{} passed, {} failed\n",
        report.passed,
        report.failed.len()
    ));
    Output {
        stdout: out,
        stderr: String::new(),
        code,
    }
}

/// `policy test --mutate`: after a passing run, deletes each seller rule in turn and names the
/// deletions no scenario notices. `tested` is the passing run's output, kept in front.
pub fn mutate(cases: &Path, dir: &Path, tested: Output) -> Output {
    let (files, scenarios) = match (files::policy_files(dir), files::load_scenarios(cases)) {
        (Ok(f), Ok(s)) => (f, s),
        (Err(e), _) | (_, Err(e)) => return Output::fail(format!("{e}\n")),
    };
    let outcome = aftercare_policy::mutate::rule_deletions(&files, &scenarios);
    let mut out = tested.stdout;
    for s in &outcome.survivors {
        out.push_str(&format!(
            "SURVIVED {}:{}: deleting rule `{}` (clause {}) changes no scenario's outcome\n",
            s.file, s.line, s.rule, s.clause
        ));
    }
    for s in &outcome.switched_off {
        out.push_str(&format!(
            "OFF {}:{}: rule `{}` (clause {}) is switched off by the file's parameters; not deleted\n",
            s.file, s.line, s.rule, s.clause
        ));
    }
    out.push_str(&format!(
        "{} rules deleted one at a time, {} noticed, {} survived\n",
        outcome.deleted,
        outcome.deleted - outcome.survivors.len(),
        outcome.survivors.len()
    ));
    Output {
        stdout: out,
        stderr: String::new(),
        code: i32::from(!outcome.survivors.is_empty()),
    }
}
