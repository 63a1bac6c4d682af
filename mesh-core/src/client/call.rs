//! One outbound request in flight: the attempt the host is sending, and what to do once it
//! reports how that attempt went.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{HeaderMap, Request};
use rand::SeedableRng;
use rand::rngs::StdRng;

use super::cluster::{ClusterState, RetryPermit};
use super::{Endpoint, LocalResponse};
use crate::layer::mesh::edit;
use crate::resilience::Outcome;
use crate::resilience::budget::RetryBudget;
use crate::resilience::envoy_budget::ActiveRequest;
use crate::resilience::pool::Permit;
use crate::resilience::retry::{
    IstioRetry, ProfileDecision, ProfileRetry, ResponseHints, RetryDecision, RetryState,
    TIMEOUT_BODY, TIMEOUT_FLAG, TIMEOUT_STATUS, Timeouts, TryDeadline,
};
use crate::route::action::HeaderOperations;

/// A routed request being sent by the host: see [`Client::begin`](super::Client::begin).
///
/// Dropping a call ends the attempt in flight without recording it.
#[derive(Debug)]
pub struct Call {
    request: Request<()>,
    endpoint: Endpoint,
    delay: Option<Duration>,
    timeouts: Timeouts,
    retries: Retries,
    state: RetryState<usize>,
    cluster: Arc<ClusterState>,
    /// The endpoint index of the attempt in flight (`None` once the call is over).
    in_flight: Option<usize>,
    replayable: bool,
    is_grpc: bool,
    /// When the first attempt starts (after the fault delay).
    start: Instant,
    rng: StdRng,
    /// Response header operations: the route's, then the destination's (non-empty ones).
    pub(super) response_headers: Vec<HeaderOperations>,
    /// The circuit breaker's request slot, for the whole call.
    _request: Permit,
    /// Envoy counts the call as active for the retry budget.
    _active: Option<ActiveRequest>,
    /// The slot of the retry in flight.
    retry: Option<RetryPermit>,
}

/// What to do after an attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Next {
    /// The attempt's response is the answer: return it (after [`Call::edit_response`]).
    Done,
    /// Wait `delay` (the retry backoff), then send the request again to `endpoint`.
    Retry {
        /// The backoff.
        delay: Duration,
        /// Where the next attempt goes.
        endpoint: Endpoint,
    },
    /// Answer this instead: the attempt failed without a response and is not retried (504 `UT`
    /// after a per-try timeout, 503 `UF` after a connect failure, 503 `UR` after a reset), or
    /// no endpoint is left for the retry (503 `UH`).
    Respond(LocalResponse),
}

/// The retry policy of one call.
#[derive(Debug)]
pub(super) enum Retries {
    /// VirtualService retries (or Istio's default).
    Istio(IstioRetry),
    /// Linkerd retries of an `isRetryable` ServiceProfile route, within the profile's budget.
    Profile {
        policy: ProfileRetry,
        budget: Arc<RetryBudget>,
    },
}

/// What [`Call::start`] needs beside the cluster.
pub(super) struct Setup {
    pub(super) retries: Retries,
    pub(super) timeout: Option<Duration>,
    pub(super) delay: Option<Duration>,
    pub(super) body_len: Option<u64>,
    pub(super) start: Instant,
}

const NO_HEALTHY_UPSTREAM: &str = "no healthy upstream";
const CONNECT_FAILURE: &str =
    "upstream connect error or disconnect/reset before headers. reset reason: connection failure";
const RESET: &str = "upstream connect error or disconnect/reset before headers. reset reason: connection termination";
const OVERFLOW: &str =
    "upstream connect error or disconnect/reset before headers. reset reason: overflow";

// === impl Call ===

impl Call {
    /// Takes the circuit breaker's request slot and picks the first endpoint; a local answer
    /// (503 `UO` or `UH`) when either fails.
    pub(super) fn start(
        cluster: Arc<ClusterState>,
        request: Request<()>,
        setup: Setup,
        rng: &mut StdRng,
    ) -> Result<Call, LocalResponse> {
        let permit = cluster.try_acquire_request().map_err(|_| overflow())?;
        let Some(index) = cluster.pick(&request, None, setup.start) else {
            return Err(no_healthy_upstream());
        };
        let per_try = match &setup.retries {
            Retries::Istio(p) => p.per_try_timeout,
            Retries::Profile { .. } => None,
        };
        let replayable = match &setup.retries {
            Retries::Istio(_) => setup.body_len.is_some(),
            Retries::Profile { policy, .. } => policy.body_replayable(setup.body_len),
        };
        let is_grpc = request
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/grpc"));
        Ok(Call {
            endpoint: cluster.endpoint(index).clone(),
            request,
            delay: setup.delay,
            timeouts: Timeouts::new(setup.timeout, per_try),
            retries: setup.retries,
            state: RetryState::new(),
            _active: cluster.start_request(),
            cluster,
            in_flight: Some(index),
            replayable,
            is_grpc,
            start: setup.start,
            rng: StdRng::from_rng(rng),
            response_headers: Vec::new(),
            _request: permit,
            retry: None,
        })
    }

    /// The request to send: URI and `Host` rewritten, request header operations applied.
    pub fn request(&self) -> &Request<()> {
        &self.request
    }

