//! The standalone resilience engines the bindings expose: a Linkerd retry budget and Envoy's
//! outlier detector over named hosts. Time is read from a monotonic clock here, at the
//! boundary, and handed to the pure engines; `advance` moves that clock forward on purpose
//! (simulations, tests).

use std::time::{Duration, Instant};

use mesh_core::model::destination::OutlierSettings;
use mesh_core::profile::RetryBudgetSettings;
use mesh_core::resilience::Outcome;
use mesh_core::resilience::budget::{InvalidBudget, RetryBudget};
use mesh_core::resilience::outlier::{InvalidOutlier, OutlierDetector, Recorded};
use serde::Deserialize;

/// Settings a binding could not turn into an engine.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum InvalidSettings {
    /// The retry budget's settings.
    #[error(transparent)]
    Budget(#[from] InvalidBudget),
    /// `ttl_seconds` is not a finite number of seconds.
    #[error("ttl_seconds must be a finite number of seconds")]
    TtlSeconds,
    /// The detector's settings.
    #[error(transparent)]
    Outlier(#[from] InvalidOutlier),
    /// The detector's settings document (a field, a type).
    #[error("outlier settings: {0}")]
    Spec(String),
    /// A host named twice in the detector's list.
    #[error("host {0:?} listed twice")]
    DuplicateHost(String),
    /// A host the detector does not know.
    #[error("unknown host {0:?}")]
    UnknownHost(String),
    /// `advance` by a negative or non-finite number of seconds.
    #[error("cannot advance by {0} seconds: give a finite number >= 0")]
    Advance(f64),
    /// A status that is not an HTTP status (100..=599).
    #[error("status {0} is not an HTTP status (100..=599)")]
    Status(u32),
}

/// The monotonic clock at the boundary, plus the time skipped with `advance`.
#[derive(Clone, Copy, Debug)]
struct Clock {
    skipped: Duration,
}

impl Clock {
    const fn new() -> Self {
        Clock {
            skipped: Duration::ZERO,
        }
    }

    fn now(&self) -> Instant {
        Instant::now() + self.skipped
    }

    fn advance(&mut self, seconds: f64) -> Result<(), InvalidSettings> {
        let d =
            Duration::try_from_secs_f64(seconds).map_err(|_| InvalidSettings::Advance(seconds))?;
        self.skipped += d;
        Ok(())
    }
}

/// A Linkerd retry budget used on its own: every request deposits, every retry withdraws.
#[derive(Debug)]
pub struct Budget {
    /// Boxed: the engine is 128-byte aligned (its slots own their cache lines), which host
    /// objects (pyo3 classes) do not honour; the heap does.
    budget: Box<RetryBudget>,
    clock: Clock,
}

impl Budget {
    /// `retry_ratio` retries per request, plus `min_retries_per_second` over a window of
    /// `ttl_seconds` (Linkerd: ratio in `[0, 1000]`, ttl in `[1s, 60s]`).
    pub fn try_new(
        retry_ratio: f64,
        min_retries_per_second: u32,
        ttl_seconds: f64,
    ) -> Result<Self, InvalidSettings> {
        if !ttl_seconds.is_finite() || !(0.0..=3600.0).contains(&ttl_seconds) {
            return Err(InvalidSettings::TtlSeconds);
        }
        // Bounded above, so the cast cannot saturate.
        let ms = (ttl_seconds * 1000.0).round() as u64;
        let settings = RetryBudgetSettings {
            retry_ratio,
            min_retries_per_second,
            ttl: mesh_core::resource::Duration::from_millis(ms),
        };
        let clock = Clock::new();
        Ok(Budget {
            budget: Box::new(RetryBudget::try_new(&settings, clock.now())?),
            clock,
        })
    }

    /// One request: adds its share of retries to the budget.
    pub fn deposit(&self) {
        self.budget.deposit(self.clock.now());
    }

    /// One retry: true, and the budget spent, when it allows one.
    pub fn withdraw(&self) -> bool {
        self.budget.withdraw(self.clock.now())
    }

    /// Moves this budget's clock `seconds` forward (old deposits expire after the ttl).
    pub fn advance(&mut self, seconds: f64) -> Result<(), InvalidSettings> {
        self.clock.advance(seconds)
    }
}

/// The detector's settings with the Istio `outlierDetection` names in snake case; durations
/// are Istio strings (`"30s"`). Absent fields take Envoy's defaults.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutlierSpec {
    /// The hosts, by name; an index into this list is the engine's host.
    pub hosts: Vec<String>,
    /// `consecutive5xxErrors` (5; 0 disables).
    pub consecutive_5xx: Option<u32>,
    /// `consecutiveGatewayErrors` (off).
    pub consecutive_gateway_errors: Option<u32>,
    /// `interval` (10s).
    pub interval: Option<mesh_core::resource::Duration>,
    /// `baseEjectionTime` (30s).
    pub base_ejection_time: Option<mesh_core::resource::Duration>,
    /// `maxEjectionTime` (300s).
    pub max_ejection_time: Option<mesh_core::resource::Duration>,
    /// `maxEjectionPercent` (10).
    pub max_ejection_percent: Option<u32>,
    /// `minHealthPercent` (0).
    pub min_health_percent: Option<u32>,
}

