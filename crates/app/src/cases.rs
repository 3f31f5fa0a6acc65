//! Cases: opened, moved through the state machine of `aftercare_domain::case`, and decided.
//! A move records the facts it establishes (the date an application was accepted, a parcel
//! received, a quote sent or paid), re-decides the case, keeps that decision on record and
//! sets the case's timers from its deadlines, all in one transaction with its audit events.

use aftercare_domain::case::{self, Action, CaseKind, State};
use aftercare_policy::decision::{Due, Status};
use aftercare_policy::facts::Facts;
use aftercare_policy::schema::{DeadlineName, Output, Remedy};
use aftercare_policy::value::{Money, Value};
use aftercare_store::{Dialect, Row, Store, Tx, Val};
use jiff::Timestamp;
use jiff::civil::Date;
use serde_json::{Map, Value as J, json};

use crate::audit::{self, Event};
use crate::error::stored_json;
use crate::stated::{self, By, Provenance};
use crate::time::{from_micros, micros};
use crate::{AppError, Policies, timers};

/// What a new case needs.
#[derive(Clone, Debug, Default)]
pub struct NewCase {
    pub kind: Option<CaseKind>,
    /// The customer's ref.
    pub customer: Option<String>,
    pub order_no: Option<String>,
    pub serial: Option<String>,
    /// The seller policy; by default the one the unit's (or the order's) SKU names.
    pub policy: Option<String>,
    /// Facts about the case itself: the problem reported, the condition, evidence…
    pub facts: Map<String, J>,
    /// The request's own key (from its `Idempotency-Key`): opening again under the same key
    /// returns the case already opened.
    pub open_key: Option<String>,
    /// The customer's own words about what happened (at most [`MAX_DESCRIPTION`] characters).
    pub description: Option<String>,
}

/// The longest description a case keeps, in characters.
pub const MAX_DESCRIPTION: usize = 4000;

/// One move of a case.
#[derive(Clone, Debug)]
pub struct Step {
    pub action: Action,
    /// Facts this step establishes (inspection findings, parcel condition…).
    pub facts: Map<String, J>,
    /// For `approve`: the return authorisation number (default `RA-<case id>`).
    pub authorisation: Option<String>,
    /// For `approve`: the ship-by date (default: the decision's `ship_by` deadline).
    pub ship_by: Option<Date>,
    pub note: Option<String>,
    /// For `quote`: its lines, each `KIND:DESCRIPTION:AMOUNT` (`part:Fan:25.00`, `labour:Bench
    /// time:40.00`), amounts in the case's currency.
    pub quote_lines: Vec<String>,
    /// Move only if the case is still the version the caller saw ([`Case::version`]): two
    /// people moving one case cannot both win.
    pub if_version: Option<String>,
    /// For `submit` and `provide_info`: the customer's own words about what happened, in
    /// place of those the case has (at most [`MAX_DESCRIPTION`] characters).
    pub description: Option<String>,
}

/// One line of a repair quote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuoteLine {
    /// `part` or `labour`.
    pub kind: String,
    pub description: String,
    pub amount_minor: i64,
}

impl QuoteLine {
    /// Parses `KIND:DESCRIPTION:AMOUNT`, the amount in major units (`part:Fan:25.00`), in
    /// `currency`.
    pub fn parse(
        s: &str,
        currency: aftercare_policy::value::Currency,
    ) -> Result<QuoteLine, AppError> {
        let field = || format!("quote line `{s}`");
        let mut it = s.splitn(3, ':');
        let (Some(kind), Some(description), Some(amount)) = (it.next(), it.next(), it.next())
        else {
            return Err(AppError::invalid(
                field(),
                "expected KIND:DESCRIPTION:AMOUNT, e.g. part:Fan:25.00",
            ));
        };
        let money = aftercare_policy::value::Money::parse(&format!(
            "{} {}",
            amount.trim(),
            currency.as_str()
        ))
        .map_err(|e| AppError::invalid(field(), e))?;
        Ok(QuoteLine {
            kind: kind.trim().to_string(),
            description: description.trim().to_string(),
            amount_minor: money.minor,
        })
    }
}

