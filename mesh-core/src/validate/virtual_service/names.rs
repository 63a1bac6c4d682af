//! Names and addresses: host pattern relations, gateway references, label syntax, subnets,
//! base64 and JWT-claim header keys.

use std::net::IpAddr;

use crate::path::FieldPath;
use crate::validate::Report;
use crate::validate::common::{is_dns1123_label, is_dns1123_subdomain};

// === host patterns ===

/// Istio `host.Name.SubsetOf`: every name `inner` covers is covered by `outer`
/// (`a.foo.com` ⊆ `*.foo.com` ⊆ `*.com` ⊆ `*`). Compared lower-cased.
pub(super) fn is_subset(inner: &str, outer: &str) -> bool {
    let (inner, outer) = (inner.to_ascii_lowercase(), outer.to_ascii_lowercase());
    match (inner.strip_prefix('*'), outer.strip_prefix('*')) {
        (Some(i), Some(o)) => i.ends_with(o),
        (Some(_), None) => false,
        (None, Some(o)) => inner.ends_with(o),
        (None, None) => inner == outer,
    }
}

/// Istio `host.Name.Matches`: two patterns overlap when one covers the other.
pub(super) fn hosts_overlap(a: &str, b: &str) -> bool {
    is_subset(a, b) || is_subset(b, a)
}

// === gateways ===

/// Istio `validateGatewayNames`: `name` (a DNS-1123 subdomain; the legacy dotted form draws a
/// warning) or `namespace/name` (two DNS-1123 labels).
pub(super) fn gateway_names(r: &mut Report, path: &FieldPath, names: &[String]) {
    for (i, name) in names.iter().enumerate() {
        gateway_name(r, &path.index(i), name);
    }
}

fn gateway_name(r: &mut Report, path: &FieldPath, gw: &str) {
    match gw.split_once('/') {
        Some((ns, name)) if ns.is_empty() || name.is_empty() => r.error(
            path,
            format!("gateway {gw:?}: namespace and gateway name cannot be empty (write name or namespace/name)"),
        ),
        Some((ns, name)) => {
            if !is_dns1123_label(ns) {
                r.error(
                    path,
                    format!("gateway {gw:?}: invalid value for namespace: {ns:?} (a DNS-1123 label)"),
                );
            }
            if !is_dns1123_label(name) {
                r.error(
                    path,
                    format!("gateway {gw:?}: invalid value for gateway name: {name:?} (a DNS-1123 label)"),
                );
            }
        }
        None if !is_dns1123_subdomain(gw) => r.error(
            path,
            format!(
                "gateway {gw:?} is not a valid gateway name: write name or namespace/name with \
                 lower-case letters, digits and '-'"
            ),
        ),
        None => {
            if let Some((name, rest)) = gw.split_once('.') {
                let ns = rest.split('.').next().unwrap_or(rest);
                r.warn(
                    path,
                    format!(
                        "using legacy gateway name format {gw:?}; prefer the <namespace>/<name> \
                         format: \"{ns}/{name}\""
                    ),
                );
            }
        }
    }
}

// === labels ===

/// Kubernetes label key: an optional DNS-1123 subdomain prefix and `/`, then a name part.
pub(super) fn is_label_key(key: &str) -> bool {
    match key.split_once('/') {
        Some((prefix, name)) => is_dns1123_subdomain(prefix) && is_name_part(name),
        None => is_name_part(key),
    }
}

/// Kubernetes label value: empty, or a name part.
pub(super) fn is_label_value(value: &str) -> bool {
    value.is_empty() || is_name_part(value)
}

/// 1-63 of `[A-Za-z0-9-_.]`, alphanumeric at both ends.
fn is_name_part(s: &str) -> bool {
    let alnum = |c: Option<u8>| c.is_some_and(|b| b.is_ascii_alphanumeric());
    s.len() <= 63
        && alnum(s.bytes().next())
        && alnum(s.bytes().last())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

// === subnets ===

/// Istio `ValidateIPSubnet`: an IP address, or a CIDR block `address/prefix-length`.
pub(super) fn check_subnet(s: &str) -> Result<(), String> {
    let Some((addr, len)) = s.split_once('/') else {
        return s
            .parse::<IpAddr>()
            .map(|_| ())
            .map_err(|_| format!("{s:?} is not a valid IP address or CIDR block"));
    };
    let ip: IpAddr = addr
        .parse()
        .map_err(|_| format!("{s:?} is not a valid CIDR block: {addr:?} is not an IP address"))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len_ok = !len.is_empty()
        && len.len() <= 3
        && !(len.len() > 1 && len.starts_with('0'))
        && len.bytes().all(|b| b.is_ascii_digit())
        && len.parse::<u32>().is_ok_and(|n| n <= max);
    if len_ok {
        Ok(())
    } else {
        Err(format!(
            "{s:?} is not a valid CIDR block: the prefix length must be a number from 0 to {max}"
        ))
    }
}

// === base64 ===

/// Decoded length of base64 text (standard or URL-safe alphabet, padding optional, line breaks
/// ignored, as protobuf JSON reads `bytes`); `None` when it is not base64.
pub(super) fn base64_len(text: &str) -> Option<usize> {
    let compact: String = text.chars().filter(|c| !matches!(c, '\r' | '\n')).collect();
    let body = compact.trim_end_matches('=');
    let pad = compact.len() - body.len();
    let alphabet = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_');
    if pad > 2 || !body.bytes().all(alphabet) {
        return None;
    }
    let tail = match body.len() % 4 {
        0 => 0,
        2 => 1,
        3 => 2,
        _ => return None,
    };
    if pad > 0 && !(body.len() + pad).is_multiple_of(4) {
        return None;
    }
    Some(body.len() / 4 * 3 + tail)
}

// === JWT claims ===

/// Istio `jwt.ToRoutingClaim`: `@request.auth.claims.a.b` or `@request.auth.claims[a][b]` (we
/// also require every claim part to be non-empty).
pub(super) fn is_jwt_claim_key(key: &str) -> bool {
    const PREFIX: &str = "@request.auth.claims";
    let Some(head) = key.get(..PREFIX.len()) else {
        return false;
    };
    if !head.eq_ignore_ascii_case(PREFIX) {
        return false;
    }
    let rest = key.get(PREFIX.len()..).unwrap_or("");
    if let Some(dotted) = rest.strip_prefix('.') {
        return dotted.split('.').all(|c| !c.is_empty());
    }
    rest.strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .is_some_and(|inner| {
            inner
                .split("][")
                .all(|c| !c.is_empty() && !c.contains(['[', ']']))
        })
}
