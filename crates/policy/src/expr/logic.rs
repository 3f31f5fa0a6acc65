//! Rule conditions over shared atoms, compiled to bit masks.
//!
//! Once a layer's atoms are evaluated (one pass, see [`crate::model::Policy::leaves`]), each
//! is a pair of bits: known, and true. A condition made of `and`, `or` and `not` over atoms
//! then reduces to mask tests: `a and not b and c` is one [`Logic::All`], decided by two
//! `&` and a compare, where walking the expression tree costs a call per node. The answer is
//! the same three-valued (Kleene) one the tree gives; `tests/properties.rs` checks it.

use super::Expr;
use crate::value::Value;

/// The most atoms a policy file shares; leaves beyond it stay in their rule's expression.
pub const MAX_ATOMS: usize = 64;

/// The evaluated atoms of one layer: bit `i` of `known` says atom `i` is known, bit `i` of
/// `truth` that it is true (meaningful only where known).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Atoms {
    pub known: u64,
    pub truth: u64,
}

impl Atoms {
    pub fn get(&self, i: u16) -> Option<bool> {
        let bit = 1u64.checked_shl(u32::from(i))?;
        (self.known & bit != 0).then_some(self.truth & bit != 0)
    }

    /// Records atom `i`'s value (`i` < [`MAX_ATOMS`]; others are ignored).
    pub fn set(&mut self, i: u32, v: Option<bool>) {
        let Some(bit) = 1u64.checked_shl(i) else {
            return;
        };
        let known = u64::from(v.is_some());
        let truth = u64::from(v == Some(true));
        self.known |= bit * known;
        self.truth |= bit * truth;
    }
}

/// A condition over atoms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Logic {
    Const(bool),
    /// Every atom in `pos` is true and every atom in `neg` is false.
    All {
        pos: u64,
        neg: u64,
    },
    /// Some atom in `pos` is true or some atom in `neg` is false.
    Any {
        pos: u64,
        neg: u64,
    },
    /// `All { pos, neg }` and every clause, each an `Any`: the usual shape of `a and (b or
    /// c)`, decided in one loop.
    AllOfAny {
        pos: u64,
        neg: u64,
        clauses: Box<[(u64, u64)]>,
    },
    /// `Any { pos, neg }` or some clause, each an `All`: `a or (b and c)`.
    AnyOfAll {
        pos: u64,
        neg: u64,
        clauses: Box<[(u64, u64)]>,
    },
    And(Box<[Logic]>),
    Or(Box<[Logic]>),
}

impl Logic {
    /// Compiles an interned expression; `None` when it holds anything but `and`, `or`, `not`,
    /// boolean constants and atoms (the caller then evaluates the expression itself).
    pub fn compile(e: &Expr) -> Option<Self> {
        Some(match e {
            Expr::Const(Value::Bool(b)) => Logic::Const(*b),
            Expr::Atom(i) => {
                let bit = 1u64.checked_shl(u32::from(*i))?;
                Logic::All { pos: bit, neg: 0 }
            }
            Expr::Not(inner) => Self::compile(inner)?.negate(),
            Expr::And(items) => Self::join(items, true)?,
            Expr::Or(items) => Self::join(items, false)?,
            _ => return None,
        })
    }

    /// `and` (or `or`) of the items, with their plain literals merged into one mask pair.
    fn join(items: &[Expr], is_and: bool) -> Option<Self> {
        let (mut pos, mut neg) = (0u64, 0u64);
        let mut rest = Vec::new();
        for item in items {
            match (Self::compile(item)?, is_and) {
                (Logic::All { pos: p, neg: n }, true) | (Logic::Any { pos: p, neg: n }, false) => {
                    pos |= p;
                    neg |= n;
                }
                // A single literal reads the same under `All` and `Any`.
                (Logic::Any { pos: p, neg: n }, true) | (Logic::All { pos: p, neg: n }, false)
                    if (p | n).count_ones() == 1 =>
                {
                    pos |= p;
                    neg |= n;
                }
                (other, _) => rest.push(other),
            }
        }
        if pos | neg != 0 {
            rest.insert(
                0,
                if is_and {
                    Logic::All { pos, neg }
                } else {
                    Logic::Any { pos, neg }
                },
            );
        }
        // One level of the dual shape under the merged literals: a flat two-level form.
        let dual = |l: &Logic| match (l, is_and) {
            (Logic::Any { pos, neg }, true) | (Logic::All { pos, neg }, false) => {
                Some((*pos, *neg))
            }
            _ => None,
        };
        let clauses: Option<Vec<(u64, u64)>> = rest
            .iter()
            .skip(usize::from(pos | neg != 0))
            .map(dual)
            .collect();
        if rest.len() > 1
            && let Some(clauses) = clauses
        {
            let clauses = clauses.into_boxed_slice();
            return Some(if is_and {
                Logic::AllOfAny { pos, neg, clauses }
            } else {
                Logic::AnyOfAll { pos, neg, clauses }
            });
        }
        Some(match rest.len() {
            0 => Logic::Const(is_and),
            1 => rest.pop()?,
            _ if is_and => Logic::And(rest.into()),
            _ => Logic::Or(rest.into()),
        })
    }

