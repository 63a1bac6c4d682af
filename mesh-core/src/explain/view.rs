//! The views that make up an [`Explanation`](super::Explanation): the decision schema.

use std::collections::BTreeMap;

use serde::Serialize;

/// The request.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct RequestView {
    /// Method.
    pub method: String,
    /// Scheme.
    pub scheme: String,
    /// Authority as sent.
    pub authority: String,
    /// Host without port.
    pub host: String,
    /// Listener port.
    pub port: u16,
    /// Path.
    pub path: String,
    /// Query.
    pub query: Option<String>,
}

/// The evaluating proxy.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ProxyView {
    /// A sidecar.
    Sidecar {
        /// `ns/name`.
        workload: String,
        /// Labels.
        labels: BTreeMap<String, String>,
    },
    /// A gateway.
    Gateway {
        /// `ns/name`.
        gateway: String,
        /// Port.
        port: u16,
    },
}

/// The routing decision.
#[derive(Clone, Debug, Serialize, PartialEq, Default)]
pub struct RouteView {
    /// `ns/name` of the VirtualService, `null` for the default route.
    pub virtual_service: Option<String>,
    /// Index in `spec.http`, `null` for the default route.
    pub rule: Option<usize>,
    /// The rule's name.
    pub rule_name: Option<String>,
    /// Index in the rule's `match`, `null` for a rule without match.
    #[serde(rename = "match")]
    pub match_index: Option<usize>,
    /// `route`, `redirect`, `direct_response`, `not_found`, or `rejected` (400: the path cannot
    /// be normalized safely, so the request is never routed).
    pub action: &'static str,
    /// The status the proxy answers itself (404, redirect, direct response).
    pub status: Option<u16>,
    /// Weighted destinations.
    pub destinations: Vec<DestinationView>,
    /// The destination picked with the seed.
    pub picked: Option<DestinationView>,
    /// Route timeout; `null` is disabled (Istio's default).
    pub timeout_ms: Option<u64>,
    /// Retry policy.
    pub retries: Option<RetriesView>,
    /// Fault injection.
    pub fault: Option<FaultView>,
    /// Mirrors.
    pub mirror: Vec<MirrorView>,
    /// Redirect.
    pub redirect: Option<RedirectView>,
    /// Direct response.
    pub direct_response: Option<DirectResponseView>,
    /// Rewrite.
    pub rewrite: Option<RewriteView>,
    /// Header operations (route then picked destination).
    pub headers: Option<HeadersView>,
}

/// A destination.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct DestinationView {
    /// Service FQDN.
    pub host: String,
    /// Subset.
    pub subset: Option<String>,
    /// Port.
    pub port: Option<u16>,
    /// Weight as configured.
    pub weight: u64,
    /// Share of traffic in percent.
    pub percent: f64,
}

/// Retries.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct RetriesView {
    /// Retries allowed (tries = attempts + 1).
    pub attempts: u32,
    /// Per-try timeout.
    pub per_try_timeout_ms: Option<u64>,
    /// Conditions.
    pub retry_on: Vec<String>,
    /// Status codes retried.
    pub retriable_status_codes: Vec<u16>,
    /// Base backoff.
    pub backoff_base_ms: u64,
    /// Avoid the previous host.
    pub retry_ignore_previous_hosts: bool,
    /// True when this is the mesh default (the route has no `retries`).
    pub default: bool,
}

/// Fault injection.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct FaultView {
    /// Delay.
    pub delay: Option<FaultDelayView>,
    /// Abort.
    pub abort: Option<FaultAbortView>,
}

/// Delay.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct FaultDelayView {
    /// Delay.
    pub fixed_delay_ms: u64,
    /// Percent of requests.
    pub percentage: f64,
}

/// Abort.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct FaultAbortView {
    /// HTTP status.
    pub http_status: Option<u16>,
    /// gRPC status.
    pub grpc_status: Option<String>,
    /// Percent of requests.
    pub percentage: f64,
}

/// A mirror.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct MirrorView {
    /// Service FQDN.
    pub host: String,
    /// Subset.
    pub subset: Option<String>,
    /// Port.
    pub port: Option<u16>,
    /// Percent of requests.
    pub percentage: f64,
}

/// Redirect.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct RedirectView {
    /// Status.
    pub status: u16,
    /// Location.
    pub location: String,
}

/// Direct response.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct DirectResponseView {
    /// Status.
    pub status: u16,
    /// Body (lossy UTF-8).
    pub body: Option<String>,
}

/// Rewrite.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct RewriteView {
    /// Path forwarded.
    pub path: String,
    /// Authority forwarded.
    pub authority: Option<String>,
}

/// Header operations.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct HeadersView {
    /// On the request.
    pub request: OpsView,
    /// On the response.
    pub response: OpsView,
}

/// One direction's operations.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, Default)]
pub struct OpsView {
    /// Set.
    pub set: BTreeMap<String, String>,
    /// Add.
    pub add: BTreeMap<String, String>,
    /// Remove.
    pub remove: Vec<String>,
}

/// DestinationRule policy.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct PolicyView {
    /// The DestinationRule whose top-level policy applies (`ns/name`), `null` for defaults.
    pub destination_rule: Option<String>,
    /// Every DestinationRule merged for the host (same namespace, same host; the first top-level
    /// policy and the first definition of each subset win).
    pub destination_rules: Vec<String>,
    /// Subset and its labels; `labels: null` when no DestinationRule defines it (503 `NC`).
    pub subset: Option<SubsetView>,
    /// Load balancer.
    pub load_balancer: serde_json::Value,
    /// Circuit-breaker thresholds and pool settings.
    pub connection_pool: serde_json::Value,
    /// Outlier detection; `null` when not configured.
    pub outlier_detection: Option<serde_json::Value>,
    /// Endpoints from ServiceEntry/WorkloadEntry (after subset selection).
    pub endpoints: Vec<String>,
}

/// A subset.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct SubsetView {
    /// Name.
    pub name: String,
    /// Labels, `null` when undefined.
    pub labels: Option<BTreeMap<String, String>>,
}

/// ServiceProfile decision.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ProfileView {
    /// `ns/name`.
    pub service_profile: String,
    /// Matched route name, `null` for the default route.
    pub route: Option<String>,
    /// Route timeout.
    pub timeout_ms: Option<u64>,
    /// Retryable within the budget.
    pub retryable: bool,
    /// Budget.
    pub retry_budget: serde_json::Value,
    /// Response classes, in order.
    pub response_classes: Vec<serde_json::Value>,
    /// `dstOverrides` pick, when configured.
    pub dst_override: Option<String>,
}

/// TrafficSplit decision.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct SplitView {
    /// `ns/name`.
    pub traffic_split: String,
    /// Apex FQDN.
    pub apex: String,
    /// Backends.
    pub backends: Vec<SplitBackendView>,
    /// The backend picked with the seed (the apex when no weight is positive).
    pub picked: String,
}

/// A TrafficSplit backend.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct SplitBackendView {
    /// Service FQDN.
    pub service: String,
    /// Weight in milli-units.
    pub weight_milli: u64,
    /// Share in percent.
    pub percent: f64,
}
