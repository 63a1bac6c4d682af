//! `MeshLayer`: the whole client-side mesh in process (proxyless), as one tower service over a
//! user's endpoint connector.
//!
//! Each request is routed at the sidecar of the client [`Workload`] (spec §1): no route on a
//! VirtualService host answers `404` (`NR`); redirects and direct responses are answered here;
//! otherwise a weighted destination is picked (seeded RNG) and the route's policies run in
//! Envoy's order: fault (delay, then abort; aborts never reach the router) → mirror → route
//! timeout (504 `UT`, covering every attempt and backoff) → retries (Istio attempts with
//! per-try timeout and `maxRetries` or the DestinationRule's Envoy retry budget; a
//! ServiceProfile route marked `isRetryable` retries within the profile's Linkerd budget
//! instead) → the destination cluster: circuit breakers (503 `UO`) → load balancing with
//! outlier detection (503 `UH`) over the endpoints of (host, subset, port). Rewrites and header operations (route, then destination)
//! are applied to the forwarded request and response. A host no VirtualService claims goes to
//! its own endpoints with its DestinationRule policy and Istio's default retries, or, with a
//! ServiceProfile `dstOverrides` or an SMI TrafficSplit, to a weighted backend's endpoints.
//!
//! Clusters are built once per (host, subset, port) and plans once per (route rule,
//! destination, ServiceProfile route), so the outlier detector, circuit breakers and balancer
//! state are shared by every request. Endpoint services come from the [`MakeEndpoint`]
//! connector, one per endpoint address; they receive the request body wrapped in a
//! [`ReplayBody`] (replayed on retries). `poll_ready` reserves nothing: the cluster is only
//! known once the request is routed, so readiness is awaited inside the response future.
//!
//! Mirrors (after the fault, before the timeout) copy only requests whose body is known to be
//! empty; others are forwarded without a copy (use [`crate::layer::mirror`] with a body that
//! can be rebuilt from bytes). CORS is not applied. Endpoints come only from the snapshot's
//! registry (ServiceEntry, WorkloadEntry): a host without endpoints there answers 503 `UH`;
//! there is no `ALLOW_ANY` passthrough to hosts outside the mesh.
//!
//! [`MeshLayer::try_gateway`] builds the same service for one server port of an ingress
//! Gateway instead (spec §1.9): requests are routed with the VirtualServices bound to that
//! Gateway (hosts intersected with the server's hosts, VirtualServices for one host merged, no
//! bound host answering `404` `NR`), seen from the Gateway's namespace. The listener port
//! (`port` matches) is the server port, and a destination without a port goes to its service's
//! only port (Istio; with several ports the server port is used). Everything after routing is
//! the sidecar's stack.

mod cache;
mod check;
pub(crate) mod edit;
mod plan;
mod serve;

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use tower_layer::Layer;
use tower_service::Service;

pub use self::edit::{NO_CLUSTER, NO_ROUTE};
pub use self::plan::{Cluster, ClusterPermits, MeshRetries, RetryPermit};

use self::plan::{ClusterEntry, Plan};
use crate::clock::{Clock, TokioClock};
use crate::fxhash::FxHashMap;
use crate::layer::balance::InvalidBalance;
use crate::layer::pool::PermitBody;
use crate::layer::retry::{ReplayBody, SharedRng};
use crate::model::{Mesh, Workload};
use crate::resilience::budget::{InvalidBudget, RetryBudget};
use crate::resilience::envoy_budget::InvalidEnvoyBudget;
use crate::resilience::fault::InvalidFault;
use crate::resilience::mirror::InvalidMirror;
use crate::resilience::retry::InvalidRetry;
use crate::route::VirtualHosts;

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

