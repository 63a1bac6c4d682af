//! Table-driven tests: each case is a small spec body and the exact diagnostics it yields
//! (`Severity line:column path | message`; the message part may be a distinctive substring).

mod http;
mod matches;
mod policy;
mod routes;

use crate::load::{LoadOptions, Loaded};

/// Four lines, so body line `n` is file line `n + 4`; the body is indented by 2 columns.
const HEAD: &str = "apiVersion: networking.istio.io/v1\nkind: VirtualService\n\
                    metadata: {name: t, namespace: ns}\nspec:\n";

/// A case: a spec body and the diagnostics it must produce, in order.
type Case<'a> = (&'a str, &'a [&'a str]);

/// Loads `body` as the spec of a VirtualService and renders every diagnostic on one line.
fn diags(body: &str) -> Vec<String> {
    let mut text = HEAD.to_owned();
    for line in body.lines() {
        text.push_str("  ");
        text.push_str(line);
        text.push('\n');
    }
    let loaded = Loaded::from_str("t.yaml", &text, LoadOptions::default());
    loaded
        .diagnostics
        .iter()
        .map(|d| {
            format!(
                "{:?} {}:{} {} | {}",
                d.severity, d.line, d.column, d.path, d.message
            )
        })
        .collect()
}

/// `hosts: [a]` and `http:` then `rules` (rule line 1 is file line 7).
fn http_rules(rules: &str) -> String {
    format!("hosts: [a]\nhttp:\n{rules}")
}

