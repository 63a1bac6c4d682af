//! Weighted round robin: smooth weighted rotation (the nginx algorithm), which spreads each
//! host's turns evenly like Envoy's EDF scheduler and degenerates to plain rotation for equal
//! weights.

use super::Candidates;
use super::Hosts;

/// Per-host running credit of the smooth weighted rotation.
#[derive(Clone, Debug, Default)]
pub(super) struct SmoothWeighted {
    current: Vec<i64>,
    /// Rotation position for equal weights (Envoy's plain round robin).
    next: usize,
}

// === impl SmoothWeighted ===

impl SmoothWeighted {
    /// Each candidate gains its weight; the richest is picked and pays the total. Over any
    /// stretch with a fixed candidate set, host `i` gets `w_i / Σw` of the picks.
    /// Equal weights: plain rotation over the candidates, `O(1)`.
    pub(super) fn rotate(&mut self, candidates: Candidates<'_>) -> usize {
        let k = self.next % candidates.len();
        self.next = k + 1;
        candidates.get(k)
    }

    pub(super) fn pick(
        &mut self,
        hosts: &Hosts,
        candidates: Candidates<'_>,
        weight: impl Fn(usize) -> i64,
    ) -> usize {
        if self.current.len() != hosts.len() {
            self.current = vec![0; hosts.len()];
        }
        let mut total: i64 = 0;
        let mut best = candidates.get(0);
        let mut best_credit = i64::MIN;
        for i in candidates.iter() {
            let w = weight(i);
            let c = &mut self.current[i];
            *c = c.saturating_add(w);
            total = total.saturating_add(w);
            if *c > best_credit {
                best_credit = *c;
                best = i;
            }
        }
        self.current[best] = self.current[best].saturating_sub(total);
        best
    }
}
