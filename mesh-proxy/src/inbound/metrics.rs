//! Step: `istio_requests_total` and the duration histogram with `reporter="destination"`,
//! counted when the response head is ready, and the size histograms when the response body
//! ends (a refused request, which closes the connection, is counted as a refused connection
//! instead).

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use http::{Request, Response};
use mesh_core::layer::authz::Denied;
use mesh_core::security::conn::ConnectionFacts;
use tower::ServiceExt;

use super::{Inbound, ResponseFlags};
use crate::body::Body;
use crate::metrics::stream::{RequestCount, ResponseCount};
use crate::metrics::{DestinationService, RequestLabels};
use crate::stack::{HttpService, Stack};

const UNKNOWN: &str = "unknown";

impl Stack<HttpService> {
    /// Counts every answered request.
    pub fn push_metrics(self, inbound: &Inbound) -> Stack<HttpService> {
        let inner = self.into_inner();
        let metrics = inbound.metrics.clone();
        let destination_workload = inbound.workload.name.clone();
        let destination_ns = inbound.workload.namespace.clone();
        let destination_principal = inbound.id.to_string();
        let svc = tower::service_fn(move |req: Request<Body>| {
            let inner = inner.clone();
            let metrics = metrics.clone();
            let peer = req
                .extensions()
                .get::<ConnectionFacts>()
                .and_then(|f| f.peer.clone());
            let mut labels = RequestLabels {
                reporter: "destination",
                source_principal: peer
                    .as_ref()
                    .map_or(UNKNOWN.into(), |p| format!("spiffe://{}", p.principal())),
                // Only the peer's SPIFFE ID is known here: Istio fills the workload and app
                // from peer metadata exchange, which this proxy does not do.
                source_workload: UNKNOWN.into(),
                source_workload_namespace: peer
                    .as_ref()
                    .and_then(|p| p.namespace())
                    .unwrap_or(UNKNOWN)
                    .to_owned(),
                source_app: UNKNOWN.into(),
                destination_service: UNKNOWN.into(),
                destination_service_name: UNKNOWN.into(),
                destination_service_namespace: UNKNOWN.into(),
                destination_workload: destination_workload.clone(),
                destination_workload_namespace: destination_ns.clone(),
                destination_principal: destination_principal.clone(),
                response_code: String::new(),
                response_flags: "-",
                connection_security_policy: if peer.is_some() { "mutual_tls" } else { "none" },
            };
            DestinationService::of(&req, &destination_ns).fill(&mut labels);
            let start = tokio::time::Instant::now();
            let request_bytes = Arc::new(AtomicU64::new(0));
            let req = req.map(|b| Body::new(RequestCount::new(b, request_bytes.clone())));
            async move {
                let rsp: Response<Body> = inner.oneshot(req).await?;
                labels.response_code = rsp.status().as_u16().to_string();
                if let Some(ResponseFlags(f)) = rsp.extensions().get::<ResponseFlags>() {
                    labels.response_flags = f;
                } else if rsp.extensions().get::<Denied>().is_some() {
                    tracing::debug!(source = %labels.source_principal, "RBAC: access denied");
                }
                metrics.head(&labels, start.elapsed().as_secs_f64() * 1000.0);
                Ok(rsp.map(|b| Body::new(ResponseCount::new(b, metrics, labels, request_bytes))))
            }
        });
        Stack::new(tower::util::BoxCloneSyncService::new(svc))
    }
}
