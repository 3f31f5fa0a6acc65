//! A checked, compiled policy: what the loader produces and `decide` reads.

use std::sync::Arc;

use jiff::civil::Date;
use jiff::tz::TimeZone;

use crate::expr::Expr;
use crate::schema::{DeadlineName, FactId, Output, Remedy};
use crate::value::{Currency, Period, Value};

/// A seller's policy, or a law layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Seller,
    Law,
}

/// One policy file, checked and compiled.
#[derive(Debug)]
pub struct Policy {
    pub id: String,
    pub kind: Kind,
    pub title: String,
    pub seller: Option<String>,
    pub version: String,
    pub effective_from: Date,
    pub effective_to: Option<Date>,
    /// The date fact that picks which version of this policy decides a case (`version_by`;
    /// default `order.date`: the version in force at purchase).
    pub version_by: Option<FactId>,
    pub jurisdiction: String,
    pub time_zone: String,
    /// The policy's time zone (`time_zone`), tabulated for fast instant → date.
    pub zone: crate::value::Zone,
    pub currency: Currency,
    pub source: Option<String>,
    /// Ids of the law layers named by a seller file.
    pub law_ids: Vec<String>,
    /// The law layers themselves, once linked (see [`crate::PolicySet`]).
    pub laws: Vec<Arc<Policy>>,
    /// When a law layer applies at all (jurisdiction, kind of buyer).
    pub applies: Option<Cond>,
    /// When a law layer binds this seller: the seller is the trader who sold these goods to
    /// this consumer. Where it applies but does not bind, its rights are owed by another
    /// trader, and a decision only says so.
    pub binds: Option<Cond>,
    /// The file's named definitions, as written (`[define]`).
    pub defines: Vec<Definition>,
    pub params: Vec<Param>,
    pub clauses: Vec<Clause>,
    pub rules: Vec<Rule>,
    pub warranty: Option<Warranty>,
    /// SHA-256 of the file's bytes, hex: which exact text decided.
    pub hash: String,
    /// The file name it was loaded from.
    pub file: String,
    /// Rules by what they touch, so deciding reads only the rules that matter.
    pub index: RuleIndex,
    /// Boolean leaves shared by the rules' conditions, each evaluated once per decision.
    pub atoms: Vec<Expr>,
    /// The same leaves, compiled for evaluation.
    pub leaves: Vec<crate::expr::Leaf>,
    /// The `and` parts of `applies`, compiled: whether a law layer applies is decided
    /// before its atoms can be (they may read `allowed()`), on every decision.
    pub applies_parts: Vec<crate::expr::Leaf>,
    /// The `and` parts of `binds`, compiled like `applies_parts`.
    pub binds_parts: Vec<crate::expr::Leaf>,
}

/// A named definition of a policy file, as written.
#[derive(Debug)]
pub struct Definition {
    pub name: String,
    pub text: String,
    /// 1-based line in its file.
    pub line: usize,
}

/// Rule indexes by remedy and by output, built once at load.
#[derive(Debug, Default)]
pub struct RuleIndex {
    /// Allow and deny rules per remedy, in file order, with `true` for allow.
    pub verdicts: [Vec<(u16, bool)>; 12],
    /// Require rules per remedy, in file order.
    pub requires: [Vec<u16>; 12],
    /// Set rules per output, in file order.
    pub sets: [Vec<u16>; 8],
    /// Remedies this file's rules allow or deny.
    pub considered: u16,
    /// Rules that are not about one remedy or output, by kind, in file order.
    pub all_requires: Vec<u16>,
    pub deadlines: Vec<u16>,
    pub flags: Vec<u16>,
    pub notices: Vec<u16>,
}

impl RuleIndex {
    /// Allow and deny rules of one remedy (`true` for allow).
    pub fn verdicts_for(&self, remedy: Remedy) -> &[(u16, bool)] {
        self.verdicts
            .get(remedy as usize)
            .map_or(&[], Vec::as_slice)
    }

    /// Require rules of one remedy.
    pub fn requires_for(&self, remedy: Remedy) -> &[u16] {
        self.requires
            .get(remedy as usize)
            .map_or(&[], Vec::as_slice)
    }

    /// Set rules of one output.
    pub fn sets_for(&self, output: Output) -> &[u16] {
        self.sets.get(output as usize).map_or(&[], Vec::as_slice)
    }

