//! One request through the stack: routing and request edits, fault, mirror, route timeout,
//! then the cached plan's retries over the destination cluster.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body::Body;
use tower_service::Service;

use super::plan::{Cluster, Plan};
use super::{BoxError, MakeEndpoint, NO_ROUTE, ResponseFuture, Routed, Scope, Shared, edit};
use crate::clock::Clock;
use crate::layer::fault::{DELAY_FLAG, abort_response};
use crate::layer::pool::PermitBody;
use crate::layer::retry::{PerTryTimeout, ReplayBody, ResponseFuture as RetryFuture};
use crate::layer::timeout::{ResponseFlag, RouteTimeout};
use crate::model::Mesh;
use crate::resilience::envoy_budget::{ActiveRequest, EnvoyRetryBudget};
use crate::resilience::mirror::MirrorPolicy;
use crate::route::action::Action;
use crate::route::{Decision, RouteRequest};

// === impl Shared ===

impl<M, C> Shared<M, C>
where
    M: MakeEndpoint,
    C: Clock,
{
    /// Starts one request. Routing, the fault draw, mirroring and the first readiness check
    /// run here, synchronously, so the boxed future holds only what the response needs.
    pub(super) fn start<B, RB>(self: &Arc<Self>, mut req: Request<B>) -> ResponseFuture<RB>
    where
        M: Send + Sync + 'static,
        M::Service:
            Service<Request<ReplayBody<B>>, Response = Response<RB>> + Clone + Send + 'static,
        <M::Service as Service<Request<ReplayBody<B>>>>::Future: Send,
        <M::Service as Service<Request<ReplayBody<B>>>>::Error: Into<BoxError>,
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
        RB: Default + From<Bytes> + Send + 'static,
    {
        let plan = match self.route(&mut req) {
            Ok(Routed::Forward(plan)) => plan,
            Ok(Routed::Local(rsp)) => {
                let rsp = rsp.map(|b| PermitBody::new(RB::from(b)));
                return ResponseFuture::new(Box::pin(async move { Ok(rsp) }));
            }
            Err(e) => return ResponseFuture::new(Box::pin(async move { Err(e) })),
        };
        // Envoy counts the request as active for the retry budget while it runs.
        let active = plan.budget.as_ref().map(EnvoyRetryBudget::start_request);
        let decision = plan
            .fault
            .as_ref()
            .map(|f| self.rng.with(|rng| f.decide(rng)))
            .unwrap_or_default();
        if let Some(delay) = decision.delay {
            // The fault filter runs before the router: the delay holds no pool slot and does
            // not count toward the route timeout.
            let shared = self.clone();
            return ResponseFuture::new(Box::pin(async move {
                tokio::time::sleep(delay).await;
                if let Some(abort) = decision.abort {
                    return Ok(abort_response(abort));
                }
                let started = shared.forward(&plan, req);
                // Envoy records `DI` on a delayed request (unless a later flag says more).
                finish(plan, started, active).await.map(|mut rsp| {
                    if rsp.extensions().get::<ResponseFlag>().is_none() {
                        rsp.extensions_mut().insert(ResponseFlag(DELAY_FLAG));
                    }
                    rsp
                })
            }));
        }
        if let Some(abort) = decision.abort {
            let rsp = abort_response(abort);
            return ResponseFuture::new(Box::pin(async move { Ok(rsp) }));
        }
        let started = self.forward(&plan, req);
        ResponseFuture::new(Box::pin(finish(plan, started, active)))
    }

    /// Mirrors the request, then hands it to the plan's retry service: called at once when the
    /// service is ready (it is, unless the pool queues), else once it becomes ready.
    fn forward<B, RB>(
        &self,
        plan: &Plan<M::Service, C>,
        req: Request<B>,
    ) -> Started<RetryFuture<Response<PermitBody<RB>>>, Response<PermitBody<RB>>>
    where
        M::Service:
            Service<Request<ReplayBody<B>>, Response = Response<RB>> + Clone + Send + 'static,
        <M::Service as Service<Request<ReplayBody<B>>>>::Future: Send,
        <M::Service as Service<Request<ReplayBody<B>>>>::Error: Into<BoxError>,
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
        RB: Default + Send + 'static,
    {
        if let Some((policy, clusters)) = &plan.mirrors {
            self.mirror(policy, clusters, &req);
        }
        let mut svc = plan.retry.clone();
        match svc.poll_ready(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(Ok(())) => Started::Called(svc.call(req)),
            Poll::Ready(Err(e)) => Started::Failed(Some(e)),
            Poll::Pending => Started::Waiting(Box::pin(async move {
                poll_fn(|cx| svc.poll_ready(cx)).await?;
                svc.call(req).await
            })),
        }
    }

    /// Linkerd on a host no VirtualService claims: the ServiceProfile's `dstOverrides`, else an
    /// SMI TrafficSplit of the service, picks the backend service (weighted, seeded RNG; a
    /// split without positive weights keeps the apex). The profile's routes, timeouts and
    /// retries stay the apex's.
    fn backend<'s>(&'s self, service: &'s str, port: u16) -> (&'s str, u16) {
        let overrides = self
            .mesh
            .profile(service, &self.workload.namespace)
            .and_then(|p| p.dst_overrides.as_ref());
        let set = overrides.or_else(|| {
            self.mesh
                .traffic_split(service)
                .and_then(|s| s.set.as_ref())
        });
        let Some(set) = set else {
            return (service, port);
        };
        let (_, authority) = self.rng.with(|rng| set.pick(rng));
        // dstOverrides authorities may carry a port (`svc.ns.svc.cluster.local:8080`).
        match authority.rsplit_once(':') {
            Some((host, p)) => (host, p.parse().unwrap_or(port)),
            None => (authority.as_str(), port),
        }
    }

    /// Istio mirroring: each mirror fires with its own probability; the copy goes to the
    /// mirror's cluster on its own task and its answer is ignored. Only requests whose body is
    /// known to be empty are copied here (the body type cannot be rebuilt from bytes); others
    /// are forwarded without a copy.
    pub(super) fn mirror<B, RB>(
        &self,
        policy: &MirrorPolicy,
        clusters: &[Option<Cluster<M::Service, C>>],
        req: &Request<B>,
    ) where
        M::Service:
            Service<Request<ReplayBody<B>>, Response = Response<RB>> + Clone + Send + 'static,
        <M::Service as Service<Request<ReplayBody<B>>>>::Future: Send,
        <M::Service as Service<Request<ReplayBody<B>>>>::Error: Into<BoxError>,
        B: Body<Data = Bytes> + Send + 'static,
        RB: Default + Send + 'static,
    {
        if req.body().size_hint().exact() != Some(0) {
            return;
        }
        let fired = self.rng.with(|rng| policy.pick(rng));
        for m in fired {
            let index = policy.targets().iter().position(|t| std::ptr::eq(t, m));
            let Some(Some(cluster)) = index.and_then(|i| clusters.get(i)) else {
                continue;
            };
            let mut copy = Request::new(ReplayBody::buffered(Bytes::new(), None));
            *copy.method_mut() = req.method().clone();
            *copy.uri_mut() = req.uri().clone();
            *copy.version_mut() = req.version();
            *copy.headers_mut() = req.headers().clone();
            let mut cluster = cluster.clone();
            tokio::spawn(async move {
                if poll_fn(|cx| cluster.poll_ready(cx)).await.is_ok() {
                    // Fire and forget: the mirror's answer is ignored.
                    let _ = cluster.call(copy).await;
                }
            });
        }
    }

    /// The port of a destination that names none: the listener's at a sidecar; at a gateway,
    /// whose listener port is not the service's, the service's only port (Istio), else the
    /// listener's.
    fn default_port(&self, host: &str, listener: u16) -> u16 {
        match (self.scope, self.mesh.service(host)) {
            (Scope::Gateway { .. }, Some(svc)) if svc.ports.len() == 1 => svc.ports[0].number,
            _ => listener,
        }
    }

    /// Routes the request, applies the route's request edits and returns what to do.
    #[allow(clippy::type_complexity)]
    pub(super) fn route<B>(&self, req: &mut Request<B>) -> Result<Routed<M::Service, C>, BoxError>
    where
        M::Service: Clone,
    {
        let mut rr = RouteRequest::from_http(req);
        if let Scope::Gateway { port } = self.scope {
            rr.port = port;
        }
        let (decision, service) = match self.scope {
            Scope::Sidecar => {
                let (decision, res) =
                    self.mesh
                        .route_sidecar(&self.vhosts, &self.workload.namespace, &rr);
                (decision, res.service)
            }
            // A gateway never falls back to a host's default route: no bound host is 404.
            Scope::Gateway { .. } => Mesh::route_gateway(&self.vhosts, &rr),
        };
        let (entry, forward) = match decision {
            Decision::NotFound { .. } => {
                let rsp = edit::flagged(StatusCode::NOT_FOUND, NO_ROUTE);
                return Ok(Routed::Local(rsp));
            }
            Decision::HttpsRedirect { .. } => {
                let location = format!(
                    "https://{}{}",
                    rr.authority,
                    req.uri().path_and_query().map_or("/", |p| p.as_str())
                );
                return Ok(Routed::Local(edit::redirect(301, &location)));
            }
            Decision::Default => {
                let profile = self.profile_route(&service, rr.method, rr.path)?;
                let (backend, port) = self.backend(&service, rr.port);
                let plan = self.default_plan(backend, port, profile)?;
                return Ok(plan);
            }
            Decision::Route { entry, .. } => match &entry.rule.action {
                Action::Redirect(r) => {
                    let location = r.location(
                        entry.match_block(),
                        rr.scheme,
                        rr.authority,
                        rr.path,
                        rr.query,
                        rr.port,
                    );
                    return Ok(Routed::Local(edit::redirect(r.status, &location)));
                }
                Action::DirectResponse(d) => return Ok(Routed::Local(edit::direct(d))),
                Action::Forward(f) => (entry, f),
            },
        };
        let (index, dest) = self.rng.with(|rng| forward.destinations.pick(rng));
        let profile = self.profile_route(&dest.host, rr.method, rr.path)?;
        let port = dest
            .port
            .unwrap_or_else(|| self.default_port(&dest.host, rr.port));
        let routed = self.route_plan(entry, index, forward, dest, port, profile)?;
        // Istio: rewrite after matching, then route-level and destination-level header ops.
        if let Some(rewrite) = &forward.rewrite {
            edit::apply_rewrite(req, rewrite, entry.match_block());
        }
        edit::apply_headers(req.headers_mut(), &forward.headers.request);
        edit::apply_headers(req.headers_mut(), &dest.headers.request);
        Ok(routed)
    }
}

