//! The proxy's metrics, in a `prometheus-client` registry owned by the proxy and served on the
//! admin port: Istio's standard request counter and its duration and size histograms (one label
//! set for all four), plus mesh's own connection counters (plaintext accepted under PERMISSIVE
//! tells users when STRICT is safe).
//!
//! Label sources: on `reporter="source"` (outbound) the `source_*` labels are this workload's
//! (`source_app` is its `app` label); on `reporter="destination"` (inbound) only what the
//! peer's SPIFFE ID says is known (principal, namespace): Istio learns the peer's workload
//! name and app from peer metadata exchange, which this proxy does not do, so
//! `source_workload` and `source_app` are `unknown` there. `destination_service*` come from
//! the request's `Host`/`:authority` ([`DestinationService`]). Body sizes are counted as the
//! bodies stream ([`stream`]), so chunked bodies are measured too.

mod labels;
pub mod stream;

pub use labels::{DestinationCache, DestinationService, Label, RequestLabels};

use std::sync::{Arc, RwLock};

use mesh_core::fxhash::FxHashMap;
use mesh_core::resilience::pool::Limit;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

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

/// The counter and the three histograms of one label set, looked up once and shared by every
/// request that has those labels.
#[derive(Debug)]
pub struct Series {
    requests: Counter,
    duration: Histogram,
    request_bytes: Histogram,
    response_bytes: Histogram,
}

// === impl Series ===

impl Series {
    /// Records a response head: the counter and the duration histogram.
    pub fn head(&self, millis: f64) {
        self.requests.inc();
        self.duration.observe(millis);
    }

    /// Records the body sizes of an exchange once its response body ended.
    pub fn bytes(&self, request: u64, response: u64) {
        self.request_bytes.observe(request as f64);
        self.response_bytes.observe(response as f64);
    }
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

/// Labels of the circuit-breaker overflow counter.
#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct OverflowLabels {
    /// The limit that refused the request: `pending` (`http1MaxPendingRequests`: no room to
    /// wait for a connection), `active` (`http2MaxRequests`), `connections`
    /// (`maxConnections`), `retries` (`maxRetries`).
    pub limit: &'static str,
}

// === impl OverflowLabels ===

impl OverflowLabels {
    /// The labels of a refusal by `limit`.
    pub const fn of(limit: Limit) -> Self {
        OverflowLabels {
            limit: match limit {
                Limit::PendingRequests => "pending",
                Limit::Requests => "active",
                Limit::Connections => "connections",
                Limit::Retries => "retries",
            },
        }
    }
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
    /// `istio_request_bytes`: the request body bytes the proxy read, recorded when the
    /// response body ends (streamed bodies of unknown length included).
    pub request_bytes: RequestHistograms,
    /// `istio_response_bytes`: the response body bytes, counted as they stream, recorded at
    /// the end of the response body.
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
    /// `mesh_upstream_overflow_total{limit}`: requests answered 503 `UO` by a circuit
    /// breaker, by the limit that refused them (pending overflow vs active overflow).
    pub upstream_overflow: Family<OverflowLabels, Counter>,
    /// The request series by label set (the families above are the exposition; this is the
    /// per-request lookup: one Fx hash instead of four SipHash lookups).
    series: RwLock<FxHashMap<RequestLabels, Arc<Series>>>,
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
        let upstream_overflow = Family::<OverflowLabels, Counter>::default();
        registry.register(
            "mesh_upstream_overflow",
            "Requests refused with 503 UO because a circuit-breaker limit was reached, by limit",
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
            series: RwLock::default(),
        })
    }

    /// The series of `labels`, created in every request family on first use.
    pub fn series(&self, labels: &RequestLabels) -> Arc<Series> {
        if let Some(s) = self.series.read().ok().and_then(|m| m.get(labels).cloned()) {
            return s;
        }
        let made = Arc::new(Series {
            requests: self.requests.get_or_create_owned(labels),
            duration: self.duration.get_or_create_owned(labels),
            request_bytes: self.request_bytes.get_or_create_owned(labels),
            response_bytes: self.response_bytes.get_or_create_owned(labels),
        });
        match self.series.write() {
            Ok(mut m) => m.entry(labels.clone()).or_insert(made).clone(),
            Err(_) => made,
        }
    }

    /// Records one answered request: the counter and the three histograms, under `labels`.
    pub fn request(&self, labels: &RequestLabels, sample: RequestSample) {
        let series = self.head(labels, sample.millis);
        series.bytes(sample.request_bytes, sample.response_bytes);
    }

    /// Records a response head (the counter and the duration histogram) and gives the series
    /// for the body sizes to come.
    pub fn head(&self, labels: &RequestLabels, millis: f64) -> Arc<Series> {
        let series = self.series(labels);
        series.head(millis);
        series
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
