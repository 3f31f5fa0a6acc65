//! `decide(policy, facts, now)`: pure and deterministic. Evaluates the seller's rules, then
//! every law layer that applies, and combines them: a law's allow beats a seller's deny, a
//! law's output beats the seller's. Every outcome carries the rules (and so the clauses) that
//! decided it.

use jiff::civil::Date;
use jiff::{Timestamp, ToSpan};

pub use crate::decision::{
    Assessment, Citation, DeadlineResult, Decision, Detail, Due, Layer, Missing, OutputResult,
    Refund, RemedyOutcome, Role, RuleRef, Status,
};
use crate::expr::logic::Atoms;
use crate::expr::{Env, Expr, FactList, WarrantyView};
use crate::facts::{Facts, When};
use crate::model::{Action, Cond, Policy, StartRule};
use crate::schema::{self, FactId, Output, Remedy};
use crate::value::{Money, Unit, Value, start_of_day};

/// The evaluation environment of one layer.
struct Cx<'a> {
    facts: &'a Facts,
    tz: &'a jiff::tz::TimeZone,
    resolved: &'a [(FactId, Date)],
    today: Date,
    claim: Date,
    warranty: WarrantyView,
    warranty_unknowns: &'a [FactId],
    seller_allowed: u16,
    atoms: Atoms,
    leaves: &'a [crate::expr::Leaf],
}

impl Env for Cx<'_> {
    fn atoms(&self) -> Atoms {
        self.atoms
    }
    fn leaf(&self, i: u16) -> Option<&crate::expr::Leaf> {
        self.leaves.get(usize::from(i))
    }
    fn fact(&self, id: FactId) -> Option<Value> {
        if let Some(v) = self.facts.get(id) {
            return Some(v.clone());
        }
        self.resolved
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, d)| Value::Date(*d))
    }
    fn fact_ref(&self, id: FactId) -> Option<&Value> {
        self.facts.get(id)
    }
    fn today(&self) -> Date {
        self.today
    }
    fn claim(&self) -> Date {
        self.claim
    }
    fn warranty(&self) -> WarrantyView {
        self.warranty
    }
    fn seller_allows(&self, remedy: Remedy) -> bool {
        self.seller_allowed & remedy.bit() != 0
    }
    fn instant(&self, id: FactId) -> Option<Timestamp> {
        match self.facts.when(id)? {
            When::Instant(t) => Some(t),
            When::Day(d) => start_of_day(d, self.tz),
        }
    }
    fn warranty_unknowns(&self, out: &mut FactList) {
        for id in self.warranty_unknowns {
            if !out.contains(id) {
                out.push(*id);
            }
        }
    }
}

fn claim_id() -> Option<FactId> {
    schema::KNOWN.claim_date
}

fn class_id() -> Option<FactId> {
    schema::KNOWN.product_class
}

/// Decides what the customer can get, and why.
pub fn decide<'p>(policy: &'p Policy, facts: &Facts, now: Timestamp) -> Decision<'p> {
    decide_in(Detail::Full, policy, facts, now)
}

/// The outputs the refund reads: all a decision of [`Detail::Outcomes`] works out.
const REFUND_OUTPUTS: [Output; 2] = [Output::RefundProportional, Output::RefundShipping];

