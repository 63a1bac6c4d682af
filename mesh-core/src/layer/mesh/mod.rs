//! `MeshLayer`: the whole client-side mesh in process (proxyless), as one tower service over a
//! user's endpoint connector.
//!
//! Each request is routed at the sidecar of the client [`Workload`] (spec §1): no route on a
//! VirtualService host answers `404` (`NR`); redirects and direct responses are answered here;
//! otherwise a weighted destination is picked (seeded RNG) and the route's policies run in
//! Envoy's order: fault (delay, then abort; aborts never reach the router) → route timeout
//! (504 `UT`, covering every attempt and backoff) → retries (Istio attempts with per-try timeout
//! and `maxRetries` or the DestinationRule's Envoy retry budget; a ServiceProfile route marked
//! `isRetryable` retries within the profile's Linkerd budget instead) → the destination cluster:
//! circuit breakers (503 `UO`) → load balancing with outlier detection (503 `UH`) over the
//! endpoints of (host, subset, port). Rewrites and header operations (route, then destination)
//! are applied to the forwarded request and response. A host no VirtualService claims goes to
//! its own endpoints with its DestinationRule policy and Istio's default retries.
//!
//! Clusters are built once per (host, subset, port) and plans once per (route rule,
//! destination, ServiceProfile route), so the outlier detector, circuit breakers and balancer
//! state are shared by every request. Endpoint services come from the [`MakeEndpoint`]
//! connector, one per endpoint address; they receive the request body wrapped in a
//! [`ReplayBody`] (replayed on retries). `poll_ready` reserves nothing: the cluster is only
//! known once the request is routed, so readiness is awaited inside the response future.
//!
//! Not yet applied: `mirror` (see [`crate::layer::mirror`]), SMI TrafficSplit and
//! ServiceProfile `dstOverrides` on the default route, CORS.

mod edit;
mod plan;

use std::collections::HashMap;
use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body::Body;
use tower_layer::Layer;
use tower_service::Service;

pub use self::edit::{NO_CLUSTER, NO_ROUTE};
pub use self::plan::{Cluster, ClusterPermits, MeshRetries, RetryPermit};

use self::plan::{ClusterEntry, Plan, PlanSpec};
use crate::clock::{Clock, TokioClock};
use crate::fxhash::FxHashMap;
use crate::layer::balance::{Balance, BalanceConfig};
use crate::layer::fault::abort_response;
use crate::layer::pool::{PermitBody, PoolLimit};
use crate::layer::retry::{PerTryTimeout, ReplayBody, SharedRng};
use crate::layer::timeout::RouteTimeout;
use crate::model::destination::LoadBalancer;
use crate::model::{Mesh, Workload};
use crate::profile::ProfileRoute;
use crate::resilience::budget::RetryBudget;
use crate::resilience::envoy_budget::EnvoyRetryBudget;
use crate::resilience::pool::CircuitBreaker;
use crate::route::action::{Action, Forward, RetryPolicy, RouteDestination};
use crate::route::{Decision, RouteEntry, RouteRequest, VirtualHosts};

/// Errors crossing tower layers.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The address of one endpoint: IP, hostname or unix path, and the endpoint port.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EndpointAddr {
    /// IP, hostname or unix path, as the ServiceEntry or WorkloadEntry gives it.
    pub address: String,
    /// The endpoint port (the service port mapped through the endpoint's port names).
    pub port: u16,
}

/// Turns an endpoint address into the service that sends requests to it (a connection, a
/// pooled client bound to the address, an in-memory service in tests).
pub trait MakeEndpoint {
    /// The endpoint service.
    type Service;
    /// The service for `addr`; called once per endpoint of each cluster.
    fn make_endpoint(&self, addr: &EndpointAddr) -> Self::Service;
}

/// A policy in the snapshot that the layer cannot enforce, found when its route is first used
/// (the request fails with this error; origin local, never retried).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidMesh {
    /// A fault the injector rejects.
    #[error("fault policy cannot be enforced: {0}")]
    Fault(String),
    /// A retry policy the retry engine rejects.
    #[error("retry policy cannot be enforced: {0}")]
    Retry(String),
    /// A cluster whose load balancer, outlier detection or retry budget cannot be enforced.
    #[error("cluster {cluster}: {reason}")]
    Cluster {
        /// `host|subset|port`.
        cluster: String,
        /// What was wrong.
        reason: String,
    },
    /// A ServiceProfile retry budget the budget engine rejects.
    #[error("ServiceProfile {profile} retry budget: {reason}")]
    Budget {
        /// `ns/name` of the profile.
        profile: String,
        /// What was wrong.
        reason: String,
    },
}

