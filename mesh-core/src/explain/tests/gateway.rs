//! `explain --gateway` routes as `MeshLayer::try_gateway` does (spec §1.9): the Gateway server
//! port is the port route matches see, and a destination without `port` goes to its
//! service's only port.

use crate::testutil::{doc, mesh};

use super::*;

fn docs(dest: &str) -> Vec<String> {
    vec![
        doc(
            "Gateway",
            "ns/gw",
            "selector: {istio: ingressgateway}\nservers:\n- port: {number: 443, name: https, \
             protocol: HTTPS}\n  hosts: [app.example.com]\n  tls: {mode: SIMPLE, \
             credentialName: app-cert}",
        ),
        doc(
            "ServiceEntry",
            "ns/app",
            "hosts: [app.internal]\nports: [{number: 8080, name: http, protocol: HTTP}]\n\
             resolution: STATIC\nendpoints: [{address: 10.0.0.1}]",
        ),
        doc(
            "ServiceEntry",
            "ns/multi",
            "hosts: [multi.internal]\nports: [{number: 8080, name: http, protocol: HTTP}, \
             {number: 9090, name: http-admin, protocol: HTTP}]\nresolution: STATIC\n\
             endpoints: [{address: 10.0.0.2}]",
        ),
        doc(
            "DestinationRule",
            "ns/app",
            "host: app.internal\ntrafficPolicy:\n  portLevelSettings:\n  - port: {number: 8080}\n    \
             connectionPool: {http: {http2MaxRequests: 7}}",
        ),
        doc(
            "VirtualService",
            "ns/edge",
            &format!(
                "hosts: [app.example.com]\ngateways: [gw]\nhttp:\n- match: [{{port: 443}}]\n  \
                 route: [{{destination: {{host: {dest}}}}}]"
            ),
        ),
    ]
}

fn at_gateway(m: &Mesh, url: &str) -> Explanation {
    let req = ExplainRequest::from_line(
        &format!("GET {url}"),
        &[],
        ProxyScope::Gateway {
            gateway: "ns/gw".into(),
            port: 443,
        },
    )
    .unwrap();
    explain(m, &req).unwrap()
}

#[test]
fn the_gateway_server_port_is_the_port_routes_match_whatever_the_host_says() {
    let m = mesh(&docs("app.internal"));
    for url in [
        "https://app.example.com/x",
        "https://app.example.com:8443/x",
        "http://app.example.com:80/x",
    ] {
        let e = at_gateway(&m, url);
        assert_eq!(e.request.port, 443, "{url}");
        assert_eq!(e.route.action, "route", "{url}: {:?}", e.route);
        assert_eq!(e.route.virtual_service.as_deref(), Some("ns/edge"), "{url}");
    }
}

#[test]
fn a_destination_without_port_goes_to_the_service_only_port() {
    let m = mesh(&docs("app.internal"));
    let e = at_gateway(&m, "https://app.example.com:8443/x");
    let picked = e.route.picked.as_ref().unwrap();
    assert_eq!(
        (picked.host.as_str(), picked.port),
        ("app.internal", Some(8080))
    );
    // The port-level DestinationRule settings of that port apply.
    let policy = e.destination_policy.unwrap();
    assert_eq!(policy.connection_pool["http2_max_requests"], 7);
    assert_eq!(m.gateway_destination_port("app.internal", 443), 8080);

    // A service with several ports: the Gateway server port, as the gateway sends it.
    let m = mesh(&docs("multi.internal"));
    let e = at_gateway(&m, "https://app.example.com/x");
    assert_eq!(e.route.picked.unwrap().port, Some(443));
}
