//! Match blocks: `HTTPMatchRequest` (Istio `validateHTTPRouteMatchRequest`) and the proxy
//! selectors shared with TLS and TCP matches (port, sourceLabels, gateways, sourceNamespace).

use std::collections::BTreeMap;

use crate::path::FieldPath;
use crate::resource::{HttpMatchRequest, StringMatch};
use crate::validate::Report;
use crate::validate::common::{MatchUse, is_dns1123_label, is_header_name, string_match};

use super::Ctx;
use super::names::{gateway_names, is_jwt_claim_key, is_label_key, is_label_value};

/// HTTP/2 pseudo-headers a header match may name.
const PSEUDO_HEADERS: [&str; 5] = [":method", ":scheme", ":authority", ":path", ":status"];

/// Validates one `http[].match[]` block.
pub(super) fn http_match(r: &mut Report, path: &FieldPath, m: &HttpMatchRequest, ctx: &Ctx) {
    // Istio: an empty prefix is allowed for `uri` only (Envoy path match vs string matcher).
    if let Some(uri) = &m.uri {
        string_match(r, &path.key("uri"), uri, MatchUse::Uri);
    }
    let others = [
        ("scheme", &m.scheme),
        ("method", &m.method),
        ("authority", &m.authority),
    ];
    for (key, sm) in others {
        if let Some(sm) = sm {
            string_match(r, &path.key(key), sm, MatchUse::Other);
        }
    }
    header_matches(r, &path.key("headers"), &m.headers, false, ctx);
    header_matches(
        r,
        &path.key("withoutHeaders"),
        &m.without_headers,
        true,
        ctx,
    );
    query_params(r, &path.key("queryParams"), &m.query_params);
    // §1.4: ignoreUriCase applies to exact and prefix only.
    if m.ignore_uri_case == Some(true) && m.uri.as_ref().is_some_and(|u| u.regex.is_some()) {
        r.warn(
            &path.key("ignoreUriCase"),
            "ignoreUriCase has no effect on a uri regex match; start the regex with (?i) instead",
        );
    }
    selectors(
        r,
        path,
        Selectors {
            port: m.port,
            source_labels: &m.source_labels,
            gateways: &m.gateways,
            source_namespace: m.source_namespace.as_deref(),
        },
    );
}

// === headers and query parameters ===

/// `headers` / `withoutHeaders`: valid names, no null matches; in `withoutHeaders`,
/// `regex: "*"` is Istio's presence token, not a regex, so it is not compiled.
fn header_matches(
    r: &mut Report,
    path: &FieldPath,
    map: &BTreeMap<String, Option<StringMatch>>,
    negated: bool,
    ctx: &Ctx,
) {
    for (name, sm) in map {
        let p = path.key(name.as_str());
        header_match_name(r, &p, name, ctx);
        match sm {
            None => r.error(
                &p,
                format!("header match {name:?} cannot be null; write {{}} to match presence"),
            ),
            Some(sm) if negated && sm.regex.as_deref() == Some("*") => {}
            Some(sm) => string_match(r, &p, sm, MatchUse::Other),
        }
    }
}

/// Istio `ValidateHTTPHeaderNameOrJwtClaimRoute`, and JWT claims only on gateway-bound VSs.
fn header_match_name(r: &mut Report, path: &FieldPath, name: &str, ctx: &Ctx) {
    if name.is_empty() {
        r.error(path, "header name cannot be empty");
        return;
    }
    if is_jwt_claim_key(name) {
        // Istio `ValidateVirtualService`: sidecars have no validated JWT to read claims from.
        if !ctx.gateway_only {
            r.error(
                path,
                format!(
                    "JWT claim based routing (key: {name}) is only supported for virtual \
                     services bound to gateways only (not \"mesh\"), found gateways: {}",
                    ctx.gateways
                ),
            );
        }
        return;
    }
    // Istio accepts the five HTTP/2 pseudo-headers by name.
    if PSEUDO_HEADERS.contains(&name) {
        return;
    }
    if !is_header_name(name) {
        r.error(
            path,
            format!(
                "header name {name:?} is not a valid header name (letters, digits and \
                 !#$%&'*+-.^_`|~ only)"
            ),
        );
    } else if name.bytes().any(|b| b.is_ascii_uppercase()) {
        // Istio accepts upper case and Envoy compares names case-insensitively; the API asks
        // for lower case, so this is a warning only.
        r.warn(
            path,
            format!(
                "header name {name:?} should be lower case ({:?}); it still matches \
                 case-insensitively",
                name.to_ascii_lowercase()
            ),
        );
    }
}

