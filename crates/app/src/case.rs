//! A case as stored: its row, read (and on PostgreSQL locked) and written back, and the checks
//! every use case makes of what it writes into one. The use cases are in [`crate::cases`];
//! this layer calls none of them.

use aftercare_domain::case::{self, Action, CaseKind, State};
use aftercare_policy::facts::Facts;
use aftercare_store::{Dialect, Row, Tx, Val};
use jiff::Timestamp;
use jiff::civil::Date;
use serde_json::{Map, Value as J, json};

use crate::stated::Provenance;
use crate::time::{from_micros, micros};
use crate::{AppError, audit};

/// The longest description a case keeps, in characters.
pub const MAX_DESCRIPTION: usize = 4000;

/// A case as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct Case {
    pub id: i64,
    pub kind: CaseKind,
    pub state: State,
    pub customer_id: Option<i64>,
    pub order_no: Option<String>,
    pub serial: Option<String>,
    pub policy_id: String,
    pub facts: Map<String, J>,
    pub authorisation: Option<String>,
    pub ship_by: Option<Date>,
    pub opened_at: Timestamp,
    pub updated_at: Timestamp,
    /// The customer's own words; kept out of the audit chain (see migration 0007).
    pub description: Option<String>,
    /// Who stated each of `facts` (`customer`, `staff`, `correction`), by fact path.
    pub fact_sources: Map<String, J>,
}

pub(crate) const CASE_COLUMNS: &str = "id, kind, state, customer_id, order_no, serial, policy_id, facts, \
                            authorisation, ship_by, opened_at, updated_at, description, fact_sources";

impl Case {
    pub(crate) fn from_row(r: &Row) -> Result<Case, AppError> {
        let bad = |field: &str, e: String| AppError::corrupt(format!("case.{field}"), e);
        let facts = match serde_json::from_str::<J>(&r.text(7)?) {
            Ok(J::Object(m)) => m,
            Ok(_) => return Err(bad("facts", "not an object".into())),
            Err(e) => return Err(bad("facts", e.to_string())),
        };
        Ok(Case {
            id: r.int(0)?,
            kind: r.text(1)?.parse().map_err(|e| bad("kind", e))?,
            state: r.text(2)?.parse().map_err(|e| bad("state", e))?,
            customer_id: r.opt_int(3)?,
            order_no: r.opt_text(4)?,
            serial: r.opt_text(5)?,
            policy_id: r.text(6)?,
            facts,
            authorisation: r.opt_text(8)?,
            ship_by: r
                .opt_text(9)?
                .map(|s| s.parse::<Date>())
                .transpose()
                .map_err(|e| bad("ship_by", e.to_string()))?,
            opened_at: from_micros(r.int(10)?)?,
            updated_at: from_micros(r.int(11)?)?,
            description: r.opt_text(12)?,
            fact_sources: match serde_json::from_str::<J>(&r.text(13)?) {
                Ok(J::Object(m)) => m,
                Ok(_) => return Err(bad("fact_sources", "not an object".into())),
                Err(e) => return Err(bad("fact_sources", e.to_string())),
            },
        })
    }

    /// Who stated fact `path` on this case, if anyone did.
    pub fn source_of(&self, path: &str) -> Option<Provenance> {
        self.fact_sources
            .get(path)
            .and_then(J::as_str)
            .and_then(Provenance::parse)
    }

    /// Lays facts stated by someone over the case's own, remembering who stated them.
    pub(crate) fn state(&mut self, facts: &Map<String, J>, who: &[(String, Provenance)]) {
        for (k, v) in facts {
            self.facts.insert(k.clone(), v.clone());
        }
        for (k, p) in who {
            self.fact_sources
                .insert(k.clone(), J::String(p.as_str().to_string()));
        }
    }

    /// What the audit log keeps of a case: no personal data, only ids and states.
    pub(crate) fn audit_view(&self) -> J {
        json!({
            "state": self.state.as_str(),
            "facts": self.facts,
            "authorisation": self.authorisation,
            "ship_by": self.ship_by.map(|d| d.to_string()),
            "fact_sources": self.fact_sources,
        })
    }

    /// Its version: changes with every change (an HTTP `ETag`).
    pub fn version(&self) -> String {
        format!("{}-{}", self.id, micros(self.updated_at))
    }

    pub fn to_json(&self) -> J {
        json!({
            "id": self.id,
            "kind": self.kind.as_str(),
            "state": self.state.as_str(),
            "customer_id": self.customer_id,
            "order_no": self.order_no,
            "serial": self.serial,
            "policy": self.policy_id,
            "facts": self.facts,
            "authorisation": self.authorisation,
            "ship_by": self.ship_by.map(|d| d.to_string()),
            "opened_at": self.opened_at.to_string(),
            "updated_at": self.updated_at.to_string(),
            "description": self.description,
            "version": self.version(),
            "can": case::allowed_from(self.kind, self.state)
                .filter(|a| !a.is_timer())
                .map(Action::as_str)
                .collect::<Vec<_>>(),
        })
    }
}

pub(crate) fn check_facts(facts: &Map<String, J>) -> Result<Facts, AppError> {
    Facts::from_json(&J::Object(facts.clone()))
        .map_err(|e| AppError::invalid(format!("facts.{}", e.path), e.message))
}

