use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;

use super::*;
use crate::resource::{Duration as ResDuration, HttpRetry};

fn resp(status: u16) -> Outcome {
    Outcome::Response {
        status,
        grpc_status: None,
    }
}

fn grpc(code: u8) -> Outcome {
    Outcome::Response {
        status: 200,
        grpc_status: Some(code),
    }
}

fn conds(tokens: &str) -> RetryConditions {
    RetryConditions::parse(tokens.split(',')).unwrap()
}

const RESETS: [Outcome; 5] = [
    Outcome::ConnectFailure,
    Outcome::Reset {
        before_request: true,
    },
    Outcome::Reset {
        before_request: false,
    },
    Outcome::RefusedStream,
    Outcome::PerTryTimeout,
];

#[test]
fn every_envoy_token_parses_and_round_trips() {
    for (name, on) in super::condition::tests_tokens() {
        assert_eq!(RetryOn::parse(name), Ok(on));
        assert_eq!(on.as_str(), name);
    }
    assert_eq!(
        RetryOn::parse(" reset"),
        Err(UnknownRetryOn(" reset".into()))
    );
    assert!(RetryConditions::parse(["5xx", "bogus"]).is_err());
}

#[test]
fn five_xx_retries_all_5xx_and_every_reset() {
    let c = conds("5xx");
    for s in [500, 501, 503, 599] {
        assert!(c.is_retryable(&resp(s)), "{s}");
    }
    for s in [200, 404, 409, 429] {
        assert!(!c.is_retryable(&resp(s)), "{s}");
    }
    for o in RESETS {
        assert!(c.is_retryable(&o), "{o:?}");
    }
    assert!(!c.is_retryable(&Outcome::Overflow));
}

#[test]
fn gateway_error_is_502_to_504_and_resets() {
    let c = conds("gateway-error");
    assert!(c.is_retryable(&resp(502)));
    assert!(c.is_retryable(&resp(503)));
    assert!(c.is_retryable(&resp(504)));
    assert!(!c.is_retryable(&resp(500)));
    assert!(c.is_retryable(&Outcome::PerTryTimeout));
    assert!(c.is_retryable(&Outcome::ConnectFailure));
}

#[test]
fn reset_tokens_distinguish_before_and_after_request() {
    let before = conds("reset-before-request");
    assert!(before.is_retryable(&Outcome::Reset {
        before_request: true
    }));
    assert!(!before.is_retryable(&Outcome::Reset {
        before_request: false
    }));
    // Connect failures fall through to the reset rules: nothing was sent.
    assert!(before.is_retryable(&Outcome::ConnectFailure));
    assert!(!before.is_retryable(&Outcome::PerTryTimeout));
    assert!(!before.is_retryable(&resp(503)));

    let reset = conds("reset");
    for o in RESETS {
        assert!(reset.is_retryable(&o), "{o:?}");
    }
    assert!(!reset.is_retryable(&resp(503)));
}

#[test]
fn connect_failure_and_refused_stream_are_narrow() {
    let c = conds("connect-failure");
    assert!(c.is_retryable(&Outcome::ConnectFailure));
    assert!(!c.is_retryable(&Outcome::Reset {
        before_request: true
    }));
    assert!(!c.is_retryable(&Outcome::RefusedStream));
    let r = conds("refused-stream");
    assert!(r.is_retryable(&Outcome::RefusedStream));
    assert!(!r.is_retryable(&Outcome::ConnectFailure));
    assert!(!r.is_retryable(&Outcome::PerTryTimeout));
}

#[test]
fn per_try_timeout_is_not_retried_by_istio_default_tokens() {
    let d = IstioRetry::istio_default();
    assert!(!d.conditions.is_retryable(&Outcome::PerTryTimeout));
    assert!(d.conditions.is_retryable(&Outcome::ConnectFailure));
    assert!(d.conditions.is_retryable(&Outcome::RefusedStream));
    assert!(d.conditions.is_retryable(&grpc(14)));
    assert!(d.conditions.is_retryable(&grpc(1)));
    assert!(!d.conditions.is_retryable(&grpc(13)));
    // retriable-status-codes without codes is inert: 503 is not retried by default.
    assert!(!d.conditions.is_retryable(&resp(503)));
    assert_eq!(d.attempts, 2);
    assert!(d.avoid_previous_hosts);
}

#[test]
fn inbound_default_retries_only_resets_before_the_request() {
    let d = IstioRetry::inbound_default();
    assert_eq!(d.attempts, 2);
    assert!(d.conditions.is_retryable(&Outcome::Reset {
        before_request: true
    }));
    assert!(!d.conditions.is_retryable(&Outcome::Reset {
        before_request: false
    }));
    assert!(!d.conditions.is_retryable(&resp(503)));
    assert!(
        !IstioRetry::disabled()
            .conditions
            .is_retryable(&Outcome::ConnectFailure)
    );
}

#[test]
fn retriable_4xx_is_409_only() {
    let c = conds("retriable-4xx");
    assert!(c.is_retryable(&resp(409)));
    for s in [400, 404, 425, 429] {
        assert!(!c.is_retryable(&resp(s)));
    }
}

