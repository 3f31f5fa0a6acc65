//! The document's lines, classified once: headings, rules, bullets, wrapping.

use super::*;

/// One line of the document, classified once.
#[derive(Debug)]
pub(super) struct Line<'a> {
    /// Byte offsets of the line in the document, without its line ending.
    pub(super) start: usize,
    pub(super) end: usize,
    /// The line without surrounding white space.
    pub(super) body: &'a str,
    /// Leading white space, a tab counting four.
    pub(super) indent: usize,
    pub(super) blank: bool,
    /// A thematic break (`---`, `***`) or a setext underline: a separator, like a blank line.
    pub(super) rule: bool,
    /// The level of a Markdown heading (`## x`, or a line underlined with `===` / `---`), else 0.
    pub(super) md: u8,
    /// A Markdown heading's text.
    pub(super) md_text: &'a str,
    /// Starts with a bullet (`-`, `*`, `•`…), whether numbering follows it or not.
    pub(super) bullet: bool,
    /// The numbering the line may start with, one candidate per reading (`i)` is a letter or a
    /// roman numeral); offsets are from `start`.
    pub(super) markers: Vec<Marker>,
    /// Shaped like a heading where it stands (short, unpunctuated, set apart), whatever the
    /// document's mode turns out to be.
    pub(super) heading: bool,
}

/// The document's lines, and how it wraps its paragraphs.
pub(super) fn lines(doc: &str) -> (Vec<Line<'_>>, Wrap) {
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

pub(super) fn classify(start: usize, raw: &str) -> Line<'_> {
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
pub(super) fn offset_in(outer: &str, inner: &str) -> usize {
    (inner.as_ptr() as usize)
        .saturating_sub(outer.as_ptr() as usize)
        .min(outer.len())
}

pub(super) fn is_rule(body: &str) -> bool {
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
pub(super) fn atx_heading(body: &str) -> Option<(u8, &str)> {
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

pub(super) fn strip_bullet(body: &str) -> Option<&str> {
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
pub(super) struct Wrap {
    pub(super) wrapped: bool,
    pub(super) width: usize,
}

impl Wrap {
    /// Wrapped if some prose lines (one in six) stop mid-sentence with text on the next line, and
    /// lines past a hundred characters are rare. (Lines that end paragraphs, items and headings
    /// end as they would unwrapped.)
    pub(super) fn of(lines: &[Line<'_>]) -> Self {
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
pub(super) fn heading_shape(s: &str) -> bool {
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
pub(super) fn ends_mid_sentence(s: &str) -> bool {
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

pub(super) fn strip_emphasis(s: &str) -> &str {
    let mut s = s;
    for mark in ["**", "__"] {
        s = s.strip_prefix(mark).unwrap_or(s);
        s = s.strip_suffix(mark).unwrap_or(s).trim();
    }
    s
}

pub(super) fn starts_lowercase(s: &str) -> bool {
    s.chars().next().is_some_and(char::is_lowercase)
}

/// A line that reads as a heading where it stands: after a blank line, another heading or (in a
/// document of one-line paragraphs) a finished sentence, and not continued by a lowercase line.
pub(super) fn plain_heading(lines: &[Line<'_>], i: usize, wrap: Wrap) -> bool {
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
