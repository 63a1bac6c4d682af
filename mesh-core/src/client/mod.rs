//! `client`: the outbound mesh as a step-driven state machine, for hosts that send requests with
//! their own HTTP client (the Python `httpx` transport, Node's `fetch` wrapper).
//!
//! [`Client::begin`] routes one request at the sidecar of the client [`Workload`] exactly as
//! [`MeshLayer`](crate::layer::mesh::MeshLayer) does and returns either a local answer (404
//! `NR`, 503 `NC`/`UH`/`UO`, redirects, direct responses, fault aborts) or a [`Call`]: the
//! rewritten request, the endpoint of the first attempt (address from the registry, picked by
//! the cluster's balancer with outlier ejection), the route and per-try timeouts and the fault
//! delay. The host sends the attempt, then reports what happened with [`Call::finish`], which
//! records the outcome with the cluster's outlier detector and applies the retry policy
//! (`retryOn`, attempts, backoff, `maxRetries` or the Envoy retry budget, or a ServiceProfile
//! route's Linkerd budget): [`Next::Done`] (return the response), [`Next::Retry`] (wait, then
//! send again to the endpoint given) or [`Next::Respond`] (a synthesized answer: 504 `UT` after
//! a per-try timeout, 503 `UF`/`UR` after a transport error).
//!
//! Nothing here reads a clock or sleeps: `now` is an argument and delays are returned. Clusters
//! (balancer, outlier detector, circuit breaker, retry budget) are built once per (host,
//! subset, port) and shared by every call of the client. Mirrors are not sent (the host has no
//! fire-and-forget path); CORS is not applied.

mod call;
mod cluster;
mod lookup;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use rand::SeedableRng;
use rand::rngs::StdRng;

pub use self::call::{Call, Next};

use self::call::Retries;
use self::cluster::ClusterState;
use crate::fxhash::FxHashMap;
use crate::layer::mesh::edit;
use crate::layer::mesh::{InvalidCluster, NO_CLUSTER, NO_ROUTE};
use crate::layer::timeout::ResponseFlag;
use crate::model::{Mesh, Workload};
use crate::profile::ProfileRoute;
use crate::resilience::budget::{InvalidBudget, RetryBudget};
use crate::resilience::fault::{FaultInjector, InvalidFault};
use crate::resilience::retry::{InvalidRetry, IstioRetry, ProfileRetry};
use crate::route::action::{Action, RetryPolicy};
use crate::route::{Decision, RouteRequest, VirtualHosts};

/// The outbound side of one client workload: routes, clusters and budgets, shared by every
/// call. `Send + Sync`: share one per workload.
#[derive(Debug)]
pub struct Client {
    mesh: Arc<Mesh>,
    workload: Workload,
    vhosts: VirtualHosts,
    rng: Mutex<StdRng>,
    clusters: Mutex<HashMap<ClusterKey, Arc<ClusterState>>>,
    /// Linkerd budgets, one per ServiceProfile (by its address in the snapshot).
    budgets: Mutex<FxHashMap<usize, Arc<RetryBudget>>>,
}

type ClusterKey = (String, Option<String>, u16);

/// What [`Client::begin`] decided.
#[derive(Debug)]
pub enum Begin {
    /// Answer `response` after waiting `delay` (a fault delay), without sending anything.
    Respond {
        /// Wait this long first.
        delay: Option<Duration>,
        /// The answer.
        response: LocalResponse,
    },
    /// Send the request: see [`Call`].
    Send(Box<Call>),
}

/// An answer the mesh gives itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalResponse {
    /// HTTP status.
    pub status: u16,
    /// Response headers.
    pub headers: Vec<(String, String)>,
    /// Response body.
    pub body: Bytes,
    /// Envoy's response flag (`NR`, `NC`, `UH`, `UO`, `UT`, `UF`, `UR`, `FI`), when one applies.
    pub flag: Option<&'static str>,
}

