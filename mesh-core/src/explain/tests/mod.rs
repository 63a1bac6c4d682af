//! Actions as `explain` reports them (spec §1.6, §1.7).

use crate::testutil::{doc, mesh};

use super::*;

fn run(docs: &[String], line: &str, headers: &[(&str, &str)], seed: u64) -> Explanation {
    let (method, url) = line.split_once(' ').unwrap();
    let req = ExplainRequest {
        method: method.into(),
        url: url.into(),
        headers: headers
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect(),
        scope: ProxyScope::Sidecar(crate::testutil::workload("ns/client", "")),
        source: SourceFacts::default(),
        destination: None,
        seed,
    };
    explain(&mesh(docs), &req).unwrap()
}

fn vs(http: &str) -> Vec<String> {
    vec![doc(
        "VirtualService",
        "ns/r",
        &format!("hosts: [svc]\nhttp:\n{http}"),
    )]
}

#[test]
fn redirect_locations() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "redirect: {uri: /new}",
            "GET http://svc/old?q=1",
            "http://svc/new?q=1",
        ),
        (
            "redirect: {authority: other.com}",
            "GET http://svc:8080/p",
            "http://other.com:8080/p",
        ),
        (
            "redirect: {scheme: https}",
            "GET http://svc:8080/p",
            "https://svc/p",
        ),
        (
            "redirect: {scheme: https, port: 443}",
            "GET http://svc/p",
            "https://svc/p",
        ),
        (
            "redirect: {scheme: http, port: 80}",
            "GET http://svc/p",
            "http://svc/p",
        ),
        (
            "redirect: {port: 9000}",
            "GET http://svc/p",
            "http://svc:9000/p",
        ),
        (
            "redirect: {scheme: https, derivePort: FROM_PROTOCOL_DEFAULT}",
            "GET http://svc:8080/p",
            "https://svc/p",
        ),
        (
            "redirect: {derivePort: FROM_REQUEST_PORT, authority: x.com}",
            "GET http://svc:8080/p",
            "http://x.com:8080/p",
        ),
    ];
    for (action, req, want) in cases {
        let e = run(&vs(&format!("- {action}")), req, &[], 0);
        assert_eq!(e.route.action, "redirect");
        assert_eq!(e.route.status, Some(301), "{action}");
        assert_eq!(
            e.route.redirect.as_ref().unwrap().location,
            *want,
            "{action} {req}"
        );
    }
    let e = run(
        &vs("- match: [{uri: {prefix: /v1}}]\n  redirect: {prefixRewrite: /v2, redirectCode: 308}"),
        "GET http://svc/v1/users",
        &[],
        0,
    );
    assert_eq!(
        e.route.redirect.unwrap(),
        RedirectView {
            status: 308,
            location: "http://svc/v2/users".into()
        }
    );
}

#[test]
fn rewrite_replaces_the_matched_prefix_with_istios_quirks() {
    let path = |http: &str, req: &str| run(&vs(http), req, &[], 0).route.rewrite.unwrap().path;
    // No URI match: the implicit prefix is "/", so /users becomes /v2users.
    assert_eq!(
        path(
            "- rewrite: {uri: /v2}\n  route: [{destination: {host: a}}]",
            "GET http://svc/users"
        ),
        "/v2users"
    );
    assert_eq!(
        path(
            "- match: [{uri: {prefix: /foo}}]\n  rewrite: {uri: /}\n  route: [{destination: {host: a}}]",
            "GET http://svc/foo/bar"
        ),
        "//bar"
    );
    assert_eq!(
        path(
            "- match: [{uri: {exact: /a}}]\n  rewrite: {uri: /b}\n  route: [{destination: {host: a}}]",
            "GET http://svc/a"
        ),
        "/b"
    );
    assert_eq!(
        path(
            "- rewrite: {uriRegexRewrite: {match: \"^/service/([^/]+)(/.*)$\", rewrite: \"\\\\2/instance/\\\\1\"}}\n  route: [{destination: {host: a}}]",
            "GET http://svc/service/x/y"
        ),
        "/y/instance/x"
    );
}

