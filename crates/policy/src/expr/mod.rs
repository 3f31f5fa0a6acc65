//! Condition expressions: syntax, type checking and three-valued evaluation.
//!
//! A fact that is not supplied is *unknown*; everything computed from it is unknown, and
//! `and`/`or`/`not` follow Kleene logic. `eval` returns `None` for unknown.

pub mod check;
pub mod logic;
pub mod syntax;

use std::sync::Arc;

use jiff::civil::Date;

use crate::schema::{Derived, FactId, Remedy};
use crate::value::{Period, Value};
use syntax::CmpOp;

/// A short list of facts (what a decision waits for): inline, no allocation for up to four.
pub type FactList = smallvec::SmallVec<[FactId; 4]>;

/// A typed, compiled expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Const(Value),
    Fact(FactId),
    Derived(Derived),
    /// A boolean leaf shared by several rules, evaluated once per decision (see
    /// [`crate::model::Policy::atoms`]).
    Atom(u16),
    Not(Box<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Cmp(CmpOp, Box<Expr>, Box<Expr>),
    /// An enumeration value is one of the names in the mask.
    EnumIn(Box<Expr>, u64),
    /// A set contains the name in the mask.
    SetHas(Box<Expr>, u64),
    TextIn(Box<Expr>, Arc<[Arc<str>]>),
    /// A country is one of these codes.
    CountryIn(Box<Expr>, Arc<[[u8; 2]]>),
    DateShift(Box<Expr>, Period, i64),
    /// A date fact's instant moved by hours.
    HourShift(FactId, u32, i64),
    /// A date fact's instant (the start of its day when only the day is known).
    InstantOf(FactId),
    IntAdd(Box<Expr>, Box<Expr>, i64),
    Within(Box<Expr>, Period),
    Known(Box<Expr>),
    Max(Box<Expr>, Box<Expr>),
    Min(Box<Expr>, Box<Expr>),
    Coalesce(Box<Expr>, Box<Expr>),
    SellerAllowed(Remedy),
}

/// A shared boolean leaf in the shape it is evaluated in: the common shapes read the stored
/// fact directly, without building values; anything else is evaluated as an expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Leaf {
    /// A boolean fact.
    IsTrue(FactId),
    /// A fact equals (or does not equal) a constant.
    Equals(FactId, Value, bool),
    /// An enumeration fact is one of the names in the mask.
    OneOf(FactId, u64),
    /// A set fact contains one of the names in the mask.
    Contains(FactId, u64),
    /// `within(fact, period)`.
    Within(FactId, Period),
    /// `known(fact)`.
    Known(FactId),
    /// A boolean fact, or a default when it is unknown (`coalesce(fact, true)`).
    IsTrueOr(FactId, bool),
    /// A number fact (or its default when unknown) compared with a constant.
    Compare(FactId, Option<Value>, CmpOp, Value),
    /// `warranty.in` or `warranty.covered`.
    Warranty(Derived),
    /// `allowed(remedy)`: what the seller offers, for a law layer.
    SellerAllows(Remedy),
    /// A country fact is one of a set of codes, held as a bit per code (26 × 26 of them).
    InCountries(FactId, Box<CountrySet>),
    /// Two dates compared (`claim <= warranty.end`, `claim >= warranty.end - 3 months`):
    /// both sides evaluated as dates, without building values.
    Dates(CmpOp, Expr, Expr),
    Other(Expr),
}

/// Three-valued `and` (`decisive` false) or `or` (`decisive` true) of values computed in turn:
/// the decisive value as soon as one is it, else unknown if one was, else the other value.
#[inline]
pub(crate) fn kleene(
    decisive: bool,
    values: impl IntoIterator<Item = Option<bool>>,
) -> Option<bool> {
    let mut unknown = false;
    for v in values {
        match v {
            Some(v) if v == decisive => return Some(decisive),
            None => unknown = true,
            Some(_) => {}
        }
    }
    (!unknown).then_some(!decisive)
}

/// A set of two-letter country codes (`A`–`Z` each), a bit per code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CountrySet([u64; 11]);

impl CountrySet {
    fn index(c: [u8; 2]) -> Option<usize> {
        let [a, b] = c;
        (a.is_ascii_uppercase() && b.is_ascii_uppercase())
            .then(|| usize::from(a - b'A') * 26 + usize::from(b - b'A'))
    }

