//! Istio (Envoy) retries (spec §1.7, §5.1, §5.2) and Linkerd ServiceProfile retries (§5.3,
//! §9.3): the `retryOn` conditions parsed once, attempts, backoff, timeouts, previous-host
//! avoidance, and the circuit breaker's `maxRetries` as a [`RetryPermits`] source.

mod backoff;
mod condition;
mod deadline;
mod profile;

use std::time::Duration;

use rand::Rng;

pub use self::backoff::{Backoff, DEFAULT_BASE, InvalidBackoff};
pub use self::condition::{ResponseHints, RetryConditions, RetryOn, UnknownRetryOn};
pub use self::deadline::{TIMEOUT_BODY, TIMEOUT_FLAG, TIMEOUT_STATUS, Timeouts, TryDeadline};
pub use self::profile::{
    GRPC_FAILURES, MAX_REPLAY_BODY, ProfileDecision, ProfileRetry, classify, is_grpc_failure,
};
use crate::resilience::Outcome;
use crate::route::action::RetryPolicy;

/// Envoy's `previous_hosts` predicate retries host selection this many times.
pub const HOST_SELECTION_ATTEMPTS: u32 = 5;

/// A compiled Istio retry policy.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IstioRetry {
    /// Retries allowed after the first try (tries = attempts + 1); 0 disables.
    pub attempts: u32,
    /// What is retried.
    pub conditions: RetryConditions,
    /// Per-try timeout (`None`: each try bounded only by the route timeout).
    pub per_try_timeout: Option<Duration>,
    /// Backoff between tries.
    pub backoff: Backoff,
    /// Re-pick a host other than those already tried (Envoy `previous_hosts`).
    pub avoid_previous_hosts: bool,
}

/// A retry policy this library cannot enforce.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidRetry {
    /// A `retryOn` token Envoy does not know.
    #[error(transparent)]
    Token(#[from] UnknownRetryOn),
    /// A bad backoff.
    #[error(transparent)]
    Backoff(#[from] InvalidBackoff),
}

/// Where circuit-breaker retry slots come from: Envoy's `maxRetries` counter or a retry budget.
/// Every retry needs one; none left means no retry. The permit is held while the retry runs.
pub trait RetryPermits {
    /// Held while the retry is in flight; dropping it returns the slot.
    type Permit;
    /// A slot, or `None` when the circuit breaker is full.
    fn try_acquire_retry(&self) -> Option<Self::Permit>;
}

/// No circuit breaker: every retry gets a permit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Unlimited;

impl RetryPermits for Unlimited {
    type Permit = ();
    fn try_acquire_retry(&self) -> Option<()> {
        Some(())
    }
}

/// Permits from a closure answering "may one more retry start?".
#[derive(Clone, Copy, Debug)]
pub struct FnPermits<F>(pub F);

impl<F: Fn() -> bool> RetryPermits for FnPermits<F> {
    type Permit = ();
    fn try_acquire_retry(&self) -> Option<()> {
        (self.0)().then_some(())
    }
}

impl<T: RetryPermits + ?Sized> RetryPermits for std::sync::Arc<T> {
    type Permit = T::Permit;
    fn try_acquire_retry(&self) -> Option<T::Permit> {
        (**self).try_acquire_retry()
    }
}

/// What happened so far to one request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RetryState<H = String> {
    retries: u32,
    hosts: Vec<H>,
}

/// Retry or not, and why not.
#[derive(Debug, PartialEq, Eq)]
pub enum RetryDecision<P> {
    /// Wait `backoff`, then try again holding `permit`.
    Retry {
        /// Wait before the next try.
        backoff: Duration,
        /// The circuit-breaker slot of this retry.
        permit: P,
    },
    /// Return this outcome to the caller.
    Stop(StopReason),
}

/// Why an attempt's outcome is final.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StopReason {
    /// `retryOn` does not cover it (or it succeeded).
    NotRetryable,
    /// `attempts` retries were already made.
    AttemptsExhausted,
    /// The circuit breaker (`maxRetries` or retry budget) had no slot.
    NoPermit,
}

/// Hosts the next pick should avoid (Envoy `previous_hosts`, as data for the balancer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostAvoidance<'a, H> {
    /// Already tried.
    pub hosts: &'a [H],
    /// How many picks the balancer may make to find another host before using the last.
    pub max_selection_attempts: u32,
}

// === impl IstioRetry ===

