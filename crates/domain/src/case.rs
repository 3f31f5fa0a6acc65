//! A case's life: its kind, its states and the guarded moves between them.
//!
//! Every move is an [`Action`] with one target state and the states it may start from; the
//! table [`TRANSITIONS`] is the whole machine, and the diagram in `docs/case-lifecycle.md` is
//! generated from it ([`mermaid`]).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What a case is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum CaseKind {
    /// A return for a refund, or a withdrawal from a distance sale.
    Return,
    DeliveryDamage,
    WrongItem,
    /// Repair or replacement under warranty.
    WarrantyService,
    PaidRepair,
    /// Withdrawal from a service agreement: nothing is shipped.
    ServiceWithdrawal,
}

impl CaseKind {
    pub const ALL: [CaseKind; 6] = [
        CaseKind::Return,
        CaseKind::DeliveryDamage,
        CaseKind::WrongItem,
        CaseKind::WarrantyService,
        CaseKind::PaidRepair,
        CaseKind::ServiceWithdrawal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CaseKind::Return => "return",
            CaseKind::DeliveryDamage => "delivery_damage",
            CaseKind::WrongItem => "wrong_item",
            CaseKind::WarrantyService => "warranty_service",
            CaseKind::PaidRepair => "paid_repair",
            CaseKind::ServiceWithdrawal => "service_withdrawal",
        }
    }

    /// Whether the case goes through shipping, receipt and inspection of a device.
    pub fn needs_device(self) -> bool {
        self != CaseKind::ServiceWithdrawal
    }
}

/// Where a case is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum State {
    Draft,
    Submitted,
    NeedsInfo,
    Approved,
    Rejected,
    AwaitingDevice,
    Received,
    ClosedNotReceived,
    RejectedOnArrival,
    Inspecting,
    Refunding,
    Replacing,
    Repairing,
    AwaitingPayment,
    Paid,
    ReturnedUnrepaired,
    ShippedBack,
    Closed,
    Cancelled,
}

impl State {
    pub const ALL: [State; 19] = [
        State::Draft,
        State::Submitted,
        State::NeedsInfo,
        State::Approved,
        State::Rejected,
        State::AwaitingDevice,
        State::Received,
        State::ClosedNotReceived,
        State::RejectedOnArrival,
        State::Inspecting,
        State::Refunding,
        State::Replacing,
        State::Repairing,
        State::AwaitingPayment,
        State::Paid,
        State::ReturnedUnrepaired,
        State::ShippedBack,
        State::Closed,
        State::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Draft => "draft",
            State::Submitted => "submitted",
            State::NeedsInfo => "needs_info",
            State::Approved => "approved",
            State::Rejected => "rejected",
            State::AwaitingDevice => "awaiting_device",
            State::Received => "received",
            State::ClosedNotReceived => "closed_not_received",
            State::RejectedOnArrival => "rejected_on_arrival",
            State::Inspecting => "inspecting",
            State::Refunding => "refunding",
            State::Replacing => "replacing",
            State::Repairing => "repairing",
            State::AwaitingPayment => "awaiting_payment",
            State::Paid => "paid",
            State::ReturnedUnrepaired => "returned_unrepaired",
            State::ShippedBack => "shipped_back",
            State::Closed => "closed",
            State::Cancelled => "cancelled",
        }
    }

    /// No action leaves it.
    pub fn is_final(self) -> bool {
        !TRANSITIONS.iter().any(|t| t.from.contains(&self))
    }
}