    /// The set of these codes; `None` when one is not two capital letters.
    pub fn of(codes: &[[u8; 2]]) -> Option<Self> {
        let mut words = [0u64; 11];
        for c in codes {
            let i = Self::index(*c)?;
            *words.get_mut(i / 64)? |= 1 << (i % 64);
        }
        Some(Self(words))
    }

    pub fn contains(&self, c: [u8; 2]) -> bool {
        Self::index(c)
            .and_then(|i| self.0.get(i / 64).map(|w| w >> (i % 64) & 1 != 0))
            .unwrap_or(false)
    }
}

impl Leaf {
    pub fn compile(e: &Expr) -> Self {
        let fact = |e: &Expr| match e {
            Expr::Fact(id) => Some(*id),
            _ => None,
        };
        match e {
            Expr::Fact(id) => Leaf::IsTrue(*id),
            Expr::Cmp(op, a, b) if a.is_date() && b.is_date() => {
                Leaf::Dates(*op, (**a).clone(), (**b).clone())
            }
            Expr::Cmp(op @ (CmpOp::Eq | CmpOp::Ne), a, b) => match (&**a, &**b) {
                // An enumeration value is a bit of a mask: `x == a` is `x in [a]`, and
                // `x != a` is `x` in every name but `a`.
                (Expr::Fact(id), Expr::Const(Value::Enum(_, i)))
                | (Expr::Const(Value::Enum(_, i)), Expr::Fact(id))
                    if u32::from(*i) < u64::BITS =>
                {
                    let bit = 1u64 << i;
                    Leaf::OneOf(*id, if *op == CmpOp::Eq { bit } else { !bit })
                }
                // Dates may be stored as instants, so they take the general path.
                (Expr::Fact(id), Expr::Const(v)) | (Expr::Const(v), Expr::Fact(id))
                    if !matches!(v, Value::Date(_)) =>
                {
                    Leaf::Equals(*id, v.clone(), *op == CmpOp::Eq)
                }
                _ => Leaf::Other(e.clone()),
            },
            Expr::EnumIn(inner, mask) => {
                fact(inner).map_or_else(|| Leaf::Other(e.clone()), |id| Leaf::OneOf(id, *mask))
            }
            Expr::CountryIn(inner, codes) => match (fact(inner), CountrySet::of(codes)) {
                (Some(id), Some(set)) => Leaf::InCountries(id, Box::new(set)),
                _ => Leaf::Other(e.clone()),
            },
            Expr::SetHas(inner, mask) => {
                fact(inner).map_or_else(|| Leaf::Other(e.clone()), |id| Leaf::Contains(id, *mask))
            }
            Expr::Within(inner, p) => {
                fact(inner).map_or_else(|| Leaf::Other(e.clone()), |id| Leaf::Within(id, *p))
            }
            Expr::Known(inner) => fact(inner).map_or_else(|| Leaf::Other(e.clone()), Leaf::Known),
            Expr::Coalesce(a, b) => match (&**a, &**b) {
                (Expr::Fact(id), Expr::Const(Value::Bool(d))) => Leaf::IsTrueOr(*id, *d),
                _ => Leaf::Other(e.clone()),
            },
            Expr::Cmp(op, a, b) => {
                let number = |v: &Value| matches!(v, Value::Int(_) | Value::Fraction(_));
                let operand = match &**a {
                    Expr::Fact(id) => Some((*id, None)),
                    Expr::Coalesce(x, y) => match (&**x, &**y) {
                        (Expr::Fact(id), Expr::Const(d)) if number(d) => {
                            Some((*id, Some(d.clone())))
                        }
                        _ => None,
                    },
                    _ => None,
                };
                match (operand, &**b) {
                    (Some((id, default)), Expr::Const(k)) if number(k) => {
                        Leaf::Compare(id, default, *op, k.clone())
                    }
                    _ => Leaf::Other(e.clone()),
                }
            }
            Expr::Derived(d @ (Derived::WarrantyIn | Derived::WarrantyCovered)) => {
                Leaf::Warranty(*d)
            }
            Expr::SellerAllowed(r) => Leaf::SellerAllows(*r),
            other => Leaf::Other(other.clone()),
        }
    }