impl Step {
    pub fn new(action: Action) -> Step {
        Step {
            action,
            facts: Map::new(),
            authorisation: None,
            ship_by: None,
            note: None,
            quote_lines: Vec::new(),
            if_version: None,
            description: None,
        }
    }
}

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
    fn state(&mut self, facts: &Map<String, J>, who: &[(String, Provenance)]) {
        for (k, v) in facts {
            self.facts.insert(k.clone(), v.clone());
        }
        for (k, p) in who {
            self.fact_sources
                .insert(k.clone(), J::String(p.as_str().to_string()));
        }
    }

    /// What the audit log keeps of a case: no personal data, only ids and states.
    fn audit_view(&self) -> J {
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

/// The seller policy a new case would be decided by: the one it names, else the one its
/// unit's (or order's) SKU names for the buyer's country.
pub fn policy_for(tx: &mut dyn Tx, new: &NewCase) -> Result<String, AppError> {
    if let Some(p) = &new.policy {
        return Ok(p.clone());
    }
    References::resolve(tx, new)?.policy()
}

/// Opens a case in `draft`; returns its id. `by` says who states its facts.
pub fn open(
    store: &mut Store,
    policies: &Policies,
    new: &NewCase,
    by: By,
    actor: &str,
    now: Timestamp,
) -> Result<i64, AppError> {
    store.tx(|tx| open_in(tx, policies, new, by, actor, now, &|_| Ok(())))
}

/// [`open`] inside a transaction the caller holds; `allow` refuses a policy the caller may
/// not open cases under, once it is known.
pub fn open_in(
    tx: &mut dyn Tx,
    policies: &Policies,
    new: &NewCase,
    by: By,
    actor: &str,
    now: Timestamp,
    allow: &dyn Fn(&aftercare_policy::model::Policy) -> Result<(), AppError>,
) -> Result<i64, AppError> {
    let kind = new
        .kind
        .ok_or_else(|| AppError::invalid("kind", "a case needs a kind"))?;
    let refs = References::resolve(tx, new)?;
    if let Some(r) = &new.customer
        && refs.customer_id.is_none()
    {
        return Err(AppError::invalid(
            "customer",
            format!("unknown customer `{r}`"),
        ));
    }
    if let Some(o) = &new.order_no
        && !refs.order_known
    {
        return Err(AppError::invalid("order", format!("unknown order `{o}`")));
    }
    if let Some(s) = &new.serial
        && refs.unit_sku.is_none()
    {
        return Err(AppError::invalid("serial", format!("unknown serial `{s}`")));
    }
    let customer_id = refs.customer_id;
    let (policy_id, policy) = match &new.policy {
        // A policy the caller names is the caller's to get right.
        Some(p) => {
            let policy = policies.get(p).map_err(|e| match e {
                AppError::Config(m) => AppError::invalid("policy", m),
                e => e,
            })?;
            (p.clone(), policy)
        }
        None => {
            let p = refs.policy()?;
            let policy = policies.get(&p)?;
            (p, policy)
        }
    };
    allow(policy)?;
    refs.check(new, policy)?;
    check_facts(&new.facts)?;
    let stated_by = stated::check(&new.facts, by, &Map::new())?;
    let description = new
        .description
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty());
    if let Some(d) = description {
        self::description(d)?;
    }
    if let Some(k) = &new.open_key
        && let Some(r) = tx.query_opt("SELECT id FROM cases WHERE open_key = ?", &[k.into()])?
    {
        return Ok(r.int(0)?);
    }
    let at = micros(now);
    let mut case = Case {
        id: 0,
        kind,
        state: State::Draft,
        customer_id,
        order_no: new.order_no.clone(),
        serial: new.serial.clone(),
        policy_id: policy_id.clone(),
        facts: Map::new(),
        authorisation: None,
        ship_by: None,
        opened_at: now,
        updated_at: now,
        description: description.map(str::to_string),
        fact_sources: Map::new(),
    };
    case.state(&new.facts, &stated_by);
    let id = tx
        .query_one(
            "INSERT INTO cases (kind, state, customer_id, order_no, serial, policy_id, facts, opened_at, updated_at, open_key, description, fact_sources)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            &[
                kind.as_str().into(),
                State::Draft.as_str().into(),
                customer_id.into(),
                new.order_no.clone().into(),
                new.serial.clone().into(),
                (&policy_id).into(),
                J::Object(new.facts.clone()).to_string().into(),
                Val::Int(at),
                Val::Int(at),
                new.open_key.clone().into(),
                description.map(str::to_string).into(),
                J::Object(case.fact_sources.clone()).to_string().into(),
            ],
        )?
        .int(0)?;
    case.id = id;
    let seq = audit::append_first(
        tx,
        now,
        &Event::new(
            actor,
            "case",
            id,
            "open",
            json!({
                "kind": kind.as_str(),
                "state": "draft",
                "customer_id": customer_id,
                "order_no": new.order_no,
                "serial": new.serial,
                "policy": policy_id,
                "facts": new.facts,
            }),
        ),
    )?;
    announce(tx, policies, &case, "open", &seq, now)?;
    Ok(id)
}

/// What the policy would decide for a case not opened yet: the same references, registry
/// facts and policy as [`open`], nothing written. The guided start shows it before the customer
/// sends anything. Returns the policy's id and the decision as JSON.
pub fn preview(
    store: &mut Store,
    policies: &Policies,
    new: &NewCase,
    by: By,
    now: Timestamp,
) -> Result<(String, J), AppError> {
    check_facts(&new.facts)?;
    stated::check(&new.facts, by, &Map::new())?;
    store.read(|tx| -> Result<(String, J), AppError> {
        let refs = References::resolve(tx, new)?;
        let policy_id = match &new.policy {
            Some(p) => p.clone(),
            None => refs.policy()?,
        };
        refs.check(new, policies.get(&policy_id)?)?;
        let subject = crate::facts::Subject {
            serial: new.serial.clone(),
            order_no: new.order_no.clone(),
            customer_id: refs.customer_id,
        };
        let mut facts_json = crate::facts::from_registry(tx, &subject)?;
        for (k, v) in &new.facts {
            facts_json.insert(k.clone(), v.clone());
        }
        // As the service would know it once sent: no photo yet, the description and order
        // given, and this request the application.
        facts_json.insert("evidence.photos".into(), J::Array(Vec::new()));
        facts_json.extend(crate::facts::given(
            new.description.as_deref(),
            new.order_no.as_deref(),
        ));
        facts_json.insert("application.submitted".into(), J::Bool(true));
        let policy = policies.select(&policy_id, &facts_json, now)?;
        let facts = check_facts(&facts_json)?;
        let decision = aftercare_policy::decide(policy, &facts, now);
        Ok((policy_id, decision.to_json(&facts)))
    })
}

/// What a case would be decided if `action` were taken with `extra` facts (inspection
/// findings, arrival condition): its registry facts, its own, the step's lifecycle facts and
/// `extra`, decided now, nothing written. The desk's forms show it before saving.
pub fn what_if(
    store: &mut Store,
    policies: &Policies,
    id: i64,
    action: Option<Action>,
    extra: &Map<String, J>,
    by: By,
    now: Timestamp,
) -> Result<J, AppError> {
    check_facts(extra)?;
    store.read(|tx| -> Result<J, AppError> {
        let mut case = find(tx, id)?;
        let who = stated::check(extra, by, &case.fact_sources)?;
        case.state(extra, &who);
        if let Some(action) = action {
            let today = policies.get(&case.policy_id)?.day_of(now);
            for (k, v) in lifecycle_facts(action, today, now) {
                case.facts.insert(k.to_string(), v);
            }
        }
        let known = Known::read(tx, &case)?;
        let facts_json = known.facts(&case);
        let policy = policies.select(&case.policy_id, &facts_json, now)?;
        let facts = check_facts(&facts_json)?;
        Ok(aftercare_policy::decide(policy, &facts, now).to_json(&facts))
    })
}