/// Waits for the response under the route timeout, then applies the response edits.
async fn finish<S, C, F, RB>(
    plan: Arc<Plan<S, C>>,
    started: Started<F, Response<PermitBody<RB>>>,
    active: Option<ActiveRequest>,
) -> Result<Response<PermitBody<RB>>, BoxError>
where
    F: Future<Output = Result<Response<PermitBody<RB>>, BoxError>> + Unpin,
    RB: From<Bytes>,
{
    let _active = active;
    let result = match plan.timeout {
        Some(after) => match tokio::time::timeout(after, started).await {
            Ok(r) => r,
            Err(_) => {
                return Ok(RouteTimeout { after }
                    .to_response::<RB>()
                    .map(PermitBody::new));
            }
        },
        None => started.await,
    };
    let mut rsp = match result {
        Ok(rsp) => rsp,
        Err(e) => match e.downcast_ref::<PerTryTimeout>() {
            Some(t) => t.to_response::<RB>().map(PermitBody::new),
            None => return Err(e),
        },
    };
    for ops in &plan.response_headers {
        edit::apply_headers(rsp.headers_mut(), ops);
    }
    Ok(rsp)
}

/// A forwarded request: the retry service's future, or the wait for its readiness.
enum Started<F, T> {
    Called(F),
    Waiting(Pin<Box<dyn Future<Output = Result<T, BoxError>> + Send>>),
    Failed(Option<BoxError>),
}

impl<F, T> Future for Started<F, T>
where
    F: Future<Output = Result<T, BoxError>> + Unpin,
{
    type Output = Result<T, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            Started::Called(f) => Pin::new(f).poll(cx),
            Started::Waiting(f) => f.as_mut().poll(cx),
            Started::Failed(e) => Poll::Ready(Err(e
                .take()
                .unwrap_or_else(|| "polled after completion".into()))),
        }
    }
}
