//! PeerAuthentication and AuthorizationPolicy rules.

use crate::path::FieldPath;
use crate::resource::{AuthorizationPolicySpec, PeerAuthenticationSpec, Resource};

use super::Report;

/// Validates a PeerAuthentication spec.
pub fn validate_peer_authn(
    _spec: &PeerAuthenticationSpec,
    _res: &Resource,
    _path: &FieldPath,
    _r: &mut Report,
) {
}

/// Validates an AuthorizationPolicy spec.
pub fn validate_authz(
    _spec: &AuthorizationPolicySpec,
    _res: &Resource,
    _path: &FieldPath,
    _r: &mut Report,
) {
}
