//! What the mesh service builds once and reuses: one cluster per (host, subset, port) and one
//! plan per (route rule, destination, ServiceProfile route).

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;

use super::{EndpointAddr, InvalidMesh};
use crate::layer::balance::Balance;
use crate::layer::pool::PoolLimit;
use crate::layer::retry::{
    Attempt, IstioRetries, Next, ProfileRetries, Retries, Retry, RetryLayer, SharedRng,
};
use crate::model::destination::LoadBalancer;
use crate::profile::ProfileRoute;
use crate::resilience::budget::RetryBudget;
use crate::resilience::envoy_budget::{ActiveRetry, EnvoyRetryBudget};
use crate::resilience::fault::FaultInjector;
use crate::resilience::mirror::{DEFAULT_MAX_BODY, HostRule, MirrorPolicy};
use crate::resilience::pool::{CircuitBreaker, Permit};
use crate::resilience::retry::{IstioRetry, ProfileRetry, RetryPermits, RetryState};
use crate::route::action::{FaultPolicy, HeaderOperations, Mirror, RetryPolicy};

/// One destination cluster: circuit breakers in front of the balancer over its endpoints.
pub type Cluster<S, C> = PoolLimit<Balance<EndpointAddr, S, C>>;

/// A cached cluster and the retry slots its DestinationRule grants.
pub(super) struct ClusterEntry<S, C> {
    pub(super) service: Cluster<S, C>,
    pub(super) permits: ClusterPermits,
}

/// Retry slots of a cluster: Envoy's retry budget when the DestinationRule sets one (it replaces
/// `maxRetries`), else the circuit breaker's `maxRetries`.
#[derive(Clone, Debug)]
pub struct ClusterPermits {
    breaker: CircuitBreaker,
    budget: Option<EnvoyRetryBudget>,
}

/// A retry slot held while a retry runs.
#[derive(Debug)]
pub enum RetryPermit {
    /// A `maxRetries` slot.
    Breaker(Permit),
    /// A retry-budget slot.
    Budget(ActiveRetry),
    /// ServiceProfile retries hold nothing (the budget is spent on withdrawal).
    Profile,
}

/// The retry policy of one plan: Istio's attempt counting or a ServiceProfile route's budget.
#[derive(Debug)]
pub enum MeshRetries {
    /// VirtualService retries (or Istio's default).
    Istio(IstioRetries<ClusterPermits>),
    /// Linkerd retries of an `isRetryable` route, within the profile's budget.
    Profile(ProfileRetries),
}

/// A route's mirrors and, in the same order, their clusters.
pub(super) type Mirrors<S, C> = (MirrorPolicy, Vec<Option<Cluster<S, C>>>);

/// Everything a forwarded request needs, built once per (rule, destination, profile route).
pub(super) struct Plan<S, C> {
    pub(super) timeout: Option<Duration>,
    pub(super) fault: Option<FaultInjector>,
    pub(super) retry: Retry<Cluster<S, C>, MeshRetries, C>,
    /// Envoy counts active requests for the retry budget.
    pub(super) budget: Option<EnvoyRetryBudget>,
    /// The route's mirrors and, in the same order, their clusters (`None`: an undefined
    /// subset, never mirrored to).
    pub(super) mirrors: Option<Mirrors<S, C>>,
    /// Response header operations: the route's, then the destination's (only non-empty ones).
    pub(super) response_headers: Vec<HeaderOperations>,
}

// === impl ClusterPermits ===

impl ClusterPermits {
    pub(super) fn new(breaker: CircuitBreaker, budget: Option<EnvoyRetryBudget>) -> Self {
        ClusterPermits { breaker, budget }
    }
}

impl RetryPermits for ClusterPermits {
    type Permit = RetryPermit;
    fn try_acquire_retry(&self) -> Option<RetryPermit> {
        match &self.budget {
            Some(b) => b.try_retry().map(RetryPermit::Budget),
            None => self
                .breaker
                .try_acquire_retry()
                .ok()
                .map(RetryPermit::Breaker),
        }
    }
}

// === impl MeshRetries ===

impl Retries for MeshRetries {
    type Permit = RetryPermit;

