//! Lexer and parser for condition expressions. Produces an untyped tree with byte spans
//! relative to the expression text; the checker types it. Never panics: nesting is bounded.

use std::ops::Range;

use crate::value::{Period, Unit};

pub type Span = Range<usize>;

/// How deep expressions may nest; deeper input is refused rather than overflowing the stack.
const MAX_DEPTH: usize = 48;

#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    Ident(String),
    Int(i64),
    Decimal(f64),
    Str(String),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Plus,
    Minus,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("`{s}`"),
            Tok::Int(i) => format!("`{i}`"),
            Tok::Decimal(x) => format!("`{x}`"),
            Tok::Str(s) => format!("'{s}'"),
            Tok::LParen => "`(`".into(),
            Tok::RParen => "`)`".into(),
            Tok::LBracket => "`[`".into(),
            Tok::RBracket => "`]`".into(),
            Tok::Comma => "`,`".into(),
            Tok::Eq => "`==`".into(),
            Tok::Ne => "`!=`".into(),
            Tok::Lt => "`<`".into(),
            Tok::Le => "`<=`".into(),
            Tok::Gt => "`>`".into(),
            Tok::Ge => "`>=`".into(),
            Tok::Plus => "`+`".into(),
            Tok::Minus => "`-`".into(),
        }
    }
}

/// A syntax error at a span of the expression.
#[derive(Clone, Debug, PartialEq)]
pub struct SyntaxError {
    pub span: Span,
    pub message: String,
    pub hint: Option<String>,
}

fn err(span: Span, message: impl Into<String>) -> SyntaxError {
    SyntaxError {
        span,
        message: message.into(),
        hint: None,
    }
}

pub fn lex(src: &str) -> Result<Vec<(Tok, Span)>, SyntaxError> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&c) = bytes.get(i) {
        let start = i;
        let single = |t: Tok| (t, start..start + 1);
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            b'(' => out.push(single(Tok::LParen)),
            b')' => out.push(single(Tok::RParen)),
            b'[' => out.push(single(Tok::LBracket)),
            b']' => out.push(single(Tok::RBracket)),
            b',' => out.push(single(Tok::Comma)),
            b'+' => out.push(single(Tok::Plus)),
            b'-' => out.push(single(Tok::Minus)),
            b'=' | b'!' | b'<' | b'>' => {
                let next_eq = bytes.get(i + 1) == Some(&b'=');
                let tok = match (c, next_eq) {
                    (b'=', true) => Tok::Eq,
                    (b'!', true) => Tok::Ne,
                    (b'<', true) => Tok::Le,
                    (b'>', true) => Tok::Ge,
                    (b'<', false) => Tok::Lt,
                    (b'>', false) => Tok::Gt,
                    (b'=', false) => {
                        return Err(err(start..start + 1, "`=` is not an operator")
                            .with_hint("compare with `==`"));
                    }
                    _ => {
                        return Err(err(start..start + 1, "`!` is not an operator")
                            .with_hint("write `not x` or `a != b`"));
                    }
                };
                let len = if next_eq { 2 } else { 1 };
                out.push((tok, start..start + len));
                i += len;
                continue;
            }
            b'\'' | b'"' => {
                let quote = c;
                let mut j = i + 1;
                while let Some(&d) = bytes.get(j) {
                    if d == quote {
                        break;
                    }
                    j += 1;
                }
                if j >= bytes.len() {
                    return Err(err(start..bytes.len(), "this string is not closed")
                        .with_hint(format!("end it with {}", quote as char)));
                }
                let s = src.get(i + 1..j).unwrap_or("").to_string();
                out.push((Tok::Str(s), start..j + 1));
                i = j + 1;
                continue;
            }
            b'0'..=b'9' => {
                let mut j = i;
                while bytes.get(j).is_some_and(u8::is_ascii_digit) {
                    j += 1;
                }
                let is_decimal =
                    bytes.get(j) == Some(&b'.') && bytes.get(j + 1).is_some_and(u8::is_ascii_digit);
                if is_decimal {
                    j += 1;
                    while bytes.get(j).is_some_and(u8::is_ascii_digit) {
                        j += 1;
                    }
                    let text = src.get(i..j).unwrap_or("");
                    let x: f64 = text
                        .parse()
                        .map_err(|_| err(start..j, format!("`{text}` is not a number")))?;
                    out.push((Tok::Decimal(x), start..j));
                } else {
                    let text = src.get(i..j).unwrap_or("");
                    let n: i64 = text
                        .parse()
                        .map_err(|_| err(start..j, format!("`{text}` is too large a number")))?;
                    out.push((Tok::Int(n), start..j));
                }
                i = j;
                continue;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let mut j = i;
                while bytes
                    .get(j)
                    .is_some_and(|d| d.is_ascii_alphanumeric() || *d == b'_' || *d == b'.')
                {
                    j += 1;
                }
                let word = src.get(i..j).unwrap_or("").to_string();
                if word.ends_with('.') || word.contains("..") {
                    return Err(err(start..j, format!("`{word}` is not a name")));
                }
                out.push((Tok::Ident(word), start..j));
                i = j;
                continue;
            }
            _ => {
                let ch = src.get(i..).and_then(|s| s.chars().next()).unwrap_or('?');
                return Err(err(
                    start..start + ch.len_utf8(),
                    format!("unexpected character `{ch}`"),
                ));
            }
        }
        i += 1;
    }
    Ok(out)
}

