//! Each Gateway rule with a bad input and its exact diagnostic; good inputs are clean.

mod tls;

use crate::diag::Diagnostic;
use crate::validate::test_support::head;
use crate::{LoadOptions, Loaded};

/// Loads a Gateway whose spec is the flow mapping `spec` on line 4.
fn load(name: &str, spec: &str) -> Vec<Diagnostic> {
    let text = format!(
        "apiVersion: networking.istio.io/v1\nkind: Gateway\n\
         metadata: {{name: {name}, namespace: ns}}\nspec: {spec}\n"
    );
    Loaded::from_str("t.yaml", &text, LoadOptions::default()).diagnostics
}

/// Asserts the diagnostics of `spec`: one per expected `(head, message substring)`, in order.
fn expect(spec: &str, want: &[(&str, &str)]) {
    let got = load("gw", spec);
    crate::validate::test_support::assert_in_order(spec, &got, want);
}

/// A spec with one server: `port` and the rest of the server mapping.
fn one(port: &str, rest: &str) -> String {
    format!("{{servers: [{{port: {port}, {rest}}}]}}")
}

/// A spec with two servers for all hosts, on ports `a` and `b`.
fn two(a: &str, b: &str) -> String {
    format!("{{servers: [{{port: {a}, hosts: ['*']}}, {{port: {b}, hosts: ['*']}}]}}")
}

const HTTP: &str = "{number: 80, name: http, protocol: HTTP}";
const HTTPS: &str = "{number: 443, name: https, protocol: HTTPS}";
const TLS: &str = "{number: 15443, name: tls, protocol: TLS}";

#[test]
fn servers_hosts_and_name() {
    let h = |hosts: &str| one(HTTP, &format!("hosts: {hosts}"));
    let cases: &[(String, &[(&str, &str)])] = &[
        (
            "{}".into(),
            &[(
                "Error 4:1 spec.servers",
                "a Gateway needs at least one server",
            )],
        ),
        (
            "{selector: {istio: 'in gress'}, servers: []}".into(),
            &[
                (
                    "Error 4:26 spec.selector.istio",
                    "label value \"in gress\" of \"istio\" is invalid",
                ),
                (
                    "Error 4:39 spec.servers",
                    "a Gateway needs at least one server",
                ),
            ],
        ),
        (
            one(HTTP, "hosts: []"),
            &[(
                "Error 4:67 spec.servers[0].hosts",
                "a server needs at least one host",
            )],
        ),
        (
            h("[myapp]"),
            &[(
                "Error 4:75 spec.servers[0].hosts[0]",
                "short names are not allowed on a Gateway",
            )],
        ),
        (
            h("['ns/']"),
            &[(
                "Error 4:75 spec.servers[0].hosts[0]",
                "namespace and host name must both be non-empty",
            )],
        ),
        (
            h("[Prod/a.example.com]"),
            &[(
                "Error 4:75 spec.servers[0].hosts[0]",
                "namespace \"Prod\" must be \"*\", \".\" or a namespace name",
            )],
        ),
        (
            h("['a*.example.com']"),
            &[(
                "Error 4:75 spec.servers[0].hosts[0]",
                "a wildcard is only allowed as the whole left-most label",
            )],
        ),
        (
            h("['*.exa mple.com']"),
            &[(
                "Error 4:75 spec.servers[0].hosts[0]",
                "invalid label \"exa mple\"",
            )],
        ),
    ];
    for (spec, want) in cases {
        expect(spec, want);
    }
    // Istio: a Gateway name is a DNS-1123 label, since VirtualServices name it as ns/name.
    let got: Vec<String> = load("gw.example", &one(HTTP, "hosts: ['*']"))
        .iter()
        .map(|d| format!("{} {}", head(d), d.message))
        .collect();
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(
        got[0].starts_with(
            "Error 3:18 metadata.name Gateway name \"gw.example\" must be a DNS-1123 label"
        ),
        "{got:?}"
    );
}

