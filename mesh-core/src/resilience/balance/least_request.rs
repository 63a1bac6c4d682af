//! Least request: power of two choices on active requests for equal weights; for unequal
//! weights Envoy's dynamic weighting `w / (active + 1)^bias` with `active_request_bias` 1.0,
//! scheduled by the smooth weighted rotation.

use rand::{Rng, RngExt};

use super::round_robin::SmoothWeighted;
use super::{Candidates, Hosts};

/// Fixed-point scale of the dynamic weights.
const SCALE: i64 = 1 << 20;

#[derive(Clone, Debug, Default)]
pub(super) struct LeastRequest {
    weighted: SmoothWeighted,
}

// === impl LeastRequest ===

impl LeastRequest {
    pub(super) fn pick<R: Rng + ?Sized>(
        &mut self,
        hosts: &Hosts,
        candidates: Candidates<'_>,
        rng: &mut R,
    ) -> usize {
        if hosts.equal_weights() {
            p2c(hosts, candidates, rng)
        } else {
            self.weighted.pick(hosts, candidates, |i| {
                i64::from(hosts.weight(i)) * SCALE / (i64::from(hosts.active(i)) + 1)
            })
        }
    }
}

/// Two independent uniform draws; the one with fewer active requests wins, the first on ties
/// (Envoy `choice_count` 2).
#[inline]
fn p2c<R: Rng + ?Sized>(hosts: &Hosts, candidates: Candidates<'_>, rng: &mut R) -> usize {
    let n = candidates.len();
    if n == 1 {
        return candidates.get(0);
    }
    let a = candidates.get(rng.random_range(0..n));
    let b = candidates.get(rng.random_range(0..n));
    if hosts.active(b) < hosts.active(a) {
        b
    } else {
        a
    }
}
