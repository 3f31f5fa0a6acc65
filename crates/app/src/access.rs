//! Who sees and does what. Staff see the cases of the sellers they work for (a case's seller
//! is its policy's `seller`) and take the moves their role allows; a customer sees the cases
//! of their own orders and takes the customer's moves. Anything out of reach is "not found",
//! never "forbidden": its existence is not revealed, in a read, a list or a count.

use aftercare_domain::case::{Action, CaseKind, State};
use aftercare_store::{Store, Tx, Val};
use jiff::Timestamp;
use serde_json::Value as J;

pub use crate::accounts::has_scope;
use crate::accounts::{Principal, Role, Sellers, staff_with};
use crate::cases::{self, Case, Correction, NewCase, Step};
use crate::stated::By;
use crate::{AppError, Policies};

/// The moves a customer takes on their own case.
const CUSTOMER_MOVES: &[Action] = &[
    Action::Submit,
    Action::ProvideInfo,
    Action::DeviceShipped,
    Action::Pay,
    Action::DeclineQuote,
    Action::Cancel,
];

/// The moves an agent takes.
const AGENT_MOVES: &[Action] = &[
    Action::Submit,
    Action::RequestInfo,
    Action::ProvideInfo,
    Action::Approve,
    Action::Reject,
    Action::DeviceShipped,
    Action::Receive,
    Action::RejectOnArrival,
    Action::Refund,
    // Customer service sends the repair quote the workshop prices (IMASK "Toll repair service commitment": "a
    // repair quotation will be submitted to you"; Maintenance 2.3).
    Action::Quote,
    Action::Pay,
    Action::DeclineQuote,
    Action::ShipBack,
    Action::Close,
    Action::Cancel,
];

/// The moves a technician takes: what the workshop does, from receiving a parcel (and
/// refusing one that arrived damaged or soaked) to shipping the item back.
const TECHNICIAN_MOVES: &[Action] = &[
    Action::Receive,
    Action::RejectOnArrival,
    Action::Inspect,
    Action::Quote,
    Action::Repair,
    Action::Replace,
    Action::ReturnUnrepaired,
    Action::ShipBack,
];

/// Whether `who` may take `action` (on a case they can see).
pub fn may_move(who: &Principal, action: Action) -> bool {
    if action.is_timer() {
        return false;
    }
    match who {
        Principal::Customer { .. } => CUSTOMER_MOVES.contains(&action),
        Principal::Staff { role, scopes, .. } => {
            let by_role = match role {
                Role::Agent => AGENT_MOVES.contains(&action),
                Role::Technician => TECHNICIAN_MOVES.contains(&action),
                Role::Manager | Role::Admin => true,
            };
            by_role && has_scope(scopes.as_deref(), "cases:write")
        }
    }
}

/// Whether `who` records what a repair did (technicians, managers and admins, with
/// `cases:write`).
pub fn may_record_repair(who: &Principal) -> bool {
    matches!(
        who,
        Principal::Staff { role: Role::Technician | Role::Manager | Role::Admin, scopes, .. }
            if has_scope(scopes.as_deref(), "cases:write")
    )
}

/// Whether `who` may read cases at all.
pub fn may_read_cases(who: &Principal) -> bool {
    match who {
        Principal::Customer { .. } => true,
        Principal::Staff { scopes, .. } => has_scope(scopes.as_deref(), "cases:read"),
    }
}

