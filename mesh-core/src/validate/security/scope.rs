//! What a policy applies to: `selector` (both kinds) and `targetRef`/`targetRefs`
//! (AuthorizationPolicy), Istio `validateWorkloadSelector` and `validatePolicyTargetReference`.

use crate::path::FieldPath;
use crate::resource::{PolicyTargetReference, WorkloadSelector};
use crate::validate::Report;
use crate::validate::common::is_dns1123_subdomain;

/// The kinds a policy may target (semantics.md §6.1): `(group, kind)`, `""` being core.
const TARGET_KINDS: [(&str, &str); 4] = [
    ("gateway.networking.k8s.io", "Gateway"),
    ("gateway.networking.k8s.io", "GatewayClass"),
    ("", "Service"),
    ("networking.istio.io", "ServiceEntry"),
];

/// Istio `validateWorkloadSelector`: label keys and values in Kubernetes syntax, no wildcards;
/// a selector without labels is a warning.
pub fn selector(r: &mut Report, path: &FieldPath, sel: &WorkloadSelector) {
    let labels = path.key("matchLabels");
    if sel.match_labels.is_empty() {
        r.warn(
            path,
            "selector has no matchLabels, so it selects every workload (as if it were absent)",
        );
    }
    for (k, v) in &sel.match_labels {
        let at = labels.key(k.as_str());
        if k.contains('*') || v.contains('*') {
            r.error(
                &at,
                format!("wildcard is not supported in selector: \"{k}={v}\""),
            );
        } else if !is_label_key(k) {
            r.error(
                &at,
                format!(
                    "label key {k:?} is not valid: [prefix/]name, the name 1-63 letters, digits, \
                     '-', '_' or '.', starting and ending with a letter or digit"
                ),
            );
        } else if !is_label_value(v) {
            r.error(
                &at,
                format!(
                    "label value {v:?} of {k:?} is not valid: at most 63 letters, digits, '-', \
                     '_' or '.', starting and ending with a letter or digit"
                ),
            );
        }
    }
}

/// Kubernetes qualified name: an optional DNS-subdomain prefix and `/`, then a name.
fn is_label_key(k: &str) -> bool {
    match k.split_once('/') {
        Some((prefix, name)) => is_dns1123_subdomain(prefix) && is_label_name(name),
        None => is_label_name(k),
    }
}

/// A label value: empty, or a label name.
fn is_label_value(v: &str) -> bool {
    v.is_empty() || is_label_name(v)
}

/// 1-63 of `[A-Za-z0-9._-]`, alphanumeric at both ends.
fn is_label_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        && b.first().is_some_and(u8::is_ascii_alphanumeric)
        && b.last().is_some_and(u8::is_ascii_alphanumeric)
}

/// Istio `validateOneOfSelectorType`: at most one of `selector`, `targetRef`, `targetRefs`.
pub fn one_of(
    r: &mut Report,
    path: &FieldPath,
    selector: bool,
    target_ref: bool,
    target_refs: bool,
) {
    if [selector, target_ref, target_refs]
        .iter()
        .filter(|b| **b)
        .count()
        > 1
    {
        let at = if target_refs {
            "targetRefs"
        } else {
            "targetRef"
        };
        r.error(
            &path.key(at),
            "only one of selector, targetRef or targetRefs may be set",
        );
    }
}

/// Istio `validatePolicyTargetReference`: a name, one of the allowed kinds, and no namespace
/// other than the policy's own.
pub fn target_ref(r: &mut Report, path: &FieldPath, t: &PolicyTargetReference, own_ns: &str) {
    if t.name.as_deref().unwrap_or("").is_empty() {
        r.error(&path.key("name"), "targetRef name is required");
    }
    if let Some(ns) = t
        .namespace
        .as_deref()
        .filter(|ns| !ns.is_empty() && *ns != own_ns)
    {
        r.error(
            &path.key("namespace"),
            format!(
                "targetRef namespace {ns:?} must be the policy's own namespace {own_ns:?}: \
                 cross-namespace references are not supported"
            ),
        );
    }
    let kind = t.kind.as_deref().unwrap_or("");
    let group = match t.group.as_deref().unwrap_or("") {
        "core" => "",
        g => g,
    };
    if TARGET_KINDS.contains(&(group, kind)) {
        return;
    }
    let allowed = "gateway.networking.k8s.io Gateway or GatewayClass, core (\"\") Service, or \
                   networking.istio.io ServiceEntry";
    match TARGET_KINDS.iter().find(|(_, k)| *k == kind) {
        _ if kind.is_empty() => r.error(
            &path.key("kind"),
            format!("targetRef kind is required: use {allowed}"),
        ),
        Some((want, _)) => r.error(
            &path.key("group"),
            format!("targetRef group for kind {kind} must be {want:?}, not {group:?}"),
        ),
        None => r.error(
            &path.key("kind"),
            format!("targetRef kind {kind:?} is not supported: use {allowed}"),
        ),
    }
}
