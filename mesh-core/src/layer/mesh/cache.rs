//! What is built once and reused: ServiceProfile budgets, plans per (rule, destination,
//! profile route, port) and clusters per (host, subset, port).

use std::sync::Arc;

use http::StatusCode;

use super::plan::{self, ClusterEntry, ClusterPermits, PlanSpec};
use super::{
    BoxError, EndpointAddr, InvalidCluster, InvalidMesh, MakeEndpoint, NO_CLUSTER, Routed, Shared,
    edit, lock, read, write,
};
use crate::clock::Clock;
use crate::layer::balance::{Balance, BalanceConfig};
use crate::layer::pool::PoolLimit;
use crate::model::destination::LoadBalancer;
use crate::profile::ProfileRoute;
use crate::resilience::budget::RetryBudget;
use crate::resilience::envoy_budget::EnvoyRetryBudget;
use crate::resilience::pool::{CircuitBreaker, UpstreamProtocol};
use crate::route::RouteEntry;
use crate::route::action::{Forward, RetryPolicy, RouteDestination};

// === impl Shared ===

impl<M, C> Shared<M, C>
where
    M: MakeEndpoint,
    C: Clock,
{
    /// The ServiceProfile route of the request on `host`, with its profile's budget.
    pub(super) fn profile_route(
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
                reason: e,
            })?;
        budgets.insert(key, budget.clone());
        Ok(Some((route, budget)))
    }

    pub(super) fn route_plan(
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
        if let Some(plan) = read(&self.plans).get(&key) {
            return Ok(Routed::Forward(plan.clone()));
        }
        let spec = PlanSpec {
            timeout: forward.timeout.map(|d| d.to_std()),
            fault: forward.fault.as_ref(),
            retries: &forward.retries,
            profile,
            mirrors: &forward.mirrors,
            response_headers: [
                Some(&forward.headers.response),
                Some(&dest.headers.response),
            ],
        };
        let routed = self.new_plan(&dest.host, dest.subset.as_deref(), port, spec)?;
        if let Routed::Forward(plan) = &routed {
            write(&self.plans).insert(key, plan.clone());
        }
        Ok(routed)
    }

    pub(super) fn default_plan(
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
        if let Some(plans) = read(&self.default_plans).get(service)
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
            mirrors: &[],
            response_headers: [None, None],
        };
        let routed = self.new_plan(service, None, port, spec)?;
        if let Routed::Forward(plan) = &routed {
            write(&self.default_plans)
                .entry(service.to_owned())
                .or_default()
                .push((route_key, port, plan.clone()));
        }
        Ok(routed)
    }

    pub(super) fn new_plan(
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
        let mut mirror_clusters = Vec::with_capacity(spec.mirrors.len());
        for m in spec.mirrors {
            let found = self.cluster_entry(&m.host, m.subset.as_deref(), m.port.unwrap_or(port))?;
            mirror_clusters.push(found.map(|(c, _)| c.service.clone()));
        }
        let plan = plan::build(
            spec,
            &cluster,
            mirror_clusters,
            &lb,
            &self.rng,
            self.clock.clone(),
        )?;
        Ok(Routed::Forward(Arc::new(plan)))
    }

    /// The cluster of (host, subset, port), built on first use; `None` when the subset is not
    /// defined by any DestinationRule (Envoy: no cluster, 503 `NC`).
    #[allow(clippy::type_complexity)]
    pub(super) fn cluster_entry(
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
        let invalid = |reason: InvalidCluster| InvalidMesh::Cluster {
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
            .map_err(|e| invalid(e.into()))?;
        let breaker = CircuitBreaker::new(&policy.connection_pool);
        let budget = policy
            .retry_budget
            .as_ref()
            .map(EnvoyRetryBudget::try_new)
            .transpose()
            .map_err(|e| invalid(e.into()))?;
        let port_protocol = self
            .mesh
            .service(host)
            .and_then(|s| s.ports.iter().find(|p| p.number == port))
            .and_then(|p| p.protocol.as_deref());
        let protocol = UpstreamProtocol::of(&policy.connection_pool, port_protocol);
        let entry = Arc::new(ClusterEntry {
            service: PoolLimit::with_protocol(balance, breaker.clone(), protocol),
            permits: ClusterPermits::new(breaker, budget),
        });
        clusters.insert(key, entry.clone());
        Ok(Some((entry, policy.load_balancer)))
    }
}