/// Envoy's consecutive-error outlier detector over named hosts.
#[derive(Debug)]
pub struct Detector {
    detector: OutlierDetector,
    hosts: Vec<String>,
    clock: Clock,
}

impl OutlierSpec {
    /// Parses the JSON form (the C binding's input). The error names the field.
    pub fn from_json(text: &str) -> Result<Self, InvalidSettings> {
        let mut de = serde_json::Deserializer::from_str(text);
        let spec = Self::deserialize_named(&mut de)?;
        de.end().map_err(|e| InvalidSettings::Spec(e.to_string()))?;
        Ok(spec)
    }

    /// Deserializes from any serde format; the error starts with the offending field's path.
    pub fn deserialize_named<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Self, InvalidSettings> {
        serde_path_to_error::deserialize(d).map_err(|e| {
            let path = e.path().to_string();
            InvalidSettings::Spec(if path == "." {
                e.into_inner().to_string()
            } else {
                format!("{path}: {}", e.into_inner())
            })
        })
    }

    fn settings(&self) -> OutlierSettings {
        let mut s = OutlierSettings::defaults();
        if let Some(v) = self.consecutive_5xx {
            s.consecutive_5xx = v;
        }
        if let Some(v) = self.consecutive_gateway_errors {
            s.consecutive_gateway_errors = v;
        }
        if let Some(v) = self.interval {
            s.interval = v;
        }
        if let Some(v) = self.base_ejection_time {
            s.base_ejection_time = v;
        }
        if let Some(v) = self.max_ejection_time {
            s.max_ejection_time = v;
        }
        if let Some(v) = self.max_ejection_percent {
            s.max_ejection_percent = v;
        }
        if let Some(v) = self.min_health_percent {
            s.min_health_percent = v;
        }
        s
    }
}

impl Detector {
    /// A detector for `spec.hosts`, all healthy.
    pub fn try_new(spec: OutlierSpec) -> Result<Self, InvalidSettings> {
        for (i, h) in spec.hosts.iter().enumerate() {
            if spec.hosts[..i].contains(h) {
                return Err(InvalidSettings::DuplicateHost(h.clone()));
            }
        }
        let clock = Clock::new();
        let detector = OutlierDetector::try_new(&spec.settings(), spec.hosts.len(), clock.now())?;
        Ok(Detector {
            detector,
            hosts: spec.hosts,
            clock,
        })
    }

    /// Records a response `status` from `host`; true when this response ejected it.
    pub fn record(&mut self, host: &str, status: u32) -> Result<bool, InvalidSettings> {
        let i = self
            .hosts
            .iter()
            .position(|h| h == host)
            .ok_or_else(|| InvalidSettings::UnknownHost(host.to_owned()))?;
        let status = u16::try_from(status)
            .ok()
            .filter(|s| (100..=599).contains(s))
            .ok_or(InvalidSettings::Status(status))?;
        let now = self.clock.now();
        self.detector.advance(now, |_| {});
        let outcome = Outcome::Response {
            status,
            grpc_status: None,
        };
        let r = self.detector.record(i, outcome, now);
        Ok(matches!(r, Recorded::Ejected { .. }))
    }

    /// The hosts ejected now, in list order.
    pub fn ejected(&mut self) -> Vec<String> {
        self.detector.advance(self.clock.now(), |_| {});
        let d = &self.detector;
        let hosts = self.hosts.iter().enumerate();
        hosts
            .filter(|(i, _)| d.is_ejected(*i))
            .map(|(_, h)| h.clone())
            .collect()
    }

    /// Moves the detector's clock `seconds` forward, running the interval ticks now due
    /// (un-ejections).
    pub fn advance(&mut self, seconds: f64) -> Result<(), InvalidSettings> {
        self.clock.advance(seconds)?;
        self.detector.advance(self.clock.now(), |_| {});
        Ok(())
    }
}
