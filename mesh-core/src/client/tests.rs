use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::Request;

use super::{Begin, Call, Client, LocalResponse, Next};
use crate::model::{Mesh, Workload};
use crate::resilience::Outcome;
use crate::resilience::retry::TryDeadline;

const SERVICE: &str = r#"
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: reviews, namespace: prod}
spec:
  hosts: [reviews.prod.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints:
  - {address: 10.0.0.1, labels: {version: v1}}
  - {address: 10.0.0.2, labels: {version: v2}}
  - {address: 10.0.0.3, labels: {version: v1}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: prod}
spec:
  host: reviews
  trafficPolicy:
    loadBalancer: {simple: ROUND_ROBIN}
    outlierDetection: {consecutive5xxErrors: 2, interval: 1s, baseEjectionTime: 30s, maxEjectionPercent: 100}
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
"#;

fn vs(http: &str) -> String {
    format!(
        r#"
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: reviews, namespace: prod}}
spec:
  hosts: [reviews]
  http: {http}
"#
    )
}

fn client(yaml: &str) -> Client {
    let (mesh, _) = Mesh::from_yaml("test.yaml", &format!("{SERVICE}{yaml}"))
        .unwrap_or_else(|e| panic!("{e}: {:#?}", e.diagnostics));
    let workload = Workload {
        namespace: "prod".into(),
        name: "productpage".into(),
        labels: BTreeMap::new(),
    };
    Client::new(Arc::new(mesh), workload, 7)
}

fn get(path: &str) -> Request<()> {
    Request::get(format!("http://reviews{path}"))
        .body(())
        .unwrap()
}

fn send(c: &Client, req: Request<()>, now: Instant) -> Call {
    match c.begin(req, Some(0), now).unwrap() {
        Begin::Send(call) => *call,
        Begin::Respond { response, .. } => panic!("answered locally: {response:?}"),
    }
}

fn respond(c: &Client, req: Request<()>, now: Instant) -> (Option<Duration>, LocalResponse) {
    match c.begin(req, Some(0), now).unwrap() {
        Begin::Respond { delay, response } => (delay, response),
        Begin::Send(call) => panic!("sent to {:?}", call.endpoint()),
    }
}

/// Engines never read the clock; tests take one origin.
#[allow(clippy::disallowed_methods)]
fn origin() -> Instant {
    Instant::now()
}

const OK: Outcome = Outcome::Response {
    status: 200,
    grpc_status: None,
};
const UNAVAILABLE: Outcome = Outcome::Response {
    status: 503,
    grpc_status: None,
};

#[test]
fn weighted_split_converges_and_rewrites() {
    let c = client(&vs(
        r#"[{match: [{uri: {prefix: /api}}], rewrite: {uri: /v1}, route: [{destination: {host: reviews, subset: v1}, weight: 90}, {destination: {host: reviews, subset: v2}, weight: 10, headers: {request: {set: {x-canary: "yes"}}}}]}]"#,
    ));
    let now = origin();
    let mut v2 = 0;
    for _ in 0..2000 {
        let mut call = send(&c, get("/api/x"), now);
        let ep = call.endpoint().clone();
        assert_eq!(call.request().uri().path(), "/v1/x");
        let canary = call.request().headers().get("x-canary").is_some();
        if ep.subset.as_deref() == Some("v2") {
            v2 += 1;
            assert_eq!(ep.address, "10.0.0.2");
            assert!(canary);
        } else {
            assert_ne!(ep.address, "10.0.0.2");
            assert!(!canary);
        }
        assert_eq!(call.finish(OK, now), Next::Done);
    }
    assert!((170..=230).contains(&v2), "v2 got {v2} of 2000");
}

