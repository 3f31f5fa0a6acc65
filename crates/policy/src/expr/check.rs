//! The type checker: resolves names against the fact schema, parameters and derived values,
//! resolves enumeration names in string literals, and compiles to [`Expr`].

use std::cell::Cell;
use std::sync::Arc;

use jiff::civil::Date;

use super::Expr;
use super::syntax::{Ast, CmpOp, Node, Span, SyntaxError};
use crate::schema::{self, Derived, EnumKind, FACTS, Remedy, Type};
use crate::value::{Fraction, Period, Unit, Value};

/// What names an expression may use.
#[derive(Debug, Default)]
pub struct Scope<'a> {
    pub params: &'a [(String, Value)],
    pub has_warranty: bool,
    pub is_law: bool,
    /// The file's definitions checked so far (`[define]`).
    pub defines: &'a [Defined],
    /// Every name in the file's `[define]` table, checked or not: a name whose definition has
    /// an error is not reported again as an unknown fact where it is used.
    pub define_names: &'a [String],
    /// The definitions named since [`Scope::take_uses`] was last called, each with the ones it
    /// names in turn (a bit per definition).
    pub uses: Cell<u64>,
}

/// A named definition, checked: what it stands for wherever its name is used.
#[derive(Clone, Debug)]
pub struct Defined {
    pub name: String,
    pub expr: Expr,
    pub ty: Type,
    /// This definition's bit and the bits of the definitions it names, transitively.
    pub closure: u64,
}

impl Scope<'_> {
    /// The definitions named since the last call (see [`Scope::uses`]).
    pub fn take_uses(&self) -> u64 {
        self.uses.replace(0)
    }
}

type Checked = Result<(Expr, Type), SyntaxError>;

/// The functions an expression may call.
pub const FUNCTIONS: &[&str] = &[
    "within", "known", "max", "min", "coalesce", "allowed", "has_any", "date",
];

fn err(span: &Span, message: impl Into<String>) -> SyntaxError {
    SyntaxError {
        span: span.clone(),
        message: message.into(),
        hint: None,
    }
}