/// Decides what the customer can get, and as much of why as `detail` asks for.
pub fn decide_in<'p>(
    detail: Detail,
    policy: &'p Policy,
    facts: &Facts,
    now: Timestamp,
) -> Decision<'p> {
    let full = detail == Detail::Full;
    let today = policy.day_of(now);
    let resolved: Vec<(FactId, Date)> = facts
        .instants()
        .iter()
        .map(|(id, t)| (*id, policy.day_of(*t)))
        .collect();
    let claim = claim_id()
        .and_then(|id| match facts.when(id) {
            Some(When::Day(d)) => Some(d),
            Some(When::Instant(_)) => resolved.iter().find(|(i, _)| *i == id).map(|(_, d)| *d),
            None => None,
        })
        .unwrap_or(today);

    let mut d = Decision {
        policy,
        now,
        today,
        claim,
        layers: Vec::with_capacity(1 + policy.laws.len()),
        remedies: Vec::with_capacity(
            usize::try_from(policy.considered().count_ones()).unwrap_or(0),
        ),
        warranty: Vec::with_capacity(
            policy
                .layers()
                .filter_map(|p| p.warranty.as_ref())
                .map(|w| w.components.len())
                .sum(),
        ),
        outputs: Vec::with_capacity(if full {
            Output::ALL.len()
        } else {
            REFUND_OUTPUTS.len()
        }),
        // At most every requirement of every layer: pushed to without growing.
        missing: Vec::with_capacity(policy.layers().map(|p| p.index.all_requires.len()).sum()),
        deadlines: Vec::new(),
        refund: None,
        flags: Vec::new(),
        notices: if full {
            Vec::with_capacity(policy.layers().map(|p| p.index.notices.len()).sum())
        } else {
            Vec::new()
        },
        resolved,
        detail,
    };

    d.add_layer(policy, facts, 0);
    let considered = policy.considered();
    // Each remedy's outcome is built where it stays: first the seller's, then the laws'.
    let mut remedies = std::mem::take(&mut d.remedies);
    for r in Remedy::ALL.iter().filter(|r| considered & r.bit() != 0) {
        let mut out = RemedyOutcome::new(*r);
        d.layer_outcome(0, true, facts, &mut out);
        remedies.push(out);
    }
    // What the seller offers, for law layers' `allowed()`: allowed, or allowed once missing
    // documents arrive (an offer subject to an invoice is still the seller's offer).
    let seller_allowed = remedies
        .iter()
        .filter(|o| {
            o.status == Status::Allowed
                || (o.status == Status::Pending && o.pending_on.is_empty() && !o.missing.is_empty())
        })
        .fold(0u16, |m, o| m | o.remedy.bit());

    for law in &policy.laws {
        d.add_layer(law, facts, seller_allowed);
    }

    if d.layers.len() > 1 {
        let mut law = RemedyOutcome::new(Remedy::Return);
        for out in &mut remedies {
            d.apply_laws(out, &mut law, facts);
        }
    }
    d.remedies = remedies;
    if full {
        d.keep_missing_that_remedies_wait_for();
    }
    d.decide_outputs(facts);
    d.decide_deadlines(facts);
    if full {
        d.collect_flags_and_notices();
    }
    d.decide_refund(facts);
    d
}

impl<'p> Decision<'p> {
    fn cx<'a>(&'a self, layer: &'a Layer<'p>, facts: &'a Facts) -> Cx<'a> {
        make_cx(&self.resolved, self.today, self.claim, layer, facts)
    }

