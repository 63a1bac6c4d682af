//! Route selection, table-driven (spec §1.2–§1.5).

use crate::testutil::{doc, mesh, outcome, request, workload};

fn vs(ns_name: &str, spec: &str) -> String {
    doc("VirtualService", ns_name, spec)
}

/// One row: request line, headers, expected outcome.
type Row<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);

/// Runs rows against a mesh from the client workload.
fn check(docs: &[String], client: &str, labels: &str, rows: &[Row<'_>]) {
    let m = mesh(docs);
    let w = workload(client, labels);
    for (line, headers, want) in rows {
        let got = outcome(&m, &w, &request(line, headers));
        assert_eq!(&got, want, "{line} {headers:?}");
    }
}

const ROUTE_A: &str = "route:\n  - destination: {host: a}";

#[test]
fn short_names_resolve_only_in_the_service_namespace() {
    let docs = [vs(
        "prod/r",
        &format!("hosts: [reviews]\nhttp:\n- {ROUTE_A}"),
    )];
    check(
        &docs,
        "prod/c",
        "",
        &[
            ("GET http://reviews/x", &[], "prod/r#0.-"),
            ("GET http://reviews.prod/x", &[], "prod/r#0.-"),
            ("GET http://reviews.prod.svc/x", &[], "prod/r#0.-"),
            (
                "GET http://reviews.prod.svc.cluster.local/x",
                &[],
                "prod/r#0.-",
            ),
            ("GET http://reviews:9080/x", &[], "prod/r#0.-"),
            ("GET http://REVIEWS.prod./x", &[], "prod/r#0.-"),
        ],
    );
    // From another namespace `reviews` is that namespace's service.
    check(
        &docs,
        "other/c",
        "",
        &[
            ("GET http://reviews/x", &[], "default"),
            ("GET http://reviews.prod/x", &[], "prod/r#0.-"),
        ],
    );
}

#[test]
fn a_host_with_a_dot_is_literal() {
    let docs = [vs(
        "x/r",
        &format!("hosts: [reviews.prod]\nhttp:\n- {ROUTE_A}"),
    )];
    check(
        &docs,
        "prod/c",
        "",
        &[("GET http://reviews.prod.svc.cluster.local/", &[], "default")],
    );
}

#[test]
fn wildcards_most_specific_first_and_never_the_bare_domain() {
    let docs = [
        vs(
            "ns/wide",
            &format!("hosts: [\"*.com\"]\nhttp:\n- {ROUTE_A}"),
        ),
        vs(
            "ns/narrow",
            &format!("hosts: [\"*.example.com\"]\nhttp:\n- {ROUTE_A}"),
        ),
    ];
    check(
        &docs,
        "ns/c",
        "",
        &[
            ("GET http://a.b.example.com/", &[], "ns/narrow#0.-"),
            ("GET http://example.com/", &[], "ns/wide#0.-"),
            ("GET http://other.org/", &[], "default"),
        ],
    );
}

#[test]
fn the_oldest_virtual_service_owns_a_host_at_sidecars() {
    let aged = |name: &str, ts: &str| {
        format!(
            "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: {name}\n  namespace: ns\n  creationTimestamp: \"{ts}\"\nspec:\n  hosts: [svc]\n  http:\n  - route:\n    - destination: {{host: a}}\n---\n"
        )
    };
    // Loaded newest first; creation time decides.
    let docs = [
        aged("young", "2025-02-01T00:00:00Z"),
        aged("old", "2024-01-01T00:00:00Z"),
    ];
    check(&docs, "ns/c", "", &[("GET http://svc/", &[], "ns/old#0.-")]);
}

#[test]
fn gateway_only_virtual_services_do_not_apply_to_sidecars() {
    let gw = doc(
        "Gateway",
        "ns/gw",
        "servers:\n- port: {number: 80, name: http, protocol: HTTP}\n  hosts: [\"*\"]",
    );
    check(
        &[
            gw.clone(),
            vs(
                "ns/r",
                &format!("hosts: [svc]\ngateways: [gw]\nhttp:\n- {ROUTE_A}"),
            ),
        ],
        "ns/c",
        "",
        &[("GET http://svc/", &[], "default")],
    );
    check(
        &[
            gw,
            vs(
                "ns/r",
                &format!("hosts: [svc]\ngateways: [gw, mesh]\nhttp:\n- {ROUTE_A}"),
            ),
        ],
        "ns/c",
        "",
        &[("GET http://svc/", &[], "ns/r#0.-")],
    );
}

#[test]
fn export_to_limits_visibility() {
    let docs = [vs(
        "a/r",
        &format!("hosts: [svc.a.svc.cluster.local]\nexportTo: [\".\"]\nhttp:\n- {ROUTE_A}"),
    )];
    check(&docs, "a/c", "", &[("GET http://svc.a/", &[], "a/r#0.-")]);
    check(&docs, "b/c", "", &[("GET http://svc.a/", &[], "default")]);
}

#[test]
fn first_match_in_declaration_order_with_or_across_blocks_and_and_within() {
    let spec = "hosts: [svc]\nhttp:\n\
- match:\n  - uri: {prefix: /api}\n    method: {exact: POST}\n  - headers: {x-a: {exact: \"1\"}}\n  route:\n  - destination: {host: a}\n\
- match:\n  - uri: {exact: /api/users}\n  route:\n  - destination: {host: a}\n\
- route:\n  - destination: {host: a}\n\
- match:\n  - uri: {prefix: /never}\n  route:\n  - destination: {host: a}";
    check(
        &[vs("ns/r", spec)],
        "ns/c",
        "",
        &[
            ("POST http://svc/api/users", &[], "ns/r#0.0"),
            ("GET http://svc/api/users", &[], "ns/r#1.0"),
            ("GET http://svc/api/users", &[("x-a", "1")], "ns/r#0.1"),
            ("GET http://svc/never", &[], "ns/r#2.-"),
        ],
    );
}

#[test]
fn an_owned_host_with_no_matching_rule_is_404() {
    let spec = "hosts: [svc]\nhttp:\n- match:\n  - uri: {prefix: /api}\n  route:\n  - destination: {host: a}";
    check(
        &[vs("ns/r", spec)],
        "ns/c",
        "",
        &[
            ("GET http://svc/api/x", &[], "ns/r#0.0"),
            ("GET http://svc/other", &[], "404"),
        ],
    );
}

#[test]
fn uri_matches() {
    let spec = "hosts: [svc]\nhttp:\n\
- match: [{uri: {exact: /exact}}]\n  route: [{destination: {host: a}}]\n\
- match: [{uri: {prefix: /foo}}]\n  route: [{destination: {host: a}}]\n\
- match: [{uri: {regex: \"/re/[0-9]+\"}}]\n  route: [{destination: {host: a}}]\n\
- match: [{uri: {prefix: /Case}, ignoreUriCase: true}]\n  route: [{destination: {host: a}}]\n\
- match: [{uri: {regex: /rx}, ignoreUriCase: true}]\n  route: [{destination: {host: a}}]\n\
- match: [{uri: {exact: /Ex2}, ignoreUriCase: true}]\n  route: [{destination: {host: a}}]";
    check(
        &[vs("ns/r", spec)],
        "ns/c",
        "",
        &[
            ("GET http://svc/exact", &[], "ns/r#0.0"),
            ("GET http://svc/exact?q=1", &[], "ns/r#0.0"),
            ("GET http://svc/exact/", &[], "404"),
            ("GET http://svc/foobar", &[], "ns/r#1.0"),
            ("GET http://svc/FOO", &[], "404"),
            ("GET http://svc/re/123", &[], "ns/r#2.0"),
            ("GET http://svc/re/123/x", &[], "404"),
            ("GET http://svc/CASE/x", &[], "ns/r#3.0"),
            ("GET http://svc/rx", &[], "ns/r#4.0"),
            ("GET http://svc/RX", &[], "404"),
            ("GET http://svc/ex2", &[], "ns/r#5.0"),
        ],
    );
}

#[test]
fn method_authority_and_scheme_matches() {
    let spec = "hosts: [svc]\nhttp:\n\
- match: [{method: {exact: GET}}]\n  route: [{destination: {host: a}}]\n\
- match: [{authority: {exact: \"svc:8080\"}}]\n  route: [{destination: {host: a}}]\n\
- match: [{scheme: {exact: https}}]\n  route: [{destination: {host: a}}]";
    check(
        &[vs("ns/r", spec)],
        "ns/c",
        "",
        &[
            ("GET http://svc/", &[], "ns/r#0.0"),
            ("get http://svc/", &[], "404"),
            ("POST http://svc:8080/", &[], "ns/r#1.0"),
            ("POST http://svc/", &[], "404"),
            ("POST https://svc/", &[], "ns/r#2.0"),
        ],
    );
}

#[test]
fn header_matches() {
    let spec = "hosts: [svc]\nhttp:\n\
- match: [{headers: {x-empty: {exact: \"\"}}}]\n  route: [{destination: {host: a}}]\n\
- match: [{headers: {x-present: {}}}]\n  route: [{destination: {host: a}}]\n\
- match: [{headers: {x-re: {regex: \"v[0-9]\"}}}]\n  route: [{destination: {host: a}}]\n\
- match: [{headers: {x-role: {exact: \"user,admin\"}}}]\n  route: [{destination: {host: a}}]\n\
- match: [{headers: {x-p: {prefix: ab}}}]\n  route: [{destination: {host: a}}]";
    check(
        &[vs("ns/r", spec)],
        "ns/c",
        "",
        &[
            ("GET http://svc/", &[("x-empty", "")], "ns/r#0.0"),
            ("GET http://svc/", &[("x-empty", "v")], "404"),
            ("GET http://svc/", &[("X-Present", "anything")], "ns/r#1.0"),
            ("GET http://svc/", &[("x-re", "v1")], "ns/r#2.0"),
            ("GET http://svc/", &[("x-re", "v12")], "404"),
            (
                "GET http://svc/",
                &[("x-role", "user"), ("x-role", "admin")],
                "ns/r#3.0",
            ),
            ("GET http://svc/", &[("x-p", "abc")], "ns/r#4.0"),
            ("GET http://svc/", &[], "404"),
        ],
    );
}

#[test]
fn without_headers() {
    let spec = "hosts: [svc]\nhttp:\n\
- match: [{uri: {prefix: /a}, withoutHeaders: {x-v: {exact: v}}}]\n  route: [{destination: {host: a}}]\n\
- match: [{uri: {prefix: /b}, withoutHeaders: {x-v: {}}}]\n  route: [{destination: {host: a}}]\n\
- match: [{uri: {prefix: /c}, withoutHeaders: {x-v: {regex: \".*\"}}}]\n  route: [{destination: {host: a}}]\n\
- match: [{uri: {prefix: /d}, withoutHeaders: {x-v: {regex: \"*\"}}}]\n  route: [{destination: {host: a}}]";
    check(
        &[vs("ns/r", spec)],
        "ns/c",
        "",
        &[
            ("GET http://svc/a", &[], "ns/r#0.0"),
            ("GET http://svc/a", &[("x-v", "w")], "ns/r#0.0"),
            ("GET http://svc/a", &[("x-v", "v")], "404"),
            ("GET http://svc/b", &[], "ns/r#1.0"),
            ("GET http://svc/b", &[("x-v", "")], "404"),
            // Quirk: withoutHeaders regex .* never matches, not even when absent.
            ("GET http://svc/c", &[], "404"),
            ("GET http://svc/c", &[("x-v", "w")], "404"),
            ("GET http://svc/d", &[], "ns/r#3.0"),
        ],
    );
}

#[test]
fn query_parameter_matches() {
    let spec = "hosts: [svc]\nhttp:\n\
- match: [{queryParams: {k: {exact: \"1\"}}}]\n  route: [{destination: {host: a}}]\n\
- match: [{queryParams: {e: {exact: \"\"}}}]\n  route: [{destination: {host: a}}]\n\
- match: [{queryParams: {p: {}}}]\n  route: [{destination: {host: a}}]\n\
- match: [{queryParams: {r: {regex: \"[a-z]+\"}}}]\n  route: [{destination: {host: a}}]";
    check(
        &[vs("ns/r", spec)],
        "ns/c",
        "",
        &[
            ("GET http://svc/?k=1", &[], "ns/r#0.0"),
            ("GET http://svc/?k=2&k=1", &[], "404"),
            ("GET http://svc/?e", &[], "ns/r#1.0"),
            ("GET http://svc/?p=anything", &[], "ns/r#2.0"),
            ("GET http://svc/?r=abc", &[], "ns/r#3.0"),
            ("GET http://svc/?r=abc1", &[], "404"),
        ],
    );
}

#[test]
fn port_is_the_listener_port() {
    let spec = "hosts: [svc]\nhttp:\n- match: [{port: 8080}]\n  route: [{destination: {host: a}}]\n- match: [{uri: {prefix: /x}}]\n  route: [{destination: {host: a}}]";
    check(
        &[vs("ns/r", spec)],
        "ns/c",
        "",
        &[
            ("GET http://svc:8080/", &[], "ns/r#0.0"),
            ("GET http://svc/", &[], "404"),
            ("GET http://svc:9090/x", &[], "ns/r#1.0"),
        ],
    );
}

#[test]
fn source_labels_and_namespace_are_config_time_selectors() {
    let partial = "hosts: [svc]\nhttp:\n\
- match: [{sourceLabels: {app: web}}]\n  route: [{destination: {host: a}}]\n\
- match: [{uri: {prefix: /x}}]\n  route: [{destination: {host: a}}]";
    check(
        &[vs("ns/r", partial)],
        "ns/c",
        "app=web",
        &[("GET http://svc/", &[], "ns/r#0.0")],
    );
    // Some blocks dropped: the rest route, everything else is 404.
    check(
        &[vs("ns/r", partial)],
        "ns/c",
        "app=db",
        &[
            ("GET http://svc/", &[], "404"),
            ("GET http://svc/x", &[], "ns/r#1.0"),
        ],
    );
    // Every block dropped: the VirtualService is ignored for this proxy (default route).
    let all = "hosts: [svc]\nhttp:\n- match: [{sourceLabels: {app: web}}, {sourceNamespace: other}]\n  route: [{destination: {host: a}}]";
    check(
        &[vs("ns/r", all)],
        "ns/c",
        "app=db",
        &[("GET http://svc/", &[], "default")],
    );
    check(
        &[vs("ns/r", all)],
        "other/c",
        "",
        &[("GET http://svc.ns/", &[], "ns/r#0.1")],
    );
}

#[test]
fn match_gateways_override_source_selectors() {
    let gw = doc(
        "Gateway",
        "ns/gw",
        "servers:\n- port: {number: 80, name: http, protocol: HTTP}\n  hosts: [\"*\"]",
    );
    let spec = "hosts: [svc]\ngateways: [mesh, gw]\nhttp:\n\
- match: [{gateways: [gw], uri: {prefix: /gw}}]\n  route: [{destination: {host: a}}]\n\
- match: [{gateways: [mesh], sourceLabels: {app: nope}}]\n  route: [{destination: {host: a}}]";
    // sourceLabels are ignored when gateways are given: the mesh block applies to any sidecar.
    check(
        &[gw, vs("ns/r", spec)],
        "ns/c",
        "app=web",
        &[("GET http://svc/gw", &[], "ns/r#1.0")],
    );
}