    fn negate(self) -> Self {
        match self {
            Logic::Const(b) => Logic::Const(!b),
            Logic::All { pos, neg } => Logic::Any { pos: neg, neg: pos },
            Logic::Any { pos, neg } => Logic::All { pos: neg, neg: pos },
            Logic::AllOfAny { pos, neg, clauses } => Logic::AnyOfAll {
                pos: neg,
                neg: pos,
                clauses: clauses.iter().map(|&(p, n)| (n, p)).collect(),
            },
            Logic::AnyOfAll { pos, neg, clauses } => Logic::AllOfAny {
                pos: neg,
                neg: pos,
                clauses: clauses.iter().map(|&(p, n)| (n, p)).collect(),
            },
            Logic::And(items) => {
                Logic::Or(items.into_vec().into_iter().map(Self::negate).collect())
            }
            Logic::Or(items) => {
                Logic::And(items.into_vec().into_iter().map(Self::negate).collect())
            }
        }
    }

    /// Three-valued: `None` is unknown.
    #[inline]
    pub fn eval(&self, a: Atoms) -> Option<bool> {
        match *self {
            Logic::Const(b) => Some(b),
            Logic::All { pos, neg } => {
                // Literals that are known and false: an atom in `pos` that is false, or one
                // in `neg` that is true.
                let failed = a.known & ((pos & !a.truth) | (neg & a.truth));
                if failed != 0 {
                    Some(false)
                } else {
                    ((pos | neg) & !a.known == 0).then_some(true)
                }
            }
            Logic::Any { pos, neg } => {
                let held = a.known & ((pos & a.truth) | (neg & !a.truth));
                if held != 0 {
                    Some(true)
                } else {
                    ((pos | neg) & !a.known == 0).then_some(false)
                }
            }
            _ => self.eval_nested(a),
        }
    }

    /// The atoms whose being unknown leaves this condition unknown: none when it is known;
    /// else its unknown atoms, less those under a part that is decided anyway (`b` in `a
    /// and (b or c)` when `c` holds). The same atoms the expression's own walk visits.
    pub fn undecided(&self, a: Atoms) -> u64 {
        if self.eval(a).is_some() {
            return 0;
        }
        let open = |pos: u64, neg: u64| (pos | neg) & !a.known;
        match self {
            Logic::Const(_) => 0,
            Logic::All { pos, neg } | Logic::Any { pos, neg } => open(*pos, *neg),
            Logic::AllOfAny { pos, neg, clauses } => clauses
                .iter()
                .filter(|&&(p, n)| Logic::Any { pos: p, neg: n }.eval(a).is_none())
                .fold(open(*pos, *neg), |m, &(p, n)| m | open(p, n)),
            Logic::AnyOfAll { pos, neg, clauses } => clauses
                .iter()
                .filter(|&&(p, n)| Logic::All { pos: p, neg: n }.eval(a).is_none())
                .fold(open(*pos, *neg), |m, &(p, n)| m | open(p, n)),
            Logic::And(items) | Logic::Or(items) => items.iter().fold(0, |m, l| m | l.undecided(a)),
        }
    }