/// Loads a case to change it; on PostgreSQL the row stays locked until the transaction ends,
/// so two moves of one case never interleave. Its audit chain's head comes with it (the same
/// round trip) and is held for the transaction's appends ([`audit::hold_head`]): the case's
/// lock is taken first, so the head is the one the last change committed.
pub fn load(tx: &mut dyn Tx, id: i64) -> Result<Case, AppError> {
    let dialect = tx.dialect();
    let lock = if dialect == Dialect::Postgres {
        " FOR UPDATE"
    } else {
        ""
    };
    let chain = audit::chain_of("case", &id.to_string());
    let id_param = [Val::Int(id)];
    let chain_param = [Val::from(&chain)];
    let mut answers = tx
        .query_all(&[
            (&select(lock), &id_param),
            (audit::head_query(dialect), &chain_param),
        ])?
        .into_iter();
    let (case, head) = (
        answers.next().unwrap_or_default(),
        answers.next().unwrap_or_default(),
    );
    audit::hold_head(tx, &chain, head.first())?;
    the_case(&case, id)
}

/// Reads a case, taking no lock (in a read-only transaction too).
pub fn find(tx: &mut dyn Tx, id: i64) -> Result<Case, AppError> {
    fetch(tx, id, "")
}

pub(crate) fn fetch(tx: &mut dyn Tx, id: i64, lock: &str) -> Result<Case, AppError> {
    let rows = tx.query(&select(lock), &[Val::Int(id)])?;
    the_case(&rows, id)
}

/// The statement that reads a case by id, with `lock` after it (` FOR UPDATE`, or nothing).
fn select(lock: &str) -> String {
    format!("SELECT {CASE_COLUMNS} FROM cases WHERE id = ?{lock}")
}

/// Case `id` from the rows [`select`] gave; not found when there are none.
fn the_case(rows: &[Row], id: i64) -> Result<Case, AppError> {
    let row = rows
        .first()
        .ok_or_else(|| AppError::not_found("case", id.to_string()))?;
    Case::from_row(row)
}

/// A description as the case keeps it: trimmed, not empty, at most [`MAX_DESCRIPTION`]
/// characters.
pub(crate) fn description(d: &str) -> Result<String, AppError> {
    let d = d.trim();
    if d.is_empty() || d.chars().count() > MAX_DESCRIPTION {
        return Err(AppError::invalid(
            "description",
            format!("1 to {MAX_DESCRIPTION} characters"),
        ));
    }
    Ok(d.to_string())
}

/// `cases.next_due_at` (the desk queue's order): the case's nearest pending timer, in SQL
/// for an `UPDATE cases` (`cases.id` names the case).
pub(crate) const NEXT_DUE: &str = "COALESCE(
           (SELECT MIN(t.due_at) FROM timers t
             WHERE t.case_id = cases.id AND t.fired_at IS NULL AND t.cancelled_at IS NULL),
           9223372036854775807)";

/// Writes the case's changeable columns back, and its next due time from its timers (set them
/// first: `timers::sync`), in one new version of its row. Only a new authorisation
/// number can be refused (another case took it in the meantime): that write waits for its
/// answer, any other is sent without waiting.
pub(crate) fn save(tx: &mut dyn Tx, case: &Case, numbered: bool) -> Result<(), AppError> {
    // Its text made once: this is every move's write.
    static SAVE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "UPDATE cases SET state = ?, facts = ?, fact_sources = ?, authorisation = ?, ship_by = ?, description = ?, updated_at = ?, next_due_at = {NEXT_DUE} WHERE id = ?"
        )
    });
    let params = [
        case.state.as_str().into(),
        J::Object(case.facts.clone()).to_string().into(),
        J::Object(case.fact_sources.clone()).to_string().into(),
        case.authorisation.clone().into(),
        case.ship_by.map(|d| d.to_string()).into(),
        case.description.clone().into(),
        Val::Int(micros(case.updated_at)),
        Val::Int(case.id),
    ];
    if !numbered {
        return Ok(tx.exec_later(&SAVE, &params)?);
    }
    match tx.exec(&SAVE, &params) {
        Ok(_) => Ok(()),
        // Another case took the same number between the check and this write.
        Err(e) if matches!(e.violation(), Some((aftercare_store::Violation::Unique, _))) => {
            Err(AppError::invalid(
                "authorisation",
                "this authorisation number already names another case",
            ))
        }
        Err(e) => Err(e.into()),
    }
}

/// An authorisation number staff chose for case `id`: short, plain, and naming no other case.
pub(crate) fn authorisation_number(
    tx: &mut dyn Tx,
    id: i64,
    given: &str,
) -> Result<String, AppError> {
    let a = given.trim();
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '/' | '.');
    if a.is_empty() || a.len() > 40 || !a.chars().all(plain) {
        return Err(AppError::invalid(
            "authorisation",
            "1 to 40 letters, digits, `-`, `_`, `/` or `.`",
        ));
    }
    if tx
        .query_opt(
            "SELECT 1 FROM cases WHERE authorisation = ? AND id <> ?",
            &[a.into(), Val::Int(id)],
        )?
        .is_some()
    {
        return Err(AppError::invalid(
            "authorisation",
            "this authorisation number already names another case",
        ));
    }
    Ok(a.to_string())
}
