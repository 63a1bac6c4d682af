//! One destination cluster of a [`Client`](super::Client): its endpoints from the registry, the
//! balancer and outlier detector over them (Envoy: ejected hosts are skipped unless the
//! cluster is in panic), the circuit breaker and the DestinationRule's Envoy retry budget.

use std::sync::Mutex;
use std::time::Instant;

use http::Request;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{Endpoint, lock};
use crate::layer::balance::InvalidBalance;
use crate::layer::mesh::InvalidCluster;
use crate::model::Mesh;
use crate::model::destination::{DestinationPolicy, HashKey, LoadBalancer};
use crate::resilience::Outcome;
use crate::resilience::balance::{Balancer, Hosts, Pick, hash_input, panic_threshold};
use crate::resilience::envoy_budget::{ActiveRequest, ActiveRetry, EnvoyRetryBudget};
use crate::resilience::outlier::{OutlierDetector, Recorded};
use crate::resilience::pool::{CircuitBreaker, Overflow, Permit};
use crate::resilience::retry::RetryPermits;

/// A cluster's shared state.
#[derive(Debug)]
pub(super) struct ClusterState {
    endpoints: Vec<Endpoint>,
    hash_key: Option<HashKey>,
    breaker: CircuitBreaker,
    budget: Option<EnvoyRetryBudget>,
    balance: Mutex<Balance>,
}

#[derive(Debug)]
struct Balance {
    hosts: Hosts,
    balancer: Balancer,
    outlier: Option<OutlierDetector>,
    rng: StdRng,
}

/// A retry slot held while a retry runs: `maxRetries` or the retry budget.
#[derive(Debug)]
pub(super) enum RetryPermit {
    /// A `maxRetries` slot.
    Breaker(#[allow(dead_code)] Permit),
    /// A retry-budget slot.
    Budget(#[allow(dead_code)] ActiveRetry),
}

// === impl ClusterState ===

impl ClusterState {
    /// The cluster of (host, subset, port) under `policy`; `None` when the subset is not
    /// defined by any DestinationRule.
    pub(super) fn try_new(
        mesh: &Mesh,
        host: &str,
        subset: Option<&str>,
        port: u16,
        policy: &DestinationPolicy,
        rng: &mut impl Rng,
        now: Instant,
    ) -> Result<Option<Self>, InvalidCluster> {
        let labels = match &policy.subset {
            Some(s) => match &s.labels {
                Some(l) => l.clone(),
                None => return Ok(None),
            },
            None => Default::default(),
        };
        let mut endpoints = Vec::new();
        let mut weights = Vec::new();
        if let Some(svc) = mesh.service(host) {
            for e in svc.endpoints_for(&labels) {
                endpoints.push(Endpoint {
                    host: host.to_owned(),
                    subset: subset.map(str::to_owned),
                    address: e.address.clone(),
                    port: svc.endpoint_port(e, port),
                });
                weights.push(e.weight);
            }
        }
        let names = endpoints
            .iter()
            .map(|e| format!("{}:{}", e.address, e.port));
        let hosts = Hosts::try_new(names.zip(weights))
            .map_err(|e| InvalidCluster::Balance(InvalidBalance::from(e)))?;
        let balancer = Balancer::try_new(
            &policy.load_balancer,
            panic_threshold(policy.outlier_detection.as_ref()),
        )
        .map_err(|e| InvalidCluster::Balance(e.into()))?;
        let outlier = policy
            .outlier_detection
            .as_ref()
            .map(|o| OutlierDetector::try_new(o, hosts.len(), now))
            .transpose()
            .map_err(|e| InvalidCluster::Balance(e.into()))?;
        let budget = policy
            .retry_budget
            .as_ref()
            .map(EnvoyRetryBudget::try_new)
            .transpose()?;
        let hash_key = match &policy.load_balancer {
            LoadBalancer::ConsistentHash(p) => Some(p.key.clone()),
            _ => None,
        };
        Ok(Some(ClusterState {
            endpoints,
            hash_key,
            breaker: CircuitBreaker::new(&policy.connection_pool),
            budget,
            balance: Mutex::new(Balance {
                hosts,
                balancer,
                outlier,
                rng: StdRng::from_rng(rng),
            }),
        }))
    }

    pub(super) fn is_consistent_hash(&self) -> bool {
        self.hash_key.is_some()
    }

    pub(super) fn endpoint(&self, index: usize) -> &Endpoint {
        &self.endpoints[index]
    }

    /// A request slot of the circuit breaker (`http2MaxRequests`), held for the whole call.
    pub(super) fn try_acquire_request(&self) -> Result<Permit, Overflow> {
        self.breaker.try_acquire_request()
    }

    /// Counts the call as active for the Envoy retry budget, when the cluster has one.
    pub(super) fn start_request(&self) -> Option<ActiveRequest> {
        self.budget.as_ref().map(EnvoyRetryBudget::start_request)
    }

    /// Picks an endpoint for one attempt and counts it active; `avoid` lists the endpoints to
    /// re-pick away from (Envoy `previous_hosts`, up to `attempts` selections). `None`: no
    /// healthy upstream.
    pub(super) fn pick(
        &self,
        req: &Request<()>,
        avoid: Option<(&[usize], u32)>,
        now: Instant,
    ) -> Option<usize> {
        let mut guard = lock(&self.balance);
        let b = &mut *guard;
        b.advance(now);
        let hash = self
            .hash_key
            .as_ref()
            .and_then(|k| hash_input(k, req.uri(), req.headers(), None, &mut b.rng).hash());
        let mut selection = 1;
        let index = loop {
            let index = match b.balancer.pick(&b.hosts, hash, &mut b.rng) {
                Ok(Pick::Host { index, .. }) => index,
                // PASSTHROUGH has no address here: the host's own URL is the destination.
                Ok(Pick::OriginalDestination) | Err(_) => return None,
            };
            match avoid {
                Some((tried, max)) if selection < max && tried.contains(&index) => selection += 1,
                _ => break index,
            }
        };
        b.hosts.start_request(index);
        Some(index)
    }

    /// Ends an attempt on `index`; an `outcome` is recorded with the outlier detector (a host
    /// it ejects is taken out of the healthy set at once).
    pub(super) fn finish(&self, index: usize, outcome: Option<Outcome>, now: Instant) {
        let mut guard = lock(&self.balance);
        let b = &mut *guard;
        b.hosts.finish_request(index);
        let Some(outcome) = outcome else { return };
        b.advance(now);
        if let Some(o) = &mut b.outlier
            && let Recorded::Ejected { .. } = o.record(index, outcome, now)
        {
            b.hosts.set_healthy(index, false);
        }
    }
}

impl RetryPermits for ClusterState {
    type Permit = RetryPermit;

    /// Envoy's retry budget when the DestinationRule sets one (it replaces `maxRetries`).
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

// === impl Balance ===

impl Balance {
    /// Runs the outlier detector's due ticks and brings un-ejected hosts back.
    fn advance(&mut self, now: Instant) {
        let Balance { hosts, outlier, .. } = self;
        if let Some(o) = outlier {
            o.advance(now, |i| hosts.set_healthy(i, true));
        }
    }
}
