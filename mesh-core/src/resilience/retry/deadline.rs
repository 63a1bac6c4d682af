//! Route timeout and per-try timeout (spec §1.7, §5.2): the route timeout bounds the whole
//! request, retries and backoff included; each try is also cut by `perTryTimeout`. A route
//! timeout answers 504 with response flag `UT` and body `upstream request timeout`, and is never
//! retried.

use std::time::{Duration, Instant};

/// Status of a route timeout.
pub const TIMEOUT_STATUS: u16 = 504;
/// Envoy response flag of a route timeout.
pub const TIMEOUT_FLAG: &str = "UT";
/// Body of a route timeout.
pub const TIMEOUT_BODY: &str = "upstream request timeout";

/// The two timeouts of a route. `None` is disabled (Istio's default for the route timeout; a
/// zero duration also disables it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Timeouts {
    /// Whole-request budget.
    pub route: Option<Duration>,
    /// Each try.
    pub per_try: Option<Duration>,
}

// === impl Timeouts ===

impl Timeouts {
    /// Zero durations mean "disabled", as Istio's `timeout: 0s`.
    pub fn new(route: Option<Duration>, per_try: Option<Duration>) -> Self {
        Timeouts {
            route: route.filter(|d| !d.is_zero()),
            per_try: per_try.filter(|d| !d.is_zero()),
        }
    }

    /// When the whole request expires, for a request that started at `start`.
    pub fn request_deadline(&self, start: Instant) -> Option<Instant> {
        self.route.map(|d| start + d)
    }

    /// When a try started at `now` is cut: the per-try timeout or the route deadline, whichever
    /// is first. A per-try timeout longer than what remains of the route timeout is cut by the
    /// route timeout, and that expiry is a route timeout (504 `UT`, not retried).
    pub fn try_deadline(&self, start: Instant, now: Instant) -> TryDeadline {
        let route = self.request_deadline(start);
        let per_try = self.per_try.map(|d| now + d);
        match (per_try, route) {
            (Some(p), Some(r)) if p < r => TryDeadline::PerTry(p),
            (_, Some(r)) => TryDeadline::Route(r),
            (Some(p), None) => TryDeadline::PerTry(p),
            (None, None) => TryDeadline::None,
        }
    }

    /// Whether a retry may still start after waiting `backoff` from `now`: not when the route
    /// deadline falls within the wait (Envoy answers 504 then).
    pub fn retry_fits(&self, start: Instant, now: Instant, backoff: Duration) -> bool {
        self.request_deadline(start)
            .is_none_or(|deadline| now + backoff < deadline)
    }
}

/// What cuts one try.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TryDeadline {
    /// Nothing.
    None,
    /// The per-try timeout, at this instant: a local reset, retryable per `retryOn`.
    PerTry(Instant),
    /// The route timeout, at this instant: the request ends with 504 `UT`.
    Route(Instant),
}

// === impl TryDeadline ===

impl TryDeadline {
    /// The instant, if any.
    pub fn at(self) -> Option<Instant> {
        match self {
            TryDeadline::None => None,
            TryDeadline::PerTry(t) | TryDeadline::Route(t) => Some(t),
        }
    }
}
