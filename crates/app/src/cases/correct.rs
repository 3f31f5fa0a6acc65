//! Correcting the seller's records for one case, with a reason, audited and decided again.

use aftercare_store::Store;
use jiff::Timestamp;
use serde_json::{Map, Value as J, json};

use crate::audit::{self, Event};
use crate::case::{Case, check_facts, load, save};
use crate::decision::{Known, decide_recorded_on};
use crate::effects::announce;
use crate::stated::{self, By, Provenance};
use crate::{AppError, Policies, timers};

/// A correction of the seller's records for one case.
#[derive(Clone, Debug, Default)]
pub struct Correction {
    /// The facts of the records, as they should have been (`{"order.delivered": "…"}`).
    pub facts: Map<String, J>,
    /// Why: kept in the audit log.
    pub reason: String,
    /// Correct only if the case is still this version ([`Case::version`]).
    pub if_version: Option<String>,
}

/// Corrects the seller's records for one case (a delivery date the carrier got wrong, a
/// price the order mistyped): managers and admins, with a reason; audited with the values
/// before and after, and the case decided again. The registry itself is left as it is.
pub fn correct(
    store: &mut Store,
    policies: &Policies,
    id: i64,
    c: &Correction,
    by: By,
    actor: &str,
    now: Timestamp,
) -> Result<Case, AppError> {
    stated::check_correction(&c.facts, by)?;
    check_facts(&c.facts)?;
    let reason = c.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(AppError::invalid(
            "reason",
            "say why the records are wrong (1 to 500 characters)",
        ));
    }
    store.tx(|tx| -> Result<Case, AppError> {
        let before = load(tx, id)?;
        if let Some(v) = &c.if_version
            && *v != before.version()
        {
            return Err(AppError::Stale(format!(
                "case {id} changed since version {v} (it is now {}): read it again",
                before.version()
            )));
        }
        let known = Known::read(tx, &before)?;
        let was = known.facts(&before);
        let mut after = before.clone();
        let who: Vec<(String, Provenance)> = c
            .facts
            .keys()
            .map(|k| (k.clone(), Provenance::Correction))
            .collect();
        after.state(&c.facts, &who);
        after.updated_at = now;
        check_facts(&known.facts(&after))?;
        let decision = decide_recorded_on(tx, policies, &after, &known, actor, now)?.0;
        let policy = policies.get(&after.policy_id)?;
        timers::sync(tx, &after, &decision, policy.tz())?;
        save(tx, &after, false)?;
        let changes: Map<String, J> = c
            .facts
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    json!({"was": was.get(k).cloned().unwrap_or(J::Null), "now": v}),
                )
            })
            .collect();
        let seq = audit::append(
            tx,
            now,
            &Event {
                before: Some(before.audit_view()),
                ..Event::new(
                    actor,
                    "case",
                    id,
                    "correct",
                    json!({"corrected": changes, "reason": reason, "case": after.audit_view()}),
                )
            },
        )?;
        announce(tx, policies, &after, "correct", &seq, now)?;
        Ok(after)
    })
}