/// A case's decisions on record, newest first (at most `limit`): id, when, the decision.
pub fn decisions(
    store: &mut Store,
    id: i64,
    limit: i64,
) -> Result<Vec<(i64, Timestamp, J)>, AppError> {
    store.read(|tx| -> Result<Vec<(i64, Timestamp, J)>, AppError> {
        tx.query(
            "SELECT id, decided_at, summary FROM decisions WHERE case_id = ? ORDER BY id DESC LIMIT ?",
            &[Val::Int(id), Val::Int(limit)],
        )?
        .iter()
        .map(|r| {
            Ok((
                r.int(0)?,
                from_micros(r.int(1)?)?,
                stored_json("decision.summary", &r.text(2)?)?,
            ))
        })
        .collect()
    })
}

/// What a new case refers to, looked up in one statement: the customer, whether the order
/// exists, the buyer's country, the SKU and the policy it names.
struct References {
    customer_id: Option<i64>,
    order_known: bool,
    /// The policy the SKU (the unit's, else the order's first line's) names for the buyer's
    /// country (the case's customer's, else the order's customer's), else its default.
    policy: Option<String>,
    /// The unit's SKU; `None` when no serial is given or it is unknown.
    unit_sku: Option<String>,
    /// The seller of the records named: the unit's SKU's, else the order's first line's.
    seller: Option<String>,
    /// Whether the serial was sold on the order (`None` unless both are named).
    serial_on_order: Option<bool>,
}

impl References {
    fn resolve(tx: &mut dyn Tx, new: &NewCase) -> Result<Self, AppError> {
        let row = tx.query_one(
            "SELECT
               (SELECT id FROM customers WHERE ref = ?),
               (SELECT COUNT(*) FROM orders WHERE order_no = ?),
               (SELECT sku FROM units WHERE serial = ?),
               (SELECT k.seller FROM units u JOIN skus k ON k.code = u.sku WHERE u.serial = ?),
               (SELECT k.seller FROM order_lines l JOIN skus k ON k.code = l.sku
                 WHERE l.order_no = ? ORDER BY l.line_no LIMIT 1),
               (SELECT COUNT(*) FROM order_lines WHERE order_no = ? AND serial = ?),
               (SELECT COALESCE(p.policy_id, k.policy_id) FROM skus k
                 LEFT JOIN sku_policies p ON p.sku = k.code AND p.country =
                   CASE WHEN CAST(? AS TEXT) IS NOT NULL
                     THEN (SELECT country FROM customers WHERE ref = ?)
                     ELSE (SELECT c.country FROM orders o JOIN customers c ON c.id = o.customer_id
                            WHERE o.order_no = ?) END
                 WHERE k.code =
                   CASE WHEN CAST(? AS TEXT) IS NOT NULL
                     THEN (SELECT sku FROM units WHERE serial = ?)
                     ELSE (SELECT sku FROM order_lines WHERE order_no = ? ORDER BY line_no LIMIT 1) END)",
            &[
                new.customer.clone().into(),
                new.order_no.clone().into(),
                new.serial.clone().into(),
                new.serial.clone().into(),
                new.order_no.clone().into(),
                new.order_no.clone().into(),
                new.serial.clone().into(),
                new.customer.clone().into(),
                new.customer.clone().into(),
                new.order_no.clone().into(),
                new.serial.clone().into(),
                new.serial.clone().into(),
                new.order_no.clone().into(),
            ],
        )?;
        let customer_id = row.opt_int(0)?;
        let unit_sku = row.opt_text(2)?;
        let serial_on_order = match (&new.order_no, &new.serial) {
            (Some(order), Some(serial)) if row.int(5)? == 0 => {
                // A unit given in exchange was not on the order; the one it replaced was.
                let chain = crate::lineage::chain(tx, serial)?;
                let mut found = false;
                for earlier in chain.iter().skip(1) {
                    if tx
                        .query_opt(
                            "SELECT 1 FROM order_lines WHERE order_no = ? AND serial = ?",
                            &[order.into(), earlier.into()],
                        )?
                        .is_some()
                    {
                        found = true;
                        break;
                    }
                }
                Some(found)
            }
            (Some(_), Some(_)) => Some(true),
            _ => None,
        };
        Ok(Self {
            seller: if new.serial.is_some() {
                row.opt_text(3)?
            } else {
                row.opt_text(4)?
            },
            serial_on_order,
            customer_id,
            order_known: row.int(1)? > 0,
            policy: row.opt_text(6)?,
            unit_sku,
        })
    }

    /// Refuses a case whose records do not hang together: a serial not sold on the order it
    /// names, or a policy of another seller than the one who sold the item.
    fn check(
        &self,
        new: &NewCase,
        policy: &aftercare_policy::model::Policy,
    ) -> Result<(), AppError> {
        if self.serial_on_order == Some(false) {
            return Err(AppError::invalid(
                "serial",
                format!(
                    "`{}` was not sold on order `{}`",
                    new.serial.as_deref().unwrap_or(""),
                    new.order_no.as_deref().unwrap_or("")
                ),
            ));
        }
        if let (Some(records), Some(theirs)) = (&self.seller, &policy.seller)
            && records != theirs
        {
            return Err(AppError::invalid(
                "policy",
                format!(
                    "policy `{}` is {theirs}'s; the item was sold by {records}",
                    policy.id
                ),
            ));
        }
        Ok(())
    }

    /// The policy the SKU names for the buyer's country, else its default.
    fn policy(&self) -> Result<String, AppError> {
        if let Some(policy) = &self.policy {
            return Ok(policy.clone());
        }
        Err(AppError::invalid(
            "policy",
            "cannot tell which policy applies: name one, or give a serial or order whose SKU names one",
        ))
    }
}

fn check_facts(facts: &Map<String, J>) -> Result<Facts, AppError> {
    Facts::from_json(&J::Object(facts.clone()))
        .map_err(|e| AppError::invalid(format!("facts.{}", e.path), e.message))
}

/// Loads a case to change it; on PostgreSQL the row stays locked until the transaction ends,
/// so two moves of one case never interleave.
pub fn load(tx: &mut dyn Tx, id: i64) -> Result<Case, AppError> {
    let lock = if tx.dialect() == Dialect::Postgres {
        " FOR UPDATE"
    } else {
        ""
    };
    fetch(tx, id, lock)
}

/// Reads a case, taking no lock (in a read-only transaction too).
pub fn find(tx: &mut dyn Tx, id: i64) -> Result<Case, AppError> {
    fetch(tx, id, "")
}