    fn add_layer(&mut self, policy: &'p Policy, facts: &Facts, seller_allowed: u16) {
        let index = u8::try_from(self.layers.len()).unwrap_or(u8::MAX);
        let mut layer = Layer {
            policy,
            applies: Some(true),
            binds: Some(true),
            verdicts: crate::decision::Verdicts::new(),
            warranty: WarrantyView::default(),
            warranty_unknowns: FactList::new(),
            seller_allowed,
            atoms: Atoms::default(),
        };
        if policy.applies.is_some() {
            let cx = self.cx(&layer, facts);
            layer.applies =
                crate::expr::kleene(false, policy.applies_parts.iter().map(|p| p.eval(&cx)));
        }
        if layer.applies == Some(false) {
            // Whom it would bind is not asked of a law that does not apply.
            layer.binds = None;
            self.layers.push(layer);
            return;
        }
        if policy.binds.is_some() {
            let cx = self.cx(&layer, facts);
            layer.binds =
                crate::expr::kleene(false, policy.binds_parts.iter().map(|p| p.eval(&cx)));
        }
        // A law that binds another trader is still evaluated, to say what it gives against
        // that trader; its warranty and requirements are not this seller's.
        let owed_here = layer.binds != Some(false);
        if let Some(w) = &policy.warranty {
            let claimed_class = class_id().and_then(|id| match facts.get(id) {
                Some(Value::Enum(_, i)) => Some(*i),
                _ => None,
            });
            for (ci, c) in w.components.iter().enumerate() {
                let starts = c.start.as_deref().unwrap_or(&w.start);
                let mut a = Assessment {
                    layer: index,
                    component: u16::try_from(ci).unwrap_or(u16::MAX),
                    claimed: claimed_class.is_some_and(|k| c.classes & (1u64 << k) != 0),
                    covered: c.covered,
                    start: None,
                    start_rule: None,
                    end: None,
                    in_warranty: if c.covered { None } else { Some(false) },
                    pending_on: FactList::new(),
                };
                if c.covered {
                    let cx = self.cx(&layer, facts);
                    pick_start(starts, &cx, &mut a);
                    a.end = match (a.start, c.period) {
                        (Some(s), Some(p)) => p.add_to(s, 1),
                        _ => None,
                    };
                    a.in_warranty = a.end.map(|e| self.claim <= e);
                }
                if a.claimed {
                    layer.warranty = WarrantyView {
                        start: a.start,
                        end: a.end,
                        covered: Some(c.covered),
                        basis: a
                            .start_rule
                            .and_then(|i| starts.get(usize::from(i)))
                            .map(|s| s.basis),
                    };
                    layer.warranty_unknowns = a.pending_on.clone();
                }
                if owed_here {
                    self.warranty.push(a);
                }
            }
            if claimed_class.is_none() {
                layer.warranty_unknowns.extend(class_id());
            }
        }
        // The warranty view is final now: the shared atoms can be evaluated, once each.
        let mut atoms = Atoms::default();
        {
            let cx = make_cx(&self.resolved, self.today, self.claim, &layer, facts);
            for (i, leaf) in (0u32..).zip(&policy.leaves) {
                atoms.set(i, leaf.eval(&cx));
            }
        }
        layer.atoms = atoms;
        let cx = make_cx(&self.resolved, self.today, self.claim, &layer, facts);
        let mut verdicts: crate::decision::Verdicts = vec![Some(true); policy.rules.len()];
        for (v, r) in verdicts.iter_mut().zip(&policy.rules) {
            if let Some(c) = &r.when {
                *v = c.eval(&cx);
            }
        }
        // Requirements not met.
        for &ri in policy.index.all_requires.iter().filter(|_| owed_here) {
            if let Some(Action::Require { test, remedies, .. }) =
                policy.rules.get(usize::from(ri)).map(|r| &r.action)
                && verdicts.get(usize::from(ri)) == Some(&Some(true))
                && test.eval(&cx) != Some(true)
            {
                self.missing.push(Missing {
                    at: RuleRef {
                        layer: index,
                        rule: ri,
                    },
                    remedies: *remedies,
                });
            }
        }
        layer.verdicts = verdicts;
        self.layers.push(layer);
    }

