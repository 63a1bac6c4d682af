use std::time::{Duration, Instant};

use super::super::*;
use super::resp;
use crate::profile::{ResponseClassRule, ResponseCondition};
use crate::resilience::budget::RetryBudget;

fn class(min: u16, max: u16, is_failure: bool) -> ResponseClassRule {
    ResponseClassRule {
        condition: ResponseCondition::Status(min, max),
        is_failure,
    }
}

#[test]
fn linkerd_default_classification() {
    assert!(classify(&[], false, 500, None));
    assert!(classify(&[], false, 503, None));
    assert!(!classify(&[], false, 404, None));
    // gRPC request: grpc-status decides; a missing status is a success (quirk).
    assert!(classify(&[], true, 200, Some(14)));
    assert!(classify(&[], true, 200, Some(2)));
    assert!(!classify(&[], true, 200, Some(5)));
    assert!(!classify(&[], true, 200, None));
    assert!(!classify(&[], true, 503, None));
}

#[test]
fn linkerd_configured_classes_first_match_then_fallback() {
    let classes = [class(500, 504, false), class(400, 499, true)];
    assert!(!classify(&classes, false, 503, None), "class says success");
    assert!(classify(&classes, false, 404, None));
    assert!(classify(&classes, false, 599, None), "no class: 5xx fails");
    assert!(!classify(&classes, false, 302, None));
    assert!(
        classify(&classes, false, 200, Some(13)),
        "no class: grpc-status decides"
    );
    assert!(!classify(&classes, false, 200, Some(0)));
}

fn budget(ratio_ppm: u64, min: u64) -> (RetryBudget, Instant) {
    let t0 = crate::clock::Clock::now(&crate::clock::TokioClock);
    (
        RetryBudget::from_ppm(ratio_ppm, min, Duration::from_secs(10), t0).unwrap(),
        t0,
    )
}

#[test]
fn profile_retries_failures_within_the_budget_only() {
    let route = ProfileRetry {
        classes: Vec::new(),
        retryable: true,
        timeout: None,
    };
    let (b, t0) = budget(500_000, 0);
    // No deposits yet: nothing to withdraw.
    assert_eq!(
        route.decide(&resp(503), false, true, &b, t0),
        ProfileDecision::Exhausted
    );
    // Two successes pay for one retry at ratio 0.5.
    for _ in 0..2 {
        assert_eq!(
            route.decide(&resp(200), false, true, &b, t0),
            ProfileDecision::Return { deposited: true }
        );
    }
    assert_eq!(
        route.decide(&resp(503), false, true, &b, t0),
        ProfileDecision::Retry
    );
    assert_eq!(
        route.decide(&resp(503), false, true, &b, t0),
        ProfileDecision::Exhausted
    );
}

#[test]
fn profile_never_retries_transport_errors_large_bodies_or_plain_routes() {
    let (b, t0) = budget(1_000_000, 100);
    let route = ProfileRetry {
        classes: Vec::new(),
        retryable: true,
        timeout: None,
    };
    assert_eq!(
        route.decide(&Outcome::ConnectFailure, false, true, &b, t0),
        ProfileDecision::Return { deposited: true }
    );
    assert!(route.body_replayable(Some(MAX_REPLAY_BODY as u64)));
    assert!(!route.body_replayable(Some(MAX_REPLAY_BODY as u64 + 1)));
    assert!(!route.body_replayable(None));
    assert_eq!(
        route.decide(&resp(503), false, false, &b, t0),
        ProfileDecision::Return { deposited: false }
    );
    let plain = ProfileRetry {
        retryable: false,
        ..route.clone()
    };
    assert!(!plain.body_replayable(Some(0)));
    assert_eq!(
        plain.decide(&resp(503), false, true, &b, t0),
        ProfileDecision::Return { deposited: false }
    );
}
