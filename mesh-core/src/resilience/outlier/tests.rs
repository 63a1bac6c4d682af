use std::time::{Duration, Instant};

use crate::resource::Duration as Cfg;

use proptest::prelude::*;

use super::*;

const A: usize = 0;
const B: usize = 1;
const C: usize = 2;

/// An arbitrary origin: the tests only add durations to it, never wait.
#[allow(clippy::disallowed_methods)]
fn origin() -> Instant {
    Instant::now()
}

fn status(s: u16) -> Outcome {
    Outcome::Response {
        status: s,
        grpc_status: None,
    }
}

fn settings(consecutive_5xx: u32, max_ejection_percent: u32) -> OutlierSettings {
    OutlierSettings {
        consecutive_5xx,
        max_ejection_percent,
        ..OutlierSettings::defaults()
    }
}

fn secs(t0: Instant, s: u64) -> Instant {
    t0 + Duration::from_secs(s)
}

/// Runs the ticks due at `now` and returns the hosts they un-ejected.
fn tick(d: &mut OutlierDetector, now: Instant) -> Vec<usize> {
    let mut back = Vec::new();
    d.advance(now, |h| back.push(h));
    back
}

fn fail(d: &mut OutlierDetector, host: usize, codes: &[u16], now: Instant) -> Recorded {
    let mut last = Recorded::Counted;
    for c in codes {
        last = d.record(host, status(*c), now);
    }
    last
}

#[test]
fn worked_example_section_4_6() {
    let t0 = origin();
    let cfg = OutlierSettings {
        consecutive_5xx: 3,
        interval: Cfg::from_secs(10),
        base_ejection_time: Cfg::from_secs(30),
        max_ejection_percent: 50,
        ..OutlierSettings::defaults()
    };
    let mut d = OutlierDetector::try_new(&cfg, 4, t0).unwrap();

    // t=2: A returns 503, 500, 503 -> 25% <= 50% -> ejected for 30 s.
    assert!(tick(&mut d, secs(t0, 2)).is_empty());
    assert_eq!(
        fail(&mut d, A, &[503, 500, 503], secs(t0, 2)),
        Recorded::Ejected {
            kind: EjectionKind::Consecutive5xx,
            until: secs(t0, 32)
        }
    );
    assert_eq!(d.multiplier(A), 1);

    // t=5: B -> 50% <= 50% -> ejected.
    assert!(matches!(
        fail(&mut d, B, &[500, 500, 500], secs(t0, 5)),
        Recorded::Ejected { until, .. } if until == secs(t0, 35)
    ));

    // t=7: C -> 75% > 50% -> overflow, counter reset (two more failures do not fire).
    assert_eq!(
        fail(&mut d, C, &[500, 500, 500], secs(t0, 7)),
        Recorded::Overflow {
            kind: EjectionKind::Consecutive5xx
        }
    );
    assert!(!d.is_ejected(C));
    assert_eq!(fail(&mut d, C, &[500, 500], secs(t0, 7)), Recorded::Counted);
    assert_eq!(d.stats().ejections_overflow, 1);

    // Ticks at 10, 20, 30 un-eject nobody; the tick at 40 un-ejects A (32) and B (35).
    assert!(tick(&mut d, secs(t0, 30)).is_empty());
    assert!(d.is_ejected(A) && d.is_ejected(B));
    assert_eq!(tick(&mut d, secs(t0, 40)), vec![A, B]);
    assert_eq!(d.ejected_count(), 0);

    // t=45: A fails again before its multiplier decayed -> k = 2 -> 60 s.
    let mut again = d.clone();
    assert_eq!(
        fail(&mut again, A, &[503, 503, 503], secs(t0, 45)),
        Recorded::Ejected {
            kind: EjectionKind::Consecutive5xx,
            until: secs(t0, 105)
        }
    );
    assert_eq!(again.multiplier(A), 2);
    // Still ejected at the tick at 100, back at the tick at 110.
    assert!(tick(&mut again, secs(t0, 100)).is_empty());
    assert!(again.is_ejected(A));
    assert_eq!(tick(&mut again, secs(t0, 110)), vec![A]);

    // If instead A stays healthy, the tick at 50 decays k to 0: the next ejection is 30 s.
    tick(&mut d, secs(t0, 50));
    assert_eq!(d.multiplier(A), 0);
    assert_eq!(
        fail(&mut d, A, &[503, 503, 503], secs(t0, 52)),
        Recorded::Ejected {
            kind: EjectionKind::Consecutive5xx,
            until: secs(t0, 82)
        }
    );
}