/// The seller policies whose cases staff working for `sellers` see.
pub fn policy_ids(policies: &Policies, sellers: &Sellers) -> Vec<String> {
    let mut ids: Vec<String> = policies
        .sellers()
        .filter(|p| p.seller.as_deref().is_some_and(|s| sellers.includes(s)))
        .map(|p| p.id.clone())
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// The names of the sellers staff working for `sellers` see, sorted (for a page's filter).
pub fn seller_names(policies: &Policies, sellers: &Sellers) -> Vec<String> {
    let mut all: Vec<String> = policies
        .sellers()
        .filter_map(|p| p.seller.clone())
        .filter(|s| sellers.includes(s))
        .collect();
    all.sort();
    all.dedup();
    all
}

/// The policies of `sellers`, narrowed to one seller's when a filter names one.
pub fn filtered_policy_ids(
    policies: &Policies,
    sellers: &Sellers,
    only: Option<&str>,
) -> Vec<String> {
    let mut ids = policy_ids(policies, sellers);
    if let Some(s) = only {
        let theirs = policy_ids(policies, &Sellers::Only(vec![s.to_string()]));
        ids.retain(|i| theirs.contains(i));
    }
    ids
}

/// The seller of a case: its policy's.
pub fn seller_of(policies: &Policies, case: &Case) -> Option<String> {
    policies
        .get(&case.policy_id)
        .ok()
        .and_then(|p| p.seller.clone())
}

/// Whether `who` sees `case`.
pub fn sees(
    tx: &mut dyn Tx,
    policies: &Policies,
    who: &Principal,
    case: &Case,
) -> Result<bool, AppError> {
    Ok(match who {
        Principal::Staff { sellers, .. } => {
            may_read_cases(who) && seller_of(policies, case).is_some_and(|s| sellers.includes(&s))
        }
        Principal::Customer { customer_id } => {
            case.customer_id == Some(*customer_id)
                || match &case.order_no {
                    Some(o) => tx
                        .query_opt(
                            "SELECT 1 FROM orders WHERE order_no = ? AND customer_id = ?",
                            &[o.into(), Val::Int(*customer_id)],
                        )?
                        .is_some(),
                    None => false,
                }
        }
    })
}

/// Loads a case `who` sees; "not found" for one they do not.
pub fn load_for(
    tx: &mut dyn Tx,
    policies: &Policies,
    who: &Principal,
    id: i64,
) -> Result<Case, AppError> {
    let case = cases::find(tx, id)?;
    if sees(tx, policies, who, &case)? {
        Ok(case)
    } else {
        Err(AppError::not_found("case", id.to_string()))
    }
}

/// A case with its decision, timers, quotes and history, if `who` sees it. The moves it
/// lists (`can`) are those `who` may take.
pub fn show(
    store: &mut Store,
    policies: &Policies,
    who: &Principal,
    id: i64,
) -> Result<J, AppError> {
    store.read(|tx| load_for(tx, policies, who, id).map(|_| ()))?;
    let mut shown = cases::show(store, id)?;
    if let Some(J::Array(can)) = shown.get_mut("can") {
        can.retain(|a| {
            a.as_str()
                .and_then(|s| s.parse::<Action>().ok())
                .is_some_and(|a| may_move(who, a))
        });
    }
    if let Principal::Customer { .. } = who {
        shown = customer_view(shown);
    }
    Ok(shown)
}

/// What a customer's history shows: the moves they wait on, in order. Re-decisions,
/// corrections of the records and the desk's own bookkeeping are not events to them.
const CUSTOMER_EVENTS: &[&str] = &[
    "open",
    "evidence",
    "submit",
    "request_info",
    "provide_info",
    "approve",
    "reject",
    "device_shipped",
    "receive",
    "not_received",
    "reject_on_arrival",
    "inspect",
    "quote",
    "pay",
    "decline_quote",
    "expire_quote",
    "repair",
    "replace",
    "repair_report",
    "refund",
    "refund_paid",
    "return_unrepaired",
    "ship_back",
    "close",
    "cancel",
    "service_level_breached",
    "ship_by_reminder",
    "quote_reminder",
];

/// The moves whose note staff write to the customer (asking for information, a refusal);
/// every other note is the desk's own.
const NOTES_TO_THE_CUSTOMER: &[&str] = &[
    "request_info",
    "reject",
    "reject_on_arrival",
    "return_unrepaired",
];

/// The flags a customer is told of: what holds their own next step.
const CUSTOMER_FLAGS: &[&str] = &["not_processed", "hold_shipping"];

/// A case as its customer sees it, over the API and on the portal alike: the history as
/// events with the messages written to them (no actor, no staff address, no internal note,
/// no before and after), no timers, no staff suspicions among the facts or the flags, and not
/// who stated what.
pub fn customer_view(mut shown: J) -> J {
    let Some(m) = shown.as_object_mut() else {
        return shown;
    };
    let history: Vec<J> = m
        .get("history")
        .and_then(J::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let action = e.get("action")?.as_str()?;
            if !CUSTOMER_EVENTS.contains(&action) {
                return None;
            }
            let mut out = serde_json::json!({"at": e.get("at"), "action": action});
            let note = e
                .pointer("/after/note")
                .and_then(J::as_str)
                .filter(|_| NOTES_TO_THE_CUSTOMER.contains(&action));
            if let (Some(n), Some(o)) = (note, out.as_object_mut()) {
                o.insert("message".into(), J::String(n.to_string()));
            }
            Some(out)
        })
        .collect();
    m.insert("history".into(), J::Array(history));
    m.remove("timers");
    m.remove("fact_sources");
    if let Some(J::Object(facts)) = m.get_mut("facts") {
        facts.retain(|k, _| !k.starts_with("abuse."));
    }
    if let Some(J::Array(flags)) = shown.pointer_mut("/latest_decision/decision/flags") {
        flags.retain(|f| {
            f.get("flag")
                .and_then(J::as_str)
                .is_some_and(|n| CUSTOMER_FLAGS.contains(&n))
        });
    }
    shown
}

