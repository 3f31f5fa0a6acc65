//! The policy studio's use cases (issue 20, part 2): a seller's policy read as its document,
//! each clause with the rules that cite it; a draft kept in the database and checked as it is
//! saved; and publishing a draft as a new version ([`crate::published`]). Managers and
//! admins of the policy's seller only. A draft never decides a case: only published versions
//! are loaded by the service.
//!
//! The boundaries a draft may not cross, whatever its text says: it stays the policy it was
//! opened as (`[policy] id`), the seller it belongs to (`seller`), and a seller policy (a law
//! layer binds every seller, so it is published from the command line only).

use std::sync::Arc;

use aftercare_policy::model::{Action, Kind, Policy, remedies};
use aftercare_policy::{PolicySet, SourceFile};
use aftercare_store::{Store, Tx, Val};
use jiff::Timestamp;
use serde::Serialize;

use crate::accounts::{Principal, Role, staff_with};
use crate::published::{self, Version, save_scenarios};
use crate::time::{from_micros, micros};
use crate::{AppError, Policies};

/// The roles that may use the studio.
const ROLES: &[Role] = &[Role::Manager, Role::Admin];
/// The scope a token needs for it.
pub const SCOPE: &str = "policies:write";
/// The longest draft kept (the longest seed policy is about 60 kB).
pub const MAX_DRAFT: usize = 512 * 1024;

/// A policy the caller may work on: published, or a new one with only a draft.
#[derive(Clone, Debug)]
struct Target {
    id: String,
    seller: String,
    published: Option<Arc<Policy>>,
}

/// Policy `id` if `who` may work on it in the studio: a published policy of a seller they
/// work for, or the draft of a new one. Another seller's is "not found", as a case of one is.
fn target(
    tx: &mut dyn Tx,
    who: &Principal,
    policies: &Policies,
    id: &str,
) -> Result<Target, AppError> {
    let sellers = staff_with(who, ROLES, SCOPE, "edit policies")?;
    let found = match policies.get(id).ok() {
        Some(p) => p.seller.clone().map(|seller| Target {
            id: id.to_string(),
            seller,
            published: Some(Arc::clone(p)),
        }),
        None => tx
            .query_opt(
                "SELECT seller FROM policy_drafts WHERE policy_id = ?",
                &[id.into()],
            )?
            .map(|r| r.text(0))
            .transpose()?
            .map(|seller| Target {
                id: id.to_string(),
                seller,
                published: None,
            }),
    };
    found
        .filter(|t| sellers.includes(&t.seller))
        .ok_or_else(|| AppError::not_found("policy", id))
}

/// [`target`] for a published policy.
fn may_edit(who: &Principal, policies: &Policies, id: &str) -> Result<Arc<Policy>, AppError> {
    let sellers = staff_with(who, ROLES, SCOPE, "edit policies")?;
    let policy = policies
        .get(id)
        .ok()
        .filter(|p| p.seller.as_deref().is_some_and(|s| sellers.includes(s)))
        .ok_or_else(|| AppError::not_found("policy", id))?;
    Ok(Arc::clone(policy))
}

/// A new policy's draft not yet published.
#[derive(Clone, Debug, Serialize)]
pub struct NewDraft {
    pub policy_id: String,
    pub seller: String,
    pub saved_by: String,
    pub saved_at: Timestamp,
}

/// The drafts of new policies (none published yet) of the sellers `who` works for.
pub fn new_drafts(
    store: &mut Store,
    who: &Principal,
    policies: &Policies,
) -> Result<Vec<NewDraft>, AppError> {
    let sellers = staff_with(who, ROLES, SCOPE, "edit policies")?.clone();
    let rows = store.read(|tx| {
        tx.query(
            "SELECT policy_id, seller, saved_by, saved_at FROM policy_drafts ORDER BY policy_id",
            &[],
        )
    })?;
    let mut out = Vec::new();
    for r in rows {
        let (id, seller) = (r.text(0)?, r.text(1)?);
        if policies.get(&id).is_err() && sellers.includes(&seller) {
            out.push(NewDraft {
                policy_id: id,
                seller,
                saved_by: r.text(2)?,
                saved_at: from_micros(r.int(3)?)?,
            });
        }
    }
    Ok(out)
}

