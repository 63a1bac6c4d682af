//! When each request is due: request `i` at `i / rate` after the start.

use std::time::Duration;

#[cfg(test)]
mod tests;

/// A fixed-rate schedule over a measured window, checked once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    rate: u32,
    duration: Duration,
}

/// Why a schedule was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidSchedule {
    /// The rate was zero requests per second.
    #[error("the rate must be at least 1 request per second")]
    ZeroRate,
    /// The measured window was empty.
    #[error("the duration must be longer than zero")]
    ZeroDuration,
}

// === impl Schedule ===

impl Schedule {
    /// `rate` requests per second for `duration`.
    pub fn try_new(rate: u32, duration: Duration) -> Result<Self, InvalidSchedule> {
        if rate == 0 {
            return Err(InvalidSchedule::ZeroRate);
        }
        if duration.is_zero() {
            return Err(InvalidSchedule::ZeroDuration);
        }
        Ok(Self { rate, duration })
    }

    /// Requests per second.
    pub const fn rate(&self) -> u32 {
        self.rate
    }

    /// The measured window.
    pub const fn duration(&self) -> Duration {
        self.duration
    }

    /// The offset from the start at which request `i` is due: exactly `i / rate` seconds,
    /// computed in integer nanoseconds so that it never drifts.
    pub fn offset(&self, i: u64) -> Duration {
        let nanos = u128::from(i) * 1_000_000_000 / u128::from(self.rate);
        // A u64 of nanoseconds is 584 years: a schedule never gets there.
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// How many requests are due inside the window: every `i` whose offset is before its end.
    pub fn len(&self) -> u64 {
        // offset(i) < duration  <=>  i * 1e9 < duration_ns * rate (integer, exact).
        let scaled = self.duration.as_nanos() * u128::from(self.rate);
        let n = scaled.div_ceil(1_000_000_000);
        u64::try_from(n).unwrap_or(u64::MAX)
    }

    /// Whether no request is due (never true for a checked schedule; here for clippy's
    /// `len_without_is_empty`).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