/// Which cases to list.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub state: Option<State>,
    pub kind: Option<CaseKind>,
    /// Only this seller's (within the caller's own).
    pub seller: Option<String>,
    /// Cases before this id (the cursor of the previous page).
    pub before: Option<i64>,
    /// The queue's cursor: cases after this (nearest due time, id).
    pub after: Option<(i64, i64)>,
    pub limit: i64,
}

/// One page of cases, newest first, and the cursor of the next page.
#[derive(Debug)]
pub struct Page {
    pub cases: Vec<Case>,
    pub next: Option<i64>,
}

/// The cases `who` sees, filtered, one page at a time.
pub fn list(
    store: &mut Store,
    policies: &Policies,
    who: &Principal,
    f: &Filter,
) -> Result<Page, AppError> {
    let limit = f.limit.clamp(1, 200);
    let mut sql = format!("SELECT {} FROM cases c WHERE 1 = 1", cases::CASE_COLUMNS);
    let mut params: Vec<Val> = Vec::new();
    match who {
        Principal::Staff { sellers, .. } => {
            if !may_read_cases(who) {
                return Ok(Page {
                    cases: Vec::new(),
                    next: None,
                });
            }
            let ids = filtered_policy_ids(policies, sellers, f.seller.as_deref());
            if ids.is_empty() {
                return Ok(Page {
                    cases: Vec::new(),
                    next: None,
                });
            }
            sql.push_str(&format!(
                " AND c.policy_id IN ({})",
                vec!["?"; ids.len()].join(", ")
            ));
            params.extend(ids.into_iter().map(Val::from));
        }
        Principal::Customer { customer_id } => {
            sql.push_str(
                " AND (c.customer_id = ? OR c.order_no IN (SELECT order_no FROM orders WHERE customer_id = ?))",
            );
            params.extend([Val::Int(*customer_id), Val::Int(*customer_id)]);
        }
    }
    if let Some(s) = f.state {
        sql.push_str(" AND c.state = ?");
        params.push(s.as_str().into());
    }
    if let Some(k) = f.kind {
        sql.push_str(" AND c.kind = ?");
        params.push(k.as_str().into());
    }
    if let Some(b) = f.before {
        sql.push_str(" AND c.id < ?");
        params.push(Val::Int(b));
    }
    sql.push_str(" ORDER BY c.id DESC LIMIT ?");
    params.push(Val::Int(limit + 1));
    store.read(|tx| -> Result<Page, AppError> {
        let rows = tx.query(&sql, &params)?;
        let mut cases: Vec<Case> = rows.iter().map(Case::from_row).collect::<Result<_, _>>()?;
        let more = i64::try_from(cases.len()).unwrap_or(i64::MAX) > limit;
        cases.truncate(usize::try_from(limit).unwrap_or(0));
        let next = if more {
            cases.last().map(|c| c.id)
        } else {
            None
        };
        Ok(Page { cases, next })
    })
}

