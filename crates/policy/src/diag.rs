//! Located diagnostics: every error about a policy or facts file names the file, line and
//! column, shows the line and, where we can tell, how to fix it.

use std::fmt;
use std::ops::Range;

/// How bad a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// One located message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub hint: Option<String>,
    /// The source line the message points into, and the width of the underline.
    pub snippet: Option<(String, usize)>,
}

impl Diagnostic {
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(
            f,
            "{}:{}:{}: {level}: {}",
            self.file, self.line, self.column, self.message
        )?;
        if let Some((text, width)) = &self.snippet {
            let gutter = self.line.to_string().len();
            write!(f, "\n{:gutter$} |\n{} | {}", "", self.line, text)?;
            let pad: String = text
                .chars()
                .take(self.column.saturating_sub(1))
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            write!(f, "\n{:gutter$} | {pad}{}", "", "^".repeat((*width).max(1)))?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  = help: {hint}")?;
        }
        Ok(())
    }
}

/// Turns byte offsets of one source text into diagnostics.
#[derive(Debug)]
pub struct Source<'a> {
    pub name: &'a str,
    pub text: &'a str,
    /// Byte offset where each line starts.
    line_starts: Vec<usize>,
}

impl<'a> Source<'a> {
    pub fn new(name: &'a str, text: &'a str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self {
            name,
            text,
            line_starts,
        }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = floor_char_boundary(self.text, offset.min(self.text.len()));
        let line = self.line_starts.partition_point(|&s| s <= offset).max(1);
        let line_start = self.line_starts.get(line - 1).copied().unwrap_or(0);
        let col = self
            .text
            .get(line_start..offset)
            .unwrap_or("")
            .chars()
            .count()
            + 1;
        (line, col)
    }

    pub fn diag(
        &self,
        severity: Severity,
        span: Range<usize>,
        message: impl Into<String>,
    ) -> Diagnostic {
        let (line, column) = self.line_col(span.start);
        let line_text = self.text.lines().nth(line - 1).unwrap_or("").to_string();
        let start = floor_char_boundary(self.text, span.start.min(self.text.len()));
        let end = floor_char_boundary(self.text, span.end.clamp(start, self.text.len()));
        let width = self
            .text
            .get(start..end)
            .map_or(1, |s| s.lines().next().unwrap_or("").chars().count());
        Diagnostic {
            severity,
            file: self.name.to_string(),
            line,
            column,
            message: message.into(),
            hint: None,
            snippet: Some((line_text, width)),
        }
    }

    /// A diagnostic for a whole line (1-based), pointing at its first non-blank character.
    pub fn at_line(
        &self,
        severity: Severity,
        line: usize,
        message: impl Into<String>,
    ) -> Diagnostic {
        let text = self.text.lines().nth(line.saturating_sub(1)).unwrap_or("");
        let column = text.len() - text.trim_start().len() + 1;
        Diagnostic {
            severity,
            file: self.name.to_string(),
            line,
            column,
            message: message.into(),
            hint: None,
            snippet: Some((text.to_string(), text.trim().chars().count())),
        }
    }

    pub fn error(&self, span: Range<usize>, message: impl Into<String>) -> Diagnostic {
        self.diag(Severity::Error, span, message)
    }

    pub fn warning(&self, span: Range<usize>, message: impl Into<String>) -> Diagnostic {
        self.diag(Severity::Warning, span, message)
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// A diagnostic with a hint added.
pub trait WithHint {
    fn hint(self, hint: impl Into<String>) -> Self;
    fn maybe_hint(self, hint: Option<String>) -> Self;
}

impl WithHint for Diagnostic {
    fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
    fn maybe_hint(mut self, hint: Option<String>) -> Self {
        self.hint = hint;
        self
    }
}

/// Errors in one file, in source order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_become_lines_and_columns() {
        let src = Source::new("p.toml", "a = 1\nbé = \"x\"\n");
        assert_eq!(src.line_col(0), (1, 1));
        assert_eq!(src.line_col(6), (2, 1));
        // 'é' is two bytes but one column.
        assert_eq!(src.line_col(10), (2, 4));
        assert_eq!(src.line_col(9999), (3, 1));
    }

    #[test]
    fn a_diagnostic_shows_the_line_and_an_underline() {
        let src = Source::new("p.toml", "x = 1\nwhen = \"foo\"\n");
        let d = src
            .error(14..17, "unknown fact `foo`")
            .hint("did you mean `food`?");
        let text = d.to_string();
        assert!(
            text.starts_with("p.toml:2:9: error: unknown fact `foo`"),
            "{text}"
        );
        assert!(text.contains("        ^^^"), "{text}");
        assert!(text.ends_with("= help: did you mean `food`?"), "{text}");
    }
}
