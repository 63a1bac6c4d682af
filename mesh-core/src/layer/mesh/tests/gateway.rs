//! Gateway mode: routes from the VirtualServices bound to a Gateway server port (spec §1.9),
//! then the sidecar's per-route stack.

use super::*;
use crate::layer::mesh::InvalidMesh;

/// Gateway `prod/public`: port 80 serves `reviews.example.com` and `*.shop.example.com`;
/// port 8080 redirects `secure.example.com` to https; port 8443 serves `tls.example.com`.
const GATEWAY: &str = r#"
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: public, namespace: prod}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [reviews.example.com, "*.shop.example.com"]
  - port: {number: 8080, name: redirect, protocol: HTTP}
    hosts: [secure.example.com]
    tls: {httpsRedirect: true}
  - port: {number: 8443, name: https, protocol: HTTPS}
    hosts: [tls.example.com]
    tls: {mode: SIMPLE, credentialName: absent}
"#;

/// A VirtualService `name` for `hosts`, bound to `gateways`, with `http` rules.
fn bound_vs(name: &str, hosts: &str, gateways: &str, http: &str) -> String {
    format!(
        r#"
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: {name}, namespace: prod}}
spec:
  hosts: {hosts}
  gateways: {gateways}
  http: {http}
"#
    )
}

fn gateway(yaml: &str, port: u16, status: fn(&str) -> (u16, Option<Duration>)) -> (Svc, Calls) {
    let mesh = load(&format!("{GATEWAY}{}{yaml}", dr(RR)));
    let layer = MeshLayer::try_gateway(mesh, "prod/public", port).expect("enforceable policies");
    over(layer, status)
}

fn at(authority: &str, path: &str, headers: &[(&str, &str)]) -> Request<Full<Bytes>> {
    let mut b = Request::get(path).header(http::header::HOST, authority);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Full::default()).unwrap()
}

#[tokio::test(start_paused = true)]
async fn gateway_bound_routes_send_headers_to_v2_and_the_rest_to_v1() {
    let vs = bound_vs("edge", "[reviews.example.com]", "[public]", CANARY);
    let (mut svc, calls) = gateway(&vs, 80, ok);
    for _ in 0..10 {
        let rsp = send(
            &mut svc,
            at("reviews.example.com", "/", &[("x-version", "v2")]),
        )
        .await;
        assert_eq!(rsp.status(), StatusCode::OK);
        assert_eq!(upstream(&rsp), "10.0.0.2");
    }
    // The port in the Host is ignored; the default rule is the 90/10 split.
    for _ in 0..200 {
        let rsp = send(&mut svc, at("Reviews.Example.com:80", "/", &[])).await;
        assert_eq!(rsp.status(), StatusCode::OK);
    }
    let v1 = count(&calls, "10.0.0.1") + count(&calls, "10.0.0.3");
    assert!((160..=195).contains(&v1), "v1 got {v1} of 200");
}

