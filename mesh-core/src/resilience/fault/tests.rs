use std::time::Duration;

use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;

use super::*;
use crate::resource::Duration as ResDuration;
use crate::route::action::{FaultAbort, FaultDelay, per_million};

fn policy(delay_pm: Option<u32>, abort: Option<(AbortError, u32)>) -> FaultPolicy {
    FaultPolicy {
        delay: delay_pm.map(|pm| FaultDelay {
            fixed: ResDuration::from_millis(1500),
            per_million: pm,
        }),
        abort: abort.map(|(error, per_million)| FaultAbort { error, per_million }),
    }
}

#[test]
fn full_percentages_always_fire_delay_then_abort() {
    let f = FaultInjector::try_new(&policy(
        Some(MILLION),
        Some((AbortError::Http(503), MILLION)),
    ))
    .unwrap();
    let mut rng = StdRng::seed_from_u64(1);
    let d = f.decide(&mut rng);
    assert_eq!(d.delay, Some(Duration::from_millis(1500)));
    assert_eq!(d.abort, Some(Abort::Http(503)));
}

#[test]
fn zero_percent_never_fires() {
    // Istio: an absent percentage is 0% - nothing is delayed or aborted.
    let f = FaultInjector::try_new(&policy(Some(0), Some((AbortError::Http(500), 0)))).unwrap();
    let mut rng = StdRng::seed_from_u64(2);
    assert!((0..10_000).all(|_| f.decide(&mut rng).is_none()));
}

#[test]
fn grpc_abort_names_map_to_codes() {
    let f = FaultInjector::try_new(&policy(
        None,
        Some((AbortError::Grpc("UNAVAILABLE".into()), MILLION)),
    ))
    .unwrap();
    assert_eq!(
        f.decide(&mut StdRng::seed_from_u64(3)).abort,
        Some(Abort::Grpc(14))
    );
    assert_eq!(grpc_code("OK"), Ok(0));
    assert_eq!(grpc_code("UNAUTHENTICATED"), Ok(16));
    assert_eq!(
        grpc_code("unavailable"),
        Err(InvalidFault::GrpcStatus("unavailable".into()))
    );
}

#[test]
fn invalid_faults_are_typed_errors() {
    assert_eq!(
        FaultInjector::try_new(&policy(None, None)),
        Err(InvalidFault::Empty)
    );
    assert_eq!(
        FaultInjector::try_new(&policy(None, Some((AbortError::Http(199), 1)))),
        Err(InvalidFault::HttpStatus(199))
    );
    assert!(FaultInjector::try_new(&policy(None, Some((AbortError::Http(600), 1)))).is_ok());
    assert_eq!(
        FaultInjector::try_new(&policy(Some(MILLION + 1), None)),
        Err(InvalidFault::Percentage {
            which: "delay",
            per_million: MILLION + 1
        })
    );
}

#[test]
fn delay_and_abort_are_independent_draws() {
    let f = FaultInjector::try_new(&policy(
        Some(500_000),
        Some((AbortError::Http(503), 500_000)),
    ))
    .unwrap();
    let mut rng = StdRng::seed_from_u64(9);
    let n = 40_000;
    let both = (0..n)
        .map(|_| f.decide(&mut rng))
        .filter(|d| d.delay.is_some() && d.abort.is_some())
        .count();
    // 25% expected for independent draws; far from 50% (correlated) or 0% (exclusive).
    assert!((9_000..11_000).contains(&both), "{both}");
}

#[test]
fn tenth_of_a_percent_is_a_thousand_per_million() {
    assert_eq!(per_million(0.1), 1000);
    assert_eq!(per_million(0.0001), 1);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, rng_seed: proptest::test_runner::RngSeed::Fixed(7), ..ProptestConfig::default() })]

    /// Observed firing rates converge to the configured per-million percentages.
    #[test]
    fn percentages_converge(delay_pm in 0u32..=MILLION, abort_pm in 0u32..=MILLION, seed: u64) {
        let f = FaultInjector::try_new(&policy(
            Some(delay_pm),
            Some((AbortError::Http(500), abort_pm)),
        )).unwrap();
        let mut rng = StdRng::seed_from_u64(seed);
        let n = 20_000u32;
        let (mut d, mut a) = (0u32, 0u32);
        for _ in 0..n {
            let x = f.decide(&mut rng);
            d += u32::from(x.delay.is_some());
            a += u32::from(x.abort.is_some());
        }
        for (hits, pm) in [(d, delay_pm), (a, abort_pm)] {
            let observed = f64::from(hits) / f64::from(n);
            let p = f64::from(pm) / f64::from(MILLION);
            // Five standard deviations, plus a little for tiny p.
            let tol = 5.0 * (p * (1.0 - p) / f64::from(n)).sqrt() + 1e-4;
            prop_assert!((observed - p).abs() <= tol, "{observed} vs {p}");
        }
    }
}
