//! Step: `istio_requests_total` and the duration/size histograms with `reporter="destination"`, counted when the response
//! head is ready (a refused request, which closes the connection, is counted as a refused
//! connection instead).

use http::{Request, Response};
use mesh_core::layer::authz::Denied;
use mesh_core::security::conn::ConnectionFacts;
use tower::ServiceExt;

use super::{Inbound, ResponseFlags};
use crate::body::Body;
use crate::metrics::{RequestLabels, RequestSample, body_size};
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
                source_workload_namespace: peer
                    .as_ref()
                    .and_then(|p| p.namespace())
                    .unwrap_or(UNKNOWN)
                    .to_owned(),
                destination_workload: destination_workload.clone(),
                destination_workload_namespace: destination_ns.clone(),
                destination_principal: destination_principal.clone(),
                response_code: String::new(),
                response_flags: "-",
                connection_security_policy: if peer.is_some() { "mutual_tls" } else { "none" },
            };
            let start = tokio::time::Instant::now();
            let request_bytes = body_size(req.headers(), req.body());
            async move {
                let rsp: Response<Body> = inner.oneshot(req).await?;
                labels.response_code = rsp.status().as_u16().to_string();
                if let Some(ResponseFlags(f)) = rsp.extensions().get::<ResponseFlags>() {
                    labels.response_flags = f;
                } else if rsp.extensions().get::<Denied>().is_some() {
                    tracing::debug!(source = %labels.source_principal, "RBAC: access denied");
                }
                let sample = RequestSample {
                    millis: start.elapsed().as_secs_f64() * 1000.0,
                    request_bytes,
                    response_bytes: body_size(rsp.headers(), rsp.body()),
                };
                metrics.request(&labels, sample);
                Ok(rsp)
            }
        });
        Stack::new(tower::util::BoxCloneSyncService::new(svc))
    }
}
