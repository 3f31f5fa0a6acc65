//! Splits a seller's after-sales document (plain text or Markdown) into clauses by the document's
//! own numbering, and writes a policy skeleton from them for the seller to confirm (issue 20).
//! Pure and total: any text gives clauses, in one pass over its lines.
//!
//! How clauses are named, as the hand-written policies name them:
//! - numbered clauses keep the document's numbers: `5.1`, `2(3)` (an item `(3)` of clause `2`),
//!   `1(a)` (an item `a)` of clause `1`), `2.1(b)`; "Article 3" and "Section 1.2" give `3` and `1.2`;
//! - under an unnumbered heading, numbered items are the heading plus the item's number
//!   (`Exclusions 3`), and a heading's paragraphs, when it has several and no items, are numbered
//!   from 1 (`Warranty Period 2`);
//! - text before the first heading or number is `Preamble`; text after the last item of a list,
//!   set apart by a blank line and not indented into the item, is `<heading> note`, or `Closing`
//!   at the end of a document numbered without headings.
//!
//! A clause's text is the document's, with its line breaks: the numbering that starts it is left
//! out, and so are blank lines around it; line endings become `\n`.

use std::collections::{HashMap, HashSet};

/// One clause of a document: its number (or heading) as an id, a title, and its exact text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Clause {
    /// The document's own number (`2(3)`, `5.1`), or its heading plus an item number.
    pub id: String,
    /// The heading the clause starts with, else the start of its text.
    pub title: String,
    /// The text exactly as in the document, without its numbering or surrounding blank lines.
    pub text: String,
}

/// Splits `document` into clauses, in document order, with unique ids.
pub fn split(document: &str) -> Vec<Clause> {
    parse(document).clauses
}

/// A document's clauses and the title its first lines give, if any.
struct Parsed {
    clauses: Vec<Clause>,
    title: Option<String>,
}

fn parse(document: &str) -> Parsed {
    let (lines, wrap) = lines(document);
    let mut p = Parser::new(document, &lines, wrap);
    for i in 0..lines.len() {
        p.line(i);
    }
    p.finish_container();
    let title = p.title.take();
    let mut ids = Ids::default();
    let clauses = p
        .out
        .into_iter()
        .map(|piece| {
            let text = text_between(document, piece.start, piece.end);
            let title = if !piece.title.is_empty() {
                piece.title
            } else if !text.is_empty() {
                excerpt(&text)
            } else {
                piece.id.clone()
            };
            Clause {
                id: ids.unique(piece.id),
                title,
                text,
            }
        })
        .collect();
    Parsed { clauses, title }
}

/// Ids made unique in document order: a repeated id gets ` (2)`, ` (3)`….
#[derive(Default)]
struct Ids {
    seen: HashSet<String>,
    /// The next suffix to try per repeated id, so a thousand repeats stay linear.
    next: HashMap<String, usize>,
}

impl Ids {
    fn unique(&mut self, id: String) -> String {
        if self.seen.insert(id.clone()) {
            return id;
        }
        let n = self.next.entry(id.clone()).or_insert(2);
        loop {
            let candidate = format!("{id} ({n})");
            *n += 1;
            if self.seen.insert(candidate.clone()) {
                return candidate;
            }
        }
    }
}

fn text_between(doc: &str, start: usize, end: usize) -> String {
    doc.get(start..end)
        .unwrap_or("")
        .replace("\r\n", "\n")
        .trim()
        .to_string()
}

// ---------------------------------------------------------------------------------------------
// Lines

/// One line of the document, classified once.
#[derive(Debug)]
struct Line<'a> {
    /// Byte offsets of the line in the document, without its line ending.
    start: usize,
    end: usize,
    /// The line without surrounding white space.
    body: &'a str,
    /// Leading white space, a tab counting four.
    indent: usize,
    blank: bool,
    /// A thematic break (`---`, `***`) or a setext underline: a separator, like a blank line.
    rule: bool,
    /// The level of a Markdown heading (`## x`, or a line underlined with `===` / `---`), else 0.
    md: u8,
    /// A Markdown heading's text.
    md_text: &'a str,
    /// Starts with a bullet (`-`, `*`, `•`…), whether numbering follows it or not.
    bullet: bool,
    /// The numbering the line may start with, one candidate per reading (`i)` is a letter or a
    /// roman numeral); offsets are from `start`.
    markers: Vec<Marker>,
    /// Shaped like a heading where it stands (short, unpunctuated, set apart), whatever the
    /// document's mode turns out to be.
    heading: bool,
}

/// The document's lines, and how it wraps its paragraphs.
fn lines(doc: &str) -> (Vec<Line<'_>>, Wrap) {
    let mut out = Vec::new();
    let mut start = 0;
    for piece in doc.split('\n') {
        let raw = piece.strip_suffix('\r').unwrap_or(piece);
        out.push(classify(start, raw));
        start += piece.len() + 1;
    }
    // A line underlined with === or --- is a heading (setext); otherwise a rule is a separator.
    for i in 1..out.len() {
        let under = out.get(i).and_then(|l| {
            let b = l.body;
            match (l.rule, b.chars().next()) {
                (true, Some(c @ ('=' | '-'))) if b.chars().all(|x| x == c) => Some(c),
                _ => None,
            }
        });
        if let (Some(c), Some(prev)) = (under, out.get_mut(i - 1))
            && !prev.blank
            && !prev.rule
            && prev.md == 0
            && !prev.bullet
            && prev.markers.is_empty()
            && heading_shape(prev.body)
        {
            prev.md = if c == '=' { 1 } else { 2 };
            prev.md_text = prev.body;
        }
    }
    let wrap = Wrap::of(&out);
    for i in 0..out.len() {
        let h = plain_heading(&out, i, wrap);
        if let Some(l) = out.get_mut(i) {
            l.heading = h;
        }
    }
    (out, wrap)
}

fn classify(start: usize, raw: &str) -> Line<'_> {
    let trimmed = raw.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    let lead = raw.len() - trimmed.len();
    let indent = raw
        .get(..lead)
        .unwrap_or("")
        .chars()
        .map(|c| if c == '\t' { 4 } else { 1 })
        .sum();
    let body = trimmed.trim_end();
    let mut line = Line {
        start,
        end: start + raw.len(),
        body,
        indent,
        blank: body.is_empty(),
        rule: is_rule(body),
        md: 0,
        md_text: "",
        bullet: false,
        markers: Vec::new(),
        heading: false,
    };
    if line.blank || line.rule {
        return line;
    }
    if let Some((level, text)) = atx_heading(body) {
        line.md = level;
        line.md_text = text;
        let at = lead + offset_in(body, text);
        line.markers = markers(text, at, level);
        return line;
    }
    let (rest, bullet) = match strip_bullet(body) {
        Some(rest) => (rest, true),
        None => (body, false),
    };
    let at = lead + offset_in(body, rest);
    line.markers = markers(rest, at, 0);
    line.bullet = bullet;
    line
}

