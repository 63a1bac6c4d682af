//! ServiceEntry and WorkloadEntry rules.

use crate::path::FieldPath;
use crate::resource::{Resource, ServiceEntrySpec, WorkloadEntrySpec};

use super::Report;

/// Validates a ServiceEntry spec.
pub fn validate_service_entry(
    _spec: &ServiceEntrySpec,
    _res: &Resource,
    _path: &FieldPath,
    _r: &mut Report,
) {
}

/// Validates a WorkloadEntry spec.
pub fn validate_workload_entry(_spec: &WorkloadEntrySpec, _path: &FieldPath, _r: &mut Report) {}
