use mesh_core::Mesh;
use mesh_core::layer::mesh::EndpointAddr;
use mesh_core::security::identity::SpiffeId;

use super::endpoint::{Transport, transports};
use super::*;

const ENTRY: &str = r#"apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: reviews, namespace: shop}
spec:
  hosts: [reviews.shop.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints:
  - {address: 10.0.0.1, ports: {http: 8080}, labels: {security.istio.io/tlsMode: istio}, serviceAccount: reviews}
  - {address: 10.0.0.2, ports: {http: 8080}, labels: {security.istio.io/tlsMode: istio}}
  - {address: 10.0.0.3, ports: {http: 8080}, labels: {version: v1}}
"#;

fn addr(ip: &str) -> EndpointAddr {
    EndpointAddr {
        address: ip.into(),
        port: 8080,
    }
}

#[test]
fn endpoints_labelled_istio_are_reached_over_mtls_as_their_service_account() {
    let (mesh, _) = Mesh::from_yaml("se.yaml", ENTRY).unwrap();
    let t = transports(&mesh, "example.org");
    assert_eq!(
        t[&addr("10.0.0.1")],
        Transport::Mtls {
            expected: Some(SpiffeId::new("example.org", "shop", "reviews").unwrap())
        }
    );
    assert_eq!(t[&addr("10.0.0.2")], Transport::Mtls { expected: None });
    assert_eq!(t[&addr("10.0.0.3")], Transport::Plaintext);
    assert_eq!(t.len(), 3);
}

#[test]
fn an_unreachable_endpoint_answers_503_uf_and_other_errors_500() {
    let e: BoxError = Box::new(EndpointError {
        endpoint: "10.0.0.1:80".into(),
        source: "refused".into(),
    });
    let rsp = to_response(&e);
    assert_eq!(rsp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        rsp.extensions().get::<ResponseFlags>(),
        Some(&ResponseFlags("UF"))
    );
    let rsp = to_response(&BoxError::from("something else"));
    assert_eq!(rsp.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

#[test]
fn metric_labels_carry_the_flag_and_the_upstream_identity() {
    let mut labels = RequestLabels {
        reporter: "source",
        source_principal: "spiffe://cluster.local/ns/a/sa/b".into(),
        source_workload: "b-v1".into(),
        source_workload_namespace: "a".into(),
        source_app: "b".into(),
        destination_service: "reviews.shop.svc.cluster.local".into(),
        destination_service_name: "reviews".into(),
        destination_service_namespace: "shop".into(),
        destination_workload: UNKNOWN.into(),
        destination_workload_namespace: UNKNOWN.into(),
        destination_principal: UNKNOWN.into(),
        response_code: 0,
        response_flags: "-",
        connection_security_policy: "none",
    };
    let mut rsp = Response::new(Body::empty());
    *rsp.status_mut() = StatusCode::GATEWAY_TIMEOUT;
    rsp.extensions_mut().insert(ResponseFlag("UT"));
    rsp.extensions_mut().insert(UpstreamPeer {
        principal: Some("spiffe://cluster.local/ns/shop/sa/reviews".into()),
        mtls: true,
    });
    record(&mut labels, &rsp);
    assert_eq!(labels.response_code, 504);
    assert_eq!(labels.response_flags, "UT");
    assert_eq!(labels.connection_security_policy, "mutual_tls");
    assert_eq!(
        &*labels.destination_principal,
        "spiffe://cluster.local/ns/shop/sa/reviews"
    );
}
