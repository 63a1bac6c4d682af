//! Fixtures: a ServiceEntry with three in-memory endpoints, DestinationRule and
//! VirtualService builders, and the mesh service over them.

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
    let client = Workload {
        namespace: "prod".into(),
        name: "client".into(),
        labels: [("app".to_owned(), "client".to_owned())].into(),
    };
    let layer = MeshLayer::try_new(load(yaml), client).expect("enforceable policies");
    over(layer, status)
}

/// The reviews service plus `yaml`.
fn load(yaml: &str) -> Arc<Mesh> {
    let (mesh, _) = Mesh::from_yaml("test.yaml", &format!("{SERVICE}{yaml}"))
        .unwrap_or_else(|e| panic!("{e}: {:#?}", e.diagnostics));
    Arc::new(mesh)
}

/// `layer` (seeded) over in-memory endpoints answering `status`.
fn over(layer: MeshLayer, status: fn(&str) -> (u16, Option<Duration>)) -> (Svc, Calls) {
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
    (layer.with_seed(7).layer(connect), calls)
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

mod gateway;
mod resilience;
mod routing;