/// A move of a case from one state to another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Action {
    Submit,
    RequestInfo,
    ProvideInfo,
    Approve,
    Reject,
    /// The customer has shipped the device.
    DeviceShipped,
    Receive,
    /// The deadline to receive the device passed (fired by a timer).
    NotReceived,
    /// The parcel arrived damaged or soaked and is refused.
    RejectOnArrival,
    Inspect,
    Refund,
    Replace,
    Repair,
    Quote,
    Pay,
    DeclineQuote,
    /// The quote went unpaid past its deadline (fired by a timer).
    ExpireQuote,
    ReturnUnrepaired,
    RefundPaid,
    ShipBack,
    Close,
    Cancel,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Submit => "submit",
            Action::RequestInfo => "request_info",
            Action::ProvideInfo => "provide_info",
            Action::Approve => "approve",
            Action::Reject => "reject",
            Action::DeviceShipped => "device_shipped",
            Action::Receive => "receive",
            Action::NotReceived => "not_received",
            Action::RejectOnArrival => "reject_on_arrival",
            Action::Inspect => "inspect",
            Action::Refund => "refund",
            Action::Replace => "replace",
            Action::Repair => "repair",
            Action::Quote => "quote",
            Action::Pay => "pay",
            Action::DeclineQuote => "decline_quote",
            Action::ExpireQuote => "expire_quote",
            Action::ReturnUnrepaired => "return_unrepaired",
            Action::RefundPaid => "refund_paid",
            Action::ShipBack => "ship_back",
            Action::Close => "close",
            Action::Cancel => "cancel",
        }
    }

    /// The transition this action makes (every action has one; a test checks it).
    pub fn transition(self) -> Option<&'static Transition> {
        TRANSITIONS.iter().find(|t| t.action == self)
    }

    /// Actions only timers take: staff cannot fire them by hand.
    pub fn is_timer(self) -> bool {
        matches!(self, Action::NotReceived | Action::ExpireQuote)
    }

    /// Actions about a device moving or being examined.
    fn needs_device(self) -> bool {
        matches!(
            self,
            Action::DeviceShipped
                | Action::Receive
                | Action::NotReceived
                | Action::RejectOnArrival
                | Action::Inspect
                | Action::Replace
                | Action::Repair
                | Action::Quote
                | Action::ShipBack
        )
    }
}

/// Every state a case in `start` can come to (`start` first), by any moves.
pub fn reachable_from(start: State) -> Vec<State> {
    let mut seen = vec![start];
    let mut i = 0;
    while let Some(s) = seen.get(i).copied() {
        for t in TRANSITIONS.iter().filter(|t| t.from.contains(&s)) {
            if !seen.contains(&t.to) {
                seen.push(t.to);
            }
        }
        i += 1;
    }
    seen
}

/// One row of the machine: `action` moves a case from any of `from` to `to`.
#[derive(Debug)]
pub struct Transition {
    pub action: Action,
    pub from: &'static [State],
    pub to: State,
}

use State as S;

/// The whole machine.
pub const TRANSITIONS: &[Transition] = &[
    t(Action::Submit, &[S::Draft], S::Submitted),
    t(Action::RequestInfo, &[S::Submitted], S::NeedsInfo),
    t(Action::ProvideInfo, &[S::NeedsInfo], S::Submitted),
    t(Action::Approve, &[S::Submitted], S::Approved),
    t(Action::Reject, &[S::Submitted, S::NeedsInfo], S::Rejected),
    t(Action::DeviceShipped, &[S::Approved], S::AwaitingDevice),
    t(
        Action::Receive,
        &[S::Approved, S::AwaitingDevice],
        S::Received,
    ),
    t(
        Action::NotReceived,
        &[S::Approved, S::AwaitingDevice],
        S::ClosedNotReceived,
    ),
    // A parcel is refused at the door, or once opened and found damaged or soaked (the one
    // who receives it looks at it: Maintenance 3.6).
    t(
        Action::RejectOnArrival,
        &[S::Approved, S::AwaitingDevice, S::Received],
        S::RejectedOnArrival,
    ),
    t(Action::Inspect, &[S::Received], S::Inspecting),
    // A service withdrawal is refunded once approved; a device only after inspection.
    t(Action::Refund, &[S::Approved, S::Inspecting], S::Refunding),
    t(Action::Replace, &[S::Inspecting], S::Replacing),
    t(Action::Repair, &[S::Inspecting, S::Paid], S::Repairing),
    t(Action::Quote, &[S::Inspecting], S::AwaitingPayment),
    t(Action::Pay, &[S::AwaitingPayment], S::Paid),
    t(
        Action::DeclineQuote,
        &[S::AwaitingPayment],
        S::ReturnedUnrepaired,
    ),
    t(
        Action::ExpireQuote,
        &[S::AwaitingPayment],
        S::ReturnedUnrepaired,
    ),
    t(
        Action::ReturnUnrepaired,
        &[S::Inspecting],
        S::ReturnedUnrepaired,
    ),
    t(Action::RefundPaid, &[S::Refunding], S::Closed),
    t(
        Action::ShipBack,
        &[
            S::Replacing,
            S::Repairing,
            S::ReturnedUnrepaired,
            S::RejectedOnArrival,
        ],
        S::ShippedBack,
    ),
    t(
        Action::Close,
        &[S::ShippedBack, S::RejectedOnArrival],
        S::Closed,
    ),
    t(
        Action::Cancel,
        &[
            S::Draft,
            S::Submitted,
            S::NeedsInfo,
            S::Approved,
            S::AwaitingDevice,
        ],
        S::Cancelled,
    ),
];

