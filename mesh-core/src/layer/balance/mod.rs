//! `Balance`: one cluster as a service over its endpoint services (spec §3.3, §4).
//!
//! Each request picks an endpoint with the cluster's load balancer, skipping hosts the outlier
//! detector ejected (unless the cluster is in panic), and the outcome of each attempt feeds the
//! detector. Interval ticks run lazily, at their scheduled instants, whenever the service is
//! used, so no background task is needed. With nothing to pick the service answers Envoy's
//! `503 no healthy upstream` with [`ResponseFlag::NoHealthyUpstream`] (`UH`).
//!
//! `poll_ready` reserves nothing: the endpoint is only known once the request is seen (hash
//! policies need it), so the chosen endpoint's clone is driven to readiness inside the
//! response future, like `tower::util::Oneshot`.

mod future;

use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Instant;

use http::{Request, Response, StatusCode};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tower_service::Service;

pub use self::future::ResponseFuture;

use self::future::{InFlight, State};
use super::pool::ResponseFlag;
use crate::clock::{Clock, TokioClock};
use crate::model::destination::{DestinationPolicy, HashKey, LoadBalancer, OutlierSettings};
use crate::resilience::Outcome;
use crate::resilience::balance::{
    Balancer, Hosts, InvalidBalancer, Pick, hash_input, panic_threshold,
};
use crate::resilience::outlier::{InvalidOutlier, OutlierDetector, OutlierStats};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Maps an endpoint service's error to the outcome the outlier detector records.
pub type ErrorClassifier = fn(&BoxError) -> Outcome;

/// The cluster policy a [`Balance`] enforces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BalanceConfig {
    /// The load-balancing algorithm.
    pub load_balancer: LoadBalancer,
    /// Outlier detection, when configured (it also sets the panic threshold).
    pub outlier: Option<OutlierSettings>,
    /// `outlierDetectionHttpErrorCodes` (empty: every 5xx is an error).
    pub outlier_error_codes: Vec<u32>,
}

