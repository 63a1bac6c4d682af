//! Per-request cost of the inbound policy stack (mTLS guard, normalization, authorization) as
//! the proxy assembles it, over an application stub that answers at once: what the proxy adds
//! before the pooled client, without sockets.
#![allow(missing_docs)]

use std::convert::Infallible;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use criterion::{Criterion, criterion_group, criterion_main};
use http::{Request, Response, StatusCode};
use mesh_core::Mesh;
use mesh_core::security::conn::{ConnectionFacts, PeerIdentity};
use mesh_core::security::identity::SpiffeId;
use mesh_proxy::body::Body;
use mesh_proxy::inbound::Inbound;
use mesh_proxy::metrics::Metrics;
use mesh_proxy::stack::Stack;
use tower::ServiceExt;

const RESOURCES: &str = concat!(
    include_str!("../../examples/resources/peerauthentication.yaml"),
    "\n---\n",
    include_str!("../../examples/resources/authorizationpolicy-myapp.yaml")
);

fn bench(c: &mut Criterion) {
    let (mesh, _) = Mesh::from_yaml("r.yaml", RESOURCES).unwrap();
    let workload = mesh_core::Workload {
        namespace: "production".into(),
        name: "myapp-v1".into(),
        labels: [("app".to_owned(), "myapp".to_owned())].into(),
    };
    let id = SpiffeId::new("cluster.local", "production", "myapp").unwrap();
    let app = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8080);
    let (inbound, _) = Inbound::from_mesh(&mesh, workload, id, app, Metrics::new()).unwrap();
    let stub = tower::service_fn(|_req: Request<Body>| async {
        Ok::<_, Infallible>(Response::new(Body::empty()))
    });
    let stack = Stack::new(stub)
        .push_authz(&inbound)
        .push_normalize(&inbound)
        .push_mtls(&inbound)
        .boxed();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let facts = |sa: &str| {
        ConnectionFacts::plaintext(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 8080).with_peer(
            PeerIdentity::from_principal(&format!("cluster.local/ns/production/sa/{sa}")).unwrap(),
        )
    };
    let request = |path: &str, facts: &ConnectionFacts| {
        let mut req = Request::get(path)
            .header("host", "myapp.production.svc.cluster.local")
            .body(Body::empty())
            .unwrap();
        req.extensions_mut().insert(facts.clone());
        req
    };
    let (frontend, other) = (facts("frontend"), facts("other"));
    let mut group = c.benchmark_group("inbound_stack");
    group.bench_function("allowed_get_api", |b| {
        b.iter(|| {
            let rsp = rt
                .block_on(stack.clone().oneshot(request("/api/items/1", &frontend)))
                .unwrap();
            assert_eq!(rsp.status(), StatusCode::OK);
            black_box(rsp)
        })
    });
    group.bench_function("denied_other_principal", |b| {
        b.iter(|| {
            let rsp = rt
                .block_on(stack.clone().oneshot(request("/api/items/1", &other)))
                .unwrap();
            assert_eq!(rsp.status(), StatusCode::FORBIDDEN);
            black_box(rsp)
        })
    });
    group.bench_function("path_needing_normalization", |b| {
        b.iter(|| {
            let rsp = rt
                .block_on(
                    stack
                        .clone()
                        .oneshot(request("/api//x/../items/%31", &frontend)),
                )
                .unwrap();
            black_box(rsp)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
