//! A decision as JSON, for integrations: every outcome with the clauses that decided it.

use serde_json::{Map, Value as J, json};

use crate::decide::{Citation, Decision, Role, RuleRef};
use crate::facts::Facts;
use crate::model::{self, Action};
use crate::schema;

impl Decision<'_> {
    /// The decision as a JSON document. `facts` must be the facts it was decided on.
    pub fn to_json(&self, facts: &Facts) -> J {
        let p = self.policy;
        let laws: Vec<J> = self
            .layers
            .iter()
            .skip(1)
            .map(|l| json!({"id": l.policy.id, "title": l.policy.title, "jurisdiction": l.policy.jurisdiction, "applies": l.applies, "binds": l.binds}))
            .collect();
        let remedies: Vec<J> = self
            .remedies
            .iter()
            .map(|r| {
                json!({
                    "remedy": r.remedy.name(),
                    "label": r.remedy.label(),
                    "status": r.status.name(),
                    "by_law": r.by_law,
                    "citations": r.citations.iter().map(|c| self.citation_json(c, facts)).collect::<Vec<_>>(),
                    "pending_on": r.pending_on.iter().map(|id| schema::fact(*id).path).collect::<Vec<_>>(),
                    "missing": r.missing.iter().filter_map(|i| self.missing.get(*i)).filter_map(|m| self.label(m.at)).collect::<Vec<_>>(),
                })
            })
            .collect();
        let warranty: Vec<J> = self
            .warranty
            .iter()
            .filter_map(|a| {
                let lp = self.layer_policy(a.layer)?;
                let w = lp.warranty.as_ref()?;
                let c = w.components.get(usize::from(a.component))?;
                let starts = c.start.as_deref().unwrap_or(&w.start);
                let start_rule = a.start_rule.and_then(|i| starts.get(usize::from(i)));
                Some(json!({
                    "policy": lp.id,
                    "component": c.name,
                    "claimed": a.claimed,
                    "covered": a.covered,
                    "period": c.period.map(|p| p.to_string()),
                    "clause": lp.clause(c.clause).map(|c| &c.id),
                    "start": a.start.map(|d| d.to_string()),
                    "basis": start_rule.map(|s| schema::EnumKind::Basis.variant(s.basis)),
                    "start_clause": start_rule.and_then(|s| lp.clause(s.clause)).map(|c| &c.id),
                    "start_from": start_rule.map(|s| &s.from_text),
                    "end": a.end.map(|d| d.to_string()),
                    "in_warranty": a.in_warranty,
                    "pending_on": a.pending_on.iter().map(|id| schema::fact(*id).path).collect::<Vec<_>>(),
                }))
            })
            .collect();
        let outputs: Map<String, J> = self
            .outputs
            .iter()
            .map(|o| {
                (
                    o.output.name().to_string(),
                    json!({
                        "value": o.value.as_ref().map(|v| v.to_string()),
                        "by": o.by.map(|at| self.ref_json(at)),
                        "overrides": o.overridden.filter(|_| !o.agrees).map(|at| self.ref_json(at)),
                        "agrees_with": o.overridden.filter(|_| o.agrees).map(|at| self.ref_json(at)),
                        "pending_on": o.pending_on.iter().map(|id| schema::fact(*id).path).collect::<Vec<_>>(),
                    }),
                )
            })
            .collect();
        let missing: Vec<J> = self
            .missing
            .iter()
            .map(|m| {
                json!({
                    "label": self.label(m.at),
                    "photo": self.photo_kind(m.at),
                    "needs": self.require_needs(m.at, facts),
                    "reads": self.require_reads(m.at),
                    "for": model::remedies(m.remedies).map(|r| r.name()).collect::<Vec<_>>(),
                    "cites": self.ref_json(m.at),
                })
            })
            .collect();
        let deadlines: Vec<J> = self
            .deadlines
            .iter()
            .map(|d| {
                let (from, within) = match self.rule(d.at).map(|(_, r)| &r.action) {
                    Some(Action::Deadline {
                        from_text, within, ..
                    }) => (Some(from_text.as_str()), Some(within.to_string())),
                    _ => (None, None),
                };
                json!({
                    "name": d.name.name(),
                    "label": d.name.label(),
                    "last_day": d.due.map(|x| x.last_day.to_string()),
                    "until": d.due.and_then(|x| x.until(p.tz())).map(|t| t.to_string()),
                    "from": from,
                    "within": within,
                    "cites": self.ref_json(d.at),
                    "overrides": d.overridden.map(|at| self.ref_json(at)),
                })
            })
            .collect();
        let refund = self.refund.as_ref().map(|r| {
            json!({
                "amount": r.amount.to_string(),
                "amount_minor": r.amount.minor,
                "currency": r.amount.currency.as_str(),
                "price": r.price.to_string(),
                "shipping": r.shipping.map(|s| s.to_string()),
                "proportional": r.proportional.map(|f| f.to_string()),
            })
        });
        let flags: Vec<J> = self
            .flags
            .iter()
            .filter_map(|at| {
                let (_, r) = self.rule(*at)?;
                let Action::Flag(name) = &r.action else {
                    return None;
                };
                Some(json!({"flag": name, "note": r.note, "cites": self.ref_json(*at)}))
            })
            .collect();
        let notices: Vec<J> = self
            .notices
            .iter()
            .map(|at| self.clause_json(*at))
            .collect();
        let definitions: Vec<J> = self
            .used_definitions()
            .into_iter()
            .map(|(lp, d)| json!({"policy": lp.id, "name": d.name, "means": d.text}))
            .collect();
        json!({
            "definitions": definitions,
            "policy": {
                "id": p.id, "title": p.title, "seller": p.seller, "version": p.version, "hash": p.hash,
                "time_zone": p.time_zone, "jurisdiction": p.jurisdiction,
            },
            "now": self.now.to_string(),
            "today": self.today.to_string(),
            "claim": self.claim.to_string(),
            "laws": laws,
            "remedies": remedies,
            "warranty": warranty,
            "freight": {
                "to_seller": outputs.get("freight.to_seller").and_then(|o| o.get("value")).cloned(),
                "to_customer": outputs.get("freight.to_customer").and_then(|o| o.get("value")).cloned(),
            },
            "outputs": outputs,
            "missing": missing,
            "deadlines": deadlines,
            "refund": refund,
            "flags": flags,
            "notices": notices,
            "cited": self.cited_clauses(),
        })
    }

    fn label(&self, at: RuleRef) -> Option<&str> {
        match self.rule(at).map(|(_, r)| &r.action) {
            Some(Action::Require { label, .. }) => Some(label.as_str()),
            _ => None,
        }
    }

    /// The facts a requirement's test reads that are not known: what would settle it.
    fn require_needs(&self, at: RuleRef, facts: &Facts) -> Vec<&'static str> {
        let Some(Action::Require { test, .. }) = self.rule(at).map(|(_, r)| &r.action) else {
            return Vec::new();
        };
        self.unknown_facts_of(at.layer, &test.expr, facts)
            .iter()
            .map(|id| schema::fact(*id).path)
            .collect()
    }

    /// The facts a requirement's test names (as written; a defined name counts for none).
    fn require_reads(&self, at: RuleRef) -> Vec<&'static str> {
        let Some(Action::Require { test, .. }) = self.rule(at).map(|(_, r)| &r.action) else {
            return Vec::new();
        };
        schema::FACTS
            .iter()
            .filter(|f| test.text.contains(f.path))
            .map(|f| f.path)
            .collect()
    }

    /// The kind of photo a requirement asks for, when it is one (`'inner_box' in
    /// evidence.photos`): what an upload form offers for it.
    fn photo_kind(&self, at: RuleRef) -> Option<&str> {
        let Some(Action::Require { test, .. }) = self.rule(at).map(|(_, r)| &r.action) else {
            return None;
        };
        let kind = test
            .text
            .trim()
            .strip_suffix("in evidence.photos")?
            .trim()
            .strip_prefix('\'')?
            .strip_suffix('\'')?;
        schema::EnumKind::Photo
            .variants()
            .iter()
            .copied()
            .find(|v| *v == kind)
    }

    fn ref_json(&self, at: RuleRef) -> J {
        match self.rule(at) {
            Some((p, r)) => {
                json!({"policy": p.id, "clause": p.clause(r.clause).map(|c| &c.id), "rule": r.id})
            }
            None => J::Null,
        }
    }

    fn clause_json(&self, at: RuleRef) -> J {
        match self.rule(at) {
            Some((p, r)) => {
                let c = p.clause(r.clause);
                let mut j = json!({
                    "policy": p.id,
                    "clause": c.map(|c| &c.id),
                    "title": c.map(|c| &c.title),
                    "text": c.map(|c| &c.text),
                    "rule": r.id,
                    "note": r.note,
                });
                // The clause's words in other languages, where the policy gives them.
                if let (J::Object(map), Some(c)) = (&mut j, c) {
                    let by_tag = |all: &[(String, String)]| -> serde_json::Map<String, J> {
                        all.iter()
                            .map(|(t, s)| (t.clone(), J::from(s.as_str())))
                            .collect()
                    };
                    if !c.titles.is_empty() {
                        map.insert("titles".into(), J::Object(by_tag(&c.titles)));
                    }
                    if !c.texts.is_empty() {
                        map.insert("texts".into(), J::Object(by_tag(&c.texts)));
                    }
                }
                j
            }
            None => J::Null,
        }
    }

    fn citation_json(&self, c: &Citation, facts: &Facts) -> J {
        let mut j = self.clause_json(c.at);
        let role = c.role.name();
        if let (J::Object(map), Some((_, r))) = (&mut j, self.rule(c.at)) {
            map.insert("role".into(), J::from(role));
            map.insert(
                "when".into(),
                r.when.as_ref().map(|w| w.text.clone()).into(),
            );
            if c.role == Role::Unmet
                && let Some(w) = &r.when
            {
                map.insert(
                    "failed".into(),
                    self.failed_parts(c.at.layer, w, facts).into(),
                );
            }
            if c.role == Role::Undecided
                && let Some(w) = &r.when
            {
                let ids = self.unknown_facts_of(c.at.layer, &w.expr, facts);
                map.insert(
                    "needs".into(),
                    ids.iter()
                        .map(|id| schema::fact(*id).path)
                        .collect::<Vec<_>>()
                        .into(),
                );
            }
        }
        j
    }
}