/// Starts a new policy `id` of `seller` from its after-sales document: the document split
/// into clauses by its own numbering, as a skeleton with every clause and no rules
/// ([`aftercare_policy::split`]), saved as the new policy's draft. The caller must work for
/// the seller; the id must be new (lower-case letters, digits and `-`).
pub fn create(
    store: &mut Store,
    who: &Principal,
    policies: &Policies,
    id: &str,
    seller: &str,
    document: &str,
    now: Timestamp,
) -> Result<Checked, AppError> {
    let sellers = staff_with(who, ROLES, SCOPE, "edit policies")?;
    let seller = seller.trim();
    if seller.is_empty() || seller.chars().count() > 80 || seller.chars().any(char::is_control) {
        return Err(AppError::invalid("seller", "1 to 80 characters"));
    }
    if !sellers.includes(seller) {
        return Err(AppError::Forbidden(format!(
            "you do not work for seller `{seller}`"
        )));
    }
    let good_id = (2..=40).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !good_id {
        return Err(AppError::invalid(
            "id",
            format!("`{id}`: 2 to 40 lower-case letters, digits and `-`, starting with a letter"),
        ));
    }
    if document.trim().is_empty() {
        return Err(AppError::invalid(
            "document",
            "paste the seller's after-sales document",
        ));
    }
    if document.len() > MAX_DRAFT {
        return Err(AppError::invalid(
            "document",
            format!("at most {MAX_DRAFT} bytes; this one is {}", document.len()),
        ));
    }
    if policies.all().any(|p| p.id == id) {
        return Err(AppError::invalid(
            "id",
            format!("`{id}` is a policy already: edit its draft instead"),
        ));
    }
    let text = aftercare_policy::split::skeleton(document, id, seller);
    let target = Target {
        id: id.to_string(),
        seller: seller.to_string(),
        published: None,
    };
    let actor = who.actor();
    store.tx(|tx| {
        let taken = tx.query_opt(
            "SELECT 1 FROM policy_drafts WHERE policy_id = ?",
            &[id.into()],
        )?;
        if taken.is_some() {
            return Err(AppError::invalid(
                "id",
                format!("a draft of `{id}` exists already: open it"),
            ));
        }
        let (checked, _) = check_in(tx, &target, &text)?;
        tx.exec(
            "INSERT INTO policy_drafts (policy_id, seller, text, saved_by, saved_at)
             VALUES (?, ?, ?, ?, ?)",
            &[
                id.into(),
                seller.into(),
                (&text).into(),
                (&actor).into(),
                Val::Int(micros(now)),
            ],
        )?;
        Ok(checked)
    })
}

