//! One request through the stack: routing and request edits, fault, mirror, route timeout,
//! then the cached plan's retries over the destination cluster.

use std::future::poll_fn;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body::Body;
use tower_service::Service;

use super::plan::Cluster;
use super::{BoxError, MakeEndpoint, NO_ROUTE, Routed, Shared, edit};
use crate::clock::Clock;
use crate::layer::fault::abort_response;
use crate::layer::pool::PermitBody;
use crate::layer::retry::{PerTryTimeout, ReplayBody};
use crate::layer::timeout::RouteTimeout;
use crate::resilience::envoy_budget::EnvoyRetryBudget;
use crate::resilience::mirror::MirrorPolicy;
use crate::route::action::{Action, HeaderOperations};
use crate::route::{Decision, RouteRequest};

// === impl Shared ===

impl<M, C> Shared<M, C>
where
    M: MakeEndpoint,
    C: Clock,
{
    pub(super) async fn serve<B, RB>(
        &self,
        mut req: Request<B>,
    ) -> Result<Response<PermitBody<RB>>, BoxError>
    where
        M::Service:
            Service<Request<ReplayBody<B>>, Response = Response<RB>> + Clone + Send + 'static,
        <M::Service as Service<Request<ReplayBody<B>>>>::Future: Send,
        <M::Service as Service<Request<ReplayBody<B>>>>::Error: Into<BoxError>,
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
        RB: Default + From<Bytes> + Send + 'static,
    {
        let (plan, response_ops) = match self.route(&mut req)? {
            (Routed::Local(rsp), _) => return Ok(rsp.map(|b| PermitBody::new(RB::from(b)))),
            (Routed::Forward(plan), ops) => (plan, ops),
        };
        // Envoy counts the request as active for the retry budget while it runs.
        let _active = plan.budget.as_ref().map(EnvoyRetryBudget::start_request);
        if let Some(fault) = &plan.fault {
            let decision = self.rng.with(|rng| fault.decide(rng));
            if let Some(delay) = decision.delay {
                tokio::time::sleep(delay).await;
            }
            if let Some(abort) = decision.abort {
                return Ok(abort_response(abort));
            }
        }
        if let Some((policy, clusters)) = &plan.mirrors {
            self.mirror(policy, clusters, &req);
        }
        let mut svc = plan.retry.clone();
        let forward = async move {
            poll_fn(|cx| svc.poll_ready(cx)).await?;
            svc.call(req).await
        };
        let result = match plan.timeout {
            Some(after) => match tokio::time::timeout(after, forward).await {
                Ok(r) => r,
                Err(_) => {
                    return Ok(RouteTimeout { after }
                        .to_response::<RB>()
                        .map(PermitBody::new));
                }
            },
            None => forward.await,
        };
        let mut rsp = match result {
            Ok(rsp) => rsp,
            Err(e) => match e.downcast_ref::<PerTryTimeout>() {
                Some(t) => t.to_response::<RB>().map(PermitBody::new),
                None => return Err(e),
            },
        };
        for ops in response_ops.into_iter().flatten() {
            edit::apply_headers(rsp.headers_mut(), ops);
        }
        Ok(rsp)
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

    /// Routes the request, applies the route's request edits and returns what to do, with the
    /// response header operations (route, then destination).
    #[allow(clippy::type_complexity)]
    pub(super) fn route<B>(
        &self,
        req: &mut Request<B>,
    ) -> Result<(Routed<M::Service, C>, Option<[&HeaderOperations; 2]>), BoxError>
    where
        M::Service: Clone,
    {
        let rr = RouteRequest::from_http(req);
        let (decision, res) = self
            .mesh
            .route_sidecar(&self.vhosts, &self.workload.namespace, &rr);
        let (entry, forward) = match decision {
            Decision::NotFound { .. } => {
                let rsp = edit::flagged(StatusCode::NOT_FOUND, NO_ROUTE);
                return Ok((Routed::Local(rsp), None));
            }
            Decision::HttpsRedirect { .. } => {
                let location = format!(
                    "https://{}{}",
                    rr.authority,
                    req.uri().path_and_query().map_or("/", |p| p.as_str())
                );
                return Ok((Routed::Local(edit::redirect(301, &location)), None));
            }
            Decision::Default => {
                let profile = self.profile_route(&res.service, rr.method, rr.path)?;
                let (backend, port) = self.backend(&res.service, rr.port);
                let plan = self.default_plan(backend, port, profile)?;
                return Ok((plan, None));
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
                    return Ok((Routed::Local(edit::redirect(r.status, &location)), None));
                }
                Action::DirectResponse(d) => return Ok((Routed::Local(edit::direct(d)), None)),
                Action::Forward(f) => (entry, f),
            },
        };
        let (index, dest) = self.rng.with(|rng| forward.destinations.pick(rng));
        let profile = self.profile_route(&dest.host, rr.method, rr.path)?;
        let port = dest.port.unwrap_or(rr.port);
        let routed = self.route_plan(entry, index, forward, dest, port, profile)?;
        // Istio: rewrite after matching, then route-level and destination-level header ops.
        if let Some(rewrite) = &forward.rewrite {
            edit::apply_rewrite(req, rewrite, entry.match_block());
        }
        edit::apply_headers(req.headers_mut(), &forward.headers.request);
        edit::apply_headers(req.headers_mut(), &dest.headers.request);
        let response_ops = (!edit::is_empty(&forward.headers.response)
            || !edit::is_empty(&dest.headers.response))
        .then_some([&forward.headers.response, &dest.headers.response]);
        Ok((routed, response_ops))
    }
}