    pub fn build(rules: &[Rule]) -> Self {
        let mut ix = Self::default();
        for (i, r) in rules.iter().enumerate() {
            let Ok(i) = u16::try_from(i) else { break };
            match &r.action {
                Action::Allow(m) | Action::Deny(m) => {
                    ix.considered |= m;
                    let is_allow = matches!(r.action, Action::Allow(_));
                    for rem in remedies(*m) {
                        if let Some(v) = ix.verdicts.get_mut(rem as usize) {
                            v.push((i, is_allow));
                        }
                    }
                }
                Action::Require { remedies: m, .. } => {
                    ix.all_requires.push(i);
                    for rem in remedies(*m) {
                        if let Some(v) = ix.requires.get_mut(rem as usize) {
                            v.push(i);
                        }
                    }
                }
                Action::Set(outs) => {
                    for o in outs {
                        if let Some(v) = ix.sets.get_mut(o.output as usize) {
                            if v.last() != Some(&i) {
                                v.push(i);
                            }
                        }
                    }
                }
                Action::Deadline { .. } => ix.deadlines.push(i),
                Action::Flag(_) => ix.flags.push(i),
                Action::Notice => ix.notices.push(i),
            }
        }
        ix
    }
}

impl Policy {
    /// The definitions in `uses` (a bit per definition), for showing what names mean.
    pub fn definitions(&self, uses: u64) -> impl Iterator<Item = &Definition> {
        self.defines
            .iter()
            .enumerate()
            .filter(move |(i, _)| {
                u32::try_from(*i).is_ok_and(|i| uses.checked_shr(i).is_some_and(|m| m & 1 != 0))
            })
            .map(|(_, d)| d)
    }

    /// Shares the boolean leaves of rule conditions and requirements (not of `applies` or
    /// warranty start rules, which are evaluated before the warranty is known).
    pub fn intern_atoms(&mut self) {
        let mut atoms = Vec::new();
        for r in &mut self.rules {
            if let Some(c) = &mut r.when {
                c.intern(&mut atoms);
            }
            if let Action::Require { test, .. } = &mut r.action {
                test.intern(&mut atoms);
            }
        }
        self.leaves = atoms.iter().map(crate::expr::Leaf::compile).collect();
        let parts = |c: Option<&Cond>| match c.map(|c| &c.expr) {
            Some(Expr::And(items)) => items.iter().map(crate::expr::Leaf::compile).collect(),
            Some(e) => vec![crate::expr::Leaf::compile(e)],
            None => Vec::new(),
        };
        self.applies_parts = parts(self.applies.as_ref());
        self.binds_parts = parts(self.binds.as_ref());
        self.atoms = atoms;
    }

    /// The policy's time zone.
    pub fn tz(&self) -> &TimeZone {
        self.zone.tz()
    }

    /// The day an instant falls on in the policy's time zone.
    pub fn day_of(&self, t: jiff::Timestamp) -> Date {
        self.zone.date(t)
    }

    pub fn clause(&self, index: u16) -> Option<&Clause> {
        self.clauses.get(usize::from(index))
    }

    pub fn clause_index(&self, id: &str) -> Option<u16> {
        self.clauses
            .iter()
            .position(|c| c.id == id)
            .and_then(|i| u16::try_from(i).ok())
    }

    /// Whether this version is in force on `day`.
    pub fn in_force(&self, day: Date) -> bool {
        self.effective_from <= day && self.effective_to.is_none_or(|to| day <= to)
    }

    /// The policy and its law layers, seller first.
    pub fn layers(&self) -> impl Iterator<Item = &Policy> {
        std::iter::once(self).chain(self.laws.iter().map(|l| &**l))
    }

    /// Remedies any rule of any layer allows or denies: the ones a decision speaks about.
    pub fn considered(&self) -> u16 {
        self.layers().fold(0, |m, p| m | p.index.considered)
    }
}

/// A value the document leaves open, or a constant the file names.
#[derive(Debug)]
pub struct Param {
    pub name: String,
    pub value: Value,
    pub stated: bool,
    pub note: Option<String>,
}

/// One numbered clause of the source document.
#[derive(Debug)]
pub struct Clause {
    pub id: String,
    pub title: String,
    pub text: String,
    /// Ids this clause had in earlier versions of the policy: scenarios and other references
    /// that name one of them still find this clause.
    pub formerly: Vec<String>,
    /// The title and the text in other languages than the document's, by language tag
    /// (`zh-CN`), in tag order; pages show them where they are given, and the original, marked
    /// as such, where not.
    pub titles: Vec<(String, String)>,
    pub texts: Vec<(String, String)>,
}

impl Clause {
    /// The title in language `tag`, if the policy gives one.
    pub fn title_in(&self, tag: &str) -> Option<&str> {
        self.titles
            .iter()
            .find(|(t, _)| t == tag)
            .map(|(_, s)| s.as_str())
    }
}

