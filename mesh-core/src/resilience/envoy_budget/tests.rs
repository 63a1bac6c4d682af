use super::*;
use crate::resource::Duration as ResDuration;

#[test]
fn defaults_are_twenty_percent_and_three() {
    let b = EnvoyRetryBudget::try_new(&RetryBudgetSpec::default()).unwrap();
    assert_eq!(b.limit(), 3, "minimum with no traffic");
    let reqs: Vec<_> = (0..100).map(|_| b.start_request()).collect();
    assert_eq!(b.limit(), 20);
    let retries: Vec<_> = (0..25).filter_map(|_| b.try_retry()).collect();
    assert_eq!(retries.len(), 20);
    assert_eq!(b.counts(), (100, 20));
    drop(reqs);
    assert_eq!(b.limit(), 3);
    assert!(
        b.try_retry().is_none(),
        "20 retries still active over a limit of 3"
    );
    drop(retries);
    assert_eq!(b.counts(), (0, 0));
    assert!(b.try_retry().is_some());
}

#[test]
fn minimum_concurrency_applies_under_low_load() {
    let b = EnvoyRetryBudget::try_new(&RetryBudgetSpec {
        percent: Some(25.0),
        min_retry_concurrency: Some(5),
        budget_interval: None,
    })
    .unwrap();
    let _reqs: Vec<_> = (0..8).map(|_| b.start_request()).collect();
    assert_eq!(b.limit(), 5);
    let held: Vec<_> = (0..9).filter_map(|_| b.try_retry()).collect();
    assert_eq!(held.len(), 5);
}

#[test]
fn zero_percent_leaves_only_the_minimum_and_bad_values_are_rejected() {
    let b = EnvoyRetryBudget::new(0, 0);
    let _r = b.start_request();
    assert!(b.try_retry().is_none());
    let bad = RetryBudgetSpec {
        percent: Some(100.5),
        ..Default::default()
    };
    assert_eq!(
        EnvoyRetryBudget::try_new(&bad).map(|_| ()),
        Err(InvalidEnvoyBudget::Percent)
    );
    let interval = RetryBudgetSpec {
        budget_interval: Some(ResDuration::from_secs(1)),
        ..Default::default()
    };
    assert_eq!(
        EnvoyRetryBudget::try_new(&interval).map(|_| ()),
        Err(InvalidEnvoyBudget::BudgetInterval)
    );
}

#[test]
fn acts_as_the_retry_engines_permit_source() {
    use crate::resilience::Outcome;
    use crate::resilience::retry::{
        IstioRetry, ResponseHints, RetryDecision, RetryState, StopReason,
    };
    use rand::SeedableRng;
    let b = EnvoyRetryBudget::new(0, 1);
    let p = IstioRetry::istio_default();
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let mut s1 = RetryState::<String>::new();
    let mut s2 = RetryState::<String>::new();
    let o = Outcome::ConnectFailure;
    let first = p.decide(&mut s1, &o, ResponseHints::default(), &b, &mut rng);
    assert!(matches!(first, RetryDecision::Retry { .. }));
    assert!(matches!(
        p.decide(&mut s2, &o, ResponseHints::default(), &b, &mut rng),
        RetryDecision::Stop(StopReason::NoPermit)
    ));
    drop(first);
    assert!(matches!(
        p.decide(&mut s2, &o, ResponseHints::default(), &b, &mut rng),
        RetryDecision::Retry { .. }
    ));
}
