//! Gateway rules (Istio `validateGateway`).

use crate::path::FieldPath;
use crate::resource::{GatewaySpec, Resource};

use super::Report;

/// Validates a Gateway spec.
pub fn validate(_spec: &GatewaySpec, _res: &Resource, _path: &FieldPath, _r: &mut Report) {}