fn fetch(tx: &mut dyn Tx, id: i64, lock: &str) -> Result<Case, AppError> {
    let sql = format!("SELECT {CASE_COLUMNS} FROM cases WHERE id = ?{lock}");
    let row = tx
        .query_opt(&sql, &[Val::Int(id)])?
        .ok_or_else(|| AppError::not_found("case", id.to_string()))?;
    Case::from_row(&row)
}

/// Moves a case; returns it as it is afterwards. `by` says who states the step's facts.
pub fn transition(
    store: &mut Store,
    policies: &Policies,
    id: i64,
    step: &Step,
    by: By,
    actor: &str,
    now: Timestamp,
) -> Result<Case, AppError> {
    by_hand(step)?;
    store.tx(|tx| transition_in(tx, policies, id, step, by, actor, now))
}

/// Refuses a step only a timer takes.
pub(crate) fn by_hand(step: &Step) -> Result<(), AppError> {
    if step.action.is_timer() {
        return Err(AppError::Refused(format!(
            "`{}` is taken by the case's timer when its deadline passes, not by hand",
            step.action
        )));
    }
    Ok(())
}

/// [`transition`] inside a transaction the caller holds (the timer sweep's).
pub(crate) fn transition_in(
    tx: &mut dyn Tx,
    policies: &Policies,
    id: i64,
    step: &Step,
    by: By,
    actor: &str,
    now: Timestamp,
) -> Result<Case, AppError> {
    let before = load(tx, id)?;
    transition_loaded(tx, policies, before, step, by, actor, now)
}

/// [`transition_in`] of a case already loaded with [`load`] (its row locked).
pub(crate) fn transition_loaded(
    tx: &mut dyn Tx,
    policies: &Policies,
    before: Case,
    step: &Step,
    by: By,
    actor: &str,
    now: Timestamp,
) -> Result<Case, AppError> {
    let id = before.id;
    if let Some(v) = &step.if_version
        && *v != before.version()
    {
        return Err(AppError::Stale(format!(
            "case {id} changed since version {v} (it is now {}, `{}`): read it again",
            before.version(),
            before.state
        )));
    }
    let to = case::next(before.kind, before.state, step.action)?;
    let policy = policies.get(&before.policy_id)?;
    let today = policy.day_of(now);
    check_facts(&step.facts)?;
    let stated_by = stated::check(&step.facts, by, &before.fact_sources)?;
    let mut after = before.clone();
    after.state = to;
    after.state(&step.facts, &stated_by);
    if let Some(d) = &step.description {
        if !matches!(step.action, Action::Submit | Action::ProvideInfo) {
            return Err(AppError::invalid(
                "description",
                "the customer's description is given when the request is sent or information is added",
            ));
        }
        after.description = Some(description(d)?);
    }
    // Read once: the hold below and the decision after the step decide on the same facts.
    let known = Known::read(tx, &after)?;
    if matches!(
        step.action,
        Action::Submit | Action::Approve | Action::DeviceShipped | Action::Inspect
    ) {
        // Held back on the case as it stands with what the step says, before the step's own
        // facts (shipping records the parcel as sent, which would lift the hold by itself).
        check_facts(&after.facts)?;
        hold(step.action, &evaluate(policies, &after, &known, now)?)?;
    }
    // What the move itself establishes is the service's to say, whatever was there.
    for (k, v) in lifecycle_facts(step.action, today, now) {
        after.facts.insert(k.to_string(), v);
    }
    check_facts(&after.facts)?;
    after.updated_at = now;
    if step.action == Action::Approve {
        let authorisation = match &step.authorisation {
            Some(a) => authorisation_number(tx, id, a)?,
            None => format!("RA-{id:06}"),
        };
        after.authorisation = Some(authorisation);
    }
    let decision = decide_recorded_on(tx, policies, &after, &known, actor, now)?.0;
    match step.action {
        Action::Refund => refund_case(tx, &after, &decision, actor, now)?,
        Action::RefundPaid => crate::money::mark_case_paid_in(tx, id, actor, now)?,
        Action::Quote => {
            let currency = currency_of(tx, &after, policies)?;
            let lines = step
                .quote_lines
                .iter()
                .map(|l| QuoteLine::parse(l, currency))
                .collect::<Result<Vec<_>, _>>()?;
            record_quote(tx, &after, &lines, currency, &decision, policy.tz(), now)?;
        }
        Action::Pay | Action::DeclineQuote | Action::ExpireQuote => {
            let status = match step.action {
                Action::Pay => "paid",
                Action::DeclineQuote => "declined",
                _ => "expired",
            };
            tx.exec(
                "UPDATE quotes SET status = ? WHERE case_id = ? AND status = 'open'",
                &[status.into(), Val::Int(id)],
            )?;
        }
        _ => {}
    }
    if step.action == Action::Approve {
        after.ship_by = step.ship_by.or(decision.ship_by);
    }
    save(tx, &after, step.action == Action::Approve)?;
    let mut after_view = after.audit_view();
    if let (Some(note), J::Object(m)) = (&step.note, &mut after_view) {
        m.insert("note".into(), J::String(note.clone()));
    }
    let seq = audit::append(
        tx,
        now,
        &Event {
            before: Some(before.audit_view()),
            ..Event::new(actor, "case", id, step.action.as_str(), after_view)
        },
    )?;
    timers::sync(tx, &after, &decision, policy.tz())?;
    announce(tx, policies, &after, step.action.as_str(), &seq, now)?;
    Ok(after)
}

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
        let policy = policies.get(&after.policy_id)?;
        timers::sync(tx, &after, &decision, policy.tz())?;
        announce(tx, policies, &after, "correct", &seq, now)?;
        Ok(after)
    })
}

/// A description as the case keeps it: trimmed, not empty, at most [`MAX_DESCRIPTION`]
/// characters.
fn description(d: &str) -> Result<String, AppError> {
    let d = d.trim();
    if d.is_empty() || d.chars().count() > MAX_DESCRIPTION {
        return Err(AppError::invalid(
            "description",
            format!("1 to {MAX_DESCRIPTION} characters"),
        ));
    }
    Ok(d.to_string())
}

