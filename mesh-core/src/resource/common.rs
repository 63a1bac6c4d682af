//! Types shared by several kinds: metadata, string matches, percentages, selectors.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer};
use serde::{Serialize, Serializer};

/// Kubernetes object metadata (the fields a resource file may carry).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ObjectMeta {
    /// `metadata.name`.
    pub name: Option<String>,
    /// `metadata.generateName`.
    pub generate_name: Option<String>,
    /// `metadata.namespace` (defaults to `default`).
    pub namespace: Option<String>,
    /// `metadata.labels`.
    pub labels: BTreeMap<String, String>,
    /// `metadata.annotations`.
    pub annotations: BTreeMap<String, String>,
    /// `metadata.creationTimestamp` (RFC 3339); orders VirtualService ownership.
    pub creation_timestamp: Option<String>,
    /// `metadata.uid`.
    pub uid: Option<String>,
    /// `metadata.resourceVersion`.
    pub resource_version: Option<String>,
    /// `metadata.generation`.
    pub generation: Option<i64>,
    /// `metadata.finalizers`.
    pub finalizers: Vec<String>,
    /// `metadata.ownerReferences` (kept as data).
    pub owner_references: Vec<serde_json::Value>,
    /// `metadata.managedFields` (kept as data).
    pub managed_fields: Vec<serde_json::Value>,
    /// `metadata.deletionTimestamp`.
    pub deletion_timestamp: Option<String>,
    /// `metadata.deletionGracePeriodSeconds`.
    pub deletion_grace_period_seconds: Option<i64>,
    /// `metadata.selfLink`.
    pub self_link: Option<String>,
}

/// Istio `StringMatch`: a oneof of `exact`, `prefix`, `regex`. `{}` sets none of them (which
/// header and query matches read as "present").
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StringMatch {
    /// Equality.
    pub exact: Option<String>,
    /// `starts_with`.
    pub prefix: Option<String>,
    /// RE2 full match.
    pub regex: Option<String>,
}

/// A percentage `{value: 0.0..=100.0}`.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Deserialize, Serialize)]
#[serde(default)]
pub struct Percent {
    /// The percentage.
    pub value: f64,
}

/// `matchLabels` selector (PeerAuthentication, AuthorizationPolicy, RequestAuthentication).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WorkloadSelector {
    /// Labels a workload must carry.
    pub match_labels: BTreeMap<String, String>,
}

/// Istio `PolicyTargetReference` (`targetRef`, `targetRefs`).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PolicyTargetReference {
    /// API group (`gateway.networking.k8s.io`, `""` for core).
    pub group: Option<String>,
    /// Kind (`Gateway`, `Service`, `ServiceEntry`, `GatewayClass`).
    pub kind: Option<String>,
    /// Name.
    pub name: Option<String>,
    /// Namespace (must be the policy's own).
    pub namespace: Option<String>,
}

/// A value that may be written as an integer or as a string (`8080` or `"8080"`, `http`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum IntOrString {
    /// An integer.
    Int(i64),
    /// A string.
    Str(String),
}

// === impl IntOrString ===

impl IntOrString {
    /// The value as text, the way Istio's string lists hold it.
    pub fn to_text(&self) -> String {
        match self {
            IntOrString::Int(i) => i.to_string(),
            IntOrString::Str(s) => s.clone(),
        }
    }
}

impl fmt::Display for IntOrString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IntOrString::Int(i) => write!(f, "{i}"),
            IntOrString::Str(s) => f.write_str(s),
        }
    }
}

impl<'de> Deserialize<'de> for IntOrString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = IntOrString;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer or a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<IntOrString, E> {
                Ok(IntOrString::Str(v.to_owned()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<IntOrString, E> {
                Ok(IntOrString::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<IntOrString, E> {
                i64::try_from(v)
                    .map(IntOrString::Int)
                    .map_err(|_| E::custom(format!("{v} is out of range")))
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for IntOrString {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            IntOrString::Int(i) => s.serialize_i64(*i),
            IntOrString::Str(v) => s.serialize_str(v),
        }
    }
}
