//! Checks shared by several kinds.

use crate::path::FieldPath;
use crate::pattern;
use crate::resource::{Duration, Percent, StringMatch};

use super::Report;

/// Istio: durations must be >= 1ms and a whole number of milliseconds.
pub fn duration(r: &mut Report, path: &FieldPath, d: &Duration) {
    if d.as_nanos() < 1_000_000 {
        r.error(path, format!("duration {d} must be at least 1ms"));
    } else if !d.is_whole_millis() {
        r.error(
            path,
            format!("duration {d} must be a whole number of milliseconds"),
        );
    }
}

/// A regex that Istio compiles at validation: non-empty, <= 1024 characters, RE2 syntax.
pub fn regex(r: &mut Report, path: &FieldPath, pattern: &str) {
    if let Err(e) = pattern::full_match(pattern) {
        r.error(path, e.to_string());
    }
}

/// A percentage in `[0, 100]`.
pub fn percent(r: &mut Report, path: &FieldPath, p: &Percent) {
    if !p.value.is_finite() || p.value < 0.0 || p.value > 100.0 {
        r.error(
            &path.key("value"),
            format!("percentage must be in range 0..100, got {}", p.value),
        );
    }
}

/// True for a DNS-1123 label: 1-63 of `[a-z0-9-]`, alphanumeric at both ends.
pub fn is_dns1123_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// True for a DNS-1123 subdomain: dot-separated labels, at most 253 characters.
pub fn is_dns1123_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns1123_label)
}

/// Reports `s` unless it is a DNS-1123 label.
pub fn dns1123_label(r: &mut Report, path: &FieldPath, what: &str, s: &str) {
    if !is_dns1123_label(s) {
        r.error(
            path,
            format!(
                "{what} {s:?} is not a valid DNS-1123 label (lower-case letters, digits and '-', \
                 at most 63, starting and ending with a letter or digit)"
            ),
        );
    }
}

/// A host name or `*`-prefixed wildcard (`*`, `*.example.com`), Istio `ValidateWildcardDomain`.
pub fn wildcard_host(r: &mut Report, path: &FieldPath, host: &str) {
    if let Err(msg) = check_wildcard_host(host) {
        r.error(path, msg);
    }
}

/// The rule behind [`wildcard_host`].
pub fn check_wildcard_host(host: &str) -> Result<(), String> {
    if host.is_empty() {
        return Err("host must not be empty".into());
    }
    if host.len() > 255 {
        return Err(format!("host {host:?} is longer than 255 characters"));
    }
    let rest = if host == "*" {
        return Ok(());
    } else if let Some(rest) = host.strip_prefix("*.") {
        rest
    } else if host.contains('*') {
        return Err(format!(
            "host {host:?}: a wildcard is only allowed as the whole left-most label (\"*.example.com\")"
        ));
    } else {
        host
    };
    let rest = rest.strip_suffix('.').unwrap_or(rest);
    for label in rest.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err(format!("host {host:?} has an invalid label {label:?}"));
        }
    }
    Ok(())
}

/// An HTTP header name: an RFC 9110 token (lower case is what Istio asks for).
pub fn is_header_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(is_tchar)
}

/// RFC 9110 `tchar`.
pub const fn is_tchar(b: u8) -> bool {
    matches!(b,
        b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`'
        | b'|' | b'~' | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z')
}

/// A header value that may be written to the wire: no control characters (CR, LF, NUL, ...),
/// CVE-2023-27493 class.
pub fn header_value(r: &mut Report, path: &FieldPath, value: &str) {
    if value.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        r.error(
            path,
            format!("header value {value:?} contains a control character (CR, LF, NUL, ...)"),
        );
    }
}

/// Where a [`StringMatch`] is used; decides whether an empty `prefix` is allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchUse {
    /// `uri`: empty prefix allowed (matches everything).
    Uri,
    /// `headers`, `queryParams`, `method`, `authority`, `scheme`.
    Other,
}

/// Istio `validateStringMatch`: at most one of exact/prefix/regex; prefix non-empty except for
/// `uri`; regexes compile.
pub fn string_match(r: &mut Report, path: &FieldPath, m: &StringMatch, used: MatchUse) {
    let set = [m.exact.is_some(), m.prefix.is_some(), m.regex.is_some()]
        .iter()
        .filter(|b| **b)
        .count();
    if set > 1 {
        r.error(
            path,
            "only one of exact, prefix or regex may be set in a string match",
        );
    }
    if m.prefix.as_deref() == Some("") && used == MatchUse::Other {
        r.error(&path.key("prefix"), "prefix match must not be empty");
    }
    if let Some(re) = &m.regex {
        regex(r, &path.key("regex"), re);
    }
}
