//! Istio fault injection (spec §1.7): a delay and an abort, each firing with its own
//! probability (per million, Istio's `value x 10000` truncated; absent percentage = 0%). If
//! both fire, the delay comes first. An aborted request never reaches retries, the upstream or
//! outlier accounting: the caller answers it locally.

use std::time::Duration;

use rand::{Rng, RngExt};

use crate::route::action::{AbortError, FaultPolicy};

/// One million: the denominator of every fault percentage.
pub const MILLION: u32 = 1_000_000;

pub use crate::resource::GRPC_CODES;

/// A fault the engine cannot inject.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidFault {
    /// A percentage over 100%.
    #[error("fault {which} percentage {per_million} per million is over 100%")]
    Percentage {
        /// `delay` or `abort`.
        which: &'static str,
        /// The value.
        per_million: u32,
    },
    /// `abort.httpStatus` outside 200..=600.
    #[error("fault abort httpStatus {0} must be within 200..=600")]
    HttpStatus(u16),
    /// `abort.grpcStatus` is not a gRPC status name.
    #[error("fault abort grpcStatus {0:?} is not a gRPC status name such as UNAVAILABLE")]
    GrpcStatus(String),
    /// Neither delay nor abort.
    #[error("fault must have a delay or an abort")]
    Empty,
}

/// What an abort answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Abort {
    /// This HTTP status.
    Http(u16),
    /// HTTP 200 with this `grpc-status` (a trailers-only gRPC response).
    Grpc(u8),
}

/// A compiled fault.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FaultInjector {
    delay: Option<(Duration, u32)>,
    abort: Option<(Abort, u32)>,
}

/// What to do to one request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FaultDecision {
    /// Wait this long first.
    pub delay: Option<Duration>,
    /// Then answer this instead of forwarding.
    pub abort: Option<Abort>,
}

// === impl FaultInjector ===

impl FaultInjector {
    /// Compiles a route's fault.
    pub fn try_new(policy: &FaultPolicy) -> Result<Self, InvalidFault> {
        if policy.delay.is_none() && policy.abort.is_none() {
            return Err(InvalidFault::Empty);
        }
        let delay = match &policy.delay {
            Some(d) => Some((d.fixed.to_std(), check("delay", d.per_million)?)),
            None => None,
        };
        let abort = match &policy.abort {
            Some(a) => {
                let what = match &a.error {
                    AbortError::Http(s) if (200..=600).contains(s) => Abort::Http(*s),
                    AbortError::Http(s) => return Err(InvalidFault::HttpStatus(*s)),
                    AbortError::Grpc(name) => Abort::Grpc(grpc_code(name)?),
                };
                Some((what, check("abort", a.per_million)?))
            }
            None => None,
        };
        Ok(FaultInjector { delay, abort })
    }

    /// Draws the decision for one request: two independent draws, delay then abort.
    pub fn decide(&self, rng: &mut (impl Rng + ?Sized)) -> FaultDecision {
        FaultDecision {
            delay: self.delay.and_then(|(d, pm)| fires(pm, rng).then_some(d)),
            abort: self.abort.and_then(|(a, pm)| fires(pm, rng).then_some(a)),
        }
    }
}

// === impl FaultDecision ===

impl FaultDecision {
    /// True when nothing is injected.
    pub fn is_none(&self) -> bool {
        self.delay.is_none() && self.abort.is_none()
    }
}

/// The code of a gRPC status name (`UNAVAILABLE` -> 14).
pub fn grpc_code(name: &str) -> Result<u8, InvalidFault> {
    GRPC_CODES
        .iter()
        .position(|n| *n == name)
        .map(|i| i as u8)
        .ok_or_else(|| InvalidFault::GrpcStatus(name.to_owned()))
}

fn check(which: &'static str, per_million: u32) -> Result<u32, InvalidFault> {
    if per_million > MILLION {
        return Err(InvalidFault::Percentage { which, per_million });
    }
    Ok(per_million)
}

/// Fires with probability `per_million / 10^6`; 0 never draws.
fn fires(per_million: u32, rng: &mut (impl Rng + ?Sized)) -> bool {
    match per_million {
        0 => false,
        MILLION.. => true,
        pm => rng.random_range(0..MILLION) < pm,
    }
}

#[cfg(test)]
mod tests;