#[test]
fn default_max_ejection_percent_ejects_nobody_below_ten_hosts() {
    let t0 = origin();
    let cfg = OutlierSettings {
        consecutive_5xx: 3,
        ..OutlierSettings::defaults()
    };
    assert_eq!(cfg.max_ejection_percent, 10);
    let mut d = OutlierDetector::try_new(&cfg, 4, t0).unwrap();
    assert!(matches!(
        fail(&mut d, A, &[500, 500, 500], t0),
        Recorded::Overflow { .. }
    ));
    // Ten hosts: one ejection is exactly 10%.
    let mut d = OutlierDetector::try_new(&cfg, 10, t0).unwrap();
    assert!(matches!(
        fail(&mut d, A, &[500, 500, 500], t0),
        Recorded::Ejected { .. }
    ));
    assert!(matches!(
        fail(&mut d, B, &[500, 500, 500], t0),
        Recorded::Overflow { .. }
    ));
}

#[test]
fn success_resets_the_consecutive_counters() {
    let t0 = origin();
    let mut d = OutlierDetector::try_new(&settings(3, 100), 2, t0).unwrap();
    fail(&mut d, A, &[500, 500, 200, 500, 500], t0);
    assert!(!d.is_ejected(A));
    // 4xx is a success for the detector.
    fail(&mut d, A, &[404, 500, 500], t0);
    assert!(!d.is_ejected(A));
    fail(&mut d, A, &[500], t0);
    assert!(d.is_ejected(A));
}

#[test]
fn default_consecutive_5xx_is_active_and_gateway_inactive() {
    let t0 = origin();
    let cfg = OutlierSettings {
        max_ejection_percent: 100,
        ..OutlierSettings::defaults()
    };
    assert_eq!(
        (cfg.consecutive_5xx, cfg.consecutive_gateway_errors),
        (5, 0)
    );
    let mut d = OutlierDetector::try_new(&cfg, 2, t0).unwrap();
    assert_eq!(fail(&mut d, A, &[502; 4], t0), Recorded::Counted);
    assert_eq!(
        fail(&mut d, A, &[502], t0),
        Recorded::Ejected {
            kind: EjectionKind::Consecutive5xx,
            until: secs(t0, 30)
        }
    );
}

#[test]
fn gateway_errors_only_count_502_503_504_consecutively() {
    let t0 = origin();
    let cfg = OutlierSettings {
        consecutive_5xx: 0,
        consecutive_gateway_errors: 2,
        max_ejection_percent: 100,
        ..OutlierSettings::defaults()
    };
    let mut d = OutlierDetector::try_new(&cfg, 2, t0).unwrap();
    // 500 is a 5xx but breaks the gateway streak; with 5xx disabled nothing else fires.
    assert_eq!(
        fail(&mut d, A, &[502, 500, 503, 500, 500, 500], t0),
        Recorded::Counted
    );
    assert_eq!(
        fail(&mut d, A, &[504, 503], t0),
        Recorded::Ejected {
            kind: EjectionKind::ConsecutiveGatewayFailure,
            until: secs(t0, 30)
        }
    );
}

#[test]
fn gateway_threshold_above_5xx_never_fires_first() {
    let t0 = origin();
    let cfg = OutlierSettings {
        consecutive_5xx: 5,
        consecutive_gateway_errors: 7,
        max_ejection_percent: 100,
        ..OutlierSettings::defaults()
    };
    let mut d = OutlierDetector::try_new(&cfg, 2, t0).unwrap();
    assert!(matches!(
        fail(&mut d, A, &[503; 5], t0),
        Recorded::Ejected {
            kind: EjectionKind::Consecutive5xx,
            ..
        }
    ));
}

#[test]
fn local_failures_count_as_5xx_without_split() {
    let t0 = origin();
    let mut d = OutlierDetector::try_new(&settings(3, 100), 2, t0).unwrap();
    d.record(A, Outcome::ConnectFailure, t0);
    d.record(A, Outcome::PerTryTimeout, t0);
    // Overflow is the circuit breaker's own refusal: not counted, not a success either.
    d.record(A, Outcome::Overflow, t0);
    assert!(matches!(
        d.record(
            A,
            Outcome::Reset {
                before_request: false
            },
            t0
        ),
        Recorded::Ejected { .. }
    ));
}

