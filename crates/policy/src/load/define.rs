//! The `[define]` table: named conditions and values a file's rules use by name
//! (`human_damage = "has_any(diagnosis.causes, ['drop', 'crush'])"`, then `when = "not
//! human_damage"`). Each is checked once, in the order they name each other; a name that is
//! not a plain lowercase word, a definition that names itself (directly or through others)
//! and one no expression uses are reported at its line.

use std::collections::BTreeMap;

use toml::Spanned;

use super::Loader;
use crate::diag::WithHint;
use crate::expr::check::{Defined, FUNCTIONS, Scope};
use crate::expr::syntax::{self, Node};
use crate::model::Definition;
use crate::schema::Derived;

/// At most this many definitions per file: each is a bit of a condition's `uses`.
const MAX_DEFINES: usize = 64;

/// The checked definitions, the file's record of them (for explanations), and every name
/// the table declares (valid or not).
pub(super) struct Defines {
    pub(super) checked: Vec<Defined>,
    pub(super) listed: Vec<Definition>,
    pub(super) names: Vec<String>,
}

impl Loader<'_> {
    pub(super) fn defines(
        &mut self,
        base: &Scope<'_>,
        raw: &BTreeMap<String, Spanned<String>>,
    ) -> Defines {
        let names: Vec<String> = raw.keys().cloned().collect();
        let mut listed = Vec::with_capacity(raw.len());
        let mut parsed: Vec<Option<Node>> = Vec::with_capacity(raw.len());
        for (i, (name, text)) in raw.iter().enumerate() {
            if let Some(problem) = bad_name(name) {
                let d = self
                    .src
                    .error(
                        text.span(),
                        format!("`{name}` cannot be a definition's name: {problem}"),
                    )
                    .hint("use lowercase letters, digits and '_', starting with a letter");
                self.push(d);
            }
            if i == MAX_DEFINES {
                self.error(
                    text.span(),
                    format!("a file holds at most {MAX_DEFINES} definitions"),
                );
            }
            parsed.push(self.parse_expr(text));
            listed.push(Definition {
                name: name.clone(),
                text: text.get_ref().trim().to_string(),
                line: self.src.line_col(text.span().start).0,
            });
        }
        // Which definitions each one names, by index.
        let deps: Vec<Vec<usize>> = parsed
            .iter()
            .map(|node| {
                let mut out = Vec::new();
                if let Some(n) = node {
                    n.for_each_path(&mut |p, _| {
                        if let Some(j) = names.iter().position(|x| x == p)
                            && !out.contains(&j)
                        {
                            out.push(j);
                        }
                    });
                }
                out
            })
            .collect();
        let order = self.dependency_order(raw, &names, &deps);

        let mut checked: Vec<Defined> = Vec::with_capacity(order.len());
        for i in order {
            let (Some(Some(node)), Some((name, text))) = (parsed.get(i), raw.iter().nth(i)) else {
                continue;
            };
            let Ok(bit) = u32::try_from(i) else { continue };
            let Some(bit) = 1u64.checked_shl(bit) else {
                continue;
            };
            let scope = Scope {
                params: base.params,
                has_warranty: base.has_warranty,
                is_law: base.is_law,
                defines: &checked,
                define_names: &names,
                uses: Default::default(),
            };
            match scope.check(node, None) {
                Ok((expr, ty)) => {
                    let closure = bit | scope.take_uses();
                    checked.push(Defined {
                        name: name.clone(),
                        expr,
                        ty,
                        closure,
                    });
                }
                Err(e) => {
                    let span = self.locate(text, &e.span);
                    self.push_syntax(span, e);
                }
            }
        }
        Defines {
            checked,
            listed,
            names,
        }
    }

    /// Definitions in an order where each comes after those it names; the ones on a cycle
    /// are reported and left out.
    fn dependency_order(
        &mut self,
        raw: &BTreeMap<String, Spanned<String>>,
        names: &[String],
        deps: &[Vec<usize>],
    ) -> Vec<usize> {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            New,
            Open,
            Done,
            Cycle,
        }
        let mut marks = vec![Mark::New; names.len()];
        let mut order = Vec::with_capacity(names.len());
        // Depth-first, with an explicit stack of (definition, next dependency to visit).
        for root in 0..names.len() {
            if marks.get(root) != Some(&Mark::New) {
                continue;
            }
            let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
            if let Some(m) = marks.get_mut(root) {
                *m = Mark::Open;
            }
            while let Some((at, next)) = stack.last().copied() {
                let dep = deps.get(at).and_then(|d| d.get(next)).copied();
                if let Some(top) = stack.last_mut() {
                    top.1 += 1;
                }
                let Some(dep) = dep else {
                    stack.pop();
                    if let Some(m) = marks.get_mut(at)
                        && *m == Mark::Open
                    {
                        *m = Mark::Done;
                        order.push(at);
                    }
                    continue;
                };
                match marks.get(dep).copied() {
                    Some(Mark::New) => {
                        if let Some(m) = marks.get_mut(dep) {
                            *m = Mark::Open;
                        }
                        stack.push((dep, 0));
                    }
                    Some(Mark::Open) => {
                        // `dep` is on the stack: the path from it back to itself is a cycle.
                        let from = stack.iter().position(|(i, _)| *i == dep).unwrap_or(0);
                        let path: Vec<&str> = stack
                            .get(from..)
                            .unwrap_or(&[])
                            .iter()
                            .chain(std::iter::once(&(dep, 0)))
                            .filter_map(|(i, _)| names.get(*i).map(String::as_str))
                            .collect();
                        let span = raw.values().nth(dep).map_or(0..0, Spanned::span);
                        let name = names.get(dep).map_or("", String::as_str);
                        let d = self
                            .src
                            .error(
                                span,
                                format!("definition `{name}` names itself: {}", path.join(" → ")),
                            )
                            .hint("a definition may use others, but not in a circle");
                        self.push(d);
                        for (i, _) in stack.get(from..).unwrap_or(&[]) {
                            if let Some(m) = marks.get_mut(*i) {
                                *m = Mark::Cycle;
                            }
                        }
                    }
                    // Done, or already reported on a cycle (its users cannot be checked).
                    Some(Mark::Cycle) => {
                        if let Some(m) = marks.get_mut(at) {
                            *m = Mark::Cycle;
                        }
                    }
                    _ => {}
                }
            }
        }
        order
    }

    /// Warns of each definition that no expression of the file uses.
    pub(super) fn unused_defines(&mut self, raw: &BTreeMap<String, Spanned<String>>, used: u64) {
        for (i, (name, text)) in raw.iter().enumerate() {
            let bit = u32::try_from(i).ok().and_then(|b| 1u64.checked_shl(b));
            if bit.is_some_and(|b| used & b == 0) {
                let d = self
                    .src
                    .warning(text.span(), format!("definition `{name}` is never used"))
                    .hint("use it in a rule, or remove it");
                self.push(d);
            }
        }
    }

    /// Parses an expression held in a TOML string, reporting a syntax error where it is.
    pub(super) fn parse_expr(&mut self, s: &Spanned<String>) -> Option<Node> {
        match syntax::parse(s.get_ref()) {
            Ok(n) => Some(n),
            Err(e) => {
                let span = self.locate(s, &e.span);
                self.push_syntax(span, e);
                None
            }
        }
    }
}

/// Why `name` cannot name a definition, if it cannot.
fn bad_name(name: &str) -> Option<&'static str> {
    let mut chars = name.chars();
    if !chars.next().is_some_and(|c| c.is_ascii_lowercase())
        || !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Some("not a plain lowercase word");
    }
    if syntax::is_keyword(name) {
        return Some("it is a keyword");
    }
    if Derived::parse(name).is_some() {
        return Some("it is a derived value");
    }
    if FUNCTIONS.contains(&name) {
        return Some("it is a function");
    }
    None
}
