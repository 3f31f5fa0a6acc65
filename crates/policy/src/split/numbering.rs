//! The numbers clauses start with: `5.1`, `2(3)`, `a)`, roman numerals, Article and Section.

use super::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// `1.`, `1`, `3.1.`, `1.2.3`
    Decimal,
    /// `(1)`, `1)`
    Paren,
    /// `a)`, `(a)`, `a.`
    Lower,
    Upper,
    LowerRoman,
    UpperRoman,
    /// Article, Section, Clause, Chapter, Part, §: the index of the word.
    Word(u8),
}

/// What makes two numbers siblings: the same kind, depth and Markdown heading level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Style {
    pub(super) kind: Kind,
    pub(super) depth: usize,
    /// A bare number, `1 Scope`: weak evidence, so it must continue its sequence exactly.
    pub(super) bare: bool,
    pub(super) md: u8,
}

#[derive(Clone, Debug)]
pub(super) struct Marker {
    pub(super) style: Style,
    pub(super) parts: Vec<u32>,
    /// The number as the id shows it: `3.1`, `a`, `iv`.
    pub(super) label: String,
    /// Where the text after the number starts, from the line's start.
    pub(super) content: usize,
}

pub(super) const WORDS: [(&str, u8); 8] = [
    ("article", 0),
    ("art.", 0),
    ("section", 1),
    ("sec.", 1),
    ("clause", 2),
    ("chapter", 3),
    ("part", 4),
    ("§", 5),
];

/// The numbering `s` (which starts `at` bytes into its line) may start with.
pub(super) fn markers(s: &str, at: usize, md: u8) -> Vec<Marker> {
    let (s, skip) = match s.strip_prefix("**").or_else(|| s.strip_prefix("__")) {
        Some(rest) => (rest, 2),
        None => (s, 0),
    };
    let mut found: Vec<(Kind, Vec<u32>, String, usize)> = Vec::new();
    if let Some(m) = word_marker(s) {
        found.push(m);
    } else if let Some(inner) = s.strip_prefix('(') {
        let close = inner.find(')').filter(|&k| k > 0 && k <= 6);
        if let Some(k) = close
            && let Some(label) = inner.get(..k)
        {
            found.extend(
                single(label)
                    .into_iter()
                    .map(|(kind, n)| (kind, vec![n], label.to_string(), k + 2)),
            );
        }
    } else if let Some((parts, n)) = dotted(s) {
        let rest = s.get(n..).unwrap_or("");
        let label = join(&parts);
        let mut next = rest.chars();
        match next.next() {
            Some(')') if parts.len() == 1 => found.push((Kind::Paren, parts, label, n + 1)),
            Some('.') => {
                let after = next.next();
                if after.is_none_or(|c| c.is_whitespace() || c.is_uppercase() || c == '(') {
                    found.push((Kind::Decimal, parts, label, n + 1));
                }
            }
            None => found.push((Kind::Decimal, parts, label, n)),
            Some(c) if c.is_whitespace() => found.push((Kind::Decimal, parts, label, n)),
            _ => {}
        }
    } else {
        let n = s.bytes().take_while(u8::is_ascii_alphabetic).count();
        let label = s.get(..n).unwrap_or("");
        let rest = s.get(n..).unwrap_or("");
        let ends = rest.starts_with(')')
            || rest
                .strip_prefix('.')
                .is_some_and(|r| r.is_empty() || r.starts_with(char::is_whitespace));
        if n > 0 && ends {
            found.extend(
                single(label)
                    .into_iter()
                    .map(|(kind, v)| (kind, vec![v], label.to_string(), n + 1)),
            );
        }
    }
    found
        .into_iter()
        .map(|(kind, parts, label, len)| {
            let rest = s.get(len..).unwrap_or("");
            let rest = rest
                .strip_prefix("**")
                .or_else(|| rest.strip_prefix("__"))
                .unwrap_or(rest);
            let rest = rest.trim_start();
            let content = at + skip + offset_in(s, rest);
            let depth = parts.len();
            Marker {
                style: Style {
                    kind,
                    depth,
                    bare: kind == Kind::Decimal
                        && depth == 1
                        && md == 0
                        && s.get(len.saturating_sub(1)..len) != Some("."),
                    md,
                },
                parts,
                label,
                content,
            }
        })
        .collect()
}