impl SyntaxError {
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    /// Whether two values in this order satisfy the comparison.
    pub fn holds(self, o: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::{Equal, Greater, Less};
        match self {
            Self::Eq => o == Equal,
            Self::Ne => o != Equal,
            Self::Lt => o == Less,
            Self::Le => o != Greater,
            Self::Gt => o == Greater,
            Self::Ge => o != Less,
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Self::Eq => "==",
            Self::Ne => "!=",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
        }
    }
}

/// An untyped expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Ast {
    Bool(bool),
    Int(i64),
    Decimal(f64),
    Period(Period),
    Str(String),
    List(Vec<Node>),
    Path(String),
    Call(String, Vec<Node>),
    Not(Box<Node>),
    And(Vec<Node>),
    Or(Vec<Node>),
    Cmp(CmpOp, Box<Node>, Box<Node>),
    In {
        negated: bool,
        item: Box<Node>,
        within: Box<Node>,
    },
    Add(Box<Node>, Box<Node>),
    Sub(Box<Node>, Box<Node>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub ast: Ast,
    pub span: Span,
}

impl Node {
    /// Calls `f` with every name (fact, parameter or definition) the expression mentions.
    pub fn for_each_path(&self, f: &mut impl FnMut(&str, &Span)) {
        match &self.ast {
            Ast::Path(p) => f(p, &self.span),
            Ast::Bool(_) | Ast::Int(_) | Ast::Decimal(_) | Ast::Period(_) | Ast::Str(_) => {}
            Ast::List(items) | Ast::Call(_, items) | Ast::And(items) | Ast::Or(items) => {
                items.iter().for_each(|i| i.for_each_path(f));
            }
            Ast::Not(inner) => inner.for_each_path(f),
            Ast::Cmp(_, a, b)
            | Ast::Add(a, b)
            | Ast::Sub(a, b)
            | Ast::In {
                item: a, within: b, ..
            } => {
                a.for_each_path(f);
                b.for_each_path(f);
            }
        }
    }
}

pub fn parse(src: &str) -> Result<Node, SyntaxError> {
    let toks = lex(src)?;
    if toks.is_empty() {
        return Err(err(0..src.len(), "the expression is empty")
            .with_hint("write a condition such as `condition.activated`, or remove the key"));
    }
    let mut p = Parser {
        toks,
        pos: 0,
        depth: 0,
        end: src.len(),
    };
    let node = p.or()?;
    if let Some((tok, span)) = p.toks.get(p.pos) {
        return Err(err(
            span.clone(),
            format!("unexpected {} after a complete expression", tok.describe()),
        )
        .with_hint("join conditions with `and` / `or`"));
    }
    Ok(node)
}

struct Parser {
    toks: Vec<(Tok, Span)>,
    pos: usize,
    depth: usize,
    end: usize,
}

