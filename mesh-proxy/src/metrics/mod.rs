//! The proxy's metrics, in a `prometheus-client` registry owned by the proxy and served on the
//! admin port: Istio's standard request counter and its duration and size histograms (one label
//! set for all four), plus mesh's own connection counters (plaintext accepted under PERMISSIVE
//! tells users when STRICT is safe).

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Labels of `istio_requests_total` (Istio standard metric labels).
#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct RequestLabels {
    /// `destination` on the inbound path.
    pub reporter: &'static str,
    /// The peer's SPIFFE principal (`spiffe://...`), or `unknown` for plaintext.
    pub source_principal: String,
    /// The peer's namespace from its identity, or `unknown`.
    pub source_workload_namespace: String,
    /// This workload's name.
    pub destination_workload: String,
    /// This workload's namespace.
    pub destination_workload_namespace: String,
    /// This workload's principal.
    pub destination_principal: String,
    /// HTTP status sent to the client.
    pub response_code: String,
    /// Envoy-style response flags (`-` when none).
    pub response_flags: &'static str,
    /// `mutual_tls` or `none`.
    pub connection_security_policy: &'static str,
}

/// What one answered request measured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RequestSample {
    /// Milliseconds from arrival to the response head.
    pub millis: f64,
    /// Request body bytes.
    pub request_bytes: u64,
    /// Response body bytes.
    pub response_bytes: u64,
}

/// A body's size when it is known up front: `Content-Length`, else an exact size hint; 0 for
/// a body whose length only streaming would tell.
pub fn body_size<B: http_body::Body>(headers: &http::HeaderMap, body: &B) -> u64 {
    headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse().ok())
        .or_else(|| body.size_hint().exact())
        .unwrap_or(0)
}

/// Labels of the refused-connection counter.
#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct RefusedLabels {
    /// Why: `plaintext_on_strict`, `tls_on_disable`, `handshake`, `detect_timeout`,
    /// `connection_limit`.
    pub reason: &'static str,
}

/// Labels of the reload counter.
#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct ReloadLabels {
    /// `applied` or `rejected`.
    pub result: &'static str,
}

/// A histogram family keyed like `istio_requests_total`.
pub type RequestHistograms = Family<RequestLabels, Histogram, fn() -> Histogram>;

/// Istio's default duration buckets, in milliseconds.
const DURATION_MS: [f64; 19] = [
    0.5, 1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0, 30000.0,
    60000.0, 300000.0, 600000.0, 1800000.0, 3600000.0,
];

fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_MS)
}

/// Size buckets: 1 B to 1 GB, by powers of ten (Istio's `istio_request_bytes`).
fn bytes_histogram() -> Histogram {
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        1.0, 10.0, 10,
    ))
}

/// Every metric the proxy records.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// `istio_requests_total`.
    pub requests: Family<RequestLabels, Counter>,
    /// `istio_request_duration_milliseconds`: request received to response head ready.
    pub duration: RequestHistograms,
    /// `istio_request_bytes`: the request body size (Content-Length, or the body's exact size
    /// hint; a streamed body of unknown length counts as 0).
    pub request_bytes: RequestHistograms,
    /// `istio_response_bytes`: the response body size, measured like `request_bytes`.
    pub response_bytes: RequestHistograms,
    /// `mesh_plaintext_connections_accepted_total`: plaintext connections let in by PERMISSIVE.
    pub plaintext_accepted: Counter,
    /// `mesh_inbound_connections_refused_total{reason}`.
    pub refused: Family<RefusedLabels, Counter>,
    /// `mesh_config_reloads_total{result}`.
    pub reloads: Family<ReloadLabels, Counter>,
    /// `mesh_retry_budget_exhausted_total`: failures returned unretried because the retry
    /// budget (ServiceProfile or DestinationRule) or `maxRetries` had no room.
    pub retry_budget_exhausted: Counter,
    /// `mesh_upstream_overflow_total`: requests answered 503 `UO` by a circuit breaker.
    pub upstream_overflow: Counter,
}

// === impl Metrics ===

impl Metrics {
    /// A fresh registry with every metric registered.
    pub fn new() -> Arc<Self> {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "istio_requests",
            "Requests handled by the proxy",
            requests.clone(),
        );
        let duration = RequestHistograms::new_with_constructor(duration_histogram);
        registry.register(
            "istio_request_duration_milliseconds",
            "Time from a request's arrival to its response head, in milliseconds",
            duration.clone(),
        );
        let request_bytes = RequestHistograms::new_with_constructor(bytes_histogram);
        registry.register(
            "istio_request_bytes",
            "Request body sizes",
            request_bytes.clone(),
        );
        let response_bytes = RequestHistograms::new_with_constructor(bytes_histogram);
        registry.register(
            "istio_response_bytes",
            "Response body sizes",
            response_bytes.clone(),
        );
        let plaintext_accepted = Counter::default();
        registry.register(
            "mesh_plaintext_connections_accepted",
            "Plaintext inbound connections accepted because the port is PERMISSIVE",
            plaintext_accepted.clone(),
        );
        let refused = Family::<RefusedLabels, Counter>::default();
        registry.register(
            "mesh_inbound_connections_refused",
            "Inbound connections closed before HTTP by the mTLS policy or the handshake",
            refused.clone(),
        );
        let reloads = Family::<ReloadLabels, Counter>::default();
        registry.register(
            "mesh_config_reloads",
            "Configuration changes applied or rejected",
            reloads.clone(),
        );
        let retry_budget_exhausted = Counter::default();
        registry.register(
            "mesh_retry_budget_exhausted",
            "Failed responses a retry budget or maxRetries refused to retry",
            retry_budget_exhausted.clone(),
        );
        let upstream_overflow = Counter::default();
        registry.register(
            "mesh_upstream_overflow",
            "Requests refused with 503 UO because a circuit-breaker limit was reached",
            upstream_overflow.clone(),
        );
        Arc::new(Metrics {
            registry,
            retry_budget_exhausted,
            upstream_overflow,
            requests,
            duration,
            request_bytes,
            response_bytes,
            plaintext_accepted,
            refused,
            reloads,
        })
    }

    /// Records one answered request: the counter and the three histograms, under `labels`.
    pub fn request(&self, labels: &RequestLabels, sample: RequestSample) {
        self.requests.get_or_create(labels).inc();
        self.duration.get_or_create(labels).observe(sample.millis);
        self.request_bytes
            .get_or_create(labels)
            .observe(sample.request_bytes as f64);
        self.response_bytes
            .get_or_create(labels)
            .observe(sample.response_bytes as f64);
    }

    /// Counts a refused connection.
    pub fn refuse(&self, reason: &'static str) {
        self.refused.get_or_create(&RefusedLabels { reason }).inc();
    }

    /// Counts a reload.
    pub fn reloaded(&self, result: &'static str) {
        self.reloads.get_or_create(&ReloadLabels { result }).inc();
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests;