const fn t(action: Action, from: &'static [State], to: State) -> Transition {
    Transition { action, from, to }
}

/// Why a move is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error(
        "cannot `{action}` a case in state `{from}`; from `{from}` a case can: {allowed}",
        action = .action.as_str(), from = .from.as_str()
    )]
    WrongState {
        action: Action,
        from: State,
        allowed: String,
    },
    #[error(
        "cannot `{action}` a {kind} case: nothing is shipped or inspected for it",
        action = .action.as_str(), kind = .kind.as_str()
    )]
    NoDevice { action: Action, kind: CaseKind },
    #[error(
        "cannot `{action}` a {kind} case before its device is received and inspected",
        action = .action.as_str(), kind = .kind.as_str()
    )]
    NotInspected { action: Action, kind: CaseKind },
}

/// The state `action` moves a `kind` case in state `from` to, or why it cannot.
pub fn next(kind: CaseKind, from: State, action: Action) -> Result<State, TransitionError> {
    let Some(t) = action.transition().filter(|t| t.from.contains(&from)) else {
        return Err(TransitionError::WrongState {
            action,
            from,
            allowed: allowed_list(kind, from),
        });
    };
    if action.needs_device() && !kind.needs_device() {
        return Err(TransitionError::NoDevice { action, kind });
    }
    if action == Action::Refund && from == State::Approved && kind.needs_device() {
        return Err(TransitionError::NotInspected { action, kind });
    }
    Ok(t.to)
}

/// The actions a `kind` case in state `from` can take.
pub fn allowed_from(kind: CaseKind, from: State) -> impl Iterator<Item = Action> {
    TRANSITIONS
        .iter()
        .filter(move |t| t.from.contains(&from))
        .map(|t| t.action)
        .filter(move |a| next_ok(kind, from, *a))
}

fn next_ok(kind: CaseKind, from: State, action: Action) -> bool {
    !(action.needs_device() && !kind.needs_device()
        || action == Action::Refund && from == State::Approved && kind.needs_device())
}

fn allowed_list(kind: CaseKind, from: State) -> String {
    let names: Vec<&str> = allowed_from(kind, from).map(Action::as_str).collect();
    if names.is_empty() {
        "nothing (the case is finished)".to_string()
    } else {
        names.join(", ")
    }
}

/// The machine as a Mermaid state diagram, one line per edge, in table order.
pub fn mermaid() -> String {
    let mut out = String::from("stateDiagram-v2\n    [*] --> draft\n");
    for t in TRANSITIONS {
        for from in t.from {
            let timer = if t.action.is_timer() { " (timer)" } else { "" };
            out.push_str(&format!(
                "    {} --> {}: {}{timer}\n",
                from.as_str(),
                t.to.as_str(),
                t.action.as_str()
            ));
        }
    }
    for s in State::ALL.iter().filter(|s| s.is_final()) {
        out.push_str(&format!("    {} --> [*]\n", s.as_str()));
    }
    out
}