impl IstioRetry {
    /// Compiles a route's policy. `consistent_hash` is whether the destination balances by
    /// consistent hashing, in which case Istio does not avoid previous hosts.
    pub fn try_new(policy: &RetryPolicy, consistent_hash: bool) -> Result<Self, InvalidRetry> {
        let conditions = RetryConditions::parse(policy.retry_on.iter().map(String::as_str))?;
        let conditions = RetryConditions::new(
            conditions.iter(),
            conditions
                .codes()
                .iter()
                .chain(&policy.retriable_status_codes)
                .copied(),
        );
        Ok(IstioRetry {
            attempts: policy.attempts,
            conditions,
            per_try_timeout: policy
                .per_try_timeout
                .map(|d| d.to_std())
                .filter(|d| !d.is_zero()),
            backoff: Backoff::try_new(policy.backoff_base.to_std())?,
            avoid_previous_hosts: policy.retry_ignore_previous_hosts && !consistent_hash,
        })
    }

    /// Istio's built-in default: 2 retries on connect-failure, refused-stream, unavailable,
    /// cancelled and retriable-status-codes (no codes, so that token is inert).
    pub fn istio_default() -> Self {
        match Self::try_new(&RetryPolicy::istio_default(), false) {
            Ok(p) => p,
            // The default tokens and backoff are constants known to be valid.
            Err(_) => unreachable!("Istio's default retry policy is valid"),
        }
    }

    /// Istio's inbound (server-side) default since 1.23 for non-gRPC ports: 2 retries on
    /// `reset-before-request` (mesh `defaultInboundHttpRetryPolicy`).
    pub fn inbound_default() -> Self {
        IstioRetry {
            attempts: 2,
            conditions: RetryConditions::new([RetryOn::ResetBeforeRequest], []),
            per_try_timeout: None,
            backoff: Backoff::default(),
            avoid_previous_hosts: false,
        }
    }

    /// No retries.
    pub fn disabled() -> Self {
        IstioRetry {
            attempts: 0,
            conditions: RetryConditions::default(),
            per_try_timeout: None,
            backoff: Backoff::default(),
            avoid_previous_hosts: false,
        }
    }

    /// Decides after an attempt: retryable per `retryOn`, attempts left, then a permit from the
    /// circuit breaker; on success of all three, counts the retry and draws the backoff.
    pub fn decide<P: RetryPermits + ?Sized, H>(
        &self,
        state: &mut RetryState<H>,
        outcome: &Outcome,
        hints: ResponseHints,
        permits: &P,
        rng: &mut (impl Rng + ?Sized),
    ) -> RetryDecision<P::Permit> {
        if !self.conditions.is_retryable_with(outcome, hints) {
            return RetryDecision::Stop(StopReason::NotRetryable);
        }
        if state.retries >= self.attempts {
            return RetryDecision::Stop(StopReason::AttemptsExhausted);
        }
        let Some(permit) = permits.try_acquire_retry() else {
            return RetryDecision::Stop(StopReason::NoPermit);
        };
        state.retries += 1;
        RetryDecision::Retry {
            backoff: self.backoff.delay(state.retries, rng),
            permit,
        }
    }

    /// The hosts the next pick should avoid, when the policy avoids previous hosts.
    pub fn avoid<'a, H>(&self, state: &'a RetryState<H>) -> Option<HostAvoidance<'a, H>> {
        (self.avoid_previous_hosts && !state.hosts.is_empty()).then_some(HostAvoidance {
            hosts: &state.hosts,
            max_selection_attempts: HOST_SELECTION_ATTEMPTS,
        })
    }
}

// === impl RetryState ===

impl<H> RetryState<H> {
    /// A fresh request.
    pub fn new() -> Self {
        RetryState {
            retries: 0,
            hosts: Vec::new(),
        }
    }

    /// Retries made so far.
    pub fn retries(&self) -> u32 {
        self.retries
    }

    /// Records the host an attempt went to.
    pub fn tried(&mut self, host: H) {
        self.hosts.push(host);
    }
}

// === impl HostAvoidance ===

impl<H: PartialEq> HostAvoidance<'_, H> {
    /// Whether `candidate` should be re-picked on selection attempt `attempt` (1-based): yes
    /// while it was tried before and selection attempts remain.
    pub fn reject(&self, candidate: &H, attempt: u32) -> bool {
        attempt < self.max_selection_attempts && self.hosts.contains(candidate)
    }
}

#[cfg(test)]
mod tests;
