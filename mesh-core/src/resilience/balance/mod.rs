//! Load balancing (spec §3.3) over one cluster's hosts, with Envoy's panic mode (§4.5).
//!
//! [`Hosts`] is the host table (weights, health from the outlier detector, active requests);
//! [`Balancer`] is the algorithm Istio's `loadBalancer` selects, built once by
//! [`Balancer::try_new`]. A pick takes the table, the request's hash (consistent hashing only)
//! and an injected RNG. Ejected or unhealthy hosts are skipped unless the cluster is in panic,
//! where Envoy balances over every host.

mod hash;
mod hosts;
mod least_request;
mod random;
mod round_robin;

use rand::Rng;

pub use self::hash::{HashInput, hash_bytes, hash_input};
pub use self::hosts::Hosts;

use self::hash::HashBalancer;
use self::least_request::LeastRequest;
use self::round_robin::SmoothWeighted;
use crate::model::destination::{HashAlgorithm, LoadBalancer, OutlierSettings};

/// Envoy's `healthy_panic_threshold` when the cluster has no outlier detection (§4.1).
pub const ENVOY_DEFAULT_PANIC_THRESHOLD: u32 = 50;

/// Envoy's largest ring (`maximum_ring_size` default, 8M entries).
pub const MAX_RING_SIZE: u64 = 8 * 1024 * 1024;

/// Maglev table sizes must be prime and below this (Istio validation).
pub const MAX_MAGLEV_TABLE_SIZE: u64 = 5_000_011;

/// A load-balancer configuration the engine cannot enforce, or a bad host table.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidBalancer {
    /// `minHealthPercent` above 100.
    #[error("panic threshold {0} is above 100")]
    PanicThreshold(u32),
    /// `ringHash.minimumRingSize` zero or above Envoy's maximum ring size.
    #[error("ringHash minimumRingSize {0} must be in 1..={MAX_RING_SIZE}")]
    RingSize(u64),
    /// `maglev.tableSize` not a prime below 5000011.
    #[error("maglev tableSize {0} must be a prime below {MAX_MAGLEV_TABLE_SIZE}")]
    TableSize(u64),
    /// A host with weight 0.
    #[error("host {0:?} has weight 0")]
    ZeroWeight(String),
}

/// No host can take the request: every host is ejected or unhealthy and the cluster is not in
/// panic, or there are no hosts. Envoy answers 503 `no healthy upstream` (flag `UH`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("no healthy upstream")]
pub struct NoHealthyUpstream;

/// The result of a pick.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pick {
    /// Send to host `index` of the table.
    Host {
        /// Index into [`Hosts`].
        index: usize,
        /// The cluster was in panic: the host may be ejected.
        panic: bool,
    },
    /// `PASSTHROUGH`: forward to the address the client dialled; endpoints are ignored.
    OriginalDestination,
}

/// The load-balancing algorithm of one cluster, with its state.
#[derive(Clone, Debug)]
pub struct Balancer {
    algorithm: Algorithm,
    panic_threshold: u32,
}

#[derive(Clone, Debug)]
enum Algorithm {
    RoundRobin(SmoothWeighted),
    LeastRequest(LeastRequest),
    Random,
    Hash(HashBalancer),
    Passthrough,
}

/// The hosts a pick chooses among: the healthy ones, or all of them in panic.
#[derive(Clone, Copy, Debug)]
enum Candidates<'a> {
    All(usize),
    Healthy(&'a [u32]),
}

// === impl Balancer ===

impl Balancer {
    /// The balancer for Istio's `loadBalancer` (the model's default when unset is
    /// `LEAST_REQUEST`) with panic threshold `panic_threshold` percent (see
    /// [`panic_threshold`]).
    pub fn try_new(lb: &LoadBalancer, panic_threshold: u32) -> Result<Self, InvalidBalancer> {
        if panic_threshold > 100 {
            return Err(InvalidBalancer::PanicThreshold(panic_threshold));
        }
        let algorithm = match lb {
            LoadBalancer::LeastRequest => Algorithm::LeastRequest(LeastRequest::default()),
            LoadBalancer::RoundRobin => Algorithm::RoundRobin(SmoothWeighted::default()),
            LoadBalancer::Random => Algorithm::Random,
            LoadBalancer::Passthrough => Algorithm::Passthrough,
            LoadBalancer::ConsistentHash(policy) => {
                match policy.algorithm {
                    HashAlgorithm::RingHash { minimum_ring_size } => {
                        if minimum_ring_size == 0 || minimum_ring_size > MAX_RING_SIZE {
                            return Err(InvalidBalancer::RingSize(minimum_ring_size));
                        }
                    }
                    HashAlgorithm::Maglev { table_size } => {
                        if table_size >= MAX_MAGLEV_TABLE_SIZE || !is_prime(table_size) {
                            return Err(InvalidBalancer::TableSize(table_size));
                        }
                    }
                }
                Algorithm::Hash(HashBalancer::new(policy.algorithm))
            }
        };
        Ok(Balancer {
            algorithm,
            panic_threshold,
        })
    }

