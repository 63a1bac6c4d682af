//! The proxy's metrics, in a `prometheus-client` registry owned by the proxy and served on the
//! admin port: Istio's standard request counter with Istio's label names, plus mesh's own
//! connection counters (plaintext accepted under PERMISSIVE tells users when STRICT is safe).

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
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

/// Every metric the proxy records.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// `istio_requests_total`.
    pub requests: Family<RequestLabels, Counter>,
    /// `mesh_plaintext_connections_accepted_total`: plaintext connections let in by PERMISSIVE.
    pub plaintext_accepted: Counter,
    /// `mesh_inbound_connections_refused_total{reason}`.
    pub refused: Family<RefusedLabels, Counter>,
    /// `mesh_config_reloads_total{result}`.
    pub reloads: Family<ReloadLabels, Counter>,
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
        Arc::new(Metrics {
            registry,
            requests,
            plaintext_accepted,
            refused,
            reloads,
        })
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