impl Scope<'_> {
    /// Checks `node` and requires it to have type `want`.
    pub fn check_as(&self, node: &Node, want: Type) -> Result<Expr, SyntaxError> {
        let (expr, ty) = self.check(node, Some(want))?;
        // A text parameter stands for a name where a name is wanted.
        if let (Expr::Const(Value::Text(s)), Type::Text, Type::Enum(_) | Type::Country) =
            (&expr, ty, want)
        {
            let s = s.to_string();
            return self.string(&s, &node.span, Some(want)).map(|(e, _)| e);
        }
        if ty != want {
            return Err(err(&node.span, format!("expected {want}, found {ty}")));
        }
        Ok(expr)
    }

    pub fn check(&self, node: &Node, expect: Option<Type>) -> Checked {
        let span = &node.span;
        match &node.ast {
            Ast::Bool(b) => Ok((Expr::Const(Value::Bool(*b)), Type::Bool)),
            Ast::Int(n) => Ok((Expr::Const(Value::Int(*n)), Type::Int)),
            Ast::Decimal(x) => {
                let f = Fraction::from_f64(*x).map_err(|m| err(span, m))?;
                Ok((Expr::Const(Value::Fraction(f)), Type::Fraction))
            }
            Ast::Period(p) => Ok((Expr::Const(Value::Duration(*p)), Type::Duration)),
            Ast::Str(s) => self.string(s, span, expect),
            Ast::List(items) => self.list(items, span, expect),
            Ast::Path(p) => self.path(p, span),
            Ast::Call(name, args) => self.call(name, args, span),
            Ast::Not(inner) => {
                let e = self.check_as(inner, Type::Bool)?;
                Ok((Expr::Not(Box::new(e)), Type::Bool))
            }
            Ast::And(items) | Ast::Or(items) => {
                let is_or = matches!(node.ast, Ast::Or(_));
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    match self.check_as(item, Type::Bool)? {
                        // A definition that is itself an `or` joins this one, so that its
                        // set tests fuse with the others (`has_any` of both name lists).
                        Expr::Or(inner) if is_or => out.extend(inner),
                        e => out.push(e),
                    }
                }
                let e = if !is_or { Expr::And(out) } else { fuse_or(out) };
                Ok((e, Type::Bool))
            }
            Ast::Cmp(op, l, r) => self.compare(*op, l, r, span),
            Ast::In {
                negated,
                item,
                within,
            } => {
                let e = self.membership(item, within, span)?;
                Ok((
                    if *negated { Expr::Not(Box::new(e)) } else { e },
                    Type::Bool,
                ))
            }
            Ast::Add(l, r) => self.arith(l, r, span, 1),
            Ast::Sub(l, r) => self.arith(l, r, span, -1),
        }
    }

    fn string(&self, s: &str, span: &Span, expect: Option<Type>) -> Checked {
        match expect {
            Some(Type::Enum(kind)) => {
                let i = enum_index(kind, s, span)?;
                Ok((Expr::Const(Value::Enum(kind, i)), Type::Enum(kind)))
            }
            Some(Type::Country) => {
                let c = country(s).ok_or_else(|| {
                    err(span, format!("`{s}` is not a country code"))
                        .with_hint("use ISO 3166 alpha-2 capitals, like 'BE' or 'CN'")
                })?;
                Ok((Expr::Const(Value::Country(c)), Type::Country))
            }
            _ => Ok((Expr::Const(Value::Text(Arc::from(s))), Type::Text)),
        }
    }

    fn list(&self, items: &[Node], span: &Span, expect: Option<Type>) -> Checked {
        let mut names = Vec::with_capacity(items.len());
        for item in items {
            match &item.ast {
                Ast::Str(s) => names.push((s.clone(), item.span.clone())),
                _ => {
                    return Err(err(&item.span, "list items must be quoted names")
                        .with_hint("write ['strap', 'buckle']"));
                }
            }
        }
        match expect {
            Some(Type::Enum(kind)) => {
                let mut mask = 0u64;
                for (s, sp) in &names {
                    mask |= 1u64 << enum_index(kind, s, sp)?;
                }
                Ok((Expr::Const(Value::Set(kind, mask)), Type::Set(kind)))
            }
            Some(Type::Country) => {
                for (s, sp) in &names {
                    if country(s).is_none() {
                        return Err(err(sp, format!("`{s}` is not a country code"))
                            .with_hint("use ISO 3166 alpha-2 capitals, like 'BE'"));
                    }
                }
                let list: Arc<[Arc<str>]> =
                    names.iter().map(|(s, _)| Arc::from(s.as_str())).collect();
                Ok((Expr::Const(Value::TextList(list)), Type::TextList))
            }
            _ => {
                let list: Arc<[Arc<str>]> =
                    names.iter().map(|(s, _)| Arc::from(s.as_str())).collect();
                let _ = span;
                Ok((Expr::Const(Value::TextList(list)), Type::TextList))
            }
        }
    }

    fn path(&self, p: &str, span: &Span) -> Checked {
        if let Some(d) = self.defines.iter().find(|d| d.name == p) {
            self.uses.set(self.uses.get() | d.closure);
            return Ok((d.expr.clone(), d.ty));
        }
        if self.define_names.iter().any(|n| n == p) {
            return Err(err(
                span,
                format!("definition `{p}` cannot be used: it has an error of its own"),
            )
            .with_hint("see the error reported at its line in [define]"));
        }
        if let Some(name) = p.strip_prefix("params.") {
            let Some((_, v)) = self.params.iter().find(|(n, _)| n == name) else {
                let hint = schema::suggest(name, self.params.iter().map(|(n, _)| n.as_str()))
                    .map(|s| format!("did you mean `params.{s}`?"))
                    .unwrap_or_else(|| format!("declare it with [params.{name}]"));
                return Err(err(span, format!("unknown parameter `{p}`")).with_hint(hint));
            };
            return Ok((Expr::Const(v.clone()), v.ty()));
        }
        if let Some(id) = schema::fact_id(p) {
            return Ok((Expr::Fact(id), schema::fact(id).ty));
        }
        if let Some(d) = Derived::parse(p) {
            if p.starts_with("warranty.") && !self.has_warranty {
                return Err(err(
                    span,
                    format!("`{p}` needs a [warranty] section in this file"),
                ));
            }
            return Ok((Expr::Derived(d), d.ty()));
        }
        let names = FACTS
            .iter()
            .map(|f| f.path)
            .chain(Derived::ALL.iter().map(|d| d.name()))
            .chain(self.define_names.iter().map(String::as_str));
        let hint = match schema::suggest(p, names) {
            Some(s) => format!("did you mean `{s}`?"),
            None if !p.contains('.') => {
                "a name without a dot must be defined in the file's [define] table".to_string()
            }
            None => "see the fact table in docs/policy-language.md".to_string(),
        };
        let what = if p.contains('.') { "fact" } else { "name" };
        Err(err(span, format!("unknown {what} `{p}`")).with_hint(hint))
    }

    fn call(&self, name: &str, args: &[Node], span: &Span) -> Checked {
        let arity = |n: usize| -> Result<(), SyntaxError> {
            if args.len() == n {
                Ok(())
            } else {
                Err(err(
                    span,
                    format!(
                        "`{name}` takes {n} argument{}, found {}",
                        if n == 1 { "" } else { "s" },
                        args.len()
                    ),
                ))
            }
        };
        match name {
            "within" => {
                arity(2)?;
                let [a, b] = args else {
                    return Err(err(span, "wrong number of arguments"));
                };
                let date = self.check_as(a, Type::Date)?;
                let period = self.const_period(b)?;
                if period.unit == Unit::Hour {
                    return Err(
                        err(&b.span, "`within` counts days, months or years, not hours")
                            .with_hint("use a `deadline` rule for hour-based service targets"),
                    );
                }
                Ok((Expr::Within(Box::new(date), period), Type::Bool))
            }
            "known" => {
                arity(1)?;
                let [a] = args else {
                    return Err(err(span, "wrong number of arguments"));
                };
                let (e, _) = self.check(a, None)?;
                Ok((Expr::Known(Box::new(e)), Type::Bool))
            }
            "max" | "min" | "coalesce" => {
                arity(2)?;
                let [a, b] = args else {
                    return Err(err(span, "wrong number of arguments"));
                };
                let (ea, ta) = self.check(a, None)?;
                let (eb, tb) = self.check(b, Some(ta))?;
                if ta != tb {
                    return Err(err(
                        span,
                        format!("`{name}` needs two values of one type, found {ta} and {tb}"),
                    ));
                }
                if name != "coalesce" && !matches!(ta, Type::Date | Type::Int) {
                    return Err(err(
                        span,
                        format!("`{name}` works on dates or integers, not {ta}"),
                    ));
                }
                let (a, b) = (Box::new(ea), Box::new(eb));
                let e = match name {
                    "max" => Expr::Max(a, b),
                    "min" => Expr::Min(a, b),
                    _ => Expr::Coalesce(a, b),
                };
                Ok((e, ta))
            }
            "allowed" => {
                arity(1)?;
                if !self.is_law {
                    return Err(err(span, "`allowed` is only for law layers")
                        .with_hint("a seller's rules decide its own remedies directly"));
                }
                let [a] = args else {
                    return Err(err(span, "wrong number of arguments"));
                };
                let Ast::Str(r) = &a.ast else {
                    return Err(err(&a.span, "`allowed` takes a quoted remedy name"));
                };
                let remedy = remedy(r, &a.span)?;
                Ok((Expr::SellerAllowed(remedy), Type::Bool))
            }
            "has_any" => {
                arity(2)?;
                let [set, names] = args else {
                    return Err(err(span, "wrong number of arguments"));
                };
                let (set, ty) = self.check(set, None)?;
                let Type::Set(kind) = ty else {
                    return Err(err(
                        span,
                        format!("`has_any` takes a set such as `diagnosis.causes`, found {ty}"),
                    ));
                };
                match self.check(names, Some(Type::Enum(kind)))? {
                    (Expr::Const(Value::Set(_, mask)), _) if mask != 0 => {
                        Ok((Expr::SetHas(Box::new(set), mask), Type::Bool))
                    }
                    _ => Err(err(
                        &names.span,
                        format!("`has_any` takes a list of {} names", kind.name()),
                    )
                    .with_hint("write has_any(diagnosis.causes, ['drop', 'crush'])")),
                }
            }
            "date" => {
                arity(1)?;
                let [a] = args else {
                    return Err(err(span, "wrong number of arguments"));
                };
                let Ast::Str(s) = &a.ast else {
                    return Err(err(&a.span, "`date` takes a quoted date like '2024-01-31'"));
                };
                let d: Date = s
                    .parse()
                    .map_err(|_| err(&a.span, format!("`{s}` is not a date (YYYY-MM-DD)")))?;
                Ok((Expr::Const(Value::Date(d)), Type::Date))
            }
            _ => {
                let hint = schema::suggest(name, FUNCTIONS.iter().copied())
                    .map(|s| format!("did you mean `{s}`?"))
                    .unwrap_or_else(|| format!("functions are {}", FUNCTIONS.join(", ")));
                Err(err(span, format!("unknown function `{name}`")).with_hint(hint))
            }
        }
    }

    fn const_period(&self, node: &Node) -> Result<Period, SyntaxError> {
        match self.check(node, Some(Type::Duration))? {
            (Expr::Const(Value::Duration(p)), _) => Ok(p),
            (_, ty) => Err(err(
                &node.span,
                format!("expected a period like `7 days`, found {ty}"),
            )),
        }
    }

    fn compare(&self, op: CmpOp, l: &Node, r: &Node, span: &Span) -> Checked {
        // A quoted name takes its type from the other side.
        let (el, tl, er, tr) = if matches!(l.ast, Ast::Str(_)) {
            let (er, tr) = self.check(r, None)?;
            let (el, tl) = self.check(l, Some(tr))?;
            (el, tl, er, tr)
        } else {
            let (el, tl) = self.check(l, None)?;
            let (er, tr) = self.check(r, Some(tl))?;
            (el, tl, er, tr)
        };
        let (el, tl, er, tr) = widen(el, tl, er, tr);
        // A date fact compared with an instant is compared by its instant.
        let (el, tl, er, tr) = match (el, tl, er, tr) {
            (Expr::Fact(id), Type::Date, er, Type::Instant) => {
                (Expr::InstantOf(id), Type::Instant, er, Type::Instant)
            }
            (el, Type::Instant, Expr::Fact(id), Type::Date) => {
                (el, Type::Instant, Expr::InstantOf(id), Type::Instant)
            }
            other => other,
        };
        if tl != tr {
            return Err(err(span, format!("cannot compare {tl} with {tr}")));
        }
        let ordered = matches!(tl, Type::Date | Type::Instant | Type::Int | Type::Fraction);
        let equatable = ordered
            || matches!(
                tl,
                Type::Bool
                    | Type::Enum(_)
                    | Type::Country
                    | Type::Text
                    | Type::Duration
                    | Type::Money
            );
        let is_eq = matches!(op, CmpOp::Eq | CmpOp::Ne);
        if !(ordered || is_eq && equatable) {
            return Err(
                err(span, format!("`{}` does not apply to {tl}", op.symbol())).with_hint(
                    if is_eq {
                        "compare single values, or test membership with `in`"
                    } else {
                        "only dates, integers and fractions are ordered"
                    },
                ),
            );
        }
        Ok((Expr::Cmp(op, Box::new(el), Box::new(er)), Type::Bool))
    }

    fn membership(&self, item: &Node, within: &Node, span: &Span) -> Result<Expr, SyntaxError> {
        if let Ast::Str(_) = item.ast {
            // 'drop' in diagnosis.causes
            let (set, ty) = self.check(within, None)?;
            let Type::Set(kind) = ty else {
                return Err(err(
                    &within.span,
                    format!("expected a set such as `diagnosis.causes`, found {ty}"),
                ));
            };
            let (e, _) = self.check(item, Some(Type::Enum(kind)))?;
            let Expr::Const(Value::Enum(_, i)) = e else {
                return Err(err(&item.span, "expected a name"));
            };
            return Ok(Expr::SetHas(Box::new(set), 1u64 << i));
        }
        let (e, ty) = self.check(item, None)?;
        match ty {
            Type::Enum(kind) => {
                let (list, lty) = self.check(within, Some(Type::Enum(kind)))?;
                let mask = match (list, lty) {
                    (Expr::Const(Value::Set(_, m)), Type::Set(_)) => m,
                    (Expr::Const(Value::TextList(names)), _) => {
                        let mut m = 0u64;
                        for n in names.iter() {
                            m |= 1u64 << enum_index(kind, n, &within.span)?;
                        }
                        m
                    }
                    (_, t) => {
                        return Err(err(
                            &within.span,
                            format!("expected a list of {} names, found {t}", kind.name()),
                        ));
                    }
                };
                Ok(Expr::EnumIn(Box::new(e), mask))
            }
            Type::Country | Type::Text => {
                let (list, lty) = self.check(within, Some(ty))?;
                match list {
                    Expr::Const(Value::TextList(items)) if ty == Type::Country => {
                        let mut codes = Vec::with_capacity(items.len());
                        for s in items.iter() {
                            match country(s) {
                                Some(c) => codes.push(c),
                                None => {
                                    return Err(err(
                                        &within.span,
                                        format!("`{s}` is not a country code"),
                                    ));
                                }
                            }
                        }
                        Ok(Expr::CountryIn(Box::new(e), codes.into()))
                    }
                    Expr::Const(Value::TextList(items)) => Ok(Expr::TextIn(Box::new(e), items)),
                    _ => Err(err(
                        &within.span,
                        format!("expected a list of texts, found {lty}"),
                    )),
                }
            }
            other => Err(err(span, format!("`in` does not apply to {other}"))
                .with_hint("`in` tests a name against a list, or a name against a set fact")),
        }
    }

    fn arith(&self, l: &Node, r: &Node, span: &Span, sign: i64) -> Checked {
        let (el, tl) = self.check(l, None)?;
        match tl {
            Type::Date => {
                let p = self.const_period(r)?;
                if p.unit == Unit::Hour {
                    let Expr::Fact(id) = el else {
                        return Err(err(&r.span, "hours can only be added to a date fact")
                            .with_hint("write e.g. `service.purchased + 24 hours`"));
                    };
                    return Ok((Expr::HourShift(id, p.n, sign), Type::Instant));
                }
                Ok((Expr::DateShift(Box::new(el), p, sign), Type::Date))
            }
            Type::Int => {
                let er = self.check_as(r, Type::Int)?;
                Ok((Expr::IntAdd(Box::new(el), Box::new(er), sign), Type::Int))
            }
            other => Err(err(span, format!("cannot add to or subtract from {other}"))),
        }
    }
}

