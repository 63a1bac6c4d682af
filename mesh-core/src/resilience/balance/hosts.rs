//! The host table a balancer picks from.

use super::{InvalidBalancer, hash_bytes};

/// One cluster's hosts: stable identities (for consistent hashing), weights, health and active
/// request counts. Indices are fixed for the table's life.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hosts {
    ids: Vec<u64>,
    weights: Vec<u32>,
    healthy: Vec<bool>,
    active: Vec<u32>,
    healthy_idx: Vec<u32>,
    equal_weights: bool,
    /// Identifies the host list (ids and weights) for cached hash tables.
    fingerprint: u64,
    generation: u64,
}

// === impl Hosts ===

impl Hosts {
    /// Hosts named by a stable key (an address) with their LB weights; all start healthy.
    pub fn try_new<S: AsRef<str>>(
        hosts: impl IntoIterator<Item = (S, u32)>,
    ) -> Result<Self, InvalidBalancer> {
        let mut ids = Vec::new();
        let mut weights = Vec::new();
        for (name, w) in hosts {
            if w == 0 {
                return Err(InvalidBalancer::ZeroWeight(name.as_ref().to_owned()));
            }
            ids.push(hash_bytes(name.as_ref().as_bytes()));
            weights.push(w);
        }
        let n = ids.len();
        let equal_weights = weights.windows(2).all(|w| w[0] == w[1]);
        let fingerprint = ids.iter().zip(&weights).fold(n as u64, |acc, (id, w)| {
            super::hash::fmix64(acc ^ id.wrapping_add(u64::from(*w)))
        });
        Ok(Hosts {
            ids,
            weights,
            healthy: vec![true; n],
            active: vec![0; n],
            healthy_idx: (0..n as u32).collect(),
            equal_weights,
            fingerprint,
            generation: 0,
        })
    }

    /// Number of hosts.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True without hosts.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The host's LB weight.
    #[inline]
    pub fn weight(&self, i: usize) -> u32 {
        self.weights[i]
    }

    /// The host's stable identity hash.
    #[inline]
    pub fn id(&self, i: usize) -> u64 {
        self.ids[i]
    }

    /// True when all hosts have the same weight.
    pub fn equal_weights(&self) -> bool {
        self.equal_weights
    }

    /// Whether the host may be picked outside panic (not ejected, not unhealthy).
    pub fn is_healthy(&self, i: usize) -> bool {
        self.healthy.get(i).copied().unwrap_or(false)
    }

    /// Number of healthy hosts.
    #[inline]
    pub fn healthy_count(&self) -> usize {
        self.healthy_idx.len()
    }

    /// Healthy host indices, ascending.
    #[inline]
    pub fn healthy_indices(&self) -> &[u32] {
        &self.healthy_idx
    }

    /// Marks the host healthy or not (the outlier detector's ejections). Out-of-range hosts are
    /// ignored.
    pub fn set_healthy(&mut self, i: usize, healthy: bool) {
        let Some(h) = self.healthy.get_mut(i) else {
            return;
        };
        if *h == healthy {
            return;
        }
        *h = healthy;
        self.healthy_idx = (0..self.healthy.len() as u32)
            .filter(|i| self.healthy[*i as usize])
            .collect();
        self.generation += 1;
    }

    /// Changes each time the healthy set changes (consistent-hash tables rebuild on it).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// A hash of the host list (identities and weights, not health): a balancer used with
    /// another table rebuilds its consistent-hash table.
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    /// The index of the host with identity `id` (see [`id`](Self::id)).
    pub fn position_of(&self, id: u64) -> Option<usize> {
        self.ids.iter().position(|i| *i == id)
    }

    /// After an endpoint update: host `i` of this table continues host `sources[i]` of `old`
    /// (its health and requests in flight); hosts without a source keep their fresh state.
    pub fn carry_over(&mut self, old: &Hosts, sources: &[Option<usize>]) {
        for (i, src) in sources.iter().enumerate().take(self.len()) {
            if let Some(j) = src.filter(|j| *j < old.len()) {
                self.active[i] = old.active[j];
                self.healthy[i] = old.healthy[j];
            }
        }
        self.healthy_idx = (0..self.healthy.len() as u32)
            .filter(|i| self.healthy[*i as usize])
            .collect();
        self.generation = old.generation.wrapping_add(1);
    }

    /// Requests in flight on the host.
    #[inline]
    pub fn active(&self, i: usize) -> u32 {
        self.active[i]
    }

    /// A request to the host started.
    pub fn start_request(&mut self, i: usize) {
        if let Some(a) = self.active.get_mut(i) {
            *a = a.saturating_add(1);
        }
    }

    /// A request to the host finished.
    pub fn finish_request(&mut self, i: usize) {
        if let Some(a) = self.active.get_mut(i) {
            *a = a.saturating_sub(1);
        }
    }
}