/// The seller policies `who` may work on, latest versions, by id.
pub fn visible(who: &Principal, policies: &Policies) -> Result<Vec<Arc<Policy>>, AppError> {
    let sellers = staff_with(who, ROLES, SCOPE, "edit policies")?;
    let mut out: Vec<Arc<Policy>> = policies
        .sellers()
        .filter(|p| p.seller.as_deref().is_some_and(|s| sellers.includes(s)))
        .cloned()
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

/// A policy as its document: every clause with the rules that cite it.
#[derive(Clone, Debug, Serialize)]
pub struct Document {
    pub id: String,
    pub title: String,
    pub seller: String,
    pub version: String,
    pub effective_from: String,
    pub hash: String,
    pub clauses: Vec<ClauseView>,
    /// Clauses no rule cites.
    pub uncited: usize,
    pub params: Vec<ParamView>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ClauseView {
    pub id: String,
    pub title: String,
    pub text: String,
    pub rules: Vec<RuleWords>,
}

/// A rule in words: what it does, when, and the file's note.
#[derive(Clone, Debug, Serialize)]
pub struct RuleWords {
    pub id: String,
    /// `allows Free repair`, `requires "payment of the repair quotation" for Paid repair`…
    pub does: String,
    /// The condition as written, if any.
    pub when: Option<String>,
    pub note: Option<String>,
    /// Its line in the file.
    pub line: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct ParamView {
    pub name: String,
    pub value: String,
    /// Whether the document states it, else the file's default (see `note`).
    pub stated: bool,
    pub note: Option<String>,
}

fn labels(mask: u16) -> String {
    remedies(mask)
        .map(|r| r.label())
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a rule does, in words.
fn does(action: &Action) -> String {
    match action {
        Action::Allow(r) => format!("allows {}", labels(*r)),
        Action::Deny(r) => format!("denies {}", labels(*r)),
        Action::Set(outputs) => outputs
            .iter()
            .map(|o| format!("sets {} to {}", o.output.label(), o.text))
            .collect::<Vec<_>>()
            .join("; "),
        Action::Require {
            label, remedies, ..
        } => {
            format!("requires \u{201c}{label}\u{201d} for {}", labels(*remedies))
        }
        Action::Deadline {
            name,
            from_text,
            within,
            ..
        } => format!("{}: {within} from {from_text}", name.label()),
        Action::Flag(f) => format!("flags the case: {f}"),
        Action::Notice => "tells the customer this clause".to_string(),
    }
}

/// The document view of a loaded policy.
pub fn document(p: &Policy) -> Document {
    let mut clauses: Vec<ClauseView> = p
        .clauses
        .iter()
        .map(|c| ClauseView {
            id: c.id.clone(),
            title: c.title.clone(),
            text: c.text.clone(),
            rules: Vec::new(),
        })
        .collect();
    for r in &p.rules {
        if let Some(c) = clauses.get_mut(usize::from(r.clause)) {
            c.rules.push(RuleWords {
                id: r.id.clone(),
                does: does(&r.action),
                when: r.when.as_ref().map(|w| w.text.clone()),
                note: r.note.clone(),
                line: r.line,
            });
        }
    }
    Document {
        id: p.id.clone(),
        title: p.title.clone(),
        seller: p.seller.clone().unwrap_or_default(),
        version: p.version.clone(),
        effective_from: p.effective_from.to_string(),
        hash: p.hash.clone(),
        uncited: clauses.iter().filter(|c| c.rules.is_empty()).count(),
        clauses,
        params: p
            .params
            .iter()
            .map(|x| ParamView {
                name: x.name.clone(),
                value: x.value.to_string(),
                stated: x.stated,
                note: x.note.clone(),
            })
            .collect(),
    }
}

/// A policy as the studio shows it: its document and its versions published.
pub fn read(
    store: &mut Store,
    who: &Principal,
    policies: &Policies,
    id: &str,
) -> Result<(Document, Vec<Version>), AppError> {
    let policy = may_edit(who, policies, id)?;
    let versions = store.read(|tx| published::list(tx))?;
    Ok((
        document(&policy),
        versions.into_iter().filter(|v| v.policy_id == id).collect(),
    ))
}

/// How a clause differs between two versions of a policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Added,
    Removed,
    /// Its text or title changed (its rules may have too).
    Text,
    /// Only the rules citing it changed.
    Rules,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Added => "added",
            Change::Removed => "removed",
            Change::Text => "text",
            Change::Rules => "rules",
        }
    }
}

/// One clause that differs, as it was and as it is.
#[derive(Clone, Debug, Serialize)]
pub struct ClauseDiff {
    pub id: String,
    pub change: Change,
    pub before: Option<ClauseView>,
    pub after: Option<ClauseView>,
}

/// A parameter whose value differs (`None`: not in that version).
#[derive(Clone, Debug, Serialize)]
pub struct ParamDiff {
    pub name: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// Two versions of a policy compared clause by clause.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Diff {
    pub clauses: Vec<ClauseDiff>,
    pub params: Vec<ParamDiff>,
}

impl Diff {
    pub fn is_empty(&self) -> bool {
        self.clauses.is_empty() && self.params.is_empty()
    }
}

/// What changed from `before` to `after`: clauses in `after`'s order, then those removed;
/// a rule counts as changed when what it does, its condition or its note does (not its line).
pub fn diff(before: &Document, after: &Document) -> Diff {
    let words = |c: &ClauseView| -> Vec<(String, String, Option<String>, Option<String>)> {
        c.rules
            .iter()
            .map(|r| (r.id.clone(), r.does.clone(), r.when.clone(), r.note.clone()))
            .collect()
    };
    let mut clauses = Vec::new();
    for a in &after.clauses {
        let change = match before.clauses.iter().find(|b| b.id == a.id) {
            None => Some(Change::Added),
            Some(b) if b.text != a.text || b.title != a.title => Some(Change::Text),
            Some(b) if words(b) != words(a) => Some(Change::Rules),
            Some(_) => None,
        };
        if let Some(change) = change {
            clauses.push(ClauseDiff {
                id: a.id.clone(),
                change,
                before: before.clauses.iter().find(|b| b.id == a.id).cloned(),
                after: Some(a.clone()),
            });
        }
    }
    for b in &before.clauses {
        if !after.clauses.iter().any(|a| a.id == b.id) {
            clauses.push(ClauseDiff {
                id: b.id.clone(),
                change: Change::Removed,
                before: Some(b.clone()),
                after: None,
            });
        }
    }
    let value = |d: &Document, name: &str| {
        d.params
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.value.clone())
    };
    let mut names: Vec<&str> = after
        .params
        .iter()
        .chain(&before.params)
        .map(|p| p.name.as_str())
        .collect();
    names.sort_unstable();
    names.dedup();
    let params = names
        .into_iter()
        .filter_map(|n| {
            let (b, a) = (value(before, n), value(after, n));
            (b != a).then(|| ParamDiff {
                name: n.to_string(),
                before: b,
                after: a,
            })
        })
        .collect();
    Diff { clauses, params }
}