/// A policy in the snapshot that the layer cannot enforce. [`MeshLayer::try_new`] checks every
/// route of the client's sidecar and the clusters they name; a policy reached otherwise (a
/// host's default route) is checked when first used, and the request fails with this error.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidMesh {
    /// A fault the injector rejects.
    #[error("fault policy cannot be enforced: {0}")]
    Fault(#[from] InvalidFault),
    /// A retry policy the retry engine rejects.
    #[error("retry policy cannot be enforced: {0}")]
    Retry(#[from] InvalidRetry),
    /// A mirror the mirror engine rejects.
    #[error("mirror cannot be enforced: {0}")]
    Mirror(#[from] InvalidMirror),
    /// A cluster whose load balancer, outlier detection or retry budget cannot be enforced.
    #[error("cluster {cluster}: {reason}")]
    Cluster {
        /// `host|subset|port`.
        cluster: String,
        /// What was wrong.
        reason: InvalidCluster,
    },
    /// [`MeshLayer::try_gateway`] names a Gateway, or a server port, the snapshot does not
    /// have.
    #[error("gateway {gateway:?} has no server on port {port}")]
    UnknownGateway {
        /// `ns/name` as given.
        gateway: String,
        /// The server port.
        port: u16,
    },
    /// A ServiceProfile retry budget the budget engine rejects.
    #[error("ServiceProfile {profile} retry budget: {reason}")]
    Budget {
        /// `ns/name` of the profile.
        profile: String,
        /// What was wrong.
        reason: InvalidBudget,
    },
}

/// Why a destination cluster cannot be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidCluster {
    /// The load balancer or outlier detection.
    #[error(transparent)]
    Balance(#[from] InvalidBalance),
    /// The DestinationRule's Envoy retry budget.
    #[error(transparent)]
    RetryBudget(#[from] InvalidEnvoyBudget),
}

/// Builds [`MeshService`]s over endpoint connectors.
#[derive(Clone, Debug)]
pub struct MeshLayer<C = TokioClock> {
    mesh: Arc<Mesh>,
    workload: Workload,
    scope: Scope,
    vhosts: Arc<VirtualHosts>,
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
    scope: Scope,
    vhosts: Arc<VirtualHosts>,
    connect: M,
    rng: SharedRng,
    clock: C,
    clusters: Mutex<ClusterMap<M::Service, C>>,
    /// Plans of matched routes, by (rule address, destination index, profile route, port).
    plans: RwLock<PlanMap<M::Service, C>>,
    /// Plans of the default route, by service and (profile route, port).
    default_plans: RwLock<DefaultPlans<M::Service, C>>,
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

/// Where the routes come from: the client's sidecar, or a Gateway server port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scope {
    /// VirtualServices bound to `mesh`, visible from the workload's namespace (spec §1.2).
    Sidecar,
    /// VirtualServices bound to a Gateway, merged per host (spec §1.9), on this server port:
    /// the port `port` matches see, whatever the request's authority says.
    Gateway {
        /// The Gateway server port.
        port: u16,
    },
}

/// What routing decided for one request.
enum Routed<S, C> {
    Local(Response<Bytes>),
    Forward(Arc<Plan<S, C>>),
}

// === impl EndpointAddr ===

impl fmt::Display for EndpointAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // IPv6 literals are bracketed; hostnames, IPv4 and unix paths are written as given.
        if self.address.parse::<std::net::Ipv6Addr>().is_ok() {
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
    /// RNG (use [`MeshLayer::with_seed`] for reproducible picks). Fails when a route of the
    /// workload, or a cluster it names, carries a policy the engines cannot enforce.
    pub fn try_new(mesh: Arc<Mesh>, workload: Workload) -> Result<Self, InvalidMesh> {
        let vhosts = mesh.sidecar_routes(&workload);
        check::routes(&mesh, &vhosts, &workload.namespace, TokioClock.now())?;
        Ok(MeshLayer {
            mesh,
            workload,
            scope: Scope::Sidecar,
            vhosts: Arc::new(vhosts),
            rng: SharedRng::from_entropy(),
            clock: TokioClock,
        })
    }

    /// The mesh seen from server port `port` of Gateway `gateway` (`ns/name`): routes are the
    /// VirtualServices bound to that Gateway (the route table `explain --gateway` uses), and
    /// DestinationRules, ServiceProfiles and splits are looked up from the Gateway's namespace.
    /// Fails when the Gateway has no server on `port`, or when a route or a cluster it names
    /// carries a policy the engines cannot enforce.
    pub fn try_gateway(mesh: Arc<Mesh>, gateway: &str, port: u16) -> Result<Self, InvalidMesh> {
        let unknown = || InvalidMesh::UnknownGateway {
            gateway: gateway.to_owned(),
            port,
        };
        let entry = mesh
            .gateways()
            .iter()
            .find(|g| g.name == gateway)
            .ok_or_else(unknown)?;
        let vhosts = mesh.gateway_routes(gateway, port).ok_or_else(unknown)?;
        // The gateway's deployment: its namespace and the labels its selector names.
        let workload = Workload {
            namespace: entry.namespace.clone(),
            name: gateway
                .split_once('/')
                .map_or(gateway, |(_, n)| n)
                .to_owned(),
            labels: entry.spec.selector.clone(),
        };
        check::routes(&mesh, &vhosts, &workload.namespace, TokioClock.now())?;
        Ok(MeshLayer {
            mesh,
            workload,
            scope: Scope::Gateway { port },
            vhosts: Arc::new(vhosts),
            rng: SharedRng::from_entropy(),
            clock: TokioClock,
        })
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
            scope: self.scope,
            vhosts: self.vhosts,
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
                vhosts: self.vhosts.clone(),
                mesh: self.mesh.clone(),
                workload: self.workload.clone(),
                scope: self.scope,
                connect,
                rng: self.rng.clone(),
                clock: self.clock.clone(),
                clusters: Mutex::default(),
                plans: RwLock::default(),
                default_plans: RwLock::default(),
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
        self.shared.start(req)
    }
}

impl<B> ResponseFuture<B> {
    fn new(inner: BoxFuture<Result<Response<PermitBody<B>>, BoxError>>) -> Self {
        ResponseFuture { inner }
    }
}

impl<B> Future for ResponseFuture<B> {
    type Output = Result<Response<PermitBody<B>>, BoxError>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().inner.poll(cx)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

// Plans are read by every request and written once each: readers do not serialize.
fn read<T>(m: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(m: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests;
