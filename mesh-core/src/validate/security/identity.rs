//! Peer identity values (semantics.md §6.5): principals, namespaces, service accounts and trust
//! domains. A value that no SPIFFE ID can contain never matches, which silently turns a DENY
//! off, so it is an error (security.md C-23).

use crate::path::FieldPath;
use crate::validate::Report;
use crate::validate::common::{is_dns1123_label, is_dns1123_subdomain};

use super::values::Form;

/// Istio: at most 16 `serviceAccounts` per source.
pub const MAX_SERVICE_ACCOUNTS: usize = 16;

/// C-23: a principal is a SPIFFE ID without its scheme (`td/ns/<ns>/sa/<sa>`), or a
/// `*`, `prefix*` or `*suffix` pattern of one.
pub fn principal(r: &mut Report, path: &FieldPath, value: &str) {
    if let Err(msg) = check_principal(value) {
        r.error(path, msg);
    }
}

/// The rule behind [`principal`].
pub fn check_principal(value: &str) -> Result<(), String> {
    if value
        .get(..7)
        .is_some_and(|s| s.eq_ignore_ascii_case("spiffe:"))
    {
        let rest = value
            .trim_start_matches(|c| c != '/')
            .trim_start_matches('/');
        return Err(format!(
            "principal {value:?} must not include the spiffe:// scheme: Istio adds it, so this \
             value can never match; write {rest:?}"
        ));
    }
    let form = Form::of(value);
    let body = form.body();
    if body.contains('*') {
        return Err(format!(
            "principal {value:?}: '*' is only allowed at the start or end; a SPIFFE ID never \
             contains '*', so it can never match"
        ));
    }
    if let Some(c) = body.chars().find(|c| !is_spiffe_char(*c)) {
        return Err(format!(
            "principal {value:?} contains {c:?}, which a SPIFFE ID cannot contain (letters, \
             digits, '.', '-', '_' and '/' only; no query, fragment or percent-encoding)"
        ));
    }
    if body.contains("//") {
        return Err(format!(
            "principal {value:?} has an empty path segment ('//')"
        ));
    }
    match form {
        Form::Exact(id) => check_exact_id(value, id),
        Form::Prefix(p) => check_trust_domain(value, p.split('/').next().unwrap_or("")),
        Form::Any | Form::Suffix(_) => Ok(()),
    }
}

/// SPIFFE ID characters once the scheme is gone (trust domain and path together).
const fn is_spiffe_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/')
}

/// An exact ID: a non-empty trust domain, then path segments that are neither empty nor dots.
fn check_exact_id(value: &str, id: &str) -> Result<(), String> {
    let (td, rest) = id.split_once('/').unwrap_or((id, ""));
    if td.is_empty() {
        return Err(format!(
            "principal {value:?} has an empty trust domain (like spiffe:///ns/x); write \
             <trust-domain>/ns/<namespace>/sa/<service-account>"
        ));
    }
    check_trust_domain(value, td)?;
    if id.ends_with('/') || rest.split('/').any(|s| s == "." || s == "..") {
        return Err(format!(
            "principal {value:?} has an empty, '.' or '..' path segment, which a SPIFFE ID \
             cannot have"
        ));
    }
    Ok(())
}

/// SPIFFE trust domains are lower case: letters, digits, `.`, `-`, `_`.
fn check_trust_domain(value: &str, td: &str) -> Result<(), String> {
    if td.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(format!(
            "trust domain {td:?} in principal {value:?} must be lower case (SPIFFE trust \
             domains are), so this value can never match"
        ));
    }
    Ok(())
}

/// §6.5 `namespaces`: a namespace name, where each `*` is a wildcard (any characters).
pub fn namespace(r: &mut Report, path: &FieldPath, value: &str) {
    let chars_ok = value
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'*');
    let ok = if value.contains('*') {
        chars_ok
    } else {
        is_dns1123_label(value)
    };
    if !ok {
        r.error(
            path,
            format!(
                "namespace {value:?} is not a namespace name or '*' pattern (lower-case \
                 letters, digits and '-', at most 63), so it can never match"
            ),
        );
    }
}

/// §6.3 `serviceAccounts`: `sa` (the policy's namespace) or `ns/sa`, no wildcards
/// (CVE-2026-39350: matched literally).
pub fn service_account(r: &mut Report, path: &FieldPath, value: &str) {
    if value.contains('*') {
        r.error(
            path,
            format!("service account {value:?}: serviceAccounts do not support '*' wildcards"),
        );
        return;
    }
    let (ns, sa) = match value.split_once('/') {
        Some((ns, sa)) => (Some(ns), sa),
        None => (None, value),
    };
    if ns.is_some_and(|ns| !is_dns1123_label(ns)) || !is_dns1123_subdomain(sa) {
        r.error(
            path,
            format!(
                "service account {value:?} must be <name> or <namespace>/<name> with a valid \
                 namespace and service account name"
            ),
        );
    }
}

/// `source.trustDomain`: `*`, or a lower-case trust domain with at most one `*` at an end.
pub fn trust_domain(r: &mut Report, path: &FieldPath, value: &str) {
    let body = Form::of(value).body();
    let ok = body
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'_'));
    if !ok {
        r.error(
            path,
            format!(
                "trust domain {value:?} must be lower-case letters, digits, '.', '-' and '_', \
                 with '*' only at the start or end"
            ),
        );
    }
}
