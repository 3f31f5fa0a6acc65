//! Static checks on a compiled policy: rules that can never apply, rules shadowed by an
//! earlier one, allow and deny of one remedy under the same condition, unused clauses.

use std::collections::HashMap;

use crate::diag::{Diagnostic, Severity, Source, WithHint};
use crate::expr::Expr;
use crate::expr::syntax::CmpOp;
use crate::model::{Action, Cond, Policy, Rule, remedies};
use crate::schema::{self, FactId, Type};
use crate::value::Value;

pub fn lint(p: &Policy, src: &Source<'_>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let at = |sev: Severity, line: usize, msg: String| src.at_line(sev, line, msg);

    for r in &p.rules {
        if let Some(c) = &r.when
            && let Some(why) = never(c)
        {
            out.push(at(
                Severity::Error,
                r.line,
                format!("rule `{}` can never apply: {why}", r.id),
            ));
        }
        if let Action::Require { test, .. } = &r.action
            && let Some(why) = never(test)
        {
            out.push(at(
                Severity::Error,
                r.line,
                format!("the requirement of rule `{}` can never be met: {why}", r.id),
            ));
        }
    }

    // First match wins per output: a rule after an unconditional one, or after one with the
    // same condition, is dead.
    let mut seen_outputs: HashMap<schema::Output, Vec<&Rule>> = HashMap::new();
    let mut seen_deadlines: HashMap<schema::DeadlineName, Vec<&Rule>> = HashMap::new();
    for r in &p.rules {
        match &r.action {
            Action::Set(outs) => {
                for o in outs {
                    let earlier = seen_outputs.entry(o.output).or_default();
                    if let Some(e) = earlier.iter().find(|e| shadows(e, r)) {
                        out.push(
                            at(Severity::Error, r.line, format!(
                                "rule `{}` can never decide `{}`: rule `{}` (line {}) comes first and applies whenever this one does",
                                r.id, o.output.name(), e.id, e.line
                            ))
                            .hint("put the more specific rule first"),
                        );
                    }
                    earlier.push(r);
                }
            }
            Action::Deadline { name, .. } => {
                let earlier = seen_deadlines.entry(*name).or_default();
                if let Some(e) = earlier.iter().find(|e| shadows(e, r)) {
                    out.push(at(Severity::Error, r.line, format!(
                        "rule `{}` can never set `{}`: rule `{}` (line {}) comes first under the same condition",
                        r.id, name.name(), e.id, e.line
                    )));
                }
                earlier.push(r);
            }
            _ => {}
        }
    }

    // Allow and deny of one remedy under one condition contradict each other.
    for a in &p.rules {
        let Action::Allow(am) = a.action else {
            continue;
        };
        for b in &p.rules {
            let Action::Deny(dm) = b.action else { continue };
            let both = am & dm;
            if both != 0 && same_when(a, b) {
                let names: Vec<&str> = remedies(both).map(|r| r.name()).collect();
                out.push(
                    at(Severity::Error, b.line, format!(
                        "rule `{}` denies {} under exactly the condition rule `{}` (line {}) allows it",
                        b.id, names.join(", "), a.id, a.line
                    ))
                    .hint("one of the two conditions is missing a part"),
                );
            }
        }
    }

    // Identical rules.
    for (i, a) in p.rules.iter().enumerate() {
        for b in p.rules.iter().skip(i + 1) {
            if a.clause == b.clause && same_when(a, b) && same_action(&a.action, &b.action) {
                out.push(at(
                    Severity::Warning,
                    b.line,
                    format!("rule `{}` repeats rule `{}` (line {})", b.id, a.id, a.line),
                ));
            }
        }
    }

    if let Some(w) = &p.warranty {
        let lists =
            std::iter::once(&w.start).chain(w.components.iter().filter_map(|c| c.start.as_ref()));
        for list in lists {
            if let Some(pos) = list.iter().position(|s| s.when.is_none())
                && let Some(next) = list.get(pos + 1)
            {
                let clause = p.clause(next.clause).map_or("?", |c| c.id.as_str());
                out.push(src.at_line(Severity::Error, find_line(src, "start"), format!(
                    "warranty start entry {} (clause `{clause}`) can never be chosen: entry {} has no `when` and always wins",
                    pos + 2, pos + 1
                )));
            }
        }
    }

    let mut used = vec![false; p.clauses.len()];
    let mut mark = |i: u16| {
        if let Some(u) = used.get_mut(usize::from(i)) {
            *u = true;
        }
    };
    p.rules.iter().for_each(|r| mark(r.clause));
    if let Some(w) = &p.warranty {
        w.start.iter().for_each(|s| mark(s.clause));
        for c in &w.components {
            mark(c.clause);
            c.start.iter().flatten().for_each(|s| mark(s.clause));
        }
    }
    for (c, u) in p.clauses.iter().zip(used) {
        if !u {
            let line = find_line(src, &format!("\"{}\"", c.id));
            out.push(
                src.at_line(
                    Severity::Warning,
                    line,
                    format!(
                        "clause `{}` is used by no rule, so no decision can cite it",
                        c.id
                    ),
                )
                .hint("add a rule for it (a `notice = true` rule for instructions)"),
            );
        }
    }
    out
}