    /// One layer's outcome for `out.remedy`, written into `out` (fresh: not offered, nothing
    /// cited); `unmet` also cites allow rules that do not hold.
    fn layer_outcome(&self, li: u8, unmet: bool, facts: &Facts, out: &mut RemedyOutcome) {
        let remedy = out.remedy;
        let Some(layer) = self.layers.get(usize::from(li)) else {
            return;
        };
        if layer.applies == Some(false) {
            return;
        }
        let bit = remedy.bit();
        // Each rule touching this remedy, with whether it allows, and its verdict.
        let touching = || {
            layer
                .policy
                .index
                .verdicts_for(remedy)
                .iter()
                .map(|&(ri, is_allow)| {
                    (
                        ri,
                        is_allow,
                        layer.verdicts.get(usize::from(ri)).copied().flatten(),
                    )
                })
        };
        let (mut allow_t, mut allow_u, mut allow_f, mut deny_t, mut deny_u) =
            (false, false, false, false, false);
        for (_, is_allow, v) in touching() {
            match (is_allow, v) {
                (true, Some(true)) => allow_t = true,
                (true, None) => allow_u = true,
                (true, Some(false)) => allow_f = true,
                (false, Some(true)) => deny_t = true,
                (false, None) => deny_u = true,
                (false, Some(false)) => {}
            }
        }
        let at = |ri: u16| RuleRef {
            layer: li,
            rule: ri,
        };
        // Cites, in rule order, the rules touching this remedy for which `pick` holds.
        let cite_where =
            |out: &mut RemedyOutcome, pick: &dyn Fn(bool, Option<bool>) -> Option<Role>| {
                for (ri, is_allow, v) in touching() {
                    if let Some(role) = pick(is_allow, v) {
                        out.citations.push(Citation { at: at(ri), role });
                    }
                }
            };
        if deny_t {
            out.status = Status::Denied;
            cite_where(out, &|a, v| match (a, v) {
                (false, Some(true)) => Some(Role::Denies),
                (true, Some(true)) => Some(Role::Allows),
                (true, Some(false)) if unmet && !allow_t => Some(Role::Unmet),
                _ => None,
            });
            return;
        }
        if allow_t || allow_u {
            // An allow that holds makes undecided allows irrelevant; undecided denies still matter.
            cite_where(out, &|a, v| match (a, v) {
                (true, Some(true)) => Some(Role::Allows),
                (false, None) => Some(Role::Undecided),
                (true, None) if !allow_t => Some(Role::Undecided),
                _ => None,
            });
            out.missing.extend(
                self.missing
                    .iter()
                    .enumerate()
                    .filter(|(_, m)| m.at.layer == li && m.remedies & bit != 0)
                    .map(|(i, _)| i),
            );
            let requires = layer.policy.index.requires_for(remedy);
            for &ri in requires {
                if layer.verdicts.get(usize::from(ri)) == Some(&Some(true)) {
                    let met = !self.missing.iter().any(|m| m.at == at(ri));
                    out.citations.push(Citation {
                        at: at(ri),
                        role: if met { Role::Satisfied } else { Role::Requires },
                    });
                }
            }
            let undecided = deny_u || !allow_t;
            if !undecided && out.missing.is_empty() {
                out.status = Status::Allowed;
            } else {
                out.status = Status::Pending;
                // The facts it waits for explain it; an outcome-only decision still needs
                // them where the seller's offer waits for documents, since whether it waits
                // for anything else decides the laws' `allowed()`.
                if self.detail == Detail::Outcomes && (li != 0 || out.missing.is_empty()) {
                    return;
                }
                let cx = self.cx(layer, facts);
                for c in out.citations.iter().filter(|c| c.role == Role::Undecided) {
                    if let Some(w) = layer
                        .policy
                        .rules
                        .get(usize::from(c.at.rule))
                        .and_then(|r| r.when.as_ref())
                    {
                        w.unknown_facts(&cx, &mut out.pending_on);
                    }
                }
            }
            return;
        }
        if allow_f {
            out.status = Status::Denied;
            cite_where(out, &|a, v| (a && v == Some(false)).then_some(Role::Unmet));
        } else if deny_u {
            // Only deny rules speak of it, and they are undecided: it is not offered anyway.
            cite_where(out, &|a, v| (!a && v.is_none()).then_some(Role::Undecided));
        }
    }