    /// The panic threshold in percent (0 never panics).
    pub fn panic_threshold(&self) -> u32 {
        self.panic_threshold
    }

    /// Whether picks use a request hash ([`hash_input`]).
    pub fn is_consistent_hash(&self) -> bool {
        matches!(self.algorithm, Algorithm::Hash(_))
    }

    /// Picks a host for one request. `hash` is the request's hash for consistent hashing
    /// (`None` when the input is missing: a random host); other algorithms ignore it.
    pub fn pick<R: Rng + ?Sized>(
        &mut self,
        hosts: &Hosts,
        hash: Option<u64>,
        rng: &mut R,
    ) -> Result<Pick, NoHealthyUpstream> {
        if let Algorithm::Passthrough = self.algorithm {
            return Ok(Pick::OriginalDestination);
        }
        let panic = in_panic(hosts.healthy_count(), hosts.len(), self.panic_threshold);
        let candidates = if panic {
            Candidates::All(hosts.len())
        } else {
            Candidates::Healthy(hosts.healthy_indices())
        };
        if candidates.len() == 0 {
            return Err(NoHealthyUpstream);
        }
        let index = match &mut self.algorithm {
            Algorithm::RoundRobin(rr) if hosts.equal_weights() => rr.rotate(candidates),
            Algorithm::RoundRobin(rr) => rr.pick(hosts, candidates, |i| hosts.weight(i).into()),
            Algorithm::LeastRequest(lr) => lr.pick(hosts, candidates, rng),
            Algorithm::Random => random::uniform(candidates, rng),
            Algorithm::Hash(h) => match hash {
                Some(key) => h.pick(hosts, candidates, panic, key),
                None => random::uniform(candidates, rng),
            },
            Algorithm::Passthrough => return Ok(Pick::OriginalDestination),
        };
        Ok(Pick::Host { index, panic })
    }
}

/// The cluster's panic threshold: `minHealthPercent` when outlier detection is configured
/// (Istio default 0: never panic), Envoy's 50% otherwise.
pub fn panic_threshold(outlier: Option<&OutlierSettings>) -> u32 {
    outlier.map_or(ENVOY_DEFAULT_PANIC_THRESHOLD, |o| o.min_health_percent)
}

/// Envoy `isHostSetInPanic` for one priority (§4.5): never when the normalized availability
/// `min(100, 1.4 × healthy%)` is 100; else iff `healthy% < threshold`.
pub fn in_panic(healthy: usize, total: usize, threshold: u32) -> bool {
    let (healthy, total) = (healthy as u128, total as u128);
    if total == 0 || 140 * healthy >= 100 * total {
        return false;
    }
    100 * healthy < u128::from(threshold) * total
}

fn is_prime(n: u64) -> bool {
    if n < 2 {
        return false;
    }
    let mut d = 2;
    while d * d <= n {
        if n.is_multiple_of(d) {
            return false;
        }
        d += 1;
    }
    true
}

// === impl Candidates ===

impl Candidates<'_> {
    fn len(self) -> usize {
        match self {
            Candidates::All(n) => n,
            Candidates::Healthy(ix) => ix.len(),
        }
    }

    #[inline]
    fn get(self, k: usize) -> usize {
        match self {
            Candidates::All(_) => k,
            Candidates::Healthy(ix) => ix[k] as usize,
        }
    }

    fn iter(self) -> impl Iterator<Item = usize> {
        (0..self.len()).map(move |k| self.get(k))
    }
}

#[cfg(test)]
mod tests;
