//! `RANDOM`: uniform over the candidate hosts (Envoy's random LB ignores weights).

use rand::{Rng, RngExt};

use super::Candidates;

#[inline]
pub(super) fn uniform<R: Rng + ?Sized>(candidates: Candidates<'_>, rng: &mut R) -> usize {
    candidates.get(rng.random_range(0..candidates.len()))
}