#[tokio::test(start_paused = true)]
async fn a_host_no_bound_virtual_service_claims_is_404_nr_not_the_default_route() {
    // `reviews` is a mesh service with endpoints, and a mesh-only VirtualService claims
    // reviews.example.com: neither reaches the gateway (a sidecar would forward both).
    let mesh_only = bound_vs("internal", "[reviews.example.com]", "[mesh]", CANARY);
    let (mut svc, calls) = gateway(&mesh_only, 80, ok);
    for authority in [
        "reviews.example.com",
        "reviews",
        "reviews.prod.svc.cluster.local",
    ] {
        let rsp = send(&mut svc, at(authority, "/", &[])).await;
        assert_eq!(rsp.status(), StatusCode::NOT_FOUND, "{authority}");
        assert_eq!(
            rsp.extensions().get::<ResponseFlag>(),
            Some(&ResponseFlag(NO_ROUTE))
        );
    }
    assert!(calls.lock().unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn virtual_services_for_one_host_are_merged_with_catch_alls_last() {
    // `a` is older and ends in a catch-all to v1; `b` adds /b to v2. Merged at the gateway,
    // `a`'s catch-all moves after `b`'s match (Istio SortVHostRoutes).
    let a = bound_vs(
        "a",
        "[\"api.shop.example.com\"]",
        "[public]",
        "[{route: [{destination: {host: reviews, subset: v1}}]}]",
    );
    let b = bound_vs(
        "b",
        "[\"api.shop.example.com\"]",
        "[prod/public]",
        "[{match: [{uri: {prefix: /b}}], route: [{destination: {host: reviews, subset: v2}}]}]",
    );
    let (mut svc, _) = gateway(&format!("{a}{b}"), 80, ok);
    let rsp = send(&mut svc, at("api.shop.example.com", "/b/x", &[])).await;
    assert_eq!(upstream(&rsp), "10.0.0.2");
    let rsp = send(&mut svc, at("api.shop.example.com", "/other", &[])).await;
    assert_ne!(upstream(&rsp), "10.0.0.2");
    assert_eq!(rsp.status(), StatusCode::OK);
    // The server covers *.shop.example.com, the VirtualService only api.: others are 404.
    let rsp = send(&mut svc, at("www.shop.example.com", "/b", &[])).await;
    assert_eq!(rsp.status(), StatusCode::NOT_FOUND);
}

#[tokio::test(start_paused = true)]
async fn an_https_redirect_server_answers_301_to_https() {
    let (mut svc, calls) = gateway("", 8080, ok);
    let rsp = send(&mut svc, at("secure.example.com", "/a/b?c=d", &[])).await;
    assert_eq!(rsp.status(), StatusCode::MOVED_PERMANENTLY);
    assert_eq!(
        rsp.headers()[http::header::LOCATION],
        "https://secure.example.com/a/b?c=d"
    );
    assert!(calls.lock().unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn the_per_route_stack_runs_at_the_gateway() {
    // Retries on 503 and the fault filter are the sidecar's: the 503 endpoint is retried.
    let http = r#"
  - match: [{uri: {prefix: /teapot}}]
    route: [{destination: {host: reviews, subset: v2}}]
    fault: {abort: {httpStatus: 418, percentage: {value: 100}}}
  - route: [{destination: {host: reviews, subset: v2}}]
    retries: {attempts: 2, retryOn: "503"}"#;
    let vs = bound_vs("edge", "[reviews.example.com]", "[public]", http);
    let (mut svc, calls) = gateway(&vs, 80, |_| (503, None));
    let rsp = send(&mut svc, at("reviews.example.com", "/teapot", &[])).await;
    assert_eq!(rsp.status(), StatusCode::IM_A_TEAPOT);
    assert!(calls.lock().unwrap().is_empty());
    let rsp = send(&mut svc, at("reviews.example.com", "/", &[])).await;
    assert_eq!(rsp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(count(&calls, "10.0.0.2"), 3, "one try and two retries");
}

#[test]
fn an_unknown_gateway_or_port_is_refused() {
    let mesh = load(GATEWAY);
    for (gw, port) in [("prod/public", 443), ("prod/other", 80), ("public", 80)] {
        let err = MeshLayer::try_gateway(mesh.clone(), gw, port).unwrap_err();
        assert_eq!(
            err,
            InvalidMesh::UnknownGateway {
                gateway: gw.to_owned(),
                port
            }
        );
    }
}

#[test]
fn a_bound_route_to_an_unenforceable_cluster_is_refused_at_build() {
    // Envoy's `budgetInterval` is not implemented: a gateway route to that cluster is refused.
    let policy = "{retryBudget: {percent: 20, budgetInterval: 10s}}";
    let http = "\n  - route: [{destination: {host: reviews, subset: v1}}]";
    let vs = bound_vs("edge", "[reviews.example.com]", "[public]", http);
    let yaml = format!("{SERVICE}{GATEWAY}{}{vs}", dr(policy));
    let (mesh, _) = Mesh::from_yaml("t.yaml", &yaml).unwrap_or_else(|e| panic!("{e}"));
    let err = MeshLayer::try_gateway(Arc::new(mesh), "prod/public", 80).unwrap_err();
    match err {
        InvalidMesh::Cluster { cluster, .. } => {
            assert_eq!(cluster, "reviews.prod.svc.cluster.local|v1|");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn the_server_port_is_the_listener_port_and_destinations_use_the_service_port() {
    // On the 8443 server, a request whose Host carries no port (scheme http: 80 by default)
    // matches `port: 8443`, and the destination without a port goes to reviews' only port, 80.
    let http = r#"
  - match: [{port: 8443, headers: {x-version: {exact: v2}}}]
    route: [{destination: {host: reviews, subset: v2}}]
  - match: [{port: 80}]
    route: [{destination: {host: reviews, subset: v1}}]"#;
    let vs = bound_vs("edge", "[tls.example.com]", "[public]", http);
    let (mut svc, calls) = gateway(&vs, 8443, ok);
    let rsp = send(&mut svc, at("tls.example.com", "/", &[("x-version", "v2")])).await;
    assert_eq!(rsp.status(), StatusCode::OK);
    assert_eq!(upstream(&rsp), "10.0.0.2");
    let host = "reviews.prod.svc.cluster.local";
    assert!(svc.cluster(host, Some("v2"), 80).is_some());
    assert!(svc.cluster(host, Some("v2"), 8443).is_none());
    // `port: 80` never matches on this server, whatever the authority says.
    let rsp = send(&mut svc, at("tls.example.com:80", "/", &[])).await;
    assert_eq!(rsp.status(), StatusCode::NOT_FOUND);
    assert_eq!(calls.lock().unwrap().values().sum::<u32>(), 1);
}
