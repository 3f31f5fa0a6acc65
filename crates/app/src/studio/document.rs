//! A policy as its document, and two versions compared clause by clause.

use aftercare_policy::model::{Action, Policy, remedies};
use aftercare_store::{Store, Tx};
use serde::Serialize;

use super::drafts::{draft_file, stored_draft};
use super::{may_edit, target};
use crate::accounts::Principal;
use crate::published::{self, Version};
use crate::{AppError, Policies};

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
    /// Ids it had in earlier versions, which scenarios may still name.
    pub formerly: Vec<String>,
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
            formerly: c.formerly.clone(),
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