    /// Folds the law layers into the seller's outcome for one remedy; `law` is scratch space
    /// for each law layer's own outcome.
    fn apply_laws(&self, out: &mut RemedyOutcome, law: &mut RemedyOutcome, facts: &Facts) {
        let remedy = out.remedy;
        for li in 1..self.layers.len() {
            let Ok(li) = u8::try_from(li) else { break };
            let Some(layer) = self.layers.get(usize::from(li)) else {
                break;
            };
            // A law that says nothing of this remedy (not offered) leaves the outcome as it is.
            if layer.applies == Some(false) || layer.policy.index.considered & remedy.bit() == 0 {
                continue;
            }
            law.reset(remedy);
            // Unmet law grants are never cited (see below), so do not collect them.
            self.layer_outcome(li, false, facts, law);
            if layer.binds == Some(false) {
                // The law gives this consumer the remedy against the trader who sold the
                // goods, not against this seller: cite it as such where this seller does
                // not grant it anyway.
                if matches!(law.status, Status::Allowed | Status::Pending)
                    && out.status != Status::Allowed
                {
                    let grants = law.citations.iter().filter(|c| {
                        matches!(c.role, Role::Allows | Role::Undecided)
                            && matches!(self.rule(c.at), Some((_, r)) if matches!(r.action, Action::Allow(_)))
                    });
                    out.citations.extend(grants.map(|c| Citation {
                        at: c.at,
                        role: Role::NotBinding,
                    }));
                }
                continue;
            }
            let law_applies = layer.in_force() == Some(true);
            match (law.status, out.status) {
                (_, Status::Allowed) if !out.by_law => {}
                (Status::Allowed, _) if law_applies => {
                    out.status = Status::Allowed;
                    out.by_law = true;
                    out.pending_on.clear();
                    out.missing.clear();
                    out.citations
                        // Keep what the seller waited for: it is why the law was needed.
                        .retain(|c| c.role != Role::Requires);
                    out.citations.extend(law.citations.iter().map(|c| Citation {
                        at: c.at,
                        role: if c.role == Role::Allows {
                            Role::Prevails
                        } else {
                            c.role
                        },
                    }));
                }
                (
                    Status::Allowed | Status::Pending,
                    Status::Denied | Status::NotOffered | Status::Pending,
                ) => {
                    if out.status != Status::Pending {
                        out.by_law = true;
                    }
                    out.status = Status::Pending;
                    out.citations.extend(law.citations.iter().copied());
                    for f in &law.pending_on {
                        if !out.pending_on.contains(f) {
                            out.pending_on.push(*f);
                        }
                    }
                    if !law_applies && self.detail == Detail::Full {
                        let cx = self.cx(layer, facts);
                        for (c, v) in [
                            (&layer.policy.applies, layer.applies),
                            (&layer.policy.binds, layer.binds),
                        ] {
                            if let (Some(c), None) = (c, v) {
                                c.expr.unknown_facts(&cx, &mut out.pending_on);
                            }
                        }
                    }
                    out.missing.extend(law.missing.iter().copied());
                }
                (Status::Denied, Status::Denied | Status::NotOffered) if law_applies => {
                    // A law exception that holds is worth citing; unmet law grants are not.
                    let before = out.citations.len();
                    out.citations.extend(
                        law.citations
                            .iter()
                            .filter(|c| c.role == Role::Denies)
                            .copied(),
                    );
                    if out.citations.len() > before {
                        out.status = Status::Denied;
                    }
                }
                _ => {}
            }
        }
    }