    fn retries_enabled(&self) -> bool {
        match self {
            MeshRetries::Istio(r) => r.retries_enabled(),
            MeshRetries::Profile(r) => r.retries_enabled(),
        }
    }

    fn per_try_timeout(&self) -> Option<Duration> {
        match self {
            MeshRetries::Istio(r) => r.per_try_timeout(),
            MeshRetries::Profile(r) => r.per_try_timeout(),
        }
    }

    fn decide(
        &self,
        attempt: &Attempt,
        state: &mut RetryState<()>,
        rng: &mut StdRng,
        now: Instant,
    ) -> Next<RetryPermit> {
        match self {
            MeshRetries::Istio(r) => r.decide(attempt, state, rng, now),
            MeshRetries::Profile(r) => match r.decide(attempt, state, rng, now) {
                Next::Retry { backoff, .. } => Next::Retry {
                    backoff,
                    permit: RetryPermit::Profile,
                },
                Next::Return => Next::Return,
                Next::Exhausted => Next::Exhausted,
            },
        }
    }
}

// === plan building ===

/// The inputs of a plan, borrowed from the snapshot.
pub(super) struct PlanSpec<'a> {
    pub(super) timeout: Option<Duration>,
    pub(super) fault: Option<&'a FaultPolicy>,
    pub(super) retries: &'a RetryPolicy,
    /// The ServiceProfile route and its profile's shared budget, when the host has one.
    pub(super) profile: Option<(&'a ProfileRoute, Arc<RetryBudget>)>,
    /// The route's mirrors.
    pub(super) mirrors: &'a [Mirror],
    /// Response header operations, route then destination.
    pub(super) response_headers: [Option<&'a HeaderOperations>; 2],
}

/// Builds a plan over a cached cluster. Istio: a VirtualService timeout wins; a ServiceProfile
/// route's timeout applies when the VirtualService sets none. A retryable profile route retries
/// within the profile's budget instead of the VirtualService's attempts.
pub(super) fn build<S, C>(
    spec: PlanSpec<'_>,
    cluster: &ClusterEntry<S, C>,
    mirror_clusters: Vec<Option<Cluster<S, C>>>,
    load_balancer: &LoadBalancer,
    rng: &SharedRng,
    clock: C,
) -> Result<Plan<S, C>, InvalidMesh>
where
    S: Clone,
    C: Clone,
{
    let fault = spec
        .fault
        .map(FaultInjector::try_new)
        .transpose()
        .map_err(InvalidMesh::Fault)?;
    let profile_timeout = spec.profile.as_ref().and_then(|(r, _)| r.timeout);
    let timeout = spec
        .timeout
        .or(profile_timeout.map(|d| d.to_std()))
        .filter(|d| !d.is_zero());
    let retries = match spec.profile {
        Some((route, budget)) if route.retryable => MeshRetries::Profile(ProfileRetries {
            policy: ProfileRetry::new(route),
            budget,
        }),
        _ => {
            let consistent = matches!(load_balancer, LoadBalancer::ConsistentHash(_));
            let policy =
                IstioRetry::try_new(spec.retries, consistent).map_err(InvalidMesh::Retry)?;
            MeshRetries::Istio(IstioRetries {
                policy,
                permits: cluster.permits.clone(),
            })
        }
    };
    let budget = cluster.permits.budget.clone();
    let mirrors = if spec.mirrors.is_empty() {
        None
    } else {
        let policy = MirrorPolicy::try_new(spec.mirrors, HostRule::Unchanged, DEFAULT_MAX_BODY)
            .map_err(InvalidMesh::Mirror)?;
        Some((policy, mirror_clusters))
    };
    let layer = RetryLayer::with_rng(retries, rng.clone()).with_clock(clock);
    Ok(Plan {
        timeout,
        fault,
        retry: tower_layer::Layer::layer(&layer, cluster.service.clone()),
        budget,
        mirrors,
        response_headers: spec
            .response_headers
            .into_iter()
            .flatten()
            .filter(|ops| !super::edit::is_empty(ops))
            .cloned()
            .collect(),
    })
}
