//! ServiceProfile and TrafficSplit rules.

use crate::path::FieldPath;
use crate::resource::{Resource, ServiceProfileSpec, TrafficSplitSpec};

use super::Report;

/// Validates a ServiceProfile spec.
pub fn validate_profile(
    _spec: &ServiceProfileSpec,
    _res: &Resource,
    _path: &FieldPath,
    _r: &mut Report,
) {
}

/// Validates a TrafficSplit spec.
pub fn validate_split(
    _spec: &TrafficSplitSpec,
    _res: &Resource,
    _path: &FieldPath,
    _r: &mut Report,
) {
}