#[test]
fn numeric_tokens_become_status_codes_and_425_respects_early_data() {
    let c = conds("429,425");
    assert!(c.contains(RetryOn::RetriableStatusCodes));
    assert_eq!(c.codes(), &[425, 429]);
    assert!(c.is_retryable(&resp(429)));
    assert!(!c.is_retryable(&resp(503)));
    assert!(c.is_retryable(&resp(425)));
    let early = ResponseHints {
        early_data: true,
        ..Default::default()
    };
    assert!(!c.is_retryable_with(&resp(425), early));
    assert!(c.is_retryable_with(&resp(429), early));
}

#[test]
fn ratelimited_responses_retry_only_with_envoy_ratelimited() {
    let limited = ResponseHints {
        envoy_ratelimited: true,
        ..Default::default()
    };
    let c = conds("5xx,429");
    assert!(c.is_retryable(&resp(503)));
    assert!(!c.is_retryable_with(&resp(503), limited));
    assert!(!c.is_retryable_with(&resp(429), limited));
    let r = conds("envoy-ratelimited");
    assert!(r.is_retryable_with(&resp(429), limited));
    assert!(!r.is_retryable(&resp(429)));
}

#[test]
fn grpc_tokens_match_header_status_only() {
    for (tok, code) in [
        ("cancelled", 1),
        ("deadline-exceeded", 4),
        ("resource-exhausted", 8),
        ("internal", 13),
        ("unavailable", 14),
    ] {
        let c = conds(tok);
        assert!(c.is_retryable(&grpc(code)), "{tok}");
        assert!(!c.is_retryable(&grpc(2)), "{tok}");
        assert!(!c.is_retryable(&resp(503)), "{tok}: plain HTTP ignored");
    }
}

#[test]
fn inert_tokens_never_match() {
    let c = conds("retriable-headers,http3-post-connect-failure");
    assert!(c.is_empty());
    for o in RESETS {
        assert!(!c.is_retryable(&o));
    }
    assert!(!c.is_retryable(&resp(503)));
}

#[test]
fn from_route_spec_merges_codes_and_disables_on_zero_attempts() {
    let spec = HttpRetry {
        attempts: Some(3),
        retry_on: Some("gateway-error,418".into()),
        per_try_timeout: Some(ResDuration::from_millis(2000)),
        ..Default::default()
    };
    let p = IstioRetry::try_new(&RetryPolicy::from_spec(&spec), false).unwrap();
    assert_eq!(p.attempts, 3);
    assert!(p.conditions.is_retryable(&resp(418)));
    assert!(p.conditions.is_retryable(&resp(502)));
    assert_eq!(p.per_try_timeout, Some(Duration::from_secs(2)));
    // Consistent hashing turns previous-host avoidance off.
    let hashed = IstioRetry::try_new(&RetryPolicy::from_spec(&spec), true).unwrap();
    assert!(!hashed.avoid_previous_hosts);

    let off = HttpRetry {
        attempts: Some(0),
        ..Default::default()
    };
    let p = IstioRetry::try_new(&RetryPolicy::from_spec(&off), false).unwrap();
    let mut st = RetryState::<String>::new();
    let mut rng = StdRng::seed_from_u64(1);
    assert_eq!(
        p.decide(
            &mut st,
            &Outcome::ConnectFailure,
            ResponseHints::default(),
            &Unlimited,
            &mut rng
        ),
        RetryDecision::Stop(StopReason::AttemptsExhausted)
    );
}

#[test]
fn unknown_token_in_policy_is_a_typed_error() {
    let mut p = RetryPolicy::istio_default();
    p.retry_on.push("sometimes".into());
    assert_eq!(
        IstioRetry::try_new(&p, false),
        Err(InvalidRetry::Token(UnknownRetryOn("sometimes".into())))
    );
}

#[test]
fn attempts_bound_retries_then_stop() {
    let p = IstioRetry::istio_default();
    let mut st = RetryState::<String>::new();
    let mut rng = StdRng::seed_from_u64(7);
    let o = Outcome::ConnectFailure;
    let h = ResponseHints::default();
    for n in 1..=2 {
        match p.decide(&mut st, &o, h, &Unlimited, &mut rng) {
            RetryDecision::Retry { backoff, .. } => {
                assert!(backoff < p.backoff.ceiling(n));
            }
            other => panic!("retry {n}: {other:?}"),
        }
    }
    assert_eq!(st.retries(), 2);
    assert_eq!(
        p.decide(&mut st, &o, h, &Unlimited, &mut rng),
        RetryDecision::Stop(StopReason::AttemptsExhausted)
    );
    assert_eq!(
        p.decide(&mut st, &resp(200), h, &Unlimited, &mut rng),
        RetryDecision::Stop(StopReason::NotRetryable)
    );
}

