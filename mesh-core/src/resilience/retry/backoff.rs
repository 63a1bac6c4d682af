//! Envoy's jittered exponential backoff (spec §5.1): before retry `n` (n >= 1) wait a uniform
//! draw from `[0, min((2^n - 1) x base, max))`, in whole milliseconds as Envoy counts them.

use std::time::Duration;

use rand::{Rng, RngExt};

/// Envoy's default base interval.
pub const DEFAULT_BASE: Duration = Duration::from_millis(25);

/// Backoff parameters, in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Backoff {
    base_ms: u64,
    max_ms: u64,
}

/// A backoff Envoy would reject.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidBackoff {
    /// The base is under one millisecond.
    #[error("retry backoff base must be at least 1ms")]
    BaseTooSmall,
    /// The max is smaller than the base.
    #[error("retry backoff max interval must not be smaller than the base")]
    MaxBelowBase,
}

// === impl Backoff ===

impl Backoff {
    /// Base with Envoy's default cap of ten times the base (Istio sets no max).
    pub fn try_new(base: Duration) -> Result<Self, InvalidBackoff> {
        let base_ms = u64::try_from(base.as_millis()).unwrap_or(u64::MAX);
        Self::with_max(base, Duration::from_millis(base_ms.saturating_mul(10)))
    }

    /// Base and an explicit cap.
    pub fn with_max(base: Duration, max: Duration) -> Result<Self, InvalidBackoff> {
        let base_ms = u64::try_from(base.as_millis()).unwrap_or(u64::MAX);
        let max_ms = u64::try_from(max.as_millis()).unwrap_or(u64::MAX);
        if base_ms == 0 {
            return Err(InvalidBackoff::BaseTooSmall);
        }
        if max_ms < base_ms {
            return Err(InvalidBackoff::MaxBelowBase);
        }
        Ok(Backoff { base_ms, max_ms })
    }

    /// The exclusive upper bound of the draw before retry `n` (1-based).
    pub fn ceiling(&self, retry: u32) -> Duration {
        let mult = if retry >= 63 {
            u64::MAX
        } else {
            (1u64 << retry).saturating_sub(1)
        };
        Duration::from_millis(self.base_ms.saturating_mul(mult).min(self.max_ms))
    }

    /// The wait before retry `n` (1-based), drawn from `rng`.
    pub fn delay(&self, retry: u32, rng: &mut (impl Rng + ?Sized)) -> Duration {
        let ceiling = u64::try_from(self.ceiling(retry).as_millis()).unwrap_or(u64::MAX);
        if ceiling == 0 {
            return Duration::ZERO;
        }
        Duration::from_millis(rng.random_range(0..ceiling))
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base_ms: 25,
            max_ms: 250,
        }
    }
}