    // Inlined into the loop that evaluates a layer's leaves: a call per leaf cost more than
    // most leaves do (measured: 660 of 18.2 k instructions per CryptKi decision).
    #[inline(always)]
    pub fn eval<E: Env + ?Sized>(&self, env: &E) -> Option<bool> {
        match self {
            Leaf::IsTrue(id) => match env.fact_ref(*id)? {
                Value::Bool(b) => Some(*b),
                _ => None,
            },
            Leaf::Equals(id, v, eq) => env.fact_ref(*id).map(|f| (f == v) == *eq),
            Leaf::OneOf(id, mask) => match env.fact_ref(*id)? {
                Value::Enum(_, i) => {
                    Some(mask.checked_shr(u32::from(*i)).is_some_and(|m| m & 1 != 0))
                }
                _ => None,
            },
            Leaf::Contains(id, mask) => match env.fact_ref(*id)? {
                Value::Set(_, bits) => Some(bits & mask != 0),
                _ => None,
            },
            Leaf::Within(id, p) => {
                let d = match env.fact_ref(*id) {
                    Some(Value::Date(d)) => *d,
                    _ => match env.fact(*id)? {
                        Value::Date(d) => d,
                        _ => return None,
                    },
                };
                p.reaches(d, env.claim())
            }
            Leaf::Known(id) => Some(env.fact_ref(*id).is_some() || env.fact(*id).is_some()),
            Leaf::IsTrueOr(id, default) => match env.fact_ref(*id) {
                Some(Value::Bool(b)) => Some(*b),
                Some(_) => None,
                None => Some(*default),
            },
            Leaf::Compare(id, default, op, k) => match env.fact_ref(*id).or(default.as_ref()) {
                Some(v) => compare(*op, v, k),
                None => None,
            },
            Leaf::Warranty(d) => match derived(*d, env)? {
                Value::Bool(b) => Some(b),
                _ => None,
            },
            Leaf::SellerAllows(r) => Some(env.seller_allows(*r)),
            Leaf::InCountries(id, set) => match env.fact_ref(*id)? {
                Value::Country(c) => Some(set.contains(*c)),
                _ => None,
            },
            Leaf::Dates(op, a, b) => {
                let (x, y) = (a.eval_date(env)?, b.eval_date(env)?);
                Some(op.holds(x.cmp(&y)))
            }
            Leaf::Other(e) => e.eval_bool(env),
        }
    }
}

impl Leaf {
    /// The facts whose absence makes this leaf unknown (it is known to be unknown).
    pub(crate) fn unknown_facts<E: Env + ?Sized>(&self, env: &E, out: &mut FactList) {
        let fact = match self {
            Leaf::IsTrue(id)
            | Leaf::Equals(id, ..)
            | Leaf::OneOf(id, _)
            | Leaf::Contains(id, _)
            | Leaf::Within(id, _)
            | Leaf::IsTrueOr(id, _)
            | Leaf::InCountries(id, _)
            | Leaf::Compare(id, ..) => *id,
            Leaf::Known(_) | Leaf::SellerAllows(_) => return,
            Leaf::Warranty(_) => return env.warranty_unknowns(out),
            Leaf::Dates(_, a, b) => {
                if self.eval(env).is_none() {
                    a.unknown_facts(env, out);
                    b.unknown_facts(env, out);
                }
                return;
            }
            Leaf::Other(e) => return e.unknown_facts(env, out),
        };
        if env.fact_ref(fact).is_none() && env.fact(fact).is_none() && !out.contains(&fact) {
            out.push(fact);
        }
    }
}

/// Folds constants out of `and`, `or` and `not` (parameters are constants by now): `true and
/// x` is `x`, `false and x` is `false`. Three-valued results are unchanged.
pub fn fold(e: &mut Expr) {
    match e {
        Expr::Not(inner) => {
            fold(inner);
            if let Expr::Const(Value::Bool(b)) = **inner {
                *e = Expr::Const(Value::Bool(!b));
            }
        }
        Expr::And(_) | Expr::Or(_) => {
            let is_and = matches!(e, Expr::And(_));
            let (Expr::And(items) | Expr::Or(items)) = e else {
                return;
            };
            items.iter_mut().for_each(fold);
            // The value that decides the whole (`false` for and, `true` for or) wins outright;
            // the other one is neutral and drops out.
            if items.contains(&Expr::Const(Value::Bool(!is_and))) {
                *e = Expr::Const(Value::Bool(!is_and));
                return;
            }
            items.retain(|i| *i != Expr::Const(Value::Bool(is_and)));
            match items.len() {
                0 => *e = Expr::Const(Value::Bool(is_and)),
                1 => {
                    if let Some(only) = items.pop() {
                        *e = only;
                    }
                }
                _ => {}
            }
        }
        _ => {}
    }
}

