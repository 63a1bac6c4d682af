//! PeerAuthentication composition and per-connection decisions, SPIFFE ID parsing (string and
//! certificate), and Gateway server selection by SNI with the 421 Host check.

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use mesh_core::model::{Mesh, Workload};
use mesh_core::security::gateway_tls::{GatewayTls, GatewayTransport};
use mesh_core::security::identity::{SpiffeId, SvidRole, svid_from_der};
use mesh_core::security::peer_authn::{PeerAuthentications, Transport};

/// One PeerAuthentication document.
fn pa(ns: &str, name: &str, spec: &str) -> String {
    format!(
        "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata:\n  name: {name}\n  \
         namespace: {ns}\nspec:\n{spec}---\n"
    )
}

/// A mesh policy, then 50 namespaces each with a namespace policy and a workload policy with a
/// port-level entry: 101 policies.
fn peer_authn_mesh() -> Mesh {
    let mut text = pa("istio-system", "default", "  mtls: {mode: STRICT}\n");
    for i in 0..50 {
        let ns = format!("ns{i}");
        text.push_str(&pa(&ns, "ns", "  mtls: {mode: PERMISSIVE}\n"));
        text.push_str(&pa(
            &ns,
            "wl",
            "  selector: {matchLabels: {app: api}}\n  mtls: {mode: STRICT}\n  portLevelMtls:\n    \
             \"9000\": {mode: DISABLE}\n",
        ));
    }
    Mesh::from_yaml("bench.yaml", &text).unwrap().0
}

fn peer_authn(c: &mut Criterion) {
    let mesh = peer_authn_mesh();
    let table = PeerAuthentications::from_mesh(&mesh).unwrap();
    let w = Workload {
        namespace: "ns25".into(),
        name: "api".into(),
        labels: BTreeMap::from([("app".to_owned(), "api".to_owned())]),
    };
    c.bench_function("peer_authn/compose/101-policies", |b| {
        b.iter(|| black_box(table.for_workload(black_box(&w))))
    });
    let composed = table.for_workload(&w);
    c.bench_function("peer_authn/port-mode", |b| {
        b.iter(|| black_box(composed.port(black_box(9000)).mode))
    });
    c.bench_function("peer_authn/decide-with-reason", |b| {
        b.iter(|| black_box(composed.decide(black_box(8080), Transport::Plaintext)))
    });
}

fn identity(c: &mut Criterion) {
    c.bench_function("identity/parse", |b| {
        b.iter(|| SpiffeId::parse(black_box("spiffe://cluster.local/ns/prod/sa/frontend")))
    });
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["api.prod.svc".to_owned()]).unwrap();
    params.subject_alt_names.push(rcgen::SanType::URI(
        "spiffe://cluster.local/ns/prod/sa/api".try_into().unwrap(),
    ));
    let der = params.self_signed(&key).unwrap().der().to_vec();
    c.bench_function("identity/svid-from-der", |b| {
        b.iter(|| svid_from_der(black_box(&der), SvidRole::Client))
    });
}

/// A Gateway with 50 SIMPLE servers (`h<i>.example.com`) and a wildcard on 443, each with a
/// kubernetes.io/tls Secret.
fn gateway_mesh() -> Mesh {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["example.com".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let (cert, key) = (cert.pem(), key.serialize_pem());
    let mut text = String::new();
    let mut servers = String::new();
    for i in 0..=50 {
        let host = if i == 50 {
            "\"*.example.com\"".to_owned()
        } else {
            format!("h{i}.example.com")
        };
        text.push_str(&format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s{i}\n  namespace: edge\ntype: \
             kubernetes.io/tls\nstringData:\n  tls.crt: {cert:?}\n  tls.key: {key:?}\n---\n"
        ));
        servers.push_str(&format!(
            "  - port: {{number: 443, name: https-{i}, protocol: HTTPS}}\n    hosts: [{host}]\n    \
             tls: {{mode: SIMPLE, credentialName: s{i}}}\n"
        ));
    }
    text.push_str(&format!(
        "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata:\n  name: gw\n  namespace: \
         edge\nspec:\n  selector: {{istio: ingressgateway}}\n  servers:\n{servers}"
    ));
    Mesh::from_yaml("bench.yaml", &text).unwrap().0
}

fn gateway(c: &mut Criterion) {
    let mesh = gateway_mesh();
    let g = GatewayTls::from_mesh(&mesh, "edge/gw").unwrap();
    let sni = GatewayTransport::Tls {
        sni: Some("h37.example.com"),
    };
    c.bench_function("gateway_tls/accept-sni/51-servers", |b| {
        b.iter(|| black_box(g.accept(443, black_box(sni))))
    });
    let conn = g.accept(443, sni).unwrap();
    c.bench_function("gateway_tls/request-host-check/51-servers", |b| {
        b.iter(|| black_box(g.request(&conn, black_box("h37.example.com:443"), "/")))
    });
}

criterion_group!(benches, peer_authn, identity, gateway);
criterion_main!(benches);
