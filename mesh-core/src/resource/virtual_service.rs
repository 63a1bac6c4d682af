//! Istio `VirtualService` (networking.istio.io v1alpha3 / v1beta1 / v1).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Duration, Percent, StringMatch};

/// `VirtualService.spec`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct VirtualServiceSpec {
    /// Hosts this VS applies to (short names expand in the VS namespace).
    pub hosts: Vec<String>,
    /// Gateways (and the reserved `mesh`) the VS binds to; empty means `mesh` only.
    pub gateways: Vec<String>,
    /// HTTP rules, first match wins.
    pub http: Vec<HttpRoute>,
    /// TLS (SNI) rules.
    pub tls: Vec<TlsRoute>,
    /// TCP rules.
    pub tcp: Vec<TcpRoute>,
    /// Namespaces the VS is visible to.
    pub export_to: Vec<String>,
}

/// One `spec.http[]` rule.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpRoute {
    /// Rule name (stats and logs).
    pub name: Option<String>,
    /// Match blocks, ORed; absent means match everything.
    #[serde(rename = "match")]
    pub matches: Vec<HttpMatchRequest>,
    /// Weighted destinations.
    pub route: Vec<HttpRouteDestination>,
    /// Redirect instead of forwarding.
    pub redirect: Option<HttpRedirect>,
    /// Respond directly.
    pub direct_response: Option<HttpDirectResponse>,
    /// Delegate to another VS.
    pub delegate: Option<Delegate>,
    /// URI / authority rewrite.
    pub rewrite: Option<HttpRewrite>,
    /// Whole-request timeout including retries.
    pub timeout: Option<Duration>,
    /// Retry policy.
    pub retries: Option<HttpRetry>,
    /// Fault injection.
    pub fault: Option<HttpFaultInjection>,
    /// Mirror destination (exclusive with `mirrors`).
    pub mirror: Option<Destination>,
    /// Several mirrors, each with its own percentage.
    pub mirrors: Vec<HttpMirrorPolicy>,
    /// Deprecated integer mirror percentage.
    pub mirror_percent: Option<u32>,
    /// Mirror percentage (default 100).
    pub mirror_percentage: Option<Percent>,
    /// CORS policy.
    pub cors_policy: Option<CorsPolicy>,
    /// Header manipulation.
    pub headers: Option<Headers>,
}

/// `HTTPMatchRequest`: conditions ANDed.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpMatchRequest {
    /// Match name (appended to the rule name).
    pub name: Option<String>,
    /// Path match.
    pub uri: Option<StringMatch>,
    /// Scheme match.
    pub scheme: Option<StringMatch>,
    /// Method match.
    pub method: Option<StringMatch>,
    /// Authority match (port included).
    pub authority: Option<StringMatch>,
    /// Header matches (a null value is invalid; `{}` means present).
    pub headers: BTreeMap<String, Option<StringMatch>>,
    /// Listener port selector.
    pub port: Option<u32>,
    /// Client workload labels (config-time selector).
    pub source_labels: BTreeMap<String, String>,
    /// Gateways this block applies to.
    pub gateways: Vec<String>,
    /// Query parameter matches.
    pub query_params: BTreeMap<String, Option<StringMatch>>,
    /// Case-insensitive `uri` exact/prefix.
    pub ignore_uri_case: Option<bool>,
    /// Negated header matches.
    pub without_headers: BTreeMap<String, Option<StringMatch>>,
    /// Client namespace (config-time selector).
    pub source_namespace: Option<String>,
    /// Stats prefix.
    pub stat_prefix: Option<String>,
}

/// `HTTPRouteDestination`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpRouteDestination {
    /// Where to send.
    pub destination: Option<Destination>,
    /// Relative weight.
    pub weight: Option<i64>,
    /// Header operations when this destination is picked.
    pub headers: Option<Headers>,
}

/// `Destination`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Destination {
    /// Service host (short names expand in the VS namespace).
    pub host: String,
    /// DestinationRule subset.
    pub subset: Option<String>,
    /// Port.
    pub port: Option<PortSelector>,
}

/// `PortSelector`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PortSelector {
    /// Port number.
    pub number: u32,
}

/// `Headers`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Headers {
    /// Operations on the request.
    pub request: Option<HeaderOperations>,
    /// Operations on the response.
    pub response: Option<HeaderOperations>,
}

/// `HeaderOperations`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HeaderOperations {
    /// Overwrite or add.
    pub set: BTreeMap<String, String>,
    /// Append.
    pub add: BTreeMap<String, String>,
    /// Delete.
    pub remove: Vec<String>,
}

/// `HTTPRedirect`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpRedirect {
    /// Replacement path.
    pub uri: Option<String>,
    /// Replacement of the matched prefix.
    pub prefix_rewrite: Option<String>,
    /// Replacement host.
    pub authority: Option<String>,
    /// Replacement port.
    pub port: Option<u32>,
    /// Port derivation.
    pub derive_port: Option<RedirectPortSelection>,
    /// `http` or `https`.
    pub scheme: Option<String>,
    /// Status (default 301).
    pub redirect_code: Option<u32>,
}

/// `HTTPRedirect.RedirectPortSelection`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RedirectPortSelection {
    /// 80 for http, 443 for https.
    FromProtocolDefault,
    /// The port the request came in on.
    FromRequestPort,
}

/// `HTTPDirectResponse`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpDirectResponse {
    /// Status code.
    pub status: u32,
    /// Body.
    pub body: Option<HttpBody>,
}

