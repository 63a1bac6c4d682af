//! Linkerd ServiceProfile retries (spec §5.3, §9.3): retry what the route's response classes
//! call a failure, only on `isRetryable` routes, only within the retry budget, never transport
//! errors, never requests whose body is over 64 KiB.

use std::time::{Duration, Instant};

use crate::profile::{ProfileRoute, ResponseClassRule};
use crate::resilience::Outcome;
use crate::resilience::budget::RetryBudget;

/// Bodies larger than this are never retried (Linkerd buffers at most 64 KiB for replay).
pub const MAX_REPLAY_BODY: usize = 64 * 1024;

/// gRPC codes Linkerd's default classification calls failures: UNKNOWN, DEADLINE_EXCEEDED,
/// PERMISSION_DENIED, INTERNAL, UNAVAILABLE, DATA_LOSS.
pub const GRPC_FAILURES: [u8; 6] = [2, 4, 7, 13, 14, 15];

/// Whether a gRPC status is a failure for Linkerd's default classification.
pub fn is_grpc_failure(code: u8) -> bool {
    GRPC_FAILURES.contains(&code)
}

/// Linkerd's response classification (§9.3); `true` is a failure.
///
/// * No classes: a gRPC request is classified by `grpc-status` (a missing status is a success,
///   Linkerd's quirk); other requests fail on 5xx.
/// * Classes: the first whose condition matches decides; if none matches, a response carrying
///   `grpc-status` is classified by it, anything else fails on 5xx.
pub fn classify(
    classes: &[ResponseClassRule],
    request_is_grpc: bool,
    status: u16,
    grpc_status: Option<u8>,
) -> bool {
    if classes.is_empty() {
        if request_is_grpc {
            return grpc_status.is_some_and(is_grpc_failure);
        }
        return (500..=599).contains(&status);
    }
    if let Some(class) = classes.iter().find(|c| c.condition.matches(status)) {
        return class.is_failure;
    }
    match grpc_status {
        Some(code) => is_grpc_failure(code),
        None => (500..=599).contains(&status),
    }
}

/// The retry behaviour of one ServiceProfile route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfileRetry {
    /// Response classes, in order.
    pub classes: Vec<ResponseClassRule>,
    /// `isRetryable`.
    pub retryable: bool,
    /// The route's timeout (bounds the request including retries).
    pub timeout: Option<Duration>,
}

/// What the retry layer does with one attempt's outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProfileDecision {
    /// Send the request again (a budget withdrawal was made).
    Retry,
    /// Return this outcome; `deposited` when it counted towards the budget.
    Return {
        /// A deposit was made.
        deposited: bool,
    },
    /// A retryable failure the budget had no tokens for: return it (no deposit).
    Exhausted,
}

// === impl ProfileRetry ===

impl ProfileRetry {
    /// From a compiled route.
    pub fn new(route: &ProfileRoute) -> Self {
        ProfileRetry {
            classes: route.response_classes.clone(),
            retryable: route.retryable,
            timeout: route.timeout.map(|t| t.to_std()).filter(|t| !t.is_zero()),
        }
    }

    /// Whether a request with this body size may be retried at all (`None`: unknown length,
    /// decided once buffering ends).
    pub fn body_replayable(&self, body_len: Option<u64>) -> bool {
        self.retryable && body_len.is_some_and(|n| n <= MAX_REPLAY_BODY as u64)
    }

    /// Decides after an attempt (`linkerd/app/outbound/src/http/retry.rs`): a failure on a
    /// retryable route withdraws from the budget and is retried if that succeeds (no deposit
    /// otherwise); anything else, transport errors included, deposits. A request that cannot be
    /// replayed, or a non-retryable route, never touches the budget.
    pub fn decide(
        &self,
        outcome: &Outcome,
        request_is_grpc: bool,
        replayable: bool,
        budget: &RetryBudget,
        now: Instant,
    ) -> ProfileDecision {
        if !self.retryable || !replayable {
            return ProfileDecision::Return { deposited: false };
        }
        let failure = match *outcome {
            Outcome::Response {
                status,
                grpc_status,
            } => classify(&self.classes, request_is_grpc, status, grpc_status),
            _ => false,
        };
        if !failure {
            budget.deposit(now);
            return ProfileDecision::Return { deposited: true };
        }
        if budget.withdraw(now) {
            ProfileDecision::Retry
        } else {
            ProfileDecision::Exhausted
        }
    }
}
