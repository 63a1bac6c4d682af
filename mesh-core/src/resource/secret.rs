//! Kubernetes `Secret` of type `kubernetes.io/tls` (what a Gateway `credentialName` names).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The body of a Secret (it has no `spec`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SecretData {
    /// `type` (`kubernetes.io/tls`, `Opaque`, ...).
    #[serde(rename = "type")]
    pub secret_type: Option<String>,
    /// Base64 values (`tls.crt`, `tls.key`, `ca.crt`).
    pub data: BTreeMap<String, String>,
    /// Plain values.
    pub string_data: BTreeMap<String, String>,
    /// Immutable.
    pub immutable: Option<bool>,
}