/// The document of a stored policy text.
fn stored_document(tx: &mut dyn Tx, hash: &str) -> Result<Document, AppError> {
    let row = tx
        .query_opt(
            "SELECT file, text FROM policy_texts WHERE hash = ?",
            &[hash.into()],
        )?
        .ok_or_else(|| AppError::corrupt("policy texts", format!("no text with hash `{hash}`")))?;
    let (file, text) = (row.text(0)?, row.text(1)?);
    let (policy, _) = aftercare_policy::load::load(&file, &text)
        .map_err(|d| AppError::corrupt("policy texts", format!("`{file}` no longer loads: {d}")))?;
    Ok(document(&policy))
}

/// Versions `from` and `to` (their publication numbers) of policy `id` compared.
pub fn compare(
    store: &mut Store,
    who: &Principal,
    policies: &Policies,
    id: &str,
    from: i64,
    to: i64,
) -> Result<(Version, Version, Diff), AppError> {
    may_edit(who, policies, id)?;
    store.read(|tx| {
        let versions = published::list(tx)?;
        let find = |seq: i64| {
            versions
                .iter()
                .find(|v| v.seq == seq && v.policy_id == id)
                .cloned()
                .ok_or_else(|| AppError::not_found("policy version", format!("{id} #{seq}")))
        };
        let (a, b) = (find(from)?, find(to)?);
        let d = diff(
            &stored_document(tx, &a.hash)?,
            &stored_document(tx, &b.hash)?,
        );
        Ok((a, b, d))
    })
}

/// The saved draft against the version in force today, or `None` without a saved draft that
/// loads.
pub fn draft_changes(
    store: &mut Store,
    who: &Principal,
    policies: &Policies,
    id: &str,
) -> Result<Option<Diff>, AppError> {
    let target = store.read(|tx| target(tx, who, policies, id))?;
    let Some(policy) = target.published else {
        return Ok(None);
    };
    let Some(saved) = store.read(|tx| stored_draft(tx, id))? else {
        return Ok(None);
    };
    Ok(aftercare_policy::load::load(&draft_file(id), &saved.text)
        .ok()
        .map(|(p, _)| diff(&document(&policy), &document(&p))))
}

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

/// A draft: the saved one, else the latest version's text.
#[derive(Clone, Debug, Serialize)]
pub struct Draft {
    pub policy_id: String,
    pub text: String,
    /// Who saved it and when; `None` while it is the published text.
    pub saved: Option<(String, Timestamp)>,
}

fn stored_draft(tx: &mut dyn Tx, id: &str) -> Result<Option<Draft>, AppError> {
    tx.query_opt(
        "SELECT text, saved_by, saved_at FROM policy_drafts WHERE policy_id = ?",
        &[id.into()],
    )?
    .map(|r| {
        Ok(Draft {
            policy_id: id.to_string(),
            text: r.text(0)?,
            saved: Some((r.text(1)?, from_micros(r.int(2)?)?)),
        })
    })
    .transpose()
}

/// The draft of policy `id`.
pub fn draft(
    store: &mut Store,
    who: &Principal,
    policies: &Policies,
    id: &str,
) -> Result<Draft, AppError> {
    let target = store.read(|tx| target(tx, who, policies, id))?;
    if let Some(d) = store.read(|tx| stored_draft(tx, id))? {
        return Ok(d);
    }
    let policy = target
        .published
        .ok_or_else(|| AppError::not_found("policy", id))?;
    let text = store
        .read(|tx| {
            tx.query_opt(
                "SELECT text FROM policy_texts WHERE hash = ?",
                &[(&policy.hash).into()],
            )
        })?
        .map(|r| r.text(0))
        .transpose()?
        .ok_or_else(|| AppError::corrupt("policy texts", format!("no text for `{id}`")))?;
    Ok(Draft {
        policy_id: id.to_string(),
        text,
        saved: None,
    })
}