#[test]
fn split_mode_keeps_local_origin_failures_apart() {
    let t0 = origin();
    let cfg = OutlierSettings {
        consecutive_5xx: 3,
        consecutive_local_origin_failures: 2,
        split_external_local_origin_errors: true,
        max_ejection_percent: 100,
        ..OutlierSettings::defaults()
    };
    let mut d = OutlierDetector::try_new(&cfg, 2, t0).unwrap();
    // Two 5xx, then local failures do not extend the 5xx streak.
    fail(&mut d, A, &[500, 500], t0);
    assert_eq!(d.record(A, Outcome::ConnectFailure, t0), Recorded::Counted);
    // Any response (even a 5xx) means the connection worked: resets the local streak.
    fail(&mut d, A, &[500], t0);
    assert!(d.is_ejected(A));

    assert_eq!(d.record(B, Outcome::ConnectFailure, t0), Recorded::Counted);
    assert_eq!(
        d.record(B, Outcome::PerTryTimeout, t0),
        Recorded::Ejected {
            kind: EjectionKind::ConsecutiveLocalOriginFailure,
            until: secs(t0, 30)
        }
    );
}

#[test]
fn ejection_time_is_capped_at_max() {
    let t0 = origin();
    let cfg = OutlierSettings {
        consecutive_5xx: 1,
        interval: Cfg::from_secs(10),
        base_ejection_time: Cfg::from_secs(30),
        max_ejection_time: Cfg::from_secs(70),
        max_ejection_percent: 100,
        ..OutlierSettings::defaults()
    };
    let mut d = OutlierDetector::try_new(&cfg, 1, t0).unwrap();
    let mut now = t0;
    let mut served = Vec::new();
    for _ in 0..5 {
        let Recorded::Ejected { until, .. } = d.record(A, status(500), now) else {
            panic!("expected an ejection");
        };
        served.push((until - now).as_secs());
        // Come back at the first tick after the deadline and fail at once.
        while d.is_ejected(A) {
            now = d.next_tick();
            tick(&mut d, now);
        }
    }
    // k grows while k × base < max + base (100 s): 1, 2, 3, 4 (3 × 30 = 90 < 100), then stops
    // (4 × 30 = 120); the ejection itself is capped at max = 70 s.
    assert_eq!(served, vec![30, 60, 70, 70, 70]);
    assert_eq!(d.multiplier(A), 4);
}

#[test]
fn listed_error_codes_replace_the_5xx_rule() {
    let t0 = origin();
    let d = OutlierDetector::try_new(&settings(2, 100), 2, t0).unwrap();
    let mut d = d.with_error_codes(&[429, 503]).unwrap();
    // 500 is not listed: a success that resets the streak.
    assert_eq!(fail(&mut d, A, &[503, 500, 503], t0), Recorded::Counted);
    assert!(matches!(
        fail(&mut d, A, &[429], t0),
        Recorded::Ejected {
            kind: EjectionKind::Consecutive5xx,
            ..
        }
    ));
    // Local failures still count.
    d.record(B, Outcome::ConnectFailure, t0);
    assert!(matches!(
        d.record(B, Outcome::ConnectFailure, t0),
        Recorded::Ejected { .. }
    ));
    let d = OutlierDetector::try_new(&settings(2, 100), 2, t0).unwrap();
    assert_eq!(
        d.with_error_codes(&[600]).unwrap_err(),
        InvalidOutlier::ErrorCode(600)
    );
}

#[test]
fn remap_keeps_surviving_hosts_and_forgets_removed_ones() {
    let t0 = origin();
    let mut d = OutlierDetector::try_new(&settings(2, 100), 3, t0).unwrap();
    fail(&mut d, A, &[500, 500], t0);
    fail(&mut d, B, &[500], t0);
    fail(&mut d, C, &[500, 500], t0);
    assert_eq!(d.ejected_count(), 2);
    // New order: old C, old B, a new host; A removed.
    d.remap(&[Some(C), Some(B), None]);
    assert_eq!(d.len(), 3);
    assert!(d.is_ejected(0) && !d.is_ejected(1) && !d.is_ejected(2));
    assert_eq!(d.ejected_count(), 1);
    assert_eq!(d.multiplier(0), 1);
    // Old B's one failure carries over: one more ejects it.
    assert!(matches!(
        d.record(1, status(500), t0),
        Recorded::Ejected { .. }
    ));
    assert_eq!(d.record(2, status(500), t0), Recorded::Counted);
}

