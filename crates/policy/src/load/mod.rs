//! Loads a policy file: TOML into spanned raw structs, then names, types and clause references
//! checked and compiled into a [`Policy`]. Collects every error it can rather than stopping at
//! the first, each located at file:line:column.

use std::collections::BTreeMap;
use std::ops::Range;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use sha2::{Digest, Sha256};
use toml::Spanned;

mod define;
mod raw;

use crate::diag::{Diagnostic, Diagnostics, Source, WithHint};
use crate::expr::Expr;
use crate::expr::check::{Scope, enum_index, remedy};
use crate::expr::syntax::{self, Ast, SyntaxError};
use crate::facts::{When, toml_when};
use crate::lint;
use crate::model::{
    Action, Clause, Component, Cond, Kind, Param, Policy, Rule, RuleIndex, SetOutput, StartRule,
    Warranty,
};
use crate::schema::{self, DeadlineName, EnumKind, FLAGS, Output, Type};
use crate::value::{Currency, Money, Period, Value};
use raw::{RawClause, RawFile, RawParam, RawRule, RawStart, RawWarranty};

/// Loads and checks one policy file. Law layers are linked later by [`crate::PolicySet`].
/// Warnings come back with the policy; errors fail the load.
pub fn load(name: &str, text: &str) -> Result<(Policy, Vec<Diagnostic>), Diagnostics> {
    let src = Source::new(name, text);
    let raw: RawFile = toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        let message = e.message().trim().replace('\n', " ");
        Diagnostics(vec![src.error(span, message)])
    })?;
    let mut cx = Loader {
        src: &src,
        diags: Vec::new(),
        define_uses: 0,
    };
    let policy = cx.policy(raw);
    let mut diags = cx.diags;
    if let Some(p) = &policy {
        diags.extend(lint::lint(p, &src));
    }
    diags.sort_by_key(|d| (d.line, d.column));
    match policy {
        Some(mut p) if !diags.iter().any(Diagnostic::is_error) => {
            p.intern_atoms();
            Ok((p, diags))
        }
        _ => Err(Diagnostics(
            diags.into_iter().filter(Diagnostic::is_error).collect(),
        )),
    }
}

struct Loader<'a> {
    src: &'a Source<'a>,
    diags: Vec<Diagnostic>,
    /// The definitions any expression of the file named, a bit each.
    define_uses: u64,
}