/// Whether `tag` is written as a language tag: a language of two or three letters, then
/// subtags of letters and digits (`zh-CN`, `pt-BR`, `zh-Hans`).
pub fn is_language_tag(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let lang_ok = parts
        .next()
        .is_some_and(|l| (2..=3).contains(&l.len()) && l.bytes().all(|b| b.is_ascii_lowercase()));
    lang_ok
        && parts.all(|p| (2..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// A condition with its source text, kept for explanations.
#[derive(Debug)]
pub struct Cond {
    pub expr: Expr,
    pub text: String,
    /// The top-level `and` parts with their text, to say which one failed.
    pub parts: Vec<(Expr, String)>,
    /// The expression as masks over the policy's atoms, once interned (see
    /// [`crate::expr::logic`]); `None` when it has other parts.
    pub logic: Option<crate::expr::logic::Logic>,
    /// The definitions it names, directly or through others: a bit per entry of
    /// [`Policy::defines`].
    pub uses: u64,
}

impl Cond {
    /// Three-valued: the masks when the condition has them, else the expression.
    #[inline]
    pub(crate) fn eval<E: crate::expr::Env + ?Sized>(&self, env: &E) -> Option<bool> {
        match &self.logic {
            Some(l) => l.eval(env.atoms()),
            None => self.expr.eval_bool(env),
        }
    }

    /// The facts whose absence leaves the condition unknown: from the masks, the leaves of
    /// its undecided atoms, else the expression's walk.
    pub(crate) fn unknown_facts<E: crate::expr::Env + ?Sized>(
        &self,
        env: &E,
        out: &mut crate::expr::FactList,
    ) {
        let Some(l) = &self.logic else {
            return self.expr.unknown_facts(env, out);
        };
        let mut atoms = l.undecided(env.atoms());
        while atoms != 0 {
            let i = atoms.trailing_zeros();
            atoms &= atoms - 1;
            if let Some(leaf) = u16::try_from(i).ok().and_then(|i| env.leaf(i)) {
                leaf.unknown_facts(env, out);
            }
        }
    }

    fn intern(&mut self, atoms: &mut Vec<Expr>) {
        crate::expr::fold(&mut self.expr);
        crate::expr::intern(&mut self.expr, atoms);
        self.logic = crate::expr::logic::Logic::compile(&self.expr);
    }
}

/// One rule of a policy.
#[derive(Debug)]
pub struct Rule {
    pub id: String,
    pub clause: u16,
    pub when: Option<Cond>,
    pub action: Action,
    pub note: Option<String>,
    /// 1-based line of the rule in its file.
    pub line: usize,
}

impl Rule {
    /// The definitions its condition and requirement use, a bit each.
    pub fn uses(&self) -> u64 {
        let test = match &self.action {
            Action::Require { test, .. } => test.uses,
            _ => 0,
        };
        self.when.as_ref().map_or(0, |w| w.uses) | test
    }
}

#[derive(Debug)]
pub enum Action {
    Allow(u16),
    Deny(u16),
    Set(Vec<SetOutput>),
    Require {
        test: Cond,
        label: String,
        remedies: u16,
    },
    Deadline {
        name: DeadlineName,
        from: Expr,
        from_text: String,
        /// When `from` is a single date fact, its instant is used for hour deadlines.
        from_fact: Option<FactId>,
        within: Period,
    },
    Flag(String),
    Notice,
}

#[derive(Debug)]
pub struct SetOutput {
    pub output: Output,
    pub expr: Expr,
    pub text: String,
}

/// Which remedies a mask holds.
pub fn remedies(mask: u16) -> impl Iterator<Item = Remedy> {
    Remedy::ALL.into_iter().filter(move |r| mask & r.bit() != 0)
}

/// How warranty start dates and periods are chosen.
#[derive(Debug)]
pub struct Warranty {
    pub start: Vec<StartRule>,
    pub components: Vec<Component>,
}

#[derive(Debug)]
pub struct StartRule {
    pub clause: u16,
    /// Index into [`crate::schema::EnumKind::Basis`].
    pub basis: u8,
    pub from: Expr,
    pub from_text: String,
    pub when: Option<Cond>,
}

#[derive(Debug)]
pub struct Component {
    pub name: String,
    /// Bitmask over product classes.
    pub classes: u64,
    pub period: Option<Period>,
    pub covered: bool,
    pub clause: u16,
    /// Replaces the file's start rules for this component.
    pub start: Option<Vec<StartRule>>,
}