    /// A document is missing for the remedies that wait for it, and only while one does: not
    /// for a remedy denied whatever is supplied, nor for one a law layer grants, since a seller's
    /// requirement cannot condition a right the law gives (CryptKi 8's photos and a withdrawal
    /// under CRD 9(1), "without giving any reason"). Each requirement keeps the remedies whose
    /// outcome still lists it; one that no remedy waits for is dropped.
    fn keep_missing_that_remedies_wait_for(&mut self) {
        let mut waiting = vec![0u16; self.missing.len()];
        for r in &self.remedies {
            for &i in &r.missing {
                if let Some(w) = waiting.get_mut(i) {
                    *w |= r.remedy.bit();
                }
            }
        }
        if waiting
            .iter()
            .zip(&self.missing)
            .all(|(w, m)| *w == m.remedies)
        {
            return;
        }
        // Where each kept requirement moves to, for the remedies' indexes into the list.
        let mut moved: Vec<Option<usize>> = Vec::with_capacity(waiting.len());
        let mut kept = Vec::with_capacity(waiting.len());
        for (m, w) in self.missing.iter().zip(&waiting) {
            if *w == 0 {
                moved.push(None);
            } else {
                moved.push(Some(kept.len()));
                kept.push(Missing {
                    at: m.at,
                    remedies: *w,
                });
            }
        }
        self.missing = kept;
        for r in &mut self.remedies {
            r.missing = r
                .missing
                .iter()
                .filter_map(|i| moved.get(*i).copied().flatten())
                .collect();
        }
    }

    fn decide_outputs(&mut self, facts: &Facts) {
        // Layer by layer, so that each layer's environment is made once; each result is
        // written where it stays.
        let mut outputs = std::mem::take(&mut self.outputs);
        let full = self.detail == Detail::Full;
        let wanted: &[Output] = if full { &Output::ALL } else { &REFUND_OUTPUTS };
        for (li, layer) in self.layers.iter().enumerate() {
            if layer.in_force() != Some(true) {
                continue;
            }
            let cx = self.cx(layer, facts);
            for &output in wanted {
                let Some((at, rule, set)) = first_set(layer, output, li) else {
                    continue;
                };
                let mut pending_on = FactList::new();
                let value = if layer.verdicts.get(usize::from(at.rule)) == Some(&Some(true)) {
                    let value = set.expr.eval(&cx);
                    if value.is_none() && full {
                        set.expr.unknown_facts(&cx, &mut pending_on);
                    }
                    value
                } else {
                    if let Some(c) = rule.when.as_ref().filter(|_| full) {
                        c.unknown_facts(&cx, &mut pending_on);
                    }
                    None
                };
                let result = OutputResult {
                    output,
                    value,
                    by: Some(at),
                    overridden: None,
                    agrees: false,
                    pending_on,
                };
                match outputs.iter_mut().find(|r| r.output == output) {
                    None => outputs.push(result),
                    // A law layer's decided value overrides the seller's.
                    Some(prev) if result.value.is_some() => {
                        *prev = OutputResult {
                            overridden: prev.by,
                            agrees: prev.value == result.value,
                            ..result
                        };
                    }
                    Some(_) => {}
                }
            }
        }
        outputs.sort_unstable_by_key(|r| r.output as u8);
        self.outputs = outputs;
    }

    fn decide_deadlines(&mut self, facts: &Facts) {
        let tz = self.policy.tz();
        let mut found: Vec<DeadlineResult> = Vec::with_capacity(
            self.layers
                .iter()
                .map(|l| l.policy.index.deadlines.len())
                .sum(),
        );
        for (li, layer) in self.layers.iter().enumerate() {
            if layer.in_force() != Some(true) {
                continue;
            }
            let cx = self.cx(layer, facts);
            for &ri in &layer.policy.index.deadlines {
                let ri = usize::from(ri);
                let Some(r) = layer.policy.rules.get(ri) else {
                    continue;
                };
                let Action::Deadline {
                    name,
                    from,
                    from_fact,
                    within,
                    ..
                } = &r.action
                else {
                    continue;
                };
                if layer.verdicts.get(ri) != Some(&Some(true)) {
                    continue;
                }
                let at = RuleRef {
                    layer: u8::try_from(li).unwrap_or(u8::MAX),
                    rule: u16::try_from(ri).unwrap_or(u16::MAX),
                };
                let due = match within.unit {
                    Unit::Hour => {
                        let instant = from_fact.and_then(|id| match facts.when(id) {
                            Some(When::Instant(t)) => Some(t),
                            _ => None,
                        });
                        let start = instant.or_else(|| start_of_day(from.eval_date(&cx)?, tz));
                        start.and_then(|s| {
                            let until = s.checked_add(i64::from(within.n).hours()).ok()?;
                            Some(Due {
                                last_day: self.policy.day_of(until),
                                at: Some(until),
                            })
                        })
                    }
                    _ => from
                        .eval_date(&cx)
                        .and_then(|d| within.add_to(d, 1))
                        .map(|last| Due {
                            last_day: last,
                            at: None,
                        }),
                };
                let new = DeadlineResult {
                    name: *name,
                    at,
                    overridden: None,
                    due,
                };
                match found.iter_mut().find(|d| d.name == *name) {
                    None => found.push(new),
                    // Within a layer the first rule wins; a law layer's deadline overrides.
                    Some(prev) if prev.at.layer < at.layer => {
                        *prev = DeadlineResult {
                            overridden: Some(prev.at),
                            ..new
                        };
                    }
                    Some(_) => {}
                }
            }
        }
        self.deadlines = found;
    }

