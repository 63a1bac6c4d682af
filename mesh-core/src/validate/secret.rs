//! Secret rules: a `kubernetes.io/tls` Secret must carry a certificate and a key.

use crate::resource::{Resource, SecretData};

use super::Report;

/// Validates a Secret.
pub fn validate(_secret: &SecretData, _res: &Resource, _r: &mut Report) {}
