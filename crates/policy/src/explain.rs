//! A decision in plain language: per remedy, the answer and the clause words that decided it.

use std::fmt::Write;

use crate::decide::{Citation, Decision, Role, Status};
use crate::facts::Facts;
use crate::model::{Action, Policy, remedies};
use crate::schema::{self, FactId};

/// Longest clause quotation before it is cut with an ellipsis.
const QUOTE: usize = 240;

/// What an explanation shows beyond the decision itself.
#[derive(Clone, Copy, Debug, Default)]
pub struct ExplainOptions {
    /// Also list remedies the policy never offers.
    pub all: bool,
    /// Also say what each named definition the cited rules use stands for.
    pub meanings: bool,
}

impl Decision<'_> {
    /// Explains the decision for a person.
    pub fn explain(&self, facts: &Facts, options: ExplainOptions) -> String {
        let all = options.all;
        let mut s = String::new();
        let mut quoted: Vec<(u8, u16)> = Vec::new();
        let p = self.policy;
        let _ = writeln!(
            s,
            "{} {} ({}), decided {} ({})",
            p.title, p.version, p.id, self.today, p.time_zone
        );
        if self.claim != self.today {
            let _ = writeln!(s, "Claim made on {}", self.claim);
        }
        for (li, l) in self.layers.iter().enumerate().skip(1) {
            let state = match (l.applies, l.binds) {
                (Some(false), _) => "does not apply".to_string(),
                (None, _) => "may apply (facts missing)".to_string(),
                (Some(true), Some(true)) => "applies".to_string(),
                (Some(true), None) => format!(
                    "applies; whether it binds {} depends on facts not known yet",
                    seller_name(p)
                ),
                (Some(true), Some(false)) => {
                    let failed = l.policy.binds.as_ref().map_or_else(Vec::new, |b| {
                        self.failed_parts(u8::try_from(li).unwrap_or(u8::MAX), b, facts)
                    });
                    format!(
                        "applies to this buyer but does not bind {who}: {who} did not sell \
                         these goods to this consumer (not met: {}). The rights it gives are \
                         owed by the trader who sold them.",
                        failed.join("; "),
                        who = seller_name(p)
                    )
                }
            };
            let _ = writeln!(s, "Law: {} {state}", l.policy.title);
        }
        for r in &self.remedies {
            let elsewhere = r.citations.iter().any(|c| c.role == Role::NotBinding);
            if r.status == Status::NotOffered && !all && !elsewhere {
                continue;
            }
            let verdict = match (r.status, r.by_law) {
                (Status::Allowed, false) => "YES".to_string(),
                (Status::Allowed, true) => "YES, by law".to_string(),
                (Status::Pending, _) => "NOT YET DECIDED".to_string(),
                (Status::Denied, _) => "NO".to_string(),
                (Status::NotOffered, _) if elsewhere => format!(
                    "NOT OFFERED by {}; the law gives it against the trader who sold the goods",
                    seller_name(p)
                ),
                (Status::NotOffered, _) => "NOT OFFERED".to_string(),
            };
            let _ = writeln!(s, "\n{}: {verdict}", r.remedy.label());
            let mut shown: Vec<(u8, u16, Role)> = Vec::new();
            for c in &r.citations {
                // One line per clause and role: several rules of one clause say one thing.
                let Some((_, rule)) = self.rule(c.at) else {
                    continue;
                };
                let key = (c.at.layer, rule.clause, c.role);
                if shown.contains(&key) {
                    continue;
                }
                shown.push(key);
                self.explain_citation(&mut s, c, facts, &mut quoted);
            }
            if !r.pending_on.is_empty() {
                let names: Vec<String> = r.pending_on.iter().map(|id| fact_words(*id)).collect();
                let _ = writeln!(s, "    Waiting for: {}", names.join("; "));
            }
            for m in r.missing.iter().filter_map(|i| self.missing.get(*i)) {
                if let Some((_, rule)) = self.rule(m.at)
                    && let Action::Require { label, .. } = &rule.action
                {
                    let _ = writeln!(s, "    Still needed: {label}");
                }
            }
        }

        if !self.warranty.is_empty() {
            let _ = writeln!(s, "\nWarranty");
            for a in &self.warranty {
                let Some(lp) = self.layer_policy(a.layer) else {
                    continue;
                };
                let Some(w) = &lp.warranty else { continue };
                let Some(c) = w.components.get(usize::from(a.component)) else {
                    continue;
                };
                let claimed = if a.claimed { " (the item claimed)" } else { "" };
                let cid = clause_name(lp, c.clause);
                if !a.covered {
                    let _ = writeln!(s, "  {}{claimed}: not covered [{cid}]", c.name);
                    continue;
                }
                let starts = c.start.as_deref().unwrap_or(&w.start);
                match (
                    a.start,
                    a.end,
                    a.start_rule.and_then(|i| starts.get(usize::from(i))),
                ) {
                    (Some(st), Some(end), Some(rule)) => {
                        let state = if a.in_warranty == Some(true) {
                            "in warranty"
                        } else {
                            "expired"
                        };
                        let _ = writeln!(
                            s,
                            "  {}{claimed}: {st} to {end}, {state} [{cid}]; starts from {} ({}) [{}]",
                            c.name,
                            rule.from_text,
                            schema::EnumKind::Basis.variant(rule.basis),
                            clause_name(lp, rule.clause)
                        );
                    }
                    _ => {
                        let names: Vec<String> =
                            a.pending_on.iter().map(|id| fact_words(*id)).collect();
                        let _ = writeln!(
                            s,
                            "  {}{claimed}: cannot be dated yet; needs {} [{cid}]",
                            c.name,
                            names.join("; ")
                        );
                    }
                }
            }
        }

        let freight: Vec<String> = self
            .outputs
            .iter()
            .filter(|o| o.output.name().starts_with("freight."))
            .map(|o| self.output_words(o))
            .collect();
        if !freight.is_empty() {
            let _ = writeln!(s, "\nFreight");
            for f in freight {
                let _ = writeln!(s, "  {f}");
            }
        }
        if let Some(r) = &self.refund {
            let _ = writeln!(s, "\nMoney");
            let mut line = format!("  Refund: {} (price {}", r.amount, r.price);
            if let Some(f) = r.proportional {
                let _ = write!(line, ", less the {f} of the service already provided");
            }
            if let Some(sh) = r.shipping {
                let _ = write!(line, ", plus delivery {sh}");
            }
            line.push(')');
            let _ = writeln!(s, "{line}");
        }
        let other: Vec<String> = self
            .outputs
            .iter()
            .filter(|o| !o.output.name().starts_with("freight."))
            .map(|o| self.output_words(o))
            .collect();
        for o in other {
            let _ = writeln!(s, "  {o}");
        }

        if !self.missing.is_empty() {
            let _ = writeln!(s, "\nMissing documents and evidence");
            for m in &self.missing {
                if let Some((lp, rule)) = self.rule(m.at)
                    && let Action::Require { label, .. } = &rule.action
                {
                    let names: Vec<&str> = remedies(m.remedies).map(|r| r.name()).collect();
                    let _ = writeln!(
                        s,
                        "  {label} (for {}) [{}]",
                        names.join(", "),
                        clause_name(lp, rule.clause)
                    );
                }
            }
        }
        if !self.deadlines.is_empty() {
            let _ = writeln!(s, "\nDeadlines");
            for d in &self.deadlines {
                let Some((lp, rule)) = self.rule(d.at) else {
                    continue;
                };
                let Action::Deadline {
                    from_text, within, ..
                } = &rule.action
                else {
                    continue;
                };
                let when = match d.due {
                    Some(due) if within.unit == crate::value::Unit::Hour => due
                        .until(p.tz())
                        .map_or_else(String::new, |t| t.to_string()),
                    Some(due) => format!("end of {}", due.last_day),
                    None => format!("{within} after {from_text}, once that is known"),
                };
                let _ = writeln!(
                    s,
                    "  {}: {when} [{}]",
                    d.name.label(),
                    clause_name(lp, rule.clause)
                );
            }
        }
        if !self.flags.is_empty() {
            let _ = writeln!(s, "\nFor staff");
            for at in &self.flags {
                if let Some((lp, rule)) = self.rule(*at)
                    && let Action::Flag(name) = &rule.action
                {
                    let note = rule
                        .note
                        .as_deref()
                        .map(|n| format!(": {n}"))
                        .unwrap_or_default();
                    let _ = writeln!(s, "  {name}{note} [{}]", clause_name(lp, rule.clause));
                }
            }
        }
        if options.meanings {
            self.explain_meanings(&mut s);
        }
        if !self.notices.is_empty() {
            let _ = writeln!(s, "\nPlease note");
            for at in &self.notices {
                if let Some((lp, rule)) = self.rule(*at)
                    && let Some(c) = lp.clause(rule.clause)
                {
                    let _ = writeln!(s, "  [{}] {}", c.id, quote(&c.text));
                }
            }
        }
        s
    }

    fn explain_citation(
        &self,
        s: &mut String,
        c: &Citation,
        facts: &Facts,
        quoted: &mut Vec<(u8, u16)>,
    ) {
        let Some((lp, rule)) = self.rule(c.at) else {
            return;
        };
        let Some(clause) = lp.clause(rule.clause) else {
            return;
        };
        let not_binding;
        let (mark, how) = match c.role {
            Role::Allows => ("+", "allows it"),
            Role::Prevails => ("+", "mandatory law, prevails"),
            Role::Denies => ("-", "rules it out"),
            Role::Unmet => ("-", "its conditions are not met"),
            Role::Undecided => ("?", "depends on facts not known yet"),
            Role::Requires => ("?", "requires a document or evidence"),
            Role::Satisfied => ("+", "its requirement is met"),
            Role::NotBinding => {
                not_binding = format!(
                    "a statutory right against the trader who sold the goods; it does not bind {}",
                    seller_name(self.policy)
                );
                ("~", not_binding.as_str())
            }
        };
        let _ = writeln!(
            s,
            "  {mark} [{}] {} — {how}",
            clause_name(lp, rule.clause),
            clause.title
        );
        // Quote a clause's words the first time it comes up; after that its id says enough.
        if !quoted.contains(&(c.at.layer, rule.clause)) {
            quoted.push((c.at.layer, rule.clause));
            let _ = writeln!(s, "      \"{}\"", quote(&clause.text));
        }
        match c.role {
            Role::Unmet => {
                if let Some(w) = &rule.when {
                    let failed = self.failed_parts(c.at.layer, w, facts);
                    if !failed.is_empty() {
                        let _ = writeln!(s, "      not met: {}", failed.join("; "));
                    }
                }
            }
            Role::Denies => {
                if let Some(w) = &rule.when {
                    let _ = writeln!(s, "      because: {}", w.text);
                }
            }
            _ => {}
        }
        if let Some(note) = &rule.note
            && matches!(c.role, Role::Prevails | Role::Denies)
        {
            let note: Vec<&str> = note.split_whitespace().collect();
            let _ = writeln!(s, "      note: {}", note.join(" "));
        }
    }

    /// The definitions used by the rules this decision cites, with what they stand for.
    fn explain_meanings(&self, s: &mut String) {
        for (i, (p, d)) in self.used_definitions().into_iter().enumerate() {
            if i == 0 {
                let _ = writeln!(s, "\nWhat the names in these rules mean");
            }
            let _ = writeln!(
                s,
                "  {} = {}  [{}, line {}]",
                d.name, d.text, p.file, d.line
            );
        }
    }

    fn output_words(&self, o: &crate::decide::OutputResult) -> String {
        let value = match &o.value {
            Some(v) => v.to_string(),
            None => {
                let names: Vec<String> = o.pending_on.iter().map(|id| fact_words(*id)).collect();
                format!("not yet known (needs {})", names.join("; "))
            }
        };
        let by =
            o.by.and_then(|at| self.rule(at))
                .map(|(lp, r)| clause_name(lp, r.clause))
                .unwrap_or_default();
        let over = o
            .overridden
            .and_then(|at| self.rule(at))
            .map(|(lp, r)| {
                let how = if o.agrees { "as does" } else { "overriding" };
                format!(", {how} {}", clause_name(lp, r.clause))
            })
            .unwrap_or_default();
        format!("{}: {value} [{by}{over}]", o.output.label())
    }
}

/// The seller's name, or the policy id when it has none.
fn seller_name(p: &Policy) -> &str {
    p.seller.as_deref().unwrap_or(&p.id)
}

/// How a clause is named in brackets: law ids carry their instrument ("CRD 9(1)"); a seller's
/// clause gets the seller's name, or the policy id when the name is long.
fn clause_name(p: &Policy, index: u16) -> String {
    let id = p.clause(index).map_or("?", |c| c.id.as_str());
    if p.kind == crate::model::Kind::Law {
        return id.to_string();
    }
    let who = p
        .seller
        .as_deref()
        .filter(|s| s.chars().count() <= 16)
        .unwrap_or(&p.id);
    format!("{who} {id}")
}

fn fact_words(id: FactId) -> String {
    let f = schema::fact(id);
    format!("{} ({})", f.doc, f.path)
}

fn quote(text: &str) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= QUOTE {
        return flat;
    }
    let cut: String = flat.chars().take(QUOTE).collect();
    let cut = cut
        .rsplit_once(' ')
        .map_or(cut.as_str(), |(a, _)| a)
        .to_string();
    format!("{cut}…")
}
