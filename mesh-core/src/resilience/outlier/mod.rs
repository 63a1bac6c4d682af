//! Outlier detection (spec §4): Envoy's consecutive-error detector as Istio configures it.
//!
//! Outcomes are recorded per host as they complete and eject immediately (§4.3); un-ejection and
//! the decay of the ejection multiplier happen on interval ticks (§4.4), which
//! [`OutlierDetector::advance`] runs at their scheduled instants. Time is always an argument.
//! Success-rate and failure-percentage detection are not modelled: Istio disables them.

use std::time::{Duration, Instant};

use crate::model::destination::OutlierSettings;
use crate::resilience::Outcome;

/// Configuration the detector cannot enforce.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidOutlier {
    /// `interval` must be at least 1 ms.
    #[error("outlier detection interval must be at least 1ms")]
    ZeroInterval,
    /// `baseEjectionTime` must be at least 1 ms.
    #[error("outlier detection baseEjectionTime must be at least 1ms")]
    ZeroBaseEjectionTime,
    /// An `outlierDetectionHttpErrorCodes` entry that is not an HTTP status.
    #[error("outlierDetectionHttpErrorCodes entry {0} is not an HTTP status (100..=599)")]
    ErrorCode(u32),
    /// A percentage above 100.
    #[error("outlier detection {field} is {value}, above 100")]
    Percent {
        /// `maxEjectionPercent` or `minHealthPercent`.
        field: &'static str,
        /// The value given.
        value: u32,
    },
}

/// Which consecutive-error detector fired.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EjectionKind {
    /// `consecutive5xxErrors`.
    Consecutive5xx,
    /// `consecutiveGatewayErrors` (502, 503, 504).
    ConsecutiveGatewayFailure,
    /// `consecutiveLocalOriginFailures` (split mode only).
    ConsecutiveLocalOriginFailure,
}

/// What recording one outcome did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// Nothing changed the host's health.
    Counted,
    /// The host was ejected until at least `until` (the first tick at or after it un-ejects).
    Ejected {
        /// The detector that fired.
        kind: EjectionKind,
        /// Earliest un-ejection instant.
        until: Instant,
    },
    /// A detector fired but `maxEjectionPercent` forbade the ejection (`ejections_overflow`).
    Overflow {
        /// The detector that fired.
        kind: EjectionKind,
    },
}

/// Detector counters, named after Envoy's `outlier_detection.*` statistics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutlierStats {
    /// Hosts currently ejected (`ejections_active`).
    pub ejections_active: usize,
    /// Ejections performed (`ejections_enforced_total`).
    pub ejections_enforced_total: u64,
    /// Ejections refused by `maxEjectionPercent` (`ejections_overflow`).
    pub ejections_overflow: u64,
    /// Detector events, enforced or not (`ejections_detected_*` summed).
    pub ejections_detected_total: u64,
}

/// The per-host monitor (Envoy `DetectorHostMonitorImpl`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct HostMonitor {
    count_5xx: u32,
    gateway_count: u32,
    local_origin_count: u32,
    ejected: bool,
    /// Backoff multiplier `k` (ejection lasts `min(base × k, max)`).
    multiplier: u32,
    num_ejections: u32,
    last_ejection: Option<Instant>,
    last_unejection: Option<Instant>,
}

/// How an outcome is counted (§4.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Event {
    /// A status code from the upstream (or its non-split-mode equivalent for local failures).
    Status(u16),
    /// A locally originated failure in split mode (connect failure, timeout).
    LocalOriginFailure,
    /// Not an upstream event (circuit-breaker overflow).
    Ignored,
}

/// Envoy's outlier detector for one cluster: hosts are indices `0..len`.
#[derive(Clone, Debug)]
pub struct OutlierDetector {
    settings: OutlierSettings,
    interval: Duration,
    base: Duration,
    /// `max_ejection_time`, never below `base`.
    max: Duration,
    hosts: Vec<HostMonitor>,
    /// `outlierDetectionHttpErrorCodes`, sorted; empty means every 5xx is an error.
    error_codes: Vec<u16>,
    ejected: usize,
    next_tick: Instant,
    stats: OutlierStats,
}

// === impl OutlierDetector ===

impl OutlierDetector {
    /// A detector for `hosts` hosts whose first interval tick is at `now + interval`.
    pub fn try_new(
        settings: &OutlierSettings,
        hosts: usize,
        now: Instant,
    ) -> Result<Self, InvalidOutlier> {
        let ms = crate::resource::Duration::from_millis(1);
        if settings.interval < ms {
            return Err(InvalidOutlier::ZeroInterval);
        }
        if settings.base_ejection_time < ms {
            return Err(InvalidOutlier::ZeroBaseEjectionTime);
        }
        for (field, value) in [
            ("maxEjectionPercent", settings.max_ejection_percent),
            ("minHealthPercent", settings.min_health_percent),
        ] {
            if value > 100 {
                return Err(InvalidOutlier::Percent { field, value });
            }
        }
        let interval = settings.interval.to_std();
        let base = settings.base_ejection_time.to_std();
        Ok(OutlierDetector {
            settings: settings.clone(),
            interval,
            base,
            max: settings.max_ejection_time.to_std().max(base),
            hosts: vec![HostMonitor::default(); hosts],
            ejected: 0,
            next_tick: now + interval,
            stats: OutlierStats::default(),
            error_codes: Vec::new(),
        })
    }

