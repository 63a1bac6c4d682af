//! Each ServiceEntry and WorkloadEntry rule with a bad input and its exact diagnostic; good
//! inputs are clean.

mod good;
mod net;
mod workload_entry;

use crate::diag::Diagnostic;
use crate::{LoadOptions, Loaded};

/// Loads a resource of `kind` whose spec is the flow mapping `spec` on line 4.
fn load(kind: &str, spec: &str) -> Vec<Diagnostic> {
    let text = format!(
        "apiVersion: networking.istio.io/v1\nkind: {kind}\n\
         metadata: {{name: e, namespace: ns}}\nspec: {spec}\n"
    );
    Loaded::from_str("t.yaml", &text, LoadOptions::default()).diagnostics
}

/// Asserts the diagnostics: one per expected `(head, message substring)`, in order.
fn expect(kind: &str, spec: &str, want: &[(&str, &str)]) {
    let got = load(kind, spec);
    crate::validate::test_support::assert_in_order(spec, &got, want);
}

/// A ServiceEntry spec: hosts, the items of its port list, and further fields.
fn entry(hosts: &str, ports: &str, rest: &str) -> String {
    let rest = if rest.is_empty() {
        String::new()
    } else {
        format!(", {rest}")
    };
    format!("{{hosts: {hosts}, ports: [{ports}]{rest}}}")
}

/// A ServiceEntry for `api.example.com` with one HTTP port and `rest`.
fn se(rest: &str) -> String {
    entry(
        "[api.example.com]",
        "{number: 80, name: http, protocol: HTTP}",
        rest,
    )
}

/// Like [`se`], with a resolution first.
fn resolved(resolution: &str, rest: &str) -> String {
    se(&format!("resolution: {resolution}, {rest}"))
}

#[test]
fn hosts_addresses_and_ports() {
    let a = "[a.example.com]";
    let cases: &[(String, &[(&str, &str)])] = &[
        (
            entry("[]", "{number: 80, name: http}", "").replace("hosts: [], ", ""),
            &[(
                "Error 4:1 spec.hosts",
                "a ServiceEntry needs at least one host",
            )],
        ),
        (
            entry("['*']", "{number: 80, name: http}", ""),
            &[(
                "Error 4:16 spec.hosts[0]",
                "host \"*\" is not allowed in a ServiceEntry",
            )],
        ),
        (
            entry("['a*.example.com']", "{number: 80, name: http}", ""),
            &[(
                "Error 4:16 spec.hosts[0]",
                "a wildcard is only allowed as the whole left-most label",
            )],
        ),
        (
            se("addresses: [10.0.0.0/33]"),
            &[(
                "Error 4:97 spec.addresses[0]",
                "prefix length 33 is larger than 32",
            )],
        ),
        (
            se("addresses: ['::ffff:1.2.3.4/200']"),
            &[(
                "Error 4:97 spec.addresses[0]",
                "prefix length 200 is larger than 128",
            )],
        ),
        (
            se("addresses: [1.2.3]"),
            &[(
                "Error 4:97 spec.addresses[0]",
                "\"1.2.3\" is not a valid IP address",
            )],
        ),
        (
            se("addresses: [10.0.0.0/08]"),
            &[(
                "Error 4:97 spec.addresses[0]",
                "\"10.0.0.0/08\" is not a valid CIDR block",
            )],
        ),
        (
            se("addresses: [10.0.0.0/8], resolution: DNS"),
            &[(
                "Error 4:97 spec.addresses[0]",
                "\"10.0.0.0/8\" is only allowed with resolution NONE or STATIC, not DNS",
            )],
        ),
        (
            "{hosts: [a.example.com]}".into(),
            &[(
                "Error 4:1 spec.ports",
                "a ServiceEntry needs at least one port",
            )],
        ),
        (
            entry(a, "{number: 0, name: http}", ""),
            &[(
                "Error 4:49 spec.ports[0].number",
                "port number 0 must be in the range 1..65535",
            )],
        ),
        (
            entry(a, "{number: 80, name: a}, {number: 80, name: b}", ""),
            &[(
                "Error 4:72 spec.ports[1].number",
                "port 80 is already defined by ports[0]",
            )],
        ),
        (
            entry(a, "{number: 80, name: a}, {number: 81, name: a}", ""),
            &[(
                "Error 4:82 spec.ports[1].name",
                "port name \"a\" is already defined",
            )],
        ),
        (
            entry(a, "{number: 80}", ""),
            &[("Error 4:40 spec.ports[0].name", "port name is required")],
        ),
        (
            entry(a, "{number: 80, name: HTTP}", ""),
            &[(
                "Error 4:59 spec.ports[0].name",
                "port name \"HTTP\" is not a valid DNS-1123 label",
            )],
        ),
        (
            entry(a, "{number: 80, name: q, protocol: QUIC}", ""),
            &[(
                "Error 4:72 spec.ports[0].protocol",
                "unsupported protocol \"QUIC\"",
            )],
        ),
        (
            entry(
                a,
                "{number: 80, name: h, targetPort: 70000}",
                "resolution: STATIC, workloadSelector: {labels: {app: a}}",
            ),
            &[(
                "Error 4:74 spec.ports[0].targetPort",
                "port number 70000 must be in the range",
            )],
        ),
        (
            entry(a, "{number: 80, name: h, targetPort: 8080}", ""),
            &[(
                "Warning 4:74 spec.ports[0].targetPort",
                "targetPort has no effect with resolution NONE",
            )],
        ),
        (
            se("exportTo: ['~', other]"),
            &[(
                "Error 4:85 spec.exportTo",
                "exportTo \"~\" (nobody) cannot be combined",
            )],
        ),
    ];
    for (spec, want) in cases {
        expect("ServiceEntry", spec, want);
    }
}