macro_rules! parse_by_name {
    ($ty:ty, $all:expr, $what:literal) => {
        impl FromStr for $ty {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                $all.iter()
                    .copied()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| {
                        let names: Vec<&str> = $all.iter().map(|v| v.as_str()).collect();
                        format!(
                            concat!("unknown ", $what, " `{}`; expected one of: {}"),
                            s,
                            names.join(", ")
                        )
                    })
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// Every action, in table order.
pub const ACTIONS: [Action; 22] = [
    Action::Submit,
    Action::RequestInfo,
    Action::ProvideInfo,
    Action::Approve,
    Action::Reject,
    Action::DeviceShipped,
    Action::Receive,
    Action::NotReceived,
    Action::RejectOnArrival,
    Action::Inspect,
    Action::Refund,
    Action::Replace,
    Action::Repair,
    Action::Quote,
    Action::Pay,
    Action::DeclineQuote,
    Action::ExpireQuote,
    Action::ReturnUnrepaired,
    Action::RefundPaid,
    Action::ShipBack,
    Action::Close,
    Action::Cancel,
];

parse_by_name!(CaseKind, CaseKind::ALL, "case kind");
parse_by_name!(State, State::ALL, "state");
parse_by_name!(Action, ACTIONS, "action");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_has_exactly_one_row() {
        for a in ACTIONS {
            assert_eq!(
                TRANSITIONS.iter().filter(|t| t.action == a).count(),
                1,
                "{a}"
            );
        }
        assert_eq!(TRANSITIONS.len(), ACTIONS.len());
    }

    #[test]
    fn every_state_is_reachable_from_draft() {
        let seen = reachable_from(State::Draft);
        for s in State::ALL {
            assert!(seen.contains(&s), "{s} is unreachable");
        }
    }

    #[test]
    fn a_warranty_case_runs_from_application_to_closing() {
        let kind = CaseKind::WarrantyService;
        let mut s = State::Draft;
        for a in [
            Action::Submit,
            Action::RequestInfo,
            Action::ProvideInfo,
            Action::Approve,
            Action::DeviceShipped,
            Action::Receive,
            Action::Inspect,
            Action::Quote,
            Action::Pay,
            Action::Repair,
            Action::ShipBack,
            Action::Close,
        ] {
            s = next(kind, s, a).unwrap();
        }
        assert_eq!(s, State::Closed);
        assert!(s.is_final());
    }

    #[test]
    fn a_move_from_the_wrong_state_names_what_is_allowed() {
        let err = next(CaseKind::Return, State::Draft, Action::Receive).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot `receive` a case in state `draft`; from `draft` a case can: submit, cancel"
        );
        let err = next(CaseKind::Return, State::Closed, Action::Cancel).unwrap_err();
        assert!(
            err.to_string().ends_with("nothing (the case is finished)"),
            "{err}"
        );
    }

    #[test]
    fn a_service_withdrawal_is_refunded_without_a_device() {
        let kind = CaseKind::ServiceWithdrawal;
        assert_eq!(
            next(kind, State::Approved, Action::Refund),
            Ok(State::Refunding)
        );
        assert!(matches!(
            next(kind, State::Approved, Action::Receive),
            Err(TransitionError::NoDevice { .. })
        ));
        assert!(matches!(
            next(CaseKind::Return, State::Approved, Action::Refund),
            Err(TransitionError::NotInspected { .. })
        ));
    }

    #[test]
    fn names_parse_back() {
        for a in ACTIONS {
            assert_eq!(a.as_str().parse::<Action>(), Ok(a));
        }
        for s in State::ALL {
            assert_eq!(s.as_str().parse::<State>(), Ok(s));
        }
        assert_eq!(
            "refnud".parse::<Action>().unwrap_err().split(';').next(),
            Some("unknown action `refnud`")
        );
    }

    #[test]
    fn the_diagram_has_one_edge_per_move() {
        let d = mermaid();
        let edges: usize = TRANSITIONS.iter().map(|t| t.from.len()).sum();
        assert_eq!(d.lines().filter(|l| l.contains(": ")).count(), edges);
        assert!(d.contains("awaiting_payment --> returned_unrepaired: expire_quote (timer)"));
    }
}

#[cfg(test)]
mod doc_tests {
    /// The diagram in the docs is the machine's own: regenerate it with
    /// `aftercare case diagram` when the table changes.
    #[test]
    fn the_documented_diagram_is_generated_from_the_table() {
        let doc = include_str!("../../../docs/case-lifecycle.md");
        assert!(
            doc.contains(&super::mermaid()),
            "docs/case-lifecycle.md is out of date: paste in the output of `aftercare case diagram`"
        );
    }
}
