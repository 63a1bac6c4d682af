//! Linkerd `ServiceProfile` (linkerd.io v1alpha2) and SMI `TrafficSplit`.

use serde::{Deserialize, Serialize};

use super::{Duration, Quantity};

/// `ServiceProfile.spec`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ServiceProfileSpec {
    /// Routes, first match wins.
    pub routes: Vec<RouteSpec>,
    /// Retry budget for retryable routes.
    pub retry_budget: Option<RetryBudgetSpec>,
    /// Weighted overrides (what linkerd-smi writes from a TrafficSplit).
    pub dst_overrides: Vec<WeightedDst>,
    /// Opaque ports.
    pub opaque_ports: Vec<u32>,
}

/// `RouteSpec`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RouteSpec {
    /// Route name (metrics label).
    pub name: String,
    /// Request condition.
    pub condition: Option<RequestMatch>,
    /// Response classes, first match wins.
    pub response_classes: Vec<ResponseClass>,
    /// Retry failures within the budget.
    pub is_retryable: Option<bool>,
    /// Whole-request timeout.
    pub timeout: Option<Duration>,
}

/// `RequestMatch`: set fields ANDed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RequestMatch {
    /// Every child.
    pub all: Option<Vec<Option<RequestMatch>>>,
    /// Negation.
    pub not: Option<Box<RequestMatch>>,
    /// At least one child.
    pub any: Option<Vec<Option<RequestMatch>>>,
    /// Path regex (Linkerd anchoring).
    pub path_regex: Option<String>,
    /// Method.
    pub method: Option<String>,
}

/// `ResponseClass`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ResponseClass {
    /// Response condition.
    pub condition: Option<ResponseMatch>,
    /// Failure (true) or success.
    pub is_failure: Option<bool>,
}

/// `ResponseMatch`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ResponseMatch {
    /// Every child.
    pub all: Option<Vec<Option<ResponseMatch>>>,
    /// Negation.
    pub not: Option<Box<ResponseMatch>>,
    /// At least one child.
    pub any: Option<Vec<Option<ResponseMatch>>>,
    /// Status range.
    pub status: Option<StatusRange>,
}

/// `Range` of statuses, inclusive.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StatusRange {
    /// Lowest status.
    pub min: Option<u32>,
    /// Highest status.
    pub max: Option<u32>,
}

/// `RetryBudget`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RetryBudgetSpec {
    /// Retries per original request.
    pub retry_ratio: Option<f64>,
    /// Retries always allowed per second.
    pub min_retries_per_second: Option<u32>,
    /// Window.
    pub ttl: Option<Duration>,
}

/// `WeightedDst`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WeightedDst {
    /// Backend authority.
    pub authority: String,
    /// Weight.
    pub weight: Option<Quantity>,
}

/// SMI `TrafficSplit.spec` (v1alpha1 through v1alpha4).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TrafficSplitSpec {
    /// The apex service clients address.
    pub service: String,
    /// Backends with weights.
    pub backends: Vec<TrafficSplitBackend>,
    /// Route groups (v1alpha3+).
    pub matches: Vec<TypedLocalObjectReference>,
}

/// A TrafficSplit backend.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TrafficSplitBackend {
    /// Backend service.
    pub service: String,
    /// Weight: a Quantity in v1alpha1, an integer later (held as milli-units either way).
    pub weight: Option<Quantity>,
}

/// A `matches[]` reference (an `HTTPRouteGroup`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TypedLocalObjectReference {
    /// API group.
    pub api_group: Option<String>,
    /// Kind.
    pub kind: String,
    /// Name.
    pub name: String,
}
