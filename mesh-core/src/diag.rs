//! Diagnostics: what was wrong, where (file, line, column, resource, field path), and how bad.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

/// How bad a diagnostic is. Warnings never fail validation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Accepted, but worth a look.
    Warning,
    /// Rejected.
    Error,
}

/// One finding about the input.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The file, as given.
    pub file: String,
    /// 1-based line (0 when the finding is about the whole file).
    pub line: u32,
    /// 1-based column (0 when unknown).
    pub column: u32,
    /// `Kind namespace/name` when the finding is about one resource.
    pub resource: Option<String>,
    /// The field path (`spec.http[1].route[0].weight`), empty for the whole document.
    pub path: String,
    /// What is wrong and what to do.
    pub message: String,
}

/// The text of every input file, to show the offending line.
#[derive(Clone, Debug, Default)]
pub struct Sources {
    files: BTreeMap<String, String>,
}

// === impl Sources ===

impl Sources {
    /// Records a file's text.
    pub fn insert(&mut self, file: &str, text: &str) {
        self.files.insert(file.to_owned(), text.to_owned());
    }

    /// Line `n` (1-based) of `file`.
    pub fn line(&self, file: &str, n: u32) -> Option<&str> {
        let idx = usize::try_from(n).ok()?.checked_sub(1)?;
        self.files.get(file)?.lines().nth(idx)
    }
}

// === impl Diagnostic ===

impl Diagnostic {
    /// True for errors.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Renders the diagnostic for a terminal, with the offending source line and a caret:
    ///
    /// ```text
    /// error: spec.http[1].route[0].weight: weight must not be negative
    ///   --> vs.yaml:23:17 (VirtualService production/myapp)
    ///    |
    /// 23 |         weight: -5
    ///    |                 ^
    /// ```
    pub fn render(&self, sources: &Sources) -> String {
        let mut out = String::new();
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        if self.path.is_empty() {
            let _ = writeln!(out, "{sev}: {}", self.message);
        } else {
            let _ = writeln!(out, "{sev}: {}: {}", self.path, self.message);
        }
        let _ = write!(out, "  --> {}", self.file);
        if self.line > 0 {
            let _ = write!(out, ":{}:{}", self.line, self.column);
        }
        if let Some(r) = &self.resource {
            let _ = write!(out, " ({r})");
        }
        out.push('\n');
        if let Some(src) = sources.line(&self.file, self.line) {
            let num = self.line.to_string();
            let pad = " ".repeat(num.len());
            let _ = writeln!(out, "{pad} |");
            let _ = writeln!(out, "{num} | {src}");
            let col = usize::try_from(self.column.max(1) - 1).unwrap_or(0);
            let indent: String = src
                .chars()
                .take(col)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            let _ = writeln!(out, "{pad} | {indent}^");
        }
        out
    }
}

/// True when any diagnostic is an error.
pub fn has_errors(diags: &[Diagnostic]) -> bool {
    diags.iter().any(Diagnostic::is_error)
}