/// "Article 3 - Scope", "Section 1.2:", "§ 4", "Part II": (kind, parts, label, length).
pub(super) fn word_marker(s: &str) -> Option<(Kind, Vec<u32>, String, usize)> {
    if s.starts_with(char::is_lowercase) {
        return None;
    }
    let (word, kind) = WORDS.iter().find_map(|&(w, k)| {
        let head = s.get(..w.len())?;
        head.eq_ignore_ascii_case(w).then_some((head, k))
    })?;
    let rest = s.get(word.len()..)?;
    let number = rest.trim_start();
    if number.len() == rest.len() && kind != 5 {
        return None;
    }
    let mut len = s.len() - number.len();
    let (parts, label, n) = match dotted(number) {
        Some((parts, n)) => {
            let label = join(&parts);
            (parts, label, n)
        }
        None => {
            let n = number.bytes().take_while(u8::is_ascii_alphabetic).count();
            let label = number.get(..n)?;
            (vec![roman(label)?], label.to_string(), n)
        }
    };
    len += n;
    let mut rest = s.get(len..)?;
    if let Some(r) = rest.strip_prefix(['.', ':', ')']) {
        len += 1;
        rest = r;
    }
    if !(rest.is_empty() || rest.starts_with(char::is_whitespace)) {
        return None;
    }
    let trimmed = rest.trim_start();
    if let Some(r) = trimmed.strip_prefix(['-', '–', '—', ':'])
        && (r.is_empty() || r.starts_with(char::is_whitespace))
    {
        len = s.len() - r.len();
    }
    Some((Kind::Word(kind), parts, label, len))
}

/// `3`, `a`, `iv`, `B` as a single number: every reading.
pub(super) fn single(label: &str) -> Vec<(Kind, u32)> {
    let mut out = Vec::new();
    if let Some((parts, n)) = dotted(label)
        && n == label.len()
        && parts.len() == 1
    {
        out.extend(parts.first().map(|&v| (Kind::Paren, v)));
        return out;
    }
    let mut chars = label.chars();
    if let (Some(c), None) = (chars.next(), chars.next())
        && c.is_ascii_alphabetic()
    {
        let v = u32::from(c.to_ascii_lowercase()) - u32::from('a') + 1;
        out.push((
            if c.is_ascii_lowercase() {
                Kind::Lower
            } else {
                Kind::Upper
            },
            v,
        ));
    }
    if let Some(v) = roman(label) {
        let lower = label.starts_with(|c: char| c.is_ascii_lowercase());
        out.push((
            if lower {
                Kind::LowerRoman
            } else {
                Kind::UpperRoman
            },
            v,
        ));
    }
    out
}

/// `1`, `3.1`, `1.2.3` (at most six parts of six digits): the parts and their length.
pub(super) fn dotted(s: &str) -> Option<(Vec<u32>, usize)> {
    let mut parts = Vec::new();
    let mut len = 0;
    loop {
        let rest = s.get(len..)?;
        let n = rest.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 || n > 6 || parts.len() == 6 {
            return None;
        }
        parts.push(rest.get(..n)?.parse().ok()?);
        len += n;
        let after = s.get(len..)?;
        if after.starts_with('.')
            && after
                .get(1..)
                .is_some_and(|a| a.starts_with(|c: char| c.is_ascii_digit()))
        {
            len += 1;
        } else {
            return Some((parts, len));
        }
    }
}

pub(super) fn join(parts: &[u32]) -> String {
    parts
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

/// `i`..`xxxix` or `I`..`XXXIX`, written canonically.
pub(super) fn roman(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 6 {
        return None;
    }
    let lower = s.to_ascii_lowercase();
    if !(s == lower || s == s.to_ascii_uppercase()) {
        return None;
    }
    let mut total = 0u32;
    let mut prev = 0u32;
    for c in lower.chars().rev() {
        let v = match c {
            'i' => 1,
            'v' => 5,
            'x' => 10,
            _ => return None,
        };
        if v < prev {
            total = total.checked_sub(v)?;
        } else {
            total += v;
            prev = v;
        }
    }
    (total > 0 && to_roman(total) == lower).then_some(total)
}

pub(super) fn to_roman(mut n: u32) -> String {
    let mut out = String::new();
    for (v, s) in [(10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i")] {
        while n >= v {
            out.push_str(s);
            n -= v;
        }
    }
    out
}
