//! What a decision says: per remedy the outcome and the rules that decided it, the warranty of
//! every component, outputs, missing documents, deadlines, money, flags and notices. Pure data
//! plus read accessors; `decide` builds it.

use jiff::Timestamp;
use jiff::civil::Date;

use crate::expr::{FactList, WarrantyView};

/// The citations of one outcome: inline, no allocation for up to eight.
pub type Citations = smallvec::SmallVec<[Citation; 8]>;

/// Each rule's verdict in one layer; inline, so that deciding allocates less.
pub type Verdicts = Vec<Option<bool>>;
use crate::model::Policy;
use crate::schema::{DeadlineName, FactId, Output, Remedy};
use crate::value::{Fraction, Money, Value};

/// A rule of one layer: layer 0 is the seller, then the law layers in the seller's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RuleRef {
    pub layer: u8,
    pub rule: u16,
}

/// What a remedy comes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Allowed,
    Pending,
    Denied,
    NotOffered,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Self::Allowed => "allowed",
            Self::Pending => "pending",
            Self::Denied => "denied",
            Self::NotOffered => "not_offered",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Allowed, Self::Pending, Self::Denied, Self::NotOffered]
            .into_iter()
            .find(|x| x.name() == s)
    }
}

/// Why a rule is cited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// An allow rule that holds.
    Allows,
    /// A deny rule that holds.
    Denies,
    /// An allow rule whose condition is false.
    Unmet,
    /// A rule whose condition is unknown yet.
    Undecided,
    /// A requirement not met yet.
    Requires,
    /// A requirement that is met.
    Satisfied,
    /// A law's allow rule that prevails over the seller's terms.
    Prevails,
    /// A law's allow rule that holds (or may) for this consumer, but against the trader who
    /// sold the goods, not this seller: said, not granted.
    NotBinding,
}