impl Loader<'_> {
    fn error(&mut self, span: Range<usize>, message: impl Into<String>) {
        let d = self.src.error(span, message);
        self.diags.push(d);
    }

    fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    /// Reports a checker or parser error at `span` of the file.
    fn push_syntax(&mut self, span: Range<usize>, e: SyntaxError) {
        let d = self.src.error(span, e.message).maybe_hint(e.hint);
        self.push(d);
    }

    fn policy(&mut self, raw: RawFile) -> Option<Policy> {
        let m = raw.policy;
        let kind = match m.kind.get_ref().as_str() {
            "seller" => Kind::Seller,
            "law" => Kind::Law,
            other => {
                let d = self
                    .src
                    .error(m.kind.span(), format!("`{other}` is not a policy kind"))
                    .hint("use \"seller\" or \"law\"");
                self.push(d);
                Kind::Seller
            }
        };
        let id = m.id.get_ref().clone();
        if id.is_empty()
            || !id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            self.error(
                m.id.span(),
                format!("policy id `{id}` must be lowercase letters, digits and '-'"),
            );
        }
        let tz = match TimeZone::get(m.time_zone.get_ref()) {
            Ok(tz) => tz,
            Err(_) => {
                let d = self
                    .src
                    .error(
                        m.time_zone.span(),
                        format!("`{}` is not a known time zone", m.time_zone.get_ref()),
                    )
                    .hint("use an IANA name such as \"Europe/Brussels\" or \"UTC\"");
                self.push(d);
                TimeZone::UTC
            }
        };
        // ISO 4217 "XXX": no currency, for law layers that name none.
        let currency = match &m.currency {
            Some(c) => match Currency::parse(c.get_ref()) {
                Ok(c) => c,
                Err(e) => {
                    self.error(c.span(), e);
                    Currency::parse("XXX").ok()?
                }
            },
            None if kind == Kind::Law => Currency::parse("XXX").ok()?,
            None => {
                self.error(
                    m.id.span(),
                    "a seller policy needs `currency = \"...\"` (ISO 4217)",
                );
                Currency::parse("XXX").ok()?
            }
        };
        let effective_from = self.date(&m.effective_from)?;
        let effective_to = match &m.effective_to {
            Some(d) => {
                let to = self.date(d)?;
                if to < effective_from {
                    self.error(d.span(), "`effective_to` is before `effective_from`");
                }
                Some(to)
            }
            None => None,
        };
        match (kind, &m.binds) {
            (Kind::Seller, Some(b)) => self.error(b.span(), "`binds` is only for law layers"),
            (Kind::Law, None) => {
                let d = self
                    .src
                    .error(
                        m.kind.span(),
                        "a law layer needs `binds = \"...\"`: when is this seller the trader the law binds?",
                    )
                    .hint("e.g. binds = \"order.channel == 'official' and buyer.original\"");
                self.push(d);
            }
            _ => {}
        }
        match (kind, &m.seller, &m.applies, m.law.is_empty()) {
            (Kind::Seller, None, _, _) => {
                self.error(m.id.span(), "a seller policy needs `seller = \"...\"`")
            }
            (Kind::Seller, _, Some(a), _) => {
                self.error(a.span(), "`applies` is only for law layers")
            }
            (Kind::Law, _, None, _) => self.error(
                m.kind.span(),
                "a law layer needs `applies = \"...\"`: when does this law apply?",
            ),
            (Kind::Law, _, _, false) => self.error(
                m.law.first().map_or(0..0, Spanned::span),
                "a law layer cannot name other law layers",
            ),
            _ => {}
        }

        // Which version of a policy decides a case: the one in force on this date fact.
        let version_by = match &m.version_by {
            None => crate::schema::fact_id("order.date"),
            Some(v) => match crate::schema::fact_id(v.get_ref()) {
                Some(id) if crate::schema::fact(id).ty == crate::schema::Type::Date => Some(id),
                Some(_) => {
                    self.error(v.span(), format!("`{}` is not a date fact", v.get_ref()));
                    None
                }
                None => {
                    self.error(v.span(), format!("unknown fact `{}`", v.get_ref()));
                    None
                }
            },
        };
        let params = self.params(&raw.params);
        let clauses = self.clauses(&raw.clause);
        let scope_params: Vec<(String, Value)> = params
            .iter()
            .map(|p| (p.name.clone(), p.value.clone()))
            .collect();
        let base = Scope {
            params: &scope_params,
            has_warranty: raw.warranty.is_some(),
            is_law: kind == Kind::Law,
            ..Scope::default()
        };
        let defines = self.defines(&base, &raw.define);
        let scope = Scope {
            defines: &defines.checked,
            define_names: &defines.names,
            ..base
        };
        let applies = m.applies.as_ref().and_then(|a| self.cond(&scope, a));
        let binds = m.binds.as_ref().and_then(|b| self.cond(&scope, b));
        let warranty = raw
            .warranty
            .as_ref()
            .map(|w| self.warranty(&scope, &clauses, w));
        let mut rules = Vec::with_capacity(raw.rule.len());
        for (i, r) in raw.rule.iter().enumerate() {
            if let Some(rule) = self.rule(&scope, &clauses, r, i) {
                rules.push(rule);
            }
        }
        let law_ids = m.law.iter().map(|l| l.get_ref().clone()).collect();
        let index = RuleIndex::build(&rules);
        self.unused_defines(&raw.define, self.define_uses);
        Some(Policy {
            id,
            kind,
            title: m.title,
            seller: m.seller,
            version: m.version,
            effective_from,
            effective_to,
            version_by,
            jurisdiction: m.jurisdiction,
            time_zone: m.time_zone.get_ref().clone(),
            zone: crate::value::Zone::new(tz),
            currency,
            source: m.source,
            law_ids,
            laws: Vec::new(),
            applies,
            binds,
            defines: defines.listed,
            params,
            clauses,
            rules,
            warranty,
            hash: text_hash(self.src.text),
            file: self.src.name.to_string(),
            index,
            atoms: Vec::new(),
            leaves: Vec::new(),
            applies_parts: Vec::new(),
            binds_parts: Vec::new(),
        })
    }

    fn date(&mut self, d: &Spanned<toml::value::Datetime>) -> Option<Date> {
        match toml_when(d.get_ref()) {
            Ok(When::Day(day)) => Some(day),
            Ok(When::Instant(_)) | Err(_) => {
                self.error(d.span(), "expected a date like 2024-01-01");
                None
            }
        }
    }

    fn params(&mut self, raw: &BTreeMap<String, Spanned<RawParam>>) -> Vec<Param> {
        let mut out = Vec::new();
        for (name, p) in raw {
            let span = p.get_ref().value.span();
            let value = match p.get_ref().value.get_ref() {
                toml::Value::Boolean(b) => Value::Bool(*b),
                toml::Value::Integer(n) => Value::Int(*n),
                toml::Value::String(s) => match (Period::parse(s), Money::parse(s)) {
                    (Ok(p), _) => Value::Duration(p),
                    (_, Ok(m)) => Value::Money(m),
                    _ => Value::Text(s.as_str().into()),
                },
                toml::Value::Array(items) => {
                    let mut list = Vec::with_capacity(items.len());
                    for item in items {
                        match item {
                            toml::Value::String(s) => list.push(std::sync::Arc::from(s.as_str())),
                            _ => {
                                self.error(
                                    span.clone(),
                                    format!("`params.{name}`: lists hold strings only"),
                                );
                            }
                        }
                    }
                    Value::TextList(list.into())
                }
                _ => {
                    self.error(
                        span,
                        format!("`params.{name}` must be a period (\"12 months\"), a number, true/false, a string or a list of strings"),
                    );
                    continue;
                }
            };
            if !p.get_ref().stated && p.get_ref().note.is_none() {
                let d = self
                    .src
                    .error(
                        p.span(),
                        format!("`params.{name}` is not stated by the document but has no `note`"),
                    )
                    .hint("say why this default was chosen");
                self.push(d);
            }
            out.push(Param {
                name: name.clone(),
                value,
                stated: p.get_ref().stated,
                note: p.get_ref().note.clone(),
            });
        }
        out
    }

    fn clauses(&mut self, raw: &[Spanned<RawClause>]) -> Vec<Clause> {
        let mut out: Vec<Clause> = Vec::with_capacity(raw.len());
        for c in raw {
            let c = c.get_ref();
            let id = c.id.get_ref().trim().to_string();
            if id.is_empty() {
                self.error(c.id.span(), "a clause id cannot be empty");
            }
            if out.iter().any(|o| o.id == id) {
                self.error(c.id.span(), format!("clause `{id}` is defined twice"));
            }
            let titles = self.translations(c.titles.as_ref(), "titles");
            let texts = self.translations(c.texts.as_ref(), "texts");
            out.push(Clause {
                id,
                title: c.title.clone(),
                text: c.text.trim().to_string(),
                formerly: Vec::new(),
                titles,
                texts,
            });
        }
        // Former ids are checked once every current id is known: a former id that is also a
        // clause's id, or another clause's former id, would name two clauses.
        for (i, c) in raw.iter().enumerate() {
            for f in &c.get_ref().formerly {
                let name = f.get_ref().trim().to_string();
                let clash = if name.is_empty() {
                    Some("a former clause id cannot be empty".to_string())
                } else if let Some(o) = out.iter().find(|o| o.id == name) {
                    Some(format!(
                        "`{name}` is the id of clause `{}`; a former id names no clause of this version",
                        o.id
                    ))
                } else {
                    out.iter()
                        .find(|o| o.formerly.contains(&name))
                        .map(|o| format!("`{name}` is already a former id of clause `{}`", o.id))
                };
                match clash {
                    Some(msg) => self.error(f.span(), msg),
                    None => {
                        if let Some(o) = out.get_mut(i) {
                            o.formerly.push(name);
                        }
                    }
                }
            }
        }
        out
    }

    /// A clause's `titles` or `texts`: language tags, each with some words.
    fn translations(
        &mut self,
        raw: Option<&Spanned<std::collections::BTreeMap<String, String>>>,
        field: &str,
    ) -> Vec<(String, String)> {
        let Some(raw) = raw else {
            return Vec::new();
        };
        let mut out = Vec::with_capacity(raw.get_ref().len());
        for (tag, words) in raw.get_ref() {
            if !crate::model::is_language_tag(tag) {
                self.error(
                    raw.span(),
                    format!("{field}: `{tag}` is not a language tag (like `zh-CN`)"),
                );
            } else if words.trim().is_empty() {
                self.error(raw.span(), format!("{field}.{tag} is empty"));
            } else {
                out.push((tag.clone(), words.trim().to_string()));
            }
        }
        out
    }

    fn clause_ref(&mut self, clauses: &[Clause], r: &Spanned<String>) -> Option<u16> {
        let id = r.get_ref();
        match clauses.iter().position(|c| &c.id == id) {
            Some(i) => u16::try_from(i).ok(),
            None => {
                let renamed = clauses.iter().find(|c| c.formerly.contains(id));
                let hint = match renamed {
                    Some(c) => format!("`{id}` is now `{}`", c.id),
                    None => schema::suggest(id, clauses.iter().map(|c| c.id.as_str()))
                        .map(|s| format!("did you mean `{s}`?"))
                        .unwrap_or_else(|| "add a [[clause]] with this id".to_string()),
                };
                let d = self
                    .src
                    .error(r.span(), format!("unknown clause `{id}`"))
                    .hint(hint);
                self.push(d);
                None
            }
        }
    }

    /// Parses and type-checks an expression held in a TOML string.
    fn expr(
        &mut self,
        scope: &Scope<'_>,
        s: &Spanned<String>,
        want: Option<Type>,
    ) -> Option<(Expr, Type, syntax::Node)> {
        let node = self.parse_expr(s)?;
        let checked = match want {
            Some(t) => scope.check_as(&node, t).map(|e| (e, t)),
            None => scope.check(&node, None),
        };
        self.define_uses |= scope.uses.get();
        match checked {
            Ok((e, t)) => Some((e, t, node)),
            Err(e) => {
                let span = self.locate(s, &e.span);
                self.push_syntax(span, e);
                None
            }
        }
    }

    /// Where a span inside an expression's text is in the file: exact when the TOML string
    /// holds the text verbatim, else the whole string.
    fn locate(&self, s: &Spanned<String>, inner: &Range<usize>) -> Range<usize> {
        match expr_base(self.src.text, &s.span(), s.get_ref()) {
            Some(b) => b + inner.start..b + inner.end.max(inner.start + 1),
            None => s.span(),
        }
    }

    fn cond(&mut self, scope: &Scope<'_>, s: &Spanned<String>) -> Option<Cond> {
        scope.take_uses();
        let (expr, _, node) = self.expr(scope, s, Some(Type::Bool))?;
        let text = s.get_ref().trim().to_string();
        // Each top-level `and` part on its own, as written (a definition by its name), to say
        // which one failed.
        let parts = match &node.ast {
            Ast::And(items) => items
                .iter()
                .filter_map(|n| {
                    let e = scope.check_as(n, Type::Bool).ok()?;
                    let t = s.get_ref().get(n.span.clone()).unwrap_or("").to_string();
                    Some((e, t))
                })
                .collect(),
            _ => vec![(expr.clone(), text.clone())],
        };
        Some(Cond {
            expr,
            text,
            parts,
            logic: None,
            uses: scope.take_uses(),
        })
    }

    fn start_rules(
        &mut self,
        scope: &Scope<'_>,
        clauses: &[Clause],
        raw: &[Spanned<RawStart>],
    ) -> Vec<StartRule> {
        let mut out = Vec::new();
        for s in raw {
            let s = s.get_ref();
            let clause = self.clause_ref(clauses, &s.clause);
            let basis = match enum_index(EnumKind::Basis, s.basis.get_ref(), &(0..0)) {
                Ok(b) => Some(b),
                Err(e) => {
                    self.push_syntax(s.basis.span(), e);
                    None
                }
            };
            let from = self.expr(scope, &s.from, Some(Type::Date));
            let when = s.when.as_ref().map(|w| self.cond(scope, w));
            if let (Some(clause), Some(basis), Some((from, _, _))) = (clause, basis, from) {
                if let Some(None) = when {
                    continue;
                }
                out.push(StartRule {
                    clause,
                    basis,
                    from,
                    from_text: s.from.get_ref().clone(),
                    when: when.flatten(),
                });
            }
        }
        out
    }

    fn warranty(&mut self, scope: &Scope<'_>, clauses: &[Clause], w: &RawWarranty) -> Warranty {
        let start = self.start_rules(scope, clauses, &w.start);
        let mut components = Vec::new();
        let mut seen: u64 = 0;
        for c in &w.component {
            let span = c.span();
            let c = c.get_ref();
            let clause = self.clause_ref(clauses, &c.clause);
            let mut classes = 0u64;
            for k in &c.classes {
                match enum_index(EnumKind::ProductClass, k.get_ref(), &(0..0)) {
                    Ok(i) => {
                        if seen & (1 << i) != 0 {
                            self.error(
                                k.span(),
                                format!(
                                    "product class `{}` is already in an earlier component",
                                    k.get_ref()
                                ),
                            );
                        }
                        classes |= 1 << i;
                    }
                    Err(e) => {
                        self.push_syntax(k.span(), e);
                    }
                }
            }
            seen |= classes;
            let period = match &c.period {
                Some(p) => self.period(scope, p),
                None => None,
            };
            if c.covered && period.is_none() && c.period.is_none() {
                self.error(
                    span.clone(),
                    format!("component `{}` is covered but has no `period`", c.name),
                );
            }
            let own_start = c
                .start
                .as_ref()
                .map(|s| self.start_rules(scope, clauses, s));
            if c.covered && start.is_empty() && own_start.as_ref().is_none_or(Vec::is_empty) {
                self.error(
                    span,
                    format!(
                        "component `{}` has no start rule: add [warranty] start = [...]",
                        c.name
                    ),
                );
            }
            if let Some(clause) = clause {
                components.push(Component {
                    name: c.name.clone(),
                    classes,
                    period,
                    covered: c.covered,
                    clause,
                    start: own_start,
                });
            }
        }
        Warranty { start, components }
    }

    /// A period literal or a period parameter.
    fn period(&mut self, scope: &Scope<'_>, s: &Spanned<String>) -> Option<Period> {
        match self.expr(scope, s, Some(Type::Duration))? {
            (Expr::Const(Value::Duration(p)), _, _) => Some(p),
            _ => {
                self.error(
                    s.span(),
                    "expected a period like \"12 months\" or a period parameter",
                );
                None
            }
        }
    }

    fn remedy_list(&mut self, list: &[Spanned<String>]) -> u16 {
        let mut mask = 0u16;
        for r in list {
            match remedy(r.get_ref(), &(0..0)) {
                Ok(rem) => mask |= rem.bit(),
                Err(e) => {
                    self.push_syntax(r.span(), e);
                }
            }
        }
        if list.is_empty() {
            // An empty list is almost certainly a mistake.
            mask = 0;
        }
        mask
    }

    fn rule(
        &mut self,
        scope: &Scope<'_>,
        clauses: &[Clause],
        r: &Spanned<RawRule>,
        index: usize,
    ) -> Option<Rule> {
        let span = r.span();
        let line = self.src.line_col(span.start).0;
        let r = r.get_ref();
        let clause = self.clause_ref(clauses, &r.clause);
        let when = match &r.when {
            Some(w) => Some(self.cond(scope, w)?),
            None => None,
        };
        let actions: Vec<&str> = [
            ("allow", r.allow.is_some()),
            ("deny", r.deny.is_some()),
            ("set", r.set.is_some()),
            ("require", r.require.is_some()),
            ("deadline", r.deadline.is_some()),
            ("flag", r.flag.is_some()),
            ("notice", r.notice.is_some()),
        ]
        .into_iter()
        .filter_map(|(n, present)| present.then_some(n))
        .collect();
        if actions.len() != 1 {
            let msg = if actions.is_empty() {
                "this rule has no action".to_string()
            } else {
                format!(
                    "this rule has {} actions ({}); give each its own [[rule]]",
                    actions.len(),
                    actions.join(", ")
                )
            };
            let d = self.src.error(span, msg).hint(
                "a rule does exactly one of: allow, deny, set, require, deadline, flag, notice",
            );
            self.push(d);
            return None;
        }
        let misplaced = [
            ("label", r.label.is_some(), "require"),
            ("for", r.for_remedies.is_some(), "require"),
            ("from", r.from.is_some(), "deadline"),
            ("within", r.within.is_some(), "deadline"),
        ];
        for (key, present, owner) in misplaced {
            if present && actions.first() != Some(&owner) {
                self.error(span.clone(), format!("`{key}` belongs to a `{owner}` rule"));
            }
        }
        let action = if let Some(list) = &r.allow {
            let m = self.remedy_list(list);
            if list.is_empty() {
                self.error(span.clone(), "`allow` lists no remedy");
            }
            Action::Allow(m)
        } else if let Some(list) = &r.deny {
            let m = self.remedy_list(list);
            if list.is_empty() {
                self.error(span.clone(), "`deny` lists no remedy");
            }
            Action::Deny(m)
        } else if let Some(set) = &r.set {
            Action::Set(self.set_outputs(scope, set)?)
        } else if let Some(test) = &r.require {
            let test = self.cond(scope, test)?;
            let Some(label) = r.label.clone() else {
                self.error(
                    span,
                    "a `require` rule needs a `label` naming what is required",
                );
                return None;
            };
            let remedies = match &r.for_remedies {
                Some(list) => self.remedy_list(list),
                None => {
                    self.error(span, "a `require` rule needs `for = [remedies]`");
                    return None;
                }
            };
            Action::Require {
                test,
                label,
                remedies,
            }
        } else if let Some(name) = &r.deadline {
            let Some(dn) = DeadlineName::parse(name.get_ref()) else {
                let names: Vec<&str> = DeadlineName::ALL.iter().map(|d| d.name()).collect();
                let hint = schema::hint_among(name.get_ref(), &names);
                let d = self
                    .src
                    .error(
                        name.span(),
                        format!("unknown deadline `{}`", name.get_ref()),
                    )
                    .hint(hint);
                self.push(d);
                return None;
            };
            let (Some(from), Some(within)) = (&r.from, &r.within) else {
                self.error(
                    span,
                    "a `deadline` rule needs `from` (a date) and `within` (a period)",
                );
                return None;
            };
            let (from_expr, _, _) = self.expr(scope, from, Some(Type::Date))?;
            let within = self.period(scope, within)?;
            let from_fact = match from_expr {
                Expr::Fact(id) => Some(id),
                _ => None,
            };
            Action::Deadline {
                name: dn,
                from: from_expr,
                from_text: from.get_ref().clone(),
                from_fact,
                within,
            }
        } else if let Some(flag) = &r.flag {
            if !FLAGS.contains(&flag.get_ref().as_str()) {
                let hint = schema::hint_among(flag.get_ref(), FLAGS);
                let d = self
                    .src
                    .error(flag.span(), format!("unknown flag `{}`", flag.get_ref()))
                    .hint(hint);
                self.push(d);
                return None;
            }
            Action::Flag(flag.get_ref().clone())
        } else {
            if r.notice.as_ref().is_some_and(|n| !*n.get_ref()) {
                self.error(
                    span,
                    "`notice = false` does nothing: remove the rule or set it to true",
                );
                return None;
            }
            Action::Notice
        };
        let id = match &r.id {
            Some(id) => id.get_ref().clone(),
            None => format!("{}#{}", r.clause.get_ref(), index + 1),
        };
        Some(Rule {
            id,
            clause: clause?,
            when,
            action,
            note: r.note.clone(),
            line,
        })
    }

    fn set_outputs(
        &mut self,
        scope: &Scope<'_>,
        set: &Spanned<BTreeMap<String, Spanned<toml::Value>>>,
    ) -> Option<Vec<SetOutput>> {
        let mut flat = Vec::new();
        for (k, v) in set.get_ref() {
            flatten(k, v.get_ref(), v.span(), &mut flat);
        }
        if flat.is_empty() {
            self.error(set.span(), "`set` names no output");
            return None;
        }
        let mut out = Vec::new();
        for (name, value, span) in flat {
            let Some(output) = Output::parse(&name) else {
                let names: Vec<&str> = Output::ALL.iter().map(|o| o.name()).collect();
                let hint = schema::hint_among(&name, &names);
                let d = self
                    .src
                    .error(span, format!("unknown output `{name}`"))
                    .hint(hint);
                self.push(d);
                continue;
            };
            let text = match value {
                toml::Value::String(s) => s.clone(),
                toml::Value::Boolean(b) => b.to_string(),
                toml::Value::Integer(n) => n.to_string(),
                _ => {
                    self.error(span, format!("`{name}` must be an expression in a string"));
                    continue;
                }
            };
            // An enumeration output may be written bare: "seller" as well as "'seller'".
            let text = match output.ty() {
                Type::Enum(k) if k.index(&text).is_some() => format!("'{text}'"),
                _ => text,
            };
            let spanned = Spanned::new(span.clone(), text.clone());
            let (expr, _, _) = self.expr(scope, &spanned, Some(output.ty()))?;
            out.push(SetOutput { output, expr, text });
        }
        Some(out)
    }
}