/// What checking a draft found: the draft loaded (as it would be published, beside the law
/// layers and other policies published), or the checker's messages, each with file, line and
/// column, as `aftercare policy check` prints them.
#[derive(Debug)]
pub enum Checked {
    Loads {
        document: Box<Document>,
        warnings: Vec<String>,
    },
    Errors(Vec<String>),
}

/// The file name a draft is checked and published under.
fn draft_file(id: &str) -> String {
    format!("{id}.toml")
}

/// Checks a draft of policy `policy` with what is published: the draft takes that policy's
/// place; it must keep its id and seller and be a seller policy.
fn check_in(
    tx: &mut dyn Tx,
    policy: &Target,
    text: &str,
) -> Result<(Checked, Option<Policies>), AppError> {
    if text.len() > MAX_DRAFT {
        return Err(AppError::invalid(
            "text",
            format!(
                "a draft is at most {MAX_DRAFT} bytes; this one is {}",
                text.len()
            ),
        ));
    }
    let draft = SourceFile {
        name: draft_file(&policy.id),
        text: text.to_string(),
    };
    let live = published::sources(tx)?;
    let others: Vec<SourceFile> = live
        .into_iter()
        .filter(|f| {
            aftercare_policy::load::load(&f.name, &f.text)
                .map(|(p, _)| p.id != policy.id)
                .unwrap_or(true)
        })
        .collect();
    let mut files = others;
    files.push(draft);
    let set = match PolicySet::from_sources(&files) {
        Ok(set) => set,
        Err(d) => {
            return Ok((
                Checked::Errors(d.0.iter().map(ToString::to_string).collect()),
                None,
            ));
        }
    };
    let Some(loaded) = set.iter().find(|p| p.file == draft_file(&policy.id)) else {
        return Ok((
            Checked::Errors(vec![format!(
                "{}: the draft must stay policy `{}` (its `[policy] id`)",
                draft_file(&policy.id),
                policy.id
            )]),
            None,
        ));
    };
    let mut refusals = Vec::new();
    if loaded.id != policy.id {
        refusals.push(format!(
            "{}: the draft names policy `{}`; it must stay `{}` (a new policy is made from a document)",
            loaded.file, loaded.id, policy.id
        ));
    }
    if loaded.kind != Kind::Seller {
        refusals.push(format!(
            "{}: a law layer binds every seller and is published from the command line only",
            loaded.file
        ));
    }
    if loaded.seller.as_deref() != Some(policy.seller.as_str()) {
        refusals.push(format!(
            "{}: the draft's seller is {}; it must stay {}",
            loaded.file,
            loaded.seller.as_deref().unwrap_or("none"),
            policy.seller
        ));
    }
    if !refusals.is_empty() {
        return Ok((Checked::Errors(refusals), None));
    }
    let checked = Checked::Loads {
        document: Box::new(document(loaded)),
        warnings: set.warnings.iter().map(ToString::to_string).collect(),
    };
    // The set the what-if decides with: the draft in the policy's place.
    let policies = Policies::from_sources(files)?;
    Ok((checked, Some(policies)))
}

/// Saves the draft of policy `id` (checked, and kept whether it loads or not, as an editor
/// keeps a file with errors) and says what checking it found.
pub fn save_draft(
    store: &mut Store,
    who: &Principal,
    policies: &Policies,
    id: &str,
    text: &str,
    now: Timestamp,
) -> Result<Checked, AppError> {
    let actor = who.actor();
    store.tx(|tx| {
        let policy = target(tx, who, policies, id)?;
        let (checked, _) = check_in(tx, &policy, text)?;
        tx.exec(
            "INSERT INTO policy_drafts (policy_id, seller, text, saved_by, saved_at)
             VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (policy_id) DO UPDATE SET text = excluded.text,
               saved_by = excluded.saved_by, saved_at = excluded.saved_at",
            &[
                id.into(),
                (&policy.seller).into(),
                text.into(),
                (&actor).into(),
                Val::Int(micros(now)),
            ],
        )?;
        Ok(checked)
    })
}