impl Role {
    pub const ALL: [Self; 8] = [
        Self::Allows,
        Self::Denies,
        Self::Unmet,
        Self::Undecided,
        Self::Requires,
        Self::Satisfied,
        Self::Prevails,
        Self::NotBinding,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Allows => "allows",
            Self::Denies => "denies",
            Self::Unmet => "unmet",
            Self::Undecided => "undecided",
            Self::Requires => "requires",
            Self::Satisfied => "satisfied",
            Self::Prevails => "prevails",
            Self::NotBinding => "not_binding",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.name() == s)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Citation {
    pub at: RuleRef,
    pub role: Role,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RemedyOutcome {
    pub remedy: Remedy,
    pub status: Status,
    /// Allowed (or pending) only because a law layer prevails.
    pub by_law: bool,
    pub citations: Citations,
    /// Facts that would settle a pending remedy.
    pub pending_on: FactList,
    /// Indexes into [`Decision::missing`].
    pub missing: smallvec::SmallVec<[usize; 2]>,
}

impl RemedyOutcome {
    /// Not offered, nothing cited: where a layer's outcome starts.
    pub(crate) fn new(remedy: Remedy) -> Self {
        Self {
            remedy,
            status: Status::NotOffered,
            by_law: false,
            citations: Citations::new(),
            pending_on: FactList::new(),
            missing: smallvec::SmallVec::new(),
        }
    }

    /// Back to [`RemedyOutcome::new`], keeping any space the lists took.
    pub(crate) fn reset(&mut self, remedy: Remedy) {
        self.remedy = remedy;
        self.status = Status::NotOffered;
        self.by_law = false;
        self.citations.clear();
        self.pending_on.clear();
        self.missing.clear();
    }
}

/// The warranty of one component in one layer.
#[derive(Clone, Debug, PartialEq)]
pub struct Assessment {
    pub layer: u8,
    pub component: u16,
    /// This component covers the item claimed.
    pub claimed: bool,
    pub covered: bool,
    pub start: Option<Date>,
    /// Index into the start rules used (the component's own or the file's).
    pub start_rule: Option<u16>,
    pub end: Option<Date>,
    pub in_warranty: Option<bool>,
    pub pending_on: FactList,
}

#[derive(Clone, Debug, PartialEq)]
pub struct OutputResult {
    pub output: Output,
    pub value: Option<Value>,
    pub by: Option<RuleRef>,
    /// The seller's rule a law layer overrode (or confirmed, when `agrees`).
    pub overridden: Option<RuleRef>,
    /// The seller's rule decided the same value the law did.
    pub agrees: bool,
    pub pending_on: FactList,
}

/// A document or piece of evidence that is required and not supplied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Missing {
    pub at: RuleRef,
    /// The remedies that wait for it: those of the rule's `for` whose outcome is pending on it
    /// (not one denied anyway, nor one a law layer grants without it).
    pub remedies: u16,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Due {
    /// The last day, inclusive, in the policy's zone.
    pub last_day: Date,
    /// The exact instant of an hour-based deadline; day deadlines pass at midnight.
    pub at: Option<Timestamp>,
}

impl Due {
    /// The instant the deadline passes: the exact one, or the start of the day after the
    /// last day in the policy's zone. Computed on demand: deciding does not need it.
    pub fn until(&self, tz: &jiff::tz::TimeZone) -> Option<Timestamp> {
        if let Some(at) = self.at {
            return Some(at);
        }
        crate::value::start_of_day(self.last_day.tomorrow().ok()?, tz)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct DeadlineResult {
    pub name: DeadlineName,
    pub at: RuleRef,
    pub overridden: Option<RuleRef>,
    /// `None` while the event it counts from has not happened.
    pub due: Option<Due>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Refund {
    pub amount: Money,
    pub price: Money,
    pub shipping: Option<Money>,
    pub proportional: Option<Fraction>,
}

/// One layer's evaluation.
#[derive(Clone, Debug)]
pub struct Layer<'p> {
    pub policy: &'p Policy,
    /// Whether a law layer applies to this buyer (always `Some(true)` for the seller).
    pub applies: Option<bool>,
    /// Whether a law layer that applies binds this seller, as the trader who sold the goods
    /// to this consumer (always `Some(true)` for the seller; `None` for a law that does not
    /// apply, where it is not asked).
    pub binds: Option<bool>,
    /// The `when` of each rule: true, false, or unknown .
    pub verdicts: Verdicts,
    pub warranty: WarrantyView,
    pub(crate) warranty_unknowns: FactList,
    pub(crate) seller_allowed: u16,
    /// The shared atoms' values, evaluated once the warranty view is final.
    pub(crate) atoms: crate::expr::logic::Atoms,
}

impl Layer<'_> {
    /// Whether the layer's rights and outputs hold against this seller: it applies and binds.
    pub fn in_force(&self) -> Option<bool> {
        crate::expr::kleene(false, [self.applies, self.binds])
    }
}

/// Everything decided about one case at one moment.
#[derive(Clone, Debug)]
pub struct Decision<'p> {
    pub policy: &'p Policy,
    pub now: Timestamp,
    pub today: Date,
    pub claim: Date,
    pub layers: Vec<Layer<'p>>,
    pub remedies: Vec<RemedyOutcome>,
    pub warranty: Vec<Assessment>,
    pub outputs: Vec<OutputResult>,
    pub missing: Vec<Missing>,
    pub deadlines: Vec<DeadlineResult>,
    pub refund: Option<Refund>,
    pub flags: Vec<RuleRef>,
    pub notices: Vec<RuleRef>,
    pub(crate) resolved: Vec<(FactId, Date)>,
    /// How much of it was worked out (see [`Detail`]).
    pub detail: Detail,
}

/// How much of a decision [`crate::decide::decide_in`] works out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detail {
    /// Everything: what the customer can get, and all that explains it.
    Full,
    /// What the customer can get: each remedy's status and the rules cited for it, the
    /// refund, and the deadlines. Left out: the facts a pending remedy waits for, outputs
    /// other than the two the refund reads, flags, notices, and the pruning of missing
    /// documents no remedy waits for. What-if compares only what is kept; a property test
    /// holds it equal to the full decision's.
    Outcomes,
}

impl<'p> Decision<'p> {
    pub fn output(&self, o: Output) -> Option<&OutputResult> {
        self.outputs.iter().find(|r| r.output == o)
    }

    pub fn remedy(&self, r: Remedy) -> Option<&RemedyOutcome> {
        self.remedies.iter().find(|x| x.remedy == r)
    }

    pub fn layer_policy(&self, layer: u8) -> Option<&'p Policy> {
        self.layers.get(usize::from(layer)).map(|l| l.policy)
    }