#[test]
fn resolution_endpoints_and_selector() {
    let unix = "endpoints: [{address: 'unix:///run/a.sock'}]";
    let cases: &[(String, &[(&str, &str)])] = &[
        (
            se("endpoints: [{address: 10.0.0.1}]"),
            &[(
                "Error 4:85 spec.endpoints",
                "resolution NONE takes no endpoints",
            )],
        ),
        (
            resolved("STATIC", "endpoints: [{address: vm.example.com}]"),
            &[(
                "Error 4:127 spec.endpoints[0].address",
                "\"vm.example.com\" is not an IP address; resolution STATIC needs IP",
            )],
        ),
        (
            se("resolution: STATIC"),
            &[(
                "Warning 4:1 spec.endpoints",
                "resolution STATIC without endpoints or workloadSelector",
            )],
        ),
        (
            entry(
                "['*.example.com']",
                "{number: 443, name: tls, protocol: TLS}",
                "resolution: DNS",
            ),
            &[(
                "Error 4:16 spec.hosts[0]",
                "resolves the hosts themselves, so they must be fully qualified names (a wildcard",
            )],
        ),
        (
            resolved(
                "DNS_ROUND_ROBIN",
                "endpoints: [{address: a.example.com}, {address: b.example.com}]",
            ),
            &[(
                "Error 4:114 spec.endpoints",
                "resolution DNS_ROUND_ROBIN takes at most one endpoint, found 2",
            )],
        ),
        (
            resolved("DNS", "endpoints: [{address: bad_host}]"),
            &[(
                "Error 4:124 spec.endpoints[0].address",
                "address \"bad_host\" is not a valid IP address or host name",
            )],
        ),
        (
            resolved(
                "STATIC",
                "endpoints: [{address: 10.0.0.1}], workloadSelector: {labels: {app: a}}",
            ),
            &[(
                "Error 4:139 spec.workloadSelector",
                "set only one of workloadSelector or endpoints",
            )],
        ),
        (
            resolved("DNS", "workloadSelector: {labels: {app: a}}"),
            &[(
                "Warning 4:102 spec.workloadSelector",
                "workloadSelector has no effect with resolution DNS; use STATIC",
            )],
        ),
        (
            resolved("STATIC", "workloadSelector: {labels: {}}"),
            &[(
                "Warning 4:124 spec.workloadSelector.labels",
                "workload selector without labels selects every workload",
            )],
        ),
        (
            resolved(
                "STATIC",
                "endpoints: [{address: 10.0.0.1, ports: {grpc: 9090}}]",
            ),
            &[(
                "Error 4:151 spec.endpoints[0].ports.grpc",
                "endpoint port \"grpc\" is not a port of the ServiceEntry (declared: http)",
            )],
        ),
        (
            resolved(
                "STATIC",
                "endpoints: [{address: 'unix:///run/a.sock', ports: {http: 80}}]",
            ),
            &[(
                "Error 4:149 spec.endpoints[0].ports",
                "unix endpoint \"unix:///run/a.sock\" must not have ports",
            )],
        ),
        (
            entry(
                "[a.example.com]",
                "{number: 80, name: a}, {number: 81, name: b}",
                &format!("resolution: STATIC, {unix}"),
            ),
            &[(
                "Error 4:129 spec.endpoints[0].address",
                "a unix endpoint needs exactly one ServiceEntry port, found 2",
            )],
        ),
        (
            resolved("DNS", unix),
            &[(
                "Error 4:124 spec.endpoints[0].address",
                "unix:// endpoints need resolution STATIC, not DNS",
            )],
        ),
        (
            resolved("STATIC", "endpoints: [{labels: {app: a}}]"),
            &[(
                "Error 4:117 spec.endpoints[0].address",
                "address is required",
            )],
        ),
        (
            resolved(
                "STATIC",
                "endpoints: [{address: 10.0.0.1, labels: {app: 'a b'}}]",
            ),
            &[(
                "Error 4:151 spec.endpoints[0].labels.app",
                "label value \"a b\" of \"app\" is invalid",
            )],
        ),
        (
            entry(
                "[a.example.com, b.example.com]",
                "{number: 5432, name: pg, protocol: TCP}",
                "resolution: DNS",
            ),
            &[(
                "Error 4:55 spec.ports[0]",
                "2 hosts share port 5432 whose protocol TCP is neither HTTP nor TLS",
            )],
        ),
    ];
    for (spec, want) in cases {
        expect("ServiceEntry", spec, want);
    }
}