/// Replaces every boolean leaf of `e` (a comparison, a membership test, a window…) by an
/// [`Expr::Atom`] into `atoms`, sharing equal leaves. `And`, `Or` and `Not` stay. Past
/// [`logic::MAX_ATOMS`] distinct leaves, new ones stay where they are.
pub fn intern(e: &mut Expr, atoms: &mut Vec<Expr>) {
    match e {
        Expr::And(items) | Expr::Or(items) => items.iter_mut().for_each(|i| intern(i, atoms)),
        Expr::Not(inner) => intern(inner, atoms),
        Expr::Const(_) | Expr::Atom(_) => {}
        leaf => {
            let i = match atoms.iter().position(|a| a == leaf) {
                Some(i) => i,
                None if atoms.len() < logic::MAX_ATOMS => {
                    atoms.push(leaf.clone());
                    atoms.len() - 1
                }
                None => return,
            };
            if let Ok(i) = u16::try_from(i) {
                *leaf = Expr::Atom(i);
            }
        }
    }
}

/// The derived warranty values of one layer, for `warranty.*`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WarrantyView {
    pub start: Option<Date>,
    pub end: Option<Date>,
    pub covered: Option<bool>,
    pub basis: Option<u8>,
}

/// What an expression is evaluated against.
pub trait Env {
    fn fact(&self, id: FactId) -> Option<Value>;
    /// A fact's value without copying it; `None` also for dates given as instants.
    fn fact_ref(&self, id: FactId) -> Option<&Value>;
    /// The values of the shared atoms (all unknown until the layer has evaluated them).
    fn atoms(&self) -> logic::Atoms;
    /// The compiled leaf behind a shared atom.
    fn leaf(&self, i: u16) -> Option<&Leaf>;
    fn today(&self) -> Date;
    fn claim(&self) -> Date;
    fn warranty(&self) -> WarrantyView;
    fn seller_allows(&self, remedy: Remedy) -> bool;
    /// The facts whose absence leaves this layer's warranty unknown.
    fn warranty_unknowns(&self, out: &mut FactList);
    /// The instant of a date fact: as given, or the start of its day in the policy's zone.
    fn instant(&self, id: FactId) -> Option<jiff::Timestamp>;
}

impl Expr {
    /// Whether this is certainly a date: the shapes [`Expr::eval_date`] evaluates itself.
    fn is_date(&self) -> bool {
        match self {
            Expr::Const(v) => matches!(v, Value::Date(_)),
            Expr::Derived(d) => matches!(
                d,
                Derived::Today | Derived::Claim | Derived::WarrantyStart | Derived::WarrantyEnd
            ),
            Expr::DateShift(..) => true,
            // Both sides have one type (the checker says so).
            Expr::Coalesce(a, b) => a.is_date() || b.is_date(),
            Expr::Fact(id) => crate::schema::FACTS
                .get(usize::from(*id))
                .is_some_and(|f| f.ty == crate::schema::Type::Date),
            _ => false,
        }
    }

    /// A date, or `None` when unknown or not a date: [`Expr::eval`] for date expressions,
    /// without building a [`Value`] at every node.
    pub fn eval_date<E: Env + ?Sized>(&self, env: &E) -> Option<Date> {
        match self {
            Expr::Const(Value::Date(d)) => Some(*d),
            Expr::Fact(id) => match env.fact_ref(*id) {
                Some(Value::Date(d)) => Some(*d),
                Some(_) => None,
                None => match env.fact(*id)? {
                    Value::Date(d) => Some(d),
                    _ => None,
                },
            },
            Expr::Derived(Derived::Today) => Some(env.today()),
            Expr::Derived(Derived::Claim) => Some(env.claim()),
            Expr::Derived(Derived::WarrantyStart) => env.warranty().start,
            Expr::Derived(Derived::WarrantyEnd) => env.warranty().end,
            Expr::Coalesce(a, b) => a.eval_date(env).or_else(|| b.eval_date(env)),
            Expr::DateShift(e, p, sign) => p.add_to(e.eval_date(env)?, *sign),
            _ => match self.eval(env)? {
                Value::Date(d) => Some(d),
                _ => None,
            },
        }
    }