pub(crate) fn is_keyword(word: &str) -> bool {
    matches!(word, "and" | "or" | "not" | "in" | "true" | "false")
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(t, _)| t)
    }

    fn peek_ident(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(w)) if w == word)
    }

    fn span_here(&self) -> Span {
        self.toks
            .get(self.pos)
            .map_or(self.end..self.end, |(_, s)| s.clone())
    }

    fn bump(&mut self) -> Option<(Tok, Span)> {
        let t = self.toks.get(self.pos).cloned();
        if t.is_some() {
            self.pos += 1;
        }
        t
    }

    fn enter(&mut self) -> Result<(), SyntaxError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(err(
                self.span_here(),
                format!("the expression nests deeper than {MAX_DEPTH} levels"),
            ));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Node, SyntaxError> {
        self.enter()?;
        let first = self.and()?;
        let mut items = vec![first];
        while self.peek_ident("or") {
            self.bump();
            items.push(self.and()?);
        }
        self.depth -= 1;
        Ok(join(items, Ast::Or))
    }

    fn and(&mut self) -> Result<Node, SyntaxError> {
        let first = self.not()?;
        let mut items = vec![first];
        while self.peek_ident("and") {
            self.bump();
            items.push(self.not()?);
        }
        Ok(join(items, Ast::And))
    }

    fn not(&mut self) -> Result<Node, SyntaxError> {
        if self.peek_ident("not") {
            let (_, span) = self.bump().unwrap_or((Tok::Comma, 0..0));
            self.enter()?;
            let inner = self.not()?;
            self.depth -= 1;
            let span = span.start..inner.span.end;
            return Ok(Node {
                ast: Ast::Not(Box::new(inner)),
                span,
            });
        }
        self.cmp()
    }

    fn cmp(&mut self) -> Result<Node, SyntaxError> {
        let left = self.sum()?;
        let op = match self.peek() {
            Some(Tok::Eq) => Some(CmpOp::Eq),
            Some(Tok::Ne) => Some(CmpOp::Ne),
            Some(Tok::Lt) => Some(CmpOp::Lt),
            Some(Tok::Le) => Some(CmpOp::Le),
            Some(Tok::Gt) => Some(CmpOp::Gt),
            Some(Tok::Ge) => Some(CmpOp::Ge),
            _ => None,
        };
        if let Some(op) = op {
            self.bump();
            let right = self.sum()?;
            let span = left.span.start..right.span.end;
            return Ok(Node {
                ast: Ast::Cmp(op, Box::new(left), Box::new(right)),
                span,
            });
        }
        let negated = self.peek_ident("not")
            && matches!(self.toks.get(self.pos + 1), Some((Tok::Ident(w), _)) if w == "in");
        if negated || self.peek_ident("in") {
            self.bump();
            if negated {
                self.bump();
            }
            let right = self.sum()?;
            let span = left.span.start..right.span.end;
            return Ok(Node {
                ast: Ast::In {
                    negated,
                    item: Box::new(left),
                    within: Box::new(right),
                },
                span,
            });
        }
        Ok(left)
    }

    fn sum(&mut self) -> Result<Node, SyntaxError> {
        let mut left = self.atom()?;
        loop {
            let plus = match self.peek() {
                Some(Tok::Plus) => true,
                Some(Tok::Minus) => false,
                _ => return Ok(left),
            };
            self.bump();
            let right = self.atom()?;
            let span = left.span.start..right.span.end;
            let (l, r) = (Box::new(left), Box::new(right));
            left = Node {
                ast: if plus { Ast::Add(l, r) } else { Ast::Sub(l, r) },
                span,
            };
        }
    }

    fn atom(&mut self) -> Result<Node, SyntaxError> {
        let Some((tok, span)) = self.bump() else {
            return Err(err(self.end..self.end, "the expression ends too early")
                .with_hint("something is missing after the last operator"));
        };
        let node = |ast| Node {
            ast,
            span: span.clone(),
        };
        match tok {
            Tok::Int(n) => {
                if let Some(Tok::Ident(w)) = self.peek()
                    && let Some(unit) = Period::unit(w)
                {
                    let (_, uspan) = self.bump().unwrap_or((Tok::Comma, span.clone()));
                    let n = u32::try_from(n)
                        .map_err(|_| err(span.start..uspan.end, "this period is too long"))?;
                    return Ok(Node {
                        ast: Ast::Period(Period { n, unit }),
                        span: span.start..uspan.end,
                    });
                }
                Ok(node(Ast::Int(n)))
            }
            Tok::Decimal(x) => Ok(node(Ast::Decimal(x))),
            Tok::Str(s) => Ok(node(Ast::Str(s))),
            Tok::LParen => {
                let inner = self.or()?;
                match self.bump() {
                    Some((Tok::RParen, end)) => Ok(Node {
                        ast: inner.ast,
                        span: span.start..end.end,
                    }),
                    _ => Err(err(span, "this `(` is never closed").with_hint("add `)`")),
                }
            }
            Tok::LBracket => {
                let mut items = Vec::new();
                loop {
                    if let Some(Tok::RBracket) = self.peek() {
                        let (_, end) = self.bump().unwrap_or((Tok::Comma, span.clone()));
                        return Ok(Node {
                            ast: Ast::List(items),
                            span: span.start..end.end,
                        });
                    }
                    self.enter()?;
                    items.push(self.sum()?);
                    self.depth -= 1;
                    match self.bump() {
                        Some((Tok::Comma, _)) => {}
                        Some((Tok::RBracket, end)) => {
                            return Ok(Node {
                                ast: Ast::List(items),
                                span: span.start..end.end,
                            });
                        }
                        _ => {
                            return Err(err(span, "this `[` is never closed")
                                .with_hint("separate items with `,` and end with `]`"));
                        }
                    }
                }
            }
            Tok::Ident(word) => match word.as_str() {
                "true" => Ok(node(Ast::Bool(true))),
                "false" => Ok(node(Ast::Bool(false))),
                w if is_keyword(w) => Err(err(span, format!("`{w}` cannot start a value"))
                    .with_hint("a condition or value is missing before it")),
                _ => {
                    if let Some(Tok::LParen) = self.peek() {
                        self.bump();
                        let mut args = Vec::new();
                        if let Some(Tok::RParen) = self.peek() {
                            let (_, end) = self.bump().unwrap_or((Tok::Comma, span.clone()));
                            return Ok(Node {
                                ast: Ast::Call(word, args),
                                span: span.start..end.end,
                            });
                        }
                        loop {
                            self.enter()?;
                            args.push(self.or()?);
                            self.depth -= 1;
                            match self.bump() {
                                Some((Tok::Comma, _)) => {}
                                Some((Tok::RParen, end)) => {
                                    return Ok(Node {
                                        ast: Ast::Call(word, args),
                                        span: span.start..end.end,
                                    });
                                }
                                _ => {
                                    return Err(err(
                                        span,
                                        format!("the call to `{word}` is never closed"),
                                    )
                                    .with_hint("separate arguments with `,` and end with `)`"));
                                }
                            }
                        }
                    }
                    Ok(node(Ast::Path(word)))
                }
            },
            other => Err(err(span, format!("unexpected {}", other.describe()))
                .with_hint("expected a fact, a value, `not` or `(`")),
        }
    }
}

