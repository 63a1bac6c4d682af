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
use crate::metrics::{DestinationCache, Label, RequestLabels};
use crate::stack::{HttpService, Stack};

const UNKNOWN: &str = "unknown";

impl Stack<HttpService> {
    /// Counts every answered request.
    pub fn push_metrics(self, inbound: &Inbound) -> Stack<HttpService> {
        let inner = self.into_inner();
        let metrics = inbound.metrics.clone();
        let destinations = Arc::new(DestinationCache::new(&inbound.workload.namespace));
        let unknown: Label = UNKNOWN.into();
        // What every request of this workload shares; cloning the service costs a count.
        let this = Arc::new(RequestLabels {
            reporter: "destination",
            source_principal: unknown.clone(),
            // Only the peer's SPIFFE ID is known here: Istio fills the workload and app
            // from peer metadata exchange, which this proxy does not do.
            source_workload: unknown.clone(),
            source_workload_namespace: unknown.clone(),
            source_app: unknown.clone(),
            destination_service: unknown.clone(),
            destination_service_name: unknown.clone(),
            destination_service_namespace: unknown,
            destination_workload: inbound.workload.name.as_str().into(),
            destination_workload_namespace: inbound.workload.namespace.as_str().into(),
            destination_principal: inbound.id.to_string().into(),
            response_code: 0,
            response_flags: "-",
            connection_security_policy: "none",
        });
        let svc = tower::service_fn(move |req: Request<Body>| {
            let inner = inner.clone();
            let metrics = metrics.clone();
            let mut labels = RequestLabels::clone(&this);
            let peer = req.extensions().get::<ConnectionFacts>();
            if let Some(p) = peer.and_then(|f| f.peer.as_ref()) {
                labels.source_principal = format!("spiffe://{}", p.principal()).into();
                if let Some(ns) = p.namespace() {
                    labels.source_workload_namespace = ns.into();
                }
                labels.connection_security_policy = "mutual_tls";
            }
            destinations.of(&req).fill(&mut labels);
            let start = tokio::time::Instant::now();
            let request_bytes = Arc::new(AtomicU64::new(0));
            let req = req.map(|b| Body::new(RequestCount::new(b, request_bytes.clone())));
            async move {
                let rsp: Response<Body> = inner.oneshot(req).await?;
                labels.response_code = rsp.status().as_u16();
                if let Some(ResponseFlags(f)) = rsp.extensions().get::<ResponseFlags>() {
                    labels.response_flags = f;
                } else if rsp.extensions().get::<Denied>().is_some() {
                    tracing::debug!(source = %labels.source_principal, "RBAC: access denied");
                }
                let series = metrics.head(&labels, start.elapsed().as_secs_f64() * 1000.0);
                Ok(rsp.map(|b| Body::new(ResponseCount::new(b, series, request_bytes))))
            }
        });
        Stack::new(tower::util::BoxCloneSyncService::new(svc))
    }
}
