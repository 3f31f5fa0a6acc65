//! Who sees and does what. Staff see the cases of the sellers they work for (a case's seller
//! is its policy's `seller`) and take the moves their role allows; a customer sees the cases
//! of their own orders and takes the customer's moves. Anything out of reach is "not found",
//! never "forbidden": its existence is not revealed, in a read, a list or a count.

use aftercare_domain::case::{Action, CaseKind, State};
use aftercare_store::{Store, Tx, Val};
use jiff::Timestamp;
use serde_json::Value as J;

use crate::accounts::{Principal, Role, Sellers};
use crate::cases::{self, Case, NewCase, Step};
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
    Action::Pay,
    Action::DeclineQuote,
    Action::ShipBack,
    Action::Close,
    Action::Cancel,
];

/// The moves a technician takes.
const TECHNICIAN_MOVES: &[Action] = &[
    Action::Receive,
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

/// Whether a token's scopes include `scope` (a signed-in person has their role's all).
pub fn has_scope(scopes: Option<&[String]>, scope: &str) -> bool {
    scopes.is_none_or(|s| s.iter().any(|x| x == scope))
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
    let case = cases::load(tx, id)?;
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
    store.tx(|tx| load_for(tx, policies, who, id).map(|_| ()))?;
    let mut shown = cases::show(store, id)?;
    if let Some(J::Array(can)) = shown.get_mut("can") {
        can.retain(|a| {
            a.as_str()
                .and_then(|s| s.parse::<Action>().ok())
                .is_some_and(|a| may_move(who, a))
        });
    }
    Ok(shown)
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
            let mut ids = policy_ids(policies, sellers);
            if let Some(s) = &f.seller {
                let only = policy_ids(policies, &Sellers::Only(vec![s.clone()]));
                ids.retain(|i| only.contains(i));
            }
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
    store.tx(|tx| -> Result<Page, AppError> {
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

/// Opens a case as `who`: a customer for their own order (as themselves), staff for a seller
/// they work for.
pub fn open(
    store: &mut Store,
    policies: &Policies,
    who: &Principal,
    new: &NewCase,
    now: Timestamp,
) -> Result<i64, AppError> {
    let mut new = new.clone();
    match who {
        Principal::Customer { customer_id } => {
            let mine = store.tx(|tx| -> Result<(Option<String>, bool), AppError> {
                let r = tx.query_one(
                    "SELECT (SELECT ref FROM customers WHERE id = ?),
                            (SELECT COUNT(*) FROM orders WHERE order_no = ? AND customer_id = ?)",
                    &[
                        Val::Int(*customer_id),
                        new.order_no.clone().into(),
                        Val::Int(*customer_id),
                    ],
                )?;
                Ok((r.opt_text(0)?, r.int(1)? > 0))
            })?;
            if new.order_no.is_none() || !mine.1 {
                return Err(AppError::invalid("order_no", "name one of your own orders"));
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
            // Staff open cases only for the sellers they work for.
            let policy = cases::policy_for(store, &new)?;
            let seller = policies.get(&policy).ok().and_then(|p| p.seller.clone());
            if !seller.is_some_and(|s| sellers.includes(&s)) {
                return Err(AppError::invalid(
                    "policy",
                    "this case's seller is not one you work for",
                ));
            }
            new.policy = Some(policy);
        }
    }
    cases::open(store, policies, &new, &who.actor(), now)
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
    store.tx(|tx| load_for(tx, policies, who, id).map(|_| ()))?;
    if !may_move(who, step.action) {
        return Err(AppError::Forbidden(format!(
            "you may not take `{}` on a case",
            step.action
        )));
    }
    cases::transition(store, policies, id, step, &who.actor(), now)
}
