//! Envoy's retry budget (Istio DestinationRule `trafficPolicy.retryBudget`, spec §5.5):
//! concurrency-based, not rate-based. At any instant the active retries may not exceed
//! `max(minRetryConcurrency, percent x active requests)`; defaults 20% and 3.
//!
//! Counters are atomics behind an `Arc`; requests and retries are RAII guards.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::resilience::retry::RetryPermits;
use crate::resource::RetryBudget as RetryBudgetSpec;

/// Envoy's default percent, in parts per million of active requests (20%).
pub const DEFAULT_PERCENT_PPM: u64 = 200_000;
/// Envoy's default minimum retry concurrency.
pub const DEFAULT_MIN_RETRY_CONCURRENCY: u64 = 3;

/// A budget this library cannot enforce.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidEnvoyBudget {
    /// `percent` outside `[0, 100]` or not a number.
    #[error("retryBudget.percent must be within [0, 100]")]
    Percent,
    /// `budgetInterval` (counting recent rather than active requests) is not implemented;
    /// refusing it is safer than silently enforcing a different limit.
    #[error("retryBudget.budgetInterval is not supported by this engine")]
    BudgetInterval,
}

/// Shared counters of one cluster's retry budget (clones share them).
#[derive(Clone, Debug)]
pub struct EnvoyRetryBudget {
    inner: Arc<Counters>,
}

#[derive(Debug)]
struct Counters {
    percent_ppm: u64,
    min_concurrency: u64,
    active: AtomicU64,
    retries: AtomicU64,
}

/// One active upstream request (every attempt, retries included, holds one).
#[derive(Debug)]
#[must_use = "the request counts as active only while the guard lives"]
pub struct ActiveRequest(Arc<Counters>);

/// One active retry.
#[derive(Debug)]
#[must_use = "the retry counts as active only while the guard lives"]
pub struct ActiveRetry(Arc<Counters>);

// === impl EnvoyRetryBudget ===

impl EnvoyRetryBudget {
    /// From the DestinationRule field, with Envoy's defaults for absent values.
    pub fn try_new(spec: &RetryBudgetSpec) -> Result<Self, InvalidEnvoyBudget> {
        if spec.budget_interval.is_some_and(|d| !d.is_zero()) {
            return Err(InvalidEnvoyBudget::BudgetInterval);
        }
        let ppm = match spec.percent {
            None => DEFAULT_PERCENT_PPM,
            Some(p) if (0.0..=100.0).contains(&p) => (p * 10_000.0).round() as u64,
            Some(_) => return Err(InvalidEnvoyBudget::Percent),
        };
        Ok(Self::new(
            ppm,
            spec.min_retry_concurrency
                .map_or(DEFAULT_MIN_RETRY_CONCURRENCY, u64::from),
        ))
    }

    /// From a percent in parts per million of active requests and a minimum concurrency.
    pub fn new(percent_ppm: u64, min_concurrency: u64) -> Self {
        EnvoyRetryBudget {
            inner: Arc::new(Counters {
                percent_ppm: percent_ppm.min(1_000_000),
                min_concurrency,
                active: AtomicU64::new(0),
                retries: AtomicU64::new(0),
            }),
        }
    }

    /// Counts an upstream request as active until the guard drops.
    pub fn start_request(&self) -> ActiveRequest {
        self.inner.active.fetch_add(1, Ordering::AcqRel);
        ActiveRequest(self.inner.clone())
    }

    /// The current limit on concurrent retries.
    pub fn limit(&self) -> u64 {
        let active = self.inner.active.load(Ordering::Acquire);
        let share = (u128::from(active) * u128::from(self.inner.percent_ppm) / 1_000_000) as u64;
        share.max(self.inner.min_concurrency)
    }

    /// Active requests and active retries.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.inner.active.load(Ordering::Acquire),
            self.inner.retries.load(Ordering::Acquire),
        )
    }

    /// A retry slot if the budget has one.
    pub fn try_retry(&self) -> Option<ActiveRetry> {
        let mut r = self.inner.retries.load(Ordering::Acquire);
        loop {
            if r >= self.limit() {
                return None;
            }
            match self.inner.retries.compare_exchange_weak(
                r,
                r + 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Some(ActiveRetry(self.inner.clone())),
                Err(actual) => r = actual,
            }
        }
    }
}

impl RetryPermits for EnvoyRetryBudget {
    type Permit = ActiveRetry;
    fn try_acquire_retry(&self) -> Option<ActiveRetry> {
        self.try_retry()
    }
}

impl Drop for ActiveRequest {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Drop for ActiveRetry {
    fn drop(&mut self) {
        self.0.retries.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests;