/// Writes the case's changeable columns back. Only a new authorisation number can be refused
/// (another case took it in the meantime): that write waits for its answer, any other is sent
/// without waiting.
fn save(tx: &mut dyn Tx, case: &Case, numbered: bool) -> Result<(), AppError> {
    const SAVE: &str = "UPDATE cases SET state = ?, facts = ?, fact_sources = ?, authorisation = ?, ship_by = ?, description = ?, updated_at = ? WHERE id = ?";
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
        return Ok(tx.exec_later(SAVE, &params)?);
    }
    match tx.exec(SAVE, &params) {
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
fn authorisation_number(tx: &mut dyn Tx, id: i64, given: &str) -> Result<String, AppError> {
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

/// Refuses a move the policy holds back: sending or approving a request the policy will not
/// process yet (CryptKi 5.1: "no claim will be processed without complete photographic
/// evidence"), recording a parcel as sent before the customer confirmed the device's data is
/// erased and backed up (imKey 2(5), Maintenance 3.1–3.2), and inspecting an item the policy
/// rejects as it arrived (Maintenance 3.6: refused on arrival instead).
fn hold(action: Action, decision: &Recorded) -> Result<(), AppError> {
    let (flag, why) = match action {
        Action::Submit | Action::Approve => (
            "not_processed",
            "the policy does not process this request until it has everything it asks for",
        ),
        // A parcel the policy rejects (Maintenance 3.6: damaged or soaked) is refused on
        // arrival, not inspected.
        Action::Inspect => (
            "not_processed",
            "the policy does not process this item as it arrived: refuse it on arrival",
        ),
        Action::DeviceShipped => (
            "hold_shipping",
            "confirm first that the device's data is erased and backed up (recovery phrase, PIN, passwords)",
        ),
        _ => return Ok(()),
    };
    match decision.flag(flag) {
        None => Ok(()),
        Some(clause) => {
            let missing = if decision.missing.is_empty() {
                String::new()
            } else {
                format!("; still needed: {}", decision.missing.join(", "))
            };
            Err(AppError::Refused(format!("{why} ({clause}){missing}")))
        }
    }
}

/// Records the refund the decision gives, under the case's own idempotency key.
fn refund_case(
    tx: &mut dyn Tx,
    case: &Case,
    decision: &Recorded,
    actor: &str,
    now: Timestamp,
) -> Result<(), AppError> {
    let Some(amount) = decision.refund.map(|m| m.minor) else {
        let statuses: Vec<String> = decision
            .remedies
            .iter()
            .map(|(r, s)| format!("{} {}", r.name(), s.name()))
            .collect();
        return Err(AppError::Refused(format!(
            "the decision for case {} gives no refund ({})",
            case.id,
            statuses.join(", ")
        )));
    };
    let order_no = case.order_no.clone().ok_or_else(|| {
        AppError::invalid(
            "order",
            format!("case {} names no order to refund", case.id),
        )
    })?;
    crate::money::record_in(
        tx,
        &crate::money::RefundRequest {
            order_no,
            case_id: Some(case.id),
            amount_minor: amount,
            currency: None,
            idempotency_key: format!("case-{}-refund", case.id),
            reason: format!("case {} ({})", case.id, case.kind),
        },
        crate::money::RefundKey::Case(case.id),
        actor,
        now,
    )?;
    Ok(())
}

/// The currency a case's money is in: its order's, else its policy's.
pub fn currency_of(
    tx: &mut dyn Tx,
    case: &Case,
    policies: &Policies,
) -> Result<aftercare_policy::value::Currency, AppError> {
    if let Some(o) = &case.order_no
        && let Some(r) = tx.query_opt(
            "SELECT currency FROM orders WHERE order_no = ?",
            &[o.into()],
        )?
    {
        return aftercare_policy::value::Currency::parse(&r.text(0)?)
            .map_err(|e| AppError::invalid("order.currency", e));
    }
    Ok(policies.get(&case.policy_id)?.currency)
}

fn record_quote(
    tx: &mut dyn Tx,
    case: &Case,
    lines: &[QuoteLine],
    currency: aftercare_policy::value::Currency,
    decision: &Recorded,
    tz: &jiff::tz::TimeZone,
    now: Timestamp,
) -> Result<(), AppError> {
    if lines.is_empty() {
        return Err(AppError::invalid(
            "quote",
            "a quote needs at least one line (KIND:DESCRIPTION:AMOUNT, e.g. part:Fan:25.00)",
        ));
    }
    for (i, l) in lines.iter().enumerate() {
        if !matches!(l.kind.as_str(), "part" | "labour") {
            return Err(AppError::invalid(
                format!("quote.lines[{i}].kind"),
                format!("`{}` is not `part` or `labour`", l.kind),
            ));
        }
        if l.amount_minor < 0 || l.description.is_empty() {
            return Err(AppError::invalid(
                format!("quote.lines[{i}]"),
                "needs a description and an amount that is not negative",
            ));
        }
    }
    let total = lines
        .iter()
        .try_fold(0i64, |t, l| t.checked_add(l.amount_minor))
        .ok_or_else(|| AppError::invalid("quote", "the total overflows"))?;
    // It expires when the policy's payment deadline ends (none: it does not expire).
    let expires = decision.passes(DeadlineName::QuotePayBy, tz);
    let quote_id = tx
        .query_one(
            "INSERT INTO quotes (case_id, currency, total_minor, created_at, expires_at, status)
             VALUES (?, ?, ?, ?, ?, 'open') RETURNING id",
            &[
                Val::Int(case.id),
                currency.as_str().into(),
                Val::Int(total),
                Val::Int(micros(now)),
                Val::Int(expires.map_or(i64::MAX, micros)),
            ],
        )?
        .int(0)?;
    for (i, l) in lines.iter().enumerate() {
        tx.exec(
            "INSERT INTO quote_lines (quote_id, line_no, kind, description, amount_minor) VALUES (?, ?, ?, ?, ?)",
            &[
                Val::Int(quote_id),
                Val::Int(i64::try_from(i + 1).unwrap_or(i64::MAX)),
                (&l.kind).into(),
                (&l.description).into(),
                Val::Int(l.amount_minor),
            ],
        )?;
    }
    Ok(())
}

/// The facts a move establishes by itself, dated today in the policy's zone (receipt: the
/// instant).
fn lifecycle_facts(action: Action, today: Date, now: Timestamp) -> Vec<(&'static str, J)> {
    let d = J::String(today.to_string());
    match action {
        // Sending the request is the application.
        Action::Submit => vec![("claim.date", d), ("application.submitted", J::Bool(true))],
        Action::Approve => vec![
            ("application.submitted", J::Bool(true)),
            ("application.accepted", d),
            ("return.authorised", J::Bool(true)),
        ],
        Action::DeviceShipped => vec![("return.shipped", d)],
        // To the second: service-level targets run in hours from receipt (IMASK: 24 hours).
        Action::Receive => vec![("return.received", J::String(now.to_string()))],
        Action::Quote => vec![("quote.notified", d)],
        Action::Pay => vec![("quote.accepted", J::Bool(true)), ("quote.paid", d)],
        Action::DeclineQuote => vec![("quote.accepted", J::Bool(false))],
        _ => Vec::new(),
    }
}

/// What a decision on record says, as the service acts on it: typed values taken from the
/// decision itself when it was made. The JSON `summary` is what is stored and shown; nothing
/// the service does reads it back by key.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub id: i64,
    pub summary: J,
    /// The customer's last day to send the device: the decision's ship-by, else send-back-by.
    pub ship_by: Option<Date>,
    /// The decision's deadlines that have a date.
    pub deadlines: Vec<(DeadlineName, Due)>,
    /// Each remedy the policy speaks of, with its status.
    pub remedies: Vec<(Remedy, Status)>,
    /// The money the decision refunds, if it refunds any.
    pub refund: Option<Money>,
    /// The outputs the decision settled (freight payers, warranties of parts and units…).
    pub outputs: Vec<(Output, Value)>,
    /// The warranty end of the component that covers the item claimed, in the first layer
    /// that dates it (the seller's before the laws').
    pub claimed_warranty_end: Option<Date>,
    /// The documents and evidence the decision lists as missing, by their labels.
    pub missing: Vec<String>,
    /// The flags the decision raises, each with the clause that raises it.
    pub flags: Vec<(String, String)>,
}

impl Recorded {
    fn of(id: i64, decision: &aftercare_policy::Decision<'_>, summary: J) -> Recorded {
        let deadlines: Vec<(DeadlineName, Due)> = decision
            .deadlines
            .iter()
            .filter_map(|d| d.due.map(|due| (d.name, due)))
            .collect();
        let ship_by = [DeadlineName::ShipBy, DeadlineName::SendBackBy]
            .iter()
            .find_map(|name| deadlines.iter().find(|(n, _)| n == name))
            .map(|(_, due)| due.last_day);
        Recorded {
            id,
            summary,
            ship_by,
            remedies: decision
                .remedies
                .iter()
                .map(|r| (r.remedy, r.status))
                .collect(),
            refund: decision.refund.as_ref().map(|r| r.amount),
            outputs: decision
                .outputs
                .iter()
                .filter_map(|o| o.value.clone().map(|v| (o.output, v)))
                .collect(),
            claimed_warranty_end: decision
                .warranty
                .iter()
                .filter(|a| a.claimed)
                .find_map(|a| a.end),
            missing: decision
                .missing
                .iter()
                .filter_map(|m| match decision.rule(m.at).map(|(_, r)| &r.action) {
                    Some(aftercare_policy::model::Action::Require { label, .. }) => {
                        Some(label.clone())
                    }
                    _ => None,
                })
                .collect(),
            flags: decision
                .flags
                .iter()
                .filter_map(|at| {
                    let (p, r) = decision.rule(*at)?;
                    let aftercare_policy::model::Action::Flag(name) = &r.action else {
                        return None;
                    };
                    let clause = p.clause(r.clause).map(|c| c.id.as_str()).unwrap_or("?");
                    Some((
                        name.clone(),
                        format!("{} {clause}", p.seller.as_deref().unwrap_or(&p.id)),
                    ))
                })
                .collect(),
            deadlines,
        }
    }

    /// The clause that raises flag `name`, if the decision raises it.
    pub fn flag(&self, name: &str) -> Option<&str> {
        self.flags
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, c)| c.as_str())
    }

    /// The instant deadline `name` passes, if the decision sets it.
    pub fn passes(&self, name: DeadlineName, tz: &jiff::tz::TimeZone) -> Option<Timestamp> {
        self.deadlines
            .iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, due)| due.until(tz))
    }

    /// The value the decision gives output `o`, if it settled it.
    pub fn output(&self, o: Output) -> Option<&Value> {
        self.outputs.iter().find(|(x, _)| *x == o).map(|(_, v)| v)
    }
}