/// Builds [`MeshService`]s over endpoint connectors.
#[derive(Clone, Debug)]
pub struct MeshLayer<C = TokioClock> {
    mesh: Arc<Mesh>,
    workload: Workload,
    rng: SharedRng,
    clock: C,
}

/// The mesh as a service: routes, applies policies and forwards to endpoint services.
pub struct MeshService<M: MakeEndpoint, C = TokioClock> {
    shared: Arc<Shared<M, C>>,
}

type PlanKey = (usize, usize, usize, u16);
type ClusterKey = (String, Option<String>, u16);
type ClusterMap<S, C> = HashMap<ClusterKey, Arc<ClusterEntry<S, C>>>;
type PlanMap<S, C> = FxHashMap<PlanKey, Arc<Plan<S, C>>>;
type DefaultPlans<S, C> = FxHashMap<String, Vec<(usize, u16, Arc<Plan<S, C>>)>>;

struct Shared<M: MakeEndpoint, C> {
    mesh: Arc<Mesh>,
    workload: Workload,
    vhosts: VirtualHosts,
    connect: M,
    rng: SharedRng,
    clock: C,
    clusters: Mutex<ClusterMap<M::Service, C>>,
    /// Plans of matched routes, by (rule address, destination index, profile route, port).
    plans: Mutex<PlanMap<M::Service, C>>,
    /// Plans of the default route, by service and (profile route, port).
    default_plans: Mutex<DefaultPlans<M::Service, C>>,
    /// Linkerd budgets, one per ServiceProfile (shared by its routes).
    budgets: Mutex<FxHashMap<usize, Arc<RetryBudget>>>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

pin_project_lite::pin_project! {
    /// The response future of [`MeshService`] (one allocation per request).
    pub struct ResponseFuture<B> {
        #[pin]
        inner: BoxFuture<Result<Response<PermitBody<B>>, BoxError>>,
    }
}

/// What routing decided for one request.
enum Routed<S, C> {
    Local(Response<Bytes>),
    Forward(Arc<Plan<S, C>>),
}

// === impl EndpointAddr ===

impl fmt::Display for EndpointAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.address.contains(':') && !self.address.starts_with('[') {
            write!(f, "[{}]:{}", self.address, self.port)
        } else {
            write!(f, "{}:{}", self.address, self.port)
        }
    }
}

impl<F, S> MakeEndpoint for F
where
    F: Fn(&EndpointAddr) -> S,
{
    type Service = S;
    fn make_endpoint(&self, addr: &EndpointAddr) -> S {
        self(addr)
    }
}

// === impl MeshLayer ===

impl MeshLayer {
    /// The mesh seen from the sidecar of `workload`, with tokio's clock and an entropy-seeded
    /// RNG (use [`MeshLayer::with_seed`] for reproducible picks).
    pub fn new(mesh: Arc<Mesh>, workload: Workload) -> Self {
        MeshLayer {
            mesh,
            workload,
            rng: SharedRng::from_entropy(),
            clock: TokioClock,
        }
    }
}

impl<C> MeshLayer<C> {
    /// Weighted picks, faults, backoff jitter and balancer choices drawn from a seeded RNG.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.rng = SharedRng::seed_from_u64(seed);
        self
    }

    /// The clock the outlier detector and budgets read.
    pub fn with_clock<C2>(self, clock: C2) -> MeshLayer<C2> {
        MeshLayer {
            mesh: self.mesh,
            workload: self.workload,
            rng: self.rng,
            clock,
        }
    }
}

impl<M: MakeEndpoint, C: Clone> Layer<M> for MeshLayer<C> {
    type Service = MeshService<M, C>;

    fn layer(&self, connect: M) -> MeshService<M, C> {
        MeshService {
            shared: Arc::new(Shared {
                vhosts: self.mesh.sidecar_routes(&self.workload),
                mesh: self.mesh.clone(),
                workload: self.workload.clone(),
                connect,
                rng: self.rng.clone(),
                clock: self.clock.clone(),
                clusters: Mutex::default(),
                plans: Mutex::default(),
                default_plans: Mutex::default(),
                budgets: Mutex::default(),
            }),
        }
    }
}

// === impl MeshService ===

