//! The outbound direction: requests from local applications (plain HTTP/1.1 or h2c, routed
//! by `Host`/`:authority`, absolute-form accepted) through mesh-core's
//! [`MeshLayer`](mesh_core::layer::mesh::MeshLayer) as this workload's sidecar, to the
//! endpoints of the registry ([`endpoint`]: plaintext, or mTLS for endpoints labelled
//! `security.istio.io/tlsMode: istio`).
//!
//! The stack, outermost first: `request id → metrics (reporter="source") → errors → MeshLayer → endpoint`.
//! The proxy decides nothing itself: routing, splits, timeouts, retries, circuit breaking and
//! outlier detection are all MeshLayer's. A reload builds a new MeshLayer (fresh balancer and
//! outlier state) from the new snapshot.

pub mod dns;
pub mod endpoint;
pub mod serve;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use http::{Request, Response, StatusCode, header};
use mesh_core::Mesh;
use mesh_core::layer::fault::ABORT_FLAG;
use mesh_core::layer::mesh::{EndpointAddr, InvalidMesh, MeshLayer};
use mesh_core::layer::pool::ResponseFlag as PoolFlag;
use mesh_core::layer::retry::RetryBudgetExhausted;
use mesh_core::layer::timeout::ResponseFlag;
use mesh_core::resilience::pool::{Limit, Overflow};
use tower::Layer;

use self::endpoint::{Connect, Endpoint, EndpointError, UpstreamPeer};
use crate::body::{Body, BodyLimit, BoxError, payload_too_large};
use crate::inbound::ResponseFlags;
use crate::metrics::stream::{RequestCount, ResponseCount};
use crate::metrics::{DestinationCache, Label, Metrics, OverflowLabels, RequestLabels};
use crate::request_id::RequestIds;
use crate::stack::HttpService;
use crate::stack::Stack;
use crate::tls::{Identity, TlsError};

const UNKNOWN: &str = "unknown";

/// Why a snapshot cannot be served outbound.
#[derive(Debug, thiserror::Error)]
pub enum InvalidOutbound {
    /// A route of this workload's sidecar carries a policy MeshLayer cannot enforce.
    #[error("outbound: {0}")]
    Mesh(#[from] InvalidMesh),
    /// A client TLS configuration could not be built.
    #[error("outbound: {0}")]
    Tls(#[from] TlsError),
}

/// The outbound view of one snapshot: the assembled per-request stack.
#[derive(Clone)]
pub struct Outbound {
    /// The per-request stack.
    pub stack: HttpService,
}

impl std::fmt::Debug for Outbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbound").finish_non_exhaustive()
    }
}

// === impl Outbound ===

impl Outbound {
    /// Builds the outbound stack of `mesh` for `workload`, identified as `identity`.
    /// `seed` makes weighted picks and balancer choices reproducible (tests).
    pub fn from_mesh(
        mesh: Arc<Mesh>,
        workload: mesh_core::Workload,
        identity: &Identity,
        metrics: Arc<Metrics>,
        seed: Option<u64>,
    ) -> Result<Self, InvalidOutbound> {
        let connect = Connect::new(&mesh, identity, Duration::from_secs(10))?;
        let mut labels = source_labels(identity, &workload.namespace);
        labels.source_workload = workload.name.as_str().into();
        if let Some(app) = workload.labels.get("app") {
            labels.source_app = app.as_str().into();
        }
        let layer = MeshLayer::try_new(mesh, workload)?;
        Ok(Outbound {
            stack: mesh_stack(layer, connect, labels, metrics, seed, |_| None),
        })
    }
}

/// The labels of requests this proxy sends (`reporter="source"`), before the response fills
/// the code, flags and upstream peer.
pub(crate) fn source_labels(identity: &Identity, namespace: &str) -> RequestLabels {
    let unknown: Label = UNKNOWN.into();
    RequestLabels {
        reporter: "source",
        source_principal: identity.id.to_string().into(),
        source_workload: unknown.clone(),
        source_workload_namespace: namespace.into(),
        source_app: unknown.clone(),
        destination_service: unknown.clone(),
        destination_service_name: unknown.clone(),
        destination_service_namespace: unknown.clone(),
        destination_workload: unknown.clone(),
        destination_workload_namespace: unknown.clone(),
        destination_principal: unknown,
        response_code: 0,
        response_flags: "-",
        connection_security_policy: "none",
    }
}

/// Answers a request before MeshLayer sees it (`None`: let it through). The gateway's
/// connection checks (301 redirect, 421 misdirected) plug in here, inside the metrics.
pub(crate) type LocalAnswer = fn(&Request<Body>) -> Option<Response<Body>>;

