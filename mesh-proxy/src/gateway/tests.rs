use std::collections::BTreeMap;
use std::sync::Arc;

use http::{Request, StatusCode, header};
use mesh_core::Mesh;
use mesh_core::resource::SecretData;
use mesh_core::security::gateway_tls::{GatewayTls, GatewayTransport};

use super::credentials::secret_value;
use super::{GatewayConnection, GatewayPort, check};
use crate::body::Body;
use crate::bootstrap::IdentitySpec;
use crate::metrics::Metrics;
use crate::tls::Identity;

fn secret(data: &[(&str, &str)], string_data: &[(&str, &str)]) -> SecretData {
    let map = |kv: &[(&str, &str)]| -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    SecretData {
        secret_type: Some("kubernetes.io/tls".into()),
        data: map(data),
        string_data: map(string_data),
        immutable: None,
    }
}

#[test]
fn secret_values_decode_base64_data_and_take_string_data_as_is() {
    let s = secret(&[("tls.crt", "aGVsbG8=")], &[("tls.key", "plain")]);
    assert_eq!(secret_value(&s, "tls.crt").as_deref(), Some(&b"hello"[..]));
    assert_eq!(secret_value(&s, "tls.key").as_deref(), Some(&b"plain"[..]));
    assert_eq!(secret_value(&s, "ca.crt"), None);
}

#[test]
fn data_wins_over_string_data_for_the_same_key() {
    let s = secret(&[("tls.crt", "ZGF0YQ==")], &[("tls.crt", "string")]);
    assert_eq!(secret_value(&s, "tls.crt").as_deref(), Some(&b"data"[..]));
}

// === the per-request check and what is not served ===

const GATEWAY: &str = r#"apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: prod}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [a.example.com]
    tls: {httpsRedirect: true}
  - port: {number: 80, name: http-b, protocol: HTTP}
    hosts: [b.example.com]
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [a.example.com]
    tls: {mode: SIMPLE, credentialName: absent}
  - port: {number: 443, name: https-b, protocol: HTTPS}
    hosts: [b.example.com]
    tls: {mode: PASSTHROUGH}
"#;

fn on(port: u16, transport: GatewayTransport<'_>) -> GatewayConnection {
    let (mesh, _) = Mesh::from_yaml("gw.yaml", GATEWAY).unwrap();
    let tls = GatewayTls::from_mesh(&mesh, "prod/gw").unwrap();
    let accepted = match tls.accept(port, transport) {
        Ok(a) => a,
        Err(e) => panic!("{e}"),
    };
    GatewayConnection {
        tls: Arc::new(tls),
        accepted,
    }
}

fn get(host: &str, path: &str, conn: Option<GatewayConnection>) -> Request<Body> {
    let mut req = Request::get(path)
        .header(header::HOST, host)
        .body(Body::empty())
        .unwrap();
    if let Some(c) = conn {
        req.extensions_mut().insert(c);
    }
    req
}

#[test]
fn plaintext_requests_are_redirected_passed_or_404_by_their_host() {
    let conn = || Some(on(80, GatewayTransport::Plaintext));
    let rsp = check(&get("a.example.com:80", "/x?y=1", conn())).expect("answered");
    assert_eq!(rsp.status(), StatusCode::MOVED_PERMANENTLY);
    assert_eq!(
        rsp.headers()[header::LOCATION],
        "https://a.example.com/x?y=1"
    );
    assert!(check(&get("b.example.com", "/", conn())).is_none());
    let rsp = check(&get("c.example.com", "/", conn())).expect("answered");
    assert_eq!(rsp.status(), StatusCode::NOT_FOUND);
}

#[test]
fn a_request_without_its_connection_is_never_routed() {
    let rsp = check(&get("b.example.com", "/", None)).expect("answered");
    assert_eq!(rsp.status(), StatusCode::MISDIRECTED_REQUEST);
}

/// This crate's dev CA and a workload identity in a temporary directory.
fn identity(name: &str) -> Identity {
    let dir = std::env::temp_dir().join(format!("mesh-gw-unit-{}-{name}", std::process::id()));
    let written =
        crate::certs::write_dir(&dir, "cluster.local", &["istio-system/gw".into()]).unwrap();
    let (_, cert, key) = written.workloads[0].clone();
    let spec = IdentitySpec {
        cert,
        key,
        trust_bundle: written.ca,
        trust_domain: "cluster.local".into(),
    };
    let id = Identity::load(&spec, None).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    id
}

#[test]
fn servers_this_proxy_cannot_serve_are_reported_with_their_reason() {
    let (mesh, _) = Mesh::from_yaml("gw.yaml", GATEWAY).unwrap();
    let mesh = Arc::new(mesh);
    let id = identity("unserved");
    let build = |port| {
        GatewayPort::from_mesh(
            mesh.clone(),
            "prod/gw",
            port,
            &id,
            "istio-system",
            Metrics::new(),
            None,
        )
        .unwrap()
    };
    assert!(build(80).unserved().is_empty());
    let lines = build(443).unserved();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].contains("servers[2]") && lines[0].contains("prod/absent"),
        "{lines:?}"
    );
    assert!(
        lines[1].contains("servers[3]") && lines[1].contains("passthrough"),
        "{lines:?}"
    );
}

#[test]
fn an_unknown_gateway_or_port_is_a_typed_error() {
    let (mesh, _) = Mesh::from_yaml("gw.yaml", GATEWAY).unwrap();
    let mesh = Arc::new(mesh);
    let id = identity("unknown");
    for (gw, port) in [("prod/gw", 8443), ("prod/other", 80)] {
        let err = GatewayPort::from_mesh(mesh.clone(), gw, port, &id, "ns", Metrics::new(), None)
            .unwrap_err();
        assert!(
            matches!(&err, super::InvalidGateway::UnknownServer { gateway, port: p }
                if gateway == gw && *p == port),
            "{err}"
        );
    }
}
