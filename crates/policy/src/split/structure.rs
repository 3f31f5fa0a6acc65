//! The document's structure: numbering levels, headings and the clauses they hold.

use super::*;

/// A numbering level open at this point: the last number seen at it.
#[derive(Debug)]
pub(super) struct Level {
    pub(super) style: Style,
    pub(super) parts: Vec<u32>,
    pub(super) indent: usize,
    /// A numbered heading (its text on the following lines) rather than an item.
    pub(super) heading: bool,
    pub(super) id: String,
}

/// A clause found, its text still as offsets into the document.
#[derive(Debug)]
pub(super) struct Piece {
    pub(super) id: String,
    pub(super) title: String,
    pub(super) start: usize,
    pub(super) end: usize,
}

#[derive(Debug)]
pub(super) struct Heading {
    pub(super) id: String,
    pub(super) title: String,
    pub(super) md: u8,
}

/// A heading's section, or the document outside any heading: its text before the first number
/// (lines `intro`), and the numbered clauses and notes in it.
#[derive(Debug, Default)]
pub(super) struct Container {
    pub(super) heading: Option<Heading>,
    pub(super) intro: Option<(usize, usize)>,
    pub(super) nodes: Vec<Piece>,
}

#[derive(Clone, Copy, Debug)]
pub(super) enum Sink {
    Intro,
    Node(usize),
}

pub(super) struct Parser<'a, 'd> {
    pub(super) doc: &'d str,
    pub(super) lines: &'a [Line<'d>],
    pub(super) wrap: Wrap,
    /// Per line: the next line at or after it with numbering, and the next Markdown heading and
    /// plain heading (`usize::MAX` if none), so "does a sibling follow?" is one look.
    pub(super) next_marker: Vec<usize>,
    pub(super) next_md: Vec<usize>,
    pub(super) next_plain: Vec<usize>,
    pub(super) out: Vec<Piece>,
    pub(super) container: Container,
    pub(super) stack: Vec<Level>,
    /// The last top-level number of each style, so a list may continue past a heading.
    pub(super) last_top: Vec<(Style, Vec<u32>)>,
    pub(super) sink: Sink,
    pub(super) saw_blank: bool,
    /// The document numbers its headings: plain short lines are text from then on.
    pub(super) numbered: bool,
    pub(super) started: bool,
    pub(super) leading: Vec<usize>,
    pub(super) title: Option<String>,
}

impl<'a, 'd> Parser<'a, 'd> {
    pub(super) fn new(doc: &'d str, lines: &'a [Line<'d>], wrap: Wrap) -> Self {
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

    pub(super) fn line(&mut self, i: usize) {
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
    pub(super) fn numbering(&self, i: usize) -> Option<(Marker, usize, bool)> {
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
    pub(super) fn accept(&self, stack: &[Level], l: &Line<'_>, m: &Marker) -> Option<usize> {
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

    pub(super) fn content(&self, l: &Line<'_>, m: &Marker) -> &'d str {
        self.doc
            .get(l.start + m.content..l.end)
            .unwrap_or("")
            .trim()
    }

    /// A numbered line that is a heading, its text on the lines after it: short and
    /// unpunctuated, not a sentence running on to the next line, and followed by text or by
    /// numbering one level down (not by a sibling or a level above). `at` is its level.
    pub(super) fn is_heading(&self, i: usize, m: &Marker, at: usize) -> bool {
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
    pub(super) fn opens_number(&self, n: &Line<'_>) -> bool {
        n.markers
            .iter()
            .any(|x| !x.style.bare || self.content(n, x).starts_with(char::is_uppercase))
    }

    /// The first content decides what the headings above it were: the document's title, or
    /// (the last of them) the first section.
    pub(super) fn resolve_leading(&mut self, i: usize, first_is_item: bool) {
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

    pub(super) fn open_heading(&mut self, i: usize) {
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

    pub(super) fn open_numbered(&mut self, i: usize, m: Marker, at: usize, heading: bool) {
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
    pub(super) fn text(&mut self, i: usize) {
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
    pub(super) fn ends_list(&self, i: usize) -> bool {
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
    pub(super) fn finish_container(&mut self) {
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
    pub(super) fn paragraphs(&self, (a, b): (usize, usize)) -> Vec<(usize, usize)> {
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

pub(super) fn heading_text(l: &Line<'_>) -> String {
    clean_title(if l.md > 0 { l.md_text } else { l.body })
}

/// A heading as a title: emphasis and separators off, white space collapsed.
pub(super) fn clean_title(s: &str) -> String {
    let s = strip_emphasis(s.trim())
        .trim_start_matches(['-', '–', '—', ':', '.', ')'])
        .trim_end_matches([':', '：']);
    collapse(s)
}

pub(super) fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A heading as an id: without quotation marks or a long parenthetical remark, capitalised,
/// at most about sixty characters.
pub(super) fn heading_id(title: &str) -> String {
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
pub(super) fn title_word(s: &str) -> bool {
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
pub(super) fn excerpt(text: &str) -> String {
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
pub(super) fn sibling(a: &Marker, b: &Marker) -> bool {
    let (Some((x, pa)), Some((y, pb))) = (a.parts.split_last(), b.parts.split_last()) else {
        return false;
    };
    a.style == b.style && pa == pb && y > x && *y <= x.saturating_add(2)
}

pub(super) fn successor(parts: &[u32]) -> Option<Vec<u32>> {
    let (last, rest) = parts.split_last()?;
    let mut v = rest.to_vec();
    v.push(last.checked_add(1)?);
    Some(v)
}