/// One item a customer bought: what a case can be started for.
#[derive(Clone, Debug)]
pub struct Item {
    pub order_no: String,
    pub ordered_at: String,
    pub product: String,
    pub serial: Option<String>,
}

/// The items of a customer's orders, newest order first (at most 100).
pub fn items(store: &mut Store, who: &Principal) -> Result<Vec<Item>, AppError> {
    let Principal::Customer { customer_id } = who else {
        return Ok(Vec::new());
    };
    store.read(|tx| -> Result<Vec<Item>, AppError> {
        tx.query(
            "SELECT o.order_no, o.ordered_at, k.name, l.serial FROM orders o
               JOIN order_lines l ON l.order_no = o.order_no
               JOIN skus k ON k.code = l.sku
              WHERE o.customer_id = ?
              ORDER BY o.ordered_at DESC, o.order_no, l.line_no LIMIT 100",
            &[Val::Int(*customer_id)],
        )?
        .iter()
        .map(|r| {
            Ok(Item {
                order_no: r.text(0)?,
                ordered_at: r.text(1)?,
                product: r.text(2)?,
                serial: r.opt_text(3)?,
            })
        })
        .collect()
    })
}

/// What the policy would decide for a case `who` could open (see [`open`]), nothing written.
pub fn preview(
    store: &mut Store,
    policies: &Policies,
    who: &Principal,
    new: &NewCase,
    now: Timestamp,
) -> Result<(String, J), AppError> {
    let new = store.read(|tx| as_opener(tx, policies, who, new, true))?;
    cases::preview(store, policies, &new, By::of(who), now)
}

/// [`cases::what_if`] for a case `who` sees.
pub fn what_if(
    store: &mut Store,
    policies: &Policies,
    who: &Principal,
    id: i64,
    action: Option<Action>,
    extra: &serde_json::Map<String, J>,
    now: Timestamp,
) -> Result<J, AppError> {
    store.read(|tx| load_for(tx, policies, who, id).map(|_| ()))?;
    cases::what_if(store, policies, id, action, extra, By::of(who), now)
}

/// Opens a case as `who`: a customer for their own order (as themselves), staff for a seller
/// they work for.
pub fn open(
    store: &mut Store,
    policies: &Policies,
    who: &Principal,
    new: &NewCase,
    now: Timestamp,
) -> Result<i64, AppError> {
    // One transaction: what the caller may name is checked on what is written.
    store.tx(|tx| {
        let new = as_opener(tx, policies, who, new, false)?;
        // Checked on the policy the opening itself resolves, not on a look-up of its own.
        let allow = |p: &aftercare_policy::model::Policy| works_for(who, Some(p));
        cases::open_in(tx, policies, &new, By::of(who), &who.actor(), now, &allow)
    })
}

/// Staff open cases only under a policy of a seller they work for (one not loaded is none).
fn works_for(
    who: &Principal,
    policy: Option<&aftercare_policy::model::Policy>,
) -> Result<(), AppError> {
    match who {
        Principal::Staff { sellers, .. }
            if !policy
                .and_then(|p| p.seller.as_ref())
                .is_some_and(|s| sellers.includes(s)) =>
        {
            Err(AppError::invalid(
                "policy",
                "this case's seller is not one you work for",
            ))
        }
        _ => Ok(()),
    }
}