/// `HTTPBody`: a string or base64 bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpBody {
    /// Text body.
    pub string: Option<String>,
    /// Base64 body.
    pub bytes: Option<String>,
}

/// `Delegate`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Delegate {
    /// Delegate VS name.
    pub name: String,
    /// Delegate VS namespace.
    pub namespace: Option<String>,
}

/// `HTTPRewrite`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpRewrite {
    /// Replaces the matched prefix.
    pub uri: Option<String>,
    /// Replaces the authority.
    pub authority: Option<String>,
    /// Regex substitution of the path.
    pub uri_regex_rewrite: Option<RegexRewrite>,
}

/// `RegexRewrite`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RegexRewrite {
    /// RE2 pattern.
    #[serde(rename = "match")]
    pub pattern: Option<String>,
    /// Substitution (`\1` groups).
    pub rewrite: Option<String>,
}

/// `HTTPRetry`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpRetry {
    /// Retries allowed (absent or <= 0 disables).
    pub attempts: Option<i64>,
    /// Timeout of each try.
    pub per_try_timeout: Option<Duration>,
    /// Comma-separated Envoy retry conditions.
    pub retry_on: Option<String>,
    /// Retry in other localities.
    pub retry_remote_localities: Option<bool>,
    /// Avoid the host of the previous try (default true).
    pub retry_ignore_previous_hosts: Option<bool>,
    /// Base backoff (default 25ms).
    pub backoff: Option<Duration>,
}

/// `HTTPFaultInjection`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpFaultInjection {
    /// Delay.
    pub delay: Option<FaultDelay>,
    /// Abort.
    pub abort: Option<FaultAbort>,
}

/// `HTTPFaultInjection.Delay`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FaultDelay {
    /// Fixed delay.
    pub fixed_delay: Option<Duration>,
    /// Exponential delay (rejected, as by Istio).
    pub exponential_delay: Option<Duration>,
    /// Share of requests delayed (default 0).
    pub percentage: Option<Percent>,
    /// Deprecated integer percentage.
    pub percent: Option<i64>,
}

/// `HTTPFaultInjection.Abort`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FaultAbort {
    /// HTTP status to return.
    pub http_status: Option<i64>,
    /// gRPC status name to return.
    pub grpc_status: Option<String>,
    /// HTTP/2 error (rejected, as by Istio).
    pub http2_error: Option<String>,
    /// Share of requests aborted (default 0).
    pub percentage: Option<Percent>,
}

/// `HTTPMirrorPolicy`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpMirrorPolicy {
    /// Mirror destination.
    pub destination: Option<Destination>,
    /// Share mirrored (default 100).
    pub percentage: Option<Percent>,
}

/// `CorsPolicy`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CorsPolicy {
    /// Allowed origins.
    pub allow_origins: Vec<StringMatch>,
    /// Deprecated exact origins.
    pub allow_origin: Vec<String>,
    /// Allowed methods.
    pub allow_methods: Vec<String>,
    /// Allowed request headers.
    pub allow_headers: Vec<String>,
    /// Exposed response headers.
    pub expose_headers: Vec<String>,
    /// Preflight cache time (whole seconds).
    pub max_age: Option<Duration>,
    /// `Access-Control-Allow-Credentials`.
    pub allow_credentials: Option<bool>,
    /// What to do with preflights that match no origin.
    pub unmatched_preflights: Option<UnmatchedPreflights>,
}

/// `CorsPolicy.UnmatchedPreflights`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UnmatchedPreflights {
    /// Default (forward).
    UnspecifiedPreflights,
    /// Forward to the upstream.
    Forward,
    /// Answer without CORS headers.
    Ignore,
}

/// `TLSRoute`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TlsRoute {
    /// SNI matches.
    #[serde(rename = "match")]
    pub matches: Vec<TlsMatchAttributes>,
    /// Destinations.
    pub route: Vec<RouteDestination>,
}

/// `TLSMatchAttributes`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TlsMatchAttributes {
    /// SNI values (wildcards allowed).
    pub sni_hosts: Vec<String>,
    /// Destination CIDRs.
    pub destination_subnets: Vec<String>,
    /// Port.
    pub port: Option<u32>,
    /// Client workload labels.
    pub source_labels: BTreeMap<String, String>,
    /// Gateways.
    pub gateways: Vec<String>,
    /// Client namespace.
    pub source_namespace: Option<String>,
}

/// `TCPRoute`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TcpRoute {
    /// L4 matches.
    #[serde(rename = "match")]
    pub matches: Vec<L4MatchAttributes>,
    /// Destinations.
    pub route: Vec<RouteDestination>,
}

/// `L4MatchAttributes`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct L4MatchAttributes {
    /// Destination CIDRs.
    pub destination_subnets: Vec<String>,
    /// Port.
    pub port: Option<u32>,
    /// Source CIDR.
    pub source_subnet: Option<String>,
    /// Client workload labels.
    pub source_labels: BTreeMap<String, String>,
    /// Gateways.
    pub gateways: Vec<String>,
    /// Client namespace.
    pub source_namespace: Option<String>,
}

/// `RouteDestination` (TLS and TCP).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RouteDestination {
    /// Where to send.
    pub destination: Option<Destination>,
    /// Relative weight.
    pub weight: Option<i64>,
}

/// gRPC status names by code (`fault.abort.grpcStatus` accepts these, Istio
/// `grpc.SupportedGRPCStatus`).
pub const GRPC_CODES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];