/// Decides a case now and keeps the decision on record.
pub fn decide(
    store: &mut Store,
    policies: &Policies,
    id: i64,
    actor: &str,
    now: Timestamp,
) -> Result<Recorded, AppError> {
    store.tx(|tx| -> Result<_, AppError> {
        let case = load(tx, id)?;
        let (recorded, seq) = decide_recorded(tx, policies, &case, actor, now)?;
        announce(tx, policies, &case, "decide", &seq, now)?;
        Ok(recorded)
    })
}

pub(crate) fn decide_in(
    tx: &mut dyn Tx,
    policies: &Policies,
    case: &Case,
    actor: &str,
    now: Timestamp,
) -> Result<Recorded, AppError> {
    Ok(decide_recorded(tx, policies, case, actor, now)?.0)
}

/// What the registry and the service know about a case, read once per change.
pub(crate) struct Known {
    registry: Map<String, J>,
    service: Map<String, J>,
}

impl Known {
    pub(crate) fn read(tx: &mut dyn Tx, case: &Case) -> Result<Known, AppError> {
        let (registry, service) = crate::facts::known(tx, case)?;
        Ok(Known { registry, service })
    }

    /// The facts `case` is decided on (see [`crate::facts::decision_facts`]).
    pub(crate) fn facts(&self, case: &Case) -> Map<String, J> {
        crate::facts::decision_facts(self.registry.clone(), case, self.service.clone())
    }
}