    /// Istio `outlierDetectionHttpErrorCodes`: only these response statuses count as errors
    /// (a listed 5xx counts as itself, a listed non-5xx as a generic 500); every other
    /// response is a success. Local failures are unaffected. Empty restores "every 5xx".
    pub fn with_error_codes(mut self, codes: &[u32]) -> Result<Self, InvalidOutlier> {
        let mut out = Vec::with_capacity(codes.len());
        for c in codes {
            match u16::try_from(*c) {
                Ok(s) if (100..=599).contains(&s) => out.push(s),
                _ => return Err(InvalidOutlier::ErrorCode(*c)),
            }
        }
        out.sort_unstable();
        out.dedup();
        self.error_codes = out;
        Ok(self)
    }

    /// After an endpoint update: host `i` continues the monitor of old host `sources[i]`
    /// (counters, ejection, multiplier); `None` starts a fresh host. Removed hosts are
    /// forgotten, and `maxEjectionPercent` applies to the new host count from now on.
    pub fn remap(&mut self, sources: &[Option<usize>]) {
        let old = std::mem::take(&mut self.hosts);
        self.hosts = sources
            .iter()
            .map(|s| s.and_then(|j| old.get(j).cloned()).unwrap_or_default())
            .collect();
        self.ejected = self.hosts.iter().filter(|h| h.ejected).count();
    }

    /// The settings in force.
    pub fn settings(&self) -> &OutlierSettings {
        &self.settings
    }

    /// Number of hosts.
    pub fn len(&self) -> usize {
        self.hosts.len()
    }