#[test]
fn invalid_settings_are_rejected() {
    let t0 = origin();
    let bad = OutlierSettings {
        interval: Cfg::ZERO,
        ..OutlierSettings::defaults()
    };
    assert_eq!(
        OutlierDetector::try_new(&bad, 1, t0).unwrap_err(),
        InvalidOutlier::ZeroInterval
    );
    let bad = OutlierSettings {
        max_ejection_percent: 101,
        ..OutlierSettings::defaults()
    };
    assert_eq!(
        OutlierDetector::try_new(&bad, 1, t0).unwrap_err(),
        InvalidOutlier::Percent {
            field: "maxEjectionPercent",
            value: 101
        }
    );
}

fn arb_outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        4 => prop::sample::select(vec![200u16, 404, 500, 502, 503, 504]).prop_map(status),
        1 => Just(Outcome::ConnectFailure),
        1 => Just(Outcome::PerTryTimeout),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, rng_seed: proptest::test_runner::RngSeed::Fixed(7), ..ProptestConfig::default() })]

    /// Whatever happens, the ejected share never exceeds maxEjectionPercent.
    #[test]
    fn ejections_never_exceed_the_allowed_percent(
        hosts in 1usize..20,
        pct in 0u32..=100,
        threshold in 1u32..4,
        events in prop::collection::vec((0usize..20, arb_outcome(), 0u64..3000), 1..300),
    ) {
        let t0 = origin();
        let cfg = OutlierSettings {
            consecutive_5xx: threshold,
            consecutive_gateway_errors: threshold,
            max_ejection_percent: pct,
            ..OutlierSettings::defaults()
        };
        let mut d = OutlierDetector::try_new(&cfg, hosts, t0).unwrap();
        let mut now = t0;
        for (h, o, dt) in events {
            now += Duration::from_millis(dt * 100);
            tick(&mut d, now);
            d.record(h % hosts, o, now);
            prop_assert!(100 * d.ejected_count() <= pct as usize * hosts);
            let counted = (0..hosts).filter(|h| d.is_ejected(*h)).count();
            prop_assert_eq!(counted, d.ejected_count());
        }
    }

    /// A host re-ejected right after each un-ejection is ejected for base, 2·base, ... up to
    /// the cap; after `k` healthy intervals its next ejection is back to one base.
    #[test]
    fn ejection_time_grows_then_decays(
        base_s in 1u64..60,
        interval_s in 1u64..30,
        max_s in 1u64..600,
        repeats in 1usize..8,
    ) {
        let t0 = origin();
        let base = Duration::from_secs(base_s);
        let max = Duration::from_secs(max_s).max(base);
        let interval = Duration::from_secs(interval_s);
        let cfg = OutlierSettings {
            consecutive_5xx: 1,
            interval: Cfg::from_secs(interval_s),
            base_ejection_time: Cfg::from_secs(base_s),
            max_ejection_time: Cfg::from_secs(max.as_secs()),
            max_ejection_percent: 100,
            ..OutlierSettings::defaults()
        };
        let mut d = OutlierDetector::try_new(&cfg, 1, t0).unwrap();
        let mut now = t0;
        for i in 1..=repeats {
            let Recorded::Ejected { until, .. } = d.record(A, status(503), now) else {
                return Err(TestCaseError::fail("not ejected"));
            };
            let expected = (base * i as u32).min(max);
            prop_assert_eq!(until - now, expected);
            // The ejection lasts until the first tick at or after the deadline.
            while d.is_ejected(A) {
                let next = d.next_tick();
                prop_assert!(next - now <= expected + interval);
                now = next;
                tick(&mut d, now);
            }
            prop_assert!(now >= until);
        }
        // Healthy for k intervals: the multiplier decays by one per tick to 0.
        let k = d.multiplier(A);
        for _ in 0..k {
            now = d.next_tick();
            tick(&mut d, now);
        }
        prop_assert_eq!(d.multiplier(A), 0);
        let Recorded::Ejected { until, .. } = d.record(A, status(503), now) else {
            return Err(TestCaseError::fail("not ejected"));
        };
        prop_assert_eq!(until - now, base);
    }
}