#[test]
fn a_503_is_retried_on_another_endpoint_then_done() {
    let c = client(&vs(
        r#"[{route: [{destination: {host: reviews, subset: v1}}], retries: {attempts: 2, retryOn: "5xx"}}]"#,
    ));
    let now = origin();
    let mut call = send(&c, get("/"), now);
    let first = call.endpoint().clone();
    let Next::Retry { delay, endpoint } = call.finish(UNAVAILABLE, now) else {
        panic!("not retried")
    };
    assert!(delay <= Duration::from_millis(25), "{delay:?}");
    assert_ne!(endpoint, first, "Istio retries avoid the previous host");
    assert_eq!(call.retries(), 1);
    assert!(matches!(call.finish(UNAVAILABLE, now), Next::Retry { .. }));
    // Two retries spent: the third 503 is the answer.
    assert_eq!(call.finish(UNAVAILABLE, now), Next::Done);
}

#[test]
fn an_always_failing_endpoint_is_ejected_and_traffic_moves() {
    let c = client(&vs(
        r#"[{route: [{destination: {host: reviews, subset: v1}}], retries: {attempts: 0}}]"#,
    ));
    let now = origin();
    let mut seen = BTreeMap::<String, u32>::new();
    for i in 0..40 {
        let mut call = send(&c, get("/"), now + Duration::from_millis(i));
        let addr = call.endpoint().address.clone();
        let outcome = if addr == "10.0.0.1" { UNAVAILABLE } else { OK };
        call.finish(outcome, now + Duration::from_millis(i));
        *seen.entry(addr).or_default() += 1;
    }
    // Round robin sent it two requests, two 503s ejected it, the rest went to 10.0.0.3.
    assert_eq!(seen.get("10.0.0.1"), Some(&2), "{seen:?}");
    assert_eq!(seen.get("10.0.0.3"), Some(&38));
    // After the base ejection time it is back.
    let later = now + Duration::from_secs(32);
    let picks: Vec<String> = (0..4)
        .map(|_| {
            let mut call = send(&c, get("/"), later);
            call.finish(OK, later);
            call.endpoint().address.clone()
        })
        .collect();
    assert!(picks.iter().any(|a| a == "10.0.0.1"), "{picks:?}");
}

#[test]
fn fault_abort_and_delay() {
    let c = client(&vs(
        r#"[{fault: {delay: {fixedDelay: 2s, percentage: {value: 100}}, abort: {httpStatus: 418, percentage: {value: 100}}}, route: [{destination: {host: reviews}}]}]"#,
    ));
    let (delay, rsp) = respond(&c, get("/"), origin());
    assert_eq!(delay, Some(Duration::from_secs(2)));
    assert_eq!((rsp.status, rsp.flag), (418, Some("FI")));
    let c = client(&vs(
        r#"[{fault: {delay: {fixedDelay: 2s, percentage: {value: 100}}}, route: [{destination: {host: reviews}}]}]"#,
    ));
    let call = send(&c, get("/"), origin());
    assert_eq!(call.delay(), Some(Duration::from_secs(2)));
}

#[test]
fn route_and_per_try_timeouts() {
    let c = client(&vs(
        r#"[{timeout: 3s, retries: {attempts: 5, perTryTimeout: 1s, retryOn: "5xx"}, route: [{destination: {host: reviews}}]}]"#,
    ));
    let now = origin();
    let mut call = send(&c, get("/"), now);
    assert_eq!(call.timeout(), Some(Duration::from_secs(3)));
    assert_eq!(
        call.try_deadline(now),
        TryDeadline::PerTry(now + Duration::from_secs(1))
    );
    let t1 = now + Duration::from_secs(1);
    let Next::Retry { delay, .. } = call.finish(Outcome::PerTryTimeout, t1) else {
        panic!("a per-try timeout is retried on 5xx")
    };
    // Late in the call the route deadline cuts the try first.
    let t2 = now + Duration::from_millis(2500);
    assert!(delay < Duration::from_secs(1));
    assert_eq!(
        call.try_deadline(t2),
        TryDeadline::Route(now + Duration::from_secs(3))
    );
    let rsp = call.timed_out();
    assert_eq!(
        (rsp.status, rsp.flag, &rsp.body[..]),
        (504, Some("UT"), &b"upstream request timeout"[..])
    );
}

