//! Value checks shared by sources, operations and `when` conditions: the pattern language
//! (semantics.md §6.4), ports, methods and paths (§6.6).

use crate::path::FieldPath;
use crate::resource::IntOrString;
use crate::validate::Report;
use crate::validate::common::is_tchar;

/// One value of Istio's pattern language (§6.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form<'a> {
    /// `*`: present and non-empty.
    Any,
    /// `abc*`.
    Prefix(&'a str),
    /// `*abc`.
    Suffix(&'a str),
    /// `abc`.
    Exact(&'a str),
}

// === impl Form ===

impl<'a> Form<'a> {
    /// Reads a value the way Istio's matcher does: `*`, then a leading `*`, then a trailing one.
    pub fn of(value: &'a str) -> Self {
        if value == "*" {
            Form::Any
        } else if let Some(s) = value.strip_prefix('*') {
            Form::Suffix(s)
        } else if let Some(p) = value.strip_suffix('*') {
            Form::Prefix(p)
        } else {
            Form::Exact(value)
        }
    }

    /// The literal part.
    pub fn body(self) -> &'a str {
        match self {
            Form::Any => "",
            Form::Prefix(s) | Form::Suffix(s) | Form::Exact(s) => s,
        }
    }
}

/// Istio: "empty value not allowed" in any value list. Returns false when reported.
pub fn non_empty(r: &mut Report, path: &FieldPath, field: &str, value: &str) -> bool {
    if value.is_empty() {
        r.error(path, format!("empty value not allowed in {field}"));
        return false;
    }
    true
}

/// §6.4: only a leading or trailing `*` is a wildcard; any other `*` is matched literally, which
/// is rarely what was meant.
pub fn literal_star(r: &mut Report, path: &FieldPath, value: &str) {
    if Form::of(value).body().contains('*') {
        r.warn(
            path,
            format!(
                "{value:?}: '*' is a wildcard only at the start or end of a value (or alone); \
                 this one is matched literally"
            ),
        );
    }
}

/// A port number `1..=65535`, written as an integer or a decimal string.
pub fn parse_port(text: &str) -> Option<u16> {
    let digits = !text.is_empty() && text.len() <= 5 && text.bytes().all(|b| b.is_ascii_digit());
    text.parse::<u16>().ok().filter(|p| digits && *p != 0)
}

/// Istio `ValidatePorts` (`ports`, `notPorts`, `destination.port`): an integer in `1..=65535`
/// (port 0 is never a connection's destination port, so it would never match).
pub fn port(r: &mut Report, path: &FieldPath, value: &IntOrString) {
    let ok = match value {
        IntOrString::Int(i) => (1..=65535).contains(i),
        IntOrString::Str(s) => parse_port(s).is_some(),
    };
    if !ok {
        r.error(
            path,
            format!("port {:?} must be an integer in 1..=65535", value.to_text()),
        );
    }
}

/// §6.6 `methods`: a method token; §6.8: requests whose method is not upper case are rejected
/// with 400, so a lower-case value never matches.
pub fn method(r: &mut Report, path: &FieldPath, value: &str) {
    let body = Form::of(value).body();
    if !body.bytes().all(|b| is_tchar(b) && b != b'*') {
        r.error(
            path,
            format!("method {value:?} is not an HTTP method token (such as GET or POST)"),
        );
    } else if body.bytes().any(|b| b.is_ascii_lowercase()) {
        r.warn(
            path,
            format!(
                "method {value:?} is not upper case; requests with lower-case methods are \
                 rejected with 400, so it never matches: write {:?}",
                value.to_ascii_uppercase()
            ),
        );
    }
}

/// §6.6 `paths`: a normalized request path always starts with `/` and has no query or
/// fragment, so any other value never matches; `{*}`/`{**}` values are URI templates.
pub fn path(r: &mut Report, p: &FieldPath, value: &str) {
    if value.contains("{*}") || value.contains("{**}") {
        if let Err(msg) = template(value) {
            r.error(p, msg);
        }
        return;
    }
    let form = Form::of(value);
    let rooted = matches!(form, Form::Any | Form::Suffix(_)) || value.starts_with('/');
    if !rooted {
        r.error(
            p,
            format!(
                "path {value:?} must start with '/' (or be a '*' or '*suffix' pattern): \
                 request paths always do, so it can never match"
            ),
        );
    } else if let Some(c) = value.chars().find(|c| matches!(c, '?' | '#')) {
        r.error(
            p,
            format!(
                "path {value:?} contains {c:?}: paths are matched without the query and \
                 fragment, so it can never match"
            ),
        );
    } else if value.contains(['{', '}']) {
        r.warn(
            p,
            format!(
                "path {value:?} is not a supported template (only {{*}} and {{**}} are); \
                 it is matched literally"
            ),
        );
    } else {
        literal_star(r, p, value);
    }
}

/// Istio `CheckValidPathTemplate`: `/`-separated segments, each `{*}` (one segment), `{**}`
/// (any number, last segment only, optionally followed by a literal suffix) or a literal of
/// RFC 3986 pchars.
fn template(value: &str) -> Result<(), String> {
    let bad = |why: &str| format!("invalid path template {value:?}: {why}");
    let Some(rest) = value.strip_prefix('/') else {
        return Err(bad("it must start with '/'"));
    };
    let segments: Vec<&str> = rest.split('/').collect();
    for (i, seg) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        let literal = match *seg {
            "{*}" | "{**}" => "",
            s => s.strip_prefix("{**}").unwrap_or(s),
        };
        if seg.starts_with("{**}") && !last {
            return Err(bad("{**} must be in the last segment"));
        }
        if !literal.bytes().all(is_pchar) {
            return Err(bad(
                "segments must be {*}, {**} or literal path characters (no named variables, \
                 '*' or braces)",
            ));
        }
    }
    Ok(())
}

/// RFC 3986 `pchar` (with `%` for percent-encoding) minus `*`, which templates reserve.
const fn is_pchar(b: u8) -> bool {
    matches!(b,
        b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'%' | b'!' | b'$'
        | b'&' | b'\'' | b'(' | b')' | b'+' | b',' | b';' | b'=' | b':' | b'@')
}
