//! `exportTo`: which namespaces see a resource (Istio `validateExportTo`).

use std::collections::BTreeMap;

use crate::path::FieldPath;
use crate::validate::Report;
use crate::validate::common::is_dns1123_label;

/// Who owns the `exportTo` list; the rules differ slightly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Owner {
    /// A ServiceEntry may use `~` (visible to nobody but its own workloads).
    ServiceEntry,
    /// A DestinationRule; with a `workloadSelector` it may only be exported to its namespace.
    DestinationRule {
        /// True when the rule has a `workloadSelector`.
        selector: bool,
    },
}

/// Istio `validateExportTo`: each value is `.`, `*`, `~` (ServiceEntry only) or a namespace
/// name; no duplicates (`.` and the own namespace are the same); `*` and `~` stand alone.
pub(crate) fn check_export_to(
    r: &mut Report,
    path: &FieldPath,
    namespace: &str,
    values: &[String],
    owner: Owner,
) {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, v) in values.iter().enumerate() {
        let at = path.index(i);
        let key = if v == "." { namespace } else { v.as_str() };
        let valid = match key {
            _ if v == "." => true,
            "*" => true,
            "~" => owner == Owner::ServiceEntry,
            ns => is_dns1123_label(ns),
        };
        if !valid {
            let hint = if key == "~" {
                "~ (nobody) is only allowed in a ServiceEntry"
            } else {
                "use \".\" (this namespace), \"*\" (all) or a namespace name"
            };
            r.error(&at, format!("invalid exportTo value {v:?}: {hint}"));
            continue;
        }
        if let Some(first) = seen.insert(key, i) {
            let what = if values.get(first).is_some_and(|f| f != v) {
                format!("\".\" and {namespace:?} both name this namespace")
            } else {
                format!("{v:?} is listed twice")
            };
            r.error(&at, format!("duplicate exportTo entry: {what}"));
        }
    }
    for (alone, meaning) in [("*", "everyone"), ("~", "nobody")] {
        if seen.contains_key(alone) && values.len() > 1 {
            r.error(
                path,
                format!("exportTo {alone:?} ({meaning}) cannot be combined with other values"),
            );
        }
    }
    if owner == (Owner::DestinationRule { selector: true })
        && seen.keys().any(|ns| *ns != namespace)
    {
        r.error(
            path,
            format!(
                "a DestinationRule with a workloadSelector can only be exported to its own \
                 namespace {namespace:?} (use exportTo: [\".\"])"
            ),
        );
    }
}