/// `queryParams`: no null matches, no empty prefix, regexes compile.
fn query_params(r: &mut Report, path: &FieldPath, map: &BTreeMap<String, Option<StringMatch>>) {
    for (name, sm) in map {
        let p = path.key(name.as_str());
        if name.is_empty() {
            r.error(&p, "query parameter name cannot be empty");
        }
        match sm {
            None => r.error(
                &p,
                format!(
                    "query parameter match {name:?} cannot be null; write {{}} to match presence"
                ),
            ),
            Some(sm) => string_match(r, &p, sm, MatchUse::Other),
        }
    }
}

// === selectors ===

/// The config-time selectors of a match block (§1.5).
pub(super) struct Selectors<'a> {
    /// Listener port.
    pub port: Option<u32>,
    /// Client workload labels.
    pub source_labels: &'a BTreeMap<String, String>,
    /// Gateways the block applies to.
    pub gateways: &'a [String],
    /// Client namespace.
    pub source_namespace: Option<&'a str>,
}

/// Istio: `port` (0 = unset) a valid port; `sourceLabels` valid labels; `gateways` valid
/// references; `sourceNamespace` a DNS-1123 label.
pub(super) fn selectors(r: &mut Report, path: &FieldPath, s: Selectors<'_>) {
    optional_port(r, &path.key("port"), s.port);
    for (key, value) in s.source_labels {
        label(r, &path.key("sourceLabels").key(key.as_str()), key, value);
    }
    gateway_names(r, &path.key("gateways"), s.gateways);
    let ns = s.source_namespace.filter(|ns| !ns.is_empty());
    if let Some(ns) = ns.filter(|ns| !is_dns1123_label(ns)) {
        r.error(
            &path.key("sourceNamespace"),
            format!("sourceNamespace match {ns:?} is invalid: it must be a namespace name (DNS-1123 label)"),
        );
    }
    // §1.5.2: with match.gateways, sourceLabels and sourceNamespace are not consulted.
    if !s.gateways.is_empty() {
        let ignored = [
            ("sourceLabels", !s.source_labels.is_empty()),
            ("sourceNamespace", ns.is_some()),
        ];
        for (key, set) in ignored {
            if set {
                r.warn(
                    &path.key(key),
                    format!("{key} is ignored because this match block sets gateways"),
                );
            }
        }
    }
}

/// A Kubernetes label selector entry.
fn label(r: &mut Report, path: &FieldPath, key: &str, value: &str) {
    if !is_label_key(key) {
        r.error(
            path,
            format!(
                "label key {key:?} is invalid: an optional DNS subdomain and '/', then 1-63 \
                 letters, digits, '-', '_' or '.', beginning and ending with a letter or digit"
            ),
        );
    }
    if !is_label_value(value) {
        r.error(
            path,
            format!(
                "label value {value:?} of {key:?} is invalid: at most 63 letters, digits, '-', \
                 '_' or '.', beginning and ending with a letter or digit"
            ),
        );
    }
}

/// Istio `ValidatePort` where 0 means unset (match ports, redirect port).
pub(super) fn optional_port(r: &mut Report, path: &FieldPath, port: Option<u32>) {
    if let Some(p) = port.filter(|p| *p != 0) {
        port_number(r, path, p);
    }
}

/// Istio `ValidatePort`: 1..=65535.
pub(super) fn port_number(r: &mut Report, path: &FieldPath, port: u32) {
    if !(1..=65535).contains(&port) {
        r.error(
            path,
            format!("port number {port} must be in the range 1..65535"),
        );
    }
}