/// Checks each case: same count, same head, message containing the expected text.
fn check_bodies(cases: &[Case<'_>], wrap: impl Fn(&str) -> String) {
    let mut failures = Vec::new();
    for (body, expected) in cases {
        let actual = diags(&wrap(body));
        let matches = actual.len() == expected.len()
            && actual.iter().zip(expected.iter()).all(|(a, e)| same(a, e));
        if !matches {
            failures.push(format!(
                "body:\n{body}\nexpected: {expected:#?}\nactual: {actual:#?}\n"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `actual` has the head of `expected` and contains its message text.
fn same(actual: &str, expected: &str) -> bool {
    let (Some((ah, am)), Some((eh, em))) = (actual.split_once(" | "), expected.split_once(" | "))
    else {
        return false;
    };
    ah == eh && am.contains(em)
}

/// Cases whose body is a whole spec.
fn check(cases: &[Case<'_>]) {
    check_bodies(cases, str::to_owned);
}

/// Cases whose body is the `http` rule list of a VS with `hosts: [a]`.
fn check_http(cases: &[Case<'_>]) {
    check_bodies(cases, http_rules);
}

// === examples and a clean resource ===

#[test]
fn shipped_examples_load_without_diagnostics() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/resources");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("examples/resources exists") {
        let path = entry.expect("readable entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !(name.starts_with("virtualservice-") && name.ends_with(".yaml")) {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("readable example");
        let loaded = Loaded::from_str(name, &text, LoadOptions::default());
        assert!(
            loaded.diagnostics.is_empty(),
            "{name}: {:#?}",
            loaded.diagnostics
        );
        assert_eq!(loaded.resources.len(), 1, "{name}");
        seen += 1;
    }
    assert!(
        seen >= 3,
        "expected the virtualservice-*.yaml examples, found {seen}"
    );
}

/// Every feature used correctly at once: no diagnostics at all.
const CLEAN: &str = r#"hosts: [a.example.com, "*.b.example.com", 10.0.0.1]
gateways: [ns/gw, gw2]
exportTo: [".", other]
http:
- name: claims
  match:
  - headers:
      "@request.auth.claims.group": {exact: admin}
      ":authority": {prefix: a}
      x-present: {}
    withoutHeaders: {x-absent: {regex: "*"}, x-other: {exact: v}}
    queryParams: {q: {regex: "[0-9]+"}, flag: {}}
    uri: {prefix: ""}
    method: {exact: GET}
    port: 8080
    gateways: [ns/gw]
  route:
  - destination: {host: a.example.com, subset: v1, port: {number: 80}}
    weight: 60
    headers:
      request: {set: {x-a: "%HOSTNAME%", host: b.example.com}, remove: [x-b]}
      response: {add: {x-c: "100%%"}, remove: [x-d]}
  - destination: {host: b}
    weight: 30
  timeout: 5s
  retries: {attempts: 3, perTryTimeout: 2s, retryOn: "5xx,503,reset", backoff: 25ms}
  headers:
    request: {set: {x-start: "%START_TIME(%s)%"}}
  mirrors:
  - destination: {host: c}
    percentage: {value: 10}
  corsPolicy:
    allowOrigins: [{exact: "https://a.example.com"}, {regex: "https://.*[.]example[.]com"}]
    allowMethods: [GET, POST, "*"]
    allowHeaders: [x-a, "*"]
    exposeHeaders: [x-b]
    maxAge: 24h
- match: [{uri: {prefix: /old}}]
  redirect: {prefixRewrite: /new, scheme: https, derivePort: FROM_PROTOCOL_DEFAULT, redirectCode: 308}
- match: [{uri: {exact: /teapot}}]
  directResponse: {status: 418, body: {bytes: "aGVsbG8="}}
- match: [{uri: {regex: "/v1/(.*)"}}]
  rewrite: {uriRegexRewrite: {match: "^/v1/(.*)$", rewrite: "/v2/\\1"}}
  fault:
    delay: {fixedDelay: 1s, percentage: {value: 0.5}}
    abort: {grpcStatus: UNAVAILABLE, percentage: {value: 100}}
  route: [{destination: {host: a}}]
- route: [{destination: {host: a}}]
tls:
- match: [{sniHosts: [x.b.example.com], destinationSubnets: ["10.0.0.0/8", "::1"], port: 443}]
  route: [{destination: {host: a}}]
tcp:
- match: [{destinationSubnets: ["192.168.0.1"], sourceLabels: {app.kubernetes.io/name: web}}]
  route: [{destination: {host: a, port: {number: 5432}}, weight: 1}, {destination: {host: b}, weight: 0}]
"#;

#[test]
fn a_virtual_service_using_every_feature_correctly_is_clean() {
    let actual = diags(CLEAN);
    assert!(actual.is_empty(), "{actual:#?}");
}

// === hosts, gateways, delegation, exportTo ===

#[test]
fn hosts() {
    check(&[
        // A delegate (no hosts) may not bind gateways nor carry tls/tcp rules.
        (
            "gateways: [gw]\nhttp:\n- route: [{destination: {host: a}}]\ntls:\n- match: [{sniHosts: [a]}]\n  route: [{destination: {host: a}}]\ntcp:\n- route: [{destination: {host: a}}]\n",
            &[
                "Error 5:3 spec.gateways | a virtual service without hosts is a delegate and must have no gateways; add hosts, or",
                "Error 8:3 spec.tls | a virtual service without hosts is a delegate and must have no tls routes; add hosts, or",
                "Error 9:25 spec.tls[0].match[0].sniHosts[0] | SNI host \"a\" is not a compatible subset of any of the virtual service hosts: []",
                "Error 11:3 spec.tcp | a virtual service without hosts is a delegate and must have no tcp routes; add hosts, or",
            ],
        ),
        // `*` is for gateway-only VSs.
        (
            "hosts: [\"*\"]\nhttp: [{route: [{destination: {host: a}}]}]\n",
            &[
                "Error 5:11 spec.hosts[0] | wildcard host * is not allowed for virtual services bound to the mesh",
            ],
        ),
        (
            "hosts: [\"*\"]\ngateways: [mesh, gw]\nhttp: [{route: [{destination: {host: a}}]}]\n",
            &["Error 5:11 spec.hosts[0] | wildcard host * is not allowed"],
        ),
        (
            "hosts: [\"*\"]\ngateways: [gw]\nhttp: [{route: [{destination: {host: a}}]}]\n",
            &[],
        ),
        // Overlaps and duplicates.
        (
            "hosts: [\"*.foo.com\", a.foo.com, b, B]\nhttp: [{route: [{destination: {host: a}}]}]\n",
            &[
                "Error 5:24 spec.hosts[1] | duplicate hosts in virtual service: *.foo.com & a.foo.com",
                "Error 5:38 spec.hosts[3] | duplicate hosts in virtual service: b & B",
            ],
        ),
        // Form.
        (
            "hosts: [ns/a, \"a..b\", \"*a.com\", \"::1\"]\nhttp: [{route: [{destination: {host: a}}]}]\n",
            &[
                "Error 5:11 spec.hosts[0] | host \"ns/a\" must not contain '/': the namespace/host form is only valid in Gateway",
                "Error 5:17 spec.hosts[1] | host \"a..b\" has an invalid label \"\"",
                "Error 5:25 spec.hosts[2] | host \"*a.com\": a wildcard is only allowed as the whole left-most label",
            ],
        ),
        // At least one of http, tcp, tls.
        (
            "hosts: [a]\n",
            &["Error 4:1 spec | http, tcp or tls must be provided"],
        ),
    ]);
}

#[test]
fn gateways_and_export_to() {
    check(&[
        (
            "hosts: [a]\ngateways: [ns/gw, mesh, Bad_Gw, /gw, ns/Gw, gw.ns]\nhttp: [{route: [{destination: {host: a}}]}]\n",
            &[
                "Warning 6:47 spec.gateways[5] | using legacy gateway name format \"gw.ns\"; prefer the <namespace>/<name> format:",
                "Error 6:27 spec.gateways[2] | gateway \"Bad_Gw\" is not a valid gateway name: write name or namespace/name with",
                "Error 6:35 spec.gateways[3] | gateway \"/gw\": namespace and gateway name cannot be empty (write name or namespace/name)",
                "Error 6:40 spec.gateways[4] | gateway \"ns/Gw\": invalid value for gateway name: \"Gw\" (a DNS-1123 label)",
            ],
        ),
        (
            "hosts: [a]\nexportTo: [\".\", ns, \"~\", Bad]\nhttp: [{route: [{destination: {host: a}}]}]\n",
            &[
                "Error 6:19 spec.exportTo[1] | duplicate exportTo entry \"ns\"",
                "Error 6:23 spec.exportTo[2] | exportTo \"~\" (no one) is not allowed for a virtual service; it is for services",
                "Error 6:28 spec.exportTo[3] | exportTo entry \"Bad\" is not valid: use \".\", \"*\" or a namespace name",
            ],
        ),
        (
            "hosts: [a]\nexportTo: [\"*\", b]\nhttp: [{route: [{destination: {host: a}}]}]\n",
            &["Error 6:3 spec.exportTo | exportTo cannot mix \"*\""],
        ),
    ]);
}

#[test]
fn unreachable_rules_are_warned_about() {
    check_http(&[
        (
            "- route: [{destination: {host: a}}]\n- name: late\n  route: [{destination: {host: a}}]\n",
            &["Warning 8:5 spec.http[1] | rule 1 is never used: rule 0 has no match"],
        ),
        (
            "- match: [{uri: {prefix: /a}}]\n  route: [{destination: {host: a}}]\n- match: [{name: other, uri: {prefix: /a}}, {uri: {prefix: /b}}]\n  route: [{destination: {host: a}}]\n",
            &[
                "Warning 9:13 spec.http[1].match[0] | match 0 of rule 1 is never used: it repeats match 0 of rule 0",
            ],
        ),
    ]);
}