#[test]
fn direct_response_and_not_found() {
    let e = run(
        &vs(
            "- match: [{uri: {exact: /teapot}}]\n  directResponse: {status: 418, body: {string: short and stout}}",
        ),
        "GET http://svc/teapot",
        &[],
        0,
    );
    assert_eq!(e.route.action, "direct_response");
    assert_eq!(
        e.route.direct_response.unwrap().body.as_deref(),
        Some("short and stout")
    );
    let e = run(
        &vs("- match: [{uri: {exact: /teapot}}]\n  directResponse: {status: 418}"),
        "GET http://svc/x",
        &[],
        0,
    );
    assert_eq!((e.route.action, e.route.status), ("not_found", Some(404)));
    assert!(e.destination_policy.is_none());
}

#[test]
fn defaults_are_explicit() {
    let e = run(
        &vs("- route: [{destination: {host: a}}]"),
        "GET http://svc/",
        &[],
        0,
    );
    assert_eq!(e.route.timeout_ms, None);
    let r = e.route.retries.unwrap();
    assert_eq!((r.attempts, r.default), (2, true));
    assert_eq!(
        r.retry_on,
        [
            "connect-failure",
            "refused-stream",
            "unavailable",
            "cancelled",
            "retriable-status-codes"
        ]
    );
    // attempts: 0 disables retries.
    let e = run(
        &vs("- route: [{destination: {host: a}}]\n  retries: {attempts: 0}"),
        "GET http://svc/",
        &[],
        0,
    );
    assert_eq!(e.route.retries.unwrap().attempts, 0);
    let e = run(
        &vs("- route: [{destination: {host: a}}]\n  retries: {attempts: 1, retryOn: \"5xx,429\"}"),
        "GET http://svc/",
        &[],
        0,
    );
    let r = e.route.retries.unwrap();
    assert_eq!(r.retry_on, ["5xx", "retriable-status-codes"]);
    assert_eq!(r.retriable_status_codes, [429]);
}

#[test]
fn fault_percentages_have_per_million_precision_and_default_to_zero() {
    let e = run(
        &vs(
            "- route: [{destination: {host: a}}]\n  fault:\n    delay: {fixedDelay: 1s, percentage: {value: 0.1}}\n    abort: {httpStatus: 503}",
        ),
        "GET http://svc/",
        &[],
        0,
    );
    let f = e.route.fault.unwrap();
    assert_eq!(f.delay.unwrap().percentage, 0.1);
    assert_eq!(
        f.abort.unwrap().percentage,
        0.0,
        "an abort without percentage aborts nothing"
    );
}

#[test]
fn mirrors_default_to_all_requests_and_zero_disables() {
    let m = |extra: &str| {
        run(
            &vs(&format!(
                "- route: [{{destination: {{host: a}}}}]\n  mirror: {{host: shadow}}{extra}"
            )),
            "GET http://svc/",
            &[],
            0,
        )
        .route
        .mirror[0]
            .percentage
    };
    assert_eq!(m(""), 100.0);
    assert_eq!(m("\n  mirrorPercentage: {value: 0}"), 0.0);
    assert_eq!(m("\n  mirrorPercentage: {value: 12.5}"), 12.5);
}

#[test]
fn route_then_destination_header_operations() {
    let e = run(
        &vs(
            "- headers: {request: {set: {x-a: route, x-b: route}}}\n  route:\n  - destination: {host: a}\n    headers: {request: {set: {x-b: dest}, remove: [x-c]}}",
        ),
        "GET http://svc/",
        &[],
        0,
    );
    let h = e.route.headers.unwrap();
    assert_eq!(h.request.set["x-a"], "route");
    assert_eq!(
        h.request.set["x-b"], "dest",
        "destination operations override the route's"
    );
    assert_eq!(h.request.remove, ["x-c"]);
}

#[test]
fn weights_single_destination_takes_all_and_zero_weights_drop() {
    let e = run(
        &vs("- route: [{destination: {host: a}, weight: 0}]"),
        "GET http://svc/",
        &[],
        0,
    );
    assert_eq!(e.route.destinations[0].percent, 100.0);
    let e = run(
        &vs(
            "- route:\n  - {destination: {host: a}, weight: 0}\n  - {destination: {host: b}, weight: 3}",
        ),
        "GET http://svc/",
        &[],
        0,
    );
    assert_eq!(e.route.destinations.len(), 1);
    assert_eq!(e.route.picked.unwrap().host, "b.ns.svc.cluster.local");
}