/// Decides a case as it stands on these facts, recording nothing.
fn evaluate(
    policies: &Policies,
    case: &Case,
    known: &Known,
    now: Timestamp,
) -> Result<Recorded, AppError> {
    let facts_json = known.facts(case);
    let policy = policies.select(&case.policy_id, &facts_json, now)?;
    let facts = check_facts(&facts_json)?;
    let decision = aftercare_policy::decide(policy, &facts, now);
    Ok(Recorded::of(0, &decision, J::Null))
}

/// Decides a case and records the decision; returns it with its audit event.
pub(crate) fn decide_recorded(
    tx: &mut dyn Tx,
    policies: &Policies,
    case: &Case,
    actor: &str,
    now: Timestamp,
) -> Result<(Recorded, audit::Appended), AppError> {
    let known = Known::read(tx, case)?;
    decide_recorded_on(tx, policies, case, &known, actor, now)
}

/// [`decide_recorded`] on facts already read.
fn decide_recorded_on(
    tx: &mut dyn Tx,
    policies: &Policies,
    case: &Case,
    known: &Known,
    actor: &str,
    now: Timestamp,
) -> Result<(Recorded, audit::Appended), AppError> {
    let facts_json = known.facts(case);
    let policy = policies.select(&case.policy_id, &facts_json, now)?;
    let facts = check_facts(&facts_json)?;
    let decision = aftercare_policy::decide(policy, &facts, now);
    let summary = decision.to_json(&facts);
    policies.record(tx, policy, now)?;
    let laws: Vec<&str> = policy.laws.iter().map(|l| l.hash.as_str()).collect();
    let decision_id = tx
        .query_one(
            "INSERT INTO decisions (case_id, decided_at, policy_id, policy_version, policy_hash, law_hashes, facts, summary)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            &[
                Val::Int(case.id),
                Val::Int(micros(now)),
                (&policy.id).into(),
                (&policy.version).into(),
                (&policy.hash).into(),
                laws.join(",").into(),
                J::Object(facts_json).to_string().into(),
                summary.to_string().into(),
            ],
        )?
        .int(0)?;
    let statuses: Map<String, J> = decision
        .remedies
        .iter()
        .map(|r| {
            (
                r.remedy.name().to_string(),
                J::String(r.status.name().to_string()),
            )
        })
        .collect();
    let seq = audit::append(
        tx,
        now,
        &Event::new(
            actor,
            "case",
            case.id,
            "decide",
            json!({
                "decision": decision_id,
                "policy": policy.id,
                "version": policy.version,
                "hash": policy.hash,
                "remedies": statuses,
            }),
        ),
    )?;
    Ok((Recorded::of(decision_id, &decision, summary), seq))
}

/// A decision on record, made again from the stored policy texts, facts and `now`: the
/// same answer it gave then, whatever the policy files say today.
pub fn reexplain(store: &mut Store, decision_id: i64) -> Result<(J, J), AppError> {
    store.tx(|tx| reexplain_in(tx, decision_id))
}

fn reexplain_in(tx: &mut dyn Tx, decision_id: i64) -> Result<(J, J), AppError> {
    let r = tx
        .query_opt(
            "SELECT policy_id, policy_hash, law_hashes, facts, decided_at, summary FROM decisions WHERE id = ?",
            &[Val::Int(decision_id)],
        )?
        .ok_or_else(|| AppError::not_found("decision", decision_id.to_string()))?;
    let mut hashes = vec![r.text(1)?];
    hashes.extend(
        r.text(2)?
            .split(',')
            .filter(|h| !h.is_empty())
            .map(str::to_string),
    );
    let policies = Policies::from_record(tx, &hashes)?;
    let policy = policies.get(&r.text(0)?)?;
    let facts_json = stored_json("decision.facts", &r.text(3)?)?;
    let facts = Facts::from_json(&facts_json)
        .map_err(|e| AppError::corrupt(format!("decision facts.{}", e.path), e.message))?;
    let now = from_micros(r.int(4)?)?;
    let again = aftercare_policy::decide(policy, &facts, now).to_json(&facts);
    let stored = stored_json("decision.summary", &r.text(5)?)?;
    Ok((stored, again))
}

/// A case's quotes with their lines.
fn quotes_of(tx: &mut dyn Tx, id: i64) -> Result<Vec<J>, AppError> {
    let mut quotes = Vec::new();
    for q in tx.query(
        "SELECT id, currency, total_minor, status, expires_at FROM quotes WHERE case_id = ? ORDER BY id",
        &[Val::Int(id)],
    )? {
        let qid = q.int(0)?;
        let lines = tx
            .query(
                "SELECT kind, description, amount_minor FROM quote_lines WHERE quote_id = ? ORDER BY line_no",
                &[Val::Int(qid)],
            )?
            .iter()
            .map(|l| Ok(json!({"kind": l.text(0)?, "description": l.text(1)?, "amount_minor": l.int(2)?})))
            .collect::<Result<Vec<J>, AppError>>()?;
        let expires = q.int(4)?;
        quotes.push(json!({
            "id": qid,
            "currency": q.text(1)?,
            "total_minor": q.int(2)?,
            "status": q.text(3)?,
            "expires_at": if expires == i64::MAX { J::Null } else { J::String(from_micros(expires)?.to_string()) },
            "lines": lines,
        }));
    }
    Ok(quotes)
}