impl<M: MakeEndpoint, C> MeshService<M, C> {
    /// The cluster of (host, subset, port), if a request has used it (for inspection: outlier
    /// state, circuit-breaker counters).
    pub fn cluster(
        &self,
        host: &str,
        subset: Option<&str>,
        port: u16,
    ) -> Option<Cluster<M::Service, C>>
    where
        M::Service: Clone,
        C: Clone,
    {
        let key = (host.to_owned(), subset.map(str::to_owned), port);
        lock(&self.shared.clusters)
            .get(&key)
            .map(|c| c.service.clone())
    }
}

impl<M: MakeEndpoint, C> Clone for MeshService<M, C> {
    fn clone(&self) -> Self {
        MeshService {
            shared: self.shared.clone(),
        }
    }
}

impl<M: MakeEndpoint, C> fmt::Debug for MeshService<M, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MeshService")
            .field("workload", &self.shared.workload)
            .finish_non_exhaustive()
    }
}

impl<M, C, B, RB> Service<Request<B>> for MeshService<M, C>
where
    M: MakeEndpoint + Send + Sync + 'static,
    M::Service: Service<Request<ReplayBody<B>>, Response = Response<RB>> + Clone + Send + 'static,
    <M::Service as Service<Request<ReplayBody<B>>>>::Future: Send,
    <M::Service as Service<Request<ReplayBody<B>>>>::Error: Into<BoxError>,
    C: Clock,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
    RB: Default + From<Bytes> + Send + 'static,
{
    type Response = Response<PermitBody<RB>>;
    type Error = BoxError;
    type Future = ResponseFuture<RB>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let shared = self.shared.clone();
        ResponseFuture {
            inner: Box::pin(async move { shared.serve(req).await }),
        }
    }
}

impl<B> Future for ResponseFuture<B> {
    type Output = Result<Response<PermitBody<B>>, BoxError>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().inner.poll(cx)
    }
}

// === impl Shared ===

