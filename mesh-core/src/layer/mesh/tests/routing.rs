//! Routing: matches, weighted splits, local answers, edits, mirrors, default routes.

use super::*;

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
        crate::layer::mesh::InvalidMesh::Cluster { cluster, reason } => {
            assert_eq!(cluster, "reviews.prod.svc.cluster.local|v1|");
            assert_eq!(
                reason,
                crate::layer::mesh::InvalidCluster::RetryBudget(InvalidEnvoyBudget::BudgetInterval)
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn service_is_shareable_across_threads() {
    fn send_sync_clone<T: Send + Sync + Clone>() {}
    fn send<T: Send>() {}
    send_sync_clone::<Svc>();
    send::<crate::layer::mesh::ResponseFuture<Full<Bytes>>>();
}

#[test]
fn endpoint_addresses_display_as_authorities() {
    let addr = |a: &str| EndpointAddr {
        address: a.into(),
        port: 8080,
    };
    assert_eq!(addr("10.0.0.1").to_string(), "10.0.0.1:8080");
    assert_eq!(addr("2001:db8::1").to_string(), "[2001:db8::1]:8080");
    assert_eq!(addr("db.example.com").to_string(), "db.example.com:8080");
    assert_eq!(
        addr("unix:///var/run/app.sock").to_string(),
        "unix:///var/run/app.sock:8080"
    );
}

#[tokio::test(start_paused = true)]
async fn hosts_without_registry_endpoints_answer_503_uh() {
    let (mut svc, calls) = stack(&dr(RR), ok);
    let mut req = get("/", &[]);
    *req.uri_mut() = "http://unknown.example.com/".parse().unwrap();
    let rsp = send(&mut svc, req).await;
    assert_eq!(rsp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        rsp.extensions().get::<crate::layer::pool::ResponseFlag>(),
        Some(&crate::layer::pool::ResponseFlag::NoHealthyUpstream)
    );
    assert!(calls.lock().unwrap().is_empty());
}