#[test]
fn bad_requests_are_errors_not_panics() {
    let m = mesh(&vs("- route: [{destination: {host: a}}]"));
    let mk = |method: &str, url: &str| ExplainRequest {
        method: method.into(),
        url: url.into(),
        ..ExplainRequest::from_line(
            "GET /",
            &[],
            ProxyScope::Sidecar(crate::testutil::workload("ns/c", "")),
        )
        .unwrap()
    };
    assert!(matches!(
        explain(&m, &mk("G T", "http://svc/")),
        Err(ExplainError::Method(_))
    ));
    assert!(matches!(
        explain(&m, &mk("GET", "/no-host")),
        Err(ExplainError::NoHost)
    ));
    assert!(matches!(
        explain(&m, &mk("GET", "http://svc/ x")),
        Err(ExplainError::Url(_))
    ));
    let gw = ExplainRequest {
        scope: ProxyScope::Gateway {
            gateway: "ns/none".into(),
            port: 80,
        },
        ..mk("GET", "http://svc/")
    };
    assert!(matches!(
        explain(&m, &gw),
        Err(ExplainError::UnknownGateway { .. })
    ));
}

#[test]
fn plaintext_peers_carry_no_identity() {
    let m = mesh(&vs("- route: [{destination: {host: a}}]"));
    let mut req = ExplainRequest {
        method: "GET".into(),
        url: "http://svc/".into(),
        headers: vec![],
        scope: ProxyScope::Sidecar(crate::testutil::workload("ns/c", "")),
        source: SourceFacts {
            principal: Some("cluster.local/ns/a/sa/b".into()),
            namespace: Some("a".into()),
            ip: Some("10.0.0.1".into()),
            mtls: false,
        },
        destination: None,
        seed: 0,
    };
    assert_eq!(explain(&m, &req).unwrap().source.principal, None);
    req.source.mtls = true;
    assert_eq!(
        explain(&m, &req).unwrap().source.principal.as_deref(),
        Some("cluster.local/ns/a/sa/b")
    );
}

#[test]
fn routing_sees_the_normalized_path() {
    let docs = vs(
        "- match: [{uri: {prefix: /admin}}]\n  route: [{destination: {host: admin}}]\n\
                   - match: [{uri: {prefix: /}}]\n  route: [{destination: {host: public}}]",
    );
    // BASE resolves dot segments and backslashes before routing (spec §6.8): the request that
    // spells /admin another way is routed as /admin, the same path authorization judges.
    for line in [
        "GET http://svc/public/../admin/x",
        "GET http://svc/admin/./x",
    ] {
        let e = run(&docs, line, &[], 1);
        assert_eq!(e.route.rule, Some(0), "{line}");
        assert!(e.notes.iter().any(|n| n.contains("normalized")), "{line}");
    }
    let e = run(&docs, "GET http://svc/admin/x", &[], 1);
    assert_eq!(e.route.rule, Some(0));
    assert!(!e.notes.iter().any(|n| n.contains("normalized")));
}

#[test]
fn a_path_that_cannot_be_normalized_is_rejected_before_routing() {
    let docs = vs("- route: [{destination: {host: public}}]");
    for line in ["GET http://svc/a%00b", "GET http://svc/a%zz"] {
        let e = run(&docs, line, &[], 1);
        assert_eq!(e.route.action, "rejected", "{line}");
        assert_eq!(e.route.status, Some(400));
        assert!(e.route.picked.is_none());
        assert!(e.destination_policy.is_none());
    }
}

#[test]
fn route_alone_equals_the_route_key_of_explain() {
    let docs = vs(
        "- match: [{uri: {prefix: /api}}]\n  route:\n  - {destination: {host: a}, weight: 90}\n  - {destination: {host: b}, weight: 10}\n\
                   - route: [{destination: {host: c}}]",
    );
    let m = mesh(&docs);
    for (line, seed) in [
        ("GET http://svc/api/x", 1),
        ("GET http://svc/api/x", 2),
        ("GET http://svc/api/x", 77),
        ("GET http://svc/other/../api", 5),
        ("GET http://svc/a%00", 5),
        ("GET http://nowhere/x", 5),
    ] {
        let req = ExplainRequest::from_line(
            line,
            &[],
            ProxyScope::Sidecar(crate::testutil::workload("ns/client", "")),
        )
        .unwrap()
        .with_seed(seed);
        assert_eq!(
            route(&m, &req).unwrap(),
            explain(&m, &req).unwrap().route,
            "{line} {seed}"
        );
    }
}

mod gateway;