/// What checking policy `id`'s draft (as saved, else the text in force) finds, writing nothing.
pub fn check(
    store: &mut Store,
    who: &Principal,
    policies: &Policies,
    id: &str,
) -> Result<Checked, AppError> {
    let policy = store.read(|tx| target(tx, who, policies, id))?;
    let text = draft(store, who, policies, id)?.text;
    store.read(|tx| check_in(tx, &policy, &text).map(|(checked, _)| checked))
}

/// The set a what-if of the saved draft decides with (the draft in the policy's place), or
/// why the draft cannot be tried.
pub fn draft_set(
    store: &mut Store,
    who: &Principal,
    policies: &Policies,
    id: &str,
) -> Result<Policies, AppError> {
    let policy = store.read(|tx| target(tx, who, policies, id))?;
    let text = draft(store, who, policies, id)?.text;
    store.read(|tx| match check_in(tx, &policy, &text)? {
        (_, Some(set)) => Ok(set),
        (Checked::Errors(e), None) => Err(AppError::invalid("draft", e.join("\n"))),
        (Checked::Loads { .. }, None) => Err(AppError::invalid("draft", "it does not load")),
    })
}

/// Publishes the saved draft of policy `id` as a new version in force from `effective_from`
/// (written into the draft's `effective_from`), checked with everything published; the draft
/// is then discarded. The draft's `version` must be new.
pub fn publish_draft(
    store: &mut Store,
    who: &Principal,
    policies: &Policies,
    id: &str,
    effective_from: jiff::civil::Date,
    now: Timestamp,
) -> Result<Version, AppError> {
    let actor = who.actor();
    store.tx(|tx| {
        let policy = target(tx, who, policies, id)?;
        let text = stored_draft(tx, id)?
            .ok_or_else(|| AppError::invalid("draft", "there is no saved draft to publish"))?
            .text;
        let text = with_effective_from(&text, effective_from)?;
        match check_in(tx, &policy, &text)? {
            (Checked::Loads { .. }, Some(_)) => {}
            (Checked::Errors(e), _) => return Err(AppError::invalid("draft", e.join("\n"))),
            (Checked::Loads { .. }, None) => {
                return Err(AppError::invalid("draft", "it does not load"));
            }
        }
        let file = SourceFile {
            name: draft_file(id),
            text,
        };
        let mut done = published::publish(tx, vec![file], &actor, now)?;
        let version = done.pop().ok_or_else(|| {
            AppError::invalid("draft", "this text is published already: change it first")
        })?;
        tx.exec(
            "DELETE FROM policy_drafts WHERE policy_id = ?",
            &[id.into()],
        )?;
        Ok(version)
    })
}

/// The text with its `[policy]` table's `effective_from` set to `day` (added when missing).
fn with_effective_from(text: &str, day: jiff::civil::Date) -> Result<String, AppError> {
    let mut out = String::with_capacity(text.len() + 32);
    let mut table = String::new();
    let mut done = false;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if trimmed.starts_with('[') {
            if table == "[policy]" && !done {
                out.push_str(&format!("effective_from = {day}\n"));
                done = true;
            }
            table = trimmed.trim_end().to_string();
        }
        if table == "[policy]"
            && !done
            && trimmed
                .strip_prefix("effective_from")
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        {
            out.push_str(&format!("effective_from = {day}\n"));
            done = true;
            continue;
        }
        out.push_str(line);
    }
    if table == "[policy]" && !done {
        if !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&format!("effective_from = {day}\n"));
        done = true;
    }
    if !done {
        return Err(AppError::invalid(
            "draft",
            "it has no `[policy]` table to set the start date in",
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail on error")]

    use super::*;

    #[test]
    fn the_start_date_is_set_in_the_policy_table_only() {
        let day: jiff::civil::Date = "2027-03-01".parse().unwrap();
        let text = "[policy]\nid = \"x\"\neffective_from = 2024-01-01\n\n[[clause]]\nid = \"1\"\neffective_from = 1\n";
        let out = with_effective_from(text, day).unwrap();
        assert_eq!(
            out,
            "[policy]\nid = \"x\"\neffective_from = 2027-03-01\n\n[[clause]]\nid = \"1\"\neffective_from = 1\n"
        );
        let missing = with_effective_from("[policy]\nid = \"x\"\n[[clause]]\n", day).unwrap();
        assert!(missing.contains("id = \"x\"\neffective_from = 2027-03-01\n[[clause]]"));
        assert!(with_effective_from("id = 1\n", day).is_err());
    }
}
