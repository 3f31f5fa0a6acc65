//! Drafts: kept, checked against what is published, published from a date.

use aftercare_policy::model::Kind;
use aftercare_policy::{PolicySet, SourceFile};
use aftercare_store::{Store, Tx, Val};
use jiff::Timestamp;
use serde::Serialize;

use super::MAX_DRAFT;
use super::document::{Document, document};
use super::{Target, target};
use crate::accounts::Principal;
use crate::published::{self, Version};
use crate::time::{from_micros, micros};
use crate::{AppError, Policies};

/// A draft: the saved one, else the latest version's text.
#[derive(Clone, Debug, Serialize)]
pub struct Draft {
    pub policy_id: String,
    pub text: String,
    /// Who saved it and when; `None` while it is the published text.
    pub saved: Option<(String, Timestamp)>,
}

pub(super) fn stored_draft(tx: &mut dyn Tx, id: &str) -> Result<Option<Draft>, AppError> {
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
pub(super) fn draft_file(id: &str) -> String {
    format!("{id}.toml")
}

/// Checks a draft of policy `policy` with what is published: the draft takes that policy's
/// place; it must keep its id and seller and be a seller policy.
pub(super) fn check_in(
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
    let mut files = published::sources_except(tx, &policy.id)?;
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
    Ok((checked, Some(Policies::from_linked(set, files))))
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
