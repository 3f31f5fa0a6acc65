//! The policy studio's use cases (issue 20, part 2): a seller's policy read as its document,
//! each clause with the rules that cite it; a draft kept in the database and checked as it is
//! saved; and publishing a draft as a new version ([`crate::published`]). Managers and
//! admins of the policy's seller only. A draft never decides a case: only published versions
//! are loaded by the service.
//!
//! The boundaries a draft may not cross, whatever its text says: it stays the policy it was
//! opened as (`[policy] id`), the seller it belongs to (`seller`), and a seller policy (a law
//! layer binds every seller, so it is published from the command line only).

//!
//! `document` shows a policy and compares versions; `drafts` keeps, checks and publishes
//! drafts; `scenarios` runs them and saves a case as one. This file holds who may work on what.

mod document;
mod drafts;
mod scenarios;

pub use document::{
    Change, ClauseDiff, ClauseView, Diff, Document, ParamDiff, ParamView, RuleWords, compare, diff,
    document, draft_changes, read,
};
pub use drafts::{Checked, Draft, check, draft, draft_set, publish_draft, save_draft};
pub use scenarios::{ScenarioResult, ScenarioRun, run_scenarios, save_case_as_scenario};

use std::sync::Arc;

use aftercare_policy::model::Policy;
use aftercare_store::{Store, Tx, Val};
use jiff::Timestamp;
use serde::Serialize;

use crate::accounts::{Principal, Role, staff_with};
use crate::time::{from_micros, micros};
use crate::{AppError, Policies};
use drafts::check_in;

/// The roles that may use the studio.
const ROLES: &[Role] = &[Role::Manager, Role::Admin];
/// The scope a token needs for it.
pub const SCOPE: &str = "policies:write";
/// The longest draft kept (the longest seed policy is about 60 kB).
pub const MAX_DRAFT: usize = 512 * 1024;

/// A policy the caller may work on: published, or a new one with only a draft.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    id: String,
    seller: String,
    published: Option<Arc<Policy>>,
}

/// Policy `id` if `who` may work on it in the studio: a published policy of a seller they
/// work for, or the draft of a new one. Another seller's is "not found", as a case of one is.
pub(crate) fn target(
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

/// Whether `who` may work on policy `id` (published, or a new one's draft): `Ok`, or why not.
pub fn may_work_on(
    store: &mut Store,
    who: &Principal,
    policies: &Policies,
    id: &str,
) -> Result<(), AppError> {
    store.read(|tx| target(tx, who, policies, id).map(|_| ()))
}

/// [`target`] for a published policy.
pub(crate) fn may_edit(
    who: &Principal,
    policies: &Policies,
    id: &str,
) -> Result<Arc<Policy>, AppError> {
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
