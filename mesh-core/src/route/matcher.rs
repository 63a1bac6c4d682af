//! Compiled request matchers: StringMatch, headers, query parameters (spec §1.4).

use http::HeaderMap;
use regex::Regex;

use crate::pattern;
use crate::resource::StringMatch;

/// A compiled `StringMatch`.
#[derive(Clone, Debug)]
pub enum StrMatcher {
    /// Equality.
    Exact(String),
    /// `starts_with`.
    Prefix(String),
    /// RE2 full match.
    Regex(Regex),
    /// No variant set: matches anything present.
    Any,
}

/// Why a matcher did not compile (validation reports these first; the model re-checks).
pub type CompileError = pattern::PatternError;

// === impl StrMatcher ===

impl StrMatcher {
    /// Compiles a `StringMatch`; with `ignore_case`, exact and prefix compare lower-cased
    /// (Envoy `case_sensitive=false`; regex is unaffected, as in Istio).
    pub fn compile(m: &StringMatch, ignore_case: bool) -> Result<Self, CompileError> {
        let fold = |s: &str| {
            if ignore_case {
                s.to_ascii_lowercase()
            } else {
                s.to_owned()
            }
        };
        Ok(if let Some(e) = &m.exact {
            StrMatcher::Exact(fold(e))
        } else if let Some(p) = &m.prefix {
            StrMatcher::Prefix(fold(p))
        } else if let Some(r) = &m.regex {
            StrMatcher::Regex(pattern::full_match(r)?)
        } else {
            StrMatcher::Any
        })
    }

    /// Tests a value.
    pub fn matches(&self, v: &str) -> bool {
        match self {
            StrMatcher::Exact(e) => e == v,
            StrMatcher::Prefix(p) => v.starts_with(p.as_str()),
            StrMatcher::Regex(r) => r.is_match(v),
            StrMatcher::Any => true,
        }
    }

    /// Tests a value, folding ASCII case first when `ignore_case` (for `uri`).
    pub fn matches_folded(&self, v: &str, ignore_case: bool) -> bool {
        match self {
            StrMatcher::Exact(e) if ignore_case => e.eq_ignore_ascii_case(v),
            StrMatcher::Prefix(p) if ignore_case => {
                v.len() >= p.len()
                    && v.is_char_boundary(p.len())
                    && v[..p.len()].eq_ignore_ascii_case(p)
            }
            _ => self.matches(v),
        }
    }

    /// Describes the matcher for explain output (`exact:/x`).
    pub fn describe(&self) -> String {
        match self {
            StrMatcher::Exact(e) => format!("exact:{e}"),
            StrMatcher::Prefix(p) => format!("prefix:{p}"),
            StrMatcher::Regex(r) => format!("regex:{}", r.as_str()),
            StrMatcher::Any => "present".to_owned(),
        }
    }
}

impl PartialEq for StrMatcher {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (StrMatcher::Exact(a), StrMatcher::Exact(b)) => a == b,
            (StrMatcher::Prefix(a), StrMatcher::Prefix(b)) => a == b,
            (StrMatcher::Regex(a), StrMatcher::Regex(b)) => a.as_str() == b.as_str(),
            (StrMatcher::Any, StrMatcher::Any) => true,
            _ => false,
        }
    }
}

/// One `headers[name]` or `withoutHeaders[name]` condition.
#[derive(Clone, Debug, PartialEq)]
pub struct HeaderMatcher {
    /// Lower-case header name.
    pub name: http::HeaderName,
    /// The value matcher; `Any` is the presence form.
    pub value: StrMatcher,
    /// `withoutHeaders`.
    pub invert: bool,
}

// === impl HeaderMatcher ===

impl HeaderMatcher {
    /// Compiles one entry. `None` (YAML null, rejected by validation) and `regex: "*"` are the
    /// presence form (Istio `canBeConvertedToPresentMatch`).
    pub fn compile(
        name: &str,
        m: Option<&StringMatch>,
        invert: bool,
    ) -> Result<Self, CompileError> {
        let value = match m {
            None => StrMatcher::Any,
            Some(sm) if sm.regex.as_deref() == Some("*") => StrMatcher::Any,
            Some(sm) => StrMatcher::compile(sm, false)?,
        };
        let name =
            http::HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()).map_err(|_| {
                CompileError::Invalid {
                    pattern: name.to_owned(),
                    reason: "not a valid header name".to_owned(),
                }
            })?;
        Ok(HeaderMatcher {
            name,
            value,
            invert,
        })
    }

    /// Evaluates against request headers. Repeated headers are joined with `,` first.
    /// `withoutHeaders`: the presence form is true iff absent; otherwise an absent header is
    /// evaluated as `""` and the result inverted (Envoy `treat_missing_header_as_empty`), which
    /// makes `withoutHeaders: {x: {regex: ".*"}}` never true.
    pub fn matches(&self, headers: &HeaderMap) -> bool {
        let mut values = headers.get_all(&self.name).iter();
        let Some(first) = values.next() else {
            return match (&self.value, self.invert) {
                (StrMatcher::Any, inv) => inv,
                (_, false) => false,
                (m, true) => !m.matches(""),
            };
        };
        // Non-UTF-8 values are never read as empty (CVE-2023-27488 class): compare the bytes
        // lossily, so an ALLOW on an exact value cannot match and a presence match still sees it.
        let joined: std::borrow::Cow<'_, str> = match values.next() {
            None => String::from_utf8_lossy(first.as_bytes()),
            Some(second) => {
                let mut s = String::from_utf8_lossy(first.as_bytes()).into_owned();
                for v in std::iter::once(second).chain(values) {
                    s.push(',');
                    s.push_str(&String::from_utf8_lossy(v.as_bytes()));
                }
                s.into()
            }
        };
        self.value.matches(&joined) != self.invert
    }
}

/// One `queryParams[name]` condition: the first occurrence decides; `?k` has value `""`.
#[derive(Clone, Debug, PartialEq)]
pub struct QueryMatcher {
    /// Parameter name (compared exactly, undecoded).
    pub name: String,
    /// The value matcher; `Any` is the presence form.
    pub value: StrMatcher,
}

// === impl QueryMatcher ===

impl QueryMatcher {
    /// Compiles one entry.
    pub fn compile(name: &str, m: Option<&StringMatch>) -> Result<Self, CompileError> {
        let value = match m {
            None => StrMatcher::Any,
            Some(sm) if sm.regex.as_deref() == Some("*") => StrMatcher::Any,
            Some(sm) => StrMatcher::compile(sm, false)?,
        };
        Ok(QueryMatcher {
            name: name.to_owned(),
            value,
        })
    }

    /// Evaluates against the raw query string (without `?`).
    pub fn matches(&self, query: Option<&str>) -> bool {
        let Some(q) = query else { return false };
        for pair in q.split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            if k == self.name {
                return self.value.matches(v);
            }
        }
        false
    }
}

#[cfg(test)]
mod tests;