    /// The endpoint of the attempt to send now.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The fault delay to wait before the first attempt (not counted in the route timeout).
    pub fn delay(&self) -> Option<Duration> {
        self.delay
    }

    /// The route timeout, covering every attempt and backoff (`None`: disabled).
    pub fn timeout(&self) -> Option<Duration> {
        self.timeouts.route
    }

    /// The per-try timeout (`None`: each attempt is bounded only by the route timeout).
    pub fn per_try_timeout(&self) -> Option<Duration> {
        self.timeouts.per_try
    }

    /// Retries made so far.
    pub fn retries(&self) -> u32 {
        self.state.retries()
    }

    /// When the attempt starting at `now` is cut: at its per-try timeout (report
    /// [`Outcome::PerTryTimeout`] to [`finish`](Self::finish)) or at the route deadline (call
    /// [`timed_out`](Self::timed_out)), whichever comes first.
    pub fn try_deadline(&self, now: Instant) -> TryDeadline {
        self.timeouts.try_deadline(self.start, now)
    }

    /// Ends the attempt in flight with `outcome` at `now`: records it with the outlier
    /// detector, then retries per the route's policy or ends the call.
    pub fn finish(&mut self, outcome: Outcome, now: Instant) -> Next {
        let Some(index) = self.in_flight.take() else {
            return Next::Done;
        };
        self.cluster.finish(index, Some(outcome), now);
        // The retry that just ended gives its slot back.
        self.retry = None;
        self.state.tried(index);
        let retry = match &self.retries {
            Retries::Istio(policy) if self.replayable => {
                let hints = ResponseHints::default();
                match policy.decide(
                    &mut self.state,
                    &outcome,
                    hints,
                    &*self.cluster,
                    &mut self.rng,
                ) {
                    RetryDecision::Retry { backoff, permit } => Some((backoff, Some(permit))),
                    RetryDecision::Stop(_) => None,
                }
            }
            Retries::Istio(_) => None,
            Retries::Profile { policy, budget } => {
                match policy.decide(&outcome, self.is_grpc, self.replayable, budget, now) {
                    // Linkerd retries at once.
                    ProfileDecision::Retry => Some((Duration::ZERO, None)),
                    ProfileDecision::Return { .. } | ProfileDecision::Exhausted => None,
                }
            }
        };
        let Some((backoff, permit)) = retry else {
            return final_answer(outcome);
        };
        if !self.timeouts.retry_fits(self.start, now, backoff) {
            // Envoy: the route deadline falls within the backoff, so it answers 504 then.
            return Next::Respond(route_timeout());
        }
        let avoid = match &self.retries {
            Retries::Istio(p) => p.avoid(&self.state),
            Retries::Profile { .. } => None,
        };
        let avoid = avoid.map(|a| (a.hosts, a.max_selection_attempts));
        let Some(next) = self.cluster.pick(&self.request, avoid, now + backoff) else {
            return Next::Respond(no_healthy_upstream());
        };
        self.in_flight = Some(next);
        self.retry = permit;
        self.endpoint = self.cluster.endpoint(next).clone();
        Next::Retry {
            delay: backoff,
            endpoint: self.endpoint.clone(),
        }
    }

    /// The route timeout fired: the attempt in flight is abandoned (not recorded as an
    /// outcome) and the answer is Envoy's 504 `UT` `upstream request timeout`.
    pub fn timed_out(&mut self) -> LocalResponse {
        if let Some(index) = self.in_flight.take() {
            self.cluster.finish(index, None, self.start);
        }
        route_timeout()
    }

    /// Applies the route's and the destination's response header operations.
    pub fn edit_response(&self, headers: &mut HeaderMap) {
        for ops in &self.response_headers {
            edit::apply_headers(headers, ops);
        }
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        if let Some(index) = self.in_flight.take() {
            self.cluster.finish(index, None, self.start);
        }
    }
}

/// The last attempt's outcome is the answer.
fn final_answer(outcome: Outcome) -> Next {
    match outcome {
        Outcome::Response { .. } => Next::Done,
        Outcome::PerTryTimeout => Next::Respond(route_timeout()),
        Outcome::ConnectFailure => Next::Respond(LocalResponse::text(503, CONNECT_FAILURE, "UF")),
        Outcome::Reset { .. } | Outcome::RefusedStream => {
            Next::Respond(LocalResponse::text(503, RESET, "UR"))
        }
        Outcome::Overflow => Next::Respond(overflow()),
    }
}

/// Envoy's 504 `UT`.
fn route_timeout() -> LocalResponse {
    LocalResponse::text(TIMEOUT_STATUS, TIMEOUT_BODY, TIMEOUT_FLAG)
}

/// Envoy's 503 `UH`.
fn no_healthy_upstream() -> LocalResponse {
    LocalResponse::text(503, NO_HEALTHY_UPSTREAM, "UH")
}

/// Envoy's 503 `UO`, with `x-envoy-overloaded`.
fn overflow() -> LocalResponse {
    let mut rsp = LocalResponse::text(503, OVERFLOW, "UO");
    rsp.headers
        .push(("x-envoy-overloaded".to_owned(), "true".to_owned()));
    rsp
}
