//! Regular expressions the way Istio and Envoy use them: RE2 syntax, full match, bounded size.

use regex::{Regex, RegexBuilder};

/// Istio rejects regexes longer than this (`validation.go`).
pub const MAX_REGEX_LEN: usize = 1024;

/// Compiled-program size cap, so a short pattern cannot blow up memory (`(a{1000}){1000}`).
const SIZE_LIMIT: usize = 1 << 20;

/// Why a pattern was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// Empty pattern.
    #[error("regex must not be empty")]
    Empty,
    /// Longer than [`MAX_REGEX_LEN`].
    #[error("regex is {0} characters long; the limit is 1024")]
    TooLong(usize),
    /// Not RE2 syntax, or too large once compiled.
    #[error("invalid regex {pattern:?}: {reason}")]
    Invalid {
        /// The pattern.
        pattern: String,
        /// The compiler's reason, first line.
        reason: String,
    },
}

/// Compiles `pattern` to match the whole input (RE2 `FullMatch`): `^(?:pattern)$`.
pub fn full_match(pattern: &str) -> Result<Regex, PatternError> {
    if pattern.is_empty() {
        return Err(PatternError::Empty);
    }
    let len = pattern.chars().count();
    if len > MAX_REGEX_LEN {
        return Err(PatternError::TooLong(len));
    }
    compile(pattern, &format!("^(?:{pattern})$"))
}

/// Compiles `anchored` (already anchored by the caller) and reports errors against `pattern`.
pub fn compile(pattern: &str, anchored: &str) -> Result<Regex, PatternError> {
    RegexBuilder::new(anchored)
        .size_limit(SIZE_LIMIT)
        .dfa_size_limit(SIZE_LIMIT)
        .build()
        .map_err(|e| PatternError::Invalid {
            pattern: pattern.to_owned(),
            reason: e
                .to_string()
                .lines()
                .filter(|l| l.starts_with("error:") || l.contains("exceeds size limit"))
                .map(|l| l.trim_start_matches("error:").trim().to_owned())
                .next()
                .unwrap_or_else(|| "does not compile".to_owned()),
        })
}