/// `'a' in S or 'b' in S` is `S` meeting the mask {a, b}: one test instead of many. The same
/// for `x in [..] or x == 'c'` on one enumeration. Three-valued results are unchanged.
fn fuse_or(items: Vec<Expr>) -> Expr {
    let mut out: Vec<Expr> = Vec::with_capacity(items.len());
    for item in items {
        let item = match item {
            Expr::Cmp(CmpOp::Eq, a, b) => match (*a, *b) {
                (e, Expr::Const(Value::Enum(_, i))) | (Expr::Const(Value::Enum(_, i)), e) => {
                    Expr::EnumIn(Box::new(e), 1u64 << i)
                }
                (a, b) => Expr::Cmp(CmpOp::Eq, Box::new(a), Box::new(b)),
            },
            other => other,
        };
        let merged = out.iter_mut().any(|prev| match (prev, &item) {
            (Expr::SetHas(pe, pm), Expr::SetHas(e, m))
            | (Expr::EnumIn(pe, pm), Expr::EnumIn(e, m))
                if **pe == **e =>
            {
                *pm |= m;
                true
            }
            _ => false,
        });
        if !merged {
            out.push(item);
        }
    }
    if out.len() == 1 {
        out.pop().unwrap_or(Expr::Or(Vec::new()))
    } else {
        Expr::Or(out)
    }
}

