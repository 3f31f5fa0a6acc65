//! Splits a seller's after-sales document (plain text or Markdown) into clauses by the document's
//! own numbering, and writes a policy skeleton from them for the seller to confirm (issue 20).
//! Pure and total: any text gives clauses, in one pass over its lines.
//!
//! How clauses are named, as the hand-written policies name them:
//! - numbered clauses keep the document's numbers: `5.1`, `2(3)` (an item `(3)` of clause `2`),
//!   `1(a)` (an item `a)` of clause `1`), `2.1(b)`; "Article 3" and "Section 1.2" give `3` and `1.2`;
//! - under an unnumbered heading, numbered items are the heading plus the item's number
//!   (`Products Excluded from the Warranty 3`), and a heading's paragraphs, when it has several and no items, are numbered
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

mod lines;
mod numbering;
mod skeleton;
mod structure;
#[cfg(test)]
mod tests;

use lines::*;
use numbering::*;
pub use skeleton::skeleton;
use structure::*;