    /// Evaluates to a value, or `None` when unknown.
    pub fn eval<E: Env + ?Sized>(&self, env: &E) -> Option<Value> {
        match self {
            Expr::Const(v) => Some(v.clone()),
            Expr::Fact(id) => env.fact(*id),
            Expr::Derived(d) => derived(*d, env),
            Expr::SellerAllowed(r) => Some(Value::Bool(env.seller_allows(*r))),
            Expr::Known(e) => Some(Value::Bool(e.eval(env).is_some())),
            Expr::Coalesce(a, b) => a.eval(env).or_else(|| b.eval(env)),
            Expr::DateShift(e, p, sign) => match e.eval(env)? {
                Value::Date(d) => p.add_to(d, *sign).map(Value::Date),
                _ => None,
            },
            Expr::HourShift(id, hours, sign) => {
                let t = env.instant(*id)?;
                let span = jiff::Span::new().try_hours(i64::from(*hours) * sign).ok()?;
                t.checked_add(span).ok().map(Value::Instant)
            }
            Expr::InstantOf(id) => env.instant(*id).map(Value::Instant),
            Expr::IntAdd(a, b, sign) => match (a.eval(env)?, b.eval(env)?) {
                (Value::Int(x), Value::Int(y)) => {
                    x.checked_add(y.checked_mul(*sign)?).map(Value::Int)
                }
                _ => None,
            },
            Expr::Max(a, b) | Expr::Min(a, b) => {
                let (x, y) = (a.eval(env)?, b.eval(env)?);
                let pick_first = match (&x, &y) {
                    (Value::Date(p), Value::Date(q)) => p >= q,
                    (Value::Int(p), Value::Int(q)) => p >= q,
                    _ => return None,
                };
                let is_max = matches!(self, Expr::Max(..));
                Some(if pick_first == is_max { x } else { y })
            }
            _ => self.eval_bool(env).map(Value::Bool),
        }
    }

    /// Evaluates a boolean expression; `None` is unknown.
    pub fn eval_bool<E: Env + ?Sized>(&self, env: &E) -> Option<bool> {
        match self {
            Expr::Const(Value::Bool(b)) => Some(*b),
            Expr::Not(e) => e.eval_bool(env).map(|b| !b),
            Expr::And(items) => kleene(false, items.iter().map(|e| e.eval_bool(env))),
            Expr::Or(items) => kleene(true, items.iter().map(|e| e.eval_bool(env))),
            Expr::Cmp(op, a, b) => {
                let (x, y) = (a.operand(env)?, b.operand(env)?);
                compare(*op, &x, &y)
            }
            Expr::EnumIn(e, mask) => match *e.operand(env)? {
                Value::Enum(_, i) => Some(mask & (1u64 << i) != 0),
                _ => None,
            },
            Expr::SetHas(e, mask) => match *e.operand(env)? {
                Value::Set(_, bits) => Some(bits & mask != 0),
                _ => None,
            },
            Expr::CountryIn(e, codes) => match *e.operand(env)? {
                Value::Country(c) => Some(codes.contains(&c)),
                _ => None,
            },
            Expr::TextIn(e, items) => match e.eval(env)? {
                Value::Text(t) => Some(items.iter().any(|s| **s == *t)),
                Value::Country(c) => Some(items.iter().any(|s| s.as_bytes() == c)),
                _ => None,
            },
            Expr::Within(e, p) => match e.eval(env)? {
                Value::Date(d) => p.reaches(d, env.claim()),
                _ => None,
            },
            Expr::Known(e) => Some(e.eval(env).is_some()),
            Expr::SellerAllowed(r) => Some(env.seller_allows(*r)),
            Expr::Atom(i) => env.atoms().get(*i),
            Expr::Fact(_) | Expr::Derived(_) | Expr::Coalesce(..) => match *self.operand(env)? {
                Value::Bool(b) => Some(b),
                _ => None,
            },
            _ => None,
        }
    }

