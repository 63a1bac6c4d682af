//! Resilience: faults, timeouts, retries and budgets, circuit breakers, outlier ejection.

use super::*;

#[tokio::test(start_paused = true)]
async fn retries_on_503_are_counted_at_the_upstream() {
    let http = r#"
  - route: [{destination: {host: reviews, subset: v2}}]
    retries: {attempts: 3, retryOn: "503"}"#;
    let (mut svc, calls) = stack(&format!("{}{}", dr(RR), vs(http)), |_| (503, None));
    let rsp = send(&mut svc, get("/", &[])).await;
    assert_eq!(rsp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(upstream(&rsp), "10.0.0.2");
    // One try and three retries.
    assert_eq!(count(&calls, "10.0.0.2"), 4);
}

#[tokio::test(start_paused = true)]
async fn linkerd_budget_caps_a_5xx_storm() {
    let profile = r#"
---
apiVersion: linkerd.io/v1alpha2
kind: ServiceProfile
metadata: {name: reviews.prod.svc.cluster.local, namespace: prod}
spec:
  routes:
  - name: GET /
    condition: {method: GET, pathRegex: /.*}
    isRetryable: true
  retryBudget: {retryRatio: 0.2, minRetriesPerSecond: 1, ttl: 10s}
"#;
    let (mut svc, calls) = stack(&format!("{}{profile}", dr(RR)), |_| (503, None));
    for _ in 0..200 {
        let rsp = send(&mut svc, get("/", &[])).await;
        assert_eq!(rsp.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
    let total: u32 = calls.lock().unwrap().values().sum();
    // Only the reserve (1 retry/s over a 10 s window) is available when nothing succeeds.
    assert!(total > 200, "some retries ran: {total}");
    assert!(total <= 200 + 10, "the budget caps retries: {total}");
    // Once the reserve is spent, the failure comes back marked for the proxy's metrics.
    let rsp = send(&mut svc, get("/", &[])).await;
    assert_eq!(
        rsp.extensions()
            .get::<crate::layer::retry::RetryBudgetExhausted>(),
        Some(&crate::layer::retry::RetryBudgetExhausted)
    );
}

#[tokio::test(start_paused = true)]
async fn a_delayed_request_is_flagged_di() {
    let http = r#"
  - route: [{destination: {host: reviews, subset: v2}}]
    fault: {delay: {fixedDelay: 2s, percentage: {value: 100}}}"#;
    let (mut svc, calls) = stack(&format!("{}{}", dr(RR), vs(http)), ok);
    let start = tokio::time::Instant::now();
    let rsp = send(&mut svc, get("/", &[])).await;
    assert!(start.elapsed() >= Duration::from_secs(2));
    assert_eq!(rsp.status(), StatusCode::OK);
    assert_eq!(
        rsp.extensions().get::<ResponseFlag>(),
        Some(&ResponseFlag("DI"))
    );
    assert_eq!(count(&calls, "10.0.0.2"), 1);
}

#[tokio::test(start_paused = true)]
async fn route_timeout_answers_504() {
    let http = r#"
  - route: [{destination: {host: reviews, subset: v2}}]
    timeout: 1s"#;
    let (mut svc, calls) = stack(&format!("{}{}", dr(RR), vs(http)), |_| {
        (200, Some(Duration::from_secs(5)))
    });
    let rsp = send(&mut svc, get("/", &[])).await;
    assert_eq!(rsp.status(), StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(
        rsp.extensions().get::<ResponseFlag>(),
        Some(&ResponseFlag("UT"))
    );
    assert_eq!(count(&calls, "10.0.0.2"), 1);
}

#[tokio::test(start_paused = true)]
async fn fault_abort_never_reaches_the_upstream() {
    let http = r#"
  - route: [{destination: {host: reviews, subset: v2}}]
    fault: {abort: {httpStatus: 418, percentage: {value: 100}}}"#;
    let (mut svc, calls) = stack(&format!("{}{}", dr(RR), vs(http)), ok);
    for _ in 0..5 {
        let rsp = send(&mut svc, get("/", &[])).await;
        assert_eq!(rsp.status(), StatusCode::IM_A_TEAPOT);
    }
    assert!(calls.lock().unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn failing_endpoint_is_ejected_and_traffic_moves() {
    let http = r#"
  - route: [{destination: {host: reviews, subset: v1}}]
    retries: {attempts: 0}"#;
    let policy = "{loadBalancer: {simple: ROUND_ROBIN}, outlierDetection: \
                  {consecutive5xxErrors: 2, interval: 1s, baseEjectionTime: 30s, \
                  maxEjectionPercent: 100}}";
    let (mut svc, calls) = stack(&format!("{}{}", dr(policy), vs(http)), |a| {
        (if a == "10.0.0.3" { 503 } else { 200 }, None)
    });
    for _ in 0..10 {
        send(&mut svc, get("/", &[])).await;
    }
    let failing = count(&calls, "10.0.0.3");
    assert!(
        failing <= 3,
        "ejected after its second consecutive 5xx: {failing}"
    );
    for _ in 0..20 {
        let rsp = send(&mut svc, get("/", &[])).await;
        assert_eq!(rsp.status(), StatusCode::OK);
        assert_eq!(upstream(&rsp), "10.0.0.1");
    }
    assert_eq!(count(&calls, "10.0.0.3"), failing);
}

#[tokio::test(start_paused = true)]
async fn pool_overflow_answers_503_uo() {
    let policy = "{connectionPool: {http: {http2MaxRequests: 1}}}";
    let http = r#"
  - route: [{destination: {host: reviews, subset: v2}}]
    retries: {attempts: 0}"#;
    let (svc, calls) = stack(&format!("{}{}", dr(policy), vs(http)), |_| {
        (200, Some(Duration::from_secs(1)))
    });
    let first = svc.clone().oneshot(get("/", &[]));
    let second = svc.clone().oneshot(get("/", &[]));
    let (first, second) = tokio::join!(first, second);
    let (first, second) = (first.unwrap(), second.unwrap());
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(second.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(second.headers()["x-envoy-overloaded"], "true");
    assert_eq!(count(&calls, "10.0.0.2"), 1);
    // The cluster is shared: its breaker held the first request until its body was dropped.
    let cluster = svc
        .cluster("reviews.prod.svc.cluster.local", Some("v2"), 80)
        .expect("built by the first request");
    assert_eq!(cluster.breaker().in_use(Limit::Requests), 1);
    drop(first);
    assert_eq!(cluster.breaker().in_use(Limit::Requests), 0);
}

#[tokio::test(start_paused = true)]
async fn fault_delay_runs_before_the_router_and_outside_the_route_timeout() {
    let http = r#"
  - route: [{destination: {host: reviews, subset: v2}}]
    timeout: 1s
    fault: {delay: {fixedDelay: 2s, percentage: {value: 100}}}"#;
    let (mut svc, calls) = stack(&format!("{}{}", dr(RR), vs(http)), ok);
    let start = tokio::time::Instant::now();
    let rsp = send(&mut svc, get("/", &[])).await;
    // A 2 s delay under a 1 s route timeout still succeeds: the timeout starts at the router.
    assert_eq!(rsp.status(), StatusCode::OK);
    assert!(
        start.elapsed() >= Duration::from_secs(2),
        "the delay was applied"
    );
    assert_eq!(count(&calls, "10.0.0.2"), 1);
}

#[tokio::test(start_paused = true)]
async fn envoy_retry_budget_caps_concurrent_retries() {
    let http = r#"
  - route: [{destination: {host: reviews, subset: v2}}]
    retries: {attempts: 3, retryOn: "503"}"#;
    let run = |policy: &'static str| {
        let (svc, calls) = stack(&format!("{}{}", dr(policy), vs(http)), |_| {
            (503, Some(Duration::from_millis(100)))
        });
        async move {
            let one = || svc.clone().oneshot(get("/", &[]));
            let r = tokio::join!(one(), one(), one(), one(), one());
            for rsp in [r.0, r.1, r.2, r.3, r.4] {
                assert_eq!(rsp.unwrap().status(), StatusCode::SERVICE_UNAVAILABLE);
            }
            count(&calls, "10.0.0.2")
        }
    };
    // Without a budget each of the 5 requests makes 4 attempts.
    assert_eq!(run(RR).await, 20);
    // One concurrent retry at most: the five first attempts, then the retries one at a time.
    let capped = run("{retryBudget: {percent: 0, minRetryConcurrency: 1}}").await;
    assert!((6..=8).contains(&capped), "{capped}");
}

#[tokio::test(start_paused = true)]
async fn per_try_timeout_cuts_each_attempt_and_answers_504() {
    let http = r#"
  - route: [{destination: {host: reviews, subset: v2}}]
    retries: {attempts: 2, perTryTimeout: 1s, retryOn: 5xx}"#;
    let (mut svc, calls) = stack(&format!("{}{}", dr(RR), vs(http)), |_| {
        (200, Some(Duration::from_secs(5)))
    });
    let rsp = send(&mut svc, get("/", &[])).await;
    assert_eq!(rsp.status(), StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(
        rsp.extensions().get::<ResponseFlag>(),
        Some(&ResponseFlag("UT"))
    );
    assert_eq!(
        count(&calls, "10.0.0.2"),
        3,
        "one try and two retries, each cut"
    );
}