#[test]
fn ports_and_binds() {
    let hosts = "hosts: ['*']";
    let cases: &[(String, &[(&str, &str)])] = &[
        (
            format!("{{servers: [{{{hosts}}}]}}"),
            &[("Error 4:18 spec.servers[0].port", "port is required")],
        ),
        (
            one("{number: 80, name: http}", hosts),
            &[(
                "Error 4:19 spec.servers[0].port.protocol",
                "port protocol is required: one of HTTP, HTTPS",
            )],
        ),
        (
            one("{number: 80, name: q, protocol: QUIC}", hosts),
            &[(
                "Error 4:57 spec.servers[0].port.protocol",
                "unsupported protocol \"QUIC\"",
            )],
        ),
        (
            one("{number: 0, name: http, protocol: HTTP}", hosts),
            &[(
                "Error 4:34 spec.servers[0].port.number",
                "port number 0 must be in the range 1..65535",
            )],
        ),
        (
            one("{number: 70000, name: http, protocol: HTTP}", hosts),
            &[(
                "Error 4:34 spec.servers[0].port.number",
                "port number 70000 must be in the range",
            )],
        ),
        (
            one(
                "{number: 80, name: http, protocol: HTTP, targetPort: 8080}",
                hosts,
            ),
            &[(
                "Error 4:78 spec.servers[0].port.targetPort",
                "targetPort has no effect on a Gateway",
            )],
        ),
        (
            one("{number: 80, protocol: HTTP}", hosts),
            &[(
                "Error 4:19 spec.servers[0].port.name",
                "port name is required",
            )],
        ),
        (
            one(HTTP, &format!("{hosts}, bind: localhost")),
            &[(
                "Error 4:87 spec.servers[0].bind",
                "bind \"localhost\" is not an IP address or a unix:// socket path",
            )],
        ),
        (
            one(
                "{number: 0, name: uds, protocol: HTTP}",
                &format!("{hosts}, bind: 'unix://run/gw.sock'"),
            ),
            &[(
                "Error 4:85 spec.servers[0].bind",
                "unix socket path \"run/gw.sock\" is not an absolute path",
            )],
        ),
        (
            one(HTTP, &format!("{hosts}, bind: 'unix:///run/gw.sock'")),
            &[(
                "Error 4:34 spec.servers[0].port.number",
                "port number must be 0 with a unix domain socket bind, got 80",
            )],
        ),
        (
            two(
                "{number: 80, name: web, protocol: HTTP}",
                "{number: 81, name: web, protocol: HTTP}",
            ),
            &[(
                "Error 4:107 spec.servers[1].port.name",
                "duplicate port name \"web\" (also servers[0])",
            )],
        ),
        (
            two(
                "{number: 80, name: a, protocol: HTTP}",
                "{number: 80, name: b, protocol: TCP}",
            ),
            &[(
                "Error 4:118 spec.servers[1].port.protocol",
                "port 80 is already served as HTTP by servers[0]",
            )],
        ),
    ];
    for (spec, want) in cases {
        expect(spec, want);
    }
}

/// A Gateway using most server kinds, all valid.
const FULL: &str = r#"
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge, namespace: prod}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*.example.com", ns/a.example.com]
    tls: {httpsRedirect: true}
  - port: {number: 80, name: grpc, protocol: GRPC}
    hosts: [./grpc.example.com]
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: ["*/app.example.com"]
    tls:
      mode: SIMPLE
      credentialNames: [app-rsa, app-ecdsa]
      minProtocolVersion: TLSV1_2
      maxProtocolVersion: TLSV1_3
      cipherSuites:
      - ECDHE-RSA-AES128-GCM-SHA256
      - "[ECDHE-ECDSA-AES128-GCM-SHA256|ECDHE-ECDSA-CHACHA20-POLY1305]"
      - "-AES128-SHA"
  - port: {number: 443, name: tls-sni, protocol: tls}
    hosts: [db.example.com]
    tls: {mode: PASSTHROUGH}
  - port: {number: 8443, name: mtls, protocol: HTTPS}
    hosts: [10.0.0.1]
    bind: 10.0.0.1
    tls:
      mode: MUTUAL
      serverCertificate: /etc/certs/server.pem
      privateKey: /etc/certs/key.pem
      caCertificates: /etc/certs/ca.pem
      caCrl: /etc/certs/crl.pem
  - port: {number: 9443, name: opt, protocol: HTTPS}
    hosts: ["*"]
    tls: {mode: OPTIONAL_MUTUAL, credentialName: opt-cred}
  - port: {number: 15443, name: auto, protocol: TLS}
    hosts: ["*.local"]
    tls: {mode: AUTO_PASSTHROUGH}
  - port: {number: 15012, name: mesh, protocol: HTTPS}
    hosts: ["*"]
    tls: {mode: ISTIO_MUTUAL}
  - port: {number: 0, name: uds, protocol: HTTP}
    hosts: ["*"]
    bind: unix:///run/gw.sock
  - port: {number: 3306, name: mysql, protocol: MYSQL}
    hosts: ["*"]
"#;

#[test]
fn good_gateways_are_clean() {
    let l = Loaded::from_str("t.yaml", FULL, LoadOptions::default());
    assert!(l.diagnostics.is_empty(), "{:#?}", l.diagnostics);
}

#[test]
fn example_gateways_load_clean() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/resources");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).expect("examples/resources") {
        let path = entry.expect("entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !name.starts_with("gateway-") {
            continue;
        }
        seen += 1;
        let l = Loaded::from_paths(&[&path], LoadOptions::default());
        assert!(l.diagnostics.is_empty(), "{name}: {:#?}", l.diagnostics);
        assert_eq!(l.resources.len(), 1, "{name}");
    }
    assert!(seen >= 1, "expected the gateway examples in {dir}");
}