#[test]
fn transport_errors_without_retries_are_synthesized() {
    let c = client(&vs(
        r#"[{route: [{destination: {host: reviews}}], retries: {attempts: 0}}]"#,
    ));
    let now = origin();
    let mut call = send(&c, get("/"), now);
    let Next::Respond(rsp) = call.finish(Outcome::ConnectFailure, now) else {
        panic!("not synthesized")
    };
    assert_eq!((rsp.status, rsp.flag), (503, Some("UF")));
    let mut call = send(&c, get("/"), now);
    let Next::Respond(rsp) = call.finish(Outcome::PerTryTimeout, now) else {
        panic!("not synthesized")
    };
    assert_eq!((rsp.status, rsp.flag), (504, Some("UT")));
}

#[test]
fn a_streamed_body_is_not_retried() {
    let c = client(&vs(
        r#"[{route: [{destination: {host: reviews}}], retries: {attempts: 2, retryOn: "5xx"}}]"#,
    ));
    let now = origin();
    let Begin::Send(mut call) = c.begin(get("/"), None, now).unwrap() else {
        panic!("not sent")
    };
    assert_eq!(call.finish(UNAVAILABLE, now), Next::Done);
}

#[test]
fn local_answers() {
    let c = client(&vs(
        r#"[{match: [{uri: {prefix: /api}}], route: [{destination: {host: reviews, subset: v3}}]}]"#,
    ));
    let now = origin();
    assert_eq!(respond(&c, get("/other"), now).1.flag, Some("NR"));
    let (_, nc) = respond(&c, get("/api"), now);
    assert_eq!((nc.status, nc.flag), (503, Some("NC")));
    // A host no VirtualService claims goes to its own endpoints.
    let c = client("");
    let call = send(&c, get("/"), now);
    assert_eq!(call.endpoint().host, "reviews.prod.svc.cluster.local");
    assert_eq!(call.endpoint().port, 80);
}

#[test]
fn a_retryable_service_profile_route_retries_within_its_budget() {
    let profile = r#"
---
apiVersion: linkerd.io/v1alpha2
kind: ServiceProfile
metadata: {name: reviews.prod.svc.cluster.local, namespace: prod}
spec:
  routes:
  - name: POST /orders
    condition: {method: POST, pathRegex: /orders}
    responseClasses: [{condition: {status: {min: 429, max: 429}}, isFailure: true}]
    isRetryable: true
    timeout: 2s
  retryBudget: {retryRatio: 0.5, minRetriesPerSecond: 1, ttl: 10s}
"#;
    let c = client(profile);
    let now = origin();
    let post = || {
        Request::post("http://reviews.prod.svc.cluster.local/orders")
            .body(())
            .unwrap()
    };
    let mut call = send(&c, post(), now);
    // The profile route's timeout applies when no VirtualService sets one.
    assert_eq!(call.timeout(), Some(Duration::from_secs(2)));
    // Linkerd retries a failure at once while the profile's budget allows (failures deposit
    // nothing): exactly what a fresh budget of the same settings grants with no deposits.
    let settings = crate::profile::RetryBudgetSettings {
        retry_ratio: 0.5,
        min_retries_per_second: 1,
        ttl: crate::resource::Duration::from_secs(10),
    };
    let fresh = crate::resilience::budget::RetryBudget::try_new(&settings, now).unwrap();
    let granted = std::iter::from_fn(|| fresh.withdraw(now).then_some(()))
        .take(100)
        .count();
    assert!(granted > 0);
    // 429 (a failure for this route's classes, not for the outlier detector).
    let throttled = Outcome::Response {
        status: 429,
        grpc_status: None,
    };
    let mut retried = 0;
    while let Next::Retry { delay, .. } = call.finish(throttled, now) {
        assert_eq!(delay, Duration::ZERO);
        retried += 1;
        assert!(retried < 100, "the budget never ran out");
    }
    assert_eq!(retried, granted);
    // A GET matches no retryable route: never retried.
    let mut get = send(&c, get("/orders"), now);
    assert_eq!(get.finish(UNAVAILABLE, now), Next::Done);
}
