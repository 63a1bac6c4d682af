//! Fixtures shared by the gateway TLS tests; the tests themselves are grouped by concern.

use std::sync::OnceLock;

use super::*;
use crate::testutil::{doc, mesh};

/// A real certificate and key (rcgen), PEM, generated once.
fn pem() -> &'static (String, String) {
    static PEM: OnceLock<(String, String)> = OnceLock::new();
    PEM.get_or_init(|| {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["example.com".to_owned()]).unwrap();
        (params.self_signed(&key).unwrap().pem(), key.serialize_pem())
    })
}

/// A Secret `ns/name` of `ty` holding the given keys (each a certificate or the key).
fn secret(ns_name: &str, ty: &str, keys: &[&str]) -> String {
    let (ns, name) = ns_name.split_once('/').unwrap();
    let (cert, key) = pem();
    let entries: Vec<String> = keys
        .iter()
        .map(|k| {
            let v = if k.ends_with("key") { key } else { cert };
            format!("  {k}: {v:?}\n")
        })
        .collect();
    let body = if entries.is_empty() {
        " {}\n".to_owned()
    } else {
        format!("\n{}", entries.concat())
    };
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: {ns}\ntype: \
         {ty}\nstringData:{body}---\n"
    )
}

fn tls_secret(ns_name: &str) -> String {
    secret(ns_name, "kubernetes.io/tls", &["tls.crt", "tls.key"])
}

fn gateway(servers: &str) -> String {
    doc(
        "Gateway",
        "edge/gw",
        &format!("selector: {{istio: ingressgateway}}\nservers:\n{servers}"),
    )
}

fn server(port: u16, protocol: &str, hosts: &str, tls: &str) -> String {
    let slug: String = hosts
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let name = format!("{}-{port}-{slug}", protocol.to_ascii_lowercase());
    let mut s = format!(
        "- port: {{number: {port}, name: {name}, protocol: {protocol}}}\n  hosts: [{hosts}]\n"
    );
    if !tls.is_empty() {
        s.push_str(&format!("  tls: {{{tls}}}\n"));
    }
    s
}

fn build(docs: &[String]) -> GatewayTls {
    GatewayTls::from_mesh(&mesh(docs), "edge/gw").unwrap()
}

fn tls(sni: Option<&str>) -> GatewayTransport<'_> {
    GatewayTransport::Tls { sni }
}

/// The selected server index, or the error, for an SNI on a port.
fn pick(g: &GatewayTls, port: u16, sni: Option<&str>) -> Result<usize, ConnectError> {
    g.accept(port, tls(sni)).map(|a| match a {
        Accepted::Terminated { server, .. }
        | Accepted::Passthrough { server, .. }
        | Accepted::AutoPassthrough { server, .. }
        | Accepted::Opaque { server, .. } => server,
        Accepted::PlaintextHttp { .. } => usize::MAX,
    })
}

/// The security.md §1.2 set-up: a wildcard SIMPLE server and a MUTUAL admin server on 443.
fn relaxed_sni() -> GatewayTls {
    build(&[
        tls_secret("edge/wild"),
        secret(
            "edge/admin",
            "kubernetes.io/tls",
            &["tls.crt", "tls.key", "ca.crt"],
        ),
        gateway(&format!(
            "{}{}",
            server(
                443,
                "HTTPS",
                "\"*.example.com\"",
                "mode: SIMPLE, credentialName: wild"
            ),
            server(
                443,
                "HTTPS",
                "admin.example.com",
                "mode: MUTUAL, credentialName: admin"
            ),
        )),
    ])
}

mod credentials;
mod properties;
mod selection;