    #[inline(never)]
    fn eval_nested(&self, a: Atoms) -> Option<bool> {
        match self {
            Logic::AllOfAny { pos, neg, clauses } => {
                if a.known & ((pos & !a.truth) | (neg & a.truth)) != 0 {
                    return Some(false);
                }
                let mut unknown = (pos | neg) & !a.known != 0;
                for &(p, n) in clauses {
                    if a.known & ((p & a.truth) | (n & !a.truth)) == 0 {
                        if (p | n) & !a.known == 0 {
                            return Some(false);
                        }
                        unknown = true;
                    }
                }
                (!unknown).then_some(true)
            }
            Logic::AnyOfAll { pos, neg, clauses } => {
                if a.known & ((pos & a.truth) | (neg & !a.truth)) != 0 {
                    return Some(true);
                }
                let mut unknown = (pos | neg) & !a.known != 0;
                for &(p, n) in clauses {
                    if a.known & ((p & !a.truth) | (n & a.truth)) == 0 {
                        if (p | n) & !a.known == 0 {
                            return Some(true);
                        }
                        unknown = true;
                    }
                }
                (!unknown).then_some(false)
            }
            Logic::And(items) => {
                let mut unknown = false;
                for l in items {
                    match l.eval(a) {
                        Some(false) => return Some(false),
                        None => unknown = true,
                        Some(true) => {}
                    }
                }
                (!unknown).then_some(true)
            }
            Logic::Or(items) => {
                let mut unknown = false;
                for l in items {
                    match l.eval(a) {
                        Some(true) => return Some(true),
                        None => unknown = true,
                        Some(false) => {}
                    }
                }
                (!unknown).then_some(false)
            }
            leaf => leaf.eval(a),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn atom(i: u16) -> Expr {
        Expr::Atom(i)
    }

    fn not(e: Expr) -> Expr {
        Expr::Not(Box::new(e))
    }

    /// Every assignment of true, false and unknown to three atoms.
    fn assignments() -> Vec<(Atoms, [Option<bool>; 3])> {
        let vals = [Some(false), Some(true), None];
        let mut out = Vec::new();
        for a in vals {
            for b in vals {
                for c in vals {
                    let mut atoms = Atoms::default();
                    for (i, v) in (0u32..).zip([a, b, c]) {
                        atoms.set(i, v);
                    }
                    out.push((atoms, [a, b, c]));
                }
            }
        }
        out
    }

    /// Kleene evaluation of the tree, the reference the masks must agree with.
    fn kleene(e: &Expr, v: &[Option<bool>; 3]) -> Option<bool> {
        match e {
            Expr::Const(Value::Bool(b)) => Some(*b),
            Expr::Atom(i) => v.get(usize::from(*i)).copied().flatten(),
            Expr::Not(x) => kleene(x, v).map(|b| !b),
            Expr::And(xs) => {
                let r: Vec<_> = xs.iter().map(|x| kleene(x, v)).collect();
                if r.contains(&Some(false)) {
                    Some(false)
                } else if r.contains(&None) {
                    None
                } else {
                    Some(true)
                }
            }
            Expr::Or(xs) => {
                let r: Vec<_> = xs.iter().map(|x| kleene(x, v)).collect();
                if r.contains(&Some(true)) {
                    Some(true)
                } else if r.contains(&None) {
                    None
                } else {
                    Some(false)
                }
            }
            _ => None,
        }
    }

    /// Conditions of every compiled shape, over atoms 0 to 2.
    fn shapes() -> Vec<Expr> {
        vec![
            Expr::And(vec![atom(0), not(atom(1)), atom(2)]),
            Expr::Or(vec![atom(0), not(atom(1)), atom(2)]),
            not(Expr::And(vec![
                atom(0),
                Expr::Or(vec![atom(1), not(atom(2))]),
            ])),
            Expr::Or(vec![Expr::And(vec![atom(0), atom(1)]), not(atom(2))]),
            Expr::And(vec![
                Expr::Or(vec![atom(0), atom(1)]),
                Expr::Or(vec![not(atom(0)), atom(2)]),
            ]),
            not(not(atom(1))),
            Expr::And(vec![atom(0), Expr::Or(vec![atom(1), not(atom(2))])]),
            Expr::Or(vec![not(atom(0)), Expr::And(vec![atom(1), not(atom(2))])]),
            not(Expr::Or(vec![atom(0), Expr::And(vec![atom(1), atom(2)])])),
            Expr::And(vec![
                Expr::Or(vec![atom(0), atom(1)]),
                Expr::Or(vec![not(atom(1)), atom(2)]),
                Expr::Or(vec![atom(2), not(atom(0))]),
            ]),
            Expr::Or(vec![
                Expr::And(vec![atom(0), atom(1)]),
                Expr::And(vec![not(atom(1)), atom(2)]),
            ]),
            Expr::And(vec![atom(0), not(atom(0))]),
            Expr::Or(vec![Expr::Const(Value::Bool(false)), atom(2)]),
            Expr::And(vec![
                Expr::Or(vec![Expr::And(vec![atom(0), atom(1)]), atom(2)]),
                Expr::Or(vec![Expr::And(vec![atom(1), not(atom(2))]), atom(0)]),
            ]),
        ]
    }

    #[test]
    fn masks_agree_with_kleene_logic() {
        let shapes = shapes();
        for e in &shapes {
            let logic = Logic::compile(e);
            assert!(logic.is_some(), "{e:?} compiles");
            let Some(logic) = logic else { continue };
            for (atoms, v) in assignments() {
                assert_eq!(logic.eval(atoms), kleene(e, &v), "{e:?} under {v:?}");
            }
        }
    }

    /// The atoms the expression's walk finds unknown and undecided (its reference).
    fn walk_undecided(e: &Expr, v: &[Option<bool>; 3]) -> u64 {
        if kleene(e, v).is_some() {
            return 0;
        }
        match e {
            Expr::Atom(i) => 1 << i,
            Expr::Not(x) => walk_undecided(x, v),
            Expr::And(xs) | Expr::Or(xs) => xs.iter().fold(0, |m, x| m | walk_undecided(x, v)),
            _ => 0,
        }
    }

    #[test]
    fn undecided_atoms_are_the_ones_the_walk_finds() {
        for e in &shapes() {
            let Some(logic) = Logic::compile(e) else {
                continue;
            };
            for (atoms, v) in assignments() {
                assert_eq!(
                    logic.undecided(atoms),
                    walk_undecided(e, &v),
                    "{e:?} under {v:?}"
                );
            }
        }
    }

    #[test]
    fn plain_literals_merge_into_one_mask() {
        let e = Expr::And(vec![atom(0), not(atom(3)), atom(5)]);
        assert_eq!(
            Logic::compile(&e),
            Some(Logic::All {
                pos: 0b100001,
                neg: 0b1000
            })
        );
    }

    #[test]
    fn anything_but_atoms_is_left_to_the_expression() {
        assert_eq!(Logic::compile(&Expr::Fact(0)), None);
        assert_eq!(Logic::compile(&atom(64)), None);
    }
}