    fn collect_flags_and_notices(&mut self) {
        let holds =
            |layer: &Layer<'_>, ri: u16| layer.verdicts.get(usize::from(ri)) == Some(&Some(true));
        for (li, layer) in self.layers.iter().enumerate() {
            if layer.in_force() != Some(true) {
                continue;
            }
            let li = u8::try_from(li).unwrap_or(u8::MAX);
            let ix = &layer.policy.index;
            self.flags.extend(
                ix.flags
                    .iter()
                    .filter(|ri| holds(layer, **ri))
                    .map(|ri| RuleRef {
                        layer: li,
                        rule: *ri,
                    }),
            );
            self.notices
                .extend(
                    ix.notices
                        .iter()
                        .filter(|ri| holds(layer, **ri))
                        .map(|ri| RuleRef {
                            layer: li,
                            rule: *ri,
                        }),
                );
        }
    }

    fn decide_refund(&mut self, facts: &Facts) {
        let refunding = self
            .remedies
            .iter()
            .any(|r| r.remedy.refunds() && matches!(r.status, Status::Allowed | Status::Pending));
        let money = |id: Option<FactId>| match id.and_then(|id| facts.get(id)) {
            Some(Value::Money(m)) => Some(*m),
            _ => None,
        };
        let (true, Some(price)) = (refunding, money(schema::KNOWN.price)) else {
            return;
        };
        let flag = |o: Output| {
            self.output(o)
                .and_then(|r| r.value.as_ref())
                .is_some_and(|v| *v == Value::Bool(true))
        };
        let proportional = if flag(Output::RefundProportional) {
            match schema::KNOWN
                .fraction_delivered
                .and_then(|id| facts.get(id))
            {
                Some(Value::Fraction(f)) => Some(*f),
                _ => None,
            }
        } else {
            None
        };
        let base = proportional.map_or(price, |f| price.scale(f.complement()));
        let shipping = if flag(Output::RefundShipping) {
            money(schema::KNOWN.shipping_fee)
        } else {
            None
        };
        let amount = Money {
            minor: base.minor.saturating_add(shipping.map_or(0, |s| s.minor)),
            currency: price.currency,
        };
        self.refund = Some(Refund {
            amount,
            price,
            shipping,
            proportional,
        });
    }

    /// The facts an expression of a layer needs, for explanations.
    pub fn unknown_facts_of(&self, layer: u8, expr: &Expr, facts: &Facts) -> FactList {
        let mut out = FactList::new();
        if let Some(l) = self.layers.get(usize::from(layer)) {
            expr.unknown_facts(&self.cx(l, facts), &mut out);
        }
        out
    }

