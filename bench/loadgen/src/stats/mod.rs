//! What the run measured: latencies from each request's scheduled time, errors, and the report.

use std::time::{Duration, Instant};

#[cfg(test)]
mod tests;

/// Collects the outcome of every request that finished inside the measured window.
#[derive(Clone, Debug)]
pub struct Recorder {
    end: Instant,
    latencies: Vec<Duration>,
    responses: u64,
    non_2xx: u64,
    transport: u64,
}

/// The figures of one run; latencies in milliseconds.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// Responses fully read inside the window, any status.
    pub requests: u64,
    /// `requests` per second of the window.
    pub rps: f64,
    /// Non-2xx responses plus transport errors (refused, reset, malformed).
    pub errors: u64,
    /// Requests due inside the window that had not finished by its end (in flight or still
    /// waiting for a free connection): not errors, and not in the latencies.
    pub pending: u64,
    /// Median latency of the 2xx responses, from each request's scheduled time.
    pub p50_ms: Option<f64>,
    /// 90th percentile.
    pub p90_ms: Option<f64>,
    /// 99th percentile.
    pub p99_ms: Option<f64>,
}

/// The exact `permille`-th percentile of `sorted` (nearest rank: the smallest sample with at
/// least that share of the samples at or below it); `None` for no samples.
pub fn percentile(sorted: &[Duration], permille: u32) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let n = sorted.len() as u64;
    let rank = (u64::from(permille.min(1000)) * n).div_ceil(1000).max(1);
    let idx = usize::try_from(rank - 1)
        .unwrap_or(usize::MAX)
        .min(sorted.len() - 1);
    Some(sorted[idx])
}

fn ms(d: Option<Duration>) -> Option<f64> {
    d.map(|d| d.as_secs_f64() * 1e3)
}

// === impl Recorder ===

impl Recorder {
    /// A recorder for a window that ends at `end`; outcomes after it count as pending.
    pub fn new(end: Instant, expected: usize) -> Self {
        Self {
            end,
            latencies: Vec::with_capacity(expected),
            responses: 0,
            non_2xx: 0,
            transport: 0,
        }
    }

    /// A response to the request scheduled at `scheduled`, fully read at `done`. Its latency is
    /// `done - scheduled`: the time it waited for a free connection is part of it
    /// (coordinated-omission correction).
    pub fn response(&mut self, scheduled: Instant, done: Instant, success: bool) {
        if done > self.end {
            return;
        }
        self.responses += 1;
        if success {
            self.latencies
                .push(done.saturating_duration_since(scheduled));
        } else {
            self.non_2xx += 1;
        }
    }

    /// A request that failed below HTTP at `done` (connect, reset, malformed response).
    pub fn transport_error(&mut self, done: Instant) {
        if done <= self.end {
            self.transport += 1;
        }
    }

    /// The report for a window of `duration` in which `due` requests were scheduled.
    pub fn report(mut self, due: u64, duration: Duration) -> Report {
        self.latencies.sort_unstable();
        let finished = self.responses + self.transport;
        Report {
            requests: self.responses,
            rps: self.responses as f64 / duration.as_secs_f64(),
            errors: self.non_2xx + self.transport,
            pending: due.saturating_sub(finished),
            p50_ms: ms(percentile(&self.latencies, 500)),
            p90_ms: ms(percentile(&self.latencies, 900)),
            p99_ms: ms(percentile(&self.latencies, 990)),
        }
    }
}
