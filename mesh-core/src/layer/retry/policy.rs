//! What the retry layer asks after each attempt: Istio's attempt-counting policy with
//! circuit-breaker permits, or a ServiceProfile route's budget-limited policy.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;

use crate::resilience::Outcome;
use crate::resilience::budget::RetryBudget;
use crate::resilience::retry::{
    IstioRetry, ProfileDecision, ProfileRetry, ResponseHints, RetryDecision, RetryPermits,
    RetryState, StopReason, Unlimited,
};

/// One finished attempt, as the policy sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attempt {
    /// What happened.
    pub outcome: Outcome,
    /// Response headers that matter for retries.
    pub hints: ResponseHints,
    /// The request is gRPC (`content-type: application/grpc...`).
    pub request_is_grpc: bool,
}

/// Retry after `backoff` holding `permit`, or return the attempt's result.
#[derive(Debug, PartialEq, Eq)]
pub enum Next<P> {
    /// Send the request again.
    Retry {
        /// Wait first.
        backoff: Duration,
        /// Held until the next attempt ends.
        permit: P,
    },
    /// Return this attempt's result.
    Return,
    /// A retry was warranted but the budget (Linkerd's or Envoy's) or the circuit breaker's
    /// `maxRetries` had no slot: return this attempt's result, marked
    /// [`RetryBudgetExhausted`](super::RetryBudgetExhausted).
    Exhausted,
}

/// A retry policy the layer can drive.
pub trait Retries: Send + Sync + 'static {
    /// Held while a retry runs (a circuit-breaker slot).
    type Permit: Send + 'static;

    /// Whether this route retries at all (bodies are buffered only then).
    fn retries_enabled(&self) -> bool;

    /// Cut each attempt after this long.
    fn per_try_timeout(&self) -> Option<Duration>;

    /// Decides after an attempt that ended with an outcome.
    fn decide(
        &self,
        attempt: &Attempt,
        state: &mut RetryState<()>,
        rng: &mut StdRng,
        now: Instant,
    ) -> Next<Self::Permit>;
}

/// Istio retries: `retryOn`, `attempts`, backoff and per-try timeout, with permits from a
/// circuit breaker or Envoy retry budget.
#[derive(Clone, Debug)]
pub struct IstioRetries<P = Unlimited> {
    /// The compiled policy.
    pub policy: IstioRetry,
    /// Where retry slots come from.
    pub permits: P,
}

/// ServiceProfile retries: failures of `isRetryable` routes, within a shared budget; no
/// backoff, no attempt count.
#[derive(Clone, Debug)]
pub struct ProfileRetries {
    /// The route's policy.
    pub policy: ProfileRetry,
    /// The budget of the profile (shared by its routes).
    pub budget: Arc<RetryBudget>,
}

// === impl IstioRetries ===

impl IstioRetries {
    /// Without a circuit breaker.
    pub fn new(policy: IstioRetry) -> Self {
        IstioRetries {
            policy,
            permits: Unlimited,
        }
    }
}

impl<P> Retries for IstioRetries<P>
where
    P: RetryPermits + Send + Sync + 'static,
    P::Permit: Send + 'static,
{
    type Permit = P::Permit;

    fn retries_enabled(&self) -> bool {
        self.policy.attempts > 0 && !self.policy.conditions.is_empty()
    }

    fn per_try_timeout(&self) -> Option<Duration> {
        self.policy.per_try_timeout
    }

    fn decide(
        &self,
        attempt: &Attempt,
        state: &mut RetryState<()>,
        rng: &mut StdRng,
        _now: Instant,
    ) -> Next<P::Permit> {
        match self
            .policy
            .decide(state, &attempt.outcome, attempt.hints, &self.permits, rng)
        {
            RetryDecision::Retry { backoff, permit } => Next::Retry { backoff, permit },
            RetryDecision::Stop(StopReason::NoPermit) => Next::Exhausted,
            RetryDecision::Stop(_) => Next::Return,
        }
    }
}

// === impl ProfileRetries ===

impl Retries for ProfileRetries {
    type Permit = ();

    fn retries_enabled(&self) -> bool {
        self.policy.retryable
    }

    fn per_try_timeout(&self) -> Option<Duration> {
        None
    }

    fn decide(
        &self,
        attempt: &Attempt,
        _state: &mut RetryState<()>,
        _rng: &mut StdRng,
        now: Instant,
    ) -> Next<()> {
        match self.policy.decide(
            &attempt.outcome,
            attempt.request_is_grpc,
            true,
            &self.budget,
            now,
        ) {
            ProfileDecision::Retry => Next::Retry {
                backoff: Duration::ZERO,
                permit: (),
            },
            ProfileDecision::Return { .. } => Next::Return,
            ProfileDecision::Exhausted => Next::Exhausted,
        }
    }
}
