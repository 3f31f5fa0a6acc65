//! The audit log: every state change and decision appends an event in the same transaction.
//! Events are chained: each stores the previous event's hash and its own, a SHA-256 over its
//! fields and that previous hash. The database refuses updates and deletes (triggers), and
//! [`verify`] recomputes the chain, so an edit or deletion made by going around the triggers
//! is found too. Events hold no personal data (customers appear by id), so erasing a customer
//! never has to touch the log.

use aftercare_store::{Store, Tx, Val};
use jiff::Timestamp;
use serde_json::Value as J;
use sha2::{Digest, Sha256};

use crate::AppError;
use crate::time::micros;

/// What happened, by whom, to what.
#[derive(Debug)]
pub struct Event<'a> {
    pub actor: &'a str,
    pub entity: &'a str,
    pub entity_id: String,
    pub action: &'a str,
    pub before: Option<J>,
    pub after: Option<J>,
}

impl<'a> Event<'a> {
    /// An event with what is now (`after`) and no `before`: most are; set `before` with
    /// struct update syntax where there is one.
    pub fn new(
        actor: &'a str,
        entity: &'a str,
        entity_id: impl ToString,
        action: &'a str,
        after: impl Into<Option<J>>,
    ) -> Self {
        Self {
            actor,
            entity,
            entity_id: entity_id.to_string(),
            action,
            before: None,
            after: after.into(),
        }
    }
}

/// The chain's value before the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Appends `e` at `at`; returns its sequence number.
pub fn append(tx: &mut dyn Tx, at: Timestamp, e: &Event<'_>) -> Result<i64, AppError> {
    // The update locks the head row until commit, so appends are serialised and the chain
    // never forks, on PostgreSQL as on SQLite. RETURNING gives the new number and the hash
    // of the event before it.
    let head = tx.query_one(
        "UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash",
        &[],
    )?;
    let (seq, prev) = (head.int(0)?, head.text(1)?);
    let before = e.before.as_ref().map(J::to_string);
    let after = e.after.as_ref().map(J::to_string);
    let at = micros(at);
    let hash = link_hash(&Link {
        seq,
        at,
        actor: e.actor,
        entity: e.entity,
        entity_id: &e.entity_id,
        action: e.action,
        before: before.as_deref(),
        after: after.as_deref(),
        prev_hash: &prev,
    });
    tx.exec(
        "INSERT INTO audit_events (seq, at, actor, entity, entity_id, action, before, after, prev_hash, hash)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        &[
            Val::Int(seq),
            Val::Int(at),
            e.actor.into(),
            e.entity.into(),
            (&e.entity_id).into(),
            e.action.into(),
            before.into(),
            after.into(),
            prev.into(),
            (&hash).into(),
        ],
    )?;
    tx.exec(
        "UPDATE audit_head SET hash = ? WHERE id = 1",
        &[hash.into()],
    )?;
    Ok(seq)
}

/// One event as hashed.
struct Link<'a> {
    seq: i64,
    at: i64,
    actor: &'a str,
    entity: &'a str,
    entity_id: &'a str,
    action: &'a str,
    before: Option<&'a str>,
    after: Option<&'a str>,
    prev_hash: &'a str,
}

/// SHA-256 over the fields as a JSON array: unambiguous, whatever the fields contain.
fn link_hash(l: &Link<'_>) -> String {
    let fields = serde_json::json!([
        l.seq,
        l.at,
        l.actor,
        l.entity,
        l.entity_id,
        l.action,
        l.before,
        l.after,
        l.prev_hash
    ]);
    aftercare_store::hex(&Sha256::digest(fields.to_string().as_bytes()))
}

/// The outcome of a full check of the chain.
#[derive(Debug, PartialEq, Eq)]
pub struct Verified {
    pub events: i64,
    pub head: String,
}

/// Recomputes every link, in pages. Finds an edited event (its hash no longer matches), a
/// deleted one (a gap in the numbers, or a broken link) and a deleted tail (the head records
/// more events than there are).
pub fn verify(store: &mut Store) -> Result<Verified, AppError> {
    const PAGE: i64 = 10_000;
    let mut prev_seq = 0;
    let mut prev_hash = GENESIS.to_string();
    loop {
        let rows = store.tx(|tx| -> Result<_, AppError> {
            Ok(tx.query(
                "SELECT seq, at, actor, entity, entity_id, action, before, after, prev_hash, hash
                 FROM audit_events WHERE seq > ? ORDER BY seq LIMIT ?",
                &[Val::Int(prev_seq), Val::Int(PAGE)],
            )?)
        })?;
        let n = rows.len();
        for r in rows {
            let seq = r.int(0)?;
            let broken = |problem: String| AppError::AuditBroken { seq, problem };
            if seq != prev_seq + 1 {
                return Err(AppError::AuditBroken {
                    seq: prev_seq + 1,
                    problem: format!("missing: the next event present is {seq}"),
                });
            }
            let stored_prev = r.text(8)?;
            if stored_prev != prev_hash {
                return Err(broken(format!(
                    "it links to `{stored_prev}`, but the event before it hashes to `{prev_hash}`"
                )));
            }
            let (before, after) = (r.opt_text(6)?, r.opt_text(7)?);
            let computed = link_hash(&Link {
                seq,
                at: r.int(1)?,
                actor: &r.text(2)?,
                entity: &r.text(3)?,
                entity_id: &r.text(4)?,
                action: &r.text(5)?,
                before: before.as_deref(),
                after: after.as_deref(),
                prev_hash: &stored_prev,
            });
            let stored = r.text(9)?;
            if computed != stored {
                return Err(broken(format!(
                    "its contents were changed: they hash to `{computed}`, not the stored `{stored}`"
                )));
            }
            prev_seq = seq;
            prev_hash = stored;
        }
        if i64::try_from(n).unwrap_or(i64::MAX) < PAGE {
            break;
        }
    }
    let head = store.tx(|tx| -> Result<_, AppError> {
        Ok(tx.query_one("SELECT seq, hash FROM audit_head WHERE id = 1", &[])?)
    })?;
    let (head_seq, head_hash) = (head.int(0)?, head.text(1)?);
    if head_seq != prev_seq || head_hash != prev_hash {
        return Err(AppError::AuditBroken {
            seq: prev_seq + 1,
            problem: format!(
                "the log ends at event {prev_seq}, but {head_seq} events were written: the last ones were deleted"
            ),
        });
    }
    Ok(Verified {
        events: prev_seq,
        head: prev_hash,
    })
}

/// The events about one entity, oldest first.
pub fn history(tx: &mut dyn Tx, entity: &str, entity_id: &str) -> Result<Vec<J>, AppError> {
    let rows = tx.query(
        "SELECT seq, at, actor, action, before, after FROM audit_events
         WHERE entity = ? AND entity_id = ? ORDER BY seq",
        &[entity.into(), entity_id.into()],
    )?;
    rows.iter()
        .map(|r| {
            let parse = |s: Option<String>| -> Result<Option<J>, AppError> {
                s.map(|s| crate::error::stored_json("audit event", &s))
                    .transpose()
            };
            Ok(serde_json::json!({
                "seq": r.int(0)?,
                "at": crate::time::from_micros(r.int(1)?)?.to_string(),
                "actor": r.text(2)?,
                "action": r.text(3)?,
                "before": parse(r.opt_text(4)?)?,
                "after": parse(r.opt_text(5)?)?,
            }))
        })
        .collect()
}