/// Where `inner`, a subslice of `outer`, starts in it.
fn offset_in(outer: &str, inner: &str) -> usize {
    (inner.as_ptr() as usize)
        .saturating_sub(outer.as_ptr() as usize)
        .min(outer.len())
}

fn is_rule(body: &str) -> bool {
    let mut chars = body.chars().filter(|c| !c.is_whitespace());
    let Some(first) = chars.next() else {
        return false;
    };
    matches!(first, '-' | '=' | '_' | '*')
        && body
            .chars()
            .filter(|c| !c.is_whitespace())
            .all(|c| c == first)
        && body.chars().filter(|&c| c == first).count() >= 3
}

/// `## Title ##` → (2, "Title").
fn atx_heading(body: &str) -> Option<(u8, &str)> {
    let hashes = body.bytes().take_while(|&b| b == b'#').count();
    if hashes == 0 || hashes > 6 {
        return None;
    }
    let rest = body.get(hashes..)?;
    if !(rest.is_empty() || rest.starts_with([' ', '\t'])) {
        return None;
    }
    let text = rest.trim().trim_end_matches('#').trim_end();
    Some((u8::try_from(hashes).ok()?, text))
}

fn strip_bullet(body: &str) -> Option<&str> {
    let mut chars = body.chars();
    let c = chars.next()?;
    let rest = chars.as_str();
    match c {
        '-' | '*' | '+' | '–' | '—' if rest.starts_with(char::is_whitespace) => {
            Some(rest.trim_start())
        }
        '•' | '·' | '◦' | '▪' | '‣' | '●' | '○' | '■' | '□' | '➢' | '►' => {
            Some(rest.trim_start())
        }
        _ => None,
    }
}

/// Whether the document writes a paragraph on one line (as pasted from a web page) or wraps
/// it over several, and at what width.
#[derive(Clone, Copy, Debug)]
struct Wrap {
    wrapped: bool,
    width: usize,
}