/// A new case as `who` may open it: a customer's names one of their own orders and is theirs
/// (the policy is the SKU's, never one they name); staff's names an order, a unit and a
/// customer of the sellers they work for (one they do not is as unknown as one nobody has),
/// and is for such a seller.
/// With `resolve_policy`, staff's case gets the policy it would open under, checked to be
/// one of their sellers'; without, the opening checks that itself.
fn as_opener(
    tx: &mut dyn Tx,
    policies: &Policies,
    who: &Principal,
    new: &NewCase,
    resolve_policy: bool,
) -> Result<NewCase, AppError> {
    let mut new = new.clone();
    match who {
        Principal::Customer { customer_id } => {
            let mine = {
                let r = tx.query_one(
                    "SELECT (SELECT ref FROM customers WHERE id = ?),
                            (SELECT COUNT(*) FROM orders WHERE order_no = ? AND customer_id = ?)",
                    &[
                        Val::Int(*customer_id),
                        new.order_no.clone().into(),
                        Val::Int(*customer_id),
                    ],
                )?;
                (r.opt_text(0)?, r.int(1)? > 0)
            };
            if new.order_no.is_none() || !mine.1 {
                return Err(AppError::invalid("order", "name one of your own orders"));
            }
            // A customer opens cases as themselves, under the policy of the item's seller:
            // naming anyone or anything else is a mistake said out loud, not ignored.
            if new.customer.is_some() && new.customer != mine.0 {
                return Err(AppError::invalid(
                    "customer",
                    "a customer opens cases as themselves; leave `customer` out",
                ));
            }
            if new.policy.is_some() {
                return Err(AppError::invalid(
                    "policy",
                    "the policy is the one the item's seller sets; leave `policy` out",
                ));
            }
            new.customer = mine.0;
            new.policy = None;
        }
        Principal::Staff {
            scopes, sellers, ..
        } => {
            if !has_scope(scopes.as_deref(), "cases:write") {
                return Err(AppError::Forbidden("this token may not open cases".into()));
            }
            references_within(tx, &new, sellers)?;
            if !resolve_policy {
                return Ok(new);
            }
            let policy = cases::policy_for(tx, &new)?;
            works_for(who, policies.get(&policy).ok().map(|p| &**p))?;
            new.policy = Some(policy);
        }
    }
    Ok(new)
}

/// Moves a case as `who`, if they see it and may take the move.
pub fn transition(
    store: &mut Store,
    policies: &Policies,
    who: &Principal,
    id: i64,
    step: &Step,
    now: Timestamp,
) -> Result<Case, AppError> {
    cases::by_hand(step)?;
    // One transaction: the case is loaded once, locked, and moved only if `who` sees it.
    store.tx(|tx| {
        let case = cases::load(tx, id)?;
        if !sees(tx, policies, who, &case)? {
            return Err(AppError::not_found("case", id.to_string()));
        }
        if !may_move(who, step.action) {
            return Err(AppError::Forbidden(format!(
                "you may not take `{}` on a case",
                step.action
            )));
        }
        cases::transition_loaded(tx, policies, case, step, By::of(who), &who.actor(), now)
    })
}

/// Records what a repair or replacement of a case `who` sees did: those who repair
/// (technicians, managers, admins), with `cases:write`.
pub fn record_repair(
    store: &mut Store,
    policies: &Policies,
    who: &Principal,
    id: i64,
    report: &crate::repairs::RepairReport,
    now: Timestamp,
) -> Result<J, AppError> {
    store.read(|tx| load_for(tx, policies, who, id).map(|_| ()))?;
    staff_with(
        who,
        &[Role::Technician, Role::Manager, Role::Admin],
        "cases:write",
        "record repairs",
    )?;
    crate::repairs::record_repair(store, policies, id, report, &who.actor(), now)
}

/// Corrects the records for one case `who` sees: managers and admins (`cases:write`).
pub fn correct(
    store: &mut Store,
    policies: &Policies,
    who: &Principal,
    id: i64,
    c: &Correction,
    now: Timestamp,
) -> Result<Case, AppError> {
    store.read(|tx| load_for(tx, policies, who, id).map(|_| ()))?;
    staff_with(
        who,
        &[Role::Manager, Role::Admin],
        "cases:write",
        "correct the records",
    )?;
    cases::correct(store, policies, id, c, By::of(who), &who.actor(), now)
}

