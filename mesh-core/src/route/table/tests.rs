//! The path index agrees with a plain scan (first match in declaration order wins, §1.3), and
//! regex literal prefixes narrow candidates without hiding a match.

use proptest::prelude::*;

use super::regex_literal_prefix;
use crate::route::RouteRequest;
use crate::testutil::{doc, mesh, request, workload};

#[test]
fn regex_literal_prefixes() {
    let rows: &[(&str, Option<&str>)] = &[
        ("/api/v[0-9]+", Some("/api/v")),
        ("/api/v1", Some("/api/v1")),
        ("/ab*c", Some("/a")),
        ("/ab?", Some("/a")),
        ("/ab{2}", Some("/a")),
        ("/ab+", Some("/ab")),
        ("/a\\.b", Some("/a")),
        ("/a.b", Some("/a")),
        ("/(x|y)", None),
        ("/a|/b", None),
        ("(?i)/api", None),
        (".*", None),
        ("[/]api", None),
        ("^/api", None),
    ];
    for (pattern, want) in rows {
        let r = crate::pattern::full_match(pattern).expect("valid");
        assert_eq!(regex_literal_prefix(&r).as_deref(), *want, "{pattern}");
    }
}

#[test]
fn indexed_regex_still_matches_and_keeps_order() {
    let m = mesh(&[doc(
        "VirtualService",
        "prod/r",
        "hosts: [a]\nhttp:\n\
         - match: [{uri: {regex: '/api/v[0-9]+/.*'}}]\n  route: [{destination: {host: v1}}]\n\
         - match: [{uri: {prefix: /api}}]\n  route: [{destination: {host: p}}]\n\
         - match: [{uri: {regex: '/API/x'}, ignoreUriCase: true}]\n  route: [{destination: {host: r}}]",
    )]);
    let w = workload("prod/c", "");
    let vhosts = m.sidecar_routes(&w);
    let rows = [
        ("/api/v2/users", Some(0)),
        ("/api/vx/users", Some(1)),
        ("/API/x", Some(2)),
        // Regex is never case-folded, even with ignoreUriCase (Istio).
        ("/api/x", Some(1)),
        ("/Api/x", None),
    ];
    for (path, want) in rows {
        let req = request(&format!("GET http://a{path}"), &[]);
        let rr = RouteRequest::from_http(&req);
        let got = match m.route_sidecar(&vhosts, "prod", &rr).0 {
            crate::route::Decision::Route { entry, .. } => Some(entry.rule.index),
            _ => None,
        };
        assert_eq!(got, want, "{path}");
    }
}

/// A small alphabet so that random rules and requests collide often.
fn segment() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["/a", "/A", "/ab", "/b", "/a/b", "/a/", "/"]).prop_map(String::from)
}

fn uri_match() -> impl Strategy<Value = String> {
    prop_oneof![
        segment().prop_map(|p| format!("uri: {{exact: '{p}'}}")),
        segment().prop_map(|p| format!("uri: {{prefix: '{p}'}}")),
        segment().prop_map(|p| format!("uri: {{regex: '{p}.*'}}")),
        segment().prop_map(|p| format!("uri: {{regex: '{p}b?'}}")),
        Just("uri: {regex: '.*b'}".to_owned()),
        Just("method: {exact: POST}".to_owned()),
    ]
}

fn block() -> impl Strategy<Value = String> {
    (uri_match(), any::<bool>(), any::<bool>()).prop_map(|(m, fold, header)| {
        let mut b = format!("{{{m}");
        if fold {
            b.push_str(", ignoreUriCase: true");
        }
        if header {
            b.push_str(", headers: {x-h: {exact: '1'}}");
        }
        b.push('}');
        b
    })
}

fn rules() -> impl Strategy<Value = Vec<Vec<String>>> {
    prop::collection::vec(prop::collection::vec(block(), 1..3), 1..12)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn index_agrees_with_first_match_scan(
        rules in rules(),
        reqs in prop::collection::vec((segment(), segment(), any::<bool>(), any::<bool>()), 1..16),
    ) {
        let mut spec = String::from("hosts: [a]\nhttp:\n");
        for (i, blocks) in rules.iter().enumerate() {
            spec.push_str(&format!(
                "- match: [{}]\n  route: [{{destination: {{host: d{i}}}}}]\n",
                blocks.join(", ")
            ));
        }
        let m = mesh(&[doc("VirtualService", "prod/r", &spec)]);
        let vhosts = m.sidecar_routes(&workload("prod/c", ""));
        let table = &vhosts.iter().next().expect("one host").routes;
        for (p1, p2, post, header) in reqs {
            let method = if post { "POST" } else { "GET" };
            let headers: &[(&str, &str)] = if header { &[("x-h", "1")] } else { &[] };
            let req = request(&format!("{method} http://a{p1}{p2}"), headers);
            let rr = RouteRequest::from_http(&req);
            let found = table.find(&rr).map(|e| (e.rule.index, e.block));
            let scanned = table.scan(&rr).map(|e| (e.rule.index, e.block));
            prop_assert_eq!(found, scanned, "{} {}{}", method, p1, p2);
            // First match wins: no earlier route matches.
            if let Some((rule, block)) = found {
                for e in table.entries() {
                    if (e.rule.index, e.block) == (rule, block) {
                        break;
                    }
                    prop_assert!(!e.match_block().is_some_and(|b| super::block_matches(b, &rr)));
                }
            }
        }
    }
}