impl Wrap {
    /// Wrapped if some prose lines (one in six) stop mid-sentence with text on the next line, and
    /// lines past a hundred characters are rare. (Lines that end paragraphs, items and headings
    /// end as they would unwrapped.)
    fn of(lines: &[Line<'_>]) -> Self {
        let (mut prose, mut long, mut runs_on, mut width) = (0usize, 0usize, 0usize, 0usize);
        for (k, l) in lines.iter().enumerate() {
            let n = l.body.chars().take(101).count();
            width = width.max(n);
            if n <= 40 {
                continue;
            }
            prose += 1;
            if n > 100 {
                long += 1;
            }
            let ends = l
                .body
                .ends_with(['.', ';', ':', '!', '?', ')', '。', '；', '：']);
            if !ends && lines.get(k + 1).is_some_and(|next| !next.blank) {
                runs_on += 1;
            }
        }
        Self {
            wrapped: runs_on > 0 && runs_on * 6 >= prose && long * 3 < prose,
            width,
        }
    }
}

/// Short, with a letter, without closing punctuation, a colon ("Cables: 12 months") or an
/// address: a heading, if its context agrees.
fn heading_shape(s: &str) -> bool {
    let s = strip_emphasis(s.trim());
    let mut chars = 0;
    let mut letter = false;
    let mut last = ' ';
    for c in s.chars() {
        chars += 1;
        if chars > 120 || c == ':' || c == '@' {
            return false;
        }
        letter |= c.is_alphabetic();
        last = c;
    }
    letter
        && !matches!(
            last,
            '.' | ',' | ';' | '!' | '…' | '-' | '–' | '—' | '/' | '。' | '，' | '；'
        )
        && s.split_whitespace().count() <= 20
        && strip_bullet(s).is_none()
        && !s.contains("www.")
}

/// Ends on a lowercase little word ("within", "the"): a sentence wrapped onto the next line,
/// not a heading.
fn ends_mid_sentence(s: &str) -> bool {
    const LITTLE: [&str; 48] = [
        "a", "an", "the", "of", "to", "in", "into", "within", "for", "and", "or", "nor", "but",
        "with", "by", "from", "on", "at", "as", "that", "which", "who", "if", "is", "are", "be",
        "was", "were", "may", "must", "will", "shall", "can", "your", "our", "their", "its", "his",
        "her", "not", "than", "such", "any", "this", "these", "those", "per", "via",
    ];
    s.split_whitespace()
        .next_back()
        .is_some_and(|w| LITTLE.contains(&w))
}

fn strip_emphasis(s: &str) -> &str {
    let mut s = s;
    for mark in ["**", "__"] {
        s = s.strip_prefix(mark).unwrap_or(s);
        s = s.strip_suffix(mark).unwrap_or(s).trim();
    }
    s
}

fn starts_lowercase(s: &str) -> bool {
    s.chars().next().is_some_and(char::is_lowercase)
}

/// A line that reads as a heading where it stands: after a blank line, another heading or (in a
/// document of one-line paragraphs) a finished sentence, and not continued by a lowercase line.
fn plain_heading(lines: &[Line<'_>], i: usize, wrap: Wrap) -> bool {
    let Some(l) = lines.get(i) else {
        return false;
    };
    if l.blank || l.rule || l.md > 0 || l.bullet || !heading_shape(l.body) {
        return false;
    }
    if ends_mid_sentence(l.body) {
        return false;
    }
    let prev_ok = match i.checked_sub(1).and_then(|p| lines.get(p)) {
        None => true,
        Some(p) => {
            p.blank
                || p.rule
                || p.md > 0
                || (!p.bullet && p.markers.is_empty() && heading_shape(p.body))
                || (!wrap.wrapped
                    && p.body
                        .ends_with(['.', ';', '!', '?', ')', '"', '”', '’', '。']))
        }
    };
    if !prev_ok {
        return false;
    }
    match lines.get(i + 1) {
        Some(n) if !n.blank && !n.rule => {
            // A wrapped paragraph's first line runs to the wrapping width; a heading stops short.
            let runs_on = wrap.wrapped
                && l.body.chars().count() * 10 >= wrap.width * 7
                && n.markers.is_empty()
                && !n.bullet;
            !(starts_lowercase(n.body) || runs_on)
        }
        _ => true,
    }
}

// ---------------------------------------------------------------------------------------------
// Numbering

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
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
struct Style {
    kind: Kind,
    depth: usize,
    /// A bare number, `1 Scope`: weak evidence, so it must continue its sequence exactly.
    bare: bool,
    md: u8,
}

#[derive(Clone, Debug)]
struct Marker {
    style: Style,
    parts: Vec<u32>,
    /// The number as the id shows it: `3.1`, `a`, `iv`.
    label: String,
    /// Where the text after the number starts, from the line's start.
    content: usize,
}

const WORDS: [(&str, u8); 8] = [
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
fn markers(s: &str, at: usize, md: u8) -> Vec<Marker> {
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
fn word_marker(s: &str) -> Option<(Kind, Vec<u32>, String, usize)> {
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
fn single(label: &str) -> Vec<(Kind, u32)> {
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
fn dotted(s: &str) -> Option<(Vec<u32>, usize)> {
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

fn join(parts: &[u32]) -> String {
    parts
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

/// `i`..`xxxix` or `I`..`XXXIX`, written canonically.
fn roman(s: &str) -> Option<u32> {
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

fn to_roman(mut n: u32) -> String {
    let mut out = String::new();
    for (v, s) in [(10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i")] {
        while n >= v {
            out.push_str(s);
            n -= v;
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Structure

/// A numbering level open at this point: the last number seen at it.
#[derive(Debug)]
struct Level {
    style: Style,
    parts: Vec<u32>,
    indent: usize,
    /// A numbered heading (its text on the following lines) rather than an item.
    heading: bool,
    id: String,
}

/// A clause found, its text still as offsets into the document.
#[derive(Debug)]
struct Piece {
    id: String,
    title: String,
    start: usize,
    end: usize,
}

#[derive(Debug)]
struct Heading {
    id: String,
    title: String,
    md: u8,
}

/// A heading's section, or the document outside any heading: its text before the first number
/// (lines `intro`), and the numbered clauses and notes in it.
#[derive(Debug, Default)]
struct Container {
    heading: Option<Heading>,
    intro: Option<(usize, usize)>,
    nodes: Vec<Piece>,
}

#[derive(Clone, Copy, Debug)]
enum Sink {
    Intro,
    Node(usize),
}

struct Parser<'a, 'd> {
    doc: &'d str,
    lines: &'a [Line<'d>],
    wrap: Wrap,
    /// Per line: the next line at or after it with numbering, and the next Markdown heading and
    /// plain heading (`usize::MAX` if none), so "does a sibling follow?" is one look.
    next_marker: Vec<usize>,
    next_md: Vec<usize>,
    next_plain: Vec<usize>,
    out: Vec<Piece>,
    container: Container,
    stack: Vec<Level>,
    /// The last top-level number of each style, so a list may continue past a heading.
    last_top: Vec<(Style, Vec<u32>)>,
    sink: Sink,
    saw_blank: bool,
    /// The document numbers its headings: plain short lines are text from then on.
    numbered: bool,
    started: bool,
    leading: Vec<usize>,
    title: Option<String>,
}

impl<'a, 'd> Parser<'a, 'd> {
    fn new(doc: &'d str, lines: &'a [Line<'d>], wrap: Wrap) -> Self {
        let n = lines.len();
        let (mut next_marker, mut next_md, mut next_plain) = (
            vec![usize::MAX; n + 1],
            vec![usize::MAX; n + 1],
            vec![usize::MAX; n + 1],
        );
        for i in (0..n).rev() {
            let l = lines.get(i);
            let carry = |v: &Vec<usize>| v.get(i + 1).copied().unwrap_or(usize::MAX);
            let (m, h, p) = (carry(&next_marker), carry(&next_md), carry(&next_plain));
            if let Some(slot) = next_marker.get_mut(i) {
                *slot = if l.is_some_and(|l| !l.markers.is_empty()) {
                    i
                } else {
                    m
                };
            }
            if let Some(slot) = next_md.get_mut(i) {
                *slot = if l.is_some_and(|l| l.md > 0 && l.markers.is_empty()) {
                    i
                } else {
                    h
                };
            }
            if let Some(slot) = next_plain.get_mut(i) {
                *slot = if l.is_some_and(|l| l.heading) { i } else { p };
            }
        }
        Self {
            doc,
            lines,
            wrap,
            next_marker,
            next_md,
            next_plain,
            out: Vec::new(),
            container: Container::default(),
            stack: Vec::new(),
            last_top: Vec::new(),
            sink: Sink::Intro,
            saw_blank: false,
            numbered: false,
            started: false,
            leading: Vec::new(),
            title: None,
        }
    }

    fn line(&mut self, i: usize) {
        let Some(l) = self.lines.get(i) else {
            return;
        };
        if l.blank || l.rule {
            self.saw_blank = true;
            return;
        }
        if let Some((m, at, closes)) = self.numbering(i) {
            let heading = self.is_heading(i, &m, at);
            if !self.started {
                self.resolve_leading(i, !heading);
            }
            if closes {
                self.finish_container();
            }
            self.open_numbered(i, m, at, heading);
        } else if l.md > 0 || (l.heading && !self.numbered) {
            if self.started {
                self.finish_container();
                self.open_heading(i);
            } else {
                self.leading.push(i);
            }
        } else {
            if !self.started {
                self.resolve_leading(i, false);
            }
            self.text(i);
        }
        self.saw_blank = false;
    }

    /// The numbering line `i` starts with, if it continues or opens a level here: the marker,
    /// the level it takes, and whether it first closes the heading section it is in.
    fn numbering(&self, i: usize) -> Option<(Marker, usize, bool)> {
        let l = self.lines.get(i)?;
        l.markers.iter().find_map(|m| {
            let closes = l.md > 0
                && self
                    .container
                    .heading
                    .as_ref()
                    .is_some_and(|h| h.md == 0 || h.md >= l.md);
            let stack: &[Level] = if closes { &[] } else { &self.stack };
            self.accept(stack, l, m).map(|at| (m.clone(), at, closes))
        })
    }

    /// Where `m` goes in `stack`: the index of the level it takes (levels from there on close),
    /// or `None` if it is not numbering here (a sentence starting "2 years", a number out of
    /// sequence).
    fn accept(&self, stack: &[Level], l: &Line<'_>, m: &Marker) -> Option<usize> {
        let content = self.content(l, m);
        if m.style.bare && !content.starts_with(char::is_uppercase) {
            return None;
        }
        let gap = if m.style.bare { 1 } else { 2 };
        let last = *m.parts.last()?;
        let prefix = m.parts.get(..m.parts.len() - 1)?;
        if let Some(k) = stack.iter().rposition(|lv| lv.style == m.style) {
            let prev = &stack.get(k)?.parts;
            let (prev_last, prev_prefix) = (*prev.last()?, prev.get(..prev.len() - 1)?);
            if prefix == prev_prefix && last > prev_last && last <= prev_last + gap {
                return Some(k);
            }
            // 2.1 after 1.4, where the document has no line "2".
            let next_parent = successor(prev_prefix);
            if !prefix.is_empty() && last == 1 && next_parent.as_deref() == Some(prefix) {
                return Some(k);
            }
            return None;
        }
        let first = last == 1;
        if m.style.bare && first && !heading_shape(content) {
            return None;
        }
        if !prefix.is_empty() {
            if let Some(p) = stack.iter().rposition(|lv| lv.parts == prefix) {
                return first.then_some(p + 1);
            }
            let numbered_parent = stack
                .iter()
                .any(|lv| matches!(lv.style.kind, Kind::Decimal | Kind::Word(_)));
            return (first && !numbered_parent).then_some(stack.len());
        }
        if first {
            return Some(stack.len());
        }
        if stack.is_empty() {
            let prev = self.last_top.iter().find(|(s, _)| *s == m.style)?;
            let prev_last = *prev.1.last()?;
            return (last > prev_last && last <= prev_last + gap).then_some(0);
        }
        None
    }

    fn content(&self, l: &Line<'_>, m: &Marker) -> &'d str {
        self.doc
            .get(l.start + m.content..l.end)
            .unwrap_or("")
            .trim()
    }

    /// A numbered line that is a heading, its text on the lines after it: short and
    /// unpunctuated, not a sentence running on to the next line, and followed by text or by
    /// numbering one level down (not by a sibling or a level above). `at` is its level.
    fn is_heading(&self, i: usize, m: &Marker, at: usize) -> bool {
        let Some(l) = self.lines.get(i) else {
            return false;
        };
        if l.md > 0 {
            return true;
        }
        let content = self.content(l, m);
        if !heading_shape(content) || ends_mid_sentence(content) {
            return false;
        }
        if let Some(n) = self.lines.get(i + 1)
            && !n.blank
            && !self.opens_number(n)
        {
            let long = l.body.chars().count() * 10 >= self.wrap.width * 7;
            if starts_lowercase(n.body)
                || n.body.starts_with(|c: char| c.is_ascii_digit())
                || (self.wrap.wrapped && long)
            {
                return false;
            }
        }
        let next = self
            .lines
            .iter()
            .skip(i + 1)
            .take(64)
            .find(|n| !n.blank && !n.rule);
        let Some(n) = next else {
            return false;
        };
        if n.md > 0 {
            return false;
        }
        if !self.opens_number(n) {
            return true;
        }
        let above = self.stack.get(..at).unwrap_or(&self.stack);
        let below = |x: &Marker| {
            x.style != m.style
                && x.parts.last() == Some(&1)
                && !above.iter().any(|lv| lv.style == x.style)
        };
        !n.markers.iter().any(|x| sibling(m, x)) && n.markers.iter().any(below)
    }

    /// Whether line `n` may start numbering: not a bare number starting a sentence ("14 days").
    fn opens_number(&self, n: &Line<'_>) -> bool {
        n.markers
            .iter()
            .any(|x| !x.style.bare || self.content(n, x).starts_with(char::is_uppercase))
    }

    /// The first content decides what the headings above it were: the document's title, or
    /// (the last of them) the first section.
    fn resolve_leading(&mut self, i: usize, first_is_item: bool) {
        self.started = true;
        let lead = std::mem::take(&mut self.leading);
        let Some((&last, rest)) = lead.split_last() else {
            return;
        };
        let Some(last_line) = self.lines.get(last) else {
            return;
        };
        let later = self.next_plain.get(i + 1).copied().unwrap_or(usize::MAX) != usize::MAX
            || self.next_md.get(i + 1).copied().unwrap_or(usize::MAX) != usize::MAX;
        let min_md = lead
            .iter()
            .filter_map(|&k| self.lines.get(k).map(|l| l.md))
            .filter(|&md| md > 0)
            .min();
        let text = heading_text(last_line);
        let section = last_line.md != 1
            && ((last_line.md > 0 && min_md.is_some_and(|m| last_line.md > m))
                || (later && !title_word(&text) && (first_is_item || lead.len() == 1)));
        let titles = if section { rest } else { &lead[..] };
        self.title = titles
            .last()
            .and_then(|&k| self.lines.get(k))
            .map(heading_text);
        if section {
            self.open_heading(last);
        }
    }

    fn open_heading(&mut self, i: usize) {
        let Some(l) = self.lines.get(i) else {
            return;
        };
        let title = heading_text(l);
        self.container = Container {
            heading: Some(Heading {
                id: heading_id(&title),
                title,
                md: l.md,
            }),
            intro: None,
            nodes: Vec::new(),
        };
        self.stack.clear();
        self.sink = Sink::Intro;
    }

    fn open_numbered(&mut self, i: usize, m: Marker, at: usize, heading: bool) {
        let Some(l) = self.lines.get(i) else {
            return;
        };
        self.stack.truncate(at);
        let own = m.label.clone();
        let id = match (self.stack.last(), &self.container.heading) {
            (Some(p), _)
                if m.parts.len() > 1
                    && Some(p.parts.as_slice()) == m.parts.get(..m.parts.len() - 1) =>
            {
                own
            }
            (Some(p), _) => match m.style.kind {
                Kind::Decimal | Kind::Word(_) => format!("{}.{own}", p.id),
                _ => format!("{}({own})", p.id),
            },
            (None, Some(h)) => format!("{} {own}", h.id),
            (None, None) => own,
        };
        let content = self.content(l, &m);
        let (start, title) = if heading {
            (l.end, clean_title(content))
        } else {
            (l.start + m.content, String::new())
        };
        self.container.nodes.push(Piece {
            id: id.clone(),
            title,
            start,
            end: l.end,
        });
        self.sink = Sink::Node(self.container.nodes.len() - 1);
        if self.stack.is_empty() {
            self.last_top.retain(|(s, _)| *s != m.style);
            self.last_top.push((m.style, m.parts.clone()));
        }
        self.numbered |= heading && l.md == 0;
        self.stack.push(Level {
            style: m.style,
            parts: m.parts,
            indent: l.indent,
            heading,
            id,
        });
    }

    /// A line of text: it continues what is open, unless it ends a list (see `ends_list`).
    fn text(&mut self, i: usize) {
        let Some(l) = self.lines.get(i) else {
            return;
        };
        if self.ends_list(i) {
            while self
                .stack
                .last()
                .is_some_and(|lv| !lv.heading && lv.indent >= l.indent)
            {
                self.stack.pop();
            }
            let id = match (self.stack.last(), &self.container.heading) {
                (Some(lv), _) => format!("{} note", lv.id),
                (None, Some(h)) => format!("{} note", h.id),
                (None, None) => "Closing".to_string(),
            };
            self.container.nodes.push(Piece {
                id,
                title: String::new(),
                start: l.start,
                end: l.end,
            });
            self.sink = Sink::Node(self.container.nodes.len() - 1);
            return;
        }
        match self.sink {
            Sink::Intro => {
                let first = self.container.intro.map_or(i, |(a, _)| a);
                self.container.intro = Some((first, i));
            }
            Sink::Node(k) => {
                if let Some(node) = self.container.nodes.get_mut(k) {
                    node.end = l.end;
                }
            }
        }
    }

    /// After a blank line, text not indented into the open item ends the list, unless the list
    /// goes on below it (the paragraph then belongs to the item above).
    fn ends_list(&self, i: usize) -> bool {
        let (Some(l), Some(top), Sink::Node(_)) = (self.lines.get(i), self.stack.last(), self.sink)
        else {
            return false;
        };
        if !self.saw_blank || top.heading || l.indent > top.indent || l.bullet {
            return false;
        }
        let next = self.next_marker.get(i + 1).copied().unwrap_or(usize::MAX);
        let mut stop = self.next_md.get(i + 1).copied().unwrap_or(usize::MAX);
        if !self.numbered {
            stop = stop.min(self.next_plain.get(i + 1).copied().unwrap_or(usize::MAX));
        }
        let continues = next < stop
            && self.lines.get(next).is_some_and(|n| {
                n.markers
                    .iter()
                    .any(|m| self.accept(&self.stack, n, m).is_some())
            });
        !continues
    }

    /// Closes the section: its intro becomes the heading's clause (or the preamble), split into
    /// numbered paragraphs when the heading has several and no numbered items.
    fn finish_container(&mut self) {
        let c = std::mem::take(&mut self.container);
        self.stack.clear();
        self.sink = Sink::Intro;
        let span = |(a, b): (usize, usize)| {
            let start = self.lines.get(a).map_or(0, |l| l.start);
            let end = self.lines.get(b).map_or(start, |l| l.end);
            (start, end)
        };
        match c.heading {
            None => {
                if let Some(intro) = c.intro {
                    let (start, end) = span(intro);
                    self.out.push(Piece {
                        id: "Preamble".to_string(),
                        title: String::new(),
                        start,
                        end,
                    });
                }
            }
            Some(h) => {
                let paras = match c.intro {
                    Some(intro) if c.nodes.is_empty() => self.paragraphs(intro),
                    Some(intro) => vec![intro],
                    None => Vec::new(),
                };
                match paras.as_slice() {
                    [] if c.nodes.is_empty() => self.out.push(Piece {
                        id: h.id,
                        title: h.title,
                        start: 0,
                        end: 0,
                    }),
                    [] => {}
                    [one] => {
                        let (start, end) = span(*one);
                        self.out.push(Piece {
                            id: h.id,
                            title: h.title,
                            start,
                            end,
                        });
                    }
                    many => {
                        for (k, p) in many.iter().enumerate() {
                            let (start, end) = span(*p);
                            self.out.push(Piece {
                                id: format!("{} {}", h.id, k + 1),
                                title: String::new(),
                                start,
                                end,
                            });
                        }
                    }
                }
            }
        }
        self.out.extend(c.nodes);
    }

    /// The paragraphs of lines `a..=b`: separated by blank lines, and in a document of one-line
    /// paragraphs also by line breaks (a list and the line introducing it stay together).
    fn paragraphs(&self, (a, b): (usize, usize)) -> Vec<(usize, usize)> {
        let mut out: Vec<(usize, usize)> = Vec::new();
        let mut open = false;
        let mut prev: Option<&Line<'_>> = None;
        for k in a..=b {
            let Some(l) = self.lines.get(k) else {
                break;
            };
            if l.blank || l.rule {
                open = false;
                continue;
            }
            let joins = open
                && (self.wrap.wrapped
                    || prev.is_some_and(|p| {
                        l.bullet || l.indent > p.indent || p.body.ends_with([':', '：'])
                    }));
            match out.last_mut() {
                Some(last) if joins => last.1 = k,
                _ => out.push((k, k)),
            }
            open = true;
            prev = Some(l);
        }
        out
    }
}

fn heading_text(l: &Line<'_>) -> String {
    clean_title(if l.md > 0 { l.md_text } else { l.body })
}

/// A heading as a title: emphasis and separators off, white space collapsed.
fn clean_title(s: &str) -> String {
    let s = strip_emphasis(s.trim())
        .trim_start_matches(['-', '–', '—', ':', '.', ')'])
        .trim_end_matches([':', '：']);
    collapse(s)
}

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A heading as an id: without quotation marks or a long parenthetical remark, capitalised,
/// at most about sixty characters.
fn heading_id(title: &str) -> String {
    let plain: String = title
        .chars()
        .filter(|c| !matches!(c, '"' | '“' | '”' | '„' | '«' | '»' | '*'))
        .collect();
    let mut id = collapse(&plain);
    if id.ends_with(')')
        && let Some(open) = id.rfind('(')
        && open > 0
        && id
            .get(open + 1..id.len() - 1)
            .is_some_and(|inner| inner.split_whitespace().count() > 3)
    {
        id = id.get(..open).unwrap_or(&id).trim_end().to_string();
    }
    if id.chars().count() > 60 {
        let mut cut = String::new();
        for w in id.split(' ') {
            if !cut.is_empty() && cut.chars().count() + 1 + w.chars().count() > 60 {
                break;
            }
            if !cut.is_empty() {
                cut.push(' ');
            }
            cut.push_str(w);
        }
        id = cut;
    }
    let mut chars = id.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => "Section".to_string(),
    }
}

/// A heading that names the whole document rather than a section of it.
fn title_word(s: &str) -> bool {
    let s = s.to_lowercase();
    [
        "policy",
        "terms",
        "conditions",
        "agreement",
        "contract",
        "statement",
    ]
    .iter()
    .any(|w| s.contains(w))
}

/// A title from a clause's text: its first sentence if short, else its first words.
fn excerpt(text: &str) -> String {
    // The first sentence may be wrapped over lines; a line ending a sentence or introducing a
    // list ends it.
    let mut first = String::new();
    for line in text.lines() {
        first.push_str(line);
        first.push(' ');
        if first.len() > 400
            || line
                .trim_end()
                .ends_with(['.', ';', ':', '?', '!', '。', '；'])
        {
            break;
        }
    }
    let first = collapse(&first);
    let mut cut = first.len();
    let mut chars = first.char_indices().peekable();
    while let Some((k, c)) = chars.next() {
        if matches!(c, '.' | ';' | '?' | '!' | '。' | '；')
            && chars.peek().is_none_or(|(_, n)| n.is_whitespace())
        {
            cut = k + c.len_utf8();
            break;
        }
    }
    let sentence = first.get(..cut).unwrap_or(&first);
    let sentence = sentence.trim_end_matches(['.', ';', ':', ',', '。', '；']);
    if sentence.chars().count() <= 72 {
        return sentence.to_string();
    }
    let mut out = String::new();
    for w in sentence.split(' ') {
        if out.chars().count() + w.chars().count() > 60 {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    if out.is_empty() {
        out = sentence.chars().take(60).collect();
    }
    out.push('…');
    out
}

/// `b` is the number after `a` at the same level (allowing a gap of one).
fn sibling(a: &Marker, b: &Marker) -> bool {
    let (Some((x, pa)), Some((y, pb))) = (a.parts.split_last(), b.parts.split_last()) else {
        return false;
    };
    a.style == b.style && pa == pb && y > x && *y <= x.saturating_add(2)
}

fn successor(parts: &[u32]) -> Option<Vec<u32>> {
    let (last, rest) = parts.split_last()?;
    let mut v = rest.to_vec();
    v.push(last.checked_add(1)?);
    Some(v)
}

// ---------------------------------------------------------------------------------------------
// Skeleton

/// What the document's words suggest about where the seller trades, and why.
#[derive(Debug, PartialEq, Eq)]
struct Guess {
    currency: &'static str,
    time_zone: &'static str,
    jurisdiction: &'static str,
    law: Option<&'static str>,
    /// What the document says that gave the currency, and the place.
    currency_why: String,
    place_why: String,
}

/// Currencies and the words that name them.
const CURRENCIES: [(&str, &[&str]); 5] = [
    ("CNY", &["RMB", "CNY", "yuan", "人民币", "元"]),
    ("EUR", &["€", "EUR", "euro", "euros"]),
    ("USD", &["$", "USD", "US dollar", "US dollars"]),
    ("GBP", &["£", "GBP", "pound sterling", "pounds sterling"]),
    ("JPY", &["JPY", "yen"]),
];

/// A place a document may name: its words, time zone, jurisdiction, currency and law layer.
struct Place {
    words: &'static [&'static str],
    zone: &'static str,
    jurisdiction: &'static str,
    currency: &'static str,
    law: Option<&'static str>,
}

const fn place(
    words: &'static [&'static str],
    zone: &'static str,
    jurisdiction: &'static str,
    currency: &'static str,
    law: Option<&'static str>,
) -> Place {
    Place {
        words,
        zone,
        jurisdiction,
        currency,
        law,
    }
}

const CHINA: &[&str] = &[
    "mainland China",
    "People's Republic of China",
    "People’s Republic of China",
    "PRC",
    "China",
    "中国",
];
const EU_LAW: Option<&str> = Some("eu-consumer");

/// Earlier places win ties: Belgium (the EU's seat) before the EU.
const PLACES: [Place; 8] = [
    place(CHINA, "Asia/Shanghai", "CN", "CNY", Some("cn-consumer")),
    place(
        &["Belgium", "Belgian", "Belgique", "België"],
        "Europe/Brussels",
        "BE",
        "EUR",
        EU_LAW,
    ),
    place(
        &["Germany", "German", "Deutschland"],
        "Europe/Berlin",
        "DE",
        "EUR",
        EU_LAW,
    ),
    place(&["France", "French"], "Europe/Paris", "FR", "EUR", EU_LAW),
    place(
        &["EU", "European Union", "European"],
        "Europe/Brussels",
        "EU",
        "EUR",
        EU_LAW,
    ),
    place(
        &["United Kingdom", "UK", "England", "Great Britain"],
        "Europe/London",
        "GB",
        "GBP",
        None,
    ),
    place(
        &["United States", "USA", "U.S."],
        "America/New_York",
        "US",
        "USD",
        None,
    ),
    place(&["Japan"], "Asia/Tokyo", "JP", "JPY", None),
];

/// Occurrences of `word`: whole words if it is one, case-sensitive unless written in lowercase.
fn count(doc: &str, lower: &str, word: &str) -> usize {
    let hay = if word.chars().any(char::is_uppercase) {
        doc
    } else {
        lower
    };
    let wordy = word.starts_with(|c: char| c.is_ascii_alphabetic());
    hay.match_indices(word)
        .filter(|(k, _)| {
            let before = hay.get(..*k).and_then(|b| b.chars().next_back());
            let after = hay.get(k + word.len()..).and_then(|a| a.chars().next());
            !wordy
                || !(before.is_some_and(char::is_alphanumeric)
                    || after.is_some_and(char::is_alphanumeric))
        })
        .count()
}

/// The candidate whose words occur most (the first on a tie), and its most frequent word.
fn most<'w>(
    doc: &str,
    lower: &str,
    candidates: impl Iterator<Item = &'w [&'static str]>,
) -> Option<(usize, &'static str)> {
    let mut best: Option<(usize, usize, &'static str)> = None;
    for (k, words) in candidates.enumerate() {
        let counts: Vec<(usize, &'static str)> =
            words.iter().map(|w| (count(doc, lower, w), *w)).collect();
        let total: usize = counts.iter().map(|c| c.0).sum();
        let top = counts.iter().max_by_key(|c| c.0).map_or("", |c| c.1);
        if total > 0 && best.is_none_or(|b| total > b.1) {
            best = Some((k, total, top));
        }
    }
    best.map(|(k, _, w)| (k, w))
}

fn guess(doc: &str) -> Guess {
    let lower = doc.to_lowercase();
    let currency = most(doc, &lower, CURRENCIES.iter().map(|c| c.1))
        .and_then(|(k, w)| CURRENCIES.get(k).map(|c| (c.0, w)));
    // A currency without a place gives the place it is most used in.
    let place = most(doc, &lower, PLACES.iter().map(|p| p.words))
        .and_then(|(k, w)| PLACES.get(k).map(|p| (p, w)))
        .or_else(|| {
            let (code, w) = currency?;
            PLACES
                .iter()
                .find(|p| p.currency == code && (code != "EUR" || p.jurisdiction == "EU"))
                .map(|p| (p, w))
        });
    match place {
        Some((p, pw)) => {
            // A place without a currency gives its own.
            let (code, cw) = currency.unwrap_or((p.currency, pw));
            Guess {
                currency: code,
                time_zone: p.zone,
                jurisdiction: p.jurisdiction,
                law: p.law,
                currency_why: format!("it mentions \"{cw}\""),
                place_why: format!("it mentions \"{pw}\""),
            }
        }
        None => Guess {
            currency: "EUR",
            time_zone: "UTC",
            jurisdiction: "unspecified",
            law: None,
            currency_why: "it names no currency or place: a default".to_string(),
            place_why: "it names no place: a default".to_string(),
        },
    }
}

/// A date the document gives for itself ("Last updated: 1 March 2024", "effective 2024-03-01"),
/// and how it writes it.
fn stated_date(doc: &str) -> Option<(jiff::civil::Date, String)> {
    const SAYS: [&str; 6] = [
        "effective",
        "updated",
        "valid from",
        "as of",
        "in force",
        "dated",
    ];
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let month = |w: &str| -> Option<i8> {
        let w = w.to_lowercase();
        let m = MONTHS
            .iter()
            .position(|m| w.starts_with(m) && w.len() <= 9 && w.chars().all(char::is_alphabetic))?;
        i8::try_from(m + 1).ok()
    };
    let number = |w: &str| -> Option<i16> {
        w.trim_end_matches(|c: char| c.is_ascii_alphabetic())
            .parse()
            .ok()
    };
    let date = |y: i16, m: i16, d: i16| {
        jiff::civil::Date::new(y, i8::try_from(m).ok()?, i8::try_from(d).ok()?).ok()
    };
    for line in doc.lines().filter(|l| l.len() < 2_000) {
        let lower = line.to_lowercase();
        if !SAYS.iter().any(|s| lower.contains(s)) {
            continue;
        }
        let words: Vec<&str> = line
            .split(|c: char| c.is_whitespace() || c == ',')
            .map(|w| w.trim_matches(|c: char| matches!(c, '.' | ':' | ';' | '(' | ')')))
            .filter(|w| !w.is_empty())
            .collect();
        for (k, w) in words.iter().enumerate() {
            let iso: Vec<Option<i16>> = w.split('-').map(|p| p.parse().ok()).collect();
            if let [Some(y), Some(m), Some(d)] = iso.as_slice()
                && w.len() == 10
                && let Some(day) = date(*y, *m, *d)
            {
                return Some((day, (*w).to_string()));
            }
            let (Some(a), Some(b), Some(c)) = (words.get(k), words.get(k + 1), words.get(k + 2))
            else {
                continue;
            };
            // 1 March 2024, or March 1 2024.
            let day_month = match (number(a), month(b), month(a), number(b)) {
                (Some(d), Some(m), _, _) | (_, _, Some(m), Some(d)) => Some((d, i16::from(m))),
                _ => None,
            };
            if let Some((d, m)) = day_month
                && let Some(y) = number(c).filter(|y| *y > 1900)
                && let Some(day) = date(y, m, d)
            {
                return Some((day, format!("{a} {b} {c}")));
            }
        }
    }
    None
}

/// A policy file for `document`: `[policy]` with `id` (made lowercase letters, digits and '-'),
/// `seller`, a title from the document's first lines, the date the document gives for itself
/// (else 2024-01-01, a placeholder said to be one), and currency, time zone and jurisdiction
/// guessed from its words (each guess marked "# guessed from the document: confirm");
/// then every clause of [`split`], and no rules. The checker (`load::load`) accepts it, with a
/// warning for each clause no rule uses yet.
pub fn skeleton(document: &str, id: &str, seller: &str) -> String {
    let parsed = parse(document);
    let g = guess(document);
    let title = parsed
        .title
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| format!("{} after-sales policy", collapse(seller)));
    let seller = if seller.trim().is_empty() {
        "seller"
    } else {
        seller.trim()
    };
    let mut out = String::new();
    let mut line = |s: &str| {
        out.push_str(s);
        out.push('\n');
    };
    line(&format!(
        "# Policy skeleton for {}, split from the seller's document by its own numbering.",
        collapse(seller).replace(['\n', '\r'], " ")
    ));
    line(
        "# Every clause is here with its text exactly as written; there are no rules yet. Write the",
    );
    line("# rules each clause states, and confirm the guessed values below.");
    line("");
    line("[policy]");
    line(&format!("id = {}", basic(&policy_id(id))));
    line("kind = \"seller\"");
    line(&format!("title = {}", basic(&title)));
    line(&format!("seller = {}", basic(seller)));
    line("version = \"1.0.0\"");
    match stated_date(document) {
        Some((date, says)) => line(&format!(
            "effective_from = {date} # guessed from the document: confirm (it says \"{says}\")"
        )),
        None => {
            line(
                "# The document gives no date: a placeholder; set the day this text applies from.",
            );
            line("effective_from = 2024-01-01");
        }
    }
    let note = |why: &str| format!("# guessed from the document: confirm ({why})");
    line(&format!(
        "jurisdiction = \"{}\" {}",
        g.jurisdiction,
        note(&g.place_why)
    ));
    line(&format!(
        "time_zone = \"{}\" {}",
        g.time_zone,
        note(&g.place_why)
    ));
    line(&format!(
        "currency = \"{}\" {}",
        g.currency,
        note(&g.currency_why)
    ));
    if let Some(law) = g.law {
        line(&format!(
            "# law = [\"{law}\"] # guessed from the document: confirm the mandatory law layers that apply"
        ));
    }
    for c in &parsed.clauses {
        line("");
        line("[[clause]]");
        line(&format!("id = {}", basic(&c.id)));
        line(&format!("title = {}", basic(&c.title)));
        line(&format!("text = {}", multiline(&c.text)));
    }
    out
}

/// `id` as a policy id: lowercase ASCII letters, digits and single dashes.
fn policy_id(id: &str) -> String {
    let mut out = String::new();
    for c in id.trim().chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_matches('-');
    if out.is_empty() {
        "seller".to_string()
    } else {
        out.to_string()
    }
}

/// A TOML basic string: `"..."` with quotes, backslashes and control characters escaped.
fn basic(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A TOML string for a clause's text: multi-line (`"""` then a line break, which TOML drops)
/// when it has line breaks, escaping backslashes, control characters other than line feed and
/// tab, and any quote that would make three in a row or touch the closing delimiter.
fn multiline(s: &str) -> String {
    if !s.contains('\n') {
        return basic(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    out.push_str("\"\"\"\n");
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if chars.peek().is_none_or(|&n| n == '"') => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' | '\t' => out.push(c),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push_str("\"\"\"");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(doc: &str) -> Vec<String> {
        split(doc).into_iter().map(|c| c.id).collect()
    }

    #[test]
    fn odd_input_gives_clauses_without_panicking() {
        let long = "x".repeat(200_000);
        let numbered_long = format!("1. {long}\n2. {long}");
        let inputs = [
            "",
            " ",
            "\n\n\n",
            "\r\n\r\n",
            "\t \u{3000}\u{feff}",
            "\r",
            "1.",
            "(",
            "(1",
            "1)",
            "§",
            "Article",
            "Article IX",
            "#",
            "######## x",
            "---\n---",
            "=\n===",
            "1.1.1.1.1.1.1.1.1 deep",
            "99999999999999999999. big",
            "4294967295. max\n4294967296. over",
            "9999. a\n10000. b",
            "999999. a\n1000000. b",
            "x\u{0}y\u{7f}z",
            "第一条 保修期为一年。\n第二条 退货。",
            "ÄÖÜ\n\n1. Ünïcödé ✓\n  (a) 😀 item\n",
            long.as_str(),
            numbered_long.as_str(),
            "\"\"\"\n1. \"\"\"quoted\"\"\"\n2. back\\slash\\",
        ];
        for doc in inputs {
            let clauses = split(doc);
            let normal = doc.replace("\r\n", "\n");
            let mut seen = HashSet::new();
            for c in &clauses {
                assert!(!c.id.trim().is_empty(), "{doc:?}");
                assert!(seen.insert(c.id.clone()), "{doc:?}: {} twice", c.id);
                assert!(normal.contains(&c.text), "{doc:?}: {:?}", c.text);
            }
            let toml = skeleton(doc, "odd", "Odd");
            let (policy, _) = crate::load::load("odd.toml", &toml)
                .unwrap_or_else(|e| panic!("{doc:?}:\n{toml}\n{e:?}"));
            assert_eq!(policy.clauses.len(), clauses.len());
        }
    }

    #[test]
    fn crlf_gives_the_same_clauses_as_lf() {
        let doc = "Title Policy\n\nIntro text.\n\n1. First item,\nwrapped.\n\n2. Second:\n  (1) sub one;\n  (2) sub two.\n\nClosing words.\n";
        assert_eq!(split(doc), split(&doc.replace('\n', "\r\n")));
        assert_eq!(ids(doc), ["Preamble", "1", "2", "2(1)", "2(2)", "Closing"]);
    }

    #[test]
    fn a_long_document_splits_in_linear_time() {
        let mut doc = String::new();
        for n in 1..=20_000 {
            doc.push_str(&format!(
                "{n}. Item number {n} of the list;\n  (a) first;\n  (b) second.\n\n"
            ));
        }
        // And one without numbers that repeats one heading, so every id needs a suffix.
        let repeats = "Notes\n\nSome text.\n\n".repeat(20_000);
        let t = std::time::Instant::now();
        let clauses = split(&doc);
        assert_eq!(clauses.len(), 60_000);
        assert_eq!(clauses.last().map(|c| c.id.as_str()), Some("20000(b)"));
        let clauses = split(&repeats);
        assert_eq!(clauses.len(), 20_000);
        assert_eq!(clauses.last().map(|c| c.id.as_str()), Some("Notes (20000)"));
        assert!(t.elapsed().as_secs() < 10, "{:?}", t.elapsed());
    }

    #[test]
    fn numbers_are_read_in_sequence_only() {
        // "2 years" is not clause 2; "3.5 mm" is not clause 3.5.
        let doc = "1 Scope\n\nThe warranty lasts\n2 years from delivery.\n3.5 mm jacks excluded.\n\n2 Claims\n\nWrite to us.";
        assert_eq!(ids(doc), ["1", "2"]);
    }

    #[test]
    fn roman_and_letters_are_told_apart_by_sequence() {
        // A list does not start at (h): that is text of clause 1.
        assert_eq!(ids("1. Items:\n(h) eighth\n"), ["1"]);
        let doc =
            "1. Items:\n(a) a\n(b) b\n(c) c\n(d) d\n(e) e\n(f) f\n(g) g\n(h) h\n(i) i\n(j) j\n";
        assert_eq!(ids(doc).last().map(String::as_str), Some("1(j)"));
        let doc = "1. Items:\n(i) one\n(ii) two\n(iii) three\n";
        assert_eq!(ids(doc), ["1", "1(i)", "1(ii)", "1(iii)"]);
    }

    #[test]
    fn toml_strings_round_trip() {
        for s in [
            "",
            "a\"b",
            "\"",
            "\"\"\"",
            "a\n\"",
            "x\\\ny",
            "tab\there\nand\r\nthe end\"",
            "\u{1}\u{7f}",
        ] {
            let doc = format!("a = {}\nb = {}\n", basic(s), multiline(s));
            let t: toml::Table =
                toml::from_str(&doc).unwrap_or_else(|e| panic!("{s:?}: {e}\n{doc}"));
            assert_eq!(t.get("a").and_then(|v| v.as_str()), Some(s));
            assert_eq!(t.get("b").and_then(|v| v.as_str()), Some(s));
        }
    }

    #[test]
    fn guesses_follow_the_words_of_the_document() {
        let g = guess("Prices in RMB for users in mainland China.");
        assert_eq!(
            (g.currency, g.time_zone, g.jurisdiction),
            ("CNY", "Asia/Shanghai", "CN")
        );
        let g = guess("A 2-year legal warranty in the EU, under Belgian law.");
        assert_eq!(
            (g.currency, g.time_zone, g.jurisdiction),
            ("EUR", "Europe/Brussels", "BE")
        );
        let g = guess("Refunds of $20 or more.");
        assert_eq!((g.currency, g.time_zone), ("USD", "America/New_York"));
        let g = guess("Refunds of €20 or more.");
        assert_eq!(
            (g.currency, g.time_zone, g.jurisdiction),
            ("EUR", "Europe/Brussels", "EU")
        );
        let g = guess("Shipped from Germany; prices in $.");
        assert_eq!((g.currency, g.time_zone), ("USD", "Europe/Berlin"));
        let g = guess("Nothing here about money, Europe-wide, euROPE.");
        assert_eq!((g.currency, g.time_zone), ("EUR", "UTC"));
    }

    #[test]
    fn a_date_the_document_gives_is_read() {
        let date = |s: &str| stated_date(s).map(|(d, _)| d.to_string());
        assert_eq!(
            date("Last updated: 1 March 2024."),
            Some("2024-03-01".into())
        );
        assert_eq!(
            date("Effective from March 3rd, 2025"),
            Some("2025-03-03".into())
        );
        assert_eq!(
            date("In force as of 2023-07-15."),
            Some("2023-07-15".into())
        );
        assert_eq!(date("Updated 31 February 2024"), None);
        assert_eq!(date("We ship on 1 March 2024."), None);
        assert_eq!(date("Updated 2024-13-01 and 99999-01-01"), None);
    }

    #[test]
    fn policy_ids_are_made_valid() {
        assert_eq!(policy_id("My Shop 2"), "my-shop-2");
        assert_eq!(policy_id("  --  "), "seller");
        assert_eq!(policy_id("Ünï_cøde"), "n-c-de");
    }
}