/// The client-side stack over `layer` (a sidecar's or a gateway's):
/// `request id → metrics (labels) → local answer → errors → MeshLayer → endpoint`.
pub(crate) fn mesh_stack(
    mut layer: MeshLayer,
    connect: Connect,
    labels: RequestLabels,
    metrics: Arc<Metrics>,
    seed: Option<u64>,
    local: LocalAnswer,
) -> HttpService {
    if let Some(seed) = seed {
        layer = layer.with_seed(seed);
    }
    let make: Box<dyn Fn(&EndpointAddr) -> Endpoint + Send + Sync> =
        Box::new(move |addr: &EndpointAddr| connect.endpoint(addr));
    let mesh_svc = layer.layer(make);
    let destinations = Arc::new(DestinationCache::new(&labels.source_workload_namespace));
    // Cloning the service (once per request and layer) costs a reference count.
    let labels = Arc::new(labels);
    let svc = tower::service_fn(move |req: Request<Body>| {
        let start = tokio::time::Instant::now();
        let mut labels = RequestLabels::clone(&labels);
        destinations.of(&req).fill(&mut labels);
        let request_bytes = Arc::new(AtomicU64::new(0));
        let req = req.map(|b| Body::new(RequestCount::new(b, request_bytes.clone())));
        // The listener's body limit: an over-limit Content-Length is answered 413 here.
        let limited = match req.extensions().get::<BodyLimit>().copied() {
            Some(limit) => limit.apply(req),
            None => Ok(req),
        };
        // MeshService is always ready (it reserves nothing; readiness of the routed
        // cluster is awaited inside its response future).
        let step = match limited {
            Err(_) => Err(payload_too_large()),
            Ok(req) => match local(&req) {
                Some(answer) => Err(answer),
                None => Ok(tower::Service::call(&mut mesh_svc.clone(), req)),
            },
        };
        let metrics = metrics.clone();
        let fut: Pin<Box<dyn Future<Output = Result<Response<Body>, BoxError>> + Send>> =
            Box::pin(async move {
                let rsp = match step {
                    Err(answer) => answer,
                    Ok(call) => match call.await {
                        Ok(rsp) => with_abort_body(rsp.map(Body::new)),
                        Err(e) => to_response(&e),
                    },
                };
                record(&mut labels, &rsp);
                if rsp.extensions().get::<RetryBudgetExhausted>().is_some() {
                    metrics.retry_budget_exhausted.inc();
                }
                if labels.response_flags == PoolFlag::UpstreamOverflow.as_str() {
                    // The circuit breaker names its limit; `active` if something else did not.
                    let limit = rsp
                        .extensions()
                        .get::<Overflow>()
                        .map_or(Limit::Requests, |o| o.limit);
                    metrics
                        .upstream_overflow
                        .get_or_create(&OverflowLabels::of(limit))
                        .inc();
                }
                let series = metrics.head(&labels, start.elapsed().as_secs_f64() * 1000.0);
                Ok(rsp.map(|b| Body::new(ResponseCount::new(b, series, request_bytes))))
            });
        fut
    });
    let ids = match seed {
        Some(seed) => RequestIds::seed_from_u64(seed),
        None => RequestIds::from_entropy(),
    };
    Stack::new(svc).push_request_id(ids).boxed()
}

/// An HTTP fault abort carries Envoy's body, `fault filter abort` (text/plain); gRPC aborts
/// say it in `grpc-message` and keep their empty body.
fn with_abort_body(rsp: Response<Body>) -> Response<Body> {
    let aborted =
        matches!(rsp.extensions().get::<ResponseFlag>(), Some(ResponseFlag(f)) if *f == ABORT_FLAG);
    if !aborted || rsp.headers().contains_key("grpc-status") {
        return rsp;
    }
    let (mut parts, _) = rsp.into_parts();
    parts.headers.insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain"),
    );
    Response::from_parts(parts, Body::from("fault filter abort"))
}

/// Fills the per-response labels.
fn record(labels: &mut RequestLabels, rsp: &Response<Body>) {
    labels.response_code = rsp.status().as_u16();
    if let Some(ResponseFlag(f)) = rsp.extensions().get::<ResponseFlag>() {
        labels.response_flags = f;
    } else if let Some(f) = rsp.extensions().get::<PoolFlag>() {
        // Circuit-breaker overflow (`UO`) and no healthy host (`UH`).
        labels.response_flags = f.as_str();
    } else if let Some(ResponseFlags(f)) = rsp.extensions().get::<ResponseFlags>() {
        labels.response_flags = f;
    }
    if let Some(peer) = rsp.extensions().get::<UpstreamPeer>() {
        if peer.mtls {
            labels.connection_security_policy = "mutual_tls";
        }
        if let Some(p) = &peer.principal {
            labels.destination_principal = p.clone();
        }
    }
}

/// An error MeshLayer returned becomes Envoy's answer: 503 `UF` when the endpoint could not be
/// reached, else 500.
fn to_response(e: &BoxError) -> Response<Body> {
    let (status, flags, body) = if source_is::<EndpointError>(e.as_ref()) {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "UF",
            "upstream connect error or disconnect/reset before headers",
        )
    } else {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "-",
            "internal proxy error",
        )
    };
    tracing::debug!(error = %e, %status, "outbound: answering locally");
    let mut rsp = Response::new(Body::from(body));
    *rsp.status_mut() = status;
    rsp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain"),
    );
    rsp.extensions_mut().insert(ResponseFlags(flags));
    rsp
}

/// Whether `e` or one of its sources is a `T`.
fn source_is<T: std::error::Error + 'static>(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if err.is::<T>() {
            return true;
        }
        cur = err.source();
    }
    false
}

#[cfg(test)]
mod tests;