fn join(mut items: Vec<Node>, make: fn(Vec<Node>) -> Ast) -> Node {
    if items.len() == 1 {
        return items.remove(0);
    }
    let start = items.first().map_or(0, |n| n.span.start);
    let end = items.last().map_or(0, |n| n.span.end);
    Node {
        ast: make(items),
        span: start..end,
    }
}

/// The unit of a period literal, for messages.
pub fn unit_name(unit: Unit) -> &'static str {
    match unit {
        Unit::Hour => "hours",
        Unit::Day => "days",
        Unit::Month => "months",
        Unit::Year => "years",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_is_or_below_and_below_not_below_comparison() {
        let n = parse("a or not b and c == 'x'").unwrap();
        let Ast::Or(items) = n.ast else {
            panic!("{n:?}")
        };
        assert!(matches!(items[0].ast, Ast::Path(ref p) if p == "a"));
        let Ast::And(ref parts) = items[1].ast else {
            panic!()
        };
        assert!(matches!(parts[0].ast, Ast::Not(_)));
        assert!(matches!(parts[1].ast, Ast::Cmp(CmpOp::Eq, _, _)));
    }

    #[test]
    fn periods_and_date_arithmetic_parse() {
        let n = parse("order.delivered + 7 days").unwrap();
        let Ast::Add(_, p) = n.ast else { panic!() };
        assert_eq!(
            p.ast,
            Ast::Period(Period {
                n: 7,
                unit: Unit::Day
            })
        );
        assert_eq!(p.span, 18..24);
    }

    #[test]
    fn not_in_is_one_operator() {
        let n = parse("product.class not in ['strap', 'buckle']").unwrap();
        assert!(matches!(n.ast, Ast::In { negated: true, .. }));
    }

    #[test]
    fn errors_point_at_the_offending_token() {
        let e = parse("a = b").unwrap_err();
        assert_eq!(e.span, 2..3);
        assert_eq!(e.hint.as_deref(), Some("compare with `==`"));
        let e = parse("(a and b").unwrap_err();
        assert!(e.message.contains("never closed"));
        let e = parse("a b").unwrap_err();
        assert_eq!(e.span, 2..3);
        assert!(parse("'open").unwrap_err().message.contains("not closed"));
        assert!(parse("").is_err());
        assert!(
            parse("a and")
                .unwrap_err()
                .message
                .contains("ends too early")
        );
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let src = format!("{}a{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(parse(&src).unwrap_err().message.contains("nests deeper"));
        let src = "not ".repeat(10_000) + "a";
        assert!(parse(&src).is_err());
        let src = "[".repeat(10_000);
        assert!(parse(&src).is_err());
        let src = "f(".repeat(10_000);
        assert!(parse(&src).is_err());
    }
}
