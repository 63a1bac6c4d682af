//! Istio `PeerAuthentication` and `AuthorizationPolicy` (security.istio.io v1beta1 / v1).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{IntOrString, PolicyTargetReference, WorkloadSelector};

/// `PeerAuthentication.spec`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PeerAuthenticationSpec {
    /// Workloads (absent: the whole namespace, or the mesh in the root namespace).
    pub selector: Option<WorkloadSelector>,
    /// Mode for all ports.
    pub mtls: Option<MutualTls>,
    /// Per-port modes (requires a selector).
    pub port_level_mtls: BTreeMap<String, MutualTls>,
}

/// `PeerAuthentication.MutualTLS`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MutualTls {
    /// Mode.
    pub mode: Option<MtlsMode>,
}

/// `PeerAuthentication.MutualTLS.Mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MtlsMode {
    /// Inherit from the parent scope.
    Unset,
    /// Plaintext only.
    Disable,
    /// mTLS and plaintext.
    Permissive,
    /// mTLS only.
    Strict,
}

/// `AuthorizationPolicy.spec`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AuthorizationPolicySpec {
    /// Workloads (absent: the namespace, or the mesh in the root namespace).
    pub selector: Option<WorkloadSelector>,
    /// A single target.
    pub target_ref: Option<PolicyTargetReference>,
    /// Several targets.
    pub target_refs: Vec<PolicyTargetReference>,
    /// Rules (absent: never matches; `[{}]`: matches everything).
    pub rules: Option<Vec<Rule>>,
    /// Action (default ALLOW).
    pub action: Option<Action>,
    /// External authorizer, for CUSTOM.
    pub provider: Option<ExtensionProvider>,
}

/// `AuthorizationPolicy.Action`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Action {
    /// Allow matching requests.
    Allow,
    /// Deny matching requests.
    Deny,
    /// Record matching requests.
    Audit,
    /// Ask an external authorizer.
    Custom,
}

/// `AuthorizationPolicy.ExtensionProvider`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ExtensionProvider {
    /// Provider name from mesh config.
    pub name: String,
}

/// `Rule`: from AND to AND when.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Rule {
    /// Sources, ORed.
    pub from: Vec<RuleFrom>,
    /// Operations, ORed.
    pub to: Vec<RuleTo>,
    /// Conditions, ANDed.
    pub when: Vec<Condition>,
}

/// `Rule.From`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RuleFrom {
    /// The source.
    pub source: Option<Source>,
}

/// `Rule.To`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RuleTo {
    /// The operation.
    pub operation: Option<Operation>,
}

/// `Source`: fields ANDed, values within a field ORed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Source {
    /// Peer principals (mTLS).
    pub principals: Vec<String>,
    /// Negated peer principals.
    pub not_principals: Vec<String>,
    /// JWT principals.
    pub request_principals: Vec<String>,
    /// Negated JWT principals.
    pub not_request_principals: Vec<String>,
    /// Peer namespaces (mTLS).
    pub namespaces: Vec<String>,
    /// Negated peer namespaces.
    pub not_namespaces: Vec<String>,
    /// Peer service accounts (`ns/sa`, mTLS).
    pub service_accounts: Vec<String>,
    /// Negated peer service accounts.
    pub not_service_accounts: Vec<String>,
    /// Peer IPs / CIDRs.
    pub ip_blocks: Vec<String>,
    /// Negated peer IPs.
    pub not_ip_blocks: Vec<String>,
    /// Client IPs from X-Forwarded-For.
    pub remote_ip_blocks: Vec<String>,
    /// Negated client IPs.
    pub not_remote_ip_blocks: Vec<String>,
}

/// `Operation`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Operation {
    /// Hosts.
    pub hosts: Vec<String>,
    /// Negated hosts.
    pub not_hosts: Vec<String>,
    /// Ports.
    pub ports: Vec<IntOrString>,
    /// Negated ports.
    pub not_ports: Vec<IntOrString>,
    /// Methods.
    pub methods: Vec<String>,
    /// Negated methods.
    pub not_methods: Vec<String>,
    /// Paths.
    pub paths: Vec<String>,
    /// Negated paths.
    pub not_paths: Vec<String>,
}

/// `Condition`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Condition {
    /// Attribute key (`request.headers[x]`, `source.ip`, ...).
    pub key: String,
    /// Values, ORed.
    pub values: Vec<String>,
    /// Negated values.
    pub not_values: Vec<String>,
}
