//! Ring hash (Envoy `RING_HASH`): each host owns points on a 64-bit ring in proportion to its
//! weight; a key goes to the first point at or after its hash, wrapping around.

use super::super::{Candidates, Hosts, MAX_RING_SIZE};
use super::fmix64;

#[derive(Clone, Debug)]
pub(in super::super) struct Ring {
    /// (point hash, host index), sorted by hash.
    points: Vec<(u64, u32)>,
}

// === impl Ring ===

impl Ring {
    /// Envoy's sizing: scale so the lightest host gets at least `min_size × its share` points
    /// (rounded up), capped at the maximum ring size; hosts take points by cumulative rounding.
    pub(in super::super) fn build(
        hosts: &Hosts,
        candidates: Candidates<'_>,
        min_size: u64,
    ) -> Self {
        let total: u64 = candidates.iter().map(|i| u64::from(hosts.weight(i))).sum();
        let min_w = candidates
            .iter()
            .map(|i| hosts.weight(i))
            .min()
            .unwrap_or(1);
        let min_norm = f64::from(min_w) / total.max(1) as f64;
        let scale = ((min_norm * min_size as f64).ceil() / min_norm).min(MAX_RING_SIZE as f64);
        let mut points = Vec::with_capacity(scale as usize + candidates.len());
        let (mut target, mut made) = (0.0f64, 0u64);
        for i in candidates.iter() {
            target += scale * f64::from(hosts.weight(i)) / total as f64;
            let mut j = 0u64;
            while (made as f64) < target {
                let point = fmix64(hosts.id(i) ^ fmix64(j.wrapping_add(1)));
                points.push((point, i as u32));
                made += 1;
                j += 1;
            }
        }
        points.sort_unstable();
        Ring { points }
    }

    #[inline]
    pub(in super::super) fn lookup(&self, key: u64) -> usize {
        let k = self.points.partition_point(|(h, _)| *h < key);
        let k = if k == self.points.len() { 0 } else { k };
        self.points[k].1 as usize
    }

    #[cfg(test)]
    pub(in super::super) fn len(&self) -> usize {
        self.points.len()
    }
}
