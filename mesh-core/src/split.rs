//! Weighted choice among destinations (Istio weighted clusters, SMI TrafficSplit, Linkerd
//! `dstOverrides`): a uniform draw in `[0, total)` over cumulative integer weights.

use rand::Rng;

/// Items with positive integer weights, ready to pick from in `O(log n)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WeightedSet<T> {
    items: Vec<T>,
    weights: Vec<u64>,
    cumulative: Vec<u64>,
}

// === impl WeightedSet ===

impl<T> WeightedSet<T> {
    /// Istio VirtualService rule (spec §2.1): one destination gets 100% whatever its weight;
    /// with several, zero weights are dropped and the rest share `w / Σw`. Returns `None` when
    /// nothing is left (validation rejects that for Istio).
    pub fn istio(items: Vec<(T, u64)>) -> Option<Self> {
        if items.len() == 1 {
            let (t, _) = items.into_iter().next()?;
            return Self::from_weights(vec![(t, 1)]);
        }
        Self::from_weights(items)
    }

    /// Linkerd rule (spec §2.3): zero weights dropped; `None` when none is left (the caller
    /// falls back to the apex service).
    pub fn linkerd(items: Vec<(T, u64)>) -> Option<Self> {
        Self::from_weights(items)
    }

    fn from_weights(items: Vec<(T, u64)>) -> Option<Self> {
        let mut out = WeightedSet {
            items: Vec::with_capacity(items.len()),
            weights: Vec::with_capacity(items.len()),
            cumulative: Vec::with_capacity(items.len()),
        };
        let mut total: u64 = 0;
        for (t, w) in items.into_iter().filter(|(_, w)| *w > 0) {
            total = total.saturating_add(w);
            out.items.push(t);
            out.weights.push(w);
            out.cumulative.push(total);
        }
        (!out.items.is_empty()).then_some(out)
    }

    /// The sum of weights.
    pub fn total(&self) -> u64 {
        self.cumulative.last().copied().unwrap_or(0)
    }

    /// Items and their weights, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&T, u64)> {
        self.items.iter().zip(self.weights.iter().copied())
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Never true for a constructed set.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The item for a draw `x` in `[0, total)`.
    pub fn at(&self, x: u64) -> (usize, &T) {
        let i = self.cumulative.partition_point(|c| *c <= x);
        let i = i.min(self.items.len() - 1);
        (i, &self.items[i])
    }

    /// Picks an item with probability proportional to its weight.
    pub fn pick<R: Rng + ?Sized>(&self, rng: &mut R) -> (usize, &T) {
        let total = self.total();
        if self.items.len() == 1 || total == 0 {
            return (0, &self.items[0]);
        }
        // Unbiased draw in [0, total): Lemire's multiply-shift with rejection.
        let x = loop {
            let r = rng.next_u64();
            let m = u128::from(r) * u128::from(total);
            let low = m as u64;
            if low >= total.wrapping_neg() % total {
                break (m >> 64) as u64;
            }
        };
        self.at(x)
    }

    /// The share of an item in permille of the total (for display).
    pub fn share_permille(&self, i: usize) -> u64 {
        (self
            .weights
            .get(i)
            .copied()
            .unwrap_or(0)
            .saturating_mul(1000))
        .checked_div(self.total())
        .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests;
