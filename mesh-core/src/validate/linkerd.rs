//! ServiceProfile and TrafficSplit rules.
//!
//! ServiceProfile: Linkerd's `profiles.Validate` plus what linkerd2-proxy silently drops
//! (semantics.md §9, §5.3–§5.4). TrafficSplit: the SMI spec per version (§2.2–§2.3).

mod budget;
mod profile;
mod split;

use crate::path::FieldPath;
use crate::resource::{Resource, ServiceProfileSpec, TrafficSplitSpec};

use super::Report;

/// Validates a ServiceProfile spec.
pub fn validate_profile(
    spec: &ServiceProfileSpec,
    _res: &Resource,
    path: &FieldPath,
    r: &mut Report,
) {
    profile::validate(spec, path, r);
}

/// Validates a TrafficSplit spec.
pub fn validate_split(spec: &TrafficSplitSpec, res: &Resource, path: &FieldPath, r: &mut Report) {
    split::validate(spec, res, path, r);
}

/// True when `path` is written in the resource's source (the typed structs do not tell an
/// absent list from an empty one).
fn present(res: &Resource, path: &FieldPath) -> bool {
    res.origin.node.value_pos(path).is_some()
}

#[cfg(test)]
mod tests;