fn flatten(
    key: &str,
    v: &toml::Value,
    span: Range<usize>,
    out: &mut Vec<(String, toml::Value, Range<usize>)>,
) {
    match v {
        toml::Value::Table(t) => {
            for (k, inner) in t {
                flatten(&format!("{key}.{k}"), inner, span.clone(), out);
            }
        }
        other => out.push((key.to_string(), other.clone(), span)),
    }
}

/// The byte offset where an expression's text starts inside the file, when the TOML string
/// holds it verbatim (no escapes); otherwise errors point at the whole string.
fn expr_base(file: &str, span: &Range<usize>, value: &str) -> Option<usize> {
    let raw = file.get(span.clone())?;
    for q in ["\"\"\"", "'''", "\"", "'"] {
        if let Some(inner) = raw.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
            if inner == value {
                return Some(span.start + q.len());
            }
            // Multi-line strings drop a leading newline.
            if q.len() == 3 {
                if let Some(i) = inner.find(value) {
                    return Some(span.start + q.len() + i);
                }
            }
        }
    }
    // `set` values carry the span of their table: find the text inside it.
    raw.find(value).map(|i| span.start + i)
}

/// A policy text's hash as a policy carries it ([`Policy::hash`](crate::Policy)): SHA-256 of
/// its bytes, hex.
pub fn text_hash(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}