/// Whether the order, unit and customer a new case names are all of `sellers`; each one that
/// is not answers as an unknown one does.
fn references_within(tx: &mut dyn Tx, new: &NewCase, sellers: &Sellers) -> Result<(), AppError> {
    if let Sellers::All = sellers {
        return Ok(());
    }
    if let Some(o) = &new.order_no {
        let theirs = tx.query(
            "SELECT DISTINCT k.seller FROM order_lines l JOIN skus k ON k.code = l.sku WHERE l.order_no = ?",
            &[o.into()],
        )?;
        if !any_of(&theirs, sellers)? {
            return Err(AppError::invalid("order", format!("unknown order `{o}`")));
        }
    }
    if let Some(serial) = &new.serial {
        let theirs = tx.query(
            "SELECT k.seller FROM units u JOIN skus k ON k.code = u.sku WHERE u.serial = ?",
            &[serial.into()],
        )?;
        if !any_of(&theirs, sellers)? {
            return Err(AppError::invalid(
                "serial",
                format!("unknown serial `{serial}`"),
            ));
        }
    }
    if let Some(c) = &new.customer
        && !customer_visible(tx, c, sellers)?
    {
        return Err(AppError::invalid(
            "customer",
            format!("unknown customer `{c}`"),
        ));
    }
    Ok(())
}