/// One endpoint of a cluster, as the registry (ServiceEntry, WorkloadEntry) gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// The service FQDN.
    pub host: String,
    /// The DestinationRule subset, if any.
    pub subset: Option<String>,
    /// IP, hostname or unix path.
    pub address: String,
    /// The endpoint port.
    pub port: u16,
}

/// A policy on the request's path that the engines cannot enforce.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidPolicy {
    /// The route's fault.
    #[error("fault policy cannot be enforced: {0}")]
    Fault(#[from] InvalidFault),
    /// The route's retry policy.
    #[error("retry policy cannot be enforced: {0}")]
    Retry(#[from] InvalidRetry),
    /// The destination cluster (load balancer, outlier detection, retry budget).
    #[error("cluster {cluster}: {reason}")]
    Cluster {
        /// `host|subset|port`.
        cluster: String,
        /// What was wrong.
        reason: InvalidCluster,
    },
    /// A ServiceProfile retry budget.
    #[error("ServiceProfile {profile} retry budget: {reason}")]
    Budget {
        /// `ns/name` of the profile.
        profile: String,
        /// What was wrong.
        reason: InvalidBudget,
    },
}

// === impl Client ===

impl Client {
    /// The outbound side of `workload`'s sidecar; `seed` seeds the weighted picks, faults,
    /// backoff jitter and balancer choices.
    pub fn new(mesh: Arc<Mesh>, workload: Workload, seed: u64) -> Self {
        let vhosts = mesh.sidecar_routes(&workload);
        Client {
            mesh,
            workload,
            vhosts,
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            clusters: Mutex::default(),
            budgets: Mutex::default(),
        }
    }

    /// The client workload.
    pub fn workload(&self) -> &Workload {
        &self.workload
    }

    /// Routes `req` (absolute URI or `Host` header; the body stays with the host) and starts
    /// the call. `body_len` is the request body's length when known and replayable (`Some(0)`
    /// without a body); `None` (a stream) is never retried. `now` is when the request starts.
    pub fn begin(
        &self,
        mut req: Request<()>,
        body_len: Option<u64>,
        now: Instant,
    ) -> Result<Begin, InvalidPolicy> {
        let rr = RouteRequest::from_http(&req);
        let (decision, res) = self
            .mesh
            .route_sidecar(&self.vhosts, &self.workload.namespace, &rr);
        let respond = |rsp: Response<Bytes>| {
            Ok(Begin::Respond {
                delay: None,
                response: LocalResponse::from_response(rsp),
            })
        };
        let (entry, forward) = match decision {
            Decision::NotFound { .. } => {
                return respond(edit::flagged(StatusCode::NOT_FOUND, NO_ROUTE));
            }
            Decision::HttpsRedirect { .. } => {
                let pq = req.uri().path_and_query().map_or("/", |p| p.as_str());
                let location = format!("https://{}{pq}", rr.authority);
                return respond(edit::redirect(301, &location));
            }
            Decision::Default => {
                let profile = self.profile_route(&res.service, rr.method, rr.path, now)?;
                let (backend, port) = self.backend(&res.service, rr.port);
                let retries = RetryPolicy::istio_default();
                let plan = Plan {
                    host: &backend,
                    subset: None,
                    port,
                    timeout: None,
                    fault: None,
                    retries: &retries,
                    profile,
                };
                return self.start(req, plan, body_len, now);
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
                    return respond(edit::redirect(r.status, &location));
                }
                Action::DirectResponse(d) => return respond(edit::direct(d)),
                Action::Forward(f) => (entry, f),
            },
        };
        let (_, dest) = forward.destinations.pick(&mut *self.rng());
        let profile = self.profile_route(&dest.host, rr.method, rr.path, now)?;
        let port = dest.port.unwrap_or(rr.port);
        // Istio: rewrite after matching, then route-level and destination-level header ops.
        if let Some(rewrite) = &forward.rewrite {
            edit::apply_rewrite(&mut req, rewrite, entry.match_block());
        }
        edit::apply_headers(req.headers_mut(), &forward.headers.request);
        edit::apply_headers(req.headers_mut(), &dest.headers.request);
        let plan = Plan {
            host: &dest.host,
            subset: dest.subset.as_deref(),
            port,
            timeout: forward.timeout.map(|d| d.to_std()),
            fault: forward.fault.as_ref(),
            retries: &forward.retries,
            profile,
        };
        let mut begun = self.start(req, plan, body_len, now)?;
        if let Begin::Send(call) = &mut begun {
            call.response_headers = [&forward.headers.response, &dest.headers.response]
                .into_iter()
                .filter(|ops| !edit::is_empty(ops))
                .cloned()
                .collect();
        }
        Ok(begun)
    }

    /// Fault, cluster, circuit breaker and first pick for a routed request.
    fn start(
        &self,
        req: Request<()>,
        plan: Plan<'_>,
        body_len: Option<u64>,
        now: Instant,
    ) -> Result<Begin, InvalidPolicy> {
        let fault = plan
            .fault
            .map(FaultInjector::try_new)
            .transpose()?
            .map(|f| f.decide(&mut *self.rng()))
            .unwrap_or_default();
        if let Some(abort) = fault.abort {
            let rsp = crate::layer::fault::abort_response::<Bytes>(abort);
            return Ok(Begin::Respond {
                delay: fault.delay,
                response: LocalResponse::from_response(rsp),
            });
        }
        let Some(cluster) = self.cluster(plan.host, plan.subset, plan.port, now)? else {
            return Ok(Begin::Respond {
                delay: fault.delay,
                response: LocalResponse::from_response(edit::flagged(
                    StatusCode::SERVICE_UNAVAILABLE,
                    NO_CLUSTER,
                )),
            });
        };
        let profile_timeout = plan.profile.as_ref().and_then(|(r, _)| r.timeout);
        let timeout = plan
            .timeout
            .or(profile_timeout.map(|d| d.to_std()))
            .filter(|d| !d.is_zero());
        let retries = match plan.profile {
            Some((route, budget)) if route.retryable => Retries::Profile {
                policy: ProfileRetry::new(route),
                budget,
            },
            _ => Retries::Istio(IstioRetry::try_new(
                plan.retries,
                cluster.is_consistent_hash(),
            )?),
        };
        // The fault delay runs before the router: the call's clock starts after it.
        let start = now + fault.delay.unwrap_or_default();
        let call = Call::start(
            cluster,
            req,
            call::Setup {
                retries,
                timeout,
                delay: fault.delay,
                body_len,
                start,
            },
            &mut self.rng(),
        );
        Ok(match call {
            Ok(call) => Begin::Send(Box::new(call)),
            Err(response) => Begin::Respond {
                delay: fault.delay,
                response,
            },
        })
    }

    fn rng(&self) -> std::sync::MutexGuard<'_, StdRng> {
        lock(&self.rng)
    }
}

/// The routed destination and the route's policies.
struct Plan<'a> {
    host: &'a str,
    subset: Option<&'a str>,
    port: u16,
    timeout: Option<Duration>,
    fault: Option<&'a crate::route::action::FaultPolicy>,
    retries: &'a RetryPolicy,
    profile: Option<(&'a ProfileRoute, Arc<RetryBudget>)>,
}

// === impl LocalResponse ===

impl LocalResponse {
    /// From a response the layers build (their flag extension becomes `flag`).
    fn from_response(rsp: Response<Bytes>) -> Self {
        let flag = rsp.extensions().get::<ResponseFlag>().map(|f| f.0);
        let headers = rsp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into(),
                )
            })
            .collect();
        LocalResponse {
            status: rsp.status().as_u16(),
            headers,
            body: rsp.into_body(),
            flag,
        }
    }

    /// A plain-text answer with `flag`.
    fn text(status: u16, body: &'static str, flag: &'static str) -> Self {
        LocalResponse {
            status,
            headers: vec![("content-type".to_owned(), "text/plain".to_owned())],
            body: Bytes::from_static(body.as_bytes()),
            flag: Some(flag),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests;
