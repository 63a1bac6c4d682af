//! Kubernetes label syntax and Istio workload selectors, shared by subsets, endpoints and
//! selectors of several kinds.

use std::collections::BTreeMap;

use crate::path::FieldPath;
use crate::validate::Report;
use crate::validate::common::is_dns1123_subdomain;

/// Kubernetes (Istio `labels.Instance.Validate`): every key is a qualified name
/// (`[prefix/]name`) and every value a label value.
pub(crate) fn check_labels(r: &mut Report, path: &FieldPath, labels: &BTreeMap<String, String>) {
    for (k, v) in labels {
        let at = path.key(k.as_str());
        if let Err(msg) = check_label_key(k) {
            r.error(&at, msg);
        }
        if !is_label_value(v) {
            r.error(
                &at,
                format!(
                    "label value {v:?} of {k:?} is invalid: at most 63 characters of letters, \
                     digits, '-', '_' and '.', starting and ending with a letter or digit"
                ),
            );
        }
    }
}

/// Istio `validateWorkloadSelector`: no empty keys, no wildcards; an empty selector is a
/// warning because it selects every workload of the namespace.
pub(crate) fn check_selector(r: &mut Report, path: &FieldPath, labels: &BTreeMap<String, String>) {
    if labels.is_empty() {
        r.warn(
            path,
            "workload selector without labels selects every workload in the namespace",
        );
    }
    for (k, v) in labels {
        let at = path.key(k.as_str());
        if k.is_empty() {
            r.error(&at, format!("empty label key in selector (\"{k}={v}\")"));
        }
        if k.contains('*') || v.contains('*') {
            r.error(
                &at,
                format!("wildcards are not supported in selectors (\"{k}={v}\")"),
            );
        }
    }
}

/// Kubernetes `IsQualifiedName`: an optional DNS-1123 subdomain prefix and `/`, then a name.
pub(crate) fn check_label_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(p) = prefix.filter(|p| !is_dns1123_subdomain(p)) {
        return Err(format!(
            "label key {key:?} has an invalid prefix {p:?} (a DNS-1123 subdomain such as \
             example.com)"
        ));
    }
    if name.is_empty() || !is_label_value(name) {
        return Err(format!(
            "label key {key:?} is invalid: the name part must be 1-63 characters of letters, \
             digits, '-', '_' and '.', starting and ending with a letter or digit"
        ));
    }
    Ok(())
}

/// Kubernetes `IsValidLabelValue`: empty, or at most 63 of `[A-Za-z0-9-_.]` with alphanumeric
/// ends.
pub(crate) fn is_label_value(v: &str) -> bool {
    let alnum = |c: Option<u8>| c.is_none_or(|b| b.is_ascii_alphanumeric());
    v.len() <= 63
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && alnum(v.bytes().next())
        && alnum(v.bytes().last())
}