/// Whether any row's first column names one of `sellers`.
fn any_of(rows: &[aftercare_store::Row], sellers: &Sellers) -> Result<bool, AppError> {
    for r in rows {
        if sellers.includes(&r.text(0)?) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The seller of an order: its first line's SKU's.
fn order_seller(tx: &mut dyn Tx, order_no: &str) -> Result<Option<String>, AppError> {
    Ok(tx.query_text(
        "SELECT k.seller FROM order_lines l JOIN skus k ON k.code = l.sku
         WHERE l.order_no = ? ORDER BY l.line_no LIMIT 1",
        &[order_no.into()],
    )?)
}

/// Records a refund of an order of one's own sellers (managers and admins: it moves money).
pub fn record_refund(
    store: &mut Store,
    policies: &Policies,
    who: &Principal,
    req: &crate::money::RefundRequest,
    now: Timestamp,
) -> Result<crate::money::Refund, AppError> {
    let sellers = staff_with(
        who,
        &[Role::Manager, Role::Admin],
        "refunds:write",
        "record refunds",
    )?;
    let seller = store.read(|tx| order_seller(tx, &req.order_no))?;
    if !seller.is_some_and(|s| sellers.includes(&s)) {
        return Err(AppError::invalid(
            "order_no",
            format!("unknown order `{}`", req.order_no),
        ));
    }
    // A refund of a case is of that case's order, and the case one the caller sees.
    if let Some(case_id) = req.case_id {
        let unknown = || AppError::invalid("case_id", format!("unknown case {case_id}"));
        let case = store
            .read(|tx| load_for(tx, policies, who, case_id))
            .map_err(|e| match e {
                AppError::NotFound { .. } => unknown(),
                e => e,
            })?;
        if case.order_no.as_deref() != Some(req.order_no.as_str()) {
            return Err(AppError::invalid(
                "case_id",
                format!("case {case_id} is not about order `{}`", req.order_no),
            ));
        }
    }
    crate::money::record(store, req, &who.actor(), now)
}

/// Marks a refund paid out (managers and admins of its order's seller).
pub fn mark_refund_paid(
    store: &mut Store,
    who: &Principal,
    id: i64,
    now: Timestamp,
) -> Result<(), AppError> {
    let sellers = staff_with(
        who,
        &[Role::Manager, Role::Admin],
        "refunds:write",
        "pay refunds out",
    )?;
    let seller = store.read(|tx| -> Result<Option<String>, AppError> {
        let order = tx.query_text("SELECT order_no FROM refunds WHERE id = ?", &[Val::Int(id)])?;
        match order {
            Some(o) => order_seller(tx, &o),
            None => Ok(None),
        }
    })?;
    if !seller.is_some_and(|s| sellers.includes(&s)) {
        return Err(AppError::not_found("refund", id.to_string()));
    }
    crate::money::mark_paid(store, id, &who.actor(), now)
}

/// Whether a customer bought from one of these sellers.
fn customer_visible(tx: &mut dyn Tx, reference: &str, sellers: &Sellers) -> Result<bool, AppError> {
    let rows = tx.query(
        "SELECT DISTINCT k.seller FROM customers c JOIN orders o ON o.customer_id = c.id
         JOIN order_lines l ON l.order_no = o.order_no JOIN skus k ON k.code = l.sku
         WHERE c.ref = ?",
        &[reference.into()],
    )?;
    for r in rows {
        if sellers.includes(&r.text(0)?) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Everything held about a customer: for managers and admins of a seller they bought from
/// (`customers:read`), or the customer themselves.
pub fn export_customer(store: &mut Store, who: &Principal, reference: &str) -> Result<J, AppError> {
    let mut only = Sellers::All;
    let visible = match who {
        Principal::Customer { customer_id } => store.read(|tx| -> Result<bool, AppError> {
            Ok(tx
                .query_opt(
                    "SELECT 1 FROM customers WHERE id = ? AND ref = ?",
                    &[Val::Int(*customer_id), reference.into()],
                )?
                .is_some())
        })?,
        Principal::Staff { .. } => {
            let sellers = staff_with(
                who,
                &[Role::Manager, Role::Admin],
                "customers:read",
                "export customers",
            )?;
            only = sellers.clone();
            store.read(|tx| customer_visible(tx, reference, sellers))?
        }
    };
    if !visible {
        return Err(AppError::not_found("customer", reference));
    }
    // Staff of some sellers see what the customer has with those sellers only.
    crate::personal::export(store, reference, &only)
}

/// Erases a customer's personal data: admins working for every seller (a customer's data is
/// shared by every seller they bought from), with `customers:erase`.
pub fn erase_customer(
    store: &mut Store,
    who: &Principal,
    reference: &str,
    now: Timestamp,
) -> Result<String, AppError> {
    let sellers = staff_with(who, &[Role::Admin], "customers:erase", "erase customers")?;
    if *sellers != Sellers::All {
        return Err(AppError::Forbidden(
            "erasing a customer needs an admin who works for every seller".into(),
        ));
    }
    crate::personal::erase(store, reference, &who.actor(), now)
}

/// Whether `who` may load the registry or verify the audit log: admins working for every
/// seller (both span all sellers), with the token scope named.
pub fn require_global_admin(who: &Principal, scope: &str, what: &str) -> Result<(), AppError> {
    let sellers = staff_with(who, &[Role::Admin], scope, what)?;
    if *sellers == Sellers::All {
        Ok(())
    } else {
        Err(AppError::Forbidden(format!(
            "{what} needs an admin who works for every seller"
        )))
    }
}

/// Whether `who` may read the server's metrics: an API token with the `metrics:read` scope, of
/// an admin who works for every seller (the figures span every seller: requests, timers,
/// e-mails waiting). A person's session is not enough: metrics are read by a scraper with a
/// token of its own, or on the server's separate metrics address.
pub fn require_metrics_reader(who: &Principal) -> Result<(), AppError> {
    match who {
        Principal::Staff {
            role: Role::Admin,
            sellers: Sellers::All,
            scopes: Some(scopes),
            ..
        } if scopes.iter().any(|s| s == "metrics:read") => Ok(()),
        _ => Err(AppError::Forbidden(
            "the metrics are read with an API token that has the `metrics:read` scope, of an \
             admin who works for every seller"
                .to_string(),
        )),
    }
}

/// One case of a desk's queue: the case, and its nearest pending deadline.
#[derive(Debug)]
pub struct Queued {
    pub case: Case,
    /// The nearest pending timer's due time and kind; `None` when nothing is due.
    pub due: Option<(Timestamp, String)>,
    /// A service-level target (inspection or repair) passed while the case waited.
    pub breached: bool,
    /// Where the next page starts after this case (`Filter::after`).
    pub cursor: (i64, i64),
}

/// The open cases staff work on, nearest deadline first (then the oldest): within the
/// caller's sellers, and the filter's seller, state and kind. Closed, cancelled and rejected
/// cases are left out.
pub fn queue(
    store: &mut Store,
    policies: &Policies,
    who: &Principal,
    f: &Filter,
) -> Result<Vec<Queued>, AppError> {
    let Principal::Staff { sellers, .. } = who else {
        return Err(AppError::Forbidden("the queue is for staff".into()));
    };
    if !may_read_cases(who) {
        return Ok(Vec::new());
    }
    let ids = filtered_policy_ids(policies, sellers, f.seller.as_deref());
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let cols = cases::CASE_COLUMNS
        .split(", ")
        .map(|c| format!("c.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ");
    // Walks the `(next_due_at, id)` index from the cursor: a page costs its own rows (and
    // the rows the filters skip), however long the queue. The breach mark is a count, not
    // EXISTS: PostgreSQL would hash EXISTS over every fired timer of every case; a count is
    // looked up for the page's own cases.
    let mut sql = format!(
        "SELECT {cols}, c.next_due_at,
           (SELECT t.kind FROM timers t WHERE t.case_id = c.id AND t.fired_at IS NULL
              AND t.cancelled_at IS NULL ORDER BY t.due_at LIMIT 1),
           (SELECT COUNT(*) FROM timers b WHERE b.case_id = c.id AND b.fired_at IS NOT NULL
              AND b.kind IN ('inspect_by_breached', 'repair_by_breached')) > 0
         FROM cases c{{hint}}
         WHERE c.state NOT IN ('closed', 'cancelled', 'closed_not_received', 'rejected')
           AND c.policy_id IN ({})",
        vec!["?"; ids.len()].join(", ")
    );
    let mut params: Vec<Val> = ids.into_iter().map(Val::from).collect();
    if let Some(s) = f.state {
        sql.push_str(" AND c.state = ?");
        params.push(s.as_str().into());
    }
    if let Some(k) = f.kind {
        sql.push_str(" AND c.kind = ?");
        params.push(k.as_str().into());
    }
    if let Some((due, id)) = f.after {
        // A row comparison, which both databases take as one index range.
        sql.push_str(" AND (c.next_due_at, c.id) > (?, ?)");
        params.extend([Val::Int(due), Val::Int(id)]);
    }
    sql.push_str(" ORDER BY c.next_due_at, c.id LIMIT ?");
    params.push(Val::Int(f.limit.clamp(1, 500)));
    store.read(|tx| -> Result<Vec<Queued>, AppError> {
        // SQLite's planner would rather read a seller's cases by policy and sort them all;
        // told to walk the queue's index, a page reads only its own rows.
        let hint = match tx.dialect() {
            aftercare_store::Dialect::Sqlite => " INDEXED BY cases_by_next_due",
            aftercare_store::Dialect::Postgres => "",
        };
        let sql = sql.replace("{hint}", hint);
        let n = cases::CASE_COLUMNS.split(", ").count();
        tx.query(&sql, &params)?
            .iter()
            .map(|r| {
                let next_due = r.int(n)?;
                let due = match r.opt_text(n + 1)? {
                    Some(kind) if next_due != i64::MAX => {
                        Some((crate::time::from_micros(next_due)?, kind))
                    }
                    _ => None,
                };
                Ok(Queued {
                    case: Case::from_row(r)?,
                    due,
                    breached: r.bool(n + 2)?,
                    cursor: (next_due, r.int(0)?),
                })
            })
            .collect()
    })
}