#[test]
fn circuit_breaker_without_slots_stops_retries_and_keeps_attempts() {
    let p = IstioRetry::istio_default();
    let mut st = RetryState::<String>::new();
    let mut rng = StdRng::seed_from_u64(7);
    let slots = AtomicU32::new(1);
    let permits = FnPermits(|| {
        slots
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |s| s.checked_sub(1))
            .is_ok()
    });
    let h = ResponseHints::default();
    assert!(matches!(
        p.decide(&mut st, &Outcome::ConnectFailure, h, &permits, &mut rng),
        RetryDecision::Retry { .. }
    ));
    assert_eq!(
        p.decide(&mut st, &Outcome::ConnectFailure, h, &permits, &mut rng),
        RetryDecision::Stop(StopReason::NoPermit)
    );
    assert_eq!(st.retries(), 1, "a refused retry is not counted");
}

#[test]
fn backoff_ceilings_follow_envoy() {
    let b = Backoff::default();
    let ms = |n| b.ceiling(n).as_millis();
    assert_eq!(
        [ms(1), ms(2), ms(3), ms(4), ms(10), ms(100)],
        [25, 75, 175, 250, 250, 250]
    );
    assert_eq!(
        Backoff::try_new(Duration::ZERO),
        Err(InvalidBackoff::BaseTooSmall)
    );
    let two_s = Backoff::try_new(Duration::from_secs(2)).unwrap();
    assert_eq!(two_s.ceiling(1), Duration::from_secs(2));
    assert_eq!(two_s.ceiling(9), Duration::from_secs(20));
}

proptest! {
    #[test]
    fn backoff_draws_stay_below_the_ceiling(seed: u64, base_ms in 1u64..5000, n in 1u32..80) {
        let b = Backoff::try_new(Duration::from_millis(base_ms)).unwrap();
        let mut rng = StdRng::seed_from_u64(seed);
        let d = b.delay(n, &mut rng);
        prop_assert!(d < b.ceiling(n));
        prop_assert!(d < Duration::from_millis(base_ms * 10));
    }
}

#[test]
fn backoff_is_jittered_over_the_whole_range() {
    let b = Backoff::default();
    let mut rng = StdRng::seed_from_u64(3);
    let draws: Vec<u128> = (0..2000)
        .map(|_| b.delay(2, &mut rng).as_millis())
        .collect();
    assert!(draws.iter().all(|d| *d < 75));
    assert!(draws.iter().any(|d| *d < 5));
    assert!(draws.iter().any(|d| *d > 70));
}

#[test]
fn per_try_deadline_is_cut_by_the_route_timeout() {
    let t0 = crate::clock::Clock::now(&crate::clock::TokioClock);
    let t = Timeouts::new(Some(Duration::from_secs(5)), Some(Duration::from_secs(2)));
    assert_eq!(
        t.try_deadline(t0, t0),
        TryDeadline::PerTry(t0 + Duration::from_secs(2))
    );
    let late = t0 + Duration::from_millis(4050);
    // The spec's example: try 3 starts at ~4.05s and is cut at 5s by the route timeout.
    assert_eq!(
        t.try_deadline(t0, late),
        TryDeadline::Route(t0 + Duration::from_secs(5))
    );
    // Per-try longer than the whole timeout: the route timeout wins from the start.
    let long = Timeouts::new(Some(Duration::from_secs(1)), Some(Duration::from_secs(3)));
    assert_eq!(
        long.try_deadline(t0, t0),
        TryDeadline::Route(t0 + Duration::from_secs(1))
    );
    // Zero disables; none at all.
    let off = Timeouts::new(Some(Duration::ZERO), None);
    assert_eq!(off.try_deadline(t0, t0), TryDeadline::None);
    assert_eq!(off.request_deadline(t0), None);
    assert!(off.retry_fits(t0, t0 + Duration::from_secs(3600), Duration::from_secs(1)));
}

#[test]
fn a_retry_whose_backoff_crosses_the_deadline_does_not_start() {
    // backoff 2s, timeout 3s: at most one retry in practice (proto example).
    let t0 = crate::clock::Clock::now(&crate::clock::TokioClock);
    let t = Timeouts::new(Some(Duration::from_secs(3)), None);
    assert!(t.retry_fits(
        t0,
        t0 + Duration::from_millis(10),
        Duration::from_millis(1900)
    ));
    assert!(!t.retry_fits(
        t0,
        t0 + Duration::from_millis(1950),
        Duration::from_millis(1900)
    ));
}

#[test]
fn previous_hosts_are_avoided_for_five_selection_attempts() {
    let p = IstioRetry::istio_default();
    let mut st = RetryState::new();
    assert!(p.avoid(&st).is_none());
    st.tried("10.0.0.1".to_owned());
    let a = p.avoid(&st).unwrap();
    assert_eq!(a.max_selection_attempts, HOST_SELECTION_ATTEMPTS);
    assert!(a.reject(&"10.0.0.1".to_owned(), 1));
    assert!(a.reject(&"10.0.0.1".to_owned(), 4));
    assert!(
        !a.reject(&"10.0.0.1".to_owned(), 5),
        "the last pick is kept"
    );
    assert!(!a.reject(&"10.0.0.2".to_owned(), 1));
    let mut off = p.clone();
    off.avoid_previous_hosts = false;
    assert!(off.avoid(&st).is_none());
}

mod profile;