    /// Evaluates to a value, borrowing constants and facts rather than copying them.
    fn operand<'a, E: Env + ?Sized>(&'a self, env: &'a E) -> Option<std::borrow::Cow<'a, Value>> {
        use std::borrow::Cow;
        match self {
            Expr::Const(v) => Some(Cow::Borrowed(v)),
            Expr::Fact(id) => match env.fact_ref(*id) {
                Some(v) => Some(Cow::Borrowed(v)),
                None => env.fact(*id).map(Cow::Owned),
            },
            _ => self.eval(env).map(Cow::Owned),
        }
    }

    /// The facts whose absence makes this expression unknown.
    pub fn unknown_facts<E: Env + ?Sized>(&self, env: &E, out: &mut FactList) {
        if self.eval(env).is_some() {
            return;
        }
        match self {
            Expr::Fact(id) | Expr::HourShift(id, ..) | Expr::InstantOf(id) => {
                if !out.contains(id) {
                    out.push(*id);
                }
            }
            Expr::Derived(d) => {
                if *d != Derived::Today && *d != Derived::Claim {
                    env.warranty_unknowns(out);
                }
            }
            Expr::Atom(i) => {
                if let Some(leaf) = env.leaf(*i) {
                    leaf.unknown_facts(env, out);
                }
            }
            _ => self.for_each_child(|c| c.unknown_facts(env, out)),
        }
    }

    fn for_each_child(&self, mut f: impl FnMut(&Expr)) {
        match self {
            Expr::Const(_)
            | Expr::Fact(_)
            | Expr::Derived(_)
            | Expr::SellerAllowed(_)
            | Expr::Atom(_) => {}
            Expr::HourShift(..) | Expr::InstantOf(_) => {}
            Expr::Not(e)
            | Expr::EnumIn(e, _)
            | Expr::SetHas(e, _)
            | Expr::TextIn(e, _)
            | Expr::CountryIn(e, _)
            | Expr::DateShift(e, _, _)
            | Expr::Within(e, _)
            | Expr::Known(e) => f(e),
            Expr::And(items) | Expr::Or(items) => items.iter().for_each(f),
            Expr::Cmp(_, a, b)
            | Expr::IntAdd(a, b, _)
            | Expr::Max(a, b)
            | Expr::Min(a, b)
            | Expr::Coalesce(a, b) => {
                f(a);
                f(b);
            }
        }
    }
}

fn derived<E: Env + ?Sized>(d: Derived, env: &E) -> Option<Value> {
    let w = env.warranty();
    match d {
        Derived::Today => Some(Value::Date(env.today())),
        Derived::Claim => Some(Value::Date(env.claim())),
        Derived::WarrantyStart => w.start.map(Value::Date),
        Derived::WarrantyEnd => w.end.map(Value::Date),
        Derived::WarrantyCovered => w.covered.map(Value::Bool),
        Derived::WarrantyBasis => w
            .basis
            .map(|b| Value::Enum(crate::schema::EnumKind::Basis, b)),
        Derived::WarrantyIn => match w.covered? {
            false => Some(Value::Bool(false)),
            true => w.end.map(|end| Value::Bool(env.claim() <= end)),
        },
    }
}

fn compare(op: CmpOp, x: &Value, y: &Value) -> Option<bool> {
    use std::cmp::Ordering;
    let ord: Option<Ordering> = match (x, y) {
        (Value::Date(a), Value::Date(b)) => Some(a.cmp(b)),
        (Value::Instant(a), Value::Instant(b)) => Some(a.cmp(b)),
        (Value::Int(a), Value::Int(b)) => Some(a.cmp(b)),
        (Value::Fraction(a), Value::Fraction(b)) => Some(a.cmp(b)),
        _ => None,
    };
    match (op, ord) {
        (CmpOp::Eq, _) => Some(x == y),
        (CmpOp::Ne, _) => Some(x != y),
        (_, Some(o)) => Some(op.holds(o)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_country_set_holds_exactly_its_codes() {
        let set = CountrySet::of(&[*b"AT", *b"ZZ", *b"DE", *b"AA"]);
        assert!(set.is_some());
        let Some(set) = set else { return };
        for c in [*b"AT", *b"ZZ", *b"DE", *b"AA"] {
            assert!(set.contains(c), "{c:?}");
        }
        for c in [*b"AU", *b"FR", *b"ZY", *b"BA", *b"de", *b"D1"] {
            assert!(!set.contains(c), "{c:?}");
        }
        assert_eq!(CountrySet::of(&[*b"A1"]), None);
    }
}
