//! The whole client stack of [`MeshLayer`] around an in-memory endpoint (issue 3 targets:
//! <= 1.5 us and <= 5 heap allocations per request): sidecar routing, the 90/10 weighted pick,
//! Istio default retries with an Envoy retry budget, circuit breakers, and round-robin balancing
//! with outlier detection over two endpoints. Heap allocations per request are counted with an
//! instrumented global allocator and printed before the timings. The same routes bound to an
//! ingress Gateway are measured through [`MeshLayer::try_gateway`].

use std::alloc::System;
use std::convert::Infallible;
use std::future::{Ready, ready};
use std::hint::black_box;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use http::{Request, Response, Uri};
use http_body_util::Full;
use mesh_core::layer::mesh::{EndpointAddr, MeshLayer, MeshService};
use mesh_core::layer::retry::ReplayBody;
use mesh_core::model::{Mesh, Workload};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use tower::{Layer, Service};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const YAML: &str = r#"
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
  - {address: 10.0.0.2, labels: {version: v1}}
  - {address: 10.0.0.3, labels: {version: v2}}
  - {address: 10.0.0.4, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: prod}
spec:
  host: reviews
  trafficPolicy:
    loadBalancer: {simple: ROUND_ROBIN}
    retryBudget: {percent: 20, minRetryConcurrency: 3}
    outlierDetection: {consecutive5xxErrors: 5, interval: 10s, baseEjectionTime: 30s}
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: prod}
spec:
  hosts: [reviews]
  http:
  - match: [{headers: {x-version: {exact: v2}}}]
    route: [{destination: {host: reviews, subset: v2}}]
  - route:
    - {destination: {host: reviews, subset: v1}, weight: 90}
    - {destination: {host: reviews, subset: v2}, weight: 10}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: public, namespace: prod}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [reviews.example.com]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews-edge, namespace: prod}
spec:
  hosts: [reviews.example.com]
  gateways: [public]
  http:
  - match: [{headers: {x-version: {exact: v2}}}]
    route: [{destination: {host: reviews, subset: v2}}]
  - route:
    - {destination: {host: reviews, subset: v1}, weight: 90}
    - {destination: {host: reviews, subset: v2}, weight: 10}
"#;

/// An endpoint that answers 200 at once.
#[derive(Clone, Copy)]
struct Echo;

impl Service<Request<ReplayBody<Full<Bytes>>>> for Echo {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<ReplayBody<Full<Bytes>>>) -> Self::Future {
        ready(Ok(Response::new(Full::default())))
    }
}

type Stack = MeshService<fn(&EndpointAddr) -> Echo>;

fn stack(gateway: bool) -> Stack {
    let (mesh, _) = Mesh::from_yaml("bench.yaml", YAML).expect("valid bench mesh");
    let mesh = Arc::new(mesh);
    let client = Workload {
        namespace: "prod".into(),
        name: "client".into(),
        labels: [("app".to_owned(), "client".to_owned())].into(),
    };
    let connect: fn(&EndpointAddr) -> Echo = |_| Echo;
    let layer = if gateway {
        MeshLayer::try_gateway(mesh, "prod/public", 80)
    } else {
        MeshLayer::try_new(mesh, client)
    };
    layer
        .expect("enforceable policies")
        .with_seed(1)
        .layer(connect)
}

fn request(uri: &'static str) -> Request<Full<Bytes>> {
    let mut req = Request::new(Full::default());
    *req.uri_mut() = Uri::from_static(uri);
    req
}

fn one(rt: &tokio::runtime::Runtime, svc: &mut Stack, uri: &'static str) -> u16 {
    let rsp = rt.block_on(svc.call(request(uri))).expect("served");
    rsp.status().as_u16()
}

fn whole_stack(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    for (name, gateway, uri) in [
        (
            "stack/request_90_10_budget_outlier",
            false,
            "http://reviews/api/v1/products",
        ),
        (
            "stack/gateway_request_90_10_budget_outlier",
            true,
            "http://reviews.example.com/api/v1/products",
        ),
    ] {
        measure(c, &rt, name, gateway, uri);
    }
}

fn measure(
    c: &mut Criterion,
    rt: &tokio::runtime::Runtime,
    name: &str,
    gateway: bool,
    uri: &'static str,
) {
    let mut svc = stack(gateway);
    assert_eq!(one(rt, &mut svc, uri), 200, "warm-up builds the clusters");

    const N: usize = 10_000;
    let region = Region::new(GLOBAL);
    for _ in 0..N {
        black_box(one(rt, &mut svc, uri));
    }
    let stats = region.change();
    println!(
        "{name}: {:.2} heap allocations and {:.0} bytes per request ({} requests)",
        stats.allocations as f64 / N as f64,
        stats.bytes_allocated as f64 / N as f64,
        N
    );

    c.bench_function(name, |b| b.iter(|| black_box(one(rt, &mut svc, uri))));
}

criterion_group!(benches, whole_stack);
criterion_main!(benches);
