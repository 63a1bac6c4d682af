//! Time for the tower layers. Engines never read a clock: they take `now` as an argument; layers
//! read it through a [`Clock`], tokio's by default, so tests run under paused tokio time.

use std::time::Instant;

/// A source of the current time.
pub trait Clock: Clone + Send + Sync + 'static {
    /// Now.
    fn now(&self) -> Instant;
}

/// Tokio's clock: real time, or the paused test clock under `tokio::time::pause`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TokioClock;

impl Clock for TokioClock {
    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }
}