    /// The rule a reference points at, with its policy.
    pub fn rule(&self, at: RuleRef) -> Option<(&'p Policy, &'p crate::model::Rule)> {
        let p = self.layer_policy(at.layer)?;
        Some((p, p.rules.get(usize::from(at.rule))?))
    }

    /// The clause id a reference cites.
    pub fn clause_id(&self, at: RuleRef) -> Option<&'p str> {
        let (p, r) = self.rule(at)?;
        p.clause(r.clause).map(|c| c.id.as_str())
    }

    /// The current id of a clause of this decision's policies named by an id it had in an
    /// earlier version (`formerly`), so that scenarios written before a rename keep working.
    pub fn renamed(&self, former: &str) -> Option<&'p str> {
        self.layers
            .iter()
            .flat_map(|l| &l.policy.clauses)
            .find(|c| c.formerly.iter().any(|f| f == former))
            .map(|c| c.id.as_str())
    }

    /// Every rule this decision cites (remedies, outputs, requirements, deadlines, flags and
    /// notices), in first-cited order.
    pub fn cited_rules(&self) -> Vec<RuleRef> {
        let mut out: Vec<RuleRef> = Vec::new();
        let all = self
            .remedies
            .iter()
            .flat_map(|r| r.citations.iter().map(|c| c.at))
            .chain(
                self.outputs
                    .iter()
                    .flat_map(|o| o.by.into_iter().chain(o.overridden)),
            )
            .chain(self.missing.iter().map(|m| m.at))
            .chain(
                self.deadlines
                    .iter()
                    .flat_map(|d| std::iter::once(d.at).chain(d.overridden)),
            )
            .chain(self.flags.iter().chain(&self.notices).copied());
        for at in all {
            if !out.contains(&at) {
                out.push(at);
            }
        }
        out
    }

    /// The named definitions the cited rules use (directly or through other definitions),
    /// layer by layer in the file's order.
    pub fn used_definitions(&self) -> Vec<(&'p Policy, &'p crate::model::Definition)> {
        let mut uses = vec![0u64; self.layers.len()];
        for at in self.cited_rules() {
            if let (Some(u), Some((_, rule))) = (uses.get_mut(usize::from(at.layer)), self.rule(at))
            {
                *u |= rule.uses();
            }
        }
        // Whom a law binds is explained by its `binds` where it does not bind.
        for (u, l) in uses.iter_mut().zip(&self.layers) {
            if l.applies == Some(true) && l.binds != Some(true) {
                *u |= l.policy.binds.as_ref().map_or(0, |b| b.uses);
            }
        }
        self.layers
            .iter()
            .zip(uses)
            .flat_map(|(l, u)| l.policy.definitions(u).map(|d| (l.policy, d)))
            .collect()
    }

    /// Every clause id this decision cites, in first-cited order.
    pub fn cited_clauses(&self) -> Vec<&'p str> {
        let mut out: Vec<&'p str> = Vec::new();
        let mut add = |id: Option<&'p str>| {
            if let Some(id) = id
                && !out.contains(&id)
            {
                out.push(id);
            }
        };
        for r in &self.remedies {
            for c in &r.citations {
                add(self.clause_id(c.at));
            }
        }
        for a in &self.warranty {
            if let Some(p) = self.layer_policy(a.layer)
                && let Some(w) = &p.warranty
                && let Some(c) = w.components.get(usize::from(a.component))
            {
                add(p.clause(c.clause).map(|c| c.id.as_str()));
                let starts = c.start.as_deref().unwrap_or(&w.start);
                if let Some(s) = a.start_rule.and_then(|i| starts.get(usize::from(i))) {
                    add(p.clause(s.clause).map(|c| c.id.as_str()));
                }
            }
        }
        for o in &self.outputs {
            add(o.by.and_then(|at| self.clause_id(at)));
            add(o.overridden.and_then(|at| self.clause_id(at)));
        }
        for m in &self.missing {
            add(self.clause_id(m.at));
        }
        for dl in &self.deadlines {
            add(self.clause_id(dl.at));
            add(dl.overridden.and_then(|at| self.clause_id(at)));
        }
        for at in self.flags.iter().chain(&self.notices) {
            add(self.clause_id(*at));
        }
        out
    }
}