impl<M, C> Shared<M, C>
where
    M: MakeEndpoint,
    C: Clock,
{
    async fn serve<B, RB>(&self, mut req: Request<B>) -> Result<Response<PermitBody<RB>>, BoxError>
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

    /// Routes the request, applies the route's request edits and returns what to do, with the
    /// response header operations (route, then destination).
    #[allow(clippy::type_complexity)]
    fn route<B>(
        &self,
        req: &mut Request<B>,
    ) -> Result<
        (
            Routed<M::Service, C>,
            Option<[&crate::route::action::HeaderOperations; 2]>,
        ),
        BoxError,
    >
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
                let plan = self.default_plan(&res.service, rr.port, profile)?;
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

    /// The ServiceProfile route of the request on `host`, with its profile's budget.
    fn profile_route(
        &self,
        host: &str,
        method: &str,
        path: &str,
    ) -> Result<Option<(&ProfileRoute, Arc<RetryBudget>)>, InvalidMesh> {
        let Some(profile) = self.mesh.profile(host, &self.workload.namespace) else {
            return Ok(None);
        };
        let Some(route) = profile.route(method, path) else {
            return Ok(None);
        };
        let key = std::ptr::from_ref(profile) as usize;
        let mut budgets = lock(&self.budgets);
        if let Some(b) = budgets.get(&key) {
            return Ok(Some((route, b.clone())));
        }
        let budget = RetryBudget::try_new(&profile.retry_budget, self.clock.now())
            .map(Arc::new)
            .map_err(|e| InvalidMesh::Budget {
                profile: format!("{}/{}", profile.namespace, profile.name),
                reason: e.to_string(),
            })?;
        budgets.insert(key, budget.clone());
        Ok(Some((route, budget)))
    }

    fn route_plan(
        &self,
        entry: &RouteEntry,
        index: usize,
        forward: &Forward,
        dest: &RouteDestination,
        port: u16,
        profile: Option<(&ProfileRoute, Arc<RetryBudget>)>,
    ) -> Result<Routed<M::Service, C>, BoxError>
    where
        M::Service: Clone,
    {
        let route_key = profile
            .as_ref()
            .map_or(0, |(r, _)| std::ptr::from_ref(*r) as usize);
        let key = (Arc::as_ptr(&entry.rule) as usize, index, route_key, port);
        if let Some(plan) = lock(&self.plans).get(&key) {
            return Ok(Routed::Forward(plan.clone()));
        }
        let spec = PlanSpec {
            timeout: forward.timeout.map(|d| d.to_std()),
            fault: forward.fault.as_ref(),
            retries: &forward.retries,
            profile,
        };
        let routed = self.new_plan(&dest.host, dest.subset.as_deref(), port, spec)?;
        if let Routed::Forward(plan) = &routed {
            lock(&self.plans).insert(key, plan.clone());
        }
        Ok(routed)
    }

    fn default_plan(
        &self,
        service: &str,
        port: u16,
        profile: Option<(&ProfileRoute, Arc<RetryBudget>)>,
    ) -> Result<Routed<M::Service, C>, BoxError>
    where
        M::Service: Clone,
    {
        let route_key = profile
            .as_ref()
            .map_or(0, |(r, _)| std::ptr::from_ref(*r) as usize);
        if let Some(plans) = lock(&self.default_plans).get(service)
            && let Some((_, _, plan)) = plans.iter().find(|(r, p, _)| *r == route_key && *p == port)
        {
            return Ok(Routed::Forward(plan.clone()));
        }
        let retries = RetryPolicy::istio_default();
        let spec = PlanSpec {
            timeout: None,
            fault: None,
            retries: &retries,
            profile,
        };
        let routed = self.new_plan(service, None, port, spec)?;
        if let Routed::Forward(plan) = &routed {
            lock(&self.default_plans)
                .entry(service.to_owned())
                .or_default()
                .push((route_key, port, plan.clone()));
        }
        Ok(routed)
    }

    fn new_plan(
        &self,
        host: &str,
        subset: Option<&str>,
        port: u16,
        spec: PlanSpec<'_>,
    ) -> Result<Routed<M::Service, C>, BoxError>
    where
        M::Service: Clone,
    {
        let Some((cluster, lb)) = self.cluster_entry(host, subset, port)? else {
            let rsp = edit::flagged(StatusCode::SERVICE_UNAVAILABLE, NO_CLUSTER);
            return Ok(Routed::Local(rsp));
        };
        let plan = plan::build(spec, &cluster, &lb, &self.rng, self.clock.clone())?;
        Ok(Routed::Forward(Arc::new(plan)))
    }

    /// The cluster of (host, subset, port), built on first use; `None` when the subset is not
    /// defined by any DestinationRule (Envoy: no cluster, 503 `NC`).
    #[allow(clippy::type_complexity)]
    fn cluster_entry(
        &self,
        host: &str,
        subset: Option<&str>,
        port: u16,
    ) -> Result<Option<(Arc<ClusterEntry<M::Service, C>>, LoadBalancer)>, InvalidMesh> {
        let policy =
            self.mesh
                .destination_policy(host, &self.workload.namespace, subset, Some(port));
        let labels = match &policy.subset {
            Some(s) => match &s.labels {
                Some(l) => l.clone(),
                None => return Ok(None),
            },
            None => Default::default(),
        };
        let key = (host.to_owned(), subset.map(str::to_owned), port);
        let mut clusters = lock(&self.clusters);
        if let Some(c) = clusters.get(&key) {
            return Ok(Some((c.clone(), policy.load_balancer)));
        }
        let invalid = |reason: String| InvalidMesh::Cluster {
            cluster: format!("{host}|{}|{port}", subset.unwrap_or("")),
            reason,
        };
        let endpoints = match self.mesh.service(host) {
            Some(svc) => svc
                .endpoints_for(&labels)
                .map(|e| {
                    let addr = EndpointAddr {
                        address: e.address.clone(),
                        port: svc.endpoint_port(e, port),
                    };
                    let service = self.connect.make_endpoint(&addr);
                    (addr, e.weight, service)
                })
                .collect(),
            None => Vec::new(),
        };
        let config = BalanceConfig::from_policy(&policy);
        let balance = self
            .rng
            .with(|rng| Balance::with_clock(endpoints, &config, rng, self.clock.clone()))
            .map_err(|e| invalid(e.to_string()))?;
        let breaker = CircuitBreaker::new(&policy.connection_pool);
        let budget = policy
            .retry_budget
            .as_ref()
            .map(EnvoyRetryBudget::try_new)
            .transpose()
            .map_err(|e| invalid(e.to_string()))?;
        let entry = Arc::new(ClusterEntry {
            service: PoolLimit::new(balance, breaker.clone()),
            permits: ClusterPermits::new(breaker, budget),
        });
        clusters.insert(key, entry.clone());
        Ok(Some((entry, policy.load_balancer)))
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests;