    /// Each rule's verdict (and each requirement's test) worked out again by walking its
    /// expression as written, instead of through the compiled masks over shared leaves: the
    /// two evaluators must agree (a property test checks it over random facts). Returns
    /// (layer, rule, compiled, walked) for every condition.
    pub fn walked_verdicts(&self, facts: &Facts) -> Vec<(u8, u16, Option<bool>, Option<bool>)> {
        let walk = |c: &Cond, cx: &Cx<'_>| {
            crate::expr::kleene(false, c.parts.iter().map(|(e, _)| e.eval_bool(cx)))
        };
        let mut out = Vec::new();
        for (li, layer) in self.layers.iter().enumerate() {
            if layer.applies == Some(false) {
                continue;
            }
            let cx = self.cx(layer, facts);
            let li = u8::try_from(li).unwrap_or(u8::MAX);
            for (ri, r) in layer.policy.rules.iter().enumerate() {
                let ri = u16::try_from(ri).unwrap_or(u16::MAX);
                if let Some(c) = &r.when {
                    let compiled = layer.verdicts.get(usize::from(ri)).copied().flatten();
                    out.push((li, ri, compiled, walk(c, &cx)));
                }
                if let Action::Require { test, .. } = &r.action {
                    out.push((li, ri, test.eval(&cx), walk(test, &cx)));
                }
            }
        }
        out
    }

    /// The parts of a condition that are false, for explaining an unmet rule.
    pub fn failed_parts<'c>(&self, layer: u8, cond: &'c Cond, facts: &Facts) -> Vec<&'c str> {
        let Some(l) = self.layers.get(usize::from(layer)) else {
            return Vec::new();
        };
        let cx = self.cx(l, facts);
        cond.parts
            .iter()
            .filter(|(e, _)| e.eval_bool(&cx) == Some(false))
            .map(|(_, t)| t.as_str())
            .collect()
    }
}

fn make_cx<'a>(
    resolved: &'a [(FactId, Date)],
    today: Date,
    claim: Date,
    layer: &'a Layer<'_>,
    facts: &'a Facts,
) -> Cx<'a> {
    Cx {
        facts,
        tz: layer.policy.tz(),
        resolved,
        today,
        claim,
        warranty: layer.warranty,
        warranty_unknowns: &layer.warranty_unknowns,
        seller_allowed: layer.seller_allowed,
        atoms: layer.atoms,
        leaves: &layer.policy.leaves,
    }
}

fn pick_start(starts: &[StartRule], cx: &Cx<'_>, a: &mut Assessment) {
    for (i, s) in starts.iter().enumerate() {
        let holds = s.when.as_ref().map_or(Some(true), |c| c.expr.eval_bool(cx));
        match holds {
            Some(false) => continue,
            None => {
                if let Some(c) = &s.when {
                    c.expr.unknown_facts(cx, &mut a.pending_on);
                }
                return;
            }
            Some(true) => {
                match s.from.eval_date(cx) {
                    Some(d) => {
                        a.start = Some(d);
                        a.start_rule = u16::try_from(i).ok();
                    }
                    None => s.from.unknown_facts(cx, &mut a.pending_on),
                }
                return;
            }
        }
    }
}

/// The first rule of a layer that sets `output` and holds or is undecided (a later one
/// cannot be known to apply), with the setting itself.
fn first_set<'p>(
    layer: &Layer<'p>,
    output: Output,
    li: usize,
) -> Option<(RuleRef, &'p crate::model::Rule, &'p crate::model::SetOutput)> {
    for &ri in layer.policy.index.sets_for(output) {
        if layer.verdicts.get(usize::from(ri)) == Some(&Some(false)) {
            continue;
        }
        let Some(r) = layer.policy.rules.get(usize::from(ri)) else {
            continue;
        };
        let Action::Set(outs) = &r.action else {
            continue;
        };
        let Some(o) = outs.iter().find(|o| o.output == output) else {
            continue;
        };
        let at = RuleRef {
            layer: u8::try_from(li).unwrap_or(u8::MAX),
            rule: ri,
        };
        return Some((at, r, o));
    }
    None
}