/// A configuration or endpoint set the layer cannot enforce.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidBalance {
    /// The load balancer or an endpoint weight.
    #[error(transparent)]
    Balancer(#[from] InvalidBalancer),
    /// The outlier detection settings.
    #[error(transparent)]
    Outlier(#[from] InvalidOutlier),
}

/// Request extension: the client's IP address, hashed by `useSourceIp`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SourceIp(pub IpAddr);

/// Request extension for `PASSTHROUGH`: the endpoint the client dialled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OriginalDestination<K>(pub K);

/// A load-balanced cluster of endpoint services keyed by `K` (e.g. their addresses).
/// Clones share the endpoints, host table, balancer state, outlier detector and RNG.
pub struct Balance<K, S, C = TokioClock> {
    endpoints: Arc<Mutex<Endpoints<K, S>>>,
    shared: Arc<Mutex<Shared>>,
    hash_key: Option<HashKey>,
    clock: C,
    classify: ErrorClassifier,
}

/// The endpoint services, in host-index order. Lock order: `endpoints`, then `shared`.
#[derive(Debug)]
struct Endpoints<K, S> {
    keys: Vec<K>,
    services: Vec<S>,
}

#[derive(Debug)]
pub(super) struct Shared {
    pub(super) hosts: Hosts,
    balancer: Balancer,
    pub(super) outlier: Option<OutlierDetector>,
    rng: StdRng,
    /// Bumped by each endpoint update (host indices change).
    pub(super) epoch: u64,
}

// === impl BalanceConfig ===

impl BalanceConfig {
    /// The load balancer and outlier detection of a resolved DestinationRule policy (the
    /// model does not carry `outlierDetectionHttpErrorCodes`; set them on the result).
    pub fn from_policy(policy: &DestinationPolicy) -> Self {
        BalanceConfig::new(
            policy.load_balancer.clone(),
            policy.outlier_detection.clone(),
        )
    }

    /// A configuration without custom outlier error codes.
    pub const fn new(load_balancer: LoadBalancer, outlier: Option<OutlierSettings>) -> Self {
        BalanceConfig {
            load_balancer,
            outlier,
            outlier_error_codes: Vec::new(),
        }
    }
}

// === impl Balance ===

impl<K, S> Balance<K, S, TokioClock>
where
    K: fmt::Display,
{
    /// A cluster over `(key, weight, service)` endpoints with tokio's clock; `rng` seeds the
    /// cluster's own generator.
    pub fn try_new<R: Rng + ?Sized>(
        endpoints: Vec<(K, u32, S)>,
        config: &BalanceConfig,
        rng: &mut R,
    ) -> Result<Self, InvalidBalance> {
        Self::with_clock(endpoints, config, rng, TokioClock)
    }
}

impl<K, S, C> Balance<K, S, C>
where
    K: fmt::Display,
    C: Clock,
{
    /// As [`Balance::try_new`] with another clock.
    pub fn with_clock<R: Rng + ?Sized>(
        endpoints: Vec<(K, u32, S)>,
        config: &BalanceConfig,
        rng: &mut R,
        clock: C,
    ) -> Result<Self, InvalidBalance> {
        let hosts = Hosts::try_new(endpoints.iter().map(|(k, w, _)| (k.to_string(), *w)))?;
        let balancer = Balancer::try_new(
            &config.load_balancer,
            panic_threshold(config.outlier.as_ref()),
        )?;
        let outlier = config
            .outlier
            .as_ref()
            .map(|o| {
                OutlierDetector::try_new(o, hosts.len(), clock.now())?
                    .with_error_codes(&config.outlier_error_codes)
            })
            .transpose()?;
        let hash_key = match &config.load_balancer {
            LoadBalancer::ConsistentHash(p) => Some(p.key.clone()),
            _ => None,
        };
        let (keys, services) = endpoints.into_iter().map(|(k, _, s)| (k, s)).unzip();
        Ok(Balance {
            endpoints: Arc::new(Mutex::new(Endpoints { keys, services })),
            shared: Arc::new(Mutex::new(Shared {
                hosts,
                balancer,
                outlier,
                rng: StdRng::from_rng(rng),
                epoch: 0,
            })),
            hash_key,
            clock,
            classify: |_| Outcome::ConnectFailure,
        })
    }
}

impl<K, S, C> Balance<K, S, C> {
    /// How endpoint errors count for outlier detection (default: as connect failures, 503 in
    /// non-split mode, local-origin in split mode).
    pub fn with_error_classifier(mut self, classify: ErrorClassifier) -> Self {
        self.classify = classify;
        self
    }

    /// Endpoint keys, in host-index order.
    pub fn keys(&self) -> Vec<K>
    where
        K: Clone,
    {
        lock(&self.endpoints).keys.clone()
    }

    /// Replaces the endpoint set (service discovery). Endpoints whose key was already present
    /// keep their outlier state (counters, ejection, multiplier) and requests in flight; new
    /// ones start fresh and healthy; removed ones are forgotten, as Envoy does on host-set
    /// updates. Attempts in flight on a removed endpoint finish unrecorded.
    pub fn update_endpoints(&self, endpoints: Vec<(K, u32, S)>) -> Result<(), InvalidBalance>
    where
        K: fmt::Display + PartialEq,
    {
        let mut hosts = Hosts::try_new(endpoints.iter().map(|(k, w, _)| (k.to_string(), *w)))?;
        let mut table = lock(&self.endpoints);
        let sources: Vec<Option<usize>> = endpoints
            .iter()
            .map(|(k, _, _)| table.keys.iter().position(|old| old == k))
            .collect();
        let mut shared = lock(&self.shared);
        hosts.carry_over(&shared.hosts, &sources);
        if let Some(o) = &mut shared.outlier {
            o.remap(&sources);
        }
        shared.hosts = hosts;
        shared.epoch = shared.epoch.wrapping_add(1);
        drop(shared);
        (table.keys, table.services) = endpoints.into_iter().map(|(k, _, s)| (k, s)).unzip();
        Ok(())
    }

    /// Whether the endpoint at `index` is ejected.
    pub fn is_ejected(&self, index: usize) -> bool {
        lock(&self.shared)
            .outlier
            .as_ref()
            .is_some_and(|o| o.is_ejected(index))
    }

    /// Outlier detection counters, when configured.
    pub fn outlier_stats(&self) -> Option<OutlierStats> {
        lock(&self.shared).outlier.as_ref().map(|o| o.stats())
    }
}

impl<K, S, C: Clone> Clone for Balance<K, S, C> {
    fn clone(&self) -> Self {
        Balance {
            endpoints: Arc::clone(&self.endpoints),
            shared: Arc::clone(&self.shared),
            hash_key: self.hash_key.clone(),
            clock: self.clock.clone(),
            classify: self.classify,
        }
    }
}

impl<K, S, C> fmt::Debug for Balance<K, S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Balance")
            .field("endpoints", &lock(&self.endpoints).services.len())
            .field("hash_key", &self.hash_key)
            .finish()
    }
}