/// An integer literal compared with a fraction becomes a fraction (`x > 0`).
fn widen(el: Expr, tl: Type, er: Expr, tr: Type) -> (Expr, Type, Expr, Type) {
    let as_fraction = |e: &Expr| match e {
        Expr::Const(Value::Int(n @ (0 | 1))) => Some(Expr::Const(Value::Fraction(Fraction(
            *n as u32 * 1_000_000,
        )))),
        _ => None,
    };
    match (tl, tr) {
        (Type::Fraction, Type::Int) => match as_fraction(&er) {
            Some(e) => (el, tl, e, Type::Fraction),
            None => (el, tl, er, tr),
        },
        (Type::Int, Type::Fraction) => match as_fraction(&el) {
            Some(e) => (e, Type::Fraction, er, tr),
            None => (el, tl, er, tr),
        },
        _ => (el, tl, er, tr),
    }
}

pub fn enum_index(kind: EnumKind, s: &str, span: &Span) -> Result<u8, SyntaxError> {
    kind.index(s).ok_or_else(|| {
        let hint = match schema::suggest(s, kind.variants().iter().copied()) {
            Some(v) => format!("did you mean '{v}'?"),
            None => format!("one of: {}", kind.variants().join(", ")),
        };
        err(span, format!("`{s}` is not a {}", kind.name())).with_hint(hint)
    })
}

pub fn remedy(s: &str, span: &Span) -> Result<Remedy, SyntaxError> {
    enum_index(EnumKind::Remedy, s, span).and_then(|i| {
        Remedy::ALL
            .get(usize::from(i))
            .copied()
            .ok_or_else(|| err(span, "unknown remedy"))
    })
}

pub fn country(s: &str) -> Option<[u8; 2]> {
    match s.as_bytes() {
        [a, b] if a.is_ascii_uppercase() && b.is_ascii_uppercase() => Some([*a, *b]),
        _ => None,
    }
}