fn find_line(src: &Source<'_>, needle: &str) -> usize {
    src.text
        .lines()
        .position(|l| l.contains(needle))
        .map_or(1, |i| i + 1)
}

fn same_when(a: &Rule, b: &Rule) -> bool {
    match (&a.when, &b.when) {
        (None, None) => true,
        (Some(x), Some(y)) => x.expr == y.expr,
        _ => false,
    }
}

/// `earlier` applies whenever `later` does.
fn shadows(earlier: &Rule, later: &Rule) -> bool {
    match (&earlier.when, &later.when) {
        (None, _) => true,
        (Some(e), Some(l)) => {
            e.expr == l.expr || {
                // Every part of the earlier condition is also part of the later one.
                let lp: Vec<&Expr> = l.parts.iter().map(|(e, _)| e).collect();
                e.parts.iter().all(|(x, _)| lp.contains(&x))
            }
        }
        (Some(_), None) => false,
    }
}

fn same_action(a: &Action, b: &Action) -> bool {
    match (a, b) {
        (Action::Allow(x), Action::Allow(y)) | (Action::Deny(x), Action::Deny(y)) => x == y,
        (Action::Flag(x), Action::Flag(y)) => x == y,
        (Action::Notice, Action::Notice) => true,
        _ => false,
    }
}

/// Why a condition can never hold, if it visibly cannot.
fn never(c: &Cond) -> Option<String> {
    // A part that is false because of a parameter is a switch, not a mistake.
    if c.parts
        .iter()
        .any(|(e, t)| matches!(e, Expr::Const(Value::Bool(false))) && !t.contains("params."))
    {
        return Some("it is always false".to_string());
    }
    let mut atoms = Vec::new();
    conjuncts(&c.expr, &mut atoms);
    // Possible values per fact: a bitmask over enum variants, or over {false, true}.
    let mut possible: HashMap<FactId, u64> = HashMap::new();
    for a in atoms {
        let Some((id, mask)) = constraint(a) else {
            continue;
        };
        let all = match schema::fact(id).ty {
            Type::Bool => 0b11,
            Type::Enum(k) => (1u64 << k.variants().len()) - 1,
            _ => continue,
        };
        let p = possible.entry(id).or_insert(all);
        *p &= mask;
        if *p == 0 {
            return Some(format!(
                "it asks contradictory things of `{}`",
                schema::fact(id).path
            ));
        }
    }
    None
}

fn conjuncts<'a>(e: &'a Expr, out: &mut Vec<&'a Expr>) {
    match e {
        Expr::And(items) => items.iter().for_each(|i| conjuncts(i, out)),
        other => out.push(other),
    }
}

/// The values of one fact an atom allows, as a mask.
fn constraint(e: &Expr) -> Option<(FactId, u64)> {
    let bool_mask = |b: bool| if b { 0b10 } else { 0b01 };
    match e {
        Expr::Fact(id) if schema::fact(*id).ty == Type::Bool => Some((*id, bool_mask(true))),
        Expr::Not(inner) => {
            let (id, m) = constraint(inner)?;
            let all = match schema::fact(id).ty {
                Type::Bool => 0b11,
                Type::Enum(k) => (1u64 << k.variants().len()) - 1,
                _ => return None,
            };
            Some((id, all & !m))
        }
        Expr::Cmp(op @ (CmpOp::Eq | CmpOp::Ne), a, b) => {
            let (id, v) = match (&**a, &**b) {
                (Expr::Fact(id), Expr::Const(v)) | (Expr::Const(v), Expr::Fact(id)) => (*id, v),
                _ => return None,
            };
            let (m, all) = match v {
                Value::Bool(x) => (bool_mask(*x), 0b11),
                Value::Enum(k, i) => (1u64 << i, (1u64 << k.variants().len()) - 1),
                _ => return None,
            };
            Some((id, if *op == CmpOp::Eq { m } else { all & !m }))
        }
        Expr::EnumIn(inner, mask) => match &**inner {
            Expr::Fact(id) => Some((*id, *mask)),
            _ => None,
        },
        _ => None,
    }
}