impl<K, S, C, ReqB, ResB> Service<Request<ReqB>> for Balance<K, S, C>
where
    K: PartialEq + Send + Sync + 'static,
    S: Service<Request<ReqB>, Response = Response<ResB>> + Clone,
    S::Error: Into<BoxError>,
    C: Clock,
    ResB: Default,
{
    type Response = Response<ResB>;
    type Error = BoxError;
    type Future = ResponseFuture<S, S::Future, Request<ReqB>, ResB, C>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        lock(&self.shared).advance(self.clock.now());
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<ReqB>) -> Self::Future {
        let table = lock(&self.endpoints);
        let mut guard = lock(&self.shared);
        let shared = &mut *guard;
        shared.advance(self.clock.now());
        let input = self.hash_key.as_ref().map(|k| {
            let ip = req.extensions().get::<SourceIp>().map(|s| s.0);
            hash_input(k, req.uri(), req.headers(), ip, &mut shared.rng)
        });
        let hash = input.as_ref().and_then(|i| i.hash());
        let index = match shared.balancer.pick(&shared.hosts, hash, &mut shared.rng) {
            Ok(Pick::Host { index, .. }) => Some(index),
            Ok(Pick::OriginalDestination) => req
                .extensions()
                .get::<OriginalDestination<K>>()
                .and_then(|d| table.keys.iter().position(|k| *k == d.0)),
            Err(_) => None,
        };
        let Some(index) = index else {
            return ResponseFuture {
                state: State::Local {
                    response: Some(no_healthy_upstream()),
                },
                in_flight: None,
                set_cookie: None,
            };
        };
        shared.hosts.start_request(index);
        let (id, epoch) = (shared.hosts.id(index), shared.epoch);
        let service = table.services[index].clone();
        drop(guard);
        drop(table);
        let set_cookie = match input {
            Some(crate::resilience::balance::HashInput::NewCookie { set_cookie, .. }) => {
                Some(set_cookie)
            }
            _ => None,
        };
        ResponseFuture {
            state: State::Waiting {
                service,
                request: Some(req),
            },
            in_flight: Some(InFlight {
                shared: Arc::clone(&self.shared),
                index,
                id,
                epoch,
                clock: self.clock.clone(),
                classify: self.classify,
                done: false,
            }),
            set_cookie,
        }
    }
}

/// Envoy's local reply when no host can be picked.
pub fn no_healthy_upstream<B: Default>() -> Response<B> {
    let mut resp = Response::new(B::default());
    *resp.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    resp.extensions_mut()
        .insert(ResponseFlag::NoHealthyUpstream);
    resp
}

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The state stays consistent across a panic elsewhere: every update is a single step.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

// === impl Shared ===

impl Shared {
    /// Runs the outlier detector's due ticks and brings un-ejected hosts back.
    pub(super) fn advance(&mut self, now: Instant) {
        let Shared { hosts, outlier, .. } = self;
        if let Some(o) = outlier {
            o.advance(now, |i| hosts.set_healthy(i, true));
        }
    }
}

#[cfg(test)]
mod tests;
