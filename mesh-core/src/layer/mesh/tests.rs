use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use tower::{Layer, Service, ServiceExt};

use super::{BoxError, EndpointAddr, MeshLayer, MeshService, NO_ROUTE};
use crate::layer::pool::PermitBody;
use crate::layer::retry::ReplayBody;
use crate::layer::timeout::ResponseFlag;
use crate::model::{Mesh, Workload};
use crate::resilience::envoy_budget::InvalidEnvoyBudget;
use crate::resilience::pool::Limit;

type Calls = Arc<Mutex<BTreeMap<String, u32>>>;
type BoxFuture<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>;

/// An in-memory endpoint: answers `status` after `delay`, naming itself in `x-upstream`.
#[derive(Clone)]
struct Upstream {
    addr: String,
    calls: Calls,
    status: u16,
    delay: Option<Duration>,
}

impl Service<Request<ReplayBody<Full<Bytes>>>> for Upstream {
    type Response = Response<Full<Bytes>>;
    type Error = BoxError;
    type Future = BoxFuture<Result<Response<Full<Bytes>>, BoxError>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), BoxError>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _req: Request<ReplayBody<Full<Bytes>>>) -> Self::Future {
        *self
            .calls
            .lock()
            .unwrap()
            .entry(self.addr.clone())
            .or_default() += 1;
        let (status, delay, addr) = (self.status, self.delay, self.addr.clone());
        Box::pin(async move {
            if let Some(d) = delay {
                tokio::time::sleep(d).await;
            }
            let mut rsp = Response::new(Full::new(Bytes::from_static(b"ok")));
            *rsp.status_mut() = StatusCode::from_u16(status).unwrap();
            rsp.headers_mut()
                .insert("x-upstream", addr.parse().unwrap());
            Ok(rsp)
        })
    }
}

type Connect = Box<dyn Fn(&EndpointAddr) -> Upstream + Send + Sync>;
type Svc = MeshService<Connect>;

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
"#;

/// A DestinationRule for reviews with subsets v1 and v2 and `policy` as its traffic policy.
fn dr(policy: &str) -> String {
    format!(
        r#"
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: reviews, namespace: prod}}
spec:
  host: reviews
  trafficPolicy: {policy}
  subsets:
  - {{name: v1, labels: {{version: v1}}}}
  - {{name: v2, labels: {{version: v2}}}}
"#
    )
}

/// A VirtualService for reviews with `http` as its rules.
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

/// The mesh service over in-memory endpoints; `status` answers for each endpoint address.
fn stack(yaml: &str, status: fn(&str) -> (u16, Option<Duration>)) -> (Svc, Calls) {
    let (mesh, _) = Mesh::from_yaml("test.yaml", &format!("{SERVICE}{yaml}"))
        .unwrap_or_else(|e| panic!("{e}: {:#?}", e.diagnostics));
    let calls = Calls::default();
    let c = calls.clone();
    let connect: Connect = Box::new(move |a: &EndpointAddr| {
        let (code, delay) = status(&a.address);
        Upstream {
            addr: a.address.clone(),
            calls: c.clone(),
            status: code,
            delay,
        }
    });
    let client = Workload {
        namespace: "prod".into(),
        name: "client".into(),
        labels: [("app".to_owned(), "client".to_owned())].into(),
    };
    let svc = MeshLayer::try_new(Arc::new(mesh), client)
        .expect("enforceable policies")
        .with_seed(7)
        .layer(connect);
    (svc, calls)
}

fn ok(_: &str) -> (u16, Option<Duration>) {
    (200, None)
}

fn get(path: &str, headers: &[(&str, &str)]) -> Request<Full<Bytes>> {
    let mut b = Request::get(format!("http://reviews{path}"));
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Full::default()).unwrap()
}

async fn send(svc: &mut Svc, req: Request<Full<Bytes>>) -> Response<PermitBody<Full<Bytes>>> {
    svc.ready().await.unwrap().call(req).await.unwrap()
}

fn upstream<B>(rsp: &Response<B>) -> &str {
    rsp.headers()
        .get("x-upstream")
        .map_or("local", |v| v.to_str().unwrap())
}

fn count(calls: &Calls, addr: &str) -> u32 {
    calls.lock().unwrap().get(addr).copied().unwrap_or(0)
}