    /// True when the cluster has no hosts.
    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
    }

    /// Whether `host` is currently ejected (out-of-range hosts are not).
    pub fn is_ejected(&self, host: usize) -> bool {
        self.hosts.get(host).is_some_and(|h| h.ejected)
    }

    /// The number of ejected hosts.
    pub fn ejected_count(&self) -> usize {
        self.ejected
    }

    /// The host's backoff multiplier `k` (0 when it never was ejected or fully decayed).
    pub fn multiplier(&self, host: usize) -> u32 {
        self.hosts.get(host).map_or(0, |h| h.multiplier)
    }

    /// How many times the host was ejected in total.
    pub fn num_ejections(&self, host: usize) -> u32 {
        self.hosts.get(host).map_or(0, |h| h.num_ejections)
    }

    /// The ejection time the host's next ejection would get, or its current one when ejected:
    /// `min(base × k, max_ejection_time)`.
    pub fn ejection_time(&self, host: usize) -> Duration {
        let k = self.hosts.get(host).map_or(0, |h| h.multiplier);
        self.duration_for(k)
    }

    /// The instant of the next interval tick.
    pub fn next_tick(&self) -> Instant {
        self.next_tick
    }

    /// Counters.
    pub fn stats(&self) -> OutlierStats {
        OutlierStats {
            ejections_active: self.ejected,
            ..self.stats
        }
    }

    /// Records the outcome of one attempt on `host` at `now` (§4.2) and ejects it at once when
    /// a detector fires and `maxEjectionPercent` allows (§4.3). Outcomes for unknown hosts are
    /// ignored. Call [`advance`](Self::advance) first so that due ticks run before the outcome.
    pub fn record(&mut self, host: usize, outcome: Outcome, now: Instant) -> Recorded {
        let split = self.settings.split_external_local_origin_errors;
        let event = match outcome {
            Outcome::Response { status, .. } if self.error_codes.is_empty() => {
                Event::Status(status)
            }
            Outcome::Response { status, .. } => match self.error_codes.binary_search(&status) {
                Ok(_) if (500..600).contains(&status) => Event::Status(status),
                Ok(_) => Event::Status(500),
                Err(_) => Event::Status(200),
            },
            // Non-split mode: a connect failure counts as 503, a local timeout as 504.
            Outcome::ConnectFailure if split => Event::LocalOriginFailure,
            Outcome::ConnectFailure => Event::Status(503),
            Outcome::PerTryTimeout if split => Event::LocalOriginFailure,
            Outcome::PerTryTimeout => Event::Status(504),
            // A reset after the connection was up is the upstream's doing: 503-equivalent.
            Outcome::Reset { .. } | Outcome::RefusedStream => Event::Status(503),
            Outcome::Overflow => Event::Ignored,
        };
        let Some(h) = self.hosts.get_mut(host) else {
            return Recorded::Counted;
        };
        // Envoy checks the gateway detector before the 5xx one; both may fire on one outcome.
        let mut fired = [None, None];
        match event {
            Event::Ignored => {}
            Event::LocalOriginFailure => {
                h.local_origin_count = h.local_origin_count.saturating_add(1);
                if h.local_origin_count == self.settings.consecutive_local_origin_failures {
                    fired[0] = Some(EjectionKind::ConsecutiveLocalOriginFailure);
                }
            }
            Event::Status(s) if (500..600).contains(&s) => {
                if split {
                    // Any response means the connection worked.
                    h.local_origin_count = 0;
                }
                if matches!(s, 502..=504) {
                    h.gateway_count = h.gateway_count.saturating_add(1);
                    if h.gateway_count == self.settings.consecutive_gateway_errors {
                        fired[0] = Some(EjectionKind::ConsecutiveGatewayFailure);
                    }
                } else {
                    h.gateway_count = 0;
                }
                h.count_5xx = h.count_5xx.saturating_add(1);
                if h.count_5xx == self.settings.consecutive_5xx {
                    fired[1] = Some(EjectionKind::Consecutive5xx);
                }
            }
            Event::Status(_) => {
                h.count_5xx = 0;
                h.gateway_count = 0;
                h.local_origin_count = 0;
            }
        }
        let mut result = Recorded::Counted;
        // A threshold of 0 never equals a positive count, so a disabled detector never fires
        // (Istio sets its enforcement to 0%).
        for kind in fired.into_iter().flatten() {
            let r = self.on_event(host, kind, now);
            if result == Recorded::Counted {
                result = r;
            }
        }
        result
    }

    /// Runs every interval tick due at or before `now`, each at its scheduled instant (§4.4),
    /// calling `on_uneject` for each host brought back. Returns the number of ticks run.
    pub fn advance(&mut self, now: Instant, mut on_uneject: impl FnMut(usize)) -> u32 {
        let mut ticks = 0;
        while self.next_tick <= now {
            let tick = self.next_tick;
            self.sweep(tick, &mut on_uneject);
            self.next_tick = tick + self.interval;
            ticks += 1;
        }
        ticks
    }

    /// One interval tick at `now` (§4.4): un-ejects hosts whose ejection time has passed and
    /// decays the multiplier of hosts healthy for an interval since their last un-ejection.
    /// Does not move the tick schedule; [`advance`](Self::advance) does.
    pub fn sweep(&mut self, now: Instant, mut on_uneject: impl FnMut(usize)) {
        let (interval, base, max) = (self.interval, self.base, self.max);
        for (i, h) in self.hosts.iter_mut().enumerate() {
            if h.ejected {
                let served = base.saturating_mul(h.multiplier).min(max);
                let since = h
                    .last_ejection
                    .map_or(Duration::MAX, |t| now.duration_since(t));
                if since >= served {
                    h.ejected = false;
                    h.count_5xx = 0;
                    h.gateway_count = 0;
                    h.local_origin_count = 0;
                    h.last_unejection = Some(now);
                    self.ejected -= 1;
                    on_uneject(i);
                }
            } else if let Some(t) = h.last_unejection
                && now.duration_since(t) >= interval
            {
                h.multiplier = h.multiplier.saturating_sub(1);
            }
        }
    }

    fn duration_for(&self, k: u32) -> Duration {
        self.base.saturating_mul(k).min(self.max)
    }

    /// §4.3: eject unless already ejected or over `maxEjectionPercent`; then reset the
    /// counter of the detector that fired.
    fn on_event(&mut self, host: usize, kind: EjectionKind, now: Instant) -> Recorded {
        self.stats.ejections_detected_total += 1;
        let n = self.hosts.len() as u64;
        let allowed = u64::from(self.settings.max_ejection_percent.min(100));
        let (base, max) = (self.base, self.max);
        let h = &mut self.hosts[host];
        let result = if h.ejected {
            Recorded::Counted
        } else if 100 * (self.ejected as u64 + 1) > allowed * n {
            // Current Envoy (≥ 1.27): eject iff 100 × (E + 1) / N <= max_ejection_percent.
            self.stats.ejections_overflow += 1;
            Recorded::Overflow { kind }
        } else {
            h.ejected = true;
            h.num_ejections = h.num_ejections.saturating_add(1);
            h.last_ejection = Some(now);
            // The multiplier grows while `k × base < max + base`.
            if base.saturating_mul(h.multiplier) < max.saturating_add(base) {
                h.multiplier += 1;
            }
            self.ejected += 1;
            self.stats.ejections_enforced_total += 1;
            let served = base.saturating_mul(h.multiplier).min(max);
            Recorded::Ejected {
                kind,
                until: now + served,
            }
        };
        let h = &mut self.hosts[host];
        match kind {
            EjectionKind::Consecutive5xx => h.count_5xx = 0,
            EjectionKind::ConsecutiveGatewayFailure => h.gateway_count = 0,
            EjectionKind::ConsecutiveLocalOriginFailure => h.local_origin_count = 0,
        }
        result
    }
}

#[cfg(test)]
mod tests;