/// A case with its decisions and history.
pub fn show(store: &mut Store, id: i64) -> Result<J, AppError> {
    store.read(|tx| -> Result<_, AppError> {
        let case = find(tx, id)?;
        let decisions = tx.query(
            "SELECT id, decided_at, policy_id, policy_version, summary FROM decisions
                 WHERE case_id = ? ORDER BY id DESC LIMIT 1",
            &[Val::Int(id)],
        )?;
        let latest = match decisions.first() {
            Some(r) => Some(json!({
                "id": r.int(0)?,
                "decided_at": from_micros(r.int(1)?)?.to_string(),
                "policy": r.text(2)?,
                "version": r.text(3)?,
                "decision": stored_json("decision.summary", &r.text(4)?)?,
            })),
            None => None,
        };
        let timers = timers::of_case(tx, id)?;
        let quotes = quotes_of(tx, id)?;
        // What each repair or replacement did: parts and their warranty, with the clause.
        let repairs = tx
            .query(
                "SELECT at, detail FROM unit_events WHERE case_id = ? AND kind IN ('repaired', 'replaced') ORDER BY id",
                &[Val::Int(id)],
            )?
            .iter()
            .map(|r| {
                let mut d = stored_json("unit_events.detail", &r.text(1)?)?;
                if let J::Object(m) = &mut d {
                    m.insert("at".into(), J::String(from_micros(r.int(0)?)?.to_string()));
                }
                Ok(d)
            })
            .collect::<Result<Vec<J>, AppError>>()?;
        let history = audit::history(tx, "case", &id.to_string())?;
        let currency = match &case.order_no {
            Some(o) => tx.query_text(
                "SELECT currency FROM orders WHERE order_no = ?",
                &[o.into()],
            )?,
            None => None,
        };
        // The unit's components (its SKU's, `display; battery; …`): what a repair may replace.
        let components: Vec<J> = match &case.serial {
            Some(s) => tx
                .query_text(
                    "SELECT k.components FROM units u JOIN skus k ON k.code = u.sku WHERE u.serial = ?",
                    &[s.into()],
                )?
                .unwrap_or_default()
                .split([';', ','])
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(|c| J::String(c.to_string()))
                .collect(),
            None => Vec::new(),
        };
        let mut out = case.to_json();
        if let J::Object(m) = &mut out {
            m.insert("components".into(), J::Array(components));
            m.insert("currency".into(), currency.map_or(J::Null, J::String));
            m.insert("latest_decision".into(), latest.unwrap_or(J::Null));
            m.insert("timers".into(), J::Array(timers));
            m.insert("quotes".into(), J::Array(quotes));
            m.insert("repairs".into(), J::Array(repairs));
            m.insert("history".into(), J::Array(history));
        }
        Ok(out)
    })
}

/// Cases, newest first, optionally in one state.
pub fn list(store: &mut Store, state: Option<State>, limit: i64) -> Result<Vec<Case>, AppError> {
    store.tx(|tx| -> Result<_, AppError> {
        let rows = match state {
            Some(s) => tx.query(
                &format!(
                    "SELECT {CASE_COLUMNS} FROM cases WHERE state = ? ORDER BY id DESC LIMIT ?"
                ),
                &[s.as_str().into(), Val::Int(limit)],
            )?,
            None => tx.query(
                &format!("SELECT {CASE_COLUMNS} FROM cases ORDER BY id DESC LIMIT ?"),
                &[Val::Int(limit)],
            )?,
        };
        rows.iter().map(Case::from_row).collect()
    })
}

/// Tells the world about a change to a case, inside the change's own transaction: the
/// seller's webhooks (event `case.<event>`, its id the audit event's) and, for the moves a
/// customer waits on, an e-mail to the customer.
pub(crate) fn announce(
    tx: &mut dyn Tx,
    policies: &Policies,
    case: &Case,
    event: &str,
    event_of: &audit::Appended,
    now: Timestamp,
) -> Result<(), AppError> {
    let policy = policies.get(&case.policy_id)?;
    let name = format!("case.{event}");
    if let Some(seller) = &policy.seller {
        crate::webhooks::queue(
            tx,
            seller,
            &name,
            &event_of.event_id(),
            case.id,
            json!({"case": {
                "id": case.id,
                "kind": case.kind.as_str(),
                "state": case.state.as_str(),
                "seller": seller,
                "policy": case.policy_id,
                "order_no": case.order_no,
                "serial": case.serial,
                "authorisation": case.authorisation,
                "ship_by": case.ship_by.map(|d| d.to_string()),
                "updated_at": case.updated_at.to_string(),
            }}),
            now,
        )?;
    }
    let Some((to, lang)) = customer_email(tx, case)? else {
        return Ok(());
    };
    let reference = lang.reference(case.authorisation.as_deref(), case.id);
    let ship_by = case.ship_by.map(|d| lang.date(d));
    let quote = if matches!(event, "quote" | "quote_reminder") {
        open_quote(tx, case, policy.tz(), lang)?
    } else {
        None
    };
    let mail = crate::mail_words::CaseMail {
        reference: &reference,
        policy: &policy.title,
        ship_by: ship_by.as_deref(),
        quote,
    };
    if let Some((subject, body)) = crate::mail_words::case_mail(lang, event, &mail) {
        crate::outbox::queue(tx, &to, &subject, &body, now)?;
    }
    Ok(())
}

/// A case's open quote: its amount and, when it expires, its last day to pay (it expires
/// at the end of that day), as an e-mail writes it.
fn open_quote(
    tx: &mut dyn Tx,
    case: &Case,
    tz: &jiff::tz::TimeZone,
    lang: crate::mail_words::MailLang,
) -> Result<Option<(Money, Option<String>)>, AppError> {
    let Some(r) = tx.query_opt(
        "SELECT currency, total_minor, expires_at FROM quotes WHERE case_id = ? AND status = 'open' ORDER BY id DESC",
        &[Val::Int(case.id)],
    )?
    else {
        return Ok(None);
    };
    let currency = aftercare_policy::value::Currency::parse(&r.text(0)?)
        .map_err(|e| AppError::corrupt("quotes.currency", e))?;
    let amount = Money {
        minor: r.int(1)?,
        currency,
    };
    let last_day = match r.int(2)? {
        i64::MAX => None,
        us => Some(
            lang.date(
                from_micros(us.saturating_sub(1))?
                    .to_zoned(tz.clone())
                    .date(),
            ),
        ),
    };
    Ok(Some((amount, last_day)))
}

/// The address of a case's customer (the case's, else its order's), unless erased.
fn customer_email(
    tx: &mut dyn Tx,
    case: &Case,
) -> Result<Option<(String, crate::mail_words::MailLang)>, AppError> {
    let r = tx.query_opt(
        "SELECT email, lang, country FROM customers WHERE erased_at IS NULL AND id = COALESCE(?, (SELECT customer_id FROM orders WHERE order_no = ?))",
        &[case.customer_id.into(), case.order_no.clone().into()],
    )?;
    let Some(r) = r else { return Ok(None) };
    let lang =
        crate::mail_words::MailLang::of(r.opt_text(1)?.as_deref(), r.opt_text(2)?.as_deref());
    Ok(r.opt_text(0)?.filter(|e| !e.is_empty()).map(|e| (e, lang)))
}