const RR: &str = "{loadBalancer: {simple: ROUND_ROBIN}}";

const CANARY: &str = r#"
  - match: [{headers: {x-version: {exact: v2}}}]
    route: [{destination: {host: reviews, subset: v2}}]
  - route:
    - {destination: {host: reviews, subset: v1}, weight: 90}
    - {destination: {host: reviews, subset: v2}, weight: 10}
    retries: {attempts: 0}"#;

#[tokio::test(start_paused = true)]
async fn header_routes_to_v2() {
    let policy = RR;
    let (mut svc, _) = stack(&format!("{}{}", dr(policy), vs(CANARY)), ok);
    for _ in 0..20 {
        let rsp = send(&mut svc, get("/", &[("x-version", "v2")])).await;
        assert_eq!(rsp.status(), StatusCode::OK);
        assert_eq!(upstream(&rsp), "10.0.0.2");
    }
}

#[tokio::test(start_paused = true)]
async fn ninety_ten_split_converges() {
    let policy = RR;
    let (mut svc, calls) = stack(&format!("{}{}", dr(policy), vs(CANARY)), ok);
    for _ in 0..4000 {
        let rsp = send(&mut svc, get("/", &[])).await;
        assert_eq!(rsp.status(), StatusCode::OK);
    }
    let v2 = count(&calls, "10.0.0.2");
    // 10% of 4000 is 400; a seeded run stays well within +-60 (about 5 standard deviations).
    assert!((340..=460).contains(&v2), "v2 got {v2} of 4000");
    // v1's two endpoints share the rest round robin.
    let (a, b) = (count(&calls, "10.0.0.1"), count(&calls, "10.0.0.3"));
    assert_eq!(a + b + v2, 4000);
    assert!(a.abs_diff(b) <= 1, "{a} vs {b}");
}

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
async fn unmatched_route_on_a_virtual_service_host_is_404_nr() {
    let http = r#"
  - match: [{uri: {prefix: /api}}]
    route: [{destination: {host: reviews, subset: v1}}]"#;
    let (mut svc, calls) = stack(&format!("{}{}", dr(RR), vs(http)), ok);
    let rsp = send(&mut svc, get("/other", &[])).await;
    assert_eq!(rsp.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        rsp.extensions().get::<ResponseFlag>(),
        Some(&ResponseFlag(NO_ROUTE))
    );
    let rsp = send(&mut svc, get("/api/x", &[])).await;
    assert_eq!(rsp.status(), StatusCode::OK);
    assert_eq!(calls.lock().unwrap().values().sum::<u32>(), 1);
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
async fn default_route_uses_the_service_endpoints() {
    let (mut svc, calls) = stack(&dr("{loadBalancer: {simple: ROUND_ROBIN}}"), ok);
    for _ in 0..30 {
        let rsp = send(&mut svc, get("/anything", &[])).await;
        assert_eq!(rsp.status(), StatusCode::OK);
    }
    let c = calls.lock().unwrap();
    assert_eq!(c.len(), 3, "all endpoints of the service: {c:?}");
    assert!(c.values().all(|n| *n == 10), "{c:?}");
}

#[tokio::test(start_paused = true)]
async fn direct_response_and_rewrite_with_headers() {
    let http = r#"
  - match: [{uri: {exact: /health}}]
    directResponse: {status: 200, body: {string: healthy}}
  - match: [{uri: {prefix: /old}}]
    rewrite: {uri: /new}
    headers: {request: {set: {x-route: canary}}, response: {add: {x-served-by: mesh}}}
    route: [{destination: {host: reviews, subset: v2}}]"#;
    let (mesh, _) = Mesh::from_yaml("t.yaml", &format!("{SERVICE}{}{}", dr(RR), vs(http)))
        .unwrap_or_else(|e| panic!("{e}: {:#?}", e.diagnostics));
    let seen: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let s = seen.clone();
    let connect = move |_: &EndpointAddr| {
        let s = s.clone();
        tower::service_fn(move |req: Request<ReplayBody<Full<Bytes>>>| {
            let route = req
                .headers()
                .get("x-route")
                .map(|v| v.to_str().unwrap().to_owned());
            s.lock()
                .unwrap()
                .push((req.uri().path().to_owned(), route.unwrap_or_default()));
            async { Ok::<_, BoxError>(Response::new(Full::<Bytes>::default())) }
        })
    };
    let client = Workload {
        namespace: "prod".into(),
        name: "client".into(),
        labels: Default::default(),
    };
    let mut svc = MeshLayer::try_new(Arc::new(mesh), client)
        .expect("enforceable policies")
        .with_seed(1)
        .layer(connect);
    let rsp = svc
        .ready()
        .await
        .unwrap()
        .call(get("/health", &[]))
        .await
        .unwrap();
    assert_eq!(rsp.status(), StatusCode::OK);
    let body = http_body_util::BodyExt::collect(rsp.into_body())
        .await
        .unwrap();
    assert_eq!(body.to_bytes(), "healthy");
    assert!(seen.lock().unwrap().is_empty());
    let rsp = svc
        .ready()
        .await
        .unwrap()
        .call(get("/old/x?q=1", &[]))
        .await
        .unwrap();
    assert_eq!(rsp.headers()["x-served-by"], "mesh");
    assert_eq!(
        *seen.lock().unwrap(),
        vec![("/new/x".to_owned(), "canary".to_owned())]
    );
}

#[tokio::test(start_paused = true)]
async fn mirror_copies_empty_body_requests_and_ignores_the_answer() {
    let http = r#"
  - route: [{destination: {host: reviews, subset: v1}}]
    mirror: {host: reviews, subset: v2}
    retries: {attempts: 0}"#;
    let (mut svc, calls) = stack(&format!("{}{}", dr(RR), vs(http)), |a| {
        (if a == "10.0.0.2" { 500 } else { 200 }, None)
    });
    for _ in 0..4 {
        let rsp = send(&mut svc, get("/", &[])).await;
        assert_eq!(rsp.status(), StatusCode::OK, "the mirror's 500 is ignored");
        assert_ne!(upstream(&rsp), "10.0.0.2");
    }
    let post = Request::post("http://reviews/")
        .body(Full::new(Bytes::from_static(b"payload")))
        .unwrap();
    assert_eq!(send(&mut svc, post).await.status(), StatusCode::OK);
    // The copies run on their own tasks.
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert_eq!(
        count(&calls, "10.0.0.2"),
        4,
        "GETs mirrored, the POST with a body not"
    );
    assert_eq!(count(&calls, "10.0.0.1") + count(&calls, "10.0.0.3"), 5);
}

#[test]
fn policies_the_engines_cannot_enforce_are_rejected_up_front() {
    // Envoy's `budgetInterval` counts recent requests: not implemented, so refused.
    let policy = "{retryBudget: {percent: 20, budgetInterval: 10s}}";
    let http = "\n  - route: [{destination: {host: reviews, subset: v1}}]";
    let yaml = format!("{SERVICE}{}{}", dr(policy), vs(http));
    let (mesh, _) = Mesh::from_yaml("t.yaml", &yaml).unwrap_or_else(|e| panic!("{e}"));
    let client = Workload {
        namespace: "prod".into(),
        name: "client".into(),
        labels: Default::default(),
    };
    let err = MeshLayer::try_new(Arc::new(mesh), client).unwrap_err();
    match err {
        super::InvalidMesh::Cluster { cluster, reason } => {
            assert_eq!(cluster, "reviews.prod.svc.cluster.local|v1|");
            assert_eq!(
                reason,
                super::InvalidCluster::RetryBudget(InvalidEnvoyBudget::BudgetInterval)
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn smi_traffic_split_picks_the_backend_service() {
    let yaml = r#"
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: reviews-v2, namespace: prod}
spec:
  hosts: [reviews-v2.prod.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints: [{address: 10.0.9.9}]
---
apiVersion: split.smi-spec.io/v1alpha1
kind: TrafficSplit
metadata: {name: reviews-canary, namespace: prod}
spec:
  service: reviews
  backends:
  - {service: reviews, weight: 750m}
  - {service: reviews-v2, weight: 250m}
"#;
    let (mut svc, calls) = stack(yaml, ok);
    for _ in 0..2000 {
        assert_eq!(send(&mut svc, get("/", &[])).await.status(), StatusCode::OK);
    }
    let v2 = count(&calls, "10.0.9.9");
    assert!((440..=560).contains(&v2), "25% of 2000 expected, got {v2}");
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
